//! The program's epoll registrations, as the kernel holds them.
//!
//! Why: `epoll_event.data` is program memory the kernel keeps — servers
//! register a pointer to their connection object there. An update that
//! rebuilds such an object elsewhere (its type grew) must re-register it
//! with the new address, and a rollback must put the old process's values
//! back (the epoll instance is shared with the new process). The kernel
//! offers no way to read registrations back, so the `epoll_ctl` wrapper
//! notes every successful call here: one lock and one map operation per
//! call, paid only by programs that use epoll.
//!
//! Entries of a descriptor closed without EPOLL_CTL_DEL linger until its
//! number is registered again; re-registering a stale entry fails
//! harmlessly (ENOENT/EBADF).

use std::collections::HashMap;
use std::sync::Mutex;

/// One registration: (epoll fd, fd) -> (events, data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    pub epfd: i32,
    pub fd: i32,
    pub events: u32,
    pub data: u64,
}

static TABLE: Mutex<Option<HashMap<(i32, i32), (u32, u64)>>> = Mutex::new(None);

fn table() -> std::sync::MutexGuard<'static, Option<HashMap<(i32, i32), (u32, u64)>>> {
    TABLE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Called by the `epoll_ctl` wrapper after a successful call.
///
/// # Safety
/// `ev` is null or points to a readable `epoll_event`.
#[no_mangle]
pub unsafe extern "C" fn lucc_rt_epoll_note(epfd: i32, op: i32, fd: i32, ev: *const libc::epoll_event) {
    let mut t = table();
    let t = t.get_or_insert_with(HashMap::new);
    match op {
        libc::EPOLL_CTL_DEL => {
            t.remove(&(epfd, fd));
        }
        libc::EPOLL_CTL_ADD | libc::EPOLL_CTL_MOD if !ev.is_null() => {
            // The struct is packed on x86-64: read it unaligned.
            let e = std::ptr::read_unaligned(ev);
            t.insert((epfd, fd), (e.events, e.u64));
        }
        _ => {}
    }
}

/// Every registration noted so far, in a stable order.
pub fn registrations() -> Vec<Registration> {
    let t = table();
    let mut v: Vec<Registration> = t
        .iter()
        .flat_map(|m| m.iter())
        .map(|(&(epfd, fd), &(events, data))| Registration { epfd, fd, events, data })
        .collect();
    v.sort_by_key(|r| (r.epfd, r.fd));
    v
}

/// Replaces the table (the new process takes the old one's registrations,
/// which are what the shared kernel objects hold).
pub fn replace(regs: &[Registration]) {
    let mut t = table();
    let m = t.get_or_insert_with(HashMap::new);
    for r in regs {
        m.insert((r.epfd, r.fd), (r.events, r.data));
    }
}

/// Sets `data` of a registration in the kernel and the table.
pub fn rewrite(r: &Registration, data: u64) -> std::io::Result<()> {
    let mut ev = libc::epoll_event { events: r.events, u64: data };
    // SAFETY: a plain system call on a local event; the runtime's own call
    // bypasses the wrapper (it is `__real_` only for the program's code,
    // and this is noted by hand below).
    if unsafe { libc::syscall(libc::SYS_epoll_ctl, r.epfd, libc::EPOLL_CTL_MOD, r.fd, &mut ev) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if let Some(m) = table().as_mut() {
        m.insert((r.epfd, r.fd), (r.events, data));
    }
    Ok(())
}

/// After a rollback, in the old process: puts its own values back into
/// the shared epoll instances (the new process may have rewritten them).
pub fn restore_all() {
    for r in registrations() {
        let mut ev = libc::epoll_event { events: r.events, u64: r.data };
        // SAFETY: as in `rewrite`; failures are stale entries.
        unsafe { libc::syscall(libc::SYS_epoll_ctl, r.epfd, libc::EPOLL_CTL_MOD, r.fd, &mut ev) };
    }
}
