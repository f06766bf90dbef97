//! The live figures: connection state, whether the canvas is frozen, users
//! online, tiles placed.

use crate::live::{Connection, LiveState};
use leptos::prelude::*;

#[component]
pub fn StatusBar(live: LiveState) -> AnyView {
    let t = live.lang.texts();
    let connection = move || match live.connection.get() {
        Connection::Connecting => t.connecting,
        Connection::Live => t.live,
        Connection::Reconnecting => t.reconnecting,
        Connection::Offline => t.offline,
    };
    view! {
        <dl class="status" aria-live="polite">
            <div class="figure">
                <dt>{t.status}</dt>
                <dd class="connection">{connection}</dd>
            </div>
            <div class="figure frozen" hidden=move || !live.frozen.get()>
                <dt>{t.canvas}</dt>
                <dd>{t.frozen}</dd>
            </div>
            <div class="figure">
                <dt>{t.online}</dt>
                <dd class="online">{move || live.online.get()}</dd>
            </div>
            <div class="figure">
                <dt>{t.tiles_placed}</dt>
                <dd class="placed">{move || live.seq.get()}</dd>
            </div>
            <div class="figure">
                <dt>{t.pixel}</dt>
                <dd class="coords">
                    {move || live.hover.get().map(|(x, y)| format!("{x}, {y}")).unwrap_or_default()}
                </dd>
                <dd class="pixel-info">{move || live.pixel_info.get()}</dd>
            </div>
        </dl>
    }
    .into_any()
}
