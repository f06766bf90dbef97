//! The first-visit hint: how to place, shown over the stage until the
//! visitor first touches the canvas (or uses its keys), then never again in
//! this browser. Picking a color, as the hint says to, leaves it up.

use leptos::prelude::*;
use wasm_bindgen::{closure::Closure, JsCast};

/// Where this browser remembers that the hint was seen.
const SEEN: &str = "canvas.hint-seen";

/// Shows the hint (`shown`) unless it was seen, and hides it for good on
/// the first pointer or key press on the stage.
pub fn show(shown: RwSignal<bool>) {
    let Some(stage) = document().query_selector(".stage").ok().flatten() else {
        return;
    };
    let storage = window().local_storage().ok().flatten();
    let seen = storage
        .as_ref()
        .and_then(|storage| storage.get_item(SEEN).ok().flatten())
        .is_some();
    if seen {
        return;
    }
    shown.set(true);
    let dismiss = Closure::<dyn Fn()>::new(move || {
        if shown.get_untracked() {
            shown.set(false);
            if let Some(storage) = &storage {
                let _ = storage.set_item(SEEN, "1");
            }
        }
    });
    for event in ["pointerdown", "keydown"] {
        let _ = stage.add_event_listener_with_callback(event, dismiss.as_ref().unchecked_ref());
    }
    // Listens for the page's life; it does nothing once dismissed.
    dismiss.forget();
}
