//! The escalation engine with a manual clock, to the second, on both backends: the guide's
//! primary/secondary/tertiary policy pages at 0, 1 and 2 minutes, escalates at the third
//! minute, and so on; acknowledging or resolving stops everything; a manual escalation
//! makes the scheduled steps stale; a restart runs the due steps.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bot_core::chat::{ChatError, ChatPlatform, Message};
use bot_core::jobs::{PoolConfig, WorkerPool};
use bot_core::model::{
    Actor, AlertAction, AlertEvent, AlertId, AlertSeverity, ChannelRef, Directory, EscalationLevel,
    EscalationPolicy, Integration, Role, Service, Subject, Target, TimelineKind, User,
};
use bot_core::ops::ServiceSettings;
use bot_core::store::Store;
use bot_core::{Clock, Core, CoreSettings, ManualClock};
use chrono::Duration;
use common::{Db, clock, conformance};
use serde_json::json;

/// A chat platform that records direct messages with the manual clock's time.
struct Pager {
    clock: ManualClock,
    dms: Mutex<Vec<(i64, String)>>,
    /// The alert card as last posted or edited, as plain text.
    card: Mutex<String>,
    start: chrono::DateTime<chrono::Utc>,
}

#[async_trait]
impl ChatPlatform for Pager {
    fn name(&self) -> &str {
        "pager"
    }
    fn announcements_channel(&self) -> Option<String> {
        None
    }
    async fn post_message(&self, _: &str, message: &Message) -> Result<String, ChatError> {
        *self.card.lock().unwrap() = message.plain();
        Ok("m".into())
    }
    async fn update_message(&self, _: &str, _: &str, message: &Message) -> Result<(), ChatError> {
        *self.card.lock().unwrap() = message.plain();
        Ok(())
    }
    async fn create_channel(&self, name: &str, _: &str) -> Result<ChannelRef, ChatError> {
        Ok(ChannelRef {
            platform: "pager".into(),
            channel_id: name.into(),
            name: name.into(),
        })
    }
    async fn invite(&self, _: &str, _: &[String]) -> Result<(), ChatError> {
        Ok(())
    }
    async fn set_topic(&self, _: &str, _: &str) -> Result<(), ChatError> {
        Ok(())
    }
    async fn pin(&self, _: &str, _: &str) -> Result<(), ChatError> {
        Ok(())
    }
    async fn send_dm(&self, user: &str, _: &Message) -> Result<String, ChatError> {
        let seconds = (self.clock.now() - self.start).num_seconds();
        self.dms.lock().unwrap().push((seconds, user.to_owned()));
        Ok("dm".into())
    }
}

struct World {
    core: Core,
    pool: WorkerPool,
    pager: Arc<Pager>,
    clock: ManualClock,
}

fn person(id: &str) -> User {
    User {
        id: id.into(),
        name: id.into(),
        email: None,
        time_zone: "UTC".into(),
        phone: None,
        role: Role::Responder,
        chat: [("pager".to_owned(), format!("@{id}"))].into(),
    }
}

/// The guide's policy: primary, secondary, tertiary, five minutes each.
fn settings() -> CoreSettings {
    let level = |u: &str| EscalationLevel {
        targets: vec![Target::User(u.into())],
        timeout: Duration::minutes(5),
    };
    let policy = EscalationPolicy {
        id: "guide".into(),
        repeat: 0,
        levels: vec![level("primary"), level("secondary"), level("tertiary")],
    };
    CoreSettings {
        chat_platforms: vec!["pager".into()],
        services: HashMap::from([(
            "checkout".into(),
            ServiceSettings {
                escalation_policy: Some("guide".into()),
                ..Default::default()
            },
        )]),
        policies: HashMap::from([("guide".to_owned(), policy)]),
        ..Default::default()
    }
}

/// A process on `store`; DM times are counted in seconds from `start`.
async fn world_since(
    store: Arc<dyn Store>,
    clock: &ManualClock,
    start: chrono::DateTime<chrono::Utc>,
) -> World {
    store
        .replace_directory(&Directory {
            users: vec![person("primary"), person("secondary"), person("tertiary")],
            teams: vec![],
            services: vec![Service {
                id: "checkout".into(),
                name: "Checkout".into(),
                description: None,
                team: None,
                escalation_policy: Some("guide".into()),
            }],
        })
        .await
        .unwrap();
    let core = Core::new(store.clone(), Arc::new(clock.clone()), settings());
    let pager = Arc::new(Pager {
        clock: clock.clone(),
        dms: Mutex::default(),
        card: Mutex::default(),
        start,
    });
    let handlers = bot_core::escalation::EscalationSteps::handlers(core.clone())
        .merge(bot_core::escalation::PageByChat::handlers(
            core.clone(),
            pager.clone(),
        ))
        .merge(bot_core::effects::ChatEffects::handlers(
            &core,
            pager.clone(),
        ));
    let pool = WorkerPool::new(
        store,
        Arc::new(clock.clone()),
        handlers,
        PoolConfig {
            queues: vec!["core".into(), "chat:pager".into()],
            ..Default::default()
        },
    );
    World {
        core,
        pool,
        pager,
        clock: clock.clone(),
    }
}

async fn world(store: Arc<dyn Store>, clock: &ManualClock) -> World {
    world_since(store, clock, clock.now()).await
}

async fn fire(w: &World) -> AlertId {
    let integration = Integration {
        id: uuid::Uuid::now_v7(),
        service: "checkout".into(),
        name: "prometheus".into(),
        kind: "alertmanager".into(),
        origin: "cli".into(),
        settings: json!({}),
        created_at: w.clock.now(),
    };
    let event = AlertEvent {
        action: AlertAction::Trigger,
        dedup_key: Some("checkout-down".into()),
        severity: AlertSeverity::Critical,
        summary: "Checkout is down".into(),
        details: json!({}),
        labels: Default::default(),
        links: vec![],
    };
    let outcomes = w.core.ingest(&integration, vec![event]).await.unwrap();
    outcomes[0].alert.as_ref().unwrap().id
}

/// Runs what is due, second by second, up to `until` seconds after the start.
async fn run_until(w: &World, until: i64) {
    let start = w.pager.start;
    loop {
        w.pool.run_due().await.unwrap();
        let elapsed = (w.clock.now() - start).num_seconds();
        if elapsed >= until {
            return;
        }
        w.clock.advance(Duration::seconds(1));
    }
}

fn dms(w: &World) -> Vec<(i64, String)> {
    w.pager.dms.lock().unwrap().clone()
}

fn paged(at: i64, who: &str) -> (i64, String) {
    (at, format!("@{who}"))
}

async fn the_guide_policy_pages_each_level_three_times_a_minute_apart(db: Db) {
    let w = world(db.store.clone(), &clock()).await;
    let alert = fire(&w).await;
    run_until(&w, 15 * 60).await;
    assert_eq!(
        dms(&w),
        [
            paged(0, "primary"),
            paged(60, "primary"),
            paged(120, "primary"),
            paged(180, "secondary"),
            paged(240, "secondary"),
            paged(300, "secondary"),
            paged(360, "tertiary"),
            paged(420, "tertiary"),
            paged(480, "tertiary"),
        ]
    );
    let timeline = db.store.timeline(Subject::Alert(alert)).await.unwrap();
    let pages: Vec<&str> = timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::Paged)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(pages[0], "level 1, attempt 1: paged primary");
    assert_eq!(pages[3], "level 2, attempt 1: paged secondary");
    let last = timeline.last().unwrap();
    assert_eq!(last.kind, TimelineKind::Escalated);
    assert_eq!(
        last.text,
        "Escalation policy guide exhausted after 1 pass(es); the alert stays open"
    );
    assert_eq!((last.at - w.pager.start).num_seconds(), 480);
    assert!(!db.store.escalation(alert).await.unwrap().unwrap().running);
    // The card in the alerts channel shows the latest pages.
    let card = w.pager.card.lock().unwrap().clone();
    assert!(
        card.contains("Paging: level 3, attempt 1: paged tertiary\nlevel 3, attempt 2: paged tertiary\nlevel 3, attempt 3: paged tertiary"),
        "{card}"
    );
}

async fn acknowledging_stops_every_further_page(db: Db) {
    let w = world(db.store.clone(), &clock()).await;
    let alert = fire(&w).await;
    run_until(&w, 90).await;
    // What an SMS reply "1" from the primary would acknowledge.
    assert_eq!(
        db.store
            .open_alerts_paged_to(&"primary".into())
            .await
            .unwrap(),
        [alert]
    );
    assert_eq!(
        db.store
            .open_alerts_paged_to(&"secondary".into())
            .await
            .unwrap(),
        []
    );
    w.core
        .acknowledge_alert(&Actor::User("primary".into()), alert)
        .await
        .unwrap();
    assert_eq!(
        db.store
            .open_alerts_paged_to(&"primary".into())
            .await
            .unwrap(),
        []
    );
    run_until(&w, 15 * 60).await;
    assert_eq!(dms(&w), [paged(0, "primary"), paged(60, "primary")]);
}

async fn resolving_stops_every_further_page(db: Db) {
    let w = world(db.store.clone(), &clock()).await;
    let alert = fire(&w).await;
    run_until(&w, 200).await;
    w.core.resolve_alert(&Actor::System, alert).await.unwrap();
    run_until(&w, 15 * 60).await;
    assert_eq!(dms(&w).last(), Some(&paged(180, "secondary")));
    assert_eq!(dms(&w).len(), 4);
}

async fn a_manual_escalation_pages_the_next_level_now_and_drops_the_old_steps(db: Db) {
    let w = world(db.store.clone(), &clock()).await;
    let alert = fire(&w).await;
    run_until(&w, 30).await;
    w.core
        .escalate_alert(&Actor::User("primary".into()), alert)
        .await
        .unwrap();
    run_until(&w, 5 * 60).await;
    // From 30 s the secondary's level runs its own three attempts; the primary's 60 s
    // attempt was scheduled before and is stale.
    assert_eq!(
        dms(&w)[..5],
        [
            paged(0, "primary"),
            paged(30, "secondary"),
            paged(90, "secondary"),
            paged(150, "secondary"),
            paged(210, "tertiary"),
        ]
    );
}

async fn a_restart_runs_the_due_steps_and_keeps_the_schedule(db: Db) {
    let clock = clock();
    let start = clock.now();
    {
        let before = world(db.store.clone(), &clock).await;
        fire(&before).await;
        run_until(&before, 70).await;
        assert_eq!(dms(&before), [paged(0, "primary"), paged(60, "primary")]);
        // The process dies here.
    }
    clock.set(start + Duration::seconds(200));
    let after = world_since(db.open_again().await, &clock, start).await;
    // Due while no process ran: the 120 s attempt and the 180 s escalation, both now.
    after.pool.run_due().await.unwrap();
    assert_eq!(
        dms(&after),
        [paged(200, "primary"), paged(200, "secondary")]
    );
    // Then the schedule goes on from the level's start (180 s), not from the restart.
    run_until(&after, 320).await;
    assert_eq!(
        dms(&after)[2..],
        [paged(240, "secondary"), paged(300, "secondary")]
    );
}

conformance!(db:
    the_guide_policy_pages_each_level_three_times_a_minute_apart,
    acknowledging_stops_every_further_page,
    resolving_stops_every_further_page,
    a_manual_escalation_pages_the_next_level_now_and_drops_the_old_steps,
    a_restart_runs_the_due_steps_and_keeps_the_schedule,
);
