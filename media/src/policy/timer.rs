//! The policy's timers: when to retry, and when a request that has gone
//! silent is given up. [`TimerTable::next`] is `Policy::poll_timeout`.

use super::millis::Millis;

/// One timer of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// The backoff after a failed request is over: fetch again.
    Retry,
    /// The media request has delivered nothing for the request timeout.
    MediaIdle,
    /// The side request (index bytes elsewhere) likewise.
    SideIdle,
    /// Ask for a new URL before the token expires.
    Authorize,
}

impl Timer {
    const COUNT: usize = 4;

    /// The idle timer of the media request or of the side request.
    pub(super) fn idle(media: bool) -> Timer {
        if media {
            Timer::MediaIdle
        } else {
            Timer::SideIdle
        }
    }

    fn slot(self) -> usize {
        match self {
            Timer::Retry => 0,
            Timer::MediaIdle => 1,
            Timer::SideIdle => 2,
            Timer::Authorize => 3,
        }
    }
}

/// A deadline per [`Timer`], or none.
#[derive(Debug, Default)]
pub(super) struct TimerTable {
    deadlines: [Option<Millis>; Timer::COUNT],
}

impl TimerTable {
    pub(super) fn set(&mut self, timer: Timer, at: Millis) {
        self.deadlines[timer.slot()] = Some(at);
    }

    pub(super) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer.slot()] = None;
    }

    pub(super) fn is_set(&self, timer: Timer) -> bool {
        self.deadlines[timer.slot()].is_some()
    }

    /// The timer is set and its deadline has come at `now`.
    pub(super) fn is_expired(&self, timer: Timer, now: Millis) -> bool {
        self.deadlines[timer.slot()].is_some_and(|at| now >= at)
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Millis> {
        self.deadlines.iter().flatten().copied().reduce(Millis::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_timeout_is_the_earliest_deadline_set() {
        let mut timers = TimerTable::default();
        assert_eq!(timers.next(), None);
        timers.set(Timer::MediaIdle, Millis::from(500.0));
        timers.set(Timer::Retry, Millis::from(300.0));
        assert_eq!(timers.next(), Some(Millis::from(300.0)));
        assert!(!timers.is_expired(Timer::Retry, Millis::from(299.0)));
        assert!(timers.is_expired(Timer::Retry, Millis::from(300.0)));
        timers.stop(Timer::Retry);
        assert!(!timers.is_set(Timer::Retry));
        assert_eq!(timers.next(), Some(Millis::from(500.0)));
    }
}
