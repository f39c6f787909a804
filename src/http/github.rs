//! GitHub webhooks (`POST /github/webhooks`): an `issues` event closing an action item's
//! ticket marks the item done, reopening it opens the item again. Every delivery is
//! checked against `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the webhook
//! secret, `GITHUB_WEBHOOK_SECRET`) before anything in it is read.
//!
//! Events and actions Tocsin has no use for, and issues that are not action items'
//! tickets, are answered 202 and ignored, so GitHub does not count the hook as failing.

use adapters::tickets::webhook::{
    EVENT_HEADER, SIGNATURE_HEADER, WebhookEvent, parse_event, verify_signature,
};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bot_core::model::Tracker;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::body;

#[derive(OpenApi)]
#[openapi(
    paths(github_webhook),
    components(schemas(WebhookReply)),
    tags((name = "webhooks", description = "Deliveries from issue trackers"))
)]
pub struct Doc;

pub fn routes() -> Router<AppState> {
    Router::new().route("/github/webhooks", post(github_webhook))
}

/// What Tocsin made of a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReply {
    /// `pong`, `updated` (an action item moved, or was already there) or `ignored`.
    pub outcome: &'static str,
    /// What was updated or ignored, for the delivery log in GitHub's settings.
    pub detail: String,
    /// The action item moved, when one was.
    pub action_item_id: Option<uuid::Uuid>,
}

fn reply(
    status: StatusCode,
    outcome: &'static str,
    detail: String,
    action_item_id: Option<uuid::Uuid>,
) -> (StatusCode, Json<WebhookReply>) {
    (
        status,
        Json(WebhookReply {
            outcome,
            detail,
            action_item_id,
        }),
    )
}

/// A delivery from a GitHub webhook (content type `application/json`, events `issues`).
#[utoipa::path(post, path = "/github/webhooks", tag = "webhooks",
    params(
        ("X-Hub-Signature-256" = String, Header, description = "sha256=HMAC of the body with the webhook secret"),
        ("X-GitHub-Event" = String, Header, description = "issues, ping, …")),
    responses((status = 200, body = WebhookReply, description = "ping answered, or an action item moved"),
        (status = 202, body = WebhookReply, description = "nothing for Tocsin: ignored"),
        (status = 400, body = ErrorBody, description = "malformed JSON, or no X-GitHub-Event"),
        (status = 401, body = ErrorBody, description = "missing or wrong signature"),
        (status = 503, body = ErrorBody, description = "GITHUB_WEBHOOK_SECRET is not set")))]
pub async fn github_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<WebhookReply>), ApiError> {
    let Some(secret) = state.core.settings.trackers.webhook_secret.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "GitHub webhooks are not set up here: set GITHUB_WEBHOOK_SECRET to the webhook's secret",
        ));
    };
    let bytes = body(bytes)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verify_signature(secret.0.as_bytes(), &bytes, header(SIGNATURE_HEADER)).map_err(|e| {
        tracing::warn!(error = %e, "GitHub webhook refused");
        ApiError::unauthorized(e.to_string())
    })?;
    let event = header(EVENT_HEADER)
        .ok_or_else(|| ApiError::bad_request("the request has no X-GitHub-Event header"))?;
    let parsed = parse_event(event, &bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    match parsed {
        WebhookEvent::Ping => Ok(reply(StatusCode::OK, "pong", "ping".into(), None)),
        WebhookEvent::Ignored(what) => Ok(reply(StatusCode::ACCEPTED, "ignored", what, None)),
        WebhookEvent::Issue { key, done, sender } => {
            let by = format!("github:{}", sender.as_deref().unwrap_or("unknown"));
            match state
                .core
                .ticket_changed(Tracker::Github, &key, done, &by)
                .await?
            {
                Some(item) => {
                    tracing::info!(action_item_id = %item.id, ticket = %key, state = %item.state, "action item moved by its ticket");
                    Ok(reply(
                        StatusCode::OK,
                        "updated",
                        format!("action item {} is {}", item.id, item.state),
                        Some(item.id),
                    ))
                }
                None => Ok(reply(
                    StatusCode::ACCEPTED,
                    "ignored",
                    format!("{key} is not an action item's ticket"),
                    None,
                )),
            }
        }
    }
}
