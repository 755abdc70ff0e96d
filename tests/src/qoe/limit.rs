//! The physical limit of a first frame on a link: the round trips no
//! player can avoid plus the bytes that must arrive at the link's rate.
//!
//! Every player, native included, makes three round trips before a first
//! frame — the TCP connect, the page, the media's first request — and
//! needs the page and the media from the start of the file to the end of
//! the samples that the second frame shown depends on (the `moov` and the
//! interleaved chunks up to there, from the plain file's sample tables).
//! Caudal adds its own chain on top: `player.js`, then its modules (one
//! round trip if they are fetched side by side), and their bytes as they
//! crossed the link. Pure arithmetic: the inputs come from the run.

use std::fmt::Write as _;

use serde::Serialize;

use super::timeline::thousands;

/// One share of the time a first frame must take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    pub what: String,
    pub round_trips: u32,
    pub bytes: u64,
    /// `round_trips` × RTT + `bytes` at the link rate.
    pub ms: f64,
}

/// A link's latency and rate, what the parts are priced in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LinkCost {
    pub rtt_ms: f64,
    pub bits_per_second: f64,
}

impl LinkCost {
    pub fn part(&self, what: &str, round_trips: u32, bytes: u64) -> Part {
        Part {
            what: what.to_owned(),
            round_trips,
            bytes,
            ms: f64::from(round_trips) * self.rtt_ms
                + bytes as f64 * 8.0 * 1e3 / self.bits_per_second.max(1.0),
        }
    }
}

/// The limit and Caudal's floor above it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limit {
    pub link: LinkCost,
    /// What every player must pay.
    pub every_player: Vec<Part>,
    /// What Caudal adds: its script, then its modules.
    pub caudal_extra: Vec<Part>,
}

/// The sizes the limit is made of, as measured on the link (answers with
/// their heads) and read from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sizes {
    pub page: u64,
    /// The media bytes from the start of the file to the end of the
    /// samples the second frame shown needs.
    pub media_to_second_frame: u64,
    pub player_js: u64,
    /// The modules `player.js` loads (`pkg/*`), and their bytes.
    pub modules: usize,
    pub module_bytes: u64,
}

impl Limit {
    pub fn new(link: LinkCost, sizes: Sizes) -> Limit {
        Limit {
            link,
            every_player: vec![
                link.part("TCP connect", 1, 0),
                link.part("the page", 1, sizes.page),
                link.part("the media's first request", 1, 0),
                link.part(
                    "media up to the 2nd frame shown",
                    0,
                    sizes.media_to_second_frame,
                ),
            ],
            caudal_extra: vec![
                link.part("player.js", 1, sizes.player_js),
                link.part(
                    &format!("its modules ({}, side by side)", sizes.modules),
                    1,
                    sizes.module_bytes,
                ),
            ],
        }
    }

    /// The limit: what no player can beat.
    pub fn limit_ms(&self) -> f64 {
        total(&self.every_player).2
    }

    /// Caudal's floor: the limit plus its own chain.
    pub fn caudal_floor_ms(&self) -> f64 {
        self.limit_ms() + total(&self.caudal_extra).2
    }

    /// The table as printed.
    pub fn render(&self, indent: &str) -> String {
        let mut out = String::new();
        let line = |out: &mut String, what: &str, rtt: u32, bytes: u64, ms: f64| {
            let _ = writeln!(
                out,
                "{indent}{what:<40} {rtt:>4} {:>10} {ms:>8.0}",
                thousands(bytes)
            );
        };
        let _ = writeln!(
            out,
            "{indent}{:<40} {:>4} {:>10} {:>8}",
            "part", "RTT", "bytes", "ms"
        );
        for p in &self.every_player {
            line(
                &mut out,
                &format!("  {}", p.what),
                p.round_trips,
                p.bytes,
                p.ms,
            );
        }
        let (rtt, bytes, ms) = total(&self.every_player);
        line(&mut out, "= the limit, any player", rtt, bytes, ms);
        for p in &self.caudal_extra {
            line(
                &mut out,
                &format!("  + {}", p.what),
                p.round_trips,
                p.bytes,
                p.ms,
            );
        }
        let (extra_rtt, extra_bytes, extra_ms) = total(&self.caudal_extra);
        line(
            &mut out,
            "= Caudal's floor",
            rtt + extra_rtt,
            bytes + extra_bytes,
            ms + extra_ms,
        );
        out
    }
}

/// (round trips, bytes, ms) of `parts`.
fn total(parts: &[Part]) -> (u32, u64, f64) {
    parts.iter().fold((0, 0, 0.0), |(r, b, m), p| {
        (r + p.round_trips, b + p.bytes, m + p.ms)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_round_trips_plus_the_bytes_at_link_rate() {
        let link = LinkCost {
            rtt_ms: 300.0,
            bits_per_second: 2_000_000.0,
        };
        let limit = Limit::new(
            link,
            Sizes {
                page: 5_000,
                media_to_second_frame: 95_000,
                player_js: 10_000,
                modules: 4,
                module_bytes: 40_000,
            },
        );
        // 3 × 300 ms + 100 kB at 250 kB/s.
        assert!((limit.limit_ms() - 1_300.0).abs() < 1e-9);
        // + 2 × 300 ms + 50 kB at 250 kB/s.
        assert!((limit.caudal_floor_ms() - 2_100.0).abs() < 1e-9);
        let text = limit.render("");
        assert!(text.contains("= the limit, any player"), "{text}");
        assert!(text.contains("100,000"), "{text}");
        assert!(text.contains("its modules (4, side by side)"), "{text}");
    }

    #[test]
    fn a_part_costs_its_round_trips_and_its_bytes() {
        let link = LinkCost {
            rtt_ms: 40.0,
            bits_per_second: 8_000.0,
        };
        assert_eq!(link.part("x", 2, 1_000).ms, 80.0 + 1_000.0);
        assert_eq!(link.part("y", 0, 0).ms, 0.0);
    }
}
