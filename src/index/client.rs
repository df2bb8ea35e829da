//! The index client: HTTP, concurrency, retries, the on-disk cache and the metadata strategy.
//!
//! [`IndexClient`] answers two questions for the resolver: "which files does this project
//! have?" ([`IndexClient::project`]) and "what does this file require?"
//! ([`IndexClient::wheel_metadata`], [`IndexClient::sdist_metadata`]).
//!
//! # Project pages (PEP 503, PEP 691)
//!
//! Indexes are asked in order for `<index>/<name>/`; the first that has the project wins, a 404
//! means "not here". The request prefers PEP 691 JSON and accepts PEP 503 HTML; the response's
//! `Content-Type` picks the parser. Each page is fetched once per client (concurrent callers
//! share one request) and stored on disk with its validators (`ETag`, `Last-Modified`,
//! `Cache-Control: max-age`): while fresh it is used without a request, afterwards it is
//! revalidated with `If-None-Match` / `If-Modified-Since` and reused on `304 Not Modified`.
//! With `offline`, cached pages are used whatever their age. Answers of "not here" (404) are
//! cached the same way, so that an offline run can tell "absent" from "never asked".
//!
//! # Core metadata (PEP 658, PEP 714, and range reads)
//!
//! Metadata of a published file never changes, so once read it is cached for good, keyed by the
//! file's URL. To read it the client tries, cheapest first:
//!
//! 1. `<file url>.metadata` when the page advertises it (PEP 658/714), checked against its hash;
//! 2. HTTP range reads of the wheel: a suffix range for the zip's tail (which also tells the file
//!    size through `Content-Range`), the central directory if it is not in the tail, then the
//!    local header and compressed `METADATA` (see [`super::zip_range`]); a server that ignores
//!    `Range` answers 200 with the whole file, which is used as is;
//! 3. the whole file, when the server refuses ranges (416, 501, no `Content-Range`).
//!
//! Source distributions are downloaded (hash-checked) and their `PKG-INFO` is used only when its
//! dependencies are static (PEP 643); otherwise the answer is `None` and the resolver skips them.
//!
//! # HTTP
//!
//! One `reqwest` client (rustls with the platform's roots, which honour `SSL_CERT_FILE`;
//! pooled connections; HTTP/2 when offered; gzip) serves all requests. A semaphore bounds the
//! requests in flight. Connection failures, timeouts, resets, bodies cut short and the statuses
//! 429, 500, 502, 503 and 504 are retried with exponential backoff and jitter, `DEFAULT_RETRIES`
//! times: each wait is at most `BACKOFF_CAP`, a server's `Retry-After` (in seconds) included, so
//! a request gives up after a bounded time. A read that waits longer than the timeout
//! (`TACK_HTTP_TIMEOUT`) for the next bytes counts as a failure, so a stalled connection cannot
//! hang a run. The error that ends the retries names the URL and the cause. A body that did not
//! arrive whole is never used: pages and metadata are parsed only from complete bodies, and
//! [`IndexClient::download_file`] writes to a temporary file that is deleted unless the whole
//! file arrived and matched its hash.
//!
//! Credentials in an index URL (`https://user:token@host/simple/`) are sent as HTTP basic auth
//! to that index's origin only, which includes files it serves from the same host but not a
//! separate file host. URLs are always redacted ([`redact_url`]) before they reach an
//! error, a log line or the cache.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use rustc_hash::FxHashMap;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{OnceCell, Semaphore};
use url::Url;

use super::metadata::{
    egg_info_metadata, is_static_sdist_metadata, parse_metadata, read_sdist_pkg_info, MetadataError,
};
use super::simple::{parse_html, parse_json, SimpleError};
use super::zip_range::{self, ZipEntry, ZipRangeError};
use super::{CoreMetadata, IndexFile, IndexUrl, ProjectPage};
use crate::cache::{self, Bucket, Cache, CacheError};
use crate::filename::WheelFilename;
use crate::normalize::PackageName;
use crate::redact::redact_url;

/// Requests in flight at most, unless `TACK_CONCURRENT_REQUESTS` says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 50;
/// Retries after the first attempt of a request that failed in a transient way.
pub const DEFAULT_RETRIES: u32 = 3;
/// How long a read may wait for data, unless `TACK_HTTP_TIMEOUT` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const CONCURRENCY_ENV: &str = "TACK_CONCURRENT_REQUESTS";
const TIMEOUT_ENV: &str = "TACK_HTTP_TIMEOUT";

/// PEP 691 content negotiation: JSON preferred, HTML accepted.
const SIMPLE_ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
const USER_AGENT: &str = concat!("tack/", env!("CARGO_PKG_VERSION"));

/// The first retry waits about this long, each further one twice as long.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// No single wait is longer than this (a server's `Retry-After` included).
const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// Settings for an [`IndexClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The indexes, in order of preference.
    pub indexes: Vec<IndexUrl>,
    /// Packages that come from one index only (Poetry's `source = "..."`, explicit indexes):
    /// their pages are asked of that index, never of `indexes`.
    pub pins: BTreeMap<PackageName, IndexUrl>,
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
    /// The defaults, with `TACK_CONCURRENT_REQUESTS` and `TACK_HTTP_TIMEOUT` (seconds) applied
    /// when set. An invalid value is reported with a warning and ignored.
    pub fn new(indexes: Vec<IndexUrl>, cache: Cache) -> Self {
        let mut options = Self {
            indexes,
            pins: BTreeMap::new(),
            cache,
            offline: false,
            concurrency: DEFAULT_CONCURRENCY,
            retries: DEFAULT_RETRIES,
            timeout: DEFAULT_TIMEOUT,
        };
        options.apply_env(|name| std::env::var(name).ok());
        options
    }

    fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        if let Some(raw) = lookup(CONCURRENCY_ENV) {
            match raw.trim().parse::<usize>() {
                Ok(concurrency) if concurrency > 0 => self.concurrency = concurrency,
                _ => tracing::warn!(
                    "ignoring `{CONCURRENCY_ENV}={raw}`: expected a whole number of requests greater than 0"
                ),
            }
        }
        if let Some(raw) = lookup(TIMEOUT_ENV) {
            match raw.trim().parse::<f64>() {
                Ok(seconds) if seconds.is_finite() && seconds > 0.0 && seconds < 1e9 => {
                    self.timeout = Duration::from_secs_f64(seconds);
                }
                _ => tracing::warn!(
                    "ignoring `{TIMEOUT_ENV}={raw}`: expected a number of seconds greater than 0"
                ),
            }
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

/// Why the index client failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("failed to set up the HTTP client (TLS certificates are read from the system store or `SSL_CERT_FILE`)")]
    ClientSetup(#[source] reqwest::Error),
    #[error(
        "failed to fetch `{url}` after {attempts} attempt(s): {cause}; check the network connection and the index URL, or pass `--offline` to work from the cache"
    )]
    Network {
        url: String,
        attempts: u32,
        /// What went wrong, in words (callers show this error's message, not its sources).
        cause: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("`{url}` answered HTTP {status} after {attempts} attempt(s){}", status_hint(*status))]
    Status {
        url: String,
        status: u16,
        attempts: u32,
    },
    #[error("{}", unauthorized_message(url, *status, *sent_credentials))]
    Unauthorized {
        url: String,
        status: u16,
        sent_credentials: bool,
    },
    /// The message of `source` names the page and what is wrong with it.
    #[error("{source}")]
    MalformedPage {
        url: String,
        #[source]
        source: SimpleError,
    },
    #[error("invalid core metadata in `{filename}`")]
    Metadata {
        filename: String,
        #[source]
        source: MetadataError,
    },
    #[error(
        "the metadata of `{filename}` describes `{name}` {version}, which does not match the file name: the index serves an inconsistent file"
    )]
    MetadataMismatch {
        filename: String,
        name: String,
        version: String,
    },
    #[error("`{filename}` is not a valid wheel file name: {reason}")]
    InvalidFilename { filename: String, reason: String },
    #[error("could not read the wheel `{filename}` as a zip archive")]
    Zip {
        filename: String,
        #[source]
        source: ZipRangeError,
    },
    #[error("the wheel `{filename}` contains no `.dist-info/METADATA`: it is not a valid wheel")]
    NoMetadataInWheel { filename: String },
    #[error(
        "`{url}` has sha256 {actual}, but the index lists {expected}: the download is corrupt or the index is inconsistent; try again, and tell the index maintainers if it persists"
    )]
    HashMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{what} is not in the cache and `--offline` forbids network access: run once without `--offline` to fill the cache"
    )]
    OfflineCacheMiss { what: String },
    #[error(transparent)]
    Cache(#[from] CacheError),
}

fn status_hint(status: u16) -> &'static str {
    match status {
        404 | 410 => ": the index does not have it",
        429 => ": the index is rate-limiting requests; lower `TACK_CONCURRENT_REQUESTS` or try again later",
        500..=599 => ": the index is failing; try again later",
        _ => "",
    }
}

fn unauthorized_message(url: &str, status: u16, sent_credentials: bool) -> String {
    let host = Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_else(|| "HOST".to_string());
    let where_to_set = format!(
        "credentials come from the index URL (`https://USER:PASSWORD@{host}/...`), from \
         `TACK_INDEX_<NAME>_USERNAME` / `_PASSWORD` for an index named in pyproject.toml \
         (`[[tool.tack.index]]`, or Poetry's `POETRY_HTTP_BASIC_<NAME>_*`), or from a \
         `machine {host}` entry in `~/.netrc`"
    );
    if sent_credentials {
        format!("the index refused the credentials for `{url}` (HTTP {status}); {where_to_set}")
    } else {
        format!("`{url}` requires credentials (HTTP {status}) and none were set; {where_to_set}")
    }
}

/// A project page found on an index.
type FoundPage = (IndexUrl, Arc<ProjectPage>);
type PageCell = Arc<OnceCell<Option<FoundPage>>>;

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
    cache: Cache,
    offline: bool,
    retries: u32,
    /// The read timeout, for error messages.
    timeout: Duration,
    permits: Semaphore,
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

/// What one index said about one project.
enum PageLookup {
    Found(Arc<ProjectPage>),
    Absent,
    /// Offline, and this index was never asked.
    NotCached,
}

/// A project page as stored in the cache, with what is needed to revalidate it.
#[derive(Serialize, Deserialize)]
struct CachedPage {
    /// Seconds since the Unix epoch when the page was fetched or last revalidated.
    fetched_at: u64,
    /// How many seconds after `fetched_at` the page stays fresh; `None` means "revalidate".
    fresh_for: Option<u64>,
    etag: Option<String>,
    last_modified: Option<String>,
    /// `None` when the index answered that it does not have the project.
    page: Option<ProjectPage>,
}

impl CachedPage {
    fn is_fresh(&self, now: u64) -> bool {
        self.fresh_for
            .is_some_and(|fresh_for| now < self.fetched_at.saturating_add(fresh_for))
    }

    /// A new entry for a page (or an absence) just received with `headers`.
    fn received(page: Option<ProjectPage>, headers: &HeaderMap) -> Self {
        let mut entry = Self {
            fetched_at: 0,
            fresh_for: None,
            etag: None,
            last_modified: None,
            page,
        };
        entry.update_from(headers);
        entry
    }

    fn into_lookup(self) -> PageLookup {
        match self.page {
            Some(mut page) => {
                // Deserializing grows the list by doubling; pages can hold 10,000s of files.
                page.files.shrink_to_fit();
                PageLookup::Found(Arc::new(page))
            }
            None => PageLookup::Absent,
        }
    }

    /// Takes the validators and freshness of a response (a 200, or a 304 refreshing them).
    fn update_from(&mut self, headers: &HeaderMap) {
        self.fetched_at = unix_now();
        self.fresh_for = freshness(headers);
        if let Some(etag) = header_str(headers, header::ETAG) {
            self.etag = Some(etag);
        }
        if let Some(last_modified) = header_str(headers, header::LAST_MODIFIED) {
            self.last_modified = Some(last_modified);
        }
    }
}

/// What is cached for a source distribution: its metadata when static (or read from its
/// setuptools `egg-info`), else `None`.
#[derive(Serialize, Deserialize)]
struct CachedSdistMetadata {
    static_metadata: Option<CoreMetadata>,
    /// Entries written before egg-info was read say nothing about it: they are redone.
    #[serde(default)]
    egg_info_read: bool,
}

/// A complete response, body read.
struct Fetched {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    /// The URL after redirects, which relative links on a page resolve against.
    final_url: Url,
    sent_credentials: bool,
    attempts: u32,
}

/// The answer to a range request.
enum RangeReply {
    /// `206` with the bytes starting at `start` of a file of `total` bytes.
    Partial {
        start: u64,
        total: u64,
        body: Vec<u8>,
    },
    /// `200`: the server ignored `Range` and sent the whole file (already hash-checked).
    Whole(Vec<u8>),
    /// The server refuses ranges or answered one in a way that cannot be used.
    Unsupported,
}

/// Some bytes of a remote file, or the whole file when ranges could not be used.
enum Span {
    Bytes(Vec<u8>),
    WholeFile(Vec<u8>),
}

/// Basic-auth credentials for one request.
struct Credentials {
    username: String,
    password: Option<String>,
}

impl IndexClient {
    /// Builds the HTTP client. Nothing is requested yet.
    pub fn new(options: ClientOptions) -> Result<Self, IndexError> {
        let concurrency = options.concurrency.max(1);
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(options.timeout)
            .read_timeout(options.timeout)
            .pool_max_idle_per_host(concurrency)
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(IndexError::ClientSetup)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                indexes: options.indexes,
                pins: options.pins,
                cache: options.cache,
                offline: options.offline,
                retries: options.retries,
                timeout: options.timeout,
                permits: Semaphore::new(concurrency),
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

    /// The page of `name` from the first index that has the project, with that index; `None`
    /// when no index has it. Each name is looked up once per client, however many callers ask.
    pub async fn project(
        &self,
        name: &PackageName,
    ) -> Result<Option<(IndexUrl, Arc<ProjectPage>)>, IndexError> {
        let cell = {
            let mut pages = self
                .inner
                .pages
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(pages.entry(name.clone()).or_default())
        };
        cell.get_or_try_init(|| self.find_project(name))
            .await
            .cloned()
    }

    async fn find_project(&self, name: &PackageName) -> Result<Option<FoundPage>, IndexError> {
        let pinned = self.inner.pins.get(name).map(std::slice::from_ref);
        for index in pinned.unwrap_or(&self.inner.indexes) {
            match self.index_page(index, name).await? {
                PageLookup::Found(page) => return Ok(Some((index.clone(), page))),
                PageLookup::Absent => {}
                PageLookup::NotCached => {
                    return Err(IndexError::OfflineCacheMiss {
                        what: format!("the page of `{name}` on `{index}`"),
                    });
                }
            }
        }
        Ok(None)
    }

    /// One index's answer for one project, through the disk cache.
    async fn index_page(
        &self,
        index: &IndexUrl,
        name: &PackageName,
    ) -> Result<PageLookup, IndexError> {
        let url = index.project_url(name);
        let path = self.entry_path(Bucket::Simple, &url);
        let cached: Option<CachedPage> = read_json(&path)?;
        if self.inner.offline {
            return Ok(match cached {
                Some(cached) => {
                    self.hit();
                    cached.into_lookup()
                }
                None => PageLookup::NotCached,
            });
        }
        let cached = match cached {
            Some(cached) if cached.is_fresh(unix_now()) => {
                tracing::debug!("fresh in cache: {}", redact_url(&url));
                self.hit();
                return Ok(cached.into_lookup());
            }
            cached => cached,
        };

        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(SIMPLE_ACCEPT));
        if let Some(cached) = &cached {
            if let Some(value) = cached.etag.as_deref().and_then(header_value) {
                headers.insert(header::IF_NONE_MATCH, value);
            }
            if let Some(value) = cached.last_modified.as_deref().and_then(header_value) {
                headers.insert(header::IF_MODIFIED_SINCE, value);
            }
        }
        let response = self.get(&url, headers, index).await?;
        match (response.status, cached) {
            (StatusCode::NOT_MODIFIED, Some(mut cached)) => {
                Counters::bump(&self.inner.counters.not_modified, 1);
                cached.update_from(&response.headers);
                write_json(&path, &cached)?;
                Ok(cached.into_lookup())
            }
            (StatusCode::NOT_FOUND | StatusCode::GONE, _) => {
                write_json(&path, &CachedPage::received(None, &response.headers))?;
                Ok(PageLookup::Absent)
            }
            (status, _) if status.is_success() => {
                let page = parse_page(&response).map_err(|source| IndexError::MalformedPage {
                    url: redact_url(&url),
                    source,
                })?;
                let entry = CachedPage::received(Some(page), &response.headers);
                write_json(&path, &entry)?;
                Ok(entry.into_lookup())
            }
            (status, _) => Err(status_error(&url, &response, status)),
        }
    }

    /// The core metadata of a wheel listed by `index`, from the cache, its PEP 658 `.metadata`
    /// file, range reads, or the whole wheel, in that order.
    pub async fn wheel_metadata(
        &self,
        index: &IndexUrl,
        file: &IndexFile,
    ) -> Result<CoreMetadata, IndexError> {
        let wheel =
            WheelFilename::from_str(&file.filename).map_err(|err| IndexError::InvalidFilename {
                filename: file.filename.clone(),
                reason: err.to_string(),
            })?;
        let path = self.entry_path(Bucket::Metadata, &file.url);
        if let Some(metadata) = read_json::<CoreMetadata>(&path)? {
            self.hit();
            return Ok(metadata);
        }
        if self.inner.offline {
            return Err(IndexError::OfflineCacheMiss {
                what: format!("the metadata of `{}`", file.filename),
            });
        }
        let bytes = self.fetch_wheel_metadata(index, file, &wheel).await?;
        let metadata = parse_metadata(&bytes).map_err(|source| IndexError::Metadata {
            filename: file.filename.clone(),
            source,
        })?;
        if metadata.name != wheel.name || metadata.version != wheel.version {
            return Err(IndexError::MetadataMismatch {
                filename: file.filename.clone(),
                name: metadata.name.to_string(),
                version: metadata.version.to_string(),
            });
        }
        write_json(&path, &metadata)?;
        Ok(metadata)
    }

    /// The metadata of a source distribution when it is static (PEP 643), else `None`: the
    /// sdist is downloaded, checked against the page's hash, and its `PKG-INFO` read.
    pub async fn sdist_metadata(
        &self,
        index: &IndexUrl,
        file: &IndexFile,
    ) -> Result<Option<CoreMetadata>, IndexError> {
        let path = self.entry_path(Bucket::Metadata, &file.url);
        if let Some(cached) = read_json::<CachedSdistMetadata>(&path)? {
            if cached.egg_info_read || cached.static_metadata.is_some() {
                self.hit();
                return Ok(cached.static_metadata);
            }
        }
        if self.inner.offline {
            return Err(IndexError::OfflineCacheMiss {
                what: format!("the metadata of `{}`", file.filename),
            });
        }
        let body = self.download(index, file).await?;
        let pkg_info =
            read_sdist_pkg_info(&file.filename, &body).map_err(|source| IndexError::Metadata {
                filename: file.filename.clone(),
                source,
            })?;
        let metadata_error = |source| IndexError::Metadata {
            filename: file.filename.clone(),
            source,
        };
        let static_metadata = match pkg_info {
            Some(bytes) => {
                let metadata = parse_metadata(&bytes).map_err(metadata_error)?;
                if is_static_sdist_metadata(&metadata) {
                    Some(metadata)
                } else {
                    // Dynamic dependencies: setuptools' egg-info may still state them.
                    let from_egg_info = egg_info_metadata(&file.filename, &body, &metadata)
                        .map_err(metadata_error)?;
                    if from_egg_info.is_some() {
                        tracing::debug!(
                            "`{}`: dependencies read from its egg-info `requires.txt`",
                            file.filename
                        );
                    }
                    from_egg_info
                }
            }
            None => None,
        };
        if static_metadata.is_none() {
            tracing::debug!(
                "`{}` has no static metadata; it would need a build",
                file.filename
            );
        }
        let entry = CachedSdistMetadata {
            static_metadata,
            egg_info_read: true,
        };
        write_json(&path, &entry)?;
        Ok(entry.static_metadata)
    }

    /// The raw `METADATA` of a wheel, fetched the cheapest way the index allows.
    async fn fetch_wheel_metadata(
        &self,
        index: &IndexUrl,
        file: &IndexFile,
        wheel: &WheelFilename,
    ) -> Result<Vec<u8>, IndexError> {
        if file.has_metadata_file {
            let url = metadata_file_url(&file.url);
            let response = self.get(&url, HeaderMap::new(), index).await?;
            if response.status.is_success() {
                if let Some(expected) = &file.metadata_sha256 {
                    verify_sha256(&url, &response.body, expected)?;
                }
                return Ok(response.body);
            }
            if !matches!(response.status, StatusCode::NOT_FOUND | StatusCode::GONE) {
                return Err(status_error(&url, &response, response.status));
            }
            tracing::debug!(
                "{} is advertised but missing; reading the wheel instead",
                redact_url(&url)
            );
        }
        self.wheel_metadata_by_ranges(index, file, wheel).await
    }

    /// Reads `METADATA` out of the remote wheel with range requests, falling back to the whole
    /// file when the server does not serve ranges.
    async fn wheel_metadata_by_ranges(
        &self,
        index: &IndexUrl,
        file: &IndexFile,
        wheel: &WheelFilename,
    ) -> Result<Vec<u8>, IndexError> {
        let zip_error = |source| IndexError::Zip {
            filename: file.filename.clone(),
            source,
        };
        let tail_len = zip_range::TAIL_LEN as u64;
        let (mut tail_start, total, mut tail) = match self
            .get_range(index, file, &format!("bytes=-{tail_len}"))
            .await?
        {
            RangeReply::Partial { start, total, body } => (start, total, body),
            RangeReply::Whole(body) => return metadata_from_whole(file, wheel, &body),
            RangeReply::Unsupported => {
                let body = self.download(index, file).await?;
                return metadata_from_whole(file, wheel, &body);
            }
        };

        let location = match zip_range::locate_central_directory(&tail, total) {
            // A ZIP64 record before the tail (a huge comment, or a tiny tail): extend the tail
            // back to it and locate again.
            Err(ZipRangeError::Zip64RecordOutsideTail { offset }) if offset < tail_start => {
                match self
                    .read_span(index, file, offset, tail_start - offset)
                    .await?
                {
                    Span::Bytes(mut longer) => {
                        longer.extend_from_slice(&tail);
                        tail = longer;
                        tail_start = offset;
                    }
                    Span::WholeFile(whole) => return metadata_from_whole(file, wheel, &whole),
                }
                zip_range::locate_central_directory(&tail, total).map_err(zip_error)?
            }
            located => located.map_err(zip_error)?,
        };
        let directory = match self
            .span(
                index,
                file,
                (&tail, tail_start),
                location.offset,
                location.size,
            )
            .await?
        {
            Span::Bytes(bytes) => bytes,
            Span::WholeFile(whole) => return metadata_from_whole(file, wheel, &whole),
        };
        let entries = zip_range::parse_central_directory(&directory).map_err(zip_error)?;
        let entry = find_entry(&entries, wheel, file)?;

        // The local header repeats the name and carries an extra field of its own length,
        // which the central directory does not tell: read a little more than the data, and
        // more again if the extra field turns out to be longer.
        let start = entry.local_header_offset;
        let available = total.saturating_sub(start);
        let wanted = zip_range::LOCAL_HEADER_SLACK
            .saturating_add(entry.name.len() as u64)
            .saturating_add(entry.compressed_size)
            .min(available);
        let local = match self
            .span(index, file, (&tail, tail_start), start, wanted)
            .await?
        {
            Span::Bytes(bytes) => bytes,
            Span::WholeFile(whole) => return metadata_from_whole(file, wheel, &whole),
        };
        match zip_range::extract_member(&local, entry) {
            Err(ZipRangeError::LocalDataTruncated { needed, .. })
                if needed > wanted && needed <= available =>
            {
                let local = match self
                    .span(index, file, (&tail, tail_start), start, needed)
                    .await?
                {
                    Span::Bytes(bytes) => bytes,
                    Span::WholeFile(whole) => return metadata_from_whole(file, wheel, &whole),
                };
                zip_range::extract_member(&local, entry).map_err(zip_error)
            }
            extracted => extracted.map_err(zip_error),
        }
    }

    /// The bytes `[offset, offset + len)` of the file: out of `buffer` (bytes of the file from
    /// a known position) when it covers them, else with a range request.
    async fn span(
        &self,
        index: &IndexUrl,
        file: &IndexFile,
        (buffer, buffer_start): (&[u8], u64),
        offset: u64,
        len: u64,
    ) -> Result<Span, IndexError> {
        match slice_of(buffer, buffer_start, offset, len) {
            Some(bytes) => Ok(Span::Bytes(bytes.to_vec())),
            None => self.read_span(index, file, offset, len).await,
        }
    }

    /// `len` bytes of the file from `offset` with a range request; the whole file when the
    /// server sent it instead or does not serve ranges.
    async fn read_span(
        &self,
        index: &IndexUrl,
        file: &IndexFile,
        offset: u64,
        len: u64,
    ) -> Result<Span, IndexError> {
        if len == 0 {
            return Ok(Span::Bytes(Vec::new()));
        }
        let last = offset.saturating_add(len - 1);
        match self
            .get_range(index, file, &format!("bytes={offset}-{last}"))
            .await?
        {
            RangeReply::Partial { start, body, .. }
                if start == offset && body.len() as u64 == len =>
            {
                Ok(Span::Bytes(body))
            }
            RangeReply::Whole(body) => Ok(Span::WholeFile(body)),
            RangeReply::Partial { .. } | RangeReply::Unsupported => {
                Ok(Span::WholeFile(self.download(index, file).await?))
            }
        }
    }

    /// A range request for `file`; a whole file sent in answer is checked against the page's
    /// sha256.
    async fn get_range(
        &self,
        index: &IndexUrl,
        file: &IndexFile,
        range: &str,
    ) -> Result<RangeReply, IndexError> {
        let url = &file.url;
        let mut headers = HeaderMap::new();
        if let Some(value) = header_value(range) {
            headers.insert(header::RANGE, value);
        }
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        let response = self.get(url, headers, index).await?;
        match response.status {
            StatusCode::PARTIAL_CONTENT => {
                let Some((start, end, total)) =
                    header_str(&response.headers, header::CONTENT_RANGE)
                        .as_deref()
                        .and_then(parse_content_range)
                else {
                    tracing::debug!("{}: 206 without a usable Content-Range", redact_url(url));
                    return Ok(RangeReply::Unsupported);
                };
                if end - start + 1 != response.body.len() as u64 {
                    tracing::debug!("{}: 206 with a short body", redact_url(url));
                    return Ok(RangeReply::Unsupported);
                }
                Ok(RangeReply::Partial {
                    start,
                    total,
                    body: response.body,
                })
            }
            StatusCode::OK => {
                if let Some(expected) = &file.sha256 {
                    verify_sha256(url, &response.body, expected)?;
                }
                Ok(RangeReply::Whole(response.body))
            }
            StatusCode::RANGE_NOT_SATISFIABLE | StatusCode::NOT_IMPLEMENTED => {
                Ok(RangeReply::Unsupported)
            }
            status => Err(status_error(url, &response, status)),
        }
    }

    /// Download `url` into `destination`, streaming it through sha256 and checking the digest
    /// against `expected_sha256` before the file appears at `destination` (written to a
    /// temporary file beside it, then renamed). Credentials go along only when `url` has the
    /// origin of a configured index. `progress` is told of each chunk's size. Transient
    /// failures, including a connection dropped mid-body, are retried.
    pub async fn download_file(
        &self,
        url: &Url,
        expected_sha256: &str,
        destination: &std::path::Path,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64, IndexError> {
        use std::io::Write as _;

        if self.inner.offline {
            return Err(IndexError::OfflineCacheMiss {
                what: format!("`{}`", redact_url(url)),
            });
        }
        let shown = redact_url(url);
        let credentials = self
            .inner
            .indexes
            .iter()
            .find_map(|index| credentials_for(url, index));
        let mut target = url.clone();
        let _ = target.set_username("");
        let _ = target.set_password(None);
        let parent = destination.parent().unwrap_or(std::path::Path::new("."));
        let cache_error = |source: std::io::Error| {
            IndexError::Cache(CacheError::Write {
                path: destination.to_path_buf(),
                source,
            })
        };
        fs_err::create_dir_all(parent).map_err(cache_error)?;

        let mut attempts = 0;
        loop {
            attempts += 1;
            let permit = self.inner.permits.acquire().await.ok();
            Counters::bump(&self.inner.counters.requests, 1);
            let mut request = self.inner.http.get(target.clone());
            if let Some(credentials) = &credentials {
                request = request.basic_auth(&credentials.username, credentials.password.as_ref());
            }
            let failure = match request.send().await {
                Ok(mut response) => {
                    let status = response.status();
                    if is_retryable_status(status) && attempts <= self.inner.retries {
                        let retry_after = retry_after(response.headers());
                        drop(response);
                        drop(permit);
                        self.pause_before_retry(attempts, retry_after).await;
                        continue;
                    }
                    if !status.is_success() {
                        return Err(match status {
                            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                                IndexError::Unauthorized {
                                    url: shown,
                                    status: status.as_u16(),
                                    sent_credentials: credentials.is_some(),
                                }
                            }
                            _ => IndexError::Status {
                                url: shown,
                                status: status.as_u16(),
                                attempts,
                            },
                        });
                    }
                    // Deleted when dropped: a body cut short or with the wrong hash never
                    // appears at `destination`.
                    let mut file = tempfile::Builder::new()
                        .prefix(".download-")
                        .tempfile_in(parent)
                        .map_err(cache_error)?;
                    let mut hasher = Sha256::new();
                    let mut total = 0u64;
                    let streamed = loop {
                        match response.chunk().await {
                            Ok(Some(chunk)) => {
                                hasher.update(&chunk);
                                file.write_all(&chunk).map_err(cache_error)?;
                                total += chunk.len() as u64;
                                progress(chunk.len() as u64);
                            }
                            Ok(None) => break Ok(()),
                            Err(err) => break Err(err),
                        }
                    };
                    Counters::bump(&self.inner.counters.bytes_downloaded, total);
                    match streamed {
                        Ok(()) => {
                            let actual = hex::encode(hasher.finalize());
                            if !actual.eq_ignore_ascii_case(expected_sha256.trim()) {
                                return Err(IndexError::HashMismatch {
                                    url: shown,
                                    expected: expected_sha256.trim().to_ascii_lowercase(),
                                    actual,
                                });
                            }
                            file.as_file().sync_all().map_err(cache_error)?;
                            file.persist(destination)
                                .map_err(|error| cache_error(error.error))?;
                            tracing::debug!("downloaded {shown} ({total} bytes)");
                            return Ok(total);
                        }
                        Err(err) => err,
                    }
                }
                Err(err) => err,
            };
            drop(permit);
            let failure = failure.without_url();
            tracing::debug!("GET {shown} failed: {failure}");
            if is_retryable_error(&failure) && attempts <= self.inner.retries {
                self.pause_before_retry(attempts, None).await;
                continue;
            }
            return Err(IndexError::Network {
                url: shown,
                attempts,
                cause: describe_failure(&failure, self.inner.timeout),
                source: failure,
            });
        }
    }

    /// The whole file, checked against the page's sha256 when it gives one.
    async fn download(&self, index: &IndexUrl, file: &IndexFile) -> Result<Vec<u8>, IndexError> {
        let response = self.get(&file.url, HeaderMap::new(), index).await?;
        if !response.status.is_success() {
            return Err(status_error(&file.url, &response, response.status));
        }
        if let Some(expected) = &file.sha256 {
            verify_sha256(&file.url, &response.body, expected)?;
        }
        Ok(response.body)
    }

    /// One GET with the body read, under the concurrency bound, retried on transient failures.
    /// Any final status is returned; only transport failures and exhausted retries are errors.
    async fn get(
        &self,
        url: &Url,
        headers: HeaderMap,
        index: &IndexUrl,
    ) -> Result<Fetched, IndexError> {
        let shown = redact_url(url);
        let credentials = credentials_for(url, index);
        let mut target = url.clone();
        let _ = target.set_username("");
        let _ = target.set_password(None);

        let mut attempts = 0;
        loop {
            attempts += 1;
            let started = Instant::now();
            let outcome = {
                // The semaphore is never closed, so `acquire` cannot fail; were it to, the
                // request would simply go unbounded.
                let _permit = self.inner.permits.acquire().await.ok();
                Counters::bump(&self.inner.counters.requests, 1);
                let mut request = self.inner.http.get(target.clone()).headers(headers.clone());
                if let Some(credentials) = &credentials {
                    request =
                        request.basic_auth(&credentials.username, credentials.password.as_ref());
                }
                match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        let response_headers = response.headers().clone();
                        let final_url = response.url().clone();
                        if is_retryable_status(status) && attempts <= self.inner.retries {
                            Ok((status, response_headers, final_url, Vec::new()))
                        } else {
                            response
                                .bytes()
                                .await
                                .map(|body| (status, response_headers, final_url, body.to_vec()))
                        }
                    }
                    Err(err) => Err(err),
                }
            };
            let elapsed = started.elapsed();
            match outcome {
                Ok((status, response_headers, final_url, body)) => {
                    let bytes = body.len() as u64;
                    Counters::bump(&self.inner.counters.bytes_downloaded, bytes);
                    tracing::debug!(
                        "GET {shown} -> {} ({bytes} bytes in {elapsed:.2?}, attempt {attempts})",
                        status.as_u16()
                    );
                    if is_retryable_status(status) {
                        if attempts <= self.inner.retries {
                            self.pause_before_retry(attempts, retry_after(&response_headers))
                                .await;
                            continue;
                        }
                        return Err(IndexError::Status {
                            url: shown,
                            status: status.as_u16(),
                            attempts,
                        });
                    }
                    return Ok(Fetched {
                        status,
                        headers: response_headers,
                        body,
                        final_url,
                        sent_credentials: credentials.is_some(),
                        attempts,
                    });
                }
                Err(err) => {
                    let err = err.without_url();
                    tracing::debug!("GET {shown} failed after {elapsed:.2?}: {err}");
                    if is_retryable_error(&err) && attempts <= self.inner.retries {
                        self.pause_before_retry(attempts, None).await;
                        continue;
                    }
                    return Err(IndexError::Network {
                        url: shown,
                        attempts,
                        cause: describe_failure(&err, self.inner.timeout),
                        source: err,
                    });
                }
            }
        }
    }

    async fn pause_before_retry(&self, attempt: u32, retry_after: Option<Duration>) {
        Counters::bump(&self.inner.counters.retries, 1);
        let delay = backoff(attempt, retry_after);
        tracing::debug!("retrying in {delay:.2?}");
        tokio::time::sleep(delay).await;
    }

    fn entry_path(&self, bucket: Bucket, url: &Url) -> PathBuf {
        self.inner
            .cache
            .bucket(bucket)
            .join(format!("{}.json", cache::key_for_url(url)))
    }

    fn hit(&self) {
        Counters::bump(&self.inner.counters.cache_hits, 1);
    }
}

/// Parses a page by its content type: PEP 691 JSON, else PEP 503 HTML.
fn parse_page(response: &Fetched) -> Result<ProjectPage, SimpleError> {
    let content_type = header_str(&response.headers, header::CONTENT_TYPE).unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media_type == "application/vnd.pypi.simple.v1+json" || media_type == "application/json" {
        parse_json(&response.body, &response.final_url)
    } else {
        parse_html(
            &String::from_utf8_lossy(&response.body),
            &response.final_url,
        )
    }
}

/// Reads `METADATA` from a wheel held whole in memory.
fn metadata_from_whole(
    file: &IndexFile,
    wheel: &WheelFilename,
    body: &[u8],
) -> Result<Vec<u8>, IndexError> {
    let zip_error = |source| IndexError::Zip {
        filename: file.filename.clone(),
        source,
    };
    let total = body.len() as u64;
    let location = zip_range::locate_central_directory(body, total).map_err(zip_error)?;
    let directory = slice_of(body, 0, location.offset, location.size).ok_or_else(|| {
        IndexError::NoMetadataInWheel {
            filename: file.filename.clone(),
        }
    })?;
    let entries = zip_range::parse_central_directory(directory).map_err(zip_error)?;
    let entry = find_entry(&entries, wheel, file)?;
    let local = usize::try_from(entry.local_header_offset)
        .ok()
        .and_then(|start| body.get(start..))
        .ok_or_else(|| IndexError::NoMetadataInWheel {
            filename: file.filename.clone(),
        })?;
    zip_range::extract_member(local, entry).map_err(zip_error)
}

fn find_entry<'a>(
    entries: &'a [ZipEntry],
    wheel: &WheelFilename,
    file: &IndexFile,
) -> Result<&'a ZipEntry, IndexError> {
    zip_range::find_metadata_entry(entries, wheel).ok_or_else(|| IndexError::NoMetadataInWheel {
        filename: file.filename.clone(),
    })
}

/// The bytes `[offset, offset + len)` of a file, out of a buffer holding the file from
/// `buffer_start` on; `None` when the buffer does not cover them.
fn slice_of(buffer: &[u8], buffer_start: u64, offset: u64, len: u64) -> Option<&[u8]> {
    let from = usize::try_from(offset.checked_sub(buffer_start)?).ok()?;
    let to = from.checked_add(usize::try_from(len).ok()?)?;
    buffer.get(from..to)
}

/// `bytes START-END/TOTAL` (RFC 9110 section 14.4), with `START <= END < TOTAL`.
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let start = start.trim().parse::<u64>().ok()?;
    let end = end.trim().parse::<u64>().ok()?;
    let total = total.trim().parse::<u64>().ok()?;
    (start <= end && end < total).then_some((start, end, total))
}

/// PEP 658: the metadata file sits at the distribution's URL with `.metadata` appended to the
/// path (a query string, if any, stays after it).
fn metadata_file_url(file_url: &Url) -> Url {
    let mut url = file_url.clone();
    let path = format!("{}.metadata", url.path());
    url.set_path(&path);
    url.set_fragment(None);
    url
}

fn verify_sha256(url: &Url, body: &[u8], expected: &str) -> Result<(), IndexError> {
    let actual = hex::encode(Sha256::digest(body));
    if actual.eq_ignore_ascii_case(expected.trim()) {
        Ok(())
    } else {
        Err(IndexError::HashMismatch {
            url: redact_url(url),
            expected: expected.trim().to_ascii_lowercase(),
            actual,
        })
    }
}

fn status_error(url: &Url, response: &Fetched, status: StatusCode) -> IndexError {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => IndexError::Unauthorized {
            url: redact_url(url),
            status: status.as_u16(),
            sent_credentials: response.sent_credentials,
        },
        _ => IndexError::Status {
            url: redact_url(url),
            status: status.as_u16(),
            attempts: response.attempts,
        },
    }
}

fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// A server's `Retry-After` in seconds (the HTTP-date form is not used: the backoff applies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_str(headers, header::RETRY_AFTER)
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Why a request failed, in words: timeouts, resets, refused connections and bodies cut short
/// are named as such, with the lowest-level message of the error's chain.
fn describe_failure(err: &reqwest::Error, timeout: Duration) -> String {
    let mut innermost: &dyn std::error::Error = err;
    let mut io_kind = None;
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            io_kind = io_kind.or(Some(io.kind()));
        }
        innermost = cause;
        source = cause.source();
    }
    let detail = innermost.to_string();
    if err.is_timeout() || io_kind == Some(std::io::ErrorKind::TimedOut) {
        return format!(
            "no data arrived for {}s (raise the limit with `TACK_HTTP_TIMEOUT`)",
            timeout.as_secs_f64()
        );
    }
    let what = match io_kind {
        Some(std::io::ErrorKind::ConnectionReset) => "the connection was reset",
        Some(std::io::ErrorKind::ConnectionRefused) => "the connection was refused",
        Some(std::io::ErrorKind::ConnectionAborted) => "the connection was aborted",
        Some(std::io::ErrorKind::UnexpectedEof) => "the connection closed mid-response",
        _ if err.is_connect() => "could not connect",
        _ if err.is_body() || err.is_decode() => "the response body was cut short",
        _ if err.is_request() => "no complete answer came",
        _ => "the request failed",
    };
    format!("{what} ({detail})")
}

/// Connection failures, timeouts, resets and truncated bodies are worth another try; a bad URL
/// or a redirect loop is not.
fn is_retryable_error(err: &reqwest::Error) -> bool {
    !(err.is_builder() || err.is_redirect() || err.is_status())
}

/// Exponential backoff with jitter: about 200ms, 400ms, 800ms, ... plus up to half as much
/// again at random, capped; a server's `Retry-After` is honoured up to the cap.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exponent = attempt.saturating_sub(1).min(16);
    let base = BACKOFF_BASE.saturating_mul(1 << exponent).min(BACKOFF_CAP);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let jitter_millis = hasher.finish() % (u64::try_from(base.as_millis()).unwrap_or(1) / 2 + 1);
    let delay = base + Duration::from_millis(jitter_millis);
    delay.max(retry_after.unwrap_or_default()).min(BACKOFF_CAP)
}

/// The basic-auth credentials for a request to `url` on behalf of `index`: those written in
/// `url` itself, else the index's when `url` has the index's origin (scheme, host and port).
fn credentials_for(url: &Url, index: &IndexUrl) -> Option<Credentials> {
    let from = |source: &Url| {
        (!source.username().is_empty() || source.password().is_some()).then(|| Credentials {
            username: percent_decode(source.username()),
            password: source.password().map(percent_decode),
        })
    };
    from(url).or_else(|| {
        if url.origin() == index.url().origin() {
            from(index.url())
        } else {
            None
        }
    })
}

/// Decodes `%XX` escapes (as found in the user info of a URL); invalid escapes stay as written.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(byte) = raw
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                decoded.push(byte);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// How long a response stays fresh, from `Cache-Control` (`max-age` less `Age`); `None` when
/// it must be revalidated every time (`no-cache`, `no-store`, or no `max-age`).
fn freshness(headers: &HeaderMap) -> Option<u64> {
    let mut max_age = None;
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            if directive == "no-cache" || directive == "no-store" {
                return None;
            }
            if let Some(seconds) = directive.strip_prefix("max-age=") {
                max_age = seconds.trim_matches('"').parse::<u64>().ok();
            }
        }
    }
    let age = header_str(headers, header::AGE)
        .and_then(|age| age.trim().parse::<u64>().ok())
        .unwrap_or(0);
    max_age.map(|max_age| max_age.saturating_sub(age))
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

fn header_value(value: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(value).ok()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A cache entry decoded from JSON; a damaged entry counts as missing (it will be replaced).
fn read_json<T: DeserializeOwned>(path: &std::path::Path) -> Result<Option<T>, IndexError> {
    let Some(bytes) = cache::read(path)? else {
        return Ok(None);
    };
    match serde_json::from_slice(&bytes) {
        Ok(value) => Ok(Some(value)),
        Err(err) => {
            tracing::debug!(
                "ignoring the damaged cache entry `{}`: {err}",
                path.display()
            );
            Ok(None)
        }
    }
}

fn write_json<T: Serialize>(path: &std::path::Path, value: &T) -> Result<(), IndexError> {
    // Serializing plain data to memory cannot fail; an empty entry would be read as damaged.
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    cache::write_atomic(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::io::Write as _;
    use std::path::Path;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    // ---------------------------------------------------------------------------------------
    // A tiny HTTP/1.1 server on 127.0.0.1: one request per connection, answered by a closure.
    // ---------------------------------------------------------------------------------------

    #[derive(Debug, Clone)]
    struct Seen {
        path: String,
        headers: Vec<(String, String)>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        }
    }

    struct Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        /// How long the server waits before answering.
        delay: Duration,
    }

    impl Reply {
        fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
            Self {
                status,
                headers: Vec::new(),
                body: body.into(),
                delay: Duration::ZERO,
            }
        }

        fn after(mut self, delay: Duration) -> Self {
            self.delay = delay;
            self
        }

        fn with(mut self, name: &str, value: &str) -> Self {
            self.headers.push((name.to_string(), value.to_string()));
            self
        }
    }

    type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

    /// What the connections of one server share.
    struct Shared {
        handler: Box<Handler>,
        seen: Mutex<Vec<Seen>>,
        in_flight: AtomicU64,
        peak_in_flight: AtomicU64,
    }

    struct TestServer {
        base: String,
        shared: Arc<Shared>,
        task: tokio::task::JoinHandle<()>,
    }

    impl TestServer {
        async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let shared = Arc::new(Shared {
                handler: Box::new(handler),
                seen: Mutex::default(),
                in_flight: AtomicU64::new(0),
                peak_in_flight: AtomicU64::new(0),
            });
            let task = {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    while let Ok((stream, _)) = listener.accept().await {
                        tokio::spawn(answer(stream, Arc::clone(&shared)));
                    }
                })
            };
            Self { base, shared, task }
        }

        fn url(&self, path: &str) -> String {
            format!("{}{path}", self.base)
        }

        fn seen(&self) -> Vec<Seen> {
            self.shared.seen.lock().unwrap().clone()
        }

        /// The most requests the server was answering at one time.
        fn peak_in_flight(&self) -> u64 {
            self.shared.peak_in_flight.load(Ordering::SeqCst)
        }

        fn hits(&self, path: &str) -> usize {
            self.seen().iter().filter(|seen| seen.path == path).count()
        }
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn answer(mut stream: TcpStream, shared: Arc<Shared>) {
        let mut buffer = Vec::new();
        let mut chunk = [0_u8; 4096];
        let head_len = loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
            if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                break end;
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_len]).into_owned();
        let mut lines = head.lines();
        let request_line = lines.next().unwrap_or_default();
        let target = request_line.split(' ').nth(1).unwrap_or_default();
        // The query string is dropped: tests match on the path.
        let path = target.split('?').next().unwrap_or_default().to_string();
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
            .collect();
        let request = Seen { path, headers };
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        let reply = (shared.handler)(&request);
        shared.seen.lock().unwrap().push(request);
        tokio::time::sleep(reply.delay).await;
        let mut response = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
            reply.status,
            reply.body.len()
        );
        for (key, value) in &reply.headers {
            let _ = write!(response, "{key}: {value}\r\n");
        }
        response.push_str("\r\n");
        let mut bytes = response.into_bytes();
        bytes.extend_from_slice(&reply.body);
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// Serves `file`, honouring `Range` (suffix and closed ranges) when `ranges` is set.
    fn serve_file(request: &Seen, file: &[u8], ranges: bool) -> Reply {
        let total = file.len();
        let range = request
            .header("range")
            .and_then(|value| value.strip_prefix("bytes="));
        match range {
            Some(spec) if ranges => {
                let (start, end) = match spec.split_once('-').unwrap() {
                    ("", suffix) => (total.saturating_sub(suffix.parse().unwrap()), total - 1),
                    (start, end) => (
                        start.parse().unwrap(),
                        end.parse::<usize>().unwrap().min(total - 1),
                    ),
                };
                Reply::new(206, file[start..=end].to_vec())
                    .with("Content-Range", &format!("bytes {start}-{end}/{total}"))
            }
            _ => Reply::new(200, file.to_vec()),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Fixtures.
    // ---------------------------------------------------------------------------------------

    const WHEEL: &str = "demo-1.0-py3-none-any.whl";

    fn metadata_text(name: &str, version: &str) -> String {
        format!(
            "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: other>=2\nRequires-Python: >=3.8\n\nA description.\n"
        )
    }

    /// A wheel whose bulk is an incompressible module stored before `METADATA`, so that a range
    /// read has much to save.
    fn build_wheel(metadata: &str) -> Vec<u8> {
        build_wheel_with(metadata, false, 0)
    }

    /// A wheel with `METADATA` first or last, and `extra_entries` more small files (each adds
    /// about 130 bytes to the central directory).
    fn build_wheel_with(metadata: &str, metadata_first: bool, extra_entries: usize) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let write_metadata = |writer: &mut zip::ZipWriter<_>| {
            writer
                .start_file("demo-1.0.dist-info/METADATA", deflated)
                .unwrap();
            writer.write_all(metadata.as_bytes()).unwrap();
        };
        if metadata_first {
            write_metadata(&mut writer);
        }
        writer.start_file("demo/__init__.py", stored).unwrap();
        let mut state = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..400_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            })
            .collect();
        writer.write_all(&noise).unwrap();
        for i in 0..extra_entries {
            let name =
                format!("demo/a_rather_long_directory_name/with_a_long_module_name_{i:06}.py");
            writer.start_file(name, stored).unwrap();
        }
        if !metadata_first {
            write_metadata(&mut writer);
        }
        writer
            .start_file("demo-1.0.dist-info/WHEEL", deflated)
            .unwrap();
        writer
            .write_all(b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
            .unwrap();
        writer
            .start_file("demo-1.0.dist-info/RECORD", deflated)
            .unwrap();
        writer.finish().unwrap().into_inner()
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn json_page(file_url: &str, sha256: &str) -> String {
        format!(
            r#"{{"meta":{{"api-version":"1.1"}},"name":"demo","versions":["1.0"],"files":[{{"filename":"{WHEEL}","url":"{file_url}","hashes":{{"sha256":"{sha256}"}}}}]}}"#
        )
    }

    fn json_reply(body: String) -> Reply {
        Reply::new(200, body).with("Content-Type", "application/vnd.pypi.simple.v1+json")
    }

    fn options(indexes: &[String], cache_dir: &Path) -> ClientOptions {
        ClientOptions {
            indexes: indexes
                .iter()
                .map(|raw| IndexUrl::parse(raw).unwrap())
                .collect(),
            pins: BTreeMap::new(),
            cache: Cache::new(cache_dir),
            offline: false,
            concurrency: 8,
            retries: 2,
            timeout: Duration::from_secs(10),
        }
    }

    fn client(indexes: &[String], cache_dir: &Path) -> IndexClient {
        IndexClient::new(options(indexes, cache_dir)).unwrap()
    }

    fn demo() -> PackageName {
        PackageName::from_str("Demo").unwrap()
    }

    fn index_file(url: &str, sha256: Option<String>) -> IndexFile {
        IndexFile {
            filename: WHEEL.to_string(),
            url: Url::parse(url).unwrap(),
            sha256,
            requires_python: None,
            yanked: None,
            size: None,
            upload_time: None,
            has_metadata_file: false,
            metadata_sha256: None,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Project pages.
    // ---------------------------------------------------------------------------------------

    #[tokio::test]
    async fn json_page_is_parsed_and_fetched_once() {
        let server = TestServer::start(|request| {
            if request.path == "/simple/demo/" {
                json_reply(json_page(
                    "../../files/demo-1.0-py3-none-any.whl",
                    &"ab".repeat(32),
                ))
            } else {
                Reply::new(404, "")
            }
        })
        .await;
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[server.url("/simple")], cache.path());
        let name = demo();
        let (first, second) = tokio::join!(client.project(&name), client.project(&name));
        let (index, page) = first.unwrap().unwrap();
        assert_eq!(index.to_string(), server.url("/simple/"));
        assert_eq!(page.files.len(), 1);
        assert_eq!(
            page.files[0].url.as_str(),
            server.url("/files/demo-1.0-py3-none-any.whl")
        );
        assert!(Arc::ptr_eq(&page, &second.unwrap().unwrap().1));
        client.project(&name).await.unwrap().unwrap();
        assert_eq!(server.hits("/simple/demo/"), 1);
        let seen = &server.seen()[0];
        assert_eq!(seen.header("accept"), Some(SIMPLE_ACCEPT));
        assert!(seen.header("user-agent").unwrap().starts_with("tack/"));
        assert_eq!(client.stats().requests, 1);
    }

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[tokio::test]
    async fn html_page_is_parsed_when_the_index_sends_html() {
        let server = TestServer::start(|_| {
            Reply::new(
                200,
                format!(
                    r#"<!DOCTYPE html><html><body><a href="/files/{WHEEL}#sha256={HASH}" data-requires-python="&gt;=3.8">{WHEEL}</a></body></html>"#
                ),
            )
            .with("Content-Type", "text/html; charset=utf-8")
        })
        .await;
        let cache = tempfile::tempdir().unwrap();
        let (_, page) = client(&[server.url("/simple/")], cache.path())
            .project(&demo())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(page.files[0].filename, WHEEL);
        assert_eq!(page.files[0].sha256.as_deref(), Some(HASH));
        assert_eq!(page.files[0].requires_python.as_deref(), Some(">=3.8"));
    }

    #[tokio::test]
    async fn a_404_moves_on_to_the_next_index_and_none_when_no_index_has_it() {
        let empty = TestServer::start(|_| Reply::new(404, "not here")).await;
        let full = TestServer::start(|request| {
            if request.path == "/simple/demo/" {
                json_reply(json_page("/files/x.whl", &"ab".repeat(32)))
            } else {
                Reply::new(404, "")
            }
        })
        .await;
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[empty.url("/simple/"), full.url("/simple/")], cache.path());
        let (index, _) = client.project(&demo()).await.unwrap().unwrap();
        assert_eq!(index.to_string(), full.url("/simple/"));
        let missing = PackageName::from_str("missing").unwrap();
        assert!(client.project(&missing).await.unwrap().is_none());
        assert_eq!(empty.hits("/simple/missing/"), 1);
        assert_eq!(full.hits("/simple/missing/"), 1);
    }

    #[tokio::test]
    async fn a_pinned_package_is_asked_of_its_index_only() {
        let serves_demo = |request: &Seen| {
            if request.path == "/simple/demo/" {
                json_reply(json_page("/files/x.whl", &"ab".repeat(32)))
            } else {
                Reply::new(404, "")
            }
        };
        let public = TestServer::start(serves_demo).await;
        let private = TestServer::start(serves_demo).await;
        let cache = tempfile::tempdir().unwrap();
        let mut options = options(&[public.url("/simple/")], cache.path());
        let private_index = IndexUrl::parse(&private.url("/simple/")).unwrap();
        options.pins.insert(demo(), private_index.clone());
        let client = IndexClient::new(options).unwrap();
        let (index, _) = client.project(&demo()).await.unwrap().unwrap();
        assert_eq!(index, private_index);
        assert_eq!(public.hits("/simple/demo/"), 0);
        // Packages not pinned never reach the pinned (explicit) index.
        let other = PackageName::from_str("other").unwrap();
        assert!(client.project(&other).await.unwrap().is_none());
        assert_eq!(private.hits("/simple/other/"), 0);
        assert_eq!(public.hits("/simple/other/"), 1);
    }

    #[tokio::test]
    async fn requests_in_flight_are_bounded() {
        let server = TestServer::start(|_| {
            json_reply(json_page("/files/x.whl", &"ab".repeat(32))).after(Duration::from_millis(50))
        })
        .await;
        let cache = tempfile::tempdir().unwrap();
        let mut options = options(&[server.url("/simple/")], cache.path());
        options.concurrency = 2;
        let client = IndexClient::new(options).unwrap();
        let names: Vec<PackageName> = (0..8)
            .map(|i| PackageName::from_str(&format!("p{i}")).unwrap())
            .collect();
        let pages = futures::future::join_all(names.iter().map(|name| client.project(name))).await;
        assert!(pages.into_iter().all(|page| page.unwrap().is_some()));
        assert_eq!(server.seen().len(), 8);
        assert_eq!(server.peak_in_flight(), 2);
    }

    #[tokio::test]
    async fn redirects_are_followed_and_links_resolve_against_the_final_page() {
        let server = TestServer::start(|request| match request.path.as_str() {
            "/simple/demo/" => Reply::new(301, "").with("Location", "/moved/demo/"),
            "/moved/demo/" => json_reply(json_page("files/x.whl", &"ab".repeat(32))),
            _ => Reply::new(404, ""),
        })
        .await;
        let cache = tempfile::tempdir().unwrap();
        let (_, page) = client(&[server.url("/simple/")], cache.path())
            .project(&demo())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            page.files[0].url.as_str(),
            server.url("/moved/demo/files/x.whl")
        );
    }

    #[tokio::test]
    async fn a_503_is_retried_then_succeeds() {
        let calls = Arc::new(AtomicU64::new(0));
        let server = {
            let calls = Arc::clone(&calls);
            TestServer::start(move |_| {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    Reply::new(503, "busy")
                } else {
                    json_reply(json_page("/files/x.whl", &"ab".repeat(32)))
                }
            })
            .await
        };
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[server.url("/simple/")], cache.path());
        assert!(client.project(&demo()).await.unwrap().is_some());
        let stats = client.stats();
        assert_eq!((stats.requests, stats.retries), (2, 1));
    }

    #[tokio::test]
    async fn gives_up_after_the_retries_and_names_the_url() {
        let server = TestServer::start(|_| Reply::new(502, "bad gateway")).await;
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[server.url("/simple/")], cache.path());
        let err = client.project(&demo()).await.unwrap_err();
        assert!(
            matches!(
                err,
                IndexError::Status {
                    status: 502,
                    attempts: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&server.url("/simple/demo/")), "{message}");
        assert!(
            message.contains("502") && message.contains("3 attempt"),
            "{message}"
        );
        assert_eq!(server.hits("/simple/demo/"), 3);
        // The failure is not memoized: a later call asks again.
        assert!(client.project(&demo()).await.is_err());
        assert_eq!(server.hits("/simple/demo/"), 6);
    }

    #[tokio::test]
    async fn connection_failures_are_network_errors_with_a_hint() {
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/simple/", closed.local_addr().unwrap());
        drop(closed);
        let cache = tempfile::tempdir().unwrap();
        let mut options = options(std::slice::from_ref(&base), cache.path());
        options.retries = 1;
        let client = IndexClient::new(options).unwrap();
        let err = client.project(&demo()).await.unwrap_err();
        assert!(
            matches!(err, IndexError::Network { attempts: 2, .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&format!("{base}demo/")), "{message}");
        assert!(message.contains("connection was refused"), "{message}");
        assert!(message.contains("--offline"), "{message}");
    }

    #[tokio::test]
    async fn a_stalled_server_times_out_with_the_cause_named() {
        let server = TestServer::start(|_| {
            json_reply(json_page("/files/x.whl", &"ab".repeat(32))).after(Duration::from_secs(3))
        })
        .await;
        let cache = tempfile::tempdir().unwrap();
        let mut options = options(&[server.url("/simple/")], cache.path());
        options.retries = 1;
        options.timeout = Duration::from_millis(300);
        let client = IndexClient::new(options).unwrap();
        let started = Instant::now();
        let err = client.project(&demo()).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{err}");
        let message = err.to_string();
        assert!(
            matches!(err, IndexError::Network { attempts: 2, .. }),
            "{err:?}"
        );
        assert!(message.contains("no data arrived for 0.3s"), "{message}");
        assert!(message.contains("TACK_HTTP_TIMEOUT"), "{message}");
    }

    #[tokio::test]
    async fn downloads_honour_retry_after_and_keep_nothing_that_failed() {
        let wheel = build_wheel(&metadata_text("demo", "1.0"));
        let calls = Arc::new(AtomicU64::new(0));
        let server = {
            let (calls, wheel) = (Arc::clone(&calls), wheel.clone());
            TestServer::start(move |_| {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    Reply::new(503, "busy").with("Retry-After", "1")
                } else {
                    Reply::new(200, wheel.clone())
                }
            })
            .await
        };
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[server.url("/simple/")], cache.path());
        let url = Url::parse(&server.url(&format!("/files/{WHEEL}"))).unwrap();
        let dir = cache.path().join("downloads");
        let destination = dir.join("demo.whl");
        let started = Instant::now();
        let size = client
            .download_file(&url, &sha256_hex(&wheel), &destination, &|_| {})
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert_eq!(size, wheel.len() as u64);
        assert_eq!(fs_err::read(&destination).unwrap(), wheel);
        assert_eq!(client.stats().retries, 1);

        // The wrong hash: an error naming both digests, and no file at all.
        fs_err::remove_file(&destination).unwrap();
        let err = client
            .download_file(&url, &"00".repeat(32), &destination, &|_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::HashMismatch { .. }), "{err:?}");
        assert_eq!(fs_err::read_dir(&dir).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn stale_pages_are_revalidated_with_the_etag() {
        let server = TestServer::start(|request| {
            if request.header("if-none-match") == Some("\"v1\"") {
                Reply::new(304, "").with("Cache-Control", "max-age=0")
            } else {
                json_reply(json_page("/files/x.whl", &"ab".repeat(32)))
                    .with("ETag", "\"v1\"")
                    .with("Cache-Control", "max-age=0")
            }
        })
        .await;
        let cache = tempfile::tempdir().unwrap();
        let indexes = [server.url("/simple/")];
        let first = client(&indexes, cache.path());
        let (_, page) = first.project(&demo()).await.unwrap().unwrap();

        let second = client(&indexes, cache.path());
        let (_, again) = second.project(&demo()).await.unwrap().unwrap();
        assert_eq!(page, again);
        let stats = second.stats();
        assert_eq!(
            (stats.requests, stats.not_modified, stats.bytes_downloaded),
            (1, 1, 0)
        );
        assert_eq!(server.hits("/simple/demo/"), 2);
    }

    #[tokio::test]
    async fn fresh_pages_need_no_request_and_offline_uses_any_page() {
        let server = TestServer::start(|_| {
            json_reply(json_page("/files/x.whl", &"ab".repeat(32)))
                .with("Cache-Control", "max-age=600")
        })
        .await;
        let cache = tempfile::tempdir().unwrap();
        let indexes = [server.url("/simple/")];
        client(&indexes, cache.path())
            .project(&demo())
            .await
            .unwrap();

        let warm = client(&indexes, cache.path());
        assert!(warm.project(&demo()).await.unwrap().is_some());
        assert_eq!((warm.stats().requests, warm.stats().cache_hits), (0, 1));

        let mut offline = options(&indexes, cache.path());
        offline.offline = true;
        let offline = IndexClient::new(offline).unwrap();
        assert!(offline.project(&demo()).await.unwrap().is_some());
        let err = offline
            .project(&PackageName::from_str("never-seen").unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::OfflineCacheMiss { .. }));
        let message = err.to_string();
        assert!(
            message.contains("`never-seen`") && message.contains("`--offline`"),
            "{message}"
        );
        assert_eq!(server.hits("/simple/demo/"), 1);
        assert_eq!(server.hits("/simple/never-seen/"), 0);
    }

    #[tokio::test]
    async fn a_damaged_cache_entry_is_refetched() {
        let server =
            TestServer::start(|_| json_reply(json_page("/files/x.whl", &"ab".repeat(32)))).await;
        let cache = tempfile::tempdir().unwrap();
        let indexes = [server.url("/simple/")];
        let client = client(&indexes, cache.path());
        let url = client.indexes()[0].project_url(&demo());
        let path = client.entry_path(Bucket::Simple, &url);
        cache::write_atomic(&path, b"{ not json").unwrap();
        assert!(client.project(&demo()).await.unwrap().is_some());
        assert_eq!(server.hits("/simple/demo/"), 1);
    }

    // ---------------------------------------------------------------------------------------
    // Wheel metadata.
    // ---------------------------------------------------------------------------------------

    async fn wheel_server(wheel: Vec<u8>, ranges: bool) -> TestServer {
        TestServer::start(move |request| serve_file(request, &wheel, ranges)).await
    }

    #[tokio::test]
    async fn wheel_metadata_is_read_with_range_requests_and_cached() {
        let wheel = build_wheel(&metadata_text("demo", "1.0"));
        let server = wheel_server(wheel.clone(), true).await;
        let cache = tempfile::tempdir().unwrap();
        let indexes = [server.url("/simple/")];
        let client = client(&indexes, cache.path());
        let file = index_file(&server.url(&format!("/files/{WHEEL}")), None);
        let metadata = client
            .wheel_metadata(&client.indexes()[0], &file)
            .await
            .unwrap();
        assert_eq!(metadata.name, demo());
        assert_eq!(metadata.version.to_string(), "1.0");
        assert_eq!(metadata.requires_dist.len(), 1);
        let stats = client.stats();
        assert!(
            stats.bytes_downloaded < wheel.len() as u64 / 4,
            "{} of {} bytes",
            stats.bytes_downloaded,
            wheel.len()
        );
        assert!(server
            .seen()
            .iter()
            .all(|seen| seen.header("range").is_some()));

        let warm = self::client(&indexes, cache.path());
        let again = warm
            .wheel_metadata(&warm.indexes()[0], &file)
            .await
            .unwrap();
        assert_eq!(again, metadata);
        assert_eq!((warm.stats().requests, warm.stats().cache_hits), (0, 1));
    }

    #[tokio::test]
    async fn range_reads_fetch_the_directory_and_the_member_when_outside_the_tail() {
        // METADATA at the start and a central directory larger than the tail: three reads.
        let wheel = build_wheel_with(&metadata_text("demo", "1.0"), true, 1200);
        let server = wheel_server(wheel.clone(), true).await;
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[server.url("/simple/")], cache.path());
        let file = index_file(&server.url(&format!("/files/{WHEEL}")), None);
        let metadata = client
            .wheel_metadata(&client.indexes()[0], &file)
            .await
            .unwrap();
        assert_eq!(metadata.name, demo());
        let ranges: Vec<String> = server
            .seen()
            .iter()
            .map(|seen| seen.header("range").unwrap().to_string())
            .collect();
        assert_eq!(ranges.len(), 3, "{ranges:?}");
        assert_eq!(ranges[0], format!("bytes=-{}", zip_range::TAIL_LEN));
        assert!(ranges[2].starts_with("bytes=0-"), "{ranges:?}");
        assert!(client.stats().bytes_downloaded < wheel.len() as u64 / 2);
    }

    #[tokio::test]
    async fn the_whole_wheel_is_used_when_the_server_ignores_ranges() {
        let wheel = build_wheel(&metadata_text("demo", "1.0"));
        let server = wheel_server(wheel.clone(), false).await;
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[server.url("/simple/")], cache.path());
        let file = index_file(
            &server.url(&format!("/files/{WHEEL}")),
            Some(sha256_hex(&wheel)),
        );
        let metadata = client
            .wheel_metadata(&client.indexes()[0], &file)
            .await
            .unwrap();
        assert_eq!(metadata.name, demo());
        assert_eq!(client.stats().requests, 1);

        // That whole file is checked against the page's hash too.
        let cache = tempfile::tempdir().unwrap();
        let client = self::client(&[server.url("/simple/")], cache.path());
        let file = index_file(
            &server.url(&format!("/files/{WHEEL}")),
            Some("00".repeat(32)),
        );
        let err = client
            .wheel_metadata(&client.indexes()[0], &file)
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::HashMismatch { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_missing_metadata_file_falls_back_to_range_reads() {
        let wheel = build_wheel(&metadata_text("demo", "1.0"));
        let server = {
            let wheel = wheel.clone();
            TestServer::start(move |request| {
                if request.path.ends_with(".metadata") {
                    Reply::new(404, "")
                } else {
                    serve_file(request, &wheel, true)
                }
            })
            .await
        };
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[server.url("/simple/")], cache.path());
        let mut file = index_file(&server.url(&format!("/files/{WHEEL}")), None);
        file.has_metadata_file = true;
        let metadata = client
            .wheel_metadata(&client.indexes()[0], &file)
            .await
            .unwrap();
        assert_eq!(metadata.name, demo());
        assert_eq!(server.hits(&format!("/files/{WHEEL}.metadata")), 1);
        assert!(server.hits(&format!("/files/{WHEEL}")) >= 1);
    }

    #[tokio::test]
    async fn the_whole_wheel_is_downloaded_when_ranges_are_refused() {
        let wheel = build_wheel(&metadata_text("demo", "1.0"));
        let server = {
            let wheel = wheel.clone();
            TestServer::start(move |request| {
                if request.header("range").is_some() {
                    Reply::new(501, "no ranges here")
                } else {
                    Reply::new(200, wheel.clone())
                }
            })
            .await
        };
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[server.url("/simple/")], cache.path());
        let file = index_file(
            &server.url(&format!("/files/{WHEEL}")),
            Some(sha256_hex(&wheel)),
        );
        let metadata = client
            .wheel_metadata(&client.indexes()[0], &file)
            .await
            .unwrap();
        assert_eq!(metadata.version.to_string(), "1.0");
        assert_eq!(client.stats().requests, 2);

        // A whole download is checked against the page's hash.
        let cache = tempfile::tempdir().unwrap();
        let client = self::client(&[server.url("/simple/")], cache.path());
        let file = index_file(
            &server.url(&format!("/files/{WHEEL}")),
            Some("00".repeat(32)),
        );
        let err = client
            .wheel_metadata(&client.indexes()[0], &file)
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::HashMismatch { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn pep_658_metadata_files_are_preferred_and_checked() {
        let metadata = metadata_text("demo", "1.0");
        let server = {
            let metadata = metadata.clone();
            TestServer::start(move |request| {
                if request.path.ends_with(".metadata") {
                    Reply::new(200, metadata.clone())
                } else {
                    Reply::new(500, "the wheel must not be read")
                }
            })
            .await
        };
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[server.url("/simple/")], cache.path());
        let mut file = index_file(&server.url(&format!("/files/{WHEEL}")), None);
        file.has_metadata_file = true;
        file.metadata_sha256 = Some(sha256_hex(metadata.as_bytes()));
        let read = client
            .wheel_metadata(&client.indexes()[0], &file)
            .await
            .unwrap();
        assert_eq!(read.name, demo());
        assert_eq!(server.hits(&format!("/files/{WHEEL}.metadata")), 1);
        assert_eq!(server.hits(&format!("/files/{WHEEL}")), 0);

        let cache = tempfile::tempdir().unwrap();
        let client = self::client(&[server.url("/simple/")], cache.path());
        file.metadata_sha256 = Some("ff".repeat(32));
        let err = client
            .wheel_metadata(&client.indexes()[0], &file)
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::HashMismatch { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn metadata_that_contradicts_the_file_name_is_an_error() {
        let wheel = build_wheel(&metadata_text("demo", "2.0"));
        let server = wheel_server(wheel, true).await;
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[server.url("/simple/")], cache.path());
        let file = index_file(&server.url(&format!("/files/{WHEEL}")), None);
        let err = client
            .wheel_metadata(&client.indexes()[0], &file)
            .await
            .unwrap_err();
        assert!(
            matches!(err, IndexError::MetadataMismatch { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(WHEEL));
        // Nothing wrong was cached.
        assert_eq!(fs_err::read_dir(cache.path()).map_or(0, Iterator::count), 0);
    }

    #[tokio::test]
    async fn offline_metadata_misses_are_reported() {
        let cache = tempfile::tempdir().unwrap();
        let mut options = options(&["http://127.0.0.1:9/simple/".to_string()], cache.path());
        options.offline = true;
        let client = IndexClient::new(options).unwrap();
        let file = index_file(&format!("http://127.0.0.1:9/files/{WHEEL}"), None);
        let err = client
            .wheel_metadata(&client.indexes()[0], &file)
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::OfflineCacheMiss { .. }));
        assert!(err.to_string().contains(WHEEL));
        assert_eq!(client.stats().requests, 0);
    }

    // ---------------------------------------------------------------------------------------
    // Source distributions.
    // ---------------------------------------------------------------------------------------

    fn build_sdist(pkg_info: &str) -> Vec<u8> {
        let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut archive = tar::Builder::new(encoder);
        for (path, content) in [
            ("demo-1.0/PKG-INFO", pkg_info),
            (
                "demo-1.0/setup.py",
                "from setuptools import setup\nsetup()\n",
            ),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            archive
                .append_data(&mut header, path, content.as_bytes())
                .unwrap();
        }
        archive.into_inner().unwrap().finish().unwrap()
    }

    #[tokio::test]
    async fn sdist_metadata_is_used_only_when_static() {
        let static_sdist = build_sdist(
            "Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nRequires-Dist: other>=2\n",
        );
        let dynamic_sdist = build_sdist(
            "Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nDynamic: Requires-Dist\n",
        );
        let server = {
            let (static_sdist, dynamic_sdist) = (static_sdist.clone(), dynamic_sdist.clone());
            TestServer::start(move |request| match request.path.as_str() {
                "/files/static/demo-1.0.tar.gz" => Reply::new(200, static_sdist.clone()),
                "/files/dynamic/demo-1.0.tar.gz" => Reply::new(200, dynamic_sdist.clone()),
                _ => Reply::new(404, ""),
            })
            .await
        };
        let cache = tempfile::tempdir().unwrap();
        let indexes = [server.url("/simple/")];
        let client = client(&indexes, cache.path());
        let sdist = |path: &str, sha256: Option<String>| IndexFile {
            filename: "demo-1.0.tar.gz".to_string(),
            ..index_file(&server.url(path), sha256)
        };
        let static_file = sdist(
            "/files/static/demo-1.0.tar.gz",
            Some(sha256_hex(&static_sdist)),
        );
        let dynamic_file = sdist("/files/dynamic/demo-1.0.tar.gz", None);
        let index = &client.indexes()[0];
        let metadata = client
            .sdist_metadata(index, &static_file)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(metadata.requires_dist.len(), 1);
        assert!(client
            .sdist_metadata(index, &dynamic_file)
            .await
            .unwrap()
            .is_none());

        // Both answers are cached, the negative one included.
        let warm = self::client(&indexes, cache.path());
        let index = &warm.indexes()[0];
        assert!(warm
            .sdist_metadata(index, &static_file)
            .await
            .unwrap()
            .is_some());
        assert!(warm
            .sdist_metadata(index, &dynamic_file)
            .await
            .unwrap()
            .is_none());
        assert_eq!(warm.stats().requests, 0);

        let corrupt = sdist("/files/dynamic/demo-1.0.tar.gz", Some("11".repeat(32)));
        let corrupt = IndexFile {
            url: Url::parse(&server.url("/files/dynamic/demo-1.0.tar.gz?copy=2")).unwrap(),
            ..corrupt
        };
        let err = warm.sdist_metadata(index, &corrupt).await.unwrap_err();
        assert!(matches!(err, IndexError::HashMismatch { .. }), "{err:?}");
    }

    // ---------------------------------------------------------------------------------------
    // Credentials.
    // ---------------------------------------------------------------------------------------

    /// `user:secret` in base64.
    const BASIC_USER_SECRET: &str = "Basic dXNlcjpzZWNyZXQ=";

    #[tokio::test]
    async fn credentials_go_to_the_index_host_only_and_never_into_errors() {
        let wheel = build_wheel(&metadata_text("demo", "1.0"));
        let files = wheel_server(wheel.clone(), true).await;
        let file_url = files.url(&format!("/files/{WHEEL}"));
        let index = {
            let file_url = file_url.clone();
            let wheel = wheel.clone();
            TestServer::start(move |request| {
                if request.header("authorization") != Some(BASIC_USER_SECRET) {
                    return Reply::new(401, "who are you").with("WWW-Authenticate", "Basic");
                }
                if request.path.starts_with("/files/") {
                    return serve_file(request, &wheel, true);
                }
                json_reply(json_page(&file_url, &"ab".repeat(32)))
            })
            .await
        };
        let with_auth = index
            .url("/simple/")
            .replace("http://", "http://user:secret@");
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[with_auth], cache.path());
        let (found, page) = client.project(&demo()).await.unwrap().unwrap();
        assert!(!found.to_string().contains("secret"));

        // The file host is another origin: no credentials go there.
        client.wheel_metadata(&found, &page.files[0]).await.unwrap();
        assert!(!files.seen().is_empty());
        assert!(files
            .seen()
            .iter()
            .all(|seen| seen.header("authorization").is_none()));

        // A file on the index's own host gets them.
        let same_host = index_file(&index.url(&format!("/files/{WHEEL}")), None);
        client.wheel_metadata(&found, &same_host).await.unwrap();
        assert!(index.hits(&format!("/files/{WHEEL}")) >= 1);

        // Nothing in the cache mentions them.
        for bucket in [Bucket::Simple, Bucket::Metadata] {
            for entry in fs_err::read_dir(Cache::new(cache.path()).bucket(bucket)).unwrap() {
                let entry = entry.unwrap();
                assert!(!entry.file_name().to_string_lossy().contains("secret"));
                let content = fs_err::read_to_string(entry.path()).unwrap();
                assert!(!content.contains("secret") && !content.contains("user@"));
            }
        }

        // Wrong credentials: a clear error without the password.
        let wrong = index
            .url("/simple/")
            .replace("http://", "http://user:hunter2@");
        let cache = tempfile::tempdir().unwrap();
        let err = self::client(&[wrong], cache.path())
            .project(&demo())
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, IndexError::Unauthorized { status: 401, .. }));
        assert!(message.contains("refused the credentials"), "{message}");
        assert!(!message.contains("hunter2") && !format!("{err:?}").contains("hunter2"));

        // No credentials at all: the error says some are needed.
        let cache = tempfile::tempdir().unwrap();
        let err = self::client(&[index.url("/simple/")], cache.path())
            .project(&demo())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("requires credentials"), "{err}");
    }

    // ---------------------------------------------------------------------------------------
    // Pure helpers.
    // ---------------------------------------------------------------------------------------

    #[test]
    fn content_ranges_are_parsed_strictly() {
        assert_eq!(parse_content_range("bytes 0-9/10"), Some((0, 9, 10)));
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some((100, 199, 1000))
        );
        assert_eq!(parse_content_range("bytes 0-9/*"), None);
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range("bytes 9-0/10"), None);
        assert_eq!(parse_content_range("bytes 0-10/10"), None);
        assert_eq!(parse_content_range("items 0-9/10"), None);
    }

    #[test]
    fn freshness_follows_cache_control_and_age() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.append(*name, HeaderValue::from_static(value));
            }
            map
        };
        assert_eq!(
            freshness(&headers(&[("cache-control", "max-age=600")])),
            Some(600)
        );
        assert_eq!(
            freshness(&headers(&[
                ("cache-control", "public, max-age=600"),
                ("age", "100")
            ])),
            Some(500)
        );
        assert_eq!(
            freshness(&headers(&[("cache-control", "max-age=60"), ("age", "100")])),
            Some(0)
        );
        assert_eq!(
            freshness(&headers(&[("cache-control", "no-cache, max-age=600")])),
            None
        );
        assert_eq!(
            freshness(&headers(&[("cache-control", "max-age=oops")])),
            None
        );
        assert_eq!(freshness(&headers(&[])), None);
    }

    #[test]
    fn cached_pages_are_fresh_only_within_their_lifetime() {
        let page = |fresh_for| CachedPage {
            fetched_at: 1000,
            fresh_for,
            etag: None,
            last_modified: None,
            page: None,
        };
        assert!(page(Some(10)).is_fresh(1009));
        assert!(!page(Some(10)).is_fresh(1010));
        assert!(!page(Some(0)).is_fresh(1000));
        assert!(!page(None).is_fresh(1000));
        assert!(page(Some(u64::MAX)).is_fresh(u64::MAX - 1));
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for attempt in 1..=3 {
            let base = BACKOFF_BASE * (1 << (attempt - 1));
            let delay = backoff(attempt, None);
            assert!(
                delay >= base && delay <= base + base / 2,
                "{attempt}: {delay:?}"
            );
        }
        assert_eq!(backoff(30, None), BACKOFF_CAP);
        assert!(backoff(1, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), BACKOFF_CAP);
    }

    #[test]
    fn credentials_are_matched_by_origin_and_decoded() {
        let index = IndexUrl::parse("https://us%40er:p%3Ass@example.org/simple/").unwrap();
        let on_index = Url::parse("https://example.org/files/a.whl").unwrap();
        let credentials = credentials_for(&on_index, &index).unwrap();
        assert_eq!(credentials.username, "us@er");
        assert_eq!(credentials.password.as_deref(), Some("p:ss"));
        for elsewhere in [
            "https://files.example.org/a.whl",
            "http://example.org/files/a.whl",
            "https://example.org:8443/files/a.whl",
        ] {
            assert!(
                credentials_for(&Url::parse(elsewhere).unwrap(), &index).is_none(),
                "{elsewhere}"
            );
        }
        let plain = IndexUrl::parse("https://example.org/simple/").unwrap();
        assert!(credentials_for(&on_index, &plain).is_none());
        let own = Url::parse("https://token@other.example.org/a.whl").unwrap();
        assert_eq!(credentials_for(&own, &plain).unwrap().username, "token");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn metadata_file_urls_append_to_the_path() {
        let url = Url::parse("https://example.org/f/a-1.0-py3-none-any.whl?x=1#frag").unwrap();
        assert_eq!(
            metadata_file_url(&url).as_str(),
            "https://example.org/f/a-1.0-py3-none-any.whl.metadata?x=1"
        );
    }

    #[test]
    fn slices_are_taken_only_when_covered() {
        let buffer = [1_u8, 2, 3, 4];
        assert_eq!(slice_of(&buffer, 10, 11, 2), Some(&[2_u8, 3][..]));
        assert_eq!(slice_of(&buffer, 10, 9, 2), None);
        assert_eq!(slice_of(&buffer, 10, 13, 2), None);
        assert_eq!(slice_of(&buffer, 10, 14, 0), Some(&[][..]));
    }

    #[test]
    fn environment_overrides_apply_and_bad_values_are_ignored() {
        let mut options = ClientOptions {
            indexes: Vec::new(),
            pins: BTreeMap::new(),
            cache: Cache::new("cache"),
            offline: false,
            concurrency: DEFAULT_CONCURRENCY,
            retries: DEFAULT_RETRIES,
            timeout: DEFAULT_TIMEOUT,
        };
        options.apply_env(|name| match name {
            CONCURRENCY_ENV => Some("8".to_string()),
            TIMEOUT_ENV => Some("2.5".to_string()),
            _ => None,
        });
        assert_eq!(options.concurrency, 8);
        assert_eq!(options.timeout, Duration::from_millis(2500));
        options.apply_env(|name| match name {
            CONCURRENCY_ENV => Some("0".to_string()),
            TIMEOUT_ENV => Some("-1".to_string()),
            _ => None,
        });
        assert_eq!(options.concurrency, 8);
        assert_eq!(options.timeout, Duration::from_millis(2500));
        options.apply_env(|_| Some("many".to_string()));
        assert_eq!(
            (options.concurrency, options.timeout),
            (8, Duration::from_millis(2500))
        );
    }
}
