//! The shared store: one canvas in Redis for every instance.
//!
//! Each operation that must see a consistent state is one Lua script
//! (`place.lua`, `snapshot.lua`, `history.lua`), run with EVALSHA and loaded
//! again on NOSCRIPT. Commands go through a deadpool of multiplexed
//! connections, and every call has a deadline, so a placement answers
//! promptly when Redis does not. The key schema is in docs/redis.md.

use super::{
    PixelRecord, PlaceOutcome, Placement, Snapshot, Store, StoreError, NEW_SESSION_WINDOW,
};
use crate::{
    canvas::{unix_ms, Update},
    config::RedisConfig,
    metrics::Metrics,
    session::{DisplayName, SessionId, SESSION_TTL},
};
use app::{geometry::Coord, protocol::Tile};
use async_trait::async_trait;
use deadpool_redis::{Manager, Pool, Runtime};
use redis::{
    aio::ConnectionLike, AsyncConnectionConfig, ErrorKind, Script, ServerErrorKind, Value,
};
use std::{
    future::Future,
    net::IpAddr,
    sync::{Arc, LazyLock, RwLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

pub mod locate;

static PLACE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("place.lua")));
static SNAPSHOT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("snapshot.lua")));
static HISTORY: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("history.lua")));
static NEW_EPOCH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("new_epoch.lua")));
static PRESENCE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("presence.lua")));

/// Commands in flight at once per instance; each connection is multiplexed.
const POOL_SIZE: usize = 8;

/// The names of everything Canvas keeps in Redis.
#[derive(Debug, Clone)]
pub struct Keys {
    /// String: the epoch, a random u64 in decimal.
    pub epoch: String,
    /// Integer: the last seq taken.
    pub seq: String,
    /// String: one palette index per pixel, row-major.
    pub pixels: String,
    /// Stream: one entry per placement, ID `<seq>-1`, fields x, y, c.
    pub history: String,
    /// Hash: pixel index -> `<seq>,<unix ms>,<display name>`.
    pub meta: String,
    /// Pub/Sub channel: `<epoch>:<seq>:<x>:<y>:<color>:<unix ms>` per
    /// placement, and `epoch:<epoch>` when a new epoch starts.
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
    pub fn new_sessions(&self, ip: IpAddr) -> String {
        format!("{}:new-sessions:{ip}", self.prefix)
    }
}

pub struct RedisStore {
    config: RedisConfig,
    metrics: Arc<Metrics>,
    /// Connections to the master as last located, with its address. Replaced
    /// when the master turns out to have moved (a Sentinel failover).
    pool: RwLock<Option<(String, Pool)>>,
    /// Held while the master is being located, so a burst of failures looks
    /// it up once.
    locating: tokio::sync::Mutex<()>,
    keys: Keys,
    cooldown: Duration,
    history_len: usize,
    timeout: Duration,
}

impl RedisStore {
    /// Connections are made on first use, so an instance can start while
    /// Redis is down.
    pub fn new(config: &RedisConfig, cooldown: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            config: config.clone(),
            metrics,
            pool: RwLock::new(None),
            locating: tokio::sync::Mutex::new(()),
            keys: Keys::new(&config.key_prefix),
            cooldown,
            history_len: config.history_len.max(1),
            timeout: config.command_timeout,
        }
    }

    /// The pool for the current master, locating it first if need be.
    async fn pool(&self) -> Result<Pool, StoreError> {
        if let Some((_, pool)) = &*self.pool.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok(pool.clone());
        }
        self.locate_master().await
    }

    /// Locates the master again, and replaces the pool if it has moved.
    async fn locate_master(&self) -> Result<Pool, StoreError> {
        let _one_at_a_time = self.locating.lock().await;
        let info = locate::master(&self.config).await?;
        let address = info.addr().to_string();
        let mut current = self.pool.write().unwrap_or_else(|e| e.into_inner());
        match &*current {
            Some((known, pool)) if *known == address => Ok(pool.clone()),
            _ => {
                let pool = self.build_pool(info)?;
                tracing::info!(%address, "using the Redis master");
                *current = Some((address, pool.clone()));
                Ok(pool)
            }
        }
    }

    fn build_pool(&self, info: redis::ConnectionInfo) -> Result<Pool, StoreError> {
        let connection = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let manager = Manager::new_with_config(info, connection).map_err(unavailable)?;
        Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Runs `f` on a pooled connection within the command deadline. A
    /// failure that says the master may have moved (no connection, or
    /// `READONLY` from a demoted master) has the master located again, so
    /// the next call goes to the right place.
    async fn with_connection<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(deadpool_redis::Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let pool = self.pool().await?;
            let connection = pool
                .get()
                .await
                .map_err(|e| StoreError::Unavailable(format!("no connection to Redis: {e}")));
            let result = match connection {
                Ok(connection) => f(connection).await.map_err(|error| {
                    let moved = error.is_io_error()
                        || error.is_connection_dropped()
                        || error.is_connection_refusal()
                        || error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly);
                    (moved, unavailable(error))
                }),
                Err(error) => Err((true, error)),
            };
            match result {
                Ok(value) => Ok(value),
                Err((moved, error)) => {
                    if moved {
                        if let Err(locating) = self.locate_master().await {
                            tracing::debug!(%locating, "cannot locate the Redis master");
                        }
                    }
                    Err(error)
                }
            }
        };
        let result = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| StoreError::Unavailable("Redis did not answer in time".into()))
            .and_then(|result| result);
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
        let keys = &self.keys;
        let mut invocation = PLACE.prepare_invoke();
        invocation
            .key(&keys.epoch)
            .key(&keys.seq)
            .key(&keys.pixels)
            .key(&keys.history)
            .key(&keys.meta)
            .key(keys.cooldown(&placement.session))
            .key(keys.session(&placement.session))
            .arg(placement.coord.index)
            .arg(placement.color.get())
            .arg(placement.coord.x)
            .arg(placement.coord.y)
            .arg(unix_ms(placement.at))
            .arg(self.cooldown.as_millis() as u64)
            .arg(self.history_len)
            .arg(&keys.channel)
            .arg(new_epoch());
        let (status, value): (u8, u64) = self
            .with_connection(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        Ok(match status {
            0 => PlaceOutcome::Accepted { seq: value },
            _ => PlaceOutcome::Cooldown {
                retry_after: Duration::from_millis(value),
            },
        })
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
        let updates = entries
            .iter()
            .map(|entry| parse_entry(epoch, entry))
            .collect::<Result<Vec<_>, _>>()?;
        // History bridges the gap only if it starts right after `after_seq`.
        match updates.first() {
            Some(first) if first.seq != after_seq + 1 => Ok(None),
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

    async fn admit_new_session(&self, ip: IpAddr, limit: u32) -> Result<bool, StoreError> {
        if limit == 0 {
            return Ok(true);
        }
        let key = self.keys.new_sessions(ip);
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

/// A history entry: `[id, [field, value, …]]` with id `<seq>-1` and fields
/// x, y, c.
fn parse_entry(epoch: u64, entry: &Value) -> Result<Update, StoreError> {
    let (id, fields): (String, Vec<(String, u32)>) =
        redis::from_redis_value_ref(entry).map_err(|_| malformed("history entry"))?;
    let seq = id
        .strip_suffix("-1")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed("history id"))?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| malformed("history field"))
    };
    let narrow = |v: u32| u16::try_from(v).map_err(|_| malformed("history coordinate"));
    Ok(Update {
        epoch,
        seq,
        placed_at_ms: None,
        tile: Tile {
            x: narrow(field("x")?)?,
            y: narrow(field("y")?)?,
            color: u8::try_from(field("c")?).map_err(|_| malformed("history color"))?,
        },
    })
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
    fn pixel_records_keep_commas_in_names() {
        let record = parse_record("42,1700000000123,a, b").unwrap();
        assert_eq!(record.seq, 42);
        assert_eq!(record.placed_by.as_deref(), Some("a, b"));
        assert_eq!(unix_ms(record.placed_at), 1_700_000_000_123);
        assert_eq!(parse_record("7,5,").unwrap().placed_by, None);
        assert!(parse_record("x,5,").is_err());
    }
}
