//! The policy's counters, for `player.stats()`.

/// Counters for `player.stats()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub startup_ms: Option<f64>,
    pub stalls: u32,
    pub stall_ms: f64,
    pub bytes_fetched: u64,
    pub requests: u32,
    pub aborted: u32,
    pub retries: u32,
    pub throughput: Option<f64>,
    pub buffer_ahead: f64,
    pub duration: Option<f64>,
    pub position: f64,
}
