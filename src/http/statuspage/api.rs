//! The status page over REST, under `/api/v1/statuspage`: components and their states,
//! public incidents and their updates, scheduled maintenance, and subscribers.
//!
//! Who may do what, as on the chat side (`/incident statuspage` needs a responder):
//!
//! - reading components, incidents and maintenance: any token (viewer and up); all of it
//!   is public on the page anyway;
//! - changing what the page says (component states, opening and updating public incidents,
//!   scheduling maintenance): responder and up, the people who run incidents, as in
//!   incident.io and PagerDuty where responders publish status updates;
//! - subscribers, read or written: admin only. They are customers' e-mail addresses and
//!   URLs Tocsin will POST to, neither of which a responder needs.
//!
//! An e-mail subscriber added here gets the same double opt-in mail as one from the public
//! form, unless the request says `"confirmed": true` (an administrator importing a list
//! people opted in to elsewhere). Webhook subscribers are confirmed at once. Chat channels
//! subscribe from chat (`/incident statuspage subscribe`), not here.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use bot_core::model::{
    Component, ComponentStatus, Impact, IncidentId, PublicFilter, PublicIncident, PublicKind,
    PublicStatus, Role, Subscriber, SubscriberKind,
};
use bot_core::statuspage::{OpenPublic, PublicChange, ScheduleMaintenance};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiJson, ApiQuery, Caller};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/statuspage/components", get(list_components))
        .route("/api/v1/statuspage/components/{id}", patch(patch_component))
        .route(
            "/api/v1/statuspage/incidents",
            get(list_incidents).post(open_incident),
        )
        .route("/api/v1/statuspage/incidents/{id}", get(get_incident))
        .route(
            "/api/v1/statuspage/incidents/{id}/updates",
            post(post_update),
        )
        .route(
            "/api/v1/statuspage/maintenances",
            get(list_maintenances).post(schedule_maintenance),
        )
        .route(
            "/api/v1/statuspage/subscribers",
            get(list_subscribers).post(add_subscriber),
        )
        .route(
            "/api/v1/statuspage/subscribers/{id}",
            delete(remove_subscriber),
        )
}

const MAX_PAGE: i64 = 100;
const DEFAULT_PAGE: i64 = 25;

fn record_id(id: &str) -> Result<Uuid, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found(format!("public incident {id} not found")))
}

// ---------------------------------------------------------------------------------------
// Components

/// Every configured component with its current state, in display order.
#[utoipa::path(get, path = "/api/v1/statuspage/components", tag = "status page",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Component>), (status = 401, body = ErrorBody)))]
pub async fn list_components(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Component>>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(state.core.status_components().await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchComponent {
    pub status: ComponentStatus,
}

/// Set a component's state outside any public incident; subscribers are told when it
/// changes.
#[utoipa::path(patch, path = "/api/v1/statuspage/components/{id}", tag = "status page",
    params(("id" = String, Path, description = "component id, as in tocsin.toml")),
    request_body = PatchComponent, security(("bearer" = [])),
    responses((status = 200, body = Component), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "unknown state; the message names the valid ones")))]
pub async fn patch_component(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchComponent>,
) -> Result<Json<Component>, ApiError> {
    caller.require(Role::Responder)?;
    let settings = &state.core.settings.status_page;
    if settings.component(&id).is_none() {
        let valid: Vec<&str> = settings.components.iter().map(|c| c.id.as_str()).collect();
        return Err(ApiError::not_found(format!(
            "component {id} not found; the components are: {}",
            valid.join(", ")
        )));
    }
    state
        .core
        .set_component_states(&caller.actor, vec![(id.clone(), body.status)])
        .await?;
    let component = state
        .core
        .status_components()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::not_found(format!("component {id} not found")))?;
    Ok(Json(component))
}

// ---------------------------------------------------------------------------------------
// Public incidents and maintenance

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    /// Only records in this status.
    pub status: Option<PublicStatus>,
    /// Page size, 1..=100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// How many to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl RecordQuery {
    fn filter(self, kind: PublicKind) -> Result<PublicFilter, ApiError> {
        let limit = match self.limit {
            None => DEFAULT_PAGE,
            Some(n) if (1..=MAX_PAGE).contains(&n) => n,
            Some(_) => {
                return Err(ApiError::unprocessable(format!(
                    "limit must be between 1 and {MAX_PAGE}"
                ))
                .with_field("limit"));
            }
        };
        let offset = match self.offset {
            None => 0,
            Some(n) if n >= 0 => n,
            Some(_) => {
                return Err(
                    ApiError::unprocessable("offset must not be negative").with_field("offset")
                );
            }
        };
        Ok(PublicFilter {
            kind: Some(kind),
            statuses: self.status.into_iter().collect(),
            limit,
            offset,
        })
    }
}

/// A page of public records, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicIncidentPage {
    pub records: Vec<PublicIncident>,
    /// How many match, over all pages.
    pub total: i64,
}

async fn list(state: &AppState, filter: PublicFilter) -> Result<PublicIncidentPage, ApiError> {
    let store = &state.core.store;
    Ok(PublicIncidentPage {
        records: store.list_public_incidents(&filter).await?,
        total: store.count_public_incidents(&filter).await?,
    })
}

/// Public incidents, newest first, with their updates.
#[utoipa::path(get, path = "/api/v1/statuspage/incidents", tag = "status page",
    params(RecordQuery), security(("bearer" = [])),
    responses((status = 200, body = PublicIncidentPage), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list_incidents(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> Result<Json<PublicIncidentPage>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(list(&state, q.filter(PublicKind::Incident)?).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenIncident {
    /// The public title: what customers see, not the internal one.
    #[schema(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", max_length = 200)]
    pub name: String,
    /// The first update's text.
    #[schema(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", max_length = 4000)]
    pub body: String,
    pub impact: Impact,
    /// Default `investigating`.
    pub status: Option<PublicStatus>,
    /// Component ids it concerns.
    #[serde(default)]
    pub components: Vec<String>,
    /// The state to put `components` in; default the one `impact` calls for (critical:
    /// major outage, major: partial outage, minor: degraded performance).
    pub component_status: Option<ComponentStatus>,
    /// The internal incident it speaks for: its UUID or number.
    #[schema(value_type = Option<String>)]
    pub incident_id: Option<serde_json::Value>,
}

/// The internal incident a body names by UUID or number (`12`, `"12"`, `"INC-12"`).
async fn linked_incident(
    state: &AppState,
    id: Option<serde_json::Value>,
) -> Result<Option<IncidentId>, ApiError> {
    let Some(id) = id else { return Ok(None) };
    let unknown =
        || ApiError::unprocessable(format!("incident {id} not found")).with_field("incident_id");
    let text = match &id {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return Err(unknown()),
    };
    let store = &state.core.store;
    let found = if let Ok(uuid) = text.parse::<IncidentId>() {
        store.get_incident(uuid).await
    } else {
        let number = text
            .strip_prefix("INC-")
            .unwrap_or(&text)
            .parse::<i64>()
            .map_err(|_| unknown())?;
        store.get_incident_by_number(number).await
    };
    match found {
        Ok(incident) => Ok(Some(incident.id)),
        Err(bot_core::StoreError::NotFound(_)) => Err(unknown()),
        Err(e) => Err(e.into()),
    }
}

/// Open a public incident with its first update; subscribers are told.
#[utoipa::path(post, path = "/api/v1/statuspage/incidents", tag = "status page",
    request_body = OpenIncident, security(("bearer" = [])),
    responses((status = 201, body = PublicIncident), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the internal incident has a public incident already"),
        (status = 422, body = ErrorBody)))]
pub async fn open_incident(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<OpenIncident>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Responder)?;
    let incident_id = linked_incident(&state, body.incident_id).await?;
    let record = state
        .core
        .open_public_incident(
            &caller.actor,
            OpenPublic {
                incident_id,
                name: body.name,
                impact: body.impact,
                status: body.status.unwrap_or(PublicStatus::Investigating),
                body: body.body,
                components: body.components,
                component_status: body.component_status,
            },
        )
        .await?;
    Ok(created(&record))
}

fn created(record: &PublicIncident) -> axum::response::Response {
    (
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/statuspage/incidents/{}", record.id),
        )],
        Json(record),
    )
        .into_response()
}

/// One public incident or maintenance, with its updates newest first.
#[utoipa::path(get, path = "/api/v1/statuspage/incidents/{id}", tag = "status page",
    params(("id" = String, Path, description = "public incident or maintenance UUID")),
    security(("bearer" = [])),
    responses((status = 200, body = PublicIncident), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PublicIncident>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(
        state
            .core
            .store
            .get_public_incident(record_id(&id)?)
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostPublicUpdate {
    #[schema(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", max_length = 4000)]
    pub body: String,
    /// The status it moves to; absent: stays (an update of words only). Closing it
    /// (resolved, completed) returns its components to operational unless `components`
    /// says otherwise.
    pub status: Option<PublicStatus>,
    pub impact: Option<Impact>,
    /// Component states to set with it, by component id: `{"checkout": "operational"}`.
    #[serde(default)]
    pub components: BTreeMap<String, ComponentStatus>,
}

/// Add an update to a public incident or maintenance; subscribers are told.
#[utoipa::path(post, path = "/api/v1/statuspage/incidents/{id}/updates", tag = "status page",
    params(("id" = String, Path, description = "public incident or maintenance UUID")),
    request_body = PostPublicUpdate, security(("bearer" = [])),
    responses((status = 201, body = PublicIncident, description = "the record, the new update first"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the record is closed"),
        (status = 422, body = ErrorBody)))]
pub async fn post_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PostPublicUpdate>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Responder)?;
    let id = record_id(&id)?;
    let record = state
        .core
        .update_public_incident(
            &caller.actor,
            id,
            PublicChange {
                status: body.status,
                body: body.body,
                impact: body.impact,
                component_changes: body.components.into_iter().collect(),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Scheduled maintenance, newest window first.
#[utoipa::path(get, path = "/api/v1/statuspage/maintenances", tag = "status page",
    params(RecordQuery), security(("bearer" = [])),
    responses((status = 200, body = PublicIncidentPage), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list_maintenances(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> Result<Json<PublicIncidentPage>, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(Json(
        list(&state, q.filter(PublicKind::Maintenance)?).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMaintenance {
    #[schema(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", max_length = 200)]
    pub name: String,
    /// The announcement's text.
    #[schema(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", max_length = 4000)]
    pub body: String,
    #[serde(default)]
    pub components: Vec<String>,
    /// RFC 3339.
    pub starts: DateTime<Utc>,
    /// RFC 3339; after `starts`, and not past.
    pub ends: DateTime<Utc>,
}

/// Announce a maintenance window; it starts (components under maintenance) and completes
/// (components operational) by itself at its times. Updates go to
/// `/api/v1/statuspage/incidents/{id}/updates`.
#[utoipa::path(post, path = "/api/v1/statuspage/maintenances", tag = "status page",
    request_body = NewMaintenance, security(("bearer" = [])),
    responses((status = 201, body = PublicIncident), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn schedule_maintenance(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewMaintenance>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Responder)?;
    let record = state
        .core
        .schedule_maintenance(
            &caller.actor,
            ScheduleMaintenance {
                name: body.name,
                body: body.body,
                components: body.components,
                starts: body.starts,
                ends: body.ends,
            },
        )
        .await?;
    Ok(created(&record))
}

// ---------------------------------------------------------------------------------------
// Subscribers

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubscriberQuery {
    /// Only confirmed subscribers (those who are told).
    pub confirmed: Option<bool>,
}

/// Every subscriber, oldest first.
#[utoipa::path(get, path = "/api/v1/statuspage/subscribers", tag = "status page",
    params(SubscriberQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<Subscriber>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn list_subscribers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SubscriberQuery>,
) -> Result<Json<Vec<Subscriber>>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(
        state
            .core
            .store
            .list_subscribers(q.confirmed.unwrap_or(false))
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscriberBody {
    /// `email` or `webhook`.
    pub kind: SubscriberKind,
    /// The address or the URL.
    pub target: String,
    /// Only updates touching these components (absent or empty: all).
    #[serde(default)]
    pub components: Vec<String>,
    /// E-mail only: skip the double opt-in (default false: the address is sent a
    /// confirmation link and told nothing else until it is followed).
    #[serde(default)]
    pub confirmed: bool,
}

/// Add an e-mail or webhook subscriber. 201 when added; 200 with the existing one when the
/// address or URL was subscribed already (its component list is kept).
#[utoipa::path(post, path = "/api/v1/statuspage/subscribers", tag = "status page",
    request_body = NewSubscriberBody, security(("bearer" = [])),
    responses((status = 201, body = Subscriber), (status = 200, body = Subscriber),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn add_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewSubscriberBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Admin)?;
    let (subscriber, created) = match body.kind {
        SubscriberKind::Email => {
            state
                .core
                .add_email_subscriber(&body.target, body.components, body.confirmed)
                .await?
        }
        SubscriberKind::Webhook => {
            state
                .core
                .subscribe_webhook(&body.target, body.components)
                .await?
        }
        SubscriberKind::Chat => {
            return Err(ApiError::unprocessable(
                "chat channels subscribe from chat: /incident statuspage subscribe",
            )
            .with_field("kind"));
        }
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [(
            header::LOCATION,
            format!("/api/v1/statuspage/subscribers/{}", subscriber.id),
        )],
        Json(subscriber),
    ))
}

/// Remove a subscriber: nothing more is sent to it, including notices already queued.
#[utoipa::path(delete, path = "/api/v1/statuspage/subscribers/{id}", tag = "status page",
    params(("id" = String, Path, description = "subscriber UUID")),
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn remove_subscriber(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let missing = || ApiError::not_found(format!("subscriber {id} not found"));
    let uuid: Uuid = id.parse().map_err(|_| missing())?;
    if state.core.store.remove_subscriber(uuid).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(missing())
    }
}
