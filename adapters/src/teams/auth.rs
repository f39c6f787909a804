//! Inbound authentication for Microsoft Teams: every activity the Bot Framework connector
//! posts carries `Authorization: Bearer <JWT>`, and [`TeamsAuth::validate`] decides whether
//! that token really comes from the connector, for this bot, about this activity.
//!
//! What is checked follows Microsoft's "Authenticate requests from the Bot Connector service
//! to your bot": the `Bearer` scheme; an RS256 (or another algorithm the OpenID metadata
//! lists) signature by a key from the metadata's `jwks_uri`; `iss` is
//! `https://api.botframework.com`; `aud` is the bot's Microsoft App ID; `nbf`/`exp` hold
//! with five minutes of clock skew; the `serviceurl` claim names the activity's
//! `serviceUrl`; and the signing key's `endorsements` contain the activity's `channelId`.
//!
//! Time comes from the caller (the app's `Clock`), never from the system clock, so the
//! validity window and the key cache's age are exact in tests. Signing keys are cached and
//! refreshed every 24 hours, and on a token whose `kid` is unknown — but at most once per
//! five minutes, so forged tokens cannot turn the bot into an amplifier against
//! `login.botframework.com`.
//!
//! This module knows nothing of HTTP routing or activities beyond the two fields it is
//! given; tokens are never logged and never appear in error messages.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::PLATFORM;

/// The Bot Framework's OpenID metadata for tokens the connector sends to bots. The app
/// overrides it with `TOCSIN_TEAMS_OPENID_URL` (tests, sovereign clouds).
pub const DEFAULT_OPENID_URL: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";

/// The only `iss` a connector-to-bot token may carry.
pub const ISSUER: &str = "https://api.botframework.com";

/// Clock skew allowed on `exp` and `nbf`, in seconds ("industry-standard" 5 minutes).
pub const CLOCK_SKEW_SECS: i64 = 300;

/// Keys older than this are fetched again before use (Microsoft: "at least once every 24
/// hours").
const KEY_MAX_AGE: TimeDelta = TimeDelta::hours(24);
/// The shortest time between two fetches caused by unknown `kid`s or by retries of a failed
/// scheduled refresh.
const MIN_REFETCH_INTERVAL: TimeDelta = TimeDelta::minutes(5);
/// While no key was ever fetched, how long to wait after a failed fetch before trying again.
const EMPTY_CACHE_RETRY: TimeDelta = TimeDelta::seconds(10);
/// One request's whole time budget when fetching metadata or keys.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Longer `Authorization` values are refused unread; connector tokens are about 1.5 KiB.
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// How much of a caller-supplied string (a `kid`, a channel id) goes into logs and errors.
const MAX_ECHO_LEN: usize = 64;
/// The token claim holding the connector's service URL. Microsoft's SDKs spell it in
/// lowercase and look it up case-insensitively; so does [`service_url_claim`].
const SERVICE_URL_CLAIM: &str = "serviceurl";

/// Why a token is refused, or could not be checked.
///
/// HTTP mapping recommended for the messaging route (see [`AuthError::recommended_status`]):
/// [`AuthError::NotEndorsed`] is 403, as Microsoft's documentation asks for a valid token
/// whose key is not endorsed for the activity's channel; [`AuthError::MetadataUnavailable`]
/// is 503, because the fault is ours (or Microsoft's key endpoint's), not the caller's,
/// and a 401 would read as "bad credentials" in the connector's logs; everything else is
/// 401. No message contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// There is no `Authorization` header, or it is blank.
    #[error("the Authorization header is missing")]
    Missing,
    /// The header is not `Bearer <JWT>`, or the JWT cannot be read: bad encoding, no `kid`,
    /// no `exp`, or an algorithm the metadata does not allow.
    #[error("the bearer token is malformed: {0}")]
    Malformed(String),
    /// No key in the connector's key set has the token's `kid`, even after a refresh.
    #[error("the token's signing key is not in the Bot Framework key set")]
    UnknownKey,
    /// The signature does not verify with the key the token names.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `exp` is more than the allowed clock skew in the past.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is more than the allowed clock skew in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is missing or not [`ISSUER`].
    #[error("the token was not issued by the Bot Framework")]
    WrongIssuer,
    /// `aud` is missing or not this bot's Microsoft App ID. [`TeamsAuth::new`] also returns
    /// it for an empty App ID, which no token's audience could rightly match.
    #[error("the token is for another audience than this bot")]
    WrongAudience,
    /// The `serviceurl` claim is missing or differs from the activity's `serviceUrl`.
    #[error("the token's service URL does not match the activity's serviceUrl")]
    ServiceUrlMismatch,
    /// The token is otherwise valid, but its signing key is not endorsed for the activity's
    /// `channelId` (held here). Microsoft asks for HTTP 403 here.
    #[error("the signing key is not endorsed for channel `{0}`")]
    NotEndorsed(String),
    /// The OpenID metadata or the key set could not be fetched or read, so the token could
    /// not be checked. [`TeamsAuth::new`] also returns it for an unusable metadata URL.
    #[error("Bot Framework signing keys are unavailable: {0}")]
    MetadataUnavailable(String),
}

impl AuthError {
    /// The HTTP status the messaging route should answer with: 403 for
    /// [`AuthError::NotEndorsed`], 503 for [`AuthError::MetadataUnavailable`], 401 otherwise.
    pub fn recommended_status(&self) -> u16 {
        match self {
            AuthError::NotEndorsed(_) => 403,
            AuthError::MetadataUnavailable(_) => 503,
            _ => 401,
        }
    }
}

/// What a validated token says. Everything here has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The `aud` claim: this bot's Microsoft App ID.
    pub app_id: String,
    /// The `iss` claim, always [`ISSUER`].
    pub issuer: String,
    /// The `serviceurl` claim as the token has it; it equals the activity's `serviceUrl`
    /// up to a trailing `/`.
    pub service_url: String,
    /// The channel the signing key is endorsed for (the activity's `channelId`).
    pub channel_id: String,
    /// The `kid` of the key that signed the token.
    pub key_id: String,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
    /// `nbf`, when the token has one.
    pub not_before: Option<DateTime<Utc>>,
}

/// Validates the connector's bearer tokens for one bot, caching the Bot Framework's signing
/// keys. Share one per process (behind an `Arc`): the cache is what keeps key fetches rare.
pub struct TeamsAuth {
    http: reqwest::Client,
    openid_url: String,
    app_id: String,
    cache: Mutex<KeyCache>,
}

impl fmt::Debug for TeamsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamsAuth")
            .field("openid_url", &self.openid_url)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl TeamsAuth {
    /// A validator for tokens addressed to `app_id` (the bot's Microsoft App ID), with keys
    /// from the OpenID metadata at `openid_url` (usually [`DEFAULT_OPENID_URL`]). Nothing is
    /// fetched until the first token arrives.
    ///
    /// Fails with [`AuthError::WrongAudience`] for an empty App ID and with
    /// [`AuthError::MetadataUnavailable`] for a URL that is not http(s).
    pub fn new(
        app_id: impl Into<String>,
        openid_url: impl Into<String>,
    ) -> Result<Self, AuthError> {
        let app_id = app_id.into().trim().to_owned();
        if app_id.is_empty() {
            return Err(AuthError::WrongAudience);
        }
        let openid_url = openid_url.into().trim().to_owned();
        let parsed = reqwest::Url::parse(&openid_url).map_err(|e| {
            AuthError::MetadataUnavailable(format!("OpenID metadata URL `{openid_url}`: {e}"))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(AuthError::MetadataUnavailable(format!(
                "OpenID metadata URL `{openid_url}` is not http(s)"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                AuthError::MetadataUnavailable(format!("building the HTTP client: {e}"))
            })?;
        Ok(TeamsAuth {
            http,
            openid_url,
            app_id,
            cache: Mutex::new(KeyCache::default()),
        })
    }

    /// Checks the connector's token for one activity at time `now` and returns its claims.
    ///
    /// `authorization` is the whole header value (`"Bearer …"`), `None` when absent;
    /// `service_url` and `channel_id` are the activity's root `serviceUrl` and `channelId`.
    /// May fetch the signing keys first (see the module docs for when).
    #[tracing::instrument(
        name = "teams_auth",
        skip_all,
        fields(platform = PLATFORM, channel_id = %echo(channel_id))
    )]
    pub async fn validate(
        &self,
        authorization: Option<&str>,
        service_url: &str,
        channel_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Claims, AuthError> {
        let result = self
            .check(authorization, service_url, channel_id, now)
            .await;
        if let Err(error) = &result {
            tracing::info!(%error, "refused a Bot Framework token");
        }
        result
    }

    /// [`TeamsAuth::validate`] without the logging: each step returns early on the first
    /// failure, signature before any claim is believed.
    async fn check(
        &self,
        authorization: Option<&str>,
        service_url: &str,
        channel_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Claims, AuthError> {
        let token = bearer_token(authorization)?;
        let header = decode_header(token)
            .map_err(|_| AuthError::Malformed("the JWT header cannot be read".into()))?;
        let kid = header
            .kid
            .filter(|kid| !kid.is_empty())
            .ok_or_else(|| AuthError::Malformed("the JWT header has no kid".into()))?;
        let keys = self.keys_for(&kid, now).await?;
        let key = keys.keys.get(&kid).ok_or(AuthError::UnknownKey)?;
        keys.check_algorithm(key, header.alg)?;
        let raw = verify_signature(token, key, header.alg)?;
        let checked = raw.check(&self.app_id, service_url, now)?;
        if !key.endorsements.iter().any(|e| e == channel_id) {
            return Err(AuthError::NotEndorsed(echo(channel_id)));
        }
        Ok(Claims {
            app_id: self.app_id.clone(),
            issuer: ISSUER.to_owned(),
            service_url: checked.service_url,
            channel_id: channel_id.to_owned(),
            key_id: kid,
            expires_at: checked.expires_at,
            not_before: checked.not_before,
        })
    }

    /// The cached key set, made to contain `kid` by a refresh when the cache's rules allow
    /// one. Holding the lock across the fetch makes concurrent requests share one fetch.
    async fn keys_for(&self, kid: &str, now: DateTime<Utc>) -> Result<Arc<KeySet>, AuthError> {
        let mut cache = self.cache.lock().await;
        if cache.refresh_due(now) {
            let refreshed = self.refresh(&mut cache, now).await;
            if let (Err(error), None) = (refreshed, &cache.keys) {
                return Err(error);
            }
        }
        let Some(keys) = cache.keys.clone() else {
            return Err(AuthError::MetadataUnavailable(
                "no signing keys fetched yet; retrying shortly".into(),
            ));
        };
        if keys.keys.contains_key(kid) {
            return Ok(keys);
        }
        if !cache.unknown_kid_refetch_allowed(now) {
            tracing::debug!(kid = %echo(kid), "unknown kid; key refresh throttled");
            return Err(AuthError::UnknownKey);
        }
        tracing::info!(kid = %echo(kid), "unknown kid; refreshing Bot Framework keys");
        self.refresh(&mut cache, now).await?;
        match &cache.keys {
            Some(keys) if keys.keys.contains_key(kid) => Ok(Arc::clone(keys)),
            _ => Err(AuthError::UnknownKey),
        }
    }

    /// Fetches the key set into `cache`. A failure keeps the keys already cached (as
    /// Microsoft's own SDKs do) and is retried after [`MIN_REFETCH_INTERVAL`].
    async fn refresh(&self, cache: &mut KeyCache, now: DateTime<Utc>) -> Result<(), AuthError> {
        cache.attempted_at = Some(now);
        match self.fetch_key_set().await {
            Ok(keys) => {
                tracing::info!(
                    keys = keys.keys.len(),
                    algorithms = ?keys.algorithms,
                    "fetched Bot Framework signing keys"
                );
                cache.keys = Some(Arc::new(keys));
                cache.fetched_at = Some(now);
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, cached = cache.keys.is_some(), "fetching Bot Framework signing keys failed");
                Err(error)
            }
        }
    }

    /// The metadata document, then the key set its `jwks_uri` names.
    async fn fetch_key_set(&self) -> Result<KeySet, AuthError> {
        let metadata: OpenIdMetadata = self.get_json(&self.openid_url).await?;
        let algorithms = accepted_algorithms(&metadata.id_token_signing_alg_values_supported)?;
        let document: JwkDocument = self.get_json(&metadata.jwks_uri).await?;
        KeySet::from_document(document, algorithms)
    }

    /// GET `url` and parse its JSON body; any failure is [`AuthError::MetadataUnavailable`].
    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, AuthError> {
        let unavailable =
            |what: String| AuthError::MetadataUnavailable(format!("GET {url}: {what}"));
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(unavailable(format!("HTTP {status}")));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        serde_json::from_slice(&body).map_err(|e| unavailable(format!("unreadable JSON: {e}")))
    }
}

/// The token in an `Authorization: Bearer <token>` value. The scheme is case-insensitive
/// (RFC 7235).
fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(AuthError::Missing);
    }
    if value.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed(
            "the Authorization header is too long".into(),
        ));
    }
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed(
            "the Authorization scheme is not Bearer".into(),
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Malformed("the bearer token is empty".into()));
    }
    Ok(token)
}

/// Checks the signature of `token` with `key` and returns its claims, unvalidated.
/// jsonwebtoken's own time, issuer and audience checks are off: it reads the system clock,
/// and [`RawClaims::check`] gives each failure its own [`AuthError`].
fn verify_signature(token: &str, key: &SigningKey, alg: Algorithm) -> Result<RawClaims, AuthError> {
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let data = decode::<RawClaims>(token, &key.key, &validation).map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
            AuthError::BadSignature
        }
        ErrorKind::Json(_) => {
            AuthError::Malformed("the JWT claims are not the expected JSON".into())
        }
        _ => AuthError::Malformed("the JWT cannot be decoded".into()),
    })?;
    Ok(data.claims)
}

/// The claims this module looks at, as the token has them.
#[derive(Debug, Deserialize)]
struct RawClaims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<i64>,
    /// Everything else; the service URL claim is looked up here by name, ignoring case.
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// The claims [`RawClaims::check`] vouches for.
#[derive(Debug)]
struct CheckedClaims {
    service_url: String,
    expires_at: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
}

impl RawClaims {
    /// Issuer, audience, validity window at `now`, then the service URL.
    fn check(
        self,
        app_id: &str,
        service_url: &str,
        now: DateTime<Utc>,
    ) -> Result<CheckedClaims, AuthError> {
        if self.iss.as_deref() != Some(ISSUER) {
            return Err(AuthError::WrongIssuer);
        }
        if !self.aud.as_ref().is_some_and(|aud| aud.names(app_id)) {
            return Err(AuthError::WrongAudience);
        }
        let (expires_at, not_before) = check_window(self.exp, self.nbf, now)?;
        let claimed = service_url_claim(&self.rest)?;
        if !same_service_url(&claimed, service_url) {
            return Err(AuthError::ServiceUrlMismatch);
        }
        Ok(CheckedClaims {
            service_url: claimed,
            expires_at,
            not_before,
        })
    }
}

/// `exp` (required) and `nbf` (optional) against `now`, each with [`CLOCK_SKEW_SECS`] of
/// leeway: a token is still good at `exp + 300` and already good at `nbf - 300`.
fn check_window(
    exp: Option<i64>,
    nbf: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), AuthError> {
    let now = now.timestamp();
    let exp = exp.ok_or_else(|| AuthError::Malformed("the token has no exp claim".into()))?;
    if now > exp.saturating_add(CLOCK_SKEW_SECS) {
        return Err(AuthError::Expired);
    }
    if let Some(nbf) = nbf
        && now < nbf.saturating_sub(CLOCK_SKEW_SECS)
    {
        return Err(AuthError::NotYetValid);
    }
    let instant = |secs: i64| {
        DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| AuthError::Malformed("a time claim is out of range".into()))
    };
    Ok((instant(exp)?, nbf.map(instant).transpose()?))
}

/// The service URL claim. Every claim named `serviceurl` in any case must be a string and
/// agree, so a token cannot carry two spellings with different values.
fn service_url_claim(claims: &Map<String, Value>) -> Result<String, AuthError> {
    let mut found: Option<&str> = None;
    for (name, value) in claims {
        if !name.eq_ignore_ascii_case(SERVICE_URL_CLAIM) {
            continue;
        }
        let value = value.as_str().ok_or(AuthError::ServiceUrlMismatch)?;
        match found {
            Some(seen) if seen != value => return Err(AuthError::ServiceUrlMismatch),
            _ => found = Some(value),
        }
    }
    found
        .map(str::to_owned)
        .ok_or(AuthError::ServiceUrlMismatch)
}

/// Whether the token's service URL and the activity's are the same, up to one trailing `/`.
/// An empty one matches nothing.
fn same_service_url(claimed: &str, activity: &str) -> bool {
    let trim = |url: &str| url.strip_suffix('/').unwrap_or(url).to_owned();
    !activity.is_empty() && trim(claimed) == trim(activity)
}

/// `aud` as RFC 7519 allows it: one string or an array of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// Whether `app_id` is (one of) the audience(s).
    fn names(&self, app_id: &str) -> bool {
        match self {
            Audience::One(aud) => aud == app_id,
            Audience::Many(auds) => auds.iter().any(|aud| aud == app_id),
        }
    }
}

/// A JWT NumericDate: seconds since the epoch, possibly fractional (truncated here).
fn numeric_date<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    match (number.as_i64(), number.as_f64()) {
        (Some(secs), _) => Ok(Some(secs)),
        (None, Some(secs)) if secs.is_finite() && secs.abs() < 1e15 => {
            Ok(Some(secs.trunc() as i64))
        }
        _ => Err(serde::de::Error::custom(
            "a time claim is not a usable number",
        )),
    }
}

/// A caller-supplied string cut to [`MAX_ECHO_LEN`] characters for logs and errors.
fn echo(value: &str) -> String {
    value.chars().take(MAX_ECHO_LEN).collect()
}

/// The cache of signing keys, with the times that decide when to fetch again. Times are the
/// caller's `now`s; if one goes backwards, the elapsed time counts as zero.
#[derive(Default)]
struct KeyCache {
    /// The last key set fetched successfully.
    keys: Option<Arc<KeySet>>,
    /// When `keys` was fetched.
    fetched_at: Option<DateTime<Utc>>,
    /// When the last fetch was tried, whether it worked or not.
    attempted_at: Option<DateTime<Utc>>,
}

impl KeyCache {
    /// Whether to fetch before looking at the keys: never fetched (retrying a failure after
    /// [`EMPTY_CACHE_RETRY`]), or older than [`KEY_MAX_AGE`] (retrying a failure after
    /// [`MIN_REFETCH_INTERVAL`], meanwhile using the old keys).
    fn refresh_due(&self, now: DateTime<Utc>) -> bool {
        match self.fetched_at {
            None => self.since_attempt(now) >= EMPTY_CACHE_RETRY,
            Some(fetched) => {
                elapsed(fetched, now) >= KEY_MAX_AGE
                    && self.since_attempt(now) >= MIN_REFETCH_INTERVAL
            }
        }
    }

    /// Whether a token with an unknown `kid` may cause a fetch: the last one was at least
    /// [`MIN_REFETCH_INTERVAL`] ago.
    fn unknown_kid_refetch_allowed(&self, now: DateTime<Utc>) -> bool {
        self.since_attempt(now) >= MIN_REFETCH_INTERVAL
    }

    /// Time since the last fetch attempt; forever when there was none.
    fn since_attempt(&self, now: DateTime<Utc>) -> TimeDelta {
        self.attempted_at
            .map_or(TimeDelta::MAX, |attempted| elapsed(attempted, now))
    }
}

/// `now - then`, or zero when the clock went backwards.
fn elapsed(then: DateTime<Utc>, now: DateTime<Utc>) -> TimeDelta {
    (now - then).max(TimeDelta::zero())
}

/// The OpenID metadata fields this module uses.
#[derive(Debug, Deserialize)]
struct OpenIdMetadata {
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
}

/// The algorithms both the metadata lists and an RSA key can verify (the Bot Framework
/// lists `RS256`). None usable is a metadata failure: no token could ever pass.
fn accepted_algorithms(listed: &[String]) -> Result<Vec<Algorithm>, AuthError> {
    let accepted: Vec<Algorithm> = listed
        .iter()
        .filter_map(|name| Algorithm::from_str(name).ok())
        .filter(|alg| alg.family() == jsonwebtoken::AlgorithmFamily::Rsa)
        .collect();
    if accepted.is_empty() {
        return Err(AuthError::MetadataUnavailable(
            "the metadata lists no RSA signing algorithm".into(),
        ));
    }
    Ok(accepted)
}

/// A JWKS document; keys are read one by one so one odd key does not sink the others.
#[derive(Debug, Deserialize)]
struct JwkDocument {
    keys: Vec<Value>,
}

/// The fields of one JWK this module uses, plus the Bot Framework's `endorsements`.
#[derive(Debug, Deserialize)]
struct RsaJwk {
    kty: String,
    kid: String,
    #[serde(rename = "use", default)]
    usage: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    n: String,
    e: String,
    #[serde(default)]
    endorsements: Vec<String>,
}

/// One verification key and the channels it is endorsed for.
struct SigningKey {
    key: DecodingKey,
    /// The key's own `alg`, when the JWK names one.
    alg: Option<Algorithm>,
    endorsements: Vec<String>,
}

/// The usable keys of one JWKS fetch, by `kid`, with the metadata's algorithms.
struct KeySet {
    keys: HashMap<String, SigningKey>,
    algorithms: Vec<Algorithm>,
}

impl KeySet {
    /// The RSA signing keys of `document`; the others are skipped. None usable is a failure.
    fn from_document(document: JwkDocument, algorithms: Vec<Algorithm>) -> Result<Self, AuthError> {
        let keys: HashMap<String, SigningKey> =
            document.keys.into_iter().filter_map(signing_key).collect();
        if keys.is_empty() {
            return Err(AuthError::MetadataUnavailable(
                "the key set has no usable RSA signing key".into(),
            ));
        }
        Ok(KeySet { keys, algorithms })
    }

    /// Whether the token's header `alg` is one the metadata allows and, if the key names
    /// one, the key's.
    fn check_algorithm(&self, key: &SigningKey, alg: Algorithm) -> Result<(), AuthError> {
        let allowed = self.algorithms.contains(&alg) && key.alg.is_none_or(|own| own == alg);
        if allowed {
            Ok(())
        } else {
            Err(AuthError::Malformed(format!(
                "the signing algorithm {alg:?} is not allowed"
            )))
        }
    }
}

/// One JWK as a `(kid, key)` pair, or `None` (logged) when it is not an RSA signing key.
fn signing_key(jwk: Value) -> Option<(String, SigningKey)> {
    let jwk: RsaJwk = serde_json::from_value(jwk)
        .map_err(|e| tracing::debug!(error = %e, "skipping a JWK that is not an RSA key"))
        .ok()?;
    let usable = jwk.kty == "RSA" && jwk.usage.as_deref().is_none_or(|u| u == "sig");
    let alg = match jwk.alg.as_deref().map(Algorithm::from_str) {
        None => None,
        Some(Ok(alg)) => Some(alg),
        Some(Err(_)) => {
            tracing::debug!(kid = %echo(&jwk.kid), "skipping a JWK with an unknown alg");
            return None;
        }
    };
    if !usable {
        tracing::debug!(kid = %echo(&jwk.kid), "skipping a JWK that is not for RSA signatures");
        return None;
    }
    let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e)
        .map_err(|_| tracing::debug!(kid = %echo(&jwk.kid), "skipping a JWK with a bad modulus or exponent"))
        .ok()?;
    let signing = SigningKey {
        key,
        alg,
        endorsements: jwk.endorsements,
    };
    Some((jwk.kid, signing))
}

/// Entry points for the fuzz targets in `fuzz/` (not an API): each step of
/// [`TeamsAuth::validate`] that reads what a caller or the metadata endpoint sent, without
/// the network and the cache around them.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// The token of an `Authorization` value and its header's `kid` and `alg`, as
    /// [`TeamsAuth::validate`] reads them before it looks for a key.
    pub fn token_header(authorization: &str) -> Result<(String, Algorithm), AuthError> {
        let token = bearer_token(Some(authorization))?;
        let header = decode_header(token)
            .map_err(|_| AuthError::Malformed("the JWT header cannot be read".into()))?;
        let kid = header
            .kid
            .filter(|kid| !kid.is_empty())
            .ok_or_else(|| AuthError::Malformed("the JWT header has no kid".into()))?;
        Ok((kid, header.alg))
    }

    /// A claims set (the JWT payload as JSON) checked as a signed token's would be.
    pub fn check_claims(
        json: &[u8],
        app_id: &str,
        service_url: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, AuthError> {
        let raw: RawClaims = serde_json::from_slice(json)
            .map_err(|_| AuthError::Malformed("the JWT claims are not the expected JSON".into()))?;
        raw.check(app_id, service_url, now).map(|c| c.expires_at)
    }

    /// The OpenID metadata and JWKS documents as a key set; its key ids.
    pub fn key_set(metadata: &[u8], jwks: &[u8]) -> Result<Vec<String>, AuthError> {
        Ok(parse_key_set(metadata, jwks)?.keys.into_keys().collect())
    }

    /// `token` checked against key `kid` of the key set: algorithm, then signature.
    pub fn verify(metadata: &[u8], jwks: &[u8], kid: &str, token: &str) -> Result<(), AuthError> {
        let keys = parse_key_set(metadata, jwks)?;
        let key = keys.keys.get(kid).ok_or(AuthError::UnknownKey)?;
        let header = decode_header(token)
            .map_err(|_| AuthError::Malformed("the JWT header cannot be read".into()))?;
        keys.check_algorithm(key, header.alg)?;
        verify_signature(token, key, header.alg).map(|_| ())
    }

    fn parse_key_set(metadata: &[u8], jwks: &[u8]) -> Result<KeySet, AuthError> {
        let unreadable = |e: serde_json::Error| AuthError::MetadataUnavailable(e.to_string());
        let metadata: OpenIdMetadata = serde_json::from_slice(metadata).map_err(unreadable)?;
        let algorithms = accepted_algorithms(&metadata.id_token_signing_alg_values_supported)?;
        let document: JwkDocument = serde_json::from_slice(jwks).map_err(unreadable)?;
        KeySet::from_document(document, algorithms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("a valid test time")
    }

    #[test]
    fn bearer_token_needs_the_bearer_scheme_and_a_token() {
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("  ")), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Bearer a.b.c")), Ok("a.b.c"));
        assert_eq!(bearer_token(Some("bearer  a.b.c ")), Ok("a.b.c"));
        assert!(matches!(
            bearer_token(Some("Basic dXNlcjpwYXNz")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            bearer_token(Some("Bearer")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            bearer_token(Some("a.b.c")),
            Err(AuthError::Malformed(_))
        ));
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN));
        assert!(matches!(
            bearer_token(Some(&long)),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn the_window_allows_five_minutes_of_skew_exactly() {
        let exp = 1_800_000_000;
        assert!(check_window(Some(exp), None, at(exp + CLOCK_SKEW_SECS)).is_ok());
        assert_eq!(
            check_window(Some(exp), None, at(exp + CLOCK_SKEW_SECS + 1)),
            Err(AuthError::Expired)
        );
        let nbf = exp - 3600;
        assert!(check_window(Some(exp), Some(nbf), at(nbf - CLOCK_SKEW_SECS)).is_ok());
        assert_eq!(
            check_window(Some(exp), Some(nbf), at(nbf - CLOCK_SKEW_SECS - 1)),
            Err(AuthError::NotYetValid)
        );
        assert!(matches!(
            check_window(None, None, at(exp)),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(
            check_window(Some(i64::MIN), None, at(0)),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn service_urls_match_up_to_one_trailing_slash() {
        let url = "https://smba.trafficmanager.net/amer/";
        assert!(same_service_url(
            url,
            "https://smba.trafficmanager.net/amer"
        ));
        assert!(same_service_url(
            "https://smba.trafficmanager.net/amer",
            url
        ));
        assert!(!same_service_url(
            url,
            "https://smba.trafficmanager.net/emea/"
        ));
        assert!(!same_service_url("", ""));
    }

    #[test]
    fn the_service_url_claim_is_found_in_any_case_and_must_agree() {
        let claims = |v: Value| v.as_object().cloned().expect("an object");
        let one = claims(serde_json::json!({"serviceurl": "https://a/"}));
        assert_eq!(service_url_claim(&one), Ok("https://a/".to_owned()));
        let camel = claims(serde_json::json!({"serviceUrl": "https://a/"}));
        assert_eq!(service_url_claim(&camel), Ok("https://a/".to_owned()));
        let both =
            claims(serde_json::json!({"serviceurl": "https://a/", "serviceUrl": "https://b/"}));
        assert_eq!(service_url_claim(&both), Err(AuthError::ServiceUrlMismatch));
        let none = claims(serde_json::json!({"url": "https://a/"}));
        assert_eq!(service_url_claim(&none), Err(AuthError::ServiceUrlMismatch));
    }

    #[test]
    fn the_cache_refreshes_daily_and_throttles_unknown_kids() {
        let t0 = at(1_800_000_000);
        let mut cache = KeyCache::default();
        assert!(cache.refresh_due(t0), "an empty cache fetches");
        cache.attempted_at = Some(t0);
        assert!(
            !cache.refresh_due(t0 + TimeDelta::seconds(9)),
            "failed fetches back off"
        );
        assert!(cache.refresh_due(t0 + EMPTY_CACHE_RETRY));

        cache.fetched_at = Some(t0);
        assert!(!cache.refresh_due(t0 + TimeDelta::hours(23)));
        assert!(cache.refresh_due(t0 + KEY_MAX_AGE));
        assert!(!cache.unknown_kid_refetch_allowed(t0 + TimeDelta::seconds(299)));
        assert!(cache.unknown_kid_refetch_allowed(t0 + MIN_REFETCH_INTERVAL));
        assert!(
            !cache.unknown_kid_refetch_allowed(t0 - TimeDelta::hours(1)),
            "a clock going backwards does not open the throttle"
        );
    }

    #[test]
    fn only_rsa_algorithms_from_the_metadata_are_accepted() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            accepted_algorithms(&names(&["RS256"])),
            Ok(vec![Algorithm::RS256])
        );
        assert_eq!(
            accepted_algorithms(&names(&["HS256", "ES256", "RS256", "none"])),
            Ok(vec![Algorithm::RS256])
        );
        assert!(matches!(
            accepted_algorithms(&names(&["HS256"])),
            Err(AuthError::MetadataUnavailable(_))
        ));
    }

    #[test]
    fn the_audience_may_be_a_string_or_a_list() {
        let one: Audience = serde_json::from_value(serde_json::json!("app")).expect("a string");
        let many: Audience =
            serde_json::from_value(serde_json::json!(["x", "app"])).expect("a list");
        assert!(one.names("app") && many.names("app"));
        assert!(!one.names("other") && !many.names("other"));
    }

    #[test]
    fn recommended_statuses_follow_the_docs() {
        assert_eq!(
            AuthError::NotEndorsed("msteams".into()).recommended_status(),
            403
        );
        assert_eq!(
            AuthError::MetadataUnavailable("down".into()).recommended_status(),
            503
        );
        assert_eq!(AuthError::BadSignature.recommended_status(), 401);
        assert_eq!(AuthError::Missing.recommended_status(), 401);
    }

    #[test]
    fn new_refuses_an_empty_app_id_and_a_non_http_url() {
        assert_eq!(
            TeamsAuth::new(" ", DEFAULT_OPENID_URL).map(|_| ()),
            Err(AuthError::WrongAudience)
        );
        assert!(matches!(
            TeamsAuth::new("app", "file:///etc/passwd"),
            Err(AuthError::MetadataUnavailable(_))
        ));
        assert!(TeamsAuth::new("app", DEFAULT_OPENID_URL).is_ok());
    }
}
