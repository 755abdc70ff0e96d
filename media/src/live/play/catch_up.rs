//! How a live player holds its distance to the live edge: a little faster
//! playback while it is somewhat behind its target latency, a jump when it
//! is far behind, and a little slower while it is ahead of the target (too
//! thin a buffer, which the next hiccup would empty). Pure: the numbers in,
//! the decision out.

/// Off the target by more than this (seconds), playback changes speed:
/// 50 ms over asks for 1 % more, which nobody hears.
const SPEED_UP_ABOVE: f64 = 0.05;
/// Back within this of the target, playback returns to normal speed.
const NORMAL_WITHIN: f64 = 0.02;
/// Extra rate per second of excess latency (0.5 s over: 1.1×).
const RATE_PER_SECOND: f64 = 0.2;
/// The slowest rate that rebuilds a buffer thinner than the target:
/// 5 % slower is not heard (browsers keep the pitch).
const MIN_RATE: f64 = 0.95;

/// The buffer margin below which playback never speeds up: eating the last
/// of the buffer to gain a few milliseconds of latency would cause a stall.
const SPEED_UP_MARGIN: f64 = 0.1;

/// The rule's settings (from [`super::LiveOptions`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CatchUp {
    /// Target latency, seconds.
    pub target: f64,
    pub max_rate: f64,
    /// Seconds over the target from which the player jumps instead.
    pub jump: f64,
    /// The least buffer ahead the player keeps, seconds.
    pub min_ahead: f64,
}

/// Where playback stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    /// How far behind live the viewer is, seconds: the latency measured
    /// from the wall clock when the stream carries one, else the buffer.
    pub behind: f64,
    /// Seconds buffered ahead of the playhead.
    pub ahead: f64,
    pub position: f64,
    /// The live edge on the timeline.
    pub edge: f64,
    /// The playback rate in force.
    pub rate: f64,
}

/// What the rule wants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Steer {
    Keep,
    /// Play at this rate.
    Rate(f64),
    /// Move the playhead forward to this point of the timeline.
    Jump(f64),
}

impl CatchUp {
    /// The buffer ahead that puts a viewer at the target latency, given
    /// that `transport` seconds of it are spent before the bytes arrive.
    pub fn ahead_for(&self, transport: f64) -> f64 {
        (self.target - transport.max(0.0)).max(self.min_ahead)
    }

    pub fn steer(&self, now: &Standing) -> Steer {
        let excess = now.behind - self.target;
        if excess > self.jump {
            let transport = (now.behind - now.ahead).max(0.0);
            let to = now.edge - self.ahead_for(transport);
            // Only forward, and only by a meaningful step.
            if to > now.position + 0.5 {
                return Steer::Jump(to);
            }
        }
        let wanted = if excess < -SPEED_UP_ABOVE {
            let less = (-excess * RATE_PER_SECOND).min(1.0 - MIN_RATE);
            1.0 - (less * 100.0).round() / 100.0
        } else if excess.abs() < NORMAL_WITHIN
            || (excess > 0.0 && now.ahead <= self.min_ahead + SPEED_UP_MARGIN)
        {
            1.0
        } else if excess > SPEED_UP_ABOVE {
            let extra = (excess * RATE_PER_SECOND).min(self.max_rate - 1.0).max(0.0);
            1.0 + (extra * 100.0).round() / 100.0
        } else {
            now.rate
        };
        if (wanted - now.rate).abs() >= 0.005 {
            Steer::Rate(wanted)
        } else {
            Steer::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: CatchUp = CatchUp {
        target: 0.6,
        max_rate: 1.1,
        jump: 2.0,
        min_ahead: 0.2,
    };

    fn at(behind: f64, ahead: f64, rate: f64) -> Standing {
        Standing {
            behind,
            ahead,
            position: 100.0,
            edge: 100.0 + ahead,
            rate,
        }
    }

    #[test]
    fn on_target_playback_runs_at_normal_speed() {
        assert_eq!(RULE.steer(&at(0.6, 0.5, 1.0)), Steer::Keep);
        assert_eq!(RULE.steer(&at(0.61, 0.5, 1.05)), Steer::Rate(1.0));
    }

    #[test]
    fn somewhat_behind_speeds_up_in_proportion_never_above_the_maximum() {
        assert_eq!(RULE.steer(&at(0.85, 0.7, 1.0)), Steer::Rate(1.05));
        assert_eq!(RULE.steer(&at(1.6, 1.5, 1.0)), Steer::Rate(1.1));
        assert_eq!(RULE.steer(&at(0.67, 0.6, 1.0)), Steer::Rate(1.01));
        // Within the band between the two thresholds the rate in force stays.
        assert_eq!(RULE.steer(&at(0.64, 0.6, 1.01)), Steer::Keep);
        assert_eq!(RULE.steer(&at(0.64, 0.6, 1.0)), Steer::Keep);
    }

    #[test]
    fn ahead_of_the_target_plays_slower_to_rebuild_the_buffer() {
        // 0.25 s behind with a 0.6 s target: 0.35 s short.
        assert_eq!(
            RULE.steer(&at(0.25, 0.2, 1.0)),
            Steer::Rate(0.93_f64.max(0.95))
        );
        assert_eq!(RULE.steer(&at(0.45, 0.4, 1.0)), Steer::Rate(0.97));
        assert_eq!(RULE.steer(&at(0.56, 0.5, 1.0)), Steer::Keep);
        // Back on target: normal speed.
        assert_eq!(RULE.steer(&at(0.59, 0.55, 0.97)), Steer::Rate(1.0));
    }

    #[test]
    fn a_thin_buffer_is_never_eaten_to_gain_latency() {
        // Behind because of the transport, not the buffer: speeding up
        // would only stall.
        assert_eq!(RULE.steer(&at(1.2, 0.25, 1.0)), Steer::Keep);
        assert_eq!(RULE.steer(&at(1.2, 0.25, 1.1)), Steer::Rate(1.0));
    }

    #[test]
    fn far_behind_jumps_to_the_target_distance_from_the_edge() {
        // 5 s behind, 4.9 s of it buffered: 0.1 s is transport, so the
        // target leaves 0.5 s of buffer.
        match RULE.steer(&at(5.0, 4.9, 1.0)) {
            Steer::Jump(to) => assert!((to - (104.9 - 0.5)).abs() < 1e-9, "{to}"),
            other => panic!("{other:?}"),
        }
        // Far behind but nothing buffered to jump into: catch up is all.
        assert_eq!(RULE.steer(&at(5.0, 0.3, 1.0)), Steer::Keep);
    }

    #[test]
    fn the_buffer_kept_ahead_never_falls_below_the_minimum() {
        assert!((RULE.ahead_for(0.1) - 0.5).abs() < 1e-9);
        assert_eq!(RULE.ahead_for(2.0), 0.2);
        assert_eq!(RULE.ahead_for(-1.0), 0.6);
    }
}
