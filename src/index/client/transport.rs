//! HTTP: one client, a bound on requests in flight, retries with backoff.
//!
//! One `reqwest` client (rustls with the platform's roots; pooled connections; HTTP/2 when
//! offered; gzip) serves all requests. The roots are the system's CA bundle, or the PEM file
//! `SSL_CERT_FILE` and the directory `SSL_CERT_DIR` instead when either is set (the rule of
//! OpenSSL, which `rustls-native-certs` follows). Proxies come from the environment as curl
//! reads it (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, lower case too), which
//! reqwest does by itself. A failed TLS handshake (an untrusted certificate, most often a proxy
//! that re-signs HTTPS without its CA in the bundle) is not retried: it would fail the same way
//! each time, and four tries cost seconds before the hint that says what to do. A semaphore bounds the
//! requests in flight. Connection failures, timeouts, resets, bodies cut short and the statuses
//! 429, 500, 502, 503 and 504 are retried with exponential backoff and jitter, `DEFAULT_RETRIES`
//! times: each wait is at most `BACKOFF_CAP`, a server's `Retry-After` (in seconds) included, so
//! a request gives up after a bounded time. A read that waits longer than the timeout
//! (`TACK_HTTP_TIMEOUT`) for the next bytes counts as a failure, so a stalled connection cannot
//! hang a run. The error that ends the retries names the URL and the cause. A body that did not
//! arrive whole is never used: pages and metadata are parsed only from complete bodies.
//!
//! The first request to an origin goes alone ([`FirstRequests`]): the others to that origin
//! wait until its response headers arrive. Whether a server speaks HTTP/2 is learnt (by ALPN)
//! only at the end of the first TLS handshake, so a burst of requests to a new host would
//! otherwise open one connection each, where one HTTP/2 connection carries them all. A server
//! that answers in HTTP/1.1 costs the others one round trip, and each then opens its own
//! connection as before.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use url::Url;

use super::credentials::credentials_for;
use super::{Counters, IndexClient, IndexError};
use crate::index::IndexUrl;
use crate::redact::redact_url;

const USER_AGENT: &str = concat!("tack/", env!("CARGO_PKG_VERSION"));

/// The first retry waits about this long, each further one twice as long.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// No single wait is longer than this (a server's `Retry-After` included).
const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// Idle connections kept per host at most, and for how long.
///
/// A connection is idle between the end of one response and the start of the next request: in
/// a burst of downloads, a moment. Idle connections beyond these bounds are closed, because a
/// server counts them against its own limit of open connections. Behind one pull-through mirror
/// (`devpi-server`, which stops accepting at 100 connections and closes an idle one after 120
/// s), 8 concurrent syncs over HTTP/1.1 once held 100 idle connections between three of them
/// while their last requests waited in the mirror's accept queue: the syncs stalled for two
/// minutes. An HTTP/2 server takes every request on one connection and is not concerned.
const MAX_IDLE_PER_HOST: usize = 4;
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// The one HTTP client of an [`IndexClient`]: `timeout` bounds connecting and each wait for
/// data; up to `concurrency` (at most [`MAX_IDLE_PER_HOST`]) idle connections are kept per
/// host, for [`IDLE_TIMEOUT`].
pub(super) fn http_client(
    timeout: Duration,
    concurrency: usize,
) -> Result<reqwest::Client, IndexError> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(timeout)
        .read_timeout(timeout)
        .pool_max_idle_per_host(concurrency.min(MAX_IDLE_PER_HOST))
        .pool_idle_timeout(IDLE_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .map_err(IndexError::ClientSetup)
}

/// Which origins had an answer yet: the first request to each goes alone.
#[derive(Debug, Default)]
pub(super) struct FirstRequests {
    origins: Mutex<FxHashMap<String, Arc<Origin>>>,
}

#[derive(Debug, Default)]
struct Origin {
    /// Set once the first request had its response headers (or failed): from then on,
    /// requests go at once.
    answered: AtomicBool,
    /// Held by the first request until then; the others queue on it.
    first: tokio::sync::Mutex<()>,
}

impl FirstRequests {
    fn origin(&self, url: &Url) -> Arc<Origin> {
        let key = url.origin().ascii_serialization();
        // A poisoned map only means another request panicked: the map itself is whole.
        let mut origins = self
            .origins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(origins.entry(key).or_default())
    }
}

/// A complete response, body read.
pub(super) struct Fetched {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
    /// The URL after redirects, which relative links on a page resolve against.
    pub(super) final_url: Url,
    pub(super) sent_credentials: bool,
    pub(super) attempts: u32,
}

impl IndexClient {
    /// Sends `request` (to `url`), alone if it is the first to the origin of `url`: see
    /// [`FirstRequests`]. A request dropped while it goes alone lets the next one go.
    pub(super) async fn send(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> reqwest::Result<reqwest::Response> {
        let origin = self.inner.first_requests.origin(url);
        if origin.answered.load(Ordering::Acquire) {
            return request.send().await;
        }
        let turn = origin.first.lock().await;
        if origin.answered.load(Ordering::Acquire) {
            drop(turn);
            return request.send().await;
        }
        let response = request.send().await;
        // A failure opens the gate too: the others try for themselves, as they would have.
        origin.answered.store(true, Ordering::Release);
        response
    }

    /// One GET with the body read, under the concurrency bound, retried on transient failures.
    /// Any final status is returned; only transport failures and exhausted retries are errors.
    pub(super) async fn get(
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
                match self.send(&target, request).await {
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
                    return Err(network_error(shown, attempts, err, self.inner.timeout));
                }
            }
        }
    }

    pub(super) async fn pause_before_retry(&self, attempt: u32, retry_after: Option<Duration>) {
        Counters::bump(&self.inner.counters.retries, 1);
        let delay = backoff(attempt, retry_after);
        tracing::debug!("retrying in {delay:.2?}");
        tokio::time::sleep(delay).await;
    }
}

pub(super) fn status_error(url: &Url, response: &Fetched, status: StatusCode) -> IndexError {
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

pub(super) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// A server's `Retry-After` in seconds (the HTTP-date form is not used: the backoff applies).
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_str(headers, header::RETRY_AFTER)
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The error that ends the retries of a request to `url` (redacted): the HTTP library's error
/// is its cause, and a read that outlived `timeout` is noted for the hint.
pub(super) fn network_error(
    url: String,
    attempts: u32,
    err: reqwest::Error,
    timeout: Duration,
) -> IndexError {
    if let Some(tls) = tls_failure(&err) {
        let certificate = matches!(
            tls,
            rustls::Error::InvalidCertificate(_)
                | rustls::Error::NoCertificatesPresented
                | rustls::Error::InvalidCertRevocationList(_)
        );
        return IndexError::Tls {
            url,
            certificate,
            source: err,
        };
    }
    let mut timed_out = err.is_timeout();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            timed_out |= io.kind() == std::io::ErrorKind::TimedOut;
        }
        source = cause.source();
    }
    IndexError::Network {
        url,
        attempts,
        timed_out_after: timed_out.then_some(timeout),
        source: err,
    }
}

/// Connection failures, timeouts, resets and truncated bodies are worth another try; a bad URL,
/// a redirect loop or a failed TLS handshake is not.
pub(super) fn is_retryable_error(err: &reqwest::Error) -> bool {
    !(err.is_builder() || err.is_redirect() || err.is_status() || tls_failure(err).is_some())
}

/// The TLS library's error among the causes of `err`: the handshake failed.
fn tls_failure(err: &reqwest::Error) -> Option<&rustls::Error> {
    std::error::Error::source(err).and_then(find_tls_error)
}

/// `error` or one of its causes as a TLS error. It travels inside an `io::Error` (sometimes
/// one inside another), whose `source()` skips what it wraps, so each I/O error is opened.
fn find_tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(inner) = error
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref)
    {
        if let Some(tls) = find_tls_error(inner) {
            return Some(tls);
        }
    }
    error.source().and_then(find_tls_error)
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

pub(super) fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

pub(super) fn header_value(value: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(value).ok()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use tokio::net::TcpListener;

    use super::*;
    use crate::diagnostic::Diagnostic;
    use crate::index::client::test_support::*;
    use crate::normalize::PackageName;

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
    async fn the_first_request_to_a_host_goes_alone() {
        let delay = Duration::from_millis(200);
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let server = {
            let arrivals = Arc::clone(&arrivals);
            TestServer::start(move |_| {
                arrivals.lock().unwrap().push(Instant::now());
                json_reply(json_page("/files/x.whl", &"ab".repeat(32))).after(delay)
            })
            .await
        };
        let cache = tempfile::tempdir().unwrap();
        let client = IndexClient::new(options(&[server.url("/simple/")], cache.path())).unwrap();
        let names: Vec<PackageName> = (0..8)
            .map(|i| PackageName::from_str(&format!("p{i}")).unwrap())
            .collect();
        let pages = futures::future::join_all(names.iter().map(|name| client.project(name))).await;
        assert!(pages.into_iter().all(|page| page.unwrap().is_some()));
        let arrivals = arrivals.lock().unwrap().clone();
        assert_eq!(arrivals.len(), 8);
        // Nothing else was sent until the first answer came...
        assert!(arrivals[1] - arrivals[0] >= delay, "{arrivals:?}");
        // ...and then this HTTP/1.1 server got the others on connections of their own, at
        // once rather than one after another.
        assert!(server.peak_in_flight() > 1);
        assert!(arrivals[7] - arrivals[1] < delay * 3, "{arrivals:?}");
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
                err.unshared(),
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
        // The failure is memoized like a page: a later caller (the resolver after a failed
        // prefetch) gets the same error without asking the index again.
        assert!(client.project(&demo()).await.is_err());
        assert_eq!(server.hits("/simple/demo/"), 3);
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
            matches!(err.unshared(), IndexError::Network { attempts: 2, .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&format!("{base}demo/")), "{message}");
        let causes = error_chain(&err);
        assert!(causes.contains("Connection refused"), "{causes}");
        assert!(!message.contains("Connection refused"), "{message}");
        let hints = err.hints().join("\n");
        assert!(hints.contains("--offline"), "{hints}");
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
            matches!(err.unshared(), IndexError::Network { attempts: 2, .. }),
            "{err:?}"
        );
        assert!(error_chain(&err).contains("timed out"), "{message}");
        let hints = err.hints().join("\n");
        assert!(hints.contains("no data arrived for 0.3s"), "{hints}");
        assert!(hints.contains("TACK_HTTP_TIMEOUT"), "{hints}");
    }

    #[tokio::test]
    async fn a_failed_tls_handshake_is_not_retried() {
        use tokio::io::AsyncWriteExt as _;
        // A server that answers the TLS ClientHello with plain HTTP.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://{}/simple/", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
                let _ = socket.shutdown().await;
            }
        });
        let cache = tempfile::tempdir().unwrap();
        let client = client(std::slice::from_ref(&base), cache.path());
        let err = client.project(&demo()).await.unwrap_err();
        assert!(
            matches!(
                err.unshared(),
                IndexError::Tls {
                    certificate: false,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        assert_eq!(client.stats().retries, 0);
        assert!(err.to_string().contains(&format!("{base}demo/")), "{err}");
        let hints = err.hints().join("\n");
        assert!(hints.contains("speaks HTTPS"), "{hints}");
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
}
