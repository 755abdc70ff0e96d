//! The viewers: `GET /live/NAME` over plain HTTP/1.1 on std TCP, one
//! thread each (xtask has no async runtime, and a thread blocked in
//! `read` wakes the moment bytes come, which is what the spread measures).
//!
//! Each viewer undoes the chunked framing and walks the top-level MP4 boxes
//! of its body as they come, logging when each `moof`+`mdat` pair's last
//! byte arrived, keyed by the moof's sequence number: every viewer gets the
//! same fragments, so the same number is the same bytes at every viewer.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

/// A read that waits longer than this wakes to look at the stop flag.
const READ_TICK: Duration = Duration::from_millis(500);
/// The largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// A viewer thread needs little stack; 200 of them should not reserve GBs.
const STACK: usize = 256 * 1024;
/// How long a stalled viewer, once it reads again, may take to reach the
/// end of its body (its queue is at most 8 MiB plus socket buffers: at
/// loopback speed, milliseconds); still open after this, it was not cut.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// When a fragment's last byte reached a viewer, and where in its body.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub seq: u32,
    pub at: Instant,
    /// Body offset just past the fragment's mdat.
    pub offset: u64,
}

/// How a viewer's body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// We stopped reading it (the end of the run): the body was endless.
    Open,
    /// The server ended it: the last chunk of a chunked body.
    Finished,
    /// The connection closed without the last chunk.
    Closed,
    /// An error: reset, timeout, bad framing, refused.
    Failed(String),
}

impl Ending {
    pub fn describe(&self) -> String {
        match self {
            Ending::Open => "still open".to_owned(),
            Ending::Finished => "body ended by the server (last chunk)".to_owned(),
            Ending::Closed => "connection closed by the server".to_owned(),
            Ending::Failed(why) => format!("failed: {why}"),
        }
    }
}

/// What one viewer saw.
#[derive(Debug)]
pub struct ViewerLog {
    pub arrivals: Vec<Arrival>,
    pub ending: Ending,
    /// Body bytes received.
    pub body_bytes: u64,
}

/// What the viewer threads share with the bench.
#[derive(Debug, Default)]
pub struct Shared {
    /// Set at the end of the run: every viewer returns its log.
    pub stop: AtomicBool,
    /// Viewers that have their whole init segment.
    pub ready: AtomicUsize,
    /// Viewers that ended before `stop`.
    pub failed: AtomicUsize,
    /// Bytes the reading viewers received off the wire (egress).
    pub wire_bytes: AtomicU64,
}

/// Starts a viewer of `path` that reads until `shared.stop` (or `deadline`).
pub fn spawn_viewer(
    addr: SocketAddr,
    path: String,
    shared: Arc<Shared>,
    deadline: Instant,
) -> Result<JoinHandle<ViewerLog>> {
    thread::Builder::new()
        .name("live-viewer".into())
        .stack_size(STACK)
        .spawn(move || {
            let mut log = ViewerLog {
                arrivals: Vec::with_capacity(8192),
                ending: Ending::Open,
                body_bytes: 0,
            };
            let mut ready = false;
            let outcome = watch(addr, &path, deadline, &mut log, &mut |event| match event {
                Event::Init if !ready => {
                    ready = true;
                    shared.ready.fetch_add(1, Ordering::AcqRel);
                    Flow::Go
                }
                Event::Wire(n) => {
                    shared.wire_bytes.fetch_add(n, Ordering::Relaxed);
                    match shared.stop.load(Ordering::Acquire) {
                        true => Flow::Stop,
                        false => Flow::Go,
                    }
                }
                _ => Flow::Go,
            });
            log.ending = match outcome {
                Ok(ending) => ending,
                Err(error) => Ending::Failed(format!("{error:#}")),
            };
            if log.ending != Ending::Open {
                shared.failed.fetch_add(1, Ordering::AcqRel);
            }
            log
        })
        .context("starting a viewer thread")
}

/// What the stalled viewer saw: before it stopped reading, and after.
#[derive(Debug)]
pub struct StalledLog {
    /// Body bytes it read before it stopped (the init segment and a bit).
    pub before_bytes: u64,
    /// Body bytes it read once it read again.
    pub after_bytes: u64,
    /// Fragments in those bytes.
    pub after_fragments: usize,
    /// How its body ended once it read again.
    pub ending: Ending,
    /// From reading again to that end.
    pub drained_in: Duration,
}

/// Starts the viewer that reads the init segment, then does not read until
/// told to on `resume`; then it reads to the end of its body, at most
/// [`DRAIN_LIMIT`]. It reports on `ready` once it has the init segment.
pub fn spawn_stalled(
    addr: SocketAddr,
    path: String,
    ready: mpsc::Sender<()>,
    resume: mpsc::Receiver<()>,
    deadline: Instant,
) -> Result<JoinHandle<StalledLog>> {
    thread::Builder::new()
        .name("live-stalled".into())
        .stack_size(STACK)
        .spawn(move || {
            let mut log = ViewerLog {
                arrivals: Vec::new(),
                ending: Ending::Open,
                body_bytes: 0,
            };
            let mut stalling = false;
            let mut resumed: Option<Instant> = None;
            let mut before_bytes = 0;
            let mut before_fragments = 0;
            let outcome = watch(addr, &path, deadline, &mut log, &mut |event| match event {
                Event::Init => {
                    stalling = true;
                    Flow::Go
                }
                Event::Body(n) if resumed.is_none() => {
                    before_bytes += n;
                    Flow::Go
                }
                Event::Fragment if resumed.is_none() => {
                    before_fragments += 1;
                    Flow::Go
                }
                Event::Reading if stalling && resumed.is_none() => {
                    let _ = ready.send(());
                    // Nothing reads this socket until the bench says so
                    // (or its run is over).
                    let wait = deadline.saturating_duration_since(Instant::now());
                    let _ = resume.recv_timeout(wait);
                    resumed = Some(Instant::now());
                    Flow::Go
                }
                Event::Reading => match resumed {
                    Some(at) if at.elapsed() > DRAIN_LIMIT => Flow::Stop,
                    _ => Flow::Go,
                },
                _ => Flow::Go,
            });
            let ending = match outcome {
                Ok(ending) => ending,
                Err(error) => Ending::Failed(format!("{error:#}")),
            };
            StalledLog {
                before_bytes,
                after_bytes: log.body_bytes.saturating_sub(before_bytes),
                after_fragments: log.arrivals.len().saturating_sub(before_fragments),
                ending,
                drained_in: resumed.map_or(Duration::ZERO, |at| at.elapsed()),
            }
        })
        .context("starting the stalled viewer's thread")
}

/// What happened, for a viewer's hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// The init segment (moov) is complete.
    Init,
    /// A fragment was completed (logged already).
    Fragment,
    /// `n` body bytes arrived.
    Body(u64),
    /// One read returned `n` bytes off the wire (also 0 on a read tick).
    Wire(u64),
    /// About to read the socket again.
    Reading,
}

/// What the hook wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// Reads `GET path` until the body ends, the hook says stop or `deadline`.
fn watch(
    addr: SocketAddr,
    path: &str,
    deadline: Instant,
    log: &mut ViewerLog,
    hook: &mut dyn FnMut(Event) -> Flow,
) -> Result<Ending> {
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    tcp.set_nodelay(true).context("TCP_NODELAY")?;
    tcp.set_read_timeout(Some(READ_TICK))
        .context("setting a read timeout")?;
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: caudal-bench-live-load\r\n\r\n"
    )
    .context("sending the request")?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = Vec::new();
    let mut body: Option<(Framing, BoxScanner)> = None;
    // Bounded by the deadline: every read returns within READ_TICK.
    loop {
        ensure!(Instant::now() < deadline, "still reading at the deadline");
        if hook(Event::Reading) == Flow::Stop {
            return Ok(Ending::Open);
        }
        let n = match tcp.read(&mut buf) {
            Ok(0) => {
                return match &body {
                    Some((Framing::Chunked(c), _)) if c.done() => Ok(Ending::Finished),
                    Some(_) => Ok(Ending::Closed),
                    None => bail!("closed before the response head"),
                };
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => 0,
            Err(e) => return Err(e).context("reading the body"),
        };
        let at = Instant::now();
        if hook(Event::Wire(n as u64)) == Flow::Stop {
            return Ok(Ending::Open);
        }
        let mut data = &buf[..n];
        if body.is_none() {
            head.extend_from_slice(data);
            let Some(end) = find(&head, b"\r\n\r\n") else {
                ensure!(
                    head.len() <= MAX_HEAD,
                    "a response head over {MAX_HEAD} bytes"
                );
                continue;
            };
            let framing = parse_head(&head[..end])?;
            head.drain(..end + 4);
            body = Some((framing, BoxScanner::default()));
            data = &head[..];
        }
        let Some((framing, scanner)) = body.as_mut() else {
            continue;
        };
        let mut events = Vec::new();
        let mut scan = |piece: &[u8]| -> Result<()> {
            log.body_bytes += piece.len() as u64;
            events.push(Event::Body(piece.len() as u64));
            scanner.push(piece, &mut |found, offset| match found {
                Found::Init => events.push(Event::Init),
                Found::Fragment(seq) => {
                    log.arrivals.push(Arrival { seq, at, offset });
                    events.push(Event::Fragment);
                }
            })
        };
        let finished = match framing {
            Framing::Chunked(chunked) => chunked.feed(data, &mut scan)?,
            Framing::Raw => {
                scan(data)?;
                false
            }
        };
        head.clear();
        for event in events {
            if hook(event) == Flow::Stop {
                return Ok(Ending::Open);
            }
        }
        if finished {
            return Ok(Ending::Finished);
        }
    }
}

/// The offset of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// How the body is framed on the wire.
#[derive(Debug)]
enum Framing {
    Chunked(Chunked),
    /// To the end of the connection.
    Raw,
}

/// Checks the status line (200) and reads the framing from the headers.
fn parse_head(head: &[u8]) -> Result<Framing> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    ensure!(
        status.split_whitespace().nth(1) == Some("200"),
        "the server answered {status:?}"
    );
    let chunked = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.to_ascii_lowercase().contains("chunked")
        })
    });
    Ok(match chunked {
        true => Framing::Chunked(Chunked::default()),
        false => Framing::Raw,
    })
}

/// Undoes HTTP/1.1 chunked framing as the bytes come.
#[derive(Debug, Default)]
pub struct Chunked {
    state: ChunkState,
    line: Vec<u8>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading a chunk-size line.
    #[default]
    Size,
    /// Bytes of chunk data left.
    Data(u64),
    /// The CRLF after a chunk's data: bytes of it left.
    DataEnd(u8),
    /// After the last chunk: trailer lines up to an empty one.
    Trailer,
    Done,
}

impl Chunked {
    /// Feeds wire bytes, handing each piece of body to `body`; whether the
    /// last chunk (and its trailer) ended the body.
    pub fn feed(
        &mut self,
        mut wire: &[u8],
        body: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<bool> {
        while !wire.is_empty() && self.state != ChunkState::Done {
            match self.state {
                ChunkState::Size | ChunkState::Trailer => {
                    let Some(at) = wire.iter().position(|&b| b == b'\n') else {
                        self.line.extend_from_slice(wire);
                        ensure!(self.line.len() <= 1024, "a chunk line over 1 KiB");
                        return Ok(false);
                    };
                    self.line.extend_from_slice(&wire[..at]);
                    wire = &wire[at + 1..];
                    let line = String::from_utf8_lossy(&self.line).trim().to_owned();
                    self.line.clear();
                    self.state = match self.state {
                        ChunkState::Size => {
                            let size = line.split(';').next().unwrap_or_default().trim();
                            match u64::from_str_radix(size, 16)
                                .with_context(|| format!("a bad chunk size {line:?}"))?
                            {
                                0 => ChunkState::Trailer,
                                n => ChunkState::Data(n),
                            }
                        }
                        _ if line.is_empty() => ChunkState::Done,
                        _ => ChunkState::Trailer,
                    };
                }
                ChunkState::Data(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(wire.len());
                    body(&wire[..take])?;
                    wire = &wire[take..];
                    self.state = match left - take as u64 {
                        0 => ChunkState::DataEnd(2),
                        left => ChunkState::Data(left),
                    };
                }
                ChunkState::DataEnd(left) => {
                    wire = &wire[1..];
                    self.state = match left {
                        1 => ChunkState::Size,
                        _ => ChunkState::DataEnd(left - 1),
                    };
                }
                ChunkState::Done => {}
            }
        }
        Ok(self.done())
    }

    pub fn done(&self) -> bool {
        self.state == ChunkState::Done
    }
}

/// A complete thing the box scanner found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The `moov` box: the init segment is whole.
    Init,
    /// A `moof` (this sequence number) and its `mdat` are whole.
    Fragment(u32),
}

/// Walks top-level MP4 boxes as bytes come: 8-byte size+type headers, a
/// 64-bit size after them when the size is 1.
#[derive(Debug, Default)]
pub struct BoxScanner {
    /// The header being read (for a moof, also its mfhd: 24 bytes).
    head: Vec<u8>,
    /// Body bytes of the current box left, once its header is read.
    left: Option<u64>,
    kind: [u8; 4],
    /// The sequence number of the moof waiting for its mdat.
    moof: Option<u32>,
    /// Body offset.
    offset: u64,
}

/// moof header (8) + mfhd header (8) + version/flags (4) + sequence (4).
const MOOF_HEAD: usize = 24;

impl BoxScanner {
    /// Feeds body bytes; `found` gets each complete init or fragment and
    /// the body offset just past it.
    pub fn push(&mut self, mut data: &[u8], found: &mut dyn FnMut(Found, u64)) -> Result<()> {
        while !data.is_empty() {
            let Some(left) = self.left else {
                let want = self.header_len();
                let take = (want - self.head.len()).min(data.len());
                self.head.extend_from_slice(&data[..take]);
                data = &data[take..];
                self.offset += take as u64;
                if self.head.len() == want {
                    self.header_read()?;
                    self.finish_if_done(found)?;
                }
                continue;
            };
            let take = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
            data = &data[take..];
            self.offset += take as u64;
            self.left = Some(left - take as u64);
            self.finish_if_done(found)?;
        }
        Ok(())
    }

    /// How many header bytes the current box needs read, as far as known.
    fn header_len(&self) -> usize {
        if self.head.len() < 8 {
            return 8;
        }
        let large = self.head[..4] == [0, 0, 0, 1];
        let base = if large { 16 } else { 8 };
        match &self.head[4..8] {
            b"moof" if !large => MOOF_HEAD,
            b"moof" => base + 16,
            _ => base,
        }
    }

    /// Once `head` holds all `header_len` says: how much body is left.
    fn header_read(&mut self) -> Result<()> {
        if self.head.len() < self.header_len() {
            // 8 bytes only told how long the header is: read on.
            return Ok(());
        }
        let size32 = u32::from_be_bytes([self.head[0], self.head[1], self.head[2], self.head[3]]);
        self.kind = [self.head[4], self.head[5], self.head[6], self.head[7]];
        let (size, header) = match size32 {
            0 => bail!("a top-level box to the end of the stream: not a live fMP4"),
            1 => {
                let mut large = [0u8; 8];
                large.copy_from_slice(&self.head[8..16]);
                (u64::from_be_bytes(large), 16u64)
            }
            n => (u64::from(n), 8u64),
        };
        ensure!(
            size >= self.head.len() as u64,
            "a {} box of {size} bytes: shorter than its header",
            String::from_utf8_lossy(&self.kind)
        );
        if &self.kind == b"moof" {
            let mfhd = header as usize;
            ensure!(
                &self.head[mfhd + 4..mfhd + 8] == b"mfhd",
                "a moof that does not start with mfhd"
            );
            let seq = &self.head[mfhd + 12..mfhd + 16];
            self.moof = Some(u32::from_be_bytes([seq[0], seq[1], seq[2], seq[3]]));
        }
        self.left = Some(size - self.head.len() as u64);
        Ok(())
    }

    /// At the end of a box: reports it and starts the next.
    fn finish_if_done(&mut self, found: &mut dyn FnMut(Found, u64)) -> Result<()> {
        if self.left != Some(0) {
            return Ok(());
        }
        match &self.kind {
            b"moov" => found(Found::Init, self.offset),
            b"mdat" => {
                if let Some(seq) = self.moof.take() {
                    found(Found::Fragment(seq), self.offset);
                }
            }
            _ => {}
        }
        self.head.clear();
        self.left = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((8 + body.len()) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn moof(seq: u32) -> Vec<u8> {
        let mut mfhd = vec![0, 0, 0, 0];
        mfhd.extend_from_slice(&seq.to_be_bytes());
        let mut body = boxed(b"mfhd", &mfhd);
        body.extend(boxed(b"traf", &[7; 30]));
        boxed(b"moof", &body)
    }

    fn stream() -> Vec<u8> {
        let mut out = boxed(b"ftyp", b"iso6mp41");
        out.extend(boxed(b"moov", &[1; 100]));
        for seq in [5, 6] {
            out.extend(boxed(b"prft", &[0; 20]));
            out.extend(moof(seq));
            out.extend(boxed(b"mdat", &[9; 50]));
        }
        // A large-size mdat (size field 1, then 64 bits).
        out.extend(moof(7));
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(b"mdat");
        out.extend_from_slice(&(16u64 + 10).to_be_bytes());
        out.extend_from_slice(&[3; 10]);
        out
    }

    fn scan_in_pieces(bytes: &[u8], piece: usize) -> Vec<(Found, u64)> {
        let mut scanner = BoxScanner::default();
        let mut found = Vec::new();
        for chunk in bytes.chunks(piece) {
            scanner
                .push(chunk, &mut |f, at| found.push((f, at)))
                .expect("valid boxes");
        }
        found
    }

    #[test]
    fn the_scanner_finds_the_init_and_each_fragment_however_the_bytes_are_cut() {
        let bytes = stream();
        let whole = scan_in_pieces(&bytes, bytes.len());
        let kinds: Vec<Found> = whole.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            kinds,
            [
                Found::Init,
                Found::Fragment(5),
                Found::Fragment(6),
                Found::Fragment(7)
            ]
        );
        assert_eq!(whole[3].1, bytes.len() as u64, "offset past the last mdat");
        for piece in [1, 3, 7, 23] {
            assert_eq!(scan_in_pieces(&bytes, piece), whole, "pieces of {piece}");
        }
    }

    #[test]
    fn chunked_framing_is_undone_across_reads_and_its_end_is_seen() {
        let wire = b"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nX-T: 1\r\n\r\n";
        for piece in [1, 2, 5, wire.len()] {
            let mut chunked = Chunked::default();
            let mut body = Vec::new();
            let mut ended = false;
            for part in wire.chunks(piece) {
                ended = chunked
                    .feed(part, &mut |b| {
                        body.extend_from_slice(b);
                        Ok(())
                    })
                    .expect("valid framing");
            }
            assert!(ended, "pieces of {piece}");
            assert_eq!(body, b"hello world!");
        }
    }

    #[test]
    fn the_head_must_be_200_and_names_its_framing() {
        let ok = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: video/mp4";
        assert!(matches!(parse_head(ok), Ok(Framing::Chunked(_))));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\nconnection: close"),
            Ok(Framing::Raw)
        ));
        assert!(parse_head(b"HTTP/1.1 503 Service Unavailable").is_err());
    }
}
