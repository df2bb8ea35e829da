//! What the unit tests of the client share: a tiny HTTP server and fixtures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use super::{ClientOptions, IndexClient};
use crate::cache::Cache;
use crate::index::{IndexFile, IndexUrl};
use crate::normalize::PackageName;

// ---------------------------------------------------------------------------------------
// A tiny HTTP/1.1 server on 127.0.0.1: one request per connection, answered by a closure.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) path: String,
    pub(super) headers: Vec<(String, String)>,
}

impl Seen {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

pub(super) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// How long the server waits before answering.
    delay: Duration,
}

impl Reply {
    pub(super) fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub(super) fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub(super) fn with(mut self, name: &str, value: &str) -> Self {
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

pub(super) struct TestServer {
    base: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub(super) async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
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

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(super) fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// The most requests the server was answering at one time.
    pub(super) fn peak_in_flight(&self) -> u64 {
        self.shared.peak_in_flight.load(Ordering::SeqCst)
    }

    pub(super) fn hits(&self, path: &str) -> usize {
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
pub(super) fn serve_file(request: &Seen, file: &[u8], ranges: bool) -> Reply {
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

pub(super) const WHEEL: &str = "demo-1.0-py3-none-any.whl";

pub(super) fn metadata_text(name: &str, version: &str) -> String {
    format!(
        "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: other>=2\nRequires-Python: >=3.8\n\nA description.\n"
    )
}

/// A wheel whose bulk is an incompressible module stored before `METADATA`, so that a range
/// read has much to save.
pub(super) fn build_wheel(metadata: &str) -> Vec<u8> {
    build_wheel_with(metadata, false, 0)
}

/// A wheel with `METADATA` first or last, and `extra_entries` more small files (each adds
/// about 130 bytes to the central directory).
pub(super) fn build_wheel_with(
    metadata: &str,
    metadata_first: bool,
    extra_entries: usize,
) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
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
        let name = format!("demo/a_rather_long_directory_name/with_a_long_module_name_{i:06}.py");
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

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(super) fn json_page(file_url: &str, sha256: &str) -> String {
    format!(
        r#"{{"meta":{{"api-version":"1.1"}},"name":"demo","versions":["1.0"],"files":[{{"filename":"{WHEEL}","url":"{file_url}","hashes":{{"sha256":"{sha256}"}}}}]}}"#
    )
}

pub(super) fn json_reply(body: String) -> Reply {
    Reply::new(200, body).with("Content-Type", "application/vnd.pypi.simple.v1+json")
}

pub(super) fn options(indexes: &[String], cache_dir: &Path) -> ClientOptions {
    ClientOptions {
        indexes: indexes
            .iter()
            .map(|raw| IndexUrl::parse(raw).unwrap())
            .collect(),
        pins: BTreeMap::new(),
        supplemental: Vec::new(),
        cache: Cache::new(cache_dir),
        offline: false,
        concurrency: 8,
        retries: 2,
        timeout: Duration::from_secs(10),
    }
}

pub(super) fn client(indexes: &[String], cache_dir: &Path) -> IndexClient {
    IndexClient::new(options(indexes, cache_dir)).unwrap()
}

pub(super) fn demo() -> PackageName {
    PackageName::from_str("Demo").unwrap()
}

pub(super) fn index_file(url: &str, sha256: Option<String>) -> IndexFile {
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

pub(super) async fn wheel_server(wheel: Vec<u8>, ranges: bool) -> TestServer {
    TestServer::start(move |request| serve_file(request, &wheel, ranges)).await
}

/// An error's message and those of its causes, one per line.
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push('\n');
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
