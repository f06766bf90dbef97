//! `GET /ws`: the handshake checks; [`connection`] is the life of one
//! WebSocket after them.

mod connection;
mod subscription;

use super::visitor::{AllowedOrigin, ConnectionSlot, Visitor};
use crate::{error::ApiError, session::NoSession, state::AppState};
use axum::{
    extract::{ws::WebSocketUpgrade, State},
    response::{IntoResponse, Response},
};
use connection::Connection;
use tracing::Instrument;

/// The transport refuses frames above this outright. Frames between the
/// protocol's 1 KiB and this are read, answered with `Error` and closed with
/// 1009, so the client learns why.
const TRANSPORT_LIMIT: usize = 64 * 1024;

/// What tungstenite reads from the socket at a time, and so the buffer each
/// connection holds: client frames are 6 or 17 bytes, so a small buffer
/// serves them, and it grows for the rare larger (refused) frame. Its
/// default of 128 KiB was most of a connection's memory.
const READ_BUFFER: usize = 512;

/// Frames queued before tungstenite writes without waiting for a flush.
/// The connection flushes after each round of work, so this only bounds
/// one round's writes.
const WRITE_BUFFER: usize = 16 * 1024;

/// The handshake, once its origin is allowed, its address holds fewer
/// sockets than its cap, and it has a session (429 past the address's
/// ceiling of new sessions, 503 while the store cannot count them).
pub async fn upgrade(
    State(state): State<AppState>,
    _: AllowedOrigin,
    slot: ConnectionSlot,
    visitor: Visitor,
    ws: WebSocketUpgrade,
) -> Response {
    let session = match &visitor.session {
        Ok(session) => session.clone(),
        Err(NoSession::TooMany) => return ApiError::TOO_MANY_SESSIONS.into_response(),
        Err(NoSession::Unavailable) => return ApiError::SESSIONS_UNAVAILABLE.into_response(),
    };
    let ConnectionSlot { address, permit } = slot;
    // What the connection starts from, in one box: the callback's captures
    // stay in the socket's task for its whole life, moved from or not.
    let start = Box::new((state, session, address, permit));
    let mut response = ws
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(TRANSPORT_LIMIT)
        .max_frame_size(TRANSPORT_LIMIT)
        .on_upgrade(move |socket| {
            let (state, session, address, permit) = *start;
            let tasks = state.tasks.clone();
            // Every event of the connection carries who it is: the
            // session's handle (what moderators see, never the id) and the
            // client's address.
            let span = tracing::info_span!(
                "connection",
                session = %session.handle(),
                address = %address
            );
            tasks.track_future(
                Connection::new(state, session, address, socket, permit)
                    .run()
                    .instrument(span),
            )
        });
    visitor.hand_out(&mut response);
    response
}
