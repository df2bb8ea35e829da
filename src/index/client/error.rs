//! Why the index client failed, in words a user can act on.
//!
//! Messages name what failed (a URL, always redacted, or a file name) and, where there is one,
//! what to do about it: which setting to change, where credentials come from, or how to work
//! from the cache.

use url::Url;

use crate::cache::CacheError;
use crate::index::metadata::MetadataError;
use crate::index::simple::SimpleError;
use crate::index::zip_range::ZipRangeError;

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
