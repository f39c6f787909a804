//! The `tocsin` binary's library half: configuration, assembly, HTTP wiring and the CLI's
//! commands, kept in a library so that tests can build the same router in-process.

pub mod app;
pub mod cli;
pub mod config;
pub mod discord_gateway;
pub mod http;
pub mod manifest;
pub mod slack_socket;
