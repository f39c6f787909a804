//! What declaring a sev1 or sev2 incident sets off: the on-call of every affected service
//! is paged through an alert on that service, linked to the incident, so the service's own
//! escalation policy and everyone's notification rules apply, and `/incident ack` stops it.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use crate::jobs::{Handlers, JobError, JobHandler};
use crate::model::{
    Actor, AlertAction, AlertEvent, AlertSeverity, IncidentChange, IncidentId, Integration, Job,
    ServiceId, TransitionError, UserId,
};
use crate::ops::{Core, kinds};
use crate::store::StoreError;

/// Severities whose declaration pages the affected services' on-call.
pub fn pages_on_declare(severity: crate::model::Severity) -> bool {
    matches!(
        severity,
        crate::model::Severity::Sev1 | crate::model::Severity::Sev2
    )
}

impl Core {
    /// Who is on call at the first level of each service's policy now: the people to invite
    /// into a new incident's channel.
    pub async fn first_responders(&self, services: &[ServiceId]) -> Vec<UserId> {
        let now = self.clock.now();
        let mut people = Vec::new();
        for service in services {
            match self.service_on_call(service, now).await {
                Ok(levels) => {
                    for person in levels
                        .into_iter()
                        .take(1)
                        .flat_map(|l| l.targets)
                        .flat_map(|t| t.now)
                    {
                        if !people.contains(&person) {
                            people.push(person);
                        }
                    }
                }
                // A service without a policy has nobody to invite; that is not an error.
                Err(e) => tracing::warn!(service = %service, error = %e, "no on-call to invite"),
            }
        }
        people
    }
}

#[derive(Deserialize)]
struct PagePayload {
    incident_id: IncidentId,
    service: ServiceId,
}

/// Runs `incident.page` jobs: one alert per affected service. Idempotent: the alert's
/// dedup key is the incident's, so a rerun folds into the open alert and pages nobody twice.
pub struct IncidentPages {
    core: Core,
}

impl IncidentPages {
    pub fn handlers(core: Core) -> Handlers {
        Handlers::new().on(kinds::INCIDENT_PAGE, Arc::new(IncidentPages { core }))
    }
}

#[async_trait]
impl JobHandler for IncidentPages {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let p: PagePayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::permanent(format!("bad incident.page payload: {e}")))?;
        let incident = self.core.store.get_incident(p.incident_id).await?;
        if !incident.is_open() {
            return Ok(());
        }
        let dedup_key = format!("incident:{}", incident.id);
        let existing = self
            .core
            .store
            .open_alert_by_key(&p.service, &dedup_key)
            .await?;
        let alert_id = match existing {
            Some(alert) => alert.id,
            None => {
                let integration = Integration {
                    id: uuid::Uuid::now_v7(),
                    service: p.service.clone(),
                    name: "incident".into(),
                    kind: "incident".into(),
                    origin: "config".into(),
                    settings: json!({}),
                    created_at: self.core.clock.now(),
                };
                let event = AlertEvent {
                    action: AlertAction::Trigger,
                    dedup_key: Some(dedup_key),
                    severity: AlertSeverity::Critical,
                    summary: format!(
                        "{} ({}) declared: {}",
                        incident.reference(),
                        incident.severity,
                        incident.title
                    ),
                    details: json!({ "incident_id": incident.id, "declared_by": incident.declared_by }),
                    labels: [("incident".to_owned(), incident.reference())].into(),
                    links: Vec::new(),
                };
                let outcomes = self.core.ingest(&integration, vec![event]).await?;
                match outcomes
                    .first()
                    .and_then(|o| o.alert.as_ref().map(|a| a.id))
                {
                    Some(id) => id,
                    None => return Err(JobError::retry("the page alert was not created")),
                }
            }
        };
        if incident.alerts.contains(&alert_id) {
            return Ok(());
        }
        match self
            .core
            .change(
                &Actor::System,
                incident.id,
                vec![IncidentChange::LinkAlert(alert_id)],
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(crate::CoreError::Store(StoreError::Transition(
                TransitionError::Unchanged(_) | TransitionError::IncidentResolved(_),
            ))) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
