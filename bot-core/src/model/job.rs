//! Durable jobs: side effects that must not be lost, written in the same transaction as
//! the state change that caused them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{JobId, string_enum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for `run_at`.
    Queued,
    /// Claimed by a worker until `lease_until`; runs again if the lease expires.
    Running,
    Done,
    /// Gave up after `max_attempts`; kept for people to look at.
    Dead,
}

string_enum!(JobState, "job state", {
    Queued => "queued",
    Running => "running",
    Done => "done",
    Dead => "dead",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    pub id: JobId,
    /// Which worker pools may run it: `core`, or `chat:<platform>` for work that only the
    /// process connected to that platform can do.
    pub queue: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub state: JobState,
    pub run_at: DateTime<Utc>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub queue: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i32,
}

impl NewJob {
    pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

    pub fn new(
        queue: impl Into<String>,
        kind: impl Into<String>,
        payload: serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> Self {
        Self {
            queue: queue.into(),
            kind: kind.into(),
            payload,
            run_at,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
        }
    }
}
