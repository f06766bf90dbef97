//! The chat's frames, into the page's state: the messages shown (each once,
//! however often a reconnect sends the newest again), the removals, and why
//! the player's own message was refused.

use crate::{
    live::{LiveState, CHAT_LINES},
    protocol::{ChatLine, ChatStatus},
};
use leptos::prelude::*;

pub fn received(line: &ChatLine, live: LiveState) {
    received_in(line, live.chat);
}

/// A message of one channel (the global one, or the faction's).
pub fn received_in(line: &ChatLine, channel: RwSignal<Vec<ChatLine>>) {
    channel.update(|lines| {
        // A reconnect is sent the newest messages again.
        if line.id != 0 && lines.iter().any(|kept| kept.id == line.id) {
            return;
        }
        // Sorted by id: what a reconnect brings may be older than what
        // arrived before it (a shadow-banned author's own line, id 0, goes
        // last).
        let at = if line.id == 0 {
            lines.len()
        } else {
            lines.partition_point(|kept| kept.id != 0 && kept.id < line.id)
        };
        lines.insert(at, line.clone());
        if lines.len() > CHAT_LINES {
            lines.remove(0);
        }
    });
}

pub fn removed(id: u64, live: LiveState) {
    for channel in [live.chat, live.faction_chat] {
        channel.update(|lines| lines.retain(|line| line.id != id));
    }
}

pub fn answered(status: ChatStatus, retry_after_ms: u32, live: LiveState) {
    let t = live.lang.texts();
    let seconds = f64::from(retry_after_ms) / 1000.0;
    let refusal = match status {
        ChatStatus::Sent => None,
        ChatStatus::RateLimited => Some((t.chat_too_fast)(seconds)),
        ChatStatus::Muted => Some((t.chat_muted)(seconds / 60.0)),
        ChatStatus::Banned => Some(t.chat_banned.to_owned()),
        ChatStatus::Invalid => Some(t.chat_invalid.to_owned()),
        ChatStatus::NotAllowed => Some(t.chat_not_allowed.to_owned()),
        ChatStatus::ChallengeRequired => Some(t.chat_challenge.to_owned()),
        ChatStatus::Unavailable => Some(t.chat_unavailable.to_owned()),
    };
    live.chat_notice.set(refusal);
}
