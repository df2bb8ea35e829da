//! The lock workflow: `pyproject.toml` -> [`ProjectSpec`] -> [`Manifest`] -> (resolver <->
//! [`IndexClient`]) -> [`Resolution`] -> [`Lock`] -> `pylock.toml`.
//!
//! 1. The project is read, and the inputs that decide the answer (requirements, indexes,
//!    resolver settings) are fingerprinted. A lock whose fingerprint matches is up to date and
//!    is returned without a request.
//! 2. Otherwise the existing lock's versions are preferences (all but the packages being
//!    upgraded); a project coming from Poetry without a `pylock.toml` gets poetry.lock's versions
//!    as preferences instead, and a report of what was kept and why the rest moved.
//! 3. The resolution becomes a lock. The build environments of the packages a sync may build
//!    from source, and of the project when it has a `[build-system]`, are locked with it, by
//!    the same client ([`super::build_lock`]); those that cannot be are named in the outcome's
//!    warnings. The lock is written only when its text changed.
//!
//! With `check`, nothing is resolved or written: a missing or stale lock is an error that names
//! what changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use pep508_rs::Requirement;

use super::build_lock::{lock_builds, BuildLockRequest, ProjectBuild};
use super::direct_sources::{self, DirectContext, DirectPrepared, DirectSourceError};
use super::metadata_builds::SdistMetadataBuilder;
use super::path_sources::{self, PathSource, PathSourceError};
use super::poetry_report::{poetry_preferences, poetry_report, IndexLookup};
use super::wheels::{FetchOptions, DEFAULT_CONCURRENT_DOWNLOADS};
use super::Reporter;
use crate::build::BuildSystem;
use crate::cache::Cache;
use crate::diagnostic::Diagnostic;
use crate::filename::WheelFilename;
use crate::index::config::{IndexChoice, IndexConfig, IndexConfigError};
use crate::index::{ClientOptions, HttpSettings, IndexClient, IndexError, IndexFile};
use crate::lock::poetry::{PoetryLock, PoetryLockError, POETRY_LOCK_FILE_NAME};
use crate::lock::{
    without_credentials, InputRequirement, InvalidMarker, Lock, LockError, LockInputs, LockMarker,
    LockedBuilds, LockedDependency, LockedDirect, LockedDirectory, LockedFile, LockedPackage,
    LockedSdist, LockedWheel, Sha256Digest, TackLockTool, Verbatim, CREATED_BY, LOCK_FILE_NAME,
    LOCK_VERSION,
};
use crate::normalize::{ExtraName, PackageName};
use crate::project::{ProjectError, ProjectSpec};
use crate::resolver::{
    self, Activation, Manifest, MetadataBuilder, Resolution, ResolveError, RootRequirement,
};
use pep440_rs::Version;

/// The async runtime and the index client of one lock, shared by the resolution of the
/// project and those of the build environments.
struct Session {
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    client: IndexClient,
}

impl Session {
    fn new(
        index_config: &IndexConfig,
        cache: &Cache,
        options: &LockOptions,
    ) -> Result<Self, LockFailure> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(LockFailure::Runtime)?;
        let mut client_options =
            ClientOptions::new(index_config.indexes.clone(), cache.clone()).with_http(options.http);
        client_options.pins.clone_from(&index_config.pins);
        client_options
            .supplemental
            .clone_from(&index_config.supplemental);
        client_options.offline = options.offline;
        let client = IndexClient::new(client_options).map_err(LockFailure::Client)?;
        Ok(Self {
            runtime: Some(runtime),
            client,
        })
    }

    fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.runtime.as_ref().map(tokio::runtime::Runtime::handle)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        tracing::debug!("index client: {:?}", self.client.stats());
        // Prefetches still in flight (and a DNS lookup stuck in the blocking pool) must not
        // hold up the exit: the answer is known.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Resolver settings that change answers; recorded in the lock's inputs.
const RESOLVER_SETTINGS: [(&str, &str); 2] = [
    ("fork-strategy", "requires-python"),
    ("prerelease", "if-necessary-or-explicit"),
];

/// What the caller wants from [`lock`].
#[derive(Debug, Clone, Default)]
pub struct LockOptions {
    pub index: IndexChoice,
    /// Take the newest versions of everything.
    pub upgrade: bool,
    /// Take the newest versions of these packages.
    pub upgrade_packages: BTreeSet<PackageName>,
    /// Fail (and write nothing) when the lock is missing or stale.
    pub check: bool,
    /// Use only what the cache holds.
    pub offline: bool,
    pub http: HttpSettings,
    /// Builds of sdists' metadata at most at once (`TACK_CONCURRENT_BUILDS`); `None`: one per
    /// CPU.
    pub concurrent_builds: Option<std::num::NonZeroUsize>,
}

/// What [`lock`] did.
#[derive(Debug)]
pub struct LockOutcome {
    /// The lock as it is now on disk.
    pub lock: Lock,
    pub status: LockStatus,
    /// Warnings about the project (unsupported Poetry keys, ...).
    pub warnings: Vec<String>,
    /// One line per package that was added, removed or moved against the previous lock.
    pub changes: Vec<String>,
    /// The forks the resolution split into (empty or one when it did not fork).
    pub forks: Vec<String>,
    /// For a project coming from Poetry: what was kept of poetry.lock, and what moved and why.
    pub poetry: Option<Vec<String>>,
    pub started: Instant,
}

/// Whether [`lock`] resolved and wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockStatus {
    /// The inputs are those the lock was made from: nothing was resolved.
    UpToDate,
    /// Resolved, and the result is the lock already on disk.
    Unchanged,
    /// Resolved, and written.
    Written,
}

/// Why a lock could not be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum LockFailure {
    /// The error names pyproject.toml, the line and the column already.
    #[error(transparent)]
    Project(ProjectError),
    #[error("cannot choose the indexes")]
    Indexes(#[source] IndexConfigError),
    #[error("cannot read the existing lock")]
    ReadLock(#[source] LockError),
    #[error("cannot read `{POETRY_LOCK_FILE_NAME}`")]
    ReadPoetryLock(#[source] PoetryLockError),
    #[error("`{LOCK_FILE_NAME}` does not exist")]
    Missing,
    #[error("`{LOCK_FILE_NAME}` is out of date with pyproject.toml:\n{}", list(.changes))]
    Stale { changes: Vec<String> },
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot set up the index client")]
    Client(#[source] IndexError),
    #[error("no solution found when resolving dependencies of {}:\n{}", project_label(.project.as_ref()), indent(.explanation))]
    NoSolution {
        project: Option<PackageName>,
        /// The derivation, one statement per line.
        explanation: String,
        hints: Vec<String>,
    },
    #[error("failed to resolve the dependencies")]
    Resolve(#[source] ResolveError),
    #[error("cannot lock `{name}=={version}`: the index gives no file with a sha256 hash for it")]
    NoHashes {
        name: PackageName,
        version: pep440_rs::Version,
    },
    #[error("cannot lock `{name}=={version}`: its marker `{marker}` does not parse (this is a bug in tack)")]
    Marker {
        name: PackageName,
        version: pep440_rs::Version,
        marker: String,
        #[source]
        source: InvalidMarker,
    },
    #[error("cannot write the lock")]
    Write(#[source] LockError),
    #[error(transparent)]
    PathSource(PathSourceError),
    #[error(transparent)]
    DirectSource(DirectSourceError),
}

impl Diagnostic for LockFailure {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::ReadPoetryLock(_) => vec![format!(
                "tack reads `{POETRY_LOCK_FILE_NAME}` only to keep its versions; move it away to lock without it"
            )],
            Self::Project(error) => error.hints(),
            Self::PathSource(error) => error.hints(),
            Self::DirectSource(error) => error.hints(),
            Self::Missing => vec!["run `tack lock` to create it".into()],
            Self::Stale { .. } => vec!["run `tack lock` to update it".into()],
            Self::NoSolution { hints, .. } => hints.clone(),
            Self::NoHashes { .. } => vec![
                "use an index that publishes hashes (PEP 503 `#sha256=` fragments or PEP 691 `hashes`)"
                    .into(),
            ],
            _ => Vec::new(),
        }
    }

    fn is_bug(&self) -> bool {
        // A resolver bug is its own source's to say (`ResolveError::is_bug`).
        matches!(self, Self::Marker { .. })
            || matches!(self, Self::PathSource(error) if error.is_bug())
            || matches!(self, Self::DirectSource(error) if error.is_bug())
    }
}

fn list(changes: &[String]) -> String {
    changes
        .iter()
        .map(|change| format!("  - {change}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn project_label(name: Option<&PackageName>) -> String {
    name.map_or_else(|| "the project".to_string(), |name| format!("`{name}`"))
}

/// Bring `pylock.toml` in `project_dir` up to date with `pyproject.toml` (or, with
/// `options.check`, check that it is); see the module docs.
pub fn lock(
    project_dir: &Path,
    options: &LockOptions,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<LockOutcome, LockFailure> {
    let started = Instant::now();
    let LockBasis {
        spec,
        index_config,
        paths,
        mut project_build,
        inputs,
        fingerprint,
    } = read_inputs(project_dir, options, cache)?;
    let lock_path = project_dir.join(LOCK_FILE_NAME);
    let existing = Lock::read(&lock_path).map_err(LockFailure::ReadLock)?;
    let upgrading = options.upgrade || !options.upgrade_packages.is_empty();

    let outcome = |lock, status| LockOutcome {
        lock,
        status,
        warnings: spec.warnings.clone(),
        changes: Vec::new(),
        forks: Vec::new(),
        poetry: None,
        started,
    };
    let existing = match existing {
        Some(lock) if lock.tool.fingerprint == fingerprint && !upgrading => {
            return Ok(outcome(lock, LockStatus::UpToDate));
        }
        other => other,
    };
    if options.check {
        return Err(match existing {
            None => LockFailure::Missing,
            Some(existing) => {
                let mut changes = existing.tool.inputs.diff(&inputs);
                if changes.is_empty() {
                    changes.push(
                        "the lock was written by another tool or another version of tack"
                            .to_string(),
                    );
                }
                LockFailure::Stale { changes }
            }
        });
    }

    // A project coming from Poetry: its first lock keeps poetry.lock's versions where they fit.
    let poetry = match &existing {
        None if !upgrading => PoetryLock::read(&project_dir.join(POETRY_LOCK_FILE_NAME))
            .map_err(LockFailure::ReadPoetryLock)?,
        _ => None,
    };
    let mut manifest = manifest(
        &spec,
        existing.as_ref(),
        options.upgrade,
        &options.upgrade_packages,
    );
    if let Some(poetry) = &poetry {
        manifest.preferences = poetry_preferences(poetry);
    }
    manifest.fixed = path_sources::fixed(&paths);
    let session = Session::new(&index_config, cache, options)?;
    let fetch = fetch_options(&index_config, options);
    let direct = match session.handle() {
        Some(runtime) => direct_sources::prepare(
            &spec,
            &DirectContext {
                existing: existing.as_ref(),
                upgrade: options.upgrade,
                upgrade_packages: &options.upgrade_packages,
                client: &session.client,
                runtime,
                indexes: &index_config,
                fetch: &fetch,
                cache,
            },
        )
        .map_err(LockFailure::DirectSource)?,
        None => BTreeMap::new(),
    };
    manifest.fixed.extend(direct_sources::fixed(&direct));
    let concurrent_builds = options.concurrent_builds.unwrap_or_else(|| {
        std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN)
    });
    let builder = Arc::new(
        SdistMetadataBuilder::new(
            index_config.clone(),
            fetch.clone(),
            manifest.requires_python.clone(),
            cache.clone(),
        )
        .with_concurrent_builds(concurrent_builds),
    );
    if let Some(runtime) = session.handle() {
        let names = pages_to_prefetch(
            project_dir,
            existing.as_ref(),
            poetry.as_ref(),
            &manifest,
            &session.client,
        );
        tracing::debug!("prefetching {} pages", names.len());
        session.client.prefetch_pages(names, runtime);
    }
    let resolution = resolve(&manifest, &session, Arc::clone(&builder) as _, reporter)?;

    let mut lock = build_lock(&resolution, &spec, &paths, &direct, inputs, fingerprint)?;
    let mut warnings = spec.warnings.clone();
    let previous_lock = if poetry.is_some() {
        POETRY_LOCK_FILE_NAME
    } else {
        LOCK_FILE_NAME
    };
    warnings.extend(
        resolution
            .yanked
            .iter()
            .map(|yanked| yanked_warning(yanked, previous_lock)),
    );
    if let (Some(project), Some(interpreter)) = (project_build.as_mut(), builder.interpreter()) {
        if let Err(error) =
            ask_the_backend(project, &spec, interpreter, &index_config, &fetch, cache)
        {
            // One line: the backend's whole output is for `-v`.
            tracing::debug!("{}", super::sync::error_chain(&*error));
            warnings.push(format!(
                "could not ask the build backend of `{}` what it needs beyond `[build-system] requires` ({error}); a sync builds the project with what is locked, and fails if the backend asks for more",
                project.name,
            ));
        }
    }
    if let Some(runtime) = session.handle() {
        let metadata_builds = builder.built();
        let request = BuildLockRequest {
            packages: &lock.packages,
            metadata_builds: &metadata_builds,
            project: project_build.as_ref(),
            requires_python: spec.requires_python.as_ref(),
            preferences: if options.upgrade {
                BTreeMap::new()
            } else {
                preferences(
                    existing
                        .iter()
                        .flat_map(|lock| &lock.tool.builds.packages)
                        .filter(|package| !options.upgrade_packages.contains(&package.name))
                        .map(|package| (&package.name, &package.version)),
                )
            },
        };
        let locked = {
            let _resolving = reporter.resolving();
            lock_builds(&request, &session.client, runtime, &fetch, cache)
        };
        lock.tool.builds = locked.builds;
        warnings.extend(locked.unlockable);
    }
    let locked_names: BTreeSet<PackageName> = index_names(&lock).cloned().collect();
    if let Err(error) = session
        .client
        .remember_pages(project_dir, locked_names.into_iter().collect())
    {
        tracing::debug!("could not remember the pages of this lock: {error}");
    }
    drop(session);
    let changes = existing
        .as_ref()
        .map(|existing| existing.diff_packages(&lock))
        .unwrap_or_default();
    let unchanged = existing
        .as_ref()
        .is_some_and(|existing| existing.to_toml() == lock.to_toml());
    if !unchanged {
        lock.write(&lock_path).map_err(LockFailure::Write)?;
    }
    let poetry = poetry.map(|poetry| {
        let index = IndexLookup {
            config: &index_config,
            cache,
            offline: options.offline,
            http: options.http,
        };
        poetry_report(&poetry, &lock, &spec, &index)
    });
    let mut outcome = outcome(
        lock,
        if unchanged {
            LockStatus::Unchanged
        } else {
            LockStatus::Written
        },
    );
    outcome.warnings = warnings;
    outcome.changes = changes;
    outcome.forks = resolution.forks;
    outcome.poetry = poetry;
    Ok(outcome)
}

/// What a lock is made from, read from the project: step 1 of the module docs.
struct LockBasis {
    spec: ProjectSpec,
    index_config: IndexConfig,
    paths: BTreeMap<PackageName, PathSource>,
    project_build: Option<ProjectBuild>,
    inputs: LockInputs,
    /// `inputs.fingerprint()`, which the lock records in `[tool.tack]`.
    fingerprint: String,
}

/// The project in `project_dir`, its indexes, its path dependencies (their metadata built when
/// it changed) and the inputs fingerprint of all that; see the module docs.
fn read_inputs(
    project_dir: &Path,
    options: &LockOptions,
    cache: &Cache,
) -> Result<LockBasis, LockFailure> {
    let spec = ProjectSpec::read(project_dir).map_err(LockFailure::Project)?;
    let index_config =
        IndexConfig::resolve(&options.index, &spec, cache).map_err(LockFailure::Indexes)?;
    let paths = path_sources::prepare(
        &spec,
        &index_config,
        &fetch_options(&index_config, options),
        cache,
    )
    .map_err(LockFailure::PathSource)?;
    let project_build = project_build(&spec);
    let mut inputs = lock_inputs(&spec, &index_config, project_build.as_ref());
    for (name, path) in &paths {
        inputs.resolver.insert(
            format!("path:{name}"),
            format!(
                "{} (metadata {})",
                path.lock_path,
                &path.digest[..16.min(path.digest.len())]
            ),
        );
    }
    for (name, declared) in &spec.direct_sources {
        if let Some((kind, text)) = direct_sources::input(&declared.source) {
            inputs.resolver.insert(format!("{kind}:{name}"), text);
        }
    }
    let fingerprint = inputs.fingerprint();
    Ok(LockBasis {
        spec,
        index_config,
        paths,
        project_build,
        inputs,
        fingerprint,
    })
}

/// The inputs fingerprint of the project in `project_dir` as it is now, with the project's
/// warnings: what [`lock`] compares with the lock's own to decide that the lock is up to date
/// ([`LockStatus::UpToDate`]), without reading the lock. For the sync stamp
/// ([`super::sync_stamp`]).
pub fn current_fingerprint(
    project_dir: &Path,
    options: &LockOptions,
    cache: &Cache,
) -> Result<(String, Vec<String>), LockFailure> {
    let inputs = read_inputs(project_dir, options, cache)?;
    Ok((inputs.fingerprint, inputs.spec.warnings))
}

/// The pages the resolution will most likely ask for, to be requested all at once before it
/// starts: those of every package the existing lock holds (its build environments' too), else
/// of poetry.lock's packages, and those the cache remembers from the last lock of this project
/// (see [`IndexClient::remember_pages`]), which is all there is when the lock file is gone.
/// Packages that are not looked up on an index (path, git and URL dependencies) are left out.
/// A name no longer needed costs one request; a missing one is found the usual way.
fn pages_to_prefetch(
    project_dir: &Path,
    existing: Option<&Lock>,
    poetry: Option<&PoetryLock>,
    manifest: &Manifest,
    client: &IndexClient,
) -> BTreeSet<PackageName> {
    let from_lock = existing.into_iter().flat_map(index_names);
    let from_poetry = poetry.into_iter().flat_map(|poetry| {
        poetry
            .packages
            .iter()
            .filter(|package| package.direct_source.is_none())
            .map(|package| &package.name)
    });
    let mut names: BTreeSet<PackageName> = from_lock.chain(from_poetry).cloned().collect();
    names.extend(client.remembered_pages(project_dir));
    names.extend(
        manifest
            .requirements
            .iter()
            .map(|requirement| requirement.requirement.name.clone()),
    );
    names.retain(|name| {
        !manifest.fixed.contains_key(name) && manifest.project_name.as_ref() != Some(name)
    });
    names
}

/// The names of the packages `lock` takes from an index: its packages and those of its build
/// environments.
fn index_names(lock: &Lock) -> impl Iterator<Item = &PackageName> {
    lock.packages.iter().map(|package| &package.name).chain(
        lock.tool
            .builds
            .packages
            .iter()
            .map(|package| &package.name),
    )
}

/// Resolve `manifest` against the configured indexes, with the sdists whose metadata is
/// dynamic built by `builder` (for an interpreter that `requires-python` allows, found when
/// first needed).
fn resolve(
    manifest: &Manifest,
    session: &Session,
    builder: Arc<dyn MetadataBuilder>,
    reporter: &dyn Reporter,
) -> Result<Resolution, LockFailure> {
    let Some(runtime) = session.handle() else {
        return Err(LockFailure::Resolve(ResolveError::Internal(
            "the lock's runtime is gone".to_string(),
        )));
    };
    let resolution = {
        let _resolving = reporter.resolving();
        resolver::resolve_with(manifest, &session.client, runtime, Some(builder))
    };
    resolution.map_err(|error| match error {
        ResolveError::NoSolution(explanation) => {
            let (tree, hints): (Vec<&str>, Vec<&str>) = explanation
                .lines()
                .partition(|line| !line.starts_with("hint: "));
            LockFailure::NoSolution {
                project: manifest.project_name.clone(),
                explanation: tree.join("\n"),
                hints: hints
                    .iter()
                    .map(|hint| hint.trim_start_matches("hint: ").to_string())
                    .collect(),
            }
        }
        other => LockFailure::Resolve(other),
    })
}

/// The project, when it is a package (`ProjectSpec::package`: a `[build-system]` table, or
/// Poetry's package mode, built with poetry-core without the table): its build environment is
/// locked too.
fn project_build(spec: &ProjectSpec) -> Option<ProjectBuild> {
    let name = spec.name.clone().filter(|_| spec.package)?;
    let requires = BuildSystem::read(&spec.root)
        .map(|system| system.requires)
        .map_err(|error| super::sync::error_chain(&error));
    Some(ProjectBuild { name, requires })
}

/// Adds to the project's build requirements what its backend asks for to build a wheel and an
/// editable wheel (`get_requires_for_build_*`), run once here for the lock's interpreter, so
/// that the locked build environment holds everything a sync's build of the project installs.
fn ask_the_backend(
    project: &mut ProjectBuild,
    spec: &ProjectSpec,
    interpreter: &crate::python::Interpreter,
    index_config: &IndexConfig,
    fetch: &FetchOptions,
    cache: &Cache,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let Ok(requires) = &mut project.requires else {
        return Ok(());
    };
    let built_dir = cache.ensure_bucket(crate::cache::Bucket::Built)?;
    let scratch = tempfile::Builder::new()
        .prefix(".asking-")
        .tempdir_in(&built_dir)?;
    let envs = super::build_env::BuildEnvs::new(index_config, fetch, interpreter, cache)?;
    let asked = crate::build::asked_requirements(
        &spec.root,
        &[
            crate::build::BuildKind::Wheel,
            crate::build::BuildKind::Editable,
        ],
        interpreter,
        &envs,
        scratch.path(),
    )?;
    for requirement in asked {
        if !requires
            .iter()
            .any(|other| other.to_string() == requirement.to_string())
        {
            requires.push(requirement);
        }
    }
    Ok(())
}

/// How builds at lock time download what they need.
fn fetch_options(index_config: &IndexConfig, options: &LockOptions) -> FetchOptions {
    FetchOptions {
        indexes: index_config.indexes.clone(),
        offline: options.offline,
        concurrent_downloads: DEFAULT_CONCURRENT_DOWNLOADS,
        http: options.http,
    }
}

/// Everything the lock depends on, normalized, so that equal inputs give equal fingerprints.
pub(crate) fn lock_inputs(
    spec: &ProjectSpec,
    config: &IndexConfig,
    project_build: Option<&ProjectBuild>,
) -> LockInputs {
    let strings = |requirements: &[Requirement]| {
        let mut list: Vec<InputRequirement> =
            requirements.iter().cloned().map(Verbatim::from).collect();
        list.sort();
        list.dedup();
        list
    };
    LockInputs {
        requires_python: spec.requires_python.clone(),
        dependencies: strings(&spec.dependencies),
        optional_dependencies: spec
            .optional_dependencies
            .iter()
            .map(|(extra, requirements)| (extra.clone(), strings(requirements)))
            .collect(),
        dependency_groups: spec
            .dependency_groups
            .iter()
            .map(|(group, requirements)| (group.clone(), strings(requirements)))
            .collect(),
        indexes: config
            .indexes
            .iter()
            .map(|index| without_credentials(index.url()))
            .collect(),
        resolver: resolver_settings(spec, config),
        project: spec.package.then(|| spec.name.clone()).flatten(),
        build_system_requires: project_build
            .and_then(|project| project.requires.as_ref().ok())
            .map(|requires| strings(requires)),
    }
}

/// The resolver settings recorded in the lock: the fixed ones, each package pinned to an index
/// (`index:NAME`), and the packages whose pre-releases are allowed.
fn resolver_settings(spec: &ProjectSpec, config: &IndexConfig) -> BTreeMap<String, String> {
    let mut settings: BTreeMap<String, String> = RESOLVER_SETTINGS
        .iter()
        .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
        .collect();
    for (package, index) in &config.pins {
        settings.insert(format!("index:{package}"), index.redacted());
    }
    if !spec.allow_prereleases.is_empty() {
        let names: Vec<&str> = spec.allow_prereleases.iter().map(AsRef::as_ref).collect();
        settings.insert("allow-prereleases".to_string(), names.join(","));
    }
    settings
}

fn manifest(
    spec: &ProjectSpec,
    existing: Option<&Lock>,
    upgrade_all: bool,
    upgrade_packages: &BTreeSet<PackageName>,
) -> Manifest {
    let mut requirements: Vec<RootRequirement> = Vec::new();
    let mut add = |list: &[Requirement], activation: Activation| {
        for requirement in expand_self_references(spec, list) {
            requirements.push(RootRequirement {
                requirement,
                activation: activation.clone(),
            });
        }
    };
    add(&spec.dependencies, Activation::Always);
    for (extra, list) in &spec.optional_dependencies {
        add(list, Activation::Extra(extra.clone()));
    }
    for (group, list) in &spec.dependency_groups {
        add(list, Activation::Group(group.clone()));
    }
    let preferences = if upgrade_all {
        BTreeMap::new()
    } else {
        preferences(
            existing
                .map(|lock| lock.packages.as_slice())
                .unwrap_or_default()
                .iter()
                .filter(|package| !upgrade_packages.contains(&package.name))
                .map(|package| (&package.name, &package.version)),
        )
    };
    Manifest {
        project_name: spec.name.clone(),
        requires_python: spec.requires_python.clone(),
        requirements,
        preferences,
        allow_prereleases: spec.allow_prereleases.clone(),
        fixed: BTreeMap::new(),
    }
}

/// The warning PEP 592 asks for when a yanked version is used: the version, the index's
/// reason, and why it is in the lock anyway (`previous_lock` names the lock it was kept from).
fn yanked_warning(yanked: &resolver::YankedPackage, previous_lock: &str) -> String {
    let resolver::YankedPackage {
        name,
        version,
        reason,
        pinned,
    } = yanked;
    let reason = reason.as_ref().map_or_else(
        || "no reason given".to_string(),
        |reason| format!("reason: {reason:?}"),
    );
    if *pinned {
        format!(
            "`{name}=={version}` is yanked ({reason}); it is locked because pyproject.toml pins it"
        )
    } else {
        format!(
            "`{name}=={version}` is yanked ({reason}); it stays locked as `{previous_lock}` has it: `tack lock --upgrade-package {name}` moves it"
        )
    }
}

/// Versions to prefer, by name, newest first: a package locked at several versions (forks)
/// keeps the newest where it fits.
pub(super) fn preferences<'a>(
    versions: impl Iterator<Item = (&'a PackageName, &'a pep440_rs::Version)>,
) -> BTreeMap<PackageName, Vec<pep440_rs::Version>> {
    let mut preferences: BTreeMap<PackageName, Vec<pep440_rs::Version>> = BTreeMap::new();
    for (name, version) in versions {
        preferences
            .entry(name.clone())
            .or_default()
            .push(version.clone());
    }
    for versions in preferences.values_mut() {
        versions.sort_by(|a, b| b.cmp(a));
        versions.dedup();
    }
    preferences
}

/// Replace requirements on the project itself (`myproject[cli]` inside an extra or group)
/// by the requirements of the extras they name, with the markers combined.
fn expand_self_references(spec: &ProjectSpec, list: &[Requirement]) -> Vec<Requirement> {
    fn walk(
        spec: &ProjectSpec,
        list: &[Requirement],
        outer: &pep508_rs::MarkerTree,
        seen: &mut BTreeSet<ExtraName>,
        out: &mut Vec<Requirement>,
    ) {
        for requirement in list {
            let mut marker = requirement.marker.clone();
            marker.and(outer.clone());
            if spec.name.as_ref() != Some(&requirement.name) {
                let mut requirement = requirement.clone();
                requirement.marker = marker;
                out.push(requirement);
                continue;
            }
            for extra in &requirement.extras {
                if !seen.insert(extra.clone()) {
                    continue;
                }
                if let Some(inner) = spec.optional_dependencies.get(extra) {
                    walk(spec, inner, &marker, seen, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        spec,
        list,
        &pep508_rs::MarkerTree::TRUE,
        &mut BTreeSet::new(),
        &mut out,
    );
    out
}

/// The lock's record of a wheel listed on an index page, its URL redacted; `None` (with a
/// warning in the log) when it cannot be recorded (see [`locked_file`]).
pub(crate) fn locked_wheel(file: &IndexFile) -> Option<LockedWheel> {
    match Verbatim::parse(file.filename.as_str(), WheelFilename::from_str) {
        Ok(name) => locked_file(file, name),
        Err(error) => {
            tracing::warn!("`{}` is left out of the lock: {error}", file.filename);
            None
        }
    }
}

/// The lock's record of a source distribution listed on an index page; see [`locked_file`].
pub(crate) fn locked_sdist(file: &IndexFile) -> Option<LockedSdist> {
    locked_file(file, file.filename.clone())
}

/// The lock's record of a file listed on an index page under `name`, its URL redacted; `None`
/// (with a warning in the log) when the index gives no sha256, as tack locks only files it can
/// verify.
fn locked_file<Name>(file: &IndexFile, name: Name) -> Option<LockedFile<Name>> {
    let Some(sha256) = file.sha256.as_deref() else {
        tracing::warn!(
            "`{}` is left out of the lock: the index gives no sha256 for it",
            file.filename
        );
        return None;
    };
    // The index client checks the digests it lists; one that is not is left out like a
    // missing one.
    let sha256 = match Sha256Digest::from_str(sha256) {
        Ok(sha256) => sha256,
        Err(error) => {
            tracing::warn!("`{}` is left out of the lock: {error}", file.filename);
            return None;
        }
    };
    Some(LockedFile::new(
        name,
        &file.url,
        file.size,
        file.upload_time.clone(),
        sha256,
    ))
}

fn build_lock(
    resolution: &Resolution,
    spec: &ProjectSpec,
    paths: &BTreeMap<PackageName, PathSource>,
    direct_sources: &BTreeMap<PackageName, DirectPrepared>,
    inputs: LockInputs,
    fingerprint: String,
) -> Result<Lock, LockFailure> {
    let mut packages = Vec::with_capacity(resolution.packages.len());
    let mut directories = Vec::new();
    let mut direct = Vec::new();
    for package in &resolution.packages {
        let marker = package
            .marker
            .as_deref()
            .map(|marker| {
                LockMarker::from_str(marker).map_err(|source| LockFailure::Marker {
                    name: package.name.clone(),
                    version: package.version.clone(),
                    marker: marker.to_string(),
                    source,
                })
            })
            .transpose()?;
        let dependencies: Vec<LockedDependency> = package
            .dependencies
            .iter()
            .map(|(name, version)| LockedDependency {
                name: name.clone(),
                version: version.clone(),
            })
            .collect();
        let Some(index) = &package.index else {
            // A path dependency: a `directory` entry.
            if let Some(path) = paths.get(&package.name) {
                directories.push(LockedDirectory {
                    name: package.name.clone(),
                    path: path.lock_path.clone(),
                    editable: path.editable,
                    marker,
                    dependencies,
                });
            } else if let Some(prepared) = direct_sources.get(&package.name) {
                // A git or URL dependency: a `vcs` or `archive` entry.
                direct.push(LockedDirect {
                    name: package.name.clone(),
                    version: package.version.clone(),
                    marker,
                    dependencies,
                    source: prepared.source.clone(),
                });
            }
            continue;
        };
        let sdist = package.sdist.as_ref().and_then(locked_sdist);
        let wheels: Vec<LockedWheel> = package.wheels.iter().filter_map(locked_wheel).collect();
        if sdist.is_none() && wheels.is_empty() {
            return Err(LockFailure::NoHashes {
                name: package.name.clone(),
                version: package.version.clone(),
            });
        }
        packages.push(LockedPackage {
            name: package.name.clone(),
            version: package.version.clone(),
            marker,
            requires_python: package.requires_python.clone(),
            dependencies,
            index: Some(without_credentials(index.url())),
            sdist,
            wheels,
        });
    }
    Ok(Lock {
        lock_version: LOCK_VERSION.to_string(),
        environments: Vec::new(),
        requires_python: spec.requires_python.clone(),
        extras: spec.optional_dependencies.keys().cloned().collect(),
        dependency_groups: spec.dependency_groups.keys().cloned().collect(),
        default_groups: spec.default_groups(),
        created_by: CREATED_BY.to_string(),
        directories: project_entry(spec, &packages, &directories, &direct)
            .into_iter()
            .chain(directories.iter().cloned())
            .collect(),
        packages,
        direct,
        tool: TackLockTool {
            fingerprint,
            inputs,
            builds: LockedBuilds::default(),
        },
    })
}

/// The project itself as a lock entry, `directory = { path = ".", editable = true }`, when it
/// is a package: editable is what a developer wants, and `tack sync --no-editable` installs a
/// real wheel instead. Its dependencies are the main requirements as locked (a version only
/// where the lock holds several).
pub(crate) fn project_entry(
    spec: &ProjectSpec,
    packages: &[LockedPackage],
    directories: &[LockedDirectory],
    direct: &[LockedDirect],
) -> Option<LockedDirectory> {
    let name = spec.name.clone().filter(|_| spec.package)?;
    let mut dependencies = Vec::new();
    let wanted: BTreeSet<PackageName> = spec
        .dependencies
        .iter()
        .map(|requirement| requirement.name.clone())
        .collect();
    for dependency in &wanted {
        if directories
            .iter()
            .any(|directory| &directory.name == dependency)
        {
            dependencies.push(LockedDependency {
                name: dependency.clone(),
                version: None,
            });
            continue;
        }
        let versions: Vec<&Version> = packages
            .iter()
            .filter(|package| &package.name == dependency)
            .map(|package| &package.version)
            .chain(
                direct
                    .iter()
                    .filter(|package| &package.name == dependency)
                    .map(|package| &package.version),
            )
            .collect();
        let several = versions.len() > 1;
        dependencies.extend(versions.into_iter().map(|version| LockedDependency {
            name: dependency.clone(),
            version: several.then(|| version.clone()),
        }));
    }
    Some(LockedDirectory {
        name,
        path: ".".to_string(),
        editable: true,
        marker: None,
        dependencies,
    })
}

/// The lock of a `--frozen` sync: `pylock.toml` as it is, which must exist.
pub fn read_frozen(project_dir: &Path) -> Result<Lock, FrozenLockError> {
    let path = project_dir.join(LOCK_FILE_NAME);
    Lock::read(&path)
        .map_err(FrozenLockError::Read)?
        .ok_or(FrozenLockError::Missing { path })
}

/// Why a `--frozen` sync has no lock to install.
#[derive(Debug, thiserror::Error)]
pub enum FrozenLockError {
    #[error("cannot read the lock")]
    Read(#[source] LockError),
    #[error("`{}` does not exist", path.display())]
    Missing { path: std::path::PathBuf },
}

impl Diagnostic for FrozenLockError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Read(_) => Vec::new(),
            Self::Missing { .. } => {
                vec!["`--frozen` installs an existing lock: run `tack lock` first".into()]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_from_an_index_page() {
        let sha256 = "a".repeat(64);
        let mut listed = IndexFile {
            filename: "foo-1.0-py3-none-any.whl".to_string(),
            url: url::Url::parse("https://user:secret@example.org/files/foo-1.0-py3-none-any.whl")
                .unwrap(),
            sha256: Some(sha256.to_ascii_uppercase()),
            requires_python: None,
            yanked: None,
            size: Some(42),
            upload_time: Some("2024-05-01T12:34:56.789Z".to_string()),
            has_metadata_file: false,
            metadata_sha256: None,
        };
        let locked = locked_wheel(&listed).unwrap();
        assert_eq!(locked.name.as_str(), "foo-1.0-py3-none-any.whl");
        assert_eq!(
            locked.url.as_str(),
            "https://example.org/files/foo-1.0-py3-none-any.whl"
        );
        assert_eq!(locked.sha256.as_str(), sha256);
        assert_eq!(locked.size, Some(42));
        assert_eq!(
            locked.upload_time.as_deref(),
            Some("2024-05-01T12:34:56.789Z")
        );
        assert_eq!(locked_sdist(&listed).unwrap().name, listed.filename);
        listed.sha256 = Some("not hex".to_string());
        assert_eq!(locked_wheel(&listed), None);
        listed.sha256 = None;
        assert_eq!(locked_wheel(&listed), None);
        listed.sha256 = Some(sha256);
        listed.filename = "foo-1.0.tar.gz".to_string();
        assert_eq!(locked_wheel(&listed), None);
    }
}
