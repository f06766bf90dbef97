//! `GET /api/leaderboard` and `GET /api/players/{handle}`: the boards and a
//! player's figures on this canvas (docs/protocol.md, "Players"), read from
//! what placements keep as they are made (`crate::backend::BoardStore`),
//! the boards through [`crate::leaderboards`].

use super::api::rfc3339;
use crate::{
    backend::Store,
    error::ApiError,
    model::{is_session_handle, Board, Period},
    state::AppState,
};
use app::api::{NameTaken, Player};
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;

/// `?board=placed|standing&period=today|week|all`.
#[derive(Debug, Deserialize)]
pub struct BoardQuery {
    #[serde(default)]
    board: Option<String>,
    #[serde(default)]
    period: Option<String>,
}

impl BoardQuery {
    fn board(&self) -> Result<Board, ApiError> {
        let period = match self.period.as_deref() {
            None | Some("all") => Period::All,
            Some("today") => Period::Today,
            Some("week") => Period::ThisWeek,
            Some(_) => return Err(bad("period is today, week or all")),
        };
        match self.board.as_deref() {
            None | Some("placed") => Ok(Board::Placed(period)),
            Some("standing") if self.period.is_none() => Ok(Board::Standing),
            Some("standing") => Err(bad("the standing board has no period")),
            Some(_) => Err(bad("board is placed or standing")),
        }
    }
}

fn bad(why: &str) -> ApiError {
    ApiError::BadRequest(why.into())
}

/// `GET /api/leaderboard`.
pub async fn leaderboard(
    State(state): State<AppState>,
    Query(query): Query<BoardQuery>,
) -> Result<Response, ApiError> {
    let board = query.board()?;
    let made = state.leaderboards.get(&*state.store, board).await?;
    let headers = [(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=2"),
    )];
    Ok((headers, Json(made.as_ref().clone())).into_response())
}

/// `GET /api/players/{handle}`: 404 for a handle that never placed nor
/// took a name.
pub async fn player(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Response, ApiError> {
    let player = figures(&*state.store, &handle)
        .await?
        .ok_or(ApiError::NotFound)?;
    let headers = [(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=5"),
    )];
    Ok((headers, Json(player)).into_response())
}

/// A player's figures, for their JSON and their page.
pub(super) async fn figures(store: &dyn Store, handle: &str) -> Result<Option<Player>, ApiError> {
    // A deleted account's player has no page.
    if !is_session_handle(handle) || store.is_erased(handle).await? {
        return Ok(None);
    }
    let stats = store.player(handle).await?;
    let names: Vec<NameTaken> = store
        .names(handle)
        .await?
        .into_iter()
        .map(|(at, name)| NameTaken {
            name,
            at: rfc3339(at),
        })
        .collect();
    if stats.placed == 0 && names.is_empty() {
        return Ok(None);
    }
    Ok(Some(Player {
        player: handle.to_owned(),
        name: names.first().map(|taken| taken.name.clone()),
        placed: stats.placed,
        standing: stats.standing,
        first_placed_at: stats.first.map(rfc3339),
        last_placed_at: stats.last.map(rfc3339),
        names,
    }))
}
