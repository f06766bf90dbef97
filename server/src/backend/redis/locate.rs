//! Finding the Redis master: at its configured address, or wherever the
//! Sentinels say it is now. Asked again after connection failures and
//! `READONLY` errors, which is how a failover is followed.
//!
//! Through Sentinels this is the redis crate's own client: it asks the
//! Sentinels in turn and, before trusting an answer, checks with `ROLE` that
//! the node named is a master (in the middle of a failover a Sentinel may
//! still name the demoted one).
//!
//! With TLS (`REDIS_TLS`) the Sentinels and the master are both reached
//! over TLS and their certificates checked against the configured CA: the
//! connection details handed out carry those parameters, so every
//! connection made from them (commands, the feed) is a TLS one.

use crate::{
    backend::StoreError,
    config::{RedisConfig, RedisTarget},
};
use redis::{
    sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType},
    ConnectionAddr, ConnectionInfo, IntoConnectionInfo, TlsCertificates, TlsMode,
};
use std::time::Duration;
use tokio::sync::Mutex;

pub struct Locator {
    target: Target,
    timeout: Duration,
}

enum Target {
    /// The master's connection details, TLS parameters included.
    Direct(ConnectionInfo),
    /// The library's client keeps a connection per Sentinel, hence `&mut`
    /// and the lock (held only while asking). It carries the master's
    /// credentials and TLS settings, and hands them on with its answer.
    Sentinel {
        client: Mutex<SentinelClient>,
        master_name: String,
    },
}

impl Locator {
    /// Checks the addresses (the configuration already validated them).
    pub fn new(config: &RedisConfig) -> Result<Self, StoreError> {
        let certificates = config.tls.as_ref().map(|tls| {
            // The TLS library wants one process-wide choice of cryptography;
            // a second call (another store in the same process) finds it made.
            let _ = rustls::crypto::ring::default_provider().install_default();
            TlsCertificates {
                client_tls: None,
                root_cert: tls.ca_pem.clone(),
            }
        });
        let target = match &config.target {
            RedisTarget::Direct(url) => {
                let mut info = url
                    .expose()
                    .into_connection_info()
                    .map_err(StoreError::refused)?;
                let mut settings = info.redis_settings().clone();
                if let Some(username) = &config.username {
                    settings = settings.set_username(username);
                }
                if let Some(password) = &config.password {
                    settings = settings.set_password(password.expose());
                }
                info = info.set_redis_settings(settings);
                if let Some(certificates) = certificates {
                    if let ConnectionAddr::Tcp(host, port) = info.addr().clone() {
                        info = info.set_addr(ConnectionAddr::TcpTls {
                            host,
                            port,
                            insecure: false,
                            tls_params: None,
                        });
                    }
                    // Resolves the CA into the address's TLS parameters.
                    info = redis::Client::build_with_tls(info, certificates)
                        .map_err(StoreError::refused)?
                        .get_connection_info()
                        .clone();
                }
                Target::Direct(info)
            }
            RedisTarget::Sentinel {
                sentinels,
                master_name,
            } => {
                let addresses = sentinels.iter().map(|sentinel| {
                    let (host, port) = sentinel.rsplit_once(':').unwrap_or((sentinel, "26379"));
                    let (host, port) = (host.to_owned(), port.parse().unwrap_or(26379));
                    match certificates {
                        Some(_) => ConnectionAddr::TcpTls {
                            host,
                            port,
                            insecure: false,
                            tls_params: None,
                        },
                        None => ConnectionAddr::Tcp(host, port),
                    }
                });
                let mut builder =
                    SentinelClientBuilder::new(addresses, master_name, SentinelServerType::Master)
                        .map_err(StoreError::refused)?;
                if let Some(username) = &config.username {
                    builder = builder.set_client_to_redis_username(username);
                }
                if let Some(password) = &config.password {
                    builder = builder.set_client_to_redis_password(password.expose());
                }
                if let Some(certificates) = certificates {
                    builder = builder
                        .set_client_to_redis_tls_mode(TlsMode::Secure)
                        .set_client_to_redis_certificates(certificates.clone())
                        .set_client_to_sentinel_tls_mode(TlsMode::Secure)
                        .set_client_to_sentinel_certificates(certificates);
                }
                Target::Sentinel {
                    client: Mutex::new(builder.build().map_err(StoreError::refused)?),
                    master_name: master_name.clone(),
                }
            }
        };
        Ok(Self {
            target,
            timeout: config.command_timeout,
        })
    }

    /// The master's connection details, with the configured credentials
    /// and TLS settings.
    pub async fn master(&self) -> Result<ConnectionInfo, StoreError> {
        match &self.target {
            Target::Direct(info) => Ok(info.clone()),
            Target::Sentinel {
                client,
                master_name,
            } => {
                let ask = async { client.lock().await.async_get_client().await };
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
