//! Discord request signing: every interaction Discord posts carries `X-Signature-Timestamp`
//! and `X-Signature-Ed25519 = hex(Ed25519 signature of timestamp + raw body)`, made with the
//! application's key; the application's public key (`DISCORD_PUBLIC_KEY`, hex) checks it.
//! Checked on the raw bytes before the body means anything to Tocsin: Discord itself sends
//! forged requests to a new endpoint and refuses to save it unless they are answered 401.
//!
//! Unlike Slack, Discord sets no replay window; the timestamp is only part of what is
//! signed, and a replayed interaction is caught by its id (the route records deliveries).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// The header Discord puts its signature in.
pub const SIGNATURE_HEADER: &str = "X-Signature-Ed25519";
/// The header with the timestamp Discord signed together with the body.
pub const TIMESTAMP_HEADER: &str = "X-Signature-Timestamp";

/// Why a request is not accepted as Discord's. The messages name the header at fault and
/// never echo the signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the configured public key is not 32 bytes of hex (check DISCORD_PUBLIC_KEY)")]
    BadPublicKey,
    #[error("{SIGNATURE_HEADER} is not 64 bytes of hex")]
    BadSignature,
    #[error("{SIGNATURE_HEADER} does not match the body (wrong public key?)")]
    Mismatch,
}

/// Whether `signature_hex` is the application's Ed25519 signature of `timestamp` + `body`.
/// Missing headers are passed as empty strings. `verify_strict` refuses the malleable and
/// small-order forms that plain verification lets through.
pub fn verify(
    public_key_hex: &str,
    timestamp: &str,
    signature_hex: &str,
    body: &[u8],
) -> Result<(), VerifyError> {
    if timestamp.is_empty() {
        return Err(VerifyError::Missing(TIMESTAMP_HEADER));
    }
    if signature_hex.trim().is_empty() {
        return Err(VerifyError::Missing(SIGNATURE_HEADER));
    }
    let key: [u8; 32] = hex::decode(public_key_hex.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(VerifyError::BadPublicKey)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| VerifyError::BadPublicKey)?;
    let signature: [u8; 64] = hex::decode(signature_hex.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(VerifyError::BadSignature)?;
    let signature = Signature::from_bytes(&signature);
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    key.verify_strict(&message, &signature)
        .map_err(|_| VerifyError::Mismatch)
}

/// The `X-Signature-Ed25519` value Discord sends for `body` at `timestamp`, signed with the
/// 32-byte secret key (seed) `secret_key`. For tests and tools that play Discord; the
/// route only ever [`verify`]s.
pub fn sign(secret_key: &[u8; 32], timestamp: &str, body: &[u8]) -> String {
    let mut message = timestamp.as_bytes().to_vec();
    message.extend_from_slice(body);
    hex::encode(SigningKey::from_bytes(secret_key).sign(&message).to_bytes())
}

/// The hex public key (what `DISCORD_PUBLIC_KEY` holds) of the secret key `secret_key`.
pub fn public_key_hex(secret_key: &[u8; 32]) -> String {
    hex::encode(
        SigningKey::from_bytes(secret_key)
            .verifying_key()
            .to_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vector() -> Value {
        let dir = std::env::var("TOCSIN_FIXTURES").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures").to_owned()
        });
        let path = format!("{dir}/discord/signing/ed25519_test_vector.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn seed(v: &Value) -> [u8; 32] {
        hex::decode(v["seed_hex"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    }

    #[test]
    fn every_case_of_the_test_vector_verifies_or_fails_as_it_says() {
        let v = vector();
        let key = v["public_key_hex"].as_str().unwrap();
        assert_eq!(public_key_hex(&seed(&v)), key);
        let cases = v["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let timestamp = case["headers"][TIMESTAMP_HEADER].as_str().unwrap();
            let signature = case["headers"][SIGNATURE_HEADER].as_str().unwrap();
            let body = case["body"].as_str().unwrap().as_bytes();
            let result = verify(key, timestamp, signature, body);
            if case["expected_valid"].as_bool().unwrap() {
                assert_eq!(result, Ok(()), "{name}");
                assert_eq!(sign(&seed(&v), timestamp, body), signature, "{name}");
            } else {
                assert_eq!(result, Err(VerifyError::Mismatch), "{name}");
            }
        }
    }

    #[test]
    fn a_flipped_signature_byte_or_another_key_is_refused() {
        let v = vector();
        let key = v["public_key_hex"].as_str().unwrap();
        let case = &v["cases"][0];
        let timestamp = case["headers"][TIMESTAMP_HEADER].as_str().unwrap();
        let signature = case["headers"][SIGNATURE_HEADER].as_str().unwrap();
        let body = case["body"].as_str().unwrap().as_bytes();
        let mut flipped = hex::decode(signature).unwrap();
        flipped[10] ^= 1;
        assert_eq!(
            verify(key, timestamp, &hex::encode(&flipped), body),
            Err(VerifyError::Mismatch)
        );
        let other = public_key_hex(&[7; 32]);
        assert_eq!(
            verify(&other, timestamp, signature, body),
            Err(VerifyError::Mismatch)
        );
        // Uppercase hex is still hex.
        assert_eq!(
            verify(key, timestamp, &signature.to_uppercase(), body),
            Ok(())
        );
    }

    #[test]
    fn missing_and_garbled_headers_and_keys_are_refused() {
        let v = vector();
        let key = v["public_key_hex"].as_str().unwrap();
        let sig = v["cases"][0]["headers"][SIGNATURE_HEADER].as_str().unwrap();
        assert_eq!(
            verify(key, "", sig, b"x"),
            Err(VerifyError::Missing(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify(key, "1", "", b"x"),
            Err(VerifyError::Missing(SIGNATURE_HEADER))
        );
        for garbled in ["abc", "zz", &sig[..64], &format!("{sig}00")] {
            assert_eq!(
                verify(key, "1", garbled, b"x"),
                Err(VerifyError::BadSignature)
            );
        }
        for bad_key in ["", "not hex", &key[..62]] {
            assert_eq!(
                verify(bad_key, "1", sig, b"x"),
                Err(VerifyError::BadPublicKey)
            );
        }
    }
}
