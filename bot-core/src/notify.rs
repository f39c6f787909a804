//! The `Notifier` port: deliver a page to a person over one channel (webhook, e-mail, SMS,
//! voice) and say how it went. Chat direct messages go through `ChatPlatform` instead.

use async_trait::async_trait;

use crate::jobs::JobError;
use crate::model::{Alert, User};

/// One page to deliver: which alert, to whom, at which step of the escalation.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub alert: Alert,
    pub user: User,
    /// Where to deliver on this channel: a URL, an e-mail address, a phone number (E.164).
    pub to: String,
    /// 1-based level and attempt, for the message ("level 1, attempt 2").
    pub level: i32,
    pub attempt: i32,
    /// A link that acknowledges the alert when opened, if Tocsin has a public URL.
    pub ack_url: Option<String>,
    /// The same for every run of one page job and different for two jobs (it is the job's
    /// id): a process that died after delivering but before recording it sends the page
    /// again under the same key, so a receiver can drop the repeat.
    pub idempotency_key: String,
}

/// A delivered page: the provider's id for it (message SID, SMTP queue id), if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    pub provider_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        retry_after: Option<std::time::Duration>,
    },
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The provider refused this page for good (bad number, rejected address).
    #[error("refused: {0}")]
    Refused(String),
}

impl From<NotifyError> for JobError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::RateLimited { retry_after } => JobError::Retry {
                message: e.to_string(),
                after: retry_after,
            },
            NotifyError::Unavailable(_) => JobError::retry(e),
            NotifyError::Refused(_) => JobError::permanent(e),
        }
    }
}

#[async_trait]
pub trait Notifier: Send + Sync {
    /// The channel this notifier delivers on: `webhook`, `email`, `sms` or `voice`.
    fn channel(&self) -> &str;
    async fn deliver(&self, page: &Page) -> Result<Delivery, NotifyError>;
}
