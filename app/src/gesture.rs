//! Pointers on the stage, told apart: a press that moves more than a few
//! pixels is a drag (it pans, and never places); two pointers pinch-zoom
//! (and never place); a press released where it started is a click or tap,
//! which places. Plain state, fed positions by the browser-only input code
//! (`client/input.rs`), so that `cargo test` checks it.

use std::collections::HashMap;

/// Screen pixels a press may move and still be a click or tap.
pub const DRAG_THRESHOLD: f64 = 5.0;

/// The pointers currently pressed on the stage.
#[derive(Debug, Default)]
pub struct Gesture {
    /// Last position of each pressed pointer, by pointer id.
    pointers: HashMap<i32, (f64, f64)>,
    /// Set once the press has moved too far (or pinched) to be a click.
    dragged: bool,
    /// Distance travelled since the press.
    travelled: f64,
}

/// What a pointer's move does to the view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Motion {
    /// Nothing pressed: the reticle follows.
    Hover,
    /// One pointer pressed: the view moves by this many screen pixels.
    Pan(f64, f64),
    /// Two: the view zooms by `factor` about `centre`.
    Pinch { factor: f64, centre: (f64, f64) },
}

impl Gesture {
    pub fn press(&mut self, id: i32, at: (f64, f64)) {
        if self.pointers.is_empty() {
            self.dragged = false;
            self.travelled = 0.0;
        }
        self.pointers.insert(id, at);
        if self.pointers.len() > 1 {
            self.dragged = true; // a pinch never places
        }
    }

    /// What a move of pointer `id` to `at` does to the view.
    pub fn move_to(&mut self, id: i32, at: (f64, f64)) -> Motion {
        let Some(&before) = self.pointers.get(&id) else {
            return Motion::Hover;
        };
        let motion = match self.pointers.len() {
            1 => {
                let (dx, dy) = (at.0 - before.0, at.1 - before.1);
                self.travelled += dx.hypot(dy);
                if self.travelled > DRAG_THRESHOLD {
                    self.dragged = true;
                }
                Motion::Pan(dx, dy)
            }
            _ => {
                let other = self
                    .pointers
                    .iter()
                    .find(|(other, _)| **other != id)
                    .map(|(_, p)| *p)
                    .unwrap_or(before);
                let distance = |p: (f64, f64)| (p.0 - other.0).hypot(p.1 - other.1).max(1.0);
                Motion::Pinch {
                    factor: distance(at) / distance(before),
                    centre: ((at.0 + other.0) / 2.0, (at.1 + other.1) / 2.0),
                }
            }
        };
        self.pointers.insert(id, at);
        motion
    }

    /// Forgets pointer `id` (the browser took it back: a scroll, a
    /// system gesture); whatever it was doing, it places nothing.
    pub fn cancel(&mut self, id: i32) {
        if self.pointers.remove(&id).is_some() {
            self.dragged = true;
        }
    }

    /// Releases pointer `id`; true when the press was a click or tap.
    pub fn release(&mut self, id: i32) -> bool {
        let was_pressed = self.pointers.remove(&id).is_some();
        was_pressed && self.pointers.is_empty() && !self.dragged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_press_released_in_place_is_a_tap_and_a_drag_is_not() {
        let mut gesture = Gesture::default();
        assert_eq!(gesture.move_to(1, (5.0, 5.0)), Motion::Hover);
        gesture.press(1, (10.0, 10.0));
        assert_eq!(gesture.move_to(1, (12.0, 11.0)), Motion::Pan(2.0, 1.0));
        assert!(gesture.release(1), "moved 2.2 px: a tap");
        gesture.press(1, (10.0, 10.0));
        gesture.move_to(1, (20.0, 10.0));
        gesture.move_to(1, (10.0, 10.0));
        assert!(
            !gesture.release(1),
            "back where it started, but it travelled 20 px"
        );
        assert!(!gesture.release(1), "released twice");
    }

    #[test]
    fn two_pointers_pinch_and_never_place() {
        let mut gesture = Gesture::default();
        gesture.press(1, (0.0, 0.0));
        gesture.press(2, (100.0, 0.0));
        match gesture.move_to(2, (200.0, 0.0)) {
            Motion::Pinch { factor, centre } => {
                assert_eq!(factor, 2.0);
                assert_eq!(centre, (100.0, 0.0));
            }
            other => panic!("{other:?}"),
        }
        assert!(!gesture.release(2));
        assert!(!gesture.release(1), "the press that pinched does not place");
        // A new press starts afresh.
        gesture.press(3, (0.0, 0.0));
        assert!(gesture.release(3));
        // A pointer the browser cancelled places nothing.
        gesture.press(4, (0.0, 0.0));
        gesture.cancel(4);
        assert!(!gesture.release(4));
    }

    proptest! {
        /// One pointer whose path stays within the threshold taps; one
        /// that goes beyond it does not, wherever it ends.
        #[test]
        fn a_tap_is_a_press_that_travelled_under_the_threshold(
            steps in proptest::collection::vec((-3.0f64..3.0, -3.0f64..3.0), 0..8),
        ) {
            let mut gesture = Gesture::default();
            let mut at = (50.0, 50.0);
            let mut travelled = 0.0;
            gesture.press(7, at);
            for (dx, dy) in steps {
                let next = (at.0 + dx, at.1 + dy);
                let moved = (next.0 - at.0, next.1 - at.1);
                travelled += moved.0.hypot(moved.1);
                prop_assert_eq!(gesture.move_to(7, next), Motion::Pan(moved.0, moved.1));
                at = next;
            }
            prop_assert_eq!(gesture.release(7), travelled <= DRAG_THRESHOLD);
        }
    }
}
