//! Report generation over a year of history: 1,000,000 alerts (with their escalations and
//! about 1.3 million page entries in the timeline) and 10,000 incidents (with postmortems
//! and action items), on SQLite and PostgreSQL. Times `Core::report` (what
//! `GET /api/v1/reports`, `/reports` and `tocsin report` run) for ranges of 7, 30, 90 and
//! 365 days, for all services and for one, and each store query of the 30-day report:
//! first without the indexes of `0012_reports.sql`, then with them, so the figures show
//! what each index buys.
//!
//! `cargo bench --bench reports -- [--alerts N] [--incidents N] [--runs N]`
//! PostgreSQL is the server `TEST_DATABASE_URL` names; without it PostgreSQL is skipped
//! with a note. Each run uses fresh databases of its own. The data is loaded with
//! multi-row INSERTs straight through sqlx (the store's own write paths would take hours
//! for a million alerts, and are not what is measured).

#[path = "../bot-core/tests/common/mod.rs"]
#[allow(unused_macros, unused_imports)]
mod db;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use bot_core::model::{Directory, Role, Service, User};
use bot_core::reports::{ReportQuery, ReportSettings};
use bot_core::store::ReportScope;
use bot_core::{Core, CoreSettings, ManualClock};
use chrono::{DateTime, Duration, Utc};
use db::Backend;
use serde_json::json;
use sqlx::types::Json;
use uuid::Uuid;

const SERVICES: usize = 20;
const USERS: usize = 30;
const ZONES: [&str; 6] = [
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
    "Asia/Tokyo",
    "America/Los_Angeles",
    "Australia/Sydney",
];
const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];
const NOW: &str = "2026-11-26T00:00:00Z";
/// Rows per INSERT: under both backends' bind limits (SQLite 32,766, PostgreSQL 65,535)
/// for the widest table here.
const ROWS: usize = 1_000;
/// Rows per transaction while loading.
const BATCH: usize = 50_000;

struct Args {
    alerts: usize,
    incidents: usize,
    runs: usize,
}

fn args() -> Args {
    let mut args = Args {
        alerts: 1_000_000,
        incidents: 10_000,
        runs: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--alerts" => args.alerts = value(),
            "--incidents" => args.incidents = value(),
            "--runs" => args.runs = value(),
            _ => {} // cargo bench passes `--bench`; ignore what is not ours
        }
    }
    args
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .with_timezone(&Utc)
}

/// A small deterministic generator (SplitMix64), so every run loads the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Roughly log-uniform seconds in `[lo, hi)`: many quick answers, a long tail.
    fn secs(&mut self, lo: f64, hi: f64) -> Duration {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        Duration::milliseconds((lo * (hi / lo).powf(u) * 1000.0) as i64)
    }
}

struct AlertRow {
    id: Uuid,
    service: String,
    key: String,
    severity: &'static str,
    status: &'static str,
    events: i64,
    created: DateTime<Utc>,
    acked: Option<DateTime<Utc>>,
    resolved: Option<DateTime<Utc>>,
    /// (cycle, level) of its escalation, if it started one.
    escalation: Option<(i32, i32)>,
    /// (user, at, channel) of each page entry.
    pages: Vec<(String, DateTime<Utc>, Option<&'static str>)>,
}

fn service_id(i: usize) -> String {
    format!("svc-{i:02}")
}

fn alert_rows(from: usize, to: usize, total: usize, rng: &mut Rng) -> Vec<AlertRow> {
    let start = now() - Duration::days(365);
    let step = Duration::days(365).num_milliseconds() / total as i64;
    (from..to)
        .map(|i| {
            let created = start + Duration::milliseconds(step * i as i64);
            let service = service_id(rng.below(SERVICES as u64) as usize);
            // The last alerts are still open or acknowledged: keys of their own, since the
            // database allows one unresolved alert per service and key.
            let recent = i + 5_000 >= total;
            let acked = (rng.below(10) < 9).then(|| created + rng.secs(5.0, 7200.0));
            let resolved = if recent {
                None
            } else {
                Some(acked.unwrap_or(created) + rng.secs(30.0, 6.0 * 3600.0))
            };
            let status = match (resolved, acked) {
                (Some(_), _) => "resolved",
                (None, Some(_)) => "acknowledged",
                (None, None) => "open",
            };
            let key = if recent {
                format!("open-{i}")
            } else {
                format!("key-{}", rng.below(2_000))
            };
            let escalation =
                (rng.below(10) < 4).then(|| (i32::from(rng.below(10) == 0), rng.below(3) as i32));
            let user = format!("user-{:02}", rng.below(USERS as u64));
            let mut pages = vec![(user.clone(), created, None)];
            if rng.below(10) < 3 {
                pages.push((user.clone(), created + Duration::minutes(1), None));
                pages.push((user, created + Duration::minutes(1), Some("sms")));
            }
            AlertRow {
                id: Uuid::now_v7(),
                service,
                key,
                severity: SEVERITIES[rng.below(4) as usize],
                status,
                events: 1 + rng.below(5) as i64,
                created,
                acked,
                resolved,
                escalation,
                pages,
            }
        })
        .collect()
}

/// The loader for one backend; the same statements on both, so a macro rather than
/// generic code over sqlx's database traits.
macro_rules! loader {
    ($name:ident, $pool:ty, $db:ty) => {
        async fn $name(pool: &$pool, args: &Args) {
            let mut rng = Rng(42);
            let mut done = 0;
            while done < args.alerts {
                let to = (done + BATCH).min(args.alerts);
                let rows = alert_rows(done, to, args.alerts, &mut rng);
                let mut tx = pool.begin().await.expect("begin");
                for chunk in rows.chunks(ROWS) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO alerts (id, service, source, dedup_key, severity, urgency, \
                         summary, details, labels, links, status, event_count, created_at, \
                         last_seen_at, acknowledged_by, acknowledged_at, resolved_by, resolved_at) ",
                    );
                    q.push_values(chunk, |mut b, a| {
                        b.push_bind(a.id)
                            .push_bind(&a.service)
                            .push_bind("generic")
                            .push_bind(&a.key)
                            .push_bind(a.severity)
                            .push_bind("high")
                            .push_bind("bench alert")
                            .push_bind(Json(json!({})))
                            .push_bind(Json(json!({})))
                            .push_bind(Json(json!([])))
                            .push_bind(a.status)
                            .push_bind(a.events)
                            .push_bind(a.created)
                            .push_bind(a.created)
                            .push_bind(a.acked.map(|_| "user:bench"))
                            .push_bind(a.acked)
                            .push_bind(a.resolved.map(|_| "user:bench"))
                            .push_bind(a.resolved);
                    });
                    q.build().execute(&mut *tx).await.expect("alerts");
                    let escalated: Vec<_> = chunk
                        .iter()
                        .filter_map(|a| a.escalation.map(|e| (a, e)))
                        .collect();
                    if !escalated.is_empty() {
                        let mut q = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO escalations (alert_id, policy, epoch, cycle, level, \
                             attempt, level_started_at, state, updated_at) ",
                        );
                        q.push_values(&escalated, |mut b, (a, (cycle, level))| {
                            b.push_bind(a.id)
                                .push_bind("guide")
                                .push_bind(0i32)
                                .push_bind(*cycle)
                                .push_bind(*level)
                                .push_bind(1i32)
                                .push_bind(a.created)
                                .push_bind("exhausted")
                                .push_bind(a.created);
                        });
                        q.build().execute(&mut *tx).await.expect("escalations");
                    }
                    let pages: Vec<_> = chunk
                        .iter()
                        .flat_map(|a| a.pages.iter().map(move |p| (a.id, p)))
                        .collect();
                    for pages in pages.chunks(ROWS) {
                        let mut q = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO timeline (id, alert_id, at, kind, actor, text, data) ",
                        );
                        q.push_values(pages, |mut b, (alert, (user, at, channel))| {
                            let data = match channel {
                                Some(c) => json!({ "user": user, "channel": c, "level": 1 }),
                                None => json!({ "user": user, "level": 1, "attempt": 1 }),
                            };
                            b.push_bind(Uuid::now_v7())
                                .push_bind(*alert)
                                .push_bind(*at)
                                .push_bind("paged")
                                .push_bind("system")
                                .push_bind("paged")
                                .push_bind(Json(data));
                        });
                        q.build().execute(&mut *tx).await.expect("pages");
                    }
                }
                tx.commit().await.expect("commit");
                done = to;
            }

            let start = now() - Duration::days(365);
            let step = Duration::days(365).num_milliseconds() / args.incidents as i64;
            let mut tx = pool.begin().await.expect("begin");
            let incidents: Vec<(Uuid, usize)> =
                (0..args.incidents).map(|i| (Uuid::now_v7(), i)).collect();
            for chunk in incidents.chunks(ROWS) {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO incidents (id, number, title, severity, status, responders, \
                     services, declared_by, declared_at, updated_at, resolved_at) ",
                );
                q.push_values(chunk, |mut b, (id, i)| {
                    let declared = start + Duration::milliseconds(step * *i as i64);
                    let resolved = (i % 20 != 0).then(|| declared + Duration::minutes(30 + (*i % 300) as i64));
                    b.push_bind(*id)
                        .push_bind(*i as i64 + 1)
                        .push_bind("bench incident")
                        .push_bind(format!("sev{}", 1 + i % 4))
                        .push_bind(if resolved.is_some() { "resolved" } else { "investigating" })
                        .push_bind(Json(json!([])))
                        .push_bind(Json(json!([service_id(i % SERVICES)])))
                        .push_bind("user:bench")
                        .push_bind(declared)
                        .push_bind(declared)
                        .push_bind(resolved);
                });
                q.build().execute(&mut *tx).await.expect("incidents");
                let reviewed: Vec<_> = chunk.iter().filter(|(_, i)| i % 5 < 3).collect();
                if reviewed.is_empty() {
                    continue;
                }
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO postmortems (id, incident_id, status, sections, timeline, \
                     created_by, created_at, updated_at, published_at) ",
                );
                q.push_values(&reviewed, |mut b, (id, i)| {
                    let at = start + Duration::milliseconds(step * *i as i64) + Duration::days(2);
                    let published = i % 5 < 2;
                    b.push_bind(Uuid::now_v7())
                        .push_bind(*id)
                        .push_bind(if published { "published" } else { "draft" })
                        .push_bind(Json(json!([])))
                        .push_bind(Json(json!([])))
                        .push_bind("user:bench")
                        .push_bind(at)
                        .push_bind(at)
                        .push_bind(published.then_some(at));
                });
                q.build().execute(&mut *tx).await.expect("postmortems");
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO action_items (id, incident_id, title, state, ticket_status, \
                     created_by, created_at, updated_at) ",
                );
                let items: Vec<_> = reviewed.iter().flat_map(|r| [(*r, "open"), (*r, "done")]).collect();
                q.push_values(&items, |mut b, ((id, i), state)| {
                    let at = start + Duration::milliseconds(step * *i as i64) + Duration::days(2);
                    b.push_bind(Uuid::now_v7())
                        .push_bind(*id)
                        .push_bind("bench action")
                        .push_bind(*state)
                        .push_bind("none")
                        .push_bind("user:bench")
                        .push_bind(at)
                        .push_bind(at);
                });
                q.build().execute(&mut *tx).await.expect("action items");
            }
            sqlx::query("UPDATE counters SET value = $1 WHERE name = 'incident_number'")
                .bind(args.incidents as i64)
                .execute(&mut *tx)
                .await
                .expect("counter");
            tx.commit().await.expect("commit");
        }
    };
}

loader!(load_sqlite, sqlx::SqlitePool, sqlx::Sqlite);
loader!(load_postgres, sqlx::PgPool, sqlx::Postgres);

/// The statements of `0012_reports.sql` (one per `;`), and the names of its indexes.
fn migration(backend: Backend) -> (Vec<String>, Vec<String>) {
    let text = match backend {
        Backend::Sqlite => include_str!("../migrations/sqlite/0012_reports.sql"),
        Backend::Postgres => include_str!("../migrations/postgres/0012_reports.sql"),
    };
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    let statements: Vec<String> = code
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let names = statements
        .iter()
        .filter_map(|s| s.strip_prefix("CREATE INDEX "))
        .filter_map(|s| s.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    (statements, names)
}

fn directory() -> Directory {
    Directory {
        users: (0..USERS)
            .map(|i| User {
                id: format!("user-{i:02}").into(),
                name: format!("User {i}"),
                email: None,
                time_zone: ZONES[i % ZONES.len()].into(),
                phone: None,
                role: Role::Responder,
                chat: Default::default(),
            })
            .collect(),
        teams: Vec::new(),
        services: (0..SERVICES)
            .map(|i| Service {
                id: service_id(i).into(),
                name: service_id(i),
                description: None,
                team: (i < 5).then(|| "team-a".into()),
                escalation_policy: None,
            })
            .collect(),
    }
}

fn ms(d: StdDuration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

/// The median of `runs` timings of `f`.
async fn time<F, Fut, T>(runs: usize, mut f: F) -> StdDuration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        std::hint::black_box(f().await);
        times.push(started.elapsed());
    }
    times.sort();
    times[(times.len() - 1) / 2]
}

/// Report timings on `core`, one table row each.
async fn measure(core: &Core, backend: Backend, indexes: &str, runs: usize) -> Vec<String> {
    let mut rows = Vec::new();
    let cases: [(&str, i64, Option<&str>, Option<&str>); 6] = [
        ("7 days", 7, None, None),
        ("30 days", 30, None, None),
        ("90 days", 90, None, None),
        ("365 days", 365, None, None),
        ("30 days, one service", 30, Some("svc-03"), None),
        ("365 days, one team", 365, None, Some("team-a")),
    ];
    for (name, days, service, team) in cases {
        let query = ReportQuery {
            since: now() - Duration::days(days),
            until: now(),
            service: service.map(Into::into),
            team: team.map(Into::into),
        };
        let report = core.report(&query).await.expect("report");
        let took = time(runs, || core.report(&query)).await;
        rows.push(format!(
            "| {backend:?} | {indexes} | report, {name} | {} | {} alerts, {} pages, {} incidents |",
            ms(took),
            report.alerts.total,
            report.pages.total,
            report.incidents.total
        ));
    }
    let scope = ReportScope {
        since: now() - Duration::days(30),
        until: now(),
        services: None,
    };
    let s = &core.store;
    let parts = [
        (
            "alert groups",
            time(runs, || s.report_alert_groups(&scope)).await,
        ),
        (
            "alert times",
            time(runs, || s.report_alert_times(&scope)).await,
        ),
        (
            "noisiest",
            time(runs, || s.report_noisiest_alerts(&scope, 10)).await,
        ),
        ("pages", time(runs, || s.report_pages(&scope)).await),
        ("incidents", time(runs, || s.report_incidents(&scope)).await),
    ];
    for (name, took) in parts {
        rows.push(format!(
            "| {backend:?} | {indexes} | query {name}, 30 days | {} | |",
            ms(took)
        ));
    }
    rows
}

async fn bench(db: db::Db, backend: Backend, args: &Args) -> Vec<String> {
    let started = Instant::now();
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.expect("sqlite");
            load_sqlite(&pool, args).await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.expect("postgres");
            load_postgres(&pool, args).await;
        }
    }
    let loaded = started.elapsed();
    db.store
        .replace_directory(&directory())
        .await
        .expect("directory");
    let core = Core::new(
        db.store.clone(),
        Arc::new(ManualClock::at(NOW)),
        CoreSettings {
            reports: ReportSettings::default(),
            teams: HashMap::new(),
            ..Default::default()
        },
    );
    let mut rows = vec![format!(
        "{backend:?}: loaded {} alerts and {} incidents in {:.0} s",
        args.alerts,
        args.incidents,
        loaded.as_secs_f64()
    )];
    let (statements, names) = migration(backend);
    let exec = |sql: String| {
        let url = db.url.clone();
        async move {
            match backend {
                Backend::Sqlite => {
                    let pool = sqlx::SqlitePool::connect(&url).await.expect("sqlite");
                    sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                        .execute(&pool)
                        .await
                        .expect(&sql);
                }
                Backend::Postgres => {
                    let pool = sqlx::PgPool::connect(&url).await.expect("postgres");
                    sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                        .execute(&pool)
                        .await
                        .expect(&sql);
                }
            }
        }
    };
    for name in &names {
        exec(format!("DROP INDEX {name}")).await;
    }
    if backend == Backend::Postgres {
        exec("ANALYZE".into()).await;
    }
    rows.extend(measure(&core, backend, "without 0012", args.runs).await);
    let started = Instant::now();
    for statement in statements {
        exec(statement).await;
    }
    if backend == Backend::Postgres {
        exec("ANALYZE".into()).await;
    }
    rows[0].push_str(&format!(
        "; 0012's indexes built in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    rows.extend(measure(&core, backend, "with 0012", args.runs).await);
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
        "load average before: {}; {} CPUs; median of {} runs",
        load_avg(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.runs
    );
    let mut backends = vec![Backend::Sqlite];
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.trim().is_empty()) {
        backends.push(Backend::Postgres);
    } else {
        println!("PostgreSQL skipped: set TEST_DATABASE_URL to a server to bench it too");
    }
    let mut table = vec![
        "| backend | indexes | what | ms | rows |".to_owned(),
        "|---|---|---|---:|---|".to_owned(),
    ];
    let mut notes = Vec::new();
    for backend in backends {
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
