//! A large canvas in fixed chunks of [`CHUNK_SIDE`] × [`CHUNK_SIDE`]
//! pixels: the unit in which a canvas is stored, served and watched.
//! Chunk (cx, cy) covers the pixels x in `cx·256 … cx·256+255` and y
//! likewise. Every chunk holds all [`CHUNK_AREA`] pixels, row by row, even
//! on the right and bottom edges where part of it lies off the canvas (that
//! part stays white): a chunk's layout never depends on the canvas's size,
//! so a canvas grows without a chunk being rewritten.

use crate::geometry::CanvasSize;
use serde::{Deserialize, Serialize};

/// A chunk's side, in pixels.
pub const CHUNK_SIDE: u16 = 256;
/// A chunk's pixels (and the bytes of its snapshot).
pub const CHUNK_AREA: usize = CHUNK_SIDE as usize * CHUNK_SIDE as usize;

/// The largest canvas (in pixels) sent whole: its snapshot by
/// `/api/canvas` and every tile to every socket, as before chunks. Larger
/// canvases are only watched by chunk (4 MiB of snapshot; a 2048 × 2048
/// canvas is at the limit).
pub const WHOLE_CANVAS_MAX_AREA: usize = 2048 * 2048;

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

    /// Whether any of its pixels lies on `canvas`.
    pub fn is_on(self, canvas: CanvasSize) -> bool {
        let (columns, rows) = grid(canvas);
        self.cx < columns && self.cy < rows
    }
}

/// Where pixel (x, y) of the canvas lies among its chunk's pixels.
pub fn index_in_chunk(x: u16, y: u16) -> usize {
    usize::from(y % CHUNK_SIDE) * usize::from(CHUNK_SIDE) + usize::from(x % CHUNK_SIDE)
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

/// The chunks a view of the canvas area `x0..x1` × `y0..y1` (canvas
/// pixels, fractional, clamped to the canvas) watches: those it touches,
/// or when they are more than a `Watch` may name (a view far out), the
/// `limit` nearest its centre.
pub fn in_view(
    canvas: CanvasSize,
    (x0, y0, x1, y1): (f64, f64, f64, f64),
    limit: usize,
) -> Vec<ChunkId> {
    let (width, height) = (f64::from(canvas.width), f64::from(canvas.height));
    let (x0, x1) = (x0.clamp(0.0, width), x1.clamp(0.0, width));
    let (y0, y1) = (y0.clamp(0.0, height), y1.clamp(0.0, height));
    let mut chunks = covering(
        canvas,
        x0.floor() as u32,
        y0.floor() as u32,
        x1.ceil() as u32,
        y1.ceil() as u32,
    );
    if chunks.len() > limit {
        let side = f64::from(CHUNK_SIDE);
        let (cx, cy) = ((x0 + x1) / 2.0 / side - 0.5, (y0 + y1) / 2.0 / side - 0.5);
        let distance =
            |c: &ChunkId| (f64::from(c.cx) - cx).powi(2) + (f64::from(c.cy) - cy).powi(2);
        chunks.sort_by(|a, b| distance(a).total_cmp(&distance(b)));
        chunks.truncate(limit);
    }
    chunks
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
            prop_assert!(chunk.is_on(canvas));
            let index = index_in_chunk(x, y);
            prop_assert!(index < CHUNK_AREA);
            let (x0, y0) = chunk.origin();
            let side = usize::from(CHUNK_SIDE);
            let back = (x0 + (index % side) as u32, y0 + (index / side) as u32);
            prop_assert_eq!(back, (u32::from(x), u32::from(y)));
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
    fn a_view_far_out_watches_the_chunks_nearest_its_centre() {
        let world = CanvasSize {
            width: 4096,
            height: 4096,
        };
        let near = in_view(world, (300.0, 300.0, 812.5, 700.0), 64);
        assert_eq!(near.len(), 3 * 2, "x chunks 1..=3, y chunks 1..=2");
        let far = in_view(world, (-100.0, -100.0, 5000.0, 5000.0), 4);
        let mut far = far;
        far.sort();
        assert_eq!(
            far,
            [(7, 7), (7, 8), (8, 7), (8, 8)].map(|(cx, cy)| ChunkId { cx, cy })
        );
    }

    #[test]
    fn the_largest_canvas_has_256_by_256_chunks() {
        let world = CanvasSize {
            width: u16::MAX,
            height: u16::MAX,
        };
        assert_eq!(grid(world), (256, 256));
        assert!(ChunkId { cx: 255, cy: 255 }.is_on(world));
        assert!(!ChunkId { cx: 256, cy: 0 }.is_on(world));
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
