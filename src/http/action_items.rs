//! Postmortem action items over REST: `POST` and `GET
//! /api/v1/incidents/{id}/postmortem/action-items`. Adding an item files its ticket
//! through a durable job; the answer is the item as stored (`ticket_status: pending`), and
//! a later `GET` shows the ticket's key, URL and state once the tracker has answered.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use bot_core::model::{ActionItem, Role, Tracker, UserId};
use bot_core::postmortem::action_items::{AddActionItem, target_of};
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::api::find_incident;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Caller};

#[derive(OpenApi)]
#[openapi(
    paths(add_action_item, list_action_items),
    components(schemas(NewActionItemBody)),
    tags((name = "postmortems", description = "Post-incident reviews"))
)]
pub struct Doc;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/incidents/{id}/postmortem/action-items",
        get(list_action_items).post(add_action_item),
    )
}

/// A new action item. Naming `repo` implies GitHub and `project` Jira; with neither, the
/// configured default tracker (and its first repository or project) is used, or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActionItemBody {
    /// What will be done; at most 200 characters.
    #[schema(pattern = r"^[^\x00]*[^\s\x00][^\x00]*$", max_length = 200)]
    pub title: String,
    pub tracker: Option<Tracker>,
    /// `owner/repo`, one of `[trackers.github] repos`.
    pub repo: Option<String>,
    /// A Jira project key, one of `[trackers.jira] projects`.
    pub project: Option<String>,
    /// A user id from the directory.
    pub assignee: Option<UserId>,
}

/// Add an action item; its ticket is filed in the tracker by a job.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/postmortem/action-items", tag = "postmortems",
    params(("id" = String, Path, description = "incident UUID, number or INC-number")),
    request_body = NewActionItemBody, security(("bearer" = [])),
    responses((status = 201, body = ActionItem), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody,
            description = "empty or long title, unknown assignee, or a tracker, repository or project not configured (the message names the configured ones)")))]
pub async fn add_action_item(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewActionItemBody>,
) -> Result<(StatusCode, Json<ActionItem>), ApiError> {
    caller.require(Role::Responder)?;
    let incident = find_incident(&state, &id).await?;
    let (tracker, target) = target_of(body.tracker, body.repo, body.project)
        .map_err(|e| ApiError::unprocessable(e.message).with_field(e.field))?;
    let item = state
        .core
        .add_action_item(
            &caller.actor,
            incident.id,
            AddActionItem {
                title: body.title,
                tracker,
                target,
                assignee: body.assignee,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(item)))
}

/// The incident's action items, oldest first, with their tickets.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/postmortem/action-items", tag = "postmortems",
    params(("id" = String, Path, description = "incident UUID, number or INC-number")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ActionItem>), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn list_action_items(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<ActionItem>>, ApiError> {
    caller.require(Role::Viewer)?;
    let incident = find_incident(&state, &id).await?;
    Ok(Json(state.core.action_items_of(incident.id).await?))
}
