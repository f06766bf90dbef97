//! The heatmap's past: when each pixel was last placed, to the second, so a
//! page that opens sees where tiles went in the last ten minutes and not
//! only from then on. The sync task records every batch it applies;
//! `GET /api/heatmap.png` serves it as an 8-bit grayscale PNG (255: just
//! now, fading to 1 at [`WINDOW`]; 0: longer ago or never), made at most
//! once per [`MAX_AGE`] whatever the request rate, on the blocking pool.

use app::{chunk::WHOLE_CANVAS_MAX_AREA, geometry::CanvasSize, protocol::Tile};
use bytes::Bytes;
use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::Mutex;

/// How far back the heatmap looks (the page's window too).
pub const WINDOW: Duration = Duration::from_secs(app::heat::WINDOW_SECS as u64);

/// How old a served heatmap may be.
pub const MAX_AGE: Duration = Duration::from_secs(1);

pub struct Heat {
    placed_at: RwLock<PlacedAt>,
    /// The newest PNG made, and when.
    newest: Mutex<Option<(Instant, Bytes)>>,
}

/// Unix seconds of the last placement on each pixel of a canvas of
/// `size`; 0: none seen.
struct PlacedAt {
    size: CanvasSize,
    seconds: Vec<u32>,
}

impl PlacedAt {
    /// Kept for a canvas sent whole only; a larger one (by chunk) keeps
    /// none (`/api/heatmap.png` is refused for it).
    fn new(size: CanvasSize) -> Self {
        let area = if size.area() > WHOLE_CANVAS_MAX_AREA {
            0
        } else {
            size.area()
        };
        Self {
            size,
            seconds: vec![0; area],
        }
    }
}

impl Heat {
    pub fn new(size: CanvasSize) -> Self {
        Self {
            placed_at: RwLock::new(PlacedAt::new(size)),
            newest: Mutex::new(None),
        }
    }

    /// Records tiles placed at `at_ms` (unix milliseconds).
    pub fn record(&self, tiles: &[Tile], at_ms: u64) {
        let at = u32::try_from(at_ms / 1000).unwrap_or(u32::MAX);
        let mut placed_at = self.placed_at.write().unwrap_or_else(|e| e.into_inner());
        let PlacedAt { size, seconds } = &mut *placed_at;
        for tile in tiles {
            let coord = size.coord(tile.x, tile.y);
            if let Some(slot) = coord.and_then(|c| seconds.get_mut(c.index)) {
                *slot = at;
            }
        }
    }

    /// The canvas was enlarged: each pixel keeps its heat at its place.
    pub fn resize(&self, size: CanvasSize) {
        let mut placed_at = self.placed_at.write().unwrap_or_else(|e| e.into_inner());
        let mut resized = PlacedAt::new(size);
        let old = &*placed_at;
        for (index, &at) in old.seconds.iter().enumerate() {
            let coord = old.size.coord_of_index(index);
            let to = coord.and_then(|c| resized.size.coord(c.x, c.y));
            if let Some(slot) = to.and_then(|c| resized.seconds.get_mut(c.index)) {
                *slot = at;
            }
        }
        *placed_at = resized;
    }

    /// The heatmap as a PNG, at most [`MAX_AGE`] old.
    pub async fn png(self: &Arc<Self>) -> Bytes {
        let mut newest = self.newest.lock().await;
        if let Some((made, png)) = newest.as_ref() {
            if made.elapsed() < MAX_AGE {
                return png.clone();
            }
        }
        let heat = self.clone();
        let png: Bytes = tokio::task::spawn_blocking(move || {
            let now = unix_seconds(SystemTime::now());
            let (size, levels) = {
                let placed_at = heat.placed_at.read().unwrap_or_else(|e| e.into_inner());
                (placed_at.size, levels(&placed_at.seconds, now))
            };
            gray_png(size, &levels)
        })
        .await
        .unwrap_or_default()
        .into();
        *newest = Some((Instant::now(), png.clone()));
        png
    }
}

fn unix_seconds(at: SystemTime) -> u32 {
    let seconds = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

/// Each pixel's level at `now` (unix seconds): 255 for a placement this
/// second, down to 1 just inside the window, 0 outside it or never
/// (`app::heat`, which the page reads them back with).
pub fn levels(placed_at: &[u32], now: u32) -> Vec<u8> {
    placed_at
        .iter()
        .map(|&at| match at {
            0 => 0,
            at => app::heat::level(now.saturating_sub(at)),
        })
        .collect()
}

fn gray_png(size: CanvasSize, levels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, u32::from(size.width), u32::from(size.height));
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .expect("the header of a valid size writes to a Vec");
    writer
        .write_image_data(levels)
        .expect("one level per pixel");
    writer.finish().expect("writing to a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_fade_over_the_window_and_vanish_after_it() {
        let now = 1_000_000;
        let window = WINDOW.as_secs() as u32;
        let placed = [
            0,
            now,
            now - 1,
            now - window / 2,
            now - window + 1,
            now - window,
        ];
        assert_eq!(levels(&placed, now), vec![0, 255, 254, 128, 1, 0]);
    }

    #[test]
    fn recorded_tiles_show_in_the_png() {
        let size = CanvasSize {
            width: 4,
            height: 2,
        };
        let heat = Heat::new(size);
        let now_ms = u64::from(unix_seconds(SystemTime::now())) * 1000;
        heat.record(
            &[Tile {
                x: 1,
                y: 1,
                color: 3,
            }],
            now_ms,
        );
        heat.record(
            &[Tile {
                x: 9,
                y: 9,
                color: 3,
            }],
            now_ms,
        ); // off the canvas
        let placed_at = heat.placed_at.read().unwrap().seconds.clone();
        let levels = levels(&placed_at, unix_seconds(SystemTime::now()));
        assert_eq!(levels.iter().filter(|&&l| l > 0).count(), 1);
        assert!(levels[5] >= 254);
    }

    #[test]
    fn an_enlarged_canvas_keeps_each_pixels_heat_at_its_place() {
        let size = |width, height| CanvasSize { width, height };
        let heat = Heat::new(size(4, 2));
        let tile = Tile {
            x: 3,
            y: 1,
            color: 1,
        };
        heat.record(&[tile], 5_000);
        heat.resize(size(6, 3));
        let placed_at = heat.placed_at.read().unwrap();
        assert_eq!(placed_at.seconds.len(), 18);
        assert_eq!(placed_at.seconds[6 + 3], 5, "(3, 1) on a canvas 6 wide");
        assert_eq!(placed_at.seconds.iter().filter(|&&s| s > 0).count(), 1);
    }
}
