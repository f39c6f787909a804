//! Inbound alerts: Alertmanager, Grafana and generic webhooks under
//! `/api/v1/integrations/{key}/…`, PagerDuty Events API v2 at `/v2/enqueue`, and heartbeat
//! pings. The integration key in the path (or `routing_key`) is the credential: an unknown
//! key, or a key of another kind of integration, is the same 404, so the answer never
//! tells whether a key exists.
//!
//! Everything an accepted request causes is committed before the 2xx; a refused request
//! (bad key, bad payload, a bad alert anywhere in a batch) writes nothing. When the
//! database is out of reach the answer is 503 with `Retry-After`, which every sender
//! retries, never a 2xx for what was not committed and never a 500.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bot_core::auth::hash_token;
use bot_core::model::{AlertEvent, Heartbeat, IngestOutcome, IngestResult, Integration, Role};
use bot_core::{CoreError, StoreError};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{Caller, body};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/integrations", get(list_integrations))
        .route(
            "/api/v1/integrations/{key}/alertmanager",
            post(alertmanager),
        )
        .route("/api/v1/integrations/{key}/grafana", post(grafana))
        .route("/api/v1/integrations/{key}/generic", post(generic))
        .route("/v2/enqueue", post(pagerduty))
        .route("/api/v1/heartbeats", get(list_heartbeats))
        .route("/api/v1/heartbeats/{key}", get(ping).post(ping))
}

/// How long a sender is asked to wait when the database is out of reach.
const RETRY_AFTER_SECONDS: u64 = 5;

/// An ingest route's refusal: an API error as any route answers it, or the database out
/// of reach (503 with `Retry-After`).
#[derive(Debug)]
pub enum IngestError {
    Api(ApiError),
    Unavailable,
}

impl From<ApiError> for IngestError {
    fn from(e: ApiError) -> Self {
        IngestError::Api(e)
    }
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unreachable: asking the sender to retry");
            IngestError::Unavailable
        } else {
            IngestError::Api(e.into())
        }
    }
}

impl From<CoreError> for IngestError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Store(store) => store.into(),
            other => IngestError::Api(other.into()),
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        match self {
            IngestError::Api(e) => e.into_response(),
            IngestError::Unavailable => {
                let mut response = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unreachable; nothing was stored. Retry later",
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
                response
            }
        }
    }
}

fn unknown_integration() -> ApiError {
    ApiError::not_found("no integration with this key")
}

/// The integration a key opens, if it is of `kind`.
async fn integration(state: &AppState, key: &str, kind: &str) -> Result<Integration, IngestError> {
    match state
        .core
        .store
        .integration_by_key_hash(&hash_token(key))
        .await?
    {
        Some(integration) if integration.kind == kind => Ok(integration),
        _ => Err(unknown_integration().into()),
    }
}

fn payload_error(e: adapters::alerts::PayloadError) -> ApiError {
    let field = e.field.or_else(|| e.index.map(|i| format!("alerts[{i}]")));
    let message = match e.index {
        Some(i) => format!(
            "alert {i} of the batch: {}; nothing was accepted",
            e.message
        ),
        None => e.message,
    };
    let error = ApiError::bad_request(message);
    match field {
        Some(field) => error.with_field(field),
        None => error,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestedAlert {
    /// The alert the event concerned (absent when it named no open alert).
    pub id: Option<String>,
    pub dedup_key: String,
    pub result: IngestResult,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ingested {
    /// `ok`: every event of the request is stored.
    pub status: &'static str,
    pub alerts: Vec<IngestedAlert>,
}

impl From<Vec<IngestOutcome>> for Ingested {
    fn from(outcomes: Vec<IngestOutcome>) -> Self {
        let alerts = outcomes
            .into_iter()
            .map(|o| IngestedAlert {
                id: o.alert.map(|a| a.id.to_string()),
                dedup_key: o.dedup_key,
                result: o.result,
            })
            .collect();
        Ingested {
            status: "ok",
            alerts,
        }
    }
}

async fn ingest(
    state: &AppState,
    key: &str,
    kind: &str,
    bytes: Result<Bytes, BytesRejection>,
    parse: impl FnOnce(&[u8], &Integration) -> Result<Vec<AlertEvent>, ApiError>,
) -> Result<Json<Ingested>, IngestError> {
    let integration = integration(state, key, kind).await?;
    let bytes = body(bytes)?;
    let events = parse(&bytes, &integration)?;
    let outcomes = state.core.ingest(&integration, events).await?;
    Ok(Json(outcomes.into()))
}

/// Prometheus Alertmanager webhook receiver (payload version 4).
#[utoipa::path(post, path = "/api/v1/integrations/{key}/alertmanager", tag = "ingest",
    params(("key" = String, Path, description = "the integration's secret key")),
    request_body(content = Object, description = "Alertmanager webhook payload, version 4"),
    responses((status = 200, body = Ingested), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "the database is unreachable; retry after `Retry-After` seconds")))]
pub async fn alertmanager(
    State(state): State<AppState>,
    Path(key): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Ingested>, IngestError> {
    ingest(&state, &key, "alertmanager", bytes, |b, _| {
        adapters::alerts::alertmanager::parse(b).map_err(payload_error)
    })
    .await
}

/// Grafana unified alerting webhook contact point.
#[utoipa::path(post, path = "/api/v1/integrations/{key}/grafana", tag = "ingest",
    params(("key" = String, Path, description = "the integration's secret key")),
    request_body(content = Object, description = "Grafana webhook payload"),
    responses((status = 200, body = Ingested), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "the database is unreachable; retry after `Retry-After` seconds")))]
pub async fn grafana(
    State(state): State<AppState>,
    Path(key): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Ingested>, IngestError> {
    ingest(&state, &key, "grafana", bytes, |b, _| {
        adapters::alerts::grafana::parse(b).map_err(payload_error)
    })
    .await
}

/// Any JSON webhook, read through the integration's field mapping (JSON pointers).
#[utoipa::path(post, path = "/api/v1/integrations/{key}/generic", tag = "ingest",
    params(("key" = String, Path, description = "the integration's secret key")),
    request_body(content = Object, description = "any JSON; the integration's mapping says where the fields are"),
    responses((status = 200, body = Ingested), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "the database is unreachable; retry after `Retry-After` seconds")))]
pub async fn generic(
    State(state): State<AppState>,
    Path(key): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Ingested>, IngestError> {
    ingest(&state, &key, "generic", bytes, |b, integration| {
        let mapping = integration
            .settings
            .get("mapping")
            .cloned()
            .and_then(|m| serde_json::from_value::<adapters::alerts::generic::Mapping>(m).ok())
            .ok_or_else(|| {
                ApiError::internal(format!(
                    "generic integration {} has no mapping",
                    integration.id
                ))
            })?;
        adapters::alerts::generic::parse(b, &mapping).map_err(payload_error)
    })
    .await
}

/// PagerDuty's own response shapes, so a sender configured for PagerDuty reads ours too.
fn pd_response(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

fn pd_invalid(errors: Vec<String>) -> Response {
    pd_response(
        StatusCode::BAD_REQUEST,
        json!({ "status": "invalid event", "message": "Event object is invalid", "errors": errors }),
    )
}

/// PagerDuty Events API v2, drop-in: `routing_key` is the integration key.
#[utoipa::path(post, path = "/v2/enqueue", tag = "ingest",
    request_body(content = Object, description = "PagerDuty Events API v2 event"),
    responses(
        (status = 202, description = r#"{"status":"success","message":"Event processed","dedup_key":…}"#),
        (status = 400, description = r#"{"status":"invalid event","message":…,"errors":[…]}"#),
        (status = 404, description = "unknown routing key"),
        (status = 413, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "the database is unreachable; retry after `Retry-After` seconds")))]
pub async fn pagerduty(
    State(state): State<AppState>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, IngestError> {
    let bytes = body(bytes)?;
    let event = match adapters::alerts::pagerduty::parse(&bytes) {
        Ok(event) => event,
        Err(invalid) => return Ok(pd_invalid(invalid.errors)),
    };
    let integration = match state
        .core
        .store
        .integration_by_key_hash(&hash_token(&event.routing_key))
        .await?
    {
        Some(i) if i.kind == "pagerduty" => i,
        _ => {
            return Ok(pd_response(
                StatusCode::NOT_FOUND,
                json!({ "status": "invalid event", "message": "Unknown routing key", "errors": ["'routing_key' does not name an integration"] }),
            ));
        }
    };
    let outcomes = state.core.ingest(&integration, vec![event.event]).await?;
    let dedup_key = outcomes.first().map(|o| o.dedup_key.clone());
    Ok(pd_response(
        StatusCode::ACCEPTED,
        json!({ "status": "success", "message": "Event processed", "dedup_key": dedup_key }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HeartbeatStatus {
    #[serde(flatten)]
    pub heartbeat: Heartbeat,
    /// `new` (no ping yet, not late), `up`, or `late` (its alert is open).
    pub state: &'static str,
    /// When it is missed if no ping arrives before.
    pub deadline: chrono::DateTime<chrono::Utc>,
}

async fn status_of(state: &AppState, heartbeat: Heartbeat) -> Result<HeartbeatStatus, IngestError> {
    let late = state
        .core
        .store
        .open_alert_by_key(&heartbeat.service, &heartbeat.dedup_key())
        .await?
        .is_some();
    let state = match (late, heartbeat.last_ping_at) {
        (true, _) => "late",
        (false, Some(_)) => "up",
        (false, None) => "new",
    };
    let deadline = heartbeat.deadline();
    Ok(HeartbeatStatus {
        heartbeat,
        state,
        deadline,
    })
}

/// Ping a heartbeat monitor (GET or POST; the body is ignored).
#[utoipa::path(method(get, post), path = "/api/v1/heartbeats/{key}", tag = "ingest",
    params(("key" = String, Path, description = "the heartbeat's secret key")),
    responses((status = 200, body = HeartbeatStatus), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "the database is unreachable; retry after `Retry-After` seconds")))]
pub async fn ping(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<HeartbeatStatus>, IngestError> {
    let heartbeat = state
        .core
        .store
        .heartbeat_by_key_hash(&hash_token(&key))
        .await?
        .ok_or_else(|| ApiError::not_found("no heartbeat with this key"))?;
    let heartbeat = state.core.ping(&heartbeat).await?;
    Ok(Json(status_of(&state, heartbeat).await?))
}

/// Heartbeat monitors with their last ping and state.
#[utoipa::path(get, path = "/api/v1/heartbeats", tag = "ingest", security(("bearer" = [])),
    responses((status = 200, body = Vec<HeartbeatStatus>), (status = 401, body = ErrorBody)))]
pub async fn list_heartbeats(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<HeartbeatStatus>>, IngestError> {
    caller.require(Role::Viewer)?;
    let mut out = Vec::new();
    for heartbeat in state.core.store.list_heartbeats().await? {
        out.push(status_of(&state, heartbeat).await?);
    }
    Ok(Json(out))
}

/// Alert integrations (without their keys), admin only.
#[utoipa::path(get, path = "/api/v1/integrations", tag = "ingest", security(("bearer" = [])),
    responses((status = 200, body = Vec<Integration>), (status = 403, body = ErrorBody)))]
pub async fn list_integrations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Integration>>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(state.core.store.list_integrations().await?))
}
