//! The canvas itself. Before the WASM runs, the `<img>` of `/api/canvas.png`
//! underneath shows the current canvas (also with JavaScript off); once the
//! client has drawn the snapshot, the `<canvas>` covers it. The client then
//! moves the board with a CSS transform (pan, zoom) and places the reticle.
//! Over it lie the past (hidden until the history is opened), the player's
//! template (hidden until one is loaded) and the heatmap (hidden until its
//! button is pressed).

use super::browser;
use crate::live::{LiveState, TEMPLATE_SLOTS, ZOOM_STEP};
use crate::{chunk::WHOLE_CANVAS_MAX_AREA, geometry::CanvasSize};
use leptos::{ev, html, prelude::*};

#[component]
pub fn Board(size: CanvasSize, live: LiveState, base: String) -> AnyView {
    let t = live.lang.texts();
    let canvas_ref = NodeRef::<html::Canvas>::new();

    browser::start(canvas_ref, size, live, base.clone());

    let zoom = move |factor: f64| move |_: ev::MouseEvent| browser::zoom_by(factor);
    let heat_shown = RwSignal::new(false);
    let toggle_heat = move |_: ev::MouseEvent| heat_shown.set(browser::toggle_heatmap());
    // The zoom buttons sit on the stage: their presses must not reach it as
    // a click on the canvas.
    let keep = |event: ev::PointerEvent| event.stop_propagation();

    // A canvas too large to send whole is drawn chunk by chunk, each on a
    // canvas of its own that the client adds to the board.
    let whole = size.area() <= WHOLE_CANVAS_MAX_AREA;
    let layers = if whole {
        view! {
            <img
                class="board-image"
                src=format!("{base}/api/canvas.png")
                alt=t.canvas_now
                width=size.width.to_string()
                height=size.height.to_string()
            />
            <canvas
                class="board-canvas"
                node_ref=canvas_ref
                width=size.width.to_string()
                height=size.height.to_string()
                aria-label=t.canvas_click
            ></canvas>
            {overlay(
                size,
                "travel-canvas",
                Some(t.canvas_past),
            )}
            // A template's overlay takes the canvas's size once it holds an
            // image (the client sizes it): an empty one costs nothing.
            {(0..TEMPLATE_SLOTS).map(|_| overlay(PLACEHOLDER, "template-canvas", None)).collect_view()}
            {overlay(size, "heat-canvas", None)}
        }
        .into_any()
    } else {
        // The whole canvas shrunk: the first paint, and the view from far
        // out, under the chunks the client draws.
        view! {
            <img
                class="board-image"
                src=format!("{base}/api/preview.png")
                draggable="false"
                alt=t.canvas_far
                width=size.width.to_string()
                height=size.height.to_string()
            />
            <canvas
                class="board-canvas"
                node_ref=canvas_ref
                width="1"
                height="1"
                hidden
                aria-label=t.canvas_click
            ></canvas>
            // Each template's own rectangle: the client sizes and places it.
            {(0..TEMPLATE_SLOTS)
                .map(|_| view! { <canvas class="template-canvas" width="1" height="1" hidden></canvas> })
                .collect_view()}
        }
        .into_any()
    };
    // A chunked canvas is too large to see whole: a map of it in a
    // corner shows where the view is, and a click there goes.
    let minimap = (!whole).then(|| {
        let keep = |event: ev::PointerEvent| event.stop_propagation();
        let go = move |event: ev::MouseEvent| {
            event.stop_propagation();
            browser::minimap_clicked(&event);
        };
        view! {
            <div
                class="minimap"
                style=format!("aspect-ratio:{}/{}", size.width, size.height)
                on:pointerdown=keep
                on:pointerup=keep
                on:click=go
            >
                <img
                    src=format!("{base}/api/preview.png")
                    draggable="false"
                    alt=t.minimap
                />
                <div class="minimap-view"></div>
            </div>
        }
        .into_any()
    });
    let heat_button = {
        view! {
            <button
                type="button"
                aria-label=t.heatmap
                title=t.heatmap_title
                class="heatmap-toggle"
                aria-pressed=move || heat_shown.get().to_string()
                on:pointerdown=keep
                on:pointerup=keep
                on:click=toggle_heat
            >
                // A flame.
                <svg viewBox="0 0 16 16" width="18" height="18" aria-hidden="true">
                    <path
                        fill="currentColor"
                        d="M8 1c1 3 4 4.5 4 8.5a4 4 0 0 1-8 0c0-2 1-3.3 2-4.3 0 2 .8 3 2 3.3C7.2 6.5 7.5 4 8 1z"
                    ></path>
                </svg>
            </button>
        }
        .into_any()
    };
    view! {
        <div
            class="board"
            class:chunked=!whole
            style=format!(
                "aspect-ratio:{w}/{h};--aspect:{}",
                f64::from(size.width) / f64::from(size.height),
                w = size.width,
                h = size.height,
            )
        >
            {layers}
        </div>
        <div class="reticle" hidden></div>
        {minimap}
        <div class="zoom-controls">
            {heat_button}
            <button
                type="button"
                aria-label=t.zoom_in
                class="zoom-in"
                on:pointerdown=keep
                on:pointerup=keep
                on:click=zoom(ZOOM_STEP)
            >
                "+"
            </button>
            <span class="zoom-level" title=t.zoom_level aria-hidden="true"></span>
            <button
                type="button"
                aria-label=t.zoom_out
                class="zoom-out"
                on:pointerdown=keep
                on:pointerup=keep
                on:click=zoom(1.0 / ZOOM_STEP)
            >
                "−"
            </button>
        </div>
    }
    .into_any()
}

/// A canvas the size of the board over it, hidden until the client shows
/// it; `label` for one a screen reader should name, else it is decoration.
/// An overlay's size until the client sizes it.
const PLACEHOLDER: CanvasSize = CanvasSize {
    width: 1,
    height: 1,
};

fn overlay(size: CanvasSize, class: &'static str, label: Option<&'static str>) -> impl IntoView {
    view! {
        <canvas
            class=class
            width=size.width.to_string()
            height=size.height.to_string()
            aria-label=label
            aria-hidden=label.is_none().then_some("true")
            hidden
        ></canvas>
    }
}
