//! Who is on call: for a schedule, and for each escalation level of a service, now and
//! next; and overrides, the self-serve way to take or hand over a shift.

use chrono::{DateTime, Utc};

use crate::Core;
use crate::model::{Actor, ServiceId, Target, UserId};
use crate::ops::{CoreError, CoreResult, Invalid};
use crate::schedule::{Override, Schedule, Shift};
use crate::store::StoreError;

/// One target of an escalation level and who it reaches.
#[derive(Debug, Clone, PartialEq)]
pub struct OnCallTarget {
    pub target: Target,
    /// Who is paged now through this target (a schedule's on-call, a team's members).
    pub now: Vec<UserId>,
    /// For a schedule: the next hand-over to someone else.
    pub next: Option<Shift>,
}

/// Who a service's escalation level reaches.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelOnCall {
    /// 1-based, as people say it.
    pub level: usize,
    pub timeout: chrono::Duration,
    pub targets: Vec<OnCallTarget>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid(Invalid {
        field,
        message: message.into(),
    })
}

impl Core {
    pub fn schedule(&self, id: &str) -> CoreResult<&Schedule> {
        self.settings
            .schedules
            .get(id)
            .ok_or_else(|| CoreError::Store(StoreError::NotFound(format!("schedule {id}"))))
    }

    /// Who is on call on schedule `id` at `at`, and the next hand-over after it.
    pub async fn schedule_on_call(
        &self,
        id: &str,
        at: DateTime<Utc>,
    ) -> CoreResult<(Option<UserId>, Option<Shift>)> {
        let schedule = self.schedule(id)?;
        let overrides = self.store.overrides(id, at).await?;
        Ok((
            schedule.on_call(&overrides, at),
            schedule.next_change(&overrides, at),
        ))
    }

    /// The shifts of schedule `id` over [from, until), overrides applied.
    pub async fn schedule_shifts(
        &self,
        id: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CoreResult<Vec<Shift>> {
        if until <= from {
            return Err(invalid("until", "`until` must be after `from`"));
        }
        let schedule = self.schedule(id)?;
        let overrides = self.store.overrides(id, from).await?;
        Ok(schedule.shifts(&overrides, from, until))
    }

    /// Each escalation level of `service`'s policy with whom it reaches at `at`.
    pub async fn service_on_call(
        &self,
        service: &ServiceId,
        at: DateTime<Utc>,
    ) -> CoreResult<Vec<LevelOnCall>> {
        let service = self.store.get_service(service).await?;
        let Some(policy_id) = &service.escalation_policy else {
            return Ok(Vec::new());
        };
        let policy = self.settings.policies.get(policy_id).ok_or_else(|| {
            CoreError::Store(StoreError::NotFound(format!(
                "escalation policy {policy_id}"
            )))
        })?;
        let mut levels = Vec::with_capacity(policy.levels.len());
        for (i, level) in policy.levels.iter().enumerate() {
            let mut targets = Vec::with_capacity(level.targets.len());
            for target in &level.targets {
                let (now, next) = match target {
                    Target::User(u) => (vec![u.clone()], None),
                    Target::Team(t) => (
                        self.settings.teams.get(t).cloned().unwrap_or_default(),
                        None,
                    ),
                    Target::Schedule(s) => {
                        let (now, next) = self.schedule_on_call(s, at).await?;
                        (now.into_iter().collect(), next)
                    }
                };
                targets.push(OnCallTarget {
                    target: target.clone(),
                    now,
                    next,
                });
            }
            levels.push(LevelOnCall {
                level: i + 1,
                timeout: level.timeout,
                targets,
            });
        }
        Ok(levels)
    }

    /// Puts `user` on call on schedule `id` over [start, end), above every layer; a later
    /// override wins where two overlap.
    pub async fn create_override(
        &self,
        actor: &Actor,
        id: &str,
        user: &UserId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> CoreResult<Override> {
        self.schedule(id)?;
        if end <= start {
            return Err(invalid("end", "an override must end after it starts"));
        }
        match self.store.get_user(user).await {
            Ok(_) => {}
            Err(StoreError::NotFound(_)) => {
                return Err(invalid("user", format!("no user `{user}`")));
            }
            Err(e) => return Err(e.into()),
        }
        let o = Override {
            id: uuid::Uuid::now_v7(),
            user: user.clone(),
            start,
            end,
            created_at: self.clock.now(),
        };
        self.store.save_override(id, &o, &actor.to_string()).await?;
        tracing::info!(schedule = id, user = %user, start = %start, end = %end, actor = %actor, "on-call override");
        Ok(o)
    }

    /// The schedules whose layers include `user`, for "take" without a schedule named.
    pub fn schedules_of(&self, user: &UserId) -> Vec<&Schedule> {
        let mut schedules: Vec<&Schedule> = self
            .settings
            .schedules
            .values()
            .filter(|s| s.layers.iter().any(|l| l.members.contains(user)))
            .collect();
        schedules.sort_by(|a, b| a.id.cmp(&b.id));
        schedules
    }
}
