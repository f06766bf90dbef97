//! Finding the Redis master: at its configured address, or wherever the
//! Sentinels say it is now. Asked again after connection failures and
//! `READONLY` errors, which is how a failover is followed.

use crate::{
    config::{RedisConfig, RedisTarget},
    store::StoreError,
};
use redis::{ConnectionInfo, IntoConnectionInfo};
use std::time::Duration;

/// The master's connection details, with the configured credentials (kept
/// apart from the URL, so a password needs no URL escaping).
pub async fn master(config: &RedisConfig) -> Result<ConnectionInfo, StoreError> {
    let info = match &config.target {
        RedisTarget::Direct(url) => url
            .expose()
            .into_connection_info()
            .map_err(|e| StoreError::Unavailable(format!("invalid Redis URL: {e}")))?,
        RedisTarget::Sentinel {
            sentinels,
            master_name,
        } => ask_sentinels(sentinels, master_name, config.command_timeout).await?,
    };
    let mut settings = info.redis_settings().clone();
    if let Some(username) = &config.username {
        settings = settings.set_username(username);
    }
    if let Some(password) = &config.password {
        settings = settings.set_password(password.expose());
    }
    Ok(info.set_redis_settings(settings))
}

/// Asks each Sentinel in turn for the master's address; the first answer wins.
async fn ask_sentinels(
    sentinels: &[String],
    master_name: &str,
    timeout: Duration,
) -> Result<ConnectionInfo, StoreError> {
    for sentinel in sentinels {
        let ask = async {
            let client = redis::Client::open(format!("redis://{sentinel}"))?;
            let mut connection = client.get_multiplexed_async_connection().await?;
            redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(master_name)
                .query_async::<Option<(String, u16)>>(&mut connection)
                .await
        };
        match tokio::time::timeout(timeout, ask).await {
            Ok(Ok(Some((host, port)))) => {
                return format!("redis://{host}:{port}")
                    .into_connection_info()
                    .map_err(|e| StoreError::Unavailable(e.to_string()));
            }
            Ok(Ok(None)) => {
                tracing::warn!(%sentinel, %master_name, "Sentinel does not know the master")
            }
            Ok(Err(error)) => tracing::warn!(%sentinel, %error, "cannot ask Sentinel"),
            Err(_) => tracing::warn!(%sentinel, "Sentinel did not answer in time"),
        }
    }
    Err(StoreError::Unavailable(format!(
        "no Sentinel named the master {master_name:?}"
    )))
}
