//! A template the server watches, as the store keeps it.

use serde::{Deserialize, Serialize};

/// A watched template: where it lies, its colors, who it is for, and what
/// its alerts do. Kept as JSON by the Redis store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRecord {
    pub id: u64,
    pub name: String,
    /// The handle of the player who registered it.
    pub owner: String,
    /// The faction it is for, if any (its officers may remove it).
    pub faction: Option<u64>,
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
    /// A palette index per pixel, row by row, `app::template::UNKNOWN`
    /// for none.
    pub pixels: Vec<u8>,
    pub threshold: u32,
    /// Where its alerts are posted, and the secret they are signed with.
    pub webhook: Option<Webhook>,
    /// Unix ms.
    pub created_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
}
