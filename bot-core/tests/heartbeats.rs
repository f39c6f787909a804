//! Heartbeat monitors with a manual clock, to the second: a ping on time opens nothing, a
//! deadline missed by one second opens one alert, the next ping resolves it, and a
//! deadline missed while no process runs is noticed by the next one.

mod common;

use std::sync::Arc;

use bot_core::auth::hash_token;
use bot_core::ingest::HeartbeatChecks;
use bot_core::jobs::{PoolConfig, WorkerPool};
use bot_core::model::{AlertFilter, AlertStatus, Heartbeat, NewHeartbeat};
use bot_core::store::Store;
use bot_core::{Clock, Core, CoreSettings, ManualClock};
use chrono::Duration;
use common::{Db, clock, conformance};

/// The core and a worker pool running heartbeat checks, as a `tocsin serve` process has.
struct Process {
    core: Core,
    pool: WorkerPool,
}

impl Process {
    fn start(store: Arc<dyn Store>, clock: &ManualClock) -> Self {
        let core = Core::new(
            store.clone(),
            Arc::new(clock.clone()),
            CoreSettings::default(),
        );
        let pool = WorkerPool::new(
            store,
            Arc::new(clock.clone()),
            HeartbeatChecks::handlers(core.clone()),
            PoolConfig::default(),
        );
        Process { core, pool }
    }
}

async fn nightly_backup(process: &Process, clock: &ManualClock) -> Heartbeat {
    process
        .core
        .create_heartbeat(&NewHeartbeat {
            service: "checkout".into(),
            name: "nightly-backup".into(),
            key_hash: hash_token("tcn_heartbeat"),
            interval: Duration::minutes(5),
            grace: Duration::minutes(1),
            origin: "cli".into(),
            at: clock.now(),
        })
        .await
        .unwrap()
}

async fn alerts(store: &Arc<dyn Store>) -> Vec<bot_core::model::Alert> {
    store
        .list_alerts(&AlertFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn on_time_pings_open_nothing_and_a_missed_deadline_opens_one_alert(db: Db) {
    let clock = clock();
    let p = Process::start(db.store.clone(), &clock);
    let heartbeat = nightly_backup(&p, &clock).await;
    let created = clock.now();

    // Pinged at 4 minutes: the deadline moves to 4 + 5 + 1 = 10 minutes.
    clock.advance(Duration::minutes(4));
    p.core.ping(&heartbeat).await.unwrap();
    clock.advance(Duration::minutes(2)); // the first deadline (6 min) passes: superseded
    p.pool.run_due().await.unwrap();
    assert!(alerts(&db.store).await.is_empty());

    clock.set(created + Duration::minutes(10) - Duration::seconds(1));
    p.pool.run_due().await.unwrap();
    assert!(alerts(&db.store).await.is_empty(), "one second early");

    clock.set(created + Duration::minutes(10));
    assert_eq!(p.pool.run_due().await.unwrap(), 1);
    let open = alerts(&db.store).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].dedup_key, "heartbeat:nightly-backup");
    assert_eq!(open[0].status, AlertStatus::Open);
    assert_eq!(open[0].source, "heartbeat");
    assert_eq!(
        open[0].summary,
        "Heartbeat 'nightly-backup' missed: last ping 2026-11-24 03:04 UTC"
    );

    // Still late an hour on: still one alert, nobody's check runs again.
    clock.advance(Duration::hours(1));
    assert_eq!(p.pool.run_due().await.unwrap(), 0);
    assert_eq!(alerts(&db.store).await.len(), 1);
    assert_eq!(alerts(&db.store).await[0].event_count, 1);
}

async fn the_next_ping_resolves_the_missed_heartbeat_alert(db: Db) {
    let clock = clock();
    let p = Process::start(db.store.clone(), &clock);
    let heartbeat = nightly_backup(&p, &clock).await;
    clock.advance(Duration::minutes(6));
    p.pool.run_due().await.unwrap();
    let open = alerts(&db.store).await;
    assert_eq!(open.len(), 1);
    assert!(
        open[0].summary.contains("no ping since it was created"),
        "{}",
        open[0].summary
    );

    clock.advance(Duration::seconds(30));
    let pinged = p.core.ping(&heartbeat).await.unwrap();
    assert_eq!(pinged.last_ping_at, Some(clock.now()));
    let alert = db.store.get_alert(open[0].id).await.unwrap();
    assert_eq!(alert.status, AlertStatus::Resolved);
    assert_eq!(alert.resolved_at, Some(clock.now()));
    assert_eq!(alert.resolved_by.as_deref(), Some("integration:heartbeat"));

    // And it is watched again from that ping on.
    clock.advance(Duration::minutes(6));
    p.pool.run_due().await.unwrap();
    let all = alerts(&db.store).await;
    assert_eq!(all.len(), 2, "a second miss opens a new alert");
    assert_eq!(
        all.iter().filter(|a| a.status == AlertStatus::Open).count(),
        1
    );
}

async fn a_deadline_missed_while_no_process_runs_opens_the_alert_after_restart(db: Db) {
    let clock = clock();
    {
        let before = Process::start(db.store.clone(), &clock);
        let heartbeat = nightly_backup(&before, &clock).await;
        before.core.ping(&heartbeat).await.unwrap();
        // The process dies here: nothing of it survives but the database.
    }
    clock.advance(Duration::hours(3));
    let after = Process::start(db.open_again().await, &clock);
    after.pool.run_due().await.unwrap();
    let open = alerts(&db.store).await;
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0].summary,
        "Heartbeat 'nightly-backup' missed: last ping 2026-11-24 03:00 UTC"
    );
}

conformance!(db:
    on_time_pings_open_nothing_and_a_missed_deadline_opens_one_alert,
    the_next_ping_resolves_the_missed_heartbeat_alert,
    a_deadline_missed_while_no_process_runs_opens_the_alert_after_restart,
);
