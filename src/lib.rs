//! opsdeck: a terminal operations console. One failure map across Google Cloud, Kubernetes,
//! Redis, queues and databases, with runbooks that act on live infrastructure.
//!
//! Data flows one way:
//!
//! ```text
//! estate file → estate (typed, pure) → poller → probe/* (the only reads)
//!     → owned ProbeReports → model (pure: status, staleness, SEV, blast radius) → Snapshot
//!     → ui (console) | output (--once json/table)
//! ```
//!
//! `estate`, `condition` and `model` import no tokio, reqwest or ratatui. `sim` is the only
//! fake: it speaks the real wire protocols so the real clients run against it.

pub mod action;
pub mod app;
pub mod cli;
pub mod condition;
pub mod doctor;
pub mod drill;
pub mod estate;
pub mod handoff;
pub mod init;
pub mod launch;
pub mod logging;
pub mod model;
pub mod once;
pub mod output;
pub mod poller;
pub mod probe;
pub mod reload;
pub mod runbook;
pub mod runtime;
pub mod schema;
pub mod silence;
pub mod sim;
pub mod state;
pub mod timeline;
pub mod tui;
pub mod ui;
