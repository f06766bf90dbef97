//! Configuration, read once from the environment at start-up into typed
//! values. Every variable has a default that works on a laptop; the README
//! and `.env.development` list them all.

use crate::model::{ArchiveKeep, ChallengeMode, ChatMode, Rules, WebhookPolicy};
use app::{geometry::CanvasSize, palette::PALETTE};
use leptos::config::{Env, LeptosOptions};
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    str::FromStr,
    sync::Arc,
    time::Duration,
};
use thiserror::Error;

/// The shortest `SESSION_SECRET` accepted: the session key is derived
/// from it.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, Clone)]
pub struct Config {
    /// Where the server listens. Port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Where `/metrics` is served when it has a listener of its own
    /// (`METRICS_PORT`, on `APP_HOST`): then the main port does not serve
    /// it, and a cluster can expose the one without the other.
    pub metrics_listen: Option<SocketAddr>,
    pub canvas: CanvasSize,
    /// The time a spent charge takes to come back (with one charge, the
    /// wait between two placements of one user); zero turns it off.
    pub cooldown: Duration,
    /// The placements a user holds in reserve at most (`CHARGES_MAX`, 1 to
    /// 100): one comes back per cooldown.
    pub charges_max: u32,
    /// How long after placing a user may undo it (`UNDO_MS`); zero: never.
    pub undo: Duration,
    /// The canvases beside the default one (`CANVASES`), each served under
    /// `/c/<name>`.
    pub canvases: Vec<NamedCanvas>,
    /// Which canvas this configuration serves: `None` for the default one
    /// (see [`Config::for_canvas`]).
    pub canvas_name: Option<String>,
    /// Its palette: the first this many colors of the 32 (all, on the
    /// default canvas).
    pub colors: u8,
    /// Under load, each socket gets at most one `Tiles` frame this often
    /// (a tile after a quiet spell goes at once).
    pub batch_interval: Duration,
    /// Socket-frames a second the instance aims to stay under: the wait
    /// between two `Tiles` frames grows with the number of sockets beyond
    /// `batch_interval`.
    pub fanout_frames_per_sec: u32,
    /// Under load, a socket that watches chunks gets at most one
    /// `ViewTiles` frame this often: a world's crowd is many sockets that
    /// each need a few tiles, so the frames, not the tiles, are its cost.
    pub view_interval: Duration,
    /// Tiles the instance remembers, to catch up a socket that fell behind
    /// and to answer `Resume` without asking the store.
    pub recent_tiles: usize,
    /// How old a served snapshot may be while the canvas moves on: each
    /// encoding is made at most once per this interval.
    pub snapshot_max_age: Duration,
    /// How often one instance archives the canvas as a PNG (time travel);
    /// zero: never.
    pub archive_interval: Duration,
    /// How many archived canvases are kept, and how many bytes of them
    /// at most: the oldest are dropped first (the newest always stays).
    pub archive_keep: ArchiveKeep,
    /// Placements the embedded store keeps for `Resume`.
    pub history_len: usize,
    /// Origins accepted on `/ws`; empty means "the host serving the page".
    pub allowed_origins: Vec<String>,
    /// Place frames one connection may send per second (bursts of twice as
    /// many are let through).
    pub place_rate_per_sec: u32,
    /// A socket whose write has not completed after this long is dropped,
    /// and so is an HTTP connection whose write made no progress for it:
    /// a stalled reader must not hold server memory.
    pub send_timeout: Duration,
    /// The server pings every socket this often; a socket that has sent
    /// nothing (not even a pong) for two intervals is closed as dead.
    pub ping_interval: Duration,
    /// A client that has not sent a request's headers within this long is
    /// disconnected (slow-loris).
    pub header_read_timeout: Duration,
    /// A request not answered within this long gets 408.
    pub request_timeout: Duration,
    /// Open WebSockets one client address may hold on this instance.
    pub max_connections_per_ip: u32,
    /// WebSocket handshakes one client address may make per second on
    /// this instance (bursts of twice as many); 0: no limit.
    pub ws_handshakes_per_ip: u32,
    /// HTTP connections one peer address may hold open on this instance
    /// (0: no cap). Not applied behind a proxy (`TRUST_FORWARDED_FOR`),
    /// where every connection comes from the proxy: it caps them itself.
    pub max_http_connections_per_ip: u32,
    /// Sessions one client address may be given per hour; 0: no limit.
    pub max_new_sessions_per_ip: u32,
    /// Placements one client address (an IPv4 address or an IPv6 /64, all
    /// its sessions together) may make per cooldown; 0: no limit.
    /// Verified sessions (a solved challenge) are outside it. Defaults to 2
    /// with a cooldown, none without (load tests).
    pub placements_per_address: u32,
    /// When placing asks for a solved proof-of-work challenge.
    pub challenge: ChallengeMode,
    /// The challenge's difficulty: its secret number is at most this, so
    /// a solver tries half as many hashes on average.
    pub challenge_max_number: u64,
    /// What session cookies are signed with; unset: agreed through Redis,
    /// or this process's own on the embedded store.
    pub session_secret: Option<Secret>,
    /// The shared admin token (`ADMIN_TOKEN`): an admin whose name is
    /// whatever `X-Moderator` says. Kept for small deployments; prefer
    /// [`Config::moderators`].
    pub admin_token: Option<Secret>,
    /// One token per moderator, each with a name and a role
    /// (`MODERATORS`). With neither this nor `admin_token`, the admin
    /// routes answer 404.
    pub moderators: Vec<ModeratorCredential>,
    /// Who may write in the chat (`CHAT`).
    pub chat: ChatMode,
    /// Chat messages one session may post per minute (`CHAT_PER_MINUTE`);
    /// one client address, all its sessions together, three times as many.
    pub chat_per_minute: u32,
    /// Where watched templates' webhooks may post (`WEBHOOKS`).
    pub webhooks: WebhookPolicy,
    /// The OpenID providers players may sign in with (`OIDC_PROVIDERS`);
    /// none: play is anonymous only.
    pub oidc_providers: Vec<OidcProvider>,
    /// Where players reach the deployment (`PUBLIC_URL`, no trailing
    /// slash): the providers send them back to `<it>/auth/<id>/callback`.
    /// Required with providers; never taken from a request's `Host`.
    pub public_url: Option<String>,
    /// Whether to take the client address from `X-Forwarded-For` (set by
    /// the proxy in front) rather than from the TCP peer.
    pub trust_forwarded_for: bool,
    /// Where cargo-leptos put the WASM bundle, the CSS and `public/`.
    pub leptos: LeptosOptions,
    /// Whether `cargo leptos watch` runs the server (it sets `LEPTOS_WATCH`):
    /// the page then loads its live-reload script.
    pub live_reload: bool,
    /// The shared Redis store; `None` runs on the embedded store.
    pub redis: Option<RedisConfig>,
}

/// How to reach Redis and how to name things in it.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub target: RedisTarget,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Prefix of every key and of the Pub/Sub channel, so several canvases
    /// can share one Redis.
    pub key_prefix: String,
    /// Placements kept in the history stream for catch-up and `Resume`
    /// (approximately: the stream is trimmed with `MAXLEN ~`).
    pub history_len: usize,
    /// A command that takes longer fails: a placement must answer promptly
    /// even when Redis does not.
    pub command_timeout: Duration,
    /// When a placement counts as done.
    pub durability: Durability,
    /// TLS to the master and the Sentinels; `None`: plain TCP.
    pub tls: Option<RedisTls>,
}

/// Redis over TLS (`REDIS_TLS`, or a `rediss://` URL): the master and the
/// Sentinels are both spoken to over TLS, their certificates checked
/// against `REDIS_TLS_CA_FILE` (or the system's roots).
#[derive(Debug, Clone)]
pub struct RedisTls {
    /// The CA certificates (PEM) the servers' certificates must chain to;
    /// `None`: the system's trust store.
    pub ca_pem: Option<Vec<u8>>,
}

/// When the store may tell a placer that a placement is done
/// (`DURABILITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Once every replica online has it too (`WAIT`), within `wait`: a
    /// failover to any of them keeps it. Without them in time the answer
    /// is "unknown", never "accepted".
    Replica { wait: Duration },
    /// Once the master has run it (and written it to its append-only file,
    /// flushed within a second).
    Local,
}

impl Durability {
    fn read<F: Fn(&str) -> Option<String>>(
        env: &Source<F>,
        replicated: bool,
        command_timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let wait = env.ms("REPLICA_WAIT_MS", 500)?;
        if wait.is_zero() || wait >= command_timeout {
            return Err(invalid(
                "REPLICA_WAIT_MS",
                &wait.as_millis().to_string(),
                "must be above 0 and below REDIS_TIMEOUT_MS",
            ));
        }
        match env.get("DURABILITY").as_deref().map(str::trim) {
            None if replicated => Ok(Self::Replica { wait }),
            None => Ok(Self::Local),
            Some("replica") => Ok(Self::Replica { wait }),
            Some("local") => Ok(Self::Local),
            Some(other) => Err(invalid("DURABILITY", other, "expected replica or local")),
        }
    }
}

/// Where the Redis master is.
#[derive(Debug, Clone)]
pub enum RedisTarget {
    /// At a fixed address: `redis://host:port/db` (credentials may be in
    /// it, hence [`Secret`]).
    Direct(Secret),
    /// Wherever these Sentinels (`host:port`) say the master called
    /// `master_name` is; asked again after every failure, so a failover is
    /// followed.
    Sentinel {
        sentinels: Vec<String>,
        master_name: String,
    },
}

/// A value that must never reach a log: its `Debug` prints a placeholder.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Reads variables through a lookup function, so tests can configure an
/// instance without touching the process environment.
pub struct Source<F>(pub F);

impl<F: Fn(&str) -> Option<String>> Source<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    value,
                    reason: e.to_string(),
                }),
        }
    }

    fn ms(&self, name: &'static str, default_ms: u64) -> Result<Duration, ConfigError> {
        self.parse(name, default_ms).map(Duration::from_millis)
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(Source(|name: &str| std::env::var(name).ok()))
    }

    pub fn from_source<F: Fn(&str) -> Option<String>>(env: Source<F>) -> Result<Self, ConfigError> {
        let listen = listen_address(&env)?;
        let metrics_listen = env
            .get("METRICS_PORT")
            .map(|_| env.parse::<u16>("METRICS_PORT", 0))
            .transpose()?
            .map(|port| SocketAddr::new(listen.ip(), port));
        let history_len: usize = env.parse("HISTORY_LEN", 100_000)?;
        Ok(Self {
            listen,
            metrics_listen,
            canvas: canvas_size(&env)?,
            cooldown: cooldown(&env)?,
            charges_max: match env.parse("CHARGES_MAX", 1u32)? {
                charges @ 1..=100 => charges,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "CHARGES_MAX",
                        value: env.get("CHARGES_MAX").unwrap_or_default(),
                        reason: "from 1 to 100".into(),
                    })
                }
            },
            undo: env.ms("UNDO_MS", 5000)?.min(Duration::from_secs(60)),
            canvases: canvases(&env)?,
            canvas_name: None,
            colors: PALETTE.len() as u8,
            batch_interval: env
                .ms("BATCH_INTERVAL_MS", 20)?
                .clamp(Duration::from_millis(1), Duration::from_secs(1)),
            fanout_frames_per_sec: env.parse("FANOUT_FRAMES_PER_SEC", 50_000)?,
            view_interval: env.ms("VIEW_INTERVAL_MS", 250)?.min(Duration::from_secs(1)),
            recent_tiles: env.parse("RECENT_TILES", 65_536)?,
            snapshot_max_age: env.ms("SNAPSHOT_MAX_AGE_MS", 250)?,
            archive_interval: env.ms("SNAPSHOT_INTERVAL_MS", 600_000)?,
            archive_keep: ArchiveKeep {
                snapshots: env.parse("SNAPSHOT_KEEP", 1_000usize)?.max(1),
                bytes: env.parse("SNAPSHOT_KEEP_BYTES", 128 * 1024 * 1024)?,
            },
            history_len,
            allowed_origins: allowed_origins(&env),
            place_rate_per_sec: env.parse("PLACE_RATE_PER_SEC", 20)?,
            send_timeout: env.ms("SEND_TIMEOUT_MS", 10_000)?,
            ping_interval: env
                .ms("PING_INTERVAL_MS", 20_000)?
                .max(Duration::from_millis(10)),
            header_read_timeout: env
                .ms("HEADER_READ_TIMEOUT_MS", 10_000)?
                .max(Duration::from_millis(10)),
            request_timeout: env
                .ms("REQUEST_TIMEOUT_MS", 10_000)?
                .max(Duration::from_millis(10)),
            max_connections_per_ip: env.parse("MAX_CONNECTIONS_PER_IP", 32)?,
            max_http_connections_per_ip: env.parse("MAX_HTTP_CONNECTIONS_PER_IP", 64)?,
            ws_handshakes_per_ip: env.parse("WS_HANDSHAKES_PER_IP", 10)?,
            max_new_sessions_per_ip: env.parse("MAX_NEW_SESSIONS_PER_IP", 30)?,
            placements_per_address: placements_per_address(&env)?,
            challenge: env.parse("CHALLENGE", ChallengeMode::Suspicious)?,
            challenge_max_number: env
                .parse("CHALLENGE_DIFFICULTY", 100_000u64)?
                .clamp(1_000, 100_000_000),
            session_secret: session_secret(&env)?,
            admin_token: admin_token(&env)?,
            moderators: moderators(&env)?,
            chat: env.parse("CHAT", ChatMode::Anyone)?,
            chat_per_minute: env.parse("CHAT_PER_MINUTE", 6u32)?.max(1),
            webhooks: env.parse("WEBHOOKS", WebhookPolicy::Public)?,
            oidc_providers: oidc_providers(&env)?,
            public_url: public_url(&env)?,
            trust_forwarded_for: env.parse("TRUST_FORWARDED_FOR", false)?,
            leptos: leptos_options(&env, listen)?,
            live_reload: env.get("LEPTOS_WATCH").is_some(),
            redis: redis(&env, history_len)?,
        })
    }
}

/// `APP_HOST`:`APP_PORT`, which win over cargo-leptos's `LEPTOS_SITE_ADDR`.
fn listen_address<F: Fn(&str) -> Option<String>>(
    env: &Source<F>,
) -> Result<SocketAddr, ConfigError> {
    let site_addr: SocketAddr = env.parse(
        "LEPTOS_SITE_ADDR",
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000),
    )?;
    Ok(SocketAddr::new(
        env.parse("APP_HOST", site_addr.ip())?,
        env.parse("APP_PORT", site_addr.port())?,
    ))
}

/// `CANVAS_WIDTH` × `CANVAS_HEIGHT`, each 1..65535.
fn canvas_size<F: Fn(&str) -> Option<String>>(env: &Source<F>) -> Result<CanvasSize, ConfigError> {
    let side = |name: &'static str| -> Result<u16, ConfigError> {
        match env.parse(name, 1000)? {
            0 => Err(invalid(name, "0", "must be between 1 and 65535")),
            value => Ok(value),
        }
    };
    Ok(CanvasSize {
        width: side("CANVAS_WIDTH")?,
        height: side("CANVAS_HEIGHT")?,
    })
}

impl Config {
    /// What limits placements on this canvas, as its store enforces them.
    pub fn rules(&self) -> Rules {
        Rules {
            cooldown: self.cooldown,
            charges: self.charges_max,
            undo: self.undo,
            per_address: self.placements_per_address,
            challenge: self.challenge,
        }
    }

    /// The configuration of the canvas `named`: its size and cooldown, the
    /// rest shared.
    pub fn for_canvas(&self, named: &NamedCanvas) -> Self {
        Self {
            canvas: named.size,
            cooldown: named.cooldown,
            canvases: Vec::new(),
            canvas_name: Some(named.name.clone()),
            colors: named.colors,
            ..self.clone()
        }
    }
}

/// A canvas beside the default one, with its own size and cooldown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCanvas {
    /// 1 to 32 of `a-z`, `0-9` and `-`: its path is `/c/<name>`.
    pub name: String,
    pub size: CanvasSize,
    pub cooldown: Duration,
    /// Its palette: the first this many colors of the 32.
    pub colors: u8,
}

/// `CANVASES`: `<name>:<width>x<height>[:<cooldown ms>[:<colors>]]`,
/// comma-separated (the cooldown defaults to `COOLDOWN_MS`'s, the colors to
/// all 32).
fn canvases<F: Fn(&str) -> Option<String>>(
    env: &Source<F>,
) -> Result<Vec<NamedCanvas>, ConfigError> {
    let Some(list) = env.get("CANVASES") else {
        return Ok(Vec::new());
    };
    let default_cooldown = cooldown(env)?;
    let mut canvases: Vec<NamedCanvas> = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let wrong = |reason: &str| invalid("CANVASES", entry, reason);
        let mut fields = entry.split(':');
        let name = fields.next().unwrap_or_default();
        let valid_name = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid_name {
            return Err(wrong("a name is 1 to 32 of a-z, 0-9 and -"));
        }
        if canvases.iter().any(|c| c.name == name) {
            return Err(wrong("each name once"));
        }
        let size = fields
            .next()
            .and_then(|size| size.split_once('x'))
            .and_then(|(w, h)| Some((w.parse::<u16>().ok()?, h.parse::<u16>().ok()?)))
            .filter(|&(w, h)| w > 0 && h > 0)
            .map(|(width, height)| CanvasSize { width, height })
            .ok_or_else(|| wrong("the size is <width>x<height>, each 1 to 65535"))?;
        let cooldown = match fields.next() {
            None => default_cooldown,
            Some(ms) => ms
                .parse::<u32>()
                .map(|ms| Duration::from_millis(u64::from(ms)))
                .map_err(|_| wrong("the cooldown is milliseconds, at most 4294967295"))?,
        };
        let all = PALETTE.len() as u8;
        let colors = match fields.next() {
            None => all,
            Some(n) => n
                .parse::<u8>()
                .ok()
                .filter(|n| (2..=all).contains(n))
                .ok_or_else(|| wrong("the colors are 2 to 32: the palette's first ones"))?,
        };
        if fields.next().is_some() {
            return Err(wrong("<name>:<width>x<height>[:<cooldown ms>[:<colors>]]"));
        }
        canvases.push(NamedCanvas {
            name: name.to_owned(),
            size,
            cooldown,
            colors,
        });
    }
    Ok(canvases)
}

/// `COOLDOWN_MS`, which the wire format carries in 32 bits.
fn cooldown<F: Fn(&str) -> Option<String>>(env: &Source<F>) -> Result<Duration, ConfigError> {
    let cooldown = env.ms("COOLDOWN_MS", 5000)?;
    match u32::try_from(cooldown.as_millis()) {
        Ok(_) => Ok(cooldown),
        Err(_) => Err(invalid(
            "COOLDOWN_MS",
            &cooldown.as_millis().to_string(),
            "must fit in 32 bits (the wire format's cooldown_ms)",
        )),
    }
}

/// `PLACEMENTS_PER_ADDRESS`: two per cooldown unless set, so one address
/// is one player's worth (plus one for a second person behind it) until
/// its sessions solve a challenge; without a cooldown (a load test) none.
fn placements_per_address<F: Fn(&str) -> Option<String>>(
    env: &Source<F>,
) -> Result<u32, ConfigError> {
    let default = if cooldown(env)?.is_zero() { 0 } else { 2 };
    env.parse("PLACEMENTS_PER_ADDRESS", default)
}

/// `ALLOWED_ORIGINS`, normalized; empty means "the host serving the page".
fn allowed_origins<F: Fn(&str) -> Option<String>>(env: &Source<F>) -> Vec<String> {
    env.get("ALLOWED_ORIGINS")
        .map(|list| {
            list.split(',')
                .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|origin| !origin.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Where cargo-leptos put the site, and how to link it.
fn leptos_options<F: Fn(&str) -> Option<String>>(
    env: &Source<F>,
    listen: SocketAddr,
) -> Result<LeptosOptions, ConfigError> {
    let leptos_env = match env.get("LEPTOS_ENV").as_deref() {
        Some("PROD") | Some("prod") | Some("production") => Env::PROD,
        _ => Env::DEV,
    };
    let text = |name: &str, default: &str| -> Arc<str> {
        Arc::from(env.get(name).unwrap_or_else(|| default.into()))
    };
    Ok(LeptosOptions::builder()
        .output_name(text("LEPTOS_OUTPUT_NAME", "canvas"))
        .site_root(text("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(text("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(listen)
        .reload_port(env.parse("LEPTOS_RELOAD_PORT", 3001)?)
        .env(leptos_env)
        .hash_files(env.parse("LEPTOS_HASH_FILES", hash_file_beside_binary())?)
        .build())
}

/// The Redis to share the canvas through: `REDIS_SENTINELS`, else
/// `REDIS_URL`, else `REDIS_HOST` (+ `REDIS_PORT`); none: the embedded
/// store. Addresses are checked here, so a malformed one stops start-up
/// with the variable's name instead of leaving an instance that never gets
/// ready.
fn redis<F: Fn(&str) -> Option<String>>(
    env: &Source<F>,
    history_len: usize,
) -> Result<Option<RedisConfig>, ConfigError> {
    let target = match (
        env.get("REDIS_SENTINELS"),
        env.get("REDIS_URL"),
        env.get("REDIS_HOST"),
    ) {
        (Some(list), _, _) => RedisTarget::Sentinel {
            sentinels: sentinels(&list)?,
            master_name: env
                .get("REDIS_MASTER_NAME")
                .unwrap_or_else(|| "canvas".into()),
        },
        (None, Some(url), _) => RedisTarget::Direct(redis_url("REDIS_URL", url)?),
        (None, None, Some(host)) => {
            let port = env.parse::<u16>("REDIS_PORT", 6379)?;
            RedisTarget::Direct(redis_url("REDIS_HOST", format!("redis://{host}:{port}"))?)
        }
        (None, None, None) => return Ok(None),
    };
    let command_timeout = env.ms("REDIS_TIMEOUT_MS", 1000)?;
    // Sentinels watch a master with replicas: a replicated deployment.
    let replicated = matches!(target, RedisTarget::Sentinel { .. });
    let durability = Durability::read(env, replicated, command_timeout)?;
    let tls = redis_tls(env, &target)?;
    Ok(Some(RedisConfig {
        target,
        username: env.get("REDIS_USERNAME"),
        password: env.get("REDIS_PASSWORD").map(Secret),
        key_prefix: env
            .get("REDIS_KEY_PREFIX")
            .unwrap_or_else(|| "canvas".into()),
        history_len,
        command_timeout,
        durability,
        tls,
    }))
}

/// `REDIS_TLS` (implied by a `rediss://` URL) and `REDIS_TLS_CA_FILE`,
/// read here so that a missing or empty CA file stops start-up naming the
/// variable.
fn redis_tls<F: Fn(&str) -> Option<String>>(
    env: &Source<F>,
    target: &RedisTarget,
) -> Result<Option<RedisTls>, ConfigError> {
    let url_says_tls =
        matches!(target, RedisTarget::Direct(url) if url.expose().starts_with("rediss://"));
    if !(env.parse("REDIS_TLS", false)? || url_says_tls) {
        return Ok(None);
    }
    let ca_pem = match env.get("REDIS_TLS_CA_FILE") {
        None => None,
        Some(path) => match std::fs::read(path.trim()) {
            Ok(pem) if pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") => Some(pem),
            Ok(_) => {
                return Err(invalid(
                    "REDIS_TLS_CA_FILE",
                    &path,
                    "holds no PEM certificate",
                ))
            }
            Err(error) => return Err(invalid("REDIS_TLS_CA_FILE", &path, &error.to_string())),
        },
    };
    Ok(Some(RedisTls { ca_pem }))
}

/// A Redis URL the client accepts. The value is not repeated in the error:
/// it may hold a password.
fn redis_url(name: &'static str, url: String) -> Result<Secret, ConfigError> {
    match redis::IntoConnectionInfo::into_connection_info(url.as_str()) {
        Ok(_) => Ok(Secret(url)),
        Err(error) => Err(invalid(name, "[redacted]", &error.to_string())),
    }
}

/// `host:port,host:port,…`, at least one.
fn sentinels(list: &str) -> Result<Vec<String>, ConfigError> {
    let sentinels: Vec<String> = list
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let well_formed = |s: &String| {
        s.rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
    };
    if sentinels.is_empty() || !sentinels.iter().all(well_formed) {
        return Err(invalid(
            "REDIS_SENTINELS",
            list,
            "must be host:port of each Sentinel, separated by commas",
        ));
    }
    Ok(sentinels)
}

fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

/// `SESSION_SECRET`, long enough to derive a key from.
fn session_secret<F: Fn(&str) -> Option<String>>(
    env: &Source<F>,
) -> Result<Option<Secret>, ConfigError> {
    match env.get("SESSION_SECRET") {
        Some(secret) if secret.len() < MIN_SECRET_LEN => Err(invalid(
            "SESSION_SECRET",
            "[redacted]",
            &format!("must be at least {MIN_SECRET_LEN} bytes"),
        )),
        secret => Ok(secret.map(Secret)),
    }
}

/// `ADMIN_TOKEN`, long enough not to be guessed.
fn admin_token<F: Fn(&str) -> Option<String>>(
    env: &Source<F>,
) -> Result<Option<Secret>, ConfigError> {
    match env.get("ADMIN_TOKEN") {
        Some(token) if token.len() < MIN_SECRET_LEN => Err(invalid(
            "ADMIN_TOKEN",
            "[redacted]",
            &format!("must be at least {MIN_SECRET_LEN} bytes"),
        )),
        token => Ok(token.map(Secret)),
    }
}

/// An OpenID provider players may sign in with.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    /// Its id in `OIDC_PROVIDERS` and in the sign-in routes' paths.
    pub id: String,
    /// What the sign-in button says (`OIDC_<ID>_NAME`; the id if unset).
    pub name: String,
    /// Its issuer (`OIDC_<ID>_ISSUER`): where its discovery document is,
    /// and what its ID tokens must say they come from.
    pub issuer: String,
    pub client_id: String,
    /// Unset for a public client (PKCE alone).
    pub client_secret: Option<Secret>,
}

/// `OIDC_PROVIDERS=<id>,<id>` with, for each, `OIDC_<ID>_ISSUER`,
/// `OIDC_<ID>_CLIENT_ID` and optionally `OIDC_<ID>_CLIENT_SECRET` and
/// `OIDC_<ID>_NAME`.
fn oidc_providers<F: Fn(&str) -> Option<String>>(
    env: &Source<F>,
) -> Result<Vec<OidcProvider>, ConfigError> {
    let Some(list) = env.get("OIDC_PROVIDERS") else {
        return Ok(Vec::new());
    };
    let mut providers: Vec<OidcProvider> = Vec::new();
    for id in list.split(',').map(str::trim) {
        let valid = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'));
        if !valid || providers.iter().any(|p| p.id == id) {
            return Err(invalid(
                "OIDC_PROVIDERS",
                &list,
                &format!("{id:?}: ids are distinct, 1 to 32 of a-z, 0-9 and -"),
            ));
        }
        let var = |field: &str| format!("OIDC_{}_{field}", id.to_uppercase().replace('-', "_"));
        let required = |field: &str| {
            env.get(&var(field)).ok_or_else(|| {
                invalid(
                    "OIDC_PROVIDERS",
                    &list,
                    &format!("{} is not set", var(field)),
                )
            })
        };
        let issuer = required("ISSUER")?;
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return Err(invalid(
                "OIDC_PROVIDERS",
                &list,
                &format!("{} must be an http(s) URL", var("ISSUER")),
            ));
        }
        providers.push(OidcProvider {
            id: id.to_owned(),
            name: env.get(&var("NAME")).unwrap_or_else(|| id.to_owned()),
            issuer: issuer.trim().to_owned(),
            client_id: required("CLIENT_ID")?,
            client_secret: env.get(&var("CLIENT_SECRET")).map(Secret),
        });
    }
    if env.get("PUBLIC_URL").is_none() {
        return Err(invalid(
            "OIDC_PROVIDERS",
            &list,
            "PUBLIC_URL must be set: the providers send players back to it",
        ));
    }
    Ok(providers)
}

fn public_url<F: Fn(&str) -> Option<String>>(
    env: &Source<F>,
) -> Result<Option<String>, ConfigError> {
    let Some(url) = env.get("PUBLIC_URL") else {
        return Ok(None);
    };
    let trimmed = url.trim().trim_end_matches('/');
    let scheme_ok = trimmed.starts_with("https://") || trimmed.starts_with("http://");
    let host = trimmed.split_once("://").map_or("", |(_, rest)| rest);
    if !scheme_ok || host.is_empty() || host.contains('/') {
        return Err(invalid(
            "PUBLIC_URL",
            &url,
            "must be scheme://host[:port], without a path",
        ));
    }
    Ok(Some(trimmed.to_owned()))
}

/// What a moderator may do; each role may do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read: the status, who placed a pixel, the audit log, the reports.
    Viewer,
    /// And act on players: ban, unban, roll back, resolve reports.
    Moderator,
    /// And act on the canvas: freeze, fill.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Moderator => "moderator",
            Self::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "viewer" => Ok(Self::Viewer),
            "moderator" => Ok(Self::Moderator),
            "admin" => Ok(Self::Admin),
            _ => Err("a role is viewer, moderator or admin"),
        }
    }
}

/// One moderator's credential: the audit log names them by `name`.
#[derive(Debug, Clone)]
pub struct ModeratorCredential {
    pub name: String,
    pub role: Role,
    pub token: Secret,
}

/// `MODERATORS`: `name:role:token` entries separated by commas, e.g.
/// `alice:admin:<32+ characters>,bob:moderator:<32+ characters>`. Names
/// follow the display names' rules; tokens are at least
/// [`MIN_SECRET_LEN`] bytes and unique.
fn moderators<F: Fn(&str) -> Option<String>>(
    env: &Source<F>,
) -> Result<Vec<ModeratorCredential>, ConfigError> {
    let Some(list) = env.get("MODERATORS") else {
        return Ok(Vec::new());
    };
    let refuse = |reason: String| invalid("MODERATORS", "[redacted]", &reason);
    let mut credentials: Vec<ModeratorCredential> = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.splitn(3, ':');
        let (Some(name), Some(role), Some(token)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(refuse("each entry is name:role:token".into()));
        };
        let name = app::name::DisplayName::parse(name)
            .map_err(|error| refuse(format!("a moderator's name: {error}")))?;
        let role: Role = role.parse().map_err(|e: &str| refuse(e.into()))?;
        if token.len() < MIN_SECRET_LEN {
            return Err(refuse(format!(
                "{}'s token must be at least {MIN_SECRET_LEN} bytes",
                name.as_str()
            )));
        }
        if credentials.iter().any(|c| c.token.expose() == token) {
            return Err(refuse("two moderators share a token".into()));
        }
        credentials.push(ModeratorCredential {
            name: name.as_str().to_owned(),
            role,
            token: Secret(token.to_owned()),
        });
    }
    Ok(credentials)
}

impl Config {
    /// Whether the moderators' API and page exist at all.
    pub fn moderation_enabled(&self) -> bool {
        self.admin_token.is_some() || !self.moderators.is_empty()
    }
}

/// Whether cargo-leptos left `hash.txt` (the hashed names of the bundle's
/// files) beside this binary: then the page must link the hashed names.
fn hash_file_beside_binary() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("hash.txt")))
        .is_some_and(|path| path.exists())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_source(Source(move |name: &str| vars.get(name).cloned()))
    }

    /// Every variable `Config` reads: asked with nothing set, then with
    /// each way of reaching Redis and with a metrics port (some are read
    /// only then).
    fn variables_read() -> std::collections::BTreeSet<String> {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let environments: [&[(&str, &str)]; 4] = [
            &[],
            &[("REDIS_URL", "redis://127.0.0.1:6379")],
            &[("REDIS_HOST", "127.0.0.1"), ("METRICS_PORT", "9100")],
            &[
                ("REDIS_SENTINELS", "127.0.0.1:26379"),
                ("REDIS_TLS", "true"),
            ],
        ];
        for vars in environments {
            let _ = Config::from_source(Source(|name: &str| {
                asked.borrow_mut().insert(name.to_owned());
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }));
        }
        asked.into_inner()
    }

    /// The variables named in the first column of the README's
    /// configuration table.
    fn readme_variables() -> std::collections::BTreeSet<String> {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("\n## Configuration\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("the README has a configuration section");
        section
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .flat_map(|row| {
                let cell = row.split(" | ").next().unwrap_or_default();
                cell.split('`')
                    .filter(|name| is_variable(name))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The variables `.env.development` sets (`NAME=`) or shows commented
    /// out (`# NAME=`); not those of its closing note on compose's secrets,
    /// which are indented further.
    fn env_file_variables() -> std::collections::BTreeSet<String> {
        include_str!("../../.env.development")
            .lines()
            .map(|line| line.strip_prefix("# ").unwrap_or(line))
            .filter_map(|line| line.split_once('=').map(|(name, _)| name))
            .filter(|name| is_variable(name))
            .map(str::to_owned)
            .collect()
    }

    fn is_variable(name: &str) -> bool {
        name.len() > 2
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    }

    /// Read outside `Config`, by `main` before it: the log filter and
    /// format.
    const READ_ELSEWHERE: [&str; 4] = [
        "RUST_LOG",
        "LOG_FORMAT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_SERVICE_NAME",
    ];

    #[test]
    fn the_readme_and_env_development_list_every_variable_read_and_no_other() {
        let read = variables_read();
        assert!(read.len() > 40, "only {} variables seen", read.len());
        let documented = |listed: std::collections::BTreeSet<String>, place: &str| {
            let missing: Vec<_> = read.difference(&listed).collect();
            assert!(missing.is_empty(), "{place} does not list {missing:?}");
            let unknown: Vec<_> = listed
                .iter()
                .filter(|name| !read.contains(*name) && !READ_ELSEWHERE.contains(&name.as_str()))
                .collect();
            assert!(
                unknown.is_empty(),
                "{place} lists {unknown:?}, which nothing reads"
            );
        };
        documented(readme_variables(), "the README's configuration table");
        documented(env_file_variables(), ".env.development");
    }

    #[test]
    fn defaults_work_on_a_laptop() {
        let config = config(&[]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.canvas.area(), 1_000_000);
        assert_eq!(config.cooldown, Duration::from_secs(5));
    }

    #[test]
    fn oidc_providers_each_with_their_own_variables_and_a_public_url() {
        assert!(config(&[]).unwrap().oidc_providers.is_empty());
        let config = config(&[
            ("OIDC_PROVIDERS", "gitlab, my-id"),
            ("OIDC_GITLAB_ISSUER", "https://gitlab.com"),
            ("OIDC_GITLAB_CLIENT_ID", "abc"),
            ("OIDC_GITLAB_CLIENT_SECRET", "s3cret"),
            ("OIDC_MY_ID_ISSUER", "https://id.example/realms/x"),
            ("OIDC_MY_ID_CLIENT_ID", "canvas"),
            ("OIDC_MY_ID_NAME", "My ID"),
            ("PUBLIC_URL", "https://canvas.example/"),
        ])
        .unwrap();
        let [gitlab, mine] = &config.oidc_providers[..] else {
            panic!("two providers: {:?}", config.oidc_providers)
        };
        assert_eq!(
            (gitlab.id.as_str(), gitlab.name.as_str()),
            ("gitlab", "gitlab")
        );
        assert_eq!(gitlab.client_secret.as_ref().unwrap().expose(), "s3cret");
        assert_eq!(format!("{gitlab:?}").matches("s3cret").count(), 0);
        assert_eq!(
            (mine.name.as_str(), mine.client_secret.is_none()),
            ("My ID", true)
        );
        assert_eq!(config.public_url.as_deref(), Some("https://canvas.example"));

        let refused = |vars: &[(&str, &str)]| super::tests::config(vars).is_err();
        let one = [
            ("OIDC_PROVIDERS", "x"),
            ("OIDC_X_ISSUER", "https://id.example"),
            ("OIDC_X_CLIENT_ID", "c"),
            ("PUBLIC_URL", "https://canvas.example"),
        ];
        assert!(!refused(&one));
        assert!(refused(&one[..3]), "no PUBLIC_URL");
        assert!(refused(&[one[0], one[1], one[3]]), "no client id");
        assert!(
            refused(&[("OIDC_PROVIDERS", "X"), one[1], one[2], one[3]]),
            "a bad id"
        );
        assert!(refused(&[
            one[0],
            ("OIDC_X_ISSUER", "id.example"),
            one[2],
            one[3]
        ]));
        assert!(refused(&[
            one[0],
            one[1],
            one[2],
            ("PUBLIC_URL", "https://c.example/path")
        ]));
    }

    #[test]
    fn app_port_wins_over_the_leptos_site_addr() {
        let config = config(&[("LEPTOS_SITE_ADDR", "0.0.0.0:3000"), ("APP_PORT", "8080")]).unwrap();
        assert_eq!(config.listen, "0.0.0.0:8080".parse().unwrap());
    }

    #[test]
    fn redis_from_the_seed_names_and_secrets_stay_hidden() {
        assert!(config(&[]).unwrap().redis.is_none());
        let config = config(&[("REDIS_HOST", "redis"), ("REDIS_PASSWORD", "hunter2")]).unwrap();
        let redis = config.redis.as_ref().unwrap();
        match &redis.target {
            RedisTarget::Direct(url) => assert_eq!(url.expose(), "redis://redis:6379"),
            other => panic!("{other:?}"),
        }
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn sentinels_win_over_a_fixed_address() {
        let config = config(&[
            ("REDIS_URL", "redis://a:1"),
            ("REDIS_SENTINELS", "s1:26379, s2:26379"),
        ])
        .unwrap();
        match config.redis.unwrap().target {
            RedisTarget::Sentinel {
                sentinels,
                master_name,
            } => {
                assert_eq!(sentinels, ["s1:26379", "s2:26379"]);
                assert_eq!(master_name, "canvas");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_short_session_secret_is_refused_without_being_printed() {
        let error = config(&[("SESSION_SECRET", "hunter2")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("SESSION_SECRET") && !error.contains("hunter2"),
            "{error}"
        );
        let long = "x".repeat(MIN_SECRET_LEN);
        assert!(config(&[("SESSION_SECRET", &long)])
            .unwrap()
            .session_secret
            .is_some());
    }

    #[test]
    fn malformed_redis_addresses_stop_start_up_naming_the_variable() {
        let error = config(&[("REDIS_URL", "http://user:hunter2@redis")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("REDIS_URL") && !error.contains("hunter2"),
            "{error}"
        );
        for list in ["s1", "s1:port", ":26379", " , "] {
            let error = config(&[("REDIS_SENTINELS", list)])
                .unwrap_err()
                .to_string();
            assert!(error.contains("REDIS_SENTINELS"), "{list}: {error}");
        }
        let error = config(&[("REDIS_HOST", "a b")]).unwrap_err().to_string();
        assert!(error.contains("REDIS_HOST"), "{error}");
        assert!(config(&[("REDIS_URL", "redis://redis:6379/2")]).is_ok());
    }

    #[test]
    fn tls_from_the_url_or_the_flag_and_a_bad_ca_file_names_the_variable() {
        let tls = |vars: &[(&str, &str)]| config(vars).unwrap().redis.unwrap().tls;
        assert!(tls(&[("REDIS_URL", "redis://a:1")]).is_none());
        assert!(tls(&[("REDIS_URL", "rediss://a:1")]).is_some());
        assert!(tls(&[("REDIS_SENTINELS", "s1:26379"), ("REDIS_TLS", "true")]).is_some());
        let error = config(&[
            ("REDIS_HOST", "a"),
            ("REDIS_TLS", "true"),
            ("REDIS_TLS_CA_FILE", "/nonexistent/ca.crt"),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("REDIS_TLS_CA_FILE"), "{error}");
        let error = config(&[("REDIS_HOST", "a"), ("REDIS_TLS", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("REDIS_TLS"), "{error}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = config(&[("CANVAS_WIDTH", "wide")]).unwrap_err().to_string();
        assert!(error.contains("CANVAS_WIDTH"), "{error}");
        assert!(config(&[("CANVAS_HEIGHT", "0")]).is_err());
        assert!(config(&[("COOLDOWN_MS", "99999999999")]).is_err());
    }

    #[test]
    fn more_canvases_are_named_sized_and_cooled_down() {
        let loaded = config(&[
            ("COOLDOWN_MS", "7000"),
            ("CANVASES", "moon:300x200:0:16, sun-2:10x20"),
        ])
        .unwrap();
        let sizes: Vec<_> = loaded
            .canvases
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.size.width,
                    c.size.height,
                    c.cooldown.as_millis(),
                    c.colors,
                )
            })
            .collect();
        assert_eq!(
            sizes,
            [("moon", 300, 200, 0, 16), ("sun-2", 10, 20, 7000, 32)]
        );
        let moon = loaded.for_canvas(&loaded.canvases[0]);
        assert_eq!(moon.canvas_name.as_deref(), Some("moon"));
        assert_eq!(moon.canvas.width, 300);
        for bad in [
            "Moon:1x1",
            "moon:0x5",
            "moon:5",
            "moon:1x1,moon:2x2",
            "moon:1x1:x",
            "a/b:1x1",
            "moon:1x1:0:33",
            "moon:1x1:0:1",
        ] {
            let error = config(&[("CANVASES", bad)]).unwrap_err().to_string();
            assert!(error.contains("CANVASES"), "{bad}: {error}");
        }
    }
}
