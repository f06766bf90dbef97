//! What is drawn: the live pixels and the overlays that follow them (the
//! player's templates, several at once, and the heatmap), redrawn at most
//! once an animation frame.

use super::{heat::Heat, now, pixels::Pixels, template::Template, with_client};
use crate::{
    geometry::CanvasSize,
    live::{LiveState, TemplateStatus},
    protocol::Tile,
};
use leptos::prelude::{window, Set};
use wasm_bindgen::{prelude::Closure, JsCast};

/// One of the page's templates: its overlay, and what the panel shows of
/// it once one is loaded there.
pub struct Slot {
    pub template: Template,
    pub status: Option<TemplateStatus>,
}

pub struct Paint {
    pub size: CanvasSize,
    pub pixels: Pixels,
    /// The player's templates, one per overlay the page has
    /// ([`crate::live::TEMPLATE_SLOTS`]); the panel edits the `active` one.
    pub slots: Vec<Slot>,
    pub active: usize,
    /// The heatmap overlay, if the page has its canvas.
    pub heat: Option<Heat>,
    frame_requested: bool,
}

impl Paint {
    pub fn new(
        size: CanvasSize,
        pixels: Pixels,
        templates: Vec<Template>,
        heat: Option<Heat>,
    ) -> Self {
        Self {
            size,
            pixels,
            slots: templates
                .into_iter()
                .map(|template| Slot {
                    template,
                    status: None,
                })
                .collect(),
            active: 0,
            heat,
            frame_requested: false,
        }
    }

    /// The template the panel edits, if the page has its overlay.
    pub fn template(&self) -> Option<&Template> {
        self.slots.get(self.active).map(|slot| &slot.template)
    }

    pub fn template_mut(&mut self) -> Option<&mut Template> {
        self.slots
            .get_mut(self.active)
            .map(|slot| &mut slot.template)
    }

    /// The slot the panel edits.
    pub fn slot_mut(&mut self) -> Option<&mut Slot> {
        self.slots.get_mut(self.active)
    }

    /// Every overlay, for what changes them all.
    pub fn templates_mut(&mut self) -> impl Iterator<Item = &mut Template> {
        self.slots.iter_mut().map(|slot| &mut slot.template)
    }

    /// Shows the slots' state on the page: the active one's in full, every
    /// one's in the list.
    pub fn publish(&self, live: LiveState) {
        live.template
            .set(self.slots.get(self.active).and_then(|s| s.status.clone()));
        live.templates
            .set(self.slots.iter().map(|slot| slot.status.clone()).collect());
        live.active_template.set(self.active);
    }

    /// Applies tiles in seq order.
    pub fn apply(&mut self, tiles: &[Tile]) {
        let at = now();
        for &tile in tiles {
            if let Some(coord) = self.size.coord(tile.x, tile.y) {
                let was = self.pixels.indices()[coord.index];
                for slot in &mut self.slots {
                    slot.template.tile((tile.x, tile.y), was, tile.color);
                }
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
        for slot in &mut self.slots {
            slot.template.compare(self.pixels.indices());
        }
        self.request_frame();
    }

    /// The canvas was enlarged. The overlays (template, heatmap) were
    /// made for the old size and are put away: the page reloaded shows
    /// them over the whole canvas again.
    pub fn grow(&mut self, size: CanvasSize) {
        self.size = size;
        self.pixels.grow(size);
        for slot in &mut self.slots {
            slot.template.clear();
        }
        if let Some(element) = super::input::element("heat-canvas") {
            element.set_hidden(true);
        }
        self.slots.clear();
        self.heat = None;
        self.request_frame();
    }

    /// The templates' color at a pixel: the one to place there (the
    /// active template's first).
    pub fn wanted_at(&self, pixel: (u16, u16)) -> Option<u8> {
        let active = self.slots.get(self.active).into_iter();
        active
            .chain(&self.slots)
            .find_map(|slot| slot.template.wanted_at(pixel))
    }

    /// Asks for a redraw at the next animation frame, when something
    /// changed and none is asked for yet.
    pub fn request_frame(&mut self) {
        let template_dirty = self.slots.iter().any(|slot| slot.template.is_dirty());
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
        let mut changed = false;
        for slot in &mut self.slots {
            slot.template.flush();
            let Some(status) = &mut slot.status else {
                continue;
            };
            let template = &mut slot.template;
            let progress = (
                template.differing(),
                template.counted(),
                template.pace(now()),
            );
            if (status.differing, status.counted, status.left_s) != progress {
                (status.differing, status.counted, status.left_s) = progress;
                changed = true;
            }
        }
        if changed {
            self.publish(live);
        }
        if let Some(heat) = &mut self.heat {
            heat.draw(now());
        }
    }
}
