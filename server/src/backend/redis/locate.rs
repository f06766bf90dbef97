//! Finding the Redis master: at its configured address, or wherever the
//! Sentinels say it is now. Asked again after connection failures and
//! `READONLY` errors, which is how a failover is followed.
//!
//! Through Sentinels, each is asked `SENTINEL GET-MASTER-ADDR-BY-NAME`
//! on a connection kept per Sentinel, and the node named is asked `ROLE`
//! before it is trusted. In the middle of a failover a Sentinel still
//! names the demoted master for up to a second after the replica took
//! over (it learns of the promotion from its next `INFO`); a demoted
//! master's `ROLE` names its new master, which is taken if it says it is
//! one. So the app follows a hand-over (redis/prestop.sh) as soon as the
//! old master steps down, not a second later.
//!
//! Each Sentinel gets its share of the command deadline, the first one
//! asked rotates after a failure, and a Sentinel that failed has its
//! connection dropped: an unreachable Sentinel (its node gone, its name
//! still resolving) costs a share of one lookup, never every lookup, so
//! the others are always asked.
//!
//! With TLS (`REDIS_TLS`) the Sentinels and the master are both reached
//! over TLS and their certificates checked against the configured CA: the
//! connection details handed out carry those parameters, so every
//! connection made from them (commands, the feed) is a TLS one.

use super::error;
use crate::{
    backend::StoreError,
    config::{RedisConfig, RedisTarget},
};
use redis::{
    aio::MultiplexedConnection, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisError,
    RedisResult, TlsCertificates, Value,
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
    Sentinel {
        sentinels: Vec<Sentinel>,
        /// Which Sentinel is asked first.
        first: AtomicUsize,
        master_name: String,
        /// How the master is reached once named: the credentials and the
        /// CA, handed on with its address.
        master: Endpoints,
    },
}

/// One Sentinel: its connection details and the connection, made when
/// first needed and dropped when it fails.
struct Sentinel {
    info: ConnectionInfo,
    connection: Mutex<Option<MultiplexedConnection>>,
}

/// What a node's connection details are made of besides its address.
struct Endpoints {
    settings: redis::RedisConnectionInfo,
    certificates: Option<TlsCertificates>,
}

impl Endpoints {
    /// The connection details of `host:port`, over TLS when configured.
    fn info(&self, host: String, port: u16) -> RedisResult<ConnectionInfo> {
        let address = match self.certificates {
            Some(_) => ConnectionAddr::TcpTls {
                host,
                port,
                insecure: false,
                tls_params: None,
            },
            None => ConnectionAddr::Tcp(host, port),
        };
        let info = address
            .into_connection_info()?
            .set_redis_settings(self.settings.clone());
        match &self.certificates {
            // Resolves the CA into the address's TLS parameters.
            Some(certificates) => Ok(redis::Client::build_with_tls(info, certificates.clone())?
                .get_connection_info()
                .clone()),
            None => Ok(info),
        }
    }
}

/// What a node says it is (`ROLE`).
enum Role {
    Master,
    /// A replica, and the master it follows.
    Replica(String, u16),
    Other,
}

async fn role(info: &ConnectionInfo) -> RedisResult<Role> {
    let mut connection = redis::Client::open(info.clone())?
        .get_multiplexed_async_connection()
        .await?;
    let reply: Vec<Value> = redis::cmd("ROLE").query_async(&mut connection).await?;
    let field = |i: usize| reply.get(i).map(redis::from_redis_value_ref::<String>);
    Ok(match field(0) {
        Some(Ok(kind)) if kind == "master" => Role::Master,
        Some(Ok(kind)) if kind == "slave" => match (field(1), field(2)) {
            (Some(Ok(host)), Some(Ok(port))) => match port.parse() {
                Ok(port) => Role::Replica(host, port),
                Err(_) => Role::Other,
            },
            _ => Role::Other,
        },
        _ => Role::Other,
    })
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
                    .map_err(error::refused)?;
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
                        .map_err(error::refused)?
                        .get_connection_info()
                        .clone();
                }
                Target::Direct(info)
            }
            RedisTarget::Sentinel {
                sentinels,
                master_name,
            } => {
                let mut master = redis::RedisConnectionInfo::default();
                if let Some(username) = &config.username {
                    master = master.set_username(username);
                }
                if let Some(password) = &config.password {
                    master = master.set_password(password.expose());
                }
                // The Sentinels answer anyone (no credentials), over the
                // same TLS as the master.
                let anyone = Endpoints {
                    settings: redis::RedisConnectionInfo::default(),
                    certificates: certificates.clone(),
                };
                let sentinels = sentinels
                    .iter()
                    .map(|sentinel| {
                        let (host, port) = sentinel.rsplit_once(':').unwrap_or((sentinel, "26379"));
                        let info = anyone
                            .info(host.to_owned(), port.parse().unwrap_or(26379))
                            .map_err(error::refused)?;
                        Ok(Sentinel {
                            info,
                            connection: Mutex::new(None),
                        })
                    })
                    .collect::<Result<_, StoreError>>()?;
                Target::Sentinel {
                    sentinels,
                    first: AtomicUsize::new(0),
                    master_name: master_name.clone(),
                    master: Endpoints {
                        settings: master,
                        certificates,
                    },
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
                master,
            } => {
                let budget =
                    (self.timeout / sentinels.len().max(1) as u32).max(MIN_SENTINEL_BUDGET);
                let start = first.load(Ordering::Relaxed);
                for turn in 0..sentinels.len() {
                    let index = (start + turn) % sentinels.len();
                    let sentinel = &sentinels[index];
                    let ask = ask(sentinel, master_name, master);
                    let failure = match tokio::time::timeout(budget, ask).await {
                        Ok(Ok(info)) => return Ok(info),
                        Ok(Err(error)) => error.to_string(),
                        Err(_) => format!("no answer within {budget:?}"),
                    };
                    tracing::debug!(sentinel = index, %failure, "a Sentinel did not name the master");
                    // Ask another first next time, and start afresh with
                    // this one: its connection may be the broken part.
                    first.store((index + 1) % sentinels.len(), Ordering::Relaxed);
                    *sentinel.connection.lock().await = None;
                }
                tracing::warn!(%master_name, "no Sentinel named a master");
                Err(StoreError::NoMaster(master_name.clone()))
            }
        }
    }
}

/// Asks `sentinel` where the master is, and checks the answer: the node
/// named must say it is the master, or be a replica (just demoted) whose
/// own master says so.
async fn ask(
    sentinel: &Sentinel,
    master_name: &str,
    master: &Endpoints,
) -> RedisResult<ConnectionInfo> {
    let mut connection = {
        let mut slot = sentinel.connection.lock().await;
        match &*slot {
            Some(connection) => connection.clone(),
            None => {
                let connection = redis::Client::open(sentinel.info.clone())?
                    .get_multiplexed_async_connection()
                    .await?;
                slot.insert(connection).clone()
            }
        }
    };
    let named: Option<(String, u16)> = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(master_name)
        .query_async(&mut connection)
        .await?;
    let (host, port) = named.ok_or_else(|| not_master("the Sentinel knows no such master"))?;
    let named = master.info(host, port)?;
    match role(&named).await? {
        Role::Master => Ok(named),
        Role::Replica(host, port) => {
            let successor = master.info(host, port)?;
            match role(&successor).await? {
                Role::Master => Ok(successor),
                _ => Err(not_master(
                    "the node named and its master are both replicas",
                )),
            }
        }
        Role::Other => Err(not_master("the node named is not a master")),
    }
}

fn not_master(why: &'static str) -> RedisError {
    RedisError::from((redis::ErrorKind::Client, why))
}
