//! Stalls: what counts as the buffer running dry, and when playback resumes.

use super::*;

#[test]
fn the_element_catching_up_after_a_release_is_not_a_stall() {
    let (mut p, id, range) = started(PolicyOptions::default());
    let t = serve(&mut p, at(300.0), id, range, LINK);
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
fn the_element_saying_it_cannot_advance_is_a_stall_even_with_a_little_buffered() {
    let (mut p, t, _) = playing_policy(PolicyOptions::default());
    // Browsers wait at a fragment boundary with a few frames still buffered.
    p.handle_playback(t + 1900.0, 1.9, &[0.0..2.02], false, true);
    let actions = drain(&mut p);
    assert!(actions.contains(&Action::Stall { position: 1.9 }));
    assert_eq!(p.state(), State::Stalled);
}
