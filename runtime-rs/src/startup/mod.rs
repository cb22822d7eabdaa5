//! Startup record and replay ("mutable reinitialisation").
//!
//! From process start until its first update point, a program's calls that
//! create or configure OS resources (sockets, epoll, files, pipes, locks,
//! daemonising: the list is `lucc_abi::wrapped::STARTUP_CALLS`) go through
//! the wrappers in `runtime-c/src/startup_calls.c` and are recorded here.
//! When the new version of the program re-runs its startup during an
//! update, with the old process's descriptors inherited at the same
//! numbers, each such call is first matched against the old record
//! (`matching`): a match is answered from the record and does not touch
//! the kernel, so the new version neither rebinds a port nor re-registers
//! in the epoll instance it shares with the old process; anything new is
//! executed for real. At the first update point both roles stop: the
//! wrappers then cost one load and a predictable branch.
//!
//! Whose calls: only the main thread's (the thread whose id is the process
//! id, so also a daemonised child's), and not while the runtime itself is
//! working on it ([`as_runtime`]): `ld --wrap` redirects the runtime's own
//! libc references too, and a runtime thread's control socket is not the
//! program's startup. The main-thread test is a system call, paid only
//! while startup lasts.
//!
//! Decisions: an O_CREAT|O_EXCL open (pidfile) the old process still holds
//! is answered with the old descriptor; one it closed is reopened without
//! O_EXCL/O_CREAT/O_TRUNC (nothing of the old is changed before the
//! program writes). A flock the old holds is answered as granted: the lock
//! belongs to the shared open file description, so it survives the old
//! process. POSIX fcntl locks are answered too but are per process, so
//! nobody holds them after the old one exits (the update flow must retake
//! them at commit). epoll_ctl is matched on (epoll fd, op, fd), not on
//! events or data: the kernel keeps the old registration, whose data
//! points into the old heap (`payload` in the record keeps it).
//! Descriptors of the old record the new startup never claimed are
//! reported by [`end_startup`], never closed.

pub mod matching;
pub mod record;
mod ffi;

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;

use matching::{Answer, Call, Recorder, Replay};
pub use record::RecordError;
use record::FdId;

/// Nonzero while startup lasts; read by every C wrapper before anything
/// else. Starts on: a process records from its first instruction.
#[no_mangle]
pub static lucc_rt_startup_mode: AtomicI32 = AtomicI32::new(1);

struct State {
    rec: Recorder,
    replay: Option<Replay>,
    unclaimed: Option<Vec<i32>>,
}

static STATE: Mutex<State> = Mutex::new(State { rec: Recorder::new(), replay: None, unclaimed: None });
static UPDATE_STARTUP: AtomicBool = AtomicBool::new(false);

thread_local! {
    static IN_RUNTIME: Cell<bool> = const { Cell::new(false) };
}

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` with this thread's wrapped calls passed straight through:
/// runtime code that may run on the main thread during startup (the
/// update flow, reading a record) must not be recorded as the program's.
pub fn as_runtime<R>(f: impl FnOnce() -> R) -> R {
    let was = IN_RUNTIME.with(|c| c.replace(true));
    let r = f();
    IN_RUNTIME.with(|c| c.set(was));
    r
}

/// Whether the wrappers should record (and replay) this call.
fn observed() -> bool {
    if lucc_rt_startup_mode.load(Ordering::Acquire) == 0 || IN_RUNTIME.with(|c| c.get()) {
        return false;
    }
    // SAFETY: plain system calls without arguments.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t == libc::getpid() }
}

/// Serialised record of this process's startup (so far, or complete once
/// the startup ended).
pub fn record_bytes() -> Vec<u8> {
    record::serialise(&state().rec.entries)
}

/// New-version side, before `main`: answer this startup's calls from the
/// old process's record. The old descriptors must already be inherited at
/// their numbers.
pub fn begin_replay(old: &[u8]) -> Result<(), RecordError> {
    let entries = record::parse(old)?;
    state().replay = Some(Replay::new(entries));
    UPDATE_STARTUP.store(true, Ordering::Release);
    Ok(())
}

/// This process was started by an update (it replays an old record).
pub fn is_update_startup() -> bool {
    UPDATE_STARTUP.load(Ordering::Acquire)
}

/// The first update point (or the program's `lucc_startup_done()`): stops
/// recording and replay. In the new role returns, and logs to stderr, the
/// old record's descriptors that this startup never claimed; they are still
/// open (accepted connections are state the transfer may need). Later
/// calls return the same list.
pub fn end_startup() -> Vec<i32> {
    lucc_rt_startup_mode.store(0, Ordering::Release);
    let mut st = state();
    if let Some(u) = &st.unclaimed {
        return u.clone();
    }
    let u = st.replay.as_ref().map(|r| r.unclaimed(&alive)).unwrap_or_default();
    st.unclaimed = Some(u.clone());
    let bytes = record::serialise(&st.rec.entries);
    drop(st);
    as_runtime(|| {
        if !u.is_empty() {
            eprintln!("lucc: startup: descriptors of the old version not claimed by the new startup: {u:?}");
        }
        if let Some(path) = std::env::var_os("LUCC_STARTUP_RECORD_OUT") {
            if let Err(e) = std::fs::write(&path, bytes) {
                eprintln!("lucc: startup: writing LUCC_STARTUP_RECORD_OUT={}: {e}", path.to_string_lossy());
            }
        }
    });
    u
}

/// What [`end_startup`] reported (empty before it ran, and in the old role).
pub fn unclaimed() -> Vec<i32> {
    state().unclaimed.clone().unwrap_or_default()
}

/// `f.fd` is open in this process and is still the recorded file.
fn alive(f: &FdId) -> bool {
    identity(f.fd).is_some_and(|(dev, ino)| dev == f.dev && ino == f.ino)
}

fn identity(fd: i32) -> Option<(u64, u64)> {
    // SAFETY: fstat writes only into `st`.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        (libc::fstat(fd, &mut st) == 0).then_some((st.st_dev, st.st_ino))
    }
}

/// The wrappers' two steps (see `ffi`): before the real call, whether and
/// how to answer it; after it, record it.
fn lookup(call: &Call) -> Answer {
    match state().replay.as_mut() {
        Some(r) => r.lookup(call, &alive),
        None => Answer::Real,
    }
}

fn note(call: &Call, ret: i64, err: i32, produced: &[i32], answered_from: Option<usize>) {
    let ids = produced
        .iter()
        .map(|&fd| {
            let (dev, ino) = identity(fd).unwrap_or((0, 0));
            FdId { fd, dev, ino }
        })
        .collect();
    let mut st = state();
    if let Some(r) = st.replay.as_mut() {
        r.settle(produced, answered_from);
    }
    st.rec.note(call, ret, err, ids);
    if st.rec.entries.len() >= MAX_ENTRIES {
        drop(st);
        as_runtime(|| eprintln!("lucc: startup: {MAX_ENTRIES} calls and no update point yet: the startup record ends here"));
        end_startup();
    }
}

/// A program that never reaches an update point (a batch tool, a loop
/// without a wrapped blocking call) would otherwise record for ever.
const MAX_ENTRIES: usize = 10_000;
