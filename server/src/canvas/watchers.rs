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
//! Waking every watcher of a busy canvas at once makes a burst: the
//! instance then writes thousands of sockets in a row, and the last of them
//! gets its tiles that whole burst later. So when every socket of the
//! instance watches chunks, the sync task sends each frame of tiles to one
//! of [`PHASES`] groups of them ([`Watchers::send_phase`]), a group after
//! the other over the interval, each group's frame carrying the tiles since
//! its last: each socket still gets at most one frame per interval, and the
//! writes come at an even pace.
//!
//! Gap-free across a change of chunks: a socket registers a chunk here
//! before it reads the chunk's version for its `ChunkHello`, and the sync
//! task applies tiles to the mirror before it sends them, so every tile of
//! the chunk is either in the version announced or in a frame that comes
//! to this mailbox.

use super::frame::Frame;
use app::chunk::ChunkId;
use smallvec::SmallVec;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError, RwLock,
    },
};
use tokio::sync::Notify;

/// The groups the watching sockets are woken in, one after the other, when
/// their wake-ups are spread over an interval (a socket's group is its slot
/// modulo this).
pub const PHASES: usize = 8;

/// Every watching socket's mailbox, and who watches which chunk.
#[derive(Debug)]
pub struct Watchers {
    index: RwLock<Index>,
    /// Frames of tiles a mailbox holds before its socket counts as behind.
    capacity: usize,
    /// Sockets found not to have taken what they were last woken for when
    /// more came, since the sync task last looked: they are not keeping up.
    behind: AtomicU64,
}

/// Who watches what. Sockets are named by their slot in `all` (reused
/// once free), so each chunk's list takes four bytes a watcher: this is
/// paid per socket, idle ones included.
#[derive(Debug, Default)]
struct Index {
    all: Vec<Option<Arc<Mailbox>>>,
    /// Slots of `all` free for the next socket.
    free: Vec<u32>,
    /// Sockets in `all`.
    count: usize,
    by_chunk: HashMap<ChunkId, Vec<u32>>,
}

impl Index {
    fn mailboxes<'a>(
        &'a self,
        slots: impl IntoIterator<Item = &'a u32>,
    ) -> impl Iterator<Item = &'a Arc<Mailbox>> {
        slots
            .into_iter()
            .filter_map(|&slot| self.all.get(slot as usize)?.as_ref())
    }
}

/// What the fan-out has for one watching socket.
#[derive(Debug)]
pub struct Mailbox {
    /// Its slot in the index.
    slot: u32,
    queue: Mutex<Queue>,
    ready: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    /// Almost always one frame at most between two takes, kept inline: a
    /// heap queue made for each frame and freed at each take left its
    /// memory with the allocator, about 1 KB per idle socket.
    frames: SmallVec<[Frame; 1]>,
    /// Frames of tiles among `frames`.
    tiles: u32,
    /// The first seq of the first frame of tiles left out because the
    /// mailbox was full: the socket catches up from the mirror from there.
    lost_from: Option<u64>,
    /// Whether its socket was woken and has not taken since.
    woken: bool,
}

/// What a socket found in its mailbox.
#[derive(Debug, Default)]
pub struct Delivery {
    pub frames: SmallVec<[Frame; 1]>,
    /// Set when frames of tiles were left out from this seq on.
    pub lost_from: Option<u64>,
}

impl Watchers {
    pub fn new(capacity: usize) -> Self {
        Self {
            index: RwLock::default(),
            capacity,
            behind: AtomicU64::new(0),
        }
    }

    /// A mailbox for a socket that watches nothing yet; it gets every frame
    /// that is not tiles from now on.
    pub fn join(self: &Arc<Self>) -> Watching {
        let mut index = self.write();
        let slot = index.free.pop().unwrap_or(index.all.len() as u32);
        let mailbox = Arc::new(Mailbox {
            slot,
            queue: Mutex::default(),
            ready: Notify::new(),
        });
        match index.all.get_mut(slot as usize) {
            Some(free) => *free = Some(Arc::clone(&mailbox)),
            None => index.all.push(Some(Arc::clone(&mailbox))),
        }
        index.count += 1;
        drop(index);
        Watching {
            watchers: Arc::clone(self),
            mailbox,
        }
    }

    /// How many sockets watch (chunks or not yet any).
    pub fn sockets(&self) -> usize {
        self.read().count
    }

    /// Puts `frame` into the mailboxes it concerns and wakes them. Returns
    /// how many got it.
    pub fn send(&self, frame: &Frame) -> usize {
        self.deliver(frame, None)
    }

    /// Puts a frame of tiles into the mailboxes of its chunks' watchers in
    /// `phase` (those whose slot is that modulo [`PHASES`]) and wakes them.
    /// Returns how many got it.
    pub fn send_phase(&self, frame: &Frame, phase: usize) -> usize {
        self.deliver(frame, Some(phase % PHASES))
    }

    fn deliver(&self, frame: &Frame, phase: Option<usize>) -> usize {
        let index = self.read();
        if index.count == 0 {
            return 0;
        }
        let Frame::Tiles(tiles) = frame else {
            for mailbox in index.all.iter().flatten() {
                mailbox.put(frame.clone());
            }
            return index.count;
        };
        // Told by the slot alone: no look at the mailbox of a socket of
        // another phase.
        let in_phase = |slot: &&u32| phase.is_none_or(|phase| **slot as usize % PHASES == phase);
        let (mut reached, mut behind) = (0, 0);
        for chunk in tiles.chunks() {
            let slots = index.by_chunk.get(&chunk).map_or(&[][..], Vec::as_slice);
            for mailbox in index.mailboxes(slots.iter().filter(in_phase)) {
                match mailbox.put_tiles(tiles.first_seq, frame, self.capacity) {
                    Put::Refused => continue,
                    Put::Behind => behind += 1,
                    Put::Awake => {}
                    Put::ToWake => mailbox.ready.notify_one(),
                }
                reached += 1;
            }
        }
        self.behind.fetch_add(behind, Ordering::Relaxed);
        reached
    }

    /// How many times sockets were found behind since the last call.
    pub fn take_behind(&self) -> u64 {
        self.behind.swap(0, Ordering::Relaxed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What putting a frame of tiles into a mailbox did.
#[derive(Debug, PartialEq, Eq)]
enum Put {
    /// Put; its socket is to be woken.
    ToWake,
    /// Put; its socket is awake already (woken for another frame, a chat
    /// line's or the presence's, that it has not taken yet).
    Awake,
    /// Put beside tiles its socket has not taken: it is not keeping up.
    /// Only tiles count: a chat frame just before them is no sign of lag.
    Behind,
    /// Not put: there already (the socket watches several of its chunks),
    /// or the mailbox is full.
    Refused,
}

impl Mailbox {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        lock(&self.queue)
    }

    /// Puts a frame other than tiles, and wakes the socket.
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
        queue.frames.push(frame);
        let woken = std::mem::replace(&mut queue.woken, true);
        drop(queue);
        if !woken {
            self.ready.notify_one();
        }
    }

    /// Puts a frame of tiles starting at `first_seq`, unless it is already
    /// there (the socket watches several of its chunks) or the mailbox is
    /// full.
    fn put_tiles(&self, first_seq: u64, frame: &Frame, capacity: usize) -> Put {
        let mut queue = self.queue();
        // Put for another of its chunks moments ago: the newest frame of
        // tiles in the mailbox.
        let newest = queue.frames.iter().rev().find_map(|queued| match queued {
            Frame::Tiles(tiles) => Some(tiles.first_seq),
            _ => None,
        });
        let already = newest == Some(first_seq);
        if already || queue.lost_from.is_some_and(|lost| lost <= first_seq) {
            return Put::Refused;
        }
        if queue.tiles as usize >= capacity {
            queue.lost_from = Some(first_seq);
            return Put::Refused;
        }
        let behind = queue.tiles > 0;
        queue.frames.push(frame.clone());
        queue.tiles += 1;
        let woken = std::mem::replace(&mut queue.woken, true);
        match (behind, woken) {
            (true, _) => Put::Behind,
            (false, true) => Put::Awake,
            (false, false) => Put::ToWake,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One socket's place among the watchers. The chunks it is indexed under
/// are its outbox's (not kept twice: this is per socket): its owner says
/// which when they change and when it leaves ([`Self::leave`]); dropped, it
/// leaves the list of every watcher.
#[derive(Debug)]
pub struct Watching {
    watchers: Arc<Watchers>,
    mailbox: Arc<Mailbox>,
}

impl Watching {
    /// From now on the socket gets the tiles of `after` and no others; it
    /// watched `before` (both sorted, no duplicates).
    pub fn watch(&self, before: &[ChunkId], after: &[ChunkId]) {
        let mut index = self.watchers.write();
        for chunk in before {
            if after.binary_search(chunk).is_err() {
                leave(&mut index, *chunk, self.mailbox.slot);
            }
        }
        for chunk in after {
            if before.binary_search(chunk).is_err() {
                index
                    .by_chunk
                    .entry(*chunk)
                    .or_default()
                    .push(self.mailbox.slot);
            }
        }
    }

    /// The socket closes: it leaves the index of `chunks`, the ones it
    /// watches.
    pub fn leave(&self, chunks: &[ChunkId]) {
        let mut index = self.watchers.write();
        for chunk in chunks {
            leave(&mut index, *chunk, self.mailbox.slot);
        }
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
        queue.woken = false;
        Delivery {
            frames: std::mem::take(&mut queue.frames),
            lost_from,
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let mut index = self.watchers.write();
        let slot = self.mailbox.slot;
        if let Some(taken) = index.all.get_mut(slot as usize) {
            *taken = None;
            index.free.push(slot);
            index.count -= 1;
        }
    }
}

fn leave(index: &mut Index, chunk: ChunkId, slot: u32) {
    if let Some(watching) = index.by_chunk.get_mut(&chunk) {
        watching.retain(|&watcher| watcher != slot);
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
        let near = watchers.join();
        near.watch(&[], &chunks(&[1, 2]));
        let far = watchers.join();
        far.watch(&[], &chunks(&[7]));
        let idle = watchers.join();

        assert_eq!(watchers.send(&tiles(1, &[1, 2, 3])), 1, "near, once");
        assert_eq!(watchers.send(&tiles(4, &[7])), 1);
        assert_eq!(watchers.send(&tiles(5, &[4])), 0);
        assert_eq!(watchers.send(&Frame::presence(3)), 3, "everyone");
        assert_eq!(seqs(&near.take()), [1, 0]);
        assert_eq!(seqs(&far.take()), [4, 0]);
        assert_eq!(seqs(&idle.take()), [0]);

        near.watch(&chunks(&[1, 2]), &chunks(&[2, 7]));
        assert_eq!(watchers.send(&tiles(6, &[1])), 0, "left chunk 1");
        assert_eq!(watchers.send(&tiles(7, &[7])), 2);
        far.leave(&chunks(&[7]));
        drop(far);
        assert_eq!(watchers.send(&tiles(8, &[7])), 1, "far left");
        assert_eq!(seqs(&near.take()), [7, 8]);
        assert_eq!(watchers.sockets(), 2);
        // Its slot serves the next socket, which watches nothing yet.
        let next = watchers.join();
        assert_eq!(watchers.send(&tiles(9, &[7])), 1);
        assert_eq!(seqs(&next.take()), [] as [u64; 0]);
        assert_eq!(watchers.sockets(), 3);
    }

    #[test]
    fn only_tiles_left_untaken_count_a_socket_as_behind() {
        let watchers = Arc::new(Watchers::new(8));
        let socket = watchers.join();
        socket.watch(&[], &chunks(&[0]));
        // A flush's chat (or presence) frame, then its tiles: the socket
        // was woken for the first and has not run yet. Not behind.
        watchers.send(&Frame::presence(1));
        watchers.send(&tiles(1, &[0]));
        assert_eq!(watchers.take_behind(), 0);
        // The next flush's tiles while those are still there: behind.
        watchers.send(&tiles(2, &[0]));
        assert_eq!(watchers.take_behind(), 1);
        assert_eq!(seqs(&socket.take()), [0, 1, 2]);
        watchers.send(&tiles(3, &[0]));
        assert_eq!(watchers.take_behind(), 0, "caught up");
    }

    #[test]
    fn a_full_mailbox_says_from_where_frames_were_lost_until_a_resync() {
        let watchers = Arc::new(Watchers::new(2));
        let slow = watchers.join();
        slow.watch(&[], &chunks(&[0]));
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
            matches!(delivery.frames[..], [Frame::Resync { .. }]),
            "the resync supersedes the tiles before it"
        );
        assert_eq!(delivery.lost_from, None);
    }

    #[tokio::test]
    async fn a_socket_is_woken_by_a_frame_for_it_only() {
        let watchers = Arc::new(Watchers::new(8));
        let watching = watchers.join();
        watching.watch(&[], &chunks(&[3]));
        watchers.send(&tiles(1, &[4]));
        let woken = tokio::time::timeout(std::time::Duration::from_millis(50), watching.ready());
        assert!(woken.await.is_err(), "nothing for it");
        watchers.send(&tiles(2, &[3]));
        watching.ready().await;
        assert_eq!(seqs(&watching.take()), [2]);
    }
}
