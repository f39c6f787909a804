//! `/incident run [INC-n] [<action> [args]]` and `/incident revert [INC-n] <owner/repo>
//! <pr|sha>`: run a configured action, after a confirmation button where the action asks
//! for one. Every request, allowed or refused, is in the audit log.

use bot_core::actions::{ActionKind, ActionSpec, RevertTarget, split_args};
use bot_core::chat::{Button, ButtonStyle, Field, Message, Tone};
use bot_core::model::ActionRunState;
use bot_core::runs::{RunRequest, describe};

use crate::{Audience, Ctx, Failure, Outcome, Reply, incident_ref};

#[derive(Debug, PartialEq)]
pub(crate) struct RunAction {
    incident: Option<i64>,
    /// None: list the actions this person may run.
    action: Option<String>,
    args: Vec<String>,
}

impl RunAction {
    pub const USAGE: &'static str = "/incident run [INC-n] [<action> [args…]]";
    pub const SUMMARY: &'static str =
        "run a configured diagnostic or remediation action; without one, list those you may run";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let (incident, rest) = incident_ref(args);
        let mut words = split_args(rest)
            .map_err(|why| Failure::Usage(format!("{}\n{why}.", Self::USAGE)))?
            .into_iter();
        Ok(RunAction {
            incident,
            action: words.next(),
            args: words.collect(),
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let Some(name) = self.action else {
            return Ok(list(ctx));
        };
        let spec = ctx.core.action(&name).cloned().ok_or_else(|| {
            Failure::Refused(format!(
                "there is no action `{name}`; /incident run lists those you may run"
            ))
        })?;
        if matches!(spec.kind, ActionKind::GithubRevert(_)) {
            return Err(Failure::Usage(Revert::USAGE.into()));
        }
        request(ctx, &spec, self.incident, &self.args).await
    }
}

#[derive(Debug, PartialEq)]
pub(crate) struct Revert {
    incident: Option<i64>,
    repo: String,
    target: String,
}

impl Revert {
    pub const USAGE: &'static str = "/incident revert [INC-n] <owner/repo> <pr-number|commit-sha>";
    pub const SUMMARY: &'static str =
        "open a pull request that reverts a merged pull request (or the one that merged a commit)";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let (incident, rest) = incident_ref(args);
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [repo, target] = words[..] else {
            return Err(Failure::Usage(Self::USAGE.into()));
        };
        let valid_repo = repo.split_once('/').is_some_and(|(o, r)| {
            let ok = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            };
            ok(o) && ok(r)
        });
        if !valid_repo {
            return Err(Failure::Usage(format!(
                "{}\n`{repo}` is not owner/repo.",
                Self::USAGE
            )));
        }
        if RevertTarget::parse(target).is_none() {
            return Err(Failure::Usage(format!(
                "{}\n`{target}` is neither a pull request number nor a commit sha.",
                Self::USAGE
            )));
        }
        Ok(Revert {
            incident,
            repo: repo.to_owned(),
            target: target.trim_start_matches('#').to_owned(),
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        let reverts: Vec<&ActionSpec> = ctx
            .core
            .settings
            .actions
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::GithubRevert(_)))
            .collect();
        if reverts.is_empty() {
            return Err(Failure::Refused(
                "reverts are not set up: add an action of kind github_revert to tocsin.toml".into(),
            ));
        }
        let spec = reverts
            .iter()
            .find(|a| match &a.kind {
                ActionKind::GithubRevert(r) => {
                    r.repos.is_empty() || r.repos.iter().any(|x| x.eq_ignore_ascii_case(&self.repo))
                }
                _ => false,
            })
            .copied()
            .cloned()
            .ok_or_else(|| Failure::Refused(format!("reverts are not allowed in {}", self.repo)))?;
        let args = vec![
            format!("repo={}", self.repo),
            format!("target={}", self.target),
        ];
        request(ctx, &spec, self.incident, &args).await
    }
}

/// Checks the role (a refusal is audited), binds the arguments, and records the run.
async fn request(
    ctx: &Ctx<'_>,
    spec: &ActionSpec,
    incident: Option<i64>,
    args: &[String],
) -> Outcome {
    let incident = match (incident, &ctx.here) {
        (Some(number), _) => Some(ctx.core.store.get_incident_by_number(number).await?.id),
        (None, Some(here)) => Some(here.id),
        (None, None) => None,
    };
    let mut req = RunRequest {
        action: spec.name.clone(),
        args: Default::default(),
        incident,
        actor: ctx.actor.clone(),
        actor_label: ctx.actor_label.clone(),
        platform: ctx.invocation.platform.clone(),
        channel: ctx.invocation.channel.clone(),
    };
    if let Err(refused) = ctx.require(spec.min_role, &format!("running {}", spec.name)) {
        let reason = match &refused {
            Failure::Refused(why) => why.clone(),
            _ => "refused".into(),
        };
        // The raw arguments, unvalidated, so the log shows what was attempted.
        req.args = args
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("arg{}", i + 1), a.clone()))
            .collect();
        ctx.core.refuse_action(&req, &reason).await?;
        return Err(refused);
    }
    req.args = spec
        .bind(args)
        .map_err(|why| Failure::Usage(format!("{}\n{why}.", usage(spec))))?;
    let run = ctx.core.request_action(spec, req).await?;
    if run.state == ActionRunState::AwaitingConfirmation {
        let id = run.id.to_string();
        return Ok(Reply::card(
            Audience::Channel,
            Message {
                title: Some(format!("Run {}?", spec.name)),
                tone: Some(Tone::Minor),
                fields: vec![
                    Field {
                        label: "Action".into(),
                        value: describe(&run.action, &run.args),
                    },
                    Field {
                        label: "Asked by".into(),
                        value: run.requested_by.clone(),
                    },
                ],
                text: vec![spec.description.clone()],
                buttons: vec![
                    Button {
                        action: "action_confirm".into(),
                        value: id.clone(),
                        label: "Confirm".into(),
                        style: ButtonStyle::Danger,
                    },
                    Button {
                        action: "action_cancel".into(),
                        value: id,
                        label: "Cancel".into(),
                        style: ButtonStyle::Default,
                    },
                ],
                context: Some(format!(
                    "needs someone with the {} role to confirm",
                    spec.min_role
                )),
            },
        ));
    }
    Ok(Reply::ephemeral(format!(
        "Running {}; the result will be posted here.",
        describe(&run.action, &run.args)
    )))
}

fn usage(spec: &ActionSpec) -> String {
    match spec.kind {
        ActionKind::GithubRevert(_) => Revert::USAGE.into(),
        _ => spec.usage(),
    }
}

/// The confirmation card's buttons.
pub(crate) async fn confirm(ctx: &Ctx<'_>, value: &str, yes: bool) -> Outcome {
    let id: uuid::Uuid = value
        .parse()
        .map_err(|_| Failure::Refused(format!("`{value}` is not an action run")))?;
    let run = ctx.core.store.get_action_run(id).await?;
    let spec = ctx.core.action(&run.action).cloned().ok_or_else(|| {
        Failure::Refused(format!("action `{}` is no longer configured", run.action))
    })?;
    let verb = if yes { "confirming" } else { "cancelling" };
    if let Err(refused) = ctx.require(spec.min_role, &format!("{verb} {}", spec.name)) {
        let req = RunRequest {
            action: run.action.clone(),
            args: serde_json::from_value(run.args.clone()).unwrap_or_default(),
            incident: run.incident_id,
            actor: ctx.actor.clone(),
            actor_label: ctx.actor_label.clone(),
            platform: ctx.invocation.platform.clone(),
            channel: ctx.invocation.channel.clone(),
        };
        let reason = match &refused {
            Failure::Refused(why) => why.clone(),
            _ => "refused".into(),
        };
        ctx.core.refuse_action(&req, &reason).await?;
        return Err(refused);
    }
    let said = describe(&run.action, &run.args);
    if yes {
        ctx.core.confirm_action(&ctx.actor_label, id).await?;
        Ok(Reply::card(
            Audience::Channel,
            Message::text(format!(
                "{said} confirmed by {}; running it.",
                ctx.actor_label
            )),
        ))
    } else {
        ctx.core.cancel_action(&ctx.actor_label, id).await?;
        Ok(Reply::card(
            Audience::Channel,
            Message::text(format!("{said} cancelled by {}.", ctx.actor_label)),
        ))
    }
}

/// The actions this person may run, with their usage.
fn list(ctx: &Ctx<'_>) -> Reply {
    let mine: Vec<&ActionSpec> = ctx
        .core
        .settings
        .actions
        .iter()
        .filter(|a| ctx.role >= a.min_role)
        .collect();
    if mine.is_empty() {
        let why = if ctx.core.settings.actions.is_empty() {
            "No actions are configured (see [[actions]] in tocsin.example.toml)."
        } else {
            "None of the configured actions is open to your role."
        };
        return Reply::ephemeral(why);
    }
    let mut text = String::from("Actions you may run:\n");
    for a in mine {
        let confirm = if a.confirm {
            " (asks for confirmation)"
        } else {
            ""
        };
        text.push_str(&format!(
            "  {}\n      {} [{}]{confirm}\n",
            usage(a),
            a.description,
            a.kind.name()
        ));
    }
    Reply::ephemeral(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_takes_an_optional_incident_an_action_and_quoted_args() {
        let r = RunAction::parse("INC-4 logs checkout \"last hour\"").unwrap();
        assert_eq!(r.incident, Some(4));
        assert_eq!(r.action.as_deref(), Some("logs"));
        assert_eq!(r.args, ["checkout", "last hour"]);
        assert_eq!(RunAction::parse("").unwrap().action, None);
        assert!(matches!(
            RunAction::parse("logs \"open"),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn revert_needs_a_repo_and_a_pr_or_sha() {
        let r = Revert::parse("octo/app #1347").unwrap();
        assert_eq!((r.repo.as_str(), r.target.as_str()), ("octo/app", "1347"));
        assert!(Revert::parse("INC-2 octo/app 6dcb09b").is_ok());
        for bad in [
            "",
            "octo/app",
            "octo 12",
            "octo/app main",
            "a/b/c 12",
            "octo/app 1 2",
        ] {
            assert!(
                matches!(Revert::parse(bad), Err(Failure::Usage(_))),
                "{bad}"
            );
        }
    }
}
