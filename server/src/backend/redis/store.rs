//! The shared store: one canvas in Redis for every instance.
//!
//! Each operation that must see a consistent state is one Lua script
//! (`place.lua`, `snapshot.lua`, `history.lua`), run with EVALSHA and loaded
//! again on NOSCRIPT. Every command goes through the [`Master`] connection,
//! with a deadline, so a placement answers promptly when Redis does not.
//! The key schema is in docs/redis.md.
//!
//! Placements are group-committed: one task per instance takes every
//! placement waiting and runs them through one script call, which records
//! them as one history entry and publishes them as one message. While a call
//! is in flight the next placements queue, so the busier the instance, the
//! larger (and cheaper per placement) the calls.
//!
//! With [`Durability::Replica`] the call is followed by `WAIT` on the same
//! connection, and a placement is accepted only once every replica the
//! master has online has it: one `WAIT` covers the whole batch. Placements have a connection of their own
//! for that (`WAIT` holds up the commands behind it on its connection), so
//! reads and sessions never queue behind a slow replica.

mod factions;
mod watches;

use super::{keys::Keys, locate::Locator, master::Master};
use crate::{
    backend::{
        AccountStore, ArchiveStore, BoardStore, CanvasStore, ChatOutcome, ChatPost, ChatStore,
        FactionStore, FillPlacer, Filled, HealthStore, History, KindUsage, ModerationStore,
        PlacementStore, PresenceStore, SessionStore, StoreError, ACCOUNT_TTL, AUDIT_LEN, CHAT_KEPT,
        NAMES_KEPT, NEW_SESSION_WINDOW, SESSION_TTL,
    },
    config::{Durability, RedisConfig},
    metrics::Metrics,
    model::{
        is_session_handle, unix_ms, AccountId, ArchiveEntry, ArchiveKeep, ArchivedCanvas,
        ArchivedChunk, AuditEntry, Badge, BanTarget, Board, Chunk, Chunks, ClientAddress, Linked,
        Logged, Period, PixelRecord, PlaceOutcome, Placement, Placer, Placing, PlayerStats,
        RangeBan, Report, Rules, SessionId, Snapshot, Update, MODERATOR,
    },
};
use app::{
    chunk::{ChunkId, CHUNK_AREA},
    geometry::{CanvasSize, Coord},
    name::DisplayName,
    protocol::{decode_tile_list, ChatLine, Tile, TILE_LEN},
};
use async_trait::async_trait;
use bytes::Bytes;
use redis::{aio::ConnectionLike, Script, Value};
use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Weak},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

static PLACE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("place.lua")));
static SNAPSHOT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("snapshot.lua")));
static HISTORY: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("history.lua")));
static NEW_EPOCH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("new_epoch.lua")));
static FOLD: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("fold.lua")));
static ARCHIVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("archive.lua")));
static FILL: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("fill.lua")));
static GROW: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("grow.lua")));
static REDEEM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("redeem.lua")));
static CHAT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("chat.lua")));
static CHAT_REMOVE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("chat_remove.lua")));
static PRESENCE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("presence.lua")));

/// The most placements one script call takes.
const MAX_BATCH: usize = 256;
/// Placements waiting for a script call; past this, placing sockets wait.
const PLACE_QUEUE: usize = 8192;

pub struct RedisStore {
    /// Every command but placements goes through it.
    master: Master,
    /// Placements, and the `WAIT` after each batch.
    placer: Master,
    durability: Durability,
    keys: Keys,
    rules: Rules,
    /// The canvas's size: what a canvas of an earlier version is cut into
    /// chunks by.
    size: CanvasSize,
    history_len: usize,
    /// Placements on their way to the batching task.
    placements: mpsc::Sender<Pending>,
}

/// A placement waiting for its script call, and where its outcome goes.
struct Pending {
    placement: Placement,
    outcome: oneshot::Sender<Result<PlaceOutcome, StoreError>>,
}

impl RedisStore {
    /// Connections are made on first use, so an instance can start while
    /// Redis is down. The batching task ends when the store is dropped.
    pub fn new(
        config: &RedisConfig,
        rules: Rules,
        size: CanvasSize,
        keys: Keys,
        locator: Arc<Locator>,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let (placements, queue) = mpsc::channel(PLACE_QUEUE);
        Arc::new_cyclic(|store| {
            tokio::spawn(place_batches(store.clone(), queue));
            Self {
                master: Master::new(locator.clone(), config.command_timeout, metrics.clone()),
                placer: Master::new(locator, config.command_timeout, metrics),
                durability: config.durability,
                keys,
                rules,
                size,
                history_len: config.history_len.max(1),
                placements,
            }
        })
    }
}

impl RedisStore {
    /// The newest `count` entries of a stream, newest first: each one's ID
    /// and fields (the audit log, the reports).
    async fn newest_entries(
        &self,
        key: String,
        count: usize,
    ) -> Result<Vec<(String, HashMap<String, String>)>, StoreError> {
        self.master
            .run(|mut c| async move {
                redis::cmd("XREVRANGE")
                    .arg(key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut c)
                    .await
            })
            .await
    }

    /// Sets one field of the session's hash and renews its time to live.
    async fn save_session(
        &self,
        session: &SessionId,
        field: &'static str,
        value: String,
    ) -> Result<(), StoreError> {
        let key = self.keys.session(session);
        self.master
            .run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .hset(&key, field, value)
                    .ignore()
                    .expire(&key, SESSION_TTL.as_secs() as i64)
                    .ignore()
                    .query_async(&mut c)
                    .await
            })
            .await
    }
}

impl RedisStore {
    /// Runs `batch` through one call of `place.lua`: each placement is
    /// accepted or refused on its own, in order.
    async fn place_batch(&self, batch: &[Pending]) -> Result<Vec<PlaceOutcome>, StoreError> {
        let keys = &self.keys;
        let mut invocation = PLACE.prepare_invoke();
        canvas_keys(&mut invocation, keys)
            .key(&keys.frozen)
            .key(&keys.bans);
        for Pending { placement, .. } in batch {
            invocation
                .key(keys.cooldown(&placement.session))
                .key(keys.session(&placement.session))
                .key(keys.address_budget(placement.address))
                .key(keys.undo(&placement.session));
        }
        let accepted_at = batch.iter().map(|p| p.placement.at).min();
        invocation
            .arg(accepted_at.map_or(0, unix_ms))
            .arg(self.rules.cooldown.as_millis() as u64)
            .arg(self.history_len)
            .arg(&keys.channel)
            .arg(new_epoch())
            .arg(self.rules.per_address)
            .arg(self.rules.window().as_millis() as u64)
            .arg(keys.ban_prefix())
            .arg(self.rules.challenge.code())
            .arg(keys.chunk_prefix())
            .arg(self.rules.charges.max(1))
            .arg(self.rules.undo.as_millis() as u64);
        for Pending { placement, .. } in batch {
            match placement.placing {
                Placing::Tile { coord, color } => invocation
                    .arg(coord.record_key())
                    .arg(color.get())
                    .arg(coord.x)
                    .arg(coord.y),
                Placing::Undo => invocation.arg(0).arg("u").arg(0).arg(0),
            };
            invocation.arg(format!(
                "{},{}",
                placement.session.handle(),
                placement.address
            ));
        }
        let durability = self.durability;
        let (results, durable): (Vec<u64>, bool) = self
            .placer
            .run(|c| async move { invoke_confirmed(&invocation, durability, c).await })
            .await?;
        if results.len() != batch.len() * 3 {
            return Err(malformed("placement results"));
        }
        if !durable {
            tracing::warn!(
                placements = batch.len(),
                "no replica confirmed the placements in time"
            );
        }
        results
            .chunks(3)
            .map(|answer| {
                let refill = Duration::from_millis(answer[2]);
                Ok(PlaceCode::try_from(answer[0])?.outcome(answer[1], refill, durable))
            })
            .collect()
    }
}

/// What `place.lua` answers for one placement, with a number (the first of
/// its three; the second is a seq or milliseconds, the third the session's
/// refill). The script names the
/// same numbers (`ACCEPTED` … `SHADOWED`); any other is an error, never a
/// guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlaceCode {
    Accepted = 0,
    Cooling = 1,
    Banned = 2,
    Frozen = 3,
    NeedsChallenge = 4,
    Shadowed = 5,
    NothingToUndo = 6,
}

impl TryFrom<u64> for PlaceCode {
    type Error = StoreError;

    fn try_from(code: u64) -> Result<Self, StoreError> {
        Ok(match code {
            0 => Self::Accepted,
            1 => Self::Cooling,
            2 => Self::Banned,
            3 => Self::Frozen,
            4 => Self::NeedsChallenge,
            5 => Self::Shadowed,
            6 => Self::NothingToUndo,
            _ => return Err(malformed("placement result code")),
        })
    }
}

impl PlaceCode {
    /// The outcome, given the pair's second number and whether the batch
    /// was confirmed by the replicas.
    fn outcome(self, value: u64, refill: Duration, durable: bool) -> PlaceOutcome {
        match self {
            Self::Accepted if durable => PlaceOutcome::Accepted { seq: value, refill },
            Self::Accepted => PlaceOutcome::Unconfirmed { seq: value },
            Self::Cooling => PlaceOutcome::Cooldown {
                retry_after: Duration::from_millis(value),
            },
            Self::Banned => PlaceOutcome::Banned {
                retry_after: Duration::from_millis(value),
            },
            Self::Frozen => PlaceOutcome::Frozen,
            Self::NeedsChallenge => PlaceOutcome::ChallengeRequired,
            Self::Shadowed => PlaceOutcome::Shadowed { refill },
            Self::NothingToUndo => PlaceOutcome::NothingToUndo,
        }
    }
}

/// Records what a batch came to on its span (seqs, store round trip), and
/// logs it.
fn record_batch(
    span: &tracing::Span,
    committed: &Result<Vec<PlaceOutcome>, StoreError>,
    took: Duration,
) {
    let store_ms = took.as_secs_f64() * 1000.0;
    span.record("store_ms", store_ms);
    span.in_scope(|| match committed {
        Ok(outcomes) => {
            let seqs = outcomes.iter().filter_map(|outcome| match outcome {
                PlaceOutcome::Accepted { seq, .. } | PlaceOutcome::Unconfirmed { seq } => {
                    Some(*seq)
                }
                _ => None,
            });
            match (seqs.clone().min(), seqs.max()) {
                (Some(first_seq), Some(last_seq)) => {
                    span.record("first_seq", first_seq);
                    span.record("last_seq", last_seq);
                    tracing::debug!(first_seq, last_seq, store_ms, "placement batch committed")
                }
                _ => tracing::debug!(store_ms, "placement batch refused"),
            }
        }
        Err(error) => tracing::debug!(%error, "placement batch failed"),
    });
}

/// The batching task: takes every placement waiting (up to [`MAX_BATCH`])
/// into one script call, answers each, and starts over. Ends with the store.
async fn place_batches(store: Weak<RedisStore>, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let Some(store) = store.upgrade() else {
            return;
        };
        // One span per batch: the placements' seqs and the store round
        // trip, where the connections' events say who placed them.
        let span = tracing::debug_span!(
            "placement_batch",
            placements = batch.len(),
            first_seq = tracing::field::Empty,
            last_seq = tracing::field::Empty,
            store_ms = tracing::field::Empty,
        );
        let started = std::time::Instant::now();
        let committed = store.place_batch(&batch).instrument(span.clone()).await;
        // (The seqs are gathered only when someone reads them, in the logs
        // or the exported traces: this is the placement path.)
        if !span.is_disabled() {
            record_batch(&span, &committed, started.elapsed());
        }
        match committed {
            Ok(outcomes) => {
                for (pending, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = pending.outcome.send(Ok(outcome));
                }
            }
            Err(error) => {
                for pending in batch.drain(..) {
                    let _ = pending.outcome.send(Err(error.clone()));
                }
            }
        }
    }
}

/// A candidate epoch, used only if Redis has none yet.
/// A history entry's placements with when and by whom (entries written
/// before moderation, or by earlier versions one placement each, have
/// neither; their placements are still listed).
fn parse_logged(
    fields: &HashMap<String, Vec<u8>>,
    out: &mut Vec<Logged>,
) -> Result<(), StoreError> {
    let text = |name: &str| fields.get(name).and_then(|v| std::str::from_utf8(v).ok());
    let Some(first_seq) = text("f").and_then(|f| f.parse::<u64>().ok()) else {
        // One placement of an earlier version: `x`, `y`, `c`, no placer.
        return Ok(());
    };
    let tiles = decode_tile_list(fields.get("t").map_or(&[][..], Vec::as_slice))
        .map_err(|_| malformed("history tiles"))?;
    let at = text("at")
        .and_then(|at| at.parse().ok())
        .map(|ms| UNIX_EPOCH + Duration::from_millis(ms));
    let mut placers = text("p").map(|p| p.split(';'));
    for (seq, tile) in (first_seq..).zip(tiles) {
        let placer = placers
            .as_mut()
            .and_then(Iterator::next)
            .and_then(|p| p.split_once(','))
            .map(|(session, address)| Placer {
                session: session.to_owned(),
                address: address.to_owned(),
            });
        out.push(Logged {
            seq,
            tile,
            at,
            placer,
        });
    }
    Ok(())
}

/// `snapshot.lua`'s answer: epoch, seq, size, then `<cx>,<cy>`, version
/// and pixels for each painted chunk.
fn parse_snapshot(reply: &[Vec<u8>]) -> Result<Snapshot, StoreError> {
    let number = |bytes: &[u8]| -> Option<u64> { std::str::from_utf8(bytes).ok()?.parse().ok() };
    let [epoch, seq, size, chunks @ ..] = reply else {
        return Err(malformed("snapshot"));
    };
    let (Some(epoch), Some(seq)) = (number(epoch), number(seq)) else {
        return Err(malformed("snapshot epoch or seq"));
    };
    let size = match &size[..] {
        b"" => None,
        size => Some(parse_size(size).ok_or(malformed("canvas size"))?),
    };
    let mut snapshot = Snapshot {
        epoch,
        seq,
        size,
        chunks: Chunks::new(),
    };
    for chunk in chunks.chunks(3) {
        let [id, version, pixels] = chunk else {
            return Err(malformed("snapshot chunk"));
        };
        let id = std::str::from_utf8(id)
            .ok()
            .and_then(|id| id.split_once(','))
            .and_then(|(cx, cy)| {
                Some(ChunkId {
                    cx: cx.parse().ok()?,
                    cy: cy.parse().ok()?,
                })
            })
            .ok_or(malformed("snapshot chunk id"))?;
        let version = number(version).ok_or(malformed("snapshot chunk version"))?;
        // BITFIELD grows a chunk's string only as far as its last pixel set.
        let mut pixels = pixels.clone();
        pixels.resize(CHUNK_AREA, 0);
        snapshot.chunks.insert(
            id,
            Chunk {
                version,
                pixels: pixels.into_boxed_slice(),
            },
        );
    }
    Ok(snapshot)
}

/// A size as the store keeps it: `<w>,<h>`, both at least 1.
pub(super) fn parse_size(text: &[u8]) -> Option<CanvasSize> {
    let (width, height) = std::str::from_utf8(text).ok()?.split_once(',')?;
    let size = CanvasSize {
        width: width.parse().ok()?,
        height: height.parse().ok()?,
    };
    (size.width > 0 && size.height > 0).then_some(size)
}

/// The keys a script that places starts with: epoch, seq, the chunks'
/// versions, history and pixel records (`place.lua`, `fill.lua`).
fn canvas_keys<'a, 'b>(
    invocation: &'a mut redis::ScriptInvocation<'b>,
    keys: &Keys,
) -> &'a mut redis::ScriptInvocation<'b> {
    invocation
        .key(&keys.epoch)
        .key(&keys.seq)
        .key(&keys.chunks)
        .key(&keys.history)
        .key(&keys.meta)
}

/// Runs `invocation`, then tells whether what it wrote is durable: at once
/// with [`Durability::Local`], else once every replica the master has
/// online acknowledged it (`WAIT` on the same connection covers exactly its
/// writes). `ROLE`, which lists the online replicas, goes out with the
/// script on the same connection: it costs no round trip of its own.
///
/// Every replica, not just one: with two replicas the Sentinels may promote
/// either after the master dies (the one whose offset they last saw
/// highest, up to a second before), and a placement only the other had is
/// then lost when it resyncs from the new master. `scripts/chaos` lost 83
/// acknowledged placements that way, about one run in eight, while this
/// waited for one replica. A replica that is away is not waited for (the
/// others carry on), and none online means nothing is confirmed.
async fn invoke_confirmed<T: redis::FromRedisValue>(
    invocation: &redis::ScriptInvocation<'_>,
    durability: Durability,
    mut connection: redis::aio::MultiplexedConnection,
) -> redis::RedisResult<(T, bool)> {
    let Durability::Replica { wait } = durability else {
        return Ok((invocation.invoke_async(&mut connection).await?, true));
    };
    let (mut asking, role) = (connection.clone(), redis::cmd("ROLE"));
    let (value, role): (T, Vec<Value>) = tokio::try_join!(
        invocation.invoke_async(&mut connection),
        role.query_async(&mut asking)
    )?;
    let online = match role.get(2) {
        Some(Value::Array(replicas)) => replicas.len().max(1),
        _ => 1,
    };
    let replicas: usize = redis::cmd("WAIT")
        .arg(online)
        .arg(wait.as_millis() as u64)
        .query_async(&mut connection)
        .await?;
    Ok((value, replicas >= online))
}

fn new_epoch() -> String {
    rand::random::<u64>().max(1).to_string()
}

fn malformed(what: &'static str) -> StoreError {
    StoreError::Malformed(what)
}

#[async_trait]
impl CanvasStore for RedisStore {
    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let keys = &self.keys;
        let mut invocation = SNAPSHOT.prepare_invoke();
        invocation
            .key(&keys.epoch)
            .key(&keys.seq)
            .key(&keys.chunks)
            .key(&keys.history)
            .key(&keys.legacy_pixels)
            .key(&keys.meta)
            .key(&keys.size)
            .arg(new_epoch())
            .arg(keys.chunk_prefix())
            .arg(self.size.width)
            .arg(self.size.height);
        let reply: Vec<Vec<u8>> = self
            .master
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        parse_snapshot(&reply)
    }

    async fn history(
        &self,
        epoch: u64,
        after_seq: u64,
        limit: usize,
    ) -> Result<History, StoreError> {
        let keys = &self.keys;
        let mut invocation = HISTORY.prepare_invoke();
        invocation
            .key(&keys.epoch)
            .key(&keys.seq)
            .key(&keys.history)
            .arg(after_seq)
            .arg(limit);
        let (current_epoch, newest, entries): (String, u64, Vec<Value>) = self
            .master
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        if current_epoch.parse::<u64>().ok() != Some(epoch) {
            return Ok(History::OtherEpoch);
        }
        if after_seq > newest {
            return Ok(History::WentBack);
        }
        let mut updates = Vec::new();
        for entry in &entries {
            parse_entry(epoch, entry, &mut updates)?;
        }
        // The first entry may hold placements up to `after_seq` as well.
        updates.retain(|u| u.seq > after_seq);
        updates.truncate(limit);
        let consecutive = (after_seq + 1..).zip(&updates).all(|(seq, u)| u.seq == seq);
        // History bridges the gap only if it starts right after `after_seq`.
        match updates.first() {
            Some(first) if first.seq != after_seq + 1 => Ok(History::Trimmed),
            Some(_) if !consecutive => Err(malformed("history with a hole")),
            None if after_seq < newest => Ok(History::Trimmed),
            _ => Ok(History::Placements(updates)),
        }
    }

    async fn start_new_epoch(&self, stale: u64) -> Result<(), StoreError> {
        let mut invocation = NEW_EPOCH.prepare_invoke();
        invocation
            .key(&self.keys.epoch)
            .arg(stale)
            .arg(new_epoch())
            .arg(&self.keys.channel);
        let epoch: String = self
            .master
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        tracing::warn!(stale, %epoch, "history went back on applied tiles: new epoch");
        Ok(())
    }
}

#[async_trait]
impl PlacementStore for RedisStore {
    async fn place(&self, placement: Placement) -> Result<PlaceOutcome, StoreError> {
        let (outcome, answer) = oneshot::channel();
        let closed = || StoreError::Closed;
        self.placements
            .send(Pending { placement, outcome })
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    async fn refill(&self, session: &SessionId) -> Result<Duration, StoreError> {
        let key = self.keys.cooldown(session);
        let ttl: i64 = self
            .master
            .run(|mut c| async move { redis::cmd("PTTL").arg(key).query_async(&mut c).await })
            .await?;
        Ok(Duration::from_millis(ttl.max(0) as u64))
    }

    async fn pixel(&self, coord: Coord) -> Result<Option<PixelRecord>, StoreError> {
        let meta = self.keys.meta.clone();
        let record: Option<String> = self
            .master
            .run(|mut c| async move {
                redis::cmd("HGET")
                    .arg(meta)
                    .arg(coord.record_key())
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let Some(mut record) = record.map(|r| parse_record(&r)).transpose()? else {
            return Ok(None);
        };
        // Only a named pixel costs the second look.
        if record.placed_by.is_some() {
            if let Some(placer) = &record.placer {
                if self.is_erased(&placer.session).await? {
                    record.placed_by = None;
                }
            }
        }
        Ok(Some(record))
    }

    async fn fill(
        &self,
        pixels: &[(Coord, u8)],
        placer: &FillPlacer,
    ) -> Result<Filled, StoreError> {
        let keys = &self.keys;
        let mut indices = Vec::with_capacity(pixels.len() * 4);
        let mut tiles = Vec::with_capacity(pixels.len() * TILE_LEN);
        for (coord, color) in pixels {
            indices.extend_from_slice(&coord.record_key().to_le_bytes());
            tiles.extend_from_slice(&coord.x.to_le_bytes());
            tiles.extend_from_slice(&coord.y.to_le_bytes());
            tiles.push(*color);
        }
        let mut invocation = FILL.prepare_invoke();
        canvas_keys(&mut invocation, keys)
            .arg(unix_ms(SystemTime::now()))
            .arg(self.history_len)
            .arg(&keys.channel)
            .arg(new_epoch())
            .arg(indices)
            .arg(format!("{MODERATOR},{}", placer.address))
            .arg(&placer.name)
            .arg(tiles)
            .arg(keys.chunk_prefix());
        let durability = self.durability;
        let ((first_seq, last_seq), durable): ((u64, u64), bool) = self
            .placer
            .run(|c| async move { invoke_confirmed(&invocation, durability, c).await })
            .await?;
        Ok(Filled {
            first_seq,
            last_seq,
            durable,
        })
    }

    async fn logged_history(&self) -> Result<Vec<Logged>, StoreError> {
        const PAGE: usize = 1_000;
        let mut logged = Vec::new();
        let mut from = "-".to_owned();
        loop {
            let (key, start) = (self.keys.history.clone(), from.clone());
            let page: Vec<(String, HashMap<String, Vec<u8>>)> = self
                .master
                .run(|mut c| async move {
                    redis::cmd("XRANGE")
                        .arg(key)
                        .arg(start)
                        .arg("+")
                        .arg("COUNT")
                        .arg(PAGE)
                        .query_async(&mut c)
                        .await
                })
                .await?;
            for (_, fields) in &page {
                parse_logged(fields, &mut logged)?;
            }
            match page.last() {
                Some((id, _)) if page.len() == PAGE => from = format!("({id}"),
                _ => return Ok(logged),
            }
        }
    }
}

/// Players read past a board's top for each asked, so that banned ones
/// left out still leave a full top.
const BOARD_MARGIN: usize = 10;

/// History entries one fold of the boards reads at a time, and how many
/// such pages one turn folds at most.
const FOLD_PAGE: usize = 1_000;
const FOLD_PAGES: usize = 20;

/// How long an instance holds the turn to fold the boards.
const FOLD_TURN_MS: u64 = 900;

/// What a stretch of the history adds to the boards.
struct BoardCounts {
    /// By board key and player: what to add, and the board's time to live
    /// (seconds, 0 for none).
    added: HashMap<(String, String), (i64, u64)>,
    /// By player: their first and last placement in the stretch (unix ms).
    times: HashMap<String, (u64, u64)>,
    /// By player and faction board key: what the player's faction (if any)
    /// gets, and the board's time to live.
    for_factions: HashMap<(String, String), (i64, u64)>,
    placements: usize,
}

impl BoardCounts {
    /// Counts each entry's tiles: a placement for its placer on the
    /// all-time, the day's and the week's boards, and its pixel moved on
    /// the board of pixels standing from the placer it took it from (`o`;
    /// entries written before it are counted as placements only).
    fn of(entries: &[(String, HashMap<String, Vec<u8>>)], keys: &Keys) -> Self {
        let mut counts = Self {
            added: HashMap::new(),
            times: HashMap::new(),
            for_factions: HashMap::new(),
            placements: 0,
        };
        let text = |fields: &HashMap<String, Vec<u8>>, name: &str| {
            fields
                .get(name)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        for (_, fields) in entries {
            let at_ms: u64 = text(fields, "at").parse().unwrap_or_default();
            let at = UNIX_EPOCH + Duration::from_millis(at_ms);
            let boards = [
                (keys.board(Board::Placed(Period::All), at), 0),
                (keys.board(Board::Placed(Period::Today), at), 2 * 86_400),
                (keys.board(Board::Placed(Period::ThisWeek), at), 8 * 86_400),
            ];
            let faction_boards = [
                (keys.faction_board(Period::All, at), 0),
                (keys.faction_board(Period::Today, at), 2 * 86_400),
                (keys.faction_board(Period::ThisWeek, at), 8 * 86_400),
            ];
            let standing = keys.board(Board::Standing, at);
            let (placers, owners) = (text(fields, "p"), text(fields, "o"));
            let mut owners = owners.split(';');
            for placer in placers.split(';').filter(|p| !p.is_empty()) {
                counts.placements += 1;
                let handle = placer.split(',').next().unwrap_or_default();
                let replaced = owners.next().filter(|o| is_session_handle(o));
                let player = is_session_handle(handle).then_some(handle);
                if let Some(player) = player {
                    for (board, ttl) in &boards {
                        counts.add(board, player, 1, *ttl);
                    }
                    for (board, ttl) in &faction_boards {
                        let entry = counts
                            .for_factions
                            .entry((player.to_owned(), board.clone()))
                            .or_insert((0, *ttl));
                        entry.0 += 1;
                    }
                    let times = counts
                        .times
                        .entry(player.to_owned())
                        .or_insert((at_ms, at_ms));
                    times.0 = times.0.min(at_ms);
                    times.1 = times.1.max(at_ms);
                }
                if player != replaced {
                    if let Some(player) = player {
                        counts.add(&standing, player, 1, 0);
                    }
                    if let Some(replaced) = replaced {
                        counts.add(&standing, replaced, -1, 0);
                    }
                }
            }
        }
        counts.added.retain(|_, (by, _)| *by != 0);
        counts
    }

    /// The players who placed in the stretch, for [`BoardCounts::credit`].
    fn players(&self) -> Vec<String> {
        self.times.keys().cloned().collect()
    }

    /// Credits each player's placements to their faction (`badges`, in the
    /// order of [`BoardCounts::players`]) on the faction boards.
    fn credit(&mut self, players: &[String], badges: &[Option<Badge>]) {
        let faction: HashMap<&str, u64> = players
            .iter()
            .zip(badges)
            .filter_map(|(player, badge)| Some((player.as_str(), badge.as_ref()?.faction)))
            .collect();
        for ((player, board), (by, ttl)) in std::mem::take(&mut self.for_factions) {
            if let Some(id) = faction.get(player.as_str()) {
                self.add(&board, &id.to_string(), by, ttl);
            }
        }
    }

    fn add(&mut self, board: &str, player: &str, by: i64, ttl: u64) {
        let entry = self
            .added
            .entry((board.to_owned(), player.to_owned()))
            .or_insert((0, ttl));
        entry.0 += by;
    }
}

#[async_trait]
impl BoardStore for RedisStore {
    async fn leaderboard(
        &self,
        board: Board,
        count: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let key = self.keys.board(board, SystemTime::now());
        let stop = (count + BOARD_MARGIN).saturating_sub(1);
        let top: Vec<(String, f64)> = self
            .master
            .run(|mut c| async move {
                redis::cmd("ZRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(stop)
                    .arg("REV")
                    .arg("WITHSCORES")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let bans: Vec<String> = top
            .iter()
            .map(|(handle, _)| self.keys.session_ban(handle))
            .collect();
        let handles: Vec<&str> = top.iter().map(|(handle, _)| handle.as_str()).collect();
        let erased_key = self.keys.erased();
        // Per player: whether it is banned, then whether it was erased.
        let left_out: Vec<bool> = if bans.is_empty() {
            Vec::new()
        } else {
            self.master
                .run(|mut c| async move {
                    let mut pipe = redis::pipe();
                    for (key, handle) in bans.iter().zip(&handles) {
                        pipe.cmd("EXISTS").arg(key);
                        pipe.cmd("SISMEMBER").arg(&erased_key).arg(handle);
                    }
                    pipe.query_async(&mut c).await
                })
                .await?
        };
        let left_out = left_out.chunks(2).map(|pair| pair.iter().any(|b| *b));
        Ok(top
            .into_iter()
            .zip(left_out)
            .filter(|(_, left_out)| !left_out)
            .map(|((handle, score), _)| (handle, score.max(0.0) as u64))
            .take(count)
            .collect())
    }

    async fn player(&self, handle: &str) -> Result<PlayerStats, StoreError> {
        let now = SystemTime::now();
        let (first, last) = self.keys.first_and_last_placed();
        let boards = [
            self.keys.board(Board::Placed(Period::All), now),
            self.keys.board(Board::Standing, now),
            first,
            last,
        ];
        let member = handle.to_owned();
        let scores: Vec<Option<f64>> = self
            .master
            .run(|mut c| async move {
                let mut pipe = redis::pipe();
                for board in &boards {
                    pipe.cmd("ZSCORE").arg(board).arg(&member);
                }
                pipe.query_async(&mut c).await
            })
            .await?;
        let score = |n: usize| scores.get(n).copied().flatten();
        let at = |n: usize| score(n).map(|ms| UNIX_EPOCH + Duration::from_millis(ms as u64));
        Ok(PlayerStats {
            placed: score(0).unwrap_or_default().max(0.0) as u64,
            standing: score(1).unwrap_or_default().max(0.0) as u64,
            first: at(2),
            last: at(3),
        })
    }

    async fn forget_player(&self, handle: &str) -> Result<(), StoreError> {
        let now = SystemTime::now();
        let (first, last) = self.keys.first_and_last_placed();
        let boards = [
            self.keys.board(Board::Placed(Period::All), now),
            self.keys.board(Board::Placed(Period::Today), now),
            self.keys.board(Board::Placed(Period::ThisWeek), now),
            self.keys.board(Board::Standing, now),
            first,
            last,
        ];
        let member = handle.to_owned();
        self.master
            .run(|mut c| async move {
                let mut pipe = redis::pipe();
                for board in &boards {
                    pipe.cmd("ZREM").arg(board).arg(&member).ignore();
                }
                pipe.query_async(&mut c).await
            })
            .await
    }

    async fn fold_boards(&self) -> Result<usize, StoreError> {
        let folded = self.keys.boards_folded();
        // One instance a second: the others would read the same stretch.
        if !self
            .take_turn(self.keys.boards_turn(), FOLD_TURN_MS)
            .await?
        {
            return Ok(0);
        }
        let mut counted = 0;
        for _ in 0..FOLD_PAGES {
            let history = self.keys.history.clone();
            let folded_key = folded.clone();
            let (position, entries): (Option<String>, Vec<(String, HashMap<String, Vec<u8>>)>) =
                self.master
                    .run(|mut c| async move {
                        let position: Option<String> = redis::cmd("GET")
                            .arg(&folded_key)
                            .query_async(&mut c)
                            .await?;
                        let start = position
                            .as_ref()
                            .map_or_else(|| "-".to_owned(), |p| format!("({p}"));
                        let entries = redis::cmd("XRANGE")
                            .arg(history)
                            .arg(start)
                            .arg("+")
                            .arg("COUNT")
                            .arg(FOLD_PAGE)
                            .query_async(&mut c)
                            .await?;
                        Ok((position, entries))
                    })
                    .await?;
            let Some((last, _)) = entries.last() else {
                break;
            };
            let mut counts = BoardCounts::of(&entries, &self.keys);
            let players = counts.players();
            let badges = self.badges(&players).await?;
            counts.credit(&players, &badges);
            counted += counts.placements;
            let mut invocation = FOLD.prepare_invoke();
            let (first_board, last_board) = self.keys.first_and_last_placed();
            invocation
                .key(&folded)
                .arg(position.unwrap_or_default())
                .arg(last)
                .arg(first_board)
                .arg(last_board)
                .arg(counts.added.len());
            for ((board, player), (by, ttl)) in &counts.added {
                invocation.arg(board).arg(by).arg(player).arg(ttl);
            }
            for (player, (first, last)) in &counts.times {
                invocation.arg(player).arg(first).arg(last);
            }
            let applied: u8 = self
                .master
                .run(|mut c| async move { invocation.invoke_async(&mut c).await })
                .await?;
            if applied == 0 || entries.len() < FOLD_PAGE {
                break;
            }
        }
        Ok(counted)
    }

    async fn names(&self, handle: &str) -> Result<Vec<(SystemTime, String)>, StoreError> {
        let key = self.keys.names(handle);
        let names: Vec<String> = self
            .master
            .run(|mut c| async move {
                redis::cmd("LRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(names
            .iter()
            .filter_map(|entry| {
                let (ms, name) = entry.split_once(',')?;
                let at = UNIX_EPOCH + Duration::from_millis(ms.parse().ok()?);
                Some((at, name.to_owned()))
            })
            .collect())
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn admit_new_session(
        &self,
        address: ClientAddress,
        limit: u32,
    ) -> Result<bool, StoreError> {
        if limit == 0 {
            return Ok(true);
        }
        let key = self.keys.new_sessions(address);
        let (count,): (u32,) = self
            .master
            .run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .incr(&key, 1)
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(NEW_SESSION_WINDOW.as_secs())
                    .arg("NX")
                    .ignore()
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(count <= limit)
    }

    async fn shared_secret(&self, candidate: &str) -> Result<String, StoreError> {
        let key = self.keys.session_secret();
        let candidate = candidate.to_owned();
        let earlier: Option<String> = self
            .master
            .run(|mut c| {
                let candidate = candidate.clone();
                async move {
                    redis::cmd("SET")
                        .arg(key)
                        .arg(candidate)
                        .arg("NX")
                        .arg("GET")
                        .query_async(&mut c)
                        .await
                }
            })
            .await?;
        Ok(earlier.unwrap_or(candidate))
    }

    async fn redeem_puzzle(
        &self,
        session: &SessionId,
        challenge: &str,
        valid_for: Duration,
    ) -> Result<bool, StoreError> {
        let mut invocation = REDEEM.prepare_invoke();
        invocation
            .key(self.keys.redeemed_puzzle(challenge))
            .key(self.keys.session(session))
            .arg(valid_for.as_millis() as u64)
            .arg(SESSION_TTL.as_secs());
        self.master
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await
    }

    async fn display_name(&self, session: &SessionId) -> Result<Option<String>, StoreError> {
        let key = self.keys.session(session);
        self.master
            .run(|mut c| async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg("name")
                    .query_async(&mut c)
                    .await
            })
            .await
    }

    async fn set_display_name(
        &self,
        session: &SessionId,
        name: &DisplayName,
    ) -> Result<(), StoreError> {
        self.save_session(session, "name", name.as_str().to_owned())
            .await?;
        let key = self.keys.names(&session.handle());
        let entry = format!("{},{}", unix_ms(SystemTime::now()), name.as_str());
        self.master
            .run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .lpush(&key, entry)
                    .ignore()
                    .ltrim(&key, 0, NAMES_KEPT as isize - 1)
                    .ignore()
                    .expire(&key, SESSION_TTL.as_secs() as i64)
                    .ignore()
                    .query_async(&mut c)
                    .await
            })
            .await
    }

    /// Renews only a session that has a record (a name, a solved
    /// challenge): a visit alone writes nothing, so anonymous traffic does
    /// not grow the store.
    async fn touch_session(&self, session: &SessionId) -> Result<(), StoreError> {
        let key = self.keys.session(session);
        self.master
            .run(|mut c| async move {
                redis::cmd("EXPIRE")
                    .arg(key)
                    .arg(SESSION_TTL.as_secs())
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }
}

/// `chat.lua`'s result codes.
mod chat_code {
    pub const SENT: u8 = 0;
    pub const SHADOWED: u8 = 1;
    pub const RATE_LIMITED: u8 = 2;
    pub const MUTED: u8 = 3;
    pub const BANNED: u8 = 4;
    pub const NEEDS_CHALLENGE: u8 = 5;
    pub const NOT_IN_FACTION: u8 = 6;
}

#[async_trait]
impl ChatStore for RedisStore {
    async fn post_chat(&self, post: &ChatPost) -> Result<ChatOutcome, StoreError> {
        let handle = post.session.handle();
        let now = unix_ms(SystemTime::now());
        let mut invocation = CHAT.prepare_invoke();
        invocation
            .key(self.keys.chat_channel(post.faction))
            .key(self.keys.chat_id())
            .key(self.keys.session(&post.session))
            .key(self.keys.session_ban(&handle))
            .key(self.keys.address_ban(post.address))
            .key(self.keys.mute(&handle))
            .key(self.keys.chat_rate(&format!("s:{handle}")))
            .key(self.keys.chat_rate(&format!("a:{}", post.address)))
            .key(self.keys.faction_of())
            .arg(now)
            .arg(CHAT_KEPT)
            .arg(&self.keys.channel)
            .arg(&handle)
            .arg(post.text.as_str())
            .arg(post.per_session)
            .arg(post.per_address)
            .arg(post.window.as_millis() as u64)
            .arg(u8::from(post.challenge_always))
            .arg(post.faction.map(|id| id.to_string()).unwrap_or_default());
        let reply: Vec<Value> = self
            .master
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        let code: u8 = reply
            .first()
            .and_then(|v| redis::from_redis_value_ref(v).ok())
            .ok_or_else(|| malformed("chat.lua's answer"))?;
        let value: u64 = reply
            .get(1)
            .and_then(|v| redis::from_redis_value_ref(v).ok())
            .unwrap_or(0);
        let name: Option<String> = reply
            .get(2)
            .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
            .filter(|name| !name.is_empty());
        let line = |id| ChatLine {
            id,
            at_ms: now,
            player: handle.clone(),
            name: name.clone(),
            text: post.text.as_str().to_owned(),
        };
        let left = Duration::from_millis(value);
        Ok(match code {
            chat_code::SENT => ChatOutcome::Posted(line(value)),
            chat_code::SHADOWED => ChatOutcome::Shadowed(line(0)),
            chat_code::RATE_LIMITED => ChatOutcome::RateLimited(left),
            chat_code::MUTED => ChatOutcome::Muted(left),
            chat_code::BANNED => ChatOutcome::Banned(left),
            chat_code::NEEDS_CHALLENGE => ChatOutcome::NeedsChallenge,
            chat_code::NOT_IN_FACTION => ChatOutcome::NotInFaction,
            _ => return Err(malformed("chat.lua's answer")),
        })
    }

    async fn recent_chat(
        &self,
        faction: Option<u64>,
        count: usize,
    ) -> Result<Vec<ChatLine>, StoreError> {
        let key = self.keys.chat_channel(faction);
        let entries: Vec<(String, Vec<(String, String)>)> = self
            .master
            .run(|mut c| async move {
                redis::cmd("XREVRANGE")
                    .arg(key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(count.min(CHAT_KEPT))
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let mut lines: Vec<ChatLine> = entries
            .into_iter()
            .filter_map(|(_, fields)| {
                let field = |name: &str| {
                    fields
                        .iter()
                        .find(|(key, _)| key == name)
                        .map(|(_, value)| value.clone())
                };
                Some(ChatLine {
                    id: field("i")?.parse().ok()?,
                    at_ms: field("at")?.parse().ok()?,
                    player: field("p")?,
                    name: field("n").filter(|name| !name.is_empty()),
                    text: field("t")?,
                })
            })
            .collect();
        lines.reverse();
        Ok(lines)
    }

    async fn remove_chat(&self, id: u64, faction: Option<u64>) -> Result<bool, StoreError> {
        let mut invocation = CHAT_REMOVE.prepare_invoke();
        invocation
            .key(self.keys.chat_channel(faction))
            .arg(id)
            .arg(&self.keys.channel);
        let removed: u8 = self
            .master
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        Ok(removed == 1)
    }

    async fn mute(&self, handle: &str, duration: Duration) -> Result<(), StoreError> {
        let key = self.keys.mute(handle);
        let ms = duration.as_millis().max(1) as u64;
        self.master
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("PX")
                    .arg(ms)
                    .query_async(&mut c)
                    .await
            })
            .await
    }

    async fn unmute(&self, handle: &str) -> Result<bool, StoreError> {
        let key = self.keys.mute(handle);
        let removed: u32 = self
            .master
            .run(|mut c| async move { redis::cmd("DEL").arg(key).query_async(&mut c).await })
            .await?;
        Ok(removed > 0)
    }
}

#[async_trait]
impl AccountStore for RedisStore {
    async fn sign_in(
        &self,
        account: &AccountId,
        provider: &str,
        session: &SessionId,
    ) -> Result<SessionId, StoreError> {
        let key = self.keys.account(account);
        let candidate = session.as_str().to_owned();
        let (provider, linked_provider) = (provider.to_owned(), provider.to_owned());
        let (player,): (String,) = self
            .master
            .run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .cmd("HSETNX")
                    .arg(&key)
                    .arg("session")
                    .arg(candidate)
                    .ignore()
                    .hset(&key, "provider", provider)
                    .ignore()
                    .expire(&key, ACCOUNT_TTL.as_secs() as i64)
                    .ignore()
                    .hget(&key, "session")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let player = SessionId::parse(&player).ok_or_else(|| malformed("account"))?;
        let session_key = self.keys.session(&player);
        let fields = [
            ("account", account.as_str()),
            ("provider", &linked_provider),
        ];
        self.master
            .run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .hset_multiple(&session_key, &fields)
                    .ignore()
                    .expire(&session_key, SESSION_TTL.as_secs() as i64)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await?;
        Ok(player)
    }

    async fn linked(&self, session: &SessionId) -> Result<Option<Linked>, StoreError> {
        let key = self.keys.session(session);
        let (account, provider): (Option<String>, Option<String>) = self
            .master
            .run(|mut c| async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg("account")
                    .arg("provider")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(account.zip(provider).map(|(account, provider)| Linked {
            provider,
            account: AccountId::from_stored(account),
        }))
    }

    async fn delete_account(&self, session: &SessionId) -> Result<bool, StoreError> {
        let Some(linked) = self.linked(session).await? else {
            return Ok(false);
        };
        let handle = session.handle();
        let keys = [
            self.keys.account(&linked.account),
            self.keys.session(session),
            self.keys.names(&handle),
            self.keys.erased(),
        ];
        self.master
            .run(|mut c| async move {
                let [account, session, names, erased] = &keys;
                redis::pipe()
                    .atomic()
                    .del(account)
                    .ignore()
                    .hdel(session, &["name", "account", "provider"])
                    .ignore()
                    .del(names)
                    .ignore()
                    .sadd(erased, &handle)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await?;
        // Not in a faction is fine: the refusal says so and changes nothing.
        let _ = self.leave_faction(&session.handle()).await?;
        Ok(true)
    }

    async fn is_erased(&self, handle: &str) -> Result<bool, StoreError> {
        let (key, member) = (self.keys.erased(), handle.to_owned());
        self.master
            .run(|mut c| async move {
                redis::cmd("SISMEMBER")
                    .arg(key)
                    .arg(member)
                    .query_async(&mut c)
                    .await
            })
            .await
    }
}

#[async_trait]
impl ModerationStore for RedisStore {
    async fn grow(&self, size: CanvasSize) -> Result<CanvasSize, StoreError> {
        let mut invocation = GROW.prepare_invoke();
        invocation
            .key(&self.keys.size)
            .arg(size.width)
            .arg(size.height)
            .arg(self.size.width)
            .arg(self.size.height)
            .arg(&self.keys.channel);
        let (width, height): (u16, u16) = self
            .master
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        Ok(CanvasSize { width, height })
    }

    async fn set_frozen(&self, frozen: bool) -> Result<(), StoreError> {
        let key = self.keys.frozen.clone();
        let command = if frozen {
            redis::cmd("SET").arg(key).arg(1).clone()
        } else {
            redis::cmd("DEL").arg(key).clone()
        };
        self.master
            .run(|mut c| async move { command.query_async::<()>(&mut c).await })
            .await
    }

    async fn is_frozen(&self) -> Result<bool, StoreError> {
        let key = self.keys.frozen.clone();
        self.master
            .run(|mut c| async move { redis::cmd("EXISTS").arg(key).query_async(&mut c).await })
            .await
    }

    async fn ban(
        &self,
        target: &BanTarget,
        duration: Duration,
        shadow: bool,
    ) -> Result<(), StoreError> {
        let until = unix_ms(SystemTime::now() + duration.max(Duration::from_millis(1)));
        let kind = if shadow { "s" } else { "1" };
        if let BanTarget::Range(range) = target {
            // The instances read every range ban each second; expired ones
            // are skipped when read and dropped when the hash is rewritten.
            let key = self.keys.range_bans();
            let field = range.to_string();
            return self
                .master
                .run(|mut c| async move {
                    redis::cmd("HSET")
                        .arg(key)
                        .arg(field)
                        .arg(format!("{until},{kind}"))
                        .query_async::<()>(&mut c)
                        .await
                })
                .await;
        }
        let key = self.ban_key(target);
        let bans = self.keys.bans.clone();
        self.master
            .run(|mut c| async move {
                // The marker lives as long as the longest ban.
                redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(key)
                    .arg(kind)
                    .arg("PXAT")
                    .arg(until)
                    .ignore()
                    .cmd("SET")
                    .arg(&bans)
                    .arg(1)
                    .arg("NX")
                    .arg("PXAT")
                    .arg(until)
                    .ignore()
                    .cmd("PEXPIREAT")
                    .arg(&bans)
                    .arg(until)
                    .arg("GT")
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }

    async fn report(&self, report: &Report) -> Result<(), StoreError> {
        let key = self.keys.reports();
        let mut fields = vec![
            ("at", unix_ms(report.at).to_string()),
            ("x", report.x.to_string()),
            ("y", report.y.to_string()),
            ("w", report.width.to_string()),
            ("h", report.height.to_string()),
            ("reason", report.reason.clone()),
            ("reporter", report.reporter.clone()),
            ("address", report.address.clone()),
        ];
        // Absent for the default canvas, as in the reports made before
        // there were several.
        if let Some(canvas) = &report.canvas {
            fields.push(("canvas", canvas.clone()));
        }
        if let Some(message) = &report.message {
            fields.extend([
                ("message", message.id.to_string()),
                ("message_at", message.at_ms.to_string()),
                ("message_by", message.player.clone()),
                ("message_name", message.name.clone().unwrap_or_default()),
                ("message_text", message.text.clone()),
            ]);
        }
        if let Some(faction) = report.message_faction {
            fields.push(("message_faction", faction.to_string()));
        }
        self.master
            .run(|mut c| async move {
                redis::cmd("XADD")
                    .arg(key)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(Report::KEEP)
                    .arg("*")
                    .arg(&fields[..])
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }

    async fn reports(&self, count: usize) -> Result<Vec<Report>, StoreError> {
        let entries = self.newest_entries(self.keys.reports(), count).await?;
        entries
            .into_iter()
            .map(|(id, mut fields)| {
                fn number<T: std::str::FromStr>(text: String) -> Result<T, StoreError> {
                    text.parse().map_err(|_| malformed("report"))
                }
                let canvas = fields.remove("canvas");
                let message_faction = fields
                    .remove("message_faction")
                    .and_then(|faction| faction.parse().ok());
                let message = match fields.remove("message") {
                    None => None,
                    Some(id) => {
                        let mut take = |name: &str| fields.remove(name).unwrap_or_default();
                        Some(ChatLine {
                            id: number(id)?,
                            at_ms: number(take("message_at"))?,
                            player: take("message_by"),
                            name: Some(take("message_name")).filter(|n| !n.is_empty()),
                            text: take("message_text"),
                        })
                    }
                };
                let mut take = |name: &str| fields.remove(name).unwrap_or_default();
                let at: u64 = number(take("at"))?;
                Ok(Report {
                    id,
                    at: UNIX_EPOCH + Duration::from_millis(at),
                    x: number(take("x"))?,
                    y: number(take("y"))?,
                    width: number(take("w"))?,
                    height: number(take("h"))?,
                    reason: take("reason"),
                    reporter: take("reporter"),
                    address: take("address"),
                    canvas,
                    message,
                    message_faction,
                })
            })
            .collect()
    }

    async fn resolve_report(&self, id: &str) -> Result<bool, StoreError> {
        let key = self.keys.reports();
        let id = id.to_owned();
        self.master
            .run(|mut c| async move {
                redis::cmd("XDEL")
                    .arg(key)
                    .arg(id)
                    .query_async(&mut c)
                    .await
            })
            .await
    }

    async fn range_bans(&self) -> Result<Vec<RangeBan>, StoreError> {
        let key = self.keys.range_bans();
        let entries: HashMap<String, String> = self
            .master
            .run(|mut c| async move { redis::cmd("HGETALL").arg(key).query_async(&mut c).await })
            .await?;
        let now = SystemTime::now();
        Ok(entries
            .into_iter()
            .filter_map(|(range, value)| {
                let (until, kind) = value.split_once(',')?;
                let until = UNIX_EPOCH + Duration::from_millis(until.parse().ok()?);
                Some(RangeBan {
                    range: range.parse().ok()?,
                    until,
                    shadow: kind == "s",
                })
            })
            .filter(|ban| ban.until > now)
            .collect())
    }

    async fn lift_ban(&self, target: &BanTarget) -> Result<bool, StoreError> {
        let command = match target {
            BanTarget::Range(range) => redis::cmd("HDEL")
                .arg(self.keys.range_bans())
                .arg(range.to_string())
                .clone(),
            _ => redis::cmd("DEL").arg(self.ban_key(target)).clone(),
        };
        let removed: bool = self
            .master
            .run(|mut c| async move { command.query_async(&mut c).await })
            .await?;
        if matches!(target, BanTarget::Range(_)) {
            // An expired range ban is no ban: lifting it lifts nothing.
            return Ok(removed);
        }
        Ok(removed)
    }

    async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let key = self.keys.audit.clone();
        let fields = [
            ("at", unix_ms(entry.at).to_string()),
            ("by", entry.by.clone()),
            ("address", entry.address.clone()),
            ("action", entry.action.clone()),
            ("details", entry.details.to_string()),
        ];
        self.master
            .run(|mut c| async move {
                redis::cmd("XADD")
                    .arg(key)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(AUDIT_LEN)
                    .arg("*")
                    .arg(&fields[..])
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }

    async fn audit_log(&self, count: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let entries = self.newest_entries(self.keys.audit.clone(), count).await?;
        entries
            .into_iter()
            .map(|(_, mut fields)| {
                let mut take = |name: &str| fields.remove(name).unwrap_or_default();
                let at = take("at").parse().map_err(|_| malformed("audit entry"))?;
                Ok(AuditEntry {
                    at: UNIX_EPOCH + Duration::from_millis(at),
                    by: take("by"),
                    address: take("address"),
                    action: take("action"),
                    details: serde_json::from_str(&take("details"))
                        .map_err(|_| malformed("audit entry"))?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl ArchiveStore for RedisStore {
    async fn archive_turn(&self, interval: Duration) -> Result<bool, StoreError> {
        let key = self.keys.archive_turn.clone();
        // A little short of the interval, so the next turn is free by the
        // next tick of whichever instance comes first.
        let hold = (interval.as_millis() as u64 * 9 / 10).max(1);
        self.take_turn(key, hold).await
    }

    async fn archive(
        &self,
        seq: u64,
        at: SystemTime,
        canvas: ArchivedCanvas,
        keep: ArchiveKeep,
    ) -> Result<(), StoreError> {
        let keys = &self.keys;
        let mut invocation = ARCHIVE.prepare_invoke();
        invocation
            .key(&keys.archive)
            .key(&keys.archive_png)
            .key(&keys.archive_at)
            .key(&keys.archive_bytes)
            .key(&keys.archive_chunks)
            .key(&keys.archive_chunk_png)
            .arg(seq)
            .arg(unix_ms(at))
            .arg(keep.snapshots.max(1))
            .arg(keep.bytes);
        match canvas {
            ArchivedCanvas::Whole(png) => {
                invocation.arg(png.as_ref()).arg("");
            }
            ArchivedCanvas::ByChunk { chunks, pngs } => {
                invocation.arg("").arg(chunk_list(&chunks));
                for (chunk, png) in pngs {
                    invocation
                        .arg(chunk_png_field(chunk, seq))
                        .arg(png.as_ref());
                }
            }
        }
        let archived: u8 = self
            .master
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        if archived == 0 {
            // Another instance archived meanwhile and dropped a PNG this
            // list counted on: the next turn starts from its list.
            tracing::warn!(seq, "an archived chunk was dropped meanwhile; not archived");
        }
        Ok(())
    }

    async fn archived(&self) -> Result<Vec<ArchiveEntry>, StoreError> {
        let keys = &self.keys;
        let (index, times, lists) = (
            keys.archive.clone(),
            keys.archive_at.clone(),
            keys.archive_chunks.clone(),
        );
        let (seqs, at, by_chunk): (Vec<u64>, HashMap<u64, u64>, Vec<u64>) = self
            .master
            .run(|mut c| async move {
                redis::pipe()
                    .cmd("ZREVRANGE")
                    .arg(index)
                    .arg(0)
                    .arg(-1)
                    .cmd("HGETALL")
                    .arg(times)
                    .cmd("HKEYS")
                    .arg(lists)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(seqs
            .into_iter()
            .filter_map(|seq| {
                Some(ArchiveEntry {
                    seq,
                    at: UNIX_EPOCH + Duration::from_millis(*at.get(&seq)?),
                    by_chunk: by_chunk.contains(&seq),
                })
            })
            .collect())
    }

    async fn archived_png(&self, seq: u64) -> Result<Option<Bytes>, StoreError> {
        let key = self.keys.archive_png.clone();
        let png: Option<Vec<u8>> = self
            .master
            .run(|mut c| async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg(seq)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(png.map(Bytes::from))
    }

    async fn archived_chunks(&self, seq: u64) -> Result<Option<Vec<ArchivedChunk>>, StoreError> {
        let key = self.keys.archive_chunks.clone();
        let list: Option<String> = self
            .master
            .run(|mut c| async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg(seq)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(list.map(|list| parse_chunk_list(&list)))
    }

    async fn archived_chunk_png(
        &self,
        chunk: ChunkId,
        stored_with: u64,
    ) -> Result<Option<Bytes>, StoreError> {
        let key = self.keys.archive_chunk_png.clone();
        let png: Option<Vec<u8>> = self
            .master
            .run(|mut c| async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg(chunk_png_field(chunk, stored_with))
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(png.map(Bytes::from))
    }
}

/// An archived canvas's chunks as `archive.lua` reads them:
/// `cx,cy,version,stored_with;` each.
fn chunk_list(chunks: &[ArchivedChunk]) -> String {
    chunks
        .iter()
        .map(|c| {
            format!(
                "{},{},{},{};",
                c.chunk.cx, c.chunk.cy, c.version, c.stored_with
            )
        })
        .collect()
}

fn parse_chunk_list(list: &str) -> Vec<ArchivedChunk> {
    list.split_terminator(';')
        .filter_map(|entry| {
            let mut numbers = entry.split(',');
            let mut next = || numbers.next()?.parse::<u64>().ok();
            Some(ArchivedChunk {
                chunk: ChunkId {
                    cx: u16::try_from(next()?).ok()?,
                    cy: u16::try_from(next()?).ok()?,
                },
                version: next()?,
                stored_with: next()?,
            })
        })
        .collect()
}

/// The field of a chunk's PNG stored with the archived canvas at `seq`.
fn chunk_png_field(chunk: ChunkId, seq: u64) -> String {
    format!("{},{},{seq}", chunk.cx, chunk.cy)
}

#[async_trait]
impl PresenceStore for RedisStore {
    async fn report_online(
        &self,
        instance: &str,
        online: u32,
        ttl: Duration,
    ) -> Result<u32, StoreError> {
        let mut invocation = PRESENCE.prepare_invoke();
        invocation
            .key(&self.keys.presence)
            .arg(instance)
            .arg(online)
            .arg(ttl.as_millis() as u64);
        self.master
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await
    }
}

#[async_trait]
impl HealthStore for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.master
            .run(|mut c| async move { c.req_packed_command(&redis::cmd("PING")).await.map(drop) })
            .await
    }

    async fn memory_by_kind(&self, samples: usize) -> Result<Vec<KindUsage>, StoreError> {
        let prefix = self.keys.prefix();
        // The single large keys, measured; everything else, sampled.
        let singles: Vec<(&'static str, String)> = vec![
            ("chunks", self.keys.chunks.clone()),
            ("meta", self.keys.meta.clone()),
            ("history", self.keys.history.clone()),
            ("archive", self.keys.archive_png.clone()),
            ("archive", self.keys.archive_chunk_png.clone()),
            ("audit", self.keys.audit.clone()),
            ("reports", self.keys.reports()),
        ];
        let (dbsize, sampled): (u64, Vec<Option<String>>) = self
            .master
            .run(|mut c| async move {
                let mut pipe = redis::pipe();
                pipe.cmd("DBSIZE");
                for _ in 0..samples {
                    pipe.cmd("RANDOMKEY");
                }
                let mut replies: Vec<Value> = pipe.query_async(&mut c).await?;
                let dbsize = redis::from_redis_value(replies.remove(0))?;
                let keys = replies
                    .into_iter()
                    .map(redis::from_redis_value::<Option<String>>)
                    .collect::<Result<_, _>>()?;
                Ok((dbsize, keys))
            })
            .await?;
        let many: Vec<(&'static str, String)> = sampled
            .into_iter()
            .flatten()
            .filter_map(|key| {
                let kind = key_kind(key.strip_prefix(&prefix)?)?;
                (!singles.iter().any(|(single, _)| *single == kind)).then_some((kind, key))
            })
            .collect();
        let singles_count = singles.len();
        let measured: Vec<(&'static str, String)> = singles.into_iter().chain(many).collect();
        let names: Vec<String> = measured.iter().map(|(_, key)| key.clone()).collect();
        let sizes: Vec<Option<u64>> = self
            .master
            .run(|mut c| async move {
                let mut pipe = redis::pipe();
                for key in &names {
                    pipe.cmd("MEMORY").arg("USAGE").arg(key);
                }
                pipe.query_async(&mut c).await
            })
            .await?;
        let mut usage: Vec<KindUsage> = Vec::new();
        for (n, ((kind, _), size)) in measured.iter().zip(sizes).enumerate() {
            let Some(size) = size else { continue };
            // A sampled key stands for dbsize / samples keys of its kind.
            let weight = if n < singles_count {
                1.0
            } else {
                dbsize as f64 / samples.max(1) as f64
            };
            match usage.iter_mut().find(|u| u.kind == *kind) {
                Some(entry) => {
                    entry.keys += weight;
                    entry.bytes += weight * size as f64;
                }
                None => usage.push(KindUsage {
                    kind,
                    keys: weight,
                    bytes: weight * size as f64,
                }),
            }
        }
        Ok(usage)
    }
}

impl RedisStore {
    /// Takes a turn that one instance holds at a time: true if `key` was
    /// free, and now this caller's for `hold_ms`.
    async fn take_turn(&self, key: String, hold_ms: u64) -> Result<bool, StoreError> {
        let taken: Option<String> = self
            .master
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(hold_ms)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(taken.is_some())
    }

    /// The key of a session's or an address's ban (range bans live in one
    /// hash, [`Keys::range_bans`]).
    fn ban_key(&self, target: &BanTarget) -> String {
        match target {
            BanTarget::Session(handle) => self.keys.session_ban(handle),
            BanTarget::Address(address) => self.keys.address_ban(*address),
            BanTarget::Range(range) => self.keys.range_bans() + ":" + &range.to_string(),
        }
    }
}

/// The kind of a key, from its name after the prefix: its first segment,
/// when it is one this store writes (so a label's values stay few).
fn key_kind(name: &str) -> Option<&'static str> {
    const KINDS: &[&str] = &[
        "session",
        "account",
        "erased",
        "mute",
        "chat-rate",
        "cooldown",
        "puzzle",
        "new-sessions",
        "address",
        "ban",
        "bans",
        "ban-ranges",
        "presence",
        "archive",
        "epoch",
        "seq",
        "frozen",
        "session-secret",
    ];
    let first = name.split(':').next()?;
    KINDS.iter().find(|kind| **kind == first).copied()
}

/// The placements of a history entry, `[id, [field, value, …]]`: a batch
/// (ID `<last seq>-0`, fields `f`: first seq, `t`: tiles) or, as earlier
/// versions wrote them, one placement (ID `<seq>-1`, fields x, y, c).
fn parse_entry(epoch: u64, entry: &Value, out: &mut Vec<Update>) -> Result<(), StoreError> {
    let (id, fields): (String, Vec<(String, Vec<u8>)>) =
        redis::from_redis_value_ref(entry).map_err(|_| malformed("history entry"))?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| malformed("history field"))
    };
    let number = |name: &str| -> Result<u64, StoreError> {
        std::str::from_utf8(field(name)?)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| malformed("history number"))
    };
    if let Some(_last) = id.strip_suffix("-0") {
        let first_seq = number("f")?;
        let tiles = decode_tile_list(field("t")?).map_err(|_| malformed("history tiles"))?;
        out.extend(
            (first_seq..)
                .zip(tiles)
                .map(|(seq, tile)| Update { epoch, seq, tile }),
        );
        return Ok(());
    }
    let seq = id
        .strip_suffix("-1")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed("history id"))?;
    let narrow = |v: u64| u16::try_from(v).map_err(|_| malformed("history coordinate"));
    out.push(Update {
        epoch,
        seq,
        tile: Tile {
            x: narrow(number("x")?)?,
            y: narrow(number("y")?)?,
            color: u8::try_from(number("c")?).map_err(|_| malformed("history color"))?,
        },
    });
    Ok(())
}

/// `<seq>,<unix ms>,<display name>`; the name may itself hold commas.
fn parse_record(record: &str) -> Result<PixelRecord, StoreError> {
    // `v2,<seq>,<ms>,<session>,<address>,<name>`, or as written before
    // moderation, `<seq>,<ms>,<name>` (names then could hold commas).
    let (fields, placer) = match record.strip_prefix("v2,") {
        Some(rest) => {
            let mut parts = rest.splitn(5, ',');
            let (seq, ms) = (parts.next(), parts.next());
            let (session, address) = (parts.next(), parts.next());
            ((seq, ms, parts.next()), session.zip(address))
        }
        None => {
            let mut parts = record.splitn(3, ',');
            ((parts.next(), parts.next(), parts.next()), None)
        }
    };
    let (seq, ms, name) = fields;
    let seq = seq.and_then(|s| s.parse().ok());
    let ms = ms.and_then(|s| s.parse().ok());
    let name = name.unwrap_or("");
    match (seq, ms) {
        (Some(seq), Some(ms)) => Ok(PixelRecord {
            seq,
            placed_at: UNIX_EPOCH + Duration::from_millis(ms),
            placed_by: (!name.is_empty()).then(|| name.to_owned()),
            placer: placer.map(|(session, address)| Placer {
                session: session.to_owned(),
                address: address.to_owned(),
            }),
        }),
        _ => Err(malformed("pixel record")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `place.lua` names its result codes in one line; they must be
    /// `PlaceCode`'s, name for name.
    #[test]
    fn the_script_and_place_code_name_the_same_numbers() {
        let line = include_str!("place.lua")
            .lines()
            .find(|line| line.starts_with("local ACCEPTED,"))
            .expect("place.lua names its codes");
        let (names, numbers) = line["local ".len()..].split_once(" = ").unwrap();
        let named: Vec<(&str, u64)> = names
            .split(", ")
            .zip(numbers.split(", ").map(|n| n.parse().unwrap()))
            .collect();
        let expected = [
            ("ACCEPTED", PlaceCode::Accepted),
            ("COOLING", PlaceCode::Cooling),
            ("BANNED", PlaceCode::Banned),
            ("FROZEN", PlaceCode::Frozen),
            ("NEEDS_CHALLENGE", PlaceCode::NeedsChallenge),
            ("SHADOWED", PlaceCode::Shadowed),
            ("NOTHING_TO_UNDO", PlaceCode::NothingToUndo),
        ];
        assert_eq!(named.len(), expected.len());
        for ((name, number), (expected_name, code)) in named.into_iter().zip(expected) {
            assert_eq!(name, expected_name);
            assert_eq!(PlaceCode::try_from(number).unwrap(), code);
            assert_eq!(code as u64, number);
        }
        assert!(
            PlaceCode::try_from(7).is_err(),
            "an unknown code is an error"
        );
    }

    #[test]
    fn history_entries_of_both_formats_are_read() {
        let tiles = [
            Tile {
                x: 1,
                y: 2,
                color: 3,
            },
            Tile {
                x: 4,
                y: 5,
                color: 6,
            },
        ];
        let packed =
            app::protocol::encode_tiles(7, &tiles)[app::protocol::TILES_HEADER_LEN..].to_vec();
        let field = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let batch = Value::Array(vec![
            field("8-0"),
            Value::Array(vec![
                field("f"),
                field("7"),
                field("t"),
                Value::BulkString(packed),
            ]),
        ]);
        let single = Value::Array(vec![
            field("9-1"),
            Value::Array(vec![
                field("x"),
                field("10"),
                field("y"),
                field("11"),
                field("c"),
                field("12"),
            ]),
        ]);
        let mut updates = Vec::new();
        parse_entry(5, &batch, &mut updates).unwrap();
        parse_entry(5, &single, &mut updates).unwrap();
        let seqs: Vec<u64> = updates.iter().map(|u| u.seq).collect();
        assert_eq!(seqs, [7, 8, 9]);
        assert_eq!(updates[1].tile, tiles[1]);
        assert_eq!(
            updates[2].tile,
            Tile {
                x: 10,
                y: 11,
                color: 12
            }
        );
        assert!(updates.iter().all(|u| u.epoch == 5));

        let torn = Value::Array(vec![
            field("8-0"),
            Value::Array(vec![field("f"), field("7"), field("t"), field("abc")]),
        ]);
        assert!(parse_entry(5, &torn, &mut Vec::new()).is_err());
    }

    #[test]
    fn pixel_records_keep_commas_in_names() {
        let record = parse_record("42,1700000000123,a, b").unwrap();
        assert_eq!(record.seq, 42);
        assert_eq!(record.placed_by.as_deref(), Some("a, b"));
        assert_eq!(unix_ms(record.placed_at), 1_700_000_000_123);
        assert_eq!(parse_record("7,5,").unwrap().placed_by, None);
        assert!(parse_record("x,5,").is_err());
        assert_eq!(parse_record("7,5,Ada").unwrap().placer, None);
        let record = parse_record("v2,8,6,s3ss10n,2001:db8::/64,Ada L.").unwrap();
        assert_eq!(
            (record.seq, record.placed_by.as_deref()),
            (8, Some("Ada L."))
        );
        let placer = record.placer.unwrap();
        assert_eq!(
            (placer.session.as_str(), placer.address.as_str()),
            ("s3ss10n", "2001:db8::/64")
        );
        assert_eq!(parse_record("v2,9,6,s,1.2.3.4,").unwrap().placed_by, None);
    }
}
