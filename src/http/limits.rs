//! Limits every public route needs: a cap on request bodies that holds even for handlers
//! that never read theirs, answered in the API's JSON error shape, and a per-key rate limit
//! on inbound alert webhooks and heartbeat pings, so that one runaway sender cannot starve
//! the others or the database. Over the rate the sender is answered 429 with
//! `Retry-After`; alert sources retry.
//!
//! The limiter is per process: with several replicas behind a load balancer a key gets up
//! to the configured rate from each.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bot_core::auth::hash_token;
use governor::clock::{Clock, FakeRelativeClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde::Deserialize;

use super::error::ApiError;
use crate::config::LimitsConfig;

/// A keyed limiter forgets idle keys once it holds this many (unknown keys are limited too,
/// so a sender spraying random keys must not grow the map without bound).
const MAX_KEYS: usize = 10_000;

/// Where the limiter reads time: a monotonic clock in production, a clock that moves only
/// when told in tests, so that "burst + 1 requests" is exact however slow the machine is.
#[derive(Clone)]
enum LimitClock {
    Monotonic(std::time::Instant),
    Manual(FakeRelativeClock),
}

impl Clock for LimitClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        match self {
            LimitClock::Monotonic(start) => Nanos::from(start.elapsed()),
            LimitClock::Manual(clock) => clock.now(),
        }
    }
}

type KeyedLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, LimitClock, NoOpMiddleware<Nanos>>;

/// The per-integration-key limit on inbound alerts and heartbeats (`[limits]`).
pub struct InboundLimits {
    limiter: KeyedLimiter,
    clock: LimitClock,
    seen: AtomicU64,
}

impl InboundLimits {
    /// Limits read from `[limits]`; `check-config` has made sure both numbers are positive
    /// (a zero here would mean "no limit" rather than "refuse everything").
    pub fn new(config: LimitsConfig) -> Self {
        Self::with_clock(config, LimitClock::Monotonic(std::time::Instant::now()))
    }

    /// Limits whose clock stands still until the returned handle advances it: for tests.
    pub fn with_manual_clock(config: LimitsConfig) -> (Self, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (
            Self::with_clock(config, LimitClock::Manual(clock.clone())),
            clock,
        )
    }

    fn with_clock(config: LimitsConfig, clock: LimitClock) -> Self {
        let per_second = NonZeroU32::new(config.inbound_per_second).unwrap_or(NonZeroU32::MAX);
        let burst = NonZeroU32::new(config.inbound_burst).unwrap_or(NonZeroU32::MAX);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        InboundLimits {
            limiter: RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone()),
            clock,
            seen: AtomicU64::new(0),
        }
    }

    /// Whether the integration `key` may send now; if not, how long until it may. The
    /// limiter holds only the key's hash, never the key.
    fn check(&self, key: &str) -> Result<(), Duration> {
        let now = self.clock.now();
        let outcome = self.limiter.check_key(&hash_token(key));
        if self
            .seen
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(1024)
            && self.limiter.len() > MAX_KEYS
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        outcome.map_err(|not_until| not_until.wait_time_from(now))
    }
}

impl Default for InboundLimits {
    fn default() -> Self {
        Self::new(LimitsConfig::default())
    }
}

/// `routing_key` of a PagerDuty Events v2 body: the one inbound route whose key is not in
/// its path.
#[derive(Deserialize)]
struct RoutingKey {
    routing_key: Option<String>,
}

/// Route layer around the ingest routes: the integration or heartbeat key from the path (or
/// the body's `routing_key` on `/v2/enqueue`) is counted against its quota. Routes without
/// a key (the bearer-token listings) pass untouched, and so does a body the handler will
/// refuse anyway.
pub(super) async fn limit_inbound(
    State(limits): State<Arc<InboundLimits>>,
    params: RawPathParams,
    req: Request,
    next: Next,
) -> Response {
    let mut key = params
        .iter()
        .find(|(name, _)| *name == "key")
        .map(|(_, value)| value.to_owned());
    let mut req = req;
    let enqueue = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| p.as_str() == "/v2/enqueue");
    if key.is_none() && enqueue {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, super::BODY_LIMIT).await {
            Ok(bytes) => bytes,
            Err(_) => return payload_too_large(),
        };
        key = serde_json::from_slice::<RoutingKey>(&bytes)
            .ok()
            .and_then(|k| k.routing_key);
        req = Request::from_parts(parts, Body::from(bytes));
    }
    match key.map(|key| limits.check(&key)) {
        Some(Err(wait)) => too_many_requests(wait),
        _ => next.run(req).await,
    }
}

/// 429 in the API's error shape, with `Retry-After` in whole seconds (at least one).
fn too_many_requests(wait: Duration) -> Response {
    let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    tracing::info!(
        retry_after = seconds,
        "inbound request over its integration key's rate limit"
    );
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many requests for this integration key; try again in {seconds} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn payload_too_large() -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body is larger than {} bytes", super::BODY_LIMIT),
    )
    .into_response()
}

/// `RequestBodyLimitLayer` refuses a body whose `Content-Length` is over the limit before
/// any handler runs, with a plain-text 413; this gives it the API's JSON error shape, like
/// every other refusal. A 413 that already is JSON (a handler's own) is left as it is.
pub(super) async fn json_payload_too_large(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        payload_too_large()
    } else {
        response
    }
}
