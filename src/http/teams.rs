//! Microsoft Teams' inbound route: `POST /teams/messages`, the Bot Framework messaging
//! endpoint.
//!
//! Every request's `Authorization: Bearer` JWT is checked against the Bot Framework's
//! published keys before the activity is used (401; 403 for a key not endorsed for the
//! channel; 503 while the keys cannot be fetched); only the activity's `serviceUrl` and
//! `channelId`, which the token must match, are read first. Then:
//!
//! - a message (an @mention in a channel, a 1:1 chat) is a command: answered 200 at once,
//!   its reply posted into the conversation when ready (a form becomes a card whose button
//!   opens it, since Teams opens dialogs only from a `task/fetch`);
//! - `adaptiveCard/action` (a card's button) is answered in the invoke response; the card
//!   itself is brought up to date by the job that follows the change;
//! - `task/fetch` opens a form, `task/submit` submits it (errors keep it open);
//! - `conversationUpdate` teaches the client the tenant's service URL;
//! - anything else is 200 and ignored (Teams sends many activity types).
//!
//! Each activity is handled once by its id, however often Teams retries it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use adapters::teams::auth::{AuthError, TeamsAuth};
use adapters::teams::connector::{ChannelMode, TeamsClient};
use adapters::teams::inbound::{self, Activity, Kind, Request};
use adapters::teams::render;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use commands::{Input, Reply};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::AppState;
use super::error::ApiError;
use super::extract::body;

/// How long an invoke (a button, a form) may take before it is answered without the
/// command's reply: Teams gives up on invokes after about five seconds.
const INVOKE_DEADLINE: Duration = Duration::from_millis(4000);

/// What the Teams route needs: the token check, the connector client for replies, and how
/// incident channels are made (which id of an activity is its channel).
pub struct TeamsInbound {
    pub auth: TeamsAuth,
    pub client: Option<Arc<TeamsClient>>,
    pub mode: ChannelMode,
    /// Teams ids this process already tried to link by e-mail, so that someone Tocsin
    /// does not know costs one roster look-up, not one per message.
    pub looked_up: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl TeamsInbound {
    pub fn new(auth: TeamsAuth, client: Option<Arc<TeamsClient>>, mode: ChannelMode) -> Self {
        TeamsInbound {
            auth,
            client,
            mode,
            looked_up: Default::default(),
        }
    }

    /// Links each of `people` (Teams ids) that Tocsin does not know yet to the directory
    /// user with their e-mail address, read from the conversation's roster: the same
    /// matching as Slack's, so nobody has to copy Teams ids into tocsin.toml.
    async fn link_by_email(
        &self,
        core: &bot_core::ops::Core,
        conversation: &str,
        people: &[String],
    ) {
        let Some(client) = &self.client else {
            return;
        };
        let mut unknown = Vec::new();
        for id in people {
            let fresh = self
                .looked_up
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone());
            if fresh
                && matches!(
                    core.store
                        .user_by_chat_identity(adapters::teams::PLATFORM, id)
                        .await,
                    Ok(None)
                )
            {
                unknown.push(id.clone());
            }
        }
        if unknown.is_empty() {
            return;
        }
        let roster = match client.member_emails(conversation).await {
            Ok(roster) => roster,
            Err(e) => {
                tracing::warn!(error = %e, "could not read a Teams conversation's members");
                return;
            }
        };
        for (id, email) in roster.iter().filter(|(id, _)| unknown.contains(id)) {
            match core.store.user_by_email(email).await {
                Ok(Some(user)) => match core
                    .store
                    .link_chat_identity(adapters::teams::PLATFORM, id, &user.id, core.clock.now())
                    .await
                {
                    Ok(()) => tracing::info!(user = %user.id, "Teams member linked by e-mail"),
                    Err(e) => {
                        tracing::warn!(user = %user.id, error = %e, "could not link a Teams member")
                    }
                },
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "looking a Teams member up by e-mail failed"),
            }
        }
    }
}

impl fmt::Debug for TeamsInbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamsInbound")
            .field("client", &self.client.is_some())
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/teams/messages", post(messages))
}

fn refused(e: &AuthError) -> ApiError {
    tracing::warn!(reason = %e, "refused a request not signed by the Bot Framework");
    let message = format!("the request is not from the Bot Framework: {e}");
    match e.recommended_status() {
        403 => ApiError::forbidden(message),
        503 => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message),
        _ => ApiError::unauthorized(message),
    }
}

/// `POST /teams/messages`.
async fn messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let teams = state.teams.clone().ok_or_else(|| {
        ApiError::not_found("Microsoft Teams is not set up (MicrosoftAppId, MicrosoftAppPassword)")
    })?;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if authorization.is_none() {
        return Err(refused(&AuthError::Missing));
    }
    let bytes = body(bytes)?;
    let envelope = inbound::envelope(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    teams
        .auth
        .validate(
            authorization,
            &envelope.service_url,
            &envelope.channel_id,
            state.core.clock.now(),
        )
        .await
        .map_err(|e| refused(&e))?;
    let activity =
        inbound::activity(&bytes, teams.mode).map_err(|e| ApiError::bad_request(e.to_string()))?;
    match activity {
        Activity::Ignored { kind } => {
            tracing::debug!(kind, "Teams activity ignored");
            Ok(Json(json!({})))
        }
        Activity::ConversationUpdate(update) => {
            conversation_update(&state, &teams, *update);
            Ok(Json(json!({})))
        }
        Activity::Request(request) => handle(&state, &teams, *request).await.map(Json),
    }
}

/// Tocsin or people added to a team or chat: the connector's address is noted, the team's
/// channels learned, and the people linked by e-mail, the last two in the background
/// (the answer does not wait for them).
fn conversation_update(
    state: &AppState,
    teams: &Arc<TeamsInbound>,
    update: inbound::ConversationUpdate,
) {
    tracing::info!(
        team = update.team_id.as_deref().unwrap_or("-"),
        members_added = update.members_added.len(),
        bot_added = update.bot_added,
        "Teams conversation update"
    );
    if let Some(client) = &teams.client {
        client.set_service_url(&update.service_url);
    }
    // Added to a team (or a channel made there): learn its channels, so that the
    // configuration may name them.
    if let (Some(client), Some(team)) = (teams.client.clone(), update.team_id.clone()) {
        tokio::spawn(async move {
            match client.learn_team(&team).await {
                Ok(channels) => {
                    let listed: Vec<String> = channels
                        .iter()
                        .map(|(name, id)| format!("{name} ({id})"))
                        .collect();
                    tracing::info!(team, channels = %listed.join(", "), "Teams team's channels learned");
                }
                Err(e) => tracing::warn!(error = %e, "could not list a Teams team's channels"),
            }
        });
    }
    let people: Vec<String> = update
        .members_added
        .iter()
        .map(|m| m.id.clone())
        .filter(|id| !id.starts_with("28:"))
        .collect();
    if !people.is_empty() {
        let (teams, core) = (teams.clone(), state.core.clone());
        tokio::spawn(async move {
            teams
                .link_by_email(&core, &update.conversation_id, &people)
                .await;
        });
    }
}

async fn handle(
    state: &AppState,
    teams: &TeamsInbound,
    request: Request,
) -> Result<Value, ApiError> {
    let core = &state.core;
    let invocation = &request.invocation;
    tracing::info!(kind = ?request.kind, user = %invocation.user, channel = %invocation.channel, "Teams activity");
    if let Some(client) = &teams.client {
        client.set_service_url(&request.service_url);
    }
    // Talk (a channel message not addressed to the bot) matters only in an incident
    // channel with `capture_chat`; elsewhere nothing is written, not even a delivery.
    if matches!(invocation.input, Input::Said { .. })
        && (!core.settings.capture_chat
            || core
                .store
                .incident_by_channel(&invocation.platform, &invocation.channel)
                .await?
                .is_none())
    {
        return Ok(json!({}));
    }
    let key = invocation
        .delivery
        .as_ref()
        .map(|id| format!("teams:activity:{id}"));
    if let Some(key) = &key
        && core.store.delivery_seen(key).await?
    {
        tracing::info!(key, "Teams activity already handled; redelivery ignored");
        return Ok(match request.kind {
            Kind::Message | Kind::MessageBack => json!({}),
            Kind::TaskFetch | Kind::TaskSubmit => render::task_message("Already handled."),
            Kind::CardAction => render::invoke_message_response("Already handled."),
        });
    }
    // Someone Tocsin does not know yet is looked up by e-mail first, so that their first
    // command already acts as them.
    teams
        .link_by_email(
            core,
            &request.conversation_id,
            std::slice::from_ref(&invocation.user),
        )
        .await;
    let task = super::spawn_handled(core, request.invocation.clone(), key);
    match request.kind {
        // Answered at once; the reply follows in the conversation.
        Kind::Message | Kind::MessageBack => {
            reply_later(teams.client.clone(), task, request);
            Ok(json!({}))
        }
        Kind::CardAction => Ok(match within_deadline(task).await? {
            Some(reply) => render::invoke_message_response(&text_of(&reply)),
            None => render::invoke_message_response("Working on it; the card will update."),
        }),
        Kind::TaskFetch => Ok(match within_deadline(task).await? {
            Some(reply) => match &reply.dialog {
                Some(dialog) => render::task_module(dialog),
                None => render::task_message(&text_of(&reply)),
            },
            None => render::task_message("That took too long to open a form; please try again."),
        }),
        Kind::TaskSubmit => Ok(match within_deadline(task).await? {
            Some(reply) if !reply.field_errors.is_empty() => {
                let dialog = match &reply.dialog {
                    Some(dialog) => Some(dialog.clone()),
                    None => reopen(core, &request.invocation).await,
                };
                match (dialog, &request.invocation.input) {
                    (Some(dialog), Input::DialogSubmit { fields, .. }) => {
                        render::dialog_with_errors(&dialog, fields, &reply.field_errors)
                    }
                    _ => render::task_message(&text_of(&reply)),
                }
            }
            Some(reply) => render::task_message(&text_of(&reply)),
            None => render::task_message("Submitted; the reply follows in the conversation."),
        }),
    }
}

/// The form a refused submission came from, to show it again with its errors: forms are
/// opened by the command of their name (`/incident declare` opens `declare`).
async fn reopen(
    core: &bot_core::ops::Core,
    submitted: &commands::Invocation,
) -> Option<bot_core::chat::Dialog> {
    let Input::DialogSubmit { dialog, .. } = &submitted.input else {
        return None;
    };
    let again = commands::Invocation {
        input: Input::Slash {
            command: "incident".into(),
            text: dialog.clone(),
        },
        delivery: None,
        ..submitted.clone()
    };
    commands::handle(core, &again)
        .await
        .dialog
        .filter(|d| &d.id == dialog)
}

/// The reply if the command finishes in time, else `None` (it carries on regardless).
async fn within_deadline(mut task: JoinHandle<Reply>) -> Result<Option<Reply>, ApiError> {
    match tokio::time::timeout(INVOKE_DEADLINE, &mut task).await {
        Ok(Ok(reply)) => Ok(Some(reply)),
        Ok(Err(e)) => Err(ApiError::internal(format!("a Teams command failed: {e}"))),
        Err(_) => Ok(None),
    }
}

/// What a reply says, as text: its field errors when the form was refused.
fn text_of(reply: &Reply) -> String {
    if reply.field_errors.is_empty() {
        return reply.message.plain();
    }
    let problems: Vec<String> = reply
        .field_errors
        .iter()
        .map(|(field, why)| format!("- {field}: {why}"))
        .collect();
    format!("The form was not accepted:\n{}", problems.join("\n"))
}

/// Posts the command's reply into the conversation it came from once it is ready; a form
/// goes out as a card whose button opens it.
fn reply_later(client: Option<Arc<TeamsClient>>, task: JoinHandle<Reply>, request: Request) {
    tokio::spawn(async move {
        let reply = match task.await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!(error = %e, "a Teams command failed");
                return;
            }
        };
        if reply.silent {
            return;
        }
        let Some(client) = client else {
            tracing::warn!("Teams client is not configured: a reply was dropped");
            return;
        };
        let Some(activity_id) = request.activity_id.as_deref() else {
            tracing::warn!("a Teams message without an id cannot be answered");
            return;
        };
        let sent = match (&reply.dialog, &request.invocation.input) {
            (Some(dialog), Input::Slash { text, .. }) => {
                client
                    .reply_with(
                        &request.service_url,
                        &request.conversation_id,
                        activity_id,
                        render::dialog_launcher(dialog, inbound::LAUNCH_COMMAND, text),
                        &dialog.title,
                    )
                    .await
            }
            _ => {
                let mut message = reply.message.clone();
                if !reply.field_errors.is_empty() {
                    message = bot_core::chat::Message::text(text_of(&reply));
                }
                client
                    .reply(
                        &request.service_url,
                        &request.conversation_id,
                        activity_id,
                        &message,
                    )
                    .await
            }
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not deliver a reply to Teams");
        }
    });
}
