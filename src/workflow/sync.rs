//! The sync workflow: [`Lock`] + [`Selection`] -> `Plan` -> prepared wheels -> installed venv.
//!
//! 1. The interpreter (the lock's `requires-python` decides which fit) and the environment
//!    ([`Environment`]): a venv created, reused, or recreated when the interpreter changed; or
//!    the interpreter's own environment (`--system`), written only when PEP 668 allows. One
//!    sync of an environment at a time.
//! 2. The repair: a sync killed while linking wheels left its list of installs in the venv;
//!    those are finished first, so that the plan sees complete distributions.
//! 3. The plan (pure): lock ∩ markers ∩ selection − installed, with the best wheel per package,
//!    or its sdist when no wheel fits (or `--no-binary-package` asks so) and builds are allowed.
//! 4. Prepared wheels ([`super::wheels`]): downloaded, verified and unpacked into the cache;
//!    wheels built from sdists ([`super::sdists`]), or found built in the cache; and wheels of
//!    source trees such as the project itself ([`super::local`]), editable unless
//!    `--no-editable`, built unless the editable install in the venv is still current.
//! 5. Removals, then installs (hard links from the cache by default), noted in the venv first so
//!    that a kill half way is finished by the next sync; then bytecode, when asked.
//!
//! A failure before step 5 leaves the venv untouched, but for its stamp
//! ([`super::sync_stamp`]), which every sync but a dry run removes after step 1, before any
//! change, and the caller writes again after a sync that succeeded. A dry run stops after
//! step 3 and returns what steps 4 and 5 would do, having written nothing: no venv is created
//! and no interrupted sync is finished.
//!
//! In an environment tack did not make (`--system`), exactness applies to tack's own installs
//! only: a distribution whose `INSTALLER` is not `tack` (pip, setuptools, the image's own
//! packages) is never removed, though one the lock wants at another version is replaced.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use pep440_rs::{Version, VersionSpecifiers};
use sha2::{Digest as _, Sha256};

use super::git::GitError;
use super::local::{self, LocalBuild, LocalBuildError};
use super::sdists::{self, SdistBuild, SdistError};
use super::selection::ProjectChoice;
use super::wheels::{self, FetchOptions, PrepareError};
use super::{Reporter, Selection};
use crate::cache::{Bucket, Cache, CacheError};
use crate::diagnostic::Diagnostic;
use crate::filename::WheelFilename;
use crate::index::config::{IndexChoice, IndexConfig, IndexConfigError};
use crate::index::{HttpSettings, IndexError};
use crate::install::plan::{
    plan, BuildPolicy, PlanError, PlannedPackage, PlannedSource, TagPolicy, Target,
};
use crate::install::site_packages::{self, ScanError};
use crate::install::venv::{PendingInstall, Venv, VenvError, VenvOptions, VenvState};
use crate::install::wheel::{self, WheelError};
use crate::install::LinkMode;
use crate::lock::{
    Lock, LockedArchive, LockedGit, LockedSdist, LockedSource, LockedWheel, Verbatim,
};
use crate::normalize::PackageName;
use crate::project::{ProjectError, ProjectSpec};
use crate::python::interpreter::{find_interpreter, Interpreter, InterpreterError, Tags};

/// How to sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub selection: Selection,
    /// `--python`: a path, a command or a version request.
    pub python: Option<String>,
    /// The environment to make match the lock.
    pub environment: Environment,
    /// Plan and report, but change nothing (`--dry-run`).
    pub dry_run: bool,
    /// Remove what the lock does not want (not with `--inexact`).
    pub exact: bool,
    pub link_mode: LinkMode,
    pub compile_bytecode: bool,
    /// Install pip too (not in the lock).
    pub seed: bool,
    /// The indexes named on the command line (for credentials, and for `--seed`).
    pub index: IndexChoice,
    pub offline: bool,
    pub concurrent_downloads: usize,
    pub http: HttpSettings,
    /// Which packages may, or must, be built from their sdist.
    pub builds: BuildPolicy,
    /// Builds at most at once (`TACK_CONCURRENT_BUILDS`).
    pub concurrent_builds: NonZeroUsize,
    /// `--no-editable`: install source trees (the project) as real wheels, so that the venv
    /// works without them.
    pub no_editable: bool,
    /// `SOURCE_DATE_EPOCH`: the venv's file times, and checked-hash byte code (see
    /// [`crate::install::times`]).
    pub source_date_epoch: Option<u64>,
}

/// Where a sync installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// A venv at this path that tack makes and keeps exactly as the lock says (`.venv` in the
    /// project by default).
    Venv { path: PathBuf, options: VenvOptions },
    /// A venv in the directory `dir` named as Poetry names the venvs in its
    /// `virtualenvs.path`: `<stem>-py<X.Y>`, for the version of the interpreter found.
    NamedVenv {
        dir: PathBuf,
        stem: String,
        options: VenvOptions,
    },
    /// The environment of the interpreter found, as it is (`--system`, Poetry's
    /// `virtualenvs.create = false`): the `/usr/local` of a Python image, or an activated
    /// venv. Only what tack installed there is ever removed.
    Existing {
        /// Write even into an installation the operating system manages (PEP 668).
        break_system_packages: bool,
    },
}

/// What [`sync`] did (with `dry_run`, what it would do).
#[derive(Debug, Default)]
pub struct SyncOutcome {
    /// The environment synced: a venv's root, or the prefix of an existing environment.
    pub root: PathBuf,
    /// When the venv was created: the interpreter's version and path.
    pub created: Option<(Version, PathBuf)>,
    /// When the sync went into an existing environment: its interpreter's version and path.
    pub existing: Option<(Version, PathBuf)>,
    pub repair: Repair,
    pub removed: Vec<(PackageName, Version)>,
    pub added: Vec<(PackageName, Version)>,
    /// Packages of `added` whose wheel this sync built from their sdist (not those whose
    /// earlier build was found in the cache).
    pub built: Vec<(PackageName, Version)>,
    /// Packages of `added` installed from a source tree, with the tree's path as the lock has
    /// it (`.` for the project).
    pub from_source: BTreeMap<PackageName, String>,
    /// Packages already installed as the lock wants them.
    pub kept: usize,
    pub bytecode: Option<Bytecode>,
    /// `--seed` installed pip: its version, and where that version came from.
    pub seeded: Option<(Version, String)>,
    /// With `dry_run`: the source trees (name and path as the lock has them) that would be
    /// built and installed; their version is known only once built.
    pub would_build: Vec<(PackageName, String)>,
    /// The source trees (absolute paths) installed editable, kept or built: the sync stamp
    /// ([`super::sync_stamp`]) watches their metadata files, as [`local::installed_is_current`]
    /// does.
    pub editables: Vec<PathBuf>,
    /// Something is installed (kept or not) from a source tree that is not editable, a git
    /// commit or an archive URL: whether it is current is more than the sync stamp sees.
    pub other_sources: bool,
}

/// The finishing of an interrupted sync's installs.
#[derive(Debug, Default)]
pub struct Repair {
    pub finished: usize,
    /// Installs that could not be finished, with the reason; they stay noted in the venv, so
    /// the next sync tries them again.
    pub failed: Vec<(String, String)>,
}

/// `compileall` over site-packages.
#[derive(Debug)]
pub struct Bytecode {
    pub elapsed: Duration,
    /// Some files could not be compiled (they are installed all the same).
    pub incomplete: bool,
}

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncFailure {
    #[error("cannot find a Python interpreter for the venv")]
    Interpreter(#[source] InterpreterError),
    #[error("cannot lock the venv `{}` against other syncs", venv.display())]
    VenvLock {
        venv: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot prepare the venv")]
    Venv(#[source] VenvError),
    #[error("cannot install into the interpreter's own environment")]
    Existing(#[source] VenvError),
    #[error("cannot list what is installed")]
    Scan(#[source] ScanError),
    #[error("cannot install the lock here")]
    Plan(#[source] PlanError),
    #[error("cannot read the project's index settings")]
    Project(#[source] ProjectError),
    #[error("cannot choose the indexes")]
    Indexes(#[source] IndexConfigError),
    #[error("`--seed`: cannot read pip's project page")]
    SeedPage(#[source] Box<IndexError>),
    #[error("`--seed`: {0}")]
    SeedMissing(&'static str),
    #[error(transparent)]
    Prepare(#[from] Box<PrepareError>),
    #[error(transparent)]
    Build(#[from] Box<SdistError>),
    #[error(transparent)]
    BuildLocal(#[from] Box<LocalBuildError>),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("the lock installs `{name}` from the archive `{file}`, whose name is not a wheel's")]
    ArchiveName { name: PackageName, file: String },
    #[error("`--only-root`: the lock has no project to install, as the project is not a package")]
    NoProject,
    #[error("the lock installs `{name}` from `{path}`, which is not a directory")]
    MissingSource { name: PackageName, path: PathBuf },
    #[error("failed to remove `{name}`")]
    Uninstall {
        name: PackageName,
        #[source]
        source: WheelError,
    },
    #[error("failed to install `{wheel}`")]
    Install {
        wheel: String,
        #[source]
        source: WheelError,
    },
    #[error("`{wheel}` was planned but not prepared (this is a bug in tack)")]
    NotPrepared { wheel: String },
    #[error("failed to run `{}` to compile bytecode", python.display())]
    Bytecode {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to set the file times of `{}` from `SOURCE_DATE_EPOCH`", venv.display())]
    Times {
        venv: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for SyncFailure {
    fn hints(&self) -> Vec<String> {
        match self {
            // Transparent: the prepare error is not a link of the chain of its own. (The
            // interpreter error is, and gives its own hints.)
            Self::Prepare(error) => error.hints(),
            Self::Build(error) => error.hints(),
            Self::BuildLocal(error) => error.hints(),
            Self::Git(error) => error.hints(),
            Self::NoProject => vec![
                "a project is a package when pyproject.toml has a `[build-system]` table (or is a Poetry project in package mode); then run `tack lock`".to_string(),
            ],
            Self::MissingSource { name, .. } => vec![format!(
                "copy the source tree there first, or leave `{name}` out with `--no-install-project`"
            )],
            _ => Vec::new(),
        }
    }

    fn is_bug(&self) -> bool {
        match self {
            Self::NotPrepared { .. } => true,
            Self::Prepare(error) => error.is_bug(),
            Self::Build(error) => error.is_bug(),
            _ => false,
        }
    }
}

/// Make the venv of `options` match `lock` under `options.selection`; see the module docs.
/// `project_dir` is read only for `--seed` and for index credentials.
pub fn sync(
    project_dir: &Path,
    lock: &Lock,
    options: &SyncOptions,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<SyncOutcome, SyncFailure> {
    let mut outcome = SyncOutcome::default();

    // 1. The interpreter and the environment.
    let interpreter = find_interpreter(
        options.python.as_deref(),
        lock.requires_python.as_ref(),
        cache,
    )
    .map_err(SyncFailure::Interpreter)?;
    // One sync of an environment at a time; the lock is released when the process ends, however.
    let (venv, state, _venv_lock) = environment(options, &interpreter, reporter)?;
    outcome.root.clone_from(&venv.root);
    let found = (interpreter.version.clone(), interpreter.path.clone());
    if venv.existing {
        outcome.existing = Some(found);
    } else if state != VenvState::Reused {
        outcome.created = Some(found);
    }
    let layout = venv.layout.clone();
    if let Some(warning) = symlink_warning(options.link_mode, project_dir, cache) {
        reporter.warning(&warning);
    }
    if !options.dry_run && !venv.existing {
        // Before the first change: a sync killed half way leaves no stamp that says the venv
        // is complete.
        super::sync_stamp::remove(&venv.root);
    }
    // A venv this sync created goes again if the sync fails: no empty `.venv` is left behind.
    let mut created_here = RemoveOnFailure(
        (state == VenvState::Created && !venv.existing && !options.dry_run)
            .then(|| venv.root.clone()),
    );

    // 2. The repair (not in a dry run, which writes nothing).
    let unfinished;
    (outcome.repair, unfinished) = if options.dry_run {
        (Repair::default(), Vec::new())
    } else {
        finish_interrupted_installs(&venv, options.link_mode)?
    };

    // 3. The plan.
    let target = Target {
        markers: &interpreter.markers,
        python_version: &interpreter.version,
        tags: &TagsPolicy(&interpreter.tags),
        extras: options.selection.extras.clone(),
        groups: options.selection.groups.clone(),
        builds: options.builds.clone(),
    };
    let installed = match (options.dry_run, state) {
        // The venv would be written afresh.
        (true, VenvState::Created | VenvState::Recreated) => Ok(Vec::new()),
        (true, VenvState::Reused) => site_packages::scan_without_repair(&layout),
        (false, _) => site_packages::scan(&layout),
    }
    .map_err(SyncFailure::Scan)?
    .into_iter()
    .map(|dist| (dist.name.clone(), dist.version.clone(), dist))
    .collect();
    if options.selection.project == ProjectChoice::Only
        && !lock
            .directories
            .iter()
            .any(crate::lock::LockedDirectory::is_project)
    {
        return Err(SyncFailure::NoProject);
    }
    let restricted = options.selection.restrict(lock);
    // `--only-root` installs the project and touches nothing else.
    let exact = options.exact && options.selection.project != ProjectChoice::Only;
    let mut the_plan = plan(
        restricted.as_ref().unwrap_or(lock),
        &target,
        installed,
        exact,
    )
    .map_err(SyncFailure::Plan)?;
    if venv.existing {
        // Exact for tack's own installs only: what pip, the image or the OS installed stays.
        the_plan
            .remove
            .retain(|dist| dist.installer.as_deref() == Some("tack"));
    }
    // Source trees: an editable install that is still current stays; the rest are built.
    let mut local_builds = Vec::new();
    let mut local_replaced = Vec::new();
    for (directory, installed) in std::mem::take(&mut the_plan.local) {
        let source = std::path::absolute(project_dir.join(&directory.path))
            .unwrap_or_else(|_| project_dir.join(&directory.path));
        if !source.is_dir() {
            return Err(SyncFailure::MissingSource {
                name: directory.name,
                path: source,
            });
        }
        let build = LocalBuild {
            name: directory.name.clone(),
            source,
            path: directory.path.clone(),
            editable: directory.editable && !options.no_editable,
            vcs: None,
        };
        if build.editable {
            outcome.editables.push(build.source.clone());
        } else {
            outcome.other_sources = true;
        }
        match installed.as_slice() {
            [dist] if local::installed_is_current(&build, &dist.dist_info) => {
                the_plan.keep.extend(installed);
            }
            _ => {
                local_replaced.extend(installed);
                local_builds.push(build);
            }
        }
    }
    // Packages from git or an archive URL: kept when the installed copy came from the locked
    // commit or archive (its `direct_url.json` says so); archives are installed like index
    // files, git commits checked out from the cached clone and built (or found built).
    let mut direct_urls: BTreeMap<PackageName, String> = BTreeMap::new();
    let checkouts = if the_plan.direct.is_empty() {
        None
    } else {
        Some(
            tempfile::Builder::new()
                .prefix(".checkouts-")
                .tempdir_in(cache.ensure_bucket(Bucket::Built).map_err(|source| {
                    SyncFailure::BuildLocal(Box::new(LocalBuildError::Cache(source)))
                })?)
                .map_err(|source| {
                    SyncFailure::BuildLocal(Box::new(LocalBuildError::Cache(CacheError::Write {
                        path: cache.bucket(Bucket::Built),
                        source,
                    })))
                })?,
        )
    };
    for (package, installed) in std::mem::take(&mut the_plan.direct) {
        outcome.other_sources = true;
        let direct_url = direct_url_json(&package.source);
        let current = matches!(installed.as_slice(), [dist]
            if dist.version == package.version && same_json(&dist.dist_info.join("direct_url.json"), &direct_url));
        if current {
            the_plan.keep.extend(installed);
            continue;
        }
        local_replaced.extend(installed);
        match &package.source {
            LockedSource::Archive(archive) => {
                let source = archive_source(archive).ok_or_else(|| SyncFailure::ArchiveName {
                    name: package.name.clone(),
                    file: archive.file_name().to_string(),
                })?;
                direct_urls.insert(package.name.clone(), direct_url);
                the_plan.install.push(PlannedPackage {
                    name: package.name.clone(),
                    version: package.version.clone(),
                    source,
                });
            }
            LockedSource::Git(git) => {
                let cache_key = vcs_cache_key(git, &interpreter);
                let checkout = checkouts
                    .as_ref()
                    .map(|dir| dir.path().join(package.name.as_ref()))
                    .filter(|_| {
                        local::cached_vcs_wheel(cache, &cache_key).is_none() && !options.dry_run
                    });
                local_builds.push(local::git_build(
                    &package.name,
                    git,
                    direct_url,
                    cache_key,
                    checkout.as_deref(),
                    cache,
                )?);
            }
        }
    }
    if options.seed {
        // pip is not in the lock: an installed one stays; a missing one is fetched.
        let pip = PackageName::from_str("pip").expect("`pip` is a valid name");
        if let Some(position) = the_plan.remove.iter().position(|dist| dist.name == pip) {
            let dist = the_plan.remove.remove(position);
            the_plan.keep.push(dist);
        } else if !the_plan.keep.iter().any(|dist| dist.name == pip)
            && !the_plan.install.iter().any(|planned| planned.name == pip)
        {
            let (planned, from) = seed_pip(project_dir, lock, options, cache, &target)?;
            outcome.seeded = Some((planned.version.clone(), from));
            the_plan.install.push(planned);
        }
    }
    outcome.kept = the_plan.keep.len();
    if options.dry_run {
        outcome.removed = the_plan
            .remove
            .iter()
            .chain(the_plan.reinstall.iter().map(|(dist, _)| dist))
            .chain(&local_replaced)
            .map(|dist| (dist.name.clone(), dist.version.clone()))
            .collect();
        outcome.added = the_plan
            .install
            .iter()
            .chain(the_plan.reinstall.iter().map(|(_, planned)| planned))
            .map(|planned| (planned.name.clone(), planned.version.clone()))
            .collect();
        outcome.would_build = local_builds
            .iter()
            .map(|build| (build.name.clone(), build.path.clone()))
            .collect();
        return Ok(outcome);
    }

    // 4. Prepared wheels.
    let wanted: Vec<PlannedPackage> = the_plan
        .install
        .iter()
        .cloned()
        .chain(
            the_plan
                .reinstall
                .iter()
                .map(|(_, planned)| planned.clone()),
        )
        .collect();
    let mut wheels_wanted = Vec::new();
    let mut builds_wanted = Vec::new();
    for planned in &wanted {
        match &planned.source {
            PlannedSource::Wheel(wheel) => wheels_wanted.push(wheel.clone()),
            PlannedSource::Build(sdist) => builds_wanted.push(SdistBuild {
                name: planned.name.clone(),
                version: planned.version.clone(),
                sdist: sdist.clone(),
            }),
        }
    }
    let (unpacked, built, local_wheels) = if wanted.is_empty() && local_builds.is_empty() {
        (BTreeMap::new(), BTreeMap::new(), None)
    } else {
        let spec = project_spec(project_dir)?;
        let fetch = FetchOptions {
            indexes: IndexConfig::for_downloads(&options.index, spec.as_ref())
                .map_err(SyncFailure::Indexes)?,
            offline: options.offline,
            concurrent_downloads: options.concurrent_downloads,
            http: options.http,
        };
        let unpacked =
            wheels::prepare(&wheels_wanted, &fetch, cache, reporter).map_err(Box::new)?;
        // Build requirements are resolved like the lock's, from the same indexes.
        let indexes = if builds_wanted.is_empty() && local_builds.is_empty() {
            None
        } else {
            Some(
                IndexConfig::resolve(&options.index, &spec.unwrap_or_default(), cache)
                    .map_err(SyncFailure::Indexes)?,
            )
        };
        let built = match &indexes {
            Some(indexes) if !builds_wanted.is_empty() => sdists::prepare(
                &builds_wanted,
                // A lock tack wrote locks build environments; others never do.
                (!lock.tool.fingerprint.is_empty()).then_some(&lock.tool.builds),
                &fetch,
                indexes,
                &interpreter,
                options.concurrent_builds,
                cache,
                reporter,
            )
            .map_err(Box::new)?,
            _ => BTreeMap::new(),
        };
        let local_wheels = match &indexes {
            Some(indexes) if !local_builds.is_empty() => Some(
                local::prepare(
                    &local_builds,
                    (!lock.tool.fingerprint.is_empty()).then_some(&lock.tool.builds),
                    &fetch,
                    indexes,
                    &interpreter,
                    options.concurrent_builds,
                    cache,
                    reporter,
                )
                .map_err(Box::new)?,
            ),
            _ => None,
        };
        (unpacked, built, local_wheels)
    };
    let mut prepared = Vec::with_capacity(wanted.len());
    for planned in &wanted {
        let not_prepared = || SyncFailure::NotPrepared {
            wheel: planned.file_name().to_string(),
        };
        match &planned.source {
            PlannedSource::Wheel(wheel) => {
                let dir = unpacked
                    .get(wheel.sha256.as_str())
                    .ok_or_else(not_prepared)?;
                prepared.push((planned, dir.clone(), wheel.name.value().clone()));
            }
            PlannedSource::Build(sdist) => {
                let wheel = built.get(sdist.sha256.as_str()).ok_or_else(not_prepared)?;
                if wheel.fresh {
                    outcome
                        .built
                        .push((planned.name.clone(), planned.version.clone()));
                }
                prepared.push((planned, wheel.dir.clone(), wheel.filename.clone()));
            }
        }
    }

    // 5. Removals, then installs.
    let direct = options.selection.direct_dependencies(lock);
    for dist in the_plan
        .remove
        .iter()
        .chain(the_plan.reinstall.iter().map(|(dist, _)| dist))
        .chain(&local_replaced)
    {
        wheel::uninstall(&dist.dist_info, &layout).map_err(|source| SyncFailure::Uninstall {
            name: dist.name.clone(),
            source,
        })?;
        outcome
            .removed
            .push((dist.name.clone(), dist.version.clone()));
    }
    // Noted before the first link, so that the next sync can finish what a kill interrupts;
    // installs an earlier repair could not finish stay noted.
    let local_wheels: Vec<(&LocalBuild, &local::LocalWheel)> = local_wheels
        .as_ref()
        .map(|wheels| local_builds.iter().zip(&wheels.wheels).collect())
        .unwrap_or_default();
    let mut pending: Vec<PendingInstall> = prepared
        .iter()
        .map(|(planned, dir, filename)| PendingInstall {
            unpacked: dir.clone(),
            filename: filename.to_string(),
            requested: direct.contains(&planned.name),
        })
        .chain(local_wheels.iter().map(|(_, wheel)| PendingInstall {
            unpacked: wheel.dir.clone(),
            filename: wheel.filename.to_string(),
            requested: true,
        }))
        .collect();
    pending.extend(unfinished.iter().cloned());
    if !pending.is_empty() {
        venv.begin_installs(&pending).map_err(SyncFailure::Venv)?;
    }
    let installing = reporter.installing(prepared.len() + local_wheels.len());
    // One batch: the directories of all wheels created once, the files of all linked on all
    // cores (see `wheel::install_wheels`).
    let direct_url_of_builds: Vec<String> = local_wheels
        .iter()
        .map(|(build, _)| build.direct_url())
        .collect();
    let batch: Vec<wheel::WheelToInstall<'_>> =
        prepared
            .iter()
            .map(|(planned, dir, filename)| wheel::WheelToInstall {
                unpacked: dir,
                filename,
                link_mode: options.link_mode,
                options: wheel::InstallOptions {
                    requested: direct.contains(&planned.name),
                    installer: "tack",
                    direct_url: direct_urls.get(&planned.name).map(String::as_str),
                },
            })
            .chain(local_wheels.iter().zip(&direct_url_of_builds).map(
                |((_, wheel), direct_url)| wheel::WheelToInstall {
                    unpacked: &wheel.dir,
                    filename: &wheel.filename,
                    // The unpacked wheel is removed after the sync: never link to it.
                    link_mode: match options.link_mode {
                        LinkMode::Symlink => LinkMode::Copy,
                        mode => mode,
                    },
                    options: wheel::InstallOptions {
                        requested: true,
                        installer: "tack",
                        direct_url: Some(direct_url),
                    },
                },
            ))
            .collect();
    wheel::install_wheels(&batch, &layout, &|| installing.inc(1)).map_err(|(index, source)| {
        SyncFailure::Install {
            wheel: batch[index].filename.to_string(),
            source,
        }
    })?;
    for (planned, _, _) in &prepared {
        outcome
            .added
            .push((planned.name.clone(), planned.version.clone()));
    }
    for (build, wheel) in &local_wheels {
        outcome
            .added
            .push((wheel.filename.name.clone(), wheel.filename.version.clone()));
        outcome
            .from_source
            .insert(wheel.filename.name.clone(), build.path.clone());
    }
    installing.finish();
    if unfinished.is_empty() {
        venv.end_installs().map_err(SyncFailure::Venv)?;
    } else if !pending.is_empty() {
        venv.begin_installs(&unfinished)
            .map_err(SyncFailure::Venv)?;
    }

    // Whatever is missing, also on a sync that installed nothing.
    if options.compile_bytecode {
        let checked_hash =
            options.source_date_epoch.is_some() && interpreter.version >= Version::new([3, 7]);
        outcome.bytecode = Some(compile_bytecode(
            &layout,
            options.source_date_epoch,
            checked_hash,
        )?);
    }
    if let Some(epoch) = options.source_date_epoch {
        crate::install::times::clamp_times(&venv.root, epoch).map_err(|source| {
            SyncFailure::Times {
                venv: venv.root.clone(),
                source,
            }
        })?;
    }
    created_here.0 = None;
    Ok(outcome)
}

/// The warning a sync with `link_mode` gives when its venv would link to a cache outside
/// `project_dir`.
pub(super) fn symlink_warning(
    link_mode: LinkMode,
    project_dir: &Path,
    cache: &Cache,
) -> Option<String> {
    (link_mode == LinkMode::Symlink && !cache.root().starts_with(project_dir)).then(|| format!(
        "`--link-mode symlink` links the venv to the cache `{}`: the venv breaks when it is copied elsewhere (a Docker stage) or the cache is cleaned; use `hardlink` or `copy` for a venv that must stand alone",
        cache.root().display()
    ))
}

/// How an archive from a URL is installed: as a wheel when it is one (`None` when its name is
/// not a wheel's), else built as an sdist; checked against the lock's sha256 either way.
pub(super) fn archive_source(archive: &LockedArchive) -> Option<PlannedSource> {
    Some(if archive.is_wheel() {
        let name = Verbatim::parse(archive.file_name(), WheelFilename::from_str).ok()?;
        PlannedSource::Wheel(LockedWheel::new(
            name,
            &archive.url,
            archive.size,
            None,
            archive.sha256.clone(),
        ))
    } else {
        PlannedSource::Build(LockedSdist::new(
            archive.file_name().to_string(),
            &archive.url,
            archive.size,
            None,
            archive.sha256.clone(),
        ))
    })
}

/// The PEP 610 `direct_url.json` of an install from `source`.
pub(super) fn direct_url_json(source: &LockedSource) -> String {
    match source {
        LockedSource::Archive(archive) => {
            let mut value = serde_json::json!({
                "url": archive.url.as_str(),
                "archive_info": { "hashes": { "sha256": archive.sha256.as_str() } },
            });
            if let Some(subdirectory) = &archive.subdirectory {
                value["subdirectory"] = serde_json::json!(subdirectory);
            }
            value.to_string()
        }
        LockedSource::Git(git) => {
            let mut vcs_info = serde_json::json!({ "vcs": "git", "commit_id": git.commit_id });
            if let Some(revision) = &git.requested_revision {
                vcs_info["requested_revision"] = serde_json::json!(revision);
            }
            let mut value = serde_json::json!({ "url": git.url.as_str(), "vcs_info": vcs_info });
            if let Some(subdirectory) = &git.subdirectory {
                value["subdirectory"] = serde_json::json!(subdirectory);
            }
            value.to_string()
        }
    }
}

/// Whether the JSON file at `path` holds the same value as `wanted`.
fn same_json(path: &Path, wanted: &str) -> bool {
    let read = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    fs_err::read_to_string(path)
        .ok()
        .and_then(|text| read(&text))
        .is_some_and(|installed| Some(installed) == read(wanted))
}

/// The key of the wheel built from a git commit for `interpreter`.
pub(super) fn vcs_cache_key(git: &LockedGit, interpreter: &crate::python::Interpreter) -> String {
    let mut hasher = Sha256::new();
    for part in [
        git.commit_id.as_str(),
        git.subdirectory.as_deref().unwrap_or(""),
        &interpreter.version.to_string(),
        interpreter.tags.iter().next().unwrap_or_default(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// Removes the venv at its path when dropped, unless the path was taken out: the venv a failed
/// first sync created.
struct RemoveOnFailure(Option<PathBuf>);

impl Drop for RemoveOnFailure {
    fn drop(&mut self) {
        if let Some(root) = self.0.take() {
            if let Err(error) = fs_err::remove_dir_all(&root) {
                tracing::debug!("could not remove the venv of a failed sync: {error}");
            }
        }
    }
}

/// The environment of `options` for `interpreter`, in the state a sync finds it (an existing
/// environment counts as reused), with the lock that keeps other syncs out of it. A dry run
/// takes no lock and writes nothing: it reports the venv as it would be.
fn environment(
    options: &SyncOptions,
    interpreter: &Interpreter,
    reporter: &dyn Reporter,
) -> Result<(Venv, VenvState, Option<std::fs::File>), SyncFailure> {
    let (path, venv_options) = match &options.environment {
        Environment::Existing {
            break_system_packages,
        } => {
            let venv = Venv::existing(interpreter, *break_system_packages)
                .map_err(SyncFailure::Existing)?;
            tracing::debug!(
                "installing into the environment at `{}`",
                venv.root.display()
            );
            let lock = if options.dry_run {
                None
            } else {
                Some(lock_venv(&venv.root, reporter)?)
            };
            return Ok((venv, VenvState::Reused, lock));
        }
        Environment::Venv { path, options } => (path.clone(), *options),
        Environment::NamedVenv { dir, stem, options } => (
            dir.join(format!("{stem}-py{}", interpreter.major_minor())),
            *options,
        ),
    };
    if options.dry_run {
        let (venv, state) =
            Venv::find(&path, interpreter, venv_options).map_err(SyncFailure::Venv)?;
        return Ok((venv, state, None));
    }
    let lock = lock_venv(&path, reporter)?;
    let (venv, state) =
        Venv::create_or_reuse_with(&path, interpreter, venv_options).map_err(SyncFailure::Venv)?;
    tracing::debug!("venv at `{}`: {state:?}", path.display());
    Ok((venv, state, Some(lock)))
}

/// The project in `project_dir`, for its index settings (credentials of named indexes), or
/// `None` when there is no pyproject.toml: a frozen lock installs without one.
fn project_spec(project_dir: &Path) -> Result<Option<ProjectSpec>, SyncFailure> {
    if !project_dir.join("pyproject.toml").exists() {
        return Ok(None);
    }
    ProjectSpec::read(project_dir)
        .map(Some)
        .map_err(SyncFailure::Project)
}

/// Takes the exclusive lock that serializes syncs of the venv at `venv_dir`, waiting (and
/// saying so) while another tack holds it. The lock file lives in the temporary directory,
/// named after the venv's absolute path, so that it survives the venv being replaced and
/// litters no project; the operating system releases it when the process ends, even killed.
pub(super) fn lock_venv(
    venv_dir: &Path,
    reporter: &dyn Reporter,
) -> Result<std::fs::File, SyncFailure> {
    use sha2::Digest as _;
    let absolute = std::path::absolute(venv_dir).unwrap_or_else(|_| venv_dir.to_path_buf());
    let digest = sha2::Sha256::digest(absolute.as_os_str().as_encoded_bytes());
    let path = std::env::temp_dir().join(format!("tack-venv-{}.lock", &hex::encode(digest)[..16]));
    let failed = |source| SyncFailure::VenvLock {
        venv: venv_dir.to_path_buf(),
        source,
    };
    let file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(failed)?
        .into_parts()
        .0;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            reporter.waiting_for_venv(venv_dir);
            file.lock().map_err(failed)?;
        }
        Err(std::fs::TryLockError::Error(error)) => return Err(failed(error)),
    }
    Ok(file)
}

/// Finishes the installs of a sync that was killed while linking wheels into `venv` (see
/// [`Venv::begin_installs`]): each wheel not fully installed is linked again from its unpacked
/// copy in the cache. Returns what was done, and the installs that could not be finished (their
/// copy is gone or damaged), which the caller keeps noted in the venv.
fn finish_interrupted_installs(
    venv: &Venv,
    link_mode: LinkMode,
) -> Result<(Repair, Vec<PendingInstall>), SyncFailure> {
    let mut repair = Repair::default();
    let pending = venv.interrupted_installs();
    if pending.is_empty() {
        return Ok((repair, Vec::new()));
    }
    let complete: BTreeSet<(PackageName, Version)> = site_packages::scan(&venv.layout)
        .map_err(SyncFailure::Scan)?
        .into_iter()
        .map(|dist| (dist.name, dist.version))
        .collect();
    let mut unfinished = Vec::new();
    for wheel in pending {
        match finish_install(venv, &wheel, &complete, link_mode) {
            Ok(true) => repair.finished += 1,
            Ok(false) => {}
            Err(reason) => {
                repair.failed.push((wheel.filename.clone(), reason));
                unfinished.push(wheel);
            }
        }
    }
    if unfinished.is_empty() {
        venv.end_installs().map_err(SyncFailure::Venv)?;
    }
    Ok((repair, unfinished))
}

/// Links one noted wheel again; `Ok(false)` when it was complete already.
fn finish_install(
    venv: &Venv,
    wheel: &PendingInstall,
    complete: &BTreeSet<(PackageName, Version)>,
    link_mode: LinkMode,
) -> Result<bool, String> {
    let filename = WheelFilename::from_str(&wheel.filename)
        .map_err(|error| format!("the noted file name is not a wheel's: {error}"))?;
    if complete.contains(&(filename.name.clone(), filename.version.clone())) {
        return Ok(false);
    }
    let sha256 = wheel
        .unpacked
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let wheels_dir = wheel.unpacked.parent().unwrap_or(Path::new("."));
    match wheel::reuse_unpacked(wheels_dir, &sha256, &filename) {
        Ok(Some(dir)) => {
            let options = wheel::InstallOptions {
                requested: wheel.requested,
                installer: "tack",
                direct_url: None,
            };
            wheel::install_wheel(&dir, &filename, &venv.layout, link_mode, &options)
                .map(|_| true)
                .map_err(|error| error_chain(&error))
        }
        Ok(None) => Err("its unpacked copy is no longer in the cache".to_string()),
        Err(error) => Err(error_chain(&error)),
    }
}

/// An error and its causes on one line, for a report.
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// The pip that `--seed` installs, and where its version comes from (for the report):
///
/// 1. the lock's, when the lock lists pip (in any group, selected or not): adding pip to a
///    dependency group pins the seed, so every build installs the same pip;
/// 2. else the newest pip on an index: the one named on the command line, else the one the
///    lock's packages come from (so that neither pyproject.toml nor pip's configuration, which
///    needs a pip to read, is required under `--frozen`), else the project's or pip's.
fn seed_pip(
    project_dir: &Path,
    lock: &Lock,
    options: &SyncOptions,
    cache: &Cache,
    target: &Target<'_>,
) -> Result<(PlannedPackage, String), SyncFailure> {
    let pip = PackageName::from_str("pip").expect("`pip` is a valid name");
    let locked = lock
        .packages
        .iter()
        .filter(|package| {
            package.name == pip
                && package
                    .requires_python
                    .as_ref()
                    .is_none_or(|requires| requires.contains(target.python_version))
        })
        .filter_map(|package| {
            crate::install::plan::best_wheel(&package.wheels, target.tags)
                .map(|wheel| (package, wheel))
        })
        .max_by(|a, b| a.0.version.cmp(&b.0.version));
    if let Some((package, wheel)) = locked {
        let planned = PlannedPackage {
            name: pip,
            version: package.version.clone(),
            source: PlannedSource::Wheel(wheel.clone()),
        };
        return Ok((planned, "pinned by the lock".to_string()));
    }
    let explicit = options.index.index_url.is_some();
    let recorded = lock
        .packages
        .iter()
        .find_map(|package| package.index.as_ref())
        .and_then(|url| crate::index::IndexUrl::parse(url.as_str()).ok());
    let indexes = match recorded {
        Some(index) if !explicit => vec![index],
        _ => {
            let spec = project_spec(project_dir)?.unwrap_or_default();
            IndexConfig::resolve(&options.index, &spec, cache)
                .map_err(SyncFailure::Indexes)?
                .indexes
        }
    };
    let shown = indexes
        .first()
        .map(crate::index::IndexUrl::redacted)
        .unwrap_or_default();
    let planned = newest_pip(indexes, cache, options, target)?;
    Ok((planned, format!("the newest on `{shown}`")))
}

/// The newest pip wheel that fits the target, for `--seed`.
fn newest_pip(
    indexes: Vec<crate::index::IndexUrl>,
    cache: &Cache,
    options: &SyncOptions,
    target: &Target<'_>,
) -> Result<PlannedPackage, SyncFailure> {
    let (runtime, client) =
        wheels::index_client(indexes, cache, options.offline, options.http).map_err(Box::new)?;
    let name = PackageName::from_str("pip").expect("`pip` is a valid name");
    let page = runtime
        .block_on(client.project(&name))
        .map_err(|error| SyncFailure::SeedPage(Box::new(error)))?
        .ok_or(SyncFailure::SeedMissing("no index has pip"))?;
    let mut best: Option<PlannedPackage> = None;
    for file in &page.1.files {
        let Ok(filename) = WheelFilename::from_str(&file.filename) else {
            continue;
        };
        if file.yanked.is_some()
            || filename.version.any_prerelease()
            || target.tags.priority(&filename).is_none()
        {
            continue;
        }
        if let Some(requires) = file
            .requires_python
            .as_deref()
            .and_then(|text| VersionSpecifiers::from_str(text).ok())
        {
            if !requires.contains(target.python_version) {
                continue;
            }
        }
        let Some(locked) = super::lock::locked_wheel(file) else {
            continue;
        };
        if best
            .as_ref()
            .is_none_or(|current| filename.version > current.version)
        {
            best = Some(PlannedPackage {
                name: name.clone(),
                version: filename.version.clone(),
                source: PlannedSource::Wheel(locked),
            });
        }
    }
    runtime.shutdown_background();
    best.ok_or(SyncFailure::SeedMissing("no pip wheel fits this Python"))
}

/// `python -m compileall` over site-packages, on every core; under `SOURCE_DATE_EPOCH`, the
/// same bytes every time (`checked_hash` where the interpreter has it, Python 3.7 and later).
fn compile_bytecode(
    layout: &crate::install::InstallLayout,
    source_date_epoch: Option<u64>,
    checked_hash: bool,
) -> Result<Bytecode, SyncFailure> {
    let started = Instant::now();
    let mut command = std::process::Command::new(&layout.python);
    command.args(["-m", "compileall", "-q", "-j", "0"]);
    if checked_hash {
        command.args(["--invalidation-mode", "checked-hash"]);
    }
    if let Some(epoch) = source_date_epoch {
        command
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .env("PYTHONHASHSEED", "0");
    }
    command.arg(&layout.purelib);
    if layout.platlib != layout.purelib {
        command.arg(&layout.platlib);
    }
    let status = command
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|source| SyncFailure::Bytecode {
            python: layout.python.clone(),
            source,
        })?;
    Ok(Bytecode {
        elapsed: started.elapsed(),
        incomplete: !status.success(),
    })
}

/// Wheel tags through the plan's policy trait.
pub(super) struct TagsPolicy<'a>(pub(super) &'a Tags);

impl TagPolicy for TagsPolicy<'_> {
    fn priority(&self, wheel: &WheelFilename) -> Option<usize> {
        self.0.priority(wheel)
    }

    fn describe(&self) -> String {
        let shown: Vec<&str> = self.0.iter().take(5).collect();
        format!("{}, ...", shown.join(", "))
    }
}
