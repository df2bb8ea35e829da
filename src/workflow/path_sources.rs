//! Path dependencies at lock time: a source tree next door (the monorepo's `libs/core`), locked
//! as a PEP 751 `directory` entry.
//!
//! The resolver does not look such a package up: it takes it as a *fixed* package
//! ([`FixedPackage`]), with the one version and the `Requires-Dist` of its built metadata
//! (`prepare_metadata_for_build_wheel` through [`crate::build::build`], as
//! `metadata_builds` does for sdists, on an interpreter `requires-python` allows).
//!
//! The metadata is cached in the built-metadata bucket under a key made of the tree's absolute
//! path and the size and mtime of the files that declare it (`pyproject.toml`, `setup.py`,
//! `setup.cfg`), so that `tack lock --check` and a sync that checks freshness do not build the
//! tree each time; an edit of its code changes nothing, an edit of its metadata builds again.
//!
//! A digest of the metadata goes into the lock's inputs (as the resolver setting `path:NAME`),
//! so that a change to a path dependency's dependencies or version makes the lock stale.
//!
//! Git and URL sources are prepared by [`super::direct_sources`]; paths to archives are refused
//! with the place that declares them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use super::build_env::{BuildEnvError, BuildEnvs};
use super::wheels::FetchOptions;
use crate::build::{BuildError, BuildKind};
use crate::cache::{Bucket, Cache, CacheError};
use crate::diagnostic::Diagnostic;
use crate::index::config::IndexConfig;
use crate::index::metadata::{parse_metadata, MetadataError};
use crate::index::CoreMetadata;
use crate::normalize::PackageName;
use crate::project::{DirectSource, ProjectSpec};
use crate::python::interpreter::{find_interpreter, InterpreterError};
use crate::resolver::FixedPackage;

/// The files whose change may change a source tree's metadata.
const METADATA_FILES: [&str; 3] = ["pyproject.toml", "setup.py", "setup.cfg"];

/// A path dependency, ready for the resolver and the lock.
#[derive(Debug, Clone)]
pub struct PathSource {
    /// The path as the lock records it: relative to the lock file, with `/` separators.
    pub lock_path: String,
    pub editable: bool,
    pub metadata: CoreMetadata,
    /// A digest of `metadata`, for the lock's inputs.
    pub digest: String,
}

/// Why a path dependency could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PathSourceError {
    #[error("`{name}`'s path `{}` is not a directory", path.display())]
    NotADirectory { name: PackageName, path: PathBuf },
    #[error("cannot use the cache")]
    Cache(#[source] CacheError),
    #[error("no Python interpreter to build the metadata of `{name}` with")]
    Interpreter {
        name: PackageName,
        #[source]
        source: Box<InterpreterError>,
    },
    #[error("cannot set up the build environment of `{name}`")]
    Environment {
        name: PackageName,
        #[source]
        source: Box<BuildEnvError>,
    },
    #[error("failed to build the metadata of `{name}` from `{}`", path.display())]
    Build {
        name: PackageName,
        path: PathBuf,
        #[source]
        source: Box<BuildError>,
    },
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the metadata built from `{}` does not parse", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: MetadataError,
    },
    #[error("the project in `{}` is `{found}`, but the dependency on it is named `{name}`", path.display())]
    Mismatch {
        name: PackageName,
        path: PathBuf,
        found: PackageName,
    },
}

impl Diagnostic for PathSourceError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::NotADirectory { .. } => vec![
                "a path dependency is a directory with a `pyproject.toml` (or `setup.py`); local archives are not supported yet".into(),
            ],
            Self::Build { source, .. } => source.hints(),
            Self::Environment { source, .. } => source.hints(),
            Self::Mismatch { found, .. } => vec![format!(
                "name the dependency `{found}`, or point it at the right directory"
            )],
            _ => Vec::new(),
        }
    }

    fn is_bug(&self) -> bool {
        matches!(self, Self::Build { source, .. } if source.is_bug())
    }
}

/// The project's path dependencies, by name, with their metadata (from the cache or built).
pub fn prepare(
    spec: &ProjectSpec,
    indexes: &IndexConfig,
    fetch: &FetchOptions,
    cache: &Cache,
) -> Result<BTreeMap<PackageName, PathSource>, PathSourceError> {
    let mut prepared = BTreeMap::new();
    let mut interpreter = None;
    for (name, declared) in &spec.direct_sources {
        let DirectSource::Path { path, editable } = &declared.source else {
            continue;
        };
        let tree = spec.root.join(path);
        if !tree.is_dir() {
            return Err(PathSourceError::NotADirectory {
                name: name.clone(),
                path: tree,
            });
        }
        let key = cache_key(&tree);
        let bucket = cache
            .ensure_bucket(Bucket::BuiltMetadata)
            .map_err(PathSourceError::Cache)?;
        let entry = bucket.join(format!("path-{key}.json"));
        let cached = crate::cache::read(&entry)
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice::<CoreMetadata>(&bytes).ok());
        let metadata = if let Some(metadata) = cached {
            tracing::debug!("using the cached metadata of `{}`", tree.display());
            metadata
        } else {
            if interpreter.is_none() {
                interpreter = Some(
                    find_interpreter(None, spec.requires_python.as_ref(), cache).map_err(
                        |source| PathSourceError::Interpreter {
                            name: name.clone(),
                            source: Box::new(source),
                        },
                    )?,
                );
            }
            let Some(interpreter) = interpreter.as_ref() else {
                continue;
            };
            let metadata =
                build_metadata(name, &tree, interpreter, indexes, fetch, cache, &bucket)?;
            if let Ok(bytes) = serde_json::to_vec_pretty(&metadata) {
                if let Err(error) = crate::cache::write_atomic(&entry, &bytes) {
                    tracing::warn!(
                        "the metadata of `{}` is not cached: {error}",
                        tree.display()
                    );
                }
            }
            metadata
        };
        if metadata.name != *name {
            return Err(PathSourceError::Mismatch {
                name: name.clone(),
                path: tree,
                found: metadata.name,
            });
        }
        let digest = serde_json::to_vec(&metadata)
            .map(|bytes| hex::encode(Sha256::digest(bytes)))
            .unwrap_or_default();
        prepared.insert(
            name.clone(),
            PathSource {
                lock_path: lock_path(path),
                editable: *editable,
                metadata,
                digest,
            },
        );
    }
    Ok(prepared)
}

/// The resolver's view of the path dependencies.
pub fn fixed(paths: &BTreeMap<PackageName, PathSource>) -> BTreeMap<PackageName, FixedPackage> {
    paths
        .iter()
        .map(|(name, source)| {
            (
                name.clone(),
                FixedPackage {
                    metadata: source.metadata.clone(),
                },
            )
        })
        .collect()
}

/// A path as written in `pyproject.toml`, as the lock records it: `/` separators, no `./`
/// prefix or trailing `/`. (The lock sits beside `pyproject.toml`, so a relative path stays
/// as it is.)
fn lock_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut text = text.trim_end_matches('/');
    while let Some(rest) = text.strip_prefix("./") {
        text = rest;
    }
    if text.is_empty() {
        ".".to_string()
    } else {
        text.to_string()
    }
}

/// The cache key of a tree's metadata: its absolute path, and the size and mtime of each file
/// that declares its metadata.
fn cache_key(tree: &Path) -> String {
    let absolute = fs_err::canonicalize(tree).unwrap_or_else(|_| tree.to_path_buf());
    let mut hasher = Sha256::new();
    hasher.update(absolute.as_os_str().as_encoded_bytes());
    for file in METADATA_FILES {
        hasher.update([0]);
        hasher.update(file.as_bytes());
        if let Ok(stat) = fs_err::metadata(tree.join(file)) {
            let mtime = stat
                .modified()
                .ok()
                .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |since| since.as_nanos());
            hasher.update(stat.len().to_le_bytes());
            hasher.update(mtime.to_le_bytes());
        }
    }
    hex::encode(hasher.finalize())
}

pub(super) fn build_metadata(
    name: &PackageName,
    tree: &Path,
    interpreter: &crate::python::Interpreter,
    indexes: &IndexConfig,
    fetch: &FetchOptions,
    cache: &Cache,
    bucket: &Path,
) -> Result<CoreMetadata, PathSourceError> {
    let scratch = tempfile::Builder::new()
        .prefix(".building-")
        .tempdir_in(bucket)
        .map_err(|source| {
            PathSourceError::Cache(CacheError::Write {
                path: bucket.to_path_buf(),
                source,
            })
        })?;
    let envs = BuildEnvs::new(indexes, fetch, interpreter, cache).map_err(|source| {
        PathSourceError::Environment {
            name: name.clone(),
            source: Box::new(source),
        }
    })?;
    let built = crate::build::build(
        tree,
        BuildKind::Metadata,
        interpreter,
        &envs,
        &scratch.path().join("build"),
        &scratch.path().join("out"),
    )
    .map_err(|source| PathSourceError::Build {
        name: name.clone(),
        path: tree.to_path_buf(),
        source: Box::new(source),
    })?;
    let path = built.path.join("METADATA");
    let bytes = fs_err::read(&path).map_err(|source| PathSourceError::Read {
        path: path.clone(),
        source,
    })?;
    parse_metadata(&bytes).map_err(|source| PathSourceError::Parse {
        path: tree.to_path_buf(),
        source,
    })
}
