//! The pacing rule, after Netflix's Sammy (SIGCOMM 2023): no cap while the
//! player starts, recovers from a seek or a stall, or holds only a few
//! seconds; otherwise a rate a little above what the buffer needs — m(buffer)
//! × the media's bit rate, m falling from about 3.2 at an empty buffer to
//! about 2.8 at the goal — and never below the rate the player asks for.
//! Pure: the inputs are what CMCD (or the server's estimate) says. The
//! server (`caudal serve --pace`) and the simulator's pacing server both run it.

use std::time::Duration;

/// The rule's settings (`--pace-*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceSettings {
    /// Below this much buffer a response is not paced.
    pub min_buffer: Duration,
    /// The buffer at which the multiplier reaches [`Self::multiplier_at_goal`].
    pub goal: Duration,
    /// m at an empty buffer.
    pub multiplier_empty: f64,
    /// m at (and above) the goal.
    pub multiplier_at_goal: f64,
}

impl Default for PaceSettings {
    fn default() -> Self {
        PaceSettings {
            min_buffer: Duration::from_secs(4),
            goal: Duration::from_secs(30),
            multiplier_empty: 3.2,
            multiplier_at_goal: 2.8,
        }
    }
}

/// What the rule knows of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PaceInput {
    /// Media buffered ahead of the playhead.
    pub buffer: Option<Duration>,
    /// Startup or just after a seek (CMCD `su`).
    pub startup: bool,
    /// The buffer ran dry since the last request (CMCD `bs`).
    pub starved: bool,
    /// The media's encoded bit rate, bits per second.
    pub bitrate: Option<f64>,
    /// The rate the player asks for (CMCD `rtp`), bits per second.
    pub requested: Option<f64>,
}

/// Why a response goes out at the link's full speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpaced {
    Startup,
    Starved,
    LowBuffer,
    /// Nothing says how much is buffered.
    UnknownBuffer,
    /// Nothing says the media's bit rate.
    UnknownBitrate,
}

/// The rule's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    Unpaced(Unpaced),
    /// Deliver at most this many bits per second.
    Paced {
        bits_per_second: f64,
        multiplier: f64,
    },
}

impl Pace {
    /// The cap in bytes per second, as `SO_MAX_PACING_RATE` takes it.
    pub fn bytes_per_second(&self) -> Option<u64> {
        match self {
            Pace::Paced {
                bits_per_second, ..
            } => Some((bits_per_second / 8.0).ceil() as u64),
            Pace::Unpaced(_) => None,
        }
    }
}

/// The rule.
pub fn decide(input: &PaceInput, settings: &PaceSettings) -> Pace {
    if input.startup {
        return Pace::Unpaced(Unpaced::Startup);
    }
    if input.starved {
        return Pace::Unpaced(Unpaced::Starved);
    }
    let Some(buffer) = input.buffer else {
        return Pace::Unpaced(Unpaced::UnknownBuffer);
    };
    if buffer < settings.min_buffer {
        return Pace::Unpaced(Unpaced::LowBuffer);
    }
    let Some(bitrate) = input.bitrate.filter(|rate| rate.is_finite() && *rate > 0.0) else {
        return Pace::Unpaced(Unpaced::UnknownBitrate);
    };
    let goal = settings.goal.as_secs_f64().max(f64::EPSILON);
    let filled = (buffer.as_secs_f64() / goal).clamp(0.0, 1.0);
    let multiplier = settings.multiplier_empty
        + (settings.multiplier_at_goal - settings.multiplier_empty) * filled;
    let mut bits_per_second = multiplier * bitrate;
    if let Some(requested) = input.requested.filter(|rate| rate.is_finite()) {
        bits_per_second = bits_per_second.max(requested);
    }
    Pace::Paced {
        bits_per_second,
        multiplier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy(buffer_s: u64) -> PaceInput {
        PaceInput {
            buffer: Some(Duration::from_secs(buffer_s)),
            bitrate: Some(3_000_000.0),
            ..PaceInput::default()
        }
    }

    #[test]
    fn startup_seek_stall_and_a_low_buffer_are_never_paced() {
        let settings = PaceSettings::default();
        let cases = [
            (
                PaceInput {
                    startup: true,
                    ..healthy(20)
                },
                Unpaced::Startup,
            ),
            (
                PaceInput {
                    starved: true,
                    ..healthy(20)
                },
                Unpaced::Starved,
            ),
            (healthy(3), Unpaced::LowBuffer),
            (
                PaceInput {
                    buffer: None,
                    ..healthy(20)
                },
                Unpaced::UnknownBuffer,
            ),
            (
                PaceInput {
                    bitrate: None,
                    ..healthy(20)
                },
                Unpaced::UnknownBitrate,
            ),
            (
                PaceInput {
                    bitrate: Some(0.0),
                    ..healthy(20)
                },
                Unpaced::UnknownBitrate,
            ),
        ];
        for (input, reason) in cases {
            assert_eq!(
                decide(&input, &settings),
                Pace::Unpaced(reason),
                "{input:?}"
            );
        }
    }

    #[test]
    fn the_multiplier_falls_from_empty_to_goal_then_holds() {
        let settings = PaceSettings {
            min_buffer: Duration::ZERO,
            ..PaceSettings::default()
        };
        let multiplier = |buffer_s| match decide(&healthy(buffer_s), &settings) {
            Pace::Paced {
                multiplier,
                bits_per_second,
            } => {
                assert!((bits_per_second - multiplier * 3_000_000.0).abs() < 1e-6);
                multiplier
            }
            other => panic!("{other:?}"),
        };
        assert!((multiplier(0) - 3.2).abs() < 1e-9);
        assert!((multiplier(15) - 3.0).abs() < 1e-9);
        assert!((multiplier(30) - 2.8).abs() < 1e-9);
        assert!((multiplier(120) - 2.8).abs() < 1e-9);
    }

    #[test]
    fn a_player_asking_for_more_gets_it_never_less() {
        let settings = PaceSettings::default();
        let asks_more = PaceInput {
            requested: Some(20_000_000.0),
            ..healthy(30)
        };
        assert_eq!(
            decide(&asks_more, &settings).bytes_per_second(),
            Some(2_500_000)
        );
        let asks_less = PaceInput {
            requested: Some(1_000_000.0),
            ..healthy(30)
        };
        assert_eq!(
            decide(&asks_less, &settings).bytes_per_second(),
            Some(1_050_000) // 2.8 x 3 Mbit/s
        );
    }
}
