//! The instance's Prometheus metrics, exposed on `/metrics` in the
//! OpenMetrics text format.

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
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
label_value_as_str!(PlacementResult, DisconnectReason);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DisconnectLabels {
    pub reason: DisconnectReason,
}

pub struct Metrics {
    registry: Registry,
    pub placements: Family<PlacementLabels, Counter>,
    pub ws_connections: Gauge,
    pub ws_disconnects: Family<DisconnectLabels, Counter>,
    /// Sockets that fell too far behind the fan-out and were sent `Resync`.
    pub ws_resyncs: Counter,
    /// The last seq applied to this instance's mirror.
    pub feed_seq: Gauge,
    pub feed_gaps: Counter,
    pub feed_reloads: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("canvas");
        let metrics = Self {
            placements: Family::default(),
            ws_connections: Gauge::default(),
            ws_disconnects: Family::default(),
            ws_resyncs: Counter::default(),
            feed_seq: Gauge::default(),
            feed_gaps: Counter::default(),
            feed_reloads: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "placements",
            "Placements by result",
            metrics.placements.clone(),
        );
        registry.register(
            "websocket_connections",
            "Open WebSocket connections",
            metrics.ws_connections.clone(),
        );
        registry.register(
            "websocket_disconnects",
            "Closed WebSocket connections by reason",
            metrics.ws_disconnects.clone(),
        );
        registry.register(
            "websocket_resyncs",
            "Sockets resynced after falling behind the fan-out",
            metrics.ws_resyncs.clone(),
        );
        registry.register(
            "feed_seq",
            "Last seq applied to this instance's canvas",
            metrics.feed_seq.clone(),
        );
        registry.register(
            "feed_gaps",
            "Gaps in the update feed filled from history",
            metrics.feed_gaps.clone(),
        );
        registry.register(
            "feed_reloads",
            "Full canvas reloads after history could not bridge a gap",
            metrics.feed_reloads.clone(),
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

    pub fn disconnect(&self, reason: DisconnectReason) {
        self.ws_disconnects
            .get_or_create(&DisconnectLabels { reason })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
