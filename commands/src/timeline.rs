//! `/incident timeline add [INC-n] <note>`: put a note in the incident's timeline.

use bot_core::model::Role;

use crate::{Ctx, Failure, Outcome, Reply, incident_ref};

#[derive(Debug, PartialEq)]
pub(crate) struct TimelineAdd {
    incident: Option<i64>,
    note: String,
}

impl TimelineAdd {
    pub const USAGE: &'static str = "/incident timeline add [INC-n] <note>";
    pub const SUMMARY: &'static str = "record a note in the incident's timeline";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let rest = args
            .strip_prefix("add")
            .ok_or_else(|| Failure::Usage(Self::USAGE.into()))?;
        let (incident, note) = incident_ref(rest);
        if note.is_empty() {
            return Err(Failure::Usage(Self::USAGE.into()));
        }
        Ok(TimelineAdd {
            incident,
            note: note.to_owned(),
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let incident = ctx.incident(self.incident, Self::USAGE).await?;
        ctx.require(Role::Responder, "adding to the timeline")?;
        ctx.core
            .add_note(&ctx.actor, incident.id, &self.note)
            .await?;
        Ok(Reply::ephemeral(format!(
            "Noted in the timeline of {}.",
            incident.reference()
        )))
    }
}
