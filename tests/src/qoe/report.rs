//! Results: medians across repeats, the side-by-side table, the ratios of
//! ours to each reference, and results.json.

use serde::Serialize;
use serde_json::{Value, json};

use super::player::Player;
use super::run::Measurement;
use super::scenario::Scenario;

/// All runs of one player in one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub scenario: Scenario,
    pub player: Player,
    /// Each repeat: its measurement, or why it could not be measured.
    pub runs: Vec<Result<Measurement, String>>,
}

/// The medians of a cell's measured runs.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    pub ttff_ms: Option<f64>,
    pub stalls: Option<f64>,
    pub stall_s: Option<f64>,
    pub seek_ms: Option<f64>,
    pub mb_fetched: Option<f64>,
    pub mb_wasted: Option<f64>,
}

/// The reported metrics, in column order: name, decimals, getter.
type Getter = fn(&Summary) -> Option<f64>;
const METRICS: [(&str, usize, Getter); 6] = [
    ("ttff ms", 0, |s| s.ttff_ms),
    ("stalls", 1, |s| s.stalls),
    ("stall s", 2, |s| s.stall_s),
    ("seek ms", 0, |s| s.seek_ms),
    ("MB fetched", 2, |s| s.mb_fetched),
    ("MB wasted", 2, |s| s.mb_wasted),
];

impl Cell {
    fn measured(&self) -> impl Iterator<Item = &Measurement> {
        self.runs.iter().filter_map(|r| r.as_ref().ok())
    }

    /// Medians over the runs that produced a measurement. A run whose
    /// player failed still counts for what it measured before failing.
    pub fn summary(&self) -> Summary {
        let of = |f: fn(&Measurement) -> Option<f64>| median(self.measured().filter_map(f));
        Summary {
            ttff_ms: of(|m| m.ttff_ms),
            stalls: of(|m| Some(f64::from(m.stalls))),
            stall_s: of(|m| Some(m.stall_s)),
            seek_ms: of(|m| m.seek_ms),
            mb_fetched: of(|m| Some(m.mb_fetched)),
            mb_wasted: of(|m| Some(m.mb_wasted)),
        }
    }

    /// Errors of the runs, for the notes under the table.
    pub fn errors(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter_map(|r| match r {
                Err(e) => Some(e.clone()),
                Ok(m) => m.error.clone(),
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

const WIDTHS: [usize; 6] = [8, 7, 8, 8, 11, 10];

/// The table, the ratios and the notes, as printed.
pub fn table(cells: &[Cell]) -> String {
    let mut out = String::new();
    let header = |first: &str| {
        let mut line = format!("{:<10} {:<16}", "scenario", first);
        for ((name, _, _), w) in METRICS.iter().zip(WIDTHS) {
            line.push_str(&format!(" | {name:>w$}"));
        }
        line
    };
    let head = header("player");
    out.push_str(&head);
    out.push('\n');
    out.push_str(&"-".repeat(head.len()));
    out.push('\n');
    let mut notes = Vec::new();
    for cell in cells {
        let s = cell.summary();
        let mut line = format!("{:<10} {:<16}", cell.scenario.name(), cell.player.label());
        for ((_, decimals, get), w) in METRICS.iter().zip(WIDTHS) {
            line.push_str(&format!(" | {:>w$}", number(get(&s), *decimals)));
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
            .map(Cell::summary)
    };
    let mut ratios = Vec::new();
    for scenario in Scenario::ALL {
        let Some(ours) = find(scenario, Player::Caudal) else {
            continue;
        };
        for (reference, label) in [
            (Player::Native, "caudal/native"),
            (Player::Hlsjs, "caudal/hls.js"),
        ] {
            let Some(theirs) = find(scenario, reference) else {
                continue;
            };
            let mut line = format!("{:<10} {:<16}", scenario.name(), label);
            for ((_, _, get), w) in METRICS.iter().zip(WIDTHS) {
                line.push_str(&format!(" | {:>w$}", ratio(get(&ours), get(&theirs))));
            }
            ratios.push(line);
        }
    }
    if !ratios.is_empty() {
        out.push('\n');
        let head = header("ours/reference");
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
}
