//! The player's side of placing: the cooldown shown on the page, what each
//! `PlaceResult` means to the player, and the challenge the server may ask
//! for before a placement.

use super::{challenge, now};
use crate::{live::LiveState, protocol::PlaceStatus, protocol::Tile};
use leptos::prelude::{GetUntracked, Set};

#[derive(Default)]
pub struct Placer {
    cooldown_ms: u32,
    /// `performance.now()` at which the user may place again.
    cooldown_until: f64,
    /// Whether a challenge is being fetched, solved or answered.
    challenging: bool,
    /// The worker solving it.
    pub solving: Option<challenge::Solving>,
}

impl Placer {
    /// The cooldown the server announced in `Hello`.
    pub fn hello(&mut self, cooldown_ms: u32) {
        self.cooldown_ms = cooldown_ms;
    }

    /// Tells the player what the answer to `tile` means; the tile to solve
    /// a challenge for, when the server asks for one (and none is under
    /// way).
    pub fn answered(
        &mut self,
        status: PlaceStatus,
        retry_after_ms: u32,
        tile: Option<Tile>,
        live: LiveState,
    ) -> Option<Tile> {
        if status == PlaceStatus::ChallengeRequired {
            let tile = tile.filter(|_| !self.challenging)?;
            self.challenging = true;
            return Some(tile);
        }
        match status {
            PlaceStatus::Frozen => live.frozen.set(true),
            PlaceStatus::Accepted | PlaceStatus::Cooldown => live.frozen.set(false),
            _ => {}
        }
        let (wait, notice) = match status {
            PlaceStatus::Accepted => (self.cooldown_ms, None),
            PlaceStatus::Cooldown => (retry_after_ms, Some("Still cooling down.")),
            PlaceStatus::Invalid => (0, Some("That pixel or color is not on the canvas.")),
            PlaceStatus::RateLimited => (retry_after_ms, Some("Too fast: slow down a little.")),
            PlaceStatus::NotAllowed => (0, Some("Placing is not allowed right now.")),
            PlaceStatus::Unknown => (
                self.cooldown_ms,
                Some("Not confirmed: check the pixel, it may not have been placed."),
            ),
            PlaceStatus::Banned => (
                retry_after_ms,
                Some("A moderator banned you from placing for a while."),
            ),
            PlaceStatus::Frozen => (
                0,
                Some("The canvas is frozen by its moderators: look, but no placing for now."),
            ),
            PlaceStatus::ChallengeRequired => unreachable!("answered above"),
        };
        self.cooldown_until = now() + f64::from(wait);
        live.notice.set(notice.map(str::to_owned));
        self.tick(live);
        None
    }

    /// Shows the time left to wait.
    pub fn tick(&self, live: LiveState) {
        let left = (self.cooldown_until - now()).max(0.0).ceil() as u32;
        if left != live.cooldown_left_ms.get_untracked() {
            live.cooldown_left_ms.set(left);
        }
    }

    /// The session is verified.
    pub fn solved(&mut self, took_ms: f64, live: LiveState) {
        self.challenging = false;
        self.solving = None;
        live.notice.set(Some(format!(
            "Verified in {:.1} s: placing.",
            took_ms / 1000.0
        )));
    }

    pub fn failed(&mut self, reason: &str, live: LiveState) {
        self.challenging = false;
        self.solving = None;
        live.notice
            .set(Some(format!("Not placed: {reason}. Try again.")));
    }
}
