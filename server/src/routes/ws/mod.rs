//! `GET /ws`: the handshake checks; [`connection`] is the life of one
//! WebSocket after them.

mod connection;

use crate::{error::ApiError, limits::client_ip, session, state::AppState};
use axum::{
    extract::{ws::WebSocketUpgrade, ConnectInfo, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};
use connection::Connection;
use std::net::SocketAddr;

/// The transport refuses frames above this outright. Frames between the
/// protocol's 1 KiB and this are read, answered with `Error` and closed with
/// 1009, so the client learns why.
const TRANSPORT_LIMIT: usize = 64 * 1024;

/// What tungstenite reads from the socket at a time, and so the buffer each
/// connection holds: client frames are 6 or 17 bytes, so a small buffer
/// serves them, and it grows for the rare larger (refused) frame. Its
/// default of 128 KiB was most of a connection's memory.
const READ_BUFFER: usize = 2 * 1024;

/// Frames queued before tungstenite writes without waiting for a flush.
/// The connection flushes after each round of work, so this only bounds
/// one round's writes.
const WRITE_BUFFER: usize = 16 * 1024;

pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &state.config.allowed_origins) {
        return ApiError::Forbidden("origin not allowed").into_response();
    }
    let ip = client_ip(&headers, peer, state.config.trust_forwarded_for);
    let Some(permit) = state.connections.try_acquire(ip) else {
        return ApiError::TooManyRequests("too many connections from this address").into_response();
    };
    let max_new = state.config.max_new_sessions_per_ip;
    let grant = session::grant(&*state.store, &headers, ip, max_new).await;
    let Some((session, new_cookie)) = grant.accepted() else {
        return ApiError::TOO_MANY_SESSIONS.into_response();
    };
    let mut response = ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(TRANSPORT_LIMIT)
        .max_frame_size(TRANSPORT_LIMIT)
        .on_upgrade(move |socket| Connection::new(state, session, socket, permit).run());
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Browsers always send `Origin`: it must be an allowed origin, by default
/// the host serving the page. Without `Origin` the client is not a browser
/// (a bot, a load generator) and cross-site hijacking does not apply.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    if !allowed.is_empty() {
        return allowed.iter().any(|a| *a == origin || a == "*");
    }
    let Some(origin_host) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let served_host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    match served_host {
        // A Host without a port (a proxy passing `$host`) matches the
        // origin's host whatever its port.
        Some(host) if host.contains(':') => origin_host == host,
        Some(host) => origin_host.split(':').next() == Some(host.as_str()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn origin_defaults_to_the_serving_host() {
        let same = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        let foreign = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]);
        assert!(origin_allowed(&same, &[]));
        assert!(!origin_allowed(&foreign, &[]));
        assert!(
            origin_allowed(&headers(&[("host", "a")]), &[]),
            "no Origin: not a browser"
        );
        let proxied = headers(&[
            ("host", "canvas.example"),
            ("origin", "https://canvas.example:8443"),
        ]);
        assert!(origin_allowed(&proxied, &[]));
    }

    #[test]
    fn configured_origins_replace_the_default() {
        let allowed = vec!["https://canvas.example".to_owned()];
        let request = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://canvas.example"),
        ]);
        assert!(origin_allowed(&request, &allowed));
        let same_host = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(!origin_allowed(&same_host, &allowed));
    }
}
