//! Discord: the interactions endpoint (application commands, buttons, modals) and the REST
//! API for channels, messages, pins and DMs.
//!
//! - `verify.rs`: `X-Signature-Ed25519` over `X-Signature-Timestamp + body`.
//! - `inbound.rs`: interactions -> `commands::Invocation`.
//! - `commands.rs`: the application command definitions (`tocsin manifest discord`).
//! - `render.rs`: `Message` -> embeds and components; `Dialog` -> a modal.
//! - `gateway.rs`: the Gateway WebSocket, for timeline capture (messages and 📌 reactions).
//! - `client.rs`: the `ChatPlatform` port over Discord's REST API, base URL overridable by
//!   `TOCSIN_DISCORD_API_URL`.

pub mod client;
pub mod commands;
pub mod gateway;
pub mod inbound;
pub mod render;
pub mod verify;

/// The platform's name in configuration (`[users.chat] discord = "…"`) and job queues.
pub const PLATFORM: &str = "discord";
