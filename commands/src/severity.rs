//! `/incident severity [INC-n] <sev1-4>`: raise or lower the incident's severity.

use bot_core::model::{IncidentChange, Role, Severity};

use crate::{Audience, Ctx, Failure, Outcome, Reply, incident_ref};

#[derive(Debug, PartialEq)]
pub(crate) struct SetSeverity {
    incident: Option<i64>,
    severity: Severity,
}

impl SetSeverity {
    pub const USAGE: &'static str = "/incident severity [INC-n] <sev1|sev2|sev3|sev4>";
    pub const SUMMARY: &'static str = "change the incident's severity";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let (incident, rest) = incident_ref(args);
        let severity = rest
            .parse()
            .map_err(|e| Failure::Usage(format!("{}\n{e}.", Self::USAGE)))?;
        Ok(SetSeverity { incident, severity })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let incident = ctx.incident(self.incident, Self::USAGE).await?;
        ctx.require(Role::Responder, "changing severity")?;
        let incident = ctx
            .core
            .change(
                &ctx.actor,
                incident.id,
                vec![IncidentChange::Severity(self.severity)],
            )
            .await?;
        Ok(Reply::card(
            Audience::Channel,
            bot_core::chat::Message::text(format!(
                "{} is now {}.",
                incident.reference(),
                incident.severity
            )),
        ))
    }
}
