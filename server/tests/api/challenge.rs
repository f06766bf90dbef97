//! One address is one player's worth: hoarded sessions share its budget,
//! a proof-of-work challenge lets the people behind a shared address place
//! on their own, and sessions are not handed out when they cannot be
//! counted.

use crate::{
    helpers::{eventually, metric, spawn_app, spawn_app_as_shipped, Api, WsClient, WAIT},
    redis_server::RedisServer,
};
use app::protocol::PlaceStatus;
use std::time::Duration;

/// Long enough that a round of 30 placements (sequential, on a loaded
/// machine) fits in one budget window.
const COOLDOWN_MS: u64 = 3000;

/// The signed session cookie `GET /` hands out to `address`, if any.
async fn page_load(api: &Api, address: &str) -> Option<String> {
    let response = api.get_with("/", "x-forwarded-for", address).await;
    assert_eq!(response.status(), 200);
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

fn from(address: &str, cookie: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-forwarded-for", address.to_owned()),
        ("cookie", cookie.to_owned()),
    ]
}

/// One placement per session from `address`: the statuses.
async fn place_once_each(api: &Api, address: &str, cookies: &[String]) -> Vec<PlaceStatus> {
    let mut statuses = Vec::new();
    for (n, cookie) in cookies.iter().enumerate() {
        let mut ws = WsClient::open(api, &from(address, cookie)).await.unwrap();
        ws.place(n as u16, 1, 4).await;
        statuses.push(ws.place_result().await.0);
    }
    statuses
}

fn accepted(statuses: &[PlaceStatus]) -> usize {
    statuses
        .iter()
        .filter(|s| **s == PlaceStatus::Accepted)
        .count()
}

/// With the defaults as shipped, a bot that loads the page 35 times from
/// one address (it gets the hour's ceiling of 30 sessions) and places once
/// per session, twice a cooldown apart, places two tiles a cooldown; the
/// rest are asked for a challenge. Twenty people behind one other address
/// who each place once per cooldown all place: those asked solve the
/// challenge once, and place at once, then and a cooldown later.
#[tokio::test]
async fn hoarded_sessions_are_worth_one_player_and_a_shared_address_is_not_punished() {
    let redis = RedisServer::start().await;
    let cooldown = COOLDOWN_MS.to_string();
    let app = spawn_app_as_shipped(&[
        ("REDIS_URL", &redis.url()),
        ("COOLDOWN_MS", &cooldown),
        ("TRUST_FORWARDED_FOR", "true"),
    ])
    .await;

    let bot = "203.0.113.66";
    let mut hoard = Vec::new();
    for _ in 0..35 {
        hoard.extend(page_load(&app.api, bot).await);
    }
    assert_eq!(hoard.len(), 30, "the hour's ceiling of new sessions");
    let first = place_once_each(&app.api, bot, &hoard).await;
    tokio::time::sleep(Duration::from_millis(COOLDOWN_MS + 100)).await;
    let second = place_once_each(&app.api, bot, &hoard).await;
    let placed = accepted(&first) + accepted(&second);
    println!("hoarding: {placed} of 60 placed");
    assert!(placed <= 4, "{placed} of 60: {first:?} {second:?}");
    assert!(first[2..]
        .iter()
        .all(|s| *s == PlaceStatus::ChallengeRequired));

    let office = "198.51.100.20";
    let mut people = Vec::new();
    for _ in 0..20 {
        people.push(page_load(&app.api, office).await.expect("a session each"));
    }
    let mut solved = vec![false; people.len()];
    for round in 0..2 {
        for (n, cookie) in people.iter().enumerate() {
            let mut ws = WsClient::open(&app.api, &from(office, cookie))
                .await
                .unwrap();
            ws.place(n as u16, 10 + round, 6).await;
            let mut status = ws.place_result().await.0;
            if status == PlaceStatus::ChallengeRequired {
                assert!(
                    !solved[n],
                    "person {n}: a verified session is not asked again"
                );
                solved[n] = true;
                assert_eq!(app.api.solve_challenge(&from(office, cookie)).await, 200);
                ws.place(n as u16, 10 + round, 6).await;
                status = ws.place_result().await.0;
            }
            assert_eq!(status, PlaceStatus::Accepted, "person {n}, round {round}");
        }
        tokio::time::sleep(Duration::from_millis(COOLDOWN_MS + 100)).await;
    }
    let challenged = solved.iter().filter(|s| **s).count();
    println!("a shared address: 20 of 20 placed twice, {challenged} solved a challenge");
    assert!(
        challenged > 0,
        "past its budget the address was asked for a challenge"
    );
}

/// `CHALLENGE=always`: a session places only once it solved a puzzle; an
/// answer verifies one session (a replay is 409), and an answer that does
/// not solve a puzzle of this deployment verifies none (400).
#[tokio::test]
async fn a_solved_puzzle_verifies_one_session_and_cannot_be_replayed() {
    let app = spawn_app(&[("CHALLENGE", "always"), ("CHALLENGE_DIFFICULTY", "5000")]).await;
    let mut ws = app.api.ws().await;
    let cookie = ws.new_session.clone().unwrap();
    ws.place(1, 1, 3).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::ChallengeRequired);

    let puzzle: server::challenge::Puzzle =
        serde_json::from_value(app.api.json("/api/challenge").await).unwrap();
    let solution = server::challenge::solve(&puzzle).unwrap();
    let mut wrong = solution.clone();
    wrong.number = (solution.number + 1) % (puzzle.maxnumber + 1);
    let session = [("cookie", cookie.clone())];
    assert_eq!(app.api.post_solution(&wrong, &session).await, 400);
    // Without a session there is nothing to verify.
    assert_eq!(app.api.post_solution(&solution, &[]).await, 403);
    assert_eq!(app.api.post_solution(&solution, &session).await, 200);
    ws.place(1, 1, 3).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);

    // The same answer for another session: refused, and it cannot place.
    let mut other = app.api.ws().await;
    let other_session = [("cookie", other.new_session.clone().unwrap())];
    assert_eq!(app.api.post_solution(&solution, &other_session).await, 409);
    other.place(2, 2, 3).await;
    assert_eq!(other.place_result().await.0, PlaceStatus::ChallengeRequired);
}

/// While the store cannot count an address's new sessions, none is made:
/// the page is served to watch, saying why, and the WebSocket answers 503.
/// Once the store is back, sessions are made again.
#[tokio::test]
async fn sessions_are_not_minted_when_they_cannot_be_counted() {
    let mut redis = RedisServer::start().await;
    let app = spawn_app(&[
        ("REDIS_URL", &redis.url()),
        (
            "SESSION_SECRET",
            "a test secret of thirty-two bytes or more",
        ),
        ("MAX_NEW_SESSIONS_PER_IP", "2"),
        ("REDIS_TIMEOUT_MS", "300"),
        ("REPLICA_WAIT_MS", "200"),
    ])
    .await;
    redis.kill();
    for _ in 0..5 {
        let page = app.api.get("/").await;
        assert_eq!(page.status(), 200);
        assert!(page.headers().get("set-cookie").is_none());
        let html = page.text().await.unwrap();
        assert!(html.contains("Watching only"), "the page says why");
        let ws = WsClient::open(&app.api, &[]).await;
        let Err(tokio_tungstenite::tungstenite::Error::Http(refusal)) = ws else {
            panic!("the WebSocket was not refused");
        };
        assert_eq!(refusal.status(), 503);
    }
    redis.restart().await;
    let mut ws = None;
    for _ in 0..50 {
        if let Ok(client) = WsClient::open(&app.api, &[]).await {
            ws = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ws
        .expect("a session once the store is back")
        .new_session
        .is_some());
}

/// Keys in the test Redis.
async fn key_count(redis: &RedisServer) -> u64 {
    let mut control = redis.connect().await;
    redis::cmd("DBSIZE")
        .query_async(&mut control)
        .await
        .unwrap()
}

/// Anonymous visitors who never place nor pick a name leave nothing in the
/// store when they go (a session record is written only once it holds
/// something); what the store's memory is spent on is published by kind.
#[tokio::test]
async fn anonymous_visitors_leave_no_records_and_memory_is_reported_by_kind() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let vars = [
        ("REDIS_URL", url.as_str()),
        ("MAX_NEW_SESSIONS_PER_IP", "0"),
        (
            "SESSION_SECRET",
            "a test secret of thirty-two bytes or more",
        ),
    ];
    let app = spawn_app(&vars).await;
    let mut placer = app.api.ws().await;
    placer.place(0, 0, 3).await;
    placer.place_result().await;
    let before = key_count(&redis).await;
    for _ in 0..200 {
        let ws = app.api.ws().await;
        drop(ws);
    }
    // Once every socket's close is handled (the placer's alone is open).
    eventually(
        "the 200 sockets closed",
        WAIT,
        Duration::from_millis(20),
        || async {
            let metrics = app.api.get("/metrics").await.text().await.unwrap();
            (metric(&metrics, "canvas_websocket_connections") == 1.0).then_some(())
        },
    )
    .await;
    let after = key_count(&redis).await;
    println!("200 anonymous visitors: {before} keys before, {after} after");
    assert_eq!(after, before, "no key for a visitor who did nothing");

    // 100 named sessions: a record each.
    for n in 0..100 {
        let ws = app.api.ws().await;
        let cookie = ws.new_session.clone().unwrap();
        let saved = app
            .api
            .http
            .post(app.api.url("/api/name"))
            .header("cookie", cookie)
            .json(&serde_json::json!({ "name": format!("player {n}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(saved.status(), 200);
    }
    // A new instance estimates at once, then every minute.
    let fresh = spawn_app(&vars).await;
    let metrics = eventually(
        "the store's usage in /metrics",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async {
            let text = fresh.api.get("/metrics").await.text().await.ok()?;
            text.contains("canvas_store_memory_bytes{kind=\"chunks\"}")
                .then_some(text)
        },
    )
    .await;
    let gauge = |name: &str, kind: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}{{kind=\"{kind}\"}} ")))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0.0)
    };
    let sessions = gauge("canvas_store_keys", "session");
    println!(
        "store usage: ~{sessions:.0} session keys, {:.0} bytes; chunk versions {:.0} bytes",
        gauge("canvas_store_memory_bytes", "session"),
        gauge("canvas_store_memory_bytes", "chunks")
    );
    assert!((60.0..=140.0).contains(&sessions), "about 100: {sessions}");
    assert!(gauge("canvas_store_memory_bytes", "session") > 0.0);
    assert!(gauge("canvas_store_memory_bytes", "chunks") > 0.0);
}
