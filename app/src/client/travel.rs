//! Time travel: the canvas as it was at any seq, on a canvas of its own over
//! the live one (which keeps receiving tiles underneath). A seq is rebuilt
//! from the newest archived PNG at or before it (`/api/snapshots`, or the
//! blank canvas of seq 0), then the placements after it
//! (`/api/placements`), exact wherever the history still reaches; beyond
//! it, the archived canvas is shown as it is.

use super::{image::Rgba, layer::Layer};
use crate::{geometry::CanvasSize, palette, protocol::Tile, sync::At};
use web_sys::HtmlCanvasElement;

/// Where rebuilding a seq starts.
pub enum Base {
    /// From the canvas shown now (it is at or before the seq, and close).
    Shown,
    /// From the blank canvas of seq 0.
    Blank,
    /// From the archived canvas at this seq, already decoded.
    Decoded(u64),
    /// From the archived canvas at this seq, to be fetched.
    Archived(u64),
}

/// One rebuild to carry out.
pub struct Step {
    pub target: u64,
    pub epoch: u64,
    pub base: Base,
}

/// Placements replayed onto the shown canvas rather than starting again
/// from an archived one.
const MAX_REPLAY_FROM_SHOWN: u64 = 20_000;

pub struct Travel {
    canvas: HtmlCanvasElement,
    layer: Layer,
    size: CanvasSize,
    /// The canvas at `shown`, one palette index per pixel.
    indices: Vec<u8>,
    pub shown: u64,
    epoch: u64,
    /// Archived canvases, oldest first: seq and time.
    pub archive: Vec<(u64, String)>,
    /// The last archived canvas decoded, for seeking back and forth.
    decoded: Option<(u64, Vec<u8>)>,
    /// The seq asked for last, not yet being rebuilt.
    pub wanted: Option<u64>,
    /// Whether a rebuild is running.
    pub busy: bool,
    pub open: bool,
}

impl Travel {
    pub fn new(canvas: HtmlCanvasElement, size: CanvasSize) -> Option<Self> {
        Some(Self {
            layer: Layer::new(&canvas, size)?,
            canvas,
            size,
            indices: vec![0; size.area()],
            shown: 0,
            epoch: 0,
            archive: Vec::new(),
            decoded: None,
            wanted: None,
            busy: false,
            open: false,
        })
    }

    /// Starts showing the past from the live canvas `live` at `at`.
    pub fn open(&mut self, live: &[u8], at: At) {
        self.indices.copy_from_slice(live);
        self.shown = at.seq;
        if self.epoch != at.epoch {
            self.decoded = None;
        }
        self.epoch = at.epoch;
        self.open = true;
        self.draw();
        self.canvas.set_hidden(false);
    }

    /// Back to the live canvas.
    pub fn close(&mut self) {
        self.open = false;
        self.wanted = None;
        self.canvas.set_hidden(true);
    }

    /// The next rebuild, if a seq is wanted.
    pub fn next_step(&mut self) -> Option<Step> {
        let target = self.wanted.take().filter(|_| self.open)?;
        let archived = self
            .archive
            .iter()
            .rev()
            .map(|(seq, _)| *seq)
            .find(|&seq| seq <= target);
        let base = if self.shown <= target && target - self.shown <= MAX_REPLAY_FROM_SHOWN {
            Base::Shown
        } else {
            match archived {
                None => Base::Blank,
                Some(seq) if self.decoded.as_ref().is_some_and(|(d, _)| *d == seq) => {
                    Base::Decoded(seq)
                }
                Some(seq) => Base::Archived(seq),
            }
        };
        Some(Step {
            target,
            epoch: self.epoch,
            base,
        })
    }

    /// Starts again from `base` (not [`Base::Shown`]); false if the
    /// archived canvas is not at hand.
    pub fn reset_to(&mut self, base: &Base) -> bool {
        match base {
            Base::Shown => {}
            Base::Blank => {
                self.indices.fill(0);
                self.shown = 0;
            }
            Base::Decoded(seq) | Base::Archived(seq) => {
                let Some((_, pixels)) = self.decoded.as_ref().filter(|(d, _)| d == seq) else {
                    return false;
                };
                self.indices.copy_from_slice(pixels);
                self.shown = *seq;
            }
        }
        true
    }

    /// Keeps an archived canvas just fetched (as palette indices).
    pub fn decoded(&mut self, seq: u64, rgba: &Rgba) -> bool {
        let fits =
            rgba.width == u32::from(self.size.width) && rgba.height == u32::from(self.size.height);
        if !fits {
            return false;
        }
        let mut last = ([0u8; 3], 0u8);
        let pixels = rgba
            .data
            .chunks_exact(4)
            .map(|p| {
                let rgb = [p[0], p[1], p[2]];
                // Runs of one color are common: decode each run once.
                if rgb != last.0 {
                    last = (rgb, palette::nearest(rgb));
                }
                last.1
            })
            .collect();
        self.decoded = Some((seq, pixels));
        true
    }

    /// Applies placements that follow the shown seq.
    pub fn replay(&mut self, tiles: &[Tile]) {
        for tile in tiles {
            if let Some(coord) = self.size.coord(tile.x, tile.y) {
                self.indices[coord.index] = tile.color;
            }
        }
        self.shown += tiles.len() as u64;
    }

    /// The archived canvas's time this view stems from, if any.
    pub fn archived_at(&self) -> Option<&str> {
        self.archive
            .iter()
            .rev()
            .find(|(seq, _)| *seq <= self.shown)
            .map(|(_, at)| at.as_str())
    }

    pub fn draw(&mut self) {
        let indices = &self.indices;
        self.layer.fill(|index| palette::rgba(indices[index]));
        self.layer.flush();
    }
}
