//! The live canvas in the browser: the socket, the snapshot, the drawing and
//! the gestures. Which tiles to apply, when to `Resume` and when to load the
//! snapshot again is [`crate::sync`]'s to decide; this carries it out.
//!
//! The browser runs this on one thread, so the state is a thread-local
//! singleton and the DOM callbacks reach it through [`with_client`]; only the
//! few figures the page shows are Leptos signals.
//!
//! Over the canvas lie three overlays, each a module with its model and the
//! calls its controls make: the heatmap (`heat`), the player's template
//! (`template`) and the canvas's past (`travel`). `admin` is the
//! moderators' page's side.

pub mod admin;
mod challenge;
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

use crate::gesture::{Gesture, Motion};
use crate::{
    geometry::CanvasSize,
    live::{Connection, LiveState, ZOOM_STEP},
    protocol::{ClientMessage, PlaceStatus, ServerMessage, Tile, Version},
    sync::{self, CanvasSync},
};
use heat::Heat;
use leptos::prelude::*;
use pixels::Pixels;
use socket::Socket;
use std::{cell::RefCell, collections::VecDeque, time::Duration};
use template::Template;
pub use template::{
    load_template, move_template, remove_template, set_template_opacity, TemplateSource,
};
use travel::Travel;
pub use travel::{close_history, open_history, seek_history, toggle_history_play};
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
    /// The tiles sent on this socket whose `PlaceResult` has not come yet,
    /// oldest first (the answers come in order).
    placing: VecDeque<Tile>,
    /// Whether a challenge is being fetched, solved or answered.
    challenging: bool,
    /// The worker solving it.
    solving: Option<challenge::Solving>,
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
            placing: VecDeque::new(),
            challenging: false,
            solving: None,
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
        travel::PLAY_TICK,
    );
    connect();
    template::load_template_from_url();
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

/// Sends the pixel at (`x`, `y`) to the moderators' queue and says how it
/// went.
pub fn report_pixel(x: u16, y: u16, reason: String, live: LiveState) {
    leptos::task::spawn_local(async move {
        let notice = match http::report(x, y, &reason).await {
            Ok(()) => format!("Thanks: pixel {x}, {y} is with the moderators."),
            Err(error) => format!("Not reported: {error}"),
        };
        live.notice.set(Some(notice));
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
        self.placing.clear();
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
        let at = Version {
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
        let tile = self.placing.pop_front();
        if status == PlaceStatus::ChallengeRequired {
            if let (Some(tile), false) = (tile, self.challenging) {
                self.challenging = true;
                challenge::solve_then_place(self.live, tile);
            }
            return;
        }
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
            PlaceStatus::ChallengeRequired => unreachable!("answered above"),
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
        if self.travel.as_ref().is_some_and(Travel::is_open) {
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
        let tile = Tile { x, y, color };
        self.placing.push_back(tile);
        self.send(ClientMessage::Place(tile));
    }

    /// The session is verified: the tile that asked for it is placed now.
    fn challenge_solved(&mut self, tile: Tile, took_ms: f64) {
        self.challenging = false;
        self.live.notice.set(Some(format!(
            "Verified in {:.1} s: placing.",
            took_ms / 1000.0
        )));
        if self.connected {
            self.placing.push_back(tile);
            self.send(ClientMessage::Place(tile));
        }
    }

    fn challenge_failed(&mut self, reason: &str) {
        self.challenging = false;
        self.solving = None;
        self.live
            .notice
            .set(Some(format!("Not placed: {reason}. Try again.")));
    }

    fn send(&self, message: ClientMessage) {
        if let (true, Some(socket)) = (self.connected, &self.socket) {
            socket.send(&message.encode());
        }
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
