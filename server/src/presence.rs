//! Who is online: open WebSockets counted across every instance, announced
//! to every socket as a `Presence` frame when the total changes.
//!
//! Each instance counts its own sockets and reports the count to the store
//! about once a second with a time to live; the store answers with the total
//! of the live reports. An instance that dies stops counting once its last
//! report expires ([`REPORT_TTL`]).
//!
//! The same round also reads whether the moderators froze the canvas, so
//! the page and `/api/info` can say so without a store round trip of their
//! own, and every socket gets a `Frozen` frame when that changes.

use crate::{
    backend::Store,
    canvas::fanout::{Fanout, Frame},
};
use std::{
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

/// Local changes are looked at this often: announcements are coalesced to
/// at most four a second.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// Reports are renewed at least this often, so other instances' changes are
/// seen within about a second.
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// How long a report counts without renewal: a dead instance's users stop
/// counting after at most this long.
pub const REPORT_TTL: Duration = Duration::from_secs(5);

pub struct Presence {
    /// Names this instance's report in the store.
    instance: String,
    /// Open sockets on this instance.
    local: AtomicU32,
    /// The last total across instances.
    total: AtomicU32,
    /// Whether the canvas was frozen when last looked at.
    frozen: AtomicBool,
}

/// Counts one connection as online for as long as it lives.
pub struct Online(Arc<Presence>);

impl Drop for Online {
    fn drop(&mut self) {
        self.0.local.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for Presence {
    fn default() -> Self {
        Self {
            instance: format!("{:016x}", rand::random::<u64>()),
            local: AtomicU32::new(0),
            total: AtomicU32::new(0),
            frozen: AtomicBool::new(false),
        }
    }
}

impl Presence {
    pub fn join(self: &Arc<Self>) -> Online {
        self.local.fetch_add(1, Ordering::Relaxed);
        Online(self.clone())
    }

    /// Users online across every instance, as last reported (never fewer
    /// than this instance's own).
    pub fn online(&self) -> u32 {
        self.total
            .load(Ordering::Relaxed)
            .max(self.local.load(Ordering::Relaxed))
    }

    /// Whether the canvas is frozen, as of the last report (within about a
    /// second).
    pub fn frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed)
    }

    /// Reports this instance's count and sends a `Presence` frame whenever
    /// the total changes, until shutdown.
    pub async fn run(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        fanout: Fanout,
        shutdown: CancellationToken,
    ) {
        let mut reported: Option<(u32, Instant)> = None;
        let mut announced = None;
        let mut tick = tokio::time::interval(CHECK_EVERY);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let local = self.local.load(Ordering::Relaxed);
            let due = match reported {
                Some((count, at)) => count != local || at.elapsed() >= REPORT_EVERY,
                None => true,
            };
            if due {
                match store.report_online(&self.instance, local, REPORT_TTL).await {
                    Ok(total) => {
                        self.total.store(total, Ordering::Relaxed);
                        reported = Some((local, Instant::now()));
                    }
                    Err(error) => tracing::debug!(%error, "cannot report presence"),
                }
                if let Ok(frozen) = store.is_frozen().await {
                    // Every socket hears of a change, placing or not.
                    if self.frozen.swap(frozen, Ordering::Relaxed) != frozen {
                        fanout.send(Frame::frozen(frozen));
                    }
                }
            }
            let online = self.online();
            if announced != Some(online) {
                fanout.send(Frame::presence(online));
                announced = Some(online);
            }
        }
    }
}
