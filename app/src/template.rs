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
use std::collections::VecDeque;

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

/// How an image's colors become the canvas's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Conversion {
    /// Each pixel the palette color nearest to it: flat areas stay flat,
    /// what pixel art wants.
    #[default]
    Nearest,
    /// Floyd–Steinberg error diffusion: each pixel's rounding error is
    /// carried on to the pixels right of and below it, so a shade between
    /// two palette colors becomes a mix of both (photographs, gradients).
    Dithered,
}

/// The palette color (of the first `colors`) of each pixel of a
/// `width × height` RGBA image, row by row, or [`NONE`] where it is
/// (mostly) transparent. A transparent pixel carries no error on.
fn convert(width: u32, height: u32, rgba: &[u8], colors: u8, conversion: Conversion) -> Vec<u8> {
    let opaque = |p: &[u8]| p[3] > ALPHA_THRESHOLD;
    if conversion == Conversion::Nearest {
        return rgba
            .chunks_exact(4)
            .map(|p| {
                if opaque(p) {
                    palette::nearest_of([p[0], p[1], p[2]], colors)
                } else {
                    NONE
                }
            })
            .collect();
    }
    let width = width as usize;
    // The error carried to this row's pixels and to the next row's, per
    // channel, one slot of margin on each side.
    let mut here = vec![[0f32; 3]; width + 2];
    let mut below = vec![[0f32; 3]; width + 2];
    let mut out = Vec::with_capacity(width * height as usize);
    for row in rgba.chunks_exact(4 * width.max(1)).take(height as usize) {
        for (x, p) in row.chunks_exact(4).enumerate() {
            if !opaque(p) {
                out.push(NONE);
                continue;
            }
            let wanted: [f32; 3] =
                std::array::from_fn(|c| (f32::from(p[c]) + here[x + 1][c]).clamp(0.0, 255.0));
            let color = palette::nearest_of(wanted.map(|v| v.round() as u8), colors);
            let got = palette::rgba(color);
            for c in 0..3 {
                let error = wanted[c] - f32::from(got[c]);
                here[x + 2][c] += error * 7.0 / 16.0;
                below[x][c] += error * 3.0 / 16.0;
                below[x + 1][c] += error * 5.0 / 16.0;
                below[x + 2][c] += error / 16.0;
            }
            out.push(color);
        }
        std::mem::swap(&mut here, &mut below);
        below.fill([0.0; 3]);
    }
    out
}

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
    /// Canvas pixels the template has a color for and the page knows.
    counted: u32,
    /// The one color the overlay shows, if only one.
    only: Option<u8>,
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
            counted: 0,
            only: None,
        }
    }

    /// Takes a `width × height` RGBA image as the template, its top-left
    /// corner on canvas pixel `origin`: its pixels become palette colors
    /// as `conversion` says, and (mostly) transparent ones none. Then
    /// compares it with `canvas`.
    pub fn set_image(
        &mut self,
        (width, height): (u32, u32),
        rgba: &[u8],
        conversion: Conversion,
        origin: (i32, i32),
        canvas: &[u8],
    ) {
        let colors = convert(width, height, rgba, self.colors, conversion);
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

    /// Where the image's top-left corner lies, relative to the pattern's
    /// canvas pixels.
    pub fn origin(&self) -> (i32, i32) {
        self.origin
    }

    /// The image as palette colors ([`UNKNOWN`] where it has none): its
    /// width, height and colors, row by row.
    pub fn image(&self) -> Option<(u32, u32, &[u8])> {
        let image = self.image.as_ref()?;
        Some((image.width, image.height, &image.colors))
    }

    /// Drops the template.
    pub fn clear(&mut self) {
        self.image = None;
        self.lay();
        self.differing = 0;
        self.counted = 0;
    }

    /// Canvas pixels still to be changed to match the template.
    pub fn differing(&self) -> u32 {
        self.differing
    }

    /// Canvas pixels the template has a color for, among those the page
    /// knows: the progress is `counted - differing` of them.
    pub fn counted(&self) -> u32 {
        self.counted
    }

    /// The template's color at canvas pixel `index`, if it has one there.
    pub fn color_at(&self, index: usize) -> Option<u8> {
        self.wanted.get(index).copied().filter(|&c| c != NONE)
    }

    /// From now on the overlay shows only the pixels that want `only`
    /// (every differing pixel for `None`): what a player placing one color
    /// looks for. The counts stay the template's.
    pub fn show_only(&mut self, only: Option<u8>) {
        self.only = only;
    }

    /// What the overlay shows at `index` while the canvas has `color`
    /// there: the template's color where it differs (and is the one shown,
    /// if only one is), else nothing.
    pub fn overlay(&self, index: usize, color: u8) -> [u8; 4] {
        match self.color_at(index) {
            Some(wanted) if wanted != color && self.only.is_none_or(|only| only == wanted) => {
                palette::rgba(wanted)
            }
            _ => CLEAR,
        }
    }

    /// Counts the differing pixels again (after a snapshot or a change of
    /// template).
    pub fn compare(&mut self, canvas: &[u8]) {
        let pixels = 0..canvas.len().min(self.wanted.len());
        let differing = pixels
            .clone()
            .filter(|&index| self.differs(index, canvas[index]))
            .count();
        let counted = pixels
            .filter(|&index| self.counts(index, canvas[index]))
            .count();
        self.differing = differing as u32;
        self.counted = counted as u32;
    }

    /// The pixel still to fix nearest to `near` (in the pattern's
    /// coordinates; the canvas's pixels are `canvas`): its index and the
    /// color it wants.
    pub fn nearest_to_fix(&self, canvas: &[u8], near: (i32, i32)) -> Option<(usize, u8)> {
        let width = usize::from(self.size.width).max(1);
        (0..canvas.len().min(self.wanted.len()))
            .filter(|&index| self.differs(index, canvas[index]))
            .min_by_key(|&index| {
                let dx = (index % width) as i64 - i64::from(near.0);
                let dy = (index / width) as i64 - i64::from(near.1);
                dx * dx + dy * dy
            })
            .map(|index| (index, self.wanted[index]))
    }

    /// Whether the template has a color at `index` and the canvas's
    /// `color` there is known.
    fn counts(&self, index: usize, color: u8) -> bool {
        color != UNKNOWN && self.color_at(index).is_some()
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
        match (self.counts(index, was), self.counts(index, now)) {
            (true, false) => self.counted = self.counted.saturating_sub(1),
            (false, true) => self.counted += 1,
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

/// How fast a template's differing pixels go down lately, and the time
/// left at that pace: the page samples the count as tiles change it.
#[derive(Debug, Default)]
pub struct Pace {
    /// (when, in ms, pixels differing then), oldest first, over the last
    /// [`Pace::WINDOW_MS`], at most one a second.
    samples: VecDeque<(f64, u32)>,
}

impl Pace {
    /// How far back the pace looks.
    pub const WINDOW_MS: f64 = 5.0 * 60_000.0;
    /// Less than this of samples tells nothing yet.
    const LEAST_MS: f64 = 10_000.0;

    /// `differing` pixels at `now_ms`.
    pub fn record(&mut self, now_ms: f64, differing: u32) {
        match self.samples.back_mut() {
            Some((at, count)) if now_ms - *at < 1_000.0 => *count = differing,
            _ => self.samples.push_back((now_ms, differing)),
        }
        // Keep one sample at or past the window's start, so the pace spans
        // all of it.
        while self
            .samples
            .get(1)
            .is_some_and(|(at, _)| now_ms - at >= Self::WINDOW_MS)
        {
            self.samples.pop_front();
        }
    }

    /// Seconds until none differs at the recent pace; `None` while it is
    /// not known (too little time seen) or nothing got better.
    pub fn left(&self) -> Option<f64> {
        let (&(since, then), &(until, now)) = (self.samples.front()?, self.samples.back()?);
        let span = until - since;
        if span < Self::LEAST_MS || now >= then {
            return None;
        }
        let per_ms = f64::from(then - now) / span;
        Some(f64::from(now) / per_ms / 1000.0)
    }
}

/// The symbols style draws each pixel still to do as a cell of
/// `SYMBOL_CELL` × `SYMBOL_CELL` overlay pixels: the wanted color around a
/// 3 × 3 glyph of its own, so a player who cannot tell two colors apart
/// still tells their symbols apart.
pub const SYMBOL_CELL: usize = 5;

/// The glyph of each palette color: 3 × 3 bits, row by row, the top-left
/// one the highest (bit 8). Each is distinct, none empty or full.
const GLYPHS: [u16; 32] = [
    0b000_010_000, // a dot
    0b010_111_010, // a plus
    0b101_010_101, // an x
    0b000_111_000, // a dash
    0b010_010_010, // a bar
    0b100_010_001, // a backslash
    0b001_010_100, // a slash
    0b111_101_111, // a ring
    0b101_000_101, // four corners
    0b111_000_000, // a top line
    0b000_000_111, // a bottom line
    0b100_100_100, // a left line
    0b001_001_001, // a right line
    0b111_010_010, // a T
    0b010_010_111, // an upside-down T
    0b100_100_111, // an L
    0b001_001_111, // a mirrored L
    0b111_100_100, // a Γ
    0b111_001_001, // a mirrored Γ
    0b000_101_000, // two dots across
    0b010_000_010, // two dots down
    0b000_010_111, // a hill
    0b111_010_000, // a funnel
    0b101_111_101, // an H
    0b101_101_111, // a U
    0b111_101_101, // an n
    0b111_100_111, // a C
    0b111_001_111, // a mirrored C
    0b010_101_010, // a diamond
    0b110_110_000, // a block, top left
    0b011_011_000, // a block, top right
    0b000_110_110, // a block, bottom left
];

/// Whether the glyph of palette color `color` inks cell pixel (gx, gy) of
/// its 3 × 3.
pub fn glyph_inks(color: u8, gx: usize, gy: usize) -> bool {
    let glyph = GLYPHS[usize::from(color) % GLYPHS.len()];
    glyph & (1 << (8 - (gy * 3 + gx))) != 0
}

/// The ink a glyph is drawn in over `color`: black over light colors,
/// white over dark ones.
pub fn glyph_ink(color: u8) -> [u8; 4] {
    let [r, g, b, _] = palette::rgba(color);
    let light = 299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b) > 128_000;
    if light {
        [0, 0, 0, 255]
    } else {
        [255, 255, 255, 255]
    }
}

/// The overlay pixel (px, py) of a symbols cell (each `SYMBOL_CELL` a
/// side) that draws palette color `color`: its glyph in the middle, the
/// color around.
pub fn symbol_pixel(color: u8, px: usize, py: usize) -> [u8; 4] {
    let margin = (SYMBOL_CELL - 3) / 2;
    let (gx, gy) = (px.wrapping_sub(margin), py.wrapping_sub(margin));
    if gx < 3 && gy < 3 && glyph_inks(color, gx, gy) {
        glyph_ink(color)
    } else {
        palette::rgba(color)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_color_has_its_own_symbol_inked_to_be_seen() {
        let mut seen = std::collections::HashSet::new();
        for glyph in GLYPHS {
            assert!(glyph != 0 && glyph != 0b111_111_111, "{glyph:09b}");
            assert!(seen.insert(glyph), "{glyph:09b} twice");
        }
        // White's glyph in black, black's in white.
        assert_eq!(glyph_ink(0), [0, 0, 0, 255]);
        assert_eq!(glyph_ink(3), [255, 255, 255, 255]);
        // Color 1's plus: the middle of the cell inked, its corner not.
        assert_eq!(symbol_pixel(1, 2, 2), glyph_ink(1));
        assert_eq!(symbol_pixel(1, 1, 1), palette::rgba(1));
        assert_eq!(symbol_pixel(1, 0, 0), palette::rgba(1));
    }
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
            only in prop::option::of(0u8..6),
        ) {
            let mut canvas = start;
            let mut pattern = Pattern::new(SIZE, 32);
            pattern.show_only(only);
            pattern.set_image((width, height), &rgba, Conversion::Nearest, origin, &canvas);
            let mut overlay: Vec<_> = (0..canvas.len()).map(|i| pattern.overlay(i, canvas[i])).collect();
            for (index, color) in tiles {
                if let Some(drawn) = pattern.tile(index, canvas[index], color) {
                    overlay[index] = drawn;
                }
                canvas[index] = color;
            }
            let mut fresh = Pattern::new(SIZE, 32);
            fresh.show_only(only);
            fresh.set_image((width, height), &rgba, Conversion::Nearest, origin, &canvas);
            prop_assert_eq!(pattern.differing(), fresh.differing());
            prop_assert_eq!(pattern.counted(), fresh.counted());
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
        pattern.set_image((2, 1), &rgba, Conversion::Nearest, (0, 0), &canvas);
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

    /// A `side × side` image of one color.
    fn flat(side: u32, rgb: [u8; 3]) -> Vec<u8> {
        (0..side * side)
            .flat_map(|_| [rgb[0], rgb[1], rgb[2], 255])
            .collect()
    }

    #[test]
    fn dithering_keeps_palette_colors_and_mixes_a_shade_between_two() {
        let colors = palette::PALETTE.len() as u8;
        // A palette color stays itself, dithered or not: no error to carry.
        let red = palette::rgba(3);
        for conversion in [Conversion::Nearest, Conversion::Dithered] {
            let image = flat(8, [red[0], red[1], red[2]]);
            assert!(convert(8, 8, &image, colors, conversion)
                .iter()
                .all(|&c| c == 3));
        }
        // A light shade between light gray and white: the nearest color
        // makes it all light gray; dithering mixes the two, and the mix
        // averages back to the shade.
        let shade = [234, 234, 234];
        let image = flat(32, shade);
        let nearest = convert(32, 32, &image, colors, Conversion::Nearest);
        let light_gray = nearest[0];
        assert!(nearest.iter().all(|&c| c == light_gray));
        let dithered = convert(32, 32, &image, colors, Conversion::Dithered);
        let whites = dithered.iter().filter(|&&c| c == 0).count();
        assert!(whites > 300 && whites < 700, "{whites} of 1024 white");
        let mean = |channel: usize| {
            dithered
                .iter()
                .map(|&c| f64::from(palette::rgba(c)[channel]))
                .sum::<f64>()
                / dithered.len() as f64
        };
        for (channel, &value) in shade.iter().enumerate() {
            let off = (mean(channel) - f64::from(value)).abs();
            assert!(off < 3.0, "channel {channel} off by {off}");
        }
    }

    #[test]
    fn dithering_leaves_transparent_pixels_out_and_carries_nothing_through_them() {
        let colors = palette::PALETTE.len() as u8;
        // Left half a shade, right half transparent.
        let image: Vec<u8> = (0..16)
            .flat_map(|n| {
                if n % 4 < 2 {
                    [234, 234, 234, 255]
                } else {
                    [0, 0, 0, 0]
                }
            })
            .collect();
        let dithered = convert(4, 4, &image, colors, Conversion::Dithered);
        for (n, &color) in dithered.iter().enumerate() {
            assert_eq!(color == NONE, n % 4 >= 2, "pixel {n}");
        }
    }

    #[test]
    fn the_time_left_follows_the_recent_pace() {
        let mut pace = Pace::default();
        pace.record(0.0, 1_000);
        pace.record(5_000.0, 990);
        assert_eq!(pace.left(), None, "too soon to tell");
        // 100 pixels fixed in 20 s: 5 a second, 900 left is 180 s.
        pace.record(20_000.0, 900);
        assert_eq!(pace.left(), Some(180.0));
        // Griefed back: no estimate while nothing got better.
        pace.record(30_000.0, 1_200);
        assert_eq!(pace.left(), None);
        // Five minutes on, only the last five minutes count: 600 fixed in
        // 300 s is 2 a second, 600 left is 300 s.
        for second in 31..=330 {
            let fixed = 2 * (second - 30) as u32;
            pace.record(f64::from(second) * 1_000.0, 1_200 - fixed);
        }
        assert_eq!(pace.left(), Some(300.0));
    }

    #[test]
    fn the_one_color_filter_shows_only_that_colors_pixels_and_keeps_the_counts() {
        // Red, then blue, over a white canvas.
        let [r, g, b, _] = palette::rgba(3);
        let [r2, g2, b2, _] = palette::rgba(14);
        let rgba = [r, g, b, 255, r2, g2, b2, 255];
        let canvas = vec![0; SIZE.area()];
        let mut pattern = Pattern::new(SIZE, 32);
        pattern.set_image((2, 1), &rgba, Conversion::Nearest, (0, 0), &canvas);
        pattern.show_only(Some(14));
        assert_eq!(pattern.overlay(0, 0), CLEAR, "red is not shown");
        assert_eq!(pattern.overlay(1, 0), palette::rgba(14));
        assert_eq!((pattern.differing(), pattern.counted()), (2, 2));
        pattern.show_only(None);
        assert_eq!(pattern.overlay(0, 0), palette::rgba(3));
    }

    #[test]
    fn the_next_pixel_to_fix_is_the_nearest_that_differs() {
        // Red on the whole first row of a white canvas; the first two
        // pixels already red.
        let [r, g, b, _] = palette::rgba(3);
        let rgba: Vec<u8> = (0..SIZE.width).flat_map(|_| [r, g, b, 255]).collect();
        let mut canvas = vec![0; SIZE.area()];
        canvas[0] = 3;
        canvas[1] = 3;
        let mut pattern = Pattern::new(SIZE, 32);
        pattern.set_image(
            (u32::from(SIZE.width), 1),
            &rgba,
            Conversion::Nearest,
            (0, 0),
            &canvas,
        );
        assert_eq!(pattern.nearest_to_fix(&canvas, (0, 4)), Some((2, 3)));
        assert_eq!(pattern.nearest_to_fix(&canvas, (5, 0)), Some((5, 3)));
        canvas[..usize::from(SIZE.width)].fill(3);
        assert_eq!(pattern.nearest_to_fix(&canvas, (0, 0)), None, "all done");
    }
}
