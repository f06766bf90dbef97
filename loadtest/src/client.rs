//! One WebSocket client of the run: it checks the stream of every frame it
//! receives (seqs consecutive from `Hello`), and by its role it also places
//! tiles, timestamps the seqs it sees for the visibility latency, or keeps
//! a whole canvas the way docs/protocol.md tells clients to, to check
//! convergence at the end.

use crate::{
    stats::{micros, Count, Counters, Latencies, SeenAt},
    view::{self, Area, Copies},
};
use app::{
    chunk::ChunkId,
    geometry::CanvasSize,
    protocol::{
        kind, ClientMessage, ServerMessage, Tile, Version, TILES_HEADER_LEN, TILE_LEN,
        VIEW_TILES_HEADER_LEN,
    },
    sync::{Action, CanvasSync},
};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use std::{
    collections::VecDeque,
    net::{IpAddr, SocketAddr},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tokio::{
    net::TcpStream,
    sync::{oneshot, watch},
};
use tokio_tungstenite::{
    tungstenite::{protocol::WebSocketConfig, Message},
    MaybeTlsStream, WebSocketStream,
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where the run is; every client follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Connecting,
    /// Placers place (the warm-up, then the measured window).
    Placing,
    /// Placers stop; everyone keeps receiving until the run is quiet.
    Stopped,
    /// Every client reports and closes.
    Finish,
}

/// What every client shares.
pub struct Shared {
    pub start: Instant,
    pub counters: Counters,
    /// Per target: when its observer first saw each seq.
    pub seen: Vec<SeenAt>,
    /// The measured window, in microseconds since `start` (0 until known).
    pub window_start: AtomicU64,
    pub window_end: AtomicU64,
    pub http: reqwest::Client,
    pub read_buffer: usize,
    /// When the last placement was accepted, and the longest wait between
    /// two acceptances (µs since `start`): a failover shows as that gap.
    pub last_accepted: AtomicU64,
    pub longest_gap: AtomicU64,
    /// When that longest gap began (µs since `start`).
    pub longest_gap_from: AtomicU64,
}

impl Shared {
    /// Records an acceptance at `now` (µs since `start`).
    fn accepted_at(&self, now: u64) {
        let previous = self.last_accepted.swap(now, Ordering::Relaxed);
        if previous != 0 && now > previous {
            let gap = now - previous;
            if self.longest_gap.fetch_max(gap, Ordering::Relaxed) < gap {
                self.longest_gap_from.store(previous, Ordering::Relaxed);
            }
        }
    }

    fn in_window(&self, at: u64) -> bool {
        let start = self.window_start.load(Ordering::Relaxed);
        let end = self.window_end.load(Ordering::Relaxed);
        start != 0 && at >= start && (end == 0 || at < end)
    }
}

/// How a placer paces its placements.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// One every `every`, the first after `offset` (open loop).
    Every { every: Duration, offset: Duration },
    /// `window` in flight at all times (closed loop).
    Window(usize),
}

#[derive(Debug, Clone, Copy)]
pub struct Role {
    pub place: Option<Pace>,
    /// Timestamps seqs for the visibility latency of its target.
    pub observer: bool,
    /// Keeps a whole canvas (or, watching chunks, a copy of each).
    pub tracked: bool,
    pub colors: u8,
    /// Watches the chunks of this area instead of the whole canvas.
    pub view: Option<Area>,
    /// Watching chunks: the observers' area. Only placements there are
    /// timed for visibility (an observer sees no others).
    pub observed: Option<Area>,
    /// Posts a chat message at this pace while placing (`--chat-rate`).
    pub chat: Option<Pace>,
}

/// What a client tells at the end.
#[derive(Debug, Default)]
pub struct Report {
    pub connected: bool,
    /// Still connected when the run finished.
    pub up: bool,
    /// The last seq it has every tile up to.
    pub last_seq: u64,
    pub epoch: u64,
    pub canvas: Option<Vec<u8>>,
    pub acks: Latencies,
    /// An observer's: from each chat line's posting (its `at_ms`, the
    /// server's clock, this machine's) to its arrival, for lines that
    /// arrived in the window.
    pub chat_seen: Latencies,
    /// An observer's: the id of the last chat line it saw in the window,
    /// and the lines it never saw between the first and that one (ids are
    /// consecutive per canvas, in the order posted).
    pub chat_last_id: Option<u64>,
    pub chat_missed: u64,
    /// Its accepted placements sent in the window: seq and send time (µs).
    pub placed: Vec<(u64, u64)>,
    /// Every placement it was told was accepted: seq and tile (`--audit`).
    pub acknowledged: Vec<(u64, Tile)>,
    pub errors: Vec<String>,
    /// The share of the canvas's tiles it should receive (1: all).
    pub share: f64,
    /// Watching chunks and tracked: each chunk it holds as current.
    pub chunks: Option<Vec<(ChunkId, Vec<u8>)>>,
}

/// The run's next phase, and the receiver to wait for the one after.
async fn next_phase(mut phase: watch::Receiver<Phase>) -> (Phase, watch::Receiver<Phase>) {
    let now = match phase.changed().await {
        Ok(()) => *phase.borrow_and_update(),
        Err(_) => Phase::Finish,
    };
    (now, phase)
}

/// A snapshot's pixels, seq and epoch, once fetched (`None` if it could
/// not be).
type SnapshotAnswer = oneshot::Receiver<Option<(Vec<u8>, u64, u64)>>;

/// A tracked client's copy of the canvas, kept by the same state machine as
/// the browser's ([`app::sync`]).
struct Replica {
    pixels: Vec<u8>,
    width: u16,
    sync: CanvasSync,
    /// The snapshot the machine asked for, on its way.
    snapshot: Option<SnapshotAnswer>,
    /// Frames the machine asked to send, sent by the client's loop.
    outgoing: Vec<ClientMessage>,
}

pub struct Client {
    shared: Arc<Shared>,
    target: String,
    target_index: usize,
    role: Role,
    socket: Socket,
    report: Report,
    /// The next seq the stream should bring.
    expected: u64,
    width: u16,
    height: u16,
    /// Send times (µs) and tiles of the placements waiting for their result.
    in_flight: VecDeque<(u64, Tile)>,
    replica: Option<Replica>,
    /// Watching chunks and tracked: its copies.
    copies: Option<Copies>,
    rng: SmallRng,
}

/// Connects (up to four attempts), from `source` if given, and reads
/// `Hello`.
pub async fn connect(
    shared: Arc<Shared>,
    target: String,
    target_index: usize,
    role: Role,
    source: Option<IpAddr>,
    seed: u64,
) -> Result<Client, String> {
    let url = format!("{}/ws", target.replacen("http://", "ws://", 1));
    let config = WebSocketConfig::default()
        .read_buffer_size(shared.read_buffer)
        .write_buffer_size(0);
    let mut last_error = String::new();
    for attempt in 0..4 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        let connected = match source {
            None => tokio_tungstenite::connect_async_with_config(&url, Some(config), true)
                .await
                .map_err(|e| e.to_string()),
            Some(source) => connect_from(source, &target, &url, config).await,
        };
        match connected {
            Ok((socket, _)) => {
                let mut client = Client {
                    shared,
                    target,
                    target_index,
                    role,
                    socket,
                    report: Report {
                        connected: true,
                        ..Report::default()
                    },
                    expected: 0,
                    width: 0,
                    height: 0,
                    in_flight: VecDeque::new(),
                    replica: None,
                    copies: None,
                    rng: SmallRng::seed_from_u64(seed),
                };
                client.hello().await?;
                return Ok(client);
            }
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

/// The handshake over a TCP connection made from `source`.
async fn connect_from(
    source: IpAddr,
    target: &str,
    url: &str,
    config: WebSocketConfig,
) -> Result<
    (
        Socket,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    String,
> {
    let address: SocketAddr = target
        .trim_start_matches("http://")
        .split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or("--source-ips needs targets given as http://IP:port")?;
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| e.to_string())?;
    let stream = socket.connect(address).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    tokio_tungstenite::client_async_with_config(url, MaybeTlsStream::Plain(stream), Some(config))
        .await
        .map_err(|e| e.to_string())
}

impl Client {
    async fn hello(&mut self) -> Result<(), String> {
        let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
            .await
            .map_err(|_| "no Hello within 10 s".to_owned())?;
        let Some(Ok(Message::Binary(frame))) = frame else {
            return Err("the connection closed before Hello".into());
        };
        let Ok(ServerMessage::Hello(hello)) = ServerMessage::decode(&frame) else {
            return Err("the first frame is not Hello".into());
        };
        self.expected = hello.seq + 1;
        self.report.epoch = hello.epoch;
        self.report.share = 1.0;
        (self.width, self.height) = (hello.width, hello.height);
        if let Some(area) = self.role.view {
            let size = CanvasSize {
                width: hello.width,
                height: hello.height,
            };
            let chunks = area.chunks(size);
            self.report.share = view::share(chunks.len(), size).min(1.0);
            if self.role.tracked {
                let mut copies = Copies::default();
                copies.received(
                    &ServerMessage::Hello(hello),
                    &self.shared.http,
                    &self.target,
                );
                copies.view(&chunks, &self.shared.http, &self.target);
                self.copies = Some(copies);
            } else {
                let watch = ClientMessage::Watch(chunks).encode();
                self.socket
                    .send(Message::Binary(watch))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        } else if self.role.tracked {
            let area = usize::from(hello.width) * usize::from(hello.height);
            let mut replica = Replica {
                pixels: vec![0; area],
                width: hello.width,
                sync: CanvasSync::new(),
                snapshot: None,
                outgoing: Vec::new(),
            };
            let actions = replica.sync.received(&ServerMessage::Hello(hello));
            replica.perform(actions, &self.shared.http, &self.target);
            self.replica = Some(replica);
        }
        Ok(())
    }

    /// Runs until the run finishes (or the connection drops), then reports.
    pub async fn run(mut self, phase: watch::Receiver<Phase>) -> Report {
        let mut ticker = match self.role.place {
            Some(Pace::Every { every, offset }) => {
                let mut ticker =
                    tokio::time::interval_at(tokio::time::Instant::now() + offset, every);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                Some(ticker)
            }
            _ => None,
        };
        let mut chatter = match self.role.chat {
            Some(Pace::Every { every, offset }) => {
                let mut ticker =
                    tokio::time::interval_at(tokio::time::Instant::now() + offset, every);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                Some(ticker)
            }
            _ => None,
        };
        let mut placing = false;
        // Made once per phase, not per frame: each `changed()` registers
        // with the channel that every client shares.
        let mut next_phase = Box::pin(next_phase(phase));
        let mut finished = false;
        loop {
            let pending_snapshot = self.replica.as_mut().and_then(|r| r.snapshot.as_mut());
            let snapshot = async move {
                match pending_snapshot {
                    Some(receiver) => receiver.await.ok().flatten(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                (now, phase) = &mut next_phase => {
                    next_phase = Box::pin(self::next_phase(phase));
                    placing = now == Phase::Placing;
                    if now == Phase::Finish {
                        finished = true;
                        break;
                    }
                    if placing {
                        // Chatters post from now, each at its offset: a
                        // ticker left running since the connection would
                        // fire all of them at once, in bursts every period.
                        if let (Some(ticker), Some(Pace::Every { offset, .. })) =
                            (chatter.as_mut(), self.role.chat)
                        {
                            ticker.reset_at(tokio::time::Instant::now() + offset);
                        }
                        if let Some(Pace::Window(window)) = self.role.place {
                            if self.fill_window(window).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                Some(()) = async {
                    match ticker.as_mut() {
                        Some(ticker) if placing => { ticker.tick().await; Some(()) }
                        _ => None,
                    }
                } => {
                    if self.place().await.is_err() {
                        break;
                    }
                }
                Some(()) = async {
                    match chatter.as_mut() {
                        Some(ticker) if placing => { ticker.tick().await; Some(()) }
                        _ => None,
                    }
                } => {
                    if self.chat().await.is_err() {
                        break;
                    }
                }
                snapshot = snapshot => self.on_snapshot(snapshot),
                Some(fetched) = async {
                    match self.copies.as_mut() {
                        Some(copies) => copies.next_fetched().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if let Some(copies) = self.copies.as_mut() {
                        copies.on_fetched(fetched, &self.shared.http, &self.target);
                    }
                }
                incoming = self.socket.next() => match incoming {
                    Some(Ok(Message::Binary(frame))) => {
                        let answered = self.on_frame(frame);
                        if let (true, Some(Pace::Window(window))) = (placing && answered, self.role.place) {
                            if self.fill_window(window).await.is_err() {
                                break;
                            }
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
            }
            if self.send_outgoing().await.is_err() {
                break;
            }
        }
        self.report.up = finished;
        if !finished {
            self.shared.counters.add(Count::Disconnects, 1);
        }
        let _ = self.socket.close(None).await;
        self.report.last_seq = self.expected.saturating_sub(1);
        if let Some(replica) = self.replica.take() {
            if replica.sync.copy().is_some() {
                self.report.canvas = Some(replica.pixels);
            }
        }
        if let Some(copies) = self.copies.take() {
            self.report.chunks = Some(copies.into_live());
        }
        self.report
    }

    async fn fill_window(&mut self, window: usize) -> Result<(), ()> {
        while self.in_flight.len() < window {
            self.send_place(false).await?;
        }
        self.socket.flush().await.map_err(drop)
    }

    async fn place(&mut self) -> Result<(), ()> {
        self.send_place(true).await
    }

    async fn chat(&mut self) -> Result<(), ()> {
        let text = format!(
            "load {} at ({}, {})",
            self.rng.random::<u32>(),
            self.width / 2,
            self.height / 2
        );
        self.shared.counters.add(Count::ChatSent, 1);
        let frame = ClientMessage::Chat { text }.encode();
        self.socket.send(Message::Binary(frame)).await.map_err(drop)
    }

    async fn send_place(&mut self, flush: bool) -> Result<(), ()> {
        let tile = Tile {
            x: self.rng.random_range(0..self.width),
            y: self.rng.random_range(0..self.height),
            color: self.rng.random_range(0..self.role.colors),
        };
        let frame = ClientMessage::Place(tile).encode();
        self.in_flight.push_back((micros(self.shared.start), tile));
        self.shared.counters.add(Count::Sent, 1);
        let message = Message::Binary(frame);
        if flush {
            self.socket.send(message).await.map_err(drop)
        } else {
            self.socket.feed(message).await.map_err(drop)
        }
    }

    /// Handles one server frame; true when it answered a placement.
    fn on_frame(&mut self, frame: Bytes) -> bool {
        let counters = &self.shared.counters;
        match frame.first() {
            Some(&kind::TILES) => {
                let Some((first_seq, count)) = tiles_header(&frame) else {
                    counters.add(Count::BadFrames, 1);
                    return false;
                };
                self.on_tiles(first_seq, count, frame);
            }
            Some(&kind::PLACE_RESULT) => {
                let Ok(ServerMessage::PlaceResult { status, seq, .. }) =
                    ServerMessage::decode(&frame)
                else {
                    counters.add(Count::BadFrames, 1);
                    return false;
                };
                let Some((sent, tile)) = self.in_flight.pop_front() else {
                    self.report.errors.push("a PlaceResult for no Place".into());
                    return false;
                };
                let count = match status as u8 {
                    0 => Count::Accepted,
                    1 => Count::Cooldown,
                    2 => Count::Invalid,
                    3 => Count::RateLimited,
                    4 => Count::NotAllowed,
                    5 => Count::Unconfirmed,
                    _ => Count::OtherRefusal,
                };
                counters.add(count, 1);
                if status as u8 == 0 {
                    self.shared.accepted_at(micros(self.shared.start));
                    self.report.acknowledged.push((seq, tile));
                }
                if self.shared.in_window(sent) {
                    let now = micros(self.shared.start);
                    self.report.acks.0.push((now - sent) as f64 / 1000.0);
                    let observed = self.role.observed.is_none_or(|area| area.holds(tile));
                    if status as u8 == 0 && observed {
                        self.report.placed.push((seq, sent));
                    }
                }
                return true;
            }
            Some(&kind::VIEW_TILES) => {
                let Some((after, upto, count)) = view_tiles_header(&frame) else {
                    counters.add(Count::BadFrames, 1);
                    return false;
                };
                self.on_view_tiles(after, upto, count, frame);
            }
            Some(&kind::CHUNK_HELLO) => {
                if let (Some(copies), Ok(hello)) =
                    (self.copies.as_mut(), ServerMessage::decode(&frame))
                {
                    copies.received(&hello, &self.shared.http, &self.target);
                }
            }
            Some(&kind::PRESENCE) => counters.add(Count::PresenceFrames, 1),
            Some(&kind::CHAT_LINE) => {
                counters.add(Count::ChatLines, 1);
                self.on_chat(&frame);
            }
            Some(&kind::CHAT_LINES) => match frame.get(1) {
                Some(&count) => {
                    counters.add(Count::ChatLines, u64::from(count));
                    self.on_chat(&frame);
                }
                None => counters.add(Count::BadFrames, 1),
            },
            Some(&kind::CHAT_RESULT) => match frame.get(1) {
                Some(0) => counters.add(Count::ChatPosted, 1),
                Some(_) => counters.add(Count::ChatRefused, 1),
                None => counters.add(Count::BadFrames, 1),
            },
            // A moderator's removal: nothing a load client acts on.
            Some(&kind::CHAT_REMOVED) => {}
            // Moderation state: nothing a load client acts on.
            Some(&kind::FROZEN) => {}
            Some(&kind::RESYNC) => match ServerMessage::decode(&frame) {
                Ok(resync @ ServerMessage::Resync { seq, epoch }) => {
                    counters.add(Count::Resyncs, 1);
                    self.expected = seq + 1;
                    self.report.epoch = epoch;
                    if let Some(replica) = self.replica.as_mut() {
                        let actions = replica.sync.received(&resync);
                        replica.perform(actions, &self.shared.http, &self.target);
                    }
                    if let Some(copies) = self.copies.as_mut() {
                        copies.received(&resync, &self.shared.http, &self.target);
                    }
                }
                _ => counters.add(Count::BadFrames, 1),
            },
            Some(&kind::ERROR) => {
                counters.add(Count::ErrorFrames, 1);
                if let Ok(ServerMessage::Error { code, message }) = ServerMessage::decode(&frame) {
                    self.report.errors.push(format!("Error {code}: {message}"));
                }
            }
            _ => counters.add(Count::BadFrames, 1),
        }
        false
    }

    fn on_tiles(&mut self, first_seq: u64, count: u64, frame: Bytes) {
        let counters = &self.shared.counters;
        counters.add(Count::TilesFrames, 1);
        counters.add(Count::Tiles, count);
        if count == 0 {
            return;
        }
        let last_seq = first_seq + count - 1;
        if first_seq > self.expected {
            counters.add(Count::Gaps, 1);
            counters.add(Count::MissingTiles, first_seq - self.expected);
        } else if first_seq < self.expected {
            counters.add(Count::DupTiles, (self.expected - first_seq).min(count));
        }
        if self.role.observer {
            let now = micros(self.shared.start);
            let seen = &self.shared.seen[self.target_index];
            for seq in first_seq.max(self.expected)..=last_seq {
                seen.record(seq, now);
            }
        }
        self.expected = self.expected.max(last_seq + 1);
        if let Some(replica) = self.replica.as_mut() {
            if let Ok(tiles) = ServerMessage::decode(&frame) {
                let actions = replica.sync.received(&tiles);
                replica.perform(actions, &self.shared.http, &self.target);
            }
        }
    }

    /// An observer times each chat line of `frame` (decoded there only:
    /// every client decoding every line would load the machine the server
    /// runs on).
    fn on_chat(&mut self, frame: &Bytes) {
        if !self.role.observer || !self.shared.in_window(micros(self.shared.start)) {
            return;
        }
        let lines = match ServerMessage::decode(frame) {
            Ok(ServerMessage::ChatLine(line)) => vec![line],
            Ok(ServerMessage::ChatLines(lines)) => lines,
            _ => return self.shared.counters.add(Count::BadFrames, 1),
        };
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        for line in lines {
            let ms = now_ms.saturating_sub(line.at_ms);
            self.report.chat_seen.0.push(ms as f64);
            if let Some(last) = self.report.chat_last_id {
                self.report.chat_missed += line.id.saturating_sub(last + 1);
            }
            self.report.chat_last_id = Some(line.id);
        }
    }

    /// A `ViewTiles` frame: the tiles of the watched chunks with seqs
    /// `after+1 ..= upto`, which must start where the last one ended.
    fn on_view_tiles(&mut self, after: u64, upto: u64, count: u64, frame: Bytes) {
        let counters = &self.shared.counters;
        counters.add(Count::TilesFrames, 1);
        counters.add(Count::Tiles, count);
        let cursor = self.expected.saturating_sub(1);
        if after > cursor {
            counters.add(Count::Gaps, 1);
            counters.add(Count::MissingTiles, after - cursor);
        }
        if self.role.observer {
            // Each placement of its area with a seq in the frame's stretch
            // is in this frame: seen now.
            let now = micros(self.shared.start);
            let seen = &self.shared.seen[self.target_index];
            for seq in (after + 1).max(self.expected)..=upto {
                seen.record(seq, now);
            }
        }
        self.expected = self.expected.max(upto + 1);
        if let Some(copies) = self.copies.as_mut() {
            if let Ok(tiles) = ServerMessage::decode(&frame) {
                copies.received(&tiles, &self.shared.http, &self.target);
            }
        }
    }

    /// Takes in the snapshot the machine asked for.
    fn on_snapshot(&mut self, snapshot: Option<(Vec<u8>, u64, u64)>) {
        let Some(replica) = self.replica.as_mut() else {
            return;
        };
        replica.snapshot = None;
        let Some((pixels, seq, epoch)) = snapshot.filter(|s| s.0.len() == replica.pixels.len())
        else {
            self.report
                .errors
                .push("a snapshot could not be fetched".into());
            replica.sync.load_failed();
            return;
        };
        if let Some(actions) = replica.sync.loaded(Version { epoch, seq }) {
            replica.pixels = pixels;
            replica.perform(actions, &self.shared.http, &self.target);
        }
    }

    /// Sends what the tracked copy's machine asked to.
    async fn send_outgoing(&mut self) -> Result<(), ()> {
        let outgoing = match (self.replica.as_mut(), self.copies.as_mut()) {
            (Some(replica), _) => &mut replica.outgoing,
            (None, Some(copies)) => &mut copies.outgoing,
            (None, None) => return Ok(()),
        };
        for message in std::mem::take(outgoing) {
            self.socket
                .send(Message::Binary(message.encode()))
                .await
                .map_err(drop)?;
        }
        Ok(())
    }
}

impl Replica {
    /// Carries out what the machine asks for; the frames to send wait in
    /// `outgoing`.
    fn perform(&mut self, actions: Vec<Action>, http: &reqwest::Client, target: &str) {
        for action in actions {
            match action {
                Action::Apply { tiles, .. } => {
                    for tile in tiles {
                        let index =
                            usize::from(tile.y) * usize::from(self.width) + usize::from(tile.x);
                        if let Some(pixel) = self.pixels.get_mut(index) {
                            *pixel = tile.color;
                        }
                    }
                }
                Action::Send(message) => self.outgoing.push(message),
                Action::FetchSnapshot { .. } => self.snapshot = Some(fetch_snapshot(http, target)),
            }
        }
    }
}

/// Fetches the target's snapshot in the background.
fn fetch_snapshot(http: &reqwest::Client, target: &str) -> SnapshotAnswer {
    let (answer, receiver) = oneshot::channel();
    let http = http.clone();
    let url = format!("{target}/api/canvas");
    tokio::spawn(async move {
        let _ = answer.send(snapshot(&http, &url).await);
    });
    receiver
}

/// A `Tiles` frame's first seq and tile count, if its length matches.
fn tiles_header(frame: &[u8]) -> Option<(u64, u64)> {
    let header = frame.get(..TILES_HEADER_LEN)?;
    let first_seq = u64::from_le_bytes(header[1..9].try_into().ok()?);
    let count = u64::from(u16::from_le_bytes([header[9], header[10]]));
    (frame.len() == TILES_HEADER_LEN + count as usize * TILE_LEN).then_some((first_seq, count))
}

/// A `ViewTiles` frame's `after`, `upto` and tile count, if its length
/// matches.
fn view_tiles_header(frame: &[u8]) -> Option<(u64, u64, u64)> {
    let header = frame.get(..VIEW_TILES_HEADER_LEN)?;
    let after = u64::from_le_bytes(header[1..9].try_into().ok()?);
    let upto = u64::from_le_bytes(header[9..17].try_into().ok()?);
    let count = u64::from(u16::from_le_bytes([header[17], header[18]]));
    let whole = frame.len() == VIEW_TILES_HEADER_LEN + count as usize * TILE_LEN;
    (whole && upto >= after).then_some((after, upto, count))
}

/// `GET /api/canvas`: the pixels with their seq and epoch.
pub async fn snapshot(http: &reqwest::Client, url: &str) -> Option<(Vec<u8>, u64, u64)> {
    let response = http.get(url).send().await.ok()?;
    let header =
        |name: &str| -> Option<u64> { response.headers().get(name)?.to_str().ok()?.parse().ok() };
    let (seq, epoch) = (header("x-canvas-seq")?, header("x-canvas-epoch")?);
    let pixels = response.bytes().await.ok()?.to_vec();
    Some((pixels, seq, epoch))
}
