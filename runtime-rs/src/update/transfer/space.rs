//! The engine's view of the two processes' memory (`PointerSpace`): the
//! old heap objects (sorted, searched by address), the objects that moved,
//! and the old and new read-only data for string literals.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use lucc_transfer::{HeapObject, PointerSpace};

use crate::update::state::{ObjectEntry, OldSegment};

pub struct Space<'a> {
    /// Sorted by address.
    pub objects: &'a [ObjectEntry],
    /// Typed base of an object -> its new typed base.
    pub moved: HashMap<u64, u64>,
    /// Typed bases of objects rebuilt in their own block on a new layout.
    pub converted_in_place: HashSet<u64>,
    pub old_rodata: Vec<&'a OldSegment<'a>>,
    /// The new executable's read-only data: (addr, bytes).
    pub new_rodata: Vec<(u64, &'a [u8])>,
    literal_cache: RefCell<HashMap<u64, Option<u64>>>,
}

impl<'a> Space<'a> {
    pub fn new(objects: &'a [ObjectEntry], old_rodata: Vec<&'a OldSegment<'a>>, new_rodata: Vec<(u64, &'a [u8])>) -> Space<'a> {
        Space { objects, moved: HashMap::new(), converted_in_place: HashSet::new(), old_rodata, new_rodata, literal_cache: RefCell::new(HashMap::new()) }
    }

    /// The index of the object whose block contains `addr`.
    pub fn index_of(&self, addr: u64) -> Option<usize> {
        let i = self.objects.partition_point(|o| o.addr <= addr).checked_sub(1)?;
        let o = &self.objects[i];
        (addr < o.addr + o.size.max(1)).then_some(i)
    }

    pub fn typed(o: &ObjectEntry) -> HeapObject {
        HeapObject { base: o.addr + u64::from(o.offset), size: o.size.saturating_sub(u64::from(o.offset)), site: o.site }
    }

    fn old_literal(&self, addr: u64) -> Option<&'a [u8]> {
        let seg = self.old_rodata.iter().find(|s| addr >= s.addr && addr < s.addr + s.bytes.len() as u64)?;
        let rest = &seg.bytes[(addr - seg.addr) as usize..];
        let end = rest.iter().position(|&b| b == 0)?;
        Some(&rest[..=end])
    }
}

impl PointerSpace for Space<'_> {
    fn heap_object(&self, addr: u64) -> Option<HeapObject> {
        self.index_of(addr).map(|i| Self::typed(&self.objects[i]))
    }

    fn heap_new_base(&self, obj: &HeapObject) -> Option<u64> {
        self.moved.get(&obj.base).copied()
    }

    fn heap_converted_in_place(&self, obj: &HeapObject) -> bool {
        self.converted_in_place.contains(&obj.base)
    }

    fn in_old_rodata(&self, addr: u64) -> bool {
        self.old_rodata.iter().any(|s| addr >= s.addr && addr < s.addr + s.bytes.len() as u64)
    }

    /// A string literal by content: the same bytes (with their NUL) in the
    /// new binary's read-only data. The first occurrence is as good as any:
    /// literals are immutable.
    fn rodata_in_new(&self, addr: u64) -> Option<u64> {
        if let Some(hit) = self.literal_cache.borrow().get(&addr) {
            return *hit;
        }
        let found = self.old_literal(addr).and_then(|lit| {
            self.new_rodata.iter().find_map(|(base, bytes)| {
                bytes.windows(lit.len()).position(|w| w == lit).map(|p| base + p as u64)
            })
        });
        self.literal_cache.borrow_mut().insert(addr, found);
        found
    }
}
