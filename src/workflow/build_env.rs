//! Build environments for the build stage: the [`BuildEnvironments`] the workflows hand to
//! [`crate::build`].
//!
//! A build asks for its requirements (`[build-system] requires`, then what the backend's
//! `get_requires_for_build_*` hook adds) in a venv of the target interpreter. They are resolved
//! like a project's dependencies, by the same resolver against the same indexes, cache and HTTP
//! settings as the sync, but for exactly that interpreter: the manifest's `requires-python` pins
//! its full version, and each resolved package's marker is evaluated for it. Each package then
//! gets the wheel that fits the interpreter best ([`best_wheel`], as the sync plan chooses),
//! prepared through [`wheels::prepare`] (downloaded once, verified, unpacked into the cache) and
//! hard-linked into the build venv: a second build with the same requirements downloads nothing.
//!
//! A build requirement with no wheel for the interpreter but an sdist (`pytest-runner`, which
//! old setup.py packages ask for, publishes only sdists for some versions) is itself built from
//! its sdist, as pip does, through [`super::sdists`] (so it is cached like any built wheel), in
//! a build environment of its own. Such builds nest at most [`MAX_NESTING`] deep: deeper, or
//! with no sdist either, it is an error that names the requirement.
//!
//! **Locked build environments.** A build the lock holds an environment for (see
//! [`super::build_lock`]) resolves nothing: [`BuildEnvs::use_locked`] hands it a
//! [`LockedEnvironment`] (the lock's build packages with their markers and hashed wheels), and
//! its first install puts exactly the packages whose markers hold for the interpreter in the
//! venv, each from the wheel that fits best, verified against the lock's sha256 by
//! [`wheels::prepare`]. Every requirement the build asks for (`[build-system] requires`, then
//! what `get_requires_for_build_*` adds) must then be satisfied by those packages; one that is
//! not fails the build with an error that names it ([`BuildEnvError::NotLocked`]) instead of
//! being resolved: a locked build fetches nothing the lock does not name.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use pep440_rs::{Version, VersionSpecifier, VersionSpecifiers};
use pep508_rs::{Requirement, VersionOrUrl};

use super::sdists::{BuiltWheel, SdistBuild, SdistError};
use super::sync::TagsPolicy;
use super::wheels::{self, FetchOptions, PrepareError};
use crate::build::{BoxError, BuildEnvironments};
use crate::cache::Cache;
use crate::diagnostic::Diagnostic;
use crate::index::config::IndexConfig;
use crate::index::{ClientOptions, IndexClient, IndexError};
use crate::install::plan::best_wheel;
use crate::install::site_packages::{self, ScanError};
use crate::install::venv::Venv;
use crate::install::wheel::{self, WheelError};
use crate::install::LinkMode;
use crate::lock::{InvalidMarker, LockMarker, LockedBuilds, LockedWheel};
use crate::normalize::PackageName;
use crate::python::Interpreter;
use crate::resolver::{self, Activation, Manifest, ResolveError, RootRequirement};

/// Why the requirements of a build could not be installed.
/// How deep builds of build requirements may nest (a build requirement built from its sdist
/// whose own build requirement is built from its sdist, ...).
pub const MAX_NESTING: usize = 3;

/// A package a build environment gets: a wheel from the index (or the lock), or one built
/// from its sdist.
enum Wanted {
    Wheel(LockedWheel),
    Built(BuiltWheel),
}

impl Wanted {
    fn version(&self) -> &Version {
        match self {
            Self::Wheel(wheel) => &wheel.name.value().version,
            Self::Built(built) => &built.filename.version,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildEnvError {
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot set up the index client")]
    Client(#[source] Box<IndexError>),
    #[error("failed to resolve the build requirements for Python {python}")]
    Resolve {
        python: pep440_rs::Version,
        #[source]
        source: ResolveError,
    },
    #[error("the resolved marker `{marker}` of the build requirement `{name}` does not parse (this is a bug in tack)")]
    Marker {
        name: PackageName,
        marker: String,
        #[source]
        source: InvalidMarker,
    },
    #[error("the build requirement `{name}=={version}` has no wheel for this environment (Python {python}; tags {tags})")]
    NoWheel {
        name: PackageName,
        version: pep440_rs::Version,
        python: pep440_rs::Version,
        tags: String,
    },
    #[error("failed to build the build requirement `{name}=={version}` from its sdist")]
    BuildRequirement {
        name: PackageName,
        version: pep440_rs::Version,
        #[source]
        source: Box<SdistError>,
    },
    #[error(transparent)]
    Prepare(Box<PrepareError>),
    #[error("cannot list what the build environment holds")]
    Scan(#[source] ScanError),
    #[error("failed to remove `{name}` from the build environment")]
    Uninstall {
        name: PackageName,
        #[source]
        source: WheelError,
    },
    #[error("failed to install `{wheel}` into the build environment")]
    Install {
        wheel: String,
        #[source]
        source: WheelError,
    },
    #[error("cannot prepare the build directory `{}`", path.display())]
    Scratch {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the build of `{package}` asks for `{requirement}`, which its locked build environment does not hold")]
    NotLocked {
        package: String,
        requirement: String,
    },
}

impl Diagnostic for BuildEnvError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::NoWheel { name, .. } => vec![format!(
                "`{name}` has neither a wheel for this platform nor an sdist tack may build here (build requirements nest at most {MAX_NESTING} builds deep); the build needs a version of `{name}` that publishes a wheel"
            )],
            Self::Prepare(error) => error.hints(),
            Self::NotLocked { .. } => vec![
                "run `tack lock` to lock the build environment again".to_string(),
                "the lock resolves `[build-system] requires`; what a backend asks for beyond it is known to the lock only when it built the sdist's metadata, and then the lock names the sdist as not lockable".to_string(),
            ],
            _ => Vec::new(),
        }
    }

    fn is_bug(&self) -> bool {
        match self {
            Self::Marker { .. } => true,
            Self::Prepare(error) => error.is_bug(),
            _ => false,
        }
    }
}

/// The build environment the lock gives one build: every build package it may install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedEnvironment {
    /// The package built, for messages: `name==version`, or the project's name.
    pub package: String,
    /// Sorted by name, then version.
    pub packages: Vec<LockedEnvironmentPackage>,
}

/// A build package of a [`LockedEnvironment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedEnvironmentPackage {
    pub name: PackageName,
    pub version: Version,
    /// Where the environment needs it; `None` means everywhere.
    pub marker: Option<LockMarker>,
    pub wheels: Vec<LockedWheel>,
}

impl LockedEnvironment {
    /// The environment `builds` holds for `name` (at `version`; `None` for the project), if
    /// any, with each build package's wheels.
    pub fn from_lock(
        builds: &LockedBuilds,
        name: &PackageName,
        version: Option<&Version>,
    ) -> Option<Self> {
        let build = builds.build(name, version)?;
        let packages = build
            .packages
            .iter()
            .map(|used| {
                let package = builds.package(&used.name, &used.version)?;
                Some(LockedEnvironmentPackage {
                    name: used.name.clone(),
                    version: used.version.clone(),
                    marker: used.marker.clone(),
                    wheels: package.wheels.clone(),
                })
            })
            // Checked when the lock is read; a lock built in memory without the package is
            // treated as holding no environment.
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            package: version
                .map_or_else(|| name.to_string(), |version| format!("{name}=={version}")),
            packages,
        })
    }

    /// What tells this environment from another in a cache key: each package, its marker and
    /// the sha256 of each of its wheels.
    pub fn identity(&self) -> String {
        let mut text = String::new();
        for package in &self.packages {
            let marker = package.marker.as_ref().map_or("", LockMarker::as_str);
            let _ = write!(text, "{}=={} ; {marker} :", package.name, package.version);
            for wheel in &package.wheels {
                let _ = write!(text, " {}", wheel.sha256);
            }
            text.push('\n');
        }
        text
    }

    /// Whether one of the packages whose marker holds in `environment` satisfies
    /// `requirement` (its name, and its version specifiers; a URL requirement never is).
    fn satisfies(
        &self,
        requirement: &Requirement,
        environment: &pep508_rs::MarkerEnvironment,
    ) -> bool {
        self.packages.iter().any(|package| {
            package.name == requirement.name
                && package
                    .marker
                    .as_ref()
                    .is_none_or(|marker| marker.evaluate(environment, &[], &[]))
                && match &requirement.version_or_url {
                    None => true,
                    Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
                        specifiers.contains(&package.version)
                    }
                    Some(VersionOrUrl::Url(_)) => false,
                }
        })
    }
}

/// Installs build requirements for one interpreter from the sync's indexes and cache; see the
/// module docs. Shared by the builds of one sync, which may call it at the same time.
pub struct BuildEnvs<'a> {
    /// For the builds of build requirements (their own environments resolve against them).
    indexes: IndexConfig,
    /// How many builds of build requirements this one is nested in.
    nesting: usize,
    interpreter: &'a Interpreter,
    cache: &'a Cache,
    fetch: &'a FetchOptions,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    client: IndexClient,
    /// What was installed in each build venv (`name==version`), by the venv's root.
    installed: Mutex<BTreeMap<PathBuf, Vec<String>>>,
    /// Every requirement each build venv was asked to hold, by the venv's root.
    requested: Mutex<BTreeMap<PathBuf, Vec<Requirement>>>,
    /// The locked environments of the builds that have one, by the venv's root.
    locked: Mutex<BTreeMap<PathBuf, LockedEnvironment>>,
    /// The venvs whose locked environment is installed.
    provisioned: Mutex<BTreeSet<PathBuf>>,
}

impl<'a> BuildEnvs<'a> {
    /// Build environments for `interpreter`, resolved against `indexes` (with their pins) and
    /// filled with the downloads of `fetch`.
    pub fn new(
        indexes: &IndexConfig,
        fetch: &'a FetchOptions,
        interpreter: &'a Interpreter,
        cache: &'a Cache,
    ) -> Result<Self, BuildEnvError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(BuildEnvError::Runtime)?;
        let mut options =
            ClientOptions::new(indexes.indexes.clone(), cache.clone()).with_http(fetch.http);
        options.pins.clone_from(&indexes.pins);
        options.offline = fetch.offline;
        let client =
            IndexClient::new(options).map_err(|error| BuildEnvError::Client(Box::new(error)))?;
        Ok(Self {
            indexes: indexes.clone(),
            nesting: 0,
            interpreter,
            cache,
            fetch,
            runtime: Some(runtime),
            client,
            installed: Mutex::new(BTreeMap::new()),
            requested: Mutex::new(BTreeMap::new()),
            locked: Mutex::new(BTreeMap::new()),
            provisioned: Mutex::new(BTreeSet::new()),
        })
    }

    /// The environments of builds nested `nesting` deep in the builds of build requirements.
    #[must_use]
    pub(crate) fn nested(mut self, nesting: usize) -> Self {
        self.nesting = nesting;
        self
    }

    /// Has the build whose scratch directory is `scratch` (as given to
    /// [`crate::build::build`]; created here when missing) install exactly `environment`
    /// instead of resolving its requirements; see the module docs.
    pub fn use_locked(
        &self,
        scratch: &Path,
        environment: LockedEnvironment,
    ) -> Result<(), BuildEnvError> {
        let io_error = |source| BuildEnvError::Scratch {
            path: scratch.to_path_buf(),
            source,
        };
        fs_err::create_dir_all(scratch).map_err(io_error)?;
        // The build stage names its venv from the canonical scratch directory.
        let root = fs_err::canonicalize(scratch).map_err(io_error)?.join("env");
        lock_ignoring_poison(&self.locked).insert(root, environment);
        Ok(())
    }

    /// Every requirement the venv at `root` was asked to hold so far, in the order asked.
    pub fn requested(&self, root: &Path) -> Vec<Requirement> {
        lock_ignoring_poison(&self.requested)
            .get(root)
            .cloned()
            .unwrap_or_default()
    }

    /// What was installed into the venv at `root` so far, as `name==version`, sorted.
    pub fn installed(&self, root: &Path) -> Vec<String> {
        let mut installed = self
            .installed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(root)
            .cloned()
            .unwrap_or_default();
        installed.sort();
        installed
    }

    /// The wheels that make `requirements` hold for the interpreter, by package.
    fn resolve(
        &self,
        requirements: &[Requirement],
    ) -> Result<Vec<(PackageName, Wanted)>, BuildEnvError> {
        let python = &self.interpreter.version;
        let manifest = Manifest {
            requires_python: Some(VersionSpecifiers::from(VersionSpecifier::equals_version(
                python.clone(),
            ))),
            requirements: requirements
                .iter()
                .map(|requirement| RootRequirement {
                    requirement: requirement.clone(),
                    activation: Activation::Always,
                })
                .collect(),
            ..Manifest::default()
        };
        let Some(runtime) = &self.runtime else {
            return Ok(Vec::new());
        };
        let resolution =
            resolver::resolve(&manifest, &self.client, runtime.handle()).map_err(|source| {
                BuildEnvError::Resolve {
                    python: python.clone(),
                    source,
                }
            })?;
        let tags = TagsPolicy(&self.interpreter.tags);
        let mut chosen: Vec<(PackageName, Wanted)> = Vec::new();
        for package in &resolution.packages {
            if let Some(marker) = &package.marker {
                let marker =
                    LockMarker::from_str(marker).map_err(|source| BuildEnvError::Marker {
                        name: package.name.clone(),
                        marker: marker.clone(),
                        source,
                    })?;
                if !marker.evaluate(&self.interpreter.markers, &[], &[]) {
                    continue;
                }
            }
            if chosen.iter().any(|(name, _)| *name == package.name) {
                continue;
            }
            let wheels: Vec<LockedWheel> = package
                .wheels
                .iter()
                .filter_map(super::lock::locked_wheel)
                .collect();
            if let Some(wheel) = best_wheel(&wheels, &tags) {
                chosen.push((package.name.clone(), Wanted::Wheel(wheel.clone())));
                continue;
            }
            let sdist = package
                .sdist
                .as_ref()
                .and_then(super::lock::locked_sdist)
                .filter(|_| self.nesting < MAX_NESTING);
            let Some(sdist) = sdist else {
                return Err(BuildEnvError::NoWheel {
                    name: package.name.clone(),
                    version: package.version.clone(),
                    python: python.clone(),
                    tags: crate::install::plan::TagPolicy::describe(&tags),
                });
            };
            let built = self.build_requirement(&SdistBuild {
                name: package.name.clone(),
                version: package.version.clone(),
                sdist,
            })?;
            chosen.push((package.name.clone(), Wanted::Built(built)));
        }
        Ok(chosen)
    }

    /// A wheel of the build requirement `build` built from its sdist (or found built in the
    /// cache), in a build environment of its own, one level deeper.
    fn build_requirement(&self, build: &SdistBuild) -> Result<BuiltWheel, BuildEnvError> {
        tracing::debug!(
            "building the build requirement `{}=={}` from its sdist",
            build.name,
            build.version
        );
        let failed = |source| BuildEnvError::BuildRequirement {
            name: build.name.clone(),
            version: build.version.clone(),
            source: Box::new(source),
        };
        let mut wheels = super::sdists::prepare_nested(
            std::slice::from_ref(build),
            self.fetch,
            &self.indexes,
            self.interpreter,
            self.cache,
            self.nesting + 1,
        )
        .map_err(failed)?;
        wheels.remove(build.sdist.sha256.as_str()).ok_or_else(|| {
            failed(SdistError::WrongWheel {
                name: build.name.clone(),
                version: build.version.clone(),
                sdist: build.sdist.name.clone(),
                wheel: "nothing".to_string(),
            })
        })
    }

    fn install_into(&self, venv: &Venv, requirements: &[Requirement]) -> Result<(), BuildEnvError> {
        lock_ignoring_poison(&self.requested)
            .entry(venv.root.clone())
            .or_default()
            .extend(requirements.iter().cloned());
        let locked = lock_ignoring_poison(&self.locked).get(&venv.root).cloned();
        if let Some(environment) = locked {
            return self.install_locked(venv, &environment, requirements);
        }
        let wanted = self.resolve(requirements)?;
        self.install_wanted(venv, wanted)
    }

    /// Installs `environment` (once per venv), then checks that it satisfies `requirements`.
    fn install_locked(
        &self,
        venv: &Venv,
        environment: &LockedEnvironment,
        requirements: &[Requirement],
    ) -> Result<(), BuildEnvError> {
        let markers = &self.interpreter.markers;
        if let Some(missing) = requirements
            .iter()
            .find(|requirement| !environment.satisfies(requirement, markers))
        {
            return Err(BuildEnvError::NotLocked {
                package: environment.package.clone(),
                requirement: missing.to_string(),
            });
        }
        if !lock_ignoring_poison(&self.provisioned).insert(venv.root.clone()) {
            return Ok(());
        }
        let tags = TagsPolicy(&self.interpreter.tags);
        let mut wanted = Vec::new();
        for package in &environment.packages {
            if package
                .marker
                .as_ref()
                .is_some_and(|marker| !marker.evaluate(markers, &[], &[]))
            {
                continue;
            }
            let Some(wheel) = best_wheel(&package.wheels, &tags) else {
                return Err(BuildEnvError::NoWheel {
                    name: package.name.clone(),
                    version: package.version.clone(),
                    python: self.interpreter.version.clone(),
                    tags: crate::install::plan::TagPolicy::describe(&tags),
                });
            };
            wanted.push((package.name.clone(), Wanted::Wheel(wheel.clone())));
        }
        tracing::debug!(
            "installing the locked build environment of `{}`",
            environment.package
        );
        self.install_wanted(venv, wanted)
    }

    /// Installs `wanted` into the venv, adding to what it holds.
    fn install_wanted(
        &self,
        venv: &Venv,
        mut wanted: Vec<(PackageName, Wanted)>,
    ) -> Result<(), BuildEnvError> {
        // A second call (the backend's own requirements) adds to the venv: what is there at
        // the version wanted stays, another version is replaced.
        for dist in site_packages::scan(&venv.layout).map_err(BuildEnvError::Scan)? {
            let Some(position) = wanted.iter().position(|(name, _)| *name == dist.name) else {
                continue;
            };
            if *wanted[position].1.version() == dist.version {
                wanted.remove(position);
            } else {
                wheel::uninstall(&dist.dist_info, &venv.layout).map_err(|source| {
                    BuildEnvError::Uninstall {
                        name: dist.name.clone(),
                        source,
                    }
                })?;
            }
        }
        let wheels: Vec<LockedWheel> = wanted
            .iter()
            .filter_map(|(_, wanted)| match wanted {
                Wanted::Wheel(wheel) => Some(wheel.clone()),
                Wanted::Built(_) => None,
            })
            .collect();
        let unpacked = wheels::prepare(&wheels, self.fetch, self.cache, &super::Silent)
            .map_err(|error| BuildEnvError::Prepare(Box::new(error)))?;
        let options = wheel::InstallOptions {
            requested: false,
            installer: "tack",
            direct_url: None,
        };
        let mut installed = Vec::new();
        for wheel in &wheels {
            let Some(dir) = unpacked.get(wheel.sha256.as_str()) else {
                return Err(BuildEnvError::Prepare(Box::new(PrepareError::Task {
                    wheel: wheel.name.to_string(),
                    detail: "it was not prepared".to_string(),
                })));
            };
            let filename = wheel.name.value();
            wheel::install_wheel(dir, filename, &venv.layout, LinkMode::Hardlink, &options)
                .map_err(|source| BuildEnvError::Install {
                    wheel: wheel.name.to_string(),
                    source,
                })?;
            installed.push(format!("{}=={}", filename.name, filename.version));
        }
        for (_, wanted) in &wanted {
            let Wanted::Built(built) = wanted else {
                continue;
            };
            let filename = &built.filename;
            wheel::install_wheel(
                &built.dir,
                filename,
                &venv.layout,
                LinkMode::Hardlink,
                &options,
            )
            .map_err(|source| BuildEnvError::Install {
                wheel: filename.to_string(),
                source,
            })?;
            installed.push(format!("{}=={}", filename.name, filename.version));
        }
        self.installed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(venv.root.clone())
            .or_default()
            .extend(installed);
        Ok(())
    }
}

fn lock_ignoring_poison<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl BuildEnvironments for BuildEnvs<'_> {
    fn install(&self, venv: &Venv, requirements: &[Requirement]) -> Result<(), BoxError> {
        self.install_into(venv, requirements).map_err(Into::into)
    }
}

impl Drop for BuildEnvs<'_> {
    fn drop(&mut self) {
        // Prefetches still in flight (and a DNS lookup stuck in the blocking pool) must not
        // hold up the sync: the answers are known.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
