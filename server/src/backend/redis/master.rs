//! The one connection to the Redis master that every command of an instance
//! shares: a multiplexed connection pipelines the requests of all tasks, so
//! a pool would only add its checkout round trip (deadpool-redis tests each
//! connection with `PING` before handing it out, doubling the round trips).
//!
//! What the library does not do is replace the connection when it breaks or
//! the master moves; this does. A failure that says either (I/O, a dropped
//! or refused connection, `READONLY` from a demoted master) has the master
//! located again, once for all the commands that saw it fail.

use super::locate::Locator;
use crate::{backend::StoreError, metrics::Metrics};
use redis::{aio::MultiplexedConnection, AsyncConnectionConfig, ErrorKind, ServerErrorKind};
use std::{
    future::Future,
    sync::{Arc, RwLock},
    time::Duration,
};

pub struct Master {
    locator: Arc<Locator>,
    /// The connection to the master as last located.
    link: RwLock<Option<Link>>,
    /// Held while the master is being located, so a burst of failures
    /// looks it up once.
    locating: tokio::sync::Mutex<()>,
    /// Every command's deadline.
    timeout: Duration,
    metrics: Arc<Metrics>,
}

struct Link {
    address: String,
    connection: MultiplexedConnection,
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
            metrics,
        }
    }

    /// Runs `command` on the master's connection within the deadline.
    pub async fn run<T, F, Fut>(&self, command: F) -> Result<T, StoreError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let (generation, connection) = self.connection().await?;
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
            Err(StoreError::redis(error))
        };
        let result = tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or(Err(StoreError::Timeout(self.timeout)));
        if result.is_err() {
            self.metrics.store_errors.inc();
        }
        result
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
        let info = self.locator.master().await?;
        let address = info.addr().to_string();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let connection = redis::Client::open(info)
            .map_err(StoreError::redis)?
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(StoreError::redis)?;
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
}
