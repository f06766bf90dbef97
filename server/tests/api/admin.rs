//! The moderators' API: hidden without `ADMIN_TOKEN`, locked without the
//! token, and what it does holds on every instance and is audited.

use crate::{
    helpers::{
        assert_converged, eventually, snapshots_at, spawn_app, wait_ready, Api, Replica, TestApp,
        WsClient,
    },
    redis_server::RedisServer,
};
use app::protocol::{PlaceStatus, ServerMessage, Tile};
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) const TOKEN: &str = "an-admin-token-long-enough-to-pass-32";

impl Api {
    /// An admin request with the token, as moderator "Mod One".
    pub(crate) async fn admin(&self, path: &str, body: Option<Value>) -> reqwest::Response {
        let url = format!("http://{}/api/admin/{path}", self.addr);
        let request = match body {
            Some(body) => self.http.post(url).json(&body),
            None => self.http.get(url),
        };
        request
            .bearer_auth(TOKEN)
            .header("x-moderator", "Mod One")
            .send()
            .await
            .expect("request sent")
    }
}

async fn place(ws: &mut WsClient, tile: Tile) -> (PlaceStatus, u32) {
    ws.place(tile.x, tile.y, tile.color).await;
    let (status, _, retry_after_ms) = ws.place_result().await;
    (status, retry_after_ms)
}

/// Two instances with the admin token on one Redis.
async fn moderated() -> (RedisServer, TestApp, TestApp) {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let vars = [("REDIS_URL", url.as_str()), ("ADMIN_TOKEN", TOKEN)];
    let (a, b) = (spawn_app(&vars).await, spawn_app(&vars).await);
    wait_ready(&a).await;
    wait_ready(&b).await;
    (redis, a, b)
}

const TILE: Tile = Tile {
    x: 1,
    y: 1,
    color: 3,
};

#[tokio::test]
async fn admin_routes_are_hidden_without_a_token_and_locked_with_one() {
    let open = spawn_app(&[]).await;
    for path in ["status", "audit", "pixel?x=0&y=0"] {
        let response = open.admin(path, None).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    assert_eq!(
        open.admin("freeze", Some(json!({ "frozen": true })))
            .await
            .status(),
        404
    );

    let locked = spawn_app(&[("ADMIN_TOKEN", TOKEN)]).await;
    let anonymous = locked.get("/api/admin/status").await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let wrong = locked
        .get_with("/api/admin/status", "authorization", "Bearer not-the-token")
        .await;
    assert_eq!(wrong.status(), 401);
    let prefix = &TOKEN[..TOKEN.len() - 1];
    let almost = locked
        .get_with(
            "/api/admin/status",
            "authorization",
            &format!("Bearer {prefix}"),
        )
        .await;
    assert_eq!(almost.status(), 401);
    let response = locked.admin("status", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "frozen": false })
    );

    // Bad requests say why and change nothing.
    for body in [
        json!({ "session": "0123456789abcdef", "address": "10.0.0.1", "minutes": 5 }),
        json!({ "session": "not-a-handle", "minutes": 5 }),
        json!({ "address": "10.0.0.1", "minutes": 0 }),
        json!({ "address": "nowhere", "minutes": 5 }),
        json!({ "address": "10.0.0.1", "minutes": 5, "extra": 1 }),
    ] {
        let response = locked.admin("ban", Some(body.clone())).await;
        assert_eq!(response.status(), 400, "{body}");
    }
    let form = locked
        .http
        .post(format!("http://{}/api/admin/freeze", locked.addr))
        .bearer_auth(TOKEN)
        .body("frozen=true")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    let log = locked
        .admin("audit", None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(log["entries"], json!([]));
}

#[tokio::test]
async fn a_ban_holds_on_every_instance_and_ends_when_lifted() {
    let (_redis, a, b) = moderated().await;
    let mut player = a.ws().await;
    let cookie = player.new_session.clone().expect("a session");
    assert_eq!(place(&mut player, TILE).await.0, PlaceStatus::Accepted);

    // Who placed it, as the other instance tells a moderator.
    snapshots_at(std::slice::from_ref(&b), 1).await;
    let record = b
        .admin("pixel?x=1&y=1", None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        (record["color"].clone(), record["seq"].clone()),
        (json!(3), json!(1))
    );
    let handle = record["session"]
        .as_str()
        .expect("a session handle")
        .to_owned();
    assert_eq!(handle.len(), 16);
    assert!(
        !cookie.contains(&handle),
        "the handle is not the session id"
    );
    assert_eq!(record["address"], "127.0.0.1");
    // The public record tells neither.
    let public = a.json("/api/pixel?x=1&y=1").await;
    assert!(public.get("session").is_none() && public.get("address").is_none());

    let banned = b
        .admin("ban", Some(json!({ "session": handle, "minutes": 5 })))
        .await;
    assert_eq!(banned.status(), 200);
    let (status, retry_after_ms) = place(&mut player, TILE).await;
    assert_eq!(status, PlaceStatus::Banned);
    assert!(
        (299_000..=300_000).contains(&retry_after_ms),
        "{retry_after_ms}"
    );
    let mut elsewhere = WsClient::with_session(&b, &cookie).await;
    assert_eq!(place(&mut elsewhere, TILE).await.0, PlaceStatus::Banned);
    // Another session from the same address is not banned...
    let mut other = b.ws().await;
    assert_eq!(place(&mut other, TILE).await.0, PlaceStatus::Accepted);
    // ...until the address is.
    let address = json!({ "address": "127.0.0.1", "minutes": 1 });
    assert_eq!(a.admin("ban", Some(address)).await.status(), 200);
    assert_eq!(place(&mut other, TILE).await.0, PlaceStatus::Banned);

    let lift = |body: Value| {
        let a = a.api.clone();
        async move {
            a.admin("unban", Some(body))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        lift(json!({ "address": "127.0.0.1" })).await["lifted"],
        true
    );
    assert_eq!(lift(json!({ "session": handle })).await["lifted"], true);
    assert_eq!(lift(json!({ "session": handle })).await["lifted"], false);
    assert_eq!(place(&mut player, TILE).await.0, PlaceStatus::Accepted);
    assert_eq!(place(&mut other, TILE).await.0, PlaceStatus::Accepted);

    // Every action is in the audit log, newest first, with who and where:
    // its intent before it was done, and its outcome after.
    let log = b.admin("audit", None).await.json::<Value>().await.unwrap();
    let actions: Vec<_> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["details"].clone()))
        .collect();
    assert_eq!(
        actions,
        [
            (
                "unban",
                json!({ "session": handle, "lifted": false, "phase": "done" })
            ),
            ("unban", json!({ "session": handle, "phase": "intent" })),
            (
                "unban",
                json!({ "session": handle, "lifted": true, "phase": "done" })
            ),
            ("unban", json!({ "session": handle, "phase": "intent" })),
            (
                "unban",
                json!({ "address": "127.0.0.1", "lifted": true, "phase": "done" })
            ),
            (
                "unban",
                json!({ "address": "127.0.0.1", "phase": "intent" })
            ),
            (
                "ban",
                json!({ "address": "127.0.0.1", "minutes": 1, "phase": "done" })
            ),
            (
                "ban",
                json!({ "address": "127.0.0.1", "minutes": 1, "phase": "intent" })
            ),
            (
                "ban",
                json!({ "session": handle, "minutes": 5, "phase": "done" })
            ),
            (
                "ban",
                json!({ "session": handle, "minutes": 5, "phase": "intent" })
            ),
        ]
    );
    let newest = &log["entries"][0];
    assert_eq!(newest["by"], "Mod One");
    assert_eq!(newest["address"], "127.0.0.1");
    assert!(newest["at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn a_frozen_canvas_refuses_everyone_until_unfrozen() {
    let (_redis, a, b) = moderated().await;
    let mut on_a = a.ws().await;
    let mut on_b = b.ws().await;
    // A page that only watches, on the other instance.
    let mut watcher = b.ws().await;
    let frozen = a.admin("freeze", Some(json!({ "frozen": true }))).await;
    assert_eq!(frozen.status(), 200);
    assert_eq!(
        b.admin("status", None).await.json::<Value>().await.unwrap(),
        json!({ "frozen": true })
    );
    assert_eq!(place(&mut on_a, TILE).await.0, PlaceStatus::Frozen);
    assert_eq!(place(&mut on_b, TILE).await.0, PlaceStatus::Frozen);
    assert_eq!(a.canvas().await.1, 0, "nothing was placed");
    // Every instance says so, in /api/info and on the page it renders.
    for app in [&a, &b] {
        eventually(
            "the instance knows the canvas is frozen",
            Duration::from_secs(5),
            Duration::from_millis(100),
            || async { (app.json("/api/info").await["frozen"] == true).then_some(()) },
        )
        .await;
        assert!(frozen_shown(app).await, "the page shows it");
    }
    // Sockets hear it without placing: the watcher at once, a new
    // connection right after its Hello.
    assert!(next_frozen(&mut watcher).await);
    let mut late = a.ws().await;
    assert!(next_frozen(&mut late).await);

    b.admin("freeze", Some(json!({ "frozen": false }))).await;
    assert!(!next_frozen(&mut watcher).await);
    assert_eq!(place(&mut on_a, TILE).await.0, PlaceStatus::Accepted);
    eventually(
        "the instance knows the canvas is open again",
        Duration::from_secs(5),
        Duration::from_millis(100),
        || async { (a.json("/api/info").await["frozen"] == false).then_some(()) },
    )
    .await;
    assert!(!frozen_shown(&a).await, "the page no longer shows it");
    let log = a
        .admin("audit?count=1", None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(log["entries"].as_array().unwrap().len(), 1);
    assert_eq!(log["entries"][0]["action"], "unfreeze");
}

#[tokio::test]
async fn a_wipe_of_200_by_200_reaches_every_client_of_three_instances() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let vars = [
        ("REDIS_URL", url.as_str()),
        ("ADMIN_TOKEN", TOKEN),
        ("CANVAS_WIDTH", "256"),
        ("CANVAS_HEIGHT", "256"),
    ];
    let mut apps = Vec::new();
    for _ in 0..3 {
        apps.push(spawn_app(&vars).await);
    }
    let mut clients = Vec::new();
    for app in &apps {
        wait_ready(app).await;
        let mut ws = app.ws().await;
        let copy = Replica::start(&app.api, &mut ws).await;
        clients.push((ws, copy));
    }
    // Something to wipe, placed by a player.
    assert_eq!(
        place(
            &mut clients[0].0,
            Tile {
                x: 10,
                y: 10,
                color: 7
            }
        )
        .await
        .0,
        PlaceStatus::Accepted
    );

    let wipe = json!({ "x": 5, "y": 6, "width": 200, "height": 200, "color": 0 });
    let answer = apps[1].admin("fill", Some(wipe)).await;
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["pixels"], 40_000);
    assert_eq!(
        (answer["first_seq"].clone(), answer["last_seq"].clone()),
        (json!(2), json!(40_001))
    );

    // Every placement of the wipe reached every client and instance.
    assert_converged(&redis, &apps, clients).await;
    let (pixels, seq) = apps[2].canvas().await;
    assert_eq!(seq, 40_001);
    assert_eq!(pixels[10 * 256 + 10], 0, "the player's pixel was wiped");
    let public = apps[0].json("/api/pixel?x=204&y=205").await;
    assert_eq!(
        (public["seq"].clone(), public["placed_by"].clone()),
        (json!(40_001), json!("Mod One"))
    );
    let log = apps[0]
        .admin("audit?count=1", None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(log["entries"][0]["action"], "fill");
    assert_eq!(log["entries"][0]["details"]["pixels"], 40_000);

    // Off the canvas, or an unknown color: refused, nothing placed.
    for bad in [
        json!({ "x": 100, "y": 0, "width": 157, "height": 1, "color": 0 }),
        json!({ "x": 0, "y": 0, "width": 0, "height": 1, "color": 0 }),
        json!({ "x": 0, "y": 0, "width": 1, "height": 1, "color": 200 }),
    ] {
        assert_eq!(
            apps[0].admin("fill", Some(bad.clone())).await.status(),
            400,
            "{bad}"
        );
    }
    assert_eq!(redis.newest_seq().await, 40_001);
}

#[tokio::test]
async fn a_rollback_restores_exactly_the_previous_colors_within_history() {
    let (redis, a, b) = moderated().await;
    let mut ann = a.ws().await;
    let mut ann_copy = Replica::start(&a.api, &mut ann).await;
    let mut vandal = b.ws().await;
    let mut bob = a.ws().await;
    let at = |x, y, color| Tile { x, y, color };
    for tile in [at(3, 3, 5), at(4, 4, 6)] {
        assert_eq!(place(&mut ann, tile).await.0, PlaceStatus::Accepted);
    }
    for tile in [at(3, 3, 9), at(4, 4, 9), at(5, 5, 9), at(3, 3, 8)] {
        assert_eq!(place(&mut vandal, tile).await.0, PlaceStatus::Accepted);
    }
    // Bob paints over one of the vandal's pixels: his stays.
    assert_eq!(place(&mut bob, at(4, 4, 2)).await.0, PlaceStatus::Accepted);
    snapshots_at(std::slice::from_ref(&a), 7).await;
    let record = a
        .admin("pixel?x=5&y=5", None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let handle = record["session"].as_str().unwrap().to_owned();

    let rollback = json!({ "session": handle, "minutes": 10 });
    let answer = b.admin("rollback", Some(rollback)).await;
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["placements_found"], 4);
    assert_eq!(answer["pixels_restored"], 2);
    assert_eq!(answer["pixels_overwritten_since"], 1);
    assert_eq!(answer["pixels_beyond_history"], 0);

    let (pixels, seq) = eventually_at(&a, 9).await;
    assert_eq!(seq, 9, "two restoring placements");
    let pixel = |x: usize, y: usize| pixels[y * 64 + x];
    assert_eq!((pixel(3, 3), pixel(4, 4), pixel(5, 5)), (5, 2, 0));
    let log = b
        .admin("audit?count=1", None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(log["entries"][0]["action"], "rollback");
    assert_eq!(log["entries"][0]["details"]["session"], handle.as_str());
    ann_copy.settle(&mut ann, 9).await;
    assert_converged(&redis, &[a, b], vec![(ann, ann_copy)]).await;
}

/// The snapshot once the instance holds `seq`.
async fn eventually_at(app: &TestApp, seq: u64) -> (Vec<u8>, u64) {
    snapshots_at(std::slice::from_ref(app), seq).await;
    app.canvas().await
}

/// The next `Frozen` frame's value, passing over other frames.
async fn next_frozen(ws: &mut WsClient) -> bool {
    loop {
        if let ServerMessage::Frozen { frozen } = ws.recv().await {
            return frozen;
        }
    }
}

/// Whether the page the app renders shows the "frozen" figure (its element
/// is there either way, hidden unless frozen).
async fn frozen_shown(app: &TestApp) -> bool {
    let page = app.get("/").await.text().await.unwrap();
    let end = page.find(r#"class="figure frozen""#).expect("the figure");
    let start = page[..end].rfind('<').expect("its tag");
    let tag_end = end + page[end..].find('>').expect("its tag's end");
    !page[start..tag_end].contains("hidden")
}

/// A fill whose client gives up (or meets the request timeout) midway runs
/// to completion all the same, and the audit log has its intent from
/// before the first pixel and its outcome after the last.
#[tokio::test]
async fn a_fill_abandoned_by_its_client_completes_and_is_audited() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let app = spawn_app(&[
        ("REDIS_URL", url.as_str()),
        ("ADMIN_TOKEN", TOKEN),
        ("CANVAS_WIDTH", "1000"),
        ("CANVAS_HEIGHT", "500"),
        ("REQUEST_TIMEOUT_MS", "100"),
    ])
    .await;
    let fill = json!({ "x": 0, "y": 0, "width": 1000, "height": 500, "color": 9 });
    let cut_short = app.admin("fill", Some(fill)).await;
    assert_eq!(cut_short.status(), 408, "the request timed out midway");
    let outcome = eventually(
        "the fill's outcome in the audit log",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async {
            let log: Value = app.admin("audit?count=2", None).await.json().await.ok()?;
            (log["entries"][0]["details"]["phase"] == "done").then_some(log)
        },
    )
    .await;
    let (done, intent) = (&outcome["entries"][0], &outcome["entries"][1]);
    assert_eq!(intent["action"], "fill");
    assert_eq!(intent["details"]["phase"], "intent");
    assert_eq!(intent["details"]["pixels"], 500_000);
    assert_eq!(done["details"]["pixels_done"], 500_000);
    assert_eq!(redis.newest_seq().await, 500_000);
    assert!(redis.pixels().await.iter().all(|&color| color == 9));
}

/// A shadow-banned session is told its placements were accepted, and its
/// cooldown runs, but nothing reaches the canvas or any other client; the
/// others' tiles keep their consecutive seqs.
#[tokio::test]
async fn a_shadow_banned_session_places_for_itself_only() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let vars = [
        ("REDIS_URL", url.as_str()),
        ("ADMIN_TOKEN", TOKEN),
        ("COOLDOWN_MS", "60000"),
    ];
    let (a, b) = (spawn_app(&vars).await, spawn_app(&vars).await);
    let mut troll = a.ws().await;
    let mut watcher = b.ws().await;
    assert_eq!(place(&mut troll, TILE).await.0, PlaceStatus::Accepted);
    watcher.wait_for_seq(1).await;
    let record: Value = a.admin("pixel?x=1&y=1", None).await.json().await.unwrap();
    let handle = record["session"].as_str().unwrap().to_owned();
    let shadow = json!({ "session": handle, "minutes": 10, "shadow": true });
    let answer: Value = a.admin("ban", Some(shadow)).await.json().await.unwrap();
    assert_eq!(answer["shadow"], true);

    // A fresh session of the troll's (a new cookie, as it would try): the
    // ban is on the handle, so take the same session on a new socket.
    let cookie = troll.new_session.clone().unwrap();
    let mut again = WsClient::with_session(&b, &cookie).await;
    redis.flush_cooldowns().await;
    let (status, seq, _) = {
        again.place(20, 20, 5).await;
        again.place_result().await
    };
    assert_eq!(status, PlaceStatus::Accepted, "it looks accepted");
    assert_eq!(seq, 1, "a seq that exists: the newest it could know");
    assert_eq!(
        place(
            &mut again,
            Tile {
                x: 21,
                y: 20,
                color: 5
            }
        )
        .await
        .0,
        PlaceStatus::Cooldown,
        "its cooldown runs as if it had placed"
    );
    assert_eq!(redis.newest_seq().await, 1, "nothing was placed");
    let mut honest = b.ws().await;
    assert_eq!(
        place(
            &mut honest,
            Tile {
                x: 2,
                y: 2,
                color: 6
            }
        )
        .await
        .0,
        PlaceStatus::Accepted
    );
    match watcher.recv().await {
        ServerMessage::Tiles { first_seq, tiles } => {
            assert_eq!(
                (first_seq, tiles),
                (
                    2,
                    vec![Tile {
                        x: 2,
                        y: 2,
                        color: 6
                    }]
                )
            );
        }
        other => panic!("expected the honest tile, got {other:?}"),
    }
    let (pixels, _) = a.canvas().await;
    assert_eq!(pixels[20 * 64 + 20], 0, "the shadowed tile is nowhere");
    let metrics = a.get("/metrics").await.text().await.unwrap()
        + &b.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("canvas_placements_total{result=\"shadowed\"} 1"));
}

/// A range ban (CIDR, IPv4 or IPv6) refuses every address in it on every
/// instance within about a second, and none outside it; a rollback can
/// name the range; unban lifts it.
#[tokio::test]
async fn a_range_ban_covers_every_address_in_it() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let vars = [
        ("REDIS_URL", url.as_str()),
        ("ADMIN_TOKEN", TOKEN),
        ("TRUST_FORWARDED_FOR", "true"),
    ];
    let (a, b) = (spawn_app(&vars).await, spawn_app(&vars).await);
    let from = |ip: &str| vec![("x-forwarded-for", ip.to_owned())];
    let mut inside = WsClient::open(&b, &from("203.0.113.9")).await.unwrap();
    let mut inside_v6 = WsClient::open(&b, &from("2001:db8:7f:1::9")).await.unwrap();
    let mut outside = WsClient::open(&b, &from("203.0.114.1")).await.unwrap();
    assert_eq!(place(&mut inside, TILE).await.0, PlaceStatus::Accepted);

    for range in ["203.0.113.200/24", "2001:db8:40::/42"] {
        let ban = json!({ "range": range, "minutes": 30 });
        assert_eq!(a.admin("ban", Some(ban)).await.status(), 200);
    }
    let bad = json!({ "range": "2001:db8::/80", "minutes": 30 });
    assert_eq!(a.admin("ban", Some(bad)).await.status(), 400);
    let tile = Tile {
        x: 3,
        y: 3,
        color: 4,
    };
    let retry_after_ms = place_until(&mut inside, tile, PlaceStatus::Banned).await;
    assert!(retry_after_ms > 29 * 60_000, "{retry_after_ms}");
    assert_eq!(
        place(
            &mut inside_v6,
            Tile {
                x: 4,
                y: 4,
                color: 4
            }
        )
        .await
        .0,
        PlaceStatus::Banned
    );
    assert_eq!(
        place(
            &mut outside,
            Tile {
                x: 5,
                y: 5,
                color: 4
            }
        )
        .await
        .0,
        PlaceStatus::Accepted
    );

    // What the range placed before the ban can be rolled back by naming it.
    let rollback = json!({ "range": "203.0.113.0/24", "minutes": 5 });
    let rolled: Value = a
        .admin("rollback", Some(rollback))
        .await
        .json()
        .await
        .unwrap();
    // (The pixels it placed while the ban was on its way, too.)
    assert!(rolled["pixels_restored"].as_u64() >= Some(1), "{rolled}");

    let lifted: Value = a
        .admin("unban", Some(json!({ "range": "203.0.113.0/24" })))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lifted["lifted"], true, "{lifted}");
    let tile = Tile {
        x: 6,
        y: 6,
        color: 4,
    };
    place_until(&mut inside, tile, PlaceStatus::Accepted).await;
}

/// Places `tile` every 100 ms until the answer is `wanted` (5 s at most,
/// the range bans' refresh being a second): its `retry_after_ms`.
async fn place_until(ws: &mut WsClient, tile: Tile, wanted: PlaceStatus) -> u32 {
    for _ in 0..50 {
        let (status, retry_after_ms) = place(ws, tile).await;
        if status == wanted {
            return retry_after_ms;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never answered {wanted:?}");
}

/// A request to the admin API with a given token (no `X-Moderator` unless
/// `claimed` names someone).
async fn as_moderator(
    app: &Api,
    token: &str,
    claimed: Option<&str>,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let url = format!("http://{}/api/admin/{path}", app.addr);
    let mut request = match body {
        Some(body) => app.http.post(url).json(&body),
        None => app.http.get(url),
    };
    if let Some(name) = claimed {
        request = request.header("x-moderator", name);
    }
    request.bearer_auth(token).send().await.unwrap()
}

const ADA: &str = "ada-admin-token-with-more-than-32-bytes";
const BO: &str = "bo-moderator-token-with-more-than-32-bytes";
const CY: &str = "cy-viewer-token-with-more-than-32-bytes!!";

/// Each moderator has a token of their own and a role: the audit log names
/// them from the credential (a claimed `X-Moderator` changes nothing), a
/// viewer reads but acts on nothing, a moderator acts on players but not
/// on the canvas.
#[tokio::test]
async fn moderators_have_their_own_tokens_and_roles() {
    let moderators = format!("Ada:admin:{ADA},Bo:moderator:{BO},Cy:viewer:{CY}");
    let app = spawn_app(&[("MODERATORS", &moderators)]).await;
    let ban = json!({ "address": "192.0.2.1", "minutes": 5 });
    let freeze = json!({ "frozen": true });
    assert_eq!(
        as_moderator(&app, CY, None, "audit", None).await.status(),
        200
    );
    assert_eq!(
        as_moderator(&app, CY, None, "ban", Some(ban.clone()))
            .await
            .status(),
        403
    );
    assert_eq!(
        as_moderator(&app, BO, Some("Ada"), "ban", Some(ban))
            .await
            .status(),
        200
    );
    assert_eq!(
        as_moderator(&app, BO, None, "freeze", Some(freeze.clone()))
            .await
            .status(),
        403
    );
    assert_eq!(
        as_moderator(&app, ADA, None, "freeze", Some(freeze))
            .await
            .status(),
        200
    );
    let wrong = "not-anyone's-token-but-long-enough-to-try";
    assert_eq!(
        as_moderator(&app, wrong, None, "audit", None)
            .await
            .status(),
        401
    );
    let log: Value = as_moderator(&app, CY, None, "audit", None)
        .await
        .json()
        .await
        .unwrap();
    let by: Vec<_> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        by,
        [
            ("freeze", "Ada"),
            ("freeze", "Ada"),
            ("ban", "Bo"),
            ("ban", "Bo")
        ],
        "names from the credential, never from the header"
    );
}

/// A player reports an area; the moderators' queue shows it with who last
/// placed there; resolving it takes it off the queue and is audited. A
/// report of another canvas is listed with that canvas. A flood of reports
/// from one address is refused, whichever canvas they name.
#[tokio::test]
async fn a_players_report_reaches_the_moderators_queue() {
    let moderators = format!("Bo:moderator:{BO}");
    let app = spawn_app(&[("MODERATORS", &moderators), ("CANVASES", "moon:300x200")]).await;
    let mut vandal = app.ws().await;
    assert_eq!(place(&mut vandal, TILE).await.0, PlaceStatus::Accepted);
    let reporter = app.ws().await;
    let cookie = reporter.new_session.clone().unwrap();
    let report_to = |path: &'static str, body: Value| {
        let app = app.api.clone();
        let cookie = cookie.clone();
        async move {
            app.http
                .post(app.url(path))
                .header("cookie", cookie)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let report = |body: Value| report_to("/api/report", body);
    let area = json!({ "x": 1, "y": 1, "width": 4, "height": 3, "reason": "a slur" });
    assert_eq!(report(area.clone()).await, 200);
    let moon = json!({ "x": 250, "y": 150, "reason": "on the moon" });
    assert_eq!(report_to("/c/moon/api/report", moon).await, 200);
    let moon_queue: Value = app
        .http
        .get(app.url("/c/moon/api/admin/reports"))
        .bearer_auth(BO)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = moon_queue["reports"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "the moon's only");
    assert_eq!(
        (listed[0]["x"].clone(), listed[0]["reason"].clone()),
        (json!(250), json!("on the moon"))
    );
    assert_eq!(report(json!({ "x": 63, "y": 0, "width": 5 })).await, 400);
    let queue: Value = as_moderator(&app, BO, None, "reports", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        queue["reports"].as_array().unwrap().len(),
        1,
        "not the moon's"
    );
    let first = &queue["reports"][0];
    assert_eq!(
        (first["x"].clone(), first["width"].clone()),
        (json!(1), json!(4))
    );
    assert_eq!(first["reason"], "a slur");
    assert_eq!(first["address"], "127.0.0.1");
    assert_eq!(
        first["session"].as_str().unwrap().len(),
        16,
        "who placed there"
    );
    let id = first["id"].as_str().unwrap().to_owned();
    let resolve = json!({ "id": id, "outcome": "banned" });
    let resolved: Value = as_moderator(&app, BO, None, "reports/resolve", Some(resolve))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resolved["resolved"], true);
    let queue: Value = as_moderator(&app, BO, None, "reports", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queue["reports"], json!([]));
    // A burst of three a minute, then 429: the moon's report counted.
    let statuses = [
        report(area.clone()).await,
        report(area.clone()).await,
        report(area).await,
    ];
    assert_eq!(statuses.map(|s| s.as_u16()), [200, 429, 429]);
}

/// The next `Resize` (or `None` if another frame than `Presence` or
/// `Tiles` comes first).
async fn resized(ws: &mut WsClient) -> (u16, u16) {
    loop {
        match ws.recv().await {
            ServerMessage::Resize { width, height } => return (width, height),
            ServerMessage::Presence { .. } | ServerMessage::Tiles { .. } => {}
            other => panic!("expected Resize, got {other:?}"),
        }
    }
}

async fn grow_checks(apps: &[TestApp]) {
    let (first, last) = (&apps[0], &apps[apps.len() - 1]);
    let mut placer = first.ws().await;
    let mut watcher = last.ws().await;
    let before = Tile {
        x: 10,
        y: 20,
        color: 3,
    };
    assert_eq!(place(&mut placer, before).await.0, PlaceStatus::Accepted);
    let outside = Tile {
        x: 90,
        y: 35,
        color: 5,
    };
    assert_eq!(
        place(&mut placer, outside).await.0,
        PlaceStatus::Invalid,
        "off the canvas before it grows"
    );

    let grown = first
        .admin("grow", Some(json!({"width": 100, "height": 40})))
        .await;
    assert_eq!(grown.status(), 200);
    assert_eq!(
        grown.json::<Value>().await.unwrap(),
        json!({"width": 100, "height": 40})
    );
    assert_eq!(
        resized(&mut watcher).await,
        (100, 40),
        "another instance's socket"
    );
    assert_eq!(resized(&mut placer).await, (100, 40));
    assert_eq!(place(&mut placer, outside).await.0, PlaceStatus::Accepted);

    // A smaller side keeps its size; every instance and a newcomer agree.
    let kept = first
        .admin("grow", Some(json!({"width": 50, "height": 64})))
        .await;
    assert_eq!(
        kept.json::<Value>().await.unwrap(),
        json!({"width": 100, "height": 64})
    );
    for app in apps {
        eventually(
            "the size on every instance",
            Duration::from_secs(5),
            Duration::from_millis(50),
            || async {
                let info = app.json("/api/info").await;
                (info["width"] == 100 && info["height"] == 64).then_some(())
            },
        )
        .await;
    }
    let newcomer = last.ws().await;
    assert_eq!((newcomer.hello.width, newcomer.hello.height), (100, 64));
    let seq = snapshots_at(apps, 2).await;
    assert_eq!(seq[0].len(), 100 * 64);
    assert_eq!(seq[0][35 * 100 + 90], 5, "the new area's tile");
    assert_eq!(seq[0][20 * 100 + 10], 3, "the old one at its place");
    // Who placed each pixel survives the width's change.
    let record = last.json("/api/pixel?x=10&y=20").await;
    assert_eq!(
        (record["color"].as_u64(), record["seq"].as_u64()),
        (Some(3), Some(1))
    );
    let audit = first
        .admin("audit", None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(audit["entries"][0]["action"], "grow");
}

#[tokio::test]
async fn growing_the_canvas_reaches_every_socket_on_the_embedded_store() {
    let app = spawn_app(&[("ADMIN_TOKEN", TOKEN), ("COOLDOWN_MS", "0")]).await;
    grow_checks(std::slice::from_ref(&app)).await;
}

#[tokio::test]
async fn growing_the_canvas_reaches_every_instance_on_redis() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let vars = [
        ("REDIS_URL", url.as_str()),
        ("ADMIN_TOKEN", TOKEN),
        ("COOLDOWN_MS", "0"),
    ];
    let apps = [spawn_app(&vars).await, spawn_app(&vars).await];
    for app in &apps {
        wait_ready(app).await;
    }
    grow_checks(&apps).await;
    // An instance started afterwards takes the size from Redis.
    let later = spawn_app(&vars).await;
    let info = later.json("/api/info").await;
    assert_eq!(
        (info["width"].as_u64(), info["height"].as_u64()),
        (Some(100), Some(64))
    );
}

/// On the embedded store as on Redis, the deployment's canvases share
/// sessions, names and bans: a name set at the root shows on another
/// canvas's pixels, and a ban made at the root holds there.
#[tokio::test]
async fn every_canvas_shares_the_deployments_names_and_bans() {
    let moderators = format!("Bo:moderator:{BO}");
    let app = spawn_app(&[("MODERATORS", &moderators), ("CANVASES", "moon:300x200:0")]).await;
    let player = app.ws().await;
    let cookie = player.new_session.clone().unwrap();
    let named = app
        .http
        .post(app.url("/api/name"))
        .header("cookie", &cookie)
        .json(&json!({ "name": "Zed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);
    let headers = [("cookie", cookie.clone())];
    let mut moon = WsClient::open_path(&app, "/c/moon/ws", &headers)
        .await
        .unwrap();
    let on_the_moon = Tile {
        x: 250,
        y: 150,
        color: 4,
    };
    assert_eq!(place(&mut moon, on_the_moon).await.0, PlaceStatus::Accepted);
    let pixel = app.json("/c/moon/api/pixel?x=250&y=150").await;
    assert_eq!(pixel["placed_by"], "Zed", "the root's name");

    let address = json!({ "address": "127.0.0.1", "minutes": 1 });
    let banned = as_moderator(&app, BO, None, "ban", Some(address)).await;
    assert_eq!(banned.status(), 200);
    assert_eq!(
        place(&mut moon, on_the_moon).await.0,
        PlaceStatus::Banned,
        "the root's ban holds on the moon"
    );

    // Each canvas has a moderators' page of its own, acting on it.
    let page = app.get("/c/moon/admin").await.text().await.unwrap();
    assert!(page.contains("Canvas moderation"));
    assert!(page.contains(r#"href="/c/moon/""#), "back to the moon");
    assert!(page.contains("/c/moon/api/canvas.png"), "the moon's image");
}
