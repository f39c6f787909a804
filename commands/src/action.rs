//! `/incident action add [INC-n] <title> [--tracker github|jira] [--repo owner/repo |
//! --project KEY] [--assignee @user]`: add a postmortem action item, filed as a ticket.
//! `/incident action list [INC-n]`: the incident's items with their tickets.
//!
//! Options may come anywhere; every other word is the title. The ticket is filed by a job,
//! so the reply says where it is going, and `action list` shows its link once filed.

use bot_core::CoreError;
use bot_core::model::{ActionItem, ActionItemState, Role, TicketStatus, Tracker};
use bot_core::postmortem::action_items::{AddActionItem, target_of};

use crate::assign::mentioned_user;
use crate::{Audience, Ctx, Failure, Outcome, Reply, incident_ref};

#[derive(Debug, PartialEq)]
pub(crate) enum ActionCmd {
    Add {
        incident: Option<i64>,
        title: String,
        tracker: Option<Tracker>,
        repo: Option<String>,
        project: Option<String>,
        /// The mention as typed; resolved against the directory when run.
        assignee: Option<String>,
    },
    List {
        incident: Option<i64>,
    },
}

impl ActionCmd {
    pub const USAGE: &'static str = "/incident action add [INC-n] <title> [--tracker github|jira] [--repo owner/repo | --project KEY] [--assignee @user]";
    pub const SUMMARY: &'static str =
        "add a postmortem action item, filed as a GitHub or Jira issue (`action list` shows them)";

    pub fn parse(args: &str) -> Result<Self, Failure> {
        let usage = |why: &str| Failure::Usage(format!("{}\n{why}", Self::USAGE));
        let args = args.trim();
        let (verb, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        match verb.to_ascii_lowercase().as_str() {
            "add" => {}
            "list" | "ls" => {
                let (incident, rest) = incident_ref(rest);
                if !rest.is_empty() {
                    return Err(usage("`action list` takes only an incident (INC-n)."));
                }
                return Ok(ActionCmd::List { incident });
            }
            "" => return Err(usage("Say `add` and the action item's title.")),
            other => {
                return Err(usage(&format!(
                    "Unknown `action {other}`: use add or list."
                )));
            }
        }
        let (incident, rest) = incident_ref(rest);
        let (mut tracker, mut repo, mut project, mut assignee) = (None, None, None, None);
        let mut title = Vec::new();
        let mut words = rest.split_whitespace();
        while let Some(word) = words.next() {
            let mut value = |what: &str| {
                words
                    .next()
                    .map(str::to_owned)
                    .ok_or_else(|| usage(&format!("{word} needs {what}.")))
            };
            match word {
                "--tracker" => {
                    let name = value("github or jira")?;
                    tracker = Some(name.to_ascii_lowercase().parse::<Tracker>().map_err(|_| {
                        usage(&format!("`{name}` is not a tracker: use github or jira."))
                    })?);
                }
                "--repo" => repo = Some(value("a repository (owner/repo)")?),
                "--project" => project = Some(value("a Jira project key")?),
                "--assignee" => assignee = Some(value("a person")?),
                flag if flag.starts_with("--") => {
                    return Err(usage(&format!("Unknown option `{flag}`.")));
                }
                word => title.push(word),
            }
        }
        if title.is_empty() {
            return Err(usage("Give the action item a title."));
        }
        Ok(ActionCmd::Add {
            incident,
            title: title.join(" "),
            tracker,
            repo,
            project,
            assignee,
        })
    }

    pub async fn run(self, ctx: &Ctx<'_>) -> Outcome {
        match self {
            ActionCmd::Add {
                incident,
                title,
                tracker,
                repo,
                project,
                assignee,
            } => {
                ctx.require(Role::Responder, "adding an action item")?;
                let incident = ctx.incident(incident, Self::USAGE).await?;
                let (tracker, target) = target_of(tracker, repo, project)
                    .map_err(|e| Failure::Usage(format!("{}\n{}", Self::USAGE, e.message)))?;
                let assignee = match assignee {
                    Some(mention) => Some(mentioned_user(ctx, &mention).await?),
                    None => None,
                };
                let req = AddActionItem {
                    title,
                    tracker,
                    target,
                    assignee,
                };
                let item = match ctx.core.add_action_item(&ctx.actor, incident.id, req).await {
                    Ok(item) => item,
                    // Where it may be filed is a matter of usage: the reply names the
                    // configured trackers.
                    Err(CoreError::Invalid(i))
                        if matches!(i.field, "tracker" | "repo" | "project") =>
                    {
                        return Err(Failure::Usage(format!("{}\n{}", Self::USAGE, i.message)));
                    }
                    Err(e) => return Err(e.into()),
                };
                let whither = match (&item.tracker, &item.target) {
                    (Some(tracker), Some(target)) => format!(
                        "\nFiling it as a {} issue in {target}; `/incident action list` shows the link.",
                        tracker_name(*tracker)
                    ),
                    _ => "\nNo tracker is named or configured for it: it is kept in Tocsin."
                        .to_owned(),
                };
                Ok(Reply::card(
                    Audience::Channel,
                    bot_core::chat::Message::text(format!(
                        "Action item added to {} by {}: {}{}{whither}",
                        incident.reference(),
                        ctx.actor_label,
                        item.title,
                        item.assignee
                            .as_ref()
                            .map(|a| format!(" (assignee: {a})"))
                            .unwrap_or_default(),
                    )),
                ))
            }
            ActionCmd::List { incident } => {
                let incident = ctx.incident(incident, Self::USAGE).await?;
                let items = ctx.core.action_items_of(incident.id).await?;
                let text = if items.is_empty() {
                    format!("{} has no action items yet.", incident.reference())
                } else {
                    let mut text = format!("Action items of {}:", incident.reference());
                    for (i, item) in items.iter().enumerate() {
                        text.push_str(&format!("\n{}. {}", i + 1, line(item)));
                    }
                    text
                };
                Ok(Reply::card(
                    Audience::Ephemeral,
                    bot_core::chat::Message::text(text),
                ))
            }
        }
    }
}

fn tracker_name(tracker: Tracker) -> &'static str {
    match tracker {
        Tracker::Github => "GitHub",
        Tracker::Jira => "Jira",
    }
}

/// One item as the list shows it: title, state, and where its ticket stands.
fn line(item: &ActionItem) -> String {
    let state = match item.state {
        ActionItemState::Open => "open",
        ActionItemState::Done => "done",
    };
    let tracker = item.tracker.map(tracker_name).unwrap_or("Tocsin");
    let ticket = match item.ticket_status {
        TicketStatus::None => String::new(),
        TicketStatus::Pending => match &item.ticket_error {
            Some(error) => format!(" — {tracker} issue pending, retrying ({error})"),
            None => format!(" — {tracker} issue being filed"),
        },
        TicketStatus::Created => format!(
            " — {tracker} {} {}",
            item.ticket_key.as_deref().unwrap_or_default(),
            item.ticket_url.as_deref().unwrap_or_default()
        ),
        TicketStatus::Failed => format!(
            " — {tracker} refused the issue: {}",
            item.ticket_error.as_deref().unwrap_or("no reason given")
        ),
    };
    let assignee = item
        .assignee
        .as_ref()
        .map(|a| format!(" (assignee: {a})"))
        .unwrap_or_default();
    format!("[{state}] {}{assignee}{ticket}", item.title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_may_come_anywhere_and_the_rest_is_the_title() {
        let parsed =
            ActionCmd::parse("add INC-4 Add a --repo acme/api circuit breaker --assignee @bob")
                .unwrap();
        assert_eq!(
            parsed,
            ActionCmd::Add {
                incident: Some(4),
                title: "Add a circuit breaker".into(),
                tracker: None,
                repo: Some("acme/api".into()),
                project: None,
                assignee: Some("@bob".into()),
            }
        );
    }

    #[test]
    fn an_option_without_its_value_or_a_title_is_a_usage_reply() {
        for text in [
            "add --repo",
            "add",
            "add --tracker gitlab Fix",
            "add --frob x",
            "remove 1",
        ] {
            assert!(
                matches!(ActionCmd::parse(text), Err(Failure::Usage(_))),
                "{text}"
            );
        }
    }
}
