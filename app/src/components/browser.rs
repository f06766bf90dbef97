//! Everything the components ask of the browser, behind one door.
//!
//! The same components are rendered on the server and hydrated in the
//! browser, but only the browser runs their effects and event handlers.
//! In the browser (feature `hydrate`) these functions are the live client's
//! (`crate::client`); on the server they do nothing, with the same
//! signatures. So no component carries a `cfg`, and the two builds (which
//! `cargo leptos` always makes together) keep the twins in step: a
//! signature that differs fails one of them.

use crate::{geometry::CanvasSize, live::LiveState};
use leptos::{ev, html, prelude::*};
use serde::{de::DeserializeOwned, Serialize};

pub use imp::*;

/// A moderator's token and name, once signed in.
pub type Signed = (String, String);

#[cfg(feature = "hydrate")]
mod imp {
    use super::*;
    use crate::client::{self, admin, TemplateSource};
    use wasm_bindgen::JsCast;

    /// Starts the live canvas on the `<canvas>` once it is in the page.
    pub fn start(canvas: NodeRef<html::Canvas>, size: CanvasSize, live: LiveState, base: String) {
        Effect::new(move |_| {
            if let Some(canvas) = canvas.get() {
                client::start(canvas, size, live, base.clone());
            }
        });
    }

    pub fn zoom_by(factor: f64) {
        client::zoom_by(factor);
    }

    pub fn undo() {
        client::undo();
    }

    pub fn send_chat(text: String, live: LiveState) {
        client::send_chat(text, live);
    }

    pub fn go_to(x: u16, y: u16) {
        client::go_to(x, y);
    }

    pub fn report_chat(id: u64, live: LiveState) {
        client::report_chat(id, live);
    }

    /// Shows the first-visit hint unless this browser saw it.
    pub fn place_hint(shown: RwSignal<bool>) {
        Effect::new(move |_| client::hint::show(shown));
    }

    /// Keeps `lang` for this site and reloads the page in it.
    pub fn choose_language(lang: crate::i18n::Lang) {
        client::choose_language(lang);
    }

    /// `GET url`, its JSON answer (or why it failed) to `done`.
    pub fn fetch_json<T: DeserializeOwned + 'static>(
        url: String,
        done: impl FnOnce(Result<T, String>) + 'static,
    ) {
        leptos::task::spawn_local(async move {
            done(
                client::get_json(&url)
                    .await
                    .map_err(|error| error.to_string()),
            );
        });
    }

    /// `POST url` with `body` as JSON; its JSON answer (`None` for 204),
    /// or why it failed, to `done`.
    pub fn post_json<B: Serialize + 'static, T: DeserializeOwned + 'static>(
        url: String,
        body: B,
        done: impl FnOnce(Result<Option<T>, String>) + 'static,
    ) {
        leptos::task::spawn_local(async move {
            let answer = client::post_json(&url, &body).await;
            done(answer.map_err(|error| error.to_string()));
        });
    }

    /// A path on this site as a whole address (`https://host/path`).
    pub fn absolute_url(path: &str) -> String {
        let origin = web_sys::window()
            .and_then(|window| window.location().origin().ok())
            .unwrap_or_default();
        format!("{origin}{path}")
    }

    /// A parameter of the page's own address (`?name=…`), if present.
    pub fn query_param(name: &str) -> Option<String> {
        let search = web_sys::window()?.location().search().ok()?;
        let params = web_sys::UrlSearchParams::new_with_str(&search).ok()?;
        params.get(name)
    }

    /// Calls `f` every `period` while the page lives.
    pub fn every(period: std::time::Duration, f: impl Fn() + 'static) {
        client::every(period, f);
    }

    pub fn set_ready_alerts(notify: bool, sound: bool) {
        client::set_ready_alerts(notify, sound);
    }

    /// Centres the view where the minimap was clicked.
    pub fn minimap_clicked(event: &leptos::ev::MouseEvent) {
        client::minimap_clicked(event);
    }

    /// Shows or hides the heatmap; whether it is shown now.
    pub fn toggle_heatmap() -> bool {
        client::toggle_heatmap()
    }

    pub fn save_name(name: String, live: LiveState) {
        client::save_name(name, live);
    }

    pub fn report_pixel(x: u16, y: u16, reason: String, live: LiveState) {
        client::report_pixel(x, y, reason, live);
    }

    pub fn open_history() {
        client::open_history();
    }

    pub fn close_history() {
        client::close_history();
    }

    pub fn seek_history(seq: u64) {
        client::seek_history(seq);
    }

    pub fn toggle_history_play() {
        client::toggle_history_play();
    }

    pub fn load_template_url(url: String, x: i32, y: i32, opacity: f64, dithered: bool) {
        client::load_template(TemplateSource::Url(url), x, y, opacity, dithered);
    }

    /// Loads the file chosen in the `<input type="file">` that `event`
    /// came from, if there is one.
    pub fn load_template_file(event: &ev::Event, x: i32, y: i32, opacity: f64, dithered: bool) {
        let file = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|input| input.files())
            .and_then(|files| files.get(0));
        if let Some(file) = file {
            client::load_template(TemplateSource::File(file), x, y, opacity, dithered);
        }
    }

    pub fn move_template(x: i32, y: i32) {
        client::move_template(x, y);
    }

    pub fn set_template_opacity(opacity: f64) {
        client::set_template_opacity(opacity);
    }

    pub fn set_template_dithering(dithered: bool) {
        client::set_template_dithering(dithered);
    }

    pub fn show_template_color(only: Option<u8>) {
        client::show_template_color(only);
    }

    pub fn set_template_symbols(on: bool) {
        client::set_template_symbols(on);
    }

    pub fn set_template_dotted(dotted: bool) {
        client::set_template_dotted(dotted);
    }

    pub fn next_template_pixel() {
        client::next_template_pixel();
    }

    pub fn remove_template() {
        client::remove_template();
    }

    /// Connects the socket again, for what a connection is told at its
    /// start (after the player joined or left a faction).
    pub fn reconnect() {
        client::reconnect();
    }

    /// The panel edits the template in `slot` from now on.
    pub fn select_template(slot: usize) {
        client::select_template(slot);
    }

    /// Has the server watch the template shown, named `name` (for the
    /// player's faction, `for_faction`).
    pub fn watch_template(name: String, for_faction: bool) {
        client::watch_template(name, for_faction);
    }

    /// `GET <url>` (a `/api/admin/…` route); its answer (or why it
    /// failed) to `done`.
    pub fn admin_get<T: DeserializeOwned + 'static>(
        signed: Signed,
        url: String,
        done: impl FnOnce(Result<T, String>) + 'static,
    ) {
        leptos::task::spawn_local(async move {
            let answer = admin::get(&credentials(signed), &url).await;
            done(answer.map_err(|error| error.to_string()));
        });
    }

    /// `POST <url>` (a `/api/admin/…` route) with `body`; its answer to
    /// `done`.
    pub fn admin_post<B: Serialize + 'static, T: DeserializeOwned + 'static>(
        signed: Signed,
        url: String,
        body: B,
        done: impl FnOnce(Result<T, String>) + 'static,
    ) {
        leptos::task::spawn_local(async move {
            let answer = admin::post(&credentials(signed), &url, &body).await;
            done(answer.map_err(|error| error.to_string()));
        });
    }

    fn credentials((token, name): Signed) -> admin::Credentials {
        admin::Credentials { token, name }
    }

    /// The canvas pixel under the pointer on the moderators' image of it.
    pub fn admin_pixel_at(
        image: NodeRef<html::Img>,
        size: CanvasSize,
        event: &ev::PointerEvent,
    ) -> Option<(u16, u16)> {
        let image = image.get_untracked()?;
        Some(admin::pixel_at(
            &image,
            size,
            event.client_x(),
            event.client_y(),
        ))
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    //! The server's twins: rendering never calls them.
    use super::*;

    pub fn start(_: NodeRef<html::Canvas>, _: CanvasSize, _: LiveState, _: String) {}
    pub fn zoom_by(_: f64) {}
    pub fn minimap_clicked(_: &leptos::ev::MouseEvent) {}
    pub fn toggle_heatmap() -> bool {
        false
    }
    pub fn save_name(_: String, _: LiveState) {}
    pub fn report_pixel(_: u16, _: u16, _: String, _: LiveState) {}
    pub fn set_ready_alerts(_: bool, _: bool) {}
    pub fn fetch_json<T: DeserializeOwned + 'static>(
        _: String,
        _: impl FnOnce(Result<T, String>) + 'static,
    ) {
    }
    pub fn every(_: std::time::Duration, _: impl Fn() + 'static) {}
    pub fn post_json<B: Serialize + 'static, T: DeserializeOwned + 'static>(
        _: String,
        _: B,
        _: impl FnOnce(Result<Option<T>, String>) + 'static,
    ) {
    }
    pub fn query_param(_: &str) -> Option<String> {
        None
    }
    pub fn absolute_url(path: &str) -> String {
        path.to_owned()
    }
    pub fn choose_language(_: crate::i18n::Lang) {}
    pub fn undo() {}
    pub fn place_hint(_: RwSignal<bool>) {}
    pub fn send_chat(_: String, _: LiveState) {}
    pub fn go_to(_: u16, _: u16) {}
    pub fn report_chat(_: u64, _: LiveState) {}
    pub fn open_history() {}
    pub fn close_history() {}
    pub fn seek_history(_: u64) {}
    pub fn toggle_history_play() {}
    pub fn load_template_url(_: String, _: i32, _: i32, _: f64, _: bool) {}
    pub fn load_template_file(_: &ev::Event, _: i32, _: i32, _: f64, _: bool) {}
    pub fn set_template_dithering(_: bool) {}
    pub fn show_template_color(_: Option<u8>) {}
    pub fn set_template_dotted(_: bool) {}
    pub fn set_template_symbols(_: bool) {}
    pub fn next_template_pixel() {}
    pub fn move_template(_: i32, _: i32) {}
    pub fn set_template_opacity(_: f64) {}
    pub fn remove_template() {}
    pub fn watch_template(_: String, _: bool) {}
    pub fn select_template(_: usize) {}
    pub fn reconnect() {}
    pub fn admin_get<T: DeserializeOwned + 'static>(
        _: Signed,
        _: String,
        _: impl FnOnce(Result<T, String>) + 'static,
    ) {
    }
    pub fn admin_post<B: Serialize + 'static, T: DeserializeOwned + 'static>(
        _: Signed,
        _: String,
        _: B,
        _: impl FnOnce(Result<T, String>) + 'static,
    ) {
    }
    pub fn admin_pixel_at(
        _: NodeRef<html::Img>,
        _: CanvasSize,
        _: &ev::PointerEvent,
    ) -> Option<(u16, u16)> {
        None
    }
}
