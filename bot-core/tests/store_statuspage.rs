//! The store's part of the status page, on SQLite and PostgreSQL: only real component
//! changes are recorded, each with the jobs it causes; a public incident opens with its
//! first update and moves only while it is open; records list newest first with their
//! updates, a thousand at once; one subscriber per kind and target; text PostgreSQL cannot
//! hold is refused, not panicked on.

mod common;

use std::sync::Arc;

use bot_core::Clock;
use bot_core::model::{
    AffectedComponent, ComponentChange, ComponentStatus, Impact, IncidentId, NewIncident, NewJob,
    NewPublicIncident, NewPublicUpdate, NewSubscriber, PublicFilter, PublicIncident, PublicKind,
    PublicStatus, Severity, StatusPageVersion, Subscriber, SubscriberKind,
};
use bot_core::store::{Store, StoreError, no_jobs};
use chrono::{DateTime, Duration, Utc};
use common::{clock, conformance};
use serde_json::json;
use uuid::Uuid;

use ComponentStatus::{DegradedPerformance, MajorOutage, Operational, PartialOutage};

conformance!(
    only_real_component_changes_are_recorded_with_their_jobs,
    component_history_starts_each_component_in_the_state_it_entered_the_range_in,
    a_public_incident_opens_with_its_first_update_and_component_changes,
    an_internal_incident_has_at_most_one_public_incident,
    a_maintenance_starts_at_its_window_and_an_opening_status_is_stamped,
    an_update_moves_status_impact_components_and_states_together,
    closed_records_and_unexpected_statuses_refuse_updates_and_write_nothing,
    records_are_listed_newest_first_filtered_counted_and_paged,
    a_thousand_records_are_listed_with_their_updates,
    the_page_last_changed_with_its_newest_state_or_record,
    a_subscriber_is_added_once_per_kind_and_target,
    confirming_keeps_the_first_confirmation_and_removal_says_what_it_did,
    text_postgres_cannot_hold_is_refused_and_nothing_is_written,
    concurrent_writers_record_a_state_change_once,
    concurrent_openings_for_one_incident_leave_one_public_incident,
    concurrent_subscriptions_to_one_target_add_one_subscriber,
);

fn t0() -> DateTime<Utc> {
    clock().now()
}

fn minutes(n: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(n)
}

fn changes(pairs: &[(&str, ComponentStatus)]) -> Vec<(String, ComponentStatus)> {
    pairs.iter().map(|(c, s)| (c.to_string(), *s)).collect()
}

fn moved(component: &str, old: ComponentStatus, new: ComponentStatus) -> AffectedComponent {
    AffectedComponent {
        component: component.into(),
        old_status: old,
        new_status: new,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A public incident about `components`, opened investigating at `at`.
fn opening(name: &str, components: &[&str], at: DateTime<Utc>) -> NewPublicIncident {
    NewPublicIncident {
        id: Uuid::now_v7(),
        kind: PublicKind::Incident,
        incident_id: None,
        name: name.into(),
        status: PublicStatus::Investigating,
        impact: Impact::Major,
        components: strings(components),
        scheduled_for: None,
        scheduled_until: None,
        body: format!("We are looking into {name}."),
        component_changes: Vec::new(),
        author: "user:alice".into(),
        at,
    }
}

/// A maintenance of `components` announced at `at` for the window `from`..`until`.
fn maintenance(
    name: &str,
    components: &[&str],
    at: DateTime<Utc>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> NewPublicIncident {
    NewPublicIncident {
        kind: PublicKind::Maintenance,
        status: PublicStatus::Scheduled,
        impact: Impact::Maintenance,
        scheduled_for: Some(from),
        scheduled_until: Some(until),
        ..opening(name, components, at)
    }
}

fn update(id: Uuid, status: PublicStatus, body: &str, at: DateTime<Utc>) -> NewPublicUpdate {
    NewPublicUpdate {
        public_incident_id: id,
        status,
        body: body.into(),
        impact: None,
        add_components: Vec::new(),
        component_changes: Vec::new(),
        author: "user:bob".into(),
        at,
        only_from: Vec::new(),
    }
}

/// One notice job per write, naming the record and its newest update.
fn notice(p: &PublicIncident) -> Vec<NewJob> {
    vec![NewJob::new(
        "notify",
        "statuspage.notify",
        json!({ "public_incident_id": p.id, "update_id": p.updates[0].id }),
        p.updated_at,
    )]
}

/// No jobs for a component change (`no_jobs` wants a sized argument).
fn no_notices(_: &[AffectedComponent]) -> Vec<NewJob> {
    Vec::new()
}

async fn declare(store: &Arc<dyn Store>, title: &str) -> IncidentId {
    let new = NewIncident {
        id: IncidentId::new(),
        title: title.into(),
        severity: Severity::Sev2,
        commander: None,
        services: vec!["checkout".into()],
        alerts: vec![],
        declared_by: "user:alice".into(),
        declared_at: t0(),
        idempotency_key: None,
        description: None,
    };
    store.create_incident(new, &no_jobs).await.unwrap().id
}

async fn job_count(store: &Arc<dyn Store>) -> usize {
    store.list_jobs(None, 100_000).await.unwrap().len()
}

async fn only_real_component_changes_are_recorded_with_their_jobs(store: Arc<dyn Store>) {
    let notify = |affected: &[AffectedComponent]| {
        affected
            .iter()
            .map(|a| {
                NewJob::new(
                    "notify",
                    "statuspage.notify",
                    json!({ "c": a.component }),
                    t0(),
                )
            })
            .collect()
    };
    // A component never set is operational: setting it so changes nothing.
    let affected = store
        .set_component_states(
            &changes(&[("api", MajorOutage), ("web", Operational)]),
            minutes(1),
            &notify,
        )
        .await
        .unwrap();
    assert_eq!(affected, [moved("api", Operational, MajorOutage)]);
    assert_eq!(
        store.component_states().await.unwrap(),
        [("api".to_string(), MajorOutage, minutes(1))]
    );
    let jobs = store.list_jobs(None, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload, json!({ "c": "api" }));

    // Again the same: nothing recorded, the closure sees nothing, the time stays.
    let affected = store
        .set_component_states(&changes(&[("api", MajorOutage)]), minutes(2), &notify)
        .await
        .unwrap();
    assert!(affected.is_empty());
    assert_eq!(job_count(&store).await, 1);
    assert_eq!(
        store.component_states().await.unwrap(),
        [("api".to_string(), MajorOutage, minutes(1))]
    );

    // Named twice in one request: one moment, one change, to the state named last.
    let affected = store
        .set_component_states(
            &changes(&[
                ("web", PartialOutage),
                ("api", Operational),
                ("web", DegradedPerformance),
            ]),
            minutes(3),
            &no_notices,
        )
        .await
        .unwrap();
    assert_eq!(
        affected,
        [
            moved("web", Operational, DegradedPerformance),
            moved("api", MajorOutage, Operational),
        ]
    );
    assert_eq!(
        store.component_states().await.unwrap(),
        [
            ("api".to_string(), Operational, minutes(3)),
            ("web".to_string(), DegradedPerformance, minutes(3)),
        ]
    );
    let history = store.component_history(t0()).await.unwrap();
    let at = |component: &str, status, at| ComponentChange {
        component: component.into(),
        status,
        at,
    };
    assert_eq!(
        history,
        [
            at("api", MajorOutage, minutes(1)),
            at("web", DegradedPerformance, minutes(3)),
            at("api", Operational, minutes(3)),
        ]
    );

    // Nothing asked, nothing done; the closure still runs.
    let affected = store
        .set_component_states(&[], minutes(4), &|a: &[AffectedComponent]| {
            assert!(a.is_empty());
            Vec::new()
        })
        .await
        .unwrap();
    assert!(affected.is_empty());
}

async fn component_history_starts_each_component_in_the_state_it_entered_the_range_in(
    store: Arc<dyn Store>,
) {
    assert!(store.component_history(t0()).await.unwrap().is_empty());
    for (component, status, at) in [
        ("api", MajorOutage, minutes(0)),
        ("api", DegradedPerformance, minutes(10)),
        ("web", PartialOutage, minutes(20)),
        ("db", MajorOutage, minutes(30)),
        ("api", Operational, minutes(40)),
        ("web", Operational, minutes(40)),
        ("db", Operational, minutes(50)),
    ] {
        store
            .set_component_states(&changes(&[(component, status)]), at, &no_notices)
            .await
            .unwrap();
    }
    let history = store.component_history(minutes(35)).await.unwrap();
    let got: Vec<(&str, ComponentStatus, DateTime<Utc>)> = history
        .iter()
        .map(|c| (c.component.as_str(), c.status, c.at))
        .collect();
    assert_eq!(
        got,
        [
            // The state each entered the range in: the last change before it.
            ("api", DegradedPerformance, minutes(10)),
            ("web", PartialOutage, minutes(20)),
            ("db", MajorOutage, minutes(30)),
            // Then every change in it, ties in the order written.
            ("api", Operational, minutes(40)),
            ("web", Operational, minutes(40)),
            ("db", Operational, minutes(50)),
        ]
    );
    // A change exactly at `since` is in the range; the one before it still says what
    // the component entered the range in.
    let at_since = |since| {
        let store = store.clone();
        async move {
            let history = store.component_history(since).await.unwrap();
            history
                .into_iter()
                .map(|c| (c.component, c.at))
                .collect::<Vec<_>>()
        }
    };
    let entry = |c: &str, at| (c.to_string(), at);
    assert_eq!(
        at_since(minutes(40)).await,
        [
            entry("api", minutes(10)),
            entry("web", minutes(20)),
            entry("db", minutes(30)),
            entry("api", minutes(40)),
            entry("web", minutes(40)),
            entry("db", minutes(50)),
        ]
    );
    assert_eq!(
        at_since(minutes(45)).await,
        [
            entry("db", minutes(30)),
            entry("api", minutes(40)),
            entry("web", minutes(40)),
            entry("db", minutes(50)),
        ]
    );
    // After everything: each component's last state only.
    assert_eq!(store.component_history(minutes(60)).await.unwrap().len(), 3);
}

async fn a_public_incident_opens_with_its_first_update_and_component_changes(
    store: Arc<dyn Store>,
) {
    store
        .set_component_states(&changes(&[("api", PartialOutage)]), t0(), &no_notices)
        .await
        .unwrap();
    let new = NewPublicIncident {
        component_changes: changes(&[("checkout", MajorOutage), ("api", PartialOutage)]),
        ..opening("Checkout errors", &["checkout", "api"], minutes(5))
    };
    let id = new.id;
    let seen = std::sync::Mutex::new(None);
    let public = store
        .create_public_incident(new, &|p: &PublicIncident| {
            *seen.lock().unwrap() = Some(p.clone());
            notice(p)
        })
        .await
        .unwrap();
    assert_eq!(seen.into_inner().unwrap().as_ref(), Some(&public));
    assert_eq!(public.id, id);
    assert_eq!(public.kind, PublicKind::Incident);
    assert_eq!(public.status, PublicStatus::Investigating);
    assert_eq!(public.impact, Impact::Major);
    assert_eq!(public.components, ["checkout", "api"]);
    assert_eq!(
        (public.created_at, public.updated_at, public.started_at),
        (minutes(5), minutes(5), minutes(5))
    );
    assert_eq!((public.monitoring_at, public.resolved_at), (None, None));
    assert_eq!((public.scheduled_for, public.scheduled_until), (None, None));
    assert_eq!(public.updates.len(), 1);
    let first = &public.updates[0];
    assert_eq!(first.public_incident_id, id);
    assert_eq!(first.status, PublicStatus::Investigating);
    assert_eq!(first.body, "We are looking into Checkout errors.");
    assert_eq!(first.author, "user:alice");
    assert_eq!(first.created_at, minutes(5));
    // `api` was already partially out: only the real change is the update's.
    assert_eq!(
        first.affected_components,
        [moved("checkout", Operational, MajorOutage)]
    );

    assert_eq!(store.get_public_incident(id).await.unwrap(), public);
    let states = store.component_states().await.unwrap();
    assert!(states.contains(&("checkout".to_string(), MajorOutage, minutes(5))));
    assert!(states.contains(&("api".to_string(), PartialOutage, t0())));
    let jobs = store.list_jobs(None, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload["update_id"], json!(first.id));

    let err = store.get_public_incident(Uuid::now_v7()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    // The same id twice is refused, and writes nothing.
    let again = NewPublicIncident {
        id,
        ..opening("Again", &["web"], minutes(6))
    };
    let err = store
        .create_public_incident(again, &notice)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get_public_incident(id).await.unwrap(), public);
    assert_eq!(job_count(&store).await, 1);
}

async fn an_internal_incident_has_at_most_one_public_incident(store: Arc<dyn Store>) {
    let incident = declare(&store, "Checkout is failing").await;
    assert_eq!(store.public_incident_for(incident).await.unwrap(), None);
    let new = NewPublicIncident {
        incident_id: Some(incident),
        component_changes: changes(&[("checkout", MajorOutage)]),
        ..opening("Checkout errors", &["checkout"], minutes(1))
    };
    let public = store.create_public_incident(new, &notice).await.unwrap();
    assert_eq!(public.incident_id, Some(incident));
    assert_eq!(
        store.public_incident_for(incident).await.unwrap().as_ref(),
        Some(&public)
    );

    // A second one, even closed, even once the first is closed: Conflict, nothing written.
    store
        .add_public_update(
            update(public.id, PublicStatus::Resolved, "Fixed.", minutes(2)),
            &no_jobs,
        )
        .await
        .unwrap();
    let second = NewPublicIncident {
        incident_id: Some(incident),
        component_changes: changes(&[("web", MajorOutage)]),
        ..opening("Web errors", &["web"], minutes(3))
    };
    let second_id = second.id;
    let err = store
        .create_public_incident(second, &notice)
        .await
        .unwrap_err();
    match err {
        StoreError::Conflict(message) => assert_eq!(
            message,
            format!("incident {incident} already has a public incident")
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        store.get_public_incident(second_id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        !store
            .component_states()
            .await
            .unwrap()
            .iter()
            .any(|(c, _, _)| c == "web")
    );
    assert_eq!(job_count(&store).await, 1);

    // An internal incident that does not exist.
    let unknown = NewPublicIncident {
        incident_id: Some(IncidentId::new()),
        ..opening("Ghost", &[], minutes(4))
    };
    let err = store
        .create_public_incident(unknown, &notice)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    // Any number of public incidents speak for no internal one.
    for name in ["One", "Two"] {
        store
            .create_public_incident(opening(name, &[], minutes(5)), &no_jobs)
            .await
            .unwrap();
    }
}

async fn a_maintenance_starts_at_its_window_and_an_opening_status_is_stamped(
    store: Arc<dyn Store>,
) {
    let planned = store
        .create_public_incident(
            maintenance(
                "Database upgrade",
                &["db"],
                minutes(0),
                minutes(60),
                minutes(120),
            ),
            &no_jobs,
        )
        .await
        .unwrap();
    assert_eq!(planned.kind, PublicKind::Maintenance);
    assert_eq!(planned.status, PublicStatus::Scheduled);
    assert_eq!(planned.impact, Impact::Maintenance);
    assert_eq!(planned.created_at, minutes(0));
    assert_eq!(planned.started_at, minutes(60));
    assert_eq!(planned.scheduled_for, Some(minutes(60)));
    assert_eq!(planned.scheduled_until, Some(minutes(120)));
    assert!(planned.updates[0].affected_components.is_empty());

    // Without a window it starts when announced.
    let unplanned = NewPublicIncident {
        scheduled_for: None,
        scheduled_until: None,
        ..maintenance("Now", &[], minutes(1), minutes(0), minutes(0))
    };
    let unplanned = store
        .create_public_incident(unplanned, &no_jobs)
        .await
        .unwrap();
    assert_eq!(unplanned.started_at, minutes(1));

    // Opened already monitoring, or already over: stamped at once.
    let monitoring = NewPublicIncident {
        status: PublicStatus::Monitoring,
        ..opening("Slow pages", &[], minutes(2))
    };
    let monitoring = store
        .create_public_incident(monitoring, &no_jobs)
        .await
        .unwrap();
    assert_eq!(
        (monitoring.monitoring_at, monitoring.resolved_at),
        (Some(minutes(2)), None)
    );
    let after_the_fact = NewPublicIncident {
        status: PublicStatus::Resolved,
        ..opening("Earlier outage", &[], minutes(3))
    };
    let after_the_fact = store
        .create_public_incident(after_the_fact, &no_jobs)
        .await
        .unwrap();
    assert_eq!(
        (after_the_fact.monitoring_at, after_the_fact.resolved_at),
        (None, Some(minutes(3)))
    );
    assert_eq!(
        store.get_public_incident(after_the_fact.id).await.unwrap(),
        after_the_fact
    );
}

async fn an_update_moves_status_impact_components_and_states_together(store: Arc<dyn Store>) {
    let new = NewPublicIncident {
        component_changes: changes(&[("checkout", MajorOutage)]),
        ..opening("Checkout errors", &["checkout"], minutes(0))
    };
    let id = new.id;
    store.create_public_incident(new, &notice).await.unwrap();

    let identified = NewPublicUpdate {
        impact: Some(Impact::Critical),
        add_components: strings(&["api", "checkout", "web"]),
        // `checkout` is already there: not part of this update's changes.
        component_changes: changes(&[("checkout", MajorOutage), ("api", PartialOutage)]),
        ..update(id, PublicStatus::Identified, "Found it.", minutes(10))
    };
    let seen = std::sync::Mutex::new(None);
    let public = store
        .add_public_update(identified, &|p: &PublicIncident| {
            *seen.lock().unwrap() = Some(p.clone());
            notice(p)
        })
        .await
        .unwrap();
    assert_eq!(seen.into_inner().unwrap().as_ref(), Some(&public));
    assert_eq!(public.status, PublicStatus::Identified);
    assert_eq!(public.impact, Impact::Critical);
    assert_eq!(public.components, ["checkout", "api", "web"]);
    assert_eq!(public.updated_at, minutes(10));
    assert_eq!(public.created_at, minutes(0));
    assert_eq!(public.updates.len(), 2);
    let newest = &public.updates[0];
    assert_eq!(
        (newest.status, newest.body.as_str(), newest.author.as_str()),
        (PublicStatus::Identified, "Found it.", "user:bob")
    );
    assert_eq!(newest.created_at, minutes(10));
    assert_eq!(
        newest.affected_components,
        [moved("api", Operational, PartialOutage)]
    );
    assert_eq!(public.updates[1].status, PublicStatus::Investigating);

    // Monitoring is stamped the first time only; words alone keep the impact.
    let monitoring = store
        .add_public_update(
            update(id, PublicStatus::Monitoring, "Fix deployed.", minutes(20)),
            &notice,
        )
        .await
        .unwrap();
    assert_eq!(monitoring.monitoring_at, Some(minutes(20)));
    assert_eq!(monitoring.impact, Impact::Critical);
    assert!(monitoring.updates[0].affected_components.is_empty());
    store
        .add_public_update(
            update(id, PublicStatus::Identified, "Not quite.", minutes(30)),
            &notice,
        )
        .await
        .unwrap();
    let monitoring_again = store
        .add_public_update(
            update(id, PublicStatus::Monitoring, "Fixed again.", minutes(40)),
            &notice,
        )
        .await
        .unwrap();
    assert_eq!(monitoring_again.monitoring_at, Some(minutes(20)));

    // Resolving stamps it and returns the components to operational.
    let resolved = NewPublicUpdate {
        component_changes: changes(&[
            ("checkout", Operational),
            ("api", Operational),
            ("web", Operational),
        ]),
        ..update(id, PublicStatus::Resolved, "All good.", minutes(50))
    };
    let resolved = store.add_public_update(resolved, &notice).await.unwrap();
    assert_eq!(resolved.resolved_at, Some(minutes(50)));
    assert_eq!(resolved.monitoring_at, Some(minutes(20)));
    assert_eq!(
        resolved.updates[0].affected_components,
        [
            moved("checkout", MajorOutage, Operational),
            moved("api", PartialOutage, Operational),
        ]
    );
    let statuses: Vec<PublicStatus> = resolved.updates.iter().map(|u| u.status).collect();
    assert_eq!(
        statuses,
        [
            PublicStatus::Resolved,
            PublicStatus::Monitoring,
            PublicStatus::Identified,
            PublicStatus::Monitoring,
            PublicStatus::Identified,
            PublicStatus::Investigating,
        ]
    );
    assert_eq!(store.get_public_incident(id).await.unwrap(), resolved);
    // One notice per write, each naming its own update.
    let jobs = store.list_jobs(None, 100).await.unwrap();
    assert_eq!(jobs.len(), 6);
    for update in &resolved.updates {
        assert!(
            jobs.iter()
                .any(|j| j.payload["update_id"] == json!(update.id)),
            "no notice for update {}",
            update.id
        );
    }
}

async fn closed_records_and_unexpected_statuses_refuse_updates_and_write_nothing(
    store: Arc<dyn Store>,
) {
    let err = store
        .add_public_update(
            update(Uuid::now_v7(), PublicStatus::Identified, "?", minutes(1)),
            &notice,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    // A maintenance started by hand: the scheduled start finds it in progress and does
    // nothing.
    let planned = store
        .create_public_incident(
            maintenance("Upgrade", &["db"], minutes(0), minutes(60), minutes(90)),
            &no_jobs,
        )
        .await
        .unwrap();
    let by_hand = NewPublicUpdate {
        component_changes: changes(&[("db", ComponentStatus::UnderMaintenance)]),
        ..update(
            planned.id,
            PublicStatus::InProgress,
            "Starting early.",
            minutes(30),
        )
    };
    let started = store.add_public_update(by_hand, &no_jobs).await.unwrap();
    let scheduled_start = NewPublicUpdate {
        only_from: vec![PublicStatus::Scheduled],
        component_changes: changes(&[("db", MajorOutage)]),
        ..update(
            planned.id,
            PublicStatus::InProgress,
            "Starting.",
            minutes(60),
        )
    };
    let err = store
        .add_public_update(scheduled_start, &notice)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.get_public_incident(planned.id).await.unwrap(),
        started
    );
    assert_eq!(
        store.component_states().await.unwrap(),
        [(
            "db".to_string(),
            ComponentStatus::UnderMaintenance,
            minutes(30)
        )]
    );
    // Allowed from where it is: written.
    let verifying = NewPublicUpdate {
        only_from: vec![PublicStatus::Scheduled, PublicStatus::InProgress],
        ..update(
            planned.id,
            PublicStatus::Verifying,
            "Checking.",
            minutes(70),
        )
    };
    store.add_public_update(verifying, &no_jobs).await.unwrap();

    // Completed: closed for good, whatever `only_from` says.
    store
        .add_public_update(
            update(planned.id, PublicStatus::Completed, "Done.", minutes(80)),
            &no_jobs,
        )
        .await
        .unwrap();
    let closed = store.get_public_incident(planned.id).await.unwrap();
    assert_eq!(closed.resolved_at, Some(minutes(80)));
    for only_from in [vec![], vec![PublicStatus::Completed]] {
        let late = NewPublicUpdate {
            only_from,
            component_changes: changes(&[("db", MajorOutage)]),
            ..update(planned.id, PublicStatus::Completed, "More.", minutes(85))
        };
        let err = store.add_public_update(late, &notice).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }
    assert_eq!(store.get_public_incident(planned.id).await.unwrap(), closed);
    assert_eq!(
        store.component_states().await.unwrap()[0].1,
        ComponentStatus::UnderMaintenance
    );
    assert_eq!(job_count(&store).await, 0);
}

async fn records_are_listed_newest_first_filtered_counted_and_paged(store: Arc<dyn Store>) {
    let all = PublicFilter::default();
    assert!(store.list_public_incidents(&all).await.unwrap().is_empty());
    assert_eq!(store.count_public_incidents(&all).await.unwrap(), 0);

    let old = store
        .create_public_incident(opening("Old", &[], minutes(0)), &no_jobs)
        .await
        .unwrap();
    // Two at the same moment: the larger id is the newer.
    let twin_a = store
        .create_public_incident(opening("Twin A", &[], minutes(10)), &no_jobs)
        .await
        .unwrap();
    let twin_b = store
        .create_public_incident(opening("Twin B", &[], minutes(10)), &no_jobs)
        .await
        .unwrap();
    assert!(twin_b.id > twin_a.id);
    // Announced first, but its window is the latest thing on the page.
    let upcoming = store
        .create_public_incident(
            maintenance("Upgrade", &[], minutes(5), minutes(100), minutes(120)),
            &no_jobs,
        )
        .await
        .unwrap();
    // Announced last, for a window that already passed.
    let past = store
        .create_public_incident(
            maintenance("Past", &[], minutes(20), minutes(1), minutes(2)),
            &no_jobs,
        )
        .await
        .unwrap();
    store
        .add_public_update(
            update(old.id, PublicStatus::Resolved, "Fixed.", minutes(30)),
            &no_jobs,
        )
        .await
        .unwrap();
    let old = store.get_public_incident(old.id).await.unwrap();

    let names = |records: &[PublicIncident]| -> Vec<String> {
        records.iter().map(|r| r.name.clone()).collect()
    };
    let listed = store.list_public_incidents(&all).await.unwrap();
    assert_eq!(
        names(&listed),
        ["Upgrade", "Twin B", "Twin A", "Past", "Old"]
    );
    // With their updates, as a single read would give them.
    assert_eq!(listed[4], old);
    assert_eq!(listed[0], upcoming);
    assert_eq!(listed[3], past);
    assert_eq!(store.count_public_incidents(&all).await.unwrap(), 5);

    let incidents = PublicFilter {
        kind: Some(PublicKind::Incident),
        ..PublicFilter::default()
    };
    assert_eq!(
        names(&store.list_public_incidents(&incidents).await.unwrap()),
        ["Twin B", "Twin A", "Old"]
    );
    let open_incidents = PublicFilter {
        statuses: vec![PublicStatus::Investigating, PublicStatus::Identified],
        ..incidents.clone()
    };
    assert_eq!(
        names(&store.list_public_incidents(&open_incidents).await.unwrap()),
        ["Twin B", "Twin A"]
    );
    let scheduled = PublicFilter {
        kind: Some(PublicKind::Maintenance),
        statuses: vec![PublicStatus::Scheduled],
        ..PublicFilter::default()
    };
    assert_eq!(store.count_public_incidents(&scheduled).await.unwrap(), 2);
    let closed = PublicFilter {
        statuses: vec![PublicStatus::Resolved, PublicStatus::Completed],
        ..PublicFilter::default()
    };
    assert_eq!(
        names(&store.list_public_incidents(&closed).await.unwrap()),
        ["Old"]
    );

    // Pages: the count ignores limit and offset; no limit with an offset is the rest.
    let page = |limit, offset| PublicFilter {
        limit,
        offset,
        ..PublicFilter::default()
    };
    assert_eq!(
        names(&store.list_public_incidents(&page(2, 0)).await.unwrap()),
        ["Upgrade", "Twin B"]
    );
    assert_eq!(
        names(&store.list_public_incidents(&page(2, 2)).await.unwrap()),
        ["Twin A", "Past"]
    );
    assert_eq!(
        names(&store.list_public_incidents(&page(2, 4)).await.unwrap()),
        ["Old"]
    );
    assert!(
        store
            .list_public_incidents(&page(2, 6))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        names(&store.list_public_incidents(&page(0, 3)).await.unwrap()),
        ["Past", "Old"]
    );
    assert_eq!(
        names(&store.list_public_incidents(&page(-1, 0)).await.unwrap()).len(),
        5
    );
    assert_eq!(store.count_public_incidents(&page(2, 4)).await.unwrap(), 5);
}

async fn a_thousand_records_are_listed_with_their_updates(store: Arc<dyn Store>) {
    const RECORDS: i64 = 1_000;
    let mut expected = Vec::new();
    for n in 0..RECORDS {
        let mut public = store
            .create_public_incident(
                opening(&format!("Record {n}"), &["api"], minutes(n)),
                &no_jobs,
            )
            .await
            .unwrap();
        // Every third has a second update, every ninth a third.
        for (every, status) in [(3, PublicStatus::Identified), (9, PublicStatus::Resolved)] {
            if n % every == 0 {
                public = store
                    .add_public_update(
                        update(public.id, status, &format!("{status} {n}"), minutes(n)),
                        &no_jobs,
                    )
                    .await
                    .unwrap();
            }
        }
        expected.push(public);
    }
    expected.reverse();

    let listed = store
        .list_public_incidents(&PublicFilter::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), expected.len());
    for (got, want) in listed.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    assert_eq!(
        listed.iter().map(|r| r.updates.len()).sum::<usize>(),
        (RECORDS + RECORDS.div_euclid(3) + 1 + RECORDS.div_euclid(9) + 1) as usize
    );
    // How fast it lists is measured by benches/statuspage.rs, not asserted here.
}

async fn the_page_last_changed_with_its_newest_state_or_record(store: Arc<dyn Store>) {
    let version = async || store.status_page_version().await.unwrap();
    let at = |m: i64, changes: i64| StatusPageVersion {
        updated_at: Some(minutes(m)),
        changes,
    };
    assert_eq!(version().await, StatusPageVersion::default());
    store
        .set_component_states(&changes(&[("api", MajorOutage)]), minutes(5), &no_notices)
        .await
        .unwrap();
    assert_eq!(version().await, at(5, 1));
    // A no-op change is not a change.
    store
        .set_component_states(&changes(&[("api", MajorOutage)]), minutes(6), &no_notices)
        .await
        .unwrap();
    assert_eq!(version().await, at(5, 1));
    let public = store
        .create_public_incident(opening("API errors", &["api"], minutes(10)), &no_jobs)
        .await
        .unwrap();
    assert_eq!(
        version().await,
        at(10, 2),
        "a record comes with its first update"
    );
    store
        .add_public_update(
            update(
                public.id,
                PublicStatus::Identified,
                "Found it.",
                minutes(15),
            ),
            &no_jobs,
        )
        .await
        .unwrap();
    assert_eq!(version().await, at(15, 3));
    store
        .set_component_states(&changes(&[("api", Operational)]), minutes(20), &no_notices)
        .await
        .unwrap();
    assert_eq!(version().await, at(20, 4));
    // A change stamped before the newest (a replica whose clock is behind) leaves the time
    // but still counts.
    store
        .set_component_states(
            &changes(&[("web", PartialOutage)]),
            minutes(18),
            &no_notices,
        )
        .await
        .unwrap();
    assert_eq!(version().await, at(20, 5));
    // Subscribers are not on the page.
    store
        .add_subscriber(subscriber("a@example.com", minutes(30)), &no_jobs)
        .await
        .unwrap();
    assert_eq!(version().await, at(20, 5));
}

fn subscriber(address: &str, at: DateTime<Utc>) -> NewSubscriber {
    NewSubscriber {
        id: Uuid::now_v7(),
        kind: SubscriberKind::Email,
        target: address.into(),
        components: Vec::new(),
        at,
        confirmed: false,
    }
}

async fn a_subscriber_is_added_once_per_kind_and_target(store: Arc<dyn Store>) {
    let confirm = |s: &Subscriber| {
        vec![NewJob::new(
            "notify",
            "statuspage.confirm",
            json!({ "subscriber_id": s.id }),
            s.created_at,
        )]
    };
    let new = NewSubscriber {
        components: strings(&["api"]),
        ..subscriber("ops@example.com", minutes(1))
    };
    let (alice, added) = store.add_subscriber(new.clone(), &confirm).await.unwrap();
    assert!(added);
    assert_eq!(
        alice,
        Subscriber {
            id: new.id,
            kind: SubscriberKind::Email,
            target: "ops@example.com".into(),
            components: strings(&["api"]),
            created_at: minutes(1),
            confirmed_at: None,
        }
    );
    let jobs = store.list_jobs(None, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload, json!({ "subscriber_id": alice.id }));

    // The same address again, with other components: the first one, unchanged, no jobs.
    let again = NewSubscriber {
        components: strings(&["web"]),
        confirmed: true,
        ..subscriber("ops@example.com", minutes(2))
    };
    let (found, added) = store.add_subscriber(again, &confirm).await.unwrap();
    assert!(!added);
    assert_eq!(found, alice);
    assert_eq!(job_count(&store).await, 1);

    // The same target of another kind is another subscriber; the others start confirmed.
    let hook = NewSubscriber {
        kind: SubscriberKind::Webhook,
        confirmed: true,
        ..subscriber("ops@example.com", minutes(3))
    };
    let (hook, added) = store.add_subscriber(hook, &no_jobs).await.unwrap();
    assert!(added);
    assert_eq!(hook.confirmed_at, Some(minutes(3)));
    let chat = NewSubscriber {
        kind: SubscriberKind::Chat,
        confirmed: true,
        ..subscriber("slack:C0123", minutes(0))
    };
    let (chat, _) = store.add_subscriber(chat, &no_jobs).await.unwrap();

    assert_eq!(store.get_subscriber(hook.id).await.unwrap(), hook);
    // Oldest first; only the confirmed when asked.
    assert_eq!(
        store.list_subscribers(false).await.unwrap(),
        [chat.clone(), alice.clone(), hook.clone()]
    );
    assert_eq!(store.list_subscribers(true).await.unwrap(), [chat, hook]);

    // Another subscriber with an id already taken: refused.
    let clash = NewSubscriber {
        id: alice.id,
        ..subscriber("other@example.com", minutes(4))
    };
    let err = store.add_subscriber(clash, &confirm).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(job_count(&store).await, 1);
}

async fn confirming_keeps_the_first_confirmation_and_removal_says_what_it_did(
    store: Arc<dyn Store>,
) {
    let (sub, _) = store
        .add_subscriber(subscriber("a@example.com", minutes(0)), &no_jobs)
        .await
        .unwrap();
    assert!(store.list_subscribers(true).await.unwrap().is_empty());
    let confirmed = store.confirm_subscriber(sub.id, minutes(5)).await.unwrap();
    assert_eq!(confirmed.confirmed_at, Some(minutes(5)));
    // Following the link twice keeps the first time.
    let again = store.confirm_subscriber(sub.id, minutes(9)).await.unwrap();
    assert_eq!(again.confirmed_at, Some(minutes(5)));
    assert_eq!(store.list_subscribers(true).await.unwrap(), [again]);

    let unknown = Uuid::now_v7();
    assert!(matches!(
        store.confirm_subscriber(unknown, minutes(5)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_subscriber(unknown).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.remove_subscriber(sub.id).await.unwrap());
    assert!(!store.remove_subscriber(sub.id).await.unwrap());
    assert!(store.list_subscribers(false).await.unwrap().is_empty());
    assert!(matches!(
        store.get_subscriber(sub.id).await,
        Err(StoreError::NotFound(_))
    ));
    // Gone, the address may subscribe anew.
    let (_, added) = store
        .add_subscriber(subscriber("a@example.com", minutes(10)), &no_jobs)
        .await
        .unwrap();
    assert!(added);
}

/// PostgreSQL refuses NUL in text (and in JSON strings): Unstorable, with the whole change
/// rolled back. SQLite keeps such text; either way nothing panics.
async fn text_postgres_cannot_hold_is_refused_and_nothing_is_written(store: Arc<dyn Store>) {
    let postgres = store.backend() == "postgres";
    let refused = |result: Result<(), StoreError>, what: &str| match result {
        Err(StoreError::Unstorable(_)) if postgres => {}
        Ok(()) if !postgres => {}
        other => panic!("{what} on {}: {other:?}", store.backend()),
    };

    let in_body = NewPublicIncident {
        body: "before\0after".into(),
        component_changes: changes(&[("api", MajorOutage)]),
        ..opening("NUL in the body", &["api"], minutes(1))
    };
    let result = store.create_public_incident(in_body, &notice).await;
    refused(result.map(|_| ()), "a NUL in a first update");
    let in_component = NewPublicIncident {
        component_changes: changes(&[("web", MajorOutage)]),
        ..opening("NUL in a component", &["we\0b"], minutes(2))
    };
    let result = store.create_public_incident(in_component, &notice).await;
    refused(result.map(|_| ()), "a NUL in the component list");
    let result = store
        .set_component_states(&changes(&[("d\0b", MajorOutage)]), minutes(3), &no_notices)
        .await;
    refused(result.map(|_| ()), "a NUL in a component id");

    let public = store
        .create_public_incident(opening("Clean", &[], minutes(4)), &no_jobs)
        .await
        .unwrap();
    let nul_update = NewPublicUpdate {
        component_changes: changes(&[("cdn", MajorOutage)]),
        ..update(public.id, PublicStatus::Identified, "x\0y", minutes(5))
    };
    let result = store.add_public_update(nul_update, &notice).await;
    refused(result.map(|_| ()), "a NUL in an update");
    let result = store
        .add_subscriber(subscriber("a\0@example.com", minutes(6)), &no_jobs)
        .await;
    refused(result.map(|_| ()), "a NUL in an address");

    if postgres {
        assert!(store.component_states().await.unwrap().is_empty());
        assert_eq!(
            store.get_public_incident(public.id).await.unwrap(),
            public,
            "the failed update left the record as it was"
        );
        assert_eq!(
            store
                .count_public_incidents(&PublicFilter::default())
                .await
                .unwrap(),
            1
        );
        assert!(store.list_subscribers(false).await.unwrap().is_empty());
        assert_eq!(job_count(&store).await, 0);
    }
}

async fn concurrent_writers_record_a_state_change_once(store: Arc<dyn Store>) {
    let public = store
        .create_public_incident(opening("API errors", &["api"], minutes(0)), &no_jobs)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            if n % 2 == 0 {
                store
                    .set_component_states(
                        &changes(&[("api", MajorOutage)]),
                        minutes(1),
                        &no_notices,
                    )
                    .await
                    .unwrap()
            } else {
                let new = NewPublicUpdate {
                    component_changes: changes(&[("api", MajorOutage)]),
                    ..update(public.id, PublicStatus::Identified, "Same.", minutes(1))
                };
                let p = store.add_public_update(new, &no_jobs).await.unwrap();
                p.updates[0].affected_components.clone()
            }
        }));
    }
    let mut changed = 0;
    for task in tasks {
        changed += task.await.unwrap().len();
    }
    assert_eq!(changed, 1, "exactly one writer saw the change");
    assert_eq!(store.component_history(t0()).await.unwrap().len(), 1);
    assert_eq!(
        store
            .get_public_incident(public.id)
            .await
            .unwrap()
            .updates
            .len(),
        5
    );
}

async fn concurrent_openings_for_one_incident_leave_one_public_incident(store: Arc<dyn Store>) {
    let incident = declare(&store, "Checkout is failing").await;
    let mut tasks = Vec::new();
    for n in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let new = NewPublicIncident {
                incident_id: Some(incident),
                ..opening(&format!("Attempt {n}"), &[], minutes(1))
            };
            store.create_public_incident(new, &notice).await
        }));
    }
    let mut opened = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => opened += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(opened, 1);
    assert_eq!(
        store
            .count_public_incidents(&PublicFilter::default())
            .await
            .unwrap(),
        1
    );
    assert_eq!(job_count(&store).await, 1);
}

async fn concurrent_subscriptions_to_one_target_add_one_subscriber(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .add_subscriber(
                    subscriber("ops@example.com", minutes(1)),
                    &|s: &Subscriber| {
                        vec![NewJob::new(
                            "notify",
                            "statuspage.confirm",
                            json!({ "subscriber_id": s.id }),
                            s.created_at,
                        )]
                    },
                )
                .await
                .unwrap()
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    assert_eq!(results.iter().filter(|(_, added)| *added).count(), 1);
    let first = &results.iter().find(|(_, added)| *added).unwrap().0;
    assert!(results.iter().all(|(s, _)| s == first));
    assert_eq!(store.list_subscribers(false).await.unwrap().len(), 1);
    assert_eq!(job_count(&store).await, 1);
}
