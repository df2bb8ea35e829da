//! The sync stamp: a `tack sync` that has nothing to do finds so without reading the lock.
//!
//! Parsing a large `pylock.toml` is most of what a no-op sync costs (a 1 MB lock takes tens of
//! milliseconds to parse and convert). After a sync that succeeded, [`SyncStamp::write`] puts
//! a small JSON file, [`STAMP_FILE`], into the venv's root: one sha256 digest of everything
//! the sync's result depends on, and what a no-op sync reports (the package counts). The next
//! sync computes the same digest before it reads the lock ([`SyncStamp::check`]); when the
//! two are equal, the venv is already what the sync would make of it, and the sync stops
//! there.
//!
//! The digest covers:
//!
//! - tack's version and the stamp's format;
//! - the bytes of `pylock.toml` (hashed: its size and modification time could lie);
//! - every option that changes what is installed (the group and extra flags as given,
//!   `--inexact`, `--link-mode`, `--seed`, `--no-editable`, the build flags, `--python`, the
//!   indexes named on the command line, the environment and how its venv is made), read from
//!   [`SyncOptions`] field by field so that a new option cannot be forgotten;
//! - the project's directory, the interpreter found (path, version, markers and tags; the
//!   search runs as a sync runs it, with the lock's `requires-python` kept in the stamp) and
//!   the venv's `pyvenv.cfg`;
//! - the venv's state: the names of the entries of its site-packages (but `__pycache__`), so
//!   that anything pip installs or removes shows, and the modification time of every
//!   `*.dist-info` directory there;
//! - for each source tree installed editable (the project, usually), its path and the
//!   modification times of the files [`local::installed_is_current`] compares with the
//!   install ([`local::METADATA_FILES`]): a changed `pyproject.toml` means a rebuild.
//!
//! Without `--frozen`, the lock is installed only when it is current; the stamp keeps the
//! lock's inputs fingerprint, and the check computes the project's as
//! [`lock`](super::lock::lock) would ([`super::lock::current_fingerprint`]) and requires the
//! two to be equal, as `lock` does to find the lock up to date.
//!
//! There is no stamp, and no shortcut, for what the digest cannot see: a dry run; an
//! environment tack did not make (`--system`) or a venv named after the interpreter (Poetry's
//! `virtualenvs.path`); `--compile-bytecode` and `SOURCE_DATE_EPOCH`, which act on every
//! sync; a Poetry project installed from poetry.lock; installs a killed sync left unfinished
//! (or a sync that is linking); and a venv holding anything from a source tree that is not
//! editable, a git commit or an archive URL, which a sync checks in ways the digest does not
//! cover.
//!
//! The stamp never makes a venv wrong: a sync removes it before its first change
//! ([`remove`]), so that a killed sync leaves none, and writes a new one at its end. A stamp
//! that cannot be read or parsed is ignored, and one that cannot be written is only logged.
//! The check runs under the venv's lock, as a sync does, so that it never sees a venv another
//! sync is changing.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pep440_rs::VersionSpecifiers;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::local;
use super::lock::LockOptions;
use super::sync::{self, Environment, SyncOptions, SyncOutcome};
use super::{Reporter, SelectionRequest};
use crate::cache::Cache;
use crate::install::venv::{Venv, VenvOptions, VenvState};
use crate::install::InstallLayout;
use crate::lock::poetry::POETRY_LOCK_FILE_NAME;
use crate::lock::{Lock, LOCK_FILE_NAME};
use crate::python::interpreter::{find_interpreter, Interpreter};

/// The stamp's file name, in the venv's root.
pub const STAMP_FILE: &str = ".tack-sync";
/// How the name of the stamp's temporary file starts: one that a killed sync left in the venv
/// is removed by the next ([`remove`]).
const STAMP_TEMPORARY: &str = ".tmp-tack-sync-";

/// The version of the stamp's content and of what its digest covers; a stamp of another
/// format never matches.
const FORMAT: u32 = 1;

/// What a sync is asked to do, as far as the stamp is concerned.
#[derive(Debug, Clone, Copy)]
pub struct StampRequest<'a> {
    pub project_dir: &'a Path,
    /// The sync's options. Their `selection` is not used: it is resolved against the lock,
    /// which the check does not read; `selection` stands for it.
    pub options: &'a SyncOptions,
    /// The group and extra flags, as given.
    pub selection: &'a SelectionRequest,
    /// Without `--frozen`: how the lock would be brought up to date (only its inputs
    /// fingerprint is computed). `None` with `--frozen`.
    pub lock: Option<&'a LockOptions>,
}

/// The stamp of one sync, and of the lock file as it was when the sync started.
#[derive(Debug)]
pub struct SyncStamp<'a> {
    request: StampRequest<'a>,
    /// The sha256 of `pylock.toml` when the sync started; `None` when no stamp applies.
    lock_sha256: Option<String>,
}

/// A sync that its stamp found to have nothing to do.
#[derive(Debug)]
pub struct NoOp {
    /// The venv's root.
    pub root: PathBuf,
    /// The packages installed as the lock wants them, which a no-op sync reports.
    pub installed: usize,
    /// Without `--frozen`: what finding the lock up to date reports (see [`NoOpLock`]).
    pub lock: Option<NoOpLock>,
    /// The venv's lock against other syncs, held until the process ends.
    _venv_lock: File,
}

/// What the lock workflow reports of an up-to-date lock, for the output of a no-op sync.
#[derive(Debug)]
pub struct NoOpLock {
    /// The lock's packages and source trees.
    pub resolved: usize,
    /// The project's warnings.
    pub warnings: Vec<String>,
    pub started: Instant,
}

/// The stamp file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    format: u32,
    /// Hex sha256 of everything the sync's result depends on (see the module docs).
    digest: String,
    /// The lock's `requires-python`, which decides the interpreter a sync finds.
    requires_python: Option<String>,
    /// The lock's inputs fingerprint (`[tool.tack]`).
    fingerprint: String,
    /// The lock's packages and source trees.
    resolved: usize,
    /// The packages installed as the lock wants them.
    installed: usize,
    /// The source trees installed editable.
    editables: Vec<PathBuf>,
}

/// Why the stamp does not spare a full sync (logged with `-v`).
type Miss = String;

impl<'a> SyncStamp<'a> {
    /// The stamp of the sync `request` asks for; the lock file is hashed now, before the sync
    /// reads it.
    pub fn new(request: StampRequest<'a>) -> Self {
        let lock_sha256 = match applies(&request) {
            Ok(_) => sha256_of(&request.project_dir.join(LOCK_FILE_NAME)),
            Err(miss) => {
                tracing::debug!("no sync stamp: {miss}");
                None
            }
        };
        Self {
            request,
            lock_sha256,
        }
    }

    /// `Some` when the venv's stamp says the sync has nothing to do; see the module docs.
    pub fn check(&self, cache: &Cache, reporter: &dyn Reporter) -> Option<NoOp> {
        match self.try_check(cache, reporter) {
            Ok(no_op) => {
                tracing::debug!("the sync stamp matches: nothing to do, the lock is not read");
                Some(no_op)
            }
            Err(miss) => {
                tracing::debug!("the sync stamp does not spare a full sync: {miss}");
                None
            }
        }
    }

    fn try_check(&self, cache: &Cache, reporter: &dyn Reporter) -> Result<NoOp, Miss> {
        let lock_sha256 = self.lock_sha256.as_deref().ok_or("no stamp applies")?;
        let (path, _) = applies(&self.request)?;
        let stamp = read(&path.join(STAMP_FILE))?;
        let requires_python = stamp
            .requires_python
            .as_deref()
            .map(VersionSpecifiers::from_str)
            .transpose()
            .map_err(|error| format!("the stamp's requires-python does not parse: {error}"))?;
        let venv_lock = sync::lock_venv(&path, reporter).map_err(|error| error.to_string())?;
        let (venv, interpreter) = self.venv(requires_python.as_ref(), cache)?;
        let digest = self.digest(lock_sha256, &venv, &interpreter, &stamp.editables)?;
        if digest != stamp.digest {
            return Err("the digest differs".to_string());
        }
        let lock = match self.request.lock {
            None => None,
            Some(options) => {
                let started = Instant::now();
                let (fingerprint, warnings) =
                    super::lock::current_fingerprint(self.request.project_dir, options, cache)
                        .map_err(|error| format!("no inputs fingerprint: {error}"))?;
                if fingerprint != stamp.fingerprint {
                    return Err("the lock is not up to date with the project".to_string());
                }
                Some(NoOpLock {
                    resolved: stamp.resolved,
                    warnings,
                    started,
                })
            }
        };
        if let Some(warning) = sync::symlink_warning(
            self.request.options.link_mode,
            self.request.project_dir,
            cache,
        ) {
            reporter.warning(&warning);
        }
        Ok(NoOp {
            root: venv.root,
            installed: stamp.installed,
            lock,
            _venv_lock: venv_lock,
        })
    }

    /// Writes the stamp of the sync of `lock` that gave `outcome`, when one applies; a stamp
    /// that cannot be written is logged, never an error. Call it after a sync that succeeded.
    pub fn write(&self, lock: &Lock, outcome: &SyncOutcome, cache: &Cache) {
        match self.try_write(lock, outcome, cache) {
            Ok(path) => tracing::debug!("wrote the sync stamp `{}`", path.display()),
            Err(miss) => tracing::debug!("no sync stamp written: {miss}"),
        }
    }

    fn try_write(
        &self,
        lock: &Lock,
        outcome: &SyncOutcome,
        cache: &Cache,
    ) -> Result<PathBuf, Miss> {
        let lock_sha256 = self.lock_sha256.as_deref().ok_or("no stamp applies")?;
        let (path, _) = applies(&self.request)?;
        if outcome.other_sources {
            return Err(
                "something is installed from a source tree that is not editable, git or an archive"
                    .to_string(),
            );
        }
        if !outcome.repair.failed.is_empty() {
            return Err("installs of an interrupted sync are unfinished".to_string());
        }
        // The lock that was installed must be the file that the stamp names: a lock written
        // during the sync (a re-lock) is stamped by the next sync.
        if sha256_of(&self.request.project_dir.join(LOCK_FILE_NAME)).as_deref() != Some(lock_sha256)
        {
            return Err("the lock file changed during the sync".to_string());
        }
        if let Some(file) = just_changed(&outcome.editables) {
            return Err(format!(
                "`{}` changed just now, perhaps again within its file system's time resolution",
                file.display()
            ));
        }
        let (venv, interpreter) = self.venv(lock.requires_python.as_ref(), cache)?;
        let stamp = Stamp {
            format: FORMAT,
            digest: self.digest(lock_sha256, &venv, &interpreter, &outcome.editables)?,
            requires_python: lock.requires_python.as_ref().map(ToString::to_string),
            fingerprint: lock.tool.fingerprint.clone(),
            resolved: lock.packages.len() + lock.directories.len(),
            installed: outcome.kept + outcome.added.len(),
            editables: outcome.editables.clone(),
        };
        let text = serde_json::to_string(&stamp).map_err(|error| error.to_string())?;
        let file = path.join(STAMP_FILE);
        crate::cache::write_atomic_named(&file, text.as_bytes(), STAMP_TEMPORARY).map_err(
            |error| {
                let message = sync::error_chain(&error);
                tracing::warn!("could not write the sync stamp: {message}");
                message
            },
        )?;
        Ok(file)
    }

    /// The venv as a sync would find it, which must be there and be reused as it is, with the
    /// interpreter the sync would find for `requires_python`.
    fn venv(
        &self,
        requires_python: Option<&VersionSpecifiers>,
        cache: &Cache,
    ) -> Result<(Venv, Interpreter), Miss> {
        let (path, venv_options) = applies(&self.request)?;
        let interpreter = find_interpreter(
            self.request.options.python.as_deref(),
            requires_python,
            cache,
        )
        .map_err(|error| format!("no interpreter: {error}"))?;
        let (venv, state) =
            Venv::find(&path, &interpreter, venv_options).map_err(|error| error.to_string())?;
        if state != VenvState::Reused {
            return Err(format!("the venv would be {state:?}"));
        }
        if venv.has_noted_installs() {
            return Err("a sync is linking, or was killed while linking".to_string());
        }
        Ok((venv, interpreter))
    }

    /// The digest of the module docs.
    fn digest(
        &self,
        lock_sha256: &str,
        venv: &Venv,
        interpreter: &Interpreter,
        editables: &[PathBuf],
    ) -> Result<String, Miss> {
        let mut fields = Fields::default();
        fields.add("tack", env!("CARGO_PKG_VERSION"));
        fields.add("format", FORMAT.to_string());
        fields.add("lock", lock_sha256);
        fields.add("options", options_key(&self.request));
        fields.add(
            "project",
            self.request.project_dir.as_os_str().as_encoded_bytes(),
        );
        fields.add("interpreter", interpreter_key(interpreter));
        let cfg = venv.root.join("pyvenv.cfg");
        fields.add(
            "pyvenv.cfg",
            fs_err::read(&cfg).map_err(|error| error.to_string())?,
        );
        fields.add(
            "site-packages",
            site_packages_key(&venv.layout).map_err(|error| error.to_string())?,
        );
        fields.add("editables", editables_key(editables));
        Ok(fields.finish())
    }
}

/// Removes the stamp of the venv at `root`, if it has one; a stamp that cannot be removed is
/// logged (the digest still sees the changes of the sync that follows in site-packages).
pub fn remove(root: &Path) {
    match fs_err::remove_file(root.join(STAMP_FILE)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            tracing::warn!("could not remove the sync stamp: {error}");
        }
        _ => {}
    }
    // A stamp a killed sync was writing.
    let Ok(entries) = fs_err::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(STAMP_TEMPORARY))
        {
            if let Err(error) = fs_err::remove_file(entry.path()) {
                tracing::warn!("could not remove an unfinished sync stamp: {error}");
            }
        }
    }
}

/// The venv of `request` and how it is made, when a stamp applies to the sync at all (see the
/// module docs for when it does not).
fn applies(request: &StampRequest<'_>) -> Result<(PathBuf, VenvOptions), Miss> {
    let options = request.options;
    let refuse = |why: &str| Err(why.to_string());
    if options.dry_run {
        return refuse("a dry run");
    }
    if options.compile_bytecode {
        return refuse("`--compile-bytecode` compiles on every sync");
    }
    if options.source_date_epoch.is_some() {
        return refuse("`SOURCE_DATE_EPOCH` sets the file times on every sync");
    }
    if request.project_dir.join(POETRY_LOCK_FILE_NAME).is_file()
        && !request.project_dir.join(LOCK_FILE_NAME).exists()
    {
        return refuse("poetry.lock is installed as it is");
    }
    match &options.environment {
        Environment::Venv { path, options } => Ok((path.clone(), *options)),
        Environment::NamedVenv { .. } => refuse("the venv is named after the interpreter"),
        Environment::Existing { .. } => refuse("an environment tack did not make"),
    }
}

/// Reads a stamp; any trouble is a miss.
fn read(path: &Path) -> Result<Stamp, Miss> {
    let text = fs_err::read_to_string(path).map_err(|error| error.to_string())?;
    let stamp: Stamp = serde_json::from_str(&text)
        .map_err(|error| format!("the stamp does not parse: {error}"))?;
    if stamp.format != FORMAT {
        return Err(format!("the stamp is of format {}", stamp.format));
    }
    Ok(stamp)
}

/// Hex sha256 of the file at `path`, `None` when it cannot be read.
fn sha256_of(path: &Path) -> Option<String> {
    match fs_err::read(path) {
        Ok(bytes) => Some(hex::encode(Sha256::digest(&bytes))),
        Err(error) => {
            tracing::debug!("no sync stamp: {error}");
            None
        }
    }
}

/// The options of `request` that change what a sync installs, one per line. Every field of
/// [`SyncOptions`] is named here, so that a new one must be placed on one side or the other.
fn options_key(request: &StampRequest<'_>) -> String {
    let SyncOptions {
        // Resolved against the lock; the flags stand for it.
        selection: _,
        python,
        environment,
        dry_run,
        exact,
        link_mode,
        compile_bytecode,
        seed,
        index,
        // How the files are fetched, not which.
        offline: _,
        concurrent_downloads: _,
        http: _,
        builds,
        concurrent_builds: _,
        no_editable,
        source_date_epoch,
    } = request.options;
    let mut key = String::new();
    let _ = writeln!(key, "selection {:?}", request.selection);
    let _ = writeln!(key, "python {python:?}");
    let _ = writeln!(key, "environment {environment:?}");
    let _ = writeln!(key, "dry-run {dry_run}");
    let _ = writeln!(key, "exact {exact}");
    let _ = writeln!(key, "link-mode {link_mode:?}");
    let _ = writeln!(key, "compile-bytecode {compile_bytecode}");
    let _ = writeln!(key, "seed {seed}");
    let _ = writeln!(key, "index {index:?}");
    let _ = writeln!(key, "builds {builds:?}");
    let _ = writeln!(key, "no-editable {no_editable}");
    let _ = writeln!(key, "source-date-epoch {source_date_epoch:?}");
    key
}

/// The interpreter as the plan sees it: where it is, its version, markers and tags.
fn interpreter_key(interpreter: &Interpreter) -> String {
    let mut key = String::new();
    let _ = writeln!(key, "path {}", interpreter.path.display());
    let _ = writeln!(key, "executable {}", interpreter.executable.display());
    let _ = writeln!(key, "version {}", interpreter.version);
    let _ = writeln!(key, "markers {:?}", interpreter.markers);
    let tags: Vec<&str> = interpreter.tags.iter().collect();
    let _ = writeln!(key, "tags {}", tags.join(" "));
    key
}

/// The entries of the site-packages directories of `layout` (once when purelib and platlib
/// are one), sorted, each `*.dist-info` directory with its modification time in nanoseconds.
/// `__pycache__` is left out: Python writes it when a module of site-packages is imported,
/// and it is no distribution.
fn site_packages_key(layout: &InstallLayout) -> std::io::Result<Vec<u8>> {
    let mut dirs = vec![&layout.purelib];
    if layout.platlib != layout.purelib {
        dirs.push(&layout.platlib);
    }
    let mut key = Vec::new();
    for dir in dirs {
        let mut entries = Vec::new();
        for entry in fs_err::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if name == "__pycache__" {
                continue;
            }
            let modified = if name.as_encoded_bytes().ends_with(b".dist-info") {
                Some(nanoseconds(&entry.metadata()?)?)
            } else {
                None
            };
            entries.push((name, modified));
        }
        entries.sort();
        key.extend_from_slice(dir.as_os_str().as_encoded_bytes());
        key.push(b'\n');
        for (name, modified) in entries {
            key.extend_from_slice(name.as_encoded_bytes());
            if let Some(modified) = modified {
                key.extend_from_slice(format!(" {modified}").as_bytes());
            }
            key.push(b'\n');
        }
    }
    Ok(key)
}

/// Each editable source tree with the modification times of its metadata files (`-` for one
/// that is not there).
fn editables_key(editables: &[PathBuf]) -> String {
    let mut key = String::new();
    for tree in editables {
        let _ = write!(key, "{}", tree.display());
        for file in local::METADATA_FILES {
            let modified = fs_err::metadata(tree.join(file))
                .and_then(|metadata| nanoseconds(&metadata))
                .map_or_else(|_| "-".to_string(), |time| time.to_string());
            let _ = write!(key, " {file} {modified}");
        }
        key.push('\n');
    }
    key
}

/// How recent a change to an editable tree's metadata file must be for the tree not to be
/// stamped: a file system that keeps times to the second (or two) would give a file changed
/// again within the same tick the time the stamp saw, so the change would go unseen. The
/// next sync stamps the tree.
const RACY: Duration = Duration::from_secs(2);

/// A metadata file of `editables` changed less than [`RACY`] ago (or in the future).
fn just_changed(editables: &[PathBuf]) -> Option<PathBuf> {
    let now = SystemTime::now();
    editables
        .iter()
        .flat_map(|tree| local::METADATA_FILES.iter().map(|file| tree.join(file)))
        .find(|path| {
            fs_err::metadata(path)
                .and_then(|metadata| metadata.modified())
                .is_ok_and(|modified| now.duration_since(modified).map_or(true, |age| age < RACY))
        })
}

/// A file's modification time in nanoseconds since the Unix epoch.
fn nanoseconds(metadata: &std::fs::Metadata) -> std::io::Result<u128> {
    let modified = metadata.modified()?;
    Ok(modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos()))
}

/// A sha256 of named values, each length-prefixed so that no two lists of fields give the
/// same bytes.
#[derive(Default)]
struct Fields(Sha256);

impl Fields {
    fn add(&mut self, name: &str, value: impl AsRef<[u8]>) {
        let value = value.as_ref();
        for part in [name.as_bytes(), value] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
    }

    fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use super::*;
    use crate::index::config::IndexChoice;
    use crate::index::HttpSettings;
    use crate::install::plan::BuildPolicy;
    use crate::install::LinkMode;
    use crate::workflow::Selection;

    fn options(venv: &Path) -> SyncOptions {
        SyncOptions {
            selection: Selection::default(),
            python: None,
            environment: Environment::Venv {
                path: venv.to_path_buf(),
                options: VenvOptions::default(),
            },
            dry_run: false,
            exact: true,
            link_mode: LinkMode::default(),
            compile_bytecode: false,
            seed: false,
            index: IndexChoice::default(),
            offline: false,
            concurrent_downloads: 8,
            http: HttpSettings::default(),
            builds: BuildPolicy::default(),
            concurrent_builds: NonZeroUsize::MIN,
            no_editable: false,
            source_date_epoch: None,
        }
    }

    fn key(options: &SyncOptions, selection: &SelectionRequest) -> String {
        options_key(&StampRequest {
            project_dir: Path::new("project"),
            options,
            selection,
            lock: None,
        })
    }

    fn layout(site: &Path) -> InstallLayout {
        InstallLayout {
            python: site.join("python"),
            purelib: site.to_path_buf(),
            platlib: site.to_path_buf(),
            scripts: site.join("bin"),
            data: site.to_path_buf(),
            include: site.join("include"),
            relocatable: false,
        }
    }

    fn set_modified(path: &Path, time: SystemTime) {
        // A directory's time is set through a handle opened for reading.
        fs_err::File::open(path)
            .unwrap()
            .file()
            .set_modified(time)
            .unwrap();
    }

    #[test]
    fn fields_are_told_apart_however_their_bytes_run_on() {
        let digest = |fields: &[(&str, &str)]| {
            let mut digest = Fields::default();
            for (name, value) in fields {
                digest.add(name, value);
            }
            digest.finish()
        };
        assert_ne!(digest(&[("a", "bc")]), digest(&[("ab", "c")]));
        assert_ne!(digest(&[("a", "b"), ("c", "")]), digest(&[("a", "bc")]));
        assert_eq!(digest(&[("a", "b")]), digest(&[("a", "b")]));
    }

    #[test]
    fn every_option_that_changes_the_venv_changes_the_key_and_no_other() {
        let base = options(Path::new(".venv"));
        let selection = SelectionRequest::default();
        let reference = key(&base, &selection);
        let changed: Vec<(&str, SyncOptions)> = vec![
            (
                "python",
                SyncOptions {
                    python: Some("3.12".into()),
                    ..base.clone()
                },
            ),
            (
                "exact",
                SyncOptions {
                    exact: false,
                    ..base.clone()
                },
            ),
            (
                "link mode",
                SyncOptions {
                    link_mode: LinkMode::Copy,
                    ..base.clone()
                },
            ),
            (
                "seed",
                SyncOptions {
                    seed: true,
                    ..base.clone()
                },
            ),
            (
                "no editable",
                SyncOptions {
                    no_editable: true,
                    ..base.clone()
                },
            ),
            (
                "builds",
                SyncOptions {
                    builds: BuildPolicy {
                        no_build: true,
                        ..BuildPolicy::default()
                    },
                    ..base.clone()
                },
            ),
            (
                "index",
                SyncOptions {
                    index: IndexChoice {
                        index_url: Some("http://127.0.0.1/simple".into()),
                        ..IndexChoice::default()
                    },
                    ..base.clone()
                },
            ),
            ("venv path", options(Path::new("elsewhere"))),
            (
                "venv options",
                SyncOptions {
                    environment: Environment::Venv {
                        path: PathBuf::from(".venv"),
                        options: VenvOptions {
                            relocatable: true,
                            ..VenvOptions::default()
                        },
                    },
                    ..base.clone()
                },
            ),
        ];
        for (what, options) in changed {
            assert_ne!(key(&options, &selection), reference, "{what}");
        }
        let no_dev = SelectionRequest {
            no_dev: true,
            ..SelectionRequest::default()
        };
        assert_ne!(key(&base, &no_dev), reference, "the selection");
        let groups = SelectionRequest {
            groups: vec!["docs".into()],
            ..SelectionRequest::default()
        };
        assert_ne!(key(&base, &groups), key(&base, &no_dev));

        // How files are fetched is no part of what is installed.
        let unchanged = SyncOptions {
            offline: true,
            concurrent_downloads: 1,
            concurrent_builds: NonZeroUsize::new(7).unwrap(),
            http: HttpSettings {
                concurrency: 1,
                ..HttpSettings::default()
            },
            ..base.clone()
        };
        assert_eq!(key(&unchanged, &selection), reference);
    }

    #[test]
    fn a_stamp_applies_only_to_a_venv_tack_makes_and_a_sync_that_acts_on_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join(".venv");
        let base = options(&venv);
        let selection = SelectionRequest::default();
        let applies_to = |options: &SyncOptions| {
            applies(&StampRequest {
                project_dir: dir.path(),
                options,
                selection: &selection,
                lock: None,
            })
        };
        assert_eq!(applies_to(&base).unwrap().0, venv);
        for (what, options) in [
            (
                "dry run",
                SyncOptions {
                    dry_run: true,
                    ..base.clone()
                },
            ),
            (
                "bytecode",
                SyncOptions {
                    compile_bytecode: true,
                    ..base.clone()
                },
            ),
            (
                "epoch",
                SyncOptions {
                    source_date_epoch: Some(1),
                    ..base.clone()
                },
            ),
            (
                "existing",
                SyncOptions {
                    environment: Environment::Existing {
                        break_system_packages: false,
                    },
                    ..base.clone()
                },
            ),
            (
                "named",
                SyncOptions {
                    environment: Environment::NamedVenv {
                        dir: dir.path().to_path_buf(),
                        stem: "project".into(),
                        options: VenvOptions::default(),
                    },
                    ..base.clone()
                },
            ),
        ] {
            assert!(applies_to(&options).is_err(), "{what}");
        }
        // A Poetry project installed from poetry.lock.
        fs_err::write(dir.path().join(POETRY_LOCK_FILE_NAME), "").unwrap();
        assert!(applies_to(&base).is_err());
        fs_err::write(dir.path().join(LOCK_FILE_NAME), "").unwrap();
        assert!(applies_to(&base).is_ok());
    }

    #[test]
    fn site_packages_shows_every_entry_and_each_dist_info_time() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path();
        let layout = layout(site);
        fs_err::create_dir_all(site.join("fast-1.0.0.dist-info")).unwrap();
        fs_err::create_dir_all(site.join("fast")).unwrap();
        let before = site_packages_key(&layout).unwrap();
        assert_eq!(site_packages_key(&layout).unwrap(), before);

        // Python's byte code of a top-level module is no distribution.
        fs_err::create_dir_all(site.join("__pycache__")).unwrap();
        assert_eq!(site_packages_key(&layout).unwrap(), before);
        // A package's own directory changes with every file in it, which a sync never reads.
        set_modified(
            &site.join("fast"),
            SystemTime::now() - Duration::from_secs(99),
        );
        assert_eq!(site_packages_key(&layout).unwrap(), before);

        set_modified(
            &site.join("fast-1.0.0.dist-info"),
            SystemTime::now() - Duration::from_secs(99),
        );
        let touched = site_packages_key(&layout).unwrap();
        assert_ne!(touched, before);
        fs_err::write(site.join("module.py"), "").unwrap();
        let added = site_packages_key(&layout).unwrap();
        assert_ne!(added, touched);
        fs_err::remove_file(site.join("module.py")).unwrap();
        assert_eq!(site_packages_key(&layout).unwrap(), touched);
    }

    #[test]
    fn an_editable_tree_shows_its_metadata_files_times() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("app");
        fs_err::create_dir_all(&tree).unwrap();
        let trees = [tree.clone()];
        let nothing = editables_key(&trees);
        fs_err::write(tree.join("pyproject.toml"), "").unwrap();
        let written = editables_key(&trees);
        assert_ne!(written, nothing);
        set_modified(
            &tree.join("pyproject.toml"),
            SystemTime::now() - Duration::from_secs(99),
        );
        assert_ne!(editables_key(&trees), written);
        // The code of the tree is not looked at: that is what editable means.
        let old = editables_key(&trees);
        fs_err::write(tree.join("app.py"), "").unwrap();
        assert_eq!(editables_key(&trees), old);
        assert_ne!(editables_key(&[]), old);

        // Changed 99 seconds ago: stamped; just now: not yet.
        assert_eq!(just_changed(&trees), None);
        fs_err::write(tree.join("setup.cfg"), "").unwrap();
        assert_eq!(just_changed(&trees), Some(tree.join("setup.cfg")));
    }

    #[test]
    fn removing_the_stamp_also_removes_one_a_killed_sync_was_writing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs_err::write(root.join(STAMP_FILE), "{}").unwrap();
        let unfinished = root.join(format!("{STAMP_TEMPORARY}a1b2c3"));
        fs_err::write(&unfinished, "{ half").unwrap();
        fs_err::write(root.join(".tmp-other"), "not the stamp's").unwrap();
        fs_err::write(root.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        remove(root);
        let mut left: Vec<String> = fs_err::read_dir(root)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [".tmp-other", "pyvenv.cfg"]);
    }

    #[test]
    fn a_stamp_that_does_not_parse_or_is_of_another_format_is_no_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STAMP_FILE);
        assert!(read(&path).is_err());
        fs_err::write(&path, "{ not json").unwrap();
        assert!(read(&path).is_err());
        let stamp = Stamp {
            format: FORMAT,
            digest: "00".into(),
            requires_python: Some(">=3.8".into()),
            fingerprint: "ff".into(),
            resolved: 3,
            installed: 2,
            editables: vec![dir.path().to_path_buf()],
        };
        fs_err::write(&path, serde_json::to_string(&stamp).unwrap()).unwrap();
        assert_eq!(read(&path).unwrap(), stamp);
        let other = Stamp {
            format: FORMAT + 1,
            ..stamp
        };
        fs_err::write(&path, serde_json::to_string(&other).unwrap()).unwrap();
        assert!(read(&path).is_err());
        remove(dir.path());
        assert!(!path.exists());
        // Removing a stamp that is not there is no error.
        remove(dir.path());
    }
}
