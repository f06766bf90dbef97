//! `scripts/backup` and `scripts/restore` against a real Redis: what comes
//! back is the canvas that was saved, byte for byte, and a Redis that
//! already holds a canvas is not overwritten.

use crate::{
    helpers::{keys, place_randomly, snapshots_at, spawn_app, wait_ready},
    redis_server::RedisServer,
};
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts");

/// Runs `scripts/<name>` against `redis` with the app's variables.
fn script(name: &str, redis: &RedisServer, args: &[&Path]) -> Output {
    Command::new(Path::new(SCRIPTS).join(name))
        .args(args)
        .env("REDIS_URL", redis.url())
        .env_remove("REDIS_SENTINELS")
        .env_remove("REDIS_HOST")
        .output()
        .expect("the script runs")
}

/// Everything a canvas is made of, as Redis holds it.
async fn canvas_in(redis: &RedisServer) -> (Option<String>, Option<String>, Vec<u8>, Vec<u8>) {
    let mut connection = redis.connect().await;
    let keys = keys();
    let get = |key: String| redis::cmd("GET").arg(key).clone();
    let epoch: Option<String> = get(keys.epoch.clone())
        .query_async(&mut connection)
        .await
        .unwrap();
    let seq: Option<String> = get(keys.seq.clone())
        .query_async(&mut connection)
        .await
        .unwrap();
    let pixels = redis.pixels().await;
    let history: Vec<u8> = redis::cmd("DUMP")
        .arg(&keys.history)
        .query_async::<Option<Vec<u8>>>(&mut connection)
        .await
        .unwrap()
        .unwrap_or_default();
    (epoch, seq, pixels, history)
}

#[tokio::test]
async fn a_backup_restores_the_same_canvas_and_never_over_one() {
    let redis = RedisServer::start().await;
    let app = spawn_app(&[("REDIS_URL", redis.url().as_str())]).await;
    wait_ready(&app).await;
    place_randomly(app.api.clone(), 11, 60).await;
    let saved = canvas_in(&redis).await;
    assert!(saved.0.is_some() && saved.1.as_deref() == Some("60"));

    let dir = tempdir();
    let backup = script("backup", &redis, &[&dir]);
    assert!(backup.status.success(), "{backup:?}");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "rdb"))
        .expect("a backup file");
    assert!(file.with_extension("rdb.sha256").exists(), "a checksum");

    let mut connection = redis.connect().await;
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut connection)
        .await
        .unwrap();
    let restore = script("restore", &redis, &[&file]);
    assert!(restore.status.success(), "{restore:?}");
    assert_eq!(
        canvas_in(&redis).await,
        saved,
        "the canvas came back as it was"
    );
    // The running instance was told, and serves the restored canvas.
    let seq: u64 = saved.1.as_deref().unwrap().parse().unwrap();
    let served = snapshots_at(std::slice::from_ref(&app), seq).await;
    assert_eq!(served[0][..saved.2.len()], saved.2[..]);

    // A canvas is there now: a second restore refuses to touch it.
    let again = script("restore", &redis, &[&file]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing"));
    assert_eq!(canvas_in(&redis).await, saved);

    // A damaged file is never restored, even by force.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let damaged = Command::new(Path::new(SCRIPTS).join("restore"))
        .arg(&file)
        .arg("--force")
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    assert_eq!(damaged.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&damaged.stderr).contains("checksum"));
    assert_eq!(canvas_in(&redis).await, saved);
    let _ = std::fs::remove_dir_all(dir);
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("canvas-test-backup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
