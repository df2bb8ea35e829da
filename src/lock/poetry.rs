//! Reading Poetry's `poetry.lock`: the versions it chose, and what installing it as it is needs.
//!
//! A project coming from Poetry has a `poetry.lock` and no `pylock.toml`. tack uses it twice:
//!
//! - `tack sync` installs it as it is (`workflow::poetry_install`), as Poetry's installer does:
//!   a solve over the locked packages only, for this interpreter. That needs each package's
//!   dependencies (with their constraints, markers, extras and `optional`), its extras, its
//!   `python-versions`, its files with their hashes and its source; and the lock's
//!   `content-hash`, which [`PoetryLock::is_fresh`] checks against pyproject.toml as Poetry
//!   does.
//! - `tack lock` migrates it: its versions become the preferences of the first lock, so that
//!   the first lock keeps what Poetry chose wherever it still fits (`workflow::poetry_report`).
//!
//! The formats in use are all accepted: lock-version 1.1 (old Poetry 1.x: `category`, hashes
//! under `[metadata.files]`), 2.0 (Poetry 1.5 to 1.8: files inline) and 2.1 (Poetry 2: `groups`
//! and `markers`, which tack does not need: the solve gives the same answer). Unknown keys are
//! ignored. Constraints (`^1.2`, `>=1.0,<2.0`), markers and `python-versions` are kept as the
//! text Poetry wrote: the lock reader parses names and versions only, and the installer reads
//! the rest where it uses it, so that a quirk in a package nobody installs breaks nothing.
//!
//! Packages Poetry took from a directory, a file, a URL or a git repository (`[package.source]`
//! with such a `type`) are returned with their kind, so that the caller can say it does not
//! install or keep them; packages from a named index (`type = "legacy"`) carry that index.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::{Version, VersionParseError};
use serde::Deserialize;

use crate::normalize::{ExtraName, InvalidNameError, PackageName};

/// The file name Poetry writes.
pub const POETRY_LOCK_FILE_NAME: &str = "poetry.lock";

/// What `poetry.lock` says, reduced to what tack uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoetryLock {
    /// `[metadata] lock-version`, when present.
    pub lock_version: Option<String>,
    /// The Poetry version the `@generated` comment on the first line names (old locks have
    /// none).
    pub generated_by: Option<Version>,
    /// `[metadata] content-hash`: [`content_hash`] of the pyproject.toml it was made from.
    pub content_hash: Option<String>,
    pub packages: Vec<PoetryPackage>,
}

/// One `[[package]]` of `poetry.lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoetryPackage {
    pub name: PackageName,
    pub version: Version,
    /// `None` for a package from an index; else the `[package.source] type` (`git`,
    /// `directory`, `file`, `url`).
    pub direct_source: Option<String>,
    /// The named index the package comes from (`[package.source] type = "legacy"`); `None`
    /// for the default index (and for direct sources).
    pub index: Option<PoetryIndexSource>,
    /// `python-versions`, a Poetry constraint (`*`, `>=3.8`, `^3.9`).
    pub python_versions: String,
    pub dependencies: Vec<PoetryDependency>,
    /// `[package.extras]`: each extra's requirements, as the names (and extras) they ask for.
    pub extras: BTreeMap<ExtraName, Vec<ExtraRequirement>>,
    /// The files Poetry recorded (inline `files`, or `[metadata.files]` in lock-version 1.1).
    pub files: Vec<PoetryFile>,
}

/// `[package.source]` of a package from a named index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoetryIndexSource {
    /// `reference`: the source's name in pyproject.toml.
    pub name: Option<String>,
    /// `url`: the index's address, as Poetry wrote it.
    pub url: String,
}

/// One entry of `[package.dependencies]` (a dependency given as a list of constraints is one
/// entry per constraint, as Poetry reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoetryDependency {
    pub name: PackageName,
    /// A Poetry constraint (`*` when none is given).
    pub constraint: String,
    /// `markers`, a PEP 508 marker as Poetry wrote it.
    pub markers: Option<String>,
    /// `python`, a Poetry constraint on the Python version (old locks).
    pub python: Option<String>,
    /// `platform`, a `sys_platform` value (old locks).
    pub platform: Option<String>,
    /// Installed only when an extra of the package that asks for it names it.
    pub optional: bool,
    pub extras: Vec<ExtraName>,
    /// A path, URL or git dependency (`path`, `url` or `git` instead of `version`).
    pub direct: bool,
}

/// A requirement of a package's extra: `"pytest-cov (>=4) ; python_version < '3.12'"` read
/// for its name and extras, which is all Poetry's installer uses of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraRequirement {
    pub name: PackageName,
    pub extras: Vec<ExtraName>,
}

/// A file Poetry recorded for a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoetryFile {
    /// The file name (`foo-1.0-py3-none-any.whl`).
    pub file: String,
    /// `algorithm:hex` (`sha256:...`).
    pub hash: String,
}

impl PoetryFile {
    /// The hex digest, when the hash is a sha256.
    pub fn sha256(&self) -> Option<&str> {
        self.hash.strip_prefix("sha256:")
    }
}

/// `path`, followed by `:line:column` when `position` is known.
fn located(path: &Path, position: Option<(usize, usize)>) -> String {
    match position {
        Some((line, column)) => format!("{}:{line}:{column}", path.display()),
        None => path.display().to_string(),
    }
}

/// Why a `poetry.lock` could not be read. Packages are named by their position (1-based) and
/// their `name` as written.
#[derive(Debug, thiserror::Error)]
pub enum PoetryLockError {
    #[error("could not read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `message` is the TOML parser's, without its rendering of the file's text; `position`
    /// the 1-based line and column it points at, when it points at one.
    #[error("`{}` is not valid TOML: {message}", located(path, *position))]
    Syntax {
        path: PathBuf,
        position: Option<(usize, usize)>,
        message: String,
    },
    #[error("`{}`: package {index} ({name:?}) has an invalid name", path.display())]
    InvalidName {
        path: PathBuf,
        index: usize,
        name: String,
        #[source]
        source: InvalidNameError,
    },
    #[error("`{}`: package {index} ({name:?}) has an invalid version `{version}`", path.display())]
    InvalidVersion {
        path: PathBuf,
        index: usize,
        name: String,
        version: String,
        #[source]
        source: VersionParseError,
    },
    #[error("`{}`: package {index} ({name:?}) has an invalid dependency `{dependency}`: {message}", path.display())]
    InvalidDependency {
        path: PathBuf,
        index: usize,
        name: String,
        dependency: String,
        message: String,
    },
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    package: Vec<WirePackage>,
    #[serde(default)]
    metadata: Option<WireMetadata>,
}

#[derive(Deserialize)]
struct WireMetadata {
    #[serde(rename = "lock-version")]
    lock_version: Option<String>,
    #[serde(rename = "content-hash")]
    content_hash: Option<String>,
    /// Lock-version 1.1: the files of every package, by package name.
    #[serde(default)]
    files: BTreeMap<String, Vec<WireFile>>,
}

#[derive(Deserialize)]
struct WirePackage {
    name: String,
    version: String,
    #[serde(default, rename = "python-versions")]
    python_versions: Option<String>,
    #[serde(default)]
    source: Option<WireSource>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    #[serde(default)]
    extras: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    files: Option<Vec<WireFile>>,
}

#[derive(Deserialize)]
struct WireSource {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: Option<String>,
    reference: Option<String>,
}

#[derive(Deserialize)]
struct WireFile {
    file: String,
    hash: String,
}

impl PoetryLock {
    /// Reads `path`; `Ok(None)` when there is no such file.
    pub fn read(path: &Path) -> Result<Option<Self>, PoetryLockError> {
        let text = match fs_err::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(PoetryLockError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Self::parse(&text, path).map(Some)
    }

    /// Parses the text of a `poetry.lock`; `path` is for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, PoetryLockError> {
        let wire: Wire = toml::from_str(text).map_err(|error| PoetryLockError::Syntax {
            path: path.to_path_buf(),
            position: error
                .span()
                .and_then(|span| super::error::position(text, span.start)),
            message: error.message().to_string(),
        })?;
        let (lock_version, content_hash, mut metadata_files) = match wire.metadata {
            Some(metadata) => (metadata.lock_version, metadata.content_hash, metadata.files),
            None => (None, None, BTreeMap::new()),
        };
        let mut packages = Vec::with_capacity(wire.package.len());
        for (index, package) in wire.package.into_iter().enumerate() {
            let name = PackageName::from_str(&package.name).map_err(|source| {
                PoetryLockError::InvalidName {
                    path: path.to_path_buf(),
                    index: index + 1,
                    name: package.name.clone(),
                    source,
                }
            })?;
            let version = Version::from_str(&package.version).map_err(|source| {
                PoetryLockError::InvalidVersion {
                    path: path.to_path_buf(),
                    index: index + 1,
                    name: package.name.clone(),
                    version: package.version.clone(),
                    source,
                }
            })?;
            let (direct_source, index_source) = match package.source {
                Some(source) if source.kind.as_deref() == Some("legacy") => (
                    None,
                    source.url.map(|url| PoetryIndexSource {
                        name: source.reference,
                        url,
                    }),
                ),
                Some(source) => (source.kind, None),
                None => (None, None),
            };
            let mut dependencies = Vec::new();
            for (dependency, value) in &package.dependencies {
                read_dependency(dependency, value, &mut dependencies).map_err(|message| {
                    PoetryLockError::InvalidDependency {
                        path: path.to_path_buf(),
                        index: index + 1,
                        name: package.name.clone(),
                        dependency: dependency.clone(),
                        message,
                    }
                })?;
            }
            // Lock-version 1.1 keeps files under `[metadata.files]`, by the name as written.
            let files = match package.files {
                Some(files) => files,
                None => metadata_files
                    .remove(&package.name)
                    .or_else(|| {
                        let key = metadata_files
                            .keys()
                            .find(|key| PackageName::from_str(key).is_ok_and(|key| key == name))?;
                        let key = key.clone();
                        metadata_files.remove(&key)
                    })
                    .unwrap_or_default(),
            };
            packages.push(PoetryPackage {
                name,
                version,
                direct_source,
                index: index_source,
                python_versions: package.python_versions.unwrap_or_else(|| "*".to_string()),
                dependencies,
                extras: read_extras(package.extras),
                files: files
                    .into_iter()
                    .map(|file| PoetryFile {
                        file: file.file,
                        hash: file.hash,
                    })
                    .collect(),
            });
        }
        Ok(Self {
            lock_version,
            generated_by: generated_by(text),
            content_hash,
            packages,
        })
    }

    /// Whether the lock was made from `pyproject` (the text of pyproject.toml), as Poetry's
    /// `Locker.is_fresh` tells: its `content-hash` is [`content_hash`] of the file; a lock
    /// written by Poetry before 2.3 hashed no `[dependency-groups]`, so it is also compared
    /// without them. A lock without a hash is not fresh.
    pub fn is_fresh(&self, pyproject: &toml::Table) -> bool {
        let Some(locked) = &self.content_hash else {
            return false;
        };
        if *locked == content_hash(pyproject, true) {
            return true;
        }
        let before_groups_counted = Version::from_str("2.3.0").expect("a valid version");
        self.generated_by
            .as_ref()
            .is_some_and(|version| *version < before_groups_counted)
            && *locked == content_hash(pyproject, false)
    }
}

/// The Poetry version in the `@generated` comment Poetry writes on the first line.
fn generated_by(text: &str) -> Option<Version> {
    let first = text.lines().next()?.trim_start();
    if !first.starts_with('#') {
        return None;
    }
    let (_, after) = first.split_once("Poetry ")?;
    Version::from_str(after.split_whitespace().next()?).ok()
}

/// One `[package.dependencies]` entry, appended to `out`: a constraint string, a table, or a
/// list of tables (several constraints, told apart by markers). The error is a message.
fn read_dependency(
    name: &str,
    value: &toml::Value,
    out: &mut Vec<PoetryDependency>,
) -> Result<(), String> {
    let package = PackageName::from_str(name).map_err(|error| error.to_string())?;
    let plain = |constraint: String| PoetryDependency {
        name: package.clone(),
        constraint,
        markers: None,
        python: None,
        platform: None,
        optional: false,
        extras: Vec::new(),
        direct: false,
    };
    match value {
        toml::Value::String(constraint) => out.push(plain(constraint.clone())),
        toml::Value::Table(table) => {
            let text = |key: &str| -> Result<Option<String>, String> {
                match table.get(key) {
                    None => Ok(None),
                    Some(toml::Value::String(text)) => Ok(Some(text.clone())),
                    Some(other) => Err(format!("`{key}` is a {}, not a string", other.type_str())),
                }
            };
            let mut dependency = plain(text("version")?.unwrap_or_else(|| "*".to_string()));
            dependency.markers = text("markers")?;
            dependency.python = text("python")?;
            dependency.platform = text("platform")?;
            dependency.optional = matches!(table.get("optional"), Some(toml::Value::Boolean(true)));
            dependency.direct = ["path", "url", "git"]
                .iter()
                .any(|key| table.contains_key(*key));
            if let Some(extras) = table.get("extras") {
                let toml::Value::Array(extras) = extras else {
                    return Err("`extras` is not a list".to_string());
                };
                for extra in extras {
                    let extra = extra.as_str().ok_or("`extras` holds a non-string")?;
                    dependency
                        .extras
                        .push(ExtraName::from_str(extra).map_err(|error| error.to_string())?);
                }
            }
            out.push(dependency);
        }
        toml::Value::Array(list) => {
            for item in list {
                read_dependency(name, item, out)?;
            }
        }
        other => return Err(format!("a {} is not a dependency", other.type_str())),
    }
    Ok(())
}

/// `[package.extras]`, each requirement read for its name and extras. Requirements whose name
/// does not parse are left out: only the names of the package's optional dependencies matter.
fn read_extras(
    extras: BTreeMap<String, Vec<String>>,
) -> BTreeMap<ExtraName, Vec<ExtraRequirement>> {
    let mut read = BTreeMap::new();
    for (extra, requirements) in extras {
        let Ok(extra) = ExtraName::from_str(&extra) else {
            tracing::debug!("poetry.lock: an extra `{extra}` with an invalid name is left out");
            continue;
        };
        let requirements = requirements
            .iter()
            .filter_map(|text| extra_requirement(text))
            .collect();
        read.insert(extra, requirements);
    }
    read
}

/// The name and extras of `name[extra,...] (constraint) ; marker`, the form Poetry writes
/// (also plain PEP 508).
fn extra_requirement(text: &str) -> Option<ExtraRequirement> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(text.len());
    let name = PackageName::from_str(&text[..end]).ok()?;
    let rest = text[end..].trim_start();
    let extras = match rest.strip_prefix('[') {
        Some(inner) => inner
            .split_once(']')
            .map(|(list, _)| list)
            .unwrap_or_default()
            .split(',')
            .filter_map(|extra| ExtraName::from_str(extra.trim()).ok())
            .collect(),
        None => Vec::new(),
    };
    Some(ExtraRequirement { name, extras })
}

/// The keys of `[tool.poetry]` that Poetry's content hash covers; `None` is written for the
/// legacy ones when absent.
const LEGACY_KEYS: [&str; 4] = ["dependencies", "source", "extras", "dev-dependencies"];
const RELEVANT_KEYS: [&str; 5] = [
    "dependencies",
    "source",
    "extras",
    "dev-dependencies",
    "group",
];
/// The keys of `[project]` that Poetry's content hash covers.
const RELEVANT_PROJECT_KEYS: [&str; 3] =
    ["requires-python", "dependencies", "optional-dependencies"];

/// Poetry's `content-hash` of a pyproject.toml, as its `Locker._get_content_hash` computes it:
/// the sha256 of Python's `json.dumps(relevant, sort_keys=True)`, where `relevant` is
///
/// - for a Poetry 1 project (no `[project]` keys below, no `[dependency-groups]`): the
///   `[tool.poetry]` keys `dependencies`, `source`, `extras` and `dev-dependencies` (null when
///   absent), and `group` when present, at the top level, which is also what Poetry 1.x wrote;
/// - else (Poetry 2): `{"project": {requires-python, dependencies, optional-dependencies that
///   are present}, "dependency-groups": ... (when present and `with_dependency_groups`),
///   "tool": {"poetry": {those `[tool.poetry]` keys that are present}}}`.
pub fn content_hash(pyproject: &toml::Table, with_dependency_groups: bool) -> String {
    use sha2::Digest as _;
    let empty = toml::Table::new();
    let table = |parent: &toml::Table, key: &str| -> Option<toml::Table> {
        parent.get(key).and_then(toml::Value::as_table).cloned()
    };
    let project = table(pyproject, "project").unwrap_or_default();
    let groups = if with_dependency_groups {
        table(pyproject, "dependency-groups").unwrap_or_default()
    } else {
        toml::Table::new()
    };
    let poetry = table(pyproject, "tool")
        .and_then(|tool| table(&tool, "poetry"))
        .unwrap_or_else(|| empty.clone());

    let mut relevant_project = toml::Table::new();
    for key in RELEVANT_PROJECT_KEYS {
        if let Some(value) = project.get(key) {
            relevant_project.insert(key.to_string(), value.clone());
        }
    }
    let modern = !relevant_project.is_empty() || !groups.is_empty();
    // `None` stands for JSON's null, which TOML cannot hold.
    let mut relevant_poetry: BTreeMap<String, Option<toml::Value>> = BTreeMap::new();
    for key in RELEVANT_KEYS {
        match poetry.get(key) {
            Some(value) => {
                relevant_poetry.insert(key.to_string(), Some(value.clone()));
            }
            None if LEGACY_KEYS.contains(&key) && !modern => {
                relevant_poetry.insert(key.to_string(), None);
            }
            None => {}
        }
    }
    let mut json = String::new();
    let poetry_json = |json: &mut String| {
        json.push('{');
        for (position, (key, value)) in relevant_poetry.iter().enumerate() {
            if position > 0 {
                json.push_str(", ");
            }
            python_json_string(key, json);
            json.push_str(": ");
            match value {
                Some(value) => python_json(value, json),
                None => json.push_str("null"),
            }
        }
        json.push('}');
    };
    if modern {
        // Keys in sorted order: dependency-groups, project, tool.
        let mut parts: Vec<(&str, String)> = Vec::new();
        if !groups.is_empty() {
            let mut text = String::new();
            python_json(&toml::Value::Table(groups), &mut text);
            parts.push(("dependency-groups", text));
        }
        if !relevant_project.is_empty() {
            let mut text = String::new();
            python_json(&toml::Value::Table(relevant_project), &mut text);
            parts.push(("project", text));
        }
        let mut text = String::from("{\"poetry\": ");
        poetry_json(&mut text);
        text.push('}');
        parts.push(("tool", text));
        json.push('{');
        for (position, (key, value)) in parts.iter().enumerate() {
            if position > 0 {
                json.push_str(", ");
            }
            python_json_string(key, &mut json);
            json.push_str(": ");
            json.push_str(value);
        }
        json.push('}');
    } else {
        poetry_json(&mut json);
    }
    hex::encode(sha2::Sha256::digest(json.as_bytes()))
}

/// `value` as Python's `json.dumps(value, sort_keys=True)` writes it: `", "` and `": "` as
/// separators, keys sorted by code point, non-ASCII escaped.
fn python_json(value: &toml::Value, out: &mut String) {
    match value {
        toml::Value::String(text) => python_json_string(text, out),
        toml::Value::Integer(number) => out.push_str(&number.to_string()),
        toml::Value::Float(number) => out.push_str(&python_float(*number)),
        toml::Value::Boolean(true) => out.push_str("true"),
        toml::Value::Boolean(false) => out.push_str("false"),
        // Python's json cannot write a datetime (Poetry fails); its text is the best guess.
        toml::Value::Datetime(datetime) => python_json_string(&datetime.to_string(), out),
        toml::Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push_str(", ");
                }
                python_json(item, out);
            }
            out.push(']');
        }
        toml::Value::Table(table) => {
            // Sorted by code point: UTF-8 byte order is the same order.
            let mut keys: Vec<&String> = table.keys().collect();
            keys.sort();
            out.push('{');
            for (position, key) in keys.into_iter().enumerate() {
                if position > 0 {
                    out.push_str(", ");
                }
                python_json_string(key, out);
                out.push_str(": ");
                python_json(&table[key], out);
            }
            out.push('}');
        }
    }
}

/// A string as Python's json writes it with `ensure_ascii`.
fn python_json_string(text: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// A float as Python's `repr` writes it: the shortest text that reads back, in exponent form
/// below 1e-4 and from 1e16.
fn python_float(number: f64) -> String {
    if number.is_nan() {
        return "NaN".to_string();
    }
    if number.is_infinite() {
        return if number > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        }
        .to_string();
    }
    let scientific = format!("{number:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let plain = format!("{number}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{require_tool, Tool};

    fn parse(text: &str) -> PoetryLock {
        PoetryLock::parse(text, Path::new("poetry.lock")).unwrap()
    }

    #[test]
    fn every_lock_version_gives_names_and_versions() {
        let old = parse(
            r#"
[[package]]
name = "Pygments"
version = "2.15.1"
description = "Pygments is a syntax highlighting package written in Python."
category = "main"
optional = false
python-versions = ">=3.7"

[metadata]
lock-version = "1.1"
python-versions = ">=3.7.0"
content-hash = "00"

[metadata.files]
pygments = [
    {file = "Pygments-2.15.1-py3-none-any.whl", hash = "sha256:00"},
]
"#,
        );
        assert_eq!(old.lock_version.as_deref(), Some("1.1"));
        assert_eq!(old.packages[0].name.as_ref(), "pygments");
        assert_eq!(old.packages[0].version.to_string(), "2.15.1");

        let new = parse(
            r#"
[[package]]
name = "numpy"
version = "2.2.6"
optional = false
python-versions = ">=3.10"
groups = ["main"]
markers = "python_version == \"3.10\""
files = []

[[package]]
name = "numpy"
version = "2.4.4"
optional = false
python-versions = ">=3.11"
groups = ["main"]
markers = { main = "python_version >= \"3.11\"" }
files = []

[[package]]
name = "internal"
version = "1.0"
optional = false
python-versions = "*"
files = []

[package.source]
type = "legacy"
url = "https://example.org/simple"
reference = "private"

[[package]]
name = "mylib"
version = "0.1.0"
optional = false
python-versions = "*"
files = []

[package.source]
type = "git"
url = "https://example.org/mylib.git"
reference = "main"
resolved_reference = "abc"

[metadata]
lock-version = "2.1"
"#,
        );
        let versions: Vec<String> = new
            .packages
            .iter()
            .map(|package| format!("{}=={}", package.name, package.version))
            .collect();
        assert_eq!(
            versions,
            [
                "numpy==2.2.6",
                "numpy==2.4.4",
                "internal==1.0",
                "mylib==0.1.0"
            ]
        );
        assert_eq!(new.packages[2].direct_source, None);
        assert_eq!(new.packages[3].direct_source.as_deref(), Some("git"));
    }

    #[test]
    fn errors_name_the_file_and_package() {
        let error = PoetryLock::parse(
            "[[package]]\nname = \"a\"\nversion = \"not a version\"\n",
            Path::new("x/poetry.lock"),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("x/poetry.lock"), "{error}");
        assert!(error.contains("package 1 (\"a\")"), "{error}");
        assert!(error.contains("not a version"), "{error}");

        let error = PoetryLock::parse("[[package]\n", Path::new("poetry.lock"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("`poetry.lock:1:11` is not valid TOML: "),
            "{error}"
        );
        assert_eq!(
            PoetryLock::read(Path::new("/nonexistent/poetry.lock")).unwrap(),
            None
        );
    }

    #[test]
    fn what_installing_needs_is_read_in_every_format() {
        let old = parse(
            r#"
[[package]]
name = "black"
version = "22.12.0"
category = "dev"
optional = false
python-versions = ">=3.7"

[package.dependencies]
click = ">=8.0.0"
tomli = {version = ">=1.1.0", markers = "python_full_version < \"3.11.0a7\""}
uvloop = {version = ">=0.15.2", optional = true, markers = "extra == \"uvloop\""}
numpy = [
    {version = "<2", python = "<3.10"},
    {version = ">=2", platform = "linux"},
]
mylib = {path = "../mylib", develop = true}

[package.extras]
uvloop = ["uvloop (>=0.15.2)"]
d = ["aiohttp (>=3.7.4)", "coverage[toml] (>=5.0.2) ; python_version < \"3.12\""]

[metadata]
lock-version = "1.1"
python-versions = ">=3.7.0"
content-hash = "abc"

[metadata.files]
Black = [
    {file = "black-22.12.0-py3-none-any.whl", hash = "sha256:436cc9167dd28040ad90d3b404aec22cedf24a6e4d7de221bec2730ec0c97bcf"},
    {file = "black-22.12.0.tar.gz", hash = "md5:00"},
]
"#,
        );
        assert_eq!(old.content_hash.as_deref(), Some("abc"));
        assert_eq!(old.generated_by, None);
        let black = &old.packages[0];
        assert_eq!(black.python_versions, ">=3.7");
        assert_eq!(black.files.len(), 2);
        assert_eq!(
            black.files[0].sha256(),
            Some("436cc9167dd28040ad90d3b404aec22cedf24a6e4d7de221bec2730ec0c97bcf")
        );
        assert_eq!(black.files[1].sha256(), None);
        let shown: Vec<String> = black
            .dependencies
            .iter()
            .map(|dependency| {
                format!(
                    "{} {} {:?} {:?} {:?} {} {}",
                    dependency.name,
                    dependency.constraint,
                    dependency.markers,
                    dependency.python,
                    dependency.platform,
                    dependency.optional,
                    dependency.direct
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                "click >=8.0.0 None None None false false",
                "mylib * None None None false true",
                "numpy <2 None Some(\"<3.10\") None false false",
                "numpy >=2 None None Some(\"linux\") false false",
                "tomli >=1.1.0 Some(\"python_full_version < \\\"3.11.0a7\\\"\") None None false false",
                "uvloop >=0.15.2 Some(\"extra == \\\"uvloop\\\"\") None None true false",
            ]
        );
        let extras: Vec<String> = black
            .extras
            .iter()
            .map(|(extra, requirements)| {
                let names: Vec<String> = requirements
                    .iter()
                    .map(|requirement| format!("{}{:?}", requirement.name, requirement.extras))
                    .collect();
                format!("{extra}: {}", names.join(" "))
            })
            .collect();
        assert_eq!(
            extras,
            [
                "d: aiohttp[] coverage[ExtraName(\"toml\")]",
                "uvloop: uvloop[]"
            ]
        );

        let new = parse(
            r#"# This file is automatically @generated by Poetry 2.3.2 and should not be changed by hand.

[[package]]
name = "internal"
version = "1.0"
optional = false
python-versions = "*"
groups = ["main"]
files = [
    {file = "internal-1.0-py3-none-any.whl", hash = "sha256:00"},
]

[package.source]
type = "legacy"
url = "https://example.org/simple"
reference = "private"

[metadata]
lock-version = "2.1"
content-hash = "def"
"#,
        );
        assert_eq!(new.generated_by, Some(Version::from_str("2.3.2").unwrap()));
        let internal = &new.packages[0];
        assert_eq!(
            internal.index,
            Some(PoetryIndexSource {
                name: Some("private".to_string()),
                url: "https://example.org/simple".to_string()
            })
        );
        assert_eq!(internal.direct_source, None);
        assert_eq!(internal.files[0].file, "internal-1.0-py3-none-any.whl");

        let error = PoetryLock::parse(
            "[[package]]\nname = \"a\"\nversion = \"1\"\n[package.dependencies]\nb = 3\n",
            Path::new("poetry.lock"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("package 1 (\"a\") has an invalid dependency `b`"),
            "{error}"
        );
    }

    /// Hashes computed by Poetry's own algorithm (`Locker._get_content_hash`, run in Python).
    #[test]
    fn the_content_hash_is_poetrys() {
        let poetry1: toml::Table = toml::from_str(
            r#"[tool.poetry]
name = "svc"
[tool.poetry.dependencies]
python = "^3.11"
web = { version = "^1.0", extras = ["x"], optional = true }
"Zeta.Pkg" = "*"
"naïve" = "1.0"
num = 1.5
[tool.poetry.extras]
plugins = ["web"]
[tool.poetry.group.dev.dependencies]
pytest = ">=8"
"#,
        )
        .unwrap();
        let expected = "b12e6268bd7ed11503c63591d401c84f139f5d460540fcf4617de46dc46b0a5e";
        assert_eq!(content_hash(&poetry1, true), expected);
        assert_eq!(content_hash(&poetry1, false), expected);

        let poetry2: toml::Table = toml::from_str(
            r#"[project]
name = "svc"
requires-python = ">=3.11"
dependencies = ["web (>=1.0,<2.0)", "tab\there"]
[dependency-groups]
test = ["pytest>=8", {include-group = "lint"}]
lint = ["ruff"]
[tool.poetry]
version = "1.0"
[tool.poetry.group.dev.dependencies]
mypy = "*"
"#,
        )
        .unwrap();
        let with_groups = "323c8f0b6a5540a80a157dd25f56d30f2ca46d24a84b7ee5aeab2193bceaf47f";
        let without = "bce857a4ea6101ef67aa3a8400b38c83c4438404c46f356bf0f7edde14b2f22a";
        assert_eq!(content_hash(&poetry2, true), with_groups);
        assert_eq!(content_hash(&poetry2, false), without);

        // Poetry before 2.3 hashed no `[dependency-groups]`; later versions do.
        let lock = |header: &str, hash: &str| {
            parse(&format!(
                "{header}\n[metadata]\nlock-version = \"2.1\"\ncontent-hash = \"{hash}\"\n"
            ))
        };
        let generated = |version: &str| {
            format!("# This file is automatically @generated by Poetry {version} and should not be changed by hand.")
        };
        assert!(lock(&generated("2.3.0"), with_groups).is_fresh(&poetry2));
        assert!(!lock(&generated("2.3.0"), without).is_fresh(&poetry2));
        assert!(lock(&generated("2.2.1"), without).is_fresh(&poetry2));
        assert!(!lock("", "").is_fresh(&poetry2));
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(0.000_01), "1e-05");
        assert_eq!(python_float(2.0), "2.0");
    }

    /// Every real lock of `../shared` (optional test data) is fresh for its pyproject.toml.
    #[test]
    fn the_sample_locks_are_fresh() {
        let mut checked = 0;
        for data in ["poetry-projects", "poetry-apps"] {
            let dir = require_tool!(Tool::Shared(data));
            for entry in fs_err::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if !path.is_dir() {
                    continue;
                }
                let Some(lock) = PoetryLock::read(&path.join(POETRY_LOCK_FILE_NAME)).unwrap()
                else {
                    continue;
                };
                let pyproject: toml::Table =
                    toml::from_str(&fs_err::read_to_string(path.join("pyproject.toml")).unwrap())
                        .unwrap();
                assert!(lock.is_fresh(&pyproject), "{}", path.display());
                checked += 1;
            }
        }
        assert_eq!(checked, 8);
    }

    /// The real locks in `../shared/poetry-projects` (optional test data) all read.
    #[test]
    fn the_sample_poetry_locks_read() {
        let dir = require_tool!(Tool::Shared("poetry-projects"));
        let entries = fs_err::read_dir(&dir).unwrap();
        let mut read = 0;
        for entry in entries.flatten().filter(|entry| entry.path().is_dir()) {
            let path = entry.path().join(POETRY_LOCK_FILE_NAME);
            if let Some(lock) = PoetryLock::read(&path).unwrap() {
                assert!(lock.packages.len() > 50, "{}", path.display());
                assert!(lock.lock_version.is_some(), "{}", path.display());
                read += 1;
            }
        }
        assert_eq!(read, 5);
    }
}
