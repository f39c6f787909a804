//! Microsoft Teams end to end: the real `tocsin serve` binary on a temporary SQLite file,
//! activities posted to `/teams/messages` with the connector's bearer token signed by a
//! test key that a loopback OpenID/JWKS stub publishes (adapters/tests/teams_identity), and
//! a loopback Bot Connector, Entra ID login and Graph (adapters/tests/teams_stub) that
//! refuses any call its published API descriptions do not allow. Through them: the token
//! checks on every published activity, the declare flow in thread and channel mode, the
//! Acknowledge button on an alert card, a page as a proactive 1:1 chat, and a 429 waited
//! out.

mod support;

#[path = "../adapters/tests/teams_identity/mod.rs"]
mod teams_identity;
#[path = "../adapters/tests/teams_stub/mod.rs"]
mod teams_stub;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use teams_identity::BotFrameworkIdentity;
use teams_stub::{ConversationKind, TeamsStub};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_tocsin");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tocsin.example.toml");
const ALERTMANAGER_KEY: &str = "teams-flow-alertmanager-key";
/// The Teams user ids the tests give the people of tocsin.example.toml (who have none
/// there); alice's is the stub's person.
const ALICE: &str = teams_stub::USER;
const BOB: &str = "29:1stubBobUserId-0123456789abcdef";
const CARLA: &str = "29:1stubCarlaUserId-0123456789abcdef";
const DIETER: &str = "29:1stubDieterUserId-0123456789abcdef";
const ADAPTIVE_CARD: &str = "application/vnd.microsoft.card.adaptive";

/// The bot's account in conversations, as Teams addresses it.
fn bot() -> String {
    format!("28:{}", teams_stub::APP_ID)
}

fn fixtures() -> String {
    std::env::var("TOCSIN_FIXTURES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures").to_owned())
}

/// A published activity from `shared/fixtures/teams/activities`.
fn activity_fixture(name: &str) -> Value {
    let path = format!("{}/teams/activities/{name}", fixtures());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// tocsin.example.toml with a `teams` id in the chat table of each of `people`, the
/// service's alert cards sent to `alerts_channel` if given (the example names a Slack-style
/// channel, `alerts`, which is no Teams conversation), and `[msteams]` appended with the
/// stub's connector as the service URL and the `msteams` lines given.
fn config(
    teams: &TeamsStub,
    people: &[(&str, &str)],
    alerts_channel: Option<&str>,
    msteams: &str,
) -> String {
    let mut text = std::fs::read_to_string(EXAMPLE).unwrap();
    for (user, id) in people {
        let anchor = format!("console = \"{user}\"\n");
        assert_eq!(
            text.matches(&anchor).count(),
            1,
            "{user}'s [users.chat] table moved in tocsin.example.toml"
        );
        assert!(!text.contains(id), "{id} is already someone's");
        text = text.replacen(&anchor, &format!("{anchor}teams = \"{id}\"\n"), 1);
    }
    if let Some(channel) = alerts_channel {
        let line = "alerts_channel = \"alerts\"";
        assert_eq!(
            text.matches(line).count(),
            1,
            "the checkout service's alerts_channel moved in tocsin.example.toml"
        );
        text = text.replacen(line, &format!("alerts_channel = \"{channel}\""), 1);
    }
    format!(
        "{text}\n[msteams]\nservice_url = \"{}\"\n{msteams}\n",
        teams.service_url()
    )
}

/// `[msteams]` for incident threads in the stub's Incidents channel (the default mode),
/// in the stub's team (where channels named in the configuration are looked up).
fn thread_mode() -> String {
    format!(
        "team_id = \"{}\"\nincidents_channel = \"{}\"",
        teams_stub::TEAM_ID,
        teams_stub::INCIDENTS_CHANNEL
    )
}

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

/// `tocsin serve` on `config`, with Teams pointed at the stubs and no other chat platform.
async fn serve(teams: &TeamsStub, identity: &BotFrameworkIdentity, config: &str) -> Tocsin {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tocsin.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .env("TOCSIN_CONFIG", &path)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("tocsin.db").display()),
        )
        .env("TOCSIN_LISTEN", "127.0.0.1:0")
        .env("MicrosoftAppId", teams_stub::APP_ID)
        .env("MicrosoftAppPassword", teams_stub::APP_PASSWORD)
        .env("MicrosoftAppTenantId", teams_stub::TENANT_ID)
        .env("TOCSIN_TEAMS_LOGIN_URL", teams.login_url())
        .env("TOCSIN_GRAPH_API_URL", teams.graph_url())
        .env("TOCSIN_TEAMS_OPENID_URL", identity.openid_url())
        .env("CHECKOUT_ALERTMANAGER_KEY", ALERTMANAGER_KEY)
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("SLACK_SIGNING_SECRET")
        .env_remove("DISCORD_TOKEN")
        .env_remove("DISCORD_PUBLIC_KEY")
        .env_remove("RUST_LOG")
        .current_dir(dir.path())
        .stderr(Stdio::null());
    let (child, base) = support::start_serving(command).await;
    Tocsin {
        dir,
        child,
        base,
        http: reqwest::Client::new(),
    }
}

impl Tocsin {
    /// An admin API token for the same database, made with the CLI.
    async fn token(&self) -> String {
        support::api_token(self.dir.path()).await
    }

    /// POSTs `body` to the messaging endpoint with this `Authorization`, if any.
    async fn post(&self, body: String, authorization: Option<&str>) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}/teams/messages", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts `activity` as the connector does: with a token for this bot about the
    /// activity's own `serviceUrl`.
    async fn signed(&self, identity: &BotFrameworkIdentity, activity: &Value) -> (u16, Value) {
        let service_url = activity["serviceUrl"].as_str().expect("a serviceUrl");
        let authorization = identity.authorization(teams_stub::APP_ID, service_url);
        self.post(activity.to_string(), Some(&authorization)).await
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "GET {path}");
        response.json().await.unwrap()
    }

    /// The Alertmanager fixture with two firing checkout alerts, through the example's
    /// integration.
    async fn fire_checkout_alerts(&self) {
        let body = std::fs::read(format!(
            "{}/alerts/alertmanager/webhook_v4_firing_2.json",
            fixtures()
        ))
        .unwrap();
        let response = self
            .http
            .post(format!(
                "{}/api/v1/integrations/{ALERTMANAGER_KEY}/alertmanager",
                self.base
            ))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }
}

/// `text` @mentioning the bot in the stub's General channel, from alice: the published
/// at-mention activity, addressed to this bot and the stub's team.
fn mention(teams: &TeamsStub, id: &str, text: &str) -> Value {
    let mut activity = activity_fixture("botbuilder-teams-channel-message-at-mention.json");
    activity["id"] = json!(id);
    activity["text"] = json!(text);
    activity["attachments"][0]["content"] = json!(format!(
        "<div>{}</div>",
        text.replace(
            "<at>Tocsin</at>",
            "<span contenteditable=\"false\" itemscope=\"\" itemtype=\"http://schema.skype.com/Mention\" itemid=\"0\">Tocsin</span>"
        )
    ));
    activity["serviceUrl"] = json!(teams.service_url());
    activity["from"] = json!({ "id": ALICE, "name": "Alice Smith" });
    activity["conversation"] = json!({
        "isGroup": true,
        "id": format!("{};messageid={id}", teams_stub::GENERAL_CHANNEL),
    });
    activity["recipient"] = json!({ "id": bot(), "name": "Tocsin" });
    activity["entities"][0] = json!({
        "mentioned": { "id": bot(), "name": "Tocsin" },
        "text": "<at>Tocsin</at>",
        "type": "mention",
    });
    activity["channelData"] = json!({
        "channel": { "id": teams_stub::GENERAL_CHANNEL },
        "team": { "id": teams_stub::GENERAL_CHANNEL },
        "tenant": { "id": teams_stub::TENANT_ID },
    });
    activity
}

/// The conversation a [`mention`] with this id is in, which the reply goes to.
fn mention_conversation(id: &str) -> String {
    format!("{};messageid={id}", teams_stub::GENERAL_CHANNEL)
}

/// The Adaptive Card an activity the bot sent carries, if it carries one.
fn card(body: &Value) -> Option<&Value> {
    let attachment = body["attachments"].as_array()?.first()?;
    (attachment["contentType"] == ADAPTIVE_CARD).then_some(&attachment["content"])
}

fn says(v: &Value, text: &str) -> bool {
    v.to_string().contains(text)
}

/// The card's `Action.Execute` with this verb.
fn execute_action<'a>(card: &'a Value, verb: &str) -> Option<&'a Value> {
    card["actions"]
        .as_array()?
        .iter()
        .find(|a| a["type"] == "Action.Execute" && a["verb"] == verb)
}

/// Who the bot's token was issued for, for the token a call carried.
fn scope_of(teams: &TeamsStub, authorization: Option<&str>) -> Option<String> {
    let token = authorization?.strip_prefix("Bearer ")?;
    teams
        .issued_tokens()
        .into_iter()
        .find(|t| t.token == token)
        .map(|t| t.scope)
}

async fn incidents(tocsin: &Tocsin, token: &str) -> Vec<Value> {
    tocsin.get(token, "/api/v1/incidents").await["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn alerts(tocsin: &Tocsin, token: &str) -> Vec<Value> {
    tocsin.get(token, "/api/v1/alerts").await["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until no Teams job is queued or running (so every card update has been sent),
/// then returns the jobs that gave up.
async fn settle(tocsin: &Tocsin, token: &str) -> Vec<Value> {
    support::eventually(
        "the Teams jobs to finish",
        Duration::from_secs(30),
        || async move {
            for state in ["queued", "running"] {
                let jobs = tocsin
                    .get(token, &format!("/api/v1/jobs?state={state}&limit=100"))
                    .await;
                if jobs.as_array()?.iter().any(|j| j["queue"] == "chat:teams") {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    tocsin
        .get(token, "/api/v1/jobs?state=dead&limit=100")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn every_activity_fixture_is_accepted_signed_and_refused_unsigned() {
    let teams = teams_stub::start().await;
    let identity = teams_identity::start().await;
    let tocsin = serve(
        &teams,
        &identity,
        &config(&teams, &[("alice", ALICE)], None, &thread_mode()),
    )
    .await;
    let token = tocsin.token().await;

    let dir = format!("{}/teams/activities", fixtures());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no activities in {dir}");
    // Each as the connector would deliver it to this bot: from the stub's service URL, to
    // `28:<app id>` (also where a fixture names its own bot among the mentioned or added).
    let bot_ids: BTreeSet<String> = names
        .iter()
        .filter_map(|name| {
            activity_fixture(name)["recipient"]["id"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let activities: Vec<(String, Value)> = names
        .iter()
        .map(|name| {
            let mut activity = activity_fixture(name);
            activity["serviceUrl"] = json!(teams.service_url());
            activity["recipient"]["id"] = json!(bot());
            for list in ["membersAdded", "entities"] {
                for item in activity[list].as_array_mut().into_iter().flatten() {
                    let account = if list == "entities" {
                        &mut item["mentioned"]
                    } else {
                        item
                    };
                    if account["id"]
                        .as_str()
                        .is_some_and(|id| bot_ids.contains(id))
                    {
                        account["id"] = json!(bot());
                    }
                }
            }
            (name.clone(), activity)
        })
        .collect();

    // Refused, every one, before anything in it is used.
    let calls_before = teams.calls().len();
    let other_audience =
        identity.authorization("0a1b2c3d-0000-4000-8000-00000000beef", &teams.service_url());
    let other_service =
        identity.authorization(teams_stub::APP_ID, &teams.regional_service_url("emea"));
    let now = chrono::Utc::now().timestamp();
    let claims = |iss: &str, exp: i64| {
        json!({
            "iss": iss,
            "aud": teams_stub::APP_ID,
            "serviceurl": teams.service_url(),
            "nbf": now - 7200,
            "exp": exp,
        })
    };
    // Past the five minutes of clock skew allowed.
    let expired = identity.authorization_with(&claims(teams_identity::ISSUER, now - 600));
    let other_issuer = identity.authorization_with(&claims("https://sts.windows.net/", now + 3600));
    for (name, activity) in &activities {
        for (what, authorization) in [
            ("no Authorization", None),
            ("a token for another bot", Some(other_audience.as_str())),
            (
                "a token about another service URL",
                Some(other_service.as_str()),
            ),
            ("an expired token", Some(expired.as_str())),
            ("a token from another issuer", Some(other_issuer.as_str())),
        ] {
            let (status, answer) = tocsin.post(activity.to_string(), authorization).await;
            assert_eq!(status, 401, "{name} with {what}: {answer}");
            assert!(
                says(&answer, "Bot Framework"),
                "{name} with {what}: {answer}"
            );
        }
        // A good token whose key is not endorsed for the channel the activity names.
        let mut elsewhere = activity.clone();
        elsewhere["channelId"] = json!("webchat");
        let (status, answer) = tocsin.signed(&identity, &elsewhere).await;
        assert_eq!(status, 403, "{name} from webchat: {answer}");
    }
    // They changed nothing: not one call to Teams, nothing in the store.
    assert_eq!(teams.calls().len(), calls_before, "{:?}", teams.calls());
    assert!(incidents(&tocsin, &token).await.is_empty());
    assert!(alerts(&tocsin, &token).await.is_empty());

    // Signed, every one is taken (those Tocsin has no use for are ignored with a 200).
    for (name, activity) in &activities {
        let (status, answer) = tocsin.signed(&identity, activity).await;
        assert_eq!(status, 200, "{name}: {answer}");
        assert!(answer.is_object(), "{name}: {answer}");
    }
    // A body that is not JSON is 400 even with a good-looking token: the token can only be
    // checked against the serviceUrl inside the body. Without any token it is 401, as the
    // header is looked at first.
    let (status, answer) = tocsin
        .post(
            "this is not an activity".into(),
            Some(&identity.authorization(teams_stub::APP_ID, &teams.service_url())),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = tocsin.post("this is not an activity".into(), None).await;
    assert_eq!(status, 401, "{answer}");

    // The messages among them (the at-mention, the personal message, the Action.Submit
    // press) are no command Tocsin knows: each was answered so, in its own conversation
    // (which the stub does not have: a 404, not a rejection).
    let answered = ["1400900100700", "1531861881427", "f:5261769396935243054"];
    support::until("a reply to each message", || {
        let replied: BTreeSet<String> = teams
            .calls_to("Conversations_ReplyToActivity")
            .into_iter()
            .filter_map(|c| c.params.get("activityId").cloned())
            .collect();
        answered
            .iter()
            .all(|id| replied.contains(*id))
            .then_some(())
    })
    .await;
    for reply in teams.calls_to("Conversations_ReplyToActivity") {
        assert!(
            reply.body["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("Sorry")),
            "{:?}",
            reply.body
        );
        assert_eq!(
            scope_of(&teams, reply.authorization.as_deref()).as_deref(),
            Some(teams_stub::BOT_SCOPE)
        );
    }
    assert!(incidents(&tocsin, &token).await.is_empty());
    teams.assert_no_rejections();
}

#[tokio::test]
async fn declaring_with_an_at_mention_starts_a_thread_posts_the_card_and_announces() {
    let teams = teams_stub::start().await;
    let identity = teams_identity::start().await;
    let tocsin = serve(
        &teams,
        &identity,
        &config(&teams, &[("alice", ALICE)], None, &thread_mode()),
    )
    .await;
    let id = "1700000000101";
    let declare = mention(
        &teams,
        id,
        "<at>Tocsin</at> declare sev2 Checkout is failing",
    );
    let (status, answer) = tocsin.signed(&identity, &declare).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({}), "a message is answered at once, empty");
    // Teams retrying at once (the answer lost) declares nothing more.
    let (status, _) = tocsin.signed(&identity, &declare).await;
    assert_eq!(status, 200);

    // The reply, answering the activity in its thread of General, with a bot token.
    let conversation = mention_conversation(id);
    let reply = support::until("the reply to the declare", || {
        teams
            .activities_in(&conversation)
            .into_iter()
            .find(|a| a.reply_to.as_deref() == Some(id))
    })
    .await;
    assert!(
        says(&reply.body, "Declared INC-1 (sev2): Checkout is failing"),
        "{}",
        reply.body
    );
    assert!(!teams.token_requests().is_empty());
    let replied = teams.calls_to("Conversations_ReplyToActivity");
    assert_eq!(
        scope_of(&teams, replied[0].authorization.as_deref()).as_deref(),
        Some(teams_stub::BOT_SCOPE)
    );

    // A thread started in the Incidents channel, for this bot, in the tenant.
    let thread = support::until("the incident thread", || {
        teams.conversations().into_iter().find(|c| {
            c.kind
                == ConversationKind::Thread {
                    channel: teams_stub::INCIDENTS_CHANNEL.to_owned(),
                }
        })
    })
    .await;
    assert_eq!(thread.tenant.as_deref(), Some(teams_stub::TENANT_ID));
    assert_eq!(thread.parameters["bot"]["id"], json!(bot()));
    assert!(
        says(&thread.parameters["activity"], "inc-1-checkout-is-failing"),
        "{}",
        thread.parameters
    );
    // The incident card in it, an Adaptive Card with the incident's buttons.
    let posted = support::until("the incident card in the thread", || {
        teams
            .activities_in(&thread.id)
            .into_iter()
            .find(|a| card(&a.body).is_some_and(|c| says(c, "INC-1 Checkout is failing")))
    })
    .await;
    let incident_card = card(&posted.body).unwrap();
    assert_eq!(incident_card["type"], "AdaptiveCard");
    assert!(
        execute_action(incident_card, "resolve").is_some(),
        "{incident_card}"
    );
    // The announcement, a new post in the Incidents channel (not the thread's first post).
    let (_, first) = thread.id.split_once(";messageid=").unwrap();
    support::until("the announcement", || {
        teams
            .activities_in(teams_stub::INCIDENTS_CHANNEL)
            .into_iter()
            .find(|a| {
                a.id != first && card(&a.body).is_some_and(|c| says(c, "INC-1 Checkout is failing"))
            })
    })
    .await;

    // Delivered once more after it was answered: still one incident, one thread.
    let (status, _) = tocsin.signed(&identity, &declare).await;
    assert_eq!(status, 200);
    let token = tocsin.token().await;
    let listed = incidents(&tocsin, &token).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["title"], "Checkout is failing");
    let threads = teams
        .conversations()
        .into_iter()
        .filter(|c| matches!(c.kind, ConversationKind::Thread { .. }))
        .count();
    assert_eq!(threads, 1);
    let dead = settle(&tocsin, &token).await;
    assert!(dead.is_empty(), "{dead:?}");
    assert_eq!(teams.activities_in(&thread.id).len(), 1, "one card");
    teams.assert_no_rejections();
}

#[tokio::test]
async fn channel_mode_makes_a_standard_channel_through_graph() {
    let teams = teams_stub::start().await;
    let identity = teams_identity::start().await;
    // The same team and Incidents channel (announcements), but a channel per incident.
    let msteams = format!("incident_channels = \"channel\"\n{}", thread_mode());
    let tocsin = serve(
        &teams,
        &identity,
        &config(&teams, &[("alice", ALICE)], None, &msteams),
    )
    .await;
    let id = "1700000000201";
    let (status, answer) = tocsin
        .signed(
            &identity,
            &mention(
                &teams,
                id,
                "<at>Tocsin</at> declare sev2 Checkout is failing",
            ),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    let channel = support::until("the incident channel", || {
        teams
            .channels_named("inc-1-checkout-is-failing")
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(channel.membership_type, "standard");
    // Made through Graph with a Graph token from the tenant, after looking for the name.
    let created = teams.calls_to("channel-post");
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].status, 201);
    assert_eq!(
        scope_of(&teams, created[0].authorization.as_deref()).as_deref(),
        Some(teams_stub::GRAPH_SCOPE)
    );
    assert!(
        teams
            .issued_tokens()
            .iter()
            .any(|t| t.scope == teams_stub::GRAPH_SCOPE && t.tenant == teams_stub::TENANT_ID)
    );
    assert!(!teams.calls_to("channel-list").is_empty());
    // The card posted in the new channel, with a bot token; the announcement in Incidents.
    let posted = support::until("the card in the channel", || {
        teams
            .activities_in(&channel.id)
            .into_iter()
            .find(|a| card(&a.body).is_some_and(|c| says(c, "INC-1 Checkout is failing")))
    })
    .await;
    assert!(execute_action(card(&posted.body).unwrap(), "resolve").is_some());
    let card_post = teams
        .calls_to("Conversations_SendToConversation")
        .into_iter()
        .find(|c| c.params.get("conversationId") == Some(&channel.id))
        .unwrap();
    assert_eq!(
        scope_of(&teams, card_post.authorization.as_deref()).as_deref(),
        Some(teams_stub::BOT_SCOPE)
    );
    support::until("the announcement", || {
        teams
            .activities_in(teams_stub::INCIDENTS_CHANNEL)
            .into_iter()
            .find(|a| card(&a.body).is_some_and(|c| says(c, "INC-1 Checkout is failing")))
    })
    .await;
    let reply = support::until("the reply", || {
        teams
            .activities_in(&mention_conversation(id))
            .into_iter()
            .find(|a| a.reply_to.as_deref() == Some(id))
    })
    .await;
    assert!(says(&reply.body, "Declared INC-1"), "{}", reply.body);
    // No thread in this mode.
    assert!(
        teams
            .conversations()
            .iter()
            .all(|c| !matches!(c.kind, ConversationKind::Thread { .. })),
        "{:?}",
        teams.conversations()
    );
    let token = tocsin.token().await;
    let dead = settle(&tocsin, &token).await;
    assert!(dead.is_empty(), "{dead:?}");
    teams.assert_no_rejections();
}

#[tokio::test]
async fn acknowledge_on_an_alert_card_updates_it_in_place() {
    let teams = teams_stub::start().await;
    let identity = teams_identity::start().await;
    // On Teams an alert channel is a conversation id: the service's cards go to a channel
    // of the stub's team.
    let alerts_channel = teams.add_channel("Alerts");
    let tocsin = serve(
        &teams,
        &identity,
        &config(
            &teams,
            &[("alice", ALICE)],
            Some(&alerts_channel),
            &thread_mode(),
        ),
    )
    .await;
    tocsin.fire_checkout_alerts().await;

    let (posted, ack) = support::until("an alert card with an Acknowledge button", || {
        teams
            .activities_in(&alerts_channel)
            .into_iter()
            .find_map(|a| {
                let ack = execute_action(card(&a.body)?, "alert_ack")?.clone();
                Some((a, ack))
            })
    })
    .await;
    assert_eq!(ack["title"], "Acknowledge");
    let press = |id: &str| {
        let mut invoke = activity_fixture("completed-invoke-adaptiveCard-action.json");
        invoke["id"] = json!(id);
        invoke["serviceUrl"] = json!(teams.service_url());
        invoke["from"] = json!({ "id": ALICE, "name": "Alice Smith" });
        invoke["conversation"] = json!({
            "isGroup": true,
            "conversationType": "channel",
            "tenantId": teams_stub::TENANT_ID,
            "id": format!("{alerts_channel};messageid={}", posted.id),
        });
        invoke["recipient"] = json!({ "id": bot(), "name": "Tocsin" });
        invoke["channelData"] = json!({
            "channel": { "id": alerts_channel },
            "team": { "id": teams_stub::GENERAL_CHANNEL },
            "tenant": { "id": teams_stub::TENANT_ID },
        });
        invoke["replyToId"] = json!(posted.id);
        invoke["value"] = json!({
            "action": {
                "type": "Action.Execute",
                "id": "ack",
                "verb": ack["verb"],
                "data": ack["data"],
            },
            "trigger": "manual",
        });
        invoke
    };
    let (status, answer) = tocsin.signed(&identity, &press("f:tocsin-ack-1")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        answer["type"], "application/vnd.microsoft.activity.message",
        "{answer}"
    );
    assert!(says(&answer["value"], "Acknowledged"), "{answer}");

    // The card replaced in place, acknowledged, without the button.
    let updated = support::until("the card updated in place", || {
        teams
            .activity(&posted.id)
            .filter(|a| says(&a.body, "acknowledged by user:alice"))
    })
    .await;
    assert!(updated.edits > 0);
    let updated_card = card(&updated.body).expect("still an Adaptive Card");
    assert!(
        execute_action(updated_card, "alert_ack").is_none(),
        "{updated_card}"
    );
    let put = teams
        .calls_to("Conversations_UpdateActivity")
        .into_iter()
        .rev()
        .find(|c| c.params.get("activityId") == Some(&posted.id) && says(&c.body, "acknowledged"))
        .expect("a PUT of the card");
    assert_eq!(put.method, "PUT");
    assert_eq!(put.status, 200);
    assert_eq!(
        put.params.get("conversationId").map(String::as_str),
        Some(alerts_channel.as_str())
    );
    // Its alert, over the API.
    let token = tocsin.token().await;
    let alert_id = ack["data"]["value"].as_str().unwrap();
    let alert = tocsin
        .get(&token, &format!("/api/v1/alerts/{alert_id}"))
        .await;
    assert_eq!(alert["status"], "acknowledged", "{alert}");
    assert_eq!(alert["acknowledged_by"], "user:alice", "{alert}");
    // The same press delivered again acknowledges nothing twice.
    let (status, again) = tocsin.signed(&identity, &press("f:tocsin-ack-1")).await;
    assert_eq!(status, 200);
    assert!(says(&again, "Already handled"), "{again}");
    // Once every update has gone out, the card still shows the acknowledgement: no
    // update from before it (the pages being recorded) came last.
    let dead = settle(&tocsin, &token).await;
    assert!(dead.is_empty(), "{dead:?}");
    let last = teams.activity(&posted.id).unwrap();
    assert!(
        says(&last.body, "acknowledged by user:alice"),
        "{}",
        last.body
    );
    assert!(execute_action(card(&last.body).unwrap(), "alert_ack").is_none());
    teams.assert_no_rejections();
}

#[tokio::test]
async fn a_page_goes_to_the_on_call_person_as_a_proactive_dm() {
    let teams = teams_stub::start().await;
    let identity = teams_identity::start().await;
    let alerts_channel = teams.add_channel("Alerts");
    // Everyone the checkout policy can reach first is on Teams.
    let people = [
        ("alice", ALICE),
        ("bob", BOB),
        ("carla", CARLA),
        ("dieter", DIETER),
    ];
    let tocsin = serve(
        &teams,
        &identity,
        &config(&teams, &people, Some(&alerts_channel), &thread_mode()),
    )
    .await;
    tocsin.fire_checkout_alerts().await;
    let token = tocsin.token().await;

    // Whom Tocsin paged, as it recorded it: whoever is on call for checkout-primary now.
    let (paged, summaries) = support::eventually(
        "a page recorded on an alert",
        Duration::from_secs(30),
        || {
            let (tocsin, token) = (&tocsin, &token);
            async move {
                let alerts = alerts(tocsin, token).await;
                let summaries: Vec<String> = alerts
                    .iter()
                    .filter_map(|a| a["summary"].as_str().map(str::to_owned))
                    .collect();
                for alert in &alerts {
                    let id = alert["id"].as_str()?;
                    let timeline = tocsin
                        .get(token, &format!("/api/v1/alerts/{id}/timeline"))
                        .await;
                    let user = timeline
                        .as_array()?
                        .iter()
                        .filter(|e| e["kind"] == "paged")
                        .find_map(|e| e["data"]["user"].as_str().map(str::to_owned));
                    if let Some(user) = user {
                        return Some((user, summaries));
                    }
                }
                None
            }
        },
    )
    .await;
    let member = people
        .iter()
        .find(|(user, _)| *user == paged)
        .map(|(_, id)| id.to_string())
        .unwrap_or_else(|| panic!("{paged} was paged, who is not in the payments team"));

    // A 1:1 chat with them: the bot as 28:<app id>, in the tenant, them the one member.
    let chat = support::until("the 1:1 chat with the paged person", || {
        teams
            .conversations()
            .into_iter()
            .find(|c| matches!(&c.kind, ConversationKind::Personal { member: m } if *m == member))
    })
    .await;
    assert_eq!(chat.tenant.as_deref(), Some(teams_stub::TENANT_ID));
    assert_eq!(chat.parameters["bot"]["id"], json!(bot()));
    assert_eq!(chat.parameters["members"], json!([{ "id": member }]));
    assert_eq!(chat.parameters["isGroup"], false);
    // Then the page in it: the alert's card, with its buttons.
    let page = support::until("the page in the chat", || {
        teams
            .activities_in(&chat.id)
            .into_iter()
            .find(|a| says(&a.body, "You are paged"))
    })
    .await;
    let page_card = card(&page.body).expect("an Adaptive Card");
    assert!(
        summaries.iter().any(|s| says(page_card, s)),
        "{summaries:?} in {page_card}"
    );
    assert!(
        execute_action(page_card, "alert_ack").is_some(),
        "{page_card}"
    );
    // Nobody else was written to.
    let personal: Vec<_> = teams
        .conversations()
        .into_iter()
        .filter(|c| matches!(c.kind, ConversationKind::Personal { .. }))
        .collect();
    assert_eq!(personal.len(), 1, "{personal:?}");
    let dead = settle(&tocsin, &token).await;
    assert!(dead.is_empty(), "{dead:?}");
    teams.assert_no_rejections();
}

#[tokio::test]
async fn a_429_from_the_connector_is_waited_out() {
    let teams = teams_stub::start().await;
    let identity = teams_identity::start().await;
    // The reply and the first card post are each answered 429 once, asking for a second.
    teams.rate_limit_next("Conversations_ReplyToActivity", 1, 1);
    teams.rate_limit_next("Conversations_SendToConversation", 1, 1);
    let tocsin = serve(
        &teams,
        &identity,
        &config(&teams, &[("alice", ALICE)], None, &thread_mode()),
    )
    .await;
    let id = "1700000000601";
    let (status, answer) = tocsin
        .signed(
            &identity,
            &mention(
                &teams,
                id,
                "<at>Tocsin</at> declare sev2 Checkout is failing",
            ),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    let reply = support::until("the reply, once the 429 is waited out", || {
        teams
            .activities_in(&mention_conversation(id))
            .into_iter()
            .find(|a| a.reply_to.as_deref() == Some(id))
    })
    .await;
    assert!(says(&reply.body, "Declared INC-1"), "{}", reply.body);
    let replies = teams.calls_to("Conversations_ReplyToActivity");
    let statuses: Vec<u16> = replies.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 201]);
    assert_eq!(replies[0].path, replies[1].path);
    assert!(
        replies[1].at.duration_since(replies[0].at) >= Duration::from_secs(1),
        "retried after {:?}",
        replies[1].at.duration_since(replies[0].at)
    );

    let thread = support::until("the incident thread", || {
        teams
            .conversations()
            .into_iter()
            .find(|c| matches!(c.kind, ConversationKind::Thread { .. }))
    })
    .await;
    support::until("the card in the thread", || {
        teams
            .activities_in(&thread.id)
            .into_iter()
            .find(|a| card(&a.body).is_some_and(|c| says(c, "INC-1 Checkout is failing")))
    })
    .await;
    let posts: Vec<_> = teams
        .calls_to("Conversations_SendToConversation")
        .into_iter()
        .filter(|c| c.params.get("conversationId") == Some(&thread.id))
        .collect();
    let statuses: Vec<u16> = posts.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 201], "one 429, then the card once");
    assert!(posts[1].at.duration_since(posts[0].at) >= Duration::from_secs(1));
    assert_eq!(teams.activities_in(&thread.id).len(), 1);
    let token = tocsin.token().await;
    let dead = settle(&tocsin, &token).await;
    assert!(dead.is_empty(), "{dead:?}");
    // Only the 429s, which are no rejections.
    teams.assert_no_rejections();
}

#[tokio::test]
async fn someone_the_file_does_not_name_is_linked_by_e_mail_and_acts_as_themselves() {
    let teams = teams_stub::start().await;
    let identity = teams_identity::start().await;
    // Only alice has a Teams id in the file; bob is in the tenant under his e-mail.
    teams.add_member(BOB, "Bob Jones", "bob@example.com");
    teams.add_member(
        "29:1stubStrangerId",
        "Zoe Stranger",
        "zoe@elsewhere.example",
    );
    let tocsin = serve(
        &teams,
        &identity,
        &config(&teams, &[("alice", ALICE)], None, &thread_mode()),
    )
    .await;
    let token = tocsin.token().await;
    let mut declare = mention(
        &teams,
        "1700000000601",
        "<at>Tocsin</at> declare sev3 Cache is cold",
    );
    declare["from"] = json!({ "id": BOB, "name": "Bob Jones" });
    let (status, _) = tocsin.signed(&identity, &declare).await;
    assert_eq!(status, 200);
    let incident = support::eventually("bob's incident", Duration::from_secs(30), || async {
        incidents(&tocsin, &token).await.into_iter().next()
    })
    .await;
    assert_eq!(incident["declared_by"], "user:bob", "{incident}");
    assert_eq!(
        teams.calls_to("Conversations_GetConversationMembers").len(),
        1
    );
    // A second message needs no second look-up.
    let mut status_of = mention(&teams, "1700000000602", "<at>Tocsin</at> status 1");
    status_of["from"] = json!({ "id": BOB, "name": "Bob Jones" });
    tocsin.signed(&identity, &status_of).await;
    support::until("the status reply", || {
        teams
            .activities_in(&mention_conversation("1700000000602"))
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(
        teams.calls_to("Conversations_GetConversationMembers").len(),
        1
    );

    // Someone whose e-mail is nobody's stays a stranger: they may look, not act.
    let mut stranger = mention(
        &teams,
        "1700000000603",
        "<at>Tocsin</at> declare sev3 Not mine",
    );
    stranger["from"] = json!({ "id": "29:1stubStrangerId", "name": "Zoe Stranger" });
    tocsin.signed(&identity, &stranger).await;
    let refused = support::until("the refusal", || {
        teams
            .activities_in(&mention_conversation("1700000000603"))
            .into_iter()
            .next()
    })
    .await;
    assert!(says(&refused.body, "/incident link"), "{}", refused.body);
    assert_eq!(incidents(&tocsin, &token).await.len(), 1);
    teams.assert_no_rejections();
}

#[tokio::test]
async fn declare_without_a_title_opens_the_form_and_its_submission_declares() {
    let teams = teams_stub::start().await;
    let identity = teams_identity::start().await;
    let tocsin = serve(
        &teams,
        &identity,
        &config(&teams, &[("alice", ALICE)], None, &thread_mode()),
    )
    .await;
    let token = tocsin.token().await;
    let (status, _) = tocsin
        .signed(
            &identity,
            &mention(&teams, "1700000000701", "<at>Tocsin</at> declare"),
        )
        .await;
    assert_eq!(status, 200);
    // Teams opens forms only from a button: the reply is a card whose button asks for it.
    let reply = support::until("the card that opens the form", || {
        teams
            .activities_in(&mention_conversation("1700000000701"))
            .into_iter()
            .next()
    })
    .await;
    let launcher = card(&reply.body)
        .and_then(|c| c["actions"].as_array())
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or_else(|| panic!("no button in {}", reply.body));
    assert_eq!(
        launcher["data"]["msteams"]["type"], "task/fetch",
        "{launcher}"
    );

    // The press: task/fetch with the button's data, as the published invoke carries it.
    let mut fetch = activity_fixture("completed-invoke-task-fetch.json");
    fetch["id"] = json!("f:1700000000702");
    fetch["serviceUrl"] = json!(teams.service_url());
    fetch["from"] = json!({ "id": ALICE, "name": "Alice Smith" });
    fetch["recipient"] = json!({ "id": bot(), "name": "Tocsin" });
    fetch["conversation"] = json!({ "id": mention_conversation("1700000000701") });
    fetch["channelData"] = json!({
        "channel": { "id": teams_stub::GENERAL_CHANNEL },
        "tenant": { "id": teams_stub::TENANT_ID },
    });
    fetch["value"] = json!({ "data": launcher["data"], "context": { "theme": "default" } });
    let (status, form) = tocsin.signed(&identity, &fetch).await;
    assert_eq!(status, 200, "{form}");
    assert_eq!(form["task"]["type"], "continue", "{form}");
    let inputs: Vec<String> = form["task"]["value"]["card"]["content"]["body"]
        .as_array()
        .unwrap_or_else(|| panic!("a form: {form}"))
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        inputs.contains(&"title".to_owned()) && inputs.contains(&"severity".to_owned()),
        "{inputs:?}"
    );
    let submit = form["task"]["value"]["card"]["content"]["actions"][0]["data"].clone();

    // Submitted without a title: the form stays open and says why.
    let mut submit_activity = fetch.clone();
    submit_activity["name"] = json!("task/submit");
    submit_activity["id"] = json!("f:1700000000703");
    let mut data = submit.clone();
    data["severity"] = json!("sev2");
    submit_activity["value"] = json!({ "data": data });
    let (status, refused) = tocsin.signed(&identity, &submit_activity).await;
    assert_eq!(status, 200, "{refused}");
    assert_eq!(refused["task"]["type"], "continue", "{refused}");
    assert!(says(&refused, "title"), "{refused}");
    assert!(incidents(&tocsin, &token).await.is_empty());

    // With a title it declares, and the dialog closes with the outcome.
    submit_activity["id"] = json!("f:1700000000704");
    data["title"] = json!("Search is down");
    submit_activity["value"] = json!({ "data": data });
    let (status, done) = tocsin.signed(&identity, &submit_activity).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["task"]["type"], "message", "{done}");
    assert!(
        says(&done, "Declared INC-1 (sev2): Search is down"),
        "{done}"
    );
    let declared = incidents(&tocsin, &token).await;
    assert_eq!(declared.len(), 1);
    assert_eq!(declared[0]["declared_by"], "user:alice");
    teams.assert_no_rejections();
}

#[tokio::test]
async fn added_to_a_team_tocsin_learns_its_channels() {
    let teams = teams_stub::start().await;
    let identity = teams_identity::start().await;
    let tocsin = serve(
        &teams,
        &identity,
        &config(&teams, &[("alice", ALICE)], None, &thread_mode()),
    )
    .await;
    let mut added = activity_fixture("msteams-docs-conversationUpdate-bot-added-to-team.json");
    added["serviceUrl"] = json!(teams.service_url());
    added["recipient"] = json!({ "id": bot(), "name": "Tocsin" });
    added["membersAdded"] = json!([{ "id": bot() }]);
    let team = added["channelData"]["team"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, answer) = tocsin.signed(&identity, &added).await;
    assert_eq!(status, 200, "{answer}");
    let listed = support::until("the team's channel list", || {
        teams
            .calls_to("Teams_FetchChannelList")
            .into_iter()
            .find(|c| c.status == 200)
    })
    .await;
    assert_eq!(listed.params.get("teamId"), Some(&team), "{listed:?}");
    teams.assert_no_rejections();
}
