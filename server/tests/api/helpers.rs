//! The test harness: spawn an app, talk to it over HTTP and WebSockets, and
//! keep a client-side copy of the canvas the way docs/protocol.md tells clients to.

use crate::redis_server::RedisServer;
use app::{
    protocol::{ClientMessage, Hello, PlaceStatus, ServerMessage, Tile, Version},
    sync::{Action, CanvasSync},
};
use futures_util::{SinkExt, StreamExt};
use server::{
    config::{Config, Source},
    startup::Application,
};
use std::{collections::HashMap, net::SocketAddr, time::Duration};
use tokio::{net::TcpStream, sync::oneshot};
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, http::HeaderValue, Message},
    MaybeTlsStream, WebSocketStream,
};

/// How long a test waits for any one expected frame.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub api: Api,
    /// `/metrics`'s own address, when the app was given `METRICS_PORT`.
    pub metrics_addr: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    pub stopped: Option<tokio::task::JoinHandle<()>>,
}

/// Spawns an app on a free port: a 64x32 canvas, no cooldown, a 10 ms
/// batch interval, always-fresh snapshots, and no per-address budget or
/// challenge (every test places from one address) unless `vars` says
/// otherwise.
///
/// With `RUST_LOG` set, the apps' logs go to the test's output.
pub async fn spawn_app(vars: &[(&str, &str)]) -> TestApp {
    let unlimited = [("PLACEMENTS_PER_ADDRESS", "0"), ("CHALLENGE", "off")];
    let vars: Vec<_> = unlimited.into_iter().chain(vars.iter().copied()).collect();
    spawn_app_as_shipped(&vars).await
}

/// [`spawn_app`] with the shipped per-address budget and challenge.
pub async fn spawn_app_as_shipped(vars: &[(&str, &str)]) -> TestApp {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
    let mut env: HashMap<String, String> = [
        ("APP_PORT", "0"),
        ("CANVAS_WIDTH", "64"),
        ("CANVAS_HEIGHT", "32"),
        ("COOLDOWN_MS", "0"),
        ("BATCH_INTERVAL_MS", "10"),
        // Snapshots as new as the mirror, so a test reads what it placed.
        ("SNAPSHOT_MAX_AGE_MS", "0"),
        ("PLACE_RATE_PER_SEC", "100000"),
        // Tests open many sockets from one address in a moment.
        ("WS_HANDSHAKES_PER_IP", "0"),
    ]
    .into_iter()
    .chain(vars.iter().copied())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.entry("LEPTOS_SITE_ROOT".into())
        .or_insert_with(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site").into());
    let config = Config::from_source(Source(move |name: &str| env.get(name).cloned()))
        .expect("test configuration is valid");
    let app = Application::build(config).await.expect("the app starts");
    let addr = app.local_addr();
    let metrics_addr = app.metrics_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        api: Api {
            addr,
            http: reqwest::Client::new(),
        },
        metrics_addr,
        stop: Some(stop),
        stopped: Some(handle),
    }
}

/// The HTTP side of an app: cheap to clone into client tasks.
#[derive(Clone)]
pub struct Api {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
}

impl std::ops::Deref for TestApp {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// A GET with one request header set.
    pub async fn get_with(&self, path: &str, header: &str, value: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header(header, value)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn json(&self, path: &str) -> serde_json::Value {
        self.get(path).await.json().await.expect("a JSON body")
    }

    /// The snapshot with its seq.
    pub async fn canvas(&self) -> (Vec<u8>, u64) {
        let (pixels, seq, _) = self.snapshot().await;
        (pixels, seq)
    }

    /// The snapshot with its seq and epoch.
    pub async fn snapshot(&self) -> (Vec<u8>, u64, u64) {
        let response = self.get("/api/canvas").await;
        assert_eq!(response.status(), 200);
        let seq = header_u64(&response, "x-canvas-seq");
        let epoch = header_u64(&response, "x-canvas-epoch");
        (response.bytes().await.unwrap().to_vec(), seq, epoch)
    }

    pub async fn ws(&self) -> WsClient {
        WsClient::connect(self, None).await
    }

    /// Solves a challenge as the page's worker does and redeems it for the
    /// session in `headers` (its cookie, its forwarded address): the
    /// answer's status.
    pub async fn solve_challenge(&self, headers: &[(&'static str, String)]) -> u16 {
        let puzzle = self.get("/api/challenge").await;
        assert_eq!(puzzle.status(), 200);
        let puzzle: server::challenge::Puzzle = puzzle.json().await.unwrap();
        let solution = server::challenge::solve(&puzzle).expect("the puzzle has an answer");
        self.post_solution(&solution, headers).await
    }

    /// Posts an answer to `/api/challenge`: its status.
    pub async fn post_solution(
        &self,
        solution: &server::challenge::Solution,
        headers: &[(&'static str, String)],
    ) -> u16 {
        let mut request = self
            .http
            .post(self.url("/api/challenge"))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(solution).unwrap());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.unwrap().status().as_u16()
    }
}

impl TestApp {
    /// Asks the app to shut down (as SIGTERM does).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Asks `check` again and again (every `every`) until it gives a value, and
/// returns it; fails the test, saying `what` was awaited, after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, every: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < within,
            "{what}: still not after {within:?}"
        );
        tokio::time::sleep(every).await;
    }
}

/// The names of the test canvas's Redis keys (the default prefix).
pub fn keys() -> server::backend::redis::Keys {
    server::backend::redis::Keys::new("canvas")
}

/// The value of an unlabelled metric in `/metrics` text.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("metric {name} in {text}"))
}

pub fn header_u64(response: &reqwest::Response, name: &str) -> u64 {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} header"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub hello: Hello,
    /// The session cookie the handshake handed out, as `name=value`.
    pub new_session: Option<String>,
}

impl WsClient {
    pub async fn connect(app: &Api, origin: Option<&str>) -> Self {
        Self::try_connect(app, origin)
            .await
            .expect("the handshake succeeds")
    }

    pub async fn try_connect(
        app: &Api,
        origin: Option<&str>,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let headers: Vec<_> = origin
            .map(|o| ("origin", o.to_owned()))
            .into_iter()
            .collect();
        Self::open(app, &headers).await
    }

    /// Connects with the session in `cookie` (`name=value`).
    pub async fn with_session(app: &Api, cookie: &str) -> Self {
        Self::open(app, &[("cookie", cookie.to_owned())])
            .await
            .expect("the handshake succeeds")
    }

    pub async fn open(
        app: &Api,
        headers: &[(&'static str, String)],
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        Self::open_path(app, "/ws", headers).await
    }

    /// Connects to the socket at `path` (another canvas's: `/c/<name>/ws`).
    pub async fn open_path(
        app: &Api,
        path: &str,
        headers: &[(&'static str, String)],
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://{}{path}", app.addr).into_client_request()?;
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, HeaderValue::from_str(value).unwrap());
        }
        let (stream, response) = tokio_tungstenite::connect_async(request).await?;
        let new_session = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let mut client = Self {
            new_session,
            stream,
            hello: Hello {
                width: 0,
                height: 0,
                seq: 0,
                epoch: 0,
                cooldown_ms: 0,
            },
        };
        match client.recv().await {
            ServerMessage::Hello(hello) => client.hello = hello,
            other => panic!("expected Hello first, got {other:?}"),
        }
        Ok(client)
    }

    pub async fn send(&mut self, message: ClientMessage) {
        self.send_raw(Message::Binary(message.encode())).await;
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.stream.send(message).await.expect("frame sent");
    }

    pub async fn place(&mut self, x: u16, y: u16, color: u8) {
        self.send(ClientMessage::Place(Tile { x, y, color })).await;
    }

    /// The next raw WebSocket message (binary, close, …).
    pub async fn recv_raw(&mut self) -> Option<Message> {
        loop {
            let next = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a message within the wait");
            match next {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(message)) => return Some(message),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next server frame, decoded.
    pub async fn recv(&mut self) -> ServerMessage {
        match self.recv_raw().await {
            Some(Message::Binary(data)) => ServerMessage::decode(&data).expect("a valid frame"),
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }

    /// Waits for the next `PlaceResult`, passing over other frames.
    pub async fn place_result(&mut self) -> (PlaceStatus, u64, u32) {
        loop {
            if let ServerMessage::PlaceResult {
                status,
                seq,
                retry_after_ms,
            } = self.recv().await
            {
                return (status, seq, retry_after_ms);
            }
        }
    }

    /// Reads frames until a `Tiles` frame carries `seq`: the instance has
    /// applied it.
    pub async fn wait_for_seq(&mut self, seq: u64) {
        loop {
            if let ServerMessage::Tiles { first_seq, tiles } = self.recv().await {
                if (first_seq..first_seq + tiles.len() as u64).contains(&seq) {
                    return;
                }
            }
        }
    }

    /// Waits for the close frame and returns its code.
    pub async fn close_code(&mut self) -> u16 {
        loop {
            match self.recv_raw().await {
                Some(Message::Close(Some(frame))) => return frame.code.into(),
                Some(Message::Close(None)) | None => panic!("closed without a code"),
                Some(_) => continue,
            }
        }
    }
}

/// A client's copy of the canvas, kept by the same state machine as the
/// browser's ([`app::sync`]): the tests check the server against the rules
/// its real clients follow.
pub struct Replica {
    api: Api,
    pub pixels: Vec<u8>,
    width: usize,
    sync: CanvasSync,
}

impl Replica {
    /// Follows `ws` (whose `Hello` was read): loads the snapshot, and
    /// resumes if it is older than the socket's stream.
    pub async fn start(api: &Api, ws: &mut WsClient) -> Self {
        let mut replica = Self {
            api: api.clone(),
            pixels: Vec::new(),
            width: usize::from(ws.hello.width),
            sync: CanvasSync::new(),
        };
        let actions = replica.sync.received(&ServerMessage::Hello(ws.hello));
        replica.perform(actions, ws).await;
        replica
    }

    /// The epoch and seq the copy holds.
    pub fn at(&self) -> Version {
        self.sync.copy().expect("a snapshot was loaded")
    }

    /// Handles one frame from `ws`.
    pub async fn on(&mut self, message: &ServerMessage, ws: &mut WsClient) {
        let actions = self.sync.received(message);
        self.perform(actions, ws).await;
    }

    /// Goes on over a new socket (its `Hello` read): resumes from the copy.
    // Only the system tier (tests/system, which includes this file) calls it.
    #[allow(dead_code)]
    pub async fn reconnected(&mut self, ws: &mut WsClient) {
        self.sync.disconnected();
        let actions = self.sync.received(&ServerMessage::Hello(ws.hello));
        self.perform(actions, ws).await;
    }

    async fn perform(&mut self, actions: Vec<Action>, ws: &mut WsClient) {
        let mut actions = std::collections::VecDeque::from(actions);
        while let Some(action) = actions.pop_front() {
            match action {
                Action::Apply { tiles, .. } => {
                    for tile in tiles {
                        self.pixels[usize::from(tile.y) * self.width + usize::from(tile.x)] =
                            tile.color;
                    }
                }
                Action::Send(message) => ws.send(message).await,
                Action::FetchSnapshot { .. } => {
                    let (pixels, seq, epoch) = self.api.snapshot().await;
                    if let Some(more) = self.sync.loaded(Version { epoch, seq }) {
                        self.pixels = pixels;
                        actions.extend(more);
                    }
                }
            }
        }
    }

    /// Reads frames until this copy has caught up with `seq`.
    pub async fn settle(&mut self, ws: &mut WsClient, seq: u64) {
        while self.sync.copy().is_none_or(|at| at.seq < seq) {
            let message = ws.recv().await;
            self.on(&message, ws).await;
        }
    }
}

/// A user who places `count` random tiles one after another (each waits
/// for its result) and keeps a copy of the canvas meanwhile. Returns the
/// socket, the copy and the tiles that were accepted, with their seqs.
pub async fn place_randomly(
    api: Api,
    seed: u64,
    count: usize,
) -> (WsClient, Replica, Vec<(u64, Tile)>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut ws = api.ws().await;
    let (width, height) = (ws.hello.width, ws.hello.height);
    let mut replica = Replica::start(&api, &mut ws).await;
    let mut accepted = Vec::new();
    for _ in 0..count {
        let tile = Tile {
            x: rng.random_range(0..width),
            y: rng.random_range(0..height),
            color: rng.random_range(0..32),
        };
        ws.send(ClientMessage::Place(tile)).await;
        loop {
            match ws.recv().await {
                ServerMessage::PlaceResult { status, seq, .. } => {
                    if status == PlaceStatus::Accepted {
                        accepted.push((seq, tile));
                    }
                    break;
                }
                other => replica.on(&other, &mut ws).await,
            }
        }
    }
    (ws, replica, accepted)
}

/// Waits until the instance is ready and can place (store and feed fine);
/// returns how long that took.
pub async fn wait_ready(app: &TestApp) -> Duration {
    let start = std::time::Instant::now();
    eventually(
        "the instance to place (ready, store and feed)",
        Duration::from_secs(30),
        Duration::from_millis(20),
        || async {
            let readiness = app.get("/readyz").await;
            let ready = readiness.status() == 200;
            let body: serde_json::Value = readiness.json().await.ok()?;
            (ready && body["placing"] == true).then_some(())
        },
    )
    .await;
    start.elapsed()
}

/// Waits until every instance's `/api/canvas` is at `seq`, and returns them.
pub async fn snapshots_at(apps: &[TestApp], seq: u64) -> Vec<Vec<u8>> {
    let mut snapshots = Vec::new();
    for app in apps {
        let what = format!("an instance's snapshot is at seq {seq}");
        snapshots.push(
            eventually(
                &what,
                Duration::from_secs(20),
                Duration::from_millis(20),
                || async {
                    let (pixels, at) = app.canvas().await;
                    (at == seq).then_some(pixels)
                },
            )
            .await,
        );
    }
    snapshots
}

/// Everything agrees: each client's copy, each instance's snapshot, Redis.
pub async fn assert_converged(
    redis: &RedisServer,
    apps: &[TestApp],
    clients: Vec<(WsClient, Replica)>,
) {
    let seq = redis.newest_seq().await;
    let snapshots = snapshots_at(apps, seq).await;
    // Redis's string stops at the last pixel ever set: the rest is white.
    let mut expected = redis.pixels().await;
    expected.resize(snapshots[0].len(), 0);
    for snapshot in snapshots {
        assert!(
            snapshot == expected,
            "an instance's canvas differs from Redis"
        );
    }
    for (mut ws, mut replica) in clients {
        replica.settle(&mut ws, seq).await;
        assert!(
            replica.pixels == expected,
            "a client's canvas differs from Redis"
        );
    }
}
