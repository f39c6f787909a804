//! PostgreSQL: shared by any number of replicas. Rows that a change reads and then writes
//! are locked with `FOR UPDATE`; due jobs are claimed with `FOR UPDATE SKIP LOCKED`, so
//! replicas never run the same job and never wait on each other's claims.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::sql::impl_store;

/// sqlx 0.9.0 leaves Nagle's algorithm on for its TCP connections (sqlx issue 4335; fixed
/// upstream after 0.9.0). A statement larger than the socket's send buffer, such as the
/// multi-row insert of a batch of alerts, then goes out in two writes, and the second waits
/// for the server's delayed ACK: 40 ms a statement. Until a release carries the fix, each new
/// connection finds its own socket by the local port the server reports and sets
/// TCP_NODELAY on it, as libpq and the fixed sqlx do.
mod nodelay {
    /// Sets TCP_NODELAY on this process's TCP socket bound to local port `port`. Returns
    /// whether one was found.
    #[cfg(target_os = "linux")]
    pub(super) fn disable_nagle(port: u16) -> std::io::Result<bool> {
        use std::os::fd::{BorrowedFd, RawFd};

        for entry in std::fs::read_dir("/proc/self/fd")? {
            let Some(fd) = entry?
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<RawFd>().ok())
            else {
                continue;
            };
            // SAFETY: the descriptor is only borrowed for getsockname and setsockopt. Should
            // another thread close it meanwhile, those calls fail with EBADF; should the
            // number be reused at once, they act on a socket that is not ours only if it
            // has the same local port, where TCP_NODELAY is harmless.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            let socket = socket2::SockRef::from(&fd);
            let local = socket.local_addr().ok().and_then(|a| a.as_socket());
            if local.is_some_and(|a| a.port() == port) && socket.tcp_nodelay().is_ok() {
                socket.set_tcp_nodelay(true)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn disable_nagle(_port: u16) -> std::io::Result<bool> {
        Ok(false)
    }

    #[cfg(all(test, target_os = "linux"))]
    mod tests {
        #[test]
        fn finds_its_socket_by_local_port_and_turns_nagle_off() {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            assert!(!client.nodelay().unwrap());
            let port = client.local_addr().unwrap().port();
            assert!(super::disable_nagle(port).unwrap());
            assert!(client.nodelay().unwrap());
        }
    }
}

pub struct PostgresStore {
    pool: PgPool,
    jobs_signal: super::JobSignals,
}

impl PostgresStore {
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // NULL over a Unix socket, which has no Nagle to turn off.
                    let port: Option<i32> = sqlx::query_scalar("SELECT inet_client_port()")
                        .fetch_one(&mut *conn)
                        .await?;
                    if let Some(port) = port.and_then(|p| u16::try_from(p).ok()) {
                        match nodelay::disable_nagle(port) {
                            Ok(true) => {}
                            Ok(false) => {
                                tracing::debug!(port, "no socket found to set TCP_NODELAY on")
                            }
                            Err(e) => {
                                tracing::debug!(port, error = %e, "could not set TCP_NODELAY")
                            }
                        }
                    }
                    Ok(())
                })
            })
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

    /// A session advisory lock on a connection taken out of the pool, keyed by a stable
    /// hash of `work`. The lock lives as long as that connection: the lease holds it.
    pub(super) async fn lead(
        &self,
        work: &str,
    ) -> super::StoreResult<Option<Box<dyn super::Leadership>>> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("tocsin-leader:{work}").as_bytes());
        let key = i64::from_be_bytes(digest[..8].try_into().expect("eight bytes"));
        let mut conn = self.pool.acquire().await?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await?;
        if !locked {
            return Ok(None);
        }
        Ok(Some(Box::new(PgLease { conn })))
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// A job claim's transaction. Replicas share the database, so a job another process
    /// leased is only taken over once its lease expires.
    async fn begin_claim(
        &self,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin_write().await
    }
}

impl super::sql::Dialect for PostgresStore {
    const NAME: &'static str = "postgres";
    const INCIDENT_FOR_UPDATE: &'static str = "SELECT id, number, title, severity, status, \
        commander, communications_lead, responders, services, declared_by, declared_at, \
        updated_at, resolved_at FROM incidents WHERE id = $1 FOR UPDATE";
    const ALERT_FOR_UPDATE: &'static str = "SELECT * FROM alerts WHERE id = $1 FOR UPDATE";
    const OPEN_ALERTS_BY_KEYS: &'static str = "SELECT * FROM alerts WHERE service = $1 \
        AND status <> 'resolved' \
        AND dedup_key = ANY(ARRAY(SELECT jsonb_array_elements_text($2))) FOR UPDATE";
    // Queued jobs come from `jobs_queued_by_run_at` in `run_at` order, so a claim reads only
    // as many rows as it takes, whatever the backlog; jobs whose lease ran out come first.
    const CLAIM_JOBS: &'static str = "WITH queued AS (SELECT id FROM jobs j \
            WHERE state = 'queued' AND run_at <= $3 \
              AND queue = ANY(ARRAY(SELECT jsonb_array_elements_text($4))) \
              AND (j.payload->>'order' IS NULL OR NOT EXISTS (SELECT 1 FROM jobs e \
                  WHERE e.queue = j.queue AND e.state IN ('queued', 'running') \
                  AND e.payload->>'order' = j.payload->>'order' \
                  AND (e.created_at, e.id) < (j.created_at, j.id))) \
            ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED), \
        expired AS (SELECT id FROM jobs \
            WHERE state = 'running' AND lease_until <= $3 \
              AND queue = ANY(ARRAY(SELECT jsonb_array_elements_text($4))) \
            ORDER BY lease_until LIMIT $5 FOR UPDATE SKIP LOCKED) \
        UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, lease_owner = $1, \
            lease_until = $2, updated_at = $3 \
        WHERE jobs.id IN (SELECT id FROM (SELECT id, 0 AS rank FROM expired \
            UNION ALL SELECT id, 1 FROM queued) due ORDER BY rank LIMIT $5) \
        RETURNING jobs.id, jobs.queue, jobs.kind, jobs.payload, jobs.state, jobs.run_at, \
            jobs.attempts, jobs.max_attempts, jobs.lease_until, jobs.last_error, \
            jobs.created_at, jobs.updated_at";
    const OPEN_ALERTS_PAGED_TO: &'static str = "SELECT a.id FROM alerts a WHERE a.status = 'open' \
        AND EXISTS (SELECT 1 FROM timeline t WHERE t.alert_id = a.id AND t.kind = 'paged' \
            AND t.data->>'user' = $1) ORDER BY a.id DESC";
    const ESCALATION_EPOCH_FOR_UPDATE: &'static str =
        "SELECT epoch, cycle, level, attempt FROM escalations WHERE alert_id = $1 FOR UPDATE";
    const NEXT_JOB_DUE: &'static str = "SELECT LEAST(\
        (SELECT run_at FROM jobs j WHERE state = 'queued' \
            AND queue = ANY(ARRAY(SELECT jsonb_array_elements_text($1))) \
            AND (j.payload->>'order' IS NULL OR NOT EXISTS (SELECT 1 FROM jobs e \
                WHERE e.queue = j.queue AND e.state IN ('queued', 'running') \
                AND e.payload->>'order' = j.payload->>'order' \
                AND (e.created_at, e.id) < (j.created_at, j.id))) \
            ORDER BY run_at LIMIT 1), \
        (SELECT MIN(lease_until) FROM jobs WHERE state = 'running' \
            AND queue = ANY(ARRAY(SELECT jsonb_array_elements_text($1)))))";
    // Conflicts with itself and with every write, not with reads: the old directory stays
    // readable until the new one commits.
    const LOCK_DIRECTORY: Option<&'static str> =
        Some("LOCK TABLE users, user_identities, teams, services IN SHARE ROW EXCLUSIVE MODE");
}

impl_store!(PostgresStore, PgConnection, Postgres);
super::statuspage_sql::impl_statuspage_store!(PostgresStore, PgConnection, Postgres);
super::postmortem_sql::impl_postmortem_store!(PostgresStore, PgConnection, Postgres);
super::action_items_sql::impl_action_item_store!(PostgresStore, PgConnection, Postgres);
super::reports_sql::impl_report_store!(PostgresStore, PgConnection, Postgres);

/// The connection that holds a leader's advisory lock.
struct PgLease {
    conn: sqlx::PgConnection,
}

#[async_trait::async_trait]
impl super::Leadership for PgLease {
    async fn still_leading(&mut self) -> bool {
        sqlx::query("SELECT 1")
            .execute(&mut self.conn)
            .await
            .is_ok()
    }
}
