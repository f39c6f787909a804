//! The `ChatPlatform` port over Slack's Web API, through slack-morphism's hyper client,
//! plus the few Web API calls the inbound handlers need (modals, ephemeral replies,
//! response URLs).
//!
//! Slack answers most failures with HTTP 200 and `{"ok":false,"error":"<code>"}`; those
//! become `ChatError::Refused(code)`, except `ratelimited` (and HTTP 429, whose
//! `Retry-After` is kept) which becomes `ChatError::RateLimited` so the job is retried
//! after that delay, and network failures and 5xx which become `Unavailable`. A
//! client-side limiter per method (Slack's tiers) keeps us under the limits to begin with.
//!
//! Message ids: a message posted where Slack's answer names the same channel we posted
//! to has the message's `ts` as its id. Where Slack resolved the destination to another
//! id (a channel given by name such as `#incidents`, a user id, a DM opened by
//! `send_dm`), the id is `<channel id>:<ts>`, and `update_message` and `pin` use that
//! channel instead of the one they are given: `chat.update` and `pins.add` accept only
//! channel ids. A `ts` never contains `:`.
//!
//! The bot token goes only to the Web API base URL, never to a response URL, and is never
//! logged (slack-morphism's token type prints as redacted).

use std::collections::HashMap;
use std::num::NonZeroU32;

use async_trait::async_trait;
use bot_core::chat::{ChatError, ChatPlatform, Message};
use bot_core::model::ChannelRef;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::{Value, json};
use slack_morphism::prelude::{
    EmailAddress, SlackApiChatPostEphemeralRequest, SlackApiChatPostMessageRequest,
    SlackApiChatUpdateRequest, SlackApiConversationsCreateRequest,
    SlackApiConversationsHistoryRequest, SlackApiConversationsSetTopicRequest,
    SlackApiPinsAddRequest, SlackApiToken, SlackApiTokenValue, SlackApiUsersInfoRequest,
    SlackApiUsersLookupByEmailRequest, SlackApiViewsOpenRequest, SlackChannelId,
    SlackClientApiCallContext, SlackClientHttpConnector, SlackClientHyperConnector,
    SlackClientHyperHttpsConnector, SlackClientSession, SlackMessageContent, SlackTriggerId,
    SlackTs, SlackUserId, SlackView,
};

use slack_morphism::errors::SlackClientError;

use super::{PLATFORM, render};

/// Where the Web API lives unless `TOCSIN_SLACK_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// How many names `create_channel` tries (`name`, `name-2`, … `name-5`) before giving up.
const NAME_ATTEMPTS: usize = 5;
/// Slack's longest channel name and topic.
const MAX_CHANNEL_NAME: usize = 80;
const MAX_TOPIC: usize = 250;

/// Answers that mean the call may well succeed later: retried like a network failure.
const TRANSIENT: [&str; 4] = [
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// What the client needs. `api_url` is the Web API base (methods are `{api_url}/{method}`).
#[derive(Clone)]
pub struct SlackSettings {
    pub token: String,
    pub api_url: String,
    pub announcements_channel: Option<String>,
}

impl SlackSettings {
    pub fn new(token: impl Into<String>) -> Self {
        SlackSettings {
            token: token.into(),
            ..Default::default()
        }
    }
}

impl Default for SlackSettings {
    fn default() -> Self {
        SlackSettings {
            token: String::new(),
            api_url: DEFAULT_API_URL.to_owned(),
            announcements_channel: None,
        }
    }
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field("token", &"***")
            .field("api_url", &self.api_url)
            .field("announcements_channel", &self.announcements_channel)
            .finish()
    }
}

/// Slack as a chat platform. Cheap to share as `Arc<SlackClient>`.
pub struct SlackClient {
    api: slack_morphism::SlackClient<SlackClientHyperHttpsConnector>,
    token: SlackApiToken,
    announcements: Option<String>,
    limits: Limits,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("announcements", &self.announcements)
            .finish_non_exhaustive()
    }
}

impl SlackClient {
    pub fn new(settings: SlackSettings) -> Result<Self, ChatError> {
        if settings.token.trim().is_empty() {
            return Err(ChatError::Refused("the Slack bot token is empty".into()));
        }
        let api_url = settings.api_url.trim().trim_end_matches('/');
        let parsed = reqwest::Url::parse(api_url)
            .map_err(|e| ChatError::Refused(format!("Slack API URL `{api_url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ChatError::Refused(format!(
                "Slack API URL `{api_url}` is not http(s)"
            )));
        }
        // Plain http too, for loopback stubs and proxies: slack-morphism's own
        // constructor is https-only. The system's roots where it has any (a corporate CA
        // lives there), else the bundled Mozilla roots.
        let tls = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
            Ok(builder) => builder,
            Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots(),
        };
        let connector = tls.https_or_http().enable_http1().build();
        let connector =
            SlackClientHyperConnector::with_connector(connector).with_slack_api_url(api_url);
        Ok(SlackClient {
            api: slack_morphism::SlackClient::new(connector),
            token: SlackApiToken::new(SlackApiTokenValue(settings.token.trim().to_owned())),
            announcements: settings.announcements_channel,
            limits: Limits::new(),
        })
    }

    /// A client from `SLACK_BOT_TOKEN` (`None` when unset or empty) and
    /// `TOCSIN_SLACK_API_URL` (default [`DEFAULT_API_URL`]).
    pub fn from_env(announcements_channel: Option<String>) -> Result<Option<Self>, ChatError> {
        settings_from(
            std::env::var("SLACK_BOT_TOKEN").ok(),
            std::env::var("TOCSIN_SLACK_API_URL").ok(),
            announcements_channel,
        )
        .map(Self::new)
        .transpose()
    }

    /// `views.open` with a `trigger_id` from an interaction or slash command (valid for
    /// three seconds), showing `view` (see [`render::modal`]).
    pub async fn open_view(&self, trigger_id: &str, view: &Value) -> Result<(), ChatError> {
        const METHOD: &str = "views.open";
        let view: SlackView = serde_json::from_value(view.clone())
            .map_err(|e| ChatError::Refused(format!("not a Slack view: {e}")))?;
        let request = SlackApiViewsOpenRequest::new(SlackTriggerId(trigger_id.to_owned()), view);
        self.limits.wait(METHOD, None).await;
        self.session()
            .views_open(&request)
            .await
            .map_err(|e| failure(METHOD, e))?;
        Ok(())
    }

    /// `chat.postEphemeral`: `message` shown only to `user` in `channel`.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        message: &Message,
    ) -> Result<(), ChatError> {
        const METHOD: &str = "chat.postEphemeral";
        let request = SlackApiChatPostEphemeralRequest::new(
            SlackChannelId(channel.to_owned()),
            SlackUserId(user.to_owned()),
            content(message)?,
        );
        self.limits.wait(METHOD, None).await;
        self.session()
            .chat_post_ephemeral(&request)
            .await
            .map_err(|e| failure(METHOD, e))?;
        Ok(())
    }

    /// `users.lookupByEmail`: the member id of the person with this e-mail address in the
    /// workspace, if there is one.
    pub async fn lookup_by_email(&self, email: &str) -> Result<Option<String>, ChatError> {
        const METHOD: &str = "users.lookupByEmail";
        let request = SlackApiUsersLookupByEmailRequest::new(EmailAddress(email.to_owned()));
        self.limits.wait(METHOD, None).await;
        match self.session().users_lookup_by_email(&request).await {
            Ok(found) => Ok(Some(found.user.id.0)),
            Err(e) => match failure(METHOD, e) {
                ChatError::Refused(code) if code == "users_not_found" => Ok(None),
                other => Err(other),
            },
        }
    }

    /// `users.info`: the member's e-mail address, when the app may see it
    /// (`users:read.email`).
    pub async fn email_of(&self, user: &str) -> Result<Option<String>, ChatError> {
        const METHOD: &str = "users.info";
        let request = SlackApiUsersInfoRequest::new(SlackUserId(user.to_owned()));
        self.limits.wait(METHOD, None).await;
        let found = self
            .session()
            .users_info(&request)
            .await
            .map_err(|e| failure(METHOD, e))?;
        Ok(found.user.profile.and_then(|p| p.email).map(|e| e.0))
    }

    /// The text of the message `ts` in `channel` (`conversations.history`, scope
    /// `channels:history`), for a 📌 on it: the reaction event names the message but does
    /// not carry its text. `None` when the message is not there (deleted, or out of reach).
    pub async fn message_text(&self, channel: &str, ts: &str) -> Result<Option<String>, ChatError> {
        const METHOD: &str = "conversations.history";
        let request = SlackApiConversationsHistoryRequest::new()
            .with_channel(SlackChannelId(channel.to_owned()))
            .with_latest(SlackTs(ts.to_owned()))
            .with_inclusive(true)
            .with_limit(1);
        self.limits.wait(METHOD, None).await;
        let found = self
            .session()
            .conversations_history(&request)
            .await
            .map_err(|e| failure(METHOD, e))?;
        Ok(found
            .messages
            .into_iter()
            .find(|m| m.origin.ts.0 == ts)
            .and_then(|m| m.content.text))
    }

    /// POSTs `body` as JSON to a `response_url` from an interaction or slash command.
    ///
    /// Through slack-morphism's connector directly rather than its `respond_to_event`:
    /// that takes a typed request without `response_type`, which decides whether the
    /// answer is ephemeral or in the channel. The bot token is not sent: the URL itself
    /// is the credential.
    pub async fn respond(&self, response_url: &str, body: &Value) -> Result<(), ChatError> {
        const METHOD: &str = "response_url";
        let url = reqwest::Url::parse(response_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| ChatError::Refused("response_url is not an http(s) URL".into()))?;
        let span = tracing::Span::current();
        let context = SlackClientApiCallContext {
            rate_control_params: None,
            token: None,
            tracing_span: &span,
            // Keeps the URL (a secret) out of slack-morphism's logs.
            is_sensitive_url: true,
        };
        let _: Value = self
            .api
            .http_api
            .connector
            .http_post_uri(url, body, context)
            .await
            .map_err(|e| failure(METHOD, e))?;
        Ok(())
    }

    fn session(&self) -> SlackClientSession<'_, SlackClientHyperHttpsConnector> {
        self.api.open_session(&self.token)
    }

    /// A call through slack-morphism's generic JSON method call, for the methods whose
    /// typed request does not say what Slack documents (see the callers).
    async fn call<T: for<'de> Deserialize<'de> + Send>(
        &self,
        method: &'static str,
        params: &Value,
    ) -> Result<T, ChatError> {
        self.limits.wait(method, None).await;
        self.session()
            .http_session_api
            .http_post(method, params, None)
            .await
            .map_err(|e| failure(method, e))
    }

    async fn create(&self, name: &str) -> Result<(String, String), ChatError> {
        const METHOD: &str = "conversations.create";
        let request = SlackApiConversationsCreateRequest::new(name.to_owned());
        self.limits.wait(METHOD, None).await;
        let created = self
            .session()
            .conversations_create(&request)
            .await
            .map_err(|e| failure(METHOD, e))?;
        let name = created.channel.name.unwrap_or_else(|| name.to_owned());
        Ok((created.channel.id.0, name))
    }

    /// One `conversations.invite` call; `users` comma-separated as Slack documents it
    /// (slack-morphism's typed request sends a JSON array), with `force` so that valid
    /// ids are invited even when another in the list is not.
    async fn invite_once(&self, channel: &str, users: &[&str]) -> Result<(), ChatError> {
        let params = json!({ "channel": channel, "users": users.join(","), "force": true });
        let _: Value = self.call("conversations.invite", &params).await?;
        Ok(())
    }
}

/// Settings from the environment's values: none without a token.
fn settings_from(
    token: Option<String>,
    api_url: Option<String>,
    announcements_channel: Option<String>,
) -> Option<SlackSettings> {
    let token = token.filter(|t| !t.trim().is_empty())?;
    Some(SlackSettings {
        token,
        api_url: api_url
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
        announcements_channel,
    })
}

/// The Block Kit rendering as slack-morphism's typed content. Lossless for everything
/// `render::message` produces (a unit test holds it to that).
fn content(message: &Message) -> Result<SlackMessageContent, ChatError> {
    serde_json::from_value(render::message(message))
        .map_err(|e| ChatError::Refused(format!("rendering a Slack message: {e}")))
}

/// The channel and `ts` a message id stands for (see the module docs).
fn split_message_id<'a>(channel: &'a str, message_id: &'a str) -> (&'a str, &'a str) {
    message_id.split_once(':').unwrap_or((channel, message_id))
}

fn failure(method: &str, error: SlackClientError) -> ChatError {
    let error = match error {
        SlackClientError::RateLimitError(e) => ChatError::RateLimited {
            retry_after: e.retry_after,
        },
        SlackClientError::ApiError(e) if e.code == "ratelimited" => {
            ChatError::RateLimited { retry_after: None }
        }
        SlackClientError::ApiError(e) if TRANSIENT.contains(&e.code.as_str()) => {
            ChatError::Unavailable(format!("{method}: {}", e.code))
        }
        SlackClientError::ApiError(e) => ChatError::Refused(e.code),
        SlackClientError::HttpError(e) if e.status_code.is_server_error() => {
            ChatError::Unavailable(format!("{method}: HTTP {}", e.status_code))
        }
        SlackClientError::HttpError(e) => {
            ChatError::Refused(format!("{method}: HTTP {}", e.status_code))
        }
        // Connection failures, a body that is not what Slack sends (a proxy's error
        // page): worth another try later.
        other => ChatError::Unavailable(format!("{method}: {other}")),
    };
    tracing::warn!(platform = PLATFORM, method, %error, "Slack call failed");
    error
}

/// A Slack channel name from any name: lower case letters, digits, `-` and `_`, at most
/// 80 characters, with `suffix` (`-2`) kept whole at the end.
fn channel_name(name: &str, suffix: &str) -> String {
    let mut out = String::new();
    for c in name.trim().trim_start_matches('#').chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_owned();
    if out.is_empty() {
        out = "incident".into();
    }
    out.truncate(MAX_CHANNEL_NAME - suffix.len());
    let mut out = out.trim_end_matches('-').to_owned();
    out.push_str(suffix);
    out
}

#[async_trait]
impl ChatPlatform for SlackClient {
    fn name(&self) -> &str {
        PLATFORM
    }

    fn announcements_channel(&self) -> Option<String> {
        self.announcements.clone()
    }

    async fn post_message(&self, channel: &str, message: &Message) -> Result<String, ChatError> {
        const METHOD: &str = "chat.postMessage";
        let request = SlackApiChatPostMessageRequest::new(
            SlackChannelId(channel.to_owned()),
            content(message)?,
        );
        self.limits.wait(METHOD, Some(channel)).await;
        let posted = self
            .session()
            .chat_post_message(&request)
            .await
            .map_err(|e| failure(METHOD, e))?;
        Ok(if posted.channel.0 == channel {
            posted.ts.0
        } else {
            format!("{}:{}", posted.channel.0, posted.ts.0)
        })
    }

    async fn update_message(
        &self,
        channel: &str,
        message_id: &str,
        message: &Message,
    ) -> Result<(), ChatError> {
        const METHOD: &str = "chat.update";
        let (channel, ts) = split_message_id(channel, message_id);
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId(channel.to_owned()),
            content(message)?,
            SlackTs(ts.to_owned()),
        );
        self.limits.wait(METHOD, None).await;
        self.session()
            .chat_update(&request)
            .await
            .map_err(|e| failure(METHOD, e))?;
        Ok(())
    }

    /// `conversations.create`, then the topic. A taken name (an earlier incident's
    /// channel, an archived one, one a person made) gets a suffix: `name-2`, `name-3`, …
    async fn create_channel(&self, name: &str, topic: &str) -> Result<ChannelRef, ChatError> {
        let mut last = None;
        for attempt in 1..=NAME_ATTEMPTS {
            let suffix = if attempt == 1 {
                String::new()
            } else {
                format!("-{attempt}")
            };
            let candidate = channel_name(name, &suffix);
            match self.create(&candidate).await {
                Ok((channel_id, name)) => {
                    if !topic.trim().is_empty() {
                        // The channel exists now and the caller must learn its id, or a
                        // retry would make a second one; the topic is set again on the
                        // next change anyway.
                        if let Err(e) = self.set_topic(&channel_id, topic).await {
                            tracing::warn!(
                                platform = PLATFORM,
                                channel = %channel_id,
                                error = %e,
                                "created the channel but could not set its topic"
                            );
                        }
                    }
                    return Ok(ChannelRef {
                        platform: PLATFORM.into(),
                        channel_id,
                        name,
                    });
                }
                Err(ChatError::Refused(code)) if code == "name_taken" => {
                    last = Some(ChatError::Refused(code));
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ChatError::Refused("name_taken".into())))
    }

    /// Everyone in one call; people already there (and the bot itself) are not an error.
    /// When Slack refuses the whole list for one of them, each is invited on their own.
    async fn invite(&self, channel: &str, users: &[String]) -> Result<(), ChatError> {
        let tolerated = |e: &ChatError| {
            matches!(e, ChatError::Refused(code)
                if code == "already_in_channel" || code == "cant_invite_self")
        };
        let mut unique: Vec<&str> = Vec::new();
        for user in users.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
            if !unique.contains(&user) {
                unique.push(user);
            }
        }
        if unique.is_empty() {
            return Ok(());
        }
        match self.invite_once(channel, &unique).await {
            Ok(()) => Ok(()),
            Err(e) if tolerated(&e) && unique.len() > 1 => {
                for user in unique {
                    match self.invite_once(channel, &[user]).await {
                        Err(e) if !tolerated(&e) => return Err(e),
                        _ => {}
                    }
                }
                Ok(())
            }
            Err(e) if tolerated(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), ChatError> {
        const METHOD: &str = "conversations.setTopic";
        let request = SlackApiConversationsSetTopicRequest::new(
            SlackChannelId(channel.to_owned()),
            render::truncate(topic, MAX_TOPIC),
        );
        self.limits.wait(METHOD, None).await;
        self.session()
            .conversations_set_topic(&request)
            .await
            .map_err(|e| failure(METHOD, e))?;
        Ok(())
    }

    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), ChatError> {
        const METHOD: &str = "pins.add";
        let (channel, ts) = split_message_id(channel, message_id);
        let request =
            SlackApiPinsAddRequest::new(SlackChannelId(channel.to_owned()), SlackTs(ts.to_owned()));
        self.limits.wait(METHOD, None).await;
        match self.session().pins_add(&request).await {
            Ok(_) => Ok(()),
            Err(e) => match failure(METHOD, e) {
                ChatError::Refused(code) if code == "already_pinned" => Ok(()),
                e => Err(e),
            },
        }
    }

    /// `conversations.open` with the user, then `chat.postMessage` into that DM. The id is
    /// always `<DM channel id>:<ts>`, so `update_message` finds it whatever channel
    /// (the user id, say) it is given.
    async fn send_dm(&self, user: &str, message: &Message) -> Result<String, ChatError> {
        #[derive(Deserialize)]
        struct Opened {
            channel: OpenedChannel,
        }
        #[derive(Deserialize)]
        struct OpenedChannel {
            id: String,
        }
        // `users` as Slack documents it, a comma-separated string (slack-morphism's typed
        // request sends an array).
        let opened: Opened = self
            .call("conversations.open", &json!({ "users": user }))
            .await?;
        let dm = opened.channel.id;
        let id = self.post_message(&dm, message).await?;
        let (channel, ts) = split_message_id(&dm, &id);
        Ok(format!("{channel}:{ts}"))
    }
}

/// Slack's rate-limit tiers, per method and workspace: Tier 1 about 1 call a minute,
/// Tier 2 20, Tier 3 50, Tier 4 100; `chat.postMessage` about one message a second per
/// channel, with short bursts allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Tier {
    Tier1,
    Tier2,
    Tier3,
    Tier4,
    PostMessage,
}

/// The tier of each method this client calls, as Slack publishes them.
const METHOD_TIERS: [(&str, Tier); 10] = [
    ("chat.postEphemeral", Tier::Tier4),
    ("chat.postMessage", Tier::PostMessage),
    ("chat.update", Tier::Tier3),
    ("conversations.create", Tier::Tier2),
    ("conversations.history", Tier::Tier3),
    ("conversations.invite", Tier::Tier3),
    ("conversations.open", Tier::Tier3),
    ("conversations.setTopic", Tier::Tier2),
    ("pins.add", Tier::Tier2),
    ("views.open", Tier::Tier4),
];

impl Tier {
    const ALL: [Tier; 5] = [
        Tier::Tier1,
        Tier::Tier2,
        Tier::Tier3,
        Tier::Tier4,
        Tier::PostMessage,
    ];

    /// A method's tier; one not listed is treated as Tier 2, the commonest.
    fn of(method: &str) -> Tier {
        METHOD_TIERS
            .iter()
            .find(|(m, _)| *m == method)
            .map_or(Tier::Tier2, |(_, t)| *t)
    }

    fn quota(self) -> Quota {
        let n = |v: u32| NonZeroU32::new(v).expect("quota constants are not zero");
        match self {
            Tier::Tier1 => Quota::per_minute(n(1)),
            Tier::Tier2 => Quota::per_minute(n(20)),
            Tier::Tier3 => Quota::per_minute(n(50)),
            Tier::Tier4 => Quota::per_minute(n(100)),
            Tier::PostMessage => Quota::per_second(n(1)).allow_burst(n(5)),
        }
    }
}

/// Waits before each call until its method (for `chat.postMessage`: its method and
/// channel) is within its tier's quota. Per process: replicas share Slack's limits, and a
/// 429 that still comes back becomes a retry after `Retry-After`.
struct Limits {
    tiers: HashMap<Tier, DefaultKeyedRateLimiter<String>>,
}

impl Limits {
    /// Keys kept before idle ones (one per channel posted to) are dropped.
    const MAX_KEYS: usize = 1024;

    fn new() -> Self {
        Limits {
            tiers: Tier::ALL
                .into_iter()
                .map(|t| (t, RateLimiter::keyed(t.quota())))
                .collect(),
        }
    }

    async fn wait(&self, method: &str, channel: Option<&str>) {
        let tier = Tier::of(method);
        let key = match (tier, channel) {
            (Tier::PostMessage, Some(channel)) => format!("{method} {channel}"),
            _ => method.to_owned(),
        };
        let Some(limiter) = self.tiers.get(&tier) else {
            return;
        };
        limiter.until_key_ready(&key).await;
        if limiter.len() > Self::MAX_KEYS {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_core::chat::{Button, ButtonStyle, Dialog, DialogField, DialogFieldKind, Field, Tone};

    use crate::slack::test_fixture as fixture;

    #[test]
    fn method_tiers_are_slacks() {
        let published = fixture("web-api/rate_limit_tiers.json");
        for (method, tier) in METHOD_TIERS {
            let expected = match tier {
                Tier::Tier1 => "Tier1",
                Tier::Tier2 => "Tier2",
                Tier::Tier3 => "Tier3",
                Tier::Tier4 => "Tier4",
                Tier::PostMessage => "SpecialTier_chat_postMessage",
            };
            assert_eq!(published[method], expected, "{method}");
        }
    }

    #[test]
    fn rendered_messages_and_modals_survive_slack_morphisms_types() {
        let message = Message {
            title: Some("INC-7 Search is slow".into()),
            tone: Some(Tone::Major),
            fields: (0..12)
                .map(|i| Field {
                    label: format!("Field {i}"),
                    value: "a & b".into(),
                })
                .collect(),
            text: vec!["one".into(), "two <three>".into()],
            buttons: vec![
                Button {
                    action: "ack".into(),
                    value: "7".into(),
                    label: "Acknowledge".into(),
                    style: ButtonStyle::Primary,
                },
                Button {
                    action: "resolve".into(),
                    value: "7".into(),
                    label: "Resolve".into(),
                    style: ButtonStyle::Danger,
                },
                Button {
                    action: "status".into(),
                    value: "7".into(),
                    label: "Status".into(),
                    style: ButtonStyle::Default,
                },
            ],
            context: Some("Declared by alice".into()),
        };
        let rendered = render::message(&message);
        let typed = content(&message).expect("typed content");
        assert_eq!(serde_json::to_value(&typed).expect("serialises"), rendered);

        let options = vec![
            ("a".to_owned(), "A".to_owned()),
            ("b".to_owned(), "B".to_owned()),
        ];
        let dialog = Dialog {
            id: "declare".into(),
            title: "Declare".into(),
            submit_label: "Go".into(),
            fields: vec![
                DialogField {
                    name: "title".into(),
                    label: "Title".into(),
                    kind: DialogFieldKind::Text { max_length: 100 },
                    required: true,
                    initial: Some("x".into()),
                    placeholder: Some("What broke?".into()),
                },
                DialogField {
                    name: "notes".into(),
                    label: "Notes".into(),
                    kind: DialogFieldKind::Paragraph { max_length: 0 },
                    required: false,
                    initial: None,
                    placeholder: None,
                },
                DialogField {
                    name: "one".into(),
                    label: "One".into(),
                    kind: DialogFieldKind::Select {
                        options: options.clone(),
                    },
                    required: true,
                    initial: Some("b".into()),
                    placeholder: Some("Pick".into()),
                },
                DialogField {
                    name: "many".into(),
                    label: "Many".into(),
                    kind: DialogFieldKind::MultiSelect { options },
                    required: false,
                    initial: Some("a,b".into()),
                    placeholder: None,
                },
            ],
        };
        let view = render::modal(&dialog, "{\"incident\":7}");
        let typed: SlackView = serde_json::from_value(view.clone()).expect("typed view");
        assert_eq!(serde_json::to_value(&typed).expect("serialises"), view);
    }

    #[test]
    fn settings_come_from_the_environment_values() {
        assert!(settings_from(None, None, None).is_none());
        assert!(settings_from(Some("  ".into()), None, None).is_none());
        let s = settings_from(
            Some("xoxb-1".into()),
            Some(String::new()),
            Some("C1".into()),
        )
        .expect("settings");
        assert_eq!(s.api_url, DEFAULT_API_URL);
        assert_eq!(s.announcements_channel.as_deref(), Some("C1"));
        let s = settings_from(
            Some("xoxb-1".into()),
            Some("http://127.0.0.1:9/api".into()),
            None,
        )
        .expect("settings");
        assert_eq!(s.api_url, "http://127.0.0.1:9/api");
        assert!(
            !format!("{s:?}").contains("xoxb-1"),
            "the token is not printed"
        );
    }

    #[test]
    fn clients_need_a_token_and_an_http_url() {
        assert!(SlackClient::new(SlackSettings::new("")).is_err());
        let bad_url = SlackSettings {
            api_url: "ftp://example.com/api".into(),
            ..SlackSettings::new("xoxb-1")
        };
        assert!(SlackClient::new(bad_url).is_err());
        assert!(SlackClient::new(SlackSettings::new("xoxb-1")).is_ok());
    }

    #[test]
    fn channel_names_are_what_slack_accepts() {
        assert_eq!(channel_name("inc-42-checkout", ""), "inc-42-checkout");
        assert_eq!(channel_name("#Inc 42: Checkout!", ""), "inc-42-checkout");
        assert_eq!(channel_name("inc_42", "-2"), "inc_42-2");
        assert_eq!(channel_name("¡¡", ""), "incident");
        let long = channel_name(&"x".repeat(100), "-3");
        assert_eq!(long.len(), MAX_CHANNEL_NAME);
        assert!(long.ends_with("x-3"), "{long}");
    }

    #[test]
    fn message_ids_may_name_their_channel() {
        assert_eq!(
            split_message_id("C1", "1700000000.000100"),
            ("C1", "1700000000.000100")
        );
        assert_eq!(
            split_message_id("U1", "D9:1700000000.000100"),
            ("D9", "1700000000.000100")
        );
    }
}
