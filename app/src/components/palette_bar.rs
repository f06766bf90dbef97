//! The color picker and the cooldown countdown.

use crate::live::LiveState;
use crate::palette::PALETTE;
use leptos::prelude::*;

#[component]
pub fn PaletteBar(live: LiveState, colors: u8) -> impl IntoView {
    let swatches = PALETTE
        .iter()
        .zip(0u8..colors)
        .map(|(color, index)| {
            view! {
                <button
                    type="button"
                    class="swatch"
                    role="radio"
                    data-color=index
                    title=color.name
                    aria-label=color.name
                    aria-checked=move || (live.selected.get() == index).to_string()
                    style=format!("background-color:{}", color.hex())
                    on:click=move |_| live.selected.set(index)
                ></button>
            }
        })
        .collect_view();
    view! {
        <div class="palette" role="radiogroup" aria-label="Colors">
            {swatches}
        </div>
    }
}

#[component]
pub fn CooldownIndicator(live: LiveState) -> impl IntoView {
    let text = move || match live.cooldown_left_ms.get() {
        0 => "Ready to place".to_owned(),
        ms => format!("Next tile in {:.1} s", f64::from(ms) / 1000.0),
    };
    view! {
        <div class="cooldown" class:waiting=move || live.cooldown_left_ms.get() != 0>
            <span class="cooldown-text">{text}</span>
            <span class="notice" role="status">{move || live.notice.get()}</span>
        </div>
    }
}
