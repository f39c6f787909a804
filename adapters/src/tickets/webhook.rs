//! GitHub's webhooks for action-item tickets: the `X-Hub-Signature-256` check (HMAC-SHA256
//! of the raw body with the webhook secret, compared in constant time) and the `issues`
//! events that move an item: `closed` marks it done, `reopened` opens it again. Every
//! other event and action is recognised and ignored, so GitHub sees a 2xx and does not
//! mark the hook as failing.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// The environment variable holding the webhook secret, as set in the repository's (or
/// organisation's) webhook settings.
pub const SECRET_ENV: &str = "GITHUB_WEBHOOK_SECRET";

/// The header carrying the signature: `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// The header naming the event: `issues`, `ping`, …
pub const EVENT_HEADER: &str = "x-github-event";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request has no X-Hub-Signature-256 header")]
    Missing,
    #[error("X-Hub-Signature-256 is not `sha256=` and 64 hexadecimal digits")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match the body signed with the webhook secret")]
    Mismatch,
}

/// Checks `header` against `body` signed with `secret`.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let claimed = header
        .trim()
        .strip_prefix("sha256=")
        .and_then(|hex_digits| hex::decode(hex_digits).ok())
        .filter(|bytes| bytes.len() == 32)
        .ok_or(SignatureError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.verify_slice(&claimed)
        .map_err(|_| SignatureError::Mismatch)
}

/// `sha256=<hex>` for `body`: what GitHub sends, for tests and tools that play GitHub.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What a delivery asks of Tocsin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    /// GitHub checking the hook works.
    Ping,
    /// Issue `key` (`owner/repo#12`) was closed (`done`) or reopened, by `sender`.
    Issue {
        key: String,
        done: bool,
        sender: Option<String>,
    },
    /// Nothing for Tocsin; says what was ignored.
    Ignored(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {event} payload is not what GitHub documents: {reason}")]
pub struct PayloadError {
    pub event: String,
    pub reason: String,
}

#[derive(Deserialize)]
struct IssuesPayload {
    action: String,
    issue: Issue,
    repository: Repository,
    sender: Option<Sender>,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Sender {
    login: String,
}

/// Reads a delivery of `event` (the `X-GitHub-Event` header). Malformed JSON, or an
/// `issues` payload without its issue and repository, is an error; anything else that is
/// JSON and not for us is [`WebhookEvent::Ignored`].
pub fn parse_event(event: &str, body: &[u8]) -> Result<WebhookEvent, PayloadError> {
    let bad = |reason: String| PayloadError {
        event: event.to_owned(),
        reason,
    };
    match event {
        "ping" => {
            serde_json::from_slice::<serde_json::Value>(body).map_err(|e| bad(e.to_string()))?;
            Ok(WebhookEvent::Ping)
        }
        "issues" => {
            let payload: IssuesPayload =
                serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
            let done = match payload.action.as_str() {
                "closed" => true,
                "reopened" => false,
                other => return Ok(WebhookEvent::Ignored(format!("issues action `{other}`"))),
            };
            Ok(WebhookEvent::Issue {
                key: format!("{}#{}", payload.repository.full_name, payload.issue.number),
                done,
                sender: payload.sender.map(|s| s.login),
            })
        }
        other => {
            serde_json::from_slice::<serde_json::Value>(body).map_err(|e| bad(e.to_string()))?;
            Ok(WebhookEvent::Ignored(format!("event `{other}`")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_checked_against_the_body_and_secret() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let good = sign(b"s3cret", body);
        assert_eq!(verify_signature(b"s3cret", body, Some(&good)), Ok(()));
        assert_eq!(
            verify_signature(b"other", body, Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"s3cret", b"{}", Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"s3cret", body, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(b"s3cret", body, Some("sha1=abcd")),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn other_issue_actions_and_events_are_ignored_and_bad_json_is_an_error() {
        let opened =
            br#"{"action":"opened","issue":{"number":1},"repository":{"full_name":"a/b"}}"#;
        assert!(matches!(
            parse_event("issues", opened),
            Ok(WebhookEvent::Ignored(_))
        ));
        assert!(matches!(
            parse_event("push", b"{}"),
            Ok(WebhookEvent::Ignored(_))
        ));
        assert!(parse_event("issues", b"{not json").is_err());
        assert!(parse_event("issues", br#"{"action":"closed"}"#).is_err());
    }
}
