//! `tack sync` in a Poetry project that has a `poetry.lock` and no `pylock.toml`: poetry.lock
//! installed as it is, as Poetry's installer installs it, without resolving against the index.
//!
//! `poetry install` with a lock does not ask the index which versions exist: its solver runs
//! over the locked packages only, with the project's dependencies of the chosen groups and
//! extras at the root, in this interpreter's marker environment (Poetry's `Installer`, with
//! `installer.re-resolve`, the only way for locks before 2.1 and equivalent for 2.1). A version
//! deleted from the index since, a yanked one, an sdist whose metadata would need a build: none
//! of these moves anything, which is what a Dockerfile's `poetry install --only main` relies on.
//! This module does the same in three steps:
//!
//! 1. **Checks.** poetry.lock's `content-hash` against pyproject.toml, computed as Poetry does
//!    ([`PoetryLock::is_fresh`]): with `--locked` a stale lock fails with Poetry's own message,
//!    otherwise it is a warning. The groups and extras asked for must be the project's.
//! 2. **The solve** ([`solve`], pure). The root requirements are the project's main
//!    dependencies (unless `--only` leaves them out), those of the chosen extras and groups,
//!    whose markers hold here. Each requirement is met by the newest locked package of its name
//!    that its constraint allows and whose `python-versions` allows this Python; that package's
//!    dependencies follow when their markers hold here (with the extras asked of it), optional
//!    ones only when an extra asked of it names them. A requirement met earlier by a version a
//!    later one refuses excludes that version and the solve starts again, so that packages
//!    locked at several versions (by Python version, say) get the one that fits.
//! 3. **Files.** Each chosen package's page is read from its index (`[package.source]` names
//!    the source; otherwise the project's indexes in order, the first that serves the locked
//!    version), and the files poetry.lock lists are found on it by name, with poetry.lock's
//!    sha256. Nothing that the selection does not reach is ever looked up. A locked version no
//!    index serves is an error that says so; a yanked one installs with a warning, as in Poetry.
//!
//! The result is an in-memory [`Lock`] holding exactly what to install here (no markers), which
//! the caller hands to [`super::sync::sync`]: downloads, hash checks, sdist builds, exactness
//! and the report stay one code path for both kinds of lock.
//!
//! The project itself, when it is a package, is in the lock as `directory = { path = "." }`,
//! and the sync installs it as for a pylock.toml (editable unless `--no-editable`; not with
//! `--no-root`), as Poetry does after the dependencies.
//!
//! Not here yet: packages poetry.lock takes from a git repository, a directory, a file or a
//! URL (an error that names the package, only when it is selected).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{MarkerEnvironment, MarkerTree, Requirement, VersionOrUrl};

use super::selection::SelectionError;
use super::{Selection, SelectionRequest};
use crate::cache::Cache;
use crate::diagnostic::Diagnostic;
use crate::filename::{has_sdist_extension, is_wheel, DistFilename, WheelFilename};
use crate::index::config::{IndexChoice, IndexConfig, IndexConfigError};
use crate::index::{ClientOptions, HttpSettings, IndexClient, IndexError, IndexFile, IndexUrl};
use crate::lock::poetry::{PoetryLock, PoetryLockError, PoetryPackage, POETRY_LOCK_FILE_NAME};
use crate::lock::{
    without_credentials, Lock, LockedBuilds, LockedDependency, LockedFile, LockedPackage,
    LockedSdist, LockedWheel, Sha256Digest, TackLockTool, Verbatim, CREATED_BY, LOCK_FILE_NAME,
    LOCK_VERSION,
};
use crate::normalize::{ExtraName, PackageName};
use crate::pep508::{parse_marker, InvalidPep508};
use crate::project::{PoetryConstraint, ProjectError, ProjectSpec};
use crate::python::interpreter::{find_interpreter, InterpreterError};

/// Poetry's words for a lock whose `content-hash` does not match pyproject.toml.
const STALE: &str = "pyproject.toml changed significantly since poetry.lock was last generated";

/// What to install from poetry.lock, and how to reach the index.
#[derive(Debug, Clone, Default)]
pub struct PoetryInstallOptions {
    /// The group and extra flags.
    pub selection: SelectionRequest,
    /// `--python`: the interpreter the venv is made from.
    pub python: Option<String>,
    pub index: IndexChoice,
    pub offline: bool,
    pub http: HttpSettings,
    /// `--locked`: a stale `content-hash` is an error (otherwise a warning).
    pub locked: bool,
}

/// What [`poetry_install`] found to install.
#[derive(Debug)]
pub struct PoetryInstall {
    /// Exactly the packages to install here, without markers, each with the files poetry.lock
    /// lists that its index still serves and poetry.lock's hashes.
    pub lock: Lock,
    /// The selection the lock was made for (the same [`Selection::resolve`] gives on `lock`).
    pub selection: Selection,
    /// Stale `content-hash`, yanked versions, what pyproject.toml has that tack ignores.
    pub warnings: Vec<String>,
    /// How many packages poetry.lock locks in all.
    pub locked_packages: usize,
    /// The project itself, which Poetry installs after its dependencies (unless `--no-root`);
    /// `None` for a project that is not a package (`package-mode = false`). It is in `lock`'s
    /// `directories`, which the sync installs.
    pub project: Option<PackageName>,
}

/// Why poetry.lock cannot be installed.
#[derive(Debug, thiserror::Error)]
pub enum PoetryInstallError {
    /// The error names pyproject.toml, the line and the column already.
    #[error(transparent)]
    Project(ProjectError),
    #[error("could not read `{}`", path.display())]
    Pyproject {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read `{POETRY_LOCK_FILE_NAME}`")]
    Read(#[source] PoetryLockError),
    #[error("`{}` does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("{STALE}. Run `poetry lock` (or `tack lock` to migrate) to fix the lock file.")]
    Stale,
    #[error("cannot choose the indexes")]
    Indexes(#[source] IndexConfigError),
    /// The selection error is the message: it names the flag.
    #[error(transparent)]
    Selection(SelectionError),
    #[error("cannot find a Python interpreter for the venv")]
    Interpreter(#[source] InterpreterError),
    #[error("{by} needs `{name}`, which {POETRY_LOCK_FILE_NAME} does not lock")]
    NotLocked { name: PackageName, by: String },
    #[error("{by} needs `{name}{specifiers}`, and no version of it in {POETRY_LOCK_FILE_NAME} fits here (locked: {locked}; Python {python})")]
    NoVersionFits {
        name: PackageName,
        by: String,
        specifiers: String,
        locked: String,
        python: Version,
    },
    #[error("`{name}` {version} comes from a {kind} source in {POETRY_LOCK_FILE_NAME}; tack does not install {kind} packages from {POETRY_LOCK_FILE_NAME} yet")]
    DirectSource {
        name: PackageName,
        version: Version,
        kind: String,
    },
    #[error("the marker `{marker}` of `{name}` in {POETRY_LOCK_FILE_NAME} does not parse")]
    Marker {
        name: PackageName,
        marker: String,
        #[source]
        source: InvalidPep508,
    },
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot set up the index client")]
    Client(#[source] IndexError),
    #[error("cannot read the index page of `{name}`")]
    Page {
        name: PackageName,
        #[source]
        source: IndexError,
    },
    #[error("{name} {version} is locked but the index no longer serves it")]
    NotServed {
        name: PackageName,
        version: Version,
        /// The indexes asked, redacted.
        indexes: Vec<String>,
    },
}

impl Diagnostic for PoetryInstallError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Project(error) => error.hints(),
            Self::Selection(error) => error.hints(),
            Self::Stale => vec![format!(
                "without `--locked`, tack installs {POETRY_LOCK_FILE_NAME} as it is, with a warning"
            )],
            Self::NotLocked { .. } | Self::NoVersionFits { .. } => vec![format!(
                "{POETRY_LOCK_FILE_NAME} does not match pyproject.toml: run `poetry lock`, or `tack lock` to migrate to `{LOCK_FILE_NAME}`"
            )],
            Self::DirectSource { .. } => vec![format!(
                "`tack lock` migrates the project to `{LOCK_FILE_NAME}`, which holds index packages only"
            )],
            Self::NotServed { indexes, .. } => vec![
                format!("asked: {}", indexes.join(", ")),
                format!(
                    "`tack lock` migrates to `{LOCK_FILE_NAME}`, choosing a version the index serves"
                ),
            ],
            _ => Vec::new(),
        }
    }
}

/// Whether `tack sync` in `project_dir` installs poetry.lock as it is: there is a
/// `poetry.lock` and no `pylock.toml`.
pub fn applies(project_dir: &Path) -> bool {
    project_dir.join(POETRY_LOCK_FILE_NAME).is_file() && !project_dir.join(LOCK_FILE_NAME).exists()
}

/// What poetry.lock installs here, as an in-memory lock; see the module docs.
pub fn poetry_install(
    project_dir: &Path,
    options: &PoetryInstallOptions,
    cache: &Cache,
) -> Result<PoetryInstall, PoetryInstallError> {
    let spec = ProjectSpec::read(project_dir).map_err(PoetryInstallError::Project)?;
    let lock_path = project_dir.join(POETRY_LOCK_FILE_NAME);
    let poetry = PoetryLock::read(&lock_path)
        .map_err(PoetryInstallError::Read)?
        .ok_or(PoetryInstallError::Missing { path: lock_path })?;
    let mut warnings = spec.warnings.clone();

    // 1. Checks.
    let pyproject_text = fs_err::read_to_string(&spec.pyproject_path).map_err(|source| {
        PoetryInstallError::Pyproject {
            path: spec.pyproject_path.clone(),
            source,
        }
    })?;
    // The project reader has parsed this very text, so it is TOML.
    let pyproject: toml::Table = toml::from_str(&pyproject_text).unwrap_or_default();
    if !poetry.is_fresh(&pyproject) {
        if options.locked {
            return Err(PoetryInstallError::Stale);
        }
        warnings.push(format!(
            "{STALE}; installing it as it is (`--locked` refuses it). Run `poetry lock` (or `tack lock` to migrate) to fix the lock file."
        ));
    }
    let config =
        IndexConfig::resolve(&options.index, &spec, cache).map_err(PoetryInstallError::Indexes)?;
    let mut lock = project_lock(&spec, &config);
    let selection =
        Selection::resolve(&options.selection, &lock).map_err(PoetryInstallError::Selection)?;

    // 2. The solve, for the interpreter the sync will use (the same search, cached).
    let interpreter = find_interpreter(
        options.python.as_deref(),
        spec.requires_python.as_ref(),
        cache,
    )
    .map_err(PoetryInstallError::Interpreter)?;
    let roots = root_requirements(&spec, &selection);
    let solved = solve(
        &poetry,
        &roots,
        &selection.extras,
        &interpreter.markers,
        &interpreter.version,
    )?;
    for &position in solved.chosen.values() {
        let package = &poetry.packages[position];
        if let Some(kind) = &package.direct_source {
            return Err(PoetryInstallError::DirectSource {
                name: package.name.clone(),
                version: package.version.clone(),
                kind: kind.clone(),
            });
        }
    }

    // 3. Files.
    lock.packages = locate_files(
        &poetry,
        &solved,
        &spec,
        &config,
        options,
        cache,
        &mut warnings,
    )?;
    Ok(PoetryInstall {
        lock,
        selection,
        warnings,
        locked_packages: poetry.packages.len(),
        project: spec.name.clone().filter(|_| spec.package),
    })
}

/// The lock's project-level fields: what the selection is checked against and what the sync
/// reads (`requires-python`, the groups and extras, the requirements in `[tool.tack.inputs]`).
fn project_lock(spec: &ProjectSpec, config: &IndexConfig) -> Lock {
    let mut inputs = super::lock::lock_inputs(spec, config, None);
    // The groups' requirements with the project's own extras expanded, as `--only` follows
    // them through the packages (the project itself is not one of them).
    for (group, requirements) in &mut inputs.dependency_groups {
        if let Some(list) = spec.dependency_groups.get(group) {
            *requirements = expand_self_references(spec, list, &[])
                .into_iter()
                .map(Verbatim::from)
                .collect();
        }
    }
    Lock {
        lock_version: LOCK_VERSION.to_string(),
        environments: Vec::new(),
        requires_python: spec.requires_python.clone(),
        extras: spec.optional_dependencies.keys().cloned().collect(),
        dependency_groups: spec.dependency_groups.keys().cloned().collect(),
        default_groups: spec.default_groups(),
        created_by: CREATED_BY.to_string(),
        packages: Vec::new(),
        // The project itself, when it is a package: Poetry installs it after its dependencies
        // (editable), unless `--no-root`; the sync builds and installs it from here.
        directories: super::lock::project_entry(spec, &[], &[], &[])
            .into_iter()
            .collect(),
        direct: Vec::new(),
        tool: TackLockTool {
            fingerprint: String::new(),
            inputs,
            builds: LockedBuilds::default(),
        },
    }
}

/// The project's requirements under `selection`: the main dependencies and the chosen
/// extras' (unless `--only` leaves out `main`: extras are part of it, as in Poetry), then the
/// chosen groups'; requirements on the project itself replaced by those of the extras they
/// name.
fn root_requirements(spec: &ProjectSpec, selection: &Selection) -> Vec<Requirement> {
    let mut requirements = Vec::new();
    if selection.only.is_none() {
        requirements.extend(expand_self_references(spec, &spec.dependencies, &[]));
        for extra in &selection.extras {
            if let Some(list) = spec.optional_dependencies.get(extra) {
                requirements.extend(expand_self_references(spec, list, &[]));
            }
        }
    }
    for group in &selection.groups {
        if let Some(list) = spec.dependency_groups.get(group) {
            requirements.extend(expand_self_references(spec, list, &[]));
        }
    }
    requirements
}

/// `list` with each requirement on the project itself (`svc[cli]`) replaced by the
/// requirements of the extras it names, their markers joined with its own.
fn expand_self_references(
    spec: &ProjectSpec,
    list: &[Requirement],
    seen: &[ExtraName],
) -> Vec<Requirement> {
    let mut out = Vec::new();
    for requirement in list {
        if spec.name.as_ref() != Some(&requirement.name) {
            out.push(requirement.clone());
            continue;
        }
        for extra in &requirement.extras {
            if seen.contains(extra) {
                continue;
            }
            let Some(inner) = spec.optional_dependencies.get(extra) else {
                continue;
            };
            let mut seen = seen.to_vec();
            seen.push(extra.clone());
            for mut expanded in expand_self_references(spec, inner, &seen) {
                expanded.marker.and(requirement.marker.clone());
                out.push(expanded);
            }
        }
    }
    out
}

/// What the solve chose.
#[derive(Debug, Default)]
pub(crate) struct Solved {
    /// The package chosen for each name: its position in poetry.lock's packages.
    pub chosen: BTreeMap<PackageName, usize>,
    /// The dependencies each chosen package has here.
    pub edges: BTreeMap<PackageName, BTreeSet<PackageName>>,
}

/// A requirement the solve must meet.
struct Need {
    name: PackageName,
    /// `None`: any version.
    specifiers: Option<VersionSpecifiers>,
    extras: Vec<ExtraName>,
    /// The package that asks (its position); `None` for the project.
    by: Option<usize>,
}

/// Poetry's installer solve over the locked packages only; see the module docs. `roots` are
/// the project's requirements (markers evaluated here with `root_extras`), `python` the full
/// version of the interpreter of `environment`.
pub(crate) fn solve(
    poetry: &PoetryLock,
    roots: &[Requirement],
    root_extras: &[ExtraName],
    environment: &MarkerEnvironment,
    python: &Version,
) -> Result<Solved, PoetryInstallError> {
    // Candidates by name, newest first.
    let mut by_name: BTreeMap<&PackageName, Vec<usize>> = BTreeMap::new();
    for (position, package) in poetry.packages.iter().enumerate() {
        by_name.entry(&package.name).or_default().push(position);
    }
    for positions in by_name.values_mut() {
        positions.sort_by(|a, b| {
            poetry.packages[*b]
                .version
                .cmp(&poetry.packages[*a].version)
        });
    }
    let fits_python: Vec<bool> = poetry
        .packages
        .iter()
        .map(|package| python_allows(&package.python_versions, python))
        .collect();
    let project = |by: Option<usize>| match by {
        None => "the project".to_string(),
        Some(position) => {
            let package = &poetry.packages[position];
            format!("`{}` {}", package.name, package.version)
        }
    };

    let mut excluded: BTreeSet<usize> = BTreeSet::new();
    'attempt: loop {
        let mut solved = Solved::default();
        // The extras asked of each chosen package so far.
        let mut asked: BTreeMap<PackageName, BTreeSet<ExtraName>> = BTreeMap::new();
        let mut queue: VecDeque<Need> = roots
            .iter()
            .filter(|requirement| requirement.marker.evaluate(environment, root_extras))
            .map(|requirement| Need {
                name: requirement.name.clone(),
                specifiers: match &requirement.version_or_url {
                    Some(VersionOrUrl::VersionSpecifier(specifiers)) => Some(specifiers.clone()),
                    _ => None,
                },
                extras: requirement.extras.clone(),
                by: None,
            })
            .collect();
        while let Some(need) = queue.pop_front() {
            let allows = |position: usize| {
                need.specifiers.as_ref().is_none_or(|specifiers| {
                    specifiers.contains(&poetry.packages[position].version)
                })
            };
            let position = if let Some(&position) = solved.chosen.get(&need.name) {
                if !allows(position) {
                    // An earlier requirement took a version this one refuses: try without it.
                    tracing::debug!(
                        "{} refuses `{}` {}: solving again without it",
                        project(need.by),
                        need.name,
                        poetry.packages[position].version
                    );
                    excluded.insert(position);
                    continue 'attempt;
                }
                position
            } else {
                let Some(candidates) = by_name.get(&need.name) else {
                    return Err(PoetryInstallError::NotLocked {
                        name: need.name,
                        by: project(need.by),
                    });
                };
                let Some(&position) = candidates.iter().find(|&&position| {
                    !excluded.contains(&position) && fits_python[position] && allows(position)
                }) else {
                    return Err(PoetryInstallError::NoVersionFits {
                        specifiers: need
                            .specifiers
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                        locked: candidates
                            .iter()
                            .map(|&position| {
                                let package = &poetry.packages[position];
                                format!(
                                    "{} for Python `{}`",
                                    package.version, package.python_versions
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                        name: need.name,
                        by: project(need.by),
                        python: python.clone(),
                    });
                };
                solved.chosen.insert(need.name.clone(), position);
                position
            };

            // The package's dependencies: when it is first chosen, and again when a new extra
            // is asked of it.
            let first = !asked.contains_key(&need.name);
            let extras = asked.entry(need.name.clone()).or_default();
            let before = extras.len();
            extras.extend(need.extras.iter().cloned());
            if !first && extras.len() == before {
                continue;
            }
            let package = &poetry.packages[position];
            let (found, optional) = extras_closure(package, extras);
            let found: Vec<ExtraName> = found.into_iter().collect();
            let edges = solved.edges.entry(need.name.clone()).or_default();
            for dependency in &package.dependencies {
                if dependency.optional && !optional.contains(&dependency.name) {
                    continue;
                }
                if dependency.name == package.name {
                    continue;
                }
                if !dependency_applies(package, dependency, environment, &found)? {
                    continue;
                }
                edges.insert(dependency.name.clone());
                queue.push_back(Need {
                    name: dependency.name.clone(),
                    specifiers: poetry_specifiers(&dependency.constraint),
                    extras: dependency.extras.clone(),
                    by: Some(position),
                });
            }
        }
        return Ok(solved);
    }
}

/// The extras asked of `package`, with those its extras ask of the package itself
/// (`all = ["pkg[a,b]"]`), and the names of the optional dependencies they turn on.
fn extras_closure(
    package: &PoetryPackage,
    asked: &BTreeSet<ExtraName>,
) -> (BTreeSet<ExtraName>, BTreeSet<PackageName>) {
    let mut found = BTreeSet::new();
    let mut optional = BTreeSet::new();
    let mut stack: Vec<ExtraName> = asked.iter().cloned().collect();
    while let Some(extra) = stack.pop() {
        if !found.insert(extra.clone()) {
            continue;
        }
        for requirement in package.extras.get(&extra).into_iter().flatten() {
            if requirement.name == package.name {
                stack.extend(requirement.extras.iter().cloned());
            } else {
                optional.insert(requirement.name.clone());
            }
        }
    }
    (found, optional)
}

/// Whether a dependency of `package` applies here: its `markers`, `python` and `platform`,
/// with `extras` the extras asked of the package.
fn dependency_applies(
    package: &PoetryPackage,
    dependency: &crate::lock::poetry::PoetryDependency,
    environment: &MarkerEnvironment,
    extras: &[ExtraName],
) -> Result<bool, PoetryInstallError> {
    let mut markers: Vec<String> = Vec::new();
    if let Some(text) = &dependency.markers {
        markers.push(text.clone());
    }
    if let Some(python) = &dependency.python {
        match PoetryConstraint::parse(python) {
            Ok(constraint) if !constraint.is_any() => markers.push(constraint.to_python_marker()),
            Ok(_) => {}
            Err(error) => tracing::debug!(
                "poetry.lock: `{}` asks for `{}` with `python = \"{python}\"`, which is left out: {error}",
                package.name,
                dependency.name
            ),
        }
    }
    if let Some(platform) = &dependency.platform {
        markers.push(format!("sys_platform == \"{}\"", platform.replace('"', "")));
    }
    for text in markers {
        let marker: MarkerTree =
            parse_marker(&text).map_err(|source| PoetryInstallError::Marker {
                name: package.name.clone(),
                marker: text.clone(),
                source,
            })?;
        if !marker.evaluate(environment, extras) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A Poetry constraint as PEP 440 specifiers; `None` (any version) for `*`, and for the rare
/// constraint PEP 440 cannot say, which poetry.lock's own choice then settles.
fn poetry_specifiers(constraint: &str) -> Option<VersionSpecifiers> {
    match PoetryConstraint::parse(constraint).and_then(|constraint| constraint.to_specifiers()) {
        Ok(specifiers) if specifiers.is_empty() => None,
        Ok(specifiers) => Some(specifiers),
        Err(error) => {
            tracing::debug!(
                "poetry.lock: the constraint `{constraint}` allows any version here: {error}"
            );
            None
        }
    }
}

/// Whether a package's `python-versions` allows `python`.
fn python_allows(python_versions: &str, python: &Version) -> bool {
    poetry_specifiers(python_versions).is_none_or(|specifiers| specifiers.contains(python))
}

/// The chosen packages as lock entries: each package's files found on its index by the names
/// poetry.lock lists, with poetry.lock's hashes. Yanked versions add a warning to `warnings`.
fn locate_files(
    poetry: &PoetryLock,
    solved: &Solved,
    spec: &ProjectSpec,
    config: &IndexConfig,
    options: &PoetryInstallOptions,
    cache: &Cache,
    warnings: &mut Vec<String>,
) -> Result<Vec<LockedPackage>, PoetryInstallError> {
    // Every index the project knows, with its credentials, to match `[package.source] url`.
    let mut known: Vec<IndexUrl> = config.indexes.clone();
    known.extend(config.pins.values().cloned());
    known.extend(
        IndexConfig::for_downloads(&options.index, Some(spec))
            .map_err(PoetryInstallError::Indexes)?,
    );
    let mut wanted: Vec<(&PoetryPackage, Vec<IndexUrl>)> = Vec::new();
    for (name, &position) in &solved.chosen {
        let package = &poetry.packages[position];
        let indexes = if let Some(source) = &package.index {
            let index = known
                .iter()
                .find(|index| same_index(index.url().as_str(), &source.url))
                .cloned()
                .or_else(|| IndexUrl::parse(&source.url).ok());
            index.into_iter().collect()
        } else if let Some(index) = config.pins.get(name) {
            vec![index.clone()]
        } else {
            config.indexes.clone()
        };
        wanted.push((package, indexes));
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(PoetryInstallError::Runtime)?;
    // One client per index, so that each package is asked of the indexes it may come from.
    let mut clients: BTreeMap<IndexUrl, IndexClient> = BTreeMap::new();
    for index in wanted.iter().flat_map(|(_, indexes)| indexes) {
        if clients.contains_key(index) {
            continue;
        }
        let mut client_options =
            ClientOptions::new(vec![index.clone()], cache.clone()).with_http(options.http);
        client_options.offline = options.offline;
        let client = IndexClient::new(client_options).map_err(PoetryInstallError::Client)?;
        clients.insert(index.clone(), client);
    }
    let clients = std::sync::Arc::new(clients);
    let found: Vec<Result<(IndexUrl, FoundFiles), PoetryInstallError>> = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (position, (package, indexes)) in wanted.iter().enumerate() {
            let clients = std::sync::Arc::clone(&clients);
            let package = (*package).clone();
            let indexes = indexes.clone();
            tasks.spawn(async move { (position, find_files(&clients, &package, &indexes).await) });
        }
        let mut found: Vec<Option<Result<(IndexUrl, FoundFiles), PoetryInstallError>>> =
            (0..wanted.len()).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((position, result)) => found[position] = Some(result),
                // A lookup that panicked: the panic goes on, as it would have without a task.
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        }
        found.into_iter().flatten().collect()
    });
    drop(clients);
    runtime.shutdown_background();

    let mut packages = Vec::with_capacity(found.len());
    for ((package, _), found) in wanted.iter().zip(found) {
        let (index, files) = found?;
        if let Some(reason) = files.yanked() {
            warnings.push(format!(
                "{} {} is yanked on the index{}; it is installed as {POETRY_LOCK_FILE_NAME} locks it",
                package.name,
                package.version,
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                }
            ));
        }
        packages.push(LockedPackage {
            name: package.name.clone(),
            version: package.version.clone(),
            marker: None,
            requires_python: None,
            dependencies: solved
                .edges
                .get(&package.name)
                .into_iter()
                .flatten()
                .map(|name| LockedDependency {
                    name: name.clone(),
                    version: None,
                })
                .collect(),
            index: Some(without_credentials(index.url())),
            sdist: files.sdist,
            wheels: files.wheels,
        });
    }
    Ok(packages)
}

/// The files of `package` on the first of `indexes` that serves its locked version.
async fn find_files(
    clients: &BTreeMap<IndexUrl, IndexClient>,
    package: &PoetryPackage,
    indexes: &[IndexUrl],
) -> Result<(IndexUrl, FoundFiles), PoetryInstallError> {
    for index in indexes {
        let Some(client) = clients.get(index) else {
            continue;
        };
        let page =
            client
                .project(&package.name)
                .await
                .map_err(|source| PoetryInstallError::Page {
                    name: package.name.clone(),
                    source,
                })?;
        if let Some((_, page)) = page {
            let files = locked_files(package, &page.files);
            if !files.is_empty() {
                return Ok((index.clone(), files));
            }
        }
    }
    Err(PoetryInstallError::NotServed {
        name: package.name.clone(),
        version: package.version.clone(),
        indexes: indexes.iter().map(IndexUrl::redacted).collect(),
    })
}

/// Whether two index addresses are the same index (credentials and a final `/` aside).
fn same_index(known: &str, locked: &str) -> bool {
    let clean = |text: &str| {
        url::Url::parse(text).map_or_else(
            |_| text.trim_end_matches('/').to_string(),
            |url| {
                without_credentials(&url)
                    .as_str()
                    .trim_end_matches('/')
                    .to_string()
            },
        )
    };
    clean(known) == clean(locked)
}

/// The files of a locked version found on its index page.
#[derive(Debug, Default)]
struct FoundFiles {
    wheels: Vec<LockedWheel>,
    sdist: Option<LockedSdist>,
    /// For each file found: its yank reason, when yanked.
    yanked: Vec<Option<String>>,
}

impl FoundFiles {
    fn is_empty(&self) -> bool {
        self.wheels.is_empty() && self.sdist.is_none()
    }

    /// The reason, when every file found is yanked (the version is yanked, PEP 592).
    fn yanked(&self) -> Option<String> {
        if self.yanked.is_empty() || self.yanked.iter().any(Option::is_none) {
            return None;
        }
        Some(
            self.yanked
                .iter()
                .flatten()
                .find(|reason| !reason.is_empty())
                .cloned()
                .unwrap_or_default(),
        )
    }
}

/// The files of `package` on a page: those poetry.lock lists, found by name, with
/// poetry.lock's sha256 (the page's when poetry.lock has another kind of hash); or, when
/// poetry.lock lists none, every file of the version on the page, with the page's sha256.
fn locked_files(package: &PoetryPackage, page: &[IndexFile]) -> FoundFiles {
    let mut found = FoundFiles::default();
    let listed: Vec<(&IndexFile, Option<&str>)> = if package.files.is_empty() {
        page.iter()
            .filter(|file| {
                DistFilename::parse(&file.filename, &package.name)
                    .is_some_and(|name| *name.version() == package.version)
            })
            .map(|file| (file, None))
            .collect()
    } else {
        package
            .files
            .iter()
            .filter_map(|locked| {
                let file = page
                    .iter()
                    .find(|file| file.filename == locked.file)
                    .or_else(|| {
                        page.iter()
                            .find(|file| file.filename.eq_ignore_ascii_case(&locked.file))
                    })?;
                Some((file, locked.sha256()))
            })
            .collect()
    };
    for (file, locked_sha256) in listed {
        let Some(sha256) = locked_sha256
            .or(file.sha256.as_deref())
            .and_then(|hex| Sha256Digest::from_str(hex).ok())
        else {
            tracing::debug!(
                "`{}` is left out: neither poetry.lock nor the index gives a sha256 for it",
                file.filename
            );
            continue;
        };
        if is_wheel(&file.filename) {
            match Verbatim::parse(file.filename.as_str(), WheelFilename::from_str) {
                Ok(name) => found.wheels.push(LockedFile::new(
                    name,
                    &file.url,
                    file.size,
                    file.upload_time.clone(),
                    sha256,
                )),
                Err(error) => {
                    tracing::debug!("`{}` is left out: {error}", file.filename);
                    continue;
                }
            }
        } else if has_sdist_extension(&file.filename) {
            // One sdist: a `.tar.gz` before any other kind.
            let better = found
                .sdist
                .as_ref()
                .is_none_or(|sdist| !sdist.name.ends_with(".tar.gz"));
            if better {
                found.sdist = Some(LockedFile::new(
                    file.filename.clone(),
                    &file.url,
                    file.size,
                    file.upload_time.clone(),
                    sha256,
                ));
            }
        } else {
            continue;
        }
        found.yanked.push(file.yanked.clone());
    }
    found.wheels.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::marker::linux_cpython_311;

    fn lock(text: &str) -> PoetryLock {
        PoetryLock::parse(text, Path::new("poetry.lock")).unwrap()
    }

    fn requirements(list: &[&str]) -> Vec<Requirement> {
        list.iter()
            .map(|text| crate::pep508::parse_requirement(text).unwrap())
            .collect()
    }

    fn chosen(poetry: &PoetryLock, roots: &[&str], extras: &[&str]) -> Vec<String> {
        let extras: Vec<ExtraName> = extras
            .iter()
            .map(|extra| ExtraName::from_str(extra).unwrap())
            .collect();
        let solved = solve(
            poetry,
            &requirements(roots),
            &extras,
            &linux_cpython_311(),
            &Version::from_str("3.11.7").unwrap(),
        )
        .unwrap();
        solved
            .chosen
            .values()
            .map(|&position| {
                let package = &poetry.packages[position];
                format!("{}=={}", package.name, package.version)
            })
            .collect()
    }

    const LOCK: &str = r#"
[[package]]
name = "web"
version = "1.5.0"
optional = false
python-versions = ">=3.8"

[package.dependencies]
helper = ">=1"
colorama = {version = "*", markers = "sys_platform == \"win32\""}
tomli = {version = ">=1.1.0", markers = "python_version < \"3.11\""}
uvloop = {version = ">=0.15", optional = true, markers = "extra == \"fast\""}
numpy = [
    {version = "<2", python = "<3.10"},
    {version = ">=2", python = ">=3.10"},
]

[package.extras]
fast = ["uvloop (>=0.15)"]
all = ["web[fast]"]

[[package]]
name = "helper"
version = "1.0.0"
optional = false
python-versions = "*"

[[package]]
name = "helper"
version = "2.0.0"
optional = false
python-versions = ">=3.12"

[[package]]
name = "numpy"
version = "1.26.4"
optional = false
python-versions = ">=3.9"

[[package]]
name = "numpy"
version = "2.2.6"
optional = false
python-versions = ">=3.10"

[[package]]
name = "pinned"
version = "1.0.0"
optional = false
python-versions = "*"

[[package]]
name = "pinned"
version = "3.0.0"
optional = false
python-versions = "*"

[[package]]
name = "needs-old-pinned"
version = "1.0.0"
optional = false
python-versions = "*"

[package.dependencies]
pinned = "<2"

[[package]]
name = "uvloop"
version = "0.19.0"
optional = true
python-versions = ">=3.8"

[[package]]
name = "colorama"
version = "0.4.6"
optional = false
python-versions = "*"

[[package]]
name = "tomli"
version = "2.0.1"
optional = false
python-versions = ">=3.7"

[[package]]
name = "mylib"
version = "0.1.0"
optional = false
python-versions = "*"

[package.source]
type = "git"
url = "https://example.org/mylib.git"
"#;

    #[test]
    fn the_solve_follows_markers_extras_and_python_versions() {
        let poetry = lock(LOCK);
        // helper 2.0.0 needs Python 3.12: 1.0.0 it is. Windows-only and old-Python
        // dependencies stay out; of numpy's two constraints the one for 3.11 holds.
        assert_eq!(
            chosen(&poetry, &["web"], &[]),
            ["helper==1.0.0", "numpy==2.2.6", "web==1.5.0"]
        );
        // An extra turns its optional dependency on, also through an extra of the package
        // itself.
        let fast = [
            "helper==1.0.0",
            "numpy==2.2.6",
            "uvloop==0.19.0",
            "web==1.5.0",
        ];
        assert_eq!(chosen(&poetry, &["web[fast]"], &[]), fast);
        assert_eq!(chosen(&poetry, &["web[all]"], &[]), fast);
        // A root requirement's marker, with the root's extras.
        assert_eq!(
            chosen(&poetry, &["web", "uvloop; extra == 'speed'"], &["speed"]),
            fast
        );
        assert_eq!(
            chosen(&poetry, &["web", "uvloop; extra == 'speed'"], &[]).len(),
            3
        );
    }

    #[test]
    fn a_version_a_later_requirement_refuses_is_replaced() {
        let poetry = lock(LOCK);
        // `pinned` is first met by 3.0.0, which `needs-old-pinned` refuses.
        assert_eq!(
            chosen(&poetry, &["pinned", "needs-old-pinned"], &[]),
            ["needs-old-pinned==1.0.0", "pinned==1.0.0"]
        );
    }

    #[test]
    fn what_cannot_be_met_names_who_asks() {
        let poetry = lock(LOCK);
        let environment = linux_cpython_311();
        let python = Version::from_str("3.11.7").unwrap();
        let error = solve(
            &poetry,
            &requirements(&["absent"]),
            &[],
            &environment,
            &python,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "the project needs `absent`, which poetry.lock does not lock"
        );
        let error = solve(
            &poetry,
            &requirements(&["helper>=2"]),
            &[],
            &environment,
            &python,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "the project needs `helper>=2`, and no version of it in poetry.lock fits here (locked: 2.0.0 for Python `>=3.12`, 1.0.0 for Python `*`; Python 3.11.7)"
        );
        // A git package is chosen like any other; the caller refuses it.
        let solved = solve(
            &poetry,
            &requirements(&["mylib"]),
            &[],
            &environment,
            &python,
        )
        .unwrap();
        assert_eq!(solved.chosen.len(), 1);
    }

    fn page_file(name: &str, sha256: Option<&str>, yanked: Option<&str>) -> IndexFile {
        IndexFile {
            filename: name.to_string(),
            url: url::Url::parse(&format!("https://example.org/files/{name}")).unwrap(),
            sha256: sha256.map(ToString::to_string),
            requires_python: None,
            yanked: yanked.map(ToString::to_string),
            size: Some(1),
            upload_time: None,
            has_metadata_file: false,
            metadata_sha256: None,
        }
    }

    #[test]
    fn files_are_found_by_name_with_poetrys_hashes() {
        let locked = "a".repeat(64);
        let served = "b".repeat(64);
        let poetry = lock(&format!(
            r#"
[[package]]
name = "foo"
version = "1.0"
optional = false
python-versions = "*"
files = [
    {{file = "foo-1.0-py3-none-any.whl", hash = "sha256:{locked}"}},
    {{file = "foo-1.0.tar.gz", hash = "sha256:{locked}"}},
    {{file = "foo-1.0-cp311-cp311-win_amd64.whl", hash = "sha256:{locked}"}},
]
"#
        ));
        let package = &poetry.packages[0];
        let page = [
            page_file("foo-1.0-py3-none-any.whl", Some(&served), None),
            page_file("foo-1.0.tar.gz", Some(&served), Some("broken")),
            page_file("foo-2.0-py3-none-any.whl", Some(&served), None),
        ];
        let found = locked_files(package, &page);
        assert_eq!(found.wheels.len(), 1);
        assert_eq!(found.wheels[0].sha256.as_str(), locked);
        assert_eq!(found.sdist.as_ref().unwrap().name, "foo-1.0.tar.gz");
        assert_eq!(found.yanked(), None);
        // Every file yanked: the version is.
        let found = locked_files(package, &page[1..2]);
        assert_eq!(found.yanked().as_deref(), Some("broken"));
        // Nothing poetry.lock lists is served.
        assert!(locked_files(package, &page[2..]).is_empty());

        // No files in poetry.lock: the version's files on the page, with the page's hashes.
        let mut bare = package.clone();
        bare.files.clear();
        let found = locked_files(&bare, &page);
        assert_eq!(found.wheels.len(), 1);
        assert_eq!(found.wheels[0].sha256.as_str(), served);
        assert!(found.sdist.is_some());
    }

    #[test]
    fn locked_sources_match_the_projects_indexes() {
        assert!(same_index(
            "https://user:secret@example.org/simple/",
            "https://example.org/simple"
        ));
        assert!(!same_index(
            "https://example.org/simple/",
            "https://example.org/other"
        ));
    }
}
