//! The `ChatPlatform` port over the Bot Connector REST API (v3), which is how a Teams bot
//! speaks first: cards posted to channels and updated in place, proactive 1:1 chats,
//! threads started in a channel, replies to an activity. Incident channels are made with
//! Microsoft Graph, because the Bot Connector cannot create channels.
//!
//! Where things go:
//! - `post_message(conversation, …)`: `POST {serviceUrl}/v3/conversations/{id}/activities`.
//!   A conversation is a channel (`19:…@thread.tacv2`: a new post in it), a thread in one
//!   (`19:…@thread.tacv2;messageid=…`: a reply in it) or a personal chat (`a:…`).
//! - `update_message`: `PUT …/activities/{activityId}`, the card replaced in place.
//! - `send_dm(user, …)`: `POST {serviceUrl}/v3/conversations` for the 1:1 chat with `user`,
//!   then a post there. `user` is what `[users.chat] teams = "…"` holds: the person's Teams
//!   user id, `29:…` (the `from.id` of their activities), which is what the connector takes
//!   as a member. The bot must be installed for them (personally or in a team they are in).
//! - `create_channel`: in [`ChannelMode::Channel`], a standard channel in the team through
//!   Graph (`POST /teams/{team-id}/channels`, after looking for one with that name, so a
//!   rerun finds it); in [`ChannelMode::Thread`], a thread started in the incidents channel
//!   (`POST /v3/conversations` with the channel in `channelData`), whose conversation id
//!   (`19:…;messageid=…`) is the "channel". Threads cannot be found by name, so a rerun
//!   finds one only while the process that started it lives.
//! - `invite` does nothing: everyone in the team sees a standard channel (and the thread).
//! - `set_topic` sets the channel's description through Graph; threads have none.
//! - `pin` does nothing: bots cannot pin in Teams. The card is the thread's first message.
//!
//! Message ids: `post_message` returns the activity id from the connector's
//! `ResourceResponse`. `send_dm` returns `<conversation id>|<activity id>`, and
//! `update_message` uses the conversation named in such an id instead of the one it is
//! given (the user id the caller knows). Conversation and activity ids never contain `|`.
//!
//! Failures: a 429 or a 5xx (or no answer at all) is tried again, up to 3 attempts,
//! after `Retry-After` (seconds) or a short backoff; a wait over 10 seconds, or the last
//! attempt failing, ends as `RateLimited { retry_after }` or `Unavailable`, so the job
//! queue retries later without holding a worker. A 401 drops the cached token and tries
//! once more with a new one. Other 4xx are `Refused` with the `ErrorResponse`'s
//! `error.code` and `error.message` (Graph answers the same shape).
//!
//! The tokens go only to the service URL and the Graph URL and are never logged: error
//! texts name the route template, not the URL. The service URL comes from settings and,
//! later, from activities whose JWT was checked ([`TeamsClient::set_service_url`]); it is
//! where the bot token goes, so it must never come from anything unauthenticated.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bot_core::chat::{ChatError, ChatPlatform, Message};
use bot_core::model::ChannelRef;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::token::{AppCredentials, TokenSource};
use super::{PLATFORM, render};

/// The Bot Connector's global service URL, until an activity names a regional one.
pub const DEFAULT_SERVICE_URL: &str = "https://smba.trafficmanager.net/teams/";
/// Microsoft Graph's base unless settings say otherwise (`TOCSIN_GRAPH_API_URL`).
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";

/// Attempts of a call that is rate limited or meets a server error.
const MAX_ATTEMPTS: u32 = 3;
/// The longest wait before trying again; longer ones go back to the job queue.
const MAX_WAIT: Duration = Duration::from_secs(10);
/// The first wait when the answer says none; doubled each time.
const BACKOFF: Duration = Duration::from_millis(500);
/// A request's whole time budget.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Teams' longest channel name and description.
const MAX_CHANNEL_NAME: usize = 50;
const MAX_DESCRIPTION: usize = 1024;
/// What a thread's conversation id adds to its channel's.
const THREAD_MARK: &str = ";messageid=";
/// Between the conversation and the activity in the ids `send_dm` returns.
const ID_SEPARATOR: char = '|';
/// Path segments keep letters, digits, `-` and `_`; everything else in an id (`:`, `@`,
/// `;`, `.`, `/`) is escaped, so no id can become another route.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// What an incident "channel" is in Teams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelMode {
    /// A standard channel in the team, created through Graph (needs the `Channel.Create`
    /// application permission, and a team has at most 200 channels, deleted ones
    /// included for 30 days).
    #[default]
    Channel,
    /// A thread in the incidents channel, started by the bot (needs nothing more than the
    /// bot installed in the team).
    Thread,
}

impl FromStr for ChannelMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "channel" => Ok(ChannelMode::Channel),
            "thread" => Ok(ChannelMode::Thread),
            other => Err(format!(
                "`{other}` is not a Teams channel mode (channel, thread)"
            )),
        }
    }
}

/// What the client needs. `Debug` does not show the app password.
#[derive(Debug, Clone)]
pub struct TeamsSettings {
    pub credentials: AppCredentials,
    /// The Bot Connector base, like [`DEFAULT_SERVICE_URL`]; routes are
    /// `{service_url}/v3/conversations/…`.
    pub service_url: String,
    /// The tenant conversations are created in; `credentials.tenant_id` when not set.
    pub tenant_id: Option<String>,
    /// The team (its Graph id, a GUID) incident channels are created in.
    pub team_id: Option<String>,
    /// The channel id (`19:…@thread.tacv2`) where incidents are announced and, in
    /// [`ChannelMode::Thread`], their threads are started.
    pub incidents_channel: Option<String>,
    pub incident_channels: ChannelMode,
    /// The Graph base, like [`DEFAULT_GRAPH_URL`].
    pub graph_url: String,
}

impl Default for TeamsSettings {
    fn default() -> Self {
        TeamsSettings {
            credentials: AppCredentials::default(),
            service_url: DEFAULT_SERVICE_URL.to_owned(),
            tenant_id: None,
            team_id: None,
            incidents_channel: None,
            incident_channels: ChannelMode::default(),
            graph_url: DEFAULT_GRAPH_URL.to_owned(),
        }
    }
}

/// Teams as a chat platform. Cheap to share as `Arc<TeamsClient>`.
pub struct TeamsClient {
    http: reqwest::Client,
    tokens: TokenSource,
    /// The bot's account in conversations: `28:<app id>`.
    bot_id: String,
    /// Without a trailing `/`.
    service_url: RwLock<String>,
    tenant_id: Option<String>,
    team_id: Option<String>,
    incidents_channel: Option<String>,
    mode: ChannelMode,
    /// Without a trailing `/`.
    graph_url: String,
    /// User id -> their 1:1 conversation with the bot (the connector answers the same id
    /// every time; this saves the call).
    personal: Mutex<HashMap<String, String>>,
    /// Thread name -> the thread started for it by this process.
    threads: Mutex<HashMap<String, ChannelRef>>,
    /// Channel names from the configuration -> their ids, found through Graph once.
    names: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for TeamsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsClient")
            .field("bot_id", &self.bot_id)
            .field("service_url", &self.service_url())
            .field("team_id", &self.team_id)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Which API a call goes to, and so which token it carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Connector,
    Graph,
}

/// A failed call, with what the answer said, for the callers that act on it.
struct CallError {
    error: ChatError,
    status: Option<StatusCode>,
    code: Option<String>,
}

impl From<ChatError> for CallError {
    fn from(error: ChatError) -> Self {
        CallError {
            error,
            status: None,
            code: None,
        }
    }
}

impl From<CallError> for ChatError {
    fn from(e: CallError) -> Self {
        e.error
    }
}

impl CallError {
    /// Graph's answer to a channel name that is taken.
    fn name_taken(&self) -> bool {
        let status = self.status.map(|s| s.as_u16());
        matches!(status, Some(400 | 409))
            && (self.code.as_deref() == Some("NameAlreadyExists")
                || matches!(&self.error, ChatError::Refused(m) if m.to_lowercase().contains("already exist")))
    }
}

/// How one attempt ended.
enum Attempt {
    Done(Option<Value>),
    /// Worth another try after the wait the answer asked for, if any.
    Again(CallError, Option<Duration>),
    /// The token was refused.
    Unauthorized(CallError),
    Failed(CallError),
}

impl TeamsClient {
    pub fn new(settings: TeamsSettings) -> Result<Self, ChatError> {
        let tenant_id = nonempty(settings.tenant_id.as_deref())
            .or_else(|| nonempty(settings.credentials.tenant_id.as_deref()));
        let bot_id = format!("28:{}", settings.credentials.app_id.trim());
        let mut tokens = TokenSource::new(settings.credentials)?;
        if let Some(tenant) = nonempty(settings.tenant_id.as_deref()) {
            tokens = tokens.with_graph_tenant(tenant);
        }
        let service_url = base_url("Teams service URL", &settings.service_url)?;
        let graph_url = base_url("Graph API URL", &settings.graph_url)?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| ChatError::Unavailable(format!("building the HTTP client: {e}")))?;
        Ok(TeamsClient {
            http,
            tokens,
            bot_id,
            service_url: RwLock::new(service_url),
            tenant_id,
            team_id: nonempty(settings.team_id.as_deref()),
            incidents_channel: nonempty(settings.incidents_channel.as_deref()),
            mode: settings.incident_channels,
            graph_url,
            personal: Mutex::new(HashMap::new()),
            threads: Mutex::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
        })
    }

    /// The Bot Connector base calls go to now.
    pub fn service_url(&self) -> String {
        self.service_url
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Points later calls at `url`, the `serviceUrl` of an activity that passed the JWT
    /// checks (which tie it to the token's `serviceUrl` claim). Anything not http(s) is
    /// ignored with a warning.
    pub fn set_service_url(&self, url: &str) {
        match base_url("Teams service URL", url) {
            Ok(url) => {
                let mut current = self.service_url.write().unwrap_or_else(|p| p.into_inner());
                if *current != url {
                    tracing::debug!(platform = PLATFORM, service_url = %url, "Teams service URL changed");
                    *current = url;
                }
            }
            Err(error) => {
                tracing::warn!(platform = PLATFORM, %error, "ignoring a Teams service URL");
            }
        }
    }

    /// Answers an activity in its conversation (an @mention in a channel, a message in a
    /// chat): `POST {service_url}/v3/conversations/{conversationId}/activities/{activityId}`,
    /// to the service URL the activity came with. Returns the new activity's id.
    pub async fn reply(
        &self,
        service_url: &str,
        conversation_id: &str,
        reply_to_activity_id: &str,
        message: &Message,
    ) -> Result<String, ChatError> {
        self.reply_with(
            service_url,
            conversation_id,
            reply_to_activity_id,
            render_attachment(message),
            &message.plain(),
        )
        .await
    }

    /// The people of a conversation with their e-mail addresses (Teams answers
    /// `TeamsChannelAccount`s: `email`, or `userPrincipalName`, which is usually the
    /// same): `GET /v3/conversations/{conversationId}/members`. (Teams id, e-mail) pairs;
    /// people without either are left out.
    pub async fn member_emails(
        &self,
        conversation_id: &str,
    ) -> Result<Vec<(String, String)>, ChatError> {
        let url = format!(
            "{}/v3/conversations/{}/members",
            self.service_url(),
            segment(conversation_id)
        );
        let answer = self
            .call(
                Api::Connector,
                Method::GET,
                "GET /v3/conversations/{conversationId}/members",
                &url,
                None,
            )
            .await?;
        Ok(answer
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let id = m["id"].as_str()?;
                let email = m["email"]
                    .as_str()
                    .or_else(|| m["userPrincipalName"].as_str())
                    .filter(|e| e.contains('@'))?;
                Some((id.to_owned(), email.to_owned()))
            })
            .collect())
    }

    /// [`TeamsClient::reply`] with a ready attachment (a card that opens a dialog, say) and
    /// its plain-text summary.
    pub async fn reply_with(
        &self,
        service_url: &str,
        conversation_id: &str,
        reply_to_activity_id: &str,
        attachment: Value,
        summary: &str,
    ) -> Result<String, ChatError> {
        let base = base_url("Teams service URL", service_url)?;
        let url = format!(
            "{base}/v3/conversations/{}/activities/{}",
            segment(conversation_id),
            segment(reply_to_activity_id)
        );
        let mut body = json!({ "type": "message", "attachments": [attachment] });
        if !summary.trim().is_empty() {
            body["summary"] = json!(summary);
        }
        body["replyToId"] = json!(reply_to_activity_id.trim());
        let answer = self
            .call(
                Api::Connector,
                Method::POST,
                "POST /v3/conversations/{conversationId}/activities/{activityId}",
                &url,
                Some(&body),
            )
            .await?;
        resource_id(answer.as_ref(), "a reply")
    }

    /// One call, tried again as the module docs say. `route` (method and path template)
    /// names it in errors and logs; `url` is what is requested.
    async fn call(
        &self,
        api: Api,
        method: Method,
        route: &'static str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, CallError> {
        let mut attempts = 0;
        let mut reauthorized = false;
        loop {
            let token = match api {
                Api::Connector => self.tokens.bot_token().await?,
                Api::Graph => self.tokens.graph_token().await?,
            };
            attempts += 1;
            let (error, asked) = match self.attempt(method.clone(), route, url, body, &token).await
            {
                Attempt::Done(answer) => return Ok(answer),
                Attempt::Again(error, asked) => (error, asked),
                Attempt::Unauthorized(_) if !reauthorized => {
                    tracing::debug!(
                        platform = PLATFORM,
                        route,
                        "token refused; trying once more with a new one"
                    );
                    self.tokens.forget(&token).await;
                    reauthorized = true;
                    attempts -= 1;
                    continue;
                }
                Attempt::Unauthorized(error) | Attempt::Failed(error) => {
                    return Err(warn(route, error));
                }
            };
            let wait = asked.unwrap_or(BACKOFF * 2u32.pow(attempts - 1));
            if attempts >= MAX_ATTEMPTS || wait > MAX_WAIT {
                return Err(warn(route, error));
            }
            tracing::debug!(platform = PLATFORM, route, attempts, ?wait, error = %error.error, "trying a Teams call again");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        method: Method,
        route: &'static str,
        url: &str,
        body: Option<&Value>,
        token: &str,
    ) -> Attempt {
        let Ok(mut auth) = HeaderValue::from_str(&format!("Bearer {token}")) else {
            return Attempt::Failed(
                ChatError::Refused(format!("{route}: the token is not a header value")).into(),
            );
        };
        auth.set_sensitive(true);
        let mut request = self.http.request(method, url).header(AUTHORIZATION, auth);
        if let Some(body) = body {
            request = request.json(body);
        }
        let unreachable = |e: reqwest::Error| {
            Attempt::Again(
                ChatError::Unavailable(format!("{route}: {}", e.without_url())).into(),
                None,
            )
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return unreachable(e),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        let text = match response.text().await {
            Ok(text) => text,
            Err(e) => return unreachable(e),
        };
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return Attempt::Done(json);
        }
        let (code, message) = error_body(json.as_ref());
        let said = match (&code, &message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (None, Some(said)) | (Some(said), None) => said.clone(),
            (None, None) => status.canonical_reason().unwrap_or("error").to_owned(),
        };
        let describe = format!("{route}: {said} (HTTP {})", status.as_u16());
        let error = |error: ChatError| CallError {
            error,
            status: Some(status),
            code: code.clone(),
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            Attempt::Again(error(ChatError::RateLimited { retry_after }), retry_after)
        } else if status.is_server_error() {
            Attempt::Again(error(ChatError::Unavailable(describe)), retry_after)
        } else if status == StatusCode::UNAUTHORIZED {
            Attempt::Unauthorized(error(ChatError::Refused(describe)))
        } else {
            Attempt::Failed(error(ChatError::Refused(describe)))
        }
    }

    /// `POST {serviceUrl}/v3/conversations/{conversationId}/activities`.
    async fn send_to_conversation(
        &self,
        conversation: &str,
        body: &Value,
    ) -> Result<String, ChatError> {
        let url = format!(
            "{}/v3/conversations/{}/activities",
            self.service_url(),
            segment(conversation)
        );
        let answer = self
            .call(
                Api::Connector,
                Method::POST,
                "POST /v3/conversations/{conversationId}/activities",
                &url,
                Some(body),
            )
            .await?;
        resource_id(answer.as_ref(), "a post")
    }

    /// `POST {serviceUrl}/v3/conversations`: a new conversation's id (and the id of the
    /// activity it started with, if any).
    async fn create_conversation(
        &self,
        parameters: &Value,
    ) -> Result<(String, Option<String>), ChatError> {
        let url = format!("{}/v3/conversations", self.service_url());
        let answer = self
            .call(
                Api::Connector,
                Method::POST,
                "POST /v3/conversations",
                &url,
                Some(parameters),
            )
            .await?;
        let id = resource_id(answer.as_ref(), "a new conversation")?;
        let activity = answer
            .as_ref()
            .and_then(|a| a["activityId"].as_str())
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        Ok((id, activity))
    }

    fn tenant(&self) -> Result<&str, ChatError> {
        self.tenant_id.as_deref().ok_or_else(|| {
            ChatError::Refused(
                "the Teams tenant id is not set (MicrosoftAppTenantId or the Teams settings)"
                    .into(),
            )
        })
    }

    /// The 1:1 conversation of the bot and `user`, made (or found: the connector answers
    /// the existing one) with `POST /v3/conversations`.
    async fn personal_conversation(&self, user: &str) -> Result<String, ChatError> {
        if let Some(known) = lock(&self.personal).get(user) {
            return Ok(known.clone());
        }
        let tenant = self.tenant()?;
        let parameters = json!({
            "isGroup": false,
            "bot": { "id": self.bot_id },
            "members": [{ "id": user }],
            "tenantId": tenant,
            "channelData": { "tenant": { "id": tenant } },
        });
        let (conversation, _) = self.create_conversation(&parameters).await?;
        lock(&self.personal).insert(user.to_owned(), conversation.clone());
        Ok(conversation)
    }

    fn team(&self) -> Result<&str, ChatError> {
        self.team_id.as_deref().ok_or_else(|| {
            ChatError::Refused("Teams incident channels need the team id in the settings".into())
        })
    }

    /// The conversation a channel given by name or id stands for. Configuration names
    /// channels the way people know them (`alerts_channel = "alerts"`); the connector
    /// wants ids (`19:…@thread.tacv2`, `a:…`, anything with a `:`). A name is looked up
    /// among the team's channels through Graph once (so it needs `team_id` and the Graph
    /// permission), then remembered.
    async fn conversation_id(&self, channel: &str) -> Result<String, ChatError> {
        let channel = channel.trim();
        if channel.contains(':') {
            return Ok(channel.to_owned());
        }
        let name = channel.trim_start_matches('#');
        if let Some(id) = self.lock_names().get(&name.to_lowercase()) {
            return Ok(id.clone());
        }
        let Some(team) = self.team_id.as_deref() else {
            return Err(ChatError::Refused(format!(
                "Teams needs a channel id (19:…@thread.tacv2) for #{name}, or [msteams] team_id to find it by name"
            )));
        };
        let found = self.find_channel(team, name).await?.ok_or_else(|| {
            ChatError::Refused(format!("there is no channel #{name} in the Teams team"))
        })?;
        self.lock_names()
            .insert(name.to_lowercase(), found.channel_id.clone());
        Ok(found.channel_id)
    }

    /// Learns a team's channels from the Bot Connector (`GET /v3/teams/{teamId}/conversations`,
    /// no Graph permission needed), as when Tocsin is added to the team: channels named in
    /// the configuration are then found without asking Graph. `team_id` is the connector's
    /// id of the team (`channelData.team.id`). Returns the channels, (name, id); the
    /// General channel has no name of its own and is called "General".
    pub async fn learn_team(&self, team_id: &str) -> Result<Vec<(String, String)>, ChatError> {
        let url = format!(
            "{}/v3/teams/{}/conversations",
            self.service_url(),
            segment(team_id)
        );
        let answer = self
            .call(
                Api::Connector,
                Method::GET,
                "GET /v3/teams/{teamId}/conversations",
                &url,
                None,
            )
            .await?;
        let channels: Vec<(String, String)> = answer
            .as_ref()
            .and_then(|a| a["conversations"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let id = c["id"].as_str()?.to_owned();
                let name = c["name"].as_str().unwrap_or("General").to_owned();
                Some((name, id))
            })
            .collect();
        let mut names = self.lock_names();
        for (name, id) in &channels {
            names.insert(name.to_lowercase(), id.clone());
        }
        Ok(channels)
    }

    fn lock_names(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The team's channel called `name` (Teams compares names without case), if any.
    async fn find_channel(&self, team: &str, name: &str) -> Result<Option<ChannelRef>, ChatError> {
        let filter = format!("displayName eq '{}'", name.replace('\'', "''"));
        let url = format!(
            "{}/teams/{}/channels?$filter={}",
            self.graph_url,
            segment(team),
            segment(&filter)
        );
        let answer = self
            .call(
                Api::Graph,
                Method::GET,
                "GET /teams/{team-id}/channels",
                &url,
                None,
            )
            .await?;
        let found = answer
            .as_ref()
            .and_then(|a| a["value"].as_array())
            .into_iter()
            .flatten()
            .find(|c| {
                c["displayName"]
                    .as_str()
                    .is_some_and(|n| n.to_lowercase() == name.to_lowercase())
            });
        Ok(found.and_then(|c| channel_ref(c, name)))
    }

    /// A standard channel in the team, or the one that already has the name.
    async fn graph_channel(&self, name: &str, topic: &str) -> Result<ChannelRef, ChatError> {
        let team = self.team()?;
        let name = channel_name(name);
        if let Some(existing) = self.find_channel(team, &name).await? {
            return Ok(existing);
        }
        let mut body = json!({ "displayName": name, "membershipType": "standard" });
        if !topic.trim().is_empty() {
            body["description"] = json!(truncate(topic.trim(), MAX_DESCRIPTION));
        }
        let url = format!("{}/teams/{}/channels", self.graph_url, segment(team));
        match self
            .call(
                Api::Graph,
                Method::POST,
                "POST /teams/{team-id}/channels",
                &url,
                Some(&body),
            )
            .await
        {
            Ok(created) => created
                .as_ref()
                .and_then(|c| channel_ref(c, &name))
                .ok_or_else(|| {
                    ChatError::Unavailable("Graph answered a new channel without an id".into())
                }),
            // Made between the look and the create (another replica, say).
            Err(e) if e.name_taken() => self
                .find_channel(team, &name)
                .await?
                .ok_or_else(|| e.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// A thread started in the incidents channel, with a card naming it.
    async fn thread(&self, name: &str, topic: &str) -> Result<ChannelRef, ChatError> {
        let channel = self.incidents_channel.as_deref().ok_or_else(|| {
            ChatError::Refused("Teams incident threads need the incidents channel id".into())
        })?;
        let name = name.trim();
        if let Some(started) = lock(&self.threads).get(name) {
            return Ok(started.clone());
        }
        let tenant = self.tenant()?;
        let starter = Message {
            title: Some(name.to_owned()),
            text: Some(topic.trim())
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let parameters = json!({
            "isGroup": true,
            "bot": { "id": self.bot_id },
            "tenantId": tenant,
            "channelData": {
                "channel": { "id": channel },
                "tenant": { "id": tenant },
            },
            "activity": activity(&starter),
        });
        let (id, activity_id) = self.create_conversation(&parameters).await?;
        let thread = if id.contains(THREAD_MARK) {
            id
        } else if let Some(activity_id) = activity_id {
            format!("{channel}{THREAD_MARK}{activity_id}")
        } else {
            return Err(ChatError::Unavailable(
                "the connector started a thread without naming its message".into(),
            ));
        };
        let started = ChannelRef {
            platform: PLATFORM.into(),
            channel_id: thread,
            name: name.to_owned(),
        };
        lock(&self.threads).insert(name.to_owned(), started.clone());
        Ok(started)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn nonempty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// An http(s) base URL without its trailing `/`.
fn base_url(what: &str, url: &str) -> Result<String, ChatError> {
    let url = url.trim();
    let parsed =
        reqwest::Url::parse(url).map_err(|e| ChatError::Refused(format!("{what} `{url}`: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ChatError::Refused(format!("{what} `{url}` is not http(s)")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn warn(route: &str, error: CallError) -> CallError {
    tracing::warn!(platform = PLATFORM, route, error = %error.error, "Teams call failed");
    error
}

/// `Retry-After` in seconds (the connector and Graph send seconds, not dates).
fn retry_after(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

/// The code and message of an `ErrorResponse` (`{"error": {"code", "message"}}`), or a
/// bare `{"message"}` as the connector's 401 has.
fn error_body(json: Option<&Value>) -> (Option<String>, Option<String>) {
    let Some(json) = json else {
        return (None, None);
    };
    let text = |v: &Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let code = text(&json["error"]["code"]);
    let message = text(&json["error"]["message"]).or_else(|| text(&json["message"]));
    (code, message)
}

/// The `id` of a `ResourceResponse`.
fn resource_id(answer: Option<&Value>, what: &str) -> Result<String, ChatError> {
    answer
        .and_then(|a| a["id"].as_str())
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            ChatError::Unavailable(format!("the connector answered {what} without an id"))
        })
}

fn channel_ref(channel: &Value, name: &str) -> Option<ChannelRef> {
    Some(ChannelRef {
        platform: PLATFORM.into(),
        channel_id: channel["id"]
            .as_str()
            .filter(|id| !id.is_empty())?
            .to_owned(),
        name: channel["displayName"].as_str().unwrap_or(name).to_owned(),
    })
}

/// A message activity carrying `message` as an Adaptive Card. The plain text goes in
/// `summary` (what notifications and the activity feed show), not `text`, which Teams
/// would show above the card, saying everything twice.
fn activity(message: &Message) -> Value {
    let mut body = json!({
        "type": "message",
        "attachments": [render::attachment(message)],
    });
    let plain = message.plain();
    if !plain.trim().is_empty() {
        body["summary"] = json!(plain);
    }
    body
}

fn render_attachment(message: &Message) -> Value {
    render::attachment(message)
}

/// A path segment from an id that arrived from outside.
fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s.trim(), SEGMENT).to_string()
}

/// The conversation and activity a message id stands for (see the module docs).
fn split_message_id<'a>(conversation: &'a str, message_id: &'a str) -> (&'a str, &'a str) {
    message_id
        .split_once(ID_SEPARATOR)
        .unwrap_or((conversation, message_id))
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A channel name Teams accepts: none of `~#%&*{}+/\:<>?|'"`, no leading `_` or `.`, no
/// trailing `.`, at most 50 characters.
fn channel_name(name: &str) -> String {
    const FORBIDDEN: &[char] = &[
        '~', '#', '%', '&', '*', '{', '}', '+', '/', '\\', ':', '<', '>', '?', '|', '\'', '"',
    ];
    let mut out = String::new();
    for c in name.trim().chars() {
        if FORBIDDEN.contains(&c) || c.is_control() {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        } else if !(c == '.' && out.ends_with('.')) {
            out.push(c);
        }
    }
    let out: String = out.chars().take(MAX_CHANNEL_NAME).collect();
    let out = out
        .trim_start_matches(['_', '.', '-', ' '])
        .trim_end_matches(['.', '-', ' ']);
    if out.is_empty() {
        "incident".to_owned()
    } else {
        out.to_owned()
    }
}

#[async_trait]
impl ChatPlatform for TeamsClient {
    fn name(&self) -> &str {
        PLATFORM
    }

    fn announcements_channel(&self) -> Option<String> {
        self.incidents_channel.clone()
    }

    async fn post_message(&self, channel: &str, message: &Message) -> Result<String, ChatError> {
        let conversation = self.conversation_id(channel).await?;
        self.send_to_conversation(&conversation, &activity(message))
            .await
    }

    async fn update_message(
        &self,
        channel: &str,
        message_id: &str,
        message: &Message,
    ) -> Result<(), ChatError> {
        let (conversation, id) = split_message_id(channel, message_id);
        let conversation = self.conversation_id(conversation).await?;
        let url = format!(
            "{}/v3/conversations/{}/activities/{}",
            self.service_url(),
            segment(&conversation),
            segment(id)
        );
        let mut body = activity(message);
        body["id"] = json!(id.trim());
        self.call(
            Api::Connector,
            Method::PUT,
            "PUT /v3/conversations/{conversationId}/activities/{activityId}",
            &url,
            Some(&body),
        )
        .await?;
        Ok(())
    }

    async fn create_channel(&self, name: &str, topic: &str) -> Result<ChannelRef, ChatError> {
        match self.mode {
            ChannelMode::Channel => self.graph_channel(name, topic).await,
            ChannelMode::Thread => self.thread(name, topic).await,
        }
    }

    /// Nothing to do: everyone in the team sees its standard channels and their threads.
    /// (People outside the team are not added; a guest must be a team member first.)
    async fn invite(&self, channel: &str, users: &[String]) -> Result<(), ChatError> {
        tracing::debug!(
            platform = PLATFORM,
            channel,
            users = users.len(),
            "Teams channels are open to the whole team; nobody to invite"
        );
        Ok(())
    }

    /// The channel's description, through Graph. Threads have none: nothing to do.
    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), ChatError> {
        if self.mode == ChannelMode::Thread || channel.contains(THREAD_MARK) {
            tracing::debug!(
                platform = PLATFORM,
                channel,
                "a Teams thread has no topic to set"
            );
            return Ok(());
        }
        let team = self.team()?;
        let url = format!(
            "{}/teams/{}/channels/{}",
            self.graph_url,
            segment(team),
            segment(channel)
        );
        let body = json!({ "description": truncate(topic.trim(), MAX_DESCRIPTION) });
        self.call(
            Api::Graph,
            Method::PATCH,
            "PATCH /teams/{team-id}/channels/{channel-id}",
            &url,
            Some(&body),
        )
        .await?;
        Ok(())
    }

    /// Nothing to do: Teams has no pinning for bots. The incident card is the first
    /// message of its channel or thread anyway, so `Ok` keeps the declare flow going.
    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), ChatError> {
        tracing::debug!(
            platform = PLATFORM,
            channel,
            message_id,
            "Teams bots cannot pin; skipped"
        );
        Ok(())
    }

    /// Opens (or finds) the 1:1 chat with `user` (a `29:…` Teams user id), then posts
    /// there. The id is `<conversation id>|<activity id>`.
    async fn send_dm(&self, user: &str, message: &Message) -> Result<String, ChatError> {
        let user = user.trim();
        if user.is_empty() {
            return Err(ChatError::Refused("no Teams user id to write to".into()));
        }
        let conversation = self.personal_conversation(user).await?;
        match self.post_message(&conversation, message).await {
            Ok(id) => Ok(format!("{conversation}{ID_SEPARATOR}{id}")),
            Err(e) => {
                // The app may have been removed for them: ask again next time.
                if matches!(e, ChatError::Refused(_)) {
                    lock(&self.personal).remove(user);
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TeamsSettings {
        TeamsSettings {
            credentials: AppCredentials {
                app_id: "00000000-0000-0000-0000-000000000001".into(),
                app_password: "secret-password".into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn clients_need_credentials_and_http_urls() {
        let client = TeamsClient::new(settings()).expect("a client");
        assert_eq!(client.bot_id, "28:00000000-0000-0000-0000-000000000001");
        assert_eq!(
            client.service_url(),
            "https://smba.trafficmanager.net/teams"
        );
        assert!(!format!("{:?}", settings()).contains("secret-password"));
        assert!(!format!("{client:?}").contains("secret-password"));
        let bad_service = TeamsSettings {
            service_url: "ftp://example.com".into(),
            ..settings()
        };
        assert!(TeamsClient::new(bad_service).is_err());
        let bad_graph = TeamsSettings {
            graph_url: "not a url".into(),
            ..settings()
        };
        assert!(TeamsClient::new(bad_graph).is_err());
        let no_password = TeamsSettings {
            credentials: AppCredentials {
                app_password: String::new(),
                ..settings().credentials
            },
            ..settings()
        };
        assert!(TeamsClient::new(no_password).is_err());
    }

    #[test]
    fn only_http_service_urls_are_taken() {
        let client = TeamsClient::new(settings()).expect("a client");
        client.set_service_url("https://smba.trafficmanager.net/emea/");
        assert_eq!(client.service_url(), "https://smba.trafficmanager.net/emea");
        client.set_service_url("javascript:alert(1)");
        assert_eq!(client.service_url(), "https://smba.trafficmanager.net/emea");
    }

    #[test]
    fn ids_are_escaped_as_path_segments() {
        assert_eq!(
            segment("19:abc@thread.tacv2;messageid=1575"),
            "19%3Aabc%40thread%2Etacv2%3Bmessageid%3D1575"
        );
        assert_eq!(segment("a/../b?c#d"), "a%2F%2E%2E%2Fb%3Fc%23d");
        assert_eq!(segment("a:1qh-N_x"), "a%3A1qh-N_x");
    }

    #[test]
    fn dm_ids_name_their_conversation() {
        assert_eq!(
            split_message_id("19:c@thread.tacv2", "1575"),
            ("19:c@thread.tacv2", "1575")
        );
        assert_eq!(split_message_id("29:user", "a:xyz|1575"), ("a:xyz", "1575"));
    }

    #[test]
    fn channel_names_are_what_teams_accepts() {
        assert_eq!(channel_name("inc-42-checkout"), "inc-42-checkout");
        assert_eq!(channel_name("INC 42: Checkout?"), "INC 42- Checkout");
        assert_eq!(channel_name("_.hidden."), "hidden");
        assert_eq!(channel_name("###"), "incident");
        assert_eq!(channel_name("v1..2.."), "v1.2");
        assert_eq!(
            channel_name(&"x".repeat(80)).chars().count(),
            MAX_CHANNEL_NAME
        );
    }

    #[test]
    fn retry_after_is_seconds() {
        assert_eq!(retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(" 2.5 "), Some(Duration::from_millis(2500)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after("-1"), None);
    }

    #[test]
    fn errors_read_the_error_response_shape() {
        let body =
            json!({ "error": { "code": "BadArgument", "message": "Unknown activity type" } });
        assert_eq!(
            error_body(Some(&body)),
            (
                Some("BadArgument".to_owned()),
                Some("Unknown activity type".to_owned())
            )
        );
        let bare = json!({ "message": "Authorization has been denied for this request." });
        assert_eq!(
            error_body(Some(&bare)).1.as_deref(),
            Some("Authorization has been denied for this request.")
        );
        assert_eq!(error_body(None), (None, None));
    }

    #[test]
    fn channel_modes_parse() {
        assert_eq!("thread".parse(), Ok(ChannelMode::Thread));
        assert_eq!(" Channel ".parse(), Ok(ChannelMode::Channel));
        assert!("room".parse::<ChannelMode>().is_err());
    }

    #[test]
    fn activities_carry_a_card_and_a_summary() {
        let message = Message {
            title: Some("INC-7".into()),
            text: vec!["Checkout fails".into()],
            ..Default::default()
        };
        let body = activity(&message);
        assert_eq!(body["type"], "message");
        assert_eq!(
            body["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(body["summary"], "INC-7\nCheckout fails");
        assert!(body.get("text").is_none());
    }
}
