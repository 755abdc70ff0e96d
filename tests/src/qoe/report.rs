//! Results: medians across repeats, the side-by-side table per file, the
//! ratios of ours to each reference, and results.json.

use serde::Serialize;
use serde_json::{Value, json};

use super::file::MediaFile;
use super::player::Player;
use super::run::{Measurement, Visit};
use super::scenario::Scenario;

/// All runs of one player in one scenario with one file chosen.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub file: MediaFile,
    pub scenario: Scenario,
    pub player: Player,
    /// Each repeat: its measurement, or why it could not be measured.
    pub runs: Vec<Result<Measurement, String>>,
}

/// The medians of a cell's measured runs.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    pub ttff_ms: Option<f64>,
    /// From the first media request to the picture moving.
    pub ttff_from_request_ms: Option<f64>,
    pub warm_ttff_ms: Option<f64>,
    pub stalls: Option<f64>,
    pub stall_s: Option<f64>,
    pub seek_ms: Option<f64>,
    pub warm_seek_ms: Option<f64>,
    pub mb_fetched: Option<f64>,
    pub mb_wasted: Option<f64>,
    pub kb_other: Option<f64>,
}

/// The reported metrics, in column order: name, width, decimals, getter.
type Getter = fn(&Summary) -> Option<f64>;
const METRICS: [(&str, usize, usize, Getter); 10] = [
    ("ttff ms", 7, 0, |s| s.ttff_ms),
    ("from req", 8, 0, |s| s.ttff_from_request_ms),
    ("warm ttff", 9, 0, |s| s.warm_ttff_ms),
    ("stalls", 6, 1, |s| s.stalls),
    ("stall s", 7, 2, |s| s.stall_s),
    ("seek ms", 7, 0, |s| s.seek_ms),
    ("warm seek", 9, 0, |s| s.warm_seek_ms),
    ("MB media", 8, 2, |s| s.mb_fetched),
    ("MB wasted", 9, 2, |s| s.mb_wasted),
    ("KB other", 8, 0, |s| s.kb_other),
];

impl Cell {
    fn measured(&self) -> impl Iterator<Item = &Measurement> {
        self.runs.iter().filter_map(|r| r.as_ref().ok())
    }

    /// Medians over the runs that produced a measurement. A run whose
    /// player failed still counts for what it measured before failing.
    pub fn summary(&self) -> Summary {
        let cold =
            |f: fn(&Visit) -> Option<f64>| median(self.measured().filter_map(|m| f(&m.cold)));
        let warm = |f: fn(&Visit) -> Option<f64>| {
            median(self.measured().filter_map(|m| m.warm.as_ref().and_then(f)))
        };
        Summary {
            ttff_ms: cold(|v| v.ttff_ms),
            ttff_from_request_ms: cold(Visit::ttff_from_request_ms),
            warm_ttff_ms: warm(|v| v.ttff_ms),
            stalls: cold(|v| Some(f64::from(v.stalls))),
            stall_s: cold(|v| Some(v.stall_s)),
            seek_ms: cold(|v| v.seek_ms),
            warm_seek_ms: warm(|v| v.seek_ms),
            mb_fetched: cold(|v| Some(v.mb_fetched)),
            mb_wasted: cold(|v| Some(v.mb_wasted)),
            kb_other: cold(|v| Some(v.kb_other)),
        }
    }

    /// The run whose cold ttff is the median (the lower middle of an even
    /// count): the one whose timeline is shown.
    pub fn median_run(&self) -> Option<&Measurement> {
        let mut runs: Vec<&Measurement> = self
            .measured()
            .filter(|m| m.cold.ttff_ms.is_some_and(f64::is_finite))
            .collect();
        runs.sort_by(|a, b| {
            let key = |m: &Measurement| m.cold.ttff_ms.unwrap_or(f64::INFINITY);
            key(a).total_cmp(&key(b))
        });
        runs.get(runs.len().saturating_sub(1) / 2).copied()
    }

    /// Errors of the runs, for the notes under the table.
    pub fn errors(&self) -> Vec<String> {
        self.runs
            .iter()
            .flat_map(|r| match r {
                Err(e) => vec![e.clone()],
                Ok(m) => m
                    .cold
                    .error
                    .iter()
                    .cloned()
                    .chain(
                        m.warm
                            .as_ref()
                            .and_then(|w| w.error.clone())
                            .map(|e| format!("warm: {e}")),
                    )
                    .chain(
                        m.warm_failed
                            .iter()
                            .map(|e| format!("warm visit failed: {e}")),
                    )
                    .collect(),
            })
            .collect()
    }
}

/// The median of the values (mean of the middle two for an even count).
pub fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// `ours / reference`, as text: `=` when both are zero, `inf` when only
/// the reference is, `-` when either is missing.
pub fn ratio(ours: Option<f64>, reference: Option<f64>) -> String {
    let (Some(a), Some(b)) = (ours, reference) else {
        return "-".to_owned();
    };
    if b != 0.0 {
        format!("{:.2}x", a / b)
    } else if a == 0.0 {
        "=".to_owned()
    } else {
        "inf".to_owned()
    }
}

fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

fn header(first: &str) -> String {
    let mut line = format!("{:<10} {:<16}", "scenario", first);
    for (name, w, _, _) in METRICS {
        line.push_str(&format!(" | {name:>w$}"));
    }
    line
}

/// The table, the ratios and the notes of `file`'s cells, as printed.
pub fn table(cells: &[Cell], file: MediaFile) -> String {
    let cells: Vec<&Cell> = cells.iter().filter(|c| c.file == file).collect();
    let mut out = String::new();
    let head = header("player");
    out.push_str(&head);
    out.push('\n');
    out.push_str(&"-".repeat(head.len()));
    out.push('\n');
    let mut notes = Vec::new();
    for cell in &cells {
        let s = cell.summary();
        let mut line = format!("{:<10} {:<16}", cell.scenario.name(), cell.player.label());
        for (_, w, decimals, get) in METRICS {
            line.push_str(&format!(" | {:>w$}", number(get(&s), decimals)));
        }
        let errors = cell.errors();
        if !errors.is_empty() {
            line.push_str(&format!(" [{} error(s), see notes]", errors.len()));
            for e in errors {
                notes.push(format!(
                    "{} / {}: {e}",
                    cell.scenario.name(),
                    cell.player.label()
                ));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }

    let find = |scenario: Scenario, player: Player| {
        cells
            .iter()
            .find(|c| c.scenario == scenario && c.player == player)
            .map(|c| c.summary())
    };
    let mut ratios = Vec::new();
    for scenario in Scenario::ALL {
        for (ours, reference, label) in [
            (Player::Caudal, Player::Native, "caudal/native"),
            (Player::Caudal, Player::Hlsjs, "caudal/hls.js"),
            (Player::Hlsjs, Player::Native, "hls.js/native"),
        ] {
            let (Some(a), Some(b)) = (find(scenario, ours), find(scenario, reference)) else {
                continue;
            };
            let mut line = format!("{:<10} {:<16}", scenario.name(), label);
            for (_, w, _, get) in METRICS {
                line.push_str(&format!(" | {:>w$}", ratio(get(&a), get(&b))));
            }
            ratios.push(line);
        }
    }
    if !ratios.is_empty() {
        out.push('\n');
        let head = header("ratio");
        out.push_str(&head);
        out.push('\n');
        out.push_str(&"-".repeat(head.len()));
        out.push('\n');
        for line in ratios {
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str("(below 1.00x is better for every metric; = both zero; inf: only the reference is zero)\n");
    }
    if !notes.is_empty() {
        out.push_str("\nnotes:\n");
        for note in notes {
            out.push_str(&format!("  {note}\n"));
        }
    }
    out
}

/// results.json: the context, every run, and the medians.
pub fn json(cells: &[Cell], context: Value) -> Value {
    let cells: Vec<Value> = cells
        .iter()
        .map(|c| {
            json!({
                "file": c.file,
                "scenario": c.scenario,
                "player": c.player,
                "median": c.summary(),
                "runs": c.runs.iter().map(|r| match r {
                    Ok(m) => json!(m),
                    Err(e) => json!({ "failed": e }),
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "context": context, "results": cells })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median([4.0, 1.0].into_iter()), Some(2.5));
        assert_eq!(median(std::iter::empty()), None);
        assert_eq!(ratio(Some(1.0), Some(2.0)), "0.50x");
        assert_eq!(ratio(Some(0.0), Some(0.0)), "=");
        assert_eq!(ratio(Some(1.0), Some(0.0)), "inf");
        assert_eq!(ratio(None, Some(1.0)), "-");
    }

    fn run(ttff: f64, from: f64, warm: Option<f64>) -> Result<Measurement, String> {
        let visit = |ttff_ms: f64| Visit {
            ttff_ms: Some(ttff_ms),
            first_media_request_ms: Some(from),
            ..Visit::default()
        };
        Ok(Measurement {
            cold: visit(ttff),
            warm: warm.map(visit),
            warm_failed: warm.is_none().then(|| "no".to_owned()),
        })
    }

    #[test]
    fn the_median_run_is_shown_and_warm_visits_have_their_own_medians() {
        let cell = Cell {
            file: MediaFile::Plain,
            scenario: Scenario::Slowstart,
            player: Player::Caudal,
            runs: vec![
                run(3_000.0, 1_000.0, Some(900.0)),
                Err("the browser did not start".to_owned()),
                run(1_000.0, 500.0, None),
                run(2_000.0, 600.0, Some(700.0)),
            ],
        };
        let chosen = cell.median_run().and_then(|m| m.cold.ttff_ms);
        assert_eq!(chosen, Some(2_000.0));
        let s = cell.summary();
        assert_eq!(s.ttff_ms, Some(2_000.0));
        // 2000, 500 and 1400 ms after the first media request.
        assert_eq!(s.ttff_from_request_ms, Some(1_400.0));
        assert_eq!(s.warm_ttff_ms, Some(800.0));
        // The failed run and the failed warm visit are noted.
        assert_eq!(cell.errors().len(), 2);
        let text = table(&[cell], MediaFile::Plain);
        assert!(text.contains("slowstart  caudal"), "{text}");
    }
}
