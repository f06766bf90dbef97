//! This instance's view of the canvas: the in-memory [`mirror::Mirror`] that
//! every read is served from (with the recent tiles, for sockets that fell
//! behind and for `Resume`), the [`sync`] task that keeps it in seq order
//! from the update feed, the [`fanout`] that sends each batch of tiles to
//! every socket as one shared frame, and the [`snapshot`]s HTTP serves.

pub mod encode;
pub mod fanout;
pub mod mirror;
pub mod snapshot;
pub mod sync;

use app::protocol::Tile;

/// One accepted placement, as the store's history gives it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    pub epoch: u64,
    pub seq: u64,
    pub tile: Tile,
}

/// Placements accepted together, with consecutive seqs: what the feed
/// carries. The Redis store takes every placement waiting on an instance in
/// one script call and publishes them as one message; the embedded store
/// sends each on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub epoch: u64,
    /// The seq of `tiles[0]`; the others follow one by one.
    pub first_seq: u64,
    pub tiles: Vec<Tile>,
    /// When they were accepted (unix ms), for the delivery-lag metric.
    pub placed_at_ms: Option<u64>,
}

impl Batch {
    /// The seq of the last tile (`first_seq - 1` for an empty batch).
    pub fn last_seq(&self) -> u64 {
        (self.first_seq + self.tiles.len() as u64).saturating_sub(1)
    }

    /// Its placements one by one.
    pub fn updates(&self) -> impl Iterator<Item = Update> + '_ {
        (self.first_seq..)
            .zip(&self.tiles)
            .map(|(seq, tile)| Update {
                epoch: self.epoch,
                seq,
                tile: *tile,
            })
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}
