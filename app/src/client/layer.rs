//! A canvas-sized RGBA buffer drawn on its own `<canvas>`: the live pixels,
//! the template overlay and the time-travel view each have one. Writes only
//! touch memory and widen the changed rectangle; [`Layer::flush`] copies
//! that rectangle to the canvas once per animation frame.

use crate::geometry::CanvasSize;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

/// A rectangle of pixels, bounds inclusive.
#[derive(Debug, Clone, Copy)]
struct Dirty {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

pub struct Layer {
    ctx: CanvasRenderingContext2d,
    size: CanvasSize,
    rgba: Vec<u8>,
    dirty: Option<Dirty>,
}

impl Layer {
    /// A transparent layer over `canvas`, or `None` without a 2D context.
    pub fn new(canvas: &HtmlCanvasElement, size: CanvasSize) -> Option<Self> {
        let ctx = canvas
            .get_context("2d")
            .ok()??
            .dyn_into::<CanvasRenderingContext2d>()
            .ok()?;
        Some(Self {
            ctx,
            size,
            rgba: vec![0; size.area() * 4],
            dirty: None,
        })
    }

    /// Makes the layer (and its canvas) `size`, every pixel transparent
    /// until the caller fills it.
    pub fn resize(&mut self, size: CanvasSize) {
        if let Some(canvas) = self.ctx.canvas() {
            canvas.set_width(u32::from(size.width));
            canvas.set_height(u32::from(size.height));
        }
        self.size = size;
        self.rgba = vec![0; size.area() * 4];
        self.dirty = None;
    }

    /// Sets pixel `index` (row-major) to `rgba`; indices off the canvas are
    /// ignored.
    pub fn set(&mut self, index: usize, rgba: [u8; 4]) {
        let Some(pixel) = self.rgba.get_mut(index * 4..index * 4 + 4) else {
            return;
        };
        pixel.copy_from_slice(&rgba);
        let width = usize::from(self.size.width);
        let (x, y) = (index % width, index / width);
        self.dirty = Some(match self.dirty {
            None => Dirty {
                x0: x,
                y0: y,
                x1: x,
                y1: y,
            },
            Some(d) => Dirty {
                x0: d.x0.min(x),
                y0: d.y0.min(y),
                x1: d.x1.max(x),
                y1: d.y1.max(y),
            },
        });
    }

    /// Sets every pixel from `rgba_of(index)`.
    pub fn fill(&mut self, mut rgba_of: impl FnMut(usize) -> [u8; 4]) {
        for (index, pixel) in self.rgba.chunks_exact_mut(4).enumerate() {
            pixel.copy_from_slice(&rgba_of(index));
        }
        self.dirty = Some(Dirty {
            x0: 0,
            y0: 0,
            x1: usize::from(self.size.width) - 1,
            y1: usize::from(self.size.height) - 1,
        });
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty.is_some()
    }

    /// Draws the changed rectangle, if any.
    pub fn flush(&mut self) {
        let Some(d) = self.dirty.take() else {
            return;
        };
        let width = usize::from(self.size.width);
        let (w, h) = (d.x1 - d.x0 + 1, d.y1 - d.y0 + 1);
        let mut region = Vec::with_capacity(w * h * 4);
        for y in d.y0..=d.y1 {
            let start = (y * width + d.x0) * 4;
            region.extend_from_slice(&self.rgba[start..start + w * 4]);
        }
        // Sizes fit u32: they are bounded by the u16 canvas dimensions.
        if let Ok(image) =
            ImageData::new_with_u8_clamped_array_and_sh(Clamped(&region), w as u32, h as u32)
        {
            let _ = self.ctx.put_image_data(&image, d.x0 as f64, d.y0 as f64);
        }
    }
}
