//! The faults, injected into the local cluster (`scripts/cluster`) by the
//! means an operator's bad day would use: signals to its processes, and
//! `CLIENT KILL` on the Redis master. Redis is reached as the cluster runs
//! it, over TLS with its users: the CA and the passwords are in the
//! cluster's run directory (`tls/ca.crt`, `redis.env`).

use rand::{rngs::SmallRng, Rng};
use redis::{aio::MultiplexedConnection, Client, TlsCertificates};
use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

/// The Sentinels' name for the set.
const MASTER_NAME: &str = "canvas";
/// The longest a failover may take before the run gives up on it.
const FAILOVER_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// `kill -9` an app instance, then start it again.
    KillApp,
    /// `CLIENT KILL TYPE pubsub` on the master: every feed drops.
    KillSubscriptions,
    /// `SIGSTOP` the master until the Sentinels replace it, then `SIGCONT`.
    HangMaster,
    /// `kill -9` the master; once the Sentinels promoted the replica, start
    /// it again (it rejoins as the new master's replica).
    KillMaster,
    /// `kill -9` a replica and start it again.
    RestartReplica,
    /// `kill -9` the master and leave it dead: the two other data nodes
    /// carry on alone (not among [`Fault::ALL`]: one run, `--lose-master`).
    LoseMaster,
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::KillApp,
        Fault::KillSubscriptions,
        Fault::HangMaster,
        Fault::KillMaster,
        Fault::RestartReplica,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::KillApp => "kill -9 app",
            Fault::KillSubscriptions => "CLIENT KILL TYPE pubsub",
            Fault::HangMaster => "SIGSTOP master",
            Fault::KillMaster => "kill -9 master",
            Fault::RestartReplica => "restart replica",
            Fault::LoseMaster => "kill -9 master, not restarted",
        }
    }
}

/// The local cluster's processes, by the names `scripts/cluster` gives them.
pub struct Cluster {
    pub script: PathBuf,
    pub dir: PathBuf,
    pub base: u16,
}

impl Cluster {
    pub fn app_urls(&self) -> Vec<String> {
        (11..=13)
            .map(|offset| format!("http://127.0.0.1:{}", self.base + offset))
            .collect()
    }

    /// The data nodes, by name and port offset (`scripts/cluster`).
    const DATA_NODES: [(&'static str, u16); 3] = [
        ("redis-master", 21),
        ("redis-replica", 22),
        ("redis-replica2", 23),
    ];

    fn data_node(&self, port: u16) -> &'static str {
        Self::DATA_NODES
            .iter()
            .find(|(_, offset)| self.base + offset == port)
            .map_or("redis-master", |(name, _)| name)
    }

    /// One of the data nodes that are not the master at `port`.
    fn a_replica(&self, port: u16, rng: &mut SmallRng) -> &'static str {
        let others: Vec<&'static str> = Self::DATA_NODES
            .iter()
            .filter(|(_, offset)| self.base + offset != port)
            .map(|(name, _)| *name)
            .collect();
        others[rng.random_range(0..others.len())]
    }

    /// A password the cluster made (`redis.env` in its run directory).
    fn password(&self, name: &str) -> Option<String> {
        let env = std::fs::read_to_string(self.dir.join("redis.env")).ok()?;
        env.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    }

    /// A connection to the Redis process on `port`: over TLS checked
    /// against the cluster's CA, as `user` (a Sentinel: as no one).
    async fn open(&self, port: u16, user: Option<(&str, &str)>) -> Option<MultiplexedConnection> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let credentials = user.map_or(String::new(), |(name, password)| {
            format!("{name}:{password}@")
        });
        let certificates = TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(self.dir.join("tls/ca.crt")).ok()?),
        };
        let client = Client::build_with_tls(
            format!("rediss://{credentials}127.0.0.1:{port}"),
            certificates,
        )
        .ok()?;
        // Deadlines on connecting and on every answer: a stopped master
        // accepts connections (its kernel does) and answers nothing.
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .ok()
    }

    /// The master's port, as the first Sentinel that answers names it.
    pub async fn master(&self) -> Option<u16> {
        for offset in 31..=33 {
            let Some(mut sentinel) = self.open(self.base + offset, None).await else {
                continue;
            };
            let answer: redis::RedisResult<Vec<String>> = redis::cmd("SENTINEL")
                .arg(&["GET-MASTER-ADDR-BY-NAME", MASTER_NAME])
                .query_async(&mut sentinel)
                .await;
            if let Some(port) = answer.ok().and_then(|a| a.get(1)?.parse().ok()) {
                return Some(port);
            }
        }
        None
    }

    /// A connection to the data node on `port` as the app's user, which
    /// reads and writes the canvas's keys.
    pub async fn connect(&self, port: u16) -> Option<MultiplexedConnection> {
        let password = self.password("REDIS_PASSWORD")?;
        self.open(port, Some(("canvas", &password))).await
    }

    /// As the Sentinels' user, which may `CLIENT KILL`.
    async fn connect_as_sentinel(&self, port: u16) -> Option<MultiplexedConnection> {
        let password = self.password("REDIS_SENTINEL_PASSWORD")?;
        self.open(port, Some(("sentinel", &password))).await
    }

    /// Whether the set can lose a node now: the named master answers and
    /// a write on it reaches a replica.
    pub async fn redundant(&self) -> bool {
        let Some(port) = self.master().await else {
            return false;
        };
        let Some(mut master) = self.connect(port).await else {
            return false;
        };
        let replicated: redis::RedisResult<(u64,)> = redis::pipe()
            .cmd("SET")
            .arg("canvas:chaos-probe")
            .arg(1)
            .ignore()
            .cmd("DEL")
            .arg("canvas:chaos-probe")
            .ignore()
            .cmd("WAIT")
            .arg(1)
            .arg(200)
            .query_async(&mut master)
            .await;
        matches!(replicated, Ok((1,)))
    }

    /// Injects `fault` and repairs what a restart policy would; returns
    /// what was done.
    pub async fn inject(&self, fault: Fault, rng: &mut SmallRng) -> Result<String, String> {
        match fault {
            Fault::KillApp => {
                let name = format!("app-{}", rng.random_range(1..=3));
                self.signal(&name, "KILL").await?;
                tokio::time::sleep(Duration::from_millis(rng.random_range(200..2000))).await;
                self.start(&name).await?;
                Ok(name)
            }
            Fault::KillSubscriptions => {
                let port = self.master().await.ok_or("no master named")?;
                let mut master = self
                    .connect_as_sentinel(port)
                    .await
                    .ok_or("the master is unreachable")?;
                let killed: u64 = redis::cmd("CLIENT")
                    .arg(&["KILL", "TYPE", "pubsub"])
                    .query_async(&mut master)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(format!("{killed} subscriptions"))
            }
            Fault::HangMaster => {
                let port = self.master().await.ok_or("no master named")?;
                let name = self.data_node(port);
                self.signal(name, "STOP").await?;
                let replaced = self.wait_for_new_master(port).await;
                self.signal(name, "CONT").await?;
                replaced?;
                Ok(name.to_owned())
            }
            Fault::KillMaster => {
                let port = self.master().await.ok_or("no master named")?;
                let name = self.data_node(port);
                self.signal(name, "KILL").await?;
                self.wait_for_new_master(port).await?;
                self.start(name).await?;
                Ok(name.to_owned())
            }
            Fault::LoseMaster => {
                let port = self.master().await.ok_or("no master named")?;
                let name = self.data_node(port);
                self.signal(name, "KILL").await?;
                Ok(name.to_owned())
            }
            Fault::RestartReplica => {
                let port = self.master().await.ok_or("no master named")?;
                let name = self.a_replica(port, rng);
                self.signal(name, "KILL").await?;
                tokio::time::sleep(Duration::from_millis(rng.random_range(200..1000))).await;
                self.start(name).await?;
                Ok(name.to_owned())
            }
        }
    }

    async fn wait_for_new_master(&self, old: u16) -> Result<(), String> {
        let since = Instant::now();
        while since.elapsed() < FAILOVER_DEADLINE {
            if self.master().await.is_some_and(|port| port != old) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("no failover within {FAILOVER_DEADLINE:?}"))
    }

    async fn signal(&self, name: &str, signal: &str) -> Result<(), String> {
        let pid = std::fs::read_to_string(self.dir.join(name).join("pid"))
            .map_err(|e| format!("{name}: no pid file: {e}"))?;
        let mut command = Command::new("kill");
        command.arg(format!("-{signal}")).arg(pid.trim());
        run(command, &format!("kill -{signal} {name}")).await?;
        if signal == "KILL" {
            gone(pid.trim()).await;
        }
        Ok(())
    }

    async fn start(&self, name: &str) -> Result<(), String> {
        let mut command = Command::new(&self.script);
        command
            .args(["start", name])
            .env("CLUSTER_DIR", &self.dir)
            .env("CLUSTER_PORT_BASE", self.base.to_string());
        run(command, &format!("start {name}")).await
    }
}

/// Waits (at most 10 s) until process `pid` has exited: a process killed
/// while busy can take a moment to, and until then `scripts/cluster start`
/// finds it still running and starts nothing (the restart that a fault's
/// repair relies on would be lost).
async fn gone(pid: &str) {
    let stat = format!("/proc/{pid}/stat");
    for _ in 0..200 {
        match std::fs::read_to_string(&stat) {
            // The state follows the command's closing parenthesis.
            Ok(stat)
                if stat
                    .rsplit_once(") ")
                    .is_some_and(|(_, rest)| !rest.starts_with('Z')) =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => return,
        }
    }
}

/// Runs a command off the runtime's threads.
async fn run(mut command: Command, what: &str) -> Result<(), String> {
    let what = what.to_owned();
    tokio::task::spawn_blocking(move || match command.output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!(
            "{what}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(error) => Err(format!("{what}: {error}")),
    })
    .await
    .map_err(|e| e.to_string())?
}
