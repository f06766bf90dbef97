//! The heatmap's levels, one contract for both ends: the server serves
//! where tiles went in the last ten minutes as an 8-bit grayscale image
//! (`GET /api/heatmap.png`: 255 just now, fading to 1 at the window's end,
//! 0 older or never), and the page turns each level back into an age and
//! draws it as a red that fades out over the same window.

/// How far back the heatmap looks, in seconds.
pub const WINDOW_SECS: u32 = 10 * 60;

/// How far back the heatmap looks, in milliseconds (the page's clock).
pub const WINDOW_MS: f64 = WINDOW_SECS as f64 * 1000.0;

/// The level of a placement `age_secs` old: 255 this second, down to 1
/// just inside the window, 0 outside it.
pub fn level(age_secs: u32) -> u8 {
    if age_secs >= WINDOW_SECS {
        0
    } else {
        (255 - (age_secs * 254).div_ceil(WINDOW_SECS)) as u8
    }
}

/// How long ago (ms) a level says the pixel was placed, at most: the
/// oldest age that level stands for. `None` for 0 (not within the window).
pub fn age_ms_of_level(level: u8) -> Option<f64> {
    (level > 0).then(|| (255.0 - f64::from(level)) / 254.0 * WINDOW_MS)
}

/// The overlay's color (RGBA) for a placement `age_ms` old: red, more
/// opaque the newer, transparent once outside the window.
pub fn overlay_color(age_ms: f64) -> [u8; 4] {
    if (0.0..WINDOW_MS).contains(&age_ms) {
        let strength = 1.0 - age_ms / WINDOW_MS;
        [255, 40, 0, (64.0 + 191.0 * strength) as u8]
    } else if age_ms < 0.0 {
        // A clock that went back: as new as can be.
        [255, 40, 0, 255]
    } else {
        [0; 4]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn levels_fade_over_the_window_and_vanish_after_it() {
        assert_eq!(level(0), 255);
        assert_eq!(level(WINDOW_SECS - 1), 1);
        assert_eq!(level(WINDOW_SECS), 0);
        assert_eq!(age_ms_of_level(0), None);
        assert_eq!(age_ms_of_level(255), Some(0.0));
        assert_eq!(overlay_color(WINDOW_MS), [0; 4]);
        assert_eq!(overlay_color(0.0), [255, 40, 0, 255]);
    }

    proptest! {
        /// What the page reads back from the server's level is the age it
        /// was made from, to within one level's span, and never younger.
        #[test]
        fn a_level_read_back_gives_the_age_it_was_made_from(age_secs in 0u32..WINDOW_SECS) {
            let read = age_ms_of_level(level(age_secs)).expect("within the window");
            let age_ms = f64::from(age_secs) * 1000.0;
            let step_ms = WINDOW_MS / 254.0;
            prop_assert!(read >= age_ms - 1e-6, "{read} younger than {age_ms}");
            prop_assert!(read < age_ms + step_ms, "{read} too old for {age_ms}");
        }

        /// Older is never stronger, on either end.
        #[test]
        fn older_is_never_stronger(a in 0u32..700, b in 0u32..700) {
            let (young, old) = (a.min(b), a.max(b));
            prop_assert!(level(young) >= level(old));
            let (young_ms, old_ms) = (f64::from(young) * 1000.0, f64::from(old) * 1000.0);
            prop_assert!(overlay_color(young_ms)[3] >= overlay_color(old_ms)[3]);
        }
    }
}
