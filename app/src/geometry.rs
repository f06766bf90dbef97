//! Canvas dimensions and coordinates. A pixel's index is `y * width + x`.

use serde::{Deserialize, Serialize};

/// The canvas's size. Both sides are at least 1 and fit a `u16`, because the
/// wire format carries coordinates as `u16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanvasSize {
    pub width: u16,
    pub height: u16,
}

impl CanvasSize {
    /// Number of pixels (and bytes of a snapshot).
    pub fn area(self) -> usize {
        usize::from(self.width) * usize::from(self.height)
    }

    /// The coordinate, if it lies on the canvas.
    pub fn coord(self, x: u16, y: u16) -> Option<Coord> {
        (x < self.width && y < self.height).then_some(Coord {
            x,
            y,
            index: usize::from(y) * usize::from(self.width) + usize::from(x),
        })
    }

    /// The coordinate of a pixel index, if it lies on the canvas.
    pub fn coord_of_index(self, index: usize) -> Option<Coord> {
        let width = usize::from(self.width);
        let (x, y) = (index % width, index / width);
        self.coord(u16::try_from(x).ok()?, u16::try_from(y).ok()?)
    }
}

/// A coordinate known to lie on the canvas it was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Coord {
    pub x: u16,
    pub y: u16,
    /// `y * width + x`
    pub index: usize,
}

impl Coord {
    /// The pixel's key in the stores' records of who placed it:
    /// `y * 65536 + x`, which no growth of the canvas changes (its
    /// `index` depends on the width).
    pub fn record_key(self) -> u32 {
        (u32::from(self.y) << 16) | u32::from(self.x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coords_outside_the_canvas_are_refused() {
        let size = CanvasSize {
            width: 10,
            height: 5,
        };
        assert_eq!(size.coord(9, 4).map(|c| c.index), Some(49));
        assert!(size.coord(10, 0).is_none());
        assert!(size.coord(0, 5).is_none());
        assert_eq!(size.coord_of_index(49), size.coord(9, 4));
        assert!(size.coord_of_index(50).is_none());
    }
}
