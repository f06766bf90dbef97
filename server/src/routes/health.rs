//! Liveness and readiness, for nginx, compose and orchestrators.

use crate::state::AppState;
use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

/// 200 while the process runs.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 only while placements can be accepted: the store answers and the
/// update feed is current.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let store = state.store.ping().await.is_ok();
    let feed = state.feed_live.load(Ordering::Relaxed);
    let status = if store && feed {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "ready": store && feed, "store": store, "feed": feed })),
    )
}
