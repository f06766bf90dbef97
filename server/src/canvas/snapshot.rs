//! The canvas as HTTP serves it: the raw bytes, gzip and PNG of a recent
//! version of the mirror.
//!
//! A snapshot request is cheap to send and an encoding is not (a megabyte
//! copied, compressed or turned into a PNG), so a request never buys one of
//! its own. Every request gets the newest encoding made; a new one is made
//! only when the mirror has moved on *and* the newest is older than
//! `SNAPSHOT_MAX_AGE_MS`, so each format is encoded at most once per that
//! interval, whatever the request rate. The work runs on the blocking pool,
//! not the async workers that carry the sockets. A client that gets a
//! slightly older snapshot catches up from its seq, as the protocol says.

use super::{
    encode,
    mirror::{Mirror, Version},
};
use crate::metrics::{Metrics, SnapshotFormat};
use app::geometry::CanvasSize;
use bytes::Bytes;
use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};
use tokio::sync::{Mutex, OnceCell};

pub struct SnapshotCache {
    mirror: Arc<Mirror>,
    metrics: Arc<Metrics>,
    /// How old the served version may be while the mirror moves on.
    max_age: Duration,
    /// The newest encoding made.
    newest: RwLock<Option<Arc<Encoded>>>,
    /// Held while a new version is copied, so a burst of requests makes one.
    refreshing: Mutex<()>,
}

/// One version of the canvas with its encodings, each made on first use.
pub struct Encoded {
    pub version: Version,
    made: Instant,
    size: CanvasSize,
    raw: Bytes,
    gzip: OnceCell<Bytes>,
    png: OnceCell<Bytes>,
    metrics: Arc<Metrics>,
}

impl SnapshotCache {
    pub fn new(mirror: Arc<Mirror>, metrics: Arc<Metrics>, max_age: Duration) -> Self {
        Self {
            mirror,
            metrics,
            max_age,
            newest: RwLock::new(None),
            refreshing: Mutex::new(()),
        }
    }

    /// The newest encodings, made anew first if they are both behind the
    /// mirror and older than the maximum age.
    pub async fn latest(&self) -> Arc<Encoded> {
        if let Some(newest) = self.fresh() {
            return newest;
        }
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(newest) = self.fresh() {
            return newest;
        }
        let mirror = self.mirror.clone();
        let copy = tokio::task::spawn_blocking(move || mirror.copy())
            .await
            .unwrap_or_else(|_| self.mirror.copy());
        self.metrics.snapshot_encoded(SnapshotFormat::Raw);
        let (version, pixels) = copy;
        let encoded = Arc::new(Encoded {
            version,
            made: Instant::now(),
            size: self.mirror.size(),
            raw: pixels.into(),
            gzip: OnceCell::new(),
            png: OnceCell::new(),
            metrics: self.metrics.clone(),
        });
        *self.newest.write().unwrap_or_else(|e| e.into_inner()) = Some(encoded.clone());
        encoded
    }

    /// The newest encoding, if it may still be served: the mirror's
    /// version, or a recent one of the same epoch. Never one of an epoch
    /// the mirror left (a reload after a failover, a reset): a client
    /// told to `Resync` to the new epoch could not bring it up to date,
    /// and would ask again until the cache expired.
    fn fresh(&self) -> Option<Arc<Encoded>> {
        let newest = self
            .newest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        let current = self.mirror.version();
        let recent = newest.made.elapsed() < self.max_age
            && newest.version.epoch == current.epoch
            && newest.size == self.mirror.size();
        (recent || newest.version == current).then_some(newest)
    }
}

impl Encoded {
    pub fn raw(&self) -> Bytes {
        self.raw.clone()
    }

    pub async fn gzip(&self) -> Bytes {
        self.made(&self.gzip, SnapshotFormat::Gzip, encode::gzip)
            .await
    }

    pub async fn png(&self) -> Bytes {
        let size = self.size;
        self.made(&self.png, SnapshotFormat::Png, move |raw| {
            encode::png(size, raw)
        })
        .await
    }

    /// The encoding in `cell`, made on the blocking pool by the first
    /// request that wants it; the others wait for that one.
    async fn made(
        &self,
        cell: &OnceCell<Bytes>,
        format: SnapshotFormat,
        encode: impl FnOnce(&[u8]) -> Vec<u8> + Send + 'static,
    ) -> Bytes {
        cell.get_or_init(|| async {
            self.metrics.snapshot_encoded(format);
            let raw = self.raw.clone();
            match tokio::task::spawn_blocking(move || encode(&raw)).await {
                Ok(bytes) => bytes.into(),
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        })
        .await
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Snapshot;
    use app::protocol::Tile;

    fn snapshots(max_age: Duration) -> (Arc<Mirror>, Arc<Metrics>, SnapshotCache) {
        let size = CanvasSize {
            width: 8,
            height: 8,
        };
        let snapshot = Snapshot {
            epoch: 1,
            seq: 0,
            size: None,
            chunks: crate::model::Chunks::new(),
        };
        let mirror = Arc::new(Mirror::new(size, snapshot, 16));
        let metrics = Arc::new(Metrics::new());
        let snapshots = SnapshotCache::new(mirror.clone(), metrics.clone(), max_age);
        (mirror, metrics, snapshots)
    }

    fn tile() -> Tile {
        Tile {
            x: 1,
            y: 1,
            color: 5,
        }
    }

    #[tokio::test]
    async fn a_flood_of_requests_makes_one_encoding_per_interval() {
        let (mirror, metrics, snapshots) = snapshots(Duration::from_secs(60));
        for _ in 0..100 {
            mirror.apply(&[tile()]);
            let encoded = snapshots.latest().await;
            encoded.gzip().await;
            encoded.png().await;
        }
        // One of each within the interval, the canvas moving all along.
        assert_eq!(metrics.snapshot_encodings(SnapshotFormat::Raw), 1);
        assert_eq!(metrics.snapshot_encodings(SnapshotFormat::Gzip), 1);
        assert_eq!(metrics.snapshot_encodings(SnapshotFormat::Png), 1);
        assert_eq!(
            snapshots.latest().await.version.seq,
            1,
            "the version made then"
        );
    }

    #[tokio::test]
    async fn a_new_epoch_is_served_at_once() {
        let (mirror, _, snapshots) = snapshots(Duration::from_secs(60));
        assert_eq!(snapshots.latest().await.version.epoch, 1);
        // Reloaded into another epoch at the same seq, within the interval.
        mirror.replace(Snapshot {
            epoch: 2,
            seq: 0,
            size: None,
            chunks: crate::model::Chunks::new(),
        });
        assert_eq!(snapshots.latest().await.version.epoch, 2);
    }

    #[tokio::test]
    async fn a_new_version_is_made_once_the_interval_passed() {
        let (mirror, metrics, snapshots) = snapshots(Duration::ZERO);
        assert_eq!(snapshots.latest().await.version.seq, 0);
        // The same version is served again without a copy.
        snapshots.latest().await;
        assert_eq!(metrics.snapshot_encodings(SnapshotFormat::Raw), 1);
        mirror.apply(&[tile()]);
        let encoded = snapshots.latest().await;
        assert_eq!(encoded.version.seq, 1);
        assert_eq!(encoded.raw()[9], 5);
        assert_eq!(metrics.snapshot_encodings(SnapshotFormat::Raw), 2);
    }
}
