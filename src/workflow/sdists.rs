//! Wheels built from sdists at sync time: a locked package with no wheel for the target (or
//! named by `--no-binary-package`) is built from its locked sdist, and the built wheel is then
//! installed like a downloaded one.
//!
//! 1. **The cache first.** A build is known by the sdist's sha256, the interpreter
//!    (implementation, `X.Y` and its most specific wheel tag, which holds the ABI and the
//!    platform) and the inputs of its build environment (the indexes its requirements come
//!    from): `built-v1/<key>.json` names the wheel that build gave, unpacked in the wheels
//!    bucket and checked against its `RECORD` before reuse. A hit builds and downloads nothing,
//!    so the second sync into a fresh venv is as fast as one of wheels. The resolved versions
//!    of the build requirements are recorded in the entry, but they are not part of the key:
//!    they are known only after resolving them (which needs the index) and asking the backend
//!    (which runs the sdist's code), and a cache consulted before either cannot depend on them.
//!    A build environment from the lock is known before, and is part of the key.
//! 2. **The sdist**, downloaded into the archives bucket with its sha256 checked against the
//!    lock (nothing is unpacked before), then unpacked without trusting it ([`unpack_sdist`])
//!    into a scratch directory under the built bucket, on the cache's file system so that build
//!    environments are hard-linked from the cache. The sdist stays in the archives bucket
//!    (checked again before reuse): a build for another interpreter, or after a failure, needs
//!    it again, and another process may be unpacking it right now.
//! 3. **The builds**, PEP 517 through [`crate::build::build_many`], at most
//!    `TACK_CONCURRENT_BUILDS` at a time, each in an isolated venv that [`BuildEnvs`] fills:
//!    with the build environment the lock holds for the package when it has one (exactly
//!    those versions, verified against the lock's hashes; that environment is then part of
//!    the cache key), else with requirements resolved now, which the reporter is warned of.
//! 4. **The wheel** must be the locked name and version and fit the interpreter; it is unpacked
//!    into the wheels bucket (checked against its own `RECORD`, as any wheel) and recorded.
//!
//! A failed build fails the sync before anything is installed. The builds that succeeded are
//! cached all the same, and the failed ones' `build.log` is kept (the error names it); the
//! rest of the scratch directory is removed.

mod unpack;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::Version;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use unpack::{unpack_sdist, UnpackError};

use super::build_env::{BuildEnvError, BuildEnvs, LockedEnvironment};
use super::wheels::{self, Download, FetchOptions, PrepareError};
use super::Reporter;
use crate::build::{build_many, BuildError, BuildKind, BuildRequest, Built};
use crate::cache::{Bucket, Cache, CacheError};
use crate::diagnostic::Diagnostic;
use crate::filename::WheelFilename;
use crate::index::config::IndexConfig;
use crate::install::wheel::{self, WheelError};
use crate::lock::{LockedBuilds, LockedSdist};
use crate::normalize::PackageName;
use crate::python::Interpreter;

/// A package to build from its sdist.
#[derive(Debug, Clone)]
pub struct SdistBuild {
    pub name: PackageName,
    pub version: Version,
    pub sdist: LockedSdist,
}

/// A wheel built from an sdist, unpacked in the cache.
#[derive(Debug, Clone)]
pub struct BuiltWheel {
    /// The unpacked wheel, ready to link.
    pub dir: PathBuf,
    pub filename: WheelFilename,
    /// Built by this call (not found in the cache).
    pub fresh: bool,
}

/// Why a wheel could not be built from an sdist.
#[derive(Debug, thiserror::Error)]
pub enum SdistError {
    #[error("cannot use the cache")]
    Cache(#[source] CacheError),
    #[error(transparent)]
    Download(Box<PrepareError>),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error("cannot set up the build environments")]
    Environments(#[source] BuildEnvError),
    #[error("failed to build `{name}=={version}` from its sdist `{sdist}`")]
    Build {
        name: PackageName,
        version: Version,
        sdist: String,
        #[source]
        source: Box<BuildError>,
    },
    #[error("the wheel built from `{sdist}` is `{wheel}`, which is not `{name}=={version}` as the lock has it")]
    WrongWheel {
        name: PackageName,
        version: Version,
        sdist: String,
        wheel: String,
    },
    #[error(
        "the wheel `{wheel}` built from `{sdist}` does not fit this environment (tags {tags})"
    )]
    Incompatible {
        sdist: String,
        wheel: String,
        tags: String,
    },
    #[error("cannot read `{}`, the wheel built from `{sdist}`", path.display())]
    Read {
        sdist: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to unpack `{wheel}`, built from `{sdist}`")]
    UnpackWheel {
        wheel: String,
        sdist: String,
        #[source]
        source: Box<WheelError>,
    },
}

impl Diagnostic for SdistError {
    fn hints(&self) -> Vec<String> {
        match self {
            // Transparent: not a link of the chain of its own.
            Self::Download(error) => error.hints(),
            Self::WrongWheel { name, .. } => vec![format!(
                "the sdist of `{name}` builds something else than it says; report it to its maintainers"
            )],
            _ => Vec::new(),
        }
    }

    fn is_bug(&self) -> bool {
        matches!(self, Self::Download(error) if error.is_bug())
    }
}

/// What the cache holds for one build.
#[derive(Debug, Serialize, Deserialize)]
struct CachedBuild {
    /// The built wheel's file name.
    wheel: String,
    /// Its sha256: the key of its unpacked copy in the wheels bucket.
    sha256: String,
    /// What the build environment held (`name==version`), for the record.
    build_requirements: Vec<String>,
}

/// Builds (or finds in the cache) a wheel of each of `wanted` for `interpreter`; returns them
/// by the sdist's sha256. A build installs the environment `locked` holds for its package, or
/// else build requirements resolved against `indexes`; see the module docs. `locked` is `None`
/// for a lock that never locks build environments (poetry.lock installed as it is, another
/// tool's pylock.toml): its builds resolve without a warning.
#[allow(clippy::too_many_arguments)] // the sync's settings, each needed here
pub fn prepare(
    wanted: &[SdistBuild],
    locked: Option<&LockedBuilds>,
    fetch: &FetchOptions,
    indexes: &IndexConfig,
    interpreter: &Interpreter,
    concurrent_builds: NonZeroUsize,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<BTreeMap<String, BuiltWheel>, SdistError> {
    prepare_at(
        wanted,
        locked,
        fetch,
        indexes,
        interpreter,
        concurrent_builds,
        cache,
        reporter,
        0,
    )
}

/// [`prepare`], with build environments `nesting` deep in the builds of build requirements.
#[allow(clippy::too_many_arguments)] // the sync's settings, each needed here
fn prepare_at(
    wanted: &[SdistBuild],
    locked: Option<&LockedBuilds>,
    fetch: &FetchOptions,
    indexes: &IndexConfig,
    interpreter: &Interpreter,
    concurrent_builds: NonZeroUsize,
    cache: &Cache,
    reporter: &dyn Reporter,
    nesting: usize,
) -> Result<BTreeMap<String, BuiltWheel>, SdistError> {
    let built_dir = cache
        .ensure_bucket(Bucket::Built)
        .map_err(SdistError::Cache)?;
    let wheels_dir = cache
        .ensure_bucket(Bucket::Wheels)
        .map_err(SdistError::Cache)?;
    // 1. The cache.
    let identity = identity(interpreter, indexes);
    let mut prepared = BTreeMap::new();
    let mut missing = Vec::new();
    for build in wanted {
        let environment = locked.and_then(|locked| {
            LockedEnvironment::from_lock(locked, &build.name, Some(&build.version))
        });
        let entry = built_dir.join(format!(
            "{}.json",
            key(&identity, build, environment.as_ref())
        ));
        match cached(&entry, &wheels_dir) {
            Some((dir, filename)) => {
                tracing::debug!("using the cached build of `{}`", build.sdist.name);
                prepared.insert(
                    build.sdist.sha256.to_string(),
                    BuiltWheel {
                        dir,
                        filename,
                        fresh: false,
                    },
                );
            }
            None => missing.push((build, entry, environment)),
        }
    }
    if missing.is_empty() {
        return Ok(prepared);
    }

    // 2. The sdists, downloaded and unpacked.
    let archives_dir = cache
        .ensure_bucket(Bucket::Archives)
        .map_err(SdistError::Cache)?;
    let archive = |build: &SdistBuild| archives_dir.join(format!("{}.sdist", build.sdist.sha256));
    let downloads: Vec<Download> = missing
        .iter()
        .filter(|(build, ..)| !has_sha256(&archive(build), build.sdist.sha256.as_str()))
        .map(|(build, ..)| Download {
            name: build.sdist.name.clone(),
            url: build.sdist.url.clone(),
            sha256: build.sdist.sha256.to_string(),
            size: build.sdist.size,
            destination: archive(build),
        })
        .collect();
    let nothing: wheels::Then<()> = Arc::new(|_| Ok(()));
    wheels::download_all(downloads, fetch, cache, reporter, &nothing)
        .map_err(|error| SdistError::Download(Box::new(error)))?;
    let scratch = tempfile::Builder::new()
        .prefix(".building-")
        .tempdir_in(&built_dir)
        .map_err(|source| {
            SdistError::Cache(CacheError::Write {
                path: built_dir.clone(),
                source,
            })
        })?;
    let mut requests = Vec::with_capacity(missing.len());
    for (index, (build, ..)) in missing.iter().enumerate() {
        let tree = unpack_sdist(
            &archive(build),
            &build.sdist.name,
            &scratch.path().join("sources").join(index.to_string()),
        )?;
        requests.push(BuildRequest {
            source: tree,
            kind: BuildKind::Wheel,
            out_dir: scratch.path().join("out").join(index.to_string()),
        });
    }

    // 3. The builds.
    let envs = BuildEnvs::new(indexes, fetch, interpreter, cache)
        .map_err(SdistError::Environments)?
        .nested(nesting);
    let builds_dir = scratch.path().join("builds");
    for (index, (build, _, environment)) in missing.iter().enumerate() {
        match environment {
            Some(environment) => envs
                .use_locked(&builds_dir.join(index.to_string()), environment.clone())
                .map_err(SdistError::Environments)?,
            None if locked.is_none() => {}
            None => reporter.warning(&format!(
                "the build environment of `{}=={}` is not locked: its build requirements are resolved from the index now",
                build.name, build.version
            )),
        }
    }
    let results = {
        let _building = reporter.building(requests.len());
        build_many(
            &requests,
            interpreter,
            &envs,
            &builds_dir,
            concurrent_builds,
        )
    };

    // 4. The wheels.
    let mut failures = Vec::new();
    for (index, ((build, entry, _), result)) in missing.iter().zip(results).enumerate() {
        let outcome = result
            .map_err(|source| SdistError::Build {
                name: build.name.clone(),
                version: build.version.clone(),
                sdist: build.sdist.name.clone(),
                source: Box::new(source),
            })
            .and_then(|built| {
                let requirements = fs_err::canonicalize(builds_dir.join(index.to_string()))
                    .map(|scratch| envs.installed(&scratch.join("env")))
                    .unwrap_or_default();
                finish(build, &built, interpreter, &wheels_dir, entry, requirements)
            });
        match outcome {
            Ok(wheel) => {
                prepared.insert(build.sdist.sha256.to_string(), wheel);
            }
            Err(error) => failures.push(error),
        }
    }
    drop(envs);
    let mut failures = failures.into_iter();
    let Some(first) = failures.next() else {
        return Ok(prepared);
    };
    for other in failures {
        tracing::warn!("{}", super::sync::error_chain(&other));
    }
    keep_logs(scratch, &builds_dir);
    Err(first)
}

/// [`prepare`] for the builds of build requirements ([`BuildEnvs`] asks for them): one at a
/// time, without a lock's environments, nothing reported, their own build environments
/// `nesting` deep.
pub(super) fn prepare_nested(
    wanted: &[SdistBuild],
    fetch: &FetchOptions,
    indexes: &IndexConfig,
    interpreter: &Interpreter,
    cache: &Cache,
    nesting: usize,
) -> Result<BTreeMap<String, BuiltWheel>, SdistError> {
    prepare_at(
        wanted,
        None,
        fetch,
        indexes,
        interpreter,
        NonZeroUsize::MIN,
        cache,
        &super::Silent,
        nesting,
    )
}

/// Checks the wheel of one build, unpacks it into the wheels bucket and records it at `entry`.
fn finish(
    build: &SdistBuild,
    output: &Built,
    interpreter: &Interpreter,
    wheels_dir: &Path,
    entry: &Path,
    build_requirements: Vec<String>,
) -> Result<BuiltWheel, SdistError> {
    let name = output
        .path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let wrong = || SdistError::WrongWheel {
        name: build.name.clone(),
        version: build.version.clone(),
        sdist: build.sdist.name.clone(),
        wheel: name.clone(),
    };
    let filename = WheelFilename::from_str(&name).map_err(|_| wrong())?;
    if filename.name != build.name || filename.version != build.version {
        return Err(wrong());
    }
    if interpreter.tags.priority(&filename).is_none() {
        return Err(SdistError::Incompatible {
            sdist: build.sdist.name.clone(),
            wheel: name,
            tags: interpreter
                .tags
                .iter()
                .take(5)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let sha256 = sha256_of(&output.path).map_err(|source| SdistError::Read {
        sdist: build.sdist.name.clone(),
        path: output.path.clone(),
        source,
    })?;
    let dir =
        wheel::unpack_wheel(&output.path, &filename, &sha256, wheels_dir).map_err(|source| {
            SdistError::UnpackWheel {
                wheel: name.clone(),
                sdist: build.sdist.name.clone(),
                source: Box::new(source),
            }
        })?;
    let record = CachedBuild {
        wheel: name,
        sha256,
        build_requirements,
    };
    // Best effort: without the entry, the next sync builds again.
    match serde_json::to_vec_pretty(&record) {
        Ok(bytes) => {
            if let Err(error) = crate::cache::write_atomic(entry, &bytes) {
                tracing::warn!("the build of `{}` is not cached: {error}", build.sdist.name);
            }
        }
        Err(error) => tracing::warn!("the build of `{}` is not cached: {error}", build.sdist.name),
    }
    Ok(BuiltWheel {
        dir,
        filename,
        fresh: true,
    })
}

/// What every build of this sync shares, besides the sdist: the interpreter and the inputs of
/// the build environments.
fn identity(interpreter: &Interpreter, indexes: &IndexConfig) -> String {
    use std::fmt::Write as _;
    let mut text = format!(
        "tack built wheel v1\nimplementation {}\npython {}\ntag {}\n",
        interpreter.implementation,
        interpreter.major_minor(),
        interpreter.tags.iter().next().unwrap_or_default(),
    );
    for index in &indexes.indexes {
        let _ = writeln!(text, "index {}", index.redacted());
    }
    for (package, index) in &indexes.pins {
        let _ = writeln!(text, "pin {package} {}", index.redacted());
    }
    text
}

/// The cache key of one build: with its locked build environment, when it has one.
fn key(identity: &str, build: &SdistBuild, environment: Option<&LockedEnvironment>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(identity.as_bytes());
    hasher.update(build.sdist.sha256.as_str().as_bytes());
    if let Some(environment) = environment {
        hasher.update(b"\nlocked build environment\n");
        hasher.update(environment.identity().as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The unpacked wheel and its name that the cache entry at `entry` names, when both are there
/// and the unpacked copy is intact.
fn cached(entry: &Path, wheels_dir: &Path) -> Option<(PathBuf, WheelFilename)> {
    let bytes = crate::cache::read(entry).ok()??;
    let record: CachedBuild = serde_json::from_slice(&bytes).ok()?;
    let filename = WheelFilename::from_str(&record.wheel).ok()?;
    match wheel::reuse_unpacked(wheels_dir, &record.sha256, &filename) {
        Ok(Some(dir)) => Some((dir, filename)),
        Ok(None) => None,
        Err(error) => {
            tracing::debug!(
                "the cached build `{}` is unusable: {error}",
                entry.display()
            );
            None
        }
    }
}

/// Whether the file at `path` exists and has this sha256 (an sdist kept from an earlier sync
/// whose build failed).
pub(super) fn has_sha256(path: &Path, sha256: &str) -> bool {
    path.is_file() && sha256_of(path).is_ok_and(|actual| actual.eq_ignore_ascii_case(sha256))
}

pub(super) fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// After a failed build: keeps the scratch directory's `build.log` files, which the error
/// names, and removes the rest (sources, build environments, outputs).
pub(super) fn keep_logs(scratch: tempfile::TempDir, builds_dir: &Path) {
    let root = scratch.keep();
    for dir in ["sources", "out"] {
        let _ = fs_err::remove_dir_all(root.join(dir));
    }
    if let Ok(builds) = fs_err::read_dir(builds_dir) {
        for build in builds.flatten() {
            let Ok(entries) = fs_err::read_dir(build.path()) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name() == "build.log" {
                    continue;
                }
                let path = entry.path();
                let _ = if path.is_dir() && !path.is_symlink() {
                    fs_err::remove_dir_all(&path)
                } else {
                    fs_err::remove_file(&path)
                };
            }
        }
    }
}
