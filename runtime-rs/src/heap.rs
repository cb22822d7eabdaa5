//! The one seam through which the runtime gets and returns raw blocks.
//!
//! Why a seam: today blocks come from libc, but the update design has the
//! runtime own the heap's address ranges (an arena backed by a memfd at
//! addresses it chooses) so a new process can map the old objects at the
//! same addresses. Only this module has to change for that.
//!
//! Foreign blocks (from libc internals or uninstrumented code) are a
//! different matter: they always belong to libc, whatever backs the
//! runtime's own blocks, so `foreign_*` call libc directly.

use libc::c_void;

/// A new uninitialised block of `n` bytes, 16-byte aligned, or null.
pub unsafe fn alloc(n: usize) -> *mut u8 {
    libc::malloc(n) as *mut u8
}

/// A new zeroed block of `n` bytes, 16-byte aligned, or null.
pub unsafe fn alloc_zeroed(n: usize) -> *mut u8 {
    libc::calloc(1, n) as *mut u8
}

/// Resizes a block from [`alloc`]; null (and the old block intact) on failure.
pub unsafe fn resize(block: *mut u8, n: usize) -> *mut u8 {
    libc::realloc(block as *mut c_void, n) as *mut u8
}

/// Returns a block from [`alloc`], [`alloc_zeroed`] or [`resize`].
pub unsafe fn release(block: *mut u8) {
    libc::free(block as *mut c_void)
}

/// Frees a block the runtime did not allocate.
pub unsafe fn foreign_free(p: *mut u8) {
    libc::free(p as *mut c_void)
}

/// Usable bytes of a block the runtime did not allocate.
pub unsafe fn foreign_usable_size(p: *mut u8) -> usize {
    libc::malloc_usable_size(p as *mut c_void)
}
