//! `tocsin.toml`: being written.
