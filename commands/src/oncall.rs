//! `/oncall [service]`: who is on call now and next, per escalation level; `/oncall take
//! [@user] [schedule] (for 2h | until 18:00)`: take a shift, or hand yours to someone.

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use bot_core::chat::{Field, Message};
use bot_core::model::{Role, ServiceId, Target, UserId};

use crate::{Audience, Ctx, Failure, Outcome, Reply};

#[derive(Debug, PartialEq)]
pub(crate) enum OnCall {
    Show {
        service: Option<String>,
    },
    Take {
        to: Option<String>,
        schedule: Option<String>,
        until: Until,
    },
}

#[derive(Debug, PartialEq)]
pub(crate) enum Until {
    For(chrono::Duration),
    /// A wall-clock time in the asker's time zone: the next time it comes.
    At(NaiveTime),
}

impl OnCall {
    pub const USAGE: &'static str = "/oncall [service]";
    pub const SUMMARY: &'static str = "who is on call now and next, per escalation level";
    pub const TAKE_USAGE: &'static str = "/oncall take [@user] [schedule] (for 2h | until 18:00)";
    pub const TAKE_SUMMARY: &'static str =
        "take the on-call shift yourself, or hand yours to @user, until then";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let mut words = args.split_whitespace();
        match words.next() {
            None => Ok(OnCall::Show { service: None }),
            Some("take") => Self::parse_take(words),
            Some(service) => match words.next() {
                None => Ok(OnCall::Show {
                    service: Some(service.to_owned()),
                }),
                Some(_) => Err(Failure::Usage(format!(
                    "{}\n{}",
                    Self::USAGE,
                    Self::TAKE_USAGE
                ))),
            },
        }
    }

    fn parse_take<'a>(mut words: impl Iterator<Item = &'a str>) -> Result<Self, Failure> {
        let usage = || Failure::Usage(Self::TAKE_USAGE.into());
        let (mut to, mut schedule, mut until) = (None, None, None);
        while let Some(word) = words.next() {
            match word {
                "for" => {
                    let text = words.next().ok_or_else(usage)?;
                    let d = humantime::parse_duration(text)
                        .ok()
                        .and_then(|d| chrono::Duration::from_std(d).ok())
                        .filter(|d| *d > chrono::Duration::zero())
                        .ok_or_else(|| {
                            Failure::Usage(format!(
                                "{}\n`{text}` is not a duration such as 2h or 30m.",
                                Self::TAKE_USAGE
                            ))
                        })?;
                    until = Some(Until::For(d));
                }
                "until" => {
                    let text = words.next().ok_or_else(usage)?;
                    let t = NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| {
                        Failure::Usage(format!(
                            "{}\n`{text}` is not a time such as 18:00.",
                            Self::TAKE_USAGE
                        ))
                    })?;
                    until = Some(Until::At(t));
                }
                mention if mention.starts_with('@') || mention.starts_with("<@") => {
                    to = Some(mention.to_owned());
                }
                name if schedule.is_none() => schedule = Some(name.to_owned()),
                _ => return Err(usage()),
            }
        }
        let until = until.ok_or_else(|| {
            Failure::Usage(format!(
                "{}\nSay how long: for 2h, or until 18:00.",
                Self::TAKE_USAGE
            ))
        })?;
        Ok(OnCall::Take {
            to,
            schedule,
            until,
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        match self {
            OnCall::Show { service } => show(ctx, service).await,
            OnCall::Take {
                to,
                schedule,
                until,
            } => take(ctx, to, schedule, until).await,
        }
    }
}

/// The asker's time zone, for showing and reading times; UTC for people not in the directory.
async fn zone(ctx: &Ctx<'_>) -> Tz {
    let Some(user) = ctx.actor.user() else {
        return Tz::UTC;
    };
    match ctx.core.store.get_user(user).await {
        Ok(u) => u.time_zone.parse().unwrap_or(Tz::UTC),
        Err(_) => Tz::UTC,
    }
}

fn local(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%a %d %b %H:%M %Z")
        .to_string()
}

async fn show(ctx: &Ctx<'_>, service: Option<String>) -> Outcome {
    let now = ctx.core.clock.now();
    let zone = zone(ctx).await;
    let services: Vec<ServiceId> = match service {
        Some(s) => vec![ServiceId(s)],
        None => match ctx.here.as_ref().filter(|i| !i.services.is_empty()) {
            Some(incident) => incident.services.clone(),
            None => ctx
                .core
                .store
                .list_services()
                .await?
                .into_iter()
                .map(|s| s.id)
                .collect(),
        },
    };
    let mut fields = Vec::new();
    for service in &services {
        let levels = ctx.core.service_on_call(service, now).await?;
        if levels.is_empty() {
            fields.push(Field {
                label: service.to_string(),
                value: "no escalation policy".into(),
            });
        }
        for level in levels {
            let mut lines = Vec::new();
            for t in &level.targets {
                let who = match t.now.as_slice() {
                    [] => "nobody".to_owned(),
                    people => people
                        .iter()
                        .map(UserId::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                let what = match &t.target {
                    Target::Schedule(s) => format!("schedule {s}"),
                    Target::Team(team) => format!("team {team}"),
                    Target::User(_) => "directly".to_owned(),
                };
                let next = t
                    .next
                    .as_ref()
                    .map(|n| format!("; next {} from {}", n.user, local(n.start, zone)))
                    .unwrap_or_default();
                lines.push(format!("{who} ({what}{next})"));
            }
            fields.push(Field {
                label: format!(
                    "{service} level {} ({} min)",
                    level.level,
                    level.timeout.num_minutes()
                ),
                value: lines.join("\n"),
            });
        }
    }
    Ok(Reply::card(
        Audience::Ephemeral,
        Message {
            title: Some("On call now".into()),
            fields,
            context: Some(format!("As of {}", local(now, zone))),
            ..Default::default()
        },
    ))
}

async fn take(
    ctx: &Ctx<'_>,
    to: Option<String>,
    schedule: Option<String>,
    until: Until,
) -> Outcome {
    ctx.require(Role::Responder, "changing who is on call")?;
    let me = ctx.actor.user().cloned().ok_or_else(|| {
        Failure::Refused("your chat account is not linked to a Tocsin user".into())
    })?;
    let now = ctx.core.clock.now();
    let zone = zone(ctx).await;
    let end = match until {
        Until::For(d) => now + d,
        Until::At(t) => next_at(now, t, zone),
    };
    let who = match &to {
        Some(mention) => crate::assign::mentioned_user(ctx, mention).await?,
        None => me.clone(),
    };
    let schedule = match schedule {
        Some(s) => s,
        None => {
            // Taking: a schedule you are in. Handing over: the one you are on call on now.
            let mut candidates = Vec::new();
            for s in ctx.core.schedules_of(&me) {
                let mine_now = ctx.core.schedule_on_call(&s.id, now).await?.0.as_ref() == Some(&me);
                if to.is_none() || mine_now {
                    candidates.push(s.id.clone());
                }
            }
            match candidates.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(Failure::Refused(
                        "name the schedule: you are not in any (or not on call on any) that I could pick"
                            .into(),
                    ));
                }
                many => {
                    return Err(Failure::Refused(format!(
                        "name the schedule, one of: {}",
                        many.join(", ")
                    )));
                }
            }
        }
    };
    ctx.core
        .create_override(&ctx.actor, &schedule, &who, now, end)
        .await?;
    let text = match &to {
        None => format!("You are on call for {schedule} until {}.", local(end, zone)),
        Some(_) => format!(
            "{who} is on call for {schedule} instead of you until {}.",
            local(end, zone)
        ),
    };
    Ok(Reply::card(Audience::Channel, Message::text(text)))
}

/// The next moment after `now` when the clock in `zone` reads `t`.
fn next_at(now: DateTime<Utc>, t: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let today = now.with_timezone(&zone).date_naive();
    [today, today.succ_opt().unwrap_or(today)]
        .into_iter()
        .filter_map(|day| zone.from_local_datetime(&day.and_time(t)).earliest())
        .map(|at| at.with_timezone(&Utc))
        .find(|at| *at > now)
        .unwrap_or(now + chrono::Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_reads_who_which_schedule_and_until_when() {
        assert_eq!(OnCall::parse("").unwrap(), OnCall::Show { service: None });
        assert_eq!(
            OnCall::parse("checkout").unwrap(),
            OnCall::Show {
                service: Some("checkout".into())
            }
        );
        assert_eq!(
            OnCall::parse("take for 2h").unwrap(),
            OnCall::Take {
                to: None,
                schedule: None,
                until: Until::For(chrono::Duration::hours(2))
            }
        );
        assert_eq!(
            OnCall::parse("take @bob checkout-primary until 18:00").unwrap(),
            OnCall::Take {
                to: Some("@bob".into()),
                schedule: Some("checkout-primary".into()),
                until: Until::At(NaiveTime::from_hms_opt(18, 0, 0).unwrap())
            }
        );
        assert!(matches!(OnCall::parse("take"), Err(Failure::Usage(_))));
        assert!(matches!(
            OnCall::parse("take until 25:00"),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            OnCall::parse("take for soon"),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn until_is_the_next_time_the_askers_clock_shows_it() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-24T15:30:00Z")
            .unwrap()
            .to_utc(); // 16:30 in Berlin
        let six = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
        assert_eq!(
            next_at(now, six, berlin).to_rfc3339(),
            "2026-11-24T17:00:00+00:00"
        );
        let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
        assert_eq!(
            next_at(now, nine, berlin).to_rfc3339(),
            "2026-11-25T08:00:00+00:00"
        );
    }
}
