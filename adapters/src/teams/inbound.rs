//! What the Bot Connector posts to Tocsin's Teams messaging endpoint, as [`Invocation`]s:
//! messages (`@Tocsin declare sev2 …`, or anything in a personal chat), presses of the
//! buttons on Tocsin's Adaptive Cards (`adaptiveCard/action` invokes, or messages with a
//! `value` from old clients), and the `task/fetch` / `task/submit` invokes of dialogs; plus
//! the `conversationUpdate`s that tell Tocsin which teams and people it can reach.
//!
//! Pure functions over bodies: [`envelope`] reads what the route needs to check the token
//! (`auth.rs` compares the JWT's `serviceUrl` claim and endorsements with it), [`activity`]
//! the rest once the token is good. No HTTP framework, no connector calls.
//!
//! Only the fields Tocsin uses are read, so new fields Teams adds change nothing. Activity
//! types and invokes Tocsin has no use for (typing, reactions, message extensions, …)
//! parse to [`Activity::Ignored`] rather than an error: Teams sends many, and refusing
//! them only makes it retry.

use std::collections::BTreeMap;

use commands::{Input, Invocation};
use serde::Deserialize;
use serde_json::Value;

use super::connector::ChannelMode;
use super::{PLATFORM, render};

/// The action of a [`render::dialog_launcher`] that reopens `/incident <value>` in a
/// `task/fetch`: Teams opens a dialog only in answer to a `task/fetch`, so a command that
/// answers a message with a form posts a launcher with this action and the command's text,
/// and the press runs the command again where a dialog can be the answer.
pub const LAUNCH_COMMAND: &str = "command";

/// The commands a message can start with; any other first word is `/incident`'s text.
const COMMANDS: [&str; 2] = ["incident", "oncall"];

/// Why a body is not an activity Tocsin can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("the activity has no {0}")]
    Missing(&'static str),
}

/// What must be read before the token is checked (the JWT's serviceUrl claim and
/// endorsement are compared with these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub service_url: String,
    /// The channel the activity came through: `msteams`.
    pub channel_id: String,
    /// The activity's `type`: `message`, `invoke`, `conversationUpdate`, …
    pub kind: String,
    pub id: Option<String>,
}

/// An activity, by what the route does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// Something to run as a command.
    Request(Box<Request>),
    /// The bot or people were added to a team/chat: remember the team and people.
    ConversationUpdate(Box<ConversationUpdate>),
    /// An activity Tocsin does not handle (Teams sends many): answer 200, log at debug.
    /// `kind` is the activity type; for invokes `invoke/<name>` (`invoke` without a name);
    /// for a message carrying a card's value that is none of Tocsin's, `message/value`.
    Ignored { kind: String },
}

/// What a person did, and where to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Platform `teams`; `user` the `29:…` id; `delivery` the activity id; no groups.
    pub invocation: Invocation,
    pub kind: Kind,
    pub service_url: String,
    /// The conversation to answer in (conversation.id as sent).
    pub conversation_id: String,
    /// The activity's own id (a reply goes to it); None for invokes without one.
    pub activity_id: Option<String>,
    /// For invokes on a card: the card message's id (replyToId), so the card can be
    /// updated in place. Also set for [`Kind::MessageBack`] (a press on an old client);
    /// None for typed messages.
    pub reply_to_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A typed message: a command, or talk in a channel (`Input::Said`).
    Message,
    /// An `adaptiveCard/action` invoke: a button press, answered with a card or a text.
    CardAction,
    /// A `task/fetch` invoke: answered with the dialog to open.
    TaskFetch,
    /// A `task/submit` invoke: a dialog's values, answered by closing or re-showing it.
    TaskSubmit,
    /// A message whose `value` is a card's data (`Action.Submit` on an old client).
    MessageBack,
}

/// The bot or people joining a team or chat (or another change to a conversation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationUpdate {
    pub service_url: String,
    pub tenant_id: Option<String>,
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    pub conversation_id: String,
    pub members_added: Vec<Member>,
    /// One of `members_added` is the bot itself.
    pub bot_added: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The Teams user id, `29:…` (`28:…` for a bot).
    pub id: String,
    pub aad_object_id: Option<String>,
    pub name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    name: Option<String>,
    service_url: Option<String>,
    channel_id: Option<String>,
    from: Option<Account>,
    recipient: Option<Account>,
    conversation: Option<Conversation>,
    text: Option<String>,
    #[serde(default)]
    value: Value,
    entities: Option<Vec<Entity>>,
    channel_data: Option<ChannelData>,
    reply_to_id: Option<String>,
    members_added: Option<Vec<Account>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Account {
    id: Option<String>,
    name: Option<String>,
    aad_object_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Conversation {
    id: Option<String>,
    conversation_type: Option<String>,
    is_group: Option<bool>,
    tenant_id: Option<String>,
}

#[derive(Deserialize)]
struct Entity {
    #[serde(rename = "type")]
    kind: Option<String>,
    mentioned: Option<Account>,
    text: Option<String>,
}

#[derive(Deserialize)]
struct ChannelData {
    channel: Option<Named>,
    team: Option<Named>,
    tenant: Option<Named>,
}

#[derive(Deserialize)]
struct Named {
    id: Option<String>,
    name: Option<String>,
}

fn parse(body: &[u8]) -> Result<Raw, InboundError> {
    serde_json::from_slice(body).map_err(|e| InboundError::Json(e.to_string()))
}

/// Reads the fields the token check needs: `serviceUrl`, `channelId`, `type` and `id`.
pub fn envelope(body: &[u8]) -> Result<Envelope, InboundError> {
    let raw = parse(body)?;
    Ok(Envelope {
        service_url: raw.service_url.ok_or(InboundError::Missing("serviceUrl"))?,
        channel_id: raw.channel_id.ok_or(InboundError::Missing("channelId"))?,
        kind: raw.kind.ok_or(InboundError::Missing("type"))?,
        id: raw.id,
    })
}

/// Parses an activity's JSON body. `mode` decides which id is the "channel" of an
/// invocation: in [`ChannelMode::Channel`] a Teams channel's id (`channelData.channel.id`,
/// whichever thread of it the activity is in), in [`ChannelMode::Thread`] the conversation
/// id as sent (a thread's `19:…;messageid=…` is the incident's channel). Personal and
/// group chats have only their conversation id.
pub fn activity(body: &[u8], mode: ChannelMode) -> Result<Activity, InboundError> {
    let raw = parse(body)?;
    let kind = raw.kind.clone().ok_or(InboundError::Missing("type"))?;
    match kind.as_str() {
        "message" => message(raw, mode),
        "invoke" => invoke(raw, mode),
        "conversationUpdate" => conversation_update(raw),
        // typing, messageReaction, installationUpdate, messageUpdate, event, …
        _ => Ok(Activity::Ignored { kind }),
    }
}

fn message(raw: Raw, mode: ChannelMode) -> Result<Activity, InboundError> {
    // A message carrying a `value` is a press of a card's `Action.Submit`, not something
    // typed: only Tocsin's own card data is read, the rest (another app's messageBack) is
    // not a command whatever its text says.
    if !raw.value.is_null() {
        return match card_input(&raw.value) {
            Some(input) => request(raw, mode, Kind::MessageBack, input),
            None => Ok(Activity::Ignored {
                kind: "message/value".into(),
            }),
        };
    }
    let text = raw.text.as_deref().unwrap_or_default();
    let entities = raw.entities.as_deref().unwrap_or_default();
    let bot = raw.recipient.as_ref().and_then(|r| r.id.as_deref());
    let mentions_bot = bot.is_some_and(|bot| bot_mentions(entities, bot).next().is_some());
    // In channels and group chats Teams delivers only what mentions the bot, unless the
    // app has the permission to read all messages; those are talk, kept for the timeline.
    if is_group(&raw) && !mentions_bot {
        let message_id = raw.id.clone().ok_or(InboundError::Missing("id"))?;
        let input = Input::Said {
            message_id,
            text: plain_text(text),
        };
        return request(raw, mode, Kind::Message, input);
    }
    let text = command_text(text, entities, bot);
    let (first, rest) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
    let word = first
        .strip_prefix('/')
        .unwrap_or(first)
        .to_ascii_lowercase();
    let input = match COMMANDS.iter().find(|c| **c == word) {
        Some(command) => Input::Slash {
            command: (*command).into(),
            text: rest.trim().to_owned(),
        },
        // `@Tocsin declare sev2 …`: the whole text is `/incident`'s.
        None => Input::Slash {
            command: "incident".into(),
            text: text.clone(),
        },
    };
    request(raw, mode, Kind::Message, input)
}

fn invoke(raw: Raw, mode: ChannelMode) -> Result<Activity, InboundError> {
    let name = raw.name.as_deref().unwrap_or_default();
    let (kind, input) = match name {
        "adaptiveCard/action" => (Kind::CardAction, card_input(&raw.value)),
        "task/fetch" => (
            Kind::TaskFetch,
            render::parse_action(&raw.value).map(|(action, value)| {
                if action == LAUNCH_COMMAND {
                    Input::Slash {
                        command: "incident".into(),
                        text: value,
                    }
                } else {
                    Input::Button { action, value }
                }
            }),
        ),
        "task/submit" => (
            Kind::TaskSubmit,
            render::dialog_id(&raw.value).map(|dialog| Input::DialogSubmit {
                dialog,
                fields: render::dialog_values(&raw.value),
            }),
        ),
        // composeExtension/*, signin/*, config/*, fileConsent/*, …
        _ => (Kind::CardAction, None),
    };
    match input {
        Some(input) => request(raw, mode, kind, input),
        // An invoke of a name Tocsin does not handle, or whose value is not Tocsin's.
        None if name.is_empty() => Ok(Activity::Ignored {
            kind: "invoke".into(),
        }),
        None => Ok(Activity::Ignored {
            kind: format!("invoke/{name}"),
        }),
    }
}

/// A card's data as an input: a dialog form's submit (it names the dialog) or a button.
/// `value` is a message's value (the data merged with the inputs) or an
/// `adaptiveCard/action` invoke's (`{"action": {"verb", "data"}}`).
fn card_input(value: &Value) -> Option<Input> {
    let data = value
        .get("action")
        .filter(|a| a.is_object())
        .map_or(value, |execute| &execute["data"]);
    if let Some(dialog) = render::dialog_id(data) {
        return Some(Input::DialogSubmit {
            dialog,
            fields: render::dialog_values(data),
        });
    }
    render::parse_action(value).map(|(action, value)| Input::Button { action, value })
}

fn request(
    raw: Raw,
    mode: ChannelMode,
    kind: Kind,
    input: Input,
) -> Result<Activity, InboundError> {
    let service_url = raw.service_url.ok_or(InboundError::Missing("serviceUrl"))?;
    let user = raw
        .from
        .and_then(|f| f.id)
        .ok_or(InboundError::Missing("from.id"))?;
    let conversation_id = raw
        .conversation
        .and_then(|c| c.id)
        .ok_or(InboundError::Missing("conversation.id"))?;
    let teams_channel = raw.channel_data.and_then(|d| d.channel).and_then(|c| c.id);
    let channel = match mode {
        ChannelMode::Channel => teams_channel.unwrap_or_else(|| conversation_id.clone()),
        ChannelMode::Thread => conversation_id.clone(),
    };
    Ok(Activity::Request(Box::new(Request {
        invocation: Invocation {
            platform: PLATFORM.into(),
            user,
            channel,
            input,
            delivery: raw.id.clone(),
            // Teams does not say which groups someone is in; that takes a Graph call.
            groups: Vec::new(),
        },
        kind,
        service_url,
        conversation_id,
        activity_id: raw.id,
        reply_to_id: match kind {
            Kind::Message => None,
            _ => raw.reply_to_id,
        },
    })))
}

fn conversation_update(raw: Raw) -> Result<Activity, InboundError> {
    let service_url = raw.service_url.ok_or(InboundError::Missing("serviceUrl"))?;
    let conversation = raw
        .conversation
        .ok_or(InboundError::Missing("conversation.id"))?;
    let conversation_id = conversation
        .id
        .ok_or(InboundError::Missing("conversation.id"))?;
    let bot = raw.recipient.and_then(|r| r.id);
    let members_added: Vec<Member> = raw
        .members_added
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| {
            Some(Member {
                id: m.id?,
                aad_object_id: m.aad_object_id,
                name: m.name,
            })
        })
        .collect();
    let bot_added = bot.is_some_and(|bot| members_added.iter().any(|m| m.id == bot));
    let (team, tenant) = match raw.channel_data {
        Some(d) => (d.team, d.tenant.and_then(|t| t.id)),
        None => (None, None),
    };
    let (team_id, team_name) = match team {
        Some(t) => (t.id, t.name),
        None => (None, None),
    };
    Ok(Activity::ConversationUpdate(Box::new(ConversationUpdate {
        service_url,
        tenant_id: tenant.or(conversation.tenant_id),
        team_id,
        team_name,
        conversation_id,
        members_added,
        bot_added,
    })))
}

/// A conversation with more than one person: a channel or a group chat.
fn is_group(raw: &Raw) -> bool {
    let conversation = raw.conversation.as_ref();
    match conversation.and_then(|c| c.conversation_type.as_deref()) {
        Some("personal") => false,
        Some(_) => true,
        // Older activities say only `isGroup`, or carry the channel.
        None => {
            conversation.and_then(|c| c.is_group).unwrap_or(false)
                || raw
                    .channel_data
                    .as_ref()
                    .is_some_and(|d| d.channel.is_some())
        }
    }
}

/// The mention entities that name the bot.
fn bot_mentions<'a>(entities: &'a [Entity], bot: &'a str) -> impl Iterator<Item = &'a Entity> {
    entities.iter().filter(move |e| {
        e.kind.as_deref() == Some("mention")
            && e.mentioned.as_ref().and_then(|m| m.id.as_deref()) == Some(bot)
    })
}

/// A message's text as a command: the bot's own mention removed, other people's mentions
/// as `<@29:…>` (what commands look people up by, as Slack's and Discord's mentions are),
/// any other `<at>` markup reduced to its name, HTML entities decoded, trimmed.
fn command_text(text: &str, entities: &[Entity], bot: Option<&str>) -> String {
    let mut text = text.to_owned();
    for e in entities
        .iter()
        .filter(|e| e.kind.as_deref() == Some("mention"))
    {
        let Some(mentioned) = &e.mentioned else {
            continue;
        };
        let markup = match (&e.text, &mentioned.name) {
            (Some(markup), _) => markup.clone(),
            (None, Some(name)) => format!("<at>{name}</at>"),
            (None, None) => continue,
        };
        if markup.is_empty() {
            continue;
        }
        let replacement = match mentioned.id.as_deref() {
            Some(id) if Some(id) == bot => String::new(),
            Some(id) => format!("<@{id}>"),
            None => continue,
        };
        text = text.replace(&markup, &replacement);
    }
    plain_text(&text)
}

/// Text as people read it: `<at>` tags dropped (the names stay), HTML entities decoded,
/// trimmed.
fn plain_text(text: &str) -> String {
    decode_entities(&strip_at_tags(text)).trim().to_owned()
}

fn strip_at_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let is_at =
            tail.starts_with("</at>") || tail.starts_with("<at>") || tail.starts_with("<at ");
        match tail.find('>') {
            Some(end) if is_at => rest = &tail[end + 1..],
            _ => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The entities Teams writes into message text: `&nbsp;` after a mention, `&amp;` and
/// friends, numeric references. Unknown ones stay as they are.
fn decode_entities(text: &str) -> String {
    let named = BTreeMap::from([
        ("nbsp", ' '),
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
    ]);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let decoded = tail
            .get(1..tail.len().min(12))
            .and_then(|t| t.find(';').map(|end| (&t[..end], end)))
            .and_then(|(name, end)| {
                let c = match name.strip_prefix('#') {
                    Some(num) => match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => num.parse().ok(),
                    }
                    .and_then(char::from_u32),
                    None => named.get(name).copied(),
                };
                // A non-breaking space reads as a space where commands split words.
                c.map(|c| (if c == '\u{a0}' { ' ' } else { c }, end + 2))
            });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_core::chat::{Button, ButtonStyle, Dialog, DialogField, DialogFieldKind, Message};
    use serde_json::json;

    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/teams/activities"
    );

    fn fixture(name: &str) -> Value {
        let path = format!("{DIR}/{name}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn parse_in(body: &Value, mode: ChannelMode) -> Activity {
        activity(body.to_string().as_bytes(), mode).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    fn request_in(body: &Value, mode: ChannelMode) -> Request {
        match parse_in(body, mode) {
            Activity::Request(r) => *r,
            other => panic!("{other:?}"),
        }
    }

    fn request(body: &Value) -> Request {
        request_in(body, ChannelMode::Channel)
    }

    fn slash(command: &str, text: &str) -> Input {
        Input::Slash {
            command: command.into(),
            text: text.into(),
        }
    }

    fn button(action: &str, value: &str) -> Input {
        Input::Button {
            action: action.into(),
            value: value.into(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn req(
        kind: Kind,
        input: Input,
        user: &str,
        channel: &str,
        service_url: &str,
        conversation_id: &str,
        activity_id: &str,
        reply_to_id: Option<&str>,
    ) -> Activity {
        Activity::Request(Box::new(Request {
            invocation: Invocation {
                platform: "teams".into(),
                user: user.into(),
                channel: channel.into(),
                input,
                delivery: Some(activity_id.into()),
                groups: vec![],
            },
            kind,
            service_url: service_url.into(),
            conversation_id: conversation_id.into(),
            activity_id: Some(activity_id.into()),
            reply_to_id: reply_to_id.map(Into::into),
        }))
    }

    fn member(id: &str, aad: Option<&str>) -> Member {
        Member {
            id: id.into(),
            aad_object_id: aad.map(Into::into),
            name: None,
        }
    }

    const AMER: &str = "https://smba.trafficmanager.net/amer/";
    const AMER_SS: &str = "https://smba.trafficmanager.net/amer-client-ss.msg/";
    const INVOKE_USER: &str = "29:1Eniglq0-uVL83xNB9GU6w_G5a4SZF0gcJLprZzhtEbel21G_5h-NgoprRw45mP0AXUIZVeqrsIHSYV4ntgfVJQ";
    const INVOKE_CONVERSATION: &str = "19:97b1ec61-45bf-453c-9059-6e8984e0cef4_8d88f59b-ae61-4300-bec0-caace7d28446@unq.gbl.spaces";

    /// Every published activity, read from disk, and what it becomes (channel mode).
    fn expected() -> Vec<(&'static str, Activity)> {
        vec![
            (
                "botbuilder-teams-channel-message-at-mention.json",
                req(
                    Kind::Message,
                    slash("incident", "Test Message"),
                    "29:SAMPLEID",
                    "19:ThreadID@thread.skype",
                    AMER_SS,
                    "19:ThreadID@thread.skype;messageid=1400900100700",
                    "1400900100700",
                    None,
                ),
            ),
            (
                "botbuilder-teams-personal-message.json",
                req(
                    Kind::Message,
                    slash("incident", "hi"),
                    "29:uniqueId",
                    "a:uniqueId",
                    AMER,
                    "a:uniqueId",
                    "1531861881427",
                    None,
                ),
            ),
            (
                "botbuilder-teams-conversationUpdate-teamMemberAdded.json",
                Activity::ConversationUpdate(Box::new(ConversationUpdate {
                    service_url: AMER_SS.into(),
                    tenant_id: Some("3b9e9fbb-ed2f-415b-b776-cf788e573366".into()),
                    team_id: Some("19:ThreadID@thread.skype".into()),
                    team_name: None,
                    conversation_id: "19:ThreadID@thread.skype;messageid=1400900100700".into(),
                    members_added: vec![member("29:UniqueID", None)],
                    bot_added: false,
                })),
            ),
            (
                "botbuilder-teams-conversationUpdate-with-aadObjectId.json",
                Activity::ConversationUpdate(Box::new(ConversationUpdate {
                    service_url: AMER.into(),
                    tenant_id: Some("09e852a2-4575-45f7-9586-7cc3acfdc715".into()),
                    team_id: None,
                    team_name: None,
                    conversation_id: "a:uniqueID".into(),
                    members_added: vec![
                        member("29:uniqueId", Some("d2ffaeab-d802-4fec-8580-0987e9ad2628")),
                        member("28:uniqueId", None),
                    ],
                    bot_added: true,
                })),
            ),
            (
                "botbuilder-teams-invoke-composeExtension-query.json",
                Activity::Ignored {
                    kind: "invoke/composeExtension/query".into(),
                },
            ),
            (
                "completed-invoke-adaptiveCard-action.json",
                req(
                    Kind::CardAction,
                    button("personalDetailsFormSubmit", ""),
                    INVOKE_USER,
                    "19:dc5ba12695be4eb7bf457cad6b4709eb@thread.skype",
                    AMER_SS,
                    INVOKE_CONVERSATION,
                    "f:6894910862892785420",
                    Some("1575667808184"),
                ),
            ),
            // The SDK test's value has no action: not a launcher of Tocsin's.
            (
                "completed-invoke-task-fetch.json",
                Activity::Ignored {
                    kind: "invoke/task/fetch".into(),
                },
            ),
            (
                "completed-message-adaptivecard-action-submit-value.json",
                req(
                    Kind::MessageBack,
                    button("personalDetailsFormSubmit", ""),
                    "29:102jd210jd010icsoaeclaejcoa9ue09u",
                    "19:malejcou081i20ojmlcau0@thread.skype",
                    AMER_SS,
                    "19:malejcou081i20ojmlcau0@thread.skype;messageid=1498171086622",
                    "f:5261769396935243054",
                    Some("1575667808184"),
                ),
            ),
            // The published example's recipient is a placeholder (`28:<BOT ID>`), not the
            // id it adds, so the bot is not recognised in it (see `the_bot_added_…`).
            (
                "msteams-docs-conversationUpdate-bot-added-personal.json",
                Activity::ConversationUpdate(Box::new(ConversationUpdate {
                    service_url: AMER_SS.into(),
                    tenant_id: Some("<TENANT ID>".into()),
                    team_id: None,
                    team_name: None,
                    conversation_id: "***".into(),
                    members_added: vec![
                        member("28:f5d48856-5b42-41a0-8c3a-c5f944b679b0", None),
                        member("29:<userID>", Some("***")),
                    ],
                    bot_added: false,
                })),
            ),
            (
                "msteams-docs-conversationUpdate-bot-added-to-team.json",
                Activity::ConversationUpdate(Box::new(ConversationUpdate {
                    service_url: AMER.into(),
                    tenant_id: Some("b28fdbfd-2b78-4f93-b0f8-8881793f0f8f".into()),
                    team_id: Some(
                        "19:zFLSDFWsesfzcmKArqKJ-65aOXJz@sgf462H2wz41@thread.tacv2".into(),
                    ),
                    team_name: Some("TestTeam2022".into()),
                    conversation_id: "19:0b7f32667e064dd9b25d7969801541f4@thread.tacv2".into(),
                    members_added: vec![member("28:608cacfd-1cea-40c9-b678-4b93e69bb72b", None)],
                    bot_added: true,
                })),
            ),
            (
                "msteams-docs-conversationUpdate-channelCreated.json",
                Activity::ConversationUpdate(Box::new(ConversationUpdate {
                    service_url: AMER_SS.into(),
                    tenant_id: Some("72f988bf-86f1-41af-91ab-2d7cd011db47".into()),
                    team_id: Some("19:efa9296d959346209fea44151c742e73@thread.skype".into()),
                    team_name: None,
                    conversation_id: "19:efa9296d959346209fea44151c742e73@thread.skype".into(),
                    members_added: vec![],
                    bot_added: false,
                })),
            ),
            // A legacy `invoke` card action: no name, and not Tocsin's data.
            (
                "msteams-docs-invoke-cardaction.json",
                Activity::Ignored {
                    kind: "invoke".into(),
                },
            ),
            // Another card's messageBack: its text is the button's, not something typed.
            (
                "msteams-docs-message-cardaction-messageBack-value.json",
                Activity::Ignored {
                    kind: "message/value".into(),
                },
            ),
        ]
    }

    #[test]
    fn every_published_activity_parses_to_what_it_means() {
        let expected = expected();
        let mut on_disk: Vec<String> = std::fs::read_dir(DIR)
            .unwrap_or_else(|e| panic!("{DIR}: {e}"))
            .map(|entry| entry.expect("directory entry").file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".json"))
            .collect();
        on_disk.sort();
        let mut covered: Vec<String> = expected.iter().map(|(f, _)| (*f).to_owned()).collect();
        covered.sort();
        assert_eq!(on_disk, covered, "every fixture has an expectation");

        for (file, want) in expected {
            let body = std::fs::read(format!("{DIR}/{file}")).expect("fixture");
            let got = activity(&body, ChannelMode::Channel);
            assert_eq!(got.as_ref(), Ok(&want), "{file}");
            let env = envelope(&body).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(env.channel_id, "msteams", "{file}");
            if let Activity::Request(r) = &want {
                assert_eq!(env.service_url, r.service_url, "{file}");
                assert_eq!(env.id, r.activity_id, "{file}");
            }
        }
    }

    #[test]
    fn the_envelope_reads_what_the_token_check_needs() {
        let body = std::fs::read(format!(
            "{DIR}/botbuilder-teams-invoke-composeExtension-query.json"
        ))
        .expect("fixture");
        assert_eq!(
            envelope(&body),
            Ok(Envelope {
                service_url: AMER_SS.into(),
                channel_id: "msteams".into(),
                kind: "invoke".into(),
                id: Some("1493159353121".into()),
            })
        );
        let typing = br#"{"type":"typing","serviceUrl":"https://x/","channelId":"msteams"}"#;
        assert_eq!(envelope(typing).map(|e| e.id), Ok(None));
        assert_eq!(
            envelope(br#"{"type":"message","channelId":"msteams"}"#),
            Err(InboundError::Missing("serviceUrl"))
        );
        assert_eq!(
            envelope(br#"{"type":"message","serviceUrl":"https://x/"}"#),
            Err(InboundError::Missing("channelId"))
        );
        assert!(matches!(
            envelope(b"{\"type\":"),
            Err(InboundError::Json(_))
        ));
    }

    /// The published mention activity with the text and mention a person would send today.
    fn mention(text: &str, conversation_type: &str) -> Value {
        let mut body = fixture("botbuilder-teams-channel-message-at-mention.json");
        body["text"] = json!(text);
        body["conversation"]["conversationType"] = json!(conversation_type);
        body["entities"][0]["mentioned"]["name"] = json!("Tocsin");
        body["entities"][0]["text"] = json!("<at>Tocsin</at>");
        body
    }

    #[test]
    fn the_bots_mention_is_stripped_and_the_rest_is_the_command() {
        let cases = [
            (
                "<at>Tocsin</at>&nbsp;declare sev2 Checkout",
                slash("incident", "declare sev2 Checkout"),
            ),
            (
                "<at>Tocsin</at> /incident status INC-7",
                slash("incident", "status INC-7"),
            ),
            ("<at>Tocsin</at> incident", slash("incident", "")),
            (
                "<at>Tocsin</at> oncall payments",
                slash("oncall", "payments"),
            ),
            (
                "<at>Tocsin</at> /OnCall take for 2h",
                slash("oncall", "take for 2h"),
            ),
            (
                "<at>Tocsin</at> update Fix &amp; rollback &lt;done&gt;\n",
                slash("incident", "update Fix & rollback <done>"),
            ),
            ("<at>Tocsin</at>", slash("incident", "")),
            ("  <at>Tocsin</at>&nbsp; ", slash("incident", "")),
            (
                "timeline add <at>Tocsin</at> saw it",
                slash("incident", "timeline add  saw it"),
            ),
        ];
        for (text, want) in cases {
            let r = request(&mention(text, "channel"));
            assert_eq!(r.kind, Kind::Message, "{text}");
            assert_eq!(r.invocation.input, want, "{text}");
        }
    }

    #[test]
    fn other_peoples_mentions_become_their_teams_ids() {
        let mut body = mention(
            "<at>Tocsin</at> assign comms <at>Alice Smith</at> &amp; <at>Team</at>",
            "channel",
        );
        body["entities"]
            .as_array_mut()
            .expect("entities")
            .push(json!({
                "type": "mention",
                "text": "<at>Alice Smith</at>",
                "mentioned": {"id": "29:alice", "name": "Alice Smith"},
            }));
        assert_eq!(
            request(&body).invocation.input,
            slash("incident", "assign comms <@29:alice> & Team")
        );
    }

    #[test]
    fn a_message_in_a_channel_that_does_not_mention_the_bot_is_talk() {
        let mut body = mention("rolled back <at>Alice</at> &amp; it&#39;s fine", "channel");
        body["entities"][0]["mentioned"]["id"] = json!("29:alice");
        body["entities"][0]["text"] = json!("<at>Alice</at>");
        let r = request(&body);
        assert_eq!(r.kind, Kind::Message);
        assert_eq!(r.invocation.channel, "19:ThreadID@thread.skype");
        assert_eq!(r.invocation.user, "29:SAMPLEID");
        assert_eq!(
            r.invocation.input,
            Input::Said {
                message_id: "1400900100700".into(),
                text: "rolled back Alice & it's fine".into(),
            }
        );
        // A group chat too (Teams sends those only to apps allowed to read every message).
        let mut body = mention("lunch?", "groupChat");
        body["entities"] = json!([]);
        assert!(matches!(
            request(&body).invocation.input,
            Input::Said { .. }
        ));
        // In a personal chat everything is for the bot.
        let mut body = fixture("botbuilder-teams-personal-message.json");
        body["text"] = json!("declare sev1 Checkout down");
        assert_eq!(
            request(&body).invocation.input,
            slash("incident", "declare sev1 Checkout down")
        );
        body["text"] = json!("");
        assert_eq!(request(&body).invocation.input, slash("incident", ""));
        body.as_object_mut().expect("object").remove("text");
        assert_eq!(request(&body).invocation.input, slash("incident", ""));
    }

    #[test]
    fn channel_mode_names_the_teams_channel_and_thread_mode_the_thread() {
        let body = mention("<at>Tocsin</at> status", "channel");
        let thread = "19:ThreadID@thread.skype;messageid=1400900100700";
        let r = request_in(&body, ChannelMode::Channel);
        assert_eq!(r.invocation.channel, "19:ThreadID@thread.skype");
        assert_eq!(r.conversation_id, thread);
        let r = request_in(&body, ChannelMode::Thread);
        assert_eq!(r.invocation.channel, thread);
        assert_eq!(r.conversation_id, thread);
        assert_eq!(r.invocation.delivery.as_deref(), Some("1400900100700"));
        assert_eq!(r.activity_id.as_deref(), Some("1400900100700"));
        assert_eq!(r.reply_to_id, None);

        // A card's invoke in a thread, the same way.
        let invoke = fixture("completed-invoke-adaptiveCard-action.json");
        let r = request_in(&invoke, ChannelMode::Thread);
        assert_eq!(r.invocation.channel, INVOKE_CONVERSATION);
        // Personal chats have no Teams channel: the conversation in both modes.
        let personal = fixture("botbuilder-teams-personal-message.json");
        for mode in [ChannelMode::Channel, ChannelMode::Thread] {
            assert_eq!(request_in(&personal, mode).invocation.channel, "a:uniqueId");
        }
    }

    fn incident_card() -> Message {
        let b = |action: &str, style| Button {
            action: action.into(),
            value: "7".into(),
            label: action.to_uppercase(),
            style,
        };
        Message {
            title: Some("INC-7 Checkout is failing".into()),
            buttons: vec![
                b("status", ButtonStyle::Primary),
                b("resolve", ButtonStyle::Danger),
                b("alert_ack", ButtonStyle::Default),
            ],
            ..Message::text("Payments time out.")
        }
    }

    fn declare_dialog() -> Dialog {
        let field = |name: &str, kind| DialogField {
            name: name.into(),
            label: name.into(),
            kind,
            required: true,
            initial: None,
            placeholder: None,
        };
        Dialog {
            id: "declare".into(),
            title: "Declare an incident".into(),
            submit_label: "Declare".into(),
            fields: vec![
                field("title", DialogFieldKind::Text { max_length: 100 }),
                field(
                    "severity",
                    DialogFieldKind::Select {
                        options: vec![("sev1".into(), "SEV1".into())],
                    },
                ),
                field(
                    "services",
                    DialogFieldKind::MultiSelect {
                        options: vec![("checkout".into(), "Checkout".into())],
                    },
                ),
            ],
        }
    }

    #[test]
    fn a_press_on_a_rendered_card_comes_back_as_its_button() {
        let card = render::card(&incident_card());
        let actions = card["actions"].as_array().expect("actions");
        assert_eq!(actions.len(), 3);
        for action in actions {
            let want = button(action["verb"].as_str().expect("verb"), "7");
            // Action.Execute: an adaptiveCard/action invoke.
            let mut invoke = fixture("completed-invoke-adaptiveCard-action.json");
            invoke["value"] = json!({
                "action": {"type": "Action.Execute", "id": "x",
                           "verb": action["verb"], "data": action["data"]},
                "trigger": "manual",
            });
            let r = request(&invoke);
            assert_eq!((r.kind, &r.invocation.input), (Kind::CardAction, &want));
            assert_eq!(r.reply_to_id.as_deref(), Some("1575667808184"));
            // The Action.Submit fallback: a message whose value is the data.
            let mut message = fixture("completed-message-adaptivecard-action-submit-value.json");
            message["value"] = action["fallback"]["data"].clone();
            let r = request(&message);
            assert_eq!((r.kind, &r.invocation.input), (Kind::MessageBack, &want));
            assert_eq!(r.reply_to_id.as_deref(), Some("1575667808184"));
        }
    }

    /// What Teams sends for a submitted form: the inputs by id merged with the submit's data.
    fn filled(form: &Value) -> Value {
        let mut data = form["actions"][0]["data"].clone();
        data["title"] = json!("Checkout down");
        data["severity"] = json!("sev1");
        data["services"] = json!("checkout");
        data
    }

    fn declared() -> Input {
        Input::DialogSubmit {
            dialog: "declare".into(),
            fields: BTreeMap::from([
                ("services".to_owned(), "checkout".to_owned()),
                ("severity".to_owned(), "sev1".to_owned()),
                ("title".to_owned(), "Checkout down".to_owned()),
            ]),
        }
    }

    #[test]
    fn a_dialog_opens_from_its_launcher_and_submits_its_fields() {
        // A command answered with a form: the launcher reruns the command in a task/fetch.
        let launcher = render::dialog_launcher(&declare_dialog(), LAUNCH_COMMAND, "declare");
        let mut fetch = fixture("completed-invoke-task-fetch.json");
        fetch["value"]["data"] = launcher["content"]["actions"][0]["data"].clone();
        let r = request(&fetch);
        assert_eq!(
            (r.kind, &r.invocation.input),
            (Kind::TaskFetch, &slash("incident", "declare"))
        );
        assert_eq!(
            r.invocation.delivery.as_deref(),
            Some("f:6894910862892785420")
        );
        assert_eq!(r.reply_to_id.as_deref(), Some("1575667808184"));
        // A launcher with any other action is a button that answers with a dialog.
        let launcher = render::dialog_launcher(&declare_dialog(), "alert_note", "42");
        fetch["value"]["data"] = launcher["content"]["actions"][0]["data"].clone();
        assert_eq!(request(&fetch).invocation.input, button("alert_note", "42"));

        // The form in the task module, submitted.
        let module = render::task_module(&declare_dialog());
        let form = &module["task"]["value"]["card"]["content"];
        let mut submit = fixture("completed-invoke-task-fetch.json");
        submit["name"] = json!("task/submit");
        submit["value"] = json!({"data": filled(form), "context": {"theme": "dark"}});
        let r = request(&submit);
        assert_eq!(
            (r.kind, &r.invocation.input),
            (Kind::TaskSubmit, &declared())
        );

        // A task/submit of a form that is not Tocsin's.
        submit["value"] = json!({"data": {"title": "x"}});
        assert_eq!(
            parse_in(&submit, ChannelMode::Channel),
            Activity::Ignored {
                kind: "invoke/task/submit".into()
            }
        );
    }

    #[test]
    fn a_form_posted_as_a_card_submits_as_a_dialog() {
        let form = render::dialog_card(&declare_dialog());
        // An old client's Action.Submit: the values as the message's value.
        let mut message = fixture("completed-message-adaptivecard-action-submit-value.json");
        message["value"] = filled(&form);
        let r = request(&message);
        assert_eq!(
            (r.kind, &r.invocation.input),
            (Kind::MessageBack, &declared())
        );
        // Action.Execute: the values in the action's data.
        let mut invoke = fixture("completed-invoke-adaptiveCard-action.json");
        invoke["value"] = json!({
            "action": {"type": "Action.Execute", "verb": "submit", "data": filled(&form)},
            "trigger": "manual",
        });
        let r = request(&invoke);
        assert_eq!(
            (r.kind, &r.invocation.input),
            (Kind::CardAction, &declared())
        );
    }

    #[test]
    fn activities_tocsin_has_no_use_for_are_ignored() {
        for kind in [
            "typing",
            "messageReaction",
            "installationUpdate",
            "messageUpdate",
            "event",
        ] {
            let body = json!({"type": kind, "serviceUrl": AMER, "channelId": "msteams"});
            assert_eq!(
                parse_in(&body, ChannelMode::Channel),
                Activity::Ignored { kind: kind.into() }
            );
        }
        let mut body = fixture("completed-invoke-adaptiveCard-action.json");
        body["name"] = json!("signin/verifyState");
        assert_eq!(
            parse_in(&body, ChannelMode::Channel),
            Activity::Ignored {
                kind: "invoke/signin/verifyState".into()
            }
        );
        // An adaptiveCard/action of another app's card.
        body["name"] = json!("adaptiveCard/action");
        body["value"] = json!({"action": {"type": "Action.Execute", "data": {"x": 1}}});
        assert_eq!(
            parse_in(&body, ChannelMode::Channel),
            Activity::Ignored {
                kind: "invoke/adaptiveCard/action".into()
            }
        );
    }

    #[test]
    fn malformed_and_incomplete_activities_are_errors() {
        assert!(matches!(
            activity(b"{not json", ChannelMode::Channel),
            Err(InboundError::Json(_))
        ));
        assert!(matches!(
            activity(br#"{"type": 7}"#, ChannelMode::Channel),
            Err(InboundError::Json(_))
        ));
        let personal = fixture("botbuilder-teams-personal-message.json");
        let without = |path: &[&str]| {
            let mut body = personal.clone();
            let (last, parents) = path.split_last().expect("a path");
            let mut object = &mut body;
            for p in parents {
                object = &mut object[*p];
            }
            object.as_object_mut().expect("object").remove(*last);
            activity(body.to_string().as_bytes(), ChannelMode::Channel)
        };
        assert_eq!(without(&["type"]), Err(InboundError::Missing("type")));
        assert_eq!(
            without(&["serviceUrl"]),
            Err(InboundError::Missing("serviceUrl"))
        );
        assert_eq!(
            without(&["from", "id"]),
            Err(InboundError::Missing("from.id"))
        );
        assert_eq!(
            without(&["conversation", "id"]),
            Err(InboundError::Missing("conversation.id"))
        );
        let update = fixture("msteams-docs-conversationUpdate-bot-added-to-team.json");
        let mut body = update.clone();
        body.as_object_mut().expect("object").remove("serviceUrl");
        assert_eq!(
            activity(body.to_string().as_bytes(), ChannelMode::Channel),
            Err(InboundError::Missing("serviceUrl"))
        );
    }

    #[test]
    fn the_bot_added_to_a_chat_is_recognised_by_the_recipient_id() {
        let mut body = fixture("msteams-docs-conversationUpdate-bot-added-personal.json");
        body["recipient"]["id"] = json!("28:f5d48856-5b42-41a0-8c3a-c5f944b679b0");
        body["membersAdded"][1]["name"] = json!("Alice");
        let Activity::ConversationUpdate(u) = parse_in(&body, ChannelMode::Channel) else {
            panic!()
        };
        assert!(u.bot_added);
        assert_eq!(u.members_added[1].name.as_deref(), Some("Alice"));
        // The tenant from the conversation when channelData has none.
        let mut body = fixture("msteams-docs-conversationUpdate-bot-added-to-team.json");
        body["channelData"]
            .as_object_mut()
            .expect("object")
            .remove("tenant");
        let Activity::ConversationUpdate(u) = parse_in(&body, ChannelMode::Channel) else {
            panic!()
        };
        assert_eq!(
            u.tenant_id.as_deref(),
            Some("b28fdbfd-2b78-4f93-b0f8-8881793f0f8f")
        );
    }
}
