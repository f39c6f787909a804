//! Status page subscribers over e-mail and webhooks: the core's [`SubscriberChannel`] port,
//! with the transports of the page notifiers (the same `[smtp]` relay, the same signing).
//!
//! # E-mail
//!
//! [`StatusPageMailer`] sends the double opt-in mail (the confirmation link) and one plain
//! text mail per notice. Every notice carries its unsubscribe link twice: in the body, for
//! people, and in `List-Unsubscribe: <url>` with `List-Unsubscribe-Post:
//! List-Unsubscribe=One-Click` (RFC 8058), for mail clients that offer an "unsubscribe"
//! button and POST to the link. Mailbox providers use one-click links only over HTTPS, so
//! the page's URL should be one in production. SMTP's reply classes decide the outcome, as
//! for pages: 4xx and connection trouble are retried, 5xx are not.
//!
//! # Webhooks
//!
//! [`StatusPageWebhook`] POSTs the notice's JSON (documented on
//! [`bot_core::statuspage::subscribers::notice_payload`]) with `Content-Type:
//! application/json`, `X-Tocsin-Event` (`incident.update` or `component.update`), and the
//! page webhooks' signature: `X-Tocsin-Timestamp` and `X-Tocsin-Signature: sha256=<hex>`,
//! the HMAC-SHA256 of `{timestamp}.{body}` keyed with `TOCSIN_WEBHOOK_SECRET` (see
//! [`super::webhook`], whose [`verify`](super::webhook::verify) a receiver can copy).
//! A 2xx is delivered; 429, and 503 with `Retry-After`, are retried when the receiver
//! says; other 5xx, 408 and no answer are retried with backoff; other 4xx are refused.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bot_core::clock::{Clock, SystemClock};
use bot_core::model::{Subscriber, SubscriberKind};
use bot_core::notify::NotifyError;
use bot_core::statuspage::subscribers::{Confirmation, Notice, SubscriberChannel};
use lettre::AsyncTransport;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, Message, MessageBuilder};

use super::SmtpSettings;
use super::smtp::Relay;
use super::webhook::{Patience, post_signed};

/// Names the kind of notice a webhook carries, so that a receiver can route it before
/// parsing the body.
pub const EVENT_HEADER: &str = "X-Tocsin-Event";

/// Sends status page mail through the `[smtp]` relay.
pub struct StatusPageMailer {
    relay: Relay,
    clock: Arc<dyn Clock>,
}

impl StatusPageMailer {
    /// Checks the settings and prepares the pooled transport; connects on first use.
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

    fn message(&self, to: &str, subject: &str) -> Result<MessageBuilder, NotifyError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| NotifyError::Refused(format!("`{to}` is not an e-mail address: {e}")))?;
        Ok(Message::builder()
            .from(self.relay.from.clone())
            .to(to)
            .subject(subject)
            .date(SystemTime::from(self.clock.now()))
            .message_id(None)
            // Not a person writing: auto-responders stay quiet (RFC 3834).
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .header(ContentType::TEXT_PLAIN))
    }

    async fn send(&self, builder: MessageBuilder, text: String) -> Result<(), NotifyError> {
        // Quoted-printable: the text has non-ASCII punctuation and long link lines, which
        // pass any relay this way, 8BITMIME or not.
        let body = Body::new_with_encoding(text, ContentTransferEncoding::QuotedPrintable)
            .map_err(|_| NotifyError::Refused("cannot encode the mail body".into()))?;
        let message = builder
            .body(body)
            .map_err(|e| NotifyError::Refused(format!("cannot build the mail: {e}")))?;
        self.relay.transport().send(message).await.map_err(|e| {
            if e.is_permanent() {
                NotifyError::Refused(format!("SMTP server refused the mail: {e}"))
            } else {
                NotifyError::Unavailable(format!("SMTP: {e}"))
            }
        })?;
        Ok(())
    }
}

impl fmt::Debug for StatusPageMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the transport or its builder: they hold the credentials.
        f.debug_struct("StatusPageMailer")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

/// The notice's text with the unsubscribe link under it.
pub fn mail_body(notice: &Notice) -> String {
    let mut text = notice.text.clone();
    if let Some(url) = &notice.unsubscribe_url {
        text.push_str("\n-- \n");
        text.push_str(&format!(
            "You receive this because you subscribed to {}.\nUnsubscribe: {url}\n",
            notice.page_name
        ));
    }
    text
}

#[async_trait]
impl SubscriberChannel for StatusPageMailer {
    fn kind(&self) -> SubscriberKind {
        SubscriberKind::Email
    }

    async fn deliver(&self, subscriber: &Subscriber, notice: &Notice) -> Result<(), NotifyError> {
        let mut builder = self.message(&subscriber.target, &notice.subject)?;
        if let Some(url) = &notice.unsubscribe_url {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        self.send(builder, mail_body(notice)).await
    }

    async fn confirm(
        &self,
        subscriber: &Subscriber,
        confirmation: &Confirmation,
    ) -> Result<(), NotifyError> {
        let builder = self.message(&subscriber.target, &confirmation.subject)?;
        self.send(builder, confirmation.text.clone()).await
    }
}

/// POSTs notices to subscribed webhook URLs, signed with one shared secret.
pub struct StatusPageWebhook {
    secret: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl StatusPageWebhook {
    /// `secret` keys the HMAC of every request (`TOCSIN_WEBHOOK_SECRET`, as for page
    /// webhooks); `http` is the process's shared client.
    pub fn new(secret: String, http: reqwest::Client) -> Self {
        Self {
            secret,
            http,
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads the signed timestamp from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

impl fmt::Debug for StatusPageWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusPageWebhook")
            .field("secret", &"***")
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SubscriberChannel for StatusPageWebhook {
    fn kind(&self) -> SubscriberKind {
        SubscriberKind::Webhook
    }

    async fn deliver(&self, subscriber: &Subscriber, notice: &Notice) -> Result<(), NotifyError> {
        let now = self.clock.now();
        let body = serde_json::to_vec(&notice.payload).expect("a JSON value serializes");
        let event = notice
            .payload
            .get("event")
            .and_then(|e| e.as_str())
            .unwrap_or("notice")
            .to_owned();
        // A 503 that says when to come back is a receiver asking for time, as a 429 is.
        post_signed(
            &self.http,
            &subscriber.target,
            &self.secret,
            now,
            body,
            Some((EVENT_HEADER, event)),
            Patience::Honour503,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::SmtpTls;
    use bot_core::statuspage::StatusPageSettings;
    use bot_core::statuspage::subscribers::{NoticeContent, compose};

    fn notice(unsubscribe: Option<&str>) -> Notice {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T03:00:00Z")
            .unwrap()
            .to_utc();
        compose(
            &StatusPageSettings {
                name: "Acme Status".into(),
                url: Some("https://status.example.com/status".into()),
                ..Default::default()
            },
            NoticeContent::Components {
                changes: vec![bot_core::model::AffectedComponent {
                    component: "api".into(),
                    old_status: bot_core::model::ComponentStatus::Operational,
                    new_status: bot_core::model::ComponentStatus::MajorOutage,
                }],
                at,
            },
            unsubscribe.map(str::to_owned),
        )
    }

    #[test]
    fn mail_body_ends_with_the_unsubscribe_link_when_there_is_one() {
        let body = mail_body(&notice(Some("https://s.example/u?token=ab")));
        assert!(body.starts_with("Component status changed"), "{body}");
        assert!(
            body.ends_with(
                "\n-- \nYou receive this because you subscribed to Acme Status.\nUnsubscribe: https://s.example/u?token=ab\n"
            ),
            "{body}"
        );
        assert!(!mail_body(&notice(None)).contains("Unsubscribe"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let webhook = StatusPageWebhook::new("whsec_do_not_print".into(), reqwest::Client::new());
        assert!(!format!("{webhook:?}").contains("whsec_do_not_print"));
        let mailer = StatusPageMailer::new(SmtpSettings {
            host: "smtp.example.com".into(),
            port: 587,
            tls: SmtpTls::StartTls,
            username: Some("tocsin".into()),
            password: Some("hunter2-smtp".into()),
            from: "Tocsin <tocsin@example.com>".into(),
        })
        .unwrap();
        assert!(!format!("{mailer:?}").contains("hunter2-smtp"));
    }

    #[test]
    fn mailer_settings_are_checked_up_front() {
        let settings = |from: &str, password: Option<&str>| SmtpSettings {
            host: "smtp.example.com".into(),
            port: 25,
            tls: SmtpTls::None,
            username: Some("u".into()),
            password: password.map(str::to_owned),
            from: from.into(),
        };
        assert!(
            StatusPageMailer::new(settings("nope", Some("p")))
                .unwrap_err()
                .contains("not an e-mail address")
        );
        assert!(
            StatusPageMailer::new(settings("a@example.com", None))
                .unwrap_err()
                .contains("both or neither")
        );
    }

    /// A receiver on loopback answering every request with `status` and `headers`.
    async fn answering(status: u16, headers: &'static [(&'static str, &'static str)]) -> String {
        let app = axum::Router::new().fallback(move || async move {
            let mut response = axum::http::Response::builder().status(status);
            for (name, value) in headers {
                response = response.header(*name, *value);
            }
            response.body(axum::body::Body::from("busy")).unwrap()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
    }

    #[tokio::test]
    async fn webhook_outcomes_follow_the_status_and_retry_after() {
        let webhook = StatusPageWebhook::new("s".into(), reqwest::Client::new());
        let subscriber = |target: String| Subscriber {
            id: Default::default(),
            kind: SubscriberKind::Webhook,
            target,
            components: vec![],
            created_at: chrono::Utc::now(),
            confirmed_at: Some(chrono::Utc::now()),
        };
        let notice = notice(None);
        let outcome = async |status, headers| {
            let url = answering(status, headers).await;
            webhook.deliver(&subscriber(url), &notice).await
        };
        assert!(outcome(202, &[]).await.is_ok());
        for (status, headers, after) in [
            (503, &[("retry-after", "7")][..], Some(7)),
            (429, &[("retry-after", "2")][..], Some(2)),
            (429, &[][..], None),
        ] {
            match outcome(status, headers).await {
                Err(NotifyError::RateLimited { retry_after }) => {
                    assert_eq!(
                        retry_after,
                        after.map(std::time::Duration::from_secs),
                        "{status}"
                    );
                }
                other => panic!("{status}: {other:?}"),
            }
        }
        assert!(matches!(
            outcome(503, &[]).await,
            Err(NotifyError::Unavailable(ref m)) if m.contains("503") && m.contains("busy")
        ));
        assert!(matches!(
            outcome(500, &[]).await,
            Err(NotifyError::Unavailable(_))
        ));
        assert!(matches!(
            outcome(410, &[]).await,
            Err(NotifyError::Refused(_))
        ));
    }
}
