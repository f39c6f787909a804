//! Operational endpoints: liveness, readiness (database answers and is migrated) and
//! Prometheus metrics.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let store = &state.core.store;
    let (status, database) = match store.ready().await {
        Ok(true) => (StatusCode::OK, "ready"),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "unreachable")
        }
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not ready" },
        "database": { "backend": store.backend(), "state": database },
    });
    (status, Json(body))
}

/// Gauges that describe stored state (open alerts, incidents, jobs by state) are read from
/// the store at scrape time, so every replica reports the same truth.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match state.core.store.counts().await {
        Ok(counts) => {
            for (status, n) in &counts.alerts_by_status {
                metrics::gauge!("tocsin_alerts", "status" => status.clone()).set(*n as f64);
            }
            for (status, n) in &counts.incidents_by_status {
                metrics::gauge!("tocsin_incidents", "status" => status.clone()).set(*n as f64);
            }
            for (job_state, n) in &counts.jobs_by_state {
                metrics::gauge!("tocsin_jobs", "state" => job_state.clone()).set(*n as f64);
            }
            metrics::gauge!("tocsin_store_up").set(1.0);
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: could not read counts from the store");
            metrics::gauge!("tocsin_store_up").set(0.0);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
