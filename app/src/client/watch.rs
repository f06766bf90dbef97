//! A template the server watches (docs/protocol.md, "Watched templates"):
//! the page registers the template it shows, then follows it (`tw=<id>` in
//! its address, so a shared link follows it too): the server's progress
//! read every few seconds, and a `TemplateAlert` for it shown as a notice.

use super::{http, query, scoped, with_client};
use crate::{
    api::{NewWatch, WatchedProgress, Watching},
    live::LiveState,
    watched::{check_size, encode_pixels},
};
use leptos::prelude::{GetUntracked, Set};
use std::{cell::Cell, time::Duration};

/// How often a followed template's progress is read.
const POLL: Duration = Duration::from_secs(5);

thread_local! {
    /// The template this page follows, if any.
    static FOLLOWED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Has the server watch the template the page shows, then follows it.
pub fn watch_template(name: String) {
    let Some((new, live)) = with_client(|client| {
        let t = client.live.lang.texts();
        let refuse = |why: &str| {
            client.live.notice.set(Some(why.to_owned()));
            None
        };
        let status = client.live.template.get_untracked()?;
        let template = client.paint.template.as_ref()?;
        let (width, height, colors) = template.image()?;
        let (Ok(x), Ok(y), Ok(w), Ok(h)) = (
            u16::try_from(status.x),
            u16::try_from(status.y),
            u16::try_from(width),
            u16::try_from(height),
        ) else {
            return refuse(t.watch_needs_canvas);
        };
        if check_size(w, h).is_err() {
            return refuse(t.watch_too_large);
        }
        let name = name.trim();
        let new = NewWatch {
            name: if name.is_empty() { t.template } else { name }
                .chars()
                .take(40)
                .collect(),
            x,
            y,
            width: w,
            height: h,
            pixels: encode_pixels(colors),
            threshold: None,
            faction: false,
            webhook: None,
        };
        Some((new, client.live))
    })
    .flatten() else {
        return;
    };
    leptos::task::spawn_local(async move {
        match http::post_json::<_, Watching>(&scoped("/api/templates"), &new).await {
            Ok(Some(watching)) => {
                query::update(&[("tw", Some(watching.id.to_string()))]);
                query::remember_template();
                follow(watching.id, live);
            }
            Ok(None) => {}
            Err(error) => live.notice.set(Some(error.to_string())),
        }
    });
}

/// Follows the template the page's address names (`tw`), if any.
pub fn follow_from_url(live: LiveState) {
    let id = query::params()
        .filter(|params| params.has("tw"))
        .or_else(query::remembered_template)
        .and_then(|params| params.get("tw"))
        .and_then(|id| id.parse().ok());
    if let Some(id) = id {
        follow(id, live);
    }
}

/// Follows template `id` from now on: its progress now, and every
/// [`POLL`].
fn follow(id: u64, live: LiveState) {
    let first = FOLLOWED
        .with(|followed| followed.replace(Some(id)))
        .is_none();
    refresh(live);
    if first {
        super::every(POLL, move || refresh(live));
    }
}

/// Stops following (the template was removed from the page).
pub fn unfollow(live: LiveState) {
    FOLLOWED.with(|followed| followed.set(None));
    live.watched.set(None);
    query::update(&[("tw", None)]);
}

fn refresh(live: LiveState) {
    let Some(id) = FOLLOWED.with(Cell::get) else {
        return;
    };
    leptos::task::spawn_local(async move {
        let url = scoped(&format!("/api/templates/{id}"));
        // Not watched (yet, or any more): nothing to show.
        let progress = http::get_json::<WatchedProgress>(&url).await.ok();
        if FOLLOWED.with(Cell::get) == Some(id) {
            live.watched.set(progress);
        }
    });
}

/// A `TemplateAlert`: shown if it is the followed template's.
pub fn alerted(id: u64, damaged: u32, live: LiveState) {
    if FOLLOWED.with(Cell::get) != Some(id) {
        return;
    }
    let t = live.lang.texts();
    let name = live
        .watched
        .get_untracked()
        .map(|progress| progress.name)
        .unwrap_or_else(|| t.template.to_owned());
    live.notice.set(Some((t.template_damaged)(&name, damaged)));
    refresh(live);
}
