//! Slack Socket Mode's envelopes into the same handling as Slack's HTTP routes: a
//! `slash_commands` envelope is a slash command, `interactive` an interaction and
//! `events_api` an Events API callback, each read from its JSON payload by the adapter's
//! inbound parsers and handled by [`SlackHandler`]; the acknowledgement carries what the
//! HTTP answer would have been. The WebSocket itself is `adapters::slack::socket`'s.
//!
//! Nothing here is signed: the connection is authenticated by the app token, so Socket
//! Mode needs no `SLACK_SIGNING_SECRET`.
//!
//! Replicas: one `tocsin serve` holds the connection, elected by a PostgreSQL advisory
//! lock (`Store::try_lead`); another takes over within seconds of its death. The store's
//! delivery records make a redelivered event change nothing twice wherever it lands.

use adapters::slack::inbound::{self, InboundError};
use adapters::slack::socket::{Envelope, EnvelopeHandler, Unacknowledged};
use async_trait::async_trait;
use serde_json::Value;
use tracing::Instrument;

use crate::http::{Redelivery, SlackHandler};

/// Handles Socket Mode envelopes as the HTTP routes handle requests.
#[derive(Debug, Clone)]
pub struct SocketEnvelopes {
    pub handler: SlackHandler,
}

#[async_trait]
impl EnvelopeHandler for SocketEnvelopes {
    async fn handle(&self, envelope: Envelope) -> Result<Option<Value>, Unacknowledged> {
        let span = tracing::info_span!(
            "slack_envelope",
            envelope_id = %envelope.envelope_id,
            kind = %envelope.kind
        );
        self.dispatch(envelope).instrument(span).await
    }
}

impl SocketEnvelopes {
    async fn dispatch(&self, envelope: Envelope) -> Result<Option<Value>, Unacknowledged> {
        let answer = match envelope.kind.as_str() {
            "slash_commands" => match inbound::slash_command_json(envelope.payload) {
                Ok(command) => self.handler.slash(command).await,
                Err(e) => return Ok(malformed(&e)),
            },
            "interactive" => match inbound::interaction_json(envelope.payload) {
                Ok(interaction) => self.handler.interaction(interaction).await,
                Err(e) => return Ok(malformed(&e)),
            },
            "events_api" => match inbound::event_json(envelope.payload) {
                Ok(request) => {
                    let redelivery = Redelivery {
                        attempt: envelope.retry_attempt.map(|n| n.to_string()),
                        reason: envelope.retry_reason,
                    };
                    self.handler.event(request, &redelivery).await
                }
                Err(e) => return Ok(malformed(&e)),
            },
            other => {
                // Acknowledged all the same, so that Slack does not redeliver it forever.
                tracing::debug!(kind = other, "Slack Socket Mode envelope ignored");
                return Ok(None);
            }
        };
        answer.or_else(|e| {
            if e.status.is_client_error() {
                // Ours to refuse, not to retry: a redelivery would be refused the same way.
                tracing::warn!(error = %e.message, "refused a Slack Socket Mode envelope");
                Ok(None)
            } else {
                Err(Unacknowledged(e.message))
            }
        })
    }
}

/// A payload the parsers refuse is acknowledged anyway: redelivered, it would only be
/// refused again.
fn malformed(e: &InboundError) -> Option<Value> {
    tracing::warn!(error = %e, "refused a malformed Slack Socket Mode payload");
    None
}
