//! Signing in and out, and deleting one's account: the OpenID Connect flow
//! of [`crate::signin`], and what it does to the browser's session.
//!
//! A sign-in ends with the browser holding the account's player session:
//! the one it already had, for an account new to the deployment (its name
//! and history become the account's), or the one the account was first
//! linked to on another device (its cooldown, name, figures and bans come
//! along, being keyed by that session).

use super::visitor::{KnownSession, SameSite};
use crate::{
    backend::{BoardStore, StoreError},
    error::ApiError,
    model::SessionId,
    session::forget_cookie,
    signin::{is_local_path, Callback, SignInError, PENDING_COOKIE},
    state::AppState,
};
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension, Form, Json,
};
use std::sync::Arc;

/// Every canvas's boards: a deleted account leaves them all.
#[derive(Clone)]
pub struct AllBoards(pub Arc<Vec<Arc<dyn BoardStore>>>);

/// Why a sign-in route failed: shown to the player as a small page (the
/// browser came here by following a link or a redirect, not from a script).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    SignIn(#[from] SignInError),
    #[error("sign-in is not offered here")]
    NotOffered,
    #[error("the store is unavailable: try again shortly")]
    Store(#[from] StoreError),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::NotOffered | Self::SignIn(SignInError::UnknownProvider) => StatusCode::NOT_FOUND,
            Self::SignIn(
                SignInError::NoSignInStarted
                | SignInError::StateMismatch
                | SignInError::Declined(_)
                | SignInError::TokenRejected(_),
            ) => StatusCode::BAD_REQUEST,
            Self::SignIn(SignInError::Discovery(_) | SignInError::Unreachable(_)) => {
                StatusCode::BAD_GATEWAY
            }
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        tracing::info!(error = %self, "sign-in refused");
        // The message is ours; only the provider's error code (kept to its
        // alphabet) and the verifier's reason ever reach it.
        let message = html_escape(&self.to_string());
        let body = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in refused</title></head>\
             <body><h1>Sign-in refused</h1><p id=\"reason\">{message}</p><p><a href=\"/\">Back to the canvas</a></p></body></html>"
        );
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(serde::Deserialize)]
pub struct Start {
    /// The page to come back to.
    #[serde(rename = "return")]
    back_to: Option<String>,
}

/// `GET /auth/<provider>/login`: off to the provider, with this browser's
/// pending sign-in in a signed cookie.
pub async fn login(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(start): Query<Start>,
    headers: HeaderMap,
) -> Result<Response, AuthError> {
    let sign_in = state.sign_in.as_ref().ok_or(AuthError::NotOffered)?;
    let key = state.sessions.key().await?;
    let back_to = start.back_to.as_deref().unwrap_or("/");
    let started = sign_in.start(&provider, back_to, key, &headers).await?;
    Ok(redirect(&started.authorize_url, [started.cookie]))
}

/// `GET /auth/<provider>/callback`: the provider sends the player back;
/// the browser is handed the account's player session.
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(callback): Query<Callback>,
    headers: HeaderMap,
) -> Result<Response, AuthError> {
    let sign_in = state.sign_in.as_ref().ok_or(AuthError::NotOffered)?;
    let key = state.sessions.key().await?;
    let (account, back_to) = sign_in.finish(&provider, callback, key, &headers).await?;
    let current = key.session(&headers);
    // A session whose account was deleted stays anonymous: an account new
    // to the deployment then starts from a session of its own.
    let candidate = match &current {
        Some(session) if !state.store.is_erased(&session.handle()).await? => session.clone(),
        _ => SessionId::generate(),
    };
    let player = state.store.sign_in(&account, &provider, &candidate).await?;
    tracing::info!(%provider, handle = %player.handle(), "signed in");
    let done = format!("{PENDING_COOKIE}=; Path=/auth; Max-Age=0; HttpOnly; SameSite=Lax");
    let mut cookies = vec![HeaderValue::from_str(&done).expect("ASCII makes a valid header")];
    if current.as_ref() != Some(&player) {
        cookies.push(key.cookie(&player, &headers));
    }
    Ok(redirect(&back_to, cookies))
}

#[derive(serde::Deserialize)]
pub struct Leave {
    #[serde(rename = "return")]
    back_to: Option<String>,
}

/// `POST /auth/logout`: the browser drops its session; its next request is
/// given a new, anonymous one. (The account's other devices stay signed
/// in.)
pub async fn logout(_: SameSite, headers: HeaderMap, Form(leave): Form<Leave>) -> Response {
    redirect(&back_to(leave.back_to), [forget_cookie(&headers)])
}

/// `POST /auth/delete`: deletes the signed-in account and the player's
/// personal data (see `AccountStore::delete_account`), takes the player off
/// every canvas's boards, and signs this browser out.
pub async fn delete(
    State(state): State<AppState>,
    Extension(AllBoards(boards)): Extension<AllBoards>,
    _: SameSite,
    KnownSession(session): KnownSession,
    headers: HeaderMap,
    Form(leave): Form<Leave>,
) -> Result<Response, ApiError> {
    if !state.store.delete_account(&session).await? {
        return Err(ApiError::BadRequest(
            "this browser is not signed in to an account".to_owned(),
        ));
    }
    let handle = session.handle();
    for board in boards.iter() {
        board.forget_player(&handle).await?;
    }
    tracing::info!(%handle, "account deleted");
    Ok(redirect(&back_to(leave.back_to), [forget_cookie(&headers)]))
}

/// `GET /api/account`: the providers offered, and the account this browser
/// is signed in to.
pub async fn account(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let signed_in = match (&state.sign_in, state.sessions.existing(&headers).await) {
        (Some(_), Some(session)) => state.store.linked(&session).await?,
        _ => None,
    };
    let body = account_view(&state, signed_in.map(|linked| linked.provider));
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// What the page and `/api/account` say about sign-in.
pub(super) fn account_view(state: &AppState, provider: Option<String>) -> app::api::Account {
    let providers = state
        .sign_in
        .iter()
        .flat_map(|sign_in| sign_in.providers())
        .map(|(id, name)| app::api::Provider {
            id: id.to_owned(),
            name: name.to_owned(),
        })
        .collect();
    app::api::Account {
        signed_in: provider.map(|provider| app::api::SignedIn {
            provider_name: state
                .sign_in
                .as_ref()
                .and_then(|s| s.provider_name(&provider))
                .unwrap_or(&provider)
                .to_owned(),
            provider,
        }),
        providers,
    }
}

fn back_to(path: Option<String>) -> String {
    path.filter(|path| is_local_path(path))
        .unwrap_or_else(|| "/".to_owned())
}

/// A 303 to `location` setting `cookies`, never cached.
fn redirect(location: &str, cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}
