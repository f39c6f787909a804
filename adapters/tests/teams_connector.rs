//! The Teams client against a stub of the token endpoint, the Bot Connector and Graph's
//! channel routes on loopback; the stub holds every connector call to the published
//! swagger description (routes, bearer token, body definitions).

mod teams_stub;

use std::sync::Arc;
use std::time::Duration;

use adapters::teams::connector::{ChannelMode, TeamsClient, TeamsSettings};
use adapters::teams::render;
use adapters::teams::token::{AppCredentials, TokenSource};
use bot_core::chat::{Button, ButtonStyle, ChatError, ChatPlatform, Field, Message, Tone};
use serde_json::{Value, json};
use teams_stub::{Failure, TeamsStub};

const SEND: &str = "Conversations_SendToConversation";
const CREATE: &str = "Conversations_CreateConversation";

fn credentials(stub: &TeamsStub) -> AppCredentials {
    AppCredentials {
        app_id: teams_stub::APP_ID.into(),
        app_password: teams_stub::APP_PASSWORD.into(),
        tenant_id: None,
        login_url: stub.login_url(),
    }
}

fn settings(stub: &TeamsStub, mode: ChannelMode) -> TeamsSettings {
    TeamsSettings {
        credentials: credentials(stub),
        service_url: stub.service_url(),
        tenant_id: Some(teams_stub::TENANT_ID.into()),
        team_id: Some(teams_stub::TEAM_ID.into()),
        incidents_channel: Some(teams_stub::INCIDENTS_CHANNEL.into()),
        incident_channels: mode,
        graph_url: stub.graph_url(),
    }
}

fn client(stub: &TeamsStub) -> TeamsClient {
    TeamsClient::new(settings(stub, ChannelMode::Channel)).expect("a client")
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
        buttons: vec![Button {
            action: "ack".into(),
            value: "7".into(),
            label: "Acknowledge".into(),
            style: ButtonStyle::Primary,
        }],
        context: Some("Declared by alice".into()),
    }
}

/// A published request example under `connector-api/requests`.
fn fixture(name: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/teams/connector-api/requests/"
    );
    std::fs::read_to_string(format!("{path}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The JSON body of a published `.http` request.
fn fixture_body(name: &str) -> Value {
    let text = fixture(name);
    // After the headers; the request line may hold `{Service URL of your bot}`.
    let start = text.find("\n{").expect("a JSON body");
    serde_json::from_str(&text[start..]).expect("the body is JSON")
}

fn bearer(stub: &TeamsStub, index: usize) -> String {
    format!("Bearer {}", stub.issued_tokens()[index].token)
}

#[tokio::test]
async fn the_bot_token_is_fetched_once_and_used_for_every_call() {
    let stub = teams_stub::start().await;
    let teams = client(&stub);
    for status in ["investigating", "identified", "monitoring"] {
        teams
            .post_message(teams_stub::INCIDENTS_CHANNEL, &card(status))
            .await
            .expect("posted");
    }
    let requests = stub.token_requests();
    assert_eq!(requests.len(), 1, "one token for three posts");
    // The published multi-tenant request: same route, same grant and scope.
    let published = fixture("token-request.multitenant.http");
    assert!(published.starts_with("POST https://login.microsoftonline.com/botframework.com/"));
    assert_eq!(requests[0].path, "/botframework.com/oauth2/v2.0/token");
    assert_eq!(requests[0].body["grant_type"], "client_credentials");
    assert_eq!(
        requests[0].body["scope"],
        "https://api.botframework.com/.default"
    );
    assert!(published.contains("scope=https%3A%2F%2Fapi.botframework.com%2F.default"));
    let posts = stub.calls_to(SEND);
    assert_eq!(posts.len(), 3);
    for post in &posts {
        assert_eq!(
            post.authorization.as_deref(),
            Some(bearer(&stub, 0).as_str())
        );
        assert_eq!(post.service.as_deref(), Some("teams"));
    }
    stub.assert_no_rejections();
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let stub = teams_stub::start().await;
    let tokens = Arc::new(
        TokenSource::new(AppCredentials {
            tenant_id: Some(teams_stub::TENANT_ID.into()),
            ..credentials(&stub)
        })
        .expect("a token source"),
    );
    let mut waiting = Vec::new();
    for _ in 0..8 {
        let tokens = tokens.clone();
        waiting.push(tokio::spawn(async move { tokens.bot_token().await }));
    }
    let mut got = Vec::new();
    for task in waiting {
        got.push(task.await.expect("joined").expect("a token"));
    }
    assert!(got.iter().all(|t| *t == got[0]));
    let requests = stub.token_requests();
    assert_eq!(requests.len(), 1);
    // A single-tenant app asks its own tenant.
    assert_eq!(
        requests[0].path,
        format!("/{}/oauth2/v2.0/token", teams_stub::TENANT_ID)
    );
    // The Graph token is another one, for Graph's scope.
    let graph = tokens.graph_token().await.expect("a Graph token");
    assert_ne!(graph, got[0]);
    assert_eq!(
        stub.token_requests()[1].body["scope"],
        "https://graph.microsoft.com/.default"
    );
    stub.assert_no_rejections();
}

#[tokio::test]
async fn a_card_is_posted_to_a_channel_and_updated_in_place() {
    let stub = teams_stub::start().await;
    let teams = client(&stub);
    assert_eq!(teams.name(), adapters::teams::PLATFORM);
    assert_eq!(
        teams.announcements_channel().as_deref(),
        Some(teams_stub::INCIDENTS_CHANNEL)
    );
    let channel = teams_stub::INCIDENTS_CHANNEL;
    let id = teams
        .post_message(channel, &card("investigating"))
        .await
        .expect("posted");
    let posted = stub.activity(&id).expect("the stub has it");
    assert_eq!(posted.conversation, channel);
    assert_eq!(posted.body["type"], "message");
    assert_eq!(
        posted.body["attachments"],
        json!([render::attachment(&card("investigating"))])
    );
    assert_eq!(posted.body["summary"], card("investigating").plain());
    // The channel id went as one escaped path segment.
    assert!(
        stub.calls_to(SEND)[0]
            .path
            .starts_with("/v3/conversations/19%3Astub-incidents-0000%40thread%2Etacv2/"),
        "{}",
        stub.calls_to(SEND)[0].path
    );

    teams
        .update_message(channel, &id, &card("resolved"))
        .await
        .expect("updated");
    let updated = stub.activity(&id).expect("still there");
    assert_eq!(updated.edits, 1);
    assert_eq!(updated.body["id"], id);
    assert_eq!(
        updated.body["attachments"][0]["content"],
        render::card(&card("resolved"))
    );
    let puts = stub.calls_to("PUT /v3/conversations/{conversationId}/activities/{activityId}");
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].params["activityId"], id);
    assert_eq!(
        stub.activities_in(channel).len(),
        1,
        "updated, not posted again"
    );
    stub.assert_no_rejections();
}

#[tokio::test]
async fn a_dm_opens_the_personal_chat_then_posts_there() {
    let stub = teams_stub::start().await;
    let teams = client(&stub);
    let user = teams_stub::USER;
    let id = teams
        .send_dm(user, &Message::text("You are paged (level 1)."))
        .await
        .expect("sent");
    let (conversation, activity) = id.split_once('|').expect("conversation|activity");
    let made = stub.conversation(conversation).expect("a conversation");
    assert_eq!(
        made.kind,
        teams_stub::ConversationKind::Personal {
            member: user.to_owned()
        }
    );
    // The published personal-conversation request, with our bot, user and tenant.
    let published = fixture_body("teams-create-personal-conversation.request.http");
    let sent = &stub.calls_to(CREATE)[0].body;
    for key in ["bot", "members", "channelData"] {
        assert!(
            published.get(key).is_some() && sent.get(key).is_some(),
            "{key}"
        );
    }
    assert_eq!(sent["bot"]["id"], format!("28:{}", teams_stub::APP_ID));
    assert_eq!(sent["members"], json!([{ "id": user }]));
    assert_eq!(sent["channelData"]["tenant"]["id"], teams_stub::TENANT_ID);
    assert_eq!(sent["isGroup"], false);
    let posted = stub.activity(activity).expect("posted");
    assert_eq!(posted.conversation, conversation);
    assert_eq!(posted.body["summary"], "You are paged (level 1).");

    // Updated through the user id, as the caller stored it.
    teams
        .update_message(user, &id, &Message::text("Acknowledged by bob."))
        .await
        .expect("updated");
    assert_eq!(
        stub.activity(activity).expect("there").body["summary"],
        "Acknowledged by bob."
    );
    // A second page reuses the chat.
    let second = teams
        .send_dm(user, &Message::text("Still paged."))
        .await
        .expect("sent again");
    assert!(second.starts_with(&format!("{conversation}|")));
    assert_eq!(stub.calls_to(CREATE).len(), 1);
    assert_eq!(stub.activities_in(conversation).len(), 2);
    stub.assert_no_rejections();
}

#[tokio::test]
async fn channel_mode_creates_a_standard_channel_through_graph_and_finds_it_on_rerun() {
    let stub = teams_stub::start().await;
    let teams = client(&stub);
    let first = teams
        .create_channel(
            "inc-20261124-checkout-is-failing",
            "INC-7 · sev1 · investigating",
        )
        .await
        .expect("created");
    assert_eq!(first.platform, "teams");
    assert_eq!(first.name, "inc-20261124-checkout-is-failing");
    let channel = stub.channel(&first.channel_id).expect("the stub has it");
    assert_eq!(channel.membership_type, "standard");
    assert_eq!(
        channel.description.as_deref(),
        Some("INC-7 · sev1 · investigating")
    );

    let again = teams
        .create_channel(
            "inc-20261124-checkout-is-failing",
            "INC-7 · sev1 · investigating",
        )
        .await
        .expect("found");
    assert_eq!(again, first);
    assert_eq!(
        stub.channels_named("inc-20261124-checkout-is-failing")
            .len(),
        1
    );
    assert_eq!(stub.calls_to("channel-post").len(), 1);
    let lists = stub.calls_to("channel-list");
    assert_eq!(lists.len(), 2);
    assert_eq!(
        lists[0].query.as_deref(),
        Some("$filter=displayName%20eq%20%27inc-20261124-checkout-is-failing%27")
    );

    // Graph calls carry the Graph token, asked of the team's tenant.
    let graph_token = stub
        .issued_tokens()
        .into_iter()
        .find(|t| t.scope == teams_stub::GRAPH_SCOPE)
        .expect("a Graph token");
    assert_eq!(graph_token.tenant, teams_stub::TENANT_ID);
    for call in stub
        .calls()
        .iter()
        .filter(|c| c.api == teams_stub::Api::Graph)
    {
        assert_eq!(
            call.authorization.as_deref(),
            Some(format!("Bearer {}", graph_token.token).as_str())
        );
    }

    // The topic is the channel's description; invite and pin need no call.
    let calls = stub.calls().len();
    teams
        .invite(&first.channel_id, &[teams_stub::USER.to_owned()])
        .await
        .expect("nothing to invite");
    teams
        .pin(&first.channel_id, "1700000000001")
        .await
        .expect("no pins");
    assert_eq!(stub.calls().len(), calls);
    teams
        .set_topic(&first.channel_id, "INC-7 · sev1 · resolved")
        .await
        .expect("topic set");
    assert_eq!(
        stub.channel(&first.channel_id)
            .expect("there")
            .description
            .as_deref(),
        Some("INC-7 · sev1 · resolved")
    );
    stub.assert_no_rejections();
}

#[tokio::test]
async fn a_channel_made_between_the_look_and_the_create_is_found() {
    let stub = teams_stub::start().await;
    let teams = client(&stub);
    let existing = stub.add_channel("inc-42");
    // The first look sees nothing (as if another replica created it just after).
    stub.fail_next(
        "channel-list",
        Failure::Answer {
            status: 200,
            body: json!({ "value": [] }),
        },
    );
    let found = teams.create_channel("inc-42", "").await.expect("found");
    assert_eq!(found.channel_id, existing);
    let posts = stub.calls_to("channel-post");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].status, 400, "Graph said the name is taken");
    assert_eq!(stub.channels_named("inc-42").len(), 1);
    stub.assert_no_rejections();
}

#[tokio::test]
async fn thread_mode_starts_a_thread_in_the_incidents_channel() {
    let stub = teams_stub::start().await;
    let teams = TeamsClient::new(settings(&stub, ChannelMode::Thread)).expect("a client");
    let thread = teams
        .create_channel("inc-7-checkout", "INC-7 · sev1 · investigating")
        .await
        .expect("started");
    assert!(
        thread
            .channel_id
            .starts_with(&format!("{};messageid=", teams_stub::INCIDENTS_CHANNEL)),
        "{}",
        thread.channel_id
    );
    assert_eq!(thread.name, "inc-7-checkout");
    let made = stub.conversation(&thread.channel_id).expect("a thread");
    assert_eq!(
        made.kind,
        teams_stub::ConversationKind::Thread {
            channel: teams_stub::INCIDENTS_CHANNEL.to_owned()
        }
    );
    // The published channel-conversation request's shape.
    let published = fixture_body("teams-create-channel-conversation.request.http");
    let sent = &made.parameters;
    assert_eq!(sent["isGroup"], published["isGroup"]);
    assert_eq!(
        sent["channelData"]["channel"]["id"],
        teams_stub::INCIDENTS_CHANNEL
    );
    assert_eq!(sent["activity"]["type"], published["activity"]["type"]);
    assert_eq!(
        sent["activity"]["summary"],
        "inc-7-checkout\nINC-7 · sev1 · investigating"
    );

    // The card goes into the thread; `;` and `@` escaped in the path.
    let id = teams
        .post_message(&thread.channel_id, &card("investigating"))
        .await
        .expect("posted in the thread");
    assert_eq!(
        stub.activity(&id).expect("there").conversation,
        thread.channel_id
    );
    assert!(stub.calls_to(SEND)[0].path.contains("%3Bmessageid%3D"));

    // A rerun in this process finds the thread; threads have no topic.
    let again = teams
        .create_channel("inc-7-checkout", "INC-7 · sev1 · investigating")
        .await
        .expect("found");
    assert_eq!(again, thread);
    teams
        .set_topic(&thread.channel_id, "resolved")
        .await
        .expect("nothing to set");
    assert_eq!(stub.calls_to(CREATE).len(), 1);
    assert!(stub.calls().iter().all(|c| c.api != teams_stub::Api::Graph));
    stub.assert_no_rejections();
}

#[tokio::test]
async fn a_429_is_waited_for_and_tried_again() {
    let stub = teams_stub::start().await;
    let teams = client(&stub);
    stub.rate_limit_next(SEND, 1, 1);
    let id = teams
        .post_message(teams_stub::INCIDENTS_CHANNEL, &card("investigating"))
        .await
        .expect("posted on the second try");
    let posts = stub.calls_to(SEND);
    assert_eq!(posts.len(), 2);
    assert_eq!((posts[0].status, posts[1].status), (429, 201));
    let waited = posts[1].at.duration_since(posts[0].at);
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
    assert!(stub.activity(&id).is_some());
    stub.assert_no_rejections();
}

#[tokio::test]
async fn long_or_lasting_limits_go_back_to_the_job_queue() {
    let stub = teams_stub::start().await;
    let teams = client(&stub);
    // Longer than the client waits: one call, then the job queue's turn.
    stub.rate_limit_next(SEND, 1, 30);
    let error = teams
        .post_message(teams_stub::INCIDENTS_CHANNEL, &Message::text("hi"))
        .await
        .expect_err("limited");
    assert!(
        matches!(error, ChatError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(30)),
        "{error:?}"
    );
    assert_eq!(stub.calls_to(SEND).len(), 1);

    // Every attempt limited: three calls, then rate limited.
    stub.rate_limit_next(SEND, 3, 0);
    let error = teams
        .post_message(teams_stub::INCIDENTS_CHANNEL, &Message::text("hi"))
        .await
        .expect_err("limited");
    assert!(matches!(error, ChatError::RateLimited { .. }), "{error:?}");
    assert_eq!(stub.calls_to(SEND).len(), 4);

    // Server errors: tried three times, then unavailable.
    for _ in 0..3 {
        stub.fail_next(SEND, Failure::Status(503));
    }
    let error = teams
        .post_message(teams_stub::INCIDENTS_CHANNEL, &Message::text("hi"))
        .await
        .expect_err("unavailable");
    assert!(matches!(error, ChatError::Unavailable(_)), "{error:?}");
    assert_eq!(stub.calls_to(SEND).len(), 7);
    stub.assert_no_rejections();
}

#[tokio::test]
async fn a_401_drops_the_token_and_tries_once_more() {
    let stub = teams_stub::start().await;
    let teams = client(&stub);
    teams
        .post_message(teams_stub::INCIDENTS_CHANNEL, &Message::text("one"))
        .await
        .expect("posted");
    let first = bearer(&stub, 0);
    stub.revoke_tokens();
    teams
        .post_message(teams_stub::INCIDENTS_CHANNEL, &Message::text("two"))
        .await
        .expect("posted with a new token");
    assert_eq!(stub.token_requests().len(), 2);
    let posts = stub.calls_to(SEND);
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[1].status, 401);
    assert_eq!(posts[1].authorization.as_deref(), Some(first.as_str()));
    assert_eq!(posts[2].status, 201);
    assert_eq!(
        posts[2].authorization.as_deref(),
        Some(bearer(&stub, 1).as_str())
    );

    // Refused again with the new token: no third try.
    for _ in 0..2 {
        stub.fail_next(
            SEND,
            Failure::Error {
                status: 401,
                code: "Unauthorized".into(),
                message: "The bot is not part of this tenant.".into(),
            },
        );
    }
    let error = teams
        .post_message(teams_stub::INCIDENTS_CHANNEL, &Message::text("three"))
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, ChatError::Refused(m) if m.contains("not part of this tenant")),
        "{error:?}"
    );
    assert_eq!(stub.calls_to(SEND).len(), 5);
    assert_eq!(stub.token_requests().len(), 3);
}

#[tokio::test]
async fn connector_errors_are_refusals_with_their_message() {
    let stub = teams_stub::start().await;
    let teams = client(&stub);
    stub.fail_next(
        SEND,
        Failure::Error {
            status: 400,
            code: "BadSyntax".into(),
            message: "Incorrect conversation creation parameters".into(),
        },
    );
    let error = teams
        .post_message(teams_stub::INCIDENTS_CHANNEL, &Message::text("hi"))
        .await
        .expect_err("refused");
    let ChatError::Refused(message) = &error else {
        panic!("{error:?}");
    };
    assert!(
        message.contains("Incorrect conversation creation parameters"),
        "{message}"
    );
    assert!(message.contains("BadSyntax"), "{message}");
    assert!(
        message.contains("POST /v3/conversations/{conversationId}/activities"),
        "the route template, not the URL: {message}"
    );
    assert!(!message.contains("127.0.0.1"), "{message}");
    for token in stub.issued_tokens() {
        assert!(!message.contains(&token.token));
    }
    assert_eq!(stub.calls_to(SEND).len(), 1, "a refusal is not tried again");

    // The stub's own answer to an activity it does not have.
    let error = teams
        .update_message(teams_stub::INCIDENTS_CHANNEL, "1", &Message::text("x"))
        .await
        .expect_err("no such activity");
    assert!(
        matches!(&error, ChatError::Refused(m) if m.contains("ActivityNotFoundInConversation")),
        "{error:?}"
    );
    stub.assert_no_rejections();
}

#[tokio::test]
async fn replies_go_to_the_service_url_of_the_activity() {
    let stub = teams_stub::start().await;
    let teams = client(&stub);
    let asked = teams
        .post_message(
            teams_stub::INCIDENTS_CHANNEL,
            &Message::text("@Tocsin status"),
        )
        .await
        .expect("posted");
    let thread = format!("{};messageid={asked}", teams_stub::INCIDENTS_CHANNEL);
    let reply = teams
        .reply(
            &stub.regional_service_url("emea"),
            &thread,
            &asked,
            &Message::text("INC-7 is investigating"),
        )
        .await
        .expect("replied");
    let replied = stub.activity(&reply).expect("there");
    assert_eq!(replied.reply_to.as_deref(), Some(asked.as_str()));
    assert_eq!(replied.body["replyToId"], asked);
    let call = &stub.calls_to("Conversations_ReplyToActivity")[0];
    assert_eq!(call.service.as_deref(), Some("emea"));
    assert_eq!(call.params["conversationId"], thread);

    // An activity's service URL moves later calls too.
    teams.set_service_url(&stub.regional_service_url("amer"));
    teams
        .post_message(teams_stub::INCIDENTS_CHANNEL, &Message::text("moved"))
        .await
        .expect("posted");
    assert_eq!(
        stub.calls_to(SEND)
            .last()
            .expect("a post")
            .service
            .as_deref(),
        Some("amer")
    );
    stub.assert_no_rejections();
}

#[tokio::test]
async fn the_stub_holds_calls_to_the_connector_description() {
    let stub = teams_stub::start().await;
    let tokens = TokenSource::new(AppCredentials {
        tenant_id: Some(teams_stub::TENANT_ID.into()),
        ..credentials(&stub)
    })
    .expect("a token source");
    let bot = format!("Bearer {}", tokens.bot_token().await.expect("a token"));
    let graph = format!("Bearer {}", tokens.graph_token().await.expect("a token"));
    let http = reqwest::Client::new();
    let base = stub.service_url();
    let activities =
        format!("{base}v3/conversations/19%3Astub-incidents-0000%40thread.tacv2/activities");
    let card = json!({ "contentType": "application/vnd.microsoft.card.adaptive",
        "content": { "type": "AdaptiveCard", "version": "1.5", "body": [] } });

    let post = |url: String, auth: Option<&str>, body: Value| {
        let mut request = http.post(url).json(&body);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        async move { request.send().await.expect("answered") }
    };
    // Well formed: accepted.
    let fine = post(
        activities.clone(),
        Some(&bot),
        json!({ "type": "message", "attachments": [card] }),
    )
    .await;
    assert_eq!(fine.status(), 201);
    assert!(stub.rejections().is_empty());

    let cases: Vec<(&str, reqwest::Response, u16)> = vec![
        (
            "an unknown route",
            post(format!("{base}v3/nowhere"), Some(&bot), json!({})).await,
            404,
        ),
        (
            "a method the route lacks",
            http.patch(&activities)
                .header("Authorization", &bot)
                .send()
                .await
                .expect("answered"),
            405,
        ),
        (
            "no token",
            post(
                activities.clone(),
                None,
                json!({ "type": "message", "text": "hi" }),
            )
            .await,
            401,
        ),
        (
            "a Graph token on the connector",
            post(
                activities.clone(),
                Some(&graph),
                json!({ "type": "message", "text": "hi" }),
            )
            .await,
            401,
        ),
        (
            "an activity without a type",
            post(activities.clone(), Some(&bot), json!({ "text": "hi" })).await,
            400,
        ),
        (
            "an activity type that does not exist",
            post(
                activities.clone(),
                Some(&bot),
                json!({ "type": "post", "text": "hi" }),
            )
            .await,
            400,
        ),
        (
            "an attachment without a content type",
            post(
                activities.clone(),
                Some(&bot),
                json!({ "type": "message", "attachments": [{ "content": {} }] }),
            )
            .await,
            400,
        ),
        (
            "a property Activity does not have",
            post(
                activities.clone(),
                Some(&bot),
                json!({ "type": "message", "text": "hi", "blocks": [] }),
            )
            .await,
            400,
        ),
        (
            "members that are not an array",
            post(
                format!("{base}v3/conversations"),
                Some(&bot),
                json!({ "isGroup": false, "members": { "id": teams_stub::USER },
                        "tenantId": teams_stub::TENANT_ID }),
            )
            .await,
            400,
        ),
        (
            "a 1:1 conversation without a tenant",
            post(
                format!("{base}v3/conversations"),
                Some(&bot),
                json!({ "isGroup": false, "members": [{ "id": teams_stub::USER }] }),
            )
            .await,
            400,
        ),
        (
            "a bot token on Graph",
            post(
                format!(
                    "{}/teams/{}/channels",
                    stub.graph_url(),
                    teams_stub::TEAM_ID
                ),
                Some(&bot),
                json!({ "displayName": "inc-1" }),
            )
            .await,
            401,
        ),
        (
            "a channel name Teams forbids",
            post(
                format!(
                    "{}/teams/{}/channels",
                    stub.graph_url(),
                    teams_stub::TEAM_ID
                ),
                Some(&graph),
                json!({ "displayName": "inc: 1?" }),
            )
            .await,
            400,
        ),
    ];
    let count = cases.len();
    for (what, response, status) in cases {
        assert_eq!(response.status().as_u16(), status, "{what}");
        if status == 400 && !what.contains("Graph") && !what.contains("forbids") {
            let body: Value = response.json().await.expect("an ErrorResponse");
            assert_eq!(body["error"]["code"], "BadArgument", "{what}: {body}");
        }
    }
    let rejections = stub.rejections();
    assert_eq!(rejections.len(), count, "each one recorded");
    assert!(
        rejections[4]
            .rejection
            .as_deref()
            .is_some_and(|r| r.contains("type is required")),
        "{:?}",
        rejections[4]
    );
    assert!(
        rejections[7]
            .rejection
            .as_deref()
            .is_some_and(|r| r.contains("blocks")),
        "{:?}",
        rejections[7]
    );
}

#[tokio::test]
async fn channels_named_in_configuration_are_found_through_graph_once() {
    let stub = teams_stub::start().await;
    let alerts = stub.add_channel("alerts");
    let teams = client(&stub);
    for _ in 0..2 {
        teams
            .post_message("alerts", &card("Triggered"))
            .await
            .expect("posted by name");
    }
    assert_eq!(stub.activities_in(&alerts).len(), 2);
    // Looked up once, then remembered.
    let lookups = stub
        .calls()
        .into_iter()
        .filter(|c| c.operation.as_deref() == Some("channel-list"))
        .count();
    assert_eq!(lookups, 1);
    // Ids go straight through; a name nobody has is refused, saying which.
    teams
        .post_message(teams_stub::INCIDENTS_CHANNEL, &card("x"))
        .await
        .expect("an id");
    match teams.post_message("#no-such-room", &card("x")).await {
        Err(ChatError::Refused(why)) => assert!(why.contains("#no-such-room"), "{why}"),
        other => panic!("expected a refusal naming the channel, got {other:?}"),
    }
    // Without a team to look in, the refusal says what to configure.
    let no_team = TeamsClient::new(TeamsSettings {
        team_id: None,
        ..settings(&stub, ChannelMode::Thread)
    })
    .expect("a client");
    match no_team.post_message("alerts", &card("x")).await {
        Err(ChatError::Refused(why)) => assert!(why.contains("team_id"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    stub.assert_no_rejections();
}

#[tokio::test]
async fn a_teams_channels_learned_from_the_connector_are_found_without_graph() {
    let stub = teams_stub::start().await;
    let alerts = stub.add_channel("Alerts");
    let teams = client(&stub);
    let channels = teams
        .learn_team("19:stub-team@thread.tacv2")
        .await
        .expect("the channel list");
    assert!(channels.contains(&("General".to_owned(), teams_stub::GENERAL_CHANNEL.to_owned())));
    assert!(channels.contains(&("Alerts".to_owned(), alerts.clone())));
    teams
        .post_message("alerts", &card("Triggered"))
        .await
        .expect("posted by a learned name");
    assert_eq!(stub.activities_in(&alerts).len(), 1);
    assert!(
        stub.calls()
            .iter()
            .all(|c| c.operation.as_deref() != Some("channel-list")),
        "no Graph look-up"
    );
    stub.assert_no_rejections();
}
