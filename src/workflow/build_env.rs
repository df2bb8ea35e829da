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
//! A build requirement with no wheel for the interpreter is an error that names it: building
//! the build requirements themselves (recursive builds) is not done yet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use pep440_rs::{VersionSpecifier, VersionSpecifiers};
use pep508_rs::Requirement;

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
use crate::lock::{InvalidMarker, LockMarker, LockedWheel};
use crate::normalize::PackageName;
use crate::python::Interpreter;
use crate::resolver::{self, Activation, Manifest, ResolveError, RootRequirement};

/// Why the requirements of a build could not be installed.
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
}

impl Diagnostic for BuildEnvError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::NoWheel { name, .. } => vec![format!(
                "tack does not build build requirements from source yet: the build needs a version of `{name}` that publishes a wheel for this platform"
            )],
            Self::Prepare(error) => error.hints(),
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

/// Installs build requirements for one interpreter from the sync's indexes and cache; see the
/// module docs. Shared by the builds of one sync, which may call it at the same time.
pub struct BuildEnvs<'a> {
    interpreter: &'a Interpreter,
    cache: &'a Cache,
    fetch: &'a FetchOptions,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    client: IndexClient,
    /// What was installed in each build venv (`name==version`), by the venv's root.
    installed: Mutex<BTreeMap<PathBuf, Vec<String>>>,
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
            interpreter,
            cache,
            fetch,
            runtime: Some(runtime),
            client,
            installed: Mutex::new(BTreeMap::new()),
        })
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
    ) -> Result<Vec<(PackageName, LockedWheel)>, BuildEnvError> {
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
        let mut chosen: Vec<(PackageName, LockedWheel)> = Vec::new();
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
            let Some(wheel) = best_wheel(&wheels, &tags) else {
                return Err(BuildEnvError::NoWheel {
                    name: package.name.clone(),
                    version: package.version.clone(),
                    python: python.clone(),
                    tags: crate::install::plan::TagPolicy::describe(&tags),
                });
            };
            chosen.push((package.name.clone(), wheel.clone()));
        }
        Ok(chosen)
    }

    fn install_into(&self, venv: &Venv, requirements: &[Requirement]) -> Result<(), BuildEnvError> {
        let mut wanted = self.resolve(requirements)?;
        // A second call (the backend's own requirements) adds to the venv: what is there at
        // the version wanted stays, another version is replaced.
        for dist in site_packages::scan(&venv.layout).map_err(BuildEnvError::Scan)? {
            let Some(position) = wanted.iter().position(|(name, _)| *name == dist.name) else {
                continue;
            };
            if wanted[position].1.name.value().version == dist.version {
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
        let wheels: Vec<LockedWheel> = wanted.iter().map(|(_, wheel)| wheel.clone()).collect();
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
        self.installed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(venv.root.clone())
            .or_default()
            .extend(installed);
        Ok(())
    }
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
