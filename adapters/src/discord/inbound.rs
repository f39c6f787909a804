//! What Discord posts to `/discord/interactions`, as [`Invocation`]s: application commands
//! (`/incident declare severity:sev1 title:…` back into the grammar's text), button presses
//! (`custom_id` = `action:value`) and modal submissions. Pure functions over bodies whose
//! signature the route has already checked (`verify.rs`); no HTTP framework, no REST calls.
//!
//! Only the fields Tocsin uses are read, so new fields Discord adds change nothing. A body
//! that is not JSON, lacks a field Tocsin needs, or has an interaction type Tocsin does not
//! know is an [`InboundError`] (the route answers 400).

use commands::{Input, Invocation};
use serde::Deserialize;
use serde_json::Value;

use super::commands::{BOOLEAN, INCIDENT, SUB_COMMAND, SUB_COMMAND_GROUP, USER};
use super::{PLATFORM, render};

/// Interaction types (Discord's numbering).
const PING: u64 = 1;
const APPLICATION_COMMAND: u64 = 2;
const MESSAGE_COMPONENT: u64 = 3;
const AUTOCOMPLETE: u64 = 4;
const MODAL_SUBMIT: u64 = 5;

/// Why a body is not an interaction Tocsin understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("the interaction has no {0}")]
    Missing(&'static str),
    #[error("unknown interaction type {0}")]
    UnknownType(u64),
}

/// An interaction, by what the route does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// Discord checking the endpoint: answered with a PONG.
    Ping,
    /// Autocomplete for an option; Tocsin's options have none, so no suggestions.
    Autocomplete,
    /// A command, button or modal submission to run.
    Request(Box<Request>),
}

/// What a person did, and how to answer it later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: Kind,
    /// `delivery` is the interaction id; `groups` the member's role ids.
    pub invocation: Invocation,
    /// The interaction token: follow-ups for fifteen minutes.
    pub token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Command,
    Component,
    ModalSubmit,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "type")]
    kind: u64,
    id: Option<String>,
    token: Option<String>,
    member: Option<Member>,
    user: Option<User>,
    channel_id: Option<String>,
    channel: Option<Channel>,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct Member {
    user: Option<User>,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
}

#[derive(Deserialize)]
struct Channel {
    id: String,
}

/// One option of a command as Discord sends it.
#[derive(Deserialize)]
struct CommandOption {
    name: String,
    #[serde(rename = "type")]
    kind: u64,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    options: Vec<CommandOption>,
}

/// Parses an interaction's JSON body.
pub fn interaction(body: &[u8]) -> Result<Interaction, InboundError> {
    let body: Body = serde_json::from_slice(body).map_err(|e| InboundError::Json(e.to_string()))?;
    let kind = match body.kind {
        PING => return Ok(Interaction::Ping),
        AUTOCOMPLETE => return Ok(Interaction::Autocomplete),
        APPLICATION_COMMAND => Kind::Command,
        MESSAGE_COMPONENT => Kind::Component,
        MODAL_SUBMIT => Kind::ModalSubmit,
        other => return Err(InboundError::UnknownType(other)),
    };
    let id = body.id.ok_or(InboundError::Missing("id"))?;
    let token = body.token.ok_or(InboundError::Missing("token"))?;
    let (user, groups) = match (body.member, body.user) {
        // In a server: `member`, with the member's roles.
        (
            Some(Member {
                user: Some(user),
                roles,
            }),
            _,
        ) => (user.id, roles),
        // In a DM: `user`, and no roles.
        (_, Some(user)) => (user.id, Vec::new()),
        _ => return Err(InboundError::Missing("member.user or user")),
    };
    let channel = body
        .channel_id
        .or(body.channel.map(|c| c.id))
        .ok_or(InboundError::Missing("channel_id"))?;
    let data = &body.data;
    let input = match kind {
        Kind::Command => command_input(data)?,
        Kind::Component => {
            let custom_id = data["custom_id"]
                .as_str()
                .ok_or(InboundError::Missing("data.custom_id"))?;
            // Components Tocsin did not render (no `action:value`) still reach the
            // commands, which answer that they do not know them.
            let (action, value) = render::parse_custom_id(custom_id)
                .unwrap_or_else(|| (custom_id.to_owned(), String::new()));
            Input::Button { action, value }
        }
        Kind::ModalSubmit => Input::DialogSubmit {
            dialog: data["custom_id"]
                .as_str()
                .ok_or(InboundError::Missing("data.custom_id"))?
                .to_owned(),
            fields: render::modal_values(data),
        },
    };
    Ok(Interaction::Request(Box::new(Request {
        kind,
        invocation: Invocation {
            platform: PLATFORM.into(),
            user,
            channel,
            input,
            delivery: Some(id),
            groups,
        },
        token,
    })))
}

/// An application command's options as the grammar's text: `Slash { command, text }`.
fn command_input(data: &Value) -> Result<Input, InboundError> {
    let command = data["name"]
        .as_str()
        .ok_or(InboundError::Missing("data.name"))?
        .to_owned();
    let options: Vec<CommandOption> = match data.get("options") {
        Some(options) => serde_json::from_value(options.clone())
            .map_err(|e| InboundError::Json(format!("data.options: {e}")))?,
        None => Vec::new(),
    };
    let text = grammar_text(&command, options);
    Ok(Input::Slash { command, text })
}

/// An option's value as a word of the grammar: users as mentions (`<@id>`), the rest as
/// their text. None for an option left empty.
fn word(option: &CommandOption) -> Option<String> {
    let text = match &option.value {
        Value::String(s) => s.trim().to_owned(),
        Value::Null => return None,
        other => other.to_string(),
    };
    if text.is_empty() {
        return None;
    }
    Some(match option.kind {
        USER => format!("<@{text}>"),
        _ => text,
    })
}

/// The text the grammar expects after `/command` for a subcommand and its options.
fn grammar_text(command: &str, mut options: Vec<CommandOption>) -> String {
    // A subcommand (in a group: the group's name, then the subcommand's) comes first.
    let mut path = Vec::new();
    while let [only] = options.as_slice()
        && matches!(only.kind, SUB_COMMAND | SUB_COMMAND_GROUP)
    {
        let sub = options.remove(0);
        path.push(sub.name);
        options = sub.options;
    }
    let get = |name: &str| options.iter().find(|o| o.name == name).and_then(word);
    let flag = |name: &str, text: &str| {
        options
            .iter()
            .any(|o| o.name == name && o.kind == BOOLEAN && o.value == Value::Bool(true))
            .then(|| text.to_owned())
    };
    let incident = get(INCIDENT).map(|n| format!("INC-{n}"));
    let sub = path.first().map(String::as_str).unwrap_or_default();
    let words: Vec<Option<String>> = match (command, sub) {
        // Without a title the form opens, with its own severity field.
        ("incident", "declare") => match get("title") {
            Some(title) => vec![Some("declare".into()), get("severity"), Some(title)],
            None => vec![Some("declare".into())],
        },
        ("incident", "list") => vec![Some("list".into()), flag("all", "all")],
        ("incident", "update") => vec![
            Some("update".into()),
            incident,
            flag("public", "--public"),
            get("text"),
        ],
        ("incident", "assign") => vec![Some("assign".into()), incident, get("role"), get("user")],
        ("incident", "responders") => vec![
            Some("responders add".into()),
            incident,
            get("user"),
            flag("page", "--page"),
        ],
        ("incident", "timeline") => vec![Some("timeline add".into()), incident, get("note")],
        ("incident", "link") => vec![Some("link".into()), get("code"), get("member"), get("user")],
        ("oncall", "show") => vec![get("service")],
        ("oncall", "take") => vec![
            Some("take".into()),
            get("user"),
            get("schedule"),
            get("until").map(|u| until_phrase(&u)),
        ],
        // `status`, `ack`, `escalate`, `resolve`, `severity`, `run`, `revert`, `help`, and
        // whatever else: the subcommand, the incident, then each option in order.
        _ => path
            .iter()
            .cloned()
            .map(Some)
            .chain([incident])
            .chain(
                options
                    .iter()
                    .filter(|o| o.name != INCIDENT && o.kind != BOOLEAN)
                    .map(word),
            )
            .collect(),
    };
    words.into_iter().flatten().collect::<Vec<_>>().join(" ")
}

/// `/oncall take until:` as the grammar says it: `2h` is `for 2h`, `18:00` is `until 18:00`,
/// and text already saying `for …` or `until …` stays.
fn until_phrase(until: &str) -> String {
    let until = until.trim();
    if until.starts_with("for ") || until.starts_with("until ") {
        until.to_owned()
    } else if until.contains(':') {
        format!("until {until}")
    } else {
        format!("for {until}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let dir = std::env::var("TOCSIN_FIXTURES").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures").to_owned()
        });
        let path = format!("{dir}/discord/interactions/{name}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    /// The docs' subcommand interaction with `data` replaced by `/command sub options`.
    fn command(command: &str, sub: &str, options: Value) -> Value {
        let mut body = fixture("application_command_subcommand_string_option.json");
        body["data"] = json!({
            "type": 1, "name": command, "id": "1",
            "options": [{ "type": 1, "name": sub, "options": options }],
        });
        body
    }

    fn text_of(body: &Value) -> String {
        match interaction(body.to_string().as_bytes()).unwrap() {
            Interaction::Request(r) => match r.invocation.input {
                Input::Slash { text, .. } => text,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    fn s(name: &str, value: &str) -> Value {
        json!({ "type": 3, "name": name, "value": value })
    }

    #[test]
    fn a_guild_command_reads_member_roles_channel_and_id() {
        let body = fixture("application_command_subcommand_string_option.json");
        let Interaction::Request(r) = interaction(body.to_string().as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(r.kind, Kind::Command);
        assert_eq!(r.token, "A_UNIQUE_TOKEN");
        let i = r.invocation;
        assert_eq!(
            (i.platform.as_str(), i.user.as_str(), i.channel.as_str()),
            ("discord", "53908232506183680", "645027906669510667")
        );
        assert_eq!(i.delivery.as_deref(), Some("786008729715212338"));
        assert_eq!(i.groups, vec!["539082325061836999".to_owned()]);
        assert_eq!(
            i.input,
            Input::Slash {
                command: "cards".into(),
                text: "search The Gitrog Monster".into()
            }
        );
    }

    #[test]
    fn a_dm_reads_user_and_pings_and_autocomplete_need_nothing_else() {
        let mut body = command("incident", "status", json!([]));
        body.as_object_mut().unwrap().remove("member");
        body["user"] = json!({ "id": "42" });
        let Interaction::Request(r) = interaction(body.to_string().as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(
            (r.invocation.user.as_str(), r.invocation.groups.len()),
            ("42", 0)
        );
        assert_eq!(interaction(br#"{"type":1}"#), Ok(Interaction::Ping));
        let partial = fixture("application_command_autocomplete_partial.json");
        assert_eq!(
            interaction(partial.to_string().as_bytes()),
            Ok(Interaction::Autocomplete)
        );
    }

    #[test]
    fn every_subcommand_becomes_the_grammars_text() {
        let user = |name: &str, id: &str| json!({ "type": 6, "name": name, "value": id });
        let b = |name: &str, v: bool| json!({ "type": 5, "name": name, "value": v });
        let inc = json!({ "type": 4, "name": "incident", "value": 7 });
        let cases = [
            (
                command(
                    "incident",
                    "declare",
                    json!([s("severity", "sev1"), s("title", "Checkout down")]),
                ),
                "declare sev1 Checkout down",
            ),
            (
                command("incident", "declare", json!([s("title", "Checkout down")])),
                "declare Checkout down",
            ),
            (
                command("incident", "declare", json!([s("severity", "sev2")])),
                "declare",
            ),
            (command("incident", "status", json!([])), "status"),
            (command("incident", "status", json!([inc])), "status INC-7"),
            (
                command("incident", "list", json!([b("all", true)])),
                "list all",
            ),
            (
                command("incident", "list", json!([b("all", false)])),
                "list",
            ),
            (command("incident", "ack", json!([])), "ack"),
            (
                command("incident", "escalate", json!([inc])),
                "escalate INC-7",
            ),
            (
                command("incident", "resolve", json!([s("note", "rolled back")])),
                "resolve rolled back",
            ),
            (
                command(
                    "incident",
                    "update",
                    json!([s("text", "Fix deployed"), b("public", true), inc]),
                ),
                "update INC-7 --public Fix deployed",
            ),
            (
                command("incident", "severity", json!([s("severity", "sev2")])),
                "severity sev2",
            ),
            (
                command(
                    "incident",
                    "assign",
                    json!([s("role", "comms"), user("user", "123")]),
                ),
                "assign comms <@123>",
            ),
            (
                command(
                    "incident",
                    "responders",
                    json!([user("user", "123"), b("page", true)]),
                ),
                "responders add <@123> --page",
            ),
            (
                command("incident", "timeline", json!([s("note", "DB failover")])),
                "timeline add DB failover",
            ),
            (
                command(
                    "incident",
                    "run",
                    json!([s("action", "restart"), s("args", "web 3")]),
                ),
                "run restart web 3",
            ),
            (command("incident", "run", json!([])), "run"),
            (
                command(
                    "incident",
                    "revert",
                    json!([s("repo", "acme/shop"), s("target", "42"), inc]),
                ),
                "revert INC-7 acme/shop 42",
            ),
            (command("incident", "help", json!([])), "help"),
            (command("oncall", "show", json!([])), ""),
            (
                command("oncall", "show", json!([s("service", "checkout")])),
                "checkout",
            ),
            (
                command(
                    "oncall",
                    "take",
                    json!([s("until", "2h"), user("user", "9")]),
                ),
                "take <@9> for 2h",
            ),
            (
                command(
                    "oncall",
                    "take",
                    json!([s("until", "18:00"), s("schedule", "primary")]),
                ),
                "take primary until 18:00",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(text_of(&body), expected, "{}", body["data"]);
        }
    }

    #[test]
    fn unknown_types_and_missing_fields_are_errors() {
        assert_eq!(
            interaction(br#"{"type":99,"id":"1"}"#),
            Err(InboundError::UnknownType(99))
        );
        assert!(matches!(
            interaction(b"not json"),
            Err(InboundError::Json(_))
        ));
        assert!(matches!(
            interaction(br#"{"id":"1"}"#),
            Err(InboundError::Json(_))
        ));
        let mut body = command("incident", "help", json!([]));
        body.as_object_mut().unwrap().remove("member");
        assert_eq!(
            interaction(body.to_string().as_bytes()),
            Err(InboundError::Missing("member.user or user"))
        );
        let mut body = command("incident", "help", json!([]));
        body.as_object_mut().unwrap().remove("channel_id");
        assert_eq!(
            interaction(body.to_string().as_bytes()),
            Err(InboundError::Missing("channel_id"))
        );
    }

    #[test]
    fn buttons_and_modals_become_button_and_dialog_submit() {
        let mut click = fixture("message_component_button_click.json");
        click["data"]["custom_id"] = "resolve:0190abcd".into();
        let Interaction::Request(r) = interaction(click.to_string().as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(r.kind, Kind::Component);
        assert_eq!(
            r.invocation.input,
            Input::Button {
                action: "resolve".into(),
                value: "0190abcd".into()
            }
        );
        let modal = fixture("modal_submit_text_inputs.json");
        let Interaction::Request(r) = interaction(modal.to_string().as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(r.invocation.channel, "772908445358620702");
        let Input::DialogSubmit { dialog, fields } = r.invocation.input else {
            panic!()
        };
        assert_eq!(dialog, "cool_modal");
        assert_eq!(fields.get("name").map(String::as_str), Some("John"));
    }
}
