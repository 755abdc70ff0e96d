//! Retries of a failed request: the backoff doubles from `retry_base_ms`
//! up to `retry_max_ms`, and after `max_retries` the policy gives up.

use super::options::PolicyOptions;

/// The backoff stops doubling after this many failures in a row.
const MAX_DOUBLINGS: u32 = 5;

/// Failures in a row; any byte that arrives resets them.
#[derive(Debug, Default)]
pub(super) struct Retry {
    attempts: u32,
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Verdict {
    /// Fetch again after this many milliseconds.
    After(f64),
    /// Too many failures in a row: this many.
    GiveUp { attempts: u32 },
}

impl Retry {
    /// A request failed.
    pub(super) fn failed(&mut self, options: &PolicyOptions) -> Verdict {
        self.attempts += 1;
        if self.attempts > options.max_retries {
            return Verdict::GiveUp {
                attempts: self.attempts,
            };
        }
        let doublings = self.attempts.min(MAX_DOUBLINGS + 1) as i32 - 1;
        let backoff = options.retry_base_ms * 2f64.powi(doublings);
        Verdict::After(backoff.min(options.retry_max_ms))
    }

    /// Bytes came (or a new run starts): the count starts over.
    pub(super) fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_the_cap_then_gives_up() {
        let options = PolicyOptions {
            max_retries: 8,
            retry_base_ms: 250.0,
            retry_max_ms: 3000.0,
            ..Default::default()
        };
        let mut retry = Retry::default();
        let waits: Vec<Verdict> = (0..9).map(|_| retry.failed(&options)).collect();
        let ms = [250.0, 500.0, 1000.0, 2000.0, 3000.0, 3000.0, 3000.0, 3000.0];
        for (verdict, ms) in waits.iter().zip(ms) {
            assert_eq!(*verdict, Verdict::After(ms));
        }
        assert_eq!(waits[8], Verdict::GiveUp { attempts: 9 });
        retry.reset();
        assert_eq!(retry.failed(&options), Verdict::After(250.0));
    }
}
