//! The store's part of postmortems, on SQLite and PostgreSQL: one postmortem per incident,
//! written with its jobs; an edit reads, changes and writes the document in one transaction
//! with the row locked, so concurrent edits keep each other's changes and a refused change
//! writes nothing.

mod common;

use std::sync::Arc;

use bot_core::Clock;
use bot_core::model::{
    IncidentId, NewIncident, NewJob, Postmortem, PostmortemMeeting, PostmortemSection,
    PostmortemStatus, PostmortemTimelineItem, Severity, TimelineKind,
};
use bot_core::store::{Store, StoreError, no_jobs};
use chrono::{DateTime, Duration, Utc};
use common::{clock, conformance};
use serde_json::json;
use uuid::Uuid;

conformance!(
    a_postmortem_is_stored_whole_and_found_by_id_and_incident,
    an_incident_has_one_postmortem_and_an_unknown_incident_none,
    an_edit_applies_its_change_stamps_the_time_and_writes_its_jobs,
    a_refused_change_writes_nothing,
    concurrent_edits_keep_each_others_changes,
    concurrent_creations_for_one_incident_leave_one_postmortem,
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
        services: vec![],
        alerts: vec![],
        declared_by: "user:alice".into(),
        declared_at: t0(),
        idempotency_key: None,
        description: None,
    };
    store.create_incident(new, &no_jobs).await.unwrap().id
}

fn section(key: &str, body: &str) -> PostmortemSection {
    PostmortemSection {
        key: key.into(),
        title: key.to_uppercase(),
        level: 2,
        body: body.into(),
    }
}

/// A postmortem of `incident` with every part filled in, so a round trip checks them all.
fn postmortem(incident: IncidentId) -> Postmortem {
    Postmortem {
        id: Uuid::now_v7(),
        incident_id: incident,
        status: PostmortemStatus::Draft,
        owner: Some("alice".into()),
        sections: (0..12).map(|n| section(&format!("s{n}"), "")).collect(),
        timeline: vec![PostmortemTimelineItem {
            entry_id: Uuid::now_v7(),
            at: t0(),
            kind: TimelineKind::Declared,
            actor: "user:alice".into(),
            text: "Declared «sev2» | checkout".into(),
            hidden: false,
            annotation: Some("first".into()),
        }],
        impact_started_at: Some(t0() - Duration::minutes(3)),
        impact_ended_at: Some(minutes(62)),
        meeting: Some(PostmortemMeeting {
            starts_at: minutes(60 * 24),
            duration_minutes: 45,
            attendees: vec!["alice@example.com".into()],
            sequence: 0,
            scheduled_by: "user:alice".into(),
        }),
        created_by: "user:alice".into(),
        created_at: minutes(70),
        updated_at: minutes(70),
        published_at: None,
    }
}

/// One chat job per write, naming the postmortem.
fn created(p: &Postmortem) -> Vec<NewJob> {
    vec![NewJob::new(
        "chat:console",
        "chat.postmortem_created",
        json!({ "postmortem_id": p.id, "incident_id": p.incident_id }),
        p.updated_at,
    )]
}

async fn job_count(store: &Arc<dyn Store>) -> usize {
    store.list_jobs(None, 100_000).await.unwrap().len()
}

async fn a_postmortem_is_stored_whole_and_found_by_id_and_incident(store: Arc<dyn Store>) {
    let incident = declare(&store, "Checkout is failing").await;
    let new = postmortem(incident);
    let stored = store
        .create_postmortem(new.clone(), &created)
        .await
        .unwrap();
    assert_eq!(stored, new);
    assert_eq!(store.get_postmortem(new.id).await.unwrap(), new);
    assert_eq!(
        store.postmortem_for(incident).await.unwrap(),
        Some(new.clone())
    );
    let jobs = store.list_jobs(None, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "chat.postmortem_created");
    assert_eq!(
        jobs[0].payload,
        json!({ "postmortem_id": new.id, "incident_id": incident })
    );
}

async fn an_incident_has_one_postmortem_and_an_unknown_incident_none(store: Arc<dyn Store>) {
    let incident = declare(&store, "Checkout is failing").await;
    let other = declare(&store, "Search is slow").await;
    let first = postmortem(incident);
    store
        .create_postmortem(first.clone(), &created)
        .await
        .unwrap();

    let second = store
        .create_postmortem(postmortem(incident), &created)
        .await;
    assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
    let unknown = store
        .create_postmortem(postmortem(IncidentId::new()), &created)
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    assert_eq!(
        job_count(&store).await,
        1,
        "refused creations write no jobs"
    );

    assert_eq!(store.postmortem_for(other).await.unwrap(), None);
    assert!(matches!(
        store.get_postmortem(Uuid::now_v7()).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.get_postmortem(first.id).await.unwrap(), first);
}

async fn an_edit_applies_its_change_stamps_the_time_and_writes_its_jobs(store: Arc<dyn Store>) {
    let incident = declare(&store, "Checkout is failing").await;
    let new = postmortem(incident);
    store
        .create_postmortem(new.clone(), &no_jobs)
        .await
        .unwrap();
    let edited = store
        .update_postmortem(
            new.id,
            minutes(80),
            &|p: &mut Postmortem| {
                p.sections[0].body = "It broke.".into();
                p.status = PostmortemStatus::InReview;
                p.timeline[0].hidden = true;
                p.meeting = None;
                // What identifies the document cannot move.
                p.id = Uuid::now_v7();
                p.incident_id = IncidentId::new();
                Ok(())
            },
            &created,
        )
        .await
        .unwrap();
    assert_eq!(edited.id, new.id);
    assert_eq!(edited.incident_id, incident);
    assert_eq!(edited.updated_at, minutes(80));
    assert_eq!(edited.created_at, new.created_at);
    assert_eq!(store.get_postmortem(new.id).await.unwrap(), edited);
    assert_eq!(edited.sections[0].body, "It broke.");
    assert_eq!(edited.status, PostmortemStatus::InReview);
    assert!(edited.timeline[0].hidden);
    assert_eq!(edited.meeting, None);
    assert_eq!(job_count(&store).await, 1);

    let unknown = store
        .update_postmortem(Uuid::now_v7(), minutes(81), &|_| Ok(()), &created)
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    assert_eq!(job_count(&store).await, 1);
}

async fn a_refused_change_writes_nothing(store: Arc<dyn Store>) {
    let incident = declare(&store, "Checkout is failing").await;
    let new = postmortem(incident);
    store
        .create_postmortem(new.clone(), &no_jobs)
        .await
        .unwrap();
    let refused = store
        .update_postmortem(
            new.id,
            minutes(80),
            &|p: &mut Postmortem| {
                p.sections[0].body = "half".into();
                Err(StoreError::Conflict("no".into()))
            },
            &created,
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(store.get_postmortem(new.id).await.unwrap(), new);
    assert_eq!(job_count(&store).await, 0);
}

async fn concurrent_edits_keep_each_others_changes(store: Arc<dyn Store>) {
    let incident = declare(&store, "Checkout is failing").await;
    let new = postmortem(incident);
    store
        .create_postmortem(new.clone(), &no_jobs)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..12usize {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .update_postmortem(
                    new.id,
                    minutes(80 + n as i64),
                    &move |p: &mut Postmortem| {
                        // Each edit writes its own section and adds to one they share.
                        p.sections[n].body = format!("edit {n}");
                        p.timeline[0]
                            .annotation
                            .get_or_insert_with(String::new)
                            .push('+');
                        Ok(())
                    },
                    &no_jobs,
                )
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let last = store.get_postmortem(new.id).await.unwrap();
    for n in 0..12 {
        assert_eq!(last.sections[n].body, format!("edit {n}"));
    }
    assert_eq!(
        last.timeline[0].annotation.as_deref(),
        Some(format!("first{}", "+".repeat(12)).as_str())
    );
}

async fn concurrent_creations_for_one_incident_leave_one_postmortem(store: Arc<dyn Store>) {
    let incident = declare(&store, "Checkout is failing").await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_postmortem(postmortem(incident), &created)
                .await
        }));
    }
    let mut made = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(p) => made.push(p),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(made.len(), 1);
    assert_eq!(
        store.postmortem_for(incident).await.unwrap(),
        Some(made.remove(0))
    );
    assert_eq!(job_count(&store).await, 1);
}
