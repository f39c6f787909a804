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

/// When a failed job runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub at: DateTime<Utc>,
    /// Whether this failure uses up one of the job's attempts. A peer that said when to come
    /// back (a rate limit's `Retry-After`) gives the attempt back, so a long rate limit
    /// cannot use up a message's attempts and lose it (see [`crate::jobs`]).
    pub counts: bool,
}

impl Retry {
    /// A retry at `at` that uses up an attempt.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self { at, counts: true }
    }
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
    /// The payload field that [`in_order_of`](Self::in_order_of) sets.
    pub const ORDER_FIELD: &'static str = "order";

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

    /// Runs this job only after every earlier job (by creation) of its queue in the same
    /// `order` is done or dead: the messages of one incident channel reach it in the order
    /// they were written, even when an earlier one waits out a platform's rate limit or
    /// outage while a later one would go through. Jobs of other orders, and jobs without
    /// one, are not held up. The order is kept in the payload (an object), under
    /// [`ORDER_FIELD`](Self::ORDER_FIELD).
    pub fn in_order_of(mut self, order: impl std::fmt::Display) -> Self {
        if let serde_json::Value::Object(fields) = &mut self.payload {
            fields.insert(Self::ORDER_FIELD.to_owned(), order.to_string().into());
        }
        self
    }
}
