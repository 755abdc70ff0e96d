//! The buffer policy's behaviour pinned on fixed traces, through the
//! simulator (`caudal_media::sim`): the real policy, a simulated link,
//! SourceBuffer, `<video>` and viewer. Media: 1 Mbit/s in 2-second units,
//! 120 s, an 8 kB init segment; default policy options unless stated.
//!
//! Each test prints its numbers (`cargo test --test sim -- --nocapture`), so
//! the figures behind an assertion are one command away.

use caudal_media::policy::PolicyOptions;
use caudal_media::sim::{BandwidthTrace, MediaProfile, Report, Scenario, ViewerStep};

const MBIT: f64 = 1_000_000.0;
const BITRATE: f64 = MBIT;
const INIT: u64 = 8_000;
const SECONDS: f64 = 120.0;

fn media() -> MediaProfile {
    MediaProfile::constant(SECONDS, BITRATE, 2.0, INIT)
}

fn trace(points: &[(f64, f64)]) -> BandwidthTrace {
    let points = points.iter().map(|&(t, x)| (t, x * BITRATE)).collect();
    BandwidthTrace::new(points).expect("a valid trace")
}

/// `media()` over `points` (`(seconds, multiple of the bitrate)`).
fn scenario(points: &[(f64, f64)], rtt_ms: f64) -> Scenario {
    Scenario {
        rtt_ms,
        ..Scenario::new(media(), trace(points))
    }
}

fn run(name: &str, scenario: &Scenario) -> Report {
    let report = scenario.run();
    println!("{name}: {report}");
    assert!(report.error.is_none(), "{name}: {report}");
    assert!(
        report.anomalies.is_empty(),
        "{name}: the policy asked for what a shell cannot do: {:#?}",
        report.anomalies
    );
    report
}

/// A trace as `(seconds, multiple of the bitrate)` steps.
type Steps<'a> = &'a [(f64, f64)];

/// Milliseconds to move `bytes` at `multiple` × the bitrate.
fn transfer_ms(bytes: u64, multiple: f64) -> f64 {
    bytes as f64 * 8.0 / (multiple * BITRATE) * 1000.0
}

#[test]
fn zero_stalls_while_the_link_stays_above_1_2x_the_bitrate() {
    let traces: [(&str, Steps, f64); 4] = [
        ("steady 1.2x", &[(0.0, 1.2)], 100.0),
        ("steady 1.2x, 200 ms RTT", &[(0.0, 1.2)], 200.0),
        ("4x, then 1.2x from 10 s", &[(0.0, 4.0), (10.0, 1.2)], 100.0),
        (
            "1.2x and 3x alternating every 5 s",
            &[
                (0.0, 1.2),
                (5.0, 3.0),
                (10.0, 1.2),
                (15.0, 3.0),
                (20.0, 1.2),
                (25.0, 3.0),
                (30.0, 1.2),
            ],
            100.0,
        ),
    ];
    for (name, points, rtt) in traces {
        let report = run(name, &scenario(points, rtt));
        assert!(report.reached_end, "{name}: {report}");
        assert_eq!(report.stalls, 0, "{name}: {report}");
        assert_eq!(report.policy.stalls, 0, "{name}: {report}");
        assert_eq!(report.bytes_wasted, 0, "{name}: {report}");
    }
}

/// A long round trip must not starve a link only 1.2x the bitrate.
/// Requests follow one another, so each costs a round trip of idle link;
/// before the policy kept the first byte's wait out of the throughput
/// estimate and sized requests to ≥ 10 RTTs, it settled at link ×
/// (1 − RTT / 1.5 s) = 0.96x the bitrate here and stalled once (3.1 s).
#[test]
fn zero_stalls_at_1_2x_the_bitrate_with_a_300_ms_rtt() {
    let report = run("steady 1.2x, 300 ms RTT", &scenario(&[(0.0, 1.2)], 300.0));
    assert!(report.reached_end);
    assert_eq!(report.stalls, 0, "{report}");
}

/// 4x, a drop to 0.3x from 3 s to 23 s (the buffer holds ~10 s when it
/// comes), then 4x again: the buffer runs dry once, and the link is back
/// before the resume threshold would let playback run into a second stall.
#[test]
fn a_20_second_drop_costs_exactly_one_stall() {
    let report = run(
        "20 s at 0.3x from 3 s",
        &scenario(&[(0.0, 4.0), (3.0, 0.3), (23.0, 4.0)], 100.0),
    );
    assert!(report.reached_end);
    assert_eq!(report.stalls, 1, "{report}");
    assert_eq!(report.policy.stalls, 1, "{report}");
    // The stall cannot outlast the drop by more than the refill.
    assert!(report.stall_seconds > 0.0 && report.stall_seconds < 12.0);

    // The benchmark's drop scenario: 0.5x for 15 s, early.
    let report = run(
        "15 s at 0.5x from 2 s",
        &scenario(&[(0.0, 4.0), (2.0, 0.5), (17.0, 4.0)], 100.0),
    );
    assert!(report.reached_end);
    assert_eq!(report.stalls, 1, "{report}");
}

/// A drop longer than buffer + refill: 4x, 0.3x from 5 s to 45 s, 4x.
/// With a fixed 3 s resume threshold this stalled twice (17.4 s: the 3 s
/// lasted about 4.3 s at 0.3x); the threshold now grows with the link's
/// shortfall, so one drop costs one stall.
#[test]
fn a_40_second_drop_costs_exactly_one_stall() {
    let report = run(
        "40 s at 0.3x from 5 s",
        &scenario(&[(0.0, 4.0), (5.0, 0.3), (45.0, 4.0)], 100.0),
    );
    assert!(report.reached_end);
    assert_eq!(report.stalls, 1, "{report}");
}

/// Fetching stops at the goal, so a viewer who leaves after 15 s on a fast
/// link leaves behind at most the goal's worth of media and one request.
#[test]
fn abandoning_after_15_s_wastes_at_most_the_goal_and_one_request() {
    let mut s = scenario(&[(0.0, 10.0)], 50.0);
    s.viewer = vec![ViewerStep::Watch(15.0), ViewerStep::Abandon];
    let report = run("abandon after 15 s at 10x", &s);
    let options = PolicyOptions::default();
    let goal_bytes = (options.goal * BITRATE / 8.0) as u64;
    let bound = goal_bytes + options.first_request;
    println!(
        "  wasted {:.2} MB, bound {:.2} MB (goal {} s + one {} kB request)",
        report.wasted_mb(),
        bound as f64 / 1e6,
        options.goal,
        options.first_request / 1000
    );
    assert!(report.abandoned && !report.reached_end);
    assert_eq!(report.stalls, 0);
    assert!(report.played_seconds > 14.0, "{report}");
    assert!(report.bytes_wasted <= bound, "{report}");
}

/// The seconds buffered before playback starts on a link `speedup` times
/// the media's bit rate: the startup option scaled down by the speedup,
/// never under a quarter second (see `Policy::startup_threshold`).
fn startup_seconds(startup: f64, speedup: f64) -> f64 {
    (startup / speedup).max(0.25)
}

/// The bytes that must arrive before `span` seconds from `from` are
/// playable: whole units (the shell model's default, as Chromium's MSE),
/// from the start of the one holding `from` to the end of the one holding
/// `from + span`.
fn playable_bytes(media: &MediaProfile, from: f64, span: f64) -> u64 {
    let segments = &media.index().segments;
    let start = segments
        .iter()
        .find(|s| s.end > from)
        .map(|s| s.bytes.start);
    let end = segments
        .iter()
        .find(|s| s.end >= from + span - 1e-9)
        .map(|s| s.bytes.end);
    end.zip(start).map_or(0, |(e, s)| e - s)
}

/// A seek far outside the buffer costs one round trip plus the startup
/// seconds at link rate (in whole units) — and, because the shell reports
/// playback on a 200 ms timer, up to one tick more before the policy
/// releases.
#[test]
fn seeking_to_60_percent_costs_a_round_trip_and_the_startup_seconds() {
    let rtt = 100.0;
    let mut s = scenario(&[(0.0, 4.0)], rtt);
    let to = 0.6 * SECONDS;
    s.viewer = vec![ViewerStep::Watch(5.0), ViewerStep::Seek(to)];
    let startup = startup_seconds(s.options.startup, 4.0);
    let floor = rtt + transfer_ms(playable_bytes(&s.media, to, startup), 4.0);

    let report = run("seek to 60 % after 5 s at 4x", &s);
    let latency = report.seek_latency_ms().expect("the seek completed");
    println!("  seek latency {latency:.0} ms, physical limit {floor:.0} ms");
    assert!(report.reached_end);
    assert_eq!(report.stalls, 0);
    assert!(latency >= floor - 1.0, "faster than the link: {latency}");
    assert!(latency <= floor + s.shell.tick_ms + 1.0, "{latency} ms");

    // A shell that reports playback on every append releases within one
    // chunk of the limit.
    s.shell.report_on_append = true;
    let report = run("  the same, reporting on append", &s);
    let latency = report.seek_latency_ms().expect("the seek completed");
    let chunk = transfer_ms(s.shell.chunk_bytes as u64, 4.0);
    println!("  seek latency {latency:.0} ms reporting on append");
    assert!(latency <= floor + chunk + 1.0, "{latency} ms");
}

/// DESIGN.md's slow-start link: 2 Mbit/s with a 300 ms RTT. The physical
/// limit is one RTT plus the init segment and the startup seconds (half
/// the option: the link is twice the bit rate) at link rate; the shell's
/// 200 ms timer adds up to a tick.
#[test]
fn slow_start_time_to_first_frame_is_near_the_physical_limit() {
    let s = Scenario {
        rtt_ms: 300.0,
        ..Scenario::new(media(), BandwidthTrace::constant(2.0 * MBIT))
    };
    let startup = startup_seconds(s.options.startup, 2.0);
    let floor = s.rtt_ms + transfer_ms(INIT + playable_bytes(&s.media, 0.0, startup), 2.0);
    let report = run("slow start 2 Mbit/s 300 ms", &s);
    let ttff = report.ttff_ms.expect("playback started");
    println!("  ttff {ttff:.0} ms, physical limit {floor:.0} ms");
    assert!(ttff.is_finite() && ttff < 4000.0);
    assert!(ttff >= floor - 1.0 && ttff <= floor + s.shell.tick_ms + 1.0);
    assert_eq!(report.stalls, 0);

    // DESIGN.md's measured case: 1.5 Mbit/s media with a 47 kB `moov`, where
    // native <video> showed its first frame after ~780 ms (RTT + ~120 kB).
    let s = Scenario {
        rtt_ms: 300.0,
        ..Scenario::new(
            MediaProfile::constant(SECONDS, 1.5 * MBIT, 2.0, 47_000),
            BandwidthTrace::constant(2.0 * MBIT),
        )
    };
    let startup = startup_seconds(s.options.startup, 2.0 / 1.5);
    let floor =
        s.rtt_ms + (47_000 + playable_bytes(&s.media, 0.0, startup)) as f64 * 8.0 / 2e6 * 1e3;
    let report = run("slow start, 1.5 Mbit/s media, 47 kB init", &s);
    let ttff = report.ttff_ms.expect("playback started");
    println!(
        "  ttff {ttff:.0} ms, physical limit with startup = {startup} s: {floor:.0} ms (native: ~780 ms)"
    );
    assert!(ttff >= floor - 1.0 && ttff <= floor + s.shell.tick_ms + 1.0);
    assert_eq!(report.stalls, 0);
}

#[test]
fn a_viewer_pause_is_not_a_stall_and_playback_resumes() {
    let mut s = scenario(&[(0.0, 2.0)], 100.0);
    s.viewer = vec![ViewerStep::Watch(10.0), ViewerStep::Pause(20.0)];
    let report = run("pause 20 s after 10 s", &s);
    assert!(report.reached_end);
    assert_eq!(report.stalls, 0);
    assert!(report.end_ms > (SECONDS + 20.0) * 1000.0);
}

/// A link that goes silent for longer than the request timeout: the policy
/// aborts, retries with backoff, and playback recovers.
#[test]
fn an_outage_longer_than_the_request_timeout_is_retried_and_recovered() {
    let s = scenario(&[(0.0, 4.0), (3.0, 0.0), (28.0, 4.0)], 100.0);
    let report = run("25 s outage from 3 s", &s);
    assert!(report.reached_end, "{report}");
    assert!(report.policy.retries > 0, "{report}");
    assert_eq!(report.stalls, 1, "{report}");
}

#[test]
fn runs_are_deterministic() {
    let mut s = scenario(&[(0.0, 3.0), (7.0, 0.4), (30.0, 1.5)], 120.0);
    s.viewer = vec![
        ViewerStep::Watch(12.0),
        ViewerStep::Seek(80.0),
        ViewerStep::Watch(10.0),
        ViewerStep::Seek(10.0),
    ];
    assert_eq!(s.run(), s.run());
}

/// Pseudo-random traces and viewers (a fixed LCG, so failures reproduce):
/// whatever happens, the policy never asks for what a shell cannot do, and
/// the accounting holds together.
#[test]
fn random_traces_keep_the_shell_contract_and_the_books_balanced() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    for case in 0..200 {
        let mut points = vec![(0.0, 0.2 + 5.0 * next())];
        for _ in 0..6 {
            let last = points.last().map_or(0.0, |p: &(f64, f64)| p.0);
            points.push((last + 1.0 + 20.0 * next(), 0.1 + 5.0 * next()));
        }
        let mut s = scenario(&points, 20.0 + 400.0 * next());
        if next() < 0.5 {
            s.viewer = vec![
                ViewerStep::Watch(30.0 * next()),
                ViewerStep::Seek(SECONDS * next()),
                ViewerStep::Pause(10.0 * next()),
                ViewerStep::Watch(30.0 * next()),
            ];
        }
        s.shell.whole_units = next() < 0.3;
        s.shell.report_on_append = next() < 0.3;
        let report = s.run();
        let name = format!("case {case}: {points:?}");
        assert!(report.error.is_none(), "{name}: {report}");
        assert!(
            report.anomalies.is_empty(),
            "{name}: {:#?}",
            report.anomalies
        );
        assert!(report.reached_end, "{name}: {report}");
        assert!(report.bytes_wasted <= report.bytes_fetched);
        assert!(report.played_seconds <= SECONDS + 1e-6, "{name}: {report}");
        assert!(report.seeks.iter().all(|seek| seek.latency_ms.is_some()));
    }
}

/// The goal shrinks with the link's headroom (`policy/goal.rs`): a view
/// abandoned after 15 s on a link 13 times the media's rate (the QoE
/// bench's 20 Mbit/s for 1.5 Mbit/s) leaves at most the least goal (4 s)
/// and one smallest request behind, about a third of what native `<video>`
/// fetches there (the whole file, after 15 s of a 60 s one).
#[test]
fn abandoning_on_a_link_13_times_the_media_wastes_at_most_the_least_goal() {
    let mut s = scenario(&[(0.0, 13.3)], 40.0);
    s.viewer = vec![ViewerStep::Watch(15.0), ViewerStep::Abandon];
    let report = run("abandon after 15 s at 13.3x", &s);
    let bound = (4.0 * BITRATE / 8.0) as u64 + PolicyOptions::default().min_request;
    println!(
        "  wasted {:.2} MB, bound {:.2} MB",
        report.wasted_mb(),
        bound as f64 / 1e6
    );
    assert!(report.abandoned && !report.reached_end);
    assert_eq!(report.stalls, 0);
    assert!(report.bytes_wasted <= bound, "{report}");
}

/// ...while on the link the goal was made for, four times the media's rate,
/// a 15 s drop to half the rate once the buffer is full costs no stall.
#[test]
fn a_15_second_drop_to_half_the_rate_costs_no_stall_at_4x() {
    let report = run(
        "15 s at 0.5x from 8 s",
        &scenario(&[(0.0, 4.0), (8.0, 0.5), (23.0, 4.0)], 40.0),
    );
    assert!(report.reached_end);
    assert_eq!(report.stalls, 0, "{report}");
}
