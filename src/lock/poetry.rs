//! Reading Poetry's `poetry.lock`, for the versions it chose.
//!
//! A project coming from Poetry has a `poetry.lock` and no `pylock.toml`. Its versions become
//! the preferences of the first `tack lock`, so that the first lock keeps what Poetry chose
//! wherever it still fits (see `cli::commands::lock`). Only what a preference needs is read:
//! each `[[package]]`'s name and version, and where it came from. The formats in use are all
//! accepted: lock-version 1.1 (old Poetry 1.x: `category`, hashes under `[metadata.files]`),
//! 2.0 (Poetry 1.5 to 1.8: files inline) and 2.1 (Poetry 2: `groups` and `markers`). Unknown
//! keys are ignored, since nothing tack takes from the file depends on them.
//!
//! Packages Poetry took from a directory, a file, a URL or a git repository (`[package.source]`
//! with such a `type`) are returned with their kind, so that the caller can say they are not
//! kept; packages from a named index (`type = "legacy"`) are ordinary preferences.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::{Version, VersionParseError};
use serde::Deserialize;

use crate::normalize::{InvalidNameError, PackageName};

/// The file name Poetry writes.
pub const POETRY_LOCK_FILE_NAME: &str = "poetry.lock";

/// What `poetry.lock` says, reduced to what tack uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoetryLock {
    /// `[metadata] lock-version`, when present.
    pub lock_version: Option<String>,
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
    /// `message` is the TOML parser's, without its rendering of the file's text.
    #[error("`{}` is not valid TOML: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
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
}

#[derive(Deserialize)]
struct WirePackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<WireSource>,
}

#[derive(Deserialize)]
struct WireSource {
    #[serde(rename = "type")]
    kind: Option<String>,
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
            message: error.message().to_string(),
        })?;
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
            let direct_source = package
                .source
                .and_then(|source| source.kind)
                .filter(|kind| kind != "legacy");
            packages.push(PoetryPackage {
                name,
                version,
                direct_source,
            });
        }
        Ok(Self {
            lock_version: wire.metadata.and_then(|metadata| metadata.lock_version),
            packages,
        })
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
        assert!(error.contains("not valid TOML"), "{error}");
        assert_eq!(
            PoetryLock::read(Path::new("/nonexistent/poetry.lock")).unwrap(),
            None
        );
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
