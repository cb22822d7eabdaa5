//! The runtime's own heap: blocks at virtual addresses the runtime chose,
//! in memory a live update can hand to the new process whole.
//!
//! Why: an update keeps every heap object at the same address in the new
//! process, so heap-to-heap pointers stay valid and unchanged objects cost
//! nothing to transfer. The old process sends its arena's memfd over the
//! update channel ([`region_for_handover`]); the new one maps it
//! copy-on-write at the same address ([`adopt_region`]) and, since the
//! allocator's state lives inside the region too, goes on allocating from
//! it as if it had been running all along.
//!
//! Two ranges make that possible. A process allocates from range A, unless
//! it was started as the new version of an update ([`UPDATE_CHANNEL_ENV`]
//! set): then it keeps every candidate base of range A reserved and empty,
//! puts its own startup allocations in range B, and switches to A when it
//! adopts the old process's region. B is what [`release_startup_range`]
//! gives back once the state transfer has moved or freed what lives there.
//!
//! Layout of the module: `region` (address space: reservation, memfd,
//! copy-on-write), `layout` (the state kept inside the region), `blocks`
//! (the allocator over one region, [`Arena`]), this file (the process's two
//! ranges and the update's API).

mod blocks;
mod layout;
mod region;

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

pub use blocks::{Arena, BlockRun};
pub use layout::{MAX_SMALL, UNIT};

/// Set in the environment of a process started as the new version of an
/// update (its value names the update channel); such a process keeps
/// range A free for the old process's region.
pub const UPDATE_CHANNEL_ENV: &str = "LUCC_UPDATE_CHANNEL";
// The same name for getenv, which cannot allocate (the allocator is not
// running yet when it is read).
const UPDATE_CHANNEL_ENV_C: &std::ffi::CStr = c"LUCC_UPDATE_CHANNEL";

/// Address space reserved per range (costs no memory).
pub const SPAN: usize = 64 << 30;
/// Memory committed at a time as an arena grows.
const CHUNK: usize = 32 << 20;

/// Candidate bases, highest first: above where the kernel puts PIE
/// programs and their brk heap (0x55.. to 0x56..), far below the mmap area
/// and stacks (0x7f..), so collisions take an unusual program.
pub const A_BASES: [usize; 4] = [0x5f00_0000_0000, 0x5e00_0000_0000, 0x5d00_0000_0000, 0x5c00_0000_0000];
pub const B_BASES: [usize; 4] = [0x6f00_0000_0000, 0x6e00_0000_0000, 0x6d00_0000_0000, 0x6c00_0000_0000];

static A: Arena = Arena::new();
static B: Arena = Arena::new();
/// A-range bases an update's new process holds reserved for adoption (0: none).
static HELD_A: [AtomicUsize; A_BASES.len()] = [const { AtomicUsize::new(0) }; A_BASES.len()];

const UNINIT: u8 = 0;
const STARTING: u8 = 1;
const USING_A: u8 = 2;
const USING_B: u8 = 3;
const FAILED: u8 = 4;
static STATE: AtomicU8 = AtomicU8::new(UNINIT);

/// The arena new blocks come from, starting the process's arenas on first
/// use; `None` if they could not be started.
#[inline]
fn current() -> Option<&'static Arena> {
    match STATE.load(Ordering::Acquire) {
        USING_A => Some(&A),
        USING_B => Some(&B),
        FAILED => None,
        _ => start(),
    }
}

#[cold]
fn start() -> Option<&'static Arena> {
    if STATE.compare_exchange(UNINIT, STARTING, Ordering::Acquire, Ordering::Acquire).is_ok() {
        // SAFETY: getenv on a static name; the environment is the program's.
        let updating = unsafe { !libc::getenv(UPDATE_CHANNEL_ENV_C.as_ptr()).is_null() };
        let state = if updating {
            for (held, &base) in HELD_A.iter().zip(&A_BASES) {
                if region::reserve(base, SPAN).is_ok() {
                    held.store(base, Ordering::Relaxed);
                }
            }
            if B.create(&B_BASES, SPAN, CHUNK).is_ok() { USING_B } else { FAILED }
        } else if A.create(&A_BASES, SPAN, CHUNK).is_ok() {
            USING_A
        } else {
            FAILED
        };
        STATE.store(state, Ordering::Release);
    }
    loop {
        match STATE.load(Ordering::Acquire) {
            STARTING => std::hint::spin_loop(),
            USING_A => return Some(&A),
            USING_B => return Some(&B),
            _ => return None,
        }
    }
}

/// Starts the process's arena if not yet done; false if it cannot be.
pub fn ready() -> bool {
    current().is_some()
}

/// Whether `addr` lies in one of the process's arena ranges: two range
/// checks, no memory read.
#[inline]
pub fn owns(addr: usize) -> bool {
    A.contains(addr) || B.contains(addr)
}

#[inline]
fn owner(p: *mut u8) -> &'static Arena {
    if A.contains(p as usize) {
        &A
    } else {
        &B
    }
}

/// A block of at least `n` bytes, 16-byte aligned; null when the arena
/// cannot be started or its range is full.
#[inline]
pub fn alloc(n: usize) -> *mut u8 {
    match current() {
        Some(a) => a.alloc(n),
        None => ptr::null_mut(),
    }
}

/// A zeroed block of at least `n` bytes, 16-byte aligned, or null.
pub fn alloc_zeroed(n: usize) -> *mut u8 {
    match current() {
        Some(a) => a.alloc_zeroed(n),
        None => ptr::null_mut(),
    }
}

/// The size class of a block of `n` bytes; `None` above [`MAX_SMALL`].
pub fn size_class(n: usize) -> Option<usize> {
    (n <= MAX_SMALL).then(|| layout::class_of(n))
}

/// `count` blocks of at least `n <= MAX_SMALL` bytes each, as one run of
/// the current arena (see [`Arena::alloc_run`]); `None` when they cannot
/// be had that way (the caller allocates them one by one).
pub fn alloc_run(n: usize, count: usize) -> Option<BlockRun> {
    if n > MAX_SMALL {
        return None;
    }
    current()?.alloc_run(layout::class_of(n), count)
}

/// Returns a block.
///
/// # Safety
/// `p` came from [`alloc`] or [`resize`] (so [`owns`] it) and is live.
#[inline]
pub unsafe fn free(p: *mut u8) {
    owner(p).free(p)
}

/// Usable bytes of a live block.
///
/// # Safety
/// As for [`free`].
pub unsafe fn usable_size(p: *mut u8) -> usize {
    owner(p).usable_size(p)
}

/// Resizes a block in place when it fits, else moves it into the current
/// arena (so a startup block that grows after an adoption moves to A).
/// Null, with the old block intact, when no memory is left.
///
/// # Safety
/// As for [`free`].
pub unsafe fn resize(p: *mut u8, n: usize) -> *mut u8 {
    let from = owner(p);
    if from.fits_in_place(p, n) {
        return p;
    }
    let q = alloc(n);
    if !q.is_null() {
        ptr::copy_nonoverlapping(p, q, from.usable_size(p).min(n));
        from.free(p);
    }
    q
}

/// In the old process, at the update: the current arena's range as
/// `(base, committed length, memfd)`. The memfd stays the process's (send
/// it with SCM_RIGHTS; do not close it). The program must be stopped: the
/// receiver sees the memory as it is when it maps it, and nothing may
/// write it in between.
pub fn region_for_handover() -> io::Result<(usize, usize, i32)> {
    match STATE.load(Ordering::Acquire) {
        USING_A => A.handover(),
        _ => Err(io::Error::other("this process has no arena region to hand over")),
    }
}

/// In the new process: maps the old process's region copy-on-write at
/// `base` and allocates from it from now on. `base` must be one of the
/// A-range bases this process kept reserved (it was started with
/// [`UPDATE_CHANNEL_ENV`] set); `len` and the header inside the memory
/// must agree. On success the arena owns `fd`; on failure the caller
/// still does, and nothing changed.
pub fn adopt_region(base: usize, len: usize, fd: i32) -> io::Result<()> {
    if current().is_none() {
        return Err(io::Error::other("the arena could not be started"));
    }
    if STATE.load(Ordering::Acquire) != USING_B {
        return Err(io::Error::other("not started as an update's new process, or already adopted: range A is in use"));
    }
    let Some(held) = HELD_A.iter().find(|h| h.load(Ordering::Relaxed) == base && base != 0) else {
        return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("{base:#x} is not a range this process kept free")));
    };
    if len > SPAN || !len.is_multiple_of(UNIT) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad region length {len:#x}")));
    }
    // SAFETY: the range is our reservation, unused (HELD_A).
    unsafe { region::map_private(base, len, fd)? };
    if let Err(e) = Arena::validate(base, SPAN, len) {
        // SAFETY: nothing refers to the memory just mapped.
        unsafe { region::unreserve_part(base, len)? };
        return Err(e);
    }
    held.store(0, Ordering::Relaxed);
    A.region.set_adopted(base, SPAN, fd);
    A.reset_locks();
    A.detach_unused_tail();
    STATE.store(USING_A, Ordering::Release);
    Ok(())
}

/// Range B as `(base, committed length)` while the process has one.
pub fn startup_range() -> Option<(usize, usize)> {
    (B.span() != 0).then(|| (B.base(), B.committed()))
}

/// After a successful transfer: gives range B back. Refused while blocks
/// in it are still live (the transfer must move or free them first: the
/// memory is gone afterwards) and before an adoption.
pub fn release_startup_range() -> io::Result<()> {
    if STATE.load(Ordering::Acquire) != USING_A || B.span() == 0 {
        return Err(io::Error::other("no startup range to release"));
    }
    let live = B.live_blocks();
    if live != 0 {
        return Err(io::Error::other(format!("{live} blocks still live in the startup range")));
    }
    // SAFETY: no live block is left, and new blocks come from A.
    unsafe { B.region.release() }
}

/// Live blocks in the process's arenas (both ranges).
pub fn live_blocks() -> usize {
    [&A, &B].iter().filter(|a| a.span() != 0).map(|a| a.live_blocks()).sum()
}

/// fork's prepare step: every arena lock held and the memory private, so
/// parent and child diverge copy-on-write instead of sharing one heap.
pub fn fork_prepare() {
    [&A, &B].iter().filter(|a| a.span() != 0).for_each(|a| a.lock_for_fork());
}

/// fork's parent and child steps.
pub fn fork_done() {
    [&A, &B].iter().filter(|a| a.span() != 0).for_each(|a| a.unlock_after_fork());
}

#[cfg(test)]
mod tests {
    #[test]
    fn env_names_agree() {
        assert_eq!(super::UPDATE_CHANNEL_ENV_C.to_str().unwrap(), super::UPDATE_CHANNEL_ENV);
    }
}
