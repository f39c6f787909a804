//! The store's action items, on SQLite and PostgreSQL: an item is written with the jobs it
//! causes or not at all; items list oldest first per incident; what a tracker says is
//! recorded without forgetting a ticket already known; a ticket key finds its item; moving
//! an item's state stamps `done_at` and writes its timeline entry once.

mod common;

use std::sync::Arc;

use bot_core::Clock;
use bot_core::model::{
    ActionItem, ActionItemState, IncidentId, NewActionItem, NewIncident, NewJob, NewTimelineEntry,
    Severity, Subject, TicketStatus, TicketUpdate, TimelineKind, Tracker,
};
use bot_core::store::{Store, StoreError, no_jobs};
use chrono::{DateTime, Duration, Utc};
use common::{clock, conformance};
use serde_json::json;
use uuid::Uuid;

conformance!(
    an_item_is_written_with_its_jobs_oldest_first_per_incident,
    an_item_for_an_unknown_incident_is_refused_and_nothing_is_written,
    ticket_updates_are_recorded_and_a_ticket_key_finds_its_item,
    a_state_change_stamps_done_at_and_writes_its_timeline_entry_once,
    unknown_items_are_not_found,
);

fn t0() -> DateTime<Utc> {
    clock().now()
}

fn minutes(n: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(n)
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

fn new_item(incident: IncidentId, title: &str, tracker: Option<Tracker>, at: i64) -> NewActionItem {
    NewActionItem {
        id: Uuid::now_v7(),
        incident_id: incident,
        title: title.into(),
        assignee: Some("bob".into()),
        tracker,
        target: tracker.map(|t| match t {
            Tracker::Github => "acme/api".to_string(),
            Tracker::Jira => "OPS".to_string(),
        }),
        created_by: "user:alice".into(),
        created_at: minutes(at),
    }
}

fn file_ticket(item: &ActionItem) -> Vec<NewJob> {
    vec![NewJob::new(
        "trackers",
        "postmortem.ticket",
        json!({ "action_item_id": item.id }),
        item.created_at,
    )]
}

async fn job_count(store: &Arc<dyn Store>) -> usize {
    store.list_jobs(None, 100_000).await.unwrap().len()
}

async fn an_item_is_written_with_its_jobs_oldest_first_per_incident(store: Arc<dyn Store>) {
    let inc = declare(&store, "Checkout is failing").await;
    let other = declare(&store, "Search is slow").await;

    let second = store
        .add_action_item(new_item(inc, "Page on queue depth", None, 2), &file_ticket)
        .await
        .unwrap();
    let first = store
        .add_action_item(
            new_item(inc, "Add a circuit breaker", Some(Tracker::Github), 1),
            &file_ticket,
        )
        .await
        .unwrap();
    store
        .add_action_item(
            new_item(other, "Tune the index", Some(Tracker::Jira), 3),
            &no_jobs,
        )
        .await
        .unwrap();

    assert_eq!(first.state, ActionItemState::Open);
    assert_eq!(first.ticket_status, TicketStatus::Pending);
    assert_eq!(second.ticket_status, TicketStatus::None);
    assert_eq!(first.target.as_deref(), Some("acme/api"));
    assert_eq!(first.assignee.as_ref().map(|u| u.as_str()), Some("bob"));
    assert_eq!(first.updated_at, minutes(1));

    let listed = store.action_items(inc).await.unwrap();
    assert_eq!(listed, vec![first.clone(), second.clone()]);
    assert_eq!(store.get_action_item(first.id).await.unwrap(), first);

    let jobs = store.list_jobs(None, 100).await.unwrap();
    let filing: Vec<_> = jobs
        .iter()
        .filter(|j| j.kind == "postmortem.ticket")
        .collect();
    assert_eq!(filing.len(), 2);
    let ids: Vec<_> = filing
        .iter()
        .map(|j| j.payload["action_item_id"].clone())
        .collect();
    assert!(ids.contains(&json!(first.id)));
    assert!(ids.contains(&json!(second.id)));
}

async fn an_item_for_an_unknown_incident_is_refused_and_nothing_is_written(store: Arc<dyn Store>) {
    let before = job_count(&store).await;
    let ghost = IncidentId::new();
    let err = store
        .add_action_item(
            new_item(ghost, "Nobody's item", Some(Tracker::Github), 0),
            &file_ticket,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(store.action_items(ghost).await.unwrap().is_empty());
    assert_eq!(job_count(&store).await, before);
}

async fn ticket_updates_are_recorded_and_a_ticket_key_finds_its_item(store: Arc<dyn Store>) {
    let inc = declare(&store, "Checkout is failing").await;
    let gh = store
        .add_action_item(
            new_item(inc, "Circuit breaker", Some(Tracker::Github), 0),
            &no_jobs,
        )
        .await
        .unwrap();
    let jira = store
        .add_action_item(new_item(inc, "Runbook", Some(Tracker::Jira), 0), &no_jobs)
        .await
        .unwrap();

    // A transient failure: still pending, with the tracker's message.
    let retrying = store
        .record_ticket(
            gh.id,
            &TicketUpdate {
                status: TicketStatus::Pending,
                key: None,
                url: None,
                state: None,
                error: Some("GitHub answered 502".into()),
            },
            minutes(1),
        )
        .await
        .unwrap();
    assert_eq!(retrying.ticket_status, TicketStatus::Pending);
    assert_eq!(
        retrying.ticket_error.as_deref(),
        Some("GitHub answered 502")
    );
    assert_eq!(retrying.updated_at, minutes(1));

    let created = store
        .record_ticket(
            gh.id,
            &TicketUpdate {
                status: TicketStatus::Created,
                key: Some("acme/api#7".into()),
                url: Some("https://github.com/acme/api/issues/7".into()),
                state: Some("open".into()),
                error: None,
            },
            minutes(2),
        )
        .await
        .unwrap();
    assert_eq!(created.ticket_status, TicketStatus::Created);
    assert_eq!(created.ticket_error, None);
    assert_eq!(store.get_action_item(gh.id).await.unwrap(), created);

    // The tracker's later word on the state keeps the key and URL.
    let closed = store
        .record_ticket(
            gh.id,
            &TicketUpdate {
                status: TicketStatus::Created,
                key: None,
                url: None,
                state: Some("closed".into()),
                error: None,
            },
            minutes(3),
        )
        .await
        .unwrap();
    assert_eq!(closed.ticket_key.as_deref(), Some("acme/api#7"));
    assert_eq!(
        closed.ticket_url.as_deref(),
        Some("https://github.com/acme/api/issues/7")
    );
    assert_eq!(closed.ticket_state.as_deref(), Some("closed"));

    let failed = store
        .record_ticket(
            jira.id,
            &TicketUpdate {
                status: TicketStatus::Failed,
                key: None,
                url: None,
                state: None,
                error: Some("Field 'summary' is required".into()),
            },
            minutes(4),
        )
        .await
        .unwrap();
    assert_eq!(failed.ticket_status, TicketStatus::Failed);
    assert_eq!(failed.title, "Runbook", "a failed item is kept");

    let found = store
        .action_item_by_ticket(Tracker::Github, "acme/api#7")
        .await
        .unwrap();
    assert_eq!(found.map(|i| i.id), Some(gh.id));
    assert_eq!(
        store
            .action_item_by_ticket(Tracker::Jira, "acme/api#7")
            .await
            .unwrap(),
        None,
        "a key belongs to one tracker"
    );
    assert_eq!(
        store
            .action_item_by_ticket(Tracker::Github, "acme/api#8")
            .await
            .unwrap(),
        None
    );

    // A second item cannot claim the same ticket.
    let other = store
        .add_action_item(
            new_item(inc, "Duplicate", Some(Tracker::Github), 5),
            &no_jobs,
        )
        .await
        .unwrap();
    let err = store
        .record_ticket(
            other.id,
            &TicketUpdate {
                status: TicketStatus::Created,
                key: Some("acme/api#7".into()),
                url: None,
                state: None,
                error: None,
            },
            minutes(6),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get_action_item(other.id).await.unwrap(), other);
}

async fn a_state_change_stamps_done_at_and_writes_its_timeline_entry_once(store: Arc<dyn Store>) {
    let inc = declare(&store, "Checkout is failing").await;
    let item = store
        .add_action_item(new_item(inc, "Circuit breaker", None, 0), &no_jobs)
        .await
        .unwrap();
    let note = |at: DateTime<Utc>, text: &str| NewTimelineEntry {
        subject: Subject::Incident(inc),
        at,
        kind: TimelineKind::Note,
        actor: "github".into(),
        text: text.into(),
        data: json!({ "action_item_id": item.id }),
    };
    let notes = |store: Arc<dyn Store>| async move {
        store
            .timeline(Subject::Incident(inc))
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == TimelineKind::Note)
            .map(|e| (e.at, e.text))
            .collect::<Vec<_>>()
    };

    let done = store
        .set_action_item_state(
            item.id,
            ActionItemState::Done,
            minutes(10),
            Some(note(minutes(10), "done")),
        )
        .await
        .unwrap();
    assert_eq!(done.state, ActionItemState::Done);
    assert_eq!(done.done_at, Some(minutes(10)));
    assert_eq!(done.updated_at, minutes(10));

    // Done again (a redelivered webhook): unchanged, no second entry.
    let again = store
        .set_action_item_state(
            item.id,
            ActionItemState::Done,
            minutes(11),
            Some(note(minutes(11), "done again")),
        )
        .await
        .unwrap();
    assert_eq!(again, done);
    assert_eq!(
        notes(store.clone()).await,
        vec![(minutes(10), "done".to_string())]
    );

    let reopened = store
        .set_action_item_state(
            item.id,
            ActionItemState::Open,
            minutes(12),
            Some(note(minutes(12), "reopened")),
        )
        .await
        .unwrap();
    assert_eq!(reopened.state, ActionItemState::Open);
    assert_eq!(reopened.done_at, None);
    assert_eq!(store.get_action_item(item.id).await.unwrap(), reopened);
    assert_eq!(
        notes(store.clone()).await,
        vec![
            (minutes(10), "done".to_string()),
            (minutes(12), "reopened".to_string())
        ]
    );
}

async fn unknown_items_are_not_found(store: Arc<dyn Store>) {
    let ghost = Uuid::now_v7();
    assert!(matches!(
        store.get_action_item(ghost).await.unwrap_err(),
        StoreError::NotFound(_)
    ));
    let update = TicketUpdate {
        status: TicketStatus::Failed,
        key: None,
        url: None,
        state: None,
        error: None,
    };
    assert!(matches!(
        store.record_ticket(ghost, &update, t0()).await.unwrap_err(),
        StoreError::NotFound(_)
    ));
    assert!(matches!(
        store
            .set_action_item_state(ghost, ActionItemState::Done, t0(), None)
            .await
            .unwrap_err(),
        StoreError::NotFound(_)
    ));
}
