//! Degradation, not loss. In-process with a manual clock, on SQLite and PostgreSQL: a page
//! whose webhook answers 500 falls through at once to the person's next rule (an SMS
//! through a Twilio-compatible stub), once, however often the failed page is retried; a
//! webhook that answers 429 with `Retry-After` is retried exactly that much later and
//! delivers; `/readyz` shows the channel degraded and the replica still ready. On
//! PostgreSQL, a database that refuses connections makes the alert routes answer 503 with
//! `Retry-After`, and the sender's retry once it is back stores the alert once.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use adapters::notify::WebhookNotifier;
use adapters::twilio::{TwilioClient, TwilioSettings, TwilioSms};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use bot_core::auth::hash_token;
use bot_core::escalation::{EscalationSteps, PageByNotifier};
use bot_core::health::ChannelState;
use bot_core::jobs::{PoolConfig, WorkerPool};
use bot_core::model::{
    AlertAction, AlertEvent, AlertFilter, AlertSeverity, Integration, NewIntegration, NotifyRule,
    Subject,
};
use bot_core::notify::Notifier;
use bot_core::{Clock, Core};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};
use support::{Backend, TestApp};

const ALICE: &str = "+15555550100";

on_both!(
    a_webhook_page_answered_500_falls_through_to_the_next_rule_in_the_same_tick,
    a_webhook_page_answered_429_waits_its_retry_after_to_the_second_then_delivers,
);

/// A status and, if any, its `Retry-After`.
type Answer = (u16, Option<&'static str>);

/// What a stub webhook receiver answers, in turn (then 200 for good), and how often it
/// was called.
#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<Vec<Answer>>>,
    hits: Arc<Mutex<usize>>,
}

impl Script {
    fn hits(&self) -> usize {
        *self.hits.lock().unwrap()
    }
}

async fn stub_webhook(answers: Vec<Answer>) -> (String, Script) {
    let script = Script {
        answers: Arc::new(Mutex::new(answers)),
        hits: Arc::default(),
    };
    async fn page(State(script): State<Script>) -> axum::response::Response {
        *script.hits.lock().unwrap() += 1;
        let next = {
            let mut answers = script.answers.lock().unwrap();
            (!answers.is_empty()).then(|| answers.remove(0))
        };
        let (status, retry_after) = next.unwrap_or((200, None));
        let status = StatusCode::from_u16(status).unwrap();
        match retry_after {
            Some(after) => (status, [("retry-after", after)], "busy").into_response(),
            None => (status, "ok").into_response(),
        }
    }
    let app = Router::new()
        .route("/page", axum::routing::post(page))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/page", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, script)
}

/// A Twilio Messages API counting the SMS it is sent, by recipient.
async fn stub_twilio() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let sent: Arc<Mutex<Vec<String>>> = Arc::default();
    async fn record(
        State(sent): State<Arc<Mutex<Vec<String>>>>,
        body: axum::body::Bytes,
    ) -> (StatusCode, axum::Json<Value>) {
        let form = adapters::twilio::parse_form(&body).unwrap();
        let to = form
            .iter()
            .find(|(k, _)| k == "To")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        sent.lock().unwrap().push(to);
        (
            StatusCode::CREATED,
            axum::Json(json!({ "sid": "SM0001", "status": "queued" })),
        )
    }
    let app = Router::new().fallback(record).with_state(sent.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, sent)
}

/// The example's core with alice (on call at the harness clock) paged by `rules` only,
/// over a webhook notifier and Twilio SMS; the router over it; a pool running escalation
/// steps and pages; and a critical alert on checkout, ingested but not yet paged.
async fn paging(
    app: &mut TestApp,
    rules: Vec<NotifyRule>,
    twilio: SocketAddr,
) -> (Core, WorkerPool, bot_core::model::Alert) {
    let mut settings = TwilioSettings::new("AC123", "twilio-token", "+15550009999", "http://x");
    settings.api_url = format!("http://{twilio}");
    let sms: Arc<dyn Notifier> = Arc::new(TwilioSms::new(TwilioClient::new(settings).unwrap()));
    let webhook: Arc<dyn Notifier> = Arc::new(
        WebhookNotifier::new("webhook-secret".into(), reqwest::Client::new())
            .with_clock(Arc::new(app.clock.clone())),
    );
    let mut core_settings = (*app.core.settings).clone();
    core_settings.chat_platforms.clear();
    core_settings.notifier_channels = vec!["webhook".into(), "sms".into()];
    core_settings.notify_rules.insert("alice".into(), rules);
    let core = Core::new(
        app.db.store.clone(),
        Arc::new(app.clock.clone()),
        core_settings,
    );
    app.router = tocsin::http::router(tocsin::http::AppState::new(core.clone()));
    let pool = WorkerPool::new(
        app.db.store.clone(),
        Arc::new(app.clock.clone()),
        EscalationSteps::handlers(core.clone()).merge(PageByNotifier::handlers(
            core.clone(),
            vec![webhook, sms],
            None,
        )),
        PoolConfig {
            queues: vec!["core".into(), "notify".into()],
            ..Default::default()
        },
    );
    let integration = Integration {
        id: uuid::Uuid::now_v7(),
        service: "checkout".into(),
        name: "prometheus".into(),
        kind: "alertmanager".into(),
        origin: "cli".into(),
        settings: json!({}),
        created_at: app.clock.now(),
    };
    let event = AlertEvent {
        action: AlertAction::Trigger,
        dedup_key: Some("checkout-down".into()),
        severity: AlertSeverity::Critical,
        summary: "Checkout is down".into(),
        details: json!({}),
        labels: Default::default(),
        links: vec![],
    };
    let alert = core.ingest(&integration, vec![event]).await.unwrap()[0]
        .alert
        .clone()
        .unwrap();
    (core, pool, alert)
}

fn webhook_rule(url: &str) -> NotifyRule {
    NotifyRule {
        to: Some(url.to_owned()),
        ..NotifyRule::new("webhook", 0)
    }
}

async fn texts(app: &TestApp, alert: &bot_core::model::Alert) -> Vec<String> {
    app.db
        .store
        .timeline(Subject::Alert(alert.id))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.text)
        .collect()
}

async fn a_webhook_page_answered_500_falls_through_to_the_next_rule_in_the_same_tick(
    mut app: TestApp,
) {
    let (webhook, script) = stub_webhook(vec![(500, None), (500, None)]).await;
    let (twilio, sms) = stub_twilio().await;
    // The webhook at once, SMS only from the second attempt (a minute later).
    let rules = vec![webhook_rule(&webhook), NotifyRule::new("sms", 1)];
    let (core, pool, alert) = paging(&mut app, rules, twilio).await;

    pool.run_due().await.unwrap();
    assert_eq!(script.hits(), 1);
    assert_eq!(
        *sms.lock().unwrap(),
        [ALICE],
        "the SMS went out in the same tick"
    );
    let timeline = texts(&app, &alert).await;
    let failed = timeline
        .iter()
        .find(|t| t.starts_with("webhook page to alice failed:"))
        .unwrap_or_else(|| panic!("{timeline:?}"));
    assert!(
        failed.contains("500") && failed.ends_with("; falling through to sms"),
        "{failed}"
    );
    assert!(
        timeline.iter().any(|t| t == "sms page to alice delivered"),
        "{timeline:?}"
    );

    // The replica stays ready, and says the webhook channel is degraded.
    let (status, ready) = app.get("/readyz", &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["channels"]["webhook"]["state"], "degraded", "{ready}");
    assert!(
        ready["channels"]["webhook"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{ready}"
    );
    assert_eq!(ready["channels"]["sms"]["state"], "up", "{ready}");
    assert_eq!(ready["jobs"]["retrying"], 1, "{ready}");
    let (_, metrics) = app.get("/metrics", &app.viewer).await;
    let metrics = metrics.as_str().unwrap().to_owned();
    for line in [
        "tocsin_channel_up{channel=\"webhook\"}",
        "tocsin_deliveries_total{channel=\"sms\",outcome=\"delivered\"}",
        "tocsin_deliveries_total{channel=\"webhook\",outcome=\"unavailable\"}",
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }

    // The failed page is retried after its backoff (at most 5 s for a first retry) and
    // fails again: it does not fall through a second time.
    app.clock.advance(chrono::Duration::seconds(5));
    pool.run_due().await.unwrap();
    assert_eq!(script.hits(), 2);
    assert_eq!(sms.lock().unwrap().len(), 1);
    let timeline = texts(&app, &alert).await;
    let falls = timeline
        .iter()
        .filter(|t| t.contains("falling through"))
        .count();
    assert_eq!(falls, 1, "{timeline:?}");
    assert_eq!(
        timeline
            .iter()
            .filter(|t| t.starts_with("webhook page to alice failed:"))
            .count(),
        2,
        "{timeline:?}"
    );

    // The third try goes through: the channel is up again.
    app.clock.advance(chrono::Duration::seconds(10));
    pool.run_due().await.unwrap();
    assert_eq!(script.hits(), 3);
    assert_eq!(core.health.channels()["webhook"].state, ChannelState::Up);
}

async fn a_webhook_page_answered_429_waits_its_retry_after_to_the_second_then_delivers(
    mut app: TestApp,
) {
    let (webhook, script) = stub_webhook(vec![(429, Some("30"))]).await;
    let (twilio, _sms) = stub_twilio().await;
    let (core, pool, alert) = paging(&mut app, vec![webhook_rule(&webhook)], twilio).await;

    pool.run_due().await.unwrap();
    assert_eq!(script.hits(), 1);
    assert_eq!(
        core.health.channels()["webhook"].state,
        ChannelState::Degraded
    );
    let (_, ready) = app.get("/readyz", &app.viewer).await;
    assert_eq!(ready["jobs"]["retrying"], 1, "{ready}");

    app.clock.advance(chrono::Duration::seconds(29));
    pool.run_due().await.unwrap();
    assert_eq!(script.hits(), 1, "retried before Retry-After");
    app.clock.advance(chrono::Duration::seconds(1));
    pool.run_due().await.unwrap();
    assert_eq!(script.hits(), 2);
    let timeline = texts(&app, &alert).await;
    assert!(
        timeline
            .iter()
            .any(|t| t == "webhook page to alice delivered"),
        "{timeline:?}"
    );
    assert_eq!(core.health.channels()["webhook"].state, ChannelState::Up);
    let (_, ready) = app.get("/readyz", &app.viewer).await;
    assert_eq!(ready["channels"]["webhook"]["state"], "up", "{ready}");
    assert_eq!(ready["jobs"]["retrying"], 0, "{ready}");
}

/// Runs `sql` on the server's admin database (not the test's own).
async fn admin(sql: String) {
    let server = support::db::postgres_server_url();
    let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
}

#[tokio::test]
async fn while_postgresql_refuses_connections_alerts_get_503_and_the_retry_stores_them_once() {
    support::on(Backend::Postgres, |app| async move {
        const KEY: &str = "degradation-am-key";
        app.db
            .store
            .create_integration(&NewIntegration {
                service: "checkout".into(),
                name: "prometheus".into(),
                kind: "alertmanager".into(),
                key_hash: hash_token(KEY),
                origin: "cli".into(),
                settings: json!({}),
                at: app.clock.now(),
            })
            .await
            .unwrap();
        let fixture = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/alerts/alertmanager/webhook_v4_firing_2.json"
        ))
        .unwrap();
        let post = || {
            Request::post(format!("/api/v1/integrations/{KEY}/alertmanager"))
                .header("content-type", "application/json")
                .body(Body::from(fixture.clone()))
                .unwrap()
        };
        // The test's database name is the last segment of its URL (ours, `tocsin_test_…`).
        let database = app
            .db
            .url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        admin(format!(
            "ALTER DATABASE {database} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{database}' AND pid <> pg_backend_pid();"
        ))
        .await;

        let (status, retry_after, body) = app.router.clone().oneshot_raw(post()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(retry_after.as_deref(), Some("5"));
        assert_eq!(body["error"]["code"], "unavailable", "{body}");
        // Every other alert route answers the same while the database is away.
        // A captured request: the event is its `body`.
        let captured: Value = serde_json::from_slice(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/fixtures/alerts/pagerduty/events_v2_trigger_minimal.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let pagerduty = captured["body"].to_string().into_bytes();
        for (method, path, body) in [
            (
                "POST",
                format!("/api/v1/integrations/{KEY}/grafana"),
                b"{}".to_vec(),
            ),
            (
                "POST",
                format!("/api/v1/integrations/{KEY}/generic"),
                b"{}".to_vec(),
            ),
            ("POST", "/v2/enqueue".to_owned(), pagerduty),
            ("GET", "/api/v1/heartbeats/some-key".to_owned(), Vec::new()),
            ("POST", "/api/v1/heartbeats/some-key".to_owned(), Vec::new()),
        ] {
            let request = Request::builder()
                .method(method)
                .uri(&path)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap();
            let (status, retry_after, body) = app.router.clone().oneshot_raw(request).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
            assert_eq!(retry_after.as_deref(), Some("5"), "{path}");
        }
        let (status, ready) = app.get("/readyz", &app.viewer).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ready["database"]["state"], "unreachable", "{ready}");

        admin(format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true")).await;
        let (status, _, body) = app.router.clone().oneshot_raw(post()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let alerts = app
            .db
            .store
            .list_alerts(&AlertFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(alerts.len(), 2, "each of the fixture's two alerts, once");
    })
    .await;
}

/// Sends a request to a router; the status, the `Retry-After` header and the JSON body.
trait OneshotRaw {
    async fn oneshot_raw(self, request: Request<Body>) -> (StatusCode, Option<String>, Value);
}

impl OneshotRaw for Router {
    async fn oneshot_raw(self, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
        use tower::ServiceExt;
        let response = self.oneshot(request).await.unwrap();
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, retry_after, body)
    }
}

/// A webhook receiver for a real process: 500 while `failing`, then 200; counts both.
#[derive(Clone, Default)]
struct Flaky {
    failing: Arc<std::sync::atomic::AtomicBool>,
    failed: Arc<std::sync::atomic::AtomicUsize>,
    delivered: Arc<std::sync::atomic::AtomicUsize>,
}

async fn flaky_webhook() -> (String, Flaky) {
    use std::sync::atomic::Ordering;
    let flaky = Flaky::default();
    flaky.failing.store(true, Ordering::SeqCst);
    async fn page(State(flaky): State<Flaky>) -> StatusCode {
        if flaky.failing.load(Ordering::SeqCst) {
            flaky.failed.fetch_add(1, Ordering::SeqCst);
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            flaky.delivered.fetch_add(1, Ordering::SeqCst);
            StatusCode::OK
        }
    }
    let app = Router::new()
        .route("/page", axum::routing::post(page))
        .with_state(flaky.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/page", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, flaky)
}

#[tokio::test]
async fn a_served_process_reports_a_degraded_channel_and_alerts_the_admin_once_not_per_failure() {
    use std::sync::atomic::Ordering;
    use tokio::io::AsyncBufReadExt;
    const KEY: &str = "degradation-served-key";
    let (webhook, flaky) = flaky_webhook().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tocsin.toml");
    std::fs::write(
        &config,
        support::one_webhook_site(&webhook, "DEGRADATION_AM_KEY", "2s"),
    )
    .unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"));
    command
        .arg("serve")
        .env("TOCSIN_CONFIG", &config)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("tocsin.db").display()),
        )
        .env("TOCSIN_LISTEN", "127.0.0.1:0")
        .env("DEGRADATION_AM_KEY", KEY)
        .env("TOCSIN_WEBHOOK_SECRET", "degradation-webhook-secret")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped());
    let (mut child, base) = support::start_serving(command).await;
    let stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push(line);
        }
        all
    });
    let http = reqwest::Client::new();
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/alerts/alertmanager/webhook_v4_firing_2.json"
    ))
    .unwrap();
    let posted = http
        .post(format!("{base}/api/v1/integrations/{KEY}/alertmanager"))
        .header("content-type", "application/json")
        .body(fixture)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);

    let readyz = |want: &'static str| {
        let http = http.clone();
        let base = base.clone();
        move || {
            let http = http.clone();
            let base = base.clone();
            async move {
                let response = http.get(format!("{base}/readyz")).send().await.ok()?;
                let status = response.status();
                let body: Value = response.json().await.ok()?;
                (status == 200 && body["channels"]["webhook"]["state"] == want).then_some(body)
            }
        }
    };
    let patience = std::time::Duration::from_secs(30);
    // Two alerts, their attempts two seconds apart: several failed pages.
    support::eventually("four failed pages", patience, || async {
        (flaky.failed.load(Ordering::SeqCst) >= 4).then_some(())
    })
    .await;
    let degraded = support::eventually("webhook degraded", patience, readyz("degraded")).await;
    assert_eq!(degraded["status"], "ready", "{degraded}");
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tocsin_channel_up{channel=\"webhook\"} 0"),
        "{metrics}"
    );

    flaky.failing.store(false, Ordering::SeqCst);
    support::eventually("webhook up again", patience, readyz("up")).await;
    let failed = flaky.failed.load(Ordering::SeqCst);
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let log = log.await.unwrap();
    let count = |needle: &str| log.iter().filter(|l| l.contains(needle)).count();
    let alerts = count("delivery channel degraded");
    assert!(
        alerts >= 1 && alerts < failed,
        "{alerts} admin alerts for {failed} failures:\n{}",
        log.join("\n")
    );
    assert_eq!(
        count("delivery channel recovered"),
        alerts,
        "{}",
        log.join("\n")
    );
    assert!(
        log.iter()
            .any(|l| l.contains("ERROR") && l.contains("delivery channel degraded")),
        "{}",
        log.join("\n")
    );
}
