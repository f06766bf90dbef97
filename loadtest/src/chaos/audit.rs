//! The end of a run: once everything is quiet, every instance, every
//! player and Redis must hold the same canvas, and every placement that was
//! acknowledged must be in the store's history at its seq with its tile.

use super::{faults::Cluster, players::Copy};
use crate::client::snapshot;
use app::protocol::{Tile, Version};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The canvas as the Redis master holds it.
pub struct Stored {
    pub at: Version,
    pub pixels: Vec<u8>,
    /// Every placement the history stream holds, by seq.
    pub history: BTreeMap<u64, Tile>,
}

/// Reads the canvas's keys (prefix `canvas`) from the master: its chunks
/// (docs/redis.md) laid out as a canvas `width` wide of `size` pixels.
pub async fn stored(cluster: &Cluster, width: usize, size: usize) -> Result<Stored, String> {
    let port = cluster.master().await.ok_or("no master named")?;
    let mut master = cluster
        .connect(port)
        .await
        .ok_or("the master is unreachable")?;
    let (epoch, seq, chunks): (Option<u64>, Option<u64>, Vec<String>) = redis::pipe()
        .get("canvas:epoch")
        .get("canvas:seq")
        .hkeys("canvas:chunks")
        .query_async(&mut master)
        .await
        .map_err(|e| e.to_string())?;
    let mut pixels = vec![0; size];
    for chunk in chunks {
        let (cx, cy) = chunk
            .split_once(',')
            .and_then(|(cx, cy)| Some((cx.parse::<usize>().ok()?, cy.parse::<usize>().ok()?)))
            .ok_or("a chunk named otherwise than <cx>,<cy>")?;
        let bytes: Vec<u8> = redis::cmd("GET")
            .arg(format!("canvas:chunk:{{{chunk}}}"))
            .query_async(&mut master)
            .await
            .map_err(|e| e.to_string())?;
        for (index, &color) in bytes.iter().enumerate() {
            let (x, y) = (cx * 256 + index % 256, cy * 256 + index / 256);
            if x < width && y * width + x < size {
                pixels[y * width + x] = color;
            }
        }
    }
    let entries: Vec<(String, HashMap<String, Vec<u8>>)> = redis::cmd("XRANGE")
        .arg(&["canvas:history", "-", "+"])
        .query_async(&mut master)
        .await
        .map_err(|e| e.to_string())?;
    let mut history = BTreeMap::new();
    for (_, fields) in entries {
        let (Some(first), Some(tiles)) = (fields.get("f"), fields.get("t")) else {
            return Err("a history entry of another format".into());
        };
        let first: u64 = String::from_utf8_lossy(first)
            .parse()
            .map_err(|_| "a history entry without its first seq")?;
        for (seq, tile) in (first..).zip(tiles.chunks_exact(5)) {
            let tile = Tile {
                x: u16::from_le_bytes([tile[0], tile[1]]),
                y: u16::from_le_bytes([tile[2], tile[3]]),
                color: tile[4],
            };
            history.insert(seq, tile);
        }
    }
    Ok(Stored {
        at: Version {
            epoch: epoch.unwrap_or(0),
            seq: seq.unwrap_or(0),
        },
        pixels,
        history,
    })
}

/// Compares everything; the verdict and the figures.
pub async fn audit(
    cluster: &Cluster,
    stored: &Stored,
    acks: &[(u64, Tile)],
    copies: &[Copy],
    width: usize,
) -> (bool, Value) {
    let mut problems = Vec::new();
    let lost: Vec<_> = acks
        .iter()
        .filter(|(seq, tile)| stored.history.get(seq) != Some(tile))
        .collect();
    if !lost.is_empty() {
        problems.push(format!(
            "{} acknowledged placements are not in the history (first: {:?})",
            lost.len(),
            lost.first()
        ));
    }
    // The history covers the whole run (HISTORY_LEN is set above it), so
    // replaying it must give the canvas.
    let complete = stored.history.keys().copied().eq(1..=stored.at.seq);
    if complete {
        let mut replayed = vec![0u8; stored.pixels.len()];
        for tile in stored.history.values() {
            replayed[usize::from(tile.y) * width + usize::from(tile.x)] = tile.color;
        }
        if replayed != stored.pixels {
            problems.push("the canvas differs from its history replayed".into());
        }
    } else {
        problems.push(format!(
            "the history does not hold seqs 1..={} one by one",
            stored.at.seq
        ));
    }
    let http = reqwest::Client::new();
    for url in cluster.app_urls() {
        match snapshot(&http, &format!("{url}/api/canvas")).await {
            Some((mut pixels, seq, epoch)) => {
                pixels.resize(stored.pixels.len(), 0);
                if (Version { epoch, seq }) != stored.at || pixels != stored.pixels {
                    problems.push(format!("{url} differs from Redis (seq {seq})"));
                }
            }
            None => problems.push(format!("{url}: no snapshot")),
        }
    }
    let differing = copies
        .iter()
        .filter(|copy| copy.at != Some(stored.at) || copy.pixels != stored.pixels)
        .count();
    if differing > 0 {
        problems.push(format!(
            "{differing} of {} players' copies differ",
            copies.len()
        ));
    }
    (
        problems.is_empty(),
        json!({
            "final_seq": stored.at.seq,
            "acknowledged": acks.len(),
            "lost": lost.len(),
            "history_complete": complete,
            "players_agree": differing == 0,
            "problems": problems,
        }),
    )
}
