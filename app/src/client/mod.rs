//! The live canvas in the browser: the socket, the snapshot, the drawing and
//! the gestures. Which tiles to apply, when to `Resume` and when to load the
//! snapshot again is [`crate::sync`]'s to decide; this carries it out.
//!
//! The client is one controller per concern, each owning its state:
//! `link` (the socket, the only one, and the sync machine), `paint` (the
//! pixels and the overlays that follow them), `pointer` (the view, the
//! gestures and the keys), `placer` (the cooldown and the challenge) and
//! `travel` (the past). The [`Client`] holds them and makes the few
//! decisions that involve several. The browser runs this on one thread,
//! so the client is a thread-local the DOM callbacks reach through
//! [`with_client`], each handing the event to one controller; only the
//! few figures the page shows are Leptos signals.
//!
//! The overlays' models are plain shared code (`crate::template`,
//! `crate::timeline`, `crate::heat`), tested without a browser; `heat`,
//! `template` and `travel` here draw them. `admin` is the moderators'
//! page's side.

pub mod admin;
mod challenge;
mod chat;
mod heat;
pub mod hint;
mod http;
mod image;
mod input;
mod layer;
mod link;
mod paint;
mod pixels;
mod placer;
mod pointer;
mod query;
mod ready;
mod socket;
mod template;
mod travel;
mod view;
mod watch;
mod world;

use crate::{
    chunk::{self, ChunkId, WHOLE_CANVAS_MAX_AREA},
    chunk_sync::ViewAction,
    geometry::CanvasSize,
    live::{Connection, LiveState},
    protocol::{ClientMessage, ServerMessage, Tile, Version, MAX_WATCHED},
    sync,
    timeline::ChunkTimelines,
};
use heat::Heat;
use leptos::prelude::*;
use link::Link;
use paint::Paint;
use pixels::Pixels;
use placer::Placer;
use pointer::{Intent, Pointer};
use socket::Socket;
use std::collections::BTreeSet;
use std::{cell::RefCell, time::Duration};
use template::Template;
pub use template::{
    load_template, move_template, next_template_pixel, remove_template, select_template,
    set_template_dithering, set_template_dotted, set_template_opacity, set_template_symbols,
    show_template_color, TemplateSource,
};
use travel::Travel;
pub use travel::{close_history, open_history, seek_history, toggle_history_play};
use view::View;
use wasm_bindgen::JsCast;
pub use watch::watch_template;
use web_sys::HtmlCanvasElement;
use world::World;

thread_local! {
    static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
    /// Where the canvas's API and socket are (`PageData::base`).
    static BASE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// `path` (`/api/…`, `/ws`) of this page's canvas.
fn scoped(path: &str) -> String {
    BASE.with(|base| format!("{}{path}", base.borrow()))
}

/// Runs `f` on the client, if it has started.
fn with_client<R>(f: impl FnOnce(&mut Client) -> R) -> Option<R> {
    CLIENT.with(|cell| cell.borrow_mut().as_mut().map(f))
}

/// The live canvas: one controller per concern, and the few decisions
/// that involve several of them.
struct Client {
    size: CanvasSize,
    live: LiveState,
    /// The socket and the sync machine.
    link: Link,
    /// The pixels and the overlays that follow them.
    paint: Paint,
    /// The view, the gestures and the reticle.
    pointer: Pointer,
    /// The cooldown and the challenge.
    placer: Placer,
    /// The time-travel view, if the page has its canvas.
    travel: Option<Travel>,
    /// Whether the timelapse is playing.
    playing: bool,
    /// The chunks in view, on a canvas too large to send whole (which then
    /// has no whole-canvas pixels, overlays or past).
    world: Option<World>,
}

/// How often a page of a chunked canvas looks at which chunks are in view
/// (and sends `Watch` when they changed): at most five a second.
const VIEW_CHECK_EVERY: Duration = Duration::from_millis(200);

/// How often a page of a chunked canvas reloads its preview of the whole
/// canvas (the server makes one at most every five seconds).
const PREVIEW_EVERY: Duration = Duration::from_secs(15);

/// Starts the live canvas on `canvas` (once per page).
pub fn start(canvas: HtmlCanvasElement, size: CanvasSize, live: LiveState, base: String) {
    let started = CLIENT.with(|cell| cell.borrow().is_some());
    if started {
        return;
    }
    BASE.with(|cell| *cell.borrow_mut() = base);
    // A canvas too large to send whole is drawn by chunk: the board's
    // whole-canvas layer is then a hidden pixel.
    let chunked = size.area() > WHOLE_CANVAS_MAX_AREA;
    let layer_size = if chunked {
        CanvasSize {
            width: 1,
            height: 1,
        }
    } else {
        size
    };
    let (Some(pixels), Some(stage), Some(board), Some(reticle)) = (
        Pixels::new(&canvas, layer_size),
        input::element("stage"),
        input::element("board"),
        input::element("reticle"),
    ) else {
        live.notice.set(Some(live.lang.texts().cannot_draw.into()));
        return;
    };
    input::attach(&stage);
    let overlay = |class: &str| {
        input::element(class).and_then(|element| element.dyn_into::<HtmlCanvasElement>().ok())
    };
    let heat = overlay("heat-canvas").and_then(|canvas| Heat::new(canvas, size));
    let overlays = document().get_elements_by_class_name("template-canvas");
    let templates: Vec<Template> = (0..overlays.length())
        .filter_map(|n| overlays.item(n)?.dyn_into::<HtmlCanvasElement>().ok())
        .filter_map(|canvas| Template::new(canvas, size, chunked, live.colors))
        .collect();
    let travel = if chunked {
        Some(Travel::Chunks(ChunkTimelines::default()))
    } else {
        overlay("travel-canvas").and_then(|canvas| Travel::whole(canvas, size))
    };
    let world = chunked.then(|| World::new(board.clone()));
    let view = View::new(stage, board, reticle, size);
    live.hover.set(Some(view.target));
    CLIENT.with(|cell| {
        *cell.borrow_mut() = Some(Client {
            size,
            live,
            link: Link::new(),
            paint: Paint::new(layer_size, pixels, templates, heat),
            pointer: Pointer::new(view),
            placer: Placer::default(),
            travel,
            playing: false,
            world,
        })
    });
    with_client(|client| client.placer.ready.restore(live));
    if chunked {
        set_interval(
            || {
                with_client(Client::check_view);
            },
            VIEW_CHECK_EVERY,
        );
        set_interval(
            || {
                with_client(|client| {
                    if let Some(world) = &client.world {
                        world.refresh_preview(client.live.seq.get_untracked());
                    }
                });
            },
            PREVIEW_EVERY,
        );
    }
    set_interval(
        || {
            with_client(|client| {
                let live = client.live;
                client.placer.tick(live);
            });
        },
        Duration::from_millis(100),
    );
    // The heatmap fades as placements age.
    set_interval(
        || {
            with_client(|client| {
                if let Some(heat) = &mut client.paint.heat {
                    heat.draw(now());
                }
                if let Some(world) = &mut client.world {
                    world.draw_heat();
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
    watch::follow_from_url(live);
}

/// Shows the heatmap if hidden, hides it if shown; whether it is shown.
/// The first time, the server's heatmap adds what happened before the page
/// opened.
pub fn toggle_heatmap() -> bool {
    let by_chunk = with_client(|client| {
        let world = client.world.as_mut()?;
        let shown = !world.heat_shown;
        fetch_chunk_heat(world.show_heat(shown));
        Some(shown)
    })
    .flatten();
    if let Some(shown) = by_chunk {
        return shown;
    }
    let toggled = with_client(|client| {
        let size = client.size;
        let heat = client.paint.heat.as_mut()?;
        let shown = !heat.visible;
        heat.show(shown, now());
        Some((shown, heat.wants_seed().then_some(size)))
    })
    .flatten();
    if let Some((_, Some(size))) = toggled {
        leptos::task::spawn_local(async move {
            let (width, height) = (u32::from(size.width), u32::from(size.height));
            let loaded = image::load(&scoped("/api/heatmap.png"), width, height).await;
            with_client(|client| {
                if let (Ok(heatmap), Some(heat)) = (loaded, &mut client.paint.heat) {
                    heat.seed(&heatmap, now());
                    heat.draw(now());
                }
            });
        });
    }
    toggled.is_some_and(|(shown, _)| shown)
}

/// Asks the server for the heat of `chunks` (a canvas served by chunk),
/// one after the other, and adds it to the heatmap over each.
fn fetch_chunk_heat(chunks: Vec<ChunkId>) {
    if chunks.is_empty() {
        return;
    }
    leptos::task::spawn_local(async move {
        let side = u32::from(chunk::CHUNK_SIDE);
        for chunk in chunks {
            let url = scoped(&format!("/api/chunks/{}/{}/heat.png", chunk.cx, chunk.cy));
            let loaded = image::load(&url, side, side).await;
            with_client(|client| {
                if let (Ok(heatmap), Some(world)) = (loaded, &mut client.world) {
                    world.seed_heat(chunk, &heatmap);
                }
            });
        }
    });
}

/// Sends a chat message, or says why it cannot be sent now.
pub fn send_chat(text: String, live: LiveState) {
    let to_faction = live.in_faction_channel.get_untracked();
    let sent = with_client(|client| client.link.chat(text, to_faction)).unwrap_or(false);
    let refusal = (!sent).then(|| live.lang.texts().chat_offline.to_owned());
    live.chat_notice.set(refusal);
}

/// Connects the socket again (it resumes where it was): what the server
/// tells a connection at its start (the faction's channel) is asked again.
pub fn reconnect() {
    with_client(|client| {
        client.live.connection.set(Connection::Reconnecting);
        client.link.close();
    });
}

/// Reports chat message `id` to the moderators and says how it went.
pub fn report_chat(id: u64, live: LiveState) {
    leptos::task::spawn_local(async move {
        let t = live.lang.texts();
        let said = match http::report_chat(id).await {
            Ok(()) => t.chat_reported.to_owned(),
            Err(error) => (t.not_reported)(&error.to_string()),
        };
        live.chat_notice.set(Some(said));
    });
}

/// Centres the view on canvas pixel (x, y) (a place named in the chat),
/// as a shared link to it would.
pub fn go_to(x: u16, y: u16) {
    with_client(|client| client.pointer.view.center_on(f64::from(x), f64::from(y)));
}

/// Centres the view on the point of the canvas the minimap was clicked at.
pub fn minimap_clicked(event: &web_sys::MouseEvent) {
    let Some(map) = event
        .current_target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
    else {
        return;
    };
    let rect = map.get_bounding_client_rect();
    let fraction = |at: i32, start: f64, extent: f64| (f64::from(at) - start) / extent.max(1.0);
    let (fx, fy) = (
        fraction(event.client_x(), rect.left(), rect.width()),
        fraction(event.client_y(), rect.top(), rect.height()),
    );
    with_client(|client| {
        let size = client.size;
        let x = fx * f64::from(size.width);
        let y = fy * f64::from(size.height);
        client.pointer.view.center_on(x, y);
    });
}

/// Zooms around the centre of the view (the zoom buttons).
pub use http::{get_json, post_json};

/// Calls `f` every `period` while the page lives.
pub fn every(period: Duration, f: impl Fn() + 'static) {
    set_interval(f, period);
}

/// Keeps `lang` in the cookie the server renders pages by, for a year, and
/// reloads the page in it.
pub fn choose_language(lang: crate::i18n::Lang) {
    let document = document().unchecked_into::<web_sys::HtmlDocument>();
    let cookie = format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    );
    if document.set_cookie(&cookie).is_ok() {
        let _ = window().location().reload();
    }
}

/// The Undo button: undoes the user's last placement.
pub fn undo() {
    with_client(Client::undo);
}

/// The player's choice of being told, by a notification and by a sound,
/// when a tile is back (from their click on the page).
pub fn set_ready_alerts(notify: bool, sound: bool) {
    with_client(|client| {
        let live = client.live;
        client.placer.ready.choose(notify, sound, live);
    });
}

pub fn zoom_by(factor: f64) {
    with_client(|client| client.pointer.zoom_centered(factor));
}

/// Sends the pixel at (`x`, `y`) to the moderators' queue and says how it
/// went.
pub fn report_pixel(x: u16, y: u16, reason: String, live: LiveState) {
    leptos::task::spawn_local(async move {
        let notice = match http::report(x, y, &reason).await {
            Ok(()) => (live.lang.texts().reported)(x, y),
            Err(error) => (live.lang.texts().not_reported)(&error.to_string()),
        };
        live.notice.set(Some(notice));
    });
}

/// Saves the display name and says how it went.
pub fn save_name(name: String, live: LiveState) {
    leptos::task::spawn_local(async move {
        let notice = match http::save_name(&name).await {
            Ok(saved) => (live.lang.texts().name_saved)(&saved),
            Err(error) => (live.lang.texts().name_not_saved)(&error.to_string()),
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
            with_client(|client| client.link.opened());
        },
        || {
            with_client(Client::on_close);
        },
    );
    with_client(|client| match socket {
        Ok(socket) => client.link.attach(socket),
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

/// Fetches a chunk's snapshot after `delay` and hands it to the client.
fn fetch_chunk_after(chunk: ChunkId, epoch: u64, version: u64, delay: Duration) {
    let fetch = move || {
        leptos::task::spawn_local(async move {
            let fetched = http::fetch_chunk(chunk, epoch, version).await;
            with_client(|client| client.on_chunk(chunk, version, fetched));
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
    fn on_close(&mut self) {
        if let Some(world) = &mut self.world {
            world.sync.disconnected();
        }
        let (delay, state) = self.link.closed(js_sys::Math::random());
        self.live.connection.set(state);
        set_timeout(connect, delay);
    }

    fn on_frame(&mut self, frame: &[u8]) {
        // A message type this client does not know is ignored (docs/protocol.md).
        let Ok(message) = ServerMessage::decode(frame) else {
            return;
        };
        match &message {
            ServerMessage::Hello(hello) => self.placer.hello(hello.cooldown_ms),
            ServerMessage::PlaceResult {
                status,
                retry_after_ms,
                ..
            } => {
                let sent = self.link.answered();
                let challenge = self
                    .placer
                    .answered(*status, *retry_after_ms, sent, self.live);
                if let Some(tile) = challenge {
                    challenge::solve_then_place(self.live, tile);
                }
            }
            ServerMessage::Charges {
                available,
                max,
                next_ms,
            } => self.placer.charges(*available, *max, *next_ms, self.live),
            ServerMessage::Presence { online } => self.live.online.set(*online),
            ServerMessage::Frozen { frozen } => self.live.frozen.set(*frozen),
            ServerMessage::Error { message, .. } => self.live.notice.set(Some(message.clone())),
            ServerMessage::Resize { width, height } => self.grow(CanvasSize {
                width: *width,
                height: *height,
            }),
            ServerMessage::ChatLine(line) => chat::received(line, self.live),
            ServerMessage::FactionChatLine { line, .. } => {
                chat::received_in(line, self.live.faction_chat)
            }
            ServerMessage::ChatLines(lines) => {
                for line in lines {
                    chat::received(line, self.live);
                }
            }
            ServerMessage::ChatRemoved { id } => chat::removed(*id, self.live),
            ServerMessage::ChatResult {
                status,
                retry_after_ms,
            } => chat::answered(*status, *retry_after_ms, self.live),
            ServerMessage::TemplateAlert { id, damaged, .. } => {
                watch::alerted(*id, *damaged, self.live)
            }
            _ => {}
        }
        if let Some(world) = &mut self.world {
            let actions = world.sync.received(&message);
            self.perform_view(actions);
            if let Some(cursor) = self.world.as_ref().and_then(|w| w.sync.cursor()) {
                self.live.seq.set(cursor);
                self.live.connection.set(Connection::Live);
            }
            return;
        }
        let actions = self.link.sync.received(&message);
        self.perform(actions);
    }

    /// The moderators enlarged the canvas: the page shows the new area
    /// without a reload (a reload only when it outgrew being sent whole:
    /// the page is then drawn by chunk).
    fn grow(&mut self, size: CanvasSize) {
        if size == self.size {
            return;
        }
        let chunked = size.area() > WHOLE_CANVAS_MAX_AREA;
        if chunked != self.world.is_some() {
            let _ = window().location().reload();
            return;
        }
        self.size = size;
        self.pointer.view.grow(size);
        if self.world.is_none() {
            self.paint.grow(size);
            // The past was drawn at the old size: back to live.
            if let Some(mut travel) = self.travel.take() {
                travel.close();
                self.playing = false;
                self.live.history.set(None);
            }
        }
        let t = self.live.lang.texts();
        self.live
            .notice
            .set(Some((t.grew)(size.width, size.height)));
    }

    /// Watches the chunks in view, when they changed.
    fn check_view(&mut self) {
        let Some(world) = &mut self.world else {
            return;
        };
        // Chunks drawn since the last look get their heat, while shown.
        fetch_chunk_heat(world.heat_missing());
        let area = self.pointer.view.visible_area();
        let wanted: BTreeSet<ChunkId> = chunk::in_view(self.size, area, MAX_WATCHED)
            .into_iter()
            .collect();
        if world.sync.watched().eq(wanted.iter().copied()) {
            return;
        }
        let actions = world.sync.view(&wanted);
        self.perform_view(actions);
    }

    /// Carries out what the chunks' sync machine asks for.
    fn perform_view(&mut self, actions: Vec<ViewAction>) {
        for action in actions {
            let Some(world) = &mut self.world else {
                return;
            };
            match action {
                ViewAction::Watch(chunks) => self.link.send(ClientMessage::Watch(chunks)),
                ViewAction::Fetch(chunk, version) => {
                    let Some(epoch) = world.sync.epoch() else {
                        continue;
                    };
                    fetch_chunk_after(chunk, epoch, version, Duration::ZERO);
                }
                ViewAction::Apply(tiles) => {
                    world.apply(&tiles, &mut self.paint.slots);
                    self.paint.request_frame();
                }
                // `on_chunk` installed the snapshot it holds; the tiles
                // held back go over it.
                ViewAction::Install(chunk, held) => {
                    world.apply(&held, &mut []);
                    self.compare_template();
                    self.past_chunk(chunk, true);
                }
                ViewAction::Drop(chunk) => {
                    world.drop_chunk(chunk);
                    self.compare_template();
                    self.past_chunk(chunk, false);
                }
                ViewAction::Reconnect => self.link.close(),
            }
        }
    }

    /// On a canvas served by chunk, compares the template with the chunks
    /// shown again (one was loaded or dropped).
    fn compare_template(&mut self) {
        let Some(world) = &self.world else {
            return;
        };
        for template in self.paint.templates_mut() {
            template.compare(&world.colors_in(template.window()));
        }
        self.paint.request_frame();
    }

    /// A chunk's snapshot arrived (or could not be fetched).
    fn on_chunk(
        &mut self,
        chunk: ChunkId,
        version: u64,
        fetched: Result<http::Chunk, http::HttpError>,
    ) {
        let Some(world) = &mut self.world else {
            return;
        };
        let actions = match fetched {
            Ok(fetched) => {
                let Some(actions) =
                    world
                        .sync
                        .loaded(chunk, version, fetched.epoch, fetched.version)
                else {
                    return; // a leftover
                };
                if actions.iter().any(|a| matches!(a, ViewAction::Install(..))) {
                    world.install(chunk, &fetched.pixels);
                }
                actions
            }
            Err(_) => {
                // Asked again after a pause.
                let actions = world.sync.load_failed(chunk, version);
                if let (Some(epoch), true) = (world.sync.epoch(), !actions.is_empty()) {
                    fetch_chunk_after(chunk, epoch, version, Duration::from_secs(1));
                }
                return;
            }
        };
        let retry = actions.iter().any(|a| matches!(a, ViewAction::Fetch(..)));
        if retry {
            // An instance behind the version asked, or another epoch: later.
            if let Some(epoch) = world.sync.epoch() {
                fetch_chunk_after(chunk, epoch, version, Duration::from_millis(500));
            }
            return;
        }
        self.perform_view(actions);
    }

    /// Carries out what the sync machine asks for.
    fn perform(&mut self, actions: Vec<sync::Action>) {
        for action in actions {
            match action {
                sync::Action::Apply { first_seq, tiles } => {
                    self.paint.apply(&tiles);
                    self.live.seq.set(first_seq + tiles.len() as u64 - 1);
                }
                sync::Action::Send(message) => self.link.send(message),
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
        if self.link.sync.is_live() {
            self.live.connection.set(Connection::Live);
        }
    }

    fn on_snapshot(&mut self, snapshot: Result<http::Snapshot, http::HttpError>) {
        let snapshot = match snapshot {
            Ok(snapshot) if snapshot.pixels.len() == self.size.area() => snapshot,
            failed => {
                let reason = match failed {
                    Ok(_) => "the canvas has another size".to_owned(),
                    Err(error) => error.to_string(),
                };
                // Try again on the next connection.
                let t = self.live.lang.texts();
                self.live.notice.set(Some((t.canvas_not_loaded)(&reason)));
                self.link.sync.load_failed();
                self.link.close();
                return;
            }
        };
        let at = Version {
            epoch: snapshot.epoch,
            seq: snapshot.seq,
        };
        // A leftover of an earlier request is dropped.
        if let Some(actions) = self.link.sync.loaded(at) {
            self.paint.load(&snapshot.pixels);
            self.live.seq.set(snapshot.seq);
            self.perform(actions);
        }
    }

    /// Does what an input asks for.
    fn follow(&mut self, intent: Intent) {
        match intent {
            Intent::Nothing => {}
            Intent::Target(pixel) => self.target(pixel),
            Intent::Place(pixel) => {
                self.target(pixel);
                self.place(pixel);
            }
            Intent::Undo => self.undo(),
        }
    }

    /// Moves the reticle: the template's color there becomes the selected
    /// one, and who placed the pixel is asked once the pointer rests.
    fn target(&mut self, pixel: (u16, u16)) {
        if !self.pointer.retarget(pixel) {
            return;
        }
        self.live.hover.set(Some(pixel));
        if let Some(color) = self.paint.wanted_at(pixel) {
            self.live.selected.set(color);
        }
        self.live.pixel_info.set(None);
        let generation = self.pointer.info_generation;
        set_timeout(
            move || {
                with_client(|client| client.fetch_pixel_info(generation));
            },
            Duration::from_millis(400),
        );
    }

    fn fetch_pixel_info(&mut self, generation: u32) {
        if generation != self.pointer.info_generation {
            return;
        }
        let (x, y) = self.pointer.view.target;
        leptos::task::spawn_local(async move {
            let info = http::pixel_info(x, y).await;
            with_client(|client| {
                if client.pointer.info_generation == generation {
                    client.live.pixel_info.set(info);
                }
            });
        });
    }

    fn place(&mut self, (x, y): (u16, u16)) {
        if self.travel.as_ref().is_some_and(Travel::is_open) {
            self.live
                .notice
                .set(Some(self.live.lang.texts().past_no_place.into()));
            return;
        }
        let color = self.live.selected.get_untracked();
        if !self.link.place(Tile { x, y, color }) {
            self.live
                .notice
                .set(Some(self.live.lang.texts().offline_not_placed.into()));
        }
    }

    /// Undoes the user's last placement, if the server still lets it.
    fn undo(&mut self) {
        if self.travel.as_ref().is_some_and(Travel::is_open) {
            self.live
                .notice
                .set(Some(self.live.lang.texts().past_no_undo.into()));
            return;
        }
        if !self.link.undo() {
            self.live
                .notice
                .set(Some(self.live.lang.texts().offline_not_undone.into()));
        }
    }

    /// The session is verified: the tile that asked for it is placed now.
    fn challenge_solved(&mut self, tile: Tile, took_ms: f64) {
        self.placer.solved(took_ms, self.live);
        self.link.place(tile);
    }
}
