//! The chunks as HTTP serves them (`/api/chunks/…`): each chunk's pixels
//! gzipped once per version, whoever asks. A watching page asks for the
//! chunks its view touches, so many pages ask for the same few; the
//! encoding (65,536 bytes through gzip) is made by the first request for
//! a version and shared, on the blocking pool; so is its PNG, a shared
//! link's preview. The cache is bounded: past [`MAX_BYTES`] it starts over.
//! Beside the chunks, a preview of the whole canvas shrunk to at most
//! [`PREVIEW_SIDE`] pixels a side, remade at most every
//! [`PREVIEW_MAX_AGE`].

use super::{
    encode,
    mirror::{Mirror, Version},
};
use app::{
    chunk::{ChunkId, CHUNK_AREA, CHUNK_SIDE},
    geometry::CanvasSize,
};
use bytes::Bytes;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::OnceCell;

/// The gzipped chunks kept, at most (a blank chunk takes about 100 bytes,
/// a painted one a few kilobytes).
const MAX_BYTES: usize = 64 << 20;

pub struct ChunkCache {
    mirror: Arc<Mirror>,
    slots: Mutex<Slots>,
    /// The newest preview of the whole canvas, and when it was made.
    preview: tokio::sync::Mutex<Option<(Instant, Preview)>>,
}

/// The whole canvas shrunk to at most [`PREVIEW_SIDE`] pixels a side, as
/// a PNG (`/api/preview.png`): the page's view from far out, and its first
/// paint.
#[derive(Clone)]
pub struct Preview {
    /// Canvas pixels per preview pixel, across and down.
    pub scale: u16,
    pub png: Bytes,
}

/// The preview's longer side, in pixels.
pub const PREVIEW_SIDE: u16 = 1024;

/// How old a served preview may be: it is made at most this often, on the
/// blocking pool, whatever the request rate.
pub const PREVIEW_MAX_AGE: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Slots {
    by_chunk: HashMap<ChunkId, Arc<Slot>>,
    bytes: usize,
}

/// One chunk at one version, encoded on first use.
struct Slot {
    epoch: u64,
    version: u64,
    encoded: OnceCell<EncodedChunk>,
    /// As a PNG, for a link's preview (`/api/view.png`).
    png: OnceCell<Bytes>,
}

/// A chunk's pixels, gzipped, with what they hold.
#[derive(Clone)]
pub struct EncodedChunk {
    /// The canvas's version when they were read: they hold every placement
    /// up to its seq.
    pub at: Version,
    /// The chunk's version: the seq of its last placement.
    pub version: u64,
    pub gzip: Bytes,
}

impl ChunkCache {
    pub fn new(mirror: Arc<Mirror>) -> Self {
        Self {
            mirror,
            slots: Mutex::default(),
            preview: tokio::sync::Mutex::new(None),
        }
    }

    /// The preview of the whole canvas, at most [`PREVIEW_MAX_AGE`] old.
    pub async fn preview(&self) -> Preview {
        let mut newest = self.preview.lock().await;
        if let Some((made, preview)) = newest.as_ref() {
            if made.elapsed() < PREVIEW_MAX_AGE {
                return preview.clone();
            }
        }
        let mirror = self.mirror.clone();
        let (scale, png) = tokio::task::spawn_blocking(move || {
            let (scale, size, pixels) = mirror.preview(PREVIEW_SIDE);
            (scale, encode::png(size, &pixels))
        })
        .await
        .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        let preview = Preview {
            scale,
            png: png.into(),
        };
        *newest = Some((Instant::now(), preview.clone()));
        preview
    }

    /// `chunk` as the mirror has it now, gzipped.
    pub async fn get(&self, chunk: ChunkId) -> EncodedChunk {
        let slot = self.slot(chunk);
        let encoded = slot
            .encoded
            .get_or_init(|| async {
                let copy = self.mirror.chunk(chunk);
                let pixels = copy.pixels;
                let gzip =
                    blocking(move || encode::gzip(pixels.as_deref().unwrap_or(&BLANK))).await;
                self.account(gzip.len());
                EncodedChunk {
                    at: copy.at,
                    version: copy.version,
                    gzip: gzip.into(),
                }
            })
            .await;
        encoded.clone()
    }

    /// `chunk` as the mirror has it now, as an indexed PNG of 256 × 256.
    pub async fn png(&self, chunk: ChunkId) -> Bytes {
        let slot = self.slot(chunk);
        let png = slot
            .png
            .get_or_init(|| async {
                let pixels = self.mirror.chunk(chunk).pixels;
                let size = CanvasSize {
                    width: CHUNK_SIDE,
                    height: CHUNK_SIDE,
                };
                let png =
                    blocking(move || encode::png(size, pixels.as_deref().unwrap_or(&BLANK))).await;
                self.account(png.len());
                Bytes::from(png)
            })
            .await;
        png.clone()
    }

    /// The slot of `chunk` at its version now.
    fn slot(&self, chunk: ChunkId) -> Arc<Slot> {
        let (epoch, version) = (
            self.mirror.version().epoch,
            self.mirror.chunk_version(chunk),
        );
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        match slots.by_chunk.get(&chunk) {
            Some(slot) if slot.epoch == epoch && slot.version == version => slot.clone(),
            _ => {
                let slot = Arc::new(Slot {
                    epoch,
                    version,
                    encoded: OnceCell::new(),
                    png: OnceCell::new(),
                });
                slots.by_chunk.insert(chunk, slot.clone());
                slot
            }
        }
    }

    /// Counts an encoding kept; past the bound, the cache starts over.
    fn account(&self, bytes: usize) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.bytes += bytes;
        if slots.bytes > MAX_BYTES {
            *slots = Slots::default();
        }
    }
}

/// A chunk never painted.
static BLANK: [u8; CHUNK_AREA] = [0; CHUNK_AREA];

/// Runs an encoding on the blocking pool.
async fn blocking(encode: impl FnOnce() -> Vec<u8> + Send + 'static) -> Vec<u8> {
    tokio::task::spawn_blocking(encode)
        .await
        .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Chunks, Snapshot};
    use app::protocol::Tile;
    use std::io::Read;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[tokio::test]
    async fn a_chunk_is_encoded_once_per_version() {
        let size = CanvasSize {
            width: 4096,
            height: 4096,
        };
        let snapshot = Snapshot {
            epoch: 3,
            seq: 0,
            size: None,
            chunks: Chunks::new(),
        };
        let mirror = Arc::new(Mirror::new(size, snapshot, 0));
        let cache = ChunkCache::new(mirror.clone());
        let chunk = ChunkId { cx: 2, cy: 1 };
        let blank = cache.get(chunk).await;
        assert_eq!((blank.version, blank.at.seq), (0, 0));
        assert_eq!(gunzip(&blank.gzip), vec![0; CHUNK_AREA]);
        let tile = Tile {
            x: 2 * 256 + 3,
            y: 256 + 1,
            color: 9,
        };
        mirror.apply(&[tile]);
        mirror.apply(&[Tile {
            x: 0,
            y: 0,
            color: 1,
        }]); // another chunk
        let painted = cache.get(chunk).await;
        assert_eq!((painted.version, painted.at.seq), (1, 2));
        assert_eq!(gunzip(&painted.gzip)[256 + 3], 9);
        let again = cache.get(chunk).await;
        assert_eq!(
            again.gzip.as_ptr(),
            painted.gzip.as_ptr(),
            "not encoded again"
        );
    }
}
