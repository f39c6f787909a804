//! Action items of a postmortem and the tickets filed for them: the settings saying which
//! trackers (and which repositories or projects) may be used, the operations that add and
//! close items, the port a tracker is reached through ([`TicketTracker`]), and the durable
//! job that files a ticket ([`TicketJobs`]). Knows no tracker's API: the adapters render
//! the ticket from [`TicketContext`] in their own format.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use crate::jobs::{Handlers, JobError, JobHandler};
use crate::model::{
    ActionItem, ActionItemState, Actor, Incident, IncidentId, Job, NewActionItem, NewJob,
    NewTimelineEntry, ServiceId, Severity, Subject, TicketStatus, TicketUpdate, TimelineKind,
    Tracker, UserId,
};
use crate::ops::{CORE_QUEUE, Core, CoreError, CoreResult, Invalid, MAX_TITLE, checked_text};
use crate::store::StoreError;

use super::kinds;

/// Which trackers tickets may be filed in.
#[derive(Debug, Clone, Default)]
pub struct TrackerSettings {
    /// GitHub: the repositories (`owner/repo`) issues may be opened in; the first is the
    /// default. Empty: GitHub is not configured.
    pub github_repos: Vec<String>,
    /// Jira Cloud: the project keys issues may be created in; the first is the default.
    /// Empty: Jira is not configured.
    pub jira_projects: Vec<String>,
    /// The tracker used when a command names none; None: items stay in Tocsin unless one
    /// is named.
    pub default: Option<Tracker>,
    /// The Jira Cloud site issues are created on; None: Jira is not configured.
    pub jira_site: Option<JiraSite>,
    /// The secret the tracker signs its webhooks with (GitHub's `X-Hub-Signature-256`);
    /// None: ticket webhooks are refused, saying so.
    pub webhook_secret: Option<WebhookSecret>,
}

/// Where and as whom Jira issues are created. The API token itself stays in the
/// environment variable `token_env` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JiraSite {
    /// `https://acme.atlassian.net`.
    pub base_url: String,
    /// The account the API token belongs to.
    pub email: String,
    pub token_env: String,
    /// The issue type of new issues (`Task`).
    pub issue_type: String,
}

/// A webhook secret: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(pub String);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl TrackerSettings {
    /// Where `tracker` may file tickets; empty when it is not configured.
    pub fn targets(&self, tracker: Tracker) -> &[String] {
        match tracker {
            Tracker::Github => &self.github_repos,
            Tracker::Jira => &self.jira_projects,
        }
    }

    /// The configured trackers and their targets, as a person reads them:
    /// `github (acme/api, acme/web), jira (OPS)`; `none` when there is none.
    pub fn describe(&self) -> String {
        let configured: Vec<String> = [Tracker::Github, Tracker::Jira]
            .into_iter()
            .filter(|t| !self.targets(*t).is_empty())
            .map(|t| format!("{t} ({})", self.targets(t).join(", ")))
            .collect();
        if configured.is_empty() {
            "none".into()
        } else {
            configured.join(", ")
        }
    }

    /// The tracker and target a request resolves to (None: no ticket), or why it cannot be
    /// filed. A target without a tracker names its tracker by its form: `owner/repo` is
    /// GitHub, a project key Jira.
    pub fn resolve(
        &self,
        tracker: Option<Tracker>,
        target: Option<&str>,
    ) -> Result<Option<(Tracker, String)>, Invalid> {
        let target = target.map(str::trim).filter(|t| !t.is_empty());
        let inferred = target.map(|t| {
            if t.contains('/') {
                Tracker::Github
            } else {
                Tracker::Jira
            }
        });
        let Some(tracker) = tracker.or(inferred).or(self.default) else {
            return Ok(None);
        };
        let allowed = self.targets(tracker);
        if allowed.is_empty() {
            return Err(Invalid {
                field: "tracker",
                message: format!(
                    "the {tracker} tracker is not configured; configured trackers: {}",
                    self.describe()
                ),
            });
        }
        let Some(target) = target else {
            return Ok(Some((tracker, allowed[0].clone())));
        };
        // GitHub names and Jira keys are case-insensitive; the configured spelling is kept.
        match allowed.iter().find(|a| a.eq_ignore_ascii_case(target)) {
            Some(found) => Ok(Some((tracker, found.clone()))),
            None => {
                let (field, what) = match tracker {
                    Tracker::Github => ("repo", "repository"),
                    Tracker::Jira => ("project", "project"),
                };
                Err(Invalid {
                    field,
                    message: format!(
                        "{what} `{target}` is not allowed for {tracker}; allowed: {}",
                        allowed.join(", ")
                    ),
                })
            }
        }
    }
}

/// The tracker and target a request names with `--repo` (GitHub) or `--project` (Jira):
/// naming one implies its tracker, and naming the other tracker's kind of target, or
/// both, is refused.
pub fn target_of(
    tracker: Option<Tracker>,
    repo: Option<String>,
    project: Option<String>,
) -> Result<(Option<Tracker>, Option<String>), Invalid> {
    let refuse = |field, message: &str| {
        Err(Invalid {
            field,
            message: message.to_owned(),
        })
    };
    match (tracker, repo, project) {
        (_, Some(_), Some(_)) => refuse("repo", "name a repository or a project, not both"),
        (Some(Tracker::Jira), Some(_), None) => refuse(
            "repo",
            "a repository is for GitHub; name a Jira project instead",
        ),
        (Some(Tracker::Github), None, Some(_)) => refuse(
            "project",
            "a project is for Jira; name a GitHub repository (owner/repo) instead",
        ),
        (tracker, Some(repo), None) => Ok((tracker.or(Some(Tracker::Github)), Some(repo))),
        (tracker, None, Some(project)) => Ok((tracker.or(Some(Tracker::Jira)), Some(project))),
        (tracker, None, None) => Ok((tracker, None)),
    }
}

/// A request to add an action item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddActionItem {
    pub title: String,
    pub tracker: Option<Tracker>,
    /// `owner/repo` for GitHub, a project key for Jira.
    pub target: Option<String>,
    pub assignee: Option<UserId>,
}

/// What a ticket says about the incident it came from, for the tracker adapters to render
/// in their own format.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketContext {
    /// `INC-12`.
    pub reference: String,
    pub incident_title: String,
    pub severity: Severity,
    pub services: Vec<ServiceId>,
    /// The postmortem's page, or the incident in the REST API when it has none.
    pub link: String,
    /// The assignee's name (and id), when the item has one.
    pub assignee: Option<String>,
    /// Labels every ticket gets.
    pub labels: Vec<String>,
}

impl TicketContext {
    /// The labels of every postmortem ticket.
    pub const LABELS: [&str; 2] = ["incident", "postmortem"];

    /// The facts of the ticket body, as (label, value) lines in display order.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let services = if self.services.is_empty() {
            "none".to_owned()
        } else {
            self.services
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut facts = vec![
            (
                "Incident",
                format!("{}: {}", self.reference, self.incident_title),
            ),
            ("Severity", self.severity.to_string()),
            ("Services", services),
        ];
        if let Some(assignee) = &self.assignee {
            facts.push(("Assignee", assignee.clone()));
        }
        facts
    }

    /// The opening sentence of the ticket body.
    pub fn intro(&self) -> String {
        format!(
            "Action item from the postmortem of {} ({}).",
            self.reference, self.incident_title
        )
    }
}

/// A ticket the tracker created.
#[derive(Debug, Clone, PartialEq)]
pub struct FiledTicket {
    /// `owner/repo#12` or `OPS-12`: what the tracker's webhooks name.
    pub key: String,
    /// Where a person opens it.
    pub url: String,
    /// The tracker's state for it (`open`, a Jira status).
    pub state: Option<String>,
}

/// Why a tracker did not file the ticket.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TicketError {
    /// The tracker refused the ticket for good (GitHub 422, Jira 400, bad credentials):
    /// filing again would fail the same way.
    #[error("{0}")]
    Refused(String),
    /// Worth trying again (5xx, timeout, rate limit); `retry_after` is the tracker's own
    /// `Retry-After`.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Option<std::time::Duration>,
    },
}

/// An issue tracker tickets are filed in: GitHub, Jira Cloud.
#[async_trait]
pub trait TicketTracker: Send + Sync {
    /// Files `item` as a ticket in its target (`item.target`).
    async fn file(
        &self,
        item: &ActionItem,
        context: &TicketContext,
    ) -> Result<FiledTicket, TicketError>;
}

#[derive(Debug, Deserialize)]
struct TicketPayload {
    action_item_id: uuid::Uuid,
}

impl Core {
    /// Adds an action item to `incident` and, when it has a tracker, the job that files
    /// its ticket. Invalid (naming the configured ones) for a tracker not configured or a
    /// repository or project not allowed; nothing is written then.
    pub async fn add_action_item(
        &self,
        actor: &Actor,
        incident: IncidentId,
        req: AddActionItem,
    ) -> CoreResult<ActionItem> {
        let title = checked_text("title", &req.title, MAX_TITLE)?;
        let resolved = self
            .settings
            .trackers
            .resolve(req.tracker, req.target.as_deref())?;
        if let Some(assignee) = &req.assignee {
            match self.store.get_user(assignee).await {
                Ok(_) => {}
                Err(StoreError::NotFound(_)) => {
                    return Err(CoreError::Invalid(Invalid {
                        field: "assignee",
                        message: format!("no user `{assignee}`"),
                    }));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let (tracker, target) = resolved.unzip();
        let new = NewActionItem {
            id: uuid::Uuid::now_v7(),
            incident_id: incident,
            title,
            assignee: req.assignee,
            tracker,
            target,
            created_by: actor.to_string(),
            created_at: self.clock.now(),
        };
        let jobs = |item: &ActionItem| {
            if item.tracker.is_some() {
                vec![ticket_job(item)]
            } else {
                Vec::new()
            }
        };
        let item = self.store.add_action_item(new, &jobs).await?;
        tracing::info!(
            incident_id = %incident,
            action_item_id = %item.id,
            tracker = ?item.tracker,
            "action item added"
        );
        Ok(item)
    }

    /// The action items of `incident`, oldest first. NotFound for an unknown incident.
    pub async fn action_items_of(&self, incident: IncidentId) -> CoreResult<Vec<ActionItem>> {
        self.store.get_incident(incident).await?;
        Ok(self.store.action_items(incident).await?)
    }

    /// The tracker says ticket `key` was closed (`done`) or reopened: moves the item filed
    /// as that ticket, with a note in the incident's timeline. None when no item has that
    /// ticket (a tracker reports on all its issues, not only ours). Redelivered news
    /// changes nothing.
    pub async fn ticket_changed(
        &self,
        tracker: Tracker,
        key: &str,
        done: bool,
        by: &str,
    ) -> CoreResult<Option<ActionItem>> {
        let Some(item) = self.store.action_item_by_ticket(tracker, key).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let (state, ticket_state, verb) = if done {
            (ActionItemState::Done, "closed", "done")
        } else {
            (ActionItemState::Open, "open", "reopened")
        };
        if item.ticket_state.as_deref() != Some(ticket_state) {
            let update = TicketUpdate {
                status: item.ticket_status,
                key: None,
                url: None,
                state: Some(ticket_state.into()),
                error: item.ticket_error.clone(),
            };
            self.store.record_ticket(item.id, &update, now).await?;
        }
        let note = NewTimelineEntry {
            subject: Subject::Incident(item.incident_id),
            at: now,
            kind: TimelineKind::Note,
            actor: by.to_owned(),
            text: format!(
                "Action item {verb}: {} ({tracker} {key} {ticket_state})",
                item.title
            ),
            data: json!({
                "action_item_id": item.id,
                "tracker": tracker,
                "ticket": key,
                "state": state,
            }),
        };
        let item = self
            .store
            .set_action_item_state(item.id, state, now, Some(note))
            .await?;
        Ok(Some(item))
    }

    /// What the ticket of `item` says about its incident.
    async fn ticket_context(&self, item: &ActionItem) -> CoreResult<TicketContext> {
        let incident: Incident = self.store.get_incident(item.incident_id).await?;
        let link = match self.store.postmortem_for(incident.id).await? {
            Some(postmortem) => format!(
                "{}{}",
                self.settings.public_url,
                self.postmortem_link(&postmortem).await?
            ),
            None => format!(
                "{}/api/v1/incidents/{}",
                self.settings.public_url, incident.id
            ),
        };
        let assignee = match &item.assignee {
            Some(id) => Some(match self.store.get_user(id).await {
                Ok(user) if user.name != id.as_str() => format!("{} ({id})", user.name),
                _ => id.to_string(),
            }),
            None => None,
        };
        Ok(TicketContext {
            reference: incident.reference(),
            incident_title: incident.title,
            severity: incident.severity,
            services: incident.services,
            link,
            assignee,
            labels: TicketContext::LABELS
                .iter()
                .map(|l| l.to_string())
                .collect(),
        })
    }
}

/// The job that files `item`'s ticket.
fn ticket_job(item: &ActionItem) -> NewJob {
    NewJob::new(
        CORE_QUEUE,
        kinds::TICKET,
        json!({ "action_item_id": item.id }),
        item.created_at,
    )
}

/// Files action items' tickets ([`kinds::TICKET`]). A tracker's refusal is recorded on the
/// item as `failed` with the tracker's message; an outage as `pending` with the error, and
/// the job retries with backoff (or the tracker's `Retry-After`) until its attempts run
/// out, when the item is marked failed. The item itself is never lost.
pub struct TicketJobs {
    core: Core,
    trackers: HashMap<Tracker, Arc<dyn TicketTracker>>,
}

impl TicketJobs {
    /// `trackers` are those with credentials; an item for another fails with a message
    /// saying what to set.
    pub fn handlers(core: Core, trackers: HashMap<Tracker, Arc<dyn TicketTracker>>) -> Handlers {
        Handlers::new().on(kinds::TICKET, Arc::new(Self { core, trackers }))
    }

    async fn record(&self, item: &ActionItem, update: TicketUpdate) -> Result<(), JobError> {
        self.core
            .store
            .record_ticket(item.id, &update, self.core.clock.now())
            .await?;
        Ok(())
    }

    async fn fail(&self, item: &ActionItem, message: String) -> Result<(), JobError> {
        tracing::warn!(action_item_id = %item.id, error = %message, "ticket not filed");
        self.record(
            item,
            TicketUpdate {
                status: TicketStatus::Failed,
                key: None,
                url: None,
                state: None,
                error: Some(message),
            },
        )
        .await
    }
}

#[async_trait]
impl JobHandler for TicketJobs {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let p: TicketPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::permanent(format!("bad {} payload: {e}", job.kind)))?;
        let item = self.core.store.get_action_item(p.action_item_id).await?;
        // Idempotent: a job run again after its ticket was recorded files nothing more.
        if item.ticket_status != TicketStatus::Pending {
            return Ok(());
        }
        let Some(tracker) = item.tracker else {
            return Ok(());
        };
        let Some(client) = self.trackers.get(&tracker) else {
            let hint = match tracker {
                Tracker::Github => "set GITHUB_TOKEN",
                Tracker::Jira => "set [trackers.jira] and its API token",
            };
            return self
                .fail(&item, format!("{tracker} has no credentials here: {hint}"))
                .await;
        };
        let context = self.core.ticket_context(&item).await?;
        match client.file(&item, &context).await {
            Ok(ticket) => {
                tracing::info!(action_item_id = %item.id, ticket = %ticket.key, "ticket filed");
                self.record(
                    &item,
                    TicketUpdate {
                        status: TicketStatus::Created,
                        key: Some(ticket.key),
                        url: Some(ticket.url),
                        state: ticket.state,
                        error: None,
                    },
                )
                .await
            }
            Err(TicketError::Refused(message)) => self.fail(&item, message).await,
            Err(TicketError::Unavailable {
                message,
                retry_after,
            }) => {
                if job.attempts >= job.max_attempts {
                    return self
                        .fail(
                            &item,
                            format!("gave up after {} attempts: {message}", job.attempts),
                        )
                        .await;
                }
                self.record(
                    &item,
                    TicketUpdate {
                        status: TicketStatus::Pending,
                        key: None,
                        url: None,
                        state: None,
                        error: Some(message.clone()),
                    },
                )
                .await?;
                Err(JobError::Retry {
                    message,
                    after: retry_after,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TrackerSettings {
        TrackerSettings {
            github_repos: vec!["acme/api".into(), "acme/web".into()],
            jira_projects: vec!["OPS".into()],
            default: Some(Tracker::Github),
            jira_site: None,
            webhook_secret: None,
        }
    }

    #[test]
    fn a_repo_implies_github_and_a_project_jira() {
        assert_eq!(
            target_of(None, Some("a/b".into()), None).unwrap(),
            (Some(Tracker::Github), Some("a/b".into()))
        );
        assert_eq!(
            target_of(None, None, Some("OPS".into())).unwrap(),
            (Some(Tracker::Jira), Some("OPS".into()))
        );
        assert_eq!(
            target_of(Some(Tracker::Jira), None, None).unwrap(),
            (Some(Tracker::Jira), None)
        );
        assert!(target_of(Some(Tracker::Jira), Some("a/b".into()), None).is_err());
        assert!(target_of(Some(Tracker::Github), None, Some("OPS".into())).is_err());
        assert!(target_of(None, Some("a/b".into()), Some("OPS".into())).is_err());
    }

    #[test]
    fn a_request_resolves_to_the_default_tracker_and_its_first_target() {
        let s = settings();
        assert_eq!(
            s.resolve(None, None).unwrap(),
            Some((Tracker::Github, "acme/api".into()))
        );
        assert_eq!(
            s.resolve(Some(Tracker::Jira), None).unwrap(),
            Some((Tracker::Jira, "OPS".into()))
        );
        assert_eq!(
            s.resolve(None, Some("ops")).unwrap(),
            Some((Tracker::Jira, "OPS".into())),
            "a project key names Jira, matched in any case"
        );
        assert_eq!(
            s.resolve(None, Some("ACME/Web")).unwrap(),
            Some((Tracker::Github, "acme/web".into()))
        );
        let none = TrackerSettings::default();
        assert_eq!(none.resolve(None, None).unwrap(), None);
    }

    #[test]
    fn a_tracker_or_target_not_configured_names_the_configured_ones() {
        let only_github = TrackerSettings {
            jira_projects: vec![],
            ..settings()
        };
        let err = only_github.resolve(Some(Tracker::Jira), None).unwrap_err();
        assert_eq!(err.field, "tracker");
        assert!(
            err.message.contains("jira tracker is not configured")
                && err.message.contains("github (acme/api, acme/web)"),
            "{}",
            err.message
        );
        let err = settings().resolve(None, Some("evil/repo")).unwrap_err();
        assert_eq!(err.field, "repo");
        assert!(
            err.message.contains("allowed: acme/api, acme/web"),
            "{}",
            err.message
        );
        let err = settings()
            .resolve(Some(Tracker::Jira), Some("acme/api"))
            .unwrap_err();
        assert_eq!(err.field, "project");
        assert!(err.message.contains("allowed: OPS"), "{}", err.message);
        let err = TrackerSettings::default()
            .resolve(Some(Tracker::Github), None)
            .unwrap_err();
        assert!(
            err.message.ends_with("configured trackers: none"),
            "{}",
            err.message
        );
    }
}
