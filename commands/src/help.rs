//! `/incident help`: built from each command's own usage and summary, so it cannot drift
//! from the parser.

use crate::{Audience, Reply};
use crate::{
    action, alerts, assign, declare, link, list, oncall, postmortem, resolve, run, severity,
    status, statuspage, timeline, update,
};

/// Subcommands of the grammar that later releases implement, with what they wait for.
pub(crate) const LATER: &[(&str, &str)] = &[];

const COMMANDS: &[(&str, &str)] = &[
    (declare::Declare::USAGE, declare::Declare::SUMMARY),
    (update::Update::USAGE, update::Update::SUMMARY),
    (status::Status::USAGE, status::Status::SUMMARY),
    (resolve::Resolve::USAGE, resolve::Resolve::SUMMARY),
    (list::List::USAGE, list::List::SUMMARY),
    (severity::SetSeverity::USAGE, severity::SetSeverity::SUMMARY),
    (assign::Assign::USAGE, assign::Assign::SUMMARY),
    (assign::AddResponder::USAGE, assign::AddResponder::SUMMARY),
    (timeline::TimelineAdd::USAGE, timeline::TimelineAdd::SUMMARY),
    (run::RunAction::USAGE, run::RunAction::SUMMARY),
    (run::Revert::USAGE, run::Revert::SUMMARY),
    (alerts::OnAlerts::ACK_USAGE, alerts::OnAlerts::ACK_SUMMARY),
    (
        alerts::OnAlerts::ESCALATE_USAGE,
        alerts::OnAlerts::ESCALATE_SUMMARY,
    ),
    (oncall::OnCall::USAGE, oncall::OnCall::SUMMARY),
    (oncall::OnCall::TAKE_USAGE, oncall::OnCall::TAKE_SUMMARY),
    (link::Link::USAGE, link::Link::SUMMARY),
    (
        statuspage::StatusPage::USAGE,
        statuspage::StatusPage::SUMMARY,
    ),
    (
        statuspage::StatusPage::SUBSCRIBE_USAGE,
        statuspage::StatusPage::SUBSCRIBE_SUMMARY,
    ),
    (
        postmortem::PostmortemCmd::USAGE,
        postmortem::PostmortemCmd::SUMMARY,
    ),
    (action::ActionCmd::USAGE, action::ActionCmd::SUMMARY),
];

/// The help text, one command a line.
pub fn help_text() -> String {
    let mut out =
        String::from("Tocsin commands (inside an incident channel, INC-n may be left out):\n");
    for (usage, summary) in COMMANDS {
        out.push_str(&format!("  {usage}\n      {summary}\n"));
    }
    out
}

pub(crate) fn run() -> Reply {
    Reply::card(
        Audience::Ephemeral,
        bot_core::chat::Message::text(help_text()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_command_usage() {
        let help = help_text();
        for (usage, _) in COMMANDS {
            assert!(help.contains(usage), "{usage} missing from help");
        }
        assert!(help.contains("/incident declare [sev1|sev2|sev3|sev4]"));
    }
}
