//! Row shapes shared by both backends, and their conversion into the domain model. Enums are
//! stored by their wire names, so a row that does not parse means the data is corrupt.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{ApiToken, StoreError};
use crate::model::{ActionRun, AuditEntry};
use crate::model::{
    Alert, AlertId, ChannelRef, Heartbeat, Incident, IncidentId, Integration, Job, JobId, Link,
    Service, StatusUpdate, TimelineEntry, User,
};

fn parse<T: FromStr>(s: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    T::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[derive(sqlx::FromRow)]
pub(super) struct IncidentRow {
    id: Uuid,
    number: i64,
    title: String,
    severity: String,
    status: String,
    commander: Option<String>,
    communications_lead: Option<String>,
    responders: Json<Vec<String>>,
    services: Json<Vec<String>>,
    declared_by: String,
    declared_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
}

impl IncidentRow {
    /// The incident without its links to channels and alerts, which live in their own tables.
    pub(super) fn into_incident(self) -> Result<Incident, StoreError> {
        Ok(Incident {
            id: IncidentId(self.id),
            number: self.number,
            title: self.title,
            severity: parse(&self.severity)?,
            status: parse(&self.status)?,
            commander: self.commander.map(Into::into),
            communications_lead: self.communications_lead.map(Into::into),
            responders: self.responders.0.into_iter().map(Into::into).collect(),
            services: self.services.0.into_iter().map(Into::into).collect(),
            alerts: Vec::new(),
            channels: Vec::new(),
            declared_by: self.declared_by,
            declared_at: self.declared_at,
            updated_at: self.updated_at,
            resolved_at: self.resolved_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ChannelRow {
    platform: String,
    channel_id: String,
    name: String,
}

impl From<ChannelRow> for ChannelRef {
    fn from(r: ChannelRow) -> Self {
        ChannelRef {
            platform: r.platform,
            channel_id: r.channel_id,
            name: r.name,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct IncidentAlertRow {
    pub alert_id: Uuid,
}

#[derive(sqlx::FromRow)]
pub(super) struct AlertRow {
    id: Uuid,
    service: String,
    source: String,
    dedup_key: String,
    severity: String,
    urgency: String,
    summary: String,
    details: Json<serde_json::Value>,
    labels: Json<BTreeMap<String, String>>,
    links: Json<Vec<Link>>,
    status: String,
    event_count: i64,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<DateTime<Utc>>,
    resolved_by: Option<String>,
    resolved_at: Option<DateTime<Utc>>,
}

impl TryFrom<AlertRow> for Alert {
    type Error = StoreError;

    fn try_from(r: AlertRow) -> Result<Self, StoreError> {
        Ok(Alert {
            id: AlertId(r.id),
            service: r.service.into(),
            source: r.source,
            dedup_key: r.dedup_key,
            severity: parse(&r.severity)?,
            urgency: parse(&r.urgency)?,
            summary: r.summary,
            details: r.details.0,
            labels: r.labels.0,
            links: r.links.0,
            status: parse(&r.status)?,
            event_count: r.event_count,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            acknowledged_by: r.acknowledged_by,
            acknowledged_at: r.acknowledged_at,
            resolved_by: r.resolved_by,
            resolved_at: r.resolved_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct StatusUpdateRow {
    id: Uuid,
    incident_id: Uuid,
    text: String,
    visibility: String,
    status: String,
    author: String,
    posted_at: DateTime<Utc>,
}

impl TryFrom<StatusUpdateRow> for StatusUpdate {
    type Error = StoreError;

    fn try_from(r: StatusUpdateRow) -> Result<Self, StoreError> {
        Ok(StatusUpdate {
            id: r.id,
            incident_id: IncidentId(r.incident_id),
            text: r.text,
            visibility: parse(&r.visibility)?,
            status: parse(&r.status)?,
            author: r.author,
            posted_at: r.posted_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TimelineRow {
    id: Uuid,
    incident_id: Option<Uuid>,
    alert_id: Option<Uuid>,
    at: DateTime<Utc>,
    kind: String,
    actor: String,
    text: String,
    data: Json<serde_json::Value>,
}

impl TryFrom<TimelineRow> for TimelineEntry {
    type Error = StoreError;

    fn try_from(r: TimelineRow) -> Result<Self, StoreError> {
        Ok(TimelineEntry {
            id: r.id,
            incident_id: r.incident_id.map(IncidentId),
            alert_id: r.alert_id.map(AlertId),
            at: r.at,
            kind: parse(&r.kind)?,
            actor: r.actor,
            text: r.text,
            data: r.data.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    id: Uuid,
    queue: String,
    kind: String,
    payload: Json<serde_json::Value>,
    state: String,
    run_at: DateTime<Utc>,
    attempts: i32,
    max_attempts: i32,
    lease_until: Option<DateTime<Utc>>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(r: JobRow) -> Result<Self, StoreError> {
        Ok(Job {
            id: JobId(r.id),
            queue: r.queue,
            kind: r.kind,
            payload: r.payload.0,
            state: parse(&r.state)?,
            run_at: r.run_at,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            lease_until: r.lease_until,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: String,
    name: String,
    email: Option<String>,
    time_zone: String,
    phone: Option<String>,
    role: String,
    chat: Json<BTreeMap<String, String>>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: r.id.into(),
            name: r.name,
            email: r.email,
            time_zone: r.time_zone,
            phone: r.phone,
            role: parse(&r.role)?,
            chat: r.chat.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ServiceRow {
    id: String,
    name: String,
    description: Option<String>,
    team: Option<String>,
    escalation_policy: Option<String>,
}

impl From<ServiceRow> for Service {
    fn from(r: ServiceRow) -> Self {
        Service {
            id: r.id.into(),
            name: r.name,
            description: r.description,
            team: r.team.map(Into::into),
            escalation_policy: r.escalation_policy,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TokenRow {
    id: Uuid,
    name: String,
    role: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(r: TokenRow) -> Result<Self, StoreError> {
        Ok(ApiToken {
            id: r.id,
            name: r.name,
            role: parse(&r.role)?,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct IntegrationRow {
    id: Uuid,
    service: String,
    name: String,
    kind: String,
    origin: String,
    settings: Json<serde_json::Value>,
    created_at: DateTime<Utc>,
}

impl TryFrom<IntegrationRow> for Integration {
    type Error = StoreError;

    fn try_from(r: IntegrationRow) -> Result<Self, StoreError> {
        Ok(Integration {
            id: r.id,
            service: r.service.into(),
            name: r.name,
            kind: r.kind,
            origin: r.origin,
            settings: r.settings.0,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct HeartbeatRow {
    id: Uuid,
    service: String,
    name: String,
    interval_ms: i64,
    grace_ms: i64,
    origin: String,
    created_at: DateTime<Utc>,
    last_ping_at: Option<DateTime<Utc>>,
}

impl TryFrom<HeartbeatRow> for Heartbeat {
    type Error = StoreError;

    fn try_from(r: HeartbeatRow) -> Result<Self, StoreError> {
        Ok(Heartbeat {
            id: r.id,
            service: r.service.into(),
            name: r.name,
            interval: chrono::Duration::milliseconds(r.interval_ms),
            grace: chrono::Duration::milliseconds(r.grace_ms),
            origin: r.origin,
            created_at: r.created_at,
            last_ping_at: r.last_ping_at,
        })
    }
}

/// Converts every row, failing on the first corrupt one.
pub(super) fn all<R, T>(rows: Vec<R>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

#[derive(sqlx::FromRow)]
pub(super) struct ActionRunRow {
    id: Uuid,
    action: String,
    kind: String,
    args: Json<serde_json::Value>,
    incident_id: Option<Uuid>,
    requested_by: String,
    platform: String,
    channel: String,
    state: String,
    summary: Option<String>,
    detail: Option<String>,
    link: Option<String>,
    external: Json<serde_json::Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The columns of `action_runs`, in [`ActionRunRow`]'s order, for `concat!` into SQL.
macro_rules! action_run_columns {
    () => {
        "id, action, kind, args, incident_id, requested_by, platform, channel, state, summary, \
         detail, link, external, created_at, updated_at"
    };
}
pub(super) use action_run_columns;

impl TryFrom<ActionRunRow> for ActionRun {
    type Error = StoreError;

    fn try_from(r: ActionRunRow) -> Result<Self, StoreError> {
        Ok(ActionRun {
            id: r.id,
            action: r.action,
            kind: r.kind,
            args: r.args.0,
            incident_id: r.incident_id.map(IncidentId),
            requested_by: r.requested_by,
            platform: r.platform,
            channel: r.channel,
            state: parse(&r.state)?,
            summary: r.summary,
            detail: r.detail,
            link: r.link,
            external: r.external.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: Uuid,
    at: DateTime<Utc>,
    actor: String,
    event: String,
    action: String,
    run_id: Option<Uuid>,
    incident_id: Option<Uuid>,
    args: Json<serde_json::Value>,
    detail: String,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEntry {
            id: r.id,
            at: r.at,
            actor: r.actor,
            event: parse(&r.event)?,
            action: r.action,
            run_id: r.run_id,
            incident_id: r.incident_id.map(IncidentId),
            args: r.args.0,
            detail: r.detail,
        })
    }
}
