//! This instance's view of the canvas: the in-memory [`mirror::Mirror`] that
//! every read is served from (with the recent tiles, for sockets that fell
//! behind and for `Resume`), the [`sync`] task that keeps it in seq order
//! from the update feed, the [`fanout`] that sends each batch of tiles to
//! every socket as one shared frame, the [`snapshot`]s and [`chunks`] HTTP
//! serves, the [`archive`] of past canvases, the [`heat`] of the last
//! minutes, and the templates it [`watched`] for players.

pub mod archive;
pub mod chat;
pub mod chunks;
pub mod encode;
pub mod fanout;
pub mod frame;
pub mod heat;
pub mod mirror;
pub mod snapshot;
pub mod sync;
pub mod watched;
pub mod watchers;
