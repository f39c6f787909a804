//! Slack: slash commands, interactive buttons and modals, the Events API, and the Web API.
//!
//! - `verify.rs`: request signatures (`X-Slack-Signature`, HMAC-SHA256 over
//!   `v0:timestamp:body`, five-minute replay window).
//! - `inbound.rs`: slash-command forms, interaction payloads and event callbacks ->
//!   `commands::Invocation`.
//! - `render.rs`: the platform-neutral `Message` and `Dialog` -> Block Kit and modals.
//! - `client.rs`: the `ChatPlatform` port over the Web API (slack-morphism), base URL
//!   overridable by `TOCSIN_SLACK_API_URL`.
//! - `socket.rs`: Socket Mode, the same requests over a WebSocket Tocsin opens with the
//!   app-level token (`SLACK_APP_TOKEN`), for workspaces Slack cannot reach over HTTP.

pub mod client;
pub mod inbound;
pub mod render;
pub mod socket;
pub mod verify;

/// The platform's name in configuration (`[users.chat] slack = "U…"`) and job queues.
pub const PLATFORM: &str = "slack";
