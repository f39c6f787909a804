//! A stub of the Bot Framework's identity side on loopback, for tests that post
//! activities to Tocsin as Teams does: the OpenID metadata (the published document with
//! its `jwks_uri` pointed here) and a key set with one committed test key
//! (`adapters/tests/teams_keys/test-signing-key.pem`) endorsed for `msteams`, and
//! [`BotFrameworkIdentity::token`] signing the connector's bearer token with it.
//!
//! Include it with `#[path = "…/adapters/tests/teams_identity/mod.rs"] mod teams_identity;`.
//! It needs axum, tokio, serde_json, jsonwebtoken, rsa, base64 and chrono.

#![allow(dead_code)]

use std::path::PathBuf;

use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

/// The key's id in the key set and in token headers.
pub const KID: &str = "tocsin-test-bf-key";
/// The connector's issuer.
pub const ISSUER: &str = "https://api.botframework.com";

fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOCSIN_FIXTURES") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared").join("fixtures"))
        .find(|d| d.join("teams").is_dir())
        .unwrap_or_else(|| panic!("no shared/fixtures above {}", manifest.display()))
}

fn fixture(name: &str) -> Value {
    let path = fixtures_dir().join("teams/auth").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The key pair, found from any crate of the workspace.
fn key_pem() -> String {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = manifest
        .ancestors()
        .flat_map(|a| {
            [
                a.join("tests/teams_keys/test-signing-key.pem"),
                a.join("adapters/tests/teams_keys/test-signing-key.pem"),
            ]
        })
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no teams_keys/test-signing-key.pem near {}",
                manifest.display()
            )
        });
    std::fs::read_to_string(path).expect("reading the test key")
}

/// A running identity stub; stops when dropped.
pub struct BotFrameworkIdentity {
    base: String,
    signing: EncodingKey,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for BotFrameworkIdentity {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts the stub on a free loopback port.
pub async fn start() -> BotFrameworkIdentity {
    let pem = key_pem();
    let private = RsaPrivateKey::from_pkcs8_pem(&pem).expect("a PKCS#8 RSA key");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let mut metadata = fixture("botframework-openidconfiguration.json");
    metadata["jwks_uri"] = json!(format!("{base}/v1/.well-known/keys"));
    let mut jwk = fixture("botframework-jwks.shape-example.json")["keys"][0].clone();
    jwk["kid"] = json!(KID);
    jwk["x5t"] = json!(KID);
    jwk["n"] = json!(URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()));
    jwk["e"] = json!(URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()));
    jwk["endorsements"] = json!(["msteams"]);
    let keys = json!({ "keys": [jwk] });
    let app = Router::new()
        .route(
            "/v1/.well-known/openidconfiguration",
            get(move || {
                let metadata = metadata.clone();
                async move { axum::Json(metadata) }
            }),
        )
        .route(
            "/v1/.well-known/keys",
            get(move || {
                let keys = keys.clone();
                async move { axum::Json(keys) }
            }),
        );
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the identity stub serves");
    });
    BotFrameworkIdentity {
        base,
        signing: EncodingKey::from_rsa_pem(pem.as_bytes()).expect("an RSA signing key"),
        server,
    }
}

impl BotFrameworkIdentity {
    /// The metadata URL, for `TOCSIN_TEAMS_OPENID_URL`.
    pub fn openid_url(&self) -> String {
        format!("{}/v1/.well-known/openidconfiguration", self.base)
    }

    /// `Bearer <token>` as the connector sends it to the bot `app_id` for an activity from
    /// `service_url`, valid for an hour from now.
    pub fn authorization(&self, app_id: &str, service_url: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        self.authorization_with(&json!({
            "iss": ISSUER,
            "aud": app_id,
            "serviceurl": service_url,
            "nbf": now - 60,
            "exp": now + 3600,
        }))
    }

    /// `Bearer <token>` with exactly these claims.
    pub fn authorization_with(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.to_owned());
        header.x5t = Some(KID.to_owned());
        format!(
            "Bearer {}",
            encode(&header, claims, &self.signing).expect("signing a test token")
        )
    }
}
