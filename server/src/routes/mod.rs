//! The HTTP routes of docs/protocol.md.

mod admin;
mod api;
mod auth;
mod challenge;
mod chunks;
mod factions;
mod health;
mod metrics;
mod origin;
mod page;
mod players;
mod report;
mod templates;
mod visitor;
mod ws;

use crate::{error::ApiError, state::AppState};
use axum::{
    error_handling::HandleErrorLayer,
    http::{header, HeaderName, HeaderValue},
    BoxError,
};
use axum::{
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
    Router,
};
use std::{sync::Arc, time::Instant};
use tower::{timeout::TimeoutLayer, ServiceBuilder};
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer, trace::TraceLayer};

/// The default canvas's routes at `/`, and each other canvas's under
/// `/c/<name>` (the routes of one canvas: its page, socket, reads and
/// moderation; sessions, the challenge and health are the instance's).
pub fn router(state: AppState, canvases: Vec<(String, AppState)>) -> Router {
    let timeout = state.config.request_timeout;
    let all: Vec<(Option<String>, AppState)> = std::iter::once((None, state.clone()))
        .chain(
            canvases
                .iter()
                .map(|(name, c)| (Some(name.clone()), c.clone())),
        )
        .collect();
    let listing = move || {
        let canvases = all
            .iter()
            .map(|(name, canvas)| listed(canvas, name.as_ref()))
            .collect();
        std::future::ready(axum::Json(app::api::Canvases { canvases }))
    };
    let boards = auth::AllBoards(Arc::new(
        std::iter::once(&state)
            .chain(canvases.iter().map(|(_, canvas)| canvas))
            .map(|canvas| -> Arc<dyn crate::backend::BoardStore> { canvas.store.clone() })
            .collect(),
    ));
    let mut router = routes(state)
        .route("/api/canvases", get(listing))
        .layer(axum::Extension(boards));
    for (name, canvas) in canvases {
        let routes = canvas_routes(Router::new())
            .route_layer(middleware::from_fn_with_state(
                canvas.clone(),
                count_request,
            ))
            .with_state(canvas);
        router = router.nest(&format!("/c/{name}"), routes);
    }
    with_security_headers(router).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(|_: BoxError| async {
                ApiError::Timeout
            }))
            .layer(TimeoutLayer::new(timeout)),
    )
}

/// A canvas as `/api/canvases` lists it.
fn listed(state: &AppState, name: Option<&String>) -> app::api::CanvasListed {
    let size = state.mirror.size();
    app::api::CanvasListed {
        name: name.map_or("default", String::as_str).to_owned(),
        path: name.map_or_else(|| "/".to_owned(), |name| format!("/c/{name}")),
        width: size.width,
        height: size.height,
        cooldown_ms: state.config.cooldown.as_millis() as u64,
    }
}

/// What each canvas serves under its path.
fn canvas_routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/", get(page::page))
        .route("/admin", get(page::admin))
        .route("/players/{handle}", get(page::player))
        .route("/api/leaderboard", get(players::leaderboard))
        .route("/api/players/{handle}", get(players::player))
        .route("/api/factions/leaderboard", get(factions::leaderboard))
        .route(
            "/api/templates",
            get(templates::list)
                .post(templates::register)
                .layer(DefaultBodyLimit::max(96 * 1024)),
        )
        .route("/api/templates/{id}", get(templates::progress))
        .route(
            "/api/templates/{id}/remove",
            post(templates::remove).layer(DefaultBodyLimit::max(1024)),
        )
        .route("/api/info", get(api::info))
        .route("/api/canvas", get(api::canvas))
        .route("/api/canvas.png", get(api::canvas_png))
        .route("/api/chunks/{cx}/{cy}", get(chunks::current))
        .route("/api/chunks/{cx}/{cy}/heat.png", get(chunks::heat))
        .route(
            "/api/chunks/{cx}/{cy}/snapshots/{file}",
            get(chunks::archived_png),
        )
        .route(
            "/api/chunks/{cx}/{cy}/{epoch}/{version}",
            get(chunks::versioned),
        )
        .route("/api/view.png", get(chunks::view_png))
        .route(
            "/api/report",
            post(report::report).layer(DefaultBodyLimit::max(1024)),
        )
        .route(
            "/api/chat/report",
            post(report::chat).layer(DefaultBodyLimit::max(1024)),
        )
        .route("/api/preview.png", get(chunks::preview_png))
        .route("/api/pixel", get(api::pixel))
        .route("/api/heatmap.png", get(api::heatmap_png))
        .route("/api/placements", get(api::placements))
        .route("/api/snapshots", get(api::archive))
        .route("/api/snapshots/{file}", get(api::archived_png))
        .nest("/api/admin", admin_routes())
        .route("/ws", get(ws::upgrade))
}

/// `/metrics` alone, for its own listener (`METRICS_PORT`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
}

fn routes(state: AppState) -> Router {
    // With a listener of its own, /metrics is not on the public port.
    let metrics_here = state.config.metrics_listen.is_none();
    // Files cargo-leptos built (the WASM bundle, CSS) and `public/`; anything
    // else is a JSON 404.
    let files = ServeDir::new(&*state.config.leptos.site_root).fallback(
        axum::handler::HandlerWithoutStateExt::into_service(not_found),
    );
    let router = canvas_routes(Router::new())
        .route(
            "/api/name",
            post(api::set_name).layer(DefaultBodyLimit::max(1024)),
        )
        .route(
            "/api/challenge",
            get(challenge::puzzle)
                .post(challenge::answer)
                .layer(DefaultBodyLimit::max(1024)),
        )
        .route("/api/account", get(auth::account))
        .merge(faction_routes())
        .route("/auth/{provider}/login", get(auth::login))
        .route("/auth/{provider}/callback", get(auth::callback))
        .route(
            "/auth/logout",
            post(auth::logout).layer(DefaultBodyLimit::max(1024)),
        )
        .route(
            "/auth/delete",
            post(auth::delete).layer(DefaultBodyLimit::max(1024)),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    let router = if metrics_here {
        router.route("/metrics", get(metrics::metrics))
    } else {
        router
    };
    router
        .route_layer(middleware::from_fn_with_state(state.clone(), count_request))
        .fallback_service(files)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The factions' routes (the deployment's, as players are): small JSON
/// bodies only.
fn faction_routes() -> Router<AppState> {
    Router::new()
        .route("/api/factions", post(factions::create))
        .route("/api/factions/mine", get(factions::mine))
        .route("/api/factions/join", post(factions::join))
        .route("/api/factions/leave", post(factions::leave))
        .route("/api/factions/{id}", get(factions::show))
        .route("/api/factions/{id}/invites", post(factions::invite))
        .route(
            "/api/factions/{id}/invites/revoke",
            post(factions::revoke_invitations),
        )
        .route(
            "/api/factions/{id}/members/{handle}",
            post(factions::set_role),
        )
        .layer(DefaultBodyLimit::max(1024))
}

/// The moderators' routes: small JSON bodies only.
fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/status", get(admin::status))
        .route("/freeze", post(admin::freeze))
        .route("/grow", post(admin::grow))
        .route("/fill", post(admin::fill))
        .route("/rollback", post(admin::rollback))
        .route("/ban", post(admin::ban))
        .route("/unban", post(admin::unban))
        .route("/chat", get(admin::chat))
        .route("/chat/remove", post(admin::remove_chat))
        .route("/chat/mute", post(admin::mute))
        .route("/chat/unmute", post(admin::unmute))
        .route("/pixel", get(admin::pixel))
        .route("/audit", get(admin::audit))
        .route("/reports", get(admin::reports))
        .route("/reports/resolve", post(admin::resolve_report))
        .layer(DefaultBodyLimit::max(1024))
}

/// Headers every response carries, with or without a proxy in front: no
/// MIME sniffing, no framing (clickjacking), no referrer to other sites, no
/// access to devices. (The page adds its Content-Security-Policy itself.)
fn with_security_headers(router: Router) -> Router {
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    router
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(
            header::REFERRER_POLICY,
            "strict-origin-when-cross-origin",
        ))
        .layer(header(
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ))
}

/// Counts and times each request by its route pattern and status.
async fn count_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    state
        .metrics
        .http_request(&route, response.status().as_u16(), seconds);
    response
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
