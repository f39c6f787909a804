//! Durable jobs end to end: rows written with a state change, claimed under a lease by a
//! `WorkerPool`, retried with backoff, given up on, and taken over when a worker dies. Time
//! is a `ManualClock` moved by the test; nothing here sleeps to wait for anything.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bot_core::jobs::{Handlers, JobError, JobHandler, PoolConfig, WorkerPool, backoff};
use bot_core::model::{
    Actor, Alert, AlertFilter, AlertId, ChannelRef, Directory, Heartbeat, Incident, IncidentChange,
    IncidentFilter, IncidentId, IngestEvent, IngestOutcome, Integration, Job, JobId, JobState,
    NewAlert, NewHeartbeat, NewIncident, NewIntegration, NewJob, NewStatusUpdate, NewTimelineEntry,
    Retry, Role, Service, ServiceId, Severity, StatusUpdate, Subject, TimelineEntry,
    TriggerOutcome, User, UserId,
};
use bot_core::store::{ApiToken, Counts, JobsFor, PostedMessage, Store, StoreError, StoreResult};
use bot_core::{Clock, ManualClock, SystemClock};
use chrono::{DateTime, Duration, Utc};
use common::{Backend, clock, conformance};
use serde_json::json;
use tokio::sync::{Notify, mpsc, oneshot};
use uuid::Uuid;

/// How a test handler answers each run.
type Respond = dyn Fn(&Job) -> Result<(), JobError> + Send + Sync;

/// A handler that counts its runs per job, reports each run on a channel, and answers as
/// `respond` says.
struct Recorder {
    runs: Mutex<HashMap<JobId, u32>>,
    respond: Box<Respond>,
    ran: Option<mpsc::UnboundedSender<JobId>>,
}

impl Recorder {
    fn new(respond: impl Fn(&Job) -> Result<(), JobError> + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            runs: Mutex::default(),
            respond: Box::new(respond),
            ran: None,
        })
    }

    fn succeeding() -> Arc<Self> {
        Self::new(|_| Ok(()))
    }

    /// Succeeds, and sends each job's id on the returned channel after it ran.
    fn reporting() -> (Arc<Self>, mpsc::UnboundedReceiver<JobId>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let recorder = Arc::new(Self {
            runs: Mutex::default(),
            respond: Box::new(|_| Ok(())),
            ran: Some(tx),
        });
        (recorder, rx)
    }

    fn runs_of(&self, id: JobId) -> u32 {
        self.runs.lock().unwrap().get(&id).copied().unwrap_or(0)
    }

    fn total_runs(&self) -> u32 {
        self.runs.lock().unwrap().values().sum()
    }
}

#[async_trait]
impl JobHandler for Recorder {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        *self.runs.lock().unwrap().entry(job.id).or_default() += 1;
        let outcome = (self.respond)(job);
        if let Some(ran) = &self.ran {
            let _ = ran.send(job.id);
        }
        outcome
    }
}

const KIND: &str = "test.record";

fn core() -> Vec<String> {
    vec!["core".to_owned()]
}

fn pool(
    store: &Arc<dyn Store>,
    clock: &ManualClock,
    handler: Arc<Recorder>,
    queues: &[&str],
) -> WorkerPool {
    WorkerPool::new(
        store.clone(),
        Arc::new(clock.clone()),
        Handlers::new().on(KIND, handler),
        PoolConfig {
            queues: queues.iter().map(|q| (*q).to_owned()).collect(),
            ..PoolConfig::default()
        },
    )
}

fn job_at(run_at: DateTime<Utc>) -> NewJob {
    NewJob::new("core", KIND, json!({ "n": 1 }), run_at)
}

/// The next job the handler ran. The timeout is a safety net only: the wait ends as soon
/// as the job has run.
async fn next_run(ran: &mut mpsc::UnboundedReceiver<JobId>) -> JobId {
    tokio::time::timeout(std::time::Duration::from_secs(30), ran.recv())
        .await
        .expect("the pool should have run the job")
        .expect("the handler is alive")
}

async fn enqueue_one(store: &dyn Store, job: NewJob) -> JobId {
    let ids = store.enqueue(&[job]).await.unwrap();
    assert_eq!(ids.len(), 1);
    ids[0]
}

// ---------------------------------------------------------------------------------------

conformance!(
    a_job_written_with_a_state_change_runs_exactly_once,
    a_job_is_not_claimed_before_it_is_due,
    an_expired_lease_lets_another_worker_take_the_job_over,
    a_retryable_failure_queues_the_job_again_after_its_backoff,
    retry_after_overrides_the_backoff_exactly,
    a_rate_limit_longer_than_the_attempts_delays_a_job_without_losing_it,
    a_job_is_dead_after_max_attempts_failures,
    a_permanent_failure_is_dead_at_once,
    a_job_of_an_unknown_kind_is_dead_with_a_message_naming_the_kind,
    next_job_due_is_the_earliest_claimable_moment_of_the_given_queues_only,
    a_pool_claims_only_jobs_of_its_own_queues,
    due_times_compare_as_times_whatever_their_fraction,
    enqueued_jobs_are_listed_by_state_most_recently_updated_first,
    a_running_pool_wakes_for_new_jobs_and_when_the_clock_reaches_a_future_job,
);

async fn a_job_written_with_a_state_change_runs_exactly_once(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    let incident = store
        .create_incident(
            NewIncident {
                id: Default::default(),
                title: "Checkout is failing".into(),
                severity: Severity::Sev1,
                commander: None,
                services: vec![],
                alerts: vec![],
                declared_by: "user:alice".into(),
                declared_at: t,
                idempotency_key: None,
                description: None,
            },
            &|i: &Incident| vec![NewJob::new("core", KIND, json!({ "incident": i.id }), t)],
        )
        .await
        .unwrap();
    let recorder = Recorder::succeeding();
    let workers = pool(&store, &clock, recorder.clone(), &["core"]);

    assert_eq!(workers.run_due().await.unwrap(), 1);
    assert_eq!(workers.run_due().await.unwrap(), 0);
    clock.advance(Duration::hours(1));
    assert_eq!(workers.run_due().await.unwrap(), 0);

    let jobs = store.list_jobs(None, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.payload, json!({ "incident": incident.id }));
    assert_eq!(recorder.runs_of(job.id), 1);
    assert_eq!(recorder.total_runs(), 1);
    assert_eq!(job.state, JobState::Done);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.lease_until, None);
    assert_eq!(job.last_error, None);
    assert_eq!(job.updated_at, t);
}

async fn a_job_is_not_claimed_before_it_is_due(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    let id = enqueue_one(&*store, job_at(t + Duration::minutes(5))).await;
    let recorder = Recorder::succeeding();
    let workers = pool(&store, &clock, recorder.clone(), &["core"]);

    assert_eq!(workers.run_due().await.unwrap(), 0);
    clock.advance(Duration::minutes(5) - Duration::microseconds(1));
    assert_eq!(workers.run_due().await.unwrap(), 0);
    let waiting = store.get_job(id).await.unwrap();
    assert_eq!(waiting.state, JobState::Queued);
    assert_eq!(waiting.attempts, 0);
    assert_eq!(recorder.total_runs(), 0);

    clock.advance(Duration::microseconds(1));
    assert_eq!(workers.run_due().await.unwrap(), 1);
    let done = store.get_job(id).await.unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.updated_at, t + Duration::minutes(5));
    assert_eq!(recorder.runs_of(id), 1);
}

async fn an_expired_lease_lets_another_worker_take_the_job_over(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    let id = enqueue_one(&*store, job_at(t)).await;

    // Worker A claims the job and dies without a word.
    let dead_worker = Uuid::new_v4();
    let lease_until = t + Duration::seconds(60);
    let claimed = store
        .claim_jobs(&core(), dead_worker, t, lease_until, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, id);
    assert_eq!(claimed[0].state, JobState::Running);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].lease_until, Some(lease_until));

    let recorder = Recorder::succeeding();
    let workers = pool(&store, &clock, recorder.clone(), &["core"]);
    assert_eq!(workers.run_due().await.unwrap(), 0);
    clock.set(lease_until - Duration::microseconds(1));
    assert_eq!(workers.run_due().await.unwrap(), 0);
    assert_eq!(recorder.total_runs(), 0);
    assert_eq!(store.get_job(id).await.unwrap().state, JobState::Running);

    clock.set(lease_until);
    assert_eq!(workers.run_due().await.unwrap(), 1);
    assert_eq!(recorder.runs_of(id), 1);
    let done = store.get_job(id).await.unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.attempts, 2);

    // A's late report changes nothing.
    let late = clock.now();
    assert!(!store.complete_job(id, dead_worker, late).await.unwrap());
    assert!(
        !store
            .fail_job(id, dead_worker, "late failure", None, late)
            .await
            .unwrap()
    );
    assert_eq!(store.get_job(id).await.unwrap(), done);
}

async fn a_retryable_failure_queues_the_job_again_after_its_backoff(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    let id = enqueue_one(&*store, job_at(t)).await;
    let recorder = Recorder::new(|job| match job.attempts {
        1 => Err(JobError::retry("upstream answered 503")),
        _ => Ok(()),
    });
    let workers = pool(&store, &clock, recorder.clone(), &["core"]);

    assert_eq!(workers.run_due().await.unwrap(), 1);
    let retry_at = t + backoff(id.0, 1);
    let failed = store.get_job(id).await.unwrap();
    assert_eq!(failed.state, JobState::Queued);
    assert_eq!(failed.run_at, retry_at);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.lease_until, None);
    assert_eq!(failed.last_error.as_deref(), Some("upstream answered 503"));
    assert_eq!(store.next_job_due(&core()).await.unwrap(), Some(retry_at));

    clock.set(retry_at - Duration::microseconds(1));
    assert_eq!(workers.run_due().await.unwrap(), 0);
    clock.set(retry_at);
    assert_eq!(workers.run_due().await.unwrap(), 1);
    let done = store.get_job(id).await.unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.attempts, 2);
    assert_eq!(done.last_error, None);
    assert_eq!(recorder.runs_of(id), 2);
}

async fn retry_after_overrides_the_backoff_exactly(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    let id = enqueue_one(&*store, job_at(t)).await;
    // Limited on its first run (a rate-limited run gives its attempt back, so the attempt
    // count does not tell the runs apart; the recorded error does).
    let recorder = Recorder::new(|job| match job.last_error {
        None => Err(JobError::Retry {
            message: "rate limited".into(),
            after: Some(std::time::Duration::from_millis(90_500)),
        }),
        Some(_) => Ok(()),
    });
    let workers = pool(&store, &clock, recorder.clone(), &["core"]);

    assert_eq!(workers.run_due().await.unwrap(), 1);
    let retry_at = t + Duration::milliseconds(90_500);
    assert_ne!(backoff(id.0, 1), Duration::milliseconds(90_500));
    let failed = store.get_job(id).await.unwrap();
    assert_eq!(failed.state, JobState::Queued);
    assert_eq!(failed.run_at, retry_at);
    assert_eq!(failed.last_error.as_deref(), Some("rate limited"));

    clock.set(retry_at - Duration::microseconds(1));
    assert_eq!(workers.run_due().await.unwrap(), 0);
    clock.set(retry_at);
    assert_eq!(workers.run_due().await.unwrap(), 1);
    assert_eq!(store.get_job(id).await.unwrap().state, JobState::Done);
}

/// A platform answering 429 with `Retry-After: 1` for longer than the job has attempts: the
/// waits give their attempts back, so the message goes out when the limit lifts. Past a
/// day, rate-limited retries count again and the job ends dead after its attempts.
async fn a_rate_limit_longer_than_the_attempts_delays_a_job_without_losing_it(
    store: Arc<dyn Store>,
) {
    let clock = clock();
    let t = clock.now();
    let limited = || JobError::Retry {
        message: "rate limited".into(),
        after: Some(std::time::Duration::from_secs(1)),
    };
    let id = enqueue_one(
        &*store,
        NewJob {
            max_attempts: 3,
            ..job_at(t)
        },
    )
    .await;
    let lifted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let recorder = Recorder::new({
        let lifted = lifted.clone();
        move |_| {
            if lifted.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(limited())
            }
        }
    });
    let workers = pool(&store, &clock, recorder.clone(), &["core"]);
    for second in 0..10 {
        assert_eq!(workers.run_due().await.unwrap(), 1, "second {second}");
        let job = store.get_job(id).await.unwrap();
        assert_eq!(job.state, JobState::Queued);
        assert_eq!(
            job.attempts, 0,
            "a wait the peer asked for uses up no attempt"
        );
        assert_eq!(job.run_at, clock.now() + Duration::seconds(1));
        clock.advance(Duration::seconds(1));
    }
    lifted.store(true, Ordering::SeqCst);
    assert_eq!(workers.run_due().await.unwrap(), 1);
    let done = store.get_job(id).await.unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(recorder.runs_of(id), 11);

    // A day on, the same limit counts: three more rate-limited runs and it is dead.
    lifted.store(false, Ordering::SeqCst);
    let id = enqueue_one(
        &*store,
        NewJob {
            max_attempts: 3,
            ..job_at(clock.now())
        },
    )
    .await;
    clock.advance(bot_core::jobs::RATE_LIMIT_PATIENCE);
    for attempt in 1..=3 {
        assert_eq!(workers.run_due().await.unwrap(), 1, "attempt {attempt}");
        let job = store.get_job(id).await.unwrap();
        assert_eq!(job.attempts, attempt);
        clock.advance(Duration::seconds(1));
    }
    assert_eq!(store.get_job(id).await.unwrap().state, JobState::Dead);
}

async fn a_job_is_dead_after_max_attempts_failures(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    let id = enqueue_one(
        &*store,
        NewJob {
            max_attempts: 3,
            ..job_at(t)
        },
    )
    .await;
    let recorder = Recorder::new(|job| Err(JobError::retry(format!("boom {}", job.attempts))));
    let workers = pool(&store, &clock, recorder.clone(), &["core"]);

    for attempt in 1..=3 {
        assert_eq!(workers.run_due().await.unwrap(), 1, "attempt {attempt}");
        let job = store.get_job(id).await.unwrap();
        assert_eq!(job.attempts, attempt);
        assert_eq!(job.last_error, Some(format!("boom {attempt}")));
        if attempt < 3 {
            assert_eq!(job.state, JobState::Queued);
            assert_eq!(job.run_at, clock.now() + backoff(id.0, attempt));
            clock.set(job.run_at);
        }
    }
    let dead = store.get_job(id).await.unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.lease_until, None);
    assert_eq!(
        store.list_jobs(Some(JobState::Dead), 10).await.unwrap(),
        std::slice::from_ref(&dead)
    );
    assert_eq!(
        store.list_jobs(Some(JobState::Queued), 10).await.unwrap(),
        []
    );
    assert_eq!(
        store.counts().await.unwrap().jobs_by_state,
        [("dead".to_owned(), 1)]
    );
    assert_eq!(store.next_job_due(&core()).await.unwrap(), None);

    clock.advance(Duration::days(1));
    assert_eq!(workers.run_due().await.unwrap(), 0);
    assert_eq!(recorder.runs_of(id), 3);
}

async fn a_permanent_failure_is_dead_at_once(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    let id = enqueue_one(&*store, job_at(t)).await;
    let recorder = Recorder::new(|_| Err(JobError::permanent("channel C1 does not exist")));
    let workers = pool(&store, &clock, recorder.clone(), &["core"]);

    assert_eq!(workers.run_due().await.unwrap(), 1);
    let dead = store.get_job(id).await.unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.attempts, 1);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("channel C1 does not exist")
    );
    assert_eq!(
        store.list_jobs(Some(JobState::Dead), 10).await.unwrap(),
        [dead]
    );
    clock.advance(Duration::days(1));
    assert_eq!(workers.run_due().await.unwrap(), 0);
    assert_eq!(recorder.runs_of(id), 1);
}

async fn a_job_of_an_unknown_kind_is_dead_with_a_message_naming_the_kind(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    let id = enqueue_one(
        &*store,
        NewJob::new("core", "chat.does_not_exist", json!({}), t),
    )
    .await;
    let recorder = Recorder::succeeding();
    let workers = pool(&store, &clock, recorder.clone(), &["core"]);

    assert_eq!(workers.run_due().await.unwrap(), 1);
    let dead = store.get_job(id).await.unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.attempts, 1);
    let error = dead.last_error.unwrap_or_default();
    assert!(error.contains("chat.does_not_exist"), "{error}");
    assert_eq!(recorder.total_runs(), 0);
}

async fn next_job_due_is_the_earliest_claimable_moment_of_the_given_queues_only(
    store: Arc<dyn Store>,
) {
    let t = clock().now();
    let queues = |qs: &[&str]| qs.iter().map(|q| (*q).to_owned()).collect::<Vec<_>>();
    assert_eq!(store.next_job_due(&core()).await.unwrap(), None);

    let soon = enqueue_one(&*store, job_at(t)).await;
    enqueue_one(&*store, job_at(t + Duration::minutes(10))).await;
    enqueue_one(
        &*store,
        NewJob::new("chat:console", KIND, json!({}), t + Duration::minutes(1)),
    )
    .await;

    assert_eq!(store.next_job_due(&core()).await.unwrap(), Some(t));
    assert_eq!(
        store
            .next_job_due(&queues(&["chat:console"]))
            .await
            .unwrap(),
        Some(t + Duration::minutes(1))
    );
    assert_eq!(
        store
            .next_job_due(&queues(&["chat:console", "core"]))
            .await
            .unwrap(),
        Some(t)
    );
    assert_eq!(
        store.next_job_due(&queues(&["chat:slack"])).await.unwrap(),
        None
    );
    assert_eq!(store.next_job_due(&[]).await.unwrap(), None);

    // A running job becomes claimable again when its lease ends.
    let owner = Uuid::new_v4();
    let lease_until = t + Duration::seconds(30);
    let claimed = store
        .claim_jobs(&core(), owner, t, lease_until, 1)
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), [soon]);
    assert_eq!(
        store.next_job_due(&core()).await.unwrap(),
        Some(lease_until)
    );

    assert!(store.complete_job(soon, owner, t).await.unwrap());
    assert_eq!(
        store.next_job_due(&core()).await.unwrap(),
        Some(t + Duration::minutes(10))
    );
}

async fn a_pool_claims_only_jobs_of_its_own_queues(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    let console_job = enqueue_one(&*store, NewJob::new("chat:console", KIND, json!({}), t)).await;
    let core_job = enqueue_one(&*store, job_at(t)).await;
    let recorder = Recorder::succeeding();
    let core_pool = pool(&store, &clock, recorder.clone(), &["core"]);

    assert_eq!(core_pool.run_due().await.unwrap(), 1);
    assert_eq!(core_pool.run_due().await.unwrap(), 0);
    assert_eq!(recorder.runs_of(core_job), 1);
    assert_eq!(recorder.runs_of(console_job), 0);
    let waiting = store.get_job(console_job).await.unwrap();
    assert_eq!(waiting.state, JobState::Queued);
    assert_eq!(waiting.attempts, 0);

    let console_pool = pool(&store, &clock, recorder.clone(), &["chat:console"]);
    assert_eq!(console_pool.run_due().await.unwrap(), 1);
    assert_eq!(recorder.runs_of(console_job), 1);
    assert_eq!(
        store.get_job(console_job).await.unwrap().state,
        JobState::Done
    );
}

/// SQLite keeps times as RFC 3339 text, whose fraction has 0, 3, 6 or 9 digits: due times
/// must still compare as times.
async fn due_times_compare_as_times_whatever_their_fraction(store: Arc<dyn Store>) {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let now = at("2026-11-24T03:00:00Z");
    let before = enqueue_one(&*store, job_at(at("2026-11-24T02:59:59.9Z"))).await;
    let exactly = enqueue_one(&*store, job_at(now)).await;
    let after_ms = enqueue_one(&*store, job_at(at("2026-11-24T03:00:00.001Z"))).await;
    let after_us = enqueue_one(&*store, job_at(at("2026-11-24T03:00:00.000001Z"))).await;

    assert_eq!(
        store.next_job_due(&core()).await.unwrap(),
        Some(at("2026-11-24T02:59:59.9Z"))
    );
    let owner = Uuid::new_v4();
    let claimed = store
        .claim_jobs(&core(), owner, now, now + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        [before, exactly]
    );
    assert_eq!(
        store.next_job_due(&core()).await.unwrap(),
        Some(at("2026-11-24T03:00:00.000001Z"))
    );
    let later = at("2026-11-24T03:00:00.000999Z");
    let claimed = store
        .claim_jobs(&core(), owner, later, later + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), [after_us]);
    assert_eq!(
        store.get_job(after_ms).await.unwrap().state,
        JobState::Queued
    );
}

async fn enqueued_jobs_are_listed_by_state_most_recently_updated_first(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    let ids = store
        .enqueue(&[job_at(t), job_at(t), job_at(t + Duration::hours(1))])
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3);
    let workers = pool(&store, &clock, Recorder::succeeding(), &["core"]);
    clock.advance(Duration::seconds(1));
    assert_eq!(workers.run_due().await.unwrap(), 2);

    let listed = |state| {
        let store = store.clone();
        async move {
            let jobs = store.list_jobs(state, 10).await.unwrap();
            jobs.iter().map(|j| j.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(Some(JobState::Queued)).await, [ids[2]]);
    let done = listed(Some(JobState::Done)).await;
    assert_eq!(done.len(), 2);
    assert!(done.contains(&ids[0]) && done.contains(&ids[1]));
    let all = listed(None).await;
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[2], ids[2],
        "the job untouched since enqueueing is listed last"
    );
    assert_eq!(store.list_jobs(None, 1).await.unwrap().len(), 1);
    assert_eq!(listed(Some(JobState::Running)).await, []);
}

async fn a_running_pool_wakes_for_new_jobs_and_when_the_clock_reaches_a_future_job(
    store: Arc<dyn Store>,
) {
    let clock = clock();
    let t = clock.now();
    let (recorder, mut ran) = Recorder::reporting();
    let workers = pool(&store, &clock, recorder.clone(), &["core"]);
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(workers.run(async move {
        let _ = stopped.await;
    }));
    // The clock never moves here: only the store's signal can wake the pool.
    let first = enqueue_one(&*store, job_at(t)).await;
    assert_eq!(next_run(&mut ran).await, first);
    let second = enqueue_one(&*store, job_at(t)).await;
    assert_eq!(next_run(&mut ran).await, second);

    let future = t + Duration::minutes(5);
    let third = enqueue_one(&*store, job_at(future)).await;
    assert_eq!(store.get_job(third).await.unwrap().state, JobState::Queued);
    clock.set(future);
    assert_eq!(next_run(&mut ran).await, third);

    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), running)
        .await
        .expect("the pool stops when told")
        .unwrap();
    for id in [first, second, third] {
        assert_eq!(recorder.runs_of(id), 1);
        assert_eq!(store.get_job(id).await.unwrap().state, JobState::Done);
    }
}

// ---------------------------------------------------------------------------------------
// Two pools, one database, a thousand jobs: each runs once.

/// Counts every execution; wakes `all_ran` when the expected number is reached.
struct Tally {
    runs: Mutex<HashMap<JobId, u32>>,
    total: AtomicUsize,
    expected: usize,
    all_ran: Notify,
}

#[async_trait]
impl JobHandler for Tally {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        *self.runs.lock().unwrap().entry(job.id).or_default() += 1;
        if self.total.fetch_add(1, Ordering::SeqCst) + 1 == self.expected {
            self.all_ran.notify_one();
        }
        Ok(())
    }
}

async fn two_pools_run_a_thousand_jobs_once_each(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    const JOBS: usize = 1_000;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let new: Vec<NewJob> = (0..JOBS)
        .map(|n| NewJob::new("core", KIND, json!({ "n": n }), now))
        .collect();
    let ids = first.enqueue(&new).await.unwrap();
    assert_eq!(ids.len(), JOBS);

    let tally = Arc::new(Tally {
        runs: Mutex::default(),
        total: AtomicUsize::new(0),
        expected: JOBS,
        all_ran: Notify::new(),
    });
    let config = PoolConfig {
        queues: core(),
        concurrency: 8,
        ..PoolConfig::default()
    };
    let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut pools = Vec::new();
    for store in [first.clone(), second] {
        let workers = WorkerPool::new(
            store,
            clock.clone(),
            Handlers::new().on(KIND, tally.clone()),
            config.clone(),
        );
        let mut stopped = stop.subscribe();
        pools.push(tokio::spawn(workers.run(async move {
            let _ = stopped.recv().await;
        })));
    }

    tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tally.all_ran.notified(),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "only {} of {JOBS} job runs within 120 s",
            tally.total.load(Ordering::SeqCst)
        )
    });
    stop.send(()).unwrap();
    for running in pools {
        tokio::time::timeout(std::time::Duration::from_secs(60), running)
            .await
            .expect("pools stop when told")
            .unwrap();
    }

    let runs = tally.runs.lock().unwrap().clone();
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{} jobs ran more than once, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(3)]
    );
    assert_eq!(runs.len(), JOBS);
    assert!(ids.iter().all(|id| runs.get(id) == Some(&1)));
    let done = first.list_jobs(Some(JobState::Done), 10_000).await.unwrap();
    assert_eq!(done.len(), JOBS);
    assert!(done.iter().all(|j| j.attempts == 1));
    assert_eq!(
        first.counts().await.unwrap().jobs_by_state,
        [("done".to_owned(), JOBS as i64)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pools_on_one_postgres_database_run_a_thousand_jobs_once_each() {
    common::on(Backend::Postgres, |db| async move {
        // Two replicas: each with its own connections, neither hearing the other's signal.
        let second = db.open_again().await;
        two_pools_run_a_thousand_jobs_once_each(db.store, second).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pools_on_one_sqlite_store_run_a_thousand_jobs_once_each() {
    common::on(Backend::Sqlite, |db| async move {
        two_pools_run_a_thousand_jobs_once_each(db.store.clone(), db.store).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// A store that fails on purpose.

conformance!(
    a_worker_that_keeps_dying_makes_its_job_dead_after_max_attempts,
    a_store_error_for_one_job_lets_the_others_of_its_batch_finish,
);

async fn a_worker_that_keeps_dying_makes_its_job_dead_after_max_attempts(store: Arc<dyn Store>) {
    let clock = clock();
    let id = enqueue_one(
        &*store,
        NewJob {
            max_attempts: 2,
            ..job_at(clock.now())
        },
    )
    .await;
    // Two workers in turn claim the job and die holding it.
    for attempt in 1..=2 {
        let now = clock.now();
        let claimed = store
            .claim_jobs(&core(), Uuid::new_v4(), now, now + Duration::seconds(60), 1)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].attempts, attempt);
        clock.advance(Duration::seconds(60));
    }
    let recorder = Recorder::succeeding();
    let workers = pool(&store, &clock, recorder.clone(), &["core"]);
    assert_eq!(workers.run_due().await.unwrap(), 1);

    let dead = store.get_job(id).await.unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.attempts, 3);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("gave up after 2 attempts whose leases expired")
    );
    assert_eq!(
        recorder.total_runs(),
        0,
        "the handler that kills workers is not run again"
    );
}

/// Two jobs in one batch: the first finishes at once but recording it fails; the second
/// is still running then. The failure is reported, but only after the second job finished
/// and was recorded: cutting it off would run it again once its lease expired.
async fn a_store_error_for_one_job_lets_the_others_of_its_batch_finish(store: Arc<dyn Store>) {
    let clock = clock();
    let t = clock.now();
    let quick = enqueue_one(&*store, NewJob::new("core", "quick", json!({}), t)).await;
    let slow = enqueue_one(&*store, NewJob::new("core", "slow", json!({}), t)).await;
    let flaky = Arc::new(FlakyStore {
        inner: store.clone(),
        fail_completing: quick,
        failed: Arc::new(Notify::new()),
    });
    let slow_handler = Arc::new(Gated {
        gate: flaky.failed.clone(),
        runs: AtomicUsize::new(0),
    });
    let flaky_store: Arc<dyn Store> = flaky.clone();
    let workers = WorkerPool::new(
        flaky_store,
        Arc::new(clock.clone()),
        Handlers::new()
            .on("quick", Recorder::succeeding())
            .on("slow", slow_handler.clone()),
        PoolConfig {
            queues: core(),
            concurrency: 2,
            ..PoolConfig::default()
        },
    );

    let result = tokio::time::timeout(std::time::Duration::from_secs(30), workers.run_due())
        .await
        .expect("run_due returns once the batch is over");
    assert!(result.is_err(), "the store error is reported: {result:?}");
    assert_eq!(slow_handler.runs.load(Ordering::SeqCst), 1);
    let slow_job = store.get_job(slow).await.unwrap();
    assert_eq!(slow_job.state, JobState::Done);
    assert_eq!(slow_job.attempts, 1);
    // The job whose outcome was lost runs again once its lease expires.
    assert_eq!(store.get_job(quick).await.unwrap().state, JobState::Running);
}

/// Finishes only once `gate` is notified.
struct Gated {
    gate: Arc<Notify>,
    runs: AtomicUsize,
}

#[async_trait]
impl JobHandler for Gated {
    async fn run(&self, _job: &Job) -> Result<(), JobError> {
        self.gate.notified().await;
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Passes everything to `inner`, except that recording `fail_completing` as done fails
/// like a dropped connection (and says so on `failed`).
struct FlakyStore {
    inner: Arc<dyn Store>,
    fail_completing: JobId,
    failed: Arc<Notify>,
}

#[async_trait]
impl Store for FlakyStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    fn job_signal(&self, queues: &[String]) -> Arc<Notify> {
        self.inner.job_signal(queues)
    }
    async fn migrate(&self) -> StoreResult<()> {
        self.inner.migrate().await
    }
    async fn ready(&self) -> StoreResult<bool> {
        self.inner.ready().await
    }
    async fn replace_directory(&self, directory: &Directory) -> StoreResult<()> {
        self.inner.replace_directory(directory).await
    }
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.inner.list_users().await
    }
    async fn get_user(&self, id: &UserId) -> StoreResult<User> {
        self.inner.get_user(id).await
    }
    async fn user_by_chat_identity(
        &self,
        platform: &str,
        external_id: &str,
    ) -> StoreResult<Option<User>> {
        self.inner
            .user_by_chat_identity(platform, external_id)
            .await
    }
    async fn list_services(&self) -> StoreResult<Vec<Service>> {
        self.inner.list_services().await
    }
    async fn get_service(&self, id: &ServiceId) -> StoreResult<Service> {
        self.inner.get_service(id).await
    }
    async fn create_incident(
        &self,
        new: NewIncident,
        jobs: JobsFor<'_, Incident>,
    ) -> StoreResult<Incident> {
        self.inner.create_incident(new, jobs).await
    }
    async fn get_incident(&self, id: IncidentId) -> StoreResult<Incident> {
        self.inner.get_incident(id).await
    }
    async fn get_incident_by_number(&self, number: i64) -> StoreResult<Incident> {
        self.inner.get_incident_by_number(number).await
    }
    async fn list_incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<Incident>> {
        self.inner.list_incidents(filter).await
    }
    async fn change_incident(
        &self,
        id: IncidentId,
        changes: &[IncidentChange],
        actor: &Actor,
        at: DateTime<Utc>,
        jobs: JobsFor<'_, Incident>,
    ) -> StoreResult<Incident> {
        self.inner
            .change_incident(id, changes, actor, at, jobs)
            .await
    }
    async fn attach_channel(&self, id: IncidentId, channel: &ChannelRef) -> StoreResult<()> {
        self.inner.attach_channel(id, channel).await
    }
    async fn incident_by_channel(
        &self,
        platform: &str,
        channel_id: &str,
    ) -> StoreResult<Option<Incident>> {
        self.inner.incident_by_channel(platform, channel_id).await
    }
    async fn post_status_update(
        &self,
        update: NewStatusUpdate,
        jobs: JobsFor<'_, StatusUpdate>,
    ) -> StoreResult<StatusUpdate> {
        self.inner.post_status_update(update, jobs).await
    }
    async fn status_updates(&self, id: IncidentId) -> StoreResult<Vec<StatusUpdate>> {
        self.inner.status_updates(id).await
    }
    async fn get_status_update(&self, id: Uuid) -> StoreResult<StatusUpdate> {
        self.inner.get_status_update(id).await
    }
    async fn add_timeline_entry(
        &self,
        entry: NewTimelineEntry,
        jobs: JobsFor<'_, TimelineEntry>,
    ) -> StoreResult<TimelineEntry> {
        self.inner.add_timeline_entry(entry, jobs).await
    }
    async fn timeline(&self, subject: Subject) -> StoreResult<Vec<TimelineEntry>> {
        self.inner.timeline(subject).await
    }
    async fn trigger_alert(
        &self,
        new: NewAlert,
        jobs: JobsFor<'_, TriggerOutcome>,
    ) -> StoreResult<TriggerOutcome> {
        self.inner.trigger_alert(new, jobs).await
    }
    async fn ingest(
        &self,
        events: &[IngestEvent],
        jobs: JobsFor<'_, [IngestOutcome]>,
    ) -> StoreResult<Vec<IngestOutcome>> {
        self.inner.ingest(events, jobs).await
    }
    async fn create_integration(&self, new: &NewIntegration) -> StoreResult<Integration> {
        self.inner.create_integration(new).await
    }
    async fn sync_config_integrations(&self, declared: &[NewIntegration]) -> StoreResult<()> {
        self.inner.sync_config_integrations(declared).await
    }
    async fn integration_by_key_hash(&self, key_hash: &str) -> StoreResult<Option<Integration>> {
        self.inner.integration_by_key_hash(key_hash).await
    }
    async fn list_integrations(&self) -> StoreResult<Vec<Integration>> {
        self.inner.list_integrations().await
    }
    async fn create_heartbeat(
        &self,
        new: &NewHeartbeat,
        jobs: JobsFor<'_, Heartbeat>,
    ) -> StoreResult<Heartbeat> {
        self.inner.create_heartbeat(new, jobs).await
    }
    async fn sync_config_heartbeats(
        &self,
        declared: &[NewHeartbeat],
        jobs: JobsFor<'_, Heartbeat>,
    ) -> StoreResult<()> {
        self.inner.sync_config_heartbeats(declared, jobs).await
    }
    async fn heartbeat_by_key_hash(&self, key_hash: &str) -> StoreResult<Option<Heartbeat>> {
        self.inner.heartbeat_by_key_hash(key_hash).await
    }
    async fn get_heartbeat(&self, id: Uuid) -> StoreResult<Heartbeat> {
        self.inner.get_heartbeat(id).await
    }
    async fn list_heartbeats(&self) -> StoreResult<Vec<Heartbeat>> {
        self.inner.list_heartbeats().await
    }
    async fn record_ping(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        jobs: JobsFor<'_, Heartbeat>,
    ) -> StoreResult<Heartbeat> {
        self.inner.record_ping(id, at, jobs).await
    }
    async fn instance_secret(&self, name: &str, fresh: &str) -> StoreResult<String> {
        self.inner.instance_secret(name, fresh).await
    }
    async fn open_alerts_paged_to(&self, user: &UserId) -> StoreResult<Vec<AlertId>> {
        self.inner.open_alerts_paged_to(user).await
    }
    async fn escalation(
        &self,
        alert: AlertId,
    ) -> StoreResult<Option<bot_core::model::EscalationState>> {
        self.inner.escalation(alert).await
    }
    async fn advance_escalation(
        &self,
        expected_epoch: i32,
        next: &bot_core::model::EscalationState,
        entries: Vec<NewTimelineEntry>,
        jobs: &[NewJob],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.inner
            .advance_escalation(expected_epoch, next, entries, jobs, at)
            .await
    }
    async fn save_override(
        &self,
        schedule: &str,
        o: &bot_core::schedule::Override,
        created_by: &str,
    ) -> StoreResult<()> {
        self.inner.save_override(schedule, o, created_by).await
    }
    async fn overrides(
        &self,
        schedule: &str,
        from: DateTime<Utc>,
    ) -> StoreResult<Vec<bot_core::schedule::Override>> {
        self.inner.overrides(schedule, from).await
    }
    async fn open_alert_by_key(
        &self,
        service: &ServiceId,
        dedup_key: &str,
    ) -> StoreResult<Option<Alert>> {
        self.inner.open_alert_by_key(service, dedup_key).await
    }
    async fn get_alert(&self, id: AlertId) -> StoreResult<Alert> {
        self.inner.get_alert(id).await
    }
    async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<Vec<Alert>> {
        self.inner.list_alerts(filter).await
    }
    async fn acknowledge_alert(
        &self,
        id: AlertId,
        actor: &Actor,
        at: DateTime<Utc>,
        jobs: JobsFor<'_, Alert>,
    ) -> StoreResult<Alert> {
        self.inner.acknowledge_alert(id, actor, at, jobs).await
    }
    async fn resolve_alert(
        &self,
        id: AlertId,
        actor: &Actor,
        at: DateTime<Utc>,
        jobs: JobsFor<'_, Alert>,
    ) -> StoreResult<Alert> {
        self.inner.resolve_alert(id, actor, at, jobs).await
    }
    async fn save_posted_message(
        &self,
        key: &str,
        platform: &str,
        message: &PostedMessage,
    ) -> StoreResult<()> {
        self.inner.save_posted_message(key, platform, message).await
    }
    async fn posted_message(
        &self,
        key: &str,
        platform: &str,
    ) -> StoreResult<Option<PostedMessage>> {
        self.inner.posted_message(key, platform).await
    }
    async fn create_action_run(
        &self,
        new: bot_core::store::NewActionRun,
    ) -> StoreResult<bot_core::model::ActionRun> {
        self.inner.create_action_run(new).await
    }
    async fn transition_action_run(
        &self,
        t: bot_core::store::ActionRunTransition,
    ) -> StoreResult<bot_core::model::ActionRun> {
        self.inner.transition_action_run(t).await
    }
    async fn get_action_run(&self, id: uuid::Uuid) -> StoreResult<bot_core::model::ActionRun> {
        self.inner.get_action_run(id).await
    }
    async fn append_audit(
        &self,
        entry: bot_core::model::NewAuditEntry,
    ) -> StoreResult<bot_core::model::AuditEntry> {
        self.inner.append_audit(entry).await
    }
    async fn audit_log(&self, limit: i64) -> StoreResult<Vec<bot_core::model::AuditEntry>> {
        self.inner.audit_log(limit).await
    }
    async fn link_chat_identity(
        &self,
        platform: &str,
        external_id: &str,
        user: &UserId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        self.inner
            .link_chat_identity(platform, external_id, user, at)
            .await
    }
    async fn chat_links(&self) -> StoreResult<Vec<(String, String, UserId)>> {
        self.inner.chat_links().await
    }
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.inner.user_by_email(email).await
    }
    async fn create_link_code(
        &self,
        code: &str,
        platform: &str,
        external_id: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        self.inner
            .create_link_code(code, platform, external_id, expires_at)
            .await
    }
    async fn redeem_link_code(
        &self,
        code: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Option<(String, String)>> {
        self.inner.redeem_link_code(code, now).await
    }
    async fn try_lead(
        &self,
        work: &str,
    ) -> StoreResult<Option<Box<dyn bot_core::store::Leadership>>> {
        self.inner.try_lead(work).await
    }
    async fn record_delivery(
        &self,
        key: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool> {
        self.inner.record_delivery(key, at).await
    }
    async fn delivery_seen(&self, key: &str) -> StoreResult<bool> {
        self.inner.delivery_seen(key).await
    }
    async fn enqueue(&self, jobs: &[NewJob]) -> StoreResult<Vec<JobId>> {
        self.inner.enqueue(jobs).await
    }
    async fn claim_jobs(
        &self,
        queues: &[String],
        owner: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Job>> {
        self.inner
            .claim_jobs(queues, owner, now, lease_until, limit)
            .await
    }
    async fn complete_job(&self, id: JobId, owner: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        if id == self.fail_completing {
            self.failed.notify_one();
            return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
        }
        self.inner.complete_job(id, owner, at).await
    }
    async fn fail_job(
        &self,
        id: JobId,
        owner: Uuid,
        error: &str,
        retry: Option<Retry>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.inner.fail_job(id, owner, error, retry, at).await
    }
    async fn next_job_due(&self, queues: &[String]) -> StoreResult<Option<DateTime<Utc>>> {
        self.inner.next_job_due(queues).await
    }
    async fn get_job(&self, id: JobId) -> StoreResult<Job> {
        self.inner.get_job(id).await
    }
    async fn list_jobs(&self, state: Option<JobState>, limit: i64) -> StoreResult<Vec<Job>> {
        self.inner.list_jobs(state, limit).await
    }
    async fn create_token(
        &self,
        name: &str,
        role: Role,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<ApiToken> {
        self.inner.create_token(name, role, token_hash, at).await
    }
    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
        self.inner.token_by_hash(token_hash).await
    }
    async fn counts(&self) -> StoreResult<Counts> {
        self.inner.counts().await
    }
}

#[async_trait]
impl bot_core::store::StatusPageStore for FlakyStore {
    async fn component_states(
        &self,
    ) -> StoreResult<Vec<(String, bot_core::model::ComponentStatus, DateTime<Utc>)>> {
        self.inner.component_states().await
    }
    async fn component_history(
        &self,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<bot_core::model::ComponentChange>> {
        self.inner.component_history(since).await
    }
    async fn set_component_states(
        &self,
        changes: &[(String, bot_core::model::ComponentStatus)],
        at: DateTime<Utc>,
        jobs: JobsFor<'_, [bot_core::model::AffectedComponent]>,
    ) -> StoreResult<Vec<bot_core::model::AffectedComponent>> {
        self.inner.set_component_states(changes, at, jobs).await
    }
    async fn create_public_incident(
        &self,
        new: bot_core::model::NewPublicIncident,
        jobs: JobsFor<'_, bot_core::model::PublicIncident>,
    ) -> StoreResult<bot_core::model::PublicIncident> {
        self.inner.create_public_incident(new, jobs).await
    }
    async fn add_public_update(
        &self,
        update: bot_core::model::NewPublicUpdate,
        jobs: JobsFor<'_, bot_core::model::PublicIncident>,
    ) -> StoreResult<bot_core::model::PublicIncident> {
        self.inner.add_public_update(update, jobs).await
    }
    async fn get_public_incident(&self, id: Uuid) -> StoreResult<bot_core::model::PublicIncident> {
        self.inner.get_public_incident(id).await
    }
    async fn public_incident_for(
        &self,
        incident: bot_core::model::IncidentId,
    ) -> StoreResult<Option<bot_core::model::PublicIncident>> {
        self.inner.public_incident_for(incident).await
    }
    async fn list_public_incidents(
        &self,
        filter: &bot_core::model::PublicFilter,
    ) -> StoreResult<Vec<bot_core::model::PublicIncident>> {
        self.inner.list_public_incidents(filter).await
    }
    async fn count_public_incidents(
        &self,
        filter: &bot_core::model::PublicFilter,
    ) -> StoreResult<i64> {
        self.inner.count_public_incidents(filter).await
    }
    async fn status_page_version(&self) -> StoreResult<bot_core::model::StatusPageVersion> {
        self.inner.status_page_version().await
    }
    async fn add_subscriber(
        &self,
        new: bot_core::model::NewSubscriber,
        jobs: JobsFor<'_, bot_core::model::Subscriber>,
    ) -> StoreResult<(bot_core::model::Subscriber, bool)> {
        self.inner.add_subscriber(new, jobs).await
    }
    async fn confirm_subscriber(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<bot_core::model::Subscriber> {
        self.inner.confirm_subscriber(id, at).await
    }
    async fn remove_subscriber(&self, id: Uuid) -> StoreResult<bool> {
        self.inner.remove_subscriber(id).await
    }
    async fn get_subscriber(&self, id: Uuid) -> StoreResult<bot_core::model::Subscriber> {
        self.inner.get_subscriber(id).await
    }
    async fn list_subscribers(
        &self,
        confirmed_only: bool,
    ) -> StoreResult<Vec<bot_core::model::Subscriber>> {
        self.inner.list_subscribers(confirmed_only).await
    }
}

#[async_trait]
impl bot_core::store::PostmortemStore for FlakyStore {
    async fn create_postmortem(
        &self,
        new: bot_core::model::Postmortem,
        jobs: JobsFor<'_, bot_core::model::Postmortem>,
    ) -> StoreResult<bot_core::model::Postmortem> {
        self.inner.create_postmortem(new, jobs).await
    }
    async fn get_postmortem(&self, id: Uuid) -> StoreResult<bot_core::model::Postmortem> {
        self.inner.get_postmortem(id).await
    }
    async fn postmortem_for(
        &self,
        incident: IncidentId,
    ) -> StoreResult<Option<bot_core::model::Postmortem>> {
        self.inner.postmortem_for(incident).await
    }
    async fn update_postmortem(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        change: bot_core::store::PostmortemChange<'_>,
        jobs: JobsFor<'_, bot_core::model::Postmortem>,
    ) -> StoreResult<bot_core::model::Postmortem> {
        self.inner.update_postmortem(id, at, change, jobs).await
    }
}

#[async_trait]
impl bot_core::store::ActionItemStore for FlakyStore {
    async fn add_action_item(
        &self,
        new: bot_core::model::NewActionItem,
        jobs: JobsFor<'_, bot_core::model::ActionItem>,
    ) -> StoreResult<bot_core::model::ActionItem> {
        self.inner.add_action_item(new, jobs).await
    }
    async fn get_action_item(&self, id: Uuid) -> StoreResult<bot_core::model::ActionItem> {
        self.inner.get_action_item(id).await
    }
    async fn action_items(
        &self,
        incident: IncidentId,
    ) -> StoreResult<Vec<bot_core::model::ActionItem>> {
        self.inner.action_items(incident).await
    }
    async fn record_ticket(
        &self,
        id: Uuid,
        update: &bot_core::model::TicketUpdate,
        at: DateTime<Utc>,
    ) -> StoreResult<bot_core::model::ActionItem> {
        self.inner.record_ticket(id, update, at).await
    }
    async fn action_item_by_ticket(
        &self,
        tracker: bot_core::model::Tracker,
        key: &str,
    ) -> StoreResult<Option<bot_core::model::ActionItem>> {
        self.inner.action_item_by_ticket(tracker, key).await
    }
    async fn set_action_item_state(
        &self,
        id: Uuid,
        state: bot_core::model::ActionItemState,
        at: DateTime<Utc>,
        timeline: Option<NewTimelineEntry>,
    ) -> StoreResult<bot_core::model::ActionItem> {
        self.inner
            .set_action_item_state(id, state, at, timeline)
            .await
    }
}

// Reports only read: nothing to make flaky.
#[async_trait]
impl bot_core::store::ReportStore for FlakyStore {
    async fn report_alert_groups(
        &self,
        scope: &bot_core::store::ReportScope,
    ) -> StoreResult<Vec<bot_core::store::AlertGroup>> {
        self.inner.report_alert_groups(scope).await
    }
    async fn report_alert_times(
        &self,
        scope: &bot_core::store::ReportScope,
    ) -> StoreResult<Vec<bot_core::store::AlertTimes>> {
        self.inner.report_alert_times(scope).await
    }
    async fn report_noisiest_alerts(
        &self,
        scope: &bot_core::store::ReportScope,
        limit: i64,
    ) -> StoreResult<Vec<bot_core::store::NoisyAlert>> {
        self.inner.report_noisiest_alerts(scope, limit).await
    }
    async fn report_pages(
        &self,
        scope: &bot_core::store::ReportScope,
    ) -> StoreResult<Vec<bot_core::store::PageFact>> {
        self.inner.report_pages(scope).await
    }
    async fn report_incidents(
        &self,
        scope: &bot_core::store::ReportScope,
    ) -> StoreResult<Vec<bot_core::store::IncidentFacts>> {
        self.inner.report_incidents(scope).await
    }
}
