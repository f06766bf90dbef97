//! Pointer, wheel and keyboard input on the stage, turned into view changes
//! and placements. A press that moves more than a few pixels is a drag and
//! never places; two pointers pinch-zoom.

use super::{pointer::Intent, with_client};
use leptos::prelude::document;
use wasm_bindgen::{prelude::Closure, JsCast};
use web_sys::{
    AddEventListenerOptions, HtmlElement, KeyboardEvent, PointerEvent, ResizeObserver, WheelEvent,
};

/// Attaches the stage's listeners for the page's lifetime.
pub fn attach(stage: &HtmlElement) {
    listen(stage, "pointerdown", |event: PointerEvent| {
        with_client(|client| {
            let intent = client.pointer.down(&event);
            client.follow(intent);
        });
    });
    listen(stage, "pointermove", |event: PointerEvent| {
        with_client(|client| {
            let intent = client.pointer.moved(&event);
            client.follow(intent);
        });
    });
    listen(stage, "pointerup", |event: PointerEvent| {
        with_client(|client| {
            let intent = client.pointer.up(&event);
            client.follow(intent);
        });
    });
    listen(stage, "pointercancel", |event: PointerEvent| {
        with_client(|client| client.pointer.cancel(&event));
    });
    listen(stage, "keydown", |event: KeyboardEvent| {
        let handled = with_client(|client| {
            let undo = (event.ctrl_key() || event.meta_key()) && event.key() == "z";
            let intent = if undo {
                Some(Intent::Undo)
            } else {
                client
                    .pointer
                    .key(&event.key(), event.shift_key(), client.live)
            };
            intent.map(|intent| client.follow(intent)).is_some()
        });
        if handled == Some(true) {
            event.prevent_default();
        }
    });
    // The wheel listener must not be passive: it stops the page scrolling.
    let wheel = Closure::<dyn FnMut(WheelEvent)>::new(|event: WheelEvent| {
        event.prevent_default();
        let factor = (-event.delta_y() * 0.002).exp();
        let at = (f64::from(event.client_x()), f64::from(event.client_y()));
        with_client(|client| client.pointer.wheel(factor, at));
    });
    let options = AddEventListenerOptions::new();
    options.set_passive(false);
    let _ = stage.add_event_listener_with_callback_and_add_event_listener_options(
        "wheel",
        wheel.as_ref().unchecked_ref(),
        &options,
    );
    wheel.forget();
    // The stage changes size with the window and with the toolbar (the
    // template panel opening): the view is laid out again either way.
    let resize = Closure::<dyn FnMut()>::new(|| {
        with_client(|client| client.pointer.view.apply());
    });
    if let Ok(observer) = ResizeObserver::new(resize.as_ref().unchecked_ref()) {
        observer.observe(stage);
    }
    resize.forget();
}

/// Adds a listener that lives as long as the page.
fn listen<E: JsCast + 'static>(target: &HtmlElement, name: &str, handler: impl Fn(E) + 'static) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        if let Ok(event) = event.dyn_into::<E>() {
            handler(event);
        }
    });
    let _ = target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    closure.forget();
}

/// The element with this class, as an `HtmlElement`.
pub fn element(class: &str) -> Option<HtmlElement> {
    document()
        .query_selector(&format!(".{class}"))
        .ok()
        .flatten()?
        .dyn_into()
        .ok()
}
