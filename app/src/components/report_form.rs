//! "Report this pixel": a player sends the pixel under the reticle (or the
//! pointer) to the moderators' queue, with a reason.

use super::browser;
use crate::{live::LiveState, requests::ReportRequest};
use leptos::{ev::SubmitEvent, html, prelude::*};

#[component]
pub fn ReportForm(live: LiveState) -> impl IntoView {
    let reason = NodeRef::<html::Input>::new();
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let Some((x, y)) = live.hover.get_untracked() else {
            live.notice
                .set(Some("Point at the pixel to report first.".into()));
            return;
        };
        let text = reason
            .get_untracked()
            .map(|input| input.value())
            .unwrap_or_default();
        browser::report_pixel(x, y, text, live);
        if let Some(input) = reason.get_untracked() {
            input.set_value("");
        }
    };
    view! {
        <details class="report-panel">
            <summary>"Report"</summary>
            <form class="report-form" on:submit=on_submit>
                <label for="report-reason">"Report the pixel under the reticle"</label>
                <input
                    id="report-reason"
                    node_ref=reason
                    name="reason"
                    maxlength=ReportRequest::MAX_REASON
                    placeholder="what is wrong here"
                />
                <button type="submit">"Send to moderators"</button>
            </form>
        </details>
    }
}
