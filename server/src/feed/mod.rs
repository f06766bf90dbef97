//! How placements reach this instance. A [`Feed`] delivers every accepted
//! placement to the sync task, at most once and in order as far as it can.
//! Its first event is [`FeedEvent::Delivering`] or
//! [`FeedEvent::Interrupted`], once it is delivering; it says `Interrupted`
//! whenever it may have lost some (a lagging receiver, a re-established
//! subscription), and the sync task then catches up from the store's
//! history. Until that first event the instance is not ready.

pub mod local;
pub mod redis;

use crate::canvas::Batch;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// Placements accepted together, in seq order.
    Batch(Batch),
    /// The feed is delivering, and nothing was missed since it was made.
    Delivering,
    /// Updates may have been missed since the last one delivered; the feed
    /// is delivering again.
    Interrupted,
    /// The feed is down (its connection dropped) and is reconnecting.
    Disconnected,
}

#[async_trait]
pub trait Feed: Send + Sync + 'static {
    /// The next event; `None` once the feed has ended for good.
    async fn next(&mut self) -> Option<FeedEvent>;
}
