//! What reports read: figures over a time range, computed from stored timestamps. Part of
//! every [`Store`](super::Store).
//!
//! Each method returns the few columns a report needs, grouped in the database where a
//! group is all the report wants (counts), and row by row where the report needs every
//! value (percentiles of durations, the local time of each page). The arithmetic is in
//! [`crate::reports`], shared by both backends and tested without a database.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::model::{IncidentId, ServiceId, UserId};

/// Which rows a report reads: `[since, until)` and, when `services` is set, only those
/// services (an empty list selects nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportScope {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub services: Option<Vec<ServiceId>>,
}

impl ReportScope {
    /// True when the scope cannot select any row (a team without services).
    pub fn is_empty(&self) -> bool {
        self.services.as_ref().is_some_and(|s| s.is_empty()) || self.since >= self.until
    }

    /// Whether an incident touching `services` is in scope.
    pub fn covers_any(&self, services: &[ServiceId]) -> bool {
        match &self.services {
            None => true,
            Some(wanted) => services.iter().any(|s| wanted.contains(s)),
        }
    }
}

/// Alerts triggered in the scope with one service and severity.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertGroup {
    pub service: ServiceId,
    pub severity: String,
    pub alerts: i64,
    /// Of those, the ones whose escalation went past its first level (see
    /// [`crate::reports`]).
    pub escalated: i64,
}

/// When one alert triggered in the scope was acknowledged and resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertTimes {
    pub created_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Alerts of one service and dedup key triggered in the scope.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct NoisyAlert {
    pub service: ServiceId,
    pub dedup_key: String,
    /// Alerts opened with this key.
    pub alerts: i64,
    /// Trigger events folded into them (each alert counts its first).
    pub events: i64,
}

/// The first time in the scope that one alert paged one responder (repeats of the same
/// alert to the same person are the same page).
#[derive(Debug, Clone, PartialEq)]
pub struct PageFact {
    pub user: UserId,
    pub at: DateTime<Utc>,
}

/// An incident declared in the scope, with what its review stands at.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentFacts {
    pub id: IncidentId,
    pub severity: String,
    pub services: Vec<ServiceId>,
    pub declared_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The postmortem's status (`draft`, `in_review`, `published`), if there is one.
    pub postmortem: Option<String>,
    /// Its action items not done yet.
    pub open_action_items: i64,
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Alerts triggered in `scope`, by service and severity.
    async fn report_alert_groups(&self, scope: &ReportScope) -> StoreResult<Vec<AlertGroup>>;
    /// The trigger, acknowledge and resolve times of every alert triggered in `scope`.
    async fn report_alert_times(&self, scope: &ReportScope) -> StoreResult<Vec<AlertTimes>>;
    /// The `limit` service and dedup key pairs with the most alerts in `scope` (ties: more
    /// events first, then by service and key).
    async fn report_noisiest_alerts(
        &self,
        scope: &ReportScope,
        limit: i64,
    ) -> StoreResult<Vec<NoisyAlert>>;
    /// Every page in `scope`: one per alert and responder, at the first time that alert
    /// paged that person within the range. Only escalation pages count (a delivery over
    /// SMS or e-mail is the same page); attempts that found nobody on call do not.
    async fn report_pages(&self, scope: &ReportScope) -> StoreResult<Vec<PageFact>>;
    /// Incidents declared in `[since, until)` (every service: an incident names its
    /// services in a list, which the caller filters with [`ReportScope::covers_any`]).
    async fn report_incidents(&self, scope: &ReportScope) -> StoreResult<Vec<IncidentFacts>>;
}
