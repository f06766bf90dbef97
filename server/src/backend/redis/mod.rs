//! Redis: one canvas shared by every instance.
//!
//! - [`store`]: the [`Store`](super::Store), its placements group-committed
//!   through Lua scripts (beside it: `place.lua`, `snapshot.lua`, …).
//! - [`feed`]: the one Pub/Sub subscription of an instance.
//! - [`keys`]: the names of everything kept in Redis.
//! - `locate`: where the master is (a fixed address, or Sentinels'
//!   answer); `master`: the connection every command shares, replaced when
//!   the master moves.

mod error;
mod feed;
mod keys;
mod locate;
mod master;
mod store;

pub use feed::RedisFeed;
pub use keys::Keys;
pub use store::RedisStore;

use super::StoreError;
use crate::{config::RedisConfig, metrics::Metrics, model::Rules};
use app::geometry::CanvasSize;
use locate::Locator;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The store and the feed, finding the master the same way.
pub fn open(
    config: &RedisConfig,
    rules: Rules,
    size: CanvasSize,
    canvas: Option<&str>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<(Arc<RedisStore>, RedisFeed), StoreError> {
    let locator = Arc::new(Locator::new(config)?);
    let keys = match canvas {
        None => Keys::new(&config.key_prefix),
        Some(name) => Keys::for_canvas(&config.key_prefix, name),
    };
    let channel = keys.channel.clone();
    let store = RedisStore::new(config, rules, size, keys, locator.clone(), metrics);
    let feed = RedisFeed::spawn(locator, channel, config.command_timeout, shutdown);
    Ok((store, feed))
}
