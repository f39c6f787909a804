//! Slack request signing: every request Slack sends carries `X-Slack-Request-Timestamp`
//! and `X-Slack-Signature = "v0=" + hex(HMAC-SHA256(signing secret, "v0:{timestamp}:{raw
//! body}"))`. Checked on the raw bytes before the body means anything to Tocsin: anyone who
//! learns the request URL could otherwise declare incidents or press buttons as anyone.
//!
//! The timestamp bounds replays to five minutes either side of now. "Now" comes from the
//! caller (the core's `Clock`), never from the system clock here, so tests can sign with a
//! manual clock.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header Slack puts its signature in.
pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";
/// The header with the Unix time Slack signed the request at.
pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
/// How far a request's timestamp may be from now, either way, in seconds.
pub const REPLAY_WINDOW_SECONDS: i64 = 5 * 60;

type HmacSha256 = Hmac<Sha256>;

/// Why a request is not accepted as Slack's. The messages name the header at fault and
/// never echo the signature or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("{TIMESTAMP_HEADER} is not a Unix time in seconds")]
    BadTimestamp,
    #[error(
        "the request was signed {skew_seconds} seconds away from now; Slack's replay window is {REPLAY_WINDOW_SECONDS} seconds"
    )]
    Stale { skew_seconds: i64 },
    #[error("{SIGNATURE_HEADER} is not of the form v0=<hex>")]
    BadSignature,
    #[error("{SIGNATURE_HEADER} does not match the body (wrong signing secret?)")]
    Mismatch,
}

fn mac(signing_secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(signing_secret).expect("HMAC accepts keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

/// The `X-Slack-Signature` value Slack sends for `body` signed at `timestamp`. For tests and
/// tools that play Slack; the routes only ever [`verify`].
pub fn sign(signing_secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    format!(
        "v0={}",
        to_hex(&mac(signing_secret, timestamp, body).finalize().into_bytes())
    )
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase or uppercase hex digits, two per byte; None for anything else.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// Whether `signature` is Slack's signature of `body` at `timestamp`, and `timestamp` is
/// within [`REPLAY_WINDOW_SECONDS`] of `now_unix`. Missing headers are passed as empty
/// strings. The signature is compared in constant time (`Mac::verify_slice`).
pub fn verify(
    signing_secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now_unix: i64,
) -> Result<(), VerifyError> {
    let timestamp = timestamp.trim();
    if timestamp.is_empty() {
        return Err(VerifyError::Missing(TIMESTAMP_HEADER));
    }
    let signature = signature.trim();
    if signature.is_empty() {
        return Err(VerifyError::Missing(SIGNATURE_HEADER));
    }
    let signed_at: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    let skew_seconds = now_unix.saturating_sub(signed_at);
    if skew_seconds.saturating_abs() > REPLAY_WINDOW_SECONDS {
        return Err(VerifyError::Stale { skew_seconds });
    }
    let claimed = signature
        .strip_prefix("v0=")
        .and_then(from_hex)
        .ok_or(VerifyError::BadSignature)?;
    mac(signing_secret, timestamp, body)
        .verify_slice(&claimed)
        .map_err(|_| VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's published test vector, from the shared fixtures.
    struct Vector {
        secret: String,
        timestamp: String,
        signature: String,
        body: String,
    }

    fn vector() -> Vector {
        let dir = std::env::var("TOCSIN_FIXTURES").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures").to_owned()
        });
        let path = format!("{dir}/slack/signing/signature_test_vector.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let s = |key: &str| v[key].as_str().unwrap().to_owned();
        Vector {
            secret: s("signing_secret"),
            timestamp: s("timestamp"),
            signature: s("expected_signature"),
            body: s("body"),
        }
    }

    fn at(v: &Vector) -> i64 {
        v.timestamp.parse().unwrap()
    }

    #[test]
    fn slacks_published_test_vector_verifies() {
        let v = vector();
        let check = |now| {
            verify(
                v.secret.as_bytes(),
                &v.timestamp,
                &v.signature,
                v.body.as_bytes(),
                now,
            )
        };
        assert_eq!(check(at(&v)), Ok(()));
        assert_eq!(check(at(&v) + 300), Ok(()), "the window's edge is inside");
        assert_eq!(check(at(&v) - 300), Ok(()));
        assert_eq!(
            sign(v.secret.as_bytes(), &v.timestamp, v.body.as_bytes()),
            v.signature
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let v = vector();
        for (now, skew) in [(at(&v) + 301, 301), (at(&v) - 301, -301), (0, -at(&v))] {
            assert_eq!(
                verify(
                    v.secret.as_bytes(),
                    &v.timestamp,
                    &v.signature,
                    v.body.as_bytes(),
                    now
                ),
                Err(VerifyError::Stale { skew_seconds: skew })
            );
        }
    }

    #[test]
    fn a_changed_body_secret_or_timestamp_is_refused() {
        let v = vector();
        let now = at(&v);
        let mut body = v.body.clone().into_bytes();
        body[0] ^= 1;
        assert_eq!(
            verify(v.secret.as_bytes(), &v.timestamp, &v.signature, &body, now),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(
                b"another secret",
                &v.timestamp,
                &v.signature,
                v.body.as_bytes(),
                now
            ),
            Err(VerifyError::Mismatch)
        );
        let later = (now + 1).to_string();
        assert_eq!(
            verify(
                v.secret.as_bytes(),
                &later,
                &v.signature,
                v.body.as_bytes(),
                now
            ),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn missing_and_garbled_headers_are_refused() {
        let v = vector();
        let now = at(&v);
        let check = |ts: &str, sig: &str| verify(v.secret.as_bytes(), ts, sig, b"x", now);
        assert_eq!(
            check("", &v.signature),
            Err(VerifyError::Missing(TIMESTAMP_HEADER))
        );
        assert_eq!(
            check(&v.timestamp, ""),
            Err(VerifyError::Missing(SIGNATURE_HEADER))
        );
        assert_eq!(
            check("yesterday", &v.signature),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            check("1531420618.5", &v.signature),
            Err(VerifyError::BadTimestamp)
        );
        for garbled in ["a2114d57", "v1=a2114d57", "v0=not-hex", "v0=abc"] {
            assert_eq!(check(&v.timestamp, garbled), Err(VerifyError::BadSignature));
        }
        assert_eq!(check(&v.timestamp, "v0="), Err(VerifyError::Mismatch));
    }
}
