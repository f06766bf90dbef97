//! The colors a tile can take. A tile stores only its index into [`PALETTE`].
//!
//! Index 0 is white on purpose: a fresh canvas is all zero bytes (a new Redis
//! string is zero-filled too), so an untouched canvas is white.

/// One palette entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    /// Red, green, blue.
    pub rgb: [u8; 3],
    /// What a screen reader says for the color.
    pub name: &'static str,
}

impl Color {
    /// `#rrggbb`, as CSS and `/api/info` write it.
    pub fn hex(&self) -> String {
        let [r, g, b] = self.rgb;
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

const fn color(rgb: u32, name: &'static str) -> Color {
    Color {
        rgb: [(rgb >> 16) as u8, (rgb >> 8) as u8, rgb as u8],
        name,
    }
}

/// The r/place 2022 palette, white first.
pub const PALETTE: [Color; 32] = [
    color(0xffffff, "white"),
    color(0x6d001a, "burgundy"),
    color(0xbe0039, "dark red"),
    color(0xff4500, "red"),
    color(0xffa800, "orange"),
    color(0xffd635, "yellow"),
    color(0xfff8b8, "pale yellow"),
    color(0x00a368, "dark green"),
    color(0x00cc78, "green"),
    color(0x7eed56, "light green"),
    color(0x00756f, "dark teal"),
    color(0x009eaa, "teal"),
    color(0x00ccc0, "light teal"),
    color(0x2450a4, "dark blue"),
    color(0x3690ea, "blue"),
    color(0x51e9f4, "light blue"),
    color(0x493ac1, "indigo"),
    color(0x6a5cff, "periwinkle"),
    color(0x94b3ff, "lavender"),
    color(0x811e9f, "dark purple"),
    color(0xb44ac0, "purple"),
    color(0xe4abff, "pale purple"),
    color(0xde107f, "magenta"),
    color(0xff3881, "pink"),
    color(0xff99aa, "light pink"),
    color(0x6d482f, "dark brown"),
    color(0x9c6926, "brown"),
    color(0xffb470, "beige"),
    color(0x000000, "black"),
    color(0x515252, "dark gray"),
    color(0x898d90, "gray"),
    color(0xd4d7d9, "light gray"),
];

/// The color selected when the page opens (black).
const DEFAULT_SELECTED: u8 = 28;

/// The color selected when the page of a canvas with the first `colors`
/// colors opens: black, or the color of its palette nearest to it.
pub fn default_selected(colors: u8) -> u8 {
    if DEFAULT_SELECTED < colors {
        DEFAULT_SELECTED
    } else {
        nearest_of([0, 0, 0], colors)
    }
}

/// A palette index known to be in range: the only way to get one is
/// [`ColorIndex::parse`], so code past the network edge cannot hold a bad color.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColorIndex(u8);

impl ColorIndex {
    pub fn parse(index: u8) -> Option<Self> {
        (usize::from(index) < PALETTE.len()).then_some(Self(index))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    pub fn color(self) -> &'static Color {
        &PALETTE[usize::from(self.0)]
    }
}

/// The palette as RGBA, indexed by color: what the browser's `ImageData` and
/// the PNG encoder need. Out-of-range indices (which a valid canvas never
/// holds) draw as transparent instead of panicking.
pub fn rgba(index: u8) -> [u8; 4] {
    match PALETTE.get(usize::from(index)) {
        Some(Color { rgb: [r, g, b], .. }) => [*r, *g, *b, 255],
        None => [0, 0, 0, 0],
    }
}

/// The palette color nearest to `rgb` (squared distance; an exact match
/// wins).
pub fn nearest(rgb: [u8; 3]) -> u8 {
    nearest_of(rgb, PALETTE.len() as u8)
}

/// The color nearest to `rgb` among the palette's first `colors` (a
/// canvas's own palette): how a template image's colors become placeable
/// ones.
pub fn nearest_of(rgb: [u8; 3], colors: u8) -> u8 {
    let distance = |color: &Color| {
        color
            .rgb
            .iter()
            .zip(rgb)
            .map(|(&a, b)| (i32::from(a) - i32::from(b)).pow(2))
            .sum::<i32>()
    };
    (0u8..colors.max(1))
        .zip(&PALETTE)
        .min_by_key(|(_, color)| distance(color))
        .map_or(0, |(index, _)| index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_smaller_palette_selects_and_matches_among_its_own_colors() {
        assert_eq!(default_selected(32), DEFAULT_SELECTED);
        let dark = default_selected(16);
        assert!(dark < 16);
        let [r, g, b] = PALETTE[usize::from(dark)].rgb;
        assert!(
            u32::from(r) + u32::from(g) + u32::from(b) < 3 * 128,
            "a dark one"
        );
        // Black itself is not among the first 16: its nearest there is.
        assert_eq!(nearest_of([0, 0, 0], 16), dark);
        assert_eq!(nearest([0, 0, 0]), DEFAULT_SELECTED);
    }

    #[test]
    fn palette_has_32_distinct_colors_white_first() {
        assert_eq!(PALETTE[0].hex(), "#ffffff");
        let mut seen: Vec<_> = PALETTE.iter().map(|c| c.rgb).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 32);
    }

    #[test]
    fn color_index_rejects_out_of_range() {
        assert!(ColorIndex::parse(31).is_some());
        assert!(ColorIndex::parse(32).is_none());
        assert_eq!(rgba(255), [0, 0, 0, 0]);
    }

    #[test]
    fn nearest_finds_exact_colors_and_rounds_others() {
        for (index, color) in (0u8..).zip(&PALETTE) {
            assert_eq!(nearest(color.rgb), index);
        }
        // Almost white is white; almost black is black.
        assert_eq!(nearest([250, 252, 249]), 0);
        let black = PALETTE.iter().position(|c| c.rgb == [0, 0, 0]);
        assert_eq!(black.map(|i| i as u8), Some(nearest([6, 3, 1])));
    }
}
