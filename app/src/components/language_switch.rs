//! The language switch: the page in another of its languages. The choice
//! goes into a cookie the server renders the next page by, so the page is
//! reloaded in it (server-rendered, like any page).

use super::browser;
use crate::i18n::Lang;
use leptos::{ev, prelude::*};

#[component]
pub fn LanguageSwitch(lang: Lang) -> AnyView {
    let picked = move |event: ev::Event| {
        if let Some(chosen) = Lang::parse(&event_target_value(&event)) {
            browser::choose_language(chosen);
        }
    };
    view! {
        <select class="language-switch" aria-label=lang.texts().language on:change=picked>
            {Lang::ALL
                .into_iter()
                .map(|option| {
                    view! {
                        <option value=option.code() selected=option == lang lang=option.code()>
                            {option.name()}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
    .into_any()
}
