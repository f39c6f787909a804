//! A stub of Slack's Web API on loopback, for tests of anything that talks to Slack.
//!
//! It answers the way Slack does, from Slack's own material in the shared fixtures
//! (`slack/web-api/` under `$TOCSIN_FIXTURES`, by default the `shared/fixtures` beside the
//! workspace): a method missing from Slack's OpenAPI description is `unknown_method`, a
//! call without the bot token is `not_authed` and with another token `invalid_auth`, a
//! call missing a parameter the description (or Slack's method documentation) requires
//! is `invalid_arguments`, and a successful call gets the recorded example answer for
//! that method with the ids and timestamps made consistent with earlier calls.
//!
//! It keeps the state the answers depend on: channels (names are unique:
//! `conversations.create` on a taken name is `name_taken`), their members
//! (`already_in_channel`, `cant_invite_self`), topics, messages (`chat.update` and
//! `pins.add` on a message never posted are `message_not_found`; pinning twice is
//! `already_pinned`) and DMs. Block Kit in messages and views is held to Slack's limits
//! (`invalid_blocks`). Channel ids it has not seen are taken as existing public channels,
//! so a test can post to any `C…` id without setting it up.
//!
//! Socket Mode too: `apps.connections.open` with the app-level token ([`APP_TOKEN`];
//! without it `not_authed`, with another `invalid_auth`, with the bot token
//! `not_allowed_token_type`) answers a one-off `ws://` URL on a second loopback port, where
//! a WebSocket endpoint greets each connection with `hello`, sends the envelopes a test
//! pushes ([`SlackStub::push`]) to the newest connection, records the acknowledgements that
//! come back ([`SlackStub::acks`]) and can ask a connection to go (`disconnect`, then a
//! close, as Slack does when it refreshes one).
//!
//! Include it with `#[path = "…/adapters/tests/slack_stub/mod.rs"] mod slack_stub;` and
//! start it with [`start`]. It needs axum, tokio, serde_json, serde_urlencoded,
//! tokio-tungstenite and futures-util.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Map, Value, json};

/// The bot token the stub accepts.
pub const TOKEN: &str = "xoxb-0000000000-tocsin-stub";
/// The app-level token `apps.connections.open` accepts.
pub const APP_TOKEN: &str = "xapp-1-A0TOCSIN-0000000000-tocsin-stub";

/// How the next call of a method fails, instead of its normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 429 with `Retry-After: <seconds>` and `{"ok":false,"error":"ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 200 with `{"ok":false,"error":"<code>"}`.
    Error(String),
    /// This HTTP status with an empty body (a 503 from a load balancer, say).
    Status(u16),
}

/// A channel as the stub knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StubChannel {
    pub name: String,
    pub topic: String,
    pub members: BTreeSet<String>,
}

/// A body POSTed to a response URL.
#[derive(Debug, Clone, PartialEq)]
pub struct StubResponse {
    /// The last segment of the response URL.
    pub id: String,
    pub body: Value,
    /// The `Authorization` header, if one was sent (it should not be).
    pub authorization: Option<String>,
}

/// A running stub; stops when dropped.
pub struct SlackStub {
    addr: SocketAddr,
    state: Arc<Mutex<Inner>>,
    server: tokio::task::JoinHandle<()>,
    sockets: tokio::task::JoinHandle<()>,
}

impl Drop for SlackStub {
    fn drop(&mut self) {
        self.server.abort();
        self.sockets.abort();
        for socket in &mut self.lock().sockets {
            socket.out.take();
        }
    }
}

/// Starts a stub on a free loopback port.
pub async fn start() -> SlackStub {
    let slack = slack_material();
    let bot_user = slack.responses["auth.test"]["user_id"]
        .as_str()
        .unwrap_or("W12345678")
        .to_owned();
    let state = Arc::new(Mutex::new(Inner {
        slack,
        bot_user,
        calls: Vec::new(),
        rejections: Vec::new(),
        failures: HashMap::new(),
        channels: BTreeMap::new(),
        messages: BTreeMap::new(),
        dms: BTreeMap::new(),
        members: BTreeMap::new(),
        responses: Vec::new(),
        next_id: 0,
        next_ts: 0,
        next_view: 0,
        socket_addr: None,
        tickets: HashSet::new(),
        next_ticket: 0,
        sockets: Vec::new(),
        acks: Vec::new(),
        socket_frames: Vec::new(),
        next_envelope: 0,
    }));
    let socket_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port for the Slack stub's WebSocket");
    let socket_addr = socket_listener
        .local_addr()
        .expect("the stub's WebSocket address");
    state.lock().unwrap_or_else(|p| p.into_inner()).socket_addr = Some(socket_addr);
    let sockets = tokio::spawn(accept_sockets(socket_listener, state.clone()));
    let app = Router::new()
        .route("/api/apps.connections.open", any(connections_open))
        .route("/api/{method}", any(api))
        .route("/respond/{id}", post(respond))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port for the Slack stub");
    let addr = listener.local_addr().expect("the stub's address");
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the Slack stub serves");
    });
    SlackStub {
        addr,
        state,
        server,
        sockets,
    }
}

impl SlackStub {
    /// The Web API base, like `https://slack.com/api`.
    pub fn url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The bot token it accepts.
    pub fn token(&self) -> &'static str {
        TOKEN
    }

    /// The bot's own user id (`auth.test`'s `user_id`).
    pub fn bot_user(&self) -> String {
        self.lock().bot_user.clone()
    }

    /// A response URL on the stub, as Slack puts in interactions and slash commands.
    pub fn response_url(&self, id: &str) -> String {
        format!("http://{}/respond/{id}", self.addr)
    }

    /// Every Web API call received, in order: the method and its parameters as one JSON
    /// object (query, form and JSON body merged; a `token` parameter left out). Rejected
    /// calls are included.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.lock()
            .calls
            .iter()
            .map(|(m, p)| (m.clone(), Value::Object(p.clone())))
            .collect()
    }

    /// The parameters of every call of `method`, in order.
    pub fn calls_to(&self, method: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|(m, _)| m == method)
            .map(|(_, p)| p)
            .collect()
    }

    /// The calls answered with an error, as (method, error code), in order. Injected
    /// failures are included.
    pub fn rejections(&self) -> Vec<(String, String)> {
        self.lock().rejections.clone()
    }

    /// Makes the next call of `method` fail (`response_url` for response URLs). Several
    /// failures queue up.
    pub fn fail_next(&self, method: &str, failure: Failure) {
        self.lock()
            .failures
            .entry(method.to_owned())
            .or_default()
            .push_back(failure);
    }

    /// A workspace member with an e-mail address (users.info, users.lookupByEmail).
    pub fn add_member(&self, id: &str, email: &str) {
        self.lock().members.insert(id.to_owned(), email.to_owned());
    }

    /// A message `user` said in `channel` before (so that a 📌 on it can be read back with
    /// `conversations.history`); returns its ts.
    pub fn add_message(&self, channel: &str, user: &str, text: &str) -> String {
        let mut inner = self.lock();
        let ts = inner.new_ts();
        inner.messages.insert(
            (channel.to_owned(), ts.clone()),
            StubMessage {
                params: json!({ "channel": channel, "text": text, "user": user }),
                pinned: false,
            },
        );
        ts
    }

    /// A channel that exists before the test starts (a taken name); returns its id.
    pub fn add_channel(&self, name: &str) -> String {
        let mut inner = self.lock();
        let id = inner.new_id('C');
        let bot = inner.bot_user.clone();
        inner.channels.insert(
            id.clone(),
            StubChannel {
                name: name.to_owned(),
                topic: String::new(),
                members: BTreeSet::from([bot]),
            },
        );
        id
    }

    pub fn channel(&self, id: &str) -> Option<StubChannel> {
        self.lock().channels.get(id).cloned()
    }

    /// The id and state of the channel called `name`.
    pub fn channel_named(&self, name: &str) -> Option<(String, StubChannel)> {
        self.lock()
            .channels
            .iter()
            .find(|(_, c)| c.name == name)
            .map(|(id, c)| (id.clone(), c.clone()))
    }

    /// The DM channel opened with `user`, if any.
    pub fn dm_channel(&self, user: &str) -> Option<String> {
        self.lock().dms.get(user).cloned()
    }

    /// The latest parameters a message was posted or updated with.
    pub fn message(&self, channel: &str, ts: &str) -> Option<Value> {
        self.lock()
            .messages
            .get(&(channel.to_owned(), ts.to_owned()))
            .map(|m| m.params.clone())
    }

    pub fn pinned(&self, channel: &str, ts: &str) -> bool {
        self.lock()
            .messages
            .get(&(channel.to_owned(), ts.to_owned()))
            .is_some_and(|m| m.pinned)
    }

    /// Bodies POSTed to response URLs, in order.
    pub fn responses(&self) -> Vec<StubResponse> {
        self.lock().responses.clone()
    }

    /// The app-level token `apps.connections.open` accepts.
    pub fn app_token(&self) -> &'static str {
        APP_TOKEN
    }

    /// How many Socket Mode connections were made, ever.
    pub fn socket_connections(&self) -> usize {
        self.lock().sockets.len()
    }

    /// How many Socket Mode connections are open now.
    pub fn open_sockets(&self) -> usize {
        self.lock()
            .sockets
            .iter()
            .filter(|s| s.out.is_some())
            .count()
    }

    /// Sends an envelope of `kind` (`slash_commands`, `interactive`, `events_api`) with
    /// `payload` on the newest open connection, as Slack does (`accepts_response_payload`
    /// for all but `events_api`); returns its envelope id. Panics without a connection.
    pub fn push(&self, kind: &str, payload: Value) -> String {
        let envelope_id = {
            let mut inner = self.lock();
            inner.next_envelope += 1;
            format!("00000000-0000-4000-8000-{:012}", inner.next_envelope)
        };
        self.push_envelope(json!({
            "envelope_id": envelope_id,
            "type": kind,
            "accepts_response_payload": kind != "events_api",
            "payload": payload,
        }));
        envelope_id
    }

    /// Like [`SlackStub::push`], as Slack redelivers an event it saw no acknowledgement of:
    /// a new envelope with `retry_attempt` and `retry_reason`.
    pub fn push_envelope_with_retry(
        &self,
        kind: &str,
        payload: Value,
        retry_attempt: u64,
        retry_reason: &str,
    ) -> String {
        let envelope_id = {
            let mut inner = self.lock();
            inner.next_envelope += 1;
            format!("00000000-0000-4000-8000-{:012}", inner.next_envelope)
        };
        self.push_envelope(json!({
            "envelope_id": envelope_id,
            "type": kind,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
            "payload": payload,
        }));
        envelope_id
    }

    /// Sends `frame` as it is on the newest open connection. Panics without one.
    pub fn push_envelope(&self, frame: Value) {
        let inner = self.lock();
        let out = inner
            .sockets
            .iter()
            .rev()
            .find_map(|s| s.out.as_ref())
            .expect("no open Socket Mode connection to send on");
        out.send(SocketOut::Frame(frame.to_string()))
            .expect("the connection's writer is running");
    }

    /// Says `disconnect` with `reason` on the newest open connection, then closes it.
    pub fn disconnect(&self, reason: &str) {
        let mut inner = self.lock();
        let socket = inner
            .sockets
            .iter_mut()
            .rev()
            .find(|s| s.out.is_some())
            .expect("no open Socket Mode connection to disconnect");
        let frame = json!({
            "type": "disconnect",
            "reason": reason,
            "debug_info": { "host": "wss-stub" },
        });
        if let Some(out) = socket.out.take() {
            let _ = out.send(SocketOut::Frame(frame.to_string()));
            let _ = out.send(SocketOut::Close);
        }
    }

    /// Acknowledgements received on any connection, in order.
    pub fn acks(&self) -> Vec<Value> {
        self.lock().acks.clone()
    }

    /// The acknowledgement of `envelope_id`, once received.
    pub fn ack(&self, envelope_id: &str) -> Option<Value> {
        self.lock()
            .acks
            .iter()
            .find(|a| a["envelope_id"] == envelope_id)
            .cloned()
    }

    /// Text frames received that were not acknowledgements (they should be none).
    pub fn socket_frames(&self) -> Vec<String> {
        self.lock().socket_frames.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the stub reads of Slack's material, once per test binary.
struct SlackMaterial {
    /// Method -> the parameters the description marks required (besides the token).
    methods: HashMap<String, Vec<String>>,
    /// Method -> its recorded successful answer.
    responses: HashMap<String, Value>,
}

fn slack_material() -> &'static SlackMaterial {
    static MATERIAL: OnceLock<SlackMaterial> = OnceLock::new();
    MATERIAL.get_or_init(|| {
        let dir = fixtures_dir().join("slack").join("web-api");
        let read = |path: PathBuf| -> Value {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
        };
        let spec = read(dir.join("slack_web_openapi_v2.json"));
        let mut methods = HashMap::new();
        let mut responses = HashMap::new();
        for (path, operations) in spec["paths"].as_object().expect("the spec has paths") {
            let method = path.trim_start_matches('/').to_owned();
            let mut required = Vec::new();
            for operation in operations.as_object().into_iter().flat_map(|o| o.values()) {
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    let name = parameter["name"].as_str().unwrap_or_default();
                    if parameter["required"] == true
                        && parameter["in"] != "header"
                        && name != "token"
                    {
                        required.push(name.to_owned());
                    }
                }
                let example = &operation["responses"]["200"]["examples"]["application/json"];
                if example.is_object() {
                    responses.insert(method.clone(), example.clone());
                }
            }
            methods.insert(method, required);
        }
        let recorded = dir.join("responses");
        for entry in std::fs::read_dir(&recorded)
            .unwrap_or_else(|e| panic!("reading {}: {e}", recorded.display()))
        {
            let path = entry.expect("a directory entry").path();
            let file = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if let Some(method) = file.strip_suffix(".ok.json") {
                responses.insert(method.to_owned(), read(path.clone()));
            }
        }
        SlackMaterial { methods, responses }
    })
}

/// `$TOCSIN_FIXTURES`, else the first `shared/fixtures` above the crate that includes
/// this file (the adapters crate or the workspace root).
fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOCSIN_FIXTURES") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared").join("fixtures"))
        .find(|d| d.join("slack").is_dir())
        .unwrap_or_else(|| panic!("no shared/fixtures above {}", manifest.display()))
}

/// Parameters Slack's method documentation requires that the description leaves
/// unmarked. (`conversations.open` needs `users` or `channel`: checked in its handler.)
const DOCUMENTED_REQUIRED: [(&str, &[&str]); 4] = [
    ("conversations.create", &["name"]),
    ("conversations.invite", &["channel", "users"]),
    ("conversations.setTopic", &["channel", "topic"]),
    ("pins.add", &["timestamp"]),
];

struct StubMessage {
    params: Value,
    pinned: bool,
}

struct Inner {
    slack: &'static SlackMaterial,
    bot_user: String,
    calls: Vec<(String, Map<String, Value>)>,
    rejections: Vec<(String, String)>,
    failures: HashMap<String, VecDeque<Failure>>,
    channels: BTreeMap<String, StubChannel>,
    messages: BTreeMap<(String, String), StubMessage>,
    /// User -> DM channel id.
    dms: BTreeMap<String, String>,
    /// Member id -> e-mail address, for users.info and users.lookupByEmail.
    members: BTreeMap<String, String>,
    responses: Vec<StubResponse>,
    next_id: u64,
    next_ts: u64,
    next_view: u64,
    /// Where the WebSocket endpoint listens.
    socket_addr: Option<SocketAddr>,
    /// Tickets of URLs handed out and not yet connected to (each is good once).
    tickets: HashSet<String>,
    next_ticket: u64,
    /// Every connection made, oldest first.
    sockets: Vec<StubSocket>,
    acks: Vec<Value>,
    socket_frames: Vec<String>,
    next_envelope: u64,
}

/// A Socket Mode connection: its writer while open.
struct StubSocket {
    out: Option<tokio::sync::mpsc::UnboundedSender<SocketOut>>,
}

enum SocketOut {
    Frame(String),
    Close,
}

type Answer = Result<Value, String>;

impl Inner {
    fn new_id(&mut self, kind: char) -> String {
        self.next_id += 1;
        format!("{kind}0STUB{:04}", self.next_id)
    }

    fn new_ts(&mut self) -> String {
        self.next_ts += 1;
        format!("1700000000.{:06}", self.next_ts)
    }

    fn recorded(&self, method: &str) -> Value {
        self.slack
            .responses
            .get(method)
            .cloned()
            .unwrap_or_else(|| json!({ "ok": true }))
    }

    fn dm(&mut self, user: &str) -> String {
        if let Some(id) = self.dms.get(user) {
            return id.clone();
        }
        let id = self.new_id('D');
        self.dms.insert(user.to_owned(), id.clone());
        let members = BTreeSet::from([user.to_owned(), self.bot_user.clone()]);
        self.channels.insert(
            id.clone(),
            StubChannel {
                name: id.to_lowercase(),
                topic: String::new(),
                members,
            },
        );
        id
    }

    /// The channel id `channel` stands for. By name (`#name` or `name`) and by user id
    /// (the DM with that user) only where Slack allows it (`chat.postMessage`,
    /// `chat.postEphemeral`); an unknown id is a public channel that was always there.
    fn channel_id(&mut self, channel: &str, by_name: bool) -> Result<String, String> {
        if self.channels.contains_key(channel) {
            return Ok(channel.to_owned());
        }
        let name = channel.trim_start_matches('#');
        if by_name {
            if let Some((id, _)) = self.channels.iter().find(|(_, c)| c.name == name) {
                return Ok(id.clone());
            }
            if channel.starts_with(['U', 'W']) && is_id(channel) {
                return Ok(self.dm(channel));
            }
        }
        if channel.starts_with(['C', 'G']) && is_id(channel) {
            let members = BTreeSet::from([self.bot_user.clone()]);
            self.channels.insert(
                channel.to_owned(),
                StubChannel {
                    name: channel.to_lowercase(),
                    topic: String::new(),
                    members,
                },
            );
            return Ok(channel.to_owned());
        }
        Err("channel_not_found".into())
    }

    fn answer(&mut self, method: &str, p: &Map<String, Value>) -> Answer {
        match method {
            "auth.test" => Ok(self.recorded(method)),
            "conversations.create" => self.create(p),
            "conversations.setTopic" => {
                let id = self.channel_id(&string(p, "channel"), false)?;
                let topic = string(p, "topic");
                if topic.chars().count() > 250 {
                    return Err("too_long".into());
                }
                if let Some(c) = self.channels.get_mut(&id) {
                    c.topic = topic;
                }
                Ok(self.recorded(method))
            }
            "conversations.invite" => self.invite(p),
            // The newest messages at or before `latest` (inclusive), newest first, as many
            // as `limit`; Slack's documented answer shape.
            "conversations.history" => {
                let channel = self.channel_id(&string(p, "channel"), false)?;
                let latest = string(p, "latest");
                let inclusive = p.get("inclusive").and_then(|v| {
                    v.as_bool()
                        .or_else(|| v.as_str().map(|s| s == "true" || s == "1"))
                }) == Some(true);
                let limit = p
                    .get("limit")
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                    .unwrap_or(100) as usize;
                let mut found: Vec<Value> = self
                    .messages
                    .iter()
                    .filter(|((c, ts), _)| {
                        c == &channel
                            && (latest.is_empty()
                                || ts.as_str() < latest.as_str()
                                || (inclusive && *ts == latest))
                    })
                    .map(|((_, ts), m)| {
                        json!({
                            "type": "message",
                            "user": m.params.get("user").cloned().unwrap_or(Value::Null),
                            "text": m.params.get("text").cloned().unwrap_or_default(),
                            "ts": ts,
                        })
                    })
                    .collect();
                found.reverse();
                found.truncate(limit);
                Ok(json!({ "ok": true, "messages": found, "has_more": false, "pin_count": 0 }))
            }
            "conversations.open" => {
                let users = p.get("users").and_then(Value::as_str).unwrap_or_default();
                let users: Vec<&str> = users.split(',').filter(|u| !u.is_empty()).collect();
                let id = match (users.as_slice(), p.get("channel").and_then(Value::as_str)) {
                    ([user], _) => self.dm(user),
                    ([], Some(channel)) => self.channel_id(channel, false)?,
                    ([], None) => return Err("invalid_arguments".into()),
                    _ => self.new_id('G'),
                };
                let mut answer = self.recorded(method);
                answer["channel"]["id"] = id.into();
                Ok(answer)
            }
            "chat.postMessage" => {
                let channel = self.channel_id(&string(p, "channel"), true)?;
                check_message(p)?;
                let ts = self.new_ts();
                self.messages.insert(
                    (channel.clone(), ts.clone()),
                    StubMessage {
                        params: Value::Object(p.clone()),
                        pinned: false,
                    },
                );
                let mut answer = self.recorded(method);
                answer["channel"] = channel.into();
                answer["ts"] = ts.clone().into();
                answer["message"]["ts"] = ts.into();
                answer["message"]["text"] = p.get("text").cloned().unwrap_or_default();
                if let Some(m) = answer["message"].as_object_mut() {
                    m.remove("attachments");
                    if let Some(blocks) = p.get("blocks") {
                        m.insert("blocks".into(), blocks.clone());
                    }
                }
                Ok(answer)
            }
            "chat.update" => {
                let channel = self.channel_id(&string(p, "channel"), false)?;
                let ts = string(p, "ts");
                check_message(p)?;
                let message = self
                    .messages
                    .get_mut(&(channel.clone(), ts.clone()))
                    .ok_or("message_not_found")?;
                message.params = Value::Object(p.clone());
                let mut answer = self.recorded(method);
                answer["channel"] = channel.into();
                answer["ts"] = ts.into();
                answer["text"] = p.get("text").cloned().unwrap_or_default();
                answer["message"]["text"] = answer["text"].clone();
                Ok(answer)
            }
            "chat.postEphemeral" => {
                self.channel_id(&string(p, "channel"), true)?;
                check_message(p)?;
                let mut answer = self.recorded(method);
                answer["message_ts"] = self.new_ts().into();
                Ok(answer)
            }
            "pins.add" => {
                let channel = self.channel_id(&string(p, "channel"), false)?;
                let message = self
                    .messages
                    .get_mut(&(channel, string(p, "timestamp")))
                    .ok_or("message_not_found")?;
                if message.pinned {
                    return Err("already_pinned".into());
                }
                message.pinned = true;
                Ok(self.recorded(method))
            }
            "users.info" => {
                let id = string(p, "user");
                let email = self.members.get(&id).ok_or("user_not_found")?.clone();
                let mut answer = self.recorded(method);
                answer["user"]["id"] = id.into();
                answer["user"]["profile"]["email"] = email.into();
                Ok(answer)
            }
            "users.lookupByEmail" => {
                let email = string(p, "email");
                let id = self
                    .members
                    .iter()
                    .find(|(_, e)| e.eq_ignore_ascii_case(&email))
                    .map(|(id, _)| id.clone())
                    .ok_or("users_not_found")?;
                let mut answer = self.recorded(method);
                answer["user"]["id"] = id.into();
                answer["user"]["profile"]["email"] = email.into();
                Ok(answer)
            }
            "views.open" => {
                let view = json_param(p, "view").ok_or("invalid_arguments")?;
                check_view(&view)?;
                self.next_view += 1;
                let mut answer = self.recorded(method);
                let shown = &mut answer["view"];
                shown["id"] = format!("V0STUB{:04}", self.next_view).into();
                for key in [
                    "type",
                    "title",
                    "submit",
                    "close",
                    "blocks",
                    "callback_id",
                    "private_metadata",
                ] {
                    if let Some(v) = view.get(key) {
                        shown[key] = v.clone();
                    }
                }
                Ok(answer)
            }
            _ => Ok(self.recorded(method)),
        }
    }

    fn create(&mut self, p: &Map<String, Value>) -> Answer {
        let name = string(p, "name");
        if name.chars().count() > 80 {
            return Err("invalid_name_maxlength".into());
        }
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if name.is_empty() || !name.chars().all(allowed) {
            return Err("invalid_name_specials".into());
        }
        if self.channels.values().any(|c| c.name == name) {
            return Err("name_taken".into());
        }
        let id = self.new_id('C');
        let bot = self.bot_user.clone();
        self.channels.insert(
            id.clone(),
            StubChannel {
                name: name.clone(),
                topic: String::new(),
                members: BTreeSet::from([bot.clone()]),
            },
        );
        let mut answer = self.recorded("conversations.create");
        let channel = &mut answer["channel"];
        channel["id"] = id.into();
        channel["name"] = name.clone().into();
        channel["name_normalized"] = name.into();
        channel["creator"] = bot.into();
        channel["is_private"] = p.get("is_private").cloned().unwrap_or(false.into());
        Ok(answer)
    }

    /// Slack refuses the whole call when any one user cannot be invited.
    fn invite(&mut self, p: &Map<String, Value>) -> Answer {
        let id = self.channel_id(&string(p, "channel"), false)?;
        // A comma-separated string, as documented.
        let users = p
            .get("users")
            .and_then(Value::as_str)
            .ok_or("invalid_arguments")?;
        let users: Vec<&str> = users.split(',').map(str::trim).collect();
        if users.iter().any(|u| u.is_empty()) {
            return Err("user_not_found".into());
        }
        let channel = self.channels.get(&id).ok_or("channel_not_found")?;
        for user in &users {
            if *user == self.bot_user {
                return Err("cant_invite_self".into());
            }
            if channel.members.contains(*user) {
                return Err("already_in_channel".into());
            }
        }
        let channel = self.channels.get_mut(&id).ok_or("channel_not_found")?;
        channel.members.extend(users.iter().map(|u| u.to_string()));
        let name = channel.name.clone();
        let mut answer = self.recorded("conversations.invite");
        answer["channel"]["id"] = id.into();
        answer["channel"]["name"] = name.clone().into();
        answer["channel"]["name_normalized"] = name.into();
        Ok(answer)
    }
}

fn is_id(s: &str) -> bool {
    s.len() >= 3
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn string(p: &Map<String, Value>, key: &str) -> String {
    match p.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A parameter holding JSON: a JSON body has it as is, a form as a string.
fn json_param(p: &Map<String, Value>, key: &str) -> Option<Value> {
    match p.get(key)? {
        Value::String(s) => serde_json::from_str(s).ok(),
        Value::Null => None,
        other => Some(other.clone()),
    }
}

/// A message needs text, blocks or attachments, and its blocks must be valid.
fn check_message(p: &Map<String, Value>) -> Result<(), String> {
    let blocks = match p.get("blocks") {
        None | Some(Value::Null) => None,
        Some(_) => Some(json_param(p, "blocks").ok_or("invalid_blocks_format")?),
    };
    let has_text = !string(p, "text").is_empty();
    let has_blocks = blocks
        .as_ref()
        .and_then(Value::as_array)
        .is_some_and(|b| !b.is_empty());
    if !has_text && !has_blocks && p.get("attachments").is_none() {
        return Err("no_text".into());
    }
    match blocks {
        Some(blocks) => check_blocks(&blocks, 50).map_err(|_| "invalid_blocks".to_owned()),
        None => Ok(()),
    }
}

fn check_view(view: &Value) -> Result<(), String> {
    let invalid = |_| "invalid_arguments".to_owned();
    let text_len = |v: &Value| v["text"].as_str().map(|t| t.chars().count());
    match view["type"].as_str() {
        Some("modal") => {
            let title = text_len(&view["title"]).ok_or("invalid_arguments")?;
            if title == 0 || title > 24 {
                return Err("invalid_arguments".into());
            }
            for key in ["submit", "close"] {
                if view.get(key).is_some() && text_len(&view[key]).is_none_or(|n| n > 24) {
                    return Err("invalid_arguments".into());
                }
            }
        }
        Some("home") => {}
        _ => return Err("invalid_arguments".into()),
    }
    let short = |key: &str, max: usize| view[key].as_str().is_none_or(|s| s.chars().count() <= max);
    if !short("callback_id", 255) || !short("private_metadata", 3000) {
        return Err("invalid_arguments".into());
    }
    check_blocks(&view["blocks"], 100).map_err(invalid)
}

/// Block Kit's structural limits, as Slack enforces them.
fn check_blocks(blocks: &Value, max: usize) -> Result<(), String> {
    let blocks = blocks.as_array().ok_or("blocks is not a list")?;
    if blocks.len() > max {
        return Err(format!("{} blocks, more than {max}", blocks.len()));
    }
    let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let mut block_ids = HashSet::new();
    for block in blocks {
        if let Some(id) = block.get("block_id") {
            let id = id.as_str().ok_or("block_id is not a string")?;
            if id.is_empty() || id.len() > 255 || !block_ids.insert(id.to_owned()) {
                return Err(format!("bad or repeated block_id {id}"));
            }
        }
        match block["type"].as_str() {
            Some("header") => {
                if block["text"]["type"] != "plain_text" || len(&block["text"]["text"]) > 150 {
                    return Err("bad header".into());
                }
            }
            Some("section") => {
                let text = &block["text"];
                let fields = block["fields"].as_array();
                if text.is_null() && fields.is_none() {
                    return Err("a section needs text or fields".into());
                }
                if !text.is_null() && (len(&text["text"]) == 0 || len(&text["text"]) > 3000) {
                    return Err("section text empty or over 3000".into());
                }
                if let Some(fields) = fields {
                    if fields.is_empty() || fields.len() > 10 {
                        return Err("0 or more than 10 fields".into());
                    }
                    if fields
                        .iter()
                        .any(|f| len(&f["text"]) == 0 || len(&f["text"]) > 2000)
                    {
                        return Err("field text empty or over 2000".into());
                    }
                }
            }
            Some("context") => {
                let elements = block["elements"].as_array().ok_or("context elements")?;
                if elements.is_empty() || elements.len() > 10 {
                    return Err("0 or more than 10 context elements".into());
                }
            }
            Some("actions") => {
                let elements = block["elements"].as_array().ok_or("actions elements")?;
                if elements.is_empty() || elements.len() > 25 {
                    return Err("0 or more than 25 actions".into());
                }
                let mut action_ids = HashSet::new();
                for e in elements {
                    if let Some(id) = e["action_id"].as_str()
                        && !action_ids.insert(id)
                    {
                        return Err(format!("action_id {id} repeated in a block"));
                    }
                    if e["type"] == "button"
                        && (len(&e["text"]["text"]) == 0
                            || len(&e["text"]["text"]) > 75
                            || len(&e["value"]) > 2000)
                    {
                        return Err("bad button".into());
                    }
                }
            }
            Some("input") => {
                if len(&block["label"]["text"]) == 0 || len(&block["label"]["text"]) > 2000 {
                    return Err("bad input label".into());
                }
                if !block["element"]["type"].is_string() {
                    return Err("input without element".into());
                }
            }
            Some(_) => {}
            None => return Err("block without type".into()),
        }
    }
    Ok(())
}

fn slack_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn failure_response(failure: &Failure) -> Response {
    match failure {
        Failure::RateLimited { retry_after_secs } => {
            let mut response = slack_json(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({ "ok": false, "error": "ratelimited" }),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                retry_after_secs
                    .to_string()
                    .parse()
                    .expect("digits are a header value"),
            );
            response
        }
        Failure::Error(code) => slack_json(StatusCode::OK, &json!({ "ok": false, "error": code })),
        Failure::Status(status) => StatusCode::from_u16(*status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
    }
}

fn failure_code(failure: &Failure) -> String {
    match failure {
        Failure::RateLimited { .. } => "ratelimited".into(),
        Failure::Error(code) => code.clone(),
        Failure::Status(status) => format!("HTTP {status}"),
    }
}

/// Query string and body as one object; Slack takes parameters from either, the body as
/// a form or as JSON.
fn parameters(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, String> {
    let mut params = Map::new();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|_| "invalid_arguments".to_owned())?;
    params.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    if body.is_empty() {
        return Ok(params);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        match serde_json::from_slice(body) {
            Ok(Value::Object(fields)) => params.extend(fields),
            _ => return Err("invalid_json".into()),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| "invalid_form_data".to_owned())?;
        params.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    } else {
        return Err("invalid_form_data".into());
    }
    Ok(params)
}

async fn api(
    State(state): State<Arc<Mutex<Inner>>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
    let (mut params, parse_error) = match parameters(query.as_deref(), &headers, &body) {
        Ok(params) => (params, None),
        Err(code) => (Map::new(), Some(code)),
    };
    let token_param = params.remove("token");
    inner.calls.push((method.clone(), params.clone()));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let token = bearer.or_else(|| token_param.and_then(|t| t.as_str().map(str::to_owned)));

    let slack = inner.slack;
    let checked = (|| -> Result<(), String> {
        let required = slack.methods.get(&method).ok_or("unknown_method")?;
        match token.as_deref() {
            None | Some("") => return Err("not_authed".into()),
            Some(t) if t != TOKEN => return Err("invalid_auth".into()),
            Some(_) => {}
        }
        if let Some(code) = parse_error {
            return Err(code);
        }
        let documented = DOCUMENTED_REQUIRED
            .iter()
            .filter(|(m, _)| *m == method)
            .flat_map(|(_, names)| names.iter().copied());
        let missing = required
            .iter()
            .map(String::as_str)
            .chain(documented)
            .any(|name| string(&params, name).is_empty());
        if missing {
            return Err("invalid_arguments".into());
        }
        Ok(())
    })();
    if let Err(code) = checked {
        inner.rejections.push((method, code.clone()));
        return slack_json(StatusCode::OK, &json!({ "ok": false, "error": code }));
    }

    if let Some(failure) = inner
        .failures
        .get_mut(&method)
        .and_then(VecDeque::pop_front)
    {
        inner.rejections.push((method, failure_code(&failure)));
        return failure_response(&failure);
    }

    match inner.answer(&method, &params) {
        Ok(mut answer) => {
            answer["ok"] = true.into();
            slack_json(StatusCode::OK, &answer)
        }
        Err(code) => {
            inner.rejections.push((method, code.clone()));
            slack_json(StatusCode::OK, &json!({ "ok": false, "error": code }))
        }
    }
}

/// A response URL: a JSON message in, `{"ok":true}` out; a message Slack would not show
/// gets `{"ok":false,"error":…}`, a body that is not JSON a 400.
async fn respond(
    State(state): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
    let method = "response_url".to_owned();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body @ Value::Object(_)) => body,
        _ => {
            inner.rejections.push((method, "invalid_payload".into()));
            return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
        }
    };
    inner.responses.push(StubResponse {
        id,
        body: body.clone(),
        authorization,
    });
    if let Some(failure) = inner
        .failures
        .get_mut(&method)
        .and_then(VecDeque::pop_front)
    {
        inner.rejections.push((method, failure_code(&failure)));
        return failure_response(&failure);
    }
    let params = body.as_object().cloned().unwrap_or_default();
    let has_content = ["text", "blocks", "attachments", "delete_original"]
        .iter()
        .any(|k| params.contains_key(*k));
    let checked = if has_content {
        if params.contains_key("blocks") || params.contains_key("text") {
            check_message(&params)
        } else {
            Ok(())
        }
    } else {
        Err("no_text".to_owned())
    };
    match checked {
        Ok(()) => slack_json(StatusCode::OK, &json!({ "ok": true })),
        Err(code) => {
            inner.rejections.push((method, code.clone()));
            slack_json(StatusCode::OK, &json!({ "ok": false, "error": code }))
        }
    }
}

/// `apps.connections.open`: the app-level token in the `Authorization` header (Slack
/// ignores a `token` parameter here), POST only; answers a one-off WebSocket URL.
async fn connections_open(
    State(state): State<Arc<Mutex<Inner>>>,
    method: axum::http::Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const METHOD: &str = "apps.connections.open";
    let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
    let mut params = parameters(query.as_deref(), &headers, &body).unwrap_or_default();
    params.remove("token");
    inner.calls.push((METHOD.to_owned(), params));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let checked = match bearer {
        _ if method != axum::http::Method::POST => Err("insecure_request"),
        None | Some("") => Err("not_authed"),
        Some(TOKEN) => Err("not_allowed_token_type"),
        Some(APP_TOKEN) => Ok(()),
        Some(_) => Err("invalid_auth"),
    };
    if let Err(code) = checked {
        inner.rejections.push((METHOD.to_owned(), code.to_owned()));
        return slack_json(StatusCode::OK, &json!({ "ok": false, "error": code }));
    }
    if let Some(failure) = inner.failures.get_mut(METHOD).and_then(VecDeque::pop_front) {
        inner
            .rejections
            .push((METHOD.to_owned(), failure_code(&failure)));
        return failure_response(&failure);
    }
    inner.next_ticket += 1;
    let ticket = format!("stub-ticket-{}", inner.next_ticket);
    inner.tickets.insert(ticket.clone());
    let addr = inner
        .socket_addr
        .expect("the WebSocket endpoint is listening");
    slack_json(
        StatusCode::OK,
        &json!({ "ok": true, "url": format!("ws://{addr}/socket?ticket={ticket}") }),
    )
}

/// The WebSocket endpoint: `/socket?ticket=…` with a ticket `apps.connections.open` handed
/// out and nobody used yet; anything else is refused in the handshake.
async fn accept_sockets(listener: tokio::net::TcpListener, state: Arc<Mutex<Inner>>) {
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            // The signature is tungstenite's handshake callback's.
            #[allow(clippy::result_large_err)]
            let check =
                |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
                    let uri = request.uri();
                    let ticket = uri
                        .query()
                        .unwrap_or_default()
                        .split('&')
                        .find_map(|pair| pair.strip_prefix("ticket="))
                        .unwrap_or_default();
                    let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
                    if uri.path() == "/socket" && inner.tickets.remove(ticket) {
                        Ok(response)
                    } else {
                        let mut refused = ErrorResponse::new(Some("invalid or used ticket".into()));
                        *refused.status_mut() = StatusCode::UNAUTHORIZED;
                        Err(refused)
                    }
                };
            if let Ok(socket) = tokio_tungstenite::accept_hdr_async(stream, check).await {
                serve_socket(socket, state).await;
            }
        });
    }
}

/// One connection: `hello`, then the test's frames out and acknowledgements in.
async fn serve_socket(
    socket: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    state: Arc<Mutex<Inner>>,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel();
    let (index, hello) = {
        let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
        inner.sockets.push(StubSocket { out: Some(out_tx) });
        let index = inner.sockets.len() - 1;
        let open = inner.sockets.iter().filter(|s| s.out.is_some()).count();
        let hello = json!({
            "type": "hello",
            "num_connections": open,
            "debug_info": {
                "host": "wss-stub",
                "build_number": 1,
                "approximate_connection_time": 18060
            },
            "connection_info": { "app_id": "A0TOCSIN" }
        });
        (index, hello)
    };
    if sink.send(Message::text(hello.to_string())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            out = out_rx.recv() => match out {
                Some(SocketOut::Frame(text)) => {
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                Some(SocketOut::Close) | None => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            },
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
                    match serde_json::from_str::<Value>(text.as_str()) {
                        Ok(ack) if ack["envelope_id"].is_string() => inner.acks.push(ack),
                        _ => inner.socket_frames.push(text.as_str().to_owned()),
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    if let Some(socket) = state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .sockets
        .get_mut(index)
    {
        socket.out = None;
    }
}
