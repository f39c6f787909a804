//! The `ChatPlatform` port and the platform-neutral message it carries. Each adapter renders
//! a [`Message`] in its platform's own format and turns button presses back into commands.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{AlertSeverity, ChannelRef, Severity};

/// The colour of a card: how bad the thing it shows is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    Critical,
    Major,
    Minor,
    Info,
    Resolved,
}

impl From<Severity> for Tone {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Sev1 => Tone::Critical,
            Severity::Sev2 => Tone::Major,
            Severity::Sev3 => Tone::Minor,
            Severity::Sev4 => Tone::Info,
        }
    }
}

impl From<AlertSeverity> for Tone {
    fn from(s: AlertSeverity) -> Self {
        match s {
            AlertSeverity::Critical => Tone::Critical,
            AlertSeverity::Error => Tone::Major,
            AlertSeverity::Warning => Tone::Minor,
            AlertSeverity::Info => Tone::Info,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ButtonStyle {
    Primary,
    Danger,
    Default,
}

/// A button on a card. Pressing it comes back to the bot as `action` with `value`
/// (e.g. `resolve` with an incident id), whatever the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub action: String,
    pub value: String,
    pub label: String,
    pub style: ButtonStyle,
}

impl Button {
    /// Actions whose press opens a form. Platforms that open forms only from buttons made
    /// for it (Teams' `task/fetch`) render these so.
    pub const FORM_ACTIONS: &'static [&'static str] = &["statuspage_form", "statuspage_alert_form"];

    pub fn opens_form(&self) -> bool {
        Self::FORM_ACTIONS.contains(&self.action.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub label: String,
    pub value: String,
}

/// A platform-neutral message: a card with a title, a colour, fields, paragraphs and
/// buttons, or just text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Message {
    pub title: Option<String>,
    pub tone: Option<Tone>,
    pub fields: Vec<Field>,
    pub text: Vec<String>,
    pub buttons: Vec<Button>,
    /// A small line under the card: who, when, where.
    pub context: Option<String>,
}

impl Message {
    pub fn text(text: impl Into<String>) -> Self {
        Message {
            text: vec![text.into()],
            ..Default::default()
        }
    }

    /// All the text of the message, for plain-text fallbacks and notifications.
    pub fn plain(&self) -> String {
        let mut out = Vec::new();
        out.extend(self.title.clone());
        out.extend(
            self.fields
                .iter()
                .map(|f| format!("{}: {}", f.label, f.value)),
        );
        out.extend(self.text.iter().cloned());
        out.join("\n")
    }
}

/// A form the platform shows over the conversation (a Slack modal, a Discord modal, a
/// Teams dialog). Submitting it comes back as a dialog submission with `id` and the
/// values by field name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dialog {
    pub id: String,
    pub title: String,
    pub submit_label: String,
    pub fields: Vec<DialogField>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogField {
    pub name: String,
    pub label: String,
    pub kind: DialogFieldKind,
    pub required: bool,
    pub initial: Option<String>,
    /// A hint shown in the empty field.
    pub placeholder: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialogFieldKind {
    /// One line of text, at most `max_length` characters.
    Text { max_length: usize },
    /// Several lines.
    Paragraph { max_length: usize },
    /// One of `options` (value, label).
    Select { options: Vec<(String, String)> },
    /// Any number of `options`, submitted as values separated by commas.
    MultiSelect { options: Vec<(String, String)> },
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("rate limited by the chat platform; retry after {retry_after:?}")]
    RateLimited {
        retry_after: Option<std::time::Duration>,
    },
    #[error("{0} is not supported on this platform")]
    Unsupported(&'static str),
    #[error("chat platform refused: {0}")]
    Refused(String),
    #[error("chat platform unreachable: {0}")]
    Unavailable(String),
}

impl From<ChatError> for crate::jobs::JobError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::RateLimited { retry_after } => crate::jobs::JobError::Retry {
                message: e.to_string(),
                after: retry_after,
            },
            ChatError::Unavailable(_) => crate::jobs::JobError::retry(e),
            ChatError::Unsupported(_) | ChatError::Refused(_) => {
                crate::jobs::JobError::permanent(e)
            }
        }
    }
}

/// What Tocsin needs from a chat platform. Channel and user ids are the platform's own.
#[async_trait]
pub trait ChatPlatform: Send + Sync {
    /// The platform's name as used in configuration and job queues (`chat:<name>`).
    fn name(&self) -> &str;

    /// Where new incidents are announced, if configured.
    fn announcements_channel(&self) -> Option<String>;

    /// Posts `message` in `channel`; returns the platform's message id.
    async fn post_message(&self, channel: &str, message: &Message) -> Result<String, ChatError>;
    async fn update_message(
        &self,
        channel: &str,
        message_id: &str,
        message: &Message,
    ) -> Result<(), ChatError>;
    /// Creates a channel (or a thread where the platform has no channels to create), or
    /// returns the existing one with that name.
    async fn create_channel(&self, name: &str, topic: &str) -> Result<ChannelRef, ChatError>;
    async fn invite(&self, channel: &str, users: &[String]) -> Result<(), ChatError>;
    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), ChatError>;
    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), ChatError>;
    async fn send_dm(&self, user: &str, message: &Message) -> Result<String, ChatError>;
}
