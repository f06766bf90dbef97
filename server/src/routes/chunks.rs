//! `/api/chunks/{cx}/{cy}` and `/api/chunks/{cx}/{cy}/{epoch}/{version}`:
//! one chunk's pixels; `/api/chunks/{cx}/{cy}/heat.png`, its heatmap;
//! `/api/chunks/{cx}/{cy}/snapshots/{seq}.png`, its past;
//! `/api/view.png`, one chunk as an image; and
//! `/api/preview.png`, the whole canvas shrunk (docs/protocol.md, "Watching chunks"), from the
//! instance's mirror through [`crate::canvas::chunks::ChunkCache`].
//!
//! The versioned form is what a watching page asks for, with the version
//! its `ChunkHello` gave. Its answer holds the chunk at that version *or
//! newer*, which a client brings up to date with the same tiles either
//! way, so it may be cached for good, by nginx and by a CDN. An instance
//! whose mirror is still behind that version waits for it a moment, then
//! says so (503) rather than answer with an older chunk.

use super::api::{accepts_gzip, archived_seq, immutable_png};
use crate::{
    canvas::{chunks::EncodedChunk, encode, mirror::Version},
    error::ApiError,
    state::AppState,
};
use app::{
    chunk::{ChunkId, CHUNK_AREA, CHUNK_SIDE},
    geometry::CanvasSize,
};
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use flate2::read::GzDecoder;
use std::{io::Read, sync::LazyLock, time::Duration};

/// How long a request for a version the mirror has not reached waits.
const CATCH_UP_WAIT: Duration = Duration::from_secs(1);
const CATCH_UP_POLL: Duration = Duration::from_millis(20);

/// The current chunk: cached a second, like the whole canvas.
pub async fn current(
    State(state): State<AppState>,
    Path((cx, cy)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let chunk = chunk_on(&state, &cx, &cy)?;
    let encoded = state.chunks.get(chunk).await;
    Ok(respond(encoded, &headers, "public, max-age=1"))
}

/// `GET /api/chunks/{cx}/{cy}/heat.png`: where tiles went in the chunk in
/// the last ten minutes, with the levels of `/api/heatmap.png` (which a
/// canvas served by chunk does not have), at most a second old.
pub async fn heat(
    State(state): State<AppState>,
    Path((cx, cy)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let chunk = chunk_on(&state, &cx, &cy)?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=1"),
        ),
    ];
    Ok((headers, state.heat.chunk_png(chunk).await).into_response())
}

/// `GET /api/chunks/{cx}/{cy}/snapshots/{seq}.png`: the chunk as the
/// canvas archived by chunk at `seq` had it (white if it was not painted
/// yet). It never changes, so caches may keep it for good. Read from the
/// store a few at a time ([`crate::state::HEAVY_READS`]).
pub async fn archived_png(
    State(state): State<AppState>,
    Path((cx, cy, file)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let chunk = chunk_on(&state, &cx, &cy)?;
    let seq = archived_seq(&file)?;
    let png = {
        let _turn = state.heavy_reads.acquire().await.ok();
        let chunks = state
            .store
            .archived_chunks(seq)
            .await?
            .ok_or(ApiError::NotFound)?;
        match chunks.iter().find(|archived| archived.chunk == chunk) {
            Some(archived) => state
                .store
                .archived_chunk_png(chunk, archived.stored_with)
                .await?
                .ok_or(ApiError::NotFound)?,
            None => BLANK_CHUNK_PNG.clone(),
        }
    };
    Ok(immutable_png(png))
}

/// A chunk never painted, as a PNG.
static BLANK_CHUNK_PNG: LazyLock<Bytes> = LazyLock::new(|| {
    let side = CanvasSize {
        width: CHUNK_SIDE,
        height: CHUNK_SIDE,
    };
    Bytes::from(encode::png(side, &[0; CHUNK_AREA]))
});

/// The chunk at `version` of `epoch`, or newer: cacheable for good.
pub async fn versioned(
    State(state): State<AppState>,
    Path((cx, cy, epoch, version)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let chunk = chunk_on(&state, &cx, &cy)?;
    let (Ok(epoch), Ok(version)) = (epoch.parse::<u64>(), version.parse::<u64>()) else {
        return Err(ApiError::BadRequest(
            "the epoch and version are decimal numbers".into(),
        ));
    };
    let deadline = tokio::time::Instant::now() + CATCH_UP_WAIT;
    loop {
        let Version {
            epoch: current,
            seq,
        } = state.mirror.version();
        if current != epoch {
            return Err(ApiError::Conflict(
                "another epoch: the canvas was reloaded; watch the chunk again",
            ));
        }
        if seq >= version {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::Busy(
                "this instance has not reached that version yet; retry",
            ));
        }
        tokio::time::sleep(CATCH_UP_POLL).await;
    }
    let encoded = state.chunks.get(chunk).await;
    if encoded.at.epoch != epoch {
        return Err(ApiError::Conflict(
            "another epoch: the canvas was reloaded; watch the chunk again",
        ));
    }
    Ok(respond(
        encoded,
        &headers,
        "public, max-age=31536000, immutable",
    ))
}

/// `GET /api/view.png?x=X&y=Y`: the chunk holding pixel (x, y), as a PNG:
/// the preview of a link to a view of a canvas served by chunk.
pub async fn view_png(
    State(state): State<AppState>,
    Query(at): Query<ViewAt>,
) -> Result<Response, ApiError> {
    let size = state.mirror.size();
    let (Ok(x), Ok(y)) = (at.x.parse::<u16>(), at.y.parse::<u16>()) else {
        return Err(ApiError::BadRequest("x and y are pixel coordinates".into()));
    };
    let Some(coord) = size.coord(x, y) else {
        return Err(ApiError::BadRequest("that pixel is off the canvas".into()));
    };
    let png = state.chunks.png(ChunkId::of(coord.x, coord.y)).await;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        ),
    ];
    Ok((headers, png).into_response())
}

/// `GET /api/preview.png`: the whole canvas shrunk to at most 1,024
/// pixels a side (`X-Preview-Scale` canvas pixels per image pixel), at most
/// five seconds old.
pub async fn preview_png(State(state): State<AppState>) -> Response {
    let preview = state.chunks.preview().await;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=5"),
        ),
        (
            header::HeaderName::from_static("x-preview-scale"),
            HeaderValue::from(preview.scale),
        ),
    ];
    (headers, preview.png).into_response()
}

/// The query of `/api/view.png`.
#[derive(Debug, serde::Deserialize)]
pub struct ViewAt {
    #[serde(default)]
    x: String,
    #[serde(default)]
    y: String,
}

/// The chunk named by the path, if it lies on the canvas.
fn chunk_on(state: &AppState, cx: &str, cy: &str) -> Result<ChunkId, ApiError> {
    let (Ok(cx), Ok(cy)) = (cx.parse(), cy.parse()) else {
        return Err(ApiError::BadRequest(
            "a chunk is named by two numbers, its column and row".into(),
        ));
    };
    let chunk = ChunkId { cx, cy };
    if !chunk.is_on(state.mirror.size()) {
        return Err(ApiError::NotFound);
    }
    Ok(chunk)
}

fn respond(encoded: EncodedChunk, headers: &HeaderMap, cache: &'static str) -> Response {
    let mut response = if accepts_gzip(headers) {
        let mut response = encoded.gzip.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        // The rare client without gzip: unzipped for it (65,536 bytes).
        let mut raw = Vec::new();
        let _ = GzDecoder::new(&encoded.gzip[..]).read_to_end(&mut raw);
        raw.into_response()
    };
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    out.insert("x-canvas-epoch", encoded.at.epoch.into());
    out.insert("x-canvas-seq", encoded.at.seq.into());
    out.insert("x-chunk-version", encoded.version.into());
    out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
