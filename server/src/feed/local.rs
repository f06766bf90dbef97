//! The in-process feed of the embedded store.

use super::{Feed, FeedEvent};
use crate::canvas::Batch;
use async_trait::async_trait;
use tokio::sync::broadcast::{self, error::RecvError};

pub struct LocalFeed {
    receiver: broadcast::Receiver<Batch>,
    /// Whether the first event ("delivering now") was reported.
    started: bool,
}

impl LocalFeed {
    pub fn new(receiver: broadcast::Receiver<Batch>) -> Self {
        Self {
            receiver,
            started: false,
        }
    }
}

#[async_trait]
impl Feed for LocalFeed {
    async fn next(&mut self) -> Option<FeedEvent> {
        if !self.started {
            self.started = true;
            return Some(FeedEvent::Delivering);
        }
        match self.receiver.recv().await {
            Ok(batch) => Some(FeedEvent::Batch(batch)),
            Err(RecvError::Lagged(_)) => Some(FeedEvent::Interrupted),
            Err(RecvError::Closed) => None,
        }
    }
}
