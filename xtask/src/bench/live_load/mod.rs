//! `cargo xtask bench live-load`: N viewers of one live ingest, and one
//! viewer that stops reading.
//!
//! For each N, on a fresh `caudal serve --live-open` (its peak memory is
//! that N's), ffmpeg publishes a real-time stream and the run goes through
//! three windows:
//!
//! 1. **idle**: the publisher alone, the baseline of CPU and memory;
//! 2. **load**: N viewers read `GET /live/bench` (after a warm-up): CPU,
//!    memory, ingest and egress rates, and the *spread* of each fragment —
//!    when it reached a viewer less when it first reached any viewer;
//! 3. **stall**: one more viewer reads the init segment and then nothing;
//!    the others' spread again, until the server cut the stalled one (its
//!    queue bound, or the send timeout), bounded by `--cut-wait`. Then it
//!    reads again, to see its body end.
//!
//! The leaf modules: [`client`] (the viewers, the framing and the box
//! walk), [`procs`] (caudal, ffmpeg, `/proc`, `/metrics`) and [`report`]
//! (the figures, the table, the JSON).

mod client;
mod procs;
mod report;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use self::client::{Shared, StalledLog, ViewerLog};
use self::procs::{Caudal, Encode, LiveFigures, STREAM};
use self::report::{Run, Stall, Window};
use super::proc_stat;
use crate::bench::server::files::ScratchDir;
use crate::tools;
use crate::workspace::Workspace;

/// `cargo xtask bench live-load [--viewers N,...] [--seconds S]`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Concurrent viewers (repeatable or a comma list); each N is a fresh server.
    #[arg(long, value_delimiter = ',', default_values_t = [200])]
    pub viewers: Vec<usize>,
    /// Seconds of each measured window (the load, and at least the stall).
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Seconds after the publisher starts and after the viewers join,
    /// before measuring.
    #[arg(long, default_value_t = 3)]
    pub warmup: u64,
    /// The video bit rate ffmpeg encodes at, bits per second.
    #[arg(long, default_value_t = 1_000_000)]
    pub bitrate: u64,
    /// The longest the stall window waits for the server to cut the
    /// stalled viewer, seconds (at 1 Mbit/s its 8 MiB queue takes ~70 s
    /// to fill, then it may be behind 10 s).
    #[arg(long, default_value_t = 150)]
    pub cut_wait: u64,
    /// An extra flag for `caudal serve` (repeatable), e.g.
    /// `--caudal-arg=--send-timeout --caudal-arg=20`.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub caudal_arg: Vec<String>,
}

/// The idle window's length: enough ticks for a baseline.
const IDLE_SECONDS: u64 = 5;
/// How long the viewers (or the stalled one) may take to get their init.
const JOIN_LIMIT: Duration = Duration::from_secs(30);
/// How often the stall window looks at `/metrics`.
const POLL: Duration = Duration::from_millis(500);
/// After the cut, the others' spread is watched this much longer.
const AFTER_CUT: Duration = Duration::from_secs(2);

pub fn run(ws: &Workspace, args: &Args) -> Result<()> {
    ensure!(
        !args.viewers.is_empty() && args.viewers.iter().all(|&n| n > 0),
        "--viewers takes numbers of at least 1"
    );
    ensure!(args.seconds > 0, "--seconds must be at least 1");
    let ffmpeg = tools::ensure_program("ffmpeg", &["ffmpeg"])?;
    let bin = ws.build_release_bin("caudal-server", "caudal")?;
    let out_dir = ws.target_dir.join("bench-live-load");
    fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let ticks = proc_stat::clock_ticks()?;
    let mut runs = Vec::new();
    for &viewers in &args.viewers {
        let paths = Paths {
            bin: &bin,
            ffmpeg: &ffmpeg,
            out_dir: &out_dir,
        };
        runs.push(measure(&paths, viewers, args, ticks)?);
    }
    report::print(args, &runs);
    let json = out_dir.join("results.json");
    report::write_json(&json, args, &runs)?;
    eprintln!("bench live-load: wrote {}", ws.display(&json));
    Ok(())
}

/// The programs and the output folder.
struct Paths<'a> {
    bin: &'a std::path::Path,
    ffmpeg: &'a std::path::Path,
    out_dir: &'a std::path::Path,
}

/// Where a window starts: the server's counters then.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    cpu_ticks: u64,
    live: LiveFigures,
    wire_bytes: u64,
}

impl Mark {
    fn take(caudal: &Caudal, shared: &Shared) -> Result<Mark> {
        Ok(Mark {
            at: Instant::now(),
            cpu_ticks: proc_stat::cpu_ticks(&[caudal.process.pid()])?,
            live: procs::live_figures(caudal.addr)?,
            wire_bytes: shared.wire_bytes.load(Ordering::Relaxed),
        })
    }

    /// The window from `self` to `end`.
    fn to(&self, end: &Mark, ticks: f64) -> Window {
        Window {
            from: self.at,
            to: end.at,
            seconds: end.at.duration_since(self.at).as_secs_f64(),
            cpu_seconds: end.cpu_ticks.saturating_sub(self.cpu_ticks) as f64 / ticks,
            ingest_bytes: end.live.ingest_bytes - self.live.ingest_bytes,
            fragments: end.live.fragments - self.live.fragments,
            egress_bytes: end.wire_bytes.saturating_sub(self.wire_bytes),
        }
    }
}

/// One N, start to end, on its own caudal and ffmpeg.
fn measure(paths: &Paths, viewers: usize, args: &Args, ticks: f64) -> Result<Run> {
    eprintln!(
        "bench live-load: {viewers} viewers, {} s windows",
        args.seconds
    );
    let scratch = ScratchDir::create()?;
    let mut flags = vec![
        "--live-open".to_owned(),
        "--max-connections".to_owned(),
        (viewers + 64).to_string(),
    ];
    flags.extend(args.caudal_arg.iter().cloned());
    let caudal_log = paths.out_dir.join(format!("caudal-{viewers}.log"));
    let caudal = procs::start_caudal(paths.bin, scratch.path(), &flags, &caudal_log)?;
    // Everything below ends within this; ffmpeg also stops by itself then.
    let budget = 2 * args.warmup + IDLE_SECONDS + args.seconds + args.cut_wait + 60;
    let deadline = Instant::now() + Duration::from_secs(budget + 30);
    let ffmpeg_log = paths.out_dir.join(format!("ffmpeg-{viewers}.log"));
    let url = format!("http://{}/live/{STREAM}", caudal.addr);
    let encode = Encode {
        video_bitrate: args.bitrate,
        seconds: budget,
    };
    let mut ffmpeg = procs::start_ffmpeg(paths.ffmpeg, &url, encode, &ffmpeg_log)?;
    procs::wait_for_stream(&caudal, &mut ffmpeg, 50.0, JOIN_LIMIT, &ffmpeg_log)?;
    thread::sleep(Duration::from_secs(args.warmup));

    let shared = Arc::new(Shared::default());
    let pid = caudal.process.pid();
    let idle_start = Mark::take(&caudal, &shared)?;
    thread::sleep(Duration::from_secs(IDLE_SECONDS));
    let idle_end = Mark::take(&caudal, &shared)?;
    let rss_idle_kib = procs::status_kib(pid, "VmRSS")?;

    let path = format!("/live/{STREAM}");
    let mut handles = Vec::with_capacity(viewers);
    for _ in 0..viewers {
        handles.push(client::spawn_viewer(
            caudal.addr,
            path.clone(),
            shared.clone(),
            deadline,
        )?);
    }
    let viewers_ready = wait_ready(&shared, viewers);
    let outcome = viewers_ready.and_then(|()| {
        thread::sleep(Duration::from_secs(args.warmup));
        let load_start = Mark::take(&caudal, &shared)?;
        thread::sleep(Duration::from_secs(args.seconds));
        let load_end = Mark::take(&caudal, &shared)?;
        let rss_load_kib = procs::status_kib(pid, "VmRSS")?;
        let stall = stall_window(&caudal, &shared, viewers, args, deadline, ticks)?;
        Ok((load_start.to(&load_end, ticks), rss_load_kib, stall))
    });
    let peak_kib = procs::status_kib(pid, "VmHWM");
    let dropped = procs::live_figures(caudal.addr).map(|f| f.dropped);
    // Stop every viewer and join it, whatever happened above.
    shared.stop.store(true, Ordering::Release);
    let logs = join_all(handles);
    drop(ffmpeg);
    drop(caudal);
    let failures: Vec<&ViewerLog> = logs
        .iter()
        .filter(|log| log.ending != client::Ending::Open)
        .collect();
    let first_failure = failures.first().map(|l| l.ending.describe());
    let (load, rss_load_kib, (stall_window, mut stall)) = outcome.with_context(|| {
        format!(
            "{viewers} viewers: first viewer failure: {}; logs: {}, {}",
            first_failure.as_deref().unwrap_or("none"),
            caudal_log.display(),
            ffmpeg_log.display()
        )
    })?;
    stall.dropped_total = dropped?;
    let spread_load = report::spread(&logs, load.from, load.to);
    let spread_stall = report::spread(&logs, stall_window.from, stall_window.to);
    Ok(Run {
        viewers,
        idle: idle_start.to(&idle_end, ticks),
        load,
        stall_window,
        rss_idle_kib,
        rss_load_kib,
        peak_kib: peak_kib?,
        spread_load,
        spread_stall,
        stall,
        egress_total_bytes: logs.iter().map(|l| l.body_bytes).sum(),
        failures: failures.len(),
        first_failure,
    })
}

/// Waits until `viewers` have their init segment, or one failed.
fn wait_ready(shared: &Shared, viewers: usize) -> Result<()> {
    let deadline = Instant::now() + JOIN_LIMIT;
    loop {
        let ready = shared.ready.load(Ordering::Acquire);
        if ready >= viewers {
            return Ok(());
        }
        let failed = shared.failed.load(Ordering::Acquire);
        ensure!(
            failed == 0,
            "{failed} of {viewers} viewers failed to join (see the report's first failure)"
        );
        ensure!(
            Instant::now() < deadline,
            "{ready} of {viewers} viewers had the init segment after {JOIN_LIMIT:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Joins every viewer thread (each returns within a read tick of `stop`).
fn join_all(handles: Vec<JoinHandle<ViewerLog>>) -> Vec<ViewerLog> {
    handles
        .into_iter()
        .map(|handle| {
            handle.join().unwrap_or_else(|_| ViewerLog {
                arrivals: Vec::new(),
                ending: client::Ending::Failed("the viewer thread panicked".into()),
                body_bytes: 0,
            })
        })
        .collect()
}

/// The stall window: the stalled viewer joins, the others are watched
/// until the server cut it (at least `--seconds`, at most `--cut-wait`),
/// then it reads again.
fn stall_window(
    caudal: &Caudal,
    shared: &Shared,
    viewers: usize,
    args: &Args,
    deadline: Instant,
    ticks: f64,
) -> Result<(Window, Stall)> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (resume_tx, resume_rx) = mpsc::channel();
    let path = format!("/live/{STREAM}");
    let handle = client::spawn_stalled(caudal.addr, path, ready_tx, resume_rx, deadline)?;
    let joined = ready_rx.recv_timeout(JOIN_LIMIT);
    let watched = joined
        .context("the stalled viewer got no init segment")
        .and_then(|()| watch_stall(caudal, shared, viewers, args, ticks));
    // Read again (also after a failure above, so the thread ends).
    let _ = resume_tx.send(());
    let log: StalledLog = handle
        .join()
        .map_err(|_| anyhow::anyhow!("the stalled viewer's thread panicked"))?;
    let (window, mut stall) = watched?;
    stall.log = Some(log);
    Ok((window, stall))
}

/// Polls `/metrics` and the memory while the stalled viewer is there.
fn watch_stall(
    caudal: &Caudal,
    shared: &Shared,
    viewers: usize,
    args: &Args,
    ticks: f64,
) -> Result<(Window, Stall)> {
    let pid = caudal.process.pid();
    let start = Mark::take(caudal, shared)?;
    let least = start.at + Duration::from_secs(args.seconds);
    let most = start.at + Duration::from_secs(args.cut_wait.max(args.seconds));
    let mut stall = Stall {
        viewers_at_start: start.live.viewers,
        ..Stall::default()
    };
    let mut rss_max_kib = procs::status_kib(pid, "VmRSS")?;
    // Bounded by `most`: one pass per POLL.
    loop {
        thread::sleep(POLL);
        let now = Instant::now();
        let live = procs::live_figures(caudal.addr)?;
        rss_max_kib = rss_max_kib.max(procs::status_kib(pid, "VmRSS")?);
        let since = now.duration_since(start.at).as_secs_f64();
        if stall.behind_after_s.is_none() && live.dropped > start.live.dropped {
            stall.behind_after_s = Some(since);
        }
        // One viewer fewer than with it, and not one of the readers.
        if stall.cut_after_s.is_none()
            && live.viewers <= viewers as f64
            && shared.failed.load(Ordering::Acquire) == 0
        {
            stall.cut_after_s = Some(since);
        }
        let cut_seen = stall
            .cut_after_s
            .is_some_and(|s| now >= start.at + Duration::from_secs_f64(s) + AFTER_CUT);
        if (now >= least && cut_seen) || now >= most {
            break;
        }
    }
    let end = Mark::take(caudal, shared)?;
    stall.rss_max_kib = rss_max_kib;
    stall.dropped_in_window = end.live.dropped - start.live.dropped;
    Ok((start.to(&end, ticks), stall))
}
