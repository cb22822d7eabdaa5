//! Quiescence without annotations: the update signal and parked threads.
//!
//! The update signal (a realtime signal whose handler only notes that it
//! ran, installed without SA_RESTART) is blocked in every thread except
//! while it sits in a wrapped blocking call (`points`). So the signal can
//! only ever interrupt an update point: a signal sent while the thread is
//! busy stays pending and fires the moment it next enters one, and no
//! other system call of the program is ever interrupted by it.
//!
//! To quiesce, the control thread sets `PENDING` and signals every program
//! thread that has not parked yet; a signal that lands between a thread's
//! check of `PENDING` and its entry into the kernel is consumed without
//! interrupting anything, hence the re-send every few milliseconds until
//! all program threads (every task of the process but the runtime's own)
//! are parked. Rollback clears `PENDING` and wakes them.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use libc::{c_int, pid_t};

static INSTALLED: AtomicBool = AtomicBool::new(false);
static PENDING: AtomicBool = AtomicBool::new(false);
/// Tids of the parked program threads.
static PARKED: Mutex<Vec<pid_t>> = Mutex::new(Vec::new());
static CHANGED: Condvar = Condvar::new();
/// Tids of the runtime's own threads, which never park.
static RUNTIME_TIDS: Mutex<Vec<pid_t>> = Mutex::new(Vec::new());

thread_local! {
    static RUNTIME_THREAD: Cell<bool> = const { Cell::new(false) };
    static GOT_SIGNAL: Cell<bool> = const { Cell::new(false) };
}

/// How often an unanswered thread is signalled again.
const RESEND: Duration = Duration::from_millis(10);

pub fn signal() -> c_int {
    // Counted from the top: glibc and threading libraries take the lowest
    // realtime signals.
    libc::SIGRTMAX() - 3
}

extern "C" fn on_signal(_: c_int) {
    GOT_SIGNAL.with(|g| g.set(true));
}

fn gettid() -> pid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as pid_t }
}

fn mask(how: c_int) {
    // SAFETY: sets are built locally; pthread_sigmask only fails on a bad `how`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal());
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// Installs the handler and blocks the signal in the calling thread (the
/// main thread, from the constructor: threads created later inherit it).
pub fn install() {
    // SAFETY: a plain sigaction with a handler that only touches a
    // const-initialised thread-local.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(c_int) as usize;
        sa.sa_flags = 0; // no SA_RESTART: the interrupted call must return EINTR
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(signal(), &sa, std::ptr::null_mut()) != 0 {
            return;
        }
    }
    mask(libc::SIG_BLOCK);
    INSTALLED.store(true, Ordering::Release);
}

pub fn installed() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// Marks the calling thread as the runtime's: its wrapped calls pass
/// straight through and quiescence does not wait for it.
pub fn mark_runtime_thread() {
    RUNTIME_THREAD.with(|r| r.set(true));
    RUNTIME_TIDS.lock().unwrap().push(gettid());
}

pub fn is_runtime_thread() -> bool {
    RUNTIME_THREAD.with(|r| r.get())
}

pub fn pending() -> bool {
    PENDING.load(Ordering::Acquire)
}

/// Lets the update signal reach this thread (entering a blocking call).
pub fn open() {
    GOT_SIGNAL.with(|g| g.set(false));
    mask(libc::SIG_UNBLOCK);
}

/// Blocks it again; true if it arrived while open.
pub fn close() -> bool {
    mask(libc::SIG_BLOCK);
    GOT_SIGNAL.with(|g| g.replace(false))
}

/// Waits here while an update is pending (the update runs meanwhile).
pub fn park() {
    let me = gettid();
    let mut parked = PARKED.lock().unwrap();
    parked.push(me);
    CHANGED.notify_all();
    while pending() {
        parked = CHANGED.wait(parked).unwrap();
    }
    parked.retain(|t| *t != me);
}

fn program_threads() -> Vec<pid_t> {
    let runtime = RUNTIME_TIDS.lock().unwrap().clone();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).filter(|t| !runtime.contains(t)).collect()
}

/// Asks every program thread to park; Ok once all have, else (deadline
/// passed) wakes them again and says which are missing.
pub fn quiesce(deadline: Instant) -> Result<(), String> {
    PENDING.store(true, Ordering::Release);
    // SAFETY: no arguments.
    let pid = unsafe { libc::getpid() };
    let mut parked = PARKED.lock().unwrap();
    loop {
        let threads = program_threads();
        let missing: Vec<pid_t> = threads.iter().copied().filter(|t| !parked.contains(t)).collect();
        if missing.is_empty() && !threads.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            drop(parked);
            resume();
            return Err(format!(
                "{} of {} program threads did not reach an update point in time (tids {missing:?})",
                missing.len(),
                threads.len()
            ));
        }
        for t in &missing {
            // SAFETY: signals a thread of this process; a thread that has
            // just exited makes it fail harmlessly.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, *t, signal()) };
        }
        parked = CHANGED.wait_timeout(parked, RESEND.min(deadline - now)).unwrap().0;
    }
}

/// Ends the pending update: parked threads return to their calls.
pub fn resume() {
    let _guard = PARKED.lock().unwrap();
    PENDING.store(false, Ordering::Release);
    CHANGED.notify_all();
}
