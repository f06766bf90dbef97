//! One broadcast channel of encoded frames per instance, and what each socket
//! does with them.
//!
//! A batch of tiles is encoded once and the same `Bytes` goes to every
//! socket. A socket that is busy (its client reads slowly, or the instance is
//! short of CPU) does not write the frames one by one when it gets to them:
//! its [`Outbox`] coalesces everything that queued up into at most one
//! `Resync`, one `Tiles` and one `Presence` frame, written with one syscall.
//! So under load every socket gets fewer, larger frames and the delay stays
//! bounded by one round over the sockets, instead of a queue that grows. A
//! socket that falls further behind than the channel holds is caught up
//! from the mirror's recent tiles, or resynced when they do not reach back.
//!
//! A socket that watches chunks (docs/protocol.md, "Watching chunks") gets
//! only the frames with tiles in its chunks, in a mailbox of its own
//! ([`super::watchers`]), and writes only its chunks' part of them, as one
//! `ViewTiles`: each frame's tiles are grouped by chunk once, when it is
//! sent ([`super::frame`]), so each socket only looks its few chunks
//! up.

pub use super::frame::{Frame, TilesFrame};
use super::{
    mirror::{Mirror, Version},
    watchers::{Watchers, Watching},
};
use app::{
    chunk::ChunkId,
    protocol::{
        join_tiles, join_view_tiles, kind, ServerMessage, Tile, MAX_TILES_PER_FRAME, TILE_LEN,
    },
};
use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;
use std::collections::VecDeque;
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};
use tokio::sync::broadcast;

/// Chat frames one socket's outbox holds at most: a frame per paced flush
/// of tiles (the lines of one flush are joined), so seconds of the
/// busiest chat, in 4 KB of handles to frames every socket shares.
const CHAT_QUEUED: usize = 128;

/// Where each frame goes: every whole-canvas socket takes every frame from
/// one broadcast channel; the sockets that watch chunks get theirs in a
/// mailbox each ([`Watchers`]).
#[derive(Clone)]
pub struct Fanout {
    sender: broadcast::Sender<Frame>,
    watchers: Arc<Watchers>,
    /// Sockets that found more than one frame waiting when they woke, since
    /// the sync task last looked: they are not keeping up with the frames.
    behind: Arc<AtomicU64>,
}

impl Fanout {
    /// `capacity` frames may queue for one socket before it counts as lagging
    /// and is caught up from the mirror instead.
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
            watchers: Arc::new(Watchers::new(capacity)),
            behind: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Every frame from now on, for a socket that gets the whole canvas.
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.sender.subscribe()
    }

    /// The frames from now on with tiles of the chunks it will watch (none
    /// yet), for a socket that watches chunks.
    pub fn watch(&self) -> Watching {
        self.watchers.join()
    }

    /// Sends `frame` to the sockets it concerns; returns how many.
    pub fn send(&self, frame: Frame) -> usize {
        let watching = self.watchers.send(&frame);
        // No socket connected is not an error.
        watching + self.sender.send(frame).unwrap_or(0)
    }

    /// Sends a frame of tiles to the sockets of one phase that watch its
    /// chunks. Only while [`Self::phased`].
    pub fn send_phase(&self, frame: Frame, phase: usize) -> usize {
        self.watchers.send_phase(&frame, phase)
    }

    /// Whether every socket watches chunks, so that their frames can be
    /// spread over the interval in groups ([`super::watchers::PHASES`]).
    pub fn phased(&self) -> bool {
        self.sender.receiver_count() == 0 && self.watchers.sockets() > 0
    }

    /// Sockets listening: what one more frame costs at most.
    pub fn sockets(&self) -> usize {
        self.sender.receiver_count() + self.watchers.sockets()
    }

    /// A whole-canvas socket found `tiles_frames` frames of tiles waiting
    /// when it woke (a lag counts as two). Only the count of those with
    /// more than one is kept, so a socket that keeps up costs nothing here.
    pub fn taken(&self, tiles_frames: usize) {
        if tiles_frames > 1 {
            self.behind.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many times sockets were found behind since the last call.
    pub fn take_behind(&self) -> u64 {
        self.behind.swap(0, Ordering::Relaxed) + self.watchers.take_behind()
    }
}

/// The chat lines a chat frame carries: a `ChatLines` frame says how many
/// (its second byte), a `ChatLine` is one, a `ChatRemoved` none.
fn chat_lines_in(frame: &[u8]) -> u64 {
    match frame {
        [kind::CHAT_LINES, count, ..] => u64::from(*count),
        [kind::CHAT_LINE, ..] => 1,
        _ => 0,
    }
}

/// What one socket still has to write, coalesced.
#[derive(Debug)]
pub struct Outbox {
    /// The client's epoch and the seq up to which it has every tile (sent
    /// here, or reaching it some other way: the snapshot it loads after
    /// `Hello`, or the tiles sent for its `Resume`).
    sent: Version,
    resync: Option<Bytes>,
    /// Frames waiting, consecutive: each starts right after the previous
    /// one ends (for a socket that watches chunks, in order, with the
    /// stretches that had nothing for it left out); the first may start
    /// at or before `sent.seq`. Almost
    /// always one at most, kept inline: a heap `Vec` would keep its first
    /// allocation (four frames, 256 bytes) on every socket for good.
    tiles: SmallVec<[TilesFrame; 1]>,
    presence: Option<Bytes>,
    frozen: Option<Bytes>,
    /// Chat frames waiting, oldest first: at most [`CHAT_QUEUED`] (a
    /// socket that lags that far loses the oldest; chat is not replayed).
    chat: VecDeque<Bytes>,
    /// Whether the canvas was enlarged since the last write (rare: the
    /// frame is made when written, from the mirror's size).
    resize: bool,
    /// The faction of the connection's player (0: none), whose channel's
    /// messages it takes.
    faction: u64,
    /// Set once the client watches chunks: it gets `ViewTiles` of them
    /// instead of `Tiles`.
    view: Option<Box<View>>,
}

/// What a socket that watches chunks adds to its outbox.
#[derive(Debug, Default)]
struct View {
    /// The chunks watched, in order.
    watched: Vec<ChunkId>,
    /// The seq the client was last told it has everything up to (its
    /// cursor): the `after` of the next `ViewTiles`.
    told: u64,
    /// Chunks whose `ChunkHello` is owed, written before any tiles.
    announce: Vec<ChunkId>,
}

/// The frames an [`Outbox`] gives to write now, in order.
#[derive(Debug, Default)]
pub struct Ready {
    pub frames: Vec<Bytes>,
    /// When the oldest tile among them was accepted, if known.
    pub placed_at_ms: Option<u64>,
}

impl Outbox {
    /// An outbox for a client that has every tile up to `sent`.
    pub fn new(sent: Version) -> Self {
        Self {
            sent,
            resync: None,
            tiles: SmallVec::new(),
            presence: None,
            frozen: None,
            chat: VecDeque::new(),
            resize: false,
            faction: 0,
            view: None,
        }
    }

    /// The connection's player is in `faction` (or none) from now on:
    /// its channel's messages are queued, and no other faction's.
    /// The faction's messages still queued go if it is not the player's
    /// faction any more.
    pub fn set_faction(&mut self, faction: Option<u64>) {
        let faction = faction.unwrap_or(0);
        if faction != self.faction {
            self.chat
                .retain(|frame| frame.first() != Some(&kind::FACTION_CHAT_LINE));
        }
        self.faction = faction;
    }

    /// Whether a message of the player's faction's channel waits.
    pub fn holds_faction_chat(&self) -> bool {
        self.faction != 0
            && self
                .chat
                .iter()
                .any(|frame| frame.first() == Some(&kind::FACTION_CHAT_LINE))
    }

    /// The faction whose channel the connection takes, if any.
    pub fn faction(&self) -> Option<u64> {
        (self.faction != 0).then_some(self.faction)
    }

    /// An outbox for a client that has every tile up to `sent` and
    /// watches no chunk yet (a canvas too large to send whole).
    pub fn watching(sent: Version) -> Self {
        let mut outbox = Self::new(sent);
        outbox.view = Some(Box::new(View {
            told: sent.seq,
            ..View::default()
        }));
        outbox
    }

    /// Whether the client watches chunks (and gets no whole-canvas
    /// `Tiles`).
    pub fn is_watching(&self) -> bool {
        self.view.is_some()
    }

    /// The chunks the client watches, sorted.
    pub fn watched(&self) -> &[ChunkId] {
        self.view.as_ref().map_or(&[], |view| &view.watched)
    }

    /// From now on the client watches exactly `chunks`: each one new to it
    /// is announced with a `ChunkHello` before the next tiles. A client
    /// that had the whole canvas switches for good, its cursor where its
    /// last `Tiles` left it.
    pub fn watch(&mut self, mut chunks: Vec<ChunkId>) {
        chunks.sort_unstable();
        chunks.dedup();
        let told = self.sent.seq;
        let view = self.view.get_or_insert_with(|| {
            Box::new(View {
                told,
                ..View::default()
            })
        });
        for chunk in &chunks {
            if view.watched.binary_search(chunk).is_err() && !view.announce.contains(chunk) {
                view.announce.push(*chunk);
            }
        }
        view.announce
            .retain(|chunk| chunks.binary_search(chunk).is_ok());
        view.watched = chunks;
    }

    /// The last seq the client will have once the queued frames are written.
    pub fn covered(&self) -> Version {
        Version {
            epoch: self.sent.epoch,
            seq: self.tiles.last().map_or(self.sent.seq, |t| t.last_seq),
        }
    }

    /// Queues a frame from the fan-out, dropping what the client has.
    /// Returns the chat lines it dropped to make room (counted, since chat
    /// is not replayed: a page that lags that far never sees them).
    pub fn push(&mut self, frame: Frame) -> u64 {
        match frame {
            Frame::Tiles(tiles) => {
                if tiles.last_seq > self.covered().seq {
                    self.tiles.push(tiles);
                }
                0
            }
            Frame::Presence(bytes) => {
                self.presence = Some(bytes);
                0
            }
            Frame::Frozen(bytes) => {
                self.frozen = Some(bytes);
                0
            }
            Frame::Resync { version, bytes } => {
                self.resync_to(version, bytes);
                0
            }
            Frame::Resize => {
                self.resize = true;
                0
            }
            Frame::Chat(bytes) => self.push_chat(bytes),
            Frame::FactionChat { faction, bytes } if faction == self.faction && faction != 0 => {
                self.push_chat(bytes)
            }
            Frame::FactionChat { .. } => 0,
        }
    }

    /// Queues a chat frame; past [`CHAT_QUEUED`] the oldest goes, and its
    /// lines are returned.
    fn push_chat(&mut self, bytes: Bytes) -> u64 {
        let dropped = if self.chat.len() >= CHAT_QUEUED {
            self.chat
                .pop_front()
                .map_or(0, |frame| chat_lines_in(&frame))
        } else {
            0
        };
        self.chat.push_back(bytes);
        dropped
    }

    /// Queues tiles read from the mirror (a socket that fell behind, or a
    /// `Resume`): consecutive from `first_seq`.
    pub fn push_tiles(&mut self, first_seq: u64, tiles: &[Tile]) {
        for frame in TilesFrame::encode(first_seq, tiles, None) {
            self.push(Frame::Tiles(frame));
        }
    }

    /// The client's copy cannot be brought up to date by tiles: it reloads
    /// the snapshot at `version` (or newer), so nothing queued before
    /// matters any more.
    pub fn resync_to(&mut self, version: Version, bytes: Bytes) {
        self.tiles.clear();
        self.resync = Some(bytes);
        self.sent = version;
        if let Some(view) = &mut self.view {
            // Every watched chunk is announced again, at its version now.
            view.told = version.seq;
            view.announce.clone_from(&view.watched);
        }
    }

    /// The client says it has every tile up to `version`: what is queued is
    /// dropped (the caller queues what it misses).
    pub fn resume_from(&mut self, version: Version) {
        self.tiles.clear();
        self.sent = version;
    }

    /// Everything to write now: at most one `Resync`, the queued tiles as
    /// one frame (more only past 65,535 tiles), the newest `Presence` and
    /// `Frozen`. A watching client gets its `ChunkHello`s (each chunk's
    /// version read from `mirror` now) and one `ViewTiles` instead of the
    /// tiles.
    pub fn take(&mut self, mirror: &Mirror) -> Ready {
        let mut ready = Ready::default();
        ready.frames.extend(self.resync.take());
        // Before the tiles, which may lie in the new area.
        if std::mem::take(&mut self.resize) {
            let size = mirror.size();
            let (width, height) = (size.width, size.height);
            ready
                .frames
                .push(ServerMessage::Resize { width, height }.encode());
        }
        if self.view.is_some() {
            self.take_view(mirror, &mut ready);
        } else if !self.tiles.is_empty() {
            ready.placed_at_ms = self.tiles.iter().filter_map(|t| t.placed_at_ms).min();
            let next = self.sent.seq + 1;
            match &self.tiles[..] {
                // The common case: one whole shared frame, as it was encoded.
                [only] if only.first_seq == next => ready.frames.push(only.bytes.clone()),
                queued => join_runs(queued, next, &mut ready.frames),
            }
            self.sent.seq = self.covered().seq;
            self.tiles.clear();
        }
        ready.frames.extend(self.presence.take());
        ready.frames.extend(self.frozen.take());
        ready.frames.extend(self.chat.drain(..));
        ready
    }
}

impl Outbox {
    fn take_view(&mut self, mirror: &Mirror, ready: &mut Ready) {
        let Some(view) = self.view.as_deref_mut() else {
            return;
        };
        for chunk in view.announce.drain(..) {
            let version = mirror.chunk_version(chunk);
            ready
                .frames
                .push(ServerMessage::ChunkHello { chunk, version }.encode());
        }
        if self.tiles.is_empty() {
            return;
        }
        ready.placed_at_ms = self.tiles.iter().filter_map(|t| t.placed_at_ms).min();
        let mut next = self.sent.seq + 1;
        let mut picked = BytesMut::new();
        for frame in &self.tiles {
            if frame.last_seq < next {
                continue;
            }
            let count = (frame.last_seq - frame.first_seq + 1) as usize;
            // Seqs before this frame that came in no frame had nothing for
            // this socket (its mailbox gets only the frames that do): the
            // ViewTiles covers them.
            next = next.max(frame.first_seq);
            if picked.len() / TILE_LEN + count > MAX_TILES_PER_FRAME {
                view.flush(next - 1, &mut picked, &mut ready.frames);
            }
            if frame.first_seq == next {
                for chunk in &view.watched {
                    picked.extend_from_slice(frame.tiles_in(*chunk));
                }
            } else {
                // Partly sent already (rare): tile by tile.
                for tile in frame.payload_from(next).chunks_exact(TILE_LEN) {
                    let x = u16::from_le_bytes([tile[0], tile[1]]);
                    let y = u16::from_le_bytes([tile[2], tile[3]]);
                    if view.watched.binary_search(&ChunkId::of(x, y)).is_ok() {
                        picked.extend_from_slice(tile);
                    }
                }
            }
            next = frame.last_seq + 1;
        }
        view.flush(next - 1, &mut picked, &mut ready.frames);
        self.sent.seq = next - 1;
        self.tiles.clear();
    }
}

impl View {
    /// Writes the tiles picked so far as the `ViewTiles` up to `upto`
    /// (nothing when there are none: the client's cursor then stays, and
    /// the next frame covers the stretch).
    fn flush(&mut self, upto: u64, picked: &mut BytesMut, out: &mut Vec<Bytes>) {
        if picked.is_empty() {
            return;
        }
        out.push(join_view_tiles(self.told, upto, [&picked[..]]));
        picked.clear();
        self.told = upto;
    }
}

/// Encodes the tiles of `queued` from seq `next` on as few frames as the
/// protocol allows: one per run of consecutive seqs (there is one run unless
/// something upstream skipped a seq, which the client then resumes across),
/// split at 65,535 tiles.
fn join_runs(queued: &[TilesFrame], mut next: u64, out: &mut Vec<Bytes>) {
    let mut runs: Vec<(u64, Vec<&[u8]>)> = Vec::new();
    for frame in queued {
        if frame.last_seq < next {
            continue;
        }
        if runs.is_empty() || frame.first_seq > next {
            next = next.max(frame.first_seq);
            runs.push((next, Vec::new()));
        }
        if let Some((_, parts)) = runs.last_mut() {
            parts.push(frame.payload_from(next));
        }
        next = frame.last_seq + 1;
    }
    for (first_seq, parts) in runs {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len <= MAX_TILES_PER_FRAME * TILE_LEN {
            out.push(join_tiles(first_seq, parts.iter().copied()));
        } else {
            let joined = parts.concat();
            let chunks = joined.chunks(MAX_TILES_PER_FRAME * TILE_LEN);
            for (chunk, first) in chunks.zip((first_seq..).step_by(MAX_TILES_PER_FRAME)) {
                out.push(join_tiles(first, [chunk]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::ServerMessage;

    fn tiles(first_seq: u64, n: u64) -> Vec<Tile> {
        (first_seq..first_seq + n)
            .map(|seq| Tile {
                x: seq as u16,
                y: 1,
                color: (seq % 32) as u8,
            })
            .collect()
    }

    fn frame(first_seq: u64, n: u64) -> Frame {
        let tiles = tiles(first_seq, n);
        let frame = TilesFrame::encode(first_seq, &tiles, Some(first_seq))
            .next()
            .unwrap();
        Frame::Tiles(frame)
    }

    fn decoded(ready: &Ready) -> Vec<ServerMessage> {
        ready
            .frames
            .iter()
            .map(|f| ServerMessage::decode(f).unwrap())
            .collect()
    }

    fn version(seq: u64) -> Version {
        Version { epoch: 1, seq }
    }

    fn mirror() -> Mirror {
        let size = app::geometry::CanvasSize {
            width: 1024,
            height: 1024,
        };
        let snapshot = crate::model::Snapshot {
            epoch: 1,
            seq: 0,
            size: None,
            chunks: crate::model::Chunks::new(),
        };
        Mirror::new(size, snapshot, 0)
    }

    fn at(chunk: u16, seq: u64) -> Tile {
        Tile {
            x: chunk * 256 + (seq % 256) as u16,
            y: 0,
            color: (seq % 32) as u8,
        }
    }

    /// A shared frame of tiles in chunks (cx, 0), one per seq from `first_seq`.
    fn frame_in(first_seq: u64, chunks: &[u16]) -> Frame {
        let tiles: Vec<Tile> = (first_seq..)
            .zip(chunks)
            .map(|(seq, &chunk)| at(chunk, seq))
            .collect();
        let frame = TilesFrame::encode(first_seq, &tiles, None).next().unwrap();
        Frame::Tiles(frame)
    }

    fn chunk(cx: u16) -> ChunkId {
        ChunkId { cx, cy: 0 }
    }

    #[test]
    fn a_watching_socket_gets_its_chunks_tiles_and_every_seq_accounted_for() {
        let mirror = mirror();
        mirror.apply(&[at(1, 1), at(3, 2)]); // chunk 1 at version 1, chunk 3 at 2
        let mut outbox = Outbox::watching(version(2));
        outbox.watch(vec![chunk(1), chunk(2), chunk(1)]);
        assert_eq!(
            decoded(&outbox.take(&mirror)),
            [
                ServerMessage::ChunkHello {
                    chunk: chunk(1),
                    version: 1
                },
                ServerMessage::ChunkHello {
                    chunk: chunk(2),
                    version: 0
                },
            ]
        );
        // Seqs 3..=5 touch chunks 0, 2, 1; 6..=7 none it watches.
        outbox.push(frame_in(3, &[0, 2, 1]));
        outbox.push(frame_in(6, &[0, 3]));
        assert_eq!(
            decoded(&outbox.take(&mirror)),
            [ServerMessage::ViewTiles {
                after: 2,
                upto: 7,
                tiles: vec![at(1, 5), at(2, 4)]
            }]
        );
        outbox.push(frame_in(8, &[3, 3]));
        assert!(outbox.take(&mirror).frames.is_empty(), "nothing to tell");
        outbox.watch(vec![chunk(3)]);
        outbox.push(frame_in(10, &[3, 1]));
        assert_eq!(
            decoded(&outbox.take(&mirror)),
            [
                ServerMessage::ChunkHello {
                    chunk: chunk(3),
                    version: 2
                },
                ServerMessage::ViewTiles {
                    after: 7,
                    upto: 11,
                    tiles: vec![at(3, 10)]
                },
            ],
            "the stretch without its tiles is covered by the next frame"
        );
    }

    #[test]
    fn the_stretches_a_mailbox_left_out_are_covered_by_the_next_view_tiles() {
        let mirror = mirror();
        let mut outbox = Outbox::watching(version(2));
        outbox.watch(vec![chunk(1)]);
        outbox.take(&mirror);
        // Seqs 4..=8 had nothing in chunk 1, so its mailbox never got them.
        outbox.push(frame_in(3, &[1]));
        outbox.push(frame_in(9, &[0, 1]));
        assert_eq!(
            decoded(&outbox.take(&mirror)),
            [ServerMessage::ViewTiles {
                after: 2,
                upto: 10,
                tiles: vec![at(1, 3), at(1, 10)]
            }]
        );
    }

    #[test]
    fn a_socket_that_lags_keeps_the_newest_chat_and_counts_the_lines_it_loses() {
        use app::protocol::{join_chat_lines, ChatLine};
        let line = |id: u64| {
            ServerMessage::ChatLine(ChatLine {
                id,
                at_ms: 0,
                player: "0123456789abcdef".into(),
                name: None,
                text: format!("line {id}"),
            })
            .encode()
        };
        let mut outbox = Outbox::new(version(0));
        let mut dropped = 0;
        for flush in 0..CHAT_QUEUED as u64 + 2 {
            let lines = [line(flush * 3), line(flush * 3 + 1), line(flush * 3 + 2)];
            dropped += outbox.push(Frame::Chat(join_chat_lines(&lines)));
        }
        assert_eq!(dropped, 6, "the two oldest frames, of three lines each");
        let frames = decoded(&outbox.take(&mirror()));
        assert_eq!(frames.len(), CHAT_QUEUED);
        let ServerMessage::ChatLines(first) = &frames[0] else {
            panic!("{:?}", frames[0]);
        };
        assert_eq!(first[0].id, 6, "the oldest kept is the third flush's");
        assert_eq!(outbox.push(Frame::Chat(line(1_000))), 0, "room again");
    }

    #[test]
    fn a_faction_left_takes_its_queued_messages_with_it() {
        let mut outbox = Outbox::new(version(0));
        outbox.set_faction(Some(5));
        let bytes = Bytes::from_static(&[kind::FACTION_CHAT_LINE, 0]);
        outbox.push(Frame::FactionChat { faction: 5, bytes });
        outbox.push(Frame::Chat(Bytes::from_static(&[kind::CHAT_REMOVED, 0])));
        assert!(outbox.holds_faction_chat());
        outbox.set_faction(None);
        assert!(!outbox.holds_faction_chat());
        let frames = outbox.take(&mirror()).frames;
        assert_eq!(frames.len(), 1, "the global channel's frame stays");
        assert_eq!(frames[0][0], kind::CHAT_REMOVED);
    }

    #[test]
    fn an_enlarged_canvas_is_announced_before_the_tiles_of_its_new_area() {
        let mirror = mirror();
        mirror.grow(app::geometry::CanvasSize {
            width: 2000,
            height: 1500,
        });
        let mut outbox = Outbox::new(version(0));
        outbox.push(Frame::Resize);
        outbox.push(frame_in(1, &[6]));
        let frames = decoded(&outbox.take(&mirror));
        assert_eq!(
            frames[0],
            ServerMessage::Resize {
                width: 2000,
                height: 1500
            }
        );
        assert!(matches!(
            frames[1],
            ServerMessage::Tiles { first_seq: 1, .. }
        ));
        assert!(outbox.take(&mirror).frames.is_empty(), "once");
    }

    #[test]
    fn a_resync_announces_every_watched_chunk_again() {
        let mirror = mirror();
        let mut outbox = Outbox::watching(version(0));
        outbox.watch(vec![chunk(0), chunk(2)]);
        outbox.take(&mirror);
        outbox.push(frame_in(1, &[0]));
        outbox.push(Frame::resync(version(9)));
        outbox.push(frame_in(10, &[2]));
        assert_eq!(
            decoded(&outbox.take(&mirror)),
            [
                ServerMessage::Resync { seq: 9, epoch: 1 },
                ServerMessage::ChunkHello {
                    chunk: chunk(0),
                    version: 0
                },
                ServerMessage::ChunkHello {
                    chunk: chunk(2),
                    version: 0
                },
                ServerMessage::ViewTiles {
                    after: 9,
                    upto: 10,
                    tiles: vec![at(2, 10)]
                },
            ]
        );
    }

    #[test]
    fn a_whole_canvas_socket_that_starts_watching_continues_from_its_last_tiles() {
        let mirror = mirror();
        let mut outbox = Outbox::new(version(4));
        outbox.push(frame_in(5, &[0, 1]));
        outbox.take(&mirror);
        outbox.watch(vec![chunk(1)]);
        outbox.push(frame_in(7, &[1]));
        let frames = decoded(&outbox.take(&mirror));
        assert_eq!(
            frames[1],
            ServerMessage::ViewTiles {
                after: 6,
                upto: 7,
                tiles: vec![at(1, 7)]
            }
        );
    }

    #[test]
    fn one_frame_goes_out_as_it_was_encoded() {
        let mut outbox = Outbox::new(version(10));
        let Frame::Tiles(shared) = frame(11, 3) else {
            unreachable!()
        };
        outbox.push(Frame::Tiles(shared.clone()));
        let ready = outbox.take(&mirror());
        assert_eq!(ready.frames.len(), 1);
        assert_eq!(
            ready.frames[0].as_ptr(),
            shared.bytes.as_ptr(),
            "not copied"
        );
        assert_eq!(outbox.covered(), version(13));
    }

    #[test]
    fn queued_frames_become_one_and_covered_tiles_are_left_out() {
        let mut outbox = Outbox::new(version(12));
        outbox.push(frame(5, 3)); // all covered: dropped
        outbox.push(frame(8, 7)); // 8..=14: 13 and 14 are new
        outbox.push(Frame::presence(3));
        outbox.push(frame(15, 2));
        outbox.push(Frame::presence(4));
        let ready = outbox.take(&mirror());
        assert_eq!(
            decoded(&ready),
            [
                ServerMessage::Tiles {
                    first_seq: 13,
                    tiles: tiles(13, 4)
                },
                ServerMessage::Presence { online: 4 },
            ]
        );
        assert_eq!(ready.placed_at_ms, Some(8));
        assert!(outbox.take(&mirror()).frames.is_empty());
        assert_eq!(outbox.covered(), version(16));
    }

    #[test]
    fn a_resync_supersedes_the_tiles_before_it() {
        let mut outbox = Outbox::new(version(10));
        outbox.push(frame(11, 2));
        let reloaded = Version { epoch: 2, seq: 5 };
        outbox.push(Frame::resync(reloaded));
        outbox.push(frame(6, 1)); // the new epoch's next tile
        assert_eq!(
            decoded(&outbox.take(&mirror())),
            [
                ServerMessage::Resync { seq: 5, epoch: 2 },
                ServerMessage::Tiles {
                    first_seq: 6,
                    tiles: tiles(6, 1)
                },
            ]
        );
        assert_eq!(outbox.covered(), Version { epoch: 2, seq: 6 });
    }

    #[test]
    fn more_than_a_frame_holds_is_split() {
        let mut outbox = Outbox::new(version(0));
        let many = tiles(1, MAX_TILES_PER_FRAME as u64 + 5);
        outbox.push_tiles(1, &many[..10]);
        outbox.push_tiles(11, &many[10..]);
        let ready = decoded(&outbox.take(&mirror()));
        let ServerMessage::Tiles { first_seq, tiles } = &ready[1] else {
            panic!("{ready:?}")
        };
        assert_eq!(*first_seq, MAX_TILES_PER_FRAME as u64 + 1);
        assert_eq!(tiles.len(), 5);
    }

    #[test]
    fn a_gap_upstream_keeps_the_true_seqs() {
        let mut outbox = Outbox::new(version(10));
        outbox.push(frame(11, 2));
        outbox.push(frame(20, 2)); // 13..=19 never came
        assert_eq!(
            decoded(&outbox.take(&mirror())),
            [
                ServerMessage::Tiles {
                    first_seq: 11,
                    tiles: tiles(11, 2)
                },
                ServerMessage::Tiles {
                    first_seq: 20,
                    tiles: tiles(20, 2)
                },
            ]
        );
    }

    #[test]
    fn resume_drops_what_is_queued() {
        let mut outbox = Outbox::new(version(10));
        outbox.push(frame(11, 5));
        outbox.resume_from(version(13));
        outbox.push_tiles(14, &tiles(14, 2));
        assert_eq!(
            decoded(&outbox.take(&mirror())),
            [ServerMessage::Tiles {
                first_seq: 14,
                tiles: tiles(14, 2)
            }]
        );
    }
}
