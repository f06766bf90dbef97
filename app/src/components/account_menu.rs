//! Signing in and out, and deleting one's account: plain links and forms to
//! the server's `/auth/…` routes (the provider's pages are full-page
//! navigations anyway), so they work before and without the WASM.

use crate::{api::Account, i18n::Lang};
use leptos::prelude::*;

/// Nothing when the deployment offers no provider.
#[component]
pub fn AccountMenu(account: Account, base: String, lang: Lang) -> AnyView {
    if account.providers.is_empty() {
        return ().into_any();
    }
    let t = lang.texts();
    let back_to = if base.is_empty() {
        "/".to_owned()
    } else {
        base
    };
    let summary = match &account.signed_in {
        Some(signed_in) => (t.signed_in_with)(&signed_in.provider_name),
        None => t.account.to_owned(),
    };
    let body = match account.signed_in {
        None => account
            .providers
            .into_iter()
            .map(|provider| {
                let href = format!("/auth/{}/login?return={back_to}", provider.id);
                view! {
                    <a class="button sign-in" href=href data-provider=provider.id.clone()>
                        {(t.sign_in_with)(&provider.name)}
                    </a>
                }
            })
            .collect_view()
            .into_any(),
        Some(_) => view! {
            <form method="post" action="/auth/logout">
                <input type="hidden" name="return" value=back_to.clone()/>
                <button type="submit" class="sign-out">{t.sign_out}</button>
            </form>
            <details class="delete-account">
                <summary>{t.delete_account}</summary>
                <p>{t.delete_account_what}</p>
                <form method="post" action="/auth/delete">
                    <input type="hidden" name="return" value=back_to/>
                    <button type="submit" class="danger">{t.delete_account_confirm}</button>
                </form>
            </details>
        }
        .into_any(),
    };
    view! {
        <details class="account-menu">
            <summary>{summary}</summary>
            <div class="account-menu-body">{body}</div>
        </details>
    }
    .into_any()
}
