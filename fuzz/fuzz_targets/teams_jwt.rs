//! Bot Framework tokens as `/teams/messages` reads them: the `Authorization` value and the
//! JWT header, the claims checks, and the signature check against a fixed key set.
#![no_main]

use adapters::teams::auth::fuzzing::{check_claims, token_header, verify};
use chrono::DateTime;
use libfuzzer_sys::fuzz_target;

const METADATA: &[u8] = br#"{"jwks_uri": "https://login.botframework.com/v1/.well-known/keys",
    "id_token_signing_alg_values_supported": ["RS256"]}"#;
/// The public half of a throwaway 2048-bit key: no token the fuzzer makes can carry a valid
/// signature, but everything before and around the signature check runs.
const JWKS: &[u8] = br#"{"keys": [{"kty": "RSA", "use": "sig", "kid": "fuzz-key", "alg": "RS256",
    "n": "xtGeL1AuObIYUo8plpUOYRnMQqAtofCdnaEkuyjR6Vlhyn5zvhTZzUuIH8L9sv4PAy5XgfYBCPmBrMg_QL2mAuB2BIaxs93zXad3m06Dz3f1FebPigGgdudhIJqOpLSZJqUKHJVVLOz9poqtbwolXOEnoYbUac2hxVBNd-nJmjcf0JKoZb8tD9gqhQzwFOXv-Frv_X_mcBzsKYRCLdZI96cRVt6CiwzTQwuYpQ6VJyOUhP_h20AkOSFQgwrGMX5fl8Hlk2tP-_tsV_sCw5LQNWmeALO60_YLeqMVIUz9aGNNh5N9h1dnwbiaIzwGJg4o-09ugwy7nwnBx0wD7b3xDw",
    "e": "AQAB", "endorsements": ["msteams"]}]}"#;

fuzz_target!(|data: &[u8]| {
    let now = DateTime::from_timestamp(1_764_000_000, 0).expect("a valid time");
    let _ = check_claims(data, "app-id", "https://smba.trafficmanager.net/amer/", now);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = token_header(text);
    let _ = token_header(&format!("Bearer {text}"));
    let _ = verify(METADATA, JWKS, "fuzz-key", text);
});
