//! `tack fetch`: everything a sync of the lock needs, downloaded, verified and put in the cache,
//! and nothing installed. A Dockerfile runs it as a layer that needs the network and no project
//! code; a build without network carries the cache in and runs `tack sync --offline --frozen`.
//!
//! The selection is that of a sync (the same flags), reduced as `tack export` reduces it
//! ([`super::export::subset`]). Then, for one interpreter (the one a sync would use):
//!
//! - each selected package's wheel that fits it best, as the sync plan chooses, is prepared by
//!   [`super::wheels::prepare`]: downloaded, checked against the lock's sha256 and unpacked into
//!   the cache, where a sync links it from;
//! - a package with no fitting wheel is **built** from its sdist by [`super::sdists::prepare`],
//!   which caches the built wheel by sdist, interpreter and build environment: the offline sync
//!   then finds it and builds nothing. Building here rather than at the sync keeps the slow,
//!   networked part in one layer and the offline sync a matter of links;
//! - the project and path dependencies are not built (their source may not be there yet, and a
//!   build of a tree is never cached by content), but the wheels of their locked build
//!   environments are prepared, so that the offline sync can build them.
//!
//! With `all_platforms`, no interpreter is needed: every wheel and sdist of every selected
//! package, every URL archive, and every wheel of their locked build environments, is
//! downloaded and checked (wheels are also unpacked), and every git dependency's locked commit
//! is fetched into the cached clone. Nothing is built; an offline sync on any platform then
//! builds what it must from the cached sdist or clone, in the build environment the lock
//! holds for it.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pep440_rs::Version;

use super::build_env::LockedEnvironment;
use super::export::{self, ExportError};
use super::git::{GitError, Repository};
use super::local::{self, LocalBuildError};
use super::sdists::{self, SdistBuild, SdistError};
use super::sync::TagsPolicy;
use super::wheels::{self, Download, FetchOptions, PrepareError};
use super::{Reporter, Selection};
use crate::cache::{Bucket, Cache, CacheError};
use crate::diagnostic::Diagnostic;
use crate::index::config::{IndexChoice, IndexConfig, IndexConfigError};
use crate::index::HttpSettings;
use crate::install::plan::{best_wheel, plan, BuildPolicy, PlanError, PlannedSource, Target};
use crate::lock::{Lock, LockedSdist, LockedSource, LockedWheel};
use crate::normalize::PackageName;
use crate::project::{DirectUrl, ProjectError, ProjectSpec};
use crate::python::interpreter::{find_interpreter, InterpreterError};

/// What to fetch, and how.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub selection: Selection,
    /// `--python`: the interpreter whose files to fetch.
    pub python: Option<String>,
    /// Every file of every selected package, for any platform (nothing built).
    pub all_platforms: bool,
    pub index: IndexChoice,
    pub offline: bool,
    pub concurrent_downloads: usize,
    pub http: HttpSettings,
    pub builds: BuildPolicy,
    pub concurrent_builds: NonZeroUsize,
}

/// What [`fetch`] put in the cache (or found there).
#[derive(Debug, Default)]
pub struct FetchOutcome {
    /// The interpreter the files are for (not with `all_platforms`): version and path.
    pub python: Option<(Version, PathBuf)>,
    /// Wheels of the selected packages, ready.
    pub wheels: usize,
    /// Sdists downloaded (with `all_platforms`), URL archives that are sdists included.
    pub sdists: usize,
    /// Git dependencies whose locked commit is in the cached clone (with `all_platforms`).
    pub commits: usize,
    /// Packages built from their sdist, or whose build was found in the cache.
    pub built: Vec<(PackageName, Version)>,
    /// Wheels of locked build environments, ready.
    pub build_wheels: usize,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchFailure {
    #[error(transparent)]
    Select(#[from] ExportError),
    #[error("cannot find a Python interpreter to fetch for")]
    Interpreter(#[source] InterpreterError),
    #[error("cannot install the lock here")]
    Plan(#[source] PlanError),
    #[error("cannot read the project's index settings")]
    Project(#[source] ProjectError),
    #[error("cannot choose the indexes")]
    Indexes(#[source] IndexConfigError),
    #[error("cannot use the cache")]
    Cache(#[source] CacheError),
    #[error(transparent)]
    Prepare(#[from] Box<PrepareError>),
    #[error(transparent)]
    Build(#[from] Box<SdistError>),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    BuildLocal(#[from] Box<LocalBuildError>),
    #[error("the archive `{file}` of `{name}` is not named as a wheel should be")]
    ArchiveName { name: PackageName, file: String },
}

impl Diagnostic for FetchFailure {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Prepare(error) => error.hints(),
            Self::Build(error) => error.hints(),
            Self::Select(error) => error.hints(),
            Self::Git(error) => error.hints(),
            Self::BuildLocal(error) => error.hints(),
            _ => Vec::new(),
        }
    }

    fn is_bug(&self) -> bool {
        match self {
            Self::Prepare(error) => error.is_bug(),
            Self::Build(error) => error.is_bug(),
            Self::Select(error) => error.is_bug(),
            _ => false,
        }
    }
}

/// Fetch what a sync of `lock` under `request.selection` needs into `cache`; see the module
/// docs. `project_dir` is read only for the project's index settings (credentials).
pub fn fetch(
    project_dir: &Path,
    lock: &Lock,
    request: &FetchRequest,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<FetchOutcome, FetchFailure> {
    let subset = export::subset(lock, &request.selection)?;
    let spec = project_spec(project_dir)?;
    let fetch_options = FetchOptions {
        indexes: IndexConfig::for_downloads(&request.index, spec.as_ref())
            .map_err(FetchFailure::Indexes)?,
        offline: request.offline,
        concurrent_downloads: request.concurrent_downloads,
        http: request.http,
    };
    // A lock tack wrote locks build environments; others never do.
    let locked_builds = (!lock.tool.fingerprint.is_empty()).then_some(&subset.tool.builds);
    let mut outcome = FetchOutcome::default();
    if request.all_platforms {
        let wheels: Vec<LockedWheel> = subset
            .packages
            .iter()
            .flat_map(|package| package.wheels.iter().cloned())
            .collect();
        let build_wheels: Vec<LockedWheel> = subset
            .tool
            .builds
            .packages
            .iter()
            .flat_map(|package| package.wheels.iter().cloned())
            .collect();
        // URL archives like index files; git commits into the cached clones.
        let mut direct_wheels = Vec::new();
        let mut direct_sdists = Vec::new();
        for package in &subset.direct {
            match &package.source {
                LockedSource::Archive(archive) => match super::sync::archive_source(archive) {
                    Some(PlannedSource::Wheel(wheel)) => direct_wheels.push(wheel),
                    Some(PlannedSource::Build(sdist)) => direct_sdists.push(sdist),
                    None => {
                        return Err(FetchFailure::ArchiveName {
                            name: package.name.clone(),
                            file: archive.file_name().to_string(),
                        })
                    }
                },
                LockedSource::Git(git) => {
                    let url = DirectUrl::from_url(git.url.clone());
                    Repository::open(&package.name, &url, cache)?.ensure_commit(&git.commit_id)?;
                    outcome.commits += 1;
                }
            }
        }
        outcome.wheels = wheels.len() + direct_wheels.len();
        outcome.build_wheels = build_wheels.len();
        let all: Vec<LockedWheel> = wheels
            .into_iter()
            .chain(direct_wheels)
            .chain(build_wheels)
            .collect();
        wheels::prepare(&all, &fetch_options, cache, reporter).map_err(Box::new)?;
        let sdists = subset
            .packages
            .iter()
            .filter_map(|package| package.sdist.as_ref())
            .chain(&direct_sdists);
        outcome.sdists = fetch_sdists(sdists, &fetch_options, cache, reporter)?;
        return Ok(outcome);
    }

    let interpreter = find_interpreter(
        request.python.as_deref(),
        lock.requires_python.as_ref(),
        cache,
    )
    .map_err(FetchFailure::Interpreter)?;
    outcome.python = Some((interpreter.version.clone(), interpreter.path.clone()));
    let tags = TagsPolicy(&interpreter.tags);
    let target = Target {
        markers: &interpreter.markers,
        python_version: &interpreter.version,
        tags: &tags,
        // The subset has no extras or groups left: its markers are over the environment.
        extras: Vec::new(),
        groups: Vec::new(),
        builds: request.builds.clone(),
    };
    let the_plan = plan(
        &subset,
        &target,
        Vec::<(PackageName, Version, ())>::new(),
        false,
    )
    .map_err(FetchFailure::Plan)?;
    let mut wanted = Vec::new();
    let mut builds = Vec::new();
    for planned in the_plan.install {
        match planned.source {
            PlannedSource::Wheel(wheel) => wanted.push(wheel),
            PlannedSource::Build(sdist) => builds.push(SdistBuild {
                name: planned.name,
                version: planned.version,
                sdist,
            }),
        }
    }
    outcome.wheels = wanted.len();
    // The build environments of the source trees a sync builds (the project, path
    // dependencies), for this interpreter.
    for (directory, _) in &the_plan.local {
        let environment = locked_builds
            .and_then(|builds| LockedEnvironment::from_lock(builds, &directory.name, None));
        let Some(environment) = environment else {
            continue;
        };
        for package in &environment.packages {
            let applies = package
                .marker
                .as_ref()
                .is_none_or(|marker| marker.evaluate(&interpreter.markers, &[], &[]));
            if let Some(wheel) = applies
                .then(|| best_wheel(&package.wheels, &tags))
                .flatten()
            {
                outcome.build_wheels += 1;
                wanted.push(wheel.clone());
            }
        }
    }
    // Git and URL dependencies, as a sync installs them: an archive like an index file (an
    // sdist built), a git commit fetched into the cached clone and built, so that an offline
    // sync needs nothing.
    let mut vcs_builds = Vec::new();
    let checkouts = tempfile::Builder::new()
        .prefix(".checkouts-")
        .tempdir_in(
            cache
                .ensure_bucket(Bucket::Built)
                .map_err(FetchFailure::Cache)?,
        )
        .map_err(|source| {
            FetchFailure::Cache(CacheError::Write {
                path: cache.bucket(Bucket::Built),
                source,
            })
        })?;
    for (package, _) in &the_plan.direct {
        match &package.source {
            LockedSource::Archive(archive) => {
                match super::sync::archive_source(archive).ok_or_else(|| {
                    FetchFailure::ArchiveName {
                        name: package.name.clone(),
                        file: archive.file_name().to_string(),
                    }
                })? {
                    PlannedSource::Wheel(wheel) => {
                        outcome.wheels += 1;
                        wanted.push(wheel);
                    }
                    PlannedSource::Build(sdist) => builds.push(SdistBuild {
                        name: package.name.clone(),
                        version: package.version.clone(),
                        sdist,
                    }),
                }
            }
            LockedSource::Git(git) => {
                let cache_key = super::sync::vcs_cache_key(git, &interpreter);
                if local::cached_vcs_wheel(cache, &cache_key).is_some() {
                    continue;
                }
                vcs_builds.push(local::git_build(
                    &package.name,
                    git,
                    super::sync::direct_url_json(&package.source),
                    cache_key,
                    Some(&checkouts.path().join(package.name.as_ref())),
                    cache,
                )?);
            }
        }
    }
    wheels::prepare(&wanted, &fetch_options, cache, reporter).map_err(Box::new)?;
    if !vcs_builds.is_empty() {
        let indexes =
            IndexConfig::resolve(&request.index, &spec.clone().unwrap_or_default(), cache)
                .map_err(FetchFailure::Indexes)?;
        local::prepare(
            &vcs_builds,
            locked_builds,
            &fetch_options,
            &indexes,
            &interpreter,
            request.concurrent_builds,
            cache,
            reporter,
        )
        .map_err(Box::new)?;
        outcome.built.extend(
            the_plan
                .direct
                .iter()
                .filter(|(package, _)| matches!(package.source, LockedSource::Git(_)))
                .map(|(package, _)| (package.name.clone(), package.version.clone())),
        );
    }
    if !builds.is_empty() {
        let indexes = IndexConfig::resolve(&request.index, &spec.unwrap_or_default(), cache)
            .map_err(FetchFailure::Indexes)?;
        sdists::prepare(
            &builds,
            locked_builds,
            &fetch_options,
            &indexes,
            &interpreter,
            request.concurrent_builds,
            cache,
            reporter,
        )
        .map_err(Box::new)?;
        outcome.built = builds
            .into_iter()
            .map(|build| (build.name, build.version))
            .collect();
    }
    Ok(outcome)
}

/// Downloads `sdists` into the archives bucket, where a sync that builds one looks first;
/// returns how many sdists there are.
fn fetch_sdists<'a>(
    sdists: impl Iterator<Item = &'a LockedSdist>,
    fetch_options: &FetchOptions,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<usize, FetchFailure> {
    let archives_dir = cache
        .ensure_bucket(Bucket::Archives)
        .map_err(FetchFailure::Cache)?;
    let sdists: BTreeMap<String, Download> = sdists
        .map(|sdist| {
            let download = Download {
                name: sdist.name.clone(),
                url: sdist.url.clone(),
                sha256: sdist.sha256.to_string(),
                size: sdist.size,
                destination: archives_dir.join(format!("{}.sdist", sdist.sha256)),
            };
            (download.sha256.clone(), download)
        })
        .collect();
    let count = sdists.len();
    let missing: Vec<Download> = sdists
        .into_values()
        .filter(|download| !sdists::has_sha256(&download.destination, &download.sha256))
        .collect();
    let nothing: wheels::Then<()> = Arc::new(|_| Ok(()));
    wheels::download_all(missing, fetch_options, cache, reporter, &nothing).map_err(Box::new)?;
    Ok(count)
}

/// The project in `project_dir`, for its index settings, or `None` without pyproject.toml (a
/// frozen lock is fetched without one).
fn project_spec(project_dir: &Path) -> Result<Option<ProjectSpec>, FetchFailure> {
    if !project_dir.join("pyproject.toml").exists() {
        return Ok(None);
    }
    ProjectSpec::read(project_dir)
        .map(Some)
        .map_err(FetchFailure::Project)
}
