//! Rolling back what one session or one address placed: from the history
//! the store still holds, which pixel goes back to which color, and what
//! cannot be rolled back. Pure, so its rules are tested on their own; the
//! moderators' route applies the plan as ordinary placements.

use crate::model::{Logged, Placer};
use app::protocol::Tile;
use std::{collections::BTreeMap, time::SystemTime};

/// What a rollback does and does not do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Each pixel to put back, with the color it had before.
    pub restore: Vec<Tile>,
    /// The offender's placements found in the window.
    pub found: usize,
    /// Pixels someone else placed on since: left as they are.
    pub overwritten: usize,
    /// Pixels whose color before the offender is older than the history
    /// reaches: left as they are.
    pub beyond_history: usize,
}

/// Plans the rollback of every placement in `history` (oldest first, as
/// [`crate::backend::Store::logged_history`] gives it) made since `since`
/// by a placer `offender` accepts.
///
/// A pixel is put back only if the offender placed on it last; it gets
/// the color of the newest placement on it that is not one of the
/// offender's in the window, or white if the history holds the canvas's
/// whole life (it starts at seq 1) and there is none.
pub fn plan(history: &[Logged], since: SystemTime, offender: impl Fn(&Placer) -> bool) -> Plan {
    let theirs = |placed: &Logged| {
        placed.at.is_some_and(|at| at >= since) && placed.placer.as_ref().is_some_and(&offender)
    };
    let complete = history.first().is_none_or(|placed| placed.seq == 1);
    // Each pixel's placements, oldest first.
    let mut pixels: BTreeMap<(u16, u16), Vec<&Logged>> = BTreeMap::new();
    for placed in history {
        pixels
            .entry((placed.tile.x, placed.tile.y))
            .or_default()
            .push(placed);
    }
    let mut plan = Plan::default();
    for ((x, y), placements) in pixels {
        let found = placements.iter().filter(|p| theirs(p)).count();
        if found == 0 {
            continue;
        }
        plan.found += found;
        if !placements.last().is_some_and(|p| theirs(p)) {
            plan.overwritten += 1;
            continue;
        }
        let before = placements.iter().rev().find(|p| !theirs(p));
        match (before, complete) {
            (Some(before), _) => plan.restore.push(Tile {
                x,
                y,
                color: before.tile.color,
            }),
            (None, true) => plan.restore.push(Tile { x, y, color: 0 }),
            (None, false) => plan.beyond_history += 1,
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(minute: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(60 * minute)
    }

    fn placed(seq: u64, x: u16, color: u8, who: &str, minute: u64) -> Logged {
        Logged {
            seq,
            tile: Tile { x, y: 0, color },
            at: Some(at(minute)),
            placer: Some(Placer {
                session: who.into(),
                address: "10.0.0.1".into(),
            }),
        }
    }

    fn by(who: &'static str) -> impl Fn(&Placer) -> bool {
        move |placer| placer.session == who
    }

    #[test]
    fn each_pixel_goes_back_to_the_color_before_the_offender() {
        let history = [
            placed(1, 0, 5, "ann", 1),
            placed(2, 0, 9, "vandal", 10),
            placed(3, 0, 8, "vandal", 11), // twice on one pixel
            placed(4, 1, 9, "vandal", 12), // never set before: white
            placed(5, 2, 9, "vandal", 13),
            placed(6, 2, 4, "bob", 14), // bob painted over it: kept
        ];
        let plan = plan(&history, at(5), by("vandal"));
        assert_eq!(
            plan.restore,
            [
                Tile {
                    x: 0,
                    y: 0,
                    color: 5
                },
                Tile {
                    x: 1,
                    y: 0,
                    color: 0
                }
            ]
        );
        assert_eq!(
            (plan.found, plan.overwritten, plan.beyond_history),
            (4, 1, 0)
        );
    }

    #[test]
    fn the_window_and_the_history_bound_it() {
        let history = [
            placed(7, 0, 3, "vandal", 1), // before the window: stays
            placed(8, 0, 9, "vandal", 10),
            placed(9, 1, 9, "vandal", 10), // what was under it is trimmed
        ];
        let plan = plan(&history, at(5), by("vandal"));
        assert_eq!(
            plan.restore,
            [Tile {
                x: 0,
                y: 0,
                color: 3
            }]
        );
        assert_eq!((plan.found, plan.beyond_history), (2, 1));
        // Placements without a recorded placer are nobody's.
        let mut anonymous = history.clone();
        anonymous.iter_mut().for_each(|p| p.placer = None);
        assert_eq!(
            super::plan(&anonymous, at(5), by("vandal")),
            Plan::default()
        );
    }
}
