//! The HTTP routes of docs/protocol.md.

use crate::helpers::{eventually, header_u64, place_randomly, snapshots_at, spawn_app, WsClient};
use app::protocol::PlaceStatus;

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    // The sync task reports live after its first tick.
    let wait = std::time::Duration::from_millis(20);
    eventually("/readyz turns 200", wait * 100, wait, || async {
        (app.get("/readyz").await.status() == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn info_describes_the_canvas() {
    let app = spawn_app(&[("COOLDOWN_MS", "1500"), ("CHARGES_MAX", "4")]).await;
    let info = app.json("/api/info").await;
    assert_eq!(
        (info["charges_max"].as_u64(), info["undo_ms"].as_u64()),
        (Some(4), Some(5000))
    );
    assert_eq!(info["width"], 64);
    assert_eq!(info["height"], 32);
    assert_eq!(info["cooldown_ms"], 1500);
    assert_eq!(info["seq"], 0);
    assert_eq!(info["palette"].as_array().unwrap().len(), 32);
    assert_eq!(info["palette"][0], "#ffffff");
    assert!(info["epoch"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(info["online"], 0);
}

#[tokio::test]
async fn canvas_snapshot_has_seq_epoch_etag_and_compresses() {
    let app = spawn_app(&[]).await;
    let mut ws = app.ws().await;
    ws.place(3, 2, 5).await;
    let (status, seq, _) = ws.place_result().await;
    assert_eq!(status, PlaceStatus::Accepted);
    // Wait for the mirror to apply it (the tile comes back on the socket).
    ws.wait_for_seq(seq).await;

    let plain = app
        .get_with("/api/canvas", "accept-encoding", "identity")
        .await;
    assert_eq!(plain.status(), 200);
    assert_eq!(header_u64(&plain, "x-canvas-seq"), 1);
    let epoch = header_u64(&plain, "x-canvas-epoch");
    assert_eq!(epoch.to_string(), app.json("/api/info").await["epoch"]);
    let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    assert!(plain.headers().get("content-encoding").is_none());
    let body = plain.bytes().await.unwrap();
    assert_eq!(body.len(), 64 * 32);
    assert_eq!(body[2 * 64 + 3], 5);
    assert_eq!(body.iter().filter(|&&b| b != 0).count(), 1);

    // Raw request without decompression, to see the encoding on the wire.
    let raw = reqwest::Client::builder()
        .no_gzip()
        .build()
        .unwrap()
        .get(app.url("/api/canvas"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-encoding"], "gzip");
    let compressed = raw.bytes().await.unwrap();
    assert!(
        compressed.len() < body.len() / 4,
        "{} bytes",
        compressed.len()
    );
    // And reqwest's own decompression gives back the same bytes.
    assert_eq!(app.canvas().await.0, body.to_vec());

    let revalidated = app.get_with("/api/canvas", "if-none-match", &etag).await;
    assert_eq!(revalidated.status(), 304);
}

#[tokio::test]
async fn canvas_png_is_the_canvas() {
    let app = spawn_app(&[]).await;
    let mut ws = app.ws().await;
    ws.place(63, 31, 28).await; // black, bottom-right
    let (status, seq, _) = ws.place_result().await;
    assert_eq!(status, PlaceStatus::Accepted);
    ws.wait_for_seq(seq).await;

    let response = app.get("/api/canvas.png").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = response.bytes().await.unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut rgb).unwrap();
    assert_eq!((frame.width, frame.height), (64, 32));
    let channels = frame.color_type.samples();
    let at = |x: usize, y: usize| &rgb[(y * 64 + x) * channels..][..3];
    assert_eq!(at(0, 0), [0xff, 0xff, 0xff]);
    assert_eq!(at(63, 31), [0, 0, 0]);
}

#[tokio::test]
async fn pixel_tells_who_and_when_and_refuses_bad_coordinates() {
    let app = spawn_app(&[]).await;
    let untouched = app.json("/api/pixel?x=1&y=1").await;
    assert_eq!(untouched["color"], 0);
    assert!(untouched["placed_at"].is_null());
    assert!(untouched["placed_by"].is_null());

    let mut ws = app.ws().await;
    ws.place(1, 1, 7).await;
    let (_, seq, _) = ws.place_result().await;
    ws.wait_for_seq(seq).await;
    let pixel = app.json("/api/pixel?x=1&y=1").await;
    assert_eq!(pixel["color"], 7);
    assert_eq!(pixel["seq"], seq);
    assert!(pixel["placed_at"].as_str().unwrap().ends_with('Z'));

    for query in ["x=64&y=0", "x=0&y=32", "x=-1&y=0", "x=a&y=0", "x=1", ""] {
        let response = app.get(&format!("/api/pixel?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{query}");
    }
}

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let app = spawn_app(&[]).await;
    let response = app.get("/api/nope").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not found");
}

#[tokio::test]
async fn page_is_server_rendered_with_the_canvas_and_a_session() {
    let app = spawn_app(&[]).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("canvas_session=") && cookie.contains("HttpOnly"));
    let html = response.text().await.unwrap();
    assert!(html.contains("<title>Canvas</title>"), "{html}");
    assert!(html.contains(r#"width="64""#) && html.contains("<canvas"));
    assert!(html.contains("/api/canvas.png"));
    assert_eq!(html.matches(r#"class="swatch""#).count(), 32);
    assert!(html.contains("/pkg/canvas.js"), "hydration script");
    // Link previews and crawlers: absolute image, description, live figures.
    let origin = format!("http://{}", app.addr);
    assert!(
        html.contains(&format!(
            r#"property="og:image" content="{origin}/api/canvas.png?seq=0""#
        )),
        "{html}"
    );
    assert!(html.contains(r#"name="twitter:card" content="summary_large_image""#));
    assert!(html.contains(r#"name="description" content="A shared 64x32 pixel canvas"#));
    assert!(
        html.contains(r#"class="placed">0<"#),
        "tiles placed in the first paint"
    );
}

#[tokio::test]
async fn the_heatmap_marks_where_tiles_were_just_placed() {
    let app = spawn_app(&[]).await;
    let (_ws, _replica, placed) = place_randomly(app.api.clone(), 9, 20).await;
    snapshots_at(std::slice::from_ref(&app), 20).await;
    let response = app.get("/api/heatmap.png").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(response.bytes().await.unwrap()));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().expect("a PNG");
    assert_eq!(reader.info().color_type, png::ColorType::Grayscale);
    let mut levels = vec![0; reader.output_buffer_size().expect("a size")];
    reader.next_frame(&mut levels).expect("a frame");
    let width = 64;
    let marked: std::collections::BTreeSet<usize> = placed
        .iter()
        .map(|(_, t)| usize::from(t.y) * width + usize::from(t.x))
        .collect();
    for (index, &level) in levels.iter().enumerate().take(64 * 32) {
        if marked.contains(&index) {
            assert!(level >= 250, "pixel {index} was just placed: level {level}");
        } else {
            assert_eq!(level, 0, "pixel {index} was never placed");
        }
    }
}

#[tokio::test]
async fn metrics_port_serves_metrics_apart_from_the_public_port() {
    let app = spawn_app(&[("METRICS_PORT", "0")]).await;
    let metrics_addr = app.metrics_addr.expect("a metrics listener");
    assert_ne!(metrics_addr, app.addr);
    assert_eq!(app.get("/metrics").await.status(), 404);
    let response = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_openmetrics(&response.text().await.unwrap());
    // The public routes stay on the public port only.
    let page = reqwest::get(format!("http://{metrics_addr}/api/info"))
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert_eq!(app.get("/api/info").await.status(), 200);
}

#[tokio::test]
async fn metrics_parse_as_openmetrics_and_move_with_traffic() {
    let app = spawn_app(&[]).await;
    let before = app.get("/metrics").await.text().await.unwrap();
    assert_openmetrics(&before);
    let mut watcher = app.ws().await;
    let mut ws = app.ws().await;
    ws.place(0, 0, 1).await;
    let (_, seq, _) = ws.place_result().await;
    ws.place(999, 0, 1).await;
    let _ = ws.place_result().await;
    watcher.wait_for_seq(seq).await;
    app.get("/api/pixel?x=0&y=0").await;
    app.get("/api/pixel?x=-1&y=0").await;

    let response = app.get("/metrics").await;
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert_openmetrics(&text);
    for line in [
        r#"canvas_placements_total{result="accepted"} 1"#,
        r#"canvas_placements_total{result="invalid"} 1"#,
        "canvas_websocket_connections 2",
        "canvas_placement_duration_seconds_count 1",
        r#"canvas_http_requests_total{route="/api/pixel",status="200"} 1"#,
        r#"canvas_http_requests_total{route="/api/pixel",status="400"} 1"#,
        r#"canvas_build_info{version="#,
        "canvas_feed_seq 1",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    // The watcher and the placer both got the tile.
    assert!(crate::helpers::metric(&text, "canvas_delivery_lag_seconds_count") >= 2.0);
    assert!(crate::helpers::metric(&text, "canvas_process_resident_memory_bytes") > 1e6);
}

/// Every line is metadata, a sample with a numeric value, or the final
/// `# EOF`, as the OpenMetrics text format requires.
fn assert_openmetrics(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"));
    for line in &lines[..lines.len() - 1] {
        if let Some(meta) = line.strip_prefix("# ") {
            let kind = meta.split(' ').next().unwrap();
            assert!(["HELP", "TYPE", "UNIT"].contains(&kind), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name in {line}"
        );
        assert!(
            series.contains('{') == series.ends_with('}'),
            "labels in {line}"
        );
        assert!(value.parse::<f64>().is_ok(), "value in {line}");
    }
}

#[tokio::test]
async fn a_display_name_shows_as_placed_by() {
    let app = spawn_app(&[]).await;
    // The page hands out the session the name belongs to.
    let page = app.get("/").await;
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let response = app
        .http
        .post(app.url("/api/name"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({ "name": "  Ada L. " }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("set-cookie").is_none(),
        "no new session"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["name"], "Ada L.");

    let mut ws = crate::helpers::WsClient::with_session(&app, &cookie).await;
    ws.place(4, 4, 4).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
    assert_eq!(app.json("/api/pixel?x=4&y=4").await["placed_by"], "Ada L.");
    // The page shows the name back to its owner.
    let html = app
        .get_with("/", "cookie", &cookie)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"value="Ada L.""#), "{html}");

    for bad in [
        r#"{"name":"x"}"#,
        r#"{"name":"<b>hi</b>"}"#,
        r#"{"nom":"Ada"}"#,
        "not json",
    ] {
        let response = app
            .http
            .post(app.url("/api/name"))
            .header("cookie", &cookie)
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{bad}");
    }
}

#[tokio::test]
async fn two_canvases_side_by_side_keep_their_own_tiles_sizes_and_cooldowns() {
    let app = spawn_app(&[("COOLDOWN_MS", "60000"), ("CANVASES", "moon:300x200:0:16")]).await;
    let listed = app.json("/api/canvases").await;
    assert_eq!(
        listed,
        serde_json::json!({"canvases": [
            {"name": "default", "path": "/", "width": 64, "height": 32, "cooldown_ms": 60000},
            {"name": "moon", "path": "/c/moon", "width": 300, "height": 200, "cooldown_ms": 0},
        ]})
    );
    let mut default = app.ws().await;
    let mut moon = WsClient::open_path(&app, "/c/moon/ws", &[]).await.unwrap();
    assert_eq!((moon.hello.width, moon.hello.height), (300, 200));
    default.place(10, 10, 3).await;
    assert_eq!(default.place_result().await.0, PlaceStatus::Accepted);
    // Another canvas, its own cooldown: placing there twice is fine.
    for x in [250, 251] {
        moon.place(x, 150, 5).await;
        assert_eq!(moon.place_result().await.0, PlaceStatus::Accepted);
    }
    let (pixels, seq) = app.canvas().await;
    assert_eq!((pixels.len(), seq, pixels[10 * 64 + 10]), (64 * 32, 1, 3));
    let moon_canvas = app.get("/c/moon/api/canvas").await;
    assert_eq!(header_u64(&moon_canvas, "x-canvas-seq"), 2);
    let moon_pixels = moon_canvas.bytes().await.unwrap();
    assert_eq!(moon_pixels.len(), 300 * 200);
    assert_eq!(moon_pixels[150 * 300 + 251], 5);
    assert_eq!(
        moon_pixels[10 * 300 + 10],
        0,
        "the default canvas's tile is not here"
    );
    // Its palette: the first 16 colors.
    let info = app.json("/c/moon/api/info").await;
    assert_eq!(info["palette"].as_array().map(Vec::len), Some(16));
    moon.place(1, 1, 16).await;
    assert_eq!(
        moon.place_result().await.0,
        PlaceStatus::Invalid,
        "not its color"
    );
    let page = app.get("/c/moon").await.text().await.unwrap();
    assert_eq!(page.matches("class=\"swatch\"").count(), 16);
    assert!(
        page.contains("/c/moon/api/canvas.png"),
        "its page shows its canvas"
    );
    assert_eq!(app.get("/c/mars/api/info").await.status(), 404);
}

#[tokio::test]
async fn placements_make_the_leaderboard_and_the_players_page() {
    let app = spawn_app(&[("COOLDOWN_MS", "0")]).await;
    let mut ws = app.ws().await;
    let cookie = ws.new_session.clone().unwrap();
    let named = app
        .http
        .post(app.url("/api/name"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({ "name": "Zed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);
    for x in [1, 2, 3] {
        ws.place(x, 1, 5).await;
        assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
    }
    let board = app.json("/api/leaderboard?board=placed&period=today").await;
    assert_eq!(board["board"], "placed");
    assert_eq!(board["period"], "today");
    let top = &board["entries"][0];
    assert_eq!(
        (
            top["rank"].as_u64(),
            top["name"].as_str(),
            top["score"].as_u64()
        ),
        (Some(1), Some("Zed"), Some(3))
    );
    let handle = top["player"].as_str().unwrap().to_owned();
    let standing = app.json("/api/leaderboard?board=standing").await;
    assert_eq!(standing["entries"][0]["score"], 3);
    assert!(standing.get("period").is_none());
    for bad in [
        "/api/leaderboard?board=votes",
        "/api/leaderboard?period=year",
        "/api/leaderboard?board=standing&period=all",
    ] {
        assert_eq!(app.get(bad).await.status(), 400, "{bad}");
    }

    let player = app.json(&format!("/api/players/{handle}")).await;
    assert_eq!(
        (player["placed"].as_u64(), player["standing"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(player["names"][0]["name"], "Zed");
    assert!(player["first_placed_at"].is_string());
    for missing in ["/api/players/0123456789abcdef", "/api/players/not-a-handle"] {
        assert_eq!(app.get(missing).await.status(), 404, "{missing}");
    }
    let page = app
        .get(&format!("/players/{handle}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Zed") && page.contains("Pixels still standing"));
}

/// On Redis the boards are counted from the history by one instance a
/// second: placed through one instance, they show on the other's board.
#[tokio::test]
async fn on_redis_the_boards_catch_up_on_every_instance() {
    let redis = crate::redis_server::RedisServer::start().await;
    let url = redis.url();
    let vars = [("REDIS_URL", url.as_str()), ("COOLDOWN_MS", "0")];
    let (a, b) = (spawn_app(&vars).await, spawn_app(&vars).await);
    let mut ws = a.ws().await;
    for x in [1, 2] {
        ws.place(x, 1, 5).await;
        assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
    }
    eventually(
        "both placements on the other instance's board",
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(200),
        || async {
            let board = b.json("/api/leaderboard?board=standing").await;
            (board["entries"][0]["score"] == 2).then_some(())
        },
    )
    .await;
    let all = b.json("/api/leaderboard").await;
    assert_eq!(all["entries"][0]["score"], 2, "counted once");
}
