//! The `ChatPlatform` port over Discord's REST API (v10), called directly over reqwest (no
//! serenity: that would bring a second TLS and WebSocket stack), plus the interaction
//! follow-ups the inbound handlers need.
//!
//! Failures: a 429 becomes `ChatError::RateLimited` with Discord's `retry_after`, so the
//! job is retried after it; a global one also holds back every other call until then. A
//! response saying a bucket is spent (`X-RateLimit-Remaining: 0`) makes the next call on
//! that route wait `X-RateLimit-Reset-After` first (or, when that is long, fail as rate
//! limited without calling). Other 4xx are `Refused` with Discord's `message` and `code`;
//! 5xx and network failures are `Unavailable`.
//!
//! Message ids: `post_message` returns the message's snowflake; `send_dm` returns
//! `<DM channel id>:<message id>`, and `update_message` and `pin` use the channel named in
//! such an id instead of the one they are given (a snowflake never contains `:`).
//!
//! The bot token goes only to the REST base URL and never to webhook routes, where the
//! interaction token in the path is the credential; neither is logged (error texts name
//! the route template, not the URL).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bot_core::chat::{ChatError, ChatPlatform, Message};
use bot_core::model::ChannelRef;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{PLATFORM, render};

/// Where the REST API lives unless settings say otherwise.
pub const DEFAULT_API_URL: &str = "https://discord.com/api/v10";

/// Discord's longest channel name and topic.
const MAX_CHANNEL_NAME: usize = 100;
const MAX_TOPIC: usize = 1024;
/// Channel types: a guild text channel, and a public thread.
const GUILD_TEXT: u64 = 0;
const PUBLIC_THREAD: u64 = 11;
/// A thread is archived after a week without messages (Discord's longest).
const THREAD_ARCHIVE_MINUTES: u64 = 10_080;
/// Permission overwrite type of a member.
const MEMBER_OVERWRITE: u64 = 1;
/// VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY.
const INVITE_PERMISSIONS: u64 = (1 << 10) | (1 << 11) | (1 << 16);
/// The longest wait for a spent bucket before a call; longer ones fail as rate limited so
/// the job queue retries later instead of holding a worker.
const MAX_WAIT: Duration = Duration::from_secs(10);
/// A request's whole time budget.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What the client needs. `api_url` is the REST base, routes are `{api_url}/channels/…`.
#[derive(Clone)]
pub struct DiscordSettings {
    pub token: String,
    pub api_url: String,
    pub application_id: String,
    pub guild_id: String,
    /// The category incident channels are created in.
    pub category_id: Option<String>,
    /// The channel where new incidents are announced: an id, or a text channel's name.
    pub announcements_channel: Option<String>,
    /// Whether an incident gets a text channel or a thread.
    pub incident_channels: IncidentChannels,
    /// Where threads are started in [`IncidentChannels::Thread`] mode: an id or a name.
    pub threads_channel: Option<String>,
}

/// What an incident's channel is on Discord (`[discord] incident_channels`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IncidentChannels {
    /// A text channel in the configured category; people are added by permission
    /// overwrites.
    #[default]
    Channel,
    /// A public thread in `threads_channel`; people are added as thread members.
    Thread,
}

impl Default for DiscordSettings {
    fn default() -> Self {
        DiscordSettings {
            token: String::new(),
            api_url: DEFAULT_API_URL.to_owned(),
            application_id: String::new(),
            guild_id: String::new(),
            category_id: None,
            announcements_channel: None,
            incident_channels: IncidentChannels::Channel,
            threads_channel: None,
        }
    }
}

impl std::fmt::Debug for DiscordSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordSettings")
            .field("token", &"***")
            .field("api_url", &self.api_url)
            .field("application_id", &self.application_id)
            .field("guild_id", &self.guild_id)
            .field("category_id", &self.category_id)
            .field("announcements_channel", &self.announcements_channel)
            .field("incident_channels", &self.incident_channels)
            .field("threads_channel", &self.threads_channel)
            .finish()
    }
}

/// Discord as a chat platform. Cheap to share as `Arc<DiscordClient>`.
pub struct DiscordClient {
    http: reqwest::Client,
    base: String,
    auth: HeaderValue,
    application_id: String,
    guild_id: String,
    category_id: Option<String>,
    announcements: Option<String>,
    incident_channels: IncidentChannels,
    threads_channel: Option<String>,
    /// Channel names already looked up -> their ids.
    names: Mutex<HashMap<String, String>>,
    limits: Limits,
}

impl std::fmt::Debug for DiscordClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordClient")
            .field("base", &self.base)
            .field("guild_id", &self.guild_id)
            .finish_non_exhaustive()
    }
}

/// Who a call authenticates as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    Bot,
    /// A webhook route: the token in the path is the credential.
    None,
}

impl DiscordClient {
    pub fn new(settings: DiscordSettings) -> Result<Self, ChatError> {
        let token = settings.token.trim();
        let token = token.strip_prefix("Bot ").unwrap_or(token).trim();
        if token.is_empty() {
            return Err(ChatError::Refused("the Discord bot token is empty".into()));
        }
        if settings.incident_channels == IncidentChannels::Thread
            && settings
                .threads_channel
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
        {
            return Err(ChatError::Refused(
                "Discord incident threads need a channel to start them in (threads_channel)".into(),
            ));
        }
        for (what, value) in [
            ("application id", &settings.application_id),
            ("guild id", &settings.guild_id),
        ] {
            if value.trim().is_empty() {
                return Err(ChatError::Refused(format!("the Discord {what} is empty")));
            }
        }
        let base = settings.api_url.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| ChatError::Refused(format!("Discord API URL `{base}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ChatError::Refused(format!(
                "Discord API URL `{base}` is not http(s)"
            )));
        }
        let mut auth = HeaderValue::from_str(&format!("Bot {token}")).map_err(|_| {
            ChatError::Refused("the Discord bot token is not a header value".into())
        })?;
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!(
                "DiscordBot (https://github.com/tocsin, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .build()
            .map_err(|e| ChatError::Unavailable(format!("building the HTTP client: {e}")))?;
        Ok(DiscordClient {
            http,
            base,
            auth,
            application_id: settings.application_id.trim().to_owned(),
            guild_id: settings.guild_id.trim().to_owned(),
            category_id: settings.category_id.filter(|c| !c.trim().is_empty()),
            announcements: settings.announcements_channel,
            incident_channels: settings.incident_channels,
            threads_channel: settings.threads_channel.filter(|c| !c.trim().is_empty()),
            names: Mutex::new(HashMap::new()),
            limits: Limits::default(),
        })
    }

    /// A follow-up message to an interaction: `POST /webhooks/{application_id}/{token}`.
    /// No bot token: the interaction token (valid 15 minutes) is the credential.
    pub async fn followup(&self, interaction_token: &str, body: &Value) -> Result<(), ChatError> {
        let path = format!(
            "/webhooks/{}/{}",
            self.application_id,
            segment(interaction_token)
        );
        self.call(
            Method::POST,
            "POST /webhooks/{application_id}/{token}",
            &path,
            Some(body),
            Auth::None,
        )
        .await?;
        Ok(())
    }

    /// Edits the interaction's original response:
    /// `PATCH /webhooks/{application_id}/{token}/messages/@original`, without the bot token.
    pub async fn edit_original(
        &self,
        interaction_token: &str,
        body: &Value,
    ) -> Result<(), ChatError> {
        let path = format!(
            "/webhooks/{}/{}/messages/@original",
            self.application_id,
            segment(interaction_token)
        );
        self.call(
            Method::PATCH,
            "PATCH /webhooks/{application_id}/{token}/messages/@original",
            &path,
            Some(body),
            Auth::None,
        )
        .await?;
        Ok(())
    }

    /// Installs `commands` (an array of application command definitions) with a bulk
    /// overwrite: in one guild (`PUT /applications/{id}/guilds/{guild}/commands`, at once)
    /// or globally (`PUT /applications/{id}/commands`, which Discord may take up to an hour
    /// to show). Commands not in the array are removed. Returns how many Discord now has.
    pub async fn register_commands(
        &self,
        commands: &Value,
        guild: Option<&str>,
    ) -> Result<usize, ChatError> {
        let answer = match guild {
            Some(guild) => {
                let path = format!(
                    "/applications/{}/guilds/{}/commands",
                    self.application_id,
                    segment(guild)
                );
                self.call(
                    Method::PUT,
                    "PUT /applications/{application_id}/guilds/{guild_id}/commands",
                    &path,
                    Some(commands),
                    Auth::Bot,
                )
                .await?
            }
            None => {
                let path = format!("/applications/{}/commands", self.application_id);
                self.call(
                    Method::PUT,
                    "PUT /applications/{application_id}/commands",
                    &path,
                    Some(commands),
                    Auth::Bot,
                )
                .await?
            }
        };
        Ok(answer
            .as_ref()
            .and_then(Value::as_array)
            .map_or(0, Vec::len))
    }

    /// One call. `route` (the method and path template) names the rate-limit bucket and
    /// the call in errors and logs; `path` is what is requested.
    async fn call(
        &self,
        method: Method,
        route: &'static str,
        path: &str,
        body: Option<&Value>,
        auth: Auth,
    ) -> Result<Option<Value>, ChatError> {
        self.limits.before(route).await?;
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if auth == Auth::Bot {
            request = request.header(AUTHORIZATION, self.auth.clone());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            // Without the URL: a webhook URL holds the interaction token.
            let e = e.without_url();
            warn(route, ChatError::Unavailable(format!("{route}: {e}")))
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        self.limits.after(route, status, &headers);
        let text = response.text().await.map_err(|e| {
            let e = e.without_url();
            warn(route, ChatError::Unavailable(format!("{route}: {e}")))
        })?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return Ok(json);
        }
        let error = if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = retry_after(json.as_ref(), &headers);
            let global = json.as_ref().and_then(|j| j["global"].as_bool()) == Some(true)
                || header(&headers, "x-ratelimit-global").is_some_and(|g| g == "true");
            self.limits.limited(route, retry_after, global);
            ChatError::RateLimited { retry_after }
        } else if status.is_server_error() {
            ChatError::Unavailable(format!("{route}: HTTP {}", status.as_u16()))
        } else {
            let message = json
                .as_ref()
                .and_then(|j| j["message"].as_str())
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("refused"));
            match json.as_ref().and_then(|j| j["code"].as_u64()) {
                Some(code) => ChatError::Refused(format!("{route}: {message} (code {code})")),
                None => {
                    ChatError::Refused(format!("{route}: {message} (HTTP {})", status.as_u16()))
                }
            }
        };
        Err(warn(route, error))
    }

    /// The text of a message, for a 📌 on it (the reaction event does not carry it):
    /// `GET /channels/{channel_id}/messages/{message_id}`. Reading it needs the
    /// `MESSAGE_CONTENT` intent, as capturing does.
    pub async fn message_text(&self, channel: &str, message_id: &str) -> Result<String, ChatError> {
        let path = format!(
            "/channels/{}/messages/{}",
            segment(channel),
            segment(message_id)
        );
        let message = self
            .call(
                Method::GET,
                "GET /channels/{channel_id}/messages/{message_id}",
                &path,
                None,
                Auth::Bot,
            )
            .await?;
        Ok(message
            .as_ref()
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_owned())
    }

    /// The id of a channel given by id or by name: configuration names channels the way
    /// people know them (`alerts_channel = "alerts"`), Discord's routes want ids. A name
    /// is looked up among the guild's text channels once, then remembered.
    async fn channel_id(&self, channel: &str) -> Result<String, ChatError> {
        let channel = channel.trim();
        if is_snowflake(channel) || channel.contains(':') {
            return Ok(channel.to_owned());
        }
        let name = channel_name(channel);
        if let Some(id) = self.lock_names().get(&name) {
            return Ok(id.clone());
        }
        let found = self.find_channel(&name).await?.ok_or_else(|| {
            ChatError::Refused(format!(
                "there is no text channel #{name} in the Discord guild: create it, or configure its id"
            ))
        })?;
        self.lock_names().insert(name, found.channel_id.clone());
        Ok(found.channel_id)
    }

    fn lock_names(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A thread for an incident in the threads channel: the active one with that name if
    /// a rerun finds it, else a new public thread.
    async fn create_thread(&self, name: &str) -> Result<ChannelRef, ChatError> {
        let parent = self
            .channel_id(self.threads_channel.as_deref().unwrap_or_default())
            .await?;
        let path = format!("/guilds/{}/threads/active", self.guild_id);
        let active = self
            .call(
                Method::GET,
                "GET /guilds/{guild_id}/threads/active",
                &path,
                None,
                Auth::Bot,
            )
            .await?
            .unwrap_or_default();
        let existing = active["threads"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| {
                t["name"].as_str() == Some(name) && t["parent_id"].as_str() == Some(parent.as_str())
            });
        if let Some(thread) = existing.and_then(|t| channel_ref(t, name)) {
            return Ok(thread);
        }
        let body = json!({
            "name": name,
            "type": PUBLIC_THREAD,
            "auto_archive_duration": THREAD_ARCHIVE_MINUTES,
        });
        let path = format!("/channels/{}/threads", segment(&parent));
        let created = self
            .call(
                Method::POST,
                "POST /channels/{channel_id}/threads",
                &path,
                Some(&body),
                Auth::Bot,
            )
            .await?;
        created
            .as_ref()
            .and_then(|c| channel_ref(c, name))
            .ok_or_else(|| {
                ChatError::Unavailable("Discord answered a new thread without an id".into())
            })
    }

    /// `PUT /channels/{thread}/thread-members/{user}` per person.
    async fn add_thread_members(&self, thread: &str, users: &[String]) -> Result<(), ChatError> {
        let mut done: Vec<&str> = Vec::new();
        for user in users.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
            if done.contains(&user) {
                continue;
            }
            let path = format!(
                "/channels/{}/thread-members/{}",
                segment(thread),
                segment(user)
            );
            self.call(
                Method::PUT,
                "PUT /channels/{channel_id}/thread-members/{user_id}",
                &path,
                None,
                Auth::Bot,
            )
            .await?;
            done.push(user);
        }
        Ok(())
    }

    /// The existing text channel called `name` in the guild, if any.
    async fn find_channel(&self, name: &str) -> Result<Option<ChannelRef>, ChatError> {
        let path = format!("/guilds/{}/channels", self.guild_id);
        let channels = self
            .call(
                Method::GET,
                "GET /guilds/{guild_id}/channels",
                &path,
                None,
                Auth::Bot,
            )
            .await?
            .unwrap_or_default();
        let found =
            channels.as_array().into_iter().flatten().find(|c| {
                c["type"].as_u64() == Some(GUILD_TEXT) && c["name"].as_str() == Some(name)
            });
        Ok(found.and_then(|c| channel_ref(c, name)))
    }
}

fn channel_ref(channel: &Value, name: &str) -> Option<ChannelRef> {
    Some(ChannelRef {
        platform: PLATFORM.into(),
        channel_id: channel["id"].as_str()?.to_owned(),
        name: channel["name"].as_str().unwrap_or(name).to_owned(),
    })
}

fn warn(route: &str, error: ChatError) -> ChatError {
    tracing::warn!(platform = PLATFORM, route, %error, "Discord call failed");
    error
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Seconds as a duration, for the non-negative finite numbers Discord sends.
fn seconds(s: f64) -> Option<Duration> {
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(86_400.0)))
}

/// A 429's delay: the body's `retry_after` (seconds, fractional), else `Retry-After`.
fn retry_after(body: Option<&Value>, headers: &HeaderMap) -> Option<Duration> {
    body.and_then(|b| b["retry_after"].as_f64())
        .or_else(|| header(headers, "retry-after")?.trim().parse().ok())
        .and_then(seconds)
}

/// A path segment from an id or token that arrived from outside: no `/`, `?` or `#`
/// that would make it another route.
fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s.trim(), percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Whether `s` is a Discord id (a snowflake: decimal digits).
fn is_snowflake(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The channel and message a message id stands for (see the module docs).
fn split_message_id<'a>(channel: &'a str, message_id: &'a str) -> (&'a str, &'a str) {
    message_id.split_once(':').unwrap_or((channel, message_id))
}

/// A Discord channel name: lower case letters, digits, `-` and `_`, at most 100.
fn channel_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().trim_start_matches('#').chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out: String = out
        .trim_end_matches('-')
        .chars()
        .take(MAX_CHANNEL_NAME)
        .collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "incident".to_owned()
    } else {
        out
    }
}

#[async_trait]
impl ChatPlatform for DiscordClient {
    fn name(&self) -> &str {
        PLATFORM
    }

    fn announcements_channel(&self) -> Option<String> {
        self.announcements.clone()
    }

    async fn post_message(&self, channel: &str, message: &Message) -> Result<String, ChatError> {
        let channel = self.channel_id(channel).await?;
        let path = format!("/channels/{}/messages", segment(&channel));
        let posted = self
            .call(
                Method::POST,
                "POST /channels/{channel_id}/messages",
                &path,
                Some(&render::message(message)),
                Auth::Bot,
            )
            .await?;
        posted
            .as_ref()
            .and_then(|m| m["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| ChatError::Unavailable("Discord answered a post without an id".into()))
    }

    async fn update_message(
        &self,
        channel: &str,
        message_id: &str,
        message: &Message,
    ) -> Result<(), ChatError> {
        let (channel, id) = split_message_id(channel, message_id);
        let channel = self.channel_id(channel).await?;
        let path = format!("/channels/{}/messages/{}", segment(&channel), segment(id));
        self.call(
            Method::PATCH,
            "PATCH /channels/{channel_id}/messages/{message_id}",
            &path,
            Some(&render::message(message)),
            Auth::Bot,
        )
        .await?;
        Ok(())
    }

    /// The guild's text channel with that name if there is one (a rerun of the job after
    /// the channel was made), else a new one in the configured category; in thread mode,
    /// a thread instead (threads have no topic).
    async fn create_channel(&self, name: &str, topic: &str) -> Result<ChannelRef, ChatError> {
        let name = channel_name(name);
        if self.incident_channels == IncidentChannels::Thread {
            return self.create_thread(&name).await;
        }
        if let Some(existing) = self.find_channel(&name).await? {
            return Ok(existing);
        }
        let mut body = json!({ "name": name, "type": GUILD_TEXT });
        if !topic.trim().is_empty() {
            body["topic"] = json!(render::truncate(topic, MAX_TOPIC));
        }
        if let Some(category) = &self.category_id {
            body["parent_id"] = json!(category);
        }
        let path = format!("/guilds/{}/channels", self.guild_id);
        let created = self
            .call(
                Method::POST,
                "POST /guilds/{guild_id}/channels",
                &path,
                Some(&body),
                Auth::Bot,
            )
            .await?;
        created
            .as_ref()
            .and_then(|c| channel_ref(c, &name))
            .ok_or_else(|| {
                ChatError::Unavailable("Discord answered a new channel without an id".into())
            })
    }

    /// A member permission overwrite per person: they may see the channel, read its
    /// history and write in it; in thread mode, each person is added to the thread.
    /// Either again is harmless.
    async fn invite(&self, channel: &str, users: &[String]) -> Result<(), ChatError> {
        if self.incident_channels == IncidentChannels::Thread {
            return self.add_thread_members(channel, users).await;
        }
        let mut done: Vec<&str> = Vec::new();
        let body = json!({
            "type": MEMBER_OVERWRITE,
            "allow": INVITE_PERMISSIONS.to_string(),
        });
        for user in users.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
            if done.contains(&user) {
                continue;
            }
            let path = format!(
                "/channels/{}/permissions/{}",
                segment(channel),
                segment(user)
            );
            self.call(
                Method::PUT,
                "PUT /channels/{channel_id}/permissions/{overwrite_id}",
                &path,
                Some(&body),
                Auth::Bot,
            )
            .await?;
            done.push(user);
        }
        Ok(())
    }

    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), ChatError> {
        if self.incident_channels == IncidentChannels::Thread {
            // A thread has no topic; its first message (the pinned card) says it all.
            tracing::debug!(platform = PLATFORM, "a Discord thread has no topic to set");
            return Ok(());
        }
        let path = format!("/channels/{}", segment(channel));
        let body = json!({ "topic": render::truncate(topic, MAX_TOPIC) });
        self.call(
            Method::PATCH,
            "PATCH /channels/{channel_id}",
            &path,
            Some(&body),
            Auth::Bot,
        )
        .await?;
        Ok(())
    }

    /// `PUT /channels/{channel_id}/messages/pins/{message_id}`, the route Discord's
    /// OpenAPI description names `create_pin` (`/channels/{id}/pins/{id}` is deprecated).
    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), ChatError> {
        let (channel, id) = split_message_id(channel, message_id);
        let channel = self.channel_id(channel).await?;
        let path = format!(
            "/channels/{}/messages/pins/{}",
            segment(&channel),
            segment(id)
        );
        self.call(
            Method::PUT,
            "PUT /channels/{channel_id}/messages/pins/{message_id}",
            &path,
            None,
            Auth::Bot,
        )
        .await?;
        Ok(())
    }

    /// Opens (or finds) the DM channel with `user`, then posts there. The id is
    /// `<DM channel id>:<message id>`, so `update_message` finds it whatever channel it is
    /// given.
    async fn send_dm(&self, user: &str, message: &Message) -> Result<String, ChatError> {
        let opened = self
            .call(
                Method::POST,
                "POST /users/@me/channels",
                "/users/@me/channels",
                Some(&json!({ "recipient_id": user.trim() })),
                Auth::Bot,
            )
            .await?;
        let dm = opened
            .as_ref()
            .and_then(|c| c["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| ChatError::Unavailable("Discord answered a DM without an id".into()))?;
        let id = self.post_message(&dm, message).await?;
        Ok(format!("{dm}:{id}"))
    }
}

/// Discord's rate limits as the responses report them: per route (a close enough stand-in
/// for Discord's buckets), and the global one. Per process: replicas share Discord's
/// limits, and a 429 that still comes back becomes a retry after `retry_after`.
#[derive(Default)]
struct Limits {
    state: Mutex<LimitState>,
}

#[derive(Default)]
struct LimitState {
    /// Route -> when its spent bucket resets.
    routes: HashMap<&'static str, Instant>,
    global: Option<Instant>,
}

impl Limits {
    fn lock(&self) -> std::sync::MutexGuard<'_, LimitState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until `route` and the global limit allow a call; fails when that is further
    /// off than [`MAX_WAIT`].
    async fn before(&self, route: &'static str) -> Result<(), ChatError> {
        let until = {
            let state = self.lock();
            let route = state.routes.get(route).copied();
            route.into_iter().chain(state.global).max()
        };
        let Some(until) = until else {
            return Ok(());
        };
        let wait = until.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            return Ok(());
        }
        if wait > MAX_WAIT {
            return Err(ChatError::RateLimited {
                retry_after: Some(wait),
            });
        }
        tracing::debug!(
            platform = PLATFORM,
            route,
            ?wait,
            "waiting for Discord's rate limit"
        );
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Notes a spent bucket from a response's headers.
    fn after(&self, route: &'static str, status: StatusCode, headers: &HeaderMap) {
        if status == StatusCode::TOO_MANY_REQUESTS {
            return;
        }
        let spent = header(headers, "x-ratelimit-remaining").is_some_and(|r| r.trim() == "0");
        let reset = header(headers, "x-ratelimit-reset-after")
            .and_then(|r| r.trim().parse::<f64>().ok())
            .and_then(seconds);
        let mut state = self.lock();
        let now = Instant::now();
        state.routes.retain(|_, until| *until > now);
        match (spent, reset) {
            (true, Some(reset)) => {
                state.routes.insert(route, now + reset);
            }
            _ => {
                state.routes.remove(route);
            }
        }
    }

    /// A 429: the route (or, when global, every call) waits `retry_after`.
    fn limited(&self, route: &'static str, retry_after: Option<Duration>, global: bool) {
        let Some(retry_after) = retry_after else {
            return;
        };
        let until = Instant::now() + retry_after;
        let mut state = self.lock();
        if global {
            state.global = Some(state.global.map_or(until, |g| g.max(until)));
        } else {
            state.routes.insert(route, until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DiscordSettings {
        DiscordSettings {
            token: "Bot secret-token".into(),
            application_id: "1".into(),
            guild_id: "2".into(),
            ..Default::default()
        }
    }

    #[test]
    fn clients_need_a_token_ids_and_an_http_url() {
        assert!(DiscordClient::new(settings()).is_ok());
        let no_token = DiscordSettings {
            token: " ".into(),
            ..settings()
        };
        assert!(DiscordClient::new(no_token).is_err());
        let no_guild = DiscordSettings {
            guild_id: String::new(),
            ..settings()
        };
        assert!(DiscordClient::new(no_guild).is_err());
        let bad_url = DiscordSettings {
            api_url: "ftp://example.com".into(),
            ..settings()
        };
        assert!(DiscordClient::new(bad_url).is_err());
        assert!(!format!("{:?}", settings()).contains("secret-token"));
    }

    #[test]
    fn channel_names_are_what_discord_accepts() {
        assert_eq!(channel_name("inc-42-checkout"), "inc-42-checkout");
        assert_eq!(channel_name("#Inc 42: Checkout!"), "inc-42-checkout");
        assert_eq!(channel_name("¡¡"), "incident");
        assert_eq!(channel_name(&"x".repeat(150)).len(), MAX_CHANNEL_NAME);
    }

    #[test]
    fn message_ids_may_name_their_channel() {
        assert_eq!(split_message_id("1", "2"), ("1", "2"));
        assert_eq!(split_message_id("9", "3:4"), ("3", "4"));
        assert_eq!(segment("a/b?c"), "a%2Fb%3Fc");
    }
}
