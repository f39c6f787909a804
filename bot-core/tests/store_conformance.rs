//! The `Store` contract, checked on SQLite and PostgreSQL alike: every behaviour here runs
//! on both backends through `conformance!`, except the races at the end, which need more
//! than one writer and so are PostgreSQL's own.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bot_core::Clock;
use bot_core::model::{
    Actor, Alert, AlertFilter, AlertId, AlertKey, AlertSeverity, AlertStatus, ChannelRef,
    Directory, Incident, IncidentChange, IncidentFilter, IncidentId, IncidentStatus, IngestEvent,
    IngestOutcome, IngestResult, Job, JobState, Link, NewAlert, NewIncident, NewJob,
    NewStatusUpdate, NewTimelineEntry, Role, Service, Severity, StatusUpdate, Subject, Team,
    TimelineEntry, TimelineKind, TransitionError, TriggerOutcome, Urgency, User, Visibility,
};
use bot_core::store::{Counts, PostedMessage, Store, StoreError, no_jobs};
use chrono::{DateTime, Duration, Utc};
use common::{Backend, clock, conformance};
use serde_json::json;
use tokio::task::JoinSet;

// ---------------------------------------------------------------------------------------
// Builders

fn declare(title: &str, severity: Severity, at: DateTime<Utc>) -> NewIncident {
    NewIncident {
        id: IncidentId::new(),
        title: title.into(),
        severity,
        commander: None,
        services: vec!["checkout".into()],
        alerts: vec![],
        declared_by: "user:alice".into(),
        declared_at: at,
        idempotency_key: None,
        description: None,
    }
}

fn trigger(service: &str, key: &str, at: DateTime<Utc>) -> NewAlert {
    NewAlert {
        id: AlertId::new(),
        service: service.into(),
        source: "alertmanager".into(),
        dedup_key: key.into(),
        severity: AlertSeverity::Critical,
        urgency: Urgency::High,
        summary: format!("{key} on {service}"),
        details: json!({ "value": 97.5, "expr": "disk_used_ratio > 0.95" }),
        labels: BTreeMap::from([
            ("env".to_owned(), "prod".to_owned()),
            ("region".to_owned(), "eu-west-1".to_owned()),
        ]),
        links: vec![Link {
            href: "https://grafana.example/d/disk".into(),
            text: Some("dashboard".into()),
        }],
        at,
    }
}

fn job(kind: &str, at: DateTime<Utc>) -> NewJob {
    NewJob::new("core", kind, json!({ "kind": kind }), at)
}

fn alice() -> Actor {
    Actor::User("alice".into())
}

fn user(id: &str, name: &str, chat: &[(&str, &str)]) -> User {
    User {
        id: id.into(),
        name: name.into(),
        email: Some(format!("{id}@example.com")),
        time_zone: "Europe/Berlin".into(),
        phone: None,
        role: Role::Responder,
        chat: chat
            .iter()
            .map(|(platform, external)| ((*platform).to_owned(), (*external).to_owned()))
            .collect(),
    }
}

fn service(id: &str, team: Option<&str>) -> Service {
    Service {
        id: id.into(),
        name: id.to_uppercase(),
        description: Some(format!("the {id} service")),
        team: team.map(Into::into),
        escalation_policy: team.map(|t| format!("{t}-primary")),
    }
}

fn directory() -> Directory {
    Directory {
        users: vec![
            user("alice", "Alice", &[("slack", "U01"), ("discord", "111")]),
            user("bob", "Bob", &[("slack", "U02")]),
        ],
        teams: vec![Team {
            id: "payments".into(),
            name: "Payments".into(),
            members: vec!["alice".into(), "bob".into()],
        }],
        services: vec![
            service("checkout", Some("payments")),
            service("search", None),
        ],
    }
}

fn channel(platform: &str, id: &str) -> ChannelRef {
    ChannelRef {
        platform: platform.into(),
        channel_id: id.into(),
        name: format!("inc-1-{id}"),
    }
}

// ---------------------------------------------------------------------------------------
// Readers

/// Every job, in a stable order, for before/after comparisons.
async fn all_jobs(store: &dyn Store) -> Vec<Job> {
    let mut jobs = store.list_jobs(None, 10_000).await.unwrap();
    jobs.sort_by_key(|j| j.id);
    jobs
}

async fn incident_timeline(store: &dyn Store, id: IncidentId) -> Vec<TimelineEntry> {
    store.timeline(Subject::Incident(id)).await.unwrap()
}

async fn alert_timeline(store: &dyn Store, id: AlertId) -> Vec<TimelineEntry> {
    store.timeline(Subject::Alert(id)).await.unwrap()
}

fn kinds_and_texts(entries: &[TimelineEntry]) -> Vec<(TimelineKind, String)> {
    entries.iter().map(|e| (e.kind, e.text.clone())).collect()
}

async fn incident_numbers(store: &dyn Store, filter: IncidentFilter) -> Vec<i64> {
    let incidents = store.list_incidents(&filter).await.unwrap();
    incidents.iter().map(|i| i.number).collect()
}

async fn alert_ids(store: &dyn Store, filter: AlertFilter) -> Vec<AlertId> {
    let alerts = store.list_alerts(&filter).await.unwrap();
    alerts.iter().map(|a| a.id).collect()
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

fn assert_conflict_saying<T: std::fmt::Debug>(result: Result<T, StoreError>, says: &str) {
    match result {
        Err(StoreError::Conflict(message)) => assert!(message.contains(says), "{message}"),
        other => panic!("expected Conflict saying `{says}`, got {other:?}"),
    }
}

fn assert_transition<T: std::fmt::Debug>(result: Result<T, StoreError>, expected: TransitionError) {
    match result {
        Err(StoreError::Transition(got)) => assert_eq!(got, expected),
        other => panic!("expected Transition({expected:?}), got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Migrations and readiness

conformance!(migrating_again_is_harmless_and_the_store_stays_ready);

async fn migrating_again_is_harmless_and_the_store_stays_ready(store: Arc<dyn Store>) {
    assert!(store.ready().await.unwrap());
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert!(store.ready().await.unwrap());
    let t = clock().now();
    let first = store
        .create_incident(declare("Still works", Severity::Sev3, t), &no_jobs)
        .await
        .unwrap();
    assert_eq!(
        first.number, 1,
        "migrating again must not reset the counter"
    );
}

mod an_unmigrated_database_is_not_ready_until_migrated {
    use super::*;

    async fn check(db: common::Db) {
        assert!(!db.store.ready().await.unwrap());
        db.store.migrate().await.unwrap();
        assert!(db.store.ready().await.unwrap());
    }

    #[tokio::test]
    async fn sqlite() {
        common::on_unmigrated(Backend::Sqlite, check).await;
    }

    #[tokio::test]
    async fn postgres() {
        common::on_unmigrated(Backend::Postgres, check).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_migrating_one_database_at_once_all_succeed_on_postgres() {
    common::on_unmigrated(Backend::Postgres, |db| async move {
        let mut migrations = JoinSet::new();
        for _ in 0..3 {
            let store = db.open_again().await;
            migrations.spawn(async move { store.migrate().await });
        }
        while let Some(done) = migrations.join_next().await {
            done.unwrap().expect("every replica migrates");
        }
        assert!(db.store.ready().await.unwrap());
    })
    .await;
}

/// `sqlite::memory:` is one database per connection; the store must keep using the one
/// it migrated, for reads as for writes.
#[tokio::test]
async fn an_in_memory_sqlite_store_reads_what_it_wrote() {
    let store = bot_core::store::connect("sqlite::memory:").await.unwrap();
    assert!(!store.ready().await.unwrap());
    store.migrate().await.unwrap();
    assert!(store.ready().await.unwrap());
    let t = clock().now();
    let incident = store
        .create_incident(declare("In memory", Severity::Sev4, t), &no_jobs)
        .await
        .unwrap();
    assert_eq!(store.get_incident(incident.id).await.unwrap(), incident);
    let all = IncidentFilter {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.list_incidents(&all).await.unwrap(), [incident]);
}

#[test]
fn the_test_database_url_keeps_everything_but_the_database_name() {
    use common::with_database;
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        with_database("postgresql://u:p%2Fw@db:5433?sslmode=disable", "t2"),
        "postgresql://u:p%2Fw@db:5433/t2?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://u@db/main?dbname=main&application_name=x", "t3"),
        "postgres://u@db/t3?application_name=x"
    );
}

// ---------------------------------------------------------------------------------------
// Directory

conformance!(
    the_directory_lists_users_and_services_and_finds_users_by_chat_identity,
    replacing_the_directory_removes_what_is_gone,
    a_chat_identity_claimed_by_two_users_is_a_conflict_and_keeps_the_previous_directory,
);

async fn the_directory_lists_users_and_services_and_finds_users_by_chat_identity(
    store: Arc<dyn Store>,
) {
    let d = directory();
    store.replace_directory(&d).await.unwrap();

    assert_eq!(store.list_users().await.unwrap(), d.users);
    assert_eq!(store.get_user(&"bob".into()).await.unwrap(), d.users[1]);
    assert_eq!(store.list_services().await.unwrap(), d.services);
    assert_eq!(
        store.get_service(&"checkout".into()).await.unwrap(),
        d.services[0]
    );
    assert_eq!(
        store.user_by_chat_identity("slack", "U02").await.unwrap(),
        Some(d.users[1].clone())
    );
    assert_eq!(
        store.user_by_chat_identity("discord", "111").await.unwrap(),
        Some(d.users[0].clone())
    );
    assert_eq!(
        store.user_by_chat_identity("slack", "U99").await.unwrap(),
        None
    );
    assert_eq!(
        store.user_by_chat_identity("teams", "U01").await.unwrap(),
        None
    );
    assert_not_found(store.get_user(&"carol".into()).await);
    assert_not_found(store.get_service(&"billing".into()).await);
}

async fn replacing_the_directory_removes_what_is_gone(store: Arc<dyn Store>) {
    store.replace_directory(&directory()).await.unwrap();
    let next = Directory {
        users: vec![user("bob", "Robert", &[("slack", "U03")])],
        teams: vec![],
        services: vec![service("search", None)],
    };
    store.replace_directory(&next).await.unwrap();

    assert_eq!(store.list_users().await.unwrap(), next.users);
    assert_eq!(store.list_services().await.unwrap(), next.services);
    assert_not_found(store.get_user(&"alice".into()).await);
    assert_not_found(store.get_service(&"checkout".into()).await);
    assert_eq!(
        store.user_by_chat_identity("slack", "U01").await.unwrap(),
        None
    );
    assert_eq!(
        store.user_by_chat_identity("slack", "U02").await.unwrap(),
        None
    );
    assert_eq!(
        store.user_by_chat_identity("slack", "U03").await.unwrap(),
        Some(next.users[0].clone())
    );
}

async fn a_chat_identity_claimed_by_two_users_is_a_conflict_and_keeps_the_previous_directory(
    store: Arc<dyn Store>,
) {
    let d = directory();
    store.replace_directory(&d).await.unwrap();
    let bad = Directory {
        users: vec![
            user("carol", "Carol", &[("slack", "U07")]),
            user("dave", "Dave", &[("slack", "U07")]),
        ],
        teams: vec![],
        services: vec![service("billing", None)],
    };
    assert_conflict(store.replace_directory(&bad).await);

    assert_eq!(store.list_users().await.unwrap(), d.users);
    assert_eq!(store.list_services().await.unwrap(), d.services);
    assert_eq!(
        store.user_by_chat_identity("slack", "U01").await.unwrap(),
        Some(d.users[0].clone())
    );
    assert_eq!(
        store.user_by_chat_identity("slack", "U07").await.unwrap(),
        None
    );
}

// ---------------------------------------------------------------------------------------
// Incidents

conformance!(
    incidents_are_numbered_one_two_three_in_declaration_order,
    declaring_writes_the_incident_its_declared_entry_and_its_jobs,
    an_incident_is_found_by_id_and_by_number_and_an_unknown_one_is_not_found,
    listing_incidents_filters_by_status_severity_and_open_only,
    listing_incidents_is_newest_first_and_pages_by_number,
    several_changes_apply_together_each_with_its_timeline_entry,
    an_illegal_change_in_the_middle_rejects_the_whole_request_and_writes_nothing,
    repeating_a_change_within_one_request_is_refused_as_unchanged,
    resolving_a_resolved_incident_changes_nothing,
    changing_an_unknown_incident_is_not_found,
    linked_alerts_show_on_the_incident_in_linking_order,
    linking_an_unknown_alert_is_not_found_and_writes_nothing,
);

async fn incidents_are_numbered_one_two_three_in_declaration_order(store: Arc<dyn Store>) {
    let t = clock().now();
    let mut ids = Vec::new();
    for (n, title) in ["First", "Second", "Third"].into_iter().enumerate() {
        let incident = store
            .create_incident(declare(title, Severity::Sev3, t), &no_jobs)
            .await
            .unwrap();
        assert_eq!(incident.number, n as i64 + 1);
        assert_eq!(incident.reference(), format!("INC-{}", n + 1));
        ids.push(incident.id);
    }
    assert_eq!(store.get_incident_by_number(2).await.unwrap().id, ids[1]);
}

async fn declaring_writes_the_incident_its_declared_entry_and_its_jobs(store: Arc<dyn Store>) {
    let t = clock().now();
    let new = NewIncident {
        commander: Some("alice".into()),
        ..declare("Checkout is failing", Severity::Sev1, t)
    };
    let id = new.id;
    let incident = store
        .create_incident(new, &|i: &Incident| {
            vec![
                NewJob::new(
                    "chat:slack",
                    "chat.incident_opened",
                    json!({ "incident": i.id, "number": i.number }),
                    t,
                ),
                NewJob::new("core", "page", json!({ "number": i.number }), t),
            ]
        })
        .await
        .unwrap();

    assert_eq!(
        incident,
        Incident {
            id,
            number: 1,
            title: "Checkout is failing".into(),
            severity: Severity::Sev1,
            status: IncidentStatus::Investigating,
            commander: Some("alice".into()),
            communications_lead: None,
            responders: vec![],
            services: vec!["checkout".into()],
            alerts: vec![],
            channels: vec![],
            declared_by: "user:alice".into(),
            declared_at: t,
            updated_at: t,
            resolved_at: None,
        }
    );
    assert_eq!(store.get_incident(id).await.unwrap(), incident);

    let timeline = incident_timeline(&*store, id).await;
    assert_eq!(timeline.len(), 1);
    let declared = &timeline[0];
    assert_eq!(declared.kind, TimelineKind::Declared);
    assert_eq!(declared.text, "INC-1 declared: Checkout is failing (sev1)");
    assert_eq!(declared.actor, "user:alice");
    assert_eq!(declared.at, t);
    assert_eq!(declared.incident_id, Some(id));
    assert_eq!(declared.alert_id, None);

    let jobs = all_jobs(&*store).await;
    assert_eq!(jobs.len(), 2);
    let opened = jobs
        .iter()
        .find(|j| j.kind == "chat.incident_opened")
        .unwrap();
    assert_eq!(opened.queue, "chat:slack");
    assert_eq!(opened.payload, json!({ "incident": id, "number": 1 }));
    assert_eq!(opened.state, JobState::Queued);
    assert_eq!(opened.run_at, t);
    assert_eq!(opened.attempts, 0);
    assert_eq!(opened.max_attempts, NewJob::DEFAULT_MAX_ATTEMPTS);
    assert_eq!(opened.lease_until, None);
    assert_eq!(opened.last_error, None);
    assert_eq!(opened.created_at, t);
    assert_eq!(&store.get_job(opened.id).await.unwrap(), opened);
    let page = jobs.iter().find(|j| j.kind == "page").unwrap();
    assert_eq!(page.queue, "core");
    assert_eq!(page.payload, json!({ "number": 1 }));
}

async fn an_incident_is_found_by_id_and_by_number_and_an_unknown_one_is_not_found(
    store: Arc<dyn Store>,
) {
    let t = clock().now();
    let incident = store
        .create_incident(declare("Search is slow", Severity::Sev2, t), &no_jobs)
        .await
        .unwrap();
    assert_eq!(store.get_incident(incident.id).await.unwrap(), incident);
    assert_eq!(store.get_incident_by_number(1).await.unwrap(), incident);
    assert_not_found(store.get_incident(IncidentId::new()).await);
    assert_not_found(store.get_incident_by_number(2).await);
    assert_not_found(store.get_incident_by_number(0).await);
}

async fn listing_incidents_filters_by_status_severity_and_open_only(store: Arc<dyn Store>) {
    let t = clock().now();
    let mut ids = Vec::new();
    for severity in [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev1,
        Severity::Sev3,
    ] {
        let incident = store
            .create_incident(declare("Something broke", severity, t), &no_jobs)
            .await
            .unwrap();
        ids.push(incident.id);
    }
    let later = t + Duration::minutes(10);
    for (id, status) in [
        (ids[0], IncidentStatus::Resolved),
        (ids[2], IncidentStatus::Monitoring),
    ] {
        store
            .change_incident(
                id,
                &[IncidentChange::Status(status)],
                &alice(),
                later,
                &no_jobs,
            )
            .await
            .unwrap();
    }
    let all = IncidentFilter {
        limit: 50,
        ..Default::default()
    };
    let s = &*store;
    assert_eq!(incident_numbers(s, all.clone()).await, [4, 3, 2, 1]);
    let resolved = IncidentFilter {
        status: Some(IncidentStatus::Resolved),
        ..all.clone()
    };
    assert_eq!(incident_numbers(s, resolved).await, [1]);
    let monitoring = IncidentFilter {
        status: Some(IncidentStatus::Monitoring),
        ..all.clone()
    };
    assert_eq!(incident_numbers(s, monitoring).await, [3]);
    let sev1 = IncidentFilter {
        severity: Some(Severity::Sev1),
        ..all.clone()
    };
    assert_eq!(incident_numbers(s, sev1.clone()).await, [3, 1]);
    let open = IncidentFilter {
        open_only: true,
        ..all.clone()
    };
    assert_eq!(incident_numbers(s, open).await, [4, 3, 2]);
    let open_sev1 = IncidentFilter {
        open_only: true,
        ..sev1
    };
    assert_eq!(incident_numbers(s, open_sev1).await, [3]);
    let none = IncidentFilter {
        severity: Some(Severity::Sev4),
        ..all
    };
    assert_eq!(incident_numbers(s, none).await, Vec::<i64>::new());
}

async fn listing_incidents_is_newest_first_and_pages_by_number(store: Arc<dyn Store>) {
    let t = clock().now();
    let mut incidents = Vec::new();
    for n in 1..=5 {
        let at = t + Duration::seconds(n);
        incidents.push(
            store
                .create_incident(
                    declare(&format!("Incident {n}"), Severity::Sev3, at),
                    &no_jobs,
                )
                .await
                .unwrap(),
        );
    }
    // Links come back with listed incidents too.
    let alert = store
        .trigger_alert(trigger("checkout", "disk-full", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    let third = store
        .change_incident(
            incidents[2].id,
            &[IncidentChange::LinkAlert(alert.id)],
            &alice(),
            t + Duration::minutes(1),
            &no_jobs,
        )
        .await
        .unwrap();
    store
        .attach_channel(third.id, &channel("slack", "C3"))
        .await
        .unwrap();

    let page = |before_number, limit| IncidentFilter {
        before_number,
        limit,
        ..Default::default()
    };
    let s = &*store;
    assert_eq!(incident_numbers(s, page(None, 2)).await, [5, 4]);
    assert_eq!(incident_numbers(s, page(Some(4), 2)).await, [3, 2]);
    assert_eq!(incident_numbers(s, page(Some(2), 2)).await, [1]);
    assert_eq!(
        incident_numbers(s, page(Some(1), 2)).await,
        Vec::<i64>::new()
    );

    let listed = store.list_incidents(&page(Some(4), 1)).await.unwrap();
    assert_eq!(listed, [store.get_incident(third.id).await.unwrap()]);
    assert_eq!(listed[0].alerts, [alert.id]);
    assert_eq!(listed[0].channels, [channel("slack", "C3")]);
}

async fn several_changes_apply_together_each_with_its_timeline_entry(store: Arc<dyn Store>) {
    let t = clock().now();
    let alert = store
        .trigger_alert(trigger("checkout", "5xx", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    let incident = store
        .create_incident(declare("Checkout is failing", Severity::Sev2, t), &no_jobs)
        .await
        .unwrap();
    let at = t + Duration::minutes(5);
    let changes = [
        IncidentChange::Status(IncidentStatus::Identified),
        IncidentChange::Severity(Severity::Sev1),
        IncidentChange::Title("Checkout fails for EU cards".into()),
        IncidentChange::Commander("alice".into()),
        IncidentChange::CommunicationsLead("bob".into()),
        IncidentChange::AddResponder("carol".into()),
        IncidentChange::AddService("payments".into()),
        IncidentChange::LinkAlert(alert.id),
    ];
    let changed = store
        .change_incident(incident.id, &changes, &alice(), at, &|i: &Incident| {
            vec![NewJob::new(
                "chat:slack",
                "chat.incident_changed",
                json!({ "number": i.number, "severity": i.severity, "status": i.status }),
                at,
            )]
        })
        .await
        .unwrap();

    let expected = Incident {
        title: "Checkout fails for EU cards".into(),
        severity: Severity::Sev1,
        status: IncidentStatus::Identified,
        commander: Some("alice".into()),
        communications_lead: Some("bob".into()),
        responders: vec!["carol".into()],
        services: vec!["checkout".into(), "payments".into()],
        alerts: vec![alert.id],
        updated_at: at,
        ..incident.clone()
    };
    assert_eq!(changed, expected);
    assert_eq!(store.get_incident(incident.id).await.unwrap(), expected);

    let timeline = incident_timeline(&*store, incident.id).await;
    assert_eq!(timeline.len(), 1 + changes.len());
    assert_eq!(
        kinds_and_texts(&timeline[1..]),
        [
            (
                TimelineKind::StatusChanged,
                "Status changed from investigating to identified".to_owned()
            ),
            (
                TimelineKind::SeverityChanged,
                "Severity changed from sev2 to sev1".to_owned()
            ),
            (
                TimelineKind::TitleChanged,
                "Title changed to \"Checkout fails for EU cards\"".to_owned()
            ),
            (
                TimelineKind::RoleAssigned,
                "alice is now incident commander".to_owned()
            ),
            (
                TimelineKind::RoleAssigned,
                "bob is now communications lead".to_owned()
            ),
            (
                TimelineKind::RoleAssigned,
                "carol joined as responder".to_owned()
            ),
            (
                TimelineKind::ServiceAdded,
                "Service payments marked as affected".to_owned()
            ),
            (
                TimelineKind::AlertLinked,
                format!("Alert {} linked", alert.id)
            ),
        ]
    );
    for entry in &timeline[1..] {
        assert_eq!(entry.at, at);
        assert_eq!(entry.actor, "user:alice");
        assert_eq!(entry.incident_id, Some(incident.id));
    }

    let jobs = all_jobs(&*store).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "chat.incident_changed");
    assert_eq!(
        jobs[0].payload,
        json!({ "number": 1, "severity": "sev1", "status": "identified" })
    );
    assert_eq!(jobs[0].created_at, at);
}

async fn an_illegal_change_in_the_middle_rejects_the_whole_request_and_writes_nothing(
    store: Arc<dyn Store>,
) {
    let t = clock().now();
    let alert = store
        .trigger_alert(trigger("checkout", "5xx", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    let incident = store
        .create_incident(
            declare("Checkout is failing", Severity::Sev2, t),
            &|_: &Incident| vec![job("announce", t)],
        )
        .await
        .unwrap();
    let before = store.get_incident(incident.id).await.unwrap();
    let timeline_before = incident_timeline(&*store, incident.id).await;
    let jobs_before = all_jobs(&*store).await;

    let at = t + Duration::minutes(5);
    let result = store
        .change_incident(
            incident.id,
            &[
                IncidentChange::LinkAlert(alert.id),
                IncidentChange::Severity(Severity::Sev1),
                IncidentChange::Status(IncidentStatus::Resolved),
                IncidentChange::Severity(Severity::Sev3),
                IncidentChange::AddResponder("bob".into()),
            ],
            &alice(),
            at,
            &|_: &Incident| vec![job("should_not_exist", at)],
        )
        .await;
    assert_transition(result, TransitionError::IncidentResolved("severity"));

    assert_eq!(store.get_incident(incident.id).await.unwrap(), before);
    assert_eq!(
        incident_timeline(&*store, incident.id).await,
        timeline_before
    );
    assert_eq!(all_jobs(&*store).await, jobs_before);
    // The alert link written before the refusal was rolled back, so it can be made now.
    let linked = store
        .change_incident(
            incident.id,
            &[IncidentChange::LinkAlert(alert.id)],
            &alice(),
            at,
            &no_jobs,
        )
        .await
        .unwrap();
    assert_eq!(linked.alerts, [alert.id]);
    assert_eq!(linked.status, IncidentStatus::Investigating);
    assert_eq!(linked.severity, Severity::Sev2);
}

async fn repeating_a_change_within_one_request_is_refused_as_unchanged(store: Arc<dyn Store>) {
    let t = clock().now();
    let incident = store
        .create_incident(declare("Checkout is failing", Severity::Sev2, t), &no_jobs)
        .await
        .unwrap();
    let result = store
        .change_incident(
            incident.id,
            &[
                IncidentChange::Severity(Severity::Sev1),
                IncidentChange::Severity(Severity::Sev1),
            ],
            &alice(),
            t,
            &no_jobs,
        )
        .await;
    assert_transition(result, TransitionError::Unchanged("sev1".into()));
    assert_eq!(store.get_incident(incident.id).await.unwrap(), incident);
    assert_eq!(incident_timeline(&*store, incident.id).await.len(), 1);
}

async fn resolving_a_resolved_incident_changes_nothing(store: Arc<dyn Store>) {
    let t = clock().now();
    let incident = store
        .create_incident(declare("Checkout is failing", Severity::Sev2, t), &no_jobs)
        .await
        .unwrap();
    let resolved_at = t + Duration::minutes(42);
    let resolve = [IncidentChange::Status(IncidentStatus::Resolved)];
    let resolved = store
        .change_incident(incident.id, &resolve, &alice(), resolved_at, &no_jobs)
        .await
        .unwrap();
    assert_eq!(resolved.status, IncidentStatus::Resolved);
    assert_eq!(resolved.resolved_at, Some(resolved_at));
    assert_eq!(resolved.updated_at, resolved_at);

    let timeline_before = incident_timeline(&*store, incident.id).await;
    let jobs_before = all_jobs(&*store).await;
    let again = t + Duration::minutes(50);
    let result = store
        .change_incident(incident.id, &resolve, &alice(), again, &|_: &Incident| {
            vec![job("should_not_exist", again)]
        })
        .await;
    assert_transition(result, TransitionError::IncidentAlreadyResolved);
    assert_eq!(store.get_incident(incident.id).await.unwrap(), resolved);
    assert_eq!(
        incident_timeline(&*store, incident.id).await,
        timeline_before
    );
    assert_eq!(all_jobs(&*store).await, jobs_before);
}

async fn changing_an_unknown_incident_is_not_found(store: Arc<dyn Store>) {
    let t = clock().now();
    let result = store
        .change_incident(
            IncidentId::new(),
            &[IncidentChange::Severity(Severity::Sev1)],
            &alice(),
            t,
            &|_: &Incident| vec![job("should_not_exist", t)],
        )
        .await;
    assert_not_found(result);
    assert_eq!(all_jobs(&*store).await, []);
}

async fn linked_alerts_show_on_the_incident_in_linking_order(store: Arc<dyn Store>) {
    let t = clock().now();
    let first = store
        .trigger_alert(trigger("search", "latency", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    let second = store
        .trigger_alert(trigger("checkout", "5xx", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    let incident = store
        .create_incident(declare("Everything is slow", Severity::Sev2, t), &no_jobs)
        .await
        .unwrap();
    for (n, alert) in [second.id, first.id].into_iter().enumerate() {
        let at = t + Duration::minutes(n as i64 + 1);
        store
            .change_incident(
                incident.id,
                &[IncidentChange::LinkAlert(alert)],
                &alice(),
                at,
                &no_jobs,
            )
            .await
            .unwrap();
    }
    let linked = store.get_incident(incident.id).await.unwrap();
    assert_eq!(linked.alerts, [second.id, first.id]);
    assert_eq!(
        store.get_incident_by_number(linked.number).await.unwrap(),
        linked
    );
    let result = store
        .change_incident(
            incident.id,
            &[IncidentChange::LinkAlert(first.id)],
            &alice(),
            t,
            &no_jobs,
        )
        .await;
    assert_transition(
        result,
        TransitionError::Unchanged(format!("linked to alert {}", first.id)),
    );
}

async fn linking_an_unknown_alert_is_not_found_and_writes_nothing(store: Arc<dyn Store>) {
    let t = clock().now();
    let incident = store
        .create_incident(declare("Checkout is failing", Severity::Sev2, t), &no_jobs)
        .await
        .unwrap();
    let timeline_before = incident_timeline(&*store, incident.id).await;
    let at = t + Duration::minutes(1);
    let result = store
        .change_incident(
            incident.id,
            &[
                IncidentChange::Severity(Severity::Sev1),
                IncidentChange::LinkAlert(AlertId::new()),
            ],
            &alice(),
            at,
            &|_: &Incident| vec![job("should_not_exist", at)],
        )
        .await;
    assert_not_found(result);
    assert_eq!(store.get_incident(incident.id).await.unwrap(), incident);
    assert_eq!(
        incident_timeline(&*store, incident.id).await,
        timeline_before
    );
    assert_eq!(all_jobs(&*store).await, []);
}

// ---------------------------------------------------------------------------------------
// Incident channels

conformance!(
    an_attached_channel_leads_to_its_incident_and_attaching_it_again_is_harmless,
    a_second_channel_on_one_platform_or_another_incidents_channel_is_a_conflict,
    attaching_a_channel_to_an_unknown_incident_is_not_found,
);

async fn an_attached_channel_leads_to_its_incident_and_attaching_it_again_is_harmless(
    store: Arc<dyn Store>,
) {
    let t = clock().now();
    let incident = store
        .create_incident(declare("Checkout is failing", Severity::Sev2, t), &no_jobs)
        .await
        .unwrap();
    let slack = channel("slack", "C1");
    store.attach_channel(incident.id, &slack).await.unwrap();
    store.attach_channel(incident.id, &slack).await.unwrap();
    let discord = channel("discord", "D1");
    store.attach_channel(incident.id, &discord).await.unwrap();

    let found = store
        .incident_by_channel("slack", "C1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, incident.id);
    assert_eq!(found.channels, [discord.clone(), slack.clone()]);
    assert_eq!(store.get_incident(incident.id).await.unwrap(), found);
    assert_eq!(
        store.incident_by_channel("discord", "D1").await.unwrap(),
        Some(found)
    );
    assert_eq!(
        store.incident_by_channel("slack", "C404").await.unwrap(),
        None
    );
    assert_eq!(
        store.incident_by_channel("teams", "C1").await.unwrap(),
        None
    );
}

async fn a_second_channel_on_one_platform_or_another_incidents_channel_is_a_conflict(
    store: Arc<dyn Store>,
) {
    let t = clock().now();
    let first = store
        .create_incident(declare("Checkout is failing", Severity::Sev2, t), &no_jobs)
        .await
        .unwrap();
    let second = store
        .create_incident(declare("Search is slow", Severity::Sev3, t), &no_jobs)
        .await
        .unwrap();
    let c1 = channel("slack", "C1");
    store.attach_channel(first.id, &c1).await.unwrap();

    let second_on_slack = store
        .attach_channel(first.id, &channel("slack", "C2"))
        .await;
    assert_conflict_saying(second_on_slack, "already has a slack channel");
    let taken = store.attach_channel(second.id, &c1).await;
    assert_conflict_saying(taken, "already belongs to another incident");

    assert_eq!(store.get_incident(first.id).await.unwrap().channels, [c1]);
    assert_eq!(store.get_incident(second.id).await.unwrap().channels, []);
    assert_eq!(
        store
            .incident_by_channel("slack", "C1")
            .await
            .unwrap()
            .map(|i| i.id),
        Some(first.id)
    );
    assert_eq!(
        store.incident_by_channel("slack", "C2").await.unwrap(),
        None
    );
}

async fn attaching_a_channel_to_an_unknown_incident_is_not_found(store: Arc<dyn Store>) {
    assert_not_found(
        store
            .attach_channel(IncidentId::new(), &channel("slack", "C1"))
            .await,
    );
    assert_eq!(
        store.incident_by_channel("slack", "C1").await.unwrap(),
        None
    );
}

// ---------------------------------------------------------------------------------------
// Status updates

conformance!(
    status_updates_carry_the_incident_status_and_list_in_posting_order,
    a_status_update_for_an_unknown_incident_is_not_found_and_writes_nothing,
);

async fn status_updates_carry_the_incident_status_and_list_in_posting_order(store: Arc<dyn Store>) {
    let t = clock().now();
    let incident = store
        .create_incident(declare("Checkout is failing", Severity::Sev2, t), &no_jobs)
        .await
        .unwrap();
    let update_job = |u: &StatusUpdate| {
        vec![NewJob::new(
            "chat:slack",
            "chat.status_update",
            json!({ "update": u.id }),
            u.posted_at,
        )]
    };
    let first = store
        .post_status_update(
            NewStatusUpdate {
                incident_id: incident.id,
                text: "We are looking into failed payments.".into(),
                visibility: Visibility::Public,
                author: "user:alice".into(),
                posted_at: t + Duration::minutes(1),
            },
            &update_job,
        )
        .await
        .unwrap();
    store
        .change_incident(
            incident.id,
            &[IncidentChange::Status(IncidentStatus::Monitoring)],
            &alice(),
            t + Duration::minutes(2),
            &no_jobs,
        )
        .await
        .unwrap();
    let second = store
        .post_status_update(
            NewStatusUpdate {
                incident_id: incident.id,
                text: "A fix is deployed; watching error rates.".into(),
                visibility: Visibility::Internal,
                author: "user:bob".into(),
                posted_at: t + Duration::minutes(3),
            },
            &update_job,
        )
        .await
        .unwrap();

    assert_eq!(first.status, IncidentStatus::Investigating);
    assert_eq!(first.incident_id, incident.id);
    assert_eq!(first.visibility, Visibility::Public);
    assert_eq!(first.posted_at, t + Duration::minutes(1));
    assert_eq!(second.status, IncidentStatus::Monitoring);
    assert_eq!(
        store.status_updates(incident.id).await.unwrap(),
        [first.clone(), second.clone()]
    );
    assert_eq!(store.get_status_update(second.id).await.unwrap(), second);
    assert_not_found(store.get_status_update(uuid::Uuid::now_v7()).await);

    let timeline = incident_timeline(&*store, incident.id).await;
    let updates: Vec<&TimelineEntry> = timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::StatusUpdate)
        .collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0].text, first.text);
    assert_eq!(updates[0].actor, "user:alice");
    assert_eq!(updates[0].at, first.posted_at);
    assert_eq!(
        updates[0].data,
        json!({ "update_id": first.id, "visibility": "public" })
    );
    assert_eq!(updates[1].text, second.text);
    assert_eq!(updates[1].actor, "user:bob");

    let jobs = all_jobs(&*store).await;
    let mut payloads: Vec<_> = jobs.iter().map(|j| j.payload.clone()).collect();
    payloads.sort_by_key(|p| p.to_string());
    let mut expected = vec![
        json!({ "update": first.id }),
        json!({ "update": second.id }),
    ];
    expected.sort_by_key(|p| p.to_string());
    assert_eq!(payloads, expected);
    assert!(jobs.iter().all(|j| j.kind == "chat.status_update"));
}

async fn a_status_update_for_an_unknown_incident_is_not_found_and_writes_nothing(
    store: Arc<dyn Store>,
) {
    let t = clock().now();
    let unknown = IncidentId::new();
    let result = store
        .post_status_update(
            NewStatusUpdate {
                incident_id: unknown,
                text: "Nobody will read this.".into(),
                visibility: Visibility::Public,
                author: "user:alice".into(),
                posted_at: t,
            },
            &|_: &StatusUpdate| vec![job("should_not_exist", t)],
        )
        .await;
    assert_not_found(result);
    assert_eq!(store.status_updates(unknown).await.unwrap(), []);
    assert_eq!(all_jobs(&*store).await, []);
}

// ---------------------------------------------------------------------------------------
// Timeline

conformance!(
    timeline_entries_are_kept_per_subject_and_ordered_by_time,
    a_timeline_entry_for_an_unknown_subject_is_not_found_and_writes_nothing,
);

fn note(subject: Subject, at: DateTime<Utc>, text: &str) -> NewTimelineEntry {
    NewTimelineEntry {
        subject,
        at,
        kind: TimelineKind::Note,
        actor: "user:bob".into(),
        text: text.into(),
        data: json!({ "pinned_from": "slack" }),
    }
}

async fn timeline_entries_are_kept_per_subject_and_ordered_by_time(store: Arc<dyn Store>) {
    let t = clock().now();
    let incident = store
        .create_incident(declare("Checkout is failing", Severity::Sev2, t), &no_jobs)
        .await
        .unwrap();
    let alert = store
        .trigger_alert(trigger("checkout", "5xx", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    let on_incident = Subject::Incident(incident.id);
    let later = store
        .add_timeline_entry(
            note(on_incident, t + Duration::minutes(3), "Rolled back"),
            &|e: &TimelineEntry| vec![job("pin", e.at)],
        )
        .await
        .unwrap();
    // Written second but happened first: the timeline is ordered by when, not by writing.
    let earlier = store
        .add_timeline_entry(
            note(
                on_incident,
                t + Duration::minutes(1),
                "Deploy 1234 looks bad",
            ),
            &no_jobs,
        )
        .await
        .unwrap();
    let on_alert = store
        .add_timeline_entry(
            note(
                Subject::Alert(alert.id),
                t + Duration::minutes(2),
                "Flapping",
            ),
            &no_jobs,
        )
        .await
        .unwrap();

    assert_eq!(later.incident_id, Some(incident.id));
    assert_eq!(later.alert_id, None);
    assert_eq!(later.kind, TimelineKind::Note);
    assert_eq!(later.data, json!({ "pinned_from": "slack" }));
    assert_eq!(on_alert.alert_id, Some(alert.id));
    assert_eq!(on_alert.incident_id, None);

    let timeline = incident_timeline(&*store, incident.id).await;
    assert_eq!(timeline.len(), 3);
    assert_eq!(timeline[0].kind, TimelineKind::Declared);
    assert_eq!(timeline[1..], [earlier, later]);
    let alert_entries = alert_timeline(&*store, alert.id).await;
    assert_eq!(alert_entries.len(), 2);
    assert_eq!(alert_entries[0].kind, TimelineKind::AlertTriggered);
    assert_eq!(alert_entries[1], on_alert);

    let jobs = all_jobs(&*store).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "pin");
    assert_eq!(jobs[0].run_at, t + Duration::minutes(3));
}

async fn a_timeline_entry_for_an_unknown_subject_is_not_found_and_writes_nothing(
    store: Arc<dyn Store>,
) {
    let t = clock().now();
    for subject in [
        Subject::Incident(IncidentId::new()),
        Subject::Alert(AlertId::new()),
    ] {
        let result = store
            .add_timeline_entry(note(subject, t, "Lost"), &|_: &TimelineEntry| {
                vec![job("should_not_exist", t)]
            })
            .await;
        assert_not_found(result);
        assert_eq!(store.timeline(subject).await.unwrap(), []);
    }
    assert_eq!(all_jobs(&*store).await, []);
}

// ---------------------------------------------------------------------------------------
// Alerts

conformance!(
    a_first_trigger_opens_an_alert,
    a_repeated_trigger_folds_into_the_open_alert,
    the_jobs_closure_sees_whether_a_trigger_opened_the_alert,
    after_resolving_the_same_key_opens_a_new_alert,
    the_same_key_on_another_service_is_another_alert,
    an_acknowledged_alert_still_folds_repeated_triggers,
    acknowledging_twice_is_refused_as_already_acknowledged,
    resolving_records_who_and_when_and_resolving_again_is_refused,
    acknowledging_a_resolved_alert_is_refused_and_writes_nothing,
    an_unknown_alert_is_not_found,
    listing_alerts_filters_by_status_and_service_and_pages_newest_first,
);

async fn a_first_trigger_opens_an_alert(store: Arc<dyn Store>) {
    let t = clock().now();
    let new = trigger("checkout", "disk-full", t);
    let outcome = store.trigger_alert(new.clone(), &no_jobs).await.unwrap();
    assert!(outcome.created);
    let expected = Alert {
        id: new.id,
        service: new.service,
        source: new.source,
        dedup_key: new.dedup_key,
        severity: new.severity,
        urgency: new.urgency,
        summary: new.summary,
        details: new.details,
        labels: new.labels,
        links: new.links,
        status: AlertStatus::Open,
        event_count: 1,
        created_at: t,
        last_seen_at: t,
        acknowledged_by: None,
        acknowledged_at: None,
        resolved_by: None,
        resolved_at: None,
    };
    assert_eq!(outcome.alert, expected);
    assert_eq!(store.get_alert(new.id).await.unwrap(), expected);
    let timeline = alert_timeline(&*store, new.id).await;
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].kind, TimelineKind::AlertTriggered);
    assert_eq!(timeline[0].text, "Triggered: disk-full on checkout");
    assert_eq!(timeline[0].actor, "integration:alertmanager");
    assert_eq!(timeline[0].at, t);
}

async fn a_repeated_trigger_folds_into_the_open_alert(store: Arc<dyn Store>) {
    let t = clock().now();
    let first = store
        .trigger_alert(trigger("checkout", "disk-full", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    let again = t + Duration::seconds(30);
    let outcome = store
        .trigger_alert(trigger("checkout", "disk-full", again), &no_jobs)
        .await
        .unwrap();
    assert!(!outcome.created);
    let expected = Alert {
        event_count: 2,
        last_seen_at: again,
        ..first.clone()
    };
    assert_eq!(outcome.alert, expected);
    assert_eq!(store.get_alert(first.id).await.unwrap(), expected);
    let all = AlertFilter {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(alert_ids(&*store, all).await, [first.id]);
    let timeline = alert_timeline(&*store, first.id).await;
    assert_eq!(
        kinds_and_texts(&timeline),
        [
            (
                TimelineKind::AlertTriggered,
                "Triggered: disk-full on checkout".to_owned()
            ),
            (
                TimelineKind::AlertRepeated,
                "Triggered again (event 2)".to_owned()
            ),
        ]
    );
    assert_eq!(timeline[1].at, again);
}

async fn the_jobs_closure_sees_whether_a_trigger_opened_the_alert(store: Arc<dyn Store>) {
    let t = clock().now();
    let seen = Mutex::new(Vec::new());
    let jobs = |o: &TriggerOutcome| {
        seen.lock().unwrap().push(o.created);
        let kind = if o.created { "page" } else { "update_card" };
        vec![NewJob::new(
            "core",
            kind,
            json!({ "alert": o.alert.id, "events": o.alert.event_count }),
            t,
        )]
    };
    let first = store
        .trigger_alert(trigger("checkout", "disk-full", t), &jobs)
        .await
        .unwrap();
    store
        .trigger_alert(trigger("checkout", "disk-full", t), &jobs)
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), [true, false]);
    let mut written: Vec<(String, serde_json::Value)> = all_jobs(&*store)
        .await
        .into_iter()
        .map(|j| (j.kind, j.payload))
        .collect();
    written.sort_by(|a, b| a.0.cmp(&b.0));
    let id = first.alert.id;
    assert_eq!(
        written,
        [
            ("page".to_owned(), json!({ "alert": id, "events": 1 })),
            (
                "update_card".to_owned(),
                json!({ "alert": id, "events": 2 })
            ),
        ]
    );
}

async fn after_resolving_the_same_key_opens_a_new_alert(store: Arc<dyn Store>) {
    let t = clock().now();
    let old = store
        .trigger_alert(trigger("checkout", "disk-full", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    store
        .resolve_alert(old.id, &Actor::System, t + Duration::minutes(1), &no_jobs)
        .await
        .unwrap();
    let later = t + Duration::minutes(2);
    let outcome = store
        .trigger_alert(trigger("checkout", "disk-full", later), &no_jobs)
        .await
        .unwrap();
    assert!(outcome.created);
    assert_ne!(outcome.alert.id, old.id);
    assert_eq!(outcome.alert.event_count, 1);
    assert_eq!(outcome.alert.status, AlertStatus::Open);
    assert_eq!(outcome.alert.created_at, later);
    let old_now = store.get_alert(old.id).await.unwrap();
    assert_eq!(old_now.status, AlertStatus::Resolved);
    assert_eq!(old_now.event_count, 1);
    let all = AlertFilter {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(alert_ids(&*store, all).await, [outcome.alert.id, old.id]);
}

async fn the_same_key_on_another_service_is_another_alert(store: Arc<dyn Store>) {
    let t = clock().now();
    let checkout = store
        .trigger_alert(trigger("checkout", "disk-full", t), &no_jobs)
        .await
        .unwrap();
    let search = store
        .trigger_alert(trigger("search", "disk-full", t), &no_jobs)
        .await
        .unwrap();
    assert!(checkout.created && search.created);
    assert_ne!(checkout.alert.id, search.alert.id);
    assert_eq!(
        store
            .get_alert(checkout.alert.id)
            .await
            .unwrap()
            .event_count,
        1
    );
    assert_eq!(
        store.get_alert(search.alert.id).await.unwrap().event_count,
        1
    );
}

async fn an_acknowledged_alert_still_folds_repeated_triggers(store: Arc<dyn Store>) {
    let t = clock().now();
    let alert = store
        .trigger_alert(trigger("checkout", "disk-full", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    store
        .acknowledge_alert(alert.id, &alice(), t + Duration::minutes(1), &no_jobs)
        .await
        .unwrap();
    let outcome = store
        .trigger_alert(
            trigger("checkout", "disk-full", t + Duration::minutes(2)),
            &no_jobs,
        )
        .await
        .unwrap();
    assert!(!outcome.created);
    assert_eq!(outcome.alert.id, alert.id);
    assert_eq!(outcome.alert.status, AlertStatus::Acknowledged);
    assert_eq!(outcome.alert.event_count, 2);
}

async fn acknowledging_twice_is_refused_as_already_acknowledged(store: Arc<dyn Store>) {
    let t = clock().now();
    let alert = store
        .trigger_alert(trigger("checkout", "disk-full", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    let at = t + Duration::seconds(75);
    let acked = store
        .acknowledge_alert(alert.id, &alice(), at, &|a: &Alert| {
            vec![NewJob::new(
                "core",
                "stop_paging",
                json!({ "alert": a.id }),
                at,
            )]
        })
        .await
        .unwrap();
    let expected = Alert {
        status: AlertStatus::Acknowledged,
        acknowledged_by: Some("user:alice".into()),
        acknowledged_at: Some(at),
        ..alert.clone()
    };
    assert_eq!(acked, expected);
    assert_eq!(store.get_alert(alert.id).await.unwrap(), expected);
    let timeline = alert_timeline(&*store, alert.id).await;
    assert_eq!(
        kinds_and_texts(&timeline[1..]),
        [(
            TimelineKind::AlertAcknowledged,
            "Acknowledged by user:alice".to_owned()
        )]
    );
    let jobs = all_jobs(&*store).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload, json!({ "alert": alert.id }));

    let result = store
        .acknowledge_alert(alert.id, &Actor::User("bob".into()), at, &no_jobs)
        .await;
    assert_transition(result, TransitionError::AlertAlreadyAcknowledged);
    assert_eq!(store.get_alert(alert.id).await.unwrap(), expected);
    assert_eq!(alert_timeline(&*store, alert.id).await, timeline);
}

async fn resolving_records_who_and_when_and_resolving_again_is_refused(store: Arc<dyn Store>) {
    let t = clock().now();
    let alert = store
        .trigger_alert(trigger("checkout", "disk-full", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    let at = t + Duration::minutes(3);
    let resolved = store
        .resolve_alert(alert.id, &Actor::Token("ci".into()), at, &no_jobs)
        .await
        .unwrap();
    let expected = Alert {
        status: AlertStatus::Resolved,
        resolved_by: Some("token:ci".into()),
        resolved_at: Some(at),
        ..alert.clone()
    };
    assert_eq!(resolved, expected);
    assert_eq!(store.get_alert(alert.id).await.unwrap(), expected);
    let timeline = alert_timeline(&*store, alert.id).await;
    assert_eq!(
        kinds_and_texts(&timeline[1..]),
        [(
            TimelineKind::AlertResolved,
            "Resolved by token:ci".to_owned()
        )]
    );
    let result = store
        .resolve_alert(alert.id, &Actor::System, at, &no_jobs)
        .await;
    assert_transition(result, TransitionError::AlertAlreadyResolved);
    assert_eq!(alert_timeline(&*store, alert.id).await, timeline);
}

async fn acknowledging_a_resolved_alert_is_refused_and_writes_nothing(store: Arc<dyn Store>) {
    let t = clock().now();
    let alert = store
        .trigger_alert(trigger("checkout", "disk-full", t), &no_jobs)
        .await
        .unwrap()
        .alert;
    store
        .resolve_alert(alert.id, &Actor::System, t + Duration::minutes(1), &no_jobs)
        .await
        .unwrap();
    let before = store.get_alert(alert.id).await.unwrap();
    let timeline_before = alert_timeline(&*store, alert.id).await;
    let at = t + Duration::minutes(2);
    let result = store
        .acknowledge_alert(alert.id, &alice(), at, &|_: &Alert| {
            vec![job("should_not_exist", at)]
        })
        .await;
    assert_transition(result, TransitionError::AlertResolved);
    assert_eq!(store.get_alert(alert.id).await.unwrap(), before);
    assert_eq!(alert_timeline(&*store, alert.id).await, timeline_before);
    assert_eq!(all_jobs(&*store).await, []);
}

async fn an_unknown_alert_is_not_found(store: Arc<dyn Store>) {
    let t = clock().now();
    let unknown = AlertId::new();
    assert_not_found(store.get_alert(unknown).await);
    assert_not_found(
        store
            .acknowledge_alert(unknown, &alice(), t, &|_: &Alert| {
                vec![job("should_not_exist", t)]
            })
            .await,
    );
    assert_not_found(store.resolve_alert(unknown, &alice(), t, &no_jobs).await);
    assert_eq!(all_jobs(&*store).await, []);
}

async fn listing_alerts_filters_by_status_and_service_and_pages_newest_first(
    store: Arc<dyn Store>,
) {
    let t = clock().now();
    let mut ids = Vec::new();
    for (service, key) in [
        ("checkout", "k1"),
        ("search", "k2"),
        ("checkout", "k3"),
        ("checkout", "k4"),
        ("search", "k5"),
    ] {
        let outcome = store
            .trigger_alert(trigger(service, key, t), &no_jobs)
            .await
            .unwrap();
        ids.push(outcome.alert.id);
    }
    let [a1, a2, a3, a4, a5] = ids[..] else {
        unreachable!()
    };
    store
        .acknowledge_alert(a3, &alice(), t, &no_jobs)
        .await
        .unwrap();
    store
        .resolve_alert(a4, &alice(), t, &no_jobs)
        .await
        .unwrap();

    let all = AlertFilter {
        limit: 10,
        ..Default::default()
    };
    let s = &*store;
    assert_eq!(alert_ids(s, all.clone()).await, [a5, a4, a3, a2, a1]);
    let open = AlertFilter {
        status: Some(AlertStatus::Open),
        ..all.clone()
    };
    assert_eq!(alert_ids(s, open).await, [a5, a2, a1]);
    let checkout = AlertFilter {
        service: Some("checkout".into()),
        ..all.clone()
    };
    assert_eq!(alert_ids(s, checkout.clone()).await, [a4, a3, a1]);
    let acked_checkout = AlertFilter {
        status: Some(AlertStatus::Acknowledged),
        ..checkout.clone()
    };
    assert_eq!(alert_ids(s, acked_checkout).await, [a3]);
    let resolved_search = AlertFilter {
        status: Some(AlertStatus::Resolved),
        service: Some("search".into()),
        ..all.clone()
    };
    assert_eq!(alert_ids(s, resolved_search).await, []);

    let page = |before, limit| AlertFilter {
        before,
        limit,
        ..Default::default()
    };
    assert_eq!(alert_ids(s, page(None, 2)).await, [a5, a4]);
    assert_eq!(alert_ids(s, page(Some(a4), 2)).await, [a3, a2]);
    assert_eq!(alert_ids(s, page(Some(a2), 2)).await, [a1]);
    assert_eq!(alert_ids(s, page(Some(a1), 2)).await, []);
    let checkout_page = AlertFilter {
        before: Some(a4),
        limit: 1,
        ..checkout
    };
    assert_eq!(alert_ids(s, checkout_page).await, [a3]);
}

// ---------------------------------------------------------------------------------------
// Posted messages, API tokens, counts

conformance!(
    posted_messages_are_saved_read_back_and_overwritten,
    api_tokens_are_found_by_hash_and_their_names_are_unique,
    counts_group_alerts_and_incidents_by_status_and_jobs_by_state,
    timestamps_round_trip_to_the_microsecond,
);

async fn posted_messages_are_saved_read_back_and_overwritten(store: Arc<dyn Store>) {
    let key = "incident:1:card";
    assert_eq!(store.posted_message(key, "slack").await.unwrap(), None);
    let first = PostedMessage {
        channel_id: "C1".into(),
        message_id: "1732417200.000100".into(),
    };
    store
        .save_posted_message(key, "slack", &first)
        .await
        .unwrap();
    assert_eq!(
        store.posted_message(key, "slack").await.unwrap(),
        Some(first)
    );

    let moved = PostedMessage {
        channel_id: "C2".into(),
        message_id: "1732417260.000200".into(),
    };
    store
        .save_posted_message(key, "slack", &moved)
        .await
        .unwrap();
    let on_discord = PostedMessage {
        channel_id: "D1".into(),
        message_id: "1311".into(),
    };
    store
        .save_posted_message(key, "discord", &on_discord)
        .await
        .unwrap();
    assert_eq!(
        store.posted_message(key, "slack").await.unwrap(),
        Some(moved)
    );
    assert_eq!(
        store.posted_message(key, "discord").await.unwrap(),
        Some(on_discord)
    );
    assert_eq!(store.posted_message(key, "teams").await.unwrap(), None);
    assert_eq!(
        store
            .posted_message("incident:2:card", "slack")
            .await
            .unwrap(),
        None
    );
}

async fn api_tokens_are_found_by_hash_and_their_names_are_unique(store: Arc<dyn Store>) {
    let t = clock().now();
    let ci = store
        .create_token("ci", Role::Responder, "hash-of-ci-secret", t)
        .await
        .unwrap();
    assert_eq!(ci.name, "ci");
    assert_eq!(ci.role, Role::Responder);
    assert_eq!(ci.created_at, t);
    let ops = store
        .create_token("ops", Role::Admin, "hash-of-ops-secret", t)
        .await
        .unwrap();
    assert_ne!(ci.id, ops.id);
    assert_eq!(
        store.token_by_hash("hash-of-ci-secret").await.unwrap(),
        Some(ci.clone())
    );
    assert_eq!(
        store.token_by_hash("hash-of-ops-secret").await.unwrap(),
        Some(ops)
    );
    assert_eq!(store.token_by_hash("hash-of-nothing").await.unwrap(), None);

    assert_conflict(
        store
            .create_token("ci", Role::Admin, "hash-of-another-secret", t)
            .await,
    );
    assert_eq!(
        store.token_by_hash("hash-of-another-secret").await.unwrap(),
        None
    );
    assert_eq!(
        store.token_by_hash("hash-of-ci-secret").await.unwrap(),
        Some(ci)
    );
}

async fn counts_group_alerts_and_incidents_by_status_and_jobs_by_state(store: Arc<dyn Store>) {
    assert_eq!(store.counts().await.unwrap(), Counts::default());
    let t = clock().now();
    let first = store
        .create_incident(declare("One", Severity::Sev2, t), &|_: &Incident| {
            vec![job("announce", t)]
        })
        .await
        .unwrap();
    store
        .create_incident(declare("Two", Severity::Sev3, t), &|_: &Incident| {
            vec![job("announce", t)]
        })
        .await
        .unwrap();
    store
        .change_incident(
            first.id,
            &[IncidentChange::Status(IncidentStatus::Resolved)],
            &alice(),
            t,
            &no_jobs,
        )
        .await
        .unwrap();
    let mut alerts = Vec::new();
    for key in ["a", "b", "c", "d"] {
        let outcome = store
            .trigger_alert(trigger("checkout", key, t), &no_jobs)
            .await
            .unwrap();
        alerts.push(outcome.alert.id);
    }
    store
        .acknowledge_alert(alerts[0], &alice(), t, &no_jobs)
        .await
        .unwrap();
    store
        .resolve_alert(alerts[1], &alice(), t, &no_jobs)
        .await
        .unwrap();
    let owner = uuid::Uuid::new_v4();
    let claimed = store
        .claim_jobs(&["core".to_owned()], owner, t, t + Duration::minutes(1), 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(store.complete_job(claimed[0].id, owner, t).await.unwrap());

    let pairs = |v: &[(&str, i64)]| -> Vec<(String, i64)> {
        v.iter().map(|(s, n)| ((*s).to_owned(), *n)).collect()
    };
    assert_eq!(
        store.counts().await.unwrap(),
        Counts {
            alerts_by_status: pairs(&[("acknowledged", 1), ("open", 2), ("resolved", 1)]),
            incidents_by_status: pairs(&[("investigating", 1), ("resolved", 1)]),
            jobs_by_state: pairs(&[("done", 1), ("queued", 1)]),
            jobs_retrying: 0,
        }
    );
}

async fn timestamps_round_trip_to_the_microsecond(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    assert_eq!(t.timestamp_subsec_micros(), 123_456);
    let at = |micros: i64| t + Duration::microseconds(micros);

    let incident = store
        .create_incident(
            declare("Precise", Severity::Sev2, at(0)),
            &|_: &Incident| vec![job("precise", at(876_544))],
        )
        .await
        .unwrap();
    // A whole second is stored with no fraction at all (SQLite keeps text); it must still
    // sort before the same second with a fraction.
    let whole = chrono::SubsecRound::trunc_subsecs(t, 0);
    let update = store
        .post_status_update(
            NewStatusUpdate {
                incident_id: incident.id,
                text: "Done".into(),
                visibility: Visibility::Public,
                author: "user:alice".into(),
                posted_at: whole,
            },
            &no_jobs,
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_status_update(update.id).await.unwrap().posted_at,
        whole
    );
    store
        .change_incident(
            incident.id,
            &[IncidentChange::Status(IncidentStatus::Resolved)],
            &alice(),
            at(1_000_001),
            &no_jobs,
        )
        .await
        .unwrap();
    let stored = store.get_incident(incident.id).await.unwrap();
    assert_eq!(stored.declared_at, at(0));
    assert_eq!(stored.updated_at, at(1_000_001));
    assert_eq!(stored.resolved_at, Some(at(1_000_001)));

    let alert = store
        .trigger_alert(trigger("checkout", "precise", at(7)), &no_jobs)
        .await
        .unwrap()
        .alert;
    store
        .trigger_alert(trigger("checkout", "precise", at(999_999)), &no_jobs)
        .await
        .unwrap();
    store
        .acknowledge_alert(alert.id, &alice(), at(3_000_003), &no_jobs)
        .await
        .unwrap();
    let alert = store.get_alert(alert.id).await.unwrap();
    assert_eq!(alert.created_at, at(7));
    assert_eq!(alert.last_seen_at, at(999_999));
    assert_eq!(alert.acknowledged_at, Some(at(3_000_003)));

    let timeline = incident_timeline(&*store, incident.id).await;
    assert_eq!(
        timeline.iter().map(|e| (e.at, e.kind)).collect::<Vec<_>>(),
        [
            (whole, TimelineKind::StatusUpdate),
            (at(0), TimelineKind::Declared),
            (at(1_000_001), TimelineKind::StatusChanged),
        ]
    );
    let jobs = all_jobs(&*store).await;
    assert_eq!(jobs[0].run_at, at(876_544));
    assert_eq!(jobs[0].created_at, at(0));
    let token = store
        .create_token("precise", Role::Viewer, "hash-precise", at(11))
        .await
        .unwrap();
    assert_eq!(
        store.token_by_hash("hash-precise").await.unwrap(),
        Some(token)
    );
}

// ---------------------------------------------------------------------------------------
// Races: many writers at once. SQLite serialises its writers, PostgreSQL must get these
// right under real concurrency.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_triggers_with_one_key_fold_into_one_alert_on_postgres() {
    common::on(Backend::Postgres, |db| async move {
        let store = db.store;
        let t = clock().now();
        let mut triggers = JoinSet::new();
        for _ in 0..20 {
            let store = store.clone();
            triggers.spawn(async move {
                store
                    .trigger_alert(trigger("checkout", "disk-full", t), &no_jobs)
                    .await
            });
        }
        let mut outcomes = Vec::new();
        while let Some(done) = triggers.join_next().await {
            outcomes.push(done.unwrap().expect("every trigger succeeds"));
        }
        assert_eq!(outcomes.iter().filter(|o| o.created).count(), 1);
        let id = outcomes[0].alert.id;
        assert!(outcomes.iter().all(|o| o.alert.id == id));
        let mut counts: Vec<i64> = outcomes.iter().map(|o| o.alert.event_count).collect();
        counts.sort_unstable();
        assert_eq!(counts, (1..=20).collect::<Vec<i64>>());

        let all = AlertFilter {
            limit: 100,
            ..Default::default()
        };
        let alerts = store.list_alerts(&all).await.unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].event_count, 20);
        let timeline = alert_timeline(&*store, id).await;
        assert_eq!(timeline.len(), 20);
        let triggered = timeline
            .iter()
            .filter(|e| e.kind == TimelineKind::AlertTriggered)
            .count();
        assert_eq!(triggered, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_declarations_get_numbers_without_gaps_or_duplicates_on_postgres() {
    common::on(Backend::Postgres, |db| async move {
        let store = db.store;
        let t = clock().now();
        let mut declarations = JoinSet::new();
        for n in 0..50 {
            let store = store.clone();
            declarations.spawn(async move {
                store
                    .create_incident(declare(&format!("Race {n}"), Severity::Sev3, t), &no_jobs)
                    .await
            });
        }
        let mut numbers = Vec::new();
        while let Some(done) = declarations.join_next().await {
            let incident = done.unwrap().expect("every declaration succeeds");
            let declared = incident_timeline(&*store, incident.id).await;
            assert_eq!(
                declared[0].text,
                format!(
                    "INC-{} declared: {} (sev3)",
                    incident.number, incident.title
                )
            );
            numbers.push(incident.number);
        }
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=50).collect::<Vec<i64>>());
        let listed = IncidentFilter {
            limit: 100,
            ..Default::default()
        };
        assert_eq!(
            incident_numbers(&*store, listed).await,
            (1..=50).rev().collect::<Vec<i64>>()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_to_one_incident_lose_none_on_postgres() {
    common::on(Backend::Postgres, |db| async move {
        let store = db.store;
        let t = clock().now();
        let incident = store
            .create_incident(declare("Busy", Severity::Sev2, t), &no_jobs)
            .await
            .unwrap();
        let mut changes = JoinSet::new();
        for n in 0..10 {
            let store = store.clone();
            changes.spawn(async move {
                let responder = IncidentChange::AddResponder(format!("user{n}").into());
                store
                    .change_incident(incident.id, &[responder], &alice(), t, &no_jobs)
                    .await
            });
        }
        while let Some(done) = changes.join_next().await {
            done.unwrap().expect("every change succeeds");
        }
        let mut responders = store.get_incident(incident.id).await.unwrap().responders;
        responders.sort();
        let mut expected: Vec<_> = (0..10).map(|n| format!("user{n}").into()).collect();
        expected.sort();
        assert_eq!(responders, expected);
        assert_eq!(incident_timeline(&*store, incident.id).await.len(), 11);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_acknowledgements_succeed_once_on_postgres() {
    common::on(Backend::Postgres, |db| async move {
        let store = db.store;
        let t = clock().now();
        let alert = store
            .trigger_alert(trigger("checkout", "disk-full", t), &no_jobs)
            .await
            .unwrap()
            .alert;
        let mut acks = JoinSet::new();
        for n in 0..10 {
            let store = store.clone();
            acks.spawn(async move {
                let who = Actor::User(format!("user{n}").into());
                store.acknowledge_alert(alert.id, &who, t, &no_jobs).await
            });
        }
        let mut succeeded = 0;
        while let Some(done) = acks.join_next().await {
            match done.unwrap() {
                Ok(_) => succeeded += 1,
                Err(StoreError::Transition(TransitionError::AlertAlreadyAcknowledged)) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(succeeded, 1);
        assert_eq!(alert_timeline(&*store, alert.id).await.len(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_attachments_of_one_channel_to_its_incident_all_succeed_on_postgres() {
    common::on(Backend::Postgres, |db| async move {
        let store = db.store;
        let t = clock().now();
        // The race is between one attachment's look-up and another's insert: try often.
        for round in 0..20 {
            let incident = store
                .create_incident(declare("Busy", Severity::Sev2, t), &no_jobs)
                .await
                .unwrap();
            let c = channel("slack", &format!("C{round}"));
            let mut attachments = JoinSet::new();
            for _ in 0..8 {
                let store = store.clone();
                let c = c.clone();
                attachments.spawn(async move { store.attach_channel(incident.id, &c).await });
            }
            while let Some(done) = attachments.join_next().await {
                done.unwrap()
                    .expect("attaching is idempotent, also when racing");
            }
            assert_eq!(store.get_incident(incident.id).await.unwrap().channels, [c]);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_replacing_the_directory_at_once_all_succeed_on_postgres() {
    common::on(Backend::Postgres, |db| async move {
        let store = db.store;
        let mut replacements = JoinSet::new();
        for _ in 0..5 {
            let store = store.clone();
            replacements.spawn(async move { store.replace_directory(&directory()).await });
        }
        while let Some(done) = replacements.join_next().await {
            done.unwrap()
                .expect("every replica loads the same configuration");
        }
        assert_eq!(store.list_users().await.unwrap(), directory().users);
        assert_eq!(store.list_services().await.unwrap(), directory().services);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Ingesting batches

conformance!(a_batch_applies_its_events_in_order_in_one_transaction);

fn key_event(key: &str, at: DateTime<Utc>) -> AlertKey {
    AlertKey {
        service: "checkout".into(),
        source: "alertmanager".into(),
        dedup_key: key.into(),
        at,
    }
}

async fn a_batch_applies_its_events_in_order_in_one_transaction(store: Arc<dyn Store>) {
    let t = clock().now();
    let existing = store
        .trigger_alert(trigger("checkout", "disk", t), &no_jobs)
        .await
        .unwrap();
    let later = t + Duration::seconds(30);
    let first = trigger("checkout", "cpu", later);
    let reopened = trigger("checkout", "cpu", later);
    let batch = [
        IngestEvent::Trigger(trigger("checkout", "disk", later)), // repeat of an existing alert
        IngestEvent::Trigger(first.clone()),                      // opens
        IngestEvent::Acknowledge(key_event("cpu", later)),        // acks the one just opened
        IngestEvent::Resolve(key_event("cpu", later)),            // resolves it
        IngestEvent::Trigger(reopened.clone()), // the key is free again: opens anew
        IngestEvent::Resolve(key_event("memory", later)), // names no open alert
        IngestEvent::Acknowledge(key_event("disk", later)), // acks the existing one
        IngestEvent::Acknowledge(key_event("disk", later)), // twice: unchanged
    ];
    let seen = std::sync::Mutex::new(Vec::new());
    let jobs = |outcomes: &[IngestOutcome]| {
        seen.lock()
            .unwrap()
            .extend(outcomes.iter().map(|o| o.result));
        vec![NewJob::new("core", "test.after_batch", json!({}), later)]
    };
    let outcomes = store.ingest(&batch, &jobs).await.unwrap();
    let results: Vec<IngestResult> = outcomes.iter().map(|o| o.result).collect();
    use IngestResult::*;
    assert_eq!(
        results,
        [
            Repeated,
            Created,
            Acknowledged,
            Resolved,
            Created,
            Unchanged,
            Acknowledged,
            Unchanged
        ]
    );
    assert_eq!(
        *seen.lock().unwrap(),
        results,
        "the jobs closure sees every outcome"
    );

    let disk = store.get_alert(existing.alert.id).await.unwrap();
    assert_eq!(
        (disk.status, disk.event_count),
        (AlertStatus::Acknowledged, 2)
    );
    assert_eq!(disk.last_seen_at, later);
    let cpu = store.get_alert(first.id).await.unwrap();
    assert_eq!(cpu.status, AlertStatus::Resolved);
    assert_eq!(
        cpu.acknowledged_by.as_deref(),
        Some("integration:alertmanager")
    );
    let again = store.get_alert(reopened.id).await.unwrap();
    assert_eq!((again.status, again.event_count), (AlertStatus::Open, 1));
    let kinds =
        |entries: Vec<TimelineEntry>| entries.into_iter().map(|e| e.kind).collect::<Vec<_>>();
    assert_eq!(
        kinds(store.timeline(Subject::Alert(cpu.id)).await.unwrap()),
        [
            TimelineKind::AlertTriggered,
            TimelineKind::AlertAcknowledged,
            TimelineKind::AlertResolved
        ]
    );
    assert_eq!(
        kinds(store.timeline(Subject::Alert(disk.id)).await.unwrap()),
        [
            TimelineKind::AlertTriggered,
            TimelineKind::AlertRepeated,
            TimelineKind::AlertAcknowledged
        ]
    );
    let queued = store.list_jobs(Some(JobState::Queued), 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].kind, "test.after_batch");
}
