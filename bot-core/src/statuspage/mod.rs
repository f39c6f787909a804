//! The public status page's operations: component states, public incidents (linked to
//! internal ones, in their own words), scheduled maintenance started and completed by
//! durable jobs, and the fan-out of every public change to subscribers.
//!
//! - [`page`]: the read model the page and its JSON are drawn from (overall state, uptime).
//! - [`subscribers`]: subscribing, confirming, unsubscribing, and delivering notices.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::model::{
    Actor, AffectedComponent, Component, ComponentSpec, ComponentStatus, Impact, IncidentId,
    NewJob, NewPublicIncident, NewPublicUpdate, PublicIncident, PublicKind, PublicStatus,
    Subscriber,
};
use crate::ops::{CORE_QUEUE, Core, CoreError, CoreResult, MAX_TEXT, MAX_TITLE, checked_text};
use crate::store::StoreError;

pub mod page;
pub mod subscribers;

/// Job kinds of the status page.
pub mod kinds {
    /// Starts or completes a scheduled maintenance at its time (`core` queue):
    /// [`super::MaintenanceStep`].
    pub const MAINTENANCE: &str = "statuspage.maintenance";
    /// Tells one e-mail or webhook subscriber of a public change (`notify` queue):
    /// [`super::NoticeJob`].
    pub const NOTIFY: &str = "statuspage.notify";
    /// Tells one chat-channel subscriber (`chat:<platform>` queue): [`super::NoticeJob`].
    pub const CHAT_NOTICE: &str = "chat.statuspage_notice";
    /// Sends an e-mail subscriber the confirmation link (`notify` queue):
    /// `{"subscriber_id": …}`.
    pub const CONFIRM: &str = "statuspage.confirm";
}

/// The status page's settings (`[statuspage]` in `tocsin.toml`).
#[derive(Debug, Clone)]
pub struct StatusPageSettings {
    /// The page's title: "Example Corp Status".
    pub name: String,
    /// Where the page is published, without a trailing slash
    /// (`https://status.example.com/status`); links in notices and feeds point here.
    pub url: Option<String>,
    pub logo_url: Option<String>,
    /// The accent colour (`#RRGGBB`) of the page's header and links.
    pub accent: String,
    /// The page's id in the Statuspage-compatible JSON (12 lowercase letters and digits).
    pub page_id: String,
    /// IANA time zone of the page (Statuspage's `page.time_zone`).
    pub time_zone: String,
    /// Components, in display order.
    pub components: Vec<ComponentSpec>,
}

impl Default for StatusPageSettings {
    fn default() -> Self {
        StatusPageSettings {
            name: "Status".into(),
            url: None,
            logo_url: None,
            accent: "#0b5cad".into(),
            page_id: "tocsinstatus".into(),
            time_zone: "Etc/UTC".into(),
            components: Vec::new(),
        }
    }
}

impl StatusPageSettings {
    pub fn component(&self, id: &str) -> Option<&ComponentSpec> {
        self.components.iter().find(|c| c.id == id)
    }

    /// Ids of the components driven by any of `services`.
    pub fn components_of(&self, services: &[crate::model::ServiceId]) -> Vec<String> {
        self.components
            .iter()
            .filter(|c| c.services.iter().any(|s| services.contains(s)))
            .map(|c| c.id.clone())
            .collect()
    }
}

/// What a notice tells a subscriber about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NoticeEvent {
    /// A public update of a public incident or maintenance (its first one included).
    Update {
        public_incident_id: Uuid,
        update_id: Uuid,
    },
    /// Components changed outside any public record.
    Components {
        changes: Vec<AffectedComponent>,
        at: DateTime<Utc>,
    },
}

/// The payload of [`kinds::NOTIFY`] and [`kinds::CHAT_NOTICE`] jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeJob {
    pub subscriber_id: Uuid,
    pub event: NoticeEvent,
}

/// The payload of [`kinds::MAINTENANCE`] jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceStep {
    pub public_incident_id: Uuid,
    /// `in_progress` at the start, `completed` at the end.
    pub to: PublicStatus,
}

/// One notice job per confirmed subscriber that `touched` components concern: e-mail and
/// webhook subscribers in the `notify` queue, chat channels in their platform's queue.
pub fn notice_jobs(
    subscribers: &[Subscriber],
    event: &NoticeEvent,
    touched: &[String],
    now: DateTime<Utc>,
) -> Vec<NewJob> {
    subscribers
        .iter()
        .filter(|s| s.confirmed_at.is_some() && s.wants(touched))
        .map(|s| {
            let payload = json!(NoticeJob {
                subscriber_id: s.id,
                event: event.clone(),
            });
            match s.kind {
                crate::model::SubscriberKind::Chat => {
                    let platform = s.target.split_once(':').map_or("", |(p, _)| p);
                    NewJob::new(
                        crate::ops::chat_queue(platform),
                        kinds::CHAT_NOTICE,
                        payload,
                        now,
                    )
                }
                _ => NewJob::new(crate::ops::NOTIFY_QUEUE, kinds::NOTIFY, payload, now),
            }
        })
        .collect()
}

/// A new public incident, from the REST API or a chat dialog.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenPublic {
    pub incident_id: Option<IncidentId>,
    pub name: String,
    pub impact: Impact,
    pub status: PublicStatus,
    pub body: String,
    pub components: Vec<String>,
    /// The state to put `components` in; None: the one `impact` calls for.
    pub component_status: Option<ComponentStatus>,
}

/// An update to a public incident or maintenance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PublicChange {
    /// None: stays where it is.
    pub status: Option<PublicStatus>,
    pub body: String,
    pub impact: Option<Impact>,
    pub component_changes: Vec<(String, ComponentStatus)>,
}

/// A maintenance to announce.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleMaintenance {
    pub name: String,
    pub body: String,
    pub components: Vec<String>,
    pub starts: DateTime<Utc>,
    pub ends: DateTime<Utc>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid(crate::ops::Invalid {
        field,
        message: message.into(),
    })
}

impl Core {
    /// Every configured component with its current state, in display order.
    pub async fn status_components(&self) -> CoreResult<Vec<Component>> {
        let states = self.store.component_states().await?;
        Ok(self
            .settings
            .status_page
            .components
            .iter()
            .map(|spec| {
                let state = states.iter().find(|(id, _, _)| *id == spec.id);
                Component {
                    id: spec.id.clone(),
                    name: spec.name.clone(),
                    group: spec.group.clone(),
                    description: spec.description.clone(),
                    services: spec.services.clone(),
                    position: spec.position,
                    status: state.map_or(ComponentStatus::Operational, |s| s.1),
                    updated_at: state.map(|s| s.2),
                }
            })
            .collect())
    }

    /// Refuses components not in the configuration, naming the valid ones.
    pub fn known_components(&self, ids: &[String]) -> CoreResult<()> {
        let settings = &self.settings.status_page;
        for id in ids {
            if settings.component(id).is_none() {
                let valid: Vec<&str> = settings.components.iter().map(|c| c.id.as_str()).collect();
                return Err(invalid(
                    "component",
                    if valid.is_empty() {
                        format!(
                            "unknown component `{id}`: no components are configured ([[statuspage.components]] in tocsin.toml)"
                        )
                    } else {
                        format!("unknown component `{id}`; valid: {}", valid.join(", "))
                    },
                ));
            }
        }
        Ok(())
    }

    async fn confirmed_subscribers(&self) -> CoreResult<Vec<Subscriber>> {
        Ok(self.store.list_subscribers(true).await?)
    }

    /// Sets component states outside any public record and tells subscribers.
    pub async fn set_component_states(
        &self,
        actor: &Actor,
        changes: Vec<(String, ComponentStatus)>,
    ) -> CoreResult<Vec<AffectedComponent>> {
        let ids: Vec<String> = changes.iter().map(|(c, _)| c.clone()).collect();
        self.known_components(&ids)?;
        let subscribers = self.confirmed_subscribers().await?;
        let now = self.clock.now();
        let jobs = move |affected: &[AffectedComponent]| {
            if affected.is_empty() {
                return Vec::new();
            }
            let touched: Vec<String> = affected.iter().map(|a| a.component.clone()).collect();
            let event = NoticeEvent::Components {
                changes: affected.to_vec(),
                at: now,
            };
            notice_jobs(&subscribers, &event, &touched, now)
        };
        let affected = self
            .store
            .set_component_states(&changes, now, &jobs)
            .await?;
        tracing::info!(actor = %actor, changed = affected.len(), "status page components set");
        Ok(affected)
    }

    /// Opens a public incident with its first update.
    pub async fn open_public_incident(
        &self,
        actor: &Actor,
        req: OpenPublic,
    ) -> CoreResult<PublicIncident> {
        self.open_public_with(actor, req, Vec::new()).await
    }

    /// [`Core::open_public_incident`] with component states that override the one the
    /// request gives all its components.
    async fn open_public_with(
        &self,
        actor: &Actor,
        req: OpenPublic,
        overrides: Vec<(String, ComponentStatus)>,
    ) -> CoreResult<PublicIncident> {
        let name = checked_text("name", &req.name, MAX_TITLE)?;
        let body = checked_text("body", &req.body, MAX_TEXT)?;
        if !req.status.fits(PublicKind::Incident) {
            return Err(invalid(
                "status",
                format!(
                    "`{}` is not an incident status; use investigating, identified, monitoring or resolved",
                    req.status
                ),
            ));
        }
        if req.impact == Impact::Maintenance {
            return Err(invalid(
                "impact",
                "an incident's impact is none, minor, major or critical",
            ));
        }
        self.known_components(&req.components)?;
        if let Some(id) = req.incident_id {
            self.store.get_incident(id).await?;
        }
        let state = req
            .component_status
            .or_else(|| ComponentStatus::for_impact(req.impact));
        let overridden: Vec<String> = overrides.iter().map(|(c, _)| c.clone()).collect();
        self.known_components(&overridden)?;
        let mut component_changes: Vec<(String, ComponentStatus)> = match state {
            Some(s) if !req.status.is_closed() => req
                .components
                .iter()
                .filter(|c| !overridden.contains(c))
                .map(|c| (c.clone(), s))
                .collect(),
            _ => Vec::new(),
        };
        component_changes.extend(overrides);
        let now = self.clock.now();
        let new = NewPublicIncident {
            id: Uuid::now_v7(),
            kind: PublicKind::Incident,
            incident_id: req.incident_id,
            name,
            status: req.status,
            impact: req.impact,
            components: req.components,
            scheduled_for: None,
            scheduled_until: None,
            body,
            component_changes,
            author: actor.to_string(),
            at: now,
        };
        let subscribers = self.confirmed_subscribers().await?;
        let jobs = move |p: &PublicIncident| update_notices(&subscribers, p, now);
        let public = self.store.create_public_incident(new, &jobs).await?;
        tracing::info!(public_incident_id = %public.id, impact = %public.impact, "public incident opened");
        Ok(public)
    }

    /// Adds an update to a public incident or maintenance.
    pub async fn update_public_incident(
        &self,
        actor: &Actor,
        id: Uuid,
        change: PublicChange,
    ) -> CoreResult<PublicIncident> {
        let body = checked_text("body", &change.body, MAX_TEXT)?;
        let current = self.store.get_public_incident(id).await?;
        let status = change.status.unwrap_or(current.status);
        if !status.fits(current.kind) {
            let valid: Vec<&str> = match current.kind {
                PublicKind::Incident => PublicStatus::INCIDENT,
                PublicKind::Maintenance => PublicStatus::MAINTENANCE,
            }
            .iter()
            .map(|s| s.as_str())
            .collect();
            return Err(invalid(
                "status",
                format!(
                    "`{status}` is not a {} status; valid: {}",
                    current.kind,
                    valid.join(", ")
                ),
            ));
        }
        if let Some(impact) = change.impact
            && (impact == Impact::Maintenance) != (current.kind == PublicKind::Maintenance)
        {
            return Err(invalid(
                "impact",
                format!("`{impact}` is not an impact a {} may have", current.kind),
            ));
        }
        let ids: Vec<String> = change
            .component_changes
            .iter()
            .map(|(c, _)| c.clone())
            .collect();
        self.known_components(&ids)?;
        let mut component_changes = change.component_changes;
        // Closing a record returns what it touched to operational, unless this update
        // says otherwise for a component.
        if status.is_closed() {
            for c in &current.components {
                if !component_changes.iter().any(|(id, _)| id == c) {
                    component_changes.push((c.clone(), ComponentStatus::Operational));
                }
            }
        }
        let now = self.clock.now();
        let update = NewPublicUpdate {
            public_incident_id: id,
            status,
            body,
            impact: change.impact,
            add_components: ids,
            component_changes,
            author: actor.to_string(),
            at: now,
            only_from: Vec::new(),
        };
        let subscribers = self.confirmed_subscribers().await?;
        let jobs = move |p: &PublicIncident| update_notices(&subscribers, p, now);
        Ok(self.store.add_public_update(update, &jobs).await?)
    }

    /// `/incident update --public <text>`: posts `text` to the public incident linked to
    /// `incident`, opening it on first use with the incident's title, an impact from its
    /// severity and the components of its services.
    pub async fn post_public_update(
        &self,
        actor: &Actor,
        incident: IncidentId,
        text: &str,
        component_changes: Vec<(String, ComponentStatus)>,
    ) -> CoreResult<PublicIncident> {
        let internal = self.store.get_incident(incident).await?;
        let status = public_status_of(internal.status);
        match self.store.public_incident_for(incident).await? {
            Some(public) if !public.status.is_closed() => {
                self.update_public_incident(
                    actor,
                    public.id,
                    PublicChange {
                        status: Some(status),
                        body: text.to_owned(),
                        impact: None,
                        component_changes,
                    },
                )
                .await
            }
            Some(public) => Err(CoreError::Store(StoreError::Conflict(format!(
                "the public incident \"{}\" is {} and takes no more updates",
                public.name, public.status
            )))),
            None => {
                let impact = Impact::for_severity(internal.severity);
                let mut components = self.settings.status_page.components_of(&internal.services);
                for (c, _) in &component_changes {
                    if !components.contains(c) {
                        components.push(c.clone());
                    }
                }
                self.open_public_with(
                    actor,
                    OpenPublic {
                        incident_id: Some(incident),
                        name: internal.title.clone(),
                        impact,
                        status,
                        body: text.to_owned(),
                        components,
                        component_status: None,
                    },
                    // Explicit states win over the impact's default.
                    component_changes,
                )
                .await
            }
        }
    }

    /// Resolves the public incident linked to `incident` with `text`, its final public
    /// message, returning its components to operational. None when it has none open.
    pub async fn resolve_public(
        &self,
        actor: &Actor,
        incident: IncidentId,
        text: &str,
    ) -> CoreResult<Option<PublicIncident>> {
        match self.store.public_incident_for(incident).await? {
            Some(public) if !public.status.is_closed() => Ok(Some(
                self.update_public_incident(
                    actor,
                    public.id,
                    PublicChange {
                        status: Some(PublicStatus::Resolved),
                        body: text.to_owned(),
                        impact: None,
                        component_changes: Vec::new(),
                    },
                )
                .await?,
            )),
            _ => Ok(None),
        }
    }

    /// Announces a maintenance window; durable jobs start it at `starts` (components under
    /// maintenance) and complete it at `ends` (components operational).
    pub async fn schedule_maintenance(
        &self,
        actor: &Actor,
        req: ScheduleMaintenance,
    ) -> CoreResult<PublicIncident> {
        let name = checked_text("name", &req.name, MAX_TITLE)?;
        let body = checked_text("body", &req.body, MAX_TEXT)?;
        self.known_components(&req.components)?;
        let now = self.clock.now();
        if req.ends <= req.starts {
            return Err(invalid("ends", "a maintenance must end after it starts"));
        }
        if req.ends <= now {
            return Err(invalid("ends", "this maintenance window is already over"));
        }
        let new = NewPublicIncident {
            id: Uuid::now_v7(),
            kind: PublicKind::Maintenance,
            incident_id: None,
            name,
            status: PublicStatus::Scheduled,
            impact: Impact::Maintenance,
            components: req.components,
            scheduled_for: Some(req.starts),
            scheduled_until: Some(req.ends),
            body,
            component_changes: Vec::new(),
            author: actor.to_string(),
            at: now,
        };
        let subscribers = self.confirmed_subscribers().await?;
        let (starts, ends) = (req.starts, req.ends);
        let jobs = move |p: &PublicIncident| {
            let mut jobs = update_notices(&subscribers, p, now);
            for (to, at) in [
                (PublicStatus::InProgress, starts),
                (PublicStatus::Completed, ends),
            ] {
                jobs.push(NewJob::new(
                    CORE_QUEUE,
                    kinds::MAINTENANCE,
                    json!(MaintenanceStep {
                        public_incident_id: p.id,
                        to
                    }),
                    at.max(now),
                ));
            }
            jobs
        };
        Ok(self.store.create_public_incident(new, &jobs).await?)
    }
}

/// The public status matching an internal incident's status.
pub fn public_status_of(status: crate::model::IncidentStatus) -> PublicStatus {
    use crate::model::IncidentStatus as S;
    match status {
        S::Investigating => PublicStatus::Investigating,
        S::Identified => PublicStatus::Identified,
        S::Monitoring => PublicStatus::Monitoring,
        S::Resolved => PublicStatus::Resolved,
    }
}

/// Notices of `public`'s newest update.
fn update_notices(
    subscribers: &[Subscriber],
    public: &PublicIncident,
    now: DateTime<Utc>,
) -> Vec<NewJob> {
    let Some(update) = public.updates.first() else {
        return Vec::new();
    };
    let event = NoticeEvent::Update {
        public_incident_id: public.id,
        update_id: update.id,
    };
    notice_jobs(subscribers, &event, &public.components, now)
}

/// Starts and completes scheduled maintenance at its announced times. A step finds the
/// record where a person may have left it: a start does nothing once it was started (or
/// completed) by hand, a completion nothing once it is over.
pub struct MaintenanceSteps {
    core: Core,
}

impl MaintenanceSteps {
    pub fn handlers(core: Core) -> crate::jobs::Handlers {
        crate::jobs::Handlers::new().on(
            kinds::MAINTENANCE,
            std::sync::Arc::new(MaintenanceSteps { core }),
        )
    }
}

#[async_trait::async_trait]
impl crate::jobs::JobHandler for MaintenanceSteps {
    async fn run(&self, job: &crate::model::Job) -> Result<(), crate::jobs::JobError> {
        let step: MaintenanceStep = serde_json::from_value(job.payload.clone()).map_err(|e| {
            crate::jobs::JobError::permanent(format!("bad {} payload: {e}", job.kind))
        })?;
        let store = &self.core.store;
        let record = match store.get_public_incident(step.public_incident_id).await {
            Ok(r) => r,
            // Deleted since: nothing to start or complete.
            Err(StoreError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let (only_from, state, body) = match step.to {
            PublicStatus::InProgress => (
                vec![PublicStatus::Scheduled],
                ComponentStatus::UnderMaintenance,
                "Scheduled maintenance is now in progress.",
            ),
            PublicStatus::Completed => (
                vec![
                    PublicStatus::Scheduled,
                    PublicStatus::InProgress,
                    PublicStatus::Verifying,
                ],
                ComponentStatus::Operational,
                "Scheduled maintenance has been completed.",
            ),
            other => {
                return Err(crate::jobs::JobError::permanent(format!(
                    "a maintenance step cannot move to {other}"
                )));
            }
        };
        if !only_from.contains(&record.status) {
            return Ok(());
        }
        let now = self.core.clock.now();
        let update = NewPublicUpdate {
            public_incident_id: record.id,
            status: step.to,
            body: body.into(),
            impact: None,
            add_components: Vec::new(),
            component_changes: record
                .components
                .iter()
                .map(|c| (c.clone(), state))
                .collect(),
            author: "system".into(),
            at: now,
            only_from,
        };
        let subscribers = self.core.store.list_subscribers(true).await?;
        let jobs = move |p: &PublicIncident| update_notices(&subscribers, p, now);
        match store.add_public_update(update, &jobs).await {
            // Moved by a person between our read and our write.
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
