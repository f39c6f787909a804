//! SQLite, the embedded default: one file next to the binary, nothing to install.
//!
//! SQLite has one writer at a time, so writes go through a single-connection pool and
//! start with `BEGIN IMMEDIATE` (taking the write lock up front, so a transaction never
//! fails half-way on a lock upgrade); reads use their own pool and run beside it in WAL mode.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::sql::impl_store;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    jobs_signal: super::JobSignals,
    /// Whether this process's first job claim has taken back the jobs a dead process left
    /// running (see [`SqliteStore::begin_claim`]).
    orphans_reclaimed: AtomicBool,
}

impl SqliteStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

    /// Opens (creating if missing) the database at `url` (`sqlite://tocsin.db`).
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut writer = SqlitePoolOptions::new().max_connections(1);
        if in_memory {
            // The database dies with its last connection: the pool must never retire it
            // (by default it does after 10 idle minutes, or 30 minutes of age).
            writer = writer
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let writer = writer.connect_with(options.clone()).await?;
        // An in-memory database exists once per connection: readers must share the writer.
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options.read_only(true))
                .await?
        };
        Ok(Self {
            writer,
            reader,
            jobs_signal: Default::default(),
            orphans_reclaimed: AtomicBool::new(false),
        })
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// One process uses a SQLite file, so it leads everything.
    pub(super) async fn lead(
        &self,
        _work: &str,
    ) -> super::StoreResult<Option<Box<dyn super::Leadership>>> {
        Ok(Some(Box::new(super::SoleProcess)))
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    /// A job claim's transaction. The first one in this process first makes every job
    /// still `running` due at once: only `tocsin serve` claims jobs, and only one `serve`
    /// uses a SQLite file at a time (it holds the file's lock), so those jobs belong to a
    /// process that died, and would otherwise wait out their lease (a minute) before a
    /// restarted process pages again. None of this process's jobs can be among them: a job
    /// runs only after a claim, and this is the first. The writer pool has one connection,
    /// so no other claim can start before this transaction ends.
    async fn begin_claim(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        if !self.orphans_reclaimed.swap(true, Ordering::AcqRel) {
            let reclaimed = sqlx::query(
                "UPDATE jobs SET lease_until = $1 WHERE state = 'running' AND lease_until > $1",
            )
            .bind(now)
            .execute(&mut *tx)
            .await
            .inspect_err(|_| self.orphans_reclaimed.store(false, Ordering::Release))?
            .rows_affected();
            if reclaimed > 0 {
                tracing::info!(
                    jobs = reclaimed,
                    "took back jobs a stopped process left running"
                );
            }
        }
        Ok(tx)
    }
}

impl super::sql::Dialect for SqliteStore {
    const NAME: &'static str = "sqlite";
    const INCIDENT_FOR_UPDATE: &'static str = "SELECT id, number, title, severity, status, \
        commander, communications_lead, responders, services, declared_by, declared_at, \
        updated_at, resolved_at FROM incidents WHERE id = $1";
    const ALERT_FOR_UPDATE: &'static str = "SELECT * FROM alerts WHERE id = $1";
    const OPEN_ALERTS_BY_KEYS: &'static str = "SELECT * FROM alerts WHERE service = $1 \
        AND status <> 'resolved' AND dedup_key IN (SELECT value FROM json_each($2))";
    // Queued jobs come from `jobs_queued_by_run_at` in `run_at` order, so a claim reads only
    // as many rows as it takes, whatever the backlog; jobs whose lease ran out come first.
    const CLAIM_JOBS: &'static str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, \
        lease_owner = $1, lease_until = $2, updated_at = $3 \
        WHERE id IN (SELECT id FROM (\
            SELECT id, 0 AS rank, lease_until AS due_at FROM jobs \
                WHERE state = 'running' AND lease_until <= $3 \
                  AND queue IN (SELECT value FROM json_each($4)) \
            UNION ALL \
            SELECT id, 1, run_at FROM (SELECT id, run_at FROM jobs j \
                WHERE state = 'queued' AND run_at <= $3 \
                  AND queue IN (SELECT value FROM json_each($4)) \
                  AND (json_extract(j.payload, '$.order') IS NULL OR NOT EXISTS (SELECT 1 FROM jobs e \
                      WHERE e.queue = j.queue AND e.state IN ('queued', 'running') \
                      AND json_extract(e.payload, '$.order') = json_extract(j.payload, '$.order') \
                      AND (e.created_at < j.created_at OR (e.created_at = j.created_at AND e.id < j.id)))) \
                ORDER BY run_at LIMIT $5)) \
            ORDER BY rank, due_at LIMIT $5) \
        RETURNING id, queue, kind, payload, state, run_at, attempts, max_attempts, lease_until, \
            last_error, created_at, updated_at";
    const OPEN_ALERTS_PAGED_TO: &'static str = "SELECT a.id FROM alerts a WHERE a.status = 'open' \
        AND EXISTS (SELECT 1 FROM timeline t WHERE t.alert_id = a.id AND t.kind = 'paged' \
            AND json_extract(t.data, '$.user') = $1) ORDER BY a.id DESC";
    const ESCALATION_EPOCH_FOR_UPDATE: &'static str =
        "SELECT epoch, cycle, level, attempt FROM escalations WHERE alert_id = $1";
    const NEXT_JOB_DUE: &'static str = "SELECT MIN(due_at) FROM (\
        SELECT due_at FROM (SELECT run_at AS due_at FROM jobs j WHERE state = 'queued' \
            AND queue IN (SELECT value FROM json_each($1)) \
            AND (json_extract(j.payload, '$.order') IS NULL OR NOT EXISTS (SELECT 1 FROM jobs e \
                WHERE e.queue = j.queue AND e.state IN ('queued', 'running') \
                AND json_extract(e.payload, '$.order') = json_extract(j.payload, '$.order') \
                AND (e.created_at < j.created_at OR (e.created_at = j.created_at AND e.id < j.id)))) \
            ORDER BY run_at LIMIT 1) \
        UNION ALL \
        SELECT MIN(lease_until) FROM jobs WHERE state = 'running' \
            AND queue IN (SELECT value FROM json_each($1)))";
    // `BEGIN IMMEDIATE` already makes every write transaction the only one.
    const LOCK_DIRECTORY: Option<&'static str> = None;
}

impl_store!(SqliteStore, SqliteConnection, Sqlite);
super::statuspage_sql::impl_statuspage_store!(SqliteStore, SqliteConnection, Sqlite);
super::postmortem_sql::impl_postmortem_store!(SqliteStore, SqliteConnection, Sqlite);
super::action_items_sql::impl_action_item_store!(SqliteStore, SqliteConnection, Sqlite);
super::reports_sql::impl_report_store!(SqliteStore, SqliteConnection, Sqlite);

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use crate::model::NewJob;
    use crate::store::Store;

    use super::SqliteStore;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[tokio::test]
    async fn a_restarted_process_takes_back_at_once_the_jobs_a_dead_one_left_running() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("tocsin.db").display());
        let t0 = at("2026-11-24T03:00:00Z");
        let lease = Duration::seconds(60);
        let queues = vec!["core".to_owned()];

        let dead = SqliteStore::connect(&url).await.unwrap();
        dead.migrate().await.unwrap();
        dead.enqueue(&[NewJob::new("core", "test.job", serde_json::json!({}), t0)])
            .await
            .unwrap();
        let first = dead
            .claim_jobs(&queues, uuid::Uuid::new_v4(), t0, t0 + lease, 10)
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        // Within the same process a lease is respected: another worker must wait it out.
        let t1 = t0 + Duration::seconds(1);
        let other = dead
            .claim_jobs(&queues, uuid::Uuid::new_v4(), t1, t1 + lease, 10)
            .await
            .unwrap();
        assert!(other.is_empty(), "{other:?}");
        dead.writer.close().await;
        drop(dead);

        // The next process, a second later, runs it again without waiting for the lease.
        let restarted = SqliteStore::connect(&url).await.unwrap();
        let again = restarted
            .claim_jobs(&queues, uuid::Uuid::new_v4(), t1, t1 + lease, 10)
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, first[0].id);
        assert_eq!(again[0].attempts, 2);
        // And only its first claim does so: its own running job keeps its lease.
        let t2 = t1 + Duration::seconds(1);
        let later = restarted
            .claim_jobs(&queues, uuid::Uuid::new_v4(), t2, t2 + lease, 10)
            .await
            .unwrap();
        assert!(later.is_empty(), "{later:?}");
    }
}
