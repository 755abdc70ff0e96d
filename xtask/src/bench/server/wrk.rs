//! wrk, the load generator: one run per workload and server, and its
//! human-readable report read back into numbers.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use super::process::RunningServer;

/// Warmup before every measured run, so the page cache is hot.
pub const WARMUP_SECONDS: u64 = 2;
/// wrk threads; two, to match the two cores the reference machine has.
pub const WRK_THREADS: u32 = 2;

/// One load shape driven by wrk.
#[derive(Debug)]
pub struct Workload {
    pub name: &'static str,
    pub connections: u32,
    /// Lua script shaping the requests; `None` asks the whole file.
    pub script: Option<PathBuf>,
    /// Body bytes of each successful response, to catch a server that answers
    /// 200 with the whole file where a range was asked (wrk counts both as success).
    pub body_size: u64,
    /// What caudal is judged on against nginx.
    pub goal: super::report::Goal,
}

/// What wrk reported for one run.
#[derive(Debug, Clone, Default)]
pub struct WrkStats {
    pub requests_per_sec: f64,
    pub bytes_per_sec: f64,
    pub non_success: u64,
    /// The "Socket errors" line, kept only when some count is not zero.
    pub socket_errors: Option<String>,
    /// Mean bytes per response, kept only when far from the expected body size.
    pub odd_response_size: Option<f64>,
}

impl WrkStats {
    pub fn is_clean(&self) -> bool {
        self.non_success == 0 && self.socket_errors.is_none() && self.odd_response_size.is_none()
    }

    /// Flags a mean response size far from `body_size`. The bounds are loose
    /// because wrk counts the bytes of responses still in flight at the end
    /// and rounds its figures; they still catch a range answered with the
    /// whole file, or truncated bodies.
    pub fn check_response_size(&mut self, body_size: u64) {
        if self.requests_per_sec <= 0.0 {
            return;
        }
        let mean = self.bytes_per_sec / self.requests_per_sec;
        let body = body_size as f64;
        if mean < 0.9 * body || mean > 2.0 * body + 4096.0 {
            self.odd_response_size = Some(mean);
        }
    }
}

/// Warms `server` up with the workload, then measures it.
pub fn measure(
    wrk: &Path,
    server: &RunningServer,
    workload: &Workload,
    seconds: u64,
) -> Result<WrkStats> {
    let name = server.kind.name();
    eprintln!(
        "bench: {name} / {}: {WARMUP_SECONDS} s warmup, {seconds} s run",
        workload.name
    );
    run_wrk(wrk, server, workload, WARMUP_SECONDS).with_context(|| format!("warming up {name}"))?;
    let output =
        run_wrk(wrk, server, workload, seconds).with_context(|| format!("benchmarking {name}"))?;
    let mut stats = parse_wrk(&output)
        .with_context(|| format!("parsing wrk's output for {name}:\n{output}"))?;
    stats.check_response_size(workload.body_size);
    Ok(stats)
}

fn run_wrk(
    wrk: &Path,
    server: &RunningServer,
    workload: &Workload,
    seconds: u64,
) -> Result<String> {
    let mut command = Command::new(wrk);
    command
        .arg(format!("-t{WRK_THREADS}"))
        .arg(format!("-c{}", workload.connections))
        .arg(format!("-d{seconds}s"))
        // wrk's default 2 s would count slow whole-file downloads as errors.
        .args(["--timeout", "10s"]);
    if let Some(script) = &workload.script {
        command.arg("-s").arg(script);
    }
    let output = command.arg(server.url()).output().context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "wrk failed ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}

/// Extracts throughput and errors from wrk's human-readable report.
pub fn parse_wrk(output: &str) -> Result<WrkStats> {
    let mut stats = WrkStats::default();
    let mut seen = (false, false);
    for line in output.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("Requests/sec:") {
            stats.requests_per_sec = value.trim().parse().context("Requests/sec")?;
            seen.0 = true;
        } else if let Some(value) = line.strip_prefix("Transfer/sec:") {
            stats.bytes_per_sec = parse_wrk_bytes(value.trim())?;
            seen.1 = true;
        } else if let Some(value) = line.strip_prefix("Non-2xx or 3xx responses:") {
            stats.non_success = value.trim().parse().context("Non-2xx or 3xx responses")?;
        } else if let Some(counts) = line.strip_prefix("Socket errors:")
            && socket_error_total(counts)? > 0
        {
            stats.socket_errors = Some(counts.trim().to_owned());
        }
    }
    ensure!(seen.0 && seen.1, "no Requests/sec or Transfer/sec line");
    Ok(stats)
}

/// Parses wrk's binary-prefixed sizes such as `1.23GB` or `512.00KB` to bytes.
fn parse_wrk_bytes(text: &str) -> Result<f64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .with_context(|| format!("no unit in `{text}`"))?;
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => bail!("unknown unit in `{text}`"),
    };
    let number: f64 = number
        .parse()
        .with_context(|| format!("parsing `{text}`"))?;
    Ok(number * scale)
}

/// Sums `connect 0, read 0, write 0, timeout 0`.
fn socket_error_total(counts: &str) -> Result<u64> {
    counts
        .split(',')
        .map(|item| {
            let count = item.split_whitespace().last().unwrap_or_default();
            count
                .parse::<u64>()
                .with_context(|| format!("parsing socket errors `{counts}`"))
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_report() -> Result<()> {
        let output = "\
Running 10s test @ http://127.0.0.1:1/media/bench.bin
  2 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.00ms    3.00ms  50.00ms   80.00%
    Req/Sec    10.00k     1.00k   12.00k    70.00%
  200000 requests in 10.00s, 12.50GB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  20000.50
Transfer/sec:      1.25GB
";
        let stats = parse_wrk(output)?;
        assert_eq!(stats.requests_per_sec, 20000.5);
        assert_eq!(stats.bytes_per_sec, 1.25 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(stats.non_success, 7);
        assert_eq!(
            stats.socket_errors.as_deref(),
            Some("connect 0, read 3, write 0, timeout 1")
        );
        Ok(())
    }

    #[test]
    fn clean_report_has_no_errors() -> Result<()> {
        let output = "Requests/sec:  5.00\nTransfer/sec:  100.00KB\n";
        let stats = parse_wrk(output)?;
        assert!(stats.is_clean());
        assert_eq!(stats.bytes_per_sec, 102_400.0);
        Ok(())
    }
}
