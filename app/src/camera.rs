//! The page's camera, as numbers: which canvas point is at the centre of
//! the stage and how many screen pixels a canvas pixel takes. Pan, zoom
//! about a point and the pixel under a screen position are plain maths,
//! kept out of the browser-only code (the DOM view, `client/view.rs`,
//! applies the result as one CSS transform) so that `cargo test` checks
//! them.

use crate::geometry::CanvasSize;

/// Zoom is in screen pixels per canvas pixel.
pub const MAX_ZOOM: f64 = 64.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    size: CanvasSize,
    /// The stage's size in screen pixels (at least 1 × 1).
    stage: (f64, f64),
    /// The canvas point at the centre of the stage.
    cx: f64,
    cy: f64,
    zoom: f64,
}

impl Camera {
    /// The whole canvas, centred and fitted to the stage.
    pub fn new(size: CanvasSize, stage: (f64, f64)) -> Self {
        let mut camera = Self {
            size,
            stage: (1.0, 1.0),
            cx: f64::from(size.width) / 2.0,
            cy: f64::from(size.height) / 2.0,
            zoom: 1.0,
        };
        camera.resize(stage);
        camera.zoom = camera.fit_zoom();
        camera
    }

    /// The canvas was enlarged: the view stays where it is.
    pub fn set_canvas(&mut self, size: CanvasSize) {
        self.size = size;
    }

    /// The stage was resized (the window, the panels).
    pub fn resize(&mut self, (width, height): (f64, f64)) {
        self.stage = (width.max(1.0), height.max(1.0));
    }

    pub fn size(&self) -> CanvasSize {
        self.size
    }

    pub fn zoom(&self) -> f64 {
        self.zoom
    }

    /// The zoom at which the whole canvas fits the stage.
    pub fn fit_zoom(&self) -> f64 {
        let (sw, sh) = self.stage;
        (sw / f64::from(self.size.width)).min(sh / f64::from(self.size.height))
    }

    /// As far out as one may zoom: half the fit, or 1 if that is closer.
    pub fn min_zoom(&self) -> f64 {
        (self.fit_zoom() / 2.0).min(1.0)
    }

    /// The screen offset of the canvas's top-left corner within the stage.
    pub fn offset(&self) -> (f64, f64) {
        let (sw, sh) = self.stage;
        (
            sw / 2.0 - self.cx * self.zoom,
            sh / 2.0 - self.cy * self.zoom,
        )
    }

    /// The canvas point (fractional) under a position within the stage.
    pub fn canvas_point(&self, (x, y): (f64, f64)) -> (f64, f64) {
        let (tx, ty) = self.offset();
        ((x - tx) / self.zoom, (y - ty) / self.zoom)
    }

    /// The pixel under a position within the stage, if it is on the
    /// canvas.
    pub fn pixel_at(&self, at: (f64, f64)) -> Option<(u16, u16)> {
        let (x, y) = self.canvas_point(at);
        let on_canvas = x >= 0.0
            && y >= 0.0
            && x < f64::from(self.size.width)
            && y < f64::from(self.size.height);
        on_canvas.then(|| (x.floor() as u16, y.floor() as u16))
    }

    /// The pixel at the centre of the stage.
    pub fn center_pixel(&self) -> (u16, u16) {
        let clamp = |v: f64, extent: u16| v.floor().clamp(0.0, f64::from(extent - 1)) as u16;
        (
            clamp(self.cx, self.size.width),
            clamp(self.cy, self.size.height),
        )
    }

    /// Zooms by `factor`, keeping the canvas point under `at` (a position
    /// within the stage) where it is on the screen.
    pub fn zoom_at(&mut self, factor: f64, at: (f64, f64)) {
        let (px, py) = self.canvas_point(at);
        let zoom = (self.zoom * factor).clamp(self.min_zoom(), MAX_ZOOM);
        // Screen position of p stays put: cx' = p - (p - cx) * z / z'.
        self.cx = px - (px - self.cx) * self.zoom / zoom;
        self.cy = py - (py - self.cy) * self.zoom / zoom;
        self.zoom = zoom;
        self.clamp_center();
    }

    /// Zooms by `factor` about the centre of the stage.
    pub fn zoom_centered(&mut self, factor: f64) {
        let (sw, sh) = self.stage;
        self.zoom_at(factor, (sw / 2.0, sh / 2.0));
    }

    /// Moves the view by a distance in screen pixels (a drag).
    pub fn pan_screen(&mut self, dx: f64, dy: f64) {
        self.cx -= dx / self.zoom;
        self.cy -= dy / self.zoom;
        self.clamp_center();
    }

    /// Moves the view by whole canvas pixels (the arrow keys), onto a
    /// pixel's centre.
    pub fn pan_pixels(&mut self, dx: i32, dy: i32) {
        self.cx = self.cx.floor() + 0.5 + f64::from(dx);
        self.cy = self.cy.floor() + 0.5 + f64::from(dy);
        self.clamp_center();
    }

    /// What a shared link keeps: the pixel at the centre and the zoom.
    pub fn to_link(&self) -> (f64, f64, f64) {
        (self.cx.floor(), self.cy.floor(), self.zoom)
    }

    /// Takes the view of a shared link, each part only if it makes sense
    /// (a pixel on the canvas, a zoom in range).
    pub fn follow_link(&mut self, center: Option<(f64, f64)>, zoom: Option<f64>) {
        if let Some((x, y)) = center.filter(|(x, y)| x.is_finite() && y.is_finite()) {
            self.cx = x + 0.5;
            self.cy = y + 0.5;
            self.clamp_center();
        }
        if let Some(zoom) = zoom.filter(|z| z.is_finite()) {
            self.zoom = zoom.clamp(self.min_zoom(), MAX_ZOOM);
        }
    }

    fn clamp_center(&mut self) {
        self.cx = self.cx.clamp(0.0, f64::from(self.size.width));
        self.cy = self.cy.clamp(0.0, f64::from(self.size.height));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SIZE: CanvasSize = CanvasSize {
        width: 1000,
        height: 600,
    };
    const STAGE: (f64, f64) = (800.0, 500.0);

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn a_new_camera_fits_and_centres_the_canvas() {
        let camera = Camera::new(SIZE, STAGE);
        assert!(close(camera.zoom(), 0.8)); // 800 / 1000, under 500 / 600
        assert_eq!(camera.center_pixel(), (500, 300));
        // The canvas spans the stage's width, 480 px high from y = 10.
        assert_eq!(camera.pixel_at((0.5, 250.0)), Some((0, 300)));
        assert_eq!(camera.pixel_at((799.5, 250.0)), Some((999, 300)));
        assert_eq!(camera.pixel_at((400.0, 5.0)), None, "above the canvas");
    }

    #[test]
    fn a_shared_link_is_followed_only_where_it_makes_sense() {
        let mut camera = Camera::new(SIZE, STAGE);
        camera.follow_link(Some((10.0, 20.0)), Some(8.0));
        assert_eq!((camera.center_pixel(), camera.zoom()), ((10, 20), 8.0));
        assert_eq!(camera.to_link(), (10.0, 20.0, 8.0));
        camera.follow_link(Some((f64::NAN, 3.0)), Some(1e9));
        assert_eq!((camera.center_pixel(), camera.zoom()), ((10, 20), MAX_ZOOM));
        camera.follow_link(Some((-50.0, 9e9)), None);
        assert_eq!(camera.center_pixel(), (0, 599), "clamped onto the canvas");
    }

    proptest! {
        /// Zooming about a point keeps that canvas point under it, unless
        /// the centre had to be clamped onto the canvas.
        #[test]
        fn zooming_keeps_the_point_under_the_pointer(
            factor in 0.1f64..10.0,
            x in 0.0f64..800.0,
            y in 0.0f64..500.0,
            start_zoom in 0.5f64..32.0,
        ) {
            let mut camera = Camera::new(SIZE, STAGE);
            camera.follow_link(Some((400.0, 250.0)), Some(start_zoom));
            let before = camera.canvas_point((x, y));
            camera.zoom_at(factor, (x, y));
            prop_assert!(camera.zoom() >= camera.min_zoom() && camera.zoom() <= MAX_ZOOM);
            let (cx, cy) = (camera.cx, camera.cy);
            let clamped = cx == 0.0 || cy == 0.0
                || cx == f64::from(SIZE.width) || cy == f64::from(SIZE.height);
            if !clamped {
                let after = camera.canvas_point((x, y));
                prop_assert!(close(before.0, after.0) && close(before.1, after.1),
                    "{before:?} moved to {after:?}");
            }
        }

        /// A drag and the same drag back return to the same view; the
        /// centre never leaves the canvas.
        #[test]
        fn a_drag_undone_returns_and_the_centre_stays_on_the_canvas(
            dx in -400.0f64..400.0,
            dy in -400.0f64..400.0,
            zoom in 0.5f64..64.0,
        ) {
            let mut camera = Camera::new(SIZE, STAGE);
            camera.follow_link(Some((500.0, 300.0)), Some(zoom));
            let start = camera;
            camera.pan_screen(dx, dy);
            prop_assert!((0.0..=f64::from(SIZE.width)).contains(&camera.cx));
            prop_assert!((0.0..=f64::from(SIZE.height)).contains(&camera.cy));
            camera.pan_screen(-dx, -dy);
            // Within the canvas (|d / zoom| < 500 here for zoom ≥ 0.8)
            // nothing was clamped on the way.
            if dx.abs() / zoom < 500.0 && dy.abs() / zoom < 300.0 {
                prop_assert!(close(camera.cx, start.cx) && close(camera.cy, start.cy));
            }
        }

        /// The pixel under a screen position is the one whose square holds
        /// the canvas point there, whatever the zoom and centre.
        #[test]
        fn the_pixel_under_a_position_holds_its_canvas_point(
            x in 0.0f64..800.0,
            y in 0.0f64..500.0,
            zoom in 0.5f64..64.0,
            cx in 0.0f64..1000.0,
            cy in 0.0f64..600.0,
        ) {
            let mut camera = Camera::new(SIZE, STAGE);
            camera.follow_link(Some((cx, cy)), Some(zoom));
            let (px, py) = camera.canvas_point((x, y));
            match camera.pixel_at((x, y)) {
                Some((col, row)) => {
                    prop_assert!(f64::from(col) <= px && px < f64::from(col) + 1.0);
                    prop_assert!(f64::from(row) <= py && py < f64::from(row) + 1.0);
                }
                None => prop_assert!(
                    px < 0.0 || py < 0.0 || px >= f64::from(SIZE.width) || py >= f64::from(SIZE.height)
                ),
            }
        }
    }
}
