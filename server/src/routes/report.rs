//! `POST /api/report` (and `/c/<name>/api/report` for another canvas): a
//! player reports an area of the canvas (a slur, a bot's work) into the
//! moderators' queue (`/admin`). Only from the canvas's pages, only with a
//! session, and a few a minute per address, whichever canvas.

use super::{
    api::is_json,
    visitor::{take_turn, KnownSession, SameSite, Sender},
};
use crate::{
    backend::CHAT_KEPT,
    error::ApiError,
    model::{ClientAddress, Report},
    state::AppState,
};
use app::protocol::ChatLine;
use app::{
    api::{ChatReport, Reported},
    requests::ReportRequest,
};
use axum::{body::Bytes, extract::State, http::HeaderMap, Json};
use std::time::SystemTime;

pub async fn report(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
    Sender(address): Sender,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Reported>, ApiError> {
    json_only(&headers)?;
    let size = state.mirror.size();
    let request = ReportRequest::parse(&body, size.width, size.height)
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    allowance(&state, address)?;
    let report = Report {
        id: String::new(),
        at: SystemTime::now(),
        x: request.x,
        y: request.y,
        width: request.width,
        height: request.height,
        reason: request.reason,
        reporter: session.handle(),
        address: address.to_string(),
        canvas: state.config.canvas_name.clone(),
        message: None,
        message_faction: None,
    };
    state.store.report(&report).await?;
    Ok(Json(Reported { reported: true }))
}

/// `POST /api/chat/report`: a player reports a chat message of this canvas
/// (`{"id":N,"reason":"…"}`), under the same limits as an area. The
/// message is looked up among the kept ones (one bounded read, after the
/// address's allowance is spent) and queued as it reads now.
pub async fn chat(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
    Sender(address): Sender,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Reported>, ApiError> {
    json_only(&headers)?;
    let request: ChatReport = serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadRequest("expected {\"id\":N,\"reason\":\"…\"}".into()))?;
    if request.reason.chars().count() > Report::MAX_REASON {
        return Err(ApiError::BadRequest(format!(
            "a reason has at most {} characters",
            Report::MAX_REASON
        )));
    }
    allowance(&state, address)?;
    // In the global channel, else in the reporter's faction's.
    let find = |kept: Vec<ChatLine>| kept.into_iter().find(|line| line.id == request.id);
    let mut found = find(state.store.recent_chat(None, CHAT_KEPT).await?).map(|m| (m, None));
    if found.is_none() {
        let handle = session.handle();
        let badge = state.store.badges(std::slice::from_ref(&handle)).await?;
        if let Some(faction) = badge.into_iter().flatten().next().map(|b| b.faction) {
            let kept = state.store.recent_chat(Some(faction), CHAT_KEPT).await?;
            found = find(kept).map(|m| (m, Some(faction)));
        }
    }
    let (message, message_faction) = found.ok_or(ApiError::NotFound)?;
    let report = Report {
        id: String::new(),
        at: SystemTime::now(),
        x: 0,
        y: 0,
        width: 0,
        height: 0,
        reason: request.reason,
        reporter: session.handle(),
        address: address.to_string(),
        canvas: state.config.canvas_name.clone(),
        message: Some(message),
        message_faction,
    };
    state.store.report(&report).await?;
    Ok(Json(Reported { reported: true }))
}

fn json_only(headers: &HeaderMap) -> Result<(), ApiError> {
    if is_json(headers) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType("expected application/json"))
    }
}

/// One of the few reports an address may file a minute, whatever it
/// reports.
fn allowance(state: &AppState, address: ClientAddress) -> Result<(), ApiError> {
    take_turn(
        &state.reports_limit,
        address,
        "too many reports from this address: try again in a minute",
    )
}
