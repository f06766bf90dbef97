//! The deployment's topology on loopback (`scripts/cluster`): nginx in front
//! of three instances, Redis master + two replicas + three Sentinels. Clients
//! speak through nginx; an instance and then the Redis master are killed
//! under traffic.

use crate::helpers::{eventually, keys, place_randomly, Api, Replica, WsClient};
use app::protocol::{PlaceStatus, ServerMessage};
use std::{
    net::SocketAddr,
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/cluster");

/// A running cluster, stopped (only what it started) when dropped.
struct Cluster {
    dir: PathBuf,
    base: u16,
}

impl Cluster {
    fn up() -> Self {
        let dir = std::env::temp_dir().join(format!("canvas-test-cluster-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // A private run directory, as `mktemp -d` makes: nginx must still
        // serve its cache from it.
        std::fs::create_dir_all(&dir).expect("the run directory");
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("a private run directory");
        // A base port whose neighbours are very likely free too: below the
        // ephemeral range (from 32768), where the other tests' free ports
        // and outgoing connections come from.
        let base = 20_000 + (std::process::id() % 600) as u16 * 20;
        let cluster = Self { dir, base };
        let status = cluster
            .command("up")
            .env("CANVAS_BIN", env!("CARGO_BIN_EXE_canvas-server"))
            .env("CANVAS_WIDTH", "64")
            .env("CANVAS_HEIGHT", "32")
            .env("COOLDOWN_MS", "0")
            .env("PLACE_RATE_PER_SEC", "100000")
            .env("MAX_NEW_SESSIONS_PER_IP", "0")
            .env("RUST_LOG", "warn")
            .status()
            .expect("scripts/cluster runs");
        assert!(
            status.success(),
            "scripts/cluster up failed (logs in {:?})",
            cluster.dir
        );
        cluster
    }

    fn command(&self, action: &str) -> Command {
        let mut command = Command::new(SCRIPT);
        command
            .arg(action)
            .env("CLUSTER_DIR", &self.dir)
            .env("CLUSTER_PORT_BASE", self.base.to_string());
        command
    }

    fn api(&self, port: u16) -> Api {
        Api {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            http: reqwest::Client::new(),
        }
    }

    /// Through nginx.
    fn front(&self) -> Api {
        self.api(self.base)
    }

    fn instance(&self, n: u16) -> Api {
        self.api(self.base + 10 + n)
    }

    fn kill(&self, component: &str) {
        let pid =
            std::fs::read_to_string(self.dir.join(component).join("pid")).expect("a pid file");
        let status = Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The master's port as the first Sentinel names it.
    async fn named_master(&self) -> Option<u16> {
        let mut sentinel = self.redis(31).await;
        let address: Vec<String> = redis::cmd("SENTINEL")
            .arg(&["GET-MASTER-ADDR-BY-NAME", "canvas"])
            .query_async(&mut sentinel)
            .await
            .ok()?;
        address.get(1)?.parse().ok()
    }

    /// A connection to a Redis process of the cluster, as it runs them:
    /// over TLS checked against its CA, as the app's user (which a
    /// Sentinel ignores: its default user may look the master up).
    async fn redis(&self, port_offset: u16) -> redis::aio::MultiplexedConnection {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let env = std::fs::read_to_string(self.dir.join("redis.env")).unwrap();
        let password = env
            .lines()
            .find_map(|line| line.strip_prefix("REDIS_PASSWORD="))
            .expect("the app's password in redis.env");
        let user = if port_offset > 30 {
            String::new()
        } else {
            format!("canvas:{password}@")
        };
        let certificates = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(self.dir.join("tls/ca.crt")).unwrap()),
        };
        let url = format!("rediss://{user}127.0.0.1:{}", self.base + port_offset);
        redis::Client::build_with_tls(url, certificates)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.command("down").status();
        // Keep the logs of a failed test.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A watcher: a socket through nginx and its copy of the canvas.
struct Watcher {
    ws: WsClient,
    copy: Replica,
}

impl Watcher {
    async fn connect(front: &Api) -> Self {
        let mut ws = front.ws().await;
        let copy = Replica::start(front, &mut ws).await;
        Self { ws, copy }
    }

    /// Follows the canvas up to `seq` of `epoch`; when its instance dies,
    /// reconnects through nginx and resumes from the last tile it applied.
    /// Returns when it reconnected, if it did.
    async fn follow(&mut self, front: &Api, epoch: u64, seq: u64) -> Option<Instant> {
        let mut reconnected = None;
        while self.copy.at().epoch != epoch || self.copy.at().seq < seq {
            let next = tokio::time::timeout(Duration::from_secs(8), self.ws.recv_raw()).await;
            let Ok(next) = next else {
                panic!(
                    "stuck at epoch {} seq {}, waiting for epoch {epoch} seq {seq}",
                    self.copy.at().epoch,
                    self.copy.at().seq
                );
            };
            match next {
                Some(tokio_tungstenite::tungstenite::Message::Binary(frame)) => {
                    let message = ServerMessage::decode(&frame).unwrap();
                    self.copy.on(&message, &mut self.ws).await;
                }
                Some(tokio_tungstenite::tungstenite::Message::Close(_)) | None => {
                    self.ws = reconnect(front).await;
                    reconnected = Some(Instant::now());
                    self.copy.reconnected(&mut self.ws).await;
                }
                Some(_) => {}
            }
        }
        reconnected
    }
}

/// Connects through nginx, retrying while it still sends some to the dead.
async fn reconnect(front: &Api) -> WsClient {
    eventually(
        "a reconnection through nginx",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async { WsClient::try_connect(front, None).await.ok() },
    )
    .await
}

/// The epoch and the newest seq in Redis.
async fn version_in(redis: &mut redis::aio::MultiplexedConnection) -> (u64, u64) {
    let (epoch, seq): (Option<u64>, Option<u64>) = redis::cmd("MGET")
        .arg(&[keys().epoch, keys().seq])
        .query_async(redis)
        .await
        .unwrap();
    (epoch.unwrap_or(0), seq.unwrap_or(0))
}

/// The 64x32 canvas's pixels, row by row, from its one chunk.
async fn pixels_in(redis: &mut redis::aio::MultiplexedConnection) -> Vec<u8> {
    let mut chunk: Vec<u8> = redis::cmd("GET")
        .arg(keys().chunk_prefix() + "{0,0}")
        .query_async(redis)
        .await
        .unwrap_or_default();
    chunk.resize(256 * 256, 0);
    chunk
        .chunks(256)
        .take(32)
        .flat_map(|row| &row[..64])
        .copied()
        .collect()
}

#[tokio::test]
async fn the_cluster_survives_losing_an_instance_and_the_redis_master() {
    let cluster = tokio::task::spawn_blocking(Cluster::up).await.unwrap();
    let front = cluster.front();

    // Through nginx: the page, the API, the WebSocket.
    let page = front.get("/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<canvas"));
    assert_eq!(front.json("/api/info").await["width"], 64);
    check_the_front(&cluster).await;

    let mut watchers = Vec::new();
    for _ in 0..9 {
        watchers.push(Watcher::connect(&front).await);
    }
    // least_conn spread them over the three instances.
    for n in 1..=3 {
        let metrics = cluster
            .instance(n)
            .get("/metrics")
            .await
            .text()
            .await
            .unwrap();
        let open = crate::helpers::metric(&metrics, "canvas_websocket_connections");
        assert!(open >= 1.0, "instance {n} got no client");
    }

    // Traffic, straight to instance 1 so the placer itself survives.
    let (placer, _, accepted) = place_randomly(cluster.instance(1), 1, 40).await;
    assert_eq!(accepted.len(), 40);

    // Prometheus scrapes every target, and every dashboard panel's query
    // returns data while there is traffic.
    let load = {
        let api = cluster.instance(3);
        tokio::spawn(async move {
            for seed in 100.. {
                place_randomly(api.clone(), seed, 20).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    check_monitoring(&cluster).await;
    load.abort();

    // An instance dies under traffic.
    cluster.kill("app-2");
    let died = Instant::now();
    place_randomly(cluster.instance(1), 2, 40).await;
    for _ in 0..20 {
        assert_eq!(
            front.get("/api/info").await.status(),
            200,
            "a request reached the dead instance"
        );
    }
    let mut redis = cluster.redis(21).await;
    let (epoch, seq) = version_in(&mut redis).await;
    let mut back_after = None;
    for watcher in &mut watchers {
        if let Some(at) = watcher.follow(&front, epoch, seq).await {
            back_after.get_or_insert(at - died);
        }
    }
    let expected = pixels_in(&mut redis).await;
    for watcher in &watchers {
        assert!(watcher.copy.pixels == expected, "a client lost tiles");
    }
    // A client of the dead instance places again through nginx.
    let mut moved = reconnect(&front).await;
    moved.place(1, 1, 1).await;
    assert_eq!(moved.place_result().await.0, PlaceStatus::Accepted);
    println!(
        "instance killed: its clients were back after {:?}, placing again after {:?}",
        back_after.expect("some clients were on the dead instance"),
        died.elapsed()
    );

    // The Redis master dies under traffic and stays dead: the Sentinels
    // promote a replica, which keeps the third node as its replica, so
    // placements are accepted again without anything being restarted.
    cluster.kill("redis-master");
    let died = Instant::now();
    let placer = tokio::sync::Mutex::new(placer);
    eventually(
        "a placement is accepted after the failover, the old master still dead",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            let mut placer = placer.lock().await;
            placer.place(2, 2, 2).await;
            let (status, _, _) = placer.place_result().await;
            assert!(
                matches!(
                    status,
                    PlaceStatus::Accepted | PlaceStatus::NotAllowed | PlaceStatus::Unknown
                ),
                "{status:?}"
            );
            (status == PlaceStatus::Accepted).then_some(())
        },
    )
    .await;
    println!(
        "master killed, not restarted: first accepted placement after {:?}",
        died.elapsed()
    );
    place_randomly(cluster.instance(3), 3, 20).await;

    let master = cluster
        .named_master()
        .await
        .expect("the Sentinels name a master");
    assert_ne!(master, cluster.base + 21, "a replica was promoted");
    let mut promoted = cluster.redis(master - cluster.base).await;
    let (epoch, seq) = version_in(&mut promoted).await;
    let expected = pixels_in(&mut promoted).await;
    for watcher in &mut watchers {
        watcher.follow(&front, epoch, seq).await;
        assert!(
            watcher.copy.pixels == expected,
            "a client differs from the new master"
        );
    }
    for n in [1, 3] {
        let instance = cluster.instance(n);
        let pixels = eventually(
            "an instance follows the new master",
            Duration::from_secs(20),
            Duration::from_millis(50),
            || async {
                let (pixels, at, at_epoch) = instance.snapshot().await;
                ((at_epoch, at) == (epoch, seq)).then_some(pixels)
            },
        )
        .await;
        assert!(
            pixels == expected,
            "instance {n} differs from the new master"
        );
    }
}

/// Every Prometheus target is up and every query of the Grafana dashboard
/// returns numbers.
/// What nginx adds and keeps from the public: the snapshot micro-cache
/// (one copy per route, whatever the client accepts or appends), the
/// operators' routes refused, HSTS over TLS, the page's own CSP passed on.
async fn check_the_front(cluster: &Cluster) {
    let front = cluster.front();
    for route in ["/api/canvas", "/api/canvas.png"] {
        let first = front.get(route).await;
        assert_eq!(first.status(), 200);
        let cache = |r: &reqwest::Response| r.headers()["x-cache"].to_str().unwrap().to_owned();
        let again = front
            .get_with(
                &format!("{route}?cache-buster=1"),
                "accept-encoding",
                "identity",
            )
            .await;
        assert_eq!(
            cache(&again),
            "HIT",
            "{route}: the second request within a second"
        );
        assert!(
            again.headers().get("content-encoding").is_none(),
            "unzipped for this client"
        );
        assert_eq!(again.bytes().await.unwrap(), first.bytes().await.unwrap());
    }
    for route in ["/metrics", "/readyz"] {
        assert_eq!(
            front.get(route).await.status(),
            403,
            "{route} is not public"
        );
    }
    let page = front.get("/").await;
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self' 'nonce-"), "{policy}");
    assert!(
        page.headers().get("strict-transport-security").is_none(),
        "not over plain HTTP"
    );
    let tls = Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-D", "-"])
        .arg(format!("https://127.0.0.1:{}/", cluster.base + 1))
        .output()
        .expect("curl runs");
    let headers = String::from_utf8_lossy(&tls.stdout).to_ascii_lowercase();
    assert!(
        headers.contains("strict-transport-security: max-age="),
        "{headers}"
    );
    assert!(headers.contains("content-security-policy:"), "{headers}");
    // nginx sets X-Forwarded-Host itself: a client's never reaches the
    // page's absolute links.
    let forged = front
        .get_with("/", "x-forwarded-host", "evil.example")
        .await;
    let forged = forged.text().await.unwrap();
    assert!(forged.contains("og:url"), "the page has its absolute link");
    assert!(
        !forged.contains("evil.example"),
        "a client's X-Forwarded-Host was used"
    );
}

async fn check_monitoring(cluster: &Cluster) {
    let prometheus = cluster.api(cluster.base + 40);
    eventually(
        "Prometheus scrapes all seven targets (three apps, three data nodes, nginx)",
        Duration::from_secs(20),
        Duration::from_millis(250),
        || async {
            let targets = prometheus.json("/api/v1/targets").await;
            let targets = targets["data"]["activeTargets"].as_array()?.clone();
            let up = targets.iter().filter(|t| t["health"] == "up").count();
            (targets.len() == 7 && up == 7).then_some(())
        },
    )
    .await;
    let dashboard: serde_json::Value = serde_json::from_str(include_str!(
        "../../../monitoring/grafana/dashboards/canvas.json"
    ))
    .unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let what = format!("data for {:?}: {expr}", panel["title"]);
            let values = eventually(
                &what,
                Duration::from_secs(20),
                Duration::from_millis(500),
                || async {
                    let url = format!("/api/v1/query?query={}", url_escape(expr));
                    let answer = prometheus.json(&url).await;
                    let values: Vec<String> = answer["data"]["result"]
                        .as_array()?
                        .iter()
                        .filter_map(|sample| Some(sample["value"][1].as_str()?.to_owned()))
                        .filter(|value| value != "NaN")
                        .collect();
                    (!values.is_empty()).then_some(values)
                },
            )
            .await;
            println!(
                "panel {:?}: {expr} = {values:?}",
                panel["title"].as_str().unwrap()
            );
        }
    }
}

/// Percent-encodes a query parameter.
fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
