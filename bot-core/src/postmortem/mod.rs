//! Post-incident reviews: the postmortem of an incident, generated from a template and the
//! incident's timeline, edited by people, reviewed and published; its action items
//! ([`action_items`]) and its review meeting ([`meeting`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::model::{
    Actor, Incident, IncidentId, NewJob, Postmortem, PostmortemSection, PostmortemStatus,
    PostmortemTimelineItem, Severity, Subject, TimelineEntry, UserId,
};
use crate::ops::{CORE_QUEUE, Core, CoreError, CoreResult, Invalid, chat_queue};
use crate::store::StoreError;

pub mod action_items;
pub mod markdown;
pub mod meeting;

/// Longest section body or annotation, in characters: a long document, not a data dump.
pub const MAX_SECTION: usize = 50_000;
/// The installation secret that signs read-only links to postmortem pages.
const LINK_SECRET: &str = "postmortem_links";

/// Job kinds of post-incident reviews. Chat kinds run in each platform's `chat:<platform>`
/// queue.
pub mod kinds {
    /// Posts the new postmortem's link in the incident channel and DMs its owner.
    pub const CREATED: &str = "chat.postmortem_created";
    /// Asks the incident channel who owns the postmortem (a button), after a sev1/sev2 is
    /// resolved without one.
    pub const OWNER_PROMPT: &str = "chat.postmortem_owner_prompt";
    /// Checks, when the reminder is due, whether the draft is published yet.
    pub const REMINDER: &str = "postmortem.reminder";
    /// Posts the reminder in the incident channel.
    pub const REMINDER_POST: &str = "chat.postmortem_reminder";
    /// Mails the meeting invitation (iCalendar, METHOD:REQUEST) to the attendees.
    pub const INVITE: &str = "notify.postmortem_invite";
    /// Posts the scheduled meeting in the incident channel.
    pub const MEETING_POSTED: &str = "chat.postmortem_meeting";
    /// Files an action item's ticket in its tracker.
    pub const TICKET: &str = "postmortem.ticket";
}

/// One section of the postmortem template, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionTemplate {
    pub key: String,
    pub title: String,
    /// Markdown heading level: 2 for a section, 3 for a part of one.
    pub level: u8,
    /// The question the section answers, shown while it is empty.
    pub prompt: String,
}

/// How post-incident reviews work in this installation.
#[derive(Debug, Clone)]
pub struct PostmortemSettings {
    /// The sections of a new postmortem; [`default_template`] unless configured.
    pub template: Vec<SectionTemplate>,
    /// Remind the incident channel when a postmortem is not published this long after it
    /// was created. None: never.
    pub reminder_after: Option<Duration>,
    /// Severities whose resolve asks for a postmortem owner.
    pub owner_prompt_severities: Vec<Severity>,
}

impl Default for PostmortemSettings {
    fn default() -> Self {
        PostmortemSettings {
            template: default_template(),
            reminder_after: Some(Duration::days(5)),
            owner_prompt_severities: vec![Severity::Sev1, Severity::Sev2],
        }
    }
}

/// The guide's postmortem: summary, impact, timeline, contributing factors, what went
/// well, what we did not know, action items.
pub fn default_template() -> Vec<SectionTemplate> {
    let section = |key: &str, title: &str, level: u8, prompt: &str| SectionTemplate {
        key: key.into(),
        title: title.into(),
        level,
        prompt: prompt.into(),
    };
    vec![
        section(
            "summary",
            "Summary",
            2,
            "What happened, in a few sentences?",
        ),
        section(
            "impact",
            "Impact",
            2,
            "What did customers see, and for how long?",
        ),
        section(
            "impact.customers_affected",
            "Customers affected",
            3,
            "How many customers were affected, and which?",
        ),
        section(
            "impact.customers_reported",
            "Customers who reported it",
            3,
            "How many customers told us before we knew?",
        ),
        section(
            "impact.business_metric",
            "Business metric",
            3,
            "Which business metric moved, and by how much (orders, sign-ups, revenue)?",
        ),
        section(
            "timeline",
            "Timeline",
            2,
            "Hide or annotate entries; add what is missing.",
        ),
        section(
            "contributing_factors",
            "Contributing factors",
            2,
            "Why did it happen? Blameless: systems and processes, not people.",
        ),
        section(
            "contributing_factors.monitoring",
            "Monitoring review",
            3,
            "Did monitoring catch it? How long from the start of impact to the first alert?",
        ),
        section(
            "contributing_factors.causes",
            "Underlying causes",
            3,
            "What conditions let it happen?",
        ),
        section(
            "contributing_factors.process",
            "Process evaluation",
            3,
            "How did paging, escalation and communication work?",
        ),
        section(
            "contributing_factors.findings",
            "Summary of findings",
            3,
            "What did we learn?",
        ),
        section(
            "went_well",
            "What went well",
            2,
            "What helped us find and fix it?",
        ),
        section(
            "did_not_know",
            "What we did not know",
            2,
            "What surprised us; what we had to find out during the incident?",
        ),
        section(
            "action_items",
            "Action items",
            2,
            "What will we change so it does not happen again?",
        ),
    ]
}

/// A change to a postmortem from REST or chat; fields left out stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostmortemEdit {
    pub status: Option<PostmortemStatus>,
    pub owner: Option<UserId>,
    /// New bodies, by section key.
    pub sections: BTreeMap<String, String>,
    pub impact_started_at: Option<DateTime<Utc>>,
    pub impact_ended_at: Option<DateTime<Utc>>,
    /// Curation of timeline entries, by entry id.
    pub timeline: Vec<TimelineCuration>,
}

/// Hides or annotates one entry of the postmortem's timeline (never the incident's).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineCuration {
    pub entry_id: uuid::Uuid,
    pub hidden: Option<bool>,
    /// `Some("")` removes the annotation.
    pub annotation: Option<String>,
}

impl Core {
    /// Creates the postmortem of `incident` from the template, with its timeline generated
    /// and the impact window taken from the incident; `owner` defaults to the commander.
    /// Writes the jobs that post its link in the incident channel and DM the owner.
    /// NotFound for an unknown incident, Conflict when it already has one.
    pub async fn create_postmortem(
        &self,
        actor: &Actor,
        incident: IncidentId,
        owner: Option<UserId>,
    ) -> CoreResult<Postmortem> {
        let incident = self.store.get_incident(incident).await?;
        if let Some(owner) = &owner {
            self.known_owner(owner).await?;
        }
        let now = self.clock.now();
        let entries = self.timeline_entries(&incident).await?;
        let postmortem = Postmortem {
            id: uuid::Uuid::now_v7(),
            incident_id: incident.id,
            status: PostmortemStatus::Draft,
            owner: owner.or_else(|| incident.commander.clone()),
            sections: self
                .settings
                .postmortem
                .template
                .iter()
                .map(|t| PostmortemSection {
                    key: t.key.clone(),
                    title: t.title.clone(),
                    level: t.level,
                    body: String::new(),
                })
                .collect(),
            timeline: generate_timeline(entries, &[]),
            impact_started_at: Some(self.impact_start(&incident).await?),
            impact_ended_at: incident.resolved_at,
            meeting: None,
            created_by: actor.to_string(),
            created_at: now,
            updated_at: now,
            published_at: None,
        };
        let platforms = self.settings.chat_platforms.clone();
        let reminder_after = self.settings.postmortem.reminder_after;
        let jobs = move |p: &Postmortem| {
            let created = json!({ "postmortem_id": p.id, "incident_id": p.incident_id });
            let mut jobs: Vec<NewJob> = platforms
                .iter()
                .map(|platform| {
                    NewJob::new(chat_queue(platform), kinds::CREATED, created.clone(), now)
                })
                .collect();
            if let Some(after) = reminder_after {
                jobs.push(NewJob::new(
                    CORE_QUEUE,
                    kinds::REMINDER,
                    json!({ "postmortem_id": p.id }),
                    p.created_at + after,
                ));
            }
            jobs
        };
        let created = self.store.create_postmortem(postmortem, &jobs).await?;
        tracing::info!(
            incident_id = %created.incident_id,
            postmortem_id = %created.id,
            "postmortem created"
        );
        Ok(created)
    }

    /// The postmortem of `incident`, if any. NotFound for an unknown incident.
    pub async fn postmortem_of(&self, incident: IncidentId) -> CoreResult<Option<Postmortem>> {
        self.store.get_incident(incident).await?;
        Ok(self.store.postmortem_for(incident).await?)
    }

    /// Applies `edit` to the postmortem of `incident`. Invalid for unknown section keys,
    /// unknown timeline entries or owners, and illegal status moves.
    pub async fn edit_postmortem(
        &self,
        actor: &Actor,
        incident: IncidentId,
        edit: PostmortemEdit,
    ) -> CoreResult<Postmortem> {
        self.edit_postmortem_with(actor, incident, edit, false)
            .await
    }

    /// [`Core::edit_postmortem`], generating the timeline again first (see
    /// [`Core::regenerate_postmortem_timeline`]) when `regenerate` is set: one write, so
    /// curation in `edit` may name entries that only the new timeline has.
    pub async fn edit_postmortem_with(
        &self,
        actor: &Actor,
        incident: IncidentId,
        edit: PostmortemEdit,
        regenerate: bool,
    ) -> CoreResult<Postmortem> {
        let current = self.existing_postmortem(incident).await?;
        if let Some(owner) = &edit.owner {
            self.known_owner(owner).await?;
        }
        let entries = if regenerate {
            let incident = self.store.get_incident(incident).await?;
            Some(self.timeline_entries(&incident).await?)
        } else {
            None
        };
        let now = self.clock.now();
        // Judged first on the postmortem as read, so that bad input is Invalid; applied
        // again under the row lock, where a failure can only be a concurrent edit.
        let mut preview = current.clone();
        if let Some(entries) = &entries {
            preview.timeline = generate_timeline(entries.clone(), &preview.timeline);
        }
        apply_edit(&mut preview, &edit, now)?;
        let change = |p: &mut Postmortem| {
            if let Some(entries) = &entries {
                p.timeline = generate_timeline(entries.clone(), &p.timeline);
            }
            apply_edit(p, &edit, now).map_err(|e| {
                StoreError::Conflict(format!(
                    "the postmortem changed while this edit was made: {}",
                    e.message
                ))
            })
        };
        let edited = self
            .store
            .update_postmortem(current.id, now, &change, &crate::store::no_jobs)
            .await?;
        tracing::info!(
            incident_id = %edited.incident_id,
            postmortem_id = %edited.id,
            actor = %actor,
            status = %edited.status,
            regenerated = regenerate,
            "postmortem edited"
        );
        Ok(edited)
    }

    /// Generates the timeline again from the incident's (new entries appear), keeping the
    /// curation of entries already there.
    pub async fn regenerate_postmortem_timeline(
        &self,
        actor: &Actor,
        incident: IncidentId,
    ) -> CoreResult<Postmortem> {
        self.edit_postmortem_with(actor, incident, PostmortemEdit::default(), true)
            .await
    }

    /// The postmortem as Markdown for a wiki: headings, the impact with its duration, a
    /// timeline table (visible entries, UTC, annotations), action items with ticket links.
    pub async fn postmortem_markdown(&self, postmortem: &Postmortem) -> CoreResult<String> {
        let incident = self.store.get_incident(postmortem.incident_id).await?;
        let items = self.store.action_items(incident.id).await?;
        Ok(markdown::render(&markdown::Document {
            postmortem,
            incident: &incident,
            action_items: &items,
            template: &self.settings.postmortem.template,
            huddle: self.huddle_url(&incident),
        }))
    }

    /// The incident's meeting link, when `conference_url` is configured.
    pub fn huddle_url(&self, incident: &Incident) -> Option<String> {
        self.settings
            .conference_url
            .as_ref()
            .map(|template| template.replace("{number}", &incident.number.to_string()))
    }

    /// The path of the postmortem's read-only page with a signed token
    /// (`/postmortems/{id}?token=…`), for people without an API token; prefix it with the
    /// public URL.
    pub async fn postmortem_link(&self, postmortem: &Postmortem) -> CoreResult<String> {
        let key = self.postmortem_link_key().await?;
        Ok(format!(
            "/postmortems/{}?token={}",
            postmortem.id,
            link_token_with(&key, postmortem.id)
        ))
    }

    /// Whether `token` is the signed token of postmortem `id` (compared in constant time).
    pub async fn postmortem_token_valid(&self, id: uuid::Uuid, token: &str) -> CoreResult<bool> {
        let key = self.postmortem_link_key().await?;
        Ok(verify_link_token_with(&key, id, token))
    }

    async fn postmortem_link_key(&self) -> CoreResult<String> {
        let fresh = crate::auth::generate_token();
        Ok(self.store.instance_secret(LINK_SECRET, &fresh).await?)
    }

    async fn existing_postmortem(&self, incident: IncidentId) -> CoreResult<Postmortem> {
        self.postmortem_of(incident).await?.ok_or_else(|| {
            CoreError::Store(StoreError::NotFound(format!(
                "the postmortem of incident {incident}"
            )))
        })
    }

    async fn known_owner(&self, owner: &UserId) -> CoreResult<()> {
        match self.store.get_user(owner).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound(_)) => Err(invalid("owner", format!("no user `{owner}`"))),
            Err(e) => Err(e.into()),
        }
    }

    /// The incident's own timeline and its linked alerts'.
    async fn timeline_entries(&self, incident: &Incident) -> CoreResult<Vec<TimelineEntry>> {
        let mut entries = self.store.timeline(Subject::Incident(incident.id)).await?;
        for alert in &incident.alerts {
            entries.extend(self.store.timeline(Subject::Alert(*alert)).await?);
        }
        Ok(entries)
    }

    /// When customers started seeing the problem, as far as Tocsin knows: the declaration,
    /// or the first linked alert if it fired earlier.
    async fn impact_start(&self, incident: &Incident) -> CoreResult<DateTime<Utc>> {
        let mut start = incident.declared_at;
        for alert in &incident.alerts {
            start = start.min(self.store.get_alert(*alert).await?.created_at);
        }
        Ok(start)
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid(Invalid {
        field,
        message: message.into(),
    })
}

fn invalid_text(field: &'static str, text: &str) -> Result<(), Invalid> {
    let problem = if text.contains('\0') {
        format!("{field} must not contain NUL characters")
    } else if text.chars().count() > MAX_SECTION {
        format!("{field} is longer than {MAX_SECTION} characters")
    } else {
        return Ok(());
    };
    Err(Invalid {
        field,
        message: problem,
    })
}

/// Whether a postmortem may move from `from` to `to`: forward one step at a time, and back
/// from published to review. Staying is no move.
pub fn status_move_allowed(from: PostmortemStatus, to: PostmortemStatus) -> bool {
    use PostmortemStatus::*;
    from == to
        || matches!(
            (from, to),
            (Draft, InReview) | (InReview, Published) | (Published, InReview)
        )
}

/// Applies `edit` to `postmortem` as of `now`, or says what in it is wrong (and then
/// `postmortem` may be half changed: callers apply to a copy or abort the write).
pub fn apply_edit(
    postmortem: &mut Postmortem,
    edit: &PostmortemEdit,
    now: DateTime<Utc>,
) -> Result<(), Invalid> {
    for (key, body) in &edit.sections {
        let keys = || {
            postmortem
                .sections
                .iter()
                .map(|s| s.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        invalid_text("sections", body)?;
        let known = postmortem.sections.iter().any(|s| &s.key == key);
        if !known {
            return Err(Invalid {
                field: "sections",
                message: format!("no section `{key}`; the sections are {}", keys()),
            });
        }
        if let Some(section) = postmortem.sections.iter_mut().find(|s| &s.key == key) {
            section.body = body.trim_end().to_owned();
        }
    }
    for curation in &edit.timeline {
        let Some(item) = postmortem
            .timeline
            .iter_mut()
            .find(|i| i.entry_id == curation.entry_id)
        else {
            return Err(Invalid {
                field: "timeline",
                message: format!(
                    "no timeline entry {} in this postmortem; regenerate the timeline to \
                     add newer entries",
                    curation.entry_id
                ),
            });
        };
        if let Some(hidden) = curation.hidden {
            item.hidden = hidden;
        }
        if let Some(annotation) = &curation.annotation {
            invalid_text("annotation", annotation)?;
            let annotation = annotation.trim();
            item.annotation = (!annotation.is_empty()).then(|| annotation.to_owned());
        }
    }
    if let Some(owner) = &edit.owner {
        postmortem.owner = Some(owner.clone());
    }
    if let Some(start) = edit.impact_started_at {
        postmortem.impact_started_at = Some(start);
    }
    if let Some(end) = edit.impact_ended_at {
        postmortem.impact_ended_at = Some(end);
    }
    if let (Some(start), Some(end)) = (postmortem.impact_started_at, postmortem.impact_ended_at)
        && end < start
    {
        return Err(Invalid {
            field: "impact_ended_at",
            message: format!(
                "the impact cannot end ({}) before it started ({})",
                end.format("%Y-%m-%d %H:%M:%S UTC"),
                start.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        });
    }
    if let Some(to) = edit.status {
        let from = postmortem.status;
        if !status_move_allowed(from, to) {
            return Err(Invalid {
                field: "status",
                message: format!(
                    "a {from} postmortem cannot become {to}; it goes draft -> in_review -> \
                     published (and from published back to in_review)"
                ),
            });
        }
        if from != to {
            postmortem.status = to;
            postmortem.published_at = (to == PostmortemStatus::Published).then_some(now);
        }
    }
    Ok(())
}

/// The token of postmortem `id`'s read-only page, as lower-case hex.
pub fn link_token_with(key: &str, id: uuid::Uuid) -> String {
    hex::encode(link_mac(key, id).finalize().into_bytes())
}

/// Whether `token` is [`link_token_with`]'s, compared in constant time.
pub fn verify_link_token_with(key: &str, id: uuid::Uuid, token: &str) -> bool {
    hex::decode(token.trim()).is_ok_and(|bytes| link_mac(key, id).verify_slice(&bytes).is_ok())
}

fn link_mac(key: &str, id: uuid::Uuid) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("postmortem:{id}").as_bytes());
    mac
}

/// The postmortem timeline of an incident: its own entries and its alerts', oldest first,
/// with the curation of `previous` kept for entries it had.
pub fn generate_timeline(
    mut entries: Vec<TimelineEntry>,
    previous: &[PostmortemTimelineItem],
) -> Vec<PostmortemTimelineItem> {
    // The order the store gives each timeline (time, then id, which is time-ordered too),
    // across the incident's and its alerts'.
    entries.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
    let mut seen = HashSet::new();
    entries.retain(|e| seen.insert(e.id));
    let curation: HashMap<uuid::Uuid, &PostmortemTimelineItem> =
        previous.iter().map(|i| (i.entry_id, i)).collect();
    entries
        .into_iter()
        .map(|e| {
            let kept = curation.get(&e.id);
            PostmortemTimelineItem {
                entry_id: e.id,
                at: e.at,
                kind: e.kind,
                actor: e.actor,
                text: e.text,
                hidden: kept.is_some_and(|k| k.hidden),
                annotation: kept.and_then(|k| k.annotation.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TimelineKind;

    fn entry(at: &str, text: &str) -> TimelineEntry {
        TimelineEntry {
            id: uuid::Uuid::now_v7(),
            incident_id: None,
            alert_id: None,
            at: at.parse().expect("a time"),
            kind: TimelineKind::Note,
            actor: "system".into(),
            text: text.into(),
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn entries_merge_oldest_first_and_keep_their_curation() {
        let a = entry("2026-01-01T10:00:00Z", "a");
        let b = entry("2026-01-01T09:00:00Z", "b");
        let c = entry("2026-01-01T10:00:00Z", "c");
        let first = generate_timeline(vec![a.clone(), c.clone()], &[]);
        let mut curated = first.clone();
        curated[0].hidden = true;
        curated[1].annotation = Some("why".into());
        let again = generate_timeline(vec![c, a, b], &curated);
        let texts: Vec<&str> = again.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(texts, ["b", "a", "c"]);
        assert!(!again[0].hidden && again[0].annotation.is_none());
        assert!(again[1].hidden);
        assert_eq!(again[2].annotation.as_deref(), Some("why"));
    }

    #[test]
    fn only_the_documented_status_moves_are_allowed() {
        use PostmortemStatus::*;
        assert!(status_move_allowed(Draft, InReview));
        assert!(status_move_allowed(InReview, Published));
        assert!(status_move_allowed(Published, InReview));
        assert!(!status_move_allowed(Draft, Published));
        assert!(!status_move_allowed(InReview, Draft));
        assert!(!status_move_allowed(Published, Draft));
    }

    #[test]
    fn a_link_token_is_bound_to_its_postmortem_and_key() {
        let id = uuid::Uuid::now_v7();
        let token = link_token_with("k", id);
        assert!(verify_link_token_with("k", id, &token));
        assert!(!verify_link_token_with("other", id, &token));
        assert!(!verify_link_token_with("k", uuid::Uuid::now_v7(), &token));
        assert!(!verify_link_token_with("k", id, "zz"));
    }
}
