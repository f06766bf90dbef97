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
}
