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
    /// Requests the server refused (HTTP 401/403: a token it would not take).
    pub refused: u32,
    /// Times the page's `authorize` was asked for a new URL.
    pub authorizations: u32,
    /// The link's bits per second, exactly as the policy's decisions read
    /// it (request size, startup and resume thresholds, seeks).
    pub throughput: Option<f64>,
    pub buffer_ahead: f64,
    pub duration: Option<f64>,
    pub position: f64,
    /// Bytes the policy holds because the index is not known yet: the
    /// early run bytes and the index bytes fetched beside the run. No one
    /// else holds a copy (the container readers ask for them again).
    pub bytes_held: u64,
}
