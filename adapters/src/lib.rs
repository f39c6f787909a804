//! Translations between the outside world and Tocsin's core. Each platform has its own
//! module with the same files: `inbound.rs` (what people send -> `commands::Invocation`),
//! `render.rs` (`Message` -> the platform's format) and `client.rs` (the `ChatPlatform`
//! port, outbound). Adapters know their platform and the core, never each other.

pub mod actions;
pub mod alerts;
pub mod console;
pub mod discord;
pub mod github;
pub mod notify;
pub mod slack;
pub mod teams;
pub mod tickets;
pub mod twilio;
mod websocket;
