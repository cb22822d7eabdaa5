//! The registry of every live heap object the runtime handed out.
//!
//! Sharded by thread: each thread files its allocations in one of
//! [`SHARDS`] shards (chosen round-robin at its first allocation), so
//! threads rarely meet on a lock; a block remembers its shard in its
//! header, so any thread can free it. A shard is a vector of slots, one
//! machine word per object besides the header: a slot holds a live
//! header's address, or (low bit set) the next free slot. Each header
//! stores its slot's index, so insert pops the most recently freed slot (or
//! pushes) and remove pushes the slot on the free list: O(1) both. Freed
//! slots are reused rather than filled by swap-remove because a swap would
//! touch the moved object's header, a cache miss per free on a large heap;
//! LIFO reuse also keeps the slots of a churning program in cache. The
//! cost: enumeration walks the high-water mark of slots, not the live
//! count. Critical sections are a handful of loads and stores (see `lock`
//! and `runtime-c/bench/malloc_bench.c`).
//!
//! Telling our pointers from foreign ones: a pointer `p` is ours iff the
//! index read from `p - 16` is in bounds of the shard named at `p - 8` and
//! that slot holds exactly `p - 16` (a free slot, odd, never does). No
//! foreign block can pass, since slots only ever hold headers of live
//! blocks of ours and distinct live blocks do not overlap. Reading `p - 16` is safe for any pointer glibc's malloc
//! returned: that is its chunk header (prev_size, size), always mapped.
//!
//! Retag needs "the block this thread allocated last", which another
//! thread may free. A thread's [`LastSlot`] copies the block's range so the
//! range test reads no memory; the header's LAST bit marks the block as
//! some thread's last. Freeing a LAST block that is not the freeing
//! thread's own last bumps its shard's epoch, and a slot whose epoch is
//! older is not trusted: its block may be gone. That is conservative (an
//! unrelated cross-thread free in the same shard can make a retag a no-op)
//! but never touches freed memory.

use std::sync::atomic::{AtomicUsize, Ordering};

pub use crate::header::SHARDS;
use crate::header::{Header, MAX_OFFSET};
use crate::lock::SpinLock;

/// One live object, as enumeration reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapObject {
    /// The address the program got (start of the object).
    pub addr: usize,
    /// Size the program asked for.
    pub size: usize,
    /// Allocation site (after retagging).
    pub site: u32,
    /// Offset of the pointer the outermost wrapper returned, inside the object.
    pub offset: u16,
}

const NO_SHARD: u8 = u8::MAX;

/// A thread's shard and most recent allocation.
#[derive(Debug, Clone, Copy)]
pub struct LastSlot {
    hdr: *mut Header,
    user: usize,
    size: usize,
    epoch: u64,
    shard: u8,
}

impl LastSlot {
    pub const EMPTY: LastSlot = LastSlot { hdr: std::ptr::null_mut(), user: 0, size: 0, epoch: 0, shard: NO_SHARD };

    /// Whether `p` lies in the last block's range (reads no memory).
    pub fn covers(&self, p: usize) -> bool {
        !self.hdr.is_null() && p.wrapping_sub(self.user) < self.size
    }

    /// A thread that files into `shard` (tests share one between threads).
    #[cfg(test)]
    fn in_shard(shard: usize) -> LastSlot {
        LastSlot { shard: shard as u8, ..LastSlot::EMPTY }
    }

    fn forget_block(&mut self) {
        *self = LastSlot { shard: self.shard, ..LastSlot::EMPTY };
    }
}

// Fits the free-slot encoding (shifted left by one).
const NO_FREE: usize = usize::MAX >> 1;

/// A shard's slots: a growable array of words, in memory of its own or,
/// in an update's new process, the old process's slots mapped
/// copy-on-write from the state image (adopting a registry of millions of
/// objects then copies nothing: a page of slots is copied when it is first
/// written). Growing a mapped array moves it into memory of its own.
struct SlotStore {
    ptr: *mut usize,
    len: usize,
    /// Words the storage holds.
    cap: usize,
    /// Whether the words are a mapping of the state image (else a block
    /// of the Rust allocator's).
    mapped: bool,
}

// SAFETY: the storage is owned; the shard's lock serialises its use.
unsafe impl Send for SlotStore {}

impl SlotStore {
    const fn new() -> SlotStore {
        SlotStore { ptr: std::ptr::NonNull::dangling().as_ptr(), len: 0, cap: 0, mapped: false }
    }

    fn layout(cap: usize) -> std::alloc::Layout {
        std::alloc::Layout::array::<usize>(cap).expect("slot array size")
    }

    /// A copy of `words` in memory of its own.
    fn copied(words: &[u64]) -> SlotStore {
        let mut s = SlotStore::new();
        s.reserve_exact(words.len());
        // SAFETY: room for `words.len()` words was just made; usize is u64.
        unsafe { std::ptr::copy_nonoverlapping(words.as_ptr().cast::<usize>(), s.ptr, words.len()) };
        s.len = words.len();
        s
    }

    /// `len` words at page-aligned `offset` in `fd`, mapped privately: the
    /// file holds them padded to a whole page. None if the mapping fails.
    fn mapped(fd: std::os::fd::BorrowedFd<'_>, offset: u64, len: usize) -> Option<SlotStore> {
        use std::os::fd::AsRawFd;
        let bytes = (len * std::mem::size_of::<usize>()).next_multiple_of(crate::update::state::PAGE);
        // SAFETY: a new private mapping of our own; the caller vouches
        // that the file holds the range.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), bytes, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE, fd.as_raw_fd(), offset as i64)
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        Some(SlotStore { ptr: p.cast(), len, cap: bytes / std::mem::size_of::<usize>(), mapped: true })
    }

    #[inline]
    fn push(&mut self, v: usize) {
        if self.len == self.cap {
            self.reserve_exact(self.cap.max(64));
        }
        // SAFETY: len < cap.
        unsafe { self.ptr.add(self.len).write(v) };
        self.len += 1;
    }

    /// Room for `more` words past `len`.
    #[cold]
    fn reserve_exact(&mut self, more: usize) {
        let cap = self.len + more;
        if cap <= self.cap {
            return;
        }
        // SAFETY: the old storage is ours and described by (ptr, cap,
        // mapped); the new one has room for `cap` words.
        unsafe {
            let p = if self.cap == 0 {
                std::alloc::alloc(Self::layout(cap))
            } else if self.mapped {
                let p = std::alloc::alloc(Self::layout(cap));
                if !p.is_null() {
                    std::ptr::copy_nonoverlapping(self.ptr, p.cast::<usize>(), self.len);
                    self.unmap();
                }
                p
            } else {
                std::alloc::realloc(self.ptr.cast(), Self::layout(self.cap), Self::layout(cap).size())
            };
            if p.is_null() {
                std::alloc::handle_alloc_error(Self::layout(cap));
            }
            self.ptr = p.cast();
        }
        self.cap = cap;
        self.mapped = false;
    }

    /// # Safety
    /// The storage is a mapping and is not used again.
    unsafe fn unmap(&mut self) {
        libc::munmap(self.ptr.cast(), self.cap * std::mem::size_of::<usize>());
    }
}

impl Drop for SlotStore {
    fn drop(&mut self) {
        if self.cap == 0 {
            return;
        }
        // SAFETY: the storage is ours and described by (ptr, cap, mapped).
        unsafe {
            if self.mapped {
                self.unmap();
            } else {
                std::alloc::dealloc(self.ptr.cast(), Self::layout(self.cap));
            }
        }
    }
}

impl std::ops::Deref for SlotStore {
    type Target = [usize];
    #[inline]
    fn deref(&self) -> &[usize] {
        // SAFETY: `len` initialised words (ptr is dangling but aligned when empty).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl std::ops::DerefMut for SlotStore {
    #[inline]
    fn deref_mut(&mut self) -> &mut [usize] {
        // SAFETY: as for Deref, and borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

struct Slots {
    /// Header address (even), or `next free index << 1 | 1`.
    slots: SlotStore,
    free: usize,
    live: usize,
    bytes: usize,
    epoch: u64,
}

impl Slots {
    const fn new() -> Slots {
        Slots { slots: SlotStore::new(), free: NO_FREE, live: 0, bytes: 0, epoch: 0 }
    }

    fn take_slot(&mut self, hdr: *mut Header) -> usize {
        self.live += 1;
        if self.free == NO_FREE {
            self.slots.push(hdr as usize);
            return self.slots.len() - 1;
        }
        let i = self.free;
        self.free = self.slots[i] >> 1;
        self.slots[i] = hdr as usize;
        i
    }

    fn release_slot(&mut self, i: usize) {
        self.live -= 1;
        self.slots[i] = (self.free << 1) | 1;
        self.free = i;
    }

    fn live_headers(&self) -> impl Iterator<Item = *mut Header> + '_ {
        self.slots.iter().filter(|&&v| v & 1 == 0).map(|&v| v as *mut Header)
    }
}

/// A shard on cache lines of its own: threads working on neighbouring
/// shards must not bounce a shared line between cores.
#[repr(align(128))]
struct Shard(SpinLock<Slots>);

impl std::ops::Deref for Shard {
    type Target = SpinLock<Slots>;
    fn deref(&self) -> &SpinLock<Slots> {
        &self.0
    }
}

pub struct Registry {
    shards: [Shard; SHARDS],
    next_shard: AtomicUsize,
}

/// One shard's slots as an update hands them over: the new process takes
/// them as they are, so every adopted header's shard and index stay right
/// and none is written (a write would copy its page of the old heap).
#[derive(Debug, Clone, Copy)]
pub struct ShardImage<'a> {
    /// Header addresses, or `next free << 1 | 1`.
    pub slots: &'a [u64],
    pub free: u64,
    pub live: u64,
    pub bytes: u64,
    /// Where `slots` lie in a file: a page-aligned offset, the slots
    /// padded to a whole page there. The adopting registry then maps them
    /// copy-on-write instead of copying them.
    pub file: Option<(std::os::fd::BorrowedFd<'a>, u64)>,
}

/// What a removed object was.
#[derive(Debug, Clone, Copy)]
pub struct Removed {
    pub size: usize,
    pub site: u32,
    pub offset: u16,
    pub aligned: bool,
}

impl Registry {
    pub const fn new() -> Registry {
        Registry {
            shards: [const { Shard(SpinLock::new(Slots::new())) }; SHARDS],
            next_shard: AtomicUsize::new(0),
        }
    }

    #[inline]
    fn shard_of(&self, last: &mut LastSlot) -> usize {
        if last.shard == NO_SHARD {
            last.shard = (self.next_shard.fetch_add(1, Ordering::Relaxed) % SHARDS) as u8;
        }
        last.shard as usize
    }

    /// Tracks a fresh header in the thread's shard and makes it the
    /// thread's last block.
    ///
    /// # Safety
    /// `hdr` is a valid header of a live block, in no registry.
    #[inline]
    pub unsafe fn insert(&self, hdr: *mut Header, last: &mut LastSlot) {
        let shard = self.shard_of(last);
        let h = &mut *hdr;
        h.set_shard(shard);
        h.set_last(true);
        let mut s = self.shards[shard].lock();
        if !last.hdr.is_null() && last.epoch == s.epoch {
            // Still live: a free by this thread clears the slot, a free by
            // another bumps the epoch.
            (*last.hdr).set_last(false);
        }
        h.index = s.take_slot(hdr) as u32;
        s.bytes += h.size();
        let epoch = s.epoch;
        drop(s);
        *last = LastSlot { hdr, user: Header::user(hdr) as usize, size: h.size(), epoch, shard: shard as u8 };
    }

    /// Untracks `hdr` if it is one of ours; `None` means foreign.
    ///
    /// # Safety
    /// The 16 bytes at `hdr` are readable (see the module comment).
    #[inline]
    pub unsafe fn remove(&self, hdr: *mut Header, last: &mut LastSlot) -> Option<Removed> {
        let mut s = self.shards[(*hdr).shard()].lock();
        let index = std::ptr::read_volatile(std::ptr::addr_of!((*hdr).index)) as usize;
        if s.slots.get(index) != Some(&(hdr as usize)) {
            return None;
        }
        let h = &mut *hdr;
        s.release_slot(index);
        s.bytes -= h.size();
        if h.is_last() {
            if last.hdr == hdr {
                last.forget_block();
            } else {
                s.epoch += 1;
            }
        }
        h.index = u32::MAX;
        Some(Removed { size: h.size(), site: h.site, offset: h.offset(), aligned: h.is_aligned() })
    }

    /// Untracks `hdr`, one of ours, without writing to it: an update's new
    /// process retires the old blocks of moved objects during its pause
    /// and frees them later (`update::release_retired`); a write there
    /// would copy a page of the old heap in the pause for a header nobody
    /// reads again. The header's stale index is harmless: its slot is free
    /// (odd) or another header's, so the block no longer passes as ours.
    ///
    /// # Safety
    /// `hdr` is a live header of this registry.
    pub unsafe fn retire(&self, hdr: *mut Header) -> Option<Removed> {
        let h = &*hdr;
        let mut s = self.shards[h.shard()].lock();
        let index = h.index as usize;
        if s.slots.get(index) != Some(&(hdr as usize)) {
            return None;
        }
        s.release_slot(index);
        s.bytes -= h.size();
        if h.is_last() {
            // Some thread's (maybe the old process's) last block: its
            // retag must not trust this shard's slots any more.
            s.epoch += 1;
        }
        Some(Removed { size: h.size(), site: h.site, offset: h.offset(), aligned: h.is_aligned() })
    }

    /// Whether `hdr` is the header of a live block of this registry.
    ///
    /// # Safety
    /// The 16 bytes at `hdr` are readable.
    pub unsafe fn tracks(&self, hdr: *mut Header) -> bool {
        let (shard, index) = ((*hdr).shard(), std::ptr::read_volatile(std::ptr::addr_of!((*hdr).index)) as usize);
        self.shards[shard].lock().slots.get(index) == Some(&(hdr as usize))
    }

    /// Attributes the thread's last block to `site` if `p` lies in it.
    pub fn retag(&self, p: usize, site: u32, last: &LastSlot) -> bool {
        if !last.covers(p) || p - last.user > MAX_OFFSET {
            return false;
        }
        let s = self.shards[last.shard as usize].lock();
        if last.epoch != s.epoch {
            return false;
        }
        // SAFETY: same epoch and not cleared: the block is live.
        let h = unsafe { &mut *last.hdr };
        h.site = site;
        h.set_offset((p - last.user) as u16);
        true
    }

    /// Calls `f` on every live object, one shard at a time under its lock:
    /// `f` must not allocate through the runtime or free runtime blocks.
    /// Objects allocated or freed meanwhile by other threads may or may
    /// not be seen; the state transfer walks a quiescent program.
    pub fn for_each_object(&self, mut f: impl FnMut(&HeapObject)) {
        for shard in &self.shards {
            let s = shard.lock();
            for hdr in s.live_headers() {
                // SAFETY: headers in the registry are live.
                let h = unsafe { &*hdr };
                f(&HeapObject { addr: Header::user(hdr) as usize, size: h.size(), site: h.site, offset: h.offset() });
            }
        }
    }

    /// [`Registry::for_each_object`] for the objects whose headers lie in
    /// `[lo, hi)`: the others' headers are not read (on a heap of
    /// millions, reading each would be a cache miss apiece).
    pub fn for_each_object_in(&self, lo: usize, hi: usize, mut f: impl FnMut(&HeapObject)) {
        for shard in &self.shards {
            let s = shard.lock();
            for hdr in s.live_headers().filter(|&h| (h as usize) >= lo && (h as usize) < hi) {
                // SAFETY: headers in the registry are live.
                let h = unsafe { &*hdr };
                f(&HeapObject { addr: Header::user(hdr) as usize, size: h.size(), site: h.site, offset: h.offset() });
            }
        }
    }

    /// Calls `f` with every shard's image, one shard at a time under its
    /// lock (the same rules as [`Registry::for_each_object`]).
    pub fn for_each_shard(&self, mut f: impl FnMut(usize, ShardImage<'_>)) {
        for (i, shard) in self.shards.iter().enumerate() {
            let s = shard.lock();
            // SAFETY: usize is u64 on every target the runtime supports
            // (the header stores 64-bit words).
            let slots = unsafe { std::slice::from_raw_parts(s.slots.as_ptr().cast::<u64>(), s.slots.len()) };
            f(i, ShardImage { slots, free: s.free as u64, live: s.live as u64, bytes: s.bytes as u64, file: None });
        }
    }

    /// In an update's new process: takes over the old process's registry
    /// (one image per shard, as [`Registry::for_each_shard`] gave them),
    /// whose headers are mapped at their addresses. The blocks this
    /// process tracked already (its startup's) are filed after them. No
    /// adopted header is written.
    ///
    /// # Safety
    /// The images' live slots are headers of live blocks, mapped, in no
    /// registry of this process, and naming their own shard and slot.
    pub unsafe fn adopt_images(&self, images: &[ShardImage<'_>]) {
        assert_eq!(images.len(), SHARDS, "one image per shard");
        let mut before = FILED_BEFORE_ADOPTION.lock().unwrap_or_else(|p| p.into_inner());
        let before = before.get_or_insert_with(Vec::new);
        for (shard, img) in self.shards.iter().zip(images) {
            let mut s = shard.lock();
            let mine: Vec<*mut Header> = s.live_headers().collect();
            before.extend(mine.iter().map(|&h| h as usize));
            // A page or more is worth a mapping of its own.
            let worth_mapping = img.slots.len() * 8 >= crate::update::state::PAGE;
            s.slots = match img.file {
                Some((fd, offset)) if worth_mapping => {
                    SlotStore::mapped(fd, offset, img.slots.len()).unwrap_or_else(|| SlotStore::copied(img.slots))
                }
                _ => SlotStore::copied(img.slots),
            };
            s.free = img.free as usize;
            s.live = img.live as usize;
            s.bytes = img.bytes as usize;
            // A thread's last block filed before now is no longer trusted
            // for retagging (the slot it names may be another's).
            s.epoch += 1;
            for hdr in mine {
                (*hdr).index = s.take_slot(hdr) as u32;
                s.bytes += (*hdr).size();
            }
        }
    }

    /// The objects this process tracked before it adopted another's
    /// registry (`adopt_images`: an update's new version, its own startup's
    /// objects) and that are still live, without walking the adopted
    /// millions. False (and nothing called) when no registry was adopted.
    pub fn for_each_filed_before_adoption(&self, mut f: impl FnMut(&HeapObject)) -> bool {
        let before = FILED_BEFORE_ADOPTION.lock().unwrap_or_else(|p| p.into_inner());
        let Some(before) = before.as_ref() else { return false };
        for &h in before.iter() {
            let hdr = h as *mut Header;
            // SAFETY: headers of blocks this process allocated and, if
            // freed since, still in a block of its arena (startup blocks
            // are never unmapped before the transfer's settle step).
            if unsafe { self.tracks(hdr) } {
                // SAFETY: live, as its slot says.
                let hd = unsafe { &*hdr };
                f(&HeapObject { addr: Header::user(hdr) as usize, size: hd.size(), site: hd.site, offset: hd.offset() });
            }
        }
        true
    }

    /// A copy of every live object.
    pub fn snapshot(&self) -> Vec<HeapObject> {
        let mut v = Vec::with_capacity(self.object_count());
        self.for_each_object(|o| v.push(*o));
        v
    }

    pub fn object_count(&self) -> usize {
        self.shards.iter().map(|s| s.lock().live).sum()
    }

    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().bytes).sum()
    }

    /// fork's prepare step: holds every shard so the child's copy is consistent.
    pub fn lock_all_for_fork(&self) {
        self.shards.iter().for_each(|s| s.lock_for_fork());
    }

    /// fork's parent and child steps.
    pub fn unlock_all_after_fork(&self) {
        self.shards.iter().for_each(|s| s.unlock_after_fork());
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

/// The program's registry.
pub static GLOBAL: Registry = Registry::new();

/// Headers `GLOBAL` held when it adopted an old process's registry.
static FILED_BEFORE_ADOPTION: std::sync::Mutex<Option<Vec<usize>>> = std::sync::Mutex::new(None);

/// Every live object of the program.
pub fn for_each_object(f: impl FnMut(&HeapObject)) {
    GLOBAL.for_each_object(f)
}

pub fn snapshot() -> Vec<HeapObject> {
    GLOBAL.snapshot()
}

pub fn object_count() -> usize {
    GLOBAL.object_count()
}

pub fn bytes() -> usize {
    GLOBAL.bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::alloc::{alloc, dealloc, Layout};

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(crate::header::HEADER_SIZE + size, 16).unwrap()
    }

    /// A real block: header plus `size` bytes, as the runtime lays it out
    /// (distinct blocks' ranges must not overlap for retag tests to mean
    /// anything).
    fn block(site: u32, size: usize) -> *mut Header {
        let p = unsafe { alloc(layout(size)) } as *mut Header;
        assert!(!p.is_null());
        unsafe { p.write(Header::new(site, size, false)) };
        p
    }

    fn free_block(h: *mut Header) {
        unsafe { dealloc(h as *mut u8, layout((*h).size())) };
    }

    #[test]
    fn insert_remove_enumerate() {
        let r = Registry::new();
        let mut last = LastSlot::EMPTY;
        let hs: Vec<_> = (0..5).map(|i| block(i + 1, 10 * (i as usize + 1))).collect();
        for &h in &hs {
            unsafe { r.insert(h, &mut last) };
        }
        assert_eq!((r.object_count(), r.bytes()), (5, 150));
        // Remove from the middle; the next insert reuses the slot.
        let gone = unsafe { r.remove(hs[1], &mut last) }.unwrap();
        assert_eq!((gone.site, gone.size), (2, 20));
        assert!(unsafe { r.remove(hs[1], &mut last) }.is_none(), "double remove is refused");
        let again = block(9, 1);
        unsafe { r.insert(again, &mut last) };
        assert_eq!(unsafe { (*again).index }, 1);
        unsafe { r.remove(again, &mut last) }.unwrap();
        free_block(again);
        let mut sites: Vec<u32> = r.snapshot().iter().map(|o| o.site).collect();
        sites.sort();
        assert_eq!(sites, vec![1, 3, 4, 5]);
        assert_eq!(r.bytes(), 130);
        for &h in &hs {
            unsafe { r.remove(h, &mut last) };
        }
        assert_eq!((r.object_count(), r.bytes()), (0, 0));
        hs.into_iter().for_each(free_block);
    }

    #[test]
    fn foreign_header_with_plausible_index_is_refused() {
        let r = Registry::new();
        let mut last = LastSlot::EMPTY;
        let ours = block(1, 8);
        unsafe { r.insert(ours, &mut last) };
        // A foreign "header" whose bytes claim index 0: the slot holds a
        // different address, so it is not ours.
        let fake = block(1, 8);
        unsafe { (*fake).set_shard((*ours).shard()) };
        unsafe { (*fake).index = 0 };
        assert!(unsafe { r.remove(fake, &mut last) }.is_none());
        unsafe { (*fake).index = 12345 };
        assert!(unsafe { r.remove(fake, &mut last) }.is_none());
        assert_eq!(r.object_count(), 1);
        free_block(fake);
        unsafe { r.remove(ours, &mut last) }.unwrap();
        free_block(ours);
    }

    #[test]
    fn resize_as_remove_then_insert_keeps_counts() {
        let r = Registry::new();
        let mut last = LastSlot::EMPTY;
        let a = block(3, 100);
        unsafe { r.insert(a, &mut last) };
        let old = unsafe { r.remove(a, &mut last) }.unwrap();
        let b = block(old.site, 400);
        unsafe { r.insert(b, &mut last) };
        assert_eq!(r.snapshot().iter().map(|o| (o.site, o.size)).collect::<Vec<_>>(), vec![(3, 400)]);
        assert_eq!(r.bytes(), 400);
        unsafe { r.remove(b, &mut last) };
        free_block(a);
        free_block(b);
    }

    #[test]
    fn retag_hits_only_the_last_live_block() {
        let r = Registry::new();
        let mut last = LastSlot::EMPTY;
        let a = block(1, 64);
        let b = block(2, 64);
        unsafe { r.insert(a, &mut last) };
        let ua = Header::user(a) as usize;
        assert!(r.retag(ua + 8, 10, &last));
        assert!(r.retag(ua + 16, 11, &last), "outer retag overwrites");
        assert!(!r.retag(ua + 64, 12, &last), "one past the end is outside");
        assert_eq!((unsafe { (*a).site }, unsafe { (*a).offset() }), (11, 16));
        unsafe { r.insert(b, &mut last) };
        assert!(!unsafe { (*a).is_last() });
        assert!(!r.retag(ua, 13, &last), "a is no longer the last block");
        // Another thread frees b (its slot is not b): the epoch moves and
        // this thread's slot is no longer trusted.
        let mut other = LastSlot::EMPTY;
        unsafe { r.remove(b, &mut other) }.unwrap();
        assert!(!r.retag(Header::user(b) as usize, 14, &last));
        // Freeing one's own last block clears the slot.
        let c = block(3, 32);
        unsafe { r.insert(c, &mut last) };
        unsafe { r.remove(c, &mut last) }.unwrap();
        assert!(!last.covers(Header::user(c) as usize));
        unsafe { r.remove(a, &mut last) }.unwrap();
        [a, b, c].into_iter().for_each(free_block);
    }

    #[test]
    fn adopted_images_keep_old_slots_and_refile_own_blocks() {
        let old = Registry::new();
        let mut last = LastSlot::in_shard(2);
        let hs: Vec<_> = (0..4).map(|i| block(10 + i, 8)).collect();
        for &h in &hs {
            unsafe { old.insert(h, &mut last) };
        }
        unsafe { old.remove(hs[1], &mut last) }.unwrap();
        let mut copies: Vec<(Vec<u64>, u64, u64, u64)> = Vec::new();
        old.for_each_shard(|_, img| copies.push((img.slots.to_vec(), img.free, img.live, img.bytes)));
        let images: Vec<ShardImage<'_>> =
            copies.iter().map(|(slots, free, live, bytes)| ShardImage { slots, free: *free, live: *live, bytes: *bytes, file: None }).collect();

        let new = Registry::new();
        let mut mine = LastSlot::in_shard(2);
        let own = block(99, 16);
        unsafe { new.insert(own, &mut mine) };
        let before: Vec<(u32, u32)> = [hs[0], hs[2], hs[3]].iter().map(|&h| unsafe { ((*h).site, (*h).index) }).collect();
        unsafe { new.adopt_images(&images) };
        let after: Vec<(u32, u32)> = [hs[0], hs[2], hs[3]].iter().map(|&h| unsafe { ((*h).site, (*h).index) }).collect();
        assert_eq!(before, after, "adopted headers are not rewritten");
        assert_eq!((new.object_count(), new.bytes()), (4, 40));
        let mut sites: Vec<u32> = new.snapshot().iter().map(|o| o.site).collect();
        sites.sort();
        assert_eq!(sites, vec![10, 12, 13, 99]);
        // The startup block took the freed slot; every block can be freed.
        assert_eq!(unsafe { (*own).index }, unsafe { (*hs[0]).index } + 1);
        assert!(!new.retag(Header::user(own) as usize, 5, &mine), "the last block is not trusted across adoption");
        for h in [hs[0], hs[2], hs[3], own] {
            unsafe { new.remove(h, &mut mine) }.unwrap();
        }
        assert_eq!((new.object_count(), new.bytes()), (0, 0));
        hs.into_iter().chain([own]).for_each(free_block);
    }

    /// Slots mapped from a file are read in place and, once full, move
    /// into memory of their own with their contents.
    #[test]
    fn mapped_slots_grow_into_owned_memory() {
        use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
        let words: Vec<u64> = (0..512u64).map(|i| i * 16).collect();
        // SAFETY: a memfd of our own, written with the words then a page.
        let fd = unsafe {
            let fd = OwnedFd::from_raw_fd(libc::memfd_create(c"slots".as_ptr(), 0));
            libc::ftruncate(fd.as_raw_fd(), 2 * 4096);
            assert_eq!(libc::pwrite(fd.as_raw_fd(), words.as_ptr().cast(), 4096, 4096), 4096);
            fd
        };
        let mut s = SlotStore::mapped(fd.as_fd(), 4096, 512).expect("mapped");
        drop(fd);
        assert!(s.mapped);
        assert_eq!(&s[..], &words.iter().map(|&w| w as usize).collect::<Vec<_>>()[..]);
        s[3] = 7;
        s.push(99);
        assert!(!s.mapped);
        assert_eq!((s.len(), s[3], s[2], s[512]), (513, 7, 32, 99));
    }

    #[test]
    fn concurrent_insert_remove_keeps_exact_counts() {
        stress(|_| LastSlot::EMPTY);
    }

    #[test]
    fn concurrent_threads_sharing_one_shard_keep_exact_counts() {
        stress(|_| LastSlot::in_shard(3));
    }

    fn stress(slot: fn(u32) -> LastSlot) {
        let r = std::sync::Arc::new(Registry::new());
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let r = r.clone();
                std::thread::spawn(move || {
                    let mut last = slot(t);
                    let mut kept = Vec::new();
                    for i in 0..20_000u32 {
                        let h = block(t + 1, 8);
                        unsafe { r.insert(h, &mut last) };
                        if i % 10 == 0 {
                            kept.push(h as usize);
                        } else {
                            unsafe { r.remove(h, &mut last) }.unwrap();
                            free_block(h);
                        }
                    }
                    kept
                })
            })
            .collect();
        let kept: Vec<usize> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert_eq!((r.object_count(), r.bytes()), (8_000, 64_000));
        let snap = r.snapshot();
        for t in 1..=4 {
            assert_eq!(snap.iter().filter(|o| o.site == t).count(), 2_000);
        }
        // Every index is still right: removing all in any order succeeds.
        let mut last = LastSlot::EMPTY;
        for h in kept.into_iter().rev() {
            unsafe { r.remove(h as *mut Header, &mut last) }.unwrap();
            free_block(h as *mut Header);
        }
        assert_eq!((r.object_count(), r.bytes()), (0, 0));
    }
}
