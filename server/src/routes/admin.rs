//! The moderators' API, `/api/admin/…` (docs/protocol.md): freeze the
//! canvas, ban a session or an address, see who placed a pixel, fill or
//! wipe a rectangle, roll back what someone placed, read the audit log. Every route answers 404 unless `ADMIN_TOKEN` is set, and 401
//! unless the request carries it as a bearer token; every change is
//! recorded in the audit log with who, from where and when.

use super::{
    api::{is_json, rfc3339},
    visitor,
};
use crate::{
    backend::FillPlacer,
    config::{Role, Secret},
    error::ApiError,
    model::{
        is_session_handle, AddressRange, AuditEntry, BanTarget, ClientAddress, Placer, MODERATOR,
    },
    rollback,
    state::AppState,
};
use app::{geometry::Coord, name::DisplayName, palette::PALETTE, requests::PixelQuery};
use axum::{
    body::Bytes,
    extract::{FromRequestParts, RawQuery, State},
    http::{header, request::Parts, HeaderMap},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::{
    future::Future,
    net::IpAddr,
    time::{Duration, SystemTime},
};
use subtle::ConstantTimeEq;

/// The longest ban: a year.
const MAX_BAN_MINUTES: u64 = 525_600;
/// Reports one request may read.
const MAX_REPORTS: usize = 100;
/// Audit entries one request may read.
const MAX_AUDIT_ENTRIES: usize = 1_000;
/// Pixels a fill writes in one atomic step: a few milliseconds of Redis.
const FILL_CHUNK: usize = 4_096;
/// The longest window a rollback looks back over: a week.
const MAX_ROLLBACK_MINUTES: u64 = 7 * 24 * 60;

/// A request that carries a moderator's token: who sent it (for the audit
/// log, from the credential) and what they may do.
pub struct Moderator {
    name: String,
    role: Role,
    address: ClientAddress,
}

impl FromRequestParts<AppState> for Moderator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let config = &state.config;
        if !config.moderation_enabled() {
            return Err(ApiError::NotFound);
        }
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Digests of equal length, compared in constant time, against
        // every credential (no early exit): neither a token's bytes nor
        // its length nor which one matched leaks through timing.
        let given = Sha256::digest(given.as_bytes());
        let matches = |token: &Secret| -> bool {
            given
                .ct_eq(&Sha256::digest(token.expose().as_bytes()))
                .into()
        };
        let mut found = None;
        for credential in &config.moderators {
            if matches(&credential.token) {
                found = Some((credential.name.clone(), credential.role));
            }
        }
        let shared = config.admin_token.as_ref().is_some_and(matches);
        let (name, role) = match (found, shared) {
            (Some(named), _) => named,
            // The shared token names its user by a header of their choice.
            (None, true) => (moderator_header(parts)?, Role::Admin),
            (None, false) => return Err(ApiError::Unauthorized),
        };
        Ok(Self {
            name,
            role,
            address: visitor::address(parts, state),
        })
    }
}

/// `X-Moderator`, for the shared `ADMIN_TOKEN` only.
fn moderator_header(parts: &Parts) -> Result<String, ApiError> {
    match parts.headers.get("x-moderator") {
        None => Ok(String::new()),
        Some(value) => {
            let raw = value
                .to_str()
                .map_err(|_| bad("X-Moderator must be text"))?;
            Ok(DisplayName::parse(raw)
                .map_err(|error| bad(&format!("X-Moderator: {error}")))?
                .as_str()
                .to_owned())
        }
    }
}

impl Moderator {
    /// 403 unless this moderator's role includes `needed`.
    fn may(&self, needed: Role) -> Result<(), ApiError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(ApiError::Forbidden(match needed {
                Role::Viewer => "this needs the viewer role",
                Role::Moderator => "this needs the moderator role",
                Role::Admin => "this needs the admin role",
            }))
        }
    }
}

impl Moderator {
    /// Records `action` on `details` in the audit log.
    async fn record(&self, state: &AppState, action: &str, details: Value) -> Result<(), ApiError> {
        let entry = AuditEntry {
            at: SystemTime::now(),
            by: self.name.clone(),
            address: self.address.to_string(),
            action: action.to_owned(),
            details,
        };
        tracing::info!(by = %entry.by, address = %entry.address, action, details = %entry.details, "moderation");
        state.store.record_audit(&entry).await?;
        Ok(())
    }

    /// Does `work` as `action` on `details`, audited twice: the intent
    /// (`"phase":"intent"`) before anything changes, so no action goes
    /// unrecorded, and the outcome after it, with what the work answered
    /// (`"phase":"done"`) or how far it got (`"phase":"stopped"` and
    /// `"error"`). The work runs in a task of its own: a client that hangs
    /// up, or the request timeout, does not cut it short, and its outcome
    /// is recorded all the same.
    async fn act<F, Fut>(
        self,
        state: &AppState,
        action: &'static str,
        details: Value,
        work: F,
    ) -> Result<Value, ApiError>
    where
        F: FnOnce(AppState) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Value, Stopped>> + Send + 'static,
    {
        let mut intent = details.clone();
        intent["phase"] = json!("intent");
        self.record(state, action, intent).await?;
        let tasks = state.tasks.clone();
        let state = state.clone();
        let done = tasks.spawn(async move {
            let outcome = work(state.clone()).await;
            let (mut entry, phase) = match &outcome {
                Ok(result) => (merge(details, result), "done"),
                Err(stopped) => {
                    let mut entry = merge(details, &stopped.progress);
                    entry["error"] = json!(stopped.error.to_string());
                    (entry, "stopped")
                }
            };
            entry["phase"] = json!(phase);
            if let Err(error) = self.record(&state, action, entry).await {
                tracing::error!(%error, action, "cannot record a moderation's outcome");
            }
            outcome.map_err(|stopped| stopped.error)
        });
        done.await
            .unwrap_or_else(|_| Err(ApiError::Busy("the action failed; see the audit log")))
    }
}

impl Moderator {
    /// Who this moderator's fills are recorded as.
    fn placer(&self) -> FillPlacer {
        FillPlacer {
            name: self.name.clone(),
            address: self.address,
        }
    }
}

/// Work that stopped partway: what it had done, and why it stopped.
struct Stopped {
    progress: Value,
    error: ApiError,
}

impl From<ApiError> for Stopped {
    fn from(error: ApiError) -> Self {
        Self {
            progress: json!({}),
            error,
        }
    }
}

impl From<crate::backend::StoreError> for Stopped {
    fn from(error: crate::backend::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

/// `details` with the fields of `more` added.
fn merge(mut details: Value, more: &Value) -> Value {
    if let (Some(details), Some(more)) = (details.as_object_mut(), more.as_object()) {
        details.extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    details
}

/// What a fill or a rollback placed: the first and last seqs taken (0, 0
/// for none), the pixels written, and whether a replica confirmed them all.
#[derive(Default)]
struct Placed {
    first_seq: u64,
    last_seq: u64,
    pixels: usize,
    durable: bool,
}

impl Placed {
    fn json(&self) -> Value {
        json!({
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "pixels_done": self.pixels,
        })
    }
}

/// Places `pixels` as `placer`, in atomic chunks of [`FILL_CHUNK`]; if the
/// store fails midway, says how far it got.
async fn place_as(
    state: &AppState,
    placer: &FillPlacer,
    pixels: &[(Coord, u8)],
) -> Result<Placed, Stopped> {
    let mut placed = Placed {
        durable: true,
        ..Placed::default()
    };
    for chunk in pixels.chunks(FILL_CHUNK) {
        match state.store.fill(chunk, placer).await {
            Ok(filled) => {
                if placed.first_seq == 0 {
                    placed.first_seq = filled.first_seq;
                }
                placed.last_seq = filled.last_seq;
                placed.pixels += chunk.len();
                placed.durable &= filled.durable;
            }
            Err(error) => {
                return Err(Stopped {
                    progress: placed.json(),
                    error: error.into(),
                })
            }
        }
    }
    Ok(placed)
}

/// `?count=N` of a listing: `default` without one, at most `max`.
fn count(query: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    #[derive(Deserialize)]
    struct Count {
        count: Option<usize>,
    }
    let Count { count } = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|_| bad("count must be a number"))?;
    Ok(count.unwrap_or(default).clamp(1, max))
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_owned())
}

/// A JSON body, or why not.
fn body<T: for<'de> Deserialize<'de>>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType("expected application/json"));
    }
    serde_json::from_slice(body).map_err(|error| bad(&format!("malformed request: {error}")))
}

/// `GET /api/admin/status`: whether the canvas is frozen.
pub async fn status(State(state): State<AppState>, _: Moderator) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "frozen": state.store.is_frozen().await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Freeze {
    frozen: bool,
}

/// `POST /api/admin/freeze` with `{"frozen": true|false}`.
pub async fn freeze(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Value>, ApiError> {
    moderator.may(Role::Admin)?;
    let Freeze { frozen } = body(&headers, &request)?;
    let action = if frozen { "freeze" } else { "unfreeze" };
    moderator
        .act(&state, action, json!({}), move |state| async move {
            state.store.set_frozen(frozen).await?;
            Ok(json!({ "frozen": frozen }))
        })
        .await
        .map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ban {
    session: Option<String>,
    address: Option<String>,
    /// A CIDR range of addresses.
    range: Option<String>,
    /// Absent when lifting a ban.
    minutes: Option<u64>,
    /// A shadow ban: placements answered as accepted, never placed.
    #[serde(default)]
    shadow: bool,
}

impl Ban {
    /// The one session handle, address or range it names, and that as JSON.
    fn target(&self) -> Result<(BanTarget, Value), ApiError> {
        match (&self.session, &self.address, &self.range) {
            (Some(handle), None, None) if is_session_handle(handle) => Ok((
                BanTarget::Session(handle.clone()),
                json!({ "session": handle }),
            )),
            (Some(_), None, None) => Err(bad("session must be a session handle (16 hex digits)")),
            (None, Some(address), None) => {
                let ip: IpAddr = address
                    .parse()
                    .map_err(|_| bad("address must be an IPv4 or IPv6 address"))?;
                let address = ClientAddress::of(ip);
                Ok((
                    BanTarget::Address(address),
                    json!({ "address": address.to_string() }),
                ))
            }
            (None, None, Some(range)) => {
                let range: AddressRange = range.parse().map_err(bad)?;
                Ok((
                    BanTarget::Range(range),
                    json!({ "range": range.to_string() }),
                ))
            }
            _ => Err(bad("name exactly one of session, address and range")),
        }
    }
}

/// `POST /api/admin/ban` with `{"session": "<handle>"}` or `{"address":
/// "<ip>"}` (an IPv6 address bans its /64) and `"minutes"`.
pub async fn ban(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Value>, ApiError> {
    moderator.may(Role::Moderator)?;
    let ban: Ban = body(&headers, &request)?;
    let (target, mut details) = ban.target()?;
    let minutes = ban
        .minutes
        .filter(|m| (1..=MAX_BAN_MINUTES).contains(m))
        .ok_or_else(|| bad(&format!("minutes must be from 1 to {MAX_BAN_MINUTES}")))?;
    details["minutes"] = json!(minutes);
    let shadow = ban.shadow;
    if shadow {
        details["shadow"] = json!(true);
    }
    let answer = details.clone();
    moderator
        .act(&state, "ban", details, move |state| async move {
            state
                .store
                .ban(&target, Duration::from_secs(minutes * 60), shadow)
                .await?;
            Ok(json!({}))
        })
        .await?;
    Ok(Json(answer))
}

/// `POST /api/admin/unban` with `{"session": …}` or `{"address": …}`.
pub async fn unban(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Value>, ApiError> {
    moderator.may(Role::Moderator)?;
    let ban: Ban = body(&headers, &request)?;
    if ban.minutes.is_some() || ban.shadow {
        return Err(bad("unban takes neither minutes nor shadow"));
    }
    let (target, details) = ban.target()?;
    let outcome = moderator
        .act(&state, "unban", details.clone(), move |state| async move {
            let lifted = state.store.lift_ban(&target).await?;
            Ok(json!({ "lifted": lifted }))
        })
        .await?;
    Ok(Json(merge(details, &outcome)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fill {
    x: u16,
    y: u16,
    width: u16,
    height: u16,
    color: u8,
}

/// `POST /api/admin/fill` with `{"x","y","width","height","color"}`: the
/// rectangle in one color (a wipe is a fill with white), as ordinary
/// placements that reach every client through the feed; in atomic chunks
/// of [`FILL_CHUNK`] pixels, so a large fill never holds Redis for long.
pub async fn fill(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Value>, ApiError> {
    moderator.may(Role::Admin)?;
    let rect: Fill = body(&headers, &request)?;
    let size = state.mirror.size();
    let fits = |start: u16, extent: u16, limit: u16| {
        extent > 0 && u32::from(start) + u32::from(extent) <= u32::from(limit)
    };
    if !fits(rect.x, rect.width, size.width) || !fits(rect.y, rect.height, size.height) {
        return Err(bad(&format!(
            "the rectangle must be non-empty and within the {}x{} canvas",
            size.width, size.height
        )));
    }
    if usize::from(rect.color) >= PALETTE.len() {
        return Err(bad(&format!(
            "color must be from 0 to {}",
            PALETTE.len() - 1
        )));
    }
    let pixels: Vec<_> = (rect.y..rect.y + rect.height)
        .flat_map(|y| (rect.x..rect.x + rect.width).map(move |x| (x, y)))
        .filter_map(|(x, y)| Some((size.coord(x, y)?, rect.color)))
        .collect();
    let details = json!({
        "x": rect.x, "y": rect.y, "width": rect.width, "height": rect.height,
        "color": rect.color, "pixels": pixels.len(),
    });
    let placer = moderator.placer();
    let answer = moderator
        .act(&state, "fill", details.clone(), move |state| async move {
            let placed = place_as(&state, &placer, &pixels).await?;
            let mut outcome = placed.json();
            outcome["durable"] = json!(placed.durable);
            Ok(outcome)
        })
        .await?;
    Ok(Json(merge(details, &answer)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rollback {
    session: Option<String>,
    address: Option<String>,
    range: Option<String>,
    /// How far back: the last this many minutes.
    minutes: u64,
}

/// `POST /api/admin/rollback` with `{"session": …}` or `{"address": …}`
/// and `"minutes"`: puts back what the session or address placed in the
/// last `minutes`, as far as the history reaches ([`rollback::plan`]).
pub async fn rollback(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Value>, ApiError> {
    moderator.may(Role::Moderator)?;
    let request: Rollback = body(&headers, &request)?;
    let named = Ban {
        session: request.session,
        address: request.address,
        range: request.range,
        minutes: None,
        shadow: false,
    };
    let (target, mut details) = named.target()?;
    if !(1..=MAX_ROLLBACK_MINUTES).contains(&request.minutes) {
        return Err(bad(&format!(
            "minutes must be from 1 to {MAX_ROLLBACK_MINUTES}"
        )));
    }
    let since = SystemTime::now() - Duration::from_secs(request.minutes * 60);
    let history = state.store.logged_history().await?;
    // Never the moderators' own fills and rollbacks.
    let offender = |placer: &Placer| {
        placer.session != MODERATOR
            && match &target {
                BanTarget::Session(handle) => placer.session == *handle,
                BanTarget::Address(address) => placer.address == address.to_string(),
                BanTarget::Range(range) => placer
                    .address
                    .parse::<ClientAddress>()
                    .is_ok_and(|address| range.contains(address)),
            }
    };
    let plan = rollback::plan(&history, since, offender);
    let size = state.mirror.size();
    let pixels: Vec<_> = plan
        .restore
        .iter()
        .filter_map(|tile| Some((size.coord(tile.x, tile.y)?, tile.color)))
        .collect();
    details["minutes"] = json!(request.minutes);
    details["placements_found"] = json!(plan.found);
    details["pixels_restored"] = json!(pixels.len());
    details["pixels_overwritten_since"] = json!(plan.overwritten);
    details["pixels_beyond_history"] = json!(plan.beyond_history);
    let placer = moderator.placer();
    let answer = moderator
        .act(
            &state,
            "rollback",
            details.clone(),
            move |state| async move {
                let placed = place_as(&state, &placer, &pixels).await?;
                let mut outcome = placed.json();
                outcome["durable"] = json!(placed.durable);
                Ok(outcome)
            },
        )
        .await?;
    Ok(Json(merge(details, &answer)))
}

/// `GET /api/admin/pixel?x=X&y=Y`: the public record of a pixel, and the
/// session handle and address that placed it last.
pub async fn pixel(
    State(state): State<AppState>,
    _: Moderator,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let size = state.mirror.size();
    let PixelQuery { x, y } =
        PixelQuery::parse(query.as_deref().unwrap_or(""), size.width, size.height)
            .map_err(|error| bad(&error.to_string()))?;
    let coord = size.coord(x, y).expect("both axes were checked");
    let (color, _) = state.mirror.pixel(coord);
    let record = state.store.pixel(coord).await?;
    let placer = record.as_ref().and_then(|r| r.placer.as_ref());
    Ok(Json(json!({
        "x": x,
        "y": y,
        "color": color,
        "seq": record.as_ref().map_or(0, |r| r.seq),
        "placed_at": record.as_ref().map(|r| rfc3339(r.placed_at)),
        "placed_by": record.as_ref().and_then(|r| r.placed_by.clone()),
        "session": placer.map(|p| p.session.clone()),
        "address": placer.map(|p| p.address.clone()),
    })))
}

/// `GET /api/admin/audit?count=N`: the newest N actions (100 by default,
/// at most 1,000), newest first.
pub async fn audit(
    State(state): State<AppState>,
    _: Moderator,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let count = count(query.as_deref(), 100, MAX_AUDIT_ENTRIES)?;
    let entries: Vec<Value> = state
        .store
        .audit_log(count)
        .await?
        .into_iter()
        .map(|entry| {
            json!({
                "at": rfc3339(entry.at),
                "by": entry.by,
                "address": entry.address,
                "action": entry.action,
                "details": entry.details,
            })
        })
        .collect();
    Ok(Json(json!({ "entries": entries })))
}

/// `GET /api/admin/reports?count=N`: the newest N open reports (50 by
/// default, at most 100), newest first, each with who last placed the
/// pixel at its top-left corner, for a one-click ban or rollback.
pub async fn reports(
    State(state): State<AppState>,
    _: Moderator,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let count = count(query.as_deref(), 50, MAX_REPORTS)?;
    let size = state.mirror.size();
    let mut reports = Vec::new();
    for report in state.store.reports(count).await? {
        let record = match size.coord(report.x, report.y) {
            Some(coord) => state.store.pixel(coord).await?,
            None => None,
        };
        let placer = record.as_ref().and_then(|r| r.placer.as_ref());
        reports.push(json!({
            "id": report.id,
            "at": rfc3339(report.at),
            "x": report.x,
            "y": report.y,
            "width": report.width,
            "height": report.height,
            "reason": report.reason,
            "reporter": report.reporter,
            "reporter_address": report.address,
            "placed_by": record.as_ref().and_then(|r| r.placed_by.clone()),
            "session": placer.map(|p| p.session.clone()),
            "address": placer.map(|p| p.address.clone()),
        }));
    }
    Ok(Json(json!({ "reports": reports })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resolve {
    id: String,
    /// What was done about it, for the audit log (e.g. "banned").
    #[serde(default)]
    outcome: String,
}

/// `POST /api/admin/reports/resolve` with `{"id": …, "outcome": …}`: takes
/// the report off the queue.
pub async fn resolve_report(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Value>, ApiError> {
    moderator.may(Role::Moderator)?;
    let Resolve { id, outcome } = body(&headers, &request)?;
    if id.len() > 40 || outcome.chars().count() > 40 {
        return Err(bad("id and outcome are short strings"));
    }
    let details = json!({ "id": id, "outcome": outcome });
    let answer = moderator
        .act(
            &state,
            "resolve-report",
            details.clone(),
            move |state| async move {
                let resolved = state.store.resolve_report(&id).await?;
                Ok(json!({ "resolved": resolved }))
            },
        )
        .await?;
    Ok(Json(merge(details, &answer)))
}
