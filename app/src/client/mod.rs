//! The live canvas in the browser: the socket, the snapshot, the drawing and
//! the gestures. Which tiles to apply, when to `Resume` and when to load the
//! snapshot again is [`crate::sync`]'s to decide; this carries it out.
//!
//! The browser runs this on one thread, so the state is a thread-local
//! singleton and the DOM callbacks reach it through [`with_client`]; only the
//! few figures the page shows are Leptos signals.

pub mod admin;
mod heat;
mod http;
mod image;
mod input;
mod layer;
mod pixels;
mod query;
mod socket;
mod template;
mod travel;
mod view;

use crate::{
    geometry::CanvasSize,
    live::{Connection, HistoryStatus, LiveState, TemplateStatus, ZOOM_STEP},
    protocol::{ClientMessage, PlaceStatus, ServerMessage, Tile},
    sync::{self, At, CanvasSync},
};
use heat::Heat;
use input::{Gesture, Motion};
use leptos::prelude::*;
use pixels::Pixels;
use socket::Socket;
use std::{cell::RefCell, time::Duration};
use template::Template;
use travel::{Base, Travel};
use view::View;
use wasm_bindgen::{prelude::Closure, JsCast};
use web_sys::{Element, HtmlCanvasElement, PointerEvent};

thread_local! {
    static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
}

/// Runs `f` on the client, if it has started.
fn with_client<R>(f: impl FnOnce(&mut Client) -> R) -> Option<R> {
    CLIENT.with(|cell| cell.borrow_mut().as_mut().map(f))
}

struct Client {
    size: CanvasSize,
    pixels: Pixels,
    /// The player's template overlay, if the page has its canvas.
    template: Option<Template>,
    /// The time-travel view, if the page has its canvas.
    travel: Option<Travel>,
    /// Whether the timelapse is playing.
    playing: bool,
    /// The heatmap overlay, if the page has its canvas.
    heat: Option<Heat>,
    view: View,
    gesture: Gesture,
    /// Whether a URL update for the view is already scheduled.
    url_save_scheduled: bool,
    /// Increments whenever the target pixel changes, so only the latest
    /// `/api/pixel` answer is shown.
    info_generation: u32,
    live: LiveState,
    /// The current socket. It stays here after it closes (dropping it from
    /// inside its own `onclose` would free the running callback) and is
    /// replaced by the next attempt.
    socket: Option<Socket>,
    /// Whether `socket` is open.
    connected: bool,
    /// Keeps the pixels in step with the server (docs/protocol.md).
    sync: CanvasSync,
    cooldown_ms: u32,
    /// `performance.now()` at which the user may place again.
    cooldown_until: f64,
    /// Consecutive failed connection attempts, for the backoff.
    failures: u32,
    frame_requested: bool,
}

/// Starts the live canvas on `canvas` (once per page).
pub fn start(canvas: HtmlCanvasElement, size: CanvasSize, live: LiveState) {
    let started = CLIENT.with(|cell| cell.borrow().is_some());
    if started {
        return;
    }
    let (Some(pixels), Some(stage), Some(board), Some(reticle)) = (
        Pixels::new(&canvas, size),
        input::element("stage"),
        input::element("board"),
        input::element("reticle"),
    ) else {
        live.notice
            .set(Some("This browser cannot draw on a canvas.".into()));
        return;
    };
    input::attach(&stage);
    let overlay = |class: &str| {
        input::element(class).and_then(|element| element.dyn_into::<HtmlCanvasElement>().ok())
    };
    let heat = overlay("heat-canvas").and_then(|canvas| Heat::new(canvas, size));
    let template = overlay("template-canvas").and_then(|canvas| Template::new(canvas, size));
    let travel = overlay("travel-canvas").and_then(|canvas| Travel::new(canvas, size));
    let view = View::new(stage, board, reticle, size);
    live.hover.set(Some(view.target));
    CLIENT.with(|cell| {
        *cell.borrow_mut() = Some(Client {
            size,
            pixels,
            template,
            travel,
            playing: false,
            heat,
            view,
            gesture: Gesture::default(),
            url_save_scheduled: false,
            info_generation: 0,
            live,
            socket: None,
            connected: false,
            sync: CanvasSync::new(),
            cooldown_ms: 0,
            cooldown_until: 0.0,
            failures: 0,
            frame_requested: false,
        })
    });
    set_interval(
        || {
            with_client(Client::tick_cooldown);
        },
        Duration::from_millis(100),
    );
    // The heatmap fades as placements age.
    set_interval(
        || {
            with_client(|client| {
                if let Some(heat) = &mut client.heat {
                    heat.draw(now());
                }
            });
        },
        Duration::from_secs(2),
    );
    set_interval(
        || {
            with_client(Client::play_tick);
        },
        PLAY_TICK,
    );
    connect();
    load_template_from_url();
}

/// How often the timelapse moves on, and in how many steps it crosses the
/// whole life of the canvas.
const PLAY_TICK: Duration = Duration::from_millis(100);
const PLAY_STEPS: u64 = 150;

/// Pages of placements one rebuild fetches at most (about 100,000 tiles);
/// further on, the view stops where it got to.
const MAX_REPLAY_PAGES: usize = 25;

/// Shows the canvas's past instead of the live canvas, starting from now.
pub fn open_history() {
    let opened = with_client(|client| {
        let at = client.sync.copy()?;
        let travel = client.travel.as_mut()?;
        travel.open(client.pixels.indices(), at);
        client.live.history.set(Some(HistoryStatus {
            shown: at.seq,
            ..HistoryStatus::default()
        }));
        Some(())
    })
    .flatten();
    if opened.is_none() {
        return;
    }
    leptos::task::spawn_local(async {
        let archive = http::archived().await;
        with_client(|client| match (archive, &mut client.travel) {
            (Ok(archive), Some(travel)) => travel.archive = archive,
            (Err(error), _) => client
                .live
                .notice
                .set(Some(format!("The archive could not be loaded: {error}."))),
            _ => {}
        });
    });
}

/// Back to the live canvas (which kept up all along).
pub fn close_history() {
    with_client(|client| {
        if let Some(travel) = &mut client.travel {
            travel.close();
        }
        client.playing = false;
        client.live.history.set(None);
    });
}

/// Shows the canvas as it was at `seq`.
pub fn seek_history(seq: u64) {
    with_client(|client| client.seek(seq));
}

/// Plays the timelapse, or pauses it.
pub fn toggle_history_play() {
    with_client(|client| {
        let live_seq = client.live.seq.get_untracked();
        let Some(status) = client.live.history.get_untracked() else {
            return;
        };
        client.playing = !client.playing;
        // From the start again once at the end.
        if client.playing && status.shown >= live_seq {
            client.seek(0);
        }
        client
            .live
            .history
            .update(|s| s.iter_mut().for_each(|s| s.playing = client.playing));
    });
}

/// Rebuilds the seqs asked for, the newest each time, until none is.
async fn rebuild() {
    loop {
        let step = with_client(|client| {
            let travel = client.travel.as_mut()?;
            let step = travel.next_step();
            if step.is_none() {
                travel.busy = false;
            }
            step
        })
        .flatten();
        let Some(step) = step else {
            return;
        };
        if let Base::Archived(seq) = step.base {
            let (width, height) = with_client(|c| (c.size.width, c.size.height)).unwrap_or((0, 0));
            let url = format!("/api/snapshots/{seq}.png");
            let loaded = image::load(&url, u32::from(width), u32::from(height)).await;
            let kept = with_client(|client| {
                let travel = client.travel.as_mut()?;
                Some(loaded.is_ok_and(|rgba| travel.decoded(seq, &rgba)))
            })
            .flatten();
            if kept != Some(true) {
                with_client(|client| {
                    client
                        .live
                        .notice
                        .set(Some("That archived canvas could not be loaded.".into()));
                });
                continue;
            }
        }
        let Some(mut at) = with_client(|client| {
            let travel = client.travel.as_mut()?;
            travel.reset_to(&step.base).then_some(travel.shown)
        })
        .flatten() else {
            continue;
        };
        let mut beyond_history = false;
        for _ in 0..MAX_REPLAY_PAGES {
            if at >= step.target {
                break;
            }
            let tiles = match http::placements(step.epoch, at).await {
                Ok(Some(tiles)) if !tiles.is_empty() => tiles,
                Ok(None) => {
                    beyond_history = true;
                    break;
                }
                _ => break,
            };
            let wanted = ((step.target - at) as usize).min(tiles.len());
            with_client(|client| {
                if let Some(travel) = &mut client.travel {
                    travel.replay(&tiles[..wanted]);
                }
            });
            at += wanted as u64;
        }
        with_client(|client| client.history_shown(beyond_history));
    }
}

/// Where a template image comes from.
pub enum TemplateSource {
    /// An image URL, which the page's URL then carries so the link can be
    /// shared.
    Url(String),
    /// A file chosen from the disk (not shareable).
    File(web_sys::File),
}

/// The template the page's URL names (`template`, `tx`, `ty`, `to`), if any.
fn load_template_from_url() {
    let Some(params) = query::params() else {
        return;
    };
    let Some(url) = params.get("template") else {
        return;
    };
    let number = |name: &str| query::number(&params, name);
    let at = |name: &str| number(name).map_or(0, |v| v.clamp(-65_536.0, 65_536.0) as i32);
    let opacity = number("to").unwrap_or(0.6);
    load_template(TemplateSource::Url(url), at("tx"), at("ty"), opacity);
}

/// Whether a template URL is one the page will fetch: the web, this site,
/// or an inline image.
fn is_template_url(url: &str) -> bool {
    ["https://", "http://", "data:image/"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    }) || (url.starts_with('/') && !url.starts_with("//"))
}

/// Loads a template and lays it at (x, y) with `opacity`.
pub fn load_template(source: TemplateSource, x: i32, y: i32, opacity: f64) {
    let (url, shared) = match source {
        TemplateSource::Url(url) if is_template_url(&url) => (url.clone(), Some(url)),
        TemplateSource::Url(_) => {
            with_client(|client| {
                client.live.notice.set(Some(
                    "Template not loaded: give an http(s) image address.".into(),
                ))
            });
            return;
        }
        TemplateSource::File(file) => match web_sys::Url::create_object_url_with_blob(&file) {
            Ok(url) => (url, None),
            Err(_) => return,
        },
    };
    let Some(size) = with_client(|client| client.size) else {
        return;
    };
    leptos::task::spawn_local(async move {
        let loaded = image::load(&url, u32::from(size.width), u32::from(size.height)).await;
        if shared.is_none() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
        with_client(|client| match loaded {
            Ok(rgba) => client.on_template(&rgba, shared, (x, y), opacity),
            Err(reason) => client
                .live
                .notice
                .set(Some(format!("Template not loaded: {reason}."))),
        });
    });
}

/// Moves the template's top-left corner to canvas pixel (x, y).
pub fn move_template(x: i32, y: i32) {
    with_client(|client| {
        if let Some(template) = &mut client.template {
            template.move_to(x, y, client.pixels.indices());
            client.template_changed(|status| {
                status.x = x;
                status.y = y;
            });
        }
    });
}

pub fn set_template_opacity(opacity: f64) {
    with_client(|client| {
        if let Some(template) = &client.template {
            template.set_opacity(opacity);
            client.template_changed(|status| status.opacity = opacity);
        }
    });
}

pub fn remove_template() {
    with_client(|client| {
        if let Some(template) = &mut client.template {
            template.clear();
            client.live.template.set(None);
            client.request_frame();
            query::update(&[("template", None), ("tx", None), ("ty", None), ("to", None)]);
        }
    });
}

/// Shows the heatmap if hidden, hides it if shown; whether it is shown.
/// The first time, the server's heatmap adds what happened before the page
/// opened.
pub fn toggle_heatmap() -> bool {
    let toggled = with_client(|client| {
        let size = client.size;
        let heat = client.heat.as_mut()?;
        let shown = !heat.visible;
        heat.show(shown, now());
        Some((shown, heat.wants_seed().then_some(size)))
    })
    .flatten();
    if let Some((_, Some(size))) = toggled {
        leptos::task::spawn_local(async move {
            let (width, height) = (u32::from(size.width), u32::from(size.height));
            let loaded = image::load("/api/heatmap.png", width, height).await;
            with_client(|client| {
                if let (Ok(heatmap), Some(heat)) = (loaded, &mut client.heat) {
                    heat.seed(&heatmap, now());
                    heat.draw(now());
                }
            });
        });
    }
    toggled.is_some_and(|(shown, _)| shown)
}

/// Zooms around the centre of the view (the zoom buttons).
pub fn zoom_by(factor: f64) {
    with_client(|client| {
        client.view.zoom_centered(factor);
        client.view_changed();
    });
}

/// Saves the display name and says how it went.
pub fn save_name(name: String, live: LiveState) {
    leptos::task::spawn_local(async move {
        let notice = match http::save_name(&name).await {
            Ok(saved) => format!("Your tiles now show as {saved}."),
            Err(error) => format!("Name not saved: {error}"),
        };
        live.notice.set(Some(notice));
    });
}

fn connect() {
    let socket = Socket::open(
        |frame| {
            with_client(|client| client.on_frame(&frame));
        },
        || {
            with_client(Client::on_open);
        },
        || {
            with_client(Client::on_close);
        },
    );
    with_client(|client| match socket {
        Ok(socket) => client.socket = Some(socket),
        Err(error) => {
            client.live.notice.set(Some(error.to_string()));
            client.on_close();
        }
    });
}

/// Fetches the snapshot after `delay` and hands it to the client.
fn fetch_snapshot_after(delay: Duration) {
    let fetch = || {
        leptos::task::spawn_local(async {
            let snapshot = http::fetch_snapshot().await;
            with_client(|client| client.on_snapshot(snapshot));
        });
    };
    if delay.is_zero() {
        fetch();
    } else {
        set_timeout(fetch, delay);
    }
}

fn now() -> f64 {
    window().performance().map(|p| p.now()).unwrap_or(0.0)
}

impl Client {
    fn on_open(&mut self) {
        self.connected = true;
        self.failures = 0;
    }

    fn on_close(&mut self) {
        self.connected = false;
        self.sync.disconnected();
        self.failures += 1;
        self.live.connection.set(if self.failures > 3 {
            Connection::Offline
        } else {
            Connection::Reconnecting
        });
        // Exponential backoff with jitter, so a restarted server is not hit
        // by every page at the same instant.
        let base = 500.0 * 2f64.powi(self.failures.min(6) as i32);
        let delay = base * (0.5 + js_sys::Math::random() * 0.5);
        set_timeout(connect, Duration::from_millis(delay as u64));
    }

    fn on_frame(&mut self, frame: &[u8]) {
        // A message type this client does not know is ignored (docs/protocol.md).
        let Ok(message) = ServerMessage::decode(frame) else {
            return;
        };
        match &message {
            ServerMessage::Hello(hello) => self.cooldown_ms = hello.cooldown_ms,
            ServerMessage::PlaceResult {
                status,
                retry_after_ms,
                ..
            } => self.on_place_result(*status, *retry_after_ms),
            ServerMessage::Presence { online } => self.live.online.set(*online),
            ServerMessage::Frozen { frozen } => self.live.frozen.set(*frozen),
            ServerMessage::Error { message, .. } => self.live.notice.set(Some(message.clone())),
            _ => {}
        }
        let actions = self.sync.received(&message);
        self.perform(actions);
    }

    /// Carries out what the sync machine asks for.
    fn perform(&mut self, actions: Vec<sync::Action>) {
        for action in actions {
            match action {
                sync::Action::Apply { first_seq, tiles } => {
                    let last_seq = first_seq + tiles.len() as u64 - 1;
                    let at = now();
                    for tile in tiles {
                        if let (Some(template), Some(coord)) =
                            (&mut self.template, self.size.coord(tile.x, tile.y))
                        {
                            let was = self.pixels.indices()[coord.index];
                            template.tile(coord.index, was, tile.color);
                        }
                        self.pixels.set(tile);
                        if let Some(heat) = &mut self.heat {
                            heat.record(tile, at);
                        }
                    }
                    self.live.seq.set(last_seq);
                    self.request_frame();
                }
                sync::Action::Send(message) => self.send(message),
                sync::Action::FetchSnapshot { spread } => {
                    let delay = if spread {
                        Duration::from_secs_f64(js_sys::Math::random())
                    } else {
                        Duration::ZERO
                    };
                    fetch_snapshot_after(delay);
                }
            }
        }
        if self.sync.is_live() {
            self.live.connection.set(Connection::Live);
        }
    }

    fn on_snapshot(&mut self, snapshot: Result<http::Snapshot, http::HttpError>) {
        let area = self.pixels.area();
        let snapshot = match snapshot {
            Ok(snapshot) if snapshot.pixels.len() == area => Ok(snapshot),
            Ok(_) => Err("the canvas has another size".to_owned()),
            Err(error) => Err(error.to_string()),
        };
        let snapshot = match snapshot {
            Ok(snapshot) => snapshot,
            Err(reason) => {
                // Try again on the next connection.
                self.live.notice.set(Some(format!(
                    "Could not load the canvas ({reason}); retrying."
                )));
                self.sync.load_failed();
                if let Some(socket) = &self.socket {
                    socket.close();
                }
                return;
            }
        };
        let at = At {
            epoch: snapshot.epoch,
            seq: snapshot.seq,
        };
        // A leftover of an earlier request is dropped.
        if let Some(actions) = self.sync.loaded(at) {
            self.pixels.load(&snapshot.pixels);
            if let Some(template) = &mut self.template {
                template.compare(self.pixels.indices());
            }
            self.live.seq.set(snapshot.seq);
            self.request_frame();
            self.perform(actions);
        }
    }

    fn on_place_result(&mut self, status: PlaceStatus, retry_after_ms: u32) {
        match status {
            PlaceStatus::Frozen => self.live.frozen.set(true),
            PlaceStatus::Accepted | PlaceStatus::Cooldown => self.live.frozen.set(false),
            _ => {}
        }
        let (wait, notice) = match status {
            PlaceStatus::Accepted => (self.cooldown_ms, None),
            PlaceStatus::Cooldown => (retry_after_ms, Some("Still cooling down.")),
            PlaceStatus::Invalid => (0, Some("That pixel or color is not on the canvas.")),
            PlaceStatus::RateLimited => (retry_after_ms, Some("Too fast: slow down a little.")),
            PlaceStatus::NotAllowed => (0, Some("Placing is not allowed right now.")),
            PlaceStatus::Unknown => (
                self.cooldown_ms,
                Some("Not confirmed: check the pixel, it may not have been placed."),
            ),
            PlaceStatus::Banned => (
                retry_after_ms,
                Some("A moderator banned you from placing for a while."),
            ),
            PlaceStatus::Frozen => (
                0,
                Some("The canvas is frozen by its moderators: look, but no placing for now."),
            ),
        };
        self.cooldown_until = now() + f64::from(wait);
        self.live.notice.set(notice.map(str::to_owned));
        self.tick_cooldown();
    }

    fn tick_cooldown(&mut self) {
        let left = (self.cooldown_until - now()).max(0.0).ceil() as u32;
        if left != self.live.cooldown_left_ms.get_untracked() {
            self.live.cooldown_left_ms.set(left);
        }
    }

    fn on_pointer_down(&mut self, event: &PointerEvent) {
        let at = (f64::from(event.client_x()), f64::from(event.client_y()));
        self.gesture.press(event.pointer_id(), at);
        // Keep receiving this pointer's moves while it is pressed, even off
        // the stage.
        if let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) {
            let _ = target.set_pointer_capture(event.pointer_id());
        }
        self.target_at(at);
    }

    fn on_pointer_move(&mut self, event: &PointerEvent) {
        let at = (f64::from(event.client_x()), f64::from(event.client_y()));
        match self.gesture.move_to(event.pointer_id(), at) {
            Motion::Hover => self.target_at(at),
            Motion::Pan(dx, dy) => {
                self.view.pan_screen(dx, dy);
                self.view_changed();
            }
            Motion::Pinch { factor, centre } => {
                self.view.zoom_at(factor, centre.0, centre.1);
                self.view_changed();
            }
        }
    }

    fn on_pointer_up(&mut self, event: &PointerEvent) {
        if !self.gesture.release(event.pointer_id()) {
            return; // the end of a drag or a pinch never places
        }
        let at = (f64::from(event.client_x()), f64::from(event.client_y()));
        if let Some((x, y)) = self.view.pixel_at(at.0, at.1) {
            self.set_target((x, y));
            self.place(x, y);
        }
    }

    /// Handles a key on the focused stage; false if the key is not ours.
    fn on_key(&mut self, key: &str, shift: bool) -> bool {
        let step = if shift { 10 } else { 1 };
        let colors = crate::palette::PALETTE.len() as u8;
        let selected = self.live.selected.get_untracked();
        match key {
            "ArrowLeft" => self.pan_by_keys(-step, 0),
            "ArrowRight" => self.pan_by_keys(step, 0),
            "ArrowUp" => self.pan_by_keys(0, -step),
            "ArrowDown" => self.pan_by_keys(0, step),
            "+" | "=" => {
                self.view.zoom_centered(ZOOM_STEP);
                self.view_changed();
            }
            "-" | "_" => {
                self.view.zoom_centered(1.0 / ZOOM_STEP);
                self.view_changed();
            }
            "Enter" | " " => {
                let (x, y) = self.view.target;
                self.place(x, y);
            }
            "[" => self.live.selected.set((selected + colors - 1) % colors),
            "]" => self.live.selected.set((selected + 1) % colors),
            digit if digit.len() == 1 && digit.as_bytes()[0].is_ascii_digit() => {
                // 1..9 then 0 pick the first ten colors.
                let n = (digit.as_bytes()[0] - b'0' + 9) % 10;
                self.live.selected.set(n);
            }
            _ => return false,
        }
        true
    }

    /// Arrow keys move the view; the reticle stays on its centre pixel.
    fn pan_by_keys(&mut self, dx: i32, dy: i32) {
        self.view.pan_pixels(dx, dy);
        self.view_changed();
        self.set_target(self.view.center_pixel());
    }

    fn target_at(&mut self, at: (f64, f64)) {
        if let Some(pixel) = self.view.pixel_at(at.0, at.1) {
            self.set_target(pixel);
        }
    }

    fn set_target(&mut self, pixel: (u16, u16)) {
        if self.view.target == pixel {
            return;
        }
        self.view.target = pixel;
        self.view.apply();
        self.live.hover.set(Some(pixel));
        // The template's color there is the one to place.
        let wanted = self.template.as_ref().and_then(|template| {
            let coord = self.size.coord(pixel.0, pixel.1)?;
            template.color_at(coord.index)
        });
        if let Some(color) = wanted {
            self.live.selected.set(color);
        }
        self.live.pixel_info.set(None);
        // Ask who placed it once the pointer rests there.
        self.info_generation += 1;
        let generation = self.info_generation;
        set_timeout(
            move || {
                with_client(|client| client.fetch_pixel_info(generation));
            },
            Duration::from_millis(400),
        );
    }

    fn fetch_pixel_info(&mut self, generation: u32) {
        if generation != self.info_generation {
            return;
        }
        let (x, y) = self.view.target;
        leptos::task::spawn_local(async move {
            let info = http::pixel_info(x, y).await;
            with_client(|client| {
                if client.info_generation == generation {
                    client.live.pixel_info.set(info);
                }
            });
        });
    }

    /// Redraws the view now and records it in the URL shortly.
    fn view_changed(&mut self) {
        self.view.apply();
        if !self.url_save_scheduled {
            self.url_save_scheduled = true;
            set_timeout(
                || {
                    with_client(|client| {
                        client.url_save_scheduled = false;
                        client.view.save_to_url();
                    });
                },
                Duration::from_millis(250),
            );
        }
    }

    fn place(&mut self, x: u16, y: u16) {
        let color = self.live.selected.get_untracked();
        if self.travel.as_ref().is_some_and(|t| t.open) {
            self.live
                .notice
                .set(Some("This is the past: go back to live to place.".into()));
            return;
        }
        if !self.connected {
            self.live
                .notice
                .set(Some("Not connected: the tile was not placed.".into()));
            return;
        }
        self.send(ClientMessage::Place(Tile { x, y, color }));
    }

    fn send(&self, message: ClientMessage) {
        if let (true, Some(socket)) = (self.connected, &self.socket) {
            socket.send(&message.encode());
        }
    }

    /// Draws the rebuilt past and says what it shows.
    fn history_shown(&mut self, beyond_history: bool) {
        let Some(travel) = self.travel.as_mut().filter(|t| t.open) else {
            return;
        };
        travel.draw();
        let shown = travel.shown;
        let archived_at = travel.archived_at().map(str::to_owned);
        let playing = self.playing;
        self.live.history.set(Some(HistoryStatus {
            shown,
            playing,
            archived_at,
            beyond_history,
        }));
    }

    /// Moves the timelapse on by one step.
    fn play_tick(&mut self) {
        let Some(travel) = self.travel.as_ref().filter(|t| t.open && self.playing) else {
            return;
        };
        if travel.busy {
            return;
        }
        let live_seq = self.live.seq.get_untracked();
        if travel.shown >= live_seq {
            self.playing = false;
            self.live
                .history
                .update(|s| s.iter_mut().for_each(|s| s.playing = false));
            return;
        }
        let step = (live_seq / PLAY_STEPS).max(1);
        self.seek((travel.shown + step).min(live_seq));
    }

    /// Asks for the canvas at `seq`; a rebuild already running takes it
    /// up when done, so dragging the slider never queues stale seqs.
    fn seek(&mut self, seq: u64) {
        let Some(travel) = self.travel.as_mut().filter(|t| t.open) else {
            return;
        };
        travel.wanted = Some(seq);
        if !travel.busy {
            travel.busy = true;
            leptos::task::spawn_local(rebuild());
        }
    }

    /// Shows a template just loaded, and records it in the URL when it can
    /// be shared.
    fn on_template(
        &mut self,
        rgba: &image::Rgba,
        shared: Option<String>,
        (x, y): (i32, i32),
        opacity: f64,
    ) {
        let Some(template) = &mut self.template else {
            return;
        };
        let opacity = opacity.clamp(0.1, 1.0);
        template.set_image(rgba, (x, y), self.pixels.indices());
        template.set_opacity(opacity);
        self.live.template.set(Some(TemplateStatus {
            source: shared.clone().unwrap_or_default(),
            x,
            y,
            opacity,
            differing: template.differing(),
        }));
        self.live.notice.set(None);
        self.request_frame();
        query::update(&[
            ("template", shared),
            ("tx", Some(x.to_string())),
            ("ty", Some(y.to_string())),
            ("to", Some(opacity.to_string())),
        ]);
    }

    /// Redraws the template after a change of `status`, and records it in
    /// the URL.
    fn template_changed(&mut self, change: impl FnOnce(&mut TemplateStatus)) {
        let Some(mut status) = self.live.template.get_untracked() else {
            return;
        };
        change(&mut status);
        if let Some(template) = &self.template {
            status.differing = template.differing();
        }
        query::update(&[
            ("tx", Some(status.x.to_string())),
            ("ty", Some(status.y.to_string())),
            ("to", Some(status.opacity.to_string())),
        ]);
        self.live.template.set(Some(status));
        self.request_frame();
    }

    fn request_frame(&mut self) {
        let template_dirty = self.template.as_ref().is_some_and(Template::is_dirty);
        if self.frame_requested || !(self.pixels.is_dirty() || template_dirty) {
            return;
        }
        self.frame_requested = true;
        let draw = Closure::once_into_js(|| {
            with_client(|client| {
                client.frame_requested = false;
                client.pixels.flush();
                if let Some(template) = &mut client.template {
                    template.flush();
                    let differing = template.differing();
                    let changed = client.live.template.with_untracked(|status| {
                        status.as_ref().is_some_and(|s| s.differing != differing)
                    });
                    if changed {
                        client.live.template.update(|status| {
                            if let Some(status) = status {
                                status.differing = differing;
                            }
                        });
                    }
                }
                if let Some(heat) = &mut client.heat {
                    heat.draw(now());
                }
            });
        });
        let _ = window().request_animation_frame(draw.unchecked_ref());
    }
}
