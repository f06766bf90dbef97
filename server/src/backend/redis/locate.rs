//! Finding the Redis master: at its configured address, or wherever the
//! Sentinels say it is now. Asked again after connection failures and
//! `READONLY` errors, which is how a failover is followed.
//!
//! Through Sentinels this is the redis crate's own client: it asks the
//! Sentinels in turn and, before trusting an answer, checks with `ROLE` that
//! the node named is a master (in the middle of a failover a Sentinel may
//! still name the demoted one).

use crate::{
    backend::StoreError,
    config::{RedisConfig, RedisTarget},
};
use redis::{
    sentinel::{Sentinel, SentinelNodeConnectionInfo},
    ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo,
};
use std::time::Duration;
use tokio::sync::Mutex;

pub struct Locator {
    target: Target,
    timeout: Duration,
}

enum Target {
    Direct(ConnectionInfo),
    Sentinel {
        /// The library's client keeps a connection per Sentinel, hence
        /// `&mut` and the lock (held only while asking).
        sentinels: Mutex<Sentinel>,
        master_name: String,
        /// The master's credentials (the Sentinels' own are in their
        /// addresses).
        node: SentinelNodeConnectionInfo,
    },
}

impl Locator {
    /// Checks the addresses (the configuration already validated them).
    pub fn new(config: &RedisConfig) -> Result<Self, StoreError> {
        let credentials = |info: RedisConnectionInfo| {
            let mut info = info;
            if let Some(username) = &config.username {
                info = info.set_username(username);
            }
            if let Some(password) = &config.password {
                info = info.set_password(password.expose());
            }
            info
        };
        let target = match &config.target {
            RedisTarget::Direct(url) => {
                let info = url
                    .expose()
                    .into_connection_info()
                    .map_err(StoreError::refused)?;
                let settings = credentials(info.redis_settings().clone());
                Target::Direct(info.set_redis_settings(settings))
            }
            RedisTarget::Sentinel {
                sentinels,
                master_name,
            } => {
                let addresses: Vec<String> =
                    sentinels.iter().map(|s| format!("redis://{s}")).collect();
                let node = SentinelNodeConnectionInfo::default()
                    .set_redis_connection_info(credentials(RedisConnectionInfo::default()));
                Target::Sentinel {
                    sentinels: Mutex::new(Sentinel::build(addresses).map_err(StoreError::refused)?),
                    master_name: master_name.clone(),
                    node,
                }
            }
        };
        Ok(Self {
            target,
            timeout: config.command_timeout,
        })
    }

    /// The master's connection details, with the configured credentials.
    pub async fn master(&self) -> Result<ConnectionInfo, StoreError> {
        match &self.target {
            Target::Direct(info) => Ok(info.clone()),
            Target::Sentinel {
                sentinels,
                master_name,
                node,
            } => {
                let ask = async {
                    let mut sentinels = sentinels.lock().await;
                    sentinels.async_master_for(master_name, Some(node)).await
                };
                match tokio::time::timeout(self.timeout, ask).await {
                    Ok(Ok(client)) => Ok(client.get_connection_info().clone()),
                    Ok(Err(error)) => {
                        tracing::warn!(%error, %master_name, "no Sentinel named a master");
                        Err(StoreError::NoMaster(master_name.clone()))
                    }
                    Err(_) => Err(StoreError::not_reached(self.timeout)),
                }
            }
        }
    }
}
