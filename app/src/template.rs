//! A player's template compared with the canvas: the image (as palette
//! colors, at canvas pixel x,y), the color it wants at each canvas pixel,
//! and how many pixels still differ, kept right tile by tile. Plain data:
//! the browser's `client::template` loads the image and draws what
//! [`Pattern::overlay`] says; the property tests here hold the running
//! count and overlay to a fresh comparison after any tiles.
//!
//! On a canvas sent whole the pattern covers the whole canvas. On a canvas
//! served by chunk it covers the template's own rectangle (a [`Window`]),
//! and the page knows only the chunks in view: a pixel of another chunk
//! is [`UNKNOWN`], counted neither done nor to do, and its overlay shows
//! the template's color.

use crate::{geometry::CanvasSize, palette};

/// Pixels at most this transparent are not part of the template.
pub const ALPHA_THRESHOLD: u8 = 128;

/// A canvas pixel whose color the page does not have (its chunk is not
/// loaded).
pub const UNKNOWN: u8 = u8::MAX;

/// The longest side of a template on a canvas served by chunk (the
/// overlay and the comparison cover its rectangle only).
pub const MAX_WINDOW_SIDE: u16 = 1024;

/// The canvas pixels a pattern covers: a rectangle of the canvas, whose
/// pixel (0, 0) is canvas pixel (`x`, `y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub x: u16,
    pub y: u16,
    pub size: CanvasSize,
}

impl Window {
    /// The whole canvas.
    pub fn whole(size: CanvasSize) -> Self {
        Self { x: 0, y: 0, size }
    }

    /// The part of `canvas` under a `width × height` template whose
    /// top-left corner is on canvas pixel `origin`, at most
    /// [`MAX_WINDOW_SIDE`] a side; `None` when none of it is on the canvas.
    pub fn under(canvas: CanvasSize, origin: (i32, i32), width: u32, height: u32) -> Option<Self> {
        let span = |start: i32, length: u32, limit: u16| {
            let from = i64::from(start).max(0);
            let to = (i64::from(start) + i64::from(length))
                .min(i64::from(limit))
                .min(from + i64::from(MAX_WINDOW_SIDE));
            (to > from).then(|| (from as u16, (to - from) as u16))
        };
        let (x, width) = span(origin.0, width, canvas.width)?;
        let (y, height) = span(origin.1, height, canvas.height)?;
        Some(Self {
            x,
            y,
            size: CanvasSize { width, height },
        })
    }

    /// Canvas pixel (`x`, `y`)'s index in the window, if it is in it.
    pub fn index(&self, x: u16, y: u16) -> Option<usize> {
        let coord = self
            .size
            .coord(x.checked_sub(self.x)?, y.checked_sub(self.y)?)?;
        Some(coord.index)
    }

    /// A point of the canvas in the window's coordinates.
    pub fn relative(&self, (x, y): (i32, i32)) -> (i32, i32) {
        (x - i32::from(self.x), y - i32::from(self.y))
    }
}

/// No template color at this canvas pixel.
const NONE: u8 = u8::MAX;

/// Nothing drawn: the overlay is transparent there.
pub const CLEAR: [u8; 4] = [0; 4];

/// The template's image as palette colors.
struct Image {
    width: u32,
    height: u32,
    /// A palette index per pixel, row by row, or [`NONE`].
    colors: Vec<u8>,
}

pub struct Pattern {
    size: CanvasSize,
    /// The canvas's colors: the palette's first this many.
    colors: u8,
    image: Option<Image>,
    origin: (i32, i32),
    /// The template's color at each canvas pixel, or [`NONE`].
    wanted: Vec<u8>,
    /// Canvas pixels that differ from the template.
    differing: u32,
}

impl Pattern {
    /// A pattern over a canvas of `size` whose palette is the first
    /// `colors` colors.
    pub fn new(size: CanvasSize, colors: u8) -> Self {
        Self {
            size,
            colors,
            image: None,
            origin: (0, 0),
            wanted: vec![NONE; size.area()],
            differing: 0,
        }
    }

    /// Takes a `width × height` RGBA image as the template, its top-left
    /// corner on canvas pixel `origin`: each pixel becomes the nearest
    /// palette color, and (mostly) transparent ones none. Then compares it
    /// with `canvas`.
    pub fn set_image(
        &mut self,
        width: u32,
        height: u32,
        rgba: &[u8],
        origin: (i32, i32),
        canvas: &[u8],
    ) {
        let colors = rgba
            .chunks_exact(4)
            .map(|p| {
                if p[3] <= ALPHA_THRESHOLD {
                    NONE
                } else {
                    palette::nearest_of([p[0], p[1], p[2]], self.colors)
                }
            })
            .collect();
        self.image = Some(Image {
            width,
            height,
            colors,
        });
        self.move_to(origin, canvas);
    }

    /// Moves the template's top-left corner to canvas pixel `origin`.
    pub fn move_to(&mut self, origin: (i32, i32), canvas: &[u8]) {
        self.origin = origin;
        self.lay();
        self.compare(canvas);
    }

    /// Covers a canvas of `size` from now on (a window that moved with the
    /// template), the template's corner at `origin` in it.
    pub fn cover(&mut self, size: CanvasSize, origin: (i32, i32), canvas: &[u8]) {
        self.size = size;
        self.wanted = vec![NONE; size.area()];
        self.move_to(origin, canvas);
    }

    /// The template image's width and height, once there is one.
    pub fn image_size(&self) -> Option<(u32, u32)> {
        self.image.as_ref().map(|image| (image.width, image.height))
    }

    /// Drops the template.
    pub fn clear(&mut self) {
        self.image = None;
        self.lay();
        self.differing = 0;
    }

    /// Canvas pixels still to be changed to match the template.
    pub fn differing(&self) -> u32 {
        self.differing
    }

    /// The template's color at canvas pixel `index`, if it has one there.
    pub fn color_at(&self, index: usize) -> Option<u8> {
        self.wanted.get(index).copied().filter(|&c| c != NONE)
    }

    /// What the overlay shows at `index` while the canvas has `color`
    /// there: the template's color where it differs, else nothing.
    pub fn overlay(&self, index: usize, color: u8) -> [u8; 4] {
        match self.color_at(index) {
            Some(wanted) if wanted != color => palette::rgba(wanted),
            _ => CLEAR,
        }
    }

    /// Counts the differing pixels again (after a snapshot or a change of
    /// template).
    pub fn compare(&mut self, canvas: &[u8]) {
        let differing = (0..canvas.len().min(self.wanted.len()))
            .filter(|&index| self.differs(index, canvas[index]))
            .count();
        self.differing = differing as u32;
    }

    /// Whether the canvas's `color` at `index` is known and not the
    /// template's.
    fn differs(&self, index: usize, color: u8) -> bool {
        color != UNKNOWN && self.color_at(index).is_some_and(|wanted| wanted != color)
    }

    /// Keeps the count right as a tile changes `index` from color `was`
    /// to `now`; the overlay's new color there, if it changed.
    pub fn tile(&mut self, index: usize, was: u8, now: u8) -> Option<[u8; 4]> {
        match (self.differs(index, was), self.differs(index, now)) {
            (true, false) => self.differing = self.differing.saturating_sub(1),
            (false, true) => self.differing += 1,
            _ => {}
        }
        let drawn = self.overlay(index, now);
        (drawn != self.overlay(index, was)).then_some(drawn)
    }

    /// Lays the image onto the canvas's pixels at the origin (parts off the
    /// canvas are cut).
    fn lay(&mut self) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SIZE: CanvasSize = CanvasSize {
        width: 6,
        height: 5,
    };

    /// An image of up to 4 × 4 pixels, some transparent, in palette colors.
    fn image() -> impl Strategy<Value = (u32, u32, Vec<u8>)> {
        (1u32..5, 1u32..5).prop_flat_map(|(w, h)| {
            let pixel = (0u8..6, any::<bool>()).prop_map(|(color, opaque)| {
                let [r, g, b, _] = palette::rgba(color);
                [r, g, b, if opaque { 255 } else { 0 }]
            });
            prop::collection::vec(pixel, (w * h) as usize)
                .prop_map(move |pixels| (w, h, pixels.concat()))
        })
    }

    proptest! {
        /// However the template lies (partly off the canvas included) and
        /// whatever tiles come, the running count and overlay equal a
        /// fresh comparison.
        #[test]
        fn the_running_count_and_overlay_match_a_fresh_comparison(
            (width, height, rgba) in image(),
            origin in (-4i32..8, -4i32..7),
            start in prop::collection::vec(prop_oneof![0u8..6, Just(UNKNOWN)], SIZE.area()),
            tiles in prop::collection::vec((0..SIZE.area(), 0u8..6), 0..80),
        ) {
            let mut canvas = start;
            let mut pattern = Pattern::new(SIZE, 32);
            pattern.set_image(width, height, &rgba, origin, &canvas);
            let mut overlay: Vec<_> = (0..canvas.len()).map(|i| pattern.overlay(i, canvas[i])).collect();
            for (index, color) in tiles {
                if let Some(drawn) = pattern.tile(index, canvas[index], color) {
                    overlay[index] = drawn;
                }
                canvas[index] = color;
            }
            let mut fresh = Pattern::new(SIZE, 32);
            fresh.set_image(width, height, &rgba, origin, &canvas);
            prop_assert_eq!(pattern.differing(), fresh.differing());
            for (index, drawn) in overlay.iter().enumerate() {
                prop_assert_eq!(*drawn, fresh.overlay(index, canvas[index]), "pixel {}", index);
            }
        }
    }

    #[test]
    fn a_window_is_the_part_of_the_canvas_under_the_template_cut_to_its_limit() {
        let canvas = CanvasSize {
            width: 4096,
            height: 4096,
        };
        let window = Window::under(canvas, (-10, 4000), 100, 300).unwrap();
        assert_eq!((window.x, window.y), (0, 4000));
        assert_eq!((window.size.width, window.size.height), (90, 96));
        assert_eq!(window.index(5, 4001), Some(90 + 5));
        assert_eq!(window.index(90, 4001), None);
        assert_eq!(window.relative((-10, 4000)), (-10, 0));
        let large = Window::under(canvas, (0, 0), 3000, 10).unwrap();
        assert_eq!(large.size.width, MAX_WINDOW_SIDE);
        assert_eq!(Window::under(canvas, (4096, 0), 10, 10), None);
        assert_eq!(Window::under(canvas, (-10, 0), 10, 10), None);
    }

    #[test]
    fn transparent_pixels_and_pixels_off_the_canvas_want_nothing() {
        let canvas = vec![0; SIZE.area()];
        let mut pattern = Pattern::new(SIZE, 32);
        let black = palette::PALETTE
            .iter()
            .position(|c| c.rgb == [0, 0, 0])
            .unwrap() as u8;
        let [r, g, b, _] = palette::rgba(black);
        // Two pixels: opaque black, then transparent; the first lies off
        // the canvas's left edge once moved to x = -1.
        let rgba = [r, g, b, 255, r, g, b, 0];
        pattern.set_image(2, 1, &rgba, (0, 0), &canvas);
        assert_eq!(
            (pattern.color_at(0), pattern.color_at(1)),
            (Some(black), None)
        );
        assert_eq!(pattern.differing(), 1);
        pattern.move_to((-1, 0), &canvas);
        assert_eq!(pattern.differing(), 0);
        pattern.clear();
        assert_eq!(pattern.color_at(0), None);
    }
}
