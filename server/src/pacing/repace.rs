//! The pace of a long response decided again as it goes. A player without
//! CMCD — native `<video>` above all — asks for the whole file (`bytes=0-`)
//! in one response and reads it as it plays; decided once, at its start,
//! that response is a startup and never paced. So under `--pace always`
//! such a response is looked at again every [`EVERY_BYTES`] it sends: its
//! viewer's buffer is what it had at the start plus the media sent since,
//! less the time since, and the rule caps or uncaps the connection by it.
//! Time is passed in.

use std::time::{Duration, Instant};

use caudal_media::pace::{self, Pace, PaceInput, PaceSettings};

/// Body bytes between two looks.
pub const EVERY_BYTES: u64 = 1024 * 1024;

/// One response's state.
#[derive(Debug, Clone)]
pub struct Repace {
    settings: PaceSettings,
    /// The media's bytes per second.
    bytes_per_second: f64,
    started: Instant,
    buffer_at_start: Duration,
    sent: u64,
    next_look: u64,
    /// The cap in force, bytes per second.
    cap: Option<u64>,
}

impl Repace {
    pub fn new(
        settings: PaceSettings,
        bytes_per_second: f64,
        started: Instant,
        buffer_at_start: Option<Duration>,
        cap: Option<u64>,
    ) -> Self {
        Repace {
            settings,
            bytes_per_second,
            started,
            buffer_at_start: buffer_at_start.unwrap_or(Duration::ZERO),
            sent: 0,
            next_look: EVERY_BYTES,
            cap,
        }
    }

    /// `len` more body bytes left at `now`: the new cap when it changes
    /// (`Some(None)`: uncap), `None` when it stays.
    pub fn sent(&mut self, len: u64, now: Instant) -> Option<Option<u64>> {
        self.sent += len;
        if self.sent < self.next_look {
            return None;
        }
        self.next_look = self.sent + EVERY_BYTES;
        let handed_out = self.sent as f64 / self.bytes_per_second;
        let elapsed = now.saturating_duration_since(self.started).as_secs_f64();
        let buffer = (self.buffer_at_start.as_secs_f64() + handed_out - elapsed).max(0.0);
        let input = PaceInput {
            buffer: Some(Duration::from_secs_f64(buffer)),
            bitrate: Some(self.bytes_per_second * 8.0),
            ..PaceInput::default()
        };
        let cap = match pace::decide(&input, &self.settings) {
            Pace::Unpaced(_) => None,
            paced => paced.bytes_per_second(),
        };
        (cap != self.cap).then(|| {
            self.cap = cap;
            cap
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_file_read_ahead_of_its_playhead_is_capped_then_uncapped_if_it_falls_behind() {
        let t0 = Instant::now();
        let rate = 125_000.0; // 1 Mbit/s media
        let mut repace = Repace::new(PaceSettings::default(), rate, t0, None, None);
        // Half a MiB: not yet a look.
        assert_eq!(repace.sent(512 * 1024, t0), None);
        // 1 MiB in 100 ms: about 8.3 s ahead, over 4 s: capped at
        // m(8.3 s) x 1 Mbit/s.
        let cap = repace.sent(512 * 1024, t0 + Duration::from_millis(100));
        let cap = cap.flatten().expect("capped");
        assert!((380_000..=400_000).contains(&cap), "{cap}");
        // The next MiB 14 s later: 16.8 s handed out in 14.1 s, 2.7 s ahead:
        // under 4 s, uncapped.
        let later = t0 + Duration::from_millis(14_100);
        assert_eq!(repace.sent(1024 * 1024, later), Some(None));
        // Still behind at the next look: no change.
        assert_eq!(
            repace.sent(1024 * 1024, later + Duration::from_secs(9)),
            None
        );
    }
}
