//! Discord's Gateway: the WebSocket Tocsin holds open to hear what is said in incident
//! channels and which messages get a 📌, for incidents that capture their channel's talk
//! into the timeline. Interactions (commands, buttons) do not come this way: Discord posts
//! them to `/discord/interactions`.
//!
//! The protocol (discord/discord-api-docs, `developers/events/gateway.mdx` and
//! `developers/events/gateway-events.mdx`; close codes in
//! `developers/topics/opcodes-and-status-codes.mdx`): `GET /gateway/bot` with the bot
//! token answers the `wss://` URL, connected to as `{url}/?v=10&encoding=json`. Discord
//! greets with Hello (op 10, `heartbeat_interval`); the first Heartbeat (op 1, `d` = the
//! last dispatch's `s`) goes after `interval * jitter`, the rest every interval, each
//! answered by a Heartbeat ACK (op 11): a heartbeat due while the last one is unanswered
//! means the connection is a zombie, and it is replaced. Identify (op 2: token, intents,
//! properties) starts a session, READY (a Dispatch, op 0) names it (`session_id`) and the
//! URL to resume it on (`resume_gateway_url`). A lost connection is resumed there with
//! Resume (op 6: token, `session_id`, `seq`): Discord replays what was missed and says
//! RESUMED. Discord may ask for a heartbeat now (op 1), to reconnect and resume (op 7
//! Reconnect) or, with Invalid Session (op 9), say whether the session can be resumed
//! (`d`: true) or a new one must be identified after a random 1–5 s (false).
//!
//! Close codes 4004 (bad token) and 4010–4014 (shard, API version, invalid or disallowed
//! intents) will not go away by retrying: the error says what to fix and [`Gateway::run`]
//! stops. Any other end is followed by a resume (or, without a session, a fresh identify)
//! after a growing, jittered wait. Tocsin closes its side with 1000 only at shutdown (which
//! ends the session); to resume it closes with 4000, which keeps the session.
//!
//! Events become [`Invocation`]s through the pure [`invocation`]; the [`GatewayHandler`]
//! gets them one at a time, in the order Discord sent them, on a task of their own, so a
//! slow handler never delays a heartbeat. What an event means for an incident is the
//! handler's business, not this module's: it knows the WebSocket and the payloads.
//!
//! One connection, unsharded: `tocsin serve` holds it in the replica that leads.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use commands::{Input, Invocation};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tracing::Instrument;

use crate::websocket::Backoff;

use super::PLATFORM;
use super::client::DEFAULT_API_URL;

/// The environment variable holding the bot token.
pub const TOKEN_ENV: &str = "DISCORD_TOKEN";
/// The environment variable overriding the REST base (`GET {api_url}/gateway/bot`).
pub const API_URL_ENV: &str = "TOCSIN_DISCORD_API_URL";

/// Gateway intents (Discord's bits): guild and channel events.
pub const GUILDS: u64 = 1 << 0;
/// MESSAGE_CREATE (and updates and deletes) in guild channels.
pub const GUILD_MESSAGES: u64 = 1 << 9;
/// MESSAGE_REACTION_ADD (and removals) in guild channels.
pub const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
/// Privileged: messages' `content`, empty without it. Turned on for the bot in the
/// Developer Portal; asking for it while it is off closes the connection with 4014.
pub const MESSAGE_CONTENT: u64 = 1 << 15;
/// What timeline capture needs.
pub const DEFAULT_INTENTS: u64 =
    GUILDS | GUILD_MESSAGES | GUILD_MESSAGE_REACTIONS | MESSAGE_CONTENT;

/// The reaction that adds a message to the timeline (U+1F4CC PUSHPIN), as on Slack.
pub const PIN_EMOJI: &str = "\u{1F4CC}";

/// The Gateway version and encoding Tocsin speaks; no compression.
const QUERY: &str = "v=10&encoding=json";

/// Opcodes (Discord's numbering).
const DISPATCH: u64 = 0;
const HEARTBEAT: u64 = 1;
const IDENTIFY: u64 = 2;
const RESUME: u64 = 6;
const RECONNECT: u64 = 7;
const INVALID_SESSION: u64 = 9;
const HELLO: u64 = 10;
const HEARTBEAT_ACK: u64 = 11;

/// The close code Tocsin uses when it means to resume: anything but 1000 and 1001, which
/// end the session.
const CLOSE_TO_RESUME: u16 = 4000;

/// Longest wait for `GET /gateway/bot`, the WebSocket handshake, or Hello after it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Waits between failed connections, doubling.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A connection ready this long was a good one: the next loss resumes at once and the
/// backoff starts over. Shorter-lived ones keep growing it, so Discord is never asked in a
/// tight loop.
const STABLE: Duration = Duration::from_secs(30);
/// At shutdown, how long the handler gets for the events already received.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// Where and how to connect.
#[derive(Clone)]
pub struct GatewaySettings {
    /// The bot token (with or without `Bot `).
    pub token: String,
    /// The REST base, like `https://discord.com/api/v10`: the Gateway's URL comes from
    /// `{api_url}/gateway/bot`.
    pub api_url: String,
    /// The intents to identify with ([`DEFAULT_INTENTS`]).
    pub intents: u64,
}

impl GatewaySettings {
    pub fn new(token: impl Into<String>) -> Self {
        GatewaySettings {
            token: token.into(),
            api_url: DEFAULT_API_URL.to_owned(),
            intents: DEFAULT_INTENTS,
        }
    }

    /// From `DISCORD_TOKEN` (`None` when unset or empty) and `TOCSIN_DISCORD_API_URL`.
    pub fn from_env() -> Option<Self> {
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())?;
        let mut settings = GatewaySettings::new(token.trim());
        if let Some(url) = std::env::var(API_URL_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            settings.api_url = url;
        }
        Some(settings)
    }
}

impl fmt::Debug for GatewaySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewaySettings")
            .field("token", &"***")
            .field("api_url", &self.api_url)
            .field("intents", &self.intents)
            .finish()
    }
}

/// Why the Gateway could not be reached, or will not be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("{0}")]
    Config(String),
    /// `GET /gateway/bot` answered 401: the token is not a bot token Discord knows.
    #[error(
        "Discord refused the bot token (GET /gateway/bot answered 401): set {TOKEN_ENV} to the \
         token on the application's Bot page in the Discord Developer Portal"
    )]
    Unauthorized,
    /// Discord closed the connection with a code that retrying cannot fix.
    #[error("Discord closed the Gateway connection with {code}, {fix}")]
    Fatal { code: u16, fix: String },
    /// `GET /gateway/bot` is rate limited, or the day's session starts are spent.
    #[error("Discord asks to wait {0:?} before connecting")]
    RateLimited(Duration),
    #[error("Discord is unreachable: {0}")]
    Unavailable(String),
    #[error("WebSocket: {0}")]
    WebSocket(String),
}

/// What an event is to Tocsin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayEventKind {
    /// A person's message in a guild channel: `Input::Said`.
    Said,
    /// A 📌 on a message: `Input::Pin`, whose `text` is empty because the reaction does not
    /// carry it; the message is `invocation.channel` + the pin's `message_id`.
    Pin,
}

/// A Gateway event Tocsin acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayEvent {
    pub kind: GatewayEventKind,
    /// Platform `discord`; `user` the author (Said) or who reacted (Pin); `channel` the
    /// channel (or thread) id; `groups` the member's role ids; `delivery`
    /// `discord:message:<message id>` or `discord:pin:<channel>:<message>:<user>`.
    pub invocation: Invocation,
    /// The guild it happened in, for links to the message.
    pub guild_id: String,
}

/// What the connection hands each event to.
#[async_trait]
pub trait GatewayHandler: Send + Sync + 'static {
    /// Called once per event, one at a time, in the order Discord sent them, on a task
    /// apart from the connection's. An event is not redelivered, whatever happens here.
    async fn event(&self, event: GatewayEvent);
}

/// The Gateway client: [`Gateway::run`] keeps one connection until shut down.
pub struct Gateway {
    token: String,
    intents: u64,
    gateway_bot_url: String,
    http: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("gateway_bot_url", &self.gateway_bot_url)
            .field("intents", &self.intents)
            .finish_non_exhaustive()
    }
}

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;
type Sink = SplitSink<Socket, Frame>;

/// A session that can be resumed.
#[derive(Debug, Clone)]
struct Session {
    id: String,
    resume_url: String,
}

/// What outlives a connection.
#[derive(Debug, Default)]
struct State {
    session: Option<Session>,
    /// The last dispatch's `s`.
    seq: Option<u64>,
    /// Tocsin's own user id, from READY: its reactions are not pins.
    bot_user: Option<String>,
}

impl State {
    fn forget_session(&mut self) {
        self.session = None;
        self.seq = None;
    }
}

/// How a connection ended.
#[derive(Debug)]
enum Ended {
    /// Tocsin is shutting down: closed with 1000.
    Shutdown,
    /// Discord asked to reconnect (op 7): resume at once.
    Reconnect,
    /// Lost (dropped, closed with a code that allows it, gone quiet): resume.
    Lost(String),
    /// Discord closed with a code that ends the session (4007, 4009): identify anew.
    SessionGone(u16),
    /// Invalid Session (op 9).
    InvalidSession { resumable: bool },
    /// A close code retrying cannot fix.
    Fatal(GatewayError),
}

impl Gateway {
    pub fn new(settings: GatewaySettings) -> Result<Self, GatewayError> {
        let token = settings.token.trim_start();
        let token = token.strip_prefix("Bot ").unwrap_or(token).trim();
        if token.is_empty() {
            return Err(GatewayError::Config(
                "the Discord bot token is empty".into(),
            ));
        }
        let api_url = settings.api_url.trim().trim_end_matches('/');
        let parsed = reqwest::Url::parse(api_url)
            .map_err(|e| GatewayError::Config(format!("Discord API URL `{api_url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(GatewayError::Config(format!(
                "Discord API URL `{api_url}` is not http(s)"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| GatewayError::Config(format!("building the HTTP client: {e}")))?;
        Ok(Gateway {
            token: token.to_owned(),
            intents: settings.intents,
            gateway_bot_url: format!("{api_url}/gateway/bot"),
            http,
            tls: crate::websocket::tls_config()
                .map_err(|e| GatewayError::Config(format!("TLS for the Discord Gateway: {e}")))?,
        })
    }

    /// `GET /gateway/bot`: the URL to identify on. Refuses to hand one out while the day's
    /// session starts are spent (Discord resets the token of a bot that goes over).
    pub async fn gateway_url(&self) -> Result<String, GatewayError> {
        let response = self
            .http
            .get(&self.gateway_bot_url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Bot {}", self.token),
            )
            .send()
            .await
            .map_err(|e| GatewayError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(GatewayError::Unauthorized);
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map_or(Duration::from_secs(5), Duration::from_secs_f64);
            return Err(GatewayError::RateLimited(wait));
        }
        if !status.is_success() {
            return Err(GatewayError::Unavailable(format!(
                "GET /gateway/bot answered HTTP {status}"
            )));
        }
        #[derive(Deserialize)]
        struct GatewayBot {
            url: String,
            session_start_limit: Option<SessionStartLimit>,
        }
        #[derive(Deserialize)]
        struct SessionStartLimit {
            remaining: u64,
            /// Milliseconds.
            reset_after: u64,
        }
        let answer: GatewayBot = response
            .json()
            .await
            .map_err(|e| GatewayError::Unavailable(format!("GET /gateway/bot answered: {e}")))?;
        if let Some(limit) = answer.session_start_limit
            && limit.remaining == 0
        {
            let wait = Duration::from_millis(limit.reset_after);
            tracing::warn!(reset_in = ?wait, "the bot's Discord session starts are spent");
            return Err(GatewayError::RateLimited(wait));
        }
        if !(answer.url.starts_with("wss://") || answer.url.starts_with("ws://")) {
            return Err(GatewayError::Unavailable(
                "GET /gateway/bot answered no WebSocket URL".into(),
            ));
        }
        Ok(answer.url)
    }

    /// Opens a connection: to the session's resume URL when there is a session, else to
    /// a fresh URL from `GET /gateway/bot`.
    async fn connect(&self, state: &State) -> Result<Socket, GatewayError> {
        let base = match &state.session {
            Some(session) => session.resume_url.clone(),
            None => self.gateway_url().await?,
        };
        let url = connect_url(&base);
        let host = reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let handshake = tokio_tungstenite::connect_async_tls_with_config(
            url.as_str(),
            None,
            true,
            Some(Connector::Rustls(self.tls.clone())),
        );
        let (socket, _) = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .map_err(|_| GatewayError::WebSocket(format!("no handshake with {host} in time")))?
            .map_err(|e| GatewayError::WebSocket(format!("{host}: {e}")))?;
        tracing::debug!(
            host,
            resuming = state.session.is_some(),
            "Discord Gateway WebSocket open"
        );
        Ok(socket)
    }

    /// Connects, hands events to `handler`, and reconnects (resuming where it can) until
    /// `ended` completes, when it closes with 1000 and gives the handler a moment for what
    /// it already has: `Ok(())`. Returns early with the error after a close code that
    /// retrying cannot fix, or a token Discord refuses; that error is logged too.
    pub async fn run(
        &self,
        handler: Arc<dyn GatewayHandler>,
        ended: impl Future<Output = ()> + Send,
    ) -> Result<(), GatewayError> {
        let (events, mut queue) = mpsc::unbounded_channel::<GatewayEvent>();
        let mut deliver = tokio::spawn(
            async move {
                while let Some(event) = queue.recv().await {
                    let delivery = event.invocation.delivery.clone();
                    // A task per event, awaited: a panicking handler loses that event only.
                    let handled = tokio::spawn({
                        let handler = handler.clone();
                        async move { handler.event(event).await }.in_current_span()
                    });
                    if let Err(e) = handled.await {
                        tracing::error!(error = %e, delivery, "the Discord Gateway event handler failed");
                    }
                }
            }
            .in_current_span(),
        );
        let outcome = self.keep_connected(&events, ended).await;
        drop(events);
        if tokio::time::timeout(CLOSE_GRACE, &mut deliver)
            .await
            .is_err()
        {
            tracing::warn!("Discord Gateway events still being handled at shutdown were dropped");
            deliver.abort();
        }
        outcome
    }

    async fn keep_connected(
        &self,
        events: &mpsc::UnboundedSender<GatewayEvent>,
        ended: impl Future<Output = ()> + Send,
    ) -> Result<(), GatewayError> {
        tokio::pin!(ended);
        let mut state = State::default();
        let mut backoff = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
        let mut wait = Duration::ZERO;
        let mut connection = 0u64;
        loop {
            if !wait.is_zero() {
                tokio::select! {
                    () = &mut ended => return Ok(()),
                    () = tokio::time::sleep(wait) => {}
                }
            }
            let resuming = state.session.is_some();
            let attempt = tokio::select! {
                () = &mut ended => return Ok(()),
                attempt = self.connect(&state) => attempt,
            };
            let socket = match attempt {
                Ok(socket) => socket,
                Err(GatewayError::Unauthorized) => {
                    let e = GatewayError::Unauthorized;
                    tracing::error!(error = %e, "the Discord Gateway stops");
                    return Err(e);
                }
                Err(e) => {
                    wait = backoff.next();
                    if let GatewayError::RateLimited(asked) = &e {
                        wait = wait.max(*asked);
                    }
                    if resuming {
                        // Discord: when the reconnect fails, start over from /gateway/bot.
                        state.forget_session();
                    }
                    tracing::warn!(error = %e, retry_in = ?wait, "the Discord Gateway cannot connect");
                    continue;
                }
            };
            connection += 1;
            let span = tracing::info_span!("discord_gateway", connection);
            let (ended_how, ready_at) = self
                .serve(socket, &mut state, events, &mut ended)
                .instrument(span)
                .await;
            wait = match ended_how {
                Ended::Shutdown => return Ok(()),
                Ended::Fatal(e) => {
                    tracing::error!(error = %e, "the Discord Gateway stops");
                    return Err(e);
                }
                Ended::Reconnect => {
                    tracing::info!("Discord asked the Gateway to reconnect: resuming");
                    Duration::ZERO
                }
                Ended::Lost(reason) => {
                    let wait = settle(&mut backoff, ready_at);
                    tracing::warn!(reason, resume_in = ?wait, "Discord Gateway connection lost");
                    wait
                }
                Ended::SessionGone(code) => {
                    state.forget_session();
                    let wait = settle(&mut backoff, ready_at);
                    tracing::warn!(code, identify_in = ?wait, "Discord ended the Gateway session");
                    wait
                }
                Ended::InvalidSession { resumable: true } => {
                    let wait = settle(&mut backoff, ready_at);
                    tracing::warn!(resume_in = ?wait, "Discord invalidated the Gateway connection; resuming");
                    wait
                }
                Ended::InvalidSession { resumable: false } => {
                    state.forget_session();
                    // Discord's advice: a random 1–5 s before identifying again.
                    let wait = Duration::from_secs(1)
                        + Duration::from_secs(4).mul_f64(crate::websocket::random_fraction());
                    tracing::warn!(identify_in = ?wait, "Discord invalidated the Gateway session");
                    wait
                }
            };
        }
    }

    /// One connection: Hello, Identify or Resume, heartbeats, dispatches; until it ends.
    /// Also returns when it became ready (READY or RESUMED), if it did.
    async fn serve<E: Future<Output = ()> + Send>(
        &self,
        socket: Socket,
        state: &mut State,
        events: &mpsc::UnboundedSender<GatewayEvent>,
        ended: &mut Pin<&mut E>,
    ) -> (Ended, Option<Instant>) {
        let (mut sink, mut stream) = socket.split();
        let hello_deadline = Instant::now() + CONNECT_TIMEOUT;
        let mut live = Liveness::default();
        let mut closed_by_peer = false;
        let ended_how = loop {
            let next_tick = live.heartbeat.map_or(hello_deadline, |(_, at)| at);
            tokio::select! {
                () = ended.as_mut() => {
                    close(&mut sink, &mut stream, 1000, "shutting down").await;
                    return (Ended::Shutdown, live.ready_at);
                }
                () = tokio::time::sleep_until(next_tick) => {
                    let Some((interval, _)) = live.heartbeat else {
                        break Ended::Lost("no Hello from Discord in time".into());
                    };
                    if live.awaiting_ack {
                        break Ended::Lost(
                            "no heartbeat ACK since the last heartbeat (a zombie connection)".into(),
                        );
                    }
                    if let Err(e) = send(&mut sink, heartbeat_payload(state.seq)).await {
                        break Ended::Lost(e);
                    }
                    live.awaiting_ack = true;
                    live.heartbeat = Some((interval, Instant::now() + interval));
                }
                frame = stream.next() => {
                    let text = match frame {
                        None => break Ended::Lost("the connection dropped without a close frame".into()),
                        Some(Err(e)) => break Ended::Lost(e.to_string()),
                        Some(Ok(Frame::Close(frame))) => {
                            closed_by_peer = true;
                            break closed_by_discord(frame, self.intents);
                        }
                        Some(Ok(Frame::Text(text))) => text,
                        Some(Ok(Frame::Binary(_))) => {
                            tracing::warn!("Discord sent a binary Gateway frame, not asked for; ignored");
                            continue;
                        }
                        // Pings are answered by tungstenite.
                        Some(Ok(_)) => continue,
                    };
                    let payload = match serde_json::from_str(text.as_str()) {
                        Ok(payload) => payload,
                        Err(e) => {
                            tracing::warn!(error = %e, "Discord sent a Gateway payload Tocsin cannot read");
                            continue;
                        }
                    };
                    match self.receive(payload, &mut live, state, events) {
                        Ok(None) => {}
                        Ok(Some(answer)) => {
                            if let Err(e) = send(&mut sink, answer).await {
                                break Ended::Lost(e);
                            }
                        }
                        Err(ended_how) => break ended_how,
                    }
                }
            }
        };
        if closed_by_peer {
            // tungstenite has answered Discord's close; this sends the answer.
            let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
        } else {
            close(&mut sink, &mut stream, CLOSE_TO_RESUME, "resuming").await;
        }
        (ended_how, live.ready_at)
    }

    /// What a payload from Discord does: to the connection (`live`), to what outlives it
    /// (`state`), and what to answer; `Err` when the connection is to end. Events for the
    /// handler go to `events`.
    fn receive(
        &self,
        payload: Payload,
        live: &mut Liveness,
        state: &mut State,
        events: &mpsc::UnboundedSender<GatewayEvent>,
    ) -> Result<Option<Value>, Ended> {
        match payload.op {
            HELLO => {
                let interval = payload.d["heartbeat_interval"]
                    .as_u64()
                    .filter(|ms| *ms > 0)
                    .map(Duration::from_millis)
                    .ok_or_else(|| Ended::Lost("Hello without a heartbeat interval".into()))?;
                if live.heartbeat.is_some() {
                    return Ok(None);
                }
                let first = Instant::now() + interval.mul_f64(crate::websocket::random_fraction());
                live.heartbeat = Some((interval, first));
                Ok(Some(match &state.session {
                    Some(session) => {
                        resume_payload(&self.token, &session.id, state.seq.unwrap_or(0))
                    }
                    None => identify_payload(&self.token, self.intents),
                }))
            }
            HEARTBEAT_ACK => {
                live.awaiting_ack = false;
                Ok(None)
            }
            // Discord asks for one now. The schedule, and the check that the last scheduled
            // one was answered, stay as they are.
            HEARTBEAT => Ok(Some(heartbeat_payload(state.seq))),
            RECONNECT => Err(Ended::Reconnect),
            INVALID_SESSION => Err(Ended::InvalidSession {
                resumable: payload.d == Value::Bool(true),
            }),
            DISPATCH => {
                if let Some(s) = payload.s {
                    state.seq = Some(s);
                }
                let name = payload.t.unwrap_or_default();
                match name.as_str() {
                    "READY" => match ready(&payload.d) {
                        Some((session, bot_user)) => {
                            tracing::info!(bot_user, "Discord Gateway ready");
                            state.session = Some(session);
                            state.bot_user = Some(bot_user);
                            live.ready_at = Some(Instant::now());
                        }
                        None => tracing::warn!("Discord sent READY without a session or user"),
                    },
                    "RESUMED" => {
                        tracing::info!("Discord Gateway session resumed");
                        live.ready_at = Some(Instant::now());
                    }
                    _ => match invocation(&name, &payload.d, state.bot_user.as_deref()) {
                        Some(event) => {
                            let _ = events.send(event);
                        }
                        None => tracing::trace!(event = name, "Discord Gateway event ignored"),
                    },
                }
                Ok(None)
            }
            other => {
                tracing::debug!(op = other, "Discord Gateway opcode ignored");
                Ok(None)
            }
        }
    }
}

/// A connection's heartbeat and readiness.
#[derive(Debug, Default)]
struct Liveness {
    /// The interval from Hello, and when the next heartbeat is due.
    heartbeat: Option<(Duration, Instant)>,
    /// A heartbeat was sent and its ACK has not come.
    awaiting_ack: bool,
    /// When READY or RESUMED came.
    ready_at: Option<Instant>,
}

/// A Gateway payload as Discord sends it.
#[derive(Deserialize)]
struct Payload {
    op: u64,
    #[serde(default)]
    d: Value,
    s: Option<u64>,
    t: Option<String>,
}

async fn send(sink: &mut Sink, payload: Value) -> Result<(), String> {
    sink.send(Frame::text(payload.to_string()))
        .await
        .map_err(|e| e.to_string())
}

/// Closes Tocsin's side with `code` (unless Discord closed first) and waits a moment for
/// Discord's answer, so the close is seen; a dead connection does not hold things up.
async fn close(sink: &mut Sink, stream: &mut SplitStream<Socket>, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if sink.send(Frame::Close(Some(frame))).await.is_ok() {
            while let Some(Ok(frame)) = stream.next().await {
                if matches!(frame, Frame::Close(_)) {
                    break;
                }
            }
        }
        let _ = sink.close().await;
    })
    .await;
}

/// What a close frame from Discord means.
fn closed_by_discord(frame: Option<CloseFrame>, intents: u64) -> Ended {
    let Some(frame) = frame else {
        return Ended::Lost("Discord closed the connection without a code".into());
    };
    let code = u16::from(frame.code);
    if let Some(fix) = fatal_close(code, intents) {
        return Ended::Fatal(GatewayError::Fatal { code, fix });
    }
    match code {
        // Invalid `seq`, session timed out: "Reconnect and start a new one".
        4007 | 4009 => Ended::SessionGone(code),
        _ => Ended::Lost(format!(
            "Discord closed the connection with {code} {}",
            frame.reason
        )),
    }
}

/// For the close codes Discord says not to reconnect after: what to fix.
fn fatal_close(code: u16, intents: u64) -> Option<String> {
    let fix = match code {
        4004 => format!(
            "authentication failed: {TOKEN_ENV} is not the bot's token (copy it, or reset it, on \
             the application's Bot page in the Discord Developer Portal)"
        ),
        4010 => "invalid shard: Tocsin connects unsharded and sent a shard Discord refuses".into(),
        4011 => "sharding required: the bot is in too many servers for one connection, which \
                 Tocsin does not shard; give Tocsin a bot application of its own"
            .into(),
        4012 => {
            "invalid API version: Tocsin speaks Gateway v10, which Discord no longer takes".into()
        }
        4013 => format!("invalid intents: {intents} is not a valid Gateway intents value"),
        4014 => {
            let mut fix = String::from(
                "disallowed intents: a privileged intent Tocsin asks for is off for this bot",
            );
            if intents & MESSAGE_CONTENT != 0 {
                fix.push_str(
                    "; turn on \"Message Content Intent\" under Bot > Privileged Gateway Intents \
                     in the Discord Developer Portal (verified bots need Discord's approval for it)",
                );
            }
            fix
        }
        _ => return None,
    };
    Some(fix)
}

/// `{url}/?v=10&encoding=json`, whether or not the URL ends with a slash (Discord's
/// examples have both).
fn connect_url(base: &str) -> String {
    format!("{}/?{QUERY}", base.trim_end_matches('/'))
}

fn heartbeat_payload(seq: Option<u64>) -> Value {
    json!({ "op": HEARTBEAT, "d": seq })
}

fn identify_payload(token: &str, intents: u64) -> Value {
    json!({
        "op": IDENTIFY,
        "d": {
            "token": token,
            "intents": intents,
            "properties": {
                "os": std::env::consts::OS,
                "browser": "tocsin",
                "device": "tocsin",
            },
        },
    })
}

fn resume_payload(token: &str, session_id: &str, seq: u64) -> Value {
    json!({
        "op": RESUME,
        "d": { "token": token, "session_id": session_id, "seq": seq },
    })
}

/// READY's session and Tocsin's own user id.
fn ready(d: &Value) -> Option<(Session, String)> {
    let id = d["session_id"].as_str()?.to_owned();
    let resume_url = d["resume_gateway_url"].as_str()?.to_owned();
    let user = d["user"]["id"].as_str()?.to_owned();
    Some((Session { id, resume_url }, user))
}

/// Message types that are a person talking: DEFAULT and REPLY. The rest are system
/// notices (joins, pins, boosts, thread starts), command and poll results.
const DEFAULT_MESSAGE: u64 = 0;
const REPLY_MESSAGE: u64 = 19;

#[derive(Deserialize)]
struct MessageCreate {
    id: String,
    channel_id: String,
    guild_id: Option<String>,
    author: Author,
    #[serde(default)]
    content: String,
    webhook_id: Option<String>,
    #[serde(rename = "type", default)]
    kind: u64,
    member: Option<Member>,
}

#[derive(Deserialize)]
struct Author {
    id: String,
    #[serde(default)]
    bot: bool,
    #[serde(default)]
    system: bool,
}

#[derive(Deserialize)]
struct Member {
    #[serde(default)]
    roles: Vec<String>,
    user: Option<Author>,
}

#[derive(Deserialize)]
struct ReactionAdd {
    user_id: String,
    channel_id: String,
    message_id: String,
    guild_id: Option<String>,
    member: Option<Member>,
    emoji: Emoji,
    message_author_id: Option<String>,
}

#[derive(Deserialize)]
struct Emoji {
    id: Option<String>,
    name: Option<String>,
}

/// What a dispatch (`t` = `event`, `d` = `data`) means to Tocsin, if anything: a person's
/// message in a guild (`MESSAGE_CREATE`) is `Said`, a 📌 added to a message in a guild
/// (`MESSAGE_REACTION_ADD`) is a `Pin`. `bot_user_id` is Tocsin's own id (from READY).
///
/// Skipped: messages from bots (Tocsin's own among them), webhooks and Discord itself,
/// system messages, direct messages (never an incident channel), messages without text
/// (attachments only, or the MESSAGE_CONTENT intent is off), other reactions, reactions by
/// bots, and payloads without the fields these need.
pub fn invocation(event: &str, data: &Value, bot_user_id: Option<&str>) -> Option<GatewayEvent> {
    match event {
        "MESSAGE_CREATE" => said(MessageCreate::deserialize(data).ok()?, bot_user_id),
        "MESSAGE_REACTION_ADD" => pin(ReactionAdd::deserialize(data).ok()?, bot_user_id),
        _ => None,
    }
}

fn said(m: MessageCreate, bot_user_id: Option<&str>) -> Option<GatewayEvent> {
    let guild_id = m.guild_id?;
    if m.author.bot
        || m.author.system
        || m.webhook_id.is_some()
        || bot_user_id == Some(m.author.id.as_str())
        || !matches!(m.kind, DEFAULT_MESSAGE | REPLY_MESSAGE)
        || m.content.trim().is_empty()
    {
        return None;
    }
    Some(GatewayEvent {
        kind: GatewayEventKind::Said,
        invocation: Invocation {
            platform: PLATFORM.into(),
            user: m.author.id,
            channel: m.channel_id,
            input: Input::Said {
                // A nickname mention (`<@!id>`, older clients) reads as the plain one.
                text: m.content.replace("<@!", "<@"),
                message_id: m.id.clone(),
            },
            delivery: Some(format!("discord:message:{}", m.id)),
            groups: m.member.map(|member| member.roles).unwrap_or_default(),
        },
        guild_id,
    })
}

fn pin(r: ReactionAdd, bot_user_id: Option<&str>) -> Option<GatewayEvent> {
    let guild_id = r.guild_id?;
    // A custom emoji has an id; 📌 is a standard one (sometimes with VS16 after it).
    let name = r.emoji.name.as_deref().unwrap_or_default();
    if r.emoji.id.is_some() || name.trim_end_matches('\u{FE0F}') != PIN_EMOJI {
        return None;
    }
    let (roles, reacted_as_bot) = match r.member {
        Some(member) => (member.roles, member.user.is_some_and(|u| u.bot)),
        None => (Vec::new(), false),
    };
    if reacted_as_bot || bot_user_id == Some(r.user_id.as_str()) {
        return None;
    }
    Some(GatewayEvent {
        kind: GatewayEventKind::Pin,
        invocation: Invocation {
            platform: PLATFORM.into(),
            delivery: Some(format!(
                "discord:pin:{}:{}:{}",
                r.channel_id, r.message_id, r.user_id
            )),
            user: r.user_id,
            channel: r.channel_id,
            input: Input::Pin {
                message_id: r.message_id,
                author: r.message_author_id.unwrap_or_default(),
                text: String::new(),
            },
            groups: roles,
        },
        guild_id,
    })
}

/// The wait before the next connection after one ended: none after a connection that was
/// ready a while (and the backoff starts over), else the next backoff.
fn settle(backoff: &mut Backoff, ready_at: Option<Instant>) -> Duration {
    if ready_at.is_some_and(|at| at.elapsed() >= STABLE) {
        backoff.reset();
        Duration::ZERO
    } else {
        backoff.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Payload shapes in these tests are Discord's, from discord/discord-api-docs:
    // `developers/resources/message.mdx` ("Example Message"), with the MESSAGE_CREATE extra
    // fields of `developers/events/gateway-events.mdx` ("Message Create Extra Fields"), and
    // the "Message Reaction Add Event Fields" table there with the standard emoji example
    // of `developers/resources/emoji.mdx`.

    /// "Example Message" from message.mdx, as MESSAGE_CREATE sends it in a guild: plus
    /// `guild_id` and a partial `member`.
    fn message_create() -> Value {
        json!({
            "reactions": [{
                "count": 1,
                "count_details": { "burst": 0, "normal": 1 },
                "me": false,
                "me_burst": false,
                "emoji": { "id": null, "name": "🔥" },
                "burst_colors": []
            }],
            "attachments": [],
            "tts": false,
            "embeds": [],
            "timestamp": "2017-07-11T17:27:07.299000+00:00",
            "mention_everyone": false,
            "id": "334385199974967042",
            "pinned": false,
            "edited_timestamp": null,
            "author": {
                "username": "Mason",
                "discriminator": "9999",
                "id": "53908099506183680",
                "avatar": "a_bab14f271d565501444b2ca3be944b25"
            },
            "mention_roles": [],
            "content": "Supa Hot",
            "channel_id": "290926798999357250",
            "mentions": [],
            "type": 0,
            "guild_id": "197038439483310086",
            "member": { "roles": ["41771983423143936"], "joined_at": "2015-04-26T06:26:56.936000+00:00", "deaf": false, "mute": false }
        })
    }

    /// MESSAGE_REACTION_ADD with every field of the event's table.
    fn reaction_add(emoji: &str) -> Value {
        json!({
            "user_id": "80351110224678912",
            "channel_id": "290926798999357250",
            "message_id": "334385199974967042",
            "guild_id": "197038439483310086",
            "member": {
                "user": { "id": "80351110224678912", "username": "Nelly", "discriminator": "1337", "avatar": null },
                "roles": ["41771983423143936"],
                "joined_at": "2015-04-26T06:26:56.936000+00:00",
                "deaf": false,
                "mute": false
            },
            "emoji": { "id": null, "name": emoji },
            "message_author_id": "53908099506183680",
            "burst": false,
            "burst_colors": [],
            "type": 0
        })
    }

    const BOT: Option<&str> = Some("1245678901234567890");

    #[test]
    fn a_persons_guild_message_is_said_by_its_author_in_its_channel() {
        let event = invocation("MESSAGE_CREATE", &message_create(), BOT).unwrap();
        assert_eq!(
            event,
            GatewayEvent {
                kind: GatewayEventKind::Said,
                invocation: Invocation {
                    platform: "discord".into(),
                    user: "53908099506183680".into(),
                    channel: "290926798999357250".into(),
                    input: Input::Said {
                        message_id: "334385199974967042".into(),
                        text: "Supa Hot".into()
                    },
                    delivery: Some("discord:message:334385199974967042".into()),
                    groups: vec!["41771983423143936".into()],
                },
                guild_id: "197038439483310086".into(),
            }
        );
        let mut reply = message_create();
        reply["type"] = 19.into();
        reply["content"] = "ack <@!80351110224678912>".into();
        let Input::Said { text, .. } = invocation("MESSAGE_CREATE", &reply, BOT)
            .unwrap()
            .invocation
            .input
        else {
            panic!("a reply is said")
        };
        assert_eq!(text, "ack <@80351110224678912>");
    }

    #[test]
    fn bots_webhooks_system_messages_dms_and_empty_content_are_not_said() {
        type Change = fn(&mut Value);
        let cases: [(&str, Change); 8] = [
            ("a bot", |m| m["author"]["bot"] = true.into()),
            ("Tocsin itself", |m| {
                m["author"]["id"] = "1245678901234567890".into()
            }),
            ("Discord", |m| m["author"]["system"] = true.into()),
            ("a webhook", |m| {
                m["webhook_id"] = "223704706495545344".into();
                m.as_object_mut().unwrap().remove("member");
            }),
            ("a user joining (type 7)", |m| m["type"] = 7.into()),
            ("a DM", |m| {
                m.as_object_mut().unwrap().remove("guild_id");
            }),
            ("no MESSAGE_CONTENT intent", |m| m["content"] = "".into()),
            ("no id", |m| {
                m.as_object_mut().unwrap().remove("id");
            }),
        ];
        for (what, change) in cases {
            let mut m = message_create();
            change(&mut m);
            assert_eq!(invocation("MESSAGE_CREATE", &m, BOT), None, "{what}");
        }
    }

    #[test]
    fn a_pushpin_reaction_pins_the_message_for_the_caller_to_fetch() {
        let event = invocation("MESSAGE_REACTION_ADD", &reaction_add("📌"), BOT).unwrap();
        assert_eq!(
            event,
            GatewayEvent {
                kind: GatewayEventKind::Pin,
                invocation: Invocation {
                    platform: "discord".into(),
                    user: "80351110224678912".into(),
                    channel: "290926798999357250".into(),
                    input: Input::Pin {
                        message_id: "334385199974967042".into(),
                        author: "53908099506183680".into(),
                        text: String::new(),
                    },
                    delivery: Some(
                        "discord:pin:290926798999357250:334385199974967042:80351110224678912"
                            .into()
                    ),
                    groups: vec!["41771983423143936".into()],
                },
                guild_id: "197038439483310086".into(),
            }
        );
        // `message_author_id` is optional.
        let mut r = reaction_add("📌\u{FE0F}");
        r.as_object_mut().unwrap().remove("message_author_id");
        let Input::Pin { author, .. } = invocation("MESSAGE_REACTION_ADD", &r, None)
            .unwrap()
            .invocation
            .input
        else {
            panic!("still a pin")
        };
        assert_eq!(author, "");
    }

    #[test]
    fn other_reactions_and_reactions_by_bots_or_in_dms_are_not_pins() {
        assert_eq!(
            invocation("MESSAGE_REACTION_ADD", &reaction_add("🔥"), BOT),
            None
        );
        let mut custom = reaction_add("📌");
        custom["emoji"]["id"] = "41771983429993937".into();
        assert_eq!(invocation("MESSAGE_REACTION_ADD", &custom, BOT), None);
        let mut own = reaction_add("📌");
        own["user_id"] = BOT.unwrap().into();
        assert_eq!(invocation("MESSAGE_REACTION_ADD", &own, BOT), None);
        let mut bot = reaction_add("📌");
        bot["member"]["user"]["bot"] = true.into();
        assert_eq!(invocation("MESSAGE_REACTION_ADD", &bot, BOT), None);
        let mut dm = reaction_add("📌");
        dm.as_object_mut().unwrap().remove("guild_id");
        dm.as_object_mut().unwrap().remove("member");
        assert_eq!(invocation("MESSAGE_REACTION_ADD", &dm, BOT), None);
    }

    #[test]
    fn other_events_mean_nothing() {
        for event in [
            "MESSAGE_UPDATE",
            "MESSAGE_REACTION_REMOVE",
            "GUILD_CREATE",
            "READY",
        ] {
            assert_eq!(invocation(event, &message_create(), BOT), None, "{event}");
        }
        assert_eq!(invocation("MESSAGE_CREATE", &json!(null), BOT), None);
    }

    #[test]
    fn sent_payloads_have_the_documented_shapes() {
        // gateway-events.mdx, "Example Heartbeat" and the null before any dispatch.
        assert_eq!(heartbeat_payload(Some(251)), json!({ "op": 1, "d": 251 }));
        assert_eq!(heartbeat_payload(None), json!({ "op": 1, "d": null }));
        // "Example Resume".
        assert_eq!(
            resume_payload("randomstring", "evenmorerandomstring", 1337),
            json!({ "op": 6, "d": { "token": "randomstring", "session_id": "evenmorerandomstring", "seq": 1337 } })
        );
        // gateway.mdx, "Example Identify Payload" (the minimal one).
        let identify = identify_payload("my_token", DEFAULT_INTENTS);
        assert_eq!(identify["op"], 2);
        assert_eq!(identify["d"]["token"], "my_token");
        assert_eq!(identify["d"]["intents"], 34305);
        assert_eq!(identify["d"]["properties"]["browser"], "tocsin");
        assert_eq!(identify["d"]["properties"]["device"], "tocsin");
        assert!(identify["d"]["properties"]["os"].is_string());
    }

    #[test]
    fn ready_gives_the_session_and_the_bots_user() {
        let d = json!({
            "v": 10,
            "user": { "id": "1245678901234567890", "username": "tocsin", "bot": true },
            "guilds": [{ "id": "197038439483310086", "unavailable": true }],
            "session_id": "d2e4c5a1",
            "resume_gateway_url": "wss://gateway-us-east1-b.discord.gg",
            "application": { "id": "1045678901234567890", "flags": 0 }
        });
        let (session, user) = ready(&d).unwrap();
        assert_eq!(
            (
                session.id.as_str(),
                session.resume_url.as_str(),
                user.as_str()
            ),
            (
                "d2e4c5a1",
                "wss://gateway-us-east1-b.discord.gg",
                "1245678901234567890"
            )
        );
        assert!(ready(&json!({ "session_id": "x" })).is_none());
    }

    #[tokio::test]
    async fn hello_identifies_or_resumes_and_dispatches_move_the_session_on() {
        let gateway = Gateway::new(GatewaySettings::new("tok")).unwrap();
        let (events, mut queue) = mpsc::unbounded_channel();
        let mut state = State::default();
        let mut live = Liveness::default();
        let payload = |v: Value| serde_json::from_value::<Payload>(v).unwrap();
        let receive = |v: Value, live: &mut Liveness, state: &mut State| {
            gateway.receive(payload(v), live, state, &events)
        };

        // gateway-events.mdx, "Example Hello": the first heartbeat within one interval.
        let hello = json!({ "op": 10, "d": { "heartbeat_interval": 45000 } });
        let answer = receive(hello.clone(), &mut live, &mut state)
            .unwrap()
            .unwrap();
        assert_eq!(answer["op"], 2);
        let (interval, first) = live.heartbeat.unwrap();
        assert_eq!(interval, Duration::from_millis(45000));
        assert!(first <= Instant::now() + interval);

        let ready = json!({ "op": 0, "t": "READY", "s": 1, "d": {
            "v": 10, "user": { "id": "1245678901234567890", "bot": true }, "guilds": [],
            "session_id": "abc", "resume_gateway_url": "wss://gateway-us-east1-b.discord.gg",
            "application": { "id": "1", "flags": 0 } } });
        assert_eq!(receive(ready, &mut live, &mut state).unwrap(), None);
        assert!(live.ready_at.is_some());
        assert_eq!(state.session.as_ref().unwrap().id, "abc");
        assert_eq!(state.bot_user.as_deref(), Some("1245678901234567890"));

        // A dispatch: its `s` is kept, and Tocsin's own reaction is not a pin.
        let mut own = reaction_add("📌");
        own["user_id"] = "1245678901234567890".into();
        let own = json!({ "op": 0, "t": "MESSAGE_REACTION_ADD", "s": 2, "d": own });
        assert_eq!(receive(own, &mut live, &mut state).unwrap(), None);
        let said = json!({ "op": 0, "t": "MESSAGE_CREATE", "s": 3, "d": message_create() });
        receive(said, &mut live, &mut state).unwrap();
        assert_eq!(state.seq, Some(3));
        assert_eq!(queue.try_recv().unwrap().kind, GatewayEventKind::Said);
        assert!(queue.try_recv().is_err());

        // A heartbeat request is answered with the last `s`; an ACK clears the wait.
        live.awaiting_ack = true;
        let asked = receive(json!({ "op": 1, "d": null }), &mut live, &mut state);
        assert_eq!(asked.unwrap(), Some(json!({ "op": 1, "d": 3 })));
        assert!(live.awaiting_ack);
        receive(json!({ "op": 11 }), &mut live, &mut state).unwrap();
        assert!(!live.awaiting_ack);

        // The next connection's Hello resumes where this one left off.
        let mut next = Liveness::default();
        let answer = receive(hello, &mut next, &mut state).unwrap().unwrap();
        assert_eq!(
            answer,
            json!({ "op": 6, "d": { "token": "tok", "session_id": "abc", "seq": 3 } })
        );

        assert!(matches!(
            receive(json!({ "op": 7, "d": null }), &mut next, &mut state),
            Err(Ended::Reconnect)
        ));
        assert!(matches!(
            receive(json!({ "op": 9, "d": false }), &mut next, &mut state),
            Err(Ended::InvalidSession { resumable: false })
        ));
        assert!(matches!(
            receive(json!({ "op": 9, "d": true }), &mut next, &mut state),
            Err(Ended::InvalidSession { resumable: true })
        ));
        assert!(matches!(
            receive(
                json!({ "op": 10, "d": {} }),
                &mut Liveness::default(),
                &mut state
            ),
            Err(Ended::Lost(_))
        ));
    }

    #[test]
    fn gateway_urls_get_the_version_and_encoding_whatever_their_ending() {
        assert_eq!(
            connect_url("wss://gateway.discord.gg/"),
            "wss://gateway.discord.gg/?v=10&encoding=json"
        );
        assert_eq!(
            connect_url("wss://gateway-us-east1-b.discord.gg"),
            "wss://gateway-us-east1-b.discord.gg/?v=10&encoding=json"
        );
    }

    #[test]
    fn close_codes_discord_says_not_to_reconnect_after_are_fatal_with_a_fix() {
        for code in [4004, 4010, 4011, 4012, 4013, 4014] {
            assert!(fatal_close(code, DEFAULT_INTENTS).is_some(), "{code}");
        }
        assert!(
            fatal_close(4014, DEFAULT_INTENTS)
                .unwrap()
                .contains("Message Content Intent")
        );
        assert!(
            fatal_close(4004, DEFAULT_INTENTS)
                .unwrap()
                .contains(TOKEN_ENV)
        );
        for code in [
            1000, 1001, 1006, 4000, 4001, 4002, 4003, 4005, 4007, 4008, 4009,
        ] {
            assert_eq!(fatal_close(code, DEFAULT_INTENTS), None, "{code}");
        }
        let frame = |code: u16| {
            Some(CloseFrame {
                code: CloseCode::from(code),
                reason: "".into(),
            })
        };
        assert!(matches!(
            closed_by_discord(frame(4014), DEFAULT_INTENTS),
            Ended::Fatal(GatewayError::Fatal { code: 4014, .. })
        ));
        assert!(matches!(
            closed_by_discord(frame(4009), DEFAULT_INTENTS),
            Ended::SessionGone(4009)
        ));
        assert!(matches!(
            closed_by_discord(frame(4000), DEFAULT_INTENTS),
            Ended::Lost(_)
        ));
        assert!(matches!(
            closed_by_discord(None, DEFAULT_INTENTS),
            Ended::Lost(_)
        ));
    }

    #[test]
    fn settings_are_checked_and_the_token_never_shows() {
        assert_eq!(DEFAULT_INTENTS, 1 | 512 | 1024 | 32768);
        assert!(matches!(
            Gateway::new(GatewaySettings::new("  ")),
            Err(GatewayError::Config(_))
        ));
        assert!(matches!(
            Gateway::new(GatewaySettings::new("Bot ")),
            Err(GatewayError::Config(_))
        ));
        let mut settings = GatewaySettings::new("Bot MTA0.secret.token");
        settings.api_url = "ftp://discord.com/api/v10".into();
        assert!(matches!(
            Gateway::new(settings.clone()),
            Err(GatewayError::Config(_))
        ));
        assert!(!format!("{settings:?}").contains("secret"));
        settings.api_url = "https://discord.com/api/v10/".into();
        let gateway = Gateway::new(settings).unwrap();
        assert_eq!(gateway.token, "MTA0.secret.token");
        assert_eq!(
            gateway.gateway_bot_url,
            "https://discord.com/api/v10/gateway/bot"
        );
        assert!(!format!("{gateway:?}").contains("secret"));
    }
}
