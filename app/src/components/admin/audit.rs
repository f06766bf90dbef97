//! The audit log, newest first: the last twenty entries, read again after
//! each action.

use super::Desk;
use crate::api::{AuditLog, AuditRecord};
use leptos::prelude::*;

#[component]
pub(super) fn AuditPanel(desk: Desk) -> AnyView {
    let entries = RwSignal::new(Vec::<AuditRecord>::new());
    desk.watch(
        || "audit?count=20".into(),
        move |log: AuditLog| entries.set(log.entries),
    );
    let rows = move || {
        entries
            .get()
            .into_iter()
            .map(|entry| {
                let line = format!(
                    "{} · {} ({}) · {} {}",
                    entry.at, entry.by, entry.address, entry.action, entry.details
                );
                view! { <li>{line}</li> }
            })
            .collect_view()
    };
    view! {
        <section class="admin-audit-panel">
            <h2>{desk.t.audit}</h2>
            <ol class="admin-audit">{rows}</ol>
        </section>
    }
    .into_any()
}
