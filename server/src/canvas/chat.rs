//! The instance's copy of its canvas's newest chat messages: what a new
//! connection is sent after `Hello`, without a store read per connection.
//!
//! The sync task applies what the feed brings ([`ChatLog::apply`]) and
//! hands it to every socket with its next tiles ([`ChatLog::send_pending`]),
//! on the same paced flush, the messages of one flush in one `ChatLines`
//! frame: a busy chat then costs the sockets no wake-ups of its own, and a
//! socket's queue of chat frames counts flushes, not messages. After an interruption of the feed, or at
//! start, the copy is marked stale and [`ChatLog::run`] reloads it from the
//! store (a message posted while the feed was down reaches new pages that
//! way; open pages miss it, as chat is not replayed).

use super::{fanout::Fanout, frame::Frame};
use crate::backend::{ChatEvent, ChatStore};
use app::protocol::{join_chat_lines, kind, ChatLine, ServerMessage, MAX_CHAT_LINES};
use bytes::Bytes;
use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Duration,
};
use tokio_util::sync::CancellationToken;

/// Messages a new connection is sent.
pub const CHAT_SHOWN: usize = 50;

#[derive(Default)]
pub struct ChatLog {
    /// The newest messages, oldest first, each with its frame.
    lines: Mutex<VecDeque<(u64, Bytes)>>,
    /// Set when the copy may be missing messages.
    stale: AtomicBool,
    /// Frames applied and not yet handed to the sockets, oldest first.
    pending: Mutex<Vec<Bytes>>,
    /// Factions' messages applied and not yet handed to their members'
    /// sockets, oldest first.
    pending_factions: Mutex<Vec<(u64, Bytes)>>,
}

impl ChatLog {
    /// An empty copy, to be loaded by [`ChatLog::run`].
    pub fn new() -> Self {
        Self {
            lines: Mutex::default(),
            stale: AtomicBool::new(true),
            pending: Mutex::default(),
            pending_factions: Mutex::default(),
        }
    }

    /// What the feed brought: kept, and queued for every socket.
    pub fn apply(&self, event: ChatEvent) {
        if let ChatEvent::FactionPosted(faction, line) = event {
            // Not kept here: a member's new connection reads its channel
            // from the store.
            let frame = ServerMessage::FactionChatLine { faction, line }.encode();
            self.pending_factions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((faction, frame));
            return;
        }
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let frame = match event {
            ChatEvent::Posted(line) => {
                let id = line.id;
                let frame = ServerMessage::ChatLine(line).encode();
                // A reload may have brought it already.
                if lines.iter().any(|(kept, _)| *kept == id) {
                    return;
                }
                if lines.len() >= CHAT_SHOWN {
                    lines.pop_front();
                }
                lines.push_back((id, frame.clone()));
                frame
            }
            ChatEvent::Removed(id) => {
                lines.retain(|(kept, _)| *kept != id);
                ServerMessage::ChatRemoved { id }.encode()
            }
            ChatEvent::FactionPosted(..) => unreachable!("taken above"),
        };
        drop(lines);
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(frame);
    }

    /// Whether frames wait for the next flush.
    pub fn has_pending(&self) -> bool {
        !self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
            || !self
                .pending_factions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
    }

    /// Hands the waiting frames to every socket: each run of messages as
    /// one frame, a removal after the messages before it.
    pub fn send_pending(&self, fanout: &Fanout) {
        let pending =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        for frame in joined(pending) {
            fanout.send(Frame::Chat(frame));
        }
        let factions = std::mem::take(
            &mut *self
                .pending_factions
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for (faction, bytes) in factions {
            fanout.send(Frame::FactionChat { faction, bytes });
        }
    }

    /// The feed may have dropped messages: reload from the store.
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    /// The frames a new connection is sent: the newest messages, oldest
    /// first, joined.
    pub fn frames(&self) -> Vec<Bytes> {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        joined(lines.iter().map(|(_, frame)| frame.clone()).collect())
    }

    fn replace(&self, fresh: Vec<ChatLine>) {
        let fresh = fresh
            .into_iter()
            .map(|line| (line.id, ServerMessage::ChatLine(line).encode()))
            .collect();
        *self.lines.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
    }

    /// Reloads the copy from the store whenever it is stale, checking once
    /// a second, until `shutdown`.
    pub async fn run(self: Arc<Self>, store: Arc<dyn ChatStore>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if self.stale.swap(false, Ordering::Relaxed) {
                match store.recent_chat(None, CHAT_SHOWN).await {
                    Ok(lines) => self.replace(lines),
                    Err(error) => {
                        tracing::warn!(%error, "cannot load the chat; retrying");
                        self.mark_stale();
                    }
                }
            }
        }
    }
}

/// `frames` (`ChatLine` and `ChatRemoved`, in order) with each run of
/// `ChatLine`s of two or more joined into `ChatLines` frames.
fn joined(frames: Vec<Bytes>) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut run: Vec<Bytes> = Vec::new();
    let end_run = |run: &mut Vec<Bytes>, out: &mut Vec<Bytes>| {
        for part in run.chunks(MAX_CHAT_LINES) {
            match part {
                [one] => out.push(one.clone()),
                many => out.push(join_chat_lines(many)),
            }
        }
        run.clear();
    };
    for frame in frames {
        if frame.first() == Some(&kind::CHAT_LINE) {
            run.push(frame);
        } else {
            end_run(&mut run, &mut out);
            out.push(frame);
        }
    }
    end_run(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: u64) -> ChatEvent {
        ChatEvent::Posted(ChatLine {
            id,
            at_ms: 1,
            player: "00000000000000aa".into(),
            name: None,
            text: format!("line {id}"),
        })
    }

    fn decoded(frames: &[Bytes]) -> Vec<ServerMessage> {
        frames
            .iter()
            .map(|frame| ServerMessage::decode(frame).unwrap())
            .collect()
    }

    fn ids(message: &ServerMessage) -> Vec<u64> {
        match message {
            ServerMessage::ChatLines(lines) => lines.iter().map(|line| line.id).collect(),
            ServerMessage::ChatLine(line) => vec![line.id],
            other => panic!("not chat lines: {other:?}"),
        }
    }

    #[test]
    fn a_flush_joins_its_messages_in_order_around_removals() {
        let log = ChatLog::new();
        for id in 1..=3 {
            log.apply(line(id));
        }
        log.apply(ChatEvent::Removed(2));
        log.apply(line(4));
        let frames = joined(std::mem::take(&mut *log.pending.lock().unwrap()));
        let messages = decoded(&frames);
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(ids(&messages[0]), [1, 2, 3]);
        assert!(matches!(messages[0], ServerMessage::ChatLines(_)));
        assert_eq!(messages[1], ServerMessage::ChatRemoved { id: 2 });
        assert!(
            matches!(messages[2], ServerMessage::ChatLine(_)),
            "one alone"
        );
        // A new connection gets what is kept, in one frame.
        assert_eq!(
            decoded(&log.frames())
                .iter()
                .flat_map(ids)
                .collect::<Vec<_>>(),
            [1, 3, 4]
        );
    }

    #[test]
    fn more_messages_than_a_frame_holds_take_several() {
        let log = ChatLog::new();
        for id in 1..=(MAX_CHAT_LINES as u64 + 1) {
            log.apply(line(id));
        }
        let frames = joined(std::mem::take(&mut *log.pending.lock().unwrap()));
        let messages = decoded(&frames);
        assert_eq!(messages.len(), 2);
        let all: Vec<u64> = messages.iter().flat_map(ids).collect();
        assert_eq!(all, (1..=MAX_CHAT_LINES as u64 + 1).collect::<Vec<_>>());
    }
}
