//! P2's side of the round trip: its own state imaged the way the old
//! process images its own (`state::capture`, with P1's startup record and
//! the order for P3 added), the old binary spawned on it (`spawn`, as an
//! update spawns its new version), and P3's answer awaited.
//!
//! Why a fresh image rather than P1's: P3 must receive what P2 made of the
//! state, and P2's heap exists only as P2's private copy-on-write view of
//! P1's memfd plus the objects it moved; capturing copies that view into a
//! new memfd (the arena's handover does this for a private region).

use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use lucc_abi::control::{decode, encode, FromNew, TtstCounts, TtstOrder, PROTOCOL_VERSION};

use super::TAG_TTST;
use crate::update::{channel, spawn, state};

const TICK: Duration = Duration::from_millis(20);

pub fn round_trip(
    old_binary: &str,
    old_build_id: &str,
    inverse_transform: &str,
    record: &[u8],
    order: &TtstOrder,
    timeout_ms: u64,
    p1_channel: RawFd,
) -> Result<TtstCounts, String> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    let order = encode(order);
    let captured = state::capture::capture_with(Some(inverse_transform), Some(record), &[(TAG_TTST, order.trim_end().as_bytes())])
        .map_err(|e| format!("imaging the new version's state: {e}"))?;
    let handover = spawn::Handover { state_fd: captured.state.as_raw_fd(), arena: captured.arena, fault: None };
    // The channel to P1 is this process's, not the program's: P3 must not
    // inherit it.
    let spawned = spawn::spawn(Path::new(old_binary), &[p1_channel], &handover);
    drop(captured.state);
    let child = spawned.map_err(|e| format!("starting the old binary {old_binary}: {e}"))?;
    let result = wait(child.channel.as_raw_fd(), child.pid, old_build_id, deadline);
    // SAFETY: our own child, not yet reaped.
    unsafe {
        libc::kill(child.pid, libc::SIGKILL);
        libc::waitpid(child.pid, std::ptr::null_mut(), 0);
    }
    // P3's transfer rewrote the shared epoll instances for its addresses.
    crate::epoll::restore_all();
    result
}

fn exited(pid: libc::pid_t) -> Option<String> {
    let mut status = 0;
    // SAFETY: non-blocking wait for our own child.
    if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != pid {
        return None;
    }
    Some(if libc::WIFSIGNALED(status) {
        format!("the old version's TTST process was killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("the old version's TTST process exited with status {}", libc::WEXITSTATUS(status))
    })
}

/// P3's hello (it must run the old process's build), its startup, its
/// transfer, then the comparison's verdict.
fn wait(fd: RawFd, pid: libc::pid_t, old_build_id: &str, deadline: Instant) -> Result<TtstCounts, String> {
    let mut eof = false;
    loop {
        let mut line = None;
        if !eof {
            let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            let wait = TICK.min(deadline.saturating_duration_since(Instant::now())).as_millis().max(1) as i32;
            let ts = libc::timespec { tv_sec: 0, tv_nsec: i64::from(wait) * 1_000_000 };
            // SAFETY: one pollfd on the stack. The system call itself: the
            // program's poll is an update point, and this thread is the one
            // holding the update.
            if unsafe { libc::syscall(libc::SYS_ppoll, &mut p as *mut libc::pollfd, 1, &ts as *const libc::timespec, std::ptr::null::<u8>(), 0) } > 0 {
                match channel::recv(fd)? {
                    Some(l) => line = Some(l),
                    None => eof = true,
                }
            }
        }
        let Some(line) = line else {
            if let Some(why) = exited(pid) {
                return Err(why);
            }
            if Instant::now() >= deadline {
                return Err("the old version's TTST process did not answer before the deadline".into());
            }
            if eof {
                std::thread::sleep(TICK);
            }
            continue;
        };
        match decode::<FromNew>(&line)? {
            FromNew::Hello { version, .. } if version != PROTOCOL_VERSION => {
                return Err(format!("the old binary speaks update protocol {version}, this one {PROTOCOL_VERSION}"))
            }
            FromNew::Hello { build_id, .. } if build_id != old_build_id => {
                return Err(format!(
                    "the old binary on disk is build {build_id}, the old process runs build {old_build_id}: the round trip needs the running program's binary"
                ))
            }
            FromNew::Hello { .. } | FromNew::StartupDone | FromNew::Transferred(_) => {}
            FromNew::Ttst(c) => return Ok(c),
            FromNew::Error { message } => return Err(message),
            FromNew::Ready => return Err("the old version's TTST process reported ready instead of comparing".into()),
        }
    }
}
