//! A fake package index on 127.0.0.1, built from a [`Scenario`].
//!
//! The server speaks just enough HTTP/1.1 for the clients under test: one thread accepts
//! connections on a random port, one thread per connection reads requests in a keep-alive loop
//! (reqwest pools connections). Dropping the [`FakeIndex`] stops the accept loop and shuts down
//! every open connection.
//!
//! Routes:
//! - `/simple/`: the project list (PEP 503 HTML or PEP 691 JSON).
//! - `/simple/<name>/`: a project page. JSON (PEP 691, API 1.1 with PEP 700 `size`,
//!   `upload-time` and `versions`) or HTML (PEP 503 with `#sha256=` fragments,
//!   `data-requires-python`, PEP 592 `data-yanked`, PEP 714 `data-core-metadata`), chosen by
//!   [`Format`] and the `Accept` header. A name that is not normalized, or a missing trailing
//!   slash, redirects (301) to the normalized URL; an unknown project is a 404. Pages carry an
//!   ETag and answer 304 to a matching `If-None-Match`.
//! - `/files/<filename>`: a distribution, with `Range` support (206, `Content-Range`) unless
//!   [`IndexOptions::range_requests`] is off, in which case the header is ignored.
//! - `/files/<filename>.metadata`: PEP 658/714 core metadata of a wheel, only when
//!   [`IndexOptions::metadata_files`] is on.
//!
//! JSON pages give absolute file URLs; HTML pages give relative ones (`../../files/...`) so
//! that clients must resolve them against the page URL, as they must for real indexes.
//! Upload times are deterministic: 2024-01-01 plus one hour per version rank, plus a year per
//! published stage.
//!
//! [`Fault`]s make chosen requests fail (status, `Retry-After`, dropped connection, delay, a
//! stall or a reset in the middle of the body, truncated body, corrupted bytes), matched by a
//! path substring and optionally only the first N times. Faults can be replaced while the index
//! runs ([`FakeIndex::set_faults`], [`FakeIndex::clear_faults`]), so that a test can break the
//! index, watch a command fail, heal it and watch the next run succeed. Every request is logged
//! ([`FakeIndex::requests`]), and [`FakeIndex::faults_fired`] counts the faults injected.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use pep508_rs::PackageName;
use serde_json::json;

use super::scenario::{Package, Scenario};
use super::wheel::{build_release, sha256_hex, Artifact, ArtifactKind};

/// Which Simple API forms the index serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// PEP 691 JSON only: a request that accepts no JSON type gets 406.
    Json,
    /// PEP 503 HTML only, whatever the `Accept` header says.
    Html,
    /// Content negotiation on `Accept` (quality values honored); HTML when nothing is asked.
    #[default]
    Both,
}

/// What a [`Fault`] does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status and a short text body.
    Status(u16),
    /// Close the connection without answering.
    Drop,
    /// Wait, then answer normally.
    Delay(Duration),
    /// Announce the full `Content-Length`, send half the body, close the connection.
    Truncate,
    /// Answer normally but with one byte of the body changed (same length, wrong hash).
    WrongBytes,
    /// Send the head and half the body, then nothing for this long (a stalled connection: set
    /// it above the client's read timeout), then the rest if the client is still there.
    Stall(Duration),
    /// Send the head and half the body, then reset the connection (a TCP RST, not a FIN).
    Reset,
    /// Answer `503 Service Unavailable` with `Retry-After: <seconds>`.
    RetryAfter(u64),
}

/// A failure injected into requests whose path contains `path_contains`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub path_contains: String,
    pub kind: FaultKind,
    /// Fire only for the first N matching requests; `None` fires forever.
    pub times: Option<usize>,
}

impl Fault {
    /// A fault that fires on every request whose path contains `path_contains`.
    pub fn new(path_contains: &str, kind: FaultKind) -> Self {
        Self {
            path_contains: path_contains.to_string(),
            kind,
            times: None,
        }
    }

    /// Fires only for the first `n` matching requests.
    #[must_use]
    pub fn times(mut self, n: usize) -> Self {
        self.times = Some(n);
        self
    }
}

/// How the fake index behaves.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    pub format: Format,
    /// Serve PEP 658/714 `.metadata` files and advertise them on pages.
    pub metadata_files: bool,
    /// Honor `Range` headers on files.
    pub range_requests: bool,
    pub faults: Vec<Fault>,
    /// Require HTTP basic auth with this user name and password on every route.
    pub auth: Option<(String, String)>,
    /// `Cache-Control: max-age` of project pages, in seconds (0: always revalidate).
    pub page_max_age: u32,
}

impl Default for IndexOptions {
    /// Like the default index these machines reach: negotiated formats, no PEP 658 files,
    /// range requests answered.
    fn default() -> Self {
        Self {
            format: Format::Both,
            metadata_files: false,
            range_requests: true,
            faults: Vec::new(),
            auth: None,
            page_max_age: 0,
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    /// The decoded path, without query string.
    pub path: String,
    /// The raw `Range` header, if any.
    pub range: Option<String>,
    /// The status answered; 0 when the connection was dropped without an answer.
    pub status: u16,
    /// Body bytes written.
    pub bytes_sent: u64,
    /// When the request arrived, counted from the start of the index.
    pub received: Duration,
}

/// One file on the index.
#[derive(Debug, Clone)]
struct IndexedFile {
    artifact: Arc<Artifact>,
    version: pep440_rs::Version,
    upload_time: String,
}

/// One project page.
#[derive(Debug, Clone, Default)]
struct Project {
    files: Vec<IndexedFile>,
}

#[derive(Debug, Default)]
struct Catalog {
    projects: BTreeMap<PackageName, Project>,
    files: HashMap<String, IndexedFile>,
    /// Stages published so far, in order.
    published: Vec<String>,
}

struct Shared {
    scenario: Scenario,
    options: IndexOptions,
    base: String,
    catalog: RwLock<Catalog>,
    log: Mutex<Vec<LoggedRequest>>,
    faults: RwLock<Vec<ArmedFault>>,
    /// Faults injected so far, over every [`FakeIndex::set_faults`].
    faults_fired: AtomicUsize,
    shutdown: AtomicBool,
    started: Instant,
    connections: Mutex<HashMap<usize, TcpStream>>,
    next_connection: AtomicUsize,
}

/// A fault with the number of requests it matched so far.
struct ArmedFault {
    fault: Fault,
    hits: AtomicUsize,
}

fn arm(faults: &[Fault]) -> Vec<ArmedFault> {
    faults
        .iter()
        .map(|fault| ArmedFault {
            fault: fault.clone(),
            hits: AtomicUsize::new(0),
        })
        .collect()
}

/// A running fake index; stops when dropped.
pub struct FakeIndex {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept_thread: Option<JoinHandle<()>>,
}

impl FakeIndex {
    /// Builds every file of `scenario` (stages excluded) and starts serving on a random port.
    pub fn start(scenario: &Scenario, options: IndexOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("local address of the listener");
        let faults = RwLock::new(arm(&options.faults));
        let shared = Arc::new(Shared {
            scenario: scenario.clone(),
            options,
            base: format!("http://{addr}"),
            catalog: RwLock::new(Catalog::default()),
            log: Mutex::new(Vec::new()),
            faults,
            faults_fired: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            started: Instant::now(),
            connections: Mutex::new(HashMap::new()),
            next_connection: AtomicUsize::new(0),
        });
        let mut index = Self {
            shared: Arc::clone(&shared),
            addr,
            accept_thread: None,
        };
        index.add_packages(&scenario.packages);
        let accept_thread = std::thread::Builder::new()
            .name(format!("fake-index-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &shared))
            .expect("spawn the fake index thread");
        index.accept_thread = Some(accept_thread);
        index
    }

    /// The index URL: `http://127.0.0.1:PORT/simple/`.
    pub fn url(&self) -> String {
        format!("{}/simple/", self.shared.base)
    }

    /// The index URL with the basic-auth credentials in it, when the index has some.
    pub fn url_with_credentials(&self) -> String {
        match &self.shared.options.auth {
            Some((user, password)) => format!("http://{user}:{password}@{}/simple/", self.addr),
            None => self.url(),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn server_url(&self) -> String {
        self.shared.base.clone()
    }

    /// The URL of one file.
    pub fn file_url(&self, filename: &str) -> String {
        format!("{}/files/{filename}", self.shared.base)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// Every request so far, in order of completion.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets the logged requests, e.g. between a cold and a warm run.
    pub fn clear_requests(&self) {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Replaces the faults (those of [`IndexOptions::faults`] at first); counts start again.
    pub fn set_faults(&self, faults: &[Fault]) {
        *self
            .shared
            .faults
            .write()
            .unwrap_or_else(PoisonError::into_inner) = arm(faults);
    }

    /// Removes every fault: the index answers normally from now on.
    pub fn clear_faults(&self) {
        self.set_faults(&[]);
    }

    /// How many requests got a fault so far (over every [`FakeIndex::set_faults`]).
    pub fn faults_fired(&self) -> usize {
        self.shared.faults_fired.load(Ordering::SeqCst)
    }

    /// Makes the packages of `[stages.<stage>]` appear on the index.
    pub fn publish(&self, stage: &str) {
        let packages = self.shared.scenario.stages.get(stage).unwrap_or_else(|| {
            panic!(
                "scenario `{}` has no stage `{stage}`; stages: {:?}",
                self.shared.scenario.name,
                self.shared.scenario.stages.keys().collect::<Vec<_>>()
            )
        });
        {
            let mut catalog = self.catalog_mut();
            assert!(
                !catalog.published.iter().any(|done| done == stage),
                "stage `{stage}` is already published"
            );
            catalog.published.push(stage.to_string());
        }
        self.add_packages(packages);
    }

    /// Adds packages at run time (e.g. from another [`Scenario`]); their upload times come
    /// after everything published so far.
    pub fn add_packages(&self, packages: &[Package]) {
        let mut catalog = self.catalog_mut();
        let epoch = catalog.published.len() as u64;
        for package in packages {
            for (rank, release) in package.releases.iter().enumerate() {
                let hours = epoch * 365 * 24 + rank as u64;
                let upload_time = rfc3339(BASE_UPLOAD_TIME + hours * 3600);
                for artifact in build_release(package, release) {
                    let file = IndexedFile {
                        artifact: Arc::new(artifact),
                        version: release.version.clone(),
                        upload_time: upload_time.clone(),
                    };
                    let filename = file.artifact.filename.clone();
                    assert!(
                        !catalog.files.contains_key(&filename),
                        "`{filename}` is already on the index"
                    );
                    catalog.files.insert(filename, file.clone());
                    catalog
                        .projects
                        .entry(package.normalized.clone())
                        .or_default()
                        .files
                        .push(file);
                }
            }
        }
        for project in catalog.projects.values_mut() {
            project
                .files
                .sort_by(|a, b| a.artifact.filename.cmp(&b.artifact.filename));
        }
    }

    /// Adds files built elsewhere (see [`super::recorded`]) to the page of `project`, each with
    /// its version and upload time.
    pub fn add_artifacts(
        &self,
        project: &PackageName,
        files: impl IntoIterator<Item = (Artifact, pep440_rs::Version, String)>,
    ) {
        let mut catalog = self.catalog_mut();
        for (artifact, version, upload_time) in files {
            let file = IndexedFile {
                artifact: Arc::new(artifact),
                version,
                upload_time,
            };
            let filename = file.artifact.filename.clone();
            assert!(
                catalog
                    .files
                    .insert(filename.clone(), file.clone())
                    .is_none(),
                "`{filename}` is already on the index"
            );
            catalog
                .projects
                .entry(project.clone())
                .or_default()
                .files
                .push(file);
        }
        if let Some(page) = catalog.projects.get_mut(project) {
            page.files
                .sort_by(|a, b| a.artifact.filename.cmp(&b.artifact.filename));
        }
    }

    /// Replaces the bytes of a file on the index (a hostile wheel with the name of a good one,
    /// say); its listed sha256 and `.metadata` follow, so only tack's own checks can refuse it.
    pub fn replace_file(&self, filename: &str, bytes: Vec<u8>) {
        let mut catalog = self.catalog_mut();
        let Some(file) = catalog.files.get(filename).cloned() else {
            panic!(
                "no file `{filename}` on the fake index; files: {:?}",
                sorted_keys(&catalog.files)
            );
        };
        let mut artifact = (*file.artifact).clone();
        artifact.sha256 = crate::common::wheel::sha256_hex(&bytes);
        artifact.bytes = bytes;
        let replaced = IndexedFile {
            artifact: Arc::new(artifact),
            ..file
        };
        catalog.files.insert(filename.to_string(), replaced.clone());
        for project in catalog.projects.values_mut() {
            for listed in &mut project.files {
                if listed.artifact.filename == filename {
                    *listed = replaced.clone();
                }
            }
        }
    }

    /// Yanks a file already on the index (PEP 592), with `reason` (possibly empty), as an
    /// index does when a maintainer yanks a release after it was used.
    pub fn yank(&self, filename: &str, reason: &str) {
        let mut catalog = self.catalog_mut();
        let Some(file) = catalog.files.get(filename).cloned() else {
            panic!(
                "no file `{filename}` on the fake index; files: {:?}",
                sorted_keys(&catalog.files)
            );
        };
        let mut artifact = (*file.artifact).clone();
        artifact.yanked = Some(reason.to_string());
        let yanked = IndexedFile {
            artifact: Arc::new(artifact),
            ..file
        };
        catalog.files.insert(filename.to_string(), yanked.clone());
        for project in catalog.projects.values_mut() {
            for listed in &mut project.files {
                if listed.artifact.filename == filename {
                    *listed = yanked.clone();
                }
            }
        }
    }

    /// The sha256 of a file on the index, panicking with the list of files when it is unknown.
    pub fn file_sha256(&self, filename: &str) -> String {
        let catalog = self.catalog();
        match catalog.files.get(filename) {
            Some(file) => file.artifact.sha256.clone(),
            None => panic!(
                "no file `{filename}` on the fake index; files: {:?}",
                sorted_keys(&catalog.files)
            ),
        }
    }

    /// The bytes of a file on the index.
    pub fn file_bytes(&self, filename: &str) -> Vec<u8> {
        let catalog = self.catalog();
        match catalog.files.get(filename) {
            Some(file) => file.artifact.bytes.clone(),
            None => panic!(
                "no file `{filename}` on the fake index; files: {:?}",
                sorted_keys(&catalog.files)
            ),
        }
    }

    /// Every file name on the index, sorted.
    pub fn filenames(&self) -> Vec<String> {
        sorted_keys(&self.catalog().files)
    }

    fn catalog(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        self.shared
            .catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn catalog_mut(&self) -> std::sync::RwLockWriteGuard<'_, Catalog> {
        self.shared
            .catalog
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FakeIndex {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
        let connections = std::mem::take(
            &mut *self
                .shared
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for stream in connections.values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn sorted_keys(files: &HashMap<String, IndexedFile>) -> Vec<String> {
    let mut names: Vec<String> = files.keys().cloned().collect();
    names.sort();
    names
}

/// 2024-01-01T00:00:00Z as Unix seconds.
const BASE_UPLOAD_TIME: u64 = 1_704_067_200;

/// Unix seconds as an RFC 3339 UTC time (civil-from-days, proleptic Gregorian calendar).
fn rfc3339(seconds: u64) -> String {
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX);
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let id = shared.next_connection.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            shared
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, clone);
        }
        let shared = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(format!("fake-index-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, &shared);
                shared
                    .connections
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
            });
        if spawned.is_err() {
            break;
        }
    }
}

/// A parsed request head.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    keep_alive: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// An answer before it is written.
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.into(),
        }
    }

    fn text(status: u16, body: &str) -> Self {
        Self::new(status, "text/plain; charset=utf-8", format!("{body}\n"))
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while !shared.shutdown.load(Ordering::SeqCst) {
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        let range = request.header("range").map(str::to_string);
        let mut log = LoggedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            range,
            status: 0,
            bytes_sent: 0,
            received: shared.started.elapsed(),
        };

        let fault = take_fault(shared, &request.path);
        if let Some(FaultKind::Delay(delay)) = &fault {
            std::thread::sleep(*delay);
        }
        let mut response = match &fault {
            Some(FaultKind::Status(status)) => {
                Response::text(*status, &format!("injected fault: status {status}"))
            }
            Some(FaultKind::RetryAfter(seconds)) => {
                Response::text(503, "injected fault: try again later")
                    .header("Retry-After", seconds.to_string())
            }
            Some(FaultKind::Drop) => {
                let _ = writer.shutdown(Shutdown::Both);
                record(shared, log);
                return;
            }
            _ => handle(shared, &request),
        };
        if fault == Some(FaultKind::WrongBytes) && !response.body.is_empty() {
            let middle = response.body.len() / 2;
            response.body[middle] ^= 0xff;
        }
        // Faults that break the body off half way, and whether the rest ever comes.
        let (cut, rest_after) = match &fault {
            Some(FaultKind::Truncate | FaultKind::Reset) => (true, None),
            Some(FaultKind::Stall(pause)) => (true, Some(*pause)),
            _ => (false, None),
        };
        let keep_alive = request.keep_alive && !cut;

        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            response.status,
            reason(response.status)
        );
        for (name, value) in &response.headers {
            let _ = writeln!(head, "{name}: {value}\r");
        }
        let _ = writeln!(head, "Content-Length: {}\r", response.body.len());
        head.push_str(if keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        let send_body = request.method != "HEAD" && response.status != 304;
        let body: &[u8] = if send_body { &response.body } else { &[] };
        let (first, rest) = if cut {
            body.split_at(body.len() / 2)
        } else {
            (body, &[][..])
        };
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(first);
        log.status = response.status;
        log.bytes_sent = first.len() as u64;
        let mut written = writer.write_all(&bytes).and_then(|()| writer.flush());
        if let (Ok(()), Some(pause)) = (&written, rest_after) {
            std::thread::sleep(pause);
            written = writer.write_all(rest).and_then(|()| writer.flush());
            if written.is_ok() {
                log.bytes_sent += rest.len() as u64;
            }
        }
        record(shared, log);
        if fault == Some(FaultKind::Reset) {
            // Give the client time to read the first half, so that the reset comes mid-body.
            std::thread::sleep(Duration::from_millis(20));
            reset(&writer);
            return;
        }
        if written.is_err() || !keep_alive {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Makes the connection end with a TCP reset: with a zero linger time, closing the socket (when
/// the last of its handles is dropped, right after this) aborts it instead of sending a FIN.
fn reset(stream: &TcpStream) {
    if let Ok(handle) = stream.try_clone() {
        let socket = tokio::net::TcpSocket::from_std_stream(handle);
        let _ = socket.set_zero_linger();
    }
}

fn record(shared: &Shared, request: LoggedRequest) {
    shared
        .log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request);
}

/// The first fault that matches `path` and has not used up its count, counted as fired.
fn take_fault(shared: &Shared, path: &str) -> Option<FaultKind> {
    let faults = shared.faults.read().unwrap_or_else(PoisonError::into_inner);
    for armed in faults.iter() {
        if !path.contains(&armed.fault.path_contains) {
            continue;
        }
        let fired = armed.hits.fetch_add(1, Ordering::SeqCst);
        if armed.fault.times.is_none_or(|times| fired < times) {
            shared.faults_fired.fetch_add(1, Ordering::SeqCst);
            return Some(armed.fault.kind.clone());
        }
    }
    None
}

/// Reads one request head (and skips any body); `None` at end of stream or on garbage.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    let version = parts.next().unwrap_or("HTTP/1.0").to_string();
    let path = percent_decode(target.split(['?', '#']).next().unwrap_or_default());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = Request {
        method,
        path,
        headers,
        keep_alive: false,
    };
    let connection = request
        .header("connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    request.keep_alive = if version == "HTTP/1.1" {
        connection != "close"
    } else {
        connection == "keep-alive"
    };
    if let Some(length) = request.header("content-length") {
        let length: u64 = length.parse().ok()?;
        std::io::copy(&mut reader.by_ref().take(length), &mut std::io::sink()).ok()?;
    }
    Some(request)
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(byte) = raw
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                decoded.push(byte);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn handle(shared: &Shared, request: &Request) -> Response {
    if !matches!(request.method.as_str(), "GET" | "HEAD") {
        return Response::text(405, "only GET and HEAD are served").header("Allow", "GET, HEAD");
    }
    if let Some((user, password)) = &shared.options.auth {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        if request.header("authorization") != Some(expected.as_str()) {
            return Response::text(401, "credentials required")
                .header("WWW-Authenticate", "Basic realm=\"fake-index\"");
        }
    }
    let path = request.path.as_str();
    if path == "/simple" || path == "/simple/" {
        if path == "/simple" {
            return redirect("/simple/");
        }
        return page(shared, request, None);
    }
    if let Some(rest) = path.strip_prefix("/simple/") {
        let name = rest.strip_suffix('/').unwrap_or(rest);
        let Ok(normalized) = PackageName::from_str(name) else {
            return Response::text(404, &format!("`{name}` is not a valid project name"));
        };
        if name.contains('/') || name.is_empty() {
            return Response::text(404, "not found");
        }
        if normalized.as_ref() != name || !rest.ends_with('/') {
            return redirect(&format!("/simple/{normalized}/"));
        }
        return page(shared, request, Some(&normalized));
    }
    if let Some(filename) = path.strip_prefix("/files/") {
        return file(shared, request, filename);
    }
    Response::text(404, "not found")
}

fn redirect(location: &str) -> Response {
    Response::text(301, &format!("moved to {location}")).header("Location", location)
}

/// The media type to answer with, or `None` for 406.
fn negotiate(format: Format, accept: Option<&str>) -> Option<&'static str> {
    const JSON: &str = "application/vnd.pypi.simple.v1+json";
    const HTML_V1: &str = "application/vnd.pypi.simple.v1+html";
    const TEXT_HTML: &str = "text/html";
    if format == Format::Html {
        return Some(TEXT_HTML);
    }
    let default = if format == Format::Json {
        JSON
    } else {
        TEXT_HTML
    };
    let Some(accept) = accept else {
        return Some(default);
    };
    let mut best: Option<(f32, &'static str)> = None;
    for item in accept.split(',') {
        let mut params = item.split(';');
        let media = params
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let quality = params
            .filter_map(|param| param.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let offered = match media.as_str() {
            "application/vnd.pypi.simple.v1+json" | "application/vnd.pypi.simple.latest+json" => {
                Some(JSON)
            }
            "application/vnd.pypi.simple.v1+html" | "application/vnd.pypi.simple.latest+html"
                if format == Format::Both =>
            {
                Some(HTML_V1)
            }
            "text/html" if format == Format::Both => Some(TEXT_HTML),
            "*/*" | "application/*" | "text/*" => Some(default),
            _ => None,
        };
        if let Some(offered) = offered {
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, offered));
            }
        }
    }
    match (best, format) {
        (Some((_, media)), _) => Some(media),
        (None, Format::Json) => None,
        (None, _) => Some(default),
    }
}

/// The project list (`name` = `None`) or one project page.
fn page(shared: &Shared, request: &Request, name: Option<&PackageName>) -> Response {
    let Some(media_type) = negotiate(shared.options.format, request.header("accept")) else {
        return Response::text(
            406,
            "this index serves only application/vnd.pypi.simple.v1+json",
        );
    };
    let json = media_type.ends_with("+json");
    let catalog = shared
        .catalog
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    let body = match name {
        None => {
            if json {
                project_list_json(&catalog)
            } else {
                project_list_html(&catalog)
            }
        }
        Some(name) => {
            let Some(project) = catalog.projects.get(name) else {
                return Response::text(404, &format!("no project `{name}` on this index"));
            };
            if json {
                project_json(shared, name, project)
            } else {
                project_html(shared, name, project)
            }
        }
    };
    drop(catalog);
    let etag = format!("\"{}\"", &sha256_hex(body.as_bytes())[..32]);
    let cache_control = format!("max-age={}, must-revalidate", shared.options.page_max_age);
    let matches = request.header("if-none-match").is_some_and(|tags| {
        tags.split(',')
            .any(|tag| tag.trim() == etag || tag.trim() == "*")
    });
    let status = if matches { 304 } else { 200 };
    let content_type = if json {
        media_type.to_string()
    } else {
        format!("{media_type}; charset=utf-8")
    };
    Response::new(status, &content_type, body)
        .header("ETag", etag)
        .header("Cache-Control", cache_control)
        .header("Vary", "Accept")
}

fn project_list_json(catalog: &Catalog) -> String {
    let projects: Vec<_> = catalog
        .projects
        .keys()
        .map(|name| json!({ "name": name.as_ref() }))
        .collect();
    json!({ "meta": { "api-version": "1.1" }, "projects": projects }).to_string()
}

fn project_list_html(catalog: &Catalog) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Simple index</title>\n  </head>\n  <body>\n",
    );
    for name in catalog.projects.keys() {
        let _ = writeln!(html, "    <a href=\"{name}/\">{name}</a><br />");
    }
    html.push_str("  </body>\n</html>\n");
    html
}

fn project_json(shared: &Shared, name: &PackageName, project: &Project) -> String {
    let files: Vec<_> = project
        .files
        .iter()
        .map(|file| {
            let artifact = &file.artifact;
            let yanked = match &artifact.yanked {
                None => json!(false),
                Some(reason) if reason.is_empty() => json!(true),
                Some(reason) => json!(reason),
            };
            let core_metadata = match (&artifact.metadata, shared.options.metadata_files) {
                (Some(metadata), true) => json!({ "sha256": sha256_hex(metadata) }),
                _ => json!(false),
            };
            json!({
                "filename": artifact.filename,
                "url": format!("{}/files/{}", shared.base, artifact.filename),
                "hashes": { "sha256": artifact.sha256 },
                "requires-python": artifact.requires_python,
                "yanked": yanked,
                "size": artifact.bytes.len(),
                "upload-time": file.upload_time,
                "core-metadata": core_metadata,
                "dist-info-metadata": core_metadata,
            })
        })
        .collect();
    let mut versions: Vec<&pep440_rs::Version> = project.files.iter().map(|f| &f.version).collect();
    versions.sort();
    versions.dedup();
    let versions: Vec<String> = versions.iter().map(ToString::to_string).collect();
    json!({
        "meta": { "api-version": "1.1" },
        "name": name.as_ref(),
        "versions": versions,
        "files": files,
    })
    .to_string()
}

fn project_html(shared: &Shared, name: &PackageName, project: &Project) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Links for {name}</title>\n  </head>\n  <body>\n    <h1>Links for {name}</h1>\n"
    );
    for file in &project.files {
        let artifact = &file.artifact;
        let mut attributes = format!(
            "href=\"../../files/{}#sha256={}\"",
            escape(&artifact.filename),
            artifact.sha256
        );
        if let Some(requires_python) = &artifact.requires_python {
            let _ = write!(
                attributes,
                " data-requires-python=\"{}\"",
                escape(requires_python)
            );
        }
        if let Some(reason) = &artifact.yanked {
            let _ = write!(attributes, " data-yanked=\"{}\"", escape(reason));
        }
        if let (Some(metadata), true) = (&artifact.metadata, shared.options.metadata_files) {
            let hash = sha256_hex(metadata);
            let _ = write!(
                attributes,
                " data-core-metadata=\"sha256={hash}\" data-dist-info-metadata=\"sha256={hash}\""
            );
        }
        let _ = writeln!(
            html,
            "    <a {attributes}>{}</a><br />",
            escape(&artifact.filename)
        );
    }
    html.push_str("  </body>\n</html>\n");
    html
}

/// HTML text and attribute escaping.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn content_type(filename: &str) -> &'static str {
    match std::path::Path::new(filename)
        .extension()
        .and_then(std::ffi::OsStr::to_str)
    {
        Some(extension) if extension.eq_ignore_ascii_case("whl") => "application/zip",
        Some(extension) if extension.eq_ignore_ascii_case("gz") => "application/gzip",
        _ => "application/octet-stream",
    }
}

fn file(shared: &Shared, request: &Request, filename: &str) -> Response {
    let catalog = shared
        .catalog
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(file) = catalog.files.get(filename) {
        let artifact = Arc::clone(&file.artifact);
        drop(catalog);
        return ranged(
            shared,
            request,
            content_type(filename),
            &artifact.bytes,
            &artifact.sha256,
        );
    }
    if let Some(dist) = filename.strip_suffix(".metadata") {
        if let Some(file) = catalog.files.get(dist) {
            if shared.options.metadata_files && file.artifact.kind == ArtifactKind::Wheel {
                if let Some(metadata) = &file.artifact.metadata {
                    let metadata = metadata.clone();
                    drop(catalog);
                    let hash = sha256_hex(&metadata);
                    return ranged(
                        shared,
                        request,
                        "text/plain; charset=utf-8",
                        &metadata,
                        &hash,
                    );
                }
            }
        }
    }
    Response::text(404, &format!("no file `{filename}` on this index"))
}

/// A file body, honoring `Range` when range requests are on.
fn ranged(
    shared: &Shared,
    request: &Request,
    content_type: &str,
    bytes: &[u8],
    sha256: &str,
) -> Response {
    let etag = format!("\"{}\"", &sha256[..32.min(sha256.len())]);
    if !shared.options.range_requests {
        return Response::new(200, content_type, bytes).header("ETag", etag);
    }
    let full = || {
        Response::new(200, content_type, bytes)
            .header("Accept-Ranges", "bytes")
            .header("ETag", etag.clone())
    };
    let Some(range) = request.header("range") else {
        return full();
    };
    match parse_range(range, bytes.len() as u64) {
        RangeAnswer::Whole => full(),
        RangeAnswer::Unsatisfiable => Response::text(416, "range not satisfiable")
            .header("Content-Range", format!("bytes */{}", bytes.len()))
            .header("Accept-Ranges", "bytes"),
        RangeAnswer::Part(start, end) => {
            let (from, to) = (
                usize::try_from(start).unwrap_or(usize::MAX),
                usize::try_from(end).unwrap_or(usize::MAX),
            );
            Response::new(206, content_type, &bytes[from..=to])
                .header(
                    "Content-Range",
                    format!("bytes {start}-{end}/{}", bytes.len()),
                )
                .header("Accept-Ranges", "bytes")
                .header("ETag", etag)
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum RangeAnswer {
    /// Not a single byte range we serve (e.g. several ranges, or another unit): send it all.
    Whole,
    Unsatisfiable,
    /// Inclusive first and last byte.
    Part(u64, u64),
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` against a body of `len` bytes.
fn parse_range(header: &str, len: u64) -> RangeAnswer {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Unsatisfiable;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // Suffix: the last n bytes.
        return match last.parse::<u64>() {
            Ok(0) | Err(_) => RangeAnswer::Unsatisfiable,
            Ok(_) if len == 0 => RangeAnswer::Unsatisfiable,
            Ok(n) => RangeAnswer::Part(len.saturating_sub(n), len - 1),
        };
    }
    let Ok(first) = first.parse::<u64>() else {
        return RangeAnswer::Unsatisfiable;
    };
    if first >= len {
        return RangeAnswer::Unsatisfiable;
    }
    let last = if last.is_empty() {
        len - 1
    } else {
        match last.parse::<u64>() {
            Ok(last) if last >= first => last.min(len - 1),
            _ => return RangeAnswer::Unsatisfiable,
        }
    };
    RangeAnswer::Part(first, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeAnswer::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeAnswer::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeAnswer::Part(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), RangeAnswer::Part(0, 99));
        assert_eq!(parse_range("bytes=50-1000", 100), RangeAnswer::Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=9-3", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeAnswer::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeAnswer::Whole);
    }

    #[test]
    fn negotiation() {
        let json = "application/vnd.pypi.simple.v1+json";
        assert_eq!(negotiate(Format::Both, None), Some("text/html"));
        assert_eq!(negotiate(Format::Both, Some(json)), Some(json));
        assert_eq!(
            negotiate(
                Format::Both,
                Some("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01")
            ),
            Some(json)
        );
        assert_eq!(
            negotiate(
                Format::Both,
                Some("text/html, application/vnd.pypi.simple.v1+json;q=0.5")
            ),
            Some("text/html")
        );
        assert_eq!(negotiate(Format::Json, Some("text/html")), None);
        assert_eq!(negotiate(Format::Json, Some("*/*")), Some(json));
        assert_eq!(negotiate(Format::Html, Some(json)), Some("text/html"));
    }

    #[test]
    fn upload_times() {
        assert_eq!(rfc3339(BASE_UPLOAD_TIME), "2024-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(BASE_UPLOAD_TIME + 59 * 86_400 + 3661),
            "2024-02-29T01:01:01Z"
        );
        assert_eq!(
            rfc3339(BASE_UPLOAD_TIME + 366 * 86_400),
            "2025-01-01T00:00:00Z"
        );
    }

    #[test]
    fn escaping_and_decoding() {
        assert_eq!(escape(">=3.9,<4 & 'x'"), "&gt;=3.9,&lt;4 &amp; &#39;x&#39;");
        assert_eq!(
            percent_decode("/files/a-1.0%2Bcpu.whl"),
            "/files/a-1.0+cpu.whl"
        );
        assert_eq!(percent_decode("/bad%2"), "/bad%2");
        assert_eq!(percent_decode("%"), "%");
    }
}
