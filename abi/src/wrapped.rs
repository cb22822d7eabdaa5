//! libc functions the runtime intercepts at link time (`ld --wrap`).
//!
//! Calls from the program's objects to `f` are bound to the runtime's
//! `__wrap_f`, which reaches libc through `__real_f`. Link-time wrapping,
//! unlike symbol interposition, changes only the calls of the objects being
//! linked, and needs nothing from the pass. The driver passes
//! `-Wl,--wrap=f` for every name listed here; the runtime must define
//! `__wrap_f` for each (a test in the runtime checks it).

/// Blocking calls of event loops: the update points of a program that has
/// no explicit `lucc_update_point()`.
pub const UPDATE_POINT_CALLS: &[&str] =
    &["epoll_wait", "epoll_pwait", "poll", "ppoll", "select", "pselect", "accept", "accept4"];

/// Calls that create OS resources during startup: recorded by a running
/// program, answered from that record when its new version re-runs its
/// startup during an update.
pub const STARTUP_CALLS: &[&str] = &[
    "socket",
    "bind",
    "listen",
    "setsockopt",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "eventfd",
    "timerfd_create",
    "signalfd",
    "pipe",
    "pipe2",
    // glibc's headers name open/openat/fcntl as *64 with _FILE_OFFSET_BITS=64
    "open",
    "open64",
    "openat",
    "openat64",
    "unlink",
    "fork",
    "setsid",
    "chdir",
    "flock",
    "fcntl",
    "fcntl64",
    "dup2",
];

/// Every wrapped function, in a fixed order.
pub fn link_wrapped() -> impl Iterator<Item = &'static str> {
    UPDATE_POINT_CALLS.iter().chain(STARTUP_CALLS.iter()).copied()
}
