//! Paging survives processes dying. Through a webhook receiver on loopback: a process
//! killed with SIGKILL mid-escalation on SQLite pages the rest after restart; two
//! `tocsin serve` processes on one PostgreSQL database deliver each attempt of each
//! alert exactly once, and killing one of them loses no page.

mod support;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use bot_core::store::Store;
use serde_json::{Value, json};
use support::{Backend, eventually};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_tocsin");
const KEY: &str = "replicas-alertmanager-key";
const ALERTS: usize = 10;
/// Attempts per alert: one level, three attempts two seconds apart, no repeat. The gap
/// leaves the tests below a moment with no job in flight to kill a process at.
const ATTEMPTS: usize = 3;

type Pages = Arc<Mutex<HashMap<(String, i64), usize>>>;

/// A webhook receiver counting pages by (alert, attempt).
async fn receiver() -> (String, Pages) {
    let pages: Pages = Arc::default();
    async fn page(State(pages): State<Pages>, body: axum::Json<Value>) {
        let key = (
            body["alert"]["id"].as_str().unwrap_or_default().to_owned(),
            body["attempt"].as_i64().unwrap_or(0),
        );
        *pages.lock().unwrap().entry(key).or_default() += 1;
    }
    let app = Router::new()
        .route("/page", axum::routing::post(page))
        .with_state(pages.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/page", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, pages)
}

fn config(webhook: &str) -> String {
    format!(
        r#"
[paging]
attempt_interval = "2s"

[console]
enabled = false

[[users]]
id = "oncall"
name = "On Call"
time_zone = "UTC"
[[users.notify]]
channel = "webhook"
to = "{webhook}"

[[escalation_policies]]
id = "solo"
[[escalation_policies.levels]]
targets = ["user:oncall"]

[[services]]
id = "checkout"
name = "Checkout"
escalation_policy = "solo"
[[services.integrations]]
name = "prometheus"
kind = "alertmanager"
key_env = "REPLICAS_AM_KEY"
"#
    )
}

/// `tocsin serve` on `database_url`, once it listens; returns the process and its base URL.
async fn serve(config: &std::path::Path, database_url: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("TOCSIN_CONFIG", config)
        .env("DATABASE_URL", database_url)
        .env("TOCSIN_LISTEN", "127.0.0.1:0")
        .env("REPLICAS_AM_KEY", KEY)
        .env("TOCSIN_WEBHOOK_SECRET", "replicas-webhook-secret")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("listening on ") {
                return url.to_owned();
            }
        }
        panic!("tocsin serve exited before listening");
    })
    .await
    .expect("tocsin serve did not start");
    (child, base)
}

fn firing(n: usize) -> Value {
    let alerts: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "status": "firing",
                "labels": {"alertname": "Down", "instance": format!("checkout-{i}"), "severity": "critical"},
                "annotations": {"summary": format!("checkout-{i} is down")},
                "startsAt": "2026-11-24T03:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": format!("fp{i:04}"),
            })
        })
        .collect();
    json!({"version": "4", "status": "firing", "receiver": "tocsin", "groupKey": "{}", "alerts": alerts})
}

/// Fires `ALERTS` alerts at `base`, waits until each has been paged once and no job is in
/// flight, then kills `victim` with SIGKILL.
///
/// Delivery is at least once: a process killed after a receiver took a page but before it
/// recorded that will send it again once its lease expires. That window is milliseconds
/// and cannot be closed from this side (receivers can dedupe on the page's alert and
/// attempt). This test is about the rest, losing nothing and never running a job twice,
/// so it kills between jobs, not inside one.
async fn fire_then_kill(base: &str, pages: &Pages, store: &dyn Store, victim: &mut Child) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/integrations/{KEY}/alertmanager"))
        .json(&firing(ALERTS))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    eventually("the first pages", Duration::from_secs(30), || async {
        let pages = pages.lock().unwrap();
        (pages.keys().filter(|(_, attempt)| *attempt == 1).count() == ALERTS).then_some(())
    })
    .await;
    eventually("no job in flight", Duration::from_secs(30), || async {
        let counts = store.counts().await.unwrap();
        let running = counts
            .jobs_by_state
            .iter()
            .any(|(state, n)| state == "running" && *n > 0);
        (!running).then_some(())
    })
    .await;
    victim.start_kill().unwrap();
    victim.wait().await.unwrap();
}

/// Waits for every attempt of every alert; asserts none was paged twice.
async fn every_page_once(pages: &Pages) -> HashMap<(String, i64), usize> {
    let all = eventually(
        "every attempt of every alert",
        Duration::from_secs(90),
        || async {
            let pages = pages.lock().unwrap();
            (pages.len() == ALERTS * ATTEMPTS).then(|| pages.clone())
        },
    )
    .await;
    let twice: Vec<_> = all.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "paged more than once: {twice:?}");
    all
}

#[tokio::test]
async fn a_process_killed_mid_escalation_pages_the_rest_after_restart() {
    let (webhook, pages) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tocsin.toml");
    std::fs::write(&config, self::config(&webhook)).unwrap();
    let url = format!("sqlite://{}", dir.path().join("tocsin.db").display());
    let (mut first, base) = serve(&config, &url).await;
    let store = bot_core::store::connect(&url).await.unwrap();
    fire_then_kill(&base, &pages, &*store, &mut first).await;
    // Steps due while nothing ran are run at once by the next process.
    let (_second, _) = serve(&config, &url).await;
    every_page_once(&pages).await;
}

#[tokio::test]
async fn two_replicas_page_each_attempt_once_and_a_killed_one_loses_nothing() {
    support::db::on(Backend::Postgres, |db| async move {
        let (webhook, pages) = receiver().await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tocsin.toml");
        std::fs::write(&config, self::config(&webhook)).unwrap();
        let (mut a, base) = serve(&config, &db.url).await;
        let (_b, _) = serve(&config, &db.url).await;
        // Every alert's first page is out; then one replica dies without warning. The
        // survivor delivers the rest (a step the dead one had claimed waits for its 60 s
        // lease to expire, hence the patience).
        fire_then_kill(&base, &pages, &*db.store, &mut a).await;
        let all = every_page_once(&pages).await;
        // Nothing can page later: every job is finished (the last step wrote the final
        // notice), and the counts still stand.
        eventually("every job finished", Duration::from_secs(90), || async {
            let counts = db.store.counts().await.unwrap();
            let unfinished = counts
                .jobs_by_state
                .iter()
                .any(|(state, n)| (state == "queued" || state == "running") && *n > 0);
            (!unfinished).then_some(())
        })
        .await;
        assert_eq!(*pages.lock().unwrap(), all);
        let mut attempts: Vec<i64> = all.keys().map(|(_, attempt)| *attempt).collect();
        attempts.sort();
        attempts.dedup();
        assert_eq!(attempts, [1, 2, 3]);
    })
    .await;
}
