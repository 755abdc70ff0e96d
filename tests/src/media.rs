//! The sample media and media made at test time (truncated, random).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::server::sample_media_dir;

/// One of the committed samples in `www/media`.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub name: &'static str,
    /// Seconds, as documented in `www/media/README.md`.
    pub duration: f64,
}

pub const MP4: Sample = Sample {
    name: "caudal-sample.mp4",
    duration: 20.0,
};

pub const WEBM: Sample = Sample {
    name: "caudal-sample.webm",
    duration: 20.0,
};

impl Sample {
    pub fn path(&self) -> PathBuf {
        sample_media_dir().join(self.name)
    }

    /// File size in bytes.
    pub fn file_len(&self) -> Result<u64> {
        Ok(std::fs::metadata(self.path())
            .with_context(|| format!("sample {}", self.path().display()))?
            .len())
    }

    /// Average bytes per second of media.
    pub fn bytes_per_second(&self) -> Result<f64> {
        Ok(self.file_len()? as f64 / self.duration)
    }

    /// Average bit rate in bit/s.
    pub fn bit_rate(&self) -> Result<u64> {
        Ok((self.bytes_per_second()? * 8.0) as u64)
    }

    pub fn bytes(&self) -> Result<Vec<u8>> {
        std::fs::read(self.path()).with_context(|| format!("reading {}", self.path().display()))
    }
}

/// A temp media dir with the given files.
/// A committed fixture: `tests/fixtures/<dir>/<name>` (or any path below
/// `tests/`, e.g. `../media/tests/fixtures/rechunk`).
pub fn fixture(dir: &str, name: &str) -> Result<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir)
        .join(name);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

pub fn temp_media(files: &[(&str, Vec<u8>)]) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("caudal-media-").tempdir()?;
    for (name, bytes) in files {
        write(dir.path(), name, bytes)?;
    }
    Ok(dir)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// The first `n` bytes of a sample.
pub fn truncated(sample: Sample, n: usize) -> Result<Vec<u8>> {
    let mut bytes = sample.bytes()?;
    bytes.truncate(n);
    Ok(bytes)
}

/// `len` pseudo-random bytes (xorshift64*, fixed seed: the same every run).
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A file in memory, for `caudal_media`'s package readers (which index a
/// file the way `caudal inspect` does): what the tests compare the player
/// with.
pub use caudal_media::package::InMemory;

/// A plain (not fragmented) faststart MP4 of `sample`'s very samples,
/// played `times` times in a row: `ffmpeg -stream_loop N -c copy -movflags
/// +faststart` (a stream copy, no encode: the same GOPs, one `moov` with
/// sample tables first, then one interleaved `mdat`). `Ok(None)` when
/// ffmpeg is not installed (the caller skips, or fails under CI: see
/// [`crate::skip`]).
pub fn plain_faststart_copy(sample: Sample, times: u32) -> Result<Option<Vec<u8>>> {
    let installed = std::process::Command::new("ffmpeg")
        .arg("-version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        return Ok(None);
    }
    let dir = tempfile::Builder::new().prefix("caudal-plain-").tempdir()?;
    let out = dir.path().join("plain.mp4");
    let run = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
        .arg("-stream_loop")
        .arg(times.saturating_sub(1).to_string())
        .arg("-i")
        .arg(sample.path())
        .args(["-map", "0", "-c", "copy", "-movflags", "+faststart"])
        .args(["-fflags", "+bitexact", "-map_metadata", "-1"])
        .arg(&out)
        .output()
        .context("running ffmpeg")?;
    anyhow::ensure!(
        run.status.success(),
        "ffmpeg could not copy {} into a plain MP4: {}",
        sample.name,
        String::from_utf8_lossy(&run.stderr)
    );
    Ok(Some(
        std::fs::read(&out).context("reading ffmpeg's output")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_are_reproducible_and_not_media() {
        let a = pseudo_random(200_000, 42);
        assert_eq!(a.len(), 200_000);
        assert_eq!(a, pseudo_random(200_000, 42));
        assert_ne!(&a[4..8], b"ftyp");
        assert_ne!(&a[..4], &[0x1a, 0x45, 0xdf, 0xa3]);
    }
}
