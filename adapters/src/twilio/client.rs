//! The `Notifier` port over Twilio's REST API: `sms` creates a Message, `voice` creates a
//! Call whose TwiML is sent inline (no webhook round trip before the phone rings). Both
//! send once and sort the outcome into `NotifyError` so the job runner knows whether a
//! retry can help: 429 and 5xx can, a 4xx (bad number, unverified caller id) never will.
//!
//! The API base URL is configurable (`TOCSIN_TWILIO_API_URL`) so that tests, proxies and
//! Twilio-compatible providers can stand in for `api.twilio.com`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bot_core::notify::{Delivery, Notifier, NotifyError, Page};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde::Deserialize;

use super::inbound::voice_page_twiml;

/// Twilio's API, unless `TOCSIN_TWILIO_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://api.twilio.com";

/// The environment variable that overrides [`DEFAULT_API_URL`].
pub const API_URL_ENV: &str = "TOCSIN_TWILIO_API_URL";

/// Twilio's limit for a Message body ("up to 1,600 characters"). Counted in UTF-16 code
/// units, which is never fewer than characters, so a body under it fits either way.
pub const SMS_MAX_CHARS: usize = 1600;

/// Where Twilio POSTs the key a person pressed during a page call. The binary mounts this
/// route (behind [`super::verify::verify`]); the query names the alert and the person.
pub const VOICE_GATHER_PATH: &str = "/api/v1/twilio/voice";

/// Twilio accepts at most 4,000 characters of inline TwiML on a Call.
const TWIML_MAX_CHARS: usize = 4000;

/// How much of an alert summary a call reads out: a page call is for "wake up, it is X",
/// the details are in chat.
const VOICE_SUMMARY_MAX_CHARS: usize = 300;

/// A page should reach the phone within seconds; a Twilio that has not answered by then
/// is treated as unavailable and the job retries.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How Tocsin reaches Twilio. The auth token is the account's master secret: it signs
/// every webhook too, so it is never printed.
#[derive(Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: String,
    /// The Twilio number pages come from, E.164 (`+14155550100`).
    pub from: String,
    /// Twilio's API base URL, [`DEFAULT_API_URL`] unless overridden.
    pub api_url: String,
    /// Tocsin's public base URL (`https://tocsin.example.com`), for the voice callback.
    pub public_url: String,
}

impl TwilioSettings {
    /// Settings with the API URL from `TOCSIN_TWILIO_API_URL`, or Twilio's own.
    pub fn new(
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
        from: impl Into<String>,
        public_url: impl Into<String>,
    ) -> Self {
        TwilioSettings {
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            from: from.into(),
            api_url: std::env::var(API_URL_ENV)
                .ok()
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
            public_url: public_url.into(),
        }
    }
}

impl fmt::Debug for TwilioSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioSettings")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"***")
            .field("from", &self.from)
            .field("api_url", &self.api_url)
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// A Twilio setup that cannot work; reported at startup, not at the first page.
#[derive(Debug, thiserror::Error)]
pub enum TwilioSetupError {
    #[error("Twilio setting `{0}` is empty")]
    Missing(&'static str),
    #[error("building the HTTP client for Twilio: {0}")]
    Client(#[from] reqwest::Error),
}

/// One HTTP client and one set of credentials, shared by [`TwilioSms`] and [`TwilioVoice`].
#[derive(Clone)]
pub struct TwilioClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: TwilioSettings,
    http: reqwest::Client,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl TwilioClient {
    pub fn new(settings: TwilioSettings) -> Result<Self, TwilioSetupError> {
        for (name, value) in [
            ("account_sid", &settings.account_sid),
            ("auth_token", &settings.auth_token),
            ("from", &settings.from),
            ("api_url", &settings.api_url),
        ] {
            if value.trim().is_empty() {
                return Err(TwilioSetupError::Missing(name));
            }
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            // Twilio's API does not redirect; following one would send the credentials
            // wherever it pointed.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(TwilioClient {
            inner: Arc::new(Inner { settings, http }),
        })
    }

    pub fn settings(&self) -> &TwilioSettings {
        &self.inner.settings
    }

    /// `POST {api}/2010-04-01/Accounts/{sid}/{resource}` with a form body, as Twilio's
    /// REST API takes it, and the outcome sorted for the job runner.
    async fn create(&self, resource: &str, form: &[(&str, &str)]) -> Result<Delivery, NotifyError> {
        let s = &self.inner.settings;
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}",
            s.api_url.trim_end_matches('/'),
            s.account_sid
        );
        let response = self
            .inner
            .http
            .post(&url)
            .basic_auth(&s.account_sid, Some(&s.auth_token))
            .form(form)
            .send()
            .await
            // Connection refused, DNS, TLS, timeout. A timeout after Twilio accepted the
            // request means a retry may page twice; a duplicate page beats a missing one.
            .map_err(|e| NotifyError::Unavailable(format!("Twilio {resource}: {e}")))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|e| NotifyError::Unavailable(format!("Twilio {resource}: {e}")))?;
        outcome(resource, status, retry_after, &body)
    }
}

/// Twilio's answer to a create: the resource (we only need its SID) or an error.
#[derive(Deserialize)]
struct Created {
    sid: Option<String>,
}

/// Twilio's error body: `{"code": 21211, "message": "...", "more_info": "...", "status": 400}`.
#[derive(Deserialize)]
struct TwilioErrorBody {
    code: Option<i64>,
    message: Option<String>,
}

fn outcome(
    resource: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<Delivery, NotifyError> {
    if status.is_success() {
        // Twilio took the page. If its answer is unreadable the page is still on its way;
        // failing here would page the person again on retry.
        let provider_id = match serde_json::from_slice::<Created>(body) {
            Ok(created) => created.sid,
            Err(e) => {
                tracing::warn!(resource, error = %e, "Twilio accepted a page but its answer had no readable sid");
                None
            }
        };
        return Ok(Delivery { provider_id });
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(NotifyError::RateLimited { retry_after });
    }
    let detail = error_detail(status, body);
    if status.is_client_error() {
        // Bad number, unverified caller id, wrong credentials: the same request will be
        // refused again, so the job stops and the timeline says why.
        return Err(NotifyError::Refused(format!("Twilio {resource}: {detail}")));
    }
    // 5xx, and anything Twilio does not normally answer (a 3xx from a proxy).
    Err(NotifyError::Unavailable(format!(
        "Twilio {resource}: {detail}"
    )))
}

/// "21211: The 'To' number ... is not a valid phone number." from Twilio's error body, or
/// the bare status when the body is not Twilio's (a proxy's HTML page).
fn error_detail(status: StatusCode, body: &[u8]) -> String {
    match serde_json::from_slice::<TwilioErrorBody>(body) {
        Ok(TwilioErrorBody {
            code,
            message: Some(message),
        }) => match code {
            Some(code) => format!("{message} (Twilio error {code}, HTTP {})", status.as_u16()),
            None => format!("{message} (HTTP {})", status.as_u16()),
        },
        _ => format!("HTTP {status}"),
    }
}

/// `Retry-After` in seconds. The HTTP-date form would need the clock; without a value the
/// job runner's own backoff applies, which is safe.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The SMS for a page: `[CRITICAL] checkout: Disk full (level 1, attempt 2). Reply 1 to
/// acknowledge, 2 to escalate.` and the acknowledge link when Tocsin has a public URL.
/// The summary is what gets shortened when the whole would exceed [`SMS_MAX_CHARS`], so the
/// reply instructions always arrive.
pub fn sms_body(page: &Page) -> String {
    let alert = &page.alert;
    let head = format!(
        "[{}] {}: ",
        alert.severity.as_str().to_uppercase(),
        alert.service
    );
    let mut tail = format!(
        " (level {}, attempt {}). Reply 1 to acknowledge, 2 to escalate.",
        page.level, page.attempt
    );
    if let Some(url) = &page.ack_url {
        tail.push_str(&format!(" Acknowledge: {url}"));
    }
    let budget = SMS_MAX_CHARS.saturating_sub(utf16_len(&head) + utf16_len(&tail));
    let summary = truncate_utf16(alert.summary.trim(), budget);
    let body = format!("{head}{summary}{tail}");
    // Only an absurd service name or URL gets here; cut the whole rather than send
    // something Twilio refuses.
    truncate_utf16(&body, SMS_MAX_CHARS)
}

/// What a page call says before "Press 1…": severity, service and summary.
fn voice_summary(page: &Page) -> String {
    let alert = &page.alert;
    let summary = truncate_chars(alert.summary.trim(), VOICE_SUMMARY_MAX_CHARS);
    format!(
        "{} on {}: {summary}",
        alert.severity.as_str(),
        alert.service
    )
}

/// `{public_url}/api/v1/twilio/voice?alert=…&user=…`. The query is covered by Twilio's
/// signature (it signs the full URL), so the callback cannot be pointed at another alert
/// or person.
pub fn gather_action_url(public_url: &str, page: &Page) -> String {
    let query = serde_urlencoded::to_string([
        ("alert", page.alert.id.to_string()),
        ("user", page.user.id.to_string()),
    ])
    // Serialising string pairs into a query cannot fail.
    .expect("string pairs always form-encode");
    format!(
        "{}{VOICE_GATHER_PATH}?{query}",
        public_url.trim_end_matches('/')
    )
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The longest prefix of `s` of at most `max` UTF-16 code units, cut on a char boundary,
/// ending in "…" when something was cut.
fn truncate_utf16(s: &str, max: usize) -> String {
    if utf16_len(s) <= max {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    let budget = max.saturating_sub(1); // room for '…' (one UTF-16 unit)
    for c in s.chars() {
        if used + c.len_utf16() > budget {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    if max > 0 {
        out.push('…');
    }
    out
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}

/// Pages by SMS (channel `sms`).
#[derive(Debug, Clone)]
pub struct TwilioSms {
    client: TwilioClient,
}

impl TwilioSms {
    pub fn new(client: TwilioClient) -> Self {
        TwilioSms { client }
    }
}

#[async_trait]
impl Notifier for TwilioSms {
    fn channel(&self) -> &str {
        "sms"
    }

    async fn deliver(&self, page: &Page) -> Result<Delivery, NotifyError> {
        let body = sms_body(page);
        let from = &self.client.settings().from;
        self.client
            .create(
                "Messages.json",
                &[("To", &page.to), ("From", from), ("Body", &body)],
            )
            .await
    }
}

/// Pages by phone call (channel `voice`): reads the alert and asks for 1 or 2.
#[derive(Debug, Clone)]
pub struct TwilioVoice {
    client: TwilioClient,
}

impl TwilioVoice {
    /// Needs Tocsin's public URL: the key a person presses comes back to it.
    pub fn new(client: TwilioClient) -> Result<Self, TwilioSetupError> {
        if client.settings().public_url.trim().is_empty() {
            return Err(TwilioSetupError::Missing("public_url"));
        }
        Ok(TwilioVoice { client })
    }
}

#[async_trait]
impl Notifier for TwilioVoice {
    fn channel(&self) -> &str {
        "voice"
    }

    async fn deliver(&self, page: &Page) -> Result<Delivery, NotifyError> {
        let settings = self.client.settings();
        let action = gather_action_url(&settings.public_url, page);
        let twiml = voice_page_twiml(&voice_summary(page), &action);
        if twiml.chars().count() > TWIML_MAX_CHARS {
            // Only a public URL of thousands of characters gets here.
            return Err(NotifyError::Refused(format!(
                "voice TwiML is {} characters, over Twilio's {TWIML_MAX_CHARS}",
                twiml.chars().count()
            )));
        }
        self.client
            .create(
                "Calls.json",
                &[
                    ("To", &page.to),
                    ("From", &settings.from),
                    ("Twiml", &twiml),
                ],
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_auth_token() {
        let s = TwilioSettings {
            account_sid: "AC123".into(),
            auth_token: "supersecret".into(),
            from: "+15550100".into(),
            api_url: DEFAULT_API_URL.into(),
            public_url: "https://tocsin.example".into(),
        };
        let printed = format!("{s:?}");
        assert!(!printed.contains("supersecret"), "{printed}");
        assert!(printed.contains("AC123"));
        let client = TwilioClient::new(s).unwrap();
        let printed = format!("{client:?} {:?}", TwilioSms::new(client.clone()));
        assert!(!printed.contains("supersecret"), "{printed}");
    }

    #[test]
    fn truncation_respects_char_boundaries_and_the_limit() {
        let s = "é🚨".repeat(1000);
        let cut = truncate_utf16(&s, 1600);
        assert!(utf16_len(&cut) <= 1600);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate_utf16("short", 1600), "short");
        assert_eq!(truncate_chars("abcdef", 3), "abc…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }

    #[test]
    fn error_detail_prefers_twilios_message() {
        let body = br#"{"code":21211,"message":"Invalid 'To' Phone Number","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#;
        assert_eq!(
            error_detail(StatusCode::BAD_REQUEST, body),
            "Invalid 'To' Phone Number (Twilio error 21211, HTTP 400)"
        );
        assert_eq!(
            error_detail(StatusCode::BAD_GATEWAY, b"<html>"),
            "HTTP 502 Bad Gateway"
        );
    }

    #[test]
    fn success_without_a_sid_is_still_delivered() {
        let d = outcome("Messages.json", StatusCode::CREATED, None, b"not json").unwrap();
        assert_eq!(d.provider_id, None);
    }

    #[test]
    fn server_errors_are_retryable_and_client_errors_are_not() {
        assert!(matches!(
            outcome("Calls.json", StatusCode::SERVICE_UNAVAILABLE, None, b""),
            Err(NotifyError::Unavailable(_))
        ));
        assert!(matches!(
            outcome("Calls.json", StatusCode::UNAUTHORIZED, None, b""),
            Err(NotifyError::Refused(_))
        ));
    }
}
