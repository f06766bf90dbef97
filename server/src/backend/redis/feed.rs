//! The Redis Pub/Sub feed: one subscription per instance, on its own
//! connection, supervised by a task that reconnects with backoff.
//!
//! After every (re)subscription the task reports `Interrupted`, so the sync
//! task catches up from the history stream whatever was published while the
//! subscription was down. Messages that cannot be parsed are reported the
//! same way rather than trusted.
//!
//! A subscription only ever reads, so a connection that froze (a hung
//! master, a network that stopped carrying packets) would look like a quiet
//! canvas forever. The task therefore pings on it every [`PING_EVERY`]; no
//! answer within the command deadline counts as a dropped connection: the
//! instance reports `Disconnected` (and is not ready) until it has
//! subscribed again, then catches up.

use super::{error, locate::Locator, master::tuned, store::parse_size};
use crate::{
    backend::{ChatEvent, Feed, FeedEvent, StoreError, WatchEvent},
    model::Batch,
};
use app::protocol::{decode_tile_list, ChatLine};
use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::PubSub;
use std::{pin::pin, sync::Arc, time::Duration};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How often the subscription's connection is checked with a `PING`.
const PING_EVERY: Duration = Duration::from_secs(3);
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
    /// Starts the subscriber task; it runs until `shutdown`. `timeout`
    /// bounds each attempt to subscribe.
    pub fn spawn(
        locator: Arc<Locator>,
        channel: String,
        timeout: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        let (sender, events) = mpsc::channel(BUFFER);
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = subscribe_forever(&locator, &channel, timeout, sender) => {}
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

/// Subscribes on a connection of its own to the master, located afresh
/// (after a failover it has moved).
async fn subscribe(locator: &Locator, channel: &str) -> Result<PubSub, StoreError> {
    let master = locator.master().await?;
    let client = redis::Client::open(tuned(master)).map_err(error::from_redis)?;
    let mut pubsub = client.get_async_pubsub().await.map_err(error::from_redis)?;
    pubsub.subscribe(channel).await.map_err(error::from_redis)?;
    Ok(pubsub)
}

/// Subscribes, forwards, and starts again after any drop.
async fn subscribe_forever(
    locator: &Locator,
    channel: &str,
    timeout: Duration,
    events: mpsc::Sender<FeedEvent>,
) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        let subscribed = tokio::time::timeout(timeout, subscribe(locator, channel))
            .await
            .unwrap_or(Err(StoreError::not_reached(timeout)));
        match subscribed {
            Ok(pubsub) => {
                tracing::info!(%channel, "subscribed to the update feed");
                backoff = BACKOFF_FIRST;
                if events.send(FeedEvent::Interrupted).await.is_err() {
                    return;
                }
                let (mut sink, mut messages) = pubsub.split();
                let mut unanswered = pin!(async {
                    loop {
                        tokio::time::sleep(PING_EVERY).await;
                        let pong = tokio::time::timeout(timeout, sink.ping::<redis::Value>());
                        if !matches!(pong.await, Ok(Ok(_))) {
                            return;
                        }
                    }
                });
                loop {
                    tokio::select! {
                        message = messages.next() => {
                            let Some(message) = message else {
                                tracing::warn!("the update feed's connection dropped; reconnecting");
                                break;
                            };
                            // A new epoch (`epoch:…`) or anything unreadable:
                            // catch up from the store, which tells what is
                            // true now.
                            let event = parse(message.get_payload_bytes())
                                .unwrap_or(FeedEvent::Interrupted);
                            if events.send(event).await.is_err() {
                                return;
                            }
                        }
                        _ = &mut unanswered => {
                            tracing::warn!("the update feed's connection stopped answering; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot subscribe to the update feed"),
        }
        if events.send(FeedEvent::Disconnected).await.is_err() {
            return;
        }
        let jitter = 0.5 + rand::random::<f64>() * 0.5;
        tokio::time::sleep(backoff.mul_f64(jitter)).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// A message of the channel: a batch, `size:<w>,<h>` as `grow.lua`
/// publishes an enlarged canvas, a chat message (`chat:<JSON>`, from
/// `chat.lua`; `fchat:<faction>:<JSON>` in a faction's channel) or its
/// removal (`chat-removed:<id>`), or a watched template
/// added (`watch:<id>`) or removed (`watch-removed:<id>`).
fn parse(payload: &[u8]) -> Option<FeedEvent> {
    if let Some(size) = payload.strip_prefix(b"size:") {
        return parse_size(size).map(FeedEvent::Resized);
    }
    if let Some(line) = payload.strip_prefix(b"chat:") {
        return parse_chat(line).map(|line| FeedEvent::Chat(ChatEvent::Posted(line)));
    }
    if let Some(rest) = payload.strip_prefix(b"fchat:") {
        let colon = rest.iter().position(|&b| b == b':')?;
        let faction = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
        let line = parse_chat(&rest[colon + 1..])?;
        return Some(FeedEvent::Chat(ChatEvent::FactionPosted(faction, line)));
    }
    if let Some(id) = payload.strip_prefix(b"chat-removed:") {
        let id = std::str::from_utf8(id).ok()?.parse().ok()?;
        return Some(FeedEvent::Chat(ChatEvent::Removed(id)));
    }
    if let Some(id) = payload.strip_prefix(b"watch:") {
        let id = std::str::from_utf8(id).ok()?.parse().ok()?;
        return Some(FeedEvent::Watch(WatchEvent::Added(id)));
    }
    if let Some(id) = payload.strip_prefix(b"watch-removed:") {
        let id = std::str::from_utf8(id).ok()?.parse().ok()?;
        return Some(FeedEvent::Watch(WatchEvent::Removed(id)));
    }
    parse_batch(payload).map(FeedEvent::Batch)
}

/// A chat message as `chat.lua` publishes it: `{"i":…,"at":…,"p":…,"n":…,"t":…}`.
fn parse_chat(json: &[u8]) -> Option<ChatLine> {
    #[derive(serde::Deserialize)]
    struct Published {
        i: u64,
        at: u64,
        p: String,
        n: String,
        t: String,
    }
    let published: Published = serde_json::from_slice(json).ok()?;
    Some(ChatLine {
        id: published.i,
        at_ms: published.at,
        player: published.p,
        name: (!published.n.is_empty()).then_some(published.n),
        text: published.t,
    })
}

/// `<epoch>:<first seq>:<unix ms>:<tiles>`, as `place.lua` publishes a
/// batch: three decimal numbers, then the tiles as in a `Tiles` frame.
fn parse_batch(payload: &[u8]) -> Option<Batch> {
    let mut fields = payload.splitn(4, |b| *b == b':');
    let mut number = || -> Option<u64> { std::str::from_utf8(fields.next()?).ok()?.parse().ok() };
    let (epoch, first_seq, placed_at_ms) = (number()?, number()?, number()?);
    let tiles = decode_tile_list(fields.next()?).ok()?;
    (!tiles.is_empty() && first_seq > 0).then_some(Batch {
        epoch,
        first_seq,
        tiles,
        placed_at_ms: Some(placed_at_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::{encode_tiles, Tile, TILES_HEADER_LEN};

    #[test]
    fn parses_what_the_script_publishes_and_nothing_else() {
        let tiles = [
            Tile {
                x: 3,
                y: 4,
                color: 5,
            },
            // A coordinate byte that is also ':' must not split the message.
            Tile {
                x: 58,
                y: 0x3a3a,
                color: 1,
            },
        ];
        let mut payload = b"7:42:1700000000000:".to_vec();
        payload.extend_from_slice(&encode_tiles(42, &tiles)[TILES_HEADER_LEN..]);
        let Some(FeedEvent::Batch(batch)) = parse(&payload) else {
            panic!("a batch")
        };
        assert_eq!(
            (batch.epoch, batch.first_seq, batch.last_seq()),
            (7, 42, 43)
        );
        assert_eq!(batch.tiles, tiles);
        assert_eq!(batch.placed_at_ms, Some(1_700_000_000_000));
        for bad in [
            &b"7:42:1:"[..],
            b"7:42:1:\x01\x02",
            b"7:x:1:\x01\x00\x02\x00\x03",
            b"epoch:123",
            b"7:42:3:4:5:1700000000000",
            b"",
            b"size:0,5",
            b"size:7",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(
            parse(b"size:300,200"),
            Some(FeedEvent::Resized(app::geometry::CanvasSize {
                width: 300,
                height: 200
            }))
        );
    }
}
