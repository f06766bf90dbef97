//! The shared store: one canvas in Redis for every instance.
//!
//! Each operation that must see a consistent state is one Lua script
//! (`place.lua`, `snapshot.lua`, `history.lua`), run with EVALSHA and loaded
//! again on NOSCRIPT. Every command goes through one multiplexed connection
//! to the master, which pipelines the requests of all tasks (a pool would
//! add a round trip per checkout to test its connection), and every call
//! has a deadline, so a placement answers promptly when Redis does not. The
//! key schema is in docs/redis.md.
//!
//! Placements are group-committed: one task per instance takes every
//! placement waiting and runs them through one script call, which records
//! them as one history entry and publishes them as one message. While a call
//! is in flight the next placements queue, so the busier the instance, the
//! larger (and cheaper per placement) the calls.

use super::{
    PixelRecord, PlaceOutcome, Placement, Rules, Snapshot, Store, StoreError, NEW_SESSION_WINDOW,
};
use crate::{
    canvas::{unix_ms, Update},
    config::RedisConfig,
    limits::ClientAddress,
    metrics::Metrics,
    session::{DisplayName, SessionId, SESSION_TTL},
};
use app::{
    geometry::Coord,
    protocol::{decode_tile_list, Tile},
};
use async_trait::async_trait;
use redis::{
    aio::{ConnectionLike, MultiplexedConnection},
    AsyncConnectionConfig, ErrorKind, Script, ServerErrorKind, Value,
};
use std::{
    future::Future,
    sync::{Arc, LazyLock, RwLock, Weak},
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::sync::{mpsc, oneshot};

pub mod locate;

static PLACE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("place.lua")));
static SNAPSHOT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("snapshot.lua")));
static HISTORY: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("history.lua")));
static NEW_EPOCH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("new_epoch.lua")));
static PRESENCE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("presence.lua")));

/// The most placements one script call takes.
const MAX_BATCH: usize = 256;
/// Placements waiting for a script call; past this, placing sockets wait.
const PLACE_QUEUE: usize = 8192;

/// The names of everything Canvas keeps in Redis.
#[derive(Debug, Clone)]
pub struct Keys {
    /// String: the epoch, a random u64 in decimal.
    pub epoch: String,
    /// Integer: the last seq taken.
    pub seq: String,
    /// String: one palette index per pixel, row-major.
    pub pixels: String,
    /// Stream: one entry per batch of placements, ID `<last seq>-0`, fields
    /// `f` (the first seq) and `t` (the tiles, five bytes each).
    pub history: String,
    /// Hash: pixel index -> `<seq>,<unix ms>,<display name>`.
    pub meta: String,
    /// Pub/Sub channel: `<epoch>:<first seq>:<unix ms>:<tiles>` per batch
    /// of placements, and `epoch:<epoch>` when a new epoch starts.
    pub channel: String,
    /// Hash: instance id -> `<open sockets>:<expires at, unix ms>`.
    pub presence: String,
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            epoch: format!("{prefix}:epoch"),
            seq: format!("{prefix}:seq"),
            pixels: format!("{prefix}:pixels"),
            history: format!("{prefix}:history"),
            meta: format!("{prefix}:meta"),
            channel: format!("{prefix}:updates"),
            presence: format!("{prefix}:presence"),
            prefix: prefix.to_owned(),
        }
    }

    /// String with a TTL: present while the session is cooling down.
    pub fn cooldown(&self, session: &SessionId) -> String {
        format!("{}:cooldown:{}", self.prefix, session.as_str())
    }

    /// Hash with a TTL: the session's `name` and `last_seen` (unix ms).
    pub fn session(&self, session: &SessionId) -> String {
        format!("{}:session:{}", self.prefix, session.as_str())
    }

    /// Counter with a TTL: sessions minted for a client address this window.
    pub fn new_sessions(&self, address: ClientAddress) -> String {
        format!("{}:new-sessions:{address}", self.prefix)
    }

    /// Counter with a TTL: placements of a client address in the current
    /// window of its budget.
    pub fn address_budget(&self, address: ClientAddress) -> String {
        format!("{}:address:{address}", self.prefix)
    }

    /// String: the secret sessions are signed with when `SESSION_SECRET`
    /// is not set.
    pub fn session_secret(&self) -> String {
        format!("{}:session-secret", self.prefix)
    }
}

pub struct RedisStore {
    config: RedisConfig,
    metrics: Arc<Metrics>,
    /// The connection to the master as last located. Replaced when it
    /// fails in a way that says the connection or the master is gone (a
    /// restart, a Sentinel failover).
    link: RwLock<Option<Link>>,
    /// Held while the master is being located, so a burst of failures looks
    /// it up once.
    locating: tokio::sync::Mutex<()>,
    keys: Keys,
    rules: Rules,
    history_len: usize,
    timeout: Duration,
    /// Placements on their way to the batching task.
    placements: mpsc::Sender<Pending>,
}

/// A connection to the master.
struct Link {
    address: String,
    connection: MultiplexedConnection,
    /// Which connection this is, so that of many commands failing on it,
    /// only the first replaces it.
    generation: u64,
}

/// A placement waiting for its script call, and where its outcome goes.
struct Pending {
    placement: Placement,
    outcome: oneshot::Sender<Result<PlaceOutcome, StoreError>>,
}

impl RedisStore {
    /// Connections are made on first use, so an instance can start while
    /// Redis is down. The batching task ends when the store is dropped.
    pub fn new(config: &RedisConfig, rules: Rules, metrics: Arc<Metrics>) -> Arc<Self> {
        let (placements, queue) = mpsc::channel(PLACE_QUEUE);
        Arc::new_cyclic(|store| {
            tokio::spawn(place_batches(store.clone(), queue));
            Self {
                config: config.clone(),
                metrics,
                link: RwLock::new(None),
                locating: tokio::sync::Mutex::new(()),
                keys: Keys::new(&config.key_prefix),
                rules,
                history_len: config.history_len.max(1),
                timeout: config.command_timeout,
                placements,
            }
        })
    }

    /// The connection to the master, made first if need be.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection), StoreError> {
        if let Some(link) = &*self.link.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok((link.generation, link.connection.clone()));
        }
        self.reconnect(None).await
    }

    /// Locates the master and connects to it, replacing the connection
    /// `failed` (unless another task already did).
    async fn reconnect(
        &self,
        failed: Option<u64>,
    ) -> Result<(u64, MultiplexedConnection), StoreError> {
        let _one_at_a_time = self.locating.lock().await;
        let previous = match &*self.link.read().unwrap_or_else(|e| e.into_inner()) {
            Some(link) if Some(link.generation) != failed => {
                return Ok((link.generation, link.connection.clone()))
            }
            Some(link) => Some((link.address.clone(), link.generation)),
            None => None,
        };
        let info = locate::master(&self.config).await?;
        let address = info.addr().to_string();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let connection = redis::Client::open(info)
            .map_err(unavailable)?
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(unavailable)?;
        if previous.as_ref().map(|(a, _)| a) != Some(&address) {
            tracing::info!(%address, "using the Redis master");
        }
        let generation = previous.map_or(0, |(_, g)| g + 1);
        *self.link.write().unwrap_or_else(|e| e.into_inner()) = Some(Link {
            address,
            connection: connection.clone(),
            generation,
        });
        Ok((generation, connection))
    }

    /// Runs `f` on the master's connection within the command deadline. A
    /// failure that says the master may have moved or the connection broke
    /// (I/O, a dropped or refused connection, `READONLY` from a demoted
    /// master) has the master located again, so the next call goes to the
    /// right place.
    async fn with_connection<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let (generation, connection) = self.connection().await?;
            let error = match f(connection).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let moved = error.is_io_error()
                || error.is_connection_dropped()
                || error.is_connection_refusal()
                || error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly);
            if moved {
                if let Err(locating) = self.reconnect(Some(generation)).await {
                    tracing::debug!(%locating, "cannot reach the Redis master");
                }
            }
            Err(unavailable(error))
        };
        let result = tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(
                    "Redis did not answer in time".into(),
                ))
            });
        if result.is_err() {
            self.metrics.store_errors.inc();
        }
        result
    }
}

impl RedisStore {
    /// Sets one field of the session's hash and renews its time to live.
    async fn save_session(
        &self,
        session: &SessionId,
        field: &'static str,
        value: String,
    ) -> Result<(), StoreError> {
        let key = self.keys.session(session);
        self.with_connection(|mut c| async move {
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
        invocation
            .key(&keys.epoch)
            .key(&keys.seq)
            .key(&keys.pixels)
            .key(&keys.history)
            .key(&keys.meta);
        for Pending { placement, .. } in batch {
            invocation
                .key(keys.cooldown(&placement.session))
                .key(keys.session(&placement.session))
                .key(keys.address_budget(placement.address));
        }
        let accepted_at = batch.iter().map(|p| p.placement.at).min();
        invocation
            .arg(accepted_at.map_or(0, unix_ms))
            .arg(self.rules.cooldown.as_millis() as u64)
            .arg(self.history_len)
            .arg(&keys.channel)
            .arg(new_epoch())
            .arg(self.rules.per_address)
            .arg(self.rules.window().as_millis() as u64);
        for Pending { placement, .. } in batch {
            invocation
                .arg(placement.coord.index)
                .arg(placement.color.get())
                .arg(placement.coord.x)
                .arg(placement.coord.y);
        }
        let results: Vec<u64> = self
            .with_connection(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        if results.len() != batch.len() * 2 {
            return Err(malformed("placement results"));
        }
        Ok(results
            .chunks(2)
            .map(|pair| match pair[0] {
                0 => PlaceOutcome::Accepted { seq: pair[1] },
                _ => PlaceOutcome::Cooldown {
                    retry_after: Duration::from_millis(pair[1]),
                },
            })
            .collect())
    }
}

/// The batching task: takes every placement waiting (up to [`MAX_BATCH`])
/// into one script call, answers each, and starts over. Ends with the store.
async fn place_batches(store: Weak<RedisStore>, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let Some(store) = store.upgrade() else {
            return;
        };
        match store.place_batch(&batch).await {
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

fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

/// A candidate epoch, used only if Redis has none yet.
fn new_epoch() -> String {
    rand::random::<u64>().max(1).to_string()
}

fn malformed(what: &str) -> StoreError {
    StoreError::Unavailable(format!("unexpected reply from Redis: {what}"))
}

#[async_trait]
impl Store for RedisStore {
    async fn place(&self, placement: Placement) -> Result<PlaceOutcome, StoreError> {
        let (outcome, answer) = oneshot::channel();
        let closed = || StoreError::Unavailable("the placement queue is closed".into());
        self.placements
            .send(Pending { placement, outcome })
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let keys = &self.keys;
        let mut invocation = SNAPSHOT.prepare_invoke();
        invocation
            .key(&keys.epoch)
            .key(&keys.seq)
            .key(&keys.pixels)
            .key(&keys.history)
            .arg(new_epoch());
        let (epoch, seq, pixels): (u64, u64, Vec<u8>) = self
            .with_connection(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        Ok(Snapshot { epoch, seq, pixels })
    }

    async fn history(
        &self,
        epoch: u64,
        after_seq: u64,
        limit: usize,
    ) -> Result<Option<Vec<Update>>, StoreError> {
        let keys = &self.keys;
        let mut invocation = HISTORY.prepare_invoke();
        invocation
            .key(&keys.epoch)
            .key(&keys.seq)
            .key(&keys.history)
            .arg(after_seq)
            .arg(limit);
        let (current_epoch, newest, entries): (String, u64, Vec<Value>) = self
            .with_connection(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        if current_epoch.parse::<u64>().ok() != Some(epoch) || after_seq > newest {
            return Ok(None);
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
            Some(first) if first.seq != after_seq + 1 => Ok(None),
            Some(_) if !consecutive => Err(malformed("history with a hole")),
            None if after_seq < newest => Ok(None),
            _ => Ok(Some(updates)),
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
            .with_connection(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        tracing::warn!(stale, %epoch, "history went back on applied tiles: new epoch");
        Ok(())
    }

    async fn pixel(&self, coord: Coord) -> Result<Option<PixelRecord>, StoreError> {
        let meta = self.keys.meta.clone();
        let record: Option<String> = self
            .with_connection(|mut c| async move {
                redis::cmd("HGET")
                    .arg(meta)
                    .arg(coord.index)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        record.map(|r| parse_record(&r)).transpose()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with_connection(|mut c| async move {
            c.req_packed_command(&redis::cmd("PING")).await.map(drop)
        })
        .await
    }

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
            .with_connection(|mut c| async move {
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
            .with_connection(|mut c| {
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

    async fn display_name(&self, session: &SessionId) -> Result<Option<String>, StoreError> {
        let key = self.keys.session(session);
        self.with_connection(|mut c| async move {
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
            .await
    }

    async fn touch_session(&self, session: &SessionId) -> Result<(), StoreError> {
        self.save_session(session, "last_seen", unix_ms(SystemTime::now()).to_string())
            .await
    }

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
        self.with_connection(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await
    }
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
    let mut parts = record.splitn(3, ',');
    let seq = parts.next().and_then(|s| s.parse().ok());
    let ms = parts.next().and_then(|s| s.parse().ok());
    let name = parts.next().unwrap_or("");
    match (seq, ms) {
        (Some(seq), Some(ms)) => Ok(PixelRecord {
            seq,
            placed_at: UNIX_EPOCH + Duration::from_millis(ms),
            placed_by: (!name.is_empty()).then(|| name.to_owned()),
        }),
        _ => Err(malformed("pixel record")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
