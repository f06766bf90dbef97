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

use super::mirror::Version;
use app::protocol::{
    encode_tiles, join_tiles, ServerMessage, Tile, MAX_TILES_PER_FRAME, TILES_HEADER_LEN, TILE_LEN,
};
use bytes::Bytes;
use smallvec::SmallVec;
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};
use tokio::sync::broadcast;

/// A frame for every socket of this instance.
#[derive(Debug, Clone)]
pub enum Frame {
    Tiles(TilesFrame),
    Presence(Bytes),
    /// The moderators froze or unfroze the canvas.
    Frozen(Bytes),
    /// The mirror was reloaded: clients fetch the snapshot again.
    Resync {
        version: Version,
        bytes: Bytes,
    },
}

/// A `Tiles` frame with the seqs it carries.
#[derive(Debug, Clone)]
pub struct TilesFrame {
    pub first_seq: u64,
    pub last_seq: u64,
    pub bytes: Bytes,
    /// When its oldest tile was accepted (unix ms), for the delivery lag.
    pub placed_at_ms: Option<u64>,
}

impl TilesFrame {
    /// `Tiles` frames for consecutive tiles starting at `first_seq`, split at
    /// the frame's 65,535-tile limit.
    pub fn encode(
        first_seq: u64,
        tiles: &[Tile],
        placed_at_ms: Option<u64>,
    ) -> impl Iterator<Item = Self> + '_ {
        tiles
            .chunks(MAX_TILES_PER_FRAME)
            .zip((first_seq..).step_by(MAX_TILES_PER_FRAME))
            .map(move |(chunk, first)| Self {
                bytes: encode_tiles(first, chunk),
                first_seq: first,
                last_seq: first + chunk.len() as u64 - 1,
                placed_at_ms,
            })
    }

    /// The encoded tiles from `seq` on (five bytes each, no header).
    fn payload_from(&self, seq: u64) -> &[u8] {
        let skip = seq.saturating_sub(self.first_seq) as usize;
        &self.bytes[TILES_HEADER_LEN + skip * TILE_LEN..]
    }
}

impl Frame {
    pub fn presence(online: u32) -> Self {
        Self::Presence(ServerMessage::Presence { online }.encode())
    }

    pub fn frozen(frozen: bool) -> Self {
        Self::Frozen(ServerMessage::Frozen { frozen }.encode())
    }

    pub fn resync(version: Version) -> Self {
        let Version { epoch, seq } = version;
        Self::Resync {
            version,
            bytes: ServerMessage::Resync { seq, epoch }.encode(),
        }
    }
}

#[derive(Clone)]
pub struct Fanout {
    sender: broadcast::Sender<Frame>,
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
            behind: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.sender.subscribe()
    }

    pub fn send(&self, frame: Frame) {
        // No socket connected is not an error.
        let _ = self.sender.send(frame);
    }

    /// Sockets listening: what one more frame costs.
    pub fn sockets(&self) -> usize {
        self.sender.receiver_count()
    }

    /// A socket found `frames` waiting when it woke. Only the count of
    /// those with more than one is kept, so a socket that keeps up costs
    /// nothing here.
    pub fn taken(&self, frames: usize) {
        if frames > 1 {
            self.behind.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many times sockets were found behind since the last call.
    pub fn take_behind(&self) -> u64 {
        self.behind.swap(0, Ordering::Relaxed)
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
    /// one ends; the first may start at or before `sent.seq`. Almost
    /// always one at most, kept inline: a heap `Vec` would keep its first
    /// allocation (four frames, 256 bytes) on every socket for good.
    tiles: SmallVec<[TilesFrame; 1]>,
    presence: Option<Bytes>,
    frozen: Option<Bytes>,
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
        }
    }

    /// The last seq the client will have once the queued frames are written.
    pub fn covered(&self) -> Version {
        Version {
            epoch: self.sent.epoch,
            seq: self.tiles.last().map_or(self.sent.seq, |t| t.last_seq),
        }
    }

    /// Queues a frame from the fan-out, dropping what the client has.
    pub fn push(&mut self, frame: Frame) {
        match frame {
            Frame::Tiles(tiles) => {
                if tiles.last_seq > self.covered().seq {
                    self.tiles.push(tiles);
                }
            }
            Frame::Presence(bytes) => self.presence = Some(bytes),
            Frame::Frozen(bytes) => self.frozen = Some(bytes),
            Frame::Resync { version, bytes } => self.resync_to(version, bytes),
        }
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
    }

    /// The client says it has every tile up to `version`: what is queued is
    /// dropped (the caller queues what it misses).
    pub fn resume_from(&mut self, version: Version) {
        self.tiles.clear();
        self.sent = version;
    }

    /// Everything to write now: at most one `Resync`, the queued tiles as
    /// one frame (more only past 65,535 tiles), the newest `Presence` and
    /// `Frozen`.
    pub fn take(&mut self) -> Ready {
        let mut ready = Ready::default();
        ready.frames.extend(self.resync.take());
        if !self.tiles.is_empty() {
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
        ready
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

    #[test]
    fn one_frame_goes_out_as_it_was_encoded() {
        let mut outbox = Outbox::new(version(10));
        let Frame::Tiles(shared) = frame(11, 3) else {
            unreachable!()
        };
        outbox.push(Frame::Tiles(shared.clone()));
        let ready = outbox.take();
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
        let ready = outbox.take();
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
        assert!(outbox.take().frames.is_empty());
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
            decoded(&outbox.take()),
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
        let ready = decoded(&outbox.take());
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
            decoded(&outbox.take()),
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
            decoded(&outbox.take()),
            [ServerMessage::Tiles {
                first_seq: 14,
                tiles: tiles(14, 2)
            }]
        );
    }
}
