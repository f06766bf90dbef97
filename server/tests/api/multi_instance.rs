//! Several instances sharing one real Redis: delivery across instances,
//! convergence, and recovery from a killed subscription, trimmed history
//! and a Redis restart.

use crate::{
    helpers::{
        assert_converged, keys, metric, place_randomly, snapshots_at, spawn_app, wait_ready,
        TestApp, WsClient,
    },
    redis_server::RedisServer,
};
use app::protocol::{PlaceStatus, ServerMessage, Tile};
use std::time::{Duration, Instant};

/// Starts `n` instances on one Redis, each with its own memory.
async fn instances(redis: &RedisServer, n: usize, extra: &[(&str, &str)]) -> Vec<TestApp> {
    let url = redis.url();
    let mut apps = Vec::new();
    for _ in 0..n {
        let mut vars = vec![("REDIS_URL", url.as_str())];
        vars.extend_from_slice(extra);
        apps.push(spawn_app(&vars).await);
    }
    for app in &apps {
        wait_ready(app).await;
    }
    apps
}

#[tokio::test]
async fn a_place_through_each_instance_reaches_clients_of_all_three() {
    let redis = RedisServer::start().await;
    let apps = instances(&redis, 3, &[]).await;
    let mut clients = Vec::new();
    for app in &apps {
        clients.push(app.ws().await);
    }
    for (i, client) in clients.iter_mut().enumerate() {
        client.place(i as u16, 0, 5).await;
    }
    for client in &mut clients {
        let mut accepted = false;
        let mut seen = Vec::new();
        while !accepted || seen.len() < 3 {
            match client.recv().await {
                ServerMessage::PlaceResult { status, .. } => {
                    assert_eq!(status, PlaceStatus::Accepted);
                    accepted = true;
                }
                ServerMessage::Tiles { first_seq, tiles } => seen.extend((first_seq..).zip(tiles)),
                _ => {}
            }
        }
        seen.sort_by_key(|(seq, _)| *seq);
        let seqs: Vec<u64> = seen.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        let mut xs: Vec<u16> = seen.iter().map(|(_, tile)| tile.x).collect();
        xs.sort();
        assert_eq!(xs, vec![0, 1, 2]);
    }
    // Who and when, from Redis, on any instance.
    let pixel = apps[2].json("/api/pixel?x=0&y=0").await;
    assert_eq!(pixel["color"], 5);
    assert!(pixel["placed_at"].is_string());
    assert!(pixel["seq"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn many_clients_on_three_instances_converge() {
    let redis = RedisServer::start().await;
    let apps = instances(&redis, 3, &[]).await;
    let tasks: Vec<_> = (0..6)
        .map(|i| tokio::spawn(place_randomly(apps[i % 3].api.clone(), i as u64, 80)))
        .collect();
    let mut clients = Vec::new();
    for task in tasks {
        let (ws, replica, accepted) = task.await.unwrap();
        assert_eq!(accepted.len(), 80);
        clients.push((ws, replica));
    }
    assert_eq!(redis.newest_seq().await, 480);
    assert_converged(&redis, &apps, clients).await;
}

#[tokio::test]
async fn killing_the_subscriptions_mid_stream_loses_nothing() {
    let redis = RedisServer::start().await;
    let apps = instances(&redis, 3, &[]).await;
    let tasks: Vec<_> = (0..3)
        .map(|i| tokio::spawn(place_randomly(apps[i].api.clone(), 10 + i as u64, 150)))
        .collect();
    // Kill every instance's subscription a few times while tiles flow.
    let mut control = redis.connect().await;
    let mut killed = 0;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        let now: u64 = redis::cmd("CLIENT")
            .arg(&["KILL", "TYPE", "pubsub"])
            .query_async(&mut control)
            .await
            .unwrap();
        assert!(now <= 3, "one subscription per instance, not {now}");
        killed += now;
    }
    // The fault happened: every instance lost its subscription at least
    // once (the first round finds all three subscribed).
    assert!(killed >= 3, "only {killed} subscriptions killed");
    let mut clients = Vec::new();
    for task in tasks {
        let (ws, replica, _) = task.await.unwrap();
        clients.push((ws, replica));
    }
    assert_converged(&redis, &apps, clients).await;
    // Recovery: every instance is ready again.
    for app in &apps {
        wait_ready(app).await;
    }
}

/// One instance loses its connection (its ACL user is switched off) while
/// the others place tiles and the history is trimmed: when it comes back,
/// history cannot bridge the gap, so it reloads and tells its clients.
#[tokio::test]
async fn an_instance_lagging_past_the_history_reloads() {
    let redis = RedisServer::start().await;
    let mut control = redis.connect().await;
    let _: () = redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            "lagger",
            "on",
            ">lag-secret",
            "~*",
            "&*",
            "+@all",
        ])
        .query_async(&mut control)
        .await
        .unwrap();
    let url = redis.url();
    let lagging = spawn_app(&[
        ("REDIS_URL", url.as_str()),
        ("REDIS_USERNAME", "lagger"),
        ("REDIS_PASSWORD", "lag-secret"),
    ])
    .await;
    let others = instances(&redis, 1, &[]).await;
    wait_ready(&lagging).await;
    let mut watcher = lagging.ws().await;
    let mut replica = crate::helpers::Replica::start(&lagging.api, &mut watcher).await;

    // Cut the lagging instance off.
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "lagger", "off"])
        .query_async(&mut control)
        .await
        .unwrap();
    let _: u64 = redis::cmd("CLIENT")
        .arg(&["KILL", "USER", "lagger"])
        .query_async(&mut control)
        .await
        .unwrap();
    let (_, _, accepted) = place_randomly(others[0].api.clone(), 99, 40).await;
    assert_eq!(accepted.len(), 40);
    let _: u64 = redis::cmd("XTRIM")
        .arg(keys().history)
        .arg(&["MAXLEN", "0"])
        .query_async(&mut control)
        .await
        .unwrap();
    place_randomly(others[0].api.clone(), 100, 5).await;
    let readiness = lagging.get("/readyz").await;
    assert_eq!(readiness.status(), 200, "it still serves its canvas");
    let readiness: serde_json::Value = readiness.json().await.unwrap();
    assert_eq!(
        readiness["placing"], false,
        "an instance cut off from Redis says it cannot place"
    );

    // Let it back in: it must reload and converge.
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", "lagger", "on"])
        .query_async(&mut control)
        .await
        .unwrap();
    let recovered = wait_ready(&lagging).await;
    println!("lagging instance ready again {recovered:?} after its user was re-enabled");
    let mut watcher = watcher;
    let seq = redis.newest_seq().await;
    replica.settle(&mut watcher, seq).await;
    assert!(replica.pixels == redis.pixels().await);
    let metrics = lagging.get("/metrics").await.text().await.unwrap();
    assert!(
        metric(&metrics, "canvas_feed_reloads_total") >= 1.0,
        "it reloaded"
    );
    let mut all = others;
    all.push(lagging);
    snapshots_at(&all, seq).await;
}

#[tokio::test]
async fn a_redis_restart_fails_placements_cleanly_and_loses_nothing() {
    let mut redis = RedisServer::start().await;
    let apps = instances(&redis, 2, &[]).await;

    // Tiles at distinct pixels, acknowledged before Redis stops.
    let mut placer = apps[0].ws().await;
    let mut acknowledged = Vec::new();
    for x in 0..20u16 {
        let tile = Tile { x, y: 3, color: 9 };
        placer.place(tile.x, tile.y, tile.color).await;
        let (status, seq, _) = placer.place_result().await;
        assert_eq!(status, PlaceStatus::Accepted);
        acknowledged.push((seq, tile));
    }
    let mut watcher = apps[1].ws().await;
    let mut replica = crate::helpers::Replica::start(&apps[1].api, &mut watcher).await;

    redis.stop().await;
    // A placement answers promptly with a clear refusal; reads go on.
    let asked = Instant::now();
    placer.place(30, 30, 1).await;
    let (status, _, retry_after_ms) = placer.place_result().await;
    assert_eq!(status, PlaceStatus::NotAllowed);
    assert!(retry_after_ms > 0);
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "took {:?}",
        asked.elapsed()
    );
    // Readiness is per instance: each still serves its page and snapshot,
    // and stays in its load balancer, saying it cannot place.
    for app in &apps {
        assert_eq!(app.get("/api/canvas").await.status(), 200);
        assert_eq!(app.get("/").await.status(), 200);
        let readiness = app.get("/readyz").await;
        assert_eq!(readiness.status(), 200);
        let readiness: serde_json::Value = readiness.json().await.unwrap();
        assert_eq!(
            (readiness["store"].clone(), readiness["placing"].clone()),
            (false.into(), false.into())
        );
    }

    redis.restart().await;
    let restarted = Instant::now();
    for app in &apps {
        wait_ready(app).await;
    }
    println!(
        "instances ready {:?} after Redis restarted",
        restarted.elapsed()
    );
    placer.place(40, 4, 2).await;
    assert_eq!(placer.place_result().await.0, PlaceStatus::Accepted);

    let pixels = redis.pixels().await;
    for (_, tile) in &acknowledged {
        assert_eq!(
            pixels[usize::from(tile.y) * 64 + usize::from(tile.x)],
            tile.color
        );
    }
    let seq = redis.newest_seq().await;
    assert_eq!(seq, 21, "the seq survived the restart");
    let mut watcher = watcher;
    replica.settle(&mut watcher, seq).await;
    assert!(replica.pixels == pixels);
    snapshots_at(&apps, seq).await;
}

/// Reads frames until a `Presence` frame says `online`.
async fn wait_for_presence(ws: &mut WsClient, online: u32) {
    let start = Instant::now();
    loop {
        if let ServerMessage::Presence { online: now } = ws.recv().await {
            if now == online {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "presence never reached {online}"
        );
    }
}

#[tokio::test]
async fn presence_counts_users_across_instances_and_forgets_a_dead_one() {
    let redis = RedisServer::start().await;
    let mut apps = instances(&redis, 3, &[]).await;
    let mut a1 = apps[0].ws().await;
    let a2 = apps[0].ws().await;
    let mut b = apps[1].ws().await;
    let mut c = apps[2].ws().await;
    wait_for_presence(&mut a1, 4).await;
    wait_for_presence(&mut b, 4).await;
    wait_for_presence(&mut c, 4).await;
    assert_eq!(apps[2].json("/api/info").await["online"], 4);

    drop(a2);
    wait_for_presence(&mut b, 3).await;

    // Instance C stops reporting (as a dead one would): its user stops
    // counting once its report expires.
    let died = Instant::now();
    let mut instance_c = apps.pop().unwrap();
    instance_c.stop();
    wait_for_presence(&mut a1, 2).await;
    println!(
        "a dead instance's users stopped counting after {:?}",
        died.elapsed()
    );
    wait_for_presence(&mut b, 2).await;
}

/// Placements that wait on an instance together go to Redis in one script
/// call. Within it each is still judged on its own, in order: of a burst
/// of Place frames from one session only the first is accepted, and every
/// session of the burst gets its own answer.
#[tokio::test]
async fn a_burst_is_placed_in_one_call_yet_each_placement_is_judged_alone() {
    let redis = RedisServer::start().await;
    let apps = instances(&redis, 1, &[("COOLDOWN_MS", "60000")]).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(apps[0].ws().await);
    }
    // Everything is sent before any answer is read, so the placements
    // queue up together on the instance.
    for (i, client) in clients.iter_mut().enumerate() {
        for x in 0..5 {
            client.place(x, i as u16, 3).await;
        }
    }
    let mut accepted = Vec::new();
    for client in &mut clients {
        let (status, seq, _) = client.place_result().await;
        assert_eq!(status, PlaceStatus::Accepted, "each session's first");
        accepted.push(seq);
        for _ in 1..5 {
            let (status, _, retry_after_ms) = client.place_result().await;
            assert_eq!(status, PlaceStatus::Cooldown, "then its cooldown, in order");
            assert!(retry_after_ms > 55_000, "{retry_after_ms}");
        }
    }
    accepted.sort_unstable();
    assert_eq!(accepted, [1, 2, 3, 4], "consecutive seqs, none lost");
    let expected = redis.pixels().await;
    assert_eq!(snapshots_at(&apps, 4).await, [expected]);
}

#[tokio::test]
async fn one_session_has_one_cooldown_and_name_on_every_instance() {
    let redis = RedisServer::start().await;
    let apps = instances(&redis, 3, &[("COOLDOWN_MS", "60000")]).await;
    let mut on_a = apps[0].ws().await;
    let cookie = on_a.new_session.clone().expect("a session cookie");
    let named = apps[1]
        .http
        .post(apps[1].url("/api/name"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({ "name": "Grace" }))
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);

    on_a.place(7, 7, 7).await;
    assert_eq!(on_a.place_result().await.0, PlaceStatus::Accepted);
    let mut on_b = WsClient::with_session(&apps[1].api, &cookie).await;
    on_b.place(8, 8, 8).await;
    let (status, _, retry_after_ms) = on_b.place_result().await;
    assert_eq!(status, PlaceStatus::Cooldown);
    assert!(retry_after_ms > 55_000, "{retry_after_ms}");
    // Reconnecting does not dodge it either.
    drop(on_b);
    let mut again = WsClient::with_session(&apps[2].api, &cookie).await;
    again.place(9, 9, 9).await;
    assert_eq!(again.place_result().await.0, PlaceStatus::Cooldown);

    assert_eq!(
        apps[2].json("/api/pixel?x=7&y=7").await["placed_by"],
        "Grace"
    );
}

#[tokio::test]
async fn resume_on_another_instance_gets_exactly_the_missed_tiles_or_resync() {
    use app::protocol::ClientMessage;
    let redis = RedisServer::start().await;
    // The instances remember fewer tiles than the client misses, so the
    // store's history answers.
    let apps = instances(&redis, 2, &[("RECENT_TILES", "50")]).await;
    let mut leaving = apps[0].ws().await;
    leaving.place(0, 0, 1).await;
    let (_, last_seq, _) = leaving.place_result().await;
    let epoch = leaving.hello.epoch;
    drop(leaving);

    let (_, _, missed) = place_randomly(apps[0].api.clone(), 5, 100).await;
    assert_eq!(missed.len(), 100);
    // Wait until the other instance has them all.
    snapshots_at(&apps[1..], last_seq + 100).await;

    let mut back = apps[1].ws().await;
    back.send(ClientMessage::Resume { epoch, last_seq }).await;
    let mut received = Vec::new();
    while received.len() < missed.len() {
        if let ServerMessage::Tiles { first_seq, tiles } = back.recv().await {
            assert_eq!(
                first_seq,
                last_seq + 1 + received.len() as u64,
                "in order, once"
            );
            received.extend(tiles);
        }
    }
    let expected: Vec<Tile> = missed.iter().map(|(_, tile)| *tile).collect();
    assert_eq!(received, expected);

    // Once history is trimmed past it, the same Resume gets Resync.
    let mut control = redis.connect().await;
    let _: u64 = redis::cmd("XTRIM")
        .arg(keys().history)
        .arg(&["MAXLEN", "0"])
        .query_async(&mut control)
        .await
        .unwrap();
    let mut late = apps[1].ws().await;
    late.send(ClientMessage::Resume { epoch, last_seq }).await;
    loop {
        match late.recv().await {
            ServerMessage::Resync { epoch: now, seq } => {
                assert_eq!((now, seq), (epoch, last_seq + 100));
                break;
            }
            ServerMessage::Tiles { .. } => panic!("tiles from a trimmed history"),
            _ => continue,
        }
    }
}

/// Pub/Sub is at-most-once: an instance that never hears of a change (here
/// a new epoch written with no message, as when its feed sat on a demoted
/// master) still finds it within seconds, with no placement to reveal it,
/// and tells its clients to reload.
#[tokio::test]
async fn an_instance_notices_a_change_it_was_never_told_of() {
    let redis = RedisServer::start().await;
    let apps = instances(&redis, 1, &[]).await;
    let mut ws = apps[0].ws().await;
    ws.place(1, 1, 3).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
    ws.wait_for_seq(1).await;
    let mut control = redis.connect().await;
    let _: () = redis::cmd("SET")
        .arg(keys().epoch)
        .arg("12345")
        .query_async(&mut control)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no Resync for the new epoch"
        );
        if let ServerMessage::Resync { epoch, seq } = ws.recv().await {
            assert_eq!((epoch, seq), (12345, 1));
            break;
        }
    }
    println!("noticed an unannounced epoch after {:?}", started.elapsed());
}

#[tokio::test]
async fn another_canvas_on_redis_keeps_its_own_keys_and_reaches_every_instance() {
    let redis = RedisServer::start().await;
    let apps = instances(
        &redis,
        2,
        &[("CANVASES", "moon:300x200:0"), ("COOLDOWN_MS", "0")],
    )
    .await;
    let mut placer = WsClient::open_path(&apps[0], "/c/moon/ws", &[])
        .await
        .unwrap();
    let mut watcher = WsClient::open_path(&apps[1], "/c/moon/ws", &[])
        .await
        .unwrap();
    placer.place(250, 150, 5).await;
    assert_eq!(placer.place_result().await.0, PlaceStatus::Accepted);
    watcher.wait_for_seq(1).await;
    let mut control = redis.connect().await;
    let (moon, default): (bool, bool) = redis::pipe()
        .exists("canvas:c:moon:chunks")
        .exists("canvas:chunks")
        .query_async(&mut control)
        .await
        .unwrap();
    assert!(
        moon && !default,
        "its own keys: moon {moon}, default {default}"
    );
    let (pixels, seq) = apps[1].canvas().await;
    assert_eq!((seq, pixels.iter().filter(|&&p| p != 0).count()), (0, 0));
    let moon_pixels = apps[1]
        .get("/c/moon/api/canvas")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(moon_pixels[150 * 300 + 250], 5);
}
