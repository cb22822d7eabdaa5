//! End-to-end tests of the testsuite programs, one test binary so that each
//! program is built once per run and compiler.
//!
//! Every program is built with cc (the reference) and with lucc; both builds
//! must behave identically on the same input (batch mode, and over real TCP
//! connections for the servers), the cc build must match the checked-in
//! expected output, and the lucc build's sidecar and heap report must name
//! what a reader of the source would name. Tests that need lucc fail with
//! the reason when the lucc binary is missing or cannot build the program.

#[path = "all/common.rs"]
mod common;

#[path = "all/bigheap.rs"]
mod bigheap;
#[path = "all/chat.rs"]
mod chat;
#[path = "all/harness.rs"]
mod harness;
#[path = "all/invariants.rs"]
mod invariants;
#[path = "all/kvload.rs"]
mod kvload;
#[path = "all/kvstore.rs"]
mod kvstore;
#[path = "all/live_update.rs"]
mod live_update;
#[path = "all/pairs.rs"]
mod pairs;
#[path = "all/probation.rs"]
mod probation;
#[path = "all/rollback.rs"]
mod rollback;
#[path = "all/shapes.rs"]
mod shapes;
#[path = "all/ttst.rs"]
mod ttst;
#[path = "all/report.rs"]
mod report;
#[path = "all/status.rs"]
mod status;
#[path = "all/systemd.rs"]
mod systemd;
