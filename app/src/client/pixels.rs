//! The browser's copy of the canvas: one palette index per pixel (what the
//! template overlay compares with) and the [`Layer`] that shows them.

use super::layer::Layer;
use crate::{geometry::CanvasSize, palette, protocol::Tile};
use web_sys::HtmlCanvasElement;

pub struct Pixels {
    size: CanvasSize,
    indices: Vec<u8>,
    layer: Layer,
}

impl Pixels {
    pub fn new(canvas: &HtmlCanvasElement, size: CanvasSize) -> Option<Self> {
        Some(Self {
            size,
            indices: vec![0; size.area()],
            layer: Layer::new(canvas, size)?,
        })
    }

    /// Replaces every pixel with a snapshot (`width*height` palette indices).
    /// Returns false, changing nothing, if the snapshot has the wrong size.
    pub fn load(&mut self, snapshot: &[u8]) -> bool {
        if snapshot.len() != self.size.area() {
            return false;
        }
        self.indices.copy_from_slice(snapshot);
        self.layer.fill(|index| palette::rgba(snapshot[index]));
        true
    }

    /// The canvas was enlarged: each pixel keeps its place, the new area
    /// is white.
    pub fn grow(&mut self, size: CanvasSize) {
        let mut indices = vec![0; size.area()];
        let (old, new) = (usize::from(self.size.width), usize::from(size.width));
        for (row, pixels) in self.indices.chunks(old).enumerate() {
            indices[row * new..row * new + old].copy_from_slice(pixels);
        }
        self.size = size;
        self.layer.resize(size);
        self.layer.fill(|index| palette::rgba(indices[index]));
        self.indices = indices;
    }

    /// Sets one pixel. Tiles off the canvas are ignored.
    pub fn set(&mut self, tile: Tile) {
        let Some(coord) = self.size.coord(tile.x, tile.y) else {
            return;
        };
        self.indices[coord.index] = tile.color;
        self.layer.set(coord.index, palette::rgba(tile.color));
    }

    /// Every pixel's palette index, row by row.
    pub fn indices(&self) -> &[u8] {
        &self.indices
    }

    pub fn is_dirty(&self) -> bool {
        self.layer.is_dirty()
    }

    /// Draws what changed since the last frame.
    pub fn flush(&mut self) {
        self.layer.flush();
    }
}
