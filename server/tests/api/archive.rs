//! Time travel's archive: every interval one instance saves the canvas as a
//! PNG with its seq, which every instance lists and serves; and the
//! placements after a seq, which replay the recent past exactly. A canvas
//! served by chunk is archived by chunk.

use crate::{
    helpers::{eventually, keys, place_randomly, snapshots_at, spawn_app, wait_ready, TestApp},
    redis_server::RedisServer,
};
use app::protocol::{ServerMessage, Tile};
use std::time::Duration;

const INTERVAL_MS: u64 = 400;

/// The archive's entries, newest first: seq and time (RFC 3339).
async fn archived(app: &TestApp) -> Vec<(u64, String)> {
    let list = app.json("/api/snapshots").await;
    list["snapshots"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["seq"].as_u64().unwrap(),
                s["at"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn wait_archived(app: &TestApp, seq: u64) {
    eventually(
        "the canvas is archived at the seq",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            archived(app)
                .await
                .iter()
                .any(|(s, _)| *s == seq)
                .then_some(())
        },
    )
    .await;
}

/// An archived PNG as palette indices.
async fn decoded(app: &TestApp, seq: u64) -> Vec<u8> {
    let response = app.get(&format!("/api/snapshots/{seq}.png")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    palette_indices(&response.bytes().await.unwrap()).0
}

/// An indexed PNG's palette indices, and its width and height.
fn palette_indices(png: &[u8]) -> (Vec<u8>, (u32, u32)) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let frame = reader.next_frame(&mut pixels).expect("a frame");
    pixels.truncate(frame.buffer_size());
    (pixels, (frame.width, frame.height))
}

fn millis(rfc3339: &str) -> u128 {
    humantime::parse_rfc3339(rfc3339)
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

#[tokio::test]
async fn each_interval_one_instance_archives_the_canvas_at_its_seq() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let interval = INTERVAL_MS.to_string();
    // The placer below opens a session per round: no ceiling on them.
    let vars = [
        ("REDIS_URL", url.as_str()),
        ("SNAPSHOT_INTERVAL_MS", interval.as_str()),
        ("MAX_NEW_SESSIONS_PER_IP", "0"),
    ];
    let (a, b) = (spawn_app(&vars).await, spawn_app(&vars).await);
    wait_ready(&a).await;
    wait_ready(&b).await;

    place_randomly(a.api.clone(), 1, 5).await;
    let at_5 = snapshots_at(std::slice::from_ref(&a), 5).await.remove(0);
    wait_archived(&b, 5).await;
    place_randomly(b.api.clone(), 2, 5).await;
    let at_10 = snapshots_at(std::slice::from_ref(&b), 10).await.remove(0);
    wait_archived(&a, 10).await;
    // Each decodes to the canvas at its seq, from either instance.
    assert_eq!(decoded(&a, 5).await, at_5);
    assert_eq!(decoded(&b, 10).await, at_10);
    assert_ne!(at_5, at_10);

    // Under steady placing, one archive per interval, not one per instance.
    let placing = {
        let api = a.api.clone();
        tokio::spawn(async move {
            for seed in 10.. {
                place_randomly(api.clone(), seed, 3).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // Until five more archives than the two above, whatever the machine's
    // speed: the spacing below is what the test is about.
    let entries = eventually(
        "five archives under steady placing",
        Duration::from_millis(INTERVAL_MS * 30),
        Duration::from_millis(INTERVAL_MS / 4),
        || async {
            let entries = archived(&b).await;
            (entries.len() >= 7).then_some(entries)
        },
    )
    .await;
    placing.abort();
    let times: Vec<u128> = entries.iter().map(|(_, at)| millis(at)).collect();
    for pair in times.windows(2) {
        assert!(
            pair[0] - pair[1] >= u128::from(INTERVAL_MS) * 8 / 10,
            "two archives in one interval: {entries:?}"
        );
    }
    let seqs: Vec<u64> = entries.iter().map(|(seq, _)| *seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );

    for missing in [
        "/api/snapshots/999999.png",
        "/api/snapshots/5",
        "/api/snapshots/x.png",
    ] {
        assert_eq!(a.get(missing).await.status(), 404, "{missing}");
    }
}

/// `/api/placements` as seq and tiles, or the status it answered.
async fn placements(app: &TestApp, epoch: u64, after: u64) -> Result<(u64, Vec<Tile>), u16> {
    let response = app
        .get(&format!("/api/placements?epoch={epoch}&after={after}"))
        .await;
    if response.status() != 200 {
        return Err(response.status().as_u16());
    }
    let body = response.bytes().await.unwrap();
    match ServerMessage::decode(&body) {
        Ok(ServerMessage::Tiles { first_seq, tiles }) => Ok((first_seq, tiles)),
        other => panic!("expected a Tiles frame, got {other:?}"),
    }
}

#[tokio::test]
async fn placements_after_a_seq_come_from_memory_or_history_until_it_is_trimmed() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    // The instance remembers the last 10 tiles, the store the last 50 or
    // so (a stream trimmed with `MAXLEN ~` drops whole nodes of entries).
    let vars = [
        ("REDIS_URL", url.as_str()),
        ("RECENT_TILES", "10"),
        ("HISTORY_LEN", "50"),
    ];
    let app = spawn_app(&vars).await;
    wait_ready(&app).await;
    let (_ws, _replica, accepted) = place_randomly(app.api.clone(), 3, 300).await;
    snapshots_at(std::slice::from_ref(&app), 300).await;
    let (_, _, epoch) = app.snapshot().await;
    let tiles_after = |seq: u64| -> Vec<Tile> {
        accepted
            .iter()
            .filter(|(s, _)| *s > seq)
            .map(|(_, t)| *t)
            .collect()
    };

    // From the instance's memory, then from the store's history.
    assert_eq!(
        placements(&app, epoch, 295).await,
        Ok((296, tiles_after(295)))
    );
    assert_eq!(
        placements(&app, epoch, 260).await,
        Ok((261, tiles_after(260)))
    );
    // Many at once from the history take turns, and all are answered.
    let answers =
        futures_util::future::join_all((0..12).map(|_| placements(&app, epoch, 260))).await;
    assert!(answers.iter().all(|a| *a == Ok((261, tiles_after(260)))));
    // Nothing newer; history trimmed; another epoch; a malformed query.
    assert_eq!(placements(&app, epoch, 300).await, Ok((301, vec![])));
    assert_eq!(placements(&app, epoch, 2).await, Err(410));
    assert_eq!(placements(&app, epoch ^ 1, 260).await, Err(409));
    let malformed = app.get("/api/placements?epoch=1&after=x").await;
    assert_eq!(malformed.status(), 400);
}

/// The archive is bounded by bytes as well as by count: past
/// `SNAPSHOT_KEEP_BYTES` the oldest go first, the newest always stays, and
/// the store's running total matches what it holds.
#[tokio::test]
async fn the_archive_keeps_within_its_byte_budget() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let interval = INTERVAL_MS.to_string();
    let app = spawn_app(&[
        ("REDIS_URL", url.as_str()),
        ("SNAPSHOT_INTERVAL_MS", interval.as_str()),
        ("SNAPSHOT_KEEP_BYTES", "1"),
    ])
    .await;
    wait_ready(&app).await;
    for (seed, seq) in [(1, 5), (2, 10), (3, 15)] {
        place_randomly(app.api.clone(), seed, 5).await;
        wait_archived(&app, seq).await;
    }
    let entries = archived(&app).await;
    assert_eq!(entries.len(), 1, "only the newest: {entries:?}");
    assert_eq!(entries[0].0, 15);
    let png = app
        .get("/api/snapshots/15.png")
        .await
        .bytes()
        .await
        .unwrap();
    let mut control = redis.connect().await;
    let total: u64 = redis::cmd("GET")
        .arg(format!("{}archive:bytes", keys().prefix()))
        .query_async(&mut control)
        .await
        .unwrap();
    assert_eq!(total, png.len() as u64);
}

/// A chunk's archived PNG as palette indices.
async fn decoded_chunk(app: &TestApp, cx: u16, cy: u16, seq: u64) -> Vec<u8> {
    let path = format!("/api/chunks/{cx}/{cy}/snapshots/{seq}.png");
    let response = app.get(&path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let (pixels, size) = palette_indices(&response.bytes().await.unwrap());
    assert_eq!(size, (256, 256));
    pixels
}

#[tokio::test]
async fn a_canvas_served_by_chunk_is_archived_by_chunk() {
    let interval = INTERVAL_MS.to_string();
    let app = spawn_app(&[
        ("CANVAS_WIDTH", "4096"),
        ("CANVAS_HEIGHT", "4096"),
        ("COOLDOWN_MS", "0"),
        ("SNAPSHOT_INTERVAL_MS", interval.as_str()),
    ])
    .await;
    let mut ws = app.ws().await;
    ws.place(256 * 3 + 2, 256 + 1, 5).await; // chunk (3, 1)
    let (_, first, _) = ws.place_result().await;
    wait_archived(&app, first).await;
    ws.place(10, 20, 7).await; // chunk (0, 0)
    let (_, second, _) = ws.place_result().await;
    wait_archived(&app, second).await;

    let list = app.json("/api/snapshots").await;
    let newest = &list["snapshots"][0];
    assert_eq!(newest["seq"], second);
    assert_eq!(newest["by_chunk"], true);
    assert_eq!(
        newest["url"],
        format!("/api/chunks/{{cx}}/{{cy}}/snapshots/{second}.png")
    );

    let at_first = decoded_chunk(&app, 3, 1, first).await;
    assert_eq!(at_first[256 + 2], 5);
    assert_eq!(decoded_chunk(&app, 0, 0, first).await, vec![0; 65_536]);
    let at_second = decoded_chunk(&app, 0, 0, second).await;
    assert_eq!(at_second[20 * 256 + 10], 7);
    assert_eq!(
        decoded_chunk(&app, 3, 1, second).await,
        at_first,
        "an unchanged chunk is the one archived before"
    );
    for path in [
        format!("/api/snapshots/{second}.png"),
        format!("/api/chunks/0/0/snapshots/{}.png", second + 1),
        "/api/chunks/16/0/snapshots/1.png".to_owned(),
    ] {
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
    }
}
