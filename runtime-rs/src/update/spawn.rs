//! Starting the new version: fork, then exec of the new binary with the
//! old argv, environment and working directory, every descriptor of the
//! program inherited, and one end of the update channel.
//!
//! Why a child of our own rather than posix_spawn: descriptors the
//! program opened with O_CLOEXEC must survive the exec too, and only a
//! child can clear FD_CLOEXEC in its own copy of the table without
//! touching the old process's flags. Between its start and the exec the
//! child makes only system calls (sigaction, fcntl, sigprocmask, execve)
//! on data prepared before.
//!
//! Why clone(CLONE_VM | CLONE_VFORK) rather than fork: the child shares
//! the old process's memory until its exec, as vfork's would, so nothing
//! of a heap of gigabytes is copied (fork copies every page table), and
//! no fork handler runs (the runtime's would make the heap's mapping
//! private, and a later handover then copies all of it).

use std::ffi::{c_void, CString};
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

    let pid = start(&Exec { path: path.as_ptr(), argv: argv_p.as_ptr(), envp: envp_p.as_ptr(), to_clear: &to_clear, mask: None })?;
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

/// What the child does: clear close-on-exec on `to_clear`, exec.
struct Exec<'a> {
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    to_clear: &'a [RawFd],
    /// The signal mask to exec with (the parent's), set by `start`.
    mask: Option<libc::sigset_t>,
}

/// Starts the child that runs `exec`; returns its pid once it has exec'd
/// (or died trying: it then exits with status 127).
fn start(exec: &Exec<'_>) -> Result<libc::pid_t, String> {
    // The child's own stack; its frames are small (a few system calls).
    let mut stack = vec![0u128; 4096];
    // SAFETY: sigset_t is plain data; the calls fill it.
    let (mut all, mut mask) = unsafe { (std::mem::zeroed::<libc::sigset_t>(), std::mem::zeroed::<libc::sigset_t>()) };
    // Every signal blocked from here to the child's exec: a handler of the
    // program must not run in the child, which shares our memory.
    // SAFETY: plain calls on local sets.
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut mask);
    }
    let exec = Exec { mask: Some(mask), ..*exec };
    // SAFETY: the child runs `child` on its own stack with `exec`, which
    // outlives it: CLONE_VFORK suspends this thread until the child has
    // exec'd or exited. SIGCHLD: it is waited for like a forked child.
    let pid = unsafe {
        let top = stack.as_mut_ptr().add(stack.len()).cast::<c_void>();
        libc::clone(child, top, libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD, (&exec as *const Exec<'_>).cast_mut().cast())
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &mask, std::ptr::null_mut()) };
    drop(stack);
    if pid < 0 {
        return Err(format!("clone: {err}"));
    }
    Ok(pid)
}

/// The child, until its exec. It shares the parent's memory, so it writes
/// none: only system calls (the runtime's wrappers of fcntl and the like
/// are bypassed), and `_exit` without any exit handler.
extern "C" fn child(arg: *mut c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Exec` `start` passed, alive while we run; the
    // calls take pointers to it or to locals.
    unsafe {
        let e = &*(arg as *const Exec<'_>);
        // Handlers are this process's own copy (no CLONE_SIGHAND): the
        // program's become the default action before signals are
        // unblocked for the exec, as posix_spawn does.
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        for sig in 1..=libc::SIGRTMAX() {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
        for &fd in e.to_clear {
            libc::syscall(libc::SYS_fcntl, fd, libc::F_SETFD, 0);
        }
        if let Some(mask) = &e.mask {
            libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, mask as *const libc::sigset_t, std::ptr::null::<libc::sigset_t>(), 8);
        }
        libc::syscall(libc::SYS_execve, e.path, e.argv, e.envp);
        libc::syscall(libc::SYS_exit_group, 127);
    }
    127
}
