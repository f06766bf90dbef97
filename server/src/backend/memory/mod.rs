//! The embedded backend: the canvas, its history, the cooldowns and the
//! sessions in this process's memory, and the in-process feed of its
//! placements. One mutex makes each placement atomic, and the update is
//! handed to the in-process feed while that mutex is held, so the feed sees
//! seqs in order.
//!
//! Nothing survives a restart, so every start is a new epoch.

mod factions;

use super::{
    AccountStore, ArchiveStore, BoardStore, CanvasStore, ChatEvent, ChatOutcome, ChatPost,
    ChatStore, FactionChange, FactionStore, Feed, FeedEvent, FillPlacer, Filled, HealthStore,
    History, ModerationStore, PlacementStore, PresenceStore, SessionStore, StoreError, WatchEvent,
    WatchStore, ACCOUNT_TTL, AUDIT_LEN, CHAT_KEPT, NAMES_KEPT, NEW_SESSION_WINDOW, SESSION_TTL,
};
use crate::model::{
    is_session_handle, unix_ms, AccountId, ArchiveEntry, ArchiveKeep, ArchivedCanvas,
    ArchivedChunk, AuditEntry, Badge, BanTarget, Batch, Board, ChallengeMode, Chunks,
    ClientAddress, FactionRecord, Linked, Logged, Period, PixelRecord, PlaceOutcome, Placement,
    Placer, Placing, PlayerStats, RangeBan, Report, Rules, SessionId, Snapshot, Update,
    WatchRecord, MODERATOR,
};
use app::{
    chunk::ChunkId,
    faction::{FactionColor, FactionName, FactionTag, Role},
    geometry::{CanvasSize, Coord},
    name::DisplayName,
    protocol::{ChatLine, Tile},
};
use async_trait::async_trait;
use bytes::Bytes;
use factions::{FactionBoards, Factions};
use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};
use tokio::sync::broadcast::{self, error::RecvError};

/// Per-session maps are pruned of stale entries when they grow past this
/// many, so a stream of fresh sessions cannot grow memory without bound.
const PRUNE_AT: usize = 100_000;

pub struct MemoryStore {
    size: CanvasSize,
    rules: Rules,
    history_len: usize,
    epoch: u64,
    state: Mutex<State>,
    /// Shared with the deployment's other canvases. Locked after `state`
    /// when both are, never before.
    deployment: Deployment,
    /// Feeds subscribe here; sending while `state` is locked keeps seq order.
    updates: broadcast::Sender<FeedEvent>,
}

struct State {
    seq: u64,
    chunks: Chunks,
    /// The last `history_len` placements, oldest first, seqs consecutive.
    history: VecDeque<Update>,
    /// When and by whom each placement of `history` was made, in step.
    log: VecDeque<(SystemTime, Placer)>,
    /// Who set each pixel that was ever set, by its record key.
    records: HashMap<u32, PixelRecord>,
    /// When each session's charges are all back, while some are spent.
    refilled_at: HashMap<SessionId, SystemTime>,
    /// Each session's last placement, while it may be undone.
    undoable: HashMap<SessionId, Undoable>,
    /// The leaderboards and players' first and last placements.
    boards: Boards,
    /// What each faction's members placed here while members.
    faction_boards: FactionBoards,
    /// The watched templates, by id, and the last id given.
    watches: std::collections::BTreeMap<u64, WatchRecord>,
    watch_id: u64,
    /// Whether only moderators place.
    frozen: bool,
    /// The size moderators enlarged the canvas to, if they did.
    grown: Option<CanvasSize>,
    /// The archived canvases.
    archive: Archive,
    /// Until when the current archiving turn is taken.
    archive_turn: Option<Instant>,
    /// Each chat channel's newest messages, oldest first (the global one
    /// under `None`, a faction's under its id), and the last id given.
    chat: HashMap<Option<u64>, VecDeque<ChatLine>>,
    chat_id: u64,
    /// Open sockets each instance reported, until when the report holds.
    /// (An embedded store serves one instance; it keeps the store's
    /// contract all the same, which `tests/api/store_rules.rs` asks of it.)
    online: HashMap<String, (u32, Instant)>,
}

/// A ban in force: until when, and whether it is a shadow ban.
#[derive(Clone, Copy)]
struct Ban {
    until: SystemTime,
    shadow: bool,
}

/// What every canvas of one deployment shares, as the Redis store keeps it
/// under the deployment's own keys: sessions and their names, the limits on
/// client addresses, the challenge's redeemed puzzles, bans, the reports
/// queue and the audit log. Each canvas's store (`CANVASES`) is opened in
/// the same deployment; cooldowns, pixels and the archive stay the
/// canvas's own.
#[derive(Clone, Default)]
pub struct Deployment(Arc<Mutex<Shared>>);

#[derive(Default)]
struct Shared {
    /// Display name and last visit of each session.
    sessions: HashMap<SessionId, SessionRecord>,
    /// Sessions minted per client address in the current window.
    new_sessions: HashMap<ClientAddress, (Instant, u32)>,
    /// Placements per client address in the current budget window.
    address_budget: HashMap<ClientAddress, (SystemTime, u32)>,
    /// Players' reports, oldest first, and how many were ever made.
    reports: VecDeque<Report>,
    reports_made: u64,
    /// Challenge puzzles redeemed, until when they could be answered.
    redeemed: HashMap<String, SystemTime>,
    /// The secret sessions are signed with, once one was asked for.
    secret: Option<String>,
    /// Bans in force, until when.
    bans: HashMap<BanTarget, Ban>,
    /// The moderators' actions, oldest first.
    audit: VecDeque<AuditEntry>,
    /// The names each session took, newest first, by its handle.
    names: HashMap<String, VecDeque<(SystemTime, String)>>,
    /// Each account's player, and until when the link is kept.
    accounts: HashMap<AccountId, (SessionId, SystemTime)>,
    /// The handles of deleted accounts' players.
    erased: HashSet<String>,
    /// Muted players (by handle), until when.
    mutes: HashMap<String, SystemTime>,
    /// Chat messages per session handle (`s:`) and client address (`a:`)
    /// in the current window: since when, how many.
    chat_rates: HashMap<String, (SystemTime, u32)>,
    factions: Factions,
}

/// Records that the session's pool is `refill` from full at `at`.
fn set_refill(state: &mut State, session: &SessionId, at: SystemTime, refill: Duration) {
    if refill.is_zero() {
        state.refilled_at.remove(session);
        return;
    }
    if state.refilled_at.len() >= PRUNE_AT {
        state.refilled_at.retain(|_, full| *full > at);
    }
    state.refilled_at.insert(session.clone(), at + refill);
}

/// A placement its placer may still undo.
struct Undoable {
    coord: Coord,
    /// The color it replaced.
    previous: u8,
    seq: u64,
    until: SystemTime,
}

struct SessionRecord {
    name: Option<String>,
    /// The account it is signed in to.
    account: Option<Linked>,
    /// Whether it solved a challenge.
    verified: bool,
    last_seen: SystemTime,
}

impl MemoryStore {
    /// A store of its own deployment.
    pub fn new(size: CanvasSize, rules: Rules, history_len: usize) -> Self {
        Self::in_deployment(&Deployment::default(), size, rules, history_len)
    }

    /// A canvas's store sharing `deployment`'s sessions, limits and
    /// moderation with the other canvases in it.
    pub fn in_deployment(
        deployment: &Deployment,
        size: CanvasSize,
        rules: Rules,
        history_len: usize,
    ) -> Self {
        let (updates, _) = broadcast::channel(4096);
        Self {
            deployment: deployment.clone(),
            size,
            rules,
            history_len,
            // Never 0, so a client's "no epoch yet" never matches.
            epoch: rand::random::<u64>().max(1),
            state: Mutex::new(State {
                seq: 0,
                chunks: Chunks::new(),
                history: VecDeque::new(),
                log: VecDeque::new(),
                records: HashMap::new(),
                refilled_at: HashMap::new(),
                undoable: HashMap::new(),
                boards: Boards::default(),
                faction_boards: FactionBoards::default(),
                watches: Default::default(),
                watch_id: 0,
                frozen: false,
                grown: None,
                archive: Archive::default(),
                archive_turn: None,
                chat: HashMap::new(),
                chat_id: 0,
                online: HashMap::new(),
            }),
            updates,
        }
    }

    /// Appends a placement to the history, dropping the oldest past
    /// `history_len`.
    fn log(&self, state: &mut State, seq: u64, tile: Tile, at: SystemTime, placer: Placer) {
        if state.history.len() >= self.history_len {
            state.history.pop_front();
            state.log.pop_front();
        }
        state.history.push_back(Update {
            epoch: self.epoch,
            seq,
            tile,
        });
        state.log.push_back((at, placer));
    }

    /// The in-process feed of this store's placements.
    pub fn feed(&self) -> LocalFeed {
        LocalFeed::new(self.updates.subscribe())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written
        // (each write below is a single assignment), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        // As for `lock`.
        self.deployment.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl CanvasStore for MemoryStore {
    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let state = self.lock();
        Ok(Snapshot {
            epoch: self.epoch,
            seq: state.seq,
            size: state.grown,
            chunks: state.chunks.clone(),
        })
    }

    async fn history(
        &self,
        epoch: u64,
        after_seq: u64,
        limit: usize,
    ) -> Result<History, StoreError> {
        let state = self.lock();
        if epoch != self.epoch {
            return Ok(History::OtherEpoch);
        }
        if after_seq > state.seq {
            return Ok(History::WentBack);
        }
        // History holds seqs `oldest ..= state.seq`; it bridges the gap if
        // the first wanted seq is still in it (or nothing is wanted).
        let oldest = state.seq + 1 - state.history.len() as u64;
        if after_seq + 1 < oldest {
            return Ok(History::Trimmed);
        }
        let skip = (after_seq + 1 - oldest) as usize;
        Ok(History::Placements(
            state
                .history
                .iter()
                .skip(skip)
                .take(limit)
                .copied()
                .collect(),
        ))
    }

    /// The embedded store's history never goes back on itself.
    async fn start_new_epoch(&self, _stale: u64) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl PlacementStore for MemoryStore {
    async fn place(&self, placement: Placement) -> Result<PlaceOutcome, StoreError> {
        let mut state = self.lock();
        if state.frozen {
            return Ok(PlaceOutcome::Frozen);
        }
        let at = placement.at;
        let mut shared = self.shared();
        let bans = [
            BanTarget::Session(placement.session.handle()),
            BanTarget::Address(placement.address),
        ];
        let in_force: Vec<Ban> = bans
            .iter()
            .filter_map(|target| shared.bans.get(target))
            .filter(|ban| ban.until > at)
            .copied()
            .collect();
        let banned = in_force
            .iter()
            .filter(|ban| !ban.shadow)
            .filter_map(|ban| ban.until.duration_since(at).ok())
            .max();
        if let Some(retry_after) = banned {
            return Ok(PlaceOutcome::Banned { retry_after });
        }
        let shadowed = !in_force.is_empty();
        let cooldown = self.rules.cooldown;
        // How far the session's pool is from full: the placement needs a
        // charge, so at most all but one cooldown.
        let refill = state
            .refilled_at
            .get(&placement.session)
            .and_then(|full| full.duration_since(at).ok())
            .unwrap_or_default();
        let (coord, color, refill) = match placement.placing {
            Placing::Tile { coord, color } => {
                if refill > self.rules.reserve() {
                    return Ok(PlaceOutcome::Cooldown {
                        retry_after: refill - self.rules.reserve(),
                    });
                }
                if shadowed {
                    // Its charges run as if it had placed, so nothing gives
                    // it away.
                    let refill = refill + cooldown;
                    set_refill(&mut state, &placement.session, at, refill);
                    return Ok(PlaceOutcome::Shadowed { refill });
                }
                let verified = shared
                    .sessions
                    .get(&placement.session)
                    .is_some_and(|s| s.verified);
                if !verified {
                    if self.rules.challenge == ChallengeMode::Always {
                        return Ok(PlaceOutcome::ChallengeRequired);
                    }
                    if let Some(retry_after) = spend_budget(&mut shared, &self.rules, &placement) {
                        return Ok(match self.rules.challenge {
                            ChallengeMode::Off => PlaceOutcome::Cooldown { retry_after },
                            _ => PlaceOutcome::ChallengeRequired,
                        });
                    }
                }
                (coord, color.get(), refill + cooldown)
            }
            Placing::Undo => {
                let undone = state
                    .undoable
                    .remove(&placement.session)
                    .filter(|last| last.until > at)
                    .filter(|last| {
                        let record = state.records.get(&last.coord.record_key());
                        record.is_some_and(|r| r.seq == last.seq)
                    });
                let Some(last) = undone.filter(|_| !shadowed) else {
                    return Ok(PlaceOutcome::NothingToUndo);
                };
                (last.coord, last.previous, refill.saturating_sub(cooldown))
            }
        };
        set_refill(&mut state, &placement.session, at, refill);

        state.seq += 1;
        let seq = state.seq;
        let Coord { x, y, .. } = coord;
        let tile = Tile { x, y, color };
        let previous = state.chunks.pixel(x, y);
        state.chunks.set(tile, seq);
        if matches!(placement.placing, Placing::Tile { .. }) && !self.rules.undo.is_zero() {
            if state.undoable.len() >= PRUNE_AT {
                state.undoable.retain(|_, last| last.until > at);
            }
            let last = Undoable {
                coord,
                previous,
                seq,
                until: at + self.rules.undo,
            };
            state.undoable.insert(placement.session.clone(), last);
        }
        let placed_by = shared
            .sessions
            .get(&placement.session)
            .and_then(|s| s.name.clone());
        let placer = Placer {
            session: placement.session.handle(),
            address: placement.address.to_string(),
        };
        let faction = shared.factions.badge(&placer.session);
        drop(shared);
        let before = state.records.get(&coord.record_key()).and_then(owner);
        state.boards.count(&placer.session, before, at);
        if let Some(badge) = faction {
            state.faction_boards.count(badge.faction, at);
        }
        state.records.insert(
            coord.record_key(),
            PixelRecord {
                placed_by,
                placed_at: at,
                seq,
                placer: Some(placer.clone()),
            },
        );
        self.log(&mut state, seq, tile, at, placer);
        // No receiver (yet) is fine: the mirror catches up from history.
        let _ = self.updates.send(FeedEvent::Batch(Batch {
            epoch: self.epoch,
            first_seq: seq,
            tiles: vec![tile],
            placed_at_ms: Some(unix_ms(at)),
        }));
        Ok(PlaceOutcome::Accepted { seq, refill })
    }

    async fn refill(&self, session: &SessionId) -> Result<Duration, StoreError> {
        let full = self.lock().refilled_at.get(session).copied();
        Ok(full
            .and_then(|full| full.duration_since(SystemTime::now()).ok())
            .unwrap_or_default())
    }

    async fn pixel(&self, coord: Coord) -> Result<Option<PixelRecord>, StoreError> {
        let mut record = self.lock().records.get(&coord.record_key()).cloned();
        if let Some(record) = &mut record {
            let placer = record.placer.as_ref().map(|p| p.session.as_str());
            if placer.is_some_and(|handle| self.shared().erased.contains(handle)) {
                record.placed_by = None;
            }
        }
        Ok(record)
    }

    async fn fill(
        &self,
        pixels: &[(Coord, u8)],
        placer: &FillPlacer,
    ) -> Result<Filled, StoreError> {
        let now = SystemTime::now();
        let mut state = self.lock();
        let first_seq = state.seq + 1;
        let recorded = Placer {
            session: MODERATOR.into(),
            address: placer.address.to_string(),
        };
        let mut tiles = Vec::with_capacity(pixels.len());
        for &(coord, color) in pixels {
            state.seq += 1;
            let seq = state.seq;
            let tile = Tile {
                x: coord.x,
                y: coord.y,
                color,
            };
            state.chunks.set(tile, seq);
            if let Some(before) = state.records.get(&coord.record_key()).and_then(owner) {
                state.boards.unstand(&before);
            }
            state.records.insert(
                coord.record_key(),
                PixelRecord {
                    placed_by: (!placer.name.is_empty()).then(|| placer.name.clone()),
                    placed_at: now,
                    seq,
                    placer: Some(recorded.clone()),
                },
            );
            self.log(&mut state, seq, tile, now, recorded.clone());
            tiles.push(tile);
        }
        let last_seq = state.seq;
        if !tiles.is_empty() {
            let _ = self.updates.send(FeedEvent::Batch(Batch {
                epoch: self.epoch,
                first_seq,
                tiles,
                placed_at_ms: Some(unix_ms(now)),
            }));
        }
        Ok(Filled {
            first_seq,
            last_seq,
            durable: true,
        })
    }

    async fn logged_history(&self) -> Result<Vec<Logged>, StoreError> {
        let state = self.lock();
        Ok(state
            .history
            .iter()
            .zip(&state.log)
            .map(|(update, (at, placer))| Logged {
                seq: update.seq,
                tile: update.tile,
                at: Some(*at),
                placer: Some(placer.clone()),
            })
            .collect())
    }
}

#[async_trait]
impl BoardStore for MemoryStore {
    async fn leaderboard(
        &self,
        board: Board,
        count: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let now = SystemTime::now();
        let top = self.lock().boards.top(board, now);
        let shared = self.shared();
        let banned = |handle: &String| {
            let ban = shared.bans.get(&BanTarget::Session(handle.clone()));
            ban.is_some_and(|ban| ban.until > now) || shared.erased.contains(handle)
        };
        Ok(top
            .into_iter()
            .filter(|(handle, _)| !banned(handle))
            .take(count)
            .collect())
    }

    async fn player(&self, handle: &str) -> Result<PlayerStats, StoreError> {
        Ok(self.lock().boards.player(handle))
    }

    async fn forget_player(&self, handle: &str) -> Result<(), StoreError> {
        self.lock().boards.forget(handle);
        Ok(())
    }

    /// Counted as placements are made.
    async fn fold_boards(&self) -> Result<usize, StoreError> {
        Ok(0)
    }

    async fn names(&self, handle: &str) -> Result<Vec<(SystemTime, String)>, StoreError> {
        let shared = self.shared();
        Ok(shared
            .names
            .get(handle)
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default())
    }
}

/// The leaderboards of one canvas, by player handle.
#[derive(Default)]
struct Boards {
    placed: HashMap<String, u64>,
    /// Today's (by its day since 1970) and this week's.
    today: (u64, HashMap<String, u64>),
    this_week: (u64, HashMap<String, u64>),
    standing: HashMap<String, u64>,
    /// First and last placement.
    players: HashMap<String, (SystemTime, SystemTime)>,
}

impl Boards {
    /// A placement by `handle` over a pixel `before` stood for.
    fn count(&mut self, handle: &str, before: Option<String>, at: SystemTime) {
        let (day, week) = day_and_week(at);
        for (period, board) in [(day, &mut self.today), (week, &mut self.this_week)] {
            if board.0 != period {
                *board = (period, HashMap::new());
            }
            *board.1.entry(handle.to_owned()).or_default() += 1;
        }
        *self.placed.entry(handle.to_owned()).or_default() += 1;
        let player = self.players.entry(handle.to_owned()).or_insert((at, at));
        player.1 = at;
        if before.as_deref() != Some(handle) {
            *self.standing.entry(handle.to_owned()).or_default() += 1;
            if let Some(before) = before {
                self.unstand(&before);
            }
        }
    }

    /// Takes `handle` off every board.
    fn forget(&mut self, handle: &str) {
        for board in [
            &mut self.placed,
            &mut self.today.1,
            &mut self.this_week.1,
            &mut self.standing,
        ] {
            board.remove(handle);
        }
        self.players.remove(handle);
    }

    /// A pixel no longer stands for `handle`.
    fn unstand(&mut self, handle: &str) {
        if let Some(standing) = self.standing.get_mut(handle) {
            *standing -= 1;
            if *standing == 0 {
                self.standing.remove(handle);
            }
        }
    }

    /// A board, best first.
    fn top(&self, board: Board, now: SystemTime) -> Vec<(String, u64)> {
        let (day, week) = day_and_week(now);
        let scores = match board {
            Board::Placed(Period::All) => &self.placed,
            Board::Placed(Period::Today) if self.today.0 == day => &self.today.1,
            Board::Placed(Period::ThisWeek) if self.this_week.0 == week => &self.this_week.1,
            Board::Placed(_) => return Vec::new(),
            Board::Standing => &self.standing,
        };
        let mut top: Vec<(String, u64)> = scores.iter().map(|(h, s)| (h.clone(), *s)).collect();
        // Ties as a Redis sorted set read in reverse orders them.
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        top
    }

    fn player(&self, handle: &str) -> PlayerStats {
        let times = self.players.get(handle);
        PlayerStats {
            placed: self.placed.get(handle).copied().unwrap_or_default(),
            standing: self.standing.get(handle).copied().unwrap_or_default(),
            first: times.map(|t| t.0),
            last: times.map(|t| t.1),
        }
    }
}

/// The day since 1970 and the week (from Mondays: 1970-01-01 was a
/// Thursday) of `at`, in UTC.
fn day_and_week(at: SystemTime) -> (u64, u64) {
    let day = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / 86_400;
    (day, (day + 3) / 7)
}

/// A chat author's name as shown: their faction's tag first, if any.
fn tagged(badge: Option<&Badge>, name: Option<String>) -> Option<String> {
    match (badge, name) {
        (Some(badge), Some(name)) => Some(format!("[{}] {name}", badge.tag)),
        (Some(badge), None) => Some(format!("[{}]", badge.tag)),
        (None, name) => name,
    }
}

/// Whose placement a record is, if a player's (not a moderator's fill).
fn owner(record: &PixelRecord) -> Option<String> {
    let session = &record.placer.as_ref()?.session;
    is_session_handle(session).then(|| session.clone())
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn admit_new_session(
        &self,
        address: ClientAddress,
        limit: u32,
    ) -> Result<bool, StoreError> {
        if limit == 0 {
            return Ok(true);
        }
        let mut shared = self.shared();
        let now = Instant::now();
        if shared.new_sessions.len() >= PRUNE_AT {
            shared
                .new_sessions
                .retain(|_, (start, _)| now.duration_since(*start) < NEW_SESSION_WINDOW);
        }
        let (start, count) = shared.new_sessions.entry(address).or_insert((now, 0));
        if now.duration_since(*start) >= NEW_SESSION_WINDOW {
            (*start, *count) = (now, 0);
        }
        *count += 1;
        Ok(*count <= limit)
    }

    async fn shared_secret(&self, candidate: &str) -> Result<String, StoreError> {
        Ok(self
            .shared()
            .secret
            .get_or_insert_with(|| candidate.to_owned())
            .clone())
    }

    async fn display_name(&self, session: &SessionId) -> Result<Option<String>, StoreError> {
        Ok(self
            .shared()
            .sessions
            .get(session)
            .and_then(|s| s.name.clone()))
    }

    async fn set_display_name(
        &self,
        session: &SessionId,
        name: &DisplayName,
    ) -> Result<(), StoreError> {
        let mut shared = self.shared();
        let record = session_record(&mut shared, session);
        record.name = Some(name.as_str().to_owned());
        let names = shared.names.entry(session.handle()).or_default();
        names.push_front((SystemTime::now(), name.as_str().to_owned()));
        names.truncate(NAMES_KEPT);
        Ok(())
    }

    /// Renews only a session that has a record (a name, a solved
    /// challenge): a visit alone makes none.
    async fn touch_session(&self, session: &SessionId) -> Result<(), StoreError> {
        if let Some(record) = self.shared().sessions.get_mut(session) {
            record.last_seen = SystemTime::now();
        }
        Ok(())
    }

    async fn redeem_puzzle(
        &self,
        session: &SessionId,
        challenge: &str,
        valid_for: Duration,
    ) -> Result<bool, StoreError> {
        let mut shared = self.shared();
        let now = SystemTime::now();
        if shared.redeemed.len() >= PRUNE_AT {
            shared.redeemed.retain(|_, until| *until > now);
        }
        if shared
            .redeemed
            .get(challenge)
            .is_some_and(|until| *until > now)
        {
            return Ok(false);
        }
        shared
            .redeemed
            .insert(challenge.to_owned(), now + valid_for);
        session_record(&mut shared, session).verified = true;
        Ok(true)
    }
}

#[async_trait]
impl ChatStore for MemoryStore {
    async fn post_chat(&self, post: &ChatPost) -> Result<ChatOutcome, StoreError> {
        let now = SystemTime::now();
        let left = |until: SystemTime| {
            until
                .duration_since(now)
                .unwrap_or(Duration::from_millis(1))
        };
        let handle = post.session.handle();
        let mut state = self.lock();
        let mut shared = self.shared();
        let mut shadowed = false;
        for target in [
            BanTarget::Session(handle.clone()),
            BanTarget::Address(post.address),
        ] {
            match shared.bans.get(&target) {
                Some(ban) if ban.until > now && ban.shadow => shadowed = true,
                Some(ban) if ban.until > now => return Ok(ChatOutcome::Banned(left(ban.until))),
                _ => {}
            }
        }
        if let Some(until) = shared.mutes.get(&handle).filter(|until| **until > now) {
            return Ok(ChatOutcome::Muted(left(*until)));
        }
        let record = shared.sessions.get(&post.session);
        if post.challenge_always && !record.is_some_and(|r| r.verified) {
            return Ok(ChatOutcome::NeedsChallenge);
        }
        let badge = shared.factions.badge(&handle);
        if post.faction.is_some() && post.faction != badge.as_ref().map(|b| b.faction) {
            return Ok(ChatOutcome::NotInFaction);
        }
        let name = tagged(badge.as_ref(), record.and_then(|r| r.name.clone()));
        let keys = [
            (format!("s:{handle}"), post.per_session),
            (format!("a:{}", post.address), post.per_address),
        ];
        if shared.chat_rates.len() >= PRUNE_AT {
            let window = post.window;
            shared
                .chat_rates
                .retain(|_, (since, _)| now.duration_since(*since).unwrap_or_default() < window);
        }
        for (key, limit) in &keys {
            if let Some((since, used)) = shared.chat_rates.get(key) {
                let ends = *since + post.window;
                if ends > now && *used >= *limit {
                    return Ok(ChatOutcome::RateLimited(left(ends)));
                }
            }
        }
        for (key, _) in keys {
            let (since, used) = shared.chat_rates.entry(key).or_insert((now, 0));
            if *since + post.window <= now {
                (*since, *used) = (now, 0);
            }
            *used += 1;
        }
        drop(shared);
        let line = ChatLine {
            // A shadow-banned author's message is nobody's to remove.
            id: if shadowed { 0 } else { state.chat_id + 1 },
            at_ms: unix_ms(now),
            player: handle,
            name,
            text: post.text.as_str().to_owned(),
        };
        if shadowed {
            return Ok(ChatOutcome::Shadowed(line));
        }
        state.chat_id = line.id;
        let channel = state.chat.entry(post.faction).or_default();
        if channel.len() >= CHAT_KEPT {
            channel.pop_front();
        }
        channel.push_back(line.clone());
        let event = match post.faction {
            None => ChatEvent::Posted(line.clone()),
            Some(faction) => ChatEvent::FactionPosted(faction, line.clone()),
        };
        let _ = self.updates.send(FeedEvent::Chat(event));
        Ok(ChatOutcome::Posted(line))
    }

    async fn recent_chat(
        &self,
        faction: Option<u64>,
        count: usize,
    ) -> Result<Vec<ChatLine>, StoreError> {
        let state = self.lock();
        let Some(channel) = state.chat.get(&faction) else {
            return Ok(Vec::new());
        };
        let skip = channel.len().saturating_sub(count);
        Ok(channel.iter().skip(skip).cloned().collect())
    }

    async fn remove_chat(&self, id: u64, faction: Option<u64>) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let Some(channel) = state.chat.get_mut(&faction) else {
            return Ok(false);
        };
        let before = channel.len();
        channel.retain(|line| line.id != id);
        let removed = channel.len() < before;
        if removed {
            let _ = self.updates.send(FeedEvent::Chat(ChatEvent::Removed(id)));
        }
        Ok(removed)
    }

    async fn mute(&self, handle: &str, duration: Duration) -> Result<(), StoreError> {
        let until = SystemTime::now() + duration;
        let mut shared = self.shared();
        if shared.mutes.len() >= PRUNE_AT {
            let now = SystemTime::now();
            shared.mutes.retain(|_, until| *until > now);
        }
        shared.mutes.insert(handle.to_owned(), until);
        Ok(())
    }

    async fn unmute(&self, handle: &str) -> Result<bool, StoreError> {
        let now = SystemTime::now();
        Ok(self
            .shared()
            .mutes
            .remove(handle)
            .is_some_and(|until| until > now))
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn sign_in(
        &self,
        account: &AccountId,
        provider: &str,
        session: &SessionId,
    ) -> Result<SessionId, StoreError> {
        let mut shared = self.shared();
        let now = SystemTime::now();
        if shared.accounts.len() >= PRUNE_AT {
            shared.accounts.retain(|_, (_, until)| *until > now);
        }
        let player = match shared.accounts.get(account) {
            Some((player, until)) if *until > now => player.clone(),
            _ => session.clone(),
        };
        shared
            .accounts
            .insert(account.clone(), (player.clone(), now + ACCOUNT_TTL));
        let record = session_record(&mut shared, &player);
        record.account = Some(Linked {
            provider: provider.to_owned(),
            account: account.clone(),
        });
        record.last_seen = now;
        Ok(player)
    }

    async fn linked(&self, session: &SessionId) -> Result<Option<Linked>, StoreError> {
        Ok(self
            .shared()
            .sessions
            .get(session)
            .and_then(|record| record.account.clone()))
    }

    async fn delete_account(&self, session: &SessionId) -> Result<bool, StoreError> {
        let mut shared = self.shared();
        let Some(record) = shared.sessions.get_mut(session) else {
            return Ok(false);
        };
        let Some(linked) = record.account.take() else {
            return Ok(false);
        };
        record.name = None;
        shared.accounts.remove(&linked.account);
        let handle = session.handle();
        shared.names.remove(&handle);
        let _ = shared.factions.leave(&handle);
        shared.erased.insert(handle);
        Ok(true)
    }

    async fn is_erased(&self, handle: &str) -> Result<bool, StoreError> {
        Ok(self.shared().erased.contains(handle))
    }
}

#[async_trait]
impl WatchStore for MemoryStore {
    async fn add_watch(&self, mut record: WatchRecord) -> Result<u64, StoreError> {
        let mut state = self.lock();
        state.watch_id += 1;
        record.id = state.watch_id;
        let id = record.id;
        state.watches.insert(id, record);
        let _ = self.updates.send(FeedEvent::Watch(WatchEvent::Added(id)));
        Ok(id)
    }

    async fn watches(&self) -> Result<Vec<WatchRecord>, StoreError> {
        Ok(self.lock().watches.values().cloned().collect())
    }

    async fn watch(&self, id: u64) -> Result<Option<WatchRecord>, StoreError> {
        Ok(self.lock().watches.get(&id).cloned())
    }

    async fn remove_watch(&self, id: u64) -> Result<bool, StoreError> {
        let removed = self.lock().watches.remove(&id).is_some();
        if removed {
            let _ = self.updates.send(FeedEvent::Watch(WatchEvent::Removed(id)));
        }
        Ok(removed)
    }

    /// One process: every alert is this instance's to post.
    async fn claim_alert(&self, _: u64, _: u64) -> Result<bool, StoreError> {
        Ok(true)
    }
}

#[async_trait]
impl FactionStore for MemoryStore {
    async fn create_faction(
        &self,
        founder: &str,
        name: &FactionName,
        tag: &FactionTag,
        color: &FactionColor,
    ) -> FactionChange<u64> {
        Ok(self.shared().factions.create(founder, name, tag, color))
    }

    async fn faction(&self, id: u64) -> Result<Option<FactionRecord>, StoreError> {
        Ok(self.shared().factions.record(id))
    }

    async fn badges(&self, handles: &[String]) -> Result<Vec<Option<Badge>>, StoreError> {
        let shared = self.shared();
        Ok(handles
            .iter()
            .map(|handle| shared.factions.badge(handle))
            .collect())
    }

    async fn invite(&self, by: &str, code: &str) -> FactionChange<u64> {
        Ok(self.shared().factions.invite(by, code))
    }

    async fn revoke_invitations(&self, by: &str) -> FactionChange<u64> {
        Ok(self.shared().factions.revoke(by))
    }

    async fn join_faction(&self, handle: &str, code: &str) -> FactionChange<u64> {
        Ok(self.shared().factions.join(handle, code))
    }

    async fn leave_faction(&self, handle: &str) -> FactionChange<u64> {
        Ok(self.shared().factions.leave(handle))
    }

    async fn set_role(&self, by: &str, member: &str, role: Option<Role>) -> FactionChange<()> {
        Ok(self.shared().factions.set_role(by, member, role))
    }

    async fn faction_board(
        &self,
        period: Period,
        count: usize,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let mut top = self.lock().faction_boards.top(period, SystemTime::now());
        top.truncate(count);
        Ok(top)
    }
}

#[async_trait]
impl ModerationStore for MemoryStore {
    async fn grow(&self, size: CanvasSize) -> Result<CanvasSize, StoreError> {
        let mut state = self.lock();
        let kept = state.grown.unwrap_or(self.size);
        let grown = CanvasSize {
            width: kept.width.max(size.width),
            height: kept.height.max(size.height),
        };
        if grown != kept {
            state.grown = Some(grown);
            // Sent under the lock, in order with the placements.
            let _ = self.updates.send(FeedEvent::Resized(grown));
        }
        Ok(grown)
    }

    async fn set_frozen(&self, frozen: bool) -> Result<(), StoreError> {
        self.lock().frozen = frozen;
        Ok(())
    }

    async fn is_frozen(&self) -> Result<bool, StoreError> {
        Ok(self.lock().frozen)
    }

    async fn ban(
        &self,
        target: &BanTarget,
        duration: Duration,
        shadow: bool,
    ) -> Result<(), StoreError> {
        let now = SystemTime::now();
        let mut shared = self.shared();
        shared.bans.retain(|_, ban| ban.until > now);
        let until = now + duration;
        shared.bans.insert(target.clone(), Ban { until, shadow });
        Ok(())
    }

    async fn report(&self, report: &Report) -> Result<(), StoreError> {
        let mut shared = self.shared();
        if shared.reports.len() >= Report::KEEP {
            shared.reports.pop_front();
        }
        shared.reports_made += 1;
        let id = shared.reports_made.to_string();
        shared.reports.push_back(Report {
            id,
            ..report.clone()
        });
        Ok(())
    }

    async fn reports(&self, count: usize) -> Result<Vec<Report>, StoreError> {
        Ok(self
            .shared()
            .reports
            .iter()
            .rev()
            .take(count)
            .cloned()
            .collect())
    }

    async fn resolve_report(&self, id: &str) -> Result<bool, StoreError> {
        let mut shared = self.shared();
        let before = shared.reports.len();
        shared.reports.retain(|report| report.id != id);
        Ok(shared.reports.len() < before)
    }

    async fn range_bans(&self) -> Result<Vec<RangeBan>, StoreError> {
        let now = SystemTime::now();
        Ok(self
            .shared()
            .bans
            .iter()
            .filter(|(_, ban)| ban.until > now)
            .filter_map(|(target, ban)| match target {
                BanTarget::Range(range) => Some(RangeBan {
                    range: *range,
                    until: ban.until,
                    shadow: ban.shadow,
                }),
                _ => None,
            })
            .collect())
    }

    async fn lift_ban(&self, target: &BanTarget) -> Result<bool, StoreError> {
        let now = SystemTime::now();
        Ok(self
            .shared()
            .bans
            .remove(target)
            .is_some_and(|ban| ban.until > now))
    }

    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut shared = self.shared();
        if shared.audit.len() >= AUDIT_LEN {
            shared.audit.pop_front();
        }
        shared.audit.push_back(entry.clone());
        Ok(())
    }

    async fn audit_log(&self, count: usize) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .shared()
            .audit
            .iter()
            .rev()
            .take(count)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl ArchiveStore for MemoryStore {
    async fn archive_turn(&self, interval: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        if state.archive_turn.is_some_and(|until| until > now) {
            return Ok(false);
        }
        state.archive_turn = Some(now + interval * 9 / 10);
        Ok(true)
    }

    async fn archive(
        &self,
        seq: u64,
        at: SystemTime,
        canvas: ArchivedCanvas,
        keep: ArchiveKeep,
    ) -> Result<(), StoreError> {
        self.lock().archive.add(seq, at, canvas, keep);
        Ok(())
    }

    async fn archived(&self) -> Result<Vec<ArchiveEntry>, StoreError> {
        let state = self.lock();
        Ok(state
            .archive
            .canvases
            .iter()
            .rev()
            .map(|(seq, at, kept)| ArchiveEntry {
                seq: *seq,
                at: *at,
                by_chunk: matches!(kept, Kept::ByChunk(_)),
            })
            .collect())
    }

    async fn archived_png(&self, seq: u64) -> Result<Option<Bytes>, StoreError> {
        Ok(self.lock().archive.find(seq).and_then(|kept| match kept {
            Kept::Whole(png) => Some(png.clone()),
            Kept::ByChunk(_) => None,
        }))
    }

    async fn archived_chunks(&self, seq: u64) -> Result<Option<Vec<ArchivedChunk>>, StoreError> {
        Ok(self.lock().archive.find(seq).and_then(|kept| match kept {
            Kept::ByChunk(chunks) => Some(chunks.clone()),
            Kept::Whole(_) => None,
        }))
    }

    async fn archived_chunk_png(
        &self,
        chunk: ChunkId,
        stored_with: u64,
    ) -> Result<Option<Bytes>, StoreError> {
        Ok(self
            .lock()
            .archive
            .chunk_pngs
            .get(&(chunk, stored_with))
            .cloned())
    }
}

/// The archived canvases, oldest first, and the chunks' PNGs they share.
#[derive(Default)]
struct Archive {
    canvases: VecDeque<(u64, SystemTime, Kept)>,
    /// By chunk and the seq of the archived canvas they were stored with.
    chunk_pngs: HashMap<(ChunkId, u64), Bytes>,
}

enum Kept {
    Whole(Bytes),
    ByChunk(Vec<ArchivedChunk>),
}

impl Archive {
    fn find(&self, seq: u64) -> Option<&Kept> {
        self.canvases
            .iter()
            .find(|(archived, ..)| *archived == seq)
            .map(|(.., kept)| kept)
    }

    fn add(&mut self, seq: u64, at: SystemTime, canvas: ArchivedCanvas, keep: ArchiveKeep) {
        self.canvases.retain(|(archived, ..)| *archived != seq);
        let kept = match canvas {
            ArchivedCanvas::Whole(png) => Kept::Whole(png),
            ArchivedCanvas::ByChunk { chunks, pngs } => {
                for (chunk, png) in pngs {
                    self.chunk_pngs.insert((chunk, seq), png);
                }
                Kept::ByChunk(chunks)
            }
        };
        self.canvases.push_back((seq, at, kept));
        while self.canvases.len() > 1
            && (self.canvases.len() > keep.snapshots || self.bytes() > keep.bytes)
        {
            let Some((_, _, Kept::ByChunk(dropped))) = self.canvases.pop_front() else {
                continue;
            };
            // A PNG is held by consecutive archived canvases from the one
            // it was stored with: if the next one does not hold it, none
            // does.
            let held: HashSet<(ChunkId, u64)> = match self.canvases.front() {
                Some((_, _, Kept::ByChunk(next))) => {
                    next.iter().map(|c| (c.chunk, c.stored_with)).collect()
                }
                _ => HashSet::new(),
            };
            for chunk in dropped {
                let png = (chunk.chunk, chunk.stored_with);
                if !held.contains(&png) {
                    self.chunk_pngs.remove(&png);
                }
            }
        }
    }

    fn bytes(&self) -> u64 {
        let whole: usize = self
            .canvases
            .iter()
            .map(|(.., kept)| match kept {
                Kept::Whole(png) => png.len(),
                Kept::ByChunk(_) => 0,
            })
            .sum();
        let chunks: usize = self.chunk_pngs.values().map(Bytes::len).sum();
        (whole + chunks) as u64
    }
}

#[async_trait]
impl PresenceStore for MemoryStore {
    /// The embedded store serves one instance: its count is the total.
    async fn report_online(
        &self,
        instance: &str,
        online: u32,
        ttl: Duration,
    ) -> Result<u32, StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        state.online.retain(|_, (_, until)| *until > now);
        state
            .online
            .insert(instance.to_owned(), (online, now + ttl));
        Ok(state.online.values().map(|(count, _)| count).sum())
    }
}

#[async_trait]
impl HealthStore for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The process's own memory is what `/metrics` already reports.
    async fn memory_by_kind(&self, _: usize) -> Result<Vec<super::KindUsage>, StoreError> {
        Ok(Vec::new())
    }
}

/// Counts a placement against its address's budget; the wait until the
/// window ends when the budget is spent. Windows are counted from the first
/// placement in them, and the map is pruned of ended ones when it grows.
fn spend_budget(state: &mut Shared, rules: &Rules, placement: &Placement) -> Option<Duration> {
    if rules.per_address == 0 {
        return None;
    }
    let (now, window) = (placement.at, rules.window());
    let elapsed = |start: SystemTime| now.duration_since(start).unwrap_or_default();
    if state.address_budget.len() >= PRUNE_AT {
        state
            .address_budget
            .retain(|_, (start, _)| elapsed(*start) < window);
    }
    let (start, used) = state
        .address_budget
        .entry(placement.address)
        .or_insert((now, 0));
    if elapsed(*start) >= window {
        (*start, *used) = (now, 0);
    }
    if *used >= rules.per_address {
        return Some(window - elapsed(*start));
    }
    *used += 1;
    None
}

/// The session's record, made if new. Sessions unseen for longer than
/// their time to live are forgotten when the map grows large.
fn session_record<'a>(state: &'a mut Shared, session: &SessionId) -> &'a mut SessionRecord {
    if state.sessions.len() >= PRUNE_AT {
        let now = SystemTime::now();
        state
            .sessions
            .retain(|_, s| now.duration_since(s.last_seen).unwrap_or_default() < SESSION_TTL);
    }
    state
        .sessions
        .entry(session.clone())
        .or_insert_with(|| SessionRecord {
            name: None,
            account: None,
            verified: false,
            last_seen: SystemTime::now(),
        })
}

/// The in-process feed of a [`MemoryStore`]'s placements.
pub struct LocalFeed {
    receiver: broadcast::Receiver<FeedEvent>,
    /// Whether the first event ("delivering now") was reported.
    started: bool,
}

impl LocalFeed {
    pub fn new(receiver: broadcast::Receiver<FeedEvent>) -> Self {
        Self {
            receiver,
            started: false,
        }
    }
}

#[async_trait]
impl Feed for LocalFeed {
    async fn next(&mut self) -> Option<FeedEvent> {
        if !self.started {
            self.started = true;
            return Some(FeedEvent::Delivering);
        }
        match self.receiver.recv().await {
            Ok(event) => Some(event),
            Err(RecvError::Lagged(_)) => Some(FeedEvent::Interrupted),
            Err(RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::palette::ColorIndex;

    fn placement(store: &MemoryStore, x: u16, session: &SessionId) -> Placement {
        placement_from(store, x, session, "192.0.2.1")
    }

    fn placement_from(store: &MemoryStore, x: u16, session: &SessionId, ip: &str) -> Placement {
        Placement {
            placing: Placing::Tile {
                coord: store.size.coord(x, 0).unwrap(),
                color: ColorIndex::parse(3).unwrap(),
            },
            session: session.clone(),
            address: ClientAddress::of(ip.parse().unwrap()),
            at: SystemTime::now(),
        }
    }

    fn store_with(cooldown_ms: u64, history_len: usize, per_address: u32) -> MemoryStore {
        let size = CanvasSize {
            width: 10,
            height: 10,
        };
        let rules = Rules {
            cooldown: Duration::from_millis(cooldown_ms),
            charges: 1,
            undo: Duration::ZERO,
            per_address,
            challenge: ChallengeMode::Off,
        };
        MemoryStore::new(size, rules, history_len)
    }

    fn store(cooldown_ms: u64, history_len: usize) -> MemoryStore {
        store_with(cooldown_ms, history_len, 0)
    }

    #[tokio::test]
    async fn history_bridges_only_what_it_still_holds() {
        let store = store(0, 3);
        let session = SessionId::generate();
        for x in 0..5 {
            store.place(placement(&store, x, &session)).await.unwrap();
        }
        let epoch = store.epoch;
        // Holds seqs 3, 4, 5.
        let seqs = |h: History| match h {
            History::Placements(updates) => Ok(updates.iter().map(|u| u.seq).collect::<Vec<_>>()),
            other => Err(other),
        };
        assert_eq!(
            seqs(store.history(epoch, 2, 10).await.unwrap()),
            Ok(vec![3, 4, 5])
        );
        assert_eq!(seqs(store.history(epoch, 3, 1).await.unwrap()), Ok(vec![4]));
        assert_eq!(seqs(store.history(epoch, 5, 10).await.unwrap()), Ok(vec![]));
        assert_eq!(
            seqs(store.history(epoch, 1, 10).await.unwrap()),
            Err(History::Trimmed)
        );
        assert_eq!(
            seqs(store.history(epoch, 6, 10).await.unwrap()),
            Err(History::WentBack)
        );
        assert_eq!(
            seqs(store.history(epoch + 1, 4, 10).await.unwrap()),
            Err(History::OtherEpoch)
        );
    }

    #[tokio::test]
    async fn cooldown_is_per_session() {
        let store = store(60_000, 10);
        let (a, b) = (SessionId::generate(), SessionId::generate());
        assert_eq!(
            store.place(placement(&store, 0, &a)).await.unwrap(),
            PlaceOutcome::Accepted {
                seq: 1,
                refill: Duration::from_secs(60)
            }
        );
        assert!(matches!(
            store.place(placement(&store, 1, &a)).await.unwrap(),
            PlaceOutcome::Cooldown { retry_after } if retry_after > Duration::from_secs(59)
        ));
        assert_eq!(
            store.place(placement(&store, 1, &b)).await.unwrap(),
            PlaceOutcome::Accepted {
                seq: 2,
                refill: Duration::from_secs(60)
            }
        );
        let chunks = store.snapshot().await.unwrap().chunks;
        assert_eq!([chunks.pixel(0, 0), chunks.pixel(1, 0)], [3, 3]);
    }

    #[tokio::test]
    async fn an_address_budget_caps_all_its_sessions_together() {
        let store = store_with(60_000, 10, 3);
        for x in 0..3 {
            let outcome = store
                .place(placement(&store, x, &SessionId::generate()))
                .await
                .unwrap();
            assert!(matches!(outcome, PlaceOutcome::Accepted { .. }));
        }
        // A fourth session from the same address waits for the window.
        assert!(matches!(
            store.place(placement(&store, 4, &SessionId::generate())).await.unwrap(),
            PlaceOutcome::Cooldown { retry_after } if retry_after > Duration::from_secs(59)
        ));
        // Another address is not affected; the same /64 is the same address.
        let other = placement_from(&store, 5, &SessionId::generate(), "192.0.2.2");
        assert!(matches!(
            store.place(other).await.unwrap(),
            PlaceOutcome::Accepted { .. }
        ));
        for ip in ["2001:db8::1", "2001:db8::2", "2001:db8::3"] {
            let v6 = placement_from(&store, 6, &SessionId::generate(), ip);
            assert!(matches!(
                store.place(v6).await.unwrap(),
                PlaceOutcome::Accepted { .. }
            ));
        }
        let same_64 = placement_from(&store, 7, &SessionId::generate(), "2001:db8::ffff");
        assert!(matches!(
            store.place(same_64).await.unwrap(),
            PlaceOutcome::Cooldown { .. }
        ));
    }
}
