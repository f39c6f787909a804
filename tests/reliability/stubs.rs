//! What every scenario shares: the run's size and seed, a webhook receiver that counts
//! pages by what they are and by their `Idempotency-Key`, `tocsin serve` processes, and an
//! alert sender that retries the way Alertmanager does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_tocsin");
pub const KEY: &str = "reliability-alertmanager-key";
/// Attempts per alert under [`config`]'s policy: one level, three attempts two seconds
/// apart, no repeat, so every alert calls for exactly this many pages.
pub const ATTEMPTS: usize = 3;

/// Whether this is the full run (`TOCSIN_RELIABILITY=full`) rather than CI's reduced one.
pub fn full() -> bool {
    std::env::var("TOCSIN_RELIABILITY").is_ok_and(|v| v == "full")
}

/// CI's figure, or the full run's.
pub fn size(ci: usize, full: usize) -> usize {
    if self::full() { full } else { ci }
}

/// SplitMix64: small, seeded, and the same on every machine, so that a run's kill moments
/// can be replayed with `TOCSIN_RELIABILITY_SEED`.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `TOCSIN_RELIABILITY_SEED`, or from the time; prints the seed.
    pub fn for_scenario(name: &str) -> Self {
        let seed = match std::env::var("TOCSIN_RELIABILITY_SEED") {
            Ok(s) => s.parse().expect("TOCSIN_RELIABILITY_SEED is a number"),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_nanos() as u64,
        };
        println!("{name}: seed {seed} (replay with TOCSIN_RELIABILITY_SEED={seed})");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)` milliseconds.
    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low).max(1))
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One page as a receiver got it.
#[derive(Debug, Clone)]
pub struct Received {
    pub alert_id: String,
    pub dedup_key: String,
    pub attempt: i64,
    pub user: String,
    pub key: String,
}

pub type Pages = Arc<Mutex<Vec<Received>>>;

/// A webhook receiver on loopback keeping every request; returns its URL.
pub async fn receiver() -> (String, Pages) {
    let pages: Pages = Arc::default();
    async fn page(State(pages): State<Pages>, headers: HeaderMap, body: axum::Json<Value>) {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        pages.lock().unwrap().push(Received {
            alert_id: text(&body["alert"]["id"]),
            dedup_key: text(&body["alert"]["dedup_key"]),
            attempt: body["attempt"].as_i64().unwrap_or(0),
            user: text(&body["user"]["id"]),
            key: headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
        });
    }
    let app = Router::new()
        .route("/page", axum::routing::post(page))
        .with_state(pages.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/page", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, pages)
}

/// A site with one service whose policy pages one person [`ATTEMPTS`] times over a
/// webhook at `webhook`.
pub fn config(webhook: &str) -> String {
    crate::support::one_webhook_site(webhook, "RELIABILITY_AM_KEY", "2s")
}

/// Writes [`config`] into `dir`; returns its path.
pub fn write_config(dir: &Path, webhook: &str) -> std::path::PathBuf {
    let path = dir.join("tocsin.toml");
    std::fs::write(&path, config(webhook)).unwrap();
    path
}

/// `tocsin serve` on `database_url`, once it listens; returns the process and its URL.
pub async fn serve(config: &Path, database_url: &str) -> (Child, String) {
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .env("TOCSIN_CONFIG", config)
        .env("DATABASE_URL", database_url)
        .env("TOCSIN_LISTEN", "127.0.0.1:0")
        .env("RELIABILITY_AM_KEY", KEY)
        .env("TOCSIN_WEBHOOK_SECRET", "reliability-webhook-secret")
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::null());
    crate::support::start_serving(command).await
}

/// SIGKILL, and wait for the process to be gone.
pub async fn kill(child: &mut Child) {
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// Alertmanager's webhook body for alerts `range`, each its own fingerprint (so its own
/// alert in Tocsin).
pub fn firing(range: std::ops::Range<usize>) -> Value {
    let alerts: Vec<Value> = range
        .map(|i| {
            json!({
                "status": "firing",
                "labels": {"alertname": "Down", "instance": format!("checkout-{i}"), "severity": "critical"},
                "annotations": {"summary": format!("checkout-{i} is down")},
                "startsAt": "2026-11-24T03:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": format!("fp{i:05}"),
            })
        })
        .collect();
    json!({"version": "4", "status": "firing", "receiver": "tocsin", "groupKey": "{}", "alerts": alerts})
}

/// What a sender saw, by status (`error` for no HTTP answer).
#[derive(Debug, Default, Clone)]
pub struct Sent {
    pub answers: BTreeMap<String, usize>,
    /// Batches answered 2xx.
    pub accepted: Vec<std::ops::Range<usize>>,
    /// The longest a request waited for its answer (or for failing).
    pub slowest: Duration,
}

/// The processes a sender may post to (more than one behind a "load balancer").
pub type Targets = Arc<Mutex<Vec<String>>>;

/// Sends alerts `0..count` in batches of `batch`, one batch every `pace`, to one of
/// `targets` (picked at random), as Alertmanager does: a batch that got no answer, a 5xx or
/// a 429 is sent again (after Retry-After when given, else 100 ms) until it gets a 2xx. Any
/// 4xx but 429 fails the test.
pub async fn send_alerts(
    targets: Targets,
    count: usize,
    batch: usize,
    pace: Duration,
    seed: u64,
) -> Sent {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let mut rng = Rng(seed);
    let mut sent = Sent::default();
    let mut next = tokio::time::Instant::now();
    for start in (0..count).step_by(batch) {
        tokio::time::sleep_until(next).await;
        next += pace;
        let range = start..(start + batch).min(count);
        let body = firing(range.clone());
        loop {
            let base = {
                let targets = targets.lock().unwrap();
                targets[rng.below(targets.len())].clone()
            };
            let asked = Instant::now();
            let answer = http
                .post(format!("{base}/api/v1/integrations/{KEY}/alertmanager"))
                .json(&body)
                .send()
                .await;
            sent.slowest = sent.slowest.max(asked.elapsed());
            let (label, wait) = match answer {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        *sent.answers.entry(status.as_u16().to_string()).or_default() += 1;
                        sent.accepted.push(range.clone());
                        break;
                    }
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(Duration::from_secs);
                    assert!(
                        status.is_server_error() || status.as_u16() == 429,
                        "alerts refused with {status}: {}",
                        response.text().await.unwrap_or_default()
                    );
                    let label = match (status.as_u16(), retry_after) {
                        (503, Some(_)) => "503 with Retry-After".to_owned(),
                        (code, _) => code.to_string(),
                    };
                    (label, retry_after.unwrap_or(Duration::from_millis(100)))
                }
                Err(_) => ("no answer".to_owned(), Duration::from_millis(100)),
            };
            *sent.answers.entry(label).or_default() += 1;
            tokio::time::sleep(wait).await;
        }
    }
    sent
}

/// Every page that arrived, judged against `alerts` alerts × [`ATTEMPTS`] to one person.
#[derive(Debug)]
pub struct Tally {
    pub expected: usize,
    /// Distinct (alert, attempt, person, channel) that arrived at least once.
    pub delivered: usize,
    pub lost: usize,
    /// Deliveries beyond the first of one (alert, attempt, person, channel) under another
    /// key (another job), plus alerts created twice for one fingerprint: real bugs.
    pub duplicated: usize,
    /// Requests repeating a key already received: a process died after the receiver took
    /// the page and before it was recorded; a receiver honouring the key drops them.
    pub redelivered_same_key: usize,
    /// Pages outside the expected set (an attempt past the policy's last, say).
    pub unexpected: usize,
}

impl Tally {
    pub fn of(pages: &[Received], alerts: usize) -> Self {
        let expected_keys: BTreeSet<(String, i64)> = (0..alerts)
            .flat_map(|i| (1..=ATTEMPTS as i64).map(move |a| (format!("fp{i:05}"), a)))
            .collect();
        let mut ids_per_fingerprint: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        let mut keys_per_page: HashMap<(&str, i64, &str), BTreeSet<&str>> = HashMap::new();
        let mut requests_per_key: HashMap<&str, usize> = HashMap::new();
        for p in pages {
            ids_per_fingerprint
                .entry(&p.dedup_key)
                .or_default()
                .insert(&p.alert_id);
            keys_per_page
                .entry((&p.dedup_key, p.attempt, &p.user))
                .or_default()
                .insert(&p.key);
            *requests_per_key.entry(&p.key).or_default() += 1;
        }
        let arrived: BTreeSet<(String, i64)> = keys_per_page
            .keys()
            .map(|(fp, attempt, _)| ((*fp).to_owned(), *attempt))
            .collect();
        let delivered = expected_keys.intersection(&arrived).count();
        let duplicated = keys_per_page.values().map(|k| k.len() - 1).sum::<usize>()
            + ids_per_fingerprint
                .values()
                .map(|ids| ids.len() - 1)
                .sum::<usize>();
        Tally {
            expected: expected_keys.len(),
            delivered,
            lost: expected_keys.len() - delivered,
            duplicated,
            redelivered_same_key: requests_per_key.values().map(|n| n - 1).sum(),
            unexpected: arrived.difference(&expected_keys).count(),
        }
    }

    /// One line of counts, and the test fails on any loss, duplicate or unexpected page.
    pub fn report(&self, scenario: &str, kills: usize, started: Instant) {
        println!(
            "{scenario}: expected {} delivered {} lost {} duplicated {} \
             redelivered-same-key {} unexpected {} kills {kills} seconds {:.1}",
            self.expected,
            self.delivered,
            self.lost,
            self.duplicated,
            self.redelivered_same_key,
            self.unexpected,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(
            (self.lost, self.duplicated, self.unexpected),
            (0, 0, 0),
            "{scenario}: {self:?}"
        );
    }
}

/// Waits until every expected page arrived and no job is left to run, so that nothing can
/// page later; returns the pages.
pub async fn settle(pages: &Pages, alerts: usize, database_url: &str, patience: Duration) {
    let store = bot_core::store::connect(database_url).await.unwrap();
    crate::support::eventually("every attempt of every alert", patience, || async {
        (Tally::of(&pages.lock().unwrap(), alerts).lost == 0).then_some(())
    })
    .await;
    crate::support::eventually("every job finished", patience, || async {
        let counts = store.counts().await.ok()?;
        let unfinished = counts
            .jobs_by_state
            .iter()
            .any(|(state, n)| (state == "queued" || state == "running") && *n > 0);
        (!unfinished).then_some(())
    })
    .await;
}
