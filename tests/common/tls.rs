//! HTTPS in front of the fake index, and an HTTP `CONNECT` proxy, both on 127.0.0.1.
//!
//! [`TlsFront`] accepts TLS with the certificate of `test-index/tls/` (issued for `127.0.0.1`
//! and `localhost` by the test authority `ca.pem`, valid until 2126) and passes the decrypted
//! bytes to the plain [`FakeIndex`](super::FakeIndex), so everything the index does works over
//! HTTPS too. Serve the index as HTML ([`Format::Html`](super::Format::Html)): its links are
//! relative, so downloads go through the front as well. A client that does not trust `ca.pem`
//! fails the handshake, as behind a proxy that re-signs HTTPS.
//!
//! [`ConnectProxy`] answers `CONNECT host:port` by opening a tunnel to it, as a corporate
//! proxy does for HTTPS, and remembers each target.
//!
//! Both count what they see and stop when dropped. The certificates were made with `openssl`
//! (P-256 keys; the CA with `basicConstraints=CA:TRUE`, the server certificate with
//! `subjectAltName=IP:127.0.0.1,DNS:localhost` and `extendedKeyUsage=serverAuth`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// `test-index/tls/`.
fn tls_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test-index/tls")
}

/// The test authority's certificate, for `SSL_CERT_FILE`.
pub fn ca_file() -> PathBuf {
    tls_dir().join("ca.pem")
}

/// A background runtime serving one listener; stopped when dropped.
struct Server {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    fn start<F, Fut>(serve: F) -> Self
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for a test server");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the listener's address");
        let serve = Arc::new(serve);
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let serve = Arc::clone(&serve);
                tokio::spawn(async move { serve(stream).await });
            }
        });
        Self {
            addr,
            runtime: Some(runtime),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// HTTPS on a random port of 127.0.0.1, forwarding to a plain HTTP server at `backend`.
pub struct TlsFront {
    server: Server,
    connections: Arc<AtomicUsize>,
}

impl TlsFront {
    pub fn start(backend: SocketAddr) -> Self {
        let certificates: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(tls_dir().join("server.pem"))
                .expect("read server.pem")
                .collect::<Result<_, _>>()
                .expect("parse server.pem");
        let key = PrivateKeyDer::from_pem_file(tls_dir().join("server.key")).expect("server.key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .expect("the test certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        let server = Server::start(move |stream| {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            async move {
                // A client that refuses the certificate ends here.
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            }
        });
        Self {
            server,
            connections,
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.server.addr)
    }

    /// TCP connections accepted so far (one per attempt of a client that fails the handshake).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// An HTTP proxy that tunnels `CONNECT` requests.
pub struct ConnectProxy {
    server: Server,
    targets: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub fn start() -> Self {
        let targets = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&targets);
        let server = Server::start(move |mut client| {
            let seen = Arc::clone(&seen);
            async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    match client.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let mut words = head.split_whitespace();
                let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
                    let _ = client
                        .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                };
                seen.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(target.to_string());
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                if client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_ok()
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            }
        });
        Self { server, targets }
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// The `host:port` of every tunnel asked for so far.
    pub fn targets(&self) -> Vec<String> {
        self.targets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
