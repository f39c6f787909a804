//! `/incident ack [INC-n]` and `/incident escalate [INC-n]`: act on the incident's linked
//! alerts that are still open, from its channel, without hunting for their cards.

use bot_core::model::{AlertStatus, Role};

use crate::{Audience, Ctx, Failure, Outcome, Reply, incident_ref};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    Acknowledge,
    Escalate,
}

#[derive(Debug, PartialEq)]
pub(crate) struct OnAlerts {
    act: Act,
    incident: Option<i64>,
}

impl OnAlerts {
    pub const ACK_USAGE: &'static str = "/incident ack [INC-n]";
    pub const ACK_SUMMARY: &'static str =
        "acknowledge the incident's open alerts: their paging stops";
    pub const ESCALATE_USAGE: &'static str = "/incident escalate [INC-n]";
    pub const ESCALATE_SUMMARY: &'static str =
        "page the next escalation level of the incident's open alerts now";

    fn usage(act: Act) -> &'static str {
        match act {
            Act::Acknowledge => Self::ACK_USAGE,
            Act::Escalate => Self::ESCALATE_USAGE,
        }
    }

    pub fn parse(act: Act, args: &str) -> Result<Self, Failure> {
        match incident_ref(args) {
            (incident, "") => Ok(OnAlerts { act, incident }),
            _ => Err(Failure::Usage(Self::usage(act).into())),
        }
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let incident = ctx.incident(self.incident, Self::usage(self.act)).await?;
        let verb = match self.act {
            Act::Acknowledge => "acknowledging alerts",
            Act::Escalate => "escalating alerts",
        };
        ctx.require(Role::Responder, verb)?;
        let mut done = Vec::new();
        for id in &incident.alerts {
            let alert = ctx.core.store.get_alert(*id).await?;
            // Acknowledged alerts no longer page; resolved ones are done.
            if alert.status != AlertStatus::Open {
                continue;
            }
            match self.act {
                Act::Acknowledge => {
                    ctx.core.acknowledge_alert(&ctx.actor, alert.id).await?;
                }
                Act::Escalate => {
                    ctx.core.escalate_alert(&ctx.actor, alert.id).await?;
                }
            }
            done.push(alert.summary);
        }
        let did = match self.act {
            Act::Acknowledge => "Acknowledged",
            Act::Escalate => "Escalated",
        };
        let text = match done.as_slice() {
            [] => format!("{} has no open alerts.", incident.reference()),
            [one] => format!("{did} for {}: {one}", incident.reference()),
            many => format!("{did} {} alerts of {}.", many.len(), incident.reference()),
        };
        Ok(Reply::card(
            Audience::Channel,
            bot_core::chat::Message::text(text),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_an_optional_incident_and_nothing_else() {
        let ack = OnAlerts::parse(Act::Acknowledge, "").unwrap();
        assert_eq!(
            ack,
            OnAlerts {
                act: Act::Acknowledge,
                incident: None
            }
        );
        let esc = OnAlerts::parse(Act::Escalate, "42").unwrap();
        assert_eq!(
            esc,
            OnAlerts {
                act: Act::Escalate,
                incident: Some(42)
            }
        );
        assert_eq!(
            OnAlerts::parse(Act::Acknowledge, "INC-7").unwrap().incident,
            Some(7)
        );
        assert!(matches!(
            OnAlerts::parse(Act::Acknowledge, "everything"),
            Err(Failure::Usage(_))
        ));
    }
}
