//! Crash loop on SQLite: one `tocsin serve` killed with SIGKILL at random moments and
//! restarted each time, while alerts arrive in batches and escalate. Afterwards every
//! alert got each attempt its policy calls for exactly once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::stubs::{self, ATTEMPTS, Rng, Tally};

#[tokio::test]
async fn a_process_killed_at_random_moments_loses_and_doubles_no_page() {
    let alerts = stubs::size(100, 1_000);
    let kills = stubs::size(10, 100);
    let (batch, pace) = if stubs::full() {
        (10, Duration::from_millis(500))
    } else {
        (5, Duration::from_millis(250))
    };
    let mut rng = Rng::for_scenario("crash loop");
    let started = Instant::now();
    let (webhook, pages) = stubs::receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = stubs::write_config(dir.path(), &webhook);
    let url = format!("sqlite://{}", dir.path().join("tocsin.db").display());

    let (mut process, base) = stubs::serve(&config, &url).await;
    let targets = Arc::new(Mutex::new(vec![base]));
    let sender = tokio::spawn(stubs::send_alerts(
        targets.clone(),
        alerts,
        batch,
        pace,
        rng.next(),
    ));
    for _ in 0..kills {
        tokio::time::sleep(rng.millis(100, 900)).await;
        stubs::kill(&mut process).await;
        let (next, base) = stubs::serve(&config, &url).await;
        process = next;
        *targets.lock().unwrap() = vec![base];
    }
    let sent = sender.await.unwrap();
    println!("crash loop: alert batches answered {:?}", sent.answers);
    // Each attempt is 2 s after the one before; a restarted process runs what fell due at
    // once, so a minute is ample.
    stubs::settle(&pages, alerts, &url, Duration::from_secs(120)).await;
    let tally = Tally::of(&pages.lock().unwrap(), alerts);
    assert_eq!(tally.expected, alerts * ATTEMPTS);
    tally.report("crash loop", kills, started);
    drop(process);
}
