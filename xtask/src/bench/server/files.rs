//! The benchmark's scratch files: the served file of random bytes and the
//! wrk script of the ranges workload, in a folder removed on drop.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

/// Name of the served file, under `/media/` on both servers.
pub const FILE_NAME: &str = "bench.bin";
/// Large enough that the random ranges do not all sit in one CPU cache, small
/// enough to write quickly and to stay in the page cache.
pub const FILE_SIZE: u64 = 64 * 1024 * 1024;
/// Size and alignment of the ranges asked by the ranges workload.
pub const RANGE_SIZE: u64 = 64 * 1024;

/// A temporary directory removed on drop, also when the benchmark fails.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn create() -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("caudal-bench-{}-{nanos}", std::process::id()));
        fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(ScratchDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes `size` pseudo-random bytes (incompressible, so no layer can cheat)
/// and returns the first 100, for the correctness check.
pub fn write_random_file(path: &Path, size: u64) -> Result<Vec<u8>> {
    let file = fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    // xorshift64*: fast, deterministic, good enough to defeat compression.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut prefix = Vec::with_capacity(100);
    for _ in 0..size / 8 {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let bytes = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        if prefix.len() < 100 {
            prefix.extend_from_slice(&bytes[..(100 - prefix.len()).min(8)]);
        }
        out.write_all(&bytes)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(prefix)
}

/// Writes the wrk script of the ranges workload. Each wrk thread gets its own
/// fixed seed, so runs are repeatable and both servers see the same requests.
pub fn write_range_script(dir: &Path) -> Result<PathBuf> {
    let script = format!(
        r#"-- Random {range}-byte ranges, aligned on {range} bytes, across a {size}-byte file.
local block = {range}
local blocks = {blocks}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
end

function init(args)
  math.randomseed(4242 + id)
end

function request()
  local first = math.random(0, blocks - 1) * block
  local range = "bytes=" .. first .. "-" .. (first + block - 1)
  return wrk.format("GET", nil, {{ ["Range"] = range }})
end
"#,
        range = RANGE_SIZE,
        size = FILE_SIZE,
        blocks = FILE_SIZE / RANGE_SIZE,
    );
    let path = dir.join("ranges.lua");
    fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
