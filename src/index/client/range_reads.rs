//! A wheel's `METADATA` read with HTTP range requests.
//!
//! A suffix range fetches the zip's tail, which also tells the file size through
//! `Content-Range`; then the central directory if it is not in the tail, then the local header
//! and the compressed `METADATA` (see [`crate::index::zip_range`]). A wheel's metadata thus
//! costs two or three small reads instead of a whole download. A server that ignores `Range`
//! answers 200 with the whole file, which is used as is; when it refuses ranges (416, 501, no
//! `Content-Range`) the whole file is downloaded.

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;

use super::download::verify_sha256;
use super::transport::{header_str, header_value, status_error};
use super::{IndexClient, IndexError};
use crate::filename::WheelFilename;
use crate::index::zip_range::{self, ZipEntry, ZipRangeError};
use crate::index::{IndexFile, IndexUrl};
use crate::redact::redact_url;

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

impl IndexClient {
    /// Reads `METADATA` out of the remote wheel with range requests, falling back to the whole
    /// file when the server does not serve ranges.
    pub(super) async fn wheel_metadata_by_ranges(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::client::test_support::*;

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
    fn slices_are_taken_only_when_covered() {
        let buffer = [1_u8, 2, 3, 4];
        assert_eq!(slice_of(&buffer, 10, 11, 2), Some(&[2_u8, 3][..]));
        assert_eq!(slice_of(&buffer, 10, 9, 2), None);
        assert_eq!(slice_of(&buffer, 10, 13, 2), None);
        assert_eq!(slice_of(&buffer, 10, 14, 0), Some(&[][..]));
    }
}
