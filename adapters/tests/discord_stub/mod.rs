//! A stub of Discord's REST API (v10) on loopback, for tests of anything that talks to
//! Discord.
//!
//! It holds calls to Discord's own description of the API, `discord/openapi/openapi.json`
//! under `$TOCSIN_FIXTURES` (by default the first `shared/fixtures` above the crate): a
//! path no operation has is 404, a method the path does not have is 405, a call without
//! `Authorization: Bot <TOKEN>` where the operation needs the bot token is 401, and a JSON
//! body with a top-level property the operation's request schema does not name is 400
//! (`50035 Invalid Form Body`). Errors have Discord's shape, `{"message", "code"}`.
//!
//! It keeps the state the answers depend on: guild channels (listed by
//! `GET /guilds/{id}/channels`), their topics and permission overwrites, messages (an edit
//! or pin of a message never posted is `10008 Unknown Message`), pins, DM channels (one
//! per user) and what interaction webhooks received. Channel ids it has not seen are taken
//! as existing text channels, so a test can post anywhere without setting up.
//!
//! Rate limits: every answer carries `X-RateLimit-*` headers; [`DiscordStub::spend_bucket`]
//! makes the next answer of a route say the bucket is spent, and [`DiscordStub::fail_next`]
//! queues failures, a 429 among them.
//!
//! Include it with `#[path = "…/adapters/tests/discord_stub/mod.rs"] mod discord_stub;`
//! and start it with [`start`]. It needs axum, tokio and serde_json.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The bot token the stub accepts (sent as `Bot <TOKEN>`).
pub const TOKEN: &str = "MTA0NTY3ODkw.stub.tocsin-discord-bot-token";
/// The application (and so interaction webhook) id and the guild the stub serves.
pub const APPLICATION_ID: &str = "1045678901234567890";
pub const GUILD_ID: &str = "1145678901234567890";
/// The bot's own user id.
pub const BOT_USER: &str = "1245678901234567890";
/// The path prefix of the API, as in `https://discord.com/api/v10`.
const PREFIX: &str = "/api/v10";

/// How the next call of a route fails, instead of its normal answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// HTTP 429 with Discord's body `{message, retry_after, global}` and headers
    /// (`Retry-After`, `X-RateLimit-Scope`, `X-RateLimit-Global` when global).
    RateLimited { retry_after_secs: f64, global: bool },
    /// This status with a JSON error body (a 502 from Discord's edge, say).
    Status(u16),
    /// HTTP 400 with `{"message": message, "code": code}`.
    Error { code: u64, message: String },
}

/// A call as the stub received it.
#[derive(Debug, Clone, PartialEq)]
pub struct StubCall {
    pub method: String,
    /// The path under the API base, like `/channels/1/messages`, without the query.
    pub path: String,
    pub query: Option<String>,
    /// The operation's `operationId` in Discord's description (`create_message`), if the
    /// path and method matched one.
    pub operation: Option<String>,
    /// The JSON body (`Null` without one).
    pub body: Value,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The status answered.
    pub status: u16,
    pub at: Instant,
}

/// A guild channel (or DM) as the stub knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StubChannel {
    pub id: String,
    pub name: String,
    pub kind: u64,
    pub topic: Option<String>,
    pub parent_id: Option<String>,
    /// Overwrite id (a user or role) -> the overwrite as sent.
    pub overwrites: BTreeMap<String, Value>,
    /// The DM's recipient.
    pub recipient: Option<String>,
    /// A thread's members (added with `PUT /channels/{id}/thread-members/{user}`).
    pub members: Vec<String>,
}

/// A message as the stub knows it: the latest body it was posted or edited with.
#[derive(Debug, Clone, PartialEq)]
pub struct StubMessage {
    pub channel_id: String,
    pub id: String,
    pub body: Value,
    pub pinned: bool,
    pub edits: usize,
}

/// A body sent to an interaction webhook route.
#[derive(Debug, Clone, PartialEq)]
pub struct StubWebhookCall {
    pub method: String,
    pub token: String,
    /// `None` for a follow-up, `Some("@original")` for an edit of the original.
    pub message: Option<String>,
    pub body: Value,
    pub authorization: Option<String>,
}

/// A running stub; stops when dropped.
pub struct DiscordStub {
    addr: SocketAddr,
    state: Arc<Mutex<Inner>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for DiscordStub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts a stub on a free loopback port.
pub async fn start() -> DiscordStub {
    spec();
    let state = Arc::new(Mutex::new(Inner::default()));
    let app = Router::new().fallback(handle).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port for the Discord stub");
    let addr = listener.local_addr().expect("the stub's address");
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the Discord stub serves");
    });
    DiscordStub {
        addr,
        state,
        server,
    }
}

impl DiscordStub {
    /// The REST base, like `https://discord.com/api/v10`.
    pub fn url(&self) -> String {
        format!("http://{}{PREFIX}", self.addr)
    }

    pub fn token(&self) -> &'static str {
        TOKEN
    }

    pub fn application_id(&self) -> &'static str {
        APPLICATION_ID
    }

    pub fn guild_id(&self) -> &'static str {
        GUILD_ID
    }

    /// Every call received, in order, rejected ones included.
    pub fn calls(&self) -> Vec<StubCall> {
        self.lock().calls.clone()
    }

    /// The calls of one operation (`create_message`) or route
    /// (`POST /channels/{channel_id}/messages`), in order.
    pub fn calls_to(&self, route: &str) -> Vec<StubCall> {
        let routes = &spec().routes;
        self.calls()
            .into_iter()
            .filter(|c| {
                c.operation.as_deref() == Some(route)
                    || routes.iter().any(|r| {
                        r.key(&c.method) == route
                            && r.methods.get(&c.method).map(|o| &o.id) == c.operation.as_ref()
                    })
            })
            .collect()
    }

    /// Makes the next call of `route` fail: an `operationId` (`create_message`) or a
    /// method and path template (`POST /channels/{channel_id}/messages`). Failures queue.
    pub fn fail_next(&self, route: &str, failure: Failure) {
        self.lock()
            .failures
            .entry(route.to_owned())
            .or_default()
            .push_back(failure);
    }

    /// Makes the next successful answer of `route` say its bucket is spent:
    /// `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset-After: <secs>`.
    pub fn spend_bucket(&self, route: &str, reset_after_secs: f64) {
        self.lock().spent.insert(route.to_owned(), reset_after_secs);
    }

    /// A message someone (not the bot) said in `channel`, so that a 📌 on it can be read
    /// back; returns its id.
    pub fn add_message(&self, channel: &str, author: &str, content: &str) -> String {
        let mut inner = self.lock();
        inner.channel(channel);
        let id = inner.snowflake();
        inner.messages.insert(
            (channel.to_owned(), id.clone()),
            StubMessage {
                channel_id: channel.to_owned(),
                id: id.clone(),
                body: json!({ "content": content, "author": { "id": author } }),
                pinned: false,
                edits: 0,
            },
        );
        id
    }

    /// A text channel that exists before the test starts; returns its id.
    pub fn add_channel(&self, name: &str) -> String {
        let mut inner = self.lock();
        let id = inner.snowflake();
        inner.channels.insert(
            id.clone(),
            StubChannel {
                id: id.clone(),
                name: name.to_owned(),
                kind: 0,
                topic: None,
                parent_id: None,
                overwrites: BTreeMap::new(),
                recipient: None,
                members: Vec::new(),
            },
        );
        inner.guild_channels.push(id.clone());
        id
    }

    pub fn channel(&self, id: &str) -> Option<StubChannel> {
        self.lock().channels.get(id).cloned()
    }

    /// The guild's channels called `name`.
    pub fn channels_named(&self, name: &str) -> Vec<StubChannel> {
        let inner = self.lock();
        inner
            .guild_channels
            .iter()
            .filter_map(|id| inner.channels.get(id))
            .filter(|c| c.name == name)
            .cloned()
            .collect()
    }

    /// The DM channel opened with `user`, if any.
    pub fn dm_channel(&self, user: &str) -> Option<String> {
        self.lock().dms.get(user).cloned()
    }

    pub fn message(&self, channel: &str, id: &str) -> Option<StubMessage> {
        self.lock()
            .messages
            .get(&(channel.to_owned(), id.to_owned()))
            .cloned()
    }

    /// Makes `GET /gateway/bot` send clients to `url` (a Gateway stub's WebSocket).
    pub fn set_gateway_url(&self, url: &str) {
        self.lock().gateway_url = Some(url.to_owned());
    }

    /// The messages in `channel`, oldest first.
    pub fn messages_in(&self, channel: &str) -> Vec<StubMessage> {
        self.lock()
            .messages
            .values()
            .filter(|m| m.channel_id == channel)
            .cloned()
            .collect()
    }

    pub fn pinned(&self, channel: &str, id: &str) -> bool {
        self.message(channel, id).is_some_and(|m| m.pinned)
    }

    /// What interaction webhook routes received, in order.
    pub fn webhook_calls(&self) -> Vec<StubWebhookCall> {
        self.lock().webhooks.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Default)]
struct Inner {
    calls: Vec<StubCall>,
    failures: HashMap<String, VecDeque<Failure>>,
    spent: HashMap<String, f64>,
    channels: BTreeMap<String, StubChannel>,
    /// Ids of the guild's channels, in creation order.
    guild_channels: Vec<String>,
    messages: BTreeMap<(String, String), StubMessage>,
    dms: BTreeMap<String, String>,
    webhooks: Vec<StubWebhookCall>,
    next_id: u64,
    /// What `GET /gateway/bot` answers as the Gateway's URL.
    gateway_url: Option<String>,
}

impl Inner {
    fn snowflake(&mut self) -> String {
        self.next_id += 1;
        (1_300_000_000_000_000_000u64 + self.next_id).to_string()
    }

    /// A channel by id; one never seen is taken as an existing text channel.
    fn channel(&mut self, id: &str) -> &mut StubChannel {
        self.channels
            .entry(id.to_owned())
            .or_insert_with(|| StubChannel {
                id: id.to_owned(),
                name: format!("channel-{id}"),
                kind: 0,
                topic: None,
                parent_id: None,
                overwrites: BTreeMap::new(),
                recipient: None,
                members: Vec::new(),
            })
    }
}

/// What the stub reads of Discord's description, once per test binary.
struct Spec {
    routes: Vec<Route>,
}

struct Route {
    template: String,
    segments: Vec<String>,
    methods: HashMap<String, Operation>,
}

impl Route {
    fn key(&self, method: &str) -> String {
        format!("{method} {}", self.template)
    }

    /// Whether `path` fits, and how many literal segments it matched (more is better:
    /// `/users/@me/channels` over `/users/{user_id}/channels`).
    fn matches(&self, path: &[&str]) -> Option<usize> {
        if path.len() != self.segments.len() {
            return None;
        }
        let mut literal = 0;
        for (want, got) in self.segments.iter().zip(path) {
            if want.starts_with('{') {
                if got.is_empty() {
                    return None;
                }
            } else if want == got {
                literal += 1;
            } else {
                return None;
            }
        }
        Some(literal)
    }

    /// The path parameters of a matching `path`.
    fn params(&self, path: &[&str]) -> HashMap<String, String> {
        self.segments
            .iter()
            .zip(path)
            .filter(|(want, _)| want.starts_with('{'))
            .map(|(want, got)| (want.trim_matches(['{', '}']).to_owned(), decode(got)))
            .collect()
    }
}

struct Operation {
    id: String,
    /// Whether the bot token may be left out (`security` lists `{}`).
    anonymous: bool,
    /// The top-level properties a JSON body may have; `None` when the schema does not say.
    properties: Option<HashSet<String>>,
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = fixtures_dir()
            .join("discord")
            .join("openapi")
            .join("openapi.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let mut routes = Vec::new();
        for (template, item) in doc["paths"].as_object().expect("the spec has paths") {
            let mut methods = HashMap::new();
            for (method, op) in item.as_object().into_iter().flatten() {
                if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    continue;
                }
                let anonymous = op["security"].as_array().is_none_or(|s| {
                    s.iter()
                        .any(|s| s.as_object().is_some_and(|o| o.is_empty()))
                });
                let schema = &op["requestBody"]["content"]["application/json"]["schema"];
                let properties = if schema.is_null() {
                    Some(HashSet::new())
                } else {
                    properties(&doc, schema, 0)
                };
                methods.insert(
                    method.to_uppercase(),
                    Operation {
                        id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                        anonymous,
                        properties,
                    },
                );
            }
            routes.push(Route {
                template: template.clone(),
                segments: template
                    .trim_start_matches('/')
                    .split('/')
                    .map(str::to_owned)
                    .collect(),
                methods,
            });
        }
        Spec { routes }
    })
}

/// The property names a schema allows at its top level, following `$ref` and unions a
/// few levels deep; `None` when it does not list them.
fn properties(doc: &Value, schema: &Value, depth: usize) -> Option<HashSet<String>> {
    if depth > 4 {
        return None;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let pointer = reference.trim_start_matches('#');
        return properties(doc, doc.pointer(pointer)?, depth + 1);
    }
    if let Some(props) = schema["properties"].as_object() {
        return Some(props.keys().cloned().collect());
    }
    let mut union: Option<HashSet<String>> = None;
    for key in ["anyOf", "oneOf", "allOf"] {
        for alternative in schema[key].as_array().into_iter().flatten() {
            if let Some(found) = properties(doc, alternative, depth + 1) {
                union.get_or_insert_with(HashSet::new).extend(found);
            }
        }
    }
    union
}

fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOCSIN_FIXTURES") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared").join("fixtures"))
        .find(|d| d.join("discord").is_dir())
        .unwrap_or_else(|| panic!("no shared/fixtures above {}", manifest.display()))
}

fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn error(status: StatusCode, code: u64, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "message": message, "code": code })),
    )
        .into_response()
}

fn invalid_form_body(errors: Value) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "message": "Invalid Form Body", "code": 50035, "errors": errors })),
    )
        .into_response()
}

async fn handle(
    State(state): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = method.as_str().to_owned();
    let path = uri.path().strip_prefix(PREFIX).unwrap_or("").to_owned();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json_body: Result<Value, String> = if body.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    };

    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let route = spec()
        .routes
        .iter()
        .filter_map(|r| r.matches(&segments).map(|score| (score, r)))
        .max_by_key(|(score, _)| *score)
        .map(|(_, r)| r);
    let operation = route.and_then(|r| r.methods.get(&method).map(|op| (r, op)));

    let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
    let mut response = (|| {
        if path.is_empty() {
            return error(StatusCode::NOT_FOUND, 0, "404: Not Found");
        }
        let Some(route) = route else {
            return error(StatusCode::NOT_FOUND, 0, "404: Not Found");
        };
        let Some((_, op)) = operation else {
            return error(StatusCode::METHOD_NOT_ALLOWED, 0, "405: Method Not Allowed");
        };
        let bot = authorization.as_deref() == Some(&format!("Bot {TOKEN}"));
        if !op.anonymous && !bot {
            return error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized");
        }
        if authorization.is_some() && !bot {
            return error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized");
        }
        let body = match &json_body {
            Ok(body) => body,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    50109,
                    &format!("The request body contains invalid JSON. {e}"),
                );
            }
        };
        if let (Some(allowed), Some(given)) = (&op.properties, body.as_object()) {
            let unknown: Vec<&String> = given.keys().filter(|k| !allowed.contains(*k)).collect();
            if !unknown.is_empty() {
                let errors: serde_json::Map<String, Value> = unknown
                    .iter()
                    .map(|k| {
                        (
                            (*k).clone(),
                            json!({ "_errors": [{ "code": "UNKNOWN_FIELD", "message": "Not a field of this request" }] }),
                        )
                    })
                    .collect();
                return invalid_form_body(Value::Object(errors));
            }
        }
        let key = route.key(&method);
        for name in [op.id.as_str(), key.as_str()] {
            if let Some(failure) = inner.failures.get_mut(name).and_then(VecDeque::pop_front) {
                return failure_response(&failure);
            }
        }
        let params = route.params(&segments);
        let wait = uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "wait=true"));
        let mut response = answer(
            &mut inner,
            &op.id,
            &params,
            body,
            authorization.as_deref(),
            wait,
        );
        if response.status().is_success() {
            let spent = [op.id.as_str(), key.as_str()]
                .iter()
                .find_map(|name| inner.spent.remove(*name));
            let limit_headers = response.headers_mut();
            let (remaining, reset) = match spent {
                Some(reset) => ("0".to_owned(), reset),
                None => ("4".to_owned(), 1.0),
            };
            for (name, value) in [
                ("x-ratelimit-limit", "5".to_owned()),
                ("x-ratelimit-remaining", remaining),
                ("x-ratelimit-reset-after", format!("{reset:.3}")),
                ("x-ratelimit-bucket", format!("stub-{}", op.id)),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    limit_headers.insert(name, value);
                }
            }
        }
        response
    })();
    if !response.headers().contains_key(header::CONTENT_TYPE)
        && response.status() != StatusCode::NO_CONTENT
    {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    inner.calls.push(StubCall {
        method,
        path,
        query: uri.query().map(str::to_owned),
        operation: operation.map(|(_, op)| op.id.clone()),
        body: json_body.unwrap_or(Value::Null),
        authorization,
        status: response.status().as_u16(),
        at: Instant::now(),
    });
    response
}

fn failure_response(failure: &Failure) -> Response {
    match failure {
        Failure::RateLimited {
            retry_after_secs,
            global,
        } => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "message": "You are being rate limited.",
                    "retry_after": retry_after_secs,
                    "global": global,
                })),
            )
                .into_response();
            let headers = response.headers_mut();
            let seconds = retry_after_secs.ceil().max(0.0) as u64;
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            if *global {
                headers.insert("x-ratelimit-global", HeaderValue::from_static("true"));
                headers.insert("x-ratelimit-scope", HeaderValue::from_static("global"));
            } else {
                headers.insert("x-ratelimit-limit", HeaderValue::from_static("5"));
                headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
                if let Ok(v) = HeaderValue::from_str(&format!("{retry_after_secs:.3}")) {
                    headers.insert("x-ratelimit-reset-after", v);
                }
                headers.insert("x-ratelimit-scope", HeaderValue::from_static("user"));
            }
            response
        }
        Failure::Status(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            let message = format!(
                "{}: {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("Error")
            );
            error(status, 0, &message)
        }
        Failure::Error { code, message } => error(StatusCode::BAD_REQUEST, *code, message),
    }
}

/// The normal answer of an operation that passed the checks.
fn answer(
    inner: &mut Inner,
    operation: &str,
    params: &HashMap<String, String>,
    body: &Value,
    authorization: Option<&str>,
    // `?wait=true` on a follow-up: answer the message instead of 204.
    wait: bool,
) -> Response {
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    match operation {
        "bulk_set_guild_application_commands" | "bulk_set_application_commands" => {
            if operation == "bulk_set_guild_application_commands" && param("guild_id") != GUILD_ID {
                return error(StatusCode::NOT_FOUND, 10004, "Unknown Guild");
            }
            let Some(commands) = body.as_array() else {
                return invalid_form_body(json!({ "_errors": [{
                    "code": "BASE_TYPE_ARRAY", "message": "Must be an array." }] }));
            };
            // Discord answers with the commands as stored, each with its id.
            let stored: Vec<Value> = commands
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut c = c.clone();
                    c["id"] = format!("9000000000000000{i:02}").into();
                    c["application_id"] = APPLICATION_ID.into();
                    c
                })
                .collect();
            ok(Value::Array(stored))
        }
        "list_guild_channels" => {
            if param("guild_id") != GUILD_ID {
                return error(StatusCode::NOT_FOUND, 10004, "Unknown Guild");
            }
            // Threads are not listed here (Discord lists them under threads/active).
            let list: Vec<Value> = inner
                .guild_channels
                .iter()
                .filter_map(|id| inner.channels.get(id))
                .filter(|c| !matches!(c.kind, 10..=12))
                .map(channel_json)
                .collect();
            ok(Value::Array(list))
        }
        "create_guild_channel" => {
            if param("guild_id") != GUILD_ID {
                return error(StatusCode::NOT_FOUND, 10004, "Unknown Guild");
            }
            let name = body["name"].as_str().unwrap_or_default();
            let valid = !name.is_empty()
                && name.chars().count() <= 100
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !valid {
                return invalid_form_body(json!({ "name": { "_errors": [{
                    "code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length." }] } }));
            }
            if body["topic"]
                .as_str()
                .is_some_and(|t| t.chars().count() > 1024)
            {
                return invalid_form_body(json!({ "topic": { "_errors": [{
                    "code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 1024 or fewer in length." }] } }));
            }
            let id = inner.snowflake();
            let channel = StubChannel {
                id: id.clone(),
                name: name.to_owned(),
                kind: body["type"].as_u64().unwrap_or(0),
                topic: body["topic"].as_str().map(str::to_owned),
                parent_id: body["parent_id"].as_str().map(str::to_owned),
                overwrites: BTreeMap::new(),
                recipient: None,
                members: Vec::new(),
            };
            let json = channel_json(&channel);
            inner.channels.insert(id.clone(), channel);
            inner.guild_channels.push(id);
            (StatusCode::CREATED, axum::Json(json)).into_response()
        }
        "create_thread" => {
            let parent = param("channel_id");
            if inner.channels.get(&parent).is_some_and(|c| c.kind != 0) {
                return error(
                    StatusCode::BAD_REQUEST,
                    50024,
                    "Cannot execute action on this channel type",
                );
            }
            let name = body["name"].as_str().unwrap_or_default();
            if name.is_empty() || name.chars().count() > 100 {
                return invalid_form_body(json!({ "name": { "_errors": [{
                    "code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length." }] } }));
            }
            let kind = body["type"].as_u64().unwrap_or(12);
            if !matches!(kind, 10..=12) {
                return invalid_form_body(json!({ "type": { "_errors": [{
                    "code": "BASE_TYPE_CHOICES", "message": "Value must be one of (10, 11, 12)." }] } }));
            }
            let id = inner.snowflake();
            let thread = StubChannel {
                id: id.clone(),
                name: name.to_owned(),
                kind,
                topic: None,
                parent_id: Some(parent),
                overwrites: BTreeMap::new(),
                recipient: None,
                members: Vec::new(),
            };
            let json = channel_json(&thread);
            inner.channels.insert(id.clone(), thread);
            inner.guild_channels.push(id);
            (StatusCode::CREATED, axum::Json(json)).into_response()
        }
        "get_active_guild_threads" => {
            if param("guild_id") != GUILD_ID {
                return error(StatusCode::NOT_FOUND, 10004, "Unknown Guild");
            }
            let threads: Vec<Value> = inner
                .guild_channels
                .iter()
                .filter_map(|id| inner.channels.get(id))
                .filter(|c| matches!(c.kind, 10..=12))
                .map(channel_json)
                .collect();
            ok(json!({ "threads": threads, "members": [] }))
        }
        "add_thread_member" => {
            let thread = inner.channel(&param("channel_id"));
            if !matches!(thread.kind, 10..=12) {
                return error(
                    StatusCode::BAD_REQUEST,
                    50024,
                    "Cannot execute action on this channel type",
                );
            }
            let user = param("user_id");
            if !thread.members.contains(&user) {
                thread.members.push(user);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        "get_bot_gateway" => match &inner.gateway_url {
            Some(url) => ok(json!({
                "url": url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1
                }
            })),
            None => error(
                StatusCode::NOT_IMPLEMENTED,
                0,
                "no Gateway behind this stub (set_gateway_url)",
            ),
        },
        "get_message" => {
            let key = (param("channel_id"), param("message_id"));
            match inner.messages.get(&key) {
                Some(m) => ok(message_json(&key.0, &key.1, &m.body)),
                None => error(StatusCode::NOT_FOUND, 10008, "Unknown Message"),
            }
        }
        "update_channel" => {
            let channel = inner.channel(&param("channel_id"));
            if let Some(topic) = body.get("topic") {
                if topic.as_str().is_some_and(|t| t.chars().count() > 1024) {
                    return invalid_form_body(json!({ "topic": { "_errors": [{
                        "code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 1024 or fewer in length." }] } }));
                }
                channel.topic = topic.as_str().map(str::to_owned);
            }
            if let Some(name) = body["name"].as_str() {
                channel.name = name.to_owned();
            }
            ok(channel_json(channel))
        }
        "set_channel_permission_overwrite" => {
            let allow_ok = body["allow"].is_null()
                || body["allow"]
                    .as_str()
                    .is_some_and(|a| a.parse::<u64>().is_ok())
                || body["allow"].is_u64();
            if !matches!(body["type"].as_u64(), Some(0 | 1)) || !allow_ok {
                return invalid_form_body(json!({ "type": { "_errors": [{
                    "code": "BASE_TYPE_CHOICES", "message": "Value must be one of (0, 1)." }] } }));
            }
            let user = param("overwrite_id");
            inner
                .channel(&param("channel_id"))
                .overwrites
                .insert(user, body.clone());
            StatusCode::NO_CONTENT.into_response()
        }
        "create_message" => {
            if let Some(problem) = message_problem(body) {
                return problem;
            }
            let channel_id = param("channel_id");
            inner.channel(&channel_id);
            let id = inner.snowflake();
            let message = StubMessage {
                channel_id: channel_id.clone(),
                id: id.clone(),
                body: body.clone(),
                pinned: false,
                edits: 0,
            };
            inner
                .messages
                .insert((channel_id.clone(), id.clone()), message);
            ok(message_json(&channel_id, &id, body))
        }
        "update_message" => {
            if let Some(problem) = message_problem(body) {
                return problem;
            }
            let (channel_id, id) = (param("channel_id"), param("message_id"));
            let Some(message) = inner.messages.get_mut(&(channel_id.clone(), id.clone())) else {
                return error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
            };
            for (k, v) in body.as_object().into_iter().flatten() {
                message.body[k] = v.clone();
            }
            message.edits += 1;
            let json = message_json(&channel_id, &id, &message.body);
            ok(json)
        }
        "create_pin" | "deprecated_create_pin" => {
            let key = (param("channel_id"), param("message_id"));
            let Some(message) = inner.messages.get_mut(&key) else {
                return error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
            };
            message.pinned = true;
            StatusCode::NO_CONTENT.into_response()
        }
        "create_dm" => {
            let Some(user) = body["recipient_id"].as_str().filter(|u| !u.is_empty()) else {
                return invalid_form_body(json!({ "recipient_id": { "_errors": [{
                    "code": "BASE_TYPE_REQUIRED", "message": "This field is required" }] } }));
            };
            let id = match inner.dms.get(user) {
                Some(id) => id.clone(),
                None => {
                    let id = inner.snowflake();
                    inner.dms.insert(user.to_owned(), id.clone());
                    inner.channels.insert(
                        id.clone(),
                        StubChannel {
                            id: id.clone(),
                            name: String::new(),
                            kind: 1,
                            topic: None,
                            parent_id: None,
                            overwrites: BTreeMap::new(),
                            recipient: Some(user.to_owned()),
                            members: Vec::new(),
                        },
                    );
                    id
                }
            };
            ok(json!({
                "id": id,
                "type": 1,
                "last_message_id": null,
                "recipients": [{ "id": user, "username": "someone", "discriminator": "0" }],
            }))
        }
        "execute_webhook" | "update_original_webhook_message" => {
            if param("webhook_id") != APPLICATION_ID {
                return error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook");
            }
            if let Some(problem) = message_problem(body) {
                return problem;
            }
            let token = param("webhook_token");
            let edit = operation == "update_original_webhook_message";
            inner.webhooks.push(StubWebhookCall {
                method: if edit { "PATCH" } else { "POST" }.to_owned(),
                token: token.clone(),
                message: edit.then(|| "@original".to_owned()),
                body: body.clone(),
                authorization: authorization.map(str::to_owned),
            });
            if edit || wait {
                let id = inner.snowflake();
                ok(message_json("0", &id, body))
            } else {
                StatusCode::NO_CONTENT.into_response()
            }
        }
        other => error(
            StatusCode::NOT_IMPLEMENTED,
            0,
            &format!("the Discord stub does not implement {other}"),
        ),
    }
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn channel_json(c: &StubChannel) -> Value {
    let overwrites: Vec<Value> = c
        .overwrites
        .iter()
        .map(|(id, o)| json!({ "id": id, "type": o["type"], "allow": o["allow"], "deny": "0" }))
        .collect();
    json!({
        "id": c.id,
        "type": c.kind,
        "guild_id": GUILD_ID,
        "name": c.name,
        "topic": c.topic,
        "parent_id": c.parent_id,
        "position": 0,
        "nsfw": false,
        "permission_overwrites": overwrites,
    })
}

fn message_json(channel_id: &str, id: &str, body: &Value) -> Value {
    json!({
        "id": id,
        "channel_id": channel_id,
        "type": 0,
        "content": body["content"].as_str().unwrap_or_default(),
        "embeds": body["embeds"].as_array().cloned().unwrap_or_default(),
        "components": body["components"].as_array().cloned().unwrap_or_default(),
        "author": body.get("author").cloned()
            .unwrap_or_else(|| json!({ "id": BOT_USER, "username": "tocsin", "bot": true })),
        "pinned": false,
        "timestamp": "2026-11-24T10:00:00.000000+00:00",
    })
}

/// The limits Discord holds a message body to (content, embeds, components); a
/// `50035 Invalid Form Body` answer for the first one broken.
fn message_problem(body: &Value) -> Option<Response> {
    let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let fail = |field: &str, message: &str| {
        Some(invalid_form_body(json!({ field: { "_errors": [{
            "code": "BASE_TYPE_MAX_LENGTH", "message": message }] } })))
    };
    if len(&body["content"]) > 2000 {
        return fail("content", "Must be 2000 or fewer in length.");
    }
    let embeds = body["embeds"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if embeds.len() > 10 {
        return fail("embeds", "Must be 10 or fewer in length.");
    }
    let empty = len(&body["content"]) == 0
        && embeds.is_empty()
        && body["components"].as_array().is_none_or(Vec::is_empty);
    if empty && body.get("content").is_some() {
        return Some(error(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
        ));
    }
    for embed in embeds {
        let fields = embed["fields"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut total = len(&embed["title"]) + len(&embed["description"]);
        total += len(&embed["footer"]["text"]);
        if len(&embed["title"]) > 256
            || len(&embed["description"]) > 4096
            || len(&embed["footer"]["text"]) > 2048
            || fields.len() > 25
        {
            return fail("embeds", "An embed is over Discord's limits.");
        }
        for f in fields {
            if len(&f["name"]) == 0 || len(&f["value"]) == 0 {
                return fail("embeds", "Embed fields need a name and a value.");
            }
            if len(&f["name"]) > 256 || len(&f["value"]) > 1024 {
                return fail("embeds", "An embed field is over Discord's limits.");
            }
            total += len(&f["name"]) + len(&f["value"]);
        }
        if total > 6000 {
            return fail("embeds", "Embed size exceeds maximum size of 6000");
        }
    }
    let rows = body["components"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if rows.len() > 5 {
        return fail("components", "Must be 5 or fewer in length.");
    }
    let mut ids = HashSet::new();
    for row in rows {
        let buttons = row["components"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if row["type"] != 1 || buttons.is_empty() || buttons.len() > 5 {
            return fail("components", "An action row holds 1 to 5 components.");
        }
        for b in buttons {
            let id = b["custom_id"].as_str().unwrap_or_default();
            if b["type"] != 2 || id.is_empty() || id.chars().count() > 100 || len(&b["label"]) > 80
            {
                return fail("components", "A button is over Discord's limits.");
            }
            if !ids.insert(id.to_owned()) {
                return fail("components", "Component custom id cannot be duplicated");
            }
        }
    }
    None
}
