//! The new process's side of an update, from its constructor to commit.
//!
//! The constructor (`started_by_update`) sees `LUCC_UPDATE_CHANNEL`,
//! removes it from the environment (the program and its children must not
//! see it), and handshakes with the old process: protocol version and
//! build id, and the descriptors whose FD_CLOEXEC the old one had (cleared
//! for the exec; set back here). `role()` is then `NewVersion` while the
//! program's own startup runs; the first update point any thread reaches
//! runs the hooks of [`on_first_update_point`], reports Ready and blocks
//! until the old process commits (or kills this one).
//!
//! Hook for the startup replay: it asks `update::role() ==
//! Role::NewVersion` to know that startup calls are to be answered from
//! the old process's record, and registers with [`add_first_point_hook`]
//! whatever must hold before Ready (an error there rolls the update back).

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

use lucc_abi::control::{decode, encode, ArenaHandover, Fault, FaultPoint, FromNew, FromOld, CHANNEL_ENV, PROTOCOL_VERSION};
use lucc_abi::sidecar::Sidecar;

use super::state::{Blob, TAG_RECORD};
use super::{build_id, channel, check, faults, role, set_role, swap_role, transfer, ttst, Role};

static CHANNEL: AtomicI32 = AtomicI32::new(-1);

/// What the old process handed over, kept from the constructor to the
/// transfer at the first update point.
struct Inherited {
    old_build_id: String,
    blob: Blob,
    arena: Option<ArenaHandover>,
    fault: Option<Fault>,
    /// `lucc update --no-check`.
    no_check: bool,
    /// `lucc update --ttst`: the round trip (P2) or the comparison (P3).
    ttst: Option<ttst::Duty>,
}

static INHERITED: Mutex<Option<Inherited>> = Mutex::new(None);

type Hook = fn() -> Result<(), String>;
static HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

/// Runs `hook` at the new version's first update point, before Ready.
pub fn add_first_point_hook(hook: Hook) {
    HOOKS.lock().unwrap().push(hook);
}

/// What must hold before the new version reports Ready: every registered
/// hook, in registration order; the first error aborts the update.
pub fn on_first_update_point() -> Result<(), String> {
    let hooks = HOOKS.lock().unwrap().clone();
    hooks.iter().try_for_each(|h| h())
}

fn fail(fd: RawFd, message: String) -> ! {
    let _ = channel::send(fd, &encode(&FromNew::Error { message: message.clone() }));
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("lucc: update failed: {message}\n").as_bytes());
    // SAFETY: the old process rolls back on our exit; nothing of ours to flush.
    unsafe { libc::_exit(1) }
}

fn is_socket(fd: RawFd) -> bool {
    // SAFETY: fstat into a local.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK
    }
}

/// In the constructor: true if this process was started by an update (the
/// handshake is then done and the role is `NewVersion`).
pub fn started_by_update() -> bool {
    let Some(value) = std::env::var_os(CHANNEL_ENV) else { return false };
    // The arena picks its range by this variable: start it before the
    // variable goes (startup allocations must go to range B).
    crate::arena::ready();
    // SAFETY (of remove_var): the constructor runs before any other thread.
    std::env::remove_var(CHANNEL_ENV);
    let fd: RawFd = match value.to_str().and_then(|v| v.parse().ok()) {
        Some(fd) if is_socket(fd) => fd,
        _ => return false, // not ours: a stray variable, run normally
    };
    let (cloexec, old_build_id, state_fd, arena, fault, no_check) =
        match channel::recv(fd).and_then(|l| decode::<FromOld>(&l.ok_or("old process closed the channel")?)) {
            Ok(FromOld::Hello { version, cloexec, build_id, state_fd, arena, fault, no_check }) if version == PROTOCOL_VERSION => {
                (cloexec, build_id, state_fd, arena, fault, no_check)
            }
            Ok(FromOld::Hello { version, .. }) => {
                fail(fd, format!("old process speaks update protocol {version}, this one {PROTOCOL_VERSION}"))
            }
            Ok(other) => fail(fd, format!("expected hello, got {other:?}")),
            Err(e) => fail(fd, e),
        };
    if state_fd < 0 {
        fail(fd, "the old process handed over no state".into());
    }
    // SAFETY: inherited for us alone; owned (and closed) from here on.
    let state = unsafe { OwnedFd::from_raw_fd(state_fd) };
    // A --ttst round trip hands the old state on to the old version's
    // instance; kept only if the image asks for one.
    let state_copy = state.try_clone().ok();
    let blob = match Blob::map(state) {
        Ok(b) => b,
        Err(e) => fail(fd, e),
    };
    let duty = match ttst::duty(&blob, state_copy, arena) {
        Ok(d) => d,
        Err(e) => fail(fd, e),
    };
    if let Some(a) = &arena {
        // Until adopted, the arena descriptor must not leak into children.
        // SAFETY: sets a flag on an inherited descriptor.
        unsafe { libc::fcntl(a.fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // The program's startup is about to run: it replays the old one's.
    if let Err(e) = crate::startup::begin_replay(blob.section(TAG_RECORD).unwrap_or_default()) {
        fail(fd, format!("the old startup record: {e}"));
    }
    *INHERITED.lock().unwrap() = Some(Inherited { old_build_id, blob, arena, fault, no_check, ttst: duty });
    for d in cloexec.into_iter().chain([fd]) {
        // SAFETY: sets a flag on a descriptor we inherited.
        unsafe { libc::fcntl(d, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    if let Err(e) = channel::send(fd, &encode(&FromNew::Hello { version: PROTOCOL_VERSION, build_id: build_id::get().into() })) {
        fail(fd, e);
    }
    CHANNEL.store(fd, Ordering::Release);
    set_role(Role::NewVersion);
    true
}

/// `lucc update --inject-fault`: fails or corrupts the state here in the
/// way asked, as a broken new version would (`faults`).
fn inject(fd: RawFd, fault: Option<Fault>, here: FaultPoint, sc: Option<&Sidecar>) {
    faults::inject(fd, fault, here, sc, fail);
}

/// At an update point of a new version: the first thread reports Ready and
/// waits for Commit; any other waits for it to finish. Returns once the
/// update committed; the call that reached the point was set up before the
/// transfer (see `lucc_rt_point_enter`).
pub(super) fn at_first_point() {
    if !swap_role(Role::NewVersion, Role::Committing) {
        while role() == Role::Committing {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        return;
    }
    let fd = CHANNEL.load(Ordering::Acquire);
    crate::startup::end_startup();
    let inherited = INHERITED.lock().unwrap().take();
    let Some(inh) = inherited else { fail(fd, "state handed over twice".into()) };
    let fault = inh.fault;
    let duty = inh.ttst;
    let old_build_id = inh.old_build_id.clone();
    inject(fd, fault, FaultPoint::Startup, None);
    faults::arm(fault);
    if let Err(e) = channel::send(fd, &encode(&FromNew::StartupDone)) {
        fail(fd, e);
    }
    // Read once: the transfer converts into it, injected corruptions find
    // their victims by it, the check reads its invariants.
    let t = std::time::Instant::now();
    let own_sc = crate::startup::as_runtime(super::own_sidecar).unwrap_or_else(|e| fail(fd, format!("state transfer: {e}")));
    let sidecar_us = t.elapsed().as_micros() as u64;
    let (mut counts, census) = match crate::startup::as_runtime(|| transfer::run(&inh.blob, &inh.old_build_id, inh.arena, &own_sc)) {
        Ok((c, census)) => (Ok(c), census),
        Err(e) => (Err(e), None),
    };
    // An injected fault may leave objects the census does not name.
    let census = census.filter(|_| fault.is_none());
    transfer::unmap_after_commit(inh.blob);
    if let Ok(c) = &mut counts {
        c.phases.insert(0, lucc_abi::control::Phase { name: "own type map".into(), us: sidecar_us });
    }
    if counts.is_ok() {
        inject(fd, fault, FaultPoint::Transfer, Some(&own_sc));
    }
    match counts {
        Ok(mut c) => {
            // After the injected corruptions (a fault campaign expects the
            // check to see them); a TTST comparison instance (the old
            // version) is checked by nobody: the forward state already was.
            if !inh.no_check && !matches!(duty, Some(ttst::Duty::Compare { .. })) {
                let t = std::time::Instant::now();
                match check::run(&own_sc, census.clone()) {
                    Ok(out) => match out.message() {
                        Some(m) => fail(fd, m),
                        None => {
                            c.checked = out.checked;
                            c.phases.push(lucc_abi::control::Phase { name: "invariant check".into(), us: t.elapsed().as_micros() as u64 });
                        }
                    },
                    Err(e) => fail(fd, format!("checking the invariants: {e}")),
                }
            }
            if let Err(e) = channel::send(fd, &encode(&FromNew::Transferred(c))) {
                fail(fd, e);
            }
        }
        Err(e) => fail(fd, format!("state transfer: {e}")),
    }
    if let Some(d @ ttst::Duty::Compare { .. }) = duty {
        ttst::compare_and_exit(d, fd);
    }
    if let Err(e) = on_first_update_point() {
        fail(fd, e);
    }
    if let Some(d) = duty {
        match ttst::round_trip(d, &old_build_id, fd) {
            Ok(c) => {
                if let Err(e) = channel::send(fd, &encode(&FromNew::Ttst(c))) {
                    fail(fd, e);
                }
            }
            Err(e) => fail(fd, e),
        }
    }
    inject(fd, fault, FaultPoint::Ready, None);
    if let Err(e) = channel::send(fd, &encode(&FromNew::Ready)) {
        fail(fd, e);
    }
    match channel::recv(fd).and_then(|l| l.map(|l| decode::<FromOld>(&l)).transpose()) {
        Ok(Some(FromOld::Commit)) => {}
        // The old process rolled back (it kills us) or broke the protocol.
        Ok(other) => fail(fd, format!("expected commit, got {other:?}")),
        Err(e) => fail(fd, e),
    }
    // SAFETY: the channel is ours and no longer needed.
    unsafe { libc::close(fd) };
    set_role(Role::Running);
    crate::control::start();
}
