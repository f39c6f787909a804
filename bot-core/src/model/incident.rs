//! Incidents: the unit of communication and coordination for something with visible
//! business impact, and the rules for how they may change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AlertId, IncidentId, ServiceId, TimelineKind, TransitionError, UserId, string_enum};

/// Incident severity; sev1 is the worst.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

string_enum!(Severity, "severity", {
    Sev1 => "sev1",
    Sev2 => "sev2",
    Sev3 => "sev3",
    Sev4 => "sev4",
});

/// Lifecycle: investigating -> identified -> monitoring -> resolved. The first three may
/// be moved between freely (a fix that did not hold goes back to investigating); resolved
/// is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

string_enum!(IncidentStatus, "incident status", {
    Investigating => "investigating",
    Identified => "identified",
    Monitoring => "monitoring",
    Resolved => "resolved",
});

/// Whether a status update is for the public (status page, customers) or the team only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    #[default]
    Internal,
}

string_enum!(Visibility, "visibility", {
    Public => "public",
    Internal => "internal",
});

/// Where an incident is worked on one chat platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelRef {
    pub platform: String,
    pub channel_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Incident {
    pub id: IncidentId,
    /// Per-instance sequence number, as people say it: "INC-42".
    pub number: i64,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub commander: Option<UserId>,
    pub communications_lead: Option<UserId>,
    pub responders: Vec<UserId>,
    pub services: Vec<ServiceId>,
    pub alerts: Vec<AlertId>,
    pub channels: Vec<ChannelRef>,
    /// `user:alice`, `token:ci` or `system`.
    pub declared_by: String,
    pub declared_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// What the core hands the store to create an incident.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub id: IncidentId,
    pub title: String,
    pub severity: Severity,
    pub commander: Option<UserId>,
    pub services: Vec<ServiceId>,
    /// Alerts linked from the start ("declare incident" on an alert card).
    pub alerts: Vec<AlertId>,
    pub declared_by: String,
    pub declared_at: DateTime<Utc>,
    /// Declaring again with the same key (a retried chat delivery, an `Idempotency-Key`)
    /// returns the incident the first declare created.
    pub idempotency_key: Option<String>,
    /// What is known so far; written into the `declared` timeline entry.
    pub description: Option<String>,
}

/// One requested change to an incident. Applied with [`Incident::apply`], which either
/// changes the incident and says what to write in the timeline, or refuses.
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentChange {
    Status(IncidentStatus),
    Severity(Severity),
    Title(String),
    Commander(UserId),
    CommunicationsLead(UserId),
    AddResponder(UserId),
    AddService(ServiceId),
    LinkAlert(AlertId),
}

impl Incident {
    pub fn reference(&self) -> String {
        format!("INC-{}", self.number)
    }

    pub fn is_open(&self) -> bool {
        self.status != IncidentStatus::Resolved
    }

    /// Applies one change at `at`. Returns the timeline entry to record (kind and text), or
    /// the reason the change is illegal, in which case `self` is untouched.
    pub fn apply(
        &mut self,
        change: &IncidentChange,
        at: DateTime<Utc>,
    ) -> Result<(TimelineKind, String), TransitionError> {
        use IncidentChange as C;
        if self.status == IncidentStatus::Resolved {
            return Err(match change {
                C::Status(IncidentStatus::Resolved) => TransitionError::IncidentAlreadyResolved,
                C::Status(_) => TransitionError::IncidentResolved("status"),
                C::Severity(_) => TransitionError::IncidentResolved("severity"),
                C::Title(_) => TransitionError::IncidentResolved("title"),
                C::Commander(_) | C::CommunicationsLead(_) | C::AddResponder(_) => {
                    TransitionError::IncidentResolved("roles")
                }
                C::AddService(_) => TransitionError::IncidentResolved("services"),
                C::LinkAlert(_) => TransitionError::IncidentResolved("alerts"),
            });
        }
        let entry = match change {
            C::Status(status) => {
                if *status == self.status {
                    return Err(TransitionError::Unchanged(status.to_string()));
                }
                let from = std::mem::replace(&mut self.status, *status);
                if *status == IncidentStatus::Resolved {
                    self.resolved_at = Some(at);
                }
                (
                    TimelineKind::StatusChanged,
                    format!("Status changed from {from} to {status}"),
                )
            }
            C::Severity(severity) => {
                if *severity == self.severity {
                    return Err(TransitionError::Unchanged(severity.to_string()));
                }
                let from = std::mem::replace(&mut self.severity, *severity);
                (
                    TimelineKind::SeverityChanged,
                    format!("Severity changed from {from} to {severity}"),
                )
            }
            C::Title(title) => {
                if *title == self.title {
                    return Err(TransitionError::Unchanged(format!("titled \"{title}\"")));
                }
                self.title = title.clone();
                (
                    TimelineKind::TitleChanged,
                    format!("Title changed to \"{title}\""),
                )
            }
            C::Commander(user) => {
                if self.commander.as_ref() == Some(user) {
                    return Err(TransitionError::Unchanged(format!("commanded by {user}")));
                }
                self.commander = Some(user.clone());
                (
                    TimelineKind::RoleAssigned,
                    format!("{user} is now incident commander"),
                )
            }
            C::CommunicationsLead(user) => {
                if self.communications_lead.as_ref() == Some(user) {
                    return Err(TransitionError::Unchanged(format!(
                        "communicated by {user}"
                    )));
                }
                self.communications_lead = Some(user.clone());
                (
                    TimelineKind::RoleAssigned,
                    format!("{user} is now communications lead"),
                )
            }
            C::AddResponder(user) => {
                if self.responders.contains(user) {
                    return Err(TransitionError::Unchanged(format!(
                        "responded to by {user}"
                    )));
                }
                self.responders.push(user.clone());
                (
                    TimelineKind::RoleAssigned,
                    format!("{user} joined as responder"),
                )
            }
            C::AddService(service) => {
                if self.services.contains(service) {
                    return Err(TransitionError::Unchanged(format!("affecting {service}")));
                }
                self.services.push(service.clone());
                (
                    TimelineKind::ServiceAdded,
                    format!("Service {service} marked as affected"),
                )
            }
            C::LinkAlert(alert) => {
                if self.alerts.contains(alert) {
                    return Err(TransitionError::Unchanged(format!(
                        "linked to alert {alert}"
                    )));
                }
                self.alerts.push(*alert);
                (TimelineKind::AlertLinked, format!("Alert {alert} linked"))
            }
        };
        self.updated_at = at;
        Ok(entry)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusUpdate {
    pub id: uuid::Uuid,
    pub incident_id: IncidentId,
    pub text: String,
    pub visibility: Visibility,
    /// The incident's status when the update was posted.
    pub status: IncidentStatus,
    pub author: String,
    pub posted_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewStatusUpdate {
    pub incident_id: IncidentId,
    pub text: String,
    pub visibility: Visibility,
    pub author: String,
    pub posted_at: DateTime<Utc>,
}

/// Which incidents to list; newest first, `before` is a cursor on the incident number.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub status: Option<IncidentStatus>,
    pub severity: Option<Severity>,
    pub open_only: bool,
    pub before_number: Option<i64>,
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident() -> Incident {
        let at = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .to_utc();
        Incident {
            id: IncidentId::new(),
            number: 7,
            title: "Checkout is failing".into(),
            severity: Severity::Sev2,
            status: IncidentStatus::Investigating,
            commander: None,
            communications_lead: None,
            responders: vec![],
            services: vec![],
            alerts: vec![],
            channels: vec![],
            declared_by: "user:alice".into(),
            declared_at: at,
            updated_at: at,
            resolved_at: None,
        }
    }

    #[test]
    fn resolving_sets_resolved_at_and_resolving_again_says_so_and_changes_nothing() {
        let mut inc = incident();
        let at = inc.declared_at + chrono::Duration::minutes(42);
        let (kind, text) = inc
            .apply(&IncidentChange::Status(IncidentStatus::Resolved), at)
            .unwrap();
        assert_eq!(kind, TimelineKind::StatusChanged);
        assert_eq!(text, "Status changed from investigating to resolved");
        assert_eq!(inc.resolved_at, Some(at));
        let before = inc.clone();
        let err = inc
            .apply(&IncidentChange::Status(IncidentStatus::Resolved), at)
            .unwrap_err();
        assert_eq!(err, TransitionError::IncidentAlreadyResolved);
        assert_eq!(err.to_string(), "incident is already resolved");
        assert_eq!(inc, before);
    }

    #[test]
    fn a_resolved_incident_refuses_every_other_change() {
        let mut inc = incident();
        let at = inc.declared_at;
        inc.apply(&IncidentChange::Status(IncidentStatus::Resolved), at)
            .unwrap();
        let err = inc
            .apply(&IncidentChange::Severity(Severity::Sev1), at)
            .unwrap_err();
        assert_eq!(err, TransitionError::IncidentResolved("severity"));
        let err = inc
            .apply(&IncidentChange::Status(IncidentStatus::Monitoring), at)
            .unwrap_err();
        assert_eq!(err, TransitionError::IncidentResolved("status"));
    }

    #[test]
    fn open_statuses_move_freely_but_not_to_themselves() {
        let mut inc = incident();
        let at = inc.declared_at;
        inc.apply(&IncidentChange::Status(IncidentStatus::Monitoring), at)
            .unwrap();
        inc.apply(&IncidentChange::Status(IncidentStatus::Investigating), at)
            .unwrap();
        let err = inc
            .apply(&IncidentChange::Status(IncidentStatus::Investigating), at)
            .unwrap_err();
        assert_eq!(err.to_string(), "incident is already investigating");
    }

    #[test]
    fn severities_parse_from_their_wire_names_only() {
        assert_eq!("SEV1".parse::<Severity>().unwrap(), Severity::Sev1);
        assert_eq!(
            "sev9".parse::<Severity>().unwrap_err().to_string(),
            "unknown severity `sev9`; expected one of: sev1 sev2 sev3 sev4"
        );
    }
}
