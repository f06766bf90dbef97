//! The canvas itself. Before the WASM runs, the `<img>` of `/api/canvas.png`
//! underneath shows the current canvas (also with JavaScript off); once the
//! client has drawn the snapshot, the `<canvas>` covers it. The client then
//! moves the board with a CSS transform (pan, zoom) and places the reticle.

use crate::geometry::CanvasSize;
use crate::live::{LiveState, ZOOM_STEP};
use leptos::{ev, html, prelude::*};

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

    let zoom = move |factor: f64| {
        move |_: ev::MouseEvent| {
            #[cfg(feature = "hydrate")]
            crate::client::zoom_by(factor);
            #[cfg(not(feature = "hydrate"))]
            let _ = factor;
        }
    };
    // The zoom buttons sit on the stage: their presses must not reach it as
    // a click on the canvas.
    let keep = |event: ev::PointerEvent| event.stop_propagation();

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
            ></canvas>
        </div>
        <div class="reticle" hidden></div>
        <div class="zoom-controls">
            <button
                type="button"
                aria-label="Zoom in"
                class="zoom-in"
                on:pointerdown=keep
                on:pointerup=keep
                on:click=zoom(ZOOM_STEP)
            >
                "+"
            </button>
            <button
                type="button"
                aria-label="Zoom out"
                class="zoom-out"
                on:pointerdown=keep
                on:pointerup=keep
                on:click=zoom(1.0 / ZOOM_STEP)
            >
                "−"
            </button>
        </div>
    }
}
