//! `POST /api/report` (and `/c/<name>/api/report` for another canvas): a
//! player reports an area of the canvas (a slur, a bot's work) into the
//! moderators' queue (`/admin`). Only from the canvas's pages, only with a
//! session, and a few a minute per address, whichever canvas.

use super::{
    api::is_json,
    visitor::{KnownSession, SameSite, Sender},
};
use crate::{error::ApiError, model::Report, state::AppState};
use app::{api::Reported, requests::ReportRequest};
use axum::{body::Bytes, extract::State, http::HeaderMap, Json};
use std::time::{Instant, SystemTime};

pub async fn report(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
    Sender(address): Sender,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Reported>, ApiError> {
    if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType("expected application/json"));
    }
    let size = state.mirror.size();
    let request = ReportRequest::parse(&body, size.width, size.height)
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    if !state.reports_limit.take(address, Instant::now()) {
        return Err(ApiError::TooManyRequests(
            "too many reports from this address: try again in a minute",
        ));
    }
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
    };
    state.store.report(&report).await?;
    Ok(Json(Reported { reported: true }))
}
