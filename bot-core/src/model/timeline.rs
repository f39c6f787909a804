//! The append-only timeline of an incident or an alert: what happened, when, and who did it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AlertId, IncidentId, string_enum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Declared,
    StatusChanged,
    SeverityChanged,
    TitleChanged,
    RoleAssigned,
    ServiceAdded,
    AlertLinked,
    StatusUpdate,
    Note,
    Reminder,
    AlertTriggered,
    AlertRepeated,
    AlertAcknowledged,
    AlertResolved,
    Paged,
    Escalated,
    ActionRun,
    ChatMessage,
}

string_enum!(TimelineKind, "timeline kind", {
    Declared => "declared",
    StatusChanged => "status_changed",
    SeverityChanged => "severity_changed",
    TitleChanged => "title_changed",
    RoleAssigned => "role_assigned",
    ServiceAdded => "service_added",
    AlertLinked => "alert_linked",
    StatusUpdate => "status_update",
    Note => "note",
    Reminder => "reminder",
    AlertTriggered => "alert_triggered",
    AlertRepeated => "alert_repeated",
    AlertAcknowledged => "alert_acknowledged",
    AlertResolved => "alert_resolved",
    Paged => "paged",
    Escalated => "escalated",
    ActionRun => "action_run",
    ChatMessage => "chat_message",
});

/// What a timeline belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Subject {
    Incident(IncidentId),
    Alert(AlertId),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    pub id: uuid::Uuid,
    pub incident_id: Option<IncidentId>,
    pub alert_id: Option<AlertId>,
    pub at: DateTime<Utc>,
    pub kind: TimelineKind,
    /// `user:alice`, `token:ci` or `system`.
    pub actor: String,
    pub text: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct NewTimelineEntry {
    pub subject: Subject,
    pub at: DateTime<Utc>,
    pub kind: TimelineKind,
    pub actor: String,
    pub text: String,
    pub data: serde_json::Value,
}
