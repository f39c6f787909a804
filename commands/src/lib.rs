//! Platform-neutral chat commands: `/incident …` and button presses, the same on every
//! platform. Each command lives in its own file with `parse` (text -> typed command, pure)
//! and `run` (typed command -> core operation -> reply). Adapters build an [`Invocation`]
//! and render the [`Reply`]; this crate knows no platform.

use std::collections::BTreeMap;

use bot_core::chat::{Dialog, Message};
use bot_core::model::{Actor, Incident, IncidentId, Role, User};
use bot_core::ops::Core;
use bot_core::{CoreError, StoreError};

mod action;
mod alert;
mod alerts;
mod assign;
mod capture;
mod declare;
mod help;
mod link;
mod list;
mod oncall;
mod postmortem;
mod resolve;
mod run;
mod severity;
mod status;
mod statuspage;
mod timeline;
mod update;

pub use help::help_text;

/// One thing a person did in chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Platform name: `console`, `slack`, …
    pub platform: String,
    /// The person's id on that platform.
    pub user: String,
    /// Where it happened, as the platform names channels.
    pub channel: String,
    pub input: Input,
    /// The platform's id for this delivery (a Slack trigger id, a Discord interaction id,
    /// a Teams activity id). A retried delivery carries the same id, and a declare with an
    /// id already seen returns the incident the first one created.
    pub delivery: Option<String>,
    /// The person's groups on the platform (Slack user groups, Discord roles, Teams
    /// groups), where the platform says; they may grant a role (`[[roles.groups]]`).
    pub groups: Vec<String>,
}

impl Invocation {
    /// A slash command typed by `user` in `channel`.
    pub fn slash(platform: &str, user: &str, channel: &str, command: &str, text: &str) -> Self {
        Invocation {
            platform: platform.into(),
            user: user.into(),
            channel: channel.into(),
            input: Input::Slash {
                command: command.into(),
                text: text.into(),
            },
            delivery: None,
            groups: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A slash command: `command` without the slash (`incident`), `text` after it.
    Slash { command: String, text: String },
    /// A button on one of Tocsin's cards.
    Button { action: String, value: String },
    /// A submitted dialog: its id and the values by field name.
    DialogSubmit {
        dialog: String,
        fields: BTreeMap<String, String>,
    },
    /// Someone pinned a chat message into the timeline (a 📌 reaction): the message's id
    /// on the platform, its author's platform id, and its text.
    Pin {
        message_id: String,
        author: String,
        text: String,
    },
    /// A message said in a channel, for incidents that capture their channel's talk.
    Said { message_id: String, text: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Only the person who asked sees it.
    Ephemeral,
    /// Everyone in the channel sees it.
    Channel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub audience: Audience,
    pub message: Message,
    /// A dialog to open instead of (or with) the message: the platform shows it to the
    /// person who asked.
    pub dialog: Option<Dialog>,
    /// For a dialog submission that does not validate: the message for each field, to
    /// show inside the dialog where the platform can.
    pub field_errors: BTreeMap<String, String>,
    /// Nothing to say (a captured chat message): the adapter posts nothing.
    pub silent: bool,
}

impl Reply {
    pub fn ephemeral(text: impl Into<String>) -> Self {
        Reply::card(Audience::Ephemeral, Message::text(text))
    }

    pub fn card(audience: Audience, message: Message) -> Self {
        Reply {
            audience,
            message,
            dialog: None,
            field_errors: BTreeMap::new(),
            silent: false,
        }
    }

    pub fn dialog(dialog: Dialog) -> Self {
        Reply {
            dialog: Some(dialog),
            ..Reply::ephemeral("")
        }
    }

    pub fn silent() -> Self {
        Reply {
            silent: true,
            ..Reply::ephemeral("")
        }
    }
}

/// Why a command did not run; every variant is shown to the person as a short reply.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The text does not match the grammar; carries the usage line.
    Usage(String),
    /// Parsed, but the request cannot be honoured (unknown user, already resolved, …).
    Refused(String),
    /// A dialog's values do not validate: the message for each field.
    Fields(BTreeMap<String, String>),
    /// Something broke on our side; logged with details, the person sees an id.
    Internal(String),
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid(invalid) => Failure::Refused(invalid.message),
            CoreError::Store(store) => store.into(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Failure::Refused(format!("{what} not found")),
            StoreError::Conflict(why) => Failure::Refused(why),
            StoreError::Transition(t) => Failure::Refused(t.to_string()),
            StoreError::Unstorable(why) => Failure::Refused(why),
            other => Failure::Internal(other.to_string()),
        }
    }
}

type Outcome = Result<Reply, Failure>;

/// What a command runs with: the core, who is asking, and where.
pub(crate) struct Ctx<'a> {
    pub core: &'a Core,
    pub invocation: &'a Invocation,
    pub actor: Actor,
    /// How the audit log names the person: `user:alice`, or `slack:U0123` when unlinked.
    pub actor_label: String,
    pub role: Role,
    /// The incident whose channel this is, if any.
    pub here: Option<Incident>,
}

impl Ctx<'_> {
    fn require(&self, role: Role, what: &str) -> Result<(), Failure> {
        if self.role >= role {
            return Ok(());
        }
        let who = match &self.actor {
            Actor::User(id) => format!("{id} is a {}", self.role),
            _ => format!(
                "your {} account is not linked to a Tocsin user (run /incident link, or add it under [users.chat] in tocsin.toml)",
                self.invocation.platform
            ),
        };
        Err(Failure::Refused(format!(
            "{what} needs the {role} role; {who}"
        )))
    }

    /// The incident a command is about: named explicitly (`INC-42`), else the one whose
    /// channel this is.
    async fn incident(&self, named: Option<i64>, usage: &str) -> Result<Incident, Failure> {
        match (named, &self.here) {
            (Some(number), _) => Ok(self.core.store.get_incident_by_number(number).await?),
            (None, Some(here)) => Ok(here.clone()),
            (None, None) => Err(Failure::Usage(format!(
                "{usage}\nRun it in an incident channel, or name the incident: INC-<number>."
            ))),
        }
    }

    async fn incident_by_id(&self, id: &str) -> Result<Incident, Failure> {
        let id: IncidentId = id
            .parse()
            .map_err(|_| Failure::Refused(format!("`{id}` is not an incident id")))?;
        Ok(self.core.store.get_incident(id).await?)
    }
}

/// A leading `INC-42` (any case) names an incident; returns its number and the rest.
/// A bare number names an incident too, but only when it is all there is (`status 42`):
/// in `update 42 servers are down` it is the start of the text.
pub(crate) fn incident_ref(args: &str) -> (Option<i64>, &str) {
    let args = args.trim();
    if let Ok(n) = args.parse::<i64>() {
        return (Some(n), "");
    }
    let (first, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let number = first
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("inc-"))
        .and_then(|_| first[4..].parse::<i64>().ok());
    match number {
        Some(n) => (Some(n), rest.trim()),
        None => (None, args),
    }
}

/// Handles one invocation end to end. Never fails: every problem becomes a reply.
pub async fn handle(core: &Core, invocation: &Invocation) -> Reply {
    match dispatch(core, invocation).await {
        Ok(reply) => reply,
        Err(Failure::Usage(usage)) => Reply::ephemeral(format!("Usage: {usage}")),
        Err(Failure::Refused(why)) => Reply::ephemeral(format!("Sorry: {why}.")),
        Err(Failure::Fields(errors)) => Reply {
            field_errors: errors,
            ..Reply::ephemeral("Please correct the highlighted fields.")
        },
        Err(Failure::Internal(detail)) => {
            let error_id = uuid_like_id();
            tracing::error!(error_id, detail, platform = %invocation.platform, "command failed");
            Reply::ephemeral(format!(
                "Something went wrong on our side (error {error_id}); it has been logged."
            ))
        }
    }
}

/// A short id to quote to an operator, who finds the details in the log.
fn uuid_like_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

async fn dispatch(core: &Core, invocation: &Invocation) -> Outcome {
    // Who is asking, and which incident's channel this is: two independent reads, so
    // they go to the database together rather than one after the other.
    let (user, here) = futures_util::future::join(
        core.store
            .user_by_chat_identity(&invocation.platform, &invocation.user),
        core.store
            .incident_by_channel(&invocation.platform, &invocation.channel),
    )
    .await;
    let (user, here): (Option<User>, _) = (user?, here?);
    let (actor, own_role) = match &user {
        Some(u) => (Actor::User(u.id.clone()), u.role),
        // Unlinked people may look, not act, unless a group they are in grants a role.
        None => (Actor::System, Role::Viewer),
    };
    let role = core
        .settings
        .group_roles
        .iter()
        .filter(|g| g.platform == invocation.platform && invocation.groups.contains(&g.group))
        .map(|g| g.role)
        .fold(own_role, Ord::max);
    let actor_label = match &actor {
        Actor::User(id) => format!("user:{id}"),
        _ => format!("{}:{}", invocation.platform, invocation.user),
    };
    let ctx = Ctx {
        core,
        invocation,
        actor,
        actor_label,
        role,
        here,
    };
    match &invocation.input {
        Input::Button { action, value } => match action.as_str() {
            "status" => status::Status::for_incident(value).run(&ctx).await,
            "resolve" => resolve::Resolve::for_incident(value).run(&ctx).await,
            "action_confirm" => run::confirm(&ctx, value, true).await,
            "action_cancel" => run::confirm(&ctx, value, false).await,
            "statuspage_form" => statuspage::incident_form(&ctx, value).await,
            "statuspage_alert_form" => statuspage::alert_form(&ctx, value).await,
            bot_core::effects::POSTMORTEM_OWNER_BUTTON => {
                postmortem::take_ownership(&ctx, value).await
            }
            other => match alert::AlertButton::from_action(other) {
                Some(button) => button.run(&ctx, value).await,
                None => Err(Failure::Refused(format!("unknown button `{other}`"))),
            },
        },
        Input::DialogSubmit { dialog, fields } => match dialog.as_str() {
            declare::DIALOG => declare::Declare::from_dialog(fields)?.run(&ctx).await,
            other => match other.split_once(':') {
                Some((resolve::DIALOG, id)) => {
                    resolve::Resolve::from_dialog(id, fields)?.run(&ctx).await
                }
                Some((statuspage::DIALOG | statuspage::ALERT_DIALOG, _)) => {
                    statuspage::submitted(&ctx, other, fields).await
                }
                _ => Err(Failure::Refused(format!("unknown dialog `{other}`"))),
            },
        },
        Input::Pin {
            message_id,
            author,
            text,
        } => capture::pin(&ctx, message_id, author, text).await,
        Input::Said { message_id, text } => capture::said(&ctx, message_id, text).await,
        Input::Slash { command, text } => match command.as_str() {
            "incident" => incident(&ctx, text).await,
            "oncall" => oncall::OnCall::parse(text)?.run(&ctx).await,
            other => Err(Failure::Refused(format!(
                "unknown command /{other}; try /incident help"
            ))),
        },
    }
}

/// One `/incident …` command, parsed.
#[derive(Debug)]
pub(crate) enum Command {
    Help,
    /// `declare` without a title: the form.
    DeclareDialog,
    Declare(declare::Declare),
    Run(run::RunAction),
    Revert(run::Revert),
    Update(update::Update),
    Status(status::Status),
    Resolve(resolve::Resolve),
    List(list::List),
    Severity(severity::SetSeverity),
    Assign(assign::Assign),
    Responders(assign::AddResponder),
    Timeline(timeline::TimelineAdd),
    Alerts(alerts::OnAlerts),
    Link(link::Link),
    StatusPage(statuspage::StatusPage),
    Postmortem(postmortem::PostmortemCmd),
    Action(action::ActionCmd),
}

/// Parses the text after `/incident`: pure, so the whole grammar is tested in a table.
pub(crate) fn parse_incident(text: &str) -> Result<Command, Failure> {
    let text = text.trim();
    let (verb, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let args = args.trim();
    Ok(match verb.to_ascii_lowercase().as_str() {
        "" | "help" => Command::Help,
        "declare" if args.is_empty() => Command::DeclareDialog,
        "declare" => Command::Declare(declare::Declare::parse(args)?),
        "run" => Command::Run(run::RunAction::parse(args)?),
        "revert" => Command::Revert(run::Revert::parse(args)?),
        "update" => Command::Update(update::Update::parse(args)?),
        "status" => Command::Status(status::Status::parse(args)?),
        "resolve" => Command::Resolve(resolve::Resolve::parse(args)?),
        "list" => Command::List(list::List::parse(args)?),
        "severity" => Command::Severity(severity::SetSeverity::parse(args)?),
        "assign" => Command::Assign(assign::Assign::parse(args)?),
        "responders" => Command::Responders(assign::AddResponder::parse(args)?),
        "timeline" => Command::Timeline(timeline::TimelineAdd::parse(args)?),
        "ack" => Command::Alerts(alerts::OnAlerts::parse(alerts::Act::Acknowledge, args)?),
        "escalate" => Command::Alerts(alerts::OnAlerts::parse(alerts::Act::Escalate, args)?),
        "link" => Command::Link(link::Link::parse(args)?),
        "statuspage" => Command::StatusPage(statuspage::StatusPage::parse(args)?),
        "postmortem" => Command::Postmortem(postmortem::PostmortemCmd::parse(args)?),
        "action" => Command::Action(action::ActionCmd::parse(args)?),
        known if help::LATER.iter().any(|(name, _)| *name == known) => {
            let (_, when) = help::LATER
                .iter()
                .find(|(name, _)| *name == known)
                .expect("matched above");
            return Err(Failure::Refused(format!(
                "`{known}` is not available yet: {when}"
            )));
        }
        other => {
            return Err(Failure::Refused(format!(
                "unknown subcommand `{other}`; /incident help lists them"
            )));
        }
    })
}

async fn incident(ctx: &Ctx<'_>, text: &str) -> Outcome {
    match parse_incident(text)? {
        Command::Help => Ok(help::run()),
        Command::DeclareDialog => declare::dialog(ctx).await,
        Command::Declare(c) => c.run(ctx).await,
        Command::Run(c) => c.run(ctx).await,
        Command::Revert(c) => c.run(ctx).await,
        Command::Update(c) => c.run(ctx).await,
        Command::Status(c) => c.run(ctx).await,
        Command::Resolve(c) => c.run(ctx).await,
        Command::List(c) => c.run(ctx).await,
        Command::Severity(c) => c.run(ctx).await,
        Command::Assign(c) => c.run(ctx).await,
        Command::Responders(c) => c.run(ctx).await,
        Command::Timeline(c) => c.run(ctx).await,
        Command::Alerts(c) => c.run(ctx).await,
        Command::Link(c) => c.run(ctx).await,
        Command::StatusPage(c) => c.run(ctx).await,
        Command::Postmortem(c) => c.run(ctx).await,
        Command::Action(c) => c.run(ctx).await,
    }
}

/// Entry points for the fuzz targets in `fuzz/` (not an API): the pure parsers of chat
/// text and dialog submissions, with their results flattened to `Debug` text so that the
/// crate's own types stay private.
#[doc(hidden)]
pub mod fuzzing {
    use std::collections::BTreeMap;

    /// `/incident <text>`: the parsed command's `Debug`, or the usage/refusal text.
    pub fn parse_incident(text: &str) -> Result<String, String> {
        super::parse_incident(text)
            .map(|c| format!("{c:?}"))
            .map_err(|f| format!("{f:?}"))
    }

    /// `/oncall <text>`, as [`parse_incident`].
    pub fn parse_oncall(text: &str) -> Result<String, String> {
        super::oncall::OnCall::parse(text)
            .map(|c| format!("{c:?}"))
            .map_err(|f| format!("{f:?}"))
    }

    /// The leading incident reference of a command's arguments.
    pub fn incident_ref(args: &str) -> (Option<i64>, &str) {
        super::incident_ref(args)
    }

    /// A dialog submission, routed as [`super::handle`] routes it; `None` for dialogs whose
    /// values are only read while running (the status page forms) or unknown ones.
    pub fn dialog_submit(
        dialog: &str,
        fields: &BTreeMap<String, String>,
    ) -> Option<Result<String, String>> {
        let parsed = match dialog.split_once(':') {
            None if dialog == super::declare::DIALOG => {
                super::declare::Declare::from_dialog(fields).map(|c| format!("{c:?}"))
            }
            Some((super::resolve::DIALOG, id)) => {
                super::resolve::Resolve::from_dialog(id, fields).map(|c| format!("{c:?}"))
            }
            _ => return None,
        };
        Some(parsed.map_err(|f| format!("{f:?}")))
    }
}

#[cfg(test)]
mod grammar_tests;
