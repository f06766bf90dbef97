//! Who a request is from, as extractors, so each handler says what it needs
//! in its signature and the checks run in the order the arguments are
//! listed: first whether the request may come from where it comes from
//! ([`AllowedOrigin`], [`SameSite`]), then what it may hold
//! ([`ConnectionSlot`]), and only then a session ([`Visitor`],
//! [`KnownSession`]), so a refused request never spends its address's
//! allowance of new sessions.

use super::origin;
use crate::{
    error::ApiError,
    limits::{client_address, AddressBuckets, ConnectionPermit},
    model::{ClientAddress, SessionId},
    session::NoSession,
    state::AppState,
};
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts, HeaderValue},
    response::Response,
};
use std::{convert::Infallible, net::SocketAddr, time::Instant};

/// The client address of a request: the TCP peer, or behind a trusted proxy
/// the first address of `X-Forwarded-For`.
pub(super) fn address(parts: &Parts, state: &AppState) -> ClientAddress {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer)
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    client_address(&parts.headers, peer, state.config.trust_forwarded_for)
}

/// One of the turns `buckets` allows `address` (what costs the store a
/// lasting write or a read whatever session asks), or 429 with `refusal`.
pub(super) fn take_turn(
    buckets: &AddressBuckets,
    address: ClientAddress,
    refusal: &'static str,
) -> Result<(), ApiError> {
    if buckets.take(address, Instant::now()) {
        Ok(())
    } else {
        Err(ApiError::TooManyRequests(refusal))
    }
}

/// The client address a request comes from.
pub struct Sender(pub ClientAddress);

impl FromRequestParts<AppState> for Sender {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(Self(address(parts, state)))
    }
}

/// A request whose `Origin`, if any, is allowed (403 otherwise).
pub struct AllowedOrigin;

impl FromRequestParts<AppState> for AllowedOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if origin::allowed(&parts.headers, &state.config) {
            Ok(Self)
        } else {
            Err(ApiError::Forbidden("origin not allowed"))
        }
    }
}

/// A state-changing request from this deployment's pages, or from a program
/// (403 otherwise).
pub struct SameSite;

impl FromRequestParts<AppState> for SameSite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if origin::same_site_request(&parts.headers, &state.config) {
            Ok(Self)
        } else {
            Err(ApiError::Forbidden(
                "this is done from the canvas page only",
            ))
        }
    }
}

/// One more WebSocket for the request's address on this instance (429 when
/// it holds its cap, or handshakes faster than `WS_HANDSHAKES_PER_IP`),
/// counted while the permit lives.
pub struct ConnectionSlot {
    pub address: ClientAddress,
    pub permit: ConnectionPermit,
}

impl FromRequestParts<AppState> for ConnectionSlot {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let address = address(parts, state);
        if let Some(handshakes) = &state.handshakes {
            if !handshakes.take(address, std::time::Instant::now()) {
                return Err(ApiError::TooManyRequests(
                    "too many WebSocket handshakes from this address: wait a moment",
                ));
            }
        }
        let permit = state
            .connections
            .try_acquire(address)
            .ok_or(ApiError::TooManyRequests(
                "too many connections from this address",
            ))?;
        Ok(Self { address, permit })
    }
}

/// Whoever sent the request: their session (their cookie's, or a new one
/// made now), or why they have none.
pub struct Visitor {
    pub session: Result<SessionId, NoSession>,
    /// The `Set-Cookie` that hands a new session out.
    new_cookie: Option<HeaderValue>,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let address = address(parts, state);
        let grant = state.sessions.grant(&parts.headers, address).await;
        let (session, new_cookie) = match grant.accepted() {
            Ok((session, cookie)) => (Ok(session), cookie),
            Err(why) => (Err(why), None),
        };
        Ok(Self {
            session,
            new_cookie,
        })
    }
}

impl Visitor {
    /// Whether the session was made for this request.
    pub fn is_new(&self) -> bool {
        self.new_cookie.is_some()
    }

    /// Adds the cookie of a new session to the response.
    pub fn hand_out(&self, response: &mut Response) {
        if let Some(cookie) = &self.new_cookie {
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookie.clone());
        }
    }
}

/// The session a request already has; never makes one (403 without).
pub struct KnownSession(pub SessionId);

impl FromRequestParts<AppState> for KnownSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state
            .sessions
            .existing(&parts.headers)
            .await
            .map(Self)
            .ok_or(ApiError::Forbidden(
                "no session yet: reload the page (with cookies allowed) to set a name",
            ))
    }
}
