//! Time-traveling state transfer (`lucc update --ttst`): before the new
//! version reports ready, its state goes back into a fresh process of the
//! OLD binary, and what arrives there must equal the running program's
//! state, object by object. A transfer that loses or garbles information
//! (a callback keeping only part of a field, an object left behind, a
//! pointer sent to the wrong object) cannot survive the way back.
//!
//! Three processes: P1, the old program, quiesced and never written; P2,
//! the new version, which has transferred P1's state; P3, the old binary
//! started by P2 exactly as P1 started P2 (same argv, environment, working
//! directory and descriptors, its startup replayed from P1's startup
//! record). The way back is an ordinary update from P2 to P3, with the
//! inverse transform (keyed by the old version's names) and the old
//! version's own transfer callbacks, the ones that would run if the
//! operator updated the new version back to the old one: the same code
//! that a real downgrade runs. The new version's callbacks have no
//! declared inverse: a callback that changes a field's meaning (dollars to
//! cents) makes the round trip differ unless the inverse transform or the
//! old version's callbacks undo it, and TTST then reports the field.
//!
//! - `image`: in P2, its own state as a new image (its data segments, heap
//!   object list, and a fresh memfd holding its heap, moved objects
//!   included) and the spawn of P3, whose answer it waits for;
//! - `compare`: in P3, after its transfer, the walk of both states from
//!   the variables, pairwise;
//! - `report`: differences as people read them.
//!
//! P3 is always killed once it has answered; it never serves. The shared
//! epoll instances it rewrote during its transfer get P2's registrations
//! back.

mod compare;
mod dropped;
mod image;
mod report;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use lucc_abi::control::{decode, ArenaHandover, TtstCounts, TtstOrder};

use super::state::{Blob, TAG_RECORD, TAG_SIDECAR, TAG_TRANSFORM};

/// The state image section that carries a [`TtstOrder`] (JSON). Tags 1..6
/// are the state module's.
pub const TAG_TTST: u32 = 7;

/// What this process has to do for a TTST, as its state image says.
pub enum Duty {
    /// P2: after the transfer, the round trip through the old binary.
    RoundTrip {
        old_binary: String,
        inverse_transform: String,
        timeout_ms: u64,
        /// P1's state memfd and heap memfd, duplicated before this
        /// process's transfer consumed its own copies; P3 inherits them.
        old_state: OwnedFd,
        old_arena: (ArenaHandover, OwnedFd),
        /// P1's startup record: P3's startup replays it.
        record: Vec<u8>,
    },
    /// P3: after the transfer, compare with P1's state and exit.
    /// `new_sidecar`: the new version's type map (from P2's image), which
    /// says, with the forward transform in P1's image, what the forward
    /// update dropped.
    Compare { old_state_fd: RawFd, old_arena: ArenaHandover, new_sidecar: Vec<u8> },
}

fn dup(fd: RawFd) -> Result<OwnedFd, String> {
    // SAFETY: duplicates a descriptor this process holds.
    let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if d < 0 {
        return Err(format!("ttst: dup: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: just created, owned here.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(d) })
}

/// In the constructor of a process started by an update: its TTST duty,
/// if its state image carries one. `state_copy`: a duplicate of the state
/// memfd taken before it was mapped (kept only by P2); `arena`: the heap
/// handed over with it.
pub fn duty(blob: &Blob, state_copy: Option<OwnedFd>, arena: Option<ArenaHandover>) -> Result<Option<Duty>, String> {
    let Some(section) = blob.section(TAG_TTST) else { return Ok(None) };
    let order: TtstOrder = decode(std::str::from_utf8(section).map_err(|_| "ttst: the order is not UTF-8")?)?;
    Ok(Some(match order {
        TtstOrder::RoundTrip { old_binary, inverse_transform, timeout_ms } => {
            let a = arena.ok_or("ttst: the old process handed over no heap")?;
            Duty::RoundTrip {
                old_binary,
                inverse_transform: way_back(inverse_transform, blob)?,
                timeout_ms,
                old_state: state_copy.ok_or("ttst: the old state could not be kept")?,
                old_arena: (a, dup(a.fd)?),
                record: blob.section(TAG_RECORD).unwrap_or_default().to_vec(),
            }
        }
        TtstOrder::Compare { old_state_fd, old_arena } => {
            // P3 must not outlive P2, whatever kills P2 (the old process's
            // deadline sends SIGKILL, which P2 cannot pass on).
            // SAFETY: a flag on this process.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            Duty::Compare { old_state_fd, old_arena, new_sidecar: blob.section(TAG_SIDECAR).unwrap_or_default().to_vec() }
        }
    }))
}

/// The transform of the way back: the operator's (`--ttst-transform`, or
/// the `[inverse]` table), else the one derived from the forward transform
/// (`Transform::inverse`: its renames and `active` rules re-keyed by the
/// old names). Derived here rather than in the driver: the forward
/// transform P2 received in its image is exactly the one its own transfer
/// applied, whichever client sent the request, and nothing is derived when
/// no TTST runs.
fn way_back(operator: String, blob: &Blob) -> Result<String, String> {
    if !operator.trim().is_empty() {
        return Ok(operator);
    }
    let Some(forward) = blob.section(TAG_TRANSFORM) else { return Ok(String::new()) };
    let forward = std::str::from_utf8(forward).map_err(|_| "ttst: the transform is not UTF-8")?;
    let forward = lucc_transfer::transform::Transform::parse(forward).map_err(|e| format!("ttst: the transform: {e}"))?;
    Ok(forward.inverse())
}

/// P2, after its transfer, before Ready: the round trip. Err: the first
/// differences, or why the round trip could not be made.
pub fn round_trip(duty: Duty, old_build_id: &str, channel: RawFd) -> Result<TtstCounts, String> {
    let Duty::RoundTrip { old_binary, inverse_transform, timeout_ms, old_state, old_arena, record } = duty else {
        return Err("ttst: not this process's duty".into());
    };
    let (arena, arena_fd) = old_arena;
    let order = TtstOrder::Compare {
        old_state_fd: old_state.as_raw_fd(),
        old_arena: ArenaHandover { fd: arena_fd.as_raw_fd(), ..arena },
    };
    let r = crate::startup::as_runtime(|| {
        image::round_trip(&old_binary, old_build_id, &inverse_transform, &record, &order, timeout_ms, channel)
    });
    drop((old_state, arena_fd));
    r
}

/// P3, after its transfer: compares, tells P2, and ends without running
/// the program's exit handlers.
pub fn compare_and_exit(duty: Duty, channel: RawFd) -> ! {
    use lucc_abi::control::{encode, FromNew};
    let msg = match duty {
        Duty::Compare { old_state_fd, old_arena, new_sidecar } => {
            match crate::startup::as_runtime(|| compare::run(old_state_fd, old_arena, &new_sidecar)) {
                Ok(c) => FromNew::Ttst(c),
                Err(message) => FromNew::Error { message },
            }
        }
        Duty::RoundTrip { .. } => FromNew::Error { message: "ttst: not this process's duty".into() },
    };
    let _ = super::channel::send(channel, &encode(&msg));
    // SAFETY: P3 never owns the program; nothing of its own to flush.
    unsafe { libc::_exit(0) }
}

/// In P1, at capture: the state image section that asks the new version
/// for the round trip (`request`), through this process's own binary.
pub fn order_section(request: &lucc_abi::control::TtstRequest, timeout_ms: u64) -> Result<Vec<u8>, String> {
    let exe = std::fs::read_link("/proc/self/exe").map_err(|e| format!("/proc/self/exe: {e}"))?;
    let exe = exe.to_string_lossy();
    // Replaced on disk since it started: the path may hold another build,
    // which P2 refuses by its build id.
    let exe = exe.trim_end_matches(" (deleted)").to_string();
    let order = TtstOrder::RoundTrip { old_binary: exe, inverse_transform: request.inverse_transform.clone(), timeout_ms };
    Ok(lucc_abi::control::encode(&order).trim_end().as_bytes().to_vec())
}
