//! Any bytes as the query strings of `GET /api/pixel` (on canvases of any
//! size) and `GET /api/placements`, and as `POST /api/name`'s body: parsing
//! never panics, a pixel it answers is on the canvas, and a name it answers
//! is a valid one.

#![no_main]

use app::{
    name::DisplayName,
    requests::{parse_name_request, PixelQuery, PlacementsQuery},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // The first four bytes choose the canvas; the rest is the request.
    let (size, rest) = input.split_at(input.len().min(4));
    let mut size = size.to_vec();
    size.resize(4, 0);
    let width = u16::from_le_bytes([size[0], size[1]]);
    let height = u16::from_le_bytes([size[2], size[3]]);
    if let Ok(query) = std::str::from_utf8(rest) {
        if let Ok(pixel) = PixelQuery::parse(query, width, height) {
            assert!(pixel.x < width && pixel.y < height);
        }
        let _ = PlacementsQuery::parse(query);
    }
    if let Ok(name) = parse_name_request(rest) {
        assert_eq!(DisplayName::parse(name.as_str()), Ok(name));
    }
});
