//! Status page subscribers end to end, in-process on SQLite and PostgreSQL: a reader
//! subscribes with the page's form, confirms from the mail a real SMTP server (Python's
//! aiosmtpd, on loopback) received, hears of a public update and leaves with the link in
//! it; webhook subscribers get signed JSON, and one that fails neither blocks the others
//! nor is given up on; bad input, rate limits, and the admin REST API under
//! `/api/v1/statuspage`.

mod support;

#[path = "../adapters/tests/aiosmtpd/mod.rs"]
mod aiosmtpd;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use adapters::notify::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use adapters::notify::{SmtpSettings, SmtpTls, StatusPageMailer, StatusPageWebhook};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Request, StatusCode};
use bot_core::jobs::{PoolConfig, WorkerPool};
use bot_core::model::{Actor, Impact, JobState, PublicStatus};
use bot_core::ops::NOTIFY_QUEUE;
use bot_core::statuspage::subscribers::{SubscriberChannel, SubscriberNotices};
use bot_core::statuspage::{OpenPublic, PublicChange, kinds};
use bot_core::{Clock, Core};
use serde_json::json;
use support::TestApp;
use tower::ServiceExt;

const SECRET: &str = "whsec_statuspage_test";

on_both!(
    email_subscriber_confirms_hears_of_an_update_and_unsubscribes_in_one_click,
    webhooks_are_signed_and_a_failing_one_blocks_nobody_and_is_retried,
    bad_input_is_refused_without_saying_who_is_subscribed,
    subscribing_is_rate_limited_per_client,
    rest_api_runs_the_status_page_with_roles,
);

// ---------------------------------------------------------------------------------------
// Harness

/// A real SMTP server (aiosmtpd) on loopback storing each mail it accepts in a maildir;
/// killed when dropped.
struct SmtpServer {
    _child: tokio::process::Child,
    port: u16,
    dir: PathBuf,
}

impl SmtpServer {
    async fn start(name: &str) -> SmtpServer {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "statuspage-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        let (child, port) = aiosmtpd::start(&dir, "aiosmtpd.handlers.Mailbox", None).await;
        SmtpServer {
            _child: child,
            port,
            dir,
        }
    }

    fn mailer(&self, clock: &bot_core::ManualClock) -> StatusPageMailer {
        StatusPageMailer::new(SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: "Acme Status <status@example.com>".into(),
        })
        .expect("valid settings")
        .with_clock(Arc::new(clock.clone()))
    }

    /// Every mail received so far.
    fn mails(&self) -> Vec<Mail> {
        let new = self.dir.join("maildir").join("new");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .map(|p| Mail::parse(&std::fs::read_to_string(p).expect("mail is text")))
            .collect()
    }

    /// The one mail whose subject starts with `subject`.
    fn mail(&self, subject: &str) -> Mail {
        let mut found: Vec<Mail> = self
            .mails()
            .into_iter()
            .filter(|m| m.header("Subject").starts_with(subject))
            .collect();
        assert_eq!(found.len(), 1, "one mail `{subject}…`");
        found.remove(0)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A stored mail: unfolded headers, and the body decoded from quoted-printable.
struct Mail {
    headers: Vec<(String, String)>,
    body: String,
}

impl Mail {
    fn parse(raw: &str) -> Mail {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").expect("headers, blank line, body");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                let (_, value) = headers.last_mut().expect("continuation after a header");
                value.push(' ');
                value.push_str(line.trim());
            } else {
                let (name, value) = line.split_once(':').expect("Name: value");
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        let mail = Mail {
            headers,
            body: String::new(),
        };
        assert_eq!(mail.header("Content-Transfer-Encoding"), "quoted-printable");
        Mail {
            body: quoted_printable(body),
            ..mail
        }
    }

    fn header(&self, name: &str) -> &str {
        let mut found = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let (_, value) = found
            .next()
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers));
        assert!(found.next().is_none(), "one {name} header");
        value
    }

    /// The one line of the body starting with `prefix`, without it.
    fn line(&self, prefix: &str) -> &str {
        self.body
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line `{prefix}…` in\n{}", self.body))
    }
}

fn quoted_printable(text: &str) -> String {
    let mut bytes = Vec::new();
    let mut input = text.as_bytes().iter().copied().peekable();
    while let Some(b) = input.next() {
        if b != b'=' {
            bytes.push(b);
            continue;
        }
        match input.peek() {
            Some(b'\n') => {
                input.next();
            }
            _ => {
                let hex: Vec<u8> = input.by_ref().take(2).collect();
                let hex = std::str::from_utf8(&hex).expect("ASCII");
                bytes.push(u8::from_str_radix(hex, 16).expect("=XX"));
            }
        }
    }
    String::from_utf8(bytes).expect("UTF-8 text")
}

/// A loopback port nobody listens on: bound by the OS, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("bound address").port()
}

/// One request a webhook receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// A webhook receiver on loopback that records every request and answers `status`.
async fn receiver(status: StatusCode) -> (String, Log) {
    async fn record(
        State((log, status)): State<(Log, StatusCode)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        log.lock().unwrap().push(Received { headers, body });
        status
    }
    let log: Log = Arc::default();
    let app = axum::Router::new()
        .fallback(record)
        .with_state((log.clone(), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr: SocketAddr = listener.local_addr().expect("bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hooks/status"), log)
}

/// The notify queue's workers, over `channels`, on the app's clock.
fn notify_pool(app: &TestApp, channels: Vec<Arc<dyn SubscriberChannel>>) -> WorkerPool {
    WorkerPool::new(
        app.core.store.clone(),
        Arc::new(app.clock.clone()),
        SubscriberNotices::handlers(app.core.clone(), channels),
        PoolConfig {
            queues: vec![NOTIFY_QUEUE.into()],
            ..Default::default()
        },
    )
}

/// Sends `request`; returns status, headers and body text.
async fn call(app: &TestApp, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app.router.clone().oneshot(request).await.expect("router");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn form(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn json_post(path: &str, body: serde_json::Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// The path and query of a link in a mail (links name the configured public URL; the
/// tests talk to the router directly).
fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").expect("absolute URL").1;
    let path = &after_scheme[after_scheme.find('/').expect("a path")..];
    assert!(path.starts_with("/status/subscriptions/"), "{url}");
    path.to_owned()
}

async fn open_incident(core: &Core, name: &str, components: &[&str]) -> uuid::Uuid {
    core.open_public_incident(
        &Actor::System,
        OpenPublic {
            incident_id: None,
            name: name.into(),
            impact: Impact::Major,
            status: PublicStatus::Investigating,
            body: "We are looking into failed payments.".into(),
            components: components.iter().map(|c| (*c).to_owned()).collect(),
            component_status: None,
        },
    )
    .await
    .expect("open a public incident")
    .id
}

// ---------------------------------------------------------------------------------------
// Scenarios

async fn email_subscriber_confirms_hears_of_an_update_and_unsubscribes_in_one_click(app: TestApp) {
    let smtp = SmtpServer::start("optin").await;
    let pool = notify_pool(&app, vec![Arc::new(smtp.mailer(&app.clock))]);

    let (status, headers, body) = call(
        &app,
        form(
            "/status/subscribe",
            "email=Alice%40Example.com&components=checkout&subscribe=Subscribe",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(body.contains("check your inbox"), "{body}");
    pool.run_due().await.unwrap();

    let mail = smtp.mail("[Acme Status] Confirm your subscription");
    assert_eq!(mail.header("To"), "alice@example.com");
    assert!(mail.header("From").ends_with("<status@example.com>"));
    assert_eq!(mail.header("Auto-Submitted"), "auto-generated");
    assert!(
        mail.body.contains(
            "asked for updates about Checkout of Acme Status to be mailed to alice@example.com."
        ),
        "{}",
        mail.body
    );
    let confirm = mail
        .body
        .lines()
        .find(|l| l.contains("/confirm?token="))
        .expect("a confirmation link")
        .trim()
        .to_owned();
    assert!(
        confirm.starts_with("http://127.0.0.1:8080/status/subscriptions/"),
        "{confirm}"
    );

    // Nothing is sent before the link is followed.
    let first = open_incident(&app.core, "Checkout is failing", &["checkout"]).await;
    pool.run_due().await.unwrap();
    assert_eq!(smtp.mails().len(), 1);

    let (status, headers, body) = call(&app, get(&path_of(&confirm))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("<h1>Subscribed</h1>"), "{body}");
    assert_eq!(headers["referrer-policy"], "no-referrer");

    // A public update touching its component reaches it.
    app.core
        .update_public_incident(
            &Actor::System,
            first,
            PublicChange {
                status: Some(PublicStatus::Identified),
                body: "A bad deploy; we are rolling it back.".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // One on the API only does not.
    open_incident(&app.core, "API is slow", &["api"]).await;
    pool.run_due().await.unwrap();
    assert_eq!(smtp.mails().len(), 2);
    let notice = smtp.mail("[Acme Status] Identified: Checkout is failing");
    assert_eq!(notice.header("To"), "alice@example.com");
    assert!(
        notice
            .body
            .starts_with("Checkout is failing\nIdentified · 2026-11-24 03:00 UTC\n\nA bad deploy; we are rolling it back.\n"),
        "{}",
        notice.body
    );
    assert_eq!(
        notice.line("Details: "),
        format!("http://127.0.0.1:8080/status/incidents/{first}")
    );
    let unsubscribe = notice.line("Unsubscribe: ").to_owned();
    assert_eq!(
        notice.header("List-Unsubscribe"),
        format!("<{unsubscribe}>")
    );
    assert_eq!(
        notice.header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );

    // The link shows a button first (a mail scanner's GET changes nothing)...
    let (status, _, body) = call(&app, get(&path_of(&unsubscribe))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Stop sending Acme Status updates to alice@example.com?")
            && body.contains("<form method=\"post\">"),
        "{body}"
    );
    let (_, subscribers) = app.get("/api/v1/statuspage/subscribers", &app.admin).await;
    assert_eq!(subscribers.as_array().unwrap().len(), 1);

    // ...and the one-click POST (RFC 8058) unsubscribes, twice without harm.
    for _ in 0..2 {
        let (status, _, body) = call(
            &app,
            form(&path_of(&unsubscribe), "List-Unsubscribe=One-Click"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("<h1>Unsubscribed</h1>"), "{body}");
    }
    let (_, subscribers) = app.get("/api/v1/statuspage/subscribers", &app.admin).await;
    assert_eq!(subscribers, json!([]));
    app.core
        .update_public_incident(
            &Actor::System,
            first,
            PublicChange {
                status: Some(PublicStatus::Resolved),
                body: "Fixed.".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    pool.run_due().await.unwrap();
    assert_eq!(smtp.mails().len(), 2, "nothing after unsubscribing");
}

async fn webhooks_are_signed_and_a_failing_one_blocks_nobody_and_is_retried(app: TestApp) {
    let (good, good_log) = receiver(StatusCode::NO_CONTENT).await;
    let (failing, failing_log) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let unreachable = format!("http://127.0.0.1:{}/hook", closed_port());
    let smtp = SmtpServer::start("webhooks").await;
    let webhook = StatusPageWebhook::new(SECRET.into(), reqwest::Client::new())
        .with_clock(Arc::new(app.clock.clone()));
    let pool = notify_pool(
        &app,
        vec![Arc::new(webhook), Arc::new(smtp.mailer(&app.clock))],
    );
    // Subscribed in this order, so the failing ones are first in line.
    for target in [&failing, &unreachable, &good] {
        let (status, body) = app
            .json(
                "POST",
                "/api/v1/statuspage/subscribers",
                &app.admin,
                json!({ "kind": "webhook", "target": target }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(body["confirmed_at"].is_string());
    }
    let (status, body) = app
        .json(
            "POST",
            "/api/v1/statuspage/subscribers",
            &app.admin,
            json!({ "kind": "email", "target": "ops@example.com", "confirmed": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = app
        .json(
            "PATCH",
            "/api/v1/statuspage/components/api",
            &app.responder,
            json!({ "status": "major_outage" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(pool.run_due().await.unwrap(), 4);

    // The good receiver and the mailbox got theirs.
    let got = good_log.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let header = |name: &str| got[0].headers[name].to_str().unwrap().to_owned();
    let timestamp: i64 = header(TIMESTAMP_HEADER).parse().unwrap();
    assert_eq!(timestamp, app.clock.now().timestamp());
    assert!(verify(
        SECRET,
        timestamp,
        &got[0].body,
        &header(SIGNATURE_HEADER)
    ));
    assert!(!verify(
        "another secret",
        timestamp,
        &got[0].body,
        &header(SIGNATURE_HEADER)
    ));
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("x-tocsin-event"), "component.update");
    let payload: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(payload["event"], "component.update");
    assert_eq!(payload["page"]["name"], "Acme Status");
    assert_eq!(
        payload["component_updates"],
        json!([{ "component_id": "api", "name": "API", "old_status": "operational",
                 "new_status": "major_outage", "created_at": app.clock.now() }])
    );
    let unsubscribe = payload["meta"]["unsubscribe"].as_str().unwrap();
    assert!(unsubscribe.contains("/unsubscribe?token="), "{unsubscribe}");
    smtp.mail("[Acme Status] API: Major outage");

    // The failing ones wait for their retry, with the reason; the others are done.
    let jobs = app.core.store.list_jobs(None, 100).await.unwrap();
    let notices: Vec<_> = jobs.iter().filter(|j| j.kind == kinds::NOTIFY).collect();
    assert_eq!(notices.len(), 4);
    let mut waiting: Vec<(JobState, i32, String)> = notices
        .iter()
        .filter(|j| j.state != JobState::Done)
        .map(|j| {
            (
                j.state,
                j.attempts,
                j.last_error.clone().unwrap_or_default(),
            )
        })
        .collect();
    waiting.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    assert!(
        waiting
            .iter()
            .all(|(s, a, _)| *s == JobState::Queued && *a == 1)
    );
    assert!(
        waiting
            .iter()
            .any(|(_, _, e)| e.contains("webhook answered 500")),
        "{waiting:?}"
    );
    assert_eq!(failing_log.lock().unwrap().len(), 1);

    // Past the backoff, the failing receiver is tried again; nobody else hears twice.
    app.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(pool.run_due().await.unwrap(), 2);
    assert_eq!(failing_log.lock().unwrap().len(), 2);
    assert_eq!(good_log.lock().unwrap().len(), 1);
    assert_eq!(smtp.mails().len(), 1);
    let retried = app
        .core
        .store
        .list_jobs(Some(JobState::Queued), 100)
        .await
        .unwrap();
    assert!(retried.iter().all(|j| j.attempts == 2), "{retried:?}");
}

async fn bad_input_is_refused_without_saying_who_is_subscribed(app: TestApp) {
    // A malformed address: 422 saying why, as JSON or as a page.
    let (status, _, body) = call(
        &app,
        json_post("/status/subscribe", json!({ "email": "alice.example.com" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["field"], "email");
    assert_eq!(
        error["error"]["message"],
        "`alice.example.com` is not an e-mail address: it has no @"
    );
    let (status, _, body) = call(&app, form("/status/subscribe", "email=a%40b")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("the domain after the @ is not valid"),
        "{body}"
    );
    let (status, _, body) = call(
        &app,
        json_post(
            "/status/subscribe",
            json!({ "email": "a@example.com", "components": ["payments"] }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("valid: checkout, api, website"), "{body}");
    let (status, _, _) = call(
        &app,
        Request::post("/status/subscribe")
            .header("content-type", "text/plain")
            .body(Body::from("a@example.com"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // New, waiting, confirmed: one answer.
    let subscribe = || json_post("/status/subscribe", json!({ "email": "bob@example.com" }));
    let first = call(&app, subscribe()).await;
    assert_eq!(first.0, StatusCode::ACCEPTED);
    let again = call(&app, subscribe()).await;
    let (_, subscribers) = app.get("/api/v1/statuspage/subscribers", &app.admin).await;
    let id: uuid::Uuid = subscribers[0]["id"].as_str().unwrap().parse().unwrap();
    let token = app
        .core
        .subscriber_token(id, bot_core::statuspage::subscribers::TokenPurpose::Confirm)
        .await
        .unwrap();
    let confirmed = call(
        &app,
        get(&format!("/status/subscriptions/{id}/confirm?token={token}")),
    )
    .await;
    assert_eq!(confirmed.0, StatusCode::OK);
    let after = call(&app, subscribe()).await;
    assert_eq!((again.0, &again.2), (first.0, &first.2));
    assert_eq!((after.0, &after.2), (first.0, &first.2));
    let confirms = app
        .core
        .store
        .list_jobs(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == kinds::CONFIRM)
        .count();
    assert_eq!(confirms, 2, "sent while waiting, not once confirmed");

    // Wrong links: one plain 404, whatever was wrong.
    let unsubscribe = app
        .core
        .subscriber_token(
            id,
            bot_core::statuspage::subscribers::TokenPurpose::Unsubscribe,
        )
        .await
        .unwrap();
    let unknown = uuid::Uuid::now_v7();
    let mut answers = Vec::new();
    for request in [
        get(&format!(
            "/status/subscriptions/{id}/confirm?token={unsubscribe}"
        )),
        get(&format!("/status/subscriptions/{id}/confirm?token=00ff")),
        get(&format!("/status/subscriptions/{id}/confirm")),
        get(&format!(
            "/status/subscriptions/{unknown}/confirm?token={token}"
        )),
        get(&format!(
            "/status/subscriptions/not-a-uuid/confirm?token={token}"
        )),
        get(&format!(
            "/status/subscriptions/{id}/unsubscribe?token={token}"
        )),
        form(
            &format!("/status/subscriptions/{unknown}/unsubscribe?token={unsubscribe}"),
            "List-Unsubscribe=One-Click",
        ),
    ] {
        let (status, _, body) = call(&app, request).await;
        answers.push((status, body));
    }
    assert_eq!(answers[0].0, StatusCode::NOT_FOUND);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert!(!answers[0].1.contains("bob"), "{}", answers[0].1);
    let (_, subscribers) = app.get("/api/v1/statuspage/subscribers", &app.admin).await;
    assert_eq!(subscribers.as_array().unwrap().len(), 1, "still subscribed");
}

async fn subscribing_is_rate_limited_per_client(app: TestApp) {
    let from = |ip: &str| {
        let mut request = get("/status/subscriptions/not-a-uuid/confirm?token=x");
        request.headers_mut().insert(
            "x-forwarded-for",
            // What a client wrote first is ignored: the proxy appended the real address.
            format!("192.0.2.66, {ip}").parse().unwrap(),
        );
        request
    };
    for _ in 0..10 {
        let (status, _, _) = call(&app, from("203.0.113.9")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, headers, body) = call(&app, from("203.0.113.9")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=6).contains(&wait), "{wait}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "rate_limited");
    // The form gets a page, and the limit covers subscribing too.
    let mut request = form("/status/subscribe", "email=c%40example.com");
    request
        .headers_mut()
        .insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
    let (status, headers, body) = call(&app, request).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after"));
    assert!(body.contains("<h1>Too many requests</h1>"), "{body}");

    // Another client is not held up.
    let (status, _, _) = call(&app, from("203.0.113.10")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The TCP peer, when known, wins over what the client writes in the header.
    let mut request = from("203.0.113.9");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([198, 51, 100, 7], 50_000))));
    let (status, _, _) = call(&app, request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn rest_api_runs_the_status_page_with_roles(app: TestApp) {
    const BASE: &str = "/api/v1/statuspage";
    // Components: anyone reads, responders set.
    let (status, body) = app.get(&format!("{BASE}/components"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["checkout", "api", "website"]);
    assert!(
        body.as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "operational")
    );
    let (status, _) = app.send(get(&format!("{BASE}/components"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let patch = async |token: &str, id: &str, state: &str| {
        app.json(
            "PATCH",
            &format!("{BASE}/components/{id}"),
            token,
            json!({ "status": state }),
        )
        .await
    };
    assert_eq!(
        patch(&app.viewer, "api", "major_outage").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = patch(&app.responder, "api", "degraded_performance").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "degraded_performance");
    assert_eq!(body["updated_at"], json!(app.clock.now()));
    let (status, body) = patch(&app.responder, "payments", "major_outage").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("checkout, api, website")
    );
    let (status, body) = patch(&app.responder, "api", "down").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("operational") && message.contains("major_outage"),
        "{message}"
    );

    // Public incidents.
    let new = json!({
        "name": "Checkout is failing", "body": "Looking into it.", "impact": "critical",
        "components": ["checkout"]
    });
    let (status, _) = app
        .json(
            "POST",
            &format!("{BASE}/incidents"),
            &app.viewer,
            new.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, record) = app
        .json(
            "POST",
            &format!("{BASE}/incidents"),
            &app.responder,
            new.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    assert_eq!(record["status"], "investigating");
    assert_eq!(
        record["updates"][0]["affected_components"],
        json!([{ "component": "checkout", "old_status": "operational", "new_status": "major_outage" }])
    );
    let id = record["id"].as_str().unwrap().to_owned();
    let mut bad = new.clone();
    bad["components"] = json!(["payments"]);
    let (status, body) = app
        .json("POST", &format!("{BASE}/incidents"), &app.responder, bad)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"]["message"],
        "unknown component `payments`; valid: checkout, api, website"
    );
    let mut bad = new.clone();
    bad["incident_id"] = json!(999);
    let (status, body) = app
        .json("POST", &format!("{BASE}/incidents"), &app.responder, bad)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "incident_id");
    let (status, body) = app.get(&format!("{BASE}/incidents"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 1);
    assert_eq!(body["records"][0]["id"], id.as_str());
    let (status, body) = app
        .get(&format!("{BASE}/incidents/{id}"), &app.viewer)
        .await;
    assert_eq!(
        (status, body["name"].clone()),
        (StatusCode::OK, json!("Checkout is failing"))
    );
    for missing in [uuid::Uuid::now_v7().to_string(), "nope".to_owned()] {
        let (status, _) = app
            .get(&format!("{BASE}/incidents/{missing}"), &app.viewer)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, body) = app
        .json(
            "POST",
            &format!("{BASE}/incidents/{id}/updates"),
            &app.responder,
            json!({ "body": "Rolled back.", "status": "resolved" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "resolved");
    assert_eq!(body["updates"].as_array().unwrap().len(), 2);
    let (status, body) = app
        .json(
            "POST",
            &format!("{BASE}/incidents/{id}/updates"),
            &app.responder,
            json!({ "body": "More.", "status": "scheduled" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .json(
            "POST",
            &format!("{BASE}/incidents/{}/updates", uuid::Uuid::now_v7()),
            &app.responder,
            json!({ "body": "More." }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Maintenance.
    let starts = app.clock.now() + chrono::Duration::hours(20);
    let ends = starts + chrono::Duration::hours(2);
    let (status, body) = app
        .json(
            "POST",
            &format!("{BASE}/maintenances"),
            &app.responder,
            json!({ "name": "Database upgrade", "body": "Checkout may be slow.",
                    "components": ["checkout"], "starts": starts, "ends": ends }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "scheduled");
    assert_eq!(body["scheduled_until"], json!(ends));
    let (status, body) = app
        .json(
            "POST",
            &format!("{BASE}/maintenances"),
            &app.responder,
            json!({ "name": "Backwards", "body": "x", "starts": ends, "ends": starts }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "ends");
    let (status, body) = app
        .json(
            "POST",
            &format!("{BASE}/maintenances"),
            &app.responder,
            json!({ "name": "Bad time", "body": "x", "starts": "tomorrow", "ends": ends }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "starts");
    let (_, body) = app.get(&format!("{BASE}/maintenances"), &app.viewer).await;
    assert_eq!(body["total"], 1);
    let (_, body) = app
        .get(&format!("{BASE}/incidents?limit=0"), &app.viewer)
        .await;
    assert_eq!(body["error"]["field"], "limit");

    // Subscribers: admins only.
    assert_eq!(
        app.get(&format!("{BASE}/subscribers"), &app.responder)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let add = async |body: serde_json::Value| {
        app.json("POST", &format!("{BASE}/subscribers"), &app.admin, body)
            .await
    };
    let (status, _) = app
        .json(
            "POST",
            &format!("{BASE}/subscribers"),
            &app.responder,
            json!({ "kind": "webhook", "target": "https://hooks.example.com/x" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, waiting) = add(json!({ "kind": "email", "target": "Carol@Example.com" })).await;
    assert_eq!(status, StatusCode::CREATED, "{waiting}");
    assert_eq!(waiting["target"], "carol@example.com");
    assert_eq!(waiting["confirmed_at"], serde_json::Value::Null);
    let (status, again) = add(json!({ "kind": "email", "target": "carol@example.com" })).await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &waiting["id"]));
    let (status, vouched) = add(json!({
        "kind": "email", "target": "dave@example.com", "confirmed": true, "components": ["api"]
    }))
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(vouched["confirmed_at"].is_string());
    let confirms = app
        .core
        .store
        .list_jobs(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == kinds::CONFIRM)
        .count();
    assert_eq!(confirms, 2, "carol is asked (twice); dave was vouched for");
    for (bad, field) in [
        (
            json!({ "kind": "webhook", "target": "ftp://x.example.com" }),
            "url",
        ),
        (json!({ "kind": "email", "target": "nobody" }), "email"),
        (json!({ "kind": "chat", "target": "slack:C1" }), "kind"),
        (json!({ "kind": "pigeon", "target": "x" }), "kind"),
        (
            json!({ "kind": "webhook", "target": "https://x.example.com", "components": ["nope"] }),
            "component",
        ),
    ] {
        let (status, body) = add(bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["error"]["field"], field, "{bad}: {body}");
    }
    let (_, list) = app.get(&format!("{BASE}/subscribers"), &app.admin).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (_, list) = app
        .get(&format!("{BASE}/subscribers?confirmed=true"), &app.admin)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let delete = async |id: String| {
        app.send(
            Request::delete(format!("{BASE}/subscribers/{id}"))
                .header("authorization", format!("Bearer {}", app.admin))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .0
    };
    let id = waiting["id"].as_str().unwrap().to_owned();
    assert_eq!(delete(id.clone()).await, StatusCode::NO_CONTENT);
    assert_eq!(delete(id).await, StatusCode::NOT_FOUND);
    assert_eq!(delete("nope".into()).await, StatusCode::NOT_FOUND);

    // Every route is in the OpenAPI document.
    let (_, doc) = app.get("/api/v1/openapi.json", &app.viewer).await;
    for path in [
        "/api/v1/statuspage/components",
        "/api/v1/statuspage/components/{id}",
        "/api/v1/statuspage/incidents",
        "/api/v1/statuspage/incidents/{id}",
        "/api/v1/statuspage/incidents/{id}/updates",
        "/api/v1/statuspage/maintenances",
        "/api/v1/statuspage/subscribers",
        "/api/v1/statuspage/subscribers/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    for schema in [
        "Subscriber",
        "PublicIncident",
        "Component",
        "NewSubscriberBody",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}
