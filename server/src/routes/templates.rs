//! `/api/templates…`: templates the server watches for a player or a
//! faction (docs/protocol.md, "Watched templates"). Registering one is a
//! store write and costs every instance a read of its area, so it is the
//! player's own (from the canvas's pages, with a session, signed in where
//! sign-in is offered), a few a minute per address, a few per player and
//! faction, [`MAX_WATCHED`] per canvas. Reading one costs nothing: the
//! instance keeps each one's progress from the placements it applies.

use super::{
    api::is_json,
    visitor::{take_turn, KnownSession, SameSite, Sender},
};
use crate::{
    canvas::{
        encode::template_png,
        watched::{Progress, MAX_WATCHED},
    },
    error::ApiError,
    model::{unix_ms, Badge, SessionId, WatchRecord, Webhook},
    state::AppState,
    webhooks,
};
use app::{
    api::{NewWatch, WatchedList, WatchedProgress, Watching},
    faction::Role,
    template::UNKNOWN,
    watched::decode_pixels,
};
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use std::time::SystemTime;

/// Templates one player watches at most, on each canvas.
pub const PER_PLAYER: usize = 3;

/// Templates one faction watches at most, on each canvas.
pub const PER_FACTION: usize = 10;

/// What alerts are raised at, when the player does not say: this many
/// damaged pixels, or half the template's (rounded up) if it is smaller.
const DEFAULT_THRESHOLD: u32 = 10;

fn bad(why: impl ToString) -> ApiError {
    ApiError::BadRequest(why.to_string())
}

/// The player's badge, where sign-in rules allow them to register.
async fn player(
    state: &AppState,
    session: &SessionId,
) -> Result<(String, Option<Badge>), ApiError> {
    if state.sign_in.is_some() && state.store.linked(session).await?.is_none() {
        return Err(ApiError::Forbidden("sign in to have templates watched"));
    }
    let handle = session.handle();
    let badge = state
        .store
        .badges(std::slice::from_ref(&handle))
        .await?
        .into_iter()
        .flatten()
        .next();
    Ok((handle, badge))
}

/// The role `handle` holds in faction `id`, if a member.
async fn role_in(state: &AppState, id: u64, handle: &str) -> Result<Option<Role>, ApiError> {
    let record = state.store.faction(id).await?;
    Ok(record.and_then(|record| {
        record
            .members
            .into_iter()
            .find(|(member, _)| member == handle)
            .map(|(_, role)| role)
    }))
}

/// `POST /api/templates`: 201 with the id (and the webhook's secret).
pub async fn register(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
    Sender(address): Sender,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType("expected application/json"));
    }
    let new: NewWatch = serde_json::from_slice(&raw).map_err(bad)?;
    let name = new.name.trim();
    if !(1..=40).contains(&name.chars().count()) || name.chars().any(char::is_control) {
        return Err(bad("a template's name has 1 to 40 characters"));
    }
    let size = state.mirror.size();
    if new.x >= size.width || new.y >= size.height {
        return Err(bad("the template's corner must lie on the canvas"));
    }
    let pixels =
        decode_pixels(&new.pixels, new.width, new.height, state.config.colors).map_err(bad)?;
    let painted = pixels.iter().filter(|&&c| c != UNKNOWN).count() as u32;
    let threshold = new
        .threshold
        .unwrap_or(DEFAULT_THRESHOLD.min(painted.div_ceil(2)));
    if !(1..=65_536).contains(&threshold) {
        return Err(bad("threshold is 1 to 65536 damaged pixels"));
    }
    let webhook = match &new.webhook {
        Some(url) => Some(Webhook {
            url: webhooks::check(state.config.webhooks, url)
                .map_err(bad)?
                .to_string(),
            secret: format!("{:032x}", rand::random::<u128>()),
        }),
        None => None,
    };
    let (owner, badge) = player(&state, &session).await?;
    let (faction, faction_tag) = match (new.faction, badge) {
        (false, _) => (None, None),
        (true, None) => return Err(ApiError::Conflict("you are not in a faction")),
        (true, Some(badge)) => {
            let role = role_in(&state, badge.faction, &owner).await?;
            if !role.is_some_and(Role::invites) {
                return Err(ApiError::Forbidden(
                    "only a faction's officers and owner register its templates",
                ));
            }
            (Some(badge.faction), Some(badge.tag))
        }
    };
    let (all, mine, ours) = state.watched.counts(&owner, faction);
    if all >= MAX_WATCHED {
        return Err(ApiError::Conflict(
            "this canvas watches as many templates as it can",
        ));
    }
    if mine >= PER_PLAYER || ours >= PER_FACTION {
        return Err(ApiError::Conflict(
            "you (or your faction) have as many watched templates as allowed: remove one first",
        ));
    }
    take_turn(
        &state.watch_limit,
        address,
        "too many templates registered from this address: try again in a minute",
    )?;
    let webhook_secret = webhook.as_ref().map(|hook| hook.secret.clone());
    let record = WatchRecord {
        id: 0,
        name: name.to_owned(),
        owner,
        faction,
        x: new.x,
        y: new.y,
        width: new.width,
        height: new.height,
        pixels,
        threshold,
        webhook,
        created_ms: unix_ms(SystemTime::now()),
    };
    let id = state.store.add_watch(record.clone()).await?;
    tracing::info!(template = id, "a template is watched");
    // Watched here at once, not when the feed's announcement comes back:
    // the page asks this instance for its progress as soon as it has the
    // id, and the next registration's limits count this one.
    state
        .watched
        .load(WatchRecord { id, ..record }, faction_tag, &state.mirror);
    let mut response = (StatusCode::CREATED, Json(Watching { id, webhook_secret })).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn view(progress: Progress) -> WatchedProgress {
    let record = &progress.record;
    WatchedProgress {
        id: record.id,
        name: record.name.clone(),
        x: record.x,
        y: record.y,
        width: record.width,
        height: record.height,
        faction: progress.faction_tag,
        total: progress.total,
        right: progress.right,
        damaged: progress.damaged,
        damaged_pixels: progress.damaged_pixels,
        rate_per_minute: progress.rate_per_minute,
        threshold: record.threshold,
        alerting: progress.alerting,
    }
}

fn fresh(body: impl serde::Serialize) -> Response {
    let headers = [(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=1"),
    )];
    (headers, Json(body)).into_response()
}

/// `GET /api/templates/{id}`: its progress on this instance, now; and
/// `GET /api/templates/{id}.png`: its image (the pixels it leaves alone
/// transparent), what a link to it loads.
pub async fn progress(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let (id, png) = match file.strip_suffix(".png") {
        Some(id) => (id, true),
        None => (file.as_str(), false),
    };
    let id: u64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let progress = state.watched.progress(id).ok_or(ApiError::NotFound)?;
    if !png {
        return Ok(fresh(view(progress)));
    }
    let record = &progress.record;
    let image = template_png(record.width, record.height, &record.pixels);
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
        // A template's image never changes under its id (the embedded
        // store gives ids again after a restart: an hour, not for good).
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        ),
    ];
    Ok((headers, image).into_response())
}

/// `?faction=<id>`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    faction: Option<u64>,
}

/// `GET /api/templates`: every watched template of this canvas, or one
/// faction's, newest first.
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let templates = state
        .watched
        .list(query.faction)
        .into_iter()
        .map(view)
        .collect();
    Ok(fresh(WatchedList { templates }))
}

/// `POST /api/templates/{id}/remove`: by whoever registered it, or an
/// officer or the owner of its faction. 204.
pub async fn remove(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    let record = state.store.watch(id).await?.ok_or(ApiError::NotFound)?;
    let handle = session.handle();
    let allowed = record.owner == handle
        || match record.faction {
            Some(faction) => role_in(&state, faction, &handle)
                .await?
                .is_some_and(Role::invites),
            None => false,
        };
    if !allowed {
        return Err(ApiError::Forbidden(
            "only whoever registered it, or its faction's officers, remove it",
        ));
    }
    state.store.remove_watch(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
