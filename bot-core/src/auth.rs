//! API tokens: random secrets shown once, stored only as their SHA-256.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::model::{AlertId, UserId};

/// Prefix that makes a leaked Tocsin token recognisable to secret scanners.
pub const TOKEN_PREFIX: &str = "tcn_";

/// A new random token (256 bits from the OS-seeded generator).
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// What the store keeps of a token. A lookup by this hash reveals nothing useful by its
/// timing: the hash of a guess says nothing about the hash of the real token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The name of the instance secret that signs acknowledge links.
pub const ACK_LINK_KEY: &str = "ack-links";

fn ack_mac(key: &str, alert: AlertId, user: &UserId) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("ack:{alert}:{user}").as_bytes());
    mac
}

/// The signature in an acknowledge link: it lets whoever opens the link acknowledge this
/// alert as this person, and nothing else.
pub fn ack_signature(key: &str, alert: AlertId, user: &UserId) -> String {
    hex::encode(ack_mac(key, alert, user).finalize().into_bytes())
}

/// Whether `signature` is [`ack_signature`]'s, compared in constant time.
pub fn verify_ack_signature(key: &str, alert: AlertId, user: &UserId, signature: &str) -> bool {
    hex::decode(signature).is_ok_and(|bytes| ack_mac(key, alert, user).verify_slice(&bytes).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_unique_and_hashed_stably() {
        let a = generate_token();
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == 4 + 64);
        assert_ne!(a, generate_token());
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn an_ack_link_is_good_for_its_alert_and_person_only() {
        let alert = AlertId::new();
        let sig = ack_signature("k", alert, &"alice".into());
        assert!(verify_ack_signature("k", alert, &"alice".into(), &sig));
        assert!(!verify_ack_signature("k", alert, &"bob".into(), &sig));
        assert!(!verify_ack_signature(
            "k",
            AlertId::new(),
            &"alice".into(),
            &sig
        ));
        assert!(!verify_ack_signature("other", alert, &"alice".into(), &sig));
        assert!(!verify_ack_signature(
            "k",
            alert,
            &"alice".into(),
            "not hex"
        ));
    }
}
