//! The HTTP calls the page makes (through gloo-net): the snapshot, the
//! display name, who placed a pixel, the challenge, and time travel's
//! archive and placements.

use super::scoped;
use crate::{
    api::{Archive, Name, PixelInfo, Refusal},
    challenge::{Puzzle, Solution},
    chunk::ChunkId,
    protocol::{ServerMessage, Tile},
};
use gloo_net::http::{Request, Response};
use thiserror::Error;

/// Why a call failed, in words the page can show.
#[derive(Debug, Error)]
pub enum HttpError {
    #[error("the network failed: {0}")]
    Network(#[from] gloo_net::Error),
    /// The server refused, with its own message when it gave one.
    #[error("{0}")]
    Refused(String),
    #[error("the answer lacks {0}")]
    Malformed(&'static str),
}

/// `/api/canvas` with the seq and epoch it was taken at.
pub struct Snapshot {
    pub pixels: Vec<u8>,
    pub seq: u64,
    pub epoch: u64,
}

pub async fn fetch_snapshot() -> Result<Snapshot, HttpError> {
    let (pixels, [seq, epoch]) =
        fetch_pixels(&scoped("/api/canvas"), ["x-canvas-seq", "x-canvas-epoch"]).await?;
    Ok(Snapshot { pixels, seq, epoch })
}

/// The binary body of `url` and the numbers in its `headers`.
async fn fetch_pixels<const N: usize>(
    url: &str,
    headers: [&'static str; N],
) -> Result<(Vec<u8>, [u64; N]), HttpError> {
    let response = Request::get(url).send().await?;
    if !response.ok() {
        return Err(refusal(&response).await);
    }
    let mut numbers = [0; N];
    for (number, name) in numbers.iter_mut().zip(headers) {
        *number = response
            .headers()
            .get(name)
            .and_then(|value| value.parse().ok())
            .ok_or(HttpError::Malformed(name))?;
    }
    Ok((response.binary().await?, numbers))
}

/// One chunk from `/api/chunks/…`, at the version asked for or newer.
pub struct Chunk {
    pub pixels: Vec<u8>,
    /// The epoch and the chunk's version it holds.
    pub epoch: u64,
    pub version: u64,
}

pub async fn fetch_chunk(chunk: ChunkId, epoch: u64, version: u64) -> Result<Chunk, HttpError> {
    let url = scoped(&format!(
        "/api/chunks/{}/{}/{epoch}/{version}",
        chunk.cx, chunk.cy
    ));
    let (pixels, [epoch, version]) =
        fetch_pixels(&url, ["x-canvas-epoch", "x-chunk-version"]).await?;
    Ok(Chunk {
        pixels,
        epoch,
        version,
    })
}

/// Saves the display name; answers the name as the server keeps it.
pub async fn save_name(name: &str) -> Result<String, HttpError> {
    let response = Request::post("/api/name")
        .json(&Name {
            name: name.to_owned(),
        })?
        .send()
        .await?;
    if !response.ok() {
        return Err(refusal(&response).await);
    }
    Ok(response.json::<Name>().await?.name)
}

/// Reports one pixel to the moderators.
pub async fn report(x: u16, y: u16, reason: &str) -> Result<(), HttpError> {
    let request = crate::requests::ReportRequest {
        x,
        y,
        width: 1,
        height: 1,
        reason: reason.to_owned(),
    };
    post_to_canvas("/api/report", &request).await
}

/// Reports chat message `id` to the moderators.
pub async fn report_chat(id: u64) -> Result<(), HttpError> {
    let request = crate::api::ChatReport {
        id,
        reason: String::new(),
    };
    post_to_canvas("/api/chat/report", &request).await
}

/// Posts `body` as JSON to one of this canvas's routes; only whether it was
/// taken matters.
async fn post_to_canvas(path: &str, body: &impl serde::Serialize) -> Result<(), HttpError> {
    let response = Request::post(&scoped(path)).json(body)?.send().await?;
    if !response.ok() {
        return Err(refusal(&response).await);
    }
    Ok(())
}

/// A proof-of-work puzzle to solve.
pub async fn puzzle() -> Result<Puzzle, HttpError> {
    let response = Request::get("/api/challenge").send().await?;
    if !response.ok() {
        return Err(refusal(&response).await);
    }
    Ok(response.json().await?)
}

/// Sends a puzzle's answer, which verifies this page's session.
pub async fn answer(solution: &Solution) -> Result<(), HttpError> {
    let response = Request::post("/api/challenge")
        .json(solution)?
        .send()
        .await?;
    if !response.ok() {
        return Err(refusal(&response).await);
    }
    Ok(())
}

/// Who placed a pixel and when, as a short sentence.
pub async fn pixel_info(x: u16, y: u16) -> Option<String> {
    let response = Request::get(&scoped(&format!("/api/pixel?x={x}&y={y}")))
        .send()
        .await
        .ok()?;
    let pixel: PixelInfo = response.json().await.ok().filter(|_| response.ok())?;
    let mut who = pixel.placed_by.unwrap_or_else(|| "anonymous".to_owned());
    if let Some(tag) = pixel.faction {
        who = format!("[{tag}] {who}");
    }
    Some(match pixel.placed_at {
        // RFC 3339: keep the date and the minute.
        Some(at) => format!(
            "placed by {who}, {} UTC",
            at.get(..16).unwrap_or(&at).replace('T', " ")
        ),
        None => "never placed".to_owned(),
    })
}

/// `GET url`, answered as JSON.
pub async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, HttpError> {
    let response = Request::get(url).send().await?;
    if !response.ok() {
        return Err(refusal(&response).await);
    }
    response
        .json()
        .await
        .map_err(|_| HttpError::Malformed("the answer the contract describes"))
}

/// `POST url` with a JSON body: its JSON answer, or `None` for 204.
pub async fn post_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    url: &str,
    body: &B,
) -> Result<Option<T>, HttpError> {
    let response = Request::post(url).json(body)?.send().await?;
    if !response.ok() {
        return Err(refusal(&response).await);
    }
    if response.status() == 204 {
        return Ok(None);
    }
    response
        .json()
        .await
        .map(Some)
        .map_err(|_| HttpError::Malformed("the answer the contract describes"))
}

/// The server's `{"error": "…"}`, or the status when there is none.
async fn refusal(response: &Response) -> HttpError {
    match response.json::<Refusal>().await {
        Ok(refusal) => HttpError::Refused(refusal.error),
        Err(_) => HttpError::Refused(format!("HTTP {}", response.status())),
    }
}

/// One entry of the archive.
pub struct ArchivedAt {
    pub seq: u64,
    /// RFC 3339.
    pub at: String,
    /// Whether it was archived by chunk.
    pub by_chunk: bool,
}

/// The archived canvases, oldest first.
pub async fn archived() -> Result<Vec<ArchivedAt>, HttpError> {
    let response = Request::get(&scoped("/api/snapshots")).send().await?;
    if !response.ok() {
        return Err(refusal(&response).await);
    }
    let mut list: Vec<_> = response
        .json::<Archive>()
        .await?
        .snapshots
        .into_iter()
        .map(|a| ArchivedAt {
            seq: a.seq,
            at: a.at,
            by_chunk: a.by_chunk,
        })
        .collect();
    list.sort_unstable_by_key(|a| a.seq);
    Ok(list)
}

/// Up to a page of the placements after `after` in `epoch`; `None` once the
/// history no longer reaches back that far (or the epoch changed).
pub async fn placements(epoch: u64, after: u64) -> Result<Option<Vec<Tile>>, HttpError> {
    let response = Request::get(&scoped(&format!(
        "/api/placements?epoch={epoch}&after={after}"
    )))
    .send()
    .await?;
    if matches!(response.status(), 409 | 410) {
        return Ok(None);
    }
    if !response.ok() {
        return Err(refusal(&response).await);
    }
    match ServerMessage::decode(&response.binary().await?) {
        Ok(ServerMessage::Tiles { first_seq, tiles }) if first_seq == after + 1 => Ok(Some(tiles)),
        _ => Err(HttpError::Malformed("a Tiles frame")),
    }
}
