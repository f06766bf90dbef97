//! Where the canvas lives and how its changes arrive, by kind of backend.
//!
//! A [`Store`] owns the pixels, the global seq, the placement history, the
//! cooldowns and the sessions, and performs each placement as one atomic
//! step. A [`Feed`] brings every accepted placement to this instance, in
//! order as far as it can. Each kind keeps both side by side: [`memory`]
//! (the embedded default: one process, nothing to run) and [`redis`] (one
//! canvas shared by every instance). [`open`] picks by the configuration.

pub mod memory;
pub mod redis;

use crate::{
    config::Config,
    metrics::Metrics,
    model::{
        AccountId, ArchiveEntry, ArchiveKeep, ArchivedCanvas, ArchivedChunk, AuditEntry, Badge,
        BanTarget, Batch, Board, ClientAddress, FactionRecord, FactionRefusal, Linked, Logged,
        Period, PixelRecord, PlaceOutcome, Placement, PlayerStats, RangeBan, Report, SessionId,
        Snapshot, Update, WatchRecord,
    },
};
use app::{
    chunk::ChunkId,
    faction::{FactionColor, FactionName, FactionTag, Role},
    geometry::{CanvasSize, Coord},
    name::DisplayName,
    protocol::ChatLine,
};
use async_trait::async_trait;
use bytes::Bytes;
use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// The window over which fresh sessions per client address are counted.
pub const NEW_SESSION_WINDOW: Duration = Duration::from_secs(3600);

/// How long the store keeps a session nobody uses (renewed on every visit).
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// How long an account's link to its player is kept after its last
/// sign-in.
pub const ACCOUNT_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// Chat messages each canvas keeps (what a new page is shown, and what a
/// moderator can still remove).
pub const CHAT_KEPT: usize = 100;

/// Moderators' actions the audit log keeps.
pub const AUDIT_LEN: usize = 10_000;

/// The names kept per session, newest first, for its player's page.
pub const NAMES_KEPT: usize = 20;

/// What a backend's own error becomes: the source of a [`StoreError`],
/// kept for the logs, whatever the backend (the Redis one sorts the redis
/// crate's errors into these in `redis/error.rs`).
pub type ErrorSource = Arc<dyn std::error::Error + Send + Sync>;

/// Why the store could not do what was asked. Clone, because one failed
/// script call answers every placement it carried.
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// The command went out and no answer came within its deadline: it may
    /// or may not have run.
    #[error("the store did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection broke with the command in flight: it may or may not
    /// have run.
    #[error("the connection to the store broke: {0}")]
    Dropped(#[source] ErrorSource),
    /// No connection to it (refused, or not made within the deadline): the
    /// command never went out.
    #[error("cannot reach the store: {0}")]
    Unreachable(#[source] ErrorSource),
    /// It answered with an error (a demoted master's `READONLY`, a script
    /// error, out of memory).
    #[error("the store refused the command: {0}")]
    Refused(#[source] ErrorSource),
    /// No Sentinel named a master of that name.
    #[error("no Sentinel named a master called {0:?}")]
    NoMaster(String),
    /// Its answer was not of the expected form.
    #[error("unexpected reply from the store: {0}")]
    Malformed(&'static str),
    /// The instance is shutting down.
    #[error("the placement queue is closed")]
    Closed,
}

impl StoreError {
    /// No connection within `within`.
    pub fn not_reached(within: Duration) -> Self {
        let timed_out = std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no connection within {within:?}"),
        );
        Self::Unreachable(Arc::new(timed_out))
    }

    /// Whether the command may have run although it failed: then a
    /// placement is neither accepted nor refused, but unknown.
    pub fn may_have_run(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::Dropped(_))
    }
}

/// What the store's history holds after a seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum History {
    /// The placements after the seq asked for, oldest first, at most the
    /// limit asked for (none when nothing came after it).
    Placements(Vec<Update>),
    /// The history no longer reaches back to the seq after the one asked
    /// for: it was trimmed while the asker was behind. Nothing was lost;
    /// the asker reloads the snapshot.
    Trimmed,
    /// The newest seq is below the one asked for: the store went back on
    /// placements (a failover to a replica that had not received them).
    WentBack,
    /// The epoch asked for is not the current one.
    OtherEpoch,
}

impl History {
    /// The placements, if the history holds them.
    pub fn placements(self) -> Option<Vec<Update>> {
        match self {
            Self::Placements(updates) => Some(updates),
            _ => None,
        }
    }
}

/// Keys of one kind in the store, and the memory they take (estimates).
#[derive(Debug, Clone, PartialEq)]
pub struct KindUsage {
    pub kind: &'static str,
    pub keys: f64,
    pub bytes: f64,
}

/// Who a moderator's fill is recorded as.
#[derive(Debug, Clone)]
pub struct FillPlacer {
    /// The moderator's name, shown as `placed_by`.
    pub name: String,
    pub address: ClientAddress,
}

/// The seqs a fill took, and whether a replica confirmed them (with
/// `DURABILITY=replica`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filled {
    pub first_seq: u64,
    pub last_seq: u64,
    pub durable: bool,
}

/// The canvas as the instances follow it: its snapshot, its history, and a
/// new epoch when the store went back on placements.
#[async_trait]
pub trait CanvasStore: Send + Sync + 'static {
    /// The whole canvas with the seq and epoch it is current to.
    async fn snapshot(&self) -> Result<Snapshot, StoreError>;

    /// Up to `limit` placements after `after_seq` in `epoch`, oldest first,
    /// or why there are none to give.
    async fn history(
        &self,
        epoch: u64,
        after_seq: u64,
        limit: usize,
    ) -> Result<History, StoreError>;

    /// Replaces the epoch `stale` with a new one (unless another instance
    /// already did): called when the store provably went back on placements
    /// this instance applied (the same seq now names another tile, or the
    /// newest seq is below one applied), which happens when a failover
    /// promoted a replica that had not received them. Clients then reload
    /// instead of trusting seqs that now name other tiles.
    async fn start_new_epoch(&self, stale: u64) -> Result<(), StoreError>;
}

/// Placing: players' placements under the rules, a moderator's fill, and
/// the record of who placed what.
#[async_trait]
pub trait PlacementStore: Send + Sync + 'static {
    /// Checks and spends the session's charge (or gives one back, for an
    /// undo), writes the pixel, records who and when, takes the next seq,
    /// appends to the history and publishes to the feed: all or nothing.
    async fn place(&self, placement: Placement) -> Result<PlaceOutcome, StoreError>;

    /// How long until the session's charges are all back (zero: they are).
    async fn refill(&self, session: &SessionId) -> Result<Duration, StoreError>;

    /// The last placement on a pixel, if any.
    async fn pixel(&self, coord: Coord) -> Result<Option<PixelRecord>, StoreError>;

    /// A moderator's fill (or a rollback's restoring): each pixel its
    /// color, as ordinary placements with consecutive seqs, in one atomic
    /// step whatever the freeze, bans and cooldowns. `placer` is recorded
    /// as who placed them.
    async fn fill(&self, pixels: &[(Coord, u8)], placer: &FillPlacer)
        -> Result<Filled, StoreError>;

    /// Every placement the history still holds (at most `HISTORY_LEN`),
    /// oldest first, with when and by whom where that was recorded: what
    /// a rollback works from.
    async fn logged_history(&self) -> Result<Vec<Logged>, StoreError>;
}

/// The leaderboards and players' figures, kept by placements as they are
/// made (in the same atomic step), so reading them scans nothing.
#[async_trait]
pub trait BoardStore: Send + Sync + 'static {
    /// The top `count` of a board, best first: player handles and scores.
    /// A player whose session is banned is left out while the ban lasts.
    async fn leaderboard(
        &self,
        board: Board,
        count: usize,
    ) -> Result<Vec<(String, u64)>, StoreError>;

    /// A player's figures on this canvas (all zero for a stranger).
    async fn player(&self, handle: &str) -> Result<PlayerStats, StoreError>;

    /// The names a player took, newest first, with when.
    async fn names(&self, handle: &str) -> Result<Vec<(SystemTime, String)>, StoreError>;

    /// Takes an erased player (a deleted account) off this canvas's boards
    /// and its first and last placement.
    async fn forget_player(&self, handle: &str) -> Result<(), StoreError>;

    /// Counts on the boards what was placed since they were last counted,
    /// where placements are not counted as they are made (the Redis store:
    /// from its history, so the placement's own step stays short); how
    /// many placements it counted. Every instance may call it: a stretch
    /// is counted once.
    async fn fold_boards(&self) -> Result<usize, StoreError>;
}

/// Sessions: how many an address is given, solved puzzles, names, the
/// secret they are signed with.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Counts a session minted for a client address; false once `limit`
    /// (0: no limit) were minted for it within [`NEW_SESSION_WINDOW`], so
    /// dropping the cookie cannot dodge the cooldown for long.
    async fn admit_new_session(
        &self,
        address: ClientAddress,
        limit: u32,
    ) -> Result<bool, StoreError>;

    /// Marks `session` verified, unless the puzzle `challenge` was redeemed
    /// before (then false): each solved puzzle verifies one session. The
    /// puzzle is remembered for `valid_for`, as long as it could be
    /// answered.
    async fn redeem_puzzle(
        &self,
        session: &SessionId,
        challenge: &str,
        valid_for: Duration,
    ) -> Result<bool, StoreError>;

    /// The secret every instance signs sessions with: `candidate` if none
    /// was set yet, else the one set first.
    async fn shared_secret(&self, candidate: &str) -> Result<String, StoreError>;

    /// The display name a session chose, if any.
    async fn display_name(&self, session: &SessionId) -> Result<Option<String>, StoreError>;

    /// Sets the name a session's placements are shown with.
    async fn set_display_name(
        &self,
        session: &SessionId,
        name: &DisplayName,
    ) -> Result<(), StoreError>;

    /// Records that the session was just seen, keeping it for another
    /// [`SESSION_TTL`].
    async fn touch_session(&self, session: &SessionId) -> Result<(), StoreError>;
}

/// A chat message to post, with whom it is from and the limits it is
/// posted under.
#[derive(Debug, Clone)]
pub struct ChatPost {
    pub session: SessionId,
    pub address: ClientAddress,
    pub text: app::chat::ChatText,
    /// Messages one session may post per [`ChatPost::window`], and one
    /// client address (all its sessions).
    pub per_session: u32,
    pub per_address: u32,
    pub window: Duration,
    /// Whether an unverified session must solve the challenge first.
    pub challenge_always: bool,
    /// The faction whose channel it goes to (the author must be in it);
    /// `None`: the canvas's global channel.
    pub faction: Option<u64>,
}

/// What became of a [`ChatPost`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatOutcome {
    /// Posted, and on its way to every instance's feed.
    Posted(ChatLine),
    /// Shadow-banned: told it was posted, shown to its author only.
    Shadowed(ChatLine),
    /// Over the session's or the address's limit: until when it is not.
    RateLimited(Duration),
    /// A moderator muted the player, for this long still.
    Muted(Duration),
    /// The session or its address is banned, for this long still.
    Banned(Duration),
    NeedsChallenge,
    /// For a faction's channel, from a player not in that faction.
    NotInFaction,
}

/// The canvas's chat, a global channel and one per faction: each message
/// checked and posted in one atomic step, the newest [`CHAT_KEPT`] of each
/// channel kept, every one published on the feed like a batch of tiles, so
/// every instance's pages get it (a faction's, its members' pages). The
/// author's name carries their faction's tag: `[TAG] name`.
#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    async fn post_chat(&self, post: &ChatPost) -> Result<ChatOutcome, StoreError>;

    /// The newest `count` messages (at most [`CHAT_KEPT`]) of the global
    /// channel (`None`) or a faction's, oldest first.
    async fn recent_chat(
        &self,
        faction: Option<u64>,
        count: usize,
    ) -> Result<Vec<ChatLine>, StoreError>;

    /// Removes a message of the global channel (`None`) or a faction's for
    /// everyone (published on the feed); false if it is not kept (any
    /// more).
    async fn remove_chat(&self, id: u64, faction: Option<u64>) -> Result<bool, StoreError>;

    /// Mutes a player (by handle) in every canvas's chat for `duration`;
    /// their messages are refused meanwhile, so none reaches anyone.
    async fn mute(&self, handle: &str, duration: Duration) -> Result<(), StoreError>;

    /// Lifts a mute; false if there was none.
    async fn unmute(&self, handle: &str) -> Result<bool, StoreError>;
}

/// Accounts: a player signed in with an OpenID provider is the same player
/// on every device. An account is linked to one session, the player's, for
/// good: signing in on another device hands that device the player's
/// session, so the cooldown, name, figures and bans (all keyed by session)
/// follow without a second key space.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// The player `account` is: the session it was first linked to, or,
    /// for an account new to the deployment, `session` (linked now, so its
    /// name and history become the account's). Renews the link for
    /// [`ACCOUNT_TTL`].
    async fn sign_in(
        &self,
        account: &AccountId,
        provider: &str,
        session: &SessionId,
    ) -> Result<SessionId, StoreError>;

    /// The account a session is signed in to, if any.
    async fn linked(&self, session: &SessionId) -> Result<Option<Linked>, StoreError>;

    /// Deletes the account `session` is signed in to and the player's
    /// personal data: the link, the display name and the names taken. The
    /// player's handle is marked erased, so its pixels are shown without a
    /// name and it stays off every board. False if the session was not
    /// signed in.
    async fn delete_account(&self, session: &SessionId) -> Result<bool, StoreError>;

    /// Whether a player's handle belongs to a deleted account.
    async fn is_erased(&self, handle: &str) -> Result<bool, StoreError>;
}

/// A change to a faction: done, or refused for a reason the player is
/// told.
pub type FactionChange<T> = Result<Result<T, FactionRefusal>, StoreError>;

/// How long an invitation to a faction may be used.
pub const INVITATION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Factions, shared by every canvas of the deployment (as players are).
/// Each change is one atomic step, so two officers acting at once cannot
/// leave a faction with two owners or a member in two factions. Members
/// are named by their handle ([`SessionId::handle`]).
#[async_trait]
pub trait FactionStore: Send + Sync + 'static {
    /// Founds a faction with `founder` as its owner: its id. Refused when
    /// the founder is in a faction or the tag (any case) is taken.
    async fn create_faction(
        &self,
        founder: &str,
        name: &FactionName,
        tag: &FactionTag,
        color: &FactionColor,
    ) -> FactionChange<u64>;

    /// A faction with its members; `None` if there is none by that id.
    async fn faction(&self, id: u64) -> Result<Option<FactionRecord>, StoreError>;

    /// Each player's faction badge, in the order asked (one read, whatever
    /// the number of players).
    async fn badges(&self, handles: &[String]) -> Result<Vec<Option<Badge>>, StoreError>;

    /// Makes `code` an invitation to the faction of `by` (an officer or the
    /// owner) for [`INVITATION_TTL`]: the faction's id.
    async fn invite(&self, by: &str, code: &str) -> FactionChange<u64>;

    /// Every invitation to the faction of `by` (an officer or the owner)
    /// stops working at once (a link that went where it should not): the
    /// faction's id.
    async fn revoke_invitations(&self, by: &str) -> FactionChange<u64>;

    /// `handle` joins the faction `code` invites to, as a member.
    async fn join_faction(&self, handle: &str, code: &str) -> FactionChange<u64>;

    /// `handle` leaves their faction. An owner who leaves hands it to an
    /// officer (else a member); the last one out disbands it.
    async fn leave_faction(&self, handle: &str) -> FactionChange<u64>;

    /// `by` gives `member` (of the same faction) a new role, or removes
    /// them (`None`), as [`Role::may_set`] allows. Giving [`Role::Owner`]
    /// hands the faction over: `by` becomes an officer.
    async fn set_role(&self, by: &str, member: &str, role: Option<Role>) -> FactionChange<()>;

    /// The top `count` factions by what their members placed on this
    /// canvas in `period` while members: ids and scores, best first.
    async fn faction_board(
        &self,
        period: Period,
        count: usize,
    ) -> Result<Vec<(u64, u64)>, StoreError>;
}

/// The templates the server watches on this canvas: kept by the store,
/// announced on the feed so every instance watches each from its own
/// mirror.
#[async_trait]
pub trait WatchStore: Send + Sync + 'static {
    /// Keeps `record` (its `id` is given here) and tells every instance:
    /// its id.
    async fn add_watch(&self, record: WatchRecord) -> Result<u64, StoreError>;

    /// Every watched template of this canvas.
    async fn watches(&self) -> Result<Vec<WatchRecord>, StoreError>;

    /// One of them.
    async fn watch(&self, id: u64) -> Result<Option<WatchRecord>, StoreError>;

    /// Stops watching one, on every instance; false if there was none.
    async fn remove_watch(&self, id: u64) -> Result<bool, StoreError>;

    /// Takes the turn to post the alert a placement `seq` raised on
    /// template `id`: true for one caller across every instance (each
    /// raises the same alert from the same placements).
    async fn claim_alert(&self, id: u64, seq: u64) -> Result<bool, StoreError>;
}

/// Moderation: the freeze, bans, players' reports, the audit log.
#[async_trait]
pub trait ModerationStore: Send + Sync + 'static {
    /// Freezes the canvas (only moderators place) or unfreezes it.
    async fn set_frozen(&self, frozen: bool) -> Result<(), StoreError>;

    async fn is_frozen(&self) -> Result<bool, StoreError>;

    /// Enlarges the canvas to at least `size` on each side, for every
    /// instance (each hears it on its feed); never shrinks it. Answers the
    /// size kept.
    async fn grow(&self, size: CanvasSize) -> Result<CanvasSize, StoreError>;

    /// Bans `target` from placing for `duration`, on every instance; a
    /// shadow ban answers its placements as accepted and drops them. A
    /// range ban is enforced by the instances, from [`Store::range_bans`].
    async fn ban(
        &self,
        target: &BanTarget,
        duration: Duration,
        shadow: bool,
    ) -> Result<(), StoreError>;

    /// Adds a player's report to the moderators' queue (the newest
    /// [`Report::KEEP`] are kept).
    async fn report(&self, report: &Report) -> Result<(), StoreError>;

    /// The newest `count` reports still open, newest first, with their ids.
    async fn reports(&self, count: usize) -> Result<Vec<Report>, StoreError>;

    /// Takes a report off the queue; false if it was not on it.
    async fn resolve_report(&self, id: &str) -> Result<bool, StoreError>;

    /// The range bans in force.
    async fn range_bans(&self) -> Result<Vec<RangeBan>, StoreError>;

    /// Lifts a ban; false if there was none.
    async fn lift_ban(&self, target: &BanTarget) -> Result<bool, StoreError>;

    /// Appends to the moderators' audit log (the newest [`AUDIT_LEN`] are
    /// kept).
    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The newest `count` entries of the audit log, newest first.
    async fn audit_log(&self, count: usize) -> Result<Vec<AuditEntry>, StoreError>;
}

/// The archive of past canvases (time travel).
#[async_trait]
pub trait ArchiveStore: Send + Sync + 'static {
    /// Takes the turn to archive the canvas: true for one caller per
    /// `interval` across every instance.
    async fn archive_turn(&self, interval: Duration) -> Result<bool, StoreError>;

    /// Archives `canvas`, the canvas at `seq`, keeping the newest
    /// `keep`. A PNG of a chunk is dropped with the last archived canvas
    /// that holds it.
    async fn archive(
        &self,
        seq: u64,
        at: SystemTime,
        canvas: ArchivedCanvas,
        keep: ArchiveKeep,
    ) -> Result<(), StoreError>;

    /// The archived canvases, newest first.
    async fn archived(&self) -> Result<Vec<ArchiveEntry>, StoreError>;

    /// One canvas archived whole: its PNG.
    async fn archived_png(&self, seq: u64) -> Result<Option<Bytes>, StoreError>;

    /// One canvas archived by chunk: the chunks painted then (`None` if
    /// no canvas was archived by chunk at `seq`).
    async fn archived_chunks(&self, seq: u64) -> Result<Option<Vec<ArchivedChunk>>, StoreError>;

    /// The PNG of `chunk` stored with the archived canvas at `stored_with`.
    async fn archived_chunk_png(
        &self,
        chunk: ChunkId,
        stored_with: u64,
    ) -> Result<Option<Bytes>, StoreError>;
}

/// Users online across instances.
#[async_trait]
pub trait PresenceStore: Send + Sync + 'static {
    /// Records that `instance` has `online` open sockets, for `ttl` unless
    /// renewed, and returns the users online across every instance.
    async fn report_online(
        &self,
        instance: &str,
        online: u32,
        ttl: Duration,
    ) -> Result<u32, StoreError>;
}

/// The store's own state: whether it takes placements, what its memory holds.
#[async_trait]
pub trait HealthStore: Send + Sync + 'static {
    /// Succeeds while the store can take placements.
    async fn ping(&self) -> Result<(), StoreError>;

    /// What the store's memory is spent on, by kind of key (`session`,
    /// `history`, `archive`, …), estimated from `samples` random keys for
    /// the kinds with many keys and measured for the single large ones.
    /// Bounded work whatever the number of keys; empty for a store that
    /// cannot tell.
    async fn memory_by_kind(&self, samples: usize) -> Result<Vec<KindUsage>, StoreError>;
}

/// A whole backend: every part of the store. Each user of the store names
/// the part it needs (the sync task a [`CanvasStore`], nothing more);
/// a backend implements them all. Both backends answer every rule alike:
/// `tests/api/store_rules.rs` asks each of both.
pub trait Store:
    CanvasStore
    + PlacementStore
    + BoardStore
    + SessionStore
    + AccountStore
    + ChatStore
    + FactionStore
    + WatchStore
    + ModerationStore
    + ArchiveStore
    + PresenceStore
    + HealthStore
{
}

impl<T> Store for T where
    T: CanvasStore
        + PlacementStore
        + BoardStore
        + SessionStore
        + AccountStore
        + ChatStore
        + FactionStore
        + WatchStore
        + ModerationStore
        + ArchiveStore
        + PresenceStore
        + HealthStore
{
}

/// How placements reach this instance. A feed delivers every accepted
/// placement to the sync task, at most once and in order as far as it can.
/// Its first event is [`FeedEvent::Delivering`] or [`FeedEvent::Interrupted`],
/// once it is delivering; it says `Interrupted` whenever it may have lost some
/// (a lagging receiver, a re-established subscription), and the sync task
/// then catches up from the store's history. Until that first event the
/// instance is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// Placements accepted together, in seq order.
    Batch(Batch),
    /// The feed is delivering, and nothing was missed since it was made.
    Delivering,
    /// Updates may have been missed since the last one delivered; the feed
    /// is delivering again.
    Interrupted,
    /// The feed is down (its connection dropped) and is reconnecting.
    Disconnected,
    /// The moderators enlarged the canvas to this size.
    Resized(CanvasSize),
    /// Something happened in the canvas's chat.
    Chat(ChatEvent),
    /// A template was added to those the server watches, or removed.
    Watch(WatchEvent),
}

/// A change to the templates the server watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEvent {
    Added(u64),
    Removed(u64),
}

/// A change to a canvas's chat, as the feed brings it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    Posted(ChatLine),
    /// A message in a faction's channel.
    FactionPosted(u64, ChatLine),
    Removed(u64),
}

#[async_trait]
pub trait Feed: Send + Sync + 'static {
    /// The next event; `None` once the feed has ended for good.
    async fn next(&mut self) -> Option<FeedEvent>;
}

/// Where the canvas is kept and how its updates arrive.
pub struct Backend {
    pub store: Arc<dyn Store>,
    pub feed: Box<dyn Feed>,
}

/// The Redis store and feed when Redis is configured, else the embedded
/// ones, in `deployment` (what the embedded stores of one deployment's
/// canvases share). The feed subscribes at once, before the caller takes
/// its first snapshot, so nothing placed in between is missed.
pub fn open(
    config: &Config,
    deployment: &memory::Deployment,
    shutdown: &CancellationToken,
    metrics: &Arc<Metrics>,
) -> Result<Backend, StoreError> {
    let rules = config.rules();
    match &config.redis {
        None => {
            let store = memory::MemoryStore::in_deployment(
                deployment,
                config.canvas,
                rules,
                config.history_len,
            );
            let feed = store.feed();
            Ok(Backend {
                store: Arc::new(store),
                feed: Box::new(feed),
            })
        }
        Some(redis) => {
            let (store, feed) = redis::open(
                redis,
                rules,
                config.canvas,
                config.canvas_name.as_deref(),
                metrics.clone(),
                shutdown.clone(),
            )?;
            tracing::info!(prefix = %redis.key_prefix, "using the Redis store");
            Ok(Backend {
                store,
                feed: Box::new(feed),
            })
        }
    }
}
