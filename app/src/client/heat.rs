//! The heatmap: where tiles were placed in the last few minutes, from the
//! tiles this page received, drawn on a canvas of its own over the board
//! (the pixels' buffer is never touched). The newer a placement, the
//! stronger its red; it fades out over [`WINDOW_MS`].

use super::layer::Layer;
use crate::{geometry::CanvasSize, protocol::Tile};
use web_sys::HtmlCanvasElement;

/// How far back the heatmap looks.
pub const WINDOW_MS: f64 = 10.0 * 60.0 * 1000.0;

pub struct Heat {
    canvas: HtmlCanvasElement,
    layer: Layer,
    size: CanvasSize,
    /// `performance.now()` of the last placement seen on each pixel; 0: none.
    placed_at: Vec<f64>,
    pub visible: bool,
}

impl Heat {
    pub fn new(canvas: HtmlCanvasElement, size: CanvasSize) -> Option<Self> {
        Some(Self {
            layer: Layer::new(&canvas, size)?,
            canvas,
            size,
            placed_at: vec![0.0; size.area()],
            visible: false,
        })
    }

    pub fn record(&mut self, tile: Tile, now: f64) {
        let index = usize::from(tile.y) * usize::from(self.size.width) + usize::from(tile.x);
        if let Some(at) = self.placed_at.get_mut(index) {
            *at = now;
        }
    }

    /// Shows or hides the overlay; drawn at once when shown.
    pub fn show(&mut self, visible: bool, now: f64) {
        self.visible = visible;
        self.canvas.set_hidden(!visible);
        self.draw(now);
    }

    /// Draws the overlay as of `now`, if it is shown.
    pub fn draw(&mut self, now: f64) {
        if !self.visible {
            return;
        }
        let placed_at = &self.placed_at;
        self.layer.fill(|index| {
            let at = placed_at[index];
            let age = now - at;
            if at > 0.0 && age < WINDOW_MS {
                let strength = 1.0 - age / WINDOW_MS;
                [255, 40, 0, (64.0 + 191.0 * strength) as u8]
            } else {
                [0; 4]
            }
        });
        self.layer.flush();
    }
}
