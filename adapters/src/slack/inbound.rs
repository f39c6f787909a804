//! What Slack sends Tocsin, as [`Invocation`]s: slash-command forms (`/slack/commands`),
//! interaction payloads (`/slack/interactions`: buttons, modal submissions, the "Add to
//! timeline" message shortcut) and Events API callbacks (`/slack/events`: mentions, 📌
//! reactions, channel messages). Pure functions over bodies whose signature the route has
//! already checked (`verify.rs`); no HTTP framework, no Web API calls.
//!
//! Socket Mode (`socket.rs`) carries the same three as JSON in an envelope's `payload`
//! (a slash command's form fields as a JSON object, an interaction without its `payload=`
//! form wrapping): [`slash_command_json`], [`interaction_json`] and [`event_json`] read
//! those, with the same rules as the HTTP bodies.
//!
//! Only the fields Tocsin uses are read, so new fields Slack adds change nothing. A body
//! that lacks one of those fields, or is not the form or JSON it should be, is an
//! [`InboundError`] (the route answers 400). Events and interactions Tocsin has no use for
//! parse to "ignored" rather than an error: Slack retries what it sees refused, and a
//! subscription added in the app settings must not turn into a retry storm.

use commands::{Input, Invocation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::PLATFORM;

/// The `callback_id` of the "Add to timeline" message shortcut, which pins a message into
/// the timeline with its text (declared under `features.shortcuts` in the app manifest).
pub const PIN_SHORTCUT: &str = "add_to_timeline";
/// The reaction that pins a message into its incident's timeline: 📌 (`:pushpin:`).
pub const PIN_REACTION: &str = "pushpin";

/// Why a body is not a request Tocsin understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error("malformed form body: {0}")]
    Form(String),
    #[error("the form has no `payload` field")]
    NoPayload,
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("{0}")]
    Missing(String),
}

fn missing(what: &str) -> InboundError {
    InboundError::Missing(format!("the request has no {what}"))
}

fn json<T: DeserializeOwned>(value: Value) -> Result<T, InboundError> {
    serde_json::from_value(value).map_err(|e| InboundError::Json(e.to_string()))
}

fn form<T: DeserializeOwned>(body: &[u8]) -> Result<T, InboundError> {
    // Slack percent-encodes everything; raw non-UTF-8 bytes mean it was not Slack.
    std::str::from_utf8(body).map_err(|_| InboundError::NotUtf8)?;
    serde_urlencoded::from_bytes(body).map_err(|e| InboundError::Form(e.to_string()))
}

fn invocation(user: &str, channel: &str, input: Input, delivery: &str) -> Invocation {
    Invocation {
        platform: PLATFORM.into(),
        user: user.into(),
        channel: channel.into(),
        input,
        delivery: (!delivery.is_empty()).then(|| delivery.to_owned()),
        // Slack does not say which user groups someone is in; that takes a Web API call.
        groups: Vec::new(),
    }
}

// --- Slash commands ------------------------------------------------------------------------

/// A slash command (`/incident declare sev2 Checkout slow`) and where to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashCommand {
    /// `Input::Slash` with the command without its `/`; `delivery` is the trigger id.
    pub invocation: Invocation,
    /// Opens a modal, for three seconds.
    pub trigger_id: String,
    /// Takes up to five late answers for thirty minutes.
    pub response_url: String,
    /// The workspace, for logs.
    pub team_id: String,
}

#[derive(Deserialize)]
struct SlashForm {
    command: String,
    #[serde(default)]
    text: String,
    user_id: String,
    channel_id: String,
    trigger_id: String,
    response_url: String,
    #[serde(default)]
    team_id: String,
}

/// Parses a slash command's `application/x-www-form-urlencoded` body.
pub fn slash_command(body: &[u8]) -> Result<SlashCommand, InboundError> {
    slash_command_from(form(body)?)
}

/// Parses a slash command as Socket Mode delivers it: the form's fields as a JSON object.
pub fn slash_command_json(payload: Value) -> Result<SlashCommand, InboundError> {
    slash_command_from(json(payload)?)
}

fn slash_command_from(f: SlashForm) -> Result<SlashCommand, InboundError> {
    let command = f.command.trim().trim_start_matches('/');
    if command.is_empty() {
        return Err(missing("command name"));
    }
    let input = Input::Slash {
        command: command.to_owned(),
        text: normalize_text(&f.text),
    };
    Ok(SlashCommand {
        invocation: invocation(&f.user_id, &f.channel_id, input, &f.trigger_id),
        trigger_id: f.trigger_id,
        response_url: f.response_url,
        team_id: f.team_id,
    })
}

// --- Interactions --------------------------------------------------------------------------

/// An interaction payload, by what Tocsin does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// Buttons or menus on a message: one `Input::Button` per action (Slack sends one at a
    /// time in practice). Answers go to `response_url`.
    Actions {
        invocations: Vec<Invocation>,
        trigger_id: String,
        response_url: Option<String>,
    },
    /// A modal submitted: `Input::DialogSubmit` named by the view's `callback_id`, in the
    /// channel Tocsin put in the view's `private_metadata` when it opened it. Slack waits
    /// for the answer (errors to show in the modal, or nothing to close it).
    Submission { invocation: Invocation },
    /// The "Add to timeline" message shortcut: `Input::Pin` with the message's text.
    Shortcut {
        invocation: Invocation,
        response_url: Option<String>,
    },
    /// Anything else (a closed modal, a global shortcut, another app's shortcut): its
    /// `type`, for the log.
    Ignored { kind: String },
}

#[derive(Deserialize)]
struct InteractionForm {
    payload: Option<String>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    user: Option<Id>,
    channel: Option<Id>,
    container: Option<Container>,
    trigger_id: Option<String>,
    response_url: Option<String>,
    actions: Option<Vec<Action>>,
    view: Option<Value>,
    callback_id: Option<String>,
    message: Option<ShortcutMessage>,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Container {
    channel_id: Option<String>,
}

#[derive(Deserialize)]
struct Action {
    action_id: String,
    value: Option<String>,
    selected_option: Option<SelectedOption>,
}

#[derive(Deserialize)]
struct SelectedOption {
    value: String,
}

#[derive(Deserialize)]
struct ShortcutMessage {
    ts: String,
    user: Option<String>,
    bot_id: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

/// Parses an interaction: a form whose `payload` field holds the JSON.
pub fn interaction(body: &[u8]) -> Result<Interaction, InboundError> {
    let f: InteractionForm = form(body)?;
    let payload = f.payload.ok_or(InboundError::NoPayload)?;
    interaction_from(serde_json::from_str(&payload).map_err(|e| InboundError::Json(e.to_string()))?)
}

/// Parses an interaction as Socket Mode delivers it: the payload JSON itself.
pub fn interaction_json(payload: Value) -> Result<Interaction, InboundError> {
    interaction_from(json(payload)?)
}

fn interaction_from(p: Payload) -> Result<Interaction, InboundError> {
    let user = || {
        p.user
            .as_ref()
            .map(|u| u.id.as_str())
            .ok_or_else(|| missing("user"))
    };
    let trigger_id = p.trigger_id.clone().unwrap_or_default();
    match p.kind.as_str() {
        "block_actions" => {
            let user = user()?;
            // A message's channel; for an action inside a modal, the channel the modal
            // was opened from.
            let channel = p
                .channel
                .as_ref()
                .map(|c| c.id.clone())
                .or_else(|| p.container.as_ref().and_then(|c| c.channel_id.clone()))
                .or_else(|| p.view.as_ref().map(private_metadata))
                .unwrap_or_default();
            let actions = p.actions.as_deref().unwrap_or_default();
            if actions.is_empty() {
                return Err(missing("actions"));
            }
            let invocations = actions
                .iter()
                .map(|a| {
                    let value = a
                        .value
                        .clone()
                        .or_else(|| a.selected_option.as_ref().map(|o| o.value.clone()))
                        .unwrap_or_default();
                    let input = Input::Button {
                        action: a.action_id.clone(),
                        value,
                    };
                    invocation(user, &channel, input, &trigger_id)
                })
                .collect();
            Ok(Interaction::Actions {
                invocations,
                trigger_id,
                response_url: p.response_url,
            })
        }
        "view_submission" => {
            let user = user()?;
            let view = p.view.as_ref().ok_or_else(|| missing("view"))?;
            if !view.is_object() {
                return Err(InboundError::Json("`view` is not an object".into()));
            }
            let dialog = view
                .get("callback_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let input = Input::DialogSubmit {
                dialog: dialog.to_owned(),
                fields: super::render::view_values(view),
            };
            Ok(Interaction::Submission {
                invocation: invocation(user, &private_metadata(view), input, &trigger_id),
            })
        }
        "message_action" if p.callback_id.as_deref() == Some(PIN_SHORTCUT) => {
            let user = user()?;
            let channel = p.channel.as_ref().ok_or_else(|| missing("channel"))?;
            let message = p.message.as_ref().ok_or_else(|| missing("message"))?;
            let input = Input::Pin {
                message_id: message.ts.clone(),
                author: message
                    .user
                    .clone()
                    .or_else(|| message.bot_id.clone())
                    .unwrap_or_default(),
                text: normalize_text(message.text.as_deref().unwrap_or_default()),
            };
            Ok(Interaction::Shortcut {
                invocation: invocation(user, &channel.id, input, &trigger_id),
                response_url: p.response_url,
            })
        }
        other => Ok(Interaction::Ignored {
            kind: other.to_owned(),
        }),
    }
}

fn private_metadata(view: &Value) -> String {
    view.get("private_metadata")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

// --- Events API ----------------------------------------------------------------------------

/// An Events API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRequest {
    /// Slack checking the URL when it is entered in the app settings: answer the challenge.
    UrlVerification {
        challenge: String,
    },
    Callback(Box<EventCallback>),
    /// Another envelope (`app_rate_limited`, …): its type, for the log.
    Ignored {
        kind: String,
    },
}

/// One `event_callback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCallback {
    /// Unique per event and the same on every retry: the key to handle it once. Slack
    /// always sends it; old test payloads lack it.
    pub event_id: Option<String>,
    /// The inner event's type (`app_mention`, `message`, …), for the log.
    pub event_type: String,
    /// What the event means to Tocsin; None for events it ignores (other apps' and bots'
    /// messages, edits, direct messages, reactions other than 📌).
    pub invocation: Option<Invocation>,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    challenge: Option<String>,
    event_id: Option<String>,
    event: Option<Value>,
    authorizations: Option<Vec<Authorization>>,
    authed_users: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Authorization {
    user_id: Option<String>,
}

/// The inner event; each type's fields are read only after its type is known, because
/// other event types use the same names for objects (`user` in `user_change`).
#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Said {
    subtype: Option<String>,
    bot_id: Option<String>,
    user: Option<String>,
    channel: Option<String>,
    channel_type: Option<String>,
    ts: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Reaction {
    user: Option<String>,
    reaction: String,
    item: ReactionItem,
    item_user: Option<String>,
}

#[derive(Deserialize)]
struct ReactionItem {
    #[serde(rename = "type")]
    kind: String,
    channel: Option<String>,
    ts: Option<String>,
}

/// Parses an Events API body (JSON).
pub fn event(body: &[u8]) -> Result<EventRequest, InboundError> {
    event_from(serde_json::from_slice(body).map_err(|e| InboundError::Json(e.to_string()))?)
}

/// Parses an Events API callback as Socket Mode delivers it: the same JSON, already parsed.
pub fn event_json(payload: Value) -> Result<EventRequest, InboundError> {
    event_from(json(payload)?)
}

fn event_from(envelope: Envelope) -> Result<EventRequest, InboundError> {
    match envelope.kind.as_str() {
        "url_verification" => Ok(EventRequest::UrlVerification {
            challenge: envelope.challenge.ok_or_else(|| missing("challenge"))?,
        }),
        "event_callback" => {
            let event = envelope.event.ok_or_else(|| missing("event"))?;
            let TypeOnly { kind } = json(event.clone())?;
            let mut bots: Vec<String> = envelope.authed_users.unwrap_or_default();
            bots.extend(
                envelope
                    .authorizations
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|a| a.user_id),
            );
            let delivery = envelope.event_id.clone().unwrap_or_default();
            let invocation = match kind.as_str() {
                "app_mention" => mention(json(event)?, &bots, &delivery)?,
                "message" => said(json(event)?, &delivery)?,
                "reaction_added" => pin(json(event)?, &delivery)?,
                _ => None,
            };
            Ok(EventRequest::Callback(Box::new(EventCallback {
                event_id: envelope.event_id,
                event_type: kind,
                invocation,
            })))
        }
        other => Ok(EventRequest::Ignored {
            kind: other.to_owned(),
        }),
    }
}

/// `@tocsin timeline add …` is `/incident timeline add …`.
fn mention(e: Said, bots: &[String], delivery: &str) -> Result<Option<Invocation>, InboundError> {
    // Another bot mentioning Tocsin (or Tocsin itself) must not start a conversation.
    if e.bot_id.is_some() || e.subtype.is_some() {
        return Ok(None);
    }
    let user = e.user.ok_or_else(|| missing("event.user"))?;
    let channel = e.channel.ok_or_else(|| missing("event.channel"))?;
    let text = strip_mention(&normalize_text(e.text.as_deref().unwrap_or_default()), bots);
    let input = Input::Slash {
        command: "incident".into(),
        text,
    };
    Ok(Some(invocation(&user, &channel, input, delivery)))
}

/// A person's message in a channel, for incidents that capture their channel's talk.
/// Edits, joins, bot posts and the like come with a `subtype` and are skipped, as are
/// direct messages (never an incident channel).
fn said(e: Said, delivery: &str) -> Result<Option<Invocation>, InboundError> {
    if e.subtype.is_some()
        || e.bot_id.is_some()
        || matches!(e.channel_type.as_deref(), Some("im" | "app_home"))
    {
        return Ok(None);
    }
    let user = e.user.ok_or_else(|| missing("event.user"))?;
    let channel = e.channel.ok_or_else(|| missing("event.channel"))?;
    let ts = e.ts.ok_or_else(|| missing("event.ts"))?;
    let input = Input::Said {
        message_id: ts,
        text: normalize_text(e.text.as_deref().unwrap_or_default()),
    };
    Ok(Some(invocation(&user, &channel, input, delivery)))
}

/// A 📌 on a message. The event names the message but does not carry its text: the text
/// is [`pin_placeholder`] until the handler reads the message back
/// (`conversations.history`); the "Add to timeline" shortcut pins with the text at once.
fn pin(e: Reaction, delivery: &str) -> Result<Option<Invocation>, InboundError> {
    if e.reaction != PIN_REACTION || e.item.kind != "message" {
        return Ok(None);
    }
    let user = e.user.ok_or_else(|| missing("event.user"))?;
    let channel = e
        .item
        .channel
        .ok_or_else(|| missing("event.item.channel"))?;
    let ts = e.item.ts.ok_or_else(|| missing("event.item.ts"))?;
    let input = Input::Pin {
        text: pin_placeholder(&ts),
        message_id: ts,
        author: e.item_user.unwrap_or_default(),
    };
    Ok(Some(invocation(&user, &channel, input, delivery)))
}

/// What a 📌's text is until the message is read back, and stays if it cannot be.
pub fn pin_placeholder(ts: &str) -> String {
    format!("(pinned message {ts})")
}

/// The text of a mention without the mention of Tocsin: a leading `<@U…>` (whoever it
/// names: a message addressed to someone else first is not a command anyway), and
/// Tocsin's own mention (`bots`) wherever else it is.
fn strip_mention(text: &str, bots: &[String]) -> String {
    let mut text = text.trim();
    if text.starts_with("<@")
        && let Some(end) = text.find('>')
    {
        text = text[end + 1..].trim_start();
    }
    let mut out = text.to_owned();
    for bot in bots {
        out = out.replace(&format!("<@{bot}>"), "");
    }
    out.trim().to_owned()
}

/// Slack's message formatting, undone where Tocsin reads text: `&lt;`, `&gt;` and `&amp;`
/// unescaped, and labelled user mentions (`<@U123|alice>`) reduced to the id (`<@U123>`),
/// which is what commands look people up by.
fn normalize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        match tail.find('>') {
            Some(end) => {
                let inner = &tail[2..end];
                let id = inner.split_once('|').map_or(inner, |(id, _)| id);
                out.push_str("<@");
                out.push_str(id);
                out.push('>');
                rest = &tail[end + 1..];
            }
            None => {
                out.push_str(tail);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> Vec<u8> {
        let dir = std::env::var("TOCSIN_FIXTURES").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures").to_owned()
        });
        let path = format!("{dir}/slack/{path}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// An interaction fixture (the JSON payload) as Slack posts it: a form field.
    fn payload_form(json: &[u8]) -> Vec<u8> {
        serde_urlencoded::to_string([("payload", std::str::from_utf8(json).unwrap())])
            .unwrap()
            .into_bytes()
    }

    #[test]
    fn slash_command_forms_become_slash_invocations() {
        let c = slash_command(&fixture("slash-commands/weather_docs_example.form.txt")).unwrap();
        assert_eq!(
            c.invocation,
            Invocation {
                platform: "slack".into(),
                user: "U2147483697".into(),
                channel: "C2147483705".into(),
                input: Input::Slash {
                    command: "weather".into(),
                    text: "94070".into()
                },
                delivery: Some("13345224609.738474920.8088930838d88f008e0".into()),
                groups: vec![],
            }
        );
        assert_eq!(c.response_url, "https://hooks.slack.com/commands/1234/5678");
        assert_eq!(c.team_id, "T0001");

        let c = slash_command(&fixture("slash-commands/webhook_collect.form.txt")).unwrap();
        assert_eq!(
            c.invocation.input,
            Input::Slash {
                command: "webhook-collect".into(),
                text: String::new()
            }
        );
        assert_eq!(c.invocation.channel, "G8PSS9T3V");
        for f in ["hello_enterprise_grid", "org_level_install"] {
            let c = slash_command(&fixture(&format!("slash-commands/{f}.form.txt"))).unwrap();
            assert_eq!(c.invocation.user, "W111");
            assert_eq!(c.trigger_id, "111.222.xxx");
        }
    }

    #[test]
    fn slash_text_is_unescaped_and_mentions_lose_their_labels() {
        let body = "command=%2Fincident&text=assign+commander+%3C%40U0123ABC%7Calice%3E+%26amp%3B+co\
                    &user_id=U1&channel_id=C1&trigger_id=t&response_url=https%3A%2F%2Fx";
        let c = slash_command(body.as_bytes()).unwrap();
        assert_eq!(
            c.invocation.input,
            Input::Slash {
                command: "incident".into(),
                text: "assign commander <@U0123ABC> & co".into()
            }
        );
    }

    #[test]
    fn malformed_slash_forms_are_errors() {
        assert!(matches!(
            slash_command(b"text=hi&user_id=U1"),
            Err(InboundError::Form(_))
        ));
        assert_eq!(slash_command(b"\xff\xfe"), Err(InboundError::NotUtf8));
        assert!(matches!(
            slash_command(b"command=%2F&user_id=U&channel_id=C&trigger_id=t&response_url=u"),
            Err(InboundError::Missing(_))
        ));
    }

    #[test]
    fn block_actions_become_button_presses() {
        let i = interaction(&payload_form(&fixture(
            "interactivity/block_actions_button_docs_example.json",
        )))
        .unwrap();
        let Interaction::Actions {
            invocations,
            trigger_id,
            response_url,
        } = i
        else {
            panic!("{i:?}")
        };
        assert_eq!(
            trigger_id,
            "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3"
        );
        assert_eq!(
            response_url.as_deref(),
            Some("https://hooks.slack.com/actions/AABA1ABCD/1232321423432/D09sSasdasdAS9091209")
        );
        assert_eq!(invocations.len(), 1);
        assert_eq!(invocations[0].user, "UA8RXUSPL");
        assert_eq!(invocations[0].channel, "CBR2V3XEX");
        assert_eq!(
            invocations[0].input,
            Input::Button {
                action: "WaXA".into(),
                value: "click_me_123".into()
            }
        );

        // A menu's choice is its value.
        let i = interaction(&payload_form(&fixture(
            "interactivity/block_actions_static_select.json",
        )))
        .unwrap();
        let Interaction::Actions { invocations, .. } = i else {
            panic!("{i:?}")
        };
        assert_eq!(
            invocations[0].input,
            Input::Button {
                action: "templatebot_select_project_template".into(),
                value: "fastapi".into()
            }
        );

        let i = interaction(&payload_form(&fixture(
            "interactivity/block_actions_org_wide_install.json",
        )))
        .unwrap();
        let Interaction::Actions { invocations, .. } = i else {
            panic!("{i:?}")
        };
        assert_eq!(
            (
                invocations[0].user.as_str(),
                invocations[0].channel.as_str()
            ),
            ("W111", "C111")
        );
    }

    #[test]
    fn view_submissions_carry_their_callback_id_and_channel() {
        let i = interaction(&payload_form(&fixture(
            "interactivity/view_submission_rating_form.json",
        )))
        .unwrap();
        let Interaction::Submission { invocation } = i else {
            panic!("{i:?}")
        };
        assert_eq!(invocation.user, "U12345678");
        assert_eq!(
            invocation.channel, "",
            "that modal was not opened by Tocsin"
        );
        let Input::DialogSubmit { dialog, .. } = &invocation.input else {
            panic!("{invocation:?}")
        };
        assert_eq!(dialog, "modal-callback-id");

        let mut payload: Value =
            serde_json::from_slice(&fixture("interactivity/view_submission_modal.json")).unwrap();
        payload["view"]["private_metadata"] = "C0INCIDENT".into();
        payload["view"]["callback_id"] = "declare".into();
        let i = interaction(&payload_form(payload.to_string().as_bytes())).unwrap();
        let Interaction::Submission { invocation } = i else {
            panic!("{i:?}")
        };
        assert_eq!(invocation.channel, "C0INCIDENT");
        assert!(
            matches!(&invocation.input, Input::DialogSubmit { dialog, .. } if dialog == "declare")
        );
    }

    #[test]
    fn the_add_to_timeline_shortcut_pins_with_the_text() {
        let payload = serde_json::json!({
            "type": "message_action",
            "callback_id": PIN_SHORTCUT,
            "trigger_id": "t1",
            "response_url": "https://hooks.slack.com/app/x",
            "user": {"id": "U0123ABC"},
            "channel": {"id": "C9"},
            "message": {"ts": "1700000000.000100", "user": "U777", "text": "rolled back &amp; ok"}
        });
        let i = interaction(&payload_form(payload.to_string().as_bytes())).unwrap();
        let Interaction::Shortcut { invocation, .. } = i else {
            panic!("{i:?}")
        };
        assert_eq!(invocation.channel, "C9");
        assert_eq!(
            invocation.input,
            Input::Pin {
                message_id: "1700000000.000100".into(),
                author: "U777".into(),
                text: "rolled back & ok".into()
            }
        );
    }

    #[test]
    fn other_interactions_are_ignored_and_garbage_is_an_error() {
        let closed = serde_json::json!({"type": "view_closed", "user": {"id": "U1"}});
        assert_eq!(
            interaction(&payload_form(closed.to_string().as_bytes())),
            Ok(Interaction::Ignored {
                kind: "view_closed".into()
            })
        );
        assert_eq!(interaction(b"foo=bar"), Err(InboundError::NoPayload));
        assert!(matches!(
            interaction(&payload_form(b"{not json")),
            Err(InboundError::Json(_))
        ));
        assert!(matches!(
            interaction(&payload_form(br#"{"type":"block_actions","actions":[]}"#)),
            Err(InboundError::Missing(_))
        ));
    }

    /// Socket Mode's envelopes carry the same requests as JSON; each reads exactly as its
    /// HTTP body does.
    #[test]
    fn socket_mode_json_payloads_read_like_the_http_bodies() {
        for f in [
            "weather_docs_example",
            "webhook_collect",
            "hello_enterprise_grid",
            "org_level_install",
        ] {
            let form = fixture(&format!("slash-commands/{f}.form.txt"));
            let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&form).unwrap();
            let mut payload: serde_json::Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            // Socket Mode sends JSON types, not only strings.
            payload.insert("is_enterprise_install".into(), false.into());
            assert_eq!(
                slash_command_json(Value::Object(payload)),
                slash_command(&form),
                "{f}"
            );
        }
        for f in [
            "block_actions_button_docs_example",
            "block_actions_static_select",
            "block_actions_org_wide_install",
            "view_submission_modal",
            "view_submission_rating_form",
        ] {
            let json = fixture(&format!("interactivity/{f}.json"));
            let payload: Value = serde_json::from_slice(&json).unwrap();
            let parsed = interaction_json(payload);
            assert!(parsed.is_ok(), "{f}: {parsed:?}");
            assert_eq!(parsed, interaction(&payload_form(&json)), "{f}");
        }
        for f in [
            "url_verification",
            "event_callback_app_mention",
            "event_callback_message_channels",
            "event_callback_reaction_added",
        ] {
            let body = fixture(&format!("events/{f}.json"));
            let payload: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(event_json(payload), event(&body), "{f}");
        }
        assert!(matches!(
            slash_command_json(serde_json::json!({"command": "/incident"})),
            Err(InboundError::Json(_))
        ));
        assert!(matches!(
            interaction_json(serde_json::json!("not an object")),
            Err(InboundError::Json(_))
        ));
        assert!(matches!(
            event_json(serde_json::json!({"type": "event_callback"})),
            Err(InboundError::Missing(_))
        ));
    }

    #[test]
    fn url_verification_answers_the_challenge() {
        assert_eq!(
            event(&fixture("events/url_verification.json")),
            Ok(EventRequest::UrlVerification {
                challenge: "valid_challenge_token".into()
            })
        );
    }

    #[test]
    fn an_app_mention_is_an_incident_command_without_the_mention() {
        let e = event(&fixture("events/event_callback_app_mention.json")).unwrap();
        let EventRequest::Callback(c) = e else {
            panic!("{e:?}")
        };
        assert_eq!(c.event_id.as_deref(), Some("Ev0LAN670R"));
        assert_eq!(c.event_type, "app_mention");
        let i = c.invocation.unwrap();
        assert_eq!(
            (i.user.as_str(), i.channel.as_str()),
            ("U061F7AUR", "C0LAN2Q65")
        );
        assert_eq!(i.delivery.as_deref(), Some("Ev0LAN670R"));
        assert_eq!(
            i.input,
            Input::Slash {
                command: "incident".into(),
                text: "What is the hour of the pearl, ?".into()
            }
        );
        assert_eq!(
            strip_mention("<@UBOT> timeline add rolled back", &[]),
            "timeline add rolled back"
        );
        assert_eq!(strip_mention(" <@UBOT|tocsin>  status", &[]), "status");
    }

    #[test]
    fn channel_messages_are_said_and_bot_messages_and_dms_are_ignored() {
        let callback = |f: &str| match event(&fixture(f)).unwrap() {
            EventRequest::Callback(c) => c,
            other => panic!("{other:?}"),
        };
        let c = callback("events/event_callback_message_channels.json");
        let i = c.invocation.unwrap();
        assert_eq!(
            (i.user.as_str(), i.channel.as_str()),
            ("U2147483697", "C024BE91L")
        );
        assert_eq!(
            i.input,
            Input::Said {
                message_id: "1355517523.000005".into(),
                text: "Live long and prospect.".into()
            }
        );
        for f in ["groups", "mpim"] {
            let c = callback(&format!("events/event_callback_message_{f}.json"));
            assert!(matches!(c.invocation.unwrap().input, Input::Said { .. }));
        }
        assert_eq!(
            callback("events/event_callback_message_im.json").invocation,
            None
        );
        let bot = callback("events/event_callback_message_bot_message.json");
        assert_eq!((bot.event_type.as_str(), bot.invocation), ("message", None));
    }

    #[test]
    fn a_pushpin_reaction_pins_and_other_reactions_are_ignored() {
        let grinning = fixture("events/event_callback_reaction_added.json");
        let EventRequest::Callback(c) = event(&grinning).unwrap() else {
            panic!()
        };
        assert_eq!((c.event_id, c.invocation), (None, None));

        let mut v: Value = serde_json::from_slice(&grinning).unwrap();
        v["event"]["reaction"] = PIN_REACTION.into();
        let EventRequest::Callback(c) = event(v.to_string().as_bytes()).unwrap() else {
            panic!()
        };
        let i = c.invocation.unwrap();
        assert_eq!(
            (i.user.as_str(), i.channel.as_str()),
            ("U27FFLNF4", "D2AQCJCQ2")
        );
        assert_eq!(
            i.input,
            Input::Pin {
                message_id: "1477958101.000004".into(),
                author: "U299ATJ2X".into(),
                text: "(pinned message 1477958101.000004)".into()
            }
        );
    }

    #[test]
    fn unknown_events_are_ignored_and_malformed_ones_are_errors() {
        let e = br#"{"type":"event_callback","event_id":"Ev1","event":{"type":"user_change","user":{"id":"U1"}}}"#;
        let EventRequest::Callback(c) = event(e).unwrap() else {
            panic!()
        };
        assert_eq!((c.event_type.as_str(), c.invocation), ("user_change", None));
        assert_eq!(
            event(br#"{"type":"app_rate_limited","minute_rate_limited":1}"#),
            Ok(EventRequest::Ignored {
                kind: "app_rate_limited".into()
            })
        );
        assert!(matches!(event(b"not json"), Err(InboundError::Json(_))));
        assert!(matches!(
            event(br#"{"challenge":"x"}"#),
            Err(InboundError::Json(_))
        ));
        assert!(matches!(
            event(br#"{"type":"event_callback"}"#),
            Err(InboundError::Missing(_))
        ));
        assert!(matches!(
            event(br#"{"type":"event_callback","event":{"type":"app_mention","text":"hi"}}"#),
            Err(InboundError::Missing(_))
        ));
    }
}
