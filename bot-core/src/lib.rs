//! Tocsin's platform-neutral core: the domain model and its state machines, the ports it
//! needs from the outside world (store, clock, chat), durable jobs, and the operations
//! every entry point shares.
//!
//! This crate must not know any chat platform, HTTP framework or chat vocabulary: adapters
//! translate to and from it.

pub mod actions;
pub mod auth;
pub mod chat;
pub mod clock;
pub mod declare_paging;
pub mod effects;
pub mod escalation;
mod group_commit;
pub mod health;
pub mod ingest;
pub mod jobs;
pub mod model;
pub mod notify;
pub mod oncall;
pub mod ops;
pub mod postmortem;
pub mod reports;
pub mod runs;
pub mod schedule;
pub mod statuspage;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ops::{Core, CoreError, CoreSettings};
pub use store::{Store, StoreError};
