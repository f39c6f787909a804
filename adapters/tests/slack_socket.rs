//! The Socket Mode client against the stub Slack (adapters/tests/slack_stub) over a real
//! WebSocket on loopback: envelopes in, the handler's answers out as acknowledgements,
//! `disconnect` answered with a fresh connection, refusals of `apps.connections.open`
//! waited out, and a clean close at shutdown.

#[path = "slack_stub/mod.rs"]
mod slack_stub;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::slack::socket::{
    Envelope, EnvelopeHandler, SocketMode, SocketSettings, Unacknowledged,
};
use async_trait::async_trait;
use serde_json::{Value, json};
use slack_stub::{Failure, SlackStub};
use tokio::sync::oneshot;

const PATIENCE: Duration = Duration::from_secs(20);

/// Answers slash commands with their text, withholds the acknowledgement of interactions
/// whose payload asks for it, and records every envelope.
#[derive(Default)]
struct Echo {
    seen: Mutex<Vec<Envelope>>,
}

#[async_trait]
impl EnvelopeHandler for Echo {
    async fn handle(&self, envelope: Envelope) -> Result<Option<Value>, Unacknowledged> {
        self.seen.lock().unwrap().push(envelope.clone());
        match envelope.kind.as_str() {
            "slash_commands" => Ok(Some(json!({
                "response_type": "ephemeral",
                "text": format!("echo {}", envelope.payload["text"].as_str().unwrap_or_default()),
            }))),
            "interactive" if envelope.payload["fail"] == true => {
                Err(Unacknowledged("asked to fail".into()))
            }
            // An answer Slack cannot take for an event: the client must leave it out.
            _ => Ok(Some(json!({ "text": "not for events" }))),
        }
    }
}

struct Running {
    handler: Arc<Echo>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

fn settings(stub: &SlackStub) -> SocketSettings {
    let mut settings = SocketSettings::new(stub.app_token());
    settings.api_url = stub.url();
    settings.backoff_min = Duration::from_millis(50);
    settings.backoff_max = Duration::from_millis(200);
    settings
}

fn run(settings: SocketSettings) -> Running {
    let handler = Arc::new(Echo::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let socket = SocketMode::new(settings).unwrap();
    let task = tokio::spawn(socket.run(handler.clone(), async move {
        let _ = stopped.await;
    }));
    Running {
        handler,
        stop: Some(stop),
        task,
    }
}

impl Running {
    async fn shut_down(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("Socket Mode stops at shutdown")
            .unwrap();
    }
}

async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "never saw {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn connected(stub: &SlackStub, count: usize) {
    eventually(&format!("{count} connection(s)"), || {
        (stub.socket_connections() >= count && stub.open_sockets() >= 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn each_envelope_is_acknowledged_with_the_handlers_answer_where_slack_takes_one() {
    let stub = slack_stub::start().await;
    let running = run(settings(&stub));
    connected(&stub, 1).await;

    let command = stub.push(
        "slash_commands",
        json!({ "command": "/incident", "text": "status", "user_id": "U1", "channel_id": "C1" }),
    );
    let event = stub.push("events_api", json!({ "type": "event_callback" }));
    let failing = stub.push(
        "interactive",
        json!({ "type": "block_actions", "fail": true }),
    );
    let unknown = stub.push("something_new", json!({}));

    let acked = eventually("the command's acknowledgement", || stub.ack(&command)).await;
    assert_eq!(
        acked,
        json!({
            "envelope_id": command,
            "payload": { "response_type": "ephemeral", "text": "echo status" }
        })
    );
    // `events_api` envelopes do not accept a response payload.
    let acked = eventually("the event's acknowledgement", || stub.ack(&event)).await;
    assert_eq!(acked, json!({ "envelope_id": event }));
    let acked = eventually("the unknown envelope's acknowledgement", || {
        stub.ack(&unknown)
    })
    .await;
    assert_eq!(acked["envelope_id"], unknown.as_str());
    // A failure is left for Slack to redeliver.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stub.ack(&failing), None, "{:?}", stub.acks());

    let seen = running.handler.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    let event_seen = seen.iter().find(|e| e.envelope_id == event).unwrap();
    assert!(!event_seen.accepts_response_payload);
    assert!(
        stub.socket_frames().is_empty(),
        "{:?}",
        stub.socket_frames()
    );
    assert_eq!(stub.calls_to("apps.connections.open").len(), 1);

    running.shut_down().await;
    eventually("the connection closed", || {
        (stub.open_sockets() == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_disconnect_brings_a_new_connection_that_keeps_working() {
    let stub = slack_stub::start().await;
    let running = run(settings(&stub));
    connected(&stub, 1).await;
    stub.disconnect("refresh_requested");
    connected(&stub, 2).await;
    assert_eq!(stub.calls_to("apps.connections.open").len(), 2);

    let command = stub.push("slash_commands", json!({ "text": "after" }));
    let acked = eventually("an acknowledgement on the new connection", || {
        stub.ack(&command)
    })
    .await;
    assert_eq!(acked["payload"]["text"], "echo after");

    // Socket Mode turned off in the app settings: asked again, with backoff, not in a loop.
    stub.disconnect("link_disabled");
    connected(&stub, 3).await;
    assert_eq!(stub.calls_to("apps.connections.open").len(), 3);
    running.shut_down().await;
}

#[tokio::test]
async fn refusals_and_rate_limits_of_apps_connections_open_are_waited_out() {
    let stub = slack_stub::start().await;
    stub.fail_next(
        "apps.connections.open",
        Failure::Error("internal_error".into()),
    );
    stub.fail_next("apps.connections.open", Failure::Status(503));
    stub.fail_next(
        "apps.connections.open",
        Failure::RateLimited {
            retry_after_secs: 1,
        },
    );
    let started = tokio::time::Instant::now();
    let running = run(settings(&stub));
    connected(&stub, 1).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the Retry-After was waited out"
    );
    assert_eq!(stub.calls_to("apps.connections.open").len(), 4);
    assert_eq!(
        stub.rejections(),
        [
            (
                "apps.connections.open".to_owned(),
                "internal_error".to_owned()
            ),
            ("apps.connections.open".to_owned(), "HTTP 503".to_owned()),
            ("apps.connections.open".to_owned(), "ratelimited".to_owned()),
        ]
    );
    running.shut_down().await;
}

#[tokio::test]
async fn a_token_slack_refuses_never_connects_and_shutdown_still_stops_it() {
    let stub = slack_stub::start().await;
    let mut bad = settings(&stub);
    bad.app_token = "xapp-1-A0OTHER-0-not-this-app".into();
    let running = run(bad);
    eventually("a few refused attempts", || {
        (stub.calls_to("apps.connections.open").len() >= 3).then_some(())
    })
    .await;
    assert!(
        stub.rejections()
            .iter()
            .all(|(m, code)| m == "apps.connections.open" && code == "invalid_auth")
    );
    assert_eq!(stub.socket_connections(), 0);
    running.shut_down().await;
}
