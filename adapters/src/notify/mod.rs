//! Notifiers: the core's [`Notifier`] port over one delivery channel each, a signed
//! webhook ([`webhook`]) and e-mail through an SMTP relay ([`smtp`]). Chat direct messages
//! go through the chat adapters instead. [`statuspage`] tells status page subscribers
//! over the same two transports; [`invite`] mails postmortem review invitations
//! (iCalendar) through the same relay.
//!
//! A notifier knows its transport and the [`Page`] it delivers, nothing of escalation: it
//! sends once and sorts the outcome into [`NotifyError`], so that the job runner can tell a
//! failure worth retrying (`Unavailable`, `RateLimited`) from one that never will succeed
//! (`Refused`).
//!
//! [`Notifier`]: bot_core::notify::Notifier
//! [`Page`]: bot_core::notify::Page
//! [`NotifyError`]: bot_core::notify::NotifyError

pub mod invite;
pub mod smtp;
pub mod statuspage;
pub mod webhook;

pub use invite::InviteMailer;
pub use smtp::{SmtpNotifier, SmtpSettings, SmtpTls};
pub use statuspage::{StatusPageMailer, StatusPageWebhook};
pub use webhook::WebhookNotifier;
