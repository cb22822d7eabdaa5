//! What an arena keeps at the start of its own range: the allocator's
//! whole state, so mapping the range at the same address in another
//! process resumes the allocator exactly where it was.
//!
//! Everything here is `repr(C)` with fixed-width fields and a layout
//! version in the header: the process adopting a region may be a newer
//! build of the runtime, and must refuse a layout it does not know rather
//! than misread it.
//!
//! ```text
//! unit 0            Meta: header, the unit allocator's state, one state per size class
//! units 1..=M       the unit map: one u32 per 64 KiB unit of the span
//! units M+1..       slabs and large blocks
//! ```

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::lock::single_threaded;

/// Allocation granule of the unit allocator: slabs and large blocks are
/// made of 64 KiB units.
pub const UNIT: usize = 64 << 10;
pub const UNIT_SHIFT: u32 = 16;

pub const MAGIC: u64 = u64::from_le_bytes(*b"luccarna");
/// Bumped whenever anything in this file changes shape.
pub const LAYOUT_VERSION: u64 = 1;

/// Small blocks: 16..=1024 in steps of 16, then four classes per doubling
/// up to 32 KiB (at most 25% lost to rounding).
pub const CLASS_SIZES: [u32; NCLASSES] = {
    let mut t = [0u32; NCLASSES];
    let mut i = 0;
    while i < 64 {
        t[i] = 16 * (i as u32 + 1);
        i += 1;
    }
    let mut pow = 1024u32;
    while i < NCLASSES {
        let step = pow / 4;
        let mut k = 1;
        while k <= 4 {
            t[i] = pow + step * k;
            i += 1;
            k += 1;
        }
        pow *= 2;
    }
    t
};
pub const NCLASSES: usize = 64 + 20;
pub const MAX_SMALL: usize = 32 << 10;

/// The size class serving `n` bytes (`n <= MAX_SMALL`).
#[inline]
pub fn class_of(n: usize) -> usize {
    if n <= 1024 {
        return n.saturating_sub(1) / 16;
    }
    // Four classes per doubling above 1 KiB: position of the top bit, then
    // which quarter of that doubling n rounds up into.
    let top = usize::BITS - 1 - (n - 1).leading_zeros(); // 2^top < n <= 2^(top+1)
    let quarter = ((n - 1) >> (top - 2)) & 3; // 0..=3
    64 + (top as usize - 10) * 4 + quarter
}

/// A lock word inside the region: a spin lock skipped while the process
/// is single-threaded (see `crate::lock` for why that is sound).
#[repr(C)]
pub struct Lock {
    held: AtomicU32,
}

pub struct LockGuard<'a> {
    lock: &'a Lock,
    locked: bool,
}

impl Lock {
    #[inline]
    pub fn lock(&self) -> LockGuard<'_> {
        if single_threaded() {
            return LockGuard { lock: self, locked: false };
        }
        self.acquire();
        LockGuard { lock: self, locked: true }
    }

    /// Takes the lock even while single-threaded (fork's prepare step).
    pub fn acquire(&self) {
        let mut spins = 0u32;
        while self.held.swap(1, Ordering::Acquire) != 0 {
            while self.held.load(Ordering::Relaxed) != 0 {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }

    pub fn release(&self) {
        self.held.store(0, Ordering::Release);
    }
}

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.locked {
            self.lock.release();
        }
    }
}

/// One size class: a free list threaded through free blocks, and the
/// unused tail of its newest slab. On a cache line of its own so threads
/// using different classes do not bounce lines.
#[repr(C, align(64))]
pub struct Class {
    pub lock: Lock,
    /// Free block addresses, linked through their first word; 0 ends.
    pub free: AtomicUsize,
    /// Next never-used block of the current slab, and that slab's end.
    pub bump: AtomicUsize,
    pub end: AtomicUsize,
    pub live: AtomicUsize,
}

/// The unit allocator: a bump index plus a doubly linked list of free
/// extents (links in the extents' first words, lengths in the unit map).
#[repr(C, align(64))]
pub struct Units {
    pub lock: Lock,
    /// First never-used unit.
    pub bump: AtomicUsize,
    /// First free extent's unit, or `NONE`.
    pub free: AtomicUsize,
    pub live_large: AtomicUsize,
}

pub const NONE: usize = usize::MAX;

#[repr(C)]
pub struct Meta {
    pub magic: u64,
    pub version: u64,
    pub base: usize,
    pub span: usize,
    /// Growth step in bytes.
    pub chunk: usize,
    /// Bytes from `base` backed by memory (written under the units lock).
    pub committed: AtomicUsize,
    /// Units taken by this header and the unit map.
    pub meta_units: usize,
    pub units: Units,
    pub classes: [Class; NCLASSES],
}

const _: () = assert!(std::mem::size_of::<Meta>() <= UNIT);

// The mutable fields of `Class` and `Units` are atomics only so that
// shared references may write them: they are read and written under their
// lock, with Relaxed ordering (plain moves on x86); the lock orders them.

/// Unit map entries: kind in the low byte, extent length (units) above.
pub mod kind {
    /// Never used, or not the first or last unit of something.
    pub const NONE: u32 = 0;
    /// Small classes are `1 + class`.
    pub const LARGE: u32 = 200;
    pub const FREE_HEAD: u32 = 201;
    pub const FREE_TAIL: u32 = 202;
}

pub fn entry(kind: u32, len: usize) -> u32 {
    kind | ((len as u32) << 8)
}

pub fn entry_kind(e: u32) -> u32 {
    e & 0xFF
}

pub fn entry_len(e: u32) -> usize {
    (e >> 8) as usize
}

/// Units needed for the header and a map of `span / UNIT` entries.
pub fn meta_units(span: usize) -> usize {
    1 + ((span / UNIT) * 4).div_ceil(UNIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_size_with_the_smallest_fitting_class() {
        assert_eq!(CLASS_SIZES[NCLASSES - 1] as usize, MAX_SMALL);
        assert!(CLASS_SIZES.windows(2).all(|w| w[0] < w[1] && w[0] % 16 == 0));
        for n in 0..=MAX_SMALL {
            let c = class_of(n);
            assert!(CLASS_SIZES[c] as usize >= n.max(1), "n={n}");
            assert!(c == 0 || (CLASS_SIZES[c - 1] as usize) < n, "n={n} could use class {}", c - 1);
        }
    }
}
