//! What `/proc` says of a benchmarked process: its CPU time and its parent,
//! for the benches that report a server's CPU seconds.

use std::fs;
use std::process::Command;

use anyhow::{Context, Result};

/// The fields of `/proc/PID/stat` after the command name: state, ppid, ...
pub fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    Some(after_name.split_whitespace().map(str::to_owned).collect())
}

/// User + system clock ticks of `pids`, all their threads.
pub fn cpu_ticks(pids: &[u32]) -> Result<u64> {
    let mut total = 0;
    for pid in pids {
        let fields = stat_fields(*pid).with_context(|| format!("reading /proc/{pid}/stat"))?;
        // utime and stime are the 14th and 15th fields: 12th and 13th here.
        for at in [11, 12] {
            total += fields
                .get(at)
                .and_then(|f| f.parse::<u64>().ok())
                .with_context(|| format!("no CPU times in /proc/{pid}/stat"))?;
        }
    }
    Ok(total)
}

/// Clock ticks per second, the unit of `/proc/PID/stat` times.
pub fn clock_ticks() -> Result<f64> {
    let out = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .context("running getconf CLK_TCK")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("getconf CLK_TCK printed no number")
}
