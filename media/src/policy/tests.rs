//! The policy's behaviour on scripted events, with a fake container: 60 s of
//! media in 2-second units of 100 kB each after a 1000-byte init segment.

use super::*;
use crate::index::{Container, Segment, Track, TrackKind};

const INIT: u64 = 1000;
const UNIT_BYTES: u64 = 100_000;
const UNIT_SECONDS: f64 = 2.0;
const UNITS: u64 = 30;
const FILE_LEN: u64 = INIT + UNIT_BYTES * UNITS;

/// Says Ready once it has seen the init segment.
struct FakeIndexer {
    seen: u64,
    index: MediaIndex,
    ready: bool,
}

fn fake_index() -> MediaIndex {
    MediaIndex {
        container: Container::FragmentedMp4,
        tracks: vec![Track {
            id: 1,
            kind: TrackKind::Video,
            codec: "avc1.4d401e".into(),
        }],
        duration: Some(UNITS as f64 * UNIT_SECONDS),
        init: 0..INIT,
        segments: (0..UNITS)
            .map(|n| Segment {
                start: n as f64 * UNIT_SECONDS,
                end: (n + 1) as f64 * UNIT_SECONDS,
                bytes: INIT + n * UNIT_BYTES..INIT + (n + 1) * UNIT_BYTES,
            })
            .collect(),
        complete: true,
    }
}

impl ContainerIndexer for FakeIndexer {
    fn feed(&mut self, offset: u64, data: &[u8], _len: Option<u64>) -> Result<Step, MediaError> {
        self.seen = self.seen.max(offset + data.len() as u64);
        if self.seen >= INIT {
            self.ready = true;
            Ok(Step::Ready)
        } else {
            Ok(Step::NeedBytes {
                offset: self.seen,
                len: INIT - self.seen,
            })
        }
    }
    fn index(&self) -> Option<&MediaIndex> {
        self.ready.then_some(&self.index)
    }
}

fn policy(options: PolicyOptions) -> Policy {
    Policy::with_indexer(
        options,
        Box::new(FakeIndexer {
            seen: 0,
            index: fake_index(),
            ready: false,
        }),
    )
}

fn drain(policy: &mut Policy) -> Vec<Action> {
    std::iter::from_fn(|| policy.poll_action()).collect()
}

fn fetches(actions: &[Action]) -> Vec<(RequestId, Range<u64>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Fetch { id, range, .. } => Some((*id, range.clone())),
            _ => None,
        })
        .collect()
}

/// Serves a fetch in full at `bits_per_second`, returning the new time.
fn serve(policy: &mut Policy, now: Millis, id: RequestId, range: Range<u64>, bps: f64) -> Millis {
    policy.handle_response(now, id, 206, Some(FILE_LEN));
    let mut t = now;
    let mut offset = range.start;
    while offset < range.end {
        let n = (range.end - offset).min(16 * 1024);
        t += n as f64 * 8.0 / bps * 1000.0;
        policy.handle_data(t, id, &vec![0u8; n as usize]);
        offset += n;
    }
    policy.handle_done(t, id, Outcome::Complete);
    t
}

/// Media seconds covered by bytes below `cursor`.
fn seconds_fetched(cursor: u64) -> f64 {
    (cursor.saturating_sub(INIT)) as f64 / UNIT_BYTES as f64 * UNIT_SECONDS
}

#[test]
fn first_request_carries_the_index_and_startup_then_playback_is_released() {
    let mut p = policy(PolicyOptions {
        startup: 1.0,
        ..Default::default()
    });
    p.start(0.0);
    let actions = drain(&mut p);
    assert_eq!(
        actions[0],
        Action::State {
            state: State::Loading,
            previous: State::Idle
        }
    );
    assert!(actions.contains(&Action::Hold));
    let (id, range) = fetches(&actions)[0].clone();
    assert_eq!(range, 0..PolicyOptions::default().first_request);
    let t = serve(&mut p, 300.0, id, range, 8_000_000.0);
    let actions = drain(&mut p);
    assert!(actions.iter().any(
        |a| matches!(a, Action::Configure { mime, duration: Some(d), .. }
        if mime == "video/mp4; codecs=\"avc1.4d401e\"" && *d == 60.0)
    ));
    assert!(actions.iter().any(|a| matches!(a, Action::Append { .. })));
    assert_eq!(p.state(), State::Buffering);
    // The link is 20 times the bit rate (8 Mbit/s for 400 kbit/s): it
    // refills faster than playback drains, so a quarter second (the
    // floor), not the full startup second, starts playback.
    p.handle_playback(t, 0.0, &[0.0..0.2], false, false);
    assert!(!drain(&mut p).contains(&Action::Release));
    p.handle_playback(t + 10.0, 0.0, &[0.0..0.3], false, false);
    let actions = drain(&mut p);
    assert!(actions.contains(&Action::Release));
    assert_eq!(p.state(), State::Playing);
    assert_eq!(p.stats().startup_ms, Some(t + 10.0));
}

#[test]
fn a_link_slower_than_the_media_waits_for_more_before_the_first_frame() {
    let mut p = policy(PolicyOptions {
        startup: 1.0,
        ..Default::default()
    });
    p.start(0.0);
    let (id, range) = fetches(&drain(&mut p))[0].clone();
    // 200 kbit/s for 400 kbit/s media: half the speed, twice the startup.
    let t = serve(&mut p, 300.0, id, range, 200_000.0);
    drain(&mut p);
    p.handle_playback(t, 0.0, &[0.0..1.5], false, false);
    assert!(!drain(&mut p).contains(&Action::Release));
    p.handle_playback(t + 10.0, 0.0, &[0.0..2.1], false, false);
    assert!(drain(&mut p).contains(&Action::Release));
}

#[test]
fn the_element_catching_up_after_a_release_is_not_a_stall() {
    let mut p = policy(PolicyOptions::default());
    p.start(0.0);
    let (id, range) = fetches(&drain(&mut p))[0].clone();
    let t = serve(&mut p, 300.0, id, range, 8_000_000.0);
    drain(&mut p);
    // A whole 2 s fragment lands: released. The element still says it
    // cannot advance (its readiness lags the append): not a stall.
    p.handle_playback(t, 0.0, &[0.0..2.0], false, false);
    assert!(drain(&mut p).contains(&Action::Release));
    p.handle_playback(t + 20.0, 0.0, &[0.0..2.0], false, true);
    assert_eq!(p.state(), State::Playing);
    assert_eq!(p.stats().stalls, 0);
    // Later, at a fragment boundary short of the buffered end, it is.
    p.handle_playback(t + 2000.0, 1.8, &[0.0..2.0], false, true);
    assert_eq!(p.state(), State::Stalled);
    assert_eq!(p.stats().stalls, 1);
}

/// A policy playing at 0 s with 5 s buffered, and the request in flight.
fn playing_policy(options: PolicyOptions) -> (Policy, Millis, Vec<(RequestId, Range<u64>)>) {
    let mut p = policy(options);
    p.start(0.0);
    let (id, range) = fetches(&drain(&mut p))[0].clone();
    let t = serve(&mut p, 100.0, id, range, 8_000_000.0);
    p.handle_playback(t, 0.0, &[0.0..5.0], false, false);
    let in_flight = fetches(&drain(&mut p));
    assert_eq!(p.state(), State::Playing);
    (p, t, in_flight)
}

#[test]
fn running_dry_stalls_once_and_resumes_only_at_the_resume_threshold() {
    let (mut p, t, _) = playing_policy(PolicyOptions {
        resume: 3.0,
        ..Default::default()
    });
    p.handle_playback(t + 5000.0, 5.0, &[0.0..5.0], false, false);
    let actions = drain(&mut p);
    assert!(actions.contains(&Action::Stall { position: 5.0 }));
    assert!(actions.contains(&Action::Hold));
    assert_eq!(p.state(), State::Stalled);
    assert_eq!(p.stats().stalls, 1);
    // Refilling: one second is not enough, and it is still the same stall.
    p.handle_playback(t + 6000.0, 5.0, &[0.0..6.0], false, false);
    assert!(!drain(&mut p).contains(&Action::Release));
    assert_eq!(p.stats().stalls, 1);
    p.handle_playback(t + 7000.0, 5.0, &[0.0..8.5], false, false);
    assert!(drain(&mut p).contains(&Action::Release));
    assert_eq!(p.state(), State::Playing);
    assert_eq!(p.stats().stall_ms, 2000.0);
}

#[test]
fn a_viewer_pause_is_not_a_stall() {
    let (mut p, t, _) = playing_policy(PolicyOptions::default());
    p.handle_playback(t + 5000.0, 5.0, &[0.0..5.0], true, false);
    assert!(
        !drain(&mut p)
            .iter()
            .any(|a| matches!(a, Action::Stall { .. }))
    );
    assert_eq!(p.state(), State::Paused);
}

#[test]
fn paused_at_the_start_fetching_stops_at_the_goal_plus_one_unit() {
    let mut p = policy(PolicyOptions {
        goal: 10.0,
        ..Default::default()
    });
    p.start(0.0);
    let mut t = 0.0;
    let mut pending = fetches(&drain(&mut p));
    let mut rounds = 0;
    while let Some((id, range)) = pending.pop() {
        t = serve(&mut p, t, id, range, 4_000_000.0);
        p.handle_playback(t, 0.0, &[0.0..seconds_fetched(p.cursor)], true, false);
        pending.extend(fetches(&drain(&mut p)));
        rounds += 1;
        assert!(rounds < 100, "fetching never stops");
    }
    let fetched = seconds_fetched(p.stats().bytes_fetched);
    assert!(fetched >= 10.0, "fetched only {fetched} s");
    assert!(
        fetched <= 10.0 + UNIT_SECONDS,
        "fetched {fetched} s, past the goal"
    );
    // Playing on moves the goal and fetching resumes.
    p.handle_playback(t, 5.0, &[0.0..seconds_fetched(p.cursor)], false, false);
    assert_eq!(fetches(&drain(&mut p)).len(), 1);
}

#[test]
fn the_memory_cap_stops_fetching() {
    let mut p = policy(PolicyOptions {
        goal: 1000.0,
        max_bytes: 350_000,
        ..Default::default()
    });
    p.start(0.0);
    let mut t = 0.0;
    let mut pending = fetches(&drain(&mut p));
    let mut rounds = 0;
    while let Some((id, range)) = pending.pop() {
        t = serve(&mut p, t, id, range, 4_000_000.0);
        p.handle_playback(t, 0.0, &[0.0..seconds_fetched(p.cursor)], true, false);
        pending.extend(fetches(&drain(&mut p)));
        rounds += 1;
        assert!(rounds < 100, "fetching never stops");
    }
    assert!(p.stats().bytes_fetched < 350_000 + PolicyOptions::default().first_request);
}

#[test]
fn media_far_behind_the_playhead_is_evicted() {
    let (mut p, t, _) = playing_policy(PolicyOptions {
        behind: 30.0,
        ..Default::default()
    });
    p.handle_playback(t, 40.0, &[0.0..50.0], false, false);
    let actions = drain(&mut p);
    assert!(
        actions.contains(&Action::Evict { range: 0.0..10.0 }),
        "{actions:?}"
    );
    // Within the slack nothing is evicted.
    p.handle_playback(t, 33.0, &[0.0..50.0], false, false);
    assert!(
        !drain(&mut p)
            .iter()
            .any(|a| matches!(a, Action::Evict { .. }))
    );
}

#[test]
fn seeking_outside_the_buffer_aborts_and_starts_a_run_at_the_unit() {
    let (mut p, t, in_flight) = playing_policy(PolicyOptions::default());
    assert_eq!(in_flight.len(), 1, "a request is in flight");
    p.seek(t + 1.0, 59.0);
    let actions = drain(&mut p);
    let unit_start = INIT + 29 * UNIT_BYTES;
    assert!(actions.contains(&Action::Abort { id: in_flight[0].0 }));
    assert!(actions.contains(&Action::ResetRun {
        offset: unit_start,
        timestamp_offset: None
    }));
    assert_eq!(fetches(&actions)[0].1.start, unit_start);
    assert_eq!(p.state(), State::Seeking);
    assert_eq!(p.stats().aborted, 1);
}

#[test]
fn seeking_inside_the_buffer_keeps_the_run() {
    let (mut p, t, _) = playing_policy(PolicyOptions::default());
    p.seek(t, 2.0);
    let actions = drain(&mut p);
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::ResetRun { .. } | Action::Abort { .. }))
    );
}

#[test]
fn a_cut_request_is_retried_from_the_first_missing_byte_with_backoff() {
    let (mut p, t, in_flight) = playing_policy(PolicyOptions::default());
    let (id, range) = in_flight[0].clone();
    p.handle_response(t, id, 206, Some(FILE_LEN));
    p.handle_data(t + 10.0, id, &[0u8; 5000]);
    p.handle_done(
        t + 20.0,
        id,
        Outcome::NetworkError("connection reset".into()),
    );
    assert!(fetches(&drain(&mut p)).is_empty(), "not at once");
    let retry_at = p.poll_timeout().expect("a retry timer");
    assert!(retry_at > t + 20.0);
    p.handle_timeout(retry_at);
    let retried = fetches(&drain(&mut p));
    assert_eq!(
        retried[0].1.start,
        range.start + 5000,
        "no byte lost, none twice"
    );
    assert_eq!(p.stats().retries, 1);
}

#[test]
fn repeated_failures_end_in_one_network_error() {
    let (mut p, mut t, in_flight) = playing_policy(PolicyOptions {
        max_retries: 3,
        ..Default::default()
    });
    p.handle_done(t, in_flight[0].0, Outcome::NetworkError("refused".into()));
    let mut fails = 0;
    for _ in 0..10 {
        for action in drain(&mut p) {
            match action {
                Action::Fetch { id, .. } => {
                    p.handle_done(t, id, Outcome::NetworkError("refused".into()))
                }
                Action::Fail { code, .. } => {
                    assert_eq!(code, ErrorCode::Network);
                    fails += 1;
                }
                _ => {}
            }
        }
        if let Some(at) = p.poll_timeout() {
            t = at;
            p.handle_timeout(t);
        }
    }
    assert_eq!(fails, 1);
    assert_eq!(p.state(), State::Error);
}

#[test]
fn http_errors_fail_at_once_and_server_errors_are_retried() {
    let mut p = policy(PolicyOptions::default());
    p.start(0.0);
    let (id, _) = fetches(&drain(&mut p))[0].clone();
    p.handle_response(10.0, id, 503, None);
    assert!(p.poll_timeout().is_some());
    let mut p = policy(PolicyOptions::default());
    p.start(0.0);
    let (id, _) = fetches(&drain(&mut p))[0].clone();
    p.handle_response(10.0, id, 404, None);
    let actions = drain(&mut p);
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Fail {
            code: ErrorCode::Http,
            ..
        }
    )));
}

#[test]
fn a_file_shorter_than_its_index_is_truncated() {
    let mut p = policy(PolicyOptions::default());
    p.start(0.0);
    let (id, _) = fetches(&drain(&mut p))[0].clone();
    p.handle_response(10.0, id, 206, Some(FILE_LEN / 2));
    p.handle_data(20.0, id, &vec![0u8; 2000]);
    let actions = drain(&mut p);
    let fails: Vec<_> = actions
        .iter()
        .filter(|a| matches!(a, Action::Fail { .. }))
        .collect();
    assert_eq!(fails.len(), 1);
    assert!(matches!(
        fails[0],
        Action::Fail {
            code: ErrorCode::Truncated,
            ..
        }
    ));
}

#[test]
fn random_bytes_are_a_format_error() {
    let mut p = Policy::new(PolicyOptions::default());
    p.start(0.0);
    let (id, _) = fetches(&drain(&mut p))[0].clone();
    p.handle_response(10.0, id, 206, Some(100_000));
    p.handle_data(20.0, id, &[0x42; 4096]);
    let actions = drain(&mut p);
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Fail {
            code: ErrorCode::Format,
            ..
        }
    )));
    assert_eq!(p.state(), State::Error);
}

#[test]
fn everything_fetched_ends_the_stream_once() {
    let (mut p, mut t, in_flight) = playing_policy(PolicyOptions {
        goal: 1000.0,
        ..Default::default()
    });
    let (id, range) = in_flight[0].clone();
    t = serve(&mut p, t, id, range, 20_000_000.0);
    let mut ends = 0;
    for _ in 0..200 {
        p.handle_playback(t, 1.0, &[0.0..seconds_fetched(p.cursor)], false, false);
        for action in drain(&mut p) {
            match action {
                Action::Fetch { id, range, .. } => t = serve(&mut p, t, id, range, 20_000_000.0),
                Action::EndOfStream => ends += 1,
                _ => {}
            }
        }
    }
    assert_eq!(ends, 1);
    assert_eq!(p.stats().bytes_fetched, FILE_LEN);
}

#[test]
fn the_element_saying_it_cannot_advance_is_a_stall_even_with_a_little_buffered() {
    let (mut p, t, _) = playing_policy(PolicyOptions::default());
    // Browsers wait at a fragment boundary with a few frames still buffered.
    p.handle_playback(t + 1900.0, 1.9, &[0.0..2.02], false, true);
    let actions = drain(&mut p);
    assert!(actions.contains(&Action::Stall { position: 1.9 }));
    assert_eq!(p.state(), State::Stalled);
}

/// Like [`FakeIndexer`], but its index is incomplete (no duration) until it
/// is fed the last 100 bytes of the file, which it asks for via `wants`.
struct TailIndexer {
    inner: FakeIndexer,
    tail_seen: bool,
}

impl ContainerIndexer for TailIndexer {
    fn feed(&mut self, offset: u64, data: &[u8], len: Option<u64>) -> Result<Step, MediaError> {
        if offset + data.len() as u64 == FILE_LEN && offset >= FILE_LEN - 100 {
            self.tail_seen = true;
            self.inner.index.complete = true;
            self.inner.index.duration = Some(60.0);
            return Ok(Step::Ready);
        }
        self.inner.feed(offset, data, len)
    }
    fn index(&self) -> Option<&MediaIndex> {
        self.inner.index()
    }
    fn wants(&self) -> Option<Range<u64>> {
        (!self.tail_seen && self.inner.ready).then_some(FILE_LEN - 100..FILE_LEN)
    }
}

#[test]
fn index_bytes_at_the_end_are_fetched_beside_the_media_run_and_set_the_duration() {
    let mut index = fake_index();
    index.complete = false;
    index.duration = None;
    let indexer = TailIndexer {
        inner: FakeIndexer {
            seen: 0,
            index,
            ready: false,
        },
        tail_seen: false,
    };
    let mut p = Policy::with_indexer(PolicyOptions::default(), Box::new(indexer));
    p.start(0.0);
    let (id, range) = fetches(&drain(&mut p))[0].clone();
    p.handle_response(10.0, id, 206, Some(FILE_LEN));
    p.handle_data(20.0, id, &vec![0u8; 2000]);
    let actions = drain(&mut p);
    let side: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Fetch {
                id,
                range,
                media: false,
            } => Some((*id, range.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        side.len(),
        1,
        "the tail is fetched while the first request runs: {actions:?}"
    );
    assert_eq!(side[0].1, FILE_LEN - 100..FILE_LEN);
    assert!(range.end > 2000, "the media request is still in flight");
    serve(&mut p, 30.0, side[0].0, side[0].1.clone(), 8_000_000.0);
    let actions = drain(&mut p);
    assert!(actions.contains(&Action::SetDuration(60.0)), "{actions:?}");
}
