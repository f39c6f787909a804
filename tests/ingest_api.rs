//! Alert ingestion over HTTP, in-process on SQLite and PostgreSQL. The real request bodies
//! of Alertmanager, Grafana and PagerDuty's own client (the shared fixtures, never copied
//! here) open, repeat, acknowledge and resolve alerts exactly as their senders expect; a
//! generic webhook does the same through its mapping; heartbeats are pinged with a manual
//! clock; and every refused request gets its error and leaves the database as it was.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bot_core::Clock;
use bot_core::auth::hash_token;
use bot_core::ingest::HeartbeatChecks;
use bot_core::jobs::{PoolConfig, WorkerPool};
use bot_core::model::{AlertFilter, IncidentFilter, NewHeartbeat, NewIntegration, Subject};
use serde_json::{Value, json};
use support::TestApp;
use tower::ServiceExt;

on_both!(
    alertmanager_notifications_open_repeat_and_resolve_alerts_by_fingerprint,
    alertmanager_ha_pair_sending_one_notification_twice_at_once_opens_each_alert_once,
    grafana_notification_opens_its_alerts_with_their_links,
    pagerduty_client_events_trigger_acknowledge_and_resolve,
    invalid_pagerduty_events_get_400_naming_the_field_and_write_nothing,
    generic_webhook_reads_alerts_through_its_mapping,
    bad_webhook_input_is_refused_and_writes_nothing,
    a_nul_character_in_an_alert_is_never_a_server_error,
    alerts_and_their_chat_jobs_are_stored_before_the_response,
    heartbeats_are_pinged_over_http_and_listed_with_their_deadline,
    integrations_are_listed_to_admins_only_and_never_with_keys,
    openapi_document_describes_every_ingest_route,
    integration_and_heartbeat_keys_never_reach_the_logs,
    metrics_count_received_alerts_and_dedup_hits,
);

const ALERTMANAGER_KEY: &str = "tcn_int_alertmanager_0c1f9b";
const GRAFANA_KEY: &str = "tcn_int_grafana_77a2d0";
const GENERIC_KEY: &str = "tcn_int_generic_4be9c1";
const GENERIC_BATCH_KEY: &str = "tcn_int_generic_batch_e05d3a";
/// The routing key the PagerDuty fixtures were captured with.
const PAGERDUTY_KEY: &str = "R0UT1NGK3Y0000000000000000000000";
const HEARTBEAT_KEY: &str = "tcn_hb_nightly_backup_93f1";

const FIRING_2: &str = "alertmanager/webhook_v4_firing_2.json";
const FIRING_1_RESOLVED_1: &str = "alertmanager/webhook_v4_firing_1_resolved_1.json";
const RESOLVED_2: &str = "alertmanager/webhook_v4_resolved_2.json";
const GRAFANA: &str = "grafana/webhook_docs_example.json";
const PD_TRIGGER_FULL: &str = "pagerduty/events_v2_trigger_full.json";
const PD_TRIGGER_MINIMAL: &str = "pagerduty/events_v2_trigger_minimal.json";
const PD_ACKNOWLEDGE: &str = "pagerduty/events_v2_acknowledge.json";
const PD_RESOLVE: &str = "pagerduty/events_v2_resolve.json";

/// The fingerprints of the two alerts in the Alertmanager capture (instance checkout-0 and
/// checkout-1).
const CHECKOUT_0: &str = "bc2ad8121cfbac33";
const CHECKOUT_1: &str = "0ad8a467f6d57c78";
const GENERATOR_URL: &str = "http://prometheus.example.com:9090/graph?g0.expr=histogram_quantile%280.99%2C+rate%28http_request_duration_seconds_bucket%5B5m%5D%29%29+%3E+2";
const RUNBOOK_URL: &str = "https://runbooks.example.com/checkout/latency";

// --- fixtures ------------------------------------------------------------------------------

/// `alerts/` under `$TOCSIN_FIXTURES`, by default the shared fixtures next to the workspace.
fn alerts_dir() -> PathBuf {
    std::env::var_os("TOCSIN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures"))
        })
        .join("alerts")
}

/// A fixture's bytes, posted verbatim: a drop-in receiver gets exactly what the tool sent.
fn fixture(name: &str) -> Vec<u8> {
    let path = alerts_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

/// The PagerDuty fixtures are whole captured requests; the route gets their body.
fn pd_event(name: &str) -> Value {
    let request = fixture_json(name);
    assert_eq!(request["path"], "/v2/enqueue", "{name}");
    request["body"].clone()
}

// --- helpers -------------------------------------------------------------------------------

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
        .expect("integration");
}

fn generic_mapping() -> Value {
    json!({"mapping": {"summary": "/title", "dedup_key": "/id", "severity": "/level", "status": "/state"}})
}

fn generic_batch_mapping() -> Value {
    json!({"mapping": {"summary": "/title", "dedup_key": "/id", "severity": "/level", "status": "/state",
                       "alerts": "/items"}})
}

fn alertmanager_path(key: &str) -> String {
    format!("/api/v1/integrations/{key}/alertmanager")
}

/// POSTs `body` as a monitoring tool does: JSON, no bearer token.
async fn post(app: &TestApp, path: &str, body: impl Into<Body>) -> (StatusCode, Value) {
    app.send(
        Request::post(path)
            .header("content-type", "application/json")
            .body(body.into())
            .unwrap(),
    )
    .await
}

fn bytes(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// `(dedup_key, result)` of each alert an ingest response reports, in order.
fn results(body: &Value) -> Vec<(String, String)> {
    body["alerts"]
        .as_array()
        .unwrap_or_else(|| panic!("no alerts[] in {body}"))
        .iter()
        .map(|a| {
            (
                a["dedup_key"].as_str().unwrap().to_owned(),
                a["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, r)| ((*k).to_owned(), (*r).to_owned()))
        .collect()
}

/// The alert ids an ingest response reports, in order (`None` where it names no alert).
fn ids(body: &Value) -> Vec<Option<String>> {
    body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().map(str::to_owned))
        .collect()
}

fn now(app: &TestApp) -> Value {
    json!(app.clock.now())
}

async fn alert(app: &TestApp, id: &str) -> Value {
    let (status, alert) = app.get(&format!("/api/v1/alerts/{id}"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{alert}");
    alert
}

/// Alerts listed over REST (`query` like `status=open`), newest first.
async fn listed(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, page) = app
        .get(&format!("/api/v1/alerts?limit=100&{query}"), &app.viewer)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["alerts"].as_array().unwrap().clone()
}

async fn with_key(app: &TestApp, dedup_key: &str) -> Vec<Value> {
    listed(app, "")
        .await
        .into_iter()
        .filter(|a| a["dedup_key"] == dedup_key)
        .collect()
}

/// `(kind, actor)` of each entry of an alert's timeline, read over REST.
async fn timeline(app: &TestApp, id: &str) -> Vec<(String, String)> {
    let (status, entries) = app
        .get(&format!("/api/v1/alerts/{id}/timeline"), &app.viewer)
        .await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn by(actor: &str, kinds: &[&str]) -> Vec<(String, String)> {
    kinds
        .iter()
        .map(|k| ((*k).to_owned(), actor.to_owned()))
        .collect()
}

async fn queued_jobs(app: &TestApp) -> Vec<Value> {
    let (status, jobs) = app
        .get("/api/v1/jobs?state=queued&limit=100", &app.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{jobs}");
    jobs.as_array().unwrap().clone()
}

/// Everything the database holds that an ingest request could change, to compare
/// before/after a refused one.
async fn snapshot(app: &TestApp) -> Value {
    let store = &app.db.store;
    let alerts = store
        .list_alerts(&AlertFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut timelines = Vec::new();
    for a in &alerts {
        timelines.push(store.timeline(Subject::Alert(a.id)).await.unwrap());
    }
    let incidents = store
        .list_incidents(&IncidentFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let jobs = store.list_jobs(None, 1000).await.unwrap();
    let integrations = store.list_integrations().await.unwrap();
    let heartbeats = store.list_heartbeats().await.unwrap();
    json!({ "alerts": alerts, "timelines": timelines, "incidents": incidents, "jobs": jobs,
            "integrations": integrations, "heartbeats": heartbeats })
}

/// The API's JSON error: status, `code`, a message, and the field at fault.
fn assert_error(
    what: &str,
    (status, body): &(StatusCode, Value),
    expected: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    assert_eq!(*status, expected, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.trim().is_empty()),
        "{what}: {body}"
    );
    assert_eq!(body["error"]["field"].as_str(), field, "{what}: {body}");
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

// --- Alertmanager ----------------------------------------------------------------------------

async fn alertmanager_notifications_open_repeat_and_resolve_alerts_by_fingerprint(app: TestApp) {
    integration(
        &app,
        "prometheus",
        "alertmanager",
        ALERTMANAGER_KEY,
        json!({}),
    )
    .await;
    let path = alertmanager_path(ALERTMANAGER_KEY);

    // Both instances fire: two alerts, keyed by their fingerprints.
    let (status, body) = post(&app, &path, fixture(FIRING_2)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(
        results(&body),
        pairs(&[(CHECKOUT_0, "created"), (CHECKOUT_1, "created")])
    );
    let first: Vec<String> = ids(&body).into_iter().map(Option::unwrap).collect();
    let opened_at = now(&app);
    let open = listed(&app, "status=open").await;
    assert_eq!(open.len(), 2, "{open:?}");
    for (id, fingerprint, instance) in [
        (&first[0], CHECKOUT_0, "checkout-0"),
        (&first[1], CHECKOUT_1, "checkout-1"),
    ] {
        let alert = open
            .iter()
            .find(|a| a["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not listed as open: {open:?}"));
        assert_eq!(alert["dedup_key"], fingerprint);
        assert_eq!(alert["service"], "checkout");
        assert_eq!(alert["source"], "alertmanager");
        assert_eq!(
            alert["summary"],
            format!("p99 latency above 2s on {instance}")
        );
        assert_eq!(alert["severity"], "critical");
        assert_eq!(alert["urgency"], "high");
        assert_eq!(alert["status"], "open");
        assert_eq!(alert["event_count"], 1);
        assert_eq!(alert["created_at"], opened_at);
        assert_eq!(alert["labels"]["instance"], format!("{instance}:8080"));
        assert_eq!(alert["labels"]["alertname"], "HighRequestLatency");
        assert_eq!(
            alert["links"],
            json!([{"href": GENERATOR_URL, "text": "Source"}, {"href": RUNBOOK_URL, "text": "Runbook"}])
        );
        assert_eq!(
            alert["details"]["annotations"]["description"],
            "Request latency p99 has been above 2 seconds for 5 minutes."
        );
        assert_eq!(
            alert["details"]["externalURL"],
            "http://alertmanager.example.com:9093"
        );
    }

    // checkout-0 recovers while checkout-1 keeps firing: a resolve and a repeat.
    app.clock.advance(chrono::Duration::minutes(5));
    let (status, body) = post(&app, &path, fixture(FIRING_1_RESOLVED_1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        results(&body),
        pairs(&[(CHECKOUT_0, "resolved"), (CHECKOUT_1, "repeated")])
    );
    assert_eq!(ids(&body), [Some(first[0].clone()), Some(first[1].clone())]);
    let resolved = alert(&app, &first[0]).await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved_by"], "integration:alertmanager");
    assert_eq!(resolved["resolved_at"], now(&app));
    assert_eq!(resolved["event_count"], 1);
    let repeated = alert(&app, &first[1]).await;
    assert_eq!(repeated["status"], "open");
    assert_eq!(repeated["event_count"], 2);
    assert_eq!(repeated["created_at"], opened_at);
    assert_eq!(repeated["last_seen_at"], now(&app));
    let open = listed(&app, "status=open").await;
    assert_eq!(open.len(), 1, "a repeat opened a second alert: {open:?}");
    assert_eq!(open[0]["id"], first[1].as_str());

    // Both resolved: the one already resolved is left as it is.
    app.clock.advance(chrono::Duration::minutes(5));
    let (status, body) = post(&app, &path, fixture(RESOLVED_2)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        results(&body),
        pairs(&[(CHECKOUT_0, "unchanged"), (CHECKOUT_1, "resolved")])
    );
    assert_eq!(ids(&body)[1].as_deref(), Some(first[1].as_str()));
    assert!(listed(&app, "status=open").await.is_empty());
    let both = alert(&app, &first[1]).await;
    assert_eq!(
        (&both["status"], &both["resolved_by"], &both["resolved_at"]),
        (
            &json!("resolved"),
            &json!("integration:alertmanager"),
            &now(&app)
        )
    );
    assert_eq!(alert(&app, &first[0]).await, resolved, "resolved twice");
    let actor = "integration:alertmanager";
    assert_eq!(
        timeline(&app, &first[0]).await,
        by(actor, &["alert_triggered", "alert_resolved"])
    );
    assert_eq!(
        timeline(&app, &first[1]).await,
        by(
            actor,
            &["alert_triggered", "alert_repeated", "alert_resolved"]
        )
    );

    // The same fingerprints firing again are new problems: new alerts.
    app.clock.advance(chrono::Duration::hours(1));
    let (status, body) = post(&app, &path, fixture(FIRING_2)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        results(&body),
        pairs(&[(CHECKOUT_0, "created"), (CHECKOUT_1, "created")])
    );
    let second: Vec<String> = ids(&body).into_iter().map(Option::unwrap).collect();
    for id in &second {
        assert!(!first.contains(id), "{id} reused a resolved alert");
    }
    let open: BTreeSet<String> = listed(&app, "status=open")
        .await
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(open, second.iter().cloned().collect());
    assert_eq!(listed(&app, "").await.len(), 4);
    assert_eq!(with_key(&app, CHECKOUT_0).await.len(), 2);
    assert_eq!(
        timeline(&app, &second[0]).await,
        by(actor, &["alert_triggered"])
    );
}

/// Alertmanager in high availability: every replica sends the same notification, often at
/// the same moment. Each alert is opened once; the other copy is a repeat.
async fn alertmanager_ha_pair_sending_one_notification_twice_at_once_opens_each_alert_once(
    app: TestApp,
) {
    integration(
        &app,
        "prometheus",
        "alertmanager",
        ALERTMANAGER_KEY,
        json!({}),
    )
    .await;
    let path = alertmanager_path(ALERTMANAGER_KEY);
    let ((s1, b1), (s2, b2)) = tokio::join!(
        post(&app, &path, fixture(FIRING_2)),
        post(&app, &path, fixture(FIRING_2))
    );
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{b1} {b2}");
    for (index, fingerprint) in [CHECKOUT_0, CHECKOUT_1].into_iter().enumerate() {
        let mut seen = [results(&b1)[index].clone(), results(&b2)[index].clone()];
        seen.sort();
        assert_eq!(
            seen.to_vec(),
            pairs(&[(fingerprint, "created"), (fingerprint, "repeated")])
        );
        let alerts = with_key(&app, fingerprint).await;
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0]["event_count"], 2);
        assert_eq!(b1["alerts"][index]["id"], b2["alerts"][index]["id"]);
    }
}

// --- Grafana ---------------------------------------------------------------------------------

async fn grafana_notification_opens_its_alerts_with_their_links(app: TestApp) {
    integration(&app, "grafana", "grafana", GRAFANA_KEY, json!({})).await;
    let (status, body) = post(
        &app,
        &format!("/api/v1/integrations/{GRAFANA_KEY}/grafana"),
        fixture(GRAFANA),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        results(&body),
        pairs(&[
            ("c6eadffa33fcdf37", "created"),
            ("bc97ff14869b13e3", "created")
        ])
    );
    let ids: Vec<String> = ids(&body).into_iter().map(Option::unwrap).collect();
    for (id, zone, generator, matchers, alertname) in [
        (
            &ids[0],
            "us-1",
            "https://play.grafana.org/alerting/1afz29v7z/edit",
            "alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1",
            "High memory usage",
        ),
        (
            &ids[1],
            "eu-1",
            "https://play.grafana.org/alerting/d1rdpdv7k/edit",
            "alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1",
            "High CPU usage",
        ),
    ] {
        let alert = alert(&app, id).await;
        assert_eq!(alert["source"], "grafana");
        assert_eq!(alert["status"], "open");
        assert_eq!(
            alert["summary"],
            format!("This alert was triggered for zone {zone}")
        );
        // No severity label: warning, which the default configuration does not page at once.
        assert_eq!(alert["severity"], "warning");
        assert_eq!(alert["urgency"], "low");
        assert_eq!(
            alert["labels"],
            json!({"alertname": alertname, "team": "blue", "zone": zone})
        );
        // dashboardURL and panelURL are blank in this notification: no links for them.
        assert_eq!(
            alert["links"],
            json!([
                {"href": generator, "text": "Source"},
                {"href": "https://myrunbook.com/runbook/1234", "text": "Runbook"},
                {"href": format!("https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers={matchers}"),
                 "text": "Silence"},
            ])
        );
        assert_eq!(
            alert["details"]["values"],
            json!({"B": 44.23943737541908, "C": 1})
        );
        assert_eq!(
            timeline(&app, id).await,
            by("integration:grafana", &["alert_triggered"])
        );
    }
}

// --- PagerDuty Events API v2 -----------------------------------------------------------------

async fn pagerduty_client_events_trigger_acknowledge_and_resolve(app: TestApp) {
    integration(
        &app,
        "pagerduty-senders",
        "pagerduty",
        PAGERDUTY_KEY,
        json!({}),
    )
    .await;
    let accepted = |dedup_key: &str| json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key});

    let full = pd_event(PD_TRIGGER_FULL);
    let (status, body) = post(&app, "/v2/enqueue", bytes(&full)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, accepted("db-1-disk"));
    let [disk] = &with_key(&app, "db-1-disk").await[..] else {
        panic!("one alert with key db-1-disk expected");
    };
    let disk_id = disk["id"].as_str().unwrap().to_owned();
    assert_eq!(disk["source"], "pagerduty");
    assert_eq!(disk["service"], "checkout");
    assert_eq!(disk["summary"], "Disk on db-1 is 95% full");
    assert_eq!(disk["severity"], "critical");
    assert_eq!(disk["urgency"], "high");
    assert_eq!(disk["status"], "open");
    assert_eq!(disk["labels"]["source"], "db-1.example.com");
    assert_eq!(
        disk["details"]["custom_details"],
        json!({"free_bytes": 1073741824, "mount": "/var/lib/postgresql"})
    );
    assert_eq!(disk["details"]["images"], full["images"]);
    assert_eq!(
        disk["links"],
        json!([{"href": "https://grafana.example.com/d/db", "text": "DB dashboard"}])
    );

    // The client retries or the check fires again: one more event on the same alert.
    app.clock.advance(chrono::Duration::minutes(1));
    let (status, body) = post(&app, "/v2/enqueue", bytes(&full)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, accepted("db-1-disk"));
    let repeated = alert(&app, &disk_id).await;
    assert_eq!(repeated["event_count"], 2);
    assert_eq!(repeated["last_seen_at"], now(&app));
    assert_eq!(with_key(&app, "db-1-disk").await.len(), 1);

    // Without a dedup key the answer carries the generated one, which then names the alert.
    let (status, body) = post(&app, "/v2/enqueue", bytes(&pd_event(PD_TRIGGER_MINIMAL))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let generated = body["dedup_key"]
        .as_str()
        .filter(|k| !k.trim().is_empty())
        .unwrap_or_else(|| panic!("no generated dedup_key in {body}"))
        .to_owned();
    assert_ne!(generated, "db-1-disk");
    assert_eq!(body, accepted(&generated));
    let [minimal] = &with_key(&app, &generated).await[..] else {
        panic!("one alert with the generated key {generated} expected");
    };
    let minimal_id = minimal["id"].as_str().unwrap().to_owned();
    assert_eq!(minimal["summary"], "Checkout error rate above 5%");
    assert_eq!(minimal["severity"], "critical");
    assert_eq!(minimal["labels"]["source"], "checkout");
    assert_eq!(minimal["links"], json!([]));
    app.clock.advance(chrono::Duration::seconds(30));
    let ack = json!({"routing_key": PAGERDUTY_KEY, "event_action": "acknowledge", "dedup_key": generated});
    let (status, body) = post(&app, "/v2/enqueue", bytes(&ack)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, accepted(&generated));
    let acked = alert(&app, &minimal_id).await;
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(acked["acknowledged_by"], "integration:pagerduty");
    assert_eq!(acked["acknowledged_at"], now(&app));

    // The client's acknowledge and resolve of db-1-disk.
    app.clock.advance(chrono::Duration::minutes(2));
    let (status, body) = post(&app, "/v2/enqueue", bytes(&pd_event(PD_ACKNOWLEDGE))).await;
    assert_eq!(
        (status, body),
        (StatusCode::ACCEPTED, accepted("db-1-disk"))
    );
    let acked = alert(&app, &disk_id).await;
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(acked["acknowledged_by"], "integration:pagerduty");
    assert_eq!(acked["acknowledged_at"], now(&app));

    app.clock.advance(chrono::Duration::minutes(10));
    let (status, body) = post(&app, "/v2/enqueue", bytes(&pd_event(PD_RESOLVE))).await;
    assert_eq!(
        (status, body),
        (StatusCode::ACCEPTED, accepted("db-1-disk"))
    );
    let resolved = alert(&app, &disk_id).await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved_by"], "integration:pagerduty");
    assert_eq!(resolved["resolved_at"], now(&app));
    assert_eq!(
        timeline(&app, &disk_id).await,
        by(
            "integration:pagerduty",
            &[
                "alert_triggered",
                "alert_repeated",
                "alert_acknowledged",
                "alert_resolved"
            ]
        )
    );

    // PagerDuty accepts a resolve of what is no longer open; so does Tocsin, changing nothing.
    let (status, body) = post(&app, "/v2/enqueue", bytes(&pd_event(PD_RESOLVE))).await;
    assert_eq!(
        (status, body),
        (StatusCode::ACCEPTED, accepted("db-1-disk"))
    );
    assert_eq!(alert(&app, &disk_id).await, resolved);
}

async fn invalid_pagerduty_events_get_400_naming_the_field_and_write_nothing(app: TestApp) {
    integration(
        &app,
        "pagerduty-senders",
        "pagerduty",
        PAGERDUTY_KEY,
        json!({}),
    )
    .await;
    integration(
        &app,
        "prometheus",
        "alertmanager",
        ALERTMANAGER_KEY,
        json!({}),
    )
    .await;
    let full = pd_event(PD_TRIGGER_FULL);
    let (status, _) = post(&app, "/v2/enqueue", bytes(&full)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let before = snapshot(&app).await;

    let edit = |base: &Value, change: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut event = base.clone();
        change(event.as_object_mut().unwrap());
        bytes(&event)
    };
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "missing routing_key",
            edit(&full, &|e| {
                e.remove("routing_key");
            }),
            &["'routing_key'"],
        ),
        (
            "unknown event_action",
            edit(&full, &|e| {
                e.insert("event_action".into(), json!("page"));
            }),
            &["'event_action'"],
        ),
        (
            "missing payload.summary",
            edit(&full, &|e| {
                let p = e["payload"].as_object_mut().unwrap();
                p.remove("summary");
            }),
            &["'payload.summary'"],
        ),
        (
            "severity outside PagerDuty's four",
            edit(&full, &|e| {
                let p = e["payload"].as_object_mut().unwrap();
                p.insert("severity".into(), json!("disaster"));
            }),
            &["'payload.severity'"],
        ),
        (
            "missing payload.source",
            edit(&full, &|e| {
                let p = e["payload"].as_object_mut().unwrap();
                p.remove("source");
            }),
            &["'payload.source'"],
        ),
        (
            "every problem at once",
            edit(&full, &|e| {
                let p = e["payload"].as_object_mut().unwrap();
                p.remove("summary");
                p.insert("severity".into(), json!("CRITICAL"));
            }),
            &["'payload.summary'", "'payload.severity'"],
        ),
        (
            "missing payload",
            edit(&full, &|e| {
                e.remove("payload");
            }),
            &["'payload'"],
        ),
        (
            "acknowledge without dedup_key",
            edit(&pd_event(PD_ACKNOWLEDGE), &|e| {
                e.remove("dedup_key");
            }),
            &["'dedup_key'"],
        ),
        (
            "resolve with a blank dedup_key",
            edit(&pd_event(PD_RESOLVE), &|e| {
                e.insert("dedup_key".into(), json!("  "));
            }),
            &["'dedup_key'"],
        ),
        (
            "malformed JSON",
            br#"{"routing_key": "R0UT1NGK3Y0000000000000000000000", "event_action": "#.to_vec(),
            &["malformed JSON"],
        ),
    ];
    for (what, body, named) in cases {
        let (status, answer) = post(&app, "/v2/enqueue", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {answer}");
        assert_eq!(answer["status"], "invalid event", "{what}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {answer}"
        );
        let errors: Vec<&str> = answer["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no errors[] in {answer}"))
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        for name in named {
            assert!(
                errors.iter().any(|e| e.contains(name)),
                "{what}: no error names {name}: {answer}"
            );
        }
    }

    // An unknown routing key and the key of another kind of integration: the same 404.
    let (unknown_status, unknown) = post(
        &app,
        "/v2/enqueue",
        edit(&full, &|e| {
            e.insert(
                "routing_key".into(),
                json!("N0SUCHK3Y0000000000000000000000"),
            );
        }),
    )
    .await;
    assert_eq!(unknown_status, StatusCode::NOT_FOUND, "{unknown}");
    let (other_status, other) = post(
        &app,
        "/v2/enqueue",
        edit(&full, &|e| {
            e.insert("routing_key".into(), json!(ALERTMANAGER_KEY));
        }),
    )
    .await;
    assert_eq!(other_status, StatusCode::NOT_FOUND, "{other}");
    assert_eq!(other, unknown, "the answer tells which keys exist");

    // Over the body limit.
    let huge = edit(&full, &|e| {
        e["payload"]["custom_details"] = json!({"dump": "x".repeat(1024 * 1024)});
    });
    let (status, answer) = post(&app, "/v2/enqueue", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");

    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused event changed the database"
    );
}

// --- Generic webhook -------------------------------------------------------------------------

async fn generic_webhook_reads_alerts_through_its_mapping(app: TestApp) {
    integration(
        &app,
        "uptime-checker",
        "generic",
        GENERIC_KEY,
        generic_mapping(),
    )
    .await;
    integration(
        &app,
        "batch-checker",
        "generic",
        GENERIC_BATCH_KEY,
        generic_batch_mapping(),
    )
    .await;
    let single = format!("/api/v1/integrations/{GENERIC_KEY}/generic");
    let batch = format!("/api/v1/integrations/{GENERIC_BATCH_KEY}/generic");

    let firing = json!({"title": "Queue mq-1 backed up", "id": "mq-1", "level": "critical",
                        "state": "alerting", "host": "mq-1.example.com", "depth": 90210});
    let (status, body) = post(&app, &single, bytes(&firing)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(results(&body), pairs(&[("mq-1", "created")]));
    let id = ids(&body)[0].clone().unwrap();
    let created = alert(&app, &id).await;
    assert_eq!(created["source"], "generic");
    assert_eq!(created["summary"], "Queue mq-1 backed up");
    assert_eq!(created["severity"], "critical");
    assert_eq!(created["urgency"], "high");
    assert_eq!(created["details"], firing);
    assert_eq!(
        created["labels"],
        json!({"title": "Queue mq-1 backed up", "id": "mq-1", "level": "critical",
               "state": "alerting", "host": "mq-1.example.com"})
    );

    app.clock.advance(chrono::Duration::minutes(1));
    let (status, body) = post(&app, &single, bytes(&firing)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(results(&body), pairs(&[("mq-1", "repeated")]));
    assert_eq!(ids(&body)[0].as_deref(), Some(id.as_str()));
    assert_eq!(alert(&app, &id).await["event_count"], 2);

    app.clock.advance(chrono::Duration::minutes(1));
    let recovered = json!({"title": "Queue mq-1 drained", "id": "mq-1", "state": "Resolved"});
    let (status, body) = post(&app, &single, bytes(&recovered)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(results(&body), pairs(&[("mq-1", "resolved")]));
    let resolved = alert(&app, &id).await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved_by"], "integration:generic");
    assert_eq!(
        timeline(&app, &id).await,
        by(
            "integration:generic",
            &["alert_triggered", "alert_repeated", "alert_resolved"]
        )
    );

    // A batch under /items.
    let disk = json!({"title": "Disk full on db-1", "id": "db-1-disk", "level": "warning"});
    let lag = json!({"title": "Replica lag on db-2", "id": "db-2-lag", "level": "major"});
    let (status, body) = post(&app, &batch, bytes(&json!({"items": [disk, lag]}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        results(&body),
        pairs(&[("db-1-disk", "created"), ("db-2-lag", "created")])
    );
    let batch_ids: Vec<String> = ids(&body).into_iter().map(Option::unwrap).collect();
    let disk_alert = alert(&app, &batch_ids[0]).await;
    assert_eq!(
        (&disk_alert["severity"], &disk_alert["urgency"]),
        (&json!("warning"), &json!("low"))
    );
    let lag_alert = alert(&app, &batch_ids[1]).await;
    assert_eq!(
        (&lag_alert["severity"], &lag_alert["urgency"]),
        (&json!("error"), &json!("high"))
    );
    let mut lag_ok = lag.clone();
    lag_ok["state"] = json!("ok");
    let (status, body) = post(&app, &batch, bytes(&json!({"items": [disk, lag_ok]}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        results(&body),
        pairs(&[("db-1-disk", "repeated"), ("db-2-lag", "resolved")])
    );
    assert_eq!(alert(&app, &batch_ids[1]).await["status"], "resolved");

    // What the mapping cannot find is refused, named by its pointer, and writes nothing.
    let before = snapshot(&app).await;
    let refused = post(
        &app,
        &single,
        bytes(&json!({"id": "mq-2", "state": "alerting"})),
    )
    .await;
    assert_error(
        "no summary",
        &refused,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("/title"),
    );
    assert!(message(&refused.1).contains("/title"), "{}", refused.1);
    let refused = post(&app, &single, bytes(&json!({"title": "No key"}))).await;
    assert_error(
        "no key",
        &refused,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("/id"),
    );
    let refused = post(
        &app,
        &single,
        bytes(&json!({"title": {"text": "nested"}, "id": "mq-3"})),
    )
    .await;
    assert_error(
        "summary is an object",
        &refused,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("/title"),
    );
    let third_bad = json!({"items": [
        {"title": "CPU high on web-1", "id": "web-1-cpu"},
        {"title": "CPU high on web-2", "id": "web-2-cpu"},
        {"title": "CPU high on web-3"},
    ]});
    let refused = post(&app, &batch, bytes(&third_bad)).await;
    assert_error(
        "third alert has no key",
        &refused,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("/items/2/id"),
    );
    assert!(message(&refused.1).contains("alert 2"), "{}", refused.1);
    let refused = post(
        &app,
        &batch,
        bytes(&json!({"items": {"title": "x", "id": "y"}})),
    )
    .await;
    assert_error(
        "items is not an array",
        &refused,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("/items"),
    );
    let refused = post(&app, &batch, bytes(&json!({"things": []}))).await;
    assert_error(
        "no items",
        &refused,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("/items"),
    );
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused webhook changed the database"
    );
}

// --- Bad input on the webhook routes ---------------------------------------------------------

async fn bad_webhook_input_is_refused_and_writes_nothing(app: TestApp) {
    integration(
        &app,
        "prometheus",
        "alertmanager",
        ALERTMANAGER_KEY,
        json!({}),
    )
    .await;
    integration(&app, "grafana", "grafana", GRAFANA_KEY, json!({})).await;
    integration(
        &app,
        "uptime-checker",
        "generic",
        GENERIC_KEY,
        generic_mapping(),
    )
    .await;
    let alertmanager = alertmanager_path(ALERTMANAGER_KEY);
    let grafana = format!("/api/v1/integrations/{GRAFANA_KEY}/grafana");
    let (status, _) = post(&app, &alertmanager, fixture(FIRING_2)).await;
    assert_eq!(status, StatusCode::OK);
    let before = snapshot(&app).await;

    // An unknown key, and a key on the route of another kind, get one and the same 404,
    // before the body is even looked at.
    let unknown = post(
        &app,
        &alertmanager_path("tcn_no_such_key"),
        fixture(FIRING_2),
    )
    .await;
    assert_error(
        "unknown key",
        &unknown,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    for (what, path, body) in [
        (
            "alertmanager key on /grafana",
            format!("/api/v1/integrations/{ALERTMANAGER_KEY}/grafana"),
            fixture(GRAFANA),
        ),
        (
            "grafana key on /alertmanager",
            alertmanager_path(GRAFANA_KEY),
            fixture(FIRING_2),
        ),
        (
            "alertmanager key on /generic",
            format!("/api/v1/integrations/{ALERTMANAGER_KEY}/generic"),
            br#"{"title":"t","id":"k"}"#.to_vec(),
        ),
        (
            "generic key on /alertmanager",
            alertmanager_path(GENERIC_KEY),
            fixture(FIRING_2),
        ),
        (
            "unknown key on /grafana",
            "/api/v1/integrations/tcn_no_such_key/grafana".to_owned(),
            fixture(GRAFANA),
        ),
        (
            "unknown key, malformed body",
            alertmanager_path("tcn_no_such_key"),
            b"{\"version\": ".to_vec(),
        ),
        (
            "unknown key, body over the limit",
            alertmanager_path("tcn_no_such_key"),
            vec![b' '; 2 * 1024 * 1024],
        ),
    ] {
        let refused = post(&app, &path, body).await;
        assert_eq!(refused, unknown, "{what}");
    }

    // Not JSON at all, or cut off.
    for (what, body) in [
        ("cut off", b"{\"version\": \"4\", \"alerts\": [".to_vec()),
        ("empty", Vec::new()),
        ("not JSON", b"alertname=HighRequestLatency".to_vec()),
    ] {
        let refused = post(&app, &alertmanager, body).await;
        assert_error(what, &refused, StatusCode::BAD_REQUEST, "bad_request", None);
        assert!(
            message(&refused.1).contains("malformed JSON"),
            "{what}: {}",
            refused.1
        );
    }

    // The wrong shape, named by the field.
    let firing = fixture_json(FIRING_2);
    let with = |path: &[&str], value: Value| {
        let mut body = firing.clone();
        let mut at = &mut body;
        for key in &path[..path.len() - 1] {
            at = match key.parse::<usize>() {
                Ok(index) => &mut at[index],
                Err(_) => &mut at[*key],
            };
        }
        at[path[path.len() - 1]] = value;
        bytes(&body)
    };
    for (what, route, body, field) in [
        (
            "version 3",
            &alertmanager,
            with(&["version"], json!("3")),
            "version",
        ),
        (
            "version as a number",
            &alertmanager,
            with(&["version"], json!(4)),
            "version",
        ),
        (
            "alerts is an object",
            &alertmanager,
            with(&["alerts"], json!({})),
            "alerts",
        ),
        (
            "alerts is missing",
            &alertmanager,
            with(&["alerts"], Value::Null),
            "alerts",
        ),
        (
            "labels is a list",
            &alertmanager,
            with(&["alerts", "1", "labels"], json!(["severity", "critical"])),
            "alerts[1].labels",
        ),
        (
            "grafana alerts is a string",
            &grafana,
            bytes(&json!({"receiver": "x", "version": "1", "alerts": "none"})),
            "alerts",
        ),
    ] {
        let refused = post(&app, route, body).await;
        assert_error(
            what,
            &refused,
            StatusCode::BAD_REQUEST,
            "bad_request",
            Some(field),
        );
    }
    let refused = post(&app, &alertmanager, b"[1, 2]".to_vec()).await;
    assert_error(
        "an array",
        &refused,
        StatusCode::BAD_REQUEST,
        "bad_request",
        None,
    );

    // Over 1 MiB: 413 with the JSON error, on every webhook route.
    let huge = with(
        &["alerts", "0", "annotations", "description"],
        json!("x".repeat(1024 * 1024)),
    );
    for route in [
        alertmanager.clone(),
        grafana.clone(),
        format!("/api/v1/integrations/{GENERIC_KEY}/generic"),
    ] {
        let refused = post(&app, &route, huge.clone()).await;
        assert_error(
            &route,
            &refused,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        );
        assert!(message(&refused.1).contains("1048576"), "{}", refused.1);
    }

    // Two new alerts and a bad third: the whole notification is refused, naming alert 2.
    let mut batch = firing.clone();
    let alerts = batch["alerts"].as_array_mut().unwrap();
    alerts[0]["fingerprint"] = json!("1111111111111111");
    alerts[1]["fingerprint"] = json!("2222222222222222");
    let mut pending = alerts[1].clone();
    pending["fingerprint"] = json!("3333333333333333");
    pending["status"] = json!("pending");
    alerts.push(pending);
    let refused = post(&app, &alertmanager, bytes(&batch)).await;
    assert_error(
        "third alert pending",
        &refused,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("alerts[2].status"),
    );
    assert!(message(&refused.1).contains("alert 2"), "{}", refused.1);
    batch["alerts"][2]["status"] = json!("firing");
    batch["alerts"][2]
        .as_object_mut()
        .unwrap()
        .remove("fingerprint");
    let refused = post(&app, &alertmanager, bytes(&batch)).await;
    assert_error(
        "third alert without fingerprint",
        &refused,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("alerts[2].fingerprint"),
    );
    let mut grafana_batch = fixture_json(GRAFANA);
    let mut third = grafana_batch["alerts"][0].clone();
    third["panelURL"] = json!(7);
    grafana_batch["alerts"].as_array_mut().unwrap().push(third);
    let refused = post(&app, &grafana, bytes(&grafana_batch)).await;
    assert_error(
        "grafana third alert with a numeric panelURL",
        &refused,
        StatusCode::BAD_REQUEST,
        "bad_request",
        Some("alerts[2].panelURL"),
    );
    assert!(message(&refused.1).contains("alert 2"), "{}", refused.1);

    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused request changed the database"
    );
}

/// PostgreSQL cannot store U+0000 in text or jsonb, SQLite can; either way a sender gets an
/// answer it can act on (stored, or refused with a 400), never a 500 to retry forever.
async fn a_nul_character_in_an_alert_is_never_a_server_error(app: TestApp) {
    integration(
        &app,
        "prometheus",
        "alertmanager",
        ALERTMANAGER_KEY,
        json!({}),
    )
    .await;
    let before = snapshot(&app).await;
    let mut body = fixture_json(FIRING_2);
    body["alerts"][0]["annotations"]["summary"] = json!("p99 latency\u{0}above 2s");
    body["alerts"][1]["labels"]["instance"] = json!("checkout-1\u{0}:8080");
    let (status, answer) = post(&app, &alertmanager_path(ALERTMANAGER_KEY), bytes(&body)).await;
    assert!(
        status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
        "{status} {answer}"
    );
    if status == StatusCode::OK {
        assert_eq!(listed(&app, "status=open").await.len(), 2);
    } else {
        assert!(answer["error"]["field"].is_string(), "{answer}");
        assert_eq!(snapshot(&app).await, before);
    }
}

// --- Durability ------------------------------------------------------------------------------

async fn alerts_and_their_chat_jobs_are_stored_before_the_response(app: TestApp) {
    integration(
        &app,
        "prometheus",
        "alertmanager",
        ALERTMANAGER_KEY,
        json!({}),
    )
    .await;
    let path = alertmanager_path(ALERTMANAGER_KEY);

    // The response is dropped unread, as by a sender that hangs up after the status line.
    let response = app
        .router
        .clone()
        .oneshot(
            Request::post(&path)
                .header("content-type", "application/json")
                .body(Body::from(fixture(FIRING_2)))
                .unwrap(),
        )
        .await
        .expect("router never fails");
    assert_eq!(response.status(), StatusCode::OK);
    drop(response);

    let alerts = app
        .db
        .store
        .list_alerts(&AlertFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let keys: BTreeSet<&str> = alerts.iter().map(|a| a.dedup_key.as_str()).collect();
    assert_eq!(keys, BTreeSet::from([CHECKOUT_0, CHECKOUT_1]));
    for a in &alerts {
        let entries = app.db.store.timeline(Subject::Alert(a.id)).await.unwrap();
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].kind.as_str(), "alert_triggered");
    }
    let jobs = queued_jobs(&app).await;
    let mut opened: Vec<(String, String, String)> = jobs
        .iter()
        .filter(|j| j["kind"] == "chat.alert_opened")
        .map(|j| {
            (
                j["payload"]["alert_id"].as_str().unwrap().to_owned(),
                j["payload"]["channel"].as_str().unwrap().to_owned(),
                j["queue"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    opened.sort();
    let mut expected: Vec<(String, String, String)> = alerts
        .iter()
        .map(|a| (a.id.to_string(), "alerts".into(), "chat:console".into()))
        .collect();
    expected.sort();
    assert_eq!(opened, expected, "one card per created alert: {jobs:?}");
    // Critical is high urgency and checkout has a policy: each alert starts escalating.
    let mut escalating: Vec<(String, String)> = jobs
        .iter()
        .filter(|j| j["kind"] == "escalation.step")
        .map(|j| {
            (
                j["payload"]["alert_id"].as_str().unwrap().to_owned(),
                j["queue"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    escalating.sort();
    let mut expected: Vec<(String, String)> = alerts
        .iter()
        .map(|a| (a.id.to_string(), "core".into()))
        .collect();
    expected.sort();
    assert_eq!(
        escalating, expected,
        "one first escalation step per alert: {jobs:?}"
    );
    assert_eq!(jobs.len(), 4, "{jobs:?}");
    for job in &jobs {
        assert_eq!(job["run_at"], now(&app));
    }

    // A resolve and a repeat: each card is updated, by a job stored with the change.
    app.clock.advance(chrono::Duration::minutes(5));
    let (status, body) = post(&app, &path, fixture(FIRING_1_RESOLVED_1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut changed: Vec<String> = queued_jobs(&app)
        .await
        .iter()
        .filter(|j| j["kind"] == "chat.alert_changed")
        .map(|j| j["payload"]["alert_id"].as_str().unwrap().to_owned())
        .collect();
    changed.sort();
    let mut expected: Vec<String> = alerts.iter().map(|a| a.id.to_string()).collect();
    expected.sort();
    assert_eq!(changed, expected);
}

// --- Heartbeats ------------------------------------------------------------------------------

/// The one heartbeat monitor, as `GET /api/v1/heartbeats` lists it to a viewer.
async fn heartbeat_listed(app: &TestApp) -> Value {
    let (status, list) = app.get("/api/v1/heartbeats", &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let [one] = &list.as_array().unwrap()[..] else {
        panic!("one heartbeat expected: {list}");
    };
    one.clone()
}

async fn heartbeats_are_pinged_over_http_and_listed_with_their_deadline(app: TestApp) {
    let created = app.clock.now();
    app.core
        .create_heartbeat(&NewHeartbeat {
            service: "checkout".into(),
            name: "nightly-backup".into(),
            key_hash: hash_token(HEARTBEAT_KEY),
            interval: chrono::Duration::minutes(5),
            grace: chrono::Duration::minutes(1),
            origin: "cli".into(),
            at: created,
        })
        .await
        .unwrap();
    let listed = heartbeat_listed(&app).await;
    assert_eq!(listed["name"], "nightly-backup");
    assert_eq!(listed["service"], "checkout");
    assert_eq!(listed["state"], "new");
    assert_eq!(listed["last_ping_at"], Value::Null);
    assert_eq!(
        listed["deadline"],
        json!(created + chrono::Duration::minutes(6))
    );
    assert_eq!(listed["interval"], 300_000);
    assert_eq!(listed["grace"], 60_000);

    // A GET pings, as `curl` in a cron job does.
    app.clock.advance(chrono::Duration::minutes(2));
    let (status, pinged) = app
        .send(
            Request::get(format!("/api/v1/heartbeats/{HEARTBEAT_KEY}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pinged}");
    assert_eq!(pinged["state"], "up");
    assert_eq!(pinged["last_ping_at"], now(&app));
    assert_eq!(
        pinged["deadline"],
        json!(app.clock.now() + chrono::Duration::minutes(6))
    );

    // So does a POST, whatever its body.
    app.clock.advance(chrono::Duration::minutes(3));
    let (status, pinged) = post(
        &app,
        &format!("/api/v1/heartbeats/{HEARTBEAT_KEY}"),
        "backup done: 12 GiB",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pinged}");
    let last_ping = app.clock.now();
    let deadline = last_ping + chrono::Duration::minutes(6);
    assert_eq!(pinged["state"], "up");
    assert_eq!(pinged["last_ping_at"], json!(last_ping));
    assert_eq!(pinged["deadline"], json!(deadline));
    let listed = heartbeat_listed(&app).await;
    assert_eq!(listed["state"], "up");
    assert_eq!(listed["last_ping_at"], json!(last_ping));
    assert_eq!(listed["deadline"], json!(deadline));
    assert!(
        queued_jobs(&app)
            .await
            .iter()
            .any(|j| j["kind"] == "heartbeat.check"
                && j["run_at"] == json!(deadline)
                && j["payload"]["deadline"] == json!(deadline)),
        "no check at the new deadline"
    );

    for method in ["GET", "POST"] {
        let refused = app
            .send(
                Request::builder()
                    .method(method)
                    .uri("/api/v1/heartbeats/tcn_hb_no_such_key")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_error(method, &refused, StatusCode::NOT_FOUND, "not_found", None);
    }
    let anonymous = app
        .send(
            Request::get("/api/v1/heartbeats")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_error(
        "list without a token",
        &anonymous,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );

    // One second past the deadline the check opens an alert: the monitor is late, and the
    // next ping resolves the alert.
    let pool = WorkerPool::new(
        app.db.store.clone(),
        Arc::new(app.clock.clone()),
        HeartbeatChecks::handlers(app.core.clone()),
        PoolConfig::default(),
    );
    app.clock.set(deadline + chrono::Duration::seconds(1));
    pool.run_due().await.unwrap();
    assert_eq!(heartbeat_listed(&app).await["state"], "late");
    let [missed] = &with_key(&app, "heartbeat:nightly-backup").await[..] else {
        panic!("one heartbeat alert expected");
    };
    let missed_id = missed["id"].as_str().unwrap().to_owned();
    assert_eq!(missed["status"], "open");
    app.clock.advance(chrono::Duration::minutes(1));
    let (status, pinged) = app
        .send(
            Request::get(format!("/api/v1/heartbeats/{HEARTBEAT_KEY}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pinged}");
    assert_eq!(pinged["state"], "up");
    let resolved = alert(&app, &missed_id).await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved_at"], now(&app));
}

// --- Integrations and the API document -------------------------------------------------------

/// Every object key anywhere in `value` that is one of `names`, with its path.
fn keys_named(value: &Value, names: &[&str], path: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let here = format!("{path}.{key}");
                if names.contains(&key.as_str()) {
                    found.push(here.clone());
                }
                keys_named(inner, names, &here, found);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                keys_named(inner, names, &format!("{path}[{index}]"), found);
            }
        }
        _ => {}
    }
}

async fn integrations_are_listed_to_admins_only_and_never_with_keys(app: TestApp) {
    integration(
        &app,
        "prometheus",
        "alertmanager",
        ALERTMANAGER_KEY,
        json!({}),
    )
    .await;
    integration(
        &app,
        "uptime-checker",
        "generic",
        GENERIC_KEY,
        generic_mapping(),
    )
    .await;
    for token in [&app.responder, &app.viewer] {
        let refused = app.get("/api/v1/integrations", token).await;
        assert_error(token, &refused, StatusCode::FORBIDDEN, "forbidden", None);
    }
    let refused = app
        .send(
            Request::get("/api/v1/integrations")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(refused.0, StatusCode::UNAUTHORIZED, "{}", refused.1);

    let (status, list) = app.get("/api/v1/integrations", &app.admin).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let summary: Vec<(&str, &str, &str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["service"].as_str().unwrap(),
                i["name"].as_str().unwrap(),
                i["kind"].as_str().unwrap(),
                i["origin"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("checkout", "prometheus", "alertmanager", "cli"),
            ("checkout", "uptime-checker", "generic", "cli"),
        ]
    );
    assert_eq!(list[1]["settings"], generic_mapping());
    let mut found = Vec::new();
    keys_named(
        &list,
        &["key", "key_hash", "routing_key", "secret"],
        "",
        &mut found,
    );
    assert!(
        found.is_empty(),
        "secret fields listed: {found:?} in {list}"
    );
    let text = list.to_string();
    for secret in [
        ALERTMANAGER_KEY.to_owned(),
        GENERIC_KEY.to_owned(),
        hash_token(ALERTMANAGER_KEY),
        hash_token(GENERIC_KEY),
    ] {
        assert!(
            !text.contains(&secret),
            "a key or its hash is listed: {list}"
        );
    }
}

/// Every ingest route is in the OpenAPI document, with each method it answers, and the
/// integration schema has no place for a key.
async fn openapi_document_describes_every_ingest_route(app: TestApp) {
    let (status, doc) = app
        .send(
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut missing = Vec::new();
    for (path, methods) in [
        ("/api/v1/integrations/{key}/alertmanager", &["post"][..]),
        ("/api/v1/integrations/{key}/grafana", &["post"]),
        ("/api/v1/integrations/{key}/generic", &["post"]),
        ("/v2/enqueue", &["post"]),
        ("/api/v1/heartbeats", &["get"]),
        // Cron jobs ping with a plain GET as often as with a POST.
        ("/api/v1/heartbeats/{key}", &["get", "post"]),
        ("/api/v1/integrations", &["get"]),
    ] {
        for method in methods {
            if doc["paths"][path].get(method).is_none() {
                missing.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "missing from the OpenAPI document: {missing:?}"
    );
    assert!(doc["components"]["schemas"].get("Ingested").is_some());
    let mut found = Vec::new();
    keys_named(
        &doc["components"]["schemas"]["Integration"],
        &["key", "key_hash"],
        "Integration",
        &mut found,
    );
    assert!(found.is_empty(), "{found:?}");
}

// --- Logs ------------------------------------------------------------------------------------

/// Log output of this test's thread, as `tocsin serve` writes it by default (INFO).
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The key in the path is the sender's credential: a request that logs anything (here a
/// generic integration created without a mapping, answered 500; in production any
/// database error) must not write the key into the logs.
async fn integration_and_heartbeat_keys_never_reach_the_logs(app: TestApp) {
    integration(
        &app,
        "prometheus",
        "alertmanager",
        ALERTMANAGER_KEY,
        json!({}),
    )
    .await;
    integration(
        &app,
        "pagerduty-senders",
        "pagerduty",
        PAGERDUTY_KEY,
        json!({}),
    )
    .await;
    integration(&app, "unmapped", "generic", GENERIC_KEY, json!({})).await;
    app.core
        .create_heartbeat(&NewHeartbeat {
            service: "checkout".into(),
            name: "nightly-backup".into(),
            key_hash: hash_token(HEARTBEAT_KEY),
            interval: chrono::Duration::minutes(5),
            grace: chrono::Duration::minutes(1),
            origin: "cli".into(),
            at: app.clock.now(),
        })
        .await
        .unwrap();
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let (status, _) = post(
        &app,
        &alertmanager_path(ALERTMANAGER_KEY),
        fixture(FIRING_2),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(&app, "/v2/enqueue", bytes(&pd_event(PD_TRIGGER_FULL))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = app
        .send(
            Request::get(format!("/api/v1/heartbeats/{HEARTBEAT_KEY}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let unmapped = post(
        &app,
        &format!("/api/v1/integrations/{GENERIC_KEY}/generic"),
        bytes(&json!({"title": "t", "id": "k"})),
    )
    .await;
    assert_error(
        "generic integration without a mapping",
        &unmapped,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        None,
    );

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("request failed"),
        "the 500 was not logged, so nothing was checked:\n{text}"
    );
    for key in [ALERTMANAGER_KEY, PAGERDUTY_KEY, GENERIC_KEY, HEARTBEAT_KEY] {
        assert!(!text.contains(key), "{key} is in the logs:\n{text}");
    }
}

// --- Metrics ---------------------------------------------------------------------------------

/// The value of one series in Prometheus text, 0 when it has not been recorded yet.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let (status, text) = app
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    text.as_str()
        .unwrap_or_else(|| panic!("metrics are not text: {text}"))
        .to_owned()
}

async fn metrics_count_received_alerts_and_dedup_hits(app: TestApp) {
    // The recorder is process-wide and other tests ingest at the same time: only increases
    // are asserted, never totals.
    const CREATED: &str =
        r#"tocsin_alerts_received_total{source="alertmanager",outcome="created"}"#;
    const RESOLVED: &str =
        r#"tocsin_alerts_received_total{source="alertmanager",outcome="resolved"}"#;
    const DEDUP: &str = r#"tocsin_alert_dedup_hits_total{source="alertmanager"}"#;
    integration(
        &app,
        "prometheus",
        "alertmanager",
        ALERTMANAGER_KEY,
        json!({}),
    )
    .await;
    let path = alertmanager_path(ALERTMANAGER_KEY);
    let before = scrape(&app).await;

    for name in [FIRING_2, FIRING_1_RESOLVED_1] {
        let (status, body) = post(&app, &path, fixture(name)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let after = scrape(&app).await;
    for (series, at_least) in [(CREATED, 2.0), (RESOLVED, 1.0), (DEDUP, 1.0)] {
        assert!(
            after.lines().any(|l| l.starts_with(series)),
            "{series} missing from /metrics:\n{after}"
        );
        let grown = sample(&after, series) - sample(&before, series);
        assert!(
            grown >= at_least,
            "{series} grew by {grown}, not {at_least}"
        );
    }
    assert!(
        after.contains("tocsin_alert_ingest_seconds"),
        "no ingest duration histogram:\n{after}"
    );
}
