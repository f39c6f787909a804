//! The harness the chat latency benches share: the example configuration's Tocsin on a
//! fresh database, served over loopback; `/incident help`, `status 1` and `declare` sent
//! 50 at a time by a platform's `Signer`; p50/p99 of the time to the HTTP answer. Each
//! bench says only how its platform signs a request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bot_core::{Clock, SystemClock};

use super::db::{self, Backend};

/// How one platform sends `/incident <text>` as `id` (a trigger or interaction id) to Tocsin.
pub trait Signer: Send + Sync + 'static {
    /// The route it posts to (`/slack/commands`).
    fn path(&self) -> &'static str;
    /// The router, set up to accept this platform's signed requests.
    fn state(&self, state: tocsin::http::AppState) -> tocsin::http::AppState;
    /// alice's identity on this platform when tocsin.example.toml does not give her one:
    /// (platform, id), linked before the run so her commands act rather than be refused.
    fn alice(&self) -> Option<(&'static str, &'static str)> {
        None
    }
    /// The signed request.
    fn request(
        &self,
        http: &reqwest::Client,
        url: &str,
        text: &str,
        id: &str,
    ) -> reqwest::RequestBuilder;
}

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

/// Sends `text` once; the time to a 200 answer.
async fn send<S: Signer>(
    signer: &S,
    http: &reqwest::Client,
    url: &str,
    text: &str,
    id: &str,
) -> Duration {
    let started = Instant::now();
    let response = signer
        .request(http, url, text, id)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let body = response.bytes().await.expect("body");
    let took = started.elapsed();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    took
}

async fn run<S: Signer>(
    signer: Arc<S>,
    db: db::Db,
    text: &'static str,
    requests: usize,
    concurrency: usize,
) -> String {
    let config = tocsin::config::Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tocsin.example.toml"
    )))
    .unwrap();
    db.store
        .replace_directory(&tocsin::app::directory(&config))
        .await
        .unwrap();
    if let Some((platform, id)) = signer.alice() {
        db.store
            .link_chat_identity(platform, id, &"alice".into(), chrono::Utc::now())
            .await
            .unwrap();
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let core = tocsin::app::core(db.store.clone(), clock, &config);
    let app = tocsin::http::router(signer.state(tocsin::http::AppState::new(core)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{}", listener.local_addr().unwrap(), signer.path());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // `status 1` needs an incident to read.
    let http = reqwest::Client::new();
    send(&*signer, &http, &url, "declare sev3 Bench seed", "999").await;

    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let (http, next, signer, url) = (http.clone(), next.clone(), signer.clone(), url.clone());
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
                let id = (1_000_000 + i).to_string();
                latencies.push(send(&*signer, &http, &url, &text, &id).await);
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

/// The bench's `main`: `--requests N` (default 2,000) and `--concurrency N` (50), the
/// machine's load first, then each command on SQLite and on PostgreSQL.
pub async fn main<S: Signer>(signer: S) {
    let signer = Arc::new(signer);
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
            let signer = signer.clone();
            db::on(backend, move |db| async move {
                println!(
                    "{backend:?}: {}",
                    run(signer, db, text, requests, concurrency).await
                );
            })
            .await;
        }
    }
}
