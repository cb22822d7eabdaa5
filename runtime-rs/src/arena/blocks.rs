//! The allocator proper: blocks carved from a [`Region`], with all state
//! in the region's [`Meta`] so that it travels with the memory.
//!
//! Small blocks (up to 32 KiB) come from per-class free lists and 64 KiB
//! slabs; each class has its own lock, held for a handful of loads and
//! stores. Large blocks are runs of whole units from a first-fit list of
//! free extents that coalesce on free (boundary tags in the unit map). A
//! pointer's unit map entry says what it is, so `free` needs no header
//! and `usable_size` is one load. Every block is 16-byte aligned; large
//! ones are 64 KiB aligned. Slabs are never returned to the unit
//! allocator: a class keeps the memory of its peak.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::layout::{self, kind, Class, Meta, CLASS_SIZES, LAYOUT_VERSION, MAGIC, MAX_SMALL, NCLASSES, NONE, UNIT, UNIT_SHIFT};
use super::region::{self, Region};

/// Zeroed blocks at least this big are zeroed by dropping their pages.
const ZERO_BY_PAGES: usize = 1 << 20;

/// Free extents at least this long give their pages back to the system.
const DISCARD_UNITS: usize = 4;

/// Blocks of one size class laid out slab after slab ([`Arena::alloc_run`]).
#[derive(Debug, Clone, Copy)]
pub struct BlockRun {
    first: usize,
    size: usize,
    per: usize,
}

impl BlockRun {
    /// The `k`-th block of the run.
    pub fn block(&self, k: usize) -> *mut u8 {
        (self.first + (k / self.per) * UNIT + (k % self.per) * self.size) as *mut u8
    }
}

pub struct Arena {
    pub(super) region: Region,
}

impl Default for Arena {
    fn default() -> Self {
        Arena::new()
    }
}

impl Arena {
    /// An arena with no range yet ([`Self::create`] gives it one).
    pub const fn new() -> Arena {
        Arena { region: Region::new() }
    }

    /// Reserves `span` bytes at the first free base of `bases` and starts
    /// an empty allocator there, growing `chunk` bytes at a time.
    pub fn create(&self, bases: &[usize], span: usize, chunk: usize) -> io::Result<()> {
        assert!(span.is_multiple_of(UNIT) && chunk.is_multiple_of(UNIT) && chunk > 0);
        let mut last = io::Error::from_raw_os_error(libc::EEXIST);
        for &base in bases {
            match region::reserve(base, span) {
                Ok(()) => return self.start(base, span, chunk),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn start(&self, base: usize, span: usize, chunk: usize) -> io::Result<()> {
        let meta_units = layout::meta_units(span);
        let first = (meta_units * UNIT + chunk).min(span);
        if let Err(e) = self.region.create(base, span, first) {
            unsafe { libc::munmap(base as *mut libc::c_void, span) };
            return Err(e);
        }
        // SAFETY: the header unit is committed and zero (fresh memfd), so
        // every lock, counter and list in it starts empty.
        let m = unsafe { &mut *(base as *mut Meta) };
        m.magic = MAGIC;
        m.version = LAYOUT_VERSION;
        m.base = base;
        m.span = span;
        m.chunk = chunk;
        m.committed.store(first, Relaxed);
        m.meta_units = meta_units;
        m.units.bump.store(meta_units, Relaxed);
        m.units.free.store(NONE, Relaxed);
        Ok(())
    }

    /// Checks that the memory now mapped at `base` is an arena of this
    /// layout that was made at `base`: its length in bytes.
    pub(super) fn validate(base: usize, span: usize, len: usize) -> io::Result<usize> {
        let bad = |what: &str| Err(io::Error::new(io::ErrorKind::InvalidData, format!("not an adoptable arena: {what}")));
        if len < UNIT {
            return bad("shorter than its header");
        }
        // SAFETY: at least the header unit is mapped.
        let m = unsafe { &*(base as *const Meta) };
        if m.magic != MAGIC {
            return bad("no arena header");
        }
        if m.version != LAYOUT_VERSION {
            return bad("another layout version");
        }
        if m.base != base || m.span != span {
            return bad("made for another range");
        }
        let committed = m.committed.load(Relaxed);
        if committed != len {
            return bad("length differs from its header");
        }
        Ok(committed)
    }

    /// In the new process of an update, right after adopting: the
    /// committed memory past the first never-used unit holds nothing, but
    /// is still the old process's memfd mapped copy-on-write, where a
    /// first write costs a page of the memfd and a copy of it. Remapped as
    /// plain anonymous memory, the blocks the transfer and the program
    /// take there cost one zeroed page each, as in any process.
    pub(super) fn detach_unused_tail(&self) {
        let m = self.meta();
        let from = m.units.bump.load(Relaxed) * UNIT;
        let to = m.committed.load(Relaxed);
        if from < to {
            // An adopted region is private: committing maps anonymous
            // memory over never-used units (nothing lives there). Failure
            // leaves the memfd's pages, which work as before.
            let _ = self.region.commit(from, to);
        }
    }

    /// After adoption: locks held in the old process at the moment of the
    /// handover are not held by anyone here.
    pub(super) fn reset_locks(&self) {
        let m = self.meta();
        m.units.lock.release();
        m.classes.iter().for_each(|c| c.lock.release());
    }

    #[inline]
    fn meta(&self) -> &Meta {
        // SAFETY: a started arena's header is mapped for its lifetime and
        // changes only through atomics.
        unsafe { &*(self.region.base() as *const Meta) }
    }

    #[inline]
    fn map(&self, unit: usize) -> &AtomicU32 {
        // SAFETY: the unit map is committed with the header; `unit` < span/UNIT.
        unsafe { &*((self.region.base() + UNIT + unit * 4) as *const AtomicU32) }
    }

    fn unit_addr(&self, unit: usize) -> usize {
        self.region.base() + (unit << UNIT_SHIFT)
    }

    #[inline]
    pub fn contains(&self, addr: usize) -> bool {
        self.region.contains(addr)
    }

    pub fn base(&self) -> usize {
        self.region.base()
    }

    pub fn span(&self) -> usize {
        self.region.span()
    }

    /// Bytes from the base backed by memory (what a handover sends).
    pub fn committed(&self) -> usize {
        self.meta().committed.load(Relaxed)
    }

    /// A block of at least `n` bytes, 16-byte aligned, or null when the
    /// span is exhausted.
    #[inline]
    pub fn alloc(&self, n: usize) -> *mut u8 {
        if n <= MAX_SMALL {
            self.alloc_small(layout::class_of(n))
        } else {
            self.alloc_large(n)
        }
    }

    /// A zeroed block of at least `n` bytes, or null.
    pub fn alloc_zeroed(&self, n: usize) -> *mut u8 {
        let p = self.alloc(n);
        if p.is_null() {
            return p;
        }
        // Big blocks are zeroed by the kernel, so a large calloc that is
        // only partly used costs only the pages it uses.
        let by_pages = n >= ZERO_BY_PAGES && self.region.zero_pages(p as usize, n.div_ceil(UNIT) * UNIT);
        if !by_pages {
            // SAFETY: a fresh block of at least `n` bytes.
            unsafe { ptr::write_bytes(p, 0, n) };
        }
        p
    }

    #[inline]
    fn alloc_small(&self, c: usize) -> *mut u8 {
        let class: &Class = &self.meta().classes[c];
        let _g = class.lock.lock();
        class.live.store(class.live.load(Relaxed) + 1, Relaxed);
        let p = class.free.load(Relaxed);
        if p != 0 {
            // SAFETY: free blocks hold the next free block's address.
            class.free.store(unsafe { (p as *const usize).read() }, Relaxed);
            return p as *mut u8;
        }
        let size = CLASS_SIZES[c] as usize;
        let mut p = class.bump.load(Relaxed);
        if p + size > class.end.load(Relaxed) {
            let Some(u) = self.take_units(1, 1 + c as u32) else {
                class.live.store(class.live.load(Relaxed) - 1, Relaxed);
                return ptr::null_mut();
            };
            p = self.unit_addr(u);
            class.end.store(p + UNIT, Relaxed);
        }
        class.bump.store(p + size, Relaxed);
        p as *mut u8
    }

    /// `count` blocks of size class `c` at once, in whole slabs taken as one
    /// run of units (an update's moved objects: the state `count`
    /// allocations of the class would leave, without a free-list check and
    /// a lock per block). Block `k` is [`BlockRun::block`]`(k)`. `None`
    /// when the span is exhausted.
    pub fn alloc_run(&self, c: usize, count: usize) -> Option<BlockRun> {
        if count == 0 {
            return None;
        }
        let size = CLASS_SIZES[c] as usize;
        let per = UNIT / size;
        let units = count.div_ceil(per);
        let u = self.take_units(units, 1 + c as u32)?;
        // One slab per unit, as `alloc_small` makes them: `free` reads a
        // block's class from its own unit's entry.
        for k in 0..units {
            self.map(u + k).store(layout::entry(1 + c as u32, 1), Relaxed);
        }
        let run = BlockRun { first: self.unit_addr(u), size, per };
        let class: &Class = &self.meta().classes[c];
        let _g = class.lock.lock();
        class.live.store(class.live.load(Relaxed) + count, Relaxed);
        // The last slab's unused tail is never written (threading it on the
        // free list would make its pages resident): it becomes the class's
        // bump region when it is the larger one, else it is left unused.
        let tail = run.block(count) as usize;
        let end = self.unit_addr(u + units - 1) + UNIT;
        if count < units * per && end - tail > class.end.load(Relaxed) - class.bump.load(Relaxed) {
            class.bump.store(tail, Relaxed);
            class.end.store(end, Relaxed);
        }
        Some(run)
    }

    fn alloc_large(&self, n: usize) -> *mut u8 {
        match self.take_units(n.div_ceil(UNIT), kind::LARGE) {
            Some(u) => self.unit_addr(u) as *mut u8,
            None => ptr::null_mut(),
        }
    }

    /// Returns a block of this arena.
    ///
    /// # Safety
    /// `p` came from this arena's `alloc`/`resize` and is not yet freed.
    #[inline]
    pub unsafe fn free(&self, p: *mut u8) {
        let u = (p as usize - self.region.base()) >> UNIT_SHIFT;
        let e = self.map(u).load(Relaxed);
        let k = layout::entry_kind(e);
        if (k as usize).wrapping_sub(1) < NCLASSES {
            let class = &self.meta().classes[k as usize - 1];
            let _g = class.lock.lock();
            (p as *mut usize).write(class.free.load(Relaxed));
            class.free.store(p as usize, Relaxed);
            class.live.store(class.live.load(Relaxed) - 1, Relaxed);
        } else {
            debug_assert_eq!(k, kind::LARGE);
            self.give_units(u, layout::entry_len(e));
        }
    }

    /// Bytes usable in a live block of this arena.
    ///
    /// # Safety
    /// As for [`Self::free`].
    pub unsafe fn usable_size(&self, p: *mut u8) -> usize {
        let e = self.map((p as usize - self.region.base()) >> UNIT_SHIFT).load(Relaxed);
        match layout::entry_kind(e) {
            kind::LARGE => layout::entry_len(e) * UNIT,
            k => CLASS_SIZES[k as usize - 1] as usize,
        }
    }

    /// Whether a live block can serve as a block of `n` bytes in place:
    /// it is big enough and would not waste more than half.
    ///
    /// # Safety
    /// As for [`Self::free`].
    pub unsafe fn fits_in_place(&self, p: *mut u8, n: usize) -> bool {
        let have = self.usable_size(p);
        n <= have && (n > have / 2 || have <= 16)
    }

    /// Live blocks (small and large) in this arena.
    pub fn live_blocks(&self) -> usize {
        let m = self.meta();
        let large = {
            let _g = m.units.lock.lock();
            m.units.live_large.load(Relaxed)
        };
        large
            + m.classes
                .iter()
                .map(|c| {
                    let _g = c.lock.lock();
                    c.live.load(Relaxed)
                })
                .sum::<usize>()
    }

    /// `len` units marked `what`: the first free extent long enough, or
    /// fresh units from the bump index (growing the committed memory).
    fn take_units(&self, len: usize, what: u32) -> Option<usize> {
        let m = self.meta();
        let _g = m.units.lock.lock();
        let mut u = m.units.free.load(Relaxed);
        while u != NONE {
            let have = layout::entry_len(self.map(u).load(Relaxed));
            if have >= len {
                self.unlink(u);
                if have > len {
                    self.push_free(u + len, have - len);
                }
                return Some(self.mark_used(u, len, what));
            }
            u = self.links(u).1;
        }
        let u = m.units.bump.load(Relaxed);
        let end = (u + len).checked_mul(UNIT)?;
        if end > m.span {
            return None;
        }
        let committed = m.committed.load(Relaxed);
        if end > committed {
            let to = end.max(committed + m.chunk).min(m.span);
            self.region.commit(committed, to).ok()?;
            m.committed.store(to, Relaxed);
        }
        m.units.bump.store(u + len, Relaxed);
        Some(self.mark_used(u, len, what))
    }

    fn mark_used(&self, u: usize, len: usize, what: u32) -> usize {
        if what == kind::LARGE {
            let live = &self.meta().units.live_large;
            live.store(live.load(Relaxed) + 1, Relaxed);
        }
        // Only the first unit's entry is ever read for a used extent; the
        // last is cleared so a neighbour's coalescing never mistakes a
        // stale tail tag for free space.
        self.map(u + len - 1).store(kind::NONE, Relaxed);
        self.map(u).store(layout::entry(what, len), Relaxed);
        u
    }

    fn give_units(&self, mut u: usize, mut len: usize) {
        let m = self.meta();
        let _g = m.units.lock.lock();
        m.units.live_large.store(m.units.live_large.load(Relaxed) - 1, Relaxed);
        let bump = m.units.bump.load(Relaxed);
        let next = u + len;
        if next < bump && layout::entry_kind(self.map(next).load(Relaxed)) == kind::FREE_HEAD {
            let more = layout::entry_len(self.map(next).load(Relaxed));
            self.unlink(next);
            self.map(next).store(kind::NONE, Relaxed);
            len += more;
        }
        if u > m.meta_units {
            let prev = self.map(u - 1).load(Relaxed);
            if layout::entry_kind(prev) == kind::FREE_TAIL {
                let start = u - layout::entry_len(prev);
                self.unlink(start);
                self.map(u).store(kind::NONE, Relaxed);
                len += layout::entry_len(prev);
                u = start;
            }
        }
        if len >= DISCARD_UNITS {
            // Keep the first page: it holds the list links.
            self.region.discard(self.unit_addr(u) + 4096, len * UNIT - 4096);
        }
        if u + len == bump {
            m.units.bump.store(u, Relaxed);
            self.map(u).store(kind::NONE, Relaxed);
            self.map(u + len - 1).store(kind::NONE, Relaxed);
        } else {
            self.push_free(u, len);
        }
    }

    /// The (prev, next) links stored at the start of a free extent.
    fn links(&self, u: usize) -> (usize, usize) {
        let p = self.unit_addr(u) as *const usize;
        // SAFETY: free extents are committed memory we own.
        unsafe { (p.read(), p.add(1).read()) }
    }

    fn set_links(&self, u: usize, prev: usize, next: usize) {
        let p = self.unit_addr(u) as *mut usize;
        unsafe {
            p.write(prev);
            p.add(1).write(next);
        }
    }

    fn push_free(&self, u: usize, len: usize) {
        let m = self.meta();
        let head = m.units.free.load(Relaxed);
        self.set_links(u, NONE, head);
        if head != NONE {
            let (_, hn) = self.links(head);
            self.set_links(head, u, hn);
        }
        m.units.free.store(u, Relaxed);
        self.map(u + len - 1).store(layout::entry(kind::FREE_TAIL, len), Relaxed);
        self.map(u).store(layout::entry(kind::FREE_HEAD, len), Relaxed);
    }

    fn unlink(&self, u: usize) {
        let m = self.meta();
        let len = layout::entry_len(self.map(u).load(Relaxed));
        let (prev, next) = self.links(u);
        if prev == NONE {
            m.units.free.store(next, Relaxed);
        } else {
            let (pp, _) = self.links(prev);
            self.set_links(prev, pp, next);
        }
        if next != NONE {
            let (_, nn) = self.links(next);
            self.set_links(next, prev, nn);
        }
        self.map(u + len - 1).store(kind::NONE, Relaxed);
    }

    /// fork's prepare step: every lock held, then the memory made private
    /// so the child does not share it.
    pub(super) fn lock_for_fork(&self) {
        let m = self.meta();
        // Classes before units: a class's allocation takes the units lock
        // while holding its own.
        m.classes.iter().for_each(|c| c.lock.acquire());
        m.units.lock.acquire();
        // Failure leaves the region shared; nothing better can be done
        // inside fork, and the child still runs.
        let _ = self.region.make_private(m.committed.load(Relaxed));
    }

    pub(super) fn unlock_after_fork(&self) {
        self.reset_locks();
    }

    /// A memfd with the committed memory as it is now (see
    /// [`Region::memfd_for_handover`]), taken with every lock held.
    pub(super) fn handover(&self) -> io::Result<(usize, usize, i32)> {
        let m = self.meta();
        m.classes.iter().for_each(|c| c.lock.acquire());
        m.units.lock.acquire();
        let len = m.committed.load(Relaxed);
        let fd = self.region.memfd_for_handover(len);
        self.reset_locks();
        Ok((self.base(), len, fd?))
    }
}
