//! The JSON and binary API: `/api/info`, `/api/canvas`, `/api/canvas.png`,
//! `/api/pixel`, `/api/placements`, the archive's `/api/snapshots`. Canvas
//! reads are served from this instance's mirror.

use super::visitor::{KnownSession, SameSite};
use crate::{
    backend::History,
    canvas::mirror::{Since, Version},
    error::ApiError,
    model::{is_session_handle, PixelRecord},
    state::AppState,
};
use app::{
    api::{Archive, Archived, Info, Name, PixelInfo},
    chunk::WHOLE_CANVAS_MAX_AREA,
    geometry::Coord,
    palette::PALETTE,
    protocol::encode_tiles,
    requests::{parse_name_request, PixelQuery, PlacementsQuery},
};
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use std::time::SystemTime;

pub async fn info(State(state): State<AppState>) -> Json<Info> {
    let size = state.mirror.size();
    let Version { epoch, seq } = state.mirror.version();
    Json(Info {
        width: size.width,
        height: size.height,
        palette: PALETTE
            .iter()
            .take(usize::from(state.config.colors))
            .map(|c| c.hex())
            .collect(),
        cooldown_ms: state.config.cooldown.as_millis() as u64,
        seq,
        epoch: epoch.to_string(),
        online: state.presence.online(),
        frozen: state.presence.frozen(),
        charges_max: state.config.charges_max,
        undo_ms: state.config.undo.as_millis() as u64,
    })
}

/// Refuses a canvas larger than is ever sent whole
/// ([`WHOLE_CANVAS_MAX_AREA`]): its chunks are served instead.
fn sent_whole(state: &AppState) -> Result<(), ApiError> {
    if state.mirror.size().area() > WHOLE_CANVAS_MAX_AREA {
        return Err(ApiError::Conflict(
            "this canvas is too large to be sent whole: load its chunks (/api/chunks)",
        ));
    }
    Ok(())
}

/// The snapshot: one palette index per pixel, with its seq and epoch.
pub async fn canvas(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    sent_whole(&state)?;
    let encoded = state.snapshots.latest().await;
    let version = encoded.version;
    let etag = etag(version);
    let mut response = if if_none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(&headers) {
        let mut response = encoded.gzip().await.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        encoded.raw().into_response()
    };
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    out.insert("x-canvas-seq", version.seq.into());
    out.insert("x-canvas-epoch", version.epoch.into());
    out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    cache_headers(out, etag);
    Ok(response)
}

/// The canvas as an indexed PNG, one image pixel per canvas pixel.
pub async fn canvas_png(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    sent_whole(&state)?;
    let encoded = state.snapshots.latest().await;
    let etag = etag(encoded.version);
    let mut response = if if_none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        encoded.png().await.into_response()
    };
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    cache_headers(out, etag);
    Ok(response)
}

/// `GET /api/heatmap.png`: where tiles were placed in the last ten minutes
/// (grayscale: 255 just now, fading to 1; 0 older or never), at most a
/// second old (`canvas::heat`).
pub async fn heatmap_png(State(state): State<AppState>) -> Result<Response, ApiError> {
    sent_whole(&state)?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=1"),
        ),
    ];
    Ok((headers, state.heat.png().await).into_response())
}

/// `GET /api/snapshots`: the archived canvases, newest first.
pub async fn archive(State(state): State<AppState>) -> Result<Json<Archive>, ApiError> {
    let archived = state.store.archived().await?;
    let snapshots = archived
        .into_iter()
        .map(|entry| Archived::new(entry.seq, rfc3339(entry.at), entry.by_chunk))
        .collect();
    Ok(Json(Archive { snapshots }))
}

/// `GET /api/snapshots/{seq}.png`: one archived canvas. It never changes,
/// so caches may keep it for good. Read from the store a few at a time
/// ([`crate::state::HEAVY_READS`]).
pub async fn archived_png(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let seq = archived_seq(&file)?;
    let png = {
        // One of a few large reads at a time, as for `/api/placements`.
        let _turn = state.heavy_reads.acquire().await.ok();
        state.store.archived_png(seq).await?
    }
    .ok_or(ApiError::NotFound)?;
    Ok(immutable_png(png))
}

/// The seq an archived PNG's file name (`<seq>.png`) names.
pub(super) fn archived_seq(file: &str) -> Result<u64, ApiError> {
    file.strip_suffix(".png")
        .and_then(|seq| seq.parse::<u64>().ok())
        .ok_or(ApiError::NotFound)
}

/// A PNG that never changes, as caches may keep it for good.
pub(super) fn immutable_png(png: impl IntoResponse) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
    ];
    (headers, png).into_response()
}

/// Placements one `/api/placements` answer carries at most. Past what the
/// mirror remembers they are read from the store's history: this bounds
/// that read (a few hundred KB) for one cheap request.
const PLACEMENTS_PAGE: usize = 4_096;

/// `GET /api/placements?epoch=E&after=S`: the placements after seq `S`, at
/// most [`PLACEMENTS_PAGE`], as one `Tiles` frame (the time-travel view
/// replays them onto an archived canvas). From the mirror's memory when it
/// still holds them, else from the store's history
/// ([`crate::state::HEAVY_READS`] at a time per instance); 410 once the
/// history no longer reaches back that far, 409 for another epoch.
pub async fn placements(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let PlacementsQuery { epoch, after } =
        PlacementsQuery::parse(query.as_deref().unwrap_or(""))
            .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    const OTHER_EPOCH: ApiError =
        ApiError::Conflict("not a seq of the current epoch: reload the canvas");
    let tiles = match state.mirror.since(epoch, after) {
        Since::Current => Vec::new(),
        Since::Tiles { mut tiles, .. } => {
            tiles.truncate(PLACEMENTS_PAGE);
            tiles
        }
        Since::Gone if epoch != state.mirror.version().epoch => return Err(OTHER_EPOCH),
        Since::Gone => {
            // A few reads at a time per instance; the others wait their
            // turn, within the request timeout. (The semaphore is never
            // closed, so a turn always comes.)
            let _turn = state.heavy_reads.acquire().await.ok();
            match state.store.history(epoch, after, PLACEMENTS_PAGE).await? {
                History::Placements(updates) => updates.into_iter().map(|u| u.tile).collect(),
                History::Trimmed => {
                    return Err(ApiError::Gone(
                        "the history no longer reaches back to that seq",
                    ))
                }
                History::WentBack | History::OtherEpoch => return Err(OTHER_EPOCH),
            }
        }
    };
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    Ok((headers, encode_tiles(after + 1, &tiles)).into_response())
}

/// Who placed a pixel, when, and its color now.
pub async fn pixel(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<PixelInfo>, ApiError> {
    let size = state.mirror.size();
    let PixelQuery { x, y } =
        PixelQuery::parse(query.as_deref().unwrap_or(""), size.width, size.height)
            .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let coord = size.coord(x, y).expect("both axes were checked");
    let record = state.store.pixel(coord).await?;
    let mut info = pixel_info(&state, coord, record.as_ref());
    let placer = record
        .and_then(|record| record.placer)
        .map(|placer| placer.session)
        .filter(|handle| is_session_handle(handle));
    if let Some(handle) = placer {
        let badges = state.store.badges(&[handle]).await?;
        info.faction = badges.into_iter().flatten().next().map(|badge| badge.tag);
    }
    Ok(Json(info))
}

/// A pixel's public record: its color now (from the mirror) and its last
/// placement (from the store).
pub(super) fn pixel_info(
    state: &AppState,
    coord: Coord,
    record: Option<&PixelRecord>,
) -> PixelInfo {
    let (color, _) = state.mirror.pixel(coord);
    PixelInfo {
        x: coord.x,
        y: coord.y,
        color,
        placed_by: record.and_then(|r| r.placed_by.clone()),
        faction: None,
        placed_at: record.map(|r| rfc3339(r.placed_at)),
        seq: record.map_or(0, |r| r.seq),
    }
}

/// `POST /api/name` with `{"name": "…"}`: sets the session's display name,
/// shown as `placed_by` on the pixels it places from now on. Only from this
/// deployment's pages (or a program), only JSON (a form on another site can
/// post `text/plain` without asking), and only for a session the visitor
/// already has: it never makes one.
pub async fn set_name(
    State(state): State<AppState>,
    _: SameSite,
    KnownSession(id): KnownSession,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType("expected application/json"));
    }
    let name =
        parse_name_request(&body).map_err(|error| ApiError::BadRequest(error.to_string()))?;
    state.store.set_display_name(&id, &name).await?;
    let name = name.as_str().to_owned();
    Ok(Json(Name { name }).into_response())
}

/// Whether `Content-Type` is JSON (`application/json`, any parameters).
pub(super) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

pub(super) fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

fn etag(version: Version) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}-{}\"", version.epoch, version.seq))
        .expect("digits and a dash make a valid header")
}

/// A snapshot may be kept for a second, by the proxy's micro-cache and the
/// browser alike: whoever gets one a second old catches up from its seq.
/// After that, a revalidation of an unchanged canvas is a cheap 304.
fn cache_headers(out: &mut HeaderMap, etag: HeaderValue) {
    out.insert(header::ETAG, etag);
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=1"),
    );
}

fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/").as_bytes() == etag.as_bytes()
        })
}

/// Whether `Accept-Encoding` allows gzip (present and not `q=0`).
pub(super) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn gzip_negotiation_honours_q_zero() {
        assert!(accepts_gzip(&headers(
            header::ACCEPT_ENCODING,
            "gzip, deflate, br"
        )));
        assert!(!accepts_gzip(&headers(
            header::ACCEPT_ENCODING,
            "br, gzip;q=0"
        )));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn etag_matching_accepts_weak_and_lists() {
        let tag = etag(Version { epoch: 7, seq: 9 });
        assert!(if_none_match(
            &headers(header::IF_NONE_MATCH, "\"1-1\", W/\"7-9\""),
            &tag
        ));
        assert!(!if_none_match(
            &headers(header::IF_NONE_MATCH, "\"7-8\""),
            &tag
        ));
    }
}
