//! Webhook notifier: POSTs a page as JSON to the URL a user configured, signed so that the
//! receiver can tell it came from this Tocsin and is not a replay of an old delivery.
//!
//! # What is signed
//!
//! Every request carries two headers:
//!
//! - `X-Tocsin-Timestamp: <unix seconds>`, when the page was sent, as decimal digits;
//! - `X-Tocsin-Signature: sha256=<hex>`, where `<hex>` is the lower-case hex HMAC-SHA256,
//!   keyed with the shared secret, of the bytes `{timestamp}.{body}`: the timestamp
//!   header's value exactly as sent, one ASCII `.`, then the request body byte for byte.
//!
//! The timestamp is signed (as Stripe and Slack do) so that someone who captured one
//! delivery cannot send it again later with a fresh timestamp. A receiver recomputes the
//! signature over the raw body it received (before any JSON parsing) with [`verify`], and
//! refuses timestamps more than 5 minutes away from its own clock. The body's shape is
//! documented on [`WebhookPayload`].
//!
//! # Repeats
//!
//! Delivery is at least once: a Tocsin process that dies after the receiver took a page but
//! before recording that sends the page again. Every page carries `Idempotency-Key: <key>`,
//! the same on every such repeat and different for any other page (even of the same alert,
//! attempt and person), so a receiver that remembers recent keys can drop repeats.

use std::error::Error as _;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bot_core::clock::{Clock, SystemClock};
use bot_core::model::{Alert, AlertId, AlertSeverity, AlertStatus, Link, Urgency};
use bot_core::notify::{Delivery, Notifier, NotifyError, Page};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::Serialize;
use sha2::Sha256;

/// Header with the unix time the page was sent, part of what is signed.
pub const TIMESTAMP_HEADER: &str = "X-Tocsin-Timestamp";
/// Header with `sha256=<hex HMAC>`; see the module documentation for what is signed.
pub const SIGNATURE_HEADER: &str = "X-Tocsin-Signature";
/// Header naming the page (not the request): equal on repeats of one page; see "Repeats".
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// A receiver that has not answered by then is treated as down, so that the page is retried
/// (and the escalation moves on) instead of a worker waiting on it.
const TIMEOUT: Duration = Duration::from_secs(10);

/// How much of an error response's body goes into the error: enough to show the
/// receiver's reason, not enough to fill the job table with an HTML error page.
const EXCERPT_CHARS: usize = 200;

/// Delivers pages to webhook URLs (`Page::to`), signed with one shared secret.
pub struct WebhookNotifier {
    secret: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl WebhookNotifier {
    /// `secret` keys the HMAC of every request; `http` is the process's shared client
    /// (connection pool, proxy settings). Each request gets its own 10-second timeout.
    pub fn new(secret: String, http: reqwest::Client) -> Self {
        Self {
            secret,
            http,
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads `sent_at` and the signed timestamp from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("secret", &"***")
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn channel(&self) -> &str {
        "webhook"
    }

    async fn deliver(&self, page: &Page) -> Result<Delivery, NotifyError> {
        let now = self.clock.now();
        let body = serde_json::to_vec(&WebhookPayload::new(page, now))
            .expect("a page has only string keys and serializable values");
        post_signed(
            &self.http,
            &page.to,
            &self.secret,
            now,
            body,
            Some((IDEMPOTENCY_KEY_HEADER, page.idempotency_key.clone())),
            Patience::RateLimitOnly,
        )
        .await?;
        Ok(Delivery::default())
    }
}

/// Which answers besides 429 say "come back later" rather than "down".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Patience {
    /// Only 429: a page goes on to the next rule rather than wait on a 503.
    RateLimitOnly,
    /// Also a 503 that says when to come back (`Retry-After`).
    Honour503,
}

/// POSTs the JSON `body` to `url`, signed with `secret` at `now` (see the module
/// documentation), with one more header if given; maps the answer to a delivery outcome:
/// 2xx is delivered, 429 (and per `patience` a 503 with Retry-After) rate-limited, 5xx and
/// 408 unavailable, any other refused for good.
pub(crate) async fn post_signed(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    now: DateTime<Utc>,
    body: Vec<u8>,
    extra_header: Option<(&'static str, String)>,
    patience: Patience,
) -> Result<(), NotifyError> {
    let timestamp = now.timestamp();
    let mut request = http
        .post(url)
        .timeout(TIMEOUT)
        .header(CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, sign(secret, timestamp, &body));
    if let Some((name, value)) = extra_header {
        request = request.header(name, value);
    }
    let response = request.body(body).send().await.map_err(request_error)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let after = retry_after(response.headers(), now);
    if status == StatusCode::TOO_MANY_REQUESTS
        || (patience == Patience::Honour503
            && status == StatusCode::SERVICE_UNAVAILABLE
            && after.is_some())
    {
        return Err(NotifyError::RateLimited { retry_after: after });
    }
    let reason = match excerpt(response).await {
        Some(text) => format!("webhook answered {status}: {text}"),
        None => format!("webhook answered {status}"),
    };
    // 408 is the receiver timing out on its side: as transient as a 5xx.
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Err(NotifyError::Unavailable(reason))
    } else {
        Err(NotifyError::Refused(reason))
    }
}

/// The JSON body of a webhook page (`Content-Type: application/json`):
///
/// ```json
/// {
///   "event": "page",
///   "alert": {
///     "id": "0193a5b0-7c1e-7000-8000-000000000001",
///     "service": "checkout",
///     "summary": "Disk full on db-1",
///     "severity": "critical",
///     "urgency": "high",
///     "status": "open",
///     "dedup_key": "disk-full-db-1",
///     "links": [{ "href": "https://runbooks.example/disk", "text": "Runbook" }],
///     "created_at": "2026-11-24T03:00:00Z"
///   },
///   "user": { "id": "alice", "name": "Alice Doe" },
///   "level": 1,
///   "attempt": 2,
///   "ack_url": "https://tocsin.example/ack/…",
///   "sent_at": "2026-11-24T03:05:00Z"
/// }
/// ```
///
/// `severity` is `critical`, `error`, `warning` or `info`; `urgency` `high` or `low`;
/// `status` `open`, `acknowledged` or `resolved`. A link's `text` and `ack_url` are `null`
/// when absent. `level` and `attempt` count from 1. Times are RFC 3339 in UTC.
#[derive(Debug, Serialize)]
pub struct WebhookPayload<'a> {
    /// Always `page`; names the kind of body should Tocsin send others later.
    pub event: &'static str,
    pub alert: AlertPayload<'a>,
    pub user: UserPayload<'a>,
    pub level: i32,
    pub attempt: i32,
    pub ack_url: Option<&'a str>,
    pub sent_at: DateTime<Utc>,
}

/// The alert part of a [`WebhookPayload`]: what a receiver needs to show or route it.
#[derive(Debug, Serialize)]
pub struct AlertPayload<'a> {
    pub id: AlertId,
    pub service: &'a str,
    pub summary: &'a str,
    pub severity: AlertSeverity,
    pub urgency: Urgency,
    pub status: AlertStatus,
    pub dedup_key: &'a str,
    pub links: &'a [Link],
    pub created_at: DateTime<Utc>,
}

/// The person paged, in a [`WebhookPayload`]. Only id and name: contact details stay in
/// Tocsin.
#[derive(Debug, Serialize)]
pub struct UserPayload<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

impl<'a> WebhookPayload<'a> {
    pub fn new(page: &'a Page, sent_at: DateTime<Utc>) -> Self {
        let Alert {
            id,
            service,
            summary,
            severity,
            urgency,
            status,
            dedup_key,
            links,
            created_at,
            ..
        } = &page.alert;
        Self {
            event: "page",
            alert: AlertPayload {
                id: *id,
                service: service.as_str(),
                summary,
                severity: *severity,
                urgency: *urgency,
                status: *status,
                dedup_key,
                links,
                created_at: *created_at,
            },
            user: UserPayload {
                id: page.user.id.as_str(),
                name: &page.user.name,
            },
            level: page.level,
            attempt: page.attempt,
            ack_url: page.ack_url.as_deref(),
            sent_at,
        }
    }
}

/// The `X-Tocsin-Signature` value for `body` sent at `timestamp`: `sha256=` and the hex
/// HMAC-SHA256 of `{timestamp}.{body}` keyed with `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    let mut out = String::with_capacity(7 + 2 * tag.len());
    out.push_str("sha256=");
    for byte in tag.iter() {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// Whether `signature` (an `X-Tocsin-Signature` value) was made with `secret` over exactly
/// this `timestamp` and `body`. Compares in constant time, so that a forger learns nothing
/// from how long a wrong guess takes. Does not judge the timestamp's age: the caller does.
pub fn verify(secret: &str, timestamp: i64, body: &[u8], signature: &str) -> bool {
    let Some(tag) = signature.strip_prefix("sha256=").and_then(decode_hex) else {
        return false;
    };
    mac(secret, timestamp, body).verify_slice(&tag).is_ok()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let hex = hex.as_bytes();
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

/// A request that got no HTTP answer. The URL is dropped from the message because webhook
/// URLs often carry a token in their path, and this text ends up in logs and the job table.
pub(crate) fn request_error(e: reqwest::Error) -> NotifyError {
    if e.is_builder() {
        // A URL reqwest cannot even send to: retrying will not fix the configuration.
        return NotifyError::Refused(format!(
            "not a usable webhook URL: {}",
            causes(&e.without_url())
        ));
    }
    if e.is_timeout() {
        return NotifyError::Unavailable(format!(
            "webhook did not answer within {} s",
            TIMEOUT.as_secs()
        ));
    }
    NotifyError::Unavailable(causes(&e.without_url()))
}

/// An error and its sources on one line, skipping a source its parent already printed.
fn causes(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// `Retry-After` as delay-seconds or as an HTTP date (RFC 9110 allows both); a date in the
/// past means "now". Unreadable values are ignored and the runner's own backoff applies.
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.to_utc() - now).to_std().unwrap_or(Duration::ZERO))
}

/// The start of an error response's body, on one line, or `None` if it is empty.
pub(crate) async fn excerpt(mut response: reqwest::Response) -> Option<String> {
    // Read only what the excerpt needs: the body of an error can be anything, any size.
    let mut bytes = Vec::new();
    while bytes.len() < 4 * EXCERPT_CHARS {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut words = text.split_whitespace();
    let mut line = words.next()?.to_owned();
    for word in words {
        line.push(' ');
        line.push_str(word);
    }
    if line.chars().count() > EXCERPT_CHARS {
        line = line.chars().take(EXCERPT_CHARS).collect();
        line.push('…');
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(b"whsec_test", b'1795921500.{"a":1}',
        // hashlib.sha256).hexdigest().
        assert_eq!(
            sign("whsec_test", 1_795_921_500, br#"{"a":1}"#),
            "sha256=e3156cb757f63d43d6b2d2ae7ec09f337305870162df00e1886e1cd5b8d0c499"
        );
    }

    #[test]
    fn verify_accepts_only_the_same_secret_timestamp_and_body() {
        let sig = sign("s3cret", 1_795_921_500, b"{}");
        assert!(verify("s3cret", 1_795_921_500, b"{}", &sig));
        assert!(verify(
            "s3cret",
            1_795_921_500,
            b"{}",
            &sig.to_ascii_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!verify("other", 1_795_921_500, b"{}", &sig));
        assert!(!verify("s3cret", 1_795_921_501, b"{}", &sig));
        assert!(!verify("s3cret", 1_795_921_500, b"{ }", &sig));
    }

    #[test]
    fn verify_refuses_malformed_signatures_without_panicking() {
        let sig = sign("s3cret", 1, b"x");
        let hex = sig.trim_start_matches("sha256=");
        for bad in [
            "",
            "sha256=",
            hex,
            &format!("sha1={hex}"),
            &sig[..sig.len() - 1],
            &sig[..sig.len() - 2],
            &format!("{sig}00"),
            "sha256=zz",
            "sha256=é1",
        ] {
            assert!(!verify("s3cret", 1, b"x", bad), "{bad:?} verified");
        }
    }

    #[test]
    fn retry_after_reads_seconds_or_an_http_date() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T03:05:00Z")
            .unwrap()
            .to_utc();
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, v.parse().unwrap());
            h
        };
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers("Tue, 24 Nov 2026 03:06:30 GMT"), now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            retry_after(&headers("Tue, 24 Nov 2026 03:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let notifier = WebhookNotifier::new("whsec_do_not_print".into(), reqwest::Client::new());
        let debug = format!("{notifier:?}");
        assert!(!debug.contains("whsec_do_not_print"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }
}
