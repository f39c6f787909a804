//! Slack's deadline, measured: the time from a signed slash-command request to Tocsin's
//! HTTP 200, over loopback, with 50 requests in flight at once (Slack allows 3 s; our goal
//! is p99 under 100 ms). Three commands: `help` (no database), `status 1` (reads) and
//! `declare` (a durable transaction with its timeline entry and jobs), on SQLite and
//! PostgreSQL (`TEST_DATABASE_URL`, default local).
//!
//! `cargo bench --bench slack_commands -- [--requests N] [--concurrency N]`

#[path = "../bot-core/tests/common/mod.rs"]
#[allow(unused_macros, unused_imports)]
mod db;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bot_core::{Clock, SystemClock};
use db::Backend;

const SECRET: &str = "bench-signing-secret";
/// alice's Slack id in tocsin.example.toml.
const ALICE: &str = "U0123ABC";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn run(db: db::Db, text: &'static str, requests: usize, concurrency: usize) -> String {
    let config = tocsin::config::Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tocsin.example.toml"
    )))
    .unwrap();
    db.store
        .replace_directory(&tocsin::app::directory(&config))
        .await
        .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let core = tocsin::app::core(db.store.clone(), clock, &config);
    let app = tocsin::http::router(tocsin::http::AppState::new(core).with_slack(Some(
        tocsin::http::SlackInbound {
            signing_secret: SECRET.into(),
            client: None,
        },
    )));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slack/commands", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // `status 1` needs an incident to read.
    let http = reqwest::Client::new();
    let send = move |http: reqwest::Client, text: String, trigger: String| {
        let url = url.clone();
        async move {
            let form = serde_urlencoded::to_string([
                ("team_id", "T0001"),
                ("channel_id", "C0GENERAL"),
                ("user_id", ALICE),
                ("command", "/incident"),
                ("text", text.as_str()),
                ("response_url", "http://127.0.0.1:9/unused"),
                ("trigger_id", trigger.as_str()),
            ])
            .unwrap();
            let timestamp = chrono::Utc::now().timestamp().to_string();
            let signature =
                adapters::slack::verify::sign(SECRET.as_bytes(), &timestamp, form.as_bytes());
            let started = Instant::now();
            let response = http
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-slack-request-timestamp", timestamp)
                .header("x-slack-signature", signature)
                .body(form)
                .send()
                .await
                .expect("request");
            let status = response.status();
            let body = response.bytes().await.expect("body");
            let took = started.elapsed();
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            took
        }
    };
    send(
        http.clone(),
        "declare sev3 Bench seed".into(),
        "seed".into(),
    )
    .await;

    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let (http, next, send) = (http.clone(), next.clone(), send.clone());
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return latencies;
                }
                let text = if text == "declare" {
                    format!("declare sev3 Bench incident {i}")
                } else {
                    text.to_owned()
                };
                latencies.push(send(http.clone(), text, format!("trigger-{i}")).await);
            }
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    let elapsed = started.elapsed();
    server.abort();
    latencies.sort();
    format!(
        "/incident {text}: {requests} requests, {concurrency} in flight: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        requests as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().unwrap().as_secs_f64() * 1000.0,
    )
}

#[tokio::main]
async fn main() {
    let requests = arg("--requests", 2_000);
    let concurrency = arg("--concurrency", 50);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before: {}; {} cores",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for text in ["help", "status 1", "declare"] {
            db::on(backend, move |db| async move {
                println!(
                    "{backend:?}: {}",
                    run(db, text, requests, concurrency).await
                );
            })
            .await;
        }
    }
}
