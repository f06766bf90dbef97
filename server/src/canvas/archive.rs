//! Time travel's archive: every `SNAPSHOT_INTERVAL_MS` one instance (the
//! one that takes the turn in the store first) saves the canvas as a PNG
//! with its seq and time, and the store keeps the newest `SNAPSHOT_KEEP`, in
//! at most `SNAPSHOT_KEEP_BYTES`.
//! A canvas served by chunk is archived by chunk instead (see
//! [`Archiver::archive_by_chunk`]).
//! They live in the store beside the canvas, not on a volume: every
//! instance can serve them, and backups carry them.

use super::{
    encode,
    mirror::{Mirror, PaintedChunk},
};
use crate::{
    backend::{ArchiveStore, StoreError},
    model::{ArchiveEntry, ArchiveKeep, ArchivedCanvas, ArchivedChunk},
};
use app::{
    chunk::{ChunkId, CHUNK_SIDE, WHOLE_CANVAS_MAX_AREA},
    geometry::CanvasSize,
};
use bytes::Bytes;
use std::{
    collections::HashMap,
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

    async fn archive_if_our_turn(&self) -> Result<(), StoreError> {
        if !self.store.archive_turn(self.interval).await? {
            return Ok(());
        }
        let newest = self.store.archived().await?.first().copied();
        if self.mirror.size().area() > WHOLE_CANVAS_MAX_AREA {
            return self.archive_by_chunk(newest).await;
        }
        let mirror = self.mirror.clone();
        let size = mirror.size();
        let (version, pixels) = tokio::task::spawn_blocking(move || mirror.copy())
            .await
            .unwrap_or_else(|_| self.mirror.copy());
        if version.seq == 0 || newest.is_some_and(|n| n.seq == version.seq) {
            return Ok(());
        }
        let png = tokio::task::spawn_blocking(move || encode::png(size, &pixels))
            .await
            .unwrap_or_default();
        self.store
            .archive(
                version.seq,
                SystemTime::now(),
                ArchivedCanvas::Whole(png.into()),
                self.keep,
            )
            .await?;
        tracing::info!(seq = version.seq, "archived the canvas");
        Ok(())
    }

    /// A canvas served by chunk is archived as its painted chunks: a PNG
    /// for each chunk that changed since the newest archived canvas, the
    /// others pointing at the PNG that one holds. A quiet interval on a
    /// canvas of 1,000 painted chunks costs a list, not 1,000 PNGs.
    async fn archive_by_chunk(&self, newest: Option<ArchiveEntry>) -> Result<(), StoreError> {
        let previous: HashMap<ChunkId, ArchivedChunk> = match newest {
            Some(entry) if entry.by_chunk => self
                .store
                .archived_chunks(entry.seq)
                .await?
                .unwrap_or_default()
                .into_iter()
                .map(|c| (c.chunk, c))
                .collect(),
            _ => HashMap::new(),
        };
        // Version 0 says "from before this epoch began", not "unchanged".
        let unchanged = move |previous: &HashMap<ChunkId, ArchivedChunk>, id, version| {
            version != 0 && previous.get(&id).is_some_and(|c| c.version == version)
        };
        let mirror = self.mirror.clone();
        let archived = tokio::task::spawn_blocking(move || {
            let (at, painted) = mirror.painted_chunks(|id, v| !unchanged(&previous, id, v));
            if at.seq == 0 || newest.is_some_and(|n| n.seq == at.seq) {
                return None;
            }
            let mut chunks = Vec::with_capacity(painted.len());
            let mut pngs = Vec::new();
            for PaintedChunk {
                chunk,
                version,
                pixels,
            } in painted
            {
                let stored_with = match pixels {
                    Some(pixels) => {
                        pngs.push((chunk, Bytes::from(encode::png(CHUNK_SIZE, &pixels))));
                        at.seq
                    }
                    None => previous[&chunk].stored_with,
                };
                chunks.push(ArchivedChunk {
                    chunk,
                    version,
                    stored_with,
                });
            }
            Some((at.seq, ArchivedCanvas::ByChunk { chunks, pngs }))
        })
        .await
        .ok()
        .flatten();
        let Some((seq, canvas)) = archived else {
            return Ok(());
        };
        self.store
            .archive(seq, SystemTime::now(), canvas, self.keep)
            .await?;
        tracing::info!(seq, "archived the canvas by chunk");
        Ok(())
    }
}

/// A chunk's size, as its PNG has it.
const CHUNK_SIZE: CanvasSize = CanvasSize {
    width: CHUNK_SIDE,
    height: CHUNK_SIDE,
};
