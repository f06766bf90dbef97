//! Time travel's controls: opening the panel shows the canvas's past over
//! the live one, a slider picks the moment (by seq, from the blank canvas
//! to now), play runs it as a timelapse, and closing the panel (or "Back to
//! live") returns to the live canvas, which kept up meanwhile.

use super::browser;
use crate::live::LiveState;
use leptos::{ev, html, prelude::*};

#[component]
pub fn HistoryPanel(live: LiveState) -> AnyView {
    let t = live.lang.texts();
    let details = NodeRef::<html::Details>::new();
    let status = move || live.history.get();
    let shown = move || status().map_or(0, |s| s.shown);
    let label = move || {
        let Some(status) = status() else {
            return String::new();
        };
        let mut label = (t.tile_of)(status.shown, live.seq.get());
        match (&status.archived_at, status.beyond_history) {
            (_, true) => label.push_str(t.beyond_history),
            (Some(at), false) => {
                label.push_str(&(t.rebuilt_from)(
                    &at.get(..16).unwrap_or(at).replace('T', " "),
                ));
            }
            (None, false) => {}
        }
        label
    };

    let toggled = move |_: ev::Event| {
        let open = details.get_untracked().is_some_and(|d| d.open());
        if open {
            browser::open_history();
        } else {
            browser::close_history();
        }
    };
    let slide = move |event: ev::Event| {
        if let Ok(seq) = event_target_value(&event).parse::<u64>() {
            browser::seek_history(seq);
        }
    };
    let play = move |_: ev::MouseEvent| browser::toggle_history_play();
    // At once: the panel's own `toggle` event comes a task later.
    let back_to_live = move |_: ev::MouseEvent| {
        browser::close_history();
        if let Some(details) = details.get_untracked() {
            details.set_open(false);
        }
    };

    view! {
        <details class="history-panel" node_ref=details on:toggle=toggled>
            <summary>{t.history}</summary>
            <div class="history-controls">
                <button
                    type="button"
                    class="history-play"
                    aria-pressed=move || status().is_some_and(|s| s.playing).to_string()
                    on:click=play
                >
                    {move || if status().is_some_and(|s| s.playing) { t.pause } else { t.play }}
                </button>
                <input
                    class="history-slider"
                    type="range"
                    min="0"
                    max=move || live.seq.get()
                    step="1"
                    aria-label=t.moment
                    prop:value=shown
                    on:input=slide
                />
                <button type="button" class="history-live" on:click=back_to_live>
                    {t.back_to_live}
                </button>
            </div>
            <p class="history-label" role="status">{label}</p>
        </details>
    }
    .into_any()
}
