//! The first-visit hint over the stage: how to place. It floats over the
//! canvas (it never moves the layout) and lets every pointer through.

use super::browser;
use crate::i18n::Lang;
use leptos::prelude::*;

#[component]
pub fn PlaceHint(lang: Lang) -> AnyView {
    let t = lang.texts();
    // Hidden in the server's HTML: only the browser knows whether it was
    // seen.
    let shown = RwSignal::new(false);
    browser::place_hint(shown);
    view! {
        <div class="place-hint" role="status" hidden=move || !shown.get()>
            <strong>{t.hint_title}</strong>
            <span>{t.hint_body}</span>
        </div>
    }
    .into_any()
}
