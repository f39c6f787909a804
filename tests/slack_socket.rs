//! Slack over Socket Mode, end to end: the real `tocsin serve` binary with `SLACK_APP_TOKEN`
//! and no `SLACK_SIGNING_SECRET`, against the stub Slack (adapters/tests/slack_stub), which
//! hands out WebSocket URLs from `apps.connections.open` and speaks Socket Mode on
//! loopback. Through it: a slash command envelope declares and its acknowledgement carries
//! the answer, a redelivered event changes the timeline once, and a `disconnect` is
//! followed by a new connection that keeps working, down to a modal's field errors in an
//! acknowledgement, until SIGTERM closes it.

mod support;

#[path = "../adapters/tests/slack_stub/mod.rs"]
mod slack_stub;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use bot_core::model::{Subject, TimelineKind};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_tocsin");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tocsin.example.toml");
/// alice's Slack id in tocsin.example.toml.
const ALICE: &str = "U0123ABC";
const PATIENCE: Duration = Duration::from_secs(30);

struct Tocsin {
    dir: tempfile::TempDir,
    child: Child,
    base: String,
}

impl Drop for Tocsin {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Tocsin {
    fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("tocsin.db").display())
    }
}

/// `tocsin serve` in Socket Mode against `slack`, connected.
async fn serve(slack: &slack_stub::SlackStub) -> Tocsin {
    let tocsin = start(slack, None).await;
    support::until("the Socket Mode connection", || {
        (slack.open_sockets() == 1).then_some(())
    })
    .await;
    tocsin
}

/// `tocsin serve` in Socket Mode against `slack`, on its own SQLite file or on
/// `database_url`; not waiting for the connection.
async fn start(slack: &slack_stub::SlackStub, database_url: Option<&str>) -> Tocsin {
    for name in ["incidents", "alerts"] {
        slack.add_channel(name);
    }
    let dir = tempfile::tempdir().unwrap();
    let config: PathBuf = dir.path().join("tocsin.toml");
    std::fs::copy(EXAMPLE, &config).unwrap();
    let mut command = Command::new(BIN);
    let database_url = database_url.map_or_else(
        || format!("sqlite://{}", dir.path().join("tocsin.db").display()),
        str::to_owned,
    );
    command
        .arg("serve")
        .env("TOCSIN_CONFIG", &config)
        .env("DATABASE_URL", database_url)
        .env("TOCSIN_LISTEN", "127.0.0.1:0")
        .env("SLACK_BOT_TOKEN", slack.token())
        .env("SLACK_APP_TOKEN", slack.app_token())
        .env_remove("SLACK_SIGNING_SECRET")
        .env("TOCSIN_SLACK_API_URL", slack.url())
        .env_remove("RUST_LOG")
        .current_dir(dir.path());
    command.stderr(Stdio::null());
    let (child, base) = support::start_serving(command).await;
    Tocsin { dir, child, base }
}

/// A slash command's payload as Socket Mode delivers it (the form's fields, as JSON).
fn slash(user: &str, channel: &str, text: &str, trigger: &str) -> Value {
    json!({
        "token": "legacy",
        "team_id": "T0001",
        "team_domain": "example",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": "alice",
        "command": "/incident",
        "text": text,
        "api_app_id": "A0TOCSIN",
        "is_enterprise_install": false,
        "response_url": "http://127.0.0.1:9/unused",
        "trigger_id": trigger,
    })
}

fn fixture_json(path: &str) -> Value {
    let dir = std::env::var("TOCSIN_FIXTURES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures").to_owned());
    let path = format!("{dir}/slack/{path}");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Pushes an envelope and waits for its acknowledgement.
async fn acknowledged(slack: &slack_stub::SlackStub, kind: &str, payload: Value) -> Value {
    let envelope_id = slack.push(kind, payload);
    let ack = support::until(&format!("the acknowledgement of {envelope_id}"), || {
        slack.ack(&envelope_id)
    })
    .await;
    assert_eq!(ack["envelope_id"], envelope_id.as_str());
    ack
}

#[tokio::test]
async fn a_slash_command_envelope_declares_and_a_redelivered_event_changes_the_timeline_once() {
    let slack = slack_stub::start().await;
    let tocsin = serve(&slack).await;

    let ack = acknowledged(
        &slack,
        "slash_commands",
        slash(
            ALICE,
            "C0GENERAL",
            "declare sev2 Checkout is failing",
            "T-1",
        ),
    )
    .await;
    assert_eq!(ack["payload"]["response_type"], "ephemeral", "{ack}");
    assert!(
        ack["payload"]
            .to_string()
            .contains("Declared INC-1 (sev2): Checkout is failing"),
        "{ack}"
    );
    let (channel, created) = support::until("the incident channel", || {
        slack.channel_named("inc-1-checkout-is-failing")
    })
    .await;
    support::until("alice invited", || {
        slack
            .channel(&channel)
            .filter(|c| c.members.contains(ALICE))
    })
    .await;
    assert_eq!(created.name, "inc-1-checkout-is-failing");

    // A mention in the incident channel, delivered twice with the same event id (Slack's
    // redelivery comes in a new envelope with `retry_attempt`).
    let mut event = fixture_json("events/event_callback_app_mention.json");
    event["event_id"] = "Ev0SOCKET01".into();
    event["event"]["user"] = ALICE.into();
    event["event"]["channel"] = channel.clone().into();
    event["event"]["text"] = "<@U0LAN0Z89> timeline add rolled back the deploy".into();
    let ack = acknowledged(&slack, "events_api", event.clone()).await;
    assert_eq!(
        ack,
        json!({ "envelope_id": ack["envelope_id"] }),
        "no payload for events"
    );

    let store = tocsin::app::open_store(&tocsin.database_url())
        .await
        .unwrap();
    let incident = store.get_incident_by_number(1).await.unwrap();
    let notes = || async {
        store
            .timeline(Subject::Incident(incident.id))
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == TimelineKind::Note)
            .map(|e| e.text)
            .collect::<Vec<_>>()
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while notes().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the note never came"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let key_seen = || async {
        store
            .delivery_seen("slack:event:Ev0SOCKET01")
            .await
            .unwrap()
    };
    while !key_seen().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delivery was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let redelivery = slack.push_envelope_with_retry("events_api", event, 1, "timeout");
    support::until("the redelivery's acknowledgement", || {
        slack.ack(&redelivery)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        notes().await,
        ["rolled back the deploy"],
        "one note for two deliveries of one event"
    );

    // Without a signing secret the HTTP routes stay closed: Socket Mode is the way in.
    let status = reqwest::Client::new()
        .post(format!("{}/slack/commands", tocsin.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("command=%2Fincident&text=help")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
    assert!(
        slack.socket_frames().is_empty(),
        "{:?}",
        slack.socket_frames()
    );
    assert!(rejections(&slack).is_empty(), "{:?}", rejections(&slack));
}

#[tokio::test]
async fn after_a_disconnect_the_bot_reconnects_and_keeps_answering_commands_and_modals() {
    let slack = slack_stub::start().await;
    let mut tocsin = serve(&slack).await;
    assert_eq!(slack.calls_to("apps.connections.open").len(), 1);

    slack.disconnect("refresh_requested");
    support::until("a second connection", || {
        (slack.socket_connections() == 2 && slack.open_sockets() == 1).then_some(())
    })
    .await;
    assert_eq!(slack.calls_to("apps.connections.open").len(), 2);

    let ack = acknowledged(
        &slack,
        "slash_commands",
        slash(ALICE, "C0GENERAL", "declare sev3 Search is slow", "T-2"),
    )
    .await;
    assert!(
        ack["payload"]
            .to_string()
            .contains("Declared INC-1 (sev3): Search is slow"),
        "{ack}"
    );
    support::until("the incident channel", || {
        slack.channel_named("inc-1-search-is-slow")
    })
    .await;

    // A declare modal submitted without a title: its errors travel in the acknowledgement,
    // as they would in the HTTP answer.
    let ack = acknowledged(
        &slack,
        "interactive",
        json!({
            "type": "view_submission",
            "user": { "id": ALICE },
            "team": { "id": "T0001" },
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": "declare",
                "private_metadata": "C0GENERAL",
                "state": { "values": {
                    "title": { "title": { "type": "plain_text_input", "value": null } },
                    "severity": { "severity": { "type": "static_select",
                        "selected_option": { "value": "sev2" } } }
                } }
            }
        }),
    )
    .await;
    assert_eq!(ack["payload"]["response_action"], "errors", "{ack}");
    assert!(ack["payload"]["errors"]["title"].is_string(), "{ack}");
    assert!(rejections(&slack).is_empty(), "{:?}", rejections(&slack));

    // SIGTERM closes the connection and the process ends.
    let pid = tocsin
        .child
        .id()
        .expect("tocsin serve is running")
        .to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let exited = tokio::time::timeout(PATIENCE, tocsin.child.wait())
        .await
        .expect("tocsin serve stops on SIGTERM")
        .unwrap();
    assert!(exited.success(), "{exited:?}");
    support::until("the connection closed", || {
        (slack.open_sockets() == 0).then_some(())
    })
    .await;
}

/// What the stub refused, but for `users_not_found`: Slack's answer when Tocsin looks up a
/// directory user's e-mail that is not in the workspace, which it does for everyone at start.
fn rejections(slack: &slack_stub::SlackStub) -> Vec<(String, String)> {
    slack
        .rejections()
        .into_iter()
        .filter(|(_, error)| error != "users_not_found")
        .collect()
}

/// Three replicas on one PostgreSQL: one holds the Socket Mode connection; when it dies
/// another takes over within seconds, and commands keep being answered.
#[tokio::test]
async fn on_postgresql_one_replica_holds_the_connection_and_another_takes_over() {
    support::db::on(support::db::Backend::Postgres, |db| async move {
        let slack = slack_stub::start().await;
        let mut replicas = Vec::new();
        for _ in 0..3 {
            replicas.push(start(&slack, Some(&db.url)).await);
        }
        support::until("one connection", || {
            (slack.open_sockets() == 1).then_some(())
        })
        .await;
        // The others wait: still one connection a few look-ups later.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(slack.open_sockets(), 1);
        assert_eq!(slack.socket_connections(), 1);

        // Kill every replica in turn until the leader is gone: the connection drops and
        // another replica opens its own.
        let mut killed = 0;
        while slack.socket_connections() == 1 {
            let mut victim = replicas.remove(0);
            victim.child.kill().await.unwrap();
            killed += 1;
            let took_over = tokio::time::timeout(Duration::from_secs(15), async {
                loop {
                    if slack.socket_connections() >= 2 && slack.open_sockets() == 1 {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await;
            if took_over.is_ok() {
                break;
            }
            assert!(killed < 3, "no replica took over");
        }
        assert_eq!(slack.open_sockets(), 1, "one connection at a time");
        let envelope = slack.push("slash_commands", slash(ALICE, "C0GENERAL", "help", "T-ha"));
        let ack = support::until("the new leader's answer", || slack.ack(&envelope)).await;
        assert!(ack["payload"].to_string().contains("incident"), "{ack}");
    })
    .await;
}
