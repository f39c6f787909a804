//! The `tocsin` binary's library half: configuration, HTTP wiring and the CLI's commands,
//! kept in a library so that tests can build the same router in-process.

pub mod config;
