//! A canvas too large to send whole (`WHOLE_CANVAS_MAX_AREA`), in the
//! browser: only the chunks in view, each drawn on a 256 × 256 `<canvas>`
//! of its own placed on the board, so the page's memory follows the view,
//! not the canvas. Which chunks to watch, fetch and keep is
//! [`crate::chunk_sync`]'s to decide; this draws them.

use super::layer::Layer;
use crate::{
    chunk::{index_in_chunk, ChunkId, CHUNK_AREA, CHUNK_SIDE},
    chunk_sync::ViewSync,
    geometry::CanvasSize,
    palette,
    protocol::Tile,
};
use leptos::prelude::document;
use std::collections::HashMap;
use wasm_bindgen::JsCast;
use web_sys::{HtmlCanvasElement, HtmlElement, HtmlImageElement};

pub struct World {
    pub sync: ViewSync,
    board: HtmlElement,
    chunks: HashMap<ChunkId, ChunkView>,
}

/// One chunk on the page.
struct ChunkView {
    canvas: HtmlCanvasElement,
    layer: Layer,
}

const SIDE: CanvasSize = CanvasSize {
    width: CHUNK_SIDE,
    height: CHUNK_SIDE,
};

impl World {
    pub fn new(board: HtmlElement) -> Self {
        Self {
            sync: ViewSync::new(),
            board,
            chunks: HashMap::new(),
        }
    }

    /// Loads the preview of the whole canvas again (under the chunks: what
    /// the page shows far out), as of `seq`.
    pub fn refresh_preview(&self, seq: u64) {
        let preview = self
            .board
            .query_selector(".board-image")
            .ok()
            .flatten()
            .and_then(|element| element.dyn_into::<HtmlImageElement>().ok());
        if let Some(preview) = preview {
            preview.set_src(&super::scoped(&format!("/api/preview.png?seq={seq}")));
        }
    }

    /// Writes tiles over the chunks shown.
    pub fn apply(&mut self, tiles: &[Tile]) {
        for tile in tiles {
            if let Some(view) = self.chunks.get_mut(&ChunkId::of(tile.x, tile.y)) {
                view.layer
                    .set(index_in_chunk(tile.x, tile.y), palette::rgba(tile.color));
            }
        }
        for view in self.chunks.values_mut() {
            view.layer.flush();
        }
    }

    /// Shows a chunk's snapshot (65,536 palette indices).
    pub fn install(&mut self, chunk: ChunkId, pixels: &[u8]) {
        if pixels.len() != CHUNK_AREA {
            return;
        }
        let Some(view) = self.view_of(chunk) else {
            return;
        };
        view.layer.fill(|index| palette::rgba(pixels[index]));
        view.layer.flush();
    }

    /// Removes a chunk no longer watched from the page.
    pub fn drop_chunk(&mut self, chunk: ChunkId) {
        if let Some(view) = self.chunks.remove(&chunk) {
            view.canvas.remove();
        }
    }

    /// The chunk's canvas, made and placed on the board the first time.
    fn view_of(&mut self, chunk: ChunkId) -> Option<&mut ChunkView> {
        if !self.chunks.contains_key(&chunk) {
            let canvas = document()
                .create_element("canvas")
                .ok()?
                .dyn_into::<HtmlCanvasElement>()
                .ok()?;
            canvas.set_width(u32::from(CHUNK_SIDE));
            canvas.set_height(u32::from(CHUNK_SIDE));
            canvas.set_class_name("chunk-canvas");
            let (x, y) = chunk.origin();
            let _ = canvas.set_attribute("data-chunk", &format!("{},{}", chunk.cx, chunk.cy));
            let style = canvas.style();
            let _ = style.set_property("left", &format!("{x}px"));
            let _ = style.set_property("top", &format!("{y}px"));
            let layer = Layer::new(&canvas, SIDE)?;
            let _ = self.board.append_child(&canvas);
            self.chunks.insert(chunk, ChunkView { canvas, layer });
        }
        self.chunks.get_mut(&chunk)
    }
}
