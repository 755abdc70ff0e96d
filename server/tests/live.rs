//! Live streams against the real binary: a publisher PUTs a fragmented MP4
//! in chunks (the bytes ffmpeg's `-f mp4 -movflags empty_moov+…` sends,
//! from the committed fixtures), viewers GET `/live/NAME` and receive the
//! init segment, the fragments from the last keyframe, then each new one;
//! who may publish; a second publisher; bad input; a stalled publisher; a
//! viewer that stops reading.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use caudal_media::live::{Ingested, LiveLimits, LiveSplitter};
use common::{TestServer, WAIT, parse_head};

const EVERY_FRAME: &[u8] = include_bytes!("../../media/tests/fixtures/live/every-frame.mp4");
const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The fixture cut as the server cuts it: init bytes, then each fragment's
/// bytes and whether it is a keyframe, from the first keyframe on (ffmpeg
/// puts an audio-only fragment first, where no viewer can start).
fn pieces() -> (Vec<u8>, Vec<(Vec<u8>, bool)>) {
    let mut splitter = LiveSplitter::new(LiveLimits::default());
    let mut init = Vec::new();
    let mut fragments = Vec::new();
    for item in splitter.push(EVERY_FRAME).expect("valid fixture") {
        match item {
            Ingested::Init(segment) => init = segment.bytes,
            Ingested::Fragment(f) => fragments.push((f.bytes, f.keyframe)),
        }
    }
    let first = fragments
        .iter()
        .position(|(_, keyframe)| *keyframe)
        .expect("a keyframe");
    (init, fragments.split_off(first))
}

/// A publisher: a PUT with a chunked body, sent a piece at a time.
struct Publisher(TcpStream);

impl Publisher {
    fn start(server: &TestServer, target: &str) -> Publisher {
        let mut stream = TcpStream::connect_timeout(&server.addr, WAIT).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        write!(
            stream,
            "PUT {target} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .expect("head");
        Publisher(stream)
    }

    /// Sends `data` as HTTP chunks of at most 1000 bytes (never aligned
    /// with the boxes); false once the server closed.
    fn send(&mut self, data: &[u8]) -> bool {
        data.chunks(1000).all(|piece| {
            let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
            chunk.extend_from_slice(piece);
            chunk.extend_from_slice(b"\r\n");
            self.0.write_all(&chunk).is_ok()
        })
    }

    /// Ends the body; the answer's status and body.
    fn finish(mut self) -> (u16, String) {
        let _ = self.0.write_all(b"0\r\n\r\n");
        self.answer()
    }

    /// The server's answer (sent early for a refusal).
    fn answer(&mut self) -> (u16, String) {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some((status, headers, len)) = parse_head(&got) {
                let body_len: usize = common::header_in(&headers, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if got.len() >= len + body_len {
                    let body = String::from_utf8_lossy(&got[len..len + body_len]).into_owned();
                    return (status, body);
                }
            }
            assert!(
                Instant::now() < deadline,
                "no answer: {:?}",
                String::from_utf8_lossy(&got)
            );
            match self.0.read(&mut buf) {
                Ok(0) => panic!(
                    "closed before the answer: {:?}",
                    String::from_utf8_lossy(&got)
                ),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(error) => panic!("reading the answer: {error}"),
            }
        }
    }
}

/// A viewer: a GET of the stream, its chunked body decoded as it comes.
struct Viewer {
    stream: TcpStream,
    raw: Vec<u8>,
    body: Vec<u8>,
    ended: bool,
}

impl Viewer {
    fn start(server: &TestServer, name: &str) -> (u16, Viewer) {
        let mut stream = TcpStream::connect_timeout(&server.addr, WAIT).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        write!(
            stream,
            "GET /live/{name} HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        .expect("get");
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some((status, _, len)) = parse_head(&raw) {
                raw.drain(..len);
                break status;
            }
            assert!(Instant::now() < deadline, "no head");
            if let Ok(n) = stream.read(&mut buf) {
                assert!(n > 0, "closed before the head");
                raw.extend_from_slice(&buf[..n]);
            }
        };
        let viewer = Viewer {
            stream,
            raw,
            body: Vec::new(),
            ended: false,
        };
        (status, viewer)
    }

    /// Reads until the body holds `len` bytes or it ended, within `wait`.
    fn read_until(&mut self, len: usize, wait: Duration) {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 64 * 1024];
        while self.body.len() < len && !self.ended && Instant::now() < deadline {
            self.decode();
            if self.body.len() >= len || self.ended {
                break;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.ended = true;
                }
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
        self.decode();
    }

    /// Moves whole chunks from `raw` into `body`.
    fn decode(&mut self) {
        loop {
            let Some(line_end) = self.raw.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size = std::str::from_utf8(&self.raw[..line_end])
                .ok()
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .expect("a chunk size");
            if size == 0 {
                self.ended = true;
                return;
            }
            let start = line_end + 2;
            if self.raw.len() < start + size + 2 {
                return;
            }
            self.body.extend_from_slice(&self.raw[start..start + size]);
            self.raw.drain(..start + size + 2);
        }
    }
}

#[test]
fn a_viewer_gets_the_init_and_the_last_gop_then_every_new_fragment() {
    let server = TestServer::start(&["--live-open"]);
    let (init, fragments) = pieces();
    // Up to a few fragments past the second keyframe (a second in).
    let second_keyframe = fragments
        .iter()
        .skip(1)
        .position(|(_, keyframe)| *keyframe)
        .expect("a second keyframe")
        + 1;
    let joined_at = second_keyframe + 6;
    let mut publisher = Publisher::start(&server, "/live/cam");
    let mut sent = init.clone();
    for (bytes, _) in &fragments[..joined_at] {
        sent.extend_from_slice(bytes);
    }
    assert!(publisher.send(&sent));
    // The viewer joins then: the init, then from that keyframe on.
    let last_keyframe = second_keyframe;
    std::thread::sleep(Duration::from_millis(200));
    let (status, mut viewer) = Viewer::start(&server, "cam");
    assert_eq!(status, 200);
    let mut expected = init.clone();
    for (bytes, _) in &fragments[last_keyframe..joined_at] {
        expected.extend_from_slice(bytes);
    }
    viewer.read_until(expected.len(), WAIT);
    assert_eq!(viewer.body.len(), expected.len());
    assert!(
        viewer.body == expected,
        "init + ring from the last keyframe"
    );
    // Then each new fragment, in order, as it is published.
    let mut more = Vec::new();
    for (bytes, _) in &fragments[joined_at..] {
        more.extend_from_slice(bytes);
    }
    assert!(publisher.send(&more));
    expected.extend_from_slice(&more);
    viewer.read_until(expected.len(), WAIT);
    assert!(viewer.body == expected, "every fragment after, in order");
    let (status, body) = publisher.finish();
    assert_eq!((status, body.as_str()), (200, "stream ended\n"));
    let log = server.log();
    assert!(
        log.contains("publisher connected") && log.contains("publisher ended"),
        "{log}"
    );
}

#[test]
fn a_second_publisher_is_refused_unless_it_may_take_over() {
    let (init, fragments) = pieces();
    let server = TestServer::start(&["--live-open"]);
    let mut first = Publisher::start(&server, "/live/one");
    assert!(first.send(&init));
    assert!(first.send(&fragments[0].0));
    std::thread::sleep(Duration::from_millis(200));
    // Refused on its head: nothing of its body is read (sending it would
    // race the server closing the connection).
    let mut second = Publisher::start(&server, "/live/one");
    let (status, body) = second.answer();
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("another publisher"), "{body}");
    assert_eq!(first.finish().0, 200);

    let server = TestServer::start(&["--live-open", "--live-takeover"]);
    let mut first = Publisher::start(&server, "/live/one");
    assert!(first.send(&init));
    std::thread::sleep(Duration::from_millis(200));
    let mut second = Publisher::start(&server, "/live/one");
    assert!(second.send(&init));
    std::thread::sleep(Duration::from_millis(200));
    // The first learns it was taken over with its next piece.
    first.send(&fragments[0].0);
    let (status, body) = first.answer();
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("took the stream over"), "{body}");
    assert_eq!(second.finish().0, 200);
}

#[test]
fn bad_input_is_refused_with_its_reason_and_other_streams_go_on() {
    let (init, fragments) = pieces();
    let server = TestServer::start(&["--live-open"]);
    let mut good = Publisher::start(&server, "/live/good");
    assert!(good.send(&init));
    assert!(good.send(&fragments[0].0));
    std::thread::sleep(Duration::from_millis(200));
    let (_, mut viewer) = Viewer::start(&server, "good");
    let mut impossible = init.clone();
    impossible.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
    impossible.extend_from_slice(b"mdat");
    let mut other = init.clone();
    other.extend_from_slice(&fragments[0].0);
    other.extend_from_slice(include_bytes!(
        "../../media/tests/fixtures/rechunk/bframes.mp4"
    ));
    for (case, body, reason) in [
        (
            "text",
            b"this is not a video at all".to_vec(),
            "not a fragmented MP4",
        ),
        ("huge box", impossible, "larger than"),
        ("codecs change", other, "tracks changed"),
    ] {
        let mut bad = Publisher::start(&server, "/live/bad");
        bad.send(&body);
        let (status, answer) = bad.answer();
        assert_eq!(status, 400, "{case}: {answer}");
        assert!(answer.contains(reason), "{case}: {answer}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The good stream went on meanwhile.
    assert!(good.send(&fragments[1].0));
    let want = init.len() + fragments[0].0.len() + fragments[1].0.len();
    viewer.read_until(want, WAIT);
    assert_eq!(viewer.body.len(), want);
    let log = server.log();
    assert!(log.contains("not a live stream Caudal can take"), "{log}");
    // No viewer gets a stream that never started.
    assert_eq!(common::raw_get(server.addr, "/live/nothing").status, 404);
}

/// `caudal sign ARGS` (it must succeed).
fn sign(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_caudal"))
        .arg("sign")
        .args(args)
        .output()
        .expect("run caudal sign");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn publishing_needs_a_token_whose_acl_covers_the_name_or_live_open() {
    let (init, _) = pieces();
    let server = TestServer::start(&["--key", KEY]);
    let publish = |target: &str| {
        let mut publisher = Publisher::start(&server, target);
        publisher.send(&init);
        publisher.finish()
    };
    let (status, body) = publish("/live/cam");
    assert_eq!(status, 403, "no token: {body}");
    let other = sign(&["--acl", "/live/other", "--ttl", "5m", "--key", KEY]);
    let (status, body) = publish(&format!("/live/cam?__token__={other}"));
    assert_eq!(status, 403, "another name's token: {body}");
    let token = sign(&["--acl", "/live/*", "--ttl", "5m", "--key", KEY]);
    assert!(token.contains("acl=/live/*"), "{token}");
    let (status, body) = publish(&format!("/live/cam?__token__={token}"));
    assert_eq!((status, body.as_str()), (200, "stream ended\n"));
    // Without a key, only --live-open from loopback publishes.
    let closed = TestServer::start(&[]);
    let mut publisher = Publisher::start(&closed, "/live/cam");
    publisher.send(&init);
    assert_eq!(publisher.finish().0, 403);
}

#[test]
fn a_stalled_publisher_is_cut_and_its_viewers_end_after_the_linger() {
    let (init, fragments) = pieces();
    let server = TestServer::start(&["--live-open", "--live-idle", "1", "--live-linger", "1"]);
    let mut publisher = Publisher::start(&server, "/live/stall");
    assert!(publisher.send(&init));
    assert!(publisher.send(&fragments[0].0));
    std::thread::sleep(Duration::from_millis(200));
    let (status, mut viewer) = Viewer::start(&server, "stall");
    assert_eq!(status, 200);
    let started = Instant::now();
    let (status, body) = publisher.answer();
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("sent nothing"), "{body}");
    viewer.read_until(usize::MAX, Duration::from_secs(5));
    assert!(viewer.ended, "the viewer's body ends once the stream does");
    let took = started.elapsed();
    assert!(
        took > Duration::from_millis(1500) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(
        viewer.body.len(),
        init.len() + fragments[0].0.len(),
        "{:?}",
        String::from_utf8_lossy(&viewer.raw)
    );
}

/// `fragment` with its `mdat` grown by `extra` bytes of padding.
fn padded(fragment: &[u8], extra: usize) -> Vec<u8> {
    let mut at = 0;
    while at + 8 <= fragment.len() {
        let size = u32::from_be_bytes(fragment[at..at + 4].try_into().expect("4")) as usize;
        if &fragment[at + 4..at + 8] == b"mdat" {
            let mut out = fragment.to_vec();
            let grown = u32::try_from(size + extra).expect("fits");
            out[at..at + 4].copy_from_slice(&grown.to_be_bytes());
            out.resize(fragment.len() + extra, 0);
            return out;
        }
        at += size;
    }
    panic!("no mdat");
}

/// A viewer that stops reading never delays the others — each fragment
/// reaches the reading viewer at once — and is cut once it has been
/// behind for the bound (10 s).
#[test]
fn a_viewer_that_stops_reading_delays_no_one_and_is_cut() {
    let (init, fragments) = pieces();
    let server = TestServer::start(&["--live-open"]);
    let mut publisher = Publisher::start(&server, "/live/busy");
    assert!(publisher.send(&init));
    assert!(publisher.send(&fragments[0].0));
    std::thread::sleep(Duration::from_millis(200));
    // The stalled viewer: a small receive buffer, never read.
    let stalled = {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket.set_recv_buffer_size(64 * 1024).expect("SO_RCVBUF");
        socket
            .connect_timeout(&server.addr.into(), WAIT)
            .expect("connect");
        let mut stream: TcpStream = socket.into();
        write!(stream, "GET /live/busy HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("get");
        stream
    };
    let (_, mut reader) = Viewer::start(&server, "busy");
    let mut expected = init.len() + fragments[0].0.len();
    reader.read_until(expected, WAIT);
    // 24 MiB, a MiB at a time as the reading viewer takes it: more than
    // the stalled viewer's queue and socket hold.
    let big = padded(&fragments[0].0, 1 << 20);
    let started = Instant::now();
    for _ in 0..24 {
        assert!(publisher.send(&big));
        expected += big.len();
        reader.read_until(expected, WAIT);
    }
    assert_eq!(reader.body.len(), expected, "the reading viewer got it all");
    println!(
        "24 MiB reached the reading viewer in {:?}",
        started.elapsed()
    );
    // Then a small fragment every 500 ms for 11 s: each reaches the reading
    // viewer within 200 ms.
    let mut worst = Duration::ZERO;
    for i in 0..22 {
        let (bytes, _) = &fragments[1 + i % (fragments.len() - 1)];
        let sent = Instant::now();
        assert!(publisher.send(bytes));
        expected += bytes.len();
        reader.read_until(expected, WAIT);
        assert_eq!(reader.body.len(), expected);
        worst = worst.max(sent.elapsed());
        std::thread::sleep(Duration::from_millis(500));
    }
    println!("worst fragment arrival beside a stalled viewer: {worst:?}");
    assert!(worst < Duration::from_millis(200), "{worst:?}");
    let metrics =
        String::from_utf8_lossy(&common::raw_get(server.addr, "/metrics").body).into_owned();
    assert!(
        metrics.contains("caudal_live_viewers{stream=\"busy\"} 1"),
        "the stalled viewer was cut: {metrics}"
    );
    assert!(
        metrics.contains("caudal_live_fragments_dropped_total{stream=\"busy\"}"),
        "{metrics}"
    );
    drop(stalled);
    assert_eq!(publisher.finish().0, 200);
}

/// `--live-record DIR` writes the stream as it arrives: the init segment
/// and every fragment, a fragmented MP4 the splitter reads back whole; the
/// listing at `/api/live` shows the stream while it is live.
#[test]
fn a_recorded_stream_is_the_init_and_every_fragment_and_the_listing_shows_it() {
    let (init, fragments) = pieces();
    let dir = tempfile::tempdir().expect("dir");
    let record = dir.path().to_str().expect("utf-8").to_owned();
    let server = TestServer::start(&["--live-open", "--live-record", &record]);
    let mut publisher = Publisher::start(&server, "/live/rec");
    let mut all = init.clone();
    for (bytes, _) in &fragments {
        all.extend_from_slice(bytes);
    }
    assert!(publisher.send(&all));
    std::thread::sleep(Duration::from_millis(200));
    let listing = common::raw_get(server.addr, "/api/live");
    assert_eq!(listing.status, 200);
    let streams: serde_json::Value = serde_json::from_slice(&listing.body).expect("json");
    assert_eq!(streams[0]["name"], "rec", "{streams}");
    assert_eq!(streams[0]["live"], true, "{streams}");
    assert!(
        streams[0]["mime"]
            .as_str()
            .is_some_and(|m| m.contains("avc1")),
        "{streams}"
    );
    assert_eq!(publisher.finish().0, 200);
    let deadline = Instant::now() + WAIT;
    let recorded = loop {
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read dir")
            .filter_map(Result::ok)
            .collect();
        if let [file] = &files[..]
            && std::fs::metadata(file.path()).is_ok_and(|m| m.len() as usize == all.len())
        {
            break std::fs::read(file.path()).expect("read");
        }
        assert!(
            Instant::now() < deadline,
            "no recording of {} bytes: {files:?}",
            all.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(recorded == all, "the recording is what was published");
    let mut splitter = LiveSplitter::new(LiveLimits::default());
    let read_back = splitter.push(&recorded).expect("a valid fragmented MP4");
    splitter.finish().expect("whole");
    assert_eq!(read_back.len(), 1 + fragments.len());
}

const LIVE_WEBM: &[u8] = include_bytes!("../../media/tests/fixtures/live/live.webm");

/// A WebM publisher (ffmpeg's `-f webm -live 1`): a viewer who joins gets
/// the WebM header and the stream from the cluster of the last keyframe,
/// as `video/webm; codecs=…`, then every new block; the HLS playlist says
/// plainly that HLS carries fragmented MP4 only.
#[test]
fn a_webm_stream_fans_out_from_its_last_keyframe_cluster_and_has_no_hls() {
    let server = TestServer::start(&["--live-open"]);
    let mut reader = caudal_media::live::LiveReader::new(LiveLimits::default());
    let items = reader.push(LIVE_WEBM).expect("the fixture reads");
    let Some(Ingested::Init(init)) = items.first() else {
        panic!("no init");
    };
    let pieces: Vec<(&[u8], bool)> = items[1..]
        .iter()
        .filter_map(|i| match i {
            Ingested::Fragment(f) => Some((&f.bytes[..], f.keyframe)),
            Ingested::Init(_) => None,
        })
        .collect();
    // Publish up to a little past the second keyframe (1 s in).
    let keyframes: Vec<usize> = pieces
        .iter()
        .enumerate()
        .filter(|(_, p)| p.1)
        .map(|(i, _)| i)
        .collect();
    assert!(keyframes.len() >= 2, "{keyframes:?}");
    let joined_at = keyframes[1] + 10;
    let mut publisher = Publisher::start(&server, "/live/webcam");
    let mut sent = init.bytes.clone();
    for (bytes, _) in &pieces[..joined_at] {
        sent.extend_from_slice(bytes);
    }
    assert!(publisher.send(&sent));
    std::thread::sleep(Duration::from_millis(200));
    let (status, mut viewer) = Viewer::start(&server, "webcam");
    assert_eq!(status, 200);
    let mut expected = init.bytes.clone();
    for (bytes, _) in &pieces[keyframes[1]..joined_at] {
        expected.extend_from_slice(bytes);
    }
    viewer.read_until(expected.len(), WAIT);
    assert!(
        viewer.body == expected,
        "the WebM header, then from the last keyframe's cluster"
    );
    let mut more = Vec::new();
    for (bytes, _) in &pieces[joined_at..] {
        more.extend_from_slice(bytes);
    }
    assert!(publisher.send(&more));
    expected.extend_from_slice(&more);
    viewer.read_until(expected.len(), WAIT);
    assert!(viewer.body == expected, "every block after, in order");
    // The listing and the playlist.
    let listing = common::raw_get(server.addr, "/api/live");
    let listing = String::from_utf8_lossy(&listing.body).into_owned();
    assert!(
        listing.contains("video/webm; codecs=\\\"vp8,opus\\\""),
        "{listing}"
    );
    let playlist = common::raw_get(server.addr, "/live/webcam.m3u8");
    assert_eq!(playlist.status, 415);
    assert!(String::from_utf8_lossy(&playlist.body).contains("fragmented MP4 only"));
    assert_eq!(publisher.finish().0, 200);
}
