//! Prepared wheels: every wheel a plan installs, unpacked in the cache and checked, ready to
//! link.
//!
//! An unpacked copy already in the cache is checked against its `RECORD` (in parallel) and
//! reused; a damaged one is discarded and fetched again. The others are downloaded in parallel
//! (at most `TACK_CONCURRENT_DOWNLOADS` at once), each streamed through sha256 and kept only
//! when it matches the lock, then unpacked once into the cache under that hash. Nothing from a
//! download that failed its hash check is ever unpacked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::Reporter;
use crate::cache::{Bucket, Cache, CacheError};
use crate::diagnostic::Diagnostic;
use crate::index::{ClientOptions, HttpSettings, IndexClient, IndexError, IndexUrl};
use crate::install::plan::PlannedPackage;
use crate::install::wheel::{self, WheelError};

/// Downloads in flight at most, unless `TACK_CONCURRENT_DOWNLOADS` says otherwise.
pub const DEFAULT_CONCURRENT_DOWNLOADS: usize = 50;

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
    wanted: &[PlannedPackage],
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
    let keys: Vec<(&str, &crate::filename::WheelFilename)> = wanted
        .iter()
        .map(|planned| (planned.wheel.sha256.as_str(), &planned.filename))
        .collect();
    let checked = wheel::reuse_unpacked_all(&wheels_dir, &keys);
    for (planned, cached) in wanted.iter().zip(checked) {
        match cached.map_err(|source| PrepareError::CheckCached {
            wheel: planned.wheel.name.to_string(),
            source,
        })? {
            Some(dir) => {
                unpacked.insert(planned.wheel.sha256.to_string(), dir);
            }
            None => missing.push(planned.clone()),
        }
    }
    if missing.is_empty() {
        return Ok(unpacked);
    }
    let (runtime, client) = index_client(
        options.indexes.clone(),
        cache,
        options.offline,
        options.http,
    )?;
    let total: u64 = missing
        .iter()
        .filter_map(|planned| planned.wheel.size)
        .sum();
    let progress = reporter.downloading(missing.len(), total);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(
        options.concurrent_downloads.max(1),
    ));
    let results = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        let mut names = std::collections::HashMap::new();
        for planned in missing {
            let client = client.clone();
            let semaphore = Arc::clone(&semaphore);
            let progress = Arc::clone(&progress);
            let wheels_dir = wheels_dir.clone();
            let archive = archives_dir.join(format!("{}.whl", planned.wheel.sha256));
            let wheel_name = planned.wheel.name.to_string();
            let task = tasks.spawn(async move {
                let _permit = semaphore.acquire().await.ok();
                let name = planned.wheel.name.to_string();
                let report = move |bytes: u64| progress.inc(bytes);
                client
                    .download_file(
                        &planned.wheel.url,
                        planned.wheel.sha256.as_str(),
                        &archive,
                        &report,
                    )
                    .await
                    .map_err(|source| PrepareError::Download {
                        wheel: name.clone(),
                        source: Box::new(source),
                    })?;
                let sha256 = planned.wheel.sha256.clone();
                let filename = planned.filename.clone();
                let dir = tokio::task::spawn_blocking(move || {
                    let dir =
                        wheel::unpack_wheel(&archive, &filename, sha256.as_str(), &wheels_dir);
                    let _ = fs_err::remove_file(&archive);
                    dir
                })
                .await
                .map_err(|error| PrepareError::Task {
                    wheel: name.clone(),
                    detail: error.to_string(),
                })?
                .map_err(|source| PrepareError::Unpack {
                    wheel: name.clone(),
                    source,
                })?;
                Ok::<_, PrepareError>((planned.wheel.sha256.to_string(), dir))
            });
            names.insert(task.id(), wheel_name);
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
    for result in results? {
        let (sha256, dir) = result?;
        unpacked.insert(sha256, dir);
    }
    Ok(unpacked)
}
