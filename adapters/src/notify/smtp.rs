//! E-mail notifier: sends a page as a plain-text mail through an SMTP relay (the
//! organisation's mail server, a provider's submission port, or a relay on the same host).
//!
//! The mail is for a person woken at night: the subject alone says how bad, which service
//! and what (`[CRITICAL] checkout: Disk full on db-1`), and the body has the rest and the
//! acknowledge link. SMTP's own reply classes decide the outcome: 4xx replies and connection
//! trouble are worth retrying, 5xx replies (unknown mailbox, relaying denied, bad
//! credentials) are not.

use std::fmt;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bot_core::clock::{Clock, SystemClock};
use bot_core::model::Alert;
use bot_core::notify::{Delivery, Notifier, NotifyError, Page};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// Per SMTP command. Shorter than lettre's 60 s default so that a stuck relay turns into a
/// retry (and the escalation goes on) sooner; still long enough for a slow, busy relay.
const TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text, for a relay on the same host or network (port 25). Never with a password
    /// over a network you do not trust.
    None,
    /// Plain connection upgraded with STARTTLS, which is required (usually port 587).
    StartTls,
    /// TLS from the first byte, "SMTPS" (usually port 465).
    Tls,
}

/// Where and as whom to send mail. `username` and `password` go together.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, `tocsin@example.com` or `Tocsin <tocsin@example.com>`.
    pub from: String,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .finish()
    }
}

/// An SMTP relay from `[smtp]`: the sender and a pooled transport, built on first use
/// (lettre's connection pool starts a Tokio task when it is created, and constructing a
/// notifier from configuration should not need a running runtime). Pages and status page
/// mail go out through one of these each.
pub(crate) struct Relay {
    builder: AsyncSmtpTransportBuilder,
    transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    pub(crate) from: Mailbox,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: SmtpTls,
}

impl Relay {
    /// Checks the settings and prepares the transport. Connects only on the first mail, so
    /// a relay that is down at start-up delays mail, not Tocsin's start.
    pub(crate) fn new(settings: SmtpSettings) -> Result<Self, String> {
        let SmtpSettings {
            host,
            port,
            tls,
            username,
            password,
            from,
        } = settings;
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("SMTP sender `{from}` is not an e-mail address: {e}"))?;
        let builder = match tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)
                .map_err(|e| format!("SMTP host `{host}`: {e}"))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)
                .map_err(|e| format!("SMTP host `{host}`: {e}"))?,
        };
        let builder = builder.port(port).timeout(Some(TIMEOUT));
        let builder = match (username, password) {
            (Some(user), Some(password)) => builder.credentials(Credentials::new(user, password)),
            (None, None) => builder,
            _ => return Err("SMTP username and password go together: set both or neither".into()),
        };
        Ok(Self {
            builder,
            transport: OnceLock::new(),
            from,
            host,
            port,
            tls,
        })
    }

    pub(crate) fn transport(&self) -> &AsyncSmtpTransport<Tokio1Executor> {
        self.transport.get_or_init(|| self.builder.clone().build())
    }
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the transport or its builder: they hold the credentials.
        f.debug_struct("Relay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// Delivers pages by e-mail to `Page::to`.
pub struct SmtpNotifier {
    relay: Relay,
    clock: Arc<dyn Clock>,
}

impl SmtpNotifier {
    /// Checks the settings and prepares the (pooled) transport; see [`Relay::new`].
    pub fn new(settings: SmtpSettings) -> Result<Self, String> {
        Ok(Self {
            relay: Relay::new(settings)?,
            clock: Arc::new(SystemClock),
        })
    }

    /// Dates mails by `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

impl fmt::Debug for SmtpNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the transport or its builder: they hold the credentials.
        f.debug_struct("SmtpNotifier")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    fn channel(&self) -> &str {
        "email"
    }

    async fn deliver(&self, page: &Page) -> Result<Delivery, NotifyError> {
        let to: Mailbox = page.to.parse().map_err(|e| {
            NotifyError::Refused(format!("`{}` is not an e-mail address: {e}", page.to))
        })?;
        let message = Message::builder()
            .from(self.relay.from.clone())
            .to(to)
            .subject(subject(&page.alert))
            .date(SystemTime::from(self.clock.now()))
            .message_id(None)
            .header(ContentType::TEXT_PLAIN)
            .body(body(page))
            .map_err(|e| NotifyError::Refused(format!("cannot build the mail: {e}")))?;

        let response = self.relay.transport().send(message).await.map_err(|e| {
            if e.is_permanent() {
                NotifyError::Refused(format!("SMTP server refused the mail: {e}"))
            } else {
                NotifyError::Unavailable(format!("SMTP: {e}"))
            }
        })?;
        // Relays usually answer DATA with their queue id ("2.0.0 Ok: queued as 4F3D21"):
        // the handle to find this mail in their logs.
        let reply = response.message().collect::<Vec<_>>().join(" ");
        let reply = reply.trim();
        Ok(Delivery {
            provider_id: (!reply.is_empty()).then(|| reply.to_owned()),
        })
    }
}

/// `[CRITICAL] checkout: Disk full on db-1`. The summary comes from a monitoring tool, so
/// line breaks and other control characters are flattened to keep the subject one line.
fn subject(alert: &Alert) -> String {
    let summary: String = alert
        .summary
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "[{}] {}: {}",
        alert.severity.as_str().to_ascii_uppercase(),
        alert.service,
        summary.trim()
    )
}

fn body(page: &Page) -> String {
    let alert = &page.alert;
    let mut text = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason only.
    let _ = writeln!(text, "{}", alert.summary.trim());
    let _ = writeln!(text);
    let _ = writeln!(text, "Service:   {}", alert.service);
    let _ = writeln!(text, "Severity:  {}", alert.severity);
    let _ = writeln!(text, "Urgency:   {}", alert.urgency);
    let _ = writeln!(text, "Status:    {}", alert.status);
    let _ = writeln!(text, "Dedup key: {}", alert.dedup_key);
    let _ = writeln!(
        text,
        "Opened:    {}",
        alert.created_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let _ = writeln!(text, "Alert id:  {}", alert.id);
    if !alert.links.is_empty() {
        let _ = writeln!(text, "Links:");
        for link in &alert.links {
            match &link.text {
                Some(label) => {
                    let _ = writeln!(text, "  {label}: {}", link.href);
                }
                None => {
                    let _ = writeln!(text, "  {}", link.href);
                }
            }
        }
    }
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "You are paged: level {}, attempt {}",
        page.level, page.attempt
    );
    if let Some(url) = &page.ack_url {
        let _ = writeln!(text, "Acknowledge: {url}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SmtpSettings {
        SmtpSettings {
            host: "smtp.example.com".into(),
            port: 587,
            tls: SmtpTls::StartTls,
            username: Some("tocsin".into()),
            password: Some("hunter2-smtp".into()),
            from: "Tocsin <tocsin@example.com>".into(),
        }
    }

    #[test]
    fn debug_output_hides_the_password() {
        let settings = settings();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2-smtp"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
        let notifier = SmtpNotifier::new(settings).unwrap();
        let debug = format!("{notifier:?}");
        assert!(!debug.contains("hunter2-smtp"), "{debug}");
    }

    #[test]
    fn settings_are_checked_up_front() {
        let bad_from = SmtpSettings {
            from: "not an address".into(),
            ..settings()
        };
        assert!(
            SmtpNotifier::new(bad_from)
                .unwrap_err()
                .contains("not an address")
        );
        let half_credentials = SmtpSettings {
            password: None,
            ..settings()
        };
        assert!(
            SmtpNotifier::new(half_credentials)
                .unwrap_err()
                .contains("both or neither")
        );
        for tls in [SmtpTls::None, SmtpTls::StartTls, SmtpTls::Tls] {
            let ok = SmtpSettings { tls, ..settings() };
            assert!(SmtpNotifier::new(ok).is_ok(), "{tls:?}");
        }
    }

    #[test]
    fn subject_is_one_line_even_when_the_summary_is_not() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T03:00:00Z")
            .unwrap()
            .to_utc();
        let alert = Alert::open(&bot_core::model::NewAlert {
            id: bot_core::model::AlertId::new(),
            service: "checkout".into(),
            source: "generic".into(),
            dedup_key: "k".into(),
            severity: bot_core::model::AlertSeverity::Error,
            urgency: bot_core::model::Urgency::High,
            summary: "  Payments failing\r\nBcc: victim@example.com\t(5xx) ".into(),
            details: serde_json::json!({}),
            labels: Default::default(),
            links: vec![],
            at,
        });
        assert_eq!(
            subject(&alert),
            "[ERROR] checkout: Payments failing  Bcc: victim@example.com (5xx)"
        );
    }

    #[test]
    fn tls_modes_read_from_configuration_words() {
        #[derive(serde::Deserialize)]
        struct Holder {
            tls: SmtpTls,
        }
        for (word, tls) in [
            ("none", SmtpTls::None),
            ("starttls", SmtpTls::StartTls),
            ("tls", SmtpTls::Tls),
        ] {
            let parsed: Holder =
                serde_json::from_value(serde_json::json!({ "tls": word })).unwrap();
            assert_eq!(parsed.tls, tls);
        }
    }
}
