//! A stub of Discord's Gateway on loopback, for tests of anything that listens to Discord.
//!
//! It follows Discord's documentation (discord/discord-api-docs,
//! `developers/events/gateway.mdx`, `developers/events/gateway-events.mdx`,
//! `developers/topics/opcodes-and-status-codes.mdx`):
//!
//! - `GET /api/v10/gateway/bot` with `Authorization: Bot <TOKEN>` answers the Gateway's
//!   `ws://` URL with `shards` and `session_start_limit`, as Discord does (401 otherwise).
//!   Only this route: the REST stub is `adapters/tests/discord_stub`, with the same token,
//!   guild and bot user.
//! - Each WebSocket connection is greeted with Hello (op 10) and the heartbeat interval the
//!   stub was started with. Heartbeats (op 1) are recorded and answered with op 11 (unless
//!   [`GatewayStub::pause_acks`]). Identify (op 2) is checked (token, else close 4004;
//!   `properties.os/browser/device`, else 4001; intents a number, else 4013; an intent
//!   [`GatewayStub::disallow_intents`] named, else 4014; a second identify, 4005) and
//!   answered with READY (`s` 1): a new session id, Tocsin's bot user, and a
//!   `resume_gateway_url` on a second loopback port. Resume (op 6) of a known session
//!   replays the events the client has not seen and says RESUMED; an unknown or
//!   invalidated session gets Invalid Session (`d`: false), a `seq` beyond the session's
//!   close 4007. A payload over 4096 bytes closes with 4002, an opcode a client may not send
//!   with 4001.
//! - The test sends events with [`GatewayStub::dispatch`] (each with the session's next
//!   `s`; MESSAGE_CREATE and MESSAGE_REACTION_ADD only when the session's intents ask for
//!   them, and MESSAGE_CREATE's `content` blanked without MESSAGE_CONTENT, as Discord
//!   does). While the session has no connection they wait to be replayed on resume.
//! - The test can send Reconnect (op 7), Invalid Session (op 9), a heartbeat request
//!   (op 1) or a close with any code, and reads back every payload the client sent, per
//!   connection, with the close code the client closed with.
//!
//! Include it with `#[path = "…/adapters/tests/discord_gateway_stub/mod.rs"]
//! mod discord_gateway_stub;` and start it with [`start`] or [`start_with_heartbeat`].
//! It needs axum, tokio, serde_json, tokio-tungstenite and futures-util.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The bot token the stub accepts (the REST stub's too).
pub const TOKEN: &str = "MTA0NTY3ODkw.stub.tocsin-discord-bot-token";
/// The application, guild and bot user, as in the REST stub.
pub const APPLICATION_ID: &str = "1045678901234567890";
pub const GUILD_ID: &str = "1145678901234567890";
pub const BOT_USER: &str = "1245678901234567890";
/// Intents (Discord's bits) the stub looks at.
pub const GUILD_MESSAGES: u64 = 1 << 9;
pub const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
pub const MESSAGE_CONTENT: u64 = 1 << 15;
/// Discord's heartbeat interval in its examples.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_millis(45_000);
/// Discord's limit on a payload a client sends.
const MAX_PAYLOAD: usize = 4096;

/// Which URL a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The URL `GET /gateway/bot` answered.
    Gateway,
    /// The session's `resume_gateway_url`.
    Resume,
}

/// One WebSocket connection, as the stub saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct StubConnection {
    pub via: Via,
    /// The request's query string (`v=10&encoding=json`).
    pub query: String,
    /// Every payload the client sent on it, in order.
    pub received: Vec<Value>,
    /// The code of the close frame the client sent, once it did.
    pub client_close: Option<u16>,
    /// Whether the connection is still open.
    pub open: bool,
    /// The session it identified or resumed, if it did.
    pub session: Option<String>,
}

/// A running stub; stops when dropped.
pub struct GatewayStub {
    api_addr: SocketAddr,
    state: Arc<Mutex<Inner>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for GatewayStub {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for connection in &mut self.lock().connections {
            connection.out.take();
        }
    }
}

/// Starts a stub whose Hello asks for Discord's usual 45 s heartbeat.
pub async fn start() -> GatewayStub {
    start_with_heartbeat(DEFAULT_HEARTBEAT).await
}

/// Starts a stub whose Hello asks for heartbeats every `interval`.
pub async fn start_with_heartbeat(interval: Duration) -> GatewayStub {
    let bind = || async {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port for the Gateway stub")
    };
    let (api, gateway, resume) = (bind().await, bind().await, bind().await);
    let address = |l: &tokio::net::TcpListener| l.local_addr().expect("the stub's address");
    let api_addr = address(&api);
    let state = Arc::new(Mutex::new(Inner {
        heartbeat_interval_ms: interval.as_millis().try_into().unwrap_or(u64::MAX).max(1),
        gateway_url: format!("ws://{}", address(&gateway)),
        resume_url: format!("ws://{}", address(&resume)),
        acks_paused: false,
        disallowed_intents: 0,
        gateway_bot_calls: 0,
        identifies: 0,
        rejections: Vec::new(),
        connections: Vec::new(),
        sessions: Vec::new(),
        replayed: 0,
    }));
    let app = Router::new()
        .route("/api/v10/gateway/bot", get(gateway_bot))
        .with_state(state.clone());
    let tasks = vec![
        tokio::spawn(async move {
            axum::serve(api, app)
                .await
                .expect("the Gateway stub's HTTP endpoint serves");
        }),
        tokio::spawn(accept(gateway, Via::Gateway, state.clone())),
        tokio::spawn(accept(resume, Via::Resume, state.clone())),
    ];
    GatewayStub {
        api_addr,
        state,
        tasks,
    }
}

impl GatewayStub {
    /// The WebSocket URL `GET /gateway/bot` answers, for a REST stub that serves that
    /// route itself.
    pub fn gateway_url(&self) -> String {
        self.lock().gateway_url.clone()
    }

    /// The REST base serving `GET /gateway/bot`, like `https://discord.com/api/v10`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api/v10", self.api_addr)
    }

    pub fn token(&self) -> &'static str {
        TOKEN
    }

    pub fn bot_user(&self) -> &'static str {
        BOT_USER
    }

    pub fn guild_id(&self) -> &'static str {
        GUILD_ID
    }

    /// How many times `GET /gateway/bot` was answered (with the right token).
    pub fn gateway_bot_calls(&self) -> usize {
        self.lock().gateway_bot_calls
    }

    /// Every connection so far, oldest first.
    pub fn connections(&self) -> Vec<StubConnection> {
        let inner = self.lock();
        inner
            .connections
            .iter()
            .map(|c| StubConnection {
                via: c.via,
                query: c.query.clone(),
                received: c.received.clone(),
                client_close: c.client_close,
                open: c.out.is_some(),
                session: c.session.map(|s| inner.sessions[s].id.clone()),
            })
            .collect()
    }

    /// How many connections are open now.
    pub fn open_connections(&self) -> usize {
        self.lock()
            .connections
            .iter()
            .filter(|c| c.out.is_some())
            .count()
    }

    /// Every payload the client sent, on any connection, in order.
    pub fn sent(&self) -> Vec<Value> {
        self.lock()
            .connections
            .iter()
            .flat_map(|c| c.received.clone())
            .collect()
    }

    /// The `d` of every payload with opcode `op` the client sent.
    pub fn sent_op(&self, op: u64) -> Vec<Value> {
        self.sent()
            .into_iter()
            .filter(|p| p["op"] == op)
            .map(|p| p["d"].clone())
            .collect()
    }

    /// The `d` of each Identify (op 2).
    pub fn identifies(&self) -> Vec<Value> {
        self.sent_op(2)
    }

    /// The `d` of each Resume (op 6).
    pub fn resumes(&self) -> Vec<Value> {
        self.sent_op(6)
    }

    /// The `d` of each Heartbeat (op 1): the sequence number the client had.
    pub fn heartbeats(&self) -> Vec<Value> {
        self.sent_op(1)
    }

    /// The newest session's id.
    pub fn session_id(&self) -> Option<String> {
        self.lock().sessions.last().map(|s| s.id.clone())
    }

    /// The newest session's last `s`.
    pub fn last_seq(&self) -> Option<u64> {
        self.lock().sessions.last().map(|s| s.seq)
    }

    /// Whether a connection that identified or resumed is open.
    pub fn ready(&self) -> bool {
        self.lock().live().is_some()
    }

    /// How many events were replayed on a resume.
    pub fn replayed(&self) -> usize {
        self.lock().replayed
    }

    /// What the stub refused, and why.
    pub fn rejections(&self) -> Vec<String> {
        self.lock().rejections.clone()
    }

    /// Dispatches event `name` with data `d` in the newest session, with its next `s`
    /// (returned): on its connection, or, without one, kept for the resume. None when the
    /// session's intents do not ask for the event. Panics without a session.
    pub fn dispatch(&self, name: &str, d: Value) -> Option<u64> {
        let mut inner = self.lock();
        let index = inner
            .sessions
            .len()
            .checked_sub(1)
            .expect("no Gateway session");
        let session = &mut inner.sessions[index];
        let needs = match name {
            "MESSAGE_CREATE" => GUILD_MESSAGES,
            "MESSAGE_REACTION_ADD" => GUILD_MESSAGE_REACTIONS,
            _ => 0,
        };
        if session.intents & needs != needs {
            return None;
        }
        let mut d = d;
        if name == "MESSAGE_CREATE" && session.intents & MESSAGE_CONTENT == 0 {
            d["content"] = "".into();
        }
        session.seq += 1;
        let seq = session.seq;
        let payload = json!({ "op": 0, "t": name, "s": seq, "d": d }).to_string();
        session.events.push((seq, payload.clone()));
        if let Some(out) = session
            .connection
            .and_then(|c| inner.connections[c].out.as_ref())
        {
            let _ = out.send(Out::Text(payload));
        }
        Some(seq)
    }

    /// Sends Reconnect (op 7) on the live connection.
    pub fn reconnect(&self) {
        self.send_live(json!({ "op": 7, "d": null }));
    }

    /// Sends Invalid Session (op 9) on the live connection; not resumable invalidates the
    /// session.
    pub fn invalid_session(&self, resumable: bool) {
        if !resumable && let Some(session) = self.lock().sessions.last_mut() {
            session.invalid = true;
        }
        self.send_live(json!({ "op": 9, "d": resumable }));
    }

    /// Asks the client for a heartbeat now (op 1).
    pub fn request_heartbeat(&self) {
        self.send_live(json!({ "op": 1, "d": null }));
    }

    /// Closes the newest open connection with `code`.
    pub fn close(&self, code: u16) {
        let mut inner = self.lock();
        let connection = inner
            .connections
            .iter_mut()
            .rev()
            .find(|c| c.out.is_some())
            .expect("no open Gateway connection to close");
        if let Some(out) = connection.out.take() {
            let _ = out.send(Out::Close(code));
        }
    }

    /// Stops (or resumes) answering heartbeats, which makes the connection a zombie.
    pub fn pause_acks(&self, paused: bool) {
        self.lock().acks_paused = paused;
    }

    /// Intents that are "not enabled in the Developer Portal": an Identify naming any of
    /// them is closed with 4014.
    pub fn disallow_intents(&self, intents: u64) {
        self.lock().disallowed_intents = intents;
    }

    fn send_live(&self, payload: Value) {
        let inner = self.lock();
        let out = inner
            .live()
            .and_then(|c| inner.connections[c].out.as_ref())
            .expect("no ready Gateway connection");
        let _ = out.send(Out::Text(payload.to_string()));
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Inner {
    heartbeat_interval_ms: u64,
    gateway_url: String,
    resume_url: String,
    acks_paused: bool,
    disallowed_intents: u64,
    gateway_bot_calls: usize,
    identifies: usize,
    rejections: Vec<String>,
    connections: Vec<Connection>,
    sessions: Vec<Session>,
    replayed: usize,
}

impl Inner {
    /// The newest open connection with a session.
    fn live(&self) -> Option<usize> {
        self.connections
            .iter()
            .rposition(|c| c.out.is_some() && c.session.is_some())
    }
}

struct Connection {
    via: Via,
    query: String,
    out: Option<mpsc::UnboundedSender<Out>>,
    received: Vec<Value>,
    client_close: Option<u16>,
    identified: bool,
    session: Option<usize>,
}

struct Session {
    id: String,
    intents: u64,
    seq: u64,
    /// Every dispatch: its `s` and the payload as sent.
    events: Vec<(u64, String)>,
    /// The connection serving it.
    connection: Option<usize>,
    invalid: bool,
}

enum Out {
    Text(String),
    Close(u16),
}

async fn gateway_bot(State(state): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if authorization != Some(format!("Bot {TOKEN}").as_str()) {
        inner
            .rejections
            .push("GET /gateway/bot: 401 Unauthorized".into());
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "message": "401: Unauthorized", "code": 0 })),
        )
            .into_response();
    }
    inner.gateway_bot_calls += 1;
    axum::Json(json!({
        "url": inner.gateway_url,
        "shards": 1,
        "session_start_limit": {
            "total": 1000,
            "remaining": 1000usize.saturating_sub(inner.identifies),
            "reset_after": 14_400_000,
            "max_concurrency": 1
        }
    }))
    .into_response()
}

async fn accept(listener: tokio::net::TcpListener, via: Via, state: Arc<Mutex<Inner>>) {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let query = Arc::new(Mutex::new(String::new()));
            let seen = query.clone();
            // The signature is tungstenite's handshake callback's.
            #[allow(clippy::result_large_err)]
            let record = move |request: &Request, response: Response| {
                *seen.lock().unwrap_or_else(|p| p.into_inner()) =
                    request.uri().query().unwrap_or_default().to_owned();
                Ok(response)
            };
            if let Ok(socket) = tokio_tungstenite::accept_hdr_async(stream, record).await {
                let query = query.lock().unwrap_or_else(|p| p.into_inner()).clone();
                serve(socket, via, query, state).await;
            }
        });
    }
}

/// One connection: Hello, then the client's payloads answered and the test's sent.
async fn serve(
    socket: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    via: Via,
    query: String,
    state: Arc<Mutex<Inner>>,
) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel();
    let (index, hello) = {
        let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
        inner.connections.push(Connection {
            via,
            query,
            out: Some(out_tx),
            received: Vec::new(),
            client_close: None,
            identified: false,
            session: None,
        });
        let hello = json!({ "op": 10, "d": { "heartbeat_interval": inner.heartbeat_interval_ms } });
        (inner.connections.len() - 1, hello)
    };
    let mut closing = sink.send(Message::text(hello.to_string())).await.is_err();
    while !closing {
        tokio::select! {
            out = out_rx.recv() => match out {
                Some(Out::Text(text)) => closing = sink.send(Message::text(text)).await.is_err(),
                Some(Out::Close(code)) => {
                    close(&mut sink, code, "").await;
                    closing = true;
                }
                None => closing = true,
            },
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let answers = {
                        let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
                        receive(&mut inner, index, text.as_str())
                    };
                    for answer in answers {
                        match answer {
                            Out::Text(text) => {
                                if sink.send(Message::text(text)).await.is_err() {
                                    closing = true;
                                    break;
                                }
                            }
                            Out::Close(code) => {
                                close(&mut sink, code, "").await;
                                closing = true;
                                break;
                            }
                        }
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
                    inner.connections[index].client_close = frame.map(|f| u16::from(f.code));
                    closing = true;
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => closing = true,
            },
        }
    }
    // Let the close handshake finish (and record the client's close code if it comes now).
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(frame)) = stream.next().await {
            if let Message::Close(Some(frame)) = frame {
                let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
                inner.connections[index]
                    .client_close
                    .get_or_insert(u16::from(frame.code));
            }
        }
    })
    .await;
    let mut inner = state.lock().unwrap_or_else(|p| p.into_inner());
    inner.connections[index].out = None;
    if let Some(session) = inner.connections[index].session
        && inner.sessions[session].connection == Some(index)
    {
        inner.sessions[session].connection = None;
    }
}

async fn close<S>(sink: &mut S, code: u16, reason: &str)
where
    S: futures_util::Sink<Message> + Unpin,
{
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
}

/// What the stub answers a client's payload with.
fn receive(inner: &mut Inner, index: usize, text: &str) -> Vec<Out> {
    let payload: Value = match serde_json::from_str(text) {
        Ok(payload) => payload,
        Err(_) => return reject(inner, index, 4002, format!("not JSON: {text}")),
    };
    inner.connections[index].received.push(payload.clone());
    if text.len() > MAX_PAYLOAD {
        return reject(inner, index, 4002, format!("{} bytes", text.len()));
    }
    let d = &payload["d"];
    match payload["op"].as_u64() {
        Some(1) => {
            if inner.acks_paused {
                Vec::new()
            } else {
                vec![Out::Text(json!({ "op": 11 }).to_string())]
            }
        }
        Some(2) => identify(inner, index, d),
        Some(6) => resume(inner, index, d),
        other => reject(inner, index, 4001, format!("opcode {other:?}")),
    }
}

fn reject(inner: &mut Inner, index: usize, code: u16, why: String) -> Vec<Out> {
    inner.rejections.push(format!("{code}: {why}"));
    inner.connections[index].out = None;
    vec![Out::Close(code)]
}

fn identify(inner: &mut Inner, index: usize, d: &Value) -> Vec<Out> {
    if inner.connections[index].identified {
        return reject(inner, index, 4005, "identified twice".into());
    }
    if d["token"] != TOKEN {
        return reject(inner, index, 4004, "identify with another token".into());
    }
    let properties = &d["properties"];
    if !["os", "browser", "device"]
        .iter()
        .all(|p| properties[*p].is_string())
    {
        return reject(
            inner,
            index,
            4001,
            format!("identify properties {properties}"),
        );
    }
    let Some(intents) = d["intents"].as_u64() else {
        return reject(inner, index, 4013, format!("intents {}", d["intents"]));
    };
    if intents & inner.disallowed_intents != 0 {
        return reject(
            inner,
            index,
            4014,
            format!("intents {intents} name a disallowed one"),
        );
    }
    inner.identifies += 1;
    let id = format!("stub-session-{}", inner.sessions.len() + 1);
    inner.sessions.push(Session {
        id: id.clone(),
        intents,
        seq: 1,
        events: Vec::new(),
        connection: Some(index),
        invalid: false,
    });
    let connection = &mut inner.connections[index];
    connection.identified = true;
    connection.session = Some(inner.sessions.len() - 1);
    let ready = json!({
        "op": 0,
        "t": "READY",
        "s": 1,
        "d": {
            "v": 10,
            "user": {
                "id": BOT_USER,
                "username": "tocsin",
                "discriminator": "0",
                "global_name": null,
                "avatar": null,
                "bot": true
            },
            "guilds": [{ "id": GUILD_ID, "unavailable": true }],
            "session_id": id,
            "resume_gateway_url": inner.resume_url,
            "shard": [0, 1],
            "application": { "id": APPLICATION_ID, "flags": 0 }
        }
    });
    vec![Out::Text(ready.to_string())]
}

fn resume(inner: &mut Inner, index: usize, d: &Value) -> Vec<Out> {
    if d["token"] != TOKEN {
        return reject(inner, index, 4004, "resume with another token".into());
    }
    let found = inner
        .sessions
        .iter()
        .position(|s| Some(s.id.as_str()) == d["session_id"].as_str() && !s.invalid);
    let Some(session) = found else {
        inner
            .rejections
            .push(format!("resume of unknown session {}", d["session_id"]));
        return vec![Out::Text(json!({ "op": 9, "d": false }).to_string())];
    };
    let Some(seq) = d["seq"]
        .as_u64()
        .filter(|s| *s <= inner.sessions[session].seq)
    else {
        return reject(inner, index, 4007, format!("resume from seq {}", d["seq"]));
    };
    inner.sessions[session].connection = Some(index);
    inner.connections[index].session = Some(session);
    let missed: Vec<String> = inner.sessions[session]
        .events
        .iter()
        .filter(|(s, _)| *s > seq)
        .map(|(_, payload)| payload.clone())
        .collect();
    inner.replayed += missed.len();
    let session = &mut inner.sessions[session];
    session.seq += 1;
    let resumed = json!({ "op": 0, "t": "RESUMED", "s": session.seq, "d": null });
    missed
        .into_iter()
        .chain([resumed.to_string()])
        .map(Out::Text)
        .collect()
}
