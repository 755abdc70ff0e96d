//! Server configuration: everything `caudal serve` can be told.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::access::{IpRules, Protection};
use crate::metrics::MetricsAccess;

/// How a `caudal` server behaves. [`Config::new`] gives the documented defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory served under `/media/`.
    pub media_dir: PathBuf,
    /// Directory of the web player and demo page served at `/`; none serves no site.
    pub www_dir: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// `Cache-Control` sent with media and site files; `None` sends none.
    pub cache_control: Option<String>,
    /// Answer CORS for GET/HEAD from any origin, so players on other origins work.
    pub cors: bool,
    /// A client must send a complete request head within this time (slowloris).
    pub header_timeout: Duration,
    /// A response write that makes no progress for this long ends the
    /// connection (a client that stopped reading).
    pub send_timeout: Duration,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Largest request head (request line and headers) accepted; larger is 431.
    pub max_header_bytes: usize,
    /// Follow symlinks that lead outside the served directory (refused by default).
    pub allow_symlinks_outside: bool,
    /// One log line per request.
    pub access_log: bool,
    /// On SIGINT/SIGTERM, how long in-flight responses may take to finish.
    pub shutdown_grace: Duration,
    /// Paths that need a signed token, and the keys that sign them; none: all open.
    pub protection: Option<Protection>,
    /// Allow / deny lists of CIDRs per path prefix, first match wins.
    pub ip_rules: IpRules,
    /// Peers whose `Forwarded` / `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Whether `/metrics` is served, and to which clients.
    pub metrics: MetricsAccess,
    /// Serve connections with Caudal's own HTTP/1.1 loop, which sends file
    /// bodies kernel to socket (`sendfile`); off: hyper serves them all.
    pub zero_copy: bool,
    /// A `Link` header with the player's modules on site pages that load
    /// `player.js` ([`crate::preload`]).
    pub preload_hints: bool,
    /// Event loops, one thread each ([`crate::net::workers`]).
    pub workers: usize,
    /// Bytes of file chunks the shared chunk cache may hold; 0 turns it off.
    pub cache_mem: u64,
    /// Which media responses are paced, and the rule's settings.
    pub pace: crate::pacing::PaceConfig,
    /// Live streams: on or off, who may publish, the bounds.
    pub live: crate::live::LiveConfig,
}

impl Config {
    pub fn new(media_dir: impl Into<PathBuf>) -> Self {
        Config {
            media_dir: media_dir.into(),
            www_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            cache_control: Some("no-cache".to_owned()),
            cors: true,
            header_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_header_bytes: 16 * 1024,
            allow_symlinks_outside: false,
            access_log: true,
            shutdown_grace: Duration::from_secs(30),
            protection: None,
            ip_rules: IpRules::default(),
            trusted_proxies: Vec::new(),
            metrics: MetricsAccess::default(),
            zero_copy: true,
            preload_hints: true,
            workers: default_workers(),
            cache_mem: default_cache_mem(),
            pace: crate::pacing::PaceConfig::default(),
            live: crate::live::LiveConfig::default(),
        }
    }
}

/// The chunk cache's default size: an eighth of the machine's memory (as
/// `/proc/meminfo` says), at most 4 GiB; 256 MiB when it cannot be read.
pub fn default_cache_mem() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text));
    match total {
        Some(total) => (total / 8).clamp(crate::body::chunk_cache::MIN_BOUND, 4 << 30),
        None => 256 << 20,
    }
}

/// `MemTotal:  16318508 kB` -> bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A size in bytes: plain (`1048576`) or with a binary unit, case-insensitive:
/// `K`, `M`, `G`, `T`, optionally followed by `B` or `iB` (`64M`, `512MiB`,
/// `2GB`: all powers of 1024, as nginx and most servers read them).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let bad = || format!("`{text}` is not a size (bytes, or a number with K, M, G or T)");
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let base = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let shift = match base {
        "" if unit.is_empty() || unit == "b" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(bad()),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// A rate in bits per second as network rates are written: a number with
/// `k`, `M`, `G` (powers of 1000), perhaps `bit/s` or `bps` after it
/// (`800M`, `1.5G`, `20 Mbit/s`, `64000`). Never zero.
pub fn parse_bit_rate(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a rate (bits per second, or a number with k, M or G)");
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let unit = unit.trim_start();
    let unit = ["bit/s", "bps", "b/s", "bit"]
        .iter()
        .find_map(|suffix| unit.strip_suffix(suffix))
        .unwrap_or(unit);
    let scale = match unit {
        "" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        _ => return Err(bad()),
    };
    let bits = (number * scale).round();
    if !(bits >= 1.0 && bits < u64::MAX as f64) {
        return Err(format!("`{text}` is not a usable rate (at least 1 bit/s)"));
    }
    Ok(bits as u64)
}

/// One event loop per CPU the process may use.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_bits_per_second_in_si_units() {
        for (text, bits) in [
            ("64000", 64_000),
            ("800M", 800_000_000),
            ("1.5G", 1_500_000_000),
            ("20 Mbit/s", 20_000_000),
            ("300kbps", 300_000),
        ] {
            assert_eq!(parse_bit_rate(text), Ok(bits), "{text}");
        }
        for text in ["", "0", "fast", "10X", "-5M", "1.2.3M", "0.0001"] {
            assert!(parse_bit_rate(text).is_err(), "{text}");
        }
    }

    #[test]
    fn sizes_are_bytes_or_binary_units() {
        for (text, bytes) in [
            ("0", 0),
            ("1048576", 1 << 20),
            ("64M", 64 << 20),
            ("64m", 64 << 20),
            ("512MiB", 512 << 20),
            ("2G", 2 << 30),
            ("2GB", 2 << 30),
            ("3 KiB", 3 << 10),
            ("10b", 10),
            ("1T", 1 << 40),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in [
            "",
            "M",
            "-1",
            "1.5G",
            "12X",
            "1iB",
            "1MiBs",
            "1kbb",
            "99999999999T",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn mem_total_is_read_in_kib() {
        let meminfo = "MemTotal:       16318508 kB\nMemFree:  1 kB\n";
        assert_eq!(mem_total(meminfo), Some(16_318_508 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        let default = default_cache_mem();
        assert!((crate::body::chunk_cache::MIN_BOUND..=4 << 30).contains(&default));
    }
}
