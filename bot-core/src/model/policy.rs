//! Escalation policies: whom to page, in order, until someone acknowledges.

use std::fmt;

use chrono::Duration;

use super::{TeamId, UserId};

/// Who an escalation level pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    User(UserId),
    /// Whoever is on call on this schedule at the time.
    Schedule(String),
    /// Every member of the team.
    Team(TeamId),
}

impl fmt::Display for Target {
    /// The form the configuration uses: `user:alice`, `schedule:primary`, `team:payments`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::User(u) => write!(f, "user:{u}"),
            Target::Schedule(s) => write!(f, "schedule:{s}"),
            Target::Team(t) => write!(f, "team:{t}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationLevel {
    pub targets: Vec<Target>,
    /// How long this level is paged before the next one is (default 5 minutes).
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPolicy {
    pub id: String,
    pub levels: Vec<EscalationLevel>,
    /// How many times the whole policy starts over after its last level.
    pub repeat: u32,
}

/// Where an alert's escalation stands: which pass over the policy (`cycle`), which level
/// (0-based), which attempt at that level (1-based), since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationState {
    pub alert_id: super::AlertId,
    pub policy: String,
    pub epoch: i32,
    pub cycle: i32,
    pub level: i32,
    pub attempt: i32,
    pub level_started_at: chrono::DateTime<chrono::Utc>,
    /// False once the policy is exhausted: the alert stays open with a final notice.
    pub running: bool,
}
