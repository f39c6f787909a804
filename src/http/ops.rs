//! Operational endpoints: liveness, readiness (database answers and is migrated, with this
//! process's roles, channel health and the job backlog) and Prometheus metrics.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use bot_core::health::{ChannelState, Role};
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

/// Ready while the database answers and is migrated (503 otherwise), with details for
/// operators: which single-owner work this process leads or follows, how each delivery
/// channel is doing from here, and the job backlog. A degraded channel keeps the replica
/// ready: taking it out of the load balancer would not mend the provider, and the replica
/// still takes alerts.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let core = &state.core;
    let store = &core.store;
    let (status, database) = match store.ready().await {
        Ok(true) => (StatusCode::OK, "ready"),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "unreachable")
        }
    };
    let jobs = if status == StatusCode::OK {
        match store.counts().await {
            Ok(counts) => {
                let of = |state: &str| {
                    counts
                        .jobs_by_state
                        .iter()
                        .find(|(s, _)| s == state)
                        .map_or(0, |(_, n)| *n)
                };
                json!({
                    "queued": of("queued") - counts.jobs_retrying,
                    "retrying": counts.jobs_retrying,
                    "running": of("running"),
                    "dead": of("dead"),
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "readiness check: could not count jobs");
                serde_json::Value::Null
            }
        }
    } else {
        serde_json::Value::Null
    };
    let roles: serde_json::Map<String, serde_json::Value> = core
        .health
        .roles()
        .into_iter()
        .map(|(work, role)| (work, json!(role.as_str())))
        .collect();
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not ready" },
        "database": { "backend": store.backend(), "state": database },
        "roles": roles,
        "channels": core.health.channels(),
        "jobs": jobs,
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
            metrics::gauge!("tocsin_jobs_retrying").set(counts.jobs_retrying as f64);
            metrics::gauge!("tocsin_store_up").set(1.0);
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: could not read counts from the store");
            metrics::gauge!("tocsin_store_up").set(0.0);
        }
    }
    // This process's own view: its channels as its deliveries found them, and what it leads.
    for (channel, health) in state.core.health.channels() {
        let up = matches!(health.state, ChannelState::Up);
        metrics::gauge!("tocsin_channel_up", "channel" => channel).set(f64::from(u8::from(up)));
    }
    for (work, role) in state.core.health.roles() {
        let leads = matches!(role, Role::Leader);
        metrics::gauge!("tocsin_leader", "work" => work).set(f64::from(u8::from(leads)));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
