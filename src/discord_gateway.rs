//! Discord's Gateway events into the timeline: a 📌 reaction on a message in an incident
//! channel pins it (its text read back over REST, since the reaction event does not carry
//! it), and with `[incidents] capture_chat` everything said there is recorded. The
//! WebSocket itself is `adapters::discord::gateway`'s.
//!
//! Replicas: one `tocsin serve` holds the Gateway connection, elected like Slack's Socket
//! Mode (`Store::try_lead`); the store's delivery records make an event that two
//! connections both saw (a hand-over, a resume that replays) change nothing twice.

use std::sync::Arc;

use adapters::discord::client::DiscordClient;
use adapters::discord::gateway::{GatewayEvent, GatewayEventKind, GatewayHandler};
use async_trait::async_trait;
use bot_core::ops::Core;
use commands::Input;

/// Handles Gateway events for the timeline.
#[derive(Clone)]
pub struct GatewayCapture {
    pub core: Core,
    pub client: Arc<DiscordClient>,
}

impl std::fmt::Debug for GatewayCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayCapture").finish_non_exhaustive()
    }
}

#[async_trait]
impl GatewayHandler for GatewayCapture {
    async fn event(&self, event: GatewayEvent) {
        let delivery = event.invocation.delivery.clone().unwrap_or_default();
        if let Err(e) = self.capture(event).await {
            tracing::warn!(delivery, error = %e, "a Discord Gateway event was not captured");
        }
    }
}

impl GatewayCapture {
    async fn capture(&self, event: GatewayEvent) -> Result<(), bot_core::StoreError> {
        let core = &self.core;
        let mut invocation = event.invocation;
        if event.kind == GatewayEventKind::Said && !core.settings.capture_chat {
            return Ok(());
        }
        // Talk and 📌s matter only in incident channels; elsewhere nothing is written.
        if core
            .store
            .incident_by_channel(&invocation.platform, &invocation.channel)
            .await?
            .is_none()
        {
            return Ok(());
        }
        let Some(key) = invocation.delivery.clone() else {
            return Ok(());
        };
        if core.store.delivery_seen(&key).await? {
            tracing::debug!(key, "Discord Gateway event already handled");
            return Ok(());
        }
        if let Input::Pin {
            message_id, text, ..
        } = &mut invocation.input
            && text.is_empty()
        {
            match self
                .client
                .message_text(&invocation.channel, message_id)
                .await
            {
                Ok(found) => *text = found,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read a pinned Discord message; it is pinned without its text")
                }
            }
        }
        let reply = commands::handle(core, &invocation).await;
        core.store.record_delivery(&key, core.clock.now()).await?;
        if !reply.silent {
            // No interaction to answer privately: the outcome is only logged.
            tracing::info!(key, reply = %reply.message.plain(), "Discord Gateway event handled");
        }
        Ok(())
    }
}
