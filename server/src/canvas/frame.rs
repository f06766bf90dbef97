//! A frame the fan-out hands to the sockets: encoded once per batch, shared
//! by every socket ([`super::fanout`]) and every watching socket's mailbox
//! ([`super::watchers`]). A frame of tiles groups its tiles by chunk the
//! first time a watching socket asks ([`TilesFrame::chunks`]).

use super::mirror::Version;
use app::{
    chunk::ChunkId,
    protocol::{
        encode_tiles, ServerMessage, Tile, MAX_TILES_PER_FRAME, TILES_HEADER_LEN, TILE_LEN,
    },
};
use bytes::Bytes;
use std::{
    ops::Deref,
    sync::{Arc, OnceLock},
};

/// A frame for every socket of this instance.
#[derive(Debug, Clone)]
pub enum Frame {
    Tiles(TilesFrame),
    Presence(Bytes),
    /// The moderators froze or unfroze the canvas.
    Frozen(Bytes),
    /// The mirror was reloaded: clients fetch the snapshot again.
    Resync {
        version: Version,
        bytes: Bytes,
    },
    /// The moderators enlarged the canvas (to the mirror's size).
    Resize,
    /// A chat message posted or removed (`ChatLine`, `ChatLines`,
    /// `ChatRemoved`), or a watched template's `TemplateAlert`: for every
    /// socket.
    Chat(Bytes),
    /// A message of a faction's channel (`FactionChatLine`): for the
    /// sockets of that faction's members only.
    FactionChat {
        faction: u64,
        bytes: Bytes,
    },
}

/// A `Tiles` frame with the seqs it carries: a handle, one pointer, to
/// what every socket shares (each socket's outbox and mailbox hold one
/// inline, idle ones included).
#[derive(Debug, Clone)]
pub struct TilesFrame(Arc<SharedTiles>);

#[derive(Debug)]
pub struct SharedTiles {
    pub first_seq: u64,
    pub last_seq: u64,
    pub bytes: Bytes,
    /// When its oldest tile was accepted (unix ms), for the delivery lag.
    pub placed_at_ms: Option<u64>,
    /// Its tiles grouped by chunk, made on first use.
    by_chunk: OnceLock<ChunkParts>,
}

impl Deref for TilesFrame {
    type Target = SharedTiles;

    fn deref(&self) -> &SharedTiles {
        &self.0
    }
}

/// A frame's tiles regrouped by chunk (each chunk's in seq order), so a
/// socket copies out the part of each chunk it watches.
#[derive(Debug)]
struct ChunkParts {
    /// Five bytes per tile, as in the frame, chunk after chunk.
    tiles: Vec<u8>,
    /// Each chunk's tiles in `tiles`, by chunk.
    index: Vec<(ChunkId, std::ops::Range<usize>)>,
}

impl ChunkParts {
    fn new(payload: &[u8]) -> Self {
        let mut order: Vec<(ChunkId, usize)> = payload
            .chunks_exact(TILE_LEN)
            .enumerate()
            .map(|(n, tile)| {
                let x = u16::from_le_bytes([tile[0], tile[1]]);
                let y = u16::from_le_bytes([tile[2], tile[3]]);
                (ChunkId::of(x, y), n)
            })
            .collect();
        order.sort_unstable();
        let mut parts = Self {
            tiles: Vec::with_capacity(payload.len()),
            index: Vec::new(),
        };
        for (chunk, n) in order {
            let start = parts.tiles.len();
            parts
                .tiles
                .extend_from_slice(&payload[n * TILE_LEN..(n + 1) * TILE_LEN]);
            match parts.index.last_mut() {
                Some((last, range)) if *last == chunk => range.end = parts.tiles.len(),
                _ => parts.index.push((chunk, start..parts.tiles.len())),
            }
        }
        parts
    }

    fn chunks(&self) -> impl Iterator<Item = ChunkId> + '_ {
        self.index.iter().map(|(chunk, _)| *chunk)
    }

    fn of(&self, chunk: ChunkId) -> &[u8] {
        match self.index.binary_search_by_key(&chunk, |(c, _)| *c) {
            Ok(found) => &self.tiles[self.index[found].1.clone()],
            Err(_) => &[],
        }
    }
}

impl TilesFrame {
    /// `Tiles` frames for consecutive tiles starting at `first_seq`, split at
    /// the frame's 65,535-tile limit.
    pub fn encode(
        first_seq: u64,
        tiles: &[Tile],
        placed_at_ms: Option<u64>,
    ) -> impl Iterator<Item = Self> + '_ {
        tiles
            .chunks(MAX_TILES_PER_FRAME)
            .zip((first_seq..).step_by(MAX_TILES_PER_FRAME))
            .map(move |(chunk, first)| {
                Self(Arc::new(SharedTiles {
                    bytes: encode_tiles(first, chunk),
                    first_seq: first,
                    last_seq: first + chunk.len() as u64 - 1,
                    placed_at_ms,
                    by_chunk: OnceLock::new(),
                }))
            })
    }

    fn parts(&self) -> &ChunkParts {
        self.by_chunk
            .get_or_init(|| ChunkParts::new(&self.bytes[TILES_HEADER_LEN..]))
    }

    /// The chunks its tiles are in.
    pub fn chunks(&self) -> impl Iterator<Item = ChunkId> + '_ {
        self.parts().chunks()
    }

    /// Its tiles in `chunk`, in seq order (five bytes each).
    pub(super) fn tiles_in(&self, chunk: ChunkId) -> &[u8] {
        self.parts().of(chunk)
    }

    /// The encoded tiles from `seq` on (five bytes each, no header).
    pub(super) fn payload_from(&self, seq: u64) -> &[u8] {
        let skip = seq.saturating_sub(self.first_seq) as usize;
        &self.bytes[TILES_HEADER_LEN + skip * TILE_LEN..]
    }
}

impl Frame {
    pub fn presence(online: u32) -> Self {
        Self::Presence(ServerMessage::Presence { online }.encode())
    }

    pub fn frozen(frozen: bool) -> Self {
        Self::Frozen(ServerMessage::Frozen { frozen }.encode())
    }

    pub fn resync(version: Version) -> Self {
        let Version { epoch, seq } = version;
        Self::Resync {
            version,
            bytes: ServerMessage::Resync { seq, epoch }.encode(),
        }
    }
}
