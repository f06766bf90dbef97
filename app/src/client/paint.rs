//! What is drawn: the live pixels and the two overlays that follow them
//! (the player's template and the heatmap), redrawn at most once an
//! animation frame.

use super::{heat::Heat, now, pixels::Pixels, template::Template, with_client};
use crate::{geometry::CanvasSize, live::LiveState, protocol::Tile};
use leptos::prelude::{window, Update, WithUntracked};
use wasm_bindgen::{prelude::Closure, JsCast};

pub struct Paint {
    pub size: CanvasSize,
    pub pixels: Pixels,
    /// The player's template overlay, if the page has its canvas.
    pub template: Option<Template>,
    /// The heatmap overlay, if the page has its canvas.
    pub heat: Option<Heat>,
    frame_requested: bool,
}

impl Paint {
    pub fn new(
        size: CanvasSize,
        pixels: Pixels,
        template: Option<Template>,
        heat: Option<Heat>,
    ) -> Self {
        Self {
            size,
            pixels,
            template,
            heat,
            frame_requested: false,
        }
    }

    /// Applies tiles in seq order.
    pub fn apply(&mut self, tiles: &[Tile]) {
        let at = now();
        for &tile in tiles {
            if let (Some(template), Some(coord)) =
                (&mut self.template, self.size.coord(tile.x, tile.y))
            {
                let was = self.pixels.indices()[coord.index];
                template.tile((tile.x, tile.y), was, tile.color);
            }
            self.pixels.set(tile);
            if let Some(heat) = &mut self.heat {
                heat.record(tile, at);
            }
        }
        self.request_frame();
    }

    /// Replaces every pixel with a snapshot's (of the canvas's area).
    pub fn load(&mut self, snapshot: &[u8]) {
        self.pixels.load(snapshot);
        if let Some(template) = &mut self.template {
            template.compare(self.pixels.indices());
        }
        self.request_frame();
    }

    /// The canvas was enlarged. The overlays (template, heatmap) were
    /// made for the old size and are put away: the page reloaded shows
    /// them over the whole canvas again.
    pub fn grow(&mut self, size: CanvasSize) {
        self.size = size;
        self.pixels.grow(size);
        for overlay in ["template-canvas", "heat-canvas"] {
            if let Some(element) = super::input::element(overlay) {
                element.set_hidden(true);
            }
        }
        self.template = None;
        self.heat = None;
        self.request_frame();
    }

    /// The template's color at a pixel: the one to place there.
    pub fn wanted_at(&self, pixel: (u16, u16)) -> Option<u8> {
        self.template.as_ref()?.wanted_at(pixel)
    }

    /// Asks for a redraw at the next animation frame, when something
    /// changed and none is asked for yet.
    pub fn request_frame(&mut self) {
        let template_dirty = self.template.as_ref().is_some_and(Template::is_dirty);
        if self.frame_requested || !(self.pixels.is_dirty() || template_dirty) {
            return;
        }
        self.frame_requested = true;
        let draw = Closure::once_into_js(|| {
            with_client(|client| client.paint.draw_frame(client.live));
        });
        let _ = window().request_animation_frame(draw.unchecked_ref());
    }

    /// Draws what changed, and updates the template's progress on the
    /// page.
    fn draw_frame(&mut self, live: LiveState) {
        self.frame_requested = false;
        self.pixels.flush();
        if let Some(template) = &mut self.template {
            template.flush();
            let progress = (
                template.differing(),
                template.counted(),
                template.pace(now()),
            );
            let changed = live.template.with_untracked(|status| {
                status
                    .as_ref()
                    .is_some_and(|s| (s.differing, s.counted, s.left_s) != progress)
            });
            if changed {
                live.template.update(|status| {
                    if let Some(status) = status {
                        (status.differing, status.counted, status.left_s) = progress;
                    }
                });
            }
        }
        if let Some(heat) = &mut self.heat {
            heat.draw(now());
        }
    }
}
