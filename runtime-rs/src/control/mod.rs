//! The control socket: how `lucc update` and `lucc status` reach a running
//! program.
//!
//! A Unix socket at `$XDG_RUNTIME_DIR/lucc/PID.sock` (else
//! `/tmp/lucc-UID/PID.sock`), served by one runtime thread. Why so
//! careful about the directory: whoever can connect can replace the
//! program, so the directory must be ours and private (0700, owned by our
//! uid; anything else is refused, not repaired), the socket is 0600, and
//! every peer's credentials are checked again (`session`).
//!
//! The socket file is removed at exit (atexit) and before the old process
//! of a committed update exits; only by the process that created it, so a
//! forked child exiting does not take its parent's socket away.

mod session;

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::Instant;

use lucc_abi::control::{socket_dir, socket_path};

/// (path, pid of the process that bound it)
static SOCKET: Mutex<Option<(PathBuf, u32)>> = Mutex::new(None);
static LISTENER_FD: AtomicI32 = AtomicI32::new(-1);
static STARTED: OnceLock<Instant> = OnceLock::new();

/// When the runtime started (for `Status`'s uptime).
pub fn started() -> Instant {
    *STARTED.get_or_init(Instant::now)
}

fn private_dir() -> Result<PathBuf, String> {
    // SAFETY: no arguments.
    let uid = unsafe { libc::geteuid() };
    let dir = socket_dir(std::env::var_os("XDG_RUNTIME_DIR").as_deref(), uid);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    let m = std::fs::symlink_metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !m.is_dir() || m.uid() != uid || m.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} is not a private directory of uid {uid} (owner {}, mode {:o}); refusing to use it",
            dir.display(),
            m.uid(),
            m.permissions().mode() & 0o7777
        ));
    }
    Ok(dir)
}

fn bind() -> Result<UnixListener, String> {
    let pid = std::process::id();
    let path = socket_path(&private_dir()?, pid);
    // A file of our pid is a leftover of a dead process that had it.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    *SOCKET.lock().unwrap() = Some((path, pid));
    Ok(listener)
}

extern "C" fn at_exit() {
    remove_socket();
}

/// Removes the socket file if this process created it.
pub fn remove_socket() {
    if let Ok(mut s) = SOCKET.lock() {
        if let Some((path, pid)) = s.as_ref() {
            if *pid == std::process::id() {
                let _ = std::fs::remove_file(path);
                *s = None;
            }
        }
    }
}

/// The runtime's descriptors a new version must not inherit.
pub fn runtime_fds() -> Vec<RawFd> {
    vec![LISTENER_FD.load(Ordering::Acquire)]
}

/// Starts the control thread, which binds the socket and serves it; a
/// program whose socket cannot be set up runs normally (it cannot be
/// updated) and says why once.
///
/// The bind happens on the control thread, not here in the constructor:
/// the main thread's socket calls during startup are the program's own
/// (recorded by `startup` for replay), the runtime's are not.
pub fn start() {
    started();
    static ATEXIT: Once = Once::new();
    // SAFETY: registers a plain extern "C" function.
    ATEXIT.call_once(|| unsafe {
        libc::atexit(at_exit);
    });
    let _ = std::thread::Builder::new().name("lucc-control".into()).spawn(|| {
        crate::update::quiesce::mark_runtime_thread();
        match bind() {
            Ok(listener) => {
                LISTENER_FD.store(listener.as_raw_fd(), Ordering::Release);
                // After an update: the old blocks of moved objects, freed
                // here rather than in the pause (requests wait in the
                // listen queue meanwhile).
                crate::update::release_retired();
                session::serve(listener)
            }
            Err(e) => {
                let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("lucc: no control socket: {e}\n").as_bytes());
            }
        }
    });
}
