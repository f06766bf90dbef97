//! One run: connect the clients (spread over the ramp), let the placers
//! place through the warm-up and the measured window, stop, wait for quiet,
//! check convergence, and gather the figures.

use crate::{
    audit,
    client::{self, Pace, Phase, Report, Role, Shared},
    flood,
    options::Options,
    stats::{machine_ticks, micros, round3, Count, Counters, Latencies, Process, SeenAt, Totals},
    view::{self, Area},
};
use app::geometry::CanvasSize;
use rand::{rngs::SmallRng, Rng, SeedableRng};
use serde_json::{json, Value};
use std::{
    net::{IpAddr, Ipv4Addr},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use tokio::{
    runtime::Handle,
    sync::{watch, Semaphore},
    task::JoinHandle,
};

/// The run's figures, and whether verification passed.
pub struct Outcome {
    pub figures: Value,
    pub converged: Option<bool>,
}

/// The figures at one moment, to take differences over the window.
struct Sample {
    at: Instant,
    totals: Totals,
    servers: Vec<Option<Process>>,
    me: Option<Process>,
    machine: Option<(u64, u64)>,
}

fn sample(counters: &Counters, pids: &[u32]) -> Sample {
    Sample {
        at: Instant::now(),
        totals: counters.totals(),
        servers: pids.iter().map(|pid| Process::read(*pid)).collect(),
        me: Process::read(std::process::id()),
        machine: machine_ticks(),
    }
}

/// Runs the load described by `options`. `measuring` runs the clients whose
/// timestamps matter (placers, observers, tracked clients) on a runtime of
/// their own, so their clocks are not read behind thousands of ready
/// receivers.
pub async fn run(options: &Options, measuring: Handle) -> Result<Outcome, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let info = info(&http, &options.targets[0]).await?;
    let palette = info["palette"].as_array().map_or(0, Vec::len);
    let side = |name: &str| info[name].as_u64().and_then(|v| u16::try_from(v).ok());
    let canvas = CanvasSize {
        width: side("width").unwrap_or(1),
        height: side("height").unwrap_or(1),
    };
    if usize::from(options.colors) > palette {
        eprintln!(
            "canvas-load: --colors {} but the palette has {palette}",
            options.colors
        );
    }
    let shared = Arc::new(Shared {
        start: Instant::now(),
        counters: Counters::default(),
        seen: options.targets.iter().map(|_| SeenAt::default()).collect(),
        window_start: 0.into(),
        window_end: 0.into(),
        http: http.clone(),
        read_buffer: (16 * 1024 * 1024 / options.clients.max(1)).clamp(1024, 64 * 1024),
        last_accepted: 0.into(),
        longest_gap: 0.into(),
        longest_gap_from: 0.into(),
    });
    let before = sample(&shared.counters, &options.pids);
    let (phase, phase_watch) = watch::channel(Phase::Connecting);

    // Connect, spread over the ramp, a bounded number of handshakes at once.
    let connecting = Arc::new(Semaphore::new(options.connect_concurrency));
    // Clients whose handshake is over, whether it succeeded or not.
    let settled = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let targets = options.targets.len();
    let sources = sources(options.source_ips);
    let mut observers = vec![false; targets];
    let mut clients: Vec<(usize, JoinHandle<Result<Report, String>>)> = Vec::new();
    for index in 0..options.clients {
        let target_index = index % targets;
        let role = role(options, index, &mut observers[target_index], canvas);
        let ramp_at = options.ramp.mul_f64(index as f64 / options.clients as f64);
        let (shared, connecting, phase) = (shared.clone(), connecting.clone(), phase_watch.clone());
        let settled = settled.clone();
        let target = options.targets[target_index].clone();
        let source = sources[index % sources.len()];
        let task = async move {
            tokio::time::sleep_until((started + ramp_at).into()).await;
            let permit = connecting
                .acquire_owned()
                .await
                .map_err(|e| e.to_string())?;
            let client =
                client::connect(shared, target, target_index, role, source, index as u64 + 1).await;
            drop(permit);
            settled.fetch_add(1, Ordering::Relaxed);
            Ok(client?.run(phase).await)
        };
        let measured = role.place.is_some() || role.observer || role.tracked;
        let handle = if measured {
            measuring.spawn(task)
        } else {
            tokio::spawn(task)
        };
        clients.push((index, handle));
    }
    let mut last_progress = Instant::now();
    while settled.load(Ordering::Relaxed) < options.clients {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if last_progress.elapsed() >= Duration::from_secs(1) {
            progress(options, "connecting", &shared, started);
            last_progress = Instant::now();
        }
    }
    let connect_s = started.elapsed().as_secs_f64();
    progress(options, "connected", &shared, started);

    phase.send_replace(Phase::Placing);
    let flood = (options.http_rate > 0.0).then(|| {
        let until = Instant::now() + options.warmup + options.duration;
        let (targets, rate) = (options.targets.clone(), options.http_rate);
        tokio::spawn(flood::run(targets, sources.clone(), rate, until))
    });
    tokio::time::sleep(options.warmup).await;
    let counters_before = server_counters(&http, &options.targets).await;
    let window = sample(&shared.counters, &options.pids);
    shared
        .window_start
        .store(micros(shared.start).max(1), Ordering::Relaxed);
    while window.at.elapsed() < options.duration {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if last_progress.elapsed() >= Duration::from_secs(1) {
            progress(options, "placing", &shared, started);
            last_progress = Instant::now();
        }
    }
    shared
        .window_end
        .store(micros(shared.start), Ordering::Relaxed);
    let end = sample(&shared.counters, &options.pids);
    let counters_after = server_counters(&http, &options.targets).await;
    phase.send_replace(Phase::Stopped);
    let flood = match flood {
        Some(flood) => flood.await.ok(),
        None => None,
    };

    let quiet_wait = if options.verify {
        wait_for_quiet(&shared.counters, options.quiet, options.verify_timeout).await
    } else {
        None
    };
    phase.send_replace(Phase::Finish);

    let mut reports = Vec::new();
    let mut connect_errors = Vec::new();
    for (index, handle) in clients {
        match handle.await {
            Ok(Ok(report)) => reports.push((index, report)),
            Ok(Err(error)) => connect_errors.push(error),
            Err(error) => connect_errors.push(error.to_string()),
        }
    }
    if reports.is_empty() {
        return Err(format!(
            "no client connected: {}",
            connect_errors.first().map_or("", String::as_str)
        ));
    }

    let mut figures = figures(options, &shared, &before, &window, &end, &mut reports);
    figures["connect_s"] = json!(round3(connect_s));
    if let Some(flood) = flood {
        figures["http"] = flood;
    }
    if let (Some(before), Some(after)) = (counters_before, counters_after) {
        let seconds = end.at.duration_since(window.at).as_secs_f64();
        for ((_, key), (before, after)) in SERVER_COUNTERS.iter().zip(before.iter().zip(&after)) {
            figures["server"][*key] = json!(round3((after - before) / seconds));
        }
    }
    figures["clients_failed"] = json!(connect_errors.len());
    let mut converged = None;
    if options.verify && options.view > 0 {
        let (result, ok) = verify_chunks(&http, options, &reports, quiet_wait).await;
        figures["verify"] = result;
        converged = Some(ok);
    } else if options.verify {
        let newest = reports.iter().map(|(_, r)| r.last_seq).max().unwrap_or(0);
        let snapshots =
            final_snapshots(&http, &options.targets, newest, options.verify_timeout).await;
        let (result, mut ok) = verify_run(options, &reports, &snapshots, quiet_wait);
        figures["verify"] = result;
        if options.audit {
            let acknowledged: Vec<_> = reports
                .iter()
                .flat_map(|(_, r)| r.acknowledged.iter().copied())
                .collect();
            let (epoch, last) = snapshots
                .first()
                .cloned()
                .flatten()
                .map_or((0, 0), |s| (s.2, s.1));
            let (audited, audit_ok) =
                audit::audit(&http, &options.targets[0], epoch, last, &acknowledged).await;
            figures["audit"] = audited;
            ok &= audit_ok;
        }
        converged = Some(ok);
    }
    Ok(Outcome { figures, converged })
}

/// The source addresses clients connect from: 127.0.0.2 … with
/// `--source-ips`, else the system's choice.
fn sources(count: usize) -> Vec<Option<IpAddr>> {
    if count == 0 {
        return vec![None];
    }
    (0..count)
        .map(|i| Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8))))
        .collect()
}

/// The Canvas counters a run reports per second of its window, summed
/// over the targets (every series of each, whatever its labels), and the
/// key each is reported under in `server`.
const SERVER_COUNTERS: [(&str, &str); 3] = [
    (
        "canvas_snapshot_encodings_total",
        "snapshot_encodings_per_s",
    ),
    // Chat lines dropped on the way to sockets that fell behind: what
    // tells lines lost from lines still in flight when a run stops.
    (
        "canvas_websocket_chat_lines_dropped_total",
        "chat_lines_dropped_per_s",
    ),
    ("canvas_websocket_catch_ups_total", "catch_ups_per_s"),
];

/// [`SERVER_COUNTERS`] as the targets' `/metrics` say now, when they all
/// expose them (refserver does not).
async fn server_counters(
    http: &reqwest::Client,
    targets: &[String],
) -> Option<[f64; SERVER_COUNTERS.len()]> {
    let mut totals = [0.0; SERVER_COUNTERS.len()];
    for target in targets {
        let text = http
            .get(format!("{target}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        for ((name, _), total) in SERVER_COUNTERS.iter().zip(&mut totals) {
            let counts: Vec<f64> = text
                .lines()
                .filter(|line| {
                    line.strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with(['{', ' ']))
                })
                .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
                .collect();
            if counts.is_empty() {
                return None;
            }
            *total += counts.iter().sum::<f64>();
        }
    }
    Some(totals)
}

/// Placers first, then one observer per target (its first client that does
/// not place), and the last `track` clients keep a canvas. With `--view`,
/// each watches a random area of that side (the observers the one at the
/// origin).
/// How often one client posts a chat message at most (`--chat-rate`).
const CHAT_EVERY: Duration = Duration::from_secs(2);

fn role(
    options: &Options,
    index: usize,
    target_has_observer: &mut bool,
    canvas: CanvasSize,
) -> Role {
    let placers = options.placers;
    let place = (index < placers).then(|| {
        if options.rate > 0.0 {
            let every = Duration::from_secs_f64(placers as f64 / options.rate);
            Pace::Every {
                every,
                offset: every.mul_f64(index as f64 / placers as f64),
            }
        } else {
            Pace::Window(options.window)
        }
    });
    let observer = index >= placers && !*target_has_observer;
    *target_has_observer |= observer;
    let watching = options.view > 0;
    let side = options.view;
    let observed = Area { x0: 0, y0: 0, side };
    let view = watching.then(|| {
        if observer {
            return observed;
        }
        let mut rng = SmallRng::seed_from_u64(index as u64);
        let mut start = |extent: u16| rng.random_range(0..=u32::from(extent).saturating_sub(side));
        let x0 = start(canvas.width);
        Area {
            x0,
            y0: start(canvas.height),
            side,
        }
    });
    // Chat from the clients after the placers, each one message per
    // `CHAT_EVERY` at most (the server lets a connection post one a second).
    let chatters = if options.chat_rate > 0.0 {
        ((options.chat_rate * CHAT_EVERY.as_secs_f64()).ceil() as usize)
            .min(options.clients - placers)
    } else {
        0
    };
    let chat = (index >= placers && index < placers + chatters).then(|| {
        let every = Duration::from_secs_f64(chatters as f64 / options.chat_rate);
        Pace::Every {
            every,
            offset: every.mul_f64((index - placers) as f64 / chatters as f64),
        }
    });
    Role {
        chat,
        place,
        observer,
        tracked: index >= options.clients - options.track,
        colors: options.colors,
        view,
        observed: watching.then_some(observed),
    }
}

async fn info(http: &reqwest::Client, target: &str) -> Result<Value, String> {
    let response = http
        .get(format!("{target}/api/info"))
        .send()
        .await
        .map_err(|e| format!("{target}/api/info: {e}"))?;
    let text = response.text().await.map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("{target}/api/info: {e}"))
}

/// Waits until no tile arrived for `quiet`; returns how long that took.
async fn wait_for_quiet(counters: &Counters, quiet: Duration, timeout: Duration) -> Option<f64> {
    let started = Instant::now();
    let mut tiles = counters.totals().get(Count::Tiles);
    let mut since = Instant::now();
    while started.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = counters.totals().get(Count::Tiles);
        if now != tiles {
            (tiles, since) = (now, Instant::now());
        } else if since.elapsed() >= quiet {
            return Some(round3(started.elapsed().as_secs_f64()));
        }
    }
    None
}

fn progress(options: &Options, what: &str, shared: &Shared, started: Instant) {
    if options.progress {
        let totals = shared.counters.totals();
        eprintln!(
            "canvas-load: {:6.1} s {what}: {} accepted, {} tiles received, {} disconnects",
            started.elapsed().as_secs_f64(),
            totals.get(Count::Accepted),
            totals.get(Count::Tiles),
            totals.get(Count::Disconnects),
        );
    }
}

fn figures(
    options: &Options,
    shared: &Shared,
    before: &Sample,
    window: &Sample,
    end: &Sample,
    reports: &mut [(usize, Report)],
) -> Value {
    let seconds = end.at.duration_since(window.at).as_secs_f64();
    let counted = end.totals.since(&window.totals);
    let per_s = |count: Count| round3(counted.get(count) as f64 / seconds);

    let mut acks = Latencies::default();
    let mut visible = Latencies::default();
    let mut chat_seen = Latencies::default();
    let mut unmatched = 0;
    let targets = options.targets.len();
    for (index, report) in reports.iter_mut() {
        acks.0.append(&mut report.acks.0);
        chat_seen.0.append(&mut report.chat_seen.0);
        // Seen at the next target (the same one when there is one).
        let seen = &shared.seen[(*index % targets + 1) % targets];
        for &(seq, sent) in &report.placed {
            match seen.get(seq) {
                Some(at) if at >= sent => visible.0.push((at - sent) as f64 / 1000.0),
                _ => unmatched += 1,
            }
        }
    }
    let connected = reports.iter().filter(|(_, r)| r.connected).count();
    let accepted = per_s(Count::Accepted);
    // Every tile to every client, or its view's share of them.
    let shares: f64 = reports
        .iter()
        .filter(|(_, r)| r.connected)
        .map(|(_, r)| r.share)
        .sum();
    let expected_tiles = accepted * shares;

    let cpu = |a: &Option<Process>, b: &Option<Process>| match (a, b) {
        (Some(a), Some(b)) => round3((b.cpu - a.cpu) / seconds),
        _ => 0.0,
    };
    let server_cpu: f64 = window
        .servers
        .iter()
        .zip(&end.servers)
        .map(|(a, b)| cpu(a, b))
        .sum();
    let rss: Vec<Value> = options
        .pids
        .iter()
        .zip(before.servers.iter().zip(&end.servers))
        .map(|(pid, (start, end))| {
            json!({"pid": pid, "start": start.map(|p| p.rss), "end": end.map(|p| p.rss)})
        })
        .collect();
    let rss_growth: i64 = before
        .servers
        .iter()
        .zip(&end.servers)
        .filter_map(|(a, b)| Some(b.as_ref()?.rss as i64 - a.as_ref()?.rss as i64))
        .sum();
    let busy = match (window.machine, end.machine) {
        (Some((busy_a, total_a)), Some((busy_b, total_b))) if total_b > total_a => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            round3((busy_b - busy_a) as f64 / (total_b - total_a) as f64 * cores)
        }
        _ => 0.0,
    };
    let all = end.totals;
    let (gap, gap_from) = {
        let longest = shared.longest_gap.load(Ordering::Relaxed);
        let from = shared.longest_gap_from.load(Ordering::Relaxed);
        let last = shared.last_accepted.load(Ordering::Relaxed);
        let window_end = shared.window_end.load(Ordering::Relaxed);
        if window_end.saturating_sub(last) > longest {
            (window_end - last, last)
        } else {
            (longest, from)
        }
    };
    json!({
        "targets": options.targets,
        "clients": options.clients,
        "placers": options.placers,
        "rate": options.rate,
        "window": options.window,
        "duration_s": round3(seconds),
        "connected": connected,
        "up_at_end": reports.iter().filter(|(_, r)| r.up).count(),
        "disconnects": all.get(Count::Disconnects),
        "sent_per_s": per_s(Count::Sent),
        "accepted_per_s": accepted,
        "refused_per_s": {
            "cooldown": per_s(Count::Cooldown),
            "invalid": per_s(Count::Invalid),
            "rate_limited": per_s(Count::RateLimited),
            "not_allowed": per_s(Count::NotAllowed),
            "unconfirmed": per_s(Count::Unconfirmed),
            "other": per_s(Count::OtherRefusal),
        },
        "tiles_frames_per_s": per_s(Count::TilesFrames),
        "tiles_per_s": per_s(Count::Tiles),
        "expected_tiles_per_s": round3(expected_tiles),
        "delivery_ratio": if expected_tiles > 0.0 { round3(per_s(Count::Tiles) / expected_tiles) } else { 0.0 },
        "ack_ms": acks.summary(),
        // The longest wait between two accepted placements over the whole
        // run, or from the last one to the window's end if placing never
        // came back, and when it began (s since the start): an outage.
        "accepted_gap_max_ms": round3(gap as f64 / 1000.0),
        "accepted_gap_from_s": round3(gap_from as f64 / 1e6),
        "visible_ms": visible.summary(),
        "visible_unmatched": unmatched,
        "gaps": all.get(Count::Gaps),
        "missing_tiles": all.get(Count::MissingTiles),
        "dup_tiles": all.get(Count::DupTiles),
        "resyncs": all.get(Count::Resyncs),
        "error_frames": all.get(Count::ErrorFrames),
        "bad_frames": all.get(Count::BadFrames),
        "presence_frames": all.get(Count::PresenceFrames),
        "chat_sent_per_s": per_s(Count::ChatSent),
        "chat_posted_per_s": per_s(Count::ChatPosted),
        "chat_refused": all.get(Count::ChatRefused),
        "chat_lines_per_s": per_s(Count::ChatLines),
        // From a line's posting to its arrival at the observers, and the
        // lines they missed (a count that does not depend on the window's
        // edges, unlike the rates above).
        "chat_seen_ms": chat_seen.summary(),
        "chat_missed": reports.iter().map(|(_, r)| r.chat_missed).sum::<u64>(),
        "errors": reports.iter().flat_map(|(_, r)| r.errors.iter().cloned()).take(10).collect::<Vec<_>>(),
        "server": {
            "cpu_cores": round3(server_cpu),
            "rss": rss,
            "rss_bytes_per_conn": if connected > 0 { (rss_growth as f64 / connected as f64).round() } else { 0.0 },
        },
        "loadgen": {
            "cpu_cores": cpu(&window.me, &end.me),
            "rss": end.me.map(|p| p.rss),
        },
        "machine": { "busy_cores": busy },
    })
}

type Snapshot = Option<(Vec<u8>, u64, u64)>;

/// Every target's snapshot once they all hold at least `newest` (what the
/// clients reached) and agree. A cache in front may answer an older one for
/// a second or two after the load stops, as any client would see: ask
/// again until then (or the timeout).
async fn final_snapshots(
    http: &reqwest::Client,
    targets: &[String],
    newest: u64,
    timeout: Duration,
) -> Vec<Snapshot> {
    let started = Instant::now();
    loop {
        let mut snapshots = Vec::new();
        for target in targets {
            snapshots.push(client::snapshot(http, &format!("{target}/api/canvas")).await);
        }
        let settled = snapshots
            .iter()
            .all(|s| s.as_ref().is_some_and(|s| s.1 >= newest))
            && snapshots.windows(2).all(|w| w[0] == w[1]);
        if settled || started.elapsed() >= timeout {
            return snapshots;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Watching chunks: every chunk each tracked client holds as current equals
/// its target's `/api/chunks` (clients do not all end at the final seq:
/// a client's cursor moves only with tiles in its chunks).
async fn verify_chunks(
    http: &reqwest::Client,
    options: &Options,
    reports: &[(usize, Report)],
    quiet_wait: Option<f64>,
) -> (Value, bool) {
    let mut problems = Vec::new();
    if quiet_wait.is_none() {
        problems.push(format!(
            "tiles still arrived after {:?}",
            options.verify_timeout
        ));
    }
    let (mut checked, mut equal, mut tracked) = (0, 0, 0);
    for (index, report) in reports.iter().filter(|(_, r)| r.up) {
        let Some(chunks) = &report.chunks else {
            continue;
        };
        tracked += 1;
        let target = &options.targets[index % options.targets.len()];
        for (chunk, pixels) in chunks {
            checked += 1;
            let url = format!("{target}/api/chunks/{}/{}", chunk.cx, chunk.cy);
            match view::fetch_chunk(http, &url).await {
                Some((served, ..)) if served == *pixels => equal += 1,
                _ => problems.push(format!("{target}: chunk {},{} differs", chunk.cx, chunk.cy)),
            }
        }
    }
    if options.track > 0 && checked == 0 {
        problems.push("no tracked client finished with a chunk".into());
    }
    let converged = problems.is_empty();
    (
        json!({
            "converged": converged,
            "clients_up": reports.iter().filter(|(_, r)| r.up).count(),
            "tracked_checked": tracked,
            "chunks_checked": checked,
            "chunks_equal": equal,
            "quiet_wait_s": quiet_wait,
            "problems": problems,
        }),
        converged,
    )
}

/// Every target answers the same canvas, every tracked client holds it, and
/// every client still connected is at its seq.
fn verify_run(
    options: &Options,
    reports: &[(usize, Report)],
    snapshots: &[Snapshot],
    quiet_wait: Option<f64>,
) -> (Value, bool) {
    let mut problems = Vec::new();
    if quiet_wait.is_none() {
        problems.push(format!(
            "tiles still arrived after {:?}",
            options.verify_timeout
        ));
    }
    let reference = snapshots.first().cloned().flatten();
    for (target, snapshot) in options.targets.iter().zip(snapshots) {
        match (snapshot, &reference) {
            (None, _) => problems.push(format!("{target}: no snapshot")),
            (Some(s), Some(r)) if s.0 != r.0 || s.1 != r.1 => {
                problems.push(format!(
                    "{target}: differs from {} (seq {} vs {})",
                    options.targets[0], s.1, r.1
                ));
            }
            _ => {}
        }
    }
    let final_seq = reference.as_ref().map(|r| r.1);
    let up: Vec<&Report> = reports.iter().map(|(_, r)| r).filter(|r| r.up).collect();
    let at_final = up.iter().filter(|r| Some(r.last_seq) == final_seq).count();
    if at_final != up.len() {
        problems.push(format!(
            "{} of {} clients are not at the final seq",
            up.len() - at_final,
            up.len()
        ));
    }
    let tracked: Vec<&Report> = up.iter().copied().filter(|r| r.canvas.is_some()).collect();
    let equal = tracked
        .iter()
        .filter(|r| {
            reference
                .as_ref()
                .is_some_and(|s| r.canvas.as_deref() == Some(&s.0[..]))
        })
        .count();
    if equal != tracked.len() {
        problems.push(format!(
            "{} of {} tracked canvases differ",
            tracked.len() - equal,
            tracked.len()
        ));
    }
    if options.track > 0 && tracked.is_empty() {
        problems.push("no tracked client finished with a canvas".into());
    }
    let converged = problems.is_empty();
    (
        json!({
            "converged": converged,
            "final_seq": final_seq,
            "clients_up": up.len(),
            "clients_at_final_seq": at_final,
            "tracked_checked": tracked.len(),
            "tracked_equal": equal,
            "quiet_wait_s": quiet_wait,
            "problems": problems,
        }),
        converged,
    )
}
