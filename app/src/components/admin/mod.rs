//! The moderators' page, `/admin`: sign in with a moderator's token (kept
//! in this tab's memory only: never stored, gone on reload), then freeze
//! the canvas, draw a rectangle on it to fill or wipe, see who placed a
//! pixel, ban or roll back a session or an address, work through the
//! players' reports, remove chat messages and mute their authors, and read
//! the audit log. Every action is a call to
//! `/api/admin/…` (docs/protocol.md, typed in `crate::api`); the server
//! checks the token on each.
//!
//! The page is a [`Desk`] of shared signals and one component per part:
//! [`SignIn`], [`Selection`] (the canvas and the rectangle drawn on it),
//! [`RectangleTools`], [`TargetTools`], [`FreezeTool`], [`GrowTool`],
//! [`ReportsPanel`], [`ChatPanel`] and [`AuditPanel`]. Each part's view is erased (`AnyView`): nested
//! whole, the page's one view type was too deep for rustc's default
//! recursion limit in a release build (the image's, which does not erase
//! components), and a page of forms gains nothing from static types.

mod audit;
mod chat;
mod reports;
mod selection;
mod sign_in;
mod tools;

use super::browser::{self, Signed};
use crate::{
    geometry::CanvasSize,
    i18n::{AdminTexts, Lang},
};
use audit::AuditPanel;
use chat::ChatPanel;
use leptos::{html, prelude::*};
use reports::ReportsPanel;
use selection::{Rect, Selection};
use serde::{de::DeserializeOwned, Serialize};
use sign_in::SignIn;
use tools::{FreezeTool, GrowTool, RectangleTools, TargetTools};

/// What the parts of the page share.
#[derive(Clone, Copy)]
struct Desk {
    /// The token and name, once the server accepted them.
    signed: RwSignal<Option<Signed>>,
    /// The line that reports the last action.
    message: RwSignal<String>,
    /// Bumped after each action: the parts that show the server's state
    /// (the canvas image, the freeze, the reports, the audit log) read it
    /// again.
    version: RwSignal<u32>,
    /// The rectangle drawn on the canvas.
    selection: RwSignal<Option<Rect>>,
    /// The path the canvas is served under: empty for the default canvas,
    /// `/c/<name>` for another (`CANVASES`), which has a moderators' page
    /// of its own there.
    base: StoredValue<String>,
    /// The page's language, and its messages.
    lang: Lang,
    t: &'static AdminTexts,
    /// Whom the session and address tools act on: the "who placed" answer
    /// fills these in.
    target_kind: NodeRef<html::Select>,
    target_input: NodeRef<html::Input>,
}

impl Desk {
    fn new(base: String, lang: Lang) -> Self {
        Self {
            signed: RwSignal::new(None),
            message: RwSignal::new(String::new()),
            version: RwSignal::new(0),
            selection: RwSignal::new(None),
            target_kind: NodeRef::new(),
            target_input: NodeRef::new(),
            base: StoredValue::new(base),
            lang,
            t: lang.admin(),
        }
    }

    /// The URL of `/api/admin/<path>` for this page's canvas.
    fn url(self, path: &str) -> String {
        format!("{}/api/admin/{path}", self.base.get_value())
    }

    fn say(self, message: impl Into<String>) {
        self.message.set(message.into());
    }

    /// Has everything that shows the server's state read it again.
    fn refresh(self) {
        self.version.update(|v| *v += 1);
    }

    /// Reads `/api/admin/<path>` whenever the desk refreshes, once signed
    /// in, and hands each answer to `show`.
    fn watch<T: DeserializeOwned + 'static>(
        self,
        path: impl Fn() -> String + 'static,
        show: impl Fn(T) + Copy + 'static,
    ) {
        Effect::new(move |_| {
            let _ = self.version.get();
            // Read in the effect: a path made of signals is read again as
            // they change.
            let path = path();
            let Some(signed) = self.signed.get() else {
                return;
            };
            browser::admin_get(signed, self.url(&path), move |answer| {
                if let Ok(answer) = answer {
                    show(answer);
                }
            });
        });
    }

    /// Runs an action, says how it went (`report` words its answer), and
    /// refreshes.
    fn act<B, T>(self, path: &'static str, body: B, report: fn(&AdminTexts, &T) -> String)
    where
        B: Serialize + 'static,
        T: DeserializeOwned + 'static,
    {
        let Some(signed) = self.signed.get_untracked() else {
            return;
        };
        self.say(self.t.working);
        browser::admin_post(signed, self.url(path), body, move |answer: Result<T, _>| {
            self.say(match answer {
                Ok(answer) => report(self.t, &answer),
                Err(error) => (self.t.refused)(&error),
            });
            self.refresh();
        });
    }
}

#[component]
pub fn AdminPage(size: CanvasSize, base: String, lang: Lang) -> impl IntoView {
    let back = format!("{base}/");
    let desk = Desk::new(base, lang);
    let t = desk.t;
    // Effects run in the browser only: `data-ready` says the page is
    // hydrated, its buttons live (the browser tests wait for it).
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    view! {
        <div class="admin" data-ready=move || ready.get().to_string()>
            <header class="topbar">
                <h1 class="brand">{t.heading}</h1>
                <a href=back>{lang.texts().back_to_canvas}</a>
            </header>
            <p class="admin-result" role="status">{move || desk.message.get()}</p>
            <SignIn desk/>
            <div class="admin-tools" hidden=move || desk.signed.get().is_none()>
                <Selection size desk/>
                <section class="admin-actions">
                    <RectangleTools desk/>
                    <TargetTools desk/>
                    <FreezeTool desk/>
                    <GrowTool size desk/>
                </section>
                <ReportsPanel size desk/>
                <ChatPanel desk/>
                <AuditPanel desk/>
            </div>
        </div>
    }
}
