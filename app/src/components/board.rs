//! The canvas itself. Before the WASM runs, the `<img>` of `/api/canvas.png`
//! underneath shows the current canvas (also with JavaScript off); once the
//! client has drawn the snapshot, the `<canvas>` covers it.

use super::LiveState;
use crate::geometry::CanvasSize;
use leptos::{ev::MouseEvent, html, prelude::*};

#[component]
pub fn Board(size: CanvasSize, live: LiveState) -> impl IntoView {
    let canvas_ref = NodeRef::<html::Canvas>::new();

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(canvas) = canvas_ref.get() {
            crate::client::start(canvas, size, live);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = live;

    let on_click = move |event: MouseEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(canvas) = canvas_ref.get_untracked() {
            crate::client::place_at(&canvas, &event);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    };

    view! {
        <div
            class="board"
            style=format!(
                "aspect-ratio:{w}/{h};--aspect:{}",
                f64::from(size.width) / f64::from(size.height),
                w = size.width,
                h = size.height,
            )
        >
            <img
                class="board-image"
                src="/api/canvas.png"
                alt="The canvas as it is now"
                width=size.width.to_string()
                height=size.height.to_string()
            />
            <canvas
                class="board-canvas"
                node_ref=canvas_ref
                width=size.width.to_string()
                height=size.height.to_string()
                aria-label="The canvas: click a pixel to place the selected color"
                on:click=on_click
            ></canvas>
        </div>
    }
}
