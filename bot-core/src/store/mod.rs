//! The `Store` port: everything Tocsin keeps. Implemented once for SQLite (the embedded
//! default) and once for PostgreSQL (shared by replicas), with the same SQL where the two
//! dialects agree; one conformance suite runs against both.
//!
//! Every method that changes state takes the jobs that change causes and commits both in
//! one transaction, so a crash can lose neither half.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::model::{ActionRun, ActionRunState, ActionRunUpdate, AuditEntry, NewAuditEntry};
use crate::model::{
    Actor, Alert, AlertFilter, AlertId, ChannelRef, Directory, Heartbeat, Incident, IncidentChange,
    IncidentFilter, IncidentId, IngestEvent, IngestOutcome, Integration, Job, JobId, JobState,
    NewAlert, NewHeartbeat, NewIncident, NewIntegration, NewJob, NewStatusUpdate, NewTimelineEntry,
    Role, Service, ServiceId, StatusUpdate, Subject, TimelineEntry, TransitionError,
    TriggerOutcome, User, UserId,
};

mod action_items_sql;
mod postgres;
mod postmortem;
mod postmortem_sql;
mod reports;
mod reports_sql;
mod rows;
mod sql;
mod sqlite;
mod statuspage;
mod statuspage_sql;

pub use postmortem::{ActionItemStore, PostmortemChange, PostmortemStore};
pub use reports::{
    AlertGroup, AlertTimes, IncidentFacts, NoisyAlert, PageFact, ReportScope, ReportStore,
};
pub use statuspage::StatusPageStore;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Jobs to write alongside a change, computed from the changed record (so they can name
/// its id and number) but only written if the change commits.
pub type JobsFor<'a, T> = &'a (dyn Fn(&T) -> Vec<NewJob> + Send + Sync);

/// Jobs written with the change whatever it turns out to be.
pub fn no_jobs<T>(_: &T) -> Vec<NewJob> {
    Vec::new()
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// Input the database cannot store as text (PostgreSQL refuses NUL characters).
    #[error("{0}")]
    Unstorable(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("applying migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Whether the database could not be reached or could not take the work right now (a
    /// pool timeout, a broken or refused connection, a server shutting down or refusing
    /// connections, SQLite busy or failing I/O), as opposed to a fault in the request or
    /// the data. Nothing was committed; the same request later may well succeed.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed => true,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                match code.as_ref() {
                    // PostgreSQL: connection exceptions (class 08), too many connections,
                    // the server shutting down or starting up.
                    c if c.starts_with("08") => true,
                    "53300" | "57P01" | "57P02" | "57P03" => true,
                    // A database that does not allow connections (ALLOW_CONNECTIONS false).
                    "55000" => db.message().contains("not currently accepting connections"),
                    // SQLite (extended result codes): BUSY, LOCKED, IOERR, CANTOPEN.
                    c if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() => c
                        .parse::<i32>()
                        .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 14)),
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            // character_not_in_repertoire, untranslatable_character: text with a NUL (or
            // another character the database encoding cannot hold) reached a parameter.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22021" | "22P05")) =>
            {
                StoreError::Unstorable("text must not contain NUL characters".into())
            }
            _ => StoreError::Database(e),
        }
    }
}

/// A stored API token, without its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: uuid::Uuid,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// Counts for `/metrics` and `/readyz`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub alerts_by_status: Vec<(String, i64)>,
    pub incidents_by_status: Vec<(String, i64)>,
    pub jobs_by_state: Vec<(String, i64)>,
    /// Queued jobs that failed before and wait for their retry (part of `queued`), whether
    /// or not the failure used up an attempt (a rate limit gives it back).
    pub jobs_retrying: i64,
}

/// The worker pools of this process waiting for jobs, by the queues they serve.
#[derive(Default)]
pub struct JobSignals {
    subscribers: std::sync::Mutex<Vec<(Vec<String>, std::sync::Weak<Notify>)>>,
}

impl JobSignals {
    pub fn subscribe(&self, queues: &[String]) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subscribers.retain(|(_, n)| n.strong_count() > 0);
        subscribers.push((queues.to_vec(), Arc::downgrade(&notify)));
        notify
    }

    /// Wakes the pools serving any queue of `jobs`.
    pub fn notify(&self, jobs: &[NewJob]) {
        if jobs.is_empty() {
            return;
        }
        let subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        for (queues, notify) in subscribers.iter() {
            if jobs.iter().any(|j| queues.contains(&j.queue))
                && let Some(notify) = notify.upgrade()
            {
                notify.notify_waiters();
            }
        }
    }
}

/// A new action run and what is written with it.
#[derive(Debug, Clone)]
pub struct NewActionRun {
    pub run: ActionRun,
    pub audit: NewAuditEntry,
    pub timeline: Option<NewTimelineEntry>,
    pub jobs: Vec<NewJob>,
}

/// A run's move from one of `from` to `to`, and what is written with it.
#[derive(Debug, Clone)]
pub struct ActionRunTransition {
    pub id: uuid::Uuid,
    pub from: Vec<ActionRunState>,
    pub to: ActionRunState,
    pub update: ActionRunUpdate,
    pub at: DateTime<Utc>,
    pub audit: Option<NewAuditEntry>,
    pub timeline: Option<NewTimelineEntry>,
    pub jobs: Vec<NewJob>,
}

/// Proof that this process leads some work only one process may do at a time (a chat
/// platform's single connection). Dropping it steps down.
#[async_trait]
pub trait Leadership: Send {
    /// Whether this process still leads: false once the database let go of it (the
    /// connection holding the lock broke), and the work must stop.
    async fn still_leading(&mut self) -> bool;
}

/// Leadership where only one process can use the database anyway (SQLite).
pub(crate) struct SoleProcess;

#[async_trait]
impl Leadership for SoleProcess {
    async fn still_leading(&mut self) -> bool {
        true
    }
}

/// A chat message Tocsin posted and may edit later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    pub channel_id: String,
    pub message_id: String,
}

/// Everything Tocsin keeps; the status page's part is [`StatusPageStore`], post-incident
/// reviews' [`PostmortemStore`] and [`ActionItemStore`], and reports' [`ReportStore`].
#[async_trait]
pub trait Store:
    StatusPageStore + PostmortemStore + ActionItemStore + ReportStore + Send + Sync
{
    /// Which backend, for logs and `/readyz`: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// A notification that fires after every commit in this process that wrote a job for
    /// one of `queues`, so an idle worker pool wakes for its own work and no one else's.
    fn job_signal(&self, queues: &[String]) -> Arc<Notify>;

    async fn migrate(&self) -> StoreResult<()>;
    /// True when the database answers and every migration this binary knows is applied.
    async fn ready(&self) -> StoreResult<bool>;

    // Directory (mirrored from the configuration).
    async fn replace_directory(&self, directory: &Directory) -> StoreResult<()>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn get_user(&self, id: &UserId) -> StoreResult<User>;
    async fn user_by_chat_identity(
        &self,
        platform: &str,
        external_id: &str,
    ) -> StoreResult<Option<User>>;
    async fn list_services(&self) -> StoreResult<Vec<Service>>;
    async fn get_service(&self, id: &ServiceId) -> StoreResult<Service>;

    // Incidents.
    async fn create_incident(
        &self,
        new: NewIncident,
        jobs: JobsFor<'_, Incident>,
    ) -> StoreResult<Incident>;
    async fn get_incident(&self, id: IncidentId) -> StoreResult<Incident>;
    async fn get_incident_by_number(&self, number: i64) -> StoreResult<Incident>;
    async fn list_incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<Incident>>;
    /// Applies all `changes` or none: the first illegal one aborts the whole request.
    async fn change_incident(
        &self,
        id: IncidentId,
        changes: &[IncidentChange],
        actor: &Actor,
        at: DateTime<Utc>,
        jobs: JobsFor<'_, Incident>,
    ) -> StoreResult<Incident>;
    async fn attach_channel(&self, id: IncidentId, channel: &ChannelRef) -> StoreResult<()>;
    async fn incident_by_channel(
        &self,
        platform: &str,
        channel_id: &str,
    ) -> StoreResult<Option<Incident>>;
    async fn post_status_update(
        &self,
        update: NewStatusUpdate,
        jobs: JobsFor<'_, StatusUpdate>,
    ) -> StoreResult<StatusUpdate>;
    async fn status_updates(&self, id: IncidentId) -> StoreResult<Vec<StatusUpdate>>;
    async fn get_status_update(&self, id: uuid::Uuid) -> StoreResult<StatusUpdate>;

    // Timeline.
    async fn add_timeline_entry(
        &self,
        entry: NewTimelineEntry,
        jobs: JobsFor<'_, TimelineEntry>,
    ) -> StoreResult<TimelineEntry>;
    async fn timeline(&self, subject: Subject) -> StoreResult<Vec<TimelineEntry>>;

    // Alerts.
    /// Opens a new alert, or folds the trigger into the open one with the same service and
    /// dedup key. `jobs` sees which happened.
    async fn trigger_alert(
        &self,
        new: NewAlert,
        jobs: JobsFor<'_, TriggerOutcome>,
    ) -> StoreResult<TriggerOutcome>;
    async fn get_alert(&self, id: AlertId) -> StoreResult<Alert>;
    async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<Vec<Alert>>;
    async fn acknowledge_alert(
        &self,
        id: AlertId,
        actor: &Actor,
        at: DateTime<Utc>,
        jobs: JobsFor<'_, Alert>,
    ) -> StoreResult<Alert>;
    async fn resolve_alert(
        &self,
        id: AlertId,
        actor: &Actor,
        at: DateTime<Utc>,
        jobs: JobsFor<'_, Alert>,
    ) -> StoreResult<Alert>;

    /// Ingests a batch from an alert source in one transaction: all events or none. Each
    /// event is applied in order (a batch may open and resolve the same key); `jobs` sees
    /// every outcome.
    async fn ingest(
        &self,
        events: &[IngestEvent],
        jobs: JobsFor<'_, [IngestOutcome]>,
    ) -> StoreResult<Vec<IngestOutcome>>;

    // Integrations (alert sources), by the SHA-256 of their key.
    /// Creates an integration; a service's integration names are unique (Conflict).
    async fn create_integration(&self, new: &NewIntegration) -> StoreResult<Integration>;
    /// Makes the `config` integrations exactly `declared`: new ones are created, changed
    /// keys or settings updated, ones no longer declared removed. `cli` ones are kept.
    async fn sync_config_integrations(&self, declared: &[NewIntegration]) -> StoreResult<()>;
    async fn integration_by_key_hash(&self, key_hash: &str) -> StoreResult<Option<Integration>>;
    async fn list_integrations(&self) -> StoreResult<Vec<Integration>>;

    // Heartbeat monitors, by the SHA-256 of their key.
    /// Creates a monitor with the jobs its creation causes (its first check).
    async fn create_heartbeat(
        &self,
        new: &NewHeartbeat,
        jobs: JobsFor<'_, Heartbeat>,
    ) -> StoreResult<Heartbeat>;
    /// Makes the `config` monitors exactly `declared`, keeping the last ping of those that
    /// stay; `jobs` runs for each created or changed monitor.
    async fn sync_config_heartbeats(
        &self,
        declared: &[NewHeartbeat],
        jobs: JobsFor<'_, Heartbeat>,
    ) -> StoreResult<()>;
    async fn heartbeat_by_key_hash(&self, key_hash: &str) -> StoreResult<Option<Heartbeat>>;
    async fn get_heartbeat(&self, id: uuid::Uuid) -> StoreResult<Heartbeat>;
    async fn list_heartbeats(&self) -> StoreResult<Vec<Heartbeat>>;
    /// Records a ping at `at` (never moving the last ping back) with its jobs.
    async fn record_ping(
        &self,
        id: uuid::Uuid,
        at: DateTime<Utc>,
        jobs: JobsFor<'_, Heartbeat>,
    ) -> StoreResult<Heartbeat>;
    /// The installation's secret called `name`, made from `fresh` on first use; every
    /// replica gets the one that was stored first.
    async fn instance_secret(&self, name: &str, fresh: &str) -> StoreResult<String>;
    /// The open alerts that paged `user`, newest first: what an SMS reply "1" acknowledges.
    async fn open_alerts_paged_to(&self, user: &UserId) -> StoreResult<Vec<AlertId>>;
    /// Where an alert's escalation stands, if it has started.
    async fn escalation(
        &self,
        alert: AlertId,
    ) -> StoreResult<Option<crate::model::EscalationState>>;
    /// Moves an alert's escalation to `next` with its timeline entries and jobs, if it still
    /// stands at `expected_epoch` (or has not started, for epoch 0) and, within that epoch,
    /// before `next`. False when a manual escalation made this step stale, or the step was
    /// already taken (its job runs again after a crash): then nothing is written.
    async fn advance_escalation(
        &self,
        expected_epoch: i32,
        next: &crate::model::EscalationState,
        entries: Vec<NewTimelineEntry>,
        jobs: &[NewJob],
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Records an on-call override of `schedule`, by whom.
    async fn save_override(
        &self,
        schedule: &str,
        o: &crate::schedule::Override,
        created_by: &str,
    ) -> StoreResult<()>;
    /// The overrides of `schedule` still in force at or after `from`.
    async fn overrides(
        &self,
        schedule: &str,
        from: DateTime<Utc>,
    ) -> StoreResult<Vec<crate::schedule::Override>>;
    /// The unresolved alert with this service and dedup key, if any.
    async fn open_alert_by_key(
        &self,
        service: &ServiceId,
        dedup_key: &str,
    ) -> StoreResult<Option<Alert>>;

    // Chat messages posted by Tocsin.
    async fn save_posted_message(
        &self,
        key: &str,
        platform: &str,
        message: &PostedMessage,
    ) -> StoreResult<()>;
    async fn posted_message(&self, key: &str, platform: &str)
    -> StoreResult<Option<PostedMessage>>;

    // Actions and the audit log.
    /// Records a new run together with its audit entry, timeline entry and jobs.
    async fn create_action_run(&self, new: NewActionRun) -> StoreResult<ActionRun>;
    /// Moves a run to another state if it is in one of the expected states; Conflict (and
    /// nothing written) otherwise, so two workers or two button presses cannot both act.
    async fn transition_action_run(&self, t: ActionRunTransition) -> StoreResult<ActionRun>;
    async fn get_action_run(&self, id: uuid::Uuid) -> StoreResult<ActionRun>;
    async fn append_audit(&self, entry: NewAuditEntry) -> StoreResult<AuditEntry>;
    /// The newest `limit` audit entries, newest first.
    async fn audit_log(&self, limit: i64) -> StoreResult<Vec<AuditEntry>>;

    // Chat identities found at run time.
    /// Gives `user` the identity `external_id` on `platform` now (in the directory) and on
    /// every later start (see [`Store::chat_links`]). Conflict when the identity belongs to
    /// someone else; nothing changes when `user` already has one there.
    async fn link_chat_identity(
        &self,
        platform: &str,
        external_id: &str,
        user: &UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Every recorded link: (platform, external id, user).
    async fn chat_links(&self) -> StoreResult<Vec<(String, String, UserId)>>;
    /// The directory user with this e-mail address (case-insensitive), if any.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Records `code` as the one link code of `external_id` on `platform` until
    /// `expires_at`, replacing any code it had. Conflict when the code is taken.
    async fn create_link_code(
        &self,
        code: &str,
        platform: &str,
        external_id: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Uses up `code`: the (platform, external id) it stands for if it is known and not
    /// expired at `now`, else `None`. Either way it cannot be used again.
    async fn redeem_link_code(
        &self,
        code: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(String, String)>>;

    // Leadership.
    /// Leads `work` if no other process does: on PostgreSQL a session advisory lock held on
    /// a connection of its own (released when the lease is dropped or the process dies);
    /// on SQLite there is only one process. None: another process leads.
    async fn try_lead(&self, work: &str) -> StoreResult<Option<Box<dyn Leadership>>>;

    // Inbound deliveries.
    /// Records that the delivery `key` was handled; false when it already was (a retry).
    async fn record_delivery(&self, key: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Whether the delivery `key` was handled already.
    async fn delivery_seen(&self, key: &str) -> StoreResult<bool>;

    // Durable jobs.
    async fn enqueue(&self, jobs: &[NewJob]) -> StoreResult<Vec<JobId>>;
    /// Claims up to `limit` jobs of `queues` that are due at `now` (queued with `run_at <=
    /// now`, or running with an expired lease), leasing them to `owner` until `lease_until`.
    async fn claim_jobs(
        &self,
        queues: &[String],
        owner: uuid::Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Job>>;
    /// Marks a job done. False when `owner` no longer holds its lease.
    async fn complete_job(
        &self,
        id: JobId,
        owner: uuid::Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records a failure: queued again at `retry.at` (its attempt given back unless
    /// `retry.counts`), or dead when `retry` is None.
    async fn fail_job(
        &self,
        id: JobId,
        owner: uuid::Uuid,
        error: &str,
        retry: Option<crate::model::Retry>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// When the next job of `queues` becomes claimable, if any is waiting.
    async fn next_job_due(&self, queues: &[String]) -> StoreResult<Option<DateTime<Utc>>>;
    async fn get_job(&self, id: JobId) -> StoreResult<Job>;
    async fn list_jobs(&self, state: Option<JobState>, limit: i64) -> StoreResult<Vec<Job>>;

    // API tokens, by the SHA-256 of the secret.
    async fn create_token(
        &self,
        name: &str,
        role: Role,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<ApiToken>;
    async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>>;

    async fn counts(&self) -> StoreResult<Counts>;
}

/// Opens the store a `DATABASE_URL` names: `sqlite://path` (created if missing) or
/// `postgres://…`.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::Database(sqlx::Error::Configuration(
            format!(
                "DATABASE_URL must start with sqlite:// or postgres://, got `{}`",
                url.split(':').next().unwrap_or_default()
            )
            .into(),
        )))
    }
}
