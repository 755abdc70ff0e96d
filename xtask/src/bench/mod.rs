//! `cargo xtask bench <what>`: the side-by-side benchmarks.
//!
//! The design rule is that speed and memory goals are shown by benchmarks
//! that compare against a reference in the same run (same machine, same
//! input, same load), never by absolute numbers or timed tests. Each
//! benchmark is a module with its own arguments and report:
//!
//! - [`server`]: `caudal` against nginx under wrk;
//! - [`remux`]: the MP4 remux natively and in wasm against mp4box.js;
//! - [`qoe`]: playback in Chromium, Caudal against `<video>` and hls.js;
//! - [`server::many`]: many viewers of one file, caudal against nginx;
//! - [`pace`]: pacing by the buffer against a real bottleneck, paced
//!   against unpaced.
//! - [`live`]: live latency in Chromium, Caudal's player against hls.js
//!   on the same stream.
//! - [`live_load`]: many viewers of one live ingest, and one that stops
//!   reading: CPU, memory, and the spread of each fragment across viewers.
//!
//! What they share sits in leaf modules: [`inputs`] (media encoded once
//! with ffmpeg, pinned npm packages) and [`machine`] (the CPU line of the
//! reports).

mod inputs;
mod live;
mod live_load;
mod machine;
mod pace;
mod proc_stat;
mod qoe;
mod remux;
mod server;

use anyhow::Result;
use clap::Subcommand;

use crate::workspace::Workspace;

/// The benchmarks, as `cargo xtask bench <what>`.
#[derive(Debug, Subcommand)]
pub enum Bench {
    /// caudal against nginx, both under the same wrk load.
    ///
    /// Benchmarks caudal against nginx with wrk on the same 64 MiB file:
    /// random 64 KiB ranges (256 connections) and whole-file downloads
    /// (16 connections).
    Server(server::Args),
    /// MP4 remux: caudal native and wasm against mp4box.js.
    ///
    /// Remuxes one ~120 MB plain MP4 (made once with ffmpeg, cached in
    /// target/bench-remux/) to fragmented MP4 natively, in wasm under node, and
    /// with mp4box.js under node, feeding each the file in chunks, and prints
    /// MB/s side by side.
    Remux(remux::Args),
    /// Playback QoE in Chromium: caudal, the native <video>, hls.js.
    ///
    /// Plays one 60 s encode (640x360 H.264 High with B-frames, 2 s GOPs,
    /// AAC, ~1.5 Mbit/s; made once with ffmpeg, cached in target/bench-qoe/)
    /// as a plain faststart MP4 (--file plain, the headline) and as the same
    /// samples fragmented with sidx (--file fmp4) in headless Chromium with
    /// Caudal, the native <video> and hls.js (its byte-range playlist over
    /// the fragmented file). The page, every player asset and the media
    /// cross one shaped link; each run is a fresh browser (cold cache), then
    /// a second visit in it (warm). Prints, side by side and from navigation
    /// start: time to first frame (cold, from the first media request,
    /// warm), stalls, seek time (cold, warm), media fetched and wasted; then
    /// where the time goes on the slowest scenario (each request, Resource
    /// Timing, the player's marks) against the link's physical limit.
    Qoe(qoe::Args),
    /// Many viewers of one file: caudal against nginx.
    ///
    /// N viewers (default 50, 200, 1000), each reading ranges of one file at
    /// the media's bit rate the way a player does, all asking for the first
    /// chunk at the same instant; against caudal and nginx, each started
    /// afresh per N. Prints CPU seconds per GB delivered, peak memory, p50/p99
    /// time to first byte (cold and later), viewers that fell behind, and the
    /// ratios caudal/nginx.
    Many(server::many::Args),
    /// Pacing by the buffer through a real bottleneck: paced against unpaced.
    ///
    /// Two network namespaces joined by a veth pair with a tbf rate limit
    /// (default 20 Mbit/s, a 64 KB queue); caudal serves a viewer that plays a
    /// 3 Mbit/s file with CMCD while a bulk download and a ping share the
    /// link; once with --pace cmcd, once with --pace off. Prints the media
    /// flow's retransmissions and RTT (TCP_INFO), the download's throughput,
    /// the ping's latency, stalls and first frame, with the ratios. Root only.
    Pace(pace::Args),
    /// Live latency in Chromium: caudal's player against hls.js (LL-HLS).
    ///
    /// One ffmpeg stream (testsrc2 320x180@25, x264 zerolatency, 1 s GOPs, a
    /// fragment per frame, prft wall-clock stamps) published to caudal for
    /// the whole run; each round, Caudal on /live/NAME and hls.js
    /// (lowLatencyMode) on /live/NAME.m3u8 join it in turn, each in a fresh
    /// headless Chromium. Prints startup (attach to first frame), the age of
    /// the frame on screen (now minus its prft stamp) p50/p95 every 250 ms,
    /// each player's own latency figure, stalls, and the ratios caudal/hls.js;
    /// writes target/bench-live/results.json.
    Live(live::Args),
    /// Many viewers of one live ingest, and one viewer that stops reading.
    ///
    /// ffmpeg publishes a real-time stream (testsrc2 640x360@25, x264
    /// veryfast zerolatency, 1 s GOPs, ~1 Mbit/s + AAC, a fragment per
    /// frame) to a fresh caudal per N; N viewers (default 200) read
    /// /live/NAME. Prints caudal's CPU (per second, per viewer) and memory
    /// (idle, with N, per viewer, peak), ingest and egress rates, and each
    /// fragment's spread across viewers (arrival less its first arrival)
    /// p50/p99/max; then again with one more viewer that stops reading
    /// after the init, until the server cuts it, and how its body ended.
    /// Writes target/bench-live-load/results.json.
    LiveLoad(live_load::Args),
}

/// Runs the chosen benchmark.
pub fn run(ws: &Workspace, bench: &Bench) -> Result<()> {
    match bench {
        Bench::Server(args) => server::run(ws, args),
        Bench::Remux(args) => remux::run(ws, args),
        Bench::Qoe(args) => qoe::run(ws, args),
        Bench::Many(args) => server::many::run(ws, args),
        Bench::Pace(args) => pace::run_bench(ws, args),
        Bench::Live(args) => live::run(ws, args),
        Bench::LiveLoad(args) => live_load::run(ws, args),
    }
}
