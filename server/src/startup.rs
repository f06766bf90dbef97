//! Builds an [`Application`] from a [`Config`]: binds the listener, picks the
//! store and feed, loads the mirror and starts the background tasks. Tests
//! build one on port 0 and read the real port back.

use crate::{
    backend::{self, memory::Deployment, Backend, StoreError},
    bans::RangeBans,
    canvas::{
        archive::Archiver,
        chat::ChatLog,
        chunks::ChunkCache,
        fanout::Fanout,
        heat::Heat,
        mirror::{self, Mirror},
        snapshot::SnapshotCache,
        sync::{Batching, SyncTask},
    },
    config::Config,
    leaderboards,
    limits::{AddressBuckets, ConnectionLimiter},
    metrics::Metrics,
    model::{Chunks, Snapshot},
    presence::Presence,
    routes, serve,
    session::Sessions,
    signin::SignIn,
    state::{
        AppState, CanvasState, FACTION_BURST, FACTION_EVERY, HEAVY_READS, LARGE_RESUME_BURST,
        LARGE_RESUME_EVERY, REPORT_BURST, REPORT_EVERY, WATCH_BURST, WATCH_EVERY,
    },
    usage, webhooks,
};
use std::{
    future::Future,
    net::SocketAddr,
    sync::{atomic::AtomicBool, Arc},
    time::Duration,
};
use thiserror::Error;
use tokio::{
    net::{TcpListener, TcpSocket, TcpStream},
    sync::Semaphore,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// Frames the fan-out holds for the slowest socket; one further behind is
/// caught up from the mirror's recent tiles instead.
const FANOUT_CAPACITY: usize = 1024;

/// Connections the kernel queues before they are accepted: a crowd that
/// reconnects at once (after a restart) must not be refused.
const LISTEN_BACKLOG: u32 = 4096;

/// How long sockets and background tasks get to finish once stopped: a
/// placement in flight takes at most the store's deadline to answer.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The kernel's send buffer per accepted socket (Linux doubles it). Left to
/// autotuning it grows to megabytes, minutes of tiles queued for a client
/// that reads slowly; capped, such a client's writes block within seconds,
/// its frames are coalesced instead, and one that stops reading is dropped
/// by the send timeout. 64 KiB still carries a snapshot to a distant
/// client at hundreds of KB/s.
const SEND_BUFFER: usize = 64 * 1024;

#[derive(Debug, Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot load the canvas: {0}")]
    Store(#[from] StoreError),
}

pub struct Application {
    listener: TcpListener,
    /// `/metrics`'s own listener, with `METRICS_PORT`.
    metrics_listener: Option<TcpListener>,
    /// The default canvas's, served at `/`.
    state: AppState,
    /// The other canvases' (`CANVASES`), each served under `/c/<name>`.
    canvases: Vec<(String, AppState)>,
}

/// What every canvas of the instance shares.
struct Shared {
    sessions: Arc<Sessions>,
    sign_in: Option<Arc<SignIn>>,
    connections: Arc<ConnectionLimiter>,
    range_bans: Arc<RangeBans>,
    metrics: Arc<Metrics>,
    heavy_reads: Arc<Semaphore>,
    large_resumes: Arc<AddressBuckets>,
    reports_limit: Arc<AddressBuckets>,
    watch_limit: Arc<AddressBuckets>,
    faction_limit: Arc<AddressBuckets>,
    handshakes: Option<Arc<AddressBuckets>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// One canvas: its mirror loaded from its store (the feed was subscribed
/// before the snapshot is taken, so nothing placed in between is missed:
/// duplicates are dropped by seq), its caches and fan-out, and its tasks
/// (sync, archive, presence) started.
async fn serve_canvas(config: Config, backend: Backend, shared: &Shared) -> AppState {
    let Backend { store, feed } = backend;
    let snapshot = match store.snapshot().await {
        Ok(snapshot) => snapshot,
        Err(error) => {
            // Serve a blank canvas, not ready, until the store answers:
            // the sync task then loads the real one.
            tracing::warn!(%error, "the store is unreachable; starting with a blank canvas");
            Snapshot {
                epoch: 0,
                seq: 0,
                size: None,
                chunks: Chunks::new(),
            }
        }
    };
    let mirror = Arc::new(Mirror::new(config.canvas, snapshot, config.recent_tiles));
    // Before any socket is accepted, so that the clients of a restarted
    // instance resume from its memory, not all from the store.
    match mirror::warm(&mirror, &*store).await {
        Ok(tiles) => tracing::info!(tiles, "recalled the recent tiles"),
        Err(error) => tracing::warn!(%error, "cannot recall the recent tiles"),
    }
    let snapshots = SnapshotCache::new(
        mirror.clone(),
        shared.metrics.clone(),
        config.snapshot_max_age,
    );
    let state = AppState::new(CanvasState {
        config: Arc::new(config),
        sessions: shared.sessions.clone(),
        sign_in: shared.sign_in.clone(),
        store,
        chunks: Arc::new(ChunkCache::new(mirror.clone())),
        heat: Arc::new(Heat::new(mirror.size())),
        mirror,
        snapshots: Arc::new(snapshots),
        fanout: Fanout::new(FANOUT_CAPACITY),
        chat: Arc::new(ChatLog::new()),
        watched: Arc::default(),
        presence: Arc::new(Presence::default()),
        connections: shared.connections.clone(),
        range_bans: shared.range_bans.clone(),
        metrics: shared.metrics.clone(),
        heavy_reads: shared.heavy_reads.clone(),
        large_resumes: shared.large_resumes.clone(),
        reports_limit: shared.reports_limit.clone(),
        watch_limit: shared.watch_limit.clone(),
        faction_limit: shared.faction_limit.clone(),
        leaderboards: Arc::default(),
        handshakes: shared.handshakes.clone(),
        feed_live: Arc::new(AtomicBool::new(false)),
        shutdown: shared.shutdown.clone(),
        tasks: shared.tasks.clone(),
    });
    let sync = SyncTask {
        store: state.store.clone(),
        feed,
        mirror: state.mirror.clone(),
        heat: state.heat.clone(),
        fanout: state.fanout.clone(),
        metrics: state.metrics.clone(),
        live: state.feed_live.clone(),
        batching: Batching {
            interval: state.config.batch_interval,
            frames_per_sec: state.config.fanout_frames_per_sec,
            view_interval: state.config.view_interval,
        },
        reports_seq: state.config.canvas_name.is_none(),
        chat: state.chat.clone(),
        watched: state.watched.clone(),
    };
    state.tasks.spawn(sync.run(state.shutdown.clone()));
    let archiver = Archiver {
        store: state.store.clone(),
        mirror: state.mirror.clone(),
        interval: state.config.archive_interval,
        keep: state.config.archive_keep,
    };
    state.tasks.spawn(archiver.run(state.shutdown.clone()));
    state.tasks.spawn(
        state
            .chat
            .clone()
            .run(state.store.clone(), state.shutdown.clone()),
    );
    state.tasks.spawn(state.watched.clone().run(
        state.store.clone(),
        state.mirror.clone(),
        state.shutdown.clone(),
    ));
    if let Some(alerts) = state.watched.take_hooks() {
        state.tasks.spawn(webhooks::run(
            alerts,
            state.store.clone(),
            state.config.webhooks,
            state.config.canvas_name.clone(),
            state.shutdown.clone(),
        ));
    }
    state.tasks.spawn(leaderboards::fold(
        state.store.clone(),
        state.shutdown.clone(),
    ));
    state.tasks.spawn(state.presence.clone().run(
        state.store.clone(),
        state.fanout.clone(),
        state.shutdown.clone(),
    ));
    state
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        // Leptos spawns rendering work on a global executor; it is tokio's.
        // (Tests build several apps in one process: only the first call counts.)
        let _ = any_spawner::Executor::init_tokio();
        let listener = listen(config.listen).map_err(|source| StartupError::Bind {
            addr: config.listen,
            source,
        })?;
        let metrics_listener = config
            .metrics_listen
            .map(|addr| listen(addr).map_err(|source| StartupError::Bind { addr, source }))
            .transpose()?;

        let shutdown = CancellationToken::new();
        let metrics = Arc::new(Metrics::new());
        // Sessions, bans and limits are the deployment's: on the embedded
        // store, every canvas's store shares them.
        let deployment = Deployment::default();
        let Backend { store, feed } = backend::open(&config, &deployment, &shutdown, &metrics)?;
        let connections = ConnectionLimiter::new(config.max_connections_per_ip);
        // Sessions, bans and limits are shared by every canvas: kept with
        // the default canvas's store (under the shared Redis keys).
        let sessions = Sessions::new(
            store.clone(),
            config.session_secret.clone(),
            config.redis.is_some(),
            config.max_new_sessions_per_ip,
        );
        let handshakes = (config.ws_handshakes_per_ip > 0).then(|| {
            let rate = config.ws_handshakes_per_ip;
            Arc::new(AddressBuckets::every(
                Duration::from_secs(1) / rate,
                rate * 2,
            ))
        });
        let sign_in = SignIn::new(&config.oidc_providers, config.public_url.as_deref());
        let shared = Shared {
            sessions: Arc::new(sessions),
            sign_in: sign_in.map(Arc::new),
            connections,
            range_bans: Arc::new(RangeBans::default()),
            metrics: metrics.clone(),
            heavy_reads: Arc::new(Semaphore::new(HEAVY_READS)),
            large_resumes: Arc::new(AddressBuckets::every(
                LARGE_RESUME_EVERY,
                LARGE_RESUME_BURST,
            )),
            reports_limit: Arc::new(AddressBuckets::every(REPORT_EVERY, REPORT_BURST)),
            watch_limit: Arc::new(AddressBuckets::every(WATCH_EVERY, WATCH_BURST)),
            faction_limit: Arc::new(AddressBuckets::every(FACTION_EVERY, FACTION_BURST)),
            handshakes,
            shutdown,
            tasks: TaskTracker::new(),
        };
        let mut canvases = Vec::new();
        for named in &config.canvases {
            let config = config.for_canvas(named);
            let backend = backend::open(&config, &deployment, &shared.shutdown, &metrics)?;
            let state = serve_canvas(config, backend, &shared).await;
            canvases.push((named.name.clone(), state));
        }
        let state = serve_canvas(config, Backend { store, feed }, &shared).await;
        state.tasks.spawn(
            state
                .range_bans
                .clone()
                .run(state.store.clone(), state.shutdown.clone()),
        );
        state.tasks.spawn(usage::run(
            state.store.clone(),
            state.metrics.clone(),
            state.shutdown.clone(),
        ));

        Ok(Self {
            listener,
            metrics_listener,
            state,
            canvases,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The state the routes share, for unit tests that drive one part.
    #[cfg(test)]
    pub(crate) fn state(&self) -> &AppState {
        &self.state
    }

    /// Where `/metrics` is served, when it has a listener of its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .map(|l| l.local_addr().expect("a bound listener has an address"))
    }

    /// Serves until `stop` resolves, then has every WebSocket answer the
    /// placements it has in flight and close with 1001, lets in-flight
    /// requests finish, waits (for at most [`SHUTDOWN_GRACE`]) for the
    /// sockets and background tasks, and returns.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send + 'static) {
        let shutdown = self.state.shutdown.clone();
        let tasks = self.state.tasks.clone();
        let config = &self.state.config;
        let limits = serve::Limits {
            header_read: config.header_read_timeout,
            write: config.send_timeout,
            per_address: (config.max_http_connections_per_ip > 0 && !config.trust_forwarded_for)
                .then(|| ConnectionLimiter::new(config.max_http_connections_per_ip)),
        };
        let metrics = self.state.metrics.clone();
        if let Some(listener) = self.metrics_listener {
            let router = routes::metrics_router(self.state.clone());
            let stopped = shutdown.clone().cancelled_owned();
            tasks.spawn(async move {
                let served = axum::serve(listener, router).with_graceful_shutdown(stopped);
                if let Err(error) = served.await {
                    tracing::warn!(%error, "the metrics listener failed");
                }
            });
        }
        let router = routes::router(self.state, self.canvases);
        let stop = async move {
            stop.await;
            shutdown.cancel();
        };
        serve::run(self.listener, router, limits, metrics, tune, stop).await;
        tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = tasks.len(),
                "sockets and tasks still running at the deadline"
            );
        }
    }
}

/// Socket options of every accepted connection.
fn tune(tcp: &TcpStream) {
    // Small frames (a PlaceResult, a Tiles frame of one tile) must not wait
    // for the peer's acknowledgement of the previous write: Nagle's
    // algorithm held them for up to the client's delayed-ACK timer.
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
    if let Err(error) = socket2::SockRef::from(tcp).set_send_buffer_size(SEND_BUFFER) {
        tracing::debug!(%error, "cannot set SO_SNDBUF");
    }
}

/// A listening socket with a backlog for crowds (std's default is 128).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // A restarted instance can listen again at once, even while its old
    // connections linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
