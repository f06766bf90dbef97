//! How a client that watches some chunks of a large canvas keeps each of
//! them in step: one [`CanvasSync`] per watched chunk. Every chunk is its
//! own stream (its epoch, its seqs), so the whole-canvas rules apply to it
//! unchanged: its `Hello` when the watch begins, its tiles in seq order,
//! one `Resume` per gap, its snapshot again on `Resync`.
//!
//! [`ChunkSyncs`] adds only what watching a changing set takes: a chunk
//! that comes into view is watched (on the socket when there is one, and
//! again on every reconnect), one that leaves it is unwatched and its
//! pixels dropped (the browser's memory stays bounded by the view), and a
//! frame for a chunk no longer watched is ignored. A chunk watched again
//! starts afresh.

use crate::{
    chunk::ChunkId,
    protocol::{ServerMessage, Version},
    sync::{Action, CanvasSync},
};
use std::collections::{BTreeMap, BTreeSet};

/// What the owner of a [`ChunkSyncs`] does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkAction {
    /// Ask the server for these chunks' streams (each answers with its
    /// `Hello`).
    Watch(Vec<ChunkId>),
    /// Tell the server these chunks are no longer wanted.
    Unwatch(Vec<ChunkId>),
    /// Forget this chunk's pixels: it is no longer watched.
    Drop(ChunkId),
    /// What the chunk's own machine asks: apply its tiles, send its
    /// `Resume` (on the chunk's stream), or fetch its snapshot.
    Chunk(ChunkId, Action),
}

/// The watched chunks, each with its catch-up state.
#[derive(Debug, Default)]
pub struct ChunkSyncs {
    chunks: BTreeMap<ChunkId, CanvasSync>,
    connected: bool,
}

impl ChunkSyncs {
    pub fn new() -> Self {
        Self::default()
    }

    /// The chunks watched now.
    pub fn watched(&self) -> impl Iterator<Item = ChunkId> + '_ {
        self.chunks.keys().copied()
    }

    /// What a chunk's copy holds, once its snapshot was loaded.
    pub fn copy(&self, chunk: ChunkId) -> Option<Version> {
        self.chunks.get(&chunk)?.copy()
    }

    /// Watches exactly `wanted` from now on.
    pub fn view(&mut self, wanted: &BTreeSet<ChunkId>) -> Vec<ChunkAction> {
        let gone: Vec<ChunkId> = self
            .chunks
            .keys()
            .filter(|chunk| !wanted.contains(chunk))
            .copied()
            .collect();
        let new: Vec<ChunkId> = wanted
            .iter()
            .filter(|chunk| !self.chunks.contains_key(chunk))
            .copied()
            .collect();
        let mut actions = Vec::new();
        for chunk in &gone {
            self.chunks.remove(chunk);
            actions.push(ChunkAction::Drop(*chunk));
        }
        if self.connected && !gone.is_empty() {
            actions.push(ChunkAction::Unwatch(gone));
        }
        for chunk in &new {
            self.chunks.insert(*chunk, CanvasSync::new());
        }
        if self.connected && !new.is_empty() {
            actions.push(ChunkAction::Watch(new));
        }
        actions
    }

    /// A socket opened: every watched chunk is asked for again.
    pub fn connected(&mut self) -> Vec<ChunkAction> {
        self.connected = true;
        if self.chunks.is_empty() {
            return Vec::new();
        }
        vec![ChunkAction::Watch(self.chunks.keys().copied().collect())]
    }

    /// The socket closed. Each chunk keeps its copy, to resume from.
    pub fn disconnected(&mut self) {
        self.connected = false;
        for sync in self.chunks.values_mut() {
            sync.disconnected();
        }
    }

    /// A frame of `chunk`'s stream (its `Hello`, `Tiles` or `Resync`).
    pub fn received(&mut self, chunk: ChunkId, message: &ServerMessage) -> Vec<ChunkAction> {
        let Some(sync) = self.chunks.get_mut(&chunk) else {
            return Vec::new(); // unwatched since: its frames still in flight
        };
        tag(chunk, sync.received(message))
    }

    /// `chunk`'s snapshot at `at` arrived; `None` if it is not wanted
    /// (a leftover, or the chunk is no longer watched).
    pub fn loaded(&mut self, chunk: ChunkId, at: Version) -> Option<Vec<ChunkAction>> {
        let actions = self.chunks.get_mut(&chunk)?.loaded(at)?;
        Some(tag(chunk, actions))
    }

    /// `chunk`'s snapshot could not be fetched: it is watched afresh (its
    /// `Hello` starts it over), without closing the socket the other
    /// chunks share.
    pub fn load_failed(&mut self, chunk: ChunkId) -> Vec<ChunkAction> {
        let Some(sync) = self.chunks.get_mut(&chunk) else {
            return Vec::new();
        };
        *sync = CanvasSync::new();
        if !self.connected {
            return Vec::new();
        }
        vec![
            ChunkAction::Unwatch(vec![chunk]),
            ChunkAction::Watch(vec![chunk]),
        ]
    }
}

fn tag(chunk: ChunkId, actions: Vec<Action>) -> Vec<ChunkAction> {
    actions
        .into_iter()
        .map(|action| ChunkAction::Chunk(chunk, action))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ClientMessage, Hello, Tile};
    use proptest::prelude::*;
    use std::collections::VecDeque;

    const SIDE: u16 = 3;
    const CHUNKS: u16 = 3;

    fn id(n: u16) -> ChunkId {
        ChunkId { cx: n, cy: 0 }
    }

    fn tile(n: u64) -> Tile {
        Tile {
            x: (n % u64::from(SIDE)) as u16,
            y: ((n / 3) % u64::from(SIDE)) as u16,
            color: (n % 31 + 1) as u8,
        }
    }

    fn index(tile: Tile) -> usize {
        usize::from(tile.y) * usize::from(SIDE) + usize::from(tile.x)
    }

    /// One chunk's stream on the server.
    struct Stream {
        epoch: u64,
        base: Vec<u8>,
        placed: Vec<Tile>,
        past: Vec<(u64, Vec<Tile>)>,
    }

    impl Stream {
        fn seq(&self) -> u64 {
            self.placed.len() as u64
        }

        fn pixels_at(&self, seq: u64) -> Vec<u8> {
            let mut pixels = self.base.clone();
            for tile in &self.placed[..seq as usize] {
                pixels[index(*tile)] = tile.color;
            }
            pixels
        }

        fn placement(&self, epoch: u64, seq: u64) -> Option<Tile> {
            let placed = if epoch == self.epoch {
                &self.placed
            } else {
                &self.past.iter().find(|(e, _)| *e == epoch)?.1
            };
            placed.get(seq.checked_sub(1)? as usize).copied()
        }
    }

    /// A server of several chunks, each its own stream, and a socket that
    /// carries the watched ones.
    struct Server {
        chunks: Vec<Stream>,
        /// Placements remembered per chunk for `Resume`.
        history: usize,
        socket: Option<Socket>,
    }

    struct Socket {
        /// Per watched chunk: the client has its tiles up to here.
        cursors: BTreeMap<ChunkId, u64>,
        in_flight: VecDeque<(ChunkId, ServerMessage)>,
    }

    impl Server {
        fn stream(&self, chunk: ChunkId) -> &Stream {
            &self.chunks[usize::from(chunk.cx)]
        }

        fn watch(&mut self, chunks: &[ChunkId]) {
            for &chunk in chunks {
                let stream = &self.chunks[usize::from(chunk.cx)];
                let (epoch, seq) = (stream.epoch, stream.seq());
                if let Some(socket) = &mut self.socket {
                    socket.cursors.insert(chunk, seq);
                    let hello = ServerMessage::Hello(Hello {
                        width: SIDE,
                        height: SIDE,
                        seq,
                        epoch,
                        cooldown_ms: 0,
                    });
                    socket.in_flight.push_back((chunk, hello));
                }
            }
        }

        fn unwatch(&mut self, chunks: &[ChunkId]) {
            if let Some(socket) = &mut self.socket {
                for chunk in chunks {
                    socket.cursors.remove(chunk);
                }
            }
        }

        /// Writes each watched chunk's missing tiles, in `pieces` frames.
        fn flush(&mut self, pieces: u64) {
            let Some(socket) = &mut self.socket else {
                return;
            };
            for (chunk, cursor) in socket.cursors.iter_mut() {
                let stream = &self.chunks[usize::from(chunk.cx)];
                while *cursor < stream.seq() {
                    let n = ((stream.seq() - *cursor) / pieces.max(1)).max(1);
                    let first = *cursor + 1;
                    let tiles =
                        stream.placed[(first - 1) as usize..(first - 1 + n) as usize].to_vec();
                    socket.in_flight.push_back((
                        *chunk,
                        ServerMessage::Tiles {
                            first_seq: first,
                            tiles,
                        },
                    ));
                    *cursor += n;
                }
            }
        }

        fn resume(&mut self, chunk: ChunkId, from: Version) {
            let history = self.history as u64;
            let stream = &self.chunks[usize::from(chunk.cx)];
            let Some(socket) = &mut self.socket else {
                return;
            };
            let Some(cursor) = socket.cursors.get_mut(&chunk) else {
                return; // not watched on this socket: nothing is sent
            };
            let seq = stream.seq();
            let reachable = from.epoch == stream.epoch
                && from.seq <= seq
                && from.seq >= seq.saturating_sub(history);
            let answer = if !reachable {
                Some(ServerMessage::Resync {
                    seq,
                    epoch: stream.epoch,
                })
            } else if from.seq < seq {
                Some(ServerMessage::Tiles {
                    first_seq: from.seq + 1,
                    tiles: stream.placed[from.seq as usize..].to_vec(),
                })
            } else {
                None
            };
            socket.in_flight.extend(answer.map(|a| (chunk, a)));
            *cursor = seq;
        }

        fn new_epoch(&mut self, chunk: ChunkId) {
            let stream = &mut self.chunks[usize::from(chunk.cx)];
            stream.base = stream.pixels_at(stream.seq());
            let placed = std::mem::take(&mut stream.placed);
            stream.past.push((stream.epoch, placed));
            stream.epoch += 1;
            let epoch = stream.epoch;
            if let Some(socket) = &mut self.socket {
                if let Some(cursor) = socket.cursors.get_mut(&chunk) {
                    *cursor = 0;
                    socket
                        .in_flight
                        .push_back((chunk, ServerMessage::Resync { seq: 0, epoch }));
                }
            }
        }
    }

    struct Client {
        syncs: ChunkSyncs,
        pixels: BTreeMap<ChunkId, Vec<u8>>,
        fetching: BTreeSet<ChunkId>,
    }

    impl Client {
        fn act(&mut self, server: &mut Server, actions: Vec<ChunkAction>) {
            for action in actions {
                match action {
                    ChunkAction::Watch(chunks) => server.watch(&chunks),
                    ChunkAction::Unwatch(chunks) => server.unwatch(&chunks),
                    ChunkAction::Drop(chunk) => {
                        self.pixels.remove(&chunk);
                        self.fetching.remove(&chunk);
                    }
                    ChunkAction::Chunk(chunk, Action::Apply { first_seq, tiles }) => {
                        let epoch = self.syncs.copy(chunk).expect("applied onto a copy").epoch;
                        let pixels = self.pixels.get_mut(&chunk).expect("a loaded chunk");
                        for (seq, tile) in (first_seq..).zip(tiles) {
                            assert_eq!(
                                server.stream(chunk).placement(epoch, seq),
                                Some(tile),
                                "{chunk:?}: seq {seq} of epoch {epoch}"
                            );
                            pixels[index(tile)] = tile.color;
                        }
                    }
                    ChunkAction::Chunk(
                        chunk,
                        Action::Send(ClientMessage::Resume { epoch, last_seq }),
                    ) => server.resume(
                        chunk,
                        Version {
                            epoch,
                            seq: last_seq,
                        },
                    ),
                    ChunkAction::Chunk(_, Action::Send(other)) => panic!("sent {other:?}"),
                    ChunkAction::Chunk(chunk, Action::FetchSnapshot { .. }) => {
                        self.fetching.insert(chunk);
                    }
                }
            }
        }

        /// The chunk's snapshot, `stale` placements behind, arrives.
        fn snapshot(&mut self, server: &mut Server, chunk: ChunkId, stale: u64) {
            self.fetching.remove(&chunk);
            let stream = server.stream(chunk);
            let seq = stream.seq().saturating_sub(stale);
            let at = Version {
                epoch: stream.epoch,
                seq,
            };
            let pixels = stream.pixels_at(seq);
            if let Some(actions) = self.syncs.loaded(chunk, at) {
                self.pixels.insert(chunk, pixels);
                self.act(server, actions);
            }
        }

        fn read(&mut self, server: &mut Server, frames: usize) {
            for _ in 0..frames {
                let Some((chunk, frame)) =
                    server.socket.as_mut().and_then(|s| s.in_flight.pop_front())
                else {
                    return;
                };
                let actions = self.syncs.received(chunk, &frame);
                self.act(server, actions);
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Step {
        Place(u16, u8),
        Flush(u8),
        Read(u8),
        Snapshot(u16, u8),
        SnapshotFails(u16),
        View(u8),
        Reconnect,
        Disconnect,
        Resync(u16),
        NewEpoch(u16),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0..CHUNKS, 1u8..5).prop_map(|(c, k)| Step::Place(c, k)),
            3 => (1u8..4).prop_map(Step::Flush),
            4 => (1u8..6).prop_map(Step::Read),
            3 => (0..CHUNKS, 0u8..5).prop_map(|(c, s)| Step::Snapshot(c, s)),
            1 => (0..CHUNKS).prop_map(Step::SnapshotFails),
            2 => (0u8..8).prop_map(Step::View),
            1 => Just(Step::Reconnect),
            1 => Just(Step::Disconnect),
            1 => (0..CHUNKS).prop_map(Step::Resync),
            1 => (0..CHUNKS).prop_map(Step::NewEpoch),
        ]
    }

    /// The chunks a view mask selects.
    fn view(mask: u8) -> BTreeSet<ChunkId> {
        (0..CHUNKS)
            .filter(|c| mask & (1 << c) != 0)
            .map(id)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever happens in between (placements in any chunk, frames
        /// split or delayed, stale or failed snapshots, the view changing,
        /// disconnects, resyncs, a chunk's lost history), once things
        /// quieten every watched chunk equals the server's, byte for byte,
        /// at its seq; no unwatched chunk is kept; and every tile applied
        /// on the way was the one its seq names.
        #[test]
        fn any_interleaving_of_views_ends_with_every_watched_chunk_equal(
            steps in proptest::collection::vec(step(), 0..80),
            history in 1usize..10,
            first_view in 0u8..8,
        ) {
            let area = usize::from(SIDE) * usize::from(SIDE);
            let mut server = Server {
                chunks: (0..CHUNKS).map(|_| Stream { epoch: 1, base: vec![0; area], placed: Vec::new(), past: Vec::new() }).collect(),
                history,
                socket: None,
            };
            let mut client = Client { syncs: ChunkSyncs::new(), pixels: BTreeMap::new(), fetching: BTreeSet::new() };
            let mut n = 0;
            let connect = |server: &mut Server, client: &mut Client| {
                server.socket = Some(Socket { cursors: BTreeMap::new(), in_flight: VecDeque::new() });
                let actions = client.syncs.connected();
                client.act(server, actions);
            };
            let actions = client.syncs.view(&view(first_view));
            client.act(&mut server, actions);
            connect(&mut server, &mut client);
            for step in steps {
                match step {
                    Step::Place(chunk, k) => {
                        for _ in 0..k {
                            n += 1;
                            server.chunks[usize::from(chunk)].placed.push(tile(n));
                        }
                    }
                    Step::Flush(pieces) => server.flush(u64::from(pieces)),
                    Step::Read(frames) => client.read(&mut server, usize::from(frames)),
                    Step::Snapshot(chunk, stale) if client.fetching.contains(&id(chunk)) => {
                        client.snapshot(&mut server, id(chunk), u64::from(stale));
                    }
                    Step::SnapshotFails(chunk) if client.fetching.remove(&id(chunk)) => {
                        let actions = client.syncs.load_failed(id(chunk));
                        client.act(&mut server, actions);
                    }
                    Step::Snapshot(..) | Step::SnapshotFails(_) => {}
                    Step::View(mask) => {
                        let actions = client.syncs.view(&view(mask));
                        client.act(&mut server, actions);
                    }
                    Step::Disconnect if server.socket.is_some() => {
                        server.socket = None;
                        client.syncs.disconnected();
                    }
                    Step::Disconnect => {}
                    Step::Reconnect => {
                        if server.socket.take().is_some() {
                            client.syncs.disconnected();
                        }
                        connect(&mut server, &mut client);
                    }
                    Step::Resync(chunk) => {
                        let stream = server.stream(id(chunk));
                        let (seq, epoch) = (stream.seq(), stream.epoch);
                        if let Some(socket) = &mut server.socket {
                            if let Some(cursor) = socket.cursors.get_mut(&id(chunk)) {
                                *cursor = seq;
                                socket.in_flight.push_back((id(chunk), ServerMessage::Resync { seq, epoch }));
                            }
                        }
                    }
                    Step::NewEpoch(chunk) => server.new_epoch(id(chunk)),
                }
            }
            // Quiet: connected, everything written and read, snapshots in.
            if server.socket.is_none() {
                connect(&mut server, &mut client);
            }
            for _ in 0..30 {
                server.flush(1);
                client.read(&mut server, usize::MAX);
                for chunk in std::mem::take(&mut client.fetching) {
                    client.snapshot(&mut server, chunk, 0);
                }
            }
            let quiet = server.socket.as_ref().is_some_and(|s| s.in_flight.is_empty());
            prop_assert!(quiet && client.fetching.is_empty(), "still busy after the quiet rounds");
            let watched: BTreeSet<ChunkId> = client.syncs.watched().collect();
            let kept: BTreeSet<ChunkId> = client.pixels.keys().copied().collect();
            prop_assert_eq!(&kept, &watched, "pixels kept for exactly the watched chunks");
            for chunk in watched {
                let stream = server.stream(chunk);
                prop_assert_eq!(client.syncs.copy(chunk), Some(Version { epoch: stream.epoch, seq: stream.seq() }));
                prop_assert_eq!(&client.pixels[&chunk], &stream.pixels_at(stream.seq()), "{:?}", chunk);
            }
        }
    }

    #[test]
    fn a_chunk_leaving_the_view_is_unwatched_and_dropped_and_its_late_frames_ignored() {
        let mut syncs = ChunkSyncs::new();
        let (a, b) = (id(0), id(1));
        assert_eq!(syncs.view(&[a].into()), []);
        assert_eq!(syncs.connected(), [ChunkAction::Watch(vec![a])]);
        assert_eq!(
            syncs.view(&[b].into()),
            [
                ChunkAction::Drop(a),
                ChunkAction::Unwatch(vec![a]),
                ChunkAction::Watch(vec![b])
            ]
        );
        let late = ServerMessage::Tiles {
            first_seq: 1,
            tiles: vec![tile(1)],
        };
        assert_eq!(syncs.received(a, &late), []);
        assert_eq!(syncs.loaded(a, Version { epoch: 1, seq: 0 }), None);
    }
}
