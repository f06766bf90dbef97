//! The instance's in-memory copy of the canvas. `/api/canvas`, the PNG, the
//! pixel colors of `/api/pixel` and the SSR page all read from here, so a
//! read never costs a store round trip.

use super::encode;
use crate::store::Snapshot;
use app::{
    geometry::{CanvasSize, Coord},
    protocol::Tile,
};
use bytes::Bytes;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// A canvas version: the epoch and the last seq applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub epoch: u64,
    pub seq: u64,
}

pub struct Mirror {
    size: CanvasSize,
    state: RwLock<State>,
    /// The encodings of the newest version asked for. Under steady traffic
    /// many readers ask for the same version; each encoding is made once.
    encoded: Mutex<Option<Arc<Encoded>>>,
}

struct State {
    version: Version,
    pixels: Vec<u8>,
}

/// One version of the canvas, with its encodings made on first use.
pub struct Encoded {
    pub version: Version,
    pub raw: Bytes,
    size: CanvasSize,
    gzip: OnceLock<Bytes>,
    png: OnceLock<Bytes>,
}

impl Encoded {
    pub fn gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| encode::gzip(&self.raw).into())
            .clone()
    }

    pub fn png(&self) -> Bytes {
        self.png
            .get_or_init(|| encode::png(self.size, &self.raw).into())
            .clone()
    }
}

impl Mirror {
    pub fn new(size: CanvasSize, snapshot: Snapshot) -> Self {
        let mirror = Self {
            size,
            state: RwLock::new(State {
                version: Version { epoch: 0, seq: 0 },
                pixels: Vec::new(),
            }),
            encoded: Mutex::new(None),
        };
        mirror.replace(snapshot);
        mirror
    }

    pub fn size(&self) -> CanvasSize {
        self.size
    }

    pub fn version(&self) -> Version {
        self.read().version
    }

    /// The color of one pixel and the version it was read at.
    pub fn pixel(&self, coord: Coord) -> (u8, Version) {
        let state = self.read();
        (state.pixels[coord.index], state.version)
    }

    /// Applies the next placement. The caller (the sync task) guarantees
    /// `seq` is the one after the current version's and the tile is on the
    /// canvas; a tile off the canvas is skipped rather than trusted.
    pub fn apply(&self, seq: u64, tile: Tile) {
        let mut state = self.write();
        if let Some(coord) = self.size.coord(tile.x, tile.y) {
            state.pixels[coord.index] = tile.color;
        }
        state.version.seq = seq;
    }

    /// Replaces the whole canvas, at start-up and on a reload. A snapshot of
    /// the wrong size (another canvas size configured) is fitted: cut or
    /// padded with white.
    pub fn replace(&self, snapshot: Snapshot) {
        let mut pixels = snapshot.pixels;
        pixels.resize(self.size.area(), 0);
        *self.write() = State {
            version: Version {
                epoch: snapshot.epoch,
                seq: snapshot.seq,
            },
            pixels,
        };
    }

    /// The current version with its encodings, shared with every request
    /// that asks for the same version.
    pub fn encoded(&self) -> Arc<Encoded> {
        let mut cached = self.encoded.lock().unwrap_or_else(|e| e.into_inner());
        let state = self.read();
        match &*cached {
            Some(encoded) if encoded.version == state.version => encoded.clone(),
            _ => {
                let encoded = Arc::new(Encoded {
                    version: state.version,
                    raw: Bytes::copy_from_slice(&state.pixels),
                    size: self.size,
                    gzip: OnceLock::new(),
                    png: OnceLock::new(),
                });
                *cached = Some(encoded.clone());
                encoded
            }
        }
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
