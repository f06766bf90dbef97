//! The in-process feed of the embedded store.

use super::{Feed, FeedEvent};
use crate::canvas::Update;
use async_trait::async_trait;
use tokio::sync::broadcast::{self, error::RecvError};

pub struct LocalFeed {
    receiver: broadcast::Receiver<Update>,
    /// Whether the first `Interrupted` ("delivering now") was reported.
    started: bool,
}

impl LocalFeed {
    pub fn new(receiver: broadcast::Receiver<Update>) -> Self {
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
            return Some(FeedEvent::Interrupted);
        }
        match self.receiver.recv().await {
            Ok(update) => Some(FeedEvent::Update(update)),
            Err(RecvError::Lagged(_)) => Some(FeedEvent::Interrupted),
            Err(RecvError::Closed) => None,
        }
    }
}
