//! The snapshot's encodings: gzip for `/api/canvas`, an indexed PNG for
//! `/api/canvas.png`. [`super::snapshot`] decides when they are made.

use app::{geometry::CanvasSize, palette::PALETTE};
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
