//! Pacing on loopback: the cap the kernel holds on the server's socket (as
//! `ss -ti` reads it: `TCP_INFO` over netlink) follows the rule while a
//! paced response is in flight, is absent at startup, after a seek, after a
//! stall and with a low buffer, and is gone between keep-alive requests;
//! the delivery rate follows the cap; the CMSD headers say what was done.

#[allow(dead_code)] // each test binary uses part of the harness
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Fields, TestServer, WAIT, header_in as header, parse_head, raw_get, write_huge};

/// CMCD of a healthy viewer: 3 Mbit/s media, 20 s buffered. The rule's m
/// at 20 s of a 30 s goal is 3.2 - 0.4 x 20/30, so the cap is 8.8 Mbit/s.
const HEALTHY: &str = "br%3D3000%2Cbl%3D20000%2Cot%3Dav%2Csf%3Do%2Csid%3D%22pace-test%22%2Cst%3Dv";
const HEALTHY_CAP_BYTES: f64 = 3_000_000.0 * (3.2 - 0.4 * 20.0 / 30.0) / 8.0;

/// Whether `ss` is here; under CI a missing tool fails the test.
fn have_ss() -> bool {
    let found = Command::new("ss")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "ss (iproute2) is missing; under CI a test whose tool is missing fails"
        );
        eprintln!("skipped: ss (iproute2) is not installed");
    }
    found
}

/// The pacing cap on the server's end of `client`'s connection, bytes per
/// second; `None` when uncapped.
fn server_cap(server: &TestServer, client: &TcpStream) -> Option<u64> {
    let client_port = client.local_addr().expect("addr").port();
    let filter = format!(
        "( sport = :{} and dport = :{client_port} )",
        server.addr.port()
    );
    let out = Command::new("ss")
        .args(["-tinH", "state", "established", &filter])
        .output()
        .expect("ss");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("rtt:"),
        "ss found no such connection: {text:?}"
    );
    // `pacing_rate CURbps/MAXbps` when capped, `pacing_rate CURbps` when not.
    let rates = text
        .split("pacing_rate ")
        .nth(1)?
        .split_whitespace()
        .next()?;
    let (_, max) = rates.split_once('/')?;
    let bits: u64 = max.trim_end_matches("bps").parse().ok()?;
    Some(bits / 8)
}

/// Sends a GET for `target` with `range` on `stream` (kept alive) and
/// reads the head; the body bytes already read come back with it.
fn ask(stream: &mut TcpStream, target: &str, range: &str) -> (u16, Fields, Vec<u8>) {
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nRange: bytes={range}\r\n\r\n"
    )
    .expect("write");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some((status, headers, len)) = parse_head(&received) {
            return (status, headers, received[len..].to_vec());
        }
        let n = stream.read(&mut buf).expect("read head");
        assert!(n > 0, "closed before the head");
        received.extend_from_slice(&buf[..n]);
    }
}

/// Reads the rest of a body of `len` bytes; when each read ended, with
/// the body bytes had by then.
fn read_body(stream: &mut TcpStream, len: usize, mut have: usize) -> Vec<(Instant, usize)> {
    let started = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let mut progress = vec![(started, have)];
    while have < len {
        assert!(started.elapsed() < WAIT, "body too slow");
        let n = stream
            .read(&mut buf[..(len - have).min(64 * 1024)])
            .expect("read body");
        assert!(n > 0, "closed mid-body");
        have += n;
        progress.push((Instant::now(), have));
    }
    progress
}

/// Bytes per second between the reads that passed 25 % and 90 % of the
/// body: the steady rate, without the first window's burst.
fn steady_rate(progress: &[(Instant, usize)], len: usize) -> f64 {
    let at = |share: f64| {
        progress
            .iter()
            .find(|(_, have)| *have as f64 >= share * len as f64)
            .copied()
            .expect("the body was read")
    };
    let ((t1, b1), (t2, b2)) = (at(0.25), at(0.9));
    (b2 - b1) as f64 / (t2 - t1).as_secs_f64()
}

fn connect(server: &TestServer) -> TcpStream {
    let stream = TcpStream::connect_timeout(&server.addr, WAIT).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream
}

#[test]
fn a_healthy_viewer_is_paced_at_the_rules_rate_and_the_next_request_is_not() {
    if !have_ss() {
        return;
    }
    let server = TestServer::start(&["--pace", "cmcd"]);
    write_huge(&server);
    let mut stream = connect(&server);
    let len = 2_000_000;
    let target = format!("/media/huge.mp4?CMCD={HEALTHY}");
    let (status, headers, body) = ask(&mut stream, &target, &format!("0-{}", len - 1));
    assert_eq!(status, 206);
    // The body is read as it comes; meanwhile the kernel holds the rule's cap.
    let mut reader = stream.try_clone().expect("clone");
    let have = body.len();
    let progress = std::thread::spawn(move || read_body(&mut reader, len, have));
    std::thread::sleep(Duration::from_millis(300));
    let cap = server_cap(&server, &stream).expect("capped while paced") as f64;
    assert!(
        (cap / HEALTHY_CAP_BYTES - 1.0).abs() < 0.01,
        "cap {cap} B/s, rule {HEALTHY_CAP_BYTES} B/s"
    );
    let dynamic = header(&headers, "cmsd-dynamic").expect("CMSD-Dynamic");
    assert!(dynamic.starts_with("\"caudal\""), "{dynamic}");
    assert!(
        dynamic.contains(";mb=8800"),
        "the allowed rate in kbps: {dynamic}"
    );
    assert!(dynamic.contains(";rtt="), "{dynamic}");
    let static_ = header(&headers, "cmsd-static").expect("CMSD-Static");
    assert!(
        static_.contains("sf=o") && static_.contains("st=v"),
        "{static_}"
    );
    // The body arrives at about the cap (TCP paces without fq: within 15 %).
    let rate = steady_rate(&progress.join().expect("reader"), len);
    println!("steady delivery {rate:.0} B/s under a cap of {HEALTHY_CAP_BYTES:.0} B/s");
    assert!(
        (rate / HEALTHY_CAP_BYTES - 1.0).abs() < 0.15,
        "delivered at {rate:.0} B/s against a cap of {HEALTHY_CAP_BYTES:.0}"
    );
    // The response ended: the keep-alive connection is uncapped, and the
    // next request (without CMCD) goes out at full speed.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        server_cap(&server, &stream),
        None,
        "cap carried past the response"
    );
    let (status, _, _) = ask(&mut stream, "/media/huge.mp4", "0-");
    assert_eq!(status, 206);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        server_cap(&server, &stream),
        None,
        "an unpaced request capped"
    );
}

#[test]
fn startup_seek_stall_and_a_low_buffer_are_never_capped() {
    if !have_ss() {
        return;
    }
    let server = TestServer::start(&["--pace", "cmcd"]);
    write_huge(&server);
    for (case, cmcd) in [
        ("startup", format!("{HEALTHY}%2Csu")),
        ("seek", format!("{HEALTHY}%2Csu")),
        ("stall", format!("{HEALTHY}%2Cbs")),
        (
            "low buffer",
            "br%3D3000%2Cbl%3D2000%2Csid%3D%22low%22".to_string(),
        ),
    ] {
        let mut stream = connect(&server);
        let range = if case == "seek" { "12000000-" } else { "0-" };
        let (status, headers, _) = ask(&mut stream, &format!("/media/huge.mp4?CMCD={cmcd}"), range);
        assert_eq!(status, 206, "{case}");
        // The body (24 MiB, unread) is still in flight.
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(server_cap(&server, &stream), None, "{case}: capped");
        let dynamic = header(&headers, "cmsd-dynamic").expect("CMSD-Dynamic");
        assert!(!dynamic.contains("mb="), "{case}: {dynamic}");
    }
}

#[test]
fn without_cmcd_nothing_is_paced_by_default_and_pace_off_paces_nothing() {
    if !have_ss() {
        return;
    }
    write_huge_for_both(&["--pace", "off"], |server, stream| {
        assert_eq!(
            server_cap(server, stream),
            None,
            "--pace off capped a healthy viewer"
        );
    });
}

/// Runs `check` while a healthy viewer's response is in flight from a
/// server started with `flags`.
fn write_huge_for_both(flags: &[&str], check: impl Fn(&TestServer, &TcpStream)) {
    let server = TestServer::start(flags);
    write_huge(&server);
    let mut stream = connect(&server);
    let (status, _, _) = ask(
        &mut stream,
        &format!("/media/huge.mp4?CMCD={HEALTHY}"),
        "0-",
    );
    assert_eq!(status, 206);
    std::thread::sleep(Duration::from_millis(200));
    check(&server, &stream);
}

/// `--pace always` paces a player that sends no CMCD (native `<video>`,
/// any HTTP client) by the buffer the server estimates: the media it
/// handed out (at the file's own bit rate, read from its index) ahead of
/// the time since the run of contiguous requests began.
#[test]
fn without_cmcd_pace_always_estimates_the_buffer_from_what_was_served() {
    estimated_buffer_paces(&["--pace", "always"], "/media/caudal-sample.mp4");
}

/// hls.js sends CMCD without `bl`, and `br=0` for a playlist without
/// BANDWIDTH: the server estimates that buffer too, at the file's bit rate.
#[test]
fn cmcd_without_a_buffer_length_is_paced_by_the_estimate() {
    estimated_buffer_paces(
        &["--pace", "cmcd"],
        "/media/caudal-sample.mp4?CMCD=br%3D0%2Cd%3D2000%2Cot%3Dav%2Csf%3Dh%2Csid%3D%22hls%22",
    );
}

/// A viewer of the sample 12 s ahead by what it was served is paced; its
/// first request and a seek are not.
fn estimated_buffer_paces(flags: &[&str], file: &str) {
    let media = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/media");
    let server = TestServer::start_serving(&media, flags);
    let len = std::fs::metadata(media.join("caudal-sample.mp4"))
        .expect("sample")
        .len();
    let per_second = len / 20; // the sample is 20 s
    let get = |stream: &mut TcpStream, range: String| {
        let (status, headers, body) = ask(stream, file, &range);
        assert_eq!(status, 206, "{range}");
        let length: usize = header(&headers, "content-length")
            .expect("length")
            .parse()
            .expect("n");
        read_body(stream, length, body.len());
        header(&headers, "cmsd-dynamic")
            .expect("CMSD-Dynamic")
            .to_string()
    };
    let mut stream = connect(&server);
    // A first look (the server reads the file's bit rate meanwhile).
    let first = get(&mut stream, "0-99".into());
    assert!(
        !first.contains("mb="),
        "a first request is never paced: {first}"
    );
    std::thread::sleep(Duration::from_millis(500));
    // 12 s of media at once, then the next 2 s: 12 s are ahead of the
    // viewer, so the next request is paced.
    let twelve = 100 + 12 * per_second;
    get(&mut stream, format!("100-{}", twelve - 1));
    let next = get(
        &mut stream,
        format!("{twelve}-{}", twelve + 2 * per_second - 1),
    );
    assert!(
        next.contains(";mb="),
        "a viewer 12 s ahead is paced: {next}"
    );
    // A seek (back to the start) begins a new run: unpaced.
    let seek = get(&mut stream, "1000-1999".into());
    assert!(!seek.contains("mb="), "after a seek: {seek}");
}

/// Native `<video>` asks for the whole file at once and sends no CMCD:
/// under `--pace always` that one long response is decided again as it
/// goes — unpaced at its start, capped once it has sent a MiB well ahead of
/// its playhead (the sample: 1.5 MB, 20 s, 75 KB/s).
#[test]
fn a_whole_file_response_without_cmcd_is_capped_once_it_runs_ahead() {
    if !have_ss() {
        return;
    }
    // Both paths: the body polled piece by piece, and `sendfile`'s calls.
    for zero_copy in ["off", "on"] {
        whole_file_is_capped_once_it_runs_ahead(zero_copy);
    }
}

fn whole_file_is_capped_once_it_runs_ahead(zero_copy: &str) {
    let server = TestServer::start_with_defaults(&["--pace", "always", "--zero-copy", zero_copy]);
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/media/caudal-sample.mp4");
    std::fs::copy(&sample, server.media().join("sample.mp4")).expect("copy the sample");
    let len = std::fs::metadata(&sample).expect("sample").len() as usize;
    // A first look, so that the server has read the file's bit rate.
    let mut stream = connect(&server);
    let (_, headers, body) = ask(&mut stream, "/media/sample.mp4", "0-99");
    let length: usize = header(&headers, "content-length")
        .expect("length")
        .parse()
        .expect("n");
    read_body(&mut stream, length, body.len());
    std::thread::sleep(Duration::from_millis(500));
    let mut stream = connect(&server);
    let (status, _, body) = ask(&mut stream, "/media/sample.mp4", "0-");
    assert_eq!(status, 206);
    let mut reader = stream.try_clone().expect("clone");
    let have = body.len();
    let progress = std::thread::spawn(move || read_body(&mut reader, len, have));
    std::thread::sleep(Duration::from_millis(300));
    let cap = server_cap(&server, &stream)
        .unwrap_or_else(|| panic!("zero-copy {zero_copy}: capped once a MiB ran ahead"));
    // About 13 s ahead of a 20 s file's playhead: m = 3.2 - 0.4 x 13/30.
    let expected = 1_506_808.0 / 20.0 * (3.2 - 0.4 * 13.9 / 30.0);
    assert!(
        (cap as f64 / expected - 1.0).abs() < 0.1,
        "cap {cap} B/s, about {expected:.0} expected"
    );
    progress.join().expect("reader");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        server_cap(&server, &stream),
        None,
        "uncapped after the body"
    );
}

/// The access log says, per request, the player's session as its CMCD
/// told it and the pace its response got.
#[test]
fn the_access_log_names_the_cmcd_session_and_the_pace() {
    let server = TestServer::start(&["--pace", "cmcd"]);
    write_huge(&server);
    for (cmcd, range) in [
        (format!("{HEALTHY}%2Csu"), "0-999"),
        (HEALTHY.to_string(), "1000-1999"),
    ] {
        let mut stream = connect(&server);
        let (status, headers, body) =
            ask(&mut stream, &format!("/media/huge.mp4?CMCD={cmcd}"), range);
        assert_eq!(status, 206);
        let length: usize = header(&headers, "content-length")
            .expect("length")
            .parse()
            .expect("n");
        read_body(&mut stream, length, body.len());
    }
    let deadline = Instant::now() + WAIT;
    let log = loop {
        let log = server.log();
        if log.matches("/media/huge.mp4").count() >= 2 || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // A line is written when its response ends, which can follow the next
    // request's on another connection: find each by its range.
    let line_for = |range: &str| -> Vec<&str> {
        log.lines()
            .filter(|l| l.contains("/media/huge.mp4") && l.contains(range))
            .collect()
    };
    let lines = [
        line_for("range=bytes=0-999 "),
        line_for("range=bytes=1000-1999 "),
    ];
    assert!(lines.iter().all(|l| l.len() == 1), "{log}");
    let lines = [lines[0][0], lines[1][0]];
    assert!(
        lines[0].contains("cmcd[sid=pace-test bl=20.0s br=3000k su]"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("unpaced(startup)"), "{}", lines[0]);
    assert!(
        lines[1].contains("cmcd[sid=pace-test bl=20.0s br=3000k]"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("paced=8.80Mbit/s"), "{}", lines[1]);
    assert!(
        !lines[1].contains("CMCD="),
        "the query argument is not logged raw: {}",
        lines[1]
    );
}

/// Where the kernel cannot pace (or `--pace-by app`), the application does:
/// the body leaves at the rule's rate by a token bucket, the socket holds
/// no cap, the log says so, and the next request goes out at full speed.
#[test]
fn pace_by_app_delivers_at_the_rules_rate_without_a_kernel_cap() {
    if !have_ss() {
        return;
    }
    let server = TestServer::start(&["--pace", "cmcd", "--pace-by", "app"]);
    write_huge(&server);
    let mut stream = connect(&server);
    let len = 2_000_000;
    let target = format!("/media/huge.mp4?CMCD={HEALTHY}");
    let (status, headers, body) = ask(&mut stream, &target, &format!("0-{}", len - 1));
    assert_eq!(status, 206);
    let dynamic = header(&headers, "cmsd-dynamic").expect("CMSD-Dynamic");
    assert!(dynamic.contains(";mb=8800"), "{dynamic}");
    let mut reader = stream.try_clone().expect("clone");
    let have = body.len();
    let progress = std::thread::spawn(move || read_body(&mut reader, len, have));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server_cap(&server, &stream),
        None,
        "a kernel cap under --pace-by app"
    );
    let rate = steady_rate(&progress.join().expect("reader"), len);
    println!("steady delivery {rate:.0} B/s, the rule's {HEALTHY_CAP_BYTES:.0} B/s");
    assert!(
        (rate / HEALTHY_CAP_BYTES - 1.0).abs() < 0.15,
        "delivered at {rate:.0} B/s against a pace of {HEALTHY_CAP_BYTES:.0}"
    );
    // The next request, without CMCD: at loopback speed (24 MiB in well
    // under the 2.9 s the pace would take).
    let started = Instant::now();
    let (status, headers, body) = ask(&mut stream, "/media/huge.mp4", "0-");
    assert_eq!(status, 206);
    let length: usize = header(&headers, "content-length")
        .expect("length")
        .parse()
        .expect("n");
    read_body(&mut stream, length, body.len());
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "an unpaced response after a paced one took {took:?}"
    );
    let deadline = Instant::now() + WAIT;
    let log = loop {
        let log = server.log();
        if log.matches("/media/huge.mp4").count() >= 2 || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(log.contains("paced=8.80Mbit/s(app)"), "{log}");
}

/// `--max-egress` shares one budget by urgency: a viewer starting up gets
/// what is left after every viewer's bit rate; a calm viewer that joins is
/// held to its bit rate and told so (`du`); when it ends, the starting
/// viewer gets the whole budget back.
#[test]
fn max_egress_serves_the_starving_viewer_first_and_says_du_to_the_one_it_holds_back() {
    if !have_ss() {
        return;
    }
    // 16 Mbit/s = 2 MB/s; the media is 3 Mbit/s = 375 kB/s.
    let server = TestServer::start(&["--pace", "cmcd", "--max-egress", "16M"]);
    write_huge(&server);
    let starting = "/media/huge.mp4?CMCD=br%3D3000%2Csu%2Csid%3D%22a%22";
    let mut first = connect(&server);
    let len = 10_000_000;
    let (status, headers, body) = ask(&mut first, starting, &format!("0-{}", len - 1));
    assert_eq!(status, 206);
    let dynamic = header(&headers, "cmsd-dynamic").expect("CMSD-Dynamic");
    assert!(
        dynamic.contains(";mb=16000") && !dynamic.contains("du"),
        "{dynamic}"
    );
    let mut reader = first.try_clone().expect("clone");
    let have = body.len();
    let progress = std::thread::spawn(move || read_body(&mut reader, len, have));
    std::thread::sleep(Duration::from_millis(300));
    // A share that moved is read by the response at its next piece: on
    // hyper's path up to its write buffer (400 KiB, 0.2 s here) later.
    let near = |stream: &TcpStream, expected: f64, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let cap = server_cap(&server, stream).map(|cap| cap as f64);
            if cap.is_some_and(|cap| (cap / expected - 1.0).abs() < 0.01) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {cap:?} B/s, {expected} expected"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    near(&first, 2_000_000.0, "alone");
    // A calm viewer (20 s buffered) joins: it keeps its bit rate only.
    let mut second = connect(&server);
    let calm_len = 750_000;
    let (status, headers, body) = ask(
        &mut second,
        &format!("/media/huge.mp4?CMCD={HEALTHY}"),
        &format!("0-{}", calm_len - 1),
    );
    assert_eq!(status, 206);
    let dynamic = header(&headers, "cmsd-dynamic").expect("CMSD-Dynamic");
    assert!(
        dynamic.contains(";mb=3000;du"),
        "held back and told: {dynamic}"
    );
    let mut reader = second.try_clone().expect("clone");
    let have = body.len();
    let calm = std::thread::spawn(move || read_body(&mut reader, calm_len, have));
    std::thread::sleep(Duration::from_millis(300));
    near(&second, 375_000.0, "the calm viewer");
    near(&first, 1_625_000.0, "the starting viewer beside it");
    calm.join().expect("calm reader");
    std::thread::sleep(Duration::from_millis(300));
    near(&first, 2_000_000.0, "alone again");
    progress.join().expect("reader");
    let metrics = String::from_utf8_lossy(&raw_get(server.addr, "/metrics").body).into_owned();
    assert!(
        metrics.contains("caudal_pacing_egress_slowed_total 1"),
        "{metrics}"
    );
}

/// CMCD v2 reports (`POST /api/cmcd`, one payload per line, what Caudal's
/// live player sends between its endless body's bytes): the live latency
/// they report lands in `/metrics`; a line that is not CMCD is refused
/// with its reason, and only POST is taken.
#[test]
fn cmcd_reports_put_the_live_latency_players_report_in_metrics() {
    let server = TestServer::start(&[]);
    let post = |body: &str| {
        let request = format!(
            "POST /api/cmcd HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        common::raw_exchange(server.addr, request.as_bytes())
    };
    let answer = post("ltc=640,bl=500,sid=\"a\",st=l,v=2\nbs,ltc=1500,sid=\"b\",st=l,v=2\n");
    assert_eq!(answer.status, 204, "{answer:?}");
    let refused = post("ltc=\"slow\"");
    assert_eq!(refused.status, 400);
    assert!(String::from_utf8_lossy(&refused.body).contains("cannot be read"));
    assert_eq!(post("").status, 400, "an empty report");
    assert_eq!(raw_get(server.addr, "/api/cmcd").status, 405);
    let metrics = String::from_utf8_lossy(&raw_get(server.addr, "/metrics").body).into_owned();
    assert!(
        metrics.contains("caudal_cmcd_live_latency_seconds_count 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("caudal_cmcd_live_latency_seconds_sum 2.14"),
        "{metrics}"
    );
    assert!(metrics.contains("caudal_cmcd_stalls_total 1"), "{metrics}");
}
