//! The security review's checks on the real router and the real binary: no secret ever
//! reaches the logs of a full scenario (debug logging on), every route that takes a body
//! refuses one over the limit with the API's JSON 413, and inbound alert webhooks and
//! heartbeats are rate-limited per integration key with a 429 and `Retry-After`.

mod support;

#[path = "../adapters/tests/slack_stub/mod.rs"]
mod slack_stub;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bot_core::Clock;
use bot_core::auth::hash_token;
use bot_core::model::NewIntegration;
use serde_json::{Value, json};
use support::{Backend, TestApp};
use tocsin::config::LimitsConfig;
use tocsin::http::{AppState, InboundLimits, router};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tower::ServiceExt;

const BIN: &str = env!("CARGO_BIN_EXE_tocsin");
const PATIENCE: Duration = Duration::from_secs(30);

// --- request body limits -------------------------------------------------------------------

/// Every route that accepts a body: the API's, from its OpenAPI document (path parameters
/// filled with a harmless value), and the ones outside it.
fn body_routes() -> Vec<(String, String)> {
    let doc = serde_json::to_value(tocsin::http::openapi_document()).unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                let mut filled = String::new();
                let mut rest = path.as_str();
                while let Some(open) = rest.find('{') {
                    let close = rest[open..].find('}').unwrap() + open;
                    filled.push_str(&rest[..open]);
                    filled.push('1');
                    rest = &rest[close + 1..];
                }
                filled.push_str(rest);
                routes.push((method.to_uppercase(), filled));
            }
        }
    }
    assert!(
        routes.len() >= 20,
        "the document lists the API's routes: {routes:?}"
    );
    for path in [
        "/slack/commands",
        "/slack/interactions",
        "/slack/events",
        "/discord/interactions",
        "/teams/messages",
        "/api/v1/twilio/sms",
        "/api/v1/twilio/voice",
        "/api/v1/twilio/hotline",
        "/github/webhooks",
        "/v2/enqueue",
        "/status/subscribe",
        "/status/subscriptions/1/unsubscribe",
        "/ack/1/alice/00",
        "/no/such/route",
    ] {
        routes.push(("POST".into(), path.into()));
    }
    routes
}

fn over_limit() -> Vec<u8> {
    vec![b'x'; tocsin::http::BODY_LIMIT + 1]
}

async fn assert_json_413(app: &TestApp, request: Request<Body>, what: &str) {
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{what}");
    assert_eq!(content_type.as_deref(), Some("application/json"), "{what}");
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{what}: {body}");
}

#[tokio::test]
async fn every_route_that_takes_a_body_refuses_one_over_the_limit_with_a_json_413() {
    support::on(Backend::Sqlite, |app: TestApp| async move {
        for (method, path) in body_routes() {
            let request = Request::builder()
                .method(method.as_str())
                .uri(&path)
                .header("authorization", format!("Bearer {}", app.admin))
                .header("content-type", "application/json")
                .header("content-length", tocsin::http::BODY_LIMIT + 1)
                .body(Body::from(over_limit()))
                .unwrap();
            assert_json_413(&app, request, &format!("{method} {path}")).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_streamed_body_without_length_is_cut_off_at_the_limit_with_a_json_413() {
    support::on(Backend::Sqlite, |app: TestApp| async move {
        // Real keys: an unknown one is refused before its body is read.
        let mapping = json!({"mapping": {"summary": "/title", "dedup_key": "/id"}});
        integration(&app, "a", "generic", KEY_A, mapping).await;
        integration(&app, "am", "alertmanager", KEY_B, json!({})).await;
        for path in [
            "/api/v1/incidents".to_owned(),
            format!("/api/v1/integrations/{KEY_A}/generic"),
            format!("/api/v1/integrations/{KEY_B}/alertmanager"),
            "/v2/enqueue".to_owned(),
        ] {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = over_limit()
                .chunks(64 * 1024)
                .map(|c| Ok(c.to_vec()))
                .collect();
            let request = Request::post(&path)
                .header("authorization", format!("Bearer {}", app.admin))
                .header("content-type", "application/json")
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .unwrap();
            assert_json_413(&app, request, &path).await;
        }
    })
    .await;
}

// --- rate limits on inbound webhooks -------------------------------------------------------

const KEY_A: &str = "tcn_int_security_generic_a";
const KEY_B: &str = "tcn_int_security_generic_b";
const PD_KEY: &str = "tcn_int_security_pagerduty";

async fn integration(app: &TestApp, name: &str, kind: &str, key: &str, settings: Value) {
    app.db
        .store
        .create_integration(&NewIntegration {
            service: "checkout".into(),
            name: name.into(),
            kind: kind.into(),
            key_hash: hash_token(key),
            origin: "cli".into(),
            settings,
            at: app.clock.now(),
        })
        .await
        .unwrap();
}

async fn send(
    router: &axum::Router,
    path: &str,
    body: Value,
) -> (StatusCode, Option<String>, Value) {
    let response = router
        .clone()
        .oneshot(
            Request::post(path)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        retry_after,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn generic_alert(n: usize) -> Value {
    json!({"title": format!("Disk full {n}"), "id": format!("disk-{n}")})
}

#[tokio::test]
async fn an_integration_key_over_its_burst_gets_429_with_retry_after_and_other_keys_do_not() {
    support::on(Backend::Sqlite, |app: TestApp| async move {
        let mapping = json!({"mapping": {"summary": "/title", "dedup_key": "/id"}});
        integration(&app, "a", "generic", KEY_A, mapping.clone()).await;
        integration(&app, "b", "generic", KEY_B, mapping).await;
        integration(&app, "pd", "pagerduty", PD_KEY, json!({})).await;
        let burst = 3;
        let (limits, clock) = InboundLimits::with_manual_clock(LimitsConfig {
            inbound_per_second: 1,
            inbound_burst: burst,
        });
        let router = router(AppState::new(app.core.clone()).with_inbound_limits(limits));
        let a = format!("/api/v1/integrations/{KEY_A}/generic");
        let b = format!("/api/v1/integrations/{KEY_B}/generic");

        for n in 0..burst as usize {
            let (status, _, body) = send(&router, &a, generic_alert(n)).await;
            assert!(status.is_success(), "request {n}: {status} {body}");
        }
        let (status, retry_after, body) = send(&router, &a, generic_alert(99)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(retry_after.as_deref(), Some("1"));
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        let open = app
            .core
            .store
            .list_alerts(&Default::default())
            .await
            .unwrap();
        assert!(
            !open.iter().any(|alert| alert.dedup_key == "disk-99"),
            "a refused request writes nothing"
        );

        // Another key, and another route of the same kind, are counted on their own.
        let (status, _, body) = send(&router, &b, generic_alert(0)).await;
        assert!(status.is_success(), "{status} {body}");
        let trigger = json!({
            "routing_key": PD_KEY,
            "event_action": "trigger",
            "payload": {"summary": "CPU high", "source": "web-1", "severity": "critical"}
        });
        for _ in 0..burst {
            let (status, _, body) = send(&router, "/v2/enqueue", trigger.clone()).await;
            assert!(status.is_success(), "{status} {body}");
        }
        let (status, retry_after, _) = send(&router, "/v2/enqueue", trigger).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(retry_after.is_some());

        // Heartbeat keys, known or not, have their own quota (a guesser is slowed too).
        for _ in 0..burst {
            let (status, _, _) = send(&router, "/api/v1/heartbeats/no-such-key", json!({})).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
        let (status, _, _) = send(&router, "/api/v1/heartbeats/no-such-key", json!({})).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

        // A second later the first key may send one more, and only one.
        clock.advance(Duration::from_secs(1));
        let (status, _, body) = send(&router, &a, generic_alert(100)).await;
        assert!(status.is_success(), "{status} {body}");
        let (status, _, _) = send(&router, &a, generic_alert(101)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

        // The bearer-token listings under the same routes are not counted.
        for _ in 0..=burst {
            let (status, _) = app.get("/api/v1/integrations", &app.admin).await;
            assert_eq!(status, StatusCode::OK);
        }
    })
    .await;
}

// --- secrets never logged ------------------------------------------------------------------

/// Every secret the scenario's process is given, each a value that cannot occur by chance.
const SECRETS: &[(&str, &str)] = &[
    ("TOCSIN_WEBHOOK_SECRET", "sekrit-webhook-6d1f0a"),
    ("CHECKOUT_ALERTMANAGER_KEY", "sekrit-am-key-40b7c2"),
    ("CHECKOUT_PAGERDUTY_KEY", "sekrit-pd-key-93e8aa"),
    ("CHECKOUT_HEARTBEAT_KEY", "sekrit-hb-key-1c55d9"),
    ("SLACK_SIGNING_SECRET", "sekrit-slack-signing-7f3e11"),
    ("SLACK_BOT_TOKEN", slack_stub::TOKEN),
    ("SLACK_APP_TOKEN", slack_stub::APP_TOKEN),
    ("DISCORD_TOKEN", "sekrit-discord-token-22ab90"),
    ("MicrosoftAppPassword", "sekrit-msapp-password-0c9d"),
    ("TWILIO_AUTH_TOKEN", "sekrit-twilio-auth-5a6b7c"),
    ("GITHUB_TOKEN", "ghp_sekritGithubToken8812"),
    ("GITHUB_WEBHOOK_SECRET", "sekrit-gh-webhook-e4d3c2"),
    ("SMTP_PASSWORD", "sekrit-smtp-password-99f0"),
    ("JIRA_API_TOKEN", "sekrit-jira-token-31337a"),
];

/// The Discord test application's secret key: fixed, public, for tests only.
const DISCORD_SECRET: [u8; 32] = [7; 32];

fn secret(name: &str) -> &'static str {
    SECRETS.iter().find(|(n, _)| *n == name).unwrap().1
}

/// Everything a process wrote to one of its streams, line by line, until it ends.
fn collect(
    stream: impl AsyncRead + Unpin + Send + 'static,
    into: Arc<Mutex<String>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut log = into.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    })
}

/// A receiver of webhook pages: what it got, and its URL.
async fn webhook_receiver() -> (Arc<Mutex<Vec<Value>>>, String) {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/page",
        axum::routing::post(move |axum::Json(page): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(page);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (received, url)
}

fn config(receiver: &str) -> String {
    format!(
        r#"
[[users]]
id = "alice"
name = "Alice Smith"
email = "alice@example.com"
phone = "+15555550100"
time_zone = "Etc/UTC"
role = "admin"
[users.chat]
slack = "U0123ABC"
[[users.notify]]
channel = "webhook"
to = "{receiver}/page"
[[users.notify]]
channel = "email"
[[users.notify]]
channel = "sms"

[[escalation_policies]]
id = "checkout"
[[escalation_policies.levels]]
timeout = "5m"
targets = ["user:alice"]

[[services]]
id = "checkout"
name = "Checkout"
escalation_policy = "checkout"
[[services.integrations]]
name = "prometheus"
kind = "alertmanager"
key_env = "CHECKOUT_ALERTMANAGER_KEY"
[[services.integrations]]
name = "pagerduty-senders"
kind = "pagerduty"
key_env = "CHECKOUT_PAGERDUTY_KEY"
[[services.heartbeats]]
name = "nightly-backup"
interval = "24h"
key_env = "CHECKOUT_HEARTBEAT_KEY"

[smtp]
host = "127.0.0.1"
port = 9
tls = "none"
username = "tocsin"
from = "tocsin@example.com"

[trackers]
default = "github"
[trackers.github]
repos = ["acme/checkout"]
[trackers.jira]
base_url = "http://127.0.0.1:9"
email = "tocsin@example.com"
token_env = "JIRA_API_TOKEN"
projects = ["OPS"]
"#
    )
}

fn alertmanager_fixture() -> Vec<u8> {
    let dir = std::env::var_os("TOCSIN_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
        });
    std::fs::read(dir.join("alerts/alertmanager/webhook_v4_firing_2.json")).unwrap()
}

#[tokio::test]
async fn no_secret_reaches_the_logs_of_a_full_scenario_at_trace_level() {
    let slack = slack_stub::start().await;
    for name in ["incidents", "alerts"] {
        slack.add_channel(name);
    }
    let (pages, receiver) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tocsin.toml"), config(&receiver)).unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("tocsin.db").display());

    let check = std::process::Command::new(BIN)
        .args(["check-config"])
        .arg(dir.path().join("tocsin.toml"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    let mut command = tokio::process::Command::new(BIN);
    command
        .arg("serve")
        .env("TOCSIN_CONFIG", dir.path().join("tocsin.toml"))
        .env("DATABASE_URL", &database_url)
        .env("TOCSIN_LISTEN", "127.0.0.1:0")
        .env(
            "RUST_LOG",
            "debug,tocsin=trace,bot_core=trace,adapters=trace,commands=trace",
        )
        .env("TOCSIN_SLACK_API_URL", slack.url())
        .env(
            "DISCORD_PUBLIC_KEY",
            adapters::discord::verify::public_key_hex(&DISCORD_SECRET),
        )
        .env("DISCORD_APPLICATION_ID", "1045678901234567890")
        .env("MicrosoftAppId", "6b5c0f7e-3d1a-4c2b-9e8f-0a1b2c3d4e5f")
        .env("TOCSIN_TEAMS_LOGIN_URL", "http://127.0.0.1:9")
        .env("TOCSIN_TEAMS_OPENID_URL", "http://127.0.0.1:9/openid")
        .env("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000")
        .env("TWILIO_FROM", "+15555550199")
        .env("TOCSIN_TWILIO_API_URL", "http://127.0.0.1:9")
        .env("TOCSIN_GITHUB_API_URL", "http://127.0.0.1:9")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in SECRETS {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let log: Arc<Mutex<String>> = Arc::default();
    let stderr = collect(child.stderr.take().unwrap(), log.clone());
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(url) = line.strip_prefix("listening on ") {
                return url.to_owned();
            }
        }
        panic!(
            "tocsin serve exited before listening: {}",
            log.lock().unwrap()
        );
    })
    .await
    .expect("tocsin serve did not start listening");
    let stdout = collect(stdout.into_inner().into_inner(), log.clone());
    let token = support::api_token(dir.path()).await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{base}{path}");

    // Alerts in, by every kind of key.
    let answer = http
        .post(url(&format!(
            "/api/v1/integrations/{}/alertmanager",
            secret("CHECKOUT_ALERTMANAGER_KEY")
        )))
        .header("content-type", "application/json")
        .body(alertmanager_fixture())
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap()
    );
    let answer = http
        .post(url("/v2/enqueue"))
        .json(&json!({
            "routing_key": secret("CHECKOUT_PAGERDUTY_KEY"),
            "event_action": "trigger",
            "payload": {"summary": "CPU high", "source": "web-1", "severity": "critical"}
        }))
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap()
    );
    let answer = http
        .post(url(&format!(
            "/api/v1/heartbeats/{}",
            secret("CHECKOUT_HEARTBEAT_KEY")
        )))
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap()
    );

    // The page reaches the webhook receiver, signed; its acknowledge link is opened.
    let page = support::until("a webhook page", || pages.lock().unwrap().first().cloned()).await;
    let ack_url = page["ack_url"].as_str().map(str::to_owned);
    if let Some(ack_url) = &ack_url {
        let path = &ack_url[ack_url.find("/ack/").unwrap()..];
        let shown = http.get(url(path)).send().await.unwrap();
        assert_eq!(shown.status(), 200);
        let acked = http.post(url(path)).send().await.unwrap();
        assert!(acked.status().is_success(), "{}", acked.status());
    }

    // The REST API, with the token and with a wrong one.
    let incident = http
        .post(url("/api/v1/incidents"))
        .bearer_auth(&token)
        .json(&json!({"title": "Checkout is failing", "severity": "sev2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(incident.status(), 201);
    let alerts = http
        .get(url("/api/v1/alerts"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(alerts.status(), 200);
    let refused = http
        .get(url("/api/v1/alerts"))
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // A signed Slack command, and one signed with the wrong secret.
    let form = serde_urlencoded::to_string([
        ("team_id", "T0001"),
        ("channel_id", "C0GENERAL"),
        ("user_id", "U0123ABC"),
        ("command", "/incident"),
        ("text", "list"),
        ("response_url", "http://127.0.0.1:9/unused"),
        ("trigger_id", "security-1"),
    ])
    .unwrap();
    for (signing_secret, wanted) in [(secret("SLACK_SIGNING_SECRET"), 200), ("wrong", 401)] {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature =
            adapters::slack::verify::sign(signing_secret.as_bytes(), &timestamp, form.as_bytes());
        let answer = http
            .post(url("/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(form.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), wanted, "{}", answer.text().await.unwrap());
    }

    // Discord: a signed ping, and a bad signature.
    let ping = json!({"type": 1, "id": "1", "application_id": "1045678901234567890", "token": "t", "version": 1}).to_string();
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let good = adapters::discord::verify::sign(&DISCORD_SECRET, &timestamp, ping.as_bytes());
    for (signature, wanted) in [(good, 200), ("00".repeat(64), 401)] {
        let answer = http
            .post(url("/discord/interactions"))
            .header("content-type", "application/json")
            .header(adapters::discord::verify::TIMESTAMP_HEADER, &timestamp)
            .header(adapters::discord::verify::SIGNATURE_HEADER, signature)
            .body(ping.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), wanted);
    }

    // GitHub: a signed ping and a forged one; Twilio and Teams: forged requests.
    let hook = json!({"zen": "Keep it logically awesome.", "hook_id": 1}).to_string();
    let good = adapters::tickets::webhook::sign(
        secret("GITHUB_WEBHOOK_SECRET").as_bytes(),
        hook.as_bytes(),
    );
    for (signature, wanted) in [(good, 2), ("sha256=00".to_owned(), 4)] {
        let answer = http
            .post(url("/github/webhooks"))
            .header("content-type", "application/json")
            .header("x-github-event", "ping")
            .header("x-github-delivery", "security-1")
            .header("x-hub-signature-256", signature)
            .body(hook.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status().as_u16() / 100,
            wanted,
            "{}",
            answer.status()
        );
    }
    let forged = http
        .post(url("/api/v1/twilio/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", "AAAA")
        .body("From=%2B15555550100&Body=ACK")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16() / 100, 4, "{}", forged.status());
    let forged = http
        .post(url("/teams/messages"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer not.a.jwt")
        .body(r#"{"type":"message","text":"list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16() / 100, 4, "{}", forged.status());

    // Let the jobs the scenario caused (Slack posts, e-mail and SMS attempts) run.
    support::eventually("the alert card posted to Slack", PATIENCE, || async {
        (!slack.calls_to("chat.postMessage").is_empty()).then_some(())
    })
    .await;

    child.start_kill().unwrap();
    child.wait().await.unwrap();
    stderr.await.unwrap();
    stdout.await.unwrap();
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("DEBUG") && log.contains("/api/v1/integrations/{key}/alertmanager"),
        "the scenario was logged at debug level and beyond:\n{log}"
    );
    assert!(
        log.contains("Socket Mode"),
        "Slack Socket Mode ran with the app token:\n{log}"
    );
    let mut leaked = Vec::new();
    for (name, value) in SECRETS {
        if log.contains(value) {
            leaked.push(*name);
        }
    }
    if log.contains(&token) {
        leaked.push("the API token");
    }
    if let Some(ack_url) = &ack_url {
        let signature = ack_url.rsplit('/').next().unwrap();
        if log.contains(signature) {
            leaked.push("an acknowledge link's signature");
        }
    }
    assert!(leaked.is_empty(), "leaked {leaked:?} in:\n{log}");
}
