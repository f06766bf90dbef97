//! `/api/factions…`: founding a faction, inviting, joining, leaving,
//! roles, and the factions' board (docs/protocol.md, "Factions").
//!
//! Factions belong to the deployment, as players do; their board is each
//! canvas's. Every change is the player's own: from this deployment's
//! pages (or a program), with the session they already have, and, where
//! sign-in is offered, signed in (a faction is worth keeping across
//! devices, and a throwaway session should not found one).

use super::{
    api::{is_json, rfc3339},
    visitor::{take_turn, KnownSession, SameSite, Sender},
};
use crate::{
    backend::{Store, INVITATION_TTL},
    error::ApiError,
    leaderboards::faction_view,
    model::{ClientAddress, FactionRecord, FactionRefusal, Period, SessionId},
    state::AppState,
};
use app::{
    api::{FactionMember, FactionPage, Invitation, JoinFaction, MyFaction, NewFaction, SetRole},
    faction::{FactionColor, FactionName, FactionTag, Role},
};
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{de::DeserializeOwned, Deserialize};
use std::time::SystemTime;

/// Members whose display names a faction's page looks up (the owner and
/// officers first): one store read each, so a bound on what one request
/// buys. The others are listed by handle.
pub const ROSTER_NAMED: usize = 50;

impl From<FactionRefusal> for ApiError {
    fn from(refusal: FactionRefusal) -> Self {
        use FactionRefusal::*;
        match refusal {
            InAFaction => Self::Conflict("you are in a faction already: leave it first"),
            TagTaken => Self::Conflict("that tag is taken"),
            NoInvitation => Self::Gone("that invitation does not exist or has expired"),
            NotInAFaction => Self::Conflict("you are not in a faction"),
            NotAMember => Self::Conflict("that player is not in your faction"),
            NotAllowed => Self::Forbidden("your role in the faction does not allow that"),
            Full => Self::Conflict("the faction is full"),
        }
    }
}

/// The player making a change: their handle, once the deployment's rules
/// for factions are met.
async fn player(state: &AppState, session: &SessionId) -> Result<String, ApiError> {
    if state.sign_in.is_some() && state.store.linked(session).await?.is_none() {
        return Err(ApiError::Forbidden("sign in to found or join a faction"));
    }
    Ok(session.handle())
}

/// Takes one of the address's faction changes that write for long
/// (founding, joining, inviting): taken once a request is well formed and
/// its player allowed, before the store is asked.
fn within_limit(state: &AppState, address: ClientAddress) -> Result<(), ApiError> {
    take_turn(
        &state.faction_limit,
        address,
        "too many factions founded, joined or invited to from this address: try again in a minute",
    )
}

/// Refuses a change whose path names a faction other than the player's
/// (the store then checks their role in it).
async fn member_of(state: &AppState, handle: &str, id: u64) -> Result<(), ApiError> {
    let badges = state.store.badges(&[handle.to_owned()]).await?;
    if badges.first().and_then(Option::as_ref).map(|b| b.faction) == Some(id) {
        Ok(())
    } else {
        Err(FactionRefusal::NotInAFaction.into())
    }
}

/// A JSON body of a change (anything else is refused before any work).
fn body<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType("expected application/json"));
    }
    serde_json::from_slice(body).map_err(|error| ApiError::BadRequest(error.to_string()))
}

fn bad(error: impl ToString) -> ApiError {
    ApiError::BadRequest(error.to_string())
}

/// A faction's page: the faction and its roster.
async fn page(store: &dyn Store, record: &FactionRecord) -> Result<FactionPage, ApiError> {
    let mut roster = Vec::with_capacity(record.members.len());
    for (n, (handle, role)) in record.members.iter().enumerate() {
        let name = if n < ROSTER_NAMED {
            store.names(handle).await?.into_iter().next().map(|n| n.1)
        } else {
            None
        };
        roster.push(FactionMember {
            player: handle.clone(),
            name,
            role: role.as_str().to_owned(),
        });
    }
    Ok(FactionPage {
        faction: faction_view(record),
        roster,
    })
}

async fn page_of(store: &dyn Store, id: u64) -> Result<FactionPage, ApiError> {
    let record = store.faction(id).await?.ok_or(ApiError::NotFound)?;
    page(store, &record).await
}

fn no_store(body: impl serde::Serialize) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /api/factions` with `{"name", "tag", "color"}`: founds a faction,
/// its founder the owner. 201 with its page.
pub async fn create(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
    Sender(address): Sender,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let new: NewFaction = body(&headers, &raw)?;
    let name = FactionName::parse(&new.name).map_err(bad)?;
    let tag = FactionTag::parse(&new.tag).map_err(bad)?;
    let color = FactionColor::parse(&new.color).map_err(bad)?;
    let founder = player(&state, &session).await?;
    within_limit(&state, address)?;
    let id = state
        .store
        .create_faction(&founder, &name, &tag, &color)
        .await??;
    tracing::info!(faction = id, tag = tag.as_str(), "faction founded");
    let page = page_of(&*state.store, id).await?;
    Ok((StatusCode::CREATED, no_store(page)).into_response())
}

/// `GET /api/factions/mine`: this browser's player's faction and role.
pub async fn mine(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(session) = state.sessions.existing(&headers).await else {
        return Ok(no_store(MyFaction::default()));
    };
    let handle = session.handle();
    let badge = state.store.badges(std::slice::from_ref(&handle)).await?;
    let record = match badge.into_iter().flatten().next() {
        Some(badge) => state.store.faction(badge.faction).await?,
        None => None,
    };
    let Some(record) = record else {
        return Ok(no_store(MyFaction {
            player: Some(handle),
            ..MyFaction::default()
        }));
    };
    let role = record
        .members
        .iter()
        .find(|(member, _)| *member == handle)
        .map(|(_, role)| role.as_str().to_owned());
    Ok(no_store(MyFaction {
        faction: Some(page(&*state.store, &record).await?),
        role,
        player: Some(handle),
    }))
}

/// `GET /api/factions/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let page = page_of(&*state.store, id).await?;
    let headers = [(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=2"),
    )];
    Ok((headers, Json(page)).into_response())
}

/// `POST /api/factions/{id}/invites`: a new invitation to the player's
/// faction (an officer's or the owner's), valid for a week.
pub async fn invite(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
    Sender(address): Sender,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let by = player(&state, &session).await?;
    within_limit(&state, address)?;
    let code = format!("{:032x}", rand::random::<u128>());
    member_of(&state, &by, id).await?;
    state.store.invite(&by, &code).await??;
    Ok(no_store(Invitation {
        url: format!("/?join={code}"),
        code,
        expires_at: rfc3339(SystemTime::now() + INVITATION_TTL),
    }))
}

/// `POST /api/factions/{id}/invites/revoke`: 204; every invitation to the
/// player's faction (an officer's or the owner's) stops working, so a link
/// that went where it should not lets nobody in.
pub async fn revoke_invitations(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    let by = player(&state, &session).await?;
    member_of(&state, &by, id).await?;
    state.store.revoke_invitations(&by).await??;
    tracing::info!(faction = id, "invitations revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/factions/join` with `{"code"}`: joins as a member.
pub async fn join(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
    Sender(address): Sender,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let JoinFaction { code } = body(&headers, &raw)?;
    if code.len() != 32 || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FactionRefusal::NoInvitation.into());
    }
    let handle = player(&state, &session).await?;
    within_limit(&state, address)?;
    let id = state.store.join_faction(&handle, &code).await??;
    Ok(no_store(page_of(&*state.store, id).await?))
}

/// `POST /api/factions/leave`: 204. An owner's faction passes to an
/// officer (else a member); the last one out disbands it.
pub async fn leave(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
) -> Result<StatusCode, ApiError> {
    state.store.leave_faction(&session.handle()).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/factions/{id}/members/{handle}` with `{"role": …}`: names an
/// officer, makes one a member again, hands the faction over (`owner`), or
/// removes a member (`null`).
pub async fn set_role(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
    Path((id, member)): Path<(u64, String)>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let SetRole { role } = body(&headers, &raw)?;
    let role = role.as_deref().map(Role::parse).transpose().map_err(bad)?;
    let by = player(&state, &session).await?;
    member_of(&state, &by, id).await?;
    state.store.set_role(&by, &member, role).await??;
    Ok(no_store(page_of(&*state.store, id).await?))
}

/// `?period=today|week|all`.
#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    period: Option<String>,
}

/// `GET /api/factions/leaderboard`: this canvas's factions by what their
/// members placed while members.
pub async fn leaderboard(
    State(state): State<AppState>,
    Query(query): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let period = match query.period.as_deref() {
        None | Some("all") => Period::All,
        Some("today") => Period::Today,
        Some("week") => Period::ThisWeek,
        Some(_) => return Err(bad("period is today, week or all")),
    };
    let board = state.leaderboards.factions(&*state.store, period).await?;
    let headers = [(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=2"),
    )];
    Ok((headers, Json(board.as_ref().clone())).into_response())
}
