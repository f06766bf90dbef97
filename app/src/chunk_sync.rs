//! How a client that watches some chunks of a canvas keeps each of them in
//! step (docs/protocol.md, "Watching chunks").
//!
//! The server has one stream of placements (one seq per canvas), and a
//! watching connection gets the part of it that falls in its chunks:
//! `ViewTiles` frames that each say which stretch of seqs they cover, so
//! the connection has one position (the *cursor*) and a gap shows as a
//! frame that does not start there. A chunk's state is its snapshot plus
//! the tiles that follow: its `ChunkHello` gives its version (the seq of
//! its last placement) when the watch begins; a copy the client still
//! holds that is complete up to that version is kept as it is, any other
//! is fetched (`/api/chunks/…`, at that version or newer) while the
//! chunk's tiles are held back, then those are replayed over it. Tiles
//! are absolute writes, so replaying ones the snapshot already holds, in
//! seq order, ends where the stream is.
//!
//! [`ViewSync`] owns that bookkeeping and nothing else: the caller sends
//! and fetches what the [`ViewAction`]s say, so the whole of it is tested
//! here against a model server (the property test at the end).

use crate::{
    chunk::ChunkId,
    protocol::{ServerMessage, Tile},
};
use std::collections::{BTreeMap, BTreeSet};

/// What the owner of a [`ViewSync`] does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewAction {
    /// Send a `Watch` naming exactly these chunks.
    Watch(Vec<ChunkId>),
    /// Fetch this chunk's snapshot at this version or newer, then call
    /// [`ViewSync::loaded`] (or [`ViewSync::load_failed`]).
    Fetch(ChunkId, u64),
    /// Write these tiles, in order, over the chunks' copies.
    Apply(Vec<Tile>),
    /// Replace this chunk's copy with the snapshot just loaded, then write
    /// these tiles over it, in order.
    Install(ChunkId, Vec<Tile>),
    /// Forget this chunk's pixels: it is no longer watched.
    Drop(ChunkId),
    /// The stream has a gap: close the socket (the next one starts over,
    /// keeping every copy that is still good).
    Reconnect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Chunk {
    /// Watched, its `ChunkHello` not come yet on this socket. `copy_at`:
    /// the copy it still has is complete up to that seq (`None`: no copy
    /// worth keeping). Its tiles wait in `held`.
    Waiting {
        copy_at: Option<u64>,
        held: Vec<Tile>,
    },
    /// Its snapshot at `version` or newer is being fetched.
    Loading { version: u64, held: Vec<Tile> },
    /// Its copy is complete up to the cursor; its tiles are applied as
    /// they come.
    Live,
}

/// The watched chunks of one canvas and the connection's place in its
/// stream.
#[derive(Debug, Default)]
pub struct ViewSync {
    /// The epoch the copies belong to.
    epoch: Option<u64>,
    /// The seq up to which the connection has every tile of its chunks;
    /// `None` while there is no connection (or before its `Hello`).
    cursor: Option<u64>,
    chunks: BTreeMap<ChunkId, Chunk>,
}

impl ViewSync {
    pub fn new() -> Self {
        Self::default()
    }

    /// The chunks watched now.
    pub fn watched(&self) -> impl Iterator<Item = ChunkId> + '_ {
        self.chunks.keys().copied()
    }

    /// The epoch the copies belong to, once a `Hello` came.
    pub fn epoch(&self) -> Option<u64> {
        self.epoch
    }

    /// The seq up to which the connection has every tile of its chunks.
    pub fn cursor(&self) -> Option<u64> {
        self.cursor
    }

    /// Whether `chunk`'s copy is shown as current.
    pub fn is_live(&self, chunk: ChunkId) -> bool {
        self.chunks.get(&chunk) == Some(&Chunk::Live)
    }

    /// Watches exactly `wanted` from now on (the caller keeps it to
    /// [`crate::protocol::MAX_WATCHED`]).
    pub fn view(&mut self, wanted: &BTreeSet<ChunkId>) -> Vec<ViewAction> {
        let gone: Vec<ChunkId> = self
            .chunks
            .keys()
            .filter(|chunk| !wanted.contains(chunk))
            .copied()
            .collect();
        let mut actions = Vec::new();
        for chunk in &gone {
            self.chunks.remove(chunk);
            actions.push(ViewAction::Drop(*chunk));
        }
        let mut added = false;
        for chunk in wanted {
            if !self.chunks.contains_key(chunk) {
                added = true;
                self.chunks.insert(*chunk, waiting(None));
            }
        }
        if self.cursor.is_some() && (added || !gone.is_empty()) {
            actions.push(self.watch());
        }
        actions
    }

    /// The socket closed: every copy is kept, as complete as it is now.
    pub fn disconnected(&mut self) {
        let cursor = self.cursor.take();
        for chunk in self.chunks.values_mut() {
            *chunk = match chunk {
                Chunk::Live => waiting(cursor),
                Chunk::Waiting { copy_at, .. } => waiting(*copy_at),
                Chunk::Loading { .. } => waiting(None),
            };
        }
    }

    /// A frame from the server.
    pub fn received(&mut self, message: &ServerMessage) -> Vec<ViewAction> {
        match message {
            ServerMessage::Hello(hello) => {
                self.disconnected(); // a Hello starts the stream over
                self.restart(hello.epoch, hello.seq);
                vec![self.watch()]
            }
            ServerMessage::Resync { seq, epoch } => {
                // The server announces every watched chunk again after it.
                self.disconnected();
                self.restart(*epoch, *seq);
                Vec::new()
            }
            ServerMessage::ChunkHello { chunk, version } => self.chunk_hello(*chunk, *version),
            // Before its first `Watch` a socket of a canvas sent whole
            // gets every tile: the same, for all chunks at once.
            ServerMessage::Tiles { first_seq, tiles } => {
                let after = first_seq.saturating_sub(1);
                let upto = after + tiles.len() as u64;
                self.stream(after, upto, tiles)
            }
            ServerMessage::ViewTiles { after, upto, tiles } => self.stream(*after, *upto, tiles),
            _ => Vec::new(),
        }
    }

    /// Every tile of the watched chunks with a seq in `after+1 ..= upto`.
    fn stream(&mut self, after: u64, upto: u64, tiles: &[Tile]) -> Vec<ViewAction> {
        if self.cursor != Some(after) {
            return vec![ViewAction::Reconnect];
        }
        self.cursor = Some(upto);
        let mut live = Vec::new();
        for tile in tiles {
            match self.chunks.get_mut(&ChunkId::of(tile.x, tile.y)) {
                Some(Chunk::Live) => live.push(*tile),
                Some(Chunk::Waiting { held, .. } | Chunk::Loading { held, .. }) => held.push(*tile),
                None => {} // unwatched since: its tiles still in flight
            }
        }
        if live.is_empty() {
            Vec::new()
        } else {
            vec![ViewAction::Apply(live)]
        }
    }

    /// `chunk`'s snapshot, asked for at `version`, arrived: it holds the
    /// chunk at `served` (its version where it was read) of `epoch`.
    /// `None` when it is not wanted (a leftover, or no longer watched);
    /// an answer older than asked for, or of another epoch, is fetched
    /// again.
    pub fn loaded(
        &mut self,
        chunk: ChunkId,
        version: u64,
        epoch: u64,
        served: u64,
    ) -> Option<Vec<ViewAction>> {
        let Some(Chunk::Loading {
            version: wanted,
            held,
        }) = self.chunks.get_mut(&chunk)
        else {
            return None;
        };
        if *wanted != version {
            return None;
        }
        if served < version || Some(epoch) != self.epoch {
            return Some(vec![ViewAction::Fetch(chunk, version)]);
        }
        let held = std::mem::take(held);
        self.chunks.insert(chunk, Chunk::Live);
        Some(vec![ViewAction::Install(chunk, held)])
    }

    /// `chunk`'s snapshot could not be fetched: it is asked for again
    /// (the caller waits a little first).
    pub fn load_failed(&mut self, chunk: ChunkId, version: u64) -> Vec<ViewAction> {
        match self.chunks.get(&chunk) {
            Some(Chunk::Loading {
                version: wanted, ..
            }) if *wanted == version => {
                vec![ViewAction::Fetch(chunk, version)]
            }
            _ => Vec::new(),
        }
    }

    fn restart(&mut self, epoch: u64, seq: u64) {
        if self.epoch != Some(epoch) {
            // Seqs start over in a new epoch: no copy can be compared.
            self.epoch = Some(epoch);
            for chunk in self.chunks.values_mut() {
                *chunk = waiting(None);
            }
        }
        self.cursor = Some(seq);
    }

    fn chunk_hello(&mut self, chunk: ChunkId, version: u64) -> Vec<ViewAction> {
        let Some(state) = self.chunks.get_mut(&chunk) else {
            return Vec::new();
        };
        match state {
            Chunk::Waiting { copy_at, held } => {
                let held = std::mem::take(held);
                if copy_at.is_some_and(|at| at >= version) {
                    *state = Chunk::Live;
                    vec![ViewAction::Apply(held)]
                } else {
                    *state = Chunk::Loading { version, held };
                    vec![ViewAction::Fetch(chunk, version)]
                }
            }
            Chunk::Loading {
                version: wanted, ..
            } if version > *wanted => {
                *wanted = version;
                vec![ViewAction::Fetch(chunk, version)]
            }
            // Live: its tiles keep coming; a hello repeated changes nothing.
            Chunk::Loading { .. } | Chunk::Live => Vec::new(),
        }
    }

    fn watch(&self) -> ViewAction {
        ViewAction::Watch(self.chunks.keys().copied().collect())
    }
}

fn waiting(copy_at: Option<u64>) -> Chunk {
    Chunk::Waiting {
        copy_at,
        held: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        chunk::{index_in_chunk, CHUNK_SIDE},
        protocol::Hello,
    };
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// Chunks in the model: a row of four, each with four pixels used.
    const CHUNKS: u16 = 4;
    const PIXELS: u16 = 4;

    fn tile(chunk: u16, pixel: u16, color: u8) -> Tile {
        Tile {
            x: chunk * CHUNK_SIDE + pixel % 2,
            y: pixel / 2,
            color,
        }
    }

    type Pixels = BTreeMap<usize, u8>;

    /// The model server: one canvas, one stream, one socket at most.
    struct Server {
        epoch: u64,
        /// Every placement of the epoch; seq n is `placed[n - 1]`.
        placed: Vec<Tile>,
        /// Each chunk's pixels at the start of the epoch.
        base: BTreeMap<ChunkId, Pixels>,
        socket: Option<Socket>,
    }

    struct Socket {
        watched: BTreeSet<ChunkId>,
        /// The last seq a frame told the client it has.
        told: u64,
        /// Placements up to here are queued for the socket (as the
        /// fan-out's frames a socket has not written yet).
        covered: u64,
        hellos: Vec<ServerMessage>,
        in_flight: VecDeque<ServerMessage>,
    }

    impl Server {
        fn seq(&self) -> u64 {
            self.placed.len() as u64
        }

        fn version(&self, chunk: ChunkId) -> u64 {
            (1..=self.seq())
                .rev()
                .find(|&seq| ChunkId::of(self.placed[seq as usize - 1].x, 0) == chunk)
                .unwrap_or(0)
        }

        fn pixels(&self, chunk: ChunkId) -> Pixels {
            self.pixels_at(chunk, self.seq())
        }

        /// The chunk as it was at `seq`: what a cache keeps for a version.
        fn pixels_at(&self, chunk: ChunkId, seq: u64) -> Pixels {
            let mut pixels = self.base.get(&chunk).cloned().unwrap_or_default();
            for tile in &self.placed[..seq as usize] {
                if ChunkId::of(tile.x, tile.y) == chunk {
                    pixels.insert(index_in_chunk(tile.x, tile.y), tile.color);
                }
            }
            pixels
        }

        fn connect(&mut self) {
            let seq = self.seq();
            let hello = ServerMessage::Hello(Hello {
                width: CHUNKS * CHUNK_SIDE,
                height: CHUNK_SIDE,
                seq,
                epoch: self.epoch,
                cooldown_ms: 0,
            });
            self.socket = Some(Socket {
                watched: BTreeSet::new(),
                told: seq,
                covered: seq,
                hellos: Vec::new(),
                in_flight: VecDeque::from([hello]),
            });
        }

        fn watch(&mut self, chunks: &[ChunkId]) {
            let versions: Vec<(ChunkId, u64)> =
                chunks.iter().map(|&c| (c, self.version(c))).collect();
            let Some(socket) = &mut self.socket else {
                return;
            };
            let wanted: BTreeSet<ChunkId> = chunks.iter().copied().collect();
            for (chunk, version) in versions {
                if !socket.watched.contains(&chunk) {
                    socket
                        .hellos
                        .push(ServerMessage::ChunkHello { chunk, version });
                }
            }
            socket.watched = wanted;
        }

        /// The socket writes what is queued: hellos first, then one
        /// `ViewTiles` of the watched chunks' tiles, if it has any.
        fn take(&mut self) {
            let Some(socket) = &mut self.socket else {
                return;
            };
            socket.in_flight.extend(socket.hellos.drain(..));
            let tiles: Vec<Tile> = self.placed[socket.told as usize..socket.covered as usize]
                .iter()
                .filter(|t| socket.watched.contains(&ChunkId::of(t.x, t.y)))
                .copied()
                .collect();
            if !tiles.is_empty() {
                socket.in_flight.push_back(ServerMessage::ViewTiles {
                    after: socket.told,
                    upto: socket.covered,
                    tiles,
                });
                socket.told = socket.covered;
            }
        }

        /// The socket fell too far behind (or the mirror was reloaded):
        /// what is queued is dropped and every watched chunk announced
        /// again.
        fn resync(&mut self) {
            let seq = self.seq();
            let versions: Vec<(ChunkId, u64)> = self
                .socket
                .iter()
                .flat_map(|s| s.watched.iter())
                .map(|&c| (c, self.version(c)))
                .collect();
            let epoch = self.epoch;
            let Some(socket) = &mut self.socket else {
                return;
            };
            socket.hellos.clear();
            socket
                .in_flight
                .push_back(ServerMessage::Resync { seq, epoch });
            for (chunk, version) in versions {
                socket
                    .in_flight
                    .push_back(ServerMessage::ChunkHello { chunk, version });
            }
            socket.told = seq;
            socket.covered = seq;
        }

        fn new_epoch(&mut self, color: u8) {
            let base: BTreeMap<ChunkId, Pixels> = (0..CHUNKS)
                .map(|cx| ChunkId { cx, cy: 0 })
                .map(|c| (c, self.pixels(c)))
                .map(|(c, mut pixels)| {
                    pixels.insert(usize::from(c.cx), color); // a rollback's change
                    (c, pixels)
                })
                .collect();
            self.base = base;
            self.placed.clear();
            self.epoch += 1;
            self.resync();
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Place(u16, u16, u8),
        /// The socket's queue reaches the placements made so far.
        Queue,
        Take,
        Deliver(usize),
        View(Vec<u16>),
        Disconnect,
        Connect,
        Resync,
        NewEpoch(u8),
        /// The oldest fetch is answered: by an instance that is up to
        /// date (0), a cache holding exactly the version asked (1), one
        /// behind it (2), or failing (3).
        Answer(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0..CHUNKS, 0..PIXELS, 1u8..30).prop_map(|(c, p, k)| Op::Place(c, p, k)),
            3 => Just(Op::Queue),
            3 => Just(Op::Take),
            5 => (1usize..4).prop_map(Op::Deliver),
            2 => proptest::collection::vec(0..CHUNKS, 0..4).prop_map(Op::View),
            1 => Just(Op::Disconnect),
            2 => Just(Op::Connect),
            1 => Just(Op::Resync),
            1 => (1u8..30).prop_map(Op::NewEpoch),
            4 => (0u8..4).prop_map(Op::Answer),
        ]
    }

    /// The client: the machine, and the copies its actions build.
    struct Client {
        sync: ViewSync,
        copies: BTreeMap<ChunkId, Pixels>,
        /// Snapshots fetched and not yet answered, oldest first.
        fetches: VecDeque<(ChunkId, u64)>,
        /// The snapshot just loaded, for `Install`.
        loaded: Option<Pixels>,
        reconnects: usize,
    }

    impl Client {
        fn run(&mut self, server: &mut Server, actions: Vec<ViewAction>) {
            for action in actions {
                match action {
                    ViewAction::Watch(chunks) => server.watch(&chunks),
                    ViewAction::Fetch(chunk, version) => self.fetches.push_back((chunk, version)),
                    ViewAction::Apply(tiles) => self.write(&tiles),
                    ViewAction::Install(chunk, held) => {
                        let pixels = self.loaded.take().expect("a snapshot was loaded");
                        self.copies.insert(chunk, pixels);
                        self.write(&held);
                    }
                    ViewAction::Drop(chunk) => {
                        self.copies.remove(&chunk);
                    }
                    ViewAction::Reconnect => {
                        self.reconnects += 1;
                        server.socket = None;
                        self.sync.disconnected();
                    }
                }
            }
        }

        fn write(&mut self, tiles: &[Tile]) {
            for tile in tiles {
                let chunk = ChunkId::of(tile.x, tile.y);
                let copy = self.copies.get_mut(&chunk).expect("tiles only for a copy");
                copy.insert(index_in_chunk(tile.x, tile.y), tile.color);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever happens (views changing, sockets lost, the server
        /// resyncing or starting a new epoch, snapshots answered late, stale
        /// or not at all), once everything in flight has arrived every
        /// watched chunk is live and equal to the server's, and no gap was
        /// ever seen.
        #[test]
        fn every_watched_chunk_converges_on_the_servers(ops in proptest::collection::vec(op(), 1..80)) {
            let mut server = Server { epoch: 1, placed: Vec::new(), base: BTreeMap::new(), socket: None };
            let mut client = Client {
                sync: ViewSync::new(),
                copies: BTreeMap::new(),
                fetches: VecDeque::new(),
                loaded: None,
                reconnects: 0,
            };
            server.connect();
            for op in ops {
                match op {
                    Op::Place(chunk, pixel, color) => server.placed.push(tile(chunk, pixel, color)),
                    Op::Queue => {
                        let seq = server.seq();
                        if let Some(socket) = &mut server.socket {
                            socket.covered = seq;
                        }
                    }
                    Op::Take => server.take(),
                    Op::Deliver(n) => deliver(&mut server, &mut client, n),
                    Op::View(chunks) => {
                        let wanted = chunks.into_iter().map(|cx| ChunkId { cx, cy: 0 }).collect();
                        let actions = client.sync.view(&wanted);
                        client.run(&mut server, actions);
                    }
                    Op::Disconnect => {
                        server.socket = None;
                        client.sync.disconnected();
                    }
                    Op::Connect => {
                        if server.socket.is_none() {
                            server.connect();
                        }
                    }
                    Op::Resync => server.resync(),
                    Op::NewEpoch(color) => server.new_epoch(color),
                    Op::Answer(how) => answer(&mut server, &mut client, how),
                }
            }
            // Quiesce: a socket, everything queued and delivered, every
            // fetch answered by an instance that is up to date.
            if server.socket.is_none() {
                server.connect();
            }
            for _ in 0..20 {
                let seq = server.seq();
                if let Some(socket) = &mut server.socket {
                    socket.covered = seq;
                }
                server.take();
                deliver(&mut server, &mut client, usize::MAX);
                while !client.fetches.is_empty() {
                    answer(&mut server, &mut client, 0);
                }
                if server.socket.is_some() && server.socket.as_ref().unwrap().in_flight.is_empty() && server.socket.as_ref().unwrap().hellos.is_empty() {
                    break;
                }
                if server.socket.is_none() {
                    server.connect();
                }
            }
            prop_assert_eq!(client.reconnects, 0, "no gap in a stream without one");
            let watched: Vec<ChunkId> = client.sync.watched().collect();
            for chunk in watched {
                prop_assert!(client.sync.is_live(chunk), "{:?} not live", chunk);
                prop_assert_eq!(client.copies.get(&chunk), Some(&server.pixels(chunk)), "{:?}", chunk);
            }
            prop_assert!(client.copies.keys().all(|c| client.sync.watched().any(|w| w == *c)), "dropped chunks hold no pixels");
        }
    }

    #[test]
    fn a_copy_missing_the_chunks_last_placement_is_fetched_again() {
        let chunk = ChunkId { cx: 1, cy: 0 };
        let mut sync = ViewSync::new();
        let hello = |seq| {
            ServerMessage::Hello(Hello {
                width: 512,
                height: 256,
                seq,
                epoch: 7,
                cooldown_ms: 0,
            })
        };
        sync.received(&hello(10));
        sync.view(&BTreeSet::from([chunk]));
        let version = |version| ServerMessage::ChunkHello { chunk, version };
        assert_eq!(sync.received(&version(4)), [ViewAction::Fetch(chunk, 4)]);
        assert_eq!(
            sync.loaded(chunk, 4, 7, 10),
            Some(vec![ViewAction::Install(chunk, vec![])])
        );
        sync.disconnected(); // the copy is complete up to seq 10
        sync.received(&hello(10));
        assert_eq!(sync.received(&version(10)), [ViewAction::Apply(vec![])]);
        sync.disconnected();
        sync.received(&hello(12)); // seq 11 was placed in the chunk meanwhile
        assert_eq!(sync.received(&version(11)), [ViewAction::Fetch(chunk, 11)]);
    }

    fn deliver(server: &mut Server, client: &mut Client, n: usize) {
        for _ in 0..n {
            let Some(message) = server.socket.as_mut().and_then(|s| s.in_flight.pop_front()) else {
                return;
            };
            let actions = client.sync.received(&message);
            client.run(server, actions);
        }
    }

    /// Answers the oldest fetch. An up-to-date instance serves the chunk
    /// as it is now; a lagging one serves it one placement before the
    /// version asked for (which the client must not take).
    fn answer(server: &mut Server, client: &mut Client, how: u8) {
        let Some((chunk, version)) = client.fetches.pop_front() else {
            return;
        };
        let actions = match how {
            0 => {
                client.loaded = Some(server.pixels(chunk));
                let served = server.version(chunk);
                client
                    .sync
                    .loaded(chunk, version, server.epoch, served)
                    .unwrap_or_default()
            }
            1 if version <= server.seq() => {
                client.loaded = Some(server.pixels_at(chunk, version));
                client
                    .sync
                    .loaded(chunk, version, server.epoch, version)
                    .unwrap_or_default()
            }
            2 if version > 0 => {
                client.loaded = Some(Pixels::new());
                client
                    .sync
                    .loaded(chunk, version, server.epoch, version - 1)
                    .unwrap_or_default()
            }
            _ => client.sync.load_failed(chunk, version),
        };
        client
            .loaded
            .take_if(|_| !actions.iter().any(|a| matches!(a, ViewAction::Install(..))));
        client.run(server, actions);
    }
}
