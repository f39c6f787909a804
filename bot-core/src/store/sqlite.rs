//! SQLite, the embedded default: one file next to the binary, nothing to install.
//!
//! SQLite has one writer at a time, so writes go through a single-connection pool and
//! start with `BEGIN IMMEDIATE` (taking the write lock up front, so a transaction never
//! fails half-way on a lock upgrade); reads use their own pool and run beside it in WAL mode.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::sql::impl_store;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    jobs_signal: super::JobSignals,
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
}

impl super::sql::Dialect for SqliteStore {
    const NAME: &'static str = "sqlite";
    const INCIDENT_FOR_UPDATE: &'static str = "SELECT id, number, title, severity, status, \
        commander, communications_lead, responders, services, declared_by, declared_at, \
        updated_at, resolved_at FROM incidents WHERE id = $1";
    const ALERT_FOR_UPDATE: &'static str = "SELECT * FROM alerts WHERE id = $1";
    const OPEN_ALERTS_BY_KEYS: &'static str = "SELECT * FROM alerts WHERE service = $1 \
        AND status <> 'resolved' AND dedup_key IN (SELECT value FROM json_each($2))";
    const CLAIM_JOBS: &'static str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, \
        lease_owner = $1, lease_until = $2, updated_at = $3 \
        WHERE id IN (SELECT id FROM jobs \
            WHERE queue IN (SELECT value FROM json_each($4)) \
              AND ((state = 'queued' AND run_at <= $3) OR (state = 'running' AND lease_until <= $3)) \
            ORDER BY run_at LIMIT $5) \
        RETURNING id, queue, kind, payload, state, run_at, attempts, max_attempts, lease_until, \
            last_error, created_at, updated_at";
    const OPEN_ALERTS_PAGED_TO: &'static str = "SELECT a.id FROM alerts a WHERE a.status = 'open' \
        AND EXISTS (SELECT 1 FROM timeline t WHERE t.alert_id = a.id AND t.kind = 'paged' \
            AND json_extract(t.data, '$.user') = $1) ORDER BY a.id DESC";
    const ESCALATION_EPOCH_FOR_UPDATE: &'static str =
        "SELECT epoch FROM escalations WHERE alert_id = $1";
    const NEXT_JOB_DUE: &'static str = "SELECT MIN(CASE WHEN state = 'queued' THEN run_at \
        ELSE lease_until END) FROM jobs \
        WHERE state IN ('queued', 'running') AND queue IN (SELECT value FROM json_each($1))";
    // `BEGIN IMMEDIATE` already makes every write transaction the only one.
    const LOCK_DIRECTORY: Option<&'static str> = None;
}

impl_store!(SqliteStore, SqliteConnection, Sqlite);
super::statuspage_sql::impl_statuspage_store!(SqliteStore, SqliteConnection, Sqlite);
super::postmortem_sql::impl_postmortem_store!(SqliteStore, SqliteConnection, Sqlite);
super::action_items_sql::impl_action_item_store!(SqliteStore, SqliteConnection, Sqlite);
super::reports_sql::impl_report_store!(SqliteStore, SqliteConnection, Sqlite);
