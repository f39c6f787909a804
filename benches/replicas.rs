//! Scaling out on one PostgreSQL database: alerts ingested per second and pages delivered
//! per second with one `tocsin serve` process, then with three, in one run.
//!
//! Each phase gets a fresh database (on the server `BENCH_DATABASE_URL` or else
//! `TEST_DATABASE_URL` names; default: local, user postgres), migrated with `tocsin migrate`,
//! then N release-built `tocsin serve` processes on it. Clients post Alertmanager webhook
//! bodies (the shape of `../shared/fixtures/alerts/alertmanager/`, every alert distinct) in
//! batches over several keep-alive connections, spreading requests round-robin over the
//! replicas' URLs, for a fixed time. Every alert is critical and pages one user through a
//! webhook notify rule whose receiver runs in this process; it counts distinct first pages
//! (alert, user, level, attempt 1) and when they arrived, until every accepted alert was
//! paged or nothing new came for a while.
//!
//! Optionally (`--python`), `../shared/bench/alert_ingest_load.py` loads one replica on a
//! fresh database of its own in the same run, for comparability with the reference figures.
//!
//! `cargo bench --bench replicas -- [--seconds N] [--connections N] [--batch N]
//! [--replicas 1,3] [--drain N] [--python]`

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use tokio::process::{Child, Command};

#[path = "../tests/support/serve.rs"]
mod serve;

const BIN: &str = env!("CARGO_BIN_EXE_tocsin");
const KEY: &str = "bench-replicas-alertmanager-key";
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/alerts/alertmanager/webhook_v4_firing_2.json"
);
const PYTHON_LOAD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/bench/alert_ingest_load.py"
);

struct Args {
    seconds: u64,
    connections: usize,
    batch: usize,
    replicas: Vec<usize>,
    /// Longest wait for pages after the load stops, in seconds.
    drain: u64,
    python: bool,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 15,
        connections: 8,
        batch: 100,
        replicas: vec![1, 3],
        drain: 180,
        python: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let number = |v: String| -> u64 {
            v.parse()
                .unwrap_or_else(|_| panic!("`{v}` is not a whole number"))
        };
        match flag.as_str() {
            "--seconds" => args.seconds = number(value()),
            "--connections" => args.connections = number(value()) as usize,
            "--batch" => args.batch = number(value()) as usize,
            "--drain" => args.drain = number(value()),
            "--replicas" => {
                args.replicas = value()
                    .split(',')
                    .map(|n| number(n.trim().to_owned()) as usize)
                    .collect()
            }
            "--python" => args.python = true,
            _ => {} // cargo bench passes `--bench`; ignore what is not ours
        }
    }
    assert!(
        args.replicas.iter().all(|n| *n > 0),
        "--replicas: counts must be positive"
    );
    args
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// A fresh database on the bench's PostgreSQL server, dropped by [`Scratch::remove`].
struct Scratch {
    server_url: String,
    database: String,
    url: String,
}

fn server_url() -> String {
    ["BENCH_DATABASE_URL", "TEST_DATABASE_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

/// `url` with its database (the path) replaced by `database`, keeping any query.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .and_then(|s| base[s + 3..].find('/').map(|p| s + 3 + p))
        .unwrap_or(base.len());
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

impl Scratch {
    async fn create() -> Self {
        let server_url = server_url();
        let database = format!("tocsin_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server_url)
            .await
            .unwrap_or_else(|e| panic!("connecting to PostgreSQL at {server_url}: {e}"));
        // The name is ours (`tocsin_bench_` and hex digits), never input.
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("creating database {database}: {e}"));
        let _ = admin.close().await;
        let url = with_database(&server_url, &database);
        Scratch {
            server_url,
            database,
            url,
        }
    }

    async fn remove(self) {
        if let Ok(mut admin) = PgConnection::connect(&self.server_url).await {
            let _ = sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            )))
            .execute(&mut admin)
            .await;
        }
    }
}

/// First pages seen by the receiver: when each distinct one arrived, and how many
/// requests came in all (a page sent twice counts once in `first`, twice in `posts`).
#[derive(Default)]
struct Pages {
    first: HashMap<String, Instant>,
    posts: u64,
}

type Shared = Arc<Mutex<Pages>>;

async fn receiver() -> (String, Shared) {
    let pages: Shared = Arc::default();
    async fn page(State(pages): State<Shared>, body: Bytes) {
        let now = Instant::now();
        let Ok(page) = serde_json::from_slice::<Value>(&body) else {
            return;
        };
        let key = format!(
            "{}|{}|{}|{}",
            page["alert"]["id"].as_str().unwrap_or_default(),
            page["user"]["id"].as_str().unwrap_or_default(),
            page["level"],
            page["attempt"],
        );
        let mut pages = pages.lock().expect("receiver lock");
        pages.posts += 1;
        if page["attempt"].as_i64() == Some(1) {
            pages.first.entry(key).or_insert(now);
        }
    }
    let app = Router::new()
        .route("/page", axum::routing::post(page))
        .with_state(pages.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding the receiver");
    let url = format!("http://{}/page", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });
    (url, pages)
}

/// One user paged by webhook at once for every critical alert; later attempts an hour
/// apart, so a phase sees only first pages.
fn config(webhook: &str) -> String {
    // Pages once (the hour between attempts outlasts the run), and no rate limit.
    let site = serve::one_webhook_site(webhook, "BENCH_AM_KEY", "1h");
    format!("{site}\n[limits]\ninbound_per_second = 1000000\ninbound_burst = 1000000\n")
}

fn tocsin(config: &std::path::Path, database_url: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("TOCSIN_CONFIG", config)
        .env("DATABASE_URL", database_url)
        .env("TOCSIN_LISTEN", "127.0.0.1:0")
        .env("BENCH_AM_KEY", KEY)
        .env("TOCSIN_WEBHOOK_SECRET", "bench-replicas-webhook-secret")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

/// `tocsin serve` once it listens: the process and its base URL.
async fn serve(config: &std::path::Path, database_url: &str) -> (Child, String) {
    let mut command = tocsin(config, database_url);
    command.arg("serve").stderr(Stdio::inherit());
    serve::start_serving(command).await
}

/// Builds bodies like the fixture: its first alert as the template, each copy with its own
/// instance, summary and fingerprint.
struct Bodies {
    envelope: Value,
    alert: Value,
    tag: String,
}

impl Bodies {
    fn new(tag: &str) -> Self {
        let text = std::fs::read_to_string(FIXTURE)
            .unwrap_or_else(|e| panic!("reading the fixture {FIXTURE}: {e}"));
        let mut envelope: Value = serde_json::from_str(&text).expect("the fixture is JSON");
        let alert = envelope["alerts"][0].clone();
        envelope["alerts"] = json!([]);
        Bodies {
            envelope,
            alert,
            tag: tag.to_owned(),
        }
    }

    fn batch(&self, seq: u64, size: usize) -> Vec<u8> {
        let alerts: Vec<Value> = (0..size)
            .map(|i| {
                let mut alert = self.alert.clone();
                let instance = format!("{}-{seq}-{i}:8080", self.tag);
                alert["labels"]["instance"] = json!(instance);
                alert["annotations"]["summary"] =
                    json!(format!("p99 latency above 2s on {instance}"));
                alert["fingerprint"] = json!(format!("{}{seq:010x}{i:04x}", self.tag));
                alert
            })
            .collect();
        let mut body = self.envelope.clone();
        body["alerts"] = Value::Array(alerts);
        serde_json::to_vec(&body).expect("JSON")
    }
}

struct Load {
    accepted_alerts: u64,
    requests: u64,
    errors: HashMap<String, u64>,
    p50_ms: f64,
    p99_ms: f64,
    elapsed: Duration,
}

/// Posts batches round-robin over `bases` from `connections` clients for `seconds`.
async fn load(bases: &[String], tag: &str, args: &Args) -> Load {
    let urls: Arc<Vec<String>> = Arc::new(
        bases
            .iter()
            .map(|b| format!("{b}/api/v1/integrations/{KEY}/alertmanager"))
            .collect(),
    );
    let bodies = Arc::new(Bodies::new(tag));
    let seq = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut clients = Vec::new();
    for _ in 0..args.connections {
        let (urls, bodies, seq, batch) = (urls.clone(), bodies.clone(), seq.clone(), args.batch);
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut accepted = 0u64;
            let mut errors: HashMap<String, u64> = HashMap::new();
            while Instant::now() < deadline {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let url = &urls[(n % urls.len() as u64) as usize];
                let body = bodies.batch(n, batch);
                let sent = Instant::now();
                match http
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                {
                    Ok(response) => {
                        let status = response.status();
                        let _ = response.bytes().await;
                        if status.is_success() {
                            accepted += batch as u64;
                        } else {
                            *errors.entry(status.as_u16().to_string()).or_default() += 1;
                        }
                    }
                    Err(e) => {
                        let kind = if e.is_timeout() {
                            "timeout"
                        } else {
                            "transport"
                        };
                        *errors.entry(kind.to_owned()).or_default() += 1;
                    }
                }
                latencies.push(sent.elapsed());
            }
            (latencies, accepted, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut accepted_alerts = 0;
    let mut errors: HashMap<String, u64> = HashMap::new();
    for client in clients {
        let (l, a, e) = client.await.expect("client task");
        latencies.extend(l);
        accepted_alerts += a;
        for (k, v) in e {
            *errors.entry(k).or_default() += v;
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Load {
        accepted_alerts,
        requests: latencies.len() as u64,
        errors,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        elapsed,
    }
}

struct Phase {
    replicas: usize,
    load: Load,
    alerts_per_s: f64,
    pages: usize,
    posts: u64,
    notifications_per_s: f64,
    /// Every accepted alert was paged before the drain ran out.
    complete: bool,
    /// Seconds from the start of the load to the first page.
    first_page_s: Option<f64>,
    load_before: String,
    load_after: String,
}

/// Waits for the first page of every accepted alert; gives up after `drain` seconds in
/// all, or when pages had started and nothing new arrived for 30 seconds.
async fn drain(pages: &Shared, expected: u64, drain: u64) -> Drained {
    const QUIET: Duration = Duration::from_secs(30);
    let until = Instant::now() + Duration::from_secs(drain);
    let mut last_count = 0;
    let mut last_change = Instant::now();
    loop {
        let count = pages.lock().expect("receiver lock").first.len();
        if count as u64 >= expected {
            break;
        }
        if count != last_count {
            last_count = count;
            last_change = Instant::now();
        }
        if Instant::now() >= until || (count > 0 && last_change.elapsed() >= QUIET) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pages = pages.lock().expect("receiver lock");
    let count = pages.first.len();
    let first = pages.first.values().min();
    let last = pages.first.values().max();
    let rate = match (first, last) {
        (Some(first), Some(last)) if last > first => {
            count as f64 / last.duration_since(*first).as_secs_f64()
        }
        _ => 0.0,
    };
    Drained {
        pages: count,
        posts: pages.posts,
        per_second: rate,
        complete: count as u64 >= expected,
        first: first.copied(),
    }
}

struct Drained {
    pages: usize,
    posts: u64,
    per_second: f64,
    complete: bool,
    first: Option<Instant>,
}

async fn phase(replicas: usize, args: &Args) -> Phase {
    let scratch = Scratch::create().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let (webhook, pages) = receiver().await;
    let config = dir.path().join("tocsin.toml");
    std::fs::write(&config, self::config(&webhook)).expect("writing the configuration");
    let migrated = tocsin(&config, &scratch.url)
        .arg("migrate")
        .stdout(Stdio::null())
        .status()
        .await
        .expect("running tocsin migrate");
    assert!(migrated.success(), "tocsin migrate failed");
    let mut processes = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..replicas {
        let (child, base) = serve(&config, &scratch.url).await;
        processes.push(child);
        bases.push(base);
    }
    let load_before = load_avg();
    let started = Instant::now();
    let load = load(&bases, &format!("r{replicas}"), args).await;
    let drained = drain(&pages, load.accepted_alerts, args.drain).await;
    let load_after = load_avg();
    for mut child in processes {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    scratch.remove().await;
    Phase {
        replicas,
        alerts_per_s: load.accepted_alerts as f64 / load.elapsed.as_secs_f64(),
        load,
        pages: drained.pages,
        posts: drained.posts,
        notifications_per_s: drained.per_second,
        complete: drained.complete,
        first_page_s: drained
            .first
            .map(|f| f.duration_since(started).as_secs_f64()),
        load_before,
        load_after,
    }
}

/// `alert_ingest_load.py` against one replica on a fresh database: its JSON line.
async fn python_phase(args: &Args) -> Value {
    let scratch = Scratch::create().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let (webhook, _pages) = receiver().await;
    let config = dir.path().join("tocsin.toml");
    std::fs::write(&config, self::config(&webhook)).expect("writing the configuration");
    let (mut child, base) = serve(&config, &scratch.url).await;
    let output = Command::new("python3")
        .arg(PYTHON_LOAD)
        .args([
            "--url",
            &format!("{base}/api/v1/integrations/{KEY}/alertmanager"),
        ])
        .args(["--format", "am-webhook"])
        .args(["--batch", &args.batch.to_string()])
        .args(["--seconds", &args.seconds.to_string()])
        .args(["--connections", &args.connections.to_string()])
        .output()
        .await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    scratch.remove().await;
    match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| json!({"error": "no JSON line in the script's output"})),
        Ok(out) => json!({"error": String::from_utf8_lossy(&out.stderr).trim().to_owned()}),
        Err(e) => json!({"error": format!("running python3: {e}")}),
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let load_start = load_avg();
    println!(
        "load average before: {load_start}; {} CPUs; {} connections, batch {}, {} s per phase",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.connections,
        args.batch,
        args.seconds
    );
    let mut phases = Vec::new();
    for &replicas in &args.replicas {
        let phase = phase(replicas, &args).await;
        println!(
            "{} replica(s): {:.0} alerts/s accepted, {:.0} pages/s delivered ({} of {} paged{})",
            phase.replicas,
            phase.alerts_per_s,
            phase.notifications_per_s,
            phase.pages,
            phase.load.accepted_alerts,
            if phase.complete {
                ""
            } else {
                ", drain gave up"
            },
        );
        phases.push(phase);
    }
    let python = if args.python {
        Some(python_phase(&args).await)
    } else {
        None
    };
    let load_end = load_avg();
    let by = |n: usize| phases.iter().find(|p| p.replicas == n);
    let ratio = |f: fn(&Phase) -> f64| match (by(1), by(3)) {
        (Some(one), Some(three)) if f(one) > 0.0 => Some(f(three) / f(one)),
        _ => None,
    };
    let line = json!({
        "bench": "replicas",
        "connections": args.connections,
        "batch": args.batch,
        "seconds": args.seconds,
        "phases": phases.iter().map(|p| json!({
            "replicas": p.replicas,
            "alerts_per_s": p.alerts_per_s.round(),
            "accepted_alerts": p.load.accepted_alerts,
            "requests": p.load.requests,
            "errors": p.load.errors,
            "p50_ms": (p.load.p50_ms * 10.0).round() / 10.0,
            "p99_ms": (p.load.p99_ms * 10.0).round() / 10.0,
            "pages": p.pages,
            "page_posts": p.posts,
            "notifications_per_s": p.notifications_per_s.round(),
            "all_paged": p.complete,
            "first_page_after_s": p.first_page_s.map(|s| (s * 10.0).round() / 10.0),
            "loadavg_before": p.load_before,
            "loadavg_after": p.load_after,
        })).collect::<Vec<_>>(),
        "ratio_3_vs_1": {
            "alerts_per_s": ratio(|p| p.alerts_per_s).map(|r| (r * 100.0).round() / 100.0),
            "notifications_per_s": ratio(|p| p.notifications_per_s).map(|r| (r * 100.0).round() / 100.0),
        },
        "python_one_replica": python,
        "loadavg_start": load_start,
        "loadavg_end": load_end,
    });
    println!("{line}");
    println!(
        "| replicas | alerts/s | accepted | requests | errors | p50 ms | p99 ms | pages | page posts | pages/s | load before | load after |"
    );
    println!("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---|");
    for p in &phases {
        let mut errors: Vec<_> = p
            .load
            .errors
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        errors.sort();
        println!(
            "| {} | {:.0} | {} | {} | {} | {:.1} | {:.1} | {} | {} | {:.0} | {} | {} |",
            p.replicas,
            p.alerts_per_s,
            p.load.accepted_alerts,
            p.load.requests,
            if errors.is_empty() {
                "-".to_owned()
            } else {
                errors.join(" ")
            },
            p.load.p50_ms,
            p.load.p99_ms,
            p.pages,
            p.posts,
            p.notifications_per_s,
            p.load_before,
            p.load_after,
        );
    }
    if let Some(a) = ratio(|p| p.alerts_per_s) {
        println!("ratio 3 vs 1 replicas: alerts/s {a:.2}");
    }
    if let Some(n) = ratio(|p| p.notifications_per_s) {
        println!("ratio 3 vs 1 replicas: pages/s {n:.2}");
    }
    println!("load average after: {load_end}");
}
