//! REST API under `/api/v1`: incidents, their updates and timeline, alerts, services,
//! users and jobs. Bearer tokens decide the role; handlers are thin over `bot_core::Core`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use bot_core::model::{
    Alert, AlertFilter, AlertId, AlertStatus, Incident, IncidentChange, IncidentFilter, IncidentId,
    IncidentStatus, Job, JobState, Role, Service, ServiceId, Severity, StatusUpdate, Subject,
    TimelineEntry, User, UserId, Visibility,
};
use bot_core::ops::Declare;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiQuery, Caller};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/incidents",
            post(create_incident).get(list_incidents),
        )
        .route(
            "/api/v1/incidents/{id}",
            get(get_incident).patch(patch_incident),
        )
        .route(
            "/api/v1/incidents/{id}/updates",
            post(post_update).get(list_updates),
        )
        .route(
            "/api/v1/incidents/{id}/timeline",
            post(add_timeline).get(incident_timeline),
        )
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/alerts/{id}", get(get_alert))
        .route("/api/v1/alerts/{id}/ack", post(ack_alert))
        .route("/api/v1/alerts/{id}/resolve", post(resolve_alert))
        .route("/api/v1/alerts/{id}/timeline", get(alert_timeline))
        .route("/api/v1/services", get(list_services))
        .route("/api/v1/services/{id}", get(get_service))
        .route("/api/v1/users", get(list_users))
        .route("/api/v1/users/{id}", get(get_user))
        .route("/api/v1/jobs", get(list_jobs))
        .route("/api/v1/audit", get(audit_log))
        .route("/api/v1/action-runs/{id}", get(get_action_run))
}

const MAX_PAGE: i64 = 100;
const DEFAULT_PAGE: i64 = 25;

fn page_size(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(
            ApiError::unprocessable(format!("limit must be between 1 and {MAX_PAGE}"))
                .with_field("limit"),
        ),
    }
}

/// The incident a path names: its UUID, its number, or `INC-<number>`; 404 otherwise.
pub(super) async fn find_incident(state: &AppState, id: &str) -> Result<Incident, ApiError> {
    if let Ok(uuid) = id.parse::<IncidentId>() {
        return Ok(state.core.store.get_incident(uuid).await?);
    }
    let number = id
        .strip_prefix("INC-")
        .unwrap_or(id)
        .parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("incident {id} not found")))?;
    Ok(state.core.store.get_incident_by_number(number).await?)
}

fn alert_id(id: &str) -> Result<AlertId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("alert {id} not found")))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIncident {
    #[schema(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", max_length = 200)]
    pub title: String,
    pub severity: Severity,
    #[serde(default)]
    pub services: Vec<ServiceId>,
    pub commander: Option<UserId>,
    /// Alerts to link to the incident.
    #[serde(default)]
    pub alerts: Vec<AlertId>,
    /// What is known so far; recorded with the declaration.
    #[serde(default)]
    pub description: Option<String>,
}

/// Declare an incident. Send `Idempotency-Key` to make retries safe: a second request with
/// the same key returns the incident the first created.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = CreateIncident,
    security(("bearer" = [])),
    responses((status = 201, body = Incident), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "an alert to link does not exist"),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_incident(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<CreateIncident>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Responder)?;
    // `Idempotency-Key`: a client retrying a declare gets the incident its first try made.
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "Idempotency-Key must be 1 to 255 visible ASCII characters",
                    )
                })?;
            Some(format!("api:{}:{key}", caller.actor))
        }
    };
    let incident = state
        .core
        .declare(
            &caller.actor,
            Declare {
                title: body.title,
                severity: body.severity,
                services: body.services,
                commander: body.commander,
                alerts: body.alerts,
                idempotency_key,
                description: body.description,
            },
        )
        .await?;
    let location = format!("/api/v1/incidents/{}", incident.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(incident),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    pub status: Option<IncidentStatus>,
    pub severity: Option<Severity>,
    /// Only incidents that are not resolved.
    pub open: Option<bool>,
    /// Page size, 1..=100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Cursor: incidents numbered below this (the previous page's `next_before`).
    pub before: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentPage {
    pub incidents: Vec<Incident>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<i64>,
}

/// List incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentQuery),
    security(("bearer" = [])),
    responses((status = 200, body = IncidentPage), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list_incidents(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> Result<Json<IncidentPage>, ApiError> {
    caller.require(Role::Viewer)?;
    let limit = page_size(q.limit)?;
    let filter = IncidentFilter {
        status: q.status,
        severity: q.severity,
        open_only: q.open.unwrap_or(false),
        before_number: q.before,
        limit,
    };
    let incidents = state.core.store.list_incidents(&filter).await?;
    let next_before = (incidents.len() as i64 == limit)
        .then(|| incidents.last().map(|i| i.number))
        .flatten();
    Ok(Json(IncidentPage {
        incidents,
        next_before,
    }))
}

/// One incident, by id or number.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "incident UUID or number")),
    security(("bearer" = [])),
    responses((status = 200, body = Incident), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Incident>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(find_incident(&state, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchIncident {
    pub status: Option<IncidentStatus>,
    pub severity: Option<Severity>,
    #[schema(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", max_length = 200)]
    pub title: Option<String>,
    pub commander: Option<UserId>,
    pub communications_lead: Option<UserId>,
    #[serde(default)]
    pub add_responders: Vec<UserId>,
    #[serde(default)]
    pub add_services: Vec<ServiceId>,
}

/// Change status, severity, title or roles; all changes apply together or none does.
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "incident UUID or number")),
    request_body = PatchIncident, security(("bearer" = [])),
    responses((status = 200, body = Incident), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "illegal transition, e.g. already resolved"),
        (status = 422, body = ErrorBody)))]
pub async fn patch_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchIncident>,
) -> Result<Json<Incident>, ApiError> {
    caller.require(Role::Responder)?;
    if body.commander.is_some() || body.communications_lead.is_some() {
        caller.require(Role::Commander)?;
    }
    let incident = find_incident(&state, &id).await?;
    let mut changes = Vec::new();
    changes.extend(body.title.map(IncidentChange::Title));
    changes.extend(body.severity.map(IncidentChange::Severity));
    changes.extend(body.commander.map(IncidentChange::Commander));
    changes.extend(
        body.communications_lead
            .map(IncidentChange::CommunicationsLead),
    );
    changes.extend(
        body.add_responders
            .into_iter()
            .map(IncidentChange::AddResponder),
    );
    changes.extend(
        body.add_services
            .into_iter()
            .map(IncidentChange::AddService),
    );
    // Status last: resolving in the same request as other changes applies them first.
    changes.extend(body.status.map(IncidentChange::Status));
    Ok(Json(
        state
            .core
            .change(&caller.actor, incident.id, changes)
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostUpdate {
    #[schema(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", max_length = 4000)]
    pub text: String,
    #[serde(default)]
    pub visibility: Visibility,
}

/// Post a status update.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/updates", tag = "incidents",
    params(("id" = String, Path, description = "incident UUID or number")),
    request_body = PostUpdate, security(("bearer" = [])),
    responses((status = 201, body = StatusUpdate), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn post_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PostUpdate>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Responder)?;
    let incident = find_incident(&state, &id).await?;
    let update = state
        .core
        .post_update(&caller.actor, incident.id, &body.text, body.visibility)
        .await?;
    Ok((StatusCode::CREATED, Json(update)))
}

/// The incident's status updates, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/updates", tag = "incidents",
    params(("id" = String, Path, description = "incident UUID or number")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<StatusUpdate>), (status = 404, body = ErrorBody)))]
pub async fn list_updates(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<StatusUpdate>>, ApiError> {
    caller.require(Role::Viewer)?;
    let incident = find_incident(&state, &id).await?;
    Ok(Json(state.core.store.status_updates(incident.id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTimeline {
    #[schema(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", max_length = 4000)]
    pub text: String,
}

/// Add a note to the incident's timeline.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/timeline", tag = "incidents",
    params(("id" = String, Path, description = "incident UUID or number")),
    request_body = AddTimeline, security(("bearer" = [])),
    responses((status = 201, body = TimelineEntry), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn add_timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddTimeline>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Responder)?;
    let incident = find_incident(&state, &id).await?;
    let entry = state
        .core
        .add_note(&caller.actor, incident.id, &body.text)
        .await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// The incident's timeline, oldest first.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/timeline", tag = "incidents",
    params(("id" = String, Path, description = "incident UUID or number")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<TimelineEntry>), (status = 404, body = ErrorBody)))]
pub async fn incident_timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<TimelineEntry>>, ApiError> {
    caller.require(Role::Viewer)?;
    let incident = find_incident(&state, &id).await?;
    Ok(Json(
        state
            .core
            .store
            .timeline(Subject::Incident(incident.id))
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    pub status: Option<AlertStatus>,
    pub service: Option<ServiceId>,
    /// Page size, 1..=100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Cursor: alerts older than this id (the previous page's `next_before`).
    pub before: Option<AlertId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    pub alerts: Vec<Alert>,
    pub next_before: Option<AlertId>,
}

/// List alerts, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertQuery),
    security(("bearer" = [])),
    responses((status = 200, body = AlertPage), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> Result<Json<AlertPage>, ApiError> {
    caller.require(Role::Viewer)?;
    let limit = page_size(q.limit)?;
    let filter = AlertFilter {
        status: q.status,
        service: q.service,
        limit,
        before: q.before,
    };
    let alerts = state.core.store.list_alerts(&filter).await?;
    let next_before = (alerts.len() as i64 == limit)
        .then(|| alerts.last().map(|a| a.id))
        .flatten();
    Ok(Json(AlertPage {
        alerts,
        next_before,
    }))
}

/// One alert.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts",
    params(("id" = String, Path, description = "alert UUID")), security(("bearer" = [])),
    responses((status = 200, body = Alert), (status = 404, body = ErrorBody)))]
pub async fn get_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Alert>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(state.core.store.get_alert(alert_id(&id)?).await?))
}

/// Acknowledge an alert: stops its escalation.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/ack", tag = "alerts",
    params(("id" = String, Path, description = "alert UUID")), security(("bearer" = [])),
    responses((status = 200, body = Alert), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "already acknowledged or resolved")))]
pub async fn ack_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Alert>, ApiError> {
    caller.require(Role::Responder)?;
    Ok(Json(
        state
            .core
            .acknowledge_alert(&caller.actor, alert_id(&id)?)
            .await?,
    ))
}

/// Resolve an alert.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/resolve", tag = "alerts",
    params(("id" = String, Path, description = "alert UUID")), security(("bearer" = [])),
    responses((status = 200, body = Alert), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resolve_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Alert>, ApiError> {
    caller.require(Role::Responder)?;
    Ok(Json(
        state
            .core
            .resolve_alert(&caller.actor, alert_id(&id)?)
            .await?,
    ))
}

/// The alert's timeline, oldest first.
#[utoipa::path(get, path = "/api/v1/alerts/{id}/timeline", tag = "alerts",
    params(("id" = String, Path, description = "alert UUID")), security(("bearer" = [])),
    responses((status = 200, body = Vec<TimelineEntry>), (status = 404, body = ErrorBody)))]
pub async fn alert_timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<TimelineEntry>>, ApiError> {
    caller.require(Role::Viewer)?;
    let alert = state.core.store.get_alert(alert_id(&id)?).await?;
    Ok(Json(
        state.core.store.timeline(Subject::Alert(alert.id)).await?,
    ))
}

/// Services, as declared in tocsin.toml.
#[utoipa::path(get, path = "/api/v1/services", tag = "directory", security(("bearer" = [])),
    responses((status = 200, body = Vec<Service>)))]
pub async fn list_services(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Service>>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(state.core.store.list_services().await?))
}

/// One service.
#[utoipa::path(get, path = "/api/v1/services/{id}", tag = "directory",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Service), (status = 404, body = ErrorBody)))]
pub async fn get_service(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Service>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(state.core.store.get_service(&ServiceId(id)).await?))
}

/// Users, as declared in tocsin.toml.
#[utoipa::path(get, path = "/api/v1/users", tag = "directory", security(("bearer" = [])),
    responses((status = 200, body = Vec<User>)))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<User>>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(state.core.store.list_users().await?))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "directory",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(state.core.store.get_user(&UserId(id)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// `queued`, `running`, `done` or `dead`.
    pub state: Option<JobState>,
    /// Page size, 1..=100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// Durable jobs, most recently changed first; `?state=dead` shows what gave up (admin).
#[utoipa::path(get, path = "/api/v1/jobs", tag = "operations", params(JobQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Job>), (status = 403, body = ErrorBody)))]
pub async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> Result<Json<Vec<Job>>, ApiError> {
    caller.require(Role::Admin)?;
    let limit = page_size(q.limit)?;
    Ok(Json(state.core.store.list_jobs(q.state, limit).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Page size, 1..=100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// The audit log, newest first: every action and revert asked for, refused, confirmed,
/// and finished, with who and the arguments (admin).
#[utoipa::path(get, path = "/api/v1/audit", tag = "operations", params(AuditQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<bot_core::model::AuditEntry>), (status = 403, body = ErrorBody)))]
pub async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<bot_core::model::AuditEntry>>, ApiError> {
    caller.require(Role::Admin)?;
    let limit = page_size(q.limit)?;
    Ok(Json(state.core.store.audit_log(limit).await?))
}

/// One action run: its state and result.
#[utoipa::path(get, path = "/api/v1/action-runs/{id}", tag = "operations",
    params(("id" = uuid::Uuid, Path, description = "the run's id")),
    security(("bearer" = [])),
    responses((status = 200, body = bot_core::model::ActionRun), (status = 404, body = ErrorBody)))]
pub async fn get_action_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<bot_core::model::ActionRun>, ApiError> {
    caller.require(Role::Viewer)?;
    let id: uuid::Uuid = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("no action run `{id}`")))?;
    Ok(Json(state.core.store.get_action_run(id).await?))
}
