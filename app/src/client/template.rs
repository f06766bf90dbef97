//! A player's template: an image placed over the canvas at x,y. Its overlay
//! (a canvas of its own, shown at the chosen opacity) draws only the pixels
//! where the canvas still differs from the template, so what is left to do
//! stands out; as tiles arrive, finished pixels disappear from it. The image
//! never leaves the browser.

use super::{image::Rgba, layer::Layer};
use crate::{geometry::CanvasSize, palette};
use web_sys::HtmlCanvasElement;

/// No template color at this canvas pixel.
const NONE: u8 = u8::MAX;

/// Pixels at most this transparent are not part of the template.
const ALPHA_THRESHOLD: u8 = 128;

/// The template's image as palette colors.
struct Image {
    width: u32,
    height: u32,
    /// A palette index per pixel, row by row, or [`NONE`].
    colors: Vec<u8>,
}

pub struct Template {
    canvas: HtmlCanvasElement,
    layer: Layer,
    size: CanvasSize,
    image: Option<Image>,
    origin: (i32, i32),
    /// The template's color at each canvas pixel, or [`NONE`].
    wanted: Vec<u8>,
    /// Canvas pixels that differ from the template.
    differing: u32,
}

impl Template {
    pub fn new(canvas: HtmlCanvasElement, size: CanvasSize) -> Option<Self> {
        Some(Self {
            layer: Layer::new(&canvas, size)?,
            canvas,
            size,
            image: None,
            origin: (0, 0),
            wanted: vec![NONE; size.area()],
            differing: 0,
        })
    }

    /// Takes a decoded image as the template, its top-left corner on canvas
    /// pixel `origin`: each pixel becomes the nearest palette color, and
    /// (mostly) transparent ones none.
    pub fn set_image(&mut self, rgba: &Rgba, origin: (i32, i32), canvas: &[u8]) {
        let colors = rgba
            .data
            .chunks_exact(4)
            .map(|p| {
                if p[3] <= ALPHA_THRESHOLD {
                    NONE
                } else {
                    palette::nearest([p[0], p[1], p[2]])
                }
            })
            .collect();
        self.image = Some(Image {
            width: rgba.width,
            height: rgba.height,
            colors,
        });
        self.origin = origin;
        self.canvas.set_hidden(false);
        self.place();
        self.compare(canvas);
    }

    /// Moves the template's top-left corner to canvas pixel (x, y).
    pub fn move_to(&mut self, x: i32, y: i32, canvas: &[u8]) {
        self.origin = (x, y);
        self.place();
        self.compare(canvas);
    }

    pub fn set_opacity(&self, opacity: f64) {
        let _ = self
            .canvas
            .style()
            .set_property("opacity", &opacity.clamp(0.0, 1.0).to_string());
    }

    /// Drops the template and hides its overlay.
    pub fn clear(&mut self) {
        self.image = None;
        self.canvas.set_hidden(true);
        self.place();
        self.differing = 0;
        self.layer.fill(|_| [0; 4]);
    }

    /// Canvas pixels still to be changed to match the template.
    pub fn differing(&self) -> u32 {
        self.differing
    }

    /// The template's color at canvas pixel `index`, if it has one there.
    pub fn color_at(&self, index: usize) -> Option<u8> {
        self.wanted.get(index).copied().filter(|&c| c != NONE)
    }

    /// Compares every pixel again (after a snapshot or a change of template).
    pub fn compare(&mut self, canvas: &[u8]) {
        let wanted = &self.wanted;
        let mut differing = 0;
        self.layer.fill(|index| match wanted[index] {
            NONE => [0; 4],
            color if color == canvas[index] => [0; 4],
            color => {
                differing += 1;
                palette::rgba(color)
            }
        });
        self.differing = differing;
    }

    /// Keeps the overlay and the count right as a tile changes `index` from
    /// color `was` to `now`.
    pub fn tile(&mut self, index: usize, was: u8, now: u8) {
        let Some(wanted) = self.color_at(index) else {
            return;
        };
        match (was == wanted, now == wanted) {
            (false, true) => {
                self.differing = self.differing.saturating_sub(1);
                self.layer.set(index, [0; 4]);
            }
            (true, false) => {
                self.differing += 1;
                self.layer.set(index, palette::rgba(wanted));
            }
            _ => {}
        }
    }

    pub fn is_dirty(&self) -> bool {
        self.layer.is_dirty()
    }

    pub fn flush(&mut self) {
        self.layer.flush();
    }

    /// Lays the image onto the canvas's pixels at the origin (parts off the
    /// canvas are cut).
    fn place(&mut self) {
        self.wanted.fill(NONE);
        let Some(image) = &self.image else {
            return;
        };
        let (width, height) = (i64::from(self.size.width), i64::from(self.size.height));
        let (ox, oy) = (i64::from(self.origin.0), i64::from(self.origin.1));
        for row in 0..i64::from(image.height) {
            let y = oy + row;
            if !(0..height).contains(&y) {
                continue;
            }
            for column in 0..i64::from(image.width) {
                let x = ox + column;
                if (0..width).contains(&x) {
                    let color = image.colors[(row * i64::from(image.width) + column) as usize];
                    self.wanted[(y * width + x) as usize] = color;
                }
            }
        }
    }
}
