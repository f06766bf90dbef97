//! The display name shown as "placed by" on the user's tiles.

use super::browser;
use crate::{live::LiveState, name::DisplayName};
use leptos::{ev::SubmitEvent, html, prelude::*};

#[component]
pub fn NameForm(initial: Option<String>, live: LiveState) -> AnyView {
    let t = live.lang.texts();
    let input = NodeRef::<html::Input>::new();
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if let Some(input) = input.get_untracked() {
            browser::save_name(input.value(), live);
        }
    };
    view! {
        <form class="name-form" on:submit=on_submit>
            <label for="display-name">{t.name}</label>
            <input
                id="display-name"
                node_ref=input
                name="name"
                minlength=DisplayName::MIN_CHARS
                maxlength=DisplayName::MAX_CHARS
                placeholder=t.anonymous
                autocomplete="nickname"
                value=initial.unwrap_or_default()
            />
            <button type="submit">{t.save}</button>
        </form>
    }
    .into_any()
}
