//! The moderators' queue of players' reports, on `/admin`: each report
//! with a preview of its area (cut from the canvas image), who last placed
//! there, and one click to roll that session back, ban it, or dismiss the
//! report. Each click is an ordinary admin call; resolving is audited.

use super::admin::{send, Signed};
use crate::geometry::CanvasSize;
use leptos::prelude::*;
use serde_json::{json, Value};

/// The preview's side, in screen pixels.
const PREVIEW: f64 = 160.0;
/// Canvas pixels shown around the reported area.
const MARGIN: f64 = 8.0;
/// How far back a one-click rollback reaches, and how long its ban lasts.
const ONE_CLICK_MINUTES: u64 = 60;

/// The CSS that shows the area of `report` (and a margin) from the canvas
/// image, scaled up, and the box marking the area itself.
fn preview_styles(report: &Value, size: CanvasSize, version: u32) -> (String, String) {
    let number = |name: &str| report[name].as_f64().unwrap_or(0.0);
    let (x, y, w, h) = (number("x"), number("y"), number("width"), number("height"));
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

#[component]
pub fn ReportsPanel(
    size: CanvasSize,
    signed: RwSignal<Option<Signed>>,
    message: RwSignal<String>,
    /// Bumped whenever the page refreshes what it shows.
    version: RwSignal<u32>,
) -> impl IntoView {
    let reports = RwSignal::new(Vec::<Value>::new());
    Effect::new(move |_| {
        let _ = version.get();
        let Some(credentials) = signed.get() else {
            return;
        };
        send(credentials, "reports", None, move |answer| {
            if let Ok(queue) = answer {
                reports.set(queue["reports"].as_array().cloned().unwrap_or_default());
            }
        });
    });
    // An action on the report's last placer (if any), then the report off
    // the queue with what was done.
    let resolve = move |report: Value, action: Option<&'static str>| {
        let Some(credentials) = signed.get_untracked() else {
            return;
        };
        let id = report["id"].clone();
        let finish = move |credentials: Signed, outcome: &'static str| {
            send(
                credentials,
                "reports/resolve",
                Some(json!({ "id": id, "outcome": outcome })),
                move |answer| {
                    message.set(match answer {
                        Ok(_) => format!("Report resolved: {outcome}."),
                        Err(error) => format!("Refused: {error}"),
                    });
                    version.update(|v| *v += 1);
                },
            );
        };
        let Some(action) = action else {
            finish(credentials, "dismissed");
            return;
        };
        let Some(session) = report["session"].as_str().map(str::to_owned) else {
            message.set("Nobody placed there that the history knows of.".into());
            return;
        };
        let body = json!({ "session": session, "minutes": ONE_CLICK_MINUTES });
        let outcome = if action == "ban" {
            "banned"
        } else {
            "rolled back"
        };
        send(
            credentials.clone(),
            action,
            Some(body),
            move |answer| match answer {
                Ok(_) => finish(credentials, outcome),
                Err(error) => message.set(format!("Refused: {error}")),
            },
        );
    };
    let rows = move || {
        let current = version.get();
        reports
            .get()
            .into_iter()
            .map(|report| {
                let (image, area) = preview_styles(&report, size, current);
                let summary = format!(
                    "({}, {}) {}×{} · {} · “{}” · last placed by {} ({}, {})",
                    report["x"],
                    report["y"],
                    report["width"],
                    report["height"],
                    report["at"].as_str().unwrap_or_default(),
                    report["reason"].as_str().unwrap_or_default(),
                    report["placed_by"].as_str().unwrap_or("anonymous"),
                    report["session"].as_str().unwrap_or("?"),
                    report["address"].as_str().unwrap_or("?"),
                );
                let (for_rollback, for_ban) = (report.clone(), report.clone());
                view! {
                    <li class="admin-report">
                        <div class="admin-report-preview" style=image>
                            <div class="admin-report-area" style=area></div>
                        </div>
                        <p class="admin-report-summary">{summary}</p>
                        <button
                            type="button"
                            class="admin-report-rollback"
                            on:click=move |_| resolve(for_rollback.clone(), Some("rollback"))
                        >
                            "Roll back their last hour"
                        </button>
                        <button
                            type="button"
                            class="admin-report-ban"
                            on:click=move |_| resolve(for_ban.clone(), Some("ban"))
                        >
                            "Ban them for an hour"
                        </button>
                        <button
                            type="button"
                            class="admin-report-dismiss"
                            on:click=move |_| resolve(report.clone(), None)
                        >
                            "Dismiss"
                        </button>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <section class="admin-reports-panel">
            <h2>"Players' reports (newest first)"</h2>
            <p class="admin-hint" hidden=move || !reports.get().is_empty()>"No open reports."</p>
            <ol class="admin-reports">{rows}</ol>
        </section>
    }
}
