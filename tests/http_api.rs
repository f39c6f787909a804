//! The REST API in-process, on SQLite and PostgreSQL: declaring and running an incident,
//! and every kind of bad input answered with the JSON error and no change to the database.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bot_core::Clock;
use bot_core::model::{AlertId, AlertSeverity, IncidentFilter, NewAlert};
use bot_core::store::no_jobs;
use serde_json::{Value, json};
use support::TestApp;

on_both!(
    incident_lifecycle_over_rest,
    alerts_are_acknowledged_and_resolved_over_rest,
    bad_input_gets_a_json_error_and_changes_nothing,
    viewers_read_but_never_write,
    list_pages_with_a_cursor,
    operational_endpoints_report_state,
);

async fn incident_lifecycle_over_rest(app: TestApp) {
    let (status, created) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({"title": "Checkout is failing", "severity": "sev1", "services": ["checkout"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["number"], 1);
    assert_eq!(created["status"], "investigating");
    assert_eq!(created["declared_by"], "token:responder");
    assert_eq!(created["declared_at"], "2026-11-24T03:00:00.123456Z");
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, by_id) = app
        .get(&format!("/api/v1/incidents/{id}"), &app.viewer)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id, created);
    let (_, by_number) = app.get("/api/v1/incidents/1", &app.viewer).await;
    assert_eq!(by_number, created);

    app.clock.advance(chrono::Duration::minutes(4));
    let (status, update) = app
        .json(
            "POST",
            &format!("/api/v1/incidents/{id}/updates"),
            &app.responder,
            json!({"text": "Rolled back deploy 4412", "visibility": "public"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{update}");
    assert_eq!(update["visibility"], "public");
    assert_eq!(update["status"], "investigating");

    let (status, patched) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.admin,
            json!({"status": "monitoring", "severity": "sev2", "commander": "alice"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (patched["status"].as_str(), patched["severity"].as_str()),
        (Some("monitoring"), Some("sev2"))
    );
    assert_eq!(patched["commander"], "alice");

    app.clock.advance(chrono::Duration::minutes(11));
    let (status, resolved) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.responder,
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resolved["resolved_at"], "2026-11-24T03:15:00.123456Z");

    // Resolving again says so and changes nothing.
    let (status, again) = app
        .json(
            "PATCH",
            "/api/v1/incidents/1",
            &app.responder,
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(again["error"]["message"], "incident is already resolved");

    let (status, note) = app
        .json(
            "POST",
            &format!("/api/v1/incidents/{id}/timeline"),
            &app.responder,
            json!({"text": "Root cause: expired certificate"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");

    let (_, timeline) = app
        .get(&format!("/api/v1/incidents/{id}/timeline"), &app.viewer)
        .await;
    let kinds: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "declared",
            "status_update",
            "severity_changed",
            "role_assigned",
            "status_changed",
            "status_changed",
            "note"
        ]
    );
    let (_, updates) = app
        .get(&format!("/api/v1/incidents/{id}/updates"), &app.viewer)
        .await;
    assert_eq!(updates.as_array().unwrap().len(), 1);
}

async fn trigger(app: &TestApp, key: &str) -> AlertId {
    let alert = NewAlert {
        id: AlertId::new(),
        service: "checkout".into(),
        source: "manual".into(),
        dedup_key: key.into(),
        severity: AlertSeverity::Critical,
        urgency: bot_core::model::Urgency::High,
        summary: format!("{key} is failing"),
        details: json!({}),
        labels: Default::default(),
        links: vec![],
        at: app.clock.now(),
    };
    app.db
        .store
        .trigger_alert(alert, &no_jobs)
        .await
        .unwrap()
        .alert
        .id
}

async fn alerts_are_acknowledged_and_resolved_over_rest(app: TestApp) {
    let id = trigger(&app, "disk-full").await;
    app.clock.advance(chrono::Duration::seconds(75));
    let (status, acked) = app
        .json(
            "POST",
            &format!("/api/v1/alerts/{id}/ack"),
            &app.responder,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{acked}");
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(acked["acknowledged_by"], "token:responder");
    assert_eq!(acked["acknowledged_at"], "2026-11-24T03:01:15.123456Z");
    let (status, _) = app
        .json(
            "POST",
            &format!("/api/v1/alerts/{id}/resolve"),
            &app.responder,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = app
        .json(
            "POST",
            &format!("/api/v1/alerts/{id}/ack"),
            &app.responder,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["code"], "conflict");
    let (_, listed) = app.get("/api/v1/alerts?status=resolved", &app.viewer).await;
    assert_eq!(listed["alerts"][0]["id"], json!(id));
    let (_, timeline) = app
        .get(&format!("/api/v1/alerts/{id}/timeline"), &app.viewer)
        .await;
    assert_eq!(timeline.as_array().unwrap().len(), 3);
}

/// Everything the database holds that a request could change, to compare before/after.
async fn snapshot(app: &TestApp) -> Value {
    let store = &app.db.store;
    let incidents = store
        .list_incidents(&IncidentFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut timelines = Vec::new();
    let mut updates = Vec::new();
    for i in &incidents {
        timelines.push(
            store
                .timeline(bot_core::model::Subject::Incident(i.id))
                .await
                .unwrap(),
        );
        updates.push(store.status_updates(i.id).await.unwrap());
    }
    let alerts = store
        .list_alerts(&bot_core::model::AlertFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let jobs = store.list_jobs(None, 1000).await.unwrap();
    json!({ "incidents": incidents, "timelines": timelines, "updates": updates, "alerts": alerts, "jobs": jobs })
}

fn assert_error(
    status: StatusCode,
    body: &Value,
    expected: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["error"]["field"].as_str(), field, "{body}");
}

async fn bad_input_gets_a_json_error_and_changes_nothing(app: TestApp) {
    let (_, existing) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({"title": "Existing", "severity": "sev3"}),
        )
        .await;
    let id = existing["id"].as_str().unwrap().to_owned();
    let alert = trigger(&app, "cpu").await;
    app.db
        .store
        .resolve_alert(
            alert,
            &bot_core::model::Actor::System,
            app.clock.now(),
            &no_jobs,
        )
        .await
        .unwrap();
    app.json(
        "PATCH",
        &format!("/api/v1/incidents/{id}"),
        &app.responder,
        json!({"status": "resolved"}),
    )
    .await;
    let before = snapshot(&app).await;

    let post = |body: Body, content_type: &str, token: Option<&str>| {
        let mut req = Request::post("/api/v1/incidents").header("content-type", content_type);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        req.body(body).unwrap()
    };
    let (s, b) = app
        .send(post(
            Body::from("{\"title\": \"x\", "),
            "application/json",
            Some(&app.responder),
        ))
        .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_request", None);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );

    let (s, b) = app
        .send(post(
            Body::from(r#"{"title":"x","severity":"sev1"}"#),
            "application/json",
            None,
        ))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized", None);
    let (s, b) = app
        .send(post(
            Body::from(r#"{"title":"x","severity":"sev1"}"#),
            "application/json",
            Some("tcn_forged"),
        ))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized", None);

    let (s, b) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.viewer,
            json!({"title": "x", "severity": "sev1"}),
        )
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden", None);

    let (s, b) = app
        .get(
            "/api/v1/incidents/01a21681-5679-743a-af94-891cc9577863",
            &app.viewer,
        )
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);
    let (s, b) = app.get("/api/v1/incidents/not-an-id", &app.viewer).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);
    let (s, b) = app
        .json("POST", "/api/v1/alerts/nope/ack", &app.responder, json!({}))
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);

    let huge = format!(
        r#"{{"title":"{}","severity":"sev1"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let (s, b) = app
        .send(post(
            Body::from(huge),
            "application/json",
            Some(&app.responder),
        ))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
    );

    let (s, b) = app
        .send(post(
            Body::from("title=x&severity=sev1"),
            "application/x-www-form-urlencoded",
            Some(&app.responder),
        ))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    );

    let (s, b) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({"title": "x", "severity": "sev9"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
        Some("severity"),
    );
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({"title": "   ", "severity": "sev1"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
        Some("title"),
    );
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({"title": "x", "severity": "sev1", "services": ["checkout", "nope"]}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
        Some("services"),
    );
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({"title": "x", "severity": "sev1", "colour": "red"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
        Some("colour"),
    );

    // NUL characters: PostgreSQL cannot store them, so neither backend accepts them.
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({"title": "bad\u{0}title", "severity": "sev1"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
        Some("title"),
    );
    let (s, b) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({"title": "x", "severity": "sev1", "commander": "al\u{0}ice"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    // Changing a resolved incident, or several changes of which one is illegal.
    let (s, b) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.responder,
            json!({"severity": "sev1"}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "conflict", None);
    let (s, b) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.responder,
            json!({"title": "Renamed", "status": "resolved"}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "conflict", None);
    let (s, b) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.admin,
            json!({"commander": "nobody"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
        Some("commander"),
    );
    let (s, b) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.responder,
            json!({}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
        Some("changes"),
    );
    let (s, b) = app
        .json(
            "POST",
            &format!("/api/v1/alerts/{alert}/ack"),
            &app.responder,
            json!({}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "conflict", None);
    let (s, b) = app.get("/api/v1/incidents?limit=0", &app.viewer).await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
        Some("limit"),
    );
    let (s, b) = app
        .get("/api/v1/incidents?severity=sev9", &app.viewer)
        .await;
    assert_error(
        s,
        &b,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
        None,
    );
    let (s, b) = app.get("/api/v1/no-such-route", &app.viewer).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);

    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused request changed the database"
    );
}

async fn viewers_read_but_never_write(app: TestApp) {
    let (_, created) = app
        .json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({"title": "DB latency", "severity": "sev2"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    for (method, path, body) in [
        (
            "PATCH",
            format!("/api/v1/incidents/{id}"),
            json!({"status": "resolved"}),
        ),
        (
            "POST",
            format!("/api/v1/incidents/{id}/updates"),
            json!({"text": "x"}),
        ),
        (
            "POST",
            format!("/api/v1/incidents/{id}/timeline"),
            json!({"text": "x"}),
        ),
    ] {
        let (s, b) = app.json(method, &path, &app.viewer, body).await;
        assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden", None);
    }
    // Roles need a commander; jobs need an admin.
    let (s, _) = app
        .json(
            "PATCH",
            &format!("/api/v1/incidents/{id}"),
            &app.responder,
            json!({"commander": "alice"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.get("/api/v1/jobs", &app.responder).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, jobs) = app.get("/api/v1/jobs?state=queued", &app.admin).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        jobs.as_array()
            .unwrap()
            .iter()
            .any(|j| j["kind"] == "chat.incident_opened"),
        "{jobs}"
    );
    let (s, users) = app.get("/api/v1/users", &app.viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert!(users.as_array().unwrap().iter().any(|u| u["id"] == "alice"));
    let (s, service) = app.get("/api/v1/services/checkout", &app.viewer).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(service["escalation_policy"], "checkout");
}

async fn list_pages_with_a_cursor(app: TestApp) {
    for n in 1..=5 {
        let severity = if n % 2 == 0 { "sev1" } else { "sev3" };
        app.json(
            "POST",
            "/api/v1/incidents",
            &app.responder,
            json!({"title": format!("Incident {n}"), "severity": severity}),
        )
        .await;
    }
    let (_, page) = app.get("/api/v1/incidents?limit=2", &app.viewer).await;
    let numbers: Vec<i64> = page["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [5, 4]);
    assert_eq!(page["next_before"], 4);
    let (_, page) = app
        .get("/api/v1/incidents?limit=2&before=4", &app.viewer)
        .await;
    assert_eq!(page["incidents"][0]["number"], 3);
    let (_, page) = app
        .get("/api/v1/incidents?limit=2&before=2", &app.viewer)
        .await;
    assert_eq!(page["incidents"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_before"], Value::Null);
    let (_, sev1) = app
        .get("/api/v1/incidents?severity=sev1", &app.viewer)
        .await;
    assert_eq!(sev1["incidents"].as_array().unwrap().len(), 2);
}

async fn operational_endpoints_report_state(app: TestApp) {
    let (status, health) = app
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, ready) = app
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["database"]["backend"], app.db.store.backend());
    let (status, doc) = app
        .send(
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/api/v1/incidents",
        "/api/v1/incidents/{id}",
        "/api/v1/incidents/{id}/updates",
        "/api/v1/incidents/{id}/timeline",
        "/api/v1/alerts/{id}/ack",
        "/api/v1/jobs",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"].get("Incident").is_some());
    let response = app
        .router
        .clone()
        .oneshot_request(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert!(response.headers().contains_key("x-request-id"));
}

trait Oneshot {
    async fn oneshot_request(self, request: Request<Body>) -> axum::response::Response;
}

impl Oneshot for axum::Router {
    async fn oneshot_request(self, request: Request<Body>) -> axum::response::Response {
        tower::ServiceExt::oneshot(self, request)
            .await
            .expect("router never fails")
    }
}
