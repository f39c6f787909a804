//! Acknowledge links, as sent in e-mail and SMS pages: `/ack/{alert}/{user}/{signature}`.
//! Opening one shows the alert and a button; only pressing it (a POST) acknowledges, so a
//! mail scanner that follows links cannot silence a page. A link is good for its alert and
//! person only; a wrong one is a plain 404.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bot_core::auth::{ACK_LINK_KEY, generate_token, verify_ack_signature};
use bot_core::model::{Actor, Alert, AlertId, UserId};

use super::AppState;
use super::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/ack/{alert}/{user}/{signature}",
        get(confirm).post(acknowledge),
    )
}

/// Text for an HTML page: alert summaries come from monitoring tools, never trusted.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem\">\
         <h1>{}</h1>{body}</body></html>",
        escape(title),
        escape(title)
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// The alert a link names, if its signature is right for that alert and person.
async fn linked(
    state: &AppState,
    alert: &str,
    user: &str,
    signature: &str,
) -> Result<(Alert, UserId), ApiError> {
    let missing = || ApiError::not_found("no such link");
    let alert: AlertId = alert.parse().map_err(|_| missing())?;
    let user = UserId::from(user);
    let key = state
        .core
        .store
        .instance_secret(ACK_LINK_KEY, &generate_token())
        .await?;
    if !verify_ack_signature(&key, alert, &user, signature) {
        return Err(missing());
    }
    Ok((state.core.store.get_alert(alert).await?, user))
}

async fn confirm(
    State(state): State<AppState>,
    Path((alert, user, signature)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (alert, _) = linked(&state, &alert, &user, &signature).await?;
    let body = if alert.status == bot_core::model::AlertStatus::Open {
        "<form method=\"post\"><button type=\"submit\" style=\"font-size:1.2rem;padding:.5rem 1rem\">\
         Acknowledge</button></form>"
            .to_owned()
    } else {
        format!("<p>This alert is {}.</p>", alert.status)
    };
    Ok(page(&alert.summary, &body))
}

async fn acknowledge(
    State(state): State<AppState>,
    Path((alert, user, signature)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (alert, user) = linked(&state, &alert, &user, &signature).await?;
    match state
        .core
        .acknowledge_alert(&Actor::User(user.clone()), alert.id)
        .await
    {
        Ok(alert) => Ok(page(
            &alert.summary,
            &format!("<p>Acknowledged by {}.</p>", escape(user.as_str())),
        )),
        Err(bot_core::CoreError::Store(bot_core::StoreError::Transition(t))) => Ok((
            StatusCode::CONFLICT,
            page(
                &alert.summary,
                &format!("<p>{}.</p>", escape(&t.to_string())),
            ),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}
