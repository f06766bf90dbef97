//! A canvas too large to send whole: sockets watch chunks, `/api/chunks`
//! serves them, `/api/canvas` refuses. On the embedded store and on Redis,
//! and a Redis canvas of the layout before chunks is cut into chunks.

use crate::{
    helpers::{header_u64, keys, spawn_app, Api, TestApp, WsClient},
    redis_server::RedisServer,
};
use app::{
    chunk::{ChunkId, CHUNK_AREA},
    protocol::{error_code, ClientMessage, PlaceStatus, ServerMessage, Tile},
};
use std::io::Read;

const WORLD: [(&str, &str); 3] = [
    ("CANVAS_WIDTH", "4096"),
    ("CANVAS_HEIGHT", "4096"),
    ("COOLDOWN_MS", "0"),
];

/// The next frame that is not `Presence`.
async fn next(ws: &mut WsClient) -> ServerMessage {
    loop {
        match ws.recv().await {
            ServerMessage::Presence { .. } => continue,
            other => return other,
        }
    }
}

/// A chunk's pixels from `/api/chunks/…` (gzip, as a browser asks), with
/// its `x-chunk-version` and `Cache-Control`.
async fn chunk(app: &Api, path: &str) -> (Vec<u8>, u64, String) {
    let response = app.get_with(path, "accept-encoding", "identity").await;
    assert_eq!(response.status(), 200, "{path}");
    let version = header_u64(&response, "x-chunk-version");
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.bytes().await.unwrap();
    (body.to_vec(), version, cache)
}

async fn watching_gets_only_its_chunks(app: &TestApp) {
    let mut watcher = app.ws().await;
    let mut placer = app.ws().await;
    let start = watcher.hello.seq;
    let watched = ChunkId { cx: 5, cy: 5 };
    watcher.send(ClientMessage::Watch(vec![watched])).await;
    assert_eq!(
        next(&mut watcher).await,
        ServerMessage::ChunkHello {
            chunk: watched,
            version: 0
        }
    );
    let inside = Tile {
        x: 5 * 256 + 7,
        y: 5 * 256 + 1,
        color: 4,
    };
    placer.place(10, 10, 2).await; // chunk (0, 0): not watched
    assert_eq!(placer.place_result().await.0, PlaceStatus::Accepted);
    placer.place(inside.x, inside.y, inside.color).await;
    let (status, seq, _) = placer.place_result().await;
    assert_eq!(status, PlaceStatus::Accepted);
    assert_eq!(
        next(&mut watcher).await,
        ServerMessage::ViewTiles {
            after: start,
            upto: seq,
            tiles: vec![inside]
        },
        "the unwatched chunk's tile is left out, its seq covered"
    );

    let epoch = watcher.hello.epoch;
    let path = format!("/api/chunks/5/5/{epoch}/{seq}");
    let (pixels, version, cache) = chunk(app, &path).await;
    assert_eq!(version, seq);
    assert!(cache.contains("immutable"), "{cache}");
    assert_eq!(pixels.len(), CHUNK_AREA);
    assert_eq!(pixels[256 + 7], 4);
    assert_eq!(pixels.iter().filter(|&&p| p != 0).count(), 1);
    let gzipped = reqwest::Client::builder()
        .no_gzip()
        .build()
        .unwrap()
        .get(app.url("/api/chunks/5/5"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzipped.bytes().await.unwrap()[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, pixels);

    // Too large to send whole; chunks off the canvas do not exist.
    assert_eq!(app.get("/api/canvas").await.status(), 409);
    assert_eq!(app.get("/api/chunks/16/0").await.status(), 404);
    assert_eq!(app.get("/api/chunks/a/0").await.status(), 400);
    let wrong_epoch = format!("/api/chunks/5/5/{}/1", epoch.wrapping_add(1));
    assert_eq!(app.get(&wrong_epoch).await.status(), 409);
}

#[tokio::test]
async fn a_socket_watching_a_chunk_gets_its_tiles_and_its_snapshot_on_the_embedded_store() {
    let app = spawn_app(&WORLD).await;
    watching_gets_only_its_chunks(&app).await;

    // A link to a view previews with the chunk at its centre.
    let page = app
        .get("/?x=1287.5&y=1281&zoom=4")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("/api/view.png?x=1287&amp;y=1281&amp;seq=2"),
        "og:image of the view"
    );
    let png = app.get("/api/view.png?x=1287&y=1281").await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    assert_eq!(
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        256,
        "one chunk wide"
    );
    assert_eq!(app.get("/api/view.png?x=5000&y=1").await.status(), 400);

    // The whole canvas shrunk: 4096 / 1024 = 4 canvas pixels a preview
    // pixel, the top-left of each square.
    let mut ws = app.ws().await;
    ws.place(1288, 1280, 9).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
    let preview = app.get("/api/preview.png").await;
    assert_eq!(header_u64(&preview, "x-preview-scale"), 4);
    let bytes = preview.bytes().await.unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1024, 1024));
    assert_eq!(pixels[320 * 1024 + 322], 9);
    assert_eq!(
        pixels.iter().filter(|&&p| p != 0).count(),
        1,
        "1287 is not sampled"
    );

    // The chunk's heat: that placement (and the one before it), just now.
    let heat = app.get("/api/chunks/5/5/heat.png").await;
    assert_eq!(heat.status(), 200);
    assert_eq!(heat.headers()["cache-control"], "public, max-age=1");
    let levels = gray(&heat.bytes().await.unwrap());
    assert!(
        levels[1288 - 5 * 256] >= 254,
        "(1288, 1280): row 0 of the chunk"
    );
    assert!(levels[256 + 7] >= 254, "(1287, 1281)");
    assert_eq!(levels.iter().filter(|&&l| l > 0).count(), 2);
    let cold = gray(
        &app.get("/api/chunks/9/9/heat.png")
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert!(cold.iter().all(|&l| l == 0), "nothing placed there");
    assert_eq!(app.get("/api/chunks/16/0/heat.png").await.status(), 404);
}

/// An 8-bit grayscale PNG of 256 × 256: its levels.
fn gray(bytes: &[u8]) -> Vec<u8> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()))
        .read_info()
        .unwrap();
    let mut levels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut levels).unwrap();
    assert_eq!((frame.width, frame.height), (256, 256));
    levels
}

#[tokio::test]
async fn a_socket_watching_a_chunk_gets_its_tiles_and_its_snapshot_on_redis() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let mut vars = WORLD.to_vec();
    vars.push(("REDIS_URL", url.as_str()));
    let app = spawn_app(&vars).await;
    watching_gets_only_its_chunks(&app).await;
    // A second instance loads the chunk from Redis.
    let second = spawn_app(&vars).await;
    let (pixels, version, _) = chunk(&second, "/api/chunks/5/5").await;
    assert_eq!((pixels[256 + 7], version), (4, 2));
}

#[tokio::test]
async fn a_watch_off_the_canvas_is_ignored_and_a_flood_of_watches_closes_the_socket() {
    let app = spawn_app(&WORLD).await;
    let mut ws = app.ws().await;
    ws.send(ClientMessage::Watch(vec![ChunkId { cx: 16, cy: 0 }]))
        .await;
    match next(&mut ws).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, error_code::WATCH_REFUSED),
        other => panic!("expected an Error, got {other:?}"),
    }
    for _ in 0..40 {
        ws.send(ClientMessage::Watch(vec![ChunkId { cx: 1, cy: 1 }]))
            .await;
    }
    assert_eq!(ws.close_code().await, 1008);
}

#[tokio::test]
async fn a_whole_canvas_client_that_watches_continues_where_its_tiles_left_off() {
    let app = spawn_app(&[("COOLDOWN_MS", "0")]).await;
    let mut ws = app.ws().await;
    ws.place(1, 1, 3).await;
    assert_eq!(ws.place_result().await.0, PlaceStatus::Accepted);
    ws.wait_for_seq(1).await;
    ws.send(ClientMessage::Watch(vec![ChunkId { cx: 0, cy: 0 }]))
        .await;
    assert_eq!(
        next(&mut ws).await,
        ServerMessage::ChunkHello {
            chunk: ChunkId { cx: 0, cy: 0 },
            version: 1
        }
    );
    ws.place(2, 1, 5).await;
    loop {
        match next(&mut ws).await {
            ServerMessage::ViewTiles { after, upto, tiles } => {
                assert_eq!((after, upto, tiles.len()), (1, 2, 1));
                break;
            }
            ServerMessage::PlaceResult { .. } => {}
            other => panic!("expected ViewTiles, got {other:?}"),
        }
    }
    // Resume is for whole-canvas clients.
    ws.send(ClientMessage::Resume {
        epoch: ws.hello.epoch,
        last_seq: 0,
    })
    .await;
    match next(&mut ws).await {
        ServerMessage::Error { code, .. } => assert_eq!(code, error_code::NOT_WHOLE_CANVAS),
        other => panic!("expected an Error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_redis_canvas_kept_whole_by_an_earlier_version_is_cut_into_chunks() {
    let redis = RedisServer::start().await;
    let keys = keys();
    let (width, height) = (300usize, 200usize);
    let mut whole = vec![0u8; width * height];
    whole[0] = 1; // chunk (0, 0)
    whole[199 * width + 299] = 7; // chunk (1, 0), its last row
    let mut control = redis.connect().await;
    let _: () = redis::cmd("SET")
        .arg(&keys.legacy_pixels)
        .arg(&whole)
        .query_async(&mut control)
        .await
        .unwrap();
    // Who placed it, keyed by its index on a canvas 300 wide.
    let _: () = redis::cmd("HSET")
        .arg(&keys.meta)
        .arg(199 * width + 299)
        .arg("v2,12,1700000000000,0123456789abcdef,192.0.2.1,Someone")
        .query_async(&mut control)
        .await
        .unwrap();
    let _: () = redis::cmd("MSET")
        .arg(&keys.seq)
        .arg(12)
        .arg(&keys.epoch)
        .arg(99)
        .query_async(&mut control)
        .await
        .unwrap();
    let url = redis.url();
    let app = spawn_app(&[
        ("REDIS_URL", url.as_str()),
        ("CANVAS_WIDTH", "300"),
        ("CANVAS_HEIGHT", "200"),
    ])
    .await;
    let (pixels, seq) = app.canvas().await;
    assert_eq!(pixels, whole, "the same canvas, through chunks");
    assert_eq!(seq, 12);
    let (chunk_pixels, version, _) = chunk(&app, "/api/chunks/1/0").await;
    assert_eq!((chunk_pixels[199 * 256 + 43], version), (7, 12));
    let kept: bool = redis::cmd("EXISTS")
        .arg(format!("{}:before-chunks", keys.legacy_pixels))
        .query_async(&mut control)
        .await
        .unwrap();
    assert!(kept, "the old key is kept for the operator");
    let record = app.json("/api/pixel?x=299&y=199").await;
    assert_eq!(record["placed_by"], "Someone", "records rekeyed by (x, y)");
}
