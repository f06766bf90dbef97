//! A real `redis-server` for one test, on a free loopback port, with the
//! project's own `redis/redis.conf` and a data directory of its own.

use crate::helpers::eventually;
use std::{
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
    /// Arguments after the project's own configuration file.
    args: Vec<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn data_dir() -> PathBuf {
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
    pub async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    /// A replica of `master`.
    pub async fn start_replica_of(master: &RedisServer) -> Self {
        Self::start_with(vec![
            "--replicaof".into(),
            "127.0.0.1".into(),
            master.port.to_string(),
        ])
        .await
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
                 sentinel down-after-milliseconds canvas 1000\n\
                 sentinel failover-timeout canvas 10000\n\
                 sentinel parallel-syncs canvas 1\n",
                dir.display(),
                master.port
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
            args: Vec::new(),
        };
        sentinel.wait_until_up().await;
        sentinel
    }

    async fn start_with(args: Vec<String>) -> Self {
        let mut server = Self {
            port: free_port(),
            dir: data_dir(),
            child: None,
            args,
        };
        server.launch().await;
        server
    }

    async fn launch(&mut self) {
        // A copy in the data directory: Redis rewrites its configuration file
        // when a Sentinel reconfigures it, and the project's must stay as is.
        let config = self.dir.join("redis.conf");
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../redis/redis.conf"),
            &config,
        )
        .expect("the project's redis.conf");
        let child = Command::new("redis-server")
            .arg(&config)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", "", "--daemonize", "no", "--logfile", ""])
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
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
