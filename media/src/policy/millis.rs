//! Time on the shell's clock, kept apart from media seconds by its type.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in time: milliseconds on the shell's monotonic clock
/// (`performance.now()` in the player, simulated time in the simulator).
///
/// A newtype rather than a bare `f64`, so that a clock reading is never
/// mixed up with media seconds. Adding a duration (milliseconds, `f64`)
/// gives a later point; the difference of two points is a duration.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub struct Millis(f64);

impl Millis {
    /// The clock's origin.
    pub const ZERO: Millis = Millis(0.0);

    /// Milliseconds since the clock's origin, for the shell.
    pub const fn as_f64(self) -> f64 {
        self.0
    }

    /// The earlier of two points.
    pub fn min(self, other: Millis) -> Millis {
        Millis(self.0.min(other.0))
    }

    /// The later of two points.
    pub fn max(self, other: Millis) -> Millis {
        Millis(self.0.max(other.0))
    }
}

impl From<f64> for Millis {
    fn from(ms: f64) -> Self {
        Millis(ms)
    }
}

impl From<Millis> for f64 {
    fn from(at: Millis) -> Self {
        at.0
    }
}

/// A point `ms` milliseconds later.
impl Add<f64> for Millis {
    type Output = Millis;
    fn add(self, ms: f64) -> Millis {
        Millis(self.0 + ms)
    }
}

impl AddAssign<f64> for Millis {
    fn add_assign(&mut self, ms: f64) {
        self.0 += ms;
    }
}

/// Milliseconds from `earlier` to `self`.
impl Sub for Millis {
    type Output = f64;
    fn sub(self, earlier: Millis) -> f64 {
        self.0 - earlier.0
    }
}

/// As the number of milliseconds (width and precision apply).
impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_add_to_points_and_points_subtract_to_durations() {
        let start = Millis::from(1000.0);
        let later = start + 250.5;
        assert_eq!(later, Millis::from(1250.5));
        assert_eq!(later - start, 250.5);
        assert!(start < later);
        assert_eq!(start.max(later), later);
        assert_eq!(start.min(later), start);
        let mut t = start;
        t += 1.0;
        assert_eq!(f64::from(t), 1001.0);
        assert_eq!(format!("{:7.1}", Millis::from(3.25)), "    3.2");
    }
}
