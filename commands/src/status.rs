//! `/incident status [INC-n]`: the incident card, as it stands now.

use crate::{Audience, Ctx, Failure, Outcome, Reply, incident_ref};

#[derive(Debug, PartialEq)]
pub(crate) struct Status {
    incident: Target,
}

#[derive(Debug, PartialEq)]
enum Target {
    Number(Option<i64>),
    /// From a button, which carries the incident's id.
    Id(String),
}

impl Status {
    pub const USAGE: &'static str = "/incident status [INC-n]";
    pub const SUMMARY: &'static str = "show the incident's card: severity, status, roles";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        match incident_ref(args) {
            (number, "") => Ok(Status {
                incident: Target::Number(number),
            }),
            _ => Err(Failure::Usage(Self::USAGE.into())),
        }
    }

    pub fn for_incident(id: &str) -> Self {
        Status {
            incident: Target::Id(id.to_owned()),
        }
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let incident = match self.incident {
            Target::Number(n) => ctx.incident(n, Self::USAGE).await?,
            Target::Id(id) => ctx.incident_by_id(&id).await?,
        };
        let mut card = bot_core::effects::incident_card(&incident);
        if let Some(url) = ctx.core.huddle_url(&incident) {
            bot_core::effects::add_huddle_link(&mut card, &url);
        }
        let updates = ctx.core.store.status_updates(incident.id).await?;
        if let Some(last) = updates.last() {
            card.text.push(format!(
                "Last update ({}, {}): {}",
                last.author,
                last.posted_at.format("%H:%M UTC"),
                last.text
            ));
        }
        Ok(Reply::card(Audience::Ephemeral, card))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_an_optional_incident_and_nothing_else() {
        assert_eq!(Status::parse("").unwrap().incident, Target::Number(None));
        assert_eq!(
            Status::parse("INC-12").unwrap().incident,
            Target::Number(Some(12))
        );
        assert!(matches!(Status::parse("checkout"), Err(Failure::Usage(_))));
    }
}
