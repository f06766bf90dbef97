//! `GET /ws`: the handshake checks and the life of one WebSocket connection.
//!
//! A connection is one task that waits on two things at once: frames from
//! the client (each decoded once by `protocol` and handled in
//! [`Connection::on_message`]) and frames from the instance's fan-out. Every
//! write has a deadline, so a client that stops reading is dropped instead of
//! holding memory.

use crate::{
    canvas::{fanout::Frame, mirror::Version},
    error::ApiError,
    limits::{client_ip, ConnectionPermit, TokenBucket},
    metrics::{DisconnectReason, PlacementResult},
    session::{self, SessionId},
    state::AppState,
    store::{PlaceOutcome, Placement},
};
use app::{
    palette::ColorIndex,
    protocol::{error_code, ClientMessage, DecodeError, Hello, PlaceStatus, ServerMessage, Tile},
};
use axum::{
    extract::{
        ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade},
        ConnectInfo, State,
    },
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use std::{
    net::SocketAddr,
    time::{Duration, Instant, SystemTime},
};
use tokio::sync::broadcast::{self, error::RecvError};

/// The transport refuses frames above this outright. Frames between the
/// protocol's 1 KiB and this are read, answered with `Error` and closed with
/// 1009, so the client learns why.
const TRANSPORT_LIMIT: usize = 64 * 1024;

/// A `Resume` further back than this gets `Resync`: the snapshot is then
/// cheaper than the tiles.
const MAX_RESUME_TILES: u64 = 50_000;

/// Placements read from history per request while resuming.
const RESUME_PAGE: usize = 10_000;

/// How long a client is told to wait when the store is unavailable.
const STORE_DOWN_RETRY: Duration = Duration::from_secs(1);

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

struct Connection {
    state: AppState,
    session: SessionId,
    socket: WebSocket,
    frames: broadcast::Receiver<Frame>,
    place_limit: TokenBucket,
    /// Counts this connection against its address's cap while it lives.
    _permit: ConnectionPermit,
    /// When the client last sent anything (a pong included).
    last_heard: Instant,
    /// Tiles up to this seq reach the client some other way (the snapshot it
    /// loads after `Hello`, or the history sent for its `Resume`), so live
    /// frames leave them out: each tile is sent once.
    covered_to: u64,
}

impl Connection {
    fn new(
        state: AppState,
        session: SessionId,
        socket: WebSocket,
        permit: ConnectionPermit,
    ) -> Self {
        // Subscribe before reading the version sent in Hello, so every tile
        // after that version reaches this socket.
        let frames = state.fanout.subscribe();
        let rate = state.config.place_rate_per_sec;
        Self {
            place_limit: TokenBucket::new(rate, rate.saturating_mul(2)),
            state,
            session,
            socket,
            frames,
            _permit: permit,
            last_heard: Instant::now(),
            covered_to: 0,
        }
    }

    async fn run(mut self) {
        let _online = self.state.presence.join();
        let metrics = self.state.metrics.clone();
        metrics.ws_connections.inc();
        let reason = match self.serve().await {
            Ok(()) => DisconnectReason::Closed,
            Err(reason) => reason,
        };
        metrics.ws_connections.dec();
        metrics.disconnect(reason);
        if let Err(error) = self.state.store.touch_session(&self.session).await {
            tracing::debug!(%error, "cannot record the session's last visit");
        }
        tracing::debug!(?reason, session = ?self.session, "websocket closed");
    }

    async fn serve(&mut self) -> Result<(), DisconnectReason> {
        let size = self.state.mirror.size();
        let Version { epoch, seq } = self.state.mirror.version();
        // A client loads a snapshot at least this new after Hello.
        self.covered_to = seq;
        self.send(ServerMessage::Hello(Hello {
            width: size.width,
            height: size.height,
            seq,
            epoch,
            cooldown_ms: self.state.config.cooldown.as_millis() as u32,
        }))
        .await?;
        let online = self.state.presence.online();
        self.send(ServerMessage::Presence { online }).await?;

        let shutdown = self.state.shutdown.clone();
        let ping_interval = self.state.config.ping_interval;
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    return self.close(close_code::AWAY, "server shutting down", DisconnectReason::Shutdown).await;
                }
                _ = heartbeat.tick() => {
                    // A peer that has not answered two pings is gone, even
                    // if TCP has not noticed yet.
                    if self.last_heard.elapsed() >= ping_interval * 2 {
                        return self.close(close_code::AWAY, "heartbeat timeout", DisconnectReason::HeartbeatTimeout).await;
                    }
                    self.send_message(Message::Ping(Bytes::new())).await?;
                }
                incoming = self.socket.recv() => match incoming {
                    Some(Ok(message)) => {
                        self.last_heard = Instant::now();
                        self.on_message(message).await?
                    }
                    Some(Err(_)) | None => return Ok(()),
                },
                frame = self.frames.recv() => match frame {
                    Ok(frame) => self.forward(frame).await?,
                    Err(RecvError::Lagged(_)) => {
                        // Too far behind to catch up from the fan-out: the
                        // client reloads the snapshot instead.
                        self.state.metrics.ws_resyncs.inc();
                        let Version { epoch, seq } = self.state.mirror.version();
                        self.send(ServerMessage::Resync { seq, epoch }).await?;
                    }
                    Err(RecvError::Closed) => return Ok(()),
                },
            }
        }
    }

    async fn on_message(&mut self, message: Message) -> Result<(), DisconnectReason> {
        let data = match message {
            Message::Binary(data) => data,
            Message::Text(_) => {
                return self
                    .refuse(
                        error_code::TEXT_FRAME,
                        "text frames are not part of the protocol",
                        close_code::POLICY,
                    )
                    .await
            }
            Message::Close(_) => return Err(DisconnectReason::Closed),
            // axum answers pings itself.
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
        };
        match ClientMessage::decode(&data) {
            Ok(ClientMessage::Place(tile)) => {
                let result = self.place(tile).await;
                self.send(result).await
            }
            Ok(ClientMessage::Resume { epoch, last_seq }) => self.resume(epoch, last_seq).await,
            Err(error) => {
                let close = match error {
                    DecodeError::TooLarge(_) => close_code::SIZE,
                    _ => close_code::POLICY,
                };
                self.refuse(error.code(), &error.to_string(), close).await
            }
        }
    }

    async fn place(&mut self, tile: Tile) -> ServerMessage {
        let metrics = &self.state.metrics;
        let reply = |status, seq, retry_after: Duration| ServerMessage::PlaceResult {
            status,
            seq,
            retry_after_ms: u32::try_from(retry_after.as_millis()).unwrap_or(u32::MAX),
        };
        if let Err(wait) = self.place_limit.take(Instant::now()) {
            metrics.placement(PlacementResult::RateLimited);
            return reply(PlaceStatus::RateLimited, 0, wait);
        }
        let size = self.state.mirror.size();
        let (Some(coord), Some(color)) =
            (size.coord(tile.x, tile.y), ColorIndex::parse(tile.color))
        else {
            metrics.placement(PlacementResult::Invalid);
            return reply(PlaceStatus::Invalid, 0, Duration::ZERO);
        };
        let placement = Placement {
            coord,
            color,
            session: self.session.clone(),
            at: SystemTime::now(),
        };
        let asked = Instant::now();
        let outcome = self.state.store.place(placement).await;
        metrics
            .placement_duration
            .observe(asked.elapsed().as_secs_f64());
        match outcome {
            Ok(PlaceOutcome::Accepted { seq }) => {
                metrics.placement(PlacementResult::Accepted);
                reply(PlaceStatus::Accepted, seq, Duration::ZERO)
            }
            Ok(PlaceOutcome::Cooldown { retry_after }) => {
                metrics.placement(PlacementResult::Cooldown);
                reply(PlaceStatus::Cooldown, 0, retry_after)
            }
            Err(error) => {
                tracing::warn!(%error, "placement failed");
                metrics.placement(PlacementResult::Error);
                reply(PlaceStatus::NotAllowed, 0, STORE_DOWN_RETRY)
            }
        }
    }

    /// Sends the tiles after `last_seq` from history, or `Resync` when they
    /// cannot all be sent.
    async fn resume(&mut self, epoch: u64, last_seq: u64) -> Result<(), DisconnectReason> {
        let current = self.state.mirror.version();
        if epoch == current.epoch && last_seq == current.seq {
            self.covered_to = last_seq; // nothing missed
            return Ok(());
        }
        // A client ahead of this instance cannot be told which of its tiles
        // are still true (after a failover they may not be): it reloads.
        let bridgeable = epoch == current.epoch
            && last_seq < current.seq
            && current.seq - last_seq <= MAX_RESUME_TILES;
        let mut after = last_seq;
        while bridgeable && after < current.seq {
            match self.state.store.history(epoch, after, RESUME_PAGE).await {
                Ok(Some(updates)) if !updates.is_empty() => {
                    let tiles: Vec<Tile> = updates.iter().map(|u| u.tile).collect();
                    for frame in Frame::tiles(after + 1, &tiles, None) {
                        self.send_bytes(frame.bytes).await?;
                    }
                    after += tiles.len() as u64;
                }
                Ok(Some(_)) => break,
                Ok(None) | Err(_) => {
                    after = 0;
                    break;
                }
            }
        }
        if !bridgeable || after < current.seq {
            let Version { epoch, seq } = self.state.mirror.version();
            return self.send(ServerMessage::Resync { seq, epoch }).await;
        }
        self.covered_to = after;
        Ok(())
    }

    /// Sends a fan-out frame, leaving out the tiles the client has already.
    async fn forward(&mut self, frame: Frame) -> Result<(), DisconnectReason> {
        match frame.seqs {
            Some((_, last)) if last <= self.covered_to => Ok(()),
            Some((first, _)) if first <= self.covered_to => {
                // Partly covered: send the rest (rare: only right after the
                // connection opens or resumes).
                let Ok(ServerMessage::Tiles { tiles, .. }) = ServerMessage::decode(&frame.bytes)
                else {
                    return Ok(());
                };
                let skip = (self.covered_to + 1 - first) as usize;
                for part in Frame::tiles(self.covered_to + 1, &tiles[skip..], None) {
                    self.send_bytes(part.bytes).await?;
                }
                Ok(())
            }
            _ => {
                self.send_bytes(frame.bytes).await?;
                if let Some(placed_at_ms) = frame.placed_at_ms {
                    let now = crate::canvas::unix_ms(SystemTime::now());
                    let lag = now.saturating_sub(placed_at_ms) as f64 / 1000.0;
                    self.state.metrics.delivery_lag.observe(lag);
                }
                Ok(())
            }
        }
    }

    /// Answers a protocol violation with `Error` and closes the socket.
    async fn refuse(
        &mut self,
        code: u16,
        message: &str,
        close: u16,
    ) -> Result<(), DisconnectReason> {
        let error = ServerMessage::Error {
            code,
            message: message.to_owned(),
        };
        self.send(error).await?;
        self.close(close, message, DisconnectReason::ProtocolError)
            .await
    }

    async fn close(
        &mut self,
        code: u16,
        reason: &str,
        why: DisconnectReason,
    ) -> Result<(), DisconnectReason> {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.send_message(Message::Close(Some(frame))).await;
        Err(why)
    }

    async fn send(&mut self, message: ServerMessage) -> Result<(), DisconnectReason> {
        self.send_bytes(message.encode()).await
    }

    async fn send_bytes(&mut self, bytes: Bytes) -> Result<(), DisconnectReason> {
        self.send_message(Message::Binary(bytes)).await
    }

    async fn send_message(&mut self, message: Message) -> Result<(), DisconnectReason> {
        match tokio::time::timeout(self.state.config.send_timeout, self.socket.send(message)).await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(DisconnectReason::Closed),
            Err(_) => Err(DisconnectReason::SlowClient),
        }
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
