//! The instance's in-memory copy of the canvas, by chunk (only the painted
//! ones take memory). `/api/canvas`, the PNG (both through
//! [`super::snapshot`]), the chunks of `/api/chunks`, the pixel colors of
//! `/api/pixel` and the SSR page all read from here, so a read never costs
//! a store round trip. It also keeps the most recent tiles,
//! so a socket that fell behind the fan-out, or a client that resumes after a
//! short disconnection, is caught up from memory rather than from the store.

use crate::{
    backend::{CanvasStore, History, StoreError},
    model::{Chunks, Snapshot},
};
use app::{
    chunk::ChunkId,
    geometry::{CanvasSize, Coord},
    protocol::Tile,
};
use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU32, Ordering},
        RwLock,
    },
};

/// The version the mirror is at: the shared crate's, which the wire
/// announces and the clients hold.
pub use app::protocol::Version;

pub struct Mirror {
    /// The canvas's size, `width << 16 | height`: read by every placement,
    /// changed only when moderators enlarge the canvas.
    size: AtomicU32,
    state: RwLock<State>,
}

struct State {
    version: Version,
    chunks: Chunks,
    recent: RecentTiles,
}

/// One chunk as the mirror has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkCopy {
    /// The canvas's version it was read at: the copy holds every placement
    /// up to its seq.
    pub at: Version,
    /// The chunk's own version: the seq of its last placement.
    pub version: u64,
    /// Its pixels, `None` if it was never painted (all white).
    pub pixels: Option<Box<[u8]>>,
}

/// A painted chunk as [`Mirror::painted_chunks`] lists it.
pub struct PaintedChunk {
    pub chunk: ChunkId,
    /// The seq of its last placement.
    pub version: u64,
    /// Its pixels, if asked for.
    pub pixels: Option<Box<[u8]>>,
}

/// The last tiles applied, oldest first, ending at the mirror's seq.
struct RecentTiles {
    tiles: VecDeque<Tile>,
    capacity: usize,
}

/// What the mirror can tell a client that has every tile up to some seq.
#[derive(Debug, PartialEq, Eq)]
pub enum Since {
    /// It has everything.
    Current,
    /// The tiles it misses: consecutive seqs from `first_seq` to the
    /// mirror's newest.
    Tiles { first_seq: u64, tiles: Vec<Tile> },
    /// The mirror no longer holds them all, or the epoch differs: only a
    /// snapshot brings the client up to date.
    Gone,
}

impl Mirror {
    /// A mirror of `snapshot` that remembers the last `recent` tiles applied.
    pub fn new(size: CanvasSize, snapshot: Snapshot, recent: usize) -> Self {
        let mirror = Self {
            size: AtomicU32::new(pack(size)),
            state: RwLock::new(State {
                version: Version { epoch: 0, seq: 0 },
                chunks: Chunks::new(),
                recent: RecentTiles {
                    tiles: VecDeque::with_capacity(recent),
                    capacity: recent,
                },
            }),
        };
        mirror.replace(snapshot);
        mirror
    }

    pub fn size(&self) -> CanvasSize {
        let packed = self.size.load(Ordering::Relaxed);
        CanvasSize {
            width: (packed >> 16) as u16,
            height: packed as u16,
        }
    }

    /// Enlarges the canvas to at least `size` on each side; whether it
    /// grew.
    pub fn grow(&self, size: CanvasSize) -> bool {
        let current = self.size();
        let grown = CanvasSize {
            width: current.width.max(size.width),
            height: current.height.max(size.height),
        };
        self.size.store(pack(grown), Ordering::Relaxed);
        grown != current
    }

    pub fn version(&self) -> Version {
        self.read().version
    }

    /// The color of one pixel and the version it was read at.
    pub fn pixel(&self, coord: Coord) -> (u8, Version) {
        let state = self.read();
        (state.chunks.pixel(coord.x, coord.y), state.version)
    }

    /// The colors of a `width × height` rectangle's pixels from (x, y),
    /// row by row (`None` off the canvas), read at one version.
    pub fn area(&self, x: u16, y: u16, width: u16, height: u16) -> (Version, Vec<Option<u8>>) {
        let size = self.size();
        let state = self.read();
        let mut colors = Vec::with_capacity(usize::from(width) * usize::from(height));
        for dy in 0..height {
            for dx in 0..width {
                let (px, py) = (x.checked_add(dx), y.checked_add(dy));
                let on = px.zip(py).and_then(|(px, py)| size.coord(px, py));
                colors.push(on.map(|c| state.chunks.pixel(c.x, c.y)));
            }
        }
        (state.version, colors)
    }

    /// A chunk's version (the seq of its last placement) now.
    pub fn chunk_version(&self, chunk: ChunkId) -> u64 {
        self.read().chunks.version(chunk)
    }

    /// One chunk's pixels and versions.
    pub fn chunk(&self, chunk: ChunkId) -> ChunkCopy {
        let state = self.read();
        let painted = state.chunks.get(chunk);
        ChunkCopy {
            at: state.version,
            version: painted.map_or(0, |c| c.version),
            pixels: painted.map(|c| c.pixels.clone()),
        }
    }

    /// The canvas shrunk to at most `max_side` pixels on its longer side
    /// (see [`Chunks::downscaled`]): its scale, size and pixels.
    pub fn preview(&self, max_side: u16) -> (u16, CanvasSize, Vec<u8>) {
        let size = self.size();
        let longer = size.width.max(size.height);
        let scale = longer.div_ceil(max_side.max(1)).max(1);
        let (small, pixels) = self.read().chunks.downscaled(size, scale);
        (scale, small, pixels)
    }

    /// Applies the placements that follow the current version: `tiles[0]`
    /// has the seq after the current one. The caller (the sync task) keeps
    /// that order; a tile off the canvas is skipped rather than trusted.
    pub fn apply(&self, tiles: &[Tile]) {
        let mut state = self.write();
        let State {
            version,
            chunks,
            recent,
        } = &mut *state;
        for tile in tiles {
            version.seq += 1;
            if self.size().coord(tile.x, tile.y).is_some() {
                chunks.set(*tile, version.seq);
            }
            recent.push(*tile);
        }
    }

    /// Replaces the whole canvas, at start-up and on a reload. (Chunks of
    /// a snapshot that lie off the canvas, if a smaller size is configured
    /// than the one it was painted at, are kept and never shown.) The
    /// recent tiles are forgotten: they may no longer lead to this version.
    pub fn replace(&self, snapshot: Snapshot) {
        if let Some(size) = snapshot.size {
            self.grow(size);
        }
        let mut state = self.write();
        state.version = Version {
            epoch: snapshot.epoch,
            seq: snapshot.seq,
        };
        state.chunks = snapshot.chunks;
        state.recent.tiles.clear();
    }

    /// Remembers `tiles` as the ones that led to `version`, the last of
    /// them carrying its seq: how a mirror just loaded from a snapshot
    /// gets its memory of recent tiles back (see [`warm`]). Ignored unless
    /// the mirror is still at `version` with no tiles remembered.
    pub fn recall(&self, version: Version, tiles: &[Tile]) {
        let mut state = self.write();
        if state.version != version || !state.recent.tiles.is_empty() {
            return;
        }
        let keep = tiles.len().min(state.recent.capacity);
        state
            .recent
            .tiles
            .extend(tiles[tiles.len() - keep..].iter().copied());
    }

    /// The tiles a client misses that has applied every tile up to
    /// `last_seq` of `epoch`.
    pub fn since(&self, epoch: u64, last_seq: u64) -> Since {
        let state = self.read();
        let Version {
            epoch: current,
            seq,
        } = state.version;
        if epoch != current || last_seq > seq {
            return Since::Gone;
        }
        if last_seq == seq {
            return Since::Current;
        }
        let missing = (seq - last_seq) as usize;
        let recent = &state.recent.tiles;
        if missing > recent.len() {
            return Since::Gone;
        }
        Since::Tiles {
            first_seq: last_seq + 1,
            tiles: recent.range(recent.len() - missing..).copied().collect(),
        }
    }

    /// The whole canvas with its version, row by row (for a canvas small
    /// enough to be sent whole: see `canvas::WHOLE_CANVAS_MAX_AREA`).
    pub fn copy(&self) -> (Version, Vec<u8>) {
        let state = self.read();
        (state.version, state.chunks.to_dense(self.size()))
    }

    /// Every painted chunk with its version, and the pixels of those for
    /// which `changed` holds, all read at one version: what the archive of
    /// a canvas served by chunk takes.
    pub fn painted_chunks(
        &self,
        changed: impl Fn(ChunkId, u64) -> bool,
    ) -> (Version, Vec<PaintedChunk>) {
        let state = self.read();
        let chunks = state
            .chunks
            .iter()
            .map(|(id, chunk)| PaintedChunk {
                chunk: id,
                version: chunk.version,
                pixels: changed(id, chunk.version).then(|| chunk.pixels.clone()),
            })
            .collect();
        (state.version, chunks)
    }

    // The state is replaced whole or changed one byte at a time, so a panic
    // elsewhere cannot leave it torn: poisoning is ignored.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Placements read from the store's history per call while warming.
const WARM_PAGE: usize = 10_000;

/// Gives a mirror just loaded from a snapshot its memory of recent tiles
/// from the store's history (as many as it remembers, or as far back as
/// the history reaches), so a `Resume` from a client of an instance that
/// just started or reloaded is answered from memory rather than from the
/// store: else every client of a restarted instance would read the store.
pub async fn warm(mirror: &Mirror, store: &dyn CanvasStore) -> Result<usize, StoreError> {
    let version = mirror.version();
    let capacity = mirror.read().recent.capacity as u64;
    let from = version.seq.saturating_sub(capacity);
    let mut tiles = Vec::new();
    let mut after = from;
    while after < version.seq {
        let page = match store.history(version.epoch, after, WARM_PAGE).await? {
            History::Placements(page) if !page.is_empty() => page,
            // Trimmed further back than memory holds: start where it does.
            History::Trimmed if tiles.is_empty() => {
                after += WARM_PAGE as u64;
                continue;
            }
            _ => break,
        };
        let wanted = (version.seq - after) as usize;
        tiles.extend(page.iter().take(wanted).map(|u| u.tile));
        after += page.len().min(wanted) as u64;
    }
    if after != version.seq {
        return Ok(0);
    }
    mirror.recall(version, &tiles);
    Ok(tiles.len())
}

fn pack(size: CanvasSize) -> u32 {
    (u32::from(size.width) << 16) | u32::from(size.height)
}

impl RecentTiles {
    fn push(&mut self, tile: Tile) {
        if self.capacity == 0 {
            return;
        }
        if self.tiles.len() == self.capacity {
            self.tiles.pop_front();
        }
        self.tiles.push_back(tile);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(n: u16) -> Tile {
        Tile {
            x: n % 4,
            y: n / 4,
            color: (n % 32) as u8,
        }
    }

    fn mirror(recent: usize) -> Mirror {
        let size = CanvasSize {
            width: 4,
            height: 4,
        };
        let snapshot = Snapshot {
            epoch: 7,
            seq: 10,
            size: None,
            chunks: Chunks::new(),
        };
        Mirror::new(size, snapshot, recent)
    }

    #[test]
    fn applies_in_order_and_remembers_the_recent_tiles() {
        let mirror = mirror(3);
        mirror.apply(&[tile(1), tile(2)]);
        mirror.apply(&[tile(3), tile(4)]);
        assert_eq!(mirror.version(), Version { epoch: 7, seq: 14 });
        assert_eq!(mirror.since(7, 14), Since::Current);
        assert_eq!(
            mirror.since(7, 12),
            Since::Tiles {
                first_seq: 13,
                tiles: vec![tile(3), tile(4)]
            }
        );
        // Only three are kept: seq 11 is gone.
        assert_eq!(
            mirror.since(7, 11),
            Since::Tiles {
                first_seq: 12,
                tiles: vec![tile(2), tile(3), tile(4)]
            }
        );
        assert_eq!(mirror.since(7, 10), Since::Gone);
        // Another epoch, or a client ahead of the mirror, cannot be bridged.
        assert_eq!(mirror.since(8, 14), Since::Gone);
        assert_eq!(mirror.since(7, 15), Since::Gone);
        let (color, _) = mirror.pixel(
            CanvasSize {
                width: 4,
                height: 4,
            }
            .coord(0, 1)
            .unwrap(),
        );
        assert_eq!(color, tile(4).color);
        let chunk = mirror.chunk(ChunkId { cx: 0, cy: 0 });
        assert_eq!((chunk.at.seq, chunk.version), (14, 14));
        assert_eq!(
            chunk.pixels.unwrap()[256],
            tile(4).color,
            "(0, 1) in the chunk's rows"
        );
        assert_eq!(mirror.chunk(ChunkId { cx: 1, cy: 0 }).pixels, None);
    }

    #[test]
    fn a_reload_forgets_the_recent_tiles() {
        let mirror = mirror(8);
        mirror.apply(&[tile(1)]);
        mirror.replace(Snapshot {
            epoch: 7,
            seq: 11,
            size: None,
            chunks: Chunks::new(),
        });
        assert_eq!(mirror.since(7, 10), Since::Gone);
        assert_eq!(mirror.since(7, 11), Since::Current);
    }

    #[tokio::test]
    async fn a_mirror_loaded_from_a_snapshot_recalls_the_recent_tiles_from_history() {
        use crate::{
            backend::{memory::MemoryStore, PlacementStore},
            model::{ChallengeMode, ClientAddress, Placement, Placing, Rules, SessionId},
        };
        use app::palette::ColorIndex;
        let size = CanvasSize {
            width: 4,
            height: 4,
        };
        let rules = Rules {
            cooldown: std::time::Duration::ZERO,
            charges: 1,
            undo: std::time::Duration::ZERO,
            per_address: 0,
            challenge: ChallengeMode::Off,
        };
        let store = MemoryStore::new(size, rules, 100);
        let session = SessionId::generate();
        for n in 0..12u8 {
            let placement = Placement {
                placing: Placing::Tile {
                    coord: size.coord(u16::from(n % 4), 0).unwrap(),
                    color: ColorIndex::parse(n).unwrap(),
                },
                session: session.clone(),
                address: ClientAddress::of("192.0.2.1".parse().unwrap()),
                at: std::time::SystemTime::now(),
            };
            store.place(placement).await.unwrap();
        }
        let snapshot = store.snapshot().await.unwrap();
        let epoch = snapshot.epoch;
        let mirror = Mirror::new(size, snapshot, 8);
        assert_eq!(
            mirror.since(epoch, 9),
            Since::Gone,
            "nothing remembered yet"
        );
        assert_eq!(warm(&mirror, &store).await.unwrap(), 8);
        let Since::Tiles { first_seq, tiles } = mirror.since(epoch, 4) else {
            panic!("the last eight are remembered");
        };
        assert_eq!((first_seq, tiles.len()), (5, 8));
        assert_eq!(tiles[7].color, 11, "the newest last");
        assert_eq!(mirror.since(epoch, 3), Since::Gone, "no more than it keeps");
    }
}
