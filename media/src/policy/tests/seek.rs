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
