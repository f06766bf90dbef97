//! `/metrics` for Prometheus.

use crate::state::AppState;
use axum::{extract::State, http::header, response::IntoResponse};

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
