//! The whole chat grammar in one table: every command of DESIGN.md's "Public surface" with
//! what it parses to, and its error cases with what the person is told. Parsing is pure, so
//! this needs no store.

use crate::oncall::OnCall;
use crate::{Failure, parse_incident};

/// `Ok(<Debug of the parsed command>)`, or `Err("usage: …" | "refused: …")`.
fn show(command: &str, text: &str) -> Result<String, String> {
    let parsed = match command {
        "incident" => parse_incident(text).map(|c| format!("{c:?}")),
        "oncall" => OnCall::parse(text).map(|c| format!("{c:?}")),
        other => panic!("no /{other} in the grammar"),
    };
    parsed.map_err(|f| match f {
        Failure::Usage(u) => format!("usage: {u}"),
        Failure::Refused(r) => format!("refused: {r}"),
        other => format!("{other:?}"),
    })
}

/// Input, and what the parsed command's Debug must contain (all of the parts).
const ACCEPTED: &[(&str, &str, &[&str])] = &[
    ("incident", "", &["Help"]),
    ("incident", "help", &["Help"]),
    ("incident", "declare", &["DeclareDialog"]),
    (
        "incident",
        "declare Checkout is failing",
        &[
            "Declare(",
            "severity: Sev3",
            "title: \"Checkout is failing\"",
        ],
    ),
    (
        "incident",
        "declare sev1 Checkout is failing",
        &["severity: Sev1", "title: \"Checkout is failing\""],
    ),
    (
        "incident",
        "DECLARE SEV2 DB slow",
        &["severity: Sev2", "title: \"DB slow\""],
    ),
    (
        "incident",
        "declare sev2 --service checkout --commander @bob DB slow",
        &["services: [\"checkout\"]", "commander: Some(\"@bob\")"],
    ),
    (
        "incident",
        "ack",
        &["Alerts(", "act: Acknowledge", "incident: None"],
    ),
    (
        "incident",
        "ack INC-7",
        &["act: Acknowledge", "incident: Some(7)"],
    ),
    ("incident", "ack 7", &["incident: Some(7)"]),
    ("incident", "link", &["Link(Start)"]),
    (
        "incident",
        "link k7q2-m9xd",
        &["Link(Redeem(\"K7Q2M9XD\"))"],
    ),
    (
        "incident",
        "link <@80351110224678912> carla",
        &["Admin", "member: \"80351110224678912\"", "user: \"carla\""],
    ),
    ("incident", "escalate", &["act: Escalate", "incident: None"]),
    (
        "incident",
        "escalate inc-3",
        &["act: Escalate", "incident: Some(3)"],
    ),
    (
        "incident",
        "resolve",
        &["Resolve(", "incident: None", "note: None"],
    ),
    (
        "incident",
        "resolve INC-2 rolled back",
        &["incident: Some(2)", "note: Some(\"rolled back\")"],
    ),
    (
        "incident",
        "update db is back",
        &["Update(", "visibility: Internal", "text: \"db is back\""],
    ),
    (
        "incident",
        "update --public We are investigating",
        &["visibility: Public", "text: \"We are investigating\""],
    ),
    (
        "incident",
        "update INC-4 --public fixed",
        &["incident: Some(4)", "visibility: Public"],
    ),
    ("incident", "status", &["Status(", "Number(None)"]),
    ("incident", "status 42", &["Status(", "42"]),
    ("incident", "list", &["List("]),
    ("incident", "severity sev1", &["Severity(", "Sev1"]),
    ("incident", "severity INC-9 sev4", &["Some(9)", "Sev4"]),
    (
        "incident",
        "assign commander @bob",
        &["Assign(", "Commander", "\"@bob\""],
    ),
    (
        "incident",
        "assign comms <@U123>",
        &["Communications", "\"<@U123>\""],
    ),
    (
        "incident",
        "responders add @carla",
        &["Responders(", "\"@carla\""],
    ),
    (
        "incident",
        "responders add @carla --page",
        &["\"@carla\"", "page: true"],
    ),
    (
        "incident",
        "timeline add Rolled back deploy 42",
        &["Timeline(", "note: \"Rolled back deploy 42\""],
    ),
    ("incident", "run", &["Run(", "action: None"]),
    (
        "incident",
        "run resolve-host db1.internal",
        &["action: Some(\"resolve-host\")", "args: [\"db1.internal\"]"],
    ),
    (
        "incident",
        "run INC-3 logs \"last hour\" lines=50",
        &["incident: Some(3)", "args: [\"last hour\", \"lines=50\"]"],
    ),
    (
        "incident",
        "revert acme/checkout 1347",
        &["Revert(", "repo: \"acme/checkout\"", "target: \"1347\""],
    ),
    (
        "incident",
        "revert acme/checkout #1347",
        &["target: \"1347\""],
    ),
    (
        "incident",
        "revert INC-5 acme/checkout 6dcb09b5b5",
        &["incident: Some(5)", "target: \"6dcb09b5b5\""],
    ),
    (
        "incident",
        "postmortem",
        &["Postmortem(", "CreateOrShow { owner: None }"],
    ),
    (
        "incident",
        "postmortem INC-3 --owner @bob",
        &["incident: Some(3)", "owner: Some(\"@bob\")"],
    ),
    (
        "incident",
        "postmortem schedule 2026-11-30 15:00 30m",
        &["Schedule", "2026-11-30T15:00:00", "duration_minutes: 30"],
    ),
    (
        "incident",
        "action add INC-2 Add a circuit breaker --repo acme/api --assignee @bob",
        &[
            "Action(Add",
            "incident: Some(2)",
            "title: \"Add a circuit breaker\"",
            "repo: Some(\"acme/api\")",
            "assignee: Some(\"@bob\")",
        ],
    ),
    (
        "incident",
        "action add --tracker jira --project OPS Write the runbook",
        &[
            "tracker: Some(Jira)",
            "project: Some(\"OPS\")",
            "title: \"Write the runbook\"",
        ],
    ),
    (
        "incident",
        "action list INC-2",
        &["Action(List", "incident: Some(2)"],
    ),
    ("oncall", "", &["Show", "service: None"]),
    ("oncall", "checkout", &["Show", "Some(\"checkout\")"]),
    ("oncall", "take for 2h", &["Take", "to: None", "For("]),
    (
        "oncall",
        "take @bob until 18:00",
        &["Take", "Some(\"@bob\")", "At(18:00:00)"],
    ),
    (
        "oncall",
        "take @bob checkout-primary for 30m",
        &["Some(\"checkout-primary\")"],
    ),
];

/// Input, and what the reply must contain.
const REFUSED: &[(&str, &str, &str)] = &[
    ("incident", "declare sev2", "usage: /incident declare"),
    (
        "incident",
        "declare sev9 Checkout",
        "`sev9` is not a severity",
    ),
    (
        "incident",
        "declare --service",
        "--service needs a service id",
    ),
    ("incident", "declare --team x y", "Unknown option `--team`"),
    ("incident", "update", "usage: /incident update"),
    ("incident", "update --public", "Say what changed"),
    ("incident", "severity", "usage: /incident severity"),
    ("incident", "severity sev7", "usage: /incident severity"),
    ("incident", "assign", "usage: /incident assign"),
    ("incident", "assign owner @bob", "usage: /incident assign"),
    (
        "incident",
        "assign commander @bob @carla",
        "usage: /incident assign",
    ),
    (
        "incident",
        "responders remove @bob",
        "usage: /incident responders",
    ),
    ("incident", "responders add", "usage: /incident responders"),
    (
        "incident",
        "responders add @a @b",
        "usage: /incident responders",
    ),
    ("incident", "timeline", "usage: /incident timeline add"),
    ("incident", "timeline add", "usage: /incident timeline add"),
    ("incident", "ack everything", "usage: /incident ack"),
    ("incident", "link 0000", "usage: /incident link"),
    ("incident", "link @a b c", "usage: /incident link"),
    (
        "incident",
        "escalate now please",
        "usage: /incident escalate",
    ),
    ("incident", "status checkout", "usage: /incident status"),
    ("incident", "list everything", "usage: /incident list"),
    ("incident", "run logs \"unclosed", "a quote is not closed"),
    ("incident", "revert", "usage: /incident revert"),
    (
        "incident",
        "revert acme/checkout",
        "usage: /incident revert",
    ),
    (
        "incident",
        "revert acme/checkout main",
        "is neither a pull request number nor a commit sha",
    ),
    ("incident", "revert acme 12", "`acme` is not owner/repo"),
    (
        "incident",
        "statuspage api",
        "usage: /incident statuspage [INC-n] <component> <state>",
    ),
    (
        "incident",
        "postmortem --owner",
        "usage: /incident postmortem",
    ),
    (
        "incident",
        "postmortem schedule 2026-13-01 10:00",
        "is not a date (YYYY-MM-DD",
    ),
    (
        "incident",
        "postmortem schedule 2026-11-30 10:00 forever",
        "is not a duration",
    ),
    ("incident", "action add", "Give the action item a title"),
    (
        "incident",
        "action add Fix --repo",
        "--repo needs a repository",
    ),
    (
        "incident",
        "action add --tracker gitlab Fix it",
        "`gitlab` is not a tracker",
    ),
    ("incident", "action close 3", "usage: /incident action add"),
    (
        "incident",
        "frobnicate",
        "refused: unknown subcommand `frobnicate`",
    ),
    ("oncall", "take", "usage: /oncall take"),
    ("oncall", "take for ever", "usage: /oncall take"),
    ("oncall", "take until 25:00", "usage: /oncall take"),
];

#[test]
fn every_command_of_the_grammar_parses() {
    let mut failures = Vec::new();
    for (command, text, parts) in ACCEPTED {
        match show(command, text) {
            Ok(debug) => {
                for part in *parts {
                    if !debug.contains(part) {
                        failures.push(format!("/{command} {text}: `{part}` not in {debug}"));
                    }
                }
            }
            Err(e) => failures.push(format!("/{command} {text}: refused: {e}")),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_error_case_says_what_is_wrong() {
    let mut failures = Vec::new();
    for (command, text, expected) in REFUSED {
        match show(command, text) {
            Ok(debug) => failures.push(format!("/{command} {text}: accepted as {debug}")),
            Err(e) if !e.contains(expected) => {
                failures.push(format!("/{command} {text}: `{expected}` not in `{e}`"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn help_names_every_verb_the_parser_knows() {
    let help = crate::help_text();
    for verb in [
        "declare",
        "ack",
        "escalate",
        "resolve",
        "update",
        "status",
        "list",
        "severity",
        "assign",
        "responders",
        "timeline add",
        "run",
        "revert",
        "/oncall",
        "/oncall take",
    ] {
        assert!(help.contains(verb), "help lacks {verb}");
    }
}
