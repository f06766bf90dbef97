//! Where the user looks, on the page: the canvas is moved and scaled with
//! one CSS transform (never redrawn) so pan and zoom stay smooth at any
//! size. The maths is the [`Camera`]'s (tested without a browser); this
//! measures the stage, applies the transform and keeps the view in the URL
//! (`?x=…&y=…&zoom=…`) so it can be shared.

use super::query;
use crate::{camera::Camera, geometry::CanvasSize};
use web_sys::HtmlElement;

pub struct View {
    stage: HtmlElement,
    board: HtmlElement,
    reticle: HtmlElement,
    camera: Camera,
    /// The pixel the reticle marks: where Enter places.
    pub target: (u16, u16),
    /// Whether the next [`View::apply`] eases into the new view (a step of
    /// the zoom buttons or keys); a drag, a pinch or the wheel follows the
    /// hand at once.
    easing: bool,
}

impl View {
    pub fn new(
        stage: HtmlElement,
        board: HtmlElement,
        reticle: HtmlElement,
        size: CanvasSize,
    ) -> Self {
        let _ = stage.class_list().add_1("navigable");
        let style = board.style();
        let _ = style.set_property("width", &format!("{}px", size.width));
        let _ = style.set_property("height", &format!("{}px", size.height));
        let camera = Camera::new(size, stage_size(&stage));
        let mut view = Self {
            stage,
            board,
            reticle,
            camera,
            target: (size.width / 2, size.height / 2),
            easing: false,
        };
        view.restore_from_url();
        view.target = view.camera.center_pixel();
        view.apply();
        view
    }

    /// The canvas was enlarged: the board takes its new size, the view
    /// stays where it was.
    pub fn grow(&mut self, size: CanvasSize) {
        let style = self.board.style();
        let _ = style.set_property("width", &format!("{}px", size.width));
        let _ = style.set_property("height", &format!("{}px", size.height));
        self.camera.set_canvas(size);
        self.apply();
    }

    /// Centres the view on canvas point (x, y), at the same zoom.
    pub fn center_on(&mut self, x: f64, y: f64) {
        self.camera().follow_link(Some((x, y)), None);
        self.apply();
        self.save_to_url();
    }

    /// The camera, with the stage's size as it is now.
    fn camera(&mut self) -> &mut Camera {
        self.camera.resize(stage_size(&self.stage));
        &mut self.camera
    }

    /// A position on the screen, relative to the stage.
    fn within_stage(&self, client_x: f64, client_y: f64) -> (f64, f64) {
        let rect = self.stage.get_bounding_client_rect();
        (client_x - rect.left(), client_y - rect.top())
    }

    /// Moves the board and the reticle to match the view.
    pub fn apply(&mut self) {
        let camera = *self.camera();
        let (tx, ty) = camera.offset();
        let zoom = camera.zoom();
        // The style sheet's transition (none for who prefers reduced
        // motion) runs only while the class is on.
        let easing = std::mem::take(&mut self.easing);
        for element in [&self.board, &self.reticle] {
            let _ = element.class_list().toggle_with_force("easing", easing);
        }
        if let Some(level) = super::input::element("zoom-level") {
            level.set_text_content(Some(&zoom_label(zoom)));
        }
        let _ = self.board.style().set_property(
            "transform",
            &format!("translate({tx}px, {ty}px) scale({zoom})"),
        );
        // The reticle is drawn in screen space, so its border stays crisp.
        let (x, y) = self.target;
        let side = zoom.max(6.0);
        let pad = (side - zoom) / 2.0;
        let style = self.reticle.style();
        let _ = style.set_property("left", &format!("{}px", tx + f64::from(x) * zoom - pad));
        let _ = style.set_property("top", &format!("{}px", ty + f64::from(y) * zoom - pad));
        let _ = style.set_property("width", &format!("{side}px"));
        let _ = style.set_property("height", &format!("{side}px"));
        self.reticle.set_hidden(false);
        self.show_on_minimap();
    }

    /// Draws the view's rectangle on the minimap, if the page has one.
    fn show_on_minimap(&mut self) {
        let Some(frame) = super::input::element("minimap-view") else {
            return;
        };
        let size = self.camera.size();
        let (x0, y0, x1, y1) = self.visible_area();
        let percent = |v: f64, extent: u16| (v / f64::from(extent) * 100.0).clamp(0.0, 100.0);
        let (left, top) = (percent(x0, size.width), percent(y0, size.height));
        let (right, bottom) = (percent(x1, size.width), percent(y1, size.height));
        let style = frame.style();
        let _ = style.set_property("left", &format!("{left}%"));
        let _ = style.set_property("top", &format!("{top}%"));
        let _ = style.set_property("width", &format!("{}%", right - left));
        let _ = style.set_property("height", &format!("{}%", bottom - top));
    }

    /// The pixel under a screen position, if it is on the canvas.
    pub fn pixel_at(&mut self, client_x: f64, client_y: f64) -> Option<(u16, u16)> {
        let at = self.within_stage(client_x, client_y);
        self.camera().pixel_at(at)
    }

    /// The area of the canvas the stage shows, in canvas pixels
    /// (fractional, possibly past the canvas's edges).
    pub fn visible_area(&mut self) -> (f64, f64, f64, f64) {
        let (width, height) = stage_size(&self.stage);
        let camera = self.camera();
        let (x0, y0) = camera.canvas_point((0.0, 0.0));
        let (x1, y1) = camera.canvas_point((width, height));
        (x0, y0, x1, y1)
    }

    pub fn center_pixel(&self) -> (u16, u16) {
        self.camera.center_pixel()
    }

    /// Zooms by `factor`, keeping the canvas point under the screen
    /// position where it is.
    pub fn zoom_at(&mut self, factor: f64, client_x: f64, client_y: f64) {
        let at = self.within_stage(client_x, client_y);
        self.camera().zoom_at(factor, at);
    }

    /// Zooms by `factor` around the centre of the stage, easing into it.
    pub fn zoom_centered(&mut self, factor: f64) {
        self.easing = true;
        self.camera().zoom_centered(factor);
    }

    /// Moves the view by a distance in screen pixels (a drag).
    pub fn pan_screen(&mut self, dx: f64, dy: f64) {
        self.camera().pan_screen(dx, dy);
    }

    /// Moves the view by whole canvas pixels (the arrow keys).
    pub fn pan_pixels(&mut self, dx: i32, dy: i32) {
        self.camera().pan_pixels(dx, dy);
    }

    /// Writes the view into the URL without adding a history entry.
    pub fn save_to_url(&self) {
        let (x, y, zoom) = self.camera.to_link();
        query::update(&[
            ("x", Some(x.to_string())),
            ("y", Some(y.to_string())),
            ("zoom", Some(format!("{zoom:.2}"))),
        ]);
    }

    /// Takes the view from the URL, ignoring values that make no sense.
    fn restore_from_url(&mut self) {
        let Some(params) = query::params() else {
            return;
        };
        let number = |name: &str| query::number(&params, name);
        let center = number("x").zip(number("y"));
        let zoom = number("zoom");
        self.camera().follow_link(center, zoom);
    }
}

/// The zoom as the controls show it: screen pixels per canvas pixel
/// (`8×`, `0.5×`).
fn zoom_label(zoom: f64) -> String {
    if zoom >= 10.0 {
        format!("{zoom:.0}×")
    } else {
        let figures = format!("{zoom:.2}");
        format!("{}×", figures.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// The stage's size in screen pixels.
fn stage_size(stage: &HtmlElement) -> (f64, f64) {
    (
        f64::from(stage.client_width()),
        f64::from(stage.client_height()),
    )
}
