//! A template the server watches (`POST /api/templates`): its pixels as the
//! contract writes them, one character per pixel, row by row: `.` for a
//! pixel the template leaves alone, else the palette index in the base64url
//! alphabet (`A`–`Z` 0–25, `a`–`z` 26–51, `0`–`9` 52–61, `-` 62, `_` 63).
//! The one definition, used by the page to send one and by the server to
//! accept it.

use crate::template::UNKNOWN;
use thiserror::Error;

/// A side of a watched template is at most this many pixels.
pub const MAX_SIDE: u16 = 512;

/// A watched template covers at most this many pixels (256 × 256).
pub const MAX_AREA: usize = 65_536;

/// What a template pixel the template leaves alone is written as.
const NONE_CHAR: u8 = b'.';

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PixelsError {
    #[error("a watched template is 1 to 512 pixels a side and at most 65,536 pixels")]
    Size,
    #[error("pixels has one character per pixel: width × height of them")]
    Length,
    #[error("pixels holds a character that is not a palette color or '.'")]
    Character,
    #[error("pixels names a color the canvas's palette does not have")]
    Color,
    #[error("a watched template needs at least one pixel with a color")]
    Empty,
}

/// Whether a template of `width × height` may be watched.
pub fn check_size(width: u16, height: u16) -> Result<(), PixelsError> {
    let fits = (1..=MAX_SIDE).contains(&width)
        && (1..=MAX_SIDE).contains(&height)
        && usize::from(width) * usize::from(height) <= MAX_AREA;
    fits.then_some(()).ok_or(PixelsError::Size)
}

/// Writes palette indices ([`UNKNOWN`] for none) as the contract's string.
pub fn encode_pixels(colors: &[u8]) -> String {
    colors
        .iter()
        .map(|&color| match ALPHABET.get(usize::from(color)) {
            Some(&c) if color != UNKNOWN => char::from(c),
            _ => char::from(NONE_CHAR),
        })
        .collect()
}

/// Reads the contract's string of a `width × height` template over a
/// palette of `colors` colors: a palette index per pixel, [`UNKNOWN`] for
/// none.
pub fn decode_pixels(
    pixels: &str,
    width: u16,
    height: u16,
    colors: u8,
) -> Result<Vec<u8>, PixelsError> {
    check_size(width, height)?;
    if pixels.len() != usize::from(width) * usize::from(height) {
        return Err(PixelsError::Length);
    }
    let decoded = pixels
        .bytes()
        .map(|c| {
            if c == NONE_CHAR {
                return Ok(UNKNOWN);
            }
            let index = ALPHABET
                .iter()
                .position(|&a| a == c)
                .ok_or(PixelsError::Character)? as u8;
            if index < colors {
                Ok(index)
            } else {
                Err(PixelsError::Color)
            }
        })
        .collect::<Result<Vec<u8>, _>>()?;
    if decoded.iter().all(|&c| c == UNKNOWN) {
        return Err(PixelsError::Empty);
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_survive_their_encoding_and_bad_ones_are_refused() {
        let colors = [0, 1, 25, 26, 31, UNKNOWN];
        let text = encode_pixels(&colors);
        assert_eq!(text, "ABZaf.");
        assert_eq!(decode_pixels(&text, 3, 2, 32), Ok(colors.to_vec()));
        assert_eq!(decode_pixels(&text, 2, 2, 32), Err(PixelsError::Length));
        assert_eq!(
            decode_pixels("AB!...", 3, 2, 32),
            Err(PixelsError::Character)
        );
        assert_eq!(decode_pixels("ABg...", 3, 2, 32), Err(PixelsError::Color));
        assert_eq!(decode_pixels("......", 3, 2, 32), Err(PixelsError::Empty));
        assert_eq!(decode_pixels("A", 0, 1, 32), Err(PixelsError::Size));
        assert_eq!(check_size(512, 128), Ok(()));
        assert_eq!(check_size(512, 129), Err(PixelsError::Size));
    }
}
