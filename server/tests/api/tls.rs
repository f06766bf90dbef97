//! Redis over TLS with the deployment's users: a data node and a Sentinel
//! configured by the shipped `redis/secure.sh`, certificates from the
//! shipped `scripts/redis-certs`. The app finds the master through the
//! Sentinel and places over TLS as the `canvas` user; that user cannot run
//! `FLUSHALL` or touch another prefix; a plain-TCP client and an app that
//! does not trust the CA are both refused.

use crate::{
    helpers::{eventually, keys, place_randomly, spawn_app},
    redis_server::{data_dir, free_port},
};
use redis::{aio::MultiplexedConnection, Client, TlsCertificates};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const APP_PASSWORD: &str = "app-password";

/// A TLS-only Redis process (data node or Sentinel), killed when dropped.
struct Secured {
    port: u16,
    child: Child,
}

impl Drop for Secured {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `redis/secure.sh` prints for `function PORT [ARGS]`, with the
/// deployment's variables set for `certs`.
fn secure_sh(certs: &Path, function: &str, args: &str) -> String {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(". {ROOT}/redis/secure.sh && {function} {args}"))
        .env("REDIS_TLS_DIR", certs)
        .env("REDIS_PASSWORD", APP_PASSWORD)
        .env("REDIS_REPLICATION_PASSWORD", "replication-password")
        .env("REDIS_SENTINEL_PASSWORD", "sentinel-password")
        .env("REDIS_BACKUP_PASSWORD", "backup-password")
        .env("REDIS_MONITOR_PASSWORD", "monitor-password")
        .output()
        .expect("sh runs redis/secure.sh");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn start(dir: &Path, name: &str, config: String, sentinel: bool) -> Secured {
    let file = dir.join(format!("{name}.conf"));
    std::fs::write(&file, &config).unwrap();
    let mut command = Command::new("redis-server");
    command.arg(&file);
    if sentinel {
        command.arg("--sentinel");
    }
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("redis-server runs");
    let port = config
        .lines()
        .find_map(|l| l.strip_prefix("tls-port "))
        .and_then(|p| p.trim().parse().ok())
        .expect("a tls-port");
    Secured { port, child }
}

fn certificates(certs: &Path) -> TlsCertificates {
    TlsCertificates {
        client_tls: None,
        root_cert: Some(std::fs::read(certs.join("ca.crt")).unwrap()),
    }
}

async fn connect_as(
    certs: &Path,
    port: u16,
    user: &str,
    password: &str,
) -> redis::RedisResult<MultiplexedConnection> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("rediss://{user}:{password}@127.0.0.1:{port}");
    Client::build_with_tls(url, certificates(certs))?
        .get_multiplexed_async_connection()
        .await
}

/// Whether Redis answered `error` with the error code `code`.
fn refused(error: &redis::RedisError, code: &str) -> bool {
    error.to_string().to_ascii_uppercase().contains(code)
}

/// A TLS connection that authenticates as no one.
async fn connect_anonymously(certs: &Path, port: u16) -> MultiplexedConnection {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::build_with_tls(format!("rediss://127.0.0.1:{port}"), certificates(certs))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("a TLS connection")
}

struct Set {
    _dir: TempDir,
    certs: PathBuf,
    master: Secured,
    sentinel: Secured,
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn secured_set() -> Set {
    let dir = data_dir();
    let certs = dir.join("certs");
    let made = Command::new(format!("{ROOT}/scripts/redis-certs"))
        .arg(&certs)
        .output()
        .expect("scripts/redis-certs runs");
    assert!(made.status.success(), "{made:?}");

    let port = free_port();
    let master = start(
        &dir,
        "master",
        format!(
            "{}{}bind 127.0.0.1\ndir {}\nsave \"\"\n",
            include_str!("../../../redis/redis.conf"),
            secure_sh(&certs, "data_node_security", &port.to_string()),
            dir.display()
        ),
        false,
    );
    let sentinel_port = free_port();
    let sentinel = start(
        &dir,
        "sentinel",
        format!(
            "{}bind 127.0.0.1\ndir {}\n\
             sentinel monitor canvas 127.0.0.1 {port} 1\n\
             sentinel auth-user canvas sentinel\n\
             sentinel auth-pass canvas sentinel-password\n",
            secure_sh(&certs, "sentinel_security", &sentinel_port.to_string()),
            dir.display()
        ),
        true,
    );
    let set = Set {
        _dir: TempDir(dir),
        certs,
        master,
        sentinel,
    };
    eventually(
        "the TLS data node answers the app's user",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            let mut c = connect_as(&set.certs, set.master.port, "canvas", APP_PASSWORD)
                .await
                .ok()?;
            redis::cmd("PING").query_async::<String>(&mut c).await.ok()
        },
    )
    .await;
    set
}

#[tokio::test]
async fn the_app_places_over_tls_as_a_user_that_can_do_nothing_else() {
    let set = secured_set().await;
    let sentinels = format!("127.0.0.1:{}", set.sentinel.port);
    let ca = set.certs.join("ca.crt");
    let app = spawn_app(&[
        ("REDIS_SENTINELS", &sentinels),
        ("REDIS_TLS", "true"),
        ("REDIS_TLS_CA_FILE", ca.to_str().unwrap()),
        ("REDIS_USERNAME", "canvas"),
        ("REDIS_PASSWORD", APP_PASSWORD),
        // One data node: no replica to wait for.
        ("DURABILITY", "local"),
    ])
    .await;
    eventually(
        "the app is ready over TLS",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async { (app.api.get("/readyz").await.status() == 200).then_some(()) },
    )
    .await;
    let (_, _, accepted) = place_randomly(app.api.clone(), 7, 10).await;
    assert_eq!(
        accepted.len(),
        10,
        "placements over TLS through the Sentinel"
    );

    // What the app's user can and cannot do.
    let mut app_user = connect_as(&set.certs, set.master.port, "canvas", APP_PASSWORD)
        .await
        .expect("the app's user connects over TLS");
    let seq: u64 = redis::cmd("GET")
        .arg(keys().seq)
        .query_async(&mut app_user)
        .await
        .unwrap();
    assert_eq!(
        seq,
        accepted.last().unwrap().0,
        "the placements are in Redis"
    );
    let flush = redis::cmd("FLUSHALL")
        .query_async::<()>(&mut app_user)
        .await
        .unwrap_err();
    assert!(refused(&flush, "NOPERM"), "{flush}");
    let other = redis::cmd("GET")
        .arg("other:secret")
        .query_async::<Option<String>>(&mut app_user)
        .await
        .unwrap_err();
    assert!(refused(&other, "NOPERM"), "{other}");
    let config = redis::cmd("CONFIG")
        .arg(&["GET", "requirepass"])
        .query_async::<Vec<String>>(&mut app_user)
        .await
        .unwrap_err();
    assert!(refused(&config, "NOPERM"), "{config}");

    // No way in without TLS, nor without a user.
    let plain = Client::open(format!(
        "redis://canvas:{APP_PASSWORD}@127.0.0.1:{}",
        set.master.port
    ))
    .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        let mut c = plain.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut c).await
    })
    .await;
    assert!(
        !matches!(answer, Ok(Ok(_))),
        "a plain-TCP client was answered"
    );
    let mut anonymous = connect_anonymously(&set.certs, set.master.port).await;
    let ping = redis::cmd("PING")
        .query_async::<String>(&mut anonymous)
        .await
        .unwrap_err();
    assert!(refused(&ping, "NOAUTH"), "{ping}");

    // The Sentinel tells anyone where the master is, and only that.
    let mut lookup = connect_anonymously(&set.certs, set.sentinel.port).await;
    let master: Vec<String> = redis::cmd("SENTINEL")
        .arg(&["GET-MASTER-ADDR-BY-NAME", "canvas"])
        .query_async(&mut lookup)
        .await
        .unwrap();
    assert_eq!(master[1], set.master.port.to_string());
    let failover = redis::cmd("SENTINEL")
        .arg(&["FAILOVER", "canvas"])
        .query_async::<()>(&mut lookup)
        .await
        .unwrap_err();
    assert!(refused(&failover, "NOPERM"), "{failover}");
}

#[tokio::test]
async fn an_app_that_does_not_trust_the_ca_never_reaches_redis() {
    let set = secured_set().await;
    let url = format!("rediss://127.0.0.1:{}", set.master.port);
    // The system's roots do not include the deployment's own CA.
    let app = spawn_app(&[
        ("REDIS_URL", &url),
        ("REDIS_USERNAME", "canvas"),
        ("REDIS_PASSWORD", APP_PASSWORD),
    ])
    .await;
    // Each readiness check pings the store, connecting afresh: for three
    // seconds, none may get through.
    for _ in 0..15 {
        let ready = app.api.get("/readyz").await;
        assert_eq!(ready.status(), 503, "ready without a verified Redis");
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["store"], false, "{body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
