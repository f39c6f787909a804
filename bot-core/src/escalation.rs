//! The escalation engine. Exactly the guide's rule: at a level's start its targets are
//! paged; the page repeats every minute; after three unanswered attempts, or at the level's
//! timeout if sooner, the next level starts; after the last level the policy starts over up
//! to `repeat` times, then the alert stays open with a final notice. Acknowledging or
//! resolving stops everything.
//!
//! Every step is a durable job written in the same transaction as the step before it, so
//! a restart runs due steps at once and two replicas never run one twice. A manual
//! `escalate` bumps the escalation's epoch, which makes the steps already scheduled stale.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::Core;
use crate::chat::{ChatPlatform, Message};
use crate::effects::alert_card;
use crate::health::Outcome;
use crate::jobs::{Handlers, JobError, JobHandler};
use crate::model::rules_for_attempt;
use crate::model::{
    Actor, Alert, AlertId, AlertStatus, EscalationPolicy, EscalationState, Job, NewJob,
    NewTimelineEntry, NotifyRule, Subject, Target, TimelineKind, UserId,
};
use crate::notify::{Notifier, NotifyError, Page};
use crate::ops::{CORE_QUEUE, CoreError, CoreResult, Invalid, NOTIFY_QUEUE, chat_queue, kinds};
use crate::store::StoreError;

/// Attempts at one level before it escalates (the guide's "3 unanswered attempts").
pub const ATTEMPTS_PER_LEVEL: i32 = 3;
/// Time between attempts at one level: the guide's minute, unless configured otherwise
/// (drills and tests use seconds).
pub fn default_attempt_interval() -> Duration {
    Duration::minutes(1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
struct Step {
    alert_id: AlertId,
    epoch: i32,
    cycle: i32,
    level: i32,
    attempt: i32,
    level_started_at: DateTime<Utc>,
}

fn step_job(step: &Step, at: DateTime<Utc>) -> NewJob {
    NewJob::new(CORE_QUEUE, kinds::ESCALATION_STEP, json!(step), at)
}

/// The first step of `alert`'s escalation, if its service has a policy. Urgency decides how
/// people are reached (their rules for it), not whether.
pub(crate) fn first_step(alert: &Alert, policy: Option<&EscalationPolicy>) -> Option<NewJob> {
    let policy = policy?;
    if policy.levels.is_empty() {
        return None;
    }
    let step = Step {
        alert_id: alert.id,
        epoch: 0,
        cycle: 0,
        level: 0,
        attempt: 1,
        level_started_at: alert.created_at,
    };
    Some(step_job(&step, alert.created_at))
}

/// What comes after `step`: another attempt, the next level, the policy again, or nothing.
fn after(
    step: &Step,
    policy: &EscalationPolicy,
    interval: Duration,
) -> Option<(Step, DateTime<Utc>)> {
    let level = &policy.levels[step.level as usize];
    let next_attempt = step.level_started_at + interval * step.attempt;
    let escalate_at = step.level_started_at + level.timeout.min(interval * ATTEMPTS_PER_LEVEL);
    if step.attempt < ATTEMPTS_PER_LEVEL && next_attempt < escalate_at {
        return Some((
            Step {
                attempt: step.attempt + 1,
                ..*step
            },
            next_attempt,
        ));
    }
    let (cycle, level) = if (step.level as usize) + 1 < policy.levels.len() {
        (step.cycle, step.level + 1)
    } else if (step.cycle as u32) < policy.repeat {
        (step.cycle + 1, 0)
    } else {
        return None;
    };
    Some((
        Step {
            cycle,
            level,
            attempt: 1,
            level_started_at: escalate_at,
            ..*step
        },
        escalate_at,
    ))
}

impl Core {
    fn policy_of(&self, alert: &Alert) -> Option<&EscalationPolicy> {
        let id = self.service_settings(&alert.service).escalation_policy?;
        self.settings.policies.get(&id)
    }

    pub(crate) fn first_escalation_step(&self, alert: &Alert) -> Option<NewJob> {
        first_step(alert, self.policy_of(alert))
    }

    /// The people a level reaches now.
    async fn reach(&self, targets: &[Target], at: DateTime<Utc>) -> CoreResult<Vec<UserId>> {
        let mut people: Vec<UserId> = Vec::new();
        for target in targets {
            let reached = match target {
                Target::User(u) => vec![u.clone()],
                Target::Team(t) => self.settings.teams.get(t).cloned().unwrap_or_default(),
                Target::Schedule(s) => self.schedule_on_call(s, at).await?.0.into_iter().collect(),
            };
            for person in reached {
                if !people.contains(&person) {
                    people.push(person);
                }
            }
        }
        Ok(people)
    }

    /// `escalate` by hand: the next level now, whatever the current one's attempts.
    pub async fn escalate_alert(&self, actor: &Actor, id: AlertId) -> CoreResult<EscalationState> {
        let alert = self.store.get_alert(id).await?;
        if alert.status != AlertStatus::Open {
            return Err(CoreError::Invalid(Invalid {
                field: "alert",
                message: format!("the alert is {}; only open alerts escalate", alert.status),
            }));
        }
        let policy = self.policy_of(&alert).ok_or_else(|| {
            CoreError::Invalid(Invalid {
                field: "alert",
                message: format!("service {} has no escalation policy", alert.service),
            })
        })?;
        let now = self.clock.now();
        let current = self.store.escalation(id).await?;
        let epoch = current.as_ref().map_or(0, |s| s.epoch);
        // Not started yet means the first level's step is pending: that is where it stands.
        let (at_cycle, at_level) = current.as_ref().map_or((0, 0), |s| (s.cycle, s.level));
        let (cycle, level) = if (at_level as usize) + 1 < policy.levels.len() {
            (at_cycle, at_level + 1)
        } else {
            (at_cycle + 1, 0)
        };
        let step = Step {
            alert_id: id,
            epoch: epoch + 1,
            cycle,
            level,
            attempt: 1,
            level_started_at: now,
        };
        let state = EscalationState {
            alert_id: id,
            policy: policy.id.clone(),
            epoch: step.epoch,
            cycle,
            level,
            attempt: 0,
            level_started_at: now,
            running: true,
        };
        let entry = NewTimelineEntry {
            subject: Subject::Alert(id),
            at: now,
            kind: TimelineKind::Escalated,
            actor: actor.to_string(),
            text: format!("Escalated by hand to level {}", level + 1),
            data: json!({ "level": level + 1 }),
        };
        if !self
            .store
            .advance_escalation(epoch, &state, vec![entry], &[step_job(&step, now)], now)
            .await?
        {
            return Err(CoreError::Store(StoreError::Conflict(
                "the escalation moved on meanwhile; try again".into(),
            )));
        }
        Ok(state)
    }
}

/// Runs escalation steps: pages a level's people through chat, and schedules what follows.
pub struct EscalationSteps {
    core: Core,
}

impl EscalationSteps {
    pub fn handlers(core: Core) -> Handlers {
        Handlers::new().on(kinds::ESCALATION_STEP, Arc::new(EscalationSteps { core }))
    }
}

#[async_trait]
impl JobHandler for EscalationSteps {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let step: Step = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::permanent(format!("bad escalation step: {e}")))?;
        let core = &self.core;
        let alert = core.store.get_alert(step.alert_id).await?;
        if alert.status != AlertStatus::Open {
            return Ok(()); // acknowledged or resolved: nobody is paged again
        }
        let Some(policy) = core.policy_of(&alert).cloned() else {
            return Ok(());
        };
        let Some(level) = policy.levels.get(step.level as usize) else {
            return Ok(());
        };
        let now = core.clock.now();
        let people = core.reach(&level.targets, now).await?;
        let mut entries = Vec::new();
        let mut jobs = Vec::new();
        let label = format!("level {}, attempt {}", step.level + 1, step.attempt);
        if people.is_empty() {
            entries.push(page_entry(
                &alert,
                now,
                format!("{label}: nobody is on call to page"),
                &step,
                None,
            ));
        }
        for person in &people {
            entries.push(page_entry(
                &alert,
                now,
                format!("{label}: paged {person}"),
                &step,
                Some(person),
            ));
            let rules = core.settings.rules_of(person, alert.urgency);
            let interval = core.settings.attempt_interval();
            for rule in rules_for_attempt(&rules, step.attempt, interval) {
                if rule.channel == "chat" {
                    continue;
                }
                let payload = json!({
                    "alert_id": alert.id,
                    "user": person,
                    "channel": rule.channel,
                    "to": rule.to,
                    "level": step.level + 1,
                    "attempt": step.attempt,
                });
                jobs.push(NewJob::new(NOTIFY_QUEUE, kinds::PAGE_NOTIFY, payload, now));
            }
            let by_chat = rules_for_attempt(&rules, step.attempt, interval)
                .iter()
                .any(|r| r.channel == "chat");
            for platform in core.settings.chat_platforms.iter().filter(|_| by_chat) {
                let payload = json!({ "alert_id": alert.id, "user": person, "label": label });
                jobs.push(NewJob::new(
                    chat_queue(platform),
                    kinds::PAGE_DM,
                    payload,
                    now,
                ));
            }
        }
        // The alert's cards show who is being paged.
        jobs.extend(core.alert_changed_jobs(alert.id, now));
        let next = after(&step, &policy, core.settings.attempt_interval());
        if let Some((next, at)) = &next {
            jobs.push(step_job(next, *at));
        } else {
            entries.push(NewTimelineEntry {
                subject: Subject::Alert(alert.id),
                at: now,
                kind: TimelineKind::Escalated,
                actor: "system".into(),
                text: format!(
                    "Escalation policy {} exhausted after {} pass(es); the alert stays open",
                    policy.id,
                    step.cycle + 1
                ),
                data: json!({ "final": true }),
            });
        }
        let state = EscalationState {
            alert_id: alert.id,
            policy: policy.id.clone(),
            epoch: step.epoch,
            cycle: step.cycle,
            level: step.level,
            attempt: step.attempt,
            level_started_at: step.level_started_at,
            running: next.is_some(),
        };
        // A stale step (a manual escalation came after it was scheduled) writes nothing.
        core.store
            .advance_escalation(step.epoch, &state, entries, &jobs, now)
            .await?;
        Ok(())
    }
}

fn page_entry(
    alert: &Alert,
    at: DateTime<Utc>,
    text: String,
    step: &Step,
    person: Option<&UserId>,
) -> NewTimelineEntry {
    NewTimelineEntry {
        subject: Subject::Alert(alert.id),
        at,
        kind: TimelineKind::Paged,
        actor: "system".into(),
        text,
        data: json!({ "level": step.level + 1, "attempt": step.attempt, "cycle": step.cycle, "user": person }),
    }
}

/// Delivers a page as a direct message on one chat platform, with the alert's card and its
/// buttons, unless the alert was acknowledged or resolved meanwhile.
pub struct PageByChat {
    core: Core,
    platform: Arc<dyn ChatPlatform>,
}

#[derive(Deserialize)]
struct PagePayload {
    alert_id: AlertId,
    user: UserId,
    label: String,
}

impl PageByChat {
    pub fn handlers(core: Core, platform: Arc<dyn ChatPlatform>) -> Handlers {
        Handlers::new().on(kinds::PAGE_DM, Arc::new(PageByChat { core, platform }))
    }
}

#[async_trait]
impl JobHandler for PageByChat {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let p: PagePayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::permanent(format!("bad page payload: {e}")))?;
        let alert = self.core.store.get_alert(p.alert_id).await?;
        if alert.status != AlertStatus::Open {
            return Ok(());
        }
        let user = match self.core.store.get_user(&p.user).await {
            Ok(u) => u,
            Err(StoreError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let Some(identity) = user.chat.get(self.platform.name()) else {
            return Ok(()); // not on this platform
        };
        let mut card: Message = alert_card(&alert, &[]);
        card.text.insert(0, format!("You are paged ({}).", p.label));
        // Its health is recorded by the platform's wrapper (`health::WatchedChat`).
        self.platform.send_dm(identity, &card).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EscalationLevel;

    fn policy(timeouts: &[i64], repeat: u32) -> EscalationPolicy {
        EscalationPolicy {
            id: "p".into(),
            repeat,
            levels: timeouts
                .iter()
                .map(|m| EscalationLevel {
                    targets: vec![],
                    timeout: Duration::minutes(*m),
                })
                .collect(),
        }
    }

    fn walk(policy: &EscalationPolicy) -> Vec<(i32, i32, i32, i64)> {
        let t0 = DateTime::parse_from_rfc3339("2026-11-24T03:00:00Z")
            .unwrap()
            .to_utc();
        let mut step = Step {
            alert_id: AlertId::new(),
            epoch: 0,
            cycle: 0,
            level: 0,
            attempt: 1,
            level_started_at: t0,
        };
        let mut seen = vec![(0, 0, 1, 0)];
        while let Some((next, at)) = after(&step, policy, default_attempt_interval()) {
            seen.push((
                next.cycle,
                next.level,
                next.attempt,
                (at - t0).num_seconds(),
            ));
            step = next;
        }
        seen
    }

    #[test]
    fn three_attempts_a_minute_apart_then_the_next_level() {
        let seen = walk(&policy(&[5, 5], 0));
        assert_eq!(
            seen,
            [
                (0, 0, 1, 0),
                (0, 0, 2, 60),
                (0, 0, 3, 120),
                (0, 1, 1, 180),
                (0, 1, 2, 240),
                (0, 1, 3, 300)
            ]
        );
    }

    #[test]
    fn a_short_timeout_escalates_before_the_third_attempt() {
        let seen = walk(&policy(&[2, 1], 0));
        assert_eq!(seen, [(0, 0, 1, 0), (0, 0, 2, 60), (0, 1, 1, 120)]);
    }

    #[test]
    fn the_policy_repeats_then_stops() {
        let seen = walk(&policy(&[1], 2));
        assert_eq!(seen, [(0, 0, 1, 0), (1, 0, 1, 60), (2, 0, 1, 120)]);
    }
}

/// Delivers pages over the `Notifier`s (webhook, e-mail, SMS, voice), unless the alert was
/// acknowledged or resolved meanwhile, and records each delivery in the alert's timeline.
pub struct PageByNotifier {
    core: Core,
    notifiers: Vec<Arc<dyn Notifier>>,
    /// The public base URL, for acknowledge links; None: pages carry none.
    public_url: Option<String>,
}

#[derive(Deserialize)]
struct NotifyPayload {
    alert_id: AlertId,
    user: UserId,
    channel: String,
    to: Option<String>,
    level: i32,
    attempt: i32,
    /// The channels that failed before this one for the same attempt (fall-through).
    #[serde(default)]
    fallen_from: Vec<String>,
}

impl PageByNotifier {
    pub fn handlers(
        core: Core,
        notifiers: Vec<Arc<dyn Notifier>>,
        public_url: Option<String>,
    ) -> Handlers {
        Handlers::new().on(
            kinds::PAGE_NOTIFY,
            Arc::new(PageByNotifier {
                core,
                notifiers,
                public_url,
            }),
        )
    }
}

#[async_trait]
impl JobHandler for PageByNotifier {
    async fn run(&self, job: &Job) -> Result<(), JobError> {
        let p: NotifyPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::permanent(format!("bad page payload: {e}")))?;
        let alert = self.core.store.get_alert(p.alert_id).await?;
        if alert.status != AlertStatus::Open {
            return Ok(());
        }
        let Some(notifier) = self.notifiers.iter().find(|n| n.channel() == p.channel) else {
            // Not set up in this installation (no Twilio, no SMTP): the person's other
            // rules still reach them.
            return Ok(());
        };
        let user = match self.core.store.get_user(&p.user).await {
            Ok(u) => u,
            Err(StoreError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let to = p.to.clone().or_else(|| match p.channel.as_str() {
            "email" => user.email.clone(),
            "sms" | "voice" => user.phone.clone(),
            _ => None,
        });
        let Some(to) = to else { return Ok(()) };
        let ack_url = match &self.public_url {
            Some(base) => {
                let fresh = crate::auth::generate_token();
                let key = self
                    .core
                    .store
                    .instance_secret(crate::auth::ACK_LINK_KEY, &fresh)
                    .await?;
                let sig = crate::auth::ack_signature(&key, alert.id, &user.id);
                Some(format!(
                    "{}/ack/{}/{}/{sig}",
                    base.trim_end_matches('/'),
                    alert.id,
                    user.id
                ))
            }
            None => None,
        };
        let page = Page {
            ack_url,
            alert,
            user,
            to,
            level: p.level,
            attempt: p.attempt,
            idempotency_key: job.id.0.to_string(),
        };
        let delivered = notifier.deliver(&page).await;
        let now = self.core.clock.now();
        let outcome = match &delivered {
            Ok(_) => Outcome::Delivered,
            Err(NotifyError::RateLimited { .. }) => Outcome::RateLimited,
            Err(NotifyError::Unavailable(_)) => Outcome::Unavailable,
            Err(NotifyError::Refused(_)) => Outcome::Refused,
        };
        let error = delivered.as_ref().err().map(|e| e.to_string());
        self.core
            .health
            .record(&p.channel, outcome, error.as_deref(), now);
        let mut data = json!({
            "channel": p.channel,
            "user": p.user,
            "level": p.level,
            "attempt": p.attempt,
            "attempt_of_delivery": job.attempts,
            "outcome": if delivered.is_ok() { "delivered" } else { "failed" },
        });
        let (text, fall) = match &error {
            None => (format!("{} page to {} delivered", p.channel, p.user), None),
            Some(e) => {
                let fall = self.fall_through(job, &p, &page.alert, now).await?;
                let text = match &fall {
                    Some(f) => {
                        data["fell_through_to"] = json!(f.channel);
                        data["fell_through_from"] = json!(job.id);
                        format!(
                            "{} page to {} failed: {e}; falling through to {}",
                            p.channel, p.user, f.channel
                        )
                    }
                    None => format!("{} page to {} failed: {e}", p.channel, p.user),
                };
                (text, fall)
            }
        };
        let entry = NewTimelineEntry {
            subject: Subject::Alert(p.alert_id),
            at: now,
            kind: TimelineKind::Paged,
            actor: "system".into(),
            text,
            data,
        };
        // The failure, the page it falls through to and the cards' refresh commit together.
        let fall_jobs = fall.map(|f| f.jobs).unwrap_or_default();
        self.core
            .store
            .add_timeline_entry(entry, &|_: &crate::model::TimelineEntry| {
                let mut jobs = fall_jobs.clone();
                jobs.extend(self.core.alert_changed_jobs(p.alert_id, now));
                jobs
            })
            .await?;
        delivered.map(|_| ()).map_err(JobError::from)
    }
}

/// Where a failed page goes next, and the jobs that take it there.
struct FallThrough {
    channel: String,
    jobs: Vec<NewJob>,
}

impl PageByNotifier {
    /// The page to the person's next rule after a failed delivery: the next rule in their
    /// order, after the one that failed, whose channel is not already paging them for this
    /// attempt (nor fallen through to before). None when there is no such rule, or when
    /// this job fell through already on an earlier run (its retries do not fall again).
    async fn fall_through(
        &self,
        job: &Job,
        p: &NotifyPayload,
        alert: &Alert,
        now: DateTime<Utc>,
    ) -> Result<Option<FallThrough>, JobError> {
        let core = &self.core;
        let rules = core.settings.rules_of(&p.user, alert.urgency);
        let interval = core.settings.attempt_interval();
        let mut busy: Vec<&str> = rules_for_attempt(&rules, p.attempt, interval)
            .iter()
            .map(|r| r.channel.as_str())
            .collect();
        busy.push(&p.channel);
        busy.extend(p.fallen_from.iter().map(String::as_str));
        let Some(next) = next_rule(&rules, &p.channel, p.to.as_deref(), &busy) else {
            return Ok(None);
        };
        let key = json!(job.id);
        let already = core
            .store
            .timeline(Subject::Alert(p.alert_id))
            .await?
            .iter()
            .any(|e| e.data.get("fell_through_from") == Some(&key));
        if already {
            return Ok(None);
        }
        let mut fallen_from = p.fallen_from.clone();
        fallen_from.push(p.channel.clone());
        let jobs = if next.channel == "chat" {
            let label = format!(
                "level {}, attempt {}; {} failed",
                p.level, p.attempt, p.channel
            );
            core.settings
                .chat_platforms
                .iter()
                .map(|platform| {
                    let payload = json!({ "alert_id": p.alert_id, "user": p.user, "label": label });
                    NewJob::new(chat_queue(platform), kinds::PAGE_DM, payload, now)
                })
                .collect()
        } else {
            let payload = json!({
                "alert_id": p.alert_id,
                "user": p.user,
                "channel": next.channel,
                "to": next.to,
                "level": p.level,
                "attempt": p.attempt,
                "fallen_from": fallen_from,
            });
            vec![NewJob::new(NOTIFY_QUEUE, kinds::PAGE_NOTIFY, payload, now)]
        };
        Ok(Some(FallThrough {
            channel: next.channel.clone(),
            jobs,
        }))
    }
}

/// The rule after the one on `channel` (to `to`) in `rules`, skipping channels in `busy`.
fn next_rule<'a>(
    rules: &'a [NotifyRule],
    channel: &str,
    to: Option<&str>,
    busy: &[&str],
) -> Option<&'a NotifyRule> {
    let position = rules
        .iter()
        .position(|r| r.channel == channel && r.to.as_deref() == to)
        .or_else(|| rules.iter().position(|r| r.channel == channel))?;
    rules[position + 1..]
        .iter()
        .find(|r| !busy.contains(&r.channel.as_str()))
}

#[cfg(test)]
mod fall_through_tests {
    use super::*;

    fn rule(channel: &str, to: Option<&str>, delay: i64) -> NotifyRule {
        NotifyRule {
            to: to.map(str::to_owned),
            ..NotifyRule::new(channel, delay)
        }
    }

    #[test]
    fn the_next_rule_in_order_whose_channel_is_not_already_paging() {
        let rules = [
            rule("webhook", Some("https://a"), 0),
            rule("sms", None, 0),
            rule("voice", None, 2),
            rule("email", None, 5),
        ];
        // sms pages at the same attempt: the webhook falls through to voice.
        let next = next_rule(&rules, "webhook", Some("https://a"), &["webhook", "sms"]);
        assert_eq!(next.map(|r| r.channel.as_str()), Some("voice"));
        // voice fails after falling through from the webhook: on to e-mail.
        let next = next_rule(&rules, "voice", None, &["webhook", "sms", "voice"]);
        assert_eq!(next.map(|r| r.channel.as_str()), Some("email"));
        // The last rule has nowhere to go; a channel not in the rules neither.
        assert!(next_rule(&rules, "email", None, &["email"]).is_none());
        assert!(next_rule(&rules, "chat", None, &["chat"]).is_none());
    }
}
