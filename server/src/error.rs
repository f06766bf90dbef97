//! The HTTP API's errors. Each maps to a status and a JSON body
//! `{"error": "…"}`; the underlying cause is logged, never sent.

use crate::backend::StoreError;
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid admin token is required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    /// The request names a state the server has moved past (another epoch).
    #[error("{0}")]
    Conflict(&'static str),
    /// What was asked for existed once and is no longer kept.
    #[error("{0}")]
    Gone(&'static str),
    #[error("{0}")]
    TooManyRequests(&'static str),
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("temporarily unavailable")]
    Unavailable(#[source] StoreError),
    /// Unavailable for a reason the client may be told.
    #[error("{0}")]
    Busy(&'static str),
    #[error("the request took too long")]
    Timeout,
}

impl ApiError {
    pub const TOO_MANY_SESSIONS: Self =
        Self::TooManyRequests("too many new sessions from this address");
    pub const SESSIONS_UNAVAILABLE: Self =
        Self::Busy("no new sessions right now: the store is unreachable; try again shortly");
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "request failed: store unavailable");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let body = Json(app::api::Refusal {
            error: self.to_string(),
        });
        let mut response = (status, body).into_response();
        if matches!(self, Self::Unauthorized) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::Unavailable(error)
    }
}
