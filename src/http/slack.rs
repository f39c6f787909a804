//! Slack's inbound routes: slash commands (`/slack/commands`), buttons, modals and
//! shortcuts (`/slack/interactions`) and the Events API (`/slack/events`).
//!
//! Every request is checked against `X-Slack-Signature` over its raw body before anything
//! is parsed; a bad, stale or missing signature is 401 and changes nothing. Slack gives
//! up on an answer after three seconds, so a command gets [`REPLY_DEADLINE`] to finish in
//! the answer; what takes longer says "Working on it…" at once and answers later through
//! the request's `response_url`. Slack retries events it saw no answer to: each event is
//! handled once, by its `event_id`.
//!
//! Replies that are not the HTTP answer need the Web API (`SLACK_BOT_TOKEN`); without it
//! they are logged and dropped, and a form that cannot open says so.
//!
//! Everything after the signature and the body's parsing is [`SlackHandler`]'s, which
//! returns the answer's JSON (or nothing: an empty 200): Socket Mode (`crate::slack_socket`)
//! hands it the same requests from its envelopes and acknowledges with that answer.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use adapters::slack::client::SlackClient;
use adapters::slack::inbound::{self, EventRequest, Interaction, SlashCommand};
use adapters::slack::render;
use adapters::slack::verify::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bot_core::ops::Core;
use commands::{Audience, Input, Invocation, Reply};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::AppState;
use super::error::ApiError;
use super::extract::body;

/// How long a command may run inside Slack's three-second window before it is answered
/// "Working on it…" and finished in the background.
pub const REPLY_DEADLINE: Duration = Duration::from_millis(2500);

/// What replies say when there is no Web API client to send them with.
pub const NO_CLIENT: &str = "Slack Web API is not configured (SLACK_BOT_TOKEN)";

/// Slack's headers on a redelivered event: which attempt, and why.
const RETRY_NUM_HEADER: &str = "X-Slack-Retry-Num";
const RETRY_REASON_HEADER: &str = "X-Slack-Retry-Reason";

/// What the Slack routes need: the signing secret, and the Web API client for replies
/// that are not the HTTP answer (modals, late answers, replies to events).
pub struct SlackInbound {
    pub signing_secret: String,
    pub client: Option<Arc<SlackClient>>,
}

impl fmt::Debug for SlackInbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackInbound")
            .field("signing_secret", &"***")
            .field("client", &self.client.is_some())
            .finish()
    }
}

/// Handles Slack's requests once they are authenticated and parsed, whichever way they
/// came (the signed HTTP routes, or a Socket Mode envelope): the core, and the Web API
/// client for replies that are not the answer. Each method returns the answer's body
/// (`None`: nothing to say, an empty 200 or a bare acknowledgement); an error is a failure
/// Slack should retry (a 5xx, or an envelope left unacknowledged).
#[derive(Clone)]
pub struct SlackHandler {
    pub core: Core,
    pub client: Option<Arc<SlackClient>>,
}

impl fmt::Debug for SlackHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackHandler")
            .field("client", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

/// How a delivery says it is a retry, for the log: `X-Slack-Retry-Num` and
/// `X-Slack-Retry-Reason` over HTTP, `retry_attempt` and `retry_reason` in Socket Mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redelivery {
    pub attempt: Option<String>,
    pub reason: Option<String>,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/slack/commands", post(slash))
        .route("/slack/interactions", post(interactions))
        .route("/slack/events", post(events))
}

/// The raw body of a request Slack signed; 404 when Slack is not set up, 401 for anything
/// not signed with the signing secret within the replay window.
fn signed_body(
    state: &AppState,
    headers: &HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<(Arc<SlackInbound>, Bytes), ApiError> {
    let slack = state
        .slack
        .clone()
        .ok_or_else(|| ApiError::not_found("Slack is not set up (SLACK_SIGNING_SECRET)"))?;
    let bytes = body(bytes)?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    verify(
        slack.signing_secret.as_bytes(),
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &bytes,
        state.core.clock.now().timestamp(),
    )
    .map_err(|e| {
        tracing::warn!(reason = %e, "refused a request not signed by Slack");
        ApiError::unauthorized(format!("the request is not signed by Slack: {e}"))
    })?;
    Ok((slack, bytes))
}

fn malformed(e: inbound::InboundError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

fn handler(state: &AppState, slack: &SlackInbound) -> SlackHandler {
    SlackHandler {
        core: state.core.clone(),
        client: slack.client.clone(),
    }
}

/// An answer as the HTTP response: its JSON, or an empty 200.
fn respond(answer: Option<Value>) -> Response {
    match answer {
        Some(body) => Json(body).into_response(),
        None => ok(),
    }
}

/// 200 with no body: what Slack takes as "received, nothing to show" (and, for a modal
/// submission, "close it").
fn ok() -> Response {
    StatusCode::OK.into_response()
}

fn response_type(audience: Audience) -> &'static str {
    match audience {
        Audience::Ephemeral => "ephemeral",
        Audience::Channel => "in_channel",
    }
}

/// A reply as Slack takes it in a slash command's answer or on a `response_url`.
fn reply_body(reply: &Reply, replace_original: Option<bool>) -> Value {
    let mut body = render::message(&reply.message);
    if let Some(fields) = body.as_object_mut() {
        fields.insert("response_type".into(), response_type(reply.audience).into());
        if let Some(replace) = replace_original {
            fields.insert("replace_original".into(), replace.into());
        }
    }
    body
}

fn ephemeral_text(text: &str) -> Value {
    json!({ "response_type": "ephemeral", "text": text })
}

/// A command run on its own task, so that it finishes even when Slack stops waiting.
fn spawn_handle(
    core: &Core,
    client: &Option<Arc<SlackClient>>,
    invocation: Invocation,
) -> JoinHandle<Reply> {
    let core = core.clone();
    let client = client.clone();
    tokio::spawn(async move { handle(&core, client.as_deref(), &invocation).await })
}

/// [`commands::handle`], after linking a Slack member Tocsin does not know yet to the
/// directory user with the same e-mail address (`users.info`, needing `users:read.email`),
/// so people need not copy their member id into tocsin.toml.
async fn handle(core: &Core, client: Option<&SlackClient>, invocation: &Invocation) -> Reply {
    if let Some(client) = client {
        link_by_email(core, client, &invocation.user).await;
    }
    commands::handle(core, invocation).await
}

async fn link_by_email(core: &Core, client: &SlackClient, member: &str) {
    match core
        .store
        .user_by_chat_identity(adapters::slack::PLATFORM, member)
        .await
    {
        Ok(None) => {}
        Ok(Some(_)) => return,
        Err(e) => {
            tracing::warn!(error = %e, "looking up a Slack member");
            return;
        }
    }
    let email = match client.email_of(member).await {
        Ok(Some(email)) => email,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(member, error = %e, "Slack did not say who this member is");
            return;
        }
    };
    let user = match core.store.user_by_email(&email).await {
        Ok(Some(user)) => user,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "looking a member's e-mail up in the directory");
            return;
        }
    };
    match core
        .store
        .link_chat_identity(
            adapters::slack::PLATFORM,
            member,
            &user.id,
            core.clock.now(),
        )
        .await
    {
        Ok(()) => tracing::info!(member, user = %user.id, "Slack member linked by e-mail"),
        Err(e) => {
            tracing::warn!(member, user = %user.id, error = %e, "could not link a Slack member")
        }
    }
}

/// A command's reply, or the command still running at [`REPLY_DEADLINE`].
enum Finished {
    InTime(Box<Reply>),
    Late(JoinHandle<Reply>),
}

async fn within_deadline(mut task: JoinHandle<Reply>) -> Result<Finished, ApiError> {
    match tokio::time::timeout(REPLY_DEADLINE, &mut task).await {
        Ok(Ok(reply)) => Ok(Finished::InTime(Box::new(reply))),
        Ok(Err(e)) => Err(ApiError::internal(format!("a Slack command failed: {e}"))),
        Err(_) => Ok(Finished::Late(task)),
    }
}

/// Where a reply goes when it is not the HTTP answer.
struct ReplyTo {
    invocation: Invocation,
    /// For a dialog to open (valid for three seconds after the request).
    trigger_id: String,
    /// Slash commands, buttons and shortcuts have one; modal submissions and events do
    /// not, and their replies go to the person as an ephemeral message in the channel.
    response_url: Option<String>,
}

/// Waits for a command that missed the deadline, then delivers its reply.
fn deliver_later(client: Option<Arc<SlackClient>>, task: JoinHandle<Reply>, to: ReplyTo) {
    tokio::spawn(async move {
        match task.await {
            Ok(reply) => deliver(client.as_deref(), reply, &to).await,
            Err(e) => tracing::error!(error = %e, "a Slack command failed"),
        }
    });
}

/// [`deliver`] on its own task.
fn deliver_soon(client: Option<Arc<SlackClient>>, reply: Reply, to: ReplyTo) {
    tokio::spawn(async move { deliver(client.as_deref(), reply, &to).await });
}

/// Sends a reply through the Web API: a dialog opens as a modal, a message goes to the
/// `response_url` (never replacing the message the button was on) or to the person.
async fn deliver(client: Option<&SlackClient>, reply: Reply, to: &ReplyTo) {
    if reply.silent {
        return;
    }
    let channel = to.invocation.channel.as_str();
    let Some(client) = client else {
        tracing::warn!(
            channel,
            user = %to.invocation.user,
            "{NO_CLIENT}: a reply to Slack was dropped"
        );
        return;
    };
    // A modal that is already closed cannot highlight fields: say what was wrong instead.
    let reply = if reply.field_errors.is_empty() {
        reply
    } else {
        let problems: Vec<String> = reply.field_errors.values().cloned().collect();
        Reply::ephemeral(format!("The form was not accepted: {}", problems.join(" ")))
    };
    let sent = match (&reply.dialog, &to.response_url) {
        (Some(dialog), _) => {
            let opened = client
                .open_view(&to.trigger_id, &render::modal(dialog, channel))
                .await;
            match (&opened, &to.response_url) {
                (Err(e), Some(url)) => {
                    let text = format!("Slack did not open the form ({e}); please try again.");
                    client
                        .respond(url, &json!({ "response_type": "ephemeral", "text": text }))
                        .await
                }
                _ => opened,
            }
        }
        (None, Some(url)) => client.respond(url, &reply_body(&reply, Some(false))).await,
        (None, None) if channel.is_empty() => {
            tracing::warn!(user = %to.invocation.user, "no channel to answer in on Slack");
            return;
        }
        (None, None) if reply.audience == commands::Audience::Channel => {
            use bot_core::chat::ChatPlatform;
            client.post_message(channel, &reply.message).await.map(drop)
        }
        (None, None) => {
            client
                .post_ephemeral(channel, &to.invocation.user, &reply.message)
                .await
        }
    };
    if let Err(e) = sent {
        tracing::warn!(channel, error = %e, "could not deliver a reply to Slack");
    }
}

/// `/incident …` and `/oncall …`.
async fn slash(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (slack, bytes) = signed_body(&state, &headers, bytes)?;
    let command = inbound::slash_command(&bytes).map_err(malformed)?;
    Ok(respond(handler(&state, &slack).slash(command).await?))
}

/// Buttons, shortcuts and modal submissions.
async fn interactions(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (slack, bytes) = signed_body(&state, &headers, bytes)?;
    let interaction = inbound::interaction(&bytes).map_err(malformed)?;
    Ok(respond(
        handler(&state, &slack).interaction(interaction).await?,
    ))
}

/// The Events API.
async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (slack, bytes) = signed_body(&state, &headers, bytes)?;
    let request = inbound::event(&bytes).map_err(malformed)?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let redelivery = Redelivery {
        attempt: header(RETRY_NUM_HEADER),
        reason: header(RETRY_REASON_HEADER),
    };
    Ok(respond(
        handler(&state, &slack).event(request, &redelivery).await?,
    ))
}

/// A 📌's message text, read back from Slack in place of the placeholder the reaction event
/// leaves (the event does not carry it); the placeholder stays if Slack cannot say.
async fn read_pinned_text(client: &SlackClient, invocation: &mut commands::Invocation) {
    let Input::Pin {
        message_id, text, ..
    } = &mut invocation.input
    else {
        return;
    };
    if *text != inbound::pin_placeholder(message_id) {
        return;
    }
    match client.message_text(&invocation.channel, message_id).await {
        Ok(Some(found)) if !found.trim().is_empty() => *text = found,
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "could not read a pinned Slack message; pinned without its text")
        }
    }
}

impl SlackHandler {
    /// A slash command: the reply is the answer when the command finishes in time, else
    /// "Working on it…" and the reply follows on the `response_url`.
    pub async fn slash(&self, command: SlashCommand) -> Result<Option<Value>, ApiError> {
        if let Input::Slash { command: name, .. } = &command.invocation.input {
            tracing::info!(
                command = %name,
                team = %command.team_id,
                user = %command.invocation.user,
                channel = %command.invocation.channel,
                "Slack slash command"
            );
        }
        let task = spawn_handle(&self.core, &self.client, command.invocation.clone());
        match within_deadline(task).await? {
            Finished::InTime(reply) => Ok(self.slash_answer(&command, *reply).await),
            Finished::Late(task) => {
                tracing::info!("Slack command still running at the deadline; answering later");
                let to = ReplyTo {
                    invocation: command.invocation,
                    trigger_id: command.trigger_id,
                    response_url: Some(command.response_url),
                };
                deliver_later(self.client.clone(), task, to);
                Ok(Some(ephemeral_text("Working on it…")))
            }
        }
    }

    /// The answer to a slash command whose reply is ready.
    async fn slash_answer(&self, command: &SlashCommand, reply: Reply) -> Option<Value> {
        if reply.silent {
            return None;
        }
        let Some(dialog) = &reply.dialog else {
            return Some(reply_body(&reply, None));
        };
        let Some(client) = &self.client else {
            tracing::warn!("{NO_CLIENT}: cannot open a form");
            return Some(ephemeral_text(NO_CLIENT));
        };
        let view = render::modal(dialog, &command.invocation.channel);
        match client.open_view(&command.trigger_id, &view).await {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(error = %e, "Slack did not open a form");
                Some(ephemeral_text(&format!(
                    "Slack did not open the form ({e}); please try again."
                )))
            }
        }
    }

    /// Buttons and shortcuts are answered at once and handled on a task, replying on the
    /// `response_url`; a modal submission is handled before answering, because only the
    /// answer can show its field errors.
    pub async fn interaction(&self, interaction: Interaction) -> Result<Option<Value>, ApiError> {
        match interaction {
            Interaction::Actions {
                invocations,
                trigger_id,
                response_url,
            } => {
                tracing::info!(actions = invocations.len(), "Slack button");
                let core = self.core.clone();
                let client = self.client.clone();
                tokio::spawn(async move {
                    for invocation in invocations {
                        let reply = handle(&core, client.as_deref(), &invocation).await;
                        let to = ReplyTo {
                            invocation,
                            trigger_id: trigger_id.clone(),
                            response_url: response_url.clone(),
                        };
                        deliver(client.as_deref(), reply, &to).await;
                    }
                });
                Ok(None)
            }
            Interaction::Shortcut {
                invocation,
                response_url,
            } => {
                tracing::info!(channel = %invocation.channel, "Slack message shortcut");
                let task = spawn_handle(&self.core, &self.client, invocation.clone());
                let to = ReplyTo {
                    invocation,
                    trigger_id: String::new(),
                    response_url,
                };
                deliver_later(self.client.clone(), task, to);
                Ok(None)
            }
            Interaction::Submission { invocation } => {
                if let Input::DialogSubmit { dialog, .. } = &invocation.input {
                    tracing::info!(dialog = %dialog, channel = %invocation.channel, "Slack modal submitted");
                }
                let to = ReplyTo {
                    invocation: invocation.clone(),
                    trigger_id: String::new(),
                    response_url: None,
                };
                match within_deadline(spawn_handle(&self.core, &self.client, invocation)).await? {
                    Finished::InTime(reply) if !reply.field_errors.is_empty() => {
                        Ok(Some(render::modal_errors(&reply.field_errors)))
                    }
                    Finished::InTime(reply) => {
                        deliver_soon(self.client.clone(), *reply, to);
                        Ok(None)
                    }
                    Finished::Late(task) => {
                        deliver_later(self.client.clone(), task, to);
                        Ok(None)
                    }
                }
            }
            Interaction::Ignored { kind } => {
                tracing::debug!(kind = %kind, "Slack interaction ignored");
                Ok(None)
            }
        }
    }

    /// The Events API: the URL check, then mentions, 📌 reactions and channel messages,
    /// each handled once by its `event_id` however often Slack delivers it.
    pub async fn event(
        &self,
        request: EventRequest,
        redelivery: &Redelivery,
    ) -> Result<Option<Value>, ApiError> {
        let callback = match request {
            EventRequest::UrlVerification { challenge } => {
                tracing::info!("Slack URL verification");
                return Ok(Some(json!({ "challenge": challenge })));
            }
            EventRequest::Ignored { kind } => {
                tracing::debug!(kind = %kind, "Slack request ignored");
                return Ok(None);
            }
            EventRequest::Callback(callback) => *callback,
        };
        let event_id = callback.event_id.as_deref().unwrap_or_default();
        tracing::info!(
            event_type = %callback.event_type,
            event_id,
            retry = redelivery.attempt.as_deref(),
            retry_reason = redelivery.reason.as_deref(),
            "Slack event"
        );
        let Some(invocation) = callback.invocation else {
            return Ok(None);
        };
        let core = &self.core;
        // Talk and 📌s matter only in incident channels (talk only with `capture_chat`);
        // elsewhere a 📌 is an ordinary reaction that gets no reply, not even a refusal,
        // and nobody's messages leave a delivery record behind.
        let chat = match invocation.input {
            Input::Pin { .. } => true,
            Input::Said { .. } if !core.settings.capture_chat => return Ok(None),
            Input::Said { .. } => true,
            _ => false,
        };
        if chat
            && core
                .store
                .incident_by_channel(&invocation.platform, &invocation.channel)
                .await?
                .is_none()
        {
            return Ok(None);
        }
        let key = callback
            .event_id
            .as_ref()
            .map(|id| format!("slack:event:{id}"));
        if let Some(key) = &key
            && core.store.delivery_seen(key).await?
        {
            tracing::info!(event_id, "Slack event already handled; redelivery ignored");
            return Ok(None);
        }
        let core = core.clone();
        let client = self.client.clone();
        let mut handled = invocation.clone();
        let task = tokio::spawn(async move {
            if let Some(client) = &client {
                read_pinned_text(client, &mut handled).await;
            }
            let reply = handle(&core, client.as_deref(), &handled).await;
            // Recorded once handled: a delivery that failed half-way is redone on retry.
            if let Some(key) = key {
                match core.store.record_delivery(&key, core.clock.now()).await {
                    Ok(true) => {}
                    Ok(false) => tracing::info!(key, "Slack event was handled twice concurrently"),
                    Err(e) => tracing::error!(key, error = %e, "could not record a Slack event"),
                }
            }
            reply
        });
        let to = ReplyTo {
            invocation,
            trigger_id: String::new(),
            response_url: None,
        };
        match within_deadline(task).await? {
            Finished::InTime(reply) => deliver_soon(self.client.clone(), *reply, to),
            Finished::Late(task) => deliver_later(self.client.clone(), task, to),
        }
        Ok(None)
    }
}
