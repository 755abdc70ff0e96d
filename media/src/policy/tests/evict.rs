//! Eviction of media far behind the playhead.

use super::*;

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
