//! Discord's deadline, measured: the time from a signed interaction (an `/incident`
//! application command) to Tocsin's HTTP answer, over loopback, with 50 requests in flight
//! at once (Discord allows 3 s; our goal is p99 under 100 ms). Three commands: `help` (no database), `status 1` (reads) and
//! `declare` (a durable transaction with its timeline entry and jobs), on SQLite and
//! PostgreSQL (`TEST_DATABASE_URL`, default local).
//!
//! `cargo bench --bench discord_interactions -- [--requests N] [--concurrency N]`

#[path = "../bot-core/tests/common/mod.rs"]
#[allow(unused_macros, unused_imports)]
mod db;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bot_core::{Clock, SystemClock};
use db::Backend;

const SECRET: [u8; 32] = [9; 32];
/// alice's Discord id in tocsin.example.toml.
const ALICE: &str = "80351110224678912";

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
    let app = tocsin::http::router(tocsin::http::AppState::new(core).with_discord(Some(
        tocsin::http::DiscordInbound {
            public_key: adapters::discord::verify::public_key_hex(&SECRET),
            client: None,
        },
    )));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/discord/interactions",
        listener.local_addr().unwrap()
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // `status 1` needs an incident to read.
    let http = reqwest::Client::new();
    let send = move |http: reqwest::Client, text: String, trigger: String| {
        let url = url.clone();
        async move {
            // `text` is the grammar: the verb, then the rest as the command's options.
            let (verb, rest) = text.split_once(' ').unwrap_or((text.as_str(), ""));
            let options = match verb {
                "declare" => serde_json::json!([
                    { "type": 3, "name": "severity", "value": "sev3" },
                    { "type": 3, "name": "title", "value": rest.trim_start_matches("sev3 ") }
                ]),
                "status" => serde_json::json!([{ "type": 4, "name": "incident", "value": 1 }]),
                _ => serde_json::json!([]),
            };
            let body = serde_json::json!({
                "type": 2, "id": trigger, "application_id": "1", "token": "t", "version": 1,
                "guild_id": "2", "channel_id": "3",
                "member": { "user": { "id": ALICE, "username": "alice" }, "roles": [] },
                "data": { "type": 1, "name": "incident", "id": "4",
                    "options": [{ "type": 1, "name": verb, "options": options }] }
            })
            .to_string();
            let timestamp = chrono::Utc::now().timestamp().to_string();
            let signature = adapters::discord::verify::sign(&SECRET, &timestamp, body.as_bytes());
            let started = Instant::now();
            let response = http
                .post(&url)
                .header("content-type", "application/json")
                .header(adapters::discord::verify::TIMESTAMP_HEADER, timestamp)
                .header(adapters::discord::verify::SIGNATURE_HEADER, signature)
                .body(body)
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
    send(http.clone(), "declare sev3 Bench seed".into(), "999".into()).await;

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
                latencies.push(send(http.clone(), text, format!("{}", 1_000_000 + i)).await);
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
