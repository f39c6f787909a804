//! Microsoft Teams: the Bot Framework messaging endpoint (activities in, JWT-checked), the
//! Bot Connector REST API (activities out), Adaptive Cards, and the app package.
//!
//! - `auth.rs`: validating the connector's `Authorization: Bearer` JWT (OpenID metadata,
//!   JWKS, endorsements).
//! - `token.rs`: the bot's own app token (client credentials), cached.
//! - `inbound.rs`: activities -> `commands::Invocation`.
//! - `connector.rs`: the `ChatPlatform` port over the Bot Connector (and Graph for channels).
//! - `render.rs`: `Message` -> an Adaptive Card; `Dialog` -> a task module form.
//! - `manifest.rs`: the Teams app package (`tocsin manifest teams --out …`).

pub mod auth;
pub mod connector;
pub mod inbound;
pub mod manifest;
pub mod render;
pub mod token;

/// The platform's name in configuration (`[users.chat] teams = "…"`) and job queues.
pub const PLATFORM: &str = "teams";
