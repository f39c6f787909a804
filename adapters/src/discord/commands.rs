//! The application commands Tocsin registers with Discord (`tocsin manifest discord`, a
//! bulk overwrite of `PUT /applications/{id}/commands`): `/incident` and `/oncall`, one
//! subcommand per verb of the chat grammar, each argument a typed option.
//!
//! Discord cannot take free text after a slash command, so the grammar's words become
//! options here and `inbound.rs` turns the options back into the grammar's text; both
//! sides use the names below. Descriptions are the help text people see while typing.

use serde_json::{Value, json};

/// Discord's application command option types used here.
pub(crate) const SUB_COMMAND: u64 = 1;
pub(crate) const SUB_COMMAND_GROUP: u64 = 2;
pub(crate) const STRING: u64 = 3;
pub(crate) const INTEGER: u64 = 4;
pub(crate) const BOOLEAN: u64 = 5;
pub(crate) const USER: u64 = 6;

/// The option that names an incident outside its channel (`INC-<n>` in the grammar).
pub(crate) const INCIDENT: &str = "incident";

const SEVERITIES: [&str; 4] = ["sev1", "sev2", "sev3", "sev4"];

fn option(kind: u64, name: &str, description: &str, required: bool) -> Value {
    json!({ "type": kind, "name": name, "description": description, "required": required })
}

fn string(name: &str, description: &str, required: bool) -> Value {
    option(STRING, name, description, required)
}

fn choices(name: &str, description: &str, required: bool, values: &[&str]) -> Value {
    let mut o = string(name, description, required);
    o["choices"] = values
        .iter()
        .map(|v| json!({ "name": v, "value": v }))
        .collect();
    o
}

fn incident() -> Value {
    let mut o = option(
        INTEGER,
        INCIDENT,
        "The incident's number (INC-n); leave out inside its channel",
        false,
    );
    o["min_value"] = 1.into();
    o
}

fn severity(required: bool) -> Value {
    choices("severity", "sev1 (worst) to sev4", required, &SEVERITIES)
}

fn subcommand(name: &str, description: &str, options: Vec<Value>) -> Value {
    json!({ "type": SUB_COMMAND, "name": name, "description": description, "options": options })
}

fn incident_command() -> Value {
    let subcommands = vec![
        subcommand(
            "declare",
            "Declare an incident (sev1 and sev2 page on-call); without a title, opens a form",
            vec![
                severity(false),
                string("title", "What is broken, in a line", false),
            ],
        ),
        subcommand(
            "status",
            "Show the incident's card: severity, status, roles",
            vec![incident()],
        ),
        subcommand(
            "list",
            "List open incidents",
            vec![option(
                BOOLEAN,
                "all",
                "The latest 20, resolved ones too",
                false,
            )],
        ),
        subcommand(
            "ack",
            "Acknowledge the incident's alerts: stops paging",
            vec![incident()],
        ),
        subcommand(
            "escalate",
            "Page the next escalation level now",
            vec![incident()],
        ),
        subcommand(
            "resolve",
            "Resolve the incident, with an optional closing note",
            vec![string("note", "A closing note", false), incident()],
        ),
        subcommand(
            "update",
            "Post a status update to the incident",
            vec![
                string("text", "What changed", true),
                option(BOOLEAN, "public", "Also on the public status page", false),
                incident(),
            ],
        ),
        subcommand(
            "severity",
            "Change the incident's severity",
            vec![severity(true), incident()],
        ),
        subcommand(
            "assign",
            "Hand the commander or communications role to someone",
            vec![
                choices("role", "Which role", true, &["commander", "comms"]),
                option(USER, "user", "Who takes it", true),
                incident(),
            ],
        ),
        subcommand(
            "responders",
            "Add a responder: invited into the channel",
            vec![
                option(USER, "user", "Who to add", true),
                option(
                    BOOLEAN,
                    "page",
                    "Also send them the incident directly",
                    false,
                ),
                incident(),
            ],
        ),
        subcommand(
            "timeline",
            "Record a note in the incident's timeline",
            vec![string("note", "The note", true), incident()],
        ),
        subcommand(
            "run",
            "Run a configured action; without one, list them",
            vec![
                string("action", "The action's name", false),
                string("args", "Its arguments, as you would type them", false),
                incident(),
            ],
        ),
        subcommand(
            "revert",
            "Revert a pull request or commit on GitHub",
            vec![
                string("repo", "owner/repo", true),
                string("target", "Pull request number or commit SHA", true),
                incident(),
            ],
        ),
        subcommand(
            "link",
            "Link your Discord account to your Tocsin user (a code), or, as an admin, someone's",
            vec![
                string(
                    "code",
                    "The code /incident link gave you on another platform",
                    false,
                ),
                option(USER, "member", "Admins: the member to link", false),
                string("user", "Admins: their Tocsin user id", false),
            ],
        ),
        subcommand("help", "Every Tocsin command", vec![]),
    ];
    json!({
        "type": 1,
        "name": "incident",
        "description": "Declare and run incidents",
        "options": subcommands,
    })
}

fn oncall_command() -> Value {
    json!({
        "type": 1,
        "name": "oncall",
        "description": "Who is on call, and taking a shift",
        "options": [
            subcommand(
                "show",
                "Who is on call now and next, per escalation level",
                vec![string("service", "A service id; all services when left out", false)],
            ),
            subcommand(
                "take",
                "Take the on-call shift yourself, or hand yours to someone, until then",
                vec![
                    string("until", "How long: 2h, for 30m, or until 18:00", true),
                    option(USER, "user", "Who takes it (you when left out)", false),
                    string("schedule", "Which schedule, when you are on several", false),
                ],
            ),
        ],
    })
}

/// The application commands, as a JSON array for a bulk overwrite.
pub fn definitions() -> Value {
    Value::Array(vec![incident_command(), oncall_command()])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Discord's limits on a command or option: a lowercase name of 1..=32 characters from
    /// its allowed set, a description of 1..=100, at most 25 options and choices, and
    /// required options before optional ones. Returns the problems found.
    pub(crate) fn limits(definition: &Value, path: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let name = definition["name"].as_str().unwrap_or_default();
        let path = format!("{path}/{name}");
        let ok_name = (1..=32).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok_name {
            problems.push(format!("{path}: bad name"));
        }
        let description = definition["description"].as_str().unwrap_or_default();
        if !(1..=100).contains(&description.chars().count()) {
            problems.push(format!("{path}: description must be 1..=100 characters"));
        }
        let options = definition["options"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if options.len() > 25 {
            problems.push(format!("{path}: more than 25 options"));
        }
        if definition["choices"]
            .as_array()
            .is_some_and(|c| c.len() > 25)
        {
            problems.push(format!("{path}: more than 25 choices"));
        }
        let mut optional_seen = false;
        for o in &options {
            let required = o["required"].as_bool().unwrap_or(false);
            if required && optional_seen {
                problems.push(format!("{path}: a required option after an optional one"));
            }
            optional_seen |= !required;
            problems.extend(limits(o, &path));
        }
        problems
    }

    #[test]
    fn every_definition_is_within_discords_limits() {
        let all = definitions();
        let problems: Vec<String> = all
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| limits(d, ""))
            .collect();
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn incident_has_a_subcommand_for_every_verb_of_the_grammar() {
        let all = definitions();
        let names: Vec<&str> = all[0]["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        for verb in [
            "declare",
            "status",
            "list",
            "ack",
            "escalate",
            "resolve",
            "update",
            "severity",
            "assign",
            "responders",
            "timeline",
            "run",
            "revert",
            "help",
        ] {
            assert!(names.contains(&verb), "{verb}");
        }
        assert_eq!(all[1]["name"], "oncall");
    }

    /// The shape of the docs' own definitions (the fixtures): command `type` 1 with
    /// `name`, `description` and `options`, subcommands as options of type 1.
    #[test]
    fn definitions_have_the_shape_of_discords_examples() {
        let dir = std::env::var("TOCSIN_FIXTURES").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures").to_owned()
        });
        let path = format!("{dir}/discord/interactions/command_definition_slash_blep.json");
        let blep: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(limits(&blep, "").is_empty());
        for d in definitions().as_array().unwrap() {
            for key in ["name", "type", "description", "options"] {
                assert!(d.get(key).is_some() && blep.get(key).is_some(), "{key}");
            }
            for sub in d["options"].as_array().unwrap() {
                assert_eq!(sub["type"], SUB_COMMAND);
            }
        }
    }
}
