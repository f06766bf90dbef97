//! The color picker and the cooldown countdown.

use super::browser;
use crate::live::LiveState;
use crate::palette::PALETTE;
use leptos::prelude::*;

#[component]
pub fn PaletteBar(live: LiveState, colors: u8) -> AnyView {
    let t = live.lang.texts();
    let swatches = PALETTE
        .iter()
        .zip(0u8..colors)
        .map(|(color, index)| {
            let name = t.color_names[usize::from(index)];
            view! {
                <button
                    type="button"
                    class="swatch"
                    role="radio"
                    data-color=index
                    title=name
                    aria-label=name
                    aria-checked=move || (live.selected.get() == index).to_string()
                    style=format!("background-color:{}", color.hex())
                    on:click=move |_| live.selected.set(index)
                ></button>
            }
        })
        .collect_view();
    view! {
        <div class="palette" role="radiogroup" aria-label=t.colors>
            {swatches}
        </div>
    }
    .into_any()
}

#[component]
pub fn CooldownIndicator(live: LiveState) -> AnyView {
    let t = live.lang.texts();
    let text = move || match (live.charges.get(), live.cooldown_left_ms.get()) {
        (None, 0) => t.ready_to_place.to_owned(),
        (None, ms) => (t.next_tile_in)(f64::from(ms) / 1000.0),
        (Some((0, max)), ms) => (t.no_charge)(max, f64::from(ms) / 1000.0),
        (Some((available, max)), _) => (t.charges_ready)(available, max),
    };
    let undo_left = move || live.undo_left_ms.get();
    view! {
        <div class="cooldown" class:waiting=move || live.cooldown_left_ms.get() != 0>
            <span class="cooldown-text">{text}</span>
            <button
                type="button"
                class="undo"
                hidden=move || undo_left() == 0
                aria-keyshortcuts="U Control+Z"
                on:click=move |_| browser::undo()
            >
                {move || (t.undo)(undo_left() / 1000)}
            </button>
            <span class="notice" role="status">{move || live.notice.get()}</span>
            <ReadyAlerts live/>
        </div>
    }
    .into_any()
}

/// The player's choice of being told when a tile is back: a browser
/// notification (the permission is asked for on this click, never on
/// load) and a sound.
#[component]
fn ReadyAlerts(live: LiveState) -> AnyView {
    let t = live.lang.texts();
    let notify = move || live.ready_alerts.get().0;
    let sound = move || live.ready_alerts.get().1;
    view! {
        <span class="ready-alerts">
            <label>
                <input
                    type="checkbox"
                    class="notify-ready"
                    prop:checked=notify
                    on:change=move |event| {
                        browser::set_ready_alerts(event_target_checked(&event), sound())
                    }
                />
                {t.notify_ready}
            </label>
            <label>
                <input
                    type="checkbox"
                    class="sound-ready"
                    prop:checked=sound
                    on:change=move |event| {
                        browser::set_ready_alerts(notify(), event_target_checked(&event))
                    }
                />
                {t.sound}
            </label>
        </span>
    }
    .into_any()
}
