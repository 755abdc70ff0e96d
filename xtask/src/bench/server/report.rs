//! The side-by-side table `bench server` prints.

use super::files::FILE_SIZE;
use super::options::{Args, ServerKind};
use super::wrk::{WARMUP_SECONDS, WRK_THREADS, WrkStats};
use crate::bench::machine::{cpu_count, cpu_model};

/// What a workload is judged on against nginx (issue 14's goals: at least
/// nginx's requests/s on 64 KiB ranges, its GB/s on whole files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    RequestsPerSec,
    BytesPerSec,
}

/// Results of one workload across the servers.
#[derive(Debug)]
pub struct Row {
    pub workload: String,
    pub goal: Goal,
    pub nginx: Option<WrkStats>,
    pub caudal: Option<WrkStats>,
    /// caudal with a signed token on every request (`--token`).
    pub caudal_token: Option<WrkStats>,
    /// Every round's run, in round order (the two above are the medians).
    pub caudal_runs: Vec<WrkStats>,
    pub caudal_token_runs: Vec<WrkStats>,
    /// caudal's peak resident set (VmHWM, KiB) once this workload is done.
    pub caudal_peak_rss_kib: Option<u64>,
}

/// Prints the machine, the settings, the table, caudal's peak memory and
/// any errors seen during the runs.
pub fn print(options: &Args, rows: &[Row]) {
    println!();
    println!("machine: {} CPUs, {}", cpu_count(), cpu_model());
    println!(
        "file: {} MiB of random bytes; wrk {WRK_THREADS} threads; {} s per run after a {WARMUP_SECONDS} s warmup",
        FILE_SIZE >> 20,
        options.seconds
    );
    println!();
    println!(
        "{:<26} | {:>12} | {:>10} | {:>12} | {:>11} | {:>12}",
        "workload", "nginx req/s", "nginx GB/s", "caudal req/s", "caudal GB/s", "caudal/nginx"
    );
    println!("{}", "-".repeat(26 + 12 + 10 + 12 + 11 + 12 + 5 * 3));
    for row in rows {
        let ratio = match (&row.nginx, &row.caudal) {
            (Some(nginx), Some(caudal)) if nginx.requests_per_sec > 0.0 => {
                format!("{:.2}x", caudal.requests_per_sec / nginx.requests_per_sec)
            }
            _ => "-".to_owned(),
        };
        println!(
            "{:<26} | {:>12} | {:>10} | {:>12} | {:>11} | {:>12}",
            row.workload,
            requests_cell(row.nginx.as_ref()),
            gigabytes_cell(row.nginx.as_ref()),
            requests_cell(row.caudal.as_ref()),
            gigabytes_cell(row.caudal.as_ref()),
            ratio,
        );
    }
    println!("(GB = 10^9 bytes, headers included; * = the run had errors, see below)");
    for row in rows {
        if let Some(line) = verdict(row) {
            println!("{line}");
        }
    }

    if rows.iter().any(|row| row.caudal_token.is_some()) {
        println!();
        println!("the cost of tokens: caudal --protect /media/, a signed token on every request:");
        for row in rows {
            let ratio = match (&row.caudal, &row.caudal_token) {
                (Some(plain), Some(token)) if plain.requests_per_sec > 0.0 => {
                    format!("{:.3}x", token.requests_per_sec / plain.requests_per_sec)
                }
                _ => "-".to_owned(),
            };
            println!(
                "  {:<26} {:>12} req/s with, {:>12} without: {ratio}",
                row.workload,
                requests_cell(row.caudal_token.as_ref()),
                requests_cell(row.caudal.as_ref()),
            );
            if row.caudal_runs.len() > 1 {
                let rounds: Vec<String> = row
                    .caudal_runs
                    .iter()
                    .zip(&row.caudal_token_runs)
                    .map(|(plain, token)| {
                        format!(
                            "{:.3}",
                            token.requests_per_sec / plain.requests_per_sec.max(1.0)
                        )
                    })
                    .collect();
                println!(
                    "  {:<26} (medians of {} rounds; per round: {})",
                    "",
                    rounds.len(),
                    rounds.join(", ")
                );
            }
        }
    }

    let peaks: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let kib = row.caudal_peak_rss_kib?;
            Some(format!(
                "  after {}: {:.1} MiB",
                row.workload,
                kib as f64 / 1024.0
            ))
        })
        .collect();
    if !peaks.is_empty() {
        println!();
        println!("caudal peak RSS (VmHWM, cumulative since start):");
        peaks.iter().for_each(|line| println!("{line}"));
    }

    let problems = problems(rows);
    if !problems.is_empty() {
        println!();
        println!("errors during the runs:");
        problems.iter().for_each(|line| println!("  {line}"));
    }
}

/// The goal's line for `row`: caudal's rate over nginx's, at least 1.0×.
fn verdict(row: &Row) -> Option<String> {
    let (nginx, caudal) = (row.nginx.as_ref()?, row.caudal.as_ref()?);
    let (what, ratio) = match row.goal {
        Goal::RequestsPerSec => (
            "requests/s",
            caudal.requests_per_sec / nginx.requests_per_sec,
        ),
        Goal::BytesPerSec => ("GB/s", caudal.bytes_per_sec / nginx.bytes_per_sec),
    };
    if !ratio.is_finite() {
        return None;
    }
    let met = if ratio >= 1.0 { "met" } else { "NOT met" };
    Some(format!(
        "goal: {} caudal {what} >= 1.0x nginx's: {ratio:.2}x, {met}",
        row.workload
    ))
}

/// The run with the median rate (the lower middle one of an even count).
pub fn median(runs: &[WrkStats]) -> Option<WrkStats> {
    let mut sorted: Vec<&WrkStats> = runs.iter().collect();
    sorted.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .map(|run| (*run).clone())
}

fn requests_cell(stats: Option<&WrkStats>) -> String {
    match stats {
        Some(stats) => format!("{:.0}{}", stats.requests_per_sec, error_mark(stats)),
        None => "-".to_owned(),
    }
}

fn gigabytes_cell(stats: Option<&WrkStats>) -> String {
    match stats {
        Some(stats) => format!("{:.2}{}", stats.bytes_per_sec / 1e9, error_mark(stats)),
        None => "-".to_owned(),
    }
}

fn error_mark(stats: &WrkStats) -> &'static str {
    if stats.is_clean() { "" } else { "*" }
}

/// One line per run that saw failed responses, socket errors or odd sizes.
fn problems(rows: &[Row]) -> Vec<String> {
    let mut lines = Vec::new();
    for row in rows {
        let runs = [
            (ServerKind::Nginx, &row.nginx),
            (ServerKind::Caudal, &row.caudal),
            (ServerKind::CaudalToken, &row.caudal_token),
        ];
        for (kind, stats) in runs {
            let Some(stats) = stats else { continue };
            let who = format!("{} / {}", kind.name(), row.workload);
            if stats.non_success > 0 {
                lines.push(format!(
                    "{who}: {} non-2xx/3xx responses",
                    stats.non_success
                ));
            }
            if let Some(errors) = &stats.socket_errors {
                lines.push(format!("{who}: socket errors: {errors}"));
            }
            if let Some(mean) = stats.odd_response_size {
                lines.push(format!(
                    "{who}: responses average {mean:.0} bytes, far from the expected body size"
                ));
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: f64) -> WrkStats {
        WrkStats {
            requests_per_sec: rate,
            ..WrkStats::default()
        }
    }

    #[test]
    fn the_verdict_judges_ranges_by_requests_and_whole_files_by_bytes() {
        let stats = |requests_per_sec, bytes_per_sec| WrkStats {
            requests_per_sec,
            bytes_per_sec,
            ..WrkStats::default()
        };
        let row = |goal, nginx, caudal| Row {
            workload: "w".into(),
            goal,
            nginx: Some(nginx),
            caudal: Some(caudal),
            caudal_token: None,
            caudal_runs: Vec::new(),
            caudal_token_runs: Vec::new(),
            caudal_peak_rss_kib: None,
        };
        let ranges = row(Goal::RequestsPerSec, stats(100.0, 9.0), stats(90.0, 10.0));
        assert_eq!(
            verdict(&ranges).as_deref(),
            Some("goal: w caudal requests/s >= 1.0x nginx's: 0.90x, NOT met")
        );
        let whole = row(Goal::BytesPerSec, stats(100.0, 9.0), stats(90.0, 10.0));
        assert!(verdict(&whole).is_some_and(|line| line.ends_with("1.11x, met")));
    }

    #[test]
    fn the_median_run_is_the_middle_rate_or_the_lower_middle() {
        let rates = |runs: &[f64]| median(&runs.iter().map(|&r| run(r)).collect::<Vec<_>>());
        assert_eq!(
            rates(&[3.0, 1.0, 2.0]).map(|r| r.requests_per_sec),
            Some(2.0)
        );
        assert_eq!(
            rates(&[4.0, 1.0, 3.0, 2.0]).map(|r| r.requests_per_sec),
            Some(2.0)
        );
        assert_eq!(rates(&[5.0]).map(|r| r.requests_per_sec), Some(5.0));
        assert!(rates(&[]).is_none());
    }
}
