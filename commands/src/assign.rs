//! `/incident assign commander|comms @user` and `/incident responders add @user`: roles.

use bot_core::model::{IncidentChange, Role, UserId};

use crate::{Audience, Ctx, Failure, Outcome, Reply, incident_ref};

#[derive(Debug, PartialEq, Clone, Copy)]
enum IncidentRole {
    Commander,
    Communications,
}

#[derive(Debug, PartialEq)]
pub(crate) struct Assign {
    incident: Option<i64>,
    role: IncidentRole,
    mention: String,
}

impl Assign {
    pub const USAGE: &'static str = "/incident assign [INC-n] commander|comms @user";
    pub const SUMMARY: &'static str = "hand the commander or communications role to someone";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let (incident, rest) = incident_ref(args);
        let mut words = rest.split_whitespace();
        let role = match words.next().map(str::to_ascii_lowercase).as_deref() {
            Some("commander" | "ic") => IncidentRole::Commander,
            Some("comms" | "communications") => IncidentRole::Communications,
            _ => return Err(Failure::Usage(Self::USAGE.into())),
        };
        let mention = match (words.next(), words.next()) {
            (Some(m), None) => m.to_owned(),
            _ => return Err(Failure::Usage(Self::USAGE.into())),
        };
        Ok(Assign {
            incident,
            role,
            mention,
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let incident = ctx.incident(self.incident, Self::USAGE).await?;
        ctx.require(Role::Commander, "assigning incident roles")?;
        let user = mentioned_user(ctx, &self.mention).await?;
        let change = match self.role {
            IncidentRole::Commander => IncidentChange::Commander(user.clone()),
            IncidentRole::Communications => IncidentChange::CommunicationsLead(user.clone()),
        };
        let incident = ctx
            .core
            .change(&ctx.actor, incident.id, vec![change])
            .await?;
        let role = match self.role {
            IncidentRole::Commander => "incident commander",
            IncidentRole::Communications => "communications lead",
        };
        Ok(Reply::card(
            Audience::Channel,
            bot_core::chat::Message::text(format!(
                "{user} is now {role} of {}.",
                incident.reference()
            )),
        ))
    }
}

#[derive(Debug, PartialEq)]
pub(crate) struct AddResponder {
    incident: Option<i64>,
    mention: String,
    /// `--page`: also send them a direct message with the incident.
    page: bool,
}

impl AddResponder {
    pub const USAGE: &'static str = "/incident responders add [INC-n] @user [--page]";
    pub const SUMMARY: &'static str =
        "add a responder: invited into the channel, and with --page sent the incident directly";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let rest = args
            .strip_prefix("add")
            .ok_or_else(|| Failure::Usage(Self::USAGE.into()))?;
        let (incident, rest) = incident_ref(rest);
        let (mention, page) = match rest.split_whitespace().collect::<Vec<_>>()[..] {
            [mention] => (mention, false),
            [mention, "--page"] | ["--page", mention] => (mention, true),
            _ => return Err(Failure::Usage(Self::USAGE.into())),
        };
        Ok(AddResponder {
            incident,
            mention: mention.to_owned(),
            page,
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let incident = ctx.incident(self.incident, Self::USAGE).await?;
        ctx.require(Role::Responder, "adding responders")?;
        let user = mentioned_user(ctx, &self.mention).await?;
        let incident = ctx
            .core
            .change(
                &ctx.actor,
                incident.id,
                vec![IncidentChange::AddResponder(user.clone())],
            )
            .await?;
        let mut said = format!("{user} joined {} as responder.", incident.reference());
        if self.page {
            ctx.core
                .page_responder(&ctx.actor, incident.id, &user)
                .await?;
            said.push_str(" They have been sent the incident directly.");
        }
        Ok(Reply::card(
            Audience::Channel,
            bot_core::chat::Message::text(said),
        ))
    }
}

/// The directory user a mention names: the platform's mention syntax (`@name`, `<@U123>`),
/// looked up as that platform's identity first, then as a Tocsin user id.
pub(crate) async fn mentioned_user(ctx: &Ctx<'_>, mention: &str) -> Result<UserId, Failure> {
    // `@name`, `<@U123>`, and Slack's escaped form `<@U123|name>`.
    let bare = mention
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim_start_matches('@')
        .trim_start_matches('!');
    let bare = bare.split_once('|').map_or(bare, |(id, _)| id);
    let store = &ctx.core.store;
    if let Some(user) = store
        .user_by_chat_identity(&ctx.invocation.platform, bare)
        .await?
    {
        return Ok(user.id);
    }
    match store.get_user(&UserId::from(bare)).await {
        Ok(user) => Ok(user.id),
        Err(bot_core::StoreError::NotFound(_)) => Err(Failure::Refused(format!(
            "no Tocsin user is known as {mention}"
        ))),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_needs_a_role_and_exactly_one_person() {
        let a = Assign::parse("commander @bob").unwrap();
        assert_eq!(
            (a.role, a.mention.as_str()),
            (IncidentRole::Commander, "@bob")
        );
        let a = Assign::parse("INC-2 comms <@U123>").unwrap();
        assert_eq!(
            (a.incident, a.role),
            (Some(2), IncidentRole::Communications)
        );
        assert!(matches!(
            Assign::parse("owner @bob"),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            Assign::parse("commander @bob @carol"),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn responders_add_takes_one_mention() {
        let r = AddResponder::parse("add @carol").unwrap();
        assert_eq!(r.mention, "@carol");
        assert!(matches!(
            AddResponder::parse("remove @carol"),
            Err(Failure::Usage(_))
        ));
    }
}
