//! The instance's Prometheus metrics, exposed on `/metrics` in the
//! OpenMetrics text format.

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{exponential_buckets, Histogram},
        info::Info,
    },
    registry::{Registry, Unit},
};

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum PlacementResult {
    Accepted,
    Cooldown,
    Invalid,
    RateLimited,
    Error,
}

impl PlacementResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Cooldown => "cooldown",
            Self::Invalid => "invalid",
            Self::RateLimited => "rate_limited",
            Self::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlacementLabels {
    pub result: PlacementResult,
}

/// The encodings of the snapshot.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum SnapshotFormat {
    /// A copy of the mirror's bytes (what the others are made from).
    Raw,
    Gzip,
    Png,
}

impl SnapshotFormat {
    fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Gzip => "gzip",
            Self::Png => "png",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SnapshotLabels {
    pub format: SnapshotFormat,
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client closed or the connection dropped.
    Closed,
    /// The client broke the protocol and was closed with 1008/1009.
    ProtocolError,
    /// A write did not complete within the send timeout.
    SlowClient,
    /// The server is shutting down.
    Shutdown,
    /// The peer stopped answering pings.
    HeartbeatTimeout,
}

impl DisconnectReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::ProtocolError => "protocol_error",
            Self::SlowClient => "slow_client",
            Self::Shutdown => "shutdown",
            Self::HeartbeatTimeout => "heartbeat_timeout",
        }
    }
}

/// Label values in Prometheus's snake_case, not Rust's variant names.
macro_rules! label_value_as_str {
    ($($ty:ty),*) => {$(
        impl EncodeLabelValue for $ty {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                EncodeLabelValue::encode(&self.as_str(), encoder)
            }
        }
    )*};
}
label_value_as_str!(PlacementResult, DisconnectReason, SnapshotFormat);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DisconnectLabels {
    pub reason: DisconnectReason,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route pattern (`/api/pixel`), never the raw path: bounded.
    pub route: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    pub placements: Family<PlacementLabels, Counter>,
    /// From a Place frame to the store's answer.
    pub placement_duration: Histogram,
    /// From a placement's acceptance to the write of its tile to a socket.
    pub delivery_lag: Histogram,
    pub ws_connections: Gauge,
    pub ws_disconnects: Family<DisconnectLabels, Counter>,
    /// Sockets that fell too far behind the fan-out and were sent `Resync`.
    pub ws_resyncs: Counter,
    /// Sockets that fell behind the fan-out and were caught up from the
    /// mirror's recent tiles.
    pub ws_catch_ups: Counter,
    /// The wait between two `Tiles` frames now in force.
    pub batch_interval: Gauge<f64, AtomicU64>,
    /// The last seq applied to this instance's mirror.
    pub feed_seq: Gauge,
    pub feed_gaps: Counter,
    pub feed_reloads: Counter,
    /// Times the feed (re)started delivering: subscriptions made again.
    pub feed_resubscriptions: Counter,
    /// Store commands that failed (Redis unreachable, timed out, refused).
    pub store_errors: Counter,
    /// Snapshot encodings made, by format: bounded by the refresh interval,
    /// whatever the request rate.
    snapshot_encodings: Family<SnapshotLabels, Counter>,
    process_memory: Gauge,
}

/// Latency buckets from 1 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("canvas");
        let metrics = Self {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            placements: Family::default(),
            placement_duration: latency_histogram(),
            delivery_lag: latency_histogram(),
            ws_connections: Gauge::default(),
            ws_disconnects: Family::default(),
            ws_resyncs: Counter::default(),
            ws_catch_ups: Counter::default(),
            batch_interval: Gauge::default(),
            feed_seq: Gauge::default(),
            feed_gaps: Counter::default(),
            feed_reloads: Counter::default(),
            feed_resubscriptions: Counter::default(),
            store_errors: Counter::default(),
            snapshot_encodings: Family::default(),
            process_memory: Gauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "http_requests",
            "HTTP requests by route and status",
            metrics.http_requests.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "HTTP request duration by route",
            Unit::Seconds,
            metrics.http_duration.clone(),
        );
        r.register(
            "placements",
            "Placements by result",
            metrics.placements.clone(),
        );
        r.register_with_unit(
            "placement_duration",
            "From a Place frame to the store's answer",
            Unit::Seconds,
            metrics.placement_duration.clone(),
        );
        r.register_with_unit(
            "delivery_lag",
            "From a placement's acceptance to its tile's write to a socket",
            Unit::Seconds,
            metrics.delivery_lag.clone(),
        );
        r.register(
            "websocket_connections",
            "Open WebSocket connections",
            metrics.ws_connections.clone(),
        );
        r.register(
            "websocket_disconnects",
            "Closed WebSocket connections by reason",
            metrics.ws_disconnects.clone(),
        );
        r.register(
            "websocket_resyncs",
            "Sockets resynced after falling behind the fan-out",
            metrics.ws_resyncs.clone(),
        );
        r.register(
            "websocket_catch_ups",
            "Sockets caught up from memory after falling behind the fan-out",
            metrics.ws_catch_ups.clone(),
        );
        r.register_with_unit(
            "batch_interval",
            "Wait between two Tiles frames now in force (grows with sockets and load)",
            Unit::Seconds,
            metrics.batch_interval.clone(),
        );
        r.register(
            "feed_seq",
            "Last seq applied to this instance's canvas",
            metrics.feed_seq.clone(),
        );
        r.register(
            "feed_gaps",
            "Gaps in the update feed filled from history",
            metrics.feed_gaps.clone(),
        );
        r.register(
            "feed_reloads",
            "Full canvas reloads after history could not bridge a gap",
            metrics.feed_reloads.clone(),
        );
        r.register(
            "feed_resubscriptions",
            "Times the update feed (re)started delivering",
            metrics.feed_resubscriptions.clone(),
        );
        r.register(
            "store_errors",
            "Store commands that failed",
            metrics.store_errors.clone(),
        );
        r.register(
            "snapshot_encodings",
            "Snapshot encodings made, by format",
            metrics.snapshot_encodings.clone(),
        );
        r.register_with_unit(
            "process_resident_memory",
            "Resident memory of this process",
            Unit::Bytes,
            metrics.process_memory.clone(),
        );
        r.register(
            "build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Self {
            registry,
            ..metrics
        }
    }

    pub fn placement(&self, result: PlacementResult) {
        self.placements
            .get_or_create(&PlacementLabels { result })
            .inc();
    }

    pub fn snapshot_encoded(&self, format: SnapshotFormat) {
        self.snapshot_encodings
            .get_or_create(&SnapshotLabels { format })
            .inc();
    }

    /// Encodings of `format` made so far.
    pub fn snapshot_encodings(&self, format: SnapshotFormat) -> u64 {
        self.snapshot_encodings
            .get_or_create(&SnapshotLabels { format })
            .get()
    }

    pub fn disconnect(&self, reason: DisconnectReason) {
        self.ws_disconnects
            .get_or_create(&DisconnectLabels { reason })
            .inc();
    }

    pub fn http_request(&self, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub fn render(&self) -> String {
        self.process_memory.set(resident_memory_bytes());
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Resident set size from `/proc/self/statm` (0 where there is none).
fn resident_memory_bytes() -> i64 {
    const PAGE: i64 = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<i64>().ok())
        .map_or(0, |pages| pages * PAGE)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
