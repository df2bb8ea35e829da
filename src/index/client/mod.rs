//! The index client: HTTP, concurrency, retries, the on-disk cache and the metadata strategy.
//!
//! [`IndexClient`] answers two questions for the resolver: "which files does this project
//! have?" ([`IndexClient::project`]) and "what does this file require?"
//! ([`IndexClient::wheel_metadata`], [`IndexClient::sdist_metadata`]); installs use it to fetch
//! the files themselves ([`IndexClient::download_file`]).
//!
//! One type, one file per concern; each file adds its methods to [`IndexClient`] and documents
//! its own part:
//!
//! - `pages`: project pages (PEP 503, PEP 691), index by index, fetched once per client;
//! - `cache`: the on-disk cache of pages and their revalidation, and the JSON entries that also
//!   hold core metadata;
//! - `core_metadata`: the metadata strategy (PEP 658/714 `.metadata`, then range reads, then the
//!   whole file) and the static metadata of source distributions (PEP 643);
//! - `range_reads`: a wheel's `METADATA` read with HTTP range requests;
//! - `download`: whole files, in memory or streamed to disk, checked against their hash;
//! - `transport`: the HTTP client, the bound on requests in flight, the first request to each
//!   host sent alone (so that HTTP/2 needs one connection), retries with backoff, and the error
//!   that ends a request's retries;
//! - `credentials`: basic auth, sent to an index's own origin only;
//! - `error`: [`IndexError`] and its messages.
//!
//! This file holds what they share: the options, the statistics, and the client's state.
//! URLs are always redacted ([`crate::redact::redact_url`]) before they reach an error, a log line or the
//! cache.

mod cache;
mod core_metadata;
mod credentials;
mod download;
mod error;
mod pages;
mod range_reads;
#[cfg(test)]
mod test_support;
mod transport;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustc_hash::FxHashMap;
use tokio::sync::Semaphore;

pub use self::download::Downloaded;
pub use self::error::IndexError;
use self::pages::PageCell;
use super::IndexUrl;
use crate::cache::Cache;
use crate::normalize::PackageName;

/// Requests in flight at most, unless `TACK_CONCURRENT_REQUESTS` says otherwise.
const DEFAULT_CONCURRENCY: usize = 50;
/// Retries after the first attempt of a request that failed in a transient way.
pub const DEFAULT_RETRIES: u32 = 3;
/// How long a read may wait for data, unless [`HttpSettings`] say otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings for an [`IndexClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The indexes, in order of preference.
    pub indexes: Vec<IndexUrl>,
    /// Packages that come from one index only (Poetry's `source = "..."`, explicit indexes):
    /// their pages are asked of that index, never of `indexes`.
    pub pins: BTreeMap<PackageName, IndexUrl>,
    /// The supplemental sources among `indexes`: [`IndexClient::supplemental_project`] asks
    /// them for what the others cannot give.
    pub supplemental: Vec<IndexUrl>,
    pub cache: Cache,
    /// Never touch the network: cached pages are used whatever their age.
    pub offline: bool,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Retries after a transient failure (so `retries + 1` attempts in all).
    pub retries: u32,
    /// Connect timeout, and the longest wait for the next bytes of a response.
    pub timeout: Duration,
}

impl ClientOptions {
    /// The defaults: [`HttpSettings::default`], no pins, online.
    pub fn new(indexes: Vec<IndexUrl>, cache: Cache) -> Self {
        Self {
            indexes,
            pins: BTreeMap::new(),
            supplemental: Vec::new(),
            cache,
            offline: false,
            concurrency: DEFAULT_CONCURRENCY,
            retries: DEFAULT_RETRIES,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// These options with the concurrency and timeout of `http`.
    #[must_use]
    pub fn with_http(mut self, http: HttpSettings) -> Self {
        self.concurrency = http.concurrency;
        self.timeout = http.timeout;
        self
    }
}

/// The HTTP settings a user can change (`TACK_CONCURRENT_REQUESTS`, `TACK_HTTP_TIMEOUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Connect timeout, and the longest wait for the next bytes of a response.
    pub timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Counters of what a client did, for `-v` output and for tests that prove a warm run is
/// (almost) free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Bytes of response bodies received (after content decoding).
    pub bytes_downloaded: u64,
    /// Answers taken from the disk cache without a request.
    pub cache_hits: u64,
    /// Cached pages revalidated with a `304 Not Modified`.
    pub not_modified: u64,
    /// Requests repeated after a transient failure.
    pub retries: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    bytes_downloaded: AtomicU64,
    cache_hits: AtomicU64,
    not_modified: AtomicU64,
    retries: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}

/// Fetches project pages and core metadata from one or more indexes.
///
/// Cheap to clone (an `Arc` inside); all clones share connections, the in-memory page memo,
/// the concurrency bound and the statistics.
#[derive(Clone)]
pub struct IndexClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    indexes: Vec<IndexUrl>,
    pins: BTreeMap<PackageName, IndexUrl>,
    supplemental: Vec<IndexUrl>,
    cache: Cache,
    offline: bool,
    retries: u32,
    /// The read timeout, for error messages.
    timeout: Duration,
    permits: Semaphore,
    first_requests: transport::FirstRequests,
    pages: Mutex<FxHashMap<PackageName, PageCell>>,
    counters: Counters,
}

impl fmt::Debug for IndexClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexClient")
            .field("indexes", &self.inner.indexes)
            .field("cache", &self.inner.cache)
            .field("offline", &self.inner.offline)
            .finish_non_exhaustive()
    }
}

impl IndexClient {
    /// Builds the HTTP client. Nothing is requested yet.
    pub fn new(options: ClientOptions) -> Result<Self, IndexError> {
        let concurrency = options.concurrency.max(1);
        let http = transport::http_client(options.timeout, concurrency)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                indexes: options.indexes,
                pins: options.pins,
                supplemental: options.supplemental,
                cache: options.cache,
                offline: options.offline,
                retries: options.retries,
                timeout: options.timeout,
                permits: Semaphore::new(concurrency),
                first_requests: transport::FirstRequests::default(),
                pages: Mutex::default(),
                counters: Counters::default(),
            }),
        })
    }

    /// The indexes, in order of preference.
    pub fn indexes(&self) -> &[IndexUrl] {
        &self.inner.indexes
    }

    /// What this client (and its clones) did so far.
    pub fn stats(&self) -> ClientStats {
        let counters = &self.inner.counters;
        ClientStats {
            requests: counters.requests.load(Ordering::Relaxed),
            bytes_downloaded: counters.bytes_downloaded.load(Ordering::Relaxed),
            cache_hits: counters.cache_hits.load(Ordering::Relaxed),
            not_modified: counters.not_modified.load(Ordering::Relaxed),
            retries: counters.retries.load(Ordering::Relaxed),
        }
    }
}
