//! PostgreSQL: shared by any number of replicas. Rows that a change reads and then writes
//! are locked with `FOR UPDATE`; due jobs are claimed with `FOR UPDATE SKIP LOCKED`, so
//! replicas never run the same job and never wait on each other's claims.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::sql::impl_store;

pub struct PostgresStore {
    pool: PgPool,
    jobs_signal: std::sync::Arc<tokio::sync::Notify>,
}

impl PostgresStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(Self {
            pool,
            jobs_signal: Default::default(),
        })
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

impl super::sql::Dialect for PostgresStore {
    const NAME: &'static str = "postgres";
    const INCIDENT_FOR_UPDATE: &'static str = "SELECT id, number, title, severity, status, \
        commander, communications_lead, responders, services, declared_by, declared_at, \
        updated_at, resolved_at FROM incidents WHERE id = $1 FOR UPDATE";
    const ALERT_FOR_UPDATE: &'static str = "SELECT * FROM alerts WHERE id = $1 FOR UPDATE";
    const OPEN_ALERTS_BY_KEYS: &'static str = "SELECT * FROM alerts WHERE service = $1 \
        AND status <> 'resolved' AND dedup_key IN (SELECT jsonb_array_elements_text($2)) \
        FOR UPDATE";
    const CLAIM_JOBS: &'static str = "WITH due AS (SELECT id FROM jobs \
            WHERE queue IN (SELECT jsonb_array_elements_text($4)) \
              AND ((state = 'queued' AND run_at <= $3) OR (state = 'running' AND lease_until <= $3)) \
            ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED) \
        UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, lease_owner = $1, \
            lease_until = $2, updated_at = $3 \
        FROM due WHERE jobs.id = due.id \
        RETURNING jobs.id, jobs.queue, jobs.kind, jobs.payload, jobs.state, jobs.run_at, \
            jobs.attempts, jobs.max_attempts, jobs.lease_until, jobs.last_error, \
            jobs.created_at, jobs.updated_at";
    const NEXT_JOB_DUE: &'static str = "SELECT MIN(CASE WHEN state = 'queued' THEN run_at \
        ELSE lease_until END) FROM jobs \
        WHERE state IN ('queued', 'running') AND queue IN (SELECT jsonb_array_elements_text($1))";
    // Conflicts with itself and with every write, not with reads: the old directory stays
    // readable until the new one commits.
    const LOCK_DIRECTORY: Option<&'static str> =
        Some("LOCK TABLE users, user_identities, teams, services IN SHARE ROW EXCLUSIVE MODE");
}

impl_store!(PostgresStore, PgConnection, Postgres);
