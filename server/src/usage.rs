//! What the store's memory is spent on, by kind of key, for operators:
//! every [`EVERY`] the instance asks the store for an estimate (a bounded
//! sample: a few hundred commands, whatever the number of keys) and
//! publishes it as `canvas_store_memory_bytes{kind}` and
//! `canvas_store_keys{kind}`. Every instance reports the same store, so
//! dashboards and alerts take the `max` across instances.

use crate::{backend::HealthStore, metrics::Metrics};
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// How often the estimate is made.
pub const EVERY: Duration = Duration::from_secs(60);

/// Random keys sampled per estimate.
pub const SAMPLES: usize = 200;

/// Estimates the store's memory by kind every [`EVERY`] until shutdown.
pub async fn run(store: Arc<dyn HealthStore>, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match store.memory_by_kind(SAMPLES).await {
            Ok(usage) => {
                for kind in usage {
                    metrics.store_usage(kind.kind, kind.keys, kind.bytes);
                }
            }
            Err(error) => tracing::debug!(%error, "cannot estimate the store's memory"),
        }
    }
}
