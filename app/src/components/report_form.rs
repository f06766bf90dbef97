//! "Report this pixel": a player sends the pixel under the reticle (or the
//! pointer) to the moderators' queue, with a reason.

use super::browser;
use crate::{live::LiveState, requests::ReportRequest};
use leptos::{ev::SubmitEvent, html, prelude::*};

#[component]
pub fn ReportForm(live: LiveState) -> AnyView {
    let t = live.lang.texts();
    let reason = NodeRef::<html::Input>::new();
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let Some((x, y)) = live.hover.get_untracked() else {
            live.notice.set(Some(t.report_point_first.into()));
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
            <summary>{t.report}</summary>
            <form class="report-form" on:submit=on_submit>
                <label for="report-reason">{t.report_label}</label>
                <input
                    id="report-reason"
                    node_ref=reason
                    name="reason"
                    maxlength=ReportRequest::MAX_REASON
                    placeholder=t.report_reason
                />
                <button type="submit">{t.report_send}</button>
            </form>
        </details>
    }
    .into_any()
}
