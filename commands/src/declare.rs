//! `/incident declare [sev1-4] <title>`: open an incident, its channel and its card.

use bot_core::model::Severity;
use bot_core::ops::Declare as DeclareRequest;

use crate::{Ctx, Failure, Outcome, Reply};

#[derive(Debug, PartialEq)]
pub(crate) struct Declare {
    pub severity: Severity,
    pub title: String,
}

impl Declare {
    pub const USAGE: &'static str = "/incident declare [sev1|sev2|sev3|sev4] <title>";
    pub const SUMMARY: &'static str = "declare an incident (default sev3); opens its channel";
    const DEFAULT_SEVERITY: Severity = Severity::Sev3;

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let (first, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        let (severity, title) = match first.parse::<Severity>() {
            Ok(severity) => (severity, rest.trim()),
            Err(_) if first.len() == 4 && first[..3].eq_ignore_ascii_case("sev") => {
                return Err(Failure::Usage(format!(
                    "{}\n`{first}` is not a severity: use sev1 (worst) to sev4.",
                    Self::USAGE
                )));
            }
            Err(_) => (Self::DEFAULT_SEVERITY, args.trim()),
        };
        if title.is_empty() {
            return Err(Failure::Usage(format!(
                "{}\nGive the incident a title.",
                Self::USAGE
            )));
        }
        Ok(Declare {
            severity,
            title: title.to_owned(),
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        ctx.require(bot_core::model::Role::Responder, "declaring an incident")?;
        let incident = ctx
            .core
            .declare(
                &ctx.actor,
                DeclareRequest {
                    title: self.title,
                    severity: self.severity,
                    services: Vec::new(),
                    commander: ctx.actor.user().cloned(),
                    alerts: Vec::new(),
                },
            )
            .await?;
        Ok(Reply::ephemeral(format!(
            "Declared {} ({}): {}. Its channel #{} is being opened; you are the commander until you hand over.",
            incident.reference(),
            incident.severity,
            incident.title,
            bot_core::effects::channel_name(&incident)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(r: Result<Declare, Failure>) -> String {
        match r {
            Err(Failure::Usage(u)) => u,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn severity_is_optional_and_defaults_to_sev3() {
        let d = Declare::parse("sev1 Checkout is failing").unwrap();
        assert_eq!(
            d,
            Declare {
                severity: Severity::Sev1,
                title: "Checkout is failing".into()
            }
        );
        let d = Declare::parse("Checkout slow").unwrap();
        assert_eq!(d.severity, Severity::Sev3);
        assert_eq!(d.title, "Checkout slow");
    }

    #[test]
    fn a_bad_severity_or_missing_title_explains_the_grammar() {
        assert!(usage(Declare::parse("sev9 Checkout")).contains("`sev9` is not a severity"));
        assert!(usage(Declare::parse("sev2")).contains("Give the incident a title"));
        assert!(usage(Declare::parse("")).starts_with(Declare::USAGE));
    }
}
