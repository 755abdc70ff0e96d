//! `cargo xtask bench pace`: pacing by the buffer against a real
//! bottleneck. Two network namespaces made here (as root), joined by a veth
//! pair whose server side has a `tbf` rate limit with a shallow queue (the
//! kernel here has `tbf`, `htb`, `pfifo`; not `fq` or `netem`). In the
//! server's namespace `caudal serve`; in the client's, a viewer that plays
//! a ~3 Mbit/s file by ranges with CMCD (`tests/src/bin/pace_viewer.rs`),
//! a bulk download of another file from the same server sharing the link,
//! and a ping to the server. Once with `--pace cmcd`, once with `--pace
//! off`, in the same run. Measured: the media flow's retransmissions and
//! RTT from the server's `TCP_INFO` (`ss -ti`, sampled every 500 ms), the
//! competing download's throughput, the ping's latency, the viewer's stalls
//! and first frame. Only addresses inside the two namespaces are used;
//! every process is stopped by its pid and the namespaces deleted at the
//! end, also on failure.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use super::server::files::write_random_file;
use super::server::process::ChildGuard;
use crate::tools;
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bottleneck's rate, Mbit/s.
    #[arg(long, default_value_t = 20)]
    link_mbit: u32,
    /// The bottleneck's queue (tbf limit), KB.
    #[arg(long, default_value_t = 64)]
    queue_kb: u32,
    /// The media's bit rate, Mbit/s.
    #[arg(long, default_value_t = 3.0)]
    bitrate_mbit: f64,
    /// Seconds the viewer plays in each run.
    #[arg(long, default_value_t = 40.0)]
    seconds: f64,
    /// Seconds the viewer keeps buffered ahead.
    #[arg(long, default_value_t = 12.0)]
    goal: f64,
    /// The server namespace's TCP congestion control (`cubic`, `bbr`, …);
    /// default: what the namespace inherits from the machine.
    #[arg(long)]
    congestion_control: Option<String>,
    /// No competing download: the viewer and the ping alone on the link
    /// (what the media flow's own bursts do to the queue).
    #[arg(long)]
    no_bulk: bool,
}

const SERVER_IP: &str = "10.201.0.1";
const CLIENT_IP: &str = "10.201.0.2";
const PREFIX: &str = "/24";

/// The two namespaces, deleted on drop.
struct Namespaces {
    server: String,
    client: String,
}

impl Namespaces {
    fn create(args: &Args) -> Result<Namespaces> {
        let id = std::process::id();
        let ns = Namespaces {
            server: format!("caudal-ps-{id}"),
            client: format!("caudal-pc-{id}"),
        };
        let (s, c) = (ns.server.as_str(), ns.client.as_str());
        let (vs, vc) = (format!("cps{id}"), format!("cpc{id}"));
        let (vs, vc) = (&vs[..vs.len().min(15)], &vc[..vc.len().min(15)]);
        let limit = format!("{}kb", args.queue_kb);
        let rate = format!("{}mbit", args.link_mbit);
        let (server_net, client_net) = (
            format!("{SERVER_IP}{PREFIX}"),
            format!("{CLIENT_IP}{PREFIX}"),
        );
        for command in [
            vec!["ip", "netns", "add", s],
            vec!["ip", "netns", "add", c],
            vec![
                "ip", "link", "add", vs, "netns", s, "type", "veth", "peer", "name", vc, "netns", c,
            ],
            vec!["ip", "-n", s, "addr", "add", &server_net, "dev", vs],
            vec!["ip", "-n", c, "addr", "add", &client_net, "dev", vc],
            vec!["ip", "-n", s, "link", "set", vs, "up"],
            vec!["ip", "-n", c, "link", "set", vc, "up"],
            vec!["ip", "-n", s, "link", "set", "lo", "up"],
            vec!["ip", "-n", c, "link", "set", "lo", "up"],
            // The bottleneck: the server's egress, a shallow queue.
            vec![
                "tc", "-n", s, "qdisc", "add", "dev", vs, "root", "tbf", "rate", &rate, "burst",
                "32kb", "limit", &limit,
            ],
        ] {
            run(&command)?;
        }
        Ok(ns)
    }

    /// `program args…` inside namespace `ns`.
    fn exec(ns: &str, program: &Path, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]).arg(program).args(args);
        command
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in [&self.server, &self.client] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn run(command: &[&str]) -> Result<()> {
    let status = Command::new(command[0])
        .args(&command[1..])
        .status()
        .with_context(|| command.join(" "))?;
    ensure!(status.success(), "{} failed ({status})", command.join(" "));
    Ok(())
}

/// The machine's list of congestion controls a namespace may choose
/// (`tcp_allowed_congestion_control`, set in the initial namespace only),
/// widened for the run and restored on drop.
struct AllowedCongestionControl {
    before: Option<String>,
}

const ALLOWED: &str = "/proc/sys/net/ipv4/tcp_allowed_congestion_control";

impl AllowedCongestionControl {
    fn including(cc: &str) -> Result<Self> {
        let before = std::fs::read_to_string(ALLOWED)
            .context(ALLOWED)?
            .trim()
            .to_string();
        if before.split_whitespace().any(|allowed| allowed == cc) {
            return Ok(AllowedCongestionControl { before: None });
        }
        std::fs::write(ALLOWED, format!("{before} {cc}"))
            .with_context(|| format!("allowing {cc}"))?;
        Ok(AllowedCongestionControl {
            before: Some(before),
        })
    }
}

impl Drop for AllowedCongestionControl {
    fn drop(&mut self) {
        if let Some(before) = &self.before {
            let _ = std::fs::write(ALLOWED, before);
        }
    }
}

/// A child stopped by its pid (SIGTERM, then SIGKILL) on drop.
fn guarded(name: &'static str, child: Child) -> ChildGuard {
    ChildGuard { name, child }
}

/// What one run measured.
#[derive(Debug, Default)]
struct Measured {
    retrans_segments: u64,
    retrans_bytes: u64,
    rtt_ms: Vec<f64>,
    competing_mbps: f64,
    ping_ms: Vec<f64>,
    stalls: u64,
    first_frame_ms: f64,
    paced_responses: u64,
    requests: u64,
}

pub fn run_bench(ws: &Workspace, args: &Args) -> Result<()> {
    ensure!(
        tools::is_root(),
        "bench pace makes network namespaces: run it as root (it cannot run on this machine otherwise)"
    );
    tools::ensure_program("ip", &["iproute2"])?;
    tools::ensure_program("tc", &["iproute2"])?;
    let ping = tools::ensure_program("ping", &["iputils-ping"])?;
    let caudal = ws.build_release_bin("caudal-server", "caudal")?;
    let viewer = ws.build_release_bin("caudal-tests", "pace_viewer")?;
    let dir = ws.target_dir.join("bench-pace");
    // Multiples of 8 bytes, as `write_random_file` writes them.
    let media_len = (args.bitrate_mbit * 1e6 / 8.0 * (args.seconds + 30.0)) as u64 / 8 * 8;
    let bulk_len = (f64::from(args.link_mbit) * 1e6 / 8.0 * (args.seconds + 20.0)) as u64 / 8 * 8;
    ensure_random_file(&dir.join("media.mp4"), media_len)?;
    ensure_random_file(&dir.join("bulk.bin"), bulk_len)?;
    let ns = Namespaces::create(args)?;
    let _allowed = match &args.congestion_control {
        Some(cc) => {
            let allowed = AllowedCongestionControl::including(cc)?;
            let setting = format!("net.ipv4.tcp_congestion_control={cc}");
            run(&[
                "ip", "netns", "exec", &ns.server, "sysctl", "-q", "-w", &setting,
            ])?;
            Some(allowed)
        }
        None => None,
    };
    let cc = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.server,
            "sysctl",
            "-n",
            "net.ipv4.tcp_congestion_control",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut results = Vec::new();
    for mode in ["cmcd", "off"] {
        eprintln!("bench pace: --pace {mode}, {} s", args.seconds);
        results.push(one_run(
            &ns, &caudal, &viewer, &ping, &dir, mode, args, media_len, bulk_len,
        )?);
    }
    report(args, &cc, &results[0], &results[1]);
    Ok(())
}

/// The served files: pseudo-random bytes (kept when already that long).
fn ensure_random_file(path: &Path, len: u64) -> Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == len) {
        return Ok(());
    }
    std::fs::create_dir_all(path.parent().context("a parent")?)?;
    write_random_file(path, len).map(drop)
}

#[allow(clippy::too_many_arguments)]
fn one_run(
    ns: &Namespaces,
    caudal: &Path,
    viewer: &Path,
    ping: &Path,
    dir: &Path,
    mode: &str,
    args: &Args,
    media_len: u64,
    bulk_len: u64,
) -> Result<Measured> {
    // Each run starts with no TCP state remembered from the one before
    // (tcp_metrics caches the path's ssthresh and RTT per destination).
    for namespace in [&ns.server, &ns.client] {
        let _ = Command::new("ip")
            .args(["-n", namespace, "tcp_metrics", "flush", "all"])
            .stderr(Stdio::null())
            .status();
    }
    let listen = format!("{SERVER_IP}:0");
    let dir_arg = dir.to_string_lossy().into_owned();
    let mut server = guarded(
        "caudal",
        Namespaces::exec(
            &ns.server,
            caudal,
            &[
                "serve", &dir_arg, "--listen", &listen, "--quiet", "--pace", mode,
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting caudal")?,
    );
    let mut line = String::new();
    BufReader::new(server.child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let addr = line
        .split("http://")
        .nth(1)
        .map(|rest| rest.trim().trim_end_matches('/').to_string())
        .with_context(|| format!("caudal said {line:?}"))?;
    let port: u16 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .context("port")?;
    let seconds = args.seconds.to_string();
    let viewer_args = |path: &str, len: u64, extra: &[&str]| {
        let mut all = vec![
            "--addr".to_string(),
            addr.clone(),
            "--path".into(),
            path.into(),
            "--file-len".into(),
            len.to_string(),
        ];
        all.extend(extra.iter().map(|s| s.to_string()));
        all
    };
    // The competing download first, then the viewer and the ping.
    let bulk_seconds = (args.seconds + 8.0).to_string();
    let bulk_args = viewer_args(
        "/media/bulk.bin",
        bulk_len,
        &["--bulk", "--seconds", &bulk_seconds],
    );
    let bulk_refs: Vec<&str> = bulk_args.iter().map(String::as_str).collect();
    let mut bulk = None;
    if !args.no_bulk {
        let mut child = guarded(
            "the competing download",
            Namespaces::exec(&ns.client, viewer, &bulk_refs)
                .stdout(Stdio::piped())
                .spawn()?,
        );
        let mut out = BufReader::new(child.child.stdout.take().context("stdout")?);
        let mut first = String::new();
        out.read_line(&mut first)?;
        bulk = Some((child, out));
        thread::sleep(Duration::from_secs(2));
    }
    let bitrate = ((args.bitrate_mbit * 1e6) as u64).to_string();
    let goal = args.goal.to_string();
    let play_args = viewer_args(
        "/media/media.mp4",
        media_len,
        &[
            "--bitrate",
            &bitrate,
            "--seconds",
            &seconds,
            "--goal",
            &goal,
        ],
    );
    let play_refs: Vec<&str> = play_args.iter().map(String::as_str).collect();
    let mut play = guarded(
        "the viewer",
        Namespaces::exec(&ns.client, viewer, &play_refs)
            .stdout(Stdio::piped())
            .spawn()?,
    );
    let ping_window = (args.seconds.ceil() as u64).to_string();
    let mut pinger = guarded(
        "ping",
        Namespaces::exec(
            &ns.client,
            ping,
            &["-n", "-i", "0.2", "-w", &ping_window, SERVER_IP],
        )
        .stdout(Stdio::piped())
        .spawn()?,
    );
    let mut play_out = BufReader::new(play.child.stdout.take().context("stdout")?);
    let mut port_line = String::new();
    play_out.read_line(&mut port_line)?;
    let client_port: u16 = port_line
        .strip_prefix("port ")
        .and_then(|p| p.trim().parse().ok())
        .with_context(|| format!("the viewer said {port_line:?}"))?;
    // Sample the media connection on the server until the viewer is done.
    let mut measured = Measured::default();
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds * 3.0 + 60.0);
    let filter = format!("( sport = :{port} and dport = :{client_port} )");
    while matches!(play.child.try_wait(), Ok(None)) {
        ensure!(
            Instant::now() < deadline,
            "the viewer did not finish in time"
        );
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.server,
                "ss",
                "-tinH",
                "state",
                "established",
                &filter,
            ])
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(rtt) = field(&text, "rtt:").and_then(|v| v.split('/').next()?.parse().ok()) {
            measured.rtt_ms.push(rtt);
        }
        if let Some(total) =
            field(&text, "retrans:").and_then(|v| v.split('/').nth(1)?.parse().ok())
        {
            measured.retrans_segments = measured.retrans_segments.max(total);
        }
        if let Some(bytes) = field(&text, "bytes_retrans:").and_then(|v| v.parse().ok()) {
            measured.retrans_bytes = measured.retrans_bytes.max(bytes);
        }
        thread::sleep(Duration::from_millis(500));
    }
    let mut result = String::new();
    play_out.read_line(&mut result)?;
    let result: Value =
        serde_json::from_str(&result).with_context(|| format!("the viewer said {result:?}"))?;
    measured.stalls = result["stalls"].as_u64().unwrap_or(0);
    measured.first_frame_ms = result["first_frame_ms"].as_f64().unwrap_or(f64::NAN);
    measured.paced_responses = result["paced_responses"].as_u64().unwrap_or(0);
    measured.requests = result["requests"].as_u64().unwrap_or(0);
    let mut pinged = Vec::new();
    std::io::Read::read_to_end(
        &mut pinger.child.stdout.take().context("stdout")?,
        &mut pinged,
    )?;
    drop(pinger);
    measured.ping_ms = String::from_utf8_lossy(&pinged)
        .lines()
        .filter_map(|l| l.split("time=").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    measured.competing_mbps = match bulk {
        Some((child, mut out)) => {
            let mut line = String::new();
            out.read_line(&mut line)?;
            let result: Value =
                serde_json::from_str(&line).with_context(|| format!("bulk said {line:?}"))?;
            drop(child);
            result["mbps"].as_f64().unwrap_or(0.0)
        }
        None => f64::NAN,
    };
    drop(server);
    if measured.rtt_ms.is_empty() {
        bail!("no TCP_INFO sample of the media connection");
    }
    Ok(measured)
}

/// The value after `name` in an `ss -ti` line.
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.split_whitespace()
        .find_map(|word| word.strip_prefix(name))
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn report(args: &Args, cc: &str, paced: &Measured, unpaced: &Measured) {
    println!();
    println!(
        "bottleneck: {} Mbit/s tbf, {} KB queue; media {} Mbit/s, viewer goal {} s, {} s per run; TCP congestion control {cc}{}",
        args.link_mbit,
        args.queue_kb,
        args.bitrate_mbit,
        args.goal,
        args.seconds,
        if args.no_bulk {
            "; no competing download"
        } else {
            ""
        }
    );
    println!(
        "{:<40} | {:>12} | {:>12} | {:>8}",
        "", "paced", "unpaced", "ratio"
    );
    println!("{}", "-".repeat(82));
    let row = |name: &str, p: f64, u: f64| {
        println!("{name:<40} | {p:>12.2} | {u:>12.2} | {:>7.2}x", p / u);
    };
    row(
        "media retransmitted segments",
        paced.retrans_segments as f64,
        unpaced.retrans_segments as f64,
    );
    row(
        "media retransmitted KB",
        paced.retrans_bytes as f64 / 1e3,
        unpaced.retrans_bytes as f64 / 1e3,
    );
    row(
        "media RTT, mean of samples (ms)",
        mean(&paced.rtt_ms),
        mean(&unpaced.rtt_ms),
    );
    row(
        "media RTT, p95 of samples (ms)",
        percentile(&paced.rtt_ms, 0.95),
        percentile(&unpaced.rtt_ms, 0.95),
    );
    row(
        "competing download (Mbit/s)",
        paced.competing_mbps,
        unpaced.competing_mbps,
    );
    row(
        "ping p50 (ms)",
        percentile(&paced.ping_ms, 0.5),
        percentile(&unpaced.ping_ms, 0.5),
    );
    row(
        "ping p95 (ms)",
        percentile(&paced.ping_ms, 0.95),
        percentile(&unpaced.ping_ms, 0.95),
    );
    row("viewer stalls", paced.stalls as f64, unpaced.stalls as f64);
    row(
        "first frame (ms)",
        paced.first_frame_ms,
        unpaced.first_frame_ms,
    );
    println!(
        "paced responses: {} of {} requests (paced run), {} of {} (unpaced run)",
        paced.paced_responses, paced.requests, unpaced.paced_responses, unpaced.requests
    );
    let verdict =
        |name: &str, met: bool| println!("goal: {name}: {}", if met { "met" } else { "NOT met" });
    verdict(
        "at least 50 % fewer retransmissions",
        (paced.retrans_segments as f64) <= 0.5 * unpaced.retrans_segments as f64,
    );
    verdict(
        "lower media RTT",
        mean(&paced.rtt_ms) < mean(&unpaced.rtt_ms),
    );
    verdict(
        "lower ping latency (p50)",
        percentile(&paced.ping_ms, 0.5) < percentile(&unpaced.ping_ms, 0.5),
    );
    verdict(
        "more throughput for the competing flow",
        paced.competing_mbps > unpaced.competing_mbps,
    );
    verdict("no more stalls", paced.stalls <= unpaced.stalls);
    verdict(
        "no later first frame (within 10 %)",
        paced.first_frame_ms <= unpaced.first_frame_ms * 1.1,
    );
}
