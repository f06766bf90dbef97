//! How a client keeps its copy of the canvas in step with the server: the
//! catch-up rules of docs/protocol.md as one state machine with no I/O of
//! its own. Frames and snapshots go in, [`Action`]s come out (apply these
//! tiles, send this `Resume`, fetch the snapshot), and the owner carries
//! them out on its own pixels and socket. The browser, the server's test
//! harness and the load generator all run this one machine.
//!
//! The rules, in short: the first connection loads the snapshot while
//! keeping the Tiles that arrive, then applies those above the snapshot's
//! seq; tiles are applied strictly in seq order, and a gap (or a snapshot
//! older than the socket's stream, say from a cache) is bridged by one
//! `Resume` from the last tile applied, whose answer carries every tile from
//! there; a reconnect in the same epoch resumes too; `Resync`, or a new
//! epoch, loads the snapshot again.

use crate::protocol::{ClientMessage, ServerMessage, Tile, Version};

/// What the owner of a [`CanvasSync`] does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Apply these tiles to the copy, in order: they carry the seqs
    /// `first_seq`, `first_seq + 1`, …
    Apply { first_seq: u64, tiles: Vec<Tile> },
    /// Send this frame on the socket.
    Send(ClientMessage),
    /// Fetch the snapshot (`/api/canvas`) and hand it to
    /// [`CanvasSync::loaded`]. When `spread`, wait a random 0–1 s first:
    /// a `Resync` reaches every client of an instance at the same moment.
    FetchSnapshot { spread: bool },
}

/// A client's catch-up state.
#[derive(Debug, Default)]
pub struct CanvasSync {
    /// What the copy holds; `None` until a snapshot was loaded.
    copy: Option<Version>,
    /// Where the socket's stream starts (the seq of its `Hello`, or of the
    /// last `Resync`): the stream leaves out the tiles up to there.
    stream: Option<Version>,
    phase: Phase,
    /// The seq the last `Resume` was sent from: a gap asks once, and then
    /// its answer is awaited.
    resumed_from: Option<u64>,
}

#[derive(Debug, Default)]
enum Phase {
    /// No socket, and no snapshot on its way.
    #[default]
    Offline,
    /// A snapshot is on its way; the Tiles that arrive meanwhile are kept.
    Loading { kept: Vec<(u64, Vec<Tile>)> },
    /// Tiles are applied as they come.
    Live,
}

impl CanvasSync {
    pub fn new() -> Self {
        Self::default()
    }

    /// What the copy holds, once a snapshot was loaded.
    pub fn copy(&self) -> Option<Version> {
        self.copy
    }

    /// Whether tiles are applied as they come (connected, snapshot loaded).
    pub fn is_live(&self) -> bool {
        matches!(self.phase, Phase::Live)
    }

    /// A frame from the server (`Hello` first on every connection).
    pub fn received(&mut self, message: &ServerMessage) -> Vec<Action> {
        match message {
            ServerMessage::Hello(hello) => {
                self.stream = Some(Version {
                    epoch: hello.epoch,
                    seq: hello.seq,
                });
                self.resumed_from = None;
                match (&mut self.phase, self.copy) {
                    // A snapshot is already on its way (the last connection
                    // asked for it): its answer still counts, but the tiles
                    // kept came on the old stream.
                    (Phase::Loading { kept }, _) => {
                        kept.clear();
                        Vec::new()
                    }
                    // Back in the same epoch: the server sends what was missed.
                    (_, Some(copy)) if copy.epoch == hello.epoch => {
                        self.phase = Phase::Live;
                        self.resume().into_iter().collect()
                    }
                    _ => self.load(false),
                }
            }
            ServerMessage::Tiles { first_seq, tiles } => match &mut self.phase {
                Phase::Offline => Vec::new(),
                Phase::Loading { kept } => {
                    kept.push((*first_seq, tiles.clone()));
                    Vec::new()
                }
                Phase::Live => self.apply(*first_seq, tiles),
            },
            ServerMessage::Resync { seq, epoch } => {
                self.stream = Some(Version {
                    epoch: *epoch,
                    seq: *seq,
                });
                self.resumed_from = None;
                // A copy of that epoch at least that new needs no snapshot:
                // the stream goes on from the Resync's seq, and the tiles
                // the copy has already are skipped. (A `Resume` answered
                // after this `Resync` was written leaves the server sure
                // the client has its copy's tiles: a snapshot from a cache
                // older than the copy would lose them for good.)
                let current = self
                    .copy
                    .is_some_and(|copy| copy.epoch == *epoch && copy.seq >= *seq);
                if current && matches!(self.phase, Phase::Live) {
                    return Vec::new();
                }
                match &mut self.phase {
                    // The snapshot on its way is checked against the new
                    // stream when it arrives; the tiles kept came before
                    // the `Resync` (perhaps in another epoch).
                    Phase::Loading { kept } => {
                        kept.clear();
                        Vec::new()
                    }
                    _ => self.load(true),
                }
            }
            _ => Vec::new(),
        }
    }

    /// The snapshot at `at` arrived. `None` if it is not wanted (a
    /// leftover of an earlier request): the owner drops it. Otherwise the
    /// owner replaces its copy with the snapshot, then carries out the
    /// actions (the kept tiles, perhaps a `Resume`).
    pub fn loaded(&mut self, at: Version) -> Option<Vec<Action>> {
        let Phase::Loading { kept } = std::mem::replace(&mut self.phase, Phase::Live) else {
            return None;
        };
        self.copy = Some(at);
        self.resumed_from = None;
        let mut actions = Vec::new();
        // A snapshot older than the stream (a cache answered), or from
        // another epoch than it (the server then answers `Resync`), cannot
        // be brought up to date by the stream alone.
        if let Some(stream) = self.stream {
            if stream.epoch != at.epoch || at.seq < stream.seq {
                actions.extend(self.resume());
            }
        }
        for (first_seq, tiles) in kept {
            actions.extend(self.apply(first_seq, &tiles));
        }
        Some(actions)
    }

    /// The snapshot could not be fetched: the copy is no longer trusted.
    /// The owner closes the socket; the next connection loads it again.
    pub fn load_failed(&mut self) {
        self.copy = None;
        self.phase = Phase::Offline;
    }

    /// The socket closed. The copy is kept, to resume from.
    pub fn disconnected(&mut self) {
        self.stream = None;
        self.resumed_from = None;
        if matches!(self.phase, Phase::Live) {
            self.phase = Phase::Offline;
        }
    }

    fn load(&mut self, spread: bool) -> Vec<Action> {
        self.phase = Phase::Loading { kept: Vec::new() };
        vec![Action::FetchSnapshot { spread }]
    }

    /// The tiles of a frame that follow the copy; a gap before them asks
    /// for the missing ones instead (tiles past it come again in the
    /// answer).
    fn apply(&mut self, first_seq: u64, tiles: &[Tile]) -> Vec<Action> {
        let Some(copy) = self.copy else {
            return Vec::new();
        };
        // Seqs name tiles within an epoch: a stream of another epoch than
        // the copy's says nothing about it (a `Resync` is on its way).
        if self.stream.map(|stream| stream.epoch) != Some(copy.epoch) {
            return Vec::new();
        }
        let skip = (copy.seq + 1).saturating_sub(first_seq) as usize;
        if skip >= tiles.len() {
            return Vec::new(); // nothing new
        }
        let next = first_seq + skip as u64;
        if next > copy.seq + 1 {
            return self.resume().into_iter().collect();
        }
        let fresh = tiles[skip..].to_vec();
        self.copy = Some(Version {
            epoch: copy.epoch,
            seq: copy.seq + fresh.len() as u64,
        });
        vec![Action::Apply {
            first_seq: next,
            tiles: fresh,
        }]
    }

    /// Asks for everything after the copy, once per seq.
    fn resume(&mut self) -> Option<Action> {
        let copy = self.copy?;
        if self.resumed_from == Some(copy.seq) {
            return None;
        }
        self.resumed_from = Some(copy.seq);
        Some(Action::Send(ClientMessage::Resume {
            epoch: copy.epoch,
            last_seq: copy.seq,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Hello;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    const SIDE: u16 = 4;

    fn tile(n: u64) -> Tile {
        Tile {
            x: (n % u64::from(SIDE)) as u16,
            y: ((n / 4) % u64::from(SIDE)) as u16,
            color: (n % 31 + 1) as u8,
        }
    }

    fn hello(epoch: u64, seq: u64) -> ServerMessage {
        ServerMessage::Hello(Hello {
            width: SIDE,
            height: SIDE,
            seq,
            epoch,
            cooldown_ms: 0,
        })
    }

    fn tiles(first_seq: u64, n: u64) -> ServerMessage {
        ServerMessage::Tiles {
            first_seq,
            tiles: (first_seq..first_seq + n).map(tile).collect(),
        }
    }

    #[test]
    fn the_first_connection_loads_the_snapshot_and_keeps_the_tiles_meanwhile() {
        let mut sync = CanvasSync::new();
        assert_eq!(
            sync.received(&hello(7, 10)),
            [Action::FetchSnapshot { spread: false }]
        );
        assert_eq!(sync.received(&tiles(11, 3)), []);
        let actions = sync.loaded(Version { epoch: 7, seq: 12 }).unwrap();
        assert_eq!(
            actions,
            [Action::Apply {
                first_seq: 13,
                tiles: vec![tile(13)]
            }]
        );
        assert_eq!(sync.copy(), Some(Version { epoch: 7, seq: 13 }));
        assert!(sync.is_live());
        // A leftover snapshot is not wanted.
        assert_eq!(sync.loaded(Version { epoch: 7, seq: 1 }), None);
    }

    #[test]
    fn a_snapshot_older_than_the_stream_resumes_from_it() {
        let mut sync = CanvasSync::new();
        sync.received(&hello(7, 10));
        sync.received(&tiles(11, 2));
        let resume = Action::Send(ClientMessage::Resume {
            epoch: 7,
            last_seq: 8,
        });
        assert_eq!(sync.loaded(Version { epoch: 7, seq: 8 }).unwrap(), [resume]);
        // The answer brings 9 and 10 on; the live 11 and 12 come again.
        assert_eq!(sync.received(&tiles(13, 1)), []);
        assert_eq!(
            sync.received(&tiles(9, 5)),
            [Action::Apply {
                first_seq: 9,
                tiles: (9..14).map(tile).collect()
            }]
        );
    }

    #[test]
    fn a_gap_asks_once_and_a_reconnect_resumes() {
        let mut sync = CanvasSync::new();
        sync.received(&hello(7, 0));
        sync.loaded(Version { epoch: 7, seq: 0 });
        let resume = |last_seq| vec![Action::Send(ClientMessage::Resume { epoch: 7, last_seq })];
        assert_eq!(sync.received(&tiles(3, 1)), resume(0));
        assert_eq!(sync.received(&tiles(4, 1)), [], "asked already");
        sync.disconnected();
        assert!(!sync.is_live());
        assert_eq!(sync.received(&hello(7, 9)), resume(0));
        // Another epoch: the snapshot again.
        sync.disconnected();
        assert_eq!(
            sync.received(&hello(8, 2)),
            [Action::FetchSnapshot { spread: false }]
        );
    }

    #[test]
    fn a_resync_behind_the_copy_of_its_epoch_keeps_the_copy() {
        // Resume{2, 1} was answered after the server had written a
        // Resync{0, 2}: the copy at 1 stays, and the stream goes on.
        let mut sync = CanvasSync::new();
        sync.received(&hello(2, 0));
        sync.loaded(Version { epoch: 2, seq: 1 });
        assert_eq!(
            sync.received(&ServerMessage::Resync { seq: 0, epoch: 2 }),
            []
        );
        assert!(sync.is_live());
        assert_eq!(
            sync.received(&tiles(1, 2)),
            [Action::Apply {
                first_seq: 2,
                tiles: vec![tile(2)]
            }]
        );
    }

    #[test]
    fn resync_loads_the_snapshot_after_a_spread() {
        let mut sync = CanvasSync::new();
        sync.received(&hello(7, 0));
        sync.loaded(Version { epoch: 7, seq: 0 });
        assert_eq!(
            sync.received(&ServerMessage::Resync { seq: 40, epoch: 9 }),
            [Action::FetchSnapshot { spread: true }]
        );
        assert_eq!(sync.loaded(Version { epoch: 9, seq: 40 }).unwrap(), []);
        assert_eq!(sync.copy(), Some(Version { epoch: 9, seq: 40 }));
    }

    /// A server as docs/protocol.md describes it, small enough to run in
    /// every interleaving proptest finds.
    struct Server {
        epoch: u64,
        /// The pixels when this epoch began, and its placements since.
        base: Vec<u8>,
        placed: Vec<Tile>,
        /// The placements of the epochs before, by epoch.
        past: Vec<(u64, Vec<Tile>)>,
        /// Placements remembered for `Resume`.
        history: usize,
        socket: Option<Socket>,
    }

    struct Socket {
        /// The client has every tile up to here, or has it on its way.
        cursor: u64,
        /// Frames written and not yet read by the client.
        in_flight: VecDeque<ServerMessage>,
    }

    impl Server {
        fn seq(&self) -> u64 {
            self.placed.len() as u64
        }

        fn pixels_at(&self, seq: u64) -> Vec<u8> {
            let mut pixels = self.base.clone();
            for tile in &self.placed[..seq as usize] {
                pixels[usize::from(tile.y) * usize::from(SIDE) + usize::from(tile.x)] = tile.color;
            }
            pixels
        }

        fn connect(&mut self) {
            let seq = self.seq();
            self.socket = Some(Socket {
                cursor: seq,
                in_flight: VecDeque::from([hello(self.epoch, seq)]),
            });
        }

        /// Writes what the socket is missing, in `pieces` frames.
        fn flush(&mut self, pieces: u64) {
            let seq = self.seq();
            let placed = &self.placed;
            if let Some(socket) = &mut self.socket {
                while socket.cursor < seq {
                    let n = ((seq - socket.cursor) / pieces.max(1)).max(1);
                    let first = socket.cursor + 1;
                    socket.in_flight.push_back(ServerMessage::Tiles {
                        first_seq: first,
                        tiles: placed[(first - 1) as usize..(first - 1 + n) as usize].to_vec(),
                    });
                    socket.cursor += n;
                }
            }
        }

        fn resume(&mut self, epoch: u64, last_seq: u64) {
            let seq = self.seq();
            let oldest = seq.saturating_sub(self.history as u64);
            let (server_epoch, placed) = (self.epoch, &self.placed);
            let Some(socket) = &mut self.socket else {
                return;
            };
            if epoch == server_epoch && last_seq <= seq && last_seq >= oldest {
                if last_seq < seq {
                    socket.in_flight.push_back(ServerMessage::Tiles {
                        first_seq: last_seq + 1,
                        tiles: placed[last_seq as usize..].to_vec(),
                    });
                }
            } else {
                socket.in_flight.push_back(ServerMessage::Resync {
                    seq,
                    epoch: server_epoch,
                });
            }
            socket.cursor = seq;
        }

        /// The placement of `seq` in `epoch`.
        fn placement(&self, epoch: u64, seq: u64) -> Option<Tile> {
            let placed = if epoch == self.epoch {
                &self.placed
            } else {
                &self.past.iter().find(|(e, _)| *e == epoch)?.1
            };
            placed.get(seq.checked_sub(1)? as usize).copied()
        }

        /// The history was lost: a new epoch from today's pixels.
        fn new_epoch(&mut self) {
            self.base = self.pixels_at(self.seq());
            self.past
                .push((self.epoch, std::mem::take(&mut self.placed)));
            self.epoch += 1;
            if let Some(socket) = &mut self.socket {
                socket.in_flight.push_back(ServerMessage::Resync {
                    seq: 0,
                    epoch: self.epoch,
                });
                socket.cursor = 0;
            }
        }
    }

    /// A client: the machine, its pixels, a snapshot request on its way.
    struct Client {
        sync: CanvasSync,
        pixels: Vec<u8>,
        fetching: bool,
    }

    impl Client {
        fn act(&mut self, server: &mut Server, actions: Vec<Action>) {
            for action in actions {
                match action {
                    Action::Apply { first_seq, tiles } => {
                        // Every tile applied is the one its seq names in
                        // the copy's epoch, at every moment, not only at
                        // the end.
                        let epoch = self.sync.copy().expect("applied onto a copy").epoch;
                        for (seq, tile) in (first_seq..).zip(tiles) {
                            assert_eq!(
                                server.placement(epoch, seq),
                                Some(tile),
                                "seq {seq} of epoch {epoch}"
                            );
                            self.pixels
                                [usize::from(tile.y) * usize::from(SIDE) + usize::from(tile.x)] =
                                tile.color;
                        }
                    }
                    Action::Send(ClientMessage::Resume { epoch, last_seq }) => {
                        server.resume(epoch, last_seq)
                    }
                    Action::Send(other) => panic!("sent {other:?}"),
                    Action::FetchSnapshot { .. } => self.fetching = true,
                }
            }
        }

        /// The snapshot, `stale` placements behind (a cache), arrives.
        fn snapshot(&mut self, server: &mut Server, stale: u64) {
            self.fetching = false;
            let seq = server.seq().saturating_sub(stale);
            let at = Version {
                epoch: server.epoch,
                seq,
            };
            if let Some(actions) = self.sync.loaded(at) {
                self.pixels = server.pixels_at(seq);
                self.act(server, actions);
            }
        }

        fn read(&mut self, server: &mut Server, frames: usize) {
            for _ in 0..frames {
                let Some(frame) = server.socket.as_mut().and_then(|s| s.in_flight.pop_front())
                else {
                    return;
                };
                let actions = self.sync.received(&frame);
                self.act(server, actions);
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Step {
        Place(u8),
        Flush(u8),
        Read(u8),
        Snapshot(u8),
        Reconnect,
        Disconnect,
        Resync,
        NewEpoch,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (1u8..6).prop_map(Step::Place),
            3 => (1u8..4).prop_map(Step::Flush),
            4 => (1u8..5).prop_map(Step::Read),
            2 => (0u8..6).prop_map(Step::Snapshot),
            1 => Just(Step::Reconnect),
            1 => Just(Step::Disconnect),
            1 => Just(Step::Resync),
            1 => Just(Step::NewEpoch),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever happens in between (placements, frames split or
        /// delayed, snapshots from a stale cache, disconnects, resyncs, a
        /// lost history), once things quieten the client's canvas equals
        /// the server's, byte for byte, at the server's seq.
        #[test]
        fn any_interleaving_ends_equal_to_the_server(
            steps in proptest::collection::vec(step(), 0..60),
            history in 1usize..12,
        ) {
            let area = usize::from(SIDE) * usize::from(SIDE);
            let mut server = Server {
                epoch: 1,
                base: vec![0; area],
                placed: Vec::new(),
                past: Vec::new(),
                history,
                socket: None,
            };
            let mut client = Client { sync: CanvasSync::new(), pixels: vec![0; area], fetching: false };
            let mut n = 0;
            server.connect();
            for step in steps {
                match step {
                    Step::Place(k) => {
                        for _ in 0..k {
                            n += 1;
                            server.placed.push(tile(n));
                        }
                    }
                    Step::Flush(pieces) => server.flush(u64::from(pieces)),
                    Step::Read(frames) => client.read(&mut server, usize::from(frames)),
                    Step::Snapshot(stale) if client.fetching => client.snapshot(&mut server, u64::from(stale)),
                    Step::Snapshot(_) => {}
                    Step::Disconnect if server.socket.is_some() => {
                        server.socket = None;
                        client.sync.disconnected();
                    }
                    Step::Disconnect => {}
                    Step::Reconnect => {
                        if server.socket.take().is_some() {
                            client.sync.disconnected();
                        }
                        server.connect();
                    }
                    Step::Resync => {
                        let (seq, epoch) = (server.seq(), server.epoch);
                        if let Some(socket) = &mut server.socket {
                            socket.in_flight.push_back(ServerMessage::Resync { seq, epoch });
                            socket.cursor = seq;
                        }
                    }
                    Step::NewEpoch => server.new_epoch(),
                }
            }
            // Quiet: connected, everything written and read, the snapshot in.
            if server.socket.is_none() {
                server.connect();
            }
            for _ in 0..20 {
                server.flush(1);
                client.read(&mut server, usize::MAX);
                if client.fetching {
                    client.snapshot(&mut server, 0);
                }
            }
            let quiet = server.socket.as_ref().is_some_and(|s| s.in_flight.is_empty());
            prop_assert!(quiet && !client.fetching, "still busy after the quiet rounds");
            prop_assert_eq!(client.sync.copy(), Some(Version { epoch: server.epoch, seq: server.seq() }));
            prop_assert_eq!(client.pixels, server.pixels_at(server.seq()));
        }
    }
}
