//! `/incident postmortem [INC-n] [--owner @user]`: create the postmortem draft (or show its
//! state and link), and `/incident postmortem [INC-n] schedule <date> <time> [duration]`:
//! invite the participants to the review meeting. The "I'll own it" button of the owner
//! prompt makes whoever presses it the owner.

use bot_core::chat::Message;
use bot_core::model::{Actor, Incident, Postmortem, Role, UserId};
use bot_core::postmortem::PostmortemEdit;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use crate::assign::mentioned_user;
use crate::{Audience, Ctx, Failure, Outcome, Reply, incident_ref};

/// A review meeting lasts this long unless the command says otherwise.
const DEFAULT_MINUTES: i64 = 60;

#[derive(Debug, PartialEq)]
pub(crate) struct PostmortemCmd {
    incident: Option<i64>,
    what: What,
}

#[derive(Debug, PartialEq)]
enum What {
    /// Create the draft if there is none (with this owner, default the commander), else
    /// show it, changing the owner when one is named.
    CreateOrShow { owner: Option<String> },
    /// The review meeting, in the scheduler's own time zone.
    Schedule {
        at: NaiveDateTime,
        duration_minutes: i64,
    },
}

impl PostmortemCmd {
    pub const USAGE: &'static str =
        "/incident postmortem [INC-n] [--owner @user | schedule <YYYY-MM-DD> <HH:MM> [30m|1h]]";
    pub const SUMMARY: &'static str = "create the postmortem draft, or show its state and link; schedule its review meeting (your time zone; invitations by e-mail)";
    const SCHEDULE_USAGE: &'static str =
        "/incident postmortem [INC-n] schedule <YYYY-MM-DD> <HH:MM> [duration: 30m, 1h, 1h30m]";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let (incident, rest) = incident_ref(args);
        let words: Vec<&str> = rest.split_whitespace().collect();
        let what = match words[..] {
            [] => What::CreateOrShow { owner: None },
            ["--owner", mention] => What::CreateOrShow {
                owner: Some(mention.to_owned()),
            },
            [first, ref when @ ..] if first.eq_ignore_ascii_case("schedule") => {
                Self::parse_schedule(when)?
            }
            _ => return Err(Failure::Usage(Self::USAGE.into())),
        };
        Ok(PostmortemCmd { incident, what })
    }

    fn parse_schedule(words: &[&str]) -> Result<What, Failure> {
        let usage = |why: String| Failure::Usage(format!("{}\n{why}", Self::SCHEDULE_USAGE));
        let (date, time, duration) = match words {
            [date, time] => (*date, *time, None),
            [date, time, duration] => (*date, *time, Some(*duration)),
            _ => return Err(Failure::Usage(Self::SCHEDULE_USAGE.into())),
        };
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
            usage(format!(
                "`{date}` is not a date (YYYY-MM-DD, e.g. 2026-11-30)."
            ))
        })?;
        let time = NaiveTime::parse_from_str(time, "%H:%M").map_err(|_| {
            usage(format!(
                "`{time}` is not a time (HH:MM, 24-hour, e.g. 15:30)."
            ))
        })?;
        let duration_minutes = match duration {
            None => DEFAULT_MINUTES,
            Some(text) => {
                let d = humantime::parse_duration(text)
                    .ok()
                    .filter(|d| d.as_secs() % 60 == 0 && d.as_secs() > 0)
                    .ok_or_else(|| {
                        usage(format!(
                            "`{text}` is not a duration in minutes or hours (30m, 1h, 1h30m)."
                        ))
                    })?;
                i64::try_from(d.as_secs() / 60).unwrap_or(i64::MAX)
            }
        };
        Ok(What::Schedule {
            at: date.and_time(time),
            duration_minutes,
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let incident = ctx.incident(self.incident, Self::USAGE).await?;
        match self.what {
            What::CreateOrShow { owner } => create_or_show(ctx, &incident, owner).await,
            What::Schedule {
                at,
                duration_minutes,
            } => schedule(ctx, &incident, at, duration_minutes).await,
        }
    }
}

/// The postmortem's read-only page, absolute.
async fn url(ctx: &Ctx<'_>, postmortem: &Postmortem) -> Result<String, Failure> {
    let path = ctx.core.postmortem_link(postmortem).await?;
    Ok(format!("{}{path}", ctx.core.settings.public_url))
}

async fn create_or_show(ctx: &Ctx<'_>, incident: &Incident, owner: Option<String>) -> Outcome {
    let existing = ctx.core.postmortem_of(incident.id).await?;
    let Some(postmortem) = existing else {
        ctx.require(Role::Responder, "creating the postmortem")?;
        let owner = match owner {
            Some(mention) => Some(mentioned_user(ctx, &mention).await?),
            None => None,
        };
        let created = ctx
            .core
            .create_postmortem(&ctx.actor, incident.id, owner)
            .await?;
        let link = url(ctx, &created).await?;
        let owner = created.owner.as_ref().map_or_else(
            || "no owner yet (the incident has no commander; press \"I'll own it\" or name one with --owner)".to_owned(),
            |o| format!("owner {o}"),
        );
        return Ok(Reply::card(
            Audience::Channel,
            Message::text(format!(
                "Postmortem of {} created: {}, {owner}. {link}",
                incident.reference(),
                created.status
            )),
        ));
    };
    if let Some(mention) = owner {
        ctx.require(Role::Responder, "changing the postmortem's owner")?;
        let owner = mentioned_user(ctx, &mention).await?;
        let edited = set_owner(ctx, incident, owner.clone()).await?;
        let link = url(ctx, &edited).await?;
        return Ok(Reply::card(
            Audience::Channel,
            Message::text(format!(
                "{owner} now owns the postmortem of {} ({}). {link}",
                incident.reference(),
                edited.status
            )),
        ));
    }
    let link = url(ctx, &postmortem).await?;
    let mut card = bot_core::effects::postmortem_card(&postmortem, incident, &link);
    card.text.push(format!(
        "Change the owner with --owner @user; schedule the review with `{}`.",
        PostmortemCmd::SCHEDULE_USAGE
    ));
    Ok(Reply::card(Audience::Ephemeral, card))
}

async fn set_owner(
    ctx: &Ctx<'_>,
    incident: &Incident,
    owner: UserId,
) -> Result<Postmortem, Failure> {
    let edit = PostmortemEdit {
        owner: Some(owner),
        ..Default::default()
    };
    Ok(ctx
        .core
        .edit_postmortem(&ctx.actor, incident.id, edit)
        .await?)
}

/// The scheduler's time zone: theirs from the directory, UTC for someone not in it.
async fn time_zone(ctx: &Ctx<'_>) -> Result<chrono_tz::Tz, Failure> {
    let Actor::User(id) = &ctx.actor else {
        return Ok(chrono_tz::UTC);
    };
    let user = ctx.core.store.get_user(id).await?;
    user.time_zone.parse().map_err(|_| {
        Failure::Refused(format!(
            "your time zone `{}` is not an IANA name; fix it in tocsin.toml",
            user.time_zone
        ))
    })
}

async fn schedule(
    ctx: &Ctx<'_>,
    incident: &Incident,
    at: NaiveDateTime,
    duration_minutes: i64,
) -> Outcome {
    ctx.require(Role::Responder, "scheduling the postmortem review")?;
    if ctx.core.postmortem_of(incident.id).await?.is_none() {
        return Err(Failure::Refused(format!(
            "{} has no postmortem yet; create it first with /incident postmortem",
            incident.reference()
        )));
    }
    let tz = time_zone(ctx).await?;
    let local = tz.from_local_datetime(&at).earliest().ok_or_else(|| {
        Failure::Refused(format!(
            "{} does not exist in {tz} (the clocks skip it); pick another time",
            at.format("%Y-%m-%d %H:%M")
        ))
    })?;
    let starts_at = local.with_timezone(&Utc);
    let scheduled = ctx
        .core
        .schedule_postmortem_meeting(&ctx.actor, incident.id, starts_at, duration_minutes)
        .await?;
    let meeting = scheduled
        .meeting
        .as_ref()
        .ok_or_else(|| Failure::Internal("a scheduled meeting was not recorded".into()))?;
    let ends = local + chrono::Duration::minutes(duration_minutes);
    let how = if ctx.core.can_mail_invitations() {
        format!(
            "Invitations go by e-mail to {}.",
            meeting.attendees.join(", ")
        )
    } else {
        format!(
            "No e-mail is set up ([smtp]), so no invitations were sent; invite {} yourself.",
            meeting.attendees.join(", ")
        )
    };
    let verb = if meeting.sequence == 0 {
        "scheduled"
    } else {
        "moved"
    };
    Ok(Reply::card(
        Audience::Channel,
        Message::text(format!(
            "Postmortem review of {} {verb}: {}–{} {tz} (your time zone; {} UTC), {duration_minutes} minutes. {how}",
            incident.reference(),
            local.format("%Y-%m-%d %H:%M"),
            ends.format("%H:%M"),
            bot_core::effects::meeting_window(meeting).trim_end_matches(" UTC"),
        )),
    ))
}

/// The owner prompt's "I'll own it": the presser owns the postmortem, created as a draft
/// if there is none. Someone else's postmortem is not taken over by a button press.
pub(crate) async fn take_ownership(ctx: &Ctx<'_>, incident_id: &str) -> Outcome {
    let incident = ctx.incident_by_id(incident_id).await?;
    ctx.require(Role::Responder, "owning a postmortem")?;
    let Actor::User(me) = &ctx.actor else {
        return Err(Failure::Refused(
            "owning a postmortem needs a Tocsin user; link your account with /incident link".into(),
        ));
    };
    let postmortem = match ctx.core.postmortem_of(incident.id).await? {
        None => {
            ctx.core
                .create_postmortem(&ctx.actor, incident.id, Some(me.clone()))
                .await?
        }
        Some(p) if p.owner.as_ref() == Some(me) => {
            return Ok(Reply::ephemeral(format!(
                "You already own the postmortem of {}.",
                incident.reference()
            )));
        }
        Some(p) => match &p.owner {
            Some(other) => {
                return Err(Failure::Refused(format!(
                    "{other} owns the postmortem of {} already; take it over with /incident postmortem {} --owner @you",
                    incident.reference(),
                    incident.reference()
                )));
            }
            None => set_owner(ctx, &incident, me.clone()).await?,
        },
    };
    let link = url(ctx, &postmortem).await?;
    Ok(Reply::card(
        Audience::Channel,
        Message::text(format!(
            "{me} owns the postmortem of {} ({}). {link}",
            incident.reference(),
            postmortem.status
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str, time: &str) -> NaiveDateTime {
        NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .unwrap()
            .and_time(NaiveTime::parse_from_str(time, "%H:%M").unwrap())
    }

    #[test]
    fn create_show_and_owner() {
        assert_eq!(
            PostmortemCmd::parse("").unwrap(),
            PostmortemCmd {
                incident: None,
                what: What::CreateOrShow { owner: None }
            }
        );
        assert_eq!(
            PostmortemCmd::parse("INC-4 --owner <@U1>").unwrap(),
            PostmortemCmd {
                incident: Some(4),
                what: What::CreateOrShow {
                    owner: Some("<@U1>".into())
                }
            }
        );
        assert!(matches!(
            PostmortemCmd::parse("--owner"),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            PostmortemCmd::parse("--owner @a @b"),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            PostmortemCmd::parse("publish"),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn schedule_takes_a_date_a_time_and_a_duration() {
        assert_eq!(
            PostmortemCmd::parse("schedule 2026-11-30 15:00")
                .unwrap()
                .what,
            What::Schedule {
                at: at("2026-11-30", "15:00"),
                duration_minutes: 60
            }
        );
        assert_eq!(
            PostmortemCmd::parse("INC-2 SCHEDULE 2026-12-01 09:30 1h30m").unwrap(),
            PostmortemCmd {
                incident: Some(2),
                what: What::Schedule {
                    at: at("2026-12-01", "09:30"),
                    duration_minutes: 90
                }
            }
        );
        for (bad, says) in [
            ("schedule", "Usage"),
            ("schedule 2026-11-30", "Usage"),
            ("schedule 30/11/2026 15:00", "is not a date"),
            ("schedule 2026-02-30 15:00", "is not a date"),
            ("schedule 2026-11-30 25:00", "is not a time"),
            ("schedule 2026-11-30 15:00 soon", "is not a duration"),
            ("schedule 2026-11-30 15:00 90s", "is not a duration"),
            ("schedule 2026-11-30 15:00 1h extra", "Usage"),
        ] {
            match PostmortemCmd::parse(bad) {
                Err(Failure::Usage(u)) => assert!(
                    says == "Usage" || u.contains(says),
                    "{bad}: `{says}` not in {u}"
                ),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
