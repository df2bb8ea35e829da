//! Project pages (PEP 503, PEP 691).
//!
//! Indexes are asked in order for `<index>/<name>/`; the first that has the project wins, a 404
//! means "not here". A package pinned to an index is asked of that index only. The request
//! prefers PEP 691 JSON and accepts PEP 503 HTML; the response's `Content-Type` picks the
//! parser. Each page is fetched once per client (concurrent callers share one request) and goes
//! through the disk cache (see `cache`), which spares the request while a page is fresh and
//! revalidates it afterwards.
//!
//! A caller that knows which pages it will need can ask for them all at once
//! ([`IndexClient::prefetch_pages`]); the lock workflow does so with the packages of the
//! previous lock, which the cache also remembers per project
//! ([`IndexClient::remember_pages`]) for a lock whose file was deleted.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::cache::{body_digest, read_json, unix_now, write_json, PageFiles, PageHead};
use super::transport::{header_str, header_value, status_error, Fetched};
use super::{Counters, IndexClient, IndexError};
use crate::cache::Bucket;
use crate::index::simple::{parse_html, parse_json, SimpleError};
use crate::index::{IndexUrl, ProjectPage};
use crate::normalize::PackageName;
use crate::redact::redact_url;

/// PEP 691 content negotiation: JSON preferred, HTML accepted.
const SIMPLE_ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// A project page found on an index.
type FoundPage = (IndexUrl, Arc<ProjectPage>);
/// A page's lookup, done once per client: its result, an error included, is what every caller
/// gets (a failed prefetch is not asked again by the resolver a moment later).
pub(super) type PageCell = Arc<OnceCell<Result<Option<FoundPage>, Arc<IndexError>>>>;

/// The packages of a project's last lock: see [`IndexClient::remember_pages`].
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct RememberedPages {
    pages: Vec<PackageName>,
}

/// What one index said about one project.
pub(super) enum PageLookup {
    Found(Arc<ProjectPage>),
    Absent,
    /// Offline, and this index was never asked.
    NotCached,
}

impl IndexClient {
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
        cell.get_or_init(|| async { self.find_project(name).await.map_err(Arc::new) })
            .await
            .clone()
            .map_err(IndexError::Shared)
    }

    /// The page of `name` on the first supplemental source after `served_by` (the index that
    /// [`IndexClient::project`] found it on) that has it: where the resolver looks when that
    /// page has no version it can use. `None` for a pinned package, and when no later
    /// supplemental source has it. Not memoized: the resolver asks once per package.
    pub async fn supplemental_project(
        &self,
        name: &PackageName,
        served_by: &IndexUrl,
    ) -> Result<Option<FoundPage>, IndexError> {
        if self.inner.pins.contains_key(name) {
            return Ok(None);
        }
        let supplemental = &self.inner.supplemental;
        let after = supplemental
            .iter()
            .position(|index| index == served_by)
            .map_or(0, |position| position + 1);
        self.first_page(&supplemental[after..], name).await
    }

    /// Starts looking up the pages of `names` on `runtime`, all at once, and returns without
    /// waiting. A later [`IndexClient::project`] of one of them joins its lookup; a failure is
    /// not reported here but kept for that later call, which returns it without asking again.
    ///
    /// A resolution discovers its pages level by level, one round trip per level; when the
    /// caller already knows most of the names it will need (a previous lock names them), asking
    /// for all of them first turns those round trips into one.
    pub fn prefetch_pages(
        &self,
        names: impl IntoIterator<Item = PackageName>,
        runtime: &tokio::runtime::Handle,
    ) {
        for name in names {
            let client = self.clone();
            runtime.spawn(async move {
                if let Err(error) = client.project(&name).await {
                    tracing::debug!("prefetching the page of `{name}`: {error}");
                }
            });
        }
    }

    /// The names [`IndexClient::remember_pages`] last stored for the project in `project_dir`;
    /// empty when there are none (or they cannot be read).
    pub fn remembered_pages(&self, project_dir: &Path) -> Vec<PackageName> {
        let path = self.remembered_path(project_dir);
        match read_json::<RememberedPages>(&path) {
            Ok(Some(remembered)) => remembered.pages,
            Ok(None) => Vec::new(),
            Err(error) => {
                tracing::debug!("ignoring `{}`: {error}", path.display());
                Vec::new()
            }
        }
    }

    /// Stores, in the cache, the names of the packages a lock of the project in `project_dir`
    /// holds, so that the next lock can ask for their pages all at once even without the lock
    /// file (`tack lock` after it was deleted, or in a fresh checkout that ignores it). Only
    /// names are kept: a hint for prefetching, never a preference.
    pub fn remember_pages(
        &self,
        project_dir: &Path,
        names: Vec<PackageName>,
    ) -> Result<(), IndexError> {
        let path = self.remembered_path(project_dir);
        let remembered = RememberedPages { pages: names };
        if read_json::<RememberedPages>(&path)?.as_ref() == Some(&remembered) {
            return Ok(());
        }
        write_json(&path, &remembered)
    }

    /// `<simple bucket>/projects/<hash of the project's absolute path>.json`.
    fn remembered_path(&self, project_dir: &Path) -> PathBuf {
        let absolute = fs_err::canonicalize(project_dir).unwrap_or_else(|_| project_dir.into());
        let digest = Sha256::digest(absolute.as_os_str().as_encoded_bytes());
        self.inner
            .cache
            .bucket(Bucket::Simple)
            .join("projects")
            .join(format!("{}.json", hex::encode(&digest[..16])))
    }

    async fn find_project(&self, name: &PackageName) -> Result<Option<FoundPage>, IndexError> {
        let pinned = self.inner.pins.get(name).map(std::slice::from_ref);
        self.first_page(pinned.unwrap_or(&self.inner.indexes), name)
            .await
    }

    /// The page of `name` on the first of `indexes` that has it, asked in order.
    async fn first_page(
        &self,
        indexes: &[IndexUrl],
        name: &PackageName,
    ) -> Result<Option<FoundPage>, IndexError> {
        for index in indexes {
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
        let files = PageFiles::for_url(self, &url);
        let head = files.read_head()?;
        if self.inner.offline {
            let cached = match &head {
                Some(head) => files.read_page(head)?,
                None => None,
            };
            return Ok(match cached {
                Some(lookup) => {
                    self.hit();
                    lookup
                }
                None => PageLookup::NotCached,
            });
        }
        if let Some(head) = head.as_ref().filter(|head| head.is_fresh(unix_now())) {
            if let Some(lookup) = files.read_page(head)? {
                tracing::debug!("fresh in cache: {}", redact_url(&url));
                self.hit();
                return Ok(lookup);
            }
        }

        let mut revalidate = head;
        loop {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(SIMPLE_ACCEPT));
            if let Some(head) = &revalidate {
                if let Some(value) = head.etag.as_deref().and_then(header_value) {
                    headers.insert(header::IF_NONE_MATCH, value);
                }
                if let Some(value) = head.last_modified.as_deref().and_then(header_value) {
                    headers.insert(header::IF_MODIFIED_SINCE, value);
                }
            }
            let response = self.get(&url, headers, index).await?;
            match (response.status, revalidate.take()) {
                (StatusCode::NOT_MODIFIED, Some(before)) => {
                    // The page file stays as it is: only the head learns the new lifetime.
                    let Some(lookup) = files.read_page(&before)? else {
                        // Revalidated, but the page is gone or damaged: ask again, whole.
                        continue;
                    };
                    Counters::bump(&self.inner.counters.not_modified, 1);
                    let mut after = before.clone();
                    after.update_from(&response.headers);
                    if after.worth_writing_over(&before) {
                        files.write_head(&after)?;
                    }
                    return Ok(lookup);
                }
                (StatusCode::NOT_FOUND | StatusCode::GONE, before) => {
                    let after = PageHead::received(None, &response.headers);
                    if before.is_none_or(|before| after.worth_writing_over(&before)) {
                        files.write_head(&after)?;
                    }
                    return Ok(PageLookup::Absent);
                }
                (status, before) if status.is_success() => {
                    let digest = body_digest(&response.body);
                    let after = PageHead::received(Some(digest.clone()), &response.headers);
                    // The same body as last time: its parse is in the cache already.
                    if let Some(before) = before.filter(|before| before.is_body(&digest)) {
                        if let Some(lookup) = files.read_page(&before)? {
                            tracing::debug!("unchanged: {}", redact_url(&url));
                            if after.worth_writing_over(&before) {
                                files.write_head(&after)?;
                            }
                            return Ok(lookup);
                        }
                    }
                    let page = parse_page(&response).map_err(IndexError::MalformedPage)?;
                    drop(response);
                    files.write_page(&after, &page)?;
                    return Ok(PageLookup::Found(Arc::new(page)));
                }
                (status, _) => return Err(status_error(&url, &response, status)),
            }
        }
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

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::index::client::test_support::*;

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
    async fn prefetched_pages_are_shared_and_remembered_names_come_back() {
        let server =
            TestServer::start(|_| json_reply(json_page("/files/x.whl", &"ab".repeat(32)))).await;
        let cache = tempfile::tempdir().unwrap();
        let client = client(&[server.url("/simple/")], cache.path());
        let other = PackageName::from_str("other").unwrap();
        client.prefetch_pages([demo(), other.clone()], &tokio::runtime::Handle::current());
        for _ in 0..200 {
            if server.hits("/simple/other/") == 1 && server.hits("/simple/demo/") == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        client.project(&demo()).await.unwrap().unwrap();
        client.project(&other).await.unwrap().unwrap();
        assert_eq!(server.hits("/simple/demo/"), 1);
        assert_eq!(server.hits("/simple/other/"), 1);

        let project = tempfile::tempdir().unwrap();
        assert!(client.remembered_pages(project.path()).is_empty());
        client
            .remember_pages(project.path(), vec![demo(), other.clone()])
            .unwrap();
        assert_eq!(client.remembered_pages(project.path()), [demo(), other]);
        assert!(client
            .remembered_pages(tempfile::tempdir().unwrap().path())
            .is_empty());
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
}
