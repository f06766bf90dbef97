//! Where the player looks and points: the view (pan, zoom, the reticle's
//! target pixel), the gestures that move it, the keys, and what follows a
//! change of target (the URL, "who placed this"). What a gesture means is
//! `crate::gesture`'s to decide; this turns it into an [`Intent`].

use super::{view::View, with_client};
use crate::{
    gesture::{Gesture, Motion},
    live::{LiveState, ZOOM_STEP},
};
use leptos::prelude::{set_timeout, GetUntracked, Set};
use std::time::Duration;
use wasm_bindgen::JsCast;
use web_sys::{Element, PointerEvent};

/// What the client is to do after an input.
pub enum Intent {
    Nothing,
    /// The reticle moves to this pixel.
    Target((u16, u16)),
    /// Place the selected color on this pixel.
    Place((u16, u16)),
    /// Undo the user's last placement.
    Undo,
}

pub struct Pointer {
    pub view: View,
    gesture: Gesture,
    /// Whether a URL update for the view is already scheduled.
    url_save_scheduled: bool,
    /// Increments whenever the target pixel changes, so only the latest
    /// `/api/pixel` answer is shown.
    pub info_generation: u32,
}

impl Pointer {
    pub fn new(view: View) -> Self {
        Self {
            view,
            gesture: Gesture::default(),
            url_save_scheduled: false,
            info_generation: 0,
        }
    }

    pub fn down(&mut self, event: &PointerEvent) -> Intent {
        let at = (f64::from(event.client_x()), f64::from(event.client_y()));
        self.gesture.press(event.pointer_id(), at);
        // Keep receiving this pointer's moves while it is pressed, even off
        // the stage.
        if let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) {
            let _ = target.set_pointer_capture(event.pointer_id());
        }
        self.hover(at)
    }

    pub fn moved(&mut self, event: &PointerEvent) -> Intent {
        let at = (f64::from(event.client_x()), f64::from(event.client_y()));
        match self.gesture.move_to(event.pointer_id(), at) {
            Motion::Hover => return self.hover(at),
            Motion::Pan(dx, dy) => self.view.pan_screen(dx, dy),
            Motion::Pinch { factor, centre } => self.view.zoom_at(factor, centre.0, centre.1),
        }
        self.view_changed();
        Intent::Nothing
    }

    pub fn up(&mut self, event: &PointerEvent) -> Intent {
        if !self.gesture.release(event.pointer_id()) {
            return Intent::Nothing; // the end of a drag or a pinch never places
        }
        let at = (f64::from(event.client_x()), f64::from(event.client_y()));
        match self.view.pixel_at(at.0, at.1) {
            Some(pixel) => Intent::Place(pixel),
            None => Intent::Nothing,
        }
    }

    pub fn cancel(&mut self, event: &PointerEvent) {
        self.gesture.cancel(event.pointer_id());
    }

    /// The wheel zooms around the pointer.
    pub fn wheel(&mut self, factor: f64, at: (f64, f64)) {
        self.view.zoom_at(factor, at.0, at.1);
        self.view_changed();
    }

    /// Zooms around the centre of the view (the zoom buttons and keys).
    pub fn zoom_centered(&mut self, factor: f64) {
        self.view.zoom_centered(factor);
        self.view_changed();
    }

    /// A key on the focused stage; `None` if the key is not ours.
    pub fn key(&mut self, key: &str, shift: bool, live: LiveState) -> Option<Intent> {
        let step = if shift { 10 } else { 1 };
        let colors = live.colors;
        let selected = live.selected.get_untracked();
        let (dx, dy) = match key {
            "ArrowLeft" => (-step, 0),
            "ArrowRight" => (step, 0),
            "ArrowUp" => (0, -step),
            "ArrowDown" => (0, step),
            "+" | "=" => {
                self.zoom_centered(ZOOM_STEP);
                return Some(Intent::Nothing);
            }
            "-" | "_" => {
                self.zoom_centered(1.0 / ZOOM_STEP);
                return Some(Intent::Nothing);
            }
            "Enter" | " " => return Some(Intent::Place(self.view.target)),
            "u" | "U" => return Some(Intent::Undo),
            "[" => {
                live.selected.set((selected + colors - 1) % colors);
                return Some(Intent::Nothing);
            }
            "]" => {
                live.selected.set((selected + 1) % colors);
                return Some(Intent::Nothing);
            }
            digit if digit.len() == 1 && digit.as_bytes()[0].is_ascii_digit() => {
                // 1..9 then 0 pick the first ten colors (of those the
                // canvas has).
                let picked = (digit.as_bytes()[0] - b'0' + 9) % 10;
                if picked < colors {
                    live.selected.set(picked);
                }
                return Some(Intent::Nothing);
            }
            _ => return None,
        };
        // Arrow keys move the view; the reticle stays on its centre pixel.
        self.view.pan_pixels(dx, dy);
        self.view_changed();
        Some(Intent::Target(self.view.center_pixel()))
    }

    /// Moves the reticle to `pixel`; false if it is there already.
    pub fn retarget(&mut self, pixel: (u16, u16)) -> bool {
        if self.view.target == pixel {
            return false;
        }
        self.view.target = pixel;
        self.view.apply();
        self.info_generation += 1;
        true
    }

    fn hover(&mut self, at: (f64, f64)) -> Intent {
        match self.view.pixel_at(at.0, at.1) {
            Some(pixel) => Intent::Target(pixel),
            None => Intent::Nothing,
        }
    }

    /// Redraws the view now and records it in the URL shortly.
    fn view_changed(&mut self) {
        self.view.apply();
        if !self.url_save_scheduled {
            self.url_save_scheduled = true;
            set_timeout(
                || {
                    with_client(|client| {
                        client.pointer.url_save_scheduled = false;
                        client.pointer.view.save_to_url();
                    });
                },
                Duration::from_millis(250),
            );
        }
    }
}
