//! The sync task: the one place that moves the mirror forward.
//!
//! It applies batches from the feed strictly in seq order: a duplicate is
//! dropped, a gap is filled from the store's history, and when history cannot
//! bridge it (trimmed, or another epoch) the whole snapshot is reloaded and
//! this instance's sockets are told to `Resync`. Before catching up it checks
//! that the last tiles it applied are still the store's: after a failover to
//! a replica that had not received them, the same seqs carry other tiles (or
//! the store's newest seq is below them). Only that proof starts a new epoch,
//! which every instance and client must reload for; a history trimmed while
//! this instance lagged proves nothing, and only this instance reloads.
//!
//! Applied tiles go to the sockets as one `Tiles` frame per flush, and
//! flushes adapt to the load ([`Batching`]): a tile after a quiet spell goes
//! out at once; under load the tiles of one interval share a frame.

use super::{
    chat::ChatLog,
    fanout::{Fanout, Frame, TilesFrame},
    heat::Heat,
    mirror::{Mirror, Since, Version},
    watched::Watched,
    watchers::PHASES,
};
use crate::{
    backend::{CanvasStore, Feed, FeedEvent, History, StoreError},
    metrics::Metrics,
    model::{Batch, Update},
};
use app::{geometry::CanvasSize, protocol::Tile};
use futures_util::FutureExt;
use std::{
    collections::VecDeque,
    pin::pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Placements read from history per request while catching up.
const CATCH_UP_PAGE: usize = 10_000;
/// The last applied placements kept to check against the store's history.
const RECENT: usize = 16;
/// How often a failed catch-up is retried and readiness re-evaluated.
const RETRY_EVERY: Duration = Duration::from_millis(50);
/// How often a caught-up instance checks its version against the store's
/// anyway. Pub/Sub is at-most-once: a message lost while the feed sat on a
/// demoted master (the new epoch a failover started, the last tiles before
/// a quiet spell) would otherwise go unnoticed until the next placement,
/// and the instance's clients would wait for a version it never tells
/// them of. Two small history reads per instance per period.
const VERIFY_EVERY: Duration = Duration::from_secs(2);
/// Feed events taken in one go before the flush decision: a burst of
/// messages that arrived together goes out in one frame.
const DRAIN: usize = 256;

/// When applied tiles are sent to the sockets.
///
/// Writing one frame to every socket is the instance's main cost (each is a
/// write syscall and a TCP segment), so the wait between two frames is the
/// longest of:
/// - `interval` (`BATCH_INTERVAL_MS`): no socket gets more than one `Tiles`
///   frame per interval;
/// - the socket count over `frames_per_sec` (`FANOUT_FRAMES_PER_SEC`): the
///   instance writes at most that many socket-frames a second, so its CPU
///   stays bounded however many sockets it carries;
/// - while sockets fall behind (the machine is short of CPU, whatever the
///   cause), a stretch of that, grown each round they do and relaxed each
///   round they do not ([`Pacing`]).
///
/// While every socket watches chunks (a canvas served by chunk), the wait is
/// at least `view_interval` (`VIEW_INTERVAL_MS`), and the sockets get their
/// frames in [`PHASES`] groups spread over it, a group every eighth of it
/// with the tiles since its last frame, instead of all at once: the
/// instance writes at an even pace, and no socket's frame waits behind a
/// burst of thousands of others.
///
/// A tile that arrives when the last frame is older than the wait goes out
/// at once (to every socket); no tile waits longer than
/// [`Batching::MAX_INTERVAL`].
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub interval: Duration,
    pub frames_per_sec: u32,
    pub view_interval: Duration,
}

impl Batching {
    /// The longest any tile waits for its frame.
    pub const MAX_INTERVAL: Duration = Duration::from_secs(1);

    /// The wait between two frames for `sockets` listeners, unstretched;
    /// `phased` while they all watch chunks.
    pub fn base(&self, sockets: usize, phased: bool) -> Duration {
        let spread =
            Duration::from_secs_f64(sockets as f64 / f64::from(self.frames_per_sec.max(1)));
        let least = if phased {
            self.interval.max(self.view_interval)
        } else {
            self.interval
        };
        spread.max(least).min(Self::MAX_INTERVAL)
    }
}

/// How far the wait is stretched beyond [`Batching::base`] because sockets
/// could not keep up.
#[derive(Debug)]
struct Pacing {
    stretch: f64,
}

impl Pacing {
    /// Sockets behind in a round, as a share of all, that count as falling
    /// behind: a few slow clients must not slow everyone.
    const BEHIND_SHARE: f64 = 0.05;
    const GROW: f64 = 1.5;
    const RELAX: f64 = 0.9;

    fn new() -> Self {
        Self { stretch: 1.0 }
    }

    /// The wait before the next frame, given how many of `sockets` were
    /// found behind since the last one.
    fn interval(
        &mut self,
        batching: &Batching,
        sockets: usize,
        phased: bool,
        behind: u64,
    ) -> Duration {
        let base = batching.base(sockets, phased);
        if behind as f64 > sockets as f64 * Self::BEHIND_SHARE {
            let most = Batching::MAX_INTERVAL.as_secs_f64() / base.as_secs_f64().max(1e-3);
            self.stretch = (self.stretch * Self::GROW).min(most.max(1.0));
        } else {
            self.stretch = (self.stretch * Self::RELAX).max(1.0);
        }
        base.mul_f64(self.stretch).min(Batching::MAX_INTERVAL)
    }
}

/// When the next flush is due, and whom it wakes.
#[derive(Debug)]
struct Cadence {
    pacing: Pacing,
    /// The wait between two frames to one socket.
    interval: Duration,
    last_flush: Instant,
    /// While a round of phased wake-ups runs: the phase woken next.
    round: Option<usize>,
    /// Whether the last flush was phased.
    phased: bool,
}

impl Cadence {
    fn new(batching: &Batching) -> Self {
        Self {
            pacing: Pacing::new(),
            interval: batching.base(0, false),
            last_flush: Instant::now(),
            round: None,
            phased: false,
        }
    }

    /// When the tiles waiting go out: one interval after the last frame,
    /// or, while phased, an eighth of it (a flush that finds the last
    /// frame older than the interval sends to every phase at once).
    fn due(&self, phased: bool) -> Instant {
        if phased {
            self.last_flush + self.interval / PHASES as u32
        } else {
            self.last_flush + self.interval
        }
    }
}

pub struct SyncTask {
    pub store: Arc<dyn CanvasStore>,
    pub feed: Box<dyn Feed>,
    pub mirror: Arc<Mirror>,
    /// When each pixel was last placed, for the heatmap.
    pub heat: Arc<Heat>,
    pub fanout: Fanout,
    pub metrics: Arc<Metrics>,
    /// True while the feed is delivering and the mirror is current; read by
    /// `/readyz`.
    pub live: Arc<AtomicBool>,
    pub batching: Batching,
    /// Whether this canvas's seq is the instance's `canvas_feed_seq`: the
    /// default canvas's only, since an alert compares it across instances.
    pub reports_seq: bool,
    /// The chat messages the feed brings go here, and to every socket.
    pub chat: Arc<ChatLog>,
    /// The templates the server watches: each applied batch moves them.
    pub watched: Arc<Watched>,
}

/// What the task has applied and not yet sent, and what it applied last.
#[derive(Default)]
struct Applied {
    /// Tiles applied since the last frame went out: consecutive seqs.
    first_seq: u64,
    tiles: Vec<Tile>,
    /// When the oldest of them was accepted, if known.
    placed_at_ms: Option<u64>,
    /// The last few placements applied, oldest first.
    recent: VecDeque<Update>,
    /// While phased: what each phase of sockets was sent up to (the mirror
    /// keeps the tiles after it), and when the oldest tile it was not sent
    /// yet was accepted.
    phases: [(Version, Option<u64>); PHASES],
}

impl SyncTask {
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut applied = Applied {
            // No socket has a tile after the mirror's.
            phases: [(self.mirror.version(), None); PHASES],
            ..Applied::default()
        };
        let mut retry = tokio::time::interval(RETRY_EVERY);
        retry.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The next flush, while tiles wait for one.
        let mut flush_at: Option<Instant> = None;
        let mut cadence = Cadence::new(&self.batching);
        let mut flush_timer = pin!(tokio::time::sleep_until(cadence.last_flush));
        // Set when the mirror may be missing updates that could not be
        // fetched yet (the store was unreachable); retried every tick.
        let mut behind = true;
        // Set once the feed reports it is delivering; cleared while its
        // connection is down.
        let mut connected = false;
        let mut verified = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                event = self.feed.next() => {
                    let mut event = event;
                    for _ in 0..DRAIN {
                        match event {
                            Some(FeedEvent::Batch(batch)) => {
                                // After an interruption nothing is applied
                                // before the catch-up has checked that the
                                // store did not go back on what was applied
                                // (a failover reuses lost seqs, and their
                                // new tiles would look like duplicates).
                                if behind {
                                    match self.catch_up(&mut applied).await {
                                        Ok(()) => behind = false,
                                        Err(error) => tracing::warn!(%error, "catch-up failed; retrying"),
                                    }
                                }
                                // Still behind: a later catch-up brings this
                                // batch from history.
                                if !behind {
                                    if let Err(error) = self.on_batch(batch, &mut applied).await {
                                        tracing::warn!(%error, "could not fill a gap; retrying");
                                        behind = true;
                                    }
                                }
                            }
                            Some(FeedEvent::Delivering) => {
                                connected = true;
                            }
                            Some(FeedEvent::Interrupted) => {
                                self.metrics.feed.resubscriptions.inc();
                                self.chat.mark_stale();
                                self.watched.mark_stale();
                                behind = true;
                                connected = true;
                            }
                            Some(FeedEvent::Resized(size)) => self.grow(size),
                            Some(FeedEvent::Chat(event)) => self.chat.apply(event),
                            Some(FeedEvent::Watch(change)) => self.watched.on_change(change),
                            Some(FeedEvent::Disconnected) => {
                                connected = false;
                                self.live.store(false, Ordering::Relaxed);
                            }
                            None => {
                                tracing::error!("the update feed ended");
                                self.live.store(false, Ordering::Relaxed);
                                self.flush(&mut applied);
                                return;
                            }
                        }
                        // More events that are already there join this round.
                        match self.feed.next().now_or_never() {
                            Some(next) => event = next,
                            None => break,
                        }
                    }
                }
                _ = &mut flush_timer, if flush_at.is_some() => {
                    flush_at = None;
                    self.tick(&mut applied, &mut cadence);
                }
                _ = retry.tick() => {
                    if !behind && verified.elapsed() >= VERIFY_EVERY {
                        verified = Instant::now();
                        behind = true;
                    }
                    if behind {
                        match self.catch_up(&mut applied).await {
                            Ok(()) => behind = false,
                            Err(error) => tracing::warn!(%error, "catch-up failed; retrying"),
                        }
                    }
                    self.live.store(connected && !behind, Ordering::Relaxed);
                }
            }
            // Whatever waits (tiles applied, chat lines, tiles posted to
            // sockets not woken yet) goes out when due.
            if flush_at.is_none() && self.waiting(&applied) {
                let mut due = cadence.due(self.fanout.phased());
                if due <= Instant::now() {
                    self.tick(&mut applied, &mut cadence);
                    due = cadence.due(self.fanout.phased());
                }
                if self.waiting(&applied) {
                    flush_at = Some(due);
                    flush_timer.as_mut().reset(due);
                }
            }
        }
        self.flush(&mut applied);
    }

    /// Whether something waits to go out: tiles applied, chat lines, or
    /// tiles a phase of sockets was not sent yet.
    fn waiting(&self, applied: &Applied) -> bool {
        let version = self.mirror.version();
        !applied.tiles.is_empty()
            || self.chat.has_pending()
            || self.watched.has_pending()
            || applied.phases.iter().any(|(sent, _)| *sent != version)
    }

    /// A flush: the tiles applied go to the sockets. While every socket
    /// watches chunks, one phase of them gets its frame (every phase when
    /// the last frame is older than the interval, so that a tile after a
    /// quiet spell goes out at once).
    fn tick(&self, applied: &mut Applied, cadence: &mut Cadence) {
        let now = Instant::now();
        let phased = self.fanout.phased();
        let round_ends = if !phased {
            if cadence.phased {
                // A socket of the whole canvas joined sockets that took
                // turns: each phase first gets what it was not sent yet
                // (the flush's frames then reach everyone).
                for phase in 0..PHASES {
                    self.send_phase(applied, phase);
                }
            }
            self.flush(applied);
            true
        } else {
            self.chat.send_pending(&self.fanout);
            self.watched.send_pending(&self.fanout);
            // The phases read the tiles from the mirror.
            for (_, placed_at_ms) in &mut applied.phases {
                *placed_at_ms = placed_at_ms.or(applied.placed_at_ms);
            }
            applied.tiles.clear();
            let quiet = cadence.round.is_none() && now >= cadence.last_flush + cadence.interval;
            if quiet {
                for phase in 0..PHASES {
                    self.send_phase(applied, phase);
                }
                true
            } else {
                let phase = cadence.round.unwrap_or(0);
                self.send_phase(applied, phase);
                cadence.round = (phase + 1 < PHASES).then_some(phase + 1);
                cadence.round.is_none()
            }
        };
        cadence.last_flush = now;
        cadence.phased = phased;
        if round_ends {
            cadence.round = None;
            cadence.interval = self.pace(&mut cadence.pacing, phased);
        }
    }

    /// The wait before the frame after the one just sent.
    fn pace(&self, pacing: &mut Pacing, phased: bool) -> Duration {
        let sockets = self.fanout.sockets();
        let behind = self.fanout.take_behind();
        let interval = pacing.interval(&self.batching, sockets, phased, behind);
        self.metrics
            .sockets
            .batch_interval
            .set(interval.as_secs_f64());
        interval
    }

    async fn on_batch(&self, batch: Batch, applied: &mut Applied) -> Result<(), StoreError> {
        let current = self.mirror.version();
        if batch.epoch == current.epoch && batch.first_seq <= current.seq {
            // Seqs already applied must carry the tiles applied: other
            // tiles mean the store went back, which the catch-up settles.
            let contradicts = applied.recent.iter().any(|update| {
                update.seq >= batch.first_seq
                    && batch
                        .tiles
                        .get((update.seq - batch.first_seq) as usize)
                        .is_some_and(|tile| *tile != update.tile)
            });
            if contradicts {
                self.metrics.feed.gaps.inc();
                return self.catch_up(applied).await;
            }
        }
        if batch.epoch == current.epoch && batch.last_seq() <= current.seq {
            return Ok(()); // a duplicate
        }
        if batch.epoch == current.epoch && batch.first_seq <= current.seq + 1 {
            // Next in line (perhaps after a few duplicates).
            let skip = (current.seq + 1 - batch.first_seq) as usize;
            let placed_at_ms = batch.placed_at_ms;
            self.apply(
                current.seq + 1,
                &batch.tiles[skip..],
                placed_at_ms,
                batch.epoch,
                applied,
            );
            return Ok(());
        }
        // A gap, or another epoch: history decides what happens.
        self.metrics.feed.gaps.inc();
        self.catch_up(applied).await
    }

    /// Brings the mirror up to the store's newest seq from history, or
    /// reloads the snapshot when history cannot bridge the gap or no longer
    /// holds the tiles last applied.
    #[tracing::instrument(name = "catch_up", skip_all)]
    async fn catch_up(&self, applied: &mut Applied) -> Result<(), StoreError> {
        if let Some(oldest) = applied.recent.front() {
            let recent = applied.recent.len();
            let went_back = match self
                .store
                .history(oldest.epoch, oldest.seq - 1, recent)
                .await?
            {
                // Fewer than were applied: the newest seq is below them.
                History::Placements(history) => {
                    history.len() < recent || !history.iter().eq(applied.recent.iter())
                }
                History::WentBack => true,
                // Cannot be checked (trimmed), or already replaced: reload.
                History::Trimmed | History::OtherEpoch => false,
            };
            if went_back {
                tracing::warn!("the store went back on tiles this instance applied");
                self.store.start_new_epoch(oldest.epoch).await?;
                return self.reload(applied).await;
            }
        }
        loop {
            let Version { epoch, seq } = self.mirror.version();
            match self.store.history(epoch, seq, CATCH_UP_PAGE).await? {
                History::Placements(updates) => {
                    let complete = updates.len() < CATCH_UP_PAGE;
                    let tiles: Vec<Tile> = updates.iter().map(|u| u.tile).collect();
                    self.apply(seq + 1, &tiles, None, epoch, applied);
                    if complete {
                        return Ok(());
                    }
                }
                why => {
                    tracing::info!(?why, "history cannot bridge the gap");
                    return self.reload(applied).await;
                }
            }
        }
    }

    /// The moderators enlarged the canvas: the mirror, the heat and every
    /// socket follow.
    fn grow(&self, size: CanvasSize) {
        if self.mirror.grow(size) {
            let size = self.mirror.size();
            tracing::info!(width = size.width, height = size.height, "the canvas grew");
            self.heat.resize(size);
            self.fanout.send(Frame::Resize);
        }
    }

    #[tracing::instrument(name = "reload", skip_all)]
    async fn reload(&self, applied: &mut Applied) -> Result<(), StoreError> {
        let snapshot = self.store.snapshot().await?;
        self.flush(applied);
        if let Some(size) = snapshot.size {
            self.grow(size);
        }
        self.mirror.replace(snapshot);
        self.watched.mark_stale();
        applied.recent.clear();
        if let Err(error) = super::mirror::warm(&self.mirror, &*self.store).await {
            tracing::warn!(%error, "cannot recall the recent tiles");
        }
        let version = self.mirror.version();
        tracing::info!(
            epoch = version.epoch,
            seq = version.seq,
            "reloaded the canvas from the store"
        );
        self.metrics.feed.reloads.inc();
        if self.reports_seq {
            self.metrics.feed.seq.set(version.seq as i64);
        }
        applied.phases = [(version, None); PHASES];
        self.fanout.send(Frame::resync(version));
        Ok(())
    }

    /// Applies consecutive tiles from `first_seq` (the one after the
    /// mirror's) to the mirror and queues them for the next frame.
    fn apply(
        &self,
        first_seq: u64,
        tiles: &[Tile],
        placed_at_ms: Option<u64>,
        epoch: u64,
        applied: &mut Applied,
    ) {
        if tiles.is_empty() {
            return;
        }
        self.mirror.apply(tiles);
        // Tiles of a catch-up carry no time: they were placed about now.
        let at_ms = placed_at_ms.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64)
        });
        self.heat.record(tiles, at_ms);
        self.watched.record(epoch, first_seq, tiles);
        if applied.tiles.is_empty() {
            applied.first_seq = first_seq;
            applied.placed_at_ms = placed_at_ms;
        }
        applied.tiles.extend_from_slice(tiles);
        let recent_from = tiles.len().saturating_sub(RECENT);
        for (seq, tile) in (first_seq..).zip(tiles).skip(recent_from) {
            if applied.recent.len() == RECENT {
                applied.recent.pop_front();
            }
            applied.recent.push_back(Update {
                epoch,
                seq,
                tile: *tile,
            });
        }
        let last_seq = first_seq + tiles.len() as u64 - 1;
        tracing::debug!(epoch, first_seq, last_seq, "applied tiles");
        if self.reports_seq {
            self.metrics.feed.seq.set(last_seq as i64);
        }
    }

    /// Hands the tiles applied, and the chat's frames, to every socket.
    fn flush(&self, applied: &mut Applied) {
        self.chat.send_pending(&self.fanout);
        self.watched.send_pending(&self.fanout);
        // Every phase has everything now.
        let version = self.mirror.version();
        applied.phases = [(version, None); PHASES];
        if applied.tiles.is_empty() {
            return;
        }
        for frame in TilesFrame::encode(applied.first_seq, &applied.tiles, applied.placed_at_ms) {
            self.fanout.send(Frame::Tiles(frame));
        }
        applied.tiles.clear();
    }

    /// Sends one phase of the sockets that watch chunks the tiles after
    /// what it was last sent, read from the mirror.
    fn send_phase(&self, applied: &mut Applied, phase: usize) {
        let version = self.mirror.version();
        let (sent, placed_at_ms) = std::mem::replace(&mut applied.phases[phase], (version, None));
        if sent.epoch != version.epoch {
            return; // a reload sent every socket `Resync`
        }
        match self.mirror.since(sent.epoch, sent.seq) {
            Since::Current => {}
            Since::Tiles { first_seq, tiles } => {
                for frame in TilesFrame::encode(first_seq, &tiles, placed_at_ms) {
                    self.fanout.send_phase(Frame::Tiles(frame), phase);
                }
            }
            // More tiles in one interval than the mirror remembers.
            Since::Gone => {
                self.fanout.send(Frame::resync(version));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Chunks, Snapshot};
    use async_trait::async_trait;
    use std::sync::Mutex;
    use tokio::sync::{broadcast, mpsc};

    const SIDE: u16 = 8;

    fn tile(n: u64) -> Tile {
        Tile {
            x: (n % 8) as u16,
            y: ((n / 8) % 8) as u16,
            color: (n % 31 + 1) as u8,
        }
    }

    /// A store whose history the test shapes: what it placed in its epoch,
    /// from which seq on it still remembers, and whether a failover made it
    /// forget the last placements.
    struct FakeStore(Mutex<StoreState>);

    struct StoreState {
        epoch: u64,
        placed: Vec<Tile>,
        /// History holds the placements after this seq.
        trimmed_to: u64,
        new_epochs: u32,
    }

    impl FakeStore {
        fn new(epoch: u64) -> Arc<Self> {
            Arc::new(Self(Mutex::new(StoreState {
                epoch,
                placed: Vec::new(),
                trimmed_to: 0,
                new_epochs: 0,
            })))
        }

        fn state(&self) -> std::sync::MutexGuard<'_, StoreState> {
            self.0.lock().unwrap()
        }

        /// Places `n` tiles; returns them as the batch the feed would carry.
        fn place(&self, n: u64) -> Batch {
            let mut state = self.state();
            let first_seq = state.placed.len() as u64 + 1;
            let tiles: Vec<Tile> = (first_seq..first_seq + n).map(tile).collect();
            state.placed.extend(&tiles);
            Batch {
                epoch: state.epoch,
                first_seq,
                tiles,
                placed_at_ms: None,
            }
        }

        fn pixels(&self) -> Vec<u8> {
            let mut pixels = vec![0; usize::from(SIDE) * usize::from(SIDE)];
            for t in &self.state().placed {
                pixels[usize::from(t.y) * usize::from(SIDE) + usize::from(t.x)] = t.color;
            }
            pixels
        }
    }

    #[async_trait]
    impl CanvasStore for FakeStore {
        async fn snapshot(&self) -> Result<Snapshot, StoreError> {
            let pixels = self.pixels();
            let state = self.state();
            let size = CanvasSize {
                width: SIDE,
                height: SIDE,
            };
            Ok(Snapshot {
                epoch: state.epoch,
                seq: state.placed.len() as u64,
                size: None,
                chunks: Chunks::from_dense(size, &pixels, 0),
            })
        }

        async fn history(
            &self,
            epoch: u64,
            after_seq: u64,
            limit: usize,
        ) -> Result<History, StoreError> {
            let state = self.state();
            let newest = state.placed.len() as u64;
            if epoch != state.epoch {
                return Ok(History::OtherEpoch);
            }
            if after_seq > newest {
                return Ok(History::WentBack);
            }
            if after_seq < state.trimmed_to {
                return Ok(History::Trimmed);
            }
            Ok(History::Placements(
                (after_seq + 1..=newest)
                    .take(limit)
                    .map(|seq| Update {
                        epoch,
                        seq,
                        tile: state.placed[seq as usize - 1],
                    })
                    .collect(),
            ))
        }

        async fn start_new_epoch(&self, stale: u64) -> Result<(), StoreError> {
            let mut state = self.state();
            if state.epoch == stale {
                state.epoch += 1;
                state.new_epochs += 1;
            }
            Ok(())
        }
    }

    /// A feed the test writes to.
    struct ChannelFeed(mpsc::UnboundedReceiver<FeedEvent>);

    #[async_trait]
    impl Feed for ChannelFeed {
        async fn next(&mut self) -> Option<FeedEvent> {
            self.0.recv().await
        }
    }

    /// A running sync task over a fake store, and what it sends.
    struct Running {
        store: Arc<FakeStore>,
        mirror: Arc<Mirror>,
        metrics: Arc<Metrics>,
        feed: mpsc::UnboundedSender<FeedEvent>,
        frames: broadcast::Receiver<Frame>,
        _stop: tokio_util::sync::DropGuard,
    }

    fn start(store: Arc<FakeStore>) -> Running {
        let fanout = Fanout::new(64);
        let frames = fanout.subscribe();
        let batching = Batching {
            interval: Duration::from_millis(1),
            frames_per_sec: 1_000_000,
            view_interval: Duration::ZERO,
        };
        let (mirror, metrics, feed, stop) = spawn(store.clone(), fanout, batching);
        Running {
            store,
            mirror,
            metrics,
            feed,
            frames,
            _stop: stop,
        }
    }

    /// A sync task over `store` sending to `fanout`, started and told the
    /// feed is delivering.
    fn spawn(
        store: Arc<FakeStore>,
        fanout: Fanout,
        batching: Batching,
    ) -> (
        Arc<Mirror>,
        Arc<Metrics>,
        mpsc::UnboundedSender<FeedEvent>,
        tokio_util::sync::DropGuard,
    ) {
        let size = CanvasSize {
            width: SIDE,
            height: SIDE,
        };
        let snapshot = Snapshot {
            epoch: store.state().epoch,
            seq: 0,
            size: None,
            chunks: Chunks::new(),
        };
        let mirror = Arc::new(Mirror::new(size, snapshot, 1024));
        let metrics = Arc::new(Metrics::new());
        let (feed, events) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let task = SyncTask {
            store,
            feed: Box::new(ChannelFeed(events)),
            mirror: mirror.clone(),
            heat: Arc::new(Heat::new(size)),
            fanout,
            metrics: metrics.clone(),
            live: Arc::new(AtomicBool::new(false)),
            batching,
            reports_seq: true,
            chat: Arc::new(ChatLog::new()),
            watched: Arc::default(),
        };
        tokio::spawn(task.run(shutdown.clone()));
        feed.send(FeedEvent::Delivering).unwrap();
        (mirror, metrics, feed, shutdown.drop_guard())
    }

    impl Running {
        /// Waits until the mirror holds `epoch` and `seq`, and checks its
        /// pixels are the store's.
        async fn settles_at(&self, epoch: u64, seq: u64) {
            let wanted = Version { epoch, seq };
            let start = Instant::now();
            while self.mirror.version() != wanted {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "stuck at {:?}, waiting for {wanted:?}",
                    self.mirror.version()
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            assert_eq!(self.mirror.copy().1, self.store.pixels());
        }

        /// The frames sent until one carries `last_seq`: the seqs of the
        /// tiles, and the Resyncs. Waits for the frames themselves (their
        /// flush is paced), not for a fixed time.
        async fn sent_through(&mut self, last_seq: u64) -> (Vec<u64>, Vec<Version>) {
            let (mut seqs, mut resyncs) = (Vec::new(), Vec::new());
            while seqs.last() != Some(&last_seq) {
                let frame = tokio::time::timeout(Duration::from_secs(5), self.frames.recv())
                    .await
                    .unwrap_or_else(|_| panic!("no frame up to {last_seq}; sent {seqs:?}"))
                    .expect("the fan-out is open");
                match frame {
                    Frame::Tiles(t) => seqs.extend(t.first_seq..=t.last_seq),
                    Frame::Resync { version, .. } => resyncs.push(version),
                    Frame::Presence(_)
                    | Frame::Frozen(_)
                    | Frame::Resize
                    | Frame::Chat(_)
                    | Frame::FactionChat { .. } => {}
                }
            }
            (seqs, resyncs)
        }

        /// The frames sent so far: the seqs of the tiles, and the Resyncs.
        fn sent(&mut self) -> (Vec<u64>, Vec<Version>) {
            let (mut seqs, mut resyncs) = (Vec::new(), Vec::new());
            while let Ok(frame) = self.frames.try_recv() {
                match frame {
                    Frame::Tiles(t) => seqs.extend(t.first_seq..=t.last_seq),
                    Frame::Resync { version, .. } => resyncs.push(version),
                    Frame::Presence(_)
                    | Frame::Frozen(_)
                    | Frame::Resize
                    | Frame::Chat(_)
                    | Frame::FactionChat { .. } => {}
                }
            }
            (seqs, resyncs)
        }
    }

    #[tokio::test]
    async fn duplicates_are_dropped_and_each_seq_sent_once() {
        let mut sync = start(FakeStore::new(7));
        let batch = sync.store.place(3);
        sync.feed.send(FeedEvent::Batch(batch.clone())).unwrap();
        sync.feed.send(FeedEvent::Batch(batch)).unwrap();
        let more = sync.store.place(2);
        sync.feed.send(FeedEvent::Batch(more)).unwrap();
        sync.settles_at(7, 5).await;
        // (A duplicate would have gone out before the tiles that follow it.)
        assert_eq!(sync.sent_through(5).await, (vec![1, 2, 3, 4, 5], vec![]));
    }

    #[tokio::test]
    async fn a_gap_is_filled_from_history() {
        let mut sync = start(FakeStore::new(7));
        let first = sync.store.place(2);
        sync.feed.send(FeedEvent::Batch(first)).unwrap();
        sync.settles_at(7, 2).await;
        let _lost = sync.store.place(2);
        let after = sync.store.place(2);
        sync.feed.send(FeedEvent::Batch(after)).unwrap();
        sync.settles_at(7, 6).await;
        assert_eq!(sync.sent_through(6).await, ((1..=6).collect(), vec![]));
        assert_eq!(sync.metrics.feed.gaps.get(), 1);
    }

    #[tokio::test]
    async fn past_the_trimmed_history_the_snapshot_is_reloaded() {
        let mut sync = start(FakeStore::new(7));
        sync.store.place(10);
        sync.store.state().trimmed_to = 8;
        let next = sync.store.place(1);
        sync.feed.send(FeedEvent::Batch(next)).unwrap();
        sync.settles_at(7, 11).await;
        let (_, resyncs) = sync.sent();
        assert_eq!(resyncs, [Version { epoch: 7, seq: 11 }]);
        assert_eq!(sync.metrics.feed.reloads.get(), 1);
        assert_eq!(sync.store.state().new_epochs, 0, "trimmed is not lost");
    }

    #[tokio::test]
    async fn another_epoch_reloads() {
        let mut sync = start(FakeStore::new(7));
        let batch = sync.store.place(2);
        sync.feed.send(FeedEvent::Batch(batch)).unwrap();
        sync.settles_at(7, 2).await;
        // The canvas was reset elsewhere: a new epoch, seqs from 1 again.
        {
            let mut state = sync.store.state();
            state.epoch = 9;
            state.placed.clear();
        }
        let batch = sync.store.place(1);
        sync.feed.send(FeedEvent::Batch(batch)).unwrap();
        sync.settles_at(9, 1).await;
        let (_, resyncs) = sync.sent();
        assert_eq!(resyncs, [Version { epoch: 9, seq: 1 }]);
    }

    #[tokio::test]
    async fn a_store_that_went_back_on_applied_tiles_starts_a_new_epoch() {
        let mut sync = start(FakeStore::new(7));
        let batch = sync.store.place(5);
        sync.feed.send(FeedEvent::Batch(batch)).unwrap();
        sync.settles_at(7, 5).await;
        // A failover to a replica that had only seqs 1..=3: the next
        // placements reuse 4 and 5 for other tiles.
        {
            let mut state = sync.store.state();
            state.placed.truncate(3);
            state.placed.extend([tile(40), tile(41)]);
        }
        sync.feed.send(FeedEvent::Interrupted).unwrap();
        sync.settles_at(8, 5).await;
        assert_eq!(sync.store.state().new_epochs, 1);
        let (_, resyncs) = sync.sent();
        assert_eq!(resyncs, [Version { epoch: 8, seq: 5 }]);
    }

    #[tokio::test]
    async fn a_lagging_instance_past_the_trimmed_history_reloads_alone() {
        let mut sync = start(FakeStore::new(7));
        let batch = sync.store.place(5);
        sync.feed.send(FeedEvent::Batch(batch)).unwrap();
        sync.settles_at(7, 5).await;
        // The feed lost messages while the store moved on and trimmed its
        // history past every tile this instance applied.
        sync.store.place(20);
        sync.store.state().trimmed_to = 20;
        let next = sync.store.place(1);
        sync.feed.send(FeedEvent::Batch(next)).unwrap();
        sync.settles_at(7, 26).await;
        assert_eq!(sync.store.state().new_epochs, 0, "trimmed is not lost");
        let (_, resyncs) = sync.sent();
        assert_eq!(resyncs, [Version { epoch: 7, seq: 26 }]);
    }

    #[tokio::test]
    async fn a_store_whose_newest_seq_is_below_the_applied_starts_a_new_epoch() {
        let sync = start(FakeStore::new(7));
        let batch = sync.store.place(5);
        sync.feed.send(FeedEvent::Batch(batch)).unwrap();
        sync.settles_at(7, 5).await;
        // A failover to a replica that had only seqs 1..=3, and nothing
        // placed since.
        sync.store.state().placed.truncate(3);
        sync.feed.send(FeedEvent::Interrupted).unwrap();
        sync.settles_at(8, 3).await;
        assert_eq!(sync.store.state().new_epochs, 1);
    }

    /// A failover to a replica that had seqs 1..=3 only, and placements
    /// since that reuse seqs 4 and 5 for other tiles.
    fn went_back_and_reused(sync: &Running) -> Batch {
        let mut state = sync.store.state();
        state.placed.truncate(3);
        let reused: Vec<Tile> = (100..103).map(tile).collect();
        state.placed.extend(&reused);
        Batch {
            epoch: state.epoch,
            first_seq: 4,
            tiles: reused,
            placed_at_ms: None,
        }
    }

    #[tokio::test]
    async fn reused_seqs_after_an_interruption_start_a_new_epoch_before_anything_applies() {
        let mut sync = start(FakeStore::new(7));
        let batch = sync.store.place(5);
        sync.feed.send(FeedEvent::Batch(batch)).unwrap();
        sync.settles_at(7, 5).await;
        let reused = went_back_and_reused(&sync);
        // The resubscribed feed delivers the next seq at once; the reused
        // ones went out while it was away.
        let next = Batch {
            first_seq: 6,
            tiles: reused.tiles[2..].to_vec(),
            ..reused
        };
        sync.feed.send(FeedEvent::Interrupted).unwrap();
        sync.feed.send(FeedEvent::Batch(next)).unwrap();
        sync.settles_at(8, 6).await;
        assert_eq!(sync.store.state().new_epochs, 1);
        let (seqs, resyncs) = sync.sent();
        assert_eq!(
            seqs,
            [1, 2, 3, 4, 5],
            "nothing of the reused seqs sent as tiles"
        );
        assert_eq!(resyncs, [Version { epoch: 8, seq: 6 }]);
    }

    #[tokio::test]
    async fn a_duplicate_with_other_tiles_starts_a_new_epoch() {
        let sync = start(FakeStore::new(7));
        let batch = sync.store.place(5);
        sync.feed.send(FeedEvent::Batch(batch)).unwrap();
        sync.settles_at(7, 5).await;
        // No interruption seen: only the tiles tell.
        let reused = went_back_and_reused(&sync);
        sync.feed.send(FeedEvent::Batch(reused)).unwrap();
        sync.settles_at(8, 6).await;
        assert_eq!(sync.store.state().new_epochs, 1);
    }

    /// `count` sockets watching the canvas's one chunk, each taking its
    /// frames as they come until `done`: the seqs of each frame of tiles.
    fn collecting_watchers(
        fanout: &Fanout,
        count: usize,
        done: &CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<Vec<(u64, u64)>>> {
        (0..count)
            .map(|_| {
                let watching = fanout.watch();
                watching.watch(&[], &[app::chunk::ChunkId { cx: 0, cy: 0 }]);
                let done = done.clone();
                tokio::spawn(async move {
                    let mut frames = Vec::new();
                    loop {
                        let last = tokio::select! {
                            _ = watching.ready() => false,
                            _ = done.cancelled() => true,
                        };
                        frames.extend(watching.take().frames.into_iter().filter_map(|frame| {
                            match frame {
                                Frame::Tiles(tiles) => Some((tiles.first_seq, tiles.last_seq)),
                                _ => None,
                            }
                        }));
                        if last {
                            return frames;
                        }
                    }
                })
            })
            .collect()
    }

    /// Places a tile every 4 ms for `duration` (the canvas never goes
    /// quiet); returns how many.
    async fn place_for(
        store: &FakeStore,
        feed: &mpsc::UnboundedSender<FeedEvent>,
        duration: Duration,
    ) -> u64 {
        let started = Instant::now();
        let mut placed = 0;
        while started.elapsed() < duration {
            feed.send(FeedEvent::Batch(store.place(1))).unwrap();
            placed += 1;
            tokio::time::sleep(Duration::from_millis(4)).await;
        }
        placed
    }

    #[tokio::test]
    async fn sockets_that_watch_chunks_take_turns_and_each_gets_every_tile_once() {
        use crate::canvas::watchers::PHASES;
        let store = FakeStore::new(7);
        let fanout = Fanout::new(1024);
        // Two sockets per phase.
        let done = CancellationToken::new();
        let sockets = collecting_watchers(&fanout, 2 * PHASES, &done);
        let view_interval = Duration::from_millis(80);
        let batching = Batching {
            interval: Duration::from_millis(1),
            frames_per_sec: 1_000_000,
            view_interval,
        };
        let (mirror, _metrics, feed, _stop) = spawn(store.clone(), fanout, batching);
        let started = Instant::now();
        let placed = place_for(&store, &feed, Duration::from_millis(600)).await;
        let elapsed = started.elapsed();
        while mirror.version().seq < placed {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Every phase is sent what is left within one interval.
        tokio::time::sleep(view_interval * 2).await;
        done.cancel();
        let (mut first_frames, mut second_frames) = (Vec::new(), Vec::new());
        for (slot, socket) in sockets.into_iter().enumerate() {
            let frames = socket.await.unwrap();
            // Consecutive from seq 1 to the last: no tile missed, none twice.
            let mut next = 1;
            for &(first, last) in &frames {
                assert_eq!(first, next, "socket {slot}: {frames:?}");
                next = last + 1;
            }
            assert_eq!(next, placed + 1, "socket {slot}: {frames:?}");
            // About one frame per interval (a few more where a stall made the
            // canvas look quiet), not one per flush.
            let most = (elapsed.as_secs_f64() / view_interval.as_secs_f64()).ceil() as usize + 4;
            assert!(
                frames.len() <= most,
                "socket {slot}: {} frames",
                frames.len()
            );
            // The first tiles came after a quiet spell: they went to
            // everyone at once. The frames after them are the phases' own.
            first_frames.push(frames[0]);
            second_frames.push(frames[1]);
        }
        // A collector the OS kept off the core for a few milliseconds finds
        // the next tile merged into its first frame, so the first frames may
        // differ by a tile or two; a socket that waited for its phase would
        // be behind by up to the seven other phases' share of an interval
        // (about 17 tiles here).
        let ends = first_frames.iter().map(|(_, last)| *last);
        let spread = ends.clone().max().unwrap() - ends.min().unwrap();
        assert!(spread <= 3, "{first_frames:?}");
        // The two sockets of a phase get the same frames; the phases, frames
        // cut at other moments.
        for phase in 0..PHASES {
            assert_eq!(second_frames[phase], second_frames[phase + PHASES]);
        }
        let mut cuts: Vec<u64> = second_frames.iter().map(|(_, last)| *last).collect();
        cuts.sort_unstable();
        cuts.dedup();
        assert!(
            cuts.len() > PHASES / 2,
            "the phases were sent together: {second_frames:?}"
        );
    }

    #[tokio::test]
    async fn sockets_that_took_turns_miss_nothing_when_a_whole_canvas_socket_joins() {
        use crate::canvas::watchers::PHASES;
        let store = FakeStore::new(7);
        let fanout = Fanout::new(1024);
        let done = CancellationToken::new();
        let sockets = collecting_watchers(&fanout, PHASES, &done);
        let batching = Batching {
            interval: Duration::from_millis(1),
            frames_per_sec: 1_000_000,
            view_interval: Duration::from_millis(80),
        };
        let (mirror, _metrics, feed, _stop) = spawn(store.clone(), fanout.clone(), batching);
        let mut placed = place_for(&store, &feed, Duration::from_millis(300)).await;
        // From now on every flush goes to everyone at once.
        let _whole = fanout.subscribe();
        placed += place_for(&store, &feed, Duration::from_millis(100)).await;
        while mirror.version().seq < placed {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        done.cancel();
        for (slot, socket) in sockets.into_iter().enumerate() {
            let frames = socket.await.unwrap();
            // Every seq from 1 to the last, in frames that may overlap (a
            // socket's outbox drops what it has) but leave no gap.
            let mut next = 1;
            for &(first, last) in &frames {
                assert!(
                    first <= next,
                    "socket {slot}: a gap before {first}: {frames:?}"
                );
                next = next.max(last + 1);
            }
            assert_eq!(next, placed + 1, "socket {slot}: {frames:?}");
        }
    }

    #[test]
    fn the_interval_grows_with_the_sockets_within_its_bounds() {
        let batching = Batching {
            interval: Duration::from_millis(10),
            frames_per_sec: 100_000,
            view_interval: Duration::from_millis(250),
        };
        assert_eq!(batching.base(0, false), Duration::from_millis(10));
        assert_eq!(batching.base(3_000, false), Duration::from_millis(30));
        assert_eq!(batching.base(10_000_000, false), Batching::MAX_INTERVAL);
        // Sockets that watch chunks get at most four frames a second.
        assert_eq!(batching.base(3_000, true), Duration::from_millis(250));
        assert_eq!(batching.base(30_000, true), Duration::from_millis(300));
    }

    #[test]
    fn the_interval_stretches_while_sockets_fall_behind_and_relaxes_after() {
        let batching = Batching {
            interval: Duration::from_millis(10),
            frames_per_sec: 100_000,
            view_interval: Duration::ZERO,
        };
        let mut pacing = Pacing::new();
        // One slow socket in a hundred is not the machine falling behind.
        assert_eq!(
            pacing.interval(&batching, 100, false, 1),
            Duration::from_millis(10)
        );
        let mut interval = Duration::ZERO;
        for _ in 0..3 {
            interval = pacing.interval(&batching, 100, false, 50);
        }
        assert!(interval >= Duration::from_millis(33), "{interval:?}");
        for _ in 0..100 {
            interval = pacing.interval(&batching, 100, false, 50);
        }
        assert_eq!(interval, Batching::MAX_INTERVAL);
        for _ in 0..100 {
            interval = pacing.interval(&batching, 100, false, 0);
        }
        assert_eq!(interval, Duration::from_millis(10));
    }
}
