//! The WebSocket protocol: delivery, ordering, cooldown, resume, and every
//! class of bad input.

use crate::helpers::{eventually, place_randomly, spawn_app, TestApp, WsClient};
use app::protocol::{error_code, ClientMessage, PlaceStatus, ServerMessage, Tile};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn hello_comes_first_with_the_canvas_size() {
    let app = spawn_app(&[("COOLDOWN_MS", "250")]).await;
    let ws = app.ws().await;
    assert_eq!((ws.hello.width, ws.hello.height), (64, 32));
    assert_eq!(ws.hello.seq, 0);
    assert_eq!(ws.hello.cooldown_ms, 250);
}

#[tokio::test]
async fn a_place_reaches_the_other_client_with_its_seq() {
    let app = spawn_app(&[]).await;
    let mut alice = app.ws().await;
    let mut bob = app.ws().await;
    alice.place(10, 20, 3).await;
    let (status, seq, _) = alice.place_result().await;
    assert_eq!(status, PlaceStatus::Accepted);
    assert_eq!(seq, 1);
    loop {
        match bob.recv().await {
            ServerMessage::Tiles { first_seq, tiles } => {
                assert_eq!(first_seq, seq);
                assert_eq!(
                    tiles,
                    vec![Tile {
                        x: 10,
                        y: 20,
                        color: 3
                    }]
                );
                break;
            }
            ServerMessage::Presence { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn cooldown_refuses_a_second_place_with_the_time_left() {
    let app = spawn_app(&[("COOLDOWN_MS", "60000")]).await;
    let mut ws = app.ws().await;
    ws.place(0, 0, 1).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
    ws.place(1, 0, 1).await;
    let (status, _, retry_after_ms) = ws.place_result().await;
    assert_eq!(status, PlaceStatus::Cooldown);
    assert!(
        (59_000..=60_000).contains(&retry_after_ms),
        "{retry_after_ms}"
    );
    // The refused tile was not written.
    assert_eq!(app.json("/api/pixel?x=1&y=0").await["color"], 0);
}

#[tokio::test]
async fn out_of_range_coordinates_and_colors_are_invalid() {
    let app = spawn_app(&[]).await;
    let mut ws = app.ws().await;
    for (x, y, color) in [
        (64, 0, 1),
        (0, 32, 1),
        (u16::MAX, u16::MAX, 1),
        (0, 0, 32),
        (0, 0, 255),
    ] {
        ws.place(x, y, color).await;
        assert_eq!(
            ws.place_result().await.0,
            PlaceStatus::Invalid,
            "{x},{y} color {color}"
        );
    }
    // The connection is still usable.
    ws.place(0, 0, 31).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
}

/// Each malformed frame gets `Error` with its code, then the close code.
#[tokio::test]
async fn malformed_frames_get_an_error_and_a_policy_close() {
    let app = spawn_app(&[]).await;
    let cases: Vec<(&str, Message, u16, u16)> = vec![
        (
            "unknown type",
            Message::Binary(vec![0x7f, 1, 2].into()),
            error_code::UNKNOWN_TYPE,
            1008,
        ),
        (
            "short place",
            Message::Binary(vec![0x01, 0, 0].into()),
            error_code::BAD_LENGTH,
            1008,
        ),
        (
            "long resume",
            Message::Binary(vec![0x02; 20].into()),
            error_code::BAD_LENGTH,
            1008,
        ),
        (
            "empty",
            Message::Binary(Vec::new().into()),
            error_code::EMPTY,
            1008,
        ),
        (
            "text",
            Message::Text("hello".into()),
            error_code::TEXT_FRAME,
            1008,
        ),
        (
            "over 1 KiB",
            Message::Binary(vec![0x01; 1025].into()),
            error_code::TOO_LARGE,
            1009,
        ),
    ];
    let mut bystander = app.ws().await;
    for (name, frame, code, close) in cases {
        let mut ws = app.ws().await;
        ws.send_raw(frame).await;
        loop {
            match ws.recv().await {
                ServerMessage::Error { code: got, message } => {
                    assert_eq!(got, code, "{name}: {message}");
                    break;
                }
                ServerMessage::Presence { .. } | ServerMessage::Tiles { .. } => continue,
                other => panic!("{name}: unexpected {other:?}"),
            }
        }
        assert_eq!(ws.close_code().await, close, "{name}");
    }
    // Other users are untouched.
    bystander.place(5, 5, 5).await;
    assert_eq!(bystander.place_result().await.0, PlaceStatus::Accepted);
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_foreign_origin_is_refused_and_the_serving_origin_accepted() {
    let app = spawn_app(&[]).await;
    let refused = WsClient::try_connect(&app, Some("https://evil.example")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a foreign origin was accepted"),
    }
    let origin = format!("http://{}", app.addr);
    WsClient::connect(&app, Some(&origin)).await;
}

#[tokio::test]
async fn a_place_flood_is_rate_limited_while_others_keep_placing() {
    let app = spawn_app(&[("PLACE_RATE_PER_SEC", "5")]).await;
    let mut flooder = app.ws().await;
    for i in 0..50 {
        flooder.place(i % 64, 0, 1).await;
    }
    let mut statuses = Vec::new();
    for _ in 0..50 {
        statuses.push(flooder.place_result().await.0);
    }
    let limited = statuses
        .iter()
        .filter(|s| **s == PlaceStatus::RateLimited)
        .count();
    assert!(limited >= 35, "{limited} of 50 were rate limited");
    let mut other = app.ws().await;
    other.place(1, 1, 2).await;
    assert_eq!(other.place_result().await.0, PlaceStatus::Accepted);
}

#[tokio::test]
async fn resume_sends_exactly_the_missed_tiles() {
    let app = spawn_app(&[]).await;
    let mut placer = app.ws().await;
    placer.place(0, 0, 1).await;
    let (_, seen_seq, _) = placer.place_result().await;
    let epoch = placer.hello.epoch;

    let mut missed = Vec::new();
    for i in 0..100u16 {
        let tile = Tile {
            x: i % 64,
            y: i / 64,
            color: (i % 31 + 1) as u8,
        };
        placer.send(ClientMessage::Place(tile)).await;
        assert_eq!(placer.place_result().await.0, PlaceStatus::Accepted);
        missed.push(tile);
    }

    let mut resumed = app.ws().await;
    resumed
        .send(ClientMessage::Resume {
            epoch,
            last_seq: seen_seq,
        })
        .await;
    let mut received = Vec::new();
    let mut next_seq = seen_seq + 1;
    while received.len() < missed.len() {
        if let ServerMessage::Tiles { first_seq, tiles } = resumed.recv().await {
            assert_eq!(first_seq, next_seq, "tiles in order, none twice");
            next_seq += tiles.len() as u64;
            received.extend(tiles);
        }
    }
    assert_eq!(received, missed);

    // Another epoch cannot be resumed.
    let mut stale = app.ws().await;
    stale
        .send(ClientMessage::Resume {
            epoch: epoch.wrapping_add(1),
            last_seq: 3,
        })
        .await;
    loop {
        match stale.recv().await {
            ServerMessage::Resync {
                seq,
                epoch: current,
            } => {
                assert_eq!(current, epoch);
                assert!(seq >= 101);
                break;
            }
            ServerMessage::Presence { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Places 30 tiles, then asks a new socket to resume from seq 5.
async fn resume_from_5_after_30_placements(app: &TestApp) -> WsClient {
    let mut placer = app.ws().await;
    for i in 0..30 {
        placer.place(i, 0, 2).await;
        assert_eq!(placer.place_result().await.0, PlaceStatus::Accepted);
    }
    let mut late = app.ws().await;
    late.send(ClientMessage::Resume {
        epoch: placer.hello.epoch,
        last_seq: 5,
    })
    .await;
    late
}

#[tokio::test]
async fn resume_past_the_history_gets_resync() {
    let app = spawn_app(&[("HISTORY_LEN", "10"), ("RECENT_TILES", "10")]).await;
    let mut late = resume_from_5_after_30_placements(&app).await;
    loop {
        match late.recv().await {
            ServerMessage::Resync { .. } => break,
            ServerMessage::Tiles { first_seq, .. } => {
                assert!(first_seq > 30, "history past its length was sent")
            }
            _ => continue,
        }
    }
}

/// The instance remembers recent tiles itself: a `Resume` within them is
/// answered exactly, even when the store's history no longer reaches back.
#[tokio::test]
async fn resume_is_answered_from_memory_past_the_stores_history() {
    let app = spawn_app(&[("HISTORY_LEN", "10"), ("RECENT_TILES", "100")]).await;
    let mut late = resume_from_5_after_30_placements(&app).await;
    let mut next = 6;
    while next <= 30 {
        match late.recv().await {
            ServerMessage::Tiles { first_seq, tiles } => {
                assert_eq!(first_seq, next, "the missed tiles, in order");
                next += tiles.len() as u64;
            }
            ServerMessage::Resync { .. } => panic!("resynced although memory holds the tiles"),
            _ => continue,
        }
    }
}

/// 1,000 random placements from four clients: every client's copy, built
/// from a snapshot plus the Tiles it received, equals `/api/canvas`.
#[tokio::test]
async fn random_placements_converge_on_every_client() {
    let app = spawn_app(&[]).await;
    let clients: Vec<_> = (0..4)
        .map(|seed| tokio::spawn(place_randomly(app.api.clone(), seed, 250)))
        .collect();
    let mut finished = Vec::new();
    for client in clients {
        finished.push(client.await.expect("client task"));
    }
    let (expected, final_seq) = app.canvas().await;
    assert_eq!(final_seq, 1000);
    for (mut ws, mut replica, accepted) in finished {
        assert_eq!(accepted.len(), 250);
        replica.settle(&mut ws, final_seq).await;
        assert!(
            replica.pixels == expected,
            "a client's canvas differs from /api/canvas"
        );
    }
}

#[tokio::test]
async fn shutdown_closes_sockets_with_going_away() {
    let mut app = spawn_app(&[]).await;
    let mut ws = app.ws().await;
    app.stop();
    assert_eq!(ws.close_code().await, 1001);
    let stopped = app.stopped.take().unwrap();
    tokio::time::timeout(crate::helpers::WAIT, stopped)
        .await
        .expect("the server stops")
        .unwrap();
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_closed() {
    let app = spawn_app(&[("PING_INTERVAL_MS", "100")]).await;
    let mut silent = app.ws().await;
    let mut alive = app.ws().await;
    // `alive` keeps reading (and so answers pings) until the server closes
    // a socket for its silence; `silent` reads nothing. Then one, not two,
    // was closed: `alive` lived as long.
    let keep_reading = async {
        while alive.recv_raw().await.is_some() {}
        std::future::pending::<()>().await;
    };
    let closed_one = async {
        loop {
            let metrics = app.get("/metrics").await.text().await.unwrap();
            let closed = metrics
                .lines()
                .filter_map(|line| {
                    line.strip_prefix(
                        r#"canvas_websocket_disconnects_total{reason="heartbeat_timeout"} "#,
                    )
                })
                .any(|count| count != "0");
            if closed {
                return metrics;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let metrics = tokio::time::timeout(crate::helpers::WAIT, async {
        tokio::select! {
            metrics = closed_one => metrics,
            () = keep_reading => unreachable!("reads forever"),
        }
    })
    .await
    .expect("the silent socket is closed");
    assert!(
        metrics.contains(r#"canvas_websocket_disconnects_total{reason="heartbeat_timeout"} 1"#),
        "{metrics}"
    );
    loop {
        match silent.recv_raw().await {
            Some(Message::Close(Some(frame))) => {
                assert_eq!(u16::from(frame.code), 1001);
                break;
            }
            None => break,
            Some(_) => continue,
        }
    }
    alive.place(1, 1, 1).await;
    assert_eq!(alive.place_result().await.0, PlaceStatus::Accepted);
}

#[tokio::test]
async fn connections_over_the_per_address_cap_are_refused() {
    let app = spawn_app(&[("MAX_CONNECTIONS_PER_IP", "2")]).await;
    let first = app.ws().await;
    let _second = app.ws().await;
    match WsClient::try_connect(&app, None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a third connection was accepted"),
    }
    // Closing one frees its place.
    drop(first);
    eventually(
        "the freed place is taken again",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || async { WsClient::try_connect(&app, None).await.ok() },
    )
    .await;
}

#[tokio::test]
async fn fresh_sessions_per_address_are_capped() {
    let app = spawn_app(&[("MAX_NEW_SESSIONS_PER_IP", "3")]).await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let ws = WsClient::try_connect(&app, None)
            .await
            .expect("under the ceiling");
        sessions.push(ws.new_session.clone().expect("a session cookie"));
    }
    match WsClient::try_connect(&app, None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("a fourth fresh session was granted"),
    }
    // A returning user keeps their session.
    let mut returning = WsClient::with_session(&app, &sessions[0]).await;
    returning.place(2, 2, 2).await;
    assert_eq!(returning.place_result().await.0, PlaceStatus::Accepted);
}

/// The next `Charges` frame, passing over other frames.
async fn charges(ws: &mut WsClient) -> (u8, u8, u32) {
    loop {
        if let ServerMessage::Charges {
            available,
            max,
            next_ms,
        } = ws.recv().await
        {
            return (available, max, next_ms);
        }
    }
}

#[tokio::test]
async fn a_session_with_charges_is_told_its_pool_and_an_undo_gives_one_back() {
    let app = spawn_app(&[("CHARGES_MAX", "3"), ("COOLDOWN_MS", "60000")]).await;
    let mut ws = app.ws().await;
    assert_eq!(charges(&mut ws).await, (3, 3, 0), "after Hello: full");
    ws.place(10, 20, 3).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
    let (available, max, next_ms) = charges(&mut ws).await;
    assert_eq!((available, max), (2, 3));
    assert!((59_000..=60_000).contains(&next_ms), "{next_ms}");
    ws.place(11, 20, 4).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
    assert_eq!(charges(&mut ws).await.0, 1);

    // The undo puts back the white under (11, 20) and one charge.
    ws.send(ClientMessage::Undo).await;
    let (status, seq, _) = ws.place_result().await;
    assert_eq!(status, PlaceStatus::Accepted);
    assert_eq!(charges(&mut ws).await.0, 2);
    let pixel = app.json("/api/pixel?x=11&y=20").await;
    assert_eq!(
        (pixel["color"].as_u64(), pixel["seq"].as_u64()),
        (Some(0), Some(seq))
    );
    ws.send(ClientMessage::Undo).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::NothingToUndo);

    // A new socket of the same session is told where its pool stands.
    let cookie = ws.new_session.clone().unwrap();
    let mut again = WsClient::with_session(&app, &cookie).await;
    assert_eq!(charges(&mut again).await.0, 2);
}

#[tokio::test]
async fn with_one_charge_no_charges_frame_is_sent() {
    let app = spawn_app(&[("COOLDOWN_MS", "60000")]).await;
    let mut ws = app.ws().await;
    ws.place(10, 20, 3).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
    ws.place(11, 20, 3).await;
    let (status, _, retry_after_ms) = ws.place_result().await;
    assert_eq!(status, PlaceStatus::Cooldown);
    assert!(retry_after_ms > 59_000);
    // The undo is answered; no Charges frame came before or with it.
    ws.send(ClientMessage::Undo).await;
    loop {
        match ws.recv().await {
            ServerMessage::PlaceResult { status, .. } => {
                assert_eq!(status, PlaceStatus::Accepted);
                break;
            }
            ServerMessage::Charges { .. } => panic!("a Charges frame with one charge"),
            _ => {}
        }
    }
}
