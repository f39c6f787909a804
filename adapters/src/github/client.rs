//! The one octocrab client every GitHub call goes through, and how GitHub's answers are
//! sorted into [`VcsError`] so the job runner knows what a retry can fix.
//!
//! Calls use octocrab's raw `_get`/`_post` with our own serde types rather than its typed
//! handlers: the typed handlers drop the response headers, and `Retry-After`,
//! `x-ratelimit-*` and `Date` are exactly what a rate limit or a 204 dispatch needs.
//!
//! Retries are ours, not octocrab's (its retry layer is switched off): a GET is repeated
//! at most twice on a 5xx or a connection error, a POST never, because a revert or a
//! workflow dispatch that reached GitHub before the error must not be sent twice. Rate
//! limits are never waited out here; they come back as `RateLimited` with GitHub's
//! delay so the durable job sleeps instead of a request.

use std::fmt;
use std::time::Duration;

use bot_core::actions::VcsError;
use chrono::{DateTime, Utc};
use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;
use reqwest::Url;
use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// GitHub's API, unless `TOCSIN_GITHUB_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The environment variable that overrides [`DEFAULT_API_URL`] (GitHub Enterprise Server:
/// `https://HOST/api/v3`; tests and proxies: anything).
pub const API_URL_ENV: &str = "TOCSIN_GITHUB_API_URL";

/// The environment variable holding the token (a fine-grained or classic personal access
/// token, or an installation token), under the name GitHub's own tools use.
pub const TOKEN_ENV: &str = "GITHUB_TOKEN";

/// The media type GitHub recommends for every REST request.
const MEDIA_TYPE: &str = "application/vnd.github+json";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole request, answer read; chat is waiting for it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A GET is tried this often on a 5xx or a connection error; the delay grows linearly.
const GET_ATTEMPTS: u32 = 3;
const GET_RETRY_DELAY: Duration = Duration::from_millis(200);

/// GitHub answers a renamed or transferred repository with a redirect, and its docs say to
/// follow them.
const MAX_REDIRECTS: usize = 3;

/// GitHub's advice for a rate limit that names no delay: "wait for at least one minute".
const SECONDARY_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The GitHub API, authenticated with one token. Cheap to clone: octocrab shares its
/// connection pool.
#[derive(Clone)]
pub struct GitHub {
    octocrab: Octocrab,
    api_url: String,
    /// Path of the REST API under the origin: empty for api.github.com, `/api/v3` on
    /// GitHub Enterprise Server.
    rest_prefix: String,
    /// Path of the GraphQL endpoint: `/graphql` under the REST base, except on GitHub
    /// Enterprise Server where REST is `/api/v3` and GraphQL `/api/graphql`.
    graphql_path: String,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api_url", &self.api_url)
            .field("token", &"***")
            .finish_non_exhaustive()
    }
}

impl GitHub {
    /// A client for `base_url` (default [`DEFAULT_API_URL`]) with `token`. Refuses a token
    /// that cannot be sent in a header and a base URL that is not an http(s) URL, so a bad
    /// setup shows at startup rather than at the first revert.
    ///
    /// Must be called inside the Tokio runtime that will use the client: octocrab spawns
    /// its request worker there.
    pub fn new(token: String, base_url: Option<String>) -> Result<Self, VcsError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(VcsError::NotConfigured(format!("{TOKEN_ENV} is empty")));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            // Checked here because octocrab would panic building the header.
            return Err(VcsError::NotConfigured(format!(
                "{TOKEN_ENV} contains spaces, control or non-ASCII characters"
            )));
        }
        let api_url = base_url
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned());
        let endpoints = Endpoints::parse(&api_url)?;
        if tokio::runtime::Handle::try_current().is_err() {
            // Octocrab would panic.
            return Err(VcsError::NotConfigured(
                "the GitHub client must be built inside a Tokio runtime".into(),
            ));
        }
        let octocrab = Octocrab::builder()
            .personal_token(token.to_owned())
            // Only the origin: octocrab would put its base path in front of the GraphQL
            // path too, which is wrong for GitHub Enterprise Server. We add the paths.
            .base_uri(endpoints.origin.as_str())
            .map_err(|e| VcsError::NotConfigured(format!("{API_URL_ENV} `{api_url}`: {e}")))?
            .add_header(ACCEPT, MEDIA_TYPE.to_owned())
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(REQUEST_TIMEOUT))
            .set_write_timeout(Some(REQUEST_TIMEOUT))
            .build()
            .map_err(|e| VcsError::NotConfigured(format!("building the GitHub client: {e}")))?;
        Ok(GitHub {
            octocrab,
            api_url,
            rest_prefix: endpoints.rest_prefix,
            graphql_path: endpoints.graphql_path,
        })
    }

    /// The client configured by `GITHUB_TOKEN` and `TOCSIN_GITHUB_API_URL`, or `None` when
    /// no token is set (GitHub actions are then not available).
    pub fn from_env() -> Result<Option<Self>, VcsError> {
        Self::from_vars(
            std::env::var(TOKEN_ENV).ok(),
            std::env::var(API_URL_ENV).ok(),
        )
    }

    fn from_vars(token: Option<String>, api_url: Option<String>) -> Result<Option<Self>, VcsError> {
        match token.filter(|t| !t.trim().is_empty()) {
            None => Ok(None),
            Some(token) => Self::new(token, api_url).map(Some),
        }
    }

    /// The REST API base this client talks to.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// A REST call; `route` is the path under the API base (`/repos/o/r/pulls/1`), with
    /// its query. A non-2xx answer is an error; `what` names the thing for its message.
    pub(super) async fn rest(
        &self,
        method: Method,
        route: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Reply, VcsError> {
        let uri = format!("{}{route}", self.rest_prefix);
        let reply = self.send(method, uri, body, what).await?;
        if (200..300).contains(&reply.status) {
            Ok(reply)
        } else {
            Err(reply.error(what))
        }
    }

    /// A REST GET whose 2xx answer is JSON of type `T`.
    pub(super) async fn get_json<T: DeserializeOwned>(
        &self,
        route: &str,
        what: &str,
    ) -> Result<T, VcsError> {
        self.rest(Method::Get, route, None, what).await?.json(what)
    }

    /// A GraphQL operation. GitHub answers errors (validation, permissions, and its
    /// GraphQL rate limit) with 200 and an `errors` array; any error fails the whole call.
    pub(super) async fn graphql<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: Value,
        what: &str,
    ) -> Result<T, VcsError> {
        let payload = json!({ "query": query, "variables": variables });
        let reply = self
            .send(
                Method::Post,
                self.graphql_path.clone(),
                Some(&payload),
                what,
            )
            .await?;
        if reply.status != 200 {
            return Err(reply.error(what));
        }
        let answer: GraphqlAnswer<T> = reply.json(what)?;
        if let Some(errors) = answer.errors.filter(|e| !e.is_empty()) {
            let rate_limited = reply.ratelimit_remaining == Some(0)
                || errors
                    .iter()
                    .any(|e| e.kind.as_deref() == Some("RATE_LIMITED"));
            if rate_limited {
                return Err(VcsError::RateLimited {
                    retry_after: reply.retry_after(),
                });
            }
            let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
            return Err(VcsError::Refused(format!(
                "{} ({what})",
                messages.join("; ")
            )));
        }
        answer
            .data
            .ok_or_else(|| VcsError::Unavailable(format!("GitHub answered {what} without data")))
    }

    /// One request, following GitHub's redirects.
    async fn send(
        &self,
        method: Method,
        mut uri: String,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Reply, VcsError> {
        let mut redirects = 0;
        loop {
            let reply = self.send_retrying(method, &uri, body, what).await?;
            match reply.location {
                // Octocrab only sends the token to the configured host, so a redirect
                // elsewhere goes without it.
                Some(location)
                    if matches!(reply.status, 301 | 302 | 307 | 308)
                        && redirects < MAX_REDIRECTS =>
                {
                    redirects += 1;
                    uri = location;
                }
                _ => return Ok(reply),
            }
        }
    }

    async fn send_retrying(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Reply, VcsError> {
        let attempts = match method {
            Method::Get => GET_ATTEMPTS,
            Method::Post => 1,
        };
        let mut attempt = 1;
        loop {
            let outcome = self.send_once(method, uri, body, what).await;
            let failed = match &outcome {
                Ok(reply) => reply.status >= 500,
                Err(_) => true,
            };
            if !failed || attempt >= attempts {
                return outcome;
            }
            tracing::debug!(attempt, what, "GitHub failed; trying the GET again");
            tokio::time::sleep(GET_RETRY_DELAY * attempt).await;
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Reply, VcsError> {
        let request = async {
            let response = match method {
                Method::Get => self.octocrab._get(uri).await?,
                Method::Post => self.octocrab._post(uri, body).await?,
            };
            let headers = response.headers();
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.trim().to_owned())
            };
            let status = response.status().as_u16();
            let retry_after = header("retry-after");
            let ratelimit_remaining = header("x-ratelimit-remaining").and_then(|v| v.parse().ok());
            let ratelimit_reset = header("x-ratelimit-reset").and_then(|v| v.parse().ok());
            let date = header("date")
                .and_then(|v| DateTime::parse_from_rfc2822(&v).ok())
                .map(|d| d.with_timezone(&Utc));
            let location = header("location");
            let body = self.octocrab.body_to_string(response).await?;
            Ok::<_, octocrab::Error>(Reply {
                status,
                body,
                retry_after,
                ratelimit_remaining,
                ratelimit_reset,
                date,
                location,
            })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
            Ok(Ok(reply)) => Ok(reply),
            // Connection refused, DNS, TLS, a read timeout.
            Ok(Err(e)) => Err(VcsError::Unavailable(format!(
                "could not reach GitHub ({what}): {e}"
            ))),
            Err(_) => Err(VcsError::Unavailable(format!(
                "GitHub did not answer within {} s ({what})",
                REQUEST_TIMEOUT.as_secs()
            ))),
        }
    }
}

/// Where the REST and GraphQL APIs live for one configured base URL.
#[derive(Debug, PartialEq, Eq)]
struct Endpoints {
    origin: String,
    rest_prefix: String,
    graphql_path: String,
}

impl Endpoints {
    fn parse(api_url: &str) -> Result<Self, VcsError> {
        let bad = |why: &str| {
            VcsError::NotConfigured(format!(
                "{API_URL_ENV} `{api_url}` is not a usable API URL: {why}"
            ))
        };
        let url = Url::parse(api_url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("it must start with https:// or http://"));
        }
        if url.host_str().is_none() {
            return Err(bad("it has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("it must not have a query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials belong in GITHUB_TOKEN, not in the URL"));
        }
        let rest_prefix = url.path().trim_end_matches('/').to_owned();
        let graphql_path = match rest_prefix.strip_suffix("/api/v3") {
            Some(root) => format!("{root}/api/graphql"),
            None => format!("{rest_prefix}/graphql"),
        };
        Ok(Endpoints {
            origin: url.origin().ascii_serialization(),
            rest_prefix,
            graphql_path,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Post,
}

/// GitHub's answer, read whole: the status, the headers that matter, the body.
pub(super) struct Reply {
    pub(super) status: u16,
    body: String,
    retry_after: Option<String>,
    ratelimit_remaining: Option<u64>,
    ratelimit_reset: Option<i64>,
    /// GitHub's clock when it answered. Times GitHub sends are compared with this, never
    /// with ours, so a skewed local clock changes nothing.
    pub(super) date: Option<DateTime<Utc>>,
    location: Option<String>,
}

impl Reply {
    pub(super) fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, VcsError> {
        serde_json::from_str(&self.body).map_err(|e| {
            VcsError::Unavailable(format!(
                "GitHub's answer about {what} is not what its API documents: {e}"
            ))
        })
    }

    /// A non-2xx answer sorted for the job runner.
    fn error(&self, what: &str) -> VcsError {
        let message = self.message();
        match self.status {
            404 => VcsError::NotFound(format!(
                "{what}: does not exist, or the token cannot see it ({message})"
            )),
            429 => VcsError::RateLimited {
                retry_after: self.retry_after(),
            },
            // GitHub answers an exhausted rate limit with 403 or 429; a plain 403 is a
            // permission the token lacks.
            403 if self.retry_after.is_some()
                || self.ratelimit_remaining == Some(0)
                || message.to_ascii_lowercase().contains("rate limit") =>
            {
                VcsError::RateLimited {
                    retry_after: self.retry_after(),
                }
            }
            400..=499 => VcsError::Refused(format!("{message} ({what})")),
            500..=599 => VcsError::Unavailable(format!(
                "GitHub answered {} for {what}: {message}",
                self.status
            )),
            status => VcsError::Unavailable(format!(
                "GitHub answered an unexpected HTTP {status} for {what}"
            )),
        }
    }

    /// GitHub's error text: `message`, with the details of a validation failure.
    fn message(&self) -> String {
        error_message(self.status, &self.body)
    }

    /// How long GitHub asks us to wait, following its documented order: `retry-after`
    /// seconds, else the reset time of an exhausted limit, else at least a minute.
    fn retry_after(&self) -> Option<Duration> {
        if let Some(value) = &self.retry_after {
            if let Ok(secs) = value.parse::<u64>() {
                return Some(Duration::from_secs(secs));
            }
            if let (Ok(at), Some(now)) = (DateTime::parse_from_rfc2822(value), self.date) {
                let secs = (at.with_timezone(&Utc) - now).num_seconds().max(0);
                return Some(Duration::from_secs(secs.unsigned_abs()));
            }
        }
        if self.ratelimit_remaining == Some(0) {
            return match (self.ratelimit_reset, self.date) {
                (Some(reset), Some(now)) => Some(Duration::from_secs(
                    (reset - now.timestamp()).max(1).unsigned_abs(),
                )),
                _ => None,
            };
        }
        Some(SECONDARY_RATE_LIMIT_WAIT)
    }
}

#[derive(Deserialize)]
struct GraphqlAnswer<T> {
    data: Option<T>,
    errors: Option<Vec<GraphqlError>>,
}

#[derive(Deserialize)]
struct GraphqlError {
    message: String,
    /// GitHub's error class: `NOT_FOUND`, `FORBIDDEN`, `UNPROCESSABLE`, `RATE_LIMITED`, …
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// One path segment, percent-encoded: owner, repository and workflow names come from
/// configuration and chat, and must not add segments or a query.
pub(crate) fn segment(text: &str) -> String {
    if text == "." || text == ".." {
        return text.replace('.', "%2E");
    }
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// GitHub's error text from an error answer: `message`, with the details of a validation
/// failure (objects `{resource, field, code, message?}` or strings); the start of the body
/// when it is not GitHub's JSON.
pub(crate) fn error_message(status: u16, body: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<Value>,
    }
    let Ok(parsed) = serde_json::from_str::<ErrorBody>(body) else {
        let text: String = body.trim().chars().take(300).collect();
        return if text.is_empty() {
            format!("HTTP {status}")
        } else {
            text
        };
    };
    let mut message = parsed.message.unwrap_or_else(|| format!("HTTP {status}"));
    let details: Vec<String> = parsed
        .errors
        .iter()
        .filter_map(|e| match e {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    let field = o.get("field").and_then(Value::as_str)?;
                    let code = o.get("code").and_then(Value::as_str).unwrap_or("invalid");
                    Some(format!("{field} {code}"))
                }),
            _ => None,
        })
        .collect();
    if !details.is_empty() {
        message = format!("{message}: {}", details.join("; "));
    }
    message
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_lives_beside_the_rest_api() {
        let dotcom = Endpoints::parse("https://api.github.com").unwrap();
        assert_eq!(dotcom.origin, "https://api.github.com");
        assert_eq!(dotcom.rest_prefix, "");
        assert_eq!(dotcom.graphql_path, "/graphql");
        let ghes = Endpoints::parse("https://ghe.example.com/api/v3/").unwrap();
        assert_eq!(ghes.origin, "https://ghe.example.com");
        assert_eq!(ghes.rest_prefix, "/api/v3");
        assert_eq!(ghes.graphql_path, "/api/graphql");
        let proxy = Endpoints::parse("http://127.0.0.1:8080/github").unwrap();
        assert_eq!(proxy.origin, "http://127.0.0.1:8080");
        assert_eq!(proxy.graphql_path, "/github/graphql");
    }

    #[tokio::test]
    async fn unusable_settings_are_refused_at_startup() {
        for url in [
            "ftp://example.com",
            "not a url",
            "https://u:p@example.com",
            "https://x/?a=1",
        ] {
            let err = GitHub::new("t0ken".into(), Some(url.into())).unwrap_err();
            assert!(matches!(err, VcsError::NotConfigured(_)), "{url}: {err}");
        }
        for token in ["", "  ", "two words", "caf\u{e9}"] {
            let err = GitHub::new(token.into(), None).unwrap_err();
            assert!(
                matches!(err, VcsError::NotConfigured(_)),
                "{token:?}: {err}"
            );
        }
        assert!(GitHub::from_vars(None, None).unwrap().is_none());
        assert!(GitHub::from_vars(Some(" ".into()), None).unwrap().is_none());
        let gh = GitHub::from_vars(Some("ghp_secret\n".into()), Some(String::new()))
            .unwrap()
            .unwrap();
        assert_eq!(gh.api_url(), DEFAULT_API_URL);
        assert!(!format!("{gh:?}").contains("ghp_secret"));
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        let err = GitHub::new("t0ken".into(), None).unwrap_err();
        assert!(matches!(err, VcsError::NotConfigured(_)), "{err}");
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(segment("rollback.yml"), "rollback.yml");
        assert_eq!(segment("../x?y#z"), "..%2Fx%3Fy%23z");
        assert_eq!(segment(".."), "%2E%2E");
    }
}
