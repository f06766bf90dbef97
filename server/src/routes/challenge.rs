//! `GET /api/challenge` hands out a proof-of-work puzzle; `POST
//! /api/challenge` takes its answer and verifies the visitor's session
//! (see [`crate::challenge`]). Issuing costs a random number, a SHA-256 and
//! an HMAC, and no store round trip; an answer reaches the store only once
//! it checked out, so neither route buys expensive work cheaply.

use super::{
    api::is_json,
    visitor::{KnownSession, SameSite},
};
use crate::{
    challenge::{Puzzles, Solution, PUZZLE_TTL},
    error::ApiError,
    state::AppState,
};
use app::api::Verified;
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use std::time::SystemTime;

/// A new puzzle. Never cached: each is answerable once.
pub async fn puzzle(State(state): State<AppState>) -> Result<Response, ApiError> {
    let key = state.sessions.key().await?;
    let puzzle = Puzzles::new(key, state.config.challenge_max_number).issue(SystemTime::now());
    let mut response = Json(puzzle).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Verifies the session with a solved puzzle: 400 for an answer that does
/// not solve a puzzle this deployment issued, 410 once it expired, 409 when
/// it was redeemed before.
pub async fn answer(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(session): KnownSession,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType("expected application/json"));
    }
    let solution: Solution = serde_json::from_slice(&body)
        .map_err(|error| ApiError::BadRequest(format!("not a solution: {error}")))?;
    let key = state.sessions.key().await?;
    let puzzles = Puzzles::new(key, state.config.challenge_max_number);
    let checked = puzzles.check(&solution, SystemTime::now());
    state.metrics.challenge(checked.is_ok());
    checked.map_err(|wrong| match wrong {
        crate::challenge::WrongAnswer::Expired => {
            ApiError::Gone("the puzzle expired: ask for a new one")
        }
        wrong => ApiError::BadRequest(wrong.to_string()),
    })?;
    if !state
        .store
        .redeem_puzzle(&session, &solution.challenge, PUZZLE_TTL)
        .await?
    {
        return Err(ApiError::Conflict("this puzzle was answered before"));
    }
    Ok(Json(Verified { verified: true }).into_response())
}
