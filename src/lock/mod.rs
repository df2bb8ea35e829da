//! The lock file: [PEP 751](https://peps.python.org/pep-0751/) `pylock.toml`.
//!
//! A [`Lock`] is the plain value that `tack lock` produces and `tack sync` consumes. It holds
//! every package of a universal resolution (several entries of one package when the resolver
//! forked, told apart by their markers), every file of each chosen version, and under
//! `[tool.tack]` what the lock was made from ([`LockInputs`]) with a fingerprint of it, so that
//! `tack lock --check` can tell a stale lock without resolving and can say what changed, and
//! the build environments of the packages a sync may build from source ([`LockedBuilds`]), so
//! that those builds are hermetic.
//!
//! The module has three layers, each testable on its own:
//!
//! - the model (this file): typed values, checked once when the lock is read or built, so that
//!   no user of a [`Lock`] parses a lock's text again: names normalized, versions and
//!   `requires-python` parsed, markers parsed ([`LockMarker`]), URLs parsed, sha256 digests
//!   checked ([`Sha256Digest`]), wheel file names parsed and the requirements of
//!   `[tool.tack.inputs]` parsed, each kept with its text where the writer needs it
//!   ([`Verbatim`]);
//! - `writer`: a hand-written, deterministic TOML writer. The same [`Lock`] gives the same
//!   bytes on every platform: keys in PEP 751's order, packages sorted by name then version,
//!   wheels by file name, `\n` line endings, strings escaped by one small encoder, and
//!   `upload-time` written as a TOML datetime with the precision of its input;
//! - `wire`: serde structs that mirror the file as written by any PEP 751 tool, validated
//!   into the model by `TryFrom`, with errors ([`InvalidLock`]) that name the file, the line,
//!   the field and the package.
//!
//! Credentials never reach the file: the caller gives redacted URLs, [`Lock::write`] refuses a
//! URL that still carries a user name or password, and the writer strips one if it slips past.
//!
//! A sample of what tack writes:
//!
//! ```toml
//! lock-version = "1.0"
//! requires-python = ">=3.9"
//! extras = ["socks"]
//! dependency-groups = ["dev"]
//! default-groups = ["dev"]
//! created-by = "tack"
//!
//! [[packages]]
//! name = "anyio"
//! version = "4.6.0"
//! requires-python = ">=3.9"
//! dependencies = [{ name = "idna" }, { name = "sniffio" }]
//! index = "https://example.org/simple/"
//! sdist = { name = "anyio-4.6.0.tar.gz", upload-time = 2024-09-21T10:33:10.123456Z, url = "https://example.org/files/anyio-4.6.0.tar.gz", size = 173422, hashes = { sha256 = "<64 hex digits>" } }
//! wheels = [
//!     { name = "anyio-4.6.0-py3-none-any.whl", upload-time = 2024-09-21T10:33:08.1Z, url = "https://example.org/files/anyio-4.6.0-py3-none-any.whl", size = 89631, hashes = { sha256 = "<64 hex digits>" } },
//! ]
//!
//! [[packages]]
//! name = "pytest"
//! version = "8.3.3"
//! marker = "'dev' in dependency_groups"
//! wheels = [
//!     { name = "pytest-8.3.3-py3-none-any.whl", url = "https://example.org/files/pytest-8.3.3-py3-none-any.whl", size = 342290, hashes = { sha256 = "<64 hex digits>" } },
//! ]
//!
//! [tool.tack]
//! fingerprint = "<64 hex digits>"
//!
//! [tool.tack.inputs]
//! requires-python = ">=3.9"
//! dependencies = [
//!     "anyio>=4",
//! ]
//! indexes = [
//!     "https://example.org/simple/",
//! ]
//!
//! [tool.tack.inputs.dependency-groups]
//! dev = [
//!     "pytest>=8",
//! ]
//!
//! [[tool.tack.builds]]
//! name = "docopt"
//! version = "0.6.2"
//! requires = ["setuptools>=40.8.0"]
//! packages = [{ name = "setuptools", version = "75.1.0" }]
//!
//! [[tool.tack.build-packages]]
//! name = "setuptools"
//! version = "75.1.0"
//! wheels = [
//!     { name = "setuptools-75.1.0-py3-none-any.whl", url = "https://example.org/files/setuptools-75.1.0-py3-none-any.whl", size = 1248452, hashes = { sha256 = "<64 hex digits>" } },
//! ]
//! ```
//!
//! `[[tool.tack.builds]]` has one short table per package a sync may build from source (an sdist
//! without wheels; the project, by its name alone, when it has a `[build-system]`): the
//! requirements its environment was resolved from and the build packages it installs, each with
//! the marker under which it needs it. `[[tool.tack.build-packages]]` holds each build package
//! once, with every wheel of its version. The project's `[build-system] requires` is also one of
//! the inputs (`build-system-requires`, present only when the project has the table, so that
//! the fingerprint of a project without one is what it always was).
//!
//! Packages from a source tree (`directory`), a git repository (`vcs`, git only) and an archive
//! URL (`archive`) are read and written; files given by `path` are not supported yet (a clear
//! error naming the package).
//! `attestation-identities` and other tools' `[tool.*]` tables are dropped.

mod error;
mod inputs;
pub mod marker;
pub mod poetry;
mod values;
mod wire;
mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::Requirement;
use url::Url;

use crate::filename::WheelFilename;
use crate::normalize::{ExtraName, GroupName, PackageName};

pub use error::{InvalidLock, InvalidLockKind, LockError};
pub use marker::{InvalidMarker, LockMarker, SelectedMarker};
pub use values::{InvalidSha256, Sha256Digest, Verbatim};

/// The file name PEP 751 gives a project's single lock file.
pub const LOCK_FILE_NAME: &str = "pylock.toml";

/// The `lock-version` tack writes; it reads every `1.x`.
pub const LOCK_VERSION: &str = "1.0";

/// The `created-by` tack writes.
pub const CREATED_BY: &str = "tack";

/// A whole `pylock.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// The `lock-version` as read; [`Lock::to_toml`] always writes [`LOCK_VERSION`].
    pub lock_version: String,
    /// PEP 751 `environments`: markers, one of which the target must match. tack writes none
    /// (its locks are universal); a lock from another tool may carry some.
    pub environments: Vec<LockMarker>,
    /// The Python versions the lock is for (`>=3.9`).
    pub requires_python: Option<VersionSpecifiers>,
    /// Every extra the lock covers, sorted.
    pub extras: Vec<ExtraName>,
    /// Every dependency group the lock covers, sorted.
    pub dependency_groups: Vec<GroupName>,
    /// The groups installed when the user names none, sorted.
    pub default_groups: Vec<GroupName>,
    /// The tool that wrote the lock.
    pub created_by: String,
    /// Sorted by name, then version (the writer sorts regardless).
    pub packages: Vec<LockedPackage>,
    /// Packages built from a source tree (`directory = { path = "." }` for the project
    /// itself), sorted by name. They are `[[packages]]` entries in the file like the others,
    /// but carry no version and no files: both are known only once the tree is built.
    pub directories: Vec<LockedDirectory>,
    /// Packages from a git repository or an archive URL (PEP 751 `vcs` and `archive`
    /// entries), sorted by name. Unlike a directory they carry a version: the commit or the
    /// archive's hash fixes what is built.
    pub direct: Vec<LockedDirect>,
    /// tack's own `[tool.tack]` table; empty (default) when another tool wrote the lock.
    pub tool: TackLockTool,
}

/// One `[[packages]]` entry: one version of one package, from an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: PackageName,
    pub version: Version,
    /// When the package is installed (PEP 751: may use `'x' in extras` and
    /// `'g' in dependency_groups`); `None` means always.
    pub marker: Option<LockMarker>,
    /// The version's `Requires-Python`.
    pub requires_python: Option<VersionSpecifiers>,
    /// Sorted by name, then version.
    pub dependencies: Vec<LockedDependency>,
    /// The (redacted) index the files come from.
    pub index: Option<Url>,
    pub sdist: Option<LockedSdist>,
    /// Sorted by file name.
    pub wheels: Vec<LockedWheel>,
}

/// A `[[packages]]` entry with a `directory` source: a source tree built and installed at
/// sync, such as the project itself. PEP 751 forbids a `version` here, since the tree may
/// change after locking; the version is whatever the build says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedDirectory {
    pub name: PackageName,
    /// The tree, relative to the lock file's directory, with `/` separators (`.` for the
    /// project), as written.
    pub path: String,
    /// Installed editable (PEP 660) unless the sync asks for `--no-editable`.
    pub editable: bool,
    /// When the package is installed, as for [`LockedPackage::marker`].
    pub marker: Option<LockMarker>,
    /// Sorted by name, then version.
    pub dependencies: Vec<LockedDependency>,
}

impl LockedDirectory {
    /// Whether this entry is the project the lock belongs to.
    pub fn is_project(&self) -> bool {
        self.path == "."
    }
}

/// A `[[packages]]` entry with a `vcs` or `archive` source: one version, fixed by a commit
/// or by the archive's sha256, built (or, for a wheel, installed) at sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedDirect {
    pub name: PackageName,
    pub version: Version,
    /// When the package is installed, as for [`LockedPackage::marker`].
    pub marker: Option<LockMarker>,
    /// Sorted by name, then version.
    pub dependencies: Vec<LockedDependency>,
    pub source: LockedSource,
}

/// Where a [`LockedDirect`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockedSource {
    /// `vcs = { type = "git", url, requested-revision, commit-id, subdirectory }`.
    Git(LockedGit),
    /// `archive = { url, size, hashes = { sha256 }, subdirectory }`.
    Archive(LockedArchive),
}

/// A commit of a git repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedGit {
    /// The repository, without credentials (the user name of an `ssh://` URL is kept).
    pub url: Url,
    /// The branch, tag or revision asked for; `None` for the repository's default branch.
    pub requested_revision: Option<String>,
    /// The full commit the reference resolved to when locking.
    pub commit_id: String,
    /// The project's directory inside the repository, with `/` separators.
    pub subdirectory: Option<String>,
}

/// An archive (a wheel or an sdist) on a web server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedArchive {
    /// Without credentials.
    pub url: Url,
    pub size: Option<u64>,
    pub sha256: Sha256Digest,
    /// The project's directory inside an sdist.
    pub subdirectory: Option<String>,
}

impl LockedArchive {
    /// The file name: the last segment of the URL's path.
    pub fn file_name(&self) -> &str {
        self.url
            .path_segments()
            .and_then(|mut segments| segments.next_back())
            .unwrap_or_default()
    }

    /// Whether the archive is a wheel (else an sdist).
    pub fn is_wheel(&self) -> bool {
        std::path::Path::new(self.file_name())
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("whl"))
    }
}

/// An edge of the dependency graph, as PEP 751 `dependencies` entries identify it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LockedDependency {
    pub name: PackageName,
    /// Only when the lock holds several versions of the package.
    pub version: Option<Version>,
}

/// One sdist or wheel; `Name` is its file name, as text or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedFile<Name> {
    /// The file name (`anyio-4.6.0-py3-none-any.whl`).
    pub name: Name,
    /// Absolute; redacted when tack made the record ([`LockedFile::new`]). One read from
    /// another tool's lock may carry credentials: [`Lock::write`] refuses it, and the writer
    /// leaves them out.
    pub url: Url,
    pub size: Option<u64>,
    /// RFC 3339 upload time as the index gave it (`2024-05-01T12:34:56.789Z`); written as a
    /// TOML datetime with the same precision.
    pub upload_time: Option<String>,
    pub sha256: Sha256Digest,
}

/// A wheel, with its file name (as the index spells it) parsed.
pub type LockedWheel = LockedFile<Verbatim<WheelFilename>>;

/// A source distribution; its file name is kept as text, as old sdists' names cannot be told
/// apart into name and version without the package (see [`crate::filename::SdistFilename`]).
pub type LockedSdist = LockedFile<String>;

impl<Name> LockedFile<Name> {
    /// The record of one file, its URL redacted.
    pub fn new(
        name: Name,
        url: &Url,
        size: Option<u64>,
        upload_time: Option<String>,
        sha256: Sha256Digest,
    ) -> Self {
        Self {
            name,
            url: without_credentials(url),
            size,
            upload_time,
            sha256,
        }
    }
}

/// `url` without its user name and password: what a lock may record.
pub(crate) fn without_credentials(url: &Url) -> Url {
    let mut clean = url.clone();
    if !clean.username().is_empty() || clean.password().is_some() {
        // Only URLs that cannot carry credentials refuse these, and those have none.
        let _ = clean.set_username("");
        let _ = clean.set_password(None);
    }
    clean
}

/// The fields of a [`LockedFile`] the writer and the checks need, whatever its name's type.
struct FileFields<'a> {
    name: &'a str,
    url: &'a Url,
    size: Option<u64>,
    upload_time: Option<&'a str>,
    sha256: &'a Sha256Digest,
}

impl<'a> FileFields<'a> {
    fn of<Name: AsRef<str>>(file: &'a LockedFile<Name>) -> Self {
        Self {
            name: file.name.as_ref(),
            url: &file.url,
            size: file.size,
            upload_time: file.upload_time.as_deref(),
            sha256: &file.sha256,
        }
    }
}

/// tack's `[tool.tack]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TackLockTool {
    /// [`LockInputs::fingerprint`] of `inputs` when the lock was written; empty when another
    /// tool wrote the lock.
    pub fingerprint: String,
    pub inputs: LockInputs,
    /// The locked build environments (`[[tool.tack.builds]]`, `[[tool.tack.build-packages]]`).
    pub builds: LockedBuilds,
}

/// The build environments `tack lock` resolved for the packages `tack sync` may have to build
/// from source, and for the project itself: what makes those builds hermetic.
///
/// Each built package ([`LockedBuild`]) lists the build packages it installs; each build
/// package ([`LockedBuildPackage`]) is recorded once with its wheels and their hashes, however
/// many builds use it (most sdists share one setuptools).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockedBuilds {
    /// One per built package, sorted by name, then version.
    pub builds: Vec<LockedBuild>,
    /// Every package the builds use, once; sorted by name, then version.
    pub packages: Vec<LockedBuildPackage>,
}

/// The build environment of one package: `[[tool.tack.builds]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedBuild {
    /// The package built with it.
    pub name: PackageName,
    /// Its version; `None` for the project itself, which is known by its name alone.
    pub version: Option<Version>,
    /// The build requirements the environment was resolved from (`[build-system] requires`),
    /// as written there; sorted.
    pub requires: Vec<InputRequirement>,
    /// What the environment holds; sorted.
    pub packages: Vec<BuildPackageUse>,
}

/// A build package as one build environment uses it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BuildPackageUse {
    pub name: PackageName,
    pub version: Version,
    /// Where the environment needs it (its requirements differ by platform or Python);
    /// `None` means everywhere. Only environment markers: builds have no extras or groups.
    pub marker: Option<LockMarker>,
}

/// One version of a build package and its wheels: `[[tool.tack.build-packages]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedBuildPackage {
    pub name: PackageName,
    pub version: Version,
    /// Sorted by file name. Build packages are installed from wheels only: tack does not build
    /// build requirements from source.
    pub wheels: Vec<LockedWheel>,
}

impl LockedBuilds {
    /// Whether the lock holds no build environment.
    pub fn is_empty(&self) -> bool {
        self.builds.is_empty() && self.packages.is_empty()
    }

    /// The build environment of `name` (at `version`, for a package from an index; the project's
    /// is asked for with `None`).
    pub fn build(&self, name: &PackageName, version: Option<&Version>) -> Option<&LockedBuild> {
        self.builds
            .iter()
            .find(|build| build.name == *name && build.version.as_ref() == version)
    }

    /// The build package `name==version`.
    pub fn package(&self, name: &PackageName, version: &Version) -> Option<&LockedBuildPackage> {
        self.packages
            .iter()
            .find(|package| package.name == *name && package.version == *version)
    }
}

/// A requirement of the project as recorded in the lock's inputs: parsed, with the text the
/// fingerprint hashes.
pub type InputRequirement = Verbatim<Requirement>;

/// What a lock was made from, kept to tell whether it is stale and to say what changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockInputs {
    pub requires_python: Option<VersionSpecifiers>,
    /// The project's requirements, as normalized PEP 508 text; sorted.
    pub dependencies: Vec<InputRequirement>,
    pub optional_dependencies: BTreeMap<ExtraName, Vec<InputRequirement>>,
    pub dependency_groups: BTreeMap<GroupName, Vec<InputRequirement>>,
    /// Redacted index URLs, in priority order.
    pub indexes: Vec<Url>,
    /// Resolver settings that change answers (prerelease mode, fork strategy, ...).
    pub resolver: BTreeMap<String, String>,
    /// The project's name when it is a package that `tack sync` installs (it has a
    /// `[build-system]`, or is a Poetry project in package mode).
    pub project: Option<PackageName>,
    /// The project's `[build-system] requires`, when it has the table (its build environment
    /// is locked from them); sorted.
    pub build_system_requires: Option<Vec<InputRequirement>>,
}

impl Lock {
    /// Renders the lock as PEP 751 TOML: deterministic, `\n` line endings, sorted.
    ///
    /// Infallible: values [`Lock::validate`] would reject are made safe instead (credentials
    /// stripped from URLs, an unparsable upload time left out). [`Lock::write`] validates first.
    pub fn to_toml(&self) -> String {
        writer::render(self)
    }

    /// Parses and validates the text of a lock file; `path` is only used in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Lock, LockError> {
        // A large lock on all cores; otherwise, or when anything is wrong, as one document.
        if let Some(lock) = wire::parse_in_pieces(text, path) {
            return Ok(lock);
        }
        let document = wire::parse(text, path)?;
        Ok(Lock::try_from(wire::WireDocument {
            document,
            text,
            path,
        })?)
    }

    /// Reads the lock at `path`; `None` when there is no such file.
    pub fn read(path: &Path) -> Result<Option<Lock>, LockError> {
        let text = match fs_err::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        Self::from_toml(&text, path).map(Some)
    }

    /// Writes the lock to `path` atomically: a temporary file in the same directory, flushed
    /// to disk, then renamed over `path`. An existing file keeps its permissions.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        self.validate(path)?;
        let text = self.to_toml();
        let write_error = |source| LockError::Write {
            path: path.to_path_buf(),
            source,
        };
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let mut temporary = tempfile::Builder::new()
            .prefix(".pylock-")
            .suffix(".toml.tmp")
            .tempfile_in(directory)
            .map_err(write_error)?;
        temporary
            .write_all(text.as_bytes())
            .and_then(|()| temporary.as_file().sync_all())
            .map_err(write_error)?;
        match fs_err::metadata(path) {
            Ok(existing) => temporary.as_file().set_permissions(existing.permissions()),
            Err(_) => set_new_file_permissions(temporary.as_file()),
        }
        .map_err(write_error)?;
        temporary
            .persist(path)
            .map_err(|error| write_error(error.error))?;
        Ok(())
    }

    /// Checks what the writer cannot check by types: no credentials in URLs, upload times
    /// that are datetimes, sizes TOML can hold. `path` is used in errors.
    pub fn validate(&self, path: &Path) -> Result<(), LockError> {
        let credentials = |location: String, redacted: Option<String>| match redacted {
            Some(url) => Err(LockError::Credentials {
                path: path.to_path_buf(),
                location,
                url,
            }),
            None => Ok(()),
        };
        for (position, url) in self.tool.inputs.indexes.iter().enumerate() {
            credentials(
                format!("[tool.tack.inputs] indexes[{position}]"),
                writer::credentials_removed(url),
            )?;
        }
        let check_file = |location: &str, file: FileFields<'_>| {
            let location = format!("{location}, file `{}`", file.name);
            credentials(location.clone(), writer::credentials_removed(file.url))?;
            let bad_value = |message: String| LockError::BadValue {
                path: path.to_path_buf(),
                location: location.clone(),
                message,
            };
            if let Some(upload_time) = file.upload_time {
                if writer::upload_time_literal(upload_time).is_none() {
                    return Err(bad_value(format!(
                        "upload time `{upload_time}` is not an RFC 3339 datetime"
                    )));
                }
            }
            if file.size.is_some_and(|size| i64::try_from(size).is_err()) {
                return Err(bad_value("size is too large for TOML".to_string()));
            }
            Ok(())
        };
        for package in &self.packages {
            let location = format!("package `{}` {}", package.name, package.version);
            if let Some(index) = &package.index {
                credentials(location.clone(), writer::credentials_removed(index))?;
            }
            let files = package
                .sdist
                .iter()
                .map(FileFields::of)
                .chain(package.wheels.iter().map(FileFields::of));
            for file in files {
                check_file(&location, file)?;
            }
        }
        for package in &self.direct {
            let location = format!("package `{}` {}", package.name, package.version);
            let url = match &package.source {
                LockedSource::Git(git) => &git.url,
                LockedSource::Archive(archive) => &archive.url,
            };
            if !(url.scheme() == "ssh" && url.password().is_none()) {
                credentials(location, writer::credentials_removed(url))?;
            }
        }
        for package in &self.tool.builds.packages {
            let location = format!("build package `{}` {}", package.name, package.version);
            for wheel in &package.wheels {
                check_file(&location, FileFields::of(wheel))?;
            }
        }
        Ok(())
    }

    /// Whether the lock was made from exactly `inputs`.
    pub fn is_fresh(&self, inputs: &LockInputs) -> bool {
        !self.tool.fingerprint.is_empty() && self.tool.fingerprint == inputs.fingerprint()
    }

    /// The entries of one package (several when the resolver forked).
    #[cfg(test)]
    fn packages_named(&self, name: &PackageName) -> impl Iterator<Item = &LockedPackage> {
        let name = name.clone();
        self.packages
            .iter()
            .filter(move |package| package.name == name)
    }

    /// What changes from `self` to `newer`, one line per package, sorted by name:
    /// `add httpx 0.27.0`, `update anyio 4.4.0 -> 4.6.0`, `downgrade x 2.0 -> 1.0`,
    /// `remove x 1.0`. A package locked at several versions lists them all, comma-separated.
    pub fn diff_packages(&self, newer: &Lock) -> Vec<String> {
        let old = versions_by_name(self);
        let new = versions_by_name(newer);
        let names: BTreeSet<&PackageName> = old.keys().chain(new.keys()).copied().collect();
        let mut lines = Vec::new();
        for name in names {
            match (old.get(name), new.get(name)) {
                (None, Some(added)) => lines.push(format!("add {name} {}", join(added))),
                (Some(removed), None) => lines.push(format!("remove {name} {}", join(removed))),
                (Some(before), Some(after)) if before != after => {
                    let verb = if after.iter().max() < before.iter().max() {
                        "downgrade"
                    } else {
                        "update"
                    };
                    lines.push(format!("{verb} {name} {} -> {}", join(before), join(after)));
                }
                _ => {}
            }
        }
        lines
    }
}

fn versions_by_name(lock: &Lock) -> BTreeMap<&PackageName, BTreeSet<&Version>> {
    let mut versions: BTreeMap<&PackageName, BTreeSet<&Version>> = BTreeMap::new();
    for package in &lock.packages {
        versions
            .entry(&package.name)
            .or_default()
            .insert(&package.version);
    }
    for package in &lock.direct {
        versions
            .entry(&package.name)
            .or_default()
            .insert(&package.version);
    }
    versions
}

fn join(versions: &BTreeSet<&Version>) -> String {
    versions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Gives a new lock file the mode a new file of the user's would get under the usual umask
/// (`0o644`), not the owner-only mode of a temporary file. Other platforms keep their defaults.
#[cfg(unix)]
fn set_new_file_permissions(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
#[allow(clippy::unnecessary_wraps)] // the Unix version can fail
fn set_new_file_permissions(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn name(raw: &str) -> PackageName {
        PackageName::from_str(raw).unwrap()
    }

    fn version(raw: &str) -> Version {
        Version::from_str(raw).unwrap()
    }

    fn marker(raw: &str) -> LockMarker {
        LockMarker::from_str(raw).unwrap()
    }

    fn specifiers(raw: &str) -> VersionSpecifiers {
        VersionSpecifiers::from_str(raw).unwrap()
    }

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    fn sha256(raw: &str) -> Sha256Digest {
        Sha256Digest::from_str(raw).unwrap()
    }

    fn requirements(raw: &[&str]) -> Vec<InputRequirement> {
        raw.iter()
            .map(|text| Verbatim::parse(*text, crate::pep508::parse_requirement).unwrap())
            .collect()
    }

    fn file<Name>(name: Name, sha: &str, upload_time: Option<&str>) -> LockedFile<Name>
    where
        Name: AsRef<str>,
    {
        LockedFile {
            url: url(&format!("https://example.org/files/{}", name.as_ref())),
            name,
            size: Some(1234),
            upload_time: upload_time.map(ToString::to_string),
            sha256: sha256(sha),
        }
    }

    fn wheel(name: &str, sha: &str, upload_time: Option<&str>) -> LockedWheel {
        file(
            Verbatim::parse(name, WheelFilename::from_str).unwrap(),
            sha,
            upload_time,
        )
    }

    fn package(raw_name: &str, raw_version: &str) -> LockedPackage {
        LockedPackage {
            name: name(raw_name),
            version: version(raw_version),
            marker: None,
            requires_python: None,
            dependencies: Vec::new(),
            index: Some(url("https://example.org/simple/")),
            sdist: None,
            wheels: vec![wheel(
                &format!(
                    "{}-{raw_version}-py3-none-any.whl",
                    raw_name.replace('-', "_")
                ),
                SHA_A,
                None,
            )],
        }
    }

    fn sample() -> Lock {
        let mut anyio = package("anyio", "4.6.0");
        anyio.requires_python = Some(specifiers(">=3.9"));
        anyio.dependencies = vec![
            LockedDependency {
                name: name("idna"),
                version: None,
            },
            LockedDependency {
                name: name("sniffio"),
                version: None,
            },
        ];
        anyio.sdist = Some(file(
            "anyio-4.6.0.tar.gz".to_string(),
            SHA_B,
            Some("2024-09-21T10:33:10.120000Z"),
        ));
        anyio.wheels = vec![
            wheel(
                "anyio-4.6.0-py3-none-any.whl",
                SHA_A,
                Some("2024-09-21T10:33:08.1Z"),
            ),
            wheel("anyio-4.6.0-cp39-abi3-win_amd64.whl", SHA_B, None),
        ];
        let mut pytest = package("pytest", "8.3.3");
        pytest.marker = Some(marker("'dev' in dependency_groups"));
        let mut numpy_old = package("numpy", "1.26.4");
        numpy_old.marker = Some(marker("python_full_version < \"3.10\""));
        let mut numpy_new = package("numpy", "2.1.0");
        numpy_new.marker = Some(marker("python_full_version >= \"3.10\""));
        let mut app = package("app-deps", "1.0");
        app.dependencies = vec![
            LockedDependency {
                name: name("numpy"),
                version: Some(version("1.26.4")),
            },
            LockedDependency {
                name: name("numpy"),
                version: Some(version("2.1.0")),
            },
        ];
        Lock {
            lock_version: LOCK_VERSION.to_string(),
            environments: Vec::new(),
            requires_python: Some(specifiers(">=3.9")),
            extras: vec![ExtraName::from_str("socks").unwrap()],
            dependency_groups: vec![GroupName::new("dev").unwrap()],
            default_groups: vec![GroupName::new("dev").unwrap()],
            created_by: CREATED_BY.to_string(),
            packages: vec![app, anyio, numpy_old, numpy_new, pytest],
            directories: Vec::new(),
            direct: Vec::new(),
            tool: TackLockTool {
                builds: LockedBuilds::default(),
                fingerprint: String::new(),
                inputs: LockInputs {
                    requires_python: Some(specifiers(">=3.9")),
                    dependencies: requirements(&["anyio>=4"]),
                    optional_dependencies: BTreeMap::from([(
                        ExtraName::from_str("socks").unwrap(),
                        requirements(&["pysocks"]),
                    )]),
                    dependency_groups: BTreeMap::from([(
                        GroupName::new("dev").unwrap(),
                        requirements(&["pytest>=8"]),
                    )]),
                    indexes: vec![url("https://example.org/simple/")],
                    resolver: BTreeMap::from([(
                        "prerelease".to_string(),
                        "if-necessary".to_string(),
                    )]),
                    project: None,
                    build_system_requires: None,
                },
            },
        }
    }

    fn sample_with_fingerprint() -> Lock {
        let mut lock = sample();
        lock.tool.fingerprint = lock.tool.inputs.fingerprint();
        lock
    }

    #[test]
    fn writes_the_expected_layout() {
        let mut lock = sample();
        lock.packages
            .retain(|package| package.name.as_ref() == "anyio");
        lock.tool.fingerprint = "f".repeat(64);
        let expected = format!(
            r#"lock-version = "1.0"
requires-python = ">=3.9"
extras = ["socks"]
dependency-groups = ["dev"]
default-groups = ["dev"]
created-by = "tack"

[[packages]]
name = "anyio"
version = "4.6.0"
requires-python = ">=3.9"
dependencies = [{{ name = "idna" }}, {{ name = "sniffio" }}]
index = "https://example.org/simple/"
sdist = {{ name = "anyio-4.6.0.tar.gz", upload-time = 2024-09-21T10:33:10.120000Z, url = "https://example.org/files/anyio-4.6.0.tar.gz", size = 1234, hashes = {{ sha256 = "{SHA_B}" }} }}
wheels = [
    {{ name = "anyio-4.6.0-cp39-abi3-win_amd64.whl", url = "https://example.org/files/anyio-4.6.0-cp39-abi3-win_amd64.whl", size = 1234, hashes = {{ sha256 = "{SHA_B}" }} }},
    {{ name = "anyio-4.6.0-py3-none-any.whl", upload-time = 2024-09-21T10:33:08.1Z, url = "https://example.org/files/anyio-4.6.0-py3-none-any.whl", size = 1234, hashes = {{ sha256 = "{SHA_A}" }} }},
]

[tool.tack]
fingerprint = "{fingerprint}"

[tool.tack.inputs]
requires-python = ">=3.9"
dependencies = [
    "anyio>=4",
]
indexes = [
    "https://example.org/simple/",
]

[tool.tack.inputs.optional-dependencies]
socks = [
    "pysocks",
]

[tool.tack.inputs.dependency-groups]
dev = [
    "pytest>=8",
]

[tool.tack.inputs.resolver]
prerelease = "if-necessary"
"#,
            fingerprint = "f".repeat(64)
        );
        assert_eq!(lock.to_toml(), expected);
    }

    /// The sample with two sdist builds sharing a build package, and the project's build.
    fn sample_with_builds() -> Lock {
        let mut lock = sample_with_fingerprint();
        let uses = |list: &[(&str, &str, Option<&str>)]| {
            list.iter()
                .map(|(raw_name, raw_version, raw_marker)| BuildPackageUse {
                    name: name(raw_name),
                    version: version(raw_version),
                    marker: raw_marker.map(marker),
                })
                .collect::<Vec<_>>()
        };
        lock.tool.builds = LockedBuilds {
            builds: vec![
                LockedBuild {
                    name: name("pytest"),
                    version: Some(version("8.3.3")),
                    requires: requirements(&["setuptools>=40.8.0"]),
                    packages: uses(&[("setuptools", "75.1.0", None)]),
                },
                LockedBuild {
                    name: name("app-deps"),
                    version: None,
                    requires: requirements(&["flit-core>=3.9", "tomli; python_version < '3.11'"]),
                    packages: uses(&[
                        ("tomli", "2.0.1", Some("python_full_version < \"3.11\"")),
                        ("flit-core", "3.9.0", None),
                    ]),
                },
                LockedBuild {
                    name: name("anyio"),
                    version: Some(version("4.6.0")),
                    requires: requirements(&["setuptools>=40.8.0"]),
                    packages: uses(&[("setuptools", "75.1.0", None)]),
                },
            ],
            packages: vec![
                LockedBuildPackage {
                    name: name("tomli"),
                    version: version("2.0.1"),
                    wheels: vec![wheel("tomli-2.0.1-py3-none-any.whl", SHA_A, None)],
                },
                LockedBuildPackage {
                    name: name("setuptools"),
                    version: version("75.1.0"),
                    wheels: vec![wheel(
                        "setuptools-75.1.0-py3-none-any.whl",
                        SHA_B,
                        Some("2024-09-16T10:00:00Z"),
                    )],
                },
                LockedBuildPackage {
                    name: name("flit-core"),
                    version: version("3.9.0"),
                    wheels: vec![wheel("flit_core-3.9.0-py3-none-any.whl", SHA_A, None)],
                },
            ],
        };
        lock.tool.inputs.build_system_requires = Some(requirements(&[
            "flit-core>=3.9",
            "tomli; python_version < '3.11'",
        ]));
        lock
    }

    #[test]
    fn build_environments_are_written_compactly_and_read_back() {
        let lock = sample_with_builds();
        let text = lock.to_toml();
        let start = text.find("[[tool.tack.builds]]").unwrap();
        assert_eq!(
            &text[start..],
            format!(
                r#"[[tool.tack.builds]]
name = "anyio"
version = "4.6.0"
requires = ["setuptools>=40.8.0"]
packages = [{{ name = "setuptools", version = "75.1.0" }}]

[[tool.tack.builds]]
name = "app-deps"
requires = ["flit-core>=3.9", "tomli; python_version < '3.11'"]
packages = [{{ name = "flit-core", version = "3.9.0" }}, {{ name = "tomli", version = "2.0.1", marker = 'python_full_version < "3.11"' }}]

[[tool.tack.builds]]
name = "pytest"
version = "8.3.3"
requires = ["setuptools>=40.8.0"]
packages = [{{ name = "setuptools", version = "75.1.0" }}]

[[tool.tack.build-packages]]
name = "flit-core"
version = "3.9.0"
wheels = [
    {{ name = "flit_core-3.9.0-py3-none-any.whl", url = "https://example.org/files/flit_core-3.9.0-py3-none-any.whl", size = 1234, hashes = {{ sha256 = "{SHA_A}" }} }},
]

[[tool.tack.build-packages]]
name = "setuptools"
version = "75.1.0"
wheels = [
    {{ name = "setuptools-75.1.0-py3-none-any.whl", upload-time = 2024-09-16T10:00:00Z, url = "https://example.org/files/setuptools-75.1.0-py3-none-any.whl", size = 1234, hashes = {{ sha256 = "{SHA_B}" }} }},
]

[[tool.tack.build-packages]]
name = "tomli"
version = "2.0.1"
wheels = [
    {{ name = "tomli-2.0.1-py3-none-any.whl", url = "https://example.org/files/tomli-2.0.1-py3-none-any.whl", size = 1234, hashes = {{ sha256 = "{SHA_A}" }} }},
]
"#
            )
        );
        assert!(text.contains(
            "build-system-requires = [\n    \"flit-core>=3.9\",\n    \"tomli; python_version < '3.11'\",\n]\n"
        ));
        let read = Lock::from_toml(&text, Path::new(LOCK_FILE_NAME)).unwrap();
        assert_eq!(read.to_toml(), text);
        assert_eq!(read.tool.inputs, lock.tool.inputs);
        assert_eq!(
            read.tool.inputs.fingerprint(),
            lock.tool.inputs.fingerprint()
        );
        let builds = &read.tool.builds;
        let project = builds.build(&name("app-deps"), None).unwrap();
        assert_eq!(project.packages.len(), 2);
        assert!(builds
            .build(&name("app-deps"), Some(&version("1.0")))
            .is_none());
        let anyio = builds
            .build(&name("anyio"), Some(&version("4.6.0")))
            .unwrap();
        assert_eq!(anyio.requires[0].as_str(), "setuptools>=40.8.0");
        assert!(builds.build(&name("anyio"), None).is_none());
        assert_eq!(
            builds
                .package(&name("setuptools"), &version("75.1.0"))
                .unwrap()
                .wheels[0]
                .sha256
                .as_str(),
            SHA_B
        );
        // The table is tack's own: a reader of PEP 751 sees it as one more tool table.
        let table: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            table["tool"]["tack"]["build-packages"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn build_package_credentials_are_refused() {
        let mut lock = sample_with_builds();
        lock.tool.builds.packages[0].wheels[0].url =
            url("https://user:secret@example.org/files/tomli-2.0.1-py3-none-any.whl");
        let message = lock
            .validate(Path::new("pylock.toml"))
            .unwrap_err()
            .to_string();
        assert!(message.contains("build package `tomli` 2.0.1"), "{message}");
        assert!(!lock.to_toml().contains("secret"));
    }

    #[test]
    fn a_project_without_build_system_keeps_its_fingerprint() {
        let mut inputs = sample().tool.inputs;
        let before = inputs.fingerprint();
        inputs.build_system_requires = Some(Vec::new());
        assert_ne!(inputs.fingerprint(), before);
        inputs.build_system_requires = None;
        assert_eq!(inputs.fingerprint(), before);
    }

    #[test]
    fn output_is_clean_toml() {
        let text = sample_with_fingerprint().to_toml();
        assert!(!text.contains('\r'));
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
        for line in text.lines() {
            assert_eq!(line, line.trim_end(), "trailing whitespace in {line:?}");
        }
        let table: toml::Table = toml::from_str(&text).unwrap();
        let anyio = &table["packages"][0];
        assert_eq!(anyio["name"].as_str(), Some("anyio"));
        assert_eq!(anyio["wheels"][1]["hashes"]["sha256"].as_str(), Some(SHA_A));
        let sdist = &anyio["sdist"];
        assert!(sdist["upload-time"].is_datetime());
        assert!(table["tool"]["tack"]["fingerprint"].is_str());
    }

    #[test]
    fn round_trips_to_an_equal_value_and_the_same_bytes() {
        let lock = sample_with_fingerprint();
        let text = lock.to_toml();
        let read = Lock::from_toml(&text, Path::new(LOCK_FILE_NAME)).unwrap();
        let mut sorted = lock.clone();
        sorted
            .packages
            .sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        for package in &mut sorted.packages {
            package.wheels.sort_by(|a, b| a.name.cmp(&b.name));
        }
        assert_eq!(read, sorted);
        assert_eq!(read.to_toml(), text);
    }

    #[test]
    fn output_does_not_depend_on_input_order() {
        let lock = sample_with_fingerprint();
        let mut shuffled = lock.clone();
        shuffled.packages.reverse();
        for package in &mut shuffled.packages {
            package.wheels.reverse();
            package.dependencies.reverse();
        }
        shuffled.tool.inputs.dependencies.reverse();
        assert_eq!(shuffled.to_toml(), lock.to_toml());
        let text = lock.to_toml();
        let order: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("name = ") || line.starts_with("version = "))
            .collect();
        assert_eq!(
            order,
            [
                "name = \"anyio\"",
                "version = \"4.6.0\"",
                "name = \"app-deps\"",
                "version = \"1.0\"",
                "name = \"numpy\"",
                "version = \"1.26.4\"",
                "name = \"numpy\"",
                "version = \"2.1.0\"",
                "name = \"pytest\"",
                "version = \"8.3.3\"",
            ]
        );
        assert!(text.contains(
            "dependencies = [{ name = \"numpy\", version = \"1.26.4\" }, { name = \"numpy\", version = \"2.1.0\" }]"
        ));
        assert!(text.contains("marker = 'python_full_version >= \"3.10\"'"));
    }

    #[test]
    fn odd_strings_survive_a_round_trip() {
        let mut lock = sample_with_fingerprint();
        lock.packages[0].marker = Some(marker(
            "'x' not in extras or platform_version == \"b\\d\te\u{1}\u{7f} é\"",
        ));
        lock.packages[0].requires_python = Some(specifiers(">=3.9, !=3.9.1"));
        lock.tool.inputs.resolver.insert(
            "odd key.with \"quotes\"".to_string(),
            "line\nbreak".to_string(),
        );
        lock.tool.inputs.dependencies =
            requirements(&["foo ; sys_platform == \"win32\" and python_version < '3.10'"]);
        let text = lock.to_toml();
        let read = Lock::from_toml(&text, Path::new(LOCK_FILE_NAME)).unwrap();
        let app = read.packages_named(&name("app-deps")).next().unwrap();
        assert_eq!(app.marker, lock.packages[0].marker);
        assert_eq!(read.tool.inputs, lock.tool.inputs);
        assert_eq!(read.to_toml(), text);
    }

    #[test]
    fn an_empty_lock_still_has_packages() {
        let lock = Lock {
            lock_version: LOCK_VERSION.to_string(),
            environments: vec![marker("sys_platform == 'linux'")],
            requires_python: None,
            extras: Vec::new(),
            dependency_groups: Vec::new(),
            default_groups: Vec::new(),
            created_by: CREATED_BY.to_string(),
            packages: Vec::new(),
            directories: Vec::new(),
            direct: Vec::new(),
            tool: TackLockTool::default(),
        };
        let text = lock.to_toml();
        assert_eq!(
            text,
            "lock-version = \"1.0\"\nenvironments = [\"sys_platform == 'linux'\"]\ncreated-by = \"tack\"\npackages = []\n\n[tool.tack]\nfingerprint = \"\"\n\n[tool.tack.inputs]\n"
        );
        assert_eq!(Lock::from_toml(&text, Path::new("x")).unwrap(), lock);
    }

    #[test]
    fn credentials_are_refused_on_write_and_stripped_by_the_writer() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(LOCK_FILE_NAME);
        let mut lock = sample_with_fingerprint();
        lock.packages[1].wheels[0].url = url("https://user:secret@example.org/files/x.whl");
        let error = lock.write(&path).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, LockError::Credentials { .. }));
        assert!(!message.contains("secret"), "{message}");
        assert!(
            message.contains("package `anyio` 4.6.0, file `anyio-4.6.0-py3-none-any.whl`"),
            "{message}"
        );
        assert!(!path.exists());
        assert!(!lock.to_toml().contains("secret"));

        let mut lock = sample_with_fingerprint();
        lock.tool.inputs.indexes = vec![url("https://token@example.org/simple/")];
        assert!(matches!(
            lock.write(&path),
            Err(LockError::Credentials { .. })
        ));
        assert!(!lock.to_toml().contains("token@"));
        let mut lock = sample_with_fingerprint();
        lock.packages[0].index = Some(url("https://u:p@example.org/simple/"));
        assert!(matches!(
            lock.write(&path),
            Err(LockError::Credentials { .. })
        ));
    }

    #[test]
    fn bad_values_are_refused_on_write() {
        let path = Path::new("pylock.toml");
        let mut lock = sample_with_fingerprint();
        lock.packages[1].wheels[0].upload_time = Some("last tuesday".to_string());
        let message = lock.validate(path).unwrap_err().to_string();
        assert!(
            message.contains("upload time `last tuesday` is not an RFC 3339 datetime"),
            "{message}"
        );
        assert!(!lock.to_toml().contains("tuesday"));
        let mut lock = sample_with_fingerprint();
        lock.packages[1].wheels[0].size = Some(u64::MAX);
        assert!(matches!(
            lock.validate(path),
            Err(LockError::BadValue { .. })
        ));
        assert!(sample_with_fingerprint().validate(path).is_ok());
    }

    #[test]
    fn write_then_read() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(LOCK_FILE_NAME);
        assert!(Lock::read(&path).unwrap().is_none());
        let lock = sample_with_fingerprint();
        lock.write(&path).unwrap();
        let read = Lock::read(&path).unwrap().unwrap();
        assert_eq!(read.to_toml(), lock.to_toml());
        assert_eq!(fs_err::read_to_string(&path).unwrap(), lock.to_toml());
        assert!(read.is_fresh(&lock.tool.inputs));
        // Overwrite in place; no temporary file is left behind.
        let mut newer = lock.clone();
        newer.packages.pop();
        newer.write(&path).unwrap();
        assert_eq!(Lock::read(&path).unwrap().unwrap().packages.len(), 4);
        let entries: Vec<_> = fs_err::read_dir(directory.path()).unwrap().collect();
        assert_eq!(entries.len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs_err::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
    }

    #[test]
    fn read_errors_name_the_path() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(LOCK_FILE_NAME);
        fs_err::write(&path, "lock-version = [").unwrap();
        let message = Lock::read(&path).unwrap_err().to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        // A directory where the file should be is an I/O error, not "missing".
        let blocked = directory.path().join("dir");
        fs_err::create_dir_all(&blocked).unwrap();
        assert!(matches!(Lock::read(&blocked), Err(LockError::Io(_))));
    }

    #[test]
    fn freshness_follows_the_fingerprint() {
        let lock = sample_with_fingerprint();
        assert!(lock.is_fresh(&lock.tool.inputs));
        let mut changed = lock.tool.inputs.clone();
        changed.dependencies.extend(requirements(&["idna"]));
        assert!(!lock.is_fresh(&changed));
        assert!(!sample().is_fresh(&LockInputs::default()));
    }

    #[test]
    fn file_records_are_redacted_and_lowercase() {
        let url =
            Url::parse("https://user:secret@example.org/files/foo-1.0-py3-none-any.whl").unwrap();
        let locked = LockedFile::new(
            "foo-1.0-py3-none-any.whl".to_string(),
            &url,
            Some(42),
            Some("2024-05-01T12:34:56.789Z".to_string()),
            sha256(&SHA_A.to_ascii_uppercase()),
        );
        assert_eq!(locked.name, "foo-1.0-py3-none-any.whl");
        assert_eq!(
            locked.url.as_str(),
            "https://example.org/files/foo-1.0-py3-none-any.whl"
        );
        assert_eq!(locked.sha256.as_str(), SHA_A);
        assert_eq!(locked.size, Some(42));
        assert_eq!(
            locked.upload_time.as_deref(),
            Some("2024-05-01T12:34:56.789Z")
        );
    }

    #[test]
    fn package_diff_lines() {
        let old = sample();
        let mut new = sample();
        new.packages
            .retain(|package| package.name.as_ref() != "pytest");
        new.packages.push(package("httpx", "0.27.0"));
        for package in &mut new.packages {
            match package.name.as_ref() {
                "anyio" => package.version = version("4.7.0"),
                "app-deps" => package.version = version("0.9"),
                "numpy" if package.version == version("1.26.4") => {
                    package.version = version("1.26.5");
                }
                _ => {}
            }
        }
        assert_eq!(
            old.diff_packages(&new),
            [
                "update anyio 4.6.0 -> 4.7.0",
                "downgrade app-deps 1.0 -> 0.9",
                "add httpx 0.27.0",
                "update numpy 1.26.4, 2.1.0 -> 1.26.5, 2.1.0",
                "remove pytest 8.3.3",
            ]
        );
        assert!(old.diff_packages(&sample()).is_empty());
    }
}
