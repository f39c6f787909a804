//! Throughput of the foundation, on SQLite and PostgreSQL:
//! - incidents declared per second over loopback HTTP (each one a durable transaction with
//!   its timeline entry and follow-up jobs), with p50/p99 latency;
//! - durable jobs run per second by one worker pool (claim, run a no-op, record);
//! - alerts ingested per second through the core, at batch sizes 1 and 100;
//! - 10,000 alerts escalating at once: first steps and pages per second, and how late the
//!   steps ran against their due time.
//!
//! `cargo bench --bench throughput -- [--seconds N] [--connections N] [--jobs N] [--burst N]`
//! PostgreSQL is the server `TEST_DATABASE_URL` names (default: local, user postgres);
//! each run uses a fresh database of its own.

#[path = "../bot-core/tests/common/mod.rs"]
#[allow(unused_macros, unused_imports)]
mod db;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bot_core::auth::hash_token;
use bot_core::jobs::{Handlers, JobError, JobHandler, PoolConfig, WorkerPool};
use bot_core::model::{Job, NewJob, Role};
use bot_core::{Clock, SystemClock};
use db::Backend;

struct Args {
    seconds: u64,
    connections: usize,
    jobs: usize,
    burst: usize,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 5,
        connections: 8,
        jobs: 5_000,
        burst: 10_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--seconds" => args.seconds = value() as u64,
            "--connections" => args.connections = value(),
            "--jobs" => args.jobs = value(),
            "--burst" => args.burst = value(),
            _ => {} // cargo bench passes `--bench`; ignore what is not ours
        }
    }
    args
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn incidents_over_http(db: db::Db, seconds: u64, connections: usize) -> String {
    let config = tocsin::config::Config::default();
    db.store
        .replace_directory(&tocsin::app::directory(&config))
        .await
        .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    db.store
        .create_token("bench", Role::Admin, &hash_token("tcn_bench"), clock.now())
        .await
        .unwrap();
    let core = tocsin::app::core(db.store.clone(), clock, &config);
    let app = tocsin::http::router(tocsin::http::AppState::new(core));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/incidents", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for c in 0..connections {
        let url = url.clone();
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                let started = Instant::now();
                let response = http
                    .post(&url)
                    .bearer_auth("tcn_bench")
                    .json(&serde_json::json!({"title": format!("Bench incident {c}-{n}"), "severity": "sev3"}))
                    .send()
                    .await
                    .expect("request");
                assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
                latencies.push(started.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    server.abort();
    latencies.sort();
    format!(
        "incidents over HTTP: {:.0}/s ({} in {seconds} s, {connections} connections), p50 {:.2} ms, p99 {:.2} ms",
        latencies.len() as f64 / seconds as f64,
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    )
}

struct Count {
    done: AtomicUsize,
    all_done: tokio::sync::Notify,
    target: usize,
}

#[async_trait]
impl JobHandler for Count {
    async fn run(&self, _: &Job) -> Result<(), JobError> {
        if self.done.fetch_add(1, Ordering::SeqCst) + 1 == self.target {
            self.all_done.notify_one();
        }
        Ok(())
    }
}

async fn jobs_run(db: db::Db, jobs: usize) -> String {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let batch: Vec<NewJob> = (0..jobs)
        .map(|i| NewJob::new("core", "bench.noop", serde_json::json!({ "i": i }), now))
        .collect();
    for chunk in batch.chunks(500) {
        db.store.enqueue(chunk).await.unwrap();
    }
    let count = Arc::new(Count {
        done: AtomicUsize::new(0),
        all_done: Default::default(),
        target: jobs,
    });
    let handlers = Handlers::new().on("bench.noop", count.clone());
    let pool = WorkerPool::new(
        db.store.clone(),
        clock,
        handlers,
        PoolConfig {
            concurrency: 32,
            ..Default::default()
        },
    );
    let started = Instant::now();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(pool.run(async {
        let _ = stopped.await;
    }));
    count.all_done.notified().await;
    let elapsed = started.elapsed();
    let _ = stop.send(());
    running.await.unwrap();
    format!(
        "jobs: {:.0}/s ({jobs} no-op jobs in {:.2} s, one pool of 32)",
        jobs as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    )
}

/// Alerts ingested per second through `Core::ingest` (no HTTP), in batches of `batch`
/// distinct alerts, each batch one transaction: the store's share of ingestion.
async fn alerts_ingested(db: db::Db, seconds: u64, batch: usize) -> String {
    use bot_core::model::{AlertAction, AlertEvent, AlertSeverity, Integration};
    let config = tocsin::config::Config::default();
    db.store
        .replace_directory(&tocsin::app::directory(&config))
        .await
        .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let core = tocsin::app::core(db.store.clone(), clock.clone(), &config);
    let integration = Integration {
        id: uuid::Uuid::now_v7(),
        service: "checkout".into(),
        name: "bench".into(),
        kind: "alertmanager".into(),
        origin: "cli".into(),
        settings: serde_json::json!({}),
        created_at: clock.now(),
    };
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut alerts, mut n) = (0usize, 0usize);
    let started = Instant::now();
    while Instant::now() < deadline {
        let events = (0..batch)
            .map(|i| AlertEvent {
                action: AlertAction::Trigger,
                dedup_key: Some(format!("{n:08x}-{i}")),
                severity: AlertSeverity::Warning,
                summary: format!("bench alert {n}-{i}"),
                details: serde_json::json!({ "annotations": { "summary": "bench" } }),
                labels: [("alertname".to_owned(), "BenchAlert".to_owned())].into(),
                links: Vec::new(),
            })
            .collect();
        alerts += core.ingest(&integration, events).await.unwrap().len();
        n += 1;
    }
    format!(
        "alerts through the core, batch {batch}: {:.0}/s ({alerts} in {:.1} s)",
        alerts as f64 / started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    )
}

/// 10,000 high-urgency alerts fire at once on a service whose policy pages a person by
/// chat: the first escalation step of each, and the page it causes, are run by one worker
/// pool on the real clock. Reports steps and pages per second and how late each ran
/// against its `run_at` (read back from the jobs table: finished minus due).
async fn escalation_burst(db: db::Db, alerts: usize) -> String {
    use bot_core::escalation::{EscalationSteps, PageByChat};
    use bot_core::model::{AlertAction, AlertEvent, AlertSeverity, Integration, JobState};
    let config = tocsin::config::Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tocsin.example.toml"
    )))
    .expect("the example configuration is valid");
    db.store
        .replace_directory(&tocsin::app::directory(&config))
        .await
        .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let core = tocsin::app::core(db.store.clone(), clock.clone(), &config);
    let integration = Integration {
        id: uuid::Uuid::now_v7(),
        service: "checkout".into(),
        name: "bench".into(),
        kind: "alertmanager".into(),
        origin: "cli".into(),
        settings: serde_json::json!({}),
        created_at: clock.now(),
    };
    for batch in 0..alerts.div_ceil(100) {
        let events = (0..100)
            .map(|i| AlertEvent {
                action: AlertAction::Trigger,
                dedup_key: Some(format!("burst-{batch}-{i}")),
                severity: AlertSeverity::Critical,
                summary: format!("burst alert {batch}-{i}"),
                details: serde_json::json!({}),
                labels: Default::default(),
                links: Vec::new(),
            })
            .collect();
        core.ingest(&integration, events).await.unwrap();
    }
    // A chat platform that delivers instantly, so the figure is Tocsin's own.
    let console = Arc::new(adapters::console::Console::new(
        "incidents",
        Box::new(std::io::sink()),
    ));
    let handlers = EscalationSteps::handlers(core.clone())
        .merge(PageByChat::handlers(core.clone(), console.clone()))
        .merge(bot_core::effects::ChatEffects::handlers(&core, console));
    let pool = WorkerPool::new(
        db.store.clone(),
        clock.clone(),
        handlers,
        PoolConfig {
            queues: vec!["core".into(), "chat:console".into()],
            concurrency: 32,
            ..Default::default()
        },
    );
    let started = Instant::now();
    // Every first step, card and page is due now; later attempts are a minute away.
    while pool.run_due().await.unwrap() > 0 {}
    let elapsed = started.elapsed().as_secs_f64();
    let done = db
        .store
        .list_jobs(Some(JobState::Done), 100_000)
        .await
        .unwrap();
    let mut lateness: Vec<Duration> = done
        .iter()
        .filter(|j| j.kind == "escalation.step")
        .map(|j| (j.updated_at - j.run_at).to_std().unwrap_or_default())
        .collect();
    lateness.sort();
    let pages = done.iter().filter(|j| j.kind == "chat.page").count();
    format!(
        "escalation burst of {alerts}: {} first steps and {pages} pages in {elapsed:.1} s \
         ({:.0} steps/s, {:.0} jobs/s in all); step lateness p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        lateness.len(),
        lateness.len() as f64 / elapsed,
        done.len() as f64 / elapsed,
        percentile(&lateness, 0.50),
        percentile(&lateness, 0.99),
        lateness.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    )
}

#[tokio::main]
async fn main() {
    let args = args();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (seconds, connections, jobs) = (args.seconds, args.connections, args.jobs);
        db::on(backend, move |db| async move {
            println!(
                "{backend:?}: {}",
                incidents_over_http(db.clone(), seconds, connections).await
            );
        })
        .await;
        db::on(backend, move |db| async move {
            println!("{backend:?}: {}", jobs_run(db, jobs).await);
        })
        .await;
        let burst = args.burst;
        db::on(backend, move |db| async move {
            println!("{backend:?}: {}", escalation_burst(db, burst).await);
        })
        .await;
        for batch in [1, 100] {
            db::on(backend, move |db| async move {
                println!("{backend:?}: {}", alerts_ingested(db, seconds, batch).await);
            })
            .await;
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average after: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
