//! The policy's behaviour on scripted events, with a fake container: 60 s of
//! media in 2-second units of 100 kB each after a 1000-byte init segment.

use std::ops::Range;

use super::{Action, ErrorCode, Millis, Outcome, Policy, PolicyOptions, RequestId, State};
use crate::index::{
    Container, ContainerIndexer, MediaError, MediaIndex, Segment, Step, Track, TrackKind,
};

mod authorize;
mod evict;
mod fetch;
mod index;
mod retry;
mod seek;
mod stall;
mod startup;
mod stats;

const INIT: u64 = 1000;
const UNIT_BYTES: u64 = 100_000;
const UNIT_SECONDS: f64 = 2.0;
const UNITS: u64 = 30;
const FILE_LEN: u64 = INIT + UNIT_BYTES * UNITS;
/// The link most tests run on: four times the media's 400 kbit/s, where
/// the buffer goal is the option itself (`goal.rs`).
const LINK: f64 = 1_600_000.0;

/// Says Ready once it has seen the init segment.
struct FakeIndexer {
    seen: u64,
    index: MediaIndex,
    ready: bool,
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

/// A policy over the fake index, started at 0: it and its first request.
fn started(options: PolicyOptions) -> (Policy, RequestId, Range<u64>) {
    let mut p = policy(options);
    p.start(at(0.0));
    let (id, range) = fetches(&drain(&mut p))[0].clone();
    (p, id, range)
}

/// The shell's clock reading `ms`.
fn at(ms: f64) -> Millis {
    Millis::from(ms)
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

/// Serves a fetch at `bits_per_second` (an open-ended one up to the end of
/// the file), until it is complete or the policy ends it; returns the new
/// time.
fn serve(policy: &mut Policy, now: Millis, id: RequestId, range: Range<u64>, bps: f64) -> Millis {
    policy.handle_response(now, id, 206, Some(FILE_LEN));
    let end = range.end.min(FILE_LEN);
    let t = deliver(policy, now, id, range.start..end, bps);
    if policy.is_live(id) {
        policy.handle_done(t, id, Outcome::Complete);
    }
    t
}

/// Delivers the body bytes `bytes` of request `id` at `bits_per_second`,
/// stopping early if the policy ends the request; returns the new time.
fn deliver(policy: &mut Policy, now: Millis, id: RequestId, bytes: Range<u64>, bps: f64) -> Millis {
    let mut t = now;
    let mut offset = bytes.start;
    while offset < bytes.end && policy.is_live(id) {
        let n = (bytes.end - offset).min(16 * 1024);
        t += n as f64 * 8.0 / bps * 1000.0;
        policy.handle_data(t, id, &vec![0u8; n as usize]);
        offset += n;
    }
    t
}

/// Media seconds covered by bytes below `cursor`.
fn seconds_fetched(cursor: u64) -> f64 {
    (cursor.saturating_sub(INIT)) as f64 / UNIT_BYTES as f64 * UNIT_SECONDS
}

/// A policy playing at 0 s with 5 s buffered, and the request in flight:
/// the first, open-ended one, with the bytes still to come.
fn playing_policy(options: PolicyOptions) -> (Policy, Millis, Vec<(RequestId, Range<u64>)>) {
    let (mut p, id, range) = started(options);
    assert_eq!(range, 0..super::OPEN_END, "the first request is open-ended");
    p.handle_response(at(100.0), id, 206, Some(FILE_LEN));
    let five_seconds = INIT + UNIT_BYTES * 5 / 2;
    let t = deliver(&mut p, at(100.0), id, 0..five_seconds, LINK);
    p.handle_playback(t, 0.0, &[0.0..5.0], false, false);
    drain(&mut p);
    assert!(p.is_live(id), "the first request goes on");
    assert_eq!(p.state(), State::Playing);
    (p, t, vec![(id, five_seconds..FILE_LEN)])
}
