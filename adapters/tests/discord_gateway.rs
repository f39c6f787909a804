//! The Discord Gateway client against the stub Gateway (adapters/tests/discord_gateway_stub)
//! over a real WebSocket on loopback: identify with the intents, heartbeats carrying the last
//! sequence number, messages and 📌 reactions reaching the handler, resuming after a
//! Reconnect, a lost connection or a zombie one, identifying again after an invalid
//! session, stopping for good on 4014, and closing with 1000 at shutdown.
//!
//! The handler gets events one at a time, in order: once a later event has arrived, the
//! earlier ones that were going to have arrived too, so "ignored" is asserted without
//! waiting.

#[path = "discord_gateway_stub/mod.rs"]
mod discord_gateway_stub;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::discord::gateway::{
    DEFAULT_INTENTS, Gateway, GatewayError, GatewayEvent, GatewayEventKind, GatewayHandler,
    GatewaySettings, MESSAGE_CONTENT,
};
use async_trait::async_trait;
use commands::Input;
use discord_gateway_stub::{GatewayStub, Via};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tracing::instrument::WithSubscriber;

const PATIENCE: Duration = Duration::from_secs(20);
/// Short enough that a test sees many heartbeats, long enough that a loaded machine still
/// answers each on time.
const HEARTBEAT: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<GatewayEvent>>,
}

#[async_trait]
impl GatewayHandler for Recorder {
    async fn event(&self, event: GatewayEvent) {
        self.events.lock().unwrap().push(event);
    }
}

impl Recorder {
    fn events(&self) -> Vec<GatewayEvent> {
        self.events.lock().unwrap().clone()
    }
}

/// What the client logged: level and fields.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<(tracing::Level, String)>>>);

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                let _ = write!(self.0, "{}={value:?} ", field.name());
            }
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Logs {
    fn at(&self, level: tracing::Level) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, text)| text.clone())
            .collect()
    }
}

struct Running {
    handler: Arc<Recorder>,
    logs: Logs,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), GatewayError>>,
}

fn settings(stub: &GatewayStub) -> GatewaySettings {
    GatewaySettings {
        token: stub.token().into(),
        api_url: stub.api_url(),
        intents: DEFAULT_INTENTS,
    }
}

fn run(settings: GatewaySettings) -> Running {
    let handler = Arc::new(Recorder::default());
    let logs = Logs::default();
    let (stop, stopped) = oneshot::channel::<()>();
    let gateway = Gateway::new(settings).unwrap();
    let task = tokio::spawn({
        let handler = handler.clone();
        async move {
            gateway
                .run(handler, async move {
                    let _ = stopped.await;
                })
                .await
        }
        .with_subscriber(logs.clone())
    });
    Running {
        handler,
        logs,
        stop: Some(stop),
        task,
    }
}

impl Running {
    async fn shut_down(mut self) -> Result<(), GatewayError> {
        let _ = self.stop.take().unwrap().send(());
        self.ended().await
    }

    async fn ended(self) -> Result<(), GatewayError> {
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the Gateway client returns")
            .unwrap()
    }

    async fn event(&self, what: &str, n: usize) -> Vec<GatewayEvent> {
        eventually(what, || {
            let events = self.handler.events();
            (events.len() >= n).then_some(events)
        })
        .await
    }
}

async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "never saw {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn ready(stub: &GatewayStub) {
    eventually("a ready connection", || stub.ready().then_some(())).await;
}

/// A person's message in the stub's guild, in the shape of message.mdx's "Example
/// Message" with MESSAGE_CREATE's extra fields (gateway-events.mdx).
fn message(id: &str, author: &str, content: &str) -> Value {
    json!({
        "id": id,
        "channel_id": "290926798999357250",
        "guild_id": discord_gateway_stub::GUILD_ID,
        "author": { "id": author, "username": "Mason", "discriminator": "9999", "avatar": null },
        "member": { "roles": ["41771983423143936"], "joined_at": "2015-04-26T06:26:56.936000+00:00", "deaf": false, "mute": false },
        "content": content,
        "timestamp": "2017-07-11T17:27:07.299000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0
    })
}

/// MESSAGE_REACTION_ADD as gateway-events.mdx lists its fields.
fn reaction(user: &str, emoji: &str) -> Value {
    json!({
        "user_id": user,
        "channel_id": "290926798999357250",
        "message_id": "334385199974967042",
        "guild_id": discord_gateway_stub::GUILD_ID,
        "member": { "user": { "id": user, "username": "Nelly", "discriminator": "0", "avatar": null }, "roles": [], "joined_at": "2015-04-26T06:26:56.936000+00:00", "deaf": false, "mute": false },
        "emoji": { "id": null, "name": emoji },
        "message_author_id": "53908099506183680",
        "burst": false,
        "type": 0
    })
}

fn said(event: &GatewayEvent) -> (&str, &str) {
    match &event.invocation.input {
        Input::Said { message_id, text } => (message_id, text),
        other => panic!("not said: {other:?}"),
    }
}

#[tokio::test]
async fn identifies_with_the_intents_and_heartbeats_carry_the_last_sequence() {
    let stub = discord_gateway_stub::start_with_heartbeat(HEARTBEAT).await;
    let running = run(settings(&stub));
    ready(&stub).await;

    let identify = &stub.identifies()[0];
    assert_eq!(identify["token"], stub.token());
    assert_eq!(identify["intents"], DEFAULT_INTENTS);
    assert_ne!(identify["intents"].as_u64().unwrap() & MESSAGE_CONTENT, 0);
    assert_eq!(identify["properties"]["browser"], "tocsin");
    assert_eq!(identify["properties"]["device"], "tocsin");
    assert_eq!(stub.gateway_bot_calls(), 1);
    let first = &stub.connections()[0];
    assert_eq!(
        (first.via, first.query.as_str()),
        (Via::Gateway, "v=10&encoding=json")
    );

    // READY was s 1; this is 2, and heartbeats from now on say so.
    let seq = stub
        .dispatch("MESSAGE_CREATE", message("1", "53908099506183680", "hello"))
        .unwrap();
    assert_eq!(seq, 2);
    eventually("a heartbeat with the last sequence", || {
        stub.heartbeats().iter().any(|d| *d == seq).then_some(())
    })
    .await;
    // Acknowledged heartbeats keep the one connection alive.
    let before = stub.heartbeats().len();
    eventually("five more heartbeats", || {
        (stub.heartbeats().len() >= before + 5).then_some(())
    })
    .await;
    assert_eq!(stub.connections().len(), 1);
    assert!(stub.rejections().is_empty(), "{:?}", stub.rejections());
    assert_eq!(running.shut_down().await, Ok(()));
}

#[tokio::test]
async fn a_heartbeat_request_is_answered_at_once() {
    // Heartbeats every 45 s: the one that comes is the one asked for.
    let stub = discord_gateway_stub::start().await;
    let running = run(settings(&stub));
    ready(&stub).await;
    let before = stub.heartbeats().len();
    stub.request_heartbeat();
    let beats = eventually("the requested heartbeat", || {
        let beats = stub.heartbeats();
        (beats.len() > before).then_some(beats)
    })
    .await;
    assert_eq!(beats.last().unwrap(), &json!(1), "READY's sequence");
    assert_eq!(running.shut_down().await, Ok(()));
}

#[tokio::test]
async fn a_persons_message_is_said_and_bots_webhooks_and_tocsins_own_are_not() {
    let stub = discord_gateway_stub::start().await;
    let running = run(settings(&stub));
    ready(&stub).await;

    let mut bot = message("11", "9000", "beep");
    bot["author"]["bot"] = true.into();
    let mut webhook = message("12", "9001", "from a webhook");
    webhook["webhook_id"] = "223704706495545344".into();
    for event in [
        message("10", "53908099506183680", "the database is on fire"),
        bot,
        webhook,
        message("13", stub.bot_user(), "Tocsin's own post"),
        message("14", "53908099506183680", "rolled back"),
    ] {
        stub.dispatch("MESSAGE_CREATE", event).unwrap();
    }

    let events = running.event("the last message", 2).await;
    let texts: Vec<(&str, &str)> = events.iter().map(said).collect();
    assert_eq!(
        texts,
        [("10", "the database is on fire"), ("14", "rolled back")]
    );
    let first = &events[0];
    assert_eq!(first.kind, GatewayEventKind::Said);
    assert_eq!(first.invocation.platform, "discord");
    assert_eq!(first.invocation.user, "53908099506183680");
    assert_eq!(first.invocation.channel, "290926798999357250");
    assert_eq!(
        first.invocation.delivery.as_deref(),
        Some("discord:message:10")
    );
    assert_eq!(first.invocation.groups, ["41771983423143936"]);
    assert_eq!(first.guild_id, stub.guild_id());
    assert_eq!(running.shut_down().await, Ok(()));
}

#[tokio::test]
async fn a_pushpin_reaction_is_a_pin_and_other_emoji_and_tocsins_own_are_not() {
    let stub = discord_gateway_stub::start().await;
    let running = run(settings(&stub));
    ready(&stub).await;

    for event in [
        reaction("80351110224678912", "🔥"),
        reaction(stub.bot_user(), "📌"),
        reaction("80351110224678912", "📌"),
    ] {
        stub.dispatch("MESSAGE_REACTION_ADD", event).unwrap();
    }

    let events = running.event("the pin", 1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let pin = &events[0];
    assert_eq!(pin.kind, GatewayEventKind::Pin);
    assert_eq!(
        pin.invocation.input,
        Input::Pin {
            message_id: "334385199974967042".into(),
            author: "53908099506183680".into(),
            text: String::new(),
        }
    );
    assert_eq!(
        (
            pin.invocation.user.as_str(),
            pin.invocation.channel.as_str()
        ),
        ("80351110224678912", "290926798999357250")
    );
    assert_eq!(
        pin.invocation.delivery.as_deref(),
        Some("discord:pin:290926798999357250:334385199974967042:80351110224678912")
    );
    assert_eq!(running.shut_down().await, Ok(()));
}

#[tokio::test]
async fn a_reconnect_request_resumes_the_session_on_its_resume_url() {
    let stub = discord_gateway_stub::start_with_heartbeat(HEARTBEAT).await;
    let running = run(settings(&stub));
    ready(&stub).await;
    let session = stub.session_id().unwrap();
    let seq = stub
        .dispatch(
            "MESSAGE_CREATE",
            message("20", "53908099506183680", "before"),
        )
        .unwrap();
    running.event("the message before", 1).await;

    stub.reconnect();
    let resume = eventually("a resume", || stub.resumes().first().cloned()).await;
    assert_eq!(
        resume,
        json!({ "token": stub.token(), "session_id": session, "seq": seq })
    );
    ready(&stub).await;
    let connections = stub.connections();
    assert_eq!(connections.len(), 2);
    let (old, new) = (&connections[0], &connections[1]);
    assert!(
        !matches!(old.client_close, Some(1000 | 1001)),
        "closed to resume, not to end the session: {:?}",
        old.client_close
    );
    assert_eq!(
        (new.via, new.query.as_str()),
        (Via::Resume, "v=10&encoding=json")
    );
    assert_eq!(stub.identifies().len(), 1, "resumed, not identified again");
    assert_eq!(stub.gateway_bot_calls(), 1);

    stub.dispatch(
        "MESSAGE_CREATE",
        message("21", "53908099506183680", "after"),
    )
    .unwrap();
    let events = running.event("the message after the resume", 2).await;
    assert_eq!(said(&events[1]), ("21", "after"));
    // Heartbeats on the new connection go on from the last sequence.
    let last = stub.last_seq().unwrap();
    eventually("a heartbeat with the resumed sequence", || {
        stub.connections()[1]
            .received
            .iter()
            .any(|p| p["op"] == 1 && p["d"] == last)
            .then_some(())
    })
    .await;
    assert_eq!(running.shut_down().await, Ok(()));
}

#[tokio::test]
async fn a_dropped_connection_resumes_and_gets_what_it_missed() {
    let stub = discord_gateway_stub::start().await;
    let running = run(settings(&stub));
    ready(&stub).await;

    stub.close(4000);
    eventually("the connection closed", || {
        (stub.open_connections() == 0).then_some(())
    })
    .await;
    // Said while the client was away: Discord replays it on resume.
    stub.dispatch(
        "MESSAGE_CREATE",
        message("30", "53908099506183680", "meanwhile"),
    )
    .unwrap();
    let events = running.event("the missed message", 1).await;
    assert_eq!(said(&events[0]), ("30", "meanwhile"));
    assert_eq!(stub.resumes()[0]["seq"], 1, "READY's sequence");
    assert_eq!(stub.replayed(), 1);
    assert_eq!(stub.identifies().len(), 1);
    assert_eq!(running.shut_down().await, Ok(()));
}

#[tokio::test]
async fn a_connection_whose_heartbeats_go_unanswered_is_replaced_and_resumed() {
    let stub = discord_gateway_stub::start_with_heartbeat(HEARTBEAT).await;
    let running = run(settings(&stub));
    ready(&stub).await;

    stub.pause_acks(true);
    let closed = eventually("the zombie connection closed by the client", || {
        stub.connections()[0].client_close
    })
    .await;
    assert!(!matches!(closed, 1000 | 1001), "{closed}");
    stub.pause_acks(false);

    eventually("a resume", || stub.resumes().first().cloned()).await;
    ready(&stub).await;
    assert_eq!(stub.identifies().len(), 1);
    stub.dispatch(
        "MESSAGE_CREATE",
        message("40", "53908099506183680", "still here"),
    )
    .unwrap();
    let events = running.event("a message on the new connection", 1).await;
    assert_eq!(said(&events[0]), ("40", "still here"));
    assert_eq!(running.shut_down().await, Ok(()));
}

#[tokio::test]
async fn an_invalid_session_that_cannot_resume_is_identified_anew() {
    let stub = discord_gateway_stub::start().await;
    let running = run(settings(&stub));
    ready(&stub).await;
    let first = stub.session_id().unwrap();

    stub.invalid_session(false);
    // Discord's advice is a random 1–5 s before identifying again.
    eventually("a second identify", || {
        (stub.identifies().len() == 2).then_some(())
    })
    .await;
    ready(&stub).await;
    assert!(stub.resumes().is_empty());
    assert_eq!(
        stub.gateway_bot_calls(),
        2,
        "a fresh URL for a fresh session"
    );
    assert_ne!(stub.session_id().unwrap(), first);

    stub.dispatch(
        "MESSAGE_CREATE",
        message("50", "53908099506183680", "new session"),
    )
    .unwrap();
    let events = running.event("a message in the new session", 1).await;
    assert_eq!(said(&events[0]), ("50", "new session"));
    assert_eq!(running.shut_down().await, Ok(()));
}

#[tokio::test]
async fn disallowed_intents_stop_the_client_with_what_to_fix() {
    let stub = discord_gateway_stub::start().await;
    stub.disallow_intents(MESSAGE_CONTENT);
    let running = run(settings(&stub));
    let logs = running.logs.clone();

    let ended = running.ended().await;
    let Err(GatewayError::Fatal { code: 4014, fix }) = &ended else {
        panic!("{ended:?}")
    };
    assert!(fix.contains("Message Content Intent"), "{fix}");
    assert!(
        logs.at(tracing::Level::ERROR)
            .iter()
            .any(|l| l.contains("Message Content Intent")),
        "{:?}",
        logs.at(tracing::Level::ERROR)
    );
    assert_eq!(stub.connections().len(), 1, "no reconnect");
    assert_eq!(stub.gateway_bot_calls(), 1);
    assert_eq!(stub.rejections().len(), 1, "{:?}", stub.rejections());
}

#[tokio::test]
async fn a_token_discord_refuses_stops_the_client_before_connecting() {
    let stub = discord_gateway_stub::start().await;
    let mut wrong = settings(&stub);
    wrong.token = "MTA0.not.this-bot".into();
    let ended = run(wrong).ended().await;
    assert_eq!(ended, Err(GatewayError::Unauthorized));
    assert!(stub.connections().is_empty());
    assert_eq!(stub.rejections(), ["GET /gateway/bot: 401 Unauthorized"]);
}

#[tokio::test]
async fn shutting_down_closes_with_1000_and_returns() {
    let stub = discord_gateway_stub::start_with_heartbeat(HEARTBEAT).await;
    let running = run(settings(&stub));
    ready(&stub).await;

    assert_eq!(running.shut_down().await, Ok(()));
    let connection = eventually("the connection closed", || {
        let c = stub.connections().remove(0);
        (!c.open).then_some(c)
    })
    .await;
    assert_eq!(connection.client_close, Some(1000));
    assert_eq!(stub.connections().len(), 1);
}
