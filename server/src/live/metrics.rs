//! What `/metrics` shows of live streams: how many, viewers per stream,
//! the bytes ingested (its rate is the ingest bit rate), fragments a slow
//! viewer had to skip, and publishers refused or cut.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct StreamLabel {
    pub stream: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct EndLabel {
    pub reason: &'static str,
}

#[derive(Debug, Clone, Default)]
pub struct LiveMetrics {
    pub streams: Gauge,
    pub viewers: Family<StreamLabel, Gauge>,
    pub ingest_bytes: Family<StreamLabel, Counter>,
    pub fragments: Family<StreamLabel, Counter>,
    pub dropped: Family<StreamLabel, Counter>,
    pub publishes: Family<EndLabel, Counter>,
}

impl LiveMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "live_streams",
            "Live streams with a publisher or viewers waiting for one",
            self.streams.clone(),
        );
        registry.register(
            "live_viewers",
            "Viewers reading a live stream now",
            self.viewers.clone(),
        );
        registry.register(
            "live_ingest_bytes",
            "Bytes of fragments a live stream's publisher sent (rate: the ingest bit rate / 8)",
            self.ingest_bytes.clone(),
        );
        registry.register(
            "live_fragments",
            "Fragments a live stream's publisher sent",
            self.fragments.clone(),
        );
        registry.register(
            "live_fragments_dropped",
            "Fragments not sent to a viewer that was behind (it skips to the next keyframe)",
            self.dropped.clone(),
        );
        registry.register(
            "live_publishes",
            "Publishing requests by how they ended: ended, refused, bad_input, idle, taken_over",
            self.publishes.clone(),
        );
    }

    fn label(stream: &str) -> StreamLabel {
        StreamLabel {
            stream: stream.to_owned(),
        }
    }

    pub fn viewers(&self, stream: &str, count: usize) {
        self.viewers
            .get_or_create(&Self::label(stream))
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub fn fragment(&self, stream: &str, bytes: usize, dropped: u64, viewers: usize) {
        let label = Self::label(stream);
        self.ingest_bytes.get_or_create(&label).inc_by(bytes as u64);
        self.fragments.get_or_create(&label).inc();
        if dropped > 0 {
            self.dropped.get_or_create(&label).inc_by(dropped);
        }
        self.viewers
            .get_or_create(&label)
            .set(i64::try_from(viewers).unwrap_or(i64::MAX));
    }

    pub fn published(&self, reason: &'static str) {
        self.publishes.get_or_create(&EndLabel { reason }).inc();
    }
}
