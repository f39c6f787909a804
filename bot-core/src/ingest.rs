//! Alert ingestion and heartbeat monitors: turning what monitoring tools send into alerts,
//! durably, with the chat cards they cause; and noticing when a heartbeat goes quiet.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::Core;
use crate::group_commit::GroupJobs;
use crate::jobs::{Handlers, JobError, JobHandler};
use crate::model::{
    AlertAction, AlertEvent, AlertId, AlertKey, AlertSeverity, Heartbeat, IngestEvent,
    IngestOutcome, IngestResult, Integration, Job, Link, NewAlert, NewJob, ServiceId, Urgency,
};
use crate::ops::{CORE_QUEUE, CoreResult, Invalid, chat_queue, kinds};

/// What an ingested batch did, per event, in order.
pub type Outcomes = Vec<IngestOutcome>;

impl Core {
    /// Ingests a batch of events from `integration` in one transaction: the alerts, their
    /// timeline entries and their chat cards are durable before this returns, or nothing is
    /// written at all.
    pub async fn ingest(
        &self,
        integration: &Integration,
        events: Vec<AlertEvent>,
    ) -> CoreResult<Outcomes> {
        let started = Instant::now();
        let now = self.clock.now();
        let settings = self.service_settings(&integration.service);
        let mut batch = Vec::with_capacity(events.len());
        for event in events {
            batch.push(self.prepare(integration, event, &settings.high_urgency, now)?);
        }
        let core = self.clone();
        let jobs: GroupJobs =
            Arc::new(move |outcomes: &[IngestOutcome]| core.ingest_jobs(outcomes, now));
        let outcomes = self
            .ingest_group
            .ingest(self.store.clone(), batch, jobs)
            .await?;
        let source = integration.kind.clone();
        for outcome in &outcomes {
            metrics::counter!("tocsin_alerts_received_total", "source" => source.clone(), "outcome" => outcome.result.as_str())
                .increment(1);
            if outcome.result == IngestResult::Acknowledged
                && let Some(alert) = &outcome.alert
            {
                crate::reports::record_acknowledged(alert);
            }
            if outcome.result == IngestResult::Repeated {
                metrics::counter!("tocsin_alert_dedup_hits_total", "source" => source.clone())
                    .increment(1);
            }
        }
        metrics::histogram!("tocsin_alert_ingest_seconds", "source" => source)
            .record(started.elapsed().as_secs_f64());
        Ok(outcomes)
    }

    fn prepare(
        &self,
        integration: &Integration,
        event: AlertEvent,
        high_urgency: &[AlertSeverity],
        now: DateTime<Utc>,
    ) -> CoreResult<IngestEvent> {
        let key = |dedup_key: Option<String>| {
            dedup_key
                .filter(|k| !k.trim().is_empty())
                .ok_or_else(|| Invalid {
                    field: "dedup_key",
                    message: "acknowledge and resolve events need the dedup key of their alert"
                        .into(),
                })
        };
        Ok(match event.action {
            AlertAction::Trigger => {
                let id = AlertId::new();
                IngestEvent::Trigger(NewAlert {
                    id,
                    service: integration.service.clone(),
                    source: integration.kind.clone(),
                    // A sender without a key gets the new alert's id back as its key.
                    dedup_key: event.dedup_key.map_or_else(|| id.to_string(), storable),
                    severity: event.severity,
                    urgency: if high_urgency.contains(&event.severity) {
                        Urgency::High
                    } else {
                        Urgency::Low
                    },
                    summary: storable(event.summary),
                    details: storable_json(event.details),
                    labels: event
                        .labels
                        .into_iter()
                        .map(|(k, v)| (storable(k), storable(v)))
                        .collect(),
                    links: event
                        .links
                        .into_iter()
                        .map(|l| Link {
                            href: storable(l.href),
                            text: l.text.map(storable),
                        })
                        .collect(),
                    at: now,
                })
            }
            action => {
                let alert_key = AlertKey {
                    service: integration.service.clone(),
                    source: integration.kind.clone(),
                    dedup_key: storable(key(event.dedup_key)?),
                    at: now,
                };
                if action == AlertAction::Resolve {
                    IngestEvent::Resolve(alert_key)
                } else {
                    IngestEvent::Acknowledge(alert_key)
                }
            }
        })
    }

    /// A card for each alert opened, and an update of the card of each alert changed, on
    /// every chat platform; one job per alert however often it appears in the batch.
    fn ingest_jobs(&self, outcomes: &[IngestOutcome], now: DateTime<Utc>) -> Vec<NewJob> {
        let mut opened = HashSet::new();
        let mut changed = Vec::new();
        for outcome in outcomes {
            let Some(alert) = &outcome.alert else {
                continue;
            };
            match outcome.result {
                IngestResult::Created => {
                    opened.insert(alert.id);
                }
                IngestResult::Unchanged => {}
                _ => {
                    if !changed.contains(&alert.id) {
                        changed.push(alert.id);
                    }
                }
            }
        }
        let mut jobs: Vec<NewJob> = outcomes
            .iter()
            .filter(|o| o.result == IngestResult::Created)
            .filter_map(|o| o.alert.as_ref().and_then(|a| self.first_escalation_step(a)))
            .collect();
        for platform in &self.settings.chat_platforms {
            // Opened in this batch: the card is posted as the alert stands when the job runs.
            for outcome in outcomes
                .iter()
                .filter(|o| o.result == IngestResult::Created)
            {
                let Some(alert) = &outcome.alert else {
                    continue;
                };
                let channel = self.service_settings(&alert.service).alerts_channel;
                let payload = json!({ "alert_id": alert.id, "channel": channel });
                jobs.push(NewJob::new(
                    chat_queue(platform),
                    kinds::ALERT_OPENED,
                    payload,
                    now,
                ));
            }
            for id in changed.iter().filter(|id| !opened.contains(id)) {
                let payload = json!({ "alert_id": id });
                jobs.push(NewJob::new(
                    chat_queue(platform),
                    kinds::ALERT_CHANGED,
                    payload,
                    now,
                ));
            }
        }
        jobs
    }

    /// Creates a heartbeat monitor, with the check of its first deadline.
    pub async fn create_heartbeat(
        &self,
        new: &crate::model::NewHeartbeat,
    ) -> CoreResult<Heartbeat> {
        let check = |h: &Heartbeat| vec![heartbeat_check(h)];
        Ok(self.store.create_heartbeat(new, &check).await?)
    }

    /// Makes the configuration's monitors the stored ones, checking the deadline of each
    /// new or changed one.
    pub async fn sync_config_heartbeats(
        &self,
        declared: &[crate::model::NewHeartbeat],
    ) -> CoreResult<()> {
        let check = |h: &Heartbeat| vec![heartbeat_check(h)];
        Ok(self.store.sync_config_heartbeats(declared, &check).await?)
    }

    /// Records a ping: the monitor is up again, its next deadline is checked, and an alert
    /// it had opened is resolved.
    pub async fn ping(&self, heartbeat: &Heartbeat) -> CoreResult<Heartbeat> {
        let now = self.clock.now();
        let check = |h: &Heartbeat| vec![heartbeat_check(h)];
        let heartbeat = self.store.record_ping(heartbeat.id, now, &check).await?;
        // A second transaction: if the process dies between the two, the next ping
        // resolves the alert.
        if self
            .store
            .open_alert_by_key(&heartbeat.service, &heartbeat.dedup_key())
            .await?
            .is_some()
        {
            let event = AlertEvent {
                action: AlertAction::Resolve,
                dedup_key: Some(heartbeat.dedup_key()),
                severity: AlertSeverity::Info,
                summary: String::new(),
                details: json!({}),
                labels: Default::default(),
                links: Vec::new(),
            };
            self.ingest(&heartbeat_integration(&heartbeat), vec![event])
                .await?;
        }
        Ok(heartbeat)
    }
}

/// Text as the store can keep it on every backend: monitoring tools send NUL characters now
/// and then (valid JSON, refused by PostgreSQL), and an alert must never be lost for one.
/// They become U+FFFD, the replacement character, so the change stays visible.
fn storable(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text
    }
}

fn storable_json(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(storable(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(storable_json).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (storable(k), storable_json(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The check that fires when `heartbeat` misses its current deadline.
pub fn heartbeat_check(heartbeat: &Heartbeat) -> NewJob {
    let deadline = heartbeat.deadline();
    NewJob::new(
        CORE_QUEUE,
        kinds::HEARTBEAT_CHECK,
        json!({ "heartbeat_id": heartbeat.id, "deadline": deadline }),
        deadline,
    )
}

/// Heartbeat alerts are ingested as if from an integration of kind `heartbeat`.
fn heartbeat_integration(heartbeat: &Heartbeat) -> Integration {
    Integration {
        id: heartbeat.id,
        service: heartbeat.service.clone(),
        name: heartbeat.name.clone(),
        kind: "heartbeat".into(),
        origin: heartbeat.origin.clone(),
        settings: json!({}),
        created_at: heartbeat.created_at,
    }
}

#[derive(Deserialize)]
struct CheckPayload {
    heartbeat_id: uuid::Uuid,
    deadline: DateTime<Utc>,
}

/// Runs `heartbeat.check` jobs: when a monitor's deadline passes without a ping, opens one
/// alert on its service. A check made stale by a later ping (which scheduled its own)
/// does nothing.
pub struct HeartbeatChecks {
    core: Core,
}

impl HeartbeatChecks {
    pub fn handlers(core: Core) -> Handlers {
        Handlers::new().on(kinds::HEARTBEAT_CHECK, Arc::new(HeartbeatChecks { core }))
    }
}

#[async_trait]
impl JobHandler for HeartbeatChecks {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let p: CheckPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::permanent(format!("bad heartbeat.check payload: {e}")))?;
        let heartbeat = match self.core.store.get_heartbeat(p.heartbeat_id).await {
            Ok(h) => h,
            // The monitor was removed from the configuration: nothing to watch.
            Err(crate::StoreError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if heartbeat.deadline() > p.deadline {
            return Ok(());
        }
        let now = self.core.clock.now();
        if now < heartbeat.deadline() {
            // Claimed early (clock skew between replicas): look again at the deadline.
            let wait = (heartbeat.deadline() - now).to_std().unwrap_or_default();
            return Err(JobError::Retry {
                message: "deadline not reached yet".into(),
                after: Some(wait),
            });
        }
        let service: &ServiceId = &heartbeat.service;
        if self
            .core
            .store
            .open_alert_by_key(service, &heartbeat.dedup_key())
            .await?
            .is_some()
        {
            return Ok(());
        }
        let last = match heartbeat.last_ping_at {
            Some(at) => format!("last ping {}", at.format("%Y-%m-%d %H:%M UTC")),
            None => format!(
                "no ping since it was created {}",
                heartbeat.created_at.format("%Y-%m-%d %H:%M UTC")
            ),
        };
        let event = AlertEvent {
            action: AlertAction::Trigger,
            dedup_key: Some(heartbeat.dedup_key()),
            severity: AlertSeverity::Critical,
            summary: format!("Heartbeat '{}' missed: {last}", heartbeat.name),
            details: json!({
                "heartbeat": heartbeat.name,
                "last_ping_at": heartbeat.last_ping_at,
                "deadline": p.deadline,
                "interval_seconds": heartbeat.interval.num_seconds(),
                "grace_seconds": heartbeat.grace.num_seconds(),
            }),
            labels: [("heartbeat".to_owned(), heartbeat.name.clone())].into(),
            links: Vec::new(),
        };
        self.core
            .ingest(&heartbeat_integration(&heartbeat), vec![event])
            .await?;
        Ok(())
    }
}
