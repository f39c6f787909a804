//! Paging end to end in-process, on SQLite and PostgreSQL: a critical alert escalates to
//! whoever the example's schedule has on call (alice, at the harness clock), the page goes
//! out as an SMS through a Twilio-compatible stub on loopback, and alice's signed reply
//! "1" acknowledges the alert. A forged signature or an unknown number changes nothing.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use adapters::twilio::{TwilioClient, TwilioSettings, TwilioSms, expected_signature};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use bot_core::escalation::{EscalationSteps, PageByNotifier};
use bot_core::jobs::{PoolConfig, WorkerPool};
use bot_core::model::{
    AlertAction, AlertEvent, AlertSeverity, AlertStatus, Integration, NotifyRule, Subject,
};
use bot_core::notify::Notifier;
use bot_core::{Clock, Core};
use serde_json::json;
use support::TestApp;

const TOKEN: &str = "twilio-auth-token";
const PUBLIC: &str = "https://tocsin.example.com";
const ALICE: &str = "+15555550100";

/// The forms the stub received, each with its path under `__path`.
type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A Twilio Messages API that records each form it is sent.
async fn stub_twilio() -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    async fn record(
        State(seen): State<Seen>,
        request: Request<Body>,
    ) -> (StatusCode, axum::Json<serde_json::Value>) {
        let path = request.uri().path().to_owned();
        let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
            .await
            .unwrap();
        let mut form = adapters::twilio::parse_form(&bytes).unwrap();
        form.push(("__path".into(), path));
        seen.lock().unwrap().push(form);
        (
            StatusCode::CREATED,
            axum::Json(json!({ "sid": "SM0001", "status": "queued" })),
        )
    }
    let app = Router::new().fallback(record).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// A signed (or forged) inbound SMS, as Twilio posts it.
fn inbound_sms(from: &str, body: &str, signature: Option<&str>) -> Request<Body> {
    let params = vec![
        ("Body".to_owned(), body.to_owned()),
        ("From".to_owned(), from.to_owned()),
    ];
    let signed = expected_signature(TOKEN, &format!("{PUBLIC}/api/v1/twilio/sms"), &params);
    let encoded = serde_urlencoded::to_string(&params).unwrap();
    Request::post("/api/v1/twilio/sms")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature.unwrap_or(&signed))
        .body(Body::from(encoded))
        .unwrap()
}

on_both!(
    an_sms_page_is_acknowledged_by_a_signed_reply,
    the_ack_link_in_a_page_acknowledges_after_a_press_not_a_visit,
    the_hotline_rings_the_on_call_in_escalation_order_and_opens_an_alert,
);

/// The example's core paging alice by SMS at once (and by nothing else) through a Twilio
/// stub, behind a router with the Twilio webhooks; a pool running its steps and pages; and
/// a critical alert on checkout whose first page has gone out.
async fn paging(app: &mut TestApp) -> (WorkerPool, Seen, bot_core::model::Alert) {
    let (twilio, seen) = stub_twilio().await;
    let mut settings = TwilioSettings::new("AC123", TOKEN, "+15550009999", PUBLIC);
    settings.api_url = format!("http://{twilio}");
    let sms: Arc<dyn Notifier> = Arc::new(TwilioSms::new(TwilioClient::new(settings).unwrap()));

    // The example's core, paging alice by SMS at once and by nothing else.
    let mut core_settings = (*app.core.settings).clone();
    core_settings.chat_platforms.clear();
    core_settings.notifier_channels = vec!["sms".into()];
    core_settings
        .notify_rules
        .insert("alice".into(), vec![NotifyRule::new("sms", 0)]);
    let core = Core::new(
        app.db.store.clone(),
        Arc::new(app.clock.clone()),
        core_settings,
    );
    app.router = tocsin::http::router(tocsin::http::AppState::new(core.clone()).with_twilio(Some(
        tocsin::http::TwilioInbound {
            auth_token: TOKEN.into(),
            public_url: PUBLIC.into(),
            hotline_service: Some("checkout".into()),
        },
    )));
    let pool = WorkerPool::new(
        app.db.store.clone(),
        Arc::new(app.clock.clone()),
        EscalationSteps::handlers(core.clone()).merge(PageByNotifier::handlers(
            core.clone(),
            vec![sms],
            Some(PUBLIC.into()),
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
    pool.run_due().await.unwrap();

    (pool, seen, alert)
}

async fn an_sms_page_is_acknowledged_by_a_signed_reply(mut app: TestApp) {
    let (pool, seen, alert) = paging(&mut app).await;
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        field(&sent[0], "__path"),
        "/2010-04-01/Accounts/AC123/Messages.json"
    );
    assert_eq!(field(&sent[0], "To"), ALICE);
    assert_eq!(field(&sent[0], "From"), "+15550009999");
    let body = field(&sent[0], "Body");
    assert!(
        body.contains("Checkout is down") && body.contains("Reply 1 to acknowledge"),
        "{body}"
    );
    let timeline = app
        .db
        .store
        .timeline(Subject::Alert(alert.id))
        .await
        .unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.text == "sms page to alice delivered"),
        "{timeline:?}"
    );

    // A forged reply and one from a stranger change nothing.
    let (status, _) = app.send(inbound_sms(ALICE, "1", Some("Zm9yZ2Vk"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, reply) = app.send(inbound_sms("+19995550000", "1", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        reply.as_str().unwrap().contains("not known to Tocsin"),
        "{reply}"
    );
    assert_eq!(
        app.db.store.get_alert(alert.id).await.unwrap().status,
        AlertStatus::Open
    );

    // alice's signed "1" acknowledges, and the next attempt pages nobody.
    let (status, reply) = app.send(inbound_sms(ALICE, "1", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        reply.as_str().unwrap(),
        "<Response><Message>Acknowledged: Checkout is down</Message></Response>"
    );
    let acked = app.db.store.get_alert(alert.id).await.unwrap();
    assert_eq!(acked.status, AlertStatus::Acknowledged);
    assert_eq!(acked.acknowledged_by.as_deref(), Some("user:alice"));
    app.clock.advance(chrono::Duration::minutes(10));
    pool.run_due().await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
}

async fn the_hotline_rings_the_on_call_in_escalation_order_and_opens_an_alert(mut app: TestApp) {
    app.router = tocsin::http::router(tocsin::http::AppState::new(app.core.clone()).with_twilio(
        Some(tocsin::http::TwilioInbound {
            auth_token: TOKEN.into(),
            public_url: PUBLIC.into(),
            hotline_service: Some("checkout".into()),
        }),
    ));
    let params = vec![
        ("CallSid".to_owned(), "CA0001".to_owned()),
        ("From".to_owned(), "+4930123456".to_owned()),
    ];
    let request = |signature: String| {
        Request::post("/api/v1/twilio/hotline")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(Body::from(serde_urlencoded::to_string(&params).unwrap()))
            .unwrap()
    };
    let (status, _) = app.send(request("Zm9yZ2Vk".into())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let signed = expected_signature(TOKEN, &format!("{PUBLIC}/api/v1/twilio/hotline"), &params);
    let (status, twiml) = app.send(request(signed)).await;
    assert_eq!(status, StatusCode::OK);
    // At the harness clock: level 1 reaches alice (primary), level 2 dieter (secondary,
    // who has no phone), level 3 the whole team, adding bob and carla, in that order.
    assert_eq!(
        twiml.as_str().unwrap(),
        "<Response><Say>Connecting you to the engineer on call.</Say>\
         <Dial timeout=\"20\"><Number>+15555550100</Number></Dial>\
         <Dial timeout=\"20\"><Number>+15555550101</Number></Dial>\
         <Dial timeout=\"20\"><Number>+4915550100200</Number></Dial>\
         <Say>Nobody else on call could be reached. Goodbye.</Say></Response>"
    );
    let (_, alerts) = app.get("/api/v1/alerts?status=open", &app.viewer).await;
    assert_eq!(
        alerts["alerts"][0]["summary"],
        "Hotline call from +4930123456"
    );
    assert_eq!(alerts["alerts"][0]["source"], "hotline");
}

async fn the_ack_link_in_a_page_acknowledges_after_a_press_not_a_visit(mut app: TestApp) {
    let (_pool, seen, alert) = paging(&mut app).await;
    let body = field(&seen.lock().unwrap()[0], "Body").to_owned();
    let link = body
        .split_whitespace()
        .find(|w| w.starts_with(PUBLIC))
        .unwrap_or_else(|| panic!("no link in {body}"))
        .to_owned();
    let path = link.strip_prefix(PUBLIC).unwrap().to_owned();
    assert!(
        path.starts_with(&format!("/ack/{}/alice/", alert.id)),
        "{path}"
    );

    // Opening the link (as a mail scanner would) only shows the alert and a button.
    let (status, page) = app
        .send(Request::get(&path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    let page = page.as_str().unwrap().to_owned();
    assert!(
        page.contains("Checkout is down") && page.contains("<form method=\"post\">"),
        "{page}"
    );
    assert_eq!(
        app.db.store.get_alert(alert.id).await.unwrap().status,
        AlertStatus::Open
    );

    // A link for someone else, or a forged one, is nothing.
    let bob = path.replace("/alice/", "/bob/");
    let (status, _) = app
        .send(Request::post(&bob).body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .send(
            Request::post(format!("/ack/{}/alice/00ff", alert.id))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, page) = app
        .send(Request::post(&path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("Acknowledged by alice."));
    let acked = app.db.store.get_alert(alert.id).await.unwrap();
    assert_eq!(acked.acknowledged_by.as_deref(), Some("user:alice"));
}
