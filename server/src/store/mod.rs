//! Where the canvas lives. A [`Store`] owns the pixels, the global seq, the
//! placement history and the cooldowns, and performs each placement as one
//! atomic step. [`memory::MemoryStore`] is the embedded default;
//! [`redis::RedisStore`] shares one canvas between instances.

pub mod memory;
pub mod redis;

use crate::{
    canvas::Update,
    limits::ClientAddress,
    session::{DisplayName, SessionId},
};
use app::{geometry::Coord, palette::ColorIndex};
use async_trait::async_trait;
use std::time::{Duration, SystemTime};
use thiserror::Error;

/// A placement that passed validation: coordinates and color are in range.
#[derive(Debug, Clone)]
pub struct Placement {
    pub coord: Coord,
    pub color: ColorIndex,
    /// Whose cooldown applies; the session's display name (if any) is
    /// recorded as `placed_by`.
    pub session: SessionId,
    /// Whose per-address budget it counts against.
    pub address: ClientAddress,
    pub at: SystemTime,
}

/// What limits placements, checked inside the atomic step.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The wait between two placements of one session; zero: none.
    pub cooldown: Duration,
    /// Placements one client address (all its sessions together) may make
    /// per [`Rules::window`]; 0: no limit.
    pub per_address: u32,
}

impl Rules {
    /// The window of the per-address budget: the cooldown, or a second when
    /// there is none.
    pub fn window(&self) -> Duration {
        if self.cooldown.is_zero() {
            Duration::from_secs(1)
        } else {
            self.cooldown
        }
    }
}

/// What became of a placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceOutcome {
    Accepted {
        seq: u64,
    },
    /// The session placed less than a cooldown ago, or its address used
    /// up its budget for the window.
    Cooldown {
        retry_after: Duration,
    },
}

/// Who set a pixel last, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PixelRecord {
    pub placed_by: Option<String>,
    pub placed_at: SystemTime,
    pub seq: u64,
}

/// The whole canvas at one seq.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub epoch: u64,
    pub seq: u64,
    /// `width*height` palette indices, row-major.
    pub pixels: Vec<u8>,
}

/// The window over which fresh sessions per client address are counted.
pub const NEW_SESSION_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// The store cannot be reached or did not answer in time.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks the cooldown, writes the pixel, records who and when, takes the
    /// next seq, appends to the history and publishes to the feed: all or
    /// nothing.
    async fn place(&self, placement: Placement) -> Result<PlaceOutcome, StoreError>;

    /// The whole canvas with the seq and epoch it is current to.
    async fn snapshot(&self) -> Result<Snapshot, StoreError>;

    /// Up to `limit` placements after `after_seq` in `epoch`, oldest first.
    /// `None` when the history no longer reaches back that far, or the epoch
    /// is not the current one: the caller must reload the snapshot.
    async fn history(
        &self,
        epoch: u64,
        after_seq: u64,
        limit: usize,
    ) -> Result<Option<Vec<Update>>, StoreError>;

    /// Replaces the epoch `stale` with a new one (unless another instance
    /// already did): called when the history no longer holds placements this
    /// instance applied, which happens when a failover promoted a replica
    /// that had not received them. Clients then reload instead of trusting
    /// seqs that now name other tiles.
    async fn start_new_epoch(&self, stale: u64) -> Result<(), StoreError>;

    /// The last placement on a pixel, if any.
    async fn pixel(&self, coord: Coord) -> Result<Option<PixelRecord>, StoreError>;

    /// Succeeds while the store can take placements.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Counts a session minted for a client address; false once `limit`
    /// (0: no limit) were minted for it within [`NEW_SESSION_WINDOW`], so
    /// dropping the cookie cannot dodge the cooldown for long.
    async fn admit_new_session(
        &self,
        address: ClientAddress,
        limit: u32,
    ) -> Result<bool, StoreError>;

    /// The secret every instance signs sessions with: `candidate` if none
    /// was set yet, else the one set first.
    async fn shared_secret(&self, candidate: &str) -> Result<String, StoreError>;

    /// The display name a session chose, if any.
    async fn display_name(&self, session: &SessionId) -> Result<Option<String>, StoreError>;

    async fn set_display_name(
        &self,
        session: &SessionId,
        name: &DisplayName,
    ) -> Result<(), StoreError>;

    /// Records that the session was just seen, keeping it for another
    /// [`crate::session::SESSION_TTL`].
    async fn touch_session(&self, session: &SessionId) -> Result<(), StoreError>;

    /// Records that `instance` has `online` open sockets, for `ttl` unless
    /// renewed, and returns the users online across every instance.
    async fn report_online(
        &self,
        instance: &str,
        online: u32,
        ttl: Duration,
    ) -> Result<u32, StoreError>;
}
