//! Job handlers for the side effects of incident changes: incident channels, cards kept up
//! to date in place, status updates and reminders in chat, and the postmortem's posts (its
//! link and the owner's DM, the owner prompt, its reminder, its review meeting). Each is
//! idempotent: it records what it posted and, when run again after a crash, skips what is
//! already there.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::chat::{Button, ButtonStyle, ChatPlatform, Field, Message, Tone};
use crate::clock::Clock;
use crate::jobs::{Handlers, JobError, JobHandler};
use crate::model::{
    Alert, AlertId, AlertStatus, Incident, IncidentId, IncidentStatus, Job, NewJob,
    NewTimelineEntry, Postmortem, PostmortemStatus, Subject, TimelineKind,
};
use crate::ops::{CORE_QUEUE, chat_queue, kinds};
use crate::postmortem::kinds as pm_kinds;
use crate::store::{PostedMessage, Store, StoreError};

/// The incident card: what it is, how bad, who leads it, and what you can do.
pub fn incident_card(incident: &Incident) -> Message {
    let tone = if incident.is_open() {
        Tone::from(incident.severity)
    } else {
        Tone::Resolved
    };
    let person = |u: &Option<crate::model::UserId>| {
        u.as_ref()
            .map_or_else(|| "unassigned".to_owned(), |u| u.to_string())
    };
    let mut fields = vec![
        Field {
            label: "Severity".into(),
            value: incident.severity.to_string(),
        },
        Field {
            label: "Status".into(),
            value: incident.status.to_string(),
        },
        Field {
            label: "Commander".into(),
            value: person(&incident.commander),
        },
        Field {
            label: "Communications".into(),
            value: person(&incident.communications_lead),
        },
    ];
    if !incident.services.is_empty() {
        let services: Vec<&str> = incident.services.iter().map(|s| s.as_str()).collect();
        fields.push(Field {
            label: "Services".into(),
            value: services.join(", "),
        });
    }
    let buttons = if incident.is_open() {
        vec![
            Button {
                action: "status".into(),
                value: incident.id.to_string(),
                label: "Show status".into(),
                style: ButtonStyle::Default,
            },
            Button {
                action: "resolve".into(),
                value: incident.id.to_string(),
                label: "Resolve".into(),
                style: ButtonStyle::Danger,
            },
        ]
    } else {
        Vec::new()
    };
    Message {
        title: Some(format!("{} {}", incident.reference(), incident.title)),
        tone: Some(tone),
        fields,
        text: Vec::new(),
        buttons,
        context: Some(format!(
            "Declared by {} at {}",
            incident.declared_by,
            incident.declared_at.format("%Y-%m-%d %H:%M UTC")
        )),
    }
}

/// The name of an incident's channel: `inc-42-checkout-is-failing`, at most 80 characters,
/// lower case, digits and dashes (what every platform accepts).
/// The default incident channel name: `inc-<number>-<slug of the title>`.
pub const DEFAULT_CHANNEL_NAME: &str = "inc-{number}-{slug}";

/// `inc-42-checkout-is-failing`: [`channel_name_with`] the default template.
pub fn channel_name(incident: &Incident) -> String {
    channel_name_with(DEFAULT_CHANNEL_NAME, incident)
}

/// The incident's channel name from `template`, where `{number}` is its number, `{date}`
/// the day it was declared (`20261124`, UTC) and `{slug}` its title in lowercase letters,
/// digits and dashes; at most 80 characters, which every platform accepts.
pub fn channel_name_with(template: &str, incident: &Incident) -> String {
    let mut slug = String::new();
    for c in incident.title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let mut name = template
        .replace("{number}", &incident.number.to_string())
        .replace("{date}", &incident.declared_at.format("%Y%m%d").to_string())
        .replace("{slug}", slug.trim_end_matches('-'));
    if let Some((cut, _)) = name.char_indices().nth(80) {
        name.truncate(cut);
    }
    name.trim_end_matches('-').to_owned()
}

/// The alert card: what fires, how bad, its state, who was paged and how that went, and
/// what you can do about it. `pages` are the alert's `paged` timeline entries.
pub fn alert_card(alert: &Alert, pages: &[crate::model::TimelineEntry]) -> Message {
    let tone = if alert.is_open() {
        Tone::from(alert.severity)
    } else {
        Tone::Resolved
    };
    let status = match alert.status {
        AlertStatus::Open => "open".to_owned(),
        AlertStatus::Acknowledged => format!(
            "acknowledged by {}",
            alert.acknowledged_by.as_deref().unwrap_or("someone")
        ),
        AlertStatus::Resolved => {
            format!(
                "resolved by {}",
                alert.resolved_by.as_deref().unwrap_or("someone")
            )
        }
    };
    let field = |label: &str, value: String| Field {
        label: label.into(),
        value,
    };
    let fields = vec![
        field("Service", alert.service.to_string()),
        field(
            "Severity",
            format!("{} ({} urgency)", alert.severity, alert.urgency),
        ),
        field("Status", status),
        field("Events", alert.event_count.to_string()),
        field("Source", alert.source.clone()),
    ];
    // The latest few pages and deliveries: enough to see that someone is being reached.
    let shown: Vec<&str> = pages
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|e| e.text.as_str())
        .collect();
    let mut fields = fields;
    if !shown.is_empty() {
        fields.push(field("Paging", shown.join("\n")));
    }
    let text = alert
        .links
        .iter()
        .map(|l| format!("{}: {}", l.text.as_deref().unwrap_or("Link"), l.href))
        .collect();
    let button = |action: &str, label: &str, style| Button {
        action: action.into(),
        value: alert.id.to_string(),
        label: label.into(),
        style,
    };
    let mut buttons = Vec::new();
    if alert.status == AlertStatus::Open {
        buttons.push(button("alert_ack", "Acknowledge", ButtonStyle::Primary));
    }
    if alert.is_open() {
        buttons.push(button("alert_escalate", "Escalate", ButtonStyle::Default));
        buttons.push(button("alert_resolve", "Resolve", ButtonStyle::Danger));
        buttons.push(button(
            "alert_declare",
            "Declare incident",
            ButtonStyle::Default,
        ));
    }
    Message {
        title: Some(alert.summary.clone()),
        tone: Some(tone),
        fields,
        text,
        buttons,
        context: Some(format!(
            "Alert {} · first seen {} · last seen {}",
            alert.dedup_key,
            alert.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            alert.last_seen_at.format("%H:%M:%S UTC")
        )),
    }
}

/// Adds the incident's meeting link (`conference_url` with its number filled in) to its
/// card, as a line every platform turns into a link.
pub fn add_huddle_link(card: &mut Message, url: &str) {
    card.text.push(format!("Join huddle: {url}"));
}

/// The button that makes whoever presses it the owner of an incident's postmortem (value:
/// the incident id), creating the draft if there is none.
pub const POSTMORTEM_OWNER_BUTTON: &str = "postmortem_owner";

fn owner_button(incident: IncidentId) -> Button {
    Button {
        action: POSTMORTEM_OWNER_BUTTON.into(),
        value: incident.to_string(),
        label: "I'll own it".into(),
        style: ButtonStyle::Primary,
    }
}

/// How a postmortem's owner reads in chat.
fn owner_label(postmortem: &Postmortem) -> String {
    postmortem
        .owner
        .as_ref()
        .map_or_else(|| "nobody yet".to_owned(), |o| o.to_string())
}

/// The postmortem of `incident` as chat shows it when it is created: its state, owner and
/// link, and the owner button while it has none.
pub fn postmortem_card(postmortem: &Postmortem, incident: &Incident, url: &str) -> Message {
    let mut fields = vec![
        Field {
            label: "State".into(),
            value: postmortem.status.to_string(),
        },
        Field {
            label: "Owner".into(),
            value: owner_label(postmortem),
        },
    ];
    if let Some(meeting) = &postmortem.meeting {
        fields.push(Field {
            label: "Review meeting".into(),
            value: meeting_window(meeting),
        });
    }
    Message {
        title: Some(format!(
            "Postmortem of {} {}",
            incident.reference(),
            incident.title
        )),
        tone: Some(Tone::Info),
        fields,
        text: vec![format!("Postmortem: {url}")],
        buttons: if postmortem.owner.is_none() {
            vec![owner_button(incident.id)]
        } else {
            Vec::new()
        },
        context: Some(format!(
            "Created by {} at {}",
            postmortem.created_by,
            postmortem.created_at.format("%Y-%m-%d %H:%M UTC")
        )),
    }
}

/// `2026-11-30 15:00–16:00 UTC` (the end's date too when it is another day).
pub fn meeting_window(meeting: &crate::model::PostmortemMeeting) -> String {
    let end = meeting.starts_at + chrono::Duration::minutes(meeting.duration_minutes);
    let end_format = if end.date_naive() == meeting.starts_at.date_naive() {
        "%H:%M"
    } else {
        "%Y-%m-%d %H:%M"
    };
    format!(
        "{}–{} UTC",
        meeting.starts_at.format("%Y-%m-%d %H:%M"),
        end.format(end_format)
    )
}

/// Adds the "Update status page" button to an open incident's or alert's card: `action`
/// is `statuspage_form` (value: the incident id) or `statuspage_alert_form` (the alert id).
pub fn add_status_page_button(card: &mut Message, action: &str, value: String) {
    card.buttons.push(Button {
        action: action.into(),
        value,
        label: "Update status page".into(),
        style: ButtonStyle::Default,
    });
}

fn alert_card_key(id: AlertId) -> String {
    format!("alert:{id}:card")
}

/// What became of an action run: posted where it was asked for.
pub fn action_card(run: &crate::model::ActionRun, state: crate::model::ActionRunState) -> Message {
    use crate::model::ActionRunState as S;
    let (verb, tone) = match state {
        S::Following => ("started", Tone::Info),
        S::Succeeded => ("succeeded", Tone::Resolved),
        S::Failed => ("failed", Tone::Major),
        S::Interrupted => ("was interrupted", Tone::Minor),
        S::Cancelled => ("was cancelled", Tone::Info),
        S::AwaitingConfirmation | S::Queued | S::Running => ("is running", Tone::Info),
    };
    let mut fields = vec![Field {
        label: "Run".into(),
        value: crate::runs::describe(&run.action, &run.args),
    }];
    if let Some(summary) = &run.summary {
        fields.push(Field {
            label: "Result".into(),
            value: summary.clone(),
        });
    }
    if let Some(link) = &run.link {
        fields.push(Field {
            label: "Link".into(),
            value: link.clone(),
        });
    }
    Message {
        title: Some(format!("Action {} {verb}", run.action)),
        tone: Some(tone),
        fields,
        text: run
            .detail
            .iter()
            .filter(|d| !d.is_empty() && state != S::Following)
            .cloned()
            .collect(),
        context: Some(format!("asked for by {}", run.requested_by)),
        ..Default::default()
    }
}

fn card_key(id: IncidentId) -> String {
    format!("incident:{id}:card")
}

fn announcement_key(id: IncidentId) -> String {
    format!("incident:{id}:announcement")
}

#[derive(Deserialize)]
struct IncidentPayload {
    incident_id: IncidentId,
    #[serde(default)]
    lines: Vec<String>,
    #[serde(default)]
    actor: Option<String>,
    /// People to invite into the channel besides the declarer and the commander.
    #[serde(default)]
    invite: Vec<crate::model::UserId>,
}

#[derive(Deserialize)]
struct AlertPayload {
    alert_id: AlertId,
    /// Where to post the card; only for a new alert.
    #[serde(default)]
    channel: Option<String>,
}

#[derive(Deserialize)]
struct ResponderPagePayload {
    incident_id: IncidentId,
    user: crate::model::UserId,
    text: String,
}

#[derive(Deserialize)]
struct ActionResultPayload {
    run_id: uuid::Uuid,
    state: crate::model::ActionRunState,
}

#[derive(Deserialize)]
struct UpdatePayload {
    update_id: uuid::Uuid,
}

#[derive(Deserialize)]
struct PostmortemPayload {
    postmortem_id: uuid::Uuid,
    /// For a meeting: the schedule this job announces; a newer one supersedes it.
    #[serde(default)]
    sequence: Option<i32>,
    /// For a reminder: the reminder job, so that each reminder is posted once.
    #[serde(default)]
    reminder: Option<crate::model::JobId>,
    #[serde(default)]
    days: Option<i64>,
}

#[derive(Deserialize)]
struct OwnerPromptPayload {
    incident_id: IncidentId,
}

fn payload<T: for<'de> Deserialize<'de>>(job: &Job) -> Result<T, JobError> {
    serde_json::from_value(job.payload.clone())
        .map_err(|e| JobError::permanent(format!("bad {} payload: {e}", job.kind)))
}

/// Chat effects on one platform.
pub struct ChatEffects {
    store: Arc<dyn Store>,
    /// For what needs more than the store: postmortem links, the huddle link.
    core: crate::ops::Core,
    platform: Arc<dyn ChatPlatform>,
    channel_template: String,
    /// Whether the status page has components: then open cards get its button.
    status_page: bool,
}

impl ChatEffects {
    pub fn handlers(core: &crate::ops::Core, platform: Arc<dyn ChatPlatform>) -> Handlers {
        let me: Arc<dyn JobHandler> = Arc::new(Self {
            store: core.store.clone(),
            core: core.clone(),
            platform,
            channel_template: core.settings.channel_name().to_owned(),
            status_page: !core.settings.status_page.components.is_empty(),
        });
        Handlers::new()
            .on(kinds::INCIDENT_OPENED, me.clone())
            .on(kinds::INCIDENT_CHANGED, me.clone())
            .on(kinds::STATUS_UPDATE, me.clone())
            .on(kinds::REMINDER_POST, me.clone())
            .on(kinds::ALERT_OPENED, me.clone())
            .on(kinds::ACTION_RESULT, me.clone())
            .on(kinds::RESPONDER_PAGE, me.clone())
            .on(pm_kinds::CREATED, me.clone())
            .on(pm_kinds::OWNER_PROMPT, me.clone())
            .on(pm_kinds::REMINDER_POST, me.clone())
            .on(pm_kinds::MEETING_POSTED, me.clone())
            .on(kinds::ALERT_CHANGED, me)
    }

    /// The incident card with what this installation adds: the huddle link, and the status
    /// page button while the incident is open.
    fn incident_card(&self, incident: &Incident) -> Message {
        let mut card = incident_card(incident);
        if let Some(url) = self.core.huddle_url(incident) {
            add_huddle_link(&mut card, &url);
        }
        if self.status_page && incident.is_open() {
            add_status_page_button(&mut card, "statuspage_form", incident.id.to_string());
        }
        card
    }

    fn alert_card(&self, alert: &Alert, pages: &[crate::model::TimelineEntry]) -> Message {
        let mut card = alert_card(alert, pages);
        if self.status_page && alert.is_open() {
            add_status_page_button(&mut card, "statuspage_alert_form", alert.id.to_string());
        }
        card
    }

    fn name(&self) -> &str {
        self.platform.name()
    }

    /// The incident's channel on this platform, created and recorded on first use.
    async fn ensure_channel(&self, incident: &Incident) -> Result<String, JobError> {
        if let Some(c) = incident.channels.iter().find(|c| c.platform == self.name()) {
            return Ok(c.channel_id.clone());
        }
        let topic = format!(
            "{} · {} · {}",
            incident.reference(),
            incident.severity,
            incident.status
        );
        let channel = self
            .platform
            .create_channel(&channel_name_with(&self.channel_template, incident), &topic)
            .await?;
        self.store.attach_channel(incident.id, &channel).await?;
        let declarer = incident
            .declared_by
            .strip_prefix("user:")
            .map(crate::model::UserId::from);
        let people: Vec<_> = declarer
            .into_iter()
            .chain(incident.commander.iter().cloned())
            .collect();
        let invitees = self.chat_ids(&people).await?;
        if !invitees.is_empty() {
            self.platform.invite(&channel.channel_id, &invitees).await?;
        }
        Ok(channel.channel_id)
    }

    /// The platform identities of `people`, each once; people without one are skipped.
    async fn chat_ids(&self, people: &[crate::model::UserId]) -> Result<Vec<String>, JobError> {
        let mut ids = Vec::new();
        for user in people {
            match self.store.get_user(user).await {
                Ok(u) => ids.extend(u.chat.get(self.name()).cloned()),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        Ok(ids)
    }

    /// Posts `message` once under `key`; a rerun finds the recorded message and edits it.
    async fn post_once(
        &self,
        key: &str,
        channel: &str,
        message: &Message,
    ) -> Result<bool, JobError> {
        if let Some(posted) = self.store.posted_message(key, self.name()).await? {
            self.platform
                .update_message(&posted.channel_id, &posted.message_id, message)
                .await?;
            return Ok(false);
        }
        let message_id = self.platform.post_message(channel, message).await?;
        let posted = PostedMessage {
            channel_id: channel.to_owned(),
            message_id,
        };
        self.store
            .save_posted_message(key, self.name(), &posted)
            .await?;
        Ok(true)
    }

    async fn opened(&self, p: IncidentPayload) -> Result<(), JobError> {
        let incident = self.store.get_incident(p.incident_id).await?;
        let channel = self.ensure_channel(&incident).await?;
        let invitees = self.chat_ids(&p.invite).await?;
        if !invitees.is_empty() {
            self.platform.invite(&channel, &invitees).await?;
        }
        let card = self.incident_card(&incident);
        if self
            .post_once(&card_key(incident.id), &channel, &card)
            .await?
        {
            let posted = self
                .store
                .posted_message(&card_key(incident.id), self.name())
                .await?;
            if let Some(posted) = posted {
                self.platform.pin(&channel, &posted.message_id).await?;
            }
        }
        if let Some(announce) = self.platform.announcements_channel() {
            self.post_once(&announcement_key(incident.id), &announce, &card)
                .await?;
        }
        Ok(())
    }

    async fn changed(&self, p: IncidentPayload) -> Result<(), JobError> {
        let incident = self.store.get_incident(p.incident_id).await?;
        let channel = self.ensure_channel(&incident).await?;
        let invitees = self.chat_ids(&p.invite).await?;
        if !invitees.is_empty() {
            self.platform.invite(&channel, &invitees).await?;
        }
        let card = self.incident_card(&incident);
        for key in [card_key(incident.id), announcement_key(incident.id)] {
            if let Some(posted) = self.store.posted_message(&key, self.name()).await? {
                self.platform
                    .update_message(&posted.channel_id, &posted.message_id, &card)
                    .await?;
            }
        }
        if !p.lines.is_empty() {
            let mut text = p.lines.join("\n");
            if let Some(actor) = p.actor {
                text = format!("{text}\n(by {actor})");
            }
            self.platform
                .post_message(&channel, &Message::text(text))
                .await?;
        }
        let topic = format!(
            "{} · {} · {}",
            incident.reference(),
            incident.severity,
            incident.status
        );
        self.platform.set_topic(&channel, &topic).await?;
        Ok(())
    }

    async fn status_update(&self, p: UpdatePayload) -> Result<(), JobError> {
        let update = self.store.get_status_update(p.update_id).await?;
        let incident = self.store.get_incident(update.incident_id).await?;
        let channel = self.ensure_channel(&incident).await?;
        let message = Message {
            title: Some(format!(
                "Update on {}: {}",
                incident.reference(),
                incident.status
            )),
            tone: Some(Tone::Info),
            text: vec![update.text.clone()],
            context: Some(format!(
                "{} update by {} at {}",
                update.visibility,
                update.author,
                update.posted_at.format("%H:%M UTC")
            )),
            ..Default::default()
        };
        self.post_once(&format!("update:{}", update.id), &channel, &message)
            .await?;
        Ok(())
    }

    async fn alert_opened(&self, p: AlertPayload) -> Result<(), JobError> {
        let alert = self.store.get_alert(p.alert_id).await?;
        let channel = p
            .channel
            .ok_or_else(|| JobError::permanent("chat.alert_opened without a channel"))?;
        let pages = self.pages(alert.id).await?;
        self.post_once(
            &alert_card_key(alert.id),
            &channel,
            &self.alert_card(&alert, &pages),
        )
        .await?;
        Ok(())
    }

    /// Brings the card up to date in place. A card not posted yet needs nothing: its
    /// `alert_opened` job posts the alert as it stands then.
    async fn alert_changed(&self, p: AlertPayload) -> Result<(), JobError> {
        let alert = self.store.get_alert(p.alert_id).await?;
        if let Some(posted) = self
            .store
            .posted_message(&alert_card_key(alert.id), self.name())
            .await?
        {
            self.platform
                .update_message(
                    &posted.channel_id,
                    &posted.message_id,
                    &self.alert_card(&alert, &self.pages(alert.id).await?),
                )
                .await?;
        }
        Ok(())
    }

    /// The alert's `paged` timeline entries, oldest first.
    async fn pages(&self, alert: AlertId) -> Result<Vec<crate::model::TimelineEntry>, JobError> {
        let timeline = self.store.timeline(Subject::Alert(alert)).await?;
        Ok(timeline
            .into_iter()
            .filter(|e| e.kind == TimelineKind::Paged)
            .collect())
    }

    async fn responder_page(&self, p: ResponderPagePayload) -> Result<(), JobError> {
        let Some(to) = self.chat_ids(std::slice::from_ref(&p.user)).await?.pop() else {
            // Not on this platform: another platform (or nobody) reaches them.
            return Ok(());
        };
        let incident = self.store.get_incident(p.incident_id).await?;
        let mut card = incident_card(&incident);
        card.text.insert(0, p.text);
        if let Some(url) = self.core.huddle_url(&incident) {
            add_huddle_link(&mut card, &url);
        }
        // Keyed by incident and person, so a rerun after a crash does not send it twice.
        let key = format!("responder-page:{}:{}", incident.id, p.user);
        self.dm_once(&key, to, &card).await
    }

    /// Sends `message` to `to` directly once under `key`; a rerun finds it recorded.
    async fn dm_once(&self, key: &str, to: String, message: &Message) -> Result<(), JobError> {
        if self.store.posted_message(key, self.name()).await?.is_some() {
            return Ok(());
        }
        let message_id = self.platform.send_dm(&to, message).await?;
        self.store
            .save_posted_message(
                key,
                self.name(),
                &PostedMessage {
                    channel_id: to,
                    message_id,
                },
            )
            .await?;
        Ok(())
    }

    /// The postmortem's read-only page, absolute (signed, for people without a token).
    async fn postmortem_url(&self, postmortem: &Postmortem) -> Result<String, JobError> {
        let path = self.core.postmortem_link(postmortem).await?;
        Ok(format!("{}{path}", self.core.settings.public_url))
    }

    /// A new postmortem: its link in the incident channel, and a direct message to its
    /// owner (on this platform, if they are on it).
    async fn postmortem_created(&self, p: PostmortemPayload) -> Result<(), JobError> {
        let postmortem = self.store.get_postmortem(p.postmortem_id).await?;
        let incident = self.store.get_incident(postmortem.incident_id).await?;
        let url = self.postmortem_url(&postmortem).await?;
        let channel = self.ensure_channel(&incident).await?;
        let card = postmortem_card(&postmortem, &incident, &url);
        self.post_once(
            &format!("postmortem:{}:created", postmortem.id),
            &channel,
            &card,
        )
        .await?;
        let Some(owner) = &postmortem.owner else {
            return Ok(());
        };
        let Some(to) = self.chat_ids(std::slice::from_ref(owner)).await?.pop() else {
            return Ok(());
        };
        let dm = Message {
            title: Some(format!(
                "You own the postmortem of {} {}",
                incident.reference(),
                incident.title
            )),
            tone: Some(Tone::Info),
            text: vec![
                "Write up what happened, blamelessly, and schedule the review with                  `/incident postmortem schedule <date> <time>` in the incident's channel."
                    .into(),
                format!("Postmortem: {url}"),
            ],
            ..Default::default()
        };
        self.dm_once(
            &format!("postmortem:{}:owner:{owner}", postmortem.id),
            to,
            &dm,
        )
        .await
    }

    /// A serious incident was resolved without a postmortem owner: ask its channel, with a
    /// button. Nothing when someone took it in the meantime.
    async fn owner_prompt(&self, p: OwnerPromptPayload) -> Result<(), JobError> {
        let incident = self.store.get_incident(p.incident_id).await?;
        let postmortem = self.store.postmortem_for(incident.id).await?;
        if postmortem.as_ref().is_some_and(|p| p.owner.is_some()) {
            return Ok(());
        }
        let channel = self.ensure_channel(&incident).await?;
        let message = Message {
            title: Some(format!(
                "{} is resolved: who owns the postmortem?",
                incident.reference()
            )),
            tone: Some(Tone::Info),
            text: vec![format!(
                "A {} incident gets a blameless postmortem. Its owner writes it up and runs                  the review meeting.",
                incident.severity
            )],
            buttons: vec![owner_button(incident.id)],
            ..Default::default()
        };
        self.post_once(
            &format!("postmortem-owner-prompt:{}", incident.id),
            &channel,
            &message,
        )
        .await?;
        Ok(())
    }

    /// The postmortem is still unpublished when its reminder came due.
    async fn postmortem_reminder(&self, p: PostmortemPayload) -> Result<(), JobError> {
        let postmortem = self.store.get_postmortem(p.postmortem_id).await?;
        if postmortem.status == PostmortemStatus::Published {
            return Ok(());
        }
        let incident = self.store.get_incident(postmortem.incident_id).await?;
        let url = self.postmortem_url(&postmortem).await?;
        let channel = self.ensure_channel(&incident).await?;
        let days = p.days.unwrap_or_default();
        let mut message = Message {
            title: Some(format!(
                "The postmortem of {} is not published yet",
                incident.reference()
            )),
            tone: Some(Tone::Minor),
            fields: vec![
                Field {
                    label: "State".into(),
                    value: postmortem.status.to_string(),
                },
                Field {
                    label: "Owner".into(),
                    value: owner_label(&postmortem),
                },
            ],
            text: vec![
                format!(
                    "Created {days} day{} ago. Finish it, review it and publish it.",
                    if days == 1 { "" } else { "s" }
                ),
                format!("Postmortem: {url}"),
            ],
            ..Default::default()
        };
        if postmortem.owner.is_none() {
            message.buttons.push(owner_button(incident.id));
        }
        let key = match p.reminder {
            Some(job) => format!("postmortem:{}:reminder:{job}", postmortem.id),
            None => format!("postmortem:{}:reminder", postmortem.id),
        };
        self.post_once(&key, &channel, &message).await?;
        Ok(())
    }

    /// The review meeting, as scheduled (or moved) by the job's schedule.
    async fn meeting_posted(&self, p: PostmortemPayload) -> Result<(), JobError> {
        let postmortem = self.store.get_postmortem(p.postmortem_id).await?;
        let Some(meeting) = &postmortem.meeting else {
            return Err(JobError::permanent(format!(
                "postmortem {} has no meeting to post",
                postmortem.id
            )));
        };
        let sequence = p.sequence.unwrap_or(meeting.sequence);
        if meeting.sequence != sequence {
            // Moved again since: the newer schedule's job posts it.
            return Ok(());
        }
        let incident = self.store.get_incident(postmortem.incident_id).await?;
        let url = self.postmortem_url(&postmortem).await?;
        let channel = self.ensure_channel(&incident).await?;
        let verb = if sequence == 0 { "scheduled" } else { "moved" };
        let mut text = vec![format!("Postmortem: {url}")];
        if let Some(huddle) = self.core.huddle_url(&incident) {
            text.push(format!("Join huddle: {huddle}"));
        }
        text.push(if self.core.can_mail_invitations() {
            "Calendar invitations go out by e-mail.".to_owned()
        } else {
            "No e-mail is set up, so no calendar invitations were sent.".to_owned()
        });
        let message = Message {
            title: Some(format!(
                "Postmortem review of {} {verb}",
                incident.reference()
            )),
            tone: Some(Tone::Info),
            fields: vec![
                Field {
                    label: "When".into(),
                    value: meeting_window(meeting),
                },
                Field {
                    label: "Invited".into(),
                    value: meeting.attendees.join(", "),
                },
            ],
            text,
            context: Some(format!("Scheduled by {}", meeting.scheduled_by)),
            ..Default::default()
        };
        self.post_once(
            &format!("postmortem:{}:meeting:{sequence}", postmortem.id),
            &channel,
            &message,
        )
        .await?;
        Ok(())
    }

    async fn action_result(&self, p: ActionResultPayload) -> Result<(), JobError> {
        let run = self.store.get_action_run(p.run_id).await?;
        let key = format!("action:{}:{}", run.id, p.state);
        self.post_once(&key, &run.channel, &action_card(&run, p.state))
            .await?;
        Ok(())
    }

    async fn reminder(&self, p: IncidentPayload) -> Result<(), JobError> {
        let incident = self.store.get_incident(p.incident_id).await?;
        let channel = self.ensure_channel(&incident).await?;
        let text = p.lines.join("\n");
        self.platform
            .post_message(&channel, &Message::text(text))
            .await?;
        Ok(())
    }
}

#[async_trait]
impl JobHandler for ChatEffects {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        match job.kind.as_str() {
            kinds::INCIDENT_OPENED => self.opened(payload(job)?).await,
            kinds::INCIDENT_CHANGED => self.changed(payload(job)?).await,
            kinds::STATUS_UPDATE => self.status_update(payload(job)?).await,
            kinds::REMINDER_POST => self.reminder(payload(job)?).await,
            kinds::ALERT_OPENED => self.alert_opened(payload(job)?).await,
            kinds::ACTION_RESULT => self.action_result(payload(job)?).await,
            kinds::RESPONDER_PAGE => self.responder_page(payload(job)?).await,
            kinds::ALERT_CHANGED => self.alert_changed(payload(job)?).await,
            pm_kinds::CREATED => self.postmortem_created(payload(job)?).await,
            pm_kinds::OWNER_PROMPT => self.owner_prompt(payload(job)?).await,
            pm_kinds::REMINDER_POST => self.postmortem_reminder(payload(job)?).await,
            pm_kinds::MEETING_POSTED => self.meeting_posted(payload(job)?).await,
            other => Err(JobError::permanent(format!(
                "chat effects cannot run `{other}`"
            ))),
        }
    }
}

/// Reminds an open incident's channels when no status update was posted for a while.
/// Each declare and each update schedules one reminder; a reminder whose incident got an
/// update since, or was resolved, does nothing.
pub struct UpdateReminders {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: Arc<crate::ops::CoreSettings>,
}

#[derive(Deserialize)]
struct ReminderPayload {
    incident_id: IncidentId,
    since: DateTime<Utc>,
}

impl UpdateReminders {
    pub fn handlers(core: &crate::ops::Core) -> Handlers {
        let me = Arc::new(Self {
            store: core.store.clone(),
            clock: core.clock.clone(),
            settings: core.settings.clone(),
        });
        Handlers::new().on(kinds::UPDATE_REMINDER, me)
    }
}

#[async_trait]
impl JobHandler for UpdateReminders {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let p: ReminderPayload = payload(job)?;
        let incident = self.store.get_incident(p.incident_id).await?;
        if incident.status == IncidentStatus::Resolved {
            return Ok(());
        }
        // The interval of the incident's severity now: it may have changed since this
        // reminder was scheduled.
        let Some(every) = self.settings.reminder_every(incident.severity) else {
            return Ok(());
        };
        let now = self.clock.now();
        if now < p.since + every {
            // The severity now allows longer between updates: look again then.
            let later = NewJob::new(
                CORE_QUEUE,
                kinds::UPDATE_REMINDER,
                json!({ "incident_id": incident.id, "since": p.since }),
                p.since + every,
            );
            self.store.enqueue(&[later]).await?;
            return Ok(());
        }
        let timeline = self.store.timeline(Subject::Incident(incident.id)).await?;
        let updated_since = timeline
            .iter()
            .any(|e| e.kind == TimelineKind::StatusUpdate && e.at > p.since);
        // Any reminder since: this job's own (a rerun after a crash), or another chain's
        // (a severity change starts one); either way this chain ends here.
        let already_reminded = timeline
            .iter()
            .any(|e| e.kind == TimelineKind::Reminder && e.at > p.since);
        if updated_since || already_reminded {
            return Ok(());
        }
        let minutes = (now - p.since).num_minutes();
        let text = format!(
            "No status update on {} for {minutes} minutes. Post one with `update <text>`.",
            incident.reference()
        );
        let entry = NewTimelineEntry {
            subject: Subject::Incident(incident.id),
            at: now,
            kind: TimelineKind::Reminder,
            actor: "system".into(),
            text: text.clone(),
            data: json!({ "job": job.id }),
        };
        let platforms = self.settings.chat_platforms.clone();
        let incident_id = incident.id;
        let jobs = move |_: &crate::model::TimelineEntry| {
            let post = json!({ "incident_id": incident_id, "lines": [text.clone()] });
            let mut jobs: Vec<NewJob> = platforms
                .iter()
                .map(|p| NewJob::new(chat_queue(p), kinds::REMINDER_POST, post.clone(), now))
                .collect();
            jobs.push(NewJob::new(
                CORE_QUEUE,
                kinds::UPDATE_REMINDER,
                json!({ "incident_id": incident_id, "since": now }),
                now + every,
            ));
            jobs
        };
        self.store.add_timeline_entry(entry, &jobs).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    #[test]
    fn a_meeting_window_names_the_end_day_only_when_it_differs() {
        let meeting = |starts: &str, minutes| crate::model::PostmortemMeeting {
            starts_at: DateTime::parse_from_rfc3339(starts).unwrap().to_utc(),
            duration_minutes: minutes,
            attendees: vec![],
            sequence: 0,
            scheduled_by: "user:alice".into(),
        };
        assert_eq!(
            meeting_window(&meeting("2026-11-30T15:00:00Z", 60)),
            "2026-11-30 15:00–16:00 UTC"
        );
        assert_eq!(
            meeting_window(&meeting("2026-11-30T23:30:00Z", 90)),
            "2026-11-30 23:30–2026-12-01 01:00 UTC"
        );
    }

    #[test]
    fn channel_names_are_slugs_that_fit_every_platform() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .to_utc();
        let mut incident = Incident {
            id: IncidentId::new(),
            number: 42,
            title: "Checkout is failing (EU) — 50% errors!".into(),
            severity: Severity::Sev1,
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
        };
        assert_eq!(
            channel_name(&incident),
            "inc-42-checkout-is-failing-eu-50-errors"
        );
        assert_eq!(
            channel_name_with("incident-{date}-{slug}", &incident),
            "incident-20261124-checkout-is-failing-eu-50-errors"
        );
        incident.title = "x ".repeat(100);
        let long = channel_name(&incident);
        assert!(long.len() <= 80 && !long.ends_with('-'), "{long}");
    }
}
