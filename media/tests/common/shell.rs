//! A simulated player shell for "never panics" tests: it runs the real
//! policy (probe, indexers, remux, schedule) over a file in memory the way
//! the wasm shell does — every fetch answered in pieces of a given size,
//! playback reports that move the playhead over what was appended, a seek
//! halfway — and reports how the playback ended. Any panic is the test's
//! failure; an error action is a clean end.

use std::collections::VecDeque;
use std::ops::Range;

use caudal_media::policy::{Action, Millis, OPEN_END, Outcome, Policy, PolicyOptions, RequestId};

/// How a drive ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// The policy reached the end of its work (nothing left to do).
    Idle {
        appended: usize,
        duration: Option<f64>,
    },
    /// The policy said the file cannot play, with this message.
    Failed(String),
}

struct Pending {
    id: RequestId,
    range: Range<u64>,
    next: u64,
    answered: bool,
}

/// Plays `file` through the policy, answering requests in `piece`-byte
/// pieces, seeking to `seek_to` of the duration once it is known; at most
/// `steps` rounds.
pub fn drive(file: &[u8], piece: usize, seek_to: Option<f64>, steps: usize) -> Ended {
    let piece = piece.max(1);
    let mut p = Policy::new(PolicyOptions {
        goal: 30.0,
        ..Default::default()
    });
    let mut now = Millis::ZERO;
    p.start(now);
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut appended = 0usize;
    let mut duration = None;
    let mut position = 0.0;
    let mut sought = false;
    for _ in 0..steps {
        let mut acted = false;
        while let Some(action) = p.poll_action() {
            acted = true;

            match action {
                Action::Fetch { id, range, .. } => pending.push_back(Pending {
                    id,
                    next: range.start,
                    range,
                    answered: false,
                }),
                Action::Abort { id } => pending.retain(|r| r.id != id),
                Action::Configure { duration: d, .. } => duration = d,
                Action::SetDuration(d) => duration = Some(d),
                Action::AppendInit(bytes) | Action::AppendData(bytes) => appended += bytes.len(),
                Action::Append { .. } => appended += 1,
                Action::Fail { message, .. } => return Ended::Failed(message),
                _ => {}
            }
        }
        now += 20.0;
        if let Some(request) = pending.front_mut() {
            acted = true;
            let len = file.len() as u64;
            let end = if request.range.end == OPEN_END {
                len
            } else {
                request.range.end.min(len)
            };
            if !request.answered {
                request.answered = true;
                let status = if request.range.start < len || len == 0 {
                    206
                } else {
                    416
                };
                p.handle_response(now, request.id, status, Some(len));
            }
            let id = request.id;
            if request.next < end {
                let to = end.min(request.next.saturating_add(piece as u64));
                let (from, to_us) = (request.next as usize, to as usize);
                request.next = to;
                p.handle_data(now, id, &file[from..to_us]);
            } else {
                pending.pop_front();
                p.handle_done(now, id, Outcome::Complete);
            }
        }
        if p.poll_timeout().is_some_and(|t| t <= now) {
            p.handle_timeout(now);
        }
        // The playhead moves over what the policy released, a little per round.
        let known = duration
            .filter(|d| d.is_finite() && *d > 0.0)
            .unwrap_or(1.0);
        if appended > 0 {
            position = (position + 0.25_f64).min(known);
        }
        let buffered = [0.0..known.min(position + 5.0)];
        p.handle_playback(now, position, &buffered, false, false);
        if let (Some(at), false) = (seek_to, sought)
            && appended > 0
            && duration.is_some()
        {
            sought = true;
            position = known * at;
            p.seek(now, position);
        }
        let at_end = duration.is_some() && position >= known;
        if pending.is_empty() && (!acted || at_end) {
            break;
        }
    }
    Ended::Idle { appended, duration }
}
