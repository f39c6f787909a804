//! Alert sources (integrations), heartbeat monitors, and what ingesting an event did.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Alert, NewAlert, ServiceId, string_enum};

/// How soon an alert needs a human: high pages at once, low may wait (PagerDuty's
/// urgency). Derived from the alert's severity by the service's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Urgency {
    High,
    Low,
}

string_enum!(Urgency, "urgency", {
    High => "high",
    Low => "low",
});

/// An alert source of a service. Its secret key is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Integration {
    pub id: uuid::Uuid,
    pub service: ServiceId,
    pub name: String,
    /// `alertmanager`, `grafana`, `pagerduty` or `generic`.
    pub kind: String,
    /// `config` or `cli`.
    pub origin: String,
    /// Source-specific settings (the generic webhook's field mapping).
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewIntegration {
    pub service: ServiceId,
    pub name: String,
    pub kind: String,
    pub key_hash: String,
    pub origin: String,
    pub settings: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// One event to ingest, as the core hands it to the store: a source's event with what the
/// core decided (alert id, dedup key, urgency) filled in.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestEvent {
    Trigger(NewAlert),
    Acknowledge(AlertKey),
    Resolve(AlertKey),
}

/// Names the open alert an acknowledge or resolve event is about.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertKey {
    pub service: ServiceId,
    /// The integration the event came from, recorded as the actor.
    pub source: String,
    pub dedup_key: String,
    pub at: DateTime<Utc>,
}

/// What ingesting one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IngestResult {
    /// A new alert opened.
    Created,
    /// Folded into the open alert with the same key: one more event, nobody paged again.
    Repeated,
    Acknowledged,
    Resolved,
    /// Nothing to do: acknowledging an acknowledged alert, resolving one not open.
    Unchanged,
}

string_enum!(IngestResult, "ingest result", {
    Created => "created",
    Repeated => "repeated",
    Acknowledged => "acknowledged",
    Resolved => "resolved",
    Unchanged => "unchanged",
});

#[derive(Debug, Clone, PartialEq)]
pub struct IngestOutcome {
    pub dedup_key: String,
    pub result: IngestResult,
    /// The alert the event concerned, if any was open or opened.
    pub alert: Option<Alert>,
}

/// A heartbeat monitor: a job that must check in every `interval`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Heartbeat {
    pub id: uuid::Uuid,
    pub service: ServiceId,
    pub name: String,
    #[schema(value_type = i64)]
    #[serde(with = "millis")]
    pub interval: Duration,
    #[schema(value_type = i64)]
    #[serde(with = "millis")]
    pub grace: Duration,
    pub origin: String,
    pub created_at: DateTime<Utc>,
    pub last_ping_at: Option<DateTime<Utc>>,
}

impl Heartbeat {
    /// The dedup key of the alert a missed heartbeat opens.
    pub fn dedup_key(&self) -> String {
        format!("heartbeat:{}", self.name)
    }

    /// When the heartbeat is missed if no ping arrives before: the last ping (or creation)
    /// plus interval and grace.
    pub fn deadline(&self) -> DateTime<Utc> {
        self.last_ping_at.unwrap_or(self.created_at) + self.interval + self.grace
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewHeartbeat {
    pub service: ServiceId,
    pub name: String,
    pub key_hash: String,
    pub interval: Duration,
    pub grace: Duration,
    pub origin: String,
    pub at: DateTime<Utc>,
}

/// Durations on the wire as whole milliseconds.
mod millis {
    use chrono::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_milliseconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        i64::deserialize(d).map(Duration::milliseconds)
    }
}
