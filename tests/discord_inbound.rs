//! Discord's interactions route in-process, on SQLite and PostgreSQL: every shared Discord
//! request fixture accepted when signed and refused when the signature is forged or
//! missing; PING answered with the docs' PONG; `/incident declare` from Discord, once per
//! interaction id; the declare modal opened without a title and declaring when submitted;
//! unknown interaction types refused. The REST client is left out (`client: None`): its
//! own suite covers what it sends.

mod support;

use std::path::PathBuf;

use adapters::discord::verify;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use bot_core::model::{Incident, IncidentFilter, Severity};
use serde_json::{Value, json};
use support::TestApp;
use tocsin::http::{AppState, DiscordInbound};

on_both!(
    every_request_fixture_is_handled_signed_and_refused_forged_or_unsigned,
    declare_from_discord_declares_once_per_interaction_id,
    declare_without_a_title_opens_the_modal_and_its_submission_declares,
    unknown_interaction_types_are_400_and_discord_is_404_until_set_up,
);

/// The test application's secret key: fixed, public, for these tests only.
const SECRET: [u8; 32] = [42; 32];
/// Alice's Discord user id in tocsin.example.toml.
const ALICE: &str = "80351110224678912";
const TIMESTAMP: &str = "1700000000";

// --- harness -------------------------------------------------------------------------------

fn fixtures() -> PathBuf {
    std::env::var_os("TOCSIN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
        })
        .join("discord/interactions")
}

fn fixture(name: &str) -> Value {
    let path = fixtures().join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixtures that are requests Discord sends (not responses, definitions or messages
/// Tocsin sends), sorted, with their bytes.
fn request_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let skip = ["response_", "command_definition_", "message_create_"];
            (!skip.iter().any(|s| name.starts_with(s))).then(|| (name, std::fs::read(&p).unwrap()))
        })
        .collect()
}

/// The example app with Discord set up (no REST client).
fn discord_app(mut app: TestApp) -> TestApp {
    let state = AppState::new(app.core.clone()).with_discord(Some(DiscordInbound {
        public_key: verify::public_key_hex(&SECRET),
        client: None,
        reply_within: tocsin::config::DISCORD_REPLY_WITHIN,
    }));
    app.router = tocsin::http::router(state);
    app
}

#[derive(Clone, Copy)]
enum Signing {
    Valid,
    /// One byte of the right signature flipped.
    Flipped,
    NoSignature,
    NoTimestamp,
}

async fn post(app: &TestApp, body: &[u8], signing: Signing) -> (StatusCode, Value) {
    let mut signature = verify::sign(&SECRET, TIMESTAMP, body);
    if matches!(signing, Signing::Flipped) {
        let first = if signature.starts_with('0') { "1" } else { "0" };
        signature.replace_range(..1, first);
    }
    let mut request =
        Request::post("/discord/interactions").header("content-type", "application/json");
    if !matches!(signing, Signing::NoTimestamp) {
        request = request.header(verify::TIMESTAMP_HEADER, TIMESTAMP);
    }
    if !matches!(signing, Signing::NoSignature) {
        request = request.header(verify::SIGNATURE_HEADER, signature);
    }
    app.send(request.body(Body::from(body.to_vec())).unwrap())
        .await
}

/// `/incident declare` as Discord posts it: the docs' subcommand interaction, from Alice,
/// with interaction id `id` and the given options.
fn declare(id: &str, options: Value) -> Vec<u8> {
    let mut body = fixture("application_command_subcommand_string_option.json");
    body["id"] = id.into();
    body["member"]["user"]["id"] = ALICE.into();
    body["data"] = json!({
        "type": 1, "name": "incident", "id": "771825006014889984",
        "options": [{ "type": 1, "name": "declare", "options": options }],
    });
    body.to_string().into_bytes()
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

/// A message answer's visible text: `content` and the embeds' titles and descriptions.
fn text_of(answer: &Value) -> String {
    let data = &answer["data"];
    let mut text = data["content"].as_str().unwrap_or_default().to_owned();
    for embed in data["embeds"].as_array().into_iter().flatten() {
        for key in ["title", "description"] {
            text.push_str(embed[key].as_str().unwrap_or_default());
            text.push('\n');
        }
    }
    text
}

// --- tests ---------------------------------------------------------------------------------

async fn every_request_fixture_is_handled_signed_and_refused_forged_or_unsigned(app: TestApp) {
    let app = discord_app(app);
    let requests = request_fixtures();
    assert_eq!(requests.len(), 10, "every request fixture is posted");
    for (name, body) in &requests {
        for signing in [Signing::Flipped, Signing::NoSignature, Signing::NoTimestamp] {
            let (status, error) = post(&app, body, signing).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {error}");
            assert_eq!(error["error"]["code"], "unauthorized", "{name}");
        }
        let (status, answer) = post(&app, body, Signing::Valid).await;
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");
        match answer["type"].as_u64() {
            Some(1) => {
                assert_eq!(name, "ping.json");
                assert_eq!(answer, fixture("response_pong.json"));
            }
            // Autocomplete: no suggestions.
            Some(8) => assert_eq!(answer["data"]["choices"], json!([]), "{name}"),
            // None of the fixtures' commands, buttons or modals is Tocsin's (or the
            // interaction id was already seen): an ephemeral message says so.
            Some(4) => {
                assert_eq!(answer["data"]["flags"], 64, "{name}: {answer}");
                assert!(!text_of(&answer).is_empty(), "{name}: {answer}");
            }
            _ => panic!("{name}: not an interaction response: {answer}"),
        }
    }
    // Refused requests wrote nothing, and none of the fixtures declared anything.
    assert!(incidents(&app).await.is_empty());
}

async fn declare_from_discord_declares_once_per_interaction_id(app: TestApp) {
    let app = discord_app(app);
    let body = declare(
        "1100000000000000001",
        json!([
            { "type": 3, "name": "severity", "value": "sev2" },
            { "type": 3, "name": "title", "value": "Checkout slow" },
        ]),
    );
    let (status, _) = post(&app, &body, Signing::Flipped).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        incidents(&app).await.is_empty(),
        "a refused request declares nothing"
    );

    let (status, answer) = post(&app, &body, Signing::Valid).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["type"], 4, "{answer}");
    assert!(text_of(&answer).contains("Declared INC-1"), "{answer}");
    let all = incidents(&app).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].title.as_str(), all[0].severity),
        ("Checkout slow", Severity::Sev2)
    );

    // Delivered again (the same interaction id): handled once.
    let (status, answer) = post(&app, &body, Signing::Valid).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["type"], 4, "{answer}");
    assert_eq!(incidents(&app).await.len(), 1);
}

async fn declare_without_a_title_opens_the_modal_and_its_submission_declares(app: TestApp) {
    let app = discord_app(app);
    let body = declare(
        "1100000000000000002",
        json!([{ "type": 3, "name": "severity", "value": "sev1" }]),
    );
    let (status, answer) = post(&app, &body, Signing::Valid).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["type"], 9, "{answer}");
    let modal = &answer["data"];
    assert!(modal["custom_id"].is_string(), "{answer}");
    assert!(modal["title"].is_string(), "{answer}");
    assert!(incidents(&app).await.is_empty());

    // Submitted: the modal's custom id, each input by its custom id, as the docs' modal
    // submission carries them (action rows of text inputs).
    let mut submit = fixture("modal_submit_text_inputs.json");
    submit["id"] = "1100000000000000003".into();
    submit["member"]["user"]["id"] = ALICE.into();
    submit["data"] = json!({
        "custom_id": modal["custom_id"],
        "components": [
            { "type": 1, "components": [{ "type": 4, "custom_id": "title", "value": "Payments down" }] },
            { "type": 1, "components": [{ "type": 4, "custom_id": "severity", "value": "sev1" }] },
        ],
    });
    let (status, answer) = post(&app, submit.to_string().as_bytes(), Signing::Valid).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["type"], 4, "{answer}");
    assert!(text_of(&answer).contains("Declared INC-1"), "{answer}");
    let all = incidents(&app).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].title.as_str(), all[0].severity),
        ("Payments down", Severity::Sev1)
    );

    // Without a title the modal's answer lists the problem; nothing is declared.
    submit["id"] = "1100000000000000004".into();
    submit["data"]["components"][0]["components"][0]["value"] = "".into();
    let (status, answer) = post(&app, submit.to_string().as_bytes(), Signing::Valid).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["type"].as_u64(), answer["data"]["flags"].as_u64()),
        (Some(4), Some(64))
    );
    assert!(text_of(&answer).contains("title"), "{answer}");
    assert_eq!(incidents(&app).await.len(), 1);
}

async fn unknown_interaction_types_are_400_and_discord_is_404_until_set_up(app: TestApp) {
    let plain = TestApp {
        router: tocsin::http::router(AppState::new(app.core.clone())),
        ..app
    };
    let ping = br#"{"type":1}"#;
    let (status, _) = post(&plain, ping, Signing::Valid).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let app = discord_app(plain);
    let (status, answer) = post(&app, ping, Signing::Valid).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({ "type": 1 })));
    for body in [
        br#"{"type":99,"id":"1","token":"t"}"#.as_slice(),
        b"not json",
        br#"{"type":2,"id":"1","token":"t","channel_id":"1"}"#,
    ] {
        let (status, error) = post(&app, body, Signing::Valid).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert!(error["error"]["message"].is_string(), "{error}");
    }
}
