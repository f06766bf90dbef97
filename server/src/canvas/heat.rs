//! The heatmap's past: when each pixel was last placed, to the second, so a
//! page that opens sees where tiles went in the last ten minutes and not
//! only from then on. The sync task records every batch it applies;
//! `GET /api/heatmap.png` serves it as an 8-bit grayscale PNG (255: just
//! now, fading to 1 at [`WINDOW`]; 0: longer ago or never), made at most
//! once per [`MAX_AGE`] whatever the request rate, on the blocking pool.

use app::{
    chunk::{index_in_chunk, ChunkId, CHUNK_AREA, CHUNK_SIDE, WHOLE_CANVAS_MAX_AREA},
    geometry::CanvasSize,
    protocol::Tile,
};
use bytes::Bytes;
use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, OnceLock, RwLock},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::Mutex;

/// How far back the heatmap looks (the page's window too).
pub const WINDOW: Duration = Duration::from_secs(app::heat::WINDOW_SECS as u64);

/// How old a served heatmap may be.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// The placements a chunk of a canvas kept by chunk remembers, newest
/// last: past this the oldest are forgotten (their heat fades early).
const MAX_PER_CHUNK: usize = CHUNK_AREA;

/// Chunk heatmaps kept made at once (each at most [`MAX_AGE`] old).
const MAX_CHUNK_PNGS: usize = 1024;

pub struct Heat {
    placed_at: RwLock<PlacedAt>,
    /// The newest PNG made, and when.
    newest: Mutex<Option<(Instant, Bytes)>>,
    /// The newest PNG of each chunk asked for lately, and when.
    chunk_pngs: std::sync::Mutex<HashMap<ChunkId, (Instant, Bytes)>>,
}

/// When pixels were last placed, to the second (0: none seen).
struct PlacedAt {
    size: CanvasSize,
    pixels: Pixels,
}

enum Pixels {
    /// A canvas sent whole: every pixel's last placement (unix seconds).
    Whole(Vec<u32>),
    /// A canvas too large for that: each chunk's placements within the
    /// window (index in the chunk, unix seconds), oldest first, so memory
    /// follows the placement rate, not the canvas.
    ByChunk {
        recent: HashMap<ChunkId, VecDeque<(u16, u32)>>,
        /// When chunks without a placement in the window were last let go.
        swept: u32,
    },
}

impl PlacedAt {
    fn new(size: CanvasSize) -> Self {
        let pixels = if size.area() > WHOLE_CANVAS_MAX_AREA {
            Pixels::ByChunk {
                recent: HashMap::new(),
                swept: 0,
            }
        } else {
            Pixels::Whole(vec![0; size.area()])
        };
        Self { size, pixels }
    }

    fn record(&mut self, x: u16, y: u16, at: u32) {
        let Some(coord) = self.size.coord(x, y) else {
            return;
        };
        match &mut self.pixels {
            Pixels::Whole(seconds) => {
                if let Some(slot) = seconds.get_mut(coord.index) {
                    *slot = at;
                }
            }
            Pixels::ByChunk { recent, swept } => {
                let placements = recent.entry(ChunkId::of(x, y)).or_default();
                if placements.len() == MAX_PER_CHUNK {
                    placements.pop_front();
                }
                placements.push_back((index_in_chunk(x, y) as u16, at));
                let window = WINDOW.as_secs() as u32;
                if at >= swept.saturating_add(window) {
                    *swept = at;
                    let since = at.saturating_sub(window);
                    recent.retain(|_, placements| {
                        while placements.front().is_some_and(|&(_, at)| at <= since) {
                            placements.pop_front();
                        }
                        !placements.is_empty()
                    });
                }
            }
        }
    }

    /// Every placement seen: pixel and unix seconds.
    fn placements(&self) -> Vec<(u16, u16, u32)> {
        match &self.pixels {
            Pixels::Whole(seconds) => seconds
                .iter()
                .enumerate()
                .filter(|(_, &at)| at > 0)
                .filter_map(|(index, &at)| {
                    let coord = self.size.coord_of_index(index)?;
                    Some((coord.x, coord.y, at))
                })
                .collect(),
            Pixels::ByChunk { recent, .. } => recent
                .iter()
                .flat_map(|(chunk, placements)| {
                    let (x0, y0) = chunk.origin();
                    placements.iter().filter_map(move |&(index, at)| {
                        let x = u16::try_from(x0 + u32::from(index % CHUNK_SIDE)).ok()?;
                        let y = u16::try_from(y0 + u32::from(index / CHUNK_SIDE)).ok()?;
                        Some((x, y, at))
                    })
                })
                .collect(),
        }
    }

    /// One chunk's levels at `now`, row by row; `None` when nothing was
    /// placed in it within the window.
    fn chunk_levels(&self, chunk: ChunkId, now: u32) -> Option<Vec<u8>> {
        let mut levels = vec![0; CHUNK_AREA];
        let mut any = false;
        let mut mark = |index: usize, at: u32| {
            let level = app::heat::level(now.saturating_sub(at));
            if at > 0 && level > 0 {
                levels[index] = level;
                any = true;
            }
        };
        match &self.pixels {
            Pixels::Whole(seconds) => {
                let (x0, y0) = chunk.origin();
                for dy in 0..u32::from(CHUNK_SIDE) {
                    for dx in 0..u32::from(CHUNK_SIDE) {
                        let (Ok(x), Ok(y)) = (u16::try_from(x0 + dx), u16::try_from(y0 + dy))
                        else {
                            continue;
                        };
                        if let Some(coord) = self.size.coord(x, y) {
                            mark(index_in_chunk(x, y), seconds[coord.index]);
                        }
                    }
                }
            }
            Pixels::ByChunk { recent, .. } => {
                for &(index, at) in recent.get(&chunk).into_iter().flatten() {
                    mark(usize::from(index), at);
                }
            }
        }
        any.then_some(levels)
    }
}

impl Heat {
    pub fn new(size: CanvasSize) -> Self {
        Self {
            placed_at: RwLock::new(PlacedAt::new(size)),
            newest: Mutex::new(None),
            chunk_pngs: std::sync::Mutex::default(),
        }
    }

    /// Records tiles placed at `at_ms` (unix milliseconds).
    pub fn record(&self, tiles: &[Tile], at_ms: u64) {
        let at = u32::try_from(at_ms / 1000).unwrap_or(u32::MAX);
        let mut placed_at = self.placed_at.write().unwrap_or_else(|e| e.into_inner());
        for tile in tiles {
            placed_at.record(tile.x, tile.y, at);
        }
    }

    /// The canvas was enlarged: each pixel keeps its heat at its place.
    pub fn resize(&self, size: CanvasSize) {
        let mut placed_at = self.placed_at.write().unwrap_or_else(|e| e.into_inner());
        let mut resized = PlacedAt::new(size);
        let mut placements = placed_at.placements();
        placements.sort_by_key(|&(_, _, at)| at);
        for (x, y, at) in placements {
            resized.record(x, y, at);
        }
        *placed_at = resized;
    }

    /// One chunk's heatmap as a 256 × 256 PNG (the same levels as the
    /// whole canvas's), at most [`MAX_AGE`] old. A chunk without a
    /// placement in the window gets one PNG made once.
    pub async fn chunk_png(self: &Arc<Self>, chunk: ChunkId) -> Bytes {
        if let Some((made, png)) = self.chunk_pngs().get(&chunk) {
            if made.elapsed() < MAX_AGE {
                return png.clone();
            }
        }
        let heat = self.clone();
        let made = tokio::task::spawn_blocking(move || {
            let now = unix_seconds(SystemTime::now());
            let levels = {
                let placed_at = heat.placed_at.read().unwrap_or_else(|e| e.into_inner());
                placed_at.chunk_levels(chunk, now)
            };
            levels.map(|levels| Bytes::from(gray_png(CHUNK_SIZE, &levels)))
        })
        .await
        .ok()
        .flatten();
        let Some(png) = made else {
            static COLD: OnceLock<Bytes> = OnceLock::new();
            return COLD
                .get_or_init(|| gray_png(CHUNK_SIZE, &[0; CHUNK_AREA]).into())
                .clone();
        };
        let mut pngs = self.chunk_pngs();
        if pngs.len() >= MAX_CHUNK_PNGS {
            pngs.retain(|_, (made, _)| made.elapsed() < MAX_AGE);
        }
        if pngs.len() < MAX_CHUNK_PNGS {
            pngs.insert(chunk, (Instant::now(), png.clone()));
        }
        png
    }

    fn chunk_pngs(&self) -> std::sync::MutexGuard<'_, HashMap<ChunkId, (Instant, Bytes)>> {
        self.chunk_pngs.lock().unwrap_or_else(|e| e.into_inner())
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
            let placed_at = heat.placed_at.read().unwrap_or_else(|e| e.into_inner());
            match &placed_at.pixels {
                Pixels::Whole(seconds) => gray_png(placed_at.size, &levels(seconds, now)),
                // Served by chunk only (`/api/heatmap.png` is refused).
                Pixels::ByChunk { .. } => Vec::new(),
            }
        })
        .await
        .unwrap_or_default()
        .into();
        *newest = Some((Instant::now(), png.clone()));
        png
    }
}

const CHUNK_SIZE: CanvasSize = CanvasSize {
    width: CHUNK_SIDE,
    height: CHUNK_SIDE,
};

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
        let levels = levels(&whole(&heat), unix_seconds(SystemTime::now()));
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
        let seconds = whole(&heat);
        assert_eq!(seconds.len(), 18);
        assert_eq!(seconds[6 + 3], 5, "(3, 1) on a canvas 6 wide");
        assert_eq!(seconds.iter().filter(|&&s| s > 0).count(), 1);
    }

    fn whole(heat: &Heat) -> Vec<u32> {
        match &heat.placed_at.read().unwrap().pixels {
            Pixels::Whole(seconds) => seconds.clone(),
            Pixels::ByChunk { .. } => panic!("kept by chunk"),
        }
    }

    fn tile(x: u16, y: u16) -> Tile {
        Tile { x, y, color: 1 }
    }

    #[test]
    fn a_canvas_by_chunk_keeps_the_window_of_each_painted_chunk_only() {
        let heat = Heat::new(CanvasSize {
            width: 65_535,
            height: 65_535,
        });
        let window = WINDOW.as_secs() as u32;
        let start = 1_000_000;
        heat.record(
            &[tile(300, 10), tile(60_000, 60_000)],
            u64::from(start) * 1000,
        );
        let placed_at = heat.placed_at.read().unwrap();
        let chunk = ChunkId { cx: 1, cy: 0 };
        let levels = placed_at.chunk_levels(chunk, start + 1).unwrap();
        assert_eq!(levels[index_in_chunk(300, 10)], 254);
        assert_eq!(levels.iter().filter(|&&l| l > 0).count(), 1);
        assert_eq!(
            placed_at.chunk_levels(ChunkId { cx: 2, cy: 0 }, start),
            None
        );
        assert_eq!(placed_at.chunk_levels(chunk, start + window), None, "faded");
        drop(placed_at);

        // A window later the chunks without a newer placement are let go.
        heat.record(&[tile(301, 10)], u64::from(start + window + 1) * 1000);
        let placed_at = heat.placed_at.read().unwrap();
        let Pixels::ByChunk { recent, .. } = &placed_at.pixels else {
            panic!("kept whole");
        };
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[&chunk].len(), 1);
    }

    #[test]
    fn a_canvas_grown_past_the_whole_canvas_size_keeps_its_heat_by_chunk() {
        let heat = Heat::new(CanvasSize {
            width: 1000,
            height: 1000,
        });
        heat.record(&[tile(999, 500)], 7_000);
        heat.resize(CanvasSize {
            width: 4096,
            height: 4096,
        });
        let levels = heat
            .placed_at
            .read()
            .unwrap()
            .chunk_levels(ChunkId::of(999, 500), 8)
            .unwrap();
        assert_eq!(levels[index_in_chunk(999, 500)], 254);
    }
}
