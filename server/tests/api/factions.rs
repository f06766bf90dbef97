//! Factions over HTTP, across two instances on one real Redis: founded on
//! one, joined on the other by an invitation; a member's tag beside their
//! name in "placed by" and on the boards; the factions' board; roles
//! checked; what is not a faction refused.

use crate::{
    helpers::{eventually, spawn_app, wait_ready, Api, WsClient},
    redis_server::RedisServer,
};
use app::protocol::PlaceStatus;
use serde_json::{json, Value};
use std::time::Duration;

/// A new player: the session cookie the page hands out.
async fn player(app: &Api) -> String {
    let page = app.get("/").await;
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// POSTs `body` as JSON with `cookie`: the status and the JSON answer.
async fn post(app: &Api, path: &str, cookie: &str, body: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url(path))
        .header("cookie", cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_faction_is_founded_joined_by_invitation_and_its_tag_shows_beside_its_members() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let vars = [("REDIS_URL", url.as_str())];
    let (a, b) = (spawn_app(&vars).await, spawn_app(&vars).await);
    wait_ready(&a).await;
    wait_ready(&b).await;
    let (ann, bob) = (player(&a).await, player(&b).await);

    let blue = json!({"name": "Blue Corner", "tag": "blu", "color": "#1E90FF"});
    let (status, founded) = post(&a, "/api/factions", &ann, blue.clone()).await;
    assert_eq!(status, 201, "{founded}");
    assert_eq!(
        (founded["tag"].as_str(), founded["color"].as_str()),
        (Some("BLU"), Some("#1e90ff"))
    );
    assert_eq!(founded["roster"][0]["role"], "owner");
    let id = founded["id"].as_u64().unwrap();

    // What is not a faction, or not this player's to do, is refused.
    for (bad, why) in [
        (
            json!({"name": "x", "tag": "ZZ", "color": "#000000"}),
            "name",
        ),
        (
            json!({"name": "Fine name", "tag": "Z", "color": "#000000"}),
            "tag",
        ),
        (
            json!({"name": "Fine name", "tag": "ZZ", "color": "red"}),
            "color",
        ),
        (json!({"name": "Fine name", "tag": "ZZ"}), "missing color"),
    ] {
        let (status, _) = post(&a, "/api/factions", &bob, bad).await;
        assert_eq!(status, 400, "{why}");
    }
    let (status, body) = post(&b, "/api/factions", &bob, blue.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("that tag is taken"))
    );
    let (status, _) = post(&a, "/api/factions", "canvas_session=forged", blue).await;
    assert_eq!(status, 403, "no session, no faction");
    let (status, _) = post(&b, &format!("/api/factions/{id}/invites"), &bob, json!({})).await;
    assert_eq!(status, 409, "a stranger invites nobody");

    // Invited on one instance, joined on the other.
    let (status, invitation) =
        post(&a, &format!("/api/factions/{id}/invites"), &ann, json!({})).await;
    assert_eq!(status, 200, "{invitation}");
    let code = invitation["code"].as_str().unwrap();
    assert_eq!(invitation["url"], format!("/?join={code}"));
    let (status, joined) = post(&b, "/api/factions/join", &bob, json!({"code": code})).await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(joined["members"], 2);
    let (status, _) = post(&b, "/api/factions/join", &bob, json!({"code": "nope"})).await;
    assert_eq!(status, 410);
    // Revoked (by the owner, not a member), the code lets nobody else in.
    let revoke = format!("/api/factions/{id}/invites/revoke");
    let (status, _) = post(&b, &revoke, &bob, json!({})).await;
    assert_eq!(status, 403, "a member revokes nothing");
    let (status, _) = post(&a, &revoke, &ann, json!({})).await;
    assert_eq!(status, 204);
    let cy = player(&b).await;
    let (status, _) = post(&b, "/api/factions/join", &cy, json!({"code": code})).await;
    assert_eq!(status, 410, "a revoked invitation");
    let mine: Value = b
        .get_with("/api/factions/mine", "cookie", &bob)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (mine["role"].as_str(), mine["faction"]["id"].as_u64()),
        (Some("member"), Some(id))
    );

    // A member removes nobody; the owner names an officer.
    let ann_handle = founded["roster"][0]["player"].as_str().unwrap().to_owned();
    let bob_handle = mine["player"].as_str().unwrap().to_owned();
    let kick = format!("/api/factions/{id}/members/{ann_handle}");
    let (status, _) = post(&b, &kick, &bob, json!({"role": null})).await;
    assert_eq!(status, 403);
    let promote = format!("/api/factions/{id}/members/{bob_handle}");
    let (status, page) = post(&a, &promote, &ann, json!({"role": "officer"})).await;
    assert_eq!(
        (status, page["roster"][1]["role"].as_str()),
        (200, Some("officer"))
    );
    let (status, _) = post(&a, &promote, &ann, json!({"role": "king"})).await;
    assert_eq!(status, 400);

    // Bob's pixel, placed on b, shows his tag beside his name on a.
    let (status, _) = post(&b, "/api/name", &bob, json!({"name": "Bob"})).await;
    assert_eq!(status, 200);
    let mut ws = WsClient::with_session(&b, &bob).await;
    ws.place(5, 6, 2).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
    let pixel = a.json("/api/pixel?x=5&y=6").await;
    assert_eq!(
        (pixel["placed_by"].as_str(), pixel["faction"].as_str()),
        (Some("Bob"), Some("BLU"))
    );
    let unplaced = a.json("/api/pixel?x=7&y=7").await;
    assert!(unplaced.get("faction").is_none(), "{unplaced}");

    // On the players' board with the tag, and the faction on its own.
    let board = eventually(
        "the boards count bob's pixel",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || async {
            let board = a.json("/api/leaderboard").await;
            (board["entries"].as_array().is_some_and(|e| !e.is_empty())).then_some(board)
        },
    )
    .await;
    assert_eq!(
        (
            board["entries"][0]["name"].as_str(),
            board["entries"][0]["faction"].as_str()
        ),
        (Some("Bob"), Some("BLU"))
    );
    let factions = eventually(
        "the factions' board counts it",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || async {
            let board = b.json("/api/factions/leaderboard?period=today").await;
            (board["entries"].as_array().is_some_and(|e| !e.is_empty())).then_some(board)
        },
    )
    .await;
    assert_eq!(factions["entries"][0]["faction"]["tag"], "BLU");
    assert_eq!(factions["entries"][0]["score"], 1);
    assert_eq!(
        a.get("/api/factions/leaderboard?period=year")
            .await
            .status(),
        400
    );

    // Leaving: bob first, then ann, the last one out: gone.
    let (status, _) = post(&a, "/api/factions/leave", &bob, json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = post(&a, "/api/factions/leave", &ann, json!({})).await;
    assert_eq!(status, 204);
    assert_eq!(a.get(&format!("/api/factions/{id}")).await.status(), 404);
}

/// The text of the next frame of `kind` that `ws` is sent within a second
/// and a half, if any.
async fn next_line(
    ws: &mut WsClient,
    faction: bool,
) -> Option<(Option<u64>, app::protocol::ChatLine)> {
    use app::protocol::ServerMessage;
    tokio::time::timeout(Duration::from_millis(1500), async {
        loop {
            match ws.recv().await {
                ServerMessage::FactionChatLine { faction: id, line } if faction => {
                    return (Some(id), line)
                }
                ServerMessage::ChatLine(line) if !faction => return (None, line),
                ServerMessage::ChatLines(mut lines) if !faction => return (None, lines.remove(0)),
                _ => {}
            }
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn a_factions_channel_reaches_its_members_on_every_instance_and_nobody_else() {
    use app::protocol::{ChatStatus, ClientMessage};
    let redis = RedisServer::start().await;
    let url = redis.url();
    let vars = [("REDIS_URL", url.as_str())];
    let (a, b) = (spawn_app(&vars).await, spawn_app(&vars).await);
    wait_ready(&a).await;
    wait_ready(&b).await;
    let (ann, bob, cy) = (player(&a).await, player(&b).await, player(&b).await);
    let (_, founded) = post(
        &a,
        "/api/factions",
        &ann,
        json!({"name": "Red Side", "tag": "RED", "color": "#ff0000"}),
    )
    .await;
    let id = founded["id"].as_u64().unwrap();
    let (_, invitation) = post(&a, &format!("/api/factions/{id}/invites"), &ann, json!({})).await;
    let (status, _) = post(
        &b,
        "/api/factions/join",
        &bob,
        json!({"code": invitation["code"]}),
    )
    .await;
    assert_eq!(status, 200);

    // Connected after joining: bob's socket takes the channel, cy's not.
    let mut bob_ws = WsClient::with_session(&b, &bob).await;
    let mut cy_ws = WsClient::with_session(&b, &cy).await;
    let mut ann_ws = WsClient::with_session(&a, &ann).await;
    assert_eq!(
        ann_ws.faction_chat("meet at (5, 5)").await.0,
        ChatStatus::Sent
    );
    let (faction, line) = next_line(&mut bob_ws, true).await.expect("bob gets it");
    assert_eq!(
        (faction, line.text.as_str(), line.name.as_deref()),
        (Some(id), "meet at (5, 5)", Some("[RED]"))
    );
    assert!(
        next_line(&mut cy_ws, true).await.is_none(),
        "cy is in no faction"
    );

    // Someone in no faction is refused; the global channel shows the tag.
    assert_eq!(cy_ws.faction_chat("hello?").await.0, ChatStatus::NotAllowed);
    bob_ws
        .send(ClientMessage::Chat {
            text: "hi all".into(),
        })
        .await;
    let (_, line) = next_line(&mut cy_ws, false).await.expect("the global line");
    assert_eq!(
        (line.text.as_str(), line.name.as_deref()),
        ("hi all", Some("[RED]"))
    );

    // A new connection of a member is sent the channel's newest.
    let mut later = WsClient::with_session(&b, &bob).await;
    let (_, line) = next_line(&mut later, true)
        .await
        .expect("the channel's history");
    assert_eq!(line.text, "meet at (5, 5)");

    // Removed by the owner, bob's open sockets stop taking the channel
    // (well before their next heartbeat, 20 s away).
    let mine: Value = b
        .get_with("/api/factions/mine", "cookie", &bob)
        .await
        .json()
        .await
        .unwrap();
    let handle = mine["player"].as_str().unwrap();
    let path = format!("/api/factions/{id}/members/{handle}");
    let (status, _) = post(&a, &path, &ann, json!({"role": null})).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(ann_ws.faction_chat("bob is gone").await.0, ChatStatus::Sent);
    for ws in [&mut bob_ws, &mut later] {
        assert!(
            next_line(ws, true).await.is_none(),
            "a removed member reads the channel no more"
        );
    }
}

#[tokio::test]
async fn a_member_reports_a_message_of_the_factions_channel_and_a_moderator_removes_it() {
    use app::protocol::ServerMessage;
    let token = crate::admin::TOKEN;
    let app = spawn_app(&[("ADMIN_TOKEN", token)]).await;
    let (ann, bob) = (player(&app).await, player(&app).await);
    let (_, founded) = post(
        &app,
        "/api/factions",
        &ann,
        json!({"name": "Green Side", "tag": "GRN", "color": "#00ff00"}),
    )
    .await;
    let id = founded["id"].as_u64().unwrap();
    let (_, invitation) = post(
        &app,
        &format!("/api/factions/{id}/invites"),
        &ann,
        json!({}),
    )
    .await;
    post(
        &app,
        "/api/factions/join",
        &bob,
        json!({"code": invitation["code"]}),
    )
    .await;
    let mut ann_ws = WsClient::with_session(&app, &ann).await;
    let mut bob_ws = WsClient::with_session(&app, &bob).await;
    ann_ws.faction_chat("something rude").await;
    let (_, line) = next_line(&mut bob_ws, true).await.expect("bob gets it");

    let (status, _) = post(
        &app,
        "/api/chat/report",
        &bob,
        json!({"id": line.id, "reason": "rude"}),
    )
    .await;
    assert_eq!(status, 200, "a member reports their channel's message");
    let bearer = format!("Bearer {token}");
    let as_moderator = |path: &'static str| app.get_with(path, "authorization", &bearer);
    let reports: Value = as_moderator("/api/admin/reports")
        .await
        .json()
        .await
        .unwrap();
    let message = &reports["reports"][0]["message"];
    assert_eq!(
        (message["text"].as_str(), message["faction"].as_u64()),
        (Some("something rude"), Some(id))
    );
    // Moderators read the faction's channel too, apart from the canvas's.
    let kept = |query: String| {
        let (app, bearer) = (&app, &bearer);
        async move {
            let path = format!("/api/admin/chat{query}");
            let answer: Value = app
                .get_with(&path, "authorization", bearer)
                .await
                .json()
                .await
                .unwrap();
            answer["messages"].as_array().unwrap().clone()
        }
    };
    let channel = kept(format!("?faction={id}")).await;
    assert_eq!(
        (channel[0]["text"].as_str(), channel[0]["faction"].as_u64()),
        (Some("something rude"), Some(id))
    );
    assert!(
        kept(String::new()).await.is_empty(),
        "not the canvas's channel"
    );
    let status = as_moderator("/api/admin/chat?faction=blue").await.status();
    assert_eq!(status, 400);
    let removed: Value = app
        .http
        .post(app.url("/api/admin/chat/remove"))
        .bearer_auth(token)
        .json(&json!({"id": line.id, "faction": id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(removed["removed"], true);
    let gone = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let ServerMessage::ChatRemoved { id: removed } = bob_ws.recv().await {
                return removed;
            }
        }
    })
    .await
    .expect("the removal reaches the member's page");
    assert_eq!(gone, line.id);
    assert!(kept(format!("?faction={id}")).await.is_empty());
}

#[tokio::test]
async fn an_address_founds_joins_and_invites_a_few_times_then_is_told_to_wait() {
    let app = spawn_app(&[]).await;
    let ann = player(&app).await;
    let (status, founded) = post(
        &app,
        "/api/factions",
        &ann,
        json!({"name": "Many Invites", "tag": "INV", "color": "#123456"}),
    )
    .await;
    assert_eq!(status, 201, "{founded}");
    let id = founded["id"].as_u64().unwrap();
    let invites = format!("/api/factions/{id}/invites");
    // The founding took one of the address's ten; nine invitations more.
    for n in 0..9 {
        let (status, body) = post(&app, &invites, &ann, json!({})).await;
        assert_eq!(status, 200, "invitation {n}: {body}");
    }
    let (status, body) = post(&app, &invites, &ann, json!({})).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("try again"),
        "{body}"
    );
    // A fresh session from the same address buys no more.
    let bob = player(&app).await;
    let (status, _) = post(
        &app,
        "/api/factions",
        &bob,
        json!({"name": "Second Try", "tag": "TRY", "color": "#654321"}),
    )
    .await;
    assert_eq!(status, 429);
    // What is refused before the store is asked costs nothing.
    let (status, _) = post(&app, "/api/factions/join", &bob, json!({"code": "nope"})).await;
    assert_eq!(status, 410);
}
