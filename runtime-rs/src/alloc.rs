//! Allocation entry points the C shim calls (`lucc_rt_*`).
//!
//! Each tracked block is `[padding][header][object]`: the header sits right
//! before the pointer the program gets. Plain blocks start at the header;
//! over-aligned ones (alignment > 16) keep the real block start in the word
//! below the header. All raw blocks come from and go back to `heap`.
//!
//! These are `extern "C"`: a panic cannot unwind out of them (Rust aborts
//! at an `extern "C"` boundary), and nothing here panics by design.
//!
//! Safety of the `lucc_rt_*` functions is libc's contract for the function
//! they stand for: pointers given back are null, from the runtime, or from
//! libc's malloc, and not yet freed.
#![allow(clippy::missing_safety_doc)]

use std::cell::UnsafeCell;
use std::ptr;

use libc::{c_int, c_void};

use crate::header::{Header, HEADER_SIZE, MAX_SIZE};
use crate::heap;
use crate::registry::{LastSlot, GLOBAL};

thread_local! {
    // Const-initialised and without a destructor: a plain TLS access that
    // never allocates (so it cannot re-enter the allocator).
    static LAST: UnsafeCell<LastSlot> = const { UnsafeCell::new(LastSlot::EMPTY) };
}

#[inline]
fn with_last<R>(f: impl FnOnce(&mut LastSlot) -> R) -> R {
    // SAFETY: only this thread touches its slot, and `f` (registry code)
    // never calls back into `with_last`, so the borrow is unique.
    LAST.with(|c| f(unsafe { &mut *c.get() }))
}

unsafe fn set_errno(e: c_int) {
    *libc::__errno_location() = e;
}

/// Writes the header in front of `user` and tracks it.
#[inline]
unsafe fn track(user: *mut u8, size: usize, site: u32, offset: u16, aligned: bool) -> *mut c_void {
    let hdr = Header::of_user(user);
    let h = Header::new(site, size, aligned);
    h.set_offset(offset);
    hdr.write(h);
    with_last(|l| GLOBAL.insert(hdr, l));
    user as *mut c_void
}

#[inline]
unsafe fn alloc_tracked(n: usize, site: u32, zeroed: bool) -> *mut c_void {
    if n > MAX_SIZE {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    }
    let block = if zeroed { heap::alloc_zeroed(n + HEADER_SIZE) } else { heap::alloc(n + HEADER_SIZE) };
    if block.is_null() {
        return ptr::null_mut();
    }
    track(block.add(HEADER_SIZE), n, site, 0, false)
}

/// The real block start of a removed tracked object.
unsafe fn block_start(user: *mut u8, aligned: bool) -> *mut u8 {
    if aligned {
        (user.sub(HEADER_SIZE + 8) as *mut *mut u8).read()
    } else {
        user.sub(HEADER_SIZE)
    }
}

#[no_mangle]
pub unsafe extern "C" fn lucc_rt_malloc(n: usize, site: u32) -> *mut c_void {
    alloc_tracked(n, site, false)
}

#[no_mangle]
pub unsafe extern "C" fn lucc_rt_calloc(n: usize, sz: usize, site: u32) -> *mut c_void {
    match n.checked_mul(sz) {
        Some(total) => alloc_tracked(total, site, true),
        None => {
            set_errno(libc::ENOMEM);
            ptr::null_mut()
        }
    }
}

/// Over-aligned allocation; `align` is a power of two. Returns null and
/// sets errno on failure.
#[no_mangle]
pub unsafe extern "C" fn lucc_rt_aligned(align: usize, n: usize, site: u32) -> *mut c_void {
    if !align.is_power_of_two() {
        set_errno(libc::EINVAL);
        return ptr::null_mut();
    }
    if align <= HEADER_SIZE {
        return alloc_tracked(n, site, false);
    }
    // Room for the block-start word and the header below an aligned user
    // pointer: user = align_up(block + 24, align) <= block + align + 8.
    let total = match n.checked_add(align + HEADER_SIZE) {
        Some(t) if n <= MAX_SIZE => t,
        _ => {
            set_errno(libc::ENOMEM);
            return ptr::null_mut();
        }
    };
    let block = heap::alloc(total);
    if block.is_null() {
        return ptr::null_mut();
    }
    let user_addr = (block as usize + HEADER_SIZE + 8 + align - 1) & !(align - 1);
    let user = block.add(user_addr - block as usize);
    (user.sub(HEADER_SIZE + 8) as *mut *mut u8).write(block);
    track(user, n, site, 0, true)
}

#[no_mangle]
pub unsafe extern "C" fn lucc_rt_free(p: *mut c_void) {
    let p = p as *mut u8;
    if p.is_null() {
        return;
    }
    if !(p as usize).is_multiple_of(HEADER_SIZE) {
        // Not 16-aligned: not ours; and not glibc's either, but libc is
        // the only owner it could have.
        heap::foreign_free(p);
        return;
    }
    match with_last(|l| GLOBAL.remove(Header::of_user(p), l)) {
        Some(r) => heap::release(block_start(p, r.aligned)),
        None => heap::foreign_free(p),
    }
}

/// `site == 0` (the indirect variant) keeps the old block's attribution.
#[no_mangle]
pub unsafe extern "C" fn lucc_rt_realloc(p: *mut c_void, n: usize, site: u32) -> *mut c_void {
    let p = p as *mut u8;
    if p.is_null() {
        return alloc_tracked(n, site, false);
    }
    if n == 0 {
        lucc_rt_free(p as *mut c_void);
        return ptr::null_mut();
    }
    if n > MAX_SIZE {
        set_errno(libc::ENOMEM);
        return ptr::null_mut();
    }
    let old = if (p as usize).is_multiple_of(HEADER_SIZE) { with_last(|l| GLOBAL.remove(Header::of_user(p), l)) } else { None };
    let Some(old) = old else {
        // Foreign: adopt it into a tracked block, hand the old one to libc.
        let q = alloc_tracked(n, site, false);
        if !q.is_null() {
            ptr::copy_nonoverlapping(p, q as *mut u8, heap::foreign_usable_size(p).min(n));
            heap::foreign_free(p);
        }
        return q;
    };
    let (new_site, new_offset) = if site == 0 { (old.site, old.offset) } else { (site, 0) };
    let block = if old.aligned {
        // The block's start is not at the header: move to a plain block.
        let block = heap::alloc(n + HEADER_SIZE);
        if !block.is_null() {
            ptr::copy_nonoverlapping(p, block.add(HEADER_SIZE), old.size.min(n));
            heap::release(block_start(p, true));
        }
        block
    } else {
        heap::resize(p.sub(HEADER_SIZE), n + HEADER_SIZE)
    };
    if block.is_null() {
        // The old block is intact: track it again as it was.
        track(p, old.size, old.site, old.offset, old.aligned);
        return ptr::null_mut();
    }
    // An offset past the new end would point outside the object.
    let new_offset = if usize::from(new_offset) < n { new_offset } else { 0 };
    track(block.add(HEADER_SIZE), n, new_site, new_offset, false)
}

#[no_mangle]
pub unsafe extern "C" fn lucc_rt_retag(p: *const c_void, site: u32) {
    let p = p as usize;
    with_last(|l| {
        if l.covers(p) {
            GLOBAL.retag(p, site, l);
        }
    });
}

#[no_mangle]
pub extern "C" fn lucc_rt_object_count() -> usize {
    GLOBAL.object_count()
}

#[no_mangle]
pub extern "C" fn lucc_rt_bytes() -> usize {
    GLOBAL.bytes()
}

/// pthread_atfork handlers (registered by the C constructor): no shard
/// or heap lock may be held by a thread that will not exist in the child.
#[no_mangle]
pub extern "C" fn lucc_rt_fork_prepare() {
    GLOBAL.lock_all_for_fork();
    heap::fork_prepare();
}

#[no_mangle]
pub extern "C" fn lucc_rt_fork_done() {
    heap::fork_done();
    GLOBAL.unlock_all_after_fork();
}

/// What the state transfer does to heap objects (Rust API, used in the
/// new process only).
pub mod transfer {
    use super::*;

    /// Tracks an object of the old process, mapped at its address: its
    /// header is the old one (site, size, offset), its registry slot ours.
    ///
    /// # Safety
    /// `user` is a live tracked object of the adopted heap, in no registry
    /// of this process.
    pub unsafe fn adopt(user: *mut u8) {
        let hdr = Header::of_user(user);
        (*hdr).set_last(false);
        with_last(|l| GLOBAL.insert(hdr, l));
    }

    /// Bytes available from `user` to the end of its block.
    ///
    /// # Safety
    /// `user` is a live tracked object.
    pub unsafe fn capacity(user: *mut u8) -> usize {
        let hdr = &*Header::of_user(user);
        let start = block_start(user, hdr.is_aligned());
        heap::usable_size(start) - (user as usize - start as usize)
    }

    /// Records a new size for an object converted in place.
    ///
    /// # Safety
    /// `user` is a live tracked object and `size <= capacity(user)`.
    pub unsafe fn set_size(user: *mut u8, size: usize) {
        let hdr = Header::of_user(user);
        if let Some(r) = with_last(|l| GLOBAL.remove(hdr, l)) {
            track(user, size, r.site, r.offset, r.aligned);
        }
    }

    /// Attributes a tracked object to another allocation site.
    ///
    /// # Safety
    /// `user` is a live tracked object and no other thread allocates or
    /// frees while this runs (the transfer runs alone).
    pub unsafe fn set_site(user: *mut u8, site: u32) {
        (*Header::of_user(user)).site = site;
    }

    /// A fresh tracked object of `size` bytes with the given attribution.
    pub fn alloc_like(size: usize, site: u32, offset: u16) -> *mut u8 {
        // SAFETY: plain allocation.
        let p = unsafe { alloc_tracked(size, site, false) } as *mut u8;
        if !p.is_null() {
            // SAFETY: just allocated and tracked.
            unsafe { (*Header::of_user(p)).set_offset(offset) };
        }
        p
    }

    /// The arena's size class of an object of `size` bytes (its block
    /// holds the header too); `None` for large objects.
    pub fn size_class(size: usize) -> Option<usize> {
        crate::arena::size_class(size.checked_add(HEADER_SIZE)?)
    }

    /// Blocks for `count` objects of `size` bytes each, as one run of the
    /// arena: block `k` becomes a tracked object with [`track_in_run`].
    /// `None` when they must be allocated one by one ([`alloc_like`]).
    pub fn reserve_run(size: usize, count: usize) -> Option<crate::arena::BlockRun> {
        if !heap::arena_backed() {
            return None;
        }
        crate::arena::alloc_run(size.checked_add(HEADER_SIZE)?, count)
    }

    /// Makes `block`, of a run from [`reserve_run`] for objects of at
    /// least `size` bytes, a tracked object with the given attribution;
    /// returns its user pointer. Each block of a run is tracked once.
    ///
    /// # Safety
    /// As said: a block of such a run, not yet tracked.
    pub unsafe fn track_in_run(block: *mut u8, size: usize, site: u32, offset: u16) -> *mut u8 {
        track(block.add(HEADER_SIZE), size, site, offset, false) as *mut u8
    }

    /// # Safety
    /// `user` is a live tracked object.
    pub unsafe fn free(user: *mut u8) {
        lucc_rt_free(user as *mut c_void)
    }

    /// Untracks `user` without writing to its block (see
    /// `Registry::retire`) and returns the raw block, which stays
    /// allocated until [`release_retired`] frees it.
    ///
    /// # Safety
    /// `user` is a live tracked object nobody uses any more.
    pub unsafe fn retire(user: *mut u8) -> Option<*mut u8> {
        let r = GLOBAL.retire(Header::of_user(user))?;
        Some(block_start(user, r.aligned))
    }

    /// Frees blocks [`retire`] returned.
    ///
    /// # Safety
    /// Each came from `retire` and is freed once.
    pub unsafe fn release_retired(blocks: &[usize]) {
        for &b in blocks {
            heap::release(b as *mut u8);
        }
    }
}
