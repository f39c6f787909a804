//! The operations every entry point shares (REST, chat commands, the console): validate,
//! change state through the store, and write the follow-up jobs in the same transaction.

use std::sync::Arc;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::clock::Clock;
use crate::model::{
    Actor, Alert, AlertId, AlertSeverity, Incident, IncidentChange, IncidentId, NewIncident,
    NewJob, NewStatusUpdate, NewTimelineEntry, ServiceId, Severity, StatusUpdate, Subject,
    TimelineEntry, TimelineKind, UserId, Visibility,
};
use crate::store::{Store, StoreError, no_jobs};

/// Longest incident title, in characters; chat platforms cut channel topics around here.
pub const MAX_TITLE: usize = 200;
/// Longest status update or note, in characters.
pub const MAX_TEXT: usize = 4_000;

/// Job kinds the core writes. Chat kinds run in the `chat:<platform>` queue of each
/// platform; the rest in `core`.
pub mod kinds {
    pub const INCIDENT_OPENED: &str = "chat.incident_opened";
    pub const INCIDENT_CHANGED: &str = "chat.incident_changed";
    pub const STATUS_UPDATE: &str = "chat.status_update";
    pub const REMINDER_POST: &str = "chat.update_reminder";
    pub const UPDATE_REMINDER: &str = "incident.update_reminder";
    pub const ALERT_OPENED: &str = "chat.alert_opened";
    pub const ALERT_CHANGED: &str = "chat.alert_changed";
    pub const HEARTBEAT_CHECK: &str = "heartbeat.check";
    pub const ESCALATION_STEP: &str = "escalation.step";
    pub const PAGE_DM: &str = "chat.page";
    pub const PAGE_NOTIFY: &str = "notify.page";
    pub const INCIDENT_PAGE: &str = "incident.page";
    pub const ACTION_RUN: &str = "action.run";
    pub const ACTION_POLL: &str = "action.poll";
    pub const ACTION_RESULT: &str = "chat.action_result";
    pub const RESPONDER_PAGE: &str = "chat.responder_page";
}

pub const CORE_QUEUE: &str = "core";
/// Pages over webhook, e-mail, SMS and voice: run by `tocsin serve` only, the process
/// that holds the providers' credentials.
pub const NOTIFY_QUEUE: &str = "notify";

pub fn chat_queue(platform: &str) -> String {
    format!("chat:{platform}")
}

/// The job order (see [`NewJob::in_order_of`]) of what is posted to an incident's channel:
/// its announcement, changes and status updates arrive in the order they happened.
fn channel_order(incident: IncidentId) -> String {
    format!("incident:{incident}")
}

#[derive(Debug, Clone, Default)]
pub struct CoreSettings {
    /// Chat platforms that get incident channels, cards and updates.
    pub chat_platforms: Vec<String>,
    /// Remind the incident channel when an open incident has had no status update for this
    /// long (incident.io's "update reminder"). None: never.
    pub update_reminder: Option<Duration>,
    /// Per-severity intervals that override `update_reminder` (None: no reminders for
    /// that severity).
    pub update_reminder_by_severity: HashMap<Severity, Option<Duration>>,
    /// Per-service settings; a service not listed gets the defaults.
    pub services: HashMap<ServiceId, ServiceSettings>,
    /// On-call schedules, by id.
    pub schedules: HashMap<String, crate::schedule::Schedule>,
    /// Escalation policies, by id.
    pub policies: HashMap<String, crate::model::EscalationPolicy>,
    /// Team members, by team.
    pub teams: HashMap<crate::model::TeamId, Vec<UserId>>,
    /// How each person is paged; people not listed get [`default_rules`].
    pub notify_rules: HashMap<UserId, Vec<crate::model::NotifyRule>>,
    /// Notifier channels set up in this installation (`email`, `sms`, …); `chat` is there
    /// whenever a chat platform is. Rules on other channels are passed over, so that an
    /// attempt never goes to a channel nobody can deliver on.
    pub notifier_channels: Vec<String>,
    /// Time between attempts at an escalation level; None: the guide's minute.
    pub attempt_interval: Option<Duration>,
    /// Actions chat may run.
    pub actions: Vec<crate::actions::ActionSpec>,
    /// The incident channel name template (see [`crate::effects::channel_name_with`]);
    /// None: `inc-{number}-{slug}`.
    pub channel_name: Option<String>,
    /// Record every message said in an incident channel in its timeline (where the
    /// platform delivers them), not only pinned ones.
    pub capture_chat: bool,
    /// Roles granted by membership of a chat group (a Slack user group, a Discord role, a
    /// Teams group), on top of each person's own.
    pub group_roles: Vec<GroupRole>,
    /// The public status page: its components and how it presents itself.
    pub status_page: crate::statuspage::StatusPageSettings,
    /// Post-incident reviews: the template, the reminder, who is asked for an owner.
    pub postmortem: crate::postmortem::PostmortemSettings,
    /// Trackers action items may be filed in.
    pub trackers: crate::postmortem::action_items::TrackerSettings,
    /// A meeting link template for every incident (`https://meet.jit.si/tocsin-inc-{number}`):
    /// a "Join huddle" link on incident cards and in the postmortem. None: no link.
    pub conference_url: Option<String>,
    /// What reports need beyond the store (each responder's working hours).
    pub reports: crate::reports::ReportSettings,
    /// Tocsin's public base URL without a trailing slash (`TOCSIN_PUBLIC_URL`), for links
    /// in chat messages and e-mails. Empty in tests that post no links.
    pub public_url: String,
}

/// Everyone in `group` on `platform` has at least `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRole {
    pub platform: String,
    pub group: String,
    pub role: crate::model::Role,
}

impl CoreSettings {
    pub fn channel_name(&self) -> &str {
        self.channel_name
            .as_deref()
            .unwrap_or(crate::effects::DEFAULT_CHANNEL_NAME)
    }

    /// How long an open incident of `severity` may go without a status update.
    pub fn reminder_every(&self, severity: Severity) -> Option<Duration> {
        self.update_reminder_by_severity
            .get(&severity)
            .copied()
            .unwrap_or(self.update_reminder)
    }

    /// Whether any severity gets update reminders.
    pub fn reminds(&self) -> bool {
        Severity::ALL
            .iter()
            .any(|s| self.reminder_every(*s).is_some())
    }

    pub fn attempt_interval(&self) -> Duration {
        self.attempt_interval
            .unwrap_or_else(crate::escalation::default_attempt_interval)
    }

    /// The rules `user` is paged by, on channels this installation can deliver on.
    pub fn rules_of(
        &self,
        user: &UserId,
        urgency: crate::model::Urgency,
    ) -> Vec<crate::model::NotifyRule> {
        let own: Vec<crate::model::NotifyRule> = self
            .notify_rules
            .get(user)
            .into_iter()
            .flatten()
            .filter(|r| r.urgency.is_none_or(|u| u == urgency))
            .cloned()
            .collect();
        let rules = if own.is_empty() {
            default_rules(urgency)
        } else {
            own
        };
        rules
            .into_iter()
            .filter(|r| {
                if r.channel == "chat" {
                    !self.chat_platforms.is_empty()
                } else {
                    self.notifier_channels.contains(&r.channel)
                }
            })
            .collect()
    }
}

/// How people without rules of their own for an alert's urgency are paged: for high
/// urgency a chat direct message at once, an SMS after a minute and a voice call after
/// two; for low urgency a chat message only (channels not set up are skipped).
pub fn default_rules(urgency: crate::model::Urgency) -> Vec<crate::model::NotifyRule> {
    use crate::model::{NotifyRule, Urgency};
    match urgency {
        Urgency::High => vec![
            NotifyRule::new("chat", 0),
            NotifyRule::new("sms", 1),
            NotifyRule::new("voice", 2),
        ],
        Urgency::Low => vec![NotifyRule::new("chat", 0)],
    }
}

/// How a service's alerts are handled.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSettings {
    /// Where its alert cards are posted, on every chat platform.
    pub alerts_channel: String,
    /// Severities that are high urgency; the others are low.
    pub high_urgency: Vec<AlertSeverity>,
    /// The policy that pages for its high-urgency alerts.
    pub escalation_policy: Option<String>,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            alerts_channel: "alerts".into(),
            high_urgency: vec![AlertSeverity::Critical, AlertSeverity::Error],
            escalation_policy: None,
        }
    }
}

/// Input a person got wrong; shown to them, with the field it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type CoreResult<T> = Result<T, CoreError>;

impl From<CoreError> for crate::jobs::JobError {
    /// A job that asked the core for something invalid will never succeed; a store failure
    /// is judged as the store's own errors are.
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Store(s) => s.into(),
            CoreError::Invalid(i) => crate::jobs::JobError::permanent(i),
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid(Invalid {
        field,
        message: message.into(),
    })
}

/// A chat message to capture into a timeline.
#[derive(Debug, Clone)]
pub struct CapturedMessage {
    pub platform: String,
    pub message_id: String,
    /// Who wrote it: `user:alice`, or the platform's id for someone not in the directory.
    pub author: String,
    pub text: String,
    /// Who put it there: the person who pinned it, or `system` for captured talk.
    pub captured_by: String,
    pub pinned: bool,
}

/// A request to declare an incident.
#[derive(Debug, Clone)]
pub struct Declare {
    pub title: String,
    pub severity: Severity,
    pub services: Vec<ServiceId>,
    pub commander: Option<UserId>,
    /// Alerts to link from the start.
    pub alerts: Vec<AlertId>,
    /// Declaring twice with one key creates one incident (see [`NewIncident`]).
    pub idempotency_key: Option<String>,
    /// What is known so far, from the declare form; recorded with the declaration.
    pub description: Option<String>,
}

#[derive(Clone)]
pub struct Core {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<CoreSettings>,
    pub(crate) ingest_group: Arc<crate::group_commit::GroupCommit>,
    /// This process's view of its delivery channels and single-owner work.
    pub health: Arc<crate::health::Health>,
}

impl Core {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: CoreSettings) -> Self {
        Self {
            store,
            clock,
            settings: Arc::new(settings),
            ingest_group: Default::default(),
            health: Default::default(),
        }
    }

    pub async fn declare(&self, actor: &Actor, req: Declare) -> CoreResult<Incident> {
        let title = checked_text("title", &req.title, MAX_TITLE)?;
        for service in &req.services {
            self.known_service(service).await?;
        }
        if let Some(commander) = &req.commander {
            self.known_user("commander", commander).await?;
        }
        let now = self.clock.now();
        let new = NewIncident {
            id: IncidentId::new(),
            title,
            severity: req.severity,
            commander: req.commander,
            services: req.services,
            alerts: req.alerts,
            declared_by: actor.to_string(),
            declared_at: now,
            idempotency_key: req.idempotency_key,
            description: match &req.description {
                Some(d) if !d.trim().is_empty() => Some(checked_text("description", d, MAX_TEXT)?),
                _ => None,
            },
        };
        let reminder = self.settings.reminder_every(new.severity);
        let platforms = self.settings.chat_platforms.clone();
        // The on-call of the affected services are invited into the channel; for sev1 and
        // sev2 they are paged as well.
        let invite = self.first_responders(&new.services).await;
        // A service whose alert the incident was declared from is paging already.
        let mut paging_already = Vec::new();
        for alert in &new.alerts {
            paging_already.push(self.store.get_alert(*alert).await?.service);
        }
        let page = crate::declare_paging::pages_on_declare(new.severity);
        let jobs = move |incident: &Incident| {
            let payload = json!({ "incident_id": incident.id, "invite": invite });
            let mut jobs: Vec<NewJob> = platforms
                .iter()
                .map(|p| {
                    NewJob::new(chat_queue(p), kinds::INCIDENT_OPENED, payload.clone(), now)
                        .in_order_of(channel_order(incident.id))
                })
                .collect();
            if let Some(every) = reminder {
                jobs.push(reminder_job(incident.id, now, every));
            }
            if page {
                jobs.extend(
                    incident
                        .services
                        .iter()
                        .filter(|s| !paging_already.contains(s))
                        .map(|service| {
                            NewJob::new(
                                CORE_QUEUE,
                                kinds::INCIDENT_PAGE,
                                json!({ "incident_id": incident.id, "service": service }),
                                now,
                            )
                        }),
                );
            }
            jobs
        };
        let incident = self.store.create_incident(new, &jobs).await?;
        metrics::counter!("tocsin_incidents_declared_total", "severity" => incident.severity.as_str())
            .increment(1);
        tracing::info!(incident_id = %incident.id, number = incident.number, severity = %incident.severity, "incident declared");
        Ok(incident)
    }

    /// Applies `changes` together; one illegal change refuses them all.
    pub async fn change(
        &self,
        actor: &Actor,
        id: IncidentId,
        changes: Vec<IncidentChange>,
    ) -> CoreResult<Incident> {
        if changes.is_empty() {
            return Err(invalid("changes", "nothing to change"));
        }
        for change in &changes {
            match change {
                IncidentChange::Title(title) => {
                    checked_text("title", title, MAX_TITLE)?;
                }
                IncidentChange::Commander(u) => self.known_user("commander", u).await?,
                IncidentChange::CommunicationsLead(u) => {
                    self.known_user("communications_lead", u).await?
                }
                IncidentChange::AddResponder(u) => self.known_user("responders", u).await?,
                IncidentChange::AddService(s) => self.known_service(s).await?,
                _ => {}
            }
        }
        let lines: Vec<String> = changes.iter().map(describe).collect();
        let platforms = self.settings.chat_platforms.clone();
        let actor_name = actor.to_string();
        let now = self.clock.now();
        let severity_changed = changes
            .iter()
            .any(|c| matches!(c, IncidentChange::Severity(_)));
        // People given a role are invited into the incident's channel.
        let invite: Vec<UserId> = changes
            .iter()
            .filter_map(|c| match c {
                IncidentChange::Commander(u)
                | IncidentChange::CommunicationsLead(u)
                | IncidentChange::AddResponder(u) => Some(u.clone()),
                _ => None,
            })
            .collect();
        let settings = self.settings.clone();
        // A serious incident resolved without a postmortem owner asks its channel for one.
        let prompt_owner = self.wants_owner_prompt(id, &changes).await?;
        let jobs = move |incident: &Incident| {
            let payload = json!({
                "incident_id": incident.id, "lines": lines, "actor": actor_name, "invite": invite
            });
            let mut jobs: Vec<NewJob> = platforms
                .iter()
                .map(|p| {
                    NewJob::new(chat_queue(p), kinds::INCIDENT_CHANGED, payload.clone(), now)
                        .in_order_of(channel_order(incident.id))
                })
                .collect();
            // A new severity may want updates sooner: start a reminder on its interval (the
            // chain that reminds first ends the other).
            if severity_changed
                && incident.is_open()
                && let Some(every) = settings.reminder_every(incident.severity)
            {
                jobs.push(reminder_job(incident.id, now, every));
            }
            if prompt_owner {
                jobs.extend(crate::postmortem::meeting::owner_prompt_jobs(
                    &settings, incident, now,
                ));
            }
            jobs
        };
        let incident = self
            .store
            .change_incident(id, &changes, actor, now, &jobs)
            .await?;
        // Resolved by this change (a resolved incident cannot be resolved again).
        if !incident.is_open() && incident.resolved_at == Some(now) {
            crate::reports::record_incident_resolved(&incident);
        }
        Ok(incident)
    }

    pub async fn post_update(
        &self,
        actor: &Actor,
        id: IncidentId,
        text: &str,
        visibility: Visibility,
    ) -> CoreResult<StatusUpdate> {
        let text = checked_text("text", text, MAX_TEXT)?;
        let now = self.clock.now();
        let platforms = self.settings.chat_platforms.clone();
        let severity = self.store.get_incident(id).await?.severity;
        let reminder = self.settings.reminder_every(severity);
        let jobs = move |update: &StatusUpdate| {
            let payload = json!({ "update_id": update.id });
            let mut jobs: Vec<NewJob> = platforms
                .iter()
                .map(|p| {
                    NewJob::new(chat_queue(p), kinds::STATUS_UPDATE, payload.clone(), now)
                        .in_order_of(channel_order(update.incident_id))
                })
                .collect();
            if let Some(every) = reminder {
                jobs.push(reminder_job(update.incident_id, now, every));
            }
            jobs
        };
        let update = NewStatusUpdate {
            incident_id: id,
            text,
            visibility,
            author: actor.to_string(),
            posted_at: now,
        };
        Ok(self.store.post_status_update(update, &jobs).await?)
    }

    /// A note in the incident's timeline ("timeline add …").
    pub async fn add_note(
        &self,
        actor: &Actor,
        id: IncidentId,
        text: &str,
    ) -> CoreResult<TimelineEntry> {
        let text = checked_text("text", text, MAX_TEXT)?;
        // Refuse notes on an unknown incident with a 404 rather than a foreign-key error.
        self.store.get_incident(id).await?;
        let entry = NewTimelineEntry {
            subject: Subject::Incident(id),
            at: self.clock.now(),
            kind: TimelineKind::Note,
            actor: actor.to_string(),
            text,
            data: json!({}),
        };
        Ok(self.store.add_timeline_entry(entry, &no_jobs).await?)
    }

    /// Sends `user` the incident directly on every chat platform they are on (`responders
    /// add @user --page`), and records it in the timeline.
    pub async fn page_responder(
        &self,
        actor: &Actor,
        id: IncidentId,
        user: &UserId,
    ) -> CoreResult<()> {
        self.known_user("responders", user).await?;
        let incident = self.store.get_incident(id).await?;
        let now = self.clock.now();
        let text = format!(
            "{actor} asks you to join {} ({}): {}",
            incident.reference(),
            incident.severity,
            incident.title
        );
        let platforms = self.settings.chat_platforms.clone();
        let payload = json!({ "incident_id": id, "user": user, "text": text });
        let jobs = move |_: &TimelineEntry| {
            platforms
                .iter()
                .map(|p| NewJob::new(chat_queue(p), kinds::RESPONDER_PAGE, payload.clone(), now))
                .collect()
        };
        let entry = NewTimelineEntry {
            subject: Subject::Incident(id),
            at: now,
            kind: TimelineKind::Paged,
            actor: actor.to_string(),
            text: format!("Paged {user} to join"),
            data: json!({ "user": user }),
        };
        self.store.add_timeline_entry(entry, &jobs).await?;
        Ok(())
    }

    /// A chat message put into the incident's timeline: pinned by someone (📌), or said in
    /// an incident channel that captures its talk. The same message is recorded once.
    pub async fn capture_message(
        &self,
        id: IncidentId,
        message: CapturedMessage,
    ) -> CoreResult<Option<TimelineEntry>> {
        let text = checked_text("text", &message.text, MAX_TEXT)?;
        let timeline = self.store.timeline(Subject::Incident(id)).await?;
        let seen = timeline.iter().any(|e| {
            e.kind == TimelineKind::ChatMessage
                && e.data["platform"] == message.platform.as_str()
                && e.data["message_id"] == message.message_id.as_str()
        });
        if seen {
            return Ok(None);
        }
        let entry = NewTimelineEntry {
            subject: Subject::Incident(id),
            at: self.clock.now(),
            kind: TimelineKind::ChatMessage,
            actor: message.captured_by,
            text: format!("{}: {text}", message.author),
            data: json!({
                "platform": message.platform,
                "message_id": message.message_id,
                "author": message.author,
                "pinned": message.pinned,
            }),
        };
        Ok(Some(self.store.add_timeline_entry(entry, &no_jobs).await?))
    }

    pub async fn acknowledge_alert(&self, actor: &Actor, id: AlertId) -> CoreResult<Alert> {
        let now = self.clock.now();
        let jobs = |alert: &Alert| self.alert_changed_jobs(alert.id, now);
        let alert = self.store.acknowledge_alert(id, actor, now, &jobs).await?;
        if alert.acknowledged_at == Some(now) {
            crate::reports::record_acknowledged(&alert);
        }
        Ok(alert)
    }

    pub async fn resolve_alert(&self, actor: &Actor, id: AlertId) -> CoreResult<Alert> {
        let now = self.clock.now();
        let jobs = |alert: &Alert| self.alert_changed_jobs(alert.id, now);
        Ok(self.store.resolve_alert(id, actor, now, &jobs).await?)
    }

    /// Jobs that bring an alert's cards up to date on every chat platform.
    pub(crate) fn alert_changed_jobs(&self, id: AlertId, now: DateTime<Utc>) -> Vec<NewJob> {
        let payload = json!({ "alert_id": id });
        self.settings
            .chat_platforms
            .iter()
            .map(|p| NewJob::new(chat_queue(p), kinds::ALERT_CHANGED, payload.clone(), now))
            .collect()
    }

    pub fn service_settings(&self, service: &ServiceId) -> ServiceSettings {
        self.settings
            .services
            .get(service)
            .cloned()
            .unwrap_or_default()
    }

    async fn known_user(&self, field: &'static str, id: &UserId) -> CoreResult<()> {
        match self.store.get_user(id).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound(_)) => Err(invalid(field, format!("no user `{id}`"))),
            Err(e) => Err(e.into()),
        }
    }

    async fn known_service(&self, id: &ServiceId) -> CoreResult<()> {
        match self.store.get_service(id).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound(_)) => Err(invalid("services", format!("no service `{id}`"))),
            Err(e) => Err(e.into()),
        }
    }
}

fn reminder_job(
    incident: IncidentId,
    since: chrono::DateTime<chrono::Utc>,
    every: Duration,
) -> NewJob {
    NewJob::new(
        CORE_QUEUE,
        kinds::UPDATE_REMINDER,
        json!({ "incident_id": incident, "since": since }),
        since + every,
    )
}

pub(crate) fn checked_text(field: &'static str, text: &str, max: usize) -> CoreResult<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid(field, format!("{field} must not be empty")));
    }
    if text.chars().count() > max {
        return Err(invalid(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    if text.contains('\0') {
        return Err(invalid(
            field,
            format!("{field} must not contain NUL characters"),
        ));
    }
    Ok(text.to_owned())
}

/// One line for chat about a change, e.g. "Status → monitoring".
fn describe(change: &IncidentChange) -> String {
    match change {
        IncidentChange::Status(s) => format!("Status → {s}"),
        IncidentChange::Severity(s) => format!("Severity → {s}"),
        IncidentChange::Title(t) => format!("Title → {t}"),
        IncidentChange::Commander(u) => format!("Commander → {u}"),
        IncidentChange::CommunicationsLead(u) => format!("Communications lead → {u}"),
        IncidentChange::AddResponder(u) => format!("Responder added: {u}"),
        IncidentChange::AddService(s) => format!("Affected service added: {s}"),
        IncidentChange::LinkAlert(a) => format!("Alert linked: {a}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NotifyRule, Urgency};

    fn channels(settings: &CoreSettings, user: &str, urgency: Urgency) -> Vec<String> {
        settings
            .rules_of(&user.into(), urgency)
            .into_iter()
            .map(|r| r.channel)
            .collect()
    }

    #[test]
    fn rules_follow_urgency_and_skip_channels_not_set_up() {
        let mut settings = CoreSettings {
            chat_platforms: vec!["console".into()],
            notifier_channels: vec!["sms".into(), "email".into()],
            ..Default::default()
        };
        // Defaults: high urgency chat, SMS, (voice is not set up); low urgency chat only.
        assert_eq!(channels(&settings, "alice", Urgency::High), ["chat", "sms"]);
        assert_eq!(channels(&settings, "alice", Urgency::Low), ["chat"]);
        // Own rules per urgency; a rule without urgency is for both.
        let email_low = NotifyRule {
            urgency: Some(Urgency::Low),
            ..NotifyRule::new("email", 0)
        };
        let sms_high = NotifyRule {
            urgency: Some(Urgency::High),
            ..NotifyRule::new("sms", 1)
        };
        settings.notify_rules.insert(
            "alice".into(),
            vec![NotifyRule::new("chat", 0), email_low, sms_high],
        );
        assert_eq!(channels(&settings, "alice", Urgency::High), ["chat", "sms"]);
        assert_eq!(
            channels(&settings, "alice", Urgency::Low),
            ["chat", "email"]
        );
    }
}
