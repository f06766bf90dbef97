//! A real `redis-server` for one test, on a free loopback port, with the
//! project's own `redis/redis.conf` (and, for the data nodes of a
//! replicated set, `redis/replicated.conf` after it) and a data directory of
//! its own.

use crate::helpers::{eventually, keys};
use app::protocol::Tile;
use std::{
    collections::{BTreeMap, HashMap},
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// Whether it is a data node of a replicated set.
    replicated: bool,
    /// Arguments after the project's own configuration file.
    args: Vec<String>,
}

/// A master, its replica and three Sentinels, configured as the deployment
/// ships them.
pub struct ReplicatedRedis {
    pub master: RedisServer,
    pub replica: RedisServer,
    pub sentinels: Vec<RedisServer>,
}

impl ReplicatedRedis {
    /// Starts the set and waits until the replica is in sync and every
    /// Sentinel knows it (a failover can promote it).
    pub async fn start() -> Self {
        let master = RedisServer::start_with(true, Vec::new()).await;
        let replica = RedisServer::start_replica_of(&master).await;
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            sentinels.push(RedisServer::start_sentinel(&master).await);
        }
        for sentinel in &sentinels {
            let connection = sentinel.connect().await;
            eventually(
                "a Sentinel sees the replica",
                Duration::from_secs(20),
                Duration::from_millis(100),
                || {
                    let mut connection = connection.clone();
                    async move {
                        let replicas: Vec<Vec<String>> = redis::cmd("SENTINEL")
                            .arg(&["REPLICAS", "canvas"])
                            .query_async(&mut connection)
                            .await
                            .ok()?;
                        (!replicas.is_empty()).then_some(())
                    }
                },
            )
            .await;
        }
        Self {
            master,
            replica,
            sentinels,
        }
    }

    /// `REDIS_SENTINELS` for the instances.
    pub fn sentinel_list(&self) -> String {
        self.sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until every Sentinel names `node` as the master, and it says
    /// so.
    pub async fn wait_for_master(&self, node: &RedisServer) {
        let port = node.port.to_string();
        for sentinel in &self.sentinels {
            let connection = sentinel.connect().await;
            eventually(
                "the Sentinels promote the node",
                Duration::from_secs(30),
                Duration::from_millis(100),
                || {
                    let mut connection = connection.clone();
                    let port = port.clone();
                    async move {
                        let address: Vec<String> = redis::cmd("SENTINEL")
                            .arg(&["GET-MASTER-ADDR-BY-NAME", "canvas"])
                            .query_async(&mut connection)
                            .await
                            .ok()?;
                        (address.get(1) == Some(&port)).then_some(())
                    }
                },
            )
            .await;
        }
        eventually(
            "the promoted node is a master",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || async { (node.role().await.as_deref() == Some("master")).then_some(()) },
        )
        .await;
    }
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A fresh, empty directory of this test process's own.
pub fn data_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "canvas-test-redis-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a data directory");
    dir
}

impl RedisServer {
    /// A standalone server.
    pub async fn start() -> Self {
        Self::start_with(false, Vec::new()).await
    }

    /// A replica of `master` (a data node of a replicated set), once it is
    /// in sync.
    pub async fn start_replica_of(master: &RedisServer) -> Self {
        let replica = Self::start_with(
            true,
            vec![
                "--replicaof".into(),
                "127.0.0.1".into(),
                master.port.to_string(),
            ],
        )
        .await;
        replica.wait_until_in_sync().await;
        replica
    }

    /// Waits until this replica is in sync as its master sees it: a write
    /// on the master reaches it. (After a full sync the master streams
    /// writes only from the replica's first acknowledgement on, up to a
    /// second after the link came up.)
    pub async fn wait_until_in_sync(&self) {
        // Long: a node back from SIGSTOP waits for the Sentinels to make it
        // a replica (about 8 s), on a machine busy with other tests.
        eventually(
            "the replica is in sync",
            Duration::from_secs(45),
            Duration::from_millis(20),
            || async {
                let mut connection = self.try_connect().await.ok()?;
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query_async(&mut connection)
                    .await
                    .ok()?;
                if !info.contains("master_link_status:up") {
                    return None;
                }
                let port = info
                    .lines()
                    .find_map(|line| line.strip_prefix("master_port:"))?
                    .trim();
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
                let mut master = client.get_multiplexed_async_connection().await.ok()?;
                // A write that leaves the keyspace as it was.
                let (online,): (u64,) = redis::pipe()
                    .cmd("SET")
                    .arg("test:sync-probe")
                    .arg(1)
                    .ignore()
                    .cmd("DEL")
                    .arg("test:sync-probe")
                    .ignore()
                    .cmd("WAIT")
                    .arg(1)
                    .arg(100)
                    .query_async(&mut master)
                    .await
                    .ok()?;
                (online >= 1).then_some(())
            },
        )
        .await;
    }

    /// `master` or `slave`, if it answers.
    pub async fn role(&self) -> Option<String> {
        let mut connection = self.try_connect().await.ok()?;
        let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut connection).await.ok()?;
        redis::from_redis_value(role.first()?.clone()).ok()
    }

    /// A Sentinel watching `master` under the name `canvas` (quorum 2,
    /// down after 1 s), with its own rewritable configuration file.
    pub async fn start_sentinel(master: &RedisServer) -> Self {
        let dir = data_dir();
        let port = free_port();
        let config = dir.join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor canvas 127.0.0.1 {} 2\n\
                 logfile {}/redis.log\n\
                 sentinel down-after-milliseconds canvas 1000\n\
                 sentinel failover-timeout canvas 10000\n\
                 sentinel parallel-syncs canvas 1\n",
                dir.display(),
                master.port,
                dir.display(),
            ),
        )
        .expect("a Sentinel configuration");
        let child = Command::new("redis-server")
            .arg(&config)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server runs as a Sentinel");
        let sentinel = Self {
            port,
            dir,
            child: Some(child),
            replicated: false,
            args: Vec::new(),
        };
        sentinel.wait_until_up().await;
        sentinel
    }

    async fn start_with(replicated: bool, args: Vec<String>) -> Self {
        let mut server = Self {
            port: free_port(),
            dir: data_dir(),
            child: None,
            replicated,
            args,
        };
        server.launch().await;
        server
    }

    async fn launch(&mut self) {
        // A copy in the data directory: Redis rewrites its configuration file
        // when a Sentinel reconfigures it, and the project's must stay as is.
        let config = self.dir.join("redis.conf");
        let mut text = include_str!("../../../redis/redis.conf").to_owned();
        if self.replicated {
            text.push_str(include_str!("../../../redis/replicated.conf"));
        }
        std::fs::write(&config, text).expect("the project's redis.conf");
        let child = Command::new("redis-server")
            .arg(&config)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", "", "--daemonize", "no"])
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server runs (scripts/setup installs it)");
        self.child = Some(child);
        self.wait_until_up().await;
    }

    async fn wait_until_up(&self) {
        eventually(
            "redis-server answers PING",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || async {
                let mut connection = self.try_connect().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut connection)
                    .await
                    .ok()
            },
        )
        .await;
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn try_connect(&self) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        redis::Client::open(self.url())?
            .get_multiplexed_async_connection()
            .await
    }

    pub async fn connect(&self) -> redis::aio::MultiplexedConnection {
        self.try_connect()
            .await
            .expect("a connection to the test Redis")
    }

    /// Ends every session's cooldown, as if its time had passed.
    pub async fn flush_cooldowns(&self) {
        let mut connection = self.connect().await;
        let cooling: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}cooldown:*", keys().prefix()))
            .query_async(&mut connection)
            .await
            .unwrap();
        for key in cooling {
            let _: () = redis::cmd("DEL")
                .arg(key)
                .query_async(&mut connection)
                .await
                .unwrap();
        }
    }

    /// The newest seq it holds.
    pub async fn newest_seq(&self) -> u64 {
        let mut connection = self.connect().await;
        redis::cmd("GET")
            .arg(keys().seq)
            .query_async::<Option<u64>>(&mut connection)
            .await
            .unwrap()
            .unwrap_or(0)
    }

    /// The pixels it holds of the tests' usual 64x32 canvas (all in chunk
    /// (0, 0)), row by row as a snapshot has them.
    pub async fn pixels(&self) -> Vec<u8> {
        let mut connection = self.connect().await;
        let mut chunk: Vec<u8> = redis::cmd("GET")
            .arg(keys().chunk_prefix() + "{0,0}")
            .query_async(&mut connection)
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

    /// Every placement its history stream holds, by seq (batch entries:
    /// ID `<last seq>-0`, `f` the first seq, `t` the tiles, five bytes each).
    pub async fn history(&self) -> BTreeMap<u64, Tile> {
        let mut connection = self.connect().await;
        let entries: Vec<(String, HashMap<String, Vec<u8>>)> = redis::cmd("XRANGE")
            .arg(keys().history)
            .arg(&["-", "+"])
            .query_async(&mut connection)
            .await
            .unwrap();
        let mut placements = BTreeMap::new();
        for (_, fields) in entries {
            let first: u64 = String::from_utf8_lossy(&fields["f"]).parse().unwrap();
            for (seq, tile) in (first..).zip(fields["t"].chunks(5)) {
                let tile = Tile {
                    x: u16::from_le_bytes([tile[0], tile[1]]),
                    y: u16::from_le_bytes([tile[2], tile[3]]),
                    color: tile[4],
                };
                placements.insert(seq, tile);
            }
        }
        placements
    }

    /// Stops Redis the way an operator does (`SHUTDOWN`: the AOF is flushed).
    pub async fn stop(&mut self) {
        let mut connection = self.connect().await;
        let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query_async(&mut connection).await;
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Kills it at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data directory.
    pub async fn restart(&mut self) {
        self.launch().await;
    }

    /// Starts it again as a replica of `master`, as the deployment's data
    /// nodes do when the Sentinels name another master
    /// (`redis/data-node.sh`).
    pub async fn restart_replica_of(&mut self, master: &RedisServer) {
        self.args = vec![
            "--replicaof".into(),
            "127.0.0.1".into(),
            master.port.to_string(),
        ];
        self.launch().await;
    }

    /// Stops the process without ending it (`SIGSTOP`): a hung server, whose
    /// connections stay open and silent.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Lets a frozen server run again (`SIGCONT`).
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let child = self.child.as_ref().expect("a running server");
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A failed test leaves the server's log behind.
        if std::thread::panicking() {
            eprintln!("redis-server log: {}", self.dir.join("redis.log").display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
