//! Liveness and readiness, for nginx, compose and orchestrators.

use crate::state::AppState;
use app::api::{Health, Readiness};
use axum::{extract::State, http::StatusCode, Json};
use std::sync::atomic::Ordering;

/// 200 while the process runs.
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// 200 once this instance can serve its page and snapshot: it is
/// listening and has loaded the canvas once. The store's state is reported
/// (`store`, `feed`, and `placing` while both are fine) but never decides
/// readiness: a failover or a hung master would otherwise take every
/// instance out of the load balancer at once, and the canvas would not even
/// be served, when each instance can go on serving it and refuse placements
/// (status 4) until the store is back.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    // Real epochs are never 0; a mirror that could not load starts at 0.
    let loaded = state.mirror.version().epoch != 0;
    let store = state.store.ping().await.is_ok();
    let feed = state.feed_live.load(Ordering::Relaxed);
    let status = if loaded {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready: loaded,
            store,
            feed,
            placing: store && feed,
        }),
    )
}
