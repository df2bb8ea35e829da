//! Whole files: in memory for metadata, or streamed to disk for installs.
//!
//! A body that did not arrive whole is never used. [`IndexClient::download_file`] streams a file
//! through sha256 into a temporary file beside its destination, which is deleted unless the
//! whole file arrived and matched its hash; it is retried like any other request (see
//! `transport`), a connection dropped mid-body included.
//!
//! [`IndexClient::download_verified`] may keep a small file in memory instead (a wheel that is
//! unpacked and then thrown away): no temporary file is written, flushed to disk and deleted
//! for it. A body that outgrows the memory allowance moves to the temporary file mid-stream, so
//! a server that sends more than it should costs disk, not memory.
//!
//! [`IndexClient::download_streamed`] hands each chunk to a reader as it arrives (a wheel
//! unpacked while it downloads), and says at the end whether the whole body arrived and matched
//! its hash; the reader must not keep anything before that.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use url::Url;

use super::credentials::{credentials_for, credentials_in, Credentials};
use super::transport::{
    is_retryable_error, is_retryable_status, network_error, retry_after, status_error,
};
use super::{Counters, IndexClient, IndexError};
use crate::cache::CacheError;
use crate::index::{IndexFile, IndexUrl};
use crate::redact::redact_url;

/// Where a verified download is.
#[derive(Debug)]
pub enum Downloaded {
    /// At the `destination` it was asked for.
    File,
    /// In memory: it was no larger than the allowance, and never written to disk.
    Memory(Vec<u8>),
    /// Handed to the reader chunk by chunk.
    Streamed,
}

/// Where a download goes: to `stream` when there is one; else memory when it is at most
/// `memory_limit` bytes (0: never), else a file, flushed to disk before it is renamed into
/// place unless `transient`.
#[derive(Debug, Clone)]
struct SinkOptions {
    memory_limit: usize,
    transient: bool,
    stream: Option<tokio::sync::mpsc::Sender<bytes::Bytes>>,
}

/// The body as it arrives: in memory up to a limit, then in a temporary file; or sent on.
enum Sink {
    Memory { bytes: Vec<u8>, limit: usize },
    File(tempfile::NamedTempFile),
    Stream(tokio::sync::mpsc::Sender<bytes::Bytes>),
}

impl Sink {
    fn options(memory_limit: usize, transient: bool) -> SinkOptions {
        SinkOptions {
            memory_limit,
            transient,
            stream: None,
        }
    }

    fn write(&mut self, chunk: &[u8], parent: &std::path::Path) -> std::io::Result<()> {
        use std::io::Write as _;
        if let Self::Memory { bytes, limit } = self {
            if bytes.len() + chunk.len() <= *limit {
                bytes.extend_from_slice(chunk);
                return Ok(());
            }
            let mut file = temporary_file(parent)?;
            file.write_all(bytes)?;
            *self = Self::File(file);
        }
        match self {
            Self::File(file) => file.write_all(chunk),
            Self::Memory { .. } | Self::Stream(_) => Ok(()),
        }
    }
}

/// Deleted when dropped: a body cut short or with the wrong hash never appears at its
/// destination.
fn temporary_file(parent: &std::path::Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(parent)
}

impl IndexClient {
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
        self.download_to(
            url,
            Some(expected_sha256),
            destination,
            Sink::options(0, false),
            progress,
        )
        .await
        .map(|(size, ..)| size)
    }

    /// [`download_file`](Self::download_file), but a file of at most `memory_limit` bytes is
    /// returned in memory (checked against `expected_sha256` all the same) rather than written
    /// to `destination`; a larger one goes to `destination`, flushed to disk first unless
    /// `transient` (a file read once and deleted, which a crash makes worthless anyway).
    pub async fn download_verified(
        &self,
        url: &Url,
        expected_sha256: &str,
        destination: &std::path::Path,
        memory_limit: usize,
        transient: bool,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Downloaded, IndexError> {
        self.download_to(
            url,
            Some(expected_sha256),
            destination,
            Sink::options(memory_limit, transient),
            progress,
        )
        .await
        .map(|(.., downloaded)| downloaded)
    }

    /// Streams `url` to `reader`, chunk by chunk as it arrives, and through sha256; `Ok` once
    /// the whole body arrived and matched `expected_sha256`. Until then the reader must keep
    /// nothing of what it was sent. A body cut short after its first chunk is not retried (the
    /// reader has seen part of it): the caller downloads the file again another way. Fails with
    /// [`IndexError::ReaderGone`] when the reader stops taking chunks.
    pub async fn download_streamed(
        &self,
        url: &Url,
        expected_sha256: &str,
        destination: &std::path::Path,
        reader: tokio::sync::mpsc::Sender<bytes::Bytes>,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), IndexError> {
        let sink = SinkOptions {
            memory_limit: 0,
            transient: true,
            stream: Some(reader),
        };
        self.download_to(url, Some(expected_sha256), destination, sink, progress)
            .await
            .map(drop)
    }

    /// Download an archive whose hash is not known yet (a URL dependency at lock time) into
    /// `destination`; its size and sha256. A `.netrc` entry for the host gives credentials
    /// when neither the URL nor a configured index does.
    pub async fn download_archive(
        &self,
        url: &Url,
        destination: &std::path::Path,
    ) -> Result<(u64, String), IndexError> {
        self.download_to(url, None, destination, Sink::options(0, false), &|_| {})
            .await
            .map(|(size, sha256, _)| (size, sha256))
    }

    async fn download_to(
        &self,
        url: &Url,
        expected_sha256: Option<&str>,
        destination: &std::path::Path,
        sink: SinkOptions,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(u64, String, Downloaded), IndexError> {
        let SinkOptions {
            memory_limit,
            transient,
            stream,
        } = sink;
        if self.inner.offline {
            return Err(IndexError::OfflineCacheMiss {
                what: format!("`{}`", redact_url(url)),
            });
        }
        let shown = redact_url(url);
        let credentials = credentials_in(url)
            .or_else(|| {
                self.inner
                    .indexes
                    .iter()
                    .find_map(|index| credentials_for(url, index))
            })
            .or_else(|| {
                let (username, password) = crate::index::netrc::lookup(url.host_str()?)?;
                Some(Credentials {
                    username,
                    password: Some(password),
                })
            });
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
        // Whether a reader was sent part of the body: it cannot take the body again.
        let mut streamed_any = false;
        loop {
            attempts += 1;
            let permit = self.inner.permits.acquire().await.ok();
            Counters::bump(&self.inner.counters.requests, 1);
            let mut request = self.inner.http.get(target.clone());
            if let Some(credentials) = &credentials {
                request = request.basic_auth(&credentials.username, credentials.password.as_ref());
            }
            let failure = match self.send(&target, request).await {
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
                    let mut sink = if let Some(stream) = &stream {
                        Sink::Stream(stream.clone())
                    } else if memory_limit > 0 {
                        let expected = response
                            .content_length()
                            .and_then(|length| usize::try_from(length).ok())
                            .unwrap_or(0);
                        Sink::Memory {
                            bytes: Vec::with_capacity(expected.min(memory_limit)),
                            limit: memory_limit,
                        }
                    } else {
                        Sink::File(temporary_file(parent).map_err(cache_error)?)
                    };
                    let mut hasher = Sha256::new();
                    let mut total = 0u64;
                    let streamed = loop {
                        match response.chunk().await {
                            Ok(Some(chunk)) => {
                                hasher.update(&chunk);
                                let len = chunk.len() as u64;
                                if let Sink::Stream(reader) = &sink {
                                    streamed_any = true;
                                    if reader.send(chunk).await.is_err() {
                                        return Err(IndexError::ReaderGone { url: shown });
                                    }
                                } else {
                                    sink.write(&chunk, parent).map_err(cache_error)?;
                                }
                                total += len;
                                progress(len);
                            }
                            Ok(None) => break Ok(()),
                            Err(err) => break Err(err),
                        }
                    };
                    Counters::bump(&self.inner.counters.bytes_downloaded, total);
                    match streamed {
                        Ok(()) => {
                            let actual = hex::encode(hasher.finalize());
                            if let Some(expected) = expected_sha256 {
                                if !actual.eq_ignore_ascii_case(expected.trim()) {
                                    return Err(IndexError::HashMismatch {
                                        url: shown,
                                        expected: expected.trim().to_ascii_lowercase(),
                                        actual,
                                    });
                                }
                            }
                            let downloaded = match sink {
                                Sink::Memory { bytes, .. } => Downloaded::Memory(bytes),
                                Sink::Stream(_) => Downloaded::Streamed,
                                Sink::File(file) => {
                                    if !transient {
                                        file.as_file().sync_all().map_err(cache_error)?;
                                    }
                                    file.persist(destination)
                                        .map_err(|error| cache_error(error.error))?;
                                    Downloaded::File
                                }
                            };
                            tracing::debug!("downloaded {shown} ({total} bytes)");
                            return Ok((total, actual, downloaded));
                        }
                        Err(err) => err,
                    }
                }
                Err(err) => err,
            };
            drop(permit);
            let failure = failure.without_url();
            tracing::debug!("GET {shown} failed: {failure}");
            if is_retryable_error(&failure) && attempts <= self.inner.retries && !streamed_any {
                self.pause_before_retry(attempts, None).await;
                continue;
            }
            return Err(network_error(shown, attempts, failure, self.inner.timeout));
        }
    }

    /// The whole file, checked against the page's sha256 when it gives one.
    pub(super) async fn download(
        &self,
        index: &IndexUrl,
        file: &IndexFile,
    ) -> Result<Vec<u8>, IndexError> {
        let response = self.get(&file.url, HeaderMap::new(), index).await?;
        if !response.status.is_success() {
            return Err(status_error(&file.url, &response, response.status));
        }
        if let Some(expected) = &file.sha256 {
            verify_sha256(&file.url, &response.body, expected)?;
        }
        Ok(response.body)
    }
}

pub(super) fn verify_sha256(url: &Url, body: &[u8], expected: &str) -> Result<(), IndexError> {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::index::client::test_support::*;

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

        // Small enough: in memory, nothing on disk; larger than the allowance: to the file.
        let sha256 = sha256_hex(&wheel);
        let downloaded = client
            .download_verified(&url, &sha256, &destination, wheel.len(), false, &|_| {})
            .await
            .unwrap();
        assert!(matches!(&downloaded, Downloaded::Memory(bytes) if *bytes == wheel));
        assert_eq!(fs_err::read_dir(&dir).unwrap().count(), 0);
        let downloaded = client
            .download_verified(&url, &sha256, &destination, 10, false, &|_| {})
            .await
            .unwrap();
        assert!(matches!(downloaded, Downloaded::File));
        assert_eq!(fs_err::read(&destination).unwrap(), wheel);
        // The wrong hash in memory is refused as well.
        let err = client
            .download_verified(
                &url,
                &"00".repeat(32),
                &dir.join("x.whl"),
                wheel.len(),
                false,
                &|_| {},
            )
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::HashMismatch { .. }), "{err:?}");
    }
}
