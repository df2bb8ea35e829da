//! The on-disk cache: project pages with their validators, and JSON entries.
//!
//! A page is stored with its validators (`ETag`, `Last-Modified`, `Cache-Control: max-age`):
//! while fresh it is used without a request, afterwards it is revalidated with
//! `If-None-Match` / `If-Modified-Since` and reused on `304 Not Modified` (the request itself is
//! made by `pages`). With `offline`, cached pages are used whatever their age. Answers of "not
//! here" (404) are cached the same way, so that an offline run can tell "absent" from "never
//! asked".
//!
//! Entries are JSON files in a bucket of the cache, named by a hash of the URL they answer for
//! (credentials removed); core metadata is stored the same way (see `core_metadata`). A damaged
//! entry counts as missing and is replaced.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::{self, HeaderMap};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use url::Url;

use super::pages::PageLookup;
use super::transport::header_str;
use super::{Counters, IndexClient, IndexError};
use crate::cache::{self, Bucket};
use crate::index::ProjectPage;

/// A project page as stored in the cache, with what is needed to revalidate it.
#[derive(Serialize, Deserialize)]
pub(super) struct CachedPage {
    /// Seconds since the Unix epoch when the page was fetched or last revalidated.
    fetched_at: u64,
    /// How many seconds after `fetched_at` the page stays fresh; `None` means "revalidate".
    fresh_for: Option<u64>,
    pub(super) etag: Option<String>,
    pub(super) last_modified: Option<String>,
    /// `None` when the index answered that it does not have the project.
    page: Option<ProjectPage>,
}

impl CachedPage {
    pub(super) fn is_fresh(&self, now: u64) -> bool {
        self.fresh_for
            .is_some_and(|fresh_for| now < self.fetched_at.saturating_add(fresh_for))
    }

    /// A new entry for a page (or an absence) just received with `headers`.
    pub(super) fn received(page: Option<ProjectPage>, headers: &HeaderMap) -> Self {
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

    pub(super) fn into_lookup(self) -> PageLookup {
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
}

impl IndexClient {
    pub(super) fn entry_path(&self, bucket: Bucket, url: &Url) -> PathBuf {
        self.inner
            .cache
            .bucket(bucket)
            .join(format!("{}.json", cache::key_for_url(url)))
    }

    pub(super) fn hit(&self) {
        Counters::bump(&self.inner.counters.cache_hits, 1);
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
pub(super) fn read_json<T: DeserializeOwned>(
    path: &std::path::Path,
) -> Result<Option<T>, IndexError> {
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

pub(super) fn write_json<T: Serialize>(
    path: &std::path::Path,
    value: &T,
) -> Result<(), IndexError> {
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
}
