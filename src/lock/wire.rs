//! The file as written, and its validation into the model.
//!
//! The wire structs accept anything PEP 751 allows (and ignore keys they do not know, as a
//! newer minor `lock-version` may add some); `TryFrom<WireDocument>` then checks what tack
//! needs and names the package (by position and name) and the field of every problem.
//!
//! `upload-time` is read as a spanned TOML datetime and taken from the source text, because
//! the `toml` crate's own rendering drops trailing zeros of the fraction: this way a lock
//! written by tack reads back to the very same strings.

use std::collections::BTreeMap;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use serde::Deserialize;
use toml::value::Datetime;
use toml::Spanned;

use super::{Lock, LockInputs, LockedDependency, LockedFile, LockedPackage, TackLockTool};
use crate::normalize::{ExtraName, GroupName, PackageName};
use crate::pep508::parse_requirement;

/// Why a parsed lock file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidLock {
    #[error("lock-version `{0}` is not supported; this version of tack reads lock-version 1.x")]
    UnsupportedVersion(String),
    #[error("{location}: {message}")]
    Field { location: String, message: String },
    #[error(
        "{location}: package `{name}` comes from a `{source_kind}` source, which tack does not support yet"
    )]
    UnsupportedSource {
        location: String,
        name: String,
        source_kind: &'static str,
    },
}

impl InvalidLock {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::UnsupportedVersion(_) => {
                "upgrade tack, or run `tack lock` to replace the file with a lock-version 1.0 lock"
            }
            Self::Field { .. } => "fix the entry, or run `tack lock` to write a new lock file",
            Self::UnsupportedSource { .. } => {
                "run `tack lock` to lock the project with tack, which locks packages from indexes"
            }
        }
    }

    fn field(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Field {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// A parsed file together with its text (for the raw `upload-time` values).
pub(super) struct WireDocument<'a> {
    pub(super) document: WireLock,
    pub(super) text: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct WireLock {
    lock_version: String,
    #[serde(default)]
    environments: Vec<String>,
    requires_python: Option<String>,
    #[serde(default)]
    extras: Vec<String>,
    #[serde(default)]
    dependency_groups: Vec<String>,
    #[serde(default)]
    default_groups: Vec<String>,
    created_by: String,
    packages: Vec<WirePackage>,
    #[serde(default)]
    tool: WireTool,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WirePackage {
    name: String,
    version: Option<String>,
    marker: Option<String>,
    requires_python: Option<String>,
    #[serde(default)]
    dependencies: Vec<WireDependency>,
    vcs: Option<toml::Value>,
    directory: Option<toml::Value>,
    archive: Option<toml::Value>,
    index: Option<String>,
    sdist: Option<WireFile>,
    wheels: Option<Vec<WireFile>>,
}

#[derive(Deserialize)]
struct WireDependency {
    name: Option<String>,
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WireFile {
    name: Option<String>,
    upload_time: Option<Spanned<Datetime>>,
    url: Option<String>,
    path: Option<String>,
    size: Option<u64>,
    hashes: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
struct WireTool {
    tack: Option<WireTackTool>,
}

#[derive(Deserialize)]
struct WireTackTool {
    fingerprint: String,
    #[serde(default)]
    inputs: WireInputs,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
struct WireInputs {
    requires_python: Option<String>,
    dependencies: Vec<String>,
    optional_dependencies: BTreeMap<String, Vec<String>>,
    dependency_groups: BTreeMap<String, Vec<String>>,
    indexes: Vec<String>,
    resolver: BTreeMap<String, String>,
}

impl TryFrom<WireDocument<'_>> for Lock {
    type Error = InvalidLock;

    fn try_from(wire: WireDocument<'_>) -> Result<Self, Self::Error> {
        let WireDocument { document, text } = wire;
        check_lock_version(&document.lock_version)?;
        if let Some(requires_python) = &document.requires_python {
            check_specifiers("`requires-python`", requires_python)?;
        }
        let extras = sorted_names(&document.extras, "extras", |name| {
            ExtraName::from_str(name).map_err(|error| error.to_string())
        })?;
        let dependency_groups =
            sorted_names(&document.dependency_groups, "dependency-groups", |name| {
                GroupName::new(name).map_err(|error| error.to_string())
            })?;
        let default_groups = sorted_names(&document.default_groups, "default-groups", |name| {
            GroupName::new(name).map_err(|error| error.to_string())
        })?;
        let mut packages = document
            .packages
            .into_iter()
            .enumerate()
            .map(|(position, package)| convert_package(position, package, text))
            .collect::<Result<Vec<_>, _>>()?;
        packages.sort_by(|a, b| {
            (&a.name, &a.version, &a.marker).cmp(&(&b.name, &b.version, &b.marker))
        });
        let tool = match document.tool.tack {
            Some(tack) => TackLockTool {
                fingerprint: tack.fingerprint,
                inputs: convert_inputs(tack.inputs)?,
            },
            None => TackLockTool::default(),
        };
        Ok(Lock {
            lock_version: document.lock_version,
            environments: document.environments,
            requires_python: document.requires_python,
            extras,
            dependency_groups,
            default_groups,
            created_by: document.created_by,
            packages,
            tool,
        })
    }
}

/// PEP 751: a reader must refuse an unknown major version and may read a newer minor one.
fn check_lock_version(lock_version: &str) -> Result<(), InvalidLock> {
    let version = Version::from_str(lock_version.trim())
        .map_err(|_| InvalidLock::UnsupportedVersion(lock_version.to_string()))?;
    if version.release().first() != Some(&1) {
        return Err(InvalidLock::UnsupportedVersion(lock_version.to_string()));
    }
    if version.release().get(1).is_some_and(|minor| *minor > 0) {
        tracing::debug!("reading a lock-version {lock_version} file as lock-version 1.0");
    }
    Ok(())
}

fn check_specifiers(location: &str, specifiers: &str) -> Result<(), InvalidLock> {
    VersionSpecifiers::from_str(specifiers)
        .map(|_| ())
        .map_err(|error| {
            InvalidLock::field(
                location,
                format!("`{specifiers}` is not a valid version specifier: {error}"),
            )
        })
}

fn sorted_names<T: Ord>(
    names: &[String],
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, InvalidLock> {
    let mut parsed = names
        .iter()
        .enumerate()
        .map(|(position, name)| {
            parse(name).map_err(|error| InvalidLock::field(format!("`{key}[{position}]`"), error))
        })
        .collect::<Result<Vec<_>, _>>()?;
    parsed.sort();
    parsed.dedup();
    Ok(parsed)
}

fn convert_package(
    position: usize,
    package: WirePackage,
    text: &str,
) -> Result<LockedPackage, InvalidLock> {
    let mut location = format!("packages[{position}]");
    let name = match PackageName::from_str(&package.name) {
        Ok(name) if !package.name.trim().is_empty() => name,
        _ => {
            return Err(InvalidLock::field(
                location,
                format!("`name` `{}` is not a valid package name", package.name),
            ))
        }
    };
    location = format!("{location} (`{name}`)");
    for (present, source_kind) in [
        (package.vcs.is_some(), "vcs"),
        (package.directory.is_some(), "directory"),
        (package.archive.is_some(), "archive"),
    ] {
        if present {
            return Err(InvalidLock::UnsupportedSource {
                location,
                name: name.to_string(),
                source_kind,
            });
        }
    }
    let version = match &package.version {
        None => {
            return Err(InvalidLock::field(
                location,
                "`version` is missing; tack needs the version of every package from an index",
            ))
        }
        Some(version) => Version::from_str(version).map_err(|error| {
            InvalidLock::field(
                &location,
                format!("`version` `{version}` is not a valid PEP 440 version: {error}"),
            )
        })?,
    };
    if let Some(requires_python) = &package.requires_python {
        check_specifiers(&format!("{location}, `requires-python`"), requires_python)?;
    }
    let mut dependencies = package
        .dependencies
        .into_iter()
        .enumerate()
        .map(|(index, dependency)| {
            convert_dependency(&format!("{location}, `dependencies[{index}]`"), dependency)
        })
        .collect::<Result<Vec<_>, _>>()?;
    dependencies.sort();
    dependencies.dedup();
    let sdist = package
        .sdist
        .map(|file| convert_file(&format!("{location}, `sdist`"), file, text))
        .transpose()?;
    let mut wheels = package
        .wheels
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(index, file)| convert_file(&format!("{location}, `wheels[{index}]`"), file, text))
        .collect::<Result<Vec<_>, _>>()?;
    wheels.sort_by(|a, b| (&a.name, &a.url).cmp(&(&b.name, &b.url)));
    if sdist.is_none() && wheels.is_empty() {
        return Err(InvalidLock::field(
            location,
            "the package has neither an `sdist` nor `wheels`, so there is nothing to install",
        ));
    }
    Ok(LockedPackage {
        name,
        version,
        marker: package.marker,
        requires_python: package.requires_python,
        dependencies,
        index: package.index,
        sdist,
        wheels,
    })
}

fn convert_dependency(
    location: &str,
    dependency: WireDependency,
) -> Result<LockedDependency, InvalidLock> {
    let Some(raw_name) = dependency.name else {
        return Err(InvalidLock::field(
            location,
            "the entry has no `name`; tack identifies dependencies by name (and version)",
        ));
    };
    let name = match PackageName::from_str(&raw_name) {
        Ok(name) if !raw_name.trim().is_empty() => name,
        _ => {
            return Err(InvalidLock::field(
                location,
                format!("`name` `{raw_name}` is not a valid package name"),
            ))
        }
    };
    let version = dependency
        .version
        .map(|version| {
            Version::from_str(&version).map_err(|error| {
                InvalidLock::field(
                    location,
                    format!("`version` `{version}` is not a valid PEP 440 version: {error}"),
                )
            })
        })
        .transpose()?;
    Ok(LockedDependency { name, version })
}

fn convert_file(location: &str, file: WireFile, text: &str) -> Result<LockedFile, InvalidLock> {
    let Some(url) = file.url else {
        let message = if file.path.is_some() {
            "files given by a local `path` are not supported yet; tack installs files by `url`"
        } else {
            "the file has no `url`"
        };
        return Err(InvalidLock::field(location, message));
    };
    let name = match file.name {
        Some(name) => name,
        None => file_name_from_url(&url).ok_or_else(|| {
            InvalidLock::field(
                location,
                format!("the file has no `name` and its URL `{url}` does not end in one"),
            )
        })?,
    };
    let location = format!("{location} (`{name}`)");
    let sha256 = file
        .hashes
        .as_ref()
        .and_then(|hashes| hashes.get("sha256"))
        .ok_or_else(|| {
            InvalidLock::field(
                &location,
                "the file has no `sha256` hash; tack verifies every file it installs by sha256",
            )
        })?
        .to_ascii_lowercase();
    if !is_sha256_hex(&sha256) {
        return Err(InvalidLock::field(
            &location,
            format!("the sha256 hash `{sha256}` is not 64 hexadecimal digits"),
        ));
    }
    let upload_time = file
        .upload_time
        .map(|spanned| raw_upload_time(&location, &spanned, text))
        .transpose()?;
    Ok(LockedFile {
        name,
        url,
        size: file.size,
        upload_time,
        sha256,
    })
}

/// The upload time as the file spells it, when that is a strict RFC 3339 form the writer
/// keeps; otherwise the `toml` crate's canonical form.
fn raw_upload_time(
    location: &str,
    spanned: &Spanned<Datetime>,
    text: &str,
) -> Result<String, InvalidLock> {
    let datetime = spanned.get_ref();
    if datetime.date.is_none() || datetime.time.is_none() {
        return Err(InvalidLock::field(
            location,
            format!("`upload-time` `{datetime}` is not a date with a time"),
        ));
    }
    let canonical = datetime.to_string();
    let raw = text.get(spanned.span()).unwrap_or(&canonical);
    Ok(super::writer::upload_time_literal(raw).unwrap_or(canonical))
}

/// The last path segment of `url`, percent-decoded.
fn file_name_from_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let segment = parsed.path_segments()?.next_back()?;
    if segment.is_empty() {
        return None;
    }
    percent_decode(segment)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while position < bytes.len() {
        if bytes[position] == b'%' {
            let hex = text.get(position + 1..position + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            position += 3;
        } else {
            decoded.push(bytes[position]);
            position += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

pub(super) fn is_sha256_hex(digest: &str) -> bool {
    digest.len() == 64
        && digest
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

fn convert_inputs(inputs: WireInputs) -> Result<LockInputs, InvalidLock> {
    // The strings are kept as written, but `sync` parses them (skipping what does not parse)
    // to find the direct dependencies: refuse those the PEP 508 parser would panic on.
    let lists = std::iter::once(("dependencies".to_string(), &inputs.dependencies))
        .chain(
            inputs
                .optional_dependencies
                .iter()
                .map(|(extra, requirements)| {
                    (format!("optional-dependencies.{extra}"), requirements)
                }),
        )
        .chain(
            inputs
                .dependency_groups
                .iter()
                .map(|(group, requirements)| (format!("dependency-groups.{group}"), requirements)),
        );
    for (key, requirements) in lists {
        for (position, requirement) in requirements.iter().enumerate() {
            if let Err(error) = parse_requirement(requirement) {
                if error.parser_bug {
                    return Err(InvalidLock::field(
                        format!("`[tool.tack.inputs]` `{key}[{position}]`"),
                        format!(
                            "`{requirement}` is not a valid requirement: {}",
                            error.message
                        ),
                    ));
                }
            }
        }
    }
    let optional_dependencies = inputs
        .optional_dependencies
        .into_iter()
        .map(|(extra, requirements)| {
            ExtraName::from_str(&extra)
                .map(|extra| (extra, requirements))
                .map_err(|error| {
                    InvalidLock::field(
                        "`[tool.tack.inputs.optional-dependencies]`",
                        error.to_string(),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let dependency_groups = inputs
        .dependency_groups
        .into_iter()
        .map(|(group, requirements)| {
            GroupName::new(&group)
                .map(|group| (group, requirements))
                .map_err(|error| {
                    InvalidLock::field("`[tool.tack.inputs.dependency-groups]`", error.to_string())
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(LockInputs {
        requires_python: inputs.requires_python,
        dependencies: inputs.dependencies,
        optional_dependencies,
        dependency_groups,
        indexes: inputs.indexes,
        resolver: inputs.resolver,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::lock::LockError;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn read(text: &str) -> Result<Lock, LockError> {
        Lock::from_toml(text, Path::new("project/pylock.toml"))
    }

    fn error(text: &str) -> String {
        read(text).unwrap_err().to_string()
    }

    fn one_package(body: &str) -> String {
        format!("lock-version = \"1.0\"\ncreated-by = \"other\"\n\n[[packages]]\nname = \"foo\"\n{body}\n")
    }

    fn wheel(extra: &str) -> String {
        format!(
            "wheels = [{{ url = \"https://example.org/files/foo-1.0-py3-none-any.whl\", hashes = {{ sha256 = \"{SHA}\" }}{extra} }}]"
        )
    }

    #[test]
    fn reads_a_minimal_foreign_lock() {
        let lock = read(&one_package(&format!("version = \"1.0\"\n{}", wheel("")))).unwrap();
        assert_eq!(lock.created_by, "other");
        assert_eq!(lock.tool, TackLockTool::default());
        let package = &lock.packages[0];
        assert_eq!(package.name.as_ref(), "foo");
        assert_eq!(package.wheels[0].name, "foo-1.0-py3-none-any.whl");
        assert_eq!(package.wheels[0].upload_time, None);
    }

    #[test]
    fn names_are_normalized_and_file_names_decoded() {
        let text = one_package(&format!(
            "version = \"1.0+local\"\nwheels = [{{ url = \"https://example.org/f/Foo-1.0%2Blocal-py3-none-any.whl\", hashes = {{ sha256 = \"{}\" }} }}]",
            SHA.to_ascii_uppercase()
        ))
        .replace("name = \"foo\"", "name = \"Foo_Bar\"");
        let lock = read(&text).unwrap();
        assert_eq!(lock.packages[0].name.as_ref(), "foo-bar");
        assert_eq!(
            lock.packages[0].wheels[0].name,
            "Foo-1.0+local-py3-none-any.whl"
        );
        assert_eq!(lock.packages[0].wheels[0].sha256, SHA);
    }

    #[test]
    fn accepts_newer_minor_versions_and_refuses_other_majors() {
        let text = one_package(&format!("version = \"1.0\"\n{}", wheel("")));
        assert!(read(&text.replace("\"1.0\"\ncreated", "\"1.3\"\ncreated")).is_ok());
        let message = error(&text.replace("\"1.0\"\ncreated", "\"2.0\"\ncreated"));
        assert_eq!(
            message,
            "`project/pylock.toml`: lock-version `2.0` is not supported; this version of tack reads lock-version 1.x; upgrade tack, or run `tack lock` to replace the file with a lock-version 1.0 lock"
        );
        assert!(error(&text.replace("\"1.0\"\ncreated", "\"one\"\ncreated"))
            .contains("lock-version `one` is not supported"));
    }

    #[test]
    fn missing_or_bad_versions_name_the_package() {
        assert_eq!(
            error(&one_package(&wheel(""))),
            "`project/pylock.toml`: packages[0] (`foo`): `version` is missing; tack needs the version of every package from an index; fix the entry, or run `tack lock` to write a new lock file"
        );
        let message = error(&one_package(&format!(
            "version = \"1.0-bogus\"\n{}",
            wheel("")
        )));
        assert!(
            message.contains(
                "packages[0] (`foo`): `version` `1.0-bogus` is not a valid PEP 440 version"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_package_needs_files_with_sha256() {
        let message = error(&one_package("version = \"1.0\""));
        assert!(
            message
                .contains("packages[0] (`foo`): the package has neither an `sdist` nor `wheels`"),
            "{message}"
        );
        let message = error(&one_package(
            "version = \"1.0\"\nsdist = { url = \"https://example.org/foo-1.0.tar.gz\", hashes = { md5 = \"abc\" } }",
        ));
        assert!(
            message.contains(
                "packages[0] (`foo`), `sdist` (`foo-1.0.tar.gz`): the file has no `sha256` hash"
            ),
            "{message}"
        );
        let message = error(&one_package(
            "version = \"1.0\"\nsdist = { url = \"https://example.org/foo-1.0.tar.gz\", hashes = { sha256 = \"abc\" } }",
        ));
        assert!(
            message.contains("`abc` is not 64 hexadecimal digits"),
            "{message}"
        );
        let message = error(&one_package(&format!(
            "version = \"1.0\"\nsdist = {{ path = \"dist/foo-1.0.tar.gz\", hashes = {{ sha256 = \"{SHA}\" }} }}"
        )));
        assert!(
            message.contains("local `path` are not supported yet"),
            "{message}"
        );
    }

    #[test]
    fn other_sources_are_not_supported_yet() {
        for (table, kind) in [
            ("vcs = { type = \"git\", url = \"https://example.org/foo.git\", commit-id = \"abc\" }", "vcs"),
            ("directory = { path = \"../foo\" }", "directory"),
            ("archive = { url = \"https://example.org/foo.zip\", hashes = { sha256 = \"x\" } }", "archive"),
        ] {
            let message = error(&one_package(table));
            assert_eq!(
                message,
                format!("`project/pylock.toml`: packages[0] (`foo`): package `foo` comes from a `{kind}` source, which tack does not support yet; run `tack lock` to lock the project with tack, which locks packages from indexes")
            );
        }
    }

    #[test]
    fn dependencies_need_a_valid_name() {
        let message = error(&one_package(&format!(
            "version = \"1.0\"\ndependencies = [{{ version = \"1\" }}]\n{}",
            wheel("")
        )));
        assert!(
            message.contains("packages[0] (`foo`), `dependencies[0]`: the entry has no `name`"),
            "{message}"
        );
        let message = error(&one_package(&format!(
            "version = \"1.0\"\ndependencies = [{{ name = \"bar\", version = \"x!y\" }}]\n{}",
            wheel("")
        )));
        assert!(
            message.contains("`dependencies[0]`: `version` `x!y` is not a valid"),
            "{message}"
        );
    }

    #[test]
    fn upload_time_must_be_a_datetime() {
        let base = format!("version = \"1.0\"\n{}", wheel(", upload-time = 2024-05-01"));
        let message = error(&one_package(&base));
        assert!(
            message.contains("`upload-time` `2024-05-01` is not a date with a time"),
            "{message}"
        );
        // A quoted string is not a TOML datetime, as PEP 751 requires one.
        let message = error(&one_package(&format!(
            "version = \"1.0\"\n{}",
            wheel(", upload-time = \"2024-05-01T00:00:00Z\"")
        )));
        assert!(
            message.starts_with("`project/pylock.toml` is not a valid lock file"),
            "{message}"
        );
    }

    #[test]
    fn upload_time_keeps_its_spelling() {
        let text = one_package(&format!(
            "version = \"1.0\"\n{}",
            wheel(", upload-time = 2024-05-01T12:34:56.780000Z")
        ));
        let lock = read(&text).unwrap();
        assert_eq!(
            lock.packages[0].wheels[0].upload_time.as_deref(),
            Some("2024-05-01T12:34:56.780000Z")
        );
        let text = one_package(&format!(
            "version = \"1.0\"\n{}",
            wheel(", upload-time = 2024-05-01 12:34:56.5z")
        ));
        let lock = read(&text).unwrap();
        assert_eq!(
            lock.packages[0].wheels[0].upload_time.as_deref(),
            Some("2024-05-01T12:34:56.5Z")
        );
    }

    #[test]
    fn syntax_and_type_errors_name_the_file_and_line() {
        let message = error("lock-version = \"1.0\"\ncreated-by = \n");
        assert!(
            message.starts_with("`project/pylock.toml` is not a valid lock file"),
            "{message}"
        );
        assert!(message.contains("line 2"), "{message}");
        assert!(
            message.ends_with("run `tack lock` to create it again."),
            "{message}"
        );
        let message = error("lock-version = \"1.0\"\npackages = []\n");
        assert!(message.contains("missing field `created-by`"), "{message}");
        let message = error(&one_package("version = 1"));
        assert!(message.contains("line 6"), "{message}");
        assert!(
            message.contains("invalid type: integer `1`, expected a string"),
            "{message}"
        );
    }

    #[test]
    fn top_level_names_and_specifiers_are_checked() {
        let base = "lock-version = \"1.0\"\ncreated-by = \"x\"\npackages = []\n";
        let lock = read(&format!(
            "extras = [\"Socks\", \"http2\", \"socks\"]\n{base}"
        ))
        .unwrap();
        let extras: Vec<&str> = lock.extras.iter().map(AsRef::as_ref).collect();
        assert_eq!(extras, ["http2", "socks"]);
        let message = error(&format!("dependency-groups = [\"dev\", \"-bad\"]\n{base}"));
        assert!(
            message.contains("`dependency-groups[1]`: invalid dependency group name `-bad`"),
            "{message}"
        );
        let message = error(&format!("requires-python = \">=3.9,<<4\"\n{base}"));
        assert!(
            message.contains("`requires-python`: `>=3.9,<<4` is not a valid version specifier"),
            "{message}"
        );
    }

    #[test]
    fn unparsable_markers_are_kept_for_their_user() {
        let lock = read(&one_package(&format!(
            "version = \"1.0\"\nmarker = \"python_version >>> '3'\"\n{}",
            wheel("")
        )))
        .unwrap();
        assert_eq!(
            lock.packages[0].marker.as_deref(),
            Some("python_version >>> '3'")
        );
    }

    #[test]
    fn input_requirements_the_pep508_parser_would_panic_on_are_refused() {
        // `sync` parses these strings; pep508_rs panics on a name ending in a separator.
        let base = one_package(&format!("version = \"1.0\"\n{}", wheel("")));
        let message = error(&format!(
            "{base}\n[tool.tack]\nfingerprint = \"\"\n[tool.tack.inputs.dependency-groups]\ndev = [\"ok\", \"bad- >=1\"]\n"
        ));
        assert!(
            message.contains("`[tool.tack.inputs]` `dependency-groups.dev[1]`: `bad- >=1` is not a valid requirement"),
            "{message}"
        );
        let lock = read(&format!(
            "{base}\n[tool.tack]\nfingerprint = \"\"\n[tool.tack.inputs]\ndependencies = [\"fine>=1\", \"not valid but harmless !\"]\n"
        ))
        .unwrap();
        assert_eq!(lock.tool.inputs.dependencies.len(), 2);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Bb%20c").as_deref(), Some("a+b c"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(file_name_from_url("https://example.org/dir/"), None);
    }
}
