//! `/incident resolve [INC-n] [note]`: close the incident; the note becomes its last update.

use bot_core::model::{IncidentChange, IncidentStatus, Role, Visibility};

use crate::{Audience, Ctx, Failure, Outcome, Reply, incident_ref};

#[derive(Debug, PartialEq)]
pub(crate) struct Resolve {
    incident: Option<i64>,
    by_id: Option<String>,
    note: Option<String>,
}

impl Resolve {
    pub const USAGE: &'static str = "/incident resolve [INC-n] [note]";
    pub const SUMMARY: &'static str = "resolve the incident, with an optional closing note";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let (incident, note) = incident_ref(args);
        let note = (!note.is_empty()).then(|| note.to_owned());
        Ok(Resolve {
            incident,
            by_id: None,
            note,
        })
    }

    pub fn for_incident(id: &str) -> Self {
        Resolve {
            incident: None,
            by_id: Some(id.to_owned()),
            note: None,
        }
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let incident = match &self.by_id {
            Some(id) => ctx.incident_by_id(id).await?,
            None => ctx.incident(self.incident, Self::USAGE).await?,
        };
        ctx.require(Role::Responder, "resolving an incident")?;
        let incident = ctx
            .core
            .change(
                &ctx.actor,
                incident.id,
                vec![IncidentChange::Status(IncidentStatus::Resolved)],
            )
            .await?;
        if let Some(note) = &self.note {
            ctx.core
                .post_update(&ctx.actor, incident.id, note, Visibility::Internal)
                .await?;
        }
        let duration = incident
            .resolved_at
            .map(|r| r - incident.declared_at)
            .unwrap_or_default();
        Ok(Reply::card(
            Audience::Channel,
            bot_core::chat::Message::text(format!(
                "{} resolved after {}h {:02}m.",
                incident.reference(),
                duration.num_hours(),
                duration.num_minutes() % 60
            )),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_and_incident_are_optional() {
        let r = Resolve::parse("INC-3 Rolled back").unwrap();
        assert_eq!(
            (r.incident, r.note.as_deref()),
            (Some(3), Some("Rolled back"))
        );
        let r = Resolve::parse("").unwrap();
        assert_eq!((r.incident, r.note), (None, None));
    }
}
