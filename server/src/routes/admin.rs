//! The moderators' API, `/api/admin/…` (docs/protocol.md): freeze the
//! canvas, ban a session or an address, see who placed a pixel, fill or
//! wipe a rectangle, roll back what someone placed, read the audit log. Every route answers 404 unless `ADMIN_TOKEN` is set, and 401
//! unless the request carries it as a bearer token; every change is
//! recorded in the audit log with who, from where and when.

use super::{
    api::{is_json, pixel_info, rfc3339},
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
use app::{
    api::{
        AuditLog, AuditRecord, Ban, ChatMessage, ChatMessages, ChatMute, ChatRemove, Fill, Filled,
        Frozen, Grow, PixelPlacer, Placed, ReportRecord, Reports, Resolve, Resolved, Rollback,
        RollbackPlan, RolledBack, Target, Unbanned,
    },
    geometry::{CanvasSize, Coord},
    name::DisplayName,
    requests::PixelQuery,
};
use axum::{
    body::Bytes,
    extract::{FromRequestParts, RawQuery, State},
    http::{header, request::Parts, HeaderMap},
    Json,
};
use serde::{Deserialize, Serialize};
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
    async fn act<F, Fut, O>(
        self,
        state: &AppState,
        action: &'static str,
        details: Value,
        work: F,
    ) -> Result<O, ApiError>
    where
        F: FnOnce(AppState) -> Fut + Send + 'static,
        Fut: Future<Output = Result<O, Stopped>> + Send + 'static,
        O: Serialize + Send + 'static,
    {
        let mut intent = details.clone();
        intent["phase"] = json!("intent");
        self.record(state, action, intent).await?;
        let tasks = state.tasks.clone();
        let state = state.clone();
        let done = tasks.spawn(async move {
            let outcome = work(state.clone()).await;
            let (mut entry, phase) = match &outcome {
                Ok(result) => (merge(details, &as_json(result)), "done"),
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

    /// Who this moderator's fills are recorded as.
    fn placer(&self) -> FillPlacer {
        FillPlacer {
            name: self.name.clone(),
            address: self.address,
        }
    }
}

/// An action that stopped part way: how far it got (for the audit log) and
/// why.
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

/// An answer as the audit log's JSON. (Serializing fails only for maps
/// with keys that are not strings, which none of the answers has.)
fn as_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// `details` with `more`'s fields added (both JSON objects).
fn merge(mut details: Value, more: &Value) -> Value {
    if let (Some(details), Some(more)) = (details.as_object_mut(), more.as_object()) {
        details.extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    details
}

/// Writes `pixels` as the moderator's placements, in atomic chunks; on a
/// failure, says how far it got.
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
                placed.pixels_done += chunk.len();
                placed.durable &= filled.durable;
            }
            Err(error) => {
                // Durability is not known for a fill cut short.
                let mut progress = as_json(&placed);
                if let Some(fields) = progress.as_object_mut() {
                    fields.remove("durable");
                }
                return Err(Stopped {
                    progress,
                    error: error.into(),
                });
            }
        }
    }
    Ok(placed)
}

/// `?count=N`, clamped to 1..=`max`.
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

/// A JSON body of type `T` (415 for another type, 400 for a malformed
/// one; the router caps its size).
fn body<T: for<'de> Deserialize<'de>>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType("expected application/json"));
    }
    serde_json::from_slice(body).map_err(|error| bad(&format!("malformed request: {error}")))
}

/// Whom an action names, checked, and as the answers write it (an
/// address as its /64 for IPv6, a range in its canonical form).
fn target(named: &Target) -> Result<(BanTarget, Target), ApiError> {
    match (&named.session, &named.address, &named.range) {
        (Some(handle), None, None) if is_session_handle(handle) => Ok((
            BanTarget::Session(handle.clone()),
            Target {
                session: Some(handle.clone()),
                ..Target::default()
            },
        )),
        (Some(_), None, None) => Err(bad("session must be a session handle (16 hex digits)")),
        (None, Some(address), None) => {
            let ip: IpAddr = address
                .parse()
                .map_err(|_| bad("address must be an IPv4 or IPv6 address"))?;
            let address = ClientAddress::of(ip);
            Ok((
                BanTarget::Address(address),
                Target {
                    address: Some(address.to_string()),
                    ..Target::default()
                },
            ))
        }
        (None, None, Some(range)) => {
            let range: AddressRange = range.parse().map_err(bad)?;
            Ok((
                BanTarget::Range(range),
                Target {
                    range: Some(range.to_string()),
                    ..Target::default()
                },
            ))
        }
        _ => Err(bad("name exactly one of session, address and range")),
    }
}

/// `GET /api/admin/status`.
pub async fn status(State(state): State<AppState>, _: Moderator) -> Result<Json<Frozen>, ApiError> {
    let frozen = state.store.is_frozen().await?;
    Ok(Json(Frozen { frozen }))
}

/// `POST /api/admin/freeze`.
pub async fn freeze(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Frozen>, ApiError> {
    moderator.may(Role::Admin)?;
    let Frozen { frozen } = body(&headers, &request)?;
    let action = if frozen { "freeze" } else { "unfreeze" };
    moderator
        .act(&state, action, json!({}), move |state| async move {
            state.store.set_frozen(frozen).await?;
            Ok(Frozen { frozen })
        })
        .await
        .map(Json)
}

/// `POST /api/admin/grow`: enlarges the canvas (never shrinks it);
/// answers the size it has. Every instance, this one included, follows
/// through its feed.
pub async fn grow(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Grow>, ApiError> {
    moderator.may(Role::Admin)?;
    let Grow { width, height } = body(&headers, &request)?;
    if width == 0 || height == 0 {
        return Err(bad("width and height are from 1 to 65535"));
    }
    let details = json!({"width": width, "height": height});
    moderator
        .act(&state, "grow", details, move |state| async move {
            let kept = state.store.grow(CanvasSize { width, height }).await?;
            Ok(Grow {
                width: kept.width,
                height: kept.height,
            })
        })
        .await
        .map(Json)
}

/// `POST /api/admin/ban`: answers what was banned.
pub async fn ban(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Ban>, ApiError> {
    moderator.may(Role::Moderator)?;
    let ban: Ban = body(&headers, &request)?;
    let (banned, named) = target(&ban.target())?;
    let minutes = ban
        .minutes
        .filter(|m| (1..=MAX_BAN_MINUTES).contains(m))
        .ok_or_else(|| bad(&format!("minutes must be from 1 to {MAX_BAN_MINUTES}")))?;
    let shadow = ban.shadow;
    let answer = Ban {
        session: named.session,
        address: named.address,
        range: named.range,
        minutes: Some(minutes),
        shadow,
    };
    moderator
        .act(&state, "ban", as_json(&answer), move |state| async move {
            let length = Duration::from_secs(minutes * 60);
            state.store.ban(&banned, length, shadow).await?;
            Ok(())
        })
        .await?;
    Ok(Json(answer))
}

/// `POST /api/admin/chat/remove`: takes a chat message away from every
/// page.
pub async fn remove_chat(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<ChatRemove>, ApiError> {
    moderator.may(Role::Moderator)?;
    let ChatRemove { id, faction, .. } = body(&headers, &request)?;
    let details = json!({ "id": id, "faction": faction });
    let removed = moderator
        .act(&state, "chat-remove", details, move |state| async move {
            Ok(state.store.remove_chat(id, faction).await?)
        })
        .await?;
    Ok(Json(ChatRemove {
        id,
        faction,
        removed,
    }))
}

/// `POST /api/admin/chat/mute`: a player's chat messages are refused for
/// `minutes`, on every canvas.
pub async fn mute(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<ChatMute>, ApiError> {
    moderator.may(Role::Moderator)?;
    let mute: ChatMute = body(&headers, &request)?;
    player_handle(&mute.player)?;
    let minutes = mute
        .minutes
        .filter(|m| (1..=MAX_BAN_MINUTES).contains(m))
        .ok_or_else(|| bad(&format!("minutes must be from 1 to {MAX_BAN_MINUTES}")))?;
    let answer = ChatMute {
        player: mute.player,
        minutes: Some(minutes),
        lifted: None,
    };
    let player = answer.player.clone();
    moderator
        .act(
            &state,
            "chat-mute",
            as_json(&answer),
            move |state| async move {
                state
                    .store
                    .mute(&player, Duration::from_secs(minutes * 60))
                    .await?;
                Ok(())
            },
        )
        .await?;
    Ok(Json(answer))
}

/// Refuses what is not a player's handle.
fn player_handle(player: &str) -> Result<(), ApiError> {
    if is_session_handle(player) {
        Ok(())
    } else {
        Err(bad("player must be a player's handle (16 hex digits)"))
    }
}

/// `POST /api/admin/chat/unmute`.
pub async fn unmute(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<ChatMute>, ApiError> {
    moderator.may(Role::Moderator)?;
    let ChatMute { player, .. } = body(&headers, &request)?;
    player_handle(&player)?;
    let details = json!({ "player": player });
    let target = player.clone();
    let lifted = moderator
        .act(&state, "chat-unmute", details, move |state| async move {
            Ok(state.store.unmute(&target).await?)
        })
        .await?;
    Ok(Json(ChatMute {
        player,
        minutes: None,
        lifted: Some(lifted),
    }))
}

/// `POST /api/admin/unban`.
pub async fn unban(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Unbanned>, ApiError> {
    moderator.may(Role::Moderator)?;
    let ban: Ban = body(&headers, &request)?;
    if ban.minutes.is_some() || ban.shadow {
        return Err(bad("unban takes neither minutes nor shadow"));
    }
    let (banned, named) = target(&ban.target())?;
    let details = as_json(&named);
    moderator
        .act(&state, "unban", details, move |state| async move {
            let lifted = state.store.lift_ban(&banned).await?;
            Ok(Unbanned {
                target: named,
                lifted,
            })
        })
        .await
        .map(Json)
}

/// `POST /api/admin/fill`.
pub async fn fill(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Filled>, ApiError> {
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
    let colors = state.config.colors;
    if rect.color >= colors {
        return Err(bad(&format!("color must be from 0 to {}", colors - 1)));
    }
    let pixels: Vec<_> = (rect.y..rect.y + rect.height)
        .flat_map(|y| (rect.x..rect.x + rect.width).map(move |x| (x, y)))
        .filter_map(|(x, y)| Some((size.coord(x, y)?, rect.color)))
        .collect();
    let count = pixels.len();
    let mut details = as_json(&rect);
    details["pixels"] = json!(count);
    let placer = moderator.placer();
    let placed = moderator
        .act(&state, "fill", details, move |state| async move {
            place_as(&state, &placer, &pixels).await
        })
        .await?;
    let Fill {
        x,
        y,
        width,
        height,
        color,
    } = rect;
    Ok(Json(Filled {
        x,
        y,
        width,
        height,
        color,
        pixels: count,
        placed,
    }))
}

/// `POST /api/admin/rollback`.
pub async fn rollback(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<RolledBack>, ApiError> {
    moderator.may(Role::Moderator)?;
    let request: Rollback = body(&headers, &request)?;
    let (offending, named) = target(&request.target())?;
    let minutes = request.minutes;
    if !(1..=MAX_ROLLBACK_MINUTES).contains(&minutes) {
        return Err(bad(&format!(
            "minutes must be from 1 to {MAX_ROLLBACK_MINUTES}"
        )));
    }
    let since = SystemTime::now() - Duration::from_secs(minutes * 60);
    let history = state.store.logged_history().await?;
    let offender = |placer: &Placer| {
        placer.session != MODERATOR
            && match &offending {
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
    let found = RollbackPlan {
        placements_found: plan.found,
        pixels_restored: pixels.len(),
        pixels_overwritten_since: plan.overwritten,
        pixels_beyond_history: plan.beyond_history,
    };
    let mut details = merge(as_json(&named), &as_json(&found));
    details["minutes"] = json!(minutes);
    let placer = moderator.placer();
    let placed = moderator
        .act(&state, "rollback", details, move |state| async move {
            place_as(&state, &placer, &pixels).await
        })
        .await?;
    Ok(Json(RolledBack {
        target: named,
        minutes,
        plan: found,
        placed,
    }))
}

/// `GET /api/admin/pixel`: the public record and who placed it.
pub async fn pixel(
    State(state): State<AppState>,
    _: Moderator,
    RawQuery(query): RawQuery,
) -> Result<Json<PixelPlacer>, ApiError> {
    let size = state.mirror.size();
    let PixelQuery { x, y } =
        PixelQuery::parse(query.as_deref().unwrap_or(""), size.width, size.height)
            .map_err(|error| bad(&error.to_string()))?;
    let coord = size.coord(x, y).expect("both axes were checked");
    let record = state.store.pixel(coord).await?;
    let placer = record.as_ref().and_then(|r| r.placer.as_ref());
    Ok(Json(PixelPlacer {
        pixel: pixel_info(&state, coord, record.as_ref()),
        session: placer.map(|p| p.session.clone()),
        address: placer.map(|p| p.address.clone()),
    }))
}

/// `GET /api/admin/audit?count=N`.
pub async fn audit(
    State(state): State<AppState>,
    _: Moderator,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditLog>, ApiError> {
    let count = count(query.as_deref(), 100, MAX_AUDIT_ENTRIES)?;
    let entries = state
        .store
        .audit_log(count)
        .await?
        .into_iter()
        .map(|entry| AuditRecord {
            at: rfc3339(entry.at),
            by: entry.by,
            address: entry.address,
            action: entry.action,
            details: entry.details,
        })
        .collect();
    Ok(Json(AuditLog { entries }))
}

/// `GET /api/admin/chat?count=N[&faction=F]`: the kept messages (at most
/// 100) of the canvas's channel, or of faction `F`'s, newest first.
pub async fn chat(
    State(state): State<AppState>,
    _: Moderator,
    RawQuery(query): RawQuery,
) -> Result<Json<ChatMessages>, ApiError> {
    #[derive(Deserialize)]
    struct Channel {
        faction: Option<u64>,
    }
    let count = count(query.as_deref(), 50, crate::backend::CHAT_KEPT)?;
    let Channel { faction } = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|_| bad("faction must be a faction's id"))?;
    let messages = state
        .store
        .recent_chat(faction, count)
        .await?
        .into_iter()
        .rev()
        .map(|line| chat_message(line, faction))
        .collect();
    Ok(Json(ChatMessages { messages }))
}

/// A chat message as moderators read it.
fn chat_message(line: app::protocol::ChatLine, faction: Option<u64>) -> ChatMessage {
    ChatMessage {
        id: line.id,
        at: rfc3339(std::time::UNIX_EPOCH + Duration::from_millis(line.at_ms)),
        player: line.player,
        name: line.name,
        text: line.text,
        faction,
    }
}

/// `GET /api/admin/reports?count=N`: each with who last placed its
/// top-left pixel.
pub async fn reports(
    State(state): State<AppState>,
    _: Moderator,
    RawQuery(query): RawQuery,
) -> Result<Json<Reports>, ApiError> {
    let count = count(query.as_deref(), 50, MAX_REPORTS)?;
    let size = state.mirror.size();
    let mut reports = Vec::new();
    let canvas = &state.config.canvas_name;
    let queued = state.store.reports(count).await?;
    for report in queued.into_iter().filter(|r| r.canvas == *canvas) {
        // A chat message's report is about its author, not a pixel.
        let record = match (&report.message, size.coord(report.x, report.y)) {
            (None, Some(coord)) => state.store.pixel(coord).await?,
            _ => None,
        };
        let placer = record.as_ref().and_then(|r| r.placer.as_ref());
        reports.push(ReportRecord {
            id: report.id,
            at: rfc3339(report.at),
            x: report.x,
            y: report.y,
            width: report.width,
            height: report.height,
            reason: report.reason,
            reporter: report.reporter,
            reporter_address: report.address,
            placed_by: match &report.message {
                Some(message) => message.name.clone(),
                None => record.as_ref().and_then(|r| r.placed_by.clone()),
            },
            session: match &report.message {
                Some(message) => Some(message.player.clone()),
                None => placer.map(|p| p.session.clone()),
            },
            address: placer.map(|p| p.address.clone()),
            message: report
                .message
                .map(|line| chat_message(line, report.message_faction)),
        });
    }
    Ok(Json(Reports { reports }))
}

/// `POST /api/admin/reports/resolve`.
pub async fn resolve_report(
    State(state): State<AppState>,
    moderator: Moderator,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Json<Resolved>, ApiError> {
    moderator.may(Role::Moderator)?;
    let Resolve { id, outcome } = body(&headers, &request)?;
    if id.len() > 40 || outcome.chars().count() > 40 {
        return Err(bad("id and outcome are short strings"));
    }
    let details = json!({ "id": id, "outcome": outcome });
    moderator
        .act(&state, "resolve-report", details, move |state| async move {
            let resolved = state.store.resolve_report(&id).await?;
            Ok(Resolved {
                id,
                outcome,
                resolved,
            })
        })
        .await
        .map(Json)
}
