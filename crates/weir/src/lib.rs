//! The `weir` binary's library half: configuration, start-up wiring and the
//! [`app::run`] entry point that tests drive on their own listener.
//!
//! Error policy: the library crates return typed errors (`thiserror`);
//! `anyhow` appears only at the binary's edge: `main.rs` and the `demo`
//! command, which is a program of its own around [`app::run`].

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod http_server;
pub mod telemetry;

pub use app::{StartupError, run};
pub use config::{Config, Settings};
