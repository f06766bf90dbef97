//! This instance's view of the canvas: the in-memory [`mirror::Mirror`] that
//! every read is served from, the [`sync`] task that keeps it in seq order
//! from the update feed, and the [`fanout`] that sends each batch of tiles to
//! every socket as one shared frame.

pub mod encode;
pub mod fanout;
pub mod mirror;
pub mod sync;

use app::protocol::Tile;

/// One accepted placement, as the store records it and the feed carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    pub epoch: u64,
    pub seq: u64,
    pub tile: Tile,
    /// When it was accepted (unix ms), for the delivery-lag metric; unknown
    /// for placements read back from history.
    pub placed_at_ms: Option<u64>,
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}
