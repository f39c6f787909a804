//! Post-incident reviews: the postmortem document of an incident (sections from a template,
//! a curated copy of the incident's timeline, the meeting) and its action items, which may
//! be filed as tickets in an issue tracker.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{IncidentId, TimelineKind, UserId, string_enum};

/// draft -> in_review -> published. A published postmortem may go back to review when
/// something in it proves wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostmortemStatus {
    Draft,
    InReview,
    Published,
}

string_enum!(PostmortemStatus, "postmortem status", {
    Draft => "draft",
    InReview => "in_review",
    Published => "published",
});

/// One section of the document, in template order. `level` is its heading level in the
/// Markdown export (2 for a section, 3 for a part of one, such as "Monitoring review"
/// under "Contributing factors").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostmortemSection {
    /// Stable key from the template (`summary`, `impact.customers_affected`, …): what a
    /// PATCH names.
    pub key: String,
    pub title: String,
    pub level: u8,
    /// Markdown written by people; empty until someone writes it.
    pub body: String,
}

/// One entry of the incident's (or a linked alert's) timeline as the postmortem shows it.
/// `hidden` and `annotation` are the curation: they belong to the postmortem and never
/// change the incident's own timeline, and regenerating keeps them (matched by `entry_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostmortemTimelineItem {
    /// The id of the [`TimelineEntry`](super::TimelineEntry) this copies.
    pub entry_id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub kind: TimelineKind,
    pub actor: String,
    pub text: String,
    pub hidden: bool,
    pub annotation: Option<String>,
}

/// The review meeting, once scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostmortemMeeting {
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i64,
    /// E-mail addresses invited.
    pub attendees: Vec<String>,
    /// The iCalendar `SEQUENCE`: 0 for the first invitation, one more for each reschedule
    /// (the same `UID`), so calendars replace the event instead of adding another.
    pub sequence: i32,
    pub scheduled_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Postmortem {
    pub id: uuid::Uuid,
    pub incident_id: IncidentId,
    pub status: PostmortemStatus,
    pub owner: Option<UserId>,
    pub sections: Vec<PostmortemSection>,
    /// Generated from the incident's timeline and its alerts' timelines, oldest first, with
    /// the curation applied.
    pub timeline: Vec<PostmortemTimelineItem>,
    /// When customers started and stopped seeing the problem; generated from the incident
    /// and editable.
    pub impact_started_at: Option<DateTime<Utc>>,
    pub impact_ended_at: Option<DateTime<Utc>>,
    pub meeting: Option<PostmortemMeeting>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

impl Postmortem {
    /// How long the impact lasted, to the second, when both ends are known.
    pub fn impact_seconds(&self) -> Option<i64> {
        match (self.impact_started_at, self.impact_ended_at) {
            (Some(start), Some(end)) if end >= start => Some((end - start).num_seconds()),
            _ => None,
        }
    }

    pub fn section(&self, key: &str) -> Option<&PostmortemSection> {
        self.sections.iter().find(|s| s.key == key)
    }
}

/// Where an action item's ticket lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tracker {
    Github,
    Jira,
}

string_enum!(Tracker, "tracker", {
    Github => "github",
    Jira => "jira",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActionItemState {
    Open,
    Done,
}

string_enum!(ActionItemState, "action item state", {
    Open => "open",
    Done => "done",
});

/// How filing the item's ticket went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TicketStatus {
    /// No tracker: the item lives in Tocsin only.
    None,
    /// A job is filing it (or will retry).
    Pending,
    Created,
    /// The tracker refused it for good; `ticket_error` says why. The item is kept.
    Failed,
}

string_enum!(TicketStatus, "ticket status", {
    None => "none",
    Pending => "pending",
    Created => "created",
    Failed => "failed",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionItem {
    pub id: uuid::Uuid,
    pub incident_id: IncidentId,
    pub title: String,
    pub assignee: Option<UserId>,
    pub tracker: Option<Tracker>,
    /// `owner/repo` for GitHub, the project key for Jira.
    pub target: Option<String>,
    pub state: ActionItemState,
    pub ticket_status: TicketStatus,
    /// `owner/repo#12` or `OPS-12`.
    pub ticket_key: Option<String>,
    pub ticket_url: Option<String>,
    /// The tracker's own state, as it last told us (`open`, `closed`, a Jira status).
    pub ticket_state: Option<String>,
    /// The tracker's last error message, kept when filing failed or is being retried.
    pub ticket_error: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewActionItem {
    pub id: uuid::Uuid,
    pub incident_id: IncidentId,
    pub title: String,
    pub assignee: Option<UserId>,
    pub tracker: Option<Tracker>,
    pub target: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// What filing (or watching) a ticket found out.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketUpdate {
    pub status: TicketStatus,
    pub key: Option<String>,
    pub url: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}
