//! Seeks: inside the buffer the run goes on; outside, a new run starts.

use super::*;

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
    // The new run's first request is open-ended too: to the end of the
    // media, ended by the policy once the goal is in.
    assert_eq!(fetches(&actions)[0].1, unit_start..FILE_LEN);
    assert_eq!(p.state(), State::Seeking);
    assert_eq!(p.stats().aborted, 1);
}

/// With enough buffered at the target, the seek moves the playhead and
/// nothing else: no new run, no wait, and the request in flight goes on to
/// be followed by the next bytes of the same run. A seek past what is
/// buffered, by contrast, starts a new run.
#[test]
fn seeking_inside_the_buffer_keeps_the_run() {
    let (mut p, t, in_flight) = playing_policy(PolicyOptions::default());
    let (id, range) = in_flight[0].clone();
    p.seek(t, 4.0);
    let actions = drain(&mut p);
    assert_eq!(p.stats().position, 4.0, "the playhead moved");
    assert_eq!(p.state(), State::Playing, "no wait: 1 s is buffered at 4 s");
    assert!(
        !actions.iter().any(|a| matches!(
            a,
            Action::ResetRun { .. } | Action::Abort { .. } | Action::Fetch { .. } | Action::Hold
        )),
        "{actions:?}"
    );
    let t = serve(&mut p, t, id, range, LINK);
    let cut_at = p.stats().bytes_fetched;
    assert!(!p.is_live(id), "ended once the goal was in");
    drain(&mut p);
    p.handle_playback(t, 8.0, &[0.0..seconds_fetched(cut_at)], false, false);
    let next = fetches(&drain(&mut p));
    assert_eq!(next[0].1.start, cut_at, "the run goes on where it was");

    p.seek(t, 59.0);
    let actions = drain(&mut p);
    let unit_start = INIT + 29 * UNIT_BYTES;
    assert!(
        actions.contains(&Action::ResetRun {
            offset: unit_start,
            timestamp_offset: None
        }),
        "{actions:?}"
    );
    assert_eq!(fetches(&actions)[0].1.start, unit_start);
    assert_eq!(p.state(), State::Seeking);
}

/// A second visit: the browser's cache answers the first responses at
/// memory speed, so the estimate is far above the link. A seek 40 s ahead
/// must still jump there, not fetch the whole gap on the way.
#[test]
fn a_seek_far_ahead_jumps_even_when_the_link_looks_very_fast() {
    let (mut p, id, range) = started(PolicyOptions {
        goal: 4.0,
        ..Default::default()
    });
    // The first response, up to the goal, in a millisecond.
    let t = serve(&mut p, at(10.0), id, range, 4e12);
    p.handle_playback(t, 0.0, &[0.0..4.0], false, false);
    drain(&mut p);
    p.handle_playback(t + 1.0, 2.0, &[0.0..4.0], false, false);
    let (id, _) = fetches(&drain(&mut p))[0].clone();
    // Two seconds of this estimate would reach well past the target.
    let bps = p.stats().throughput.expect("an estimate");
    assert!(bps / 8.0 * 2.0 > (30 * UNIT_BYTES) as f64, "{bps}");
    p.seek(t + 2.0, 50.0);
    let actions = drain(&mut p);
    let unit_start = INIT + 25 * UNIT_BYTES;
    assert!(actions.contains(&Action::Abort { id }), "{actions:?}");
    assert_eq!(fetches(&actions)[0].1.start, unit_start);
}
