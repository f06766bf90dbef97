//! Nothing acknowledged is lost: a placement is accepted only once a
//! replica has it, a master that dies or hangs right after is replaced
//! without losing any, an instance whose feed froze notices and catches up
//! alone, and what cannot be confirmed is said to be unknown.

use crate::{
    helpers::{
        assert_converged, eventually, metric, place_randomly, spawn_app, wait_ready, Replica,
        TestApp, WsClient, WAIT,
    },
    proxy::FreezableProxy,
    redis_server::{RedisServer, ReplicatedRedis},
};
use app::protocol::{PlaceStatus, ServerMessage, Tile};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

/// A placement's answer must come within this, whatever Redis does.
const PROMPT: Duration = Duration::from_secs(3);

/// Instances that find the master through the set's Sentinels.
async fn instances_of(redis: &ReplicatedRedis, n: usize) -> Vec<TestApp> {
    let sentinels = redis.sentinel_list();
    let mut apps = Vec::new();
    for _ in 0..n {
        apps.push(spawn_app(&[("REDIS_SENTINELS", sentinels.as_str())]).await);
    }
    for app in &apps {
        wait_ready(app).await;
    }
    apps
}

/// Places a tile and returns its status, which must come promptly.
async fn place_promptly(ws: &mut WsClient, tile: Tile) -> PlaceStatus {
    let asked = Instant::now();
    ws.place(tile.x, tile.y, tile.color).await;
    let (status, _, _) = ws.place_result().await;
    assert!(
        asked.elapsed() < PROMPT,
        "a placement took {:?} to answer",
        asked.elapsed()
    );
    status
}

/// Places the same tile again and again until it is accepted; until then
/// each answer must be prompt, and a refusal or an unknown, never anything
/// else.
async fn placements_resume(ws: &mut WsClient, tile: Tile, within: Duration) {
    let ws = Mutex::new(ws);
    eventually(
        "placements are accepted again",
        within,
        Duration::from_millis(200),
        || async {
            let status = place_promptly(*ws.lock().await, tile).await;
            assert!(
                matches!(
                    status,
                    PlaceStatus::Accepted | PlaceStatus::NotAllowed | PlaceStatus::Unknown
                ),
                "{status:?}"
            );
            (status == PlaceStatus::Accepted).then_some(())
        },
    )
    .await;
}

/// Every acknowledged placement is in the store's history, at its seq.
async fn assert_kept(redis: &RedisServer, acknowledged: &[(u64, Tile)]) {
    let history = redis.history().await;
    for (seq, tile) in acknowledged {
        assert_eq!(
            history.get(seq),
            Some(tile),
            "acknowledged placement {seq} lost"
        );
    }
}

async fn epoch(app: &TestApp) -> String {
    app.json("/api/info").await["epoch"]
        .as_str()
        .expect("the epoch")
        .to_owned()
}

#[tokio::test]
async fn acknowledged_placements_survive_a_failover_right_after_them() {
    let mut redis = ReplicatedRedis::start().await;
    let apps = instances_of(&redis, 2).await;
    let before = epoch(&apps[0]).await;

    let (placer, copy, acknowledged) = place_randomly(apps[0].api.clone(), 21, 30).await;
    assert_eq!(acknowledged.len(), 30, "the replica is there: all accepted");
    // Probes go through a client of their own: the placer's copy of the
    // canvas must see every frame, which waiting for answers would skip.
    let mut prober = apps[0].ws().await;
    // The master dies the moment the last one is acknowledged: no time for
    // the replica to catch up on anything it did not already have.
    redis.master.kill();
    let probe = Tile {
        x: 63,
        y: 31,
        color: 30,
    };
    assert_ne!(
        place_promptly(&mut prober, probe).await,
        PlaceStatus::Accepted
    );

    redis.wait_for_master(&redis.replica).await;
    // Promoted, but without a replica of its own: it refuses writes.
    assert_ne!(
        place_promptly(&mut prober, probe).await,
        PlaceStatus::Accepted
    );

    // The old master comes back (a restart policy) as the new one's
    // replica, as redis/data-node.sh starts it.
    redis.master.restart_replica_of(&redis.replica).await;
    redis.master.wait_until_in_sync().await;
    placements_resume(&mut prober, probe, Duration::from_secs(30)).await;

    assert_kept(&redis.replica, &acknowledged).await;
    assert_eq!(
        epoch(&apps[1]).await,
        before,
        "no new epoch: nothing went back"
    );
    let mut watcher = apps[1].ws().await;
    let watcher_copy = Replica::start(&apps[1].api, &mut watcher).await;
    assert_converged(
        &redis.replica,
        &apps,
        vec![(placer, copy), (watcher, watcher_copy)],
    )
    .await;
}

#[tokio::test]
async fn without_its_replica_the_master_refuses_placements_until_it_returns() {
    let mut redis = ReplicatedRedis::start().await;
    let apps = instances_of(&redis, 1).await;
    let mut ws = apps[0].ws().await;
    let tile = Tile {
        x: 1,
        y: 2,
        color: 3,
    };
    assert_eq!(place_promptly(&mut ws, tile).await, PlaceStatus::Accepted);

    redis.replica.kill();
    // Refused at once: the master knows its replica is gone. (A placement
    // whose WAIT was already running may come back unknown first.)
    let refused = Mutex::new(&mut ws);
    eventually(
        "placements are refused",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let status = place_promptly(*refused.lock().await, tile).await;
            assert_ne!(status, PlaceStatus::Accepted, "accepted without a replica");
            (status == PlaceStatus::NotAllowed).then_some(())
        },
    )
    .await;
    for _ in 0..3 {
        assert_eq!(place_promptly(&mut ws, tile).await, PlaceStatus::NotAllowed);
    }

    redis.replica.restart().await;
    redis.replica.wait_until_in_sync().await;
    placements_resume(&mut ws, tile, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn a_hung_master_is_replaced_and_nothing_acknowledged_is_lost() {
    let redis = ReplicatedRedis::start().await;
    let apps = instances_of(&redis, 2).await;
    let (placer, copy, acknowledged) = place_randomly(apps[0].api.clone(), 7, 20).await;
    assert_eq!(acknowledged.len(), 20);
    let mut prober = apps[0].ws().await;

    // Stopped, not dead: its connections stay open and silent.
    redis.master.freeze();
    let probe = Tile {
        x: 0,
        y: 31,
        color: 5,
    };
    assert_ne!(
        place_promptly(&mut prober, probe).await,
        PlaceStatus::Accepted
    );
    redis.wait_for_master(&redis.replica).await;
    redis.master.thaw();
    redis.master.wait_until_in_sync().await;
    placements_resume(&mut prober, probe, Duration::from_secs(30)).await;

    assert_kept(&redis.replica, &acknowledged).await;
    for app in &apps {
        wait_ready(app).await;
    }
    let mut watcher = apps[1].ws().await;
    let watcher_copy = Replica::start(&apps[1].api, &mut watcher).await;
    assert_converged(
        &redis.replica,
        &apps,
        vec![(placer, copy), (watcher, watcher_copy)],
    )
    .await;
}

/// Follows `ws` with `copy` until it reaches `seq`; fails on a `Resync`.
async fn follow_without_resync(ws: &mut WsClient, copy: &mut Replica, seq: u64) {
    while copy.at().seq < seq {
        let message = ws.recv().await;
        assert!(
            !matches!(message, ServerMessage::Resync { .. }),
            "a client of a current instance got Resync"
        );
        copy.on(&message, ws).await;
    }
}

#[tokio::test]
async fn an_instance_whose_feed_froze_notices_and_reloads_alone() {
    let redis = RedisServer::start().await;
    let upstream: SocketAddr = format!("127.0.0.1:{}", redis.port).parse().unwrap();
    let proxy = FreezableProxy::start(upstream).await;
    let through_proxy = format!("redis://{}", proxy.addr);
    let lagging = spawn_app(&[("REDIS_URL", through_proxy.as_str()), ("HISTORY_LEN", "10")]).await;
    let steady = spawn_app(&[("REDIS_URL", redis.url().as_str()), ("HISTORY_LEN", "10")]).await;
    for app in [&lagging, &steady] {
        wait_ready(app).await;
    }
    let (placer, placer_copy, _) = place_randomly(steady.api.clone(), 5, 20).await;
    let mut on_lagging = lagging.ws().await;
    let mut lagging_copy = Replica::start(&lagging.api, &mut on_lagging).await;
    lagging_copy.settle(&mut on_lagging, 20).await;
    let mut watcher = steady.ws().await;
    let mut watcher_copy = Replica::start(&steady.api, &mut watcher).await;
    let before = epoch(&steady).await;

    // The network to Redis stops carrying anything, connections open.
    proxy.freeze();
    let frozen = Instant::now();
    eventually(
        "the frozen feed is noticed",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || async {
            let readiness = lagging.json("/readyz").await;
            (readiness["feed"] == false).then_some(())
        },
    )
    .await;
    println!("frozen feed noticed after {:?}", frozen.elapsed());
    // Far past the history it could catch up from.
    let (_, _, placed) = place_randomly(steady.api.clone(), 6, 500).await;
    assert_eq!(placed.len(), 500);
    let newest = redis.newest_seq().await;
    proxy.thaw();
    wait_ready(&lagging).await;

    // It reloaded; nobody else did, and the epoch stayed.
    follow_without_resync(&mut watcher, &mut watcher_copy, newest).await;
    assert_eq!(epoch(&steady).await, before);
    assert_eq!(epoch(&lagging).await, before);
    let reloads = |app: &TestApp| {
        let app = app.api.clone();
        async move {
            let text = app.get("/metrics").await.text().await.unwrap();
            metric(&text, "canvas_feed_reloads_total")
        }
    };
    assert!(
        reloads(&lagging).await >= 1.0,
        "the lagging instance reloaded"
    );
    assert_eq!(reloads(&steady).await, 0.0, "the steady instance did not");
    assert_converged(
        &redis,
        &[lagging, steady],
        vec![
            (on_lagging, lagging_copy),
            (watcher, watcher_copy),
            (placer, placer_copy),
        ],
    )
    .await;
}

#[tokio::test]
async fn shutdown_answers_the_placements_in_flight_before_closing() {
    let redis = ReplicatedRedis::start().await;
    let master = redis.master.url();
    let mut app = spawn_app(&[
        ("REDIS_URL", master.as_str()),
        ("DURABILITY", "replica"),
        ("REPLICA_WAIT_MS", "800"),
    ])
    .await;
    wait_ready(&app).await;
    let mut ws = app.ws().await;
    // A replica that stops acknowledging keeps each batch in its WAIT.
    redis.replica.freeze();
    for x in 0..10 {
        ws.place(x, 0, 1).await;
    }
    // In flight: made on the master, held in the WAIT for the replica.
    eventually(
        "the placements to be made on the master",
        WAIT,
        Duration::from_millis(10),
        || async { (redis.master.newest_seq().await == 10).then_some(()) },
    )
    .await;
    app.stop();

    let mut answers = Vec::new();
    loop {
        match ws.recv_raw().await {
            Some(Message::Binary(data)) => {
                if let Ok(ServerMessage::PlaceResult { status, seq, .. }) =
                    ServerMessage::decode(&data)
                {
                    answers.push((status, seq));
                }
            }
            Some(Message::Close(Some(frame))) => {
                assert_eq!(u16::from(frame.code), 1001);
                break;
            }
            other => panic!("closed without 1001: {other:?}"),
        }
    }
    assert_eq!(answers.len(), 10, "every placement in flight was answered");
    for (status, seq) in answers {
        // Made, but no replica confirmed it.
        assert_eq!(status, PlaceStatus::Unknown);
        assert!(seq > 0);
    }
    redis.replica.thaw();
}

/// A Sentinel that takes connections and never answers (its node gone, its
/// name still resolving) comes first in the list: every lookup gives it its
/// share of the deadline and asks the others, so the instance finds the
/// master and places.
#[tokio::test]
async fn an_unanswering_sentinel_first_in_the_list_does_not_hide_the_master() {
    let redis = ReplicatedRedis::start().await;
    let first = &redis.sentinels[0];
    let upstream: SocketAddr = format!("127.0.0.1:{}", first.port).parse().unwrap();
    let black_hole = FreezableProxy::start(upstream).await;
    black_hole.freeze();
    let sentinels = format!("{},{}", black_hole.addr, redis.sentinel_list());
    let started = Instant::now();
    let app = spawn_app(&[("REDIS_SENTINELS", sentinels.as_str())]).await;
    wait_ready(&app).await;
    println!(
        "found the master past a silent Sentinel in {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut ws = app.ws().await;
    assert_eq!(
        place_promptly(
            &mut ws,
            Tile {
                x: 1,
                y: 2,
                color: 3
            }
        )
        .await,
        PlaceStatus::Accepted
    );
}
