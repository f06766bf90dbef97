//! The leaderboards as served: each board names its players, one store
//! read each, so a board is made at most once per [`FRESH_FOR`] per
//! instance, whatever the requests (`/api/leaderboard`). And the task that
//! counts the latest placements on them every [`FOLD_EVERY`], where the
//! store does not count them as they are made.

use crate::{
    backend::{Store, StoreError},
    model::{Board, Period},
};
use app::api::{Leaderboard, Ranked};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

/// How often the boards are brought up to date (so they lag the canvas by
/// about this much on the Redis store).
pub const FOLD_EVERY: Duration = Duration::from_secs(1);

/// Counts the latest placements on the boards every [`FOLD_EVERY`], until
/// `shutdown` (one instance a turn does the work).
pub async fn fold(store: Arc<dyn Store>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(FOLD_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(error) = store.fold_boards().await {
            tracing::debug!(%error, "could not count the latest placements on the boards");
        }
    }
}

/// How long a board made is served as it is.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// Players a board lists.
pub const BOARD_LENGTH: usize = 20;

/// Each board as last made, and when.
#[derive(Default)]
pub struct Leaderboards(Mutex<HashMap<Board, (Instant, Arc<Leaderboard>)>>);

impl Leaderboards {
    /// `board` as made within [`FRESH_FOR`], or made now.
    pub async fn get(
        &self,
        store: &dyn Store,
        board: Board,
    ) -> Result<Arc<Leaderboard>, StoreError> {
        let cached = {
            let boards = self.0.lock().unwrap_or_else(|e| e.into_inner());
            boards
                .get(&board)
                .filter(|(made, _)| made.elapsed() < FRESH_FOR)
                .map(|(_, made)| made.clone())
        };
        if let Some(made) = cached {
            return Ok(made);
        }
        let made = Arc::new(make(store, board).await?);
        let mut boards = self.0.lock().unwrap_or_else(|e| e.into_inner());
        boards.insert(board, (Instant::now(), made.clone()));
        Ok(made)
    }
}

async fn make(store: &dyn Store, board: Board) -> Result<Leaderboard, StoreError> {
    let top = store.leaderboard(board, BOARD_LENGTH).await?;
    let mut entries = Vec::with_capacity(top.len());
    for (rank, (player, score)) in (1..).zip(top) {
        let name = store.names(&player).await?.into_iter().next();
        entries.push(Ranked {
            rank,
            name: name.map(|(_, name)| name),
            player,
            score,
        });
    }
    let (board, period) = match board {
        Board::Placed(period) => ("placed", Some(period)),
        Board::Standing => ("standing", None),
    };
    Ok(Leaderboard {
        board: board.to_owned(),
        period: period.map(|period| {
            match period {
                Period::Today => "today",
                Period::ThisWeek => "week",
                Period::All => "all",
            }
            .to_owned()
        }),
        entries,
    })
}
