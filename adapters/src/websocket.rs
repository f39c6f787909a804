//! What the platforms' WebSocket clients share (Slack Socket Mode, the Discord Gateway):
//! TLS for `wss://`, and the wait between reconnects.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::ConfigBuilderExt;

/// TLS for `wss://`: the system's roots where it has any (a corporate CA lives there),
/// else the bundled Mozilla roots, as for the HTTP clients; ring, as everywhere.
pub(crate) fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = match builder.clone().with_native_roots() {
        Ok(roots) => roots.with_no_client_auth(),
        Err(_) => builder.with_webpki_roots().with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A random number in [0, 1) from std's per-process random hash keys.
pub(crate) fn random_fraction() -> f64 {
    let random = RandomState::new().build_hasher().finish();
    (random % 1_000_000) as f64 / 1_000_000.0
}

/// Doubling waits with ±20% jitter, so replicas that lost a platform together do not come
/// back in step.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max: max.max(min),
            next: min,
        }
    }

    pub(crate) fn next(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        base.mul_f64(0.8 + 0.4 * random_fraction())
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap_and_starts_over() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let within = |d: Duration, secs: f64| {
            let s = d.as_secs_f64();
            s >= secs * 0.8 && s < secs * 1.2
        };
        for secs in [1.0, 2.0, 4.0, 8.0, 8.0] {
            assert!(within(b.next(), secs));
        }
        b.reset();
        assert!(within(b.next(), 1.0));
    }

    #[test]
    fn tls_is_set_up_with_some_roots() {
        assert!(tls_config().is_ok());
    }
}
