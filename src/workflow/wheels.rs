//! Prepared wheels: every wheel a plan installs, unpacked in the cache and checked, ready to
//! link.
//!
//! An unpacked copy already in the cache is checked against its `RECORD` (in parallel) and
//! reused; a damaged one is discarded and fetched again. The others are downloaded in parallel
//! (at most `TACK_CONCURRENT_DOWNLOADS` at once), each streamed through sha256, and unpacked
//! once into the cache under that hash. Nothing from a download that failed its hash check
//! ever reaches the cache. Each wheel is downloaded and unpacked under an exclusive lock of its
//! own in the cache (`locks-v1/<sha256>.lock`), after which the cache is looked at again: syncs
//! that share one cache (CI runners on a shared volume) fetch each wheel once, the others
//! waiting for it and then reusing it.
//!
//! Downloads start largest first (by the lock's size), so that the longest one, which a cold
//! sync waits for, never queues behind small ones. There are three ways from the network to
//! the cache, all with the same checks:
//!
//! - The smallest wheels, each no larger than [`MEMORY_PER_WHEEL`] and all together no larger
//!   than [`MEMORY_BUDGET`], are downloaded into memory and unpacked from there (on the blocking
//!   pool, one wheel per CPU at a time) as soon as each is verified: their archives are never
//!   written to disk and deleted, which on ext4 costs more than unpacking them.
//! - The larger ones are unpacked while they download, from their local headers, into a private
//!   directory (the [`stream_slots`] largest; see `install::wheel::unpack_wheel_streamed`),
//!   which moves into the cache once the download matched its hash and the central directory,
//!   which comes last, matched what was unpacked; otherwise it is deleted. Their archives (on 2
//!   CPUs, the 4 largest of a cold sync of the `data-science` sample: 78 of its 152 MiB) are
//!   never written to disk, and the largest wheel is unpacked by the time it has arrived.
//! - The others, and a wheel that the streaming unpacker cannot handle or whose connection broke
//!   after its first bytes, are downloaded whole to a file (not flushed: it is deleted once
//!   unpacked) and unpacked from there once verified.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
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
/// How large the wheels downloaded into memory are at most, all together (they are chosen
/// before the downloads start, smallest first); the others go to a file. Of the 118 wheels of
/// the `data-science` sample, 106 fit in 16 MiB (110 in 32 MiB, 97 in 8 MiB): a file costs
/// about the same whatever its size, and the memory is the cold sync's peak.
pub const MEMORY_BUDGET: u64 = 16 << 20;

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
    // The lock files only matter, and the bucket is only made, when something is downloaded.
    let locks_dir = if missing.is_empty() {
        cache.bucket(Bucket::Locks)
    } else {
        cache
            .ensure_bucket(Bucket::Locks)
            .map_err(PrepareError::Cache)?
    };
    let filenames: BTreeMap<String, WheelFilename> = keys
        .into_iter()
        .map(|(sha256, filename)| (sha256.to_string(), filename.clone()))
        .collect();
    let filenames = Arc::new(filenames);
    let shared = {
        let filenames = Arc::clone(&filenames);
        let wheels_dir = wheels_dir.clone();
        move |download: &Download| {
            let Some(filename) = filenames.get(&download.sha256) else {
                return Ok(None);
            };
            wheel::reuse_unpacked(&wheels_dir, &download.sha256, filename)
                .map(|dir| dir.map(|dir| (download.sha256.clone(), dir)))
                .map_err(|source| PrepareError::CheckCached {
                    wheel: download.name.clone(),
                    source,
                })
        }
    };
    let streamer = {
        let filenames = Arc::clone(&filenames);
        let wheels_dir = wheels_dir.clone();
        move |download: &Download, body: ChunkReader| -> Result<Finish<_>, String> {
            let filename = filenames
                .get(&download.sha256)
                .ok_or_else(|| "the wheel was not asked for".to_string())?;
            let size = download
                .size
                .ok_or_else(|| "the lock does not give its size".to_string())?;
            let staged = wheel::unpack_wheel_streamed(body, filename, &wheels_dir, size)
                .map_err(|reason| reason.to_string())?;
            let (name, sha256) = (download.name.clone(), download.sha256.clone());
            let finish = move || {
                staged
                    .publish(&sha256)
                    .map(|dir| (sha256, dir))
                    .map_err(|source| PrepareError::Unpack {
                        wheel: name,
                        source,
                    })
            };
            Ok(Box::new(finish) as Finish<_>)
        }
    };
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
            Downloaded::Streamed => {
                return Err(PrepareError::Task {
                    wheel: download.name.clone(),
                    detail: "a streamed download was handed to the whole-archive unpacker"
                        .to_string(),
                })
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
        // An archive is unpacked and deleted at once: flushing it to disk first protects
        // nothing (a crash leaves an archive that is downloaded again anyway).
        true,
        Some((&locks_dir, &(Arc::new(shared) as Shared<_>))),
        Some(&(Arc::new(streamer) as Streamer<_>)),
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

/// For a cache that other processes fill too: what another process already made of a file
/// (`None`: nothing yet). Each file is then downloaded under an exclusive lock of its own in
/// the cache, and this is asked again once the lock is held, so that concurrent syncs sharing
/// one cache download and unpack each wheel once, the others waiting for it.
type Shared<T> = Arc<dyn Fn(&Download) -> Result<Option<T>, PrepareError> + Send + Sync>;

/// Unpacks a file while it downloads: called on the blocking pool with the body as it arrives.
/// What it returns is called (on the blocking pool) once the download matched its hash, and
/// dropped otherwise. When it fails (saying why), the file takes the usual way: downloaded
/// whole, then handed to `then`.
type Streamer<T> = Arc<dyn Fn(&Download, ChunkReader) -> Result<Finish<T>, String> + Send + Sync>;

/// What completes a file unpacked while it downloaded.
type Finish<T> = Box<dyn FnOnce() -> Result<T, PrepareError> + Send>;

/// How many chunks of a streamed download wait for its reader at most (a chunk is a frame of
/// the body, some KiB).
const STREAM_CHUNKS: usize = 32;

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
    download_each(files, options, cache, reporter, 0, false, None, None, &then)
}

/// [`download_all`], keeping in memory the smallest files of at most [`MEMORY_PER_WHEEL`]
/// bytes that fit in `memory_budget` bytes together (0: every file to its destination); the
/// others are flushed to disk unless `transient` (deleted once `then` has read them). With
/// `shared` (a directory for the lock files, and the hook), each file is downloaded under its
/// lock, `<sha256>.lock` in that directory (see [`Shared`]). With `stream`, the files not kept
/// in memory are handed to it as they download (see [`Streamer`]).
#[allow(clippy::too_many_arguments)]
fn download_each<T: Send + 'static>(
    files: Vec<Download>,
    options: &FetchOptions,
    cache: &Cache,
    reporter: &dyn Reporter,
    memory_budget: u64,
    transient: bool,
    shared: Option<(&std::path::Path, &Shared<T>)>,
    stream: Option<&Streamer<T>>,
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
    let mut files = files;
    largest_first(&mut files);
    let memory_limits = memory_plan(&files, memory_budget);
    let total: u64 = files.iter().filter_map(|file| file.size).sum();
    let progress = reporter.downloading(files.len(), total);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(
        options.concurrent_downloads.max(1),
    ));
    let unpacking = Arc::new(tokio::sync::Semaphore::new(unpack_slots()));
    // The largest files not kept in memory are unpacked as they download, when there is a
    // streamer: decided before the downloads start, as they do not start in order.
    let mut stream_left = if stream.is_some() { stream_slots() } else { 0 };
    let results = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        let mut names = std::collections::HashMap::new();
        for (file, memory_limit) in files.into_iter().zip(memory_limits) {
            let client = client.clone();
            let semaphore = Arc::clone(&semaphore);
            let unpacking = Arc::clone(&unpacking);
            let progress = Arc::clone(&progress);
            let then = Arc::clone(then);
            let shared = shared.map(|(locks, shared)| (locks.to_path_buf(), Arc::clone(shared)));
            let streamed = memory_limit == 0 && file.size.is_some() && stream_left > 0;
            stream_left -= usize::from(streamed);
            let stream = stream.filter(|_| streamed).map(Arc::clone);
            let name = file.name.clone();
            let task = tasks.spawn(async move {
                // Held until this file is handled (dropped with the task).
                let mut _lock = None;
                if let Some((locks, shared)) = &shared {
                    _lock = lock_exclusive(&locks.join(format!("{}.lock", file.sha256))).await;
                    let made = {
                        let (shared, copy) = (Arc::clone(shared), file.clone());
                        tokio::task::spawn_blocking(move || shared(&copy))
                            .await
                            .map_err(|error| PrepareError::Task {
                                wheel: file.name.clone(),
                                detail: error.to_string(),
                            })??
                    };
                    if let Some(made) = made {
                        tracing::debug!("`{}` was prepared by another process", file.name);
                        progress.inc(file.size.unwrap_or(0));
                        return Ok(made);
                    }
                }
                let permit = semaphore.acquire().await.ok();
                // The bytes of a streamed attempt that fell back are not counted twice.
                let streamed = AtomicU64::new(0);
                let downloaded = AtomicU64::new(0);
                let report = |bytes: u64| {
                    let before = downloaded.fetch_add(bytes, Ordering::Relaxed);
                    let counted = streamed.load(Ordering::Relaxed);
                    let new = (before + bytes).saturating_sub(counted.max(before));
                    progress.inc(new);
                };
                if let Some(stream) = &stream {
                    let report = |bytes: u64| {
                        streamed.fetch_add(bytes, Ordering::Relaxed);
                        progress.inc(bytes);
                    };
                    if let Some(finish) = stream_one(&client, &file, stream, &report).await? {
                        drop(permit);
                        return tokio::task::spawn_blocking(finish).await.map_err(|error| {
                            PrepareError::Task {
                                wheel: file.name.clone(),
                                detail: error.to_string(),
                            }
                        })?;
                    }
                }
                let downloaded = client
                    .download_verified(
                        &file.url,
                        &file.sha256,
                        &file.destination,
                        memory_limit,
                        transient,
                        &report,
                    )
                    .await
                    .map_err(|source| PrepareError::Download {
                        wheel: file.name.clone(),
                        source: Box::new(source),
                    })?;
                // The next download starts while this file waits for its turn to be handled.
                drop(permit);
                let _unpacking = unpacking.acquire().await.ok();
                let name = file.name.clone();
                tokio::task::spawn_blocking(move || then(&file, downloaded))
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

/// Downloads `file` while `stream` unpacks it; what completes it once both succeeded, `None`
/// when either failed (but for a hash mismatch, which is the file's error), so that the file
/// is downloaded whole and handled the usual way.
async fn stream_one<T: Send + 'static>(
    client: &IndexClient,
    file: &Download,
    stream: &Streamer<T>,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Option<Finish<T>>, PrepareError> {
    let (sender, receiver) = tokio::sync::mpsc::channel(STREAM_CHUNKS);
    let unpacking = {
        let (stream, file) = (Arc::clone(stream), file.clone());
        tokio::task::spawn_blocking(move || stream(&file, ChunkReader::new(receiver)))
    };
    let downloaded = client
        .download_streamed(&file.url, &file.sha256, &file.destination, sender, progress)
        .await;
    let unpacked = unpacking.await.map_err(|error| PrepareError::Task {
        wheel: file.name.clone(),
        detail: error.to_string(),
    })?;
    match (downloaded, unpacked) {
        (Ok(()), Ok(finish)) => {
            tracing::debug!("`{}` was unpacked as it downloaded", file.name);
            Ok(Some(finish))
        }
        (Err(error @ IndexError::HashMismatch { .. }), _) => Err(PrepareError::Download {
            wheel: file.name.clone(),
            source: Box::new(error),
        }),
        (Err(error), _) => {
            tracing::debug!(
                "streaming `{}` failed ({error}); downloading it whole",
                file.name
            );
            Ok(None)
        }
        (Ok(()), Err(reason)) => {
            tracing::debug!(
                "`{}` could not be unpacked as it downloaded ({reason}); unpacking the whole archive",
                file.name
            );
            Ok(None)
        }
    }
}

/// The body of a download as it arrives, read on the blocking pool: it ends when the download
/// does (whether or not it succeeded).
pub(super) struct ChunkReader {
    receiver: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    chunk: bytes::Bytes,
}

impl ChunkReader {
    fn new(receiver: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> Self {
        Self {
            receiver,
            chunk: bytes::Bytes::new(),
        }
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead as _;
        let available = self.fill_buf()?;
        let read = available.len().min(buf.len());
        buf[..read].copy_from_slice(&available[..read]);
        self.consume(read);
        Ok(read)
    }
}

impl std::io::BufRead for ChunkReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.chunk.is_empty() {
            match self.receiver.blocking_recv() {
                Some(chunk) => self.chunk = chunk,
                None => break,
            }
        }
        Ok(&self.chunk)
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.chunk.len());
        bytes::Buf::advance(&mut self.chunk, amount);
    }
}

/// An exclusive lock on the file at `path` (created if need be), taken when no other process
/// holds it: polled (every 5 ms at first, then less often, up to every 100 ms), so that a wait
/// holds no thread. `None` when the file system cannot lock (the download then goes ahead
/// unlocked, as before: concurrent copies of one wheel are harmless, only wasted). The lock
/// files stay: removing one while another process waits on it would let a third lock a new
/// file of the same name.
async fn lock_exclusive(path: &std::path::Path) -> Option<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .inspect_err(|error| tracing::debug!("cannot open `{}`: {error}", path.display()))
        .ok()?;
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        match file.try_lock() {
            Ok(()) => return Some(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::Error(error)) => {
                tracing::debug!("cannot lock `{}`: {error}", path.display());
                return None;
            }
        }
    }
}

/// How many downloaded files are handled (unpacked) at once: one per CPU, as unpacking is CPU
/// work (which fans out over rayon besides). Each file handled at once holds a thread of
/// tokio's blocking pool and its buffers: with one per download in flight (up to 50), a cold
/// sync of the `data-science` sample ran 55 threads and peaked at 100-160 MB of memory for a
/// heap of 46 MB.
fn unpack_slots() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// How many files are unpacked while they download: the largest of those not kept in memory,
/// two per CPU. Each holds a thread of tokio's blocking pool and its buffers while it waits
/// for the network; with every large wheel streamed (12 in a cold sync of the `data-science`
/// sample), the threads took turns on the CPUs, user CPU time rose by 0.15 s and peak memory
/// by 12 MB. The other files are unpacked once downloaded.
fn stream_slots() -> usize {
    2 * unpack_slots()
}

/// How many bytes of each of `files` may be kept in memory (0: none, to its destination): the
/// smallest files of at most [`MEMORY_PER_WHEEL`] bytes, while they fit in `budget` bytes
/// together, so the memory held is bounded however the downloads overlap. Small files are
/// where memory saves most (writing, flushing and deleting a file costs about the same
/// whatever its size), and downloads start largest first, so a budget handed out in that
/// order would go to a few large files.
fn memory_plan(files: &[Download], budget: u64) -> Vec<usize> {
    let mut by_size: Vec<(usize, u64)> = files
        .iter()
        .enumerate()
        .filter_map(|(index, file)| Some((index, file.size?)))
        .filter(|(_, size)| *size <= MEMORY_PER_WHEEL)
        .collect();
    by_size.sort_by_key(|(_, size)| *size);
    let mut limits = vec![0; files.len()];
    let mut left = budget;
    for (index, size) in by_size {
        let Some(rest) = left.checked_sub(size) else {
            break;
        };
        let Ok(limit) = usize::try_from(size) else {
            break;
        };
        left = rest;
        limits[index] = limit;
    }
    limits
}

/// Sorts `files` largest first (by the lock's size), files of unknown size last, the lock's
/// order kept among equals. Permits are granted in this order, so the longest download, which
/// a cold sync waits for, starts at once instead of queueing behind small ones.
fn largest_first(files: &mut [Download]) {
    files.sort_by_key(|file| std::cmp::Reverse(file.size));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, size: Option<u64>) -> Download {
        Download {
            name: name.to_string(),
            url: url::Url::parse(&format!("http://127.0.0.1/{name}")).unwrap(),
            sha256: String::new(),
            size,
            destination: PathBuf::from(name),
        }
    }

    fn names(files: &[Download]) -> Vec<&str> {
        files.iter().map(|file| file.name.as_str()).collect()
    }

    #[test]
    fn downloads_start_largest_first_and_unknown_sizes_last() {
        let mut files = vec![
            file("a", Some(10)),
            file("b", None),
            file("c", Some(3_000)),
            file("d", Some(10)),
            file("e", Some(0)),
            file("f", None),
            file("g", Some(20 << 20)),
        ];
        largest_first(&mut files);
        // Equal sizes keep the lock's order.
        assert_eq!(names(&files), ["g", "c", "a", "d", "e", "b", "f"]);
    }

    #[test]
    fn memory_goes_to_the_smallest_files_within_the_budget() {
        let mib = 1 << 20;
        let mut files = vec![
            file("huge", Some(MEMORY_PER_WHEEL + 1)),
            file("unknown", None),
            file("medium", Some(6 * mib)),
            file("large", Some(7 * mib)),
            file("small", Some(mib)),
            file("tiny", Some(1_000)),
            file("tiny-too", Some(1_000)),
        ];
        largest_first(&mut files);
        let plan = memory_plan(&files, 8 * mib);
        let in_memory: Vec<(&str, u64)> = files
            .iter()
            .zip(&plan)
            .filter(|(_, limit)| **limit > 0)
            .map(|(file, limit)| (file.name.as_str(), u64::try_from(*limit).unwrap()))
            .collect();
        // Smallest first: two 1,000-byte files, 1 MiB and 6 MiB fit in 8 MiB, 7 MiB no more;
        // a file larger than the per-wheel bound or of unknown size never goes to memory.
        assert_eq!(
            in_memory,
            [
                ("medium", 6 * mib),
                ("small", mib),
                ("tiny", 1_000),
                ("tiny-too", 1_000)
            ]
        );
        // No budget: everything to its destination.
        assert!(memory_plan(&files, 0).iter().all(|limit| *limit == 0));
    }
}
