//! What an attacker tries first: invented session cookies, many sessions
//! from one address, floods of cheap requests that buy expensive work.

use crate::{
    helpers::{eventually, keys, metric, spawn_app, Api, WsClient},
    redis_server::RedisServer,
};
use app::protocol::{error_code, ClientMessage, PlaceStatus, ServerMessage};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// The per-address ceiling of new sessions in these tests.
const CEILING: u32 = 10;

/// Keys under the test prefix that name a session id.
async fn session_keys(redis: &RedisServer, id: &str) -> Vec<String> {
    let mut control = redis.connect().await;
    redis::cmd("KEYS")
        .arg(format!("{}*{id}*", keys().prefix()))
        .query_async(&mut control)
        .await
        .unwrap()
}

fn invented_id(n: u32) -> String {
    format!("{:032x}", u128::from(n) * 0x9e37_79b9_7f4a_7c15 + 1)
}

/// 50 sockets, each with a session id the client made up, cooldown on: only
/// sessions the server minted may place, so at most the address's ceiling
/// of new sessions ever place, and nothing is written for the invented ids.
#[tokio::test]
async fn invented_session_ids_buy_nothing() {
    let redis = RedisServer::start().await;
    let ceiling = CEILING.to_string();
    let app = spawn_app(&[
        ("REDIS_URL", &redis.url()),
        ("COOLDOWN_MS", "5000"),
        ("MAX_NEW_SESSIONS_PER_IP", &ceiling),
    ])
    .await;
    let mut placed = 0;
    for n in 0..50 {
        let cookie = format!("canvas_session={}", invented_id(n));
        let Ok(mut ws) = WsClient::open(&app.api, &[("cookie", cookie)]).await else {
            continue; // refused: the address is over its ceiling
        };
        ws.place(n as u16, 0, 3).await;
        if ws.place_result().await.0 == PlaceStatus::Accepted {
            placed += 1;
        }
    }
    println!("invented session ids: {placed} of 50 placed");
    assert!(placed <= CEILING, "{placed} of 50 invented sessions placed");
    for n in 0..50 {
        let keys = session_keys(&redis, &invented_id(n)).await;
        assert!(keys.is_empty(), "keys written for an invented id: {keys:?}");
    }
}

/// A signed session with one character changed is refused like an invented
/// one: the client gets a fresh session instead, counted against its
/// address's ceiling.
#[tokio::test]
async fn a_tampered_session_is_no_session() {
    let app = spawn_app(&[("COOLDOWN_MS", "60000"), ("MAX_NEW_SESSIONS_PER_IP", "2")]).await;
    let mut first = app.ws().await;
    let cookie = first.new_session.clone().expect("a session");
    first.place(1, 1, 1).await;
    assert_eq!(first.place_result().await.0, PlaceStatus::Accepted);

    let mut tampered = cookie.clone().into_bytes();
    let at = cookie.find('=').unwrap() + 3;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let mut second = WsClient::open(&app.api, &[("cookie", tampered.clone())])
        .await
        .expect("the second of two new sessions");
    assert!(
        second.new_session.is_some(),
        "a fresh session, not the tampered one"
    );
    second.place(2, 2, 2).await;
    assert_eq!(
        second.place_result().await.0,
        PlaceStatus::Accepted,
        "a new session's first"
    );
    // The address has used its two new sessions: a third forgery is refused.
    assert!(WsClient::open(&app.api, &[("cookie", tampered)])
        .await
        .is_err());
    // The genuine session is still itself: still cooling down.
    let mut again = WsClient::with_session(&app.api, &cookie).await;
    again.place(3, 3, 3).await;
    assert_eq!(again.place_result().await.0, PlaceStatus::Cooldown);
}

/// A form on another site can post `text/plain` to any origin without
/// asking: `/api/name` answers only JSON from this deployment's pages, and
/// never makes a session.
#[tokio::test]
async fn a_cross_site_name_post_is_refused_and_mints_nothing() {
    let app = spawn_app(&[]).await;
    let cookie = {
        let page = app.get("/").await;
        let value = page.headers()["set-cookie"].to_str().unwrap();
        value.split(';').next().unwrap().to_owned()
    };
    let post = |origin: Option<&str>, content_type: &'static str, cookie: Option<&str>| {
        let mut request = app
            .http
            .post(app.url("/api/name"))
            .header("content-type", content_type)
            .body(r#"{"name":"Mallory"}"#);
        if let Some(origin) = origin {
            request = request.header("origin", origin.to_owned());
        }
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie.to_owned());
        }
        request.send()
    };
    // From another site, as a form would: refused, nothing minted.
    let forged = post(Some("https://evil.example"), "text/plain", Some(&cookie))
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("set-cookie").is_none());
    let forged = post(Some("https://evil.example"), "application/json", None)
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("set-cookie").is_none());
    // Same origin but not JSON.
    let same = format!("http://{}", app.addr);
    let same = same.as_str();
    let plain = post(Some(same), "text/plain", Some(&cookie)).await.unwrap();
    assert_eq!(plain.status(), 415);
    // Without a session there is nothing to name, and none is made.
    let anonymous = post(Some(same), "application/json", None).await.unwrap();
    assert_eq!(anonymous.status(), 403);
    assert!(anonymous.headers().get("set-cookie").is_none());
    let message: serde_json::Value = anonymous.json().await.unwrap();
    assert!(
        message["error"].as_str().unwrap().contains("reload"),
        "{message}"
    );
    // The page's own request works, and the forged ones changed nothing.
    assert_eq!(
        app.json("/api/pixel?x=0&y=0").await["placed_by"],
        serde_json::Value::Null
    );
    let own = post(Some(same), "application/json; charset=utf-8", Some(&cookie))
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
}

/// Many real sessions from one address place no faster than the address's
/// budget, checked inside the same atomic step as the cooldown; another
/// address is not affected.
#[tokio::test]
async fn many_sessions_from_one_address_share_its_budget() {
    let redis = RedisServer::start().await;
    let app = spawn_app(&[
        ("REDIS_URL", &redis.url()),
        ("COOLDOWN_MS", "60000"),
        ("PLACEMENTS_PER_ADDRESS", "3"),
        ("MAX_NEW_SESSIONS_PER_IP", "0"),
        ("TRUST_FORWARDED_FOR", "true"),
    ])
    .await;
    let from = |ip: &str| vec![("x-forwarded-for", ip.to_owned())];
    let mut outcomes = Vec::new();
    for n in 0..8u16 {
        let mut ws = WsClient::open(&app.api, &from("198.51.100.7"))
            .await
            .unwrap();
        assert!(ws.new_session.is_some(), "a session of its own");
        ws.place(n, 0, 5).await;
        outcomes.push(ws.place_result().await);
    }
    let accepted = outcomes
        .iter()
        .filter(|(s, ..)| *s == PlaceStatus::Accepted)
        .count();
    assert_eq!(accepted, 3, "{outcomes:?}");
    for (status, _, retry_after_ms) in &outcomes[3..] {
        assert_eq!(*status, PlaceStatus::Cooldown);
        assert!(
            *retry_after_ms > 55_000,
            "until the window ends: {retry_after_ms}"
        );
    }
    let mut elsewhere = WsClient::open(&app.api, &from("198.51.100.8"))
        .await
        .unwrap();
    elsewhere.place(9, 9, 5).await;
    assert_eq!(elsewhere.place_result().await.0, PlaceStatus::Accepted);
    // Two IPv6 addresses in one /64 are one address.
    for (n, ip) in [
        "2001:db8:7::1",
        "2001:db8:7::2",
        "2001:db8:7::3",
        "2001:db8:7::4",
    ]
    .iter()
    .enumerate()
    {
        let mut ws = WsClient::open(&app.api, &from(ip)).await.unwrap();
        ws.place(n as u16, 5, 5).await;
        let expected = if n < 3 {
            PlaceStatus::Accepted
        } else {
            PlaceStatus::Cooldown
        };
        assert_eq!(ws.place_result().await.0, expected, "{ip}");
    }
}

/// `Resume` can cost store reads: a socket that sends it in a loop is
/// closed with a clear error, and other clients place meanwhile.
#[tokio::test]
async fn a_resume_flood_is_closed_and_others_keep_placing() {
    let app = spawn_app(&[]).await;
    let mut placer = app.ws().await;
    let mut flooder = app.ws().await;
    let epoch = flooder.hello.epoch;
    let flood = tokio::spawn(async move {
        for _ in 0..50 {
            flooder
                .send(ClientMessage::Resume { epoch, last_seq: 0 })
                .await;
        }
        loop {
            match flooder.recv_raw().await {
                Some(Message::Binary(frame)) => {
                    if let Ok(ServerMessage::Error { code, message }) =
                        ServerMessage::decode(&frame)
                    {
                        assert_eq!(code, error_code::TOO_MANY_RESUMES, "{message}");
                        break;
                    }
                }
                Some(_) => continue,
                None => panic!("closed without an Error"),
            }
        }
        flooder.close_code().await
    });
    for x in 0..20 {
        placer.place(x, 1, 4).await;
        assert_eq!(placer.place_result().await.0, PlaceStatus::Accepted);
    }
    assert_eq!(flood.await.unwrap(), 1008);
}

/// A client that sends its request headers a byte at a time is cut off at
/// the header deadline; the instance serves others meanwhile.
#[tokio::test]
async fn a_slow_loris_is_cut_off_at_the_header_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(&[("HEADER_READ_TIMEOUT_MS", "500")]).await;
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    let request = b"GET /api/info HTTP/1.1\r\nHost: canvas\r\nX-Slow: ";
    let mut cut_off = None;
    for byte in request.iter().chain(std::iter::repeat(&b'a')).take(60) {
        if slow.write_all(&[*byte]).await.is_err() {
            cut_off = Some(started.elapsed());
            break;
        }
        let mut buf = [0; 256];
        match tokio::time::timeout(Duration::from_millis(100), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut_off = Some(started.elapsed());
                break;
            }
            Ok(Ok(_)) => {} // an answer (408) before the close
            Err(_) => {}    // nothing yet: keep trickling
        }
        assert_eq!(app.get("/healthz").await.status(), 200, "others are served");
    }
    let cut_off = cut_off.expect("the slow client was never cut off");
    assert!(
        cut_off < Duration::from_secs(3),
        "cut off after {cut_off:?}"
    );
}

/// A flood of snapshot requests while the canvas keeps changing makes one
/// encoding of each kind per interval, not one per request.
#[tokio::test]
async fn a_snapshot_flood_does_not_buy_encodings() {
    let app = spawn_app(&[("SNAPSHOT_MAX_AGE_MS", "60000")]).await;
    let mut placer = app.ws().await;
    for n in 0..100u16 {
        placer.place(n % 64, n / 64, 3).await;
        assert_eq!(placer.place_result().await.0, PlaceStatus::Accepted);
        let gzip = app.get("/api/canvas").await;
        assert_eq!(gzip.status(), 200);
        assert_eq!(app.get("/api/canvas.png").await.status(), 200);
        let plain = app
            .get_with("/api/canvas", "accept-encoding", "identity")
            .await;
        assert_eq!(plain.status(), 200);
        assert_eq!(
            plain.headers()["cache-control"],
            "public, max-age=1",
            "a proxy may keep it for a second"
        );
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for format in ["raw", "gzip", "png"] {
        let made = metric(
            &metrics,
            &format!("canvas_snapshot_encodings_total{{format=\"{format}\"}}"),
        );
        assert_eq!(made, 1.0, "{format} encoded {made} times for 100 requests");
    }
    // The served snapshot is the one made then, and says so.
    let (_, seq) = app.canvas().await;
    assert_eq!(seq, 1);
}

/// Calls of `XRANGE` the Redis has run (from scripts too): what reading
/// the history costs it.
async fn history_reads(redis: &RedisServer) -> u64 {
    let mut control = redis.connect().await;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut control)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_xrange:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

/// The answer to a `Resume`: `Some(first_seq)` of the tiles, or `None`
/// for `Resync`.
async fn resumed(ws: &mut WsClient) -> Option<u64> {
    loop {
        match ws.recv().await {
            ServerMessage::Tiles { first_seq, .. } => return Some(first_seq),
            ServerMessage::Resync { .. } => return None,
            _ => continue,
        }
    }
}

/// A freshly restarted instance recalls the recent tiles before it takes
/// sockets, so a crowd resuming within them costs the store nothing; a
/// `Resume` from further back is read from the store only within its
/// address's allowance, and gets `Resync` past it, however many sockets
/// the address opens. The store's own count of history reads says so.
#[tokio::test]
async fn a_restarted_instance_cannot_be_stampeded_through_the_store() {
    const TOKEN: &str = "a-moderator-token-of-enough-length";
    let redis = RedisServer::start().await;
    let url = redis.url();
    let vars = [
        ("REDIS_URL", url.as_str()),
        ("ADMIN_TOKEN", TOKEN),
        ("RECENT_TILES", "2048"),
    ];
    let mut first = spawn_app(&vars).await;
    for color in 1..=3 {
        let filled = first
            .api
            .http
            .post(first.api.url("/api/admin/fill"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"x":0,"y":0,"width":64,"height":32,"color":color}))
            .send()
            .await
            .unwrap();
        assert_eq!(filled.status(), 200);
    }
    let seq = redis.newest_seq().await;
    assert_eq!(seq, 3 * 64 * 32);
    first.stop();

    let restarted = spawn_app(&vars).await;
    let mut ws = restarted.api.ws().await;
    let epoch = ws.hello.epoch;
    let cookie = ws.new_session.take().unwrap();
    let before = history_reads(&redis).await;
    let (mut from_memory, mut from_store, mut resynced) = (0, 0, 0);
    for _ in 0..32 {
        let mut ws = WsClient::with_session(&restarted.api, &cookie).await;
        for back in [1000, 5000, 5000] {
            ws.send(ClientMessage::Resume {
                epoch,
                last_seq: seq - back,
            })
            .await;
            match (back, resumed(&mut ws).await) {
                (1000, Some(first_seq)) => {
                    assert_eq!(first_seq, seq - back + 1);
                    from_memory += 1;
                }
                (_, Some(_)) => from_store += 1,
                (_, None) => resynced += 1,
            }
        }
    }
    let reads = history_reads(&redis).await - before;
    println!(
        "96 resumes on a restarted instance: {from_memory} from memory, \
         {from_store} from the store ({reads} history reads), {resynced} resynced"
    );
    assert_eq!(from_memory, 32, "the recent tiles are recalled at start");
    assert!(from_store <= 3, "the address's allowance: {from_store}");
    assert!(reads <= 9, "{reads} history reads for {from_store} resumes");
}

/// HTTP connections open on the app, by its own gauge.
async fn http_connections(app: &Api) -> f64 {
    metric(
        &app.get("/metrics").await.text().await.unwrap(),
        "canvas_http_connections",
    )
}

/// Clients that ask for the snapshot and never read it hold a connection
/// and a copy of the canvas each only until the write deadline; meanwhile
/// others are served.
#[tokio::test]
async fn clients_that_never_read_are_cut_off_at_the_write_deadline() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app(&[
        ("CANVAS_WIDTH", "1000"),
        ("CANVAS_HEIGHT", "1000"),
        ("SEND_TIMEOUT_MS", "2000"),
    ])
    .await;
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /api/canvas HTTP/1.1\r\nhost: canvas\r\n\r\n")
            .await
            .unwrap();
        stalled.push(stream);
    }
    let held = http_connections(&app.api).await;
    assert!(held >= 20.0, "{held} connections while the writes stall");
    assert_eq!(app.get("/healthz").await.status(), 200, "others are served");
    eventually(
        "the stalled connections to be cut off",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async { (http_connections(&app.api).await <= 2.0).then_some(()) },
    )
    .await;
    drop(stalled);
}

/// One address holds at most `MAX_HTTP_CONNECTIONS_PER_IP` HTTP
/// connections: the next is told 429 and closed; a closed one frees its
/// place.
#[tokio::test]
async fn one_address_holds_a_bounded_number_of_http_connections() {
    use tokio::io::AsyncReadExt;
    let app = spawn_app(&[("MAX_HTTP_CONNECTIONS_PER_IP", "8")]).await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(tokio::net::TcpStream::connect(app.addr).await.unwrap());
    }
    let mut over = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), over.read_to_string(&mut answer))
        .await
        .expect("closed at once")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    idle.pop();
    eventually(
        "a place to free up",
        Duration::from_secs(5),
        Duration::from_millis(50),
        || async {
            let response = reqwest::get(app.api.url("/healthz")).await.ok()?;
            (response.status() == 200).then_some(())
        },
    )
    .await;
}

/// A client reconnecting in a loop meets `WS_HANDSHAKES_PER_IP`: past the
/// burst its handshakes are refused with 429 before any upgrade, and
/// another address is not affected.
#[tokio::test]
async fn websocket_handshakes_are_rate_limited_per_address() {
    let app = spawn_app(&[
        ("WS_HANDSHAKES_PER_IP", "5"),
        ("TRUST_FORWARDED_FOR", "true"),
    ])
    .await;
    let from = |ip: &str| vec![("x-forwarded-for", ip.to_owned())];
    let mut refused = 0;
    for _ in 0..40 {
        match WsClient::open(&app.api, &from("198.51.100.1")).await {
            Ok(ws) => drop(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 429);
                refused += 1;
            }
            Err(other) => panic!("{other}"),
        }
    }
    // A burst of 10, then 5 a second: most of 40 in a moment are refused.
    assert!((10..=30).contains(&refused), "{refused} of 40 refused");
    assert!(WsClient::open(&app.api, &from("198.51.100.2"))
        .await
        .is_ok());
}
