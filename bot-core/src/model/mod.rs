//! The domain: who (users, teams, services), what happened (alerts, incidents), and the
//! append-only timeline. Types here are parsed at the edge and trusted inside.

mod action_run;
mod alert;
mod directory;
mod ids;
mod incident;
mod ingest;
mod job;
mod policy;
mod postmortem;
mod role;
mod statuspage;
mod timeline;

pub use action_run::{
    ActionRun, ActionRunState, ActionRunUpdate, AuditEntry, AuditEvent, NewAuditEntry,
};
pub use alert::{
    Alert, AlertAction, AlertEvent, AlertFilter, AlertSeverity, AlertStatus, Link, NewAlert,
    TriggerOutcome,
};
pub use directory::{Directory, Service, Team, User};
pub use ids::{AlertId, IncidentId, JobId, ServiceId, TeamId, UserId};
pub use incident::{
    ChannelRef, Incident, IncidentChange, IncidentFilter, IncidentStatus, NewIncident,
    NewStatusUpdate, Severity, StatusUpdate, Visibility,
};
pub use ingest::{
    AlertKey, Heartbeat, IngestEvent, IngestOutcome, IngestResult, Integration, NewHeartbeat,
    NewIntegration, Urgency,
};
pub use job::{Job, JobState, NewJob, Retry};
pub use policy::{
    EscalationLevel, EscalationPolicy, EscalationState, NotifyRule, Target, rules_for_attempt,
};
pub use postmortem::{
    ActionItem, ActionItemState, NewActionItem, Postmortem, PostmortemMeeting, PostmortemSection,
    PostmortemStatus, PostmortemTimelineItem, TicketStatus, TicketUpdate, Tracker,
};
pub use role::{Actor, Role};
pub use statuspage::{
    AffectedComponent, Component, ComponentChange, ComponentSpec, ComponentStatus, Impact,
    NewPublicIncident, NewPublicUpdate, NewSubscriber, PublicFilter, PublicIncident, PublicKind,
    PublicStatus, PublicUpdate, StatusPageVersion, Subscriber, SubscriberKind,
};
pub use timeline::{NewTimelineEntry, Subject, TimelineEntry, TimelineKind};

/// An illegal state change, reported to whoever asked for it and never written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("alert is already acknowledged")]
    AlertAlreadyAcknowledged,
    #[error("alert is resolved; a resolved alert cannot be acknowledged")]
    AlertResolved,
    #[error("alert is already resolved")]
    AlertAlreadyResolved,
    #[error("incident is already resolved")]
    IncidentAlreadyResolved,
    #[error("incident is resolved; its {0} can no longer change")]
    IncidentResolved(&'static str),
    #[error("incident is already {0}")]
    Unchanged(String),
}

/// Parse error for the string forms of domain enums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{got}`; expected one of: {expected}")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub got: String,
    pub expected: &'static str,
}

/// Implements `as_str`, `Display` and `FromStr` for a field-less enum from one table, so
/// the wire names, the database names and the error message can never disagree.
macro_rules! string_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::model::ParseEnumError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.to_ascii_lowercase().as_str() {
                    $($name => Ok($ty::$variant),)+
                    _ => Err($crate::model::ParseEnumError {
                        what: $what,
                        got: s.to_owned(),
                        expected: concat!($($name, " "),+).trim_ascii_end(),
                    }),
                }
            }
        }
    };
}
pub(crate) use string_enum;
