//! Why the index client failed.
//!
//! Each message names what failed: a URL (always redacted) or a file name. Why it failed is the
//! error's `source()` when there is an underlying error (the HTTP library's, the zip reader's,
//! the page parser's), and what to do about it is a hint ([`Diagnostic`]): which setting to
//! change, where credentials come from, or how to work from the cache.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::cache::CacheError;
use crate::diagnostic::Diagnostic;
use crate::index::metadata::MetadataError;
use crate::index::simple::SimpleError;
use crate::index::zip_range::ZipRangeError;

/// Why the index client failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("failed to set up the HTTP client")]
    ClientSetup(#[source] reqwest::Error),
    #[error("failed to fetch `{url}` after {attempts} attempt(s)")]
    Network {
        url: String,
        attempts: u32,
        /// The read timeout, when the last attempt failed because no data came within it.
        timed_out_after: Option<Duration>,
        #[source]
        source: reqwest::Error,
    },
    /// The TLS handshake failed: a certificate no trusted authority signed (a proxy that
    /// re-signs HTTPS, a private index, a machine without CA certificates), or a server that
    /// does not speak TLS. Not retried: the next attempt would fail the same way.
    #[error("could not make a secure (TLS) connection to fetch `{url}`")]
    Tls {
        url: String,
        /// The server's certificate was refused (rather than the protocol failing).
        certificate: bool,
        #[source]
        source: reqwest::Error,
    },
    #[error("`{url}` answered HTTP {status} after {attempts} attempt(s){}", status_meaning(*status))]
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
    /// The page parser's error names the page and what is wrong with it.
    #[error(transparent)]
    MalformedPage(SimpleError),
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
        "`{url}` has sha256 {actual}, not the expected {expected}: the download is corrupt, or the file changed since it was listed or locked"
    )]
    HashMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("the reader of `{url}` stopped taking its bytes")]
    ReaderGone { url: String },
    #[error("{what} is not in the cache and `--offline` forbids network access")]
    OfflineCacheMiss { what: String },
    /// The cache error names the entry.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The error of a page lookup that several callers share (a prefetch and the resolver):
    /// each of them gets it, and the page is not asked for again.
    #[error(transparent)]
    Shared(Arc<IndexError>),
}

impl IndexError {
    /// The error itself, out of any [`IndexError::Shared`] around it: for a caller that
    /// matches on what went wrong.
    pub fn unshared(&self) -> &IndexError {
        match self {
            Self::Shared(inner) => inner.unshared(),
            other => other,
        }
    }
}

impl Diagnostic for IndexError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::ClientSetup(_) => {
                vec!["TLS certificates are read from the system store, or from `SSL_CERT_FILE` / `SSL_CERT_DIR` when set".into()]
            }
            Self::Tls {
                certificate: true,
                ..
            } => vec![
                "tack trusts the certificate authorities of the system's CA bundle (on Debian and Ubuntu, `apt-get install ca-certificates`); behind a proxy that re-signs HTTPS, or for an index with a private authority, point `SSL_CERT_FILE` at a PEM file (or `SSL_CERT_DIR` at a directory) holding its CA certificate, which then replaces the system's".into(),
            ],
            Self::Tls { .. } => vec![
                "check that the server speaks HTTPS at that address (an `https://` URL to a plain HTTP port fails this way), or that a proxy (`HTTPS_PROXY`) lets it through".into(),
            ],
            Self::Network {
                timed_out_after, ..
            } => {
                let mut hints = Vec::new();
                if let Some(timeout) = timed_out_after {
                    hints.push(format!(
                        "no data arrived for {}s: raise the limit with `TACK_HTTP_TIMEOUT`",
                        timeout.as_secs_f64()
                    ));
                }
                hints.push(
                    "check the network connection and the index URL, or pass `--offline` to work from the cache"
                        .into(),
                );
                hints
            }
            Self::Status { status, .. } => status_hint(*status)
                .map(str::to_string)
                .into_iter()
                .collect(),
            Self::Unauthorized { url, .. } => vec![credentials_hint(url)],
            Self::MalformedPage(error) => error.hints(),
            Self::HashMismatch { .. } => {
                vec!["try again; if it persists, the index serves other bytes than it listed or than the lock records: tell the index maintainers, or run `tack lock --upgrade-package` for the package".into()]
            }
            Self::OfflineCacheMiss { .. } => {
                vec!["run once without `--offline` to fill the cache".into()]
            }
            Self::Cache(error) => error.hints(),
            Self::Shared(error) => error.hints(),
            Self::Metadata { .. }
            | Self::MetadataMismatch { .. }
            | Self::InvalidFilename { .. }
            | Self::Zip { .. }
            | Self::NoMetadataInWheel { .. }
            | Self::ReaderGone { .. } => Vec::new(),
        }
    }
}

/// What a failing status means, for the message.
fn status_meaning(status: u16) -> &'static str {
    match status {
        404 | 410 => ": the index does not have it",
        429 => ": the index is rate-limiting requests",
        500..=599 => ": the index is failing",
        _ => "",
    }
}

fn status_hint(status: u16) -> Option<&'static str> {
    match status {
        429 => Some("lower `TACK_CONCURRENT_REQUESTS` or try again later"),
        500..=599 => Some("try again later"),
        _ => None,
    }
}

fn unauthorized_message(url: &str, status: u16, sent_credentials: bool) -> String {
    if sent_credentials {
        format!("the index refused the credentials for `{url}` (HTTP {status})")
    } else {
        format!("`{url}` requires credentials (HTTP {status}) and none were set")
    }
}

fn credentials_hint(url: &str) -> String {
    let host = Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_else(|| "HOST".to_string());
    format!(
        "credentials come from the index URL (`https://USER:PASSWORD@{host}/...`), from \
         `TACK_INDEX_<NAME>_USERNAME` / `_PASSWORD` for an index named in pyproject.toml \
         (`[[tool.tack.index]]`, or Poetry's `POETRY_HTTP_BASIC_<NAME>_*`), or from a \
         `machine {host}` entry in `~/.netrc`"
    )
}
