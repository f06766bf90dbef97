//! `GET /`: the server-rendered page. The figures it shows come from this
//! instance's mirror, handed to the Leptos tree as context.

use crate::{session::SessionId, state::AppState};
use app::PageData;
use axum::{
    body::Body,
    extract::{Request, State},
    http::header,
    response::Response,
};
use leptos::prelude::provide_context;

pub async fn page(State(state): State<AppState>, request: Request<Body>) -> Response {
    let (_, new_cookie) = SessionId::for_request(request.headers());
    let size = state.mirror.size();
    let data = PageData {
        width: size.width,
        height: size.height,
        seq: state.mirror.version().seq,
        cooldown_ms: state.config.cooldown.as_millis() as u32,
        online: state.presence.online(),
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
