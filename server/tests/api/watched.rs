//! Watched templates across two instances on one real Redis: registered on
//! one, its progress read on the other from the placements each applies;
//! damage past the threshold raises one alert on every open page and one
//! signed webhook post across both instances; what is not a template, or
//! not the player's to remove, is refused.

use crate::{
    helpers::{eventually, spawn_app, wait_ready, Api, WsClient, WAIT},
    redis_server::RedisServer,
};
use app::protocol::{PlaceStatus, ServerMessage};
use axum::{extract::State, http::HeaderMap, routing, Router};
use serde_json::{json, Value};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

async fn player(app: &Api) -> String {
    let page = app.get("/").await;
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

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

/// Posts received: each one's signature header and body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A webhook receiver on a loopback port: its address and what it got.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            routing::post(
                |State(got): State<Received>, headers: HeaderMap, body: axum::body::Bytes| async move {
                    let signature = headers["x-canvas-signature"].to_str().unwrap().to_owned();
                    got.lock().unwrap().push((signature, body.to_vec()));
                    "ok"
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), received)
}

/// A 4 × 1 template of color 5 at (10, 10), threshold 2.
fn template(webhook: &str) -> Value {
    json!({"name": "Red bar", "x": 10, "y": 10, "width": 4, "height": 1, "pixels": "FFFF", "threshold": 2, "webhook": webhook})
}

#[tokio::test]
async fn a_watched_template_is_counted_on_every_instance_and_its_damage_alerts_once() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let vars = [("REDIS_URL", url.as_str()), ("WEBHOOKS", "any")];
    let (a, b) = (spawn_app(&vars).await, spawn_app(&vars).await);
    wait_ready(&a).await;
    wait_ready(&b).await;
    let ann = player(&a).await;
    let (hook, received) = receiver().await;

    // What is not a template is refused.
    for (bad, why) in [
        (
            json!({"name": "x", "x": 10, "y": 10, "width": 4, "height": 1, "pixels": "FFF"}),
            "length",
        ),
        (
            json!({"name": "x", "x": 10, "y": 10, "width": 4, "height": 1, "pixels": "...."}),
            "empty",
        ),
        (
            json!({"name": "x", "x": 10, "y": 10, "width": 1, "height": 1, "pixels": "z"}),
            "color",
        ),
        (
            json!({"name": "x", "x": 999, "y": 10, "width": 1, "height": 1, "pixels": "F"}),
            "off",
        ),
        (
            json!({"name": "", "x": 1, "y": 1, "width": 1, "height": 1, "pixels": "F"}),
            "name",
        ),
        (
            json!({"name": "x", "x": 1, "y": 1, "width": 1, "height": 1, "pixels": "F", "webhook": "ftp://x"}),
            "hook",
        ),
    ] {
        let (status, body) = post(&a, "/api/templates", &ann, bad).await;
        assert_eq!(status, 400, "{why}: {body}");
    }

    let (status, made) = post(&a, "/api/templates", &ann, template(&hook)).await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_u64().unwrap();
    let secret = made["webhook_secret"].as_str().unwrap().to_owned();
    let path = format!("/api/templates/{id}");
    // The instance that took it answers for it at once (its page asks
    // straight away); the other learns of it from the feed.
    assert_eq!(a.get(&path).await.status(), 200);
    let progress = eventually("b watches it", WAIT, Duration::from_millis(50), || async {
        let response = b.get(&path).await;
        (response.status() == 200).then_some(())?;
        response.json::<Value>().await.ok()
    })
    .await;
    assert_eq!(
        (progress["total"].as_u64(), progress["right"].as_u64()),
        (Some(4), Some(0))
    );

    // Made right through a, counted by b; then damaged through b.
    let mut painter = WsClient::with_session(&a, &ann).await;
    let mut watcher = WsClient::connect(&b, None).await;
    for x in 10..14 {
        painter.place(x, 10, 5).await;
        assert_eq!(painter.place_result().await.0, PlaceStatus::Accepted);
    }
    eventually(
        "b counts them right",
        WAIT,
        Duration::from_millis(50),
        || async {
            let progress = b.json(&path).await;
            (progress["right"] == 4).then_some(())
        },
    )
    .await;
    let mut vandal = WsClient::connect(&b, None).await;
    for x in [10, 11] {
        vandal.place(x, 10, 3).await;
        assert_eq!(vandal.place_result().await.0, PlaceStatus::Accepted);
    }
    let alert = tokio::time::timeout(WAIT, async {
        loop {
            if let ServerMessage::TemplateAlert {
                id: alerted,
                damaged,
                right,
                total,
            } = watcher.recv().await
            {
                return (alerted, damaged, right, total);
            }
        }
    })
    .await
    .expect("an open page is alerted");
    assert_eq!(alert, (id, 2, 2, 4));
    let progress = a.json(&path).await;
    assert_eq!(
        (progress["damaged"].as_u64(), progress["alerting"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(progress["damaged_pixels"], json!([[11, 10], [10, 10]]));

    // One post across both instances, signed with the template's secret.
    let posts = eventually(
        "the webhook is posted",
        WAIT,
        Duration::from_millis(50),
        || async {
            let posts = received.lock().unwrap().clone();
            (!posts.is_empty()).then_some(posts)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(received.lock().unwrap().len(), 1, "one instance posts it");
    let (signature, body) = &posts[0];
    assert_eq!(*signature, server::webhooks::signature(&secret, body));
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        (body["template"].as_u64(), body["damaged"].as_u64()),
        (Some(id), Some(2))
    );

    // Only its owner removes it; then no instance watches it.
    let bob = player(&b).await;
    let (status, _) = post(&b, &format!("{path}/remove"), &bob, json!({})).await;
    assert_eq!(status, 403);
    let (status, _) = post(&b, &format!("{path}/remove"), &ann, json!({})).await;
    assert_eq!(status, 204);
    for app in [&a, &b] {
        eventually("it is gone", WAIT, Duration::from_millis(50), || async {
            (app.get(&path).await.status() == 404).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn by_default_a_webhook_must_be_https_to_a_public_address() {
    let app = spawn_app(&[]).await;
    let ann = player(&app).await;
    for hook in [
        "http://127.0.0.1:9/hook",
        "https://169.254.169.254/",
        "https://10.0.0.1/x",
    ] {
        let (status, body) = post(&app, "/api/templates", &ann, template(hook)).await;
        assert_eq!(status, 400, "{hook}: {body}");
    }
    // A player registers so many, then is told to remove one.
    for n in 0..3 {
        let body = json!({"name": format!("t{n}"), "x": n, "y": 0, "width": 1, "height": 1, "pixels": "A"});
        let (status, made) = post(&app, "/api/templates", &ann, body).await;
        assert_eq!(status, 201, "{made}");
    }
    eventually(
        "all three watched",
        WAIT,
        Duration::from_millis(50),
        || async {
            let list = app.json("/api/templates").await;
            (list["templates"].as_array()?.len() == 3).then_some(())
        },
    )
    .await;
    let body = json!({"name": "t4", "x": 9, "y": 0, "width": 1, "height": 1, "pixels": "A"});
    let (status, _) = post(&app, "/api/templates", &ann, body).await;
    assert_eq!(status, 409);
}
