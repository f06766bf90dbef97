//! A snapshot flood: `/api/canvas` and `/api/canvas.png` fetched at a set
//! rate beside the WebSocket load, to see what it costs the other clients
//! and how much a cache in front absorbs.

use crate::stats::{round3, Latencies};
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::Semaphore;

/// Requests in flight at once; a tick finding none free is counted skipped.
const IN_FLIGHT: usize = 256;

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<String, u64>,
    cache: BTreeMap<String, u64>,
    latencies: Latencies,
    skipped: u64,
}

/// Fetches snapshots at `rate` a second until `until`, spreading them over
/// `targets` and over one HTTP client per source address.
pub async fn run(
    targets: Vec<String>,
    sources: Vec<Option<IpAddr>>,
    rate: f64,
    until: Instant,
) -> Value {
    let clients: Vec<reqwest::Client> = sources
        .iter()
        .map(|source| {
            reqwest::Client::builder()
                .local_address(*source)
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client")
        })
        .collect();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut sent = 0u64;
    while Instant::now() < until {
        ticker.tick().await;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tally.lock().unwrap_or_else(|e| e.into_inner()).skipped += 1;
            continue;
        };
        let route = if sent.is_multiple_of(2) {
            "/api/canvas"
        } else {
            "/api/canvas.png"
        };
        let url = format!("{}{route}", targets[sent as usize % targets.len()]);
        let client = clients[sent as usize % clients.len()].clone();
        let tally = tally.clone();
        sent += 1;
        tokio::spawn(async move {
            let asked = Instant::now();
            let outcome = client.get(&url).send().await;
            let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
            let status = match outcome {
                Ok(response) => {
                    if let Some(cache) = response.headers().get("x-cache") {
                        let cache = cache.to_str().unwrap_or("?").to_owned();
                        *tally.cache.entry(cache).or_default() += 1;
                    }
                    response.status().as_u16().to_string()
                }
                Err(_) => "error".to_owned(),
            };
            *tally.statuses.entry(status).or_default() += 1;
            tally
                .latencies
                .0
                .push(asked.elapsed().as_secs_f64() * 1000.0);
            drop(slot);
        });
    }
    // Let the last ones finish.
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        slots.acquire_many(IN_FLIGHT as u32),
    )
    .await;
    let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
    let seconds = started.elapsed().as_secs_f64();
    let hits = tally.cache.get("HIT").copied().unwrap_or(0);
    let cached: u64 = tally.cache.values().sum();
    json!({
        "sent_per_s": round3(sent as f64 / seconds),
        "statuses": tally.statuses,
        "x_cache": tally.cache,
        "hit_ratio": if cached > 0 { round3(hits as f64 / cached as f64) } else { 0.0 },
        "skipped": tally.skipped,
        "ms": tally.latencies.summary(),
    })
}
