//! The live figures: connection state, whether the canvas is frozen, users
//! online, tiles placed.

use crate::live::LiveState;
use leptos::prelude::*;

#[component]
pub fn StatusBar(live: LiveState) -> impl IntoView {
    view! {
        <dl class="status" aria-live="polite">
            <div class="figure">
                <dt>"Status"</dt>
                <dd class="connection">{move || live.connection.get().as_str()}</dd>
            </div>
            <div class="figure frozen" hidden=move || !live.frozen.get()>
                <dt>"Canvas"</dt>
                <dd>"frozen by the moderators"</dd>
            </div>
            <div class="figure">
                <dt>"Online"</dt>
                <dd class="online">{move || live.online.get()}</dd>
            </div>
            <div class="figure">
                <dt>"Tiles placed"</dt>
                <dd class="placed">{move || live.seq.get()}</dd>
            </div>
            <div class="figure">
                <dt>"Pixel"</dt>
                <dd class="coords">
                    {move || live.hover.get().map(|(x, y)| format!("{x}, {y}")).unwrap_or_default()}
                </dd>
                <dd class="pixel-info">{move || live.pixel_info.get()}</dd>
            </div>
        </dl>
    }
}
