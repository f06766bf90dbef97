//! A client that watches chunks (`--view`) instead of the whole canvas:
//! which chunks its view touches, what share of the canvas's tiles it
//! should get, and, for a tracked client, a copy of each chunk kept the
//! way the browser keeps it ([`app::chunk_sync`]), to compare with
//! `/api/chunks` once the run is quiet.

use app::{
    chunk,
    chunk::{covering, ChunkId, CHUNK_AREA},
    chunk_sync::{ViewAction, ViewSync},
    geometry::CanvasSize,
    protocol::{ClientMessage, ServerMessage, Tile},
};
use std::collections::{BTreeSet, HashMap};
use tokio::sync::mpsc;

/// The area a client looks at: its top-left pixel and side.
#[derive(Debug, Clone, Copy)]
pub struct Area {
    pub x0: u32,
    pub y0: u32,
    pub side: u32,
}

impl Area {
    /// The chunks it touches on `canvas`.
    pub fn chunks(self, canvas: CanvasSize) -> Vec<ChunkId> {
        covering(
            canvas,
            self.x0,
            self.y0,
            self.x0 + self.side,
            self.y0 + self.side,
        )
    }

    /// Whether `tile` lies in one of the chunks it touches.
    pub fn holds(self, tile: Tile) -> bool {
        let side = u32::from(chunk::CHUNK_SIDE);
        let chunk = ChunkId::of(tile.x, tile.y);
        let inside = |c: u16, start: u32| {
            let c = u32::from(c);
            c >= start / side && c <= (start + self.side.max(1) - 1) / side
        };
        inside(chunk.cx, self.x0) && inside(chunk.cy, self.y0)
    }
}

/// The share of the canvas's tiles `chunks` get (each holds 65,536 of its
/// pixels, fewer on the edges: close enough for a ratio).
pub fn share(chunks: usize, canvas: CanvasSize) -> f64 {
    (chunks * CHUNK_AREA) as f64 / canvas.area().max(1) as f64
}

/// A fetched chunk: which, the version asked for, and the answer (pixels,
/// epoch, the chunk's version), if there was one.
type Fetched = (ChunkId, u64, Option<(Vec<u8>, u64, u64)>);

/// A tracked client's chunks.
pub struct Copies {
    sync: ViewSync,
    pixels: HashMap<ChunkId, Vec<u8>>,
    fetched: mpsc::UnboundedReceiver<Fetched>,
    fetch: mpsc::UnboundedSender<Fetched>,
    /// Frames the machine asked to send.
    pub outgoing: Vec<ClientMessage>,
}

impl Default for Copies {
    fn default() -> Self {
        let (fetch, fetched) = mpsc::unbounded_channel();
        Self {
            sync: ViewSync::new(),
            pixels: HashMap::new(),
            fetched,
            fetch,
            outgoing: Vec::new(),
        }
    }
}

impl Copies {
    /// Watches `chunks` from now on.
    pub fn view(&mut self, chunks: &[ChunkId], http: &reqwest::Client, target: &str) {
        let wanted: BTreeSet<ChunkId> = chunks.iter().copied().collect();
        let actions = self.sync.view(&wanted);
        self.perform(actions, http, target);
    }

    pub fn received(&mut self, message: &ServerMessage, http: &reqwest::Client, target: &str) {
        let actions = self.sync.received(message);
        self.perform(actions, http, target);
    }

    /// The next chunk fetched.
    pub async fn next_fetched(&mut self) -> Option<Fetched> {
        self.fetched.recv().await
    }

    /// Takes in a chunk fetched.
    pub fn on_fetched(
        &mut self,
        (chunk, version, answer): Fetched,
        http: &reqwest::Client,
        target: &str,
    ) {
        let actions = match answer {
            Some((pixels, epoch, served)) => {
                let Some(actions) = self.sync.loaded(chunk, version, epoch, served) else {
                    return;
                };
                if actions.iter().any(|a| matches!(a, ViewAction::Install(..))) {
                    self.pixels.insert(chunk, pixels);
                }
                actions
            }
            None => self.sync.load_failed(chunk, version),
        };
        self.perform(actions, http, target);
    }

    /// The chunks it holds as current, with their pixels.
    pub fn into_live(self) -> Vec<(ChunkId, Vec<u8>)> {
        let Self { sync, pixels, .. } = self;
        pixels
            .into_iter()
            .filter(|(chunk, _)| sync.is_live(*chunk))
            .collect()
    }

    fn perform(&mut self, actions: Vec<ViewAction>, http: &reqwest::Client, target: &str) {
        for action in actions {
            match action {
                ViewAction::Watch(chunks) => self.outgoing.push(ClientMessage::Watch(chunks)),
                ViewAction::Fetch(chunk, version) => {
                    let Some(epoch) = self.sync.epoch() else {
                        continue;
                    };
                    let (http, answer) = (http.clone(), self.fetch.clone());
                    let url = format!(
                        "{target}/api/chunks/{}/{}/{epoch}/{version}",
                        chunk.cx, chunk.cy
                    );
                    tokio::spawn(async move {
                        let _ = answer.send((chunk, version, fetch_chunk(&http, &url).await));
                    });
                }
                ViewAction::Apply(tiles) | ViewAction::Install(_, tiles) => self.write(&tiles),
                ViewAction::Drop(chunk) => {
                    self.pixels.remove(&chunk);
                }
                // Not in a run without faults; the gap is counted anyway.
                ViewAction::Reconnect => {}
            }
        }
    }

    fn write(&mut self, tiles: &[Tile]) {
        for tile in tiles {
            if let Some(pixels) = self.pixels.get_mut(&ChunkId::of(tile.x, tile.y)) {
                pixels[chunk::index_in_chunk(tile.x, tile.y)] = tile.color;
            }
        }
    }
}

/// `GET` of a chunk: its pixels, epoch and version.
pub async fn fetch_chunk(http: &reqwest::Client, url: &str) -> Option<(Vec<u8>, u64, u64)> {
    let response = http.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let header =
        |name: &str| -> Option<u64> { response.headers().get(name)?.to_str().ok()?.parse().ok() };
    let (epoch, version) = (header("x-canvas-epoch")?, header("x-chunk-version")?);
    let pixels = response.bytes().await.ok()?.to_vec();
    Some((pixels, epoch, version))
}
