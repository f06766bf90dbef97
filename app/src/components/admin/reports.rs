//! The moderators' queue of players' reports, on `/admin`: each report
//! with a preview of its area (cut from the canvas image), who last placed
//! there, and one click to roll that session back, ban it, or dismiss the
//! report. Each click is an ordinary admin call; resolving is audited.

use super::Desk;
use crate::{
    api::{Ban, ChatRemove, ReportRecord, Reports, Resolve, Resolved, Rollback},
    components::browser::{self, Signed},
    geometry::CanvasSize,
};
use leptos::prelude::*;
use serde::de::IgnoredAny;

/// The preview's side, in screen pixels.
const PREVIEW: f64 = 160.0;
/// Canvas pixels shown around the reported area.
const MARGIN: f64 = 8.0;
/// How far back a one-click rollback reaches, and how long its ban lasts.
const ONE_CLICK_MINUTES: u64 = 60;

/// The CSS that shows the area of `report` (and a margin) from the canvas
/// image, scaled up, and the box marking the area itself.
fn preview_styles(report: &ReportRecord, size: CanvasSize, version: u32) -> (String, String) {
    let (x, y) = (f64::from(report.x), f64::from(report.y));
    let (w, h) = (f64::from(report.width), f64::from(report.height));
    let scale = PREVIEW / (w.max(h) + 2.0 * MARGIN);
    let image = format!(
        "width:{PREVIEW}px;height:{PREVIEW}px;background-image:url(/api/canvas.png?v={version});\
         background-size:{}px {}px;background-position:{}px {}px",
        f64::from(size.width) * scale,
        f64::from(size.height) * scale,
        -(x - MARGIN) * scale,
        -(y - MARGIN) * scale,
    );
    let area = format!(
        "left:{}px;top:{}px;width:{}px;height:{}px",
        MARGIN * scale,
        MARGIN * scale,
        w * scale,
        h * scale
    );
    (image, area)
}

/// What one click on a report does to its last placer before the report
/// is resolved.
#[derive(Clone, Copy)]
enum Verdict {
    RollBack,
    Ban,
    /// A reported chat message: removed from every page.
    RemoveMessage,
    Dismiss,
}

impl Verdict {
    /// What the audit log records as the report's outcome.
    fn outcome(self) -> &'static str {
        match self {
            Self::RollBack => "rolled back",
            Self::Ban => "banned",
            Self::RemoveMessage => "message removed",
            Self::Dismiss => "dismissed",
        }
    }
}

/// Takes the report off the queue with what was done.
fn resolve(desk: Desk, signed: Signed, id: String, verdict: Verdict) {
    let outcome = verdict.outcome();
    let body = Resolve {
        id,
        outcome: outcome.to_owned(),
    };
    browser::admin_post(
        signed,
        desk.url("reports/resolve"),
        body,
        move |answer: Result<Resolved, _>| {
            desk.say(match answer {
                Ok(_) => (desk.t.resolved)(outcome),
                Err(error) => (desk.t.refused)(&error),
            });
            desk.refresh();
        },
    );
}

/// Acts on the report's last placer (if the history knows one), then
/// resolves the report.
fn decide(desk: Desk, report: &ReportRecord, verdict: Verdict) {
    let Some(signed) = desk.signed.get_untracked() else {
        return;
    };
    let id = report.id.clone();
    let session = report.session.clone();
    let then_resolve = {
        let (signed, id) = (signed.clone(), id.clone());
        move |answer: Result<IgnoredAny, String>| match answer {
            Ok(_) => resolve(desk, signed, id, verdict),
            Err(error) => desk.say((desk.t.refused)(&error)),
        }
    };
    match (verdict, session) {
        (Verdict::Dismiss, _) => resolve(desk, signed, id, verdict),
        (Verdict::RemoveMessage, _) => {
            let Some(message) = &report.message else {
                return;
            };
            let body = ChatRemove {
                id: message.id,
                faction: message.faction,
                removed: false,
            };
            browser::admin_post(signed, desk.url("chat/remove"), body, then_resolve);
        }
        (_, None) => desk.say(desk.t.nobody_known),
        (Verdict::RollBack, Some(session)) => {
            let body = Rollback {
                session: Some(session),
                address: None,
                range: None,
                minutes: ONE_CLICK_MINUTES,
            };
            browser::admin_post(signed, desk.url("rollback"), body, then_resolve);
        }
        (Verdict::Ban, Some(session)) => {
            let body = Ban {
                session: Some(session),
                minutes: Some(ONE_CLICK_MINUTES),
                ..Ban::default()
            };
            browser::admin_post(signed, desk.url("ban"), body, then_resolve);
        }
    }
}

#[component]
pub(super) fn ReportsPanel(size: CanvasSize, desk: Desk) -> AnyView {
    let reports = RwSignal::new(Vec::<ReportRecord>::new());
    desk.watch(
        || "reports".into(),
        move |queue: Reports| reports.set(queue.reports),
    );
    let rows = move || {
        let current = desk.version.get();
        reports
            .get()
            .into_iter()
            .map(|report| {
                let on = {
                    let report = report.clone();
                    move |verdict: Verdict| {
                        let report = report.clone();
                        move |_| decide(desk, &report, verdict)
                    }
                };
                if let Some(message) = report.message.clone() {
                    let author = message.name.clone().unwrap_or_else(|| message.player.clone());
                    let summary = (desk.t.message_report_line)(&report.at, &report.reason, &author, &message.player);
                    return view! {
                        <li class="admin-report">
                            <blockquote class="admin-report-message">{message.text}</blockquote>
                            <p class="admin-report-summary">{summary}</p>
                            <button type="button" class="admin-report-remove" on:click=on(Verdict::RemoveMessage)>
                                {desk.t.remove}
                            </button>
                            <button type="button" class="admin-report-ban" on:click=on(Verdict::Ban)>
                                {desk.t.ban_hour}
                            </button>
                            <button type="button" class="admin-report-dismiss" on:click=on(Verdict::Dismiss)>
                                {desk.t.dismiss}
                            </button>
                        </li>
                    }
                    .into_any();
                }
                let (image, area) = preview_styles(&report, size, current);
                let reported = format!(
                    "({}, {}) {}×{}",
                    report.x, report.y, report.width, report.height
                );
                let summary = (desk.t.report_line)(
                    &reported,
                    &report.at,
                    &report.reason,
                    report
                        .placed_by
                        .as_deref()
                        .unwrap_or(desk.lang.texts().anonymous),
                    report.session.as_deref().unwrap_or("?"),
                    report.address.as_deref().unwrap_or("?"),
                );
                view! {
                    <li class="admin-report">
                        <div class="admin-report-preview" style=image>
                            <div class="admin-report-area" style=area></div>
                        </div>
                        <p class="admin-report-summary">{summary}</p>
                        <button
                            type="button"
                            class="admin-report-rollback"
                            on:click=on(Verdict::RollBack)
                        >
                            {desk.t.roll_back_hour}
                        </button>
                        <button type="button" class="admin-report-ban" on:click=on(Verdict::Ban)>
                            {desk.t.ban_hour}
                        </button>
                        <button
                            type="button"
                            class="admin-report-dismiss"
                            on:click=on(Verdict::Dismiss)
                        >
                            {desk.t.dismiss}
                        </button>
                    </li>
                }
                .into_any()
            })
            .collect_view()
    };
    view! {
        <section class="admin-reports-panel">
            <h2>{desk.t.reports}</h2>
            <p class="admin-hint" hidden=move || !reports.get().is_empty()>{desk.t.no_reports}</p>
            <ol class="admin-reports">{rows}</ol>
        </section>
    }
    .into_any()
}
