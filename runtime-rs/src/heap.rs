//! The one seam through which the runtime gets and returns raw blocks.
//!
//! Why a seam: the update design has the runtime own the heap's address
//! ranges (`arena`: memory backed by a memfd at addresses it chooses) so
//! a new process can map the old objects at the same addresses, while
//! plain libc stays available for comparison and as a fallback. Each
//! process picks its backend once, at its first block: `LUCC_HEAP=arena`
//! or `LUCC_HEAP=libc`, else [`DEFAULT_ARENA`]; an arena that cannot be
//! started means libc.
//!
//! Blocks are returned to whoever owns their address (`arena::owns`, a
//! range check), never by the process's choice: an arena process still
//! gets libc blocks when its range is full, and the choice is then free
//! to change without stranding a block.
//!
//! Foreign blocks (from libc internals or uninstrumented code) are a
//! different matter: they always belong to libc, whatever backs the
//! runtime's own blocks, so `foreign_*` call libc directly.

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use libc::c_void;

use crate::arena;

/// The environment variable choosing the backend (a C string: getenv is
/// called from inside the allocator and must not allocate).
const HEAP_ENV: &std::ffi::CStr = c"LUCC_HEAP";

/// Whether the arena backs blocks when `LUCC_HEAP` is unset: yes, since
/// it is not slower than libc underneath the runtime (release build, 2
/// shared cores, so wall times are minima of repeated runs):
///
/// | measurement | libc | arena |
/// | --- | --- | --- |
/// | `malloc_bench` 1 thread, ns/step (min of 6) | 37.1 | 39.3 |
/// | `malloc_bench` 2 threads, ns/step (min of 6) | 42.1 | 42.7 |
/// | `malloc_bench` 1 thread, instructions (callgrind, 600k steps) | 257 M | 201 M |
/// | `allocheavy 3000000`, s (min of 7; plain clang 0.91) | 1.28 | 0.91 |
/// | `allocheavy 300000`, instructions (plain clang 263 M) | 426 M | 332 M |
const DEFAULT_ARENA: bool = true;

const UNDECIDED: u8 = 0;
const LIBC: u8 = 1;
const ARENA: u8 = 2;
static BACKEND: AtomicU8 = AtomicU8::new(UNDECIDED);

#[inline]
fn use_arena() -> bool {
    match BACKEND.load(Relaxed) {
        ARENA => true,
        LIBC => false,
        _ => decide(),
    }
}

#[cold]
fn decide() -> bool {
    // SAFETY: getenv does not allocate; the string lives in the environment.
    let wanted = unsafe {
        let v = libc::getenv(HEAP_ENV.as_ptr());
        if v.is_null() {
            DEFAULT_ARENA
        } else {
            std::ffi::CStr::from_ptr(v).to_bytes() != b"libc"
        }
    };
    // Racing first blocks decide alike, except when the arena fails to
    // start for one of them: blocks go home by address either way.
    let arena = wanted && arena::ready();
    BACKEND.store(if arena { ARENA } else { LIBC }, Relaxed);
    arena
}

/// Whether blocks come from the runtime's arena (not libc's malloc).
pub fn arena_backed() -> bool {
    use_arena()
}

/// A new uninitialised block of `n` bytes, 16-byte aligned, or null.
#[inline]
pub unsafe fn alloc(n: usize) -> *mut u8 {
    if use_arena() {
        let p = arena::alloc(n);
        if !p.is_null() {
            return p;
        }
    }
    libc::malloc(n) as *mut u8
}

/// A new zeroed block of `n` bytes, 16-byte aligned, or null.
pub unsafe fn alloc_zeroed(n: usize) -> *mut u8 {
    if use_arena() {
        let p = arena::alloc_zeroed(n);
        if !p.is_null() {
            return p;
        }
    }
    libc::calloc(1, n) as *mut u8
}

/// Resizes a block from [`alloc`]; null (and the old block intact) on failure.
pub unsafe fn resize(block: *mut u8, n: usize) -> *mut u8 {
    if !arena::owns(block as usize) {
        return libc::realloc(block as *mut c_void, n) as *mut u8;
    }
    let q = arena::resize(block, n);
    if !q.is_null() {
        return q;
    }
    // The arena's range is full: continue in libc.
    let q = libc::malloc(n) as *mut u8;
    if !q.is_null() {
        std::ptr::copy_nonoverlapping(block, q, arena::usable_size(block).min(n));
        arena::free(block);
    }
    q
}

/// Returns a block from [`alloc`], [`alloc_zeroed`] or [`resize`].
#[inline]
pub unsafe fn release(block: *mut u8) {
    if arena::owns(block as usize) {
        arena::free(block)
    } else {
        libc::free(block as *mut c_void)
    }
}

/// Usable bytes of a block from [`alloc`].
pub unsafe fn usable_size(block: *mut u8) -> usize {
    if arena::owns(block as usize) {
        arena::usable_size(block)
    } else {
        libc::malloc_usable_size(block as *mut c_void)
    }
}

/// Frees a block the runtime did not allocate.
pub unsafe fn foreign_free(p: *mut u8) {
    libc::free(p as *mut c_void)
}

/// Usable bytes of a block the runtime did not allocate.
pub unsafe fn foreign_usable_size(p: *mut u8) -> usize {
    libc::malloc_usable_size(p as *mut c_void)
}

/// fork's prepare step (see `arena::fork_prepare`).
pub fn fork_prepare() {
    arena::fork_prepare()
}

/// fork's parent and child steps.
pub fn fork_done() {
    arena::fork_done()
}
