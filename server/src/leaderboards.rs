//! The leaderboards as served: each board names its players, one store
//! read each, so a board is made at most once per [`FRESH_FOR`] per
//! instance, whatever the requests (`/api/leaderboard`). And the task that
//! counts the latest placements on them every [`FOLD_EVERY`], where the
//! store does not count them as they are made.

use crate::{
    backend::{Store, StoreError},
    model::{Board, FactionRecord, Period},
};
use app::api::{Faction, FactionBoard, FactionRanked, Leaderboard, Ranked};
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

/// Each board as last made, and when: the players' and the factions'.
#[derive(Default)]
pub struct Leaderboards {
    players: Fresh<Board, Leaderboard>,
    factions: Fresh<Period, FactionBoard>,
}

/// Things made at most once per [`FRESH_FOR`], by key.
struct Fresh<K, V>(Mutex<HashMap<K, (Instant, Arc<V>)>>);

impl<K, V> Default for Fresh<K, V> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<K: Eq + std::hash::Hash + Copy, V> Fresh<K, V> {
    async fn get<F: std::future::Future<Output = Result<V, StoreError>>>(
        &self,
        key: K,
        make: impl FnOnce() -> F,
    ) -> Result<Arc<V>, StoreError> {
        let cached = {
            let made = self.0.lock().unwrap_or_else(|e| e.into_inner());
            made.get(&key)
                .filter(|(at, _)| at.elapsed() < FRESH_FOR)
                .map(|(_, made)| made.clone())
        };
        if let Some(made) = cached {
            return Ok(made);
        }
        let made = Arc::new(make().await?);
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.insert(key, (Instant::now(), made.clone()));
        Ok(made)
    }
}

impl Leaderboards {
    /// `board` as made within [`FRESH_FOR`], or made now.
    pub async fn get(
        &self,
        store: &dyn Store,
        board: Board,
    ) -> Result<Arc<Leaderboard>, StoreError> {
        self.players.get(board, || make(store, board)).await
    }

    /// The factions' board of `period`, as made within [`FRESH_FOR`], or
    /// made now.
    pub async fn factions(
        &self,
        store: &dyn Store,
        period: Period,
    ) -> Result<Arc<FactionBoard>, StoreError> {
        self.factions
            .get(period, || make_factions(store, period))
            .await
    }
}

/// The factions' board: the top [`BOARD_LENGTH`] factions that still
/// exist (a disbanded one keeps its score, unshown).
async fn make_factions(store: &dyn Store, period: Period) -> Result<FactionBoard, StoreError> {
    // A few more than shown, in case some were disbanded.
    let top = store.faction_board(period, BOARD_LENGTH + 5).await?;
    let mut entries = Vec::with_capacity(top.len());
    for (id, score) in top {
        if entries.len() == BOARD_LENGTH {
            break;
        }
        if let Some(record) = store.faction(id).await? {
            entries.push(FactionRanked {
                rank: entries.len() as u32 + 1,
                faction: faction_view(&record),
                score,
            });
        }
    }
    Ok(FactionBoard {
        period: period_name(period).to_owned(),
        entries,
    })
}

/// A faction as lists show it.
pub fn faction_view(record: &FactionRecord) -> Faction {
    Faction {
        id: record.id,
        name: record.name.clone(),
        tag: record.tag.clone(),
        color: record.color.clone(),
        members: record.members.len() as u32,
        created_at: humantime::format_rfc3339_millis(record.created_at).to_string(),
    }
}

fn period_name(period: Period) -> &'static str {
    match period {
        Period::Today => "today",
        Period::ThisWeek => "week",
        Period::All => "all",
    }
}

async fn make(store: &dyn Store, board: Board) -> Result<Leaderboard, StoreError> {
    let top = store.leaderboard(board, BOARD_LENGTH).await?;
    let handles: Vec<String> = top.iter().map(|(player, _)| player.clone()).collect();
    let badges = store.badges(&handles).await?;
    let mut entries = Vec::with_capacity(top.len());
    for ((rank, (player, score)), badge) in (1..).zip(top).zip(badges) {
        let name = store.names(&player).await?.into_iter().next();
        entries.push(Ranked {
            rank,
            name: name.map(|(_, name)| name),
            player,
            score,
            faction: badge.map(|badge| badge.tag),
        });
    }
    let (board, period) = match board {
        Board::Placed(period) => ("placed", Some(period)),
        Board::Standing => ("standing", None),
    };
    Ok(Leaderboard {
        board: board.to_owned(),
        period: period.map(|period| period_name(period).to_owned()),
        entries,
    })
}
