//! The heatmap: where tiles were placed in the last few minutes, drawn on a
//! canvas of its own over the board (the pixels' buffer is never touched).
//! The first time it is shown it takes what happened before the page
//! opened from `/api/heatmap.png`; from then on, the tiles the page
//! receives. The newer a placement, the stronger its red; it fades out over
//! the window. The levels and colors are `crate::heat`'s (shared with the
//! server, and tested there).

use super::{image::Rgba, layer::Layer};
use crate::{geometry::CanvasSize, heat, protocol::Tile};
use web_sys::HtmlCanvasElement;

pub struct Heat {
    canvas: HtmlCanvasElement,
    layer: Layer,
    size: CanvasSize,
    /// `performance.now()` of the last placement seen on each pixel
    /// (negative: before the page opened; minus infinity: none).
    placed_at: Vec<f64>,
    pub visible: bool,
    /// Whether the server's heatmap was asked for already.
    seeded: bool,
}

impl Heat {
    pub fn new(canvas: HtmlCanvasElement, size: CanvasSize) -> Option<Self> {
        Some(Self {
            layer: Layer::new(&canvas, size)?,
            canvas,
            size,
            placed_at: vec![f64::NEG_INFINITY; size.area()],
            visible: false,
            seeded: false,
        })
    }

    /// True the first time only: then the server's heatmap is fetched.
    pub fn wants_seed(&mut self) -> bool {
        !std::mem::replace(&mut self.seeded, true)
    }

    /// Takes the placements before the page opened from the server's
    /// heatmap (grayscale: 255 just now, 1 at the window's end, 0 none).
    pub fn seed(&mut self, heatmap: &Rgba, now: f64) {
        let fits = heatmap.width == u32::from(self.size.width)
            && heatmap.height == u32::from(self.size.height);
        if !fits {
            return;
        }
        for (at, pixel) in self.placed_at.iter_mut().zip(heatmap.data.chunks_exact(4)) {
            if let Some(age) = heat::age_ms_of_level(pixel[0]) {
                *at = at.max(now - age);
            }
        }
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
        self.layer
            .fill(|index| heat::overlay_color(now - placed_at[index]));
        self.layer.flush();
    }
}
