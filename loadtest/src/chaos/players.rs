//! Players: clients that place tiles through every fault. When their
//! instance goes they reconnect to the next one and resume, keeping a copy
//! of the canvas by the protocol's own rules ([`app::sync`]) so the audit
//! can compare it with everyone else's.

use crate::client::snapshot;
use app::{
    protocol::{ClientMessage, PlaceStatus, ServerMessage, Tile, Version},
    sync::{Action, CanvasSync},
};
use futures_util::{SinkExt, StreamExt};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// Placements a player has unanswered at once.
const IN_FLIGHT: usize = 4;
/// The longest a connection attempt or a snapshot may take.
const DEADLINE: Duration = Duration::from_secs(5);
/// How long after the final version was announced a player that does not
/// hold it says what it holds.
const STUCK_AFTER: Duration = Duration::from_secs(20);

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Placing,
    /// No more placements; everyone keeps following.
    Quiet,
    /// Done once the copy holds this version.
    Final(Version),
}

/// What every player adds to.
pub struct Tally {
    start: Instant,
    pub accepted: AtomicU64,
    pub unknown: AtomicU64,
    pub refused: AtomicU64,
    pub reconnects: AtomicU64,
    /// Milliseconds from the start to the latest accepted placement.
    pub last_accepted_ms: AtomicU64,
    /// Every accepted placement: its seq and tile.
    pub acks: Mutex<Vec<(u64, Tile)>>,
}

impl Tally {
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            accepted: AtomicU64::new(0),
            unknown: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            last_accepted_ms: AtomicU64::new(0),
            acks: Mutex::new(Vec::new()),
        }
    }

    pub fn millis(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
}

/// A player's copy of the canvas when the run ended.
pub struct Copy {
    pub at: Option<Version>,
    pub pixels: Vec<u8>,
    pub width: usize,
}

pub struct Player {
    id: usize,
    /// When the final version was first seen, and whether being stuck
    /// short of it was reported.
    final_since: Option<Instant>,
    reported: bool,
    /// `http://host:port` of every instance; the player starts on one and
    /// moves on to the next when it goes.
    targets: Arc<Vec<String>>,
    next: usize,
    http: reqwest::Client,
    tally: Arc<Tally>,
    every: Duration,
    rng: SmallRng,
    sync: CanvasSync,
    pixels: Vec<u8>,
    width: usize,
    height: u16,
}

enum Ended {
    /// The connection ended (or never started): connect again.
    Dropped,
    /// The copy holds the final version.
    Done,
}

impl Player {
    pub fn new(
        id: usize,
        targets: Arc<Vec<String>>,
        tally: Arc<Tally>,
        rate: f64,
        seed: u64,
    ) -> Self {
        Self {
            id,
            final_since: None,
            reported: false,
            next: id % targets.len(),
            targets,
            http: reqwest::Client::new(),
            tally,
            every: Duration::from_secs_f64(1.0 / rate.max(0.1)),
            rng: SmallRng::seed_from_u64(seed ^ id as u64),
            sync: CanvasSync::new(),
            pixels: Vec::new(),
            width: 0,
            height: 0,
        }
    }

    /// Plays until the phase is final and the copy holds that version.
    pub async fn run(mut self, mut phase: watch::Receiver<Phase>) -> Copy {
        loop {
            let target = self.targets[self.next].clone();
            match self.session(&target, &mut phase).await {
                Ended::Done => break,
                Ended::Dropped => {
                    self.sync.disconnected();
                    self.tally.reconnects.fetch_add(1, Ordering::Relaxed);
                    self.next = (self.next + 1) % self.targets.len();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        Copy {
            at: self.sync.copy(),
            pixels: self.pixels,
            width: self.width,
        }
    }

    async fn session(&mut self, target: &str, phase: &mut watch::Receiver<Phase>) -> Ended {
        let url = format!("{}/ws", target.replacen("http", "ws", 1));
        let Ok(Ok((mut socket, _))) =
            tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(&url)).await
        else {
            return Ended::Dropped;
        };
        let mut in_flight: VecDeque<Tile> = VecDeque::new();
        let mut placing = tokio::time::interval(self.every);
        let mut check = tokio::time::interval(Duration::from_millis(100));
        loop {
            if let Phase::Final(at) = *phase.borrow() {
                if self.sync.copy() == Some(at) {
                    return Ended::Done;
                }
                self.report_if_stuck(at, in_flight.len(), target);
            }
            let actions = tokio::select! {
                message = socket.next() => {
                    let data = match message {
                        Some(Ok(Message::Binary(data))) => data,
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Ended::Dropped,
                        Some(Ok(_)) => continue,
                    };
                    let Ok(message) = ServerMessage::decode(&data) else {
                        return Ended::Dropped;
                    };
                    if let ServerMessage::Hello(hello) = &message {
                        self.width = usize::from(hello.width);
                        self.height = hello.height;
                    }
                    if let ServerMessage::PlaceResult { status, seq, .. } = message {
                        let Some(tile) = in_flight.pop_front() else {
                            return Ended::Dropped;
                        };
                        self.count(status, seq, tile);
                        continue;
                    }
                    self.sync.received(&message)
                }
                _ = placing.tick(), if *phase.borrow() == Phase::Placing
                    && in_flight.len() < IN_FLIGHT && self.height > 0 => {
                    let tile = Tile {
                        x: self.rng.random_range(0..self.width as u16),
                        y: self.rng.random_range(0..self.height),
                        color: self.rng.random_range(0..16),
                    };
                    in_flight.push_back(tile);
                    vec![Action::Send(ClientMessage::Place(tile))]
                }
                _ = check.tick() => continue,
                _ = phase.changed() => continue,
            };
            if !self.perform(actions, target, &mut socket).await {
                return Ended::Dropped;
            }
        }
    }

    /// Says once, 20 s after the final version was announced, what this
    /// player holds instead: the clue to a run that does not end.
    fn report_if_stuck(&mut self, at: Version, in_flight: usize, target: &str) {
        let since = *self.final_since.get_or_insert_with(Instant::now);
        if since.elapsed() > STUCK_AFTER && !self.reported {
            self.reported = true;
            eprintln!(
                "canvas-chaos: player {} on {target} still holds {:?} (live: {}, {in_flight} placements unanswered), not {at:?}",
                self.id,
                self.sync.copy(),
                self.sync.is_live()
            );
        }
    }

    fn count(&self, status: PlaceStatus, seq: u64, tile: Tile) {
        let tally = &self.tally;
        match status {
            PlaceStatus::Accepted => {
                tally.accepted.fetch_add(1, Ordering::Relaxed);
                tally
                    .last_accepted_ms
                    .fetch_max(tally.millis(), Ordering::Relaxed);
                tally
                    .acks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((seq, tile));
            }
            PlaceStatus::Unknown => {
                tally.unknown.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                tally.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Carries out the sync machine's actions; false when the connection
    /// must be given up.
    async fn perform<S>(&mut self, actions: Vec<Action>, target: &str, socket: &mut S) -> bool
    where
        S: SinkExt<Message> + Unpin,
    {
        let mut actions = VecDeque::from(actions);
        while let Some(action) = actions.pop_front() {
            match action {
                Action::Apply { tiles, .. } => {
                    for tile in tiles {
                        let at = usize::from(tile.y) * self.width + usize::from(tile.x);
                        if let Some(pixel) = self.pixels.get_mut(at) {
                            *pixel = tile.color;
                        }
                    }
                }
                Action::Send(message) => {
                    if socket
                        .send(Message::Binary(message.encode()))
                        .await
                        .is_err()
                    {
                        return false;
                    }
                }
                Action::FetchSnapshot { .. } => {
                    let url = format!("{target}/api/canvas");
                    let fetched = tokio::time::timeout(DEADLINE, snapshot(&self.http, &url)).await;
                    let Ok(Some((mut pixels, seq, epoch))) = fetched else {
                        self.sync.load_failed();
                        return false;
                    };
                    pixels.resize(self.width * usize::from(self.height), 0);
                    if let Some(more) = self.sync.loaded(Version { epoch, seq }) {
                        self.pixels = pixels;
                        actions.extend(more);
                    }
                }
            }
        }
        true
    }
}
