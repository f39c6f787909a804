//! `/incident update [INC-n] [--public] <text>`: a status update for the team; with
//! `--public` also a public update on the status page, whose public incident is opened on
//! first use.

use bot_core::model::{Role, Visibility};

use crate::{Audience, Ctx, Failure, Outcome, Reply, incident_ref};

#[derive(Debug, PartialEq)]
pub(crate) struct Update {
    pub incident: Option<i64>,
    pub visibility: Visibility,
    pub text: String,
}

impl Update {
    pub const USAGE: &'static str = "/incident update [INC-n] [--public] <text>";
    pub const SUMMARY: &'static str = "post a status update to the incident";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let (incident, rest) = incident_ref(args);
        let (visibility, text) = match rest.strip_prefix("--public") {
            Some(text) => (Visibility::Public, text.trim()),
            None => (Visibility::Internal, rest),
        };
        if text.is_empty() {
            return Err(Failure::Usage(format!(
                "{}\nSay what changed.",
                Self::USAGE
            )));
        }
        Ok(Update {
            incident,
            visibility,
            text: text.to_owned(),
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let incident = ctx.incident(self.incident, Self::USAGE).await?;
        ctx.require(Role::Responder, "posting an update")?;
        // The status page first: a public incident that is over refuses before anything
        // is written.
        let public = match self.visibility {
            Visibility::Public => Some(
                crate::statuspage::public_update(ctx, &incident, &self.text, Vec::new()).await?,
            ),
            Visibility::Internal => None,
        };
        let update = ctx
            .core
            .post_update(&ctx.actor, incident.id, &self.text, self.visibility)
            .await?;
        if let Some(public) = public {
            return Ok(public);
        }
        Ok(Reply::card(
            Audience::Ephemeral,
            bot_core::chat::Message::text(format!(
                "{} update posted to {}.",
                update.visibility,
                incident.reference()
            )),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_incident_reference_and_public_flag() {
        let u = Update::parse("INC-4 --public Fix deployed, monitoring").unwrap();
        assert_eq!(u.incident, Some(4));
        assert_eq!(u.visibility, Visibility::Public);
        assert_eq!(u.text, "Fix deployed, monitoring");
        let u = Update::parse("Rolled back the deploy").unwrap();
        assert_eq!((u.incident, u.visibility), (None, Visibility::Internal));
        assert!(matches!(Update::parse("inc-4"), Err(Failure::Usage(_))));
        // A leading number is text, not an incident, when more follows.
        let u = Update::parse("42 servers are down").unwrap();
        assert_eq!((u.incident, u.text.as_str()), (None, "42 servers are down"));
    }
}
