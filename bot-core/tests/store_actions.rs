//! The store's part of actions, on SQLite and PostgreSQL: a run is recorded with its audit
//! line, timeline entry and job in one transaction; it moves only from the states it is
//! expected in, so two workers (or two button presses) cannot both act; the audit log is
//! append-only and newest first; a declare with a key already used returns the first
//! incident and writes nothing.

mod common;

use std::sync::Arc;

use bot_core::Clock;
use bot_core::model::{
    ActionRun, ActionRunState, ActionRunUpdate, AuditEvent, IncidentId, NewAuditEntry, NewIncident,
    NewJob, NewTimelineEntry, Severity, Subject, TimelineKind,
};
use bot_core::store::{ActionRunTransition, NewActionRun, Store, StoreError, no_jobs};
use common::{clock, conformance};
use serde_json::json;

conformance!(
    a_run_is_written_with_its_audit_line_timeline_entry_and_job,
    a_run_moves_only_from_the_states_it_is_expected_in,
    the_audit_log_is_newest_first_and_keeps_refusals,
    declaring_with_a_used_key_returns_the_first_incident_and_writes_nothing,
    a_delivery_is_recorded_once,
    a_chat_identity_found_by_email_is_linked_and_remembered,
    a_link_code_is_used_once_and_only_before_it_expires,
    one_process_leads_a_piece_of_work_until_it_lets_go,
);

async fn one_process_leads_a_piece_of_work_until_it_lets_go(store: Arc<dyn Store>) {
    let mut first = store
        .try_lead("slack-socket")
        .await
        .unwrap()
        .expect("leads");
    assert!(first.still_leading().await);
    let second = store.try_lead("slack-socket").await.unwrap();
    match store.backend() {
        // One process per SQLite file: it leads everything.
        "sqlite" => assert!(second.is_some()),
        // Another contender waits while the first holds the lock, on other work too is
        // free, and takes over once the first lets go.
        _ => {
            assert!(second.is_none());
            assert!(store.try_lead("discord-gateway").await.unwrap().is_some());
            drop(first);
            let mut taken = None;
            for _ in 0..50 {
                taken = store.try_lead("slack-socket").await.unwrap();
                if taken.is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert!(taken.is_some(), "the lock was released with its connection");
        }
    }
}

async fn a_chat_identity_found_by_email_is_linked_and_remembered(store: Arc<dyn Store>) {
    use bot_core::model::{Directory, Role, User};
    let person = |id: &str, chat: &[(&str, &str)]| User {
        id: id.into(),
        name: id.into(),
        email: Some(format!("{id}@Example.com")),
        time_zone: "UTC".into(),
        phone: None,
        role: Role::Responder,
        chat: chat
            .iter()
            .map(|(p, e)| (p.to_string(), e.to_string()))
            .collect(),
    };
    store
        .replace_directory(&Directory {
            users: vec![
                person("alice", &[("console", "alice")]),
                person("bob", &[("slack", "U02")]),
            ],
            teams: vec![],
            services: vec![],
        })
        .await
        .unwrap();
    let alice = store
        .user_by_email("ALICE@example.COM")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alice.id, "alice".into());
    assert!(
        store
            .user_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );

    store
        .link_chat_identity("slack", "U01", &alice.id, clock().now())
        .await
        .unwrap();
    let found = store
        .user_by_chat_identity("slack", "U01")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, alice.id);
    assert_eq!(found.chat["slack"], "U01");
    assert_eq!(found.chat["console"], "alice");
    // Linking again is harmless; someone else's identity is refused.
    store
        .link_chat_identity("slack", "U01", &alice.id, clock().now())
        .await
        .unwrap();
    let err = store
        .link_chat_identity("slack", "U02", &alice.id, clock().now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(matches!(
        store
            .link_chat_identity("slack", "U09", &"zoe".into(), clock().now())
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.chat_links().await.unwrap(),
        [("slack".to_string(), "U01".to_string(), "alice".into())]
    );
}

async fn a_link_code_is_used_once_and_only_before_it_expires(store: Arc<dyn Store>) {
    let now = clock().now();
    let later = now + chrono::Duration::minutes(15);
    store
        .create_link_code("K7Q2M9XD", "discord", "8035", later)
        .await
        .unwrap();
    // A second code for the same identity replaces the first.
    store
        .create_link_code("P4W8R2TZ", "discord", "8035", later)
        .await
        .unwrap();
    assert_eq!(store.redeem_link_code("K7Q2M9XD", now).await.unwrap(), None);
    // A code someone else holds is refused, not shared.
    store
        .create_link_code("H3N6C5VB", "discord", "9999", later)
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_link_code("H3N6C5VB", "discord", "8035", later)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.redeem_link_code("P4W8R2TZ", now).await.unwrap(),
        Some(("discord".to_owned(), "8035".to_owned()))
    );
    assert_eq!(store.redeem_link_code("P4W8R2TZ", now).await.unwrap(), None);
    // Expired: refused, and gone.
    assert_eq!(
        store.redeem_link_code("H3N6C5VB", later).await.unwrap(),
        None
    );
    assert_eq!(store.redeem_link_code("H3N6C5VB", now).await.unwrap(), None);
}

async fn a_delivery_is_recorded_once(store: Arc<dyn Store>) {
    assert!(!store.delivery_seen("slack:Ev01").await.unwrap());
    assert!(
        store
            .record_delivery("slack:Ev01", clock().now())
            .await
            .unwrap()
    );
    assert!(store.delivery_seen("slack:Ev01").await.unwrap());
    assert!(
        !store
            .record_delivery("slack:Ev01", clock().now())
            .await
            .unwrap()
    );
    assert!(
        store
            .record_delivery("slack:Ev02", clock().now())
            .await
            .unwrap()
    );
}

fn incident(key: Option<&str>) -> NewIncident {
    NewIncident {
        id: IncidentId::new(),
        title: "Checkout down".into(),
        severity: Severity::Sev2,
        commander: None,
        services: vec![],
        alerts: vec![],
        declared_by: "user:alice".into(),
        declared_at: clock().now(),
        idempotency_key: key.map(Into::into),
        description: None,
    }
}

fn run(incident: Option<IncidentId>, state: ActionRunState) -> ActionRun {
    let now = clock().now();
    ActionRun {
        id: uuid::Uuid::now_v7(),
        action: "health".into(),
        kind: "http".into(),
        args: json!({ "region": "eu" }),
        incident_id: incident,
        requested_by: "user:alice".into(),
        platform: "console".into(),
        channel: "inc-1-checkout-down".into(),
        state,
        summary: None,
        detail: None,
        link: None,
        external: json!({}),
        created_at: now,
        updated_at: now,
    }
}

fn audit(event: AuditEvent, run: Option<&ActionRun>, detail: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: clock().now(),
        actor: "user:alice".into(),
        event,
        action: "health".into(),
        run_id: run.map(|r| r.id),
        incident_id: run.and_then(|r| r.incident_id),
        args: json!({ "region": "eu" }),
        detail: detail.into(),
    }
}

async fn a_run_is_written_with_its_audit_line_timeline_entry_and_job(store: Arc<dyn Store>) {
    let inc = store
        .create_incident(incident(None), &no_jobs)
        .await
        .unwrap();
    let new = run(Some(inc.id), ActionRunState::Queued);
    let created = store
        .create_action_run(NewActionRun {
            run: new.clone(),
            audit: audit(AuditEvent::Requested, Some(&new), "queued"),
            timeline: Some(NewTimelineEntry {
                subject: Subject::Incident(inc.id),
                at: clock().now(),
                kind: TimelineKind::ActionRun,
                actor: "user:alice".into(),
                text: "Asked to run health region=eu".into(),
                data: json!({ "run_id": new.id }),
            }),
            jobs: vec![NewJob::new(
                "core",
                "action.run",
                json!({ "run_id": new.id }),
                clock().now(),
            )],
        })
        .await
        .unwrap();
    assert_eq!(created, new);
    assert_eq!(store.get_action_run(new.id).await.unwrap(), new);
    let log = store.audit_log(10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].event, log[0].run_id),
        (AuditEvent::Requested, Some(new.id))
    );
    assert_eq!(log[0].args, json!({ "region": "eu" }));
    let timeline = store.timeline(Subject::Incident(inc.id)).await.unwrap();
    assert!(timeline.iter().any(|e| e.kind == TimelineKind::ActionRun));
    let jobs = store.list_jobs(None, 10).await.unwrap();
    assert!(
        jobs.iter()
            .any(|j| j.kind == "action.run" && j.payload["run_id"] == json!(new.id))
    );

    // A run for an incident that does not exist is refused whole: no audit line either.
    let orphan = run(Some(IncidentId::new()), ActionRunState::Queued);
    let err = store
        .create_action_run(NewActionRun {
            run: orphan.clone(),
            audit: audit(AuditEvent::Requested, Some(&orphan), "queued"),
            timeline: None,
            jobs: vec![],
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(store.audit_log(10).await.unwrap().len(), 1);
    assert!(matches!(
        store.get_action_run(orphan.id).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn a_run_moves_only_from_the_states_it_is_expected_in(store: Arc<dyn Store>) {
    let new = run(None, ActionRunState::AwaitingConfirmation);
    store
        .create_action_run(NewActionRun {
            run: new.clone(),
            audit: audit(AuditEvent::Requested, Some(&new), "waiting"),
            timeline: None,
            jobs: vec![],
        })
        .await
        .unwrap();
    let later = clock().now() + chrono::Duration::seconds(5);
    let confirm = |jobs: Vec<NewJob>| ActionRunTransition {
        id: new.id,
        from: vec![ActionRunState::AwaitingConfirmation],
        to: ActionRunState::Queued,
        update: ActionRunUpdate::default(),
        at: later,
        audit: Some(audit(AuditEvent::Confirmed, Some(&new), "confirmed")),
        timeline: None,
        jobs,
    };
    let job = NewJob::new("core", "action.run", json!({ "run_id": new.id }), later);
    let queued = store
        .transition_action_run(confirm(vec![job.clone()]))
        .await
        .unwrap();
    assert_eq!(
        (queued.state, queued.updated_at),
        (ActionRunState::Queued, later)
    );
    // The second press finds it queued: refused, and neither its audit line nor its job is
    // written.
    let err = store
        .transition_action_run(confirm(vec![job]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("already queued")),
        "{err:?}"
    );
    assert_eq!(store.audit_log(10).await.unwrap().len(), 2);
    let run_jobs = store.list_jobs(None, 10).await.unwrap();
    assert_eq!(
        run_jobs.iter().filter(|j| j.kind == "action.run").count(),
        1
    );

    // The result is written with the final state; fields not given stay as they were.
    let finished = store
        .transition_action_run(ActionRunTransition {
            id: new.id,
            from: vec![ActionRunState::Queued, ActionRunState::Running],
            to: ActionRunState::Failed,
            update: ActionRunUpdate {
                summary: Some("HTTP 503 Service Unavailable".into()),
                detail: Some("upstream down".into()),
                link: None,
                external: Some(json!({ "attempt": 1 })),
            },
            at: later,
            audit: None,
            timeline: None,
            jobs: vec![],
        })
        .await
        .unwrap();
    assert_eq!(finished.state, ActionRunState::Failed);
    assert_eq!(
        finished.summary.as_deref(),
        Some("HTTP 503 Service Unavailable")
    );
    assert_eq!(finished.link, None);
    assert_eq!(finished.external, json!({ "attempt": 1 }));
    assert_eq!(store.get_action_run(new.id).await.unwrap(), finished);

    let missing = ActionRunTransition {
        id: uuid::Uuid::now_v7(),
        ..confirm(vec![])
    };
    assert!(matches!(
        store.transition_action_run(missing).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn the_audit_log_is_newest_first_and_keeps_refusals(store: Arc<dyn Store>) {
    for (i, event) in [
        AuditEvent::Refused,
        AuditEvent::Requested,
        AuditEvent::Succeeded,
    ]
    .into_iter()
    .enumerate()
    {
        let mut entry = audit(event, None, &format!("entry {i}"));
        entry.at += chrono::Duration::seconds(i as i64);
        store.append_audit(entry).await.unwrap();
    }
    let log = store.audit_log(2).await.unwrap();
    let details: Vec<&str> = log.iter().map(|e| e.detail.as_str()).collect();
    assert_eq!(details, ["entry 2", "entry 1"]);
    let all = store.audit_log(10).await.unwrap();
    assert_eq!(all.last().unwrap().event, AuditEvent::Refused);
    assert_eq!(all.last().unwrap().actor, "user:alice");
}

async fn declaring_with_a_used_key_returns_the_first_incident_and_writes_nothing(
    store: Arc<dyn Store>,
) {
    let job = |_: &bot_core::model::Incident| {
        vec![NewJob::new(
            "chat:console",
            "chat.incident_opened",
            json!({}),
            clock().now(),
        )]
    };
    let first = store
        .create_incident(incident(Some("slack:T1")), &job)
        .await
        .unwrap();
    let again = store
        .create_incident(incident(Some("slack:T1")), &job)
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.number, first.number);
    assert_eq!(store.list_jobs(None, 10).await.unwrap().len(), 1);
    // Another key, or none, declares anew.
    let other = store
        .create_incident(incident(Some("slack:T2")), &job)
        .await
        .unwrap();
    let plain = store.create_incident(incident(None), &job).await.unwrap();
    assert_eq!(
        (other.number, plain.number),
        (first.number + 1, first.number + 2)
    );
}
