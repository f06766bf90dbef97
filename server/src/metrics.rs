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
    registry::{Metric, Registry, Unit},
};

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum PlacementResult {
    Accepted,
    Cooldown,
    Invalid,
    RateLimited,
    /// Run, perhaps, but not confirmed durable (`Unknown` to the placer).
    Unconfirmed,
    /// Refused by a moderator's ban or freeze.
    Moderated,
    /// Refused until the session solves a challenge.
    Challenged,
    /// Answered as accepted and dropped: a shadow ban.
    Shadowed,
    /// An undo with nothing to undo.
    NothingToUndo,
    Error,
}

impl PlacementResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Cooldown => "cooldown",
            Self::Invalid => "invalid",
            Self::RateLimited => "rate_limited",
            Self::Unconfirmed => "unconfirmed",
            Self::Moderated => "moderated",
            Self::Challenged => "challenged",
            Self::Shadowed => "shadowed",
            Self::NothingToUndo => "nothing_to_undo",
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
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChallengeLabels {
    /// `solved` or `wrong` (not issued here, expired, not a solution).
    answer: &'static str,
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

/// Every metric of the instance, grouped by the part of it they watch.
pub struct Metrics {
    registry: Registry,
    pub http: HttpMetrics,
    pub placements: PlacementMetrics,
    pub sockets: SocketMetrics,
    pub feed: FeedMetrics,
    /// Store commands that failed (Redis unreachable, timed out, refused).
    pub store_errors: Counter,
    /// Snapshot encodings made, by format: bounded by the refresh interval,
    /// whatever the request rate.
    snapshot_encodings: Family<SnapshotLabels, Counter>,
    /// Answers to the proof-of-work challenge, by whether they checked out.
    challenges: Family<ChallengeLabels, Counter>,
    /// The store's memory and keys by kind of key (estimates).
    store_memory: Family<KindLabels, Gauge<f64, AtomicU64>>,
    store_keys: Family<KindLabels, Gauge<f64, AtomicU64>>,
    process_memory: Gauge,
}

pub struct HttpMetrics {
    /// Connections open (HTTP, until upgraded to a WebSocket).
    pub connections: Gauge,
    requests: Family<HttpLabels, Counter>,
    duration: Family<RouteLabels, Histogram>,
}

pub struct PlacementMetrics {
    by_result: Family<PlacementLabels, Counter>,
    /// From a Place frame to the store's answer.
    pub duration: Histogram,
}

pub struct SocketMetrics {
    pub connections: Gauge,
    disconnects: Family<DisconnectLabels, Counter>,
    /// From a placement's acceptance to the write of its tile to a socket.
    pub delivery_lag: Histogram,
    /// Sockets that fell too far behind the fan-out and were sent `Resync`.
    pub resyncs: Counter,
    /// Sockets that fell behind the fan-out and were caught up from the
    /// mirror's recent tiles.
    pub catch_ups: Counter,
    /// Chat lines dropped from the outbox of a socket that stopped reading
    /// (chat is not replayed, so they never reach that page).
    pub chat_dropped: Counter,
    /// The wait between two `Tiles` frames now in force.
    pub batch_interval: Gauge<f64, AtomicU64>,
}

pub struct FeedMetrics {
    /// The last seq applied to this instance's mirror of the default
    /// canvas (other canvases' feeds count in the counters only).
    pub seq: Gauge,
    pub gaps: Counter,
    pub reloads: Counter,
    /// Times the feed (re)started delivering: subscriptions made again.
    pub resubscriptions: Counter,
}

/// Latency buckets from 1 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Registers `metric` under `name` (its unit, if any, appended by the
/// format) and hands it back, so each metric is made and described in one
/// expression.
fn register<M: Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    metric: M,
) -> M {
    match unit {
        Some(unit) => registry.register_with_unit(name, help, unit, metric.clone()),
        None => registry.register(name, help, metric.clone()),
    }
    metric
}

impl HttpMetrics {
    fn register(r: &mut Registry) -> Self {
        Self {
            connections: register(
                r,
                "http_connections",
                "HTTP connections open (until upgraded to a WebSocket)",
                None,
                Gauge::default(),
            ),
            requests: register(
                r,
                "http_requests",
                "HTTP requests by route and status",
                None,
                Family::default(),
            ),
            duration: register(
                r,
                "http_request_duration",
                "HTTP request duration by route",
                Some(Unit::Seconds),
                Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            ),
        }
    }
}

impl PlacementMetrics {
    fn register(r: &mut Registry) -> Self {
        Self {
            by_result: register(
                r,
                "placements",
                "Placements by result",
                None,
                Family::default(),
            ),
            duration: register(
                r,
                "placement_duration",
                "From a Place frame to the store's answer",
                Some(Unit::Seconds),
                latency_histogram(),
            ),
        }
    }
}

impl SocketMetrics {
    fn register(r: &mut Registry) -> Self {
        Self {
            connections: register(
                r,
                "websocket_connections",
                "Open WebSocket connections",
                None,
                Gauge::default(),
            ),
            disconnects: register(
                r,
                "websocket_disconnects",
                "Closed WebSocket connections by reason",
                None,
                Family::default(),
            ),
            delivery_lag: register(
                r,
                "delivery_lag",
                "From a placement's acceptance to its tile's write to a socket",
                Some(Unit::Seconds),
                latency_histogram(),
            ),
            resyncs: register(
                r,
                "websocket_resyncs",
                "Sockets resynced after falling behind the fan-out",
                None,
                Counter::default(),
            ),
            catch_ups: register(
                r,
                "websocket_catch_ups",
                "Sockets caught up from memory after falling behind the fan-out",
                None,
                Counter::default(),
            ),
            chat_dropped: register(
                r,
                "websocket_chat_lines_dropped",
                "Chat lines dropped on the way to a socket that fell behind",
                None,
                Counter::default(),
            ),
            batch_interval: register(
                r,
                "batch_interval",
                "Wait between two Tiles frames now in force (grows with sockets and load)",
                Some(Unit::Seconds),
                Gauge::default(),
            ),
        }
    }
}

impl FeedMetrics {
    fn register(r: &mut Registry) -> Self {
        Self {
            seq: register(
                r,
                "feed_seq",
                "Last seq applied to this instance's default canvas",
                None,
                Gauge::default(),
            ),
            gaps: register(
                r,
                "feed_gaps",
                "Gaps in the update feed filled from history",
                None,
                Counter::default(),
            ),
            reloads: register(
                r,
                "feed_reloads",
                "Full canvas reloads after history could not bridge a gap",
                None,
                Counter::default(),
            ),
            resubscriptions: register(
                r,
                "feed_resubscriptions",
                "Times the update feed (re)started delivering",
                None,
                Counter::default(),
            ),
        }
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("canvas");
        let r = &mut registry;
        let http = HttpMetrics::register(r);
        let placements = PlacementMetrics::register(r);
        let sockets = SocketMetrics::register(r);
        let feed = FeedMetrics::register(r);
        let store_errors = register(
            r,
            "store_errors",
            "Store commands that failed",
            None,
            Counter::default(),
        );
        let snapshot_encodings = register(
            r,
            "snapshot_encodings",
            "Snapshot encodings made, by format",
            None,
            Family::default(),
        );
        let challenges = register(
            r,
            "challenge_answers",
            "Answers to the proof-of-work challenge, solved or wrong",
            None,
            Family::default(),
        );
        let store_memory = register(
            r,
            "store_memory",
            "The store's memory by kind of key (estimated from a sample)",
            Some(Unit::Bytes),
            Family::default(),
        );
        let store_keys = register(
            r,
            "store_keys",
            "The store's keys by kind (estimated from a sample)",
            None,
            Family::default(),
        );
        let process_memory = register(
            r,
            "process_resident_memory",
            "Resident memory of this process",
            Some(Unit::Bytes),
            Gauge::default(),
        );
        r.register(
            "build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Self {
            registry,
            http,
            placements,
            sockets,
            feed,
            store_errors,
            snapshot_encodings,
            challenges,
            store_memory,
            store_keys,
            process_memory,
        }
    }

    pub fn placement(&self, result: PlacementResult) {
        self.placements
            .by_result
            .get_or_create(&PlacementLabels { result })
            .inc();
    }

    /// Records the store's estimated keys and memory of one kind.
    pub fn store_usage(&self, kind: &'static str, keys: f64, bytes: f64) {
        let labels = KindLabels { kind };
        self.store_memory.get_or_create(&labels).set(bytes);
        self.store_keys.get_or_create(&labels).set(keys);
    }

    /// Counts an answer to the challenge.
    pub fn challenge(&self, solved: bool) {
        let answer = if solved { "solved" } else { "wrong" };
        self.challenges
            .get_or_create(&ChallengeLabels { answer })
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
        self.sockets
            .disconnects
            .get_or_create(&DisconnectLabels { reason })
            .inc();
    }

    pub fn http_request(&self, route: &str, status: u16, seconds: f64) {
        self.http
            .requests
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http
            .duration
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
