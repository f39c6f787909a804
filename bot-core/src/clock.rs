//! The `Clock` port: the only way Tocsin reads or waits on time.
//!
//! Production uses [`SystemClock`]; tests use [`ManualClock`] and advance it explicitly,
//! so schedules, leases and retries are checked to the second without sleeping.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::watch;

/// Source of the current time, and a way to wait until a moment on that same time line.
#[async_trait]
pub trait Clock: Send + Sync {
    /// Now, truncated to microseconds so that every store round-trips it exactly.
    fn now(&self) -> DateTime<Utc>;

    /// Returns once `now() >= at`.
    async fn sleep_until(&self, at: DateTime<Utc>);
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        if let Ok(wait) = (at - self.now()).to_std() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A clock that moves only when told to. Sleepers wake when it is advanced past their
/// deadline, so a test drives every timer by calling [`ManualClock::advance`].
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(watch::Sender::new(start.trunc_subsecs(6))),
        }
    }

    /// Parses an RFC 3339 start time; for tests, where a bad literal is a bug in the test.
    pub fn at(rfc3339: &str) -> Self {
        let start = DateTime::parse_from_rfc3339(rfc3339)
            .expect("ManualClock::at takes an RFC 3339 literal")
            .with_timezone(&Utc);
        Self::new(start)
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.now.send_modify(|now| *now += by);
    }

    pub fn set(&self, to: DateTime<Utc>) {
        self.now.send_replace(to.trunc_subsecs(6));
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    async fn sleep_until(&self, at: DateTime<Utc>) {
        let mut rx = self.now.subscribe();
        // The sender lives as long as `self`, so `wait_for` can only end by the condition.
        let _ = rx.wait_for(|now| *now >= at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[tokio::test]
    async fn manual_sleeper_wakes_exactly_when_advanced_past_deadline() {
        let clock = ManualClock::at("2026-11-24T03:00:00Z");
        let deadline = clock.now() + Duration::seconds(90);
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(deadline).await })
        };
        clock.advance(Duration::seconds(89));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::seconds(1));
        sleeper.await.unwrap();
        assert_eq!(clock.now(), deadline);
    }
}
