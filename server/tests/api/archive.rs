//! Time travel's archive: every interval one instance saves the canvas as a
//! PNG with its seq, which every instance lists and serves.

use crate::{
    helpers::{eventually, place_randomly, snapshots_at, spawn_app, wait_ready, TestApp},
    redis_server::RedisServer,
};
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
    let bytes = response.bytes().await.unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let frame = reader.next_frame(&mut pixels).expect("a frame");
    pixels.truncate(frame.buffer_size());
    pixels
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
    let vars = [
        ("REDIS_URL", url.as_str()),
        ("SNAPSHOT_INTERVAL_MS", interval.as_str()),
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
    tokio::time::sleep(Duration::from_millis(INTERVAL_MS * 6)).await;
    placing.abort();
    let entries = archived(&b).await;
    let times: Vec<u128> = entries.iter().map(|(_, at)| millis(at)).collect();
    assert!(entries.len() >= 5, "{entries:?}");
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
