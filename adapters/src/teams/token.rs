//! The bot's own access tokens, by the OAuth 2.0 client-credentials grant against Microsoft
//! Entra ID: one for the Bot Connector (scope `https://api.botframework.com/.default`), one
//! for Microsoft Graph (scope `https://graph.microsoft.com/.default`, for channels).
//!
//! `POST {login_url}/{tenant}/oauth2/v2.0/token` with the app id and password as a form;
//! the tenant is `MicrosoftAppTenantId` for a single-tenant app, else `botframework.com`.
//! Each token is cached until a little before it expires (5 minutes, or half its life when
//! that is shorter), and one caller at a time refreshes it: the others wait for that
//! answer instead of asking too. A token the connector refuses (HTTP 401) is dropped with
//! [`TokenSource::forget`] so the next call asks for a new one.
//!
//! This module knows nothing of activities or channels. The password and the tokens are
//! never logged and never in `Debug` output.

use std::time::Duration;

use bot_core::chat::ChatError;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::PLATFORM;

/// Where tokens come from unless settings say otherwise (`TOCSIN_TEAMS_LOGIN_URL`).
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// The scope of a Bot Connector token.
pub const BOT_SCOPE: &str = "https://api.botframework.com/.default";
/// The scope of a Microsoft Graph token.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// The tenant a multi-tenant bot asks for its Bot Connector token.
pub const MULTI_TENANT: &str = "botframework.com";

/// How long before its expiry a token is replaced (at most; see [`refresh_after`]).
const EARLY: Duration = Duration::from_secs(5 * 60);
/// What a tenant (a GUID or a domain) may keep unencoded in the token URL.
const TENANT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');
/// A token request's whole time budget.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The bot's app registration: `MicrosoftAppId`, `MicrosoftAppPassword` and, for a
/// single-tenant app, `MicrosoftAppTenantId`. `Debug` does not show the password.
#[derive(Clone)]
pub struct AppCredentials {
    pub app_id: String,
    pub app_password: String,
    pub tenant_id: Option<String>,
    /// The Entra ID login base, like [`DEFAULT_LOGIN_URL`]; routes are
    /// `{login_url}/{tenant}/oauth2/v2.0/token`.
    pub login_url: String,
}

impl Default for AppCredentials {
    fn default() -> Self {
        AppCredentials {
            app_id: String::new(),
            app_password: String::new(),
            tenant_id: None,
            login_url: DEFAULT_LOGIN_URL.to_owned(),
        }
    }
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("app_password", &"***")
            .field("tenant_id", &self.tenant_id)
            .field("login_url", &self.login_url)
            .finish()
    }
}

impl AppCredentials {
    /// The tenant a Bot Connector token is asked of.
    fn bot_tenant(&self) -> &str {
        self.tenant_id
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or(MULTI_TENANT)
    }

    /// The token endpoint of `tenant`.
    fn token_url(&self, tenant: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.login_url.trim().trim_end_matches('/'),
            percent_encoding::utf8_percent_encode(tenant.trim(), TENANT)
        )
    }

    /// The form of a token request for `scope`.
    fn form(&self, scope: &str) -> String {
        serde_urlencoded::to_string([
            ("grant_type", "client_credentials"),
            ("client_id", self.app_id.trim()),
            ("client_secret", self.app_password.as_str()),
            ("scope", scope),
        ])
        .expect("a list of string pairs always encodes as a form")
    }
}

/// The bot's tokens, fetched when needed and cached. Cheap to share behind an `Arc`.
pub struct TokenSource {
    http: reqwest::Client,
    credentials: AppCredentials,
    /// The tenant Graph tokens are asked of: the team's, which a multi-tenant app cannot
    /// leave to `botframework.com`.
    graph_tenant: Option<String>,
    bot: Mutex<Option<Cached>>,
    graph: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("credentials", &self.credentials)
            .field("graph_tenant", &self.graph_tenant)
            .finish_non_exhaustive()
    }
}

struct Cached {
    token: String,
    /// When to stop using it: a little before it expires.
    refresh_at: Instant,
}

/// Which token.
#[derive(Clone, Copy)]
enum Scope {
    Bot,
    Graph,
}

impl TokenSource {
    /// Checks that the credentials are there and the login URL is http(s).
    pub fn new(credentials: AppCredentials) -> Result<Self, ChatError> {
        if credentials.app_id.trim().is_empty() {
            return Err(ChatError::Refused("MicrosoftAppId is empty".into()));
        }
        if credentials.app_password.is_empty() {
            return Err(ChatError::Refused("MicrosoftAppPassword is empty".into()));
        }
        let login = credentials.login_url.trim();
        let parsed = reqwest::Url::parse(login)
            .map_err(|e| ChatError::Refused(format!("Teams login URL `{login}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ChatError::Refused(format!(
                "Teams login URL `{login}` is not http(s)"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| ChatError::Unavailable(format!("building the HTTP client: {e}")))?;
        let graph_tenant = credentials
            .tenant_id
            .clone()
            .filter(|t| !t.trim().is_empty());
        Ok(TokenSource {
            http,
            credentials,
            graph_tenant,
            bot: Mutex::new(None),
            graph: Mutex::new(None),
        })
    }

    /// Asks Graph tokens of `tenant` (the team's) instead of `MicrosoftAppTenantId`.
    pub fn with_graph_tenant(mut self, tenant: impl Into<String>) -> Self {
        let tenant = tenant.into();
        if !tenant.trim().is_empty() {
            self.graph_tenant = Some(tenant);
        }
        self
    }

    pub fn app_id(&self) -> &str {
        self.credentials.app_id.trim()
    }

    /// A Bot Connector token, cached or fresh.
    pub async fn bot_token(&self) -> Result<String, ChatError> {
        self.token(Scope::Bot).await
    }

    /// A Microsoft Graph token, cached or fresh. Needs a tenant: Graph has no
    /// `botframework.com` to fall back on.
    pub async fn graph_token(&self) -> Result<String, ChatError> {
        self.token(Scope::Graph).await
    }

    /// Drops `rejected` from the cache (an API answered 401 to it), so the next call
    /// fetches a new token. A token that was already replaced stays replaced.
    pub async fn forget(&self, rejected: &str) {
        for slot in [&self.bot, &self.graph] {
            let mut cached = slot.lock().await;
            if cached.as_ref().is_some_and(|c| c.token == rejected) {
                *cached = None;
            }
        }
    }

    async fn token(&self, scope: Scope) -> Result<String, ChatError> {
        let (slot, tenant, scope_url) = match scope {
            Scope::Bot => (&self.bot, self.credentials.bot_tenant(), BOT_SCOPE),
            Scope::Graph => {
                let Some(tenant) = self.graph_tenant.as_deref() else {
                    return Err(ChatError::Refused(
                        "a Microsoft Graph token needs the tenant id (MicrosoftAppTenantId)".into(),
                    ));
                };
                (&self.graph, tenant, GRAPH_SCOPE)
            }
        };
        // Held across the request: whoever comes next uses this answer.
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let fetched = self.fetch(tenant, scope_url).await;
        let (token, expires_in) = fetched.inspect_err(|error| {
            tracing::warn!(platform = PLATFORM, scope = scope_url, %error, "Teams token request failed");
        })?;
        tracing::debug!(
            platform = PLATFORM,
            scope = scope_url,
            expires_in = expires_in.as_secs(),
            "fetched a Teams app token"
        );
        *cached = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + refresh_after(expires_in),
        });
        Ok(token)
    }

    async fn fetch(&self, tenant: &str, scope: &str) -> Result<(String, Duration), ChatError> {
        const ROUTE: &str = "POST /{tenant}/oauth2/v2.0/token";
        let response = self
            .http
            .post(self.credentials.token_url(tenant))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(self.credentials.form(scope))
            .send()
            .await
            .map_err(|e| ChatError::Unavailable(format!("{ROUTE}: {}", e.without_url())))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response
            .text()
            .await
            .map_err(|e| ChatError::Unavailable(format!("{ROUTE}: {}", e.without_url())))?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            let token = json["access_token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    ChatError::Unavailable(format!("{ROUTE}: an answer without access_token"))
                })?;
            // A number in v2.0 answers, a string in some older ones.
            let expires_in = json["expires_in"]
                .as_u64()
                .or_else(|| json["expires_in"].as_str()?.trim().parse().ok())
                .unwrap_or(3600);
            return Ok((token.to_owned(), Duration::from_secs(expires_in)));
        }
        if status.as_u16() == 429 {
            return Err(ChatError::RateLimited { retry_after });
        }
        if status.is_server_error() {
            return Err(ChatError::Unavailable(format!(
                "{ROUTE}: HTTP {}",
                status.as_u16()
            )));
        }
        // Entra ID's error shape: `error` (a code) and `error_description` (AADSTS…).
        let code = json["error"].as_str().unwrap_or("refused");
        let description = json["error_description"]
            .as_str()
            .and_then(|d| d.lines().next())
            .unwrap_or_default();
        Err(ChatError::Refused(format!(
            "{ROUTE}: {code}: {description} (HTTP {})",
            status.as_u16()
        )))
    }
}

/// How long a token that expires in `expires_in` is used: until 5 minutes before, or for
/// half its life when that is shorter.
fn refresh_after(expires_in: Duration) -> Duration {
    expires_in - EARLY.min(expires_in / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> AppCredentials {
        AppCredentials {
            app_id: "MICROSOFT-APP-ID".into(),
            app_password: "MICROSOFT-APP-PASSWORD".into(),
            ..Default::default()
        }
    }

    /// The request line's URL and the form body of a published token request.
    fn published(name: &str) -> (String, String) {
        let path = format!(
            "{}/../../shared/fixtures/teams/connector-api/requests/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let url = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("POST "))
            .expect("a POST request line")
            .trim()
            .to_owned();
        let body = text.lines().last().expect("a body").trim().to_owned();
        (url, body)
    }

    #[test]
    fn token_requests_are_the_published_ones() {
        let (url, body) = published("token-request.multitenant.http");
        let multi = credentials();
        assert_eq!(multi.token_url(multi.bot_tenant()), url);
        assert_eq!(multi.form(BOT_SCOPE), body);

        let (url, body) = published("token-request.singletenant.http");
        let single = AppCredentials {
            tenant_id: Some("MICROSOFT-TENANT-ID".into()),
            login_url: "https://login.microsoftonline.com/".into(),
            ..credentials()
        };
        assert_eq!(single.token_url(single.bot_tenant()), url);
        assert_eq!(single.form(BOT_SCOPE), body);
    }

    #[test]
    fn the_password_is_not_in_debug_output() {
        let source = TokenSource::new(credentials()).expect("a source");
        for shown in [format!("{:?}", credentials()), format!("{source:?}")] {
            assert!(!shown.contains("MICROSOFT-APP-PASSWORD"), "{shown}");
            assert!(shown.contains("MICROSOFT-APP-ID"), "{shown}");
        }
    }

    #[test]
    fn sources_need_an_id_a_password_and_an_http_login_url() {
        let no_id = AppCredentials {
            app_id: " ".into(),
            ..credentials()
        };
        assert!(TokenSource::new(no_id).is_err());
        let no_password = AppCredentials {
            app_password: String::new(),
            ..credentials()
        };
        assert!(TokenSource::new(no_password).is_err());
        let bad_url = AppCredentials {
            login_url: "ftp://login.example.com".into(),
            ..credentials()
        };
        assert!(TokenSource::new(bad_url).is_err());
    }

    #[test]
    fn tokens_are_replaced_before_they_expire() {
        let hour = Duration::from_secs(3600);
        assert_eq!(refresh_after(hour), Duration::from_secs(3300));
        assert_eq!(
            refresh_after(Duration::from_secs(300)),
            Duration::from_secs(150)
        );
        assert_eq!(refresh_after(Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_graph_token_needs_a_tenant() {
        let source = TokenSource::new(credentials()).expect("a source");
        let error = source.graph_token().await.expect_err("no tenant");
        assert!(matches!(error, ChatError::Refused(ref m) if m.contains("tenant")));
    }
}
