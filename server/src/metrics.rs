//! What `/metrics` exposes, in the OpenMetrics text format Prometheus
//! scrapes (`prometheus-client`): requests by route and status, body bytes
//! sent, responses cut short, request durations, connections, and refusals
//! by reason. One [`Metrics`] per server, shared by the transport (the
//! connections), the gates (the refusals) and the access log stage, which
//! sees every response end ([`crate::pipeline::access_log`]).
//!
//! Who may read them is [`MetricsAccess`]: by default loopback only.

use std::net::IpAddr;

use ipnet::IpNet;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s text (Prometheus asks for it).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which part of the URL layout a request went to (a label with few values:
/// never the path itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Media,
    Player,
    Api,
    Metrics,
    Site,
}

impl Route {
    pub fn of(path: &str) -> Route {
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        match first {
            "media" => Route::Media,
            "pkg" => Route::Player,
            "player.js" => Route::Player,
            "api" => Route::Api,
            "metrics" => Route::Metrics,
            _ => Route::Site,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Route::Media => "media",
            Route::Player => "player",
            Route::Api => "api",
            Route::Metrics => "metrics",
            Route::Site => "site",
        }
    }
}

/// Why a request or a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// No token, a bad signature, another path or another IP.
    Token,
    /// A token expired or not yet valid.
    TokenExpired,
    /// The `--allow` / `--deny` IP rules.
    Ip,
    /// A path outside the served directory, hidden, or not a file.
    Path,
    /// The connection cap, a request head too slow or too large.
    Limits,
    /// `/metrics` from an address not allowed to read them.
    Metrics,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::Token => "token",
            Refusal::TokenExpired => "token_expired",
            Refusal::Ip => "ip",
            Refusal::Path => "path",
            Refusal::Limits => "limits",
            Refusal::Metrics => "metrics",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteStatus {
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// Durations from 1 ms to about 33 s, doubling.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// What the shared chunk cache counts ([`crate::body::chunk_cache`]):
/// clones of the registered metrics, so the cache updates them directly.
#[derive(Debug, Clone, Default)]
pub struct ChunkCacheCounters {
    pub hits: Counter,
    /// Fills that ran a read.
    pub misses: Counter,
    /// Requests that found no chunk and waited for another's fill.
    pub coalesced_waits: Counter,
    pub evictions: Counter,
    /// Bytes of chunks held.
    pub bytes: Gauge,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    body_bytes: Family<RouteLabel, Counter>,
    cut_short: Family<RouteLabel, Counter>,
    durations: Family<RouteLabel, Histogram, fn() -> Histogram>,
    connections_active: Gauge,
    connections: Counter,
    refusals: Family<ReasonLabel, Counter>,
    sent_by_kernel: Counter,
    chunk_cache: ChunkCacheCounters,
    delivery: crate::pacing::DeliveryMetrics,
    live: crate::live::metrics::LiveMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("caudal");
        let requests = Family::<RouteStatus, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let body_bytes = Family::<RouteLabel, Counter>::default();
        registry.register(
            "http_response_body_bytes",
            "Response body bytes sent, by route (what left, not what was promised)",
            body_bytes.clone(),
        );
        let cut_short = Family::<RouteLabel, Counter>::default();
        registry.register(
            "http_responses_cut_short",
            "Responses whose body ended before its Content-Length (client gone, file changed)",
            cut_short.clone(),
        );
        let durations: Family<RouteLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "http_request_duration_seconds",
            "From the request head to the body's end, by route",
            durations.clone(),
        );
        let connections_active = Gauge::default();
        registry.register(
            "connections_active",
            "Connections being served",
            connections_active.clone(),
        );
        let connections = Counter::default();
        registry.register(
            "connections",
            "Connections accepted and served",
            connections.clone(),
        );
        let refusals = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "refusals",
            "Requests and connections refused, by reason",
            refusals.clone(),
        );
        let sent_by_kernel = Counter::default();
        registry.register(
            "zero_copy_body_bytes",
            "Response body bytes the kernel sent straight from the file (sendfile), of those above",
            sent_by_kernel.clone(),
        );
        let chunk_cache = ChunkCacheCounters::default();
        for (name, help, counter) in [
            (
                "chunk_cache_hits",
                "Chunk cache lookups that found the chunk",
                &chunk_cache.hits,
            ),
            (
                "chunk_cache_misses",
                "Chunk cache fills that read the file",
                &chunk_cache.misses,
            ),
            (
                "chunk_cache_coalesced_waits",
                "Chunk cache lookups that waited for another request's fill instead of reading",
                &chunk_cache.coalesced_waits,
            ),
            (
                "chunk_cache_evictions",
                "Chunks evicted to stay within --cache-mem",
                &chunk_cache.evictions,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "chunk_cache_bytes",
            "Bytes of file chunks the chunk cache holds",
            chunk_cache.bytes.clone(),
        );
        let delivery = crate::pacing::DeliveryMetrics::default();
        delivery.register(&mut registry);
        let live = crate::live::metrics::LiveMetrics::default();
        live.register(&mut registry);
        Metrics {
            delivery,
            live,
            sent_by_kernel,
            registry,
            requests,
            body_bytes,
            cut_short,
            durations,
            connections_active,
            connections,
            refusals,
            chunk_cache,
        }
    }

    /// The live streams' metrics, registered here.
    pub fn live(&self) -> crate::live::metrics::LiveMetrics {
        self.live.clone()
    }

    /// The control loop's metrics (CMCD, sessions, pacing), registered here.
    pub fn delivery(&self) -> crate::pacing::DeliveryMetrics {
        self.delivery.clone()
    }

    /// The chunk cache's counters, registered here.
    pub fn chunk_cache(&self) -> ChunkCacheCounters {
        self.chunk_cache.clone()
    }

    /// A response to `route` ended: its status, the body bytes that left,
    /// whether it was cut short, and the seconds since its request came.
    pub fn response(&self, route: Route, status: u16, sent: u64, cut: bool, seconds: f64) {
        let route = route.label();
        self.requests
            .get_or_create(&RouteStatus { route, status })
            .inc();
        let label = RouteLabel { route };
        self.body_bytes.get_or_create(&label).inc_by(sent);
        if cut {
            self.cut_short.get_or_create(&label).inc();
        }
        self.durations.get_or_create(&label).observe(seconds);
    }

    /// Of a response's body bytes, those the transport sent with `sendfile`.
    pub fn sent_by_kernel(&self, bytes: u64) {
        self.sent_by_kernel.inc_by(bytes);
    }

    pub fn refused(&self, why: Refusal) {
        self.refusals
            .get_or_create(&ReasonLabel {
                reason: why.label(),
            })
            .inc();
    }

    /// A connection is served until the guard is dropped.
    pub fn connection(&self) -> ConnectionGuard {
        self.connections.inc();
        self.connections_active.inc();
        ConnectionGuard(self.connections_active.clone())
    }

    /// Everything, as the text `/metrics` answers.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Counts a connection as active while it lives.
#[derive(Debug)]
pub struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Who may read `/metrics`: clients in `allow` (the address the IP stage
/// found: behind a trusted proxy, the one it names). `enabled: false`
/// answers 404, as for any other unknown path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsAccess {
    pub enabled: bool,
    pub allow: Vec<IpNet>,
}

impl Default for MetricsAccess {
    fn default() -> Self {
        MetricsAccess {
            enabled: true,
            allow: loopback(),
        }
    }
}

impl MetricsAccess {
    pub fn allows(&self, client: Option<IpAddr>) -> bool {
        client.is_some_and(|addr| {
            let addr = crate::access::ip_rules::canonical(addr);
            self.allow.iter().any(|net| net.contains(&addr))
        })
    }
}

/// `127.0.0.0/8` and `::1`.
pub fn loopback() -> Vec<IpNet> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .filter_map(|net| net.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_is_counted_by_route_and_status_with_its_bytes_and_time() {
        let metrics = Metrics::new();
        metrics.response(Route::of("/media/a.mp4"), 206, 65536, false, 0.003);
        metrics.response(Route::of("/media/b.mp4"), 206, 100, true, 0.5);
        metrics.response(
            Route::of("/pkg/caudal_player-00.wasm"),
            200,
            10,
            false,
            0.001,
        );
        metrics.refused(Refusal::TokenExpired);
        let text = metrics.encode();
        for line in [
            "caudal_http_requests_total{route=\"media\",status=\"206\"} 2",
            "caudal_http_requests_total{route=\"player\",status=\"200\"} 1",
            "caudal_http_response_body_bytes_total{route=\"media\"} 65636",
            "caudal_http_responses_cut_short_total{route=\"media\"} 1",
            "caudal_http_request_duration_seconds_count{route=\"media\"} 2",
            "caudal_refusals_total{reason=\"token_expired\"} 1",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }

    #[test]
    fn connections_are_active_while_their_guard_lives() {
        let metrics = Metrics::new();
        let first = metrics.connection();
        let second = metrics.connection();
        drop(first);
        let text = metrics.encode();
        assert!(text.contains("caudal_connections_active 1\n"), "{text}");
        assert!(text.contains("caudal_connections_total 2\n"), "{text}");
        drop(second);
        assert!(metrics.encode().contains("caudal_connections_active 0\n"));
    }

    #[test]
    fn routes_are_a_few_names_never_the_path() {
        assert_eq!(Route::of("/"), Route::Site);
        assert_eq!(Route::of("/index.html"), Route::Site);
        assert_eq!(Route::of("/player.js"), Route::Player);
        assert_eq!(Route::of("/api/media"), Route::Api);
        assert_eq!(Route::of("/metrics"), Route::Metrics);
        assert_eq!(Route::of("/mediafile"), Route::Site);
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("an address"))
    }

    #[test]
    fn metrics_are_for_loopback_unless_configured() {
        let access = MetricsAccess::default();
        for allowed in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            assert!(access.allows(ip(allowed)), "{allowed}");
        }
        assert!(!access.allows(ip("10.0.0.1")));
        assert!(!access.allows(ip("::2")));
        assert!(!access.allows(None));
    }
}
