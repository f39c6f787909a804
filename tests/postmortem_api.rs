//! Postmortems end to end, in-process on SQLite and PostgreSQL with the example
//! configuration: an incident driven through the real core (an alert fires and pages, the
//! incident is declared, the alert linked and acknowledged, a responder paged, an action
//! run, an update posted, the incident resolved, on a manual clock) yields a postmortem
//! whose timeline lists it all in order at the right UTC times and whose impact lasts the
//! right number of seconds; curation survives regeneration and never touches the
//! incident's timeline; the Markdown export matches its snapshot. Then the REST surface:
//! 201/409/404, role rules, 422 for bad edits, the export, and the read-only page behind a
//! bearer token or a signed link.
//!
//! `UPDATE_SNAPSHOTS=1` rewrites `tests/snapshots/postmortem.md` instead of comparing.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bot_core::actions::{ActionKind, ActionSpec, CommandAction};
use bot_core::effects::ChatEffects;
use bot_core::jobs::{PoolConfig, WorkerPool};
use bot_core::model::{
    Actor, AlertAction, AlertEvent, AlertSeverity, ChannelRef, IncidentChange, IncidentStatus,
    Integration, NewActionItem, Role, Severity, Subject, TicketStatus, TicketUpdate, TimelineEntry,
    Tracker, Visibility,
};
use bot_core::ops::Declare;
use bot_core::{Clock, Core};
use chrono::{DateTime, Duration, Utc};
use commands::Invocation;
use serde_json::{Value, json};
use support::TestApp;
use tower::ServiceExt;

/// What the console printed; kept so the pool has somewhere to post.
#[derive(Clone, Default)]
struct Printed(Arc<Mutex<Vec<u8>>>);

impl Write for Printed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const ROOM: &str = "inc-1-checkout-is-failing";
const HUDDLE: &str = "https://meet.example.com/tocsin-inc-{number}";

/// The example's core with a huddle link and a harmless action, its router, and a pool
/// running the core and console queues with the real action runner.
struct World {
    core: Core,
    router: axum::Router,
    pool: WorkerPool,
}

fn world(app: &TestApp) -> World {
    let mut settings = (*app.core.settings).clone();
    settings.conference_url = Some(HUDDLE.into());
    settings.actions.push(ActionSpec {
        name: "flush-cache".into(),
        description: "Flush the checkout cache".into(),
        min_role: Role::Responder,
        confirm: false,
        params: vec![],
        kind: ActionKind::Command(CommandAction {
            program: "/bin/echo".into(),
            args: vec!["cache flushed".into()],
            env: vec![],
            timeout: std::time::Duration::from_secs(5),
        }),
    });
    let core = Core::new(app.db.store.clone(), Arc::new(app.clock.clone()), settings);
    let console = Arc::new(adapters::console::Console::new(
        "incidents",
        Box::new(Printed::default()),
    ));
    let runner = adapters::actions::Runner::new()
        .unwrap()
        .with_env(|name| (name == "PATH").then(|| "/usr/bin:/bin".into()));
    let handlers = tocsin::app::core_handlers_with(&core, Arc::new(runner), None)
        .merge(ChatEffects::handlers(&core, console));
    let pool = WorkerPool::new(
        core.store.clone(),
        Arc::new(app.clock.clone()),
        handlers,
        PoolConfig {
            queues: vec!["core".into(), "chat:console".into()],
            ..Default::default()
        },
    );
    let router = tocsin::http::router(tocsin::http::AppState::new(core.clone()));
    World { core, router, pool }
}

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let (status, text) = send(router, request.body(body).unwrap()).await;
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name)
}

/// Compares `actual` with the snapshot `name` exactly; `UPDATE_SNAPSHOTS=1` rewrites it.
fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_path(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "reading {}: {e}; run with UPDATE_SNAPSHOTS=1 to write it",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "{} differs (UPDATE_SNAPSHOTS=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

fn at(value: &Value) -> DateTime<Utc> {
    value["at"].as_str().unwrap().parse().unwrap()
}

/// The index of the first timeline item of `kind` whose text contains `text`, after
/// `after`, checking that it happened at `when`.
fn find(
    items: &[Value],
    after: Option<usize>,
    kind: &str,
    text: &str,
    when: DateTime<Utc>,
) -> usize {
    let start = after.map_or(0, |i| i + 1);
    let found = items[start..]
        .iter()
        .position(|i| i["kind"] == kind && i["text"].as_str().unwrap().contains(text))
        .unwrap_or_else(|| {
            panic!("no `{kind}` entry with `{text}` after item {after:?} in {items:#?}")
        })
        + start;
    assert_eq!(at(&items[found]), when, "{:#?}", items[found]);
    found
}

on_both!(
    an_incident_driven_through_the_core_yields_its_postmortem,
    create_get_and_the_errors_of_a_postmortem,
    bad_edits_are_refused_with_422_and_write_nothing,
    status_moves_forward_and_back_from_published,
    the_page_opens_with_a_bearer_token_or_a_signed_link_only,
);

async fn an_incident_driven_through_the_core_yields_its_postmortem(app: TestApp) {
    let w = world(&app);
    let t0 = app.clock.now();
    let alice = Actor::User("alice".into());
    let bob = Actor::User("bob".into());

    // 03:00:00 — the monitoring fires, and on-call is paged.
    let integration = Integration {
        id: uuid::Uuid::now_v7(),
        service: "checkout".into(),
        name: "prometheus".into(),
        kind: "alertmanager".into(),
        origin: "cli".into(),
        settings: json!({}),
        created_at: t0,
    };
    let alert = w
        .core
        .ingest(
            &integration,
            vec![AlertEvent {
                action: AlertAction::Trigger,
                dedup_key: Some("checkout-5xx".into()),
                severity: AlertSeverity::Critical,
                summary: "Checkout 5xx rate above 5%".into(),
                details: json!({}),
                labels: Default::default(),
                links: vec![],
            }],
        )
        .await
        .unwrap()[0]
        .alert
        .clone()
        .unwrap();
    w.pool.run_due().await.unwrap();

    // Each step at a moment of its own, so that no two jobs write the timeline at once.
    // 03:00:30 — alice declares; 03:01 the alert is linked, bob joins as a responder.
    app.clock.advance(Duration::seconds(30));
    let incident = w
        .core
        .declare(
            &alice,
            Declare {
                title: "Checkout is failing".into(),
                severity: Severity::Sev1,
                services: vec!["checkout".into()],
                commander: Some("alice".into()),
                alerts: vec![],
                idempotency_key: None,
                description: None,
            },
        )
        .await
        .unwrap();
    w.core
        .store
        .attach_channel(
            incident.id,
            &ChannelRef {
                platform: "console".into(),
                channel_id: ROOM.into(),
                name: ROOM.into(),
            },
        )
        .await
        .unwrap();
    w.pool.run_due().await.unwrap();
    app.clock.advance(Duration::seconds(30));
    w.core
        .change(
            &alice,
            incident.id,
            vec![
                IncidentChange::LinkAlert(alert.id),
                IncidentChange::AddResponder("bob".into()),
            ],
        )
        .await
        .unwrap();

    // 03:01:30 — bob acknowledges the incident's alerts: the monitoring's, and the page
    // the sev1 declaration sent; 03:03 alice pages carla.
    app.clock.advance(Duration::seconds(30));
    let linked_alerts = w.core.store.get_incident(incident.id).await.unwrap().alerts;
    assert_eq!(linked_alerts.len(), 2, "{linked_alerts:?}");
    assert!(linked_alerts.contains(&alert.id));
    for linked in &linked_alerts {
        w.core.acknowledge_alert(&bob, *linked).await.unwrap();
    }
    w.pool.run_due().await.unwrap();
    app.clock.advance(Duration::seconds(90));
    w.core
        .page_responder(&alice, incident.id, &"carla".into())
        .await
        .unwrap();
    w.pool.run_due().await.unwrap();

    // 03:08 — carla flushes the cache from the incident channel.
    app.clock.advance(Duration::minutes(5));
    let reply = commands::handle(
        &w.core,
        &Invocation::slash("console", "carla", ROOM, "incident", "run flush-cache"),
    )
    .await;
    assert!(
        reply.message.plain().contains("flush-cache"),
        "{}",
        reply.message.plain()
    );
    w.pool.run_due().await.unwrap();

    // 03:15 — an update; 04:02:05 — resolved.
    app.clock.advance(Duration::minutes(7));
    w.core
        .post_update(
            &alice,
            incident.id,
            "Error rate back to normal after the cache flush | watching",
            Visibility::Internal,
        )
        .await
        .unwrap();
    app.clock
        .advance(Duration::minutes(47) + Duration::seconds(5));
    w.core
        .change(
            &alice,
            incident.id,
            vec![IncidentChange::Status(IncidentStatus::Resolved)],
        )
        .await
        .unwrap();
    w.pool.run_due().await.unwrap();
    let resolved_at = t0 + Duration::seconds(3725);

    // 04:10 — the postmortem.
    app.clock.advance(Duration::minutes(8));
    let path = format!("/api/v1/incidents/{}/postmortem", incident.id);
    let (status, created) = call(&w.router, "POST", &path, &app.responder, None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["owner"], "alice",
        "the commander owns it by default"
    );
    assert_eq!(created["status"], "draft");
    assert_eq!(created["impact_seconds"], 3725, "{created:#}");
    assert_eq!(
        created["impact_started_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        t0,
        "the impact starts when the alert fired, before the declaration"
    );

    let items = created["timeline"].as_array().unwrap().clone();
    let times: Vec<DateTime<Utc>> = items.iter().map(at).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {times:?}"
    );
    let m = |n: i64| t0 + Duration::minutes(n);
    let triggered = find(&items, None, "alert_triggered", "", t0);
    let first_page = find(&items, Some(triggered), "paged", "", t0);
    let s = |n: i64| t0 + Duration::seconds(n);
    let declared = find(&items, Some(first_page), "declared", "", s(30));
    // A sev1 of the service links its open alerts as it is declared.
    let linked = find(&items, Some(declared), "alert_linked", "", s(30));
    let linked_by_hand = find(
        &items,
        Some(linked),
        "alert_linked",
        &alert.id.to_string(),
        s(60),
    );
    let acked = find(
        &items,
        Some(linked_by_hand),
        "alert_acknowledged",
        "",
        s(90),
    );
    let paged_carla = find(&items, Some(acked), "paged", "carla", m(3));
    let asked = find(
        &items,
        Some(paged_carla),
        "action_run",
        "Asked to run flush-cache",
        m(8),
    );
    let ran = find(&items, Some(asked), "action_run", "cache flushed", m(8));
    let update = find(&items, Some(ran), "status_update", "cache flush", m(15));
    let resolved = find(
        &items,
        Some(update),
        "status_changed",
        "resolved",
        resolved_at,
    );
    assert!(
        items[first_page]["actor"] == "system",
        "{:#?}",
        items[first_page]
    );
    assert_eq!(items[acked]["actor"], "user:bob");
    let _ = resolved;

    // Curation: hide the first page and the alert links (their text is the alerts' ids,
    // which mean nothing in a wiki), annotate the acknowledgement.
    let before: Vec<TimelineEntry> = w
        .core
        .store
        .timeline(Subject::Incident(incident.id))
        .await
        .unwrap();
    let first_page_id = items[first_page]["entry_id"].clone();
    let acked_id = items[acked]["entry_id"].clone();
    let (status, curated) = call(
        &w.router,
        "PATCH",
        &path,
        &app.responder,
        Some(json!({
            "sections": {
                "summary": "Checkout returned 5xx for an hour after a cache config change.",
                "impact.customers_affected": "About 4% of checkouts failed | mostly EU.",
            },
            "timeline": [
                { "entry_id": first_page_id, "hidden": true },
                { "entry_id": items[linked]["entry_id"], "hidden": true },
                { "entry_id": items[linked_by_hand]["entry_id"], "hidden": true },
                { "entry_id": acked_id, "annotation": "Bob was already looking at the dashboards" },
            ],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{curated}");
    let after: Vec<TimelineEntry> = w
        .core
        .store
        .timeline(Subject::Incident(incident.id))
        .await
        .unwrap();
    assert_eq!(
        after, before,
        "curation never changes the incident's timeline"
    );

    // A new entry, then the timeline again: the entry appears, the curation stays.
    app.clock.advance(Duration::minutes(5));
    let note = w
        .core
        .add_note(
            &alice,
            incident.id,
            "Root cause: the cache TTL was set to 0",
        )
        .await
        .unwrap();
    let (status, regenerated) = call(
        &w.router,
        "PATCH",
        &path,
        &app.responder,
        Some(json!({ "regenerate_timeline": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{regenerated}");
    let again = regenerated["timeline"].as_array().unwrap();
    assert_eq!(again.len(), items.len() + 1);
    let last = again.last().unwrap();
    assert_eq!(last["entry_id"], json!(note.id));
    assert_eq!(at(last), resolved_at + Duration::minutes(13));
    let by_id = |id: &Value| again.iter().find(|i| i["entry_id"] == *id).unwrap();
    assert_eq!(by_id(&first_page_id)["hidden"], true);
    assert_eq!(
        by_id(&acked_id)["annotation"],
        "Bob was already looking at the dashboards"
    );
    let now: Vec<TimelineEntry> = w
        .core
        .store
        .timeline(Subject::Incident(incident.id))
        .await
        .unwrap();
    assert_eq!(now[..before.len()], before[..]);
    assert_eq!(now.len(), before.len() + 1);

    // An action item with its ticket, then the export.
    let item = w
        .core
        .store
        .add_action_item(
            NewActionItem {
                id: uuid::Uuid::now_v7(),
                incident_id: incident.id,
                title: "Alert on a cache TTL of 0".into(),
                assignee: Some("bob".into()),
                tracker: Some(Tracker::Github),
                target: Some("acme/checkout".into()),
                created_by: "user:alice".into(),
                created_at: app.clock.now(),
            },
            &bot_core::store::no_jobs,
        )
        .await
        .unwrap();
    w.core
        .store
        .record_ticket(
            item.id,
            &TicketUpdate {
                status: TicketStatus::Created,
                key: Some("acme/checkout#12".into()),
                url: Some("https://github.com/acme/checkout/issues/12".into()),
                state: Some("open".into()),
                error: None,
            },
            app.clock.now(),
        )
        .await
        .unwrap();
    let (status, markdown) = send(
        &w.router,
        Request::get(format!("{path}.md"))
            .header("authorization", format!("Bearer {}", app.viewer))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{markdown}");
    assert!(markdown.contains("| 2026-11-24 03:01:30 | "), "{markdown}");
    assert!(
        markdown.contains("Duration of impact: 1h 02m 05s"),
        "{markdown}"
    );
    assert_snapshot("postmortem.md", &markdown);
}

/// Declares an incident over REST; returns its id.
async fn declare(app: &TestApp, title: &str) -> String {
    let (status, incident) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({ "title": title, "severity": "sev2", "commander": "alice" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    incident["id"].as_str().unwrap().to_owned()
}

async fn create_get_and_the_errors_of_a_postmortem(app: TestApp) {
    let id = declare(&app, "Checkout is failing").await;
    let other = declare(&app, "Search is slow").await;
    let path = format!("/api/v1/incidents/{id}/postmortem");

    let (status, body) = app.get(&path, &app.viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let unknown = format!("/api/v1/incidents/{}/postmortem", uuid::Uuid::now_v7());
    let (status, body) = app.json("POST", &unknown, &app.responder, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = app
        .json(
            "POST",
            "/api/v1/incidents/INC-99/postmortem",
            &app.responder,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app.json("POST", &path, &app.viewer, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .json("POST", &path, &app.responder, json!({ "owner": "nobody" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "owner");

    // No body at all is fine: the commander owns it.
    let (status, created) = app
        .send(
            Request::post(&path)
                .header("authorization", format!("Bearer {}", app.responder))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["owner"], "alice");
    assert_eq!(created["incident"]["reference"], "INC-1");
    let keys: Vec<&str> = created["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    let template = bot_core::postmortem::default_template();
    let expected: Vec<&str> = template.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, expected);
    let link = created["link"].as_str().unwrap();
    assert!(
        link.contains(&format!(
            "/postmortems/{}?token=",
            created["id"].as_str().unwrap()
        )),
        "{link}"
    );

    // Its jobs: the link posted (and the owner told) on each chat platform, and the
    // reminder when it is still unpublished after five days.
    let jobs = app.db.store.list_jobs(None, 1000).await.unwrap();
    let created_at: DateTime<Utc> = created["created_at"].as_str().unwrap().parse().unwrap();
    let posted: Vec<_> = jobs
        .iter()
        .filter(|j| j.kind == bot_core::postmortem::kinds::CREATED)
        .collect();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0].queue, "chat:console");
    assert_eq!(
        posted[0].payload,
        json!({ "postmortem_id": created["id"], "incident_id": id })
    );
    let reminders: Vec<_> = jobs
        .iter()
        .filter(|j| j.kind == bot_core::postmortem::kinds::REMINDER)
        .collect();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert_eq!(reminders[0].queue, "core");
    assert_eq!(reminders[0].run_at, created_at + Duration::days(5));
    assert_eq!(
        reminders[0].payload,
        json!({ "postmortem_id": created["id"] })
    );

    let (status, again) = app.json("POST", &path, &app.responder, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let jobs_after = app.db.store.list_jobs(None, 1000).await.unwrap();
    assert_eq!(
        jobs_after.len(),
        jobs.len(),
        "a refused creation writes no jobs"
    );

    // Read by any token, by id, number or reference.
    for name in [id.as_str(), "1", "INC-1"] {
        let (status, got) = app
            .get(&format!("/api/v1/incidents/{name}/postmortem"), &app.viewer)
            .await;
        assert_eq!(status, StatusCode::OK, "{got}");
        assert_eq!(got["id"], created["id"]);
        assert_eq!(got["incident"]["title"], "Checkout is failing");
    }
    let (status, _) = app
        .send(Request::get(&path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Another incident, another owner.
    let (status, theirs) = app
        .json(
            "POST",
            &format!("/api/v1/incidents/{other}/postmortem"),
            &app.responder,
            json!({ "owner": "bob" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    assert_eq!(theirs["owner"], "bob");

    // Markdown for any token, 404 without a postmortem.
    let (status, md) = app.get(&format!("{path}.md"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        md.as_str()
            .unwrap()
            .starts_with("# Postmortem: INC-1 Checkout is failing\n"),
        "{md}"
    );
    let third = declare(&app, "Nothing yet").await;
    let (status, _) = app
        .get(
            &format!("/api/v1/incidents/{third}/postmortem.md"),
            &app.viewer,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Listed in the OpenAPI document.
    let (status, doc) = app.get("/api/v1/openapi.json", &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    for route in [
        "/api/v1/incidents/{id}/postmortem",
        "/api/v1/incidents/{id}/postmortem.md",
        "/postmortems/{id}",
    ] {
        assert!(doc["paths"][route].is_object(), "{route} missing");
    }
    assert!(doc["paths"]["/api/v1/incidents/{id}/postmortem"]["patch"].is_object());
    for schema in [
        "PostmortemView",
        "PatchPostmortem",
        "PostmortemTimelineItem",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
}

async fn bad_edits_are_refused_with_422_and_write_nothing(app: TestApp) {
    let id = declare(&app, "Checkout is failing").await;
    let path = format!("/api/v1/incidents/{id}/postmortem");
    let (status, created) = app.json("POST", &path, &app.responder, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let entry = created["timeline"][0]["entry_id"].clone();

    let cases = [
        (json!({ "sections": { "root_cause": "x" } }), "sections"),
        (json!({ "status": "published" }), "status"),
        (json!({ "sections": { "summary": "a\u{0}b" } }), "sections"),
        (
            json!({ "timeline": [{ "entry_id": entry, "annotation": "a\u{0}" }] }),
            "annotation",
        ),
        (
            json!({ "timeline": [{ "entry_id": uuid::Uuid::now_v7(), "hidden": true }] }),
            "timeline",
        ),
        (
            json!({ "impact_ended_at": "2020-01-01T00:00:00Z" }),
            "impact_ended_at",
        ),
        (json!({ "owner": "nobody" }), "owner"),
        (json!({ "status": "done" }), "status"),
        (json!({ "colour": "red" }), ""),
        (json!({}), ""),
    ];
    for (body, field) in cases {
        let (status, answer) = app.json("PATCH", &path, &app.responder, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        if !field.is_empty() {
            assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
        }
    }
    let (status, _) = app
        .json(
            "PATCH",
            &path,
            &app.viewer,
            json!({ "status": "in_review" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, now) = app.get(&path, &app.viewer).await;
    assert_eq!(
        now["updated_at"], created["updated_at"],
        "nothing was written"
    );
    assert_eq!(now["sections"], created["sections"]);

    // A good edit, with the impact window moved by hand.
    let (status, edited) = app
        .json(
            "PATCH",
            &path,
            &app.responder,
            json!({
                "owner": "bob",
                "sections": { "went_well": "Paging worked." },
                "impact_started_at": "2026-11-24T02:50:00Z",
                "impact_ended_at": "2026-11-24T03:20:30Z",
                "timeline": [{ "entry_id": entry, "annotation": "first sign" }],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["owner"], "bob");
    assert_eq!(edited["impact_seconds"], 30 * 60 + 30);
    assert_eq!(edited["timeline"][0]["annotation"], "first sign");
    let went_well = edited["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "went_well")
        .unwrap();
    assert_eq!(went_well["body"], "Paging worked.");
    // "" removes an annotation.
    let (_, cleared) = app
        .json(
            "PATCH",
            &path,
            &app.responder,
            json!({ "timeline": [{ "entry_id": entry, "annotation": "" }] }),
        )
        .await;
    assert_eq!(cleared["timeline"][0]["annotation"], Value::Null);
    let unknown = format!("/api/v1/incidents/{}/postmortem", uuid::Uuid::now_v7());
    let (status, _) = app
        .json(
            "PATCH",
            &unknown,
            &app.responder,
            json!({ "status": "in_review" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn status_moves_forward_and_back_from_published(app: TestApp) {
    let id = declare(&app, "Checkout is failing").await;
    let path = format!("/api/v1/incidents/{id}/postmortem");
    app.json("POST", &path, &app.responder, json!({})).await;
    let mut moves = Vec::new();
    for status in ["in_review", "published", "in_review", "draft"] {
        app.clock.advance(Duration::minutes(1));
        let (code, body) = app
            .json("PATCH", &path, &app.responder, json!({ "status": status }))
            .await;
        moves.push((
            status,
            code,
            body["status"].clone(),
            body["published_at"].clone(),
        ));
    }
    assert_eq!(moves[0].1, StatusCode::OK);
    assert_eq!(moves[0].2, "in_review");
    assert_eq!(moves[1].1, StatusCode::OK);
    assert_eq!(moves[1].2, "published");
    let published: DateTime<Utc> = moves[1].3.as_str().unwrap().parse().unwrap();
    assert_eq!(published, app.clock.now() - Duration::minutes(2));
    assert_eq!(moves[2].1, StatusCode::OK);
    assert_eq!(moves[2].2, "in_review");
    assert_eq!(moves[2].3, Value::Null);
    assert_eq!(moves[3].1, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn the_page_opens_with_a_bearer_token_or_a_signed_link_only(app: TestApp) {
    let id = declare(&app, "Checkout <is> failing").await;
    let path = format!("/api/v1/incidents/{id}/postmortem");
    let (_, created) = app.json("POST", &path, &app.responder, json!({})).await;
    let pm = created["id"].as_str().unwrap().to_owned();
    let link = created["link"].as_str().unwrap();
    let signed = &link[link.find("/postmortems/").unwrap()..];
    let page = |uri: String, token: Option<&str>| {
        let mut request = Request::get(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Body::empty()).unwrap()
    };

    let (status, html) = send(
        &app.router,
        page(format!("/postmortems/{pm}"), Some(&app.viewer)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Postmortem: INC-1 Checkout &lt;is&gt; failing"),
        "{html}"
    );
    assert!(html.contains("width=device-width"), "readable on a phone");
    assert!(html.contains("Contributing factors"));
    assert!(!html.contains("<script"));

    let (status, html) = send(&app.router, page(signed.to_owned(), None)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("What happened, in a few sentences?"));

    let token = &signed[signed.find("token=").unwrap() + 6..];
    let mut forged = token.to_owned();
    forged.replace_range(0..1, if token.starts_with('0') { "1" } else { "0" });
    for uri in [
        format!("/postmortems/{pm}"),
        format!("/postmortems/{pm}?token={forged}"),
        format!("/postmortems/{pm}?token=not-hex"),
        format!("/postmortems/{}?token={token}", uuid::Uuid::now_v7()),
    ] {
        let (status, html) = send(&app.router, page(uri.clone(), None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {html}");
    }
    let (status, _) = send(
        &app.router,
        page(format!("/postmortems/{pm}"), Some("tcn_forged")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(
        &app.router,
        page(
            format!("/postmortems/{}", uuid::Uuid::now_v7()),
            Some(&app.viewer),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
