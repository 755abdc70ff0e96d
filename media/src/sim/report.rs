//! What one simulated run measured.

use std::fmt;

use crate::policy::{ErrorCode, Stats};

/// One seek and how long the viewer waited for it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeekOutcome {
    /// Simulated time of the seek, milliseconds.
    pub at_ms: f64,
    /// Media time sought to, seconds.
    pub to: f64,
    /// Milliseconds until the playhead moved again from the target (or, for
    /// a paused viewer, until it could); `None` if the run ended first or
    /// another seek replaced it.
    pub latency_ms: Option<f64>,
}

/// The outcome of a run, from the viewer's side, with the policy's own
/// counters beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Milliseconds from the start until the playhead first moved.
    pub ttff_ms: Option<f64>,
    /// Times the playhead stopped while the viewer wanted it to play, after
    /// the first frame, outside seeks.
    pub stalls: u32,
    /// Total time of those stops, seconds.
    pub stall_seconds: f64,
    pub seeks: Vec<SeekOutcome>,
    /// Body bytes delivered to the policy (aborted requests' included).
    pub bytes_fetched: u64,
    /// Delivered bytes that never served playback: the init segment once
    /// and the bytes of media time the playhead crossed are useful; the rest
    /// (beyond the furthest played point, evicted before playing, fetched
    /// twice, skipped by a seek) is waste.
    pub bytes_wasted: u64,
    /// Seconds of media played.
    pub played_seconds: f64,
    /// The playhead reached the end of the media (after `EndOfStream`).
    pub reached_end: bool,
    /// The viewer closed the page.
    pub abandoned: bool,
    /// The run hit [`super::ShellModel::max_seconds`] first.
    pub timed_out: bool,
    /// Simulated time at the end of the run, milliseconds.
    pub end_ms: f64,
    /// Requests the policy issued.
    pub requests: u32,
    /// Of them, those the server paced ([`super::ServerModel::pacing`]).
    pub paced_requests: u32,
    /// The policy's own counters at the end.
    pub policy: Stats,
    /// The policy gave up (`Action::Fail`).
    pub error: Option<(ErrorCode, String)>,
    /// Things the policy asked for that a shell could not do as asked
    /// (appending bytes not received, a gap in a run, …): findings.
    pub anomalies: Vec<String>,
    /// The event log, when [`super::ShellModel::log`] is on.
    pub log: Vec<String>,
}

impl Report {
    /// The first seek's latency, milliseconds.
    pub fn seek_latency_ms(&self) -> Option<f64> {
        self.seeks.first()?.latency_ms
    }

    pub fn fetched_mb(&self) -> f64 {
        self.bytes_fetched as f64 / 1e6
    }

    pub fn wasted_mb(&self) -> f64 {
        self.bytes_wasted as f64 / 1e6
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0} ms"));
        write!(
            f,
            "ttff {}, stalls {} ({:.2} s), seek {}, fetched {:.2} MB, wasted {:.2} MB, \
             played {:.1} s, {} requests, {}",
            ms(self.ttff_ms),
            self.stalls,
            self.stall_seconds,
            ms(self.seek_latency_ms()),
            self.fetched_mb(),
            self.wasted_mb(),
            self.played_seconds,
            self.requests,
            if self.reached_end {
                "reached the end"
            } else if self.abandoned {
                "abandoned"
            } else if self.timed_out {
                "timed out"
            } else {
                "stopped"
            }
        )?;
        if let Some((code, message)) = &self.error {
            write!(f, ", error {}: {message}", code.as_str())?;
        }
        if !self.anomalies.is_empty() {
            write!(f, ", {} anomalies", self.anomalies.len())?;
        }
        Ok(())
    }
}
