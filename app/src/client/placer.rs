//! The player's side of placing: the cooldown (or the charges) shown on the
//! page, the time left to undo, what each `PlaceResult` means to the
//! player, and the challenge the server may ask for before a placement.

use super::{challenge, link::Sent, now, ready::Ready};
use crate::{live::LiveState, protocol::PlaceStatus, protocol::Tile};
use leptos::prelude::{GetUntracked, Set};

#[derive(Default)]
pub struct Placer {
    cooldown_ms: u32,
    /// `performance.now()` at which the user may place again.
    cooldown_until: f64,
    /// The user's charges, where a session holds several (`Charges`
    /// frames); `None` with one.
    charges: Option<Charges>,
    /// `performance.now()` until which the last placement may be undone.
    undo_until: f64,
    /// Tells the player when a tile is back after a wait.
    pub ready: Ready,
    /// Whether a challenge is being fetched, solved or answered.
    challenging: bool,
    /// The worker solving it.
    pub solving: Option<challenge::Solving>,
}

/// A pool of charges as the server last told it, brought forward by the
/// page's clock (one comes back per cooldown) until it tells again.
#[derive(Debug, Clone, Copy)]
struct Charges {
    available: u8,
    max: u8,
    /// `performance.now()` at which the next one comes back (meaningless
    /// while the pool is full).
    next_at: f64,
}

impl Placer {
    /// The cooldown the server announced in `Hello`.
    pub fn hello(&mut self, cooldown_ms: u32) {
        self.cooldown_ms = cooldown_ms;
    }

    /// The server's `Charges` frame.
    pub fn charges(&mut self, available: u8, max: u8, next_ms: u32, live: LiveState) {
        let now = now();
        self.charges = Some(Charges {
            available,
            max,
            next_at: now + f64::from(next_ms),
        });
        self.cooldown_until = if available == 0 {
            now + f64::from(next_ms)
        } else {
            now
        };
        self.tick(live);
    }

    /// Tells the player what the answer to `sent` means; the tile to solve
    /// a challenge for, when the server asks for one (and none is under
    /// way).
    pub fn answered(
        &mut self,
        status: PlaceStatus,
        retry_after_ms: u32,
        sent: Option<Sent>,
        live: LiveState,
    ) -> Option<Tile> {
        if status == PlaceStatus::ChallengeRequired {
            let Some(Sent::Place(tile)) = sent.filter(|_| !self.challenging) else {
                return None;
            };
            self.challenging = true;
            return Some(tile);
        }
        match status {
            PlaceStatus::Frozen => live.frozen.set(true),
            PlaceStatus::Accepted | PlaceStatus::Cooldown => live.frozen.set(false),
            _ => {}
        }
        let undo = sent == Some(Sent::Undo);
        // With charges, the `Charges` frame that follows says when to place.
        let cooldown = if self.charges.is_some() || undo {
            0
        } else {
            self.cooldown_ms
        };
        let t = live.lang.texts();
        let (wait, notice) = match status {
            PlaceStatus::Accepted if undo => (cooldown, Some(t.undone)),
            PlaceStatus::Accepted => (cooldown, None),
            PlaceStatus::Cooldown => (retry_after_ms, Some(t.cooling)),
            PlaceStatus::Invalid => (0, Some(t.invalid)),
            PlaceStatus::RateLimited => (retry_after_ms, Some(t.too_fast)),
            PlaceStatus::NotAllowed => (0, Some(t.not_allowed)),
            PlaceStatus::Unknown => (cooldown, Some(t.unconfirmed)),
            PlaceStatus::Banned => (retry_after_ms, Some(t.banned)),
            PlaceStatus::Frozen => (0, Some(t.frozen_notice)),
            PlaceStatus::NothingToUndo => (0, Some(t.nothing_to_undo)),
            PlaceStatus::ChallengeRequired => unreachable!("answered above"),
        };
        let now = now();
        if status != PlaceStatus::NothingToUndo {
            self.cooldown_until = now + f64::from(wait);
        }
        // One undo, for the last placement only.
        self.undo_until = match (status, sent) {
            (PlaceStatus::Accepted, Some(Sent::Place(_))) => now + f64::from(live.undo_ms),
            (PlaceStatus::Accepted | PlaceStatus::NothingToUndo, _) => 0.0,
            _ => self.undo_until,
        };
        live.notice.set(notice.map(str::to_owned));
        self.tick(live);
        None
    }

    /// Shows the time left to wait, the charges, and the time left to undo.
    pub fn tick(&mut self, live: LiveState) {
        let now = now();
        if let Some(charges) = &mut self.charges {
            // The page's clock brings a charge back per cooldown, as the
            // server's does.
            while charges.available < charges.max && charges.next_at <= now {
                charges.available += 1;
                charges.next_at += f64::from(self.cooldown_ms.max(1));
            }
            if charges.available > 0 {
                self.cooldown_until = self.cooldown_until.min(now);
            }
            let shown = Some((charges.available, charges.max));
            if live.charges.get_untracked() != shown {
                live.charges.set(shown);
            }
        }
        let left = (self.cooldown_until - now).max(0.0).ceil() as u32;
        if left != live.cooldown_left_ms.get_untracked() {
            live.cooldown_left_ms.set(left);
        }
        self.ready.update(left == 0, live.lang);
        // In whole seconds: the button's label changes once a second.
        let undo = ((self.undo_until - now).max(0.0) / 1000.0).ceil() as u32 * 1000;
        if undo != live.undo_left_ms.get_untracked() {
            live.undo_left_ms.set(undo);
        }
    }

    /// The session is verified.
    pub fn solved(&mut self, took_ms: f64, live: LiveState) {
        self.challenging = false;
        self.solving = None;
        live.notice
            .set(Some((live.lang.texts().verified)(took_ms / 1000.0)));
    }

    pub fn failed(&mut self, reason: &str, live: LiveState) {
        self.challenging = false;
        self.solving = None;
        live.notice
            .set(Some((live.lang.texts().not_placed)(reason)));
    }
}
