//! The knobs of the buffer policy, with defaults a demanding viewer would pick.

/// Buffer policy options. All times in seconds, sizes in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyOptions {
    /// Seconds buffered ahead before the first frame plays (and after a
    /// seek) on a link just as fast as the media; the policy scales it by
    /// the link's speed (`Thresholds::startup` in `playback.rs`).
    pub startup: f64,
    /// Seconds ahead of the playhead to keep; nothing is fetched beyond it.
    pub goal: f64,
    /// Seconds buffered ahead before a stall ends.
    pub resume: f64,
    /// Seconds kept behind the playhead; older media is evicted.
    pub behind: f64,
    /// Most bytes held in the buffer (ahead and behind together).
    pub max_bytes: u64,
    /// Size of the very first request, which carries the index and the
    /// startup seconds in one round trip.
    pub first_request: u64,
    /// A request should last about this long on the current link.
    pub request_seconds: f64,
    /// Request size bounds.
    pub min_request: u64,
    pub max_request: u64,
    /// Retries of a failed request before giving up (backoff doubles from
    /// `retry_base_ms` up to `retry_max_ms`).
    pub max_retries: u32,
    pub retry_base_ms: f64,
    /// The longest wait before a retry, milliseconds.
    pub retry_max_ms: f64,
    /// A request that delivers nothing for this long is aborted and retried.
    pub request_timeout_ms: f64,
    /// The page can give a new URL (`authorize`): an expiring token is
    /// refreshed ahead, a refused one replaced once.
    pub authorize: bool,
    /// CMCD `sid`: one per playback, chosen by the shell.
    pub session_id: Option<String>,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        PolicyOptions {
            // Half a second on a link as fast as the media (less on a faster
            // one): native <video> starts on about that, and the remuxer's
            // first pieces put it in the buffer early.
            startup: 0.5,
            // dash.js's stable buffer: rides out a 15 s drop to half the
            // bit rate, and an abandoned view costs at most 12 s of media.
            goal: 12.0,
            resume: 3.0,
            behind: 30.0,
            max_bytes: 96 * 1024 * 1024,
            first_request: 512 * 1024,
            request_seconds: 1.5,
            min_request: 64 * 1024,
            max_request: 8 * 1024 * 1024,
            max_retries: 12,
            retry_base_ms: 250.0,
            retry_max_ms: 8000.0,
            request_timeout_ms: 10_000.0,
            authorize: false,
            session_id: None,
        }
    }
}
