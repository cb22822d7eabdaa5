//! The check of a transferred state against the new version's static
//! invariants (docs/invariants.md), in the new process after the transfer
//! and before it reports ready: a violation fails the update, so the old
//! process resumes.
//!
//! It runs inside the update pause, and a heap holds millions of blocks,
//! so the work per block is a few loads:
//! - the sidecar's invariants are compiled, before the walk, into per-type
//!   plans (the checked leaves of a type, nested structs inlined, arrays
//!   kept as loops over their element's plan), referred to by index; a
//!   block whose site's type has no invariant anywhere inside it is
//!   skipped without being walked;
//! - the blocks are taken in address order and found by address through a
//!   bitmap of their starts ([`Heap`]), not a sort and a binary search;
//! - a large heap is walked by two threads, their outcomes merged in
//!   address order.
//!
//! Blocks are checked in address order, so the violations shown are the
//! lowest addresses' whatever the registry's order.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};

use lucc_abi::sidecar::{BaseEncoding, Sidecar, TypeId, TypeKind};
use lucc_invariants::{Invariant, Targets, Verdict};

use crate::header::Header;

/// Violations named in the failure message; the rest are counted.
const SHOWN: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `global server`, `struct conn at 0x...`.
    pub object: String,
    /// `.flags`, `.db[2].encoding`; empty for a scalar variable itself.
    pub path: String,
    pub value: String,
    pub invariant: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{} = {}, but the invariant is: {}", self.object, self.path, self.value, self.invariant)
    }
}

#[derive(Debug, Default)]
pub struct Outcome {
    /// Scalars and pointers compared with an invariant.
    pub checked: u64,
    /// The first [`SHOWN`] violations.
    pub violations: Vec<Violation>,
    pub violation_count: u64,
}

impl Outcome {
    /// The failure message: the first few violations and how many in all.
    pub fn message(&self) -> Option<String> {
        if self.violation_count == 0 {
            return None;
        }
        let shown: Vec<String> = self.violations.iter().map(|v| v.to_string()).collect();
        let more = self.violation_count - self.violations.len() as u64;
        let tail = if more > 0 { format!("; and {more} more") } else { String::new() };
        Some(format!(
            "{} invariant violation{} in the transferred state ({} values checked): {}{tail}",
            self.violation_count,
            if self.violation_count == 1 { "" } else { "s" },
            self.checked,
            shown.join("; ")
        ))
    }
}

/// Hashes a site or type id with one multiplication. Site ids are hashes
/// already and type ids small indices, so SipHash's resistance to chosen
/// keys buys nothing here, and it was a good part of the check's time.
#[derive(Default)]
struct IdHasher(u64);

const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(FIBONACCI);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(FIBONACCI);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

/// A pointer invariant's targets as addresses of this process.
struct Allowed {
    invariant: String,
    /// Sorted.
    functions: Vec<u64>,
    /// `[start, end]`: one past the end is a valid C pointer too.
    globals: Vec<(u64, u64)>,
    string_literals: bool,
    /// Per site slot: whether a pointer into a block of that site passes.
    sites: Vec<bool>,
}

enum Leaf {
    Value { width: u64, signed: bool, invariant: usize },
    Pointer { allowed: usize },
}

impl Leaf {
    fn width(&self) -> u64 {
        match *self {
            Leaf::Value { width, .. } => width,
            Leaf::Pointer { .. } => 8,
        }
    }
}

enum Item {
    Leaf { offset: u64, path: String, leaf: Leaf },
    /// `element`: the index of the element type's plan (never empty).
    Array { offset: u64, path: String, element: usize, stride: u64, count: u64 },
}

/// An allocation site the sidecar knows.
struct SiteInfo {
    id: u32,
    ty: Option<TypeId>,
    /// What its objects need.
    check: SiteCheck,
}

#[derive(Clone, Copy)]
enum SiteCheck {
    Skip,
    /// Walk each element of the block: (plan, size of the site's type).
    Walk(usize, u64),
}

/// A live heap object, from the runtime's header in front of it.
#[derive(Clone, Copy)]
struct Block {
    addr: u64,
    size: u64,
    site: u32,
    /// Where the typed object starts inside the block (a wrapper's header).
    offset: u64,
}

impl Block {
    /// # Safety
    /// A live block of the runtime starts at `addr` (so its header is in
    /// front of it).
    #[inline]
    unsafe fn at(addr: u64) -> Block {
        let h = &*Header::of_user(addr as *mut u8);
        Block { addr, size: h.size() as u64, site: h.site, offset: u64::from(h.offset()) }
    }
}

/// Where live blocks start. The runtime's header in front of each says
/// what it is.
trait Starts {
    fn for_each(&self, f: impl FnMut(u64));
}

/// This process's registry: its slots hold the headers' addresses, so
/// listing the starts reads no header.
struct LiveHeap;

impl Starts for LiveHeap {
    fn for_each(&self, mut f: impl FnMut(u64)) {
        crate::registry::GLOBAL.for_each_shard(|_, img| {
            for &v in img.slots.iter().filter(|&&v| v & 1 == 0) {
                f(Header::user(v as *mut Header) as u64);
            }
        });
    }
}

impl Starts for [u64] {
    fn for_each(&self, mut f: impl FnMut(u64)) {
        self.iter().for_each(|&a| f(a));
    }
}

/// Where a checker finds the live blocks.
enum Source {
    /// This process's registry.
    Live,
    /// Given starts (tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Listed(Vec<u64>),
}

/// The live block of this process whose user pointer is `p`, answered by
/// the registry alone (its header names its slot): most pointers point at
/// the start of a block, and checking a few of them need not index
/// millions.
fn live_block_starting_at(p: u64) -> Option<Block> {
    if !p.is_multiple_of(16) || !crate::arena::owns(p as usize) {
        return None;
    }
    let hdr = Header::of_user(p as *mut u8);
    // SAFETY: inside the arena's range, 16 bytes below a 16-aligned
    // address past its start: mapped memory; the registry decides.
    if !unsafe { crate::registry::GLOBAL.tracks(hdr) } {
        return None;
    }
    // SAFETY: a live block starts at `p`.
    Some(unsafe { Block::at(p) })
}

/// Heap blocks start 16-byte aligned (the runtime's header keeps malloc's
/// alignment), so one bit per 16 bytes marks every start.
const GRANULE_SHIFT: u32 = 4;

/// Bitmap words (of 64 granules, 1 KiB) the heap's index may take per
/// block before a sorted list is the cheaper one: a heap of few large
/// blocks, or blocks in distant ranges.
const WORDS_PER_BLOCK: u64 = 4;
const MIN_WORDS: u64 = 1 << 16;

/// The live blocks' starts in address order, and the last start at or
/// below an address in O(1).
///
/// The registry lists blocks in the order of its slots (which reuse freed
/// ones), not by address; at millions of blocks a comparison sort, then a
/// binary search per pointer (a cache miss per step) were most of the
/// check. A bitmap of starts over the blocks' range (one bit per granule,
/// after the transfer's `AddrIndex` in `transfer/space.rs`) is built in
/// two passes over the registry's slots, read in address order, and
/// answers a lookup from one word and the start it keeps of the last block
/// before that word. Headers are read where the blocks start, in address
/// order: one pass through the heap, next to the objects the walk reads.
enum Heap {
    Bitmap {
        base: u64,
        /// Per 64 granules: (starts, the last start below them or 0), side
        /// by side so that a lookup misses the cache once.
        words: Vec<(u64, u64)>,
        last: u64,
        count: usize,
    },
    /// Not 16-byte aligned, or too sparse for a bitmap.
    Sorted(Vec<u64>),
}

impl Heap {
    fn build(src: &(impl Starts + ?Sized)) -> Heap {
        let (mut lo, mut hi, mut count, mut aligned) = (u64::MAX, 0u64, 0u64, true);
        src.for_each(|a| {
            lo = lo.min(a);
            hi = hi.max(a);
            count += 1;
            aligned &= a % (1 << GRANULE_SHIFT) == 0;
        });
        if count == 0 {
            return Heap::Sorted(Vec::new());
        }
        let words = ((hi - lo) >> (GRANULE_SHIFT + 6)) + 1;
        if aligned && words <= (count * WORDS_PER_BLOCK).max(MIN_WORDS) {
            if let Some(heap) = Self::bitmap(src, lo, hi, words as usize) {
                return heap;
            }
        }
        let mut starts = Vec::with_capacity(count as usize);
        src.for_each(|a| starts.push(a));
        starts.sort_unstable();
        Heap::Sorted(starts)
    }

    /// `None` if a start is listed twice, or outside `[lo, hi]` or off a
    /// granule (the second listing differs from the first).
    fn bitmap(src: &(impl Starts + ?Sized), lo: u64, hi: u64, words: usize) -> Option<Heap> {
        let mut bits = vec![0u64; words];
        let mut fits = true;
        src.for_each(|a| {
            if a < lo || a > hi || a % (1 << GRANULE_SHIFT) != 0 {
                fits = false;
                return;
            }
            let g = (a - lo) >> GRANULE_SHIFT;
            let (w, bit) = ((g >> 6) as usize, 1u64 << (g & 63));
            fits &= bits[w] & bit == 0;
            bits[w] |= bit;
        });
        if !fits {
            return None;
        }
        let mut last = 0u64;
        let mut count = 0usize;
        let words = bits
            .into_iter()
            .enumerate()
            .map(|(w, b)| {
                let r = (b, last);
                if b != 0 {
                    last = lo + ((((w as u64) << 6) | u64::from(63 - b.leading_zeros())) << GRANULE_SHIFT);
                    count += b.count_ones() as usize;
                }
                r
            })
            .collect();
        Some(Heap::Bitmap { base: lo, words, last, count })
    }

    /// The last start at or below `p`.
    #[inline]
    fn start_at_or_below(&self, p: u64) -> Option<u64> {
        match self {
            Heap::Bitmap { base, words, last, .. } => {
                let g = p.checked_sub(*base)? >> GRANULE_SHIFT;
                let Some(&(bits, prev)) = words.get((g >> 6) as usize) else { return Some(*last) };
                let upto = bits & (u64::MAX >> (63 - (g & 63)));
                if upto != 0 {
                    Some(base + ((g & !63 | u64::from(63 - upto.leading_zeros())) << GRANULE_SHIFT))
                } else {
                    (prev != 0).then_some(prev)
                }
            }
            Heap::Sorted(starts) => starts.partition_point(|&a| a <= p).checked_sub(1).map(|i| starts[i]),
        }
    }

    /// The starts cut into `n` runs of about as many blocks, in order.
    fn parts(&self, n: usize) -> Vec<Part> {
        let (len, count) = match self {
            Heap::Bitmap { words, count, .. } => (words.len(), *count),
            Heap::Sorted(starts) => (starts.len(), starts.len()),
        };
        let mut cuts = vec![0];
        let mut seen = 0usize;
        for i in 0..len {
            if cuts.len() == n {
                break;
            }
            seen += match self {
                Heap::Bitmap { words, .. } => words[i].0.count_ones() as usize,
                Heap::Sorted(_) => 1,
            };
            if seen * n >= count * cuts.len() {
                cuts.push(i + 1);
            }
        }
        cuts.push(len);
        cuts.windows(2).map(|w| Part(w[0], w[1])).filter(|p| p.0 < p.1).collect()
    }

    /// Calls `f` on every start of `part`, in address order.
    #[inline]
    fn for_each_in(&self, part: Part, mut f: impl FnMut(u64)) {
        match self {
            Heap::Bitmap { base, words, .. } => {
                for (w, &(mut bits, _)) in words[part.0..part.1].iter().enumerate() {
                    let first = ((part.0 + w) as u64) << 6;
                    while bits != 0 {
                        f(base + ((first | u64::from(bits.trailing_zeros())) << GRANULE_SHIFT));
                        bits &= bits - 1;
                    }
                }
            }
            Heap::Sorted(starts) => starts[part.0..part.1].iter().for_each(|&a| f(a)),
        }
    }

    fn count(&self) -> usize {
        match self {
            Heap::Bitmap { count, .. } => *count,
            Heap::Sorted(starts) => starts.len(),
        }
    }
}

/// A run of the heap's starts: bitmap words, or places in the sorted list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Part(usize, usize);

/// Blocks above which the heap is walked by two threads.
const PARALLEL_MIN: usize = 1 << 16;
/// Runs of the heap per thread.
const PARTS_PER_THREAD: usize = 16;

fn site_name(sc: &Sidecar) -> impl Fn(u32) -> String + '_ {
    move |id| match sc.site(id) {
        Some(s) => format!("heap blocks of {} in {} ({}:{})", s.callee, s.function, s.file, s.line),
        None => format!("heap blocks of site {id:#x}"),
    }
}

/// The sites whose blocks a pointer stored from `sites` may hold. A site
/// that calls a wrapper (`dictCreate()` in main) hands out a block that the
/// runtime attributes to the wrapper's own allocation (`_dictAlloc` in
/// dictCreate) when the wrapper allocated more after it and the retag
/// could not tell; so every site inside the wrapper chain counts, to the
/// allocator.
fn wrapped_sites(sc: &Sidecar, sites: &[u32]) -> HashSet<u32> {
    let mut out: HashSet<u32> = sites.iter().copied().collect();
    let mut functions: HashSet<&str> = HashSet::new();
    let mut todo: Vec<&str> = Vec::new();
    for s in sites.iter().filter_map(|&id| sc.site(id)) {
        todo.push(&s.callee);
        todo.extend(s.via.iter().map(String::as_str));
    }
    while let Some(f) = todo.pop() {
        if !functions.insert(f) {
            continue;
        }
        for s in sc.sites.iter().filter(|s| s.function == f) {
            out.insert(s.id);
            todo.push(&s.callee);
        }
    }
    out
}

pub struct Checker<'s> {
    sc: &'s Sidecar,
    bias: u64,
    /// Read-only data of this process (string literals).
    rodata: Vec<(u64, u64)>,
    /// Where the blocks are listed, and their index, built on first need:
    /// a check with little to walk and only pointers to the starts of
    /// blocks (answered by the registry) never builds it.
    source: Source,
    heap: std::sync::OnceLock<Heap>,
    /// What the transfer knows of the heap's sites, when it does.
    census: Option<Census>,
    /// Site id -> its slot in `sites`; a site the sidecar does not know
    /// has none.
    slots: IdMap<u32, usize>,
    sites: Vec<SiteInfo>,
    /// Struct type -> its fields' invariants (offset -> invariant).
    fields: HashMap<TypeId, Vec<(u64, &'s Invariant)>>,
    scalars: Vec<&'s Invariant>,
    allowed: Vec<Allowed>,
    /// Compiled plans: a type's items; empty: nothing to check inside it.
    plans: Vec<Vec<Item>>,
    plan_of: IdMap<TypeId, usize>,
    out: Outcome,
}

impl<'s> Checker<'s> {
    /// `bias`: this process's load bias; `rodata`: its read-only data
    /// segments (start, length); `blocks`: where its live heap blocks
    /// start (each with the runtime's header in front).
    fn new(sc: &'s Sidecar, bias: u64, rodata: Vec<(u64, u64)>, source: Source) -> Checker<'s> {
        // Every site the sidecar finds by its id, resolved once; their
        // objects' plans are compiled before the walk (which may be shared
        // by threads).
        let mut slots = IdMap::default();
        let mut sites = Vec::new();
        for id in sc.sites.iter().map(|s| s.id) {
            if let (Some(site), false) = (sc.site(id), slots.contains_key(&id)) {
                slots.insert(id, sites.len());
                sites.push(SiteInfo { id, ty: site.ty, check: SiteCheck::Skip });
            }
        }
        let mut by_record: HashMap<&str, Vec<(u64, &Invariant)>> = HashMap::new();
        if let Some(inv) = &sc.invariants {
            for f in &inv.fields {
                if let Verdict::Holds { invariant } = &f.verdict {
                    by_record.entry(f.record.as_str()).or_default().push((f.offset, invariant));
                }
            }
        }
        // The report names a record `struct T`, or by a typedef when the
        // struct has no tag: every struct type answers to both.
        let mut fields: HashMap<TypeId, Vec<(u64, &Invariant)>> = HashMap::new();
        if !by_record.is_empty() {
            for t in &sc.types {
                let (id, name) = match &t.kind {
                    TypeKind::Struct { declaration: false, .. } => (t.id, t.name.as_str()),
                    TypeKind::Typedef { target: Some(target) } => (*target, t.name.as_str()),
                    _ => continue,
                };
                if !matches!(sc.ty(id).map(|t| &t.kind), Some(TypeKind::Struct { declaration: false, .. })) {
                    continue;
                }
                if let Some(list) = by_record.get(name) {
                    let e = fields.entry(id).or_default();
                    for x in list {
                        if !e.iter().any(|(o, _)| *o == x.0) {
                            e.push(*x);
                        }
                    }
                }
            }
        }
        Checker {
            sc,
            bias,
            rodata,
            source,
            heap: std::sync::OnceLock::new(),
            census: None,
            slots,
            sites,
            fields,
            scalars: Vec::new(),
            allowed: Vec::new(),
            plans: Vec::new(),
            plan_of: IdMap::default(),
            out: Outcome::default(),
        }
    }

    fn compile_allowed(&mut self, t: &Targets, inv: &Invariant) -> usize {
        let sc = self.sc;
        let var_range = |v: &lucc_abi::sidecar::Variable| (v.address + self.bias, v.address + self.bias + v.size);
        let mut functions: Vec<u64> =
            sc.functions.iter().filter(|f| t.functions.contains(&f.name)).map(|f| f.address + self.bias).collect();
        functions.sort_unstable();
        // The pass names a static local `function.name`.
        let globals = sc
            .globals
            .iter()
            .filter(|g| t.globals.contains(&g.name))
            .chain(sc.static_locals.iter().filter(|v| t.globals.iter().any(|n| *n == format!("{}.{}", v.function, v.name))))
            .map(var_range)
            .collect();
        let listed = wrapped_sites(sc, &t.sites);
        let listed_types: IdSet<TypeId> = t.sites.iter().filter_map(|&id| sc.site(id)?.ty).collect();
        // The transfer attributes an object whose site the new version
        // lacks to one of its sites of the same type: the type decides.
        let sites = self
            .sites
            .iter()
            .map(|s| listed.contains(&s.id) || s.ty.is_some_and(|t| listed_types.contains(&t)))
            .collect();
        self.allowed.push(Allowed {
            invariant: inv.describe(&site_name(sc)),
            functions,
            globals,
            string_literals: t.string_literals,
            sites,
        });
        self.allowed.len() - 1
    }

    /// The leaf for a scalar or pointer of type `ty` under `inv`.
    fn leaf(&mut self, ty: TypeId, inv: &'s Invariant) -> Option<Leaf> {
        let t = self.sc.resolve(ty)?;
        let signed = match &t.kind {
            TypeKind::Base { encoding } => matches!(encoding, BaseEncoding::Signed | BaseEncoding::SignedChar),
            TypeKind::Enum { underlying, enumerators } => match underlying.and_then(|u| self.sc.resolve(u)) {
                Some(u) => matches!(u.kind, TypeKind::Base { encoding: BaseEncoding::Signed | BaseEncoding::SignedChar }),
                None => enumerators.iter().any(|e| e.value < 0),
            },
            TypeKind::Pointer { .. } => {
                let Invariant::PointsTo(targets) = inv else { return None };
                if t.size != 8 {
                    return None;
                }
                return Some(Leaf::Pointer { allowed: self.compile_allowed(targets, inv) });
            }
            _ => return None,
        };
        if !matches!(t.size, 1 | 2 | 4 | 8) || matches!(inv, Invariant::PointsTo(_)) {
            return None;
        }
        self.scalars.push(inv);
        Some(Leaf::Value { width: t.size, signed, invariant: self.scalars.len() - 1 })
    }

    /// Compiles (once) what to check inside a value of type `ty`: the
    /// plan's index, or `None` when there is nothing to check.
    fn plan(&mut self, ty: TypeId) -> Option<usize> {
        if let Some(&p) = self.plan_of.get(&ty) {
            return (!self.plans[p].is_empty()).then_some(p);
        }
        // Empty while compiling: a struct containing itself by value
        // cannot exist; this guards against a malformed sidecar.
        let p = self.plans.len();
        self.plans.push(Vec::new());
        self.plan_of.insert(ty, p);
        let mut items = Vec::new();
        self.items(ty, 0, String::new(), &mut items, 0);
        let any = !items.is_empty();
        self.plans[p] = items;
        any.then_some(p)
    }

    fn items(&mut self, ty: TypeId, base: u64, path: String, out: &mut Vec<Item>, depth: u32) {
        if depth > 32 {
            return;
        }
        let sc = self.sc;
        let Some(t) = sc.resolve(ty) else { return };
        match &t.kind {
            TypeKind::Struct { fields, declaration: false } => {
                let invs = self.fields.get(&t.id).cloned().unwrap_or_default();
                for f in fields {
                    let fpath = format!("{path}.{}", if f.name.is_empty() { "<anonymous>" } else { &f.name });
                    if f.bit_size.is_some() {
                        continue;
                    }
                    if let Some((_, inv)) = invs.iter().find(|(o, _)| *o == f.offset) {
                        if let Some(leaf) = self.leaf(f.ty, inv) {
                            out.push(Item::Leaf { offset: base + f.offset, path: fpath, leaf });
                        }
                        continue;
                    }
                    self.items(f.ty, base + f.offset, fpath, out, depth + 1);
                }
            }
            TypeKind::Array { element, count: Some(count) } => {
                let Some(stride) = sc.resolve(*element).map(|e| e.size).filter(|&s| s > 0) else { return };
                if *count == 0 {
                    return;
                }
                if let Some(element) = self.plan(*element) {
                    out.push(Item::Array { offset: base, path, element, stride, count: *count });
                }
            }
            _ => {}
        }
    }

    #[inline]
    fn read(addr: u64, width: u64) -> u64 {
        let mut b = [0u8; 8];
        // SAFETY: callers pass addresses inside live variables and heap
        // objects of this process, bounds checked against their extent.
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, b.as_mut_ptr(), width as usize) };
        u64::from_le_bytes(b)
    }

    /// The value, shown, if it breaks the invariant.
    #[inline]
    fn check_value(&self, addr: u64, width: u64, signed: bool, inv: usize) -> Option<String> {
        let raw = Self::read(addr, width);
        let shift = 64 - 8 * width;
        let sext = ((raw << shift) as i64) >> shift;
        let inv = self.scalars[inv];
        // The pass records constants sign-extended from the stored width
        // whatever the C type (200 stored in an unsigned char is -56), so
        // an unsigned location also passes under that reading.
        // Zero is what the transfer gives a field the old version lacked
        // (and what a new object holds before the program sets it): the
        // state is the old version's, not one the new version's stores made.
        let ok = raw == 0 || if signed { inv.admits(sext) } else { inv.admits(raw as i64) || inv.admits(sext) };
        (!ok).then(|| if signed { sext.to_string() } else { raw.to_string() })
    }

    /// The index of the live blocks, built on first use.
    fn heap(&self) -> &Heap {
        self.heap.get_or_init(|| match &self.source {
            Source::Live => Heap::build(&LiveHeap),
            Source::Listed(starts) => Heap::build(starts.as_slice()),
        })
    }

    /// The live heap block that holds `p` (one past its end too).
    #[inline]
    fn block_at(&self, p: u64) -> Option<Block> {
        if matches!(self.source, Source::Live) && self.heap.get().is_none() {
            if let Some(b) = live_block_starting_at(p) {
                return Some(b);
            }
        }
        let start = self.heap().start_at_or_below(p)?;
        // SAFETY: the registry listed a live block starting there, and the
        // program is stopped at its update point: nothing frees it (the
        // walk reads the objects themselves on the same grounds).
        let b = unsafe { Block::at(start) };
        (p <= b.addr + b.size).then_some(b)
    }

    fn pointer_ok(&self, a: &Allowed, p: u64) -> bool {
        if p == 0 {
            // As for scalars: an added field is NULL after the transfer.
            return true;
        }
        if a.functions.binary_search(&p).is_ok() || a.globals.iter().any(|&(s, e)| p >= s && p <= e) {
            return true;
        }
        if a.string_literals && self.rodata.iter().any(|&(s, l)| p >= s && p < s + l) {
            return true;
        }
        // A block of a site this version does not know (not re-attributed
        // by the transfer) cannot be judged by its invariants.
        self.block_at(p).is_some_and(|b| self.slots.get(&b.site).is_none_or(|&s| a.sites[s]))
    }

    /// The pointer, shown with what it points into, if it breaks the invariant.
    fn check_pointer(&self, addr: u64, allowed: usize) -> Option<String> {
        let p = Self::read(addr, 8);
        if self.pointer_ok(&self.allowed[allowed], p) {
            return None;
        }
        Some(if p == 0 {
            "NULL".to_string()
        } else if let Some(b) = self.block_at(p) {
            format!("{p:#x} (into a heap block of {})", site_name(self.sc)(b.site).trim_start_matches("heap blocks of "))
        } else if self.rodata.iter().any(|&(s, l)| p >= s && p < s + l) {
            format!("{p:#x} (read-only data)")
        } else {
            format!("{p:#x} (no live object, variable or function there)")
        })
    }

    fn describe_leaf(&self, leaf: &Leaf) -> String {
        match *leaf {
            Leaf::Value { invariant, .. } => self.scalars[invariant].describe(&site_name(self.sc)),
            Leaf::Pointer { allowed } => self.allowed[allowed].invariant.clone(),
        }
    }

    /// Checks one leaf at `addr`; names are built only for a violation.
    #[inline]
    fn check_leaf(&self, leaf: &Leaf, addr: u64, object: &dyn Fn() -> String, path: &dyn Fn() -> String, out: &mut Outcome) {
        out.checked += 1;
        let bad = match *leaf {
            Leaf::Value { width, signed, invariant } => self.check_value(addr, width, signed, invariant),
            Leaf::Pointer { allowed } => self.check_pointer(addr, allowed),
        };
        if let Some(value) = bad {
            out.violation_count += 1;
            if out.violations.len() < SHOWN {
                let invariant = self.describe_leaf(leaf);
                out.violations.push(Violation { object: object(), path: path(), value, invariant });
            }
        }
    }

    /// Checks a value of plan `plan` at `addr`, `extent` bytes of it readable.
    fn walk(&self, plan: usize, addr: u64, extent: u64, prefix: &dyn Fn() -> String, object: &dyn Fn() -> String, out: &mut Outcome) {
        for item in &self.plans[plan] {
            match item {
                Item::Leaf { offset, path, leaf } => {
                    if offset + leaf.width() <= extent {
                        self.check_leaf(leaf, addr + offset, object, &|| format!("{}{path}", prefix()), out);
                    }
                }
                Item::Array { offset, path, element, stride, count } => {
                    for i in 0..*count {
                        let at = offset + i * stride;
                        if at >= extent {
                            break;
                        }
                        self.walk(*element, addr + at, extent - at, &|| format!("{}{path}[{i}]", prefix()), object, out);
                    }
                }
            }
        }
    }

    /// Globals and static locals: a scalar one against its own invariant,
    /// a struct or array one walked.
    pub fn check_variables(&mut self) {
        let sc = self.sc;
        let mut own: HashMap<(&str, &str, &str), &Invariant> = HashMap::new();
        if let Some(inv) = &sc.invariants {
            for v in &inv.variables {
                if let Verdict::Holds { invariant } = &v.verdict {
                    own.insert((v.name.as_str(), v.function.as_str(), v.unit.as_str()), invariant);
                }
            }
        }
        let mut out = std::mem::take(&mut self.out);
        for v in sc.globals.iter().chain(&sc.static_locals) {
            let Some(ty) = v.ty else { continue };
            let addr = v.address + self.bias;
            let name = if v.function.is_empty() { v.name.clone() } else { format!("{}.{}", v.function, v.name) };
            let object = move || format!("variable {name}");
            if let Some(inv) = own.get(&(v.name.as_str(), v.function.as_str(), v.unit.as_str())) {
                let leaf = self.leaf(ty, inv);
                if let Some(leaf) = leaf.filter(|l| l.width() <= v.size) {
                    self.check_leaf(&leaf, addr, &object, &String::new, &mut out);
                }
                continue;
            }
            if let Some(plan) = self.plan(ty) {
                self.walk(plan, addr, v.size, &String::new, &object, &mut out);
            }
        }
        self.out = out;
    }

    /// What the objects of a site of type `ty` need: a known type with
    /// invariants inside it is walked.
    fn site_check(&mut self, ty: Option<TypeId>) -> SiteCheck {
        let Some(ty) = ty else { return SiteCheck::Skip };
        let Some(size) = self.sc.resolve(ty).map(|t| t.size).filter(|&s| s > 0) else { return SiteCheck::Skip };
        match self.plan(ty) {
            Some(plan) => SiteCheck::Walk(plan, size),
            None => SiteCheck::Skip,
        }
    }

    /// Every live heap object of a typed site whose type has invariants;
    /// a block larger than its type is an array of it.
    pub fn check_objects(&mut self) {
        let Some(walk_all) = self.plan_sites() else {
            // No header read, no index built.
            return;
        };
        if !walk_all {
            // Only sites the transfer listed every object of: those.
            let mut few = self.census.as_ref().map(|c| c.few.clone()).unwrap_or_default();
            few.sort_unstable();
            few.dedup();
            let mut out = std::mem::take(&mut self.out);
            for start in few {
                self.check_block(start, &mut out);
            }
            self.out = out;
            return;
        }
        let threads = if self.heap().count() >= PARALLEL_MIN { 2 } else { 1 };
        self.check_objects_in(threads);
    }

    /// Decides what each site's objects need: `None` when no site a live
    /// object can carry needs anything, `Some(true)` when the heap must be
    /// walked, `Some(false)` when the census's short list will do.
    fn plan_sites(&mut self) -> Option<bool> {
        let (mut walk, mut walk_all) = (false, false);
        for s in 0..self.sites.len() {
            let check = self.site_check(self.sites[s].ty);
            self.sites[s].check = check;
            if !matches!(check, SiteCheck::Walk(..)) {
                continue;
            }
            let id = self.sites[s].id;
            // (listed one by one, among the sites with many objects)
            let (listed, many) = match &self.census {
                None => (false, true),
                Some(c) => (c.few_sites.binary_search(&id).is_ok(), c.many.binary_search(&id).is_ok()),
            };
            walk |= listed || many;
            walk_all |= many;
        }
        walk.then_some(walk_all)
    }

    /// [`Checker::check_objects`] by `threads` threads, each on a run of
    /// the heap and with its own outcome; the outcomes are merged in
    /// address order, so the violations shown are the same.
    fn check_objects_in(&mut self, threads: usize) {
        let this = &*self;
        // Runs of as many blocks are not as much work (a run of blocks
        // without invariants is only their headers), so the threads take
        // many runs each, as they come, rather than one half each.
        let parts = this.heap().parts(if threads > 1 { threads * PARTS_PER_THREAD } else { 1 });
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            while let Some(&part) = parts.get(next.fetch_add(1, Ordering::Relaxed)) {
                done.push((part, this.check_part(part)));
            }
            done
        };
        let mut outcomes = std::thread::scope(|scope| {
            // A thread that cannot be started leaves its runs to the others.
            let helpers: Vec<_> =
                (1..threads).filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok()).collect();
            let mut all = work();
            for h in helpers {
                all.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            }
            all
        });
        outcomes.sort_unstable_by_key(|(part, _)| part.0);
        for (_, o) in outcomes {
            self.out.checked += o.checked;
            self.out.violation_count += o.violation_count;
            let room = SHOWN - self.out.violations.len().min(SHOWN);
            self.out.violations.extend(o.violations.into_iter().take(room));
        }
    }

    fn check_part(&self, part: Part) -> Outcome {
        let mut out = Outcome::default();
        self.heap().for_each_in(part, |start| self.check_block(start, &mut out));
        out
    }

    /// The objects of the live block starting at `start`, by its site.
    fn check_block(&self, start: u64, out: &mut Outcome) {
        let sc = self.sc;
        {
            // SAFETY: as in `block_at`.
            let o = unsafe { Block::at(start) };
            let Some(&slot) = self.slots.get(&o.site) else { return };
            let SiteCheck::Walk(plan, tsize) = self.sites[slot].check else { return };
            let start = o.addr + o.offset;
            let extent = o.size.saturating_sub(o.offset);
            // Most blocks hold one object: no division for them.
            let n = if extent < tsize.saturating_mul(2) { 1 } else { extent / tsize };
            for k in 0..n {
                let at = start + k * tsize;
                let object = || {
                    let tname = self.sites[slot].ty.and_then(|t| sc.ty(t)).map(|t| t.name.as_str()).unwrap_or_default();
                    if n > 1 {
                        format!("({tname})[{k}] at {at:#x}")
                    } else {
                        format!("{tname} at {at:#x}")
                    }
                };
                self.walk(plan, at, extent - k * tsize, &String::new, &object, out);
            }
        }
    }

    pub fn finish(self) -> Outcome {
        self.out
    }
}

/// The check of this process's state, as the update runs it after the
/// transfer: this binary's sidecar, its image, its live heap objects.
///
/// `census`: when the transfer knows it, which sites its live objects
/// carry, and every object of the sites that have few: a release that
/// changed one small object need not read every header of the heap.
pub fn run(sc: &Sidecar, census: Option<Census>) -> Result<Outcome, String> {
    if sc.invariants.is_none() {
        return Ok(Outcome::default());
    }
    let img = super::image::main_image();
    let rodata = img.segments.iter().filter(|s| !s.writable).map(|s| (s.addr, s.len)).collect();
    let mut c = Checker::new(sc, img.bias, rodata, Source::Live);
    c.census = census;
    c.check_variables();
    c.check_objects();
    Ok(c.finish())
}

/// What the transfer knows of the sites of the heap it leaves: the sites
/// with many objects, and the sites with few together with the user
/// pointers of all their objects (and of the startup's objects it kept).
/// Every live object's block carries a site of `many` or is in `few`.
#[derive(Debug, Default, Clone)]
pub struct Census {
    /// Sorted.
    pub many: Vec<u32>,
    /// Sorted.
    pub few_sites: Vec<u32>,
    pub few: Vec<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use lucc_abi::sidecar::{Field, Function, Site, TypeDef, Variable};
    use lucc_invariants::{Coverage, FieldInvariant, ProgramInvariants, VariableInvariant};

    fn ty(id: TypeId, name: &str, size: u64, kind: TypeKind) -> TypeDef {
        TypeDef { id, name: name.into(), size, kind }
    }

    fn field(name: &str, t: TypeId, offset: u64) -> Field {
        Field { name: name.into(), ty: t, offset, bit_offset: None, bit_size: None }
    }

    fn holds(record: &str, field: &str, offset: u64, invariant: Invariant) -> FieldInvariant {
        FieldInvariant { record: record.into(), field: field.into(), offset, size: 0, verdict: Verdict::Holds { invariant }, established_by: vec![] }
    }

    /// struct conn { int flags; unsigned char kind; struct conn *next; void (*cb)(void); }
    /// typedef struct { struct conn c[2]; } pool;  global `pool g`, global `int mode`.
    fn sidecar(vars_at: u64, mode_at: u64, cb: u64) -> Sidecar {
        let types = vec![
            ty(0, "int", 4, TypeKind::Base { encoding: BaseEncoding::Signed }),
            ty(1, "unsigned char", 1, TypeKind::Base { encoding: BaseEncoding::UnsignedChar }),
            ty(2, "struct conn", 24, TypeKind::Struct {
                fields: vec![field("flags", 0, 0), field("kind", 1, 4), field("next", 3, 8), field("cb", 5, 16)],
                declaration: false,
            }),
            ty(3, "struct conn *", 8, TypeKind::Pointer { pointee: Some(2) }),
            ty(4, "void (void)", 0, TypeKind::Function { ret: None, params: vec![], variadic: false }),
            ty(5, "void (*)(void)", 8, TypeKind::Pointer { pointee: Some(4) }),
            ty(6, "struct conn[2]", 48, TypeKind::Array { element: 2, count: Some(2) }),
            ty(7, "", 48, TypeKind::Struct { fields: vec![field("c", 6, 0)], declaration: false }),
            ty(8, "pool", 48, TypeKind::Typedef { target: Some(7) }),
        ];
        let inv = ProgramInvariants {
            fields: vec![
                holds("struct conn", "flags", 0, Invariant::Flags { mask: 3 }),
                holds("struct conn", "kind", 4, Invariant::OneOf { values: vec![0, 1, -56] }),
                holds("struct conn", "next", 8, Invariant::PointsTo(Targets { null: true, sites: vec![9], ..Default::default() })),
                holds("struct conn", "cb", 16, Invariant::PointsTo(Targets { functions: vec!["on_read".into()], ..Default::default() })),
            ],
            variables: vec![VariableInvariant {
                name: "mode".into(),
                function: String::new(),
                unit: "a.c".into(),
                verdict: Verdict::Holds { invariant: Invariant::AtLeast { min: 0 } },
                established_by: vec![],
            }],
            coverage: Coverage::default(),
        };
        let var = |name: &str, address: u64, size: u64, t: TypeId| Variable {
            name: name.into(),
            function: String::new(),
            unit: "a.c".into(),
            address,
            size,
            ty: Some(t),
            local_linkage: false,
        };
        Sidecar {
            types,
            globals: vec![var("g", vars_at, 48, 8), var("mode", mode_at, 4, 0)],
            functions: vec![Function { name: "on_read".into(), unit: "a.c".into(), address: cb, size: 16, local_linkage: false }],
            sites: vec![Site {
                id: 9,
                function: "mk".into(),
                file: "a.c".into(),
                line: 3,
                callee: "malloc".into(),
                via: vec![],
                offset: 0,
                ty: Some(2),
                ty_desc: String::new(),
            }],
            invariants: Some(inv),
            ..Default::default()
        }
    }

    fn conn(buf: &mut [u8], at: usize, flags: i32, kind: u8, next: u64, cb: u64) {
        buf[at..at + 4].copy_from_slice(&flags.to_le_bytes());
        buf[at + 4] = kind;
        buf[at + 8..at + 16].copy_from_slice(&next.to_le_bytes());
        buf[at + 16..at + 24].copy_from_slice(&cb.to_le_bytes());
    }

    /// `n` blocks of site 9 as the runtime lays them out, `stride` bytes
    /// apart (a multiple of 16): a header, then `size` bytes of object.
    struct Blocks {
        mem: Vec<u128>,
        stride: usize,
    }

    impl Blocks {
        fn new(n: usize, size: usize, stride: usize) -> Blocks {
            assert!(stride.is_multiple_of(16) && stride >= 16 + size);
            let mut b = Blocks { mem: vec![0; n * stride / 16], stride };
            for i in 0..n {
                // SAFETY: 16 aligned bytes of `mem`, in front of block i.
                unsafe { b.mem.as_mut_ptr().add(i * stride / 16).cast::<Header>().write(Header::new(9, size, false)) };
            }
            b
        }

        fn start(&self, i: usize) -> u64 {
            self.mem.as_ptr() as u64 + (i * self.stride + HEADER) as u64
        }

        fn starts(&self) -> Vec<u64> {
            (0..self.mem.len() * 16 / self.stride).map(|i| self.start(i)).collect()
        }

        fn bytes(&mut self, i: usize) -> &mut [u8] {
            // SAFETY: the block's bytes inside `mem`.
            unsafe { std::slice::from_raw_parts_mut(self.mem.as_mut_ptr().cast::<u8>().add(i * self.stride + HEADER), self.stride - HEADER) }
        }
    }

    const HEADER: usize = crate::header::HEADER_SIZE;

    struct State {
        pool: Vec<u8>,
        mode: Vec<u8>,
        heap: Blocks,
    }

    impl State {
        fn new() -> State {
            State { pool: vec![0; 48], mode: vec![0; 4], heap: Blocks::new(1, 48, 64) }
        }
        fn check(&self) -> Outcome {
            let cb = 0x1000;
            let (p, m) = (self.pool.as_ptr() as u64, self.mode.as_ptr() as u64);
            let sc = sidecar(p, m, cb);
            // One block of site 9 holding two conns: an array.
            let mut c = Checker::new(&sc, 0, vec![], Source::Listed(self.heap.starts()));
            c.check_variables();
            c.check_objects();
            c.finish()
        }
    }

    #[test]
    fn a_state_within_the_invariants_passes_and_every_value_counts() {
        let mut s = State::new();
        let h = s.heap.start(0);
        conn(&mut s.pool, 0, 3, 1, h + 24, 0x1000);
        conn(&mut s.pool, 24, 0, 200, 0, 0x1000);
        conn(s.heap.bytes(0), 0, 1, 0, 0, 0x1000);
        conn(s.heap.bytes(0), 24, 2, 1, h, 0x1000);
        s.mode.copy_from_slice(&5i32.to_le_bytes());
        let out = s.check();
        assert_eq!(out.violation_count, 0, "{:?}", out.message());
        // 4 fields x 2 conns in the global, 2 in the heap block, and `mode`.
        assert_eq!(out.checked, 4 * 4 + 1);
    }

    #[test]
    fn violations_name_object_field_value_and_invariant() {
        let mut s = State::new();
        let h = s.heap.start(0);
        conn(&mut s.pool, 0, 3, 1, 0, 0x1000);
        conn(&mut s.pool, 24, 4, 1, 0, 0x1000); // a flag outside the mask
        conn(s.heap.bytes(0), 0, 0, 7, 0, 0x1000); // kind outside its set
        conn(s.heap.bytes(0), 24, 0, 1, h + 4096, 0x1008); // dangling; not a function's address
        s.mode.copy_from_slice(&(-1i32).to_le_bytes());
        let out = s.check();
        assert_eq!(out.violation_count, 5);
        let msg = out.message().unwrap();
        assert!(msg.contains("variable g.c[1].flags = 4, but the invariant is: flags within 0x3"), "{msg}");
        assert!(msg.contains("variable mode = -1, but the invariant is: >= 0"), "{msg}");
        assert!(msg.contains(&format!("(struct conn)[0] at {h:#x}.kind = 7, but the invariant is: one of {{0, 1, -56}}")), "{msg}");
        assert!(msg.contains("no live object, variable or function there"), "{msg}");
        assert!(msg.contains("points to NULL | heap blocks of malloc in mk (a.c:3)"), "{msg}");
        assert!(msg.contains(".cb = 0x1008"), "{msg}");
        assert!(msg.contains("points to on_read()"), "{msg}");
    }

    #[test]
    fn types_without_invariants_are_not_walked() {
        let mut sc = sidecar(0, 0, 0);
        sc.invariants.as_mut().unwrap().fields.clear();
        sc.invariants.as_mut().unwrap().variables.clear();
        // Addresses that would fault if read: nothing is.
        let mut c = Checker::new(&sc, 0, vec![], Source::Listed(vec![8u64]));
        c.check_variables();
        c.check_objects();
        let out = c.finish();
        assert_eq!((out.checked, out.violation_count), (0, 0));
    }

    /// The bitmap answers what a sorted list answers, for every address
    /// around every start (gaps, starts in one granule's neighbours, blocks
    /// spanning many bitmap words, both ends).
    #[test]
    fn the_heap_index_agrees_with_a_sorted_list() {
        let base = 0x5f00_0000_0000u64;
        let starts = [base, base + 32, base + 48, base + 48 + 5008, base + 8192, base + 64 * 16 * 9 + 16 * 63, base + 20000];
        let heap = Heap::build(starts.as_slice());
        assert!(matches!(heap, Heap::Bitmap { count: 7, .. }));
        let sorted = Heap::Sorted(starts.to_vec());
        for p in (base - 64..base + 24000).step_by(8) {
            assert_eq!(heap.start_at_or_below(p), sorted.start_at_or_below(p), "at {:#x}", p - base);
        }
        assert_eq!(heap.start_at_or_below(base + 8191), Some(base + 48 + 5008));
        assert_eq!(heap.start_at_or_below(u64::MAX), Some(base + 20000));
        assert_eq!(heap.start_at_or_below(base - 1), None);
    }

    #[test]
    fn starts_a_bitmap_cannot_take_are_sorted() {
        let base = 0x5f00_0000_0000u64;
        let misaligned = [base + 64, base + 8];
        let distant = [0x6f00_0000_0000u64, base];
        let twice = [base, base + 16, base];
        for starts in [&misaligned[..], &distant[..], &twice[..]] {
            let Heap::Sorted(list) = Heap::build(starts) else { panic!("{starts:x?}: a bitmap") };
            let mut want = starts.to_vec();
            want.sort_unstable();
            assert_eq!(list, want);
        }
    }

    #[test]
    fn parts_cover_every_start_once_in_order() {
        let base = 0x5f00_0000_0000u64;
        let starts: Vec<u64> = (0..1000u64).map(|i| base + 16 * (i * i % 7919)).collect();
        let mut want = starts.clone();
        want.sort_unstable();
        want.dedup();
        let starts = want.clone();
        for heap in [Heap::build(starts.as_slice()), Heap::Sorted(starts.clone())] {
            for n in [1, 2, 32] {
                let parts = heap.parts(n);
                assert_eq!(parts.len(), n);
                let mut seen = Vec::new();
                let mut sizes = Vec::new();
                for p in parts {
                    let before = seen.len();
                    heap.for_each_in(p, |a| seen.push(a));
                    sizes.push(seen.len() - before);
                }
                assert_eq!(seen, want);
                // Within a bitmap word's worth of starts of an even share.
                assert!(sizes.iter().all(|&k| k.abs_diff(want.len() / n) < 64), "{n}: {sizes:?}");
            }
        }
    }

    /// Split between threads, the check sees the same violations, shows
    /// the same first ones (the lowest addresses) and counts the same.
    #[test]
    fn a_census_lets_the_check_read_only_what_it_lists() {
        let n = 300;
        let mut heap = Blocks::new(n, 24, 48);
        for i in 0..n {
            conn(heap.bytes(i), 0, (i % 4) as i32, 0, 0, 0x1000);
        }
        conn(heap.bytes(7), 0, 4, 0, 0, 0x1000);
        conn(heap.bytes(250), 0, 8, 0, 0, 0x1000);
        let pool = vec![0u8; 48];
        let mode = [0u8; 4];
        let sc = sidecar(pool.as_ptr() as u64, mode.as_ptr() as u64, 0x1000);
        let starts = heap.starts();
        let check = |census: Option<Census>| {
            let mut c = Checker::new(&sc, 0, vec![], Source::Listed(starts.clone()));
            c.census = census;
            c.check_variables();
            c.check_objects();
            let built = c.heap.get().is_some();
            (c.finish(), built)
        };
        let (full, _) = check(None);
        assert_eq!(full.violation_count, 2, "{:?}", full.message());
        // Every block of the conn site (9) listed, in any order: the same
        // verdicts, and no index of the heap built.
        let few = Census { many: vec![], few_sites: vec![9], few: starts.iter().rev().copied().collect() };
        let (listed, built) = check(Some(few));
        assert_eq!((listed.message(), listed.checked), (full.message(), full.checked));
        assert!(!built, "a listed census needs no index of the heap");
        // The site among those with many objects: the heap is walked.
        let (walked, built) = check(Some(Census { many: vec![9], ..Census::default() }));
        assert_eq!((walked.message(), walked.checked), (full.message(), full.checked));
        assert!(built);
        // No live object of a site with invariants: no object is read.
        let (none, built) = check(Some(Census { many: vec![12345], ..Census::default() }));
        assert_eq!(none.violation_count, 0);
        assert_eq!(none.checked, full.checked - 4 * n as u64, "only the variables");
        assert!(!built);
    }

    #[test]
    fn threads_show_the_same_violations() {
        let n = 4000;
        let mut heap = Blocks::new(n, 24, 48);
        let (first, last) = (heap.start(0), heap.start(n - 1));
        for i in 0..n {
            let next = if i % 3 == 0 { heap.start((i * 7) % n) + 4 } else { 0 };
            conn(heap.bytes(i), 0, (i % 4) as i32, 0, next, 0x1000);
        }
        // Flags 3 is within the mask; 4 and 8 are not, in both halves.
        for i in [10, 11, 1990, 2010, 2011, 3999] {
            conn(heap.bytes(i), 0, 4, 0, 0, 0x1000);
        }
        conn(heap.bytes(2500), 0, 8, 0, 0, 0x1000);
        // Into a header, between blocks: no live object there.
        let into_header = heap.start(3001) - 8;
        conn(heap.bytes(3000), 0, 0, 0, into_header, 0x1000);
        let mut pool = vec![0u8; 48];
        conn(&mut pool, 0, 0, 0, last, 0x1000);
        conn(&mut pool, 24, 0, 0, first + 24, 0x1000);
        let mode = [0u8; 4];
        let sc = sidecar(pool.as_ptr() as u64, mode.as_ptr() as u64, 0x1000);
        let starts = heap.starts();
        let check = |threads| {
            let mut c = Checker::new(&sc, 0, vec![], Source::Listed(starts.clone()));
            assert!(matches!(c.heap(), Heap::Bitmap { .. }));
            c.check_variables();
            assert_eq!(c.plan_sites(), Some(true), "the pool's sites have invariants");
            c.check_objects_in(threads);
            c.finish()
        };
        let (one, two) = (check(1), check(2));
        assert_eq!(one.message(), two.message());
        assert_eq!((one.checked, one.violation_count), (two.checked, two.violation_count));
        assert_eq!(one.checked, 4 * n as u64 + 4 * 2 + 1);
        assert_eq!(one.violation_count, 8);
        let shown: Vec<&str> = one.violations.iter().map(|v| v.object.as_str()).collect();
        let at = |i| format!("struct conn at {:#x}", heap.start(i));
        assert_eq!(shown, [at(10), at(11), at(1990), at(2010), at(2011)]);
        assert!(one.message().unwrap().ends_with("; and 3 more"), "{:?}", one.message());
    }
}
