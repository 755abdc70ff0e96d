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
        t = serve(&mut p, t, id, range, 4_000_000.0);
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
