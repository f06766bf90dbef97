//! Where the user looks: the canvas is moved and scaled with one CSS
//! transform (never redrawn) so pan and zoom stay smooth at any size. The
//! view is kept in the URL (`?x=…&y=…&zoom=…`) so it can be shared.

use super::query;
use crate::geometry::CanvasSize;
use web_sys::HtmlElement;

/// Zoom is in screen pixels per canvas pixel.
const MAX_ZOOM: f64 = 64.0;

pub struct View {
    stage: HtmlElement,
    board: HtmlElement,
    reticle: HtmlElement,
    size: CanvasSize,
    /// The canvas point at the centre of the stage.
    cx: f64,
    cy: f64,
    zoom: f64,
    /// The pixel the reticle marks: where Enter places.
    pub target: (u16, u16),
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
        let mut view = Self {
            stage,
            board,
            reticle,
            size,
            cx: f64::from(size.width) / 2.0,
            cy: f64::from(size.height) / 2.0,
            zoom: 1.0,
            target: (size.width / 2, size.height / 2),
        };
        view.zoom = view.fit_zoom();
        view.restore_from_url();
        view.target = view.center_pixel();
        view.apply();
        view
    }

    fn stage_size(&self) -> (f64, f64) {
        (
            f64::from(self.stage.client_width()).max(1.0),
            f64::from(self.stage.client_height()).max(1.0),
        )
    }

    /// The zoom at which the whole canvas fits the stage.
    fn fit_zoom(&self) -> f64 {
        let (sw, sh) = self.stage_size();
        (sw / f64::from(self.size.width)).min(sh / f64::from(self.size.height))
    }

    fn min_zoom(&self) -> f64 {
        (self.fit_zoom() / 2.0).min(1.0)
    }

    /// Screen offset of the canvas's top-left corner within the stage.
    fn offset(&self) -> (f64, f64) {
        let (sw, sh) = self.stage_size();
        (
            sw / 2.0 - self.cx * self.zoom,
            sh / 2.0 - self.cy * self.zoom,
        )
    }

    /// Moves the board and the reticle to match the view.
    pub fn apply(&self) {
        let (tx, ty) = self.offset();
        let _ = self.board.style().set_property(
            "transform",
            &format!("translate({tx}px, {ty}px) scale({})", self.zoom),
        );
        // The reticle is drawn in screen space, so its border stays crisp.
        let (x, y) = self.target;
        let side = self.zoom.max(6.0);
        let pad = (side - self.zoom) / 2.0;
        let style = self.reticle.style();
        let _ = style.set_property(
            "left",
            &format!("{}px", tx + f64::from(x) * self.zoom - pad),
        );
        let _ = style.set_property("top", &format!("{}px", ty + f64::from(y) * self.zoom - pad));
        let _ = style.set_property("width", &format!("{side}px"));
        let _ = style.set_property("height", &format!("{side}px"));
        self.reticle.set_hidden(false);
    }

    /// The canvas point under a screen position (fractional).
    fn canvas_point(&self, client_x: f64, client_y: f64) -> (f64, f64) {
        let rect = self.stage.get_bounding_client_rect();
        let (tx, ty) = self.offset();
        (
            (client_x - rect.left() - tx) / self.zoom,
            (client_y - rect.top() - ty) / self.zoom,
        )
    }

    /// The pixel under a screen position, if it is on the canvas.
    pub fn pixel_at(&self, client_x: f64, client_y: f64) -> Option<(u16, u16)> {
        let (x, y) = self.canvas_point(client_x, client_y);
        let on_canvas = x >= 0.0
            && y >= 0.0
            && x < f64::from(self.size.width)
            && y < f64::from(self.size.height);
        on_canvas.then(|| (x.floor() as u16, y.floor() as u16))
    }

    pub fn center_pixel(&self) -> (u16, u16) {
        let clamp = |v: f64, extent: u16| v.floor().clamp(0.0, f64::from(extent - 1)) as u16;
        (
            clamp(self.cx, self.size.width),
            clamp(self.cy, self.size.height),
        )
    }

    /// Zooms by `factor`, keeping the canvas point under the screen
    /// position where it is.
    pub fn zoom_at(&mut self, factor: f64, client_x: f64, client_y: f64) {
        let (px, py) = self.canvas_point(client_x, client_y);
        let zoom = (self.zoom * factor).clamp(self.min_zoom(), MAX_ZOOM);
        // Screen position of p stays put: cx' = p - (p - cx) * z / z'.
        self.cx = px - (px - self.cx) * self.zoom / zoom;
        self.cy = py - (py - self.cy) * self.zoom / zoom;
        self.zoom = zoom;
        self.clamp_center();
    }

    /// Zooms by `factor` around the centre of the stage.
    pub fn zoom_centered(&mut self, factor: f64) {
        let rect = self.stage.get_bounding_client_rect();
        self.zoom_at(
            factor,
            rect.left() + rect.width() / 2.0,
            rect.top() + rect.height() / 2.0,
        );
    }

    /// Moves the view by a distance in screen pixels (a drag).
    pub fn pan_screen(&mut self, dx: f64, dy: f64) {
        self.cx -= dx / self.zoom;
        self.cy -= dy / self.zoom;
        self.clamp_center();
    }

    /// Moves the view by whole canvas pixels (the arrow keys).
    pub fn pan_pixels(&mut self, dx: i32, dy: i32) {
        self.cx = self.cx.floor() + 0.5 + f64::from(dx);
        self.cy = self.cy.floor() + 0.5 + f64::from(dy);
        self.clamp_center();
    }

    fn clamp_center(&mut self) {
        self.cx = self.cx.clamp(0.0, f64::from(self.size.width));
        self.cy = self.cy.clamp(0.0, f64::from(self.size.height));
    }

    /// Writes the view into the URL without adding a history entry.
    pub fn save_to_url(&self) {
        query::update(&[
            ("x", Some(self.cx.floor().to_string())),
            ("y", Some(self.cy.floor().to_string())),
            ("zoom", Some(format!("{:.2}", self.zoom))),
        ]);
    }

    /// Takes the view from the URL, ignoring values that make no sense.
    fn restore_from_url(&mut self) {
        let Some(params) = query::params() else {
            return;
        };
        let number = |name: &str| query::number(&params, name);
        if let (Some(x), Some(y)) = (number("x"), number("y")) {
            self.cx = x + 0.5;
            self.cy = y + 0.5;
            self.clamp_center();
        }
        if let Some(zoom) = number("zoom") {
            self.zoom = zoom.clamp(self.min_zoom(), MAX_ZOOM);
        }
    }
}
