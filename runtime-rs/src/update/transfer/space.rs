//! The engine's view of the two processes' memory (`PointerSpace`): the
//! old heap objects (sorted, found by address through `AddrIndex`), what
//! becomes of each, and the old and new read-only data for string literals.
//!
//! Every pointer and every untyped word of the old state asks "which
//! object is this in, and where does it go"; at millions of objects a
//! binary search (a cache miss per step) and a hash lookup per question
//! were most of the transfer, so both answers are array loads.

use std::sync::Mutex;
use std::collections::HashMap;

use lucc_transfer::{HeapFate, HeapObject, PointerSpace};

use crate::update::state::{ObjectEntry, OldSegment};

/// Heap objects start 16-byte aligned (the runtime's header keeps
/// malloc's alignment), so one bit per 16 bytes marks every start.
const GRANULE_SHIFT: u32 = 4;

/// Finds the object containing an address in O(1): a bitmap of object
/// starts over the heap's range (one bit per 16-byte granule) and, per
/// bitmap word, how many starts lie before it. The objects before and at
/// a granule are counted by one popcount, and since the objects are
/// sorted, that count minus one is the index of the only candidate.
struct AddrIndex {
    base: u64,
    len: u64,
    /// Per 64 granules: (starts bitmap, starts before it). Side by side,
    /// so a lookup misses the cache once here, not twice.
    words: Vec<(u64, u64)>,
}

impl AddrIndex {
    /// `None` when the objects are not strictly ascending, 16-byte aligned
    /// starts inside `[base, base + len)` (the caller then searches).
    fn build(objects: &[ObjectEntry], base: u64, len: u64) -> Option<AddrIndex> {
        if len == 0 {
            return None;
        }
        let granules = len.div_ceil(1 << GRANULE_SHIFT);
        let mut bits = vec![0u64; granules.div_ceil(64) as usize];
        let mut prev = None;
        for o in objects {
            let off = o.addr.checked_sub(base)?;
            if off >= len || off % (1 << GRANULE_SHIFT) != 0 || prev.is_some_and(|p| p >= o.addr) {
                return None;
            }
            prev = Some(o.addr);
            let g = off >> GRANULE_SHIFT;
            bits[(g >> 6) as usize] |= 1 << (g & 63);
        }
        let mut before = 0u64;
        let words = bits
            .into_iter()
            .map(|w| {
                let r = (w, before);
                before += u64::from(w.count_ones());
                r
            })
            .collect();
        Some(AddrIndex { base, len, words })
    }

    /// The index word `candidate(addr)` reads, if `addr` is in range.
    #[inline]
    fn word_of(&self, addr: u64) -> Option<&(u64, u64)> {
        let off = addr.wrapping_sub(self.base);
        (off < self.len).then(|| &self.words[(off >> (GRANULE_SHIFT + 6)) as usize])
    }

    /// The index of the last object starting at or below `addr`.
    #[inline]
    fn candidate(&self, addr: u64) -> Option<usize> {
        let off = addr.wrapping_sub(self.base);
        if off >= self.len {
            return None;
        }
        let g = off >> GRANULE_SHIFT;
        let (bits, before) = self.words[(g >> 6) as usize];
        let upto = u64::MAX >> (63 - (g & 63));
        let n = before as usize + (bits & upto).count_ones() as usize;
        n.checked_sub(1)
    }
}

/// `Space::fate` of an object that stays at its address unchanged.
const STAYS: u64 = 0;
/// `Space::fate` of an object rebuilt in its own block (no address is 1).
const IN_PLACE: u64 = 1;


pub struct Space<'a> {
    index: Option<AddrIndex>,
    /// The old heap's range: `(base, len)`.
    heap: (u64, u64),
    /// Objects converted or moved, by index, as decided.
    changed: Vec<usize>,
    /// Once sealed: one bit per heap granule, set where a changed object
    /// lies (its block, and one past its end). A value whose bit is clear
    /// keeps its value ([`PointerSpace::heap_settled`]): one load from a
    /// bitmap a 32nd of the heap's size, no object lookup.
    changed_bits: Option<Vec<u64>>,
    /// The state image's objects, sorted by address, read where they lie.
    objects: &'a [ObjectEntry],
    /// Per object: [`STAYS`], [`IN_PLACE`], or its new typed base. Zeroed
    /// memory the kernel maps on first touch: a heap of millions of
    /// objects of which few change writes few of its pages. (A copy of
    /// the objects with their fates, one cache line per lookup, cost tens
    /// of megabytes written in every pause; only lookups of values in
    /// changed objects, which the bitmap lets through, read both.)
    fates: Vec<u64>,
    /// Per object, one bit: moved into a block of a run that the
    /// conversion must still make a tracked object.
    fresh: Vec<u64>,
    pub old_rodata: Vec<&'a OldSegment<'a>>,
    /// The new executable's read-only data: (addr, bytes).
    pub new_rodata: Vec<(u64, &'a [u8])>,
    literal_cache: Mutex<HashMap<u64, Option<u64>>>,
}

impl<'a> Space<'a> {
    /// `heap`: the old heap's range `(base, len)`, which holds every object.
    pub fn new(
        objects: &'a [ObjectEntry],
        heap: (u64, u64),
        old_rodata: Vec<&'a OldSegment<'a>>,
        new_rodata: Vec<(u64, &'a [u8])>,
    ) -> Space<'a> {
        Space {
            index: AddrIndex::build(objects, heap.0, heap.1),
            heap,
            changed: Vec::new(),
            changed_bits: None,
            objects,
            fates: vec![STAYS; objects.len()],
            fresh: Vec::new(),
            old_rodata,
            new_rodata,
            literal_cache: Mutex::new(HashMap::new()),
        }
    }

    /// The index of the object whose block contains `addr`.
    #[inline]
    pub fn index_of(&self, addr: u64) -> Option<usize> {
        let i = match &self.index {
            Some(ix) => ix.candidate(addr)?,
            None => self.objects.partition_point(|o| o.addr <= addr).checked_sub(1)?,
        };
        let o = &self.objects[i];
        (addr < o.addr + o.size.max(1)).then_some(i)
    }

    fn slot_object(o: &ObjectEntry) -> HeapObject {
        HeapObject { base: o.addr + u64::from(o.offset), size: o.size.saturating_sub(u64::from(o.offset)), site: o.site }
    }

    pub fn typed(o: &ObjectEntry) -> HeapObject {
        HeapObject { base: o.addr + u64::from(o.offset), size: o.size.saturating_sub(u64::from(o.offset)), site: o.site }
    }

    /// Object `i` is rebuilt in its own block on its new layout.
    pub fn set_in_place(&mut self, i: usize) {
        debug_assert!(self.changed_bits.is_none(), "fates are decided before sealing");
        self.fates[i] = IN_PLACE;
        self.changed.push(i);
    }

    /// Object `i` is rebuilt elsewhere, its typed value at `new_base`.
    pub fn set_moved(&mut self, i: usize, new_base: u64) {
        debug_assert!(new_base > IN_PLACE);
        debug_assert!(self.changed_bits.is_none(), "fates are decided before sealing");
        self.fates[i] = new_base;
        self.changed.push(i);
    }

    /// [`Space::set_moved`] into a block not yet tracked (see `fresh`).
    pub fn set_moved_fresh(&mut self, i: usize, new_base: u64) {
        self.set_moved(i, new_base);
        if self.fresh.is_empty() {
            self.fresh = vec![0; self.objects.len().div_ceil(64)];
        }
        self.fresh[i / 64] |= 1 << (i % 64);
    }

    /// Whether object `i` moved into a block it must still track.
    pub fn is_fresh(&self, i: usize) -> bool {
        self.fresh.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Every fate is decided: from now on values outside changed objects
    /// are answered by the bitmap alone.
    pub fn seal(&mut self) {
        let (base, len) = self.heap;
        let granules = len.div_ceil(1 << GRANULE_SHIFT);
        let mut bits = vec![0u64; granules.div_ceil(64) as usize];
        for &i in &self.changed {
            let o = &self.objects[i];
            // Inclusive of one past the end: a legal pointer that belongs
            // to the object. Objects outside the range are never settled
            // by the bitmap anyway (out of range is not "settled").
            let (Some(from), Some(to)) = (o.addr.checked_sub(base), (o.addr + o.size).checked_sub(base)) else { continue };
            let to = to.min(len.saturating_sub(1));
            for g in (from >> GRANULE_SHIFT)..=(to >> GRANULE_SHIFT) {
                bits[(g >> 6) as usize] |= 1 << (g & 63);
            }
        }
        self.changed_bits = Some(bits);
    }

    pub fn fate(&self, i: usize) -> HeapFate {
        Self::fate_of(self.fates[i])
    }

    #[inline]
    fn fate_of(f: u64) -> HeapFate {
        match f {
            STAYS => HeapFate::Stays,
            IN_PLACE => HeapFate::ConvertedInPlace,
            to => HeapFate::Moved(to),
        }
    }

    fn old_literal(&self, addr: u64) -> Option<&'a [u8]> {
        let seg = self.old_rodata.iter().find(|s| addr >= s.addr && addr < s.addr + s.bytes.len() as u64)?;
        let rest = &seg.bytes[(addr - seg.addr) as usize..];
        let end = rest.iter().position(|&b| b == 0)?;
        Some(&rest[..=end])
    }
}

impl PointerSpace for Space<'_> {
    #[inline]
    fn heap_settled(&self, addr: u64) -> bool {
        let Some(bits) = &self.changed_bits else { return false };
        let off = addr.wrapping_sub(self.heap.0);
        if off >= self.heap.1 {
            return false;
        }
        let g = off >> GRANULE_SHIFT;
        bits[(g >> 6) as usize] & (1 << (g & 63)) == 0
    }

    #[inline]
    fn outside_heap(&self, addr: u64) -> bool {
        addr.wrapping_sub(self.heap.0) >= self.heap.1
    }

    fn heap_object(&self, addr: u64) -> Option<HeapObject> {
        self.index_of(addr).map(|i| Self::slot_object(&self.objects[i]))
    }

    #[inline]
    fn heap_lookup(&self, addr: u64) -> Option<(HeapObject, HeapFate)> {
        let i = self.index_of(addr)?;
        Some((Self::slot_object(&self.objects[i]), Self::fate_of(self.fates[i])))
    }

    fn prefetch(&self, addr: u64, near: bool) {
        let Some(ix) = &self.index else { return };
        let fetch = |target: *const u8| {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a prefetch never faults, and the address is ours anyway.
            unsafe {
                std::arch::x86_64::_mm_prefetch(target.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let _ = target;
        };
        if near {
            if let Some(i) = ix.candidate(addr).filter(|&i| i < self.objects.len()) {
                fetch((&self.objects[i] as *const ObjectEntry).cast());
                fetch((&self.fates[i] as *const u64).cast());
            }
        } else if let Some(w) = ix.word_of(addr) {
            fetch((w as *const (u64, u64)).cast());
        }
    }

    fn heap_new_base(&self, obj: &HeapObject) -> Option<u64> {
        match self.fate(self.index_of(obj.base)?) {
            HeapFate::Moved(to) => Some(to),
            _ => None,
        }
    }

    fn heap_converted_in_place(&self, obj: &HeapObject) -> bool {
        self.index_of(obj.base).is_some_and(|i| self.fate(i) == HeapFate::ConvertedInPlace)
    }

    fn in_old_rodata(&self, addr: u64) -> bool {
        self.old_rodata.iter().any(|s| addr >= s.addr && addr < s.addr + s.bytes.len() as u64)
    }

    /// A string literal by content: the same bytes (with their NUL) in the
    /// new binary's read-only data. The first occurrence is as good as any:
    /// literals are immutable.
    fn rodata_in_new(&self, addr: u64) -> Option<u64> {
        if let Some(hit) = self.literal_cache.lock().unwrap_or_else(|p| p.into_inner()).get(&addr) {
            return *hit;
        }
        let found = self.old_literal(addr).and_then(|lit| {
            self.new_rodata.iter().find_map(|(base, bytes)| {
                bytes.windows(lit.len()).position(|w| w == lit).map(|p| base + p as u64)
            })
        });
        self.literal_cache.lock().unwrap_or_else(|p| p.into_inner()).insert(addr, found);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(addr: u64, size: u64) -> ObjectEntry {
        ObjectEntry { addr, size, site: 1, offset: 0 }
    }

    /// The index answers exactly what a binary search answers, for every
    /// address around every object (gaps, zero-sized objects, objects
    /// spanning many bitmap words, both ends of the range).
    #[test]
    fn index_agrees_with_binary_search() {
        let base = 0x5f00_0000_0000u64;
        let objs = vec![
            obj(base, 16),
            obj(base + 32, 0),
            obj(base + 48, 5000),
            obj(base + 48 + 5008, 24),
            obj(base + 8192, 48),
            obj(base + 64 * 16 * 9 + 16 * 63, 16),
            obj(base + 20000, 100),
        ];
        let len = 32768;
        let with = Space::new(&objs, (base, len), vec![], vec![]);
        assert!(with.index.is_some());
        let mut without = Space::new(&objs, (base, len), vec![], vec![]);
        without.index = None;
        for a in (base.saturating_sub(64)..base + len + 64).step_by(8) {
            assert_eq!(with.index_of(a), without.index_of(a), "addr {:#x}", a - base);
        }
        assert_eq!(with.index_of(base + 48 + 4999), Some(2));
        assert_eq!(with.index_of(base + 48 + 5000), None);
        assert_eq!(with.index_of(base + 32), Some(1), "a zero-sized object owns its address");
    }

    #[test]
    fn unsorted_or_misaligned_objects_fall_back_to_search() {
        let base = 0x5f00_0000_0000u64;
        let unsorted = vec![obj(base + 64, 8), obj(base, 8)];
        assert!(Space::new(&unsorted, (base, 4096), vec![], vec![]).index.is_none());
        let misaligned = vec![obj(base + 8, 8)];
        assert!(Space::new(&misaligned, (base, 4096), vec![], vec![]).index.is_none());
        let outside = vec![obj(base + 4096, 8)];
        let s = Space::new(&outside, (base, 4096), vec![], vec![]);
        assert!(s.index.is_none());
        assert_eq!(s.index_of(base + 4100), Some(0));
    }

    /// After sealing, a value is settled exactly when it lies in the heap
    /// outside every changed object's granules (one past the end included).
    #[test]
    fn settled_values_after_sealing() {
        let base = 0x5f00_0000_0000u64;
        let objs = vec![obj(base, 16), obj(base + 16, 16), obj(base + 64, 32), obj(base + 128, 32)];
        let mut s = Space::new(&objs, (base, 4096), vec![], vec![]);
        s.set_moved(1, base + 2048);
        s.set_in_place(3);
        assert!(!s.heap_settled(base + 8), "unsure before the fates are sealed");
        s.seal();
        assert!(s.heap_settled(base + 8), "an object that stays");
        assert!(!s.heap_settled(base + 16), "a moved object");
        assert!(!s.heap_settled(base + 31));
        assert!(!s.heap_settled(base + 32), "one past a moved object's end");
        assert!(s.heap_settled(base + 48), "no object there");
        assert!(s.heap_settled(base + 64 + 31));
        assert!(!s.heap_settled(base + 128 + 8), "converted in place");
        assert!(!s.heap_settled(base + 4096), "outside the heap is never settled by the bitmap");
        assert!(s.outside_heap(base + 4096) && s.outside_heap(base - 1) && !s.outside_heap(base));
    }

    #[test]
    fn fates() {
        let base = 0x5f00_0000_0000u64;
        let objs = vec![obj(base, 16), obj(base + 16, 16), obj(base + 32, 16)];
        let mut s = Space::new(&objs, (base, 4096), vec![], vec![]);
        s.set_in_place(1);
        s.set_moved(2, base + 1024);
        assert_eq!(s.heap_lookup(base + 8).map(|x| x.1), Some(HeapFate::Stays));
        assert_eq!(s.heap_lookup(base + 24).map(|x| x.1), Some(HeapFate::ConvertedInPlace));
        assert_eq!(s.heap_lookup(base + 40).map(|x| x.1), Some(HeapFate::Moved(base + 1024)));
        assert_eq!(s.heap_new_base(&Space::typed(&objs[2])), Some(base + 1024));
        assert!(s.heap_converted_in_place(&Space::typed(&objs[1])));
    }
}
