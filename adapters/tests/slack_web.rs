//! The Slack client over real HTTP against a stub of Slack's Web API on loopback (see
//! `slack_stub`), which answers from Slack's own OpenAPI description and recorded
//! responses in the shared fixtures and refuses what Slack would refuse.

mod slack_stub;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use adapters::slack::client::{SlackClient, SlackSettings};
use adapters::slack::render;
use bot_core::chat::{
    Button, ButtonStyle, ChatError, ChatPlatform, Dialog, DialogField, DialogFieldKind, Field,
    Message, Tone,
};
use bot_core::jobs::JobError;
use serde_json::{Value, json};
use slack_stub::{Failure, SlackStub};

fn client(stub: &SlackStub) -> SlackClient {
    client_with_token(stub, stub.token())
}

fn client_with_token(stub: &SlackStub, token: &str) -> SlackClient {
    SlackClient::new(SlackSettings {
        token: token.into(),
        api_url: stub.url(),
        announcements_channel: Some("#incidents".into()),
    })
    .expect("a client")
}

fn card(status: &str) -> Message {
    Message {
        title: Some("INC-42 Checkout is failing".into()),
        tone: Some(Tone::Critical),
        fields: vec![
            Field {
                label: "Severity".into(),
                value: "sev1".into(),
            },
            Field {
                label: "Status".into(),
                value: status.into(),
            },
        ],
        text: vec!["Errors > 50% since 10:00".into()],
        buttons: vec![
            Button {
                action: "status".into(),
                value: "inc-42".into(),
                label: "Show status".into(),
                style: ButtonStyle::Default,
            },
            Button {
                action: "resolve".into(),
                value: "inc-42".into(),
                label: "Resolve".into(),
                style: ButtonStyle::Danger,
            },
        ],
        context: Some("Declared by alice at 2026-11-24 10:00 UTC".into()),
    }
}

fn methods(stub: &SlackStub) -> Vec<String> {
    stub.calls().into_iter().map(|(m, _)| m).collect()
}

fn refused(code: &str) -> impl Fn(&ChatError) -> bool + '_ {
    move |e| matches!(e, ChatError::Refused(c) if c == code)
}

#[tokio::test]
async fn create_channel_creates_it_and_sets_the_topic() {
    let stub = slack_stub::start().await;
    let slack = client(&stub);
    let channel = slack
        .create_channel(
            "inc-42-checkout-is-failing",
            "INC-42 · sev1 · investigating",
        )
        .await
        .expect("created");
    assert_eq!(channel.platform, "slack");
    assert_eq!(channel.name, "inc-42-checkout-is-failing");
    assert_eq!(
        stub.channel(&channel.channel_id)
            .expect("on the stub")
            .topic,
        "INC-42 · sev1 · investigating"
    );
    assert_eq!(
        methods(&stub),
        ["conversations.create", "conversations.setTopic"]
    );
    assert_eq!(
        stub.calls_to("conversations.create")[0]["name"],
        "inc-42-checkout-is-failing"
    );
    assert_eq!(
        stub.calls_to("conversations.setTopic")[0]["channel"],
        channel.channel_id.as_str()
    );
    assert_eq!(stub.rejections(), []);
}

#[tokio::test]
async fn a_taken_channel_name_gets_a_numbered_suffix() {
    let stub = slack_stub::start().await;
    stub.add_channel("inc-7-db-is-down");
    stub.add_channel("inc-7-db-is-down-2");
    let slack = client(&stub);
    let channel = slack
        .create_channel("inc-7-db-is-down", "INC-7")
        .await
        .expect("created");
    assert_eq!(channel.name, "inc-7-db-is-down-3");
    assert_eq!(
        stub.channel_named("inc-7-db-is-down-3").map(|(id, _)| id),
        Some(channel.channel_id)
    );
    let tried: Vec<Value> = stub
        .calls_to("conversations.create")
        .into_iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(
        tried,
        [
            "inc-7-db-is-down",
            "inc-7-db-is-down-2",
            "inc-7-db-is-down-3"
        ]
    );

    // Only so many tries.
    for n in 4..=5 {
        stub.add_channel(&format!("inc-7-db-is-down-{n}"));
    }
    stub.add_channel("inc-8");
    for n in 2..=5 {
        stub.add_channel(&format!("inc-8-{n}"));
    }
    let err = slack
        .create_channel("inc-8", "")
        .await
        .expect_err("all taken");
    assert!(refused("name_taken")(&err), "{err:?}");
}

#[tokio::test]
async fn invite_sends_everyone_at_once_and_tolerates_members_and_the_bot() {
    let stub = slack_stub::start().await;
    let slack = client(&stub);
    let channel = slack.create_channel("inc-1", "").await.expect("created");
    let id = channel.channel_id;

    slack
        .invite(&id, &["U0ALICE".into(), "U0BOB".into(), "U0ALICE".into()])
        .await
        .expect("invited");
    assert_eq!(stub.calls_to("conversations.invite").len(), 1);
    assert_eq!(
        stub.calls_to("conversations.invite")[0]["users"],
        "U0ALICE,U0BOB"
    );

    // Bob is in already and the bot cannot invite itself: Slack refuses the whole list,
    // so each is invited on their own.
    slack
        .invite(&id, &["U0BOB".into(), "U0CAROL".into(), stub.bot_user()])
        .await
        .expect("invited");
    let members = stub.channel(&id).expect("channel").members;
    let expected: BTreeSet<String> = ["U0ALICE", "U0BOB", "U0CAROL"]
        .into_iter()
        .map(String::from)
        .chain([stub.bot_user()])
        .collect();
    assert_eq!(members, expected);
    let rejected: Vec<String> = stub.rejections().into_iter().map(|(_, e)| e).collect();
    assert_eq!(
        rejected,
        [
            "already_in_channel",
            "already_in_channel",
            "cant_invite_self"
        ]
    );

    slack
        .invite(&id, &["U0BOB".into()])
        .await
        .expect("a member already");
    let before = stub.calls().len();
    slack.invite(&id, &[]).await.expect("nobody to invite");
    assert_eq!(stub.calls().len(), before, "no call for nobody");

    let err = slack
        .invite("#no-such-channel", &["U0BOB".into()])
        .await
        .expect_err("no such channel");
    assert!(refused("channel_not_found")(&err), "{err:?}");
}

#[tokio::test]
async fn set_topic_sets_it_within_slacks_limit() {
    let stub = slack_stub::start().await;
    let slack = client(&stub);
    slack
        .set_topic("C0TOPIC1", "INC-3 · sev2 · identified")
        .await
        .expect("set");
    assert_eq!(
        stub.channel("C0TOPIC1").expect("channel").topic,
        "INC-3 · sev2 · identified"
    );
    slack
        .set_topic("C0TOPIC1", &"x".repeat(300))
        .await
        .expect("set, shortened");
    assert_eq!(
        stub.channel("C0TOPIC1")
            .expect("channel")
            .topic
            .chars()
            .count(),
        250
    );
}

#[tokio::test]
async fn a_card_is_posted_updated_in_place_and_pinned() {
    let stub = slack_stub::start().await;
    let slack = client(&stub);
    let channel = "C0CARDS1";
    let ts = slack
        .post_message(channel, &card("investigating"))
        .await
        .expect("posted");
    assert!(
        !ts.contains(':'),
        "a message in the channel asked for is its ts: {ts}"
    );
    let posted = stub.message(channel, &ts).expect("on the stub");
    assert_eq!(
        posted["blocks"],
        render::message(&card("investigating"))["blocks"]
    );
    assert_eq!(
        posted["text"],
        render::message(&card("investigating"))["text"]
    );

    slack
        .update_message(channel, &ts, &card("resolved"))
        .await
        .expect("updated");
    let update = &stub.calls_to("chat.update")[0];
    assert_eq!(update["channel"], channel);
    assert_eq!(update["ts"], ts.as_str());
    assert_eq!(
        stub.message(channel, &ts).expect("on the stub")["blocks"],
        render::message(&card("resolved"))["blocks"]
    );

    slack.pin(channel, &ts).await.expect("pinned");
    assert!(stub.pinned(channel, &ts));
    slack
        .pin(channel, &ts)
        .await
        .expect("pinned already is fine");
    assert_eq!(
        stub.calls_to("pins.add")[0],
        json!({ "channel": channel, "timestamp": ts })
    );

    let err = slack
        .update_message(channel, "1.000000", &card("x"))
        .await
        .expect_err("never posted");
    assert!(refused("message_not_found")(&err), "{err:?}");
}

#[tokio::test]
async fn an_announcement_posted_by_channel_name_is_updated_by_channel_id() {
    let stub = slack_stub::start().await;
    let announcements = stub.add_channel("incidents");
    let slack = client(&stub);
    let target = slack.announcements_channel().expect("configured");
    assert_eq!(target, "#incidents");

    let id = slack
        .post_message(&target, &card("investigating"))
        .await
        .expect("posted");
    let (channel, ts) = id.split_once(':').expect("the id names the channel");
    assert_eq!(channel, announcements);
    slack
        .update_message(&target, &id, &card("monitoring"))
        .await
        .expect("updated");
    assert_eq!(stub.calls_to("chat.update")[0]["channel"], announcements);
    slack.pin(&target, &id).await.expect("pinned");
    assert!(stub.pinned(&announcements, ts));
}

#[tokio::test]
async fn send_dm_opens_the_conversation_then_posts_into_it() {
    let stub = slack_stub::start().await;
    let slack = client(&stub);
    let page = Message {
        text: vec!["You are paged (level 1).".into()],
        ..card("open")
    };
    let id = slack.send_dm("U0ALICE", &page).await.expect("sent");
    assert_eq!(methods(&stub), ["conversations.open", "chat.postMessage"]);
    assert_eq!(stub.calls_to("conversations.open")[0]["users"], "U0ALICE");
    let dm = stub.dm_channel("U0ALICE").expect("a DM was opened");
    assert_eq!(stub.calls_to("chat.postMessage")[0]["channel"], dm.as_str());
    let (channel, ts) = id.split_once(':').expect("channel:ts");
    assert_eq!(channel, dm);
    assert!(stub.message(&dm, ts).is_some());

    // Updated by the id alone, whatever channel comes with it.
    slack
        .update_message("U0ALICE", &id, &Message::text("Acknowledged by alice"))
        .await
        .expect("updated");
    assert_eq!(stub.calls_to("chat.update")[0]["channel"], dm.as_str());
    assert_eq!(stub.calls_to("chat.update")[0]["ts"], ts);
}

#[tokio::test]
async fn modals_ephemeral_messages_and_response_urls() {
    let stub = slack_stub::start().await;
    let slack = client(&stub);
    let dialog = Dialog {
        id: "declare".into(),
        title: "Declare an incident".into(),
        submit_label: "Declare".into(),
        fields: vec![DialogField {
            name: "title".into(),
            label: "Title".into(),
            kind: DialogFieldKind::Text { max_length: 150 },
            required: true,
            initial: None,
            placeholder: None,
        }],
    };
    let view = render::modal(&dialog, "C0WAR1");
    slack
        .open_view("12345.98765.abcd", &view)
        .await
        .expect("opened");
    let opened = &stub.calls_to("views.open")[0];
    assert_eq!(opened["trigger_id"], "12345.98765.abcd");
    assert_eq!(opened["view"], view);

    slack
        .post_ephemeral("C0WAR1", "U0ALICE", &Message::text("Only you can see this"))
        .await
        .expect("posted");
    let ephemeral = &stub.calls_to("chat.postEphemeral")[0];
    assert_eq!(ephemeral["channel"], "C0WAR1");
    assert_eq!(ephemeral["user"], "U0ALICE");
    assert_eq!(ephemeral["text"], "Only you can see this");

    let mut body = render::message(&Message::text("Declared INC-43"));
    body["response_type"] = "in_channel".into();
    slack
        .respond(&stub.response_url("T1-123-abc"), &body)
        .await
        .expect("responded");
    let responses = stub.responses();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].id, "T1-123-abc");
    assert_eq!(responses[0].body, body);
    assert_eq!(
        responses[0].authorization, None,
        "the bot token never goes to a response URL"
    );

    stub.fail_next("response_url", Failure::Status(404));
    let err = slack
        .respond(&stub.response_url("expired"), &body)
        .await
        .expect_err("expired");
    assert!(matches!(err, ChatError::Refused(_)), "{err:?}");
    let err = slack
        .respond("file:///etc/passwd", &body)
        .await
        .expect_err("not http");
    assert!(matches!(err, ChatError::Refused(_)), "{err:?}");
    assert_eq!(stub.responses().len(), 2);
}

#[tokio::test]
async fn a_429_becomes_rate_limited_with_its_retry_after() {
    let stub = slack_stub::start().await;
    let slack = client(&stub);
    stub.fail_next(
        "chat.postMessage",
        Failure::RateLimited {
            retry_after_secs: 30,
        },
    );
    let err = slack
        .post_message("C0BUSY1", &Message::text("hello"))
        .await
        .expect_err("rate limited");
    assert!(
        matches!(err, ChatError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(30)),
        "{err:?}"
    );
    match JobError::from(err) {
        JobError::Retry { after, .. } => assert_eq!(after, Some(Duration::from_secs(30))),
        other => panic!("a rate limit is retried: {other:?}"),
    }
    slack
        .post_message("C0BUSY1", &Message::text("hello"))
        .await
        .expect("the next call goes through");

    // `ratelimited` in an HTTP 200 answer, without a delay.
    stub.fail_next(
        "conversations.setTopic",
        Failure::Error("ratelimited".into()),
    );
    let err = slack
        .set_topic("C0BUSY1", "t")
        .await
        .expect_err("rate limited");
    assert!(
        matches!(err, ChatError::RateLimited { retry_after: None }),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_tokens_are_refused_and_outages_are_unavailable() {
    let stub = slack_stub::start().await;
    let wrong = client_with_token(&stub, "xoxb-not-the-token");
    let err = wrong
        .post_message("C0AUTH1", &Message::text("hi"))
        .await
        .expect_err("wrong token");
    assert!(refused("invalid_auth")(&err), "{err:?}");
    assert!(matches!(JobError::from(err), JobError::Permanent(_)));
    assert_eq!(
        stub.rejections(),
        [("chat.postMessage".to_owned(), "invalid_auth".to_owned())]
    );

    let slack = client(&stub);
    stub.fail_next("chat.update", Failure::Error("invalid_auth".into()));
    let err = slack
        .update_message("C0AUTH1", "1.000001", &Message::text("hi"))
        .await
        .expect_err("revoked token");
    assert!(refused("invalid_auth")(&err), "{err:?}");

    stub.fail_next("pins.add", Failure::Status(503));
    let err = slack.pin("C0AUTH1", "1.000001").await.expect_err("503");
    assert!(matches!(err, ChatError::Unavailable(_)), "{err:?}");
    stub.fail_next(
        "conversations.create",
        Failure::Error("internal_error".into()),
    );
    let err = slack.create_channel("inc-9", "").await.expect_err("500");
    assert!(matches!(err, ChatError::Unavailable(_)), "{err:?}");

    // Nothing listening.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("address").port()
    };
    let gone = SlackClient::new(SlackSettings {
        token: "xoxb-1".into(),
        api_url: format!("http://127.0.0.1:{port}/api"),
        announcements_channel: None,
    })
    .expect("a client");
    let err = gone
        .post_message("C0GONE1", &Message::text("hi"))
        .await
        .expect_err("no server");
    assert!(matches!(err, ChatError::Unavailable(_)), "{err:?}");
    assert!(!format!("{err}").contains("xoxb-1"), "{err}");
}

#[tokio::test]
async fn posts_to_one_channel_are_paced_to_about_one_a_second() {
    let stub = slack_stub::start().await;
    let slack = client(&stub);
    // Five go at once (Slack allows short bursts), then one a second.
    let start = Instant::now();
    for i in 0..7 {
        slack
            .post_message("C0PACE1", &Message::text(format!("line {i}")))
            .await
            .expect("posted");
    }
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    // A lower bound only: the limiter guarantees it, whatever the machine is doing. How fast
    // other channels go is not asserted here (a wall-clock upper bound flakes on a busy
    // machine); the limiter's keys are per channel by construction.
}

/// The stub itself, spoken to directly: it must refuse what Slack refuses, or the tests
/// above prove less than they say.
#[tokio::test]
async fn the_stub_refuses_what_slack_refuses() {
    let stub = slack_stub::start().await;
    let http = reqwest::Client::new();
    let bearer = format!("Bearer {}", stub.token());
    let call = |method: &str, auth: Option<&str>, form: &[(&str, &str)]| {
        let mut request = http.post(format!("{}/{method}", stub.url())).form(form);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        async move {
            let answer: Value = request
                .send()
                .await
                .expect("answered")
                .json()
                .await
                .expect("JSON");
            answer
        }
    };
    let error = |answer: Value| answer["error"].as_str().unwrap_or("ok").to_owned();

    let channel = [("channel", "C0RAW1"), ("text", "hi")];
    assert_eq!(
        error(call("chat.postMessages", Some(&bearer), &channel).await),
        "unknown_method"
    );
    assert_eq!(
        error(call("chat.postMessage", None, &channel).await),
        "not_authed"
    );
    assert_eq!(
        error(call("chat.postMessage", Some("Bearer xoxb-other"), &channel).await),
        "invalid_auth"
    );
    let with_token_param = [
        ("token", stub.token()),
        ("channel", "C0RAW1"),
        ("text", "hi"),
    ];
    assert_eq!(
        error(call("chat.postMessage", None, &with_token_param).await),
        "ok"
    );
    assert_eq!(
        error(call("chat.postMessage", Some(&bearer), &[("text", "hi")]).await),
        "invalid_arguments"
    );
    assert_eq!(
        error(call("conversations.create", Some(&bearer), &[]).await),
        "invalid_arguments"
    );
    assert_eq!(
        error(call("chat.update", Some(&bearer), &[("channel", "C0RAW1")]).await),
        "invalid_arguments"
    );

    let json_call = |method: &str, body: Value| {
        let request = http
            .post(format!("{}/{method}", stub.url()))
            .header("Authorization", &bearer)
            .json(&body);
        async move {
            let answer: Value = request
                .send()
                .await
                .expect("answered")
                .json()
                .await
                .expect("JSON");
            answer
        }
    };
    assert_eq!(
        error(
            json_call(
                "conversations.invite",
                json!({"channel": "C0RAW1", "users": ["U1", "U2"]})
            )
            .await
        ),
        "invalid_arguments",
        "users is a comma-separated string"
    );
    let too_many: Vec<Value> = (0..51)
        .map(|i| json!({"type": "section", "text": {"type": "mrkdwn", "text": i.to_string()}}))
        .collect();
    assert_eq!(
        error(
            json_call(
                "chat.postMessage",
                json!({"channel": "C0RAW1", "blocks": too_many})
            )
            .await
        ),
        "invalid_blocks"
    );
    let repeated = json!([{"type": "actions", "elements": [
        {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "1"}},
        {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "2"}},
    ]}]);
    assert_eq!(
        error(
            json_call(
                "chat.postMessage",
                json!({"channel": "C0RAW1", "blocks": repeated})
            )
            .await
        ),
        "invalid_blocks"
    );
    let long_title = json!({"type": "modal", "title": {"type": "plain_text", "text": "x".repeat(25)}, "blocks": []});
    assert_eq!(
        error(
            json_call(
                "views.open",
                json!({"trigger_id": "1.2.3", "view": long_title})
            )
            .await
        ),
        "invalid_arguments"
    );
}

#[tokio::test]
async fn a_pinned_messages_text_is_read_back_with_conversations_history() {
    let stub = slack_stub::start().await;
    let slack = client(&stub);
    let room = stub.add_channel("inc-5");
    let earlier = stub.add_message(&room, "U0BOB", "looking at the database");
    let pinned = stub.add_message(&room, "U0BOB", "rolled back the canary");
    stub.add_message(&room, "U0CARLA", "thanks");
    assert_eq!(
        slack.message_text(&room, &pinned).await.expect("read"),
        Some("rolled back the canary".to_owned())
    );
    assert_eq!(
        slack.message_text(&room, &earlier).await.expect("read"),
        Some("looking at the database".to_owned())
    );
    // A message that is not there (deleted) has no text to read.
    assert_eq!(
        slack
            .message_text(&room, "1600000000.000001")
            .await
            .expect("read"),
        None
    );
    let calls = stub.calls_to("conversations.history");
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0]["channel"], room.as_str());
}
