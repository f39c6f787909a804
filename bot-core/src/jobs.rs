//! The durable job runner. Jobs are rows (see [`crate::store::Store::claim_jobs`]); a
//! [`WorkerPool`] claims the due ones under a lease, runs their handler, and records the
//! outcome. A worker that dies leaves its lease to expire, and the job runs again.
//!
//! Idle workers sleep on the [`Clock`] until the next job is due, or until the store says a
//! job was written, so nothing polls and a manual clock drives every retry in tests.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use tokio::task::JoinSet;
use tracing::{Instrument, info_span, warn};
use uuid::Uuid;

use crate::clock::Clock;
use crate::model::{Job, Retry};
use crate::store::{Store, StoreError};

/// Why a job did not succeed, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth trying again: a timeout, a 5xx, a rate limit. `after` overrides the backoff
    /// (a peer's `Retry-After`).
    #[error("{message}")]
    Retry {
        message: String,
        after: Option<std::time::Duration>,
    },
    /// Will never succeed (the payload names something that does not exist): dead at once.
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    pub fn retry(message: impl std::fmt::Display) -> Self {
        JobError::Retry {
            message: message.to_string(),
            after: None,
        }
    }

    pub fn permanent(message: impl std::fmt::Display) -> Self {
        JobError::Permanent(message.to_string())
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) | StoreError::Corrupt(_) | StoreError::Unstorable(_) => {
                JobError::permanent(e)
            }
            other => JobError::retry(other),
        }
    }
}

/// Runs jobs of some kinds. Handlers must be idempotent: a job whose worker died after the
/// work but before recording it runs again.
#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, job: &Job) -> Result<(), JobError>;
}

/// Which handler runs which job kind, in any queue or (see [`for_queue`](Self::for_queue))
/// in one queue only.
#[derive(Default, Clone)]
pub struct Handlers {
    by_kind: HashMap<String, Arc<dyn JobHandler>>,
    /// Handlers of one queue's jobs, by queue and kind: each chat platform runs the same
    /// kinds (`chat.status_update`…) for its own `chat:<platform>` queue.
    by_queue: HashMap<(String, String), Arc<dyn JobHandler>>,
}

impl Handlers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on(mut self, kind: &str, handler: Arc<dyn JobHandler>) -> Self {
        self.by_kind.insert(kind.to_owned(), handler);
        self
    }

    pub fn merge(mut self, other: Handlers) -> Self {
        self.by_kind.extend(other.by_kind);
        self.by_queue.extend(other.by_queue);
        self
    }

    /// These handlers for jobs of `queue` only, so that merging another set with the same
    /// kinds for another queue does not replace them.
    pub fn for_queue(self, queue: &str) -> Self {
        let mut by_queue = self.by_queue;
        by_queue.extend(
            self.by_kind
                .into_iter()
                .map(|(kind, handler)| ((queue.to_owned(), kind), handler)),
        );
        Self {
            by_kind: HashMap::new(),
            by_queue,
        }
    }

    fn handler(&self, job: &Job) -> Option<&Arc<dyn JobHandler>> {
        self.by_queue
            .get(&(job.queue.clone(), job.kind.clone()))
            .or_else(|| self.by_kind.get(&job.kind))
    }
}

/// How long a peer's rate limit (a retry with `Retry-After`) may hold a job without using up
/// its attempts: a platform that answers 429 for an hour delays its messages, it does not
/// lose them. Past a day from the job's creation, such retries count like any other.
pub const RATE_LIMIT_PATIENCE: Duration = Duration::days(1);

/// How long a job waits before its `attempt`-th retry: exponential from 5 s, capped at one
/// hour, with jitter in [50 %, 100 %] so that jobs failing together do not retry together.
/// The jitter is derived from the job id, so a test with a manual clock knows the moment.
pub fn backoff(job_id: Uuid, attempt: i32) -> Duration {
    let exponent = attempt.clamp(1, 20) - 1;
    let base_ms = (5_000i64 << exponent).min(3_600_000);
    let jitter = (job_id.as_u128() % 1000) as i64; // 0..=999 per mille
    Duration::milliseconds(base_ms / 2 + base_ms / 2 * jitter / 1000)
}

#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Queues this pool serves: `core`, `chat:<platform>`.
    pub queues: Vec<String>,
    /// Jobs run at once by this pool.
    pub concurrency: usize,
    /// How long a claim holds before another worker may take the job over.
    pub lease: Duration,
    /// Upper bound on an idle sleep, so that jobs written by another process are seen even
    /// if no notification reaches this one.
    pub idle_poll: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            queues: vec!["core".into()],
            concurrency: 8,
            lease: Duration::seconds(60),
            idle_poll: Duration::seconds(2),
        }
    }
}

pub struct WorkerPool {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    handlers: Arc<Handlers>,
    config: PoolConfig,
    owner: Uuid,
}

impl WorkerPool {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        handlers: Handlers,
        config: PoolConfig,
    ) -> Self {
        Self {
            store,
            clock,
            handlers: Arc::new(handlers),
            config,
            owner: Uuid::new_v4(),
        }
    }

    /// Claims and runs every job due now, in batches of `concurrency`; returns how many
    /// ran. Tests call this after advancing a manual clock; [`run`](Self::run) loops on it.
    pub async fn run_due(&self) -> Result<usize, StoreError> {
        let mut ran = 0;
        loop {
            let now = self.clock.now();
            // Claiming writes (on SQLite it takes the one write lock), so look first: an
            // idle pool woken for nothing must not stand in the way of ingestion.
            match self.store.next_job_due(&self.config.queues).await? {
                Some(due) if due <= now => {}
                _ => return Ok(ran),
            }
            let jobs = self
                .store
                .claim_jobs(
                    &self.config.queues,
                    self.owner,
                    now,
                    now + self.config.lease,
                    self.config.concurrency as i64,
                )
                .await?;
            if jobs.is_empty() {
                return Ok(ran);
            }
            ran += jobs.len();
            let mut running = JoinSet::new();
            for job in jobs {
                let store = self.store.clone();
                let clock = self.clock.clone();
                let handlers = self.handlers.clone();
                let owner = self.owner;
                let span = info_span!("job", job_id = %job.id, job_kind = %job.kind, attempt = job.attempts);
                running.spawn(
                    async move { execute(&*store, &*clock, &handlers, owner, job).await }
                        .instrument(span),
                );
            }
            // Every job of the batch is seen through before an error is returned: dropping
            // the set would cut off jobs still running, and they would run again.
            let mut first_error = None;
            while let Some(done) = running.join_next().await {
                match done {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        first_error.get_or_insert(e);
                    }
                    Err(panic) => warn!(error = %panic, "job task panicked; its lease will expire"),
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }
    }

    /// Runs jobs until `shutdown` completes. Between batches it sleeps until the next job
    /// is due, a job is written in this process, or `idle_poll` passes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let signal = self.store.job_signal(&self.config.queues);
        loop {
            // Registered before looking for work, so a job written meanwhile still wakes us.
            let notified = signal.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wake_at = match self.run_due().await {
                Ok(_) => {
                    let cap = self.clock.now() + self.config.idle_poll;
                    match self.store.next_job_due(&self.config.queues).await {
                        Ok(Some(due)) => due.min(cap),
                        Ok(None) => cap,
                        Err(e) => {
                            warn!(error = %e, "looking for the next due job");
                            cap
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, "claiming due jobs");
                    self.clock.now() + Duration::seconds(1)
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = &mut notified => {}
                _ = self.clock.sleep_until(wake_at) => {}
            }
        }
    }
}

async fn execute(
    store: &dyn Store,
    clock: &dyn Clock,
    handlers: &Handlers,
    owner: Uuid,
    job: Job,
) -> Result<(), StoreError> {
    let outcome = if job.attempts > job.max_attempts {
        // Claimed again after leases kept expiring: the handler crashes its worker.
        Err(JobError::permanent(format!(
            "gave up after {} attempts whose leases expired",
            job.max_attempts
        )))
    } else {
        match handlers.handler(&job) {
            Some(handler) => handler.run(&job).await,
            None => Err(JobError::permanent(format!(
                "no handler for job kind `{}`",
                job.kind
            ))),
        }
    };
    let now = clock.now();
    let recorded = match outcome {
        Ok(()) => {
            metrics_outcome(&job, "done");
            store.complete_job(job.id, owner, now).await?
        }
        Err(error) => {
            let retry = match &error {
                // The peer said when to come back: waiting is not failing, for a day.
                JobError::Retry {
                    after: Some(after), ..
                } if now - job.created_at < RATE_LIMIT_PATIENCE => Some(Retry {
                    at: now + Duration::from_std(*after).unwrap_or(Duration::hours(1)),
                    counts: false,
                }),
                JobError::Retry { .. } if job.attempts >= job.max_attempts => None,
                JobError::Retry {
                    after: Some(after), ..
                } => Some(Retry::at(
                    now + Duration::from_std(*after).unwrap_or(Duration::hours(1)),
                )),
                JobError::Retry { after: None, .. } => {
                    Some(Retry::at(now + backoff(job.id.0, job.attempts)))
                }
                JobError::Permanent(_) => None,
            };
            match retry {
                Some(Retry { at, .. }) => {
                    warn!(error = %error, retry_at = %at, "job failed; will retry");
                    metrics_outcome(&job, "retry");
                }
                None => {
                    warn!(error = %error, "job failed for good; moved to dead");
                    metrics_outcome(&job, "dead");
                }
            }
            store
                .fail_job(job.id, owner, &error.to_string(), retry, now)
                .await?
        }
    };
    if !recorded {
        warn!("lease was lost before the job finished; another worker owns it now");
    }
    Ok(())
}

fn metrics_outcome(job: &Job, outcome: &'static str) {
    metrics::counter!("tocsin_jobs_finished_total", "kind" => job.kind.clone(), "outcome" => outcome)
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails with its own name, so a test sees which handler ran.
    struct Named(&'static str);

    #[async_trait]
    impl JobHandler for Named {
        async fn run(&self, _job: &Job) -> Result<(), JobError> {
            Err(JobError::permanent(self.0))
        }
    }

    fn job(queue: &str, kind: &str) -> Job {
        let at = chrono::DateTime::UNIX_EPOCH;
        Job {
            id: crate::model::JobId::new(),
            queue: queue.into(),
            kind: kind.into(),
            payload: serde_json::json!({}),
            state: crate::model::JobState::Running,
            run_at: at,
            attempts: 1,
            max_attempts: 10,
            lease_until: None,
            last_error: None,
            created_at: at,
            updated_at: at,
        }
    }

    async fn ran_by(handlers: &Handlers, queue: &str, kind: &str) -> String {
        let job = job(queue, kind);
        match handlers.handler(&job) {
            Some(h) => h.run(&job).await.unwrap_err().to_string(),
            None => "nobody".into(),
        }
    }

    #[tokio::test]
    async fn each_platform_runs_its_own_queue_of_the_same_kinds() {
        let alpha = Handlers::new()
            .on("chat.status_update", Arc::new(Named("alpha")))
            .for_queue("chat:alpha");
        let beta = Handlers::new()
            .on("chat.status_update", Arc::new(Named("beta")))
            .for_queue("chat:beta");
        let handlers = Handlers::new()
            .on("escalation.step", Arc::new(Named("core")))
            .merge(alpha)
            .merge(beta);
        assert_eq!(
            ran_by(&handlers, "chat:alpha", "chat.status_update").await,
            "alpha"
        );
        assert_eq!(
            ran_by(&handlers, "chat:beta", "chat.status_update").await,
            "beta"
        );
        assert_eq!(ran_by(&handlers, "core", "escalation.step").await, "core");
        assert_eq!(
            ran_by(&handlers, "chat:gamma", "chat.status_update").await,
            "nobody"
        );
    }

    #[test]
    fn backoff_doubles_from_five_seconds_within_jitter_and_caps_at_an_hour() {
        let id = Uuid::from_u128(999); // jitter 999 per mille: the top of the range
        assert_eq!(backoff(id, 1), Duration::milliseconds(4_997));
        let low = Uuid::from_u128(1000); // jitter 0: half the base
        assert_eq!(backoff(low, 1), Duration::milliseconds(2_500));
        assert_eq!(backoff(low, 2), Duration::milliseconds(5_000));
        assert_eq!(backoff(low, 3), Duration::milliseconds(10_000));
        assert_eq!(backoff(low, 30), Duration::milliseconds(1_800_000));
    }
}
