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
    /// The template this page follows, if any: the id the server gave it,
    /// and the page's slot it shows.
    static FOLLOWED: Cell<Option<(u64, usize)>> = const { Cell::new(None) };
}

fn followed_id() -> Option<u64> {
    FOLLOWED.with(Cell::get).map(|(id, _)| id)
}

/// Has the server watch the template the page shows (for the player's
/// faction, `for_faction`), then follows it.
pub fn watch_template(name: String, for_faction: bool) {
    let Some((new, live, slot)) = with_client(|client| {
        let t = client.live.lang.texts();
        let refuse = |why: &str| {
            client.live.notice.set(Some(why.to_owned()));
            None
        };
        let status = client.live.template.get_untracked()?;
        let template = client.paint.template()?;
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
            faction: for_faction,
            webhook: None,
        };
        Some((new, client.live, client.paint.active))
    })
    .flatten() else {
        return;
    };
    leptos::task::spawn_local(async move {
        match http::post_json::<_, Watching>(&scoped("/api/templates"), &new).await {
            Ok(Some(watching)) => {
                query::update_owned(&[(
                    query::slot_key("tw", slot),
                    Some(watching.id.to_string()),
                )]);
                query::remember_template();
                follow(watching.id, slot, live);
            }
            Ok(None) => {}
            Err(error) => live.notice.set(Some(error.to_string())),
        }
    });
}

/// Follows the template the page's address names (`tw`, or `tw2`… for
/// another slot's), if any.
pub fn follow_from_url(live: LiveState) {
    let Some(params) = query::params()
        .filter(query::has_template)
        .or_else(query::remembered_template)
    else {
        return;
    };
    let watched = (0..crate::live::TEMPLATE_SLOTS).find_map(|slot| {
        let id = params.get(&query::slot_key("tw", slot))?.parse().ok()?;
        Some((id, slot))
    });
    if let Some((id, slot)) = watched {
        follow(id, slot, live);
    }
}

/// Follows template `id` (shown in `slot`) from now on: its progress now,
/// and every [`POLL`].
fn follow(id: u64, slot: usize, live: LiveState) {
    let first = FOLLOWED
        .with(|followed| followed.replace(Some((id, slot))))
        .is_none();
    refresh(live);
    if first {
        super::every(POLL, move || refresh(live));
    }
}

/// Stops following the template shown in `slot` (it was removed from the
/// page).
pub fn unfollow_slot(slot: usize, live: LiveState) {
    if FOLLOWED
        .with(Cell::get)
        .is_some_and(|(_, shown)| shown == slot)
    {
        FOLLOWED.with(|followed| followed.set(None));
        live.watched.set(None);
    }
    query::update_owned(&[(query::slot_key("tw", slot), None)]);
}

fn refresh(live: LiveState) {
    let Some(id) = followed_id() else {
        return;
    };
    leptos::task::spawn_local(async move {
        let url = scoped(&format!("/api/templates/{id}"));
        // Not watched (yet, or any more): nothing to show.
        let progress = http::get_json::<WatchedProgress>(&url).await.ok();
        if followed_id() == Some(id) {
            live.watched.set(progress);
        }
    });
}

/// A `TemplateAlert`: shown if it is the followed template's.
pub fn alerted(id: u64, damaged: u32, live: LiveState) {
    if followed_id() != Some(id) {
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
