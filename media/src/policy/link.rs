//! The link as the policy sees it: throughput, round-trip time, and the
//! request size they call for.

use super::delivery::{self, ServerDelivery};
use super::options::PolicyOptions;
use super::throughput::ThroughputEstimator;

/// A request lasts at least this many round trips (see [`Link::request_size`]).
const RTT_FACTOR: f64 = 10.0;

#[derive(Debug, Clone, Default)]
pub(super) struct Link {
    throughput: ThroughputEstimator,
    /// Smoothed time from a request to its first byte.
    rtt_ms: Option<f64>,
}

impl Link {
    /// `len` bytes of a response came `elapsed_ms` after the previous event
    /// of its request (the request itself, for the `first` bytes).
    pub(super) fn on_data(&mut self, first: bool, len: u64, elapsed_ms: f64) {
        if first {
            // The wait for the first byte is the round trip, not the link's
            // rate: it goes to the RTT estimate, and the throughput sample
            // starts now (counting it would size every request below the
            // link by a round trip's worth).
            self.rtt_ms = Some(
                self.rtt_ms
                    .map_or(elapsed_ms, |rtt| 0.8 * rtt + 0.2 * elapsed_ms),
            );
            self.throughput.first_piece(len);
        } else {
            self.throughput.sample(len, elapsed_ms);
        }
    }

    /// A window of a paced response's samples, as [`delivery::judge`] takes it.
    pub(super) fn on_paced(&mut self, bytes: u64, ms: f64, server: &ServerDelivery) {
        if let Some((bytes, ms)) = delivery::judge(bytes, ms, server) {
            self.throughput.sample(bytes, ms);
        }
    }

    /// Samples under the server's duress that would lower the estimate are
    /// the server's load, not the link: left out.
    pub(super) fn on_duress_data(&mut self, len: u64, elapsed_ms: f64) {
        let rate = len as f64 * 8.0 * 1000.0 / elapsed_ms.max(f64::EPSILON);
        if self.estimate().is_none_or(|estimate| rate >= estimate) {
            self.throughput.sample(len, elapsed_ms);
        }
    }

    /// A response ended (see [`ThroughputEstimator::response_ended`]).
    pub(super) fn on_done(&mut self) {
        self.throughput.response_ended();
    }

    /// Bits per second, once there is a sample: the one estimate every
    /// decision of the policy and `stats().throughput` read.
    pub(super) fn estimate(&self) -> Option<f64> {
        self.throughput.estimate()
    }

    /// Bytes for the next request: about `request_seconds` on this link.
    ///
    /// Requests follow one another, so each costs a round trip of idle link:
    /// on a long RTT they last longer (RTT_FACTOR round trips) to keep that
    /// idle share small.
    pub(super) fn request_size(&self, o: &PolicyOptions) -> u64 {
        let seconds = o
            .request_seconds
            .max(self.rtt_ms.unwrap_or(0.0) / 1000.0 * RTT_FACTOR);
        match self.estimate() {
            Some(bps) => ((bps / 8.0 * seconds) as u64).clamp(o.min_request, o.max_request),
            None => o.first_request,
        }
    }
}
