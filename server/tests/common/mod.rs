//! Test harness: starts the real `caudal` binary on a free port, in a fresh
//! temporary directory holding fixture files, and speaks HTTP to it.
//!
//! Every wait here is bounded ([`WAIT`]); the server child is killed when its
//! [`TestServer`] guard is dropped, whether the test passed or panicked.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Upper bound of every wait in the tests.
pub const WAIT: Duration = Duration::from_secs(10);
/// `media/small.mp4`.
pub const SMALL_LEN: usize = 1000;
/// `media/big.mp4`: more than the server reads whole (512 KiB), so streamed.
pub const BIG_LEN: usize = 3 * 1024 * 1024;
/// `huge.mp4`, written by the tests that need the server to be still reading
/// the file when they act: larger than what the kernel buffers of a
/// loopback connection hold (the send buffer autotunes up to `tcp_wmem`'s
/// maximum, 4 MiB by default), so most of it is read after the test acts.
pub const HUGE_LEN: usize = 24 * 1024 * 1024;
/// `secret.txt`, next to (outside of) the media directory.
pub const SECRET: &[u8] = b"TOP-SECRET: this file lives outside the media dir\n";
/// `media/.secret`.
pub const DOTFILE: &[u8] = b"DOTFILE-SECRET\n";
/// `www/index.html`.
pub const INDEX_HTML: &str = "<!doctype html><title>caudal test page</title>\n";

/// Deterministic pseudo-random bytes (xorshift64*), different per seed.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn small_content() -> Vec<u8> {
    pseudo_random(SMALL_LEN, 1)
}

pub fn big_content() -> Vec<u8> {
    pseudo_random(BIG_LEN, 2)
}

/// Writes `media/huge.mp4` and returns its content.
pub fn write_huge(server: &TestServer) -> Vec<u8> {
    let content = pseudo_random(HUGE_LEN, 4);
    std::fs::write(server.media().join("huge.mp4"), &content).expect("write huge");
    content
}

/// A fresh directory tree:
///
/// ```text
/// root/secret.txt            outside the media directory
/// root/www/index.html
/// root/media/small.mp4       1000 pseudo-random bytes
/// root/media/big.mp4         3 MiB pseudo-random bytes
/// root/media/empty.mp4       0 bytes
/// root/media/.secret         a dotfile
/// root/media/sub/inner.webm  10 bytes
/// root/media/inside.mp4   -> small.mp4 (symlink inside)
/// root/media/outside.mp4  -> root/secret.txt (symlink outside)
/// root/server.log            the server's stderr
/// ```
#[derive(Debug)]
pub struct Fixture {
    pub root: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let root = tempfile::tempdir().expect("tempdir");
        let fixture = Fixture { root };
        let media = fixture.media();
        std::fs::create_dir_all(media.join("sub")).expect("mkdir media/sub");
        std::fs::create_dir_all(fixture.www()).expect("mkdir www");
        std::fs::write(fixture.root.path().join("secret.txt"), SECRET).expect("write secret");
        std::fs::write(fixture.www().join("index.html"), INDEX_HTML).expect("write index");
        std::fs::write(media.join("small.mp4"), small_content()).expect("write small");
        std::fs::write(media.join("big.mp4"), big_content()).expect("write big");
        std::fs::write(media.join("empty.mp4"), b"").expect("write empty");
        std::fs::write(media.join(".secret"), DOTFILE).expect("write dotfile");
        std::fs::write(media.join("sub/inner.webm"), pseudo_random(10, 3)).expect("write inner");
        std::os::unix::fs::symlink("small.mp4", media.join("inside.mp4")).expect("symlink in");
        std::os::unix::fs::symlink(
            fixture.root.path().join("secret.txt"),
            media.join("outside.mp4"),
        )
        .expect("symlink out");
        fixture
    }

    pub fn media(&self) -> PathBuf {
        self.root.path().join("media")
    }

    pub fn www(&self) -> PathBuf {
        self.root.path().join("www")
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.path().join("server.log")
    }
}

/// A running `caudal serve`; killed on drop.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    pub addr: SocketAddr,
    pub fixture: Fixture,
}

/// `CAUDAL_TEST_SERVE_ARGS`: flags every test server gets before its own,
/// so that `cargo xtask test` runs the whole suite once per way a body can
/// be sent (the kernel's `sendfile`, hyper, the chunk cache).
pub fn path_flags() -> Vec<&'static str> {
    static FLAGS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    FLAGS
        .get_or_init(|| {
            let text = std::env::var("CAUDAL_TEST_SERVE_ARGS").unwrap_or_default();
            let text: &'static str = Box::leak(text.into_boxed_str());
            text.split_whitespace().collect()
        })
        .clone()
}

/// Whether this run's servers send file bodies with `sendfile`.
pub fn zero_copy_on() -> bool {
    let flags = path_flags();
    !flags
        .windows(2)
        .any(|w| w[0] == "--zero-copy" && w[1] == "off")
}

impl TestServer {
    /// Serves a fresh [`Fixture`] with extra command-line `flags`.
    pub fn start(flags: &[&str]) -> TestServer {
        let fixture = Fixture::new();
        let media = fixture.media();
        TestServer::spawn(fixture, &media, &[&path_flags(), flags].concat())
    }

    /// As [`TestServer::start`] but without this run's
    /// `CAUDAL_TEST_SERVE_ARGS`: for tests of the defaults themselves.
    pub fn start_with_defaults(flags: &[&str]) -> TestServer {
        let fixture = Fixture::new();
        let media = fixture.media();
        TestServer::spawn(fixture, &media, flags)
    }

    /// Serves `media` (the fixture's www and log are still used).
    pub fn start_serving(media: &Path, flags: &[&str]) -> TestServer {
        TestServer::spawn(Fixture::new(), media, &[&path_flags(), flags].concat())
    }

    fn spawn(fixture: Fixture, media: &Path, flags: &[&str]) -> TestServer {
        let log = File::create(fixture.log_path()).expect("create log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_caudal"))
            .arg("serve")
            .arg(media)
            .args(["--listen", "127.0.0.1:0", "--www"])
            .arg(fixture.www())
            .args(flags)
            .env_remove("CAUDAL_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn caudal");
        let stdout = child.stdout.take().expect("child stdout");
        let (lines, ready) = mpsc::channel();
        std::thread::spawn(move || {
            // Forward the first line, then keep draining so the child never blocks.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines.send(line);
            }
        });
        let addr = ready
            .recv_timeout(WAIT)
            .ok()
            .and_then(|line| parse_ready_line(&line));
        let mut server = TestServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            fixture,
        };
        match addr {
            Some(addr) => server.addr = addr,
            None => {
                let _ = server.child.kill();
                let _ = server.child.wait();
                panic!("caudal did not report its address; log:\n{}", server.log());
            }
        }
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn media(&self) -> PathBuf {
        self.fixture.media()
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.fixture.log_path()).unwrap_or_default()
    }

    /// Sends SIGTERM (through `kill(1)`, no libc needed).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// The exit status if the child exits within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `caudal: serving <dir> at http://127.0.0.1:PORT/` -> the address.
fn parse_ready_line(line: &str) -> Option<SocketAddr> {
    let (_, url) = line.rsplit_once(" at http://")?;
    url.trim_end().trim_end_matches('/').parse().ok()
}

/// An HTTP client that never uses a proxy and gives up after [`WAIT`].
/// A client whose connections come from `from` (a loopback address: the
/// tests' way to be a client the rules do not allow).
pub fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(WAIT)
        .local_address(from.parse::<std::net::IpAddr>().expect("ip"))
        .build()
        .expect("reqwest client")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(WAIT)
        .build()
        .expect("reqwest client")
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII header"))
    }
}

/// One request with reqwest; the body read whole.
pub async fn request(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut builder = client.request(method, url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = builder.send().await.expect("send request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("read body").to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// A response read off a raw socket until the server closed it.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }
}

pub fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Header fields in the order received.
pub type Fields = Vec<(String, String)>;

/// Parses a response head; `None` until `bytes` holds a complete one.
/// Returns status, headers and the head's length.
pub fn parse_head(bytes: &[u8]) -> Option<(u16, Fields, usize)> {
    let end = find(bytes, b"\r\n\r\n")?;
    let text = std::str::from_utf8(&bytes[..end]).expect("ASCII response head");
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("header line with a colon");
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    Some((status, headers, end + 4))
}

/// Sends `request` verbatim on a new connection and reads until the server
/// closes it (a reset counts as closed).
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    stream.set_write_timeout(Some(WAIT)).expect("write timeout");
    // The server may answer (and close) before reading all of a bad request.
    let _ = stream.write_all(request);
    let mut received = Vec::new();
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 16 * 1024];
    loop {
        assert!(Instant::now() < deadline, "server did not close in time");
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("server neither answered nor closed within {WAIT:?}")
            }
            Err(_) => break,
        }
    }
    let (status, headers, head_len) = parse_head(&received).unwrap_or_else(|| {
        panic!(
            "no complete response head in {:?}",
            String::from_utf8_lossy(&received)
        )
    });
    RawResponse {
        status,
        headers,
        body: received[head_len..].to_vec(),
    }
}

/// A `GET` with a request line taken verbatim.
pub fn raw_get(addr: SocketAddr, target: &str) -> RawResponse {
    raw_exchange(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// A download over a socket with a small receive buffer, read at the test's
/// pace, so the server is still sending when the test acts.
#[derive(Debug)]
pub struct SlowDownload {
    stream: tokio::net::TcpStream,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Body bytes received so far.
    pub body: Vec<u8>,
}

/// How reading a [`SlowDownload`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The server closed the connection (FIN).
    Closed,
    /// The connection was reset.
    Reset,
    /// Content-Length bytes arrived and the connection is still open.
    Complete,
}

impl SlowDownload {
    pub async fn start(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> SlowDownload {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(64 * 1024).expect("SO_RCVBUF");
        let mut stream = tokio::time::timeout(WAIT, socket.connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send request");
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        let (status, headers, head_len) = loop {
            if let Some(head) = parse_head(&received) {
                break head;
            }
            let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
                .await
                .expect("response head in time")
                .expect("read head");
            assert!(n > 0, "connection closed before the response head");
            received.extend_from_slice(&buf[..n]);
        };
        SlowDownload {
            stream,
            status,
            headers,
            body: received[head_len..].to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    pub fn content_length(&self) -> usize {
        self.header("content-length")
            .and_then(|v| v.parse().ok())
            .expect("Content-Length")
    }

    /// Reads until at least `n` body bytes arrived.
    pub async fn read_at_least(&mut self, n: usize) {
        let mut buf = vec![0u8; 16 * 1024];
        while self.body.len() < n {
            let read = tokio::time::timeout(WAIT, self.stream.read(&mut buf))
                .await
                .expect("body bytes in time")
                .expect("read body");
            assert!(
                read > 0,
                "connection closed after {} bytes",
                self.body.len()
            );
            self.body.extend_from_slice(&buf[..read]);
        }
    }

    /// Reads until the connection ends or Content-Length bytes arrived and
    /// nothing more comes for a moment.
    pub async fn finish(&mut self) -> End {
        let expected = self.content_length();
        let mut buf = vec![0u8; 64 * 1024];
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let wait = if self.body.len() >= expected {
                Duration::from_millis(300)
            } else {
                deadline.saturating_duration_since(tokio::time::Instant::now())
            };
            match tokio::time::timeout(wait, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) => return End::Closed,
                Ok(Ok(n)) => self.body.extend_from_slice(&buf[..n]),
                Ok(Err(_)) => return End::Reset,
                Err(_) if self.body.len() >= expected => return End::Complete,
                Err(_) => panic!(
                    "download stalled at {} of {expected} bytes",
                    self.body.len()
                ),
            }
        }
    }
}

/// Position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `bytes FIRST-LAST/LEN` -> (first, last, len).
pub fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.strip_prefix("bytes ")?;
    let (range, len) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?, len.parse().ok()?))
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug)]
pub struct Part {
    pub content_type: String,
    pub content_range: String,
    pub body: Vec<u8>,
}

/// Parses a `multipart/byteranges` body strictly: every part's length is
/// taken from its Content-Range and must be followed by a delimiter.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut at = find(body, delimiter).ok_or("no delimiter")?;
    if !body[..at].iter().all(|b| b"\r\n".contains(b)) {
        return Err("unexpected preamble".into());
    }
    let mut parts = Vec::new();
    loop {
        at += delimiter.len();
        let rest = &body[at..];
        if let Some(epilogue) = rest.strip_prefix(b"--") {
            if !epilogue.iter().all(|b| b"\r\n".contains(b)) {
                return Err("unexpected epilogue".into());
            }
            return Ok(parts);
        }
        if !rest.starts_with(b"\r\n") {
            return Err(format!("no CRLF after delimiter at {at}"));
        }
        at += 2;
        let head_len = find(&body[at..], b"\r\n\r\n").ok_or("unterminated part head")?;
        let head = std::str::from_utf8(&body[at..at + head_len]).map_err(|e| e.to_string())?;
        let headers: Vec<(String, String)> = head
            .split("\r\n")
            .map(|line| {
                let (n, v) = line.split_once(':').unwrap_or((line, ""));
                (n.trim().to_owned(), v.trim().to_owned())
            })
            .collect();
        let content_range = header_in(&headers, "content-range")
            .ok_or("part without Content-Range")?
            .to_owned();
        let content_type = header_in(&headers, "content-type")
            .ok_or("part without Content-Type")?
            .to_owned();
        let (first, last, _) =
            parse_content_range(&content_range).ok_or("bad part Content-Range")?;
        at += head_len + 4;
        let len = usize::try_from(last - first + 1).map_err(|e| e.to_string())?;
        if body.len() < at + len {
            return Err("part body cut short".into());
        }
        parts.push(Part {
            content_type,
            content_range,
            body: body[at..at + len].to_vec(),
        });
        at += len;
        if !body[at..].starts_with(b"\r\n") || !body[at + 2..].starts_with(delimiter) {
            return Err(format!("part not followed by a delimiter at {at}"));
        }
        at += 2;
    }
}
