//! Discord end to end: the real `tocsin serve` binary, interactions signed with a test
//! Ed25519 key as Discord signs them, and a stub Discord REST API on loopback that refuses
//! any call whose route, method or body is not in Discord's published OpenAPI description
//! (adapters/tests/discord_stub). Through it: the declare flow from the `/incident declare`
//! command, with a 429 waited out.

mod support;

#[path = "../adapters/tests/discord_gateway_stub/mod.rs"]
mod discord_gateway_stub;
#[path = "../adapters/tests/discord_stub/mod.rs"]
mod discord_stub;

use std::process::Stdio;

use adapters::discord::verify;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_tocsin");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tocsin.example.toml");
/// The test application's secret key: fixed, public, for these tests only.
const SECRET: [u8; 32] = [7; 32];
/// alice's Discord id in tocsin.example.toml.
const ALICE: &str = "80351110224678912";
const ALERTMANAGER_KEY: &str = "discord-flow-alertmanager-key";

struct Tocsin {
    dir: tempfile::TempDir,
    _child: Child,
    base: String,
    http: reqwest::Client,
}

/// `tocsin serve` on the example configuration, with `[discord]` lines added (the guild is
/// the stub's).
async fn serve(discord: &discord_stub::DiscordStub, discord_config: &str) -> Tocsin {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tocsin.toml");
    let example = std::fs::read_to_string(EXAMPLE).unwrap();
    std::fs::write(
        &config,
        format!(
            "{example}\n[discord]\nguild_id = \"{}\"\n{discord_config}\n",
            discord.guild_id()
        ),
    )
    .unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .env("TOCSIN_CONFIG", &config)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("tocsin.db").display()),
        )
        .env("TOCSIN_LISTEN", "127.0.0.1:0")
        .env("DISCORD_TOKEN", discord.token())
        .env("DISCORD_APPLICATION_ID", discord.application_id())
        .env("DISCORD_PUBLIC_KEY", verify::public_key_hex(&SECRET))
        .env("TOCSIN_DISCORD_API_URL", discord.url())
        .env("CHECKOUT_ALERTMANAGER_KEY", ALERTMANAGER_KEY)
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("RUST_LOG")
        .current_dir(dir.path())
        .stderr(Stdio::null());
    let (child, base) = support::start_serving(command).await;
    Tocsin {
        dir,
        _child: child,
        base,
        http: reqwest::Client::new(),
    }
}

impl Tocsin {
    /// An admin API token for the same database, made with the CLI.
    async fn token(&self) -> String {
        support::api_token(self.dir.path()).await
    }

    async fn interaction(&self, body: &Value) -> (u16, Value) {
        let body = body.to_string();
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = verify::sign(&SECRET, &timestamp, body.as_bytes());
        let response = self
            .http
            .post(format!("{}/discord/interactions", self.base))
            .header("content-type", "application/json")
            .header(verify::TIMESTAMP_HEADER, timestamp)
            .header(verify::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// `/incident declare` as Discord sends it from a guild channel.
fn declare(id: &str, title: &str) -> Value {
    json!({
        "type": 2,
        "id": id,
        "application_id": "775799577604522054",
        "token": format!("interaction-token-{id}"),
        "version": 1,
        "guild_id": "290926798626357250",
        "channel_id": "645027906669510667",
        "member": {
            "user": { "id": ALICE, "username": "alice", "discriminator": "0" },
            "roles": [],
            "permissions": "2147483647"
        },
        "data": {
            "type": 1, "name": "incident", "id": "771825006014889984",
            "options": [{ "type": 1, "name": "declare", "options": [
                { "type": 3, "name": "severity", "value": "sev2" },
                { "type": 3, "name": "title", "value": title }
            ]}]
        }
    })
}

fn text(v: &Value) -> String {
    v.to_string()
}

/// A press of the button with `custom_id` on a message in `channel`, as Discord sends it.
fn press(id: &str, channel: &str, message: &str, custom_id: &str) -> Value {
    json!({
        "type": 3,
        "id": id,
        "application_id": "775799577604522054",
        "token": format!("interaction-token-{id}"),
        "version": 1,
        "guild_id": "290926798626357250",
        "channel_id": channel,
        "member": {
            "user": { "id": ALICE, "username": "alice", "discriminator": "0" },
            "roles": [],
            "permissions": "2147483647"
        },
        "message": { "id": message, "channel_id": channel, "content": "", "components": [] },
        "data": { "custom_id": custom_id, "component_type": 2 }
    })
}

/// Calls the stub refused, other than 429s a test asked for.
fn refused(discord: &discord_stub::DiscordStub) -> Vec<discord_stub::StubCall> {
    discord
        .calls()
        .into_iter()
        .filter(|c| c.status >= 400 && c.status != 429)
        .collect()
}

#[tokio::test]
async fn declaring_from_discord_opens_the_channel_adds_people_pins_the_card_and_announces() {
    let discord = discord_stub::start().await;
    let announcements = discord.add_channel("incidents");
    // The first card post is rate limited: Tocsin waits the second Discord asks for.
    discord.fail_next(
        "create_message",
        discord_stub::Failure::RateLimited {
            retry_after_secs: 1.0,
            global: false,
        },
    );
    let tocsin = serve(
        &discord,
        &format!("announcements_channel = \"{announcements}\""),
    )
    .await;

    let (status, answer) = tocsin
        .interaction(&declare("1100000000000000001", "Checkout is failing"))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], 4, "{answer}");
    assert!(
        text(&answer).contains("Declared INC-1 (sev2): Checkout is failing"),
        "{answer}"
    );
    // The same interaction delivered again declares nothing more.
    let (_, again) = tocsin
        .interaction(&declare("1100000000000000001", "Checkout is failing"))
        .await;
    assert_eq!(again["type"], 4, "{again}");

    let channel = support::until("the incident channel", || {
        discord
            .channels_named("inc-1-checkout-is-failing")
            .into_iter()
            .next()
    })
    .await;
    assert!(
        channel
            .topic
            .as_deref()
            .is_some_and(|t| t.starts_with("INC-1 · sev2")),
        "{channel:?}"
    );
    support::until("alice added to the channel", || {
        discord
            .channel(&channel.id)
            .filter(|c| c.overwrites.contains_key(ALICE))
    })
    .await;
    let pinned = support::until("the pinned card", || {
        discord
            .calls_to("create_pin")
            .into_iter()
            .find(|c| c.status < 300)
    })
    .await;
    assert!(
        pinned
            .path
            .starts_with(&format!("/channels/{}/", channel.id)),
        "{pinned:?}"
    );
    let card = support::until("the card in the channel", || {
        discord
            .calls_to("create_message")
            .into_iter()
            .find(|c| c.status < 300 && c.path == format!("/channels/{}/messages", channel.id))
    })
    .await;
    assert!(
        text(&card.body).contains("INC-1 Checkout is failing"),
        "{:?}",
        card.body
    );
    support::until("the announcement", || {
        discord
            .calls_to("create_message")
            .into_iter()
            .find(|c| c.status < 300 && c.path == format!("/channels/{announcements}/messages"))
    })
    .await;
    // One 429, then each message once; one channel however often delivered; nothing the
    // stub had to refuse.
    let refused: Vec<_> = discord
        .calls()
        .into_iter()
        .filter(|c| c.status >= 400 && c.status != 429)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(discord.channels_named("inc-1-checkout-is-failing").len(), 1);
    let limited = discord
        .calls_to("create_message")
        .into_iter()
        .filter(|c| c.status == 429)
        .count();
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn discord_register_installs_the_manifests_commands_in_the_guild() {
    let discord = discord_stub::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Not ./tocsin.toml, which Tocsin would read even without TOCSIN_CONFIG.
    let config = dir.path().join("discord.toml");
    std::fs::write(
        &config,
        format!("[discord]\nguild_id = \"{}\"\n", discord.guild_id()),
    )
    .unwrap();
    let run = |with_config: bool| {
        let mut command = Command::new(BIN);
        command
            .args(["discord", "register"])
            .env("DISCORD_TOKEN", discord.token())
            .env("DISCORD_APPLICATION_ID", discord.application_id())
            .env("TOCSIN_DISCORD_API_URL", discord.url())
            .env("CHECKOUT_ALERTMANAGER_KEY", ALERTMANAGER_KEY)
            .env_remove("RUST_LOG")
            .current_dir(dir.path());
        if with_config {
            command.env("TOCSIN_CONFIG", &config);
        } else {
            command.env_remove("TOCSIN_CONFIG");
        }
        command.output()
    };
    let out = run(true).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("in guild"));
    let calls = discord.calls_to("bulk_set_guild_application_commands");
    assert_eq!(calls.len(), 1);
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/manifests/discord/commands.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(calls[0].body, committed);
    // Without [discord] it says what is missing.
    let out = run(false).await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[discord] guild_id"));
}

#[tokio::test]
async fn acknowledge_on_a_discord_alert_card_edits_the_card_in_place() {
    let discord = discord_stub::start().await;
    // tocsin.example.toml names the alerts channel; on Discord it is found by that name.
    let alerts = discord.add_channel("alerts");
    let tocsin = serve(&discord, "").await;
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

    let (message, ack) = support::until("an alert card with an Acknowledge button", || {
        discord.messages_in(&alerts).into_iter().find_map(|m| {
            let id = m.body["components"]
                .as_array()?
                .iter()
                .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
                .find_map(|b| {
                    b["custom_id"]
                        .as_str()
                        .filter(|id| id.starts_with("alert_ack:"))
                        .map(str::to_owned)
                })?;
            Some((m, id))
        })
    })
    .await;
    let (status, answer) = tocsin
        .interaction(&press("1100000000000000101", &alerts, &message.id, &ack))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(text(&answer).contains("Acknowledged"), "{answer}");
    let edited = support::until("the card edited in place", || {
        discord
            .message(&alerts, &message.id)
            .filter(|m| text(&m.body).contains("acknowledged by user:alice"))
    })
    .await;
    assert!(edited.edits > 0);
    // Acknowledged, the card no longer offers to acknowledge.
    assert!(!text(&edited.body).contains(&ack), "{:?}", edited.body);
    // The same press delivered again acknowledges nothing twice.
    let (_, again) = tocsin
        .interaction(&press("1100000000000000101", &alerts, &message.id, &ack))
        .await;
    assert!(text(&again).contains("Already handled"), "{again}");
    assert!(refused(&discord).is_empty(), "{:?}", refused(&discord));
}

#[tokio::test]
async fn in_thread_mode_a_slow_declare_is_deferred_then_the_reply_follows_and_a_thread_opens() {
    let discord = discord_stub::start().await;
    let incidents = discord.add_channel("incidents");
    // Every command is "slow" when it may take no time at all before the deferred answer.
    let tocsin = serve(
        &discord,
        "incident_channels = \"thread\"\nthreads_channel = \"incidents\"\nreply_within = \"1ns\"",
    )
    .await;
    let (status, answer) = tocsin
        .interaction(&declare("1100000000000000201", "Search is slow"))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], 5, "a deferred response: {answer}");
    // The reply then replaces the "thinking…" message, through the interaction's webhook
    // and without the bot token.
    let followed = support::until("the reply in place of the deferred answer", || {
        discord
            .webhook_calls()
            .into_iter()
            .find(|w| w.token == "interaction-token-1100000000000000201")
    })
    .await;
    assert_eq!(followed.message.as_deref(), Some("@original"));
    assert!(followed.authorization.is_none());
    assert!(
        text(&followed.body).contains("Declared INC-1 (sev2): Search is slow"),
        "{:?}",
        followed.body
    );

    let thread = support::until("the incident thread", || {
        discord
            .channels_named("inc-1-search-is-slow")
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(thread.kind, 11);
    assert_eq!(thread.parent_id.as_deref(), Some(incidents.as_str()));
    support::until("alice added to the thread", || {
        discord
            .channel(&thread.id)
            .filter(|t| t.members.iter().any(|m| m == ALICE))
    })
    .await;
    support::until("the card pinned in the thread", || {
        discord
            .calls_to("create_pin")
            .into_iter()
            .find(|c| c.status < 300 && c.path.starts_with(&format!("/channels/{}/", thread.id)))
    })
    .await;
    assert!(
        discord.calls_to("update_channel").is_empty(),
        "a thread has no topic"
    );
    assert!(refused(&discord).is_empty(), "{:?}", refused(&discord));
}

#[tokio::test]
async fn a_pin_reaction_seen_on_the_gateway_records_the_message_in_the_timeline() {
    let discord = discord_stub::start().await;
    let gateway = discord_gateway_stub::start().await;
    discord.set_gateway_url(&gateway.gateway_url());
    let tocsin = serve(&discord, "gateway = true").await;
    support::until("the Gateway session", || gateway.ready().then_some(())).await;
    let identify = &gateway.identifies()[0];
    let intents = identify["intents"].as_u64().unwrap();
    assert_ne!(
        intents & discord_gateway_stub::MESSAGE_CONTENT,
        0,
        "{identify}"
    );

    let (_, answer) = tocsin
        .interaction(&declare("1100000000000000301", "Queue is stuck"))
        .await;
    assert!(text(&answer).contains("Declared INC-1"), "{answer}");
    let channel = support::until("the incident channel", || {
        discord
            .channels_named("inc-1-queue-is-stuck")
            .into_iter()
            .next()
    })
    .await;
    let bob = "80351110224678913";
    let said = discord.add_message(&channel.id, bob, "Restarted the consumers");
    let pin = json!({
        "user_id": ALICE,
        "channel_id": channel.id,
        "message_id": said,
        "guild_id": discord.guild_id(),
        "message_author_id": bob,
        "emoji": { "id": null, "name": "\u{1F4CC}" }
    });
    gateway.dispatch("MESSAGE_REACTION_ADD", pin.clone());
    // A 📌 outside an incident channel, and another emoji, record nothing.
    gateway.dispatch(
        "MESSAGE_REACTION_ADD",
        json!({ "user_id": ALICE, "channel_id": "1400000000000000077", "message_id": "1",
                "guild_id": discord.guild_id(), "emoji": { "id": null, "name": "\u{1F4CC}" } }),
    );
    let token = tocsin.token().await;
    let timeline = support::timeline_once(
        &tocsin.base,
        &token,
        "the pinned message in the timeline",
        |t| t.to_string().contains("Restarted the consumers"),
    )
    .await;
    let pinned: Vec<&Value> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "chat_message")
        .collect();
    assert_eq!(pinned.len(), 1, "{timeline}");
    // The same reaction seen again (a replay after a resume) is not recorded twice: the
    // Gateway's events are handled in order, so once a later 📌 is in the timeline the
    // replayed one has been handled too.
    gateway.dispatch("MESSAGE_REACTION_ADD", pin.clone());
    let later = discord.add_message(&channel.id, bob, "Queue drained");
    let mut second = pin;
    second["message_id"] = json!(later);
    gateway.dispatch("MESSAGE_REACTION_ADD", second);
    let again =
        support::timeline_once(&tocsin.base, &token, "the later pin in the timeline", |t| {
            t.to_string().contains("Queue drained")
        })
        .await;
    let count = again
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "chat_message")
        .count();
    assert_eq!(count, 2, "one entry per pinned message: {again}");
    assert!(refused(&discord).is_empty(), "{:?}", refused(&discord));
}

#[tokio::test]
async fn every_interaction_fixture_is_handled_by_the_binary_and_refused_with_a_flipped_byte() {
    let discord = discord_stub::start().await;
    let tocsin = serve(&discord, "").await;
    let dir = std::env::var("TOCSIN_FIXTURES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures").to_owned());
    let mut files: Vec<_> = std::fs::read_dir(format!("{dir}/discord/interactions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut posted = 0;
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // Responses, command definitions and messages are what Tocsin sends, not requests.
        if ["response_", "command_definition_", "message_create_"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            continue;
        }
        let body = std::fs::read(&path).unwrap();
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = verify::sign(&SECRET, &timestamp, &body);
        let send = |signature: String| {
            tocsin
                .http
                .post(format!("{}/discord/interactions", tocsin.base))
                .header("content-type", "application/json")
                .header(verify::TIMESTAMP_HEADER, timestamp.clone())
                .header(verify::SIGNATURE_HEADER, signature)
                .body(body.clone())
                .send()
        };
        // One hex digit of the signature changed: one byte of it differs.
        let mut flipped = signature.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let refused = send(String::from_utf8(flipped).unwrap()).await.unwrap();
        assert_eq!(refused.status(), 401, "{name}");
        let answered = send(signature).await.unwrap();
        assert_eq!(answered.status(), 200, "{name}");
        let answer: Value = answered.json().await.unwrap();
        assert!(
            matches!(answer["type"].as_u64(), Some(1 | 4 | 8)),
            "{name}: {answer}"
        );
        posted += 1;
    }
    assert_eq!(posted, 10, "every request fixture is posted");
}
