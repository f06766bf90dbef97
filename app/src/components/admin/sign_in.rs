//! The sign-in form: the token and the moderator's name, checked by one
//! call to `status` before the tools show.

use super::Desk;
use crate::{api::Frozen, components::browser};
use leptos::{ev, html, prelude::*};

#[component]
pub(super) fn SignIn(desk: Desk) -> AnyView {
    let token_input = NodeRef::<html::Input>::new();
    let name_input = NodeRef::<html::Input>::new();
    let sign_in = move |event: ev::SubmitEvent| {
        event.prevent_default();
        let value = |input: NodeRef<html::Input>| {
            input
                .get_untracked()
                .map(|i| i.value().trim().to_owned())
                .unwrap_or_default()
        };
        let signed = (value(token_input), value(name_input));
        let trying = signed.clone();
        browser::admin_get(
            trying,
            desk.url("status"),
            move |answer: Result<Frozen, _>| match answer {
                Ok(_) => {
                    desk.signed.set(Some(signed));
                    desk.say(desk.t.signed_in);
                    desk.refresh();
                }
                Err(error) => desk.say((desk.t.not_signed_in)(&error)),
            },
        );
    };
    view! {
        <form class="admin-sign-in" hidden=move || desk.signed.get().is_some() on:submit=sign_in>
            <label>
                {desk.t.token}
                <input
                    class="admin-token"
                    node_ref=token_input
                    type="password"
                    autocomplete="off"
                    required
                />
            </label>
            <label>
                {desk.t.your_name}
                <input class="admin-name" node_ref=name_input autocomplete="nickname"/>
            </label>
            <button type="submit">{desk.t.sign_in}</button>
            <p class="admin-hint">{desk.t.token_kept}</p>
        </form>
    }
    .into_any()
}
