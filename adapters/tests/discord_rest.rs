//! The Discord client against a stub of Discord's REST API on loopback, which holds every
//! call to Discord's OpenAPI description (routes, bot token, body properties).

mod discord_stub;

use std::time::Duration;

use adapters::discord::client::{DiscordClient, DiscordSettings, IncidentChannels};
use bot_core::chat::{Button, ButtonStyle, ChatError, ChatPlatform, Field, Message, Tone};
use discord_stub::{DiscordStub, Failure};
use serde_json::json;

fn client(stub: &DiscordStub) -> DiscordClient {
    DiscordClient::new(DiscordSettings {
        token: stub.token().into(),
        api_url: stub.url(),
        application_id: stub.application_id().into(),
        guild_id: stub.guild_id().into(),
        category_id: Some("1400000000000000001".into()),
        announcements_channel: Some("1400000000000000002".into()),
        ..Default::default()
    })
    .expect("a client")
}

fn card(status: &str) -> Message {
    Message {
        title: Some("INC-7 Checkout is failing".into()),
        tone: Some(Tone::Critical),
        fields: vec![Field {
            label: "Status".into(),
            value: status.into(),
        }],
        text: vec!["Payments time out.".into()],
        buttons: vec![
            Button {
                action: "ack".into(),
                value: "7".into(),
                label: "Acknowledge".into(),
                style: ButtonStyle::Primary,
            },
            Button {
                action: "resolve".into(),
                value: "7".into(),
                label: "Resolve".into(),
                style: ButtonStyle::Danger,
            },
        ],
        context: Some("Declared by alice".into()),
    }
}

/// No call was turned away by the stub's checks of Discord's description.
fn assert_all_accepted(stub: &DiscordStub) {
    for call in stub.calls() {
        assert!(
            call.status < 400,
            "{} {} was answered {}",
            call.method,
            call.path,
            call.status
        );
    }
}

#[tokio::test]
async fn create_channel_makes_one_text_channel_in_the_category_and_finds_it_on_rerun() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    assert_eq!(discord.name(), adapters::discord::PLATFORM);
    assert_eq!(
        discord.announcements_channel().as_deref(),
        Some("1400000000000000002")
    );

    let first = discord
        .create_channel("INC 42: Checkout is failing", "Sev1 — checkout")
        .await
        .expect("created");
    assert_eq!(first.platform, "discord");
    assert_eq!(first.name, "inc-42-checkout-is-failing");
    let channel = stub.channel(&first.channel_id).expect("the stub has it");
    assert_eq!(channel.kind, 0);
    assert_eq!(channel.topic.as_deref(), Some("Sev1 — checkout"));
    assert_eq!(channel.parent_id.as_deref(), Some("1400000000000000001"));

    let again = discord
        .create_channel("INC 42: Checkout is failing", "Sev1 — checkout")
        .await
        .expect("found");
    assert_eq!(again, first);
    assert_eq!(stub.channels_named("inc-42-checkout-is-failing").len(), 1);
    assert_eq!(stub.calls_to("create_guild_channel").len(), 1);
    assert_eq!(stub.calls_to("list_guild_channels").len(), 2);
    assert_all_accepted(&stub);
}

#[tokio::test]
async fn channels_named_in_configuration_are_found_by_name_once() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    let alerts = stub.add_channel("alerts");
    for _ in 0..2 {
        let id = discord
            .post_message("alerts", &card("Triggered"))
            .await
            .expect("posted by name");
        assert!(stub.message(&alerts, &id).is_some());
    }
    // Looked up once, then remembered.
    assert_eq!(stub.calls_to("list_guild_channels").len(), 1);
    let missing = discord.post_message("#no-such-room", &card("x")).await;
    match missing {
        Err(ChatError::Refused(why)) => assert!(why.contains("#no-such-room"), "{why}"),
        other => panic!("expected a refusal naming the channel, got {other:?}"),
    }
    assert_all_accepted(&stub);
}

#[tokio::test]
async fn thread_mode_starts_a_thread_adds_members_and_finds_it_on_rerun() {
    let stub = discord_stub::start().await;
    let incidents = stub.add_channel("incidents");
    let discord = DiscordClient::new(DiscordSettings {
        token: stub.token().into(),
        api_url: stub.url(),
        application_id: stub.application_id().into(),
        guild_id: stub.guild_id().into(),
        incident_channels: IncidentChannels::Thread,
        threads_channel: Some("incidents".into()),
        ..Default::default()
    })
    .expect("a client");
    let thread = discord
        .create_channel("INC-9 Checkout", "sev1 | Investigating")
        .await
        .expect("a thread");
    let again = discord
        .create_channel("INC-9 Checkout", "sev1 | Investigating")
        .await
        .expect("the same thread");
    assert_eq!(thread.channel_id, again.channel_id);
    assert_eq!(stub.calls_to("create_thread").len(), 1);
    let made = stub.channel(&thread.channel_id).expect("the thread");
    assert_eq!(made.kind, 11, "a public thread");
    assert_eq!(made.parent_id.as_deref(), Some(incidents.as_str()));
    assert_eq!(made.name, "inc-9-checkout");

    let users = vec![
        "80351110224678912".to_owned(),
        "80351110224678913".to_owned(),
    ];
    discord
        .invite(&thread.channel_id, &users)
        .await
        .expect("added");
    assert_eq!(
        stub.channel(&thread.channel_id).expect("thread").members,
        users
    );
    // No topic on a thread, and no call that Discord would refuse.
    discord
        .set_topic(&thread.channel_id, "Resolved")
        .await
        .expect("no-op");
    assert!(stub.calls_to("update_channel").is_empty());
    let card_id = discord
        .post_message(&thread.channel_id, &card("Investigating"))
        .await
        .expect("posted");
    discord
        .pin(&thread.channel_id, &card_id)
        .await
        .expect("pinned");
    assert!(stub.pinned(&thread.channel_id, &card_id));
    assert_all_accepted(&stub);

    let without = DiscordClient::new(DiscordSettings {
        token: stub.token().into(),
        application_id: "1".into(),
        guild_id: "2".into(),
        incident_channels: IncidentChannels::Thread,
        ..Default::default()
    });
    assert!(
        without.is_err(),
        "thread mode needs a channel to start threads in"
    );
}

#[tokio::test]
async fn a_pinned_messages_text_is_read_back() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    let room = stub.add_channel("inc-3");
    let said = stub.add_message(&room, "80351110224678913", "rolled back the canary");
    assert_eq!(
        discord.message_text(&room, &said).await.expect("read"),
        "rolled back the canary"
    );
    assert!(discord.message_text(&room, "1").await.is_err());
}

#[tokio::test]
async fn invite_gives_each_person_a_member_overwrite_and_topic_is_set() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    let channel = stub.add_channel("inc-1");
    let users = vec![
        "80351110224678912".to_owned(),
        "80351110224678913".to_owned(),
        "80351110224678912".to_owned(),
    ];
    discord.invite(&channel, &users).await.expect("invited");
    let overwrites = stub.channel(&channel).expect("channel").overwrites;
    assert_eq!(overwrites.len(), 2);
    for user in &users[..2] {
        // VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY, as a string.
        assert_eq!(overwrites[user], json!({ "type": 1, "allow": "68608" }));
    }
    assert_eq!(stub.calls_to("set_channel_permission_overwrite").len(), 2);

    discord
        .set_topic(&channel, "Resolved")
        .await
        .expect("topic set");
    assert_eq!(
        stub.channel(&channel).expect("channel").topic.as_deref(),
        Some("Resolved")
    );
    assert_all_accepted(&stub);
}

#[tokio::test]
async fn a_card_is_posted_updated_and_pinned() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    let channel = stub.add_channel("inc-7");
    let id = discord
        .post_message(&channel, &card("investigating"))
        .await
        .expect("posted");
    let posted = stub.message(&channel, &id).expect("the stub has it");
    assert_eq!(
        posted.body["embeds"][0]["title"],
        "INC-7 Checkout is failing"
    );
    assert_eq!(
        posted.body["components"][0]["components"][1]["custom_id"],
        "resolve:7"
    );

    discord
        .update_message(&channel, &id, &card("resolved"))
        .await
        .expect("updated");
    let updated = stub.message(&channel, &id).expect("still there");
    assert_eq!(updated.edits, 1);
    assert_eq!(updated.body["embeds"][0]["fields"][0]["value"], "resolved");

    discord.pin(&channel, &id).await.expect("pinned");
    assert!(stub.pinned(&channel, &id));
    // The current route, not the deprecated `/channels/{id}/pins/{id}`.
    assert_eq!(stub.calls_to("create_pin").len(), 1);
    let calls = stub.calls();
    assert!(
        calls
            .iter()
            .all(|c| c.authorization.as_deref() == Some(&format!("Bot {}", stub.token())))
    );
    assert_all_accepted(&stub);

    let missing = discord
        .pin(&channel, "1")
        .await
        .expect_err("no such message");
    assert!(
        matches!(&missing, ChatError::Refused(m) if m.contains("Unknown Message") && m.contains("10008")),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_dm_is_opened_posted_and_can_be_updated_by_its_id() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    let user = "80351110224678912";
    let id = discord
        .send_dm(user, &Message::text("You are on call"))
        .await
        .expect("sent");
    let dm = stub.dm_channel(user).expect("a DM channel");
    let (channel, message) = id.split_once(':').expect("channel:message");
    assert_eq!(channel, dm);
    assert_eq!(
        stub.message(&dm, message).expect("posted").body["content"],
        "You are on call"
    );

    // Updated through the user id, as the caller knows it.
    discord
        .update_message(user, &id, &Message::text("Handed over"))
        .await
        .expect("updated");
    assert_eq!(
        stub.message(&dm, message).expect("posted").body["content"],
        "Handed over"
    );
    assert_eq!(
        stub.calls_to("create_dm")[0].body,
        json!({ "recipient_id": user })
    );
    assert_all_accepted(&stub);
}

#[tokio::test]
async fn followups_and_edits_go_to_the_webhook_routes_without_the_bot_token() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    let token = "aW50ZXJhY3Rpb246ODg4ODg4ODg4ODg4ODg4ODg4OmhhbGxv";
    discord
        .followup(token, &json!({ "content": "Declared INC-7", "flags": 64 }))
        .await
        .expect("followed up");
    discord
        .edit_original(token, &json!({ "content": "Working on it" }))
        .await
        .expect("edited");
    let calls = stub.webhook_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].method.as_str(), calls[0].message.as_deref()),
        ("POST", None)
    );
    assert_eq!(calls[1].message.as_deref(), Some("@original"));
    for call in &calls {
        assert_eq!(call.token, token);
        assert_eq!(
            call.authorization, None,
            "the bot token stays out of webhooks"
        );
    }
    assert_eq!(calls[1].body["content"], "Working on it");
    assert_all_accepted(&stub);
}

#[tokio::test]
async fn a_429_is_rate_limited_for_discords_retry_after() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    let channel = stub.add_channel("inc-7");
    stub.fail_next(
        "create_message",
        Failure::RateLimited {
            retry_after_secs: 64.57,
            global: false,
        },
    );
    let error = discord
        .post_message(&channel, &Message::text("hi"))
        .await
        .expect_err("limited");
    match error {
        ChatError::RateLimited { retry_after } => {
            assert_eq!(retry_after, Some(Duration::from_secs_f64(64.57)));
        }
        other => panic!("{other:?}"),
    }
    // The route stays limited: the next post is refused without calling Discord.
    let calls = stub.calls().len();
    let error = discord
        .post_message(&channel, &Message::text("hi"))
        .await
        .expect_err("still limited");
    assert!(
        matches!(error, ChatError::RateLimited { retry_after: Some(d) } if d > Duration::from_secs(60))
    );
    assert_eq!(stub.calls().len(), calls);
    // Other routes are not held back by it.
    discord
        .set_topic(&channel, "x")
        .await
        .expect("another route");
}

#[tokio::test]
async fn a_global_429_holds_back_every_route() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    let channel = stub.add_channel("inc-7");
    stub.fail_next(
        "PATCH /channels/{channel_id}",
        Failure::RateLimited {
            retry_after_secs: 30.0,
            global: true,
        },
    );
    let error = discord.set_topic(&channel, "x").await.expect_err("limited");
    assert!(
        matches!(error, ChatError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(30))
    );
    let calls = stub.calls().len();
    let error = discord
        .post_message(&channel, &Message::text("hi"))
        .await
        .expect_err("held back");
    assert!(matches!(error, ChatError::RateLimited { .. }));
    assert_eq!(stub.calls().len(), calls, "nothing reached Discord");
}

#[tokio::test]
async fn a_spent_bucket_is_waited_for_before_the_next_call() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    let channel = stub.add_channel("inc-7");
    stub.spend_bucket("create_message", 0.4);
    discord
        .post_message(&channel, &Message::text("one"))
        .await
        .expect("first");
    discord
        .post_message(&channel, &Message::text("two"))
        .await
        .expect("second, after the reset");
    let posts = stub.calls_to("create_message");
    assert_eq!(posts.len(), 2);
    let gap = posts[1].at.duration_since(posts[0].at);
    assert!(gap >= Duration::from_millis(380), "{gap:?}");
    assert_all_accepted(&stub);
}

#[tokio::test]
async fn discords_refusals_and_outages_are_told_apart() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    let channel = stub.add_channel("inc-7");
    stub.fail_next(
        "create_message",
        Failure::Error {
            code: 50001,
            message: "Missing Access".into(),
        },
    );
    let error = discord
        .post_message(&channel, &Message::text("hi"))
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, ChatError::Refused(m) if m.contains("Missing Access") && m.contains("50001")),
        "{error:?}"
    );
    stub.fail_next("create_message", Failure::Status(502));
    let error = discord
        .post_message(&channel, &Message::text("hi"))
        .await
        .expect_err("unavailable");
    assert!(matches!(error, ChatError::Unavailable(_)), "{error:?}");
    assert!(
        !format!("{error}").contains(stub.token()),
        "the token is never in an error"
    );
}

#[tokio::test]
async fn the_stub_holds_calls_to_discords_description() {
    let stub = discord_stub::start().await;
    let http = reqwest::Client::new();
    let auth = format!("Bot {}", stub.token());
    let channel = stub.add_channel("inc-7");
    // An unknown route, a wrong method, no token, an unknown body property.
    let unknown = http
        .get(format!("{}/nowhere/{channel}", stub.url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("answered");
    assert_eq!(unknown.status(), 404);
    let wrong_method = http
        .post(format!("{}/channels/{channel}/messages/pins/1", stub.url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("answered");
    assert_eq!(wrong_method.status(), 405);
    let anonymous = http
        .post(format!("{}/channels/{channel}/messages", stub.url()))
        .json(&json!({ "content": "hi" }))
        .send()
        .await
        .expect("answered");
    assert_eq!(anonymous.status(), 401);
    let extra = http
        .post(format!("{}/channels/{channel}/messages", stub.url()))
        .header("Authorization", &auth)
        .json(&json!({ "content": "hi", "blocks": [] }))
        .send()
        .await
        .expect("answered");
    assert_eq!(extra.status(), 400);
    let body: serde_json::Value = extra.json().await.expect("JSON");
    assert_eq!(body["code"], 50035);
    assert!(body["errors"]["blocks"].is_object(), "{body}");
}

#[tokio::test]
async fn commands_are_registered_with_a_bulk_overwrite_in_a_guild_or_globally() {
    let stub = discord_stub::start().await;
    let discord = client(&stub);
    let commands = serde_json::json!([
        { "name": "incident", "description": "Declare and run incidents", "type": 1 },
        { "name": "oncall", "description": "Who is on call", "type": 1 }
    ]);
    discord
        .register_commands(&commands, Some(stub.guild_id()))
        .await
        .expect("registered in the guild");
    discord
        .register_commands(&commands, None)
        .await
        .expect("registered globally");
    let guild = stub.calls_to("bulk_set_guild_application_commands");
    let global = stub.calls_to("bulk_set_application_commands");
    assert_eq!((guild.len(), global.len()), (1, 1));
    assert_eq!(guild[0].body, commands);
    assert!(
        guild[0]
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Bot "))
    );
}
