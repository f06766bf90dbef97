//! A canvas too large to send whole (`WHOLE_CANVAS_MAX_AREA`), in the
//! browser: only the chunks in view, each drawn on a 256 × 256 `<canvas>`
//! of its own placed on the board, so the page's memory follows the view,
//! not the canvas. Which chunks to watch, fetch and keep is
//! [`crate::chunk_sync`]'s to decide; this draws them, and over each the
//! heatmap while it is shown (seeded from the chunk's
//! `/api/chunks/<cx>/<cy>/heat.png`, then from the tiles that arrive).

use super::{image::Rgba, layer::Layer, now, paint::Slot};
use crate::{
    chunk::{index_in_chunk, ChunkId, CHUNK_AREA, CHUNK_SIDE},
    chunk_sync::ViewSync,
    geometry::CanvasSize,
    heat, palette,
    protocol::Tile,
    template::{Window, UNKNOWN},
};
use leptos::prelude::document;
use std::collections::HashMap;
use wasm_bindgen::JsCast;
use web_sys::{HtmlCanvasElement, HtmlElement, HtmlImageElement};

pub struct World {
    pub sync: ViewSync,
    board: HtmlElement,
    chunks: HashMap<ChunkId, ChunkView>,
    /// Whether the heatmap is shown over the chunks.
    pub heat_shown: bool,
    /// The past of each chunk shown, while time travel is open, over it.
    past: HashMap<ChunkId, (HtmlCanvasElement, Layer)>,
}

/// One chunk on the page.
struct ChunkView {
    canvas: HtmlCanvasElement,
    layer: Layer,
    /// Its palette colors, row by row (for the template).
    colors: Vec<u8>,
    /// Its heatmap, while shown.
    heat: Option<ChunkHeat>,
}

/// The heatmap over one chunk.
struct ChunkHeat {
    canvas: HtmlCanvasElement,
    layer: Layer,
    /// `performance.now()` of the last placement seen on each pixel
    /// (negative: before the page opened; minus infinity: none). `f32`
    /// keeps a millisecond for a day and halves the memory.
    placed_at: Vec<f32>,
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
            heat_shown: false,
            past: HashMap::new(),
        }
    }

    /// Shows or hides the heatmap over the chunks; the chunks whose heat
    /// the server is to be asked for.
    pub fn show_heat(&mut self, shown: bool) -> Vec<ChunkId> {
        self.heat_shown = shown;
        if !shown {
            for view in self.chunks.values_mut() {
                if let Some(heat) = view.heat.take() {
                    heat.canvas.remove();
                }
            }
        }
        self.heat_missing()
    }

    /// While the heatmap is shown, puts an empty one over each chunk that
    /// has none yet (it came into view since) and returns those chunks.
    pub fn heat_missing(&mut self) -> Vec<ChunkId> {
        if !self.heat_shown {
            return Vec::new();
        }
        let mut missing = Vec::new();
        for (chunk, view) in &mut self.chunks {
            if view.heat.is_none() {
                view.heat = ChunkHeat::new(&self.board, *chunk);
                missing.push(*chunk);
            }
        }
        missing
    }

    /// Adds what the server's heatmap of `chunk` knows (grayscale levels,
    /// 256 × 256) to what the page saw itself.
    pub fn seed_heat(&mut self, chunk: ChunkId, heatmap: &Rgba) {
        let fits =
            heatmap.width == u32::from(CHUNK_SIDE) && heatmap.height == u32::from(CHUNK_SIDE);
        let Some(heat) = self
            .chunks
            .get_mut(&chunk)
            .and_then(|view| view.heat.as_mut())
        else {
            return;
        };
        if !fits {
            return;
        }
        let now = now();
        for (at, pixel) in heat.placed_at.iter_mut().zip(heatmap.data.chunks_exact(4)) {
            if let Some(age) = heat::age_ms_of_level(pixel[0]) {
                *at = at.max((now - age) as f32);
            }
        }
        heat.draw(now);
    }

    /// Redraws the heatmap as of now (it fades).
    pub fn draw_heat(&mut self) {
        let now = now();
        for heat in self
            .chunks
            .values_mut()
            .filter_map(|view| view.heat.as_mut())
        {
            heat.draw(now);
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

    /// Writes tiles over the chunks shown (and their heat, when shown),
    /// keeping the templates' counts and overlays right.
    pub fn apply(&mut self, tiles: &[Tile], slots: &mut [Slot]) {
        let now = now();
        for tile in tiles {
            if let Some(view) = self.chunks.get_mut(&ChunkId::of(tile.x, tile.y)) {
                let index = index_in_chunk(tile.x, tile.y);
                let was = std::mem::replace(&mut view.colors[index], tile.color);
                for slot in slots.iter_mut() {
                    slot.template.tile((tile.x, tile.y), was, tile.color);
                }
                view.layer.set(index, palette::rgba(tile.color));
                if let Some(heat) = &mut view.heat {
                    heat.placed_at[index] = now as f32;
                    heat.layer.set(index, heat::overlay_color(0.0));
                }
            }
        }
        for view in self.chunks.values_mut() {
            view.layer.flush();
            if let Some(heat) = &mut view.heat {
                heat.layer.flush();
            }
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
        view.colors.copy_from_slice(pixels);
    }

    /// The colors of the canvas pixels in `window`, row by row: `UNKNOWN`
    /// where no chunk shown holds them.
    pub fn colors_in(&self, window: Window) -> Vec<u8> {
        let (width, height) = (
            usize::from(window.size.width),
            usize::from(window.size.height),
        );
        let mut colors = vec![UNKNOWN; window.size.area()];
        for (chunk, view) in &self.chunks {
            let (x0, y0) = chunk.origin();
            let side = u32::from(CHUNK_SIDE);
            // The chunk's rows and columns inside the window.
            let (wx, wy) = (u32::from(window.x), u32::from(window.y));
            let left = x0.max(wx);
            let right = (x0 + side).min(wx + width as u32);
            let top = y0.max(wy);
            let bottom = (y0 + side).min(wy + height as u32);
            if left >= right || top >= bottom {
                continue;
            }
            for y in top..bottom {
                let from = ((y - y0) * side + (left - x0)) as usize;
                let to = ((y - wy) as usize) * width + (left - wx) as usize;
                let run = (right - left) as usize;
                colors[to..to + run].copy_from_slice(&view.colors[from..from + run]);
            }
        }
        colors
    }

    /// The chunks shown and their pixels, `None` for one still loading.
    pub fn live_chunks(&self) -> impl Iterator<Item = (ChunkId, Option<&[u8]>)> {
        self.chunks.iter().map(|(chunk, view)| {
            let loaded = !view.colors.contains(&UNKNOWN);
            (*chunk, loaded.then_some(&view.colors[..]))
        })
    }

    /// Draws the past of each chunk given over it (and no other).
    pub fn show_past<'a>(&mut self, chunks: impl Iterator<Item = (ChunkId, &'a [u8])>) {
        let mut drawn = Vec::new();
        for (chunk, pixels) in chunks {
            if !self.past.contains_key(&chunk) {
                let Some(canvas) = chunk_canvas(&self.board, chunk, "chunk-past") else {
                    continue;
                };
                let Some(layer) = Layer::new(&canvas, SIDE) else {
                    continue;
                };
                self.past.insert(chunk, (canvas, layer));
            }
            if let Some((_, layer)) = self.past.get_mut(&chunk) {
                layer.fill(|index| palette::rgba(pixels[index]));
                layer.flush();
            }
            drawn.push(chunk);
        }
        self.past.retain(|chunk, (canvas, _)| {
            let keep = drawn.contains(chunk);
            if !keep {
                canvas.remove();
            }
            keep
        });
    }

    /// Back to the live chunks.
    pub fn hide_past(&mut self) {
        for (canvas, _) in self.past.drain().map(|(_, past)| past) {
            canvas.remove();
        }
    }

    /// Removes a chunk no longer watched from the page.
    pub fn drop_chunk(&mut self, chunk: ChunkId) {
        if let Some((canvas, _)) = self.past.remove(&chunk) {
            canvas.remove();
        }
        if let Some(view) = self.chunks.remove(&chunk) {
            view.canvas.remove();
            if let Some(heat) = view.heat {
                heat.canvas.remove();
            }
        }
    }

    /// The chunk's canvas, made and placed on the board the first time.
    fn view_of(&mut self, chunk: ChunkId) -> Option<&mut ChunkView> {
        if !self.chunks.contains_key(&chunk) {
            let canvas = chunk_canvas(&self.board, chunk, "chunk-canvas")?;
            let layer = Layer::new(&canvas, SIDE)?;
            self.chunks.insert(
                chunk,
                ChunkView {
                    canvas,
                    layer,
                    colors: vec![UNKNOWN; CHUNK_AREA],
                    heat: None,
                },
            );
        }
        self.chunks.get_mut(&chunk)
    }
}

impl ChunkHeat {
    fn new(board: &HtmlElement, chunk: ChunkId) -> Option<Self> {
        let canvas = chunk_canvas(board, chunk, "chunk-heat")?;
        Some(Self {
            layer: Layer::new(&canvas, SIDE)?,
            canvas,
            placed_at: vec![f32::NEG_INFINITY; CHUNK_AREA],
        })
    }

    fn draw(&mut self, now: f64) {
        let placed_at = &self.placed_at;
        self.layer
            .fill(|index| heat::overlay_color(now - f64::from(placed_at[index])));
        self.layer.flush();
    }
}

/// A 256 × 256 `<canvas>` of class `class` at `chunk`'s place on the board.
fn chunk_canvas(board: &HtmlElement, chunk: ChunkId, class: &str) -> Option<HtmlCanvasElement> {
    let canvas = document()
        .create_element("canvas")
        .ok()?
        .dyn_into::<HtmlCanvasElement>()
        .ok()?;
    canvas.set_width(u32::from(CHUNK_SIDE));
    canvas.set_height(u32::from(CHUNK_SIDE));
    canvas.set_class_name(class);
    let (x, y) = chunk.origin();
    let _ = canvas.set_attribute("data-chunk", &format!("{},{}", chunk.cx, chunk.cy));
    let style = canvas.style();
    let _ = style.set_property("left", &format!("{x}px"));
    let _ = style.set_property("top", &format!("{y}px"));
    let _ = board.append_child(&canvas);
    Some(canvas)
}
