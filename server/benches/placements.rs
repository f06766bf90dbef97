//! Placement throughput: how many placements a second the embedded store,
//! one instance on Redis and three instances on one Redis accept, with every
//! tile delivered to a watching client on each instance.
//!
//! Run with `cargo bench -p server --bench placements` (a release build; it
//! starts its own redis-server on a free loopback port). It prints figures;
//! it asserts only that the run converged.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "../tests/api/redis_server.rs"]
#[allow(dead_code)]
mod redis_server;

use app::protocol::{ClientMessage, ServerMessage, Tile};
use futures_util::{SinkExt, StreamExt};
use helpers::{spawn_app, TestApp};
use redis_server::RedisServer;
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use tokio_tungstenite::tungstenite::Message;

/// Placing clients per run, spread over the instances.
const CLIENTS: usize = 32;
/// Place frames each client keeps in flight.
const WINDOW: usize = 8;
const RUN: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() {
    println!("placements/s accepted (and delivered to one watcher per instance), {CLIENTS} clients x {WINDOW} in flight, {RUN:?} per run");
    let embedded = vec![spawn_app(&bench_vars(None)).await];
    run("embedded store, 1 instance", &embedded).await;
    drop(embedded);

    let redis = RedisServer::start().await;
    let url = redis.url();
    let one = vec![spawn_app(&bench_vars(Some(&url))).await];
    run("redis, 1 instance", &one).await;
    drop(one);

    let redis = RedisServer::start().await;
    let url = redis.url();
    let mut three = Vec::new();
    for _ in 0..3 {
        three.push(spawn_app(&bench_vars(Some(&url))).await);
    }
    run("redis, 3 instances", &three).await;
}

fn bench_vars(redis_url: Option<&str>) -> Vec<(&'static str, &str)> {
    let mut vars = vec![
        ("CANVAS_WIDTH", "1000"),
        ("CANVAS_HEIGHT", "1000"),
        ("BATCH_INTERVAL_MS", "50"),
    ];
    if let Some(url) = redis_url {
        vars.push(("REDIS_URL", url));
    }
    vars
}

async fn run(name: &str, apps: &[TestApp]) {
    for app in apps {
        while app.get("/readyz").await.status() != 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let start_seq = apps[0].canvas().await.1;
    let accepted = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + RUN;

    let watchers: Vec<_> = apps
        .iter()
        .map(|app| {
            let url = format!("ws://{}/ws", app.addr);
            let delivered = delivered.clone();
            tokio::spawn(async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
                while Instant::now() < deadline + Duration::from_secs(1) {
                    let Ok(Some(Ok(Message::Binary(frame)))) =
                        tokio::time::timeout(Duration::from_millis(200), ws.next()).await
                    else {
                        continue;
                    };
                    if let Ok(ServerMessage::Tiles { tiles, .. }) = ServerMessage::decode(&frame) {
                        delivered.fetch_add(tiles.len() as u64, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();

    let placers: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let url = format!("ws://{}/ws", apps[i % apps.len()].addr);
            let accepted = accepted.clone();
            tokio::spawn(async move { place_until(url, i as u64, deadline, accepted).await })
        })
        .collect();
    let started = Instant::now();
    for placer in placers {
        placer.await.unwrap();
    }
    let elapsed = started.elapsed();
    for watcher in watchers {
        watcher.await.unwrap();
    }
    let accepted = accepted.load(Ordering::Relaxed);
    let end_seq = apps[0].canvas().await.1;
    assert_eq!(
        end_seq - start_seq,
        accepted,
        "every accepted placement is on the canvas"
    );
    let per_watcher = delivered.load(Ordering::Relaxed) as f64 / apps.len() as f64;
    println!(
        "{name:32} {:>9.0} accepted/s   {:>9.0} delivered/s per watcher",
        accepted as f64 / elapsed.as_secs_f64(),
        per_watcher / elapsed.as_secs_f64(),
    );
}

/// Keeps `WINDOW` Place frames in flight until the deadline.
async fn place_until(url: String, seed: u64, deadline: Instant, accepted: Arc<AtomicU64>) {
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (mut sink, mut stream) = ws.split();
    let mut n = seed.wrapping_mul(2_654_435_761);
    let mut next_tile = move || {
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        Tile {
            x: ((n >> 33) % 1000) as u16,
            y: ((n >> 17) % 1000) as u16,
            color: ((n >> 7) % 32) as u8,
        }
    };
    let mut in_flight = 0;
    loop {
        while in_flight < WINDOW && Instant::now() < deadline {
            let frame = ClientMessage::Place(next_tile()).encode();
            sink.send(Message::Binary(frame)).await.unwrap();
            in_flight += 1;
        }
        if in_flight == 0 {
            return;
        }
        match stream.next().await {
            Some(Ok(Message::Binary(frame))) => {
                if let Ok(ServerMessage::PlaceResult { status, .. }) = ServerMessage::decode(&frame)
                {
                    in_flight -= 1;
                    if status == app::protocol::PlaceStatus::Accepted {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Some(Ok(_)) => {}
            _ => return,
        }
    }
}
