//! A connection to the Redis master, shared by every command that goes
//! through it: a multiplexed connection pipelines the requests of all tasks,
//! so a pool would only add its checkout round trip (deadpool-redis tests
//! each connection with `PING` before handing it out, doubling the round
//! trips).
//!
//! What the library does not do is replace the connection when it breaks or
//! the master moves; this does. A failure that says either (I/O, a dropped
//! or refused connection, `READONLY` from a demoted master) has the master
//! located again, once for all the commands that saw it fail. So do
//! [`STALE_AFTER`] timeouts in a row: a master that hangs (stopped, not
//! dead) keeps its TCP connections open, and only the Sentinels' answer
//! tells that it was replaced.

use super::{error, locate::Locator};
use crate::{backend::StoreError, metrics::Metrics};
use redis::{
    aio::{MultiplexedConnection, SendError},
    io::tcp::{socket2::TcpKeepalive, TcpSettings},
    AsyncConnectionConfig, ConnectionInfo, ErrorKind, ProtocolVersion, PushInfo, PushKind,
    ServerErrorKind,
};
use std::{
    future::Future,
    sync::{
        atomic::{AtomicBool, AtomicU32, Ordering},
        Arc, RwLock,
    },
    time::Duration,
};

/// Commands in a row that time out before the master is located again.
const STALE_AFTER: u32 = 3;

/// The longest a connection to the master may take to open (TLS included),
/// when shorter than the command deadline. A master that died with its
/// host (a container killed, a node gone) answers nothing, not even a
/// refusal: until the Sentinels name its successor, every attempt waits
/// this long, and the first attempt after the switch starts at most this
/// long after it. A live Redis on the same network connects in
/// milliseconds.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(400);

/// Keepalive probes on every Redis connection: a peer that vanished without
/// a word (a host cut off, not a process killed) is noticed within about
/// 20 s even on a connection that is only read from, like the feed's.
fn keepalive() -> TcpKeepalive {
    TcpKeepalive::new()
        .with_time(Duration::from_secs(10))
        .with_interval(Duration::from_secs(5))
        .with_retries(2)
}

/// `info` with the TCP settings every Redis connection uses.
pub fn tuned(info: ConnectionInfo) -> ConnectionInfo {
    info.set_tcp_settings(
        TcpSettings::default()
            .set_nodelay(true)
            .set_keepalive(keepalive()),
    )
}

pub struct Master {
    locator: Arc<Locator>,
    /// The connection to the master as last located.
    link: RwLock<Option<Link>>,
    /// Held while the master is being located, so a burst of failures
    /// looks it up once.
    locating: tokio::sync::Mutex<()>,
    /// Every command's deadline.
    timeout: Duration,
    /// Commands in a row that timed out on the current connection.
    timeouts: AtomicU32,
    metrics: Arc<Metrics>,
}

struct Link {
    address: String,
    connection: MultiplexedConnection,
    /// Set by the library when the connection closes: the next command
    /// connects again instead of failing on it. A command sent on a
    /// connection that then breaks may have run; one never sent has not,
    /// and its placement can be refused outright.
    closed: Arc<AtomicBool>,
    /// Which connection this is, so that of many commands failing on it,
    /// only the first replaces it.
    generation: u64,
}

impl Master {
    /// Connects on first use, so an instance can start while Redis is down.
    pub fn new(locator: Arc<Locator>, timeout: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            locator,
            link: RwLock::new(None),
            locating: tokio::sync::Mutex::new(()),
            timeout,
            timeouts: AtomicU32::new(0),
            metrics,
        }
    }

    /// Runs `command` on the master's connection within the deadline.
    ///
    /// The error says whether the command went out: a timeout or a broken
    /// connection after that ([`StoreError::may_have_run`]) leaves it
    /// unknown whether it ran, while a failure to connect does not.
    pub async fn run<T, F, Fut>(&self, command: F) -> Result<T, StoreError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let sent = AtomicBool::new(false);
        let work = async {
            let (generation, connection) = self.connection().await?;
            sent.store(true, Ordering::Relaxed);
            let error = match command(connection).await {
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
            Err(error::in_flight(error))
        };
        let result = match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) if sent.load(Ordering::Relaxed) => Err(StoreError::Timeout(self.timeout)),
            Err(_) => Err(StoreError::not_reached(self.timeout)),
        };
        match &result {
            Err(StoreError::Timeout(_)) => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
            }
            _ => self.timeouts.store(0, Ordering::Relaxed),
        }
        if result.is_err() {
            self.metrics.store_errors.inc();
        }
        result
    }

    /// The connection to the master, made first if need be, and made again
    /// after [`STALE_AFTER`] timeouts in a row.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection), StoreError> {
        let stale = self.timeouts.load(Ordering::Relaxed) >= STALE_AFTER;
        let current = match &*self.link.read().unwrap_or_else(|e| e.into_inner()) {
            Some(link) if !stale && !link.closed.load(Ordering::Relaxed) => {
                return Ok((link.generation, link.connection.clone()))
            }
            Some(link) => Some(link.generation),
            None => None,
        };
        if stale {
            tracing::warn!("Redis commands keep timing out; locating the master again");
            self.timeouts.store(0, Ordering::Relaxed);
        }
        self.reconnect(current).await
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
        let info = self.locator.master().await?;
        let address = info.addr().to_string();
        let closed = Arc::new(AtomicBool::new(false));
        let on_push = {
            let closed = closed.clone();
            move |push: PushInfo| -> Result<(), SendError> {
                if push.kind == PushKind::Disconnection {
                    closed.store(true, Ordering::Relaxed);
                }
                Ok(())
            }
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout.min(CONNECT_TIMEOUT)))
            .set_response_timeout(Some(self.timeout))
            .set_push_sender(on_push);
        // Only RESP3 connections report their own closing.
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = tuned(info).set_redis_settings(settings);
        let connection = redis::Client::open(info)
            .map_err(error::from_redis)?
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(error::from_redis)?;
        if previous.as_ref().map(|(a, _)| a) != Some(&address) {
            tracing::info!(%address, "using the Redis master");
        }
        let generation = previous.map_or(0, |(_, g)| g + 1);
        *self.link.write().unwrap_or_else(|e| e.into_inner()) = Some(Link {
            address,
            connection: connection.clone(),
            closed,
            generation,
        });
        Ok((generation, connection))
    }
}
