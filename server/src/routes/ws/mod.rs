//! `GET /ws`: the handshake checks; [`connection`] is the life of one
//! WebSocket after them.

mod connection;

use super::origin;
use crate::{error::ApiError, limits::client_address, state::AppState};
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
    if !origin::allowed(&headers, &state.config) {
        return ApiError::Forbidden("origin not allowed").into_response();
    }
    let address = client_address(&headers, peer, state.config.trust_forwarded_for);
    let Some(permit) = state.connections.try_acquire(address) else {
        return ApiError::TooManyRequests("too many connections from this address").into_response();
    };
    let grant = state.sessions.grant(&headers, address).await;
    let Some((session, new_cookie)) = grant.accepted() else {
        return ApiError::TOO_MANY_SESSIONS.into_response();
    };
    let mut response = ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(TRANSPORT_LIMIT)
        .max_frame_size(TRANSPORT_LIMIT)
        .on_upgrade(move |socket| Connection::new(state, session, address, socket, permit).run());
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
