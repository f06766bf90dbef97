//! `--audit`: after the run, every placement a client was told was accepted
//! must be in the deployment's history at its seq, with its tile. Read
//! through the public `/api/placements` (docs/protocol.md), so it audits any
//! deployment, Docker Compose included, without access to its Redis.

use app::protocol::{ServerMessage, Tile};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Reads the history of `epoch` from seq 1 to `last` from `target`, and
/// checks `acknowledged` (seq, tile) against it; the figures and whether
/// nothing acknowledged was lost.
pub async fn audit(
    http: &reqwest::Client,
    target: &str,
    epoch: u64,
    last: u64,
    acknowledged: &[(u64, Tile)],
) -> (Value, bool) {
    let history = match history(http, target, epoch, last).await {
        Ok(history) => history,
        Err(error) => return (json!({ "ok": false, "problems": [error] }), false),
    };
    let mut lost = 0u64;
    let mut examples = Vec::new();
    for (seq, tile) in acknowledged {
        if history.get(seq) != Some(tile) {
            lost += 1;
            if examples.len() < 5 {
                examples.push(format!(
                    "seq {seq}: acknowledged {tile:?}, history has {:?}",
                    history.get(seq)
                ));
            }
        }
    }
    let ok = lost == 0 && !acknowledged.is_empty();
    (
        json!({
            "ok": ok,
            "acknowledged": acknowledged.len(),
            "history_read": history.len(),
            "lost": lost,
            "problems": examples,
        }),
        ok,
    )
}

/// Every placement after seq 0 up to `last`, page by page.
async fn history(
    http: &reqwest::Client,
    target: &str,
    epoch: u64,
    last: u64,
) -> Result<BTreeMap<u64, Tile>, String> {
    let mut history = BTreeMap::new();
    let mut after = 0;
    while after < last {
        let url = format!("{target}/api/placements?epoch={epoch}&after={after}");
        let response = http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url}: {status}"));
        }
        let body = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        let Ok(ServerMessage::Tiles { first_seq, tiles }) = ServerMessage::decode(&body) else {
            return Err(format!("{url}: not a Tiles frame"));
        };
        if tiles.is_empty() {
            return Err(format!("{url}: the history ends at {after}, before {last}"));
        }
        for (seq, tile) in (first_seq..).zip(tiles) {
            history.insert(seq, tile);
        }
        after = *history.keys().next_back().unwrap_or(&after);
    }
    Ok(history)
}
