//! Time travel's archive: every `SNAPSHOT_INTERVAL_MS` one instance (the
//! one that takes the turn in the store first) saves the canvas as a PNG
//! with its seq and time, and the store keeps the newest `SNAPSHOT_KEEP`, in
//! at most `SNAPSHOT_KEEP_BYTES`.
//! They live in the store beside the canvas, not on a volume: every
//! instance can serve them, and backups carry them.

use super::{encode, mirror::Mirror};
use crate::{backend::ArchiveStore, model::ArchiveKeep};
use app::chunk::WHOLE_CANVAS_MAX_AREA;
use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};
use tokio_util::sync::CancellationToken;

pub struct Archiver {
    pub store: Arc<dyn ArchiveStore>,
    pub mirror: Arc<Mirror>,
    pub interval: Duration,
    pub keep: ArchiveKeep,
}

impl Archiver {
    /// Archives once per interval when it is this instance's turn, until
    /// `shutdown`. Nothing is archived for an interval in which the canvas
    /// did not change.
    pub async fn run(self, shutdown: CancellationToken) {
        if self.interval.is_zero() {
            return;
        }
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + self.interval, self.interval);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(error) = self.archive_if_our_turn().await {
                tracing::warn!(%error, "could not archive the canvas");
            }
        }
    }

    async fn archive_if_our_turn(&self) -> Result<(), crate::backend::StoreError> {
        if !self.store.archive_turn(self.interval).await? {
            return Ok(());
        }
        let mirror = self.mirror.clone();
        let size = mirror.size();
        if size.area() > WHOLE_CANVAS_MAX_AREA {
            return Ok(()); // archived whole, as a PNG: only a canvas sent whole
        }
        let (version, pixels) = tokio::task::spawn_blocking(move || mirror.copy())
            .await
            .unwrap_or_else(|_| self.mirror.copy());
        let newest = self.store.archived().await?.first().map(|(seq, _)| *seq);
        if version.seq == 0 || newest == Some(version.seq) {
            return Ok(());
        }
        let png = tokio::task::spawn_blocking(move || encode::png(size, &pixels))
            .await
            .unwrap_or_default();
        self.store
            .archive(version.seq, SystemTime::now(), png.into(), self.keep)
            .await?;
        tracing::info!(seq = version.seq, "archived the canvas");
        Ok(())
    }
}
