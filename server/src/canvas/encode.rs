//! The snapshot's encodings: gzip for `/api/canvas`, an indexed PNG for
//! `/api/canvas.png`. [`super::snapshot`] decides when they are made. And a
//! watched template's image, with its clear pixels.

use app::{geometry::CanvasSize, palette::PALETTE, template::UNKNOWN};
use flate2::{write::GzEncoder, Compression};
use std::io::Write;

/// gzip at the fastest level: a canvas is mostly runs of the same byte, which
/// level 1 already shrinks by two orders of magnitude.
pub fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(raw.len() / 16), Compression::fast());
    encoder
        .write_all(raw)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// An 8-bit indexed PNG: the canvas bytes are already palette indices, so
/// they go in unchanged and the palette becomes the PNG's PLTE chunk.
pub fn png(size: CanvasSize, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, u32::from(size.width), u32::from(size.height));
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(PALETTE.iter().flat_map(|c| c.rgb).collect::<Vec<u8>>());
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .expect("the header of a valid size writes to a Vec");
    writer
        .write_image_data(pixels)
        .expect("a snapshot has exactly width*height bytes");
    writer.finish().expect("writing to a Vec cannot fail");
    out
}

/// A watched template's image: an indexed PNG of the palette and one
/// entry more, fully transparent, for the pixels it leaves alone
/// ([`UNKNOWN`]).
pub fn template_png(width: u16, height: u16, pixels: &[u8]) -> Vec<u8> {
    let clear = PALETTE.len() as u8;
    let indices: Vec<u8> = pixels
        .iter()
        .map(|&c| if c == UNKNOWN { clear } else { c })
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, u32::from(width), u32::from(height));
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    let mut palette: Vec<u8> = PALETTE.iter().flat_map(|c| c.rgb).collect();
    palette.extend([0, 0, 0]);
    encoder.set_palette(palette);
    let mut alpha = vec![255u8; PALETTE.len()];
    alpha.push(0);
    encoder.set_trns(alpha);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .expect("the header of a valid size writes to a Vec");
    writer
        .write_image_data(&indices)
        .expect("a template has exactly width*height pixels");
    writer.finish().expect("writing to a Vec cannot fail");
    out
}
