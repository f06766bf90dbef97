//! canvas-stampede: what a crowd resuming from far back costs everyone
//! else when it hits a freshly restarted instance.
//!
//! It starts a private `redis-server` and two instances of the server
//! binary it is given, fills the history with placements (a moderator's
//! fill), restarts instance A, and then measures a player placing on
//! instance B twice: undisturbed, and while sockets sharing one cookie
//! reconnect to A in a loop, each sending `Resume` frames from far back
//! (a burst of three, then a reconnect). Figures: the player's
//! place→visible latency in each phase, Redis's CPU in each, and how the
//! resumes were answered. Prints them as JSON; asserts nothing.

use crate::stats::{round3, Latencies};
use app::protocol::{ClientMessage, PlaceStatus, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::{
    collections::HashMap,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Message};

const TOKEN: &str = "a-stampede-moderator-token-0123456789abcdef";

/// What to run.
pub struct Options {
    /// The server binary to measure.
    pub server: PathBuf,
    /// The built site (`LEPTOS_SITE_ROOT`).
    pub site: PathBuf,
    /// Placements put in the history before the restart.
    pub placements: u32,
    /// Sockets of the crowd, all with one cookie.
    pub sockets: usize,
    /// How far back each `Resume` reaches.
    pub back: u64,
    /// Each phase's length.
    pub phase: Duration,
}

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Self {
            server: PathBuf::from("target/release/canvas-server"),
            site: PathBuf::from("target/site"),
            placements: 145_000,
            sockets: 32,
            back: 50_000,
            phase: Duration::from_secs(20),
        };
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--server" => options.server = value()?.into(),
                "--site" => options.site = value()?.into(),
                "--placements" => options.placements = number(&value()?)?,
                "--sockets" => options.sockets = number(&value()?)?,
                "--back" => options.back = number(&value()?)?,
                "--seconds" => options.phase = Duration::from_secs(number(&value()?)?),
                _ => {
                    return Err(format!(
                        "unknown option {flag}; options: --server BIN --site DIR \
                         --placements N --sockets N --back N --seconds N"
                    ))
                }
            }
        }
        Ok(options)
    }
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Children killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_instance(options: &Options, port: u16, redis_port: u16) -> Process {
    let child = Command::new(&options.server)
        .envs([
            ("APP_HOST", "127.0.0.1".to_owned()),
            ("APP_PORT", port.to_string()),
            ("REDIS_URL", format!("redis://127.0.0.1:{redis_port}")),
            ("DURABILITY", "local".into()),
            ("COOLDOWN_MS", "0".into()),
            ("MAX_NEW_SESSIONS_PER_IP", "0".into()),
            ("MAX_CONNECTIONS_PER_IP", "100000".into()),
            ("MAX_HTTP_CONNECTIONS_PER_IP", "0".into()),
            ("PLACE_RATE_PER_SEC", "100000".into()),
            ("HISTORY_LEN", "1000000".into()),
            ("REQUEST_TIMEOUT_MS", "120000".into()),
            ("ADMIN_TOKEN", TOKEN.into()),
            ("LEPTOS_SITE_ROOT", options.site.display().to_string()),
            ("LEPTOS_OUTPUT_NAME", "canvas".into()),
            ("RUST_LOG", "warn".into()),
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("the server starts");
    Process(child)
}

async fn wait_ready(base: &str) {
    for _ in 0..300 {
        if let Ok(response) = reqwest::get(format!("{base}/readyz")).await {
            if response.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} never became ready");
}

/// Redis's CPU seconds so far (user + system).
async fn redis_cpu(redis: &redis::Client) -> f64 {
    let mut connection = redis
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(&mut connection)
        .await
        .expect("INFO");
    info.lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            matches!(name, "used_cpu_sys" | "used_cpu_user")
                .then(|| value.trim().parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket to `base`, with `cookie` if given: the socket, the `Hello`'s
/// seq and epoch, and the session cookie the handshake handed out.
async fn open(base: &str, cookie: Option<&str>) -> Option<(Socket, u64, u64, Option<String>)> {
    let mut request = format!("{}/ws", base.replacen("http://", "ws://", 1))
        .into_client_request()
        .ok()?;
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", HeaderValue::from_str(cookie).ok()?);
    }
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.ok()?;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Binary(frame) = message {
            if let Ok(ServerMessage::Hello(hello)) = ServerMessage::decode(&frame) {
                return Some((socket, hello.seq, hello.epoch, cookie));
            }
        }
    }
    None
}

/// Places 20 tiles a second on `base` until `until`: the latency from each
/// Place to its tile arriving on the same socket, in ms.
async fn player(base: String, until: Instant) -> Latencies {
    let (socket, ..) = open(&base, None).await.expect("the player connects");
    let (mut sink, mut stream) = socket.split();
    let mut latencies = Latencies::default();
    let mut sent: Vec<Instant> = Vec::new();
    let mut placed: HashMap<u64, Instant> = HashMap::new();
    let mut arrived: HashMap<u64, Instant> = HashMap::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(50));
    let mut n = 0u32;
    while Instant::now() < until {
        tokio::select! {
            _ = ticker.tick() => {
                let tile = app::protocol::Tile {
                    x: (n % 1000) as u16,
                    y: 900 + (n / 1000 % 100) as u16,
                    color: (n % 31 + 1) as u8,
                };
                n += 1;
                sent.push(Instant::now());
                let frame = ClientMessage::Place(tile).encode();
                if sink.send(Message::Binary(frame)).await.is_err() {
                    break;
                }
            }
            message = stream.next() => {
                let Some(Ok(Message::Binary(frame))) = message else { continue };
                match ServerMessage::decode(&frame) {
                    Ok(ServerMessage::PlaceResult { status: PlaceStatus::Accepted, seq, .. }) => {
                        let at = sent.remove(0);
                        match arrived.remove(&seq) {
                            Some(seen) => latencies.0.push(seen.duration_since(at).as_secs_f64() * 1000.0),
                            None => { placed.insert(seq, at); }
                        }
                    }
                    Ok(ServerMessage::PlaceResult { .. }) => { sent.remove(0); }
                    Ok(ServerMessage::Tiles { first_seq, tiles }) => {
                        let now = Instant::now();
                        for seq in first_seq..first_seq + tiles.len() as u64 {
                            match placed.remove(&seq) {
                                Some(at) => latencies.0.push(now.duration_since(at).as_secs_f64() * 1000.0),
                                None if tiles.len() < 64 => { arrived.insert(seq, now); }
                                None => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    latencies
}

/// How a crowd's `Resume` frames were answered.
#[derive(Default)]
struct Answers {
    tiles: AtomicU64,
    resyncs: AtomicU64,
    closed: AtomicU64,
    connections: AtomicU64,
}

/// One of the crowd: connects to `base` with `cookie`, sends three
/// `Resume` frames from `back` tiles ago, reads their answers, and
/// reconnects, until `until`.
async fn resumer(base: String, cookie: String, back: u64, until: Instant, answers: Arc<Answers>) {
    while Instant::now() < until {
        let Some((mut socket, seq, epoch, _)) = open(&base, Some(&cookie)).await else {
            answers.closed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        answers.connections.fetch_add(1, Ordering::Relaxed);
        let resume = ClientMessage::Resume {
            epoch,
            last_seq: seq.saturating_sub(back),
        }
        .encode();
        for _ in 0..3 {
            if socket.send(Message::Binary(resume.clone())).await.is_err() {
                break;
            }
        }
        let mut answered = 0;
        while answered < 3 {
            let next = tokio::time::timeout_at(until.into(), socket.next()).await;
            let Ok(Some(Ok(message))) = next else {
                answers.closed.fetch_add(1, Ordering::Relaxed);
                break;
            };
            let Message::Binary(frame) = message else {
                continue;
            };
            match ServerMessage::decode(&frame) {
                Ok(ServerMessage::Tiles { tiles, .. }) if tiles.len() as u64 >= back / 2 => {
                    answers.tiles.fetch_add(1, Ordering::Relaxed);
                    answered += 1;
                }
                Ok(ServerMessage::Resync { .. }) => {
                    answers.resyncs.fetch_add(1, Ordering::Relaxed);
                    answered += 1;
                }
                Ok(ServerMessage::Error { .. }) => {
                    answers.closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                _ => {}
            }
        }
    }
}

/// One phase: the player on `b` (and the crowd on `a` if `crowd`).
async fn phase(
    options: &Options,
    a: &str,
    b: &str,
    redis: &redis::Client,
    cookie: Option<&str>,
) -> Value {
    let cpu_before = redis_cpu(redis).await;
    let started = Instant::now();
    let until = started + options.phase;
    let answers = Arc::new(Answers::default());
    let crowd: Vec<_> = cookie
        .map(|cookie| {
            (0..options.sockets)
                .map(|_| {
                    tokio::spawn(resumer(
                        a.to_owned(),
                        cookie.to_owned(),
                        options.back,
                        until,
                        answers.clone(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut latencies = player(b.to_owned(), until).await;
    for task in crowd {
        let _ = task.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = (redis_cpu(redis).await - cpu_before) / seconds;
    json!({
        "player_place_to_visible_ms": latencies.summary(),
        "redis_cpu_cores": round3(cpu),
        "resumes": {
            "connections": answers.connections.load(Ordering::Relaxed),
            "answered_with_tiles": answers.tiles.load(Ordering::Relaxed),
            "resynced": answers.resyncs.load(Ordering::Relaxed),
            "closed": answers.closed.load(Ordering::Relaxed),
        },
    })
}

/// The whole run: its figures.
pub async fn run(options: Options) -> Value {
    let redis_port = free_port();
    let redis_dir = std::env::temp_dir().join(format!("canvas-stampede-{redis_port}"));
    std::fs::create_dir_all(&redis_dir).expect("a directory for Redis");
    let _redis = Process(
        Command::new("redis-server")
            .args(["--port", &redis_port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&redis_dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts"),
    );
    let redis = redis::Client::open(format!("redis://127.0.0.1:{redis_port}")).expect("a URL");
    let (port_a, port_b) = (free_port(), free_port());
    let (a, b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut instance_a = start_instance(&options, port_a, redis_port);
    let _instance_b = start_instance(&options, port_b, redis_port);
    wait_ready(&a).await;
    wait_ready(&b).await;

    // The history: rows of the canvas filled by a moderator, as ordinary
    // placements.
    let rows = options.placements.div_ceil(1000).min(900);
    let filled = reqwest::Client::new()
        .post(format!("{a}/api/admin/fill"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"x":0,"y":0,"width":1000,"height":{rows},"color":5}}"#
        ))
        .send()
        .await
        .expect("the fill is sent");
    assert!(filled.status().is_success(), "fill: {}", filled.status());

    // A restarted A: its memory of recent tiles is whatever it loads.
    drop(instance_a);
    instance_a = start_instance(&options, port_a, redis_port);
    wait_ready(&a).await;
    let (_, _, _, cookie) = open(&a, None).await.expect("a session on A");
    let cookie = cookie.expect("a cookie");

    let undisturbed = phase(&options, &a, &b, &redis, None).await;
    let stampede = phase(&options, &a, &b, &redis, Some(&cookie)).await;
    drop(instance_a);
    let _ = std::fs::remove_dir_all(&redis_dir);
    json!({
        "server": options.server.display().to_string(),
        "placements": u64::from(rows) * 1000,
        "sockets": options.sockets,
        "back": options.back,
        "seconds_per_phase": options.phase.as_secs(),
        "undisturbed": undisturbed,
        "stampede": stampede,
    })
}
