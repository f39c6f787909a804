//! The public status page under load, on SQLite and PostgreSQL: a page of 100 components
//! (ten groups of eight and twenty on their own) with 1,000 past incidents over the last
//! 100 days (so each uptime bar has history to draw) and a few open ones: requests per
//! second of `GET /status` and `GET /status/api/v2/summary.json` over loopback HTTP with
//! concurrent keep-alive clients, p50/p99 latency, and the bytes each sends with and
//! without `Accept-Encoding: gzip`.
//!
//! `cargo bench --bench statuspage -- [--seconds N] [--connections N]`
//! PostgreSQL is the server `TEST_DATABASE_URL` names (default: local, user postgres);
//! each run uses a fresh database of its own.

#[path = "../bot-core/tests/common/mod.rs"]
#[allow(unused_macros, unused_imports)]
mod db;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bot_core::model::{
    ComponentStatus, Impact, NewPublicIncident, NewPublicUpdate, PublicIncident, PublicKind,
    PublicStatus,
};
use bot_core::store::no_jobs;
use bot_core::{Clock, ManualClock};
use chrono::{DateTime, Utc};
use db::Backend;
use tocsin::config::ComponentConfig;

const COMPONENTS: usize = 100;
const PAST: usize = 1_000;

struct Args {
    seconds: u64,
    connections: usize,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 3,
        connections: 16,
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

/// 100 components: every fifth on its own, the others in groups of eight.
fn components() -> Vec<ComponentConfig> {
    (0..COMPONENTS)
        .map(|i| ComponentConfig {
            id: format!("c{i:03}"),
            name: format!("Component {i:03}"),
            group: (i % 5 != 0).then(|| format!("Group {}", i / 10)),
            description: Some(format!("What component {i} does")),
            services: Vec::new(),
        })
        .collect()
}

/// 1,000 resolved incidents, one every 2 h 24 min over the last 100 days, each touching
/// three components for 45 minutes (degraded, partial or major outage in turn), then a
/// few open incidents and maintenance. Written through the store with their own times.
async fn fill(store: Arc<dyn bot_core::Store>, now: DateTime<Utc>) {
    let start = now - chrono::Duration::days(100);
    let states = [
        (Impact::Minor, ComponentStatus::DegradedPerformance),
        (Impact::Major, ComponentStatus::PartialOutage),
        (Impact::Critical, ComponentStatus::MajorOutage),
    ];
    let record = |i: usize,
                  at: DateTime<Utc>,
                  kind: PublicKind,
                  status: PublicStatus,
                  impact: Impact,
                  state: ComponentStatus| {
        let ids: Vec<String> = (0..3)
            .map(|k| format!("c{:03}", (i * 7 + k * 31) % COMPONENTS))
            .collect();
        NewPublicIncident {
            id: uuid::Uuid::now_v7(),
            kind,
            incident_id: None,
            name: format!("Incident {i}: elevated errors"),
            status,
            impact,
            components: ids.clone(),
            scheduled_for: (kind == PublicKind::Maintenance).then_some(at),
            scheduled_until: (kind == PublicKind::Maintenance)
                .then_some(at + chrono::Duration::hours(2)),
            body: format!("We are investigating elevated errors ({i})."),
            component_changes: if status == PublicStatus::Scheduled {
                Vec::new()
            } else {
                ids.into_iter().map(|c| (c, state)).collect()
            },
            author: "bench".into(),
            at,
        }
    };
    // One after the other: each component's changes are written in time order, as they
    // happen, so its history (and uptime) is what the records say.
    let step = chrono::Duration::minutes(144);
    for i in 0..PAST {
        let at = start + step * i as i32;
        let (impact, state) = states[i % 3];
        let new = record(
            i,
            at,
            PublicKind::Incident,
            PublicStatus::Investigating,
            impact,
            state,
        );
        let created: PublicIncident = store
            .create_public_incident(new, &no_jobs)
            .await
            .expect("created");
        let close = NewPublicUpdate {
            public_incident_id: created.id,
            status: PublicStatus::Resolved,
            body: "This incident has been resolved.".into(),
            impact: None,
            add_components: Vec::new(),
            component_changes: created
                .components
                .iter()
                .map(|c| (c.clone(), ComponentStatus::Operational))
                .collect(),
            author: "bench".into(),
            at: at + chrono::Duration::minutes(45),
            only_from: Vec::new(),
        };
        store
            .add_public_update(close, &no_jobs)
            .await
            .expect("resolved");
    }
    let open = [
        (
            PublicKind::Incident,
            PublicStatus::Investigating,
            Impact::Minor,
            ComponentStatus::DegradedPerformance,
            30,
        ),
        (
            PublicKind::Incident,
            PublicStatus::Identified,
            Impact::Major,
            ComponentStatus::PartialOutage,
            20,
        ),
        (
            PublicKind::Incident,
            PublicStatus::Monitoring,
            Impact::Minor,
            ComponentStatus::DegradedPerformance,
            10,
        ),
        (
            PublicKind::Maintenance,
            PublicStatus::InProgress,
            Impact::Maintenance,
            ComponentStatus::UnderMaintenance,
            5,
        ),
        (
            PublicKind::Maintenance,
            PublicStatus::Scheduled,
            Impact::Maintenance,
            ComponentStatus::Operational,
            -600,
        ),
        (
            PublicKind::Maintenance,
            PublicStatus::Scheduled,
            Impact::Maintenance,
            ComponentStatus::Operational,
            -1_440,
        ),
    ];
    for (n, (kind, status, impact, state, minutes_ago)) in open.into_iter().enumerate() {
        let at = now - chrono::Duration::minutes(minutes_ago);
        let created = store
            .create_public_incident(
                record(PAST + n, at.min(now), kind, status, impact, state),
                &no_jobs,
            )
            .await
            .expect("open record");
        for u in 0..4 {
            store
                .add_public_update(
                    NewPublicUpdate {
                        public_incident_id: created.id,
                        status,
                        body: format!("Update {u}: we continue to work on it."),
                        impact: None,
                        add_components: Vec::new(),
                        component_changes: Vec::new(),
                        author: "bench".into(),
                        at: at.min(now) + chrono::Duration::seconds(u),
                        only_from: Vec::new(),
                    },
                    &no_jobs,
                )
                .await
                .expect("update");
        }
    }
}

/// Requests per second and latency of `url` with `connections` keep-alive clients for
/// `seconds`; gzip asked for or not.
async fn load(url: &str, seconds: u64, connections: usize, gzip: bool) -> (f64, f64, f64, usize) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for _ in 0..connections {
        let url = url.to_owned();
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let mut request = http.get(&url);
                if gzip {
                    request = request.header("accept-encoding", "gzip");
                }
                let response = request.send().await.expect("request");
                assert_eq!(response.status(), 200);
                response.bytes().await.expect("body");
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.expect("client"));
    }
    latencies.sort();
    (
        latencies.len() as f64 / seconds as f64,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.len(),
    )
}

/// Bytes of `url`'s body as sent, plain and gzipped.
async fn sizes(url: &str) -> (usize, usize) {
    let http = reqwest::Client::new();
    let plain = http
        .get(url)
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("body");
    let gzipped = http
        .get(url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("get");
    assert_eq!(
        gzipped
            .headers()
            .get("content-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    (plain.len(), gzipped.bytes().await.expect("body").len())
}

async fn bench(db: db::Db, backend: Backend, args: &Args) -> Vec<String> {
    let mut config = tocsin::config::Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tocsin.example.toml"
    )))
    .expect("the example configuration is valid");
    config.statuspage.components = components();
    db.store
        .replace_directory(&tocsin::app::directory(&config))
        .await
        .expect("directory");
    let now = Utc::now();
    let filled = Instant::now();
    fill(db.store.clone(), now).await;
    let fill_time = filled.elapsed();
    let clock = ManualClock::new(now);
    let core = tocsin::app::core(
        db.store.clone(),
        Arc::new(clock.clone()) as Arc<dyn Clock>,
        &config,
    );
    let app = tocsin::http::router(tocsin::http::AppState::new(core));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut rows = vec![format!(
        "{backend:?}: {COMPONENTS} components, {PAST} past incidents written in {:.1} s",
        fill_time.as_secs_f64()
    )];
    for path in ["/status", "/status/api/v2/summary.json"] {
        let url = format!("{base}{path}");
        let (plain, gzipped) = sizes(&url).await;
        for gzip in [false, true] {
            let (rps, p50, p99, n) = load(&url, args.seconds, args.connections, gzip).await;
            rows.push(format!(
                "| {backend:?} | {path} | {} | {rps:>7.0} | {p50:>6.1} | {p99:>6.1} | {n:>6} | {:>8} |",
                if gzip { "gzip" } else { "identity" },
                if gzip { gzipped } else { plain },
            ));
        }
    }
    server.abort();
    rows
}

#[tokio::main]
async fn main() {
    let args = Arc::new(args());
    let load_avg = || {
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "load average before: {}; {} CPUs; {} connections, {} s per row",
        load_avg(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.connections,
        args.seconds
    );
    let mut table = vec![
        "| backend | route | encoding | req/s | p50 ms | p99 ms | requests | bytes |".to_owned(),
        "|---|---|---|---:|---:|---:|---:|---:|".to_owned(),
    ];
    let mut notes = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let args = args.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        db::on(backend, move |db| async move {
            let _ = tx.send(bench(db, backend, &args).await);
        })
        .await;
        let mut rows = rx.await.expect("the bench ran");
        notes.push(rows.remove(0));
        table.extend(rows);
    }
    for note in notes {
        println!("{note}");
    }
    for row in table {
        println!("{row}");
    }
    println!("load average after: {}", load_avg());
}
