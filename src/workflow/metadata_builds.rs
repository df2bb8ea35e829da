//! Metadata built from sdists at lock time: the [`MetadataBuilder`] the lock workflow hands the
//! resolver, for versions with no wheel whose sdist's metadata is dynamic (no usable
//! `Requires-Dist` in `PKG-INFO`). Without it such versions would be passed over, and the lock
//! would move to another version or fail.
//!
//! 1. **The cache first.** The metadata of an sdist depends only on the sdist (a backend that
//!    computes different dependencies on different machines writes markers, or is wrong for
//!    every lock anyway), so `built-metadata-v1/<sdist sha256>.json` holds the parsed
//!    `CoreMetadata` and a second lock builds nothing.
//! 2. **The sdist**, downloaded into the archives bucket (shared with sync-time builds) with
//!    its sha256 checked against the index page's, then unpacked without trusting it
//!    ([`unpack_sdist`]) into a scratch directory under the bucket.
//! 3. **The build**: `prepare_metadata_for_build_wheel`, else `build_wheel`, through
//!    [`crate::build::build`] in a build environment that [`BuildEnvs`] fills for the
//!    interpreter the lock found; its `METADATA` must name the sdist's package and version.
//!
//! A failed build keeps its `build.log` (the error names it) and fails the lock.
//!
//! The builder also remembers, by sdist sha256, every sdist whose metadata it gave and what
//! its backend asked for beyond `[build-system] requires` at `get_requires_for_build_wheel`
//! (kept in the cache entry too): the lock then locks a build environment for each
//! ([`super::build_lock`]), or names it as not lockable when the backend asks for more than
//! the locked environment holds.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, OnceLock};

use pep440_rs::{Version, VersionSpecifiers};
use serde::{Deserialize, Serialize};

use super::build_env::{BuildEnvError, BuildEnvs};
use super::sdists::{has_sha256, keep_logs, unpack_sdist, UnpackError};
use super::wheels::{self, Download, FetchOptions, PrepareError};
use crate::build::{BuildError, BuildKind, BuildSystem};
use crate::cache::{Bucket, Cache, CacheError};
use crate::diagnostic::Diagnostic;
use crate::index::config::IndexConfig;
use crate::index::metadata::{parse_metadata, MetadataError};
use crate::index::{CoreMetadata, IndexFile, IndexUrl};
use crate::normalize::PackageName;
use crate::python::interpreter::find_interpreter;
use crate::python::Interpreter;
use crate::resolver::{BoxError, MetadataBuilder};

/// Why the metadata of an sdist could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MetadataBuildFailure {
    #[error("cannot use the cache")]
    Cache(#[source] CacheError),
    #[error(transparent)]
    Download(Box<PrepareError>),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error("cannot set up the build environment")]
    Environment(#[source] BuildEnvError),
    #[error(transparent)]
    Build(Box<BuildError>),
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the metadata built from `{sdist}` does not parse")]
    Parse {
        sdist: String,
        #[source]
        source: MetadataError,
    },
    #[error("the metadata built from `{sdist}` is of `{found}`, not of `{name}=={version}`")]
    Mismatch {
        sdist: String,
        name: PackageName,
        version: Version,
        found: String,
    },
}

/// What the cache holds for one sdist (`built-metadata-v1/<sha256>.json`).
#[derive(Debug, Serialize, Deserialize)]
struct CachedMetadata {
    metadata: CoreMetadata,
    /// What `get_requires_for_build_wheel` asked for beyond `[build-system] requires`.
    get_requires: Vec<String>,
}

impl Diagnostic for MetadataBuildFailure {
    fn hints(&self) -> Vec<String> {
        match self {
            // Transparent: not links of the chain of their own.
            Self::Download(error) => error.hints(),
            Self::Build(error) => error.hints(),
            Self::Environment(error) => error.hints(),
            Self::Mismatch { name, .. } => vec![format!(
                "the sdist of `{name}` builds something else than it says; report it to its maintainers"
            )],
            _ => Vec::new(),
        }
    }

    fn is_bug(&self) -> bool {
        match self {
            Self::Download(error) => error.is_bug(),
            Self::Build(error) => error.is_bug(),
            _ => false,
        }
    }
}

/// Builds the metadata of sdists for one interpreter, against the lock's indexes and cache;
/// see the module docs. Owns what it needs: the resolver keeps it for as long as it runs.
pub struct SdistMetadataBuilder {
    indexes: IndexConfig,
    fetch: FetchOptions,
    requires_python: Option<VersionSpecifiers>,
    /// Found when the first build needs it (most locks build nothing); `None` when there is
    /// none that `requires_python` allows.
    interpreter: OnceLock<Option<Interpreter>>,
    cache: Cache,
    /// Every sdist whose metadata this builder gave (built or cached), by its sha256, with
    /// what its backend asked for beyond `[build-system] requires`.
    built: Mutex<BTreeMap<String, Vec<String>>>,
    /// Builds running now, at most `concurrent_builds` (the resolver's prefetching may ask
    /// for several at once).
    running: (Mutex<usize>, Condvar),
    concurrent_builds: NonZeroUsize,
}

/// A build's place among the running ones, given back when dropped.
struct Slot<'a>(&'a (Mutex<usize>, Condvar));

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let (count, freed) = self.0;
        *count
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) -= 1;
        freed.notify_one();
    }
}

impl SdistMetadataBuilder {
    /// Builds for the interpreter [`find_interpreter`] gives for `requires_python`.
    pub fn new(
        indexes: IndexConfig,
        fetch: FetchOptions,
        requires_python: Option<VersionSpecifiers>,
        cache: Cache,
    ) -> Self {
        Self {
            indexes,
            fetch,
            requires_python,
            interpreter: OnceLock::new(),
            cache,
            built: Mutex::new(BTreeMap::new()),
            running: (Mutex::new(0), Condvar::new()),
            concurrent_builds: NonZeroUsize::MIN,
        }
    }

    /// At most `concurrent_builds` builds at once (`TACK_CONCURRENT_BUILDS`; one by default).
    #[must_use]
    pub fn with_concurrent_builds(mut self, concurrent_builds: NonZeroUsize) -> Self {
        self.concurrent_builds = concurrent_builds;
        self
    }

    /// Waits for a place among the running builds.
    fn slot(&self) -> Slot<'_> {
        let (count, freed) = &self.running;
        let mut running = count
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *running >= self.concurrent_builds.get() {
            running = freed
                .wait(running)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *running += 1;
        Slot(&self.running)
    }

    /// Every sdist whose metadata was built (or found built in the cache) so far, by sha256,
    /// with the requirements its backend's `get_requires_for_build_wheel` added to
    /// `[build-system] requires`.
    pub fn built(&self) -> BTreeMap<String, Vec<String>> {
        self.built
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn remember(&self, sha256: &str, get_requires: &[String]) {
        self.built
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(sha256.to_string(), get_requires.to_vec());
    }

    /// The interpreter lock-time builds run with (found once), if any fits.
    pub(crate) fn interpreter(&self) -> Option<&Interpreter> {
        self.interpreter
            .get_or_init(|| {
                find_interpreter(None, self.requires_python.as_ref(), &self.cache)
                    .map_err(|error| {
                        tracing::debug!(
                            "no interpreter for metadata builds, sdists with dynamic metadata are passed over: {error}"
                        );
                    })
                    .ok()
            })
            .as_ref()
    }

    /// The metadata of `sdist`, from the cache or built; `None` when the index gave no sha256
    /// (nothing could be verified or cached).
    pub fn metadata(
        &self,
        name: &PackageName,
        version: &Version,
        sdist: &IndexFile,
    ) -> Result<Option<CoreMetadata>, MetadataBuildFailure> {
        let Some(sha256) = sdist.sha256.as_deref().map(str::to_ascii_lowercase) else {
            tracing::debug!(
                "not building the metadata of `{}`: the index gives no sha256",
                sdist.filename
            );
            return Ok(None);
        };
        let bucket = self
            .cache
            .ensure_bucket(Bucket::BuiltMetadata)
            .map_err(MetadataBuildFailure::Cache)?;
        let entry = bucket.join(format!("{sha256}.json"));
        if let Some(cached) = crate::cache::read(&entry)
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice::<CachedMetadata>(&bytes).ok())
            .filter(|cached| cached.metadata.name == *name && cached.metadata.version == *version)
        {
            tracing::debug!("using the cached metadata build of `{}`", sdist.filename);
            self.remember(&sha256, &cached.get_requires);
            return Ok(Some(cached.metadata));
        }
        let Some(interpreter) = self.interpreter() else {
            return Ok(None);
        };
        if self.fetch.offline {
            // A build needs the sdist and its build requirements: offline, pass it over.
            tracing::debug!(
                "not building the metadata of `{}`: offline, and not in the cache",
                sdist.filename
            );
            return Ok(None);
        }

        let _slot = self.slot();
        let archives = self
            .cache
            .ensure_bucket(Bucket::Archives)
            .map_err(MetadataBuildFailure::Cache)?;
        let archive = archives.join(format!("{sha256}.sdist"));
        if !has_sha256(&archive, &sha256) {
            let download = Download {
                name: sdist.filename.clone(),
                url: sdist.url.clone(),
                sha256: sha256.clone(),
                size: sdist.size,
                destination: archive.clone(),
            };
            let nothing: wheels::Then<()> = std::sync::Arc::new(|_| Ok(()));
            wheels::download_all(
                vec![download],
                &self.fetch,
                &self.cache,
                &super::Silent,
                &nothing,
            )
            .map_err(|error| MetadataBuildFailure::Download(Box::new(error)))?;
        }
        let scratch = tempfile::Builder::new()
            .prefix(".building-")
            .tempdir_in(&bucket)
            .map_err(|source| {
                MetadataBuildFailure::Cache(CacheError::Write {
                    path: bucket.clone(),
                    source,
                })
            })?;
        let tree = unpack_sdist(
            &archive,
            &sdist.filename,
            &scratch.path().join("sources").join("0"),
        )?;
        let envs = BuildEnvs::new(&self.indexes, &self.fetch, interpreter, &self.cache)
            .map_err(MetadataBuildFailure::Environment)?;
        let builds_dir = scratch.path().join("builds");
        let built = crate::build::build(
            &tree,
            BuildKind::Metadata,
            interpreter,
            &envs,
            &builds_dir.join("0"),
            &scratch.path().join("out").join("0"),
        );
        // What the build environment was asked for that `[build-system] requires` does not
        // say: `get_requires_for_build_wheel`'s additions. (The build read the table already:
        // it reads the same way now.)
        let requires: Vec<String> = BuildSystem::read(&tree)
            .map(|system| system.requires.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        let get_requires: Vec<String> = fs_err::canonicalize(builds_dir.join("0"))
            .map(|dir| envs.requested(&dir.join("env")))
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .filter(|requirement| !requires.contains(requirement))
            .collect();
        drop(envs);
        let built = match built {
            Ok(built) => built,
            Err(error) => {
                keep_logs(scratch, &builds_dir);
                return Err(MetadataBuildFailure::Build(Box::new(error)));
            }
        };
        let path = built.path.join("METADATA");
        let bytes =
            fs_err::read(&path).map_err(|source| MetadataBuildFailure::Read { path, source })?;
        let core = parse_metadata(&bytes).map_err(|source| MetadataBuildFailure::Parse {
            sdist: sdist.filename.clone(),
            source,
        })?;
        if core.name != *name || core.version != *version {
            return Err(MetadataBuildFailure::Mismatch {
                sdist: sdist.filename.clone(),
                name: name.clone(),
                version: version.clone(),
                found: format!("{}=={}", core.name, core.version),
            });
        }
        self.remember(&sha256, &get_requires);
        let cached = CachedMetadata {
            metadata: core,
            get_requires,
        };
        // Best effort: without the entry, the next lock builds again.
        match serde_json::to_vec_pretty(&cached) {
            Ok(bytes) => {
                if let Err(error) = crate::cache::write_atomic(&entry, &bytes) {
                    tracing::warn!(
                        "the metadata of `{}` is not cached: {error}",
                        sdist.filename
                    );
                }
            }
            Err(error) => {
                tracing::warn!(
                    "the metadata of `{}` is not cached: {error}",
                    sdist.filename
                );
            }
        }
        Ok(Some(cached.metadata))
    }
}

impl MetadataBuilder for SdistMetadataBuilder {
    fn build_metadata(
        &self,
        name: &PackageName,
        version: &Version,
        _index: &IndexUrl,
        sdist: &IndexFile,
    ) -> Result<Option<CoreMetadata>, BoxError> {
        self.metadata(name, version, sdist).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn no_more_builds_run_at_once_than_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let fetch = FetchOptions {
            indexes: Vec::new(),
            offline: true,
            concurrent_downloads: 1,
            http: crate::index::HttpSettings::default(),
        };
        let builder = SdistMetadataBuilder::new(
            IndexConfig::default(),
            fetch,
            None,
            Cache::new(dir.path().to_path_buf()),
        )
        .with_concurrent_builds(NonZeroUsize::new(2).unwrap());
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for _ in 0..6 {
                scope.spawn(|| {
                    let _slot = builder.slot();
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
