//! The postmortem's review meeting, the owner prompt after a serious incident is resolved,
//! and the reminder when a draft stays unpublished.
//!
//! The invitation itself (an iCalendar event by e-mail) is an adapter's business: the core
//! hands an [`Invitation`] to the [`MeetingInviter`] port and never sees the calendar
//! format or the mail transport.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::kinds;
use crate::jobs::{Handlers, JobError, JobHandler};
use crate::model::{
    Actor, Incident, IncidentChange, IncidentId, IncidentStatus, Job, NewJob, Postmortem,
    PostmortemMeeting, PostmortemStatus, UserId,
};
use crate::notify::NotifyError;
use crate::ops::{Core, CoreError, CoreResult};
use crate::ops::{CoreSettings, NOTIFY_QUEUE, chat_queue};
use crate::store::StoreError;

/// Shortest and longest review meeting, in minutes: a typo ("600m") should not book a day.
pub const MEETING_MINUTES: std::ops::RangeInclusive<i64> = 15..=480;

impl Core {
    /// Schedules (or moves) the review meeting of `incident`'s postmortem: the attendees
    /// are the commander, the owners of the affected services and the responders, as the
    /// guide lists them, and the postmortem's owner, who runs it (those with an e-mail
    /// address; see [`Core::meeting_attendees`]); writes the jobs that mail the invitation
    /// (when e-mail is set up) and post it in the incident channel. Moving it keeps the
    /// event and counts its `sequence` up. Invalid for a start in the past, a duration
    /// outside [`MEETING_MINUTES`] or nobody to invite; NotFound without a postmortem.
    pub async fn schedule_postmortem_meeting(
        &self,
        actor: &Actor,
        incident: IncidentId,
        starts_at: DateTime<Utc>,
        duration_minutes: i64,
    ) -> CoreResult<Postmortem> {
        if !MEETING_MINUTES.contains(&duration_minutes) {
            return Err(super::invalid(
                "duration_minutes",
                format!(
                    "a review meeting lasts {} to {} minutes, not {duration_minutes}",
                    MEETING_MINUTES.start(),
                    MEETING_MINUTES.end()
                ),
            ));
        }
        let now = self.clock.now();
        if starts_at <= now {
            return Err(super::invalid(
                "starts_at",
                format!(
                    "the meeting would start in the past ({}; it is {} now)",
                    starts_at.format("%Y-%m-%d %H:%M UTC"),
                    now.format("%Y-%m-%d %H:%M UTC")
                ),
            ));
        }
        let incident = self.store.get_incident(incident).await?;
        let postmortem = self.postmortem_of(incident.id).await?.ok_or_else(|| {
            CoreError::Store(StoreError::NotFound(format!(
                "the postmortem of {}",
                incident.reference()
            )))
        })?;
        let attendees = self
            .meeting_attendees(&incident, postmortem.owner.as_ref())
            .await?;
        if attendees.is_empty() {
            return Err(super::invalid(
                "attendees",
                "nobody to invite: none of the commander, the owners of the affected services \
                 and the responders has an e-mail address",
            ));
        }
        let scheduled_by = actor.to_string();
        let change = |p: &mut Postmortem| {
            // The same event (UID) for every reschedule; calendars replace it when the
            // sequence grows.
            let sequence = p.meeting.as_ref().map_or(0, |m| m.sequence + 1);
            p.meeting = Some(PostmortemMeeting {
                starts_at,
                duration_minutes,
                attendees: attendees.clone(),
                sequence,
                scheduled_by: scheduled_by.clone(),
            });
            Ok(())
        };
        let platforms = self.settings.chat_platforms.clone();
        // Without an e-mail channel there is nobody to send the invitation: the meeting is
        // still recorded and posted, and the reply says so.
        let mails = self.can_mail_invitations();
        let jobs = move |p: &Postmortem| {
            let sequence = p.meeting.as_ref().map_or(0, |m| m.sequence);
            let payload = json!({
                "postmortem_id": p.id, "incident_id": p.incident_id, "sequence": sequence
            });
            let mut jobs: Vec<NewJob> = platforms
                .iter()
                .map(|platform| {
                    NewJob::new(
                        chat_queue(platform),
                        kinds::MEETING_POSTED,
                        payload.clone(),
                        now,
                    )
                })
                .collect();
            if mails {
                jobs.push(NewJob::new(NOTIFY_QUEUE, kinds::INVITE, payload, now));
            }
            jobs
        };
        let scheduled = self
            .store
            .update_postmortem(postmortem.id, now, &change, &jobs)
            .await?;
        tracing::info!(
            incident_id = %scheduled.incident_id,
            postmortem_id = %scheduled.id,
            starts_at = %starts_at,
            duration_minutes,
            sequence = scheduled.meeting.as_ref().map_or(0, |m| m.sequence),
            "postmortem review meeting scheduled"
        );
        Ok(scheduled)
    }

    /// Whether this installation can mail meeting invitations (`[smtp]` is set up).
    pub fn can_mail_invitations(&self) -> bool {
        self.settings.notifier_channels.iter().any(|c| c == "email")
    }

    /// The e-mail addresses of the people the guide invites to the review, each once, in
    /// this order: the commander, the postmortem's owner, the owners of the affected
    /// services (their team's members), the responders. People without an address are
    /// left out.
    pub async fn meeting_attendees(
        &self,
        incident: &Incident,
        owner: Option<&UserId>,
    ) -> CoreResult<Vec<String>> {
        let mut people: Vec<UserId> = incident.commander.iter().cloned().collect();
        people.extend(owner.cloned());
        for service in &incident.services {
            let team = match self.store.get_service(service).await {
                Ok(s) => s.team,
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            };
            if let Some(members) = team.and_then(|t| self.settings.teams.get(&t)) {
                people.extend(members.iter().cloned());
            }
        }
        people.extend(incident.responders.iter().cloned());
        let mut emails: Vec<String> = Vec::new();
        for person in people {
            let user = match self.store.get_user(&person).await {
                Ok(u) => u,
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            if let Some(email) = user.email.filter(|e| !e.trim().is_empty())
                && !emails.iter().any(|seen| seen.eq_ignore_ascii_case(&email))
            {
                emails.push(email);
            }
        }
        Ok(emails)
    }

    /// Whether resolving `id` with `changes` should ask the channel for a postmortem owner:
    /// a resolve, on an installation that asks for some severity, of an incident whose
    /// postmortem (if any) has no owner. The severity itself is judged on the incident as
    /// changed, by [`owner_prompt_jobs`].
    pub(crate) async fn wants_owner_prompt(
        &self,
        id: IncidentId,
        changes: &[IncidentChange],
    ) -> CoreResult<bool> {
        let resolves = changes.contains(&IncidentChange::Status(IncidentStatus::Resolved));
        if !resolves
            || self.settings.postmortem.owner_prompt_severities.is_empty()
            || self.settings.chat_platforms.is_empty()
        {
            return Ok(false);
        }
        let postmortem = self.store.postmortem_for(id).await?;
        Ok(postmortem.is_none_or(|p| p.owner.is_none()))
    }
}

/// The chat jobs that ask `incident`'s channel for a postmortem owner, when it was just
/// resolved at a severity that asks (see [`Core::wants_owner_prompt`]).
pub(crate) fn owner_prompt_jobs(
    settings: &CoreSettings,
    incident: &Incident,
    now: DateTime<Utc>,
) -> Vec<NewJob> {
    if incident.status != IncidentStatus::Resolved
        || !settings
            .postmortem
            .owner_prompt_severities
            .contains(&incident.severity)
    {
        return Vec::new();
    }
    let payload = json!({ "incident_id": incident.id });
    settings
        .chat_platforms
        .iter()
        .map(|p| NewJob::new(chat_queue(p), kinds::OWNER_PROMPT, payload.clone(), now))
        .collect()
}

fn payload<T: for<'de> Deserialize<'de>>(job: &Job) -> Result<T, JobError> {
    serde_json::from_value(job.payload.clone())
        .map_err(|e| JobError::permanent(format!("bad {} payload: {e}", job.kind)))
}

#[derive(Deserialize)]
struct ReminderPayload {
    postmortem_id: uuid::Uuid,
}

/// Runs `postmortem.reminder` when it is due (the postmortem's creation plus
/// `reminder_after`): a draft or a postmortem in review gets a reminder in its incident's
/// channel on every platform; a published one gets nothing.
pub struct PostmortemReminders {
    core: Core,
}

impl PostmortemReminders {
    pub fn handlers(core: Core) -> Handlers {
        Handlers::new().on(kinds::REMINDER, Arc::new(PostmortemReminders { core }))
    }
}

#[async_trait]
impl JobHandler for PostmortemReminders {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let p: ReminderPayload = payload(job)?;
        let postmortem = self.core.store.get_postmortem(p.postmortem_id).await?;
        if postmortem.status == PostmortemStatus::Published {
            return Ok(());
        }
        let now = self.core.clock.now();
        let days = (now - postmortem.created_at).num_days();
        // Keyed by this job: a rerun writes the posts again, and each post is made once.
        let post = json!({
            "postmortem_id": postmortem.id,
            "incident_id": postmortem.incident_id,
            "reminder": job.id,
            "days": days,
        });
        let jobs: Vec<NewJob> = self
            .core
            .settings
            .chat_platforms
            .iter()
            .map(|platform| {
                NewJob::new(
                    chat_queue(platform),
                    kinds::REMINDER_POST,
                    post.clone(),
                    now,
                )
            })
            .collect();
        self.core.store.enqueue(&jobs).await?;
        tracing::info!(
            postmortem_id = %postmortem.id,
            incident_id = %postmortem.incident_id,
            status = %postmortem.status,
            days,
            "postmortem not published yet; reminding its channel"
        );
        Ok(())
    }
}

/// One review meeting invitation, everything an adapter needs to write it: the event, who
/// is invited, and the links its description carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    /// The postmortem's id: the event's stable identity across reschedules.
    pub postmortem_id: uuid::Uuid,
    /// `INC-42`.
    pub incident: String,
    pub incident_title: String,
    pub meeting: PostmortemMeeting,
    /// The postmortem's read-only page (signed link), absolute.
    pub postmortem_url: String,
    /// The incident's meeting link, when `conference_url` is configured.
    pub huddle_url: Option<String>,
}

impl Invitation {
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.meeting.starts_at + Duration::minutes(self.meeting.duration_minutes)
    }
}

/// Sends a meeting invitation to one attendee (the calendar event lists them all).
#[async_trait]
pub trait MeetingInviter: Send + Sync {
    async fn invite(&self, invitation: &Invitation, to: &str) -> Result<(), NotifyError>;
}

#[derive(Deserialize)]
struct InvitePayload {
    postmortem_id: uuid::Uuid,
    sequence: i32,
}

/// Runs `notify.postmortem_invite`: mails the meeting's invitation to each attendee once.
/// Each attendee's mail is recorded as a delivery, so a retry after one address failed
/// mails only those not reached yet.
pub struct MeetingInvites {
    core: Core,
    inviter: Option<Arc<dyn MeetingInviter>>,
}

impl MeetingInvites {
    /// `inviter` is None when no e-mail is set up: invitation jobs then fail for good, where
    /// an operator sees them, instead of waiting forever.
    pub fn handlers(core: Core, inviter: Option<Arc<dyn MeetingInviter>>) -> Handlers {
        Handlers::new().on(kinds::INVITE, Arc::new(MeetingInvites { core, inviter }))
    }
}

#[async_trait]
impl JobHandler for MeetingInvites {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let p: InvitePayload = payload(job)?;
        let Some(inviter) = &self.inviter else {
            return Err(JobError::permanent(
                "no e-mail is set up to send meeting invitations ([smtp] in tocsin.toml)",
            ));
        };
        let postmortem = self.core.store.get_postmortem(p.postmortem_id).await?;
        let Some(meeting) = postmortem.meeting.clone() else {
            return Err(JobError::permanent(format!(
                "postmortem {} has no meeting to invite to",
                postmortem.id
            )));
        };
        if meeting.sequence != p.sequence {
            // Moved since: the job of the newer schedule sends the current event.
            return Ok(());
        }
        let incident = self.core.store.get_incident(postmortem.incident_id).await?;
        let link = self.core.postmortem_link(&postmortem).await?;
        let invitation = Invitation {
            postmortem_id: postmortem.id,
            incident: incident.reference(),
            incident_title: incident.title.clone(),
            meeting: meeting.clone(),
            postmortem_url: format!("{}{link}", self.core.settings.public_url),
            huddle_url: self.core.huddle_url(&incident),
        };
        let mut retry = None;
        let mut refused = Vec::new();
        for to in &meeting.attendees {
            let key = format!("invite:{}:{}:{to}", postmortem.id, meeting.sequence);
            if self.core.store.delivery_seen(&key).await? {
                continue;
            }
            match inviter.invite(&invitation, to).await {
                Ok(()) => {
                    self.core
                        .store
                        .record_delivery(&key, self.core.clock.now())
                        .await?;
                }
                Err(NotifyError::Refused(why)) => {
                    tracing::warn!(postmortem_id = %postmortem.id, error = %why, "an invitation was refused");
                    refused.push(format!("{to}: {why}"));
                }
                Err(e) => retry = Some(e),
            }
        }
        if let Some(e) = retry {
            return Err(e.into());
        }
        if !refused.is_empty() {
            return Err(JobError::permanent(format!(
                "invitations refused: {}",
                refused.join("; ")
            )));
        }
        tracing::info!(
            postmortem_id = %postmortem.id,
            attendees = meeting.attendees.len(),
            sequence = meeting.sequence,
            "meeting invitations sent"
        );
        Ok(())
    }
}
