//! What every request handler shares.

use crate::{
    backend::Store,
    canvas::{fanout::Fanout, mirror::Mirror, snapshot::Snapshots},
    config::Config,
    limits::ConnectionLimiter,
    metrics::Metrics,
    presence::Presence,
    session::Sessions,
};
use std::sync::{atomic::AtomicBool, Arc};
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// Placements and per-pixel records go to the store.
    pub store: Arc<dyn Store>,
    /// Grants (signed) sessions to requests.
    pub sessions: Arc<Sessions>,
    /// Every read of the canvas comes from the mirror.
    pub mirror: Arc<Mirror>,
    /// The mirror's encodings for `/api/canvas` and the PNG.
    pub snapshots: Arc<Snapshots>,
    /// Frames for every socket.
    pub fanout: Fanout,
    pub presence: Arc<Presence>,
    /// Open WebSockets per client address.
    pub connections: Arc<ConnectionLimiter>,
    pub metrics: Arc<Metrics>,
    /// Reads of the store's history for `/api/placements` running at once:
    /// a cheap request must not buy unbounded store work, so past
    /// [`HISTORY_READS`] they wait their turn.
    pub history_reads: Arc<Semaphore>,
    /// Whether the sync task is current with the feed (for `/readyz`).
    pub feed_live: Arc<AtomicBool>,
    /// Cancelled on SIGTERM/SIGINT: sockets close with 1001 "going away".
    pub shutdown: CancellationToken,
    /// Every socket and background task, waited for (bounded) on shutdown
    /// so that they finish their work: placements in flight answered, the
    /// last frames sent.
    pub tasks: TaskTracker,
}

/// How many `/api/placements` requests an instance lets read the store's
/// history at once (each reads at most a page, a few hundred KB).
pub const HISTORY_READS: usize = 2;
