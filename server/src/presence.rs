//! Who is online: the count of open WebSocket connections, announced to
//! every socket as a `Presence` frame when it changes.

use crate::canvas::fanout::{Fanout, Frame};
use app::protocol::ServerMessage;
use std::{
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio_util::sync::CancellationToken;

/// Changes are coalesced: at most this many announcements a second.
const ANNOUNCE_EVERY: Duration = Duration::from_millis(250);

#[derive(Default)]
pub struct Presence {
    online: AtomicU32,
}

/// Counts one connection as online for as long as it lives.
pub struct Online(Arc<Presence>);

impl Drop for Online {
    fn drop(&mut self) {
        self.0.online.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Presence {
    pub fn join(self: &Arc<Self>) -> Online {
        self.online.fetch_add(1, Ordering::Relaxed);
        Online(self.clone())
    }

    pub fn online(&self) -> u32 {
        self.online.load(Ordering::Relaxed)
    }

    /// Sends a `Presence` frame whenever the count has changed, until shutdown.
    pub async fn announce(self: Arc<Self>, fanout: Fanout, shutdown: CancellationToken) {
        let mut announced = None;
        let mut tick = tokio::time::interval(ANNOUNCE_EVERY);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let online = self.online();
            if announced != Some(online) {
                fanout.send(Frame::message(&ServerMessage::Presence { online }));
                announced = Some(online);
            }
        }
    }
}
