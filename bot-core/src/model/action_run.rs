//! A request to run an action, from the moment someone asks to its result, and the audit
//! log that records who asked for what, whether it was allowed, and how it ended.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{IncidentId, string_enum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionRunState {
    /// Waits for the confirmation button.
    AwaitingConfirmation,
    /// Confirmed (or needing no confirmation); a job will run it.
    Queued,
    /// A worker started it. A run found in this state after a crash is not started again:
    /// an action may not be safe to repeat.
    Running,
    /// Started and waiting for something upstream to finish (a workflow run).
    Following,
    Succeeded,
    Failed,
    Cancelled,
    /// The process running it stopped before it finished; it is not retried.
    Interrupted,
}

string_enum!(ActionRunState, "action run state", {
    AwaitingConfirmation => "awaiting_confirmation",
    Queued => "queued",
    Running => "running",
    Following => "following",
    Succeeded => "succeeded",
    Failed => "failed",
    Cancelled => "cancelled",
    Interrupted => "interrupted",
});

impl ActionRunState {
    pub fn finished(self) -> bool {
        matches!(
            self,
            ActionRunState::Succeeded
                | ActionRunState::Failed
                | ActionRunState::Cancelled
                | ActionRunState::Interrupted
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionRun {
    pub id: uuid::Uuid,
    /// The configured action's name (`revert` for `/incident revert`).
    pub action: String,
    /// `http`, `command`, `github_revert` or `github_workflow`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
    pub incident_id: Option<IncidentId>,
    /// `user:alice`.
    pub requested_by: String,
    /// Where it was asked for, so the result goes back there.
    pub platform: String,
    pub channel: String,
    pub state: ActionRunState,
    pub summary: Option<String>,
    pub detail: Option<String>,
    pub link: Option<String>,
    /// What a following run waits on (`{"workflow_run_id": 30433642}`).
    #[schema(value_type = Object)]
    pub external: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change to a run's state and result, applied only if the run is in an expected state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionRunUpdate {
    pub summary: Option<String>,
    pub detail: Option<String>,
    pub link: Option<String>,
    pub external: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditEvent {
    /// Asked for and allowed (waiting for confirmation or queued).
    Requested,
    /// Asked for and refused: the role is too low.
    Refused,
    Confirmed,
    Cancelled,
    Succeeded,
    Failed,
    Interrupted,
}

string_enum!(AuditEvent, "audit event", {
    Requested => "requested",
    Refused => "refused",
    Confirmed => "confirmed",
    Cancelled => "cancelled",
    Succeeded => "succeeded",
    Failed => "failed",
    Interrupted => "interrupted",
});

/// One line of the audit log: append-only, never edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    /// Who: `user:alice`, or `slack:U0123` for a person not linked to a Tocsin user.
    pub actor: String,
    pub event: AuditEvent,
    pub action: String,
    pub run_id: Option<uuid::Uuid>,
    pub incident_id: Option<IncidentId>,
    #[schema(value_type = Object)]
    pub args: serde_json::Value,
    /// The result or the reason.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub event: AuditEvent,
    pub action: String,
    pub run_id: Option<uuid::Uuid>,
    pub incident_id: Option<IncidentId>,
    pub args: serde_json::Value,
    pub detail: String,
}
