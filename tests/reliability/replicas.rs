//! Replicas on PostgreSQL: three `tocsin serve` processes on one fresh database behind a
//! "load balancer" (the sender picks one at random), one of them killed with SIGKILL every
//! few seconds and restarted, while alerts arrive and escalate. Afterwards every alert got
//! each attempt exactly once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::stubs::{self, ATTEMPTS, Rng, Tally};
use crate::support::{self, Backend};

#[tokio::test]
async fn three_replicas_one_killed_every_few_seconds_lose_and_double_no_page() {
    support::db::on(Backend::Postgres, |db| async move {
        let alerts = stubs::size(100, 1_000);
        let kills = stubs::size(4, 20);
        let (batch, pace) = if stubs::full() {
            (10, Duration::from_millis(300))
        } else {
            (5, Duration::from_millis(250))
        };
        let mut rng = Rng::for_scenario("replicas");
        let started = Instant::now();
        let (webhook, pages) = stubs::receiver().await;
        let dir = tempfile::tempdir().unwrap();
        let config = stubs::write_config(dir.path(), &webhook);

        let mut replicas = Vec::new();
        for _ in 0..3 {
            replicas.push(stubs::serve(&config, &db.url).await);
        }
        let targets = Arc::new(Mutex::new(
            replicas.iter().map(|(_, base)| base.clone()).collect(),
        ));
        let sender = tokio::spawn(stubs::send_alerts(
            targets.clone(),
            alerts,
            batch,
            pace,
            rng.next(),
        ));
        for _ in 0..kills {
            tokio::time::sleep(rng.millis(1_000, 3_000)).await;
            let victim = rng.below(replicas.len());
            let (process, base) = &mut replicas[victim];
            targets.lock().unwrap().retain(|b| b != base);
            stubs::kill(process).await;
            let (process, base) = stubs::serve(&config, &db.url).await;
            targets.lock().unwrap().push(base.clone());
            replicas[victim] = (process, base);
        }
        let sent = sender.await.unwrap();
        println!("replicas: alert batches answered {:?}", sent.answers);
        // A step a killed replica had claimed waits out its lease (60 s) before another
        // takes it over.
        stubs::settle(&pages, alerts, &db.url, Duration::from_secs(240)).await;
        let tally = Tally::of(&pages.lock().unwrap(), alerts);
        assert_eq!(tally.expected, alerts * ATTEMPTS);
        tally.report("replicas", kills, started);
        drop(replicas);
    })
    .await;
}
