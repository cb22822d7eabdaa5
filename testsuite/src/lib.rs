//! Testsuite harness: builds the C programs under `programs/` with cc and
//! with lucc, runs them (batch mode and as servers on 127.0.0.1), and checks
//! what lucc recorded about them (sidecar, heap report).
//!
//! The end-to-end tests live in `tests/all.rs` (one test binary, so every
//! program is built once per `cargo test` run); the load generator used by
//! demos and live-update tests is `src/bin/kvload.rs`.

pub mod build;
pub mod client;
pub mod heap_report;
pub mod run;
pub mod server;
pub mod sidecar_checks;
