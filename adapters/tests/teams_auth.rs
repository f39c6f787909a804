//! `TeamsAuth` against a stub of the Bot Framework's OpenID metadata and key set on
//! loopback. The metadata is the published document (`teams/auth/` under
//! `$TOCSIN_FIXTURES`, by default `../shared/fixtures` next to the workspace) with its
//! `jwks_uri` pointed at the stub; each key has the shape of the published JWKS example
//! with a committed test RSA key (`tests/teams_keys/`). Tokens are signed here the way the
//! connector signs them (RS256, `kid` and `x5t` in the header), and every check runs at an
//! explicit time, so expiry is tested to the second.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use adapters::teams::auth::{AuthError, Claims, TeamsAuth};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

/// The bot's Microsoft App ID, the audience every good token names.
const APP_ID: &str = "6c4b8e1a-2f3d-4a5b-9c8d-7e6f5a4b3c2d";
/// The connector's issuer, spelled out rather than taken from the module under test.
const ISSUER: &str = "https://api.botframework.com";
/// The activity's `serviceUrl` (Teams, Americas), as the connector sends it.
const SERVICE_URL: &str = "https://smba.trafficmanager.net/amer/";
const MSTEAMS: &str = "msteams";

const OPENID_PATH: &str = "/v1/.well-known/openidconfiguration";
const KEYS_PATH: &str = "/v1/.well-known/keys";

/// A Tuesday morning; every test's clock starts here.
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T09:30:00Z")
        .expect("a valid time")
        .with_timezone(&Utc)
}

fn fixture(name: &str) -> Value {
    let dir = std::env::var_os("TOCSIN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/fixtures"
            ))
        });
    let path = dir.join("teams/auth").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A committed test key pair and the `kid` the stub lists it under.
struct TestKey {
    kid: &'static str,
    signing: EncodingKey,
    /// base64url of the modulus and public exponent, as a JWK has them.
    n: String,
    e: String,
}

impl TestKey {
    fn load(file: &str, kid: &'static str) -> TestKey {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/teams_keys")
            .join(file);
        let pem = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let private = RsaPrivateKey::from_pkcs8_pem(&pem).expect("a PKCS#8 RSA key");
        TestKey {
            kid,
            signing: EncodingKey::from_rsa_pem(pem.as_bytes()).expect("an RSA signing key"),
            n: URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
        }
    }

    /// This key as the Bot Framework lists it: the published example's shape with this
    /// key's `kid`, `x5t`, `n`, `e` and `endorsements`.
    fn jwk(&self, endorsements: &[&str]) -> Value {
        let mut jwk = fixture("botframework-jwks.shape-example.json")["keys"][0].clone();
        jwk["kid"] = json!(self.kid);
        jwk["x5t"] = json!(self.kid);
        jwk["n"] = json!(self.n);
        jwk["e"] = json!(self.e);
        jwk["endorsements"] = json!(endorsements);
        jwk
    }

    /// A token signed with this key whose header names `kid`.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        header.x5t = Some(kid.to_owned());
        encode(&header, claims, &self.signing).expect("signing a test token")
    }

    /// A token signed with this key under its own `kid`.
    fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.kid, claims)
    }
}

struct Keys {
    /// Listed from the start, endorsed for `msteams`.
    current: TestKey,
    /// Listed only once a test rotates it in.
    rotated: TestKey,
    /// Listed, but endorsed for `webchat` only.
    unendorsed: TestKey,
    /// Never listed.
    attacker: TestKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        current: TestKey::load("test-signing-key.pem", "bf-current-2026"),
        rotated: TestKey::load("test-rotated-key.pem", "bf-rotated-2026"),
        unendorsed: TestKey::load("test-unendorsed-key.pem", "bf-webchat-only"),
        attacker: TestKey::load("test-attacker-key.pem", "attacker-own"),
    })
}

/// What the stub serves and how often it was asked.
struct StubState {
    metadata: Value,
    jwks: Value,
    metadata_hits: usize,
    jwks_hits: usize,
    /// Answer 503 to everything, like an outage of the key endpoint.
    down: bool,
}

/// The Bot Framework's metadata and key endpoints on loopback.
#[derive(Clone)]
struct Stub {
    openid_url: String,
    state: Arc<Mutex<StubState>>,
}

impl Stub {
    /// Starts serving the published metadata, whose `jwks_uri` points at a key set holding
    /// the current key (endorsed for `msteams`) and the `webchat`-only key.
    async fn start() -> Stub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let mut metadata = fixture("botframework-openidconfiguration.json");
        assert_eq!(
            metadata["id_token_signing_alg_values_supported"],
            json!(["RS256"])
        );
        metadata["jwks_uri"] = json!(format!("http://{addr}{KEYS_PATH}"));
        let jwks = json!({ "keys": [
            keys().current.jwk(&[MSTEAMS]),
            keys().unendorsed.jwk(&["webchat"]),
        ]});
        let state = Arc::new(Mutex::new(StubState {
            metadata,
            jwks,
            metadata_hits: 0,
            jwks_hits: 0,
            down: false,
        }));
        let app = Router::new()
            .route(OPENID_PATH, get(serve_metadata))
            .route(KEYS_PATH, get(serve_jwks))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the stub serves");
        });
        Stub {
            openid_url: format!("http://{addr}{OPENID_PATH}"),
            state,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, StubState> {
        self.state.lock().expect("stub state")
    }

    /// How many times the metadata and the key set were fetched.
    fn hits(&self) -> (usize, usize) {
        let state = self.state();
        (state.metadata_hits, state.jwks_hits)
    }

    fn add_key(&self, jwk: Value) {
        let mut state = self.state();
        let keys = state.jwks["keys"].as_array_mut().expect("a key list");
        keys.push(jwk);
    }

    fn remove_key(&self, kid: &str) {
        let mut state = self.state();
        let keys = state.jwks["keys"].as_array_mut().expect("a key list");
        keys.retain(|k| k["kid"] != kid);
    }

    fn set_down(&self, down: bool) {
        self.state().down = down;
    }

    fn auth(&self) -> TeamsAuth {
        TeamsAuth::new(APP_ID, &self.openid_url).expect("a validator")
    }
}

type Shared = State<Arc<Mutex<StubState>>>;

async fn serve_metadata(State(state): Shared) -> Response {
    let mut state = state.lock().expect("stub state");
    state.metadata_hits += 1;
    if state.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    axum::Json(state.metadata.clone()).into_response()
}

async fn serve_jwks(State(state): Shared) -> Response {
    let mut state = state.lock().expect("stub state");
    state.jwks_hits += 1;
    if state.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    axum::Json(state.jwks.clone()).into_response()
}

/// The claims of a connector token issued at `issued` (valid from 5 minutes before, for an
/// hour), for this bot and the Americas service URL.
fn connector_claims(issued: DateTime<Utc>) -> Value {
    json!({
        "serviceurl": SERVICE_URL,
        "nbf": (issued - TimeDelta::minutes(5)).timestamp(),
        "exp": (issued + TimeDelta::hours(1)).timestamp(),
        "iss": ISSUER,
        "aud": APP_ID,
    })
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Validates `token` for an `msteams` activity from the Americas service at `now`.
async fn check(auth: &TeamsAuth, token: &str, now: DateTime<Utc>) -> Result<Claims, AuthError> {
    auth.validate(Some(&bearer(token)), SERVICE_URL, MSTEAMS, now)
        .await
}

/// Validates an `msteams` activity carrying this `Authorization` header value at `t0`.
async fn with_header(auth: &TeamsAuth, header: Option<&str>) -> Result<Claims, AuthError> {
    auth.validate(header, SERVICE_URL, MSTEAMS, t0()).await
}

/// Asserts `token` is refused at `now` and that the refusal does not quote it.
async fn refused(auth: &TeamsAuth, token: &str, now: DateTime<Utc>) -> AuthError {
    let error = check(auth, token, now)
        .await
        .expect_err("the token must be refused");
    let text = format!("{error} {error:?}");
    assert!(!text.contains(token), "the error quotes the token: {text}");
    for part in token.split('.').filter(|p| p.len() > 8) {
        assert!(
            !text.contains(part),
            "the error quotes part of the token: {text}"
        );
    }
    error
}

/// Flips one base64url character in the middle of the token's `part` (0 header, 1 claims,
/// 2 signature), keeping the token well-formed.
fn tamper(token: &str, part: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let segment = &mut parts[part];
    let middle = segment.len() / 2;
    let flipped = if &segment[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    segment.replace_range(middle..=middle, flipped);
    parts.join(".")
}

#[tokio::test]
async fn a_connector_token_signed_by_a_listed_endorsed_key_is_accepted_and_keys_are_cached() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let token = keys().current.sign(&connector_claims(t0()));

    let claims = check(&auth, &token, t0()).await.expect("a valid token");

    assert_eq!(
        claims,
        Claims {
            app_id: APP_ID.into(),
            issuer: ISSUER.into(),
            service_url: SERVICE_URL.into(),
            channel_id: MSTEAMS.into(),
            key_id: "bf-current-2026".into(),
            expires_at: t0() + TimeDelta::hours(1),
            not_before: Some(t0() - TimeDelta::minutes(5)),
        }
    );
    assert_eq!(stub.hits(), (1, 1), "metadata, then the key set it names");

    let later = t0() + TimeDelta::minutes(30);
    let again = keys().current.sign(&connector_claims(later));
    check(&auth, &again, later).await.expect("still valid");
    assert_eq!(stub.hits(), (1, 1), "the second token used the cached keys");
}

#[tokio::test]
async fn expiry_allows_five_minutes_of_skew_to_the_second() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let token = keys().current.sign(&connector_claims(t0()));
    let exp = t0() + TimeDelta::hours(1);

    check(&auth, &token, exp).await.expect("valid at exp");
    check(&auth, &token, exp + TimeDelta::seconds(300))
        .await
        .expect("valid within the 5 minutes of skew");
    let error = refused(&auth, &token, exp + TimeDelta::seconds(301)).await;
    assert_eq!(error, AuthError::Expired);
    assert_eq!(error.recommended_status(), 401);
}

#[tokio::test]
async fn not_before_allows_five_minutes_of_skew_to_the_second() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let mut claims = connector_claims(t0());
    claims["nbf"] = json!(t0().timestamp());
    let token = keys().current.sign(&claims);

    check(&auth, &token, t0() - TimeDelta::seconds(300))
        .await
        .expect("valid within the 5 minutes of skew");
    let error = refused(&auth, &token, t0() - TimeDelta::seconds(301)).await;
    assert_eq!(error, AuthError::NotYetValid);
}

#[tokio::test]
async fn a_token_for_another_bot_is_refused() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let mut claims = connector_claims(t0());
    claims["aud"] = json!("00000000-1111-2222-3333-444444444444");
    let other_bot = keys().current.sign(&claims);
    assert_eq!(
        refused(&auth, &other_bot, t0()).await,
        AuthError::WrongAudience
    );

    claims["aud"] = json!("https://api.botframework.com");
    let outbound_style = keys().current.sign(&claims);
    assert_eq!(
        refused(&auth, &outbound_style, t0()).await,
        AuthError::WrongAudience
    );

    claims.as_object_mut().expect("claims").remove("aud");
    let no_audience = keys().current.sign(&claims);
    assert_eq!(
        refused(&auth, &no_audience, t0()).await,
        AuthError::WrongAudience
    );
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let mut claims = connector_claims(t0());
    // The issuer of the tokens the bot itself gets from Entra ID (and the Emulator's).
    claims["iss"] = json!("https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/");
    let token = keys().current.sign(&claims);
    assert_eq!(refused(&auth, &token, t0()).await, AuthError::WrongIssuer);

    claims.as_object_mut().expect("claims").remove("iss");
    let no_issuer = keys().current.sign(&claims);
    assert_eq!(
        refused(&auth, &no_issuer, t0()).await,
        AuthError::WrongIssuer
    );
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_key_set_at_most_once_per_five_minutes() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let good = keys().current.sign(&connector_claims(t0()));
    check(&auth, &good, t0()).await.expect("warms the cache");
    assert_eq!(stub.hits(), (1, 1));

    let at = t0() + TimeDelta::minutes(6);
    let unknown = keys().attacker.sign(&connector_claims(at));
    assert_eq!(refused(&auth, &unknown, at).await, AuthError::UnknownKey);
    assert_eq!(stub.hits(), (2, 2), "the unknown kid caused one refresh");

    let soon = at + TimeDelta::minutes(1);
    let flood = keys().attacker.sign(&connector_claims(soon));
    for _ in 0..3 {
        assert_eq!(refused(&auth, &flood, soon).await, AuthError::UnknownKey);
    }
    assert_eq!(
        stub.hits(),
        (2, 2),
        "no refresh within five minutes of the last"
    );

    let after = at + TimeDelta::minutes(5);
    assert_eq!(refused(&auth, &flood, after).await, AuthError::UnknownKey);
    assert_eq!(stub.hits(), (3, 3), "five minutes on, one more refresh");
}

#[tokio::test]
async fn a_key_added_after_the_first_fetch_is_found_by_the_refresh_on_its_unknown_kid() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let good = keys().current.sign(&connector_claims(t0()));
    check(&auth, &good, t0()).await.expect("warms the cache");

    stub.add_key(keys().rotated.jwk(&[MSTEAMS]));
    let early = t0() + TimeDelta::minutes(1);
    let rotated_early = keys().rotated.sign(&connector_claims(early));
    assert_eq!(
        refused(&auth, &rotated_early, early).await,
        AuthError::UnknownKey,
        "within five minutes of the last fetch the new key is not looked for"
    );
    assert_eq!(stub.hits(), (1, 1));

    let at = t0() + TimeDelta::minutes(5);
    let rotated = keys().rotated.sign(&connector_claims(at));
    let claims = check(&auth, &rotated, at)
        .await
        .expect("the rotated key is found");
    assert_eq!(claims.key_id, "bf-rotated-2026");
    assert_eq!(stub.hits(), (2, 2));

    check(&auth, &good, at)
        .await
        .expect("the old key still works");
    assert_eq!(stub.hits(), (2, 2));
}

#[tokio::test]
async fn keys_are_refetched_after_24_hours_and_a_dropped_key_stops_working() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let good = keys().current.sign(&connector_claims(t0()));
    check(&auth, &good, t0()).await.expect("warms the cache");

    let day_less_a_second = t0() + TimeDelta::hours(24) - TimeDelta::seconds(1);
    let token = keys().current.sign(&connector_claims(day_less_a_second));
    check(&auth, &token, day_less_a_second)
        .await
        .expect("cached keys");
    assert_eq!(stub.hits(), (1, 1));

    stub.remove_key("bf-current-2026");
    let day = t0() + TimeDelta::hours(24);
    let token = keys().current.sign(&connector_claims(day));
    assert_eq!(refused(&auth, &token, day).await, AuthError::UnknownKey);
    assert_eq!(
        stub.hits(),
        (2, 2),
        "one scheduled refresh, no second one for the kid"
    );
}

#[tokio::test]
async fn a_token_signed_by_another_key_or_altered_has_a_bad_signature() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let claims = connector_claims(t0());

    let forged = keys().attacker.sign_as("bf-current-2026", &claims);
    assert_eq!(refused(&auth, &forged, t0()).await, AuthError::BadSignature);

    let good = keys().current.sign(&claims);
    check(&auth, &good, t0())
        .await
        .expect("the untouched token is valid");
    let bad_signature = tamper(&good, 2);
    assert_eq!(
        refused(&auth, &bad_signature, t0()).await,
        AuthError::BadSignature
    );
    let altered_claims = tamper(&good, 1);
    assert_eq!(
        refused(&auth, &altered_claims, t0()).await,
        AuthError::BadSignature
    );
    let unsigned = format!("{}.", good.rsplit_once('.').expect("three parts").0);
    assert_eq!(
        refused(&auth, &unsigned, t0()).await,
        AuthError::BadSignature
    );
}

#[tokio::test]
async fn a_token_with_an_algorithm_the_metadata_does_not_list_is_refused() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    // Signed with the public modulus as an HMAC secret: the classic algorithm confusion.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("bf-current-2026".into());
    let secret = EncodingKey::from_secret(keys().current.n.as_bytes());
    let token = encode(&header, &connector_claims(t0()), &secret).expect("an HS256 token");

    let error = refused(&auth, &token, t0()).await;
    assert!(
        matches!(&error, AuthError::Malformed(why) if why.contains("HS256")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_token_for_another_service_url_is_refused_but_a_trailing_slash_does_not_matter() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let token = keys().current.sign(&connector_claims(t0()));
    let header = bearer(&token);

    let emea = auth
        .validate(
            Some(&header),
            "https://smba.trafficmanager.net/emea/",
            MSTEAMS,
            t0(),
        )
        .await;
    assert_eq!(emea, Err(AuthError::ServiceUrlMismatch));

    let no_slash = auth
        .validate(
            Some(&header),
            "https://smba.trafficmanager.net/amer",
            MSTEAMS,
            t0(),
        )
        .await
        .expect("the same service URL without its trailing slash");
    assert_eq!(no_slash.service_url, SERVICE_URL);

    let mut claims = connector_claims(t0());
    claims.as_object_mut().expect("claims").remove("serviceurl");
    let without_claim = keys().current.sign(&claims);
    assert_eq!(
        refused(&auth, &without_claim, t0()).await,
        AuthError::ServiceUrlMismatch
    );
}

#[tokio::test]
async fn a_missing_or_non_bearer_header_is_refused_without_fetching_keys() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let token = keys().current.sign(&connector_claims(t0()));
    assert_eq!(with_header(&auth, None).await, Err(AuthError::Missing));
    assert_eq!(with_header(&auth, Some("")).await, Err(AuthError::Missing));
    for header in [
        format!("Basic {token}"),
        token.clone(),
        "Bearer ".to_owned(),
        "Bearer not-a-jwt".to_owned(),
    ] {
        let error = with_header(&auth, Some(&header))
            .await
            .expect_err("refused");
        assert!(
            matches!(error, AuthError::Malformed(_)),
            "{header:.20}: {error:?}"
        );
        assert!(!error.to_string().contains(&token), "{error}");
    }
    assert_eq!(stub.hits(), (0, 0), "nothing was fetched for them");

    let lowercase = format!("bearer {token}");
    with_header(&auth, Some(&lowercase))
        .await
        .expect("the scheme is case-insensitive");
}

#[tokio::test]
async fn a_key_not_endorsed_for_the_channel_is_refused_as_not_endorsed() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let claims = connector_claims(t0());

    let webchat_key = keys().unendorsed.sign(&claims);
    let error = refused(&auth, &webchat_key, t0()).await;
    assert_eq!(error, AuthError::NotEndorsed(MSTEAMS.into()));
    assert_eq!(error.recommended_status(), 403);

    let header = bearer(&webchat_key);
    let on_webchat = auth
        .validate(Some(&header), SERVICE_URL, "webchat", t0())
        .await
        .expect("the key is endorsed for webchat");
    assert_eq!(on_webchat.channel_id, "webchat");

    let teams_key = bearer(&keys().current.sign(&claims));
    let spoofed_channel = auth
        .validate(Some(&teams_key), SERVICE_URL, "webchat", t0())
        .await;
    assert_eq!(
        spoofed_channel,
        Err(AuthError::NotEndorsed("webchat".into()))
    );
}

#[tokio::test]
async fn unreachable_keys_are_unavailable_until_the_endpoint_is_back() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let token = keys().current.sign(&connector_claims(t0()));

    stub.set_down(true);
    let error = refused(&auth, &token, t0()).await;
    assert!(
        matches!(error, AuthError::MetadataUnavailable(_)),
        "{error:?}"
    );
    assert_eq!(error.recommended_status(), 503);
    let soon = t0() + TimeDelta::seconds(5);
    assert!(matches!(
        refused(&auth, &token, soon).await,
        AuthError::MetadataUnavailable(_)
    ));
    assert_eq!(stub.hits(), (1, 0), "a failed fetch is not retried at once");

    stub.set_down(false);
    let later = t0() + TimeDelta::seconds(10);
    check(&auth, &token, later)
        .await
        .expect("keys fetched again");
    assert_eq!(stub.hits(), (2, 1));
}

#[tokio::test]
async fn cached_keys_keep_working_when_the_daily_refresh_fails() {
    let stub = Stub::start().await;
    let auth = stub.auth();
    let good = keys().current.sign(&connector_claims(t0()));
    check(&auth, &good, t0()).await.expect("warms the cache");

    stub.set_down(true);
    let day = t0() + TimeDelta::hours(25);
    let token = keys().current.sign(&connector_claims(day));
    check(&auth, &token, day)
        .await
        .expect("the cached keys still verify");
    assert_eq!(stub.hits(), (2, 1), "the refresh was tried");
    check(&auth, &token, day + TimeDelta::minutes(1))
        .await
        .expect("still the cached keys");
    assert_eq!(stub.hits(), (2, 1), "and not retried within five minutes");

    stub.set_down(false);
    let retry = day + TimeDelta::minutes(5);
    check(&auth, &token, retry).await.expect("refreshed");
    assert_eq!(stub.hits(), (3, 2));
}
