//! Prepared wheels: every wheel a plan installs, unpacked in the cache and checked, ready to
//! link.
//!
//! An unpacked copy already in the cache is checked against its `RECORD` (in parallel) and
//! reused; a damaged one is discarded and fetched again. The others are downloaded in parallel
//! (at most `TACK_CONCURRENT_DOWNLOADS` at once), each streamed through sha256 and kept only
//! when it matches the lock, then unpacked once into the cache under that hash. Nothing from a
//! download that failed its hash check is ever unpacked.
//!
//! Each wheel is unpacked (on the blocking pool) as soon as its own download is verified, while
//! the others are still downloading, so the downloads and the unpacking overlap. A wheel no
//! larger than [`MEMORY_PER_WHEEL`] is kept in memory while [`MEMORY_BUDGET`] allows, and
//! unpacked from there: the archive of most wheels is never written to disk, flushed and
//! deleted (on ext4 those three cost more than the unpacking). Unpacking the archive while it
//! downloads, from its local headers, was measured and left out: the central directory, which
//! the hostile-archive checks survey first, comes last, and the download of the largest wheel,
//! not its unpacking, is what a cold sync waits for.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::Reporter;
use crate::cache::{Bucket, Cache, CacheError};
use crate::diagnostic::Diagnostic;
use crate::filename::WheelFilename;
use crate::index::{ClientOptions, Downloaded, HttpSettings, IndexClient, IndexError, IndexUrl};
use crate::install::wheel::{self, WheelError};
use crate::lock::LockedWheel;

/// Downloads in flight at most, unless `TACK_CONCURRENT_DOWNLOADS` says otherwise.
pub const DEFAULT_CONCURRENT_DOWNLOADS: usize = 50;

/// The largest wheel (by the lock's size) that is downloaded into memory rather than a file.
pub const MEMORY_PER_WHEEL: u64 = 8 << 20;
/// How much memory the wheels downloaded into memory take at most, together, from the start of
/// their download to the end of their unpacking; a wheel that does not fit goes to a file.
pub const MEMORY_BUDGET: u64 = 32 << 20;

/// How to reach the files.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Indexes whose credentials downloads may need.
    pub indexes: Vec<IndexUrl>,
    pub offline: bool,
    pub concurrent_downloads: usize,
    pub http: HttpSettings,
}

/// Why a wheel could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("cannot use the cache")]
    Cache(#[source] CacheError),
    #[error("failed to check the cached `{wheel}`")]
    CheckCached {
        wheel: String,
        #[source]
        source: WheelError,
    },
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot set up the index client")]
    Client(#[source] Box<IndexError>),
    #[error("failed to download `{wheel}`")]
    Download {
        wheel: String,
        #[source]
        source: Box<IndexError>,
    },
    #[error("failed to unpack `{wheel}`")]
    Unpack {
        wheel: String,
        #[source]
        source: WheelError,
    },
    #[error("a download or unpack task of `{wheel}` ended abnormally: {detail}")]
    Task { wheel: String, detail: String },
}

impl Diagnostic for PrepareError {
    fn is_bug(&self) -> bool {
        matches!(self, Self::Task { .. })
    }
}

/// A runtime and an index client for downloads.
pub(super) fn index_client(
    indexes: Vec<IndexUrl>,
    cache: &Cache,
    offline: bool,
    http: HttpSettings,
) -> Result<(tokio::runtime::Runtime, IndexClient), PrepareError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(PrepareError::Runtime)?;
    let mut options = ClientOptions::new(indexes, cache.clone()).with_http(http);
    options.offline = offline;
    let client =
        IndexClient::new(options).map_err(|error| PrepareError::Client(Box::new(error)))?;
    Ok((runtime, client))
}

/// Download (when not cached yet) and unpack every wanted wheel; returns the unpacked
/// directory of each, by sha256.
pub fn prepare(
    wanted: &[LockedWheel],
    options: &FetchOptions,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<BTreeMap<String, PathBuf>, PrepareError> {
    let wheels_dir = cache
        .ensure_bucket(Bucket::Wheels)
        .map_err(PrepareError::Cache)?;
    let archives_dir = cache
        .ensure_bucket(Bucket::Archives)
        .map_err(PrepareError::Cache)?;
    let mut unpacked = BTreeMap::new();
    let mut missing = Vec::new();
    let keys: Vec<(&str, &WheelFilename)> = wanted
        .iter()
        .map(|wheel| (wheel.sha256.as_str(), wheel.name.value()))
        .collect();
    let checked = wheel::reuse_unpacked_all(&wheels_dir, &keys);
    for (locked, cached) in wanted.iter().zip(checked) {
        match cached.map_err(|source| PrepareError::CheckCached {
            wheel: locked.name.to_string(),
            source,
        })? {
            Some(dir) => {
                unpacked.insert(locked.sha256.to_string(), dir);
            }
            None => missing.push(Download {
                name: locked.name.to_string(),
                url: locked.url.clone(),
                sha256: locked.sha256.to_string(),
                size: locked.size,
                destination: archives_dir.join(format!("{}.whl", locked.sha256)),
            }),
        }
    }
    let filenames: BTreeMap<String, WheelFilename> = keys
        .into_iter()
        .map(|(sha256, filename)| (sha256.to_string(), filename.clone()))
        .collect();
    let unpack = move |download: &Download, downloaded: Downloaded| {
        let filename = filenames
            .get(&download.sha256)
            .ok_or_else(|| PrepareError::Task {
                wheel: download.name.clone(),
                detail: "the wheel was not asked for".to_string(),
            })?;
        let dir = match downloaded {
            Downloaded::Memory(archive) => {
                wheel::unpack_wheel_bytes(archive, filename, &download.sha256, &wheels_dir)
            }
            Downloaded::File => {
                let dir = wheel::unpack_wheel(
                    &download.destination,
                    filename,
                    &download.sha256,
                    &wheels_dir,
                );
                let _ = fs_err::remove_file(&download.destination);
                dir
            }
        };
        dir.map_err(|source| PrepareError::Unpack {
            wheel: download.name.clone(),
            source,
        })
        .map(|dir| (download.sha256.clone(), dir))
    };
    unpacked.extend(download_each(
        missing,
        options,
        cache,
        reporter,
        MEMORY_BUDGET,
        &(Arc::new(unpack) as ThenDownloaded<_>),
    )?);
    Ok(unpacked)
}

/// One file to download.
#[derive(Debug, Clone)]
pub(super) struct Download {
    /// The file name, for messages.
    pub name: String,
    pub url: url::Url,
    pub sha256: String,
    pub size: Option<u64>,
    /// Where the file goes once its sha256 matched.
    pub destination: PathBuf,
}

/// What to do with a downloaded file, on the blocking pool, as soon as it is in place.
pub(super) type Then<T> = Arc<dyn Fn(&Download) -> Result<T, PrepareError> + Send + Sync>;

/// [`Then`] of a download that may be in memory rather than at its destination.
type ThenDownloaded<T> =
    Arc<dyn Fn(&Download, Downloaded) -> Result<T, PrepareError> + Send + Sync>;

/// Downloads `files` in parallel (at most `options.concurrent_downloads` at once), each
/// streamed through sha256 and kept only when it matches, and runs `then` on each; returns
/// what `then` returned, in no given order.
pub(super) fn download_all<T: Send + 'static>(
    files: Vec<Download>,
    options: &FetchOptions,
    cache: &Cache,
    reporter: &dyn Reporter,
    then: &Then<T>,
) -> Result<Vec<T>, PrepareError> {
    let then = Arc::clone(then);
    let then: ThenDownloaded<T> = Arc::new(move |download, _| then(download));
    download_each(files, options, cache, reporter, 0, &then)
}

/// [`download_all`], keeping in memory the files of at most [`MEMORY_PER_WHEEL`] bytes while
/// they fit in `memory_budget` bytes together (0: every file to its destination).
fn download_each<T: Send + 'static>(
    files: Vec<Download>,
    options: &FetchOptions,
    cache: &Cache,
    reporter: &dyn Reporter,
    memory_budget: u64,
    then: &ThenDownloaded<T>,
) -> Result<Vec<T>, PrepareError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let (runtime, client) = index_client(
        options.indexes.clone(),
        cache,
        options.offline,
        options.http,
    )?;
    let total: u64 = files.iter().filter_map(|file| file.size).sum();
    let progress = reporter.downloading(files.len(), total);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(
        options.concurrent_downloads.max(1),
    ));
    // In KiB, so that any budget fits the semaphore's permits.
    let memory = Arc::new(tokio::sync::Semaphore::new((memory_budget >> 10) as usize));
    let results = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        let mut names = std::collections::HashMap::new();
        for file in files {
            let client = client.clone();
            let semaphore = Arc::clone(&semaphore);
            let memory = Arc::clone(&memory);
            let progress = Arc::clone(&progress);
            let then = Arc::clone(then);
            let name = file.name.clone();
            let task = tasks.spawn(async move {
                let _permit = semaphore.acquire().await.ok();
                let report = move |bytes: u64| progress.inc(bytes);
                // Held until the file is unpacked: memory is given back once it is free.
                let in_memory =
                    file.size
                        .filter(|size| *size <= MEMORY_PER_WHEEL)
                        .and_then(|size| {
                            let kib = u32::try_from(size.div_ceil(1024)).ok()?;
                            memory.try_acquire_many_owned(kib.max(1)).ok()
                        });
                let memory_limit = match (&in_memory, file.size) {
                    (Some(_), Some(size)) => usize::try_from(size).unwrap_or(0),
                    _ => 0,
                };
                let downloaded = client
                    .download_verified(
                        &file.url,
                        &file.sha256,
                        &file.destination,
                        memory_limit,
                        &report,
                    )
                    .await
                    .map_err(|source| PrepareError::Download {
                        wheel: file.name.clone(),
                        source: Box::new(source),
                    })?;
                let name = file.name.clone();
                tokio::task::spawn_blocking(move || {
                    let result = then(&file, downloaded);
                    drop(in_memory);
                    result
                })
                .await
                .map_err(|error| PrepareError::Task {
                    wheel: name,
                    detail: error.to_string(),
                })?
            });
            names.insert(task.id(), name);
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            results.push(joined.map_err(|error| PrepareError::Task {
                wheel: names.get(&error.id()).cloned().unwrap_or_default(),
                detail: error.to_string(),
            })?);
        }
        Ok::<_, PrepareError>(results)
    });
    drop(client);
    runtime.shutdown_background();
    progress.finish();
    results?.into_iter().collect()
}
