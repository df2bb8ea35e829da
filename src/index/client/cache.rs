//! The on-disk cache: project pages with their validators, and JSON entries.
//!
//! A page is stored in two files named by a hash of its URL (credentials removed):
//!
//! - `<key>.head`, small JSON: the validators (`ETag`, `Last-Modified`), the freshness
//!   (`Cache-Control: max-age`), and the sha256 of the body the page was parsed from (none
//!   when the index answered "not here", a 404 cached so that an offline run can tell "absent"
//!   from "never asked");
//! - `<key>.page`, the parsed page in a compact binary form (see [`encode_page`]), which
//!   starts with that same digest.
//!
//! While fresh a page is used without a request; afterwards it is revalidated with
//! `If-None-Match` / `If-Modified-Since` (the request itself is made by `pages`). A `304 Not
//! Modified` rewrites the head only, and only when its freshness or validators changed: the page
//! file is never rewritten for it. Many indexes send no validators at all, so every lock gets
//! each page whole again: when the body's digest is the one the head records, the cached
//! parse is used and nothing is written, so a warm lock neither reparses HTML/JSON nor
//! rewrites megabytes of cache. With `offline`, cached pages are used whatever their age.
//!
//! The head is read first and the page file only when it is needed; the page file's digest
//! must match the head's, so a head and a page written by two processes at once are never
//! mixed: a mismatch, like any damaged entry, counts as missing and is replaced. Core metadata
//! is stored as JSON entries (see `core_metadata`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::{self, HeaderMap};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use super::pages::PageLookup;
use super::transport::header_str;
use super::{Counters, IndexClient, IndexError};
use crate::cache::{self, Bucket};
use crate::index::{IndexFile, ProjectPage};

/// What is known of a cached page without reading the page itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PageHead {
    /// Seconds since the Unix epoch when the page was fetched or last revalidated.
    fetched_at: u64,
    /// How many seconds after `fetched_at` the page stays fresh; `None` means "revalidate".
    fresh_for: Option<u64>,
    pub(super) etag: Option<String>,
    pub(super) last_modified: Option<String>,
    /// Hex sha256 of the body the page was parsed from; `None` when the index answered that
    /// it does not have the project.
    body_sha256: Option<String>,
}

impl PageHead {
    pub(super) fn is_fresh(&self, now: u64) -> bool {
        self.fresh_for
            .is_some_and(|fresh_for| now < self.fetched_at.saturating_add(fresh_for))
    }

    /// A new head for a body (or an absence, `None`) just received with `headers`.
    pub(super) fn received(body_sha256: Option<String>, headers: &HeaderMap) -> Self {
        let mut head = Self {
            fetched_at: 0,
            fresh_for: None,
            etag: None,
            last_modified: None,
            body_sha256,
        };
        head.update_from(headers);
        head
    }

    /// Whether the cached page was parsed from a body with this digest.
    pub(super) fn is_body(&self, body_sha256: &str) -> bool {
        self.body_sha256.as_deref() == Some(body_sha256)
    }

    /// Takes the validators and freshness of a response (a 200, or a 304 refreshing them).
    pub(super) fn update_from(&mut self, headers: &HeaderMap) {
        self.fetched_at = unix_now();
        self.fresh_for = freshness(headers);
        if let Some(etag) = header_str(headers, header::ETAG) {
            self.etag = Some(etag);
        }
        if let Some(last_modified) = header_str(headers, header::LAST_MODIFIED) {
            self.last_modified = Some(last_modified);
        }
    }

    /// Whether `self`, the head after a response, says more than `before` did: the time of the
    /// fetch matters only to a head with a lifetime, so a head without one is not rewritten for
    /// a revalidation that changed nothing.
    pub(super) fn worth_writing_over(&self, before: &Self) -> bool {
        self.fresh_for.is_some()
            || before.fresh_for.is_some()
            || self.etag != before.etag
            || self.last_modified != before.last_modified
            || self.body_sha256 != before.body_sha256
    }
}

/// The hex sha256 of a page's body, as the head records it.
pub(super) fn body_digest(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

impl IndexClient {
    pub(super) fn entry_path(&self, bucket: Bucket, url: &Url) -> PathBuf {
        self.entry_path_with(bucket, url, "json")
    }

    /// The path of the entry of `url` in `bucket`, with the extension `extension`.
    pub(super) fn entry_path_with(&self, bucket: Bucket, url: &Url, extension: &str) -> PathBuf {
        self.inner
            .cache
            .bucket(bucket)
            .join(format!("{}.{extension}", cache::key_for_url(url)))
    }

    pub(super) fn hit(&self) {
        Counters::bump(&self.inner.counters.cache_hits, 1);
    }
}

/// The two files of one cached page.
pub(super) struct PageFiles {
    pub(super) head: PathBuf,
    pub(super) page: PathBuf,
}

impl PageFiles {
    pub(super) fn for_url(client: &IndexClient, url: &Url) -> Self {
        Self {
            head: client.entry_path_with(Bucket::Simple, url, "head"),
            page: client.entry_path_with(Bucket::Simple, url, "page"),
        }
    }

    pub(super) fn read_head(&self) -> Result<Option<PageHead>, IndexError> {
        read_json(&self.head)
    }

    /// The page `head` describes: `Absent` for a cached "not here", `None` when the page file
    /// is missing, damaged or from another response than `head`'s.
    pub(super) fn read_page(&self, head: &PageHead) -> Result<Option<PageLookup>, IndexError> {
        let Some(expected) = head.body_sha256.as_deref() else {
            return Ok(Some(PageLookup::Absent));
        };
        let Some(bytes) = cache::read(&self.page)? else {
            return Ok(None);
        };
        let page = decode_page(&bytes, expected);
        if page.is_none() {
            tracing::debug!(
                "ignoring the damaged or superseded cache entry `{}`",
                self.page.display()
            );
        }
        Ok(page.map(|page| PageLookup::Found(Arc::new(page))))
    }

    /// Stores a page just parsed: the page file first, then the head that points at it.
    pub(super) fn write_page(&self, head: &PageHead, page: &ProjectPage) -> Result<(), IndexError> {
        if let Some(digest) = head.body_sha256.as_deref() {
            cache::write_atomic(&self.page, &encode_page(digest, page))?;
        }
        write_json(&self.head, head)
    }

    pub(super) fn write_head(&self, head: &PageHead) -> Result<(), IndexError> {
        write_json(&self.head, head)
    }
}

// ---------------------------------------------------------------------------------------
// The page file: a compact binary form of a parsed page.
// ---------------------------------------------------------------------------------------

/// The first bytes of a page file; the digit is the format's version.
const PAGE_MAGIC: &[u8; 8] = b"tackpg01";

/// Encodes `page`, parsed from a body whose hex sha256 is `body_sha256`.
///
/// The layout is the magic, the digest as 64 ASCII bytes, the number of files, and for each
/// file its fields in declaration order: a string is its length (`u32`, little endian) and its
/// UTF-8 bytes; an optional value is a byte 0 (absent) or 1 followed by the value; a flag is a
/// byte. No general-purpose format is needed for one fixed record, and none is in the
/// dependency tree: this reads without a parser, a field name or a copy beyond the strings
/// themselves (and the URLs' own parse).
pub(super) fn encode_page(body_sha256: &str, page: &ProjectPage) -> Vec<u8> {
    let text: usize = page
        .files
        .iter()
        .map(|file| {
            file.filename.len()
                + file.url.as_str().len()
                + 64 * 2
                + file.requires_python.as_deref().map_or(0, str::len)
                + file.yanked.as_deref().map_or(0, str::len)
                + file.upload_time.as_deref().map_or(0, str::len)
                + 48
        })
        .sum();
    let mut out = Vec::with_capacity(PAGE_MAGIC.len() + 64 + 4 + text);
    out.extend_from_slice(PAGE_MAGIC);
    out.extend_from_slice(body_sha256.as_bytes());
    put_len(&mut out, page.files.len());
    for file in &page.files {
        put_str(&mut out, &file.filename);
        put_str(&mut out, file.url.as_str());
        put_opt_str(&mut out, file.sha256.as_deref());
        put_opt_str(&mut out, file.requires_python.as_deref());
        put_opt_str(&mut out, file.yanked.as_deref());
        match file.size {
            Some(size) => {
                out.push(1);
                out.extend_from_slice(&size.to_le_bytes());
            }
            None => out.push(0),
        }
        put_opt_str(&mut out, file.upload_time.as_deref());
        out.push(u8::from(file.has_metadata_file));
        put_opt_str(&mut out, file.metadata_sha256.as_deref());
    }
    out
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    // Strings and lists of a page are far below 4 GiB; a longer one would be cut and the
    // entry then read as damaged.
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, value: &str) {
    put_len(out, value.len());
    out.extend_from_slice(value.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => {
            out.push(1);
            put_str(out, value);
        }
        None => out.push(0),
    }
}

/// Decodes a page file written by [`encode_page`] for a body whose hex sha256 is
/// `body_sha256`; `None` when it is damaged or was written for another body.
pub(super) fn decode_page(bytes: &[u8], body_sha256: &str) -> Option<ProjectPage> {
    read_page(&mut Reader { bytes, at: 0 }, body_sha256).ok()
}

fn read_page(reader: &mut Reader<'_>, body_sha256: &str) -> Result<ProjectPage, Damaged> {
    if reader.take(PAGE_MAGIC.len())? != PAGE_MAGIC
        || reader.take(body_sha256.len())? != body_sha256.as_bytes()
    {
        return Err(Damaged);
    }
    let count = reader.len()?;
    // Each file takes at least 14 bytes: never trust a count the bytes cannot hold.
    let mut files = Vec::with_capacity(count.min(reader.bytes.len() / 14));
    for _ in 0..count {
        let filename = reader.string()?;
        let url = Url::parse(reader.str()?).map_err(|_| Damaged)?;
        files.push(IndexFile {
            filename,
            url,
            sha256: reader.opt_string()?,
            requires_python: reader.opt_string()?,
            yanked: reader.opt_string()?,
            size: match reader.byte()? {
                0 => None,
                1 => Some(u64::from_le_bytes(
                    reader.take(8)?.try_into().map_err(|_| Damaged)?,
                )),
                _ => return Err(Damaged),
            },
            upload_time: reader.opt_string()?,
            has_metadata_file: match reader.byte()? {
                0 => false,
                1 => true,
                _ => return Err(Damaged),
            },
            metadata_sha256: reader.opt_string()?,
        });
    }
    if reader.at == reader.bytes.len() {
        Ok(ProjectPage { files })
    } else {
        Err(Damaged)
    }
}

/// A page file that is cut short, malformed, or written for another body.
struct Damaged;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], Damaged> {
        let end = self.at.checked_add(len).ok_or(Damaged)?;
        let slice = self.bytes.get(self.at..end).ok_or(Damaged)?;
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, Damaged> {
        Ok(self.take(1)?[0])
    }

    fn len(&mut self) -> Result<usize, Damaged> {
        let bytes: [u8; 4] = self.take(4)?.try_into().map_err(|_| Damaged)?;
        usize::try_from(u32::from_le_bytes(bytes)).map_err(|_| Damaged)
    }

    fn str(&mut self) -> Result<&'a str, Damaged> {
        let len = self.len()?;
        std::str::from_utf8(self.take(len)?).map_err(|_| Damaged)
    }

    fn string(&mut self) -> Result<String, Damaged> {
        self.str().map(str::to_string)
    }

    fn opt_string(&mut self) -> Result<Option<String>, Damaged> {
        match self.byte()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            _ => Err(Damaged),
        }
    }
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

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A cache entry decoded from JSON; a damaged entry counts as missing (it will be replaced).
pub(super) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, IndexError> {
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

pub(super) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), IndexError> {
    // Serializing plain data to memory cannot fail; an empty entry would be read as damaged.
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    cache::write_atomic(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use reqwest::header::HeaderValue;

    use super::*;
    use crate::index::client::test_support::*;
    use crate::index::client::IndexClient;
    use crate::normalize::PackageName;

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
        assert!(matches!(
            err.unshared(),
            IndexError::OfflineCacheMiss { .. }
        ));
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
        let files = PageFiles::for_url(&client, &url);
        cache::write_atomic(&files.head, b"{ not json").unwrap();
        assert!(client.project(&demo()).await.unwrap().is_some());
        assert_eq!(server.hits("/simple/demo/"), 1);

        // A page file cut short is refetched too, even when the body is the same.
        let bytes = fs_err::read(&files.page).unwrap();
        cache::write_atomic(&files.page, &bytes[..bytes.len() - 3]).unwrap();
        let again = super::super::test_support::client(&indexes, cache.path());
        assert!(again.project(&demo()).await.unwrap().is_some());
        assert_eq!(server.hits("/simple/demo/"), 2);
        assert_eq!(fs_err::read(&files.page).unwrap(), bytes);
    }

    /// The identity of a file's content on disk: a rewrite (always by rename) changes it.
    fn identity(path: &std::path::Path) -> (u64, std::time::SystemTime) {
        use std::os::unix::fs::MetadataExt as _;
        let metadata = fs_err::metadata(path).unwrap();
        (metadata.ino(), metadata.modified().unwrap())
    }

    #[tokio::test]
    async fn a_304_rewrites_neither_the_page_nor_an_unchanged_head() {
        let server = TestServer::start(|request| {
            if request.header("if-none-match") == Some("\"v1\"") {
                Reply::new(304, "")
            } else {
                json_reply(json_page("/files/x.whl", &"ab".repeat(32))).with("ETag", "\"v1\"")
            }
        })
        .await;
        let cache = tempfile::tempdir().unwrap();
        let indexes = [server.url("/simple/")];
        let first = client(&indexes, cache.path());
        let (_, page) = first.project(&demo()).await.unwrap().unwrap();
        let files = PageFiles::for_url(&first, &first.indexes()[0].project_url(&demo()));
        let (page_before, head_before) = (identity(&files.page), identity(&files.head));

        let second = client(&indexes, cache.path());
        let (_, again) = second.project(&demo()).await.unwrap().unwrap();
        assert_eq!(page, again);
        assert_eq!(second.stats().not_modified, 1);
        assert_eq!(identity(&files.page), page_before);
        assert_eq!(identity(&files.head), head_before);
    }

    #[tokio::test]
    async fn the_same_body_again_is_not_parsed_or_written_again_and_a_new_one_is() {
        let body = Arc::new(std::sync::Mutex::new(json_page(
            "/files/demo-1.0-py3-none-any.whl",
            &"ab".repeat(32),
        )));
        let server = {
            let body = Arc::clone(&body);
            TestServer::start(move |_| json_reply(body.lock().unwrap().clone())).await
        };
        let cache = tempfile::tempdir().unwrap();
        let indexes = [server.url("/simple/")];
        let first = client(&indexes, cache.path());
        let (_, page) = first.project(&demo()).await.unwrap().unwrap();
        let files = PageFiles::for_url(&first, &first.indexes()[0].project_url(&demo()));
        let (page_before, head_before) = (identity(&files.page), identity(&files.head));

        let (_, again) = client(&indexes, cache.path())
            .project(&demo())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(page, again);
        assert_eq!(identity(&files.page), page_before);
        assert_eq!(identity(&files.head), head_before);

        *body.lock().unwrap() = json_page("/files/demo-2.0-py3-none-any.whl", &"cd".repeat(32));
        let (_, changed) = client(&indexes, cache.path())
            .project(&demo())
            .await
            .unwrap()
            .unwrap();
        assert!(changed.files[0]
            .url
            .path()
            .ends_with("/demo-2.0-py3-none-any.whl"));
        assert_ne!(identity(&files.page), page_before);
        assert_eq!(server.hits("/simple/demo/"), 3);
    }

    #[test]
    fn page_files_round_trip_and_reject_damage() {
        let url = |name: &str| Url::parse(&format!("https://example.org/files/{name}")).unwrap();
        let page = ProjectPage {
            files: vec![
                IndexFile {
                    filename: "demo-1.0-py3-none-any.whl".to_string(),
                    url: url("demo-1.0-py3-none-any.whl"),
                    sha256: Some("ab".repeat(32)),
                    requires_python: Some(">=3.8".to_string()),
                    yanked: Some(String::new()),
                    size: Some(1234),
                    upload_time: Some("2024-01-01T00:00:00Z".to_string()),
                    has_metadata_file: true,
                    metadata_sha256: Some("cd".repeat(32)),
                },
                IndexFile {
                    filename: "demo-1.0.tar.gz".to_string(),
                    url: url("demo-1.0.tar.gz"),
                    sha256: None,
                    requires_python: None,
                    yanked: None,
                    size: None,
                    upload_time: None,
                    has_metadata_file: false,
                    metadata_sha256: None,
                },
            ],
        };
        let digest = body_digest(b"the body");
        let bytes = encode_page(&digest, &page);
        assert_eq!(decode_page(&bytes, &digest), Some(page.clone()));
        assert_eq!(decode_page(&bytes, &body_digest(b"another body")), None);
        for cut in [0, 8, 80, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(decode_page(&bytes[..cut], &digest), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_page(&longer, &digest), None);
        let empty = ProjectPage::default();
        assert_eq!(
            decode_page(&encode_page(&digest, &empty), &digest),
            Some(empty)
        );
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
        let head = |fresh_for| PageHead {
            fetched_at: 1000,
            fresh_for,
            etag: None,
            last_modified: None,
            body_sha256: None,
        };
        assert!(head(Some(10)).is_fresh(1009));
        assert!(!head(Some(10)).is_fresh(1010));
        assert!(!head(Some(0)).is_fresh(1000));
        assert!(!head(None).is_fresh(1000));
        assert!(head(Some(u64::MAX)).is_fresh(u64::MAX - 1));
    }
}
