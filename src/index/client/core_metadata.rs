//! Core metadata (PEP 658, PEP 714, PEP 643).
//!
//! Metadata of a published file never changes, so once read it is cached for good, keyed by the
//! file's URL. To read a wheel's metadata the client tries, cheapest first:
//!
//! 1. `<file url>.metadata` when the page advertises it (PEP 658/714), checked against its hash;
//! 2. HTTP range reads of the wheel (see `range_reads`);
//! 3. the whole file, when the server refuses ranges.
//!
//! Source distributions are downloaded (hash-checked) and their `PKG-INFO` is used only when its
//! dependencies are static (PEP 643); otherwise the answer is `None` and the resolver skips them.

use std::str::FromStr;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use url::Url;

use super::cache::{read_json, write_json};
use super::download::verify_sha256;
use super::transport::status_error;
use super::{IndexClient, IndexError};
use crate::cache::Bucket;
use crate::filename::WheelFilename;
use crate::index::metadata::{
    egg_info_metadata, is_static_sdist_metadata, parse_metadata, read_sdist_pkg_info,
};
use crate::index::{CoreMetadata, IndexFile, IndexUrl};
use crate::redact::redact_url;

/// What is cached for a source distribution: its metadata when static (or read from its
/// setuptools `egg-info`), else `None`.
#[derive(Serialize, Deserialize)]
struct CachedSdistMetadata {
    static_metadata: Option<CoreMetadata>,
    /// Entries written before egg-info was read say nothing about it: they are redone.
    #[serde(default)]
    egg_info_read: bool,
}

impl IndexClient {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::client::test_support::*;

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

    #[test]
    fn metadata_file_urls_append_to_the_path() {
        let url = Url::parse("https://example.org/f/a-1.0-py3-none-any.whl?x=1#frag").unwrap();
        assert_eq!(
            metadata_file_url(&url).as_str(),
            "https://example.org/f/a-1.0-py3-none-any.whl.metadata?x=1"
        );
    }
}
