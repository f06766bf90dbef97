//! canvas-chaos: a fault-injection run on the local cluster.
//!
//! Players place tiles through every instance while faults are injected
//! one after another, in random order, for a bounded time: an app
//! instance killed and started again, every subscription killed, the Redis
//! master hung (`SIGSTOP`) past the Sentinels' patience or killed, the
//! replica restarted. After each fault the run waits until the cluster has
//! recovered (every instance ready, a placement accepted after the fault)
//! and the set is redundant again, and records how long recovery took,
//! from the fault to the first accepted placement with every instance ready. At
//! the end, after quiet, it audits ([`audit`]): nothing acknowledged lost,
//! everyone agreeing byte for byte. `scripts/chaos` starts the cluster and
//! runs it.

pub mod audit;
pub mod faults;
pub mod players;

use app::protocol::Version;
use faults::{Cluster, Fault};
use players::{Phase, Player, Tally};
use rand::{rngs::SmallRng, seq::IndexedRandom, SeedableRng};
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};
use tokio::sync::watch;

/// The longest the cluster may take to recover from one fault.
const RECOVERY_DEADLINE: Duration = Duration::from_secs(90);
/// The longest the end may take to become quiet and agree.
const SETTLE_DEADLINE: Duration = Duration::from_secs(60);

pub struct Options {
    pub cluster: Cluster,
    /// How long faults are injected.
    pub duration: Duration,
    /// The pause after a recovery before the next fault.
    pub pause: Duration,
    pub players: usize,
    /// Placements per second per player.
    pub rate: f64,
    pub seed: u64,
    /// Instead of random faults: one `kill -9` of the master, never
    /// restarted, then placing on for the rest of the run.
    pub lose_master: bool,
}

impl Options {
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Options {
            cluster: Cluster {
                script: PathBuf::from("scripts/cluster"),
                dir: PathBuf::from(".run/cluster"),
                base: 18000,
            },
            duration: Duration::from_secs(60),
            pause: Duration::from_secs(1),
            players: 6,
            rate: 20.0,
            seed: rand::random(),
            lose_master: false,
        };
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value"));
            let number = |text: String| -> Result<f64, String> {
                text.parse().map_err(|_| format!("{flag}: not a number"))
            };
            match flag.as_str() {
                "--cluster-dir" => options.cluster.dir = value()?.into(),
                "--cluster-script" => options.cluster.script = value()?.into(),
                "--port-base" => options.cluster.base = number(value()?)? as u16,
                "--duration" => options.duration = Duration::from_secs_f64(number(value()?)?),
                "--pause" => options.pause = Duration::from_secs_f64(number(value()?)?),
                "--players" => options.players = (number(value()?)? as usize).max(1),
                "--rate" => options.rate = number(value()?)?,
                "--seed" => options.seed = number(value()?)? as u64,
                "--lose-master" => options.lose_master = true,
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown option {other}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

pub const USAGE: &str = "\
canvas-chaos [OPTIONS]: faults injected into a running local cluster
(scripts/cluster up) under load, then an audit. scripts/chaos runs it.

  --cluster-dir DIR      the cluster's run directory (.run/cluster)
  --cluster-script PATH  scripts/cluster, to start what was killed
  --port-base N          the cluster's CLUSTER_PORT_BASE (18000)
  --duration S           seconds of faults (60)
  --pause S              seconds between a recovery and the next fault (1)
  --players N            clients placing throughout (6)
  --rate R               placements/s per player (20)
  --seed N               the faults' order
  --lose-master          one fault only: kill -9 the master half-way through
                         and never restart it (the two other data nodes
                         must carry on)

The last line of stdout is one JSON object with every figure. Exit codes:
0 nothing lost and everything agrees, 1 otherwise, 2 bad arguments.";

/// One fault and how long the cluster took to recover from it.
struct Injected {
    fault: Fault,
    what: String,
    recovered: Option<Duration>,
}

/// Runs the players and the faults, then audits; the verdict and figures.
pub async fn run(options: Options) -> (bool, Value) {
    let cluster = &options.cluster;
    let start = Instant::now();
    let tally = Arc::new(Tally::new(start));
    let targets = Arc::new(cluster.app_urls());
    let (phase, following) = watch::channel(Phase::Placing);
    let players: Vec<_> = (0..options.players)
        .map(|id| {
            let player = Player::new(
                id,
                targets.clone(),
                tally.clone(),
                options.rate,
                options.seed,
            );
            tokio::spawn(player.run(following.clone()))
        })
        .collect();

    let mut rng = SmallRng::seed_from_u64(options.seed);
    let mut injected = Vec::new();
    // Warm up: placements flow before the first fault.
    let mut healthy = recover(cluster, &tally, 0, Instant::now()).await.is_some();
    if options.lose_master {
        // Half the run before, half after: the remaining nodes carry on.
        tokio::time::sleep(options.duration / 2).await;
    }
    while healthy && start.elapsed() < options.duration {
        let fault = if options.lose_master {
            Fault::LoseMaster
        } else {
            *Fault::ALL.choose(&mut rng).expect("faults")
        };
        let at = tally.millis();
        let injected_at = Instant::now();
        eprintln!(
            "canvas-chaos: {:>6.1} s  {}",
            start.elapsed().as_secs_f64(),
            fault.name()
        );
        let what = match cluster.inject(fault, &mut rng).await {
            Ok(what) => what,
            Err(error) => {
                eprintln!("canvas-chaos: could not inject {}: {error}", fault.name());
                injected.push(Injected {
                    fault,
                    what: error,
                    recovered: None,
                });
                break;
            }
        };
        let recovered = recover(cluster, &tally, at, injected_at).await;
        healthy = recovered.is_some();
        if !healthy {
            eprintln!("canvas-chaos: no recovery within {RECOVERY_DEADLINE:?}");
        }
        injected.push(Injected {
            fault,
            what,
            recovered,
        });
        if options.lose_master {
            // Placing on with a node short until the run's end.
            tokio::time::sleep(options.duration.saturating_sub(start.elapsed())).await;
            break;
        }
        tokio::time::sleep(options.pause).await;
    }

    let _ = phase.send(Phase::Quiet);
    eprintln!("canvas-chaos: placing stopped; waiting for the instances and Redis to agree");
    let settled = settle(cluster).await;
    let (verdict, audit) = match settled {
        Ok(stored) => {
            let _ = phase.send(Phase::Final(stored.at));
            eprintln!(
                "canvas-chaos: waiting for every player to hold {:?}",
                stored.at
            );
            let mut copies = Vec::new();
            for (index, player) in players.into_iter().enumerate() {
                match tokio::time::timeout(SETTLE_DEADLINE, player).await {
                    Ok(Ok(copy)) => copies.push(copy),
                    _ => {
                        eprintln!("canvas-chaos: player {index} did not get there");
                        copies.push(players::Copy {
                            at: None,
                            pixels: Vec::new(),
                            width: 0,
                        })
                    }
                }
            }
            let width = copies.iter().map(|c| c.width).max().unwrap_or(0);
            let acks = tally.acks.lock().unwrap_or_else(|e| e.into_inner()).clone();
            eprintln!("canvas-chaos: auditing");
            audit::audit(cluster, &stored, &acks, &copies, width.max(1)).await
        }
        Err(error) => (false, json!({ "problems": [error] })),
    };
    let all_recovered = injected.iter().all(|i| i.recovered.is_some());
    let figures = figures(&options, &tally, &injected, audit, start.elapsed());
    (
        verdict && healthy && all_recovered && !injected.is_empty(),
        figures,
    )
}

/// Waits until every instance is ready, a placement was accepted after
/// `since_ms` (when the fault began, `since`), and the Redis set is
/// redundant again; how long after `since` the first two held.
async fn recover(
    cluster: &Cluster,
    tally: &Tally,
    since_ms: u64,
    since: Instant,
) -> Option<Duration> {
    let began = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    let mut recovered = None;
    while began.elapsed() < RECOVERY_DEADLINE {
        if recovered.is_none()
            && tally.last_accepted_ms.load(Ordering::Relaxed) > since_ms
            && all_ready(cluster, &http).await
        {
            recovered = Some(since.elapsed());
        }
        if recovered.is_some() && cluster.redundant().await {
            return recovered;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

async fn all_ready(cluster: &Cluster, http: &reqwest::Client) -> bool {
    for url in cluster.app_urls() {
        let ready = http.get(format!("{url}/readyz")).send().await;
        if !ready.is_ok_and(|r| r.status().is_success()) {
            return false;
        }
    }
    true
}

/// Readings a second apart in which every instance and Redis must hold
/// the same version before the run counts as settled: more than the
/// instances' check against the store (every 2 s), so an instance that
/// finds the store went back on tiles it applied (a failover to a replica
/// that lacked them) and starts a new epoch does so before, not after.
const AGREED_READINGS: u32 = 4;

/// Waits until the instances agree with Redis and nothing moves.
async fn settle(cluster: &Cluster) -> Result<audit::Stored, String> {
    let began = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    let mut last = None;
    let mut agreed = 0;
    loop {
        if began.elapsed() > SETTLE_DEADLINE {
            return Err(format!("not quiet and agreed within {SETTLE_DEADLINE:?}"));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some((pixels, ..)) =
            crate::client::snapshot(&http, &format!("{}/api/canvas", cluster.app_urls()[0])).await
        else {
            agreed = 0;
            continue;
        };
        let info = async {
            let url = format!("{}/api/info", cluster.app_urls()[0]);
            let body = http.get(url).send().await.ok()?.bytes().await.ok()?;
            let info: serde_json::Value = serde_json::from_slice(&body).ok()?;
            info["width"].as_u64()
        };
        let Some(width) = info.await else {
            agreed = 0;
            continue;
        };
        let Ok(stored) = audit::stored(cluster, width as usize, pixels.len()).await else {
            agreed = 0;
            continue;
        };
        let mut instances_agree = true;
        for url in cluster.app_urls() {
            instances_agree &= instance_version(&http, &url).await == Some(stored.at);
        }
        // Readings in a row that agree, on one version.
        agreed = match (instances_agree, last == Some(stored.at)) {
            (true, true) => agreed + 1,
            (true, false) => 1,
            (false, _) => 0,
        };
        if agreed >= AGREED_READINGS {
            return Ok(stored);
        }
        last = Some(stored.at);
    }
}

/// The version an instance serves (`/api/info`).
async fn instance_version(http: &reqwest::Client, url: &str) -> Option<Version> {
    let body = http
        .get(format!("{url}/api/info"))
        .send()
        .await
        .ok()?
        .bytes()
        .await
        .ok()?;
    let info: Value = serde_json::from_slice(&body).ok()?;
    Some(Version {
        epoch: info.get("epoch")?.as_str()?.parse().ok()?,
        seq: info.get("seq")?.as_u64()?,
    })
}

fn figures(
    options: &Options,
    tally: &Tally,
    injected: &[Injected],
    audit: Value,
    elapsed: Duration,
) -> Value {
    let mut by_fault: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for i in injected {
        by_fault
            .entry(i.fault.name())
            .or_default()
            .push(i.recovered.map_or(f64::NAN, |d| d.as_secs_f64()));
    }
    let recovery: Value = by_fault
        .iter()
        .map(|(name, times)| {
            let mut sorted = times.clone();
            sorted.sort_by(f64::total_cmp);
            let median = sorted[sorted.len() / 2];
            let max = sorted.last().copied().unwrap_or(f64::NAN);
            (
                name.to_string(),
                json!({ "count": times.len(), "median_s": round(median), "max_s": round(max) }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    json!({
        "seed": options.seed,
        "seconds": round(elapsed.as_secs_f64()),
        "faults": injected.len(),
        "recovered": injected.iter().filter(|i| i.recovered.is_some()).count(),
        "recovery": recovery,
        "last_fault": injected.last().map(|i| i.what.clone()),
        "accepted": tally.accepted.load(Ordering::Relaxed),
        "unknown": tally.unknown.load(Ordering::Relaxed),
        "refused": tally.refused.load(Ordering::Relaxed),
        "reconnects": tally.reconnects.load(Ordering::Relaxed),
        "audit": audit,
    })
}

fn round(value: f64) -> Value {
    if value.is_finite() {
        json!((value * 100.0).round() / 100.0)
    } else {
        Value::Null
    }
}
