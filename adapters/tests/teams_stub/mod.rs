//! A stub of what a Teams bot calls, on loopback: the Entra ID token endpoint, the Bot
//! Connector REST API (v3) and Microsoft Graph's channel routes, for tests of anything that
//! talks to Teams.
//!
//! Where they are (see [`TeamsStub::login_url`] and friends):
//! - `POST /login/{tenant}/oauth2/v2.0/token`: client credentials for `APP_ID` and
//!   `APP_PASSWORD`, scope Bot Framework (tenant `botframework.com` or `TENANT_ID`) or
//!   Graph (tenant `TENANT_ID`). Each answer issues a new token, shaped like the published
//!   `token-response.json`, valid until [`TeamsStub::revoke_tokens`].
//! - `/{region}/v3/…`: the Bot Connector, whatever the region (`teams`, `emea`, …), so a
//!   test can move the service URL. Calls are held to the operations of `ConnectorAPI.json`
//!   and `TeamsAPI.json` (both under `$TOCSIN_FIXTURES/teams/connector-api`, by default the
//!   first `shared/fixtures` above the crate): a path no operation has is 404, a method the
//!   path lacks is 405, a call without `Authorization: Bearer <a bot token it issued>` is
//!   401, and a body that does not fit the operation's swagger definition is 400 with an
//!   `ErrorResponse` (`BadArgument`). "Fit" is: JSON types of every property named in the
//!   definition (`$ref`s followed, enums checked, so `Activity.type` must be an activity
//!   type), no property unknown to `Activity`, `Attachment`, `ConversationParameters`,
//!   `ChannelAccount` or `ConversationAccount`, `channelData` typed as `TeamsChannelData`,
//!   and what Teams itself insists on: an activity has a `type`; a message has text or
//!   attachments; an attachment has a `contentType`, and an Adaptive Card's `content` is an
//!   `AdaptiveCard` with a `version`; a 1:1 conversation has one member, the tenant, and
//!   the bot as `28:APP_ID`; a channel thread names a known channel and its first activity.
//! - `/graph/v1.0/teams/{team-id}/channels[/{channel-id}]`: list (with
//!   `$filter=displayName eq '…'`), create (standard channels, names as Teams allows,
//!   `NameAlreadyExists` for a taken one), get, patch. A Graph token is needed (a bot token
//!   is 401, and the other way round).
//!
//! Every call is recorded ([`TeamsStub::calls`]); the ones the checks turned away carry
//! the reason ([`TeamsStub::rejections`], [`TeamsStub::assert_no_rejections`]). Answers
//! that depend on state (an unknown conversation, a taken name) are not rejections.
//! [`TeamsStub::fail_next`] and [`TeamsStub::rate_limit_next`] queue failures for a route,
//! answered after the checks pass.
//!
//! Include it with `#[path = "…/adapters/tests/teams_stub/mod.rs"] mod teams_stub;` and
//! start it with [`start`]. It needs axum, tokio and serde_json.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
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

/// The bot's app registration the stub knows (`MicrosoftAppId`, `MicrosoftAppPassword`).
pub const APP_ID: &str = "6b5c0f7e-3d1a-4c2b-9e8f-0a1b2c3d4e5f";
pub const APP_PASSWORD: &str = "stub~Tocsin.app-password_0123456789";
/// The tenant, and the team (its Graph id) with its two channels.
pub const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const TEAM_ID: &str = "e5c5e0f1-1111-4222-8333-444455556666";
pub const GENERAL_CHANNEL: &str = "19:stub-general-0000@thread.tacv2";
pub const INCIDENTS_CHANNEL: &str = "19:stub-incidents-0000@thread.tacv2";
/// A person's Teams user id, for 1:1 chats.
pub const USER: &str = "29:1stubAliceUserId-0123456789abcdef";
/// The scopes tokens are issued for.
pub const BOT_SCOPE: &str = "https://api.botframework.com/.default";
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// Which of the three services a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Login,
    Connector,
    Graph,
}

/// How the next call of a route is answered instead of normally (after the checks).
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// HTTP 429 with `Retry-After: <secs>`.
    RateLimited { retry_after_secs: u64 },
    /// This status with an `ErrorResponse` body (`ServiceError`).
    Status(u16),
    /// This status with `{"error": {"code", "message"}}`.
    Error {
        status: u16,
        code: String,
        message: String,
    },
    /// This status and body, as if that were the answer.
    Answer { status: u16, body: Value },
}

/// A call as the stub received it.
#[derive(Debug, Clone, PartialEq)]
pub struct StubCall {
    pub api: Api,
    pub method: String,
    /// The path under the service's base as sent, still percent-encoded:
    /// `/v3/conversations/19%3A…/activities`, `/teams/{id}/channels`, `/{tenant}/oauth2/v2.0/token`.
    pub path: String,
    pub query: Option<String>,
    /// The connector's region: the first path segment of the service URL (`teams`).
    pub service: Option<String>,
    /// The method and path template, like `POST /v3/conversations/{conversationId}/activities`.
    pub route: Option<String>,
    /// The operation: the swagger `operationId` for the connector
    /// (`Conversations_SendToConversation`), Graph's names (`channel-list`, `channel-post`,
    /// `channel-get`, `channel-patch`), `token` for the login route.
    pub operation: Option<String>,
    /// The path parameters, decoded.
    pub params: BTreeMap<String, String>,
    /// The JSON body (`Null` without one); for the token route, the form as an object.
    pub body: Value,
    pub authorization: Option<String>,
    pub status: u16,
    /// Why the stub's checks turned it away, if they did.
    pub rejection: Option<String>,
    pub at: Instant,
}

/// A token the stub issued.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedToken {
    pub token: String,
    pub scope: String,
    pub tenant: String,
    pub revoked: bool,
}

/// A Graph channel of the team.
#[derive(Debug, Clone, PartialEq)]
pub struct StubChannel {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub membership_type: String,
}

/// A conversation made with `POST /v3/conversations`.
#[derive(Debug, Clone, PartialEq)]
pub struct StubConversation {
    pub id: String,
    pub kind: ConversationKind,
    pub tenant: Option<String>,
    /// The `ConversationParameters` it was made with.
    pub parameters: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConversationKind {
    /// A 1:1 chat of the bot and this member.
    Personal { member: String },
    /// A thread in this channel.
    Thread { channel: String },
}

/// An activity the bot sent, with the latest body it was sent or updated with.
#[derive(Debug, Clone, PartialEq)]
pub struct StubActivity {
    pub id: String,
    /// The conversation it was sent to, as addressed.
    pub conversation: String,
    pub body: Value,
    pub edits: usize,
    /// The activity it answers (the reply route).
    pub reply_to: Option<String>,
}

/// A running stub; stops when dropped.
pub struct TeamsStub {
    addr: SocketAddr,
    state: Arc<Mutex<Inner>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TeamsStub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts a stub on a free loopback port.
pub async fn start() -> TeamsStub {
    spec();
    let mut inner = Inner {
        token_lifetime: 3600,
        ..Inner::default()
    };
    for (id, name) in [
        (GENERAL_CHANNEL, "General"),
        (INCIDENTS_CHANNEL, "Incidents"),
    ] {
        inner.channels.push(StubChannel {
            id: id.to_owned(),
            display_name: name.to_owned(),
            description: None,
            membership_type: "standard".to_owned(),
        });
    }
    let state = Arc::new(Mutex::new(inner));
    let app = Router::new().fallback(handle).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port for the Teams stub");
    let addr = listener.local_addr().expect("the stub's address");
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the Teams stub serves");
    });
    TeamsStub {
        addr,
        state,
        server,
    }
}

impl TeamsStub {
    /// The Entra ID login base, like `https://login.microsoftonline.com`.
    pub fn login_url(&self) -> String {
        format!("http://{}/login", self.addr)
    }

    /// The Bot Connector service URL, like `https://smba.trafficmanager.net/teams/`.
    pub fn service_url(&self) -> String {
        self.regional_service_url("teams")
    }

    /// Another region's service URL, like `https://smba.trafficmanager.net/emea/`.
    pub fn regional_service_url(&self, region: &str) -> String {
        format!("http://{}/{region}/", self.addr)
    }

    /// The Graph base, like `https://graph.microsoft.com/v1.0`.
    pub fn graph_url(&self) -> String {
        format!("http://{}/graph/v1.0", self.addr)
    }

    /// Every call received, in order, rejected ones included.
    pub fn calls(&self) -> Vec<StubCall> {
        self.lock().calls.clone()
    }

    /// The calls of one operation (`Conversations_SendToConversation`, `channel-post`,
    /// `token`) or route (`POST /v3/conversations/{conversationId}/activities`), in order.
    pub fn calls_to(&self, route: &str) -> Vec<StubCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.operation.as_deref() == Some(route) || c.route.as_deref() == Some(route))
            .collect()
    }

    /// The calls the stub's checks turned away.
    pub fn rejections(&self) -> Vec<StubCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.rejection.is_some())
            .collect()
    }

    /// Panics, listing them, if the checks turned any call away.
    pub fn assert_no_rejections(&self) {
        let rejected: Vec<String> = self
            .rejections()
            .iter()
            .map(|c| {
                format!(
                    "{} {} -> {}: {}",
                    c.method,
                    c.path,
                    c.status,
                    c.rejection.as_deref().unwrap_or_default()
                )
            })
            .collect();
        assert!(
            rejected.is_empty(),
            "the Teams stub turned calls away:\n{}",
            rejected.join("\n")
        );
    }

    /// The token requests, in order.
    pub fn token_requests(&self) -> Vec<StubCall> {
        self.calls_to("token")
    }

    pub fn issued_tokens(&self) -> Vec<IssuedToken> {
        self.lock().tokens.clone()
    }

    /// Makes every token issued so far invalid: the next call with one is 401.
    pub fn revoke_tokens(&self) {
        for token in &mut self.lock().tokens {
            token.revoked = true;
        }
    }

    /// The `expires_in` of tokens issued from now on.
    pub fn set_token_lifetime(&self, secs: u64) {
        self.lock().token_lifetime = secs;
    }

    /// Makes the next call of `route` (an operation or a route, as in
    /// [`TeamsStub::calls_to`]) fail. Failures queue.
    pub fn fail_next(&self, route: &str, failure: Failure) {
        self.lock()
            .failures
            .entry(route.to_owned())
            .or_default()
            .push_back(failure);
    }

    /// Answers the next `times` calls of `route` with 429 and `Retry-After`.
    pub fn rate_limit_next(&self, route: &str, times: usize, retry_after_secs: u64) {
        for _ in 0..times {
            self.fail_next(route, Failure::RateLimited { retry_after_secs });
        }
    }

    /// A person in the tenant: listed, with their e-mail, by the members of every
    /// conversation.
    pub fn add_member(&self, id: &str, name: &str, email: &str) {
        self.lock().roster.push(json!({
            "id": id,
            "name": name,
            "aadObjectId": format!("aad-{id}"),
            "email": email,
            "userPrincipalName": email,
            "tenantId": TENANT_ID,
            "userRole": "user",
        }));
    }

    /// A 1:1 chat `member` already has with the bot (they wrote to it first), so that
    /// replies to their messages there are accepted; returns its id.
    pub fn add_personal_chat(&self, id: &str, member: &str) -> String {
        let mut inner = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !inner.conversations.iter().any(|c| c.id == id) {
            inner.conversations.push(StubConversation {
                id: id.to_owned(),
                kind: ConversationKind::Personal {
                    member: member.to_owned(),
                },
                tenant: Some(TENANT_ID.to_owned()),
                parameters: Value::Null,
            });
        }
        id.to_owned()
    }

    /// A standard channel that exists before the test starts; returns its id.
    pub fn add_channel(&self, name: &str) -> String {
        let mut inner = self.lock();
        let id = inner.channel_id();
        inner.channels.push(StubChannel {
            id: id.clone(),
            display_name: name.to_owned(),
            description: None,
            membership_type: "standard".to_owned(),
        });
        id
    }

    /// The team's channels, in creation order.
    pub fn channels(&self) -> Vec<StubChannel> {
        self.lock().channels.clone()
    }

    pub fn channel(&self, id: &str) -> Option<StubChannel> {
        self.channels().into_iter().find(|c| c.id == id)
    }

    pub fn channels_named(&self, name: &str) -> Vec<StubChannel> {
        self.channels()
            .into_iter()
            .filter(|c| c.display_name == name)
            .collect()
    }

    pub fn conversations(&self) -> Vec<StubConversation> {
        self.lock().conversations.clone()
    }

    pub fn conversation(&self, id: &str) -> Option<StubConversation> {
        self.conversations().into_iter().find(|c| c.id == id)
    }

    pub fn activity(&self, id: &str) -> Option<StubActivity> {
        self.lock().activities.get(id).cloned()
    }

    /// The activities sent to `conversation` (as addressed), in order.
    pub fn activities_in(&self, conversation: &str) -> Vec<StubActivity> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .filter_map(|id| inner.activities.get(id))
            .filter(|a| a.conversation == conversation)
            .cloned()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Default)]
struct Inner {
    calls: Vec<StubCall>,
    failures: HashMap<String, VecDeque<Failure>>,
    tokens: Vec<IssuedToken>,
    token_lifetime: u64,
    channels: Vec<StubChannel>,
    conversations: Vec<StubConversation>,
    activities: HashMap<String, StubActivity>,
    /// Activity ids in the order they were sent.
    order: Vec<String>,
    next: u64,
    /// The tenant's people, as `GET /v3/conversations/{id}/members` lists them.
    roster: Vec<Value>,
}

impl Inner {
    fn next(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn channel_id(&mut self) -> String {
        format!("19:stub{:016x}@thread.tacv2", self.next())
    }

    /// Activity ids look like Teams' (milliseconds since the epoch).
    fn activity_id(&mut self) -> String {
        (1_700_000_000_000u64 + self.next()).to_string()
    }

    fn known_channel(&self, id: &str) -> bool {
        self.channels.iter().any(|c| c.id == id)
    }

    /// Whether the bot can send to `conversation`: a conversation it made, a channel of
    /// the team, or a thread in one.
    fn reachable(&self, conversation: &str) -> bool {
        self.conversations.iter().any(|c| c.id == conversation)
            || self.known_channel(base_conversation(conversation))
    }

    fn store(&mut self, conversation: &str, body: &Value, reply_to: Option<String>) -> String {
        let id = self.activity_id();
        self.activities.insert(
            id.clone(),
            StubActivity {
                id: id.clone(),
                conversation: conversation.to_owned(),
                body: body.clone(),
                edits: 0,
                reply_to,
            },
        );
        self.order.push(id.clone());
        id
    }
}

/// A channel's conversation id without the `;messageid=…` of a thread.
fn base_conversation(id: &str) -> &str {
    id.split_once(";messageid=").map_or(id, |(base, _)| base)
}

/// What the stub reads of the published descriptions, once per test binary.
struct Spec {
    connector: Value,
    teams: Value,
    token_response: Value,
    connector_routes: Vec<Route>,
    graph_routes: Vec<Route>,
    login_routes: Vec<Route>,
}

struct Route {
    template: String,
    segments: Vec<String>,
    /// Method -> (operation, the schema of its body, if any).
    methods: HashMap<String, (String, Option<Value>)>,
}

impl Route {
    fn new(template: &str) -> Self {
        Route {
            template: template.to_owned(),
            segments: template
                .trim_start_matches('/')
                .split('/')
                .map(str::to_owned)
                .collect(),
            methods: HashMap::new(),
        }
    }

    fn with(mut self, method: &str, operation: &str) -> Self {
        self.methods
            .insert(method.to_owned(), (operation.to_owned(), None));
        self
    }

    /// Whether `path` fits, and how many literal segments it matched (more is better:
    /// `…/activities/history` over `…/activities/{activityId}`).
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

    fn params(&self, path: &[&str]) -> BTreeMap<String, String> {
        self.segments
            .iter()
            .zip(path)
            .filter(|(want, _)| want.starts_with('{'))
            .map(|(want, got)| (want.trim_matches(['{', '}']).to_owned(), decode(got)))
            .collect()
    }
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let dir = fixtures_dir().join("teams").join("connector-api");
        let read = |name: &str| -> Value {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            serde_json::from_str(text.trim_start_matches('\u{feff}'))
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
        };
        let connector = read("ConnectorAPI.json");
        let teams = read("TeamsAPI.json");
        let token_response = read("requests/token-response.json");
        let mut connector_routes = Vec::new();
        for doc in [&connector, &teams] {
            for (template, item) in doc["paths"].as_object().expect("the spec has paths") {
                let mut route = Route::new(template);
                for (method, op) in item.as_object().into_iter().flatten() {
                    if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                        continue;
                    }
                    let body = op["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|p| p["in"] == "body")
                        .map(|p| p["schema"].clone());
                    route.methods.insert(
                        method.to_uppercase(),
                        (
                            op["operationId"].as_str().unwrap_or_default().to_owned(),
                            body,
                        ),
                    );
                }
                connector_routes.push(route);
            }
        }
        // Graph's channel routes (Graph's own description is not among the fixtures).
        let graph_routes = vec![
            Route::new("/teams/{team-id}/channels")
                .with("GET", "channel-list")
                .with("POST", "channel-post"),
            Route::new("/teams/{team-id}/channels/{channel-id}")
                .with("GET", "channel-get")
                .with("PATCH", "channel-patch"),
        ];
        let login_routes = vec![Route::new("/{tenant}/oauth2/v2.0/token").with("POST", "token")];
        Spec {
            connector,
            teams,
            token_response,
            connector_routes,
            graph_routes,
            login_routes,
        }
    })
}

fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOCSIN_FIXTURES") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared").join("fixtures"))
        .find(|d| d.join("teams").is_dir())
        .unwrap_or_else(|| panic!("no shared/fixtures/teams above {}", manifest.display()))
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

/// How a call ends: its answer, and why the checks turned it away if they did.
struct Outcome {
    response: Response,
    rejection: Option<String>,
}

impl Outcome {
    fn answer(response: Response) -> Self {
        Outcome {
            response,
            rejection: None,
        }
    }

    fn reject(response: Response, why: impl Into<String>) -> Self {
        Outcome {
            response,
            rejection: Some(why.into()),
        }
    }
}

/// `{"error": {"code", "message"}}`, the shape of the connector's `ErrorResponse` and of
/// Graph's errors.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn bad_argument(why: String) -> Outcome {
    Outcome::reject(
        error(StatusCode::BAD_REQUEST, "BadArgument", &why),
        why.clone(),
    )
}

fn created(body: Value) -> Response {
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn handle(
    State(state): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = method.as_str().to_owned();
    let full: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let (api, service, rest) = match full.as_slice() {
        ["login", rest @ ..] => (Api::Login, None, rest.to_vec()),
        ["graph", "v1.0", rest @ ..] => (Api::Graph, None, rest.to_vec()),
        [region, rest @ ..] => (Api::Connector, Some((*region).to_owned()), rest.to_vec()),
        [] => (Api::Connector, None, Vec::new()),
    };
    let path = format!("/{}", rest.join("/"));
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let parsed: Result<Value, String> = if body.is_empty() {
        Ok(Value::Null)
    } else if api == Api::Login {
        Ok(form_object(&body))
    } else {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    };

    let routes = match api {
        Api::Login => &spec().login_routes,
        Api::Connector => &spec().connector_routes,
        Api::Graph => &spec().graph_routes,
    };
    let route = routes
        .iter()
        .filter_map(|r| r.matches(&rest).map(|score| (score, r)))
        .max_by_key(|(score, _)| *score)
        .map(|(_, r)| r);
    let operation = route.and_then(|r| r.methods.get(&method).map(|op| (r, op)));
    let params = route.map(|r| r.params(&rest)).unwrap_or_default();

    let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
    let outcome = (|| {
        let Some(route) = route else {
            return Outcome::reject(
                error(StatusCode::NOT_FOUND, "NotFound", "No such route."),
                format!("no operation has the path {path}"),
            );
        };
        let Some((_, (op, schema))) = operation else {
            return Outcome::reject(
                error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    "The requested resource does not support this method.",
                ),
                format!("{} has no {method}", route.template),
            );
        };
        if let Err(why) = authorized(&inner, api, authorization.as_deref()) {
            let response = match api {
                Api::Connector => (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(
                        json!({ "message": "Authorization has been denied for this request." }),
                    ),
                )
                    .into_response(),
                _ => error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "Access token validation failure.",
                ),
            };
            return Outcome::reject(response, why);
        }
        let body = match &parsed {
            Ok(body) => body,
            Err(e) => return bad_argument(format!("the body is not JSON: {e}")),
        };
        if api != Api::Login && !body.is_null() && !content_type.starts_with("application/json") {
            return bad_argument(format!("a JSON body sent as `{content_type}`"));
        }
        let checked = match api {
            Api::Login => check_login(&params, body, &content_type),
            Api::Connector => check_connector(op, schema.as_ref(), &params, body),
            Api::Graph => check_graph(op, body, uri.query()),
        };
        if let Err(outcome) = checked {
            return *outcome;
        }
        let key = format!("{method} {}", route.template);
        for name in [op.as_str(), key.as_str()] {
            if let Some(failure) = inner.failures.get_mut(name).and_then(VecDeque::pop_front) {
                return Outcome::answer(failure_response(&failure));
            }
        }
        Outcome::answer(match api {
            Api::Login => issue(&mut inner, &params, body),
            Api::Connector => connector(&mut inner, op, &params, body),
            Api::Graph => graph(&mut inner, op, &params, body, uri.query()),
        })
    })();
    let mut response = outcome.response;
    if !response.headers().contains_key(header::CONTENT_TYPE)
        && response.status() != StatusCode::NO_CONTENT
    {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    inner.calls.push(StubCall {
        api,
        method: method.clone(),
        path,
        query: uri.query().map(str::to_owned),
        service,
        route: route.map(|r| format!("{method} {}", r.template)),
        operation: operation.map(|(_, (op, _))| op.clone()),
        params,
        body: parsed.unwrap_or(Value::Null),
        authorization,
        status: response.status().as_u16(),
        rejection: outcome.rejection,
        at: Instant::now(),
    });
    response
}

/// A form body as a JSON object of strings.
fn form_object(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut out = serde_json::Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let unplus = |s: &str| decode(&s.replace('+', " "));
        out.insert(unplus(key), Value::String(unplus(value)));
    }
    Value::Object(out)
}

/// Whether the call carries a live token the stub issued for its service.
fn authorized(inner: &Inner, api: Api, authorization: Option<&str>) -> Result<(), String> {
    let scope = match api {
        Api::Login => return Ok(()),
        Api::Connector => BOT_SCOPE,
        Api::Graph => GRAPH_SCOPE,
    };
    let Some(token) = authorization.and_then(|a| a.strip_prefix("Bearer ")) else {
        return Err("no `Authorization: Bearer` token".into());
    };
    match inner.tokens.iter().find(|t| t.token == token) {
        None => Err("a token the stub never issued".into()),
        Some(t) if t.revoked => Err("a revoked token".into()),
        Some(t) if t.scope != scope => Err(format!("a token for {} on {scope}", t.scope)),
        Some(_) => Ok(()),
    }
}

/// The token request: the client-credentials form of the published examples.
fn check_login(
    params: &BTreeMap<String, String>,
    form: &Value,
    content_type: &str,
) -> Result<(), Box<Outcome>> {
    let aad = |status: StatusCode, code: &str, description: &str| {
        Box::new(Outcome::reject(
            (
                status,
                axum::Json(json!({ "error": code, "error_description": description })),
            )
                .into_response(),
            format!("{code}: {description}"),
        ))
    };
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(aad(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: the body must be application/x-www-form-urlencoded.",
        ));
    }
    let field = |name: &str| form[name].as_str().unwrap_or_default();
    if let Some(extra) = form
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| !["grant_type", "client_id", "client_secret", "scope"].contains(&k.as_str()))
    {
        return Err(aad(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("AADSTS900144: unexpected parameter `{extra}`."),
        ));
    }
    if field("grant_type") != "client_credentials" {
        return Err(aad(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: the grant type must be client_credentials.",
        ));
    }
    if field("client_id") != APP_ID || field("client_secret") != APP_PASSWORD {
        return Err(aad(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        ));
    }
    let tenant = params.get("tenant").map(String::as_str).unwrap_or_default();
    match field("scope") {
        BOT_SCOPE if tenant == "botframework.com" || tenant == TENANT_ID => Ok(()),
        GRAPH_SCOPE if tenant == TENANT_ID => Ok(()),
        BOT_SCOPE | GRAPH_SCOPE => Err(aad(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("AADSTS90002: tenant `{tenant}` is not the tenant of this scope."),
        )),
        other => Err(aad(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("AADSTS1002012: the scope `{other}` is not valid."),
        )),
    }
}

fn issue(inner: &mut Inner, params: &BTreeMap<String, String>, form: &Value) -> Response {
    let scope = form["scope"].as_str().unwrap_or_default().to_owned();
    let kind = if scope == GRAPH_SCOPE { "graph" } else { "bot" };
    let token = format!("eyJ0eXAiOiJKV1Qi.stub-{kind}-{}", inner.next());
    inner.tokens.push(IssuedToken {
        token: token.clone(),
        scope,
        tenant: params.get("tenant").cloned().unwrap_or_default(),
        revoked: false,
    });
    let mut answer = spec().token_response.clone();
    answer["access_token"] = json!(token);
    answer["expires_in"] = json!(inner.token_lifetime);
    answer["ext_expires_in"] = json!(inner.token_lifetime);
    ok(answer)
}

/// Definitions whose objects may not carry properties they do not name.
const STRICT: &[&str] = &[
    "Activity",
    "Attachment",
    "ConversationParameters",
    "ChannelAccount",
    "ConversationAccount",
];

/// Whether `value` fits `schema` of `doc` (swagger 2): types, enums, and no unknown
/// properties on the [`STRICT`] definitions. Nulls pass, as the SDKs send them.
fn conform(
    doc: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    depth: usize,
) -> Result<(), String> {
    if depth > 16 || value.is_null() {
        return Ok(());
    }
    let (schema, name) = match schema["$ref"].as_str() {
        Some(reference) => match doc.pointer(reference.trim_start_matches('#')) {
            Some(target) => (target, reference.rsplit('/').next()),
            None => return Err(format!("{at}: the description has no {reference}")),
        },
        None => (schema, None),
    };
    if let Some(options) = schema["enum"].as_array() {
        return if options.contains(value) {
            Ok(())
        } else {
            Err(format!(
                "{at}: {value} is not one of {}",
                Value::Array(options.clone())
            ))
        };
    }
    let fits = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("{at} must be {what}, not {value}"))
        }
    };
    let properties = schema["properties"].as_object().filter(|p| !p.is_empty());
    match schema["type"].as_str() {
        Some("string") => fits(value.is_string(), "a string"),
        Some("boolean") => fits(value.is_boolean(), "a boolean"),
        Some("integer") => fits(value.is_i64() || value.is_u64(), "an integer"),
        Some("number") => fits(value.is_number(), "a number"),
        Some("array") => {
            let Some(items) = value.as_array() else {
                return fits(false, "an array");
            };
            for (i, item) in items.iter().enumerate() {
                conform(
                    doc,
                    &schema["items"],
                    item,
                    &format!("{at}[{i}]"),
                    depth + 1,
                )?;
            }
            Ok(())
        }
        Some("object") | None if schema["type"] == "object" || properties.is_some() => {
            let Some(object) = value.as_object() else {
                return fits(false, "an object");
            };
            let Some(properties) = properties else {
                return Ok(());
            };
            let strict = name.is_some_and(|n| STRICT.contains(&n));
            for (key, v) in object {
                match properties.get(key) {
                    Some(s) => conform(doc, s, v, &format!("{at}.{key}"), depth + 1)?,
                    None if strict => {
                        return Err(format!(
                            "{at}.{key} is not a property of {}",
                            name.unwrap_or("this object")
                        ));
                    }
                    None => {}
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Teams' `channelData`, typed by `TeamsChannelData` (other properties pass).
fn check_channel_data(value: &Value, at: &str) -> Result<(), String> {
    conform(
        &spec().teams,
        &json!({ "$ref": "#/definitions/TeamsChannelData" }),
        value,
        at,
        0,
    )
}

/// What Teams wants of an activity the bot sends, beyond its swagger types.
fn check_activity(activity: &Value, at: &str) -> Result<(), String> {
    let Some(object) = activity.as_object() else {
        return Err(format!("{at} must be an object"));
    };
    let Some(kind) = object.get("type").and_then(Value::as_str) else {
        return Err(format!("{at}.type is required"));
    };
    check_channel_data(&activity["channelData"], &format!("{at}.channelData"))?;
    let attachments = activity["attachments"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, attachment) in attachments.iter().enumerate() {
        let at = format!("{at}.attachments[{i}]");
        let content_type = attachment["contentType"]
            .as_str()
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| format!("{at}.contentType is required"))?;
        if content_type == "application/vnd.microsoft.card.adaptive" {
            let content = &attachment["content"];
            if content["type"] != "AdaptiveCard" {
                return Err(format!("{at}.content must be an AdaptiveCard"));
            }
            if !content["version"].is_string() {
                return Err(format!("{at}.content.version is required"));
            }
            if !content["body"].is_null() && !content["body"].is_array() {
                return Err(format!("{at}.content.body must be an array"));
            }
        }
    }
    let text = activity["text"]
        .as_str()
        .is_some_and(|t| !t.trim().is_empty());
    if kind == "message" && !text && attachments.is_empty() {
        return Err(format!("{at}: a message needs text or attachments"));
    }
    Ok(())
}

/// What Teams wants of new conversations: a 1:1 chat, or a thread in a channel.
fn check_parameters(parameters: &Value) -> Result<(), String> {
    check_channel_data(&parameters["channelData"], "parameters.channelData")?;
    let bot = &parameters["bot"]["id"];
    if !bot.is_null() && *bot != format!("28:{APP_ID}") && *bot != APP_ID {
        return Err(format!(
            "parameters.bot.id {bot} is not this bot (28:{APP_ID})"
        ));
    }
    let tenants: Vec<&str> = [
        parameters["tenantId"].as_str(),
        parameters["channelData"]["tenant"]["id"].as_str(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let Some(tenant) = tenants.first() else {
        return Err("the tenant is required (tenantId or channelData.tenant.id)".into());
    };
    if tenants.iter().any(|t| t != tenant) || *tenant != TENANT_ID {
        return Err(format!("the tenant {tenants:?} is not {TENANT_ID}"));
    }
    let members = parameters["members"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if parameters["isGroup"] == true {
        if parameters["channelData"]["channel"]["id"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            return Err("a channel conversation needs channelData.channel.id".into());
        }
        if !members.is_empty() {
            return Err("a channel conversation has no members list".into());
        }
        if parameters["activity"].is_null() {
            return Err("a channel conversation starts with an activity".into());
        }
    } else if members.len() != 1 || members[0]["id"].as_str().is_none_or(str::is_empty) {
        return Err("a 1:1 conversation needs exactly one member with an id".into());
    }
    if !parameters["activity"].is_null() {
        check_activity(&parameters["activity"], "parameters.activity")?;
    }
    Ok(())
}

fn check_connector(
    operation: &str,
    schema: Option<&Value>,
    params: &BTreeMap<String, String>,
    body: &Value,
) -> Result<(), Box<Outcome>> {
    let checked = (|| {
        let Some(schema) = schema else {
            return if body.is_null() {
                Ok(())
            } else {
                Err(format!("{operation} takes no body"))
            };
        };
        if body.is_null() {
            return Err(format!("{operation} needs a body"));
        }
        conform(&spec().connector, schema, body, "body", 0)?;
        match operation {
            "Conversations_CreateConversation" => check_parameters(body),
            "Conversations_SendToConversation" => check_activity(body, "activity"),
            "Conversations_ReplyToActivity" | "Conversations_UpdateActivity" => {
                check_activity(body, "activity")?;
                let field = if operation == "Conversations_UpdateActivity" {
                    "id"
                } else {
                    "replyToId"
                };
                match (body[field].as_str(), params.get("activityId")) {
                    (Some(given), Some(path)) if given != path => Err(format!(
                        "activity.{field} {given} is not the path's activity {path}"
                    )),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    })();
    checked.map_err(|why| Box::new(bad_argument(why)))
}

fn connector(
    inner: &mut Inner,
    operation: &str,
    params: &BTreeMap<String, String>,
    body: &Value,
) -> Response {
    let conversation = params.get("conversationId").cloned().unwrap_or_default();
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "ConversationNotFound",
            "Conversation not found.",
        )
    };
    match operation {
        "Conversations_CreateConversation" => {
            let tenant = body["tenantId"]
                .as_str()
                .or(body["channelData"]["tenant"]["id"].as_str())
                .map(str::to_owned);
            if body["isGroup"] == true {
                let channel = body["channelData"]["channel"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if !inner.known_channel(&channel) {
                    return not_found();
                }
                let activity = inner.store(&channel, &body["activity"], None);
                let id = format!("{channel};messageid={activity}");
                inner.conversations.push(StubConversation {
                    id: id.clone(),
                    kind: ConversationKind::Thread { channel },
                    tenant,
                    parameters: body.clone(),
                });
                return created(json!({ "id": id, "activityId": activity }));
            }
            let member = body["members"][0]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let existing = inner.conversations.iter().find(
                |c| matches!(&c.kind, ConversationKind::Personal { member: m } if *m == member),
            );
            let id = match existing {
                Some(c) => c.id.clone(),
                None => {
                    let id = format!("a:1stub{:08x}-{}", inner.next(), member.len());
                    inner.conversations.push(StubConversation {
                        id: id.clone(),
                        kind: ConversationKind::Personal { member },
                        tenant,
                        parameters: body.clone(),
                    });
                    id
                }
            };
            if body["activity"].is_null() {
                created(json!({ "id": id }))
            } else {
                let activity = inner.store(&id, &body["activity"], None);
                created(json!({ "id": id, "activityId": activity }))
            }
        }
        // The team's channels; General has no name of its own.
        "Teams_FetchChannelList" => {
            let conversations: Vec<Value> = inner
                .channels
                .iter()
                .map(|c| {
                    let name = (c.display_name != "General").then(|| c.display_name.clone());
                    json!({ "id": c.id, "name": name })
                })
                .collect();
            ok(json!({ "conversations": conversations }))
        }
        // Teams answers its own TeamsChannelAccount: ChannelAccount plus e-mail and UPN.
        "Conversations_GetConversationMembers" => {
            if !inner.reachable(&conversation) {
                return not_found();
            }
            ok(Value::Array(inner.roster.clone()))
        }
        "Conversations_SendToConversation" | "Conversations_ReplyToActivity" => {
            if !inner.reachable(&conversation) {
                return not_found();
            }
            let reply_to = params.get("activityId").cloned();
            let id = inner.store(&conversation, body, reply_to);
            created(json!({ "id": id }))
        }
        "Conversations_UpdateActivity" => {
            let activity_id = params.get("activityId").cloned().unwrap_or_default();
            match inner.activities.get_mut(&activity_id) {
                Some(a)
                    if base_conversation(&a.conversation) == base_conversation(&conversation) =>
                {
                    a.body = body.clone();
                    a.edits += 1;
                    ok(json!({ "id": activity_id }))
                }
                _ => error(
                    StatusCode::NOT_FOUND,
                    "ActivityNotFoundInConversation",
                    "The activity was not found in this conversation.",
                ),
            }
        }
        other => error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            &format!("the stub does not serve {other}"),
        ),
    }
}

/// Teams' rules for channel names.
fn check_channel_name(name: &str) -> Result<(), String> {
    const FORBIDDEN: &[char] = &[
        '~', '#', '%', '&', '*', '{', '}', '+', '/', '\\', ':', '<', '>', '?', '|', '\'', '"',
    ];
    if name.trim().is_empty() || name.chars().count() > 50 {
        return Err("displayName must have 1 to 50 characters".into());
    }
    if name.contains(FORBIDDEN) || name.contains("..") {
        return Err(format!(
            "displayName `{name}` has a character Teams forbids"
        ));
    }
    if name.starts_with(['_', '.']) || name.ends_with('.') || name.trim() != name {
        return Err(format!(
            "displayName `{name}` starts or ends as Teams forbids"
        ));
    }
    Ok(())
}

/// The `displayName eq '…'` of a `$filter`, if the query has one.
fn display_name_filter(query: Option<&str>) -> Result<Option<String>, String> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut filter = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(key) != "$filter" {
            return Err(format!(
                "the stub does not know the query parameter `{key}`"
            ));
        }
        let value = decode(value);
        let quoted = value
            .strip_prefix("displayName eq '")
            .and_then(|v| v.strip_suffix('\''))
            .ok_or_else(|| format!("an unsupported $filter `{value}`"))?;
        if quoted.replace("''", "").contains('\'') {
            return Err(format!("an unescaped quote in $filter `{value}`"));
        }
        filter = Some(quoted.replace("''", "'"));
    }
    Ok(filter)
}

fn check_graph(operation: &str, body: &Value, query: Option<&str>) -> Result<(), Box<Outcome>> {
    let checked = (|| match operation {
        "channel-list" => display_name_filter(query).map(|_| ()),
        "channel-post" => {
            let object = body
                .as_object()
                .ok_or("the body must be a channel object")?;
            let allowed = [
                "displayName",
                "description",
                "membershipType",
                "@odata.type",
            ];
            if let Some(key) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(format!("`{key}` is not a property the stub takes"));
            }
            let name = body["displayName"]
                .as_str()
                .ok_or("displayName is required")?;
            check_channel_name(name)?;
            check_description(&body["description"])?;
            match body["membershipType"].as_str() {
                None | Some("standard") => Ok(()),
                Some(other) => Err(format!("membershipType `{other}` needs members")),
            }
        }
        "channel-patch" => {
            let object = body
                .as_object()
                .ok_or("the body must be a channel object")?;
            if let Some(key) = object
                .keys()
                .find(|k| !["displayName", "description"].contains(&k.as_str()))
            {
                return Err(format!("`{key}` is not a property the stub takes"));
            }
            if let Some(name) = body["displayName"].as_str() {
                check_channel_name(name)?;
            }
            check_description(&body["description"])
        }
        _ => Ok(()),
    })();
    checked.map_err(|why: String| {
        Box::new(Outcome::reject(
            error(StatusCode::BAD_REQUEST, "BadRequest", &why),
            why.clone(),
        ))
    })
}

fn check_description(description: &Value) -> Result<(), String> {
    match description {
        Value::Null => Ok(()),
        Value::String(d) if d.chars().count() <= 1024 => Ok(()),
        _ => Err("description must be a string of at most 1024 characters".into()),
    }
}

fn channel_json(c: &StubChannel) -> Value {
    json!({
        "id": c.id,
        "createdDateTime": "2026-01-01T00:00:00Z",
        "displayName": c.display_name,
        "description": c.description,
        "isFavoriteByDefault": null,
        "email": "",
        "webUrl": format!("https://teams.microsoft.com/l/channel/{}/{}?groupId={TEAM_ID}&tenantId={TENANT_ID}", c.id, c.display_name),
        "membershipType": c.membership_type,
    })
}

fn graph(
    inner: &mut Inner,
    operation: &str,
    params: &BTreeMap<String, String>,
    body: &Value,
    query: Option<&str>,
) -> Response {
    if params.get("team-id").map(String::as_str) != Some(TEAM_ID) {
        return error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "No team found with this group id.",
        );
    }
    let channel_id = params.get("channel-id").cloned().unwrap_or_default();
    match operation {
        "channel-list" => {
            let filter = display_name_filter(query).ok().flatten();
            let value: Vec<Value> = inner
                .channels
                .iter()
                .filter(|c| {
                    filter
                        .as_ref()
                        .is_none_or(|f| c.display_name.to_lowercase() == f.to_lowercase())
                })
                .map(channel_json)
                .collect();
            ok(json!({
                "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#teams('{TEAM_ID}')/channels"),
                "@odata.count": value.len(),
                "value": value,
            }))
        }
        "channel-post" => {
            let name = body["displayName"].as_str().unwrap_or_default().to_owned();
            if inner
                .channels
                .iter()
                .any(|c| c.display_name.to_lowercase() == name.to_lowercase())
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    "NameAlreadyExists",
                    "Channel name already existed, please use other name.",
                );
            }
            let channel = StubChannel {
                id: inner.channel_id(),
                display_name: name,
                description: body["description"].as_str().map(str::to_owned),
                membership_type: "standard".to_owned(),
            };
            let answer = channel_json(&channel);
            inner.channels.push(channel);
            created(answer)
        }
        "channel-get" => match inner.channels.iter().find(|c| c.id == channel_id) {
            Some(c) => ok(channel_json(c)),
            None => error(StatusCode::NOT_FOUND, "NotFound", "Channel not found."),
        },
        "channel-patch" => match inner.channels.iter_mut().find(|c| c.id == channel_id) {
            Some(c) => {
                if let Some(d) = body["description"].as_str() {
                    c.description = Some(d.to_owned());
                }
                if let Some(n) = body["displayName"].as_str() {
                    c.display_name = n.to_owned();
                }
                StatusCode::NO_CONTENT.into_response()
            }
            None => error(StatusCode::NOT_FOUND, "NotFound", "Channel not found."),
        },
        other => error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            &format!("the stub does not serve {other}"),
        ),
    }
}

fn failure_response(failure: &Failure) -> Response {
    match failure {
        Failure::RateLimited { retry_after_secs } => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests; slow down.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            response
        }
        Failure::Status(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            error(
                status,
                "ServiceError",
                status.canonical_reason().unwrap_or("Error"),
            )
        }
        Failure::Error {
            status,
            code,
            message,
        } => error(
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message,
        ),
        Failure::Answer { status, body } => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
            axum::Json(body.clone()),
        )
            .into_response(),
    }
}
