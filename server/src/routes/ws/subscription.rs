//! How one connection takes its frames from the instance's fan-out: every
//! frame from the broadcast channel for a client of the whole canvas, or
//! its own mailbox of the frames for its chunks for a client that watches
//! chunks (`canvas::watchers`).

use crate::{
    canvas::{
        fanout::{Frame, Outbox},
        mirror::{Since, Version},
        watchers::Watching,
    },
    state::AppState,
};
use app::chunk::ChunkId;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

/// The most tiles a socket that fell behind the fan-out is sent from
/// memory (about 80 KB); further behind, the snapshot is the better deal
/// and it gets `Resync`. Bounds the frame one catch-up writes.
const MAX_CATCH_UP_TILES: usize = 16_384;

pub(super) enum Subscription {
    Whole(broadcast::Receiver<Frame>),
    Chunks(Watching),
}

/// What woke the connection: the first frame of the broadcast channel, or
/// a mailbox that holds something.
pub(super) enum Woken {
    Frame(Result<Frame, RecvError>),
    Mailbox,
}

impl Subscription {
    /// Waits for the fan-out. Cancel-safe: a frame received is returned,
    /// and a mailbox's wake-up that is dropped is kept for the next wait.
    pub(super) async fn next(&mut self) -> Woken {
        match self {
            Self::Whole(frames) => Woken::Frame(frames.recv().await),
            Self::Chunks(watching) => {
                watching.ready().await;
                Woken::Mailbox
            }
        }
    }

    /// Moves `woken` and every frame waiting into `outbox`, catching up
    /// from the mirror where frames were missed. False once the fan-out is
    /// gone (the instance shuts down).
    pub(super) fn take_into(
        &mut self,
        woken: Option<Woken>,
        outbox: &mut Outbox,
        state: &AppState,
    ) -> bool {
        match self {
            Self::Whole(frames) => {
                // Frames of tiles taken at once (or a lag): what says the
                // socket is behind. Chat and presence frames travel beside
                // the tiles of the same flush and say nothing of the sort.
                let (mut tiles, mut dropped) = (0, 0);
                let mut next = match woken {
                    Some(Woken::Frame(frame)) => Some(frame),
                    _ => None,
                };
                loop {
                    let frame = match next.take() {
                        Some(frame) => frame,
                        None => match frames.try_recv() {
                            Ok(frame) => Ok(frame),
                            Err(TryRecvError::Lagged(missed)) => Err(RecvError::Lagged(missed)),
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Closed) => Err(RecvError::Closed),
                        },
                    };
                    match frame {
                        Ok(frame) => {
                            tiles += usize::from(matches!(frame, Frame::Tiles(_)));
                            dropped += outbox.push(frame);
                        }
                        Err(RecvError::Lagged(_)) => {
                            tiles += 2;
                            catch_up(state, outbox, None);
                        }
                        Err(RecvError::Closed) => return false,
                    }
                }
                state.fanout.taken(tiles);
                count_dropped(state, dropped);
            }
            // Its mailbox counts for itself whether it keeps up.
            Self::Chunks(watching) => {
                let delivery = watching.take();
                let dropped = delivery.frames.into_iter().map(|f| outbox.push(f)).sum();
                count_dropped(state, dropped);
                if let Some(lost_from) = delivery.lost_from {
                    catch_up(state, outbox, Some(lost_from.saturating_sub(1)));
                }
            }
        }
        true
    }

    /// From now on the client watches `chunks` (sorted, no duplicates). A
    /// client of the whole canvas moves to a mailbox, with every frame the
    /// channel still held for it.
    /// Called before the outbox takes the new chunks (it says which it
    /// watched).
    pub(super) fn watch(&mut self, chunks: &[ChunkId], outbox: &mut Outbox, state: &AppState) {
        if let Self::Whole(_) = self {
            // Indexed before the channel is emptied: a frame sent in
            // between comes both ways, and the outbox drops the copy.
            let watching = state.fanout.watch();
            watching.watch(&[], chunks);
            self.take_into(None, outbox, state);
            *self = Self::Chunks(watching);
        } else if let Self::Chunks(watching) = self {
            watching.watch(outbox.watched(), chunks);
        }
    }

    /// The connection ends: it leaves the index of the chunks it watched.
    pub(super) fn leave(&self, outbox: &Outbox) {
        if let Self::Chunks(watching) = self {
            watching.leave(outbox.watched());
        }
    }
}

fn count_dropped(state: &AppState, chat_lines: u64) {
    if chat_lines > 0 {
        state.metrics.sockets.chat_dropped.inc_by(chat_lines);
    }
}

/// The socket missed frames: it gets the tiles after what it has (or after
/// `after`, when the frames it missed start later) from the mirror's recent
/// tiles, or `Resync` when they do not reach back or are too many.
fn catch_up(state: &AppState, outbox: &mut Outbox, after: Option<u64>) {
    let covered = outbox.covered();
    let after = after.map_or(covered.seq, |seq| seq.max(covered.seq));
    match state.mirror.since(covered.epoch, after) {
        Since::Current => {}
        Since::Tiles { first_seq, tiles } if tiles.len() <= MAX_CATCH_UP_TILES => {
            state.metrics.sockets.catch_ups.inc();
            outbox.push_tiles(first_seq, &tiles);
        }
        Since::Tiles { .. } | Since::Gone => {
            state.metrics.sockets.resyncs.inc();
            let current: Version = state.mirror.version();
            outbox.push(Frame::resync(current));
        }
    }
}
