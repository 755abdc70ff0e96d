//! How far ahead to buffer on this link.
//!
//! The goal exists to ride out a drop: a link that falls to half the
//! media's rate for 15 s drains 7.5 s of buffer. On a link a few times the
//! media's rate the full `goal` option is what that takes. On a much faster
//! link the buffer refills in a fraction of a second after any dip, and
//! every second held past what it needs is fetched for nothing when the
//! viewer leaves — native `<video>` fetches the whole file there. So the
//! goal shrinks in proportion to the link's headroom beyond
//! [`FULL_GOAL_HEADROOM`], never below [`MIN_GOAL`].

use super::options::PolicyOptions;

/// Up to this many times the media's bit rate, the goal is the option.
const FULL_GOAL_HEADROOM: f64 = 4.0;
/// The least goal, seconds, however fast the link: room for a request's
/// round trip and a unit's worth of jitter at any rate.
const MIN_GOAL: f64 = 4.0;

/// Seconds to keep buffered ahead of the playhead, for media of `media`
/// bit/s on a link estimated at `link` bit/s.
pub(super) fn goal(options: &PolicyOptions, media: Option<f64>, link: Option<f64>) -> f64 {
    let headroom = match (media, link) {
        (Some(media), Some(link)) if media > 0.0 && link > 0.0 => link / media,
        _ => return options.goal,
    };
    if headroom <= FULL_GOAL_HEADROOM {
        return options.goal;
    }
    (options.goal * FULL_GOAL_HEADROOM / headroom)
        .max(MIN_GOAL)
        .min(options.goal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_goal_shrinks_with_the_headroom_past_four_times_the_media() {
        let o = PolicyOptions {
            goal: 12.0,
            ..Default::default()
        };
        let mbit = 1e6;
        assert_eq!(goal(&o, None, Some(20.0 * mbit)), 12.0, "no bit rate yet");
        assert_eq!(goal(&o, Some(mbit), None), 12.0, "no estimate yet");
        assert_eq!(goal(&o, Some(mbit), Some(0.5 * mbit)), 12.0);
        assert_eq!(goal(&o, Some(mbit), Some(4.0 * mbit)), 12.0);
        assert_eq!(goal(&o, Some(mbit), Some(8.0 * mbit)), 6.0);
        assert_eq!(goal(&o, Some(mbit), Some(40.0 * mbit)), MIN_GOAL);
        // A goal set below the floor stays the viewer's choice.
        let small = PolicyOptions {
            goal: 2.0,
            ..Default::default()
        };
        assert_eq!(goal(&small, Some(mbit), Some(40.0 * mbit)), 2.0);
    }
}
