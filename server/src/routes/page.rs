//! `GET /` and `GET /admin`: the server-rendered pages. The figures they
//! show come from this instance's mirror, handed to the Leptos tree as
//! context. Each page carries its own Content-Security-Policy: its one inline script (the hydration
//! loader) runs under a nonce made for this response, and nothing else
//! inline or from elsewhere runs at all.

use super::visitor::Visitor;
use crate::{config::Config, error::ApiError, session::NoSession, state::AppState};
use app::{chunk::WHOLE_CANVAS_MAX_AREA, geometry::CanvasSize, i18n::Lang, PageData, PageView};
use axum::{
    body::Body,
    extract::{Path, Request, State},
    http::{header, HeaderMap, HeaderValue},
    response::Response,
};
use leptos::{nonce::Nonce, prelude::provide_context};

/// `scheme://host` as the client sees it (through the proxy, if any: its
/// `X-Forwarded-Host` is believed only behind a trusted proxy).
fn origin(headers: &HeaderMap, trust_forwarded: bool) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = match header("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    let forwarded_host = trust_forwarded
        .then(|| header("x-forwarded-host"))
        .flatten();
    let host = forwarded_host
        .or_else(|| header("host"))
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// The page, with the visitor's session (over its address's ceiling of new
/// sessions the page is still served, without one).
pub async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    request: Request<Body>,
) -> Response {
    render(state, visitor, request, PageView::Canvas).await
}

/// `GET /admin`: the moderators' page, only where `ADMIN_TOKEN` is set (it
/// asks for the token itself; every action it takes is checked by the
/// admin API).
pub async fn admin(
    State(state): State<AppState>,
    visitor: Visitor,
    request: Request<Body>,
) -> Result<Response, ApiError> {
    if !state.config.moderation_enabled() {
        return Err(ApiError::NotFound);
    }
    Ok(render(state, visitor, request, PageView::Admin).await)
}

/// `GET /players/{handle}`: a player's page (404 for a handle that never
/// placed nor took a name).
pub async fn player(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    visitor: Visitor,
    request: Request<Body>,
) -> Result<Response, ApiError> {
    let player = super::players::figures(&*state.store, &handle)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(render_with(state, visitor, request, PageView::Player, Some(player)).await)
}

async fn render(
    state: AppState,
    visitor: Visitor,
    request: Request<Body>,
    view: PageView,
) -> Response {
    render_with(state, visitor, request, view, None).await
}

async fn render_with(
    state: AppState,
    visitor: Visitor,
    request: Request<Body>,
    view: PageView,
    player: Option<app::api::Player>,
) -> Response {
    let headers = request.headers();
    let display_name = match &visitor.session {
        Ok(id) if !visitor.is_new() => state.store.display_name(id).await.ok().flatten(),
        _ => None,
    };
    let linked = match (&state.sign_in, &visitor.session) {
        (Some(_), Ok(id)) if !visitor.is_new() => state.store.linked(id).await.ok().flatten(),
        _ => None,
    };
    let account = super::auth::account_view(&state, linked.map(|linked| linked.provider));
    let lang = language(headers);
    let t = lang.texts();
    let read_only = visitor.session.as_ref().err().map(|why| {
        match why {
            NoSession::TooMany => t.watching_only_many,
            NoSession::Unavailable => t.watching_only_down,
        }
        .to_owned()
    });
    let size = state.mirror.size();
    let seq = state.mirror.version().seq;
    let base = state
        .config
        .canvas_name
        .as_ref()
        .map_or_else(String::new, |name| format!("/c/{name}"));
    let data = PageData {
        view,
        width: size.width,
        height: size.height,
        seq,
        preview: base.clone() + &preview(size, seq, request.uri().query()),
        colors: state.config.colors,
        base,
        cooldown_ms: state.config.cooldown.as_millis() as u32,
        undo_ms: state.config.undo.as_millis() as u32,
        online: state.presence.online(),
        frozen: state.presence.frozen(),
        display_name,
        read_only,
        origin: origin(headers, state.config.trust_forwarded_for),
        player,
        lang,
        account,
    };
    let nonce = Nonce::new();
    let policy = content_security_policy(&nonce, &state.config);
    let options = state.config.leptos.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || {
            provide_context(data.clone());
            provide_context(nonce.clone());
        },
        move || app::shell(options.clone()),
    );
    let mut response = render(request).await;
    visitor.hand_out(&mut response);
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, policy);
    response
}

/// The language a page is rendered in: the one the language switch chose
/// (its `lang` cookie), else the browser's preference (`Accept-Language`),
/// else English.
fn language(headers: &HeaderMap) -> Lang {
    let chosen = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|cookie| Lang::parse(cookie.trim().strip_prefix("lang=")?));
    chosen.unwrap_or_else(|| {
        let accepted = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        Lang::negotiate(accepted)
    })
}

/// The image a link to the page previews with: the whole canvas, or on a
/// canvas served by chunk the chunk at the centre of the link's view
/// (`?x=…&y=…`, else the canvas's centre). Its seq in the query makes
/// previews fetch a fresh one.
fn preview(size: CanvasSize, seq: u64, query: Option<&str>) -> String {
    if size.area() <= WHOLE_CANVAS_MAX_AREA {
        return format!("/api/canvas.png?seq={seq}");
    }
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or_default()).unwrap_or_default();
    let at = |name: &str, extent: u16| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .and_then(|(_, value)| value.parse::<f64>().ok())
            .filter(|value| value.is_finite())
            .map_or(extent / 2, |value| {
                value.clamp(0.0, f64::from(extent - 1)) as u16
            })
    };
    let (x, y) = (at("x", size.width), at("y", size.height));
    format!("/api/view.png?x={x}&y={y}&seq={seq}")
}

/// What the page may load and run: its own scripts (the WASM bundle may be
/// compiled), the inline loader with this response's nonce, its own styles
/// (inline style attributes too: the view is positioned with them), images
/// from itself and from any https site (a player's template may live
/// anywhere; an image cannot run code), and connections to itself (the WebSocket included). Under
/// `cargo leptos watch` the live-reload socket on its own port too.
fn content_security_policy(nonce: &Nonce, config: &Config) -> HeaderValue {
    let reload = if config.live_reload {
        format!(" ws://*:{0} wss://*:{0}", config.leptos.reload_port)
    } else {
        String::new()
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; \
         connect-src 'self'{reload}; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).expect("a nonce is base64: the policy is a valid header")
}
