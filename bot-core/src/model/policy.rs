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

/// How a person wants to be paged: on `channel`, `delay` after their page began, at `to`
/// (an address for the channel; None: the one in their profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyRule {
    /// `chat`, `webhook`, `email`, `sms` or `voice`.
    pub channel: String,
    pub delay: chrono::Duration,
    pub to: Option<String>,
    /// The alerts it is for, by urgency; None: all.
    pub urgency: Option<super::Urgency>,
}

impl NotifyRule {
    pub fn new(channel: &str, delay_minutes: i64) -> Self {
        NotifyRule {
            channel: channel.into(),
            delay: chrono::Duration::minutes(delay_minutes),
            to: None,
            urgency: None,
        }
    }
}

/// The rules that fire at attempt `attempt` (1-based) of a level, attempts `interval`
/// apart: at the first, those with no delay; at each later one, those whose delay has come
/// since the one before. When none has come, the latest one fired repeats, so that every
/// attempt reaches the person ("the page repeats every minute").
pub fn rules_for_attempt(
    rules: &[NotifyRule],
    attempt: i32,
    interval: chrono::Duration,
) -> Vec<&NotifyRule> {
    let now = interval * (attempt - 1).max(0);
    let before = interval * (attempt - 2);
    let due: Vec<&NotifyRule> = rules
        .iter()
        .filter(|r| r.delay <= now && (attempt == 1 || r.delay > before))
        .collect();
    if !due.is_empty() {
        return due;
    }
    let latest = rules
        .iter()
        .filter(|r| r.delay <= now)
        .map(|r| r.delay)
        .max();
    rules.iter().filter(|r| Some(r.delay) == latest).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channels(rules: &[NotifyRule], attempt: i32) -> Vec<&str> {
        rules_for_attempt(rules, attempt, chrono::Duration::minutes(1))
            .iter()
            .map(|r| r.channel.as_str())
            .collect()
    }

    #[test]
    fn chat_now_sms_at_one_minute_voice_at_two() {
        let rules = [
            NotifyRule::new("chat", 0),
            NotifyRule::new("sms", 1),
            NotifyRule::new("voice", 2),
        ];
        assert_eq!(channels(&rules, 1), ["chat"]);
        assert_eq!(channels(&rules, 2), ["sms"]);
        assert_eq!(channels(&rules, 3), ["voice"]);
    }

    #[test]
    fn with_nothing_new_due_the_latest_rule_repeats() {
        let rules = [NotifyRule::new("chat", 0), NotifyRule::new("email", 0)];
        assert_eq!(channels(&rules, 1), ["chat", "email"]);
        assert_eq!(channels(&rules, 2), ["chat", "email"]);
        let rules = [NotifyRule::new("chat", 0), NotifyRule::new("voice", 5)];
        assert_eq!(channels(&rules, 3), ["chat"]);
    }
}
