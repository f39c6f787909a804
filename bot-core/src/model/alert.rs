//! Alerts: technical signals for on-call responders, deduplicated by key while open.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AlertId, ServiceId, TimelineKind, TransitionError, Urgency, string_enum};

/// Alert severity, in the vocabulary monitoring tools use (PagerDuty Events v2's).
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
pub enum AlertSeverity {
    Critical,
    Error,
    Warning,
    Info,
}

string_enum!(AlertSeverity, "alert severity", {
    Critical => "critical",
    Error => "error",
    Warning => "warning",
    Info => "info",
});

/// open -> acknowledged -> resolved; open -> resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

string_enum!(AlertStatus, "alert status", {
    Open => "open",
    Acknowledged => "acknowledged",
    Resolved => "resolved",
});

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Link {
    pub href: String,
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    pub id: AlertId,
    pub service: ServiceId,
    /// The integration it came from (`alertmanager`, `grafana`, `pagerduty`, `generic`,
    /// `heartbeat`, `manual`).
    pub source: String,
    pub dedup_key: String,
    pub severity: AlertSeverity,
    pub urgency: Urgency,
    pub summary: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub labels: BTreeMap<String, String>,
    pub links: Vec<Link>,
    pub status: AlertStatus,
    /// How many trigger events were folded into this alert by deduplication.
    pub event_count: i64,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub id: AlertId,
    pub service: ServiceId,
    pub source: String,
    pub dedup_key: String,
    pub severity: AlertSeverity,
    pub urgency: Urgency,
    pub summary: String,
    pub details: serde_json::Value,
    pub labels: BTreeMap<String, String>,
    pub links: Vec<Link>,
    pub at: DateTime<Utc>,
}

/// What a trigger did: opened a new alert, or folded into one still open with its key.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerOutcome {
    pub alert: Alert,
    pub created: bool,
}

#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub service: Option<ServiceId>,
    pub limit: i64,
    /// Cursor: only alerts created before this one (ids are time-ordered).
    pub before: Option<AlertId>,
}

impl Alert {
    /// The alert a first trigger opens.
    pub fn open(new: &NewAlert) -> Alert {
        Alert {
            id: new.id,
            service: new.service.clone(),
            source: new.source.clone(),
            dedup_key: new.dedup_key.clone(),
            severity: new.severity,
            urgency: new.urgency,
            summary: new.summary.clone(),
            details: new.details.clone(),
            labels: new.labels.clone(),
            links: new.links.clone(),
            status: AlertStatus::Open,
            event_count: 1,
            created_at: new.at,
            last_seen_at: new.at,
            acknowledged_by: None,
            acknowledged_at: None,
            resolved_by: None,
            resolved_at: None,
        }
    }

    pub fn is_open(&self) -> bool {
        self.status != AlertStatus::Resolved
    }

    pub fn acknowledge(
        &mut self,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<(TimelineKind, String), TransitionError> {
        match self.status {
            AlertStatus::Acknowledged => Err(TransitionError::AlertAlreadyAcknowledged),
            AlertStatus::Resolved => Err(TransitionError::AlertResolved),
            AlertStatus::Open => {
                self.status = AlertStatus::Acknowledged;
                self.acknowledged_by = Some(by.to_owned());
                self.acknowledged_at = Some(at);
                Ok((
                    TimelineKind::AlertAcknowledged,
                    format!("Acknowledged by {by}"),
                ))
            }
        }
    }

    pub fn resolve(
        &mut self,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<(TimelineKind, String), TransitionError> {
        if self.status == AlertStatus::Resolved {
            return Err(TransitionError::AlertAlreadyResolved);
        }
        self.status = AlertStatus::Resolved;
        self.resolved_by = Some(by.to_owned());
        self.resolved_at = Some(at);
        Ok((TimelineKind::AlertResolved, format!("Resolved by {by}")))
    }

    /// A repeated trigger with the same key while open: one more event, nobody paged again.
    /// Events can arrive out of order; `last_seen_at` never moves back.
    pub fn record_repeat(&mut self, at: DateTime<Utc>) -> (TimelineKind, String) {
        self.event_count += 1;
        self.last_seen_at = self.last_seen_at.max(at);
        (
            TimelineKind::AlertRepeated,
            format!("Triggered again (event {})", self.event_count),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        let at = DateTime::parse_from_rfc3339("2026-11-24T03:00:00Z")
            .unwrap()
            .to_utc();
        Alert {
            id: AlertId::new(),
            service: "checkout".into(),
            source: "manual".into(),
            dedup_key: "disk-full".into(),
            severity: AlertSeverity::Critical,
            urgency: Urgency::High,
            summary: "Disk full".into(),
            details: serde_json::json!({}),
            labels: BTreeMap::new(),
            links: vec![],
            status: AlertStatus::Open,
            event_count: 1,
            created_at: at,
            last_seen_at: at,
            acknowledged_by: None,
            acknowledged_at: None,
            resolved_by: None,
            resolved_at: None,
        }
    }

    #[test]
    fn acknowledging_a_resolved_alert_is_an_error_and_changes_nothing() {
        let mut a = alert();
        let at = a.created_at;
        a.resolve("user:bob", at).unwrap();
        let before = a.clone();
        assert_eq!(
            a.acknowledge("user:alice", at),
            Err(TransitionError::AlertResolved)
        );
        assert_eq!(
            a.resolve("user:alice", at),
            Err(TransitionError::AlertAlreadyResolved)
        );
        assert_eq!(a, before);
    }

    #[test]
    fn acknowledge_records_who_and_when_once() {
        let mut a = alert();
        let at = a.created_at + chrono::Duration::seconds(75);
        a.acknowledge("user:alice", at).unwrap();
        assert_eq!(a.acknowledged_by.as_deref(), Some("user:alice"));
        assert_eq!(a.acknowledged_at, Some(at));
        assert_eq!(
            a.acknowledge("user:bob", at),
            Err(TransitionError::AlertAlreadyAcknowledged)
        );
    }
}

/// What a monitoring tool asks for: open (or repeat) an alert, acknowledge it, or resolve
/// it. Source adapters turn each tool's payload into these; the core does the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertAction {
    Trigger,
    Acknowledge,
    Resolve,
}

/// One event from an alert source, platform-neutral. The integration it arrived on names
/// the service and the source.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    pub action: AlertAction,
    /// Deduplication key. Only a trigger may come without one (PagerDuty Events v2), and
    /// then the core generates it and returns it to the sender.
    pub dedup_key: Option<String>,
    pub severity: AlertSeverity,
    /// Short, human: what is wrong. Sources that send none get a summary built from labels.
    pub summary: String,
    /// Everything else the tool sent that people may want (annotations, custom details,
    /// the raw timestamps), as JSON.
    pub details: serde_json::Value,
    pub labels: BTreeMap<String, String>,
    pub links: Vec<Link>,
}
