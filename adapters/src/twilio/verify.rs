//! Twilio request validation: every webhook Twilio sends carries `X-Twilio-Signature`,
//! base64(HMAC-SHA1(auth token, full URL + each POST parameter's name and value, sorted by
//! name)). Checked before the body means anything to Tocsin: anyone who learns the webhook
//! URL could otherwise acknowledge alerts by posting `Digits=1`.
//!
//! The URL must be the one Twilio requested, exactly (scheme, host, port, path and query),
//! which behind a proxy means Tocsin's configured public URL, not what the socket saw.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// The header Twilio puts its signature in.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

type HmacSha1 = Hmac<Sha1>;

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    // HMAC takes keys of any length (long ones are hashed first), so this cannot fail.
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(url.as_bytes());
    // Sorted by name, and a repeated name's values sorted too: that is what Twilio's own
    // SDK validators sign, so the order a framework hands the values over cannot matter.
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The signature Twilio sends for a POST of `params` to `url`.
pub fn expected_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac(auth_token, url, params).finalize().into_bytes())
}

/// Whether `header_value` is Twilio's signature of this request. Compared in constant time
/// (`Mac::verify_slice`), so a forger learns nothing from how long a wrong guess took.
pub fn verify(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header_value: &str,
) -> bool {
    let Ok(claimed) = STANDARD.decode(header_value.trim()) else {
        return false;
    };
    mac(auth_token, url, params).verify_slice(&claimed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parameter_order_does_not_matter() {
        let a = params(&[("To", "+18005551212"), ("Body", "1")]);
        let b = params(&[("Body", "1"), ("To", "+18005551212")]);
        assert_eq!(
            expected_signature("t", "https://x/sms", &a),
            expected_signature("t", "https://x/sms", &b)
        );
    }

    #[test]
    fn garbage_and_empty_headers_are_rejected() {
        let p = params(&[("Digits", "1")]);
        assert!(!verify("t", "https://x/", &p, ""));
        assert!(!verify("t", "https://x/", &p, "not base64 !!"));
        assert!(!verify("t", "https://x/", &p, "AAAA"));
    }

    #[test]
    fn a_signature_for_another_url_is_rejected() {
        let p = params(&[("Digits", "1")]);
        let sig = expected_signature("t", "https://x/a?alert=1", &p);
        assert!(verify("t", "https://x/a?alert=1", &p, &sig));
        assert!(!verify("t", "https://x/a?alert=2", &p, &sig));
    }
}
