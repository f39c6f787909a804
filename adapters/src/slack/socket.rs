//! Slack Socket Mode: Slack's requests over a WebSocket that Tocsin opens, for workspaces
//! where Slack cannot reach Tocsin over HTTP.
//!
//! The protocol (Slack's "Using Socket Mode", docs.slack.dev/apis/events-api/using-socket-mode):
//! `apps.connections.open` with the app-level token (`xapp-…`, scope `connections:write`)
//! answers a one-off `wss://` URL; Slack greets each connection with `hello`, then sends
//! envelopes `{"type", "envelope_id", "payload", "accepts_response_payload"}` whose type is
//! `slash_commands`, `interactive` or `events_api` and whose payload is the JSON the HTTP
//! request URL would have received. Each is acknowledged within three seconds with
//! `{"envelope_id", "payload"?}`, the payload being what the HTTP answer's body would have
//! been; an envelope left unacknowledged is delivered again. Slack refreshes connections
//! every few hours and says so first with `disconnect` (`warning`, `refresh_requested`,
//! `link_disabled`): a replacement is opened at once while the old connection drains.
//! Connections that drop or go quiet are replaced after a growing, jittered wait.
//!
//! This module knows the WebSocket and the envelope, not what an envelope means: that is
//! the [`EnvelopeHandler`] it is given. Messages on the socket are not signed; the socket
//! itself is authenticated by the app token.
//!
//! Slack would accept up to ten connections per app; `tocsin serve` holds one, in the
//! replica that leads (see `src/app.rs`, `lead_socket_mode`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tracing::Instrument;

use crate::websocket::Backoff;

use super::client::DEFAULT_API_URL;

/// The environment variable holding the app-level token; set, it turns Socket Mode on.
pub const APP_TOKEN_ENV: &str = "SLACK_APP_TOKEN";
/// How app-level tokens start (bot tokens are `xoxb-`, and Slack refuses them here).
pub const APP_TOKEN_PREFIX: &str = "xapp-";

/// Slack's deadline for an acknowledgement.
const ACK_DEADLINE: Duration = Duration::from_secs(3);
/// Longest wait for `apps.connections.open` or the WebSocket handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that lived this long was a good one: the next failure starts the backoff
/// over. Shorter-lived ones (Socket Mode turned off in the app settings: `link_disabled`
/// right after `hello`) keep growing it, so Slack is never asked in a tight loop.
const STABLE: Duration = Duration::from_secs(30);
/// At shutdown, how long connections get to acknowledge what they are handling.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// An envelope as Slack sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// What to acknowledge.
    pub envelope_id: String,
    /// `slash_commands`, `interactive` or `events_api`.
    pub kind: String,
    /// The JSON the HTTP request URL would have received (a slash command's form fields as
    /// an object, an interaction without its `payload=` wrapping, an Events API body).
    pub payload: Value,
    /// Whether the acknowledgement may carry an answer (not for `events_api`).
    pub accepts_response_payload: bool,
    /// Events API redeliveries: which attempt, and why.
    pub retry_attempt: Option<u64>,
    pub retry_reason: Option<String>,
}

/// Why an envelope is left unacknowledged: Slack will deliver it again, as it retries an
/// HTTP request answered 5xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unacknowledged(pub String);

/// What the connection hands each envelope to.
#[async_trait]
pub trait EnvelopeHandler: Send + Sync + 'static {
    /// Handles `envelope` and returns the acknowledgement's payload (`None`: acknowledge
    /// with none). Called on its own task per envelope; answer within three seconds.
    async fn handle(&self, envelope: Envelope) -> Result<Option<Value>, Unacknowledged>;
}

/// Why a connection could not be opened or ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocketError {
    #[error("{0}")]
    Config(String),
    /// `apps.connections.open` answered `{"ok":false,"error":…}`.
    #[error("apps.connections.open refused: {0}")]
    Refused(String),
    #[error("apps.connections.open is rate limited for {0:?}")]
    RateLimited(Duration),
    #[error("Slack is unreachable: {0}")]
    Unavailable(String),
    #[error("WebSocket: {0}")]
    WebSocket(String),
    #[error("nothing heard from Slack for {0:?}")]
    Idle(Duration),
    #[error("Slack closed the connection")]
    Closed,
}

/// Where and how to connect.
#[derive(Clone)]
pub struct SocketSettings {
    /// The app-level token (`xapp-…`).
    pub app_token: String,
    /// The Web API base (`apps.connections.open` is `{api_url}/apps.connections.open`).
    pub api_url: String,
    /// How often Tocsin pings; a connection silent for twice as long is replaced.
    pub ping_interval: Duration,
    /// Waits between failed attempts, doubling from `backoff_min` up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How long a connection that Slack said it will close keeps serving while its
    /// replacement connects.
    pub drain: Duration,
}

impl SocketSettings {
    pub fn new(app_token: impl Into<String>) -> Self {
        SocketSettings {
            app_token: app_token.into(),
            api_url: DEFAULT_API_URL.to_owned(),
            ping_interval: Duration::from_secs(30),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            drain: Duration::from_secs(10),
        }
    }

    /// From `SLACK_APP_TOKEN` (`None` when unset or empty) and `TOCSIN_SLACK_API_URL`.
    pub fn from_env() -> Option<Self> {
        let token = std::env::var(APP_TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())?;
        let mut settings = SocketSettings::new(token.trim());
        if let Some(url) = std::env::var("TOCSIN_SLACK_API_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            settings.api_url = url;
        }
        Some(settings)
    }
}

impl fmt::Debug for SocketSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketSettings")
            .field("app_token", &"***")
            .field("api_url", &self.api_url)
            .field("ping_interval", &self.ping_interval)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("drain", &self.drain)
            .finish()
    }
}

/// A Socket Mode client: [`SocketMode::run`] keeps one connection open (two while one is
/// being replaced) until shut down.
pub struct SocketMode {
    settings: SocketSettings,
    open_url: String,
    http: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for SocketMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketMode")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// What a connection tells the supervisor.
#[derive(Debug)]
enum Status {
    Hello,
    /// Slack will close this connection (`disconnect`, with its reason).
    Refresh(String),
}

impl SocketMode {
    pub fn new(settings: SocketSettings) -> Result<Self, SocketError> {
        let token = settings.app_token.trim();
        if !token.starts_with(APP_TOKEN_PREFIX) {
            return Err(SocketError::Config(format!(
                "{APP_TOKEN_ENV} must be an app-level token ({APP_TOKEN_PREFIX}…, with the \
                 connections:write scope), not a bot or user token"
            )));
        }
        let api_url = settings.api_url.trim().trim_end_matches('/');
        let parsed = reqwest::Url::parse(api_url)
            .map_err(|e| SocketError::Config(format!("Slack API URL `{api_url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SocketError::Config(format!(
                "Slack API URL `{api_url}` is not http(s)"
            )));
        }
        if settings.ping_interval.is_zero() || settings.backoff_min.is_zero() {
            return Err(SocketError::Config(
                "Socket Mode's ping interval and backoff must be positive".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| SocketError::Config(format!("building the HTTP client: {e}")))?;
        Ok(SocketMode {
            open_url: format!("{api_url}/apps.connections.open"),
            settings: SocketSettings {
                app_token: token.to_owned(),
                ..settings
            },
            http,
            tls: crate::websocket::tls_config()
                .map_err(|e| SocketError::Config(format!("TLS for Socket Mode: {e}")))?,
        })
    }

    /// `apps.connections.open`: a fresh WebSocket URL, good for one connection.
    pub async fn open_url(&self) -> Result<String, SocketError> {
        let response = self
            .http
            .post(&self.open_url)
            .bearer_auth(&self.settings.app_token)
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .map_err(|e| SocketError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
                .map_or(Duration::from_secs(30), Duration::from_secs);
            return Err(SocketError::RateLimited(wait));
        }
        if !status.is_success() {
            return Err(SocketError::Unavailable(format!(
                "apps.connections.open answered HTTP {status}"
            )));
        }
        #[derive(Deserialize)]
        struct Opened {
            ok: bool,
            url: Option<String>,
            error: Option<String>,
        }
        let opened: Opened = response.json().await.map_err(|e| {
            SocketError::Unavailable(format!("apps.connections.open answered: {e}"))
        })?;
        match (opened.ok, opened.url) {
            (true, Some(url)) if url.starts_with("wss://") || url.starts_with("ws://") => Ok(url),
            (true, _) => Err(SocketError::Unavailable(
                "apps.connections.open answered no WebSocket URL".into(),
            )),
            (false, _) if opened.error.as_deref() == Some("ratelimited") => {
                Err(SocketError::RateLimited(Duration::from_secs(30)))
            }
            (false, _) => Err(SocketError::Refused(
                opened.error.unwrap_or_else(|| "unknown error".into()),
            )),
        }
    }

    async fn connect(&self) -> Result<Socket, SocketError> {
        let url = self.open_url().await?;
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
            .map_err(|_| SocketError::WebSocket(format!("no handshake with {host} in time")))?
            // The URL carries a one-off ticket: errors name the host only.
            .map_err(|e| SocketError::WebSocket(format!("{host}: {e}")))?;
        tracing::debug!(host, "Slack Socket Mode WebSocket open");
        Ok(socket)
    }

    /// Connects, serves envelopes with `handler`, and reconnects, until `shutdown`
    /// completes; then gives in-flight envelopes a moment to be acknowledged and closes.
    pub async fn run(
        self,
        handler: Arc<dyn EnvelopeHandler>,
        shutdown: impl Future<Output = ()> + Send,
    ) {
        tokio::pin!(shutdown);
        let timing = Timing::from(&self.settings);
        let (closing_tx, closing_rx) = watch::channel(false);
        let (status_tx, mut status_rx) = mpsc::unbounded_channel::<(u64, Status)>();
        let mut connections: JoinSet<(u64, Result<(), SocketError>)> = JoinSet::new();
        let mut backoff = Backoff::new(self.settings.backoff_min, self.settings.backoff_max);
        // The connection being relied on, and when it said hello.
        let mut current: Option<(u64, Option<Instant>)> = None;
        // When to open the next connection; None while `current` is fine.
        let mut reconnect_at = Some(Instant::now());
        let mut next_id = 0u64;
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep_until(reconnect_at.unwrap_or_else(Instant::now)),
                    if reconnect_at.is_some() =>
                {
                    let attempt = tokio::select! {
                        () = &mut shutdown => break,
                        attempt = self.connect() => attempt,
                    };
                    match attempt {
                        Ok(socket) => {
                            next_id += 1;
                            let span = tracing::info_span!("slack_socket", connection = next_id);
                            connections.spawn(
                                serve(
                                    next_id,
                                    socket,
                                    handler.clone(),
                                    status_tx.clone(),
                                    closing_rx.clone(),
                                    timing,
                                )
                                .instrument(span),
                            );
                            current = Some((next_id, None));
                            reconnect_at = None;
                        }
                        Err(e) => {
                            let mut wait = backoff.next();
                            if let SocketError::RateLimited(asked) = &e {
                                wait = wait.max(*asked);
                            }
                            if matches!(e, SocketError::Refused(_) | SocketError::Config(_)) {
                                tracing::error!(error = %e, retry_in = ?wait, "Slack Socket Mode cannot connect");
                            } else {
                                tracing::warn!(error = %e, retry_in = ?wait, "Slack Socket Mode cannot connect");
                            }
                            reconnect_at = Some(Instant::now() + wait);
                        }
                    }
                }
                Some((id, status)) = status_rx.recv() => {
                    let Some((current_id, hello_at)) = &mut current else { continue };
                    if id != *current_id {
                        continue;
                    }
                    match status {
                        Status::Hello => *hello_at = Some(Instant::now()),
                        Status::Refresh(reason) => {
                            // The old connection drains on its own; a replacement now,
                            // unless connections keep being cut as soon as they open.
                            let wait = settle(&mut backoff, *hello_at);
                            tracing::info!(reason, reconnect_in = ?wait, "Slack asked to reconnect");
                            current = None;
                            reconnect_at = Some(Instant::now() + wait);
                        }
                    }
                }
                Some(joined) = connections.join_next() => {
                    let (id, ended) = match joined {
                        Ok(ended) => ended,
                        Err(e) => {
                            tracing::error!(error = %e, "a Slack Socket Mode connection failed");
                            continue;
                        }
                    };
                    let Some((current_id, hello_at)) = current else { continue };
                    if id != current_id {
                        continue;
                    }
                    let wait = settle(&mut backoff, hello_at);
                    match ended {
                        Ok(()) => tracing::info!(reconnect_in = ?wait, "Slack Socket Mode connection closed"),
                        Err(e) => tracing::warn!(error = %e, reconnect_in = ?wait, "Slack Socket Mode connection lost"),
                    }
                    current = None;
                    reconnect_at = Some(Instant::now() + wait);
                }
            }
        }
        tracing::info!("closing Slack Socket Mode");
        let _ = closing_tx.send(true);
        let closed = tokio::time::timeout(CLOSE_GRACE + Duration::from_secs(1), async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if closed.is_err() {
            connections.abort_all();
        }
    }
}

/// The wait before the next connection after one ended or is ending: none after a
/// connection that was up a while (and the backoff starts over), else the next backoff.
fn settle(backoff: &mut Backoff, hello_at: Option<Instant>) -> Duration {
    if hello_at.is_some_and(|at| at.elapsed() >= STABLE) {
        backoff.reset();
        Duration::ZERO
    } else {
        backoff.next()
    }
}

/// The timings a connection needs, copied out of the settings.
#[derive(Debug, Clone, Copy)]
struct Timing {
    ping_interval: Duration,
    drain: Duration,
}

impl From<&SocketSettings> for Timing {
    fn from(s: &SocketSettings) -> Self {
        Timing {
            ping_interval: s.ping_interval,
            drain: s.drain,
        }
    }
}

/// One connection: reads frames, hands envelopes to `handler` on their own tasks, sends
/// their acknowledgements, pings, and ends when Slack closes it, it goes quiet, it has
/// drained after a `disconnect`, or Tocsin shuts down.
async fn serve(
    id: u64,
    socket: Socket,
    handler: Arc<dyn EnvelopeHandler>,
    status: mpsc::UnboundedSender<(u64, Status)>,
    mut closing: watch::Receiver<bool>,
    timing: Timing,
) -> (u64, Result<(), SocketError>) {
    let (mut sink, mut stream) = socket.split();
    // Each handled envelope reports here: its acknowledgement, or None when withheld.
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Option<String>>();
    let mut in_flight = 0usize;
    let mut last_heard = Instant::now();
    let mut ping =
        tokio::time::interval_at(Instant::now() + timing.ping_interval, timing.ping_interval);
    // Set once the connection is to end: after a `disconnect`, or at shutdown. It then
    // ends as soon as nothing is in flight, or at this time regardless.
    let mut ending_at: Option<Instant> = None;
    let mut shutting_down = *closing.borrow();
    if shutting_down {
        ending_at = Some(Instant::now());
    }
    let result = loop {
        if ending_at.is_some() && in_flight == 0 {
            break Ok(());
        }
        tokio::select! {
            frame = stream.next() => {
                let frame = match frame {
                    None => break Err(SocketError::Closed),
                    Some(Err(e)) => break Err(SocketError::WebSocket(e.to_string())),
                    Some(Ok(frame)) => frame,
                };
                last_heard = Instant::now();
                let text = match frame {
                    Frame::Text(text) => text,
                    Frame::Close(_) => break Err(SocketError::Closed),
                    // Pings are answered by tungstenite; pongs and the rest only show life.
                    _ => continue,
                };
                match parse_frame(text.as_str()) {
                    Ok(Incoming::Hello { num_connections, approximate_connection_time }) => {
                        tracing::info!(num_connections, approximate_connection_time, "Slack Socket Mode connected");
                        let _ = status.send((id, Status::Hello));
                    }
                    Ok(Incoming::Disconnect { reason }) => {
                        tracing::info!(reason, "Slack will close this Socket Mode connection");
                        if ending_at.is_none() {
                            ending_at = Some(Instant::now() + timing.drain);
                            let _ = status.send((id, Status::Refresh(reason)));
                        }
                    }
                    Ok(Incoming::Envelope(envelope)) => {
                        in_flight += 1;
                        tokio::spawn(
                            handle(handler.clone(), envelope, done_tx.clone()).in_current_span(),
                        );
                    }
                    Ok(Incoming::Other(kind)) => {
                        tracing::debug!(kind, "Slack Socket Mode message ignored");
                    }
                    Err(e) => tracing::warn!(error = %e, "Slack sent a Socket Mode message that is not JSON"),
                }
            }
            Some(done) = done_rx.recv() => {
                in_flight -= 1;
                if let Some(ack) = done
                    && let Err(e) = sink.send(Frame::text(ack)).await
                {
                    break Err(SocketError::WebSocket(e.to_string()));
                }
            }
            _ = ping.tick() => {
                let silent = last_heard.elapsed();
                if silent >= timing.ping_interval * 2 {
                    break Err(SocketError::Idle(silent));
                }
                if let Err(e) = sink.send(Frame::Ping(Default::default())).await {
                    break Err(SocketError::WebSocket(e.to_string()));
                }
            }
            () = sleep_until_or_never(ending_at) => break Ok(()),
            changed = closing.changed(), if !shutting_down => {
                // A dropped sender means the supervisor is gone: shut down too.
                if changed.is_err() || *closing.borrow() {
                    shutting_down = true;
                    let grace = Instant::now() + CLOSE_GRACE;
                    ending_at = Some(ending_at.map_or(grace, |at| at.min(grace)));
                }
            }
        }
    };
    if in_flight > 0 {
        tracing::warn!(
            in_flight,
            "closing a Slack Socket Mode connection with envelopes unacknowledged; Slack will redeliver them"
        );
    }
    let _ = sink.send(Frame::Close(None)).await;
    let _ = sink.close().await;
    (id, result)
}

async fn sleep_until_or_never(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Runs the handler on one envelope and reports its acknowledgement.
async fn handle(
    handler: Arc<dyn EnvelopeHandler>,
    envelope: Envelope,
    done: mpsc::UnboundedSender<Option<String>>,
) {
    let started = Instant::now();
    let envelope_id = envelope.envelope_id.clone();
    let kind = envelope.kind.clone();
    let accepts_payload = envelope.accepts_response_payload;
    let outcome = handler.handle(envelope).await;
    let took = started.elapsed();
    if took > ACK_DEADLINE {
        tracing::warn!(
            envelope_id,
            kind,
            ?took,
            "a Slack envelope was acknowledged after Slack's deadline"
        );
    }
    let ack = match outcome {
        Ok(payload) => Some(ack(&envelope_id, payload.filter(|_| accepts_payload)).to_string()),
        Err(e) => {
            tracing::warn!(envelope_id, kind, error = %e, "a Slack envelope left unacknowledged for Slack to redeliver");
            None
        }
    };
    let _ = done.send(ack);
}

/// The acknowledgement of `envelope_id`, with what the HTTP answer's body would have been.
pub fn ack(envelope_id: &str, payload: Option<Value>) -> Value {
    match payload {
        Some(payload) => json!({ "envelope_id": envelope_id, "payload": payload }),
        None => json!({ "envelope_id": envelope_id }),
    }
}

/// A message from Slack on the socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Hello {
        num_connections: Option<u64>,
        /// Seconds until Slack expects to refresh the connection.
        approximate_connection_time: Option<u64>,
    },
    Disconnect {
        reason: String,
    },
    Envelope(Envelope),
    /// Anything else: its type, for the log.
    Other(String),
}

/// Reads one text frame.
pub fn parse_frame(text: &str) -> Result<Incoming, serde_json::Error> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(rename = "type", default)]
        kind: String,
        envelope_id: Option<String>,
        payload: Option<Value>,
        #[serde(default)]
        accepts_response_payload: bool,
        retry_attempt: Option<u64>,
        retry_reason: Option<String>,
        reason: Option<String>,
        num_connections: Option<u64>,
        debug_info: Option<DebugInfo>,
    }
    #[derive(Deserialize)]
    struct DebugInfo {
        approximate_connection_time: Option<u64>,
    }
    let raw: Raw = serde_json::from_str(text)?;
    Ok(match (raw.kind.as_str(), raw.envelope_id) {
        ("hello", _) => Incoming::Hello {
            num_connections: raw.num_connections,
            approximate_connection_time: raw.debug_info.and_then(|d| d.approximate_connection_time),
        },
        ("disconnect", _) => Incoming::Disconnect {
            reason: raw.reason.unwrap_or_default(),
        },
        // Anything with an envelope id is acknowledged, whatever its type: an envelope
        // type Tocsin does not know must not be redelivered forever.
        (_, Some(envelope_id)) => Incoming::Envelope(Envelope {
            envelope_id,
            kind: raw.kind,
            payload: raw.payload.unwrap_or(Value::Null),
            accepts_response_payload: raw.accepts_response_payload,
            retry_attempt: raw.retry_attempt,
            retry_reason: raw.retry_reason,
        }),
        (_, None) => Incoming::Other(raw.kind),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_as_the_socket_mode_docs_show_them() {
        let hello = r#"{"type":"hello","connection_info":{"app_id":"A1234"},"num_connections":1,
            "debug_info":{"host":"applink-1","build_number":54,"approximate_connection_time":3600}}"#;
        assert_eq!(
            parse_frame(hello).unwrap(),
            Incoming::Hello {
                num_connections: Some(1),
                approximate_connection_time: Some(3600)
            }
        );
        let disconnect =
            r#"{"type":"disconnect","reason":"refresh_requested","debug_info":{"host":"wss-111"}}"#;
        assert_eq!(
            parse_frame(disconnect).unwrap(),
            Incoming::Disconnect {
                reason: "refresh_requested".into()
            }
        );
        let command = r#"{"payload":{"command":"/incident","text":"status","user_id":"U1",
            "channel_id":"C1","trigger_id":"t","response_url":"https://x"},
            "envelope_id":"dbdd0ef3-1543-4f94-bfb4-133d0e6c1545","type":"slash_commands",
            "accepts_response_payload":true}"#;
        let Incoming::Envelope(e) = parse_frame(command).unwrap() else {
            panic!()
        };
        assert_eq!(e.envelope_id, "dbdd0ef3-1543-4f94-bfb4-133d0e6c1545");
        assert_eq!(e.kind, "slash_commands");
        assert!(e.accepts_response_payload);
        assert_eq!(e.payload["command"], "/incident");
        let event = r#"{"envelope_id":"e2","type":"events_api","accepts_response_payload":false,
            "retry_attempt":1,"retry_reason":"timeout","payload":{"type":"event_callback"}}"#;
        let Incoming::Envelope(e) = parse_frame(event).unwrap() else {
            panic!()
        };
        assert_eq!(
            (e.retry_attempt, e.retry_reason.as_deref()),
            (Some(1), Some("timeout"))
        );
        assert_eq!(
            parse_frame(r#"{"type":"something_new"}"#).unwrap(),
            Incoming::Other("something_new".into())
        );
        assert!(parse_frame("not json").is_err());
    }

    #[test]
    fn acknowledgements_carry_the_envelope_id_and_any_answer() {
        assert_eq!(ack("e1", None), json!({ "envelope_id": "e1" }));
        assert_eq!(
            ack("e1", Some(json!({ "text": "hi" }))),
            json!({ "envelope_id": "e1", "payload": { "text": "hi" } })
        );
    }

    #[test]
    fn only_app_level_tokens_and_http_api_urls_are_accepted() {
        let err = SocketMode::new(SocketSettings::new("xoxb-bot-token")).unwrap_err();
        assert!(err.to_string().contains("xapp-"), "{err}");
        let mut settings = SocketSettings::new("xapp-1-A1-1-abc");
        settings.api_url = "ftp://example.com".into();
        assert!(matches!(
            SocketMode::new(settings),
            Err(SocketError::Config(_))
        ));
        let settings = SocketSettings::new(" xapp-1-A1-1-abc ");
        let client = SocketMode::new(settings).unwrap();
        assert!(!format!("{client:?}").contains("xapp-1"));
    }
}
