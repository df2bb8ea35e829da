//! Git and URL dependencies at lock time: each becomes one fixed package for the resolver (its
//! one version and the `Requires-Dist` of its metadata) and a PEP 751 `vcs` or `archive` entry.
//!
//! - **Git.** The reference (branch, tag, revision, else the default branch) is resolved to a
//!   full commit in the cached bare clone ([`super::git`]). A re-lock keeps the commit the
//!   previous lock holds for the same URL, reference and subdirectory, without a fetch when
//!   the clone has it, unless `--upgrade` or `--upgrade-package NAME` asks to move it. The
//!   metadata is built from a checkout of that commit (plus `subdirectory`), as for a path
//!   dependency, and cached by commit and subdirectory: a commit never changes.
//! - **Archives.** The file is downloaded once through the index client (credentials from the
//!   URL, a configured index or `.netrc`), hashed, checked against a `#sha256=` of the
//!   reference, and kept in the archives bucket, where the sync finds it again. The metadata is
//!   the wheel's `METADATA`, or built from the unpacked sdist, and cached by the sha256. A
//!   re-lock of the same URL reuses the locked hash and the cached metadata without a request.
//!
//! The declaration (URL, reference, subdirectory, hash) is part of the lock's inputs, so that
//! `tack lock --check` tells a changed source without touching the network.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest, Sha256};
use url::Url;

use super::git::{requested_revision, GitError, Repository};
use super::path_sources::{build_metadata, PathSourceError};
use super::sdists::{unpack_sdist, UnpackError};
use super::wheels::FetchOptions;
use crate::cache::{Bucket, Cache, CacheError};
use crate::diagnostic::Diagnostic;
use crate::index::config::IndexConfig;
use crate::index::metadata::{parse_metadata, MetadataError};
use crate::index::{CoreMetadata, IndexClient, IndexError};
use crate::lock::{Lock, LockedArchive, LockedGit, LockedSource, Sha256Digest};
use crate::normalize::PackageName;
use crate::project::{DirectSource, DirectUrl, ProjectSpec};
use crate::python::interpreter::{find_interpreter, InterpreterError};
use crate::python::Interpreter;
use crate::resolver::FixedPackage;

/// A git or URL dependency, ready for the resolver and the lock.
#[derive(Debug, Clone)]
pub struct DirectPrepared {
    pub source: LockedSource,
    pub metadata: CoreMetadata,
}

/// Why a git or URL dependency could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DirectSourceError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("cannot download `{url}` (for `{name}`)")]
    Download {
        name: PackageName,
        url: String,
        #[source]
        source: Box<IndexError>,
    },
    #[error("the archive `{url}` (for `{name}`) has the sha256 `{actual}`, but its `#sha256=` says `{expected}`")]
    HashMismatch {
        name: PackageName,
        url: String,
        expected: String,
        actual: String,
    },
    #[error("`{url}` (for `{name}`) is neither a wheel (`.whl`) nor an sdist (`.tar.gz`, `.zip`)")]
    NotAnArchive { name: PackageName, url: String },
    #[error("`{name}`: a `subdirectory` inside an archive is not supported yet")]
    ArchiveSubdirectory { name: PackageName },
    #[error("cannot unpack `{url}` (for `{name}`)")]
    Unpack {
        name: PackageName,
        url: String,
        #[source]
        source: UnpackError,
    },
    #[error("cannot read the metadata of the wheel `{url}` (for `{name}`): {problem}")]
    WheelMetadata {
        name: PackageName,
        url: String,
        problem: String,
    },
    #[error("the metadata of `{url}` (for `{name}`) does not parse")]
    Parse {
        name: PackageName,
        url: String,
        #[source]
        source: MetadataError,
    },
    #[error("`{url}` holds the project `{found}`, but the dependency on it is named `{name}`")]
    Mismatch {
        name: PackageName,
        url: String,
        found: PackageName,
    },
    #[error("`{name}`: `{}` is not a directory of the checkout", subdirectory)]
    NoSubdirectory {
        name: PackageName,
        subdirectory: String,
    },
    #[error("no Python interpreter to build the metadata of `{name}` with")]
    Interpreter {
        name: PackageName,
        #[source]
        source: Box<InterpreterError>,
    },
    #[error(transparent)]
    Build(Box<PathSourceError>),
    #[error("cannot use the cache")]
    Cache(#[source] CacheError),
}

impl Diagnostic for DirectSourceError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Git(error) => error.hints(),
            Self::Download { source, .. } => source.hints(),
            Self::HashMismatch { .. } => vec![
                "the file on the server is not the one the `#sha256=` names: check the URL, or update the digest if the new file is trusted".into(),
            ],
            Self::Mismatch { found, .. } => vec![format!("name the dependency `{found}`")],
            Self::Build(error) => error.hints(),
            _ => Vec::new(),
        }
    }

    fn is_bug(&self) -> bool {
        matches!(self, Self::Build(error) if error.is_bug())
    }
}

/// What [`prepare`] needs besides the project.
pub struct DirectContext<'a> {
    /// The lock being replaced: its commits and hashes are kept.
    pub existing: Option<&'a Lock>,
    pub upgrade: bool,
    pub upgrade_packages: &'a BTreeSet<PackageName>,
    pub client: &'a IndexClient,
    pub runtime: &'a tokio::runtime::Handle,
    pub indexes: &'a IndexConfig,
    pub fetch: &'a FetchOptions,
    pub cache: &'a Cache,
}

/// The project's git and URL dependencies, by name, with their metadata; see the module docs.
pub fn prepare(
    spec: &ProjectSpec,
    context: &DirectContext<'_>,
) -> Result<BTreeMap<PackageName, DirectPrepared>, DirectSourceError> {
    let mut prepared = BTreeMap::new();
    let mut interpreter: Option<Interpreter> = None;
    let mut interpreter_for = |name: &PackageName| -> Result<Interpreter, DirectSourceError> {
        if let Some(found) = &interpreter {
            return Ok(found.clone());
        }
        let found = find_interpreter(None, spec.requires_python.as_ref(), context.cache).map_err(
            |source| DirectSourceError::Interpreter {
                name: name.clone(),
                source: Box::new(source),
            },
        )?;
        interpreter = Some(found.clone());
        Ok(found)
    };
    for (name, declared) in &spec.direct_sources {
        let kept = !context.upgrade && !context.upgrade_packages.contains(name);
        let locked = context
            .existing
            .into_iter()
            .flat_map(|lock| &lock.direct)
            .filter(|_| kept)
            .find(|entry| entry.name == *name)
            .map(|entry| &entry.source);
        let entry = match &declared.source {
            DirectSource::Path { .. } => continue,
            DirectSource::Git {
                url,
                reference,
                subdirectory,
            } => {
                let repository = Repository::open(name, url, context.cache)?;
                let requested = requested_revision(reference);
                let lock_url = git_lock_url(url);
                let commit = match locked {
                    Some(LockedSource::Git(git))
                        if git.url == lock_url
                            && git.requested_revision == requested
                            && git.subdirectory == *subdirectory =>
                    {
                        repository.ensure_commit(&git.commit_id)?;
                        git.commit_id.clone()
                    }
                    _ => repository.resolve(reference, true)?,
                };
                let key = format!(
                    "git-{}",
                    digest(&[&commit, subdirectory.as_deref().unwrap_or("")])
                );
                let metadata = cached_or(context.cache, &key, || {
                    let bucket = ensure(context.cache, Bucket::BuiltMetadata)?;
                    let scratch = scratch_in(&bucket)?;
                    let checkout = scratch.path().join("checkout");
                    repository.checkout(&commit, &checkout)?;
                    let tree = subdirectory
                        .as_ref()
                        .map_or_else(|| checkout.clone(), |sub| checkout.join(sub));
                    if !tree.is_dir() {
                        return Err(DirectSourceError::NoSubdirectory {
                            name: name.clone(),
                            subdirectory: subdirectory.clone().unwrap_or_default(),
                        });
                    }
                    let interpreter = interpreter_for(name)?;
                    build_metadata(
                        name,
                        &tree,
                        &interpreter,
                        context.indexes,
                        context.fetch,
                        context.cache,
                        &bucket,
                    )
                    .map_err(|error| DirectSourceError::Build(Box::new(error)))
                })?;
                DirectPrepared {
                    source: LockedSource::Git(LockedGit {
                        url: lock_url,
                        requested_revision: requested,
                        commit_id: commit,
                        subdirectory: subdirectory.clone(),
                    }),
                    metadata,
                }
            }
            DirectSource::Url {
                url,
                subdirectory,
                sha256,
            } => {
                if subdirectory.is_some() {
                    return Err(DirectSourceError::ArchiveSubdirectory { name: name.clone() });
                }
                let lock_url = crate::lock::without_credentials(url.with_credentials());
                let reused = match locked {
                    Some(LockedSource::Archive(archive))
                        if archive.url == lock_url
                            && archive.subdirectory == *subdirectory
                            && sha256
                                .as_deref()
                                .is_none_or(|wanted| wanted == archive.sha256.as_str()) =>
                    {
                        Some(archive.clone())
                    }
                    _ => None,
                };
                let cached = reused.as_ref().and_then(|archive| {
                    read_cached(context.cache, &format!("archive-{}", archive.sha256))
                        .map(|metadata| (archive.clone(), metadata))
                });
                let (archive, metadata) = if let Some(found) = cached {
                    found
                } else {
                    {
                        let (archive, file) = download(name, url, sha256.as_deref(), context)?;
                        let key = format!("archive-{}", archive.sha256);
                        let metadata = cached_or(context.cache, &key, || {
                            archive_metadata(
                                name,
                                url,
                                &archive,
                                &file,
                                context,
                                &mut interpreter_for,
                            )
                        })?;
                        (archive, metadata)
                    }
                };
                DirectPrepared {
                    source: LockedSource::Archive(archive),
                    metadata,
                }
            }
        };
        if entry.metadata.name != *name {
            return Err(DirectSourceError::Mismatch {
                name: name.clone(),
                url: declared.source.to_string(),
                found: entry.metadata.name,
            });
        }
        prepared.insert(name.clone(), entry);
    }
    Ok(prepared)
}

/// The resolver's view of the git and URL dependencies.
pub fn fixed(
    direct: &BTreeMap<PackageName, DirectPrepared>,
) -> impl Iterator<Item = (PackageName, FixedPackage)> + '_ {
    direct.iter().map(|(name, prepared)| {
        (
            name.clone(),
            FixedPackage {
                metadata: prepared.metadata.clone(),
            },
        )
    })
}

/// The declaration of a git or URL source as the lock's inputs record it (without
/// credentials); `None` for a path.
pub fn input(source: &DirectSource) -> Option<(&'static str, String)> {
    match source {
        DirectSource::Path { .. } => None,
        DirectSource::Git {
            url,
            reference,
            subdirectory,
        } => Some((
            "git",
            format!(
                "{url} {} {}",
                requested_revision(reference).unwrap_or_else(|| "HEAD".to_string()),
                subdirectory.as_deref().unwrap_or(".")
            ),
        )),
        DirectSource::Url {
            url,
            subdirectory,
            sha256,
        } => Some((
            "url",
            format!(
                "{url} {} {}",
                sha256.as_deref().unwrap_or("-"),
                subdirectory.as_deref().unwrap_or(".")
            ),
        )),
    }
}

/// A git URL as the lock records it: without credentials, but with the user name of an
/// `ssh://` URL, which the clone needs.
fn git_lock_url(url: &DirectUrl) -> Url {
    Url::parse(&url.redacted())
        .unwrap_or_else(|_| crate::lock::without_credentials(url.with_credentials()))
}

fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

fn ensure(cache: &Cache, bucket: Bucket) -> Result<PathBuf, DirectSourceError> {
    cache
        .ensure_bucket(bucket)
        .map_err(DirectSourceError::Cache)
}

fn scratch_in(dir: &Path) -> Result<tempfile::TempDir, DirectSourceError> {
    tempfile::Builder::new()
        .prefix(".direct-")
        .tempdir_in(dir)
        .map_err(|source| {
            DirectSourceError::Cache(CacheError::Write {
                path: dir.to_path_buf(),
                source,
            })
        })
}

fn read_cached(cache: &Cache, key: &str) -> Option<CoreMetadata> {
    let entry = cache
        .bucket(Bucket::BuiltMetadata)
        .join(format!("{key}.json"));
    crate::cache::read(&entry)
        .ok()
        .flatten()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

/// The metadata cached under `key`, else made by `make` and cached.
fn cached_or(
    cache: &Cache,
    key: &str,
    make: impl FnOnce() -> Result<CoreMetadata, DirectSourceError>,
) -> Result<CoreMetadata, DirectSourceError> {
    if let Some(metadata) = read_cached(cache, key) {
        tracing::debug!("using the cached metadata `{key}`");
        return Ok(metadata);
    }
    let metadata = make()?;
    let entry = ensure(cache, Bucket::BuiltMetadata)?.join(format!("{key}.json"));
    if let Ok(bytes) = serde_json::to_vec_pretty(&metadata) {
        if let Err(error) = crate::cache::write_atomic(&entry, &bytes) {
            tracing::warn!("the metadata `{key}` is not cached: {error}");
        }
    }
    Ok(metadata)
}

/// Downloads the archive into the archives bucket (`<sha256>.whl` or `<sha256>.sdist`, where
/// the sync looks for it); its lock record and its path.
fn download(
    name: &PackageName,
    url: &DirectUrl,
    expected: Option<&str>,
    context: &DirectContext<'_>,
) -> Result<(LockedArchive, PathBuf), DirectSourceError> {
    let lock_url = crate::lock::without_credentials(url.with_credentials());
    let probe = LockedArchive {
        url: lock_url.clone(),
        size: None,
        sha256: Sha256Digest::from_str(&"0".repeat(64)).map_err(|_| {
            DirectSourceError::NotAnArchive {
                name: name.clone(),
                url: url.redacted(),
            }
        })?,
        subdirectory: None,
    };
    let file_name = probe.file_name().to_ascii_lowercase();
    let wheel = probe.is_wheel();
    let sdist = [".tar.gz", ".zip"]
        .iter()
        .any(|suffix| file_name.ends_with(suffix));
    if !(wheel || sdist) {
        return Err(DirectSourceError::NotAnArchive {
            name: name.clone(),
            url: url.redacted(),
        });
    }
    let archives = ensure(context.cache, Bucket::Archives)?;
    let scratch = scratch_in(&archives)?;
    let staged = scratch.path().join("download");
    let (size, actual) = context
        .runtime
        .block_on(
            context
                .client
                .download_archive(url.with_credentials(), &staged),
        )
        .map_err(|source| DirectSourceError::Download {
            name: name.clone(),
            url: url.redacted(),
            source: Box::new(source),
        })?;
    if let Some(expected) = expected {
        if !expected.eq_ignore_ascii_case(&actual) {
            return Err(DirectSourceError::HashMismatch {
                name: name.clone(),
                url: url.redacted(),
                expected: expected.to_string(),
                actual,
            });
        }
    }
    let sha256 = Sha256Digest::from_str(&actual).map_err(|_| DirectSourceError::NotAnArchive {
        name: name.clone(),
        url: url.redacted(),
    })?;
    let destination = archives.join(format!("{actual}.{}", if wheel { "whl" } else { "sdist" }));
    fs_err::rename(&staged, &destination).map_err(|source| {
        DirectSourceError::Cache(CacheError::Write {
            path: destination.clone(),
            source,
        })
    })?;
    Ok((
        LockedArchive {
            url: lock_url,
            size: Some(size),
            sha256,
            subdirectory: None,
        },
        destination,
    ))
}

/// The metadata of a downloaded archive: a wheel's `METADATA`, or built from an sdist.
fn archive_metadata(
    name: &PackageName,
    url: &DirectUrl,
    archive: &LockedArchive,
    file: &Path,
    context: &DirectContext<'_>,
    interpreter_for: &mut dyn FnMut(&PackageName) -> Result<Interpreter, DirectSourceError>,
) -> Result<CoreMetadata, DirectSourceError> {
    if archive.is_wheel() {
        let bytes = wheel_metadata(file).map_err(|problem| DirectSourceError::WheelMetadata {
            name: name.clone(),
            url: url.redacted(),
            problem,
        })?;
        return parse_metadata(&bytes).map_err(|source| DirectSourceError::Parse {
            name: name.clone(),
            url: url.redacted(),
            source,
        });
    }
    let bucket = ensure(context.cache, Bucket::BuiltMetadata)?;
    let scratch = scratch_in(&bucket)?;
    let tree = unpack_sdist(file, archive.file_name(), &scratch.path().join("sdist")).map_err(
        |source| DirectSourceError::Unpack {
            name: name.clone(),
            url: url.redacted(),
            source,
        },
    )?;
    let interpreter = interpreter_for(name)?;
    build_metadata(
        name,
        &tree,
        &interpreter,
        context.indexes,
        context.fetch,
        context.cache,
        &bucket,
    )
    .map_err(|error| DirectSourceError::Build(Box::new(error)))
}

/// The bytes of the `*.dist-info/METADATA` at the top of a wheel.
fn wheel_metadata(file: &Path) -> Result<Vec<u8>, String> {
    let reader = fs_err::File::open(file).map_err(|error| error.to_string())?;
    let mut archive = zip::ZipArchive::new(reader).map_err(|error| error.to_string())?;
    let entry = archive
        .file_names()
        .find(|entry| entry.ends_with(".dist-info/METADATA") && entry.matches('/').count() == 1)
        .map(str::to_string)
        .ok_or_else(|| "it has no `.dist-info/METADATA`".to_string())?;
    let mut bytes = Vec::new();
    archive
        .by_name(&entry)
        .map_err(|error| error.to_string())?
        .take(16 * 1024 * 1024)
        .read_to_end(&mut bytes)
        .map_err(|error| error.to_string())?;
    Ok(bytes)
}
