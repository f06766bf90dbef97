//! The sync task: the one place that moves the mirror forward.
//!
//! It applies updates from the feed strictly in seq order: a duplicate is
//! dropped, a gap is filled from the store's history, and when history cannot
//! bridge it (trimmed, or another epoch) the whole snapshot is reloaded and
//! every socket is told to `Resync`. Before catching up it checks that the
//! last tiles it applied are still the store's: after a failover to a replica
//! that had not received them, the same seqs carry other tiles, and only a
//! reload is right. Applied tiles are gathered and sent as one `Tiles` frame
//! per batch interval.

use super::{
    fanout::{Fanout, Frame},
    mirror::{Mirror, Version},
    Update,
};
use crate::{
    feed::{Feed, FeedEvent},
    metrics::Metrics,
    store::{Store, StoreError},
};
use app::protocol::{ServerMessage, Tile};
use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Placements read from history per request while catching up.
const CATCH_UP_PAGE: usize = 10_000;
/// The last applied placements kept to check against the store's history.
const RECENT: usize = 16;

pub struct SyncTask {
    pub store: Arc<dyn Store>,
    pub feed: Box<dyn Feed>,
    pub mirror: Arc<Mirror>,
    pub fanout: Fanout,
    pub metrics: Arc<Metrics>,
    /// True while the feed is delivering and the mirror is current; read by
    /// `/readyz`.
    pub live: Arc<AtomicBool>,
    pub batch_interval: Duration,
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
}

impl SyncTask {
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut applied = Applied::default();
        let mut tick = tokio::time::interval(self.batch_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Set when the mirror may be missing updates that could not be
        // fetched yet (the store was unreachable); retried every tick.
        let mut behind = true;
        // Set once the feed reports it is delivering; cleared while its
        // connection is down.
        let mut connected = false;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                event = self.feed.next() => match event {
                    Some(FeedEvent::Update(update)) => {
                        if let Err(error) = self.on_update(update, &mut applied).await {
                            tracing::warn!(%error, "could not fill a gap; retrying");
                            behind = true;
                        }
                    }
                    Some(FeedEvent::Interrupted) => {
                        self.metrics.feed_resubscriptions.inc();
                        behind = true;
                        connected = true;
                    }
                    Some(FeedEvent::Disconnected) => {
                        connected = false;
                        self.live.store(false, Ordering::Relaxed);
                    }
                    None => {
                        tracing::error!("the update feed ended");
                        self.live.store(false, Ordering::Relaxed);
                        break;
                    }
                },
                _ = tick.tick() => {
                    if behind {
                        match self.catch_up(&mut applied).await {
                            Ok(()) => behind = false,
                            Err(error) => tracing::warn!(%error, "catch-up failed; retrying"),
                        }
                    }
                    self.live.store(connected && !behind, Ordering::Relaxed);
                    self.flush(&mut applied);
                }
            }
        }
        self.flush(&mut applied);
    }

    async fn on_update(&self, update: Update, applied: &mut Applied) -> Result<(), StoreError> {
        let current = self.mirror.version();
        if update.epoch == current.epoch && update.seq <= current.seq {
            return Ok(()); // a duplicate
        }
        if update.epoch == current.epoch && update.seq == current.seq + 1 {
            self.apply(update, applied);
            return Ok(());
        }
        // A gap, or another epoch: history decides what happens.
        self.metrics.feed_gaps.inc();
        self.catch_up(applied).await
    }

    /// Brings the mirror up to the store's newest seq from history, or
    /// reloads the snapshot when history cannot bridge the gap or no longer
    /// holds the tiles last applied.
    async fn catch_up(&self, applied: &mut Applied) -> Result<(), StoreError> {
        if let Some(oldest) = applied.recent.front() {
            let still_there = self
                .store
                .history(oldest.epoch, oldest.seq - 1, applied.recent.len())
                .await?
                .is_some_and(|history| {
                    // The same placements: epoch, seq and tile (the time of
                    // acceptance is not kept in history).
                    let key = |u: &Update| (u.epoch, u.seq, u.tile);
                    history.iter().map(key).eq(applied.recent.iter().map(key))
                });
            if !still_there {
                tracing::warn!("the store no longer holds the last tiles applied");
                self.store.start_new_epoch(oldest.epoch).await?;
                return self.reload(applied).await;
            }
        }
        loop {
            let Version { epoch, seq } = self.mirror.version();
            match self.store.history(epoch, seq, CATCH_UP_PAGE).await? {
                Some(updates) => {
                    let complete = updates.len() < CATCH_UP_PAGE;
                    for update in updates {
                        self.apply(update, applied);
                    }
                    if complete {
                        return Ok(());
                    }
                }
                None => return self.reload(applied).await,
            }
        }
    }

    async fn reload(&self, applied: &mut Applied) -> Result<(), StoreError> {
        let snapshot = self.store.snapshot().await?;
        self.flush(applied);
        self.mirror.replace(snapshot);
        let Version { epoch, seq } = self.mirror.version();
        tracing::info!(epoch, seq, "reloaded the canvas from the store");
        self.metrics.feed_reloads.inc();
        self.metrics.feed_seq.set(seq as i64);
        self.fanout
            .send(Frame::message(&ServerMessage::Resync { seq, epoch }));
        Ok(())
    }

    fn apply(&self, update: Update, applied: &mut Applied) {
        self.mirror.apply(update.seq, update.tile);
        if applied.tiles.is_empty() {
            applied.first_seq = update.seq;
            applied.placed_at_ms = update.placed_at_ms;
        }
        applied.tiles.push(update.tile);
        if applied.recent.len() == RECENT {
            applied.recent.pop_front();
        }
        applied.recent.push_back(update);
        self.metrics.feed_seq.set(update.seq as i64);
    }

    fn flush(&self, applied: &mut Applied) {
        if applied.tiles.is_empty() {
            return;
        }
        for frame in Frame::tiles(applied.first_seq, &applied.tiles, applied.placed_at_ms) {
            self.fanout.send(frame);
        }
        applied.tiles.clear();
    }
}
