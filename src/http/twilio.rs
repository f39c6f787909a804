//! Inbound Twilio webhooks: SMS replies and the keypad answer of a page call. Each request
//! is checked against `X-Twilio-Signature`, computed by Twilio over the public URL it called
//! (`TOCSIN_PUBLIC_URL` + path) and the form fields; a bad signature is 403 and changes
//! nothing. Answers are TwiML.

use std::sync::Arc;

use adapters::twilio::dial_twiml;
use adapters::twilio::inbound::{Reply, parse_form, say_twiml, sms_reply, sms_twiml, voice_digits};
use adapters::twilio::verify::{SIGNATURE_HEADER, verify};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bot_core::model::{
    Actor, AlertAction, AlertEvent, AlertId, AlertSeverity, Integration, ServiceId, User, UserId,
};

use super::AppState;
use super::error::ApiError;
use super::extract::body;

/// What the inbound routes need to check Twilio's signature.
#[derive(Clone)]
pub struct TwilioInbound {
    pub auth_token: Arc<str>,
    /// Tocsin's public base URL, as Twilio calls it.
    pub public_url: Arc<str>,
    /// The service whose on-call the hotline rings, if there is a hotline.
    pub hotline_service: Option<ServiceId>,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/twilio/sms", post(sms))
        .route("/api/v1/twilio/voice", post(voice))
        .route("/api/v1/twilio/hotline", post(hotline))
}

fn twiml(xml: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], xml).into_response()
}

/// The form fields of a request Twilio signed; 403 for anything else.
fn signed_form(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    let inbound = state
        .twilio
        .as_ref()
        .ok_or_else(|| ApiError::not_found("Twilio is not set up on this Tocsin"))?;
    let bytes = body(bytes)?;
    let params = parse_form(&bytes).map_err(ApiError::bad_request)?;
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = format!("{}{path}", inbound.public_url.trim_end_matches('/'));
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !verify(&inbound.auth_token, &url, &params, signature) {
        return Err(ApiError::forbidden("the request is not signed by Twilio"));
    }
    Ok(params)
}

fn field<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

async fn user_by_phone(state: &AppState, phone: &str) -> Result<Option<User>, ApiError> {
    let users = state.core.store.list_users().await?;
    Ok(users
        .into_iter()
        .find(|u| u.phone.as_deref() == Some(phone)))
}

/// Acknowledges or escalates `alerts` as `user`; says what happened, in one line.
async fn act(state: &AppState, user: &User, alerts: &[AlertId], reply: &Reply) -> String {
    let actor = Actor::User(user.id.clone());
    let (mut done, mut failed) = (Vec::new(), 0);
    for alert in alerts {
        let outcome = match reply {
            Reply::Acknowledge => state
                .core
                .acknowledge_alert(&actor, *alert)
                .await
                .map(|a| a.summary),
            Reply::Escalate => match state.core.escalate_alert(&actor, *alert).await {
                Ok(_) => state
                    .core
                    .store
                    .get_alert(*alert)
                    .await
                    .map(|a| a.summary)
                    .map_err(Into::into),
                Err(e) => Err(e),
            },
            Reply::Unknown(_) => continue,
        };
        match outcome {
            Ok(summary) => done.push(summary),
            Err(e) => {
                tracing::info!(alert = %alert, error = %e, "Twilio reply could not act on an alert");
                failed += 1;
            }
        }
    }
    let verb = if *reply == Reply::Acknowledge {
        "Acknowledged"
    } else {
        "Escalated"
    };
    match (done.as_slice(), failed) {
        ([], 0) => "Nothing is paging you right now.".to_owned(),
        ([], _) => {
            "That alert can no longer be changed (already acknowledged or resolved).".to_owned()
        }
        ([one], _) => format!("{verb}: {one}"),
        (many, _) => format!("{verb} {} alerts.", many.len()),
    }
}

/// An SMS reply to a page: "1" acknowledges, "2" escalates every open alert that paged the
/// sender.
async fn sms(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let params = signed_form(&state, &uri, &headers, bytes)?;
    let Some(user) = user_by_phone(&state, field(&params, "From")).await? else {
        return Ok(twiml(sms_twiml(
            "Sorry, this number is not known to Tocsin, so nothing was changed.",
        )));
    };
    let reply = sms_reply(field(&params, "Body"));
    if let Reply::Unknown(text) = &reply {
        return Ok(twiml(sms_twiml(&format!(
            "\"{text}\" is not an answer I know. Reply 1 to acknowledge, 2 to escalate."
        ))));
    }
    let alerts = state.core.store.open_alerts_paged_to(&user.id).await?;
    Ok(twiml(sms_twiml(&act(&state, &user, &alerts, &reply).await)))
}

/// The key pressed during a page call, for the alert and person named in the (signed) URL.
async fn voice(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let params = signed_form(&state, &uri, &headers, bytes)?;
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| parse_form(q.as_bytes()).unwrap_or_default())
        .unwrap_or_default();
    let alert: AlertId = field(&query, "alert")
        .parse()
        .map_err(|_| ApiError::bad_request("the callback URL names no alert"))?;
    let user = state
        .core
        .store
        .get_user(&UserId::from(field(&query, "user")))
        .await
        .map_err(|_| ApiError::bad_request("the callback URL names no known user"))?;
    let reply = voice_digits(field(&params, "Digits"));
    let said = match &reply {
        Reply::Unknown(_) => "That key does nothing. Goodbye.".to_owned(),
        _ => format!("{} Goodbye.", act(&state, &user, &[alert], &reply).await),
    };
    Ok(twiml(say_twiml(&said)))
}

/// A call to the hotline number: put through to the hotline service's on-call, level by
/// level, and an alert opened so that the call is on record (and pages, if nobody answers).
async fn hotline(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let params = signed_form(&state, &uri, &headers, bytes)?;
    let service = state
        .twilio
        .as_ref()
        .and_then(|t| t.hotline_service.clone())
        .ok_or_else(|| ApiError::not_found("no hotline is set up ([paging] hotline_service)"))?;
    let caller = field(&params, "From");
    let call = field(&params, "CallSid");
    let now = state.core.clock.now();
    let mut people: Vec<UserId> = Vec::new();
    for level in state.core.service_on_call(&service, now).await? {
        for person in level.targets.into_iter().flat_map(|t| t.now) {
            if !people.contains(&person) {
                people.push(person);
            }
        }
    }
    let mut numbers = Vec::new();
    for person in &people {
        if let Ok(user) = state.core.store.get_user(person).await
            && let Some(phone) = user.phone
        {
            numbers.push(phone);
        }
    }
    let integration = Integration {
        id: uuid::Uuid::now_v7(),
        service: service.clone(),
        name: "hotline".into(),
        kind: "hotline".into(),
        origin: "config".into(),
        settings: serde_json::json!({}),
        created_at: now,
    };
    let event = AlertEvent {
        action: AlertAction::Trigger,
        dedup_key: Some(format!("hotline:{call}")),
        severity: AlertSeverity::Critical,
        summary: format!("Hotline call from {caller}"),
        details: serde_json::json!({ "from": caller, "call_sid": call, "dialled": numbers }),
        labels: [("hotline".to_owned(), "true".to_owned())].into(),
        links: Vec::new(),
    };
    state.core.ingest(&integration, vec![event]).await?;
    Ok(twiml(dial_twiml(
        &numbers,
        "Connecting you to the engineer on call.",
    )))
}
