//! The schedule: fetching stops at the goal and the memory cap, and the
//! stream ends once.

use super::*;

#[test]
fn paused_at_the_start_fetching_stops_at_the_goal_plus_one_unit() {
    let mut p = policy(PolicyOptions {
        goal: 10.0,
        ..Default::default()
    });
    p.start(at(0.0));
    let mut t = Millis::ZERO;
    let mut pending = fetches(&drain(&mut p));
    let mut rounds = 0;
    let mut fetched_to = 0;
    while let Some((id, range)) = pending.pop() {
        fetched_to = range.end;
        t = serve(&mut p, t, id, range, LINK);
        p.handle_playback(t, 0.0, &[0.0..seconds_fetched(fetched_to)], true, false);
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
    p.handle_playback(t, 5.0, &[0.0..seconds_fetched(fetched_to)], false, false);
    assert_eq!(fetches(&drain(&mut p)).len(), 1);
}

#[test]
fn the_memory_cap_stops_fetching() {
    let mut p = policy(PolicyOptions {
        goal: 1000.0,
        max_bytes: 350_000,
        ..Default::default()
    });
    p.start(at(0.0));
    let mut t = Millis::ZERO;
    let mut pending = fetches(&drain(&mut p));
    let mut rounds = 0;
    while let Some((id, range)) = pending.pop() {
        let fetched_to = range.end;
        t = serve(&mut p, t, id, range, 4_000_000.0);
        p.handle_playback(t, 0.0, &[0.0..seconds_fetched(fetched_to)], true, false);
        pending.extend(fetches(&drain(&mut p)));
        rounds += 1;
        assert!(rounds < 100, "fetching never stops");
    }
    assert!(p.stats().bytes_fetched < 350_000 + PolicyOptions::default().first_request);
}

#[test]
fn everything_fetched_ends_the_stream_once() {
    let (mut p, mut t, in_flight) = playing_policy(PolicyOptions {
        goal: 1000.0,
        ..Default::default()
    });
    let (id, range) = in_flight[0].clone();
    let mut fetched_to = range.end;
    t = serve(&mut p, t, id, range, 20_000_000.0);
    let mut ends = 0;
    for _ in 0..200 {
        p.handle_playback(t, 1.0, &[0.0..seconds_fetched(fetched_to)], false, false);
        for action in drain(&mut p) {
            match action {
                Action::Fetch { id, range, .. } => {
                    fetched_to = range.end;
                    t = serve(&mut p, t, id, range, 20_000_000.0);
                }
                Action::EndOfStream => ends += 1,
                _ => {}
            }
        }
    }
    assert_eq!(ends, 1);
    assert_eq!(p.stats().bytes_fetched, FILE_LEN);
}

/// No guess at the first request's size: it asks for the whole file and
/// streams until the goal is buffered, then the policy ends it; the next
/// request, once playback has moved on, starts at the very next byte.
#[test]
fn the_first_request_is_open_ended_and_ends_once_the_goal_is_in() {
    let (mut p, id, range) = started(PolicyOptions {
        goal: 10.0,
        ..Default::default()
    });
    assert_eq!(range, 0..super::super::OPEN_END);
    let t = serve(&mut p, at(100.0), id, range, LINK);
    assert!(!p.is_live(id));
    assert!(drain(&mut p).contains(&Action::Abort { id }));
    let goal_bytes = INIT + 5 * UNIT_BYTES;
    let fetched = p.stats().bytes_fetched;
    assert!(
        (goal_bytes..goal_bytes + 16 * 1024).contains(&fetched),
        "{fetched} bytes for a goal of {goal_bytes}"
    );
    p.handle_playback(t, 3.0, &[0.0..seconds_fetched(fetched)], false, false);
    let next = fetches(&drain(&mut p));
    assert_eq!(next[0].1.start, fetched, "no byte twice, none skipped");
    assert!(next[0].1.end < FILE_LEN, "later requests are sized");
}
