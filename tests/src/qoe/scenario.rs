//! The network scenarios: each a link (trace + RTT) and what the viewer does.
//!
//! Most rates are multiples of the file's own average bit rate B (about
//! 1.5 Mbit/s for the benchmark's encode), so a scenario means the same
//! thing whatever file it runs on: at 4×B any player should keep up, at
//! 0.5×B every player must eventually run dry. Three are absolute, as a
//! viewer's link is: `fast` and `abandon` at 20 Mbit/s, `slowstart` at
//! 2 Mbit/s with 300 ms RTT (with this file, 1.5 Mbit/s media on a link
//! barely faster).

use std::time::Duration;

use anyhow::{Result, bail};

use crate::shaped_link::LinkConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// 4×B, RTT 40 ms, watch 20 s: the easy case; startup and waste.
    Steady,
    /// 20 Mbit/s, RTT 40 ms, watch 15 s: a good home link; startup.
    Fast,
    /// 4×B, then 0.5×B from 8 s to 23 s, then 4×B; watch until 40 s of
    /// media or 60 s: how a player rides out a drop.
    Drop,
    /// 20 Mbit/s, RTT 40 ms, leave after 15 s: what a player fetched for
    /// nothing.
    Abandon,
    /// 4×B, RTT 40 ms, play 5 s, seek to 2/3 (40 s of 60), watch 5 s more.
    Seek,
    /// 2 Mbit/s, RTT 300 ms, watch 15 s: a long thin path, round trips count.
    Slowstart,
    /// 4×B, then 0.3×B from 3 s to 33 s, then 4×B; watch until 40 s of
    /// media or 75 s. Not in the issue's list: a drop no buffer rides out,
    /// so every player stalls, and how often and how long is the measure.
    Longdrop,
}

/// What the viewer does in a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Viewer {
    /// Watch for this long from the start.
    Watch(Duration),
    /// Watch until this much media time has played, at most `limit`.
    WatchUntil { media_seconds: f64, limit: Duration },
    /// Play `before` after the first frame, seek to `fraction` of the
    /// duration, then watch `after` more from the end of the seek.
    Seek {
        before: Duration,
        fraction: f64,
        after: Duration,
    },
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::Steady,
        Scenario::Fast,
        Scenario::Drop,
        Scenario::Abandon,
        Scenario::Seek,
        Scenario::Slowstart,
        Scenario::Longdrop,
    ];

    pub fn parse(text: &str) -> Result<Scenario> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name() == text)
            .map_or_else(
                || {
                    bail!(
                        "unknown scenario `{text}`: expected one of {}",
                        Scenario::ALL.map(Scenario::name).join(", ")
                    )
                },
                Ok,
            )
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Steady => "steady",
            Scenario::Fast => "fast",
            Scenario::Drop => "drop",
            Scenario::Abandon => "abandon",
            Scenario::Seek => "seek",
            Scenario::Slowstart => "slowstart",
            Scenario::Longdrop => "longdrop",
        }
    }

    /// The link for a file of average bit rate `b` (bit/s). The trace clock
    /// starts just before the browser navigates to the page.
    pub fn link(self, b: f64) -> LinkConfig {
        let times = |k: f64| (k * b).round() as u64;
        let (trace, rtt_ms) = match self {
            Scenario::Steady | Scenario::Seek => (vec![(0.0, times(4.0))], 40),
            Scenario::Drop => (
                vec![(0.0, times(4.0)), (8.0, times(0.5)), (23.0, times(4.0))],
                40,
            ),
            Scenario::Fast | Scenario::Abandon => (vec![(0.0, 20_000_000)], 40),
            Scenario::Slowstart => (vec![(0.0, 2_000_000)], 300),
            Scenario::Longdrop => (
                vec![(0.0, times(4.0)), (3.0, times(0.3)), (33.0, times(4.0))],
                40,
            ),
        };
        LinkConfig {
            trace,
            rtt: Duration::from_millis(rtt_ms),
        }
    }

    pub fn viewer(self) -> Viewer {
        let s = Duration::from_secs;
        match self {
            Scenario::Steady => Viewer::Watch(s(20)),
            Scenario::Fast => Viewer::Watch(s(15)),
            Scenario::Drop => Viewer::WatchUntil {
                media_seconds: 40.0,
                limit: s(60),
            },
            Scenario::Abandon => Viewer::Watch(s(15)),
            Scenario::Seek => Viewer::Seek {
                before: s(5),
                fraction: 2.0 / 3.0,
                after: s(5),
            },
            Scenario::Slowstart => Viewer::Watch(s(15)),
            Scenario::Longdrop => Viewer::WatchUntil {
                media_seconds: 40.0,
                limit: s(75),
            },
        }
    }

    /// One line for the report.
    pub fn describe(self) -> &'static str {
        match self {
            Scenario::Steady => "4xB, RTT 40 ms, watch 20 s",
            Scenario::Fast => "20 Mbit/s, RTT 40 ms, watch 15 s",
            Scenario::Drop => "4xB; 0.5xB from 8 s to 23 s; RTT 40 ms; until 40 s played or 60 s",
            Scenario::Abandon => "20 Mbit/s, RTT 40 ms, leave after 15 s",
            Scenario::Seek => "4xB, RTT 40 ms, play 5 s, seek to 2/3 (40 s of 60), watch 5 s",
            Scenario::Slowstart => "2 Mbit/s, RTT 300 ms, watch 15 s",
            Scenario::Longdrop => {
                "4xB; 0.3xB from 3 s to 33 s; RTT 40 ms; until 40 s played or 75 s"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_drop_has_three_steps() -> Result<()> {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.name())?, s);
        }
        assert!(Scenario::parse("nope").is_err());
        let drop = Scenario::Drop.link(1_000_000.0);
        assert_eq!(
            drop.trace,
            [(0.0, 4_000_000), (8.0, 500_000), (23.0, 4_000_000)]
        );
        Ok(())
    }

    #[test]
    fn links_follow_the_issue_relative_or_absolute() {
        let b = 1_500_000.0;
        let link = |s: Scenario| (s.link(b).trace, s.link(b).rtt.as_millis());
        assert_eq!(link(Scenario::Steady), (vec![(0.0, 6_000_000)], 40));
        assert_eq!(link(Scenario::Seek), (vec![(0.0, 6_000_000)], 40));
        // Absolute, whatever the file's rate.
        assert_eq!(link(Scenario::Fast), (vec![(0.0, 20_000_000)], 40));
        assert_eq!(link(Scenario::Abandon), (vec![(0.0, 20_000_000)], 40));
        assert_eq!(link(Scenario::Slowstart), (vec![(0.0, 2_000_000)], 300));
        assert_eq!(Scenario::Abandon.link(1.0).trace, [(0.0, 20_000_000)]);
        let Viewer::Seek { fraction, .. } = Scenario::Seek.viewer() else {
            panic!("seek is a seek");
        };
        assert!((fraction * 60.0 - 40.0).abs() < 1e-9);
        assert_eq!(
            Scenario::Fast.viewer(),
            Viewer::Watch(Duration::from_secs(15))
        );
    }
}
