//! The public status page: components customers see, public incidents and scheduled
//! maintenance (one record kind, as on Atlassian Statuspage), their public updates, and the
//! subscribers told of each. Public records are linked to internal incidents but carry
//! their own wording: what the team writes inside is never shown outside.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{IncidentId, ServiceId, Severity, string_enum};

/// A component's state, with Statuspage's names.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    Operational,
    UnderMaintenance,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

string_enum!(ComponentStatus, "component state", {
    Operational => "operational",
    UnderMaintenance => "under_maintenance",
    DegradedPerformance => "degraded_performance",
    PartialOutage => "partial_outage",
    MajorOutage => "major_outage",
});

impl ComponentStatus {
    /// How a person reads it: "Degraded performance".
    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::UnderMaintenance => "Under maintenance",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
        }
    }

    /// The state a public incident of `impact` puts its components in when it opens.
    pub fn for_impact(impact: Impact) -> Option<ComponentStatus> {
        match impact {
            Impact::Critical => Some(ComponentStatus::MajorOutage),
            Impact::Major => Some(ComponentStatus::PartialOutage),
            Impact::Minor => Some(ComponentStatus::DegradedPerformance),
            Impact::Maintenance => Some(ComponentStatus::UnderMaintenance),
            Impact::None => None,
        }
    }
}

/// A component as `tocsin.toml` declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentSpec {
    /// A slug, used in chat (`/incident statuspage checkout degraded_performance`) and URLs.
    pub id: String,
    pub name: String,
    /// The group heading it is shown under, if any.
    pub group: Option<String>,
    pub description: Option<String>,
    /// The services whose incidents affect it.
    pub services: Vec<ServiceId>,
    /// Display order, lowest first (the order in the file).
    pub position: i32,
}

/// A component with its current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Component {
    pub id: String,
    pub name: String,
    pub group: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Vec<String>)]
    pub services: Vec<ServiceId>,
    pub position: i32,
    pub status: ComponentStatus,
    /// When its state last changed; None when it never has.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A component's state changed at `at`: the history uptime bars are computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentChange {
    pub component: String,
    pub status: ComponentStatus,
    pub at: DateTime<Utc>,
}

/// Where the public page stands: when anything public last changed, and how many public
/// changes (component state changes and updates) have been committed. The count grows with
/// every change whatever the clock of the replica that wrote it, so what was drawn from an
/// older count is stale for sure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusPageVersion {
    pub updated_at: Option<DateTime<Utc>>,
    pub changes: i64,
}

/// A component an update moved from one state to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AffectedComponent {
    pub component: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

/// Public incident or scheduled maintenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PublicKind {
    Incident,
    Maintenance,
}

string_enum!(PublicKind, "public record kind", {
    Incident => "incident",
    Maintenance => "maintenance",
});

/// How bad a public incident is for customers (Statuspage's `impact`); maintenance has
/// its own.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    None,
    Maintenance,
    Minor,
    Major,
    Critical,
}

string_enum!(Impact, "impact", {
    None => "none",
    Maintenance => "maintenance",
    Minor => "minor",
    Major => "major",
    Critical => "critical",
});

impl Impact {
    /// The public impact an internal incident of `severity` starts with.
    pub fn for_severity(severity: Severity) -> Impact {
        match severity {
            Severity::Sev1 => Impact::Critical,
            Severity::Sev2 => Impact::Major,
            Severity::Sev3 => Impact::Minor,
            Severity::Sev4 => Impact::None,
        }
    }
}

/// Where a public incident or maintenance stands (Statuspage's two sets of statuses in one
/// enum, as its `incident_updates` carry both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    Postmortem,
    Scheduled,
    InProgress,
    Verifying,
    Completed,
}

string_enum!(PublicStatus, "public status", {
    Investigating => "investigating",
    Identified => "identified",
    Monitoring => "monitoring",
    Resolved => "resolved",
    Postmortem => "postmortem",
    Scheduled => "scheduled",
    InProgress => "in_progress",
    Verifying => "verifying",
    Completed => "completed",
});

impl PublicStatus {
    pub const INCIDENT: &'static [PublicStatus] = &[
        PublicStatus::Investigating,
        PublicStatus::Identified,
        PublicStatus::Monitoring,
        PublicStatus::Resolved,
        PublicStatus::Postmortem,
    ];
    pub const MAINTENANCE: &'static [PublicStatus] = &[
        PublicStatus::Scheduled,
        PublicStatus::InProgress,
        PublicStatus::Verifying,
        PublicStatus::Completed,
    ];

    /// Whether a record of `kind` may be in this status.
    pub fn fits(self, kind: PublicKind) -> bool {
        match kind {
            PublicKind::Incident => Self::INCIDENT.contains(&self),
            PublicKind::Maintenance => Self::MAINTENANCE.contains(&self),
        }
    }

    /// Over: resolved, postmortem or completed.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            PublicStatus::Resolved | PublicStatus::Postmortem | PublicStatus::Completed
        )
    }

    /// A maintenance under way: in progress or verifying.
    pub fn is_active_maintenance(self) -> bool {
        matches!(self, PublicStatus::InProgress | PublicStatus::Verifying)
    }

    pub fn label(self) -> &'static str {
        match self {
            PublicStatus::Investigating => "Investigating",
            PublicStatus::Identified => "Identified",
            PublicStatus::Monitoring => "Monitoring",
            PublicStatus::Resolved => "Resolved",
            PublicStatus::Postmortem => "Postmortem",
            PublicStatus::Scheduled => "Scheduled",
            PublicStatus::InProgress => "In progress",
            PublicStatus::Verifying => "Verifying",
            PublicStatus::Completed => "Completed",
        }
    }
}

/// A public incident or scheduled maintenance, with its updates newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicIncident {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub kind: PublicKind,
    /// The internal incident it speaks for, if any.
    pub incident_id: Option<IncidentId>,
    pub name: String,
    pub status: PublicStatus,
    pub impact: Impact,
    /// The components it concerns, by id.
    pub components: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it began for customers: creation, or a maintenance's start.
    pub started_at: DateTime<Utc>,
    pub monitoring_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Maintenance only: the announced window.
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    pub updates: Vec<PublicUpdate>,
}

/// One public update of a public incident or maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicUpdate {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub public_incident_id: Uuid,
    pub status: PublicStatus,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// Components this update moved; empty when it moved none.
    pub affected_components: Vec<AffectedComponent>,
    /// Who wrote it, as the audit log names people (`user:alice`, `system`).
    pub author: String,
}

/// A new public incident or maintenance with its first update.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPublicIncident {
    pub id: Uuid,
    pub kind: PublicKind,
    pub incident_id: Option<IncidentId>,
    pub name: String,
    pub status: PublicStatus,
    pub impact: Impact,
    pub components: Vec<String>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    /// The first update's text.
    pub body: String,
    /// Component states to set with it.
    pub component_changes: Vec<(String, ComponentStatus)>,
    pub author: String,
    pub at: DateTime<Utc>,
}

/// An update to a public incident or maintenance.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPublicUpdate {
    pub public_incident_id: Uuid,
    /// The status it moves to (the same one to only add words).
    pub status: PublicStatus,
    pub body: String,
    /// A new impact, if it changes.
    pub impact: Option<Impact>,
    /// Components it adds to the record's list.
    pub add_components: Vec<String>,
    /// Component states to set with it; those already in that state are left out of the
    /// update's `affected_components`.
    pub component_changes: Vec<(String, ComponentStatus)>,
    pub author: String,
    pub at: DateTime<Utc>,
    /// Only write it while the record is in one of these statuses (empty: any that is not
    /// closed). A closed record is never updated: Conflict. Lets a maintenance's scheduled
    /// start do nothing when someone started it by hand.
    pub only_from: Vec<PublicStatus>,
}

/// Which public records to list, newest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PublicFilter {
    pub kind: Option<PublicKind>,
    /// Only these statuses (empty: all).
    pub statuses: Vec<PublicStatus>,
    pub limit: i64,
    pub offset: i64,
}

/// How a subscriber is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberKind {
    Email,
    Webhook,
    Chat,
}

string_enum!(SubscriberKind, "subscriber kind", {
    Email => "email",
    Webhook => "webhook",
    Chat => "chat",
});

/// Someone told of every public update: an e-mail address (after double opt-in), a
/// webhook URL, or a chat channel (`platform:channel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Subscriber {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub kind: SubscriberKind,
    /// The address, URL, or `platform:channel`.
    pub target: String,
    /// Only updates touching these components (empty: all).
    pub components: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// None until an e-mail subscriber follows the confirmation link; set at creation for
    /// the others.
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl Subscriber {
    /// Whether an update touching `components` concerns this subscriber.
    pub fn wants(&self, components: &[String]) -> bool {
        self.components.is_empty()
            || components.is_empty()
            || self.components.iter().any(|c| components.contains(c))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscriber {
    pub id: Uuid,
    pub kind: SubscriberKind,
    pub target: String,
    pub components: Vec<String>,
    pub at: DateTime<Utc>,
    pub confirmed: bool,
}
