//! The notifiers against real servers on loopback: a stub webhook receiver (axum) that
//! records what it got, and a real SMTP server (Python's aiosmtpd, `pip install aiosmtpd`)
//! run as a child process that writes each mail it accepts to a maildir.

#[path = "aiosmtpd/mod.rs"]
mod aiosmtpd;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::notify::webhook::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use adapters::notify::{SmtpNotifier, SmtpSettings, SmtpTls, WebhookNotifier};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use bot_core::ManualClock;
use bot_core::model::{
    Alert, AlertId, AlertSeverity, AlertStatus, Link, Role, Urgency, User, UserId,
};
use bot_core::notify::{Delivery, Notifier, NotifyError, Page};
use chrono::{DateTime, Utc};
use serde_json::json;

const SECRET: &str = "whsec_tocsin_test";

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("test literal")
        .to_utc()
}

fn page(to: &str) -> Page {
    let created = at("2026-11-24T03:00:00Z");
    Page {
        alert: Alert {
            id: AlertId(
                "0193a5b0-7c1e-7000-8000-000000000001"
                    .parse()
                    .expect("uuid"),
            ),
            service: "checkout".into(),
            source: "alertmanager".into(),
            dedup_key: "disk-full-db-1".into(),
            severity: AlertSeverity::Critical,
            urgency: Urgency::High,
            summary: "Disk full on db-1".into(),
            details: json!({"mount": "/var/lib/postgresql"}),
            labels: BTreeMap::from([("instance".into(), "db-1".into())]),
            links: vec![
                Link {
                    href: "https://runbooks.example/disk-full".into(),
                    text: Some("Runbook".into()),
                },
                Link {
                    href: "https://grafana.example/d/db".into(),
                    text: None,
                },
            ],
            status: AlertStatus::Open,
            event_count: 3,
            created_at: created,
            last_seen_at: created,
            acknowledged_by: None,
            acknowledged_at: None,
            resolved_by: None,
            resolved_at: None,
        },
        user: User {
            id: UserId("alice".into()),
            name: "Alice Doe".into(),
            email: Some("alice@example.com".into()),
            time_zone: "Europe/Berlin".into(),
            phone: Some("+4915100000000".into()),
            role: Role::Responder,
            chat: BTreeMap::new(),
        },
        to: to.into(),
        level: 1,
        attempt: 2,
        ack_url: Some("https://tocsin.example/ack/0193a5b0".into()),
        idempotency_key: "0193a5b0-job".into(),
    }
}

// ---------------------------------------------------------------------------------------
// Webhook

/// One request as the stub receiver got it.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("request has no {name} header"))
            .to_str()
            .expect("ASCII header")
    }
}

struct Stub {
    reply: (StatusCode, Vec<(&'static str, &'static str)>, String),
    received: Mutex<Vec<Received>>,
}

/// A webhook receiver on 127.0.0.1 that records every request and gives one fixed reply.
async fn stub(
    status: StatusCode,
    headers: &[(&'static str, &'static str)],
    body: &str,
) -> (SocketAddr, Arc<Stub>) {
    async fn record(
        State(stub): State<Arc<Stub>>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> impl IntoResponse {
        stub.received.lock().expect("not poisoned").push(Received {
            method,
            path: uri.path().to_owned(),
            headers,
            body,
        });
        let (status, reply_headers, reply_body) = &stub.reply;
        let mut headers = HeaderMap::new();
        for (name, value) in reply_headers {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        (*status, headers, reply_body.clone())
    }

    let stub = Arc::new(Stub {
        reply: (status, headers.to_vec(), body.to_owned()),
        received: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .fallback(record)
        .with_state(Arc::clone(&stub));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, stub)
}

fn webhook_notifier(clock: ManualClock) -> WebhookNotifier {
    WebhookNotifier::new(SECRET.into(), reqwest::Client::new()).with_clock(Arc::new(clock))
}

#[tokio::test]
async fn webhook_posts_the_page_as_json_signed_over_timestamp_and_body() {
    let (addr, stub) = stub(StatusCode::NO_CONTENT, &[], "").await;
    let notifier = webhook_notifier(ManualClock::at("2026-11-24T03:05:00Z"));
    assert_eq!(notifier.channel(), "webhook");

    let delivery = notifier
        .deliver(&page(&format!("http://{addr}/hooks/tocsin?team=payments")))
        .await
        .expect("delivered");
    assert_eq!(delivery, Delivery { provider_id: None });

    let received = stub.received.lock().expect("not poisoned").clone();
    assert_eq!(received.len(), 1, "exactly one request: {received:?}");
    let request = &received[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/hooks/tocsin");
    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(request.header("idempotency-key"), "0193a5b0-job");

    let body: serde_json::Value = serde_json::from_slice(&request.body).expect("JSON body");
    assert_eq!(body["event"], "page");
    assert_eq!(
        body["alert"],
        json!({
            "id": "0193a5b0-7c1e-7000-8000-000000000001",
            "service": "checkout",
            "summary": "Disk full on db-1",
            "severity": "critical",
            "urgency": "high",
            "status": "open",
            "dedup_key": "disk-full-db-1",
            "links": [
                {"href": "https://runbooks.example/disk-full", "text": "Runbook"},
                {"href": "https://grafana.example/d/db", "text": null},
            ],
            "created_at": "2026-11-24T03:00:00Z",
        })
    );
    assert_eq!(body["user"], json!({"id": "alice", "name": "Alice Doe"}));
    assert_eq!(body["level"], 1);
    assert_eq!(body["attempt"], 2);
    assert_eq!(body["ack_url"], "https://tocsin.example/ack/0193a5b0");
    assert_eq!(body["sent_at"], "2026-11-24T03:05:00Z");
    // Nothing else: no labels, details or contact data leak to the receiver.
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "ack_url", "alert", "attempt", "event", "level", "sent_at", "user"
        ]
    );

    let timestamp: i64 = request
        .header(TIMESTAMP_HEADER)
        .parse()
        .expect("unix seconds");
    assert_eq!(timestamp, at("2026-11-24T03:05:00Z").timestamp());
    let signature = request.header(SIGNATURE_HEADER);
    assert!(signature.starts_with("sha256="), "{signature}");
    assert!(webhook::verify(SECRET, timestamp, &request.body, signature));
    assert_eq!(signature, webhook::sign(SECRET, timestamp, &request.body));

    // What must not verify: another secret, a changed body, a replay under a new timestamp.
    assert!(!webhook::verify(
        "whsec_someone_else",
        timestamp,
        &request.body,
        signature
    ));
    let mut tampered = request.body.to_vec();
    let level = tampered
        .windows(9)
        .position(|w| w == br#""level":1"#)
        .expect("level in body");
    tampered[level + 8] = b'9';
    assert!(!webhook::verify(SECRET, timestamp, &tampered, signature));
    assert!(!webhook::verify(
        SECRET,
        timestamp + 600,
        &request.body,
        signature
    ));
}

#[tokio::test]
async fn webhook_without_ack_url_sends_null() {
    let (addr, stub) = stub(StatusCode::OK, &[], "ok").await;
    let mut page = page(&format!("http://{addr}/"));
    page.ack_url = None;
    webhook_notifier(ManualClock::at("2026-11-24T03:05:00Z"))
        .deliver(&page)
        .await
        .expect("delivered");
    let received = stub.received.lock().expect("not poisoned").clone();
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).expect("JSON body");
    assert_eq!(body["ack_url"], serde_json::Value::Null);
}

#[tokio::test]
async fn webhook_429_is_rate_limited_for_retry_after_seconds() {
    let (addr, _stub) = stub(
        StatusCode::TOO_MANY_REQUESTS,
        &[("retry-after", "7")],
        "slow down",
    )
    .await;
    let err = webhook_notifier(ManualClock::at("2026-11-24T03:05:00Z"))
        .deliver(&page(&format!("http://{addr}/")))
        .await
        .expect_err("429 is not a delivery");
    assert!(
        matches!(
            err,
            NotifyError::RateLimited { retry_after: Some(after) } if after == Duration::from_secs(7)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn webhook_429_without_retry_after_leaves_the_delay_to_the_runner() {
    let (addr, _stub) = stub(StatusCode::TOO_MANY_REQUESTS, &[], "").await;
    let err = webhook_notifier(ManualClock::at("2026-11-24T03:05:00Z"))
        .deliver(&page(&format!("http://{addr}/")))
        .await
        .expect_err("429 is not a delivery");
    assert!(
        matches!(err, NotifyError::RateLimited { retry_after: None }),
        "{err:?}"
    );
}

#[tokio::test]
async fn webhook_503_is_unavailable() {
    let (addr, _stub) = stub(StatusCode::SERVICE_UNAVAILABLE, &[], "maintenance").await;
    let err = webhook_notifier(ManualClock::at("2026-11-24T03:05:00Z"))
        .deliver(&page(&format!("http://{addr}/")))
        .await
        .expect_err("503 is not a delivery");
    match err {
        NotifyError::Unavailable(reason) => {
            assert_eq!(
                reason,
                "webhook answered 503 Service Unavailable: maintenance"
            )
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn webhook_410_is_refused_with_status_and_body_excerpt() {
    let body = format!("This hook was deleted.\n\n{}", "x".repeat(1_000));
    let (addr, _stub) = stub(StatusCode::GONE, &[], &body).await;
    let err = webhook_notifier(ManualClock::at("2026-11-24T03:05:00Z"))
        .deliver(&page(&format!("http://{addr}/")))
        .await
        .expect_err("410 is not a delivery");
    match err {
        NotifyError::Refused(reason) => {
            assert!(
                reason.starts_with("webhook answered 410 Gone: This hook was deleted. xxx"),
                "{reason}"
            );
            assert!(reason.len() < 300, "excerpt is short: {reason}");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn webhook_to_a_closed_port_is_unavailable() {
    let closed = closed_port();
    let err = webhook_notifier(ManualClock::at("2026-11-24T03:05:00Z"))
        .deliver(&page(&format!(
            "http://127.0.0.1:{closed}/secret-token/hook"
        )))
        .await
        .expect_err("nobody listens");
    match err {
        NotifyError::Unavailable(reason) => {
            assert!(
                !reason.contains("secret-token"),
                "URL kept out of the error: {reason}"
            )
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn webhook_to_something_that_is_not_a_url_is_refused() {
    let err = webhook_notifier(ManualClock::at("2026-11-24T03:05:00Z"))
        .deliver(&page("not a url"))
        .await
        .expect_err("nothing to send to");
    assert!(matches!(err, NotifyError::Refused(_)), "{err:?}");
}

/// A loopback port nobody listens on: bound by the OS, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("bound address").port()
}

// ---------------------------------------------------------------------------------------
// SMTP

/// Used as aiosmtpd's handler: stores every accepted mail in a maildir (its `Mailbox`
/// handler) but answers RCPT for `nobody@` permanently (550) and `busy@` transiently (451),
/// as real relays do for unknown and greylisted recipients.
const HANDLER: &str = r#"
from aiosmtpd.handlers import Mailbox


class Handler(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if address.startswith("busy@"):
            return "451 4.7.1 <%s>: Greylisted, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

/// A real SMTP server (aiosmtpd) on loopback, killed when dropped.
struct SmtpServer {
    child: tokio::process::Child,
    port: u16,
    dir: PathBuf,
}

impl SmtpServer {
    async fn start(name: &str) -> SmtpServer {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("notify-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        std::fs::write(dir.join("tocsin_smtp_stub.py"), HANDLER).expect("write the handler");

        let (child, port) = aiosmtpd::start(&dir, "tocsin_smtp_stub.Handler", Some(&dir)).await;
        SmtpServer { child, port, dir }
    }

    fn notifier(&self) -> SmtpNotifier {
        SmtpNotifier::new(SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: "Tocsin <tocsin@example.com>".into(),
        })
        .expect("valid settings")
        .with_clock(Arc::new(ManualClock::at("2026-11-24T03:05:00Z")))
    }

    /// The raw mails in the maildir, oldest first.
    fn mails(&self) -> Vec<String> {
        let new = self.dir.join("maildir").join("new");
        let mut entries: Vec<_> = std::fs::read_dir(&new)
            .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        entries
            .iter()
            .map(|path| std::fs::read_to_string(path).expect("mail is text"))
            .collect()
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

impl Drop for SmtpServer {
    /// Also on a failed assertion; the child itself goes by `kill_on_drop`.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A stored mail split into unfolded headers and body lines, line endings normalised.
struct Mail {
    headers: Vec<(String, String)>,
    body: Vec<String>,
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
        // The DATA framing may leave a final line break of its own; it is not content.
        let body = body.trim_end_matches('\n');
        Mail {
            headers,
            body: body.lines().map(str::to_owned).collect(),
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
}

#[tokio::test]
async fn email_page_reaches_a_real_smtp_server_with_subject_and_details() {
    let server = SmtpServer::start("deliver").await;
    let notifier = server.notifier();
    assert_eq!(notifier.channel(), "email");

    let delivery = notifier
        .deliver(&page("alice@example.com"))
        .await
        .expect("delivered");
    // aiosmtpd's answer to DATA is "250 OK"; a Postfix relay would give its queue id.
    assert_eq!(delivery.provider_id.as_deref(), Some("OK"));

    let mails = server.mails();
    assert_eq!(mails.len(), 1, "one mail stored: {mails:?}");
    let mail = Mail::parse(&mails[0]);
    // The envelope, as aiosmtpd recorded it.
    assert_eq!(mail.header("X-MailFrom"), "tocsin@example.com");
    assert_eq!(mail.header("X-RcptTo"), "alice@example.com");
    // The headers people see.
    assert_eq!(mail.header("From"), "Tocsin <tocsin@example.com>");
    assert_eq!(mail.header("To"), "alice@example.com");
    assert_eq!(
        mail.header("Subject"),
        "[CRITICAL] checkout: Disk full on db-1"
    );
    assert_eq!(mail.header("Date"), "Tue, 24 Nov 2026 03:05:00 +0000");
    assert_eq!(mail.header("Content-Type"), "text/plain; charset=utf-8");
    assert!(mail.header("Message-ID").starts_with('<'));
    assert_eq!(
        mail.body,
        [
            "Disk full on db-1",
            "",
            "Service:   checkout",
            "Severity:  critical",
            "Urgency:   high",
            "Status:    open",
            "Dedup key: disk-full-db-1",
            "Opened:    2026-11-24 03:00:00 UTC",
            "Alert id:  0193a5b0-7c1e-7000-8000-000000000001",
            "Links:",
            "  Runbook: https://runbooks.example/disk-full",
            "  https://grafana.example/d/db",
            "",
            "You are paged: level 1, attempt 2",
            "Acknowledge: https://tocsin.example/ack/0193a5b0",
        ]
    );

    // Without a public URL there is nothing to click, and no line for it.
    let mut no_ack = page("alice@example.com");
    no_ack.ack_url = None;
    no_ack.alert.severity = AlertSeverity::Warning;
    notifier.deliver(&no_ack).await.expect("delivered");
    let mails = server.mails();
    assert_eq!(mails.len(), 2);
    let second = mails
        .iter()
        .map(|raw| Mail::parse(raw))
        .find(|m| m.header("Subject").starts_with("[WARNING]"))
        .expect("the warning mail");
    assert_eq!(
        second.header("Subject"),
        "[WARNING] checkout: Disk full on db-1"
    );
    assert_eq!(
        second.body.last().map(String::as_str),
        Some("You are paged: level 1, attempt 2")
    );

    server.stop().await;
}

#[tokio::test]
async fn email_rejections_are_refused_when_permanent_and_unavailable_when_transient() {
    let server = SmtpServer::start("reject").await;
    let notifier = server.notifier();

    match notifier.deliver(&page("nobody@example.com")).await {
        Err(NotifyError::Refused(reason)) => {
            assert!(reason.contains("550"), "{reason}");
            assert!(reason.contains("User unknown"), "{reason}");
        }
        other => panic!("expected Refused for a 550, got {other:?}"),
    }
    match notifier.deliver(&page("busy@example.com")).await {
        Err(NotifyError::Unavailable(reason)) => {
            assert!(reason.contains("451"), "{reason}");
        }
        other => panic!("expected Unavailable for a 451, got {other:?}"),
    }
    match notifier.deliver(&page("not an address")).await {
        Err(NotifyError::Refused(reason)) => {
            assert!(reason.contains("not an address"), "{reason}")
        }
        other => panic!("expected Refused for a bad address, got {other:?}"),
    }
    // The server is still fine after the rejections; nothing was stored for them.
    notifier
        .deliver(&page("alice@example.com"))
        .await
        .expect("delivered");
    assert_eq!(server.mails().len(), 1);

    server.stop().await;
}

#[tokio::test]
async fn email_to_a_relay_that_is_down_is_unavailable() {
    let notifier = SmtpNotifier::new(SmtpSettings {
        host: "127.0.0.1".into(),
        port: closed_port(),
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "tocsin@example.com".into(),
    })
    .expect("valid settings");
    let err = notifier
        .deliver(&page("alice@example.com"))
        .await
        .expect_err("nobody listens");
    assert!(matches!(err, NotifyError::Unavailable(_)), "{err:?}");
}
