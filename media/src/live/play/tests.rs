use super::*;

const MIME: &str = "video/mp4; codecs=\"avc1.64001f\"";
/// Unix ms at which the test stream's media time 0 was made.
const MADE_AT_ZERO: f64 = 1.7e12;

/// The tests' settings: a 0.6 s target, whatever the default.
const OPTIONS: LiveOptions = LiveOptions {
    latency: 0.6,
    max_rate: 1.1,
    jump: 2.0,
    min_ahead: 0.2,
    back_buffer: 10.0,
};

fn drain(p: &mut LivePolicy) -> Vec<LiveAction> {
    std::iter::from_fn(|| p.poll_action()).collect()
}

fn at(ms: f64) -> Millis {
    Millis::from(ms)
}

/// A policy that received the init segment and fragments `from..to`
/// seconds (25 per second, a keyframe every 2 s), made in real time.
fn joined(from: f64, to: f64) -> LivePolicy {
    let mut p = LivePolicy::new(OPTIONS);
    p.start(at(0.0));
    p.handle_response(at(5.0), 1, 200, "");
    p.handle_init(MIME);
    feed(&mut p, from, to);
    drain(&mut p);
    p
}

fn feed(p: &mut LivePolicy, from: f64, to: f64) {
    let mut t = from;
    while t < to - 1e-9 {
        let keyframe = (t / 2.0).fract() < 1e-6 || (t / 2.0).fract() > 1.0 - 1e-6;
        p.handle_fragment(
            &FragmentMeta {
                start: t,
                duration: 0.04,
                keyframe,
                wallclock_ms: Some(MADE_AT_ZERO + t * 1e3),
                timed: true,
            },
            1_000,
        );
        t += 0.04;
    }
}

/// The wall clock `delay` seconds after media time `t` was made.
fn wall(t: f64, delay: f64) -> f64 {
    MADE_AT_ZERO + (t + delay) * 1e3
}

#[test]
fn attaching_holds_playback_and_connects() {
    let mut p = LivePolicy::new(LiveOptions::default());
    p.start(at(0.0));
    assert_eq!(
        drain(&mut p),
        [
            LiveAction::State {
                state: State::Loading,
                previous: State::Idle
            },
            LiveAction::Hold,
            LiveAction::Connect { id: 1 },
        ]
    );
    p.handle_init(MIME);
    assert_eq!(drain(&mut p), [LiveAction::Configure { mime: MIME.into() }]);
}

#[test]
fn a_mid_stream_join_starts_at_the_target_latency_inside_the_ring() {
    // The ring: from the keyframe at 10 s to the edge at 11.6 s, which was
    // made 50 ms ago.
    let mut p = joined(10.0, 11.6);
    p.handle_playback(at(300.0), wall(11.6, 0.05), 0.0, &[10.0..11.6], false, true);
    let actions = drain(&mut p);
    let Some(LiveAction::Seek(to)) = actions.first() else {
        panic!("{actions:?}");
    };
    // 0.6 s target, 0.05 s of it transport: 0.55 s of buffer.
    assert!((to - 11.05).abs() < 1e-6, "{to}");
    assert_eq!(actions[1], LiveAction::Release { rate: 1.0 });
    assert_eq!(p.state(), State::Playing);
    assert_eq!(p.stats().startup_ms, Some(300.0));
}

#[test]
fn a_short_ring_starts_no_earlier_than_its_first_keyframe() {
    let mut p = joined(20.0, 20.32);
    p.handle_playback(
        at(100.0),
        wall(20.32, 0.01),
        0.0,
        &[20.0..20.32],
        false,
        true,
    );
    assert_eq!(drain(&mut p).first(), Some(&LiveAction::Seek(20.0)));
}

#[test]
fn playback_waits_for_the_least_buffer_before_starting() {
    let mut p = joined(0.0, 0.08);
    p.handle_playback(at(100.0), wall(0.08, 0.01), 0.0, &[0.0..0.08], false, true);
    assert!(
        drain(&mut p).is_empty(),
        "0.08 s is below the 0.2 s minimum"
    );
    feed(&mut p, 0.08, 0.24);
    p.handle_playback(at(260.0), wall(0.24, 0.01), 0.0, &[0.0..0.24], false, true);
    assert_eq!(drain(&mut p).first(), Some(&LiveAction::Seek(0.0)));
}

/// A policy playing at `position` with the buffer to `edge`.
fn playing(position: f64, edge: f64) -> LivePolicy {
    let mut p = joined(0.0, edge);
    p.handle_playback(at(200.0), wall(edge, 0.05), 0.0, &[0.0..edge], false, true);
    drain(&mut p);
    // Well after the startup seek settled.
    p.handle_playback(
        at(5_000.0),
        wall(position, 0.6),
        position,
        &[0.0..edge],
        false,
        false,
    );
    drain(&mut p);
    p
}

#[test]
fn the_stream_running_dry_is_one_stall_then_playback_resumes_on_the_least_buffer() {
    let mut p = playing(9.5, 10.0);
    p.handle_playback(
        at(6_000.0),
        wall(10.0, 0.1),
        10.0,
        &[8.0..10.0],
        false,
        true,
    );
    assert_eq!(
        drain(&mut p),
        [
            LiveAction::Hold,
            LiveAction::State {
                state: State::Buffering,
                previous: State::Playing
            },
            LiveAction::Stall { position: 10.0 },
        ]
    );
    // Still dry: no second stall.
    p.handle_playback(
        at(6_200.0),
        wall(10.0, 0.3),
        10.0,
        &[8.0..10.0],
        false,
        true,
    );
    assert!(drain(&mut p).is_empty());
    feed(&mut p, 10.0, 10.3);
    p.handle_playback(
        at(7_000.0),
        wall(10.3, 0.01),
        10.0,
        &[8.0..10.3],
        false,
        true,
    );
    assert_eq!(
        drain(&mut p),
        [
            LiveAction::Release { rate: 1.0 },
            LiveAction::State {
                state: State::Playing,
                previous: State::Buffering
            },
        ]
    );
    let stats = p.stats();
    assert_eq!(stats.stalls, 1);
    assert_eq!(stats.stall_ms, 1_000.0);
}

/// Runs dry at `from` ms and resumes `for_ms` later, on connection `id`.
fn stall_for(p: &mut LivePolicy, from: f64, for_ms: f64) {
    let edge = p.stats().edge.expect("media");
    p.handle_playback(at(from), wall(edge, 0.1), edge, &[8.0..edge], false, true);
    feed(p, edge, edge + 0.3);
    p.handle_playback(
        at(from + for_ms),
        wall(edge + 0.3, 0.01),
        edge,
        &[8.0..edge + 0.3],
        false,
        true,
    );
    drain(p);
}

#[test]
fn a_short_stall_raises_the_target_latency_and_a_long_one_does_not() {
    let mut p = playing(9.5, 10.0);
    assert_eq!(p.stats().target_latency, 0.6);
    // A hiccup: the buffer ran dry for half a second on the same body.
    stall_for(&mut p, 6_000.0, 500.0);
    assert!((p.stats().target_latency - 0.8).abs() < 1e-9);
    // The publisher gone for 3 s: waiting longer would not have helped.
    stall_for(&mut p, 8_000.0, 3_000.0);
    assert!((p.stats().target_latency - 0.8).abs() < 1e-9);
    // Hiccups raise it to the page's target + 1 s at most.
    for i in 0..8 {
        stall_for(&mut p, 12_000.0 + f64::from(i) * 1_000.0, 200.0);
    }
    assert!((p.stats().target_latency - 1.6).abs() < 1e-9);
    assert_eq!(p.stats().stalls, 10);
}

#[test]
fn a_stall_across_a_reconnect_keeps_the_target() {
    let mut p = playing(9.5, 10.0);
    p.handle_playback(
        at(6_000.0),
        wall(10.0, 0.1),
        10.0,
        &[8.0..10.0],
        false,
        true,
    );
    p.handle_end(at(6_010.0), 1);
    p.handle_timeout(at(6_260.0));
    p.handle_response(at(6_300.0), 2, 200, "");
    feed(&mut p, 10.0, 10.3);
    p.handle_playback(
        at(6_400.0),
        wall(10.3, 0.01),
        10.0,
        &[8.0..10.3],
        false,
        true,
    );
    drain(&mut p);
    assert_eq!(p.stats().stalls, 1);
    assert_eq!(p.stats().target_latency, 0.6);
}

#[test]
fn the_default_target_latency_is_half_a_second() {
    assert_eq!(LiveOptions::default().latency, 0.5);
}

#[test]
fn somewhat_behind_catches_up_by_rate_and_back_to_normal_on_target() {
    let mut p = playing(8.0, 10.0);
    // 1.1 s behind: 0.5 s over the target.
    p.handle_playback(at(6_000.0), wall(8.9, 1.1), 8.9, &[8.0..10.0], false, false);
    assert_eq!(drain(&mut p), [LiveAction::Rate(1.1)]);
    p.handle_playback(at(9_000.0), wall(9.5, 0.6), 9.5, &[8.0..10.0], false, false);
    assert_eq!(drain(&mut p), [LiveAction::Rate(1.0)]);
    assert!((p.stats().latency.expect("a clock") - 0.6).abs() < 1e-6);
}

#[test]
fn far_behind_jumps_forward_and_then_settles() {
    let mut p = playing(4.0, 10.0);
    // 5 s behind (paused a while, say).
    p.handle_playback(at(6_000.0), wall(5.0, 5.0), 5.0, &[4.0..10.0], false, false);
    let actions = drain(&mut p);
    assert!(
        matches!(actions[..], [LiveAction::Seek(to)] if to > 9.0 && to < 10.0),
        "{actions:?}"
    );
    assert_eq!(p.stats().jumps, 1);
    // The seek is the player's own; the next sample within the settle time
    // does not judge again.
    p.handle_seeking(match actions[0] {
        LiveAction::Seek(to) => to,
        _ => unreachable!(),
    });
    p.handle_playback(at(6_100.0), wall(5.0, 5.1), 5.0, &[4.0..10.0], false, false);
    assert!(drain(&mut p).is_empty());
}

#[test]
fn a_viewer_who_seeks_back_on_purpose_is_not_pulled_to_live() {
    let mut p = playing(9.4, 10.0);
    p.handle_seeking(3.0);
    p.handle_playback(at(9_000.0), wall(3.0, 7.0), 3.0, &[0.5..10.0], false, false);
    assert!(
        drain(&mut p)
            .iter()
            .all(|a| !matches!(a, LiveAction::Seek(_) | LiveAction::Rate(_)))
    );
    // Back near live: the rule steers again.
    p.handle_seeking(9.0);
    p.handle_playback(
        at(12_000.0),
        wall(9.0, 1.6),
        9.0,
        &[0.5..10.0],
        false,
        false,
    );
    assert!(drain(&mut p).contains(&LiveAction::Rate(1.1)));
}

#[test]
fn the_buffer_behind_the_playhead_is_evicted_past_the_back_window() {
    let mut p = playing(29.0, 30.0);
    p.handle_playback(
        at(9_000.0),
        wall(29.0, 0.6),
        29.0,
        &[0.0..30.0],
        false,
        false,
    );
    assert!(drain(&mut p).contains(&LiveAction::Evict { end: 19.0 }));
    p.handle_playback(
        at(9_200.0),
        wall(29.2, 0.6),
        29.2,
        &[19.0..30.0],
        false,
        false,
    );
    assert!(drain(&mut p).is_empty(), "within the step");
}

#[test]
fn a_hole_ahead_of_the_playhead_is_stepped_over() {
    let mut p = playing(9.0, 10.0);
    p.handle_playback(
        at(9_000.0),
        wall(10.0, 0.5),
        10.0,
        &[8.0..10.0, 10.5..12.0],
        false,
        true,
    );
    assert_eq!(drain(&mut p), [LiveAction::Seek(10.501)]);
}

#[test]
fn a_dropped_connection_or_an_absent_stream_reconnects_with_a_growing_delay() {
    let mut p = joined(0.0, 1.0);
    p.handle_end(at(1_000.0), 1);
    assert_eq!(p.poll_timeout(), Some(at(1_250.0)));
    p.handle_timeout(at(1_250.0));
    assert_eq!(drain(&mut p), [LiveAction::Connect { id: 2 }]);
    p.handle_response(at(1_300.0), 2, 404, "no live stream");
    assert_eq!(p.poll_timeout(), Some(at(1_800.0)));
    p.handle_end(at(1_300.0), 2);
    assert_eq!(p.poll_timeout(), Some(at(1_800.0)), "one wait per failure");
    p.handle_timeout(at(1_800.0));
    p.handle_response(at(1_850.0), 3, 503, "");
    assert_eq!(p.poll_timeout(), Some(at(2_850.0)));
    // The end of an older connection changes nothing.
    p.handle_end(at(1_900.0), 1);
    assert_eq!(p.poll_timeout(), Some(at(2_850.0)));
    p.handle_timeout(at(2_850.0));
    feed(&mut p, 1.0, 1.04);
    p.handle_end(at(3_000.0), 4);
    assert_eq!(
        p.poll_timeout(),
        Some(at(3_250.0)),
        "media came: the delay starts over"
    );
    assert_eq!(p.stats().connections, 4);
}

#[test]
fn a_refused_token_is_one_error_and_no_retry() {
    let mut p = LivePolicy::new(LiveOptions::default());
    p.start(at(0.0));
    drain(&mut p);
    p.handle_response(at(10.0), 1, 403, "the token expired\n");
    let actions = drain(&mut p);
    assert!(
        matches!(
            &actions[..],
            [
                LiveAction::State {
                    state: State::Error,
                    ..
                },
                LiveAction::Fail {
                    code: ErrorCode::Expired,
                    ..
                }
            ]
        ),
        "{actions:?}"
    );
    p.handle_end(at(20.0), 1);
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn codecs_that_change_on_a_new_connection_are_a_clear_error() {
    let mut p = joined(0.0, 1.0);
    p.handle_init(MIME);
    assert!(drain(&mut p).is_empty(), "the same init again is fine");
    p.handle_init("video/mp4; codecs=\"hev1.1.6.L93.B0\"");
    let actions = drain(&mut p);
    assert!(
        matches!(&actions[..], [_, LiveAction::Fail { code: ErrorCode::Unsupported, message }] if message.contains("hev1")),
        "{actions:?}"
    );
}

#[test]
fn a_publisher_restarted_in_the_same_body_plays_on_after_one_stall() {
    let mut p = playing(9.5, 10.0);
    p.handle_playback(
        at(6_000.0),
        wall(10.0, 0.2),
        10.0,
        &[8.0..10.0],
        false,
        true,
    );
    drain(&mut p);
    // The new publisher's times start at zero; made 20 s later.
    let placed = p.handle_fragment(
        &FragmentMeta {
            start: 0.0,
            duration: 0.3,
            keyframe: true,
            wallclock_ms: Some(wall(30.0, 0.0)),
            timed: true,
        },
        5_000,
    );
    assert!(
        matches!(placed, Placement::Append { offset: Some(o) } if (o - 10.0).abs() < 1e-6),
        "{placed:?}"
    );
    p.handle_playback(
        at(26_000.0),
        wall(30.3, 0.05),
        10.0,
        &[8.0..10.3],
        false,
        true,
    );
    assert!(drain(&mut p).contains(&LiveAction::Release { rate: 1.0 }));
    assert_eq!(p.stats().stalls, 1);
    let latency = p.stats().latency.expect("a clock");
    assert!((latency - 0.35).abs() < 1e-6, "{latency}");
}

#[test]
fn a_playing_viewer_reports_its_latency_every_ten_seconds_with_the_stalls_between() {
    let mut p = playing(9.4, 10.0);
    let reports = |p: &mut LivePolicy| -> Vec<LiveAction> {
        drain(p)
            .into_iter()
            .filter(|a| matches!(a, LiveAction::Report { .. }))
            .collect()
    };
    // The helper's last sample (at 5 s) armed the first report for 15 s.
    p.handle_playback(
        at(14_900.0),
        wall(9.4, 0.6),
        9.4,
        &[0.0..10.0],
        false,
        false,
    );
    assert!(reports(&mut p).is_empty());
    p.handle_playback(
        at(15_000.0),
        wall(9.4, 0.6),
        9.4,
        &[0.0..10.0],
        false,
        false,
    );
    assert_eq!(
        reports(&mut p),
        [LiveAction::Report {
            latency_ms: Some(600),
            buffer_ms: 600,
            stalled: false
        }]
    );
    p.handle_playback(
        at(16_000.0),
        wall(10.0, 0.1),
        10.0,
        &[0.0..10.0],
        false,
        true,
    );
    p.handle_playback(
        at(25_000.0),
        wall(10.0, 9.1),
        10.0,
        &[0.0..10.0],
        false,
        true,
    );
    let sent = reports(&mut p);
    assert!(
        matches!(
            sent[..],
            [LiveAction::Report {
                stalled: true,
                buffer_ms: 0,
                ..
            }]
        ),
        "{sent:?}"
    );
}
