//! Discord's inbound route: `POST /discord/interactions` (application commands, buttons,
//! modal submissions, and Discord's PINGs).
//!
//! Every request is checked against `X-Signature-Ed25519` over its raw body before anything
//! is parsed; a bad or missing signature is 401 and changes nothing (Discord tests a new
//! endpoint with forged requests and keeps it only if they are refused). Discord gives up
//! on an answer after three seconds, so a command gets `[discord] reply_within` (2.5 s) to finish in the
//! answer; what takes longer is answered "thinking…" (a deferred response) at once, and
//! the reply follows through the interaction's webhook (`DISCORD_TOKEN` not needed: the
//! interaction token is the credential). Each interaction is handled once, by its id.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use adapters::discord::client::DiscordClient;
use adapters::discord::inbound::{self, Interaction, Request};
use adapters::discord::render;
use adapters::discord::verify::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use commands::{Audience, Reply};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::AppState;
use super::error::ApiError;
use super::extract::body;

/// Interaction callback types (Discord's numbering).
const PONG: u64 = 1;
const CHANNEL_MESSAGE_WITH_SOURCE: u64 = 4;
const DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: u64 = 5;
const AUTOCOMPLETE_RESULT: u64 = 8;
const MODAL: u64 = 9;
/// Message flag: only the person who asked sees it.
const EPHEMERAL: u64 = 64;

/// What the Discord route needs: the application's public key, and the REST client for
/// replies that are not the HTTP answer (late replies).
pub struct DiscordInbound {
    /// `DISCORD_PUBLIC_KEY`, hex.
    pub public_key: String,
    pub client: Option<Arc<DiscordClient>>,
    /// How long a command may run inside Discord's three-second window before it is
    /// answered with a deferred response and finished in the background
    /// (`[discord] reply_within`).
    pub reply_within: Duration,
}

impl fmt::Debug for DiscordInbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordInbound")
            .field("public_key", &self.public_key)
            .field("client", &self.client.is_some())
            .field("reply_within", &self.reply_within)
            .finish()
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/discord/interactions", post(interactions))
}

/// The raw body of a request Discord signed; 404 when Discord is not set up, 401 for
/// anything not signed with the application's key.
fn signed_body(
    state: &AppState,
    headers: &HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<(Arc<DiscordInbound>, Bytes), ApiError> {
    let discord = state
        .discord
        .clone()
        .ok_or_else(|| ApiError::not_found("Discord is not set up (DISCORD_PUBLIC_KEY)"))?;
    let bytes = body(bytes)?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    verify(
        &discord.public_key,
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &bytes,
    )
    .map_err(|e| {
        tracing::warn!(reason = %e, "refused a request not signed by Discord");
        ApiError::unauthorized(format!("the request is not signed by Discord: {e}"))
    })?;
    Ok((discord, bytes))
}

/// A message callback (type 4) or a follow-up's body: the rendered message, ephemeral
/// unless it is for the channel.
fn message_data(reply: &Reply) -> Value {
    let mut data = render::message(&reply.message);
    if reply.audience == Audience::Ephemeral
        && let Some(fields) = data.as_object_mut()
    {
        fields.insert("flags".into(), EPHEMERAL.into());
    }
    data
}

fn ephemeral_text(text: &str) -> Value {
    json!({ "content": text, "flags": EPHEMERAL })
}

/// What a reply says as a message, whatever it is: a silent reply still needs an answer
/// (Discord shows an error for an interaction that gets none), and a modal that is
/// already closed cannot show its field errors.
fn as_message(reply: &Reply) -> Value {
    if !reply.field_errors.is_empty() {
        let problems: Vec<String> = reply
            .field_errors
            .iter()
            .map(|(field, why)| format!("- {field}: {why}"))
            .collect();
        return ephemeral_text(&format!(
            "The form was not accepted:\n{}",
            problems.join("\n")
        ));
    }
    if reply.silent {
        return ephemeral_text("Done.");
    }
    message_data(reply)
}

/// The HTTP answer to a reply that is ready: a modal, or a message.
fn answer(reply: &Reply, request: &Request) -> Value {
    match &reply.dialog {
        // A modal cannot answer a modal submission; there the message says what to do.
        Some(dialog) if request.kind != inbound::Kind::ModalSubmit => {
            json!({ "type": MODAL, "data": render::modal(dialog) })
        }
        _ => json!({ "type": CHANNEL_MESSAGE_WITH_SOURCE, "data": as_message(reply) }),
    }
}

/// `POST /discord/interactions`.
async fn interactions(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let (discord, bytes) = signed_body(&state, &headers, bytes)?;
    let interaction =
        inbound::interaction(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let request = match interaction {
        Interaction::Ping => return Ok(Json(json!({ "type": PONG }))),
        Interaction::Autocomplete => {
            return Ok(Json(
                json!({ "type": AUTOCOMPLETE_RESULT, "data": { "choices": [] } }),
            ));
        }
        Interaction::Request(request) => *request,
    };
    let core = &state.core;
    let invocation = &request.invocation;
    tracing::info!(
        kind = ?request.kind,
        user = %invocation.user,
        channel = %invocation.channel,
        "Discord interaction"
    );
    let key = invocation
        .delivery
        .as_ref()
        .map(|id| format!("discord:interaction:{id}"));
    if let Some(key) = &key
        && core.store.delivery_seen(key).await?
    {
        tracing::info!(
            key,
            "Discord interaction already handled; redelivery ignored"
        );
        return Ok(Json(json!({
            "type": CHANNEL_MESSAGE_WITH_SOURCE,
            "data": ephemeral_text("Already handled."),
        })));
    }
    let mut task = super::spawn_handled(core, request.invocation.clone(), key);
    match tokio::time::timeout(discord.reply_within, &mut task).await {
        Ok(Ok(reply)) => Ok(Json(answer(&reply, &request))),
        Ok(Err(e)) => Err(ApiError::internal(format!("a Discord command failed: {e}"))),
        Err(_) => {
            tracing::info!("Discord command still running at the deadline; answering later");
            follow_up_later(discord.client.clone(), task, request.token);
            Ok(Json(json!({
                "type": DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                "data": { "flags": EPHEMERAL },
            })))
        }
    }
}

/// Waits for a command that missed the deadline, then puts its reply in place of the
/// deferred "thinking…" message (`PATCH …/messages/@original`, which is what Discord's
/// deferred response expects). A form cannot open any more: the reply says so.
fn follow_up_later(client: Option<Arc<DiscordClient>>, task: JoinHandle<Reply>, token: String) {
    tokio::spawn(async move {
        let reply = match task.await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!(error = %e, "a Discord command failed");
                return;
            }
        };
        let Some(client) = client else {
            tracing::warn!(
                "Discord client is not configured (DISCORD_TOKEN): a late reply was dropped"
            );
            return;
        };
        let body = match &reply.dialog {
            Some(_) => ephemeral_text("That took too long to open a form; please try again."),
            None => as_message(&reply),
        };
        if let Err(e) = client.edit_original(&token, &body).await {
            tracing::warn!(error = %e, "could not deliver a late reply to Discord");
        }
    });
}
