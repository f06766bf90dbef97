//! The sockets that watch chunks, indexed by chunk, so that a frame of
//! tiles reaches only the sockets watching one of its chunks.
//!
//! A whole-canvas socket takes every frame from the broadcast channel. A
//! socket that watches a few chunks of a large canvas would wake for every
//! frame too and find nothing for it in most: on a 4096² canvas a view of
//! 512² is 4 to 9 of 256 chunks. Here each watching socket has a
//! [`Mailbox`]; a frame of tiles is put only into the mailboxes of its
//! chunks' watchers (once each), the other frames (presence, freeze,
//! resync, resize) into every mailbox, in the order they were sent. So a
//! mailbox holds, in order, every frame with something for its socket,
//! and a stretch of seqs that reached it in no frame had nothing for it:
//! the socket's next `ViewTiles` covers that stretch.
//!
//! Gap-free across a change of chunks: a socket registers a chunk here
//! before it reads the chunk's version for its `ChunkHello`, and the sync
//! task applies tiles to the mirror before it sends them, so every tile of
//! the chunk is either in the version announced or in a frame that comes
//! to this mailbox.

use super::fanout::Frame;
use app::chunk::ChunkId;
use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError, RwLock,
    },
};
use tokio::sync::Notify;

/// Every watching socket's mailbox, and who watches which chunk.
#[derive(Debug)]
pub struct Watchers {
    index: RwLock<Index>,
    /// Frames of tiles a mailbox holds before its socket counts as behind.
    capacity: usize,
    next_id: AtomicU64,
}

#[derive(Debug, Default)]
struct Index {
    all: HashMap<u64, Arc<Mailbox>>,
    by_chunk: HashMap<ChunkId, Vec<Arc<Mailbox>>>,
}

/// What the fan-out has for one watching socket.
#[derive(Debug)]
pub struct Mailbox {
    id: u64,
    queue: Mutex<Queue>,
    ready: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Frame>,
    /// Frames of tiles among `frames`.
    tiles: usize,
    /// The first seq of the first frame of tiles left out because the
    /// mailbox was full: the socket catches up from the mirror from there.
    lost_from: Option<u64>,
}

/// What a socket found in its mailbox.
#[derive(Debug, Default)]
pub struct Delivery {
    pub frames: VecDeque<Frame>,
    /// Set when frames of tiles were left out from this seq on.
    pub lost_from: Option<u64>,
}

impl Watchers {
    pub fn new(capacity: usize) -> Self {
        Self {
            index: RwLock::default(),
            capacity,
            next_id: AtomicU64::new(0),
        }
    }

    /// A mailbox for a socket that watches nothing yet; it gets every frame
    /// that is not tiles from now on.
    pub fn join(self: &Arc<Self>) -> Watching {
        let mailbox = Arc::new(Mailbox {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            queue: Mutex::default(),
            ready: Notify::new(),
        });
        self.write().all.insert(mailbox.id, Arc::clone(&mailbox));
        Watching {
            watchers: Arc::clone(self),
            mailbox,
            chunks: Vec::new(),
        }
    }

    /// How many sockets watch (chunks or not yet any).
    pub fn sockets(&self) -> usize {
        self.read().all.len()
    }

    /// Puts `frame` into the mailboxes it concerns. Returns how many got it.
    pub fn send(&self, frame: &Frame) -> usize {
        let index = self.read();
        if index.all.is_empty() {
            return 0;
        }
        match frame {
            Frame::Tiles(tiles) => {
                let mut reached = 0;
                for chunk in tiles.chunks() {
                    for mailbox in index.by_chunk.get(&chunk).into_iter().flatten() {
                        reached +=
                            usize::from(mailbox.put_tiles(tiles.first_seq, frame, self.capacity));
                    }
                }
                reached
            }
            _ => {
                for mailbox in index.all.values() {
                    mailbox.put(frame.clone());
                }
                index.all.len()
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Mailbox {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn put(&self, frame: Frame) {
        let mut queue = self.queue();
        if let Frame::Resync { .. } = frame {
            // It supersedes every tile before it, the ones left out too.
            queue
                .frames
                .retain(|queued| !matches!(queued, Frame::Tiles(_)));
            queue.tiles = 0;
            queue.lost_from = None;
        }
        let was_empty = queue.frames.is_empty();
        queue.frames.push_back(frame);
        drop(queue);
        if was_empty {
            self.ready.notify_one();
        }
    }

    /// Puts a frame of tiles starting at `first_seq`, unless it is already
    /// there (the socket watches several of its chunks). Returns whether it
    /// was put.
    fn put_tiles(&self, first_seq: u64, frame: &Frame, capacity: usize) -> bool {
        let mut queue = self.queue();
        // Put for another of its chunks moments ago: the newest frame of
        // tiles in the mailbox.
        let newest = queue.frames.iter().rev().find_map(|queued| match queued {
            Frame::Tiles(tiles) => Some(tiles.first_seq),
            _ => None,
        });
        let already = newest == Some(first_seq);
        if already || queue.lost_from.is_some_and(|lost| lost <= first_seq) {
            return false;
        }
        if queue.tiles >= capacity {
            queue.lost_from = Some(first_seq);
            return false;
        }
        let was_empty = queue.frames.is_empty();
        queue.frames.push_back(frame.clone());
        queue.tiles += 1;
        drop(queue);
        if was_empty {
            self.ready.notify_one();
        }
        true
    }
}

/// One socket's place among the watchers; it leaves when dropped.
#[derive(Debug)]
pub struct Watching {
    watchers: Arc<Watchers>,
    mailbox: Arc<Mailbox>,
    /// The chunks it is indexed under, sorted.
    chunks: Vec<ChunkId>,
}

impl Watching {
    /// From now on the socket gets the tiles of `chunks` (sorted, no
    /// duplicates) and no others.
    pub fn watch(&mut self, chunks: &[ChunkId]) {
        let mut index = self.watchers.write();
        for chunk in &self.chunks {
            if chunks.binary_search(chunk).is_err() {
                leave(&mut index, *chunk, self.mailbox.id);
            }
        }
        for chunk in chunks {
            if self.chunks.binary_search(chunk).is_err() {
                index
                    .by_chunk
                    .entry(*chunk)
                    .or_default()
                    .push(Arc::clone(&self.mailbox));
            }
        }
        drop(index);
        self.chunks = chunks.to_vec();
    }

    /// Waits until the mailbox holds something (at once if it did when
    /// last taken from).
    pub async fn ready(&self) {
        self.mailbox.ready.notified().await;
    }

    /// Everything in the mailbox, oldest first.
    pub fn take(&self) -> Delivery {
        let mut queue = self.mailbox.queue();
        let lost_from = queue.lost_from.take();
        queue.tiles = 0;
        Delivery {
            frames: std::mem::take(&mut queue.frames),
            lost_from,
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let mut index = self.watchers.write();
        for chunk in &self.chunks {
            leave(&mut index, *chunk, self.mailbox.id);
        }
        index.all.remove(&self.mailbox.id);
    }
}

fn leave(index: &mut Index, chunk: ChunkId, id: u64) {
    if let Some(watching) = index.by_chunk.get_mut(&chunk) {
        watching.retain(|mailbox| mailbox.id != id);
        if watching.is_empty() {
            index.by_chunk.remove(&chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::{fanout::TilesFrame, mirror::Version};
    use app::protocol::Tile;

    /// A frame of one tile per chunk (cx, 0), seqs from `first_seq`.
    fn tiles(first_seq: u64, chunks: &[u16]) -> Frame {
        let tiles: Vec<Tile> = chunks
            .iter()
            .map(|&cx| Tile {
                x: cx * 256,
                y: 0,
                color: 1,
            })
            .collect();
        let frame = TilesFrame::encode(first_seq, &tiles, None).next().unwrap();
        Frame::Tiles(frame)
    }

    fn chunks(cxs: &[u16]) -> Vec<ChunkId> {
        cxs.iter().map(|&cx| ChunkId { cx, cy: 0 }).collect()
    }

    fn seqs(delivery: &Delivery) -> Vec<u64> {
        delivery
            .frames
            .iter()
            .map(|frame| match frame {
                Frame::Tiles(tiles) => tiles.first_seq,
                _ => 0,
            })
            .collect()
    }

    #[test]
    fn a_frame_reaches_each_watcher_of_its_chunks_once_and_no_one_else() {
        let watchers = Arc::new(Watchers::new(8));
        let mut near = watchers.join();
        near.watch(&chunks(&[1, 2]));
        let mut far = watchers.join();
        far.watch(&chunks(&[7]));
        let idle = watchers.join();

        assert_eq!(watchers.send(&tiles(1, &[1, 2, 3])), 1, "near, once");
        assert_eq!(watchers.send(&tiles(4, &[7])), 1);
        assert_eq!(watchers.send(&tiles(5, &[4])), 0);
        assert_eq!(watchers.send(&Frame::presence(3)), 3, "everyone");
        assert_eq!(seqs(&near.take()), [1, 0]);
        assert_eq!(seqs(&far.take()), [4, 0]);
        assert_eq!(seqs(&idle.take()), [0]);

        near.watch(&chunks(&[2, 7]));
        assert_eq!(watchers.send(&tiles(6, &[1])), 0, "left chunk 1");
        assert_eq!(watchers.send(&tiles(7, &[7])), 2);
        drop(far);
        assert_eq!(watchers.send(&tiles(8, &[7])), 1, "far left");
        assert_eq!(seqs(&near.take()), [7, 8]);
        assert_eq!(watchers.sockets(), 2);
    }

    #[test]
    fn a_full_mailbox_says_from_where_frames_were_lost_until_a_resync() {
        let watchers = Arc::new(Watchers::new(2));
        let mut slow = watchers.join();
        slow.watch(&chunks(&[0]));
        for seq in 1..=4 {
            watchers.send(&tiles(seq, &[0]));
        }
        let delivery = slow.take();
        assert_eq!(seqs(&delivery), [1, 2]);
        assert_eq!(delivery.lost_from, Some(3));
        assert_eq!(slow.take().lost_from, None, "said once");

        watchers.send(&tiles(5, &[0]));
        watchers.send(&tiles(6, &[0]));
        watchers.send(&tiles(7, &[0]));
        watchers.send(&Frame::resync(Version { epoch: 2, seq: 9 }));
        let delivery = slow.take();
        assert!(
            matches!(delivery.frames.as_slices().0, [Frame::Resync { .. }]),
            "the resync supersedes the tiles before it"
        );
        assert_eq!(delivery.lost_from, None);
    }

    #[tokio::test]
    async fn a_socket_is_woken_by_a_frame_for_it_only() {
        let watchers = Arc::new(Watchers::new(8));
        let mut watching = watchers.join();
        watching.watch(&chunks(&[3]));
        watchers.send(&tiles(1, &[4]));
        let woken = tokio::time::timeout(std::time::Duration::from_millis(50), watching.ready());
        assert!(woken.await.is_err(), "nothing for it");
        watchers.send(&tiles(2, &[3]));
        watching.ready().await;
        assert_eq!(seqs(&watching.take()), [2]);
    }
}
