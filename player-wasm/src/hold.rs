//! Holding playback without taking it from the viewer.
//!
//! The policy holds playback (startup, a stall, a seek) and releases it.
//! Holding is a playback rate of zero, not `pause()`: a viewer's `play()`
//! promise must not be rejected because we are buffering, and the element
//! must not report a pause the viewer never asked for. So the viewer's own
//! wishes (playing or not, at which rate) are kept apart from the hold, and
//! the `ratechange` events we cause are told from the viewer's. Plain data:
//! the shell applies the rates it is given.

/// The viewer's wishes and the policy's hold.
#[derive(Debug)]
pub struct Hold {
    held: bool,
    wants_play: bool,
    /// The viewer's playback rate, restored on release.
    user_rate: f64,
    /// `ratechange` events we caused ourselves and must not take as the viewer's.
    own_rate_changes: u32,
}

impl Hold {
    /// `wants_play`: the element was to autoplay.
    pub fn new(wants_play: bool) -> Self {
        Hold {
            held: false,
            wants_play,
            user_rate: 1.0,
            own_rate_changes: 0,
        }
    }

    /// Whether the viewer wants playback to run (`play` and `pause` events).
    pub fn wants_play(&self) -> bool {
        self.wants_play
    }

    /// The viewer's playback rate (the one a release restores).
    pub fn viewer_rate(&self) -> f64 {
        self.user_rate
    }

    pub fn set_wants_play(&mut self, wants_play: bool) {
        self.wants_play = wants_play;
    }

    /// `Action::Hold`, with the element's rate now: the rate to set, if
    /// playback was not held already.
    pub fn hold(&mut self, rate: f64) -> Option<f64> {
        if self.held {
            return None;
        }
        self.held = true;
        if rate > 0.0 {
            self.user_rate = rate;
        }
        self.own_rate_changes += 1;
        Some(0.0)
    }

    /// `Action::Release`: the viewer's rate to restore, if playback was held.
    pub fn release(&mut self) -> Option<f64> {
        if !self.held {
            return None;
        }
        self.held = false;
        self.own_rate_changes += 1;
        Some(self.user_rate)
    }

    /// A `ratechange` event with the element's rate now: the viewer's rate
    /// is remembered; while held, the rate to force back.
    pub fn rate_changed(&mut self, rate: f64) -> Option<f64> {
        if self.own_rate_changes > 0 {
            self.own_rate_changes -= 1;
            return None;
        }
        if rate > 0.0 {
            self.user_rate = rate;
        }
        if self.held && rate != 0.0 {
            self.own_rate_changes += 1;
            return Some(0.0);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holding_sets_rate_zero_and_release_restores_the_viewers_rate() {
        let mut hold = Hold::new(true);
        assert_eq!(hold.hold(1.5), Some(0.0));
        assert_eq!(hold.rate_changed(0.0), None, "our own change");
        assert_eq!(hold.hold(0.0), None, "held already");
        assert_eq!(hold.release(), Some(1.5));
        assert_eq!(hold.rate_changed(1.5), None, "our own change");
        assert_eq!(hold.release(), None, "not held");
    }

    #[test]
    fn a_rate_the_viewer_sets_while_held_is_kept_for_release_and_forced_back_to_zero() {
        let mut hold = Hold::new(false);
        assert_eq!(hold.hold(1.0), Some(0.0));
        assert_eq!(hold.rate_changed(0.0), None);
        assert_eq!(hold.rate_changed(2.0), Some(0.0), "the viewer's change");
        assert_eq!(hold.rate_changed(0.0), None, "our own change");
        assert_eq!(hold.release(), Some(2.0));
    }

    #[test]
    fn the_viewers_wish_to_play_is_kept_apart_from_the_hold() {
        let mut hold = Hold::new(false);
        assert!(!hold.wants_play());
        hold.set_wants_play(true);
        hold.hold(1.0);
        assert!(hold.wants_play());
    }
}
