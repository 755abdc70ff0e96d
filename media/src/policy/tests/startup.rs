//! Startup: the first request, and when the first frame may play.

use super::*;

#[test]
fn first_request_carries_the_index_and_startup_then_playback_is_released() {
    let mut p = policy(PolicyOptions {
        startup: 1.0,
        ..Default::default()
    });
    p.start(at(0.0));
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
    // No guess at its size: it streams until the policy has what it wants.
    assert_eq!(range, 0..super::super::OPEN_END);
    let t = serve(&mut p, at(300.0), id, range, 8_000_000.0);
    let actions = drain(&mut p);
    assert!(actions.iter().any(
        |a| matches!(a, Action::Configure { mime, duration: Some(d), .. }
        if mime == "video/mp4; codecs=\"avc1.4d401e\"" && *d == 60.0)
    ));
    assert!(actions.iter().any(|a| matches!(a, Action::Append { .. })));
    assert_eq!(p.state(), State::Buffering);
    // The link is 20 times the bit rate (8 Mbit/s for 400 kbit/s): it
    // refills faster than playback drains, so 0.15 s (the floor: a few
    // frames), not the full startup second, starts playback.
    p.handle_playback(t, 0.0, &[0.0..0.1], false, false);
    assert!(!drain(&mut p).contains(&Action::Release));
    p.handle_playback(t + 10.0, 0.0, &[0.0..0.2], false, false);
    let actions = drain(&mut p);
    assert!(actions.contains(&Action::Release));
    assert_eq!(p.state(), State::Playing);
    assert_eq!(p.stats().startup_ms, Some(t + 10.0 - at(0.0)));
}

#[test]
fn a_link_slower_than_the_media_waits_for_more_before_the_first_frame() {
    let (mut p, id, range) = started(PolicyOptions {
        startup: 1.0,
        ..Default::default()
    });
    // 200 kbit/s for 400 kbit/s media: half the speed, twice the startup.
    let t = serve(&mut p, at(300.0), id, range, 200_000.0);
    drain(&mut p);
    p.handle_playback(t, 0.0, &[0.0..1.5], false, false);
    assert!(!drain(&mut p).contains(&Action::Release));
    p.handle_playback(t + 10.0, 0.0, &[0.0..2.1], false, false);
    assert!(drain(&mut p).contains(&Action::Release));
}
