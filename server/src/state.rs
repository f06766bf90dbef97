//! What every request handler shares.

use crate::{
    backend::Store,
    bans::RangeBans,
    canvas::{
        chat::ChatLog, chunks::ChunkCache, fanout::Fanout, heat::Heat, mirror::Mirror,
        snapshot::SnapshotCache, watched::Watched,
    },
    config::Config,
    leaderboards::Leaderboards,
    limits::{AddressBuckets, ConnectionLimiter},
    metrics::Metrics,
    presence::Presence,
    session::Sessions,
    signin::SignIn,
};
use std::{
    ops::Deref,
    sync::{atomic::AtomicBool, Arc},
};
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// What every request handler and socket of one canvas shares. Each
/// request and each connection holds a copy for its whole life, so a copy
/// is one `Arc`: the two dozen handles inline, held twice by each socket's
/// task (the upgrade's callback and the connection), were 400 of an idle
/// socket's 4,800 bytes.
#[derive(Clone)]
pub struct AppState(Arc<CanvasState>);

impl AppState {
    pub fn new(state: CanvasState) -> Self {
        Self(Arc::new(state))
    }
}

impl Deref for AppState {
    type Target = CanvasState;

    fn deref(&self) -> &CanvasState {
        &self.0
    }
}

/// The parts of one canvas's [`AppState`].
pub struct CanvasState {
    pub config: Arc<Config>,
    /// Placements and per-pixel records go to the store.
    pub store: Arc<dyn Store>,
    /// Grants (signed) sessions to requests.
    pub sessions: Arc<Sessions>,
    /// The OpenID providers players may sign in with, if any.
    pub sign_in: Option<Arc<SignIn>>,
    /// Every read of the canvas comes from the mirror.
    pub mirror: Arc<Mirror>,
    /// The mirror's encodings for `/api/canvas` and the PNG.
    pub snapshots: Arc<SnapshotCache>,
    /// Each chunk's encoding for `/api/chunks`.
    pub chunks: Arc<ChunkCache>,
    /// When each pixel was last placed, for `/api/heatmap.png`.
    pub heat: Arc<Heat>,
    /// Frames for every socket.
    pub fanout: Fanout,
    /// The chat's newest messages, sent to each new connection.
    pub chat: Arc<ChatLog>,
    /// The templates the server watches on this canvas, kept live.
    pub watched: Arc<Watched>,
    pub presence: Arc<Presence>,
    /// Open WebSockets per client address.
    pub connections: Arc<ConnectionLimiter>,
    /// The range bans in force, refreshed from the store every second.
    pub range_bans: Arc<RangeBans>,
    pub metrics: Arc<Metrics>,
    /// Large store reads that a public request triggers (a page of history
    /// for `/api/placements`, an archived PNG) running at once: a cheap
    /// request must not buy unbounded store work, so past [`HEAVY_READS`]
    /// they wait their turn.
    pub heavy_reads: Arc<Semaphore>,
    /// Large `Resume` answers (from the store's history, or many tiles
    /// from memory), per client address (whichever of its sockets asks):
    /// past its allowance a client gets `Resync` and loads the (cached)
    /// snapshot instead.
    pub large_resumes: Arc<AddressBuckets>,
    /// WebSocket handshakes per client address (`None`: no limit): a client
    /// reconnecting in a loop is refused cheaply, before an upgrade.
    pub handshakes: Option<Arc<AddressBuckets>>,
    /// Players' reports per client address.
    pub reports_limit: Arc<AddressBuckets>,
    /// Templates registered for the server to watch, per client address
    /// (each costs every instance a read of its area).
    pub watch_limit: Arc<AddressBuckets>,
    /// Factions founded, joined and invited to, per client address: each is
    /// a store write that outlives the request (a tag held, an invitation
    /// kept a week), so sessions made by the thousand buy only a few.
    pub faction_limit: Arc<AddressBuckets>,
    /// The leaderboards as last made (`/api/leaderboard`).
    pub leaderboards: Arc<Leaderboards>,
    /// Whether the sync task is current with the feed (for `/readyz`).
    pub feed_live: Arc<AtomicBool>,
    /// Cancelled on SIGTERM/SIGINT: sockets close with 1001 "going away".
    pub shutdown: CancellationToken,
    /// Every socket and background task, waited for (bounded) on shutdown
    /// so that they finish their work: placements in flight answered, the
    /// last frames sent.
    pub tasks: TaskTracker,
}

/// Large `Resume` answers an address may have: a burst of this many, then
/// one every [`LARGE_RESUME_EVERY`].
pub const LARGE_RESUME_BURST: u32 = 3;
pub const LARGE_RESUME_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Reports an address may file: a burst of this many, then one every
/// [`REPORT_EVERY`].
pub const REPORT_BURST: u32 = 3;
pub const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(20);

/// Templates an address may register for watching: a burst of this many,
/// then one every [`WATCH_EVERY`].
pub const WATCH_BURST: u32 = 3;
pub const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Faction changes that write for long (founding, joining, inviting) an
/// address may make: a burst of this many, then one every
/// [`FACTION_EVERY`].
pub const FACTION_BURST: u32 = 10;
pub const FACTION_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// How many large store reads (each at most a few hundred KB) public
/// requests may have running at once on an instance.
pub const HEAVY_READS: usize = 2;
