//! Finding the Redis master: at its configured address, or wherever the
//! Sentinels say it is now. Asked again after connection failures and
//! `READONLY` errors, which is how a failover is followed.
//!
//! Through Sentinels, each is asked with the redis crate's own client (one
//! per Sentinel), which before trusting an answer checks with `ROLE` that
//! the node named is a master (in the middle of a failover a Sentinel may
//! still name the demoted one). Each Sentinel gets its share of the
//! command deadline, the first one asked rotates after a failure, and a
//! Sentinel that failed has its cached connection dropped: an unreachable
//! Sentinel (its node gone, its name still resolving) costs a share of one
//! lookup, never every lookup, so the others are always asked.
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
use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};
use tokio::sync::Mutex;

/// The least time a Sentinel is given to answer.
const MIN_SENTINEL_BUDGET: Duration = Duration::from_millis(100);

pub struct Locator {
    target: Target,
    timeout: Duration,
}

enum Target {
    /// The master's connection details, TLS parameters included.
    Direct(ConnectionInfo),
    /// One client per Sentinel. The library's client keeps its
    /// connection, hence `&mut` and the lock (held only while asking). It
    /// carries the master's credentials and TLS settings, and hands them on
    /// with its answer.
    Sentinel {
        sentinels: Vec<Sentinel>,
        /// Which Sentinel is asked first.
        first: AtomicUsize,
        master_name: String,
    },
}

/// One Sentinel: how to make a client for it, and the client.
struct Sentinel {
    make: Box<dyn Fn() -> Result<SentinelClient, redis::RedisError> + Send + Sync>,
    client: Mutex<SentinelClient>,
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
                let mut clients = Vec::new();
                for sentinel in sentinels {
                    let (host, port) = sentinel.rsplit_once(':').unwrap_or((sentinel, "26379"));
                    let (host, port) = (host.to_owned(), port.parse().unwrap_or(26379));
                    let address = match certificates {
                        Some(_) => ConnectionAddr::TcpTls {
                            host,
                            port,
                            insecure: false,
                            tls_params: None,
                        },
                        None => ConnectionAddr::Tcp(host, port),
                    };
                    let (username, password) = (config.username.clone(), config.password.clone());
                    let (certificates, master_name) = (certificates.clone(), master_name.clone());
                    let make = move || {
                        let mut builder = SentinelClientBuilder::new(
                            [address.clone()],
                            master_name.clone(),
                            SentinelServerType::Master,
                        )?;
                        if let Some(username) = &username {
                            builder = builder.set_client_to_redis_username(username);
                        }
                        if let Some(password) = &password {
                            builder = builder.set_client_to_redis_password(password.expose());
                        }
                        if let Some(certificates) = &certificates {
                            builder = builder
                                .set_client_to_redis_tls_mode(TlsMode::Secure)
                                .set_client_to_redis_certificates(certificates.clone())
                                .set_client_to_sentinel_tls_mode(TlsMode::Secure)
                                .set_client_to_sentinel_certificates(certificates.clone());
                        }
                        builder.build()
                    };
                    let client = make().map_err(StoreError::refused)?;
                    clients.push(Sentinel {
                        make: Box::new(make),
                        client: Mutex::new(client),
                    });
                }
                Target::Sentinel {
                    sentinels: clients,
                    first: AtomicUsize::new(0),
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
                sentinels,
                first,
                master_name,
            } => {
                let budget =
                    (self.timeout / sentinels.len().max(1) as u32).max(MIN_SENTINEL_BUDGET);
                let start = first.load(Ordering::Relaxed);
                for turn in 0..sentinels.len() {
                    let index = (start + turn) % sentinels.len();
                    let sentinel = &sentinels[index];
                    let ask = async { sentinel.client.lock().await.async_get_client().await };
                    let failure = match tokio::time::timeout(budget, ask).await {
                        Ok(Ok(client)) => return Ok(client.get_connection_info().clone()),
                        Ok(Err(error)) => error.to_string(),
                        Err(_) => format!("no answer within {budget:?}"),
                    };
                    tracing::debug!(sentinel = index, %failure, "a Sentinel did not name the master");
                    // Ask another first next time, and start afresh with
                    // this one: its cached connection may be the broken part.
                    first.store((index + 1) % sentinels.len(), Ordering::Relaxed);
                    if let Ok(fresh) = (sentinel.make)() {
                        *sentinel.client.lock().await = fresh;
                    }
                }
                tracing::warn!(%master_name, "no Sentinel named a master");
                Err(StoreError::NoMaster(master_name.clone()))
            }
        }
    }
}
