//! Live update, process level: quiescence at update points, spawning the
//! new version, commit or rollback (DESIGN.md, "Update").
//!
//! Why process level first: everything that can go wrong before commit
//! (the new binary crashing, exiting, hanging, refusing the handshake) is
//! handled by killing the new process, and the old one, which nothing has
//! written, simply resumes. The state moves between the new version's
//! startup and its report of readiness.
//!
//! - `quiesce`: the update signal and parking of program threads;
//! - `points`: what the wrapped blocking calls and `lucc_update_point()`
//!   call into;
//! - `old`: the old process's side of an update (driven by `control`);
//! - `spawn`: fork and exec of the new version;
//! - `child`: the new process's side, from its constructor to commit;
//! - `channel`: JSON lines on the old <-> new socketpair;
//! - `build_id`: the running binary's GNU build id;
//! - `image`: the executable's load bias and data segments;
//! - `state`: the old process's state image (memfd) and its capture;
//! - `transfer`: the new process's transfer stage (old heap adopted,
//!   variables and changed objects converted, startup heap settled);
//! - `callbacks`: the program's transfer callbacks (lucc.h);
//! - `ttst`: `--ttst`, the round trip of the new state through a fresh
//!   process of the old binary, compared with the old state.

pub mod build_id;
pub mod callbacks;
pub mod channel;
mod check;
pub mod child;
mod faults;
pub mod image;
pub mod old;
mod phases;
pub mod points;
pub mod quiesce;
mod spawn;
pub mod state;
mod transfer;
pub use transfer::release_retired;
mod ttst;

use std::sync::atomic::{AtomicU8, Ordering};

/// What this process is in an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Role {
    /// Serving; may be asked to update (the usual case).
    Running = 0,
    /// Started by an update: runs its startup up to its first update
    /// point, then waits for the old process to commit.
    NewVersion = 1,
    /// A thread of the new version is reporting Ready and waiting.
    Committing = 2,
}

static ROLE: AtomicU8 = AtomicU8::new(Role::Running as u8);

pub fn role() -> Role {
    match ROLE.load(Ordering::Acquire) {
        1 => Role::NewVersion,
        2 => Role::Committing,
        _ => Role::Running,
    }
}

fn set_role(r: Role) {
    ROLE.store(r as u8, Ordering::Release)
}

fn swap_role(from: Role, to: Role) -> bool {
    ROLE.compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire).is_ok()
}

/// Called once by the C constructor: sets up the update signal, joins the
/// old process when started by an update, else starts the control socket.
#[no_mangle]
pub extern "C" fn lucc_rt_update_init() {
    quiesce::install();
    if child::started_by_update() {
        // The control socket waits for commit: a new version must not be
        // updated (or report status) before it owns the program.
        return;
    }
    crate::control::start();
}

/// This binary's own sidecar, as the new process of an update reads it
/// once for the transfer, the invariant check and injected faults.
pub fn own_sidecar() -> Result<lucc_abi::sidecar::Sidecar, String> {
    let exe = std::fs::read_link("/proc/self/exe").map_err(|e| format!("/proc/self/exe: {e}"))?;
    lucc_abi::sidecar::Sidecar::read_for(&exe, build_id::get()).map_err(|e| e.to_string())
}
