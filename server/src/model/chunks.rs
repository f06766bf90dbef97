//! A canvas's pixels by chunk (`app::chunk`): only the chunks ever painted
//! take memory, so a 65,535 × 65,535 canvas starts at nothing. The embedded
//! store, the snapshots both stores give and the instance's mirror all
//! keep their pixels this way.

use app::{
    chunk::{index_in_chunk, ChunkId, CHUNK_AREA, CHUNK_SIDE},
    geometry::CanvasSize,
    protocol::Tile,
};
use std::collections::BTreeMap;

/// One painted chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The seq of the last placement in it this epoch; 0 when its pixels
    /// all come from before the epoch began.
    pub version: u64,
    /// [`CHUNK_AREA`] palette indices, row by row.
    pub pixels: Box<[u8]>,
}

impl Chunk {
    pub fn blank() -> Self {
        Self {
            version: 0,
            pixels: vec![0; CHUNK_AREA].into_boxed_slice(),
        }
    }
}

/// The painted chunks of a canvas. A chunk not here is white (palette
/// index 0) and at version 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunks(BTreeMap<ChunkId, Chunk>);

impl Chunks {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, id: ChunkId) -> Option<&Chunk> {
        self.0.get(&id)
    }

    pub fn insert(&mut self, id: ChunkId, chunk: Chunk) {
        self.0.insert(id, chunk);
    }

    pub fn iter(&self) -> impl Iterator<Item = (ChunkId, &Chunk)> {
        self.0.iter().map(|(id, chunk)| (*id, chunk))
    }

    /// How many chunks were painted.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The palette index of pixel (x, y).
    pub fn pixel(&self, x: u16, y: u16) -> u8 {
        self.get(ChunkId::of(x, y))
            .map_or(0, |chunk| chunk.pixels[index_in_chunk(x, y)])
    }

    /// Writes one placement, the one with `seq`.
    pub fn set(&mut self, tile: Tile, seq: u64) {
        let chunk = self
            .0
            .entry(ChunkId::of(tile.x, tile.y))
            .or_insert_with(Chunk::blank);
        chunk.pixels[index_in_chunk(tile.x, tile.y)] = tile.color;
        chunk.version = seq;
    }

    /// The version of a chunk: the seq of its last placement.
    pub fn version(&self, id: ChunkId) -> u64 {
        self.get(id).map_or(0, |chunk| chunk.version)
    }

    /// A new epoch began: the pixels stay, the seqs start over.
    pub fn forget_versions(&mut self) {
        for chunk in self.0.values_mut() {
            chunk.version = 0;
        }
    }

    /// The whole canvas as `size.area()` palette indices, row by row: for
    /// the encodings of a canvas small enough to send whole.
    pub fn to_dense(&self, size: CanvasSize) -> Vec<u8> {
        let width = usize::from(size.width);
        let mut pixels = vec![0; size.area()];
        let side = usize::from(CHUNK_SIDE);
        for (id, chunk) in self.iter() {
            let (x0, y0) = id.origin();
            let (x0, y0) = (x0 as usize, y0 as usize);
            if x0 >= width {
                continue;
            }
            let run = side.min(width - x0);
            for row in 0..side {
                let y = y0 + row;
                if y >= usize::from(size.height) {
                    break;
                }
                let to = y * width + x0;
                pixels[to..to + run].copy_from_slice(&chunk.pixels[row * side..row * side + run]);
            }
        }
        pixels
    }

    /// The canvas shrunk by `scale` (a pixel of it every `scale` pixels
    /// across and down, the top-left one of its square): its size and
    /// palette indices, row by row. Only painted chunks are read, so a
    /// world canvas painted thinly costs little.
    pub fn downscaled(&self, size: CanvasSize, scale: u16) -> (CanvasSize, Vec<u8>) {
        let scale = u32::from(scale.max(1));
        let shrunk = |extent: u16| (u32::from(extent).div_ceil(scale)) as u16;
        let small = CanvasSize {
            width: shrunk(size.width),
            height: shrunk(size.height),
        };
        let mut pixels = vec![0; small.area()];
        let side = u32::from(CHUNK_SIDE);
        for (id, chunk) in self.iter() {
            let (x0, y0) = id.origin();
            // The sample points (multiples of `scale`) inside this chunk.
            let samples = |start: u32, extent: u16| {
                let end = (start + side).min(u32::from(extent));
                start.div_ceil(scale)..end.div_ceil(scale)
            };
            for sy in samples(y0, size.height) {
                let row = (sy * scale - y0) as usize * usize::from(CHUNK_SIDE);
                for sx in samples(x0, size.width) {
                    let index = sy as usize * usize::from(small.width) + sx as usize;
                    pixels[index] = chunk.pixels[row + (sx * scale - x0) as usize];
                }
            }
        }
        (small, pixels)
    }

    /// The chunks of a whole canvas given row by row (`size.area()`
    /// palette indices): every chunk with a pixel that is not white, at
    /// `version`.
    pub fn from_dense(size: CanvasSize, pixels: &[u8], version: u64) -> Self {
        let width = usize::from(size.width);
        let mut chunks = Self::new();
        for (index, &color) in pixels.iter().enumerate().take(size.area()) {
            if color != 0 {
                let (x, y) = ((index % width) as u16, (index / width) as u16);
                chunks.set(Tile { x, y, color }, version);
            }
        }
        chunks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A canvas written pixel by pixel reads back the same through its
        /// chunks, whole or one pixel at a time, and only painted chunks
        /// are kept.
        #[test]
        fn chunks_hold_the_pixels_written(
            width in 1u16..700, height in 1u16..600,
            writes in proptest::collection::vec((any::<u16>(), any::<u16>(), 1u8..32), 0..50),
        ) {
            let size = CanvasSize { width, height };
            let mut dense = vec![0; size.area()];
            let mut chunks = Chunks::new();
            for (seq, (x, y, color)) in (1..).zip(writes) {
                let (x, y) = (x % width, y % height);
                dense[usize::from(y) * usize::from(width) + usize::from(x)] = color;
                chunks.set(Tile { x, y, color }, seq);
                prop_assert_eq!(chunks.pixel(x, y), color);
                prop_assert_eq!(chunks.version(ChunkId::of(x, y)), seq);
            }
            prop_assert_eq!(&chunks.to_dense(size), &dense);
            let back = Chunks::from_dense(size, &dense, 0);
            prop_assert_eq!(&back.to_dense(size), &dense);
            prop_assert!(back.len() <= chunks.len());
            // Shrunk by any scale: the top-left pixel of each square.
            for scale in [1u16, 3, 256, 300] {
                let (small, shrunk) = chunks.downscaled(size, scale);
                let s = usize::from(scale);
                let expected: Vec<u8> = (0..usize::from(small.height))
                    .flat_map(|y| (0..usize::from(small.width)).map(move |x| (x, y)))
                    .map(|(x, y)| dense[y * s * usize::from(width) + x * s])
                    .collect();
                prop_assert_eq!(shrunk, expected, "scale {}", scale);
            }
        }
    }
}
