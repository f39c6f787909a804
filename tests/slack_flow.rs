//! Slack end to end: the real `tocsin serve` binary on a temporary SQLite file, signed
//! requests as Slack sends them, and a stub Slack Web API on loopback that refuses any call
//! not in Slack's published OpenAPI description (adapters/tests/slack_stub). Through it: the
//! whole declare flow from a slash command, the Acknowledge button on an alert card (the
//! card updated in place), a modal that does not validate, and a 429 waited out.

mod support;

#[path = "../adapters/tests/slack_stub/mod.rs"]
mod slack_stub;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use adapters::slack::verify;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_tocsin");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tocsin.example.toml");
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const ALERTMANAGER_KEY: &str = "slack-flow-alertmanager-key";
/// alice's Slack id in tocsin.example.toml.
const ALICE: &str = "U0123ABC";

struct Tocsin {
    dir: tempfile::TempDir,
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Tocsin {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn serve(slack: &slack_stub::SlackStub) -> Tocsin {
    // The channels tocsin.example.toml posts to by name: announcements and alert cards.
    for name in ["incidents", "alerts"] {
        slack.add_channel(name);
    }
    let dir = tempfile::tempdir().unwrap();
    let config: PathBuf = dir.path().join("tocsin.toml");
    std::fs::copy(EXAMPLE, &config).unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .env("TOCSIN_CONFIG", &config)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("tocsin.db").display()),
        )
        .env("TOCSIN_LISTEN", "127.0.0.1:0")
        .env("SLACK_BOT_TOKEN", slack.token())
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("TOCSIN_SLACK_API_URL", slack.url())
        .env("CHECKOUT_ALERTMANAGER_KEY", ALERTMANAGER_KEY)
        .env_remove("RUST_LOG")
        .current_dir(dir.path());
    command.stderr(Stdio::null());
    let (child, base) = support::start_serving(command).await;
    Tocsin {
        dir,
        child,
        base,
        http: reqwest::Client::new(),
    }
}

impl Tocsin {
    /// POSTs `body` to `path` signed as Slack signs it, now.
    async fn signed(&self, path: &str, content_type: &str, body: String) -> (u16, String) {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = verify::sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    async fn slash(&self, user: &str, channel: &str, text: &str, trigger: &str) -> Value {
        let form = serde_urlencoded::to_string([
            ("team_id", "T0001"),
            ("channel_id", channel),
            ("user_id", user),
            ("command", "/incident"),
            ("text", text),
            ("response_url", "http://127.0.0.1:9/unused"),
            ("trigger_id", trigger),
        ])
        .unwrap();
        let (status, body) = self
            .signed("/slack/commands", "application/x-www-form-urlencoded", form)
            .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    async fn interaction(&self, payload: Value) -> (u16, String) {
        let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        self.signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            form,
        )
        .await
    }
}

fn text_of(v: &Value) -> String {
    v.to_string()
}

#[tokio::test]
async fn a_slash_command_declares_and_slack_gets_the_channel_people_topic_pinned_card_and_announcement()
 {
    let slack = slack_stub::start().await;
    // The first card post is rate limited: Tocsin waits the second Slack asks for and retries.
    slack.fail_next(
        "chat.postMessage",
        slack_stub::Failure::RateLimited {
            retry_after_secs: 1,
        },
    );
    let tocsin = serve(&slack).await;
    let reply = tocsin
        .slash(
            ALICE,
            "C0GENERAL",
            "declare sev2 Checkout is failing",
            "T-1",
        )
        .await;
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(
        text_of(&reply).contains("Declared INC-1 (sev2): Checkout is failing"),
        "{reply}"
    );
    // A retried delivery of the same command declares nothing more.
    let again = tocsin
        .slash(
            ALICE,
            "C0GENERAL",
            "declare sev2 Checkout is failing",
            "T-1",
        )
        .await;
    assert!(text_of(&again).contains("Declared INC-1"), "{again}");

    let (channel, _) = support::until("the incident channel", || {
        slack.channel_named("inc-1-checkout-is-failing")
    })
    .await;
    let pinned = support::until("the pinned card", || {
        slack
            .calls_to("pins.add")
            .into_iter()
            .find(|c| c["channel"] == channel.as_str())
    })
    .await;
    let created = slack.channel(&channel).unwrap();
    assert!(created.members.contains(ALICE), "{created:?}");
    assert!(
        created.topic.starts_with("INC-1 · sev2 · investigating"),
        "{created:?}"
    );
    let ts = pinned["timestamp"].as_str().unwrap().to_owned();
    let card = slack
        .message(&channel, &ts)
        .expect("the pinned card was posted");
    assert!(
        text_of(&card).contains("INC-1 Checkout is failing"),
        "{card}"
    );
    // The announcement, in #incidents; one channel and one card however often delivered,
    // and the 429 was answered by waiting.
    support::until("the announcement", || {
        slack
            .calls_to("chat.postMessage")
            .into_iter()
            .find(|c| c["channel"] == "incidents")
    })
    .await;
    assert_eq!(slack.calls_to("conversations.create").len(), 1);
    let posts_to_channel = slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| c["channel"] == channel.as_str())
        .count();
    assert_eq!(posts_to_channel, 2, "one rate limited, then the card once");
    assert_eq!(
        rejections(&slack),
        [("chat.postMessage".to_string(), "ratelimited".to_string())],
        "only the 429 we asked for"
    );
}

#[tokio::test]
async fn acknowledge_on_an_alert_card_updates_it_in_place_and_a_bad_modal_is_answered_in_the_modal()
{
    let slack = slack_stub::start().await;
    // Everyone in the example is on Slack, so whoever is on call now gets the page by DM.
    for (member, email) in [
        ("U0BOB", "bob@example.com"),
        ("U0CARLA", "carla@example.com"),
        ("U0DIETER", "dieter@example.com"),
    ] {
        slack.add_member(member, email);
    }
    let tocsin = serve(&slack).await;
    // Each is linked by e-mail before the alert: a command of their own links anyone the
    // look-ups at start have not reached yet.
    for (i, member) in ["U0BOB", "U0CARLA", "U0DIETER"].into_iter().enumerate() {
        let reply = tocsin
            .slash(member, "C0GENERAL", "list", &format!("T-link-{i}"))
            .await;
        assert!(!text_of(&reply).contains("not linked"), "{reply}");
    }
    let fixtures = std::env::var("TOCSIN_FIXTURES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures").to_owned());
    let body = std::fs::read(format!(
        "{fixtures}/alerts/alertmanager/webhook_v4_firing_2.json"
    ))
    .unwrap();
    let r = tocsin
        .http
        .post(format!(
            "{}/api/v1/integrations/{ALERTMANAGER_KEY}/alertmanager",
            tocsin.base
        ))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    // The alert card in #alerts, with its Acknowledge button carrying the alert id.
    let (card_call, ack) = support::until("an alert card with an Acknowledge button", || {
        slack
            .calls_to("chat.postMessage")
            .into_iter()
            .find_map(|c| {
                let blocks: Value = match &c["blocks"] {
                    Value::String(s) => serde_json::from_str(s).ok()?,
                    other => other.clone(),
                };
                let button = blocks
                    .as_array()?
                    .iter()
                    .filter(|b| b["type"] == "actions")
                    .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
                    .find(|e| e["action_id"] == "alert_ack")?;
                Some((c.clone(), button))
            })
    })
    .await;
    assert_eq!(card_call["channel"], "alerts");
    // The page: a direct message (conversations.open, then the card in that DM) with the
    // alert's Acknowledge and Escalate buttons, which act for whoever presses them.
    let page = support::until("the page by direct message", || {
        slack.calls_to("chat.postMessage").into_iter().find(|c| {
            c["channel"].as_str().is_some_and(|ch| ch.starts_with('D'))
                && text_of(c).contains("You are paged")
        })
    })
    .await;
    for action in ["alert_ack", "alert_escalate"] {
        assert!(text_of(&page).contains(action), "{action} missing: {page}");
    }
    assert!(!slack.calls_to("conversations.open").is_empty());
    let before_updates = slack.calls_to("chat.update").len();
    let (status, _) = tocsin
        .interaction(json!({
            "type": "block_actions",
            "user": { "id": ALICE, "username": "alice", "team_id": "T0001" },
            "api_app_id": "A0TOCSIN",
            "token": "legacy",
            "container": { "type": "message", "channel_id": "C0ALERTS", "is_ephemeral": false },
            "trigger_id": "T-2",
            "team": { "id": "T0001", "domain": "example" },
            "channel": { "id": "C0ALERTS", "name": "alerts" },
            "response_url": slack.response_url("ack-1"),
            "actions": [{
                "type": "button",
                "action_id": "alert_ack",
                "block_id": "actions",
                "value": ack["value"],
                "action_ts": "1700000000.000100"
            }]
        }))
        .await;
    assert_eq!(status, 200);
    let updated = support::until("the card updated in place", || {
        let updates = slack.calls_to("chat.update");
        (updates.len() > before_updates).then(|| updates.last().cloned().unwrap())
    })
    .await;
    assert!(
        text_of(&updated).contains("Acknowledged by user:alice")
            || text_of(&updated).contains("acknowledged"),
        "{updated}"
    );
    let answered = support::until("the reply on the response URL", || {
        slack.responses().into_iter().find(|r| r.id == "ack-1")
    })
    .await;
    assert!(answered.authorization.is_none());
    assert!(
        text_of(&answered.body).contains("Acknowledged"),
        "{:?}",
        answered.body
    );

    // The declare modal submitted without a title: the error is shown in the modal.
    let (status, body) = tocsin
        .interaction(json!({
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
        }))
        .await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response_action"], "errors");
    assert!(answer["errors"]["title"].is_string(), "{answer}");
    assert!(rejections(&slack).is_empty(), "{:?}", rejections(&slack));
}

#[tokio::test]
async fn a_member_not_in_the_file_is_linked_by_e_mail_and_can_act() {
    let slack = slack_stub::start().await;
    // dieter is looked up by address when Tocsin starts, before he types anything.
    slack.add_member("U0DIETER", "dieter@example.com");
    let tocsin = serve(&slack).await;
    // At start everyone with an address and no Slack id in the file is looked up: bob,
    // carla, dieter and erin.
    support::until("the look-ups at start", || {
        (slack.calls_to("users.lookupByEmail").len() == 4).then_some(())
    })
    .await;
    // carla joins the workspace later (no Slack id in tocsin.example.toml either): her
    // first command finds her by the address Slack has for her.
    slack.add_member("U0CARLA", "Carla@Example.com");
    let reply = tocsin
        .slash("U0CARLA", "C0GENERAL", "declare sev3 Search is slow", "T-9")
        .await;
    assert!(
        text_of(&reply).contains("Declared INC-1 (sev3): Search is slow"),
        "{reply}"
    );
    assert_eq!(slack.calls_to("users.info").len(), 1);
    // Linked now: no second lookup.
    let reply = tocsin.slash("U0CARLA", "C0GENERAL", "list", "T-10").await;
    assert!(text_of(&reply).contains("INC-1"), "{reply}");
    assert_eq!(slack.calls_to("users.info").len(), 1);
    let mut added = Value::Null;
    for attempt in 0..100 {
        added = tocsin
            .slash(
                "U0CARLA",
                "C0GENERAL",
                "responders add INC-1 <@U0DIETER|dieter>",
                &format!("T-add-{attempt}"),
            )
            .await;
        if text_of(&added).contains("dieter joined INC-1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(text_of(&added).contains("dieter joined INC-1"), "{added}");
    let (channel, _) = support::until("the incident channel", || {
        slack.channel_named("inc-1-search-is-slow")
    })
    .await;
    support::until("dieter invited", || {
        slack
            .channel(&channel)
            .filter(|c| c.members.contains("U0DIETER"))
    })
    .await;
    // Someone Slack knows but the directory does not: told how to link.
    slack.add_member("U0STRANGER", "stranger@elsewhere.example");
    let reply = tocsin
        .slash("U0STRANGER", "C0GENERAL", "declare sev3 Nope", "T-11")
        .await;
    assert!(
        text_of(&reply).contains("not linked to a Tocsin user"),
        "{reply}"
    );
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

#[tokio::test]
async fn a_pushpin_on_a_message_records_its_text_read_back_from_slack() {
    let slack = slack_stub::start().await;
    let tocsin = serve(&slack).await;
    let reply = tocsin
        .slash(ALICE, "C0GENERAL", "declare sev3 Queue is stuck", "T-pin")
        .await;
    assert!(text_of(&reply).contains("Declared INC-1"), "{reply}");
    let (channel, _) = support::until("the incident channel", || {
        slack.channel_named("inc-1-queue-is-stuck")
    })
    .await;
    let said = slack.add_message(&channel, "U0BOB", "Restarted the consumers");
    let event = json!({
        "token": "legacy",
        "team_id": "T0001",
        "api_app_id": "A0TOCSIN",
        "type": "event_callback",
        "event_id": "Ev0PINFLOW",
        "event_time": 1_700_000_000,
        "event": {
            "type": "reaction_added",
            "user": ALICE,
            "reaction": "pushpin",
            "item_user": "U0BOB",
            "item": { "type": "message", "channel": channel, "ts": said },
            "event_ts": "1700000001.000100"
        }
    });
    let (status, _) = tocsin
        .signed("/slack/events", "application/json", event.to_string())
        .await;
    assert_eq!(status, 200);
    let token = support::api_token(tocsin.dir.path()).await;
    let timeline = support::timeline_once(
        &tocsin.base,
        &token,
        "the pinned text in the timeline",
        |t| {
            t.as_array()
                .is_some_and(|entries| entries.iter().any(|e| e["kind"] == "chat_message"))
        },
    )
    .await;
    assert!(
        text_of(&timeline).contains("Restarted the consumers"),
        "{timeline}"
    );
    assert!(
        !text_of(&timeline).contains("(pinned message"),
        "{timeline}"
    );
    assert_eq!(slack.calls_to("conversations.history").len(), 1);
    assert!(rejections(&slack).is_empty(), "{:?}", rejections(&slack));
}

#[tokio::test]
async fn update_status_page_on_an_alert_card_opens_a_modal_that_publishes_a_public_incident() {
    let slack = slack_stub::start().await;
    let tocsin = serve(&slack).await;
    let fixtures = std::env::var("TOCSIN_FIXTURES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures").to_owned());
    let body = std::fs::read(format!(
        "{fixtures}/alerts/alertmanager/webhook_v4_firing_2.json"
    ))
    .unwrap();
    let r = tocsin
        .http
        .post(format!(
            "{}/api/v1/integrations/{ALERTMANAGER_KEY}/alertmanager",
            tocsin.base
        ))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    // tocsin.example.toml has status page components, so the card has the button.
    let button = support::until("an alert card with an Update status page button", || {
        slack
            .calls_to("chat.postMessage")
            .into_iter()
            .find_map(|c| {
                let blocks: Value = match &c["blocks"] {
                    Value::String(s) => serde_json::from_str(s).ok()?,
                    other => other.clone(),
                };
                blocks
                    .as_array()?
                    .iter()
                    .filter(|b| b["type"] == "actions")
                    .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
                    .find(|e| e["action_id"] == "statuspage_alert_form")
            })
    })
    .await;
    let (status, _) = tocsin
        .interaction(json!({
            "type": "block_actions",
            "user": { "id": ALICE, "username": "alice", "team_id": "T0001" },
            "api_app_id": "A0TOCSIN",
            "token": "legacy",
            "container": { "type": "message", "channel_id": "C0ALERTS", "is_ephemeral": false },
            "trigger_id": "T-form",
            "team": { "id": "T0001", "domain": "example" },
            "channel": { "id": "C0ALERTS", "name": "alerts" },
            "response_url": slack.response_url("form-1"),
            "actions": [{
                "type": "button",
                "action_id": "statuspage_alert_form",
                "block_id": "actions",
                "value": button["value"],
                "action_ts": "1700000000.000100"
            }]
        }))
        .await;
    assert_eq!(status, 200);
    let opened = support::until("the form opened with views.open", || {
        slack.calls_to("views.open").into_iter().next()
    })
    .await;
    let view: Value = match &opened["view"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        other => other.clone(),
    };
    let callback = view["callback_id"].as_str().unwrap().to_owned();
    assert!(callback.starts_with("statuspage_alert:"), "{view}");
    assert_eq!(opened["trigger_id"], "T-form");

    let (status, body) = tocsin
        .interaction(json!({
            "type": "view_submission",
            "user": { "id": ALICE },
            "team": { "id": "T0001" },
            "view": {
                "id": "V2",
                "type": "modal",
                "callback_id": callback,
                "private_metadata": "C0ALERTS",
                "state": { "values": {
                    "title": { "title": { "type": "plain_text_input",
                        "value": "Checkout is slow for some customers" } },
                    "component": { "component": { "type": "static_select",
                        "selected_option": { "value": "checkout" } } },
                    "state": { "state": { "type": "static_select",
                        "selected_option": { "value": "degraded_performance" } } },
                    "text": { "text": { "type": "plain_text_input",
                        "value": "Some payments take longer than usual." } }
                } }
            }
        }))
        .await;
    assert_eq!(status, 200, "{body}");
    // The public page's JSON shows it, as any Statuspage reader would see it.
    let summary: Value = tocsin
        .http
        .get(format!("{}/status/api/v2/summary.json", tocsin.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let incidents = summary["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{summary}");
    assert_eq!(incidents[0]["name"], "Checkout is slow for some customers");
    assert_eq!(incidents[0]["impact"], "minor");
    assert_eq!(
        incidents[0]["incident_updates"][0]["body"],
        "Some payments take longer than usual."
    );
    let checkout = summary["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Checkout")
        .unwrap();
    assert_eq!(checkout["status"], "degraded_performance");
    assert!(rejections(&slack).is_empty(), "{:?}", rejections(&slack));
}
