//! What the control loop counts in `/metrics`: CMCD seen (requests, stalls
//! reported, the buffer lengths players report), active sessions, and the
//! pacing decision of each media response.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct DecisionLabel {
    pub decision: &'static str,
}

/// Buffer lengths from 0.5 s to 64 s, doubling (plus +Inf).
fn buffer_histogram() -> Histogram {
    Histogram::new([0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
}

/// Live latencies from 0.25 s to 32 s, doubling (plus +Inf).
fn latency_histogram() -> Histogram {
    Histogram::new([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
}

/// The control loop's metrics, registered in the server's registry.
#[derive(Debug, Clone)]
pub struct DeliveryMetrics {
    pub cmcd_requests: Counter,
    pub cmcd_invalid: Counter,
    pub cmcd_stalls: Counter,
    pub buffer_seconds: Histogram,
    /// CMCD v2 `ltc`: live latency players report.
    pub live_latency: Histogram,
    pub sessions_active: Gauge,
    pub decisions: Family<DecisionLabel, Counter>,
    /// Media responses `--max-egress` held below what the rule gives them.
    pub egress_slowed: Counter,
    /// Bytes per second the budget has shared out now.
    pub egress_allotted: Gauge,
}

impl Default for DeliveryMetrics {
    fn default() -> Self {
        DeliveryMetrics {
            cmcd_requests: Counter::default(),
            cmcd_invalid: Counter::default(),
            cmcd_stalls: Counter::default(),
            buffer_seconds: buffer_histogram(),
            live_latency: latency_histogram(),
            sessions_active: Gauge::default(),
            decisions: Family::default(),
            egress_slowed: Counter::default(),
            egress_allotted: Gauge::default(),
        }
    }
}

impl DeliveryMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "cmcd_requests",
            "Requests that carried CMCD (query or headers)",
            self.cmcd_requests.clone(),
        );
        registry.register(
            "cmcd_invalid",
            "Requests whose CMCD could not be read (ignored; the request is served)",
            self.cmcd_invalid.clone(),
        );
        registry.register(
            "cmcd_stalls",
            "Requests whose CMCD said the buffer ran dry since the last one (bs)",
            self.cmcd_stalls.clone(),
        );
        registry.register(
            "cmcd_buffer_seconds",
            "Buffer length players reported with their media requests (bl)",
            self.buffer_seconds.clone(),
        );
        registry.register(
            "cmcd_live_latency_seconds",
            "Live latency players reported (CMCD v2 ltc), with requests or in reports to /api/cmcd",
            self.live_latency.clone(),
        );
        registry.register(
            "playback_sessions_active",
            "Playback sessions (CMCD sid, or client and file) with a request in the last 30 s",
            self.sessions_active.clone(),
        );
        registry.register(
            "pacing_decisions",
            "Media responses by pacing decision: paced, or why not",
            self.decisions.clone(),
        );
        registry.register(
            "pacing_egress_slowed",
            "Media responses the egress budget (--max-egress) held below what their viewer's buffer calls for",
            self.egress_slowed.clone(),
        );
        registry.register(
            "pacing_egress_allotted_bytes_per_second",
            "Bytes per second the egress budget shares out to media responses now",
            self.egress_allotted.clone(),
        );
    }
}
