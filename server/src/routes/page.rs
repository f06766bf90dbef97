//! `GET /`: the server-rendered page. The figures it shows come from this
//! instance's mirror, handed to the Leptos tree as context.

use crate::{limits::client_address, state::AppState};
use app::PageData;
use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::header,
    response::Response,
};
use leptos::prelude::provide_context;
use std::net::SocketAddr;

/// `scheme://host` as the client sees it (through the proxy, if any).
fn origin(headers: &axum::http::HeaderMap) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = match header("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

pub async fn page(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let headers = request.headers();
    let address = client_address(headers, peer, state.config.trust_forwarded_for);
    // Over the ceiling the page is still served, without a session.
    let (display_name, new_cookie) = match state.sessions.grant(headers, address).await.accepted() {
        Some((id, None)) => (state.store.display_name(&id).await.ok().flatten(), None),
        Some((_, cookie)) => (None, cookie),
        None => (None, None),
    };
    let size = state.mirror.size();
    let data = PageData {
        width: size.width,
        height: size.height,
        seq: state.mirror.version().seq,
        cooldown_ms: state.config.cooldown.as_millis() as u32,
        online: state.presence.online(),
        display_name,
        origin: origin(headers),
    };
    let options = state.config.leptos.clone();
    let render = leptos_axum::render_app_to_stream_with_context(
        move || provide_context(data.clone()),
        move || app::shell(options.clone()),
    );
    let mut response = render(request).await;
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
