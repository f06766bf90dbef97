//! One broadcast channel of encoded frames per instance. A batch of tiles is
//! encoded once and the same `Bytes` goes to every socket; a socket that falls
//! more than the channel's capacity behind is told to resync instead of being
//! buffered for.

use app::protocol::{encode_tiles, ServerMessage, Tile, MAX_TILES_PER_FRAME};
use bytes::Bytes;
use tokio::sync::broadcast;

/// A frame for every socket of this instance.
#[derive(Debug, Clone)]
pub struct Frame {
    pub bytes: Bytes,
    /// For a `Tiles` frame, the first and last seq it carries: lets a socket
    /// skip tiles it already sent while resuming.
    pub seqs: Option<(u64, u64)>,
    /// When its oldest tile was accepted (unix ms), for the delivery lag.
    pub placed_at_ms: Option<u64>,
}

impl Frame {
    pub fn message(message: &ServerMessage) -> Self {
        Self {
            bytes: message.encode(),
            seqs: None,
            placed_at_ms: None,
        }
    }

    /// `Tiles` frames for consecutive tiles starting at `first_seq`, split at
    /// the frame's 65,535-tile limit.
    pub fn tiles(
        first_seq: u64,
        tiles: &[Tile],
        placed_at_ms: Option<u64>,
    ) -> impl Iterator<Item = Self> + '_ {
        tiles
            .chunks(MAX_TILES_PER_FRAME)
            .zip((first_seq..).step_by(MAX_TILES_PER_FRAME))
            .map(move |(chunk, first)| Self {
                bytes: encode_tiles(first, chunk),
                seqs: Some((first, first + chunk.len() as u64 - 1)),
                placed_at_ms,
            })
    }
}

#[derive(Clone)]
pub struct Fanout {
    sender: broadcast::Sender<Frame>,
}

impl Fanout {
    /// `capacity` frames may be queued for the slowest socket before it is
    /// resynced. At one `Tiles` frame per batch interval, 1024 frames is
    /// about a minute of traffic.
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.sender.subscribe()
    }

    pub fn send(&self, frame: Frame) {
        // No socket connected is not an error.
        let _ = self.sender.send(frame);
    }
}
