//! API tokens: random secrets shown once, stored only as their SHA-256.

use sha2::{Digest, Sha256};

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
}
