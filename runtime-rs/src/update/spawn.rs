//! Starting the new version: fork, then exec of the new binary with the
//! old argv, environment and working directory, every descriptor of the
//! program inherited, and one end of the update channel.
//!
//! Why fork from the control thread rather than posix_spawn: descriptors
//! the program opened with O_CLOEXEC must survive the exec too, and only a
//! child can clear FD_CLOEXEC in its own copy of the table without
//! touching the old process's flags. Between fork and exec the child calls
//! only fcntl and execve (async-signal-safe); everything else is prepared
//! before the fork.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use lucc_abi::control::{encode, ArenaHandover, Fault, FromOld, CHANNEL_ENV, PROTOCOL_VERSION};

use super::{build_id, channel};

pub struct Spawned {
    pub pid: libc::pid_t,
    /// The old process's end of the update channel.
    pub channel: OwnedFd,
}

fn open_fds() -> Vec<RawFd> {
    // Collected before the directory's own descriptor is closed; it is
    // then filtered out by the F_GETFD check of the caller.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}

fn cstring(b: &[u8]) -> Result<CString, String> {
    CString::new(b).map_err(|_| "argument or environment entry with a NUL byte".to_string())
}

/// What the old process hands over besides its descriptors.
pub struct Handover {
    pub state_fd: RawFd,
    pub arena: ArenaHandover,
    /// A fault the new version is to inject (testing rollback).
    pub fault: Option<Fault>,
}

/// Forks and execs `binary`; `runtime_fds` (control socket, client
/// connection) stay close-on-exec so the new version never sees them. The
/// handover's descriptors are inherited but not listed as the program's.
pub fn spawn(binary: &Path, runtime_fds: &[RawFd], handover: &Handover) -> Result<Spawned, String> {
    spawn_checked(binary, runtime_fds, handover, true)
}

/// `spawn`, telling the new version whether to check its transferred
/// state against its invariants (`lucc update --no-check`: not).
pub fn spawn_checked(binary: &Path, runtime_fds: &[RawFd], handover: &Handover, check: bool) -> Result<Spawned, String> {
    let mut pair = [0; 2];
    // SAFETY: socketpair fills the two-element array.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, pair.as_mut_ptr()) } != 0 {
        return Err(format!("socketpair: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned here.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };

    let mut cloexec = Vec::new();
    let mut to_clear = Vec::new();
    for fd in open_fds() {
        if fd == ours.as_raw_fd() || runtime_fds.contains(&fd) {
            continue;
        }
        // SAFETY: F_GETFD only reads flags; a closed fd gives -1.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 && flags & libc::FD_CLOEXEC != 0 {
            to_clear.push(fd);
            if fd != theirs.as_raw_fd() && fd != handover.state_fd && fd != handover.arena.fd {
                cloexec.push(fd);
            }
        }
    }

    let path = cstring(binary.as_os_str().as_bytes())?;
    let cmdline = std::fs::read("/proc/self/cmdline").map_err(|e| format!("/proc/self/cmdline: {e}"))?;
    let cmdline = cmdline.strip_suffix(&[0]).unwrap_or(&cmdline);
    let argv: Vec<CString> = cmdline.split(|b| *b == 0).map(cstring).collect::<Result<_, _>>()?;
    let mut envp: Vec<CString> = Vec::new();
    for (k, v) in std::env::vars_os() {
        if k != CHANNEL_ENV {
            envp.push(cstring(&[k.as_bytes(), b"=", v.as_bytes()].concat())?);
        }
    }
    envp.push(cstring(format!("{CHANNEL_ENV}={}", theirs.as_raw_fd()).as_bytes())?);
    let argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).chain([std::ptr::null()]).collect();
    let envp_p: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).chain([std::ptr::null()]).collect();

    // SAFETY: the child only calls async-signal-safe functions on data
    // prepared above, then execs or _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        unsafe {
            for fd in &to_clear {
                libc::fcntl(*fd, libc::F_SETFD, 0);
            }
            libc::execve(path.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
            libc::_exit(127);
        }
    }
    drop(theirs);
    let hello = FromOld::Hello {
        version: PROTOCOL_VERSION,
        build_id: build_id::get().to_string(),
        cloexec,
        state_fd: handover.state_fd,
        arena: Some(handover.arena),
        fault: handover.fault,
        no_check: !check,
    };
    // A failure here shows up as the child's failed handshake.
    let _ = channel::send(ours.as_raw_fd(), &encode(&hello));
    Ok(Spawned { pid, channel: ours })
}
