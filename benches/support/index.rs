//! A generated index of 300 packages with 20 versions each, served from memory over HTTP/1.1
//! on 127.0.0.1.
//!
//! # The packages
//!
//! `pkg-000` .. `pkg-299`, each with versions `1.0.0` .. `4.4.0` (majors 1 to 4, minors 0 to
//! 4). Every version has a `py3-none-any` wheel, with a PEP 658 `.metadata` file, and an sdist
//! (listed, never fetched). Dependencies:
//!
//! - a tree: `pkg-i` requires `pkg-(2i+1)>=1.1` and `pkg-(2i+2)>=1.1`, so `pkg-000` reaches all
//!   300 packages;
//! - markers that never hold under `requires-python >= 3.9` (`python_version < "3.8"`), and an
//!   extra nobody asks for: parsed, then dropped;
//! - conflicts: for `j ≡ 5 (mod 10)`, every version of `pkg-j` requires `pkg-(j+20)>=3`, and
//!   the 4.x versions of `pkg-j` require `pkg-(j+40)<3`. As `pkg-(j+20)` in turn requires
//!   `pkg-(j+40)>=3`, the newest versions of `pkg-j` cannot be used: the resolver has to
//!   backtrack through them (and through the versions of `pkg-(j+20)`) to `pkg-j` 3.4.0. That
//!   happens for the 26 packages `pkg-005`, `pkg-015`, .., `pkg-255`.
//!
//! The only answer: all 300 packages, those 26 at 3.4.0 and the rest at 4.4.0 ([`expected`]).
//!
//! # The server
//!
//! One thread accepts connections, one thread per connection answers requests in a keep-alive
//! loop. Routes, under a first path segment that chooses the caching behaviour ([`Caching`]):
//!
//! - `/<caching>/simple/<name>/`: the PEP 691 JSON page (API 1.1), with relative file URLs and
//!   an `ETag`; `If-None-Match` with that tag gets `304 Not Modified`;
//! - `/<caching>/files/<wheel>.metadata`: the wheel's core metadata;
//! - anything else: 404 (counted, so the benchmark can check that nothing unexpected was asked).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::json;

use super::sha256_hex;

/// Packages on the index.
pub const PACKAGES: usize = 300;
/// Versions of each package.
pub const VERSIONS: usize = 20;
/// The root requirement that pulls in every package.
pub const ROOT: &str = "pkg-000";

/// How project pages may be cached by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// `Cache-Control: max-age=600`: a warm cache needs no request at all.
    Fresh,
    /// `Cache-Control: max-age=0`: a warm cache revalidates every page (`304 Not Modified`).
    Revalidate,
}

impl Caching {
    fn segment(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Revalidate => "revalidate",
        }
    }
}

pub fn package_name(index: usize) -> String {
    format!("pkg-{index:03}")
}

fn versions() -> impl Iterator<Item = (usize, String)> {
    (1..=4).flat_map(|major| (0..5).map(move |minor| (major, format!("{major}.{minor}.0"))))
}

/// Whether `pkg-<index>` has to settle below its newest major.
fn backtracks(index: usize) -> bool {
    index % 10 == 5 && index + 40 < PACKAGES
}

/// The version the resolver must choose for `pkg-<index>`.
pub fn expected(index: usize) -> &'static str {
    if backtracks(index) {
        "3.4.0"
    } else {
        "4.4.0"
    }
}

/// `Requires-Dist` of `pkg-<index>` at a version of `major`.
fn requirements(index: usize, major: usize) -> Vec<String> {
    let mut requirements = Vec::new();
    for child in [2 * index + 1, 2 * index + 2] {
        if child < PACKAGES {
            requirements.push(format!("{}>=1.1", package_name(child)));
        }
    }
    if index % 10 == 5 {
        if index + 20 < PACKAGES {
            requirements.push(format!("{}>=3", package_name(index + 20)));
        }
        if major == 4 && index + 40 < PACKAGES {
            requirements.push(format!("{}<3", package_name(index + 40)));
        }
    }
    if index + 3 < PACKAGES {
        requirements.push(format!(
            "{}>=2.0; python_version < \"3.8\"",
            package_name(index + 3)
        ));
    }
    if index.is_multiple_of(4) && index + 1 < PACKAGES {
        requirements.push(format!(
            "{}[speedups]>=1; extra == \"fast\"",
            package_name(index + 1)
        ));
    }
    requirements
}

fn metadata(index: usize, major: usize, version: &str) -> String {
    let mut text = format!(
        "Metadata-Version: 2.1\nName: {}\nVersion: {version}\nSummary: Generated package number {index}\nRequires-Python: >=3.8\n",
        package_name(index)
    );
    for requirement in requirements(index, major) {
        let _ = writeln!(text, "Requires-Dist: {requirement}");
    }
    if index.is_multiple_of(4) {
        text.push_str("Provides-Extra: fast\n");
    }
    text.push_str("Description-Content-Type: text/markdown\n\nA generated package.\n");
    text
}

struct Page {
    body: Vec<u8>,
    etag: String,
}

/// Every page and metadata file of the index, in memory.
struct Content {
    /// By normalized project name.
    pages: HashMap<String, Page>,
    /// By `<wheel file name>.metadata`.
    metadata: HashMap<String, Vec<u8>>,
}

fn generate() -> Content {
    let mut pages = HashMap::new();
    let mut metadata_files = HashMap::new();
    for index in 0..PACKAGES {
        let name = package_name(index);
        let stem = name.replace('-', "_");
        let mut files = Vec::new();
        for (rank, (major, version)) in versions().enumerate() {
            let wheel = format!("{stem}-{version}-py3-none-any.whl");
            let metadata = metadata(index, major, &version).into_bytes();
            let upload_time = format!("2024-{:02}-{:02}T12:00:00Z", 1 + rank / 2, 1 + rank);
            files.push(json!({
                "filename": wheel,
                "url": format!("../../files/{wheel}"),
                "hashes": { "sha256": sha256_hex(wheel.as_bytes()) },
                "requires-python": ">=3.8",
                "size": 20_000 + rank,
                "upload-time": upload_time,
                "core-metadata": { "sha256": sha256_hex(&metadata) },
                "dist-info-metadata": { "sha256": sha256_hex(&metadata) },
                "yanked": false,
            }));
            let sdist = format!("{stem}-{version}.tar.gz");
            files.push(json!({
                "filename": sdist,
                "url": format!("../../files/{sdist}"),
                "hashes": { "sha256": sha256_hex(sdist.as_bytes()) },
                "requires-python": ">=3.8",
                "size": 15_000 + rank,
                "upload-time": upload_time,
                "yanked": false,
            }));
            metadata_files.insert(format!("{wheel}.metadata"), metadata);
        }
        assert_eq!(
            files.len(),
            2 * VERSIONS,
            "a wheel and an sdist per version"
        );
        let body = serde_json::to_vec(&json!({
            "meta": { "api-version": "1.1" },
            "name": name,
            "versions": versions().map(|(_, version)| version).collect::<Vec<_>>(),
            "files": files,
        }))
        .expect("a JSON value serializes");
        let etag = format!("\"{}\"", &sha256_hex(&body)[..16]);
        pages.insert(name, Page { body, etag });
    }
    Content {
        pages,
        metadata: metadata_files,
    }
}

/// What the server answered so far.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub requests: AtomicU64,
    pub not_modified: AtomicU64,
    pub not_found: AtomicU64,
}

/// The running index. The server threads live as long as the process: a benchmark binary
/// starts one and exits when done.
pub struct IndexServer {
    addr: SocketAddr,
    stats: Arc<ServerStats>,
}

impl IndexServer {
    /// Generates the index and starts serving it on a random port of 127.0.0.1.
    pub fn start() -> Self {
        let content = Arc::new(generate());
        let stats = Arc::new(ServerStats::default());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the listener's address");
        let accept_stats = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("bench-index-accept".to_string())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let content = Arc::clone(&content);
                    let stats = Arc::clone(&accept_stats);
                    let _ = std::thread::Builder::new()
                        .name("bench-index-conn".to_string())
                        .spawn(move || {
                            // A connection the client dropped ends the thread; nothing to report.
                            let _ = serve(stream, &content, &stats);
                        });
                }
            })
            .expect("spawn the accept thread");
        Self { addr, stats }
    }

    /// The index URL to give the client.
    pub fn index_url(&self, caching: Caching) -> String {
        format!("http://{}/{}/simple/", self.addr, caching.segment())
    }

    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }
}

fn serve(stream: TcpStream, content: &Content, stats: &ServerStats) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut if_none_match = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("if-none-match") {
                    if_none_match = Some(value.trim().to_string());
                }
            }
        }
        stats.requests.fetch_add(1, Ordering::Relaxed);
        let response = respond(&method, &path, if_none_match.as_deref(), content, stats);
        writer.write_all(&response)?;
    }
}

fn respond(
    method: &str,
    path: &str,
    if_none_match: Option<&str>,
    content: &Content,
    stats: &ServerStats,
) -> Vec<u8> {
    let mut segments = path.trim_start_matches('/').splitn(3, '/');
    let caching = match segments.next() {
        Some("fresh") => Some(Caching::Fresh),
        Some("revalidate") => Some(Caching::Revalidate),
        _ => None,
    };
    let route = (caching, segments.next(), segments.next());
    let found = match route {
        (Some(caching), Some("simple"), Some(rest)) if method == "GET" => rest
            .strip_suffix('/')
            .and_then(|name| content.pages.get(name))
            .map(|page| {
                let max_age = match caching {
                    Caching::Fresh => 600,
                    Caching::Revalidate => 0,
                };
                let headers = format!(
                    "Content-Type: application/vnd.pypi.simple.v1+json\r\nCache-Control: max-age={max_age}, public\r\nETag: {}\r\n",
                    page.etag
                );
                if if_none_match == Some(page.etag.as_str()) {
                    stats.not_modified.fetch_add(1, Ordering::Relaxed);
                    response("304 Not Modified", &headers, &[])
                } else {
                    response("200 OK", &headers, &page.body)
                }
            }),
        (Some(_), Some("files"), Some(file)) if method == "GET" => {
            content.metadata.get(file).map(|body| {
                response(
                    "200 OK",
                    "Content-Type: application/octet-stream\r\nCache-Control: max-age=365000000, immutable, public\r\n",
                    body,
                )
            })
        }
        _ => None,
    };
    found.unwrap_or_else(|| {
        stats.not_found.fetch_add(1, Ordering::Relaxed);
        response(
            "404 Not Found",
            "Content-Type: text/plain\r\n",
            b"not found\n",
        )
    })
}

/// A whole response in one buffer, written with one call.
fn response(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}
