//! What one process knows of its own health, for `/readyz`, `/metrics` and the log: how
//! each delivery channel (webhook, e-mail, SMS, voice, each chat platform) is doing, judged
//! by the outcomes of the deliveries this process made, and which single-owner work
//! (a platform connection only one replica may hold) it leads or follows.
//!
//! Per process, in memory: another replica may see a channel differently (it is the one
//! whose deliveries are failing, or not). Stored state lives in the store, not here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::chat::{ChatError, ChatPlatform, Message};
use crate::clock::Clock;
use crate::model::ChannelRef;

/// Longest error text kept for a channel; provider messages can be long.
const MAX_ERROR: usize = 300;

/// How a delivery went, as counted in `tocsin_deliveries_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The provider asked for time (429, or its own rate limit).
    RateLimited,
    /// The provider could not be reached or failed (5xx, timeout, refused connection).
    Unavailable,
    /// The provider refused this one delivery for good (a bad number or address): a fault
    /// of the page, not of the channel, so the channel stays up.
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::RateLimited => "rate_limited",
            Outcome::Unavailable => "unavailable",
            Outcome::Refused => "refused",
        }
    }

    fn degrades(self) -> bool {
        matches!(self, Outcome::RateLimited | Outcome::Unavailable)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelState {
    Up,
    Degraded,
}

/// One channel as `/readyz` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelHealth {
    pub state: ChannelState,
    /// The last failure's message (provider text, never credentials), while degraded and
    /// after: it is kept once the channel recovers, for the record.
    pub last_error: Option<String>,
    /// When the channel entered its current state.
    pub since: DateTime<Utc>,
    pub delivered: u64,
    pub failed: u64,
}

/// Whether this process holds a piece of single-owner work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Not set up in this installation (no credentials for it).
    NotConfigured,
    /// Another process leads; this one is ready to take over.
    Follower,
    Leader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::NotConfigured => "not configured",
            Role::Follower => "follower",
            Role::Leader => "leader",
        }
    }
}

/// The registry. One per [`crate::Core`], shared by its clones.
#[derive(Debug, Default)]
pub struct Health {
    channels: Mutex<BTreeMap<String, ChannelHealth>>,
    roles: Mutex<BTreeMap<String, Role>>,
}

impl Health {
    /// Records one delivery on `channel`. The first failure that says the channel is in
    /// trouble turns it degraded and logs an error (the admin alert); the next delivery
    /// that goes through turns it up again and logs that. Single failures in between are
    /// only counted.
    pub fn record(&self, channel: &str, outcome: Outcome, error: Option<&str>, at: DateTime<Utc>) {
        metrics::counter!(
            "tocsin_deliveries_total",
            "channel" => channel.to_owned(),
            "outcome" => outcome.as_str()
        )
        .increment(1);
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let entry = channels
            .entry(channel.to_owned())
            .or_insert_with(|| ChannelHealth {
                state: ChannelState::Up,
                last_error: None,
                since: at,
                delivered: 0,
                failed: 0,
            });
        if outcome == Outcome::Delivered {
            entry.delivered += 1;
        } else {
            entry.failed += 1;
            if let Some(error) = error {
                entry.last_error = Some(clip(error));
            }
        }
        match (entry.state, outcome) {
            (ChannelState::Up, o) if o.degrades() => {
                entry.state = ChannelState::Degraded;
                entry.since = at;
                tracing::error!(
                    channel,
                    outcome = outcome.as_str(),
                    error = entry.last_error.as_deref().unwrap_or_default(),
                    "delivery channel degraded: pages on it are retried and fall through to \
                     the next notification rule"
                );
            }
            (ChannelState::Degraded, Outcome::Delivered) => {
                tracing::info!(
                    channel,
                    degraded_since = %entry.since,
                    "delivery channel recovered"
                );
                entry.state = ChannelState::Up;
                entry.since = at;
            }
            _ => {}
        }
        metrics::gauge!("tocsin_channel_up", "channel" => channel.to_owned()).set(
            match entry.state {
                ChannelState::Up => 1.0,
                ChannelState::Degraded => 0.0,
            },
        );
    }

    /// Every channel that has seen a delivery from this process, by name.
    pub fn channels(&self) -> BTreeMap<String, ChannelHealth> {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Says whether this process leads `work`.
    pub fn set_role(&self, work: &str, role: Role) {
        self.roles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(work.to_owned(), role);
    }

    /// Every single-owner work this process knows of, with its role in it.
    pub fn roles(&self) -> BTreeMap<String, Role> {
        self.roles.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Outcome {
    /// How a chat platform call went.
    pub fn of_chat<T>(result: &Result<T, ChatError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Delivered,
            Err(ChatError::RateLimited { .. }) => Outcome::RateLimited,
            Err(ChatError::Unavailable(_)) => Outcome::Unavailable,
            Err(ChatError::Refused(_) | ChatError::Unsupported(_)) => Outcome::Refused,
        }
    }
}

/// A chat platform whose every call is recorded in [`Health`] under the platform's name:
/// the chat jobs (channels, cards, direct-message pages, notices) judge its health without
/// each knowing about it.
pub struct WatchedChat {
    inner: Arc<dyn ChatPlatform>,
    health: Arc<Health>,
    clock: Arc<dyn Clock>,
}

impl WatchedChat {
    pub fn new(inner: Arc<dyn ChatPlatform>, health: Arc<Health>, clock: Arc<dyn Clock>) -> Self {
        WatchedChat {
            inner,
            health,
            clock,
        }
    }

    fn seen<T>(&self, result: Result<T, ChatError>) -> Result<T, ChatError> {
        let error = result.as_ref().err().map(ToString::to_string);
        self.health.record(
            self.inner.name(),
            Outcome::of_chat(&result),
            error.as_deref(),
            self.clock.now(),
        );
        result
    }
}

#[async_trait]
impl ChatPlatform for WatchedChat {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn announcements_channel(&self) -> Option<String> {
        self.inner.announcements_channel()
    }

    async fn post_message(&self, channel: &str, message: &Message) -> Result<String, ChatError> {
        self.seen(self.inner.post_message(channel, message).await)
    }

    async fn update_message(
        &self,
        channel: &str,
        message_id: &str,
        message: &Message,
    ) -> Result<(), ChatError> {
        self.seen(
            self.inner
                .update_message(channel, message_id, message)
                .await,
        )
    }

    async fn create_channel(&self, name: &str, topic: &str) -> Result<ChannelRef, ChatError> {
        self.seen(self.inner.create_channel(name, topic).await)
    }

    async fn invite(&self, channel: &str, users: &[String]) -> Result<(), ChatError> {
        self.seen(self.inner.invite(channel, users).await)
    }

    async fn set_topic(&self, channel: &str, topic: &str) -> Result<(), ChatError> {
        self.seen(self.inner.set_topic(channel, topic).await)
    }

    async fn pin(&self, channel: &str, message_id: &str) -> Result<(), ChatError> {
        self.seen(self.inner.pin(channel, message_id).await)
    }

    async fn send_dm(&self, user: &str, message: &Message) -> Result<String, ChatError> {
        self.seen(self.inner.send_dm(user, message).await)
    }
}

fn clip(error: &str) -> String {
    match error.char_indices().nth(MAX_ERROR) {
        Some((at, _)) => format!("{}…", &error[..at]),
        None => error.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-24T03:00:{second:02}Z"))
            .unwrap()
            .to_utc()
    }

    #[test]
    fn a_channel_degrades_on_trouble_recovers_on_delivery_and_ignores_refusals() {
        let health = Health::default();
        health.record("sms", Outcome::Delivered, None, at(0));
        health.record("sms", Outcome::Refused, Some("bad number"), at(1));
        assert_eq!(health.channels()["sms"].state, ChannelState::Up);
        health.record("sms", Outcome::Unavailable, Some("HTTP 500"), at(2));
        health.record("sms", Outcome::RateLimited, Some("HTTP 429"), at(3));
        let sms = &health.channels()["sms"];
        assert_eq!(sms.state, ChannelState::Degraded);
        assert_eq!(sms.since, at(2), "degraded since the first failure");
        assert_eq!(sms.last_error.as_deref(), Some("HTTP 429"));
        assert_eq!((sms.delivered, sms.failed), (1, 3));
        health.record("sms", Outcome::Delivered, None, at(4));
        let sms = &health.channels()["sms"];
        assert_eq!((sms.state, sms.since), (ChannelState::Up, at(4)));
    }

    #[test]
    fn long_errors_are_clipped() {
        let long = "x".repeat(1000);
        assert_eq!(clip(&long).chars().count(), MAX_ERROR + 1);
        assert_eq!(clip("short"), "short");
    }
}
