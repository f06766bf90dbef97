//! The Redis Pub/Sub feed: one subscription per instance, on its own
//! connection, supervised by a task that reconnects with backoff.
//!
//! After every (re)subscription the task reports `Interrupted`, so the sync
//! task catches up from the history stream whatever was published while the
//! subscription was down. Messages that cannot be parsed are reported the
//! same way rather than trusted.

use super::{Feed, FeedEvent};
use crate::{canvas::Update, config::RedisConfig, store::redis::locate};
use app::protocol::Tile;
use async_trait::async_trait;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Reconnection backoff: doubles from the first to the last, with jitter.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Events buffered between the subscriber and the sync task. When the sync
/// task falls this far behind, the subscriber waits; Redis then buffers, and
/// past its own limit drops the subscription, which ends in a catch-up.
const BUFFER: usize = 16_384;

pub struct RedisFeed {
    events: mpsc::Receiver<FeedEvent>,
}

impl RedisFeed {
    /// Starts the subscriber task; it runs until `shutdown`.
    pub fn spawn(config: &RedisConfig, channel: String, shutdown: CancellationToken) -> Self {
        let (sender, events) = mpsc::channel(BUFFER);
        let config = config.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = subscribe_forever(config, channel, sender) => {}
            }
        });
        Self { events }
    }
}

#[async_trait]
impl Feed for RedisFeed {
    async fn next(&mut self) -> Option<FeedEvent> {
        self.events.recv().await
    }
}

/// Subscribes, forwards, and starts again after any drop, locating the
/// master afresh each time (after a failover it has moved).
async fn subscribe_forever(config: RedisConfig, channel: String, events: mpsc::Sender<FeedEvent>) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        let subscribed = tokio::time::timeout(config.command_timeout, async {
            let info = locate::master(&config).await.map_err(|e| {
                redis::RedisError::from((redis::ErrorKind::Io, "locate", e.to_string()))
            })?;
            let mut pubsub = redis::Client::open(info)?.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        match subscribed {
            Ok(Ok(pubsub)) => {
                tracing::info!(%channel, "subscribed to the update feed");
                backoff = BACKOFF_FIRST;
                if events.send(FeedEvent::Interrupted).await.is_err() {
                    return;
                }
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    // A new epoch (`epoch:…`) or anything unreadable: catch
                    // up from the store, which tells what is true now.
                    let event = parse(message.get_payload_bytes())
                        .map(FeedEvent::Update)
                        .unwrap_or(FeedEvent::Interrupted);
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
                tracing::warn!("the update feed's connection dropped; reconnecting");
            }
            Ok(Err(error)) => tracing::warn!(%error, "cannot subscribe to the update feed"),
            Err(_) => tracing::warn!("subscribing to the update feed timed out"),
        }
        if events.send(FeedEvent::Disconnected).await.is_err() {
            return;
        }
        let jitter = 0.5 + rand::random::<f64>() * 0.5;
        tokio::time::sleep(backoff.mul_f64(jitter)).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// `<epoch>:<seq>:<x>:<y>:<color>:<unix ms>`, as `place.lua` publishes it.
fn parse(payload: &[u8]) -> Option<Update> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut fields = text.split(':');
    let mut next = || fields.next();
    let update = Update {
        epoch: next()?.parse().ok()?,
        seq: next()?.parse().ok()?,
        tile: Tile {
            x: next()?.parse().ok()?,
            y: next()?.parse().ok()?,
            color: next()?.parse().ok()?,
        },
        placed_at_ms: Some(next()?.parse().ok()?),
    };
    next().is_none().then_some(update)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_script_publishes_and_nothing_else() {
        let update = parse(b"7:42:3:4:5:1700000000000").unwrap();
        assert_eq!((update.epoch, update.seq), (7, 42));
        assert_eq!(
            update.tile,
            Tile {
                x: 3,
                y: 4,
                color: 5
            }
        );
        assert_eq!(update.placed_at_ms, Some(1_700_000_000_000));
        for bad in [
            &b"7:42:3:4:5"[..],
            b"7:42:3:4:5:6:7",
            b"7:42:3:70000:5:1",
            b"",
            b"\xff",
        ] {
            assert!(parse(bad).is_none());
        }
    }
}
