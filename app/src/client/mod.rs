//! The live canvas in the browser: keeps the page's copy of the canvas equal
//! to the server's, following "Ordering and catch-up" of PROTOCOL.md.
//!
//! On first connect: keep the Tiles that arrive, fetch `/api/canvas`, apply the
//! kept tiles above the snapshot's seq. On reconnect, or when tiles show a gap
//! (a snapshot older than the socket's start, say from another instance or a
//! cache): `Resume` from the last applied seq. On `Resync` or a new epoch:
//! load the snapshot again.
//!
//! The browser runs this on one thread, so the state is a thread-local
//! singleton and the DOM callbacks reach it through [`with_client`]; only the
//! few figures the page shows are Leptos signals.

mod http;
mod pixels;
mod socket;

use crate::{
    components::{Connection, LiveState},
    geometry::CanvasSize,
    protocol::{ClientMessage, Hello, PlaceStatus, ServerMessage, Tile},
};
use leptos::prelude::*;
use pixels::Pixels;
use socket::Socket;
use std::{cell::RefCell, time::Duration};
use wasm_bindgen::{prelude::Closure, JsCast};
use web_sys::{HtmlCanvasElement, MouseEvent};

thread_local! {
    static CLIENT: RefCell<Option<Client>> = const { RefCell::new(None) };
}

/// Runs `f` on the client, if it has started.
fn with_client<R>(f: impl FnOnce(&mut Client) -> R) -> Option<R> {
    CLIENT.with(|cell| cell.borrow_mut().as_mut().map(f))
}

enum Sync {
    /// A snapshot is being fetched; tiles that arrive meanwhile are kept
    /// (seq, tile) and applied after it. `generation` tells a stale fetch
    /// from the current one.
    Loading {
        kept: Vec<(u64, Tile)>,
        generation: u32,
    },
    /// The canvas is current up to `Client::applied_seq`.
    Live,
}

struct Client {
    pixels: Pixels,
    live: LiveState,
    /// The current socket. It stays here after it closes (dropping it from
    /// inside its own `onclose` would free the running callback) and is
    /// replaced by the next attempt.
    socket: Option<Socket>,
    /// Whether `socket` is open.
    connected: bool,
    sync: Sync,
    /// Increments for every snapshot fetch started.
    generation: u32,
    /// Epoch and seq of the last tile applied; `None` before the first snapshot.
    applied: Option<(u64, u64)>,
    /// The seq a `Resume` was last sent from, so a gap asks only once.
    resumed_from: Option<u64>,
    /// The epoch the server announced in its last `Hello`.
    server_epoch: Option<u64>,
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
    let Some(pixels) = Pixels::new(&canvas, size) else {
        live.notice
            .set(Some("This browser cannot draw on a canvas.".into()));
        return;
    };
    CLIENT.with(|cell| {
        *cell.borrow_mut() = Some(Client {
            pixels,
            live,
            socket: None,
            connected: false,
            sync: Sync::Live,
            generation: 0,
            applied: None,
            resumed_from: None,
            server_epoch: None,
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
    connect();
}

/// Places the selected color at the pixel under a click.
pub fn place_at(canvas: &HtmlCanvasElement, event: &MouseEvent) {
    let rect = canvas.get_bounding_client_rect();
    if rect.width() <= 0.0 || rect.height() <= 0.0 {
        return;
    }
    let fx = (f64::from(event.client_x()) - rect.left()) / rect.width();
    let fy = (f64::from(event.client_y()) - rect.top()) / rect.height();
    let to_pixel = |f: f64, extent: u32| {
        (f * f64::from(extent))
            .floor()
            .clamp(0.0, f64::from(extent - 1)) as u16
    };
    let (x, y) = (to_pixel(fx, canvas.width()), to_pixel(fy, canvas.height()));
    with_client(|client| client.place(x, y));
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
        Err(()) => client.on_close(),
    });
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
        match ServerMessage::decode(frame) {
            Ok(ServerMessage::Hello(hello)) => self.on_hello(hello),
            Ok(ServerMessage::Tiles { first_seq, tiles }) => self.on_tiles(first_seq, &tiles),
            Ok(ServerMessage::PlaceResult {
                status,
                retry_after_ms,
                ..
            }) => self.on_place_result(status, retry_after_ms),
            Ok(ServerMessage::Presence { online }) => self.live.online.set(online),
            Ok(ServerMessage::Resync { .. }) => self.load_snapshot(),
            Ok(ServerMessage::Error { message, .. }) => self.live.notice.set(Some(message)),
            // A message type this client does not know: ignore it (PROTOCOL.md).
            Err(_) => {}
        }
    }

    fn on_hello(&mut self, hello: Hello) {
        self.cooldown_ms = hello.cooldown_ms;
        self.server_epoch = Some(hello.epoch);
        match (self.applied, &self.sync) {
            (Some((epoch, _)), Sync::Live) if epoch == hello.epoch => {
                self.resumed_from = None;
                self.resume();
                self.live.connection.set(Connection::Live);
            }
            _ => self.load_snapshot(),
        }
    }

    fn on_tiles(&mut self, first_seq: u64, tiles: &[Tile]) {
        let numbered = (first_seq..).zip(tiles.iter().copied());
        match &mut self.sync {
            Sync::Loading { kept, .. } => kept.extend(numbered),
            Sync::Live => {
                for (seq, tile) in numbered {
                    self.apply(seq, tile);
                }
            }
        }
    }

    /// Applies one tile in seq order. A tile past a gap is dropped and the
    /// server asked to `Resume` from the last tile applied: its answer
    /// carries every tile from there on.
    fn apply(&mut self, seq: u64, tile: Tile) {
        let Some((epoch, applied)) = self.applied else {
            return;
        };
        if seq <= applied {
            return; // already in the snapshot or seen before
        }
        if seq != applied + 1 {
            self.resume();
            return;
        }
        self.pixels.set(tile);
        self.applied = Some((epoch, seq));
        self.live.seq.set(seq);
        self.request_frame();
    }

    /// Asks for the tiles after the last one applied (once per seq).
    fn resume(&mut self) {
        let Some((epoch, last_seq)) = self.applied else {
            return;
        };
        if self.resumed_from != Some(last_seq) {
            self.resumed_from = Some(last_seq);
            self.send(ClientMessage::Resume { epoch, last_seq });
        }
    }

    fn load_snapshot(&mut self) {
        if matches!(self.sync, Sync::Loading { .. }) {
            return;
        }
        self.generation += 1;
        let generation = self.generation;
        self.sync = Sync::Loading {
            kept: Vec::new(),
            generation,
        };
        leptos::task::spawn_local(async move {
            let snapshot = http::fetch_snapshot().await;
            with_client(|client| client.on_snapshot(generation, snapshot));
        });
    }

    fn on_snapshot(&mut self, generation: u32, snapshot: Result<http::Snapshot, String>) {
        let kept = match &mut self.sync {
            Sync::Loading {
                kept,
                generation: current,
            } if *current == generation => std::mem::take(kept),
            _ => return,
        };
        self.sync = Sync::Live;
        let snapshot = match snapshot {
            Ok(snapshot) if self.pixels.load(&snapshot.pixels) => snapshot,
            _ => {
                // Try again on the next connection.
                self.live
                    .notice
                    .set(Some("Could not load the canvas; retrying.".into()));
                self.applied = None;
                if let Some(socket) = &self.socket {
                    socket.close();
                }
                return;
            }
        };
        self.applied = Some((snapshot.epoch, snapshot.seq));
        self.resumed_from = None;
        self.live.seq.set(snapshot.seq);
        self.request_frame();
        for (seq, tile) in kept {
            self.apply(seq, tile);
        }
        if self.server_epoch != Some(snapshot.epoch) {
            // A snapshot from another epoch than the socket's: the server
            // answers this Resume with Resync, and the snapshot is reloaded.
            self.resume();
        }
        self.live.connection.set(Connection::Live);
    }

    fn on_place_result(&mut self, status: PlaceStatus, retry_after_ms: u32) {
        let (wait, notice) = match status {
            PlaceStatus::Accepted => (self.cooldown_ms, None),
            PlaceStatus::Cooldown => (retry_after_ms, Some("Still cooling down.")),
            PlaceStatus::Invalid => (0, Some("That pixel or color is not on the canvas.")),
            PlaceStatus::RateLimited => (retry_after_ms, Some("Too fast: slow down a little.")),
            PlaceStatus::NotAllowed => (0, Some("Placing is not allowed right now.")),
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

    fn place(&mut self, x: u16, y: u16) {
        let color = self.live.selected.get_untracked();
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

    fn request_frame(&mut self) {
        if self.frame_requested || !self.pixels.is_dirty() {
            return;
        }
        self.frame_requested = true;
        let draw = Closure::once_into_js(|| {
            with_client(|client| {
                client.frame_requested = false;
                client.pixels.flush();
            });
        });
        let _ = window().request_animation_frame(draw.unchecked_ref());
    }
}
