//! The buttons of an alert card: Acknowledge, Escalate, Resolve, Declare incident.

use bot_core::model::{AlertId, AlertSeverity, Role, Severity};
use bot_core::ops::Declare;

use crate::{Audience, Ctx, Failure, Outcome, Reply};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlertButton {
    Acknowledge,
    Escalate,
    Resolve,
    Declare,
}

impl AlertButton {
    pub fn from_action(action: &str) -> Option<Self> {
        match action {
            "alert_ack" => Some(AlertButton::Acknowledge),
            "alert_escalate" => Some(AlertButton::Escalate),
            "alert_resolve" => Some(AlertButton::Resolve),
            "alert_declare" => Some(AlertButton::Declare),
            _ => None,
        }
    }

    pub async fn run(self, ctx: &Ctx<'_>, value: &str) -> Outcome {
        let id: AlertId = value
            .parse()
            .map_err(|_| Failure::Refused(format!("`{value}` is not an alert id")))?;
        match self {
            AlertButton::Acknowledge => {
                ctx.require(Role::Responder, "acknowledging an alert")?;
                let alert = ctx.core.acknowledge_alert(&ctx.actor, id).await?;
                Ok(Reply::ephemeral(format!("Acknowledged: {}", alert.summary)))
            }
            AlertButton::Resolve => {
                ctx.require(Role::Responder, "resolving an alert")?;
                let alert = ctx.core.resolve_alert(&ctx.actor, id).await?;
                Ok(Reply::ephemeral(format!("Resolved: {}", alert.summary)))
            }
            AlertButton::Escalate => {
                ctx.require(Role::Responder, "escalating an alert")?;
                let state = ctx.core.escalate_alert(&ctx.actor, id).await?;
                Ok(Reply::ephemeral(format!(
                    "Escalated to level {}.",
                    state.level + 1
                )))
            }
            AlertButton::Declare => {
                ctx.require(Role::Responder, "declaring an incident")?;
                let alert = ctx.core.store.get_alert(id).await?;
                let incident = ctx
                    .core
                    .declare(
                        &ctx.actor,
                        Declare {
                            title: alert.summary.clone(),
                            severity: incident_severity(alert.severity),
                            services: vec![alert.service.clone()],
                            commander: ctx.actor.user().cloned(),
                            alerts: vec![alert.id],
                            // Pressing it twice, or on two platforms, declares once.
                            idempotency_key: Some(format!("alert:{}", alert.id)),
                            description: None,
                        },
                    )
                    .await?;
                Ok(Reply::card(
                    Audience::Channel,
                    bot_core::chat::Message::text(format!(
                        "Declared {} ({}) from this alert; its channel #{} is being opened.",
                        incident.reference(),
                        incident.severity,
                        bot_core::effects::channel_name_with(
                            ctx.core.settings.channel_name(),
                            &incident
                        )
                    )),
                ))
            }
        }
    }
}

/// The incident severity an alert suggests; the commander can change it.
fn incident_severity(severity: AlertSeverity) -> Severity {
    match severity {
        AlertSeverity::Critical => Severity::Sev1,
        AlertSeverity::Error => Severity::Sev2,
        AlertSeverity::Warning => Severity::Sev3,
        AlertSeverity::Info => Severity::Sev4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_card_button_is_understood_and_nothing_else() {
        for action in [
            "alert_ack",
            "alert_escalate",
            "alert_resolve",
            "alert_declare",
        ] {
            assert!(AlertButton::from_action(action).is_some(), "{action}");
        }
        assert_eq!(AlertButton::from_action("ack"), None);
        assert_eq!(incident_severity(AlertSeverity::Critical), Severity::Sev1);
    }
}
