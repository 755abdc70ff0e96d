//! The native side of `cargo xtask bench remux`: the same [`StreamRemux`]
//! driver the wasm module runs, built `--release` for the host.
//!
//! `remux-native FILE CHUNK_BYTES WARMUP RUNS` prints one JSON line:
//!
//! * first a memory run: the file read from disk one chunk at a time into
//!   one reused buffer, as a player receives a download, with the peak
//!   resident set (VmHWM) before and after. The difference is what the
//!   remux holds: index plus fragment in flight, whatever the file's size.
//! * then `WARMUP` untimed and `RUNS` timed runs over the file loaded in
//!   memory beforehand (so disk and page-cache reads are not in the number,
//!   as they are not in the node runs), each from a fresh driver; xtask
//!   takes the best.
//!
//! xtask (a debug build under `cargo xtask`) runs this binary rather than
//! timing in-process, so the native number is an optimised build's.

use std::error::Error;
use std::fs::{self, File};
use std::io::Read;
use std::process::ExitCode;
use std::time::Instant;

use caudal_bench_remux::{Stats, StreamRemux};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("remux-native: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, chunk, warmup, runs] = args.as_slice() else {
        return Err("usage: remux-native FILE CHUNK_BYTES WARMUP RUNS".into());
    };
    let chunk: usize = chunk
        .parse()
        .map_err(|e| format!("CHUNK_BYTES `{chunk}`: {e}"))?;
    let warmup: usize = warmup
        .parse()
        .map_err(|e| format!("WARMUP `{warmup}`: {e}"))?;
    let runs: usize = runs.parse().map_err(|e| format!("RUNS `{runs}`: {e}"))?;
    if chunk == 0 || runs == 0 {
        return Err("CHUNK_BYTES and RUNS must be at least 1".into());
    }

    let baseline_kib = peak_rss_kib()?;
    let streamed = stream_from_disk(path, chunk)?;
    let peak_kib = peak_rss_kib()?;

    let data = fs::read(path).map_err(|e| format!("reading {path}: {e}"))?;
    let mut seconds = Vec::with_capacity(runs);
    let mut stats = Stats::default();
    for run in 0..warmup + runs {
        let started = Instant::now();
        stats = remux_in_memory(&data, chunk)?;
        if run >= warmup {
            seconds.push(started.elapsed().as_secs_f64());
        }
    }
    if stats != streamed {
        return Err(format!(
            "the in-memory runs produced {stats:?}, the streamed run {streamed:?}"
        )
        .into());
    }
    let seconds: Vec<String> = seconds.iter().map(|s| format!("{s:.6}")).collect();
    Ok(format!(
        "{{\"seconds\":[{}],\"fragments\":{},\"output_bytes\":{},\"init_bytes\":{},\
         \"moov_bytes\":{},\"largest_output\":{},\"baseline_kib\":{baseline_kib},\
         \"peak_kib\":{peak_kib}}}",
        seconds.join(","),
        stats.fragments,
        stats.output_bytes,
        stats.init_bytes,
        stats.moov_bytes,
        stats.largest_output,
    ))
}

/// One run with the file read chunk by chunk into a reused buffer: the
/// file is never in memory, so the peak RSS shows what the remux keeps.
fn stream_from_disk(path: &str, chunk: usize) -> Result<Stats> {
    let mut file = File::open(path).map_err(|e| format!("opening {path}: {e}"))?;
    let len = file.metadata()?.len();
    let mut run = StreamRemux::new(len);
    let mut buf = vec![0u8; chunk];
    let mut offset = 0u64;
    loop {
        let n = read_full(&mut file, &mut buf).map_err(|e| format!("reading {path}: {e}"))?;
        let Some(bytes) = buf.get(..n).filter(|b| !b.is_empty()) else {
            break;
        };
        run.feed(offset, bytes, drop)?;
        offset += n as u64;
    }
    finished(&run)
}

/// One timed run: the chunks are slices of the file in memory, each output
/// is counted and dropped (the player would hand it to MSE).
fn remux_in_memory(data: &[u8], chunk: usize) -> Result<Stats> {
    let mut run = StreamRemux::new(data.len() as u64);
    let mut offset = 0u64;
    for bytes in data.chunks(chunk) {
        run.feed(offset, bytes, drop)?;
        offset += bytes.len() as u64;
    }
    finished(&run)
}

fn finished(run: &StreamRemux) -> Result<Stats> {
    let stats = run.stats();
    if !run.finished() {
        return Err(format!(
            "the run ended after {} of {} fragments",
            stats.fragments, stats.planned_fragments
        )
        .into());
    }
    Ok(stats)
}

/// Fills `buf` unless the file ends first; returns how many bytes it read.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
        match file.read(rest)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// This process's peak resident set so far (VmHWM), KiB; 0 where /proc
/// does not exist (not Linux), which the report shows as unknown.
fn peak_rss_kib() -> Result<u64> {
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return Ok(0);
    };
    let Some(line) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) else {
        return Ok(0);
    };
    let kib = line.trim().trim_end_matches("kB").trim();
    Ok(kib.parse().map_err(|e| format!("VmHWM `{line}`: {e}"))?)
}
