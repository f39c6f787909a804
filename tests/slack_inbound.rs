//! Slack's inbound routes in-process, on SQLite and PostgreSQL: every shared Slack fixture
//! (slash commands, interactions, events) accepted when signed and refused when the
//! signature is wrong, stale or missing; the URL check; `/incident declare` from Slack,
//! once per trigger id; a redelivered mention handled once; 📌 into the timeline; the
//! declare modal's field errors; malformed bodies. The Web API client is left out
//! (`client: None`): its own suite covers what it sends.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use adapters::slack::{render, verify};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use bot_core::Clock;
use bot_core::model::{
    Actor, ChannelRef, Incident, IncidentFilter, Severity, Subject, TimelineKind,
};
use commands::Invocation;
use serde_json::{Value, json};
use support::TestApp;
use tocsin::http::{AppState, SlackInbound};

on_both!(
    every_fixture_is_accepted_signed_and_refused_unsigned_stale_or_forged,
    slash_declare_from_slack_declares_once_per_trigger_id,
    a_command_that_misses_the_deadline_is_answered_at_once_and_still_runs,
    a_redelivered_mention_changes_the_timeline_once,
    a_pushpin_in_an_incident_channel_pins_the_message,
    channel_talk_is_captured_only_in_incident_channels_with_capture_chat_on,
    the_declare_modal_shows_field_errors_and_declares_when_valid,
    malformed_bodies_with_a_valid_signature_are_400,
    slack_routes_are_404_until_slack_is_set_up,
);

const SECRET: &str = "slack-inbound-test-secret";
/// Alice's Slack member id in tocsin.example.toml.
const ALICE: &str = "U0123ABC";
const GENERAL: &str = "C0GENERAL";
const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

// --- harness -------------------------------------------------------------------------------

fn fixtures() -> PathBuf {
    std::env::var_os("TOCSIN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
        })
        .join("slack")
}

/// The files of `dir` under the Slack fixtures, sorted, with their bytes.
fn fixture_dir(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fixtures().join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

fn fixture_json(path: &str) -> Value {
    let path = fixtures().join(path);
    serde_json::from_slice(&std::fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An interaction payload as Slack posts it: the JSON in a `payload` form field.
fn payload_form(payload: &[u8]) -> Vec<u8> {
    serde_urlencoded::to_string([("payload", std::str::from_utf8(payload).unwrap())])
        .unwrap()
        .into_bytes()
}

/// A slash command form like the fixtures', from `user` in `channel`.
fn slash_form(user: &str, channel: &str, command: &str, text: &str, trigger: &str) -> Vec<u8> {
    serde_urlencoded::to_string([
        ("token", "legacy"),
        ("team_id", "T0001"),
        ("team_domain", "example"),
        ("channel_id", channel),
        ("channel_name", "general"),
        ("user_id", user),
        ("user_name", "alice"),
        ("command", command),
        ("text", text),
        ("api_app_id", "A0TOCSIN"),
        ("response_url", "https://hooks.slack.com/commands/T0001/1/x"),
        ("trigger_id", trigger),
    ])
    .unwrap()
    .into_bytes()
}

/// How a request is signed.
#[derive(Clone, Copy)]
enum Signing {
    Valid,
    /// Signed with another secret.
    Forged,
    /// Signed correctly, six minutes ago.
    Stale,
    NoSignature,
    NoTimestamp,
}

/// The example app with Slack set up (no Web API client).
async fn slack_app(app: TestApp) -> TestApp {
    let core = app.core.clone();
    slack_app_on(app, core)
}

/// `app` with Slack set up, its router on `core`.
fn slack_app_on(mut app: TestApp, core: bot_core::Core) -> TestApp {
    let state = AppState::new(core).with_slack(Some(SlackInbound {
        signing_secret: SECRET.into(),
        client: None,
    }));
    app.router = tocsin::http::router(state);
    app
}

fn signed(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    signing: Signing,
) -> axum::http::request::Builder {
    let now = app.clock.now().timestamp();
    let (secret, at) = match signing {
        Signing::Forged => ("not-the-secret", now),
        Signing::Stale => (SECRET, now - 6 * 60),
        _ => (SECRET, now),
    };
    let timestamp = at.to_string();
    let signature = verify::sign(secret.as_bytes(), &timestamp, &body);
    let mut request = Request::post(path).header("content-type", content_type);
    if !matches!(signing, Signing::NoTimestamp) {
        request = request.header(verify::TIMESTAMP_HEADER, timestamp);
    }
    if !matches!(signing, Signing::NoSignature) {
        request = request.header(verify::SIGNATURE_HEADER, signature);
    }
    request
}

async fn post(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    signing: Signing,
) -> (StatusCode, Value) {
    let request = signed(app, path, content_type, body.clone(), signing)
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

async fn incidents(app: &TestApp) -> Vec<Incident> {
    app.db
        .store
        .list_incidents(&IncidentFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Declares INC-1 and gives it the Slack channel `channel`.
async fn incident_in(app: &TestApp, channel: &str) -> Incident {
    let incident = app
        .core
        .declare(
            &Actor::User("alice".into()),
            bot_core::ops::Declare {
                title: "Checkout slow".into(),
                severity: Severity::Sev3,
                services: vec![],
                commander: None,
                alerts: vec![],
                idempotency_key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    app.db
        .store
        .attach_channel(
            incident.id,
            &ChannelRef {
                platform: "slack".into(),
                channel_id: channel.into(),
                name: "inc-1-checkout-slow".into(),
            },
        )
        .await
        .unwrap();
    incident
}

async fn timeline_of(app: &TestApp, incident: &Incident, kind: TimelineKind) -> Vec<String> {
    app.db
        .store
        .timeline(Subject::Incident(incident.id))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.text)
        .collect()
}

// --- tests ---------------------------------------------------------------------------------

async fn every_fixture_is_accepted_signed_and_refused_unsigned_stale_or_forged(app: TestApp) {
    let app = slack_app(app).await;
    let mut requests: Vec<(String, &str, &str, Vec<u8>)> = Vec::new();
    for (name, body) in fixture_dir("slash-commands") {
        requests.push((name, "/slack/commands", FORM, body));
    }
    for (name, body) in fixture_dir("interactivity") {
        requests.push((name, "/slack/interactions", FORM, payload_form(&body)));
    }
    for (name, body) in fixture_dir("events") {
        // The two schema documents describe event bodies; they are not one.
        if name.contains("schema") || name.starts_with("slack_events_api") {
            continue;
        }
        requests.push((name, "/slack/events", JSON, body));
    }
    assert_eq!(requests.len(), 4 + 5 + 8, "every fixture is posted");

    for (name, path, content_type, body) in &requests {
        for signing in [
            Signing::Forged,
            Signing::Stale,
            Signing::NoSignature,
            Signing::NoTimestamp,
        ] {
            let (status, error) = post(&app, path, content_type, body.clone(), signing).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {error}");
            assert_eq!(error["error"]["code"], "unauthorized", "{name}");
        }

        let (status, answer) = post(&app, path, content_type, body.clone(), Signing::Valid).await;
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");
        match *path {
            // None of the fixtures' commands is Tocsin's: each gets the ephemeral
            // "unknown command" reply, in Block Kit.
            "/slack/commands" => {
                assert_eq!(answer["response_type"], "ephemeral", "{name}: {answer}");
                let text = answer["text"].as_str().unwrap_or_default();
                assert!(text.contains("unknown command /"), "{name}: {answer}");
                assert!(answer["blocks"].is_array(), "{name}: {answer}");
            }
            // Buttons are answered on the response URL; the fixtures' modals are not
            // Tocsin's, so the submission just closes them.
            "/slack/interactions" => assert_eq!(answer, Value::Null, "{name}"),
            _ if name == "url_verification.json" => {
                assert_eq!(answer, json!({ "challenge": "valid_challenge_token" }))
            }
            _ => assert_eq!(answer, Value::Null, "{name}"),
        }
    }
    // Refused requests wrote nothing, and none of the fixtures declared anything.
    assert!(incidents(&app).await.is_empty());
}

async fn slash_declare_from_slack_declares_once_per_trigger_id(app: TestApp) {
    let app = slack_app(app).await;
    let form = slash_form(
        ALICE,
        GENERAL,
        "/incident",
        "declare sev2 Checkout slow",
        "1111.2222.declare",
    );
    for signing in [Signing::Forged, Signing::Stale, Signing::NoSignature] {
        let (status, _) = post(&app, "/slack/commands", FORM, form.clone(), signing).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert!(
        incidents(&app).await.is_empty(),
        "a refused request declares nothing"
    );

    for attempt in 0..2 {
        let (status, answer) =
            post(&app, "/slack/commands", FORM, form.clone(), Signing::Valid).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["response_type"], "ephemeral", "{answer}");
        let text = answer["text"].as_str().unwrap();
        assert!(
            text.starts_with("Declared INC-1 (sev2): Checkout slow."),
            "attempt {attempt}: {text}"
        );
    }
    let all = incidents(&app).await;
    assert_eq!(all.len(), 1, "the same trigger id declares once");
    assert_eq!(
        (all[0].title.as_str(), all[0].severity),
        ("Checkout slow", Severity::Sev2)
    );
    assert_eq!(all[0].declared_by, "user:alice");

    // A new trigger id is a new command.
    let again = slash_form(
        ALICE,
        GENERAL,
        "/incident",
        "declare sev3 Search slow",
        "3333.4444.x",
    );
    let (status, answer) = post(&app, "/slack/commands", FORM, again, Signing::Valid).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .starts_with("Declared INC-2"),
        "{answer}"
    );

    // Without a title the form opens, which needs the Web API: it says so.
    let dialog = slash_form(ALICE, GENERAL, "/incident", "declare", "5555.6666.y");
    let (status, answer) = post(&app, "/slack/commands", FORM, dialog, Signing::Valid).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer,
        json!({
            "response_type": "ephemeral",
            "text": "Slack Web API is not configured (SLACK_BOT_TOKEN)"
        })
    );
}

/// A lock on the incidents table, held by another connection: declares wait for it.
enum IncidentsLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl IncidentsLock {
    async fn take(url: &str) -> Self {
        use sqlx::Connection;
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .unwrap();
            IncidentsLock::Sqlite(conn)
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql("BEGIN; LOCK TABLE incidents IN EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
            IncidentsLock::Postgres(conn)
        }
    }

    async fn release(self) {
        match self {
            IncidentsLock::Sqlite(mut c) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
            }
            IncidentsLock::Postgres(mut c) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
            }
        }
    }
}

async fn a_command_that_misses_the_deadline_is_answered_at_once_and_still_runs(app: TestApp) {
    let app = slack_app(app).await;
    let form = slash_form(
        ALICE,
        GENERAL,
        "/incident",
        "declare sev2 Slow",
        "7777.8888.z",
    );
    // The declare waits for the lock past the 2.5 s deadline: Slack hears at once...
    let lock = IncidentsLock::take(&app.db.url).await;
    let answer = post(&app, "/slack/commands", FORM, form, Signing::Valid).await;
    assert_eq!(
        answer,
        (
            StatusCode::OK,
            json!({ "response_type": "ephemeral", "text": "Working on it…" })
        )
    );
    assert!(incidents(&app).await.is_empty());
    // ...and the command finishes on its own once it can (its reply would go to the
    // response URL; without a Web API client it is logged).
    lock.release().await;
    let declared = support::eventually("the late declare", Duration::from_secs(10), || async {
        incidents(&app).await.into_iter().next()
    })
    .await;
    assert_eq!(declared.title, "Slow");
}

async fn a_redelivered_mention_changes_the_timeline_once(app: TestApp) {
    let app = slack_app(app).await;
    let incident = incident_in(&app, "C0INC1").await;
    // The fixture's mention, sent by Alice in the incident's channel.
    let mut event = fixture_json("events/event_callback_app_mention.json");
    event["event"]["user"] = ALICE.into();
    event["event"]["channel"] = "C0INC1".into();
    event["event"]["text"] =
        "<@U0LAN0Z89> timeline add rolled back the deploy &amp; purged caches".into();
    let body = serde_json::to_vec(&event).unwrap();

    let (status, answer) = post(&app, "/slack/events", JSON, body.clone(), Signing::Valid).await;
    assert_eq!((status, answer), (StatusCode::OK, Value::Null));
    let retry = signed(&app, "/slack/events", JSON, body.clone(), Signing::Valid)
        .header("X-Slack-Retry-Num", "1")
        .header("X-Slack-Retry-Reason", "http_timeout")
        .body(Body::from(body))
        .unwrap();
    let (status, _) = app.send(retry).await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(
        timeline_of(&app, &incident, TimelineKind::Note).await,
        ["rolled back the deploy & purged caches"],
        "one note for two deliveries of one event"
    );
    assert!(
        app.db
            .store
            .delivery_seen("slack:event:Ev0LAN670R")
            .await
            .unwrap()
    );

    // Another event (another id) with the same text is another note.
    event["event_id"] = "Ev0LAN670S".into();
    let (status, _) = post(
        &app,
        "/slack/events",
        JSON,
        serde_json::to_vec(&event).unwrap(),
        Signing::Valid,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        timeline_of(&app, &incident, TimelineKind::Note).await.len(),
        2
    );
}

async fn a_pushpin_in_an_incident_channel_pins_the_message(app: TestApp) {
    let app = slack_app(app).await;
    let incident = incident_in(&app, "C0INC1").await;
    let mut event = fixture_json("events/event_callback_reaction_added.json");
    event["event"]["reaction"] = "pushpin".into();
    event["event"]["user"] = ALICE.into();
    event["event"]["item"]["channel"] = "C0INC1".into();
    event["event_id"] = "Ev0PIN".into();
    let (status, answer) = post(
        &app,
        "/slack/events",
        JSON,
        serde_json::to_vec(&event).unwrap(),
        Signing::Valid,
    )
    .await;
    assert_eq!((status, answer), (StatusCode::OK, Value::Null));
    assert_eq!(
        timeline_of(&app, &incident, TimelineKind::ChatMessage).await,
        ["slack:U299ATJ2X: (pinned message 1477958101.000004)"]
    );

    // 📌 elsewhere, or another reaction here, is not a pin.
    event["event_id"] = "Ev0PIN2".into();
    event["event"]["item"]["ts"] = "1477958101.000005".into();
    event["event"]["item"]["channel"] = GENERAL.into();
    post(
        &app,
        "/slack/events",
        JSON,
        serde_json::to_vec(&event).unwrap(),
        Signing::Valid,
    )
    .await;
    event["event_id"] = "Ev0PIN3".into();
    event["event"]["item"]["channel"] = "C0INC1".into();
    event["event"]["reaction"] = "grinning".into();
    let (status, _) = post(
        &app,
        "/slack/events",
        JSON,
        serde_json::to_vec(&event).unwrap(),
        Signing::Valid,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        timeline_of(&app, &incident, TimelineKind::ChatMessage)
            .await
            .len(),
        1
    );
}

async fn channel_talk_is_captured_only_in_incident_channels_with_capture_chat_on(app: TestApp) {
    let incident = incident_in(&app, "C0INC1").await;
    let mut event = fixture_json("events/event_callback_message_channels.json");
    event["event"]["user"] = ALICE.into();
    event["event"]["channel"] = "C0INC1".into();
    let said = |event: &Value| serde_json::to_vec(event).unwrap();

    // The example leaves capture_chat off: nothing is recorded, not even the delivery.
    let app = slack_app(app).await;
    let (status, _) = post(&app, "/slack/events", JSON, said(&event), Signing::Valid).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        timeline_of(&app, &incident, TimelineKind::ChatMessage)
            .await
            .is_empty()
    );
    assert!(
        !app.db
            .store
            .delivery_seen("slack:event:Ev0PV52K21")
            .await
            .unwrap()
    );

    let mut settings = (*app.core.settings).clone();
    settings.capture_chat = true;
    let core = bot_core::Core::new(app.core.store.clone(), app.core.clock.clone(), settings);
    let app = slack_app_on(app, core);
    for _ in 0..2 {
        let (status, _) = post(&app, "/slack/events", JSON, said(&event), Signing::Valid).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(
        timeline_of(&app, &incident, TimelineKind::ChatMessage).await,
        ["user:alice: Live long and prospect."]
    );
    assert!(
        app.db
            .store
            .delivery_seen("slack:event:Ev0PV52K21")
            .await
            .unwrap()
    );

    // Talk in other channels is not recorded, and leaves no delivery behind.
    event["event_id"] = "Ev0ELSEWHERE".into();
    event["event"]["channel"] = GENERAL.into();
    let (status, _) = post(&app, "/slack/events", JSON, said(&event), Signing::Valid).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !app.db
            .store
            .delivery_seen("slack:event:Ev0ELSEWHERE")
            .await
            .unwrap()
    );
    assert_eq!(
        timeline_of(&app, &incident, TimelineKind::ChatMessage)
            .await
            .len(),
        1
    );
}

/// The declare modal as Tocsin opens it in `channel`, submitted with `values` (field name
/// -> Slack element state), in the fixture's view_submission envelope.
async fn declare_submission(app: &TestApp, channel: &str, values: Value) -> Vec<u8> {
    let opened = commands::handle(
        &app.core,
        &Invocation::slash("slack", ALICE, channel, "incident", "declare"),
    )
    .await;
    let dialog = opened
        .dialog
        .expect("declare without a title opens the form");
    let mut view = render::modal(&dialog, channel);
    view["id"] = "V0DECLARE".into();
    view["state"] = json!({ "values": values });
    let mut payload = fixture_json("interactivity/view_submission_modal.json");
    payload["user"]["id"] = ALICE.into();
    payload["view"] = view;
    payload_form(payload.to_string().as_bytes())
}

async fn the_declare_modal_shows_field_errors_and_declares_when_valid(app: TestApp) {
    let app = slack_app(app).await;
    let severity = json!({ "severity": {
        "type": "static_select",
        "selected_option": { "value": "sev2" }
    }});
    let empty_title = declare_submission(
        &app,
        GENERAL,
        json!({
            "title": { "title": { "type": "plain_text_input", "value": "" } },
            "severity": severity,
        }),
    )
    .await;
    let (status, answer) = post(
        &app,
        "/slack/interactions",
        FORM,
        empty_title,
        Signing::Valid,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["response_action"], "errors", "{answer}");
    assert_eq!(
        answer["errors"]["title"], "Give the incident a title.",
        "{answer}"
    );
    assert!(incidents(&app).await.is_empty());

    let valid = declare_submission(
        &app,
        GENERAL,
        json!({
            "title": { "title": { "type": "plain_text_input", "value": "Payments failing" } },
            "severity": severity,
        }),
    )
    .await;
    let (status, answer) = post(&app, "/slack/interactions", FORM, valid, Signing::Valid).await;
    assert_eq!(
        (status, answer),
        (StatusCode::OK, Value::Null),
        "closes the modal"
    );
    let all = incidents(&app).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].title.as_str(), all[0].severity),
        ("Payments failing", Severity::Sev2)
    );
}

async fn malformed_bodies_with_a_valid_signature_are_400(app: TestApp) {
    let app = slack_app(app).await;
    let cases: [(&str, &str, &[u8]); 7] = [
        ("/slack/commands", FORM, b"text=declare+sev1+x&user_id=U1"),
        ("/slack/commands", FORM, b"\xff\xfe\xfd"),
        ("/slack/interactions", FORM, b"nothing=here"),
        ("/slack/interactions", FORM, b"payload=%7Bnot+json"),
        ("/slack/events", JSON, b"{not json"),
        ("/slack/events", JSON, br#"{"type":"event_callback"}"#),
        (
            "/slack/events",
            JSON,
            br#"{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","text":"hi"}}"#,
        ),
    ];
    for (path, content_type, body) in cases {
        let (status, error) = post(&app, path, content_type, body.to_vec(), Signing::Valid).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body:?}: {error}");
        assert_eq!(error["error"]["code"], "bad_request");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{error}"
        );
    }
    assert!(incidents(&app).await.is_empty());
}

async fn slack_routes_are_404_until_slack_is_set_up(app: TestApp) {
    // TestApp's own router has no Slack.
    for path in ["/slack/commands", "/slack/interactions", "/slack/events"] {
        let request = signed(&app, path, FORM, b"x=1".to_vec(), Signing::Valid)
            .body(Body::from("x=1"))
            .unwrap();
        let (status, error) = app.send(request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            error["error"]["message"],
            "Slack is not set up (SLACK_SIGNING_SECRET)"
        );
    }
}
