//! The Bot Framework's OpenID metadata and key set, as the token check reads them after a
//! fetch: `metadata NUL jwks`, or a key set alone with the published metadata.
#![no_main]

use adapters::teams::auth::fuzzing::key_set;
use libfuzzer_sys::fuzz_target;

const METADATA: &[u8] = br#"{"jwks_uri": "https://login.botframework.com/v1/.well-known/keys",
    "id_token_signing_alg_values_supported": ["RS256"]}"#;

fuzz_target!(|data: &[u8]| {
    match tocsin_fuzz::split_nul(data) {
        Some((metadata, jwks)) => {
            let _ = key_set(metadata.as_bytes(), jwks);
        }
        None => {
            let _ = key_set(METADATA, data);
        }
    }
});
