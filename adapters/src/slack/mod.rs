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

/// A Slack fixture from the shared folder (`TOCSIN_FIXTURES`, else `../shared/fixtures`
/// beside the checkout), for the unit tests.
#[cfg(test)]
pub(crate) fn test_fixture(name: &str) -> serde_json::Value {
    let root = std::env::var_os("TOCSIN_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures").into());
    let path = root.join("slack").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}
