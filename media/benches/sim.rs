//! How fast the simulator runs the real policy: a thousand runs of a 60 s
//! scenario with a drop (1 Mbit/s media in 2-second units; 4x the bitrate,
//! 0.5x from 10 s, 3x from 25 s; 100 ms RTT), and the runs per second.
//!
//! `cargo bench -p caudal-media --bench sim`. A figure to compare before and
//! after a change to the policy or the simulator, not a pass/fail test: the
//! wall clock depends on the machine and its load.

use std::time::Instant;

use caudal_media::sim::{BandwidthTrace, MediaProfile, Scenario};

const RUNS: u32 = 1000;
const BITRATE: f64 = 1_000_000.0;
const INIT: u64 = 8_000;

fn main() {
    let points = [(0.0, 4.0), (10.0, 0.5), (25.0, 3.0)]
        .iter()
        .map(|&(t, x)| (t, x * BITRATE))
        .collect();
    let Ok(trace) = BandwidthTrace::new(points) else {
        eprintln!("the benchmark's trace is not valid");
        std::process::exit(1);
    };
    let scenario = Scenario {
        rtt_ms: 100.0,
        ..Scenario::new(MediaProfile::constant(60.0, BITRATE, 2.0, INIT), trace)
    };
    let started = Instant::now();
    let mut stalls = 0;
    for _ in 0..RUNS {
        stalls += std::hint::black_box(&scenario).run().stalls;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{RUNS} runs of a 60 s scenario in {seconds:.2} s: {:.0} runs/s ({stalls} stalls in all)",
        f64::from(RUNS) / seconds
    );
}
