//! The fixed data set the report tests share (the store suite here and the binary's REST,
//! CLI and browser tests, which include this file by path): five alerts and three incidents
//! over three ISO weeks, written through the store with exact timestamps, and the figures
//! a person computes from them by hand.
//!
//! Range: Monday 2026-11-16 00:00 UTC to Monday 2026-12-07 00:00 UTC: weeks 2026-W47,
//! W48 and W49. Responders: alice in America/New_York (UTC-5 in November) on the default
//! hours Mon-Fri 09:00-17:00, i.e. 14:00-22:00 UTC; carla in Europe/Berlin (UTC+1) on
//! `Mon-Thu 08:00-16:00`, i.e. 07:00-15:00 UTC Monday to Thursday.
//!
//! | alert | service/key      | sev      | triggered (UTC)   | ack    | resolve | escalated | pages (UTC, local)                               |
//! |-------|------------------|----------|-------------------|--------|---------|-----------|--------------------------------------------------|
//! | A0    | checkout/db-down | critical | Sun 11-15 23:59   | +1 min | +2 min  | no        | none (before the range: never counted)           |
//! | A1    | checkout/db-down | critical | Mon 11-16 10:00   | 120 s  | 1800 s  | no        | alice 10:00 (05:00 NY): out                      |
//! | A2    | checkout/db-down | critical | Tue 11-17 15:00   | 300 s  | 3600 s  | level 2   | alice 15:00 (10:00 NY): in; repeat 15:01 and an  |
//! |       |                  |          |                   |        |         |           | SMS delivery: same page; carla 15:05 (16:05      |
//! |       |                  |          |                   |        |         |           | Berlin, her day ends 16:00): out                 |
//! | A3    | api/latency      | warning  | Wed 11-18 20:00   | never  | 600 s   | no        | none (also an attempt that found nobody)         |
//! | A4    | checkout/db-down | critical | Mon 11-23 09:00   | 60 s   | 1200 s  | cycle 2   | carla 09:00 (10:00 Berlin, Monday): in           |
//! | A5    | api/disk         | error    | Sat 11-28 12:00   | 600 s  | open    | no        | alice 12:00 (07:00 NY, Saturday): out            |
//!
//! A3 is triggered three times while open: one alert, three events.
//!
//! | incident | sev  | services      | declared (UTC)  | resolved | postmortem | action items |
//! |----------|------|---------------|-----------------|----------|------------|--------------|
//! | I1       | sev1 | checkout      | Tue 11-17 15:10 | 7200 s   | published  | 1 open, 1 done |
//! | I2       | sev2 | api           | Sat 11-28 12:30 | 2700 s   | draft      | 1 open       |
//! | I3       | sev3 | checkout, api | Wed 12-02 10:00 | open     | none       | none         |

#![allow(dead_code)] // each test binary uses a different part

use bot_core::model::{
    ActionItemState, Actor, AlertId, AlertSeverity, EscalationState, IncidentChange, IncidentId,
    IncidentStatus, NewActionItem, NewAlert, NewIncident, NewTimelineEntry, Postmortem,
    PostmortemStatus, Severity, Subject, TimelineKind, Urgency,
};
use bot_core::store::{Store, no_jobs};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

pub const SINCE: &str = "2026-11-16T00:00:00Z";
pub const UNTIL: &str = "2026-12-07T00:00:00Z";
/// Carla's working hours (alice has the default).
pub const CARLA_HOURS: &str = "Mon-Thu 08:00-16:00";

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a test time")
        .with_timezone(&Utc)
}

async fn alert(
    store: &dyn Store,
    service: &str,
    key: &str,
    sev: AlertSeverity,
    t: &str,
) -> AlertId {
    let out = store
        .trigger_alert(
            NewAlert {
                id: AlertId::new(),
                service: service.into(),
                source: "generic".into(),
                dedup_key: key.into(),
                severity: sev,
                urgency: Urgency::High,
                summary: format!("{service} {key}"),
                details: json!({}),
                labels: Default::default(),
                links: Vec::new(),
                at: at(t),
            },
            &no_jobs,
        )
        .await
        .expect("trigger");
    out.alert.id
}

async fn ack(store: &dyn Store, id: AlertId, t: DateTime<Utc>) {
    let who = Actor::User("alice".into());
    store
        .acknowledge_alert(id, &who, t, &no_jobs)
        .await
        .expect("ack");
}

async fn resolve(store: &dyn Store, id: AlertId, t: DateTime<Utc>) {
    let who = Actor::User("alice".into());
    store
        .resolve_alert(id, &who, t, &no_jobs)
        .await
        .expect("resolve");
}

fn page(
    id: AlertId,
    user: Option<&str>,
    t: DateTime<Utc>,
    level: i32,
    extra: serde_json::Value,
) -> NewTimelineEntry {
    let mut data = json!({ "level": level, "attempt": 1, "cycle": 0, "user": user });
    if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    NewTimelineEntry {
        subject: Subject::Alert(id),
        at: t,
        kind: TimelineKind::Paged,
        actor: "system".into(),
        text: format!("paged {user:?}"),
        data,
    }
}

/// Writes the escalation state of `id` (level and cycle counted from 0) with its pages.
async fn escalate(
    store: &dyn Store,
    id: AlertId,
    cycle: i32,
    level: i32,
    pages: Vec<NewTimelineEntry>,
    t: DateTime<Utc>,
) {
    let state = EscalationState {
        alert_id: id,
        policy: "guide".into(),
        epoch: 0,
        cycle,
        level,
        attempt: 1,
        level_started_at: t,
        running: false,
    };
    assert!(
        store
            .advance_escalation(0, &state, pages, &[], t)
            .await
            .expect("escalation")
    );
}

async fn incident(store: &dyn Store, sev: Severity, services: &[&str], t: &str) -> IncidentId {
    store
        .create_incident(
            NewIncident {
                id: IncidentId::new(),
                title: format!("{sev} on {services:?}"),
                severity: sev,
                commander: None,
                services: services.iter().map(|s| (*s).into()).collect(),
                alerts: Vec::new(),
                declared_by: "user:alice".into(),
                declared_at: at(t),
                idempotency_key: None,
                description: None,
            },
            &no_jobs,
        )
        .await
        .expect("declare")
        .id
}

async fn resolve_incident(store: &dyn Store, id: IncidentId, t: DateTime<Utc>) {
    store
        .change_incident(
            id,
            &[IncidentChange::Status(IncidentStatus::Resolved)],
            &Actor::User("alice".into()),
            t,
            &no_jobs,
        )
        .await
        .expect("resolve incident");
}

async fn postmortem(
    store: &dyn Store,
    incident: IncidentId,
    status: PostmortemStatus,
    t: DateTime<Utc>,
) {
    store
        .create_postmortem(
            Postmortem {
                id: uuid::Uuid::now_v7(),
                incident_id: incident,
                status,
                owner: None,
                sections: Vec::new(),
                timeline: Vec::new(),
                impact_started_at: None,
                impact_ended_at: None,
                meeting: None,
                created_by: "user:alice".into(),
                created_at: t,
                updated_at: t,
                published_at: (status == PostmortemStatus::Published).then_some(t),
            },
            &no_jobs,
        )
        .await
        .expect("postmortem");
}

async fn action_item(store: &dyn Store, incident: IncidentId, done: bool, t: DateTime<Utc>) {
    let item = store
        .add_action_item(
            NewActionItem {
                id: uuid::Uuid::now_v7(),
                incident_id: incident,
                title: "Add an alert on replication lag".into(),
                assignee: None,
                tracker: None,
                target: None,
                created_by: "user:alice".into(),
                created_at: t,
            },
            &no_jobs,
        )
        .await
        .expect("action item");
    if done {
        store
            .set_action_item_state(item.id, ActionItemState::Done, t, None)
            .await
            .expect("done");
    }
}

/// Writes the data set (see the module documentation).
pub async fn seed(store: &dyn Store) {
    use AlertSeverity::{Critical, Error, Warning};
    let min = Duration::minutes;
    let secs = Duration::seconds;

    let a0 = alert(
        store,
        "checkout",
        "db-down",
        Critical,
        "2026-11-15T23:59:00Z",
    )
    .await;
    ack(store, a0, at("2026-11-16T00:00:00Z")).await;
    resolve(store, a0, at("2026-11-16T00:01:00Z")).await;

    let t1 = at("2026-11-16T10:00:00Z");
    let a1 = alert(
        store,
        "checkout",
        "db-down",
        Critical,
        "2026-11-16T10:00:00Z",
    )
    .await;
    escalate(
        store,
        a1,
        0,
        0,
        vec![page(a1, Some("alice"), t1, 1, json!({}))],
        t1,
    )
    .await;
    ack(store, a1, t1 + secs(120)).await;
    resolve(store, a1, t1 + secs(1800)).await;

    let t2 = at("2026-11-17T15:00:00Z");
    let a2 = alert(
        store,
        "checkout",
        "db-down",
        Critical,
        "2026-11-17T15:00:00Z",
    )
    .await;
    let pages = vec![
        page(a2, Some("alice"), t2, 1, json!({})),
        page(a2, Some("alice"), t2 + min(1), 1, json!({ "attempt": 2 })),
        page(
            a2,
            Some("alice"),
            t2 + min(1),
            1,
            json!({ "channel": "sms", "outcome": "delivered" }),
        ),
        page(a2, Some("carla"), t2 + min(5), 2, json!({})),
    ];
    escalate(store, a2, 0, 1, pages, t2 + min(5)).await;
    ack(store, a2, t2 + secs(300)).await;
    resolve(store, a2, t2 + secs(3600)).await;

    let t3 = at("2026-11-18T20:00:00Z");
    let a3 = alert(store, "api", "latency", Warning, "2026-11-18T20:00:00Z").await;
    alert(store, "api", "latency", Warning, "2026-11-18T20:01:00Z").await;
    alert(store, "api", "latency", Warning, "2026-11-18T20:02:00Z").await;
    store
        .add_timeline_entry(page(a3, None, t3, 1, json!({})), &no_jobs)
        .await
        .expect("nobody on call");
    resolve(store, a3, t3 + secs(600)).await;

    let t4 = at("2026-11-23T09:00:00Z");
    let a4 = alert(
        store,
        "checkout",
        "db-down",
        Critical,
        "2026-11-23T09:00:00Z",
    )
    .await;
    escalate(
        store,
        a4,
        1,
        0,
        vec![page(a4, Some("carla"), t4, 1, json!({}))],
        t4,
    )
    .await;
    ack(store, a4, t4 + secs(60)).await;
    resolve(store, a4, t4 + secs(1200)).await;

    let t5 = at("2026-11-28T12:00:00Z");
    let a5 = alert(store, "api", "disk", Error, "2026-11-28T12:00:00Z").await;
    store
        .add_timeline_entry(page(a5, Some("alice"), t5, 1, json!({})), &no_jobs)
        .await
        .expect("page");
    ack(store, a5, t5 + secs(600)).await;

    let i1 = incident(store, Severity::Sev1, &["checkout"], "2026-11-17T15:10:00Z").await;
    resolve_incident(store, i1, at("2026-11-17T17:10:00Z")).await;
    postmortem(
        store,
        i1,
        PostmortemStatus::Published,
        at("2026-11-19T10:00:00Z"),
    )
    .await;
    action_item(store, i1, false, at("2026-11-19T10:00:00Z")).await;
    action_item(store, i1, true, at("2026-11-19T10:00:00Z")).await;

    let i2 = incident(store, Severity::Sev2, &["api"], "2026-11-28T12:30:00Z").await;
    resolve_incident(store, i2, at("2026-11-28T13:15:00Z")).await;
    postmortem(
        store,
        i2,
        PostmortemStatus::Draft,
        at("2026-11-29T10:00:00Z"),
    )
    .await;
    action_item(store, i2, false, at("2026-11-29T10:00:00Z")).await;

    incident(
        store,
        Severity::Sev3,
        &["checkout", "api"],
        "2026-12-02T10:00:00Z",
    )
    .await;
}
