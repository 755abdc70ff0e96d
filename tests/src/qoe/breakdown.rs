//! Where the time to first frame goes on the slowest scenario: the
//! timeline of Caudal's median run and native's beside it, against the
//! physical limit of the link and Caudal's own floor.

use std::fmt::Write as _;

use serde::Serialize;

use super::file::{Layouts, MediaFile};
use super::limit::{Limit, LinkCost, Sizes};
use super::player::Player;
use super::report::Cell;
use super::scenario::Scenario;
use super::timeline::Timeline;

/// One run's timeline, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub player: Player,
    /// 1-based, among the cell's repeats.
    pub run: usize,
    pub runs: usize,
    pub ttff_ms: Option<f64>,
    pub timeline: Timeline,
}

#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    pub file: MediaFile,
    pub scenario: Scenario,
    pub shown: Vec<Shown>,
    /// For the plain file, whose sample tables say how far a first frame
    /// reads.
    pub limit: Option<Limit>,
}

/// The scenario to break down among those run with `file`: `slowstart`
/// when it ran, else the one where Caudal (or else anyone) started last.
pub fn slowest(cells: &[Cell], file: MediaFile) -> Option<Scenario> {
    let ran: Vec<&Cell> = cells.iter().filter(|c| c.file == file).collect();
    if ran.iter().any(|c| c.scenario == Scenario::Slowstart) {
        return Some(Scenario::Slowstart);
    }
    let by = |player: Option<Player>| {
        ran.iter()
            .filter(|c| player.is_none_or(|p| c.player == p))
            .filter_map(|c| Some((c.summary().ttff_ms?, c.scenario)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, s)| s)
    };
    by(Some(Player::Caudal)).or_else(|| by(None))
}

impl Breakdown {
    /// The breakdown of `scenario` with `file`; `bit_rate` is B.
    pub fn new(
        cells: &[Cell],
        file: MediaFile,
        scenario: Scenario,
        layouts: &Layouts,
        bit_rate: f64,
    ) -> Breakdown {
        let shown: Vec<Shown> = [Player::Caudal, Player::Native]
            .into_iter()
            .filter_map(|player| {
                let cell = cells
                    .iter()
                    .find(|c| c.file == file && c.scenario == scenario && c.player == player)?;
                let chosen = cell.median_run()?;
                let run = cell
                    .runs
                    .iter()
                    .position(|r| r.as_ref().is_ok_and(|m| std::ptr::eq(m, chosen)))?;
                Some(Shown {
                    player,
                    run: run + 1,
                    runs: cell.runs.len(),
                    ttff_ms: chosen.cold.ttff_ms,
                    timeline: chosen.cold.timeline.clone(),
                })
            })
            .collect();
        let limit = match file {
            MediaFile::Plain => limit(&shown, scenario, layouts, bit_rate),
            MediaFile::Fmp4 => None,
        };
        Breakdown {
            file,
            scenario,
            shown,
            limit,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "where the time goes: {} ({}), {} file; ms from navigation start",
            self.scenario.name(),
            self.scenario.describe(),
            self.file.name()
        );
        for s in &self.shown {
            let _ = writeln!(
                out,
                "{}, run {} of {} (the median ttff):",
                s.player.label(),
                s.run,
                s.runs
            );
            out.push_str(&s.timeline.render("  "));
        }
        let Some(limit) = &self.limit else {
            if self.file == MediaFile::Fmp4 {
                out.push_str("(the physical limit is computed for the plain file)\n");
            }
            return out;
        };
        let _ = writeln!(
            out,
            "the physical limit at {:.1} Mbit/s, RTT {:.0} ms:",
            limit.link.bits_per_second / 1e6,
            limit.link.rtt_ms
        );
        out.push_str(&limit.render("  "));
        let against: Vec<String> = self
            .shown
            .iter()
            .filter_map(|s| {
                let ttff = s.ttff_ms?;
                let floor = match s.player {
                    Player::Caudal => format!(", {:.2}x its floor", ttff / limit.caudal_floor_ms()),
                    _ => String::new(),
                };
                Some(format!(
                    "{} {ttff:.0} ms = {:.2}x the limit{floor}",
                    s.player.label(),
                    ttff / limit.limit_ms()
                ))
            })
            .collect();
        if !against.is_empty() {
            let _ = writeln!(out, "measured ttff: {}", against.join("; "));
        }
        out
    }
}

/// The limit from what the shown runs fetched: the smallest page, and
/// Caudal's `player.js` and `pkg/*` as they crossed the link.
fn limit(shown: &[Shown], scenario: Scenario, layouts: &Layouts, bit_rate: f64) -> Option<Limit> {
    let link = scenario.link(bit_rate);
    let bits_per_second = link
        .trace
        .iter()
        .take_while(|(t, _)| *t <= 0.0)
        .last()
        .map(|&(_, bps)| bps as f64)?;
    let page = shown
        .iter()
        .map(|s| {
            let path = super::site::page_path(MediaFile::Plain, s.player);
            s.timeline.bytes_of(&path)
        })
        .filter(|&bytes| bytes > 0)
        .min()?;
    let caudal = shown.iter().find(|s| s.player == Player::Caudal);
    let (modules, module_bytes) = caudal.map_or((0, 0), |s| s.timeline.bytes_under("/pkg/"));
    Some(Limit::new(
        LinkCost {
            rtt_ms: link.rtt.as_secs_f64() * 1e3,
            bits_per_second,
        },
        Sizes {
            page,
            media_to_second_frame: layouts.plain.bytes_to_show(2)?,
            player_js: caudal.map_or(0, |s| s.timeline.bytes_of("/player.js")),
            modules,
            module_bytes,
        },
    ))
}
