//! A large canvas in fixed chunks of [`CHUNK_SIDE`] × [`CHUNK_SIDE`]
//! pixels: the unit in which a world-size canvas is stored, served and
//! watched. Chunk (cx, cy) covers the pixels x in `cx·256 … cx·256+255`
//! and y likewise; the chunks on the right and bottom edges are cut to the
//! canvas. Each chunk is a small canvas of its own: its pixels are indexed
//! `y · width + x` within it, and its placements carry seqs of its own
//! (`crate::chunk_sync`), so no key or counter is shared between chunks.

use crate::geometry::CanvasSize;
use serde::{Deserialize, Serialize};

/// A chunk's side, in pixels.
pub const CHUNK_SIDE: u16 = 256;

/// One chunk, by its column and row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChunkId {
    pub cx: u16,
    pub cy: u16,
}

impl ChunkId {
    /// The chunk holding pixel (x, y).
    pub fn of(x: u16, y: u16) -> Self {
        Self {
            cx: x / CHUNK_SIDE,
            cy: y / CHUNK_SIDE,
        }
    }

    /// Its top-left pixel on the canvas.
    pub fn origin(self) -> (u32, u32) {
        (
            u32::from(self.cx) * u32::from(CHUNK_SIDE),
            u32::from(self.cy) * u32::from(CHUNK_SIDE),
        )
    }

    /// Its size on `canvas` (edge chunks are cut), or `None` if it lies
    /// off the canvas.
    pub fn size_on(self, canvas: CanvasSize) -> Option<CanvasSize> {
        let (x0, y0) = self.origin();
        let side = |start: u32, extent: u16| {
            let left = u32::from(extent).checked_sub(start).filter(|&l| l > 0)?;
            Some(left.min(u32::from(CHUNK_SIDE)) as u16)
        };
        Some(CanvasSize {
            width: side(x0, canvas.width)?,
            height: side(y0, canvas.height)?,
        })
    }

    /// Where pixel (x, y) of the canvas lies in this chunk's own pixels
    /// (which it must hold: see [`ChunkId::of`]), given the chunk's size.
    pub fn index_of(self, x: u16, y: u16, size: CanvasSize) -> usize {
        let (x0, y0) = self.origin();
        let (dx, dy) = (u32::from(x) - x0, u32::from(y) - y0);
        dy as usize * usize::from(size.width) + dx as usize
    }
}

/// How many chunks a canvas has across and down.
pub fn grid(canvas: CanvasSize) -> (u16, u16) {
    let count = |extent: u16| extent.div_ceil(CHUNK_SIDE);
    (count(canvas.width), count(canvas.height))
}

/// The chunks that pixels `x0..x1` × `y0..y1` (half-open, clamped to the
/// canvas) touch, row by row: what a view of that area watches.
pub fn covering(canvas: CanvasSize, x0: u32, y0: u32, x1: u32, y1: u32) -> Vec<ChunkId> {
    let (columns, rows) = grid(canvas);
    let span = |start: u32, end: u32, extent: u16, count: u16| {
        let end = end.min(u32::from(extent));
        if start >= end {
            return 0..0;
        }
        let side = u32::from(CHUNK_SIDE);
        (start / side) as u16..((end - 1) / side + 1).min(u32::from(count)) as u16
    };
    let xs = span(x0, x1, canvas.width, columns);
    span(y0, y1, canvas.height, rows)
        .flat_map(|cy| xs.clone().map(move |cx| ChunkId { cx, cy }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canvas() -> impl Strategy<Value = CanvasSize> {
        (1u16..1200, 1u16..1200).prop_map(|(width, height)| CanvasSize { width, height })
    }

    proptest! {
        /// Every pixel of the canvas lies in exactly one chunk, at one
        /// index of that chunk's pixels, and no two pixels share one.
        #[test]
        fn each_pixel_has_one_place_in_one_chunk(canvas in canvas(), x in any::<u16>(), y in any::<u16>()) {
            let (x, y) = (x % canvas.width, y % canvas.height);
            let chunk = ChunkId::of(x, y);
            let size = chunk.size_on(canvas).expect("its chunk is on the canvas");
            let index = chunk.index_of(x, y, size);
            prop_assert!(index < size.area());
            let (x0, y0) = chunk.origin();
            let back = (x0 + (index % usize::from(size.width)) as u32, y0 + (index / usize::from(size.width)) as u32);
            prop_assert_eq!(back, (u32::from(x), u32::from(y)));
            let (columns, rows) = grid(canvas);
            prop_assert!(chunk.cx < columns && chunk.cy < rows);
        }

        /// The chunks covering an area are exactly those holding one of
        /// its pixels.
        #[test]
        fn the_chunks_covering_an_area_are_those_its_pixels_lie_in(
            canvas in canvas(), x0 in 0u32..1300, y0 in 0u32..1300, w in 0u32..700, h in 0u32..700,
        ) {
            let covered = covering(canvas, x0, y0, x0 + w, y0 + h);
            // A chunk is touched when its pixels and the area's (within
            // the canvas) overlap on both axes.
            let overlaps = |start: u32, extent: u16, from: u32, to: u32| {
                let end = (start + u32::from(CHUNK_SIDE)).min(u32::from(extent));
                from.max(start) < to.min(end)
            };
            let (columns, rows) = grid(canvas);
            let expected: Vec<ChunkId> = (0..rows)
                .flat_map(|cy| (0..columns).map(move |cx| ChunkId { cx, cy }))
                .filter(|chunk| {
                    let (cx0, cy0) = chunk.origin();
                    overlaps(cx0, canvas.width, x0, x0 + w) && overlaps(cy0, canvas.height, y0, y0 + h)
                })
                .collect();
            prop_assert_eq!(covered, expected);
        }
    }

    #[test]
    fn the_largest_canvas_has_256_by_256_chunks_cut_at_the_edge() {
        let world = CanvasSize {
            width: u16::MAX,
            height: u16::MAX,
        };
        assert_eq!(grid(world), (256, 256));
        let corner = ChunkId { cx: 255, cy: 255 };
        assert_eq!(
            corner.size_on(world),
            Some(CanvasSize {
                width: 255,
                height: 255
            })
        );
        assert_eq!(ChunkId { cx: 256, cy: 0 }.size_on(world), None);
        assert_eq!(
            covering(world, 300, 300, 812, 812),
            [
                (1, 1),
                (2, 1),
                (3, 1),
                (1, 2),
                (2, 2),
                (3, 2),
                (1, 3),
                (2, 3),
                (3, 3)
            ]
            .map(|(cx, cy)| ChunkId { cx, cy })
        );
    }
}
