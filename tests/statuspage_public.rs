//! The public status page in-process, on SQLite and PostgreSQL: the Statuspage v2 JSON
//! compared field by field (keys, key order, JSON types, nulls, enum values) with real
//! Statuspage responses in `shared/fixtures/statuspage/v2/`, for an operational page, an
//! active incident, and maintenance in progress and scheduled; caching and CORS headers;
//! the HTML pages (escaping, grouping, history pages, 404s); the feeds; the widget.

mod support;

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bot_core::model::{Actor, ComponentStatus, Impact, PublicIncident, PublicStatus};
use bot_core::statuspage::{OpenPublic, PublicChange, ScheduleMaintenance};
use chrono::Duration;
use support::TestApp;
use tower::ServiceExt;

on_both!(
    an_operational_page_has_statuspages_shape,
    an_active_incident_has_statuspages_shape,
    maintenance_in_progress_and_scheduled_has_statuspages_shape,
    json_is_cached_briefly_revalidated_and_open_to_other_origins,
    the_page_shows_groups_incidents_and_maintenance_with_everything_escaped,
    history_pages_twenty_at_a_time_and_unknown_pages_are_404,
    feeds_parse_back_and_link_every_record,
    uptime_moves_with_the_clock_while_nothing_changes,
    a_change_stamped_before_the_last_one_shows_at_once,
    the_page_offers_an_e_mail_subscription_only_where_mail_can_go_out,
);

// ---------------------------------------------------------------------------------------
// Requests

struct Got {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn request(app: &TestApp, request: Request<Body>) -> Got {
    let response = app
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("the router never fails");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Got {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("text"),
    }
}

async fn get(app: &TestApp, path: &str) -> Got {
    request(app, Request::get(path).body(Body::empty()).unwrap()).await
}

/// A v2 document, checked to be 200 JSON, parsed keeping key order.
async fn document(app: &TestApp, name: &str) -> Node {
    let got = get(app, &format!("/status/api/v2/{name}")).await;
    assert_eq!(got.status, StatusCode::OK, "{name}: {}", got.body);
    assert_eq!(
        got.headers[header::CONTENT_TYPE],
        "application/json; charset=utf-8",
        "{name}"
    );
    parse(&got.body)
}

fn alice() -> Actor {
    Actor::User(bot_core::model::UserId::from("alice"))
}

// ---------------------------------------------------------------------------------------
// JSON with its key order: serde_json's Value sorts keys, so fixtures and our documents
// are read into this tree instead.

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl<'de> serde::Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Number(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::String(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(Node::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Node>()? {
                    entries.push((k, v));
                }
                Ok(Node::Object(entries))
            }
        }
        d.deserialize_any(V)
    }
}

fn parse(text: &str) -> Node {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn at(&self, path: &[&str]) -> &Node {
        path.iter()
            .fold(self, |node, key| match (node, key.parse::<usize>()) {
                (Node::Array(items), Ok(i)) => &items[i],
                _ => node
                    .get(key)
                    .unwrap_or_else(|| panic!("no `{key}` in {node:?}")),
            })
    }

    fn str(&self) -> &str {
        match self {
            Node::String(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    fn items(&self) -> &[Node] {
        match self {
            Node::Array(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "boolean",
            Node::Number(_) => "number",
            Node::String(_) => "string",
            Node::Array(_) => "array",
            Node::Object(_) => "object",
        }
    }
}

fn fixture(name: &str) -> Node {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/statuspage/v2")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading the fixture {}: {e}", path.display()));
    parse(&text)
}

/// Keys Statuspage itself emits on some pages and not others: `start_date` is in the
/// GitHub captures only (and not on components inside its incidents), never in Twilio's
/// (FIELDS.md). We always emit it, null, as GitHub's top-level components do.
const OPTIONAL_KEYS: &[&str] = &["start_date"];

/// Fields FIELDS.md documents as `… | null`: either side may be null where the other is
/// not.
const NULLABLE: &[&str] = &[
    "description",
    "group_id",
    "monitoring_at",
    "resolved_at",
    "affected_components",
];

/// How alike two objects are in which nullable fields are null: to pick, among a
/// fixture's elements, the one to compare ours with.
fn likeness(ours: &Node, theirs: &Node) -> usize {
    NULLABLE
        .iter()
        .filter(|k| {
            ours.get(k).map(|v| *v == Node::Null) == theirs.get(k).map(|v| *v == Node::Null)
        })
        .count()
}

/// Walks `ours` and `theirs` (a real Statuspage document of the same endpoint) together:
/// the same keys in the same order, the same JSON types, null where they have null, and
/// every timestamp in their format. Each element of one of our arrays is compared with
/// the fixture's element of the same kind (a group component with a group component);
/// elements of a kind the fixture has none of are left to a fixture that has them.
/// Returns how many values were compared.
fn same_shape(ours: &Node, theirs: &Node, path: &str) -> usize {
    match (ours, theirs) {
        (Node::Object(a), Node::Object(b)) => {
            let keys = |entries: &[(String, Node)]| -> Vec<String> {
                entries
                    .iter()
                    .map(|(k, _)| k.clone())
                    .filter(|k| !OPTIONAL_KEYS.contains(&k.as_str()))
                    .collect()
            };
            assert_eq!(keys(a), keys(b), "keys or their order differ at {path}");
            let mut n = 1;
            for (k, v) in a {
                if let Some(theirs) = theirs.get(k) {
                    if NULLABLE.contains(&k.as_str()) && (*v == Node::Null || *theirs == Node::Null)
                    {
                        n += 1;
                        continue;
                    }
                    n += same_shape(v, theirs, &format!("{path}.{k}"));
                } else {
                    assert!(OPTIONAL_KEYS.contains(&k.as_str()), "{path}.{k}");
                    assert_eq!(
                        v,
                        &Node::Null,
                        "{path}.{k} is null as in the GitHub captures"
                    );
                }
            }
            n
        }
        (Node::Array(a), Node::Array(b)) => {
            let mut n = 1;
            for (i, item) in a.iter().enumerate() {
                let group = item.get("group");
                let counterpart = b
                    .iter()
                    .filter(|t| group.is_none() || t.get("group") == group)
                    .max_by_key(|t| likeness(item, t));
                if let Some(t) = counterpart {
                    n += same_shape(item, t, &format!("{path}[{i}]"));
                }
            }
            n
        }
        (Node::String(a), Node::String(b)) => {
            if is_timestamp(b) {
                assert!(
                    is_timestamp(a),
                    "{path}: `{a}` is not a timestamp like `{b}`"
                );
            }
            1
        }
        (a, b) => {
            assert_eq!(
                a.kind(),
                b.kind(),
                "JSON types differ at {path}: {a:?} vs {b:?}"
            );
            1
        }
    }
}

#[test]
fn the_comparison_catches_order_type_null_and_timestamp_differences() {
    let theirs = parse(r#"{"a": 1, "b": {"c": null, "at": "2020-05-22T20:50:20.457Z"}}"#);
    let passes = |ours: &str| {
        let ours = parse(ours);
        let theirs = theirs.clone();
        std::panic::catch_unwind(move || same_shape(&ours, &theirs, "t")).is_ok()
    };
    assert!(passes(
        r#"{"a": 2, "b": {"c": null, "at": "2026-11-24T03:00:00.123Z"}}"#
    ));
    assert!(!passes(
        r#"{"b": {"c": null, "at": "2026-11-24T03:00:00.123Z"}, "a": 2}"#
    ));
    assert!(!passes(
        r#"{"a": "2", "b": {"c": null, "at": "2026-11-24T03:00:00.123Z"}}"#
    ));
    assert!(!passes(
        r#"{"a": 2, "b": {"c": "x", "at": "2026-11-24T03:00:00.123Z"}}"#
    ));
    assert!(!passes(
        r#"{"a": 2, "b": {"c": null, "at": "2026-11-24T03:00:00Z"}}"#
    ));
    assert!(!passes(r#"{"a": 2, "b": {"c": null}}"#));
    assert!(is_timestamp("2020-06-16T14:00:29.031-07:00"));
}

/// `2020-05-22T20:50:20.457Z` or `2020-06-16T14:00:29.031-07:00`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let date_time = b.len() >= 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23);
    date_time
        && (&s[23..] == "Z"
            || (s.len() == 29
                && matches!(b[23], b'+' | b'-')
                && digits(24..26)
                && b[26] == b':'
                && digits(27..29)))
}

const INDICATORS: &[&str] = &["none", "minor", "major", "critical", "maintenance"];
const COMPONENT_STATES: &[&str] = &[
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
];
const INCIDENT_STATES: &[&str] = &[
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "postmortem",
];
const MAINTENANCE_STATES: &[&str] = &["scheduled", "in_progress", "verifying", "completed"];
const IMPACTS: &[&str] = &["none", "minor", "major", "critical"];

fn one_of(value: &Node, allowed: &[&str], what: &str) {
    assert!(
        allowed.contains(&value.str()),
        "{what}: `{}` is not one of {allowed:?}",
        value.str()
    );
}

/// Every enum value in a v2 document is one FIELDS.md documents.
fn enums_documented(doc: &Node) {
    if let Some(status) = doc.get("status") {
        one_of(status.at(&["indicator"]), INDICATORS, "status.indicator");
    }
    let components = |list: &Node| {
        for c in list.items() {
            one_of(c.at(&["status"]), COMPONENT_STATES, "component status");
        }
    };
    if let Some(list) = doc.get("components") {
        components(list);
    }
    for (key, states, impacts) in [
        ("incidents", INCIDENT_STATES, IMPACTS),
        (
            "scheduled_maintenances",
            MAINTENANCE_STATES,
            &["maintenance"][..],
        ),
    ] {
        let Some(records) = doc.get(key) else {
            continue;
        };
        for r in records.items() {
            one_of(r.at(&["status"]), states, key);
            one_of(r.at(&["impact"]), impacts, key);
            components(r.at(&["components"]));
            for u in r.at(&["incident_updates"]).items() {
                one_of(u.at(&["status"]), states, "update status");
                if let Node::Array(affected) = u.at(&["affected_components"]) {
                    assert!(!affected.is_empty(), "no components is null, not []");
                    for a in affected {
                        one_of(a.at(&["old_status"]), COMPONENT_STATES, "old_status");
                        one_of(a.at(&["new_status"]), COMPONENT_STATES, "new_status");
                    }
                }
            }
        }
    }
}

/// Our document `name` against each fixture named, field by field.
async fn compare(app: &TestApp, name: &str, fixtures: &[&str]) -> Node {
    let ours = document(app, name).await;
    enums_documented(&ours);
    for f in fixtures {
        let compared = same_shape(&ours, &fixture(f), &format!("{name} vs {f}"));
        assert!(
            compared > 5,
            "{name} vs {f}: only {compared} values compared"
        );
    }
    ours
}

// ---------------------------------------------------------------------------------------
// Data

async fn open_incident(app: &TestApp) -> PublicIncident {
    let opened = app
        .core
        .open_public_incident(
            &alice(),
            OpenPublic {
                incident_id: None,
                name: "Checkout errors".into(),
                impact: Impact::Minor,
                status: PublicStatus::Investigating,
                body: "We are investigating failed payments.".into(),
                components: vec!["checkout".into()],
                component_status: None,
            },
        )
        .await
        .expect("opened");
    app.clock.advance(Duration::minutes(7));
    app.core
        .update_public_incident(
            &alice(),
            opened.id,
            PublicChange {
                status: Some(PublicStatus::Identified),
                body: "A bad deploy; rolling back. The API is slow meanwhile.".into(),
                impact: None,
                component_changes: vec![("api".into(), ComponentStatus::PartialOutage)],
            },
        )
        .await
        .expect("updated")
}

async fn maintenance(app: &TestApp, name: &str, in_hours: i64) -> PublicIncident {
    let starts = app.clock_now() + Duration::hours(in_hours);
    app.core
        .schedule_maintenance(
            &alice(),
            ScheduleMaintenance {
                name: name.into(),
                body: format!("{name}: the database moves to new hardware."),
                components: vec!["website".into()],
                starts,
                ends: starts + Duration::hours(2),
            },
        )
        .await
        .expect("scheduled")
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}

impl ClockNow for TestApp {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use bot_core::Clock;
        self.clock.now()
    }
}

// ---------------------------------------------------------------------------------------
// The v2 JSON

async fn an_operational_page_has_statuspages_shape(app: TestApp) {
    let summary = compare(
        &app,
        "summary.json",
        &["summary.json", "summary_twilio_groups.json"],
    )
    .await;
    assert_eq!(summary.at(&["status", "indicator"]).str(), "none");
    assert_eq!(
        summary.at(&["status", "description"]).str(),
        "All Systems Operational"
    );
    assert_eq!(summary.at(&["page", "name"]).str(), "Acme Status");
    assert_eq!(
        summary.at(&["page", "url"]).str(),
        "http://127.0.0.1:8080/status"
    );
    assert_eq!(summary.at(&["page", "time_zone"]).str(), "Etc/UTC");
    // Nothing ever changed: a fixed moment, so the document is the same each time.
    assert_eq!(
        summary.at(&["page", "updated_at"]).str(),
        "1970-01-01T00:00:00.000Z"
    );
    // Shop (a group of Checkout and Website), then its members, then API.
    let components = summary.at(&["components"]).items();
    let names: Vec<&str> = components.iter().map(|c| c.at(&["name"]).str()).collect();
    assert_eq!(names, ["Shop", "Checkout", "Website", "API"]);
    let shop_id = components[0].at(&["id"]).str();
    assert_eq!(shop_id.len(), 12);
    assert_eq!(
        components[0].at(&["components"]),
        &Node::Array(vec![
            Node::String("checkout".into()),
            Node::String("website".into())
        ])
    );
    for member in &components[1..3] {
        assert_eq!(member.at(&["group_id"]).str(), shop_id);
    }
    assert_eq!(components[3].at(&["group_id"]), &Node::Null);
    assert!(summary.at(&["incidents"]).items().is_empty());
    assert!(summary.at(&["scheduled_maintenances"]).items().is_empty());

    compare(&app, "status.json", &["status.json"]).await;
    compare(&app, "components.json", &["components.json"]).await;
    compare(&app, "incidents.json", &["incidents.json"]).await;
    compare(
        &app,
        "incidents/unresolved.json",
        &["incidents_unresolved.json"],
    )
    .await;
    compare(
        &app,
        "scheduled-maintenances.json",
        &["scheduled-maintenances.json"],
    )
    .await;
    compare(
        &app,
        "scheduled-maintenances/upcoming.json",
        &["scheduled-maintenances_upcoming.json"],
    )
    .await;
    compare(
        &app,
        "scheduled-maintenances/active.json",
        &["scheduled-maintenances_active.json"],
    )
    .await;
}

async fn an_active_incident_has_statuspages_shape(app: TestApp) {
    let record = open_incident(&app).await;
    // A resolved one too: in incidents.json, not in the summary or unresolved.
    let old = app
        .core
        .open_public_incident(
            &alice(),
            OpenPublic {
                incident_id: None,
                name: "Slow logins".into(),
                impact: Impact::Minor,
                status: PublicStatus::Investigating,
                body: "Looking into slow logins.".into(),
                components: vec![],
                component_status: None,
            },
        )
        .await
        .unwrap();
    app.core
        .update_public_incident(
            &alice(),
            old.id,
            PublicChange {
                status: Some(PublicStatus::Resolved),
                body: "Fixed.".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let summary = compare(
        &app,
        "summary.json",
        &["summary.json", "summary_twilio_groups.json"],
    )
    .await;
    // A partial outage of the API is worse than the minor incident.
    assert_eq!(summary.at(&["status", "indicator"]).str(), "major");
    assert_eq!(
        summary.at(&["status", "description"]).str(),
        "Partial System Outage"
    );
    let incidents = summary.at(&["incidents"]).items();
    assert_eq!(incidents.len(), 1);
    let incident = &incidents[0];
    assert_eq!(incident.at(&["id"]).str(), record.id.to_string());
    assert_eq!(incident.at(&["name"]).str(), "Checkout errors");
    assert_eq!(incident.at(&["status"]).str(), "identified");
    assert_eq!(incident.at(&["impact"]).str(), "minor");
    assert_eq!(
        incident.at(&["shortlink"]).str(),
        format!("http://127.0.0.1:8080/status/incidents/{}", record.id)
    );
    assert_eq!(
        incident.at(&["created_at"]).str(),
        "2026-11-24T03:00:00.123Z"
    );
    assert_eq!(
        incident.at(&["updated_at"]).str(),
        "2026-11-24T03:07:00.123Z"
    );
    assert_eq!(incident.at(&["monitoring_at"]), &Node::Null);
    // Newest first; the first update moved Checkout, named as Twilio names group members.
    let updates = incident.at(&["incident_updates"]).items();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0].at(&["status"]).str(), "identified");
    assert_eq!(updates[0].at(&["incident_id"]).str(), record.id.to_string());
    assert_eq!(
        updates[0].at(&["affected_components", "0", "code"]).str(),
        "api"
    );
    assert_eq!(
        updates[0].at(&["affected_components", "0", "name"]).str(),
        "API"
    );
    assert_eq!(
        updates[0]
            .at(&["affected_components", "0", "new_status"])
            .str(),
        "partial_outage"
    );
    assert_eq!(
        updates[1].at(&["affected_components", "0", "name"]).str(),
        "Shop - Checkout"
    );
    assert_eq!(
        updates[1]
            .at(&["affected_components", "0", "old_status"])
            .str(),
        "operational"
    );
    let listed: Vec<&str> = incident
        .at(&["components"])
        .items()
        .iter()
        .map(|c| c.at(&["id"]).str())
        .collect();
    assert_eq!(listed, ["checkout", "api"]);
    let components = summary.at(&["components"]).items();
    let state = |name: &str| {
        components
            .iter()
            .find(|c| c.at(&["name"]).str() == name)
            .map(|c| c.at(&["status"]).str().to_owned())
            .unwrap()
    };
    assert_eq!(state("Checkout"), "degraded_performance");
    assert_eq!(state("Shop"), "degraded_performance");
    assert_eq!(state("API"), "partial_outage");
    assert_eq!(
        summary.at(&["page", "updated_at"]).str(),
        "2026-11-24T03:07:00.123Z"
    );

    let status = compare(&app, "status.json", &["status.json"]).await;
    assert_eq!(status.at(&["status"]), summary.at(&["status"]));
    let all = compare(&app, "incidents.json", &["incidents.json"]).await;
    let names: Vec<&str> = all
        .at(&["incidents"])
        .items()
        .iter()
        .map(|i| i.at(&["name"]).str())
        .collect();
    assert_eq!(names, ["Slow logins", "Checkout errors"]);
    let resolved = &all.at(&["incidents"]).items()[0];
    assert_eq!(resolved.at(&["status"]).str(), "resolved");
    assert!(is_timestamp(resolved.at(&["resolved_at"]).str()));
    // An update that moved no component: null, as Statuspage writes it.
    assert_eq!(
        resolved.at(&["incident_updates", "0", "affected_components"]),
        &Node::Null
    );
    let unresolved = compare(
        &app,
        "incidents/unresolved.json",
        &["incidents_unresolved.json"],
    )
    .await;
    assert_eq!(unresolved.at(&["incidents"]).items().len(), 1);
    compare(&app, "components.json", &["components.json"]).await;
}

async fn maintenance_in_progress_and_scheduled_has_statuspages_shape(app: TestApp) {
    let now = maintenance(&app, "Database upgrade", 1).await;
    let later = maintenance(&app, "Network upgrade", 48).await;
    app.clock.advance(Duration::hours(1));
    app.core
        .update_public_incident(
            &alice(),
            now.id,
            PublicChange {
                status: Some(PublicStatus::InProgress),
                body: "Scheduled maintenance is currently in progress.".into(),
                impact: None,
                component_changes: vec![("website".into(), ComponentStatus::UnderMaintenance)],
            },
        )
        .await
        .expect("started");

    let summary = compare(
        &app,
        "summary.json",
        &[
            "summary_github_maintenance-in-progress.json",
            "summary_cloudamqp_maintenance-in-progress.json",
            "summary.json",
            "summary_twilio_groups.json",
        ],
    )
    .await;
    assert_eq!(summary.at(&["status", "indicator"]).str(), "maintenance");
    assert_eq!(
        summary.at(&["status", "description"]).str(),
        "Service Under Maintenance"
    );
    let listed: Vec<(&str, &str)> = summary
        .at(&["scheduled_maintenances"])
        .items()
        .iter()
        .map(|m| (m.at(&["name"]).str(), m.at(&["status"]).str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("Network upgrade", "scheduled"),
            ("Database upgrade", "in_progress")
        ]
    );
    let active = &summary.at(&["scheduled_maintenances"]).items()[1];
    assert_eq!(
        active.at(&["scheduled_for"]).str(),
        "2026-11-24T04:00:00.123Z"
    );
    assert_eq!(
        active.at(&["scheduled_until"]).str(),
        "2026-11-24T06:00:00.123Z"
    );
    assert_eq!(active.at(&["impact"]).str(), "maintenance");
    assert_eq!(
        active
            .at(&[
                "incident_updates",
                "0",
                "affected_components",
                "0",
                "new_status"
            ])
            .str(),
        "under_maintenance"
    );

    let status = compare(
        &app,
        "status.json",
        &["status_github_maintenance.json", "status.json"],
    )
    .await;
    assert_eq!(status.at(&["status", "indicator"]).str(), "maintenance");
    let all = compare(
        &app,
        "scheduled-maintenances.json",
        &["scheduled-maintenances.json"],
    )
    .await;
    assert_eq!(all.at(&["scheduled_maintenances"]).items().len(), 2);
    let upcoming = compare(
        &app,
        "scheduled-maintenances/upcoming.json",
        &["scheduled-maintenances_upcoming.json"],
    )
    .await;
    let upcoming = upcoming.at(&["scheduled_maintenances"]).items();
    assert_eq!(upcoming.len(), 1);
    assert_eq!(upcoming[0].at(&["id"]).str(), later.id.to_string());
    let active = compare(
        &app,
        "scheduled-maintenances/active.json",
        &["scheduled-maintenances_active.json"],
    )
    .await;
    let active = active.at(&["scheduled_maintenances"]).items();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].at(&["id"]).str(), now.id.to_string());
    // Maintenance is not an incident.
    let incidents = document(&app, "incidents.json").await;
    assert!(incidents.at(&["incidents"]).items().is_empty());
}

async fn json_is_cached_briefly_revalidated_and_open_to_other_origins(app: TestApp) {
    open_incident(&app).await;
    let first = request(
        &app,
        Request::get("/status/api/v2/summary.json")
            .header(header::ORIGIN, "https://shop.example.com")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(first.headers[header::CACHE_CONTROL], "public, max-age=30");
    assert_eq!(
        first.headers[header::LAST_MODIFIED],
        "Tue, 24 Nov 2026 03:07:00 GMT"
    );
    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");

    let preflight = request(
        &app,
        Request::options("/status/api/v2/summary.json")
            .header(header::ORIGIN, "https://shop.example.com")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "if-none-match")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(preflight.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let methods = preflight.headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap();
    assert!(methods.contains("GET"), "{methods}");

    let again = request(
        &app,
        Request::get("/status/api/v2/summary.json")
            .header(header::IF_NONE_MATCH, &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.headers[header::ETAG], etag.as_str());
    let since = request(
        &app,
        Request::get("/status/api/v2/status.json")
            .header(header::IF_MODIFIED_SINCE, "Tue, 24 Nov 2026 03:07:00 GMT")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(since.status, StatusCode::NOT_MODIFIED);

    // A change: a new document, a new tag, a later Last-Modified.
    app.clock.advance(Duration::minutes(3));
    app.core
        .set_component_states(&alice(), vec![("api".into(), ComponentStatus::Operational)])
        .await
        .unwrap();
    let changed = request(
        &app,
        Request::get("/status/api/v2/summary.json")
            .header(header::IF_NONE_MATCH, &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.headers[header::ETAG], etag.as_str());
    assert_eq!(
        changed.headers[header::LAST_MODIFIED],
        "Tue, 24 Nov 2026 03:10:00 GMT"
    );
    let stale = request(
        &app,
        Request::get("/status/api/v2/status.json")
            .header(header::IF_MODIFIED_SINCE, "Tue, 24 Nov 2026 03:07:00 GMT")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(stale.status, StatusCode::OK);

    // Compressed when asked.
    let gzipped = app
        .router
        .clone()
        .oneshot(
            Request::get("/status/api/v2/summary.json")
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");

    // The widget: small, plain, no cookies or storage, text only.
    let widget = get(&app, "/status/widget.js").await;
    assert_eq!(widget.status, StatusCode::OK);
    assert_eq!(
        widget.headers[header::CONTENT_TYPE],
        "application/javascript; charset=utf-8"
    );
    assert!(widget.body.len() < 5 * 1024, "{} bytes", widget.body.len());
    let cache = widget.headers[header::CACHE_CONTROL].to_str().unwrap();
    assert!(cache.starts_with("public, max-age="), "{cache}");
    for banned in [
        "innerHTML",
        "outerHTML",
        "document.cookie",
        "localStorage",
        "sessionStorage",
        "eval(",
    ] {
        assert!(!widget.body.contains(banned), "the widget uses {banned}");
    }
    assert!(widget.body.contains("document.currentScript"));
    assert!(widget.body.contains("textContent"));
}

// ---------------------------------------------------------------------------------------
// HTML

async fn the_page_shows_groups_incidents_and_maintenance_with_everything_escaped(app: TestApp) {
    let record = open_incident(&app).await;
    app.clock.advance(Duration::minutes(5));
    let evil = "<script>document.title='pwned'</script><img src=x onerror=\"alert(1)\"> & more";
    app.core
        .update_public_incident(
            &alice(),
            record.id,
            PublicChange {
                status: None,
                body: evil.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    maintenance(&app, "Database <b>upgrade</b>", 24).await;

    let page = get(&app, "/status").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert_eq!(page.headers[header::CACHE_CONTROL], "public, max-age=30");
    assert!(page.headers.contains_key(header::ETAG));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    let html = &page.body;
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#)
    );
    assert!(html.contains("<title>Acme Status</title>"));
    assert!(html.contains(
        r#"<section class="banner b-major" aria-live="polite">Partial System Outage</section>"#
    ));
    // The body is text, not markup.
    assert!(!html.contains("<script>document.title"), "{html}");
    assert!(!html.contains("<img src=x"));
    assert!(html.contains(
        "&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; more"
    ), "{html}");
    assert!(html.contains("Database &lt;b&gt;upgrade&lt;/b&gt;"));
    // Updates newest first, with times a script may localise.
    let newest = html.find("&lt;script&gt;").unwrap();
    let rollback = html.find("A bad deploy; rolling back.").unwrap();
    let first = html.find("We are investigating failed payments.").unwrap();
    assert!(newest < rollback && rollback < first);
    assert!(
        html.contains(r#"<time datetime="2026-11-24T03:12:00Z">Nov 24, 2026 03:12 UTC</time>"#),
        "{html}"
    );
    // Components in their group, with state labels and uptime.
    assert!(html.contains("<h3>Shop</h3>"));
    let shop = html.find("<h3>Shop</h3>").unwrap();
    let checkout = html.find("<h4>Checkout</h4>").unwrap();
    let website = html.find("<h4>Website</h4>").unwrap();
    let api = html.find("<h3>API</h3>").unwrap();
    assert!(shop < checkout && checkout < website && website < api);
    assert!(
        html.contains(r#"<span class="state s-degraded_performance">Degraded performance</span>"#)
    );
    assert!(html.contains(r#"<span class="state s-partial_outage">Partial outage</span>"#));
    assert!(html.contains("% uptime"), "{html}");
    assert!(html.contains("role=\"img\" aria-label=\"API: "));
    assert!(html.contains("Scheduled maintenance"));
    for link in [
        "/status/history",
        "/status/history.atom",
        "/status/history.rss",
    ] {
        assert!(html.contains(&format!("href=\"{link}\"")), "{link}");
    }
    assert!(html.contains(&format!("href=\"/status/incidents/{}\"", record.id)));
    // Exactly one script: the time converter.
    assert_eq!(html.matches("<script").count(), 1);

    // The incident's own page: every update.
    let one = get(&app, &format!("/status/incidents/{}", record.id)).await;
    assert_eq!(one.status, StatusCode::OK);
    assert!(
        one.body
            .contains("<title>Checkout errors · Acme Status</title>")
    );
    assert!(one.body.contains("We are investigating failed payments."));
    assert!(one.body.contains("This incident is ongoing."));
    assert!(!one.body.contains("<script>document.title"));
    // Unknown and malformed ids: a 404 page.
    for path in [
        format!("/status/incidents/{}", uuid::Uuid::now_v7()),
        "/status/incidents/not-an-id".to_owned(),
        "/status/incidents/%3Cscript%3E".to_owned(),
    ] {
        let missing = get(&app, &path).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            missing.headers[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(missing.body.contains("Not found"), "{}", missing.body);
        assert_eq!(
            missing.body.matches("<script").count(),
            1,
            "{}",
            missing.body
        );
    }
}

async fn history_pages_twenty_at_a_time_and_unknown_pages_are_404(app: TestApp) {
    for i in 0..25 {
        let r = app
            .core
            .open_public_incident(
                &alice(),
                OpenPublic {
                    incident_id: None,
                    name: format!("Past incident {i:02}"),
                    impact: Impact::Minor,
                    status: PublicStatus::Investigating,
                    body: "Looking.".into(),
                    components: vec!["api".into()],
                    component_status: None,
                },
            )
            .await
            .unwrap();
        app.clock.advance(Duration::minutes(10));
        app.core
            .update_public_incident(
                &alice(),
                r.id,
                PublicChange {
                    status: Some(PublicStatus::Resolved),
                    body: format!("Resolved number {i:02}."),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        app.clock.advance(Duration::minutes(50));
    }
    open_incident(&app).await; // open: not history

    let first = get(&app, "/status/history").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body.matches("Past incident").count(), 20);
    assert!(first.body.contains("Past incident 24"));
    assert!(!first.body.contains("Past incident 04"));
    assert!(!first.body.contains("Checkout errors"));
    assert!(first.body.contains("Resolved number 24."));
    assert!(first.body.contains("Page 1 of 2"));
    assert!(
        first
            .body
            .contains(r#"<a rel="next" href="/status/history?page=2">"#)
    );
    let second = get(&app, "/status/history?page=2").await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body.matches("Past incident").count(), 5);
    assert!(second.body.contains("Past incident 00"));
    assert!(
        second
            .body
            .contains(r#"<a rel="prev" href="/status/history?page=1">"#)
    );
    assert_eq!(
        get(&app, "/status/history?page=3").await.status,
        StatusCode::NOT_FOUND
    );
    for bad in ["0", "-1", "abc", "%3Cb%3E"] {
        let got = get(&app, &format!("/status/history?page={bad}")).await;
        assert_eq!(got.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(!got.body.contains("<b>"));
    }

    // The page shows uptime from the records: API had 25 × 10 min of degraded
    // performance, which counts as up.
    let page = get(&app, "/status").await;
    assert!(
        page.body
            .contains("API: 100.00 % uptime over the last 90 days"),
        "{}",
        page.body
    );
}

// ---------------------------------------------------------------------------------------
// Feeds

async fn feeds_parse_back_and_link_every_record(app: TestApp) {
    let record = open_incident(&app).await;
    app.clock.advance(Duration::minutes(1));
    app.core
        .update_public_incident(
            &alice(),
            record.id,
            PublicChange {
                status: None,
                body: "Still <b>broken</b> & \"investigating\" ]]>".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let maintenance = maintenance(&app, "Database upgrade", 3).await;
    let url = format!("http://127.0.0.1:8080/status/incidents/{}", record.id);

    let atom = get(&app, "/status/history.atom").await;
    assert_eq!(atom.status, StatusCode::OK);
    assert_eq!(
        atom.headers[header::CONTENT_TYPE],
        "application/atom+xml; charset=utf-8"
    );
    assert_eq!(atom.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(atom.headers.contains_key(header::ETAG));
    let feed = atom_syndication::Feed::read_from(atom.body.as_bytes()).expect("Atom parses back");
    assert_eq!(feed.title.value, "Acme Status – incident history");
    let titles: Vec<&str> = feed
        .entries
        .iter()
        .map(|e| e.title.value.as_str())
        .collect();
    assert_eq!(titles, ["Maintenance: Database upgrade", "Checkout errors"]);
    let entry = &feed.entries[1];
    assert_eq!(entry.id, format!("urn:uuid:{}", record.id));
    assert_eq!(entry.links[0].href, url);
    let content = entry.content.as_ref().unwrap().value.as_deref().unwrap();
    // Updates newest first, the text escaped once for HTML (the XML layer is undone by
    // the parser).
    assert!(
        content.contains("Still &lt;b&gt;broken&lt;/b&gt; &amp; &quot;investigating&quot; ]]&gt;"),
        "{content}"
    );
    assert!(content.find("Still").unwrap() < content.find("failed payments").unwrap());
    assert_eq!(
        feed.entries[0].links[0].href,
        format!("http://127.0.0.1:8080/status/incidents/{}", maintenance.id)
    );

    let rss = get(&app, "/status/history.rss").await;
    assert_eq!(rss.status, StatusCode::OK);
    assert_eq!(
        rss.headers[header::CONTENT_TYPE],
        "application/rss+xml; charset=utf-8"
    );
    let channel = rss::Channel::read_from(rss.body.as_bytes()).expect("RSS parses back");
    assert_eq!(channel.link, "http://127.0.0.1:8080/status");
    let item = channel
        .items
        .iter()
        .find(|i| i.title.as_deref() == Some("Checkout errors"))
        .expect("the incident is an item");
    assert_eq!(item.link.as_deref(), Some(url.as_str()));
    assert_eq!(
        item.guid.as_ref().map(|g| g.value.as_str()),
        Some(url.as_str())
    );
    assert_eq!(
        item.pub_date.as_deref(),
        Some("Tue, 24 Nov 2026 03:00:00 +0000")
    );
    assert!(
        item.description
            .as_deref()
            .unwrap()
            .contains("Still &lt;b&gt;broken")
    );

    // Unchanged: 304 on the feed too.
    let etag = rss.headers[header::ETAG].clone();
    let again = request(
        &app,
        Request::get("/status/history.rss")
            .header(header::IF_NONE_MATCH, etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
}

async fn uptime_moves_with_the_clock_while_nothing_changes(app: TestApp) {
    app.core
        .set_component_states(&alice(), vec![("api".into(), ComponentStatus::Operational)])
        .await
        .unwrap();
    // No change is recorded for a component already operational; a real change is.
    app.core
        .set_component_states(&alice(), vec![("api".into(), ComponentStatus::MajorOutage)])
        .await
        .unwrap();
    app.clock.advance(Duration::minutes(30));
    let before = get(&app, "/status").await;
    assert!(
        before
            .body
            .contains("API: 0.00 % uptime over the last 90 days"),
        "{}",
        before.body
    );
    app.core
        .set_component_states(&alice(), vec![("api".into(), ComponentStatus::Operational)])
        .await
        .unwrap();
    app.clock.advance(Duration::minutes(30));
    // Half of the hour down; nothing changed since the last read but the clock.
    let half = get(&app, "/status").await;
    assert!(half.body.contains("API: 50.00 % uptime"), "{}", half.body);
    app.clock.advance(Duration::minutes(60));
    let later = get(&app, "/status").await;
    assert!(later.body.contains("API: 75.00 % uptime"), "{}", later.body);
    assert_ne!(half.headers[header::ETAG], later.headers[header::ETAG]);
}

/// What depends only on stored records is kept while the page's version stays the same.
/// A change stamped older than the newest (a replica whose clock is behind) does not move
/// the page's `updated_at`, but it moves the count of changes, so it shows at once.
async fn a_change_stamped_before_the_last_one_shows_at_once(app: TestApp) {
    let start = app.clock_now();
    app.clock.advance(Duration::minutes(10));
    app.core
        .set_component_states(&alice(), vec![("api".into(), ComponentStatus::MajorOutage)])
        .await
        .unwrap();
    let website = async |app: &TestApp| {
        let summary = document(app, "summary.json").await;
        summary
            .at(&["components"])
            .items()
            .iter()
            .find(|c| c.at(&["id"]).str() == "website")
            .map(|c| c.at(&["status"]).str().to_owned())
            .unwrap()
    };
    assert_eq!(website(&app).await, "operational");
    app.clock.set(start + Duration::minutes(5));
    app.core
        .set_component_states(
            &alice(),
            vec![("website".into(), ComponentStatus::DegradedPerformance)],
        )
        .await
        .unwrap();
    // Written by a replica whose clock is behind: the page's time stays, its count of
    // changes moves, and nothing kept from before is served.
    app.clock.set(start + Duration::minutes(10));
    assert_eq!(website(&app).await, "degraded_performance");
}

async fn the_page_offers_an_e_mail_subscription_only_where_mail_can_go_out(app: TestApp) {
    // tocsin.example.toml has no [smtp]: no form, since no confirmation could be sent.
    let page = get(&app, "/status").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("action=\"/status/subscribe\""),
        "{}",
        page.body
    );

    let mut settings = (*app.core.settings).clone();
    settings.notifier_channels.push("email".into());
    let core = bot_core::Core::new(app.core.store.clone(), app.core.clock.clone(), settings);
    let router = tocsin::http::router(tocsin::http::AppState::new(core));
    let response = router
        .oneshot(Request::get("/status").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        body.contains("<form method=\"post\" action=\"/status/subscribe\">"),
        "{body}"
    );
    assert!(
        body.contains("type=\"email\" name=\"email\" required"),
        "{body}"
    );
    for id in ["checkout", "api", "website"] {
        assert!(
            body.contains(&format!("name=\"components\" value=\"{id}\"")),
            "{id} missing"
        );
    }
}
