//! The transfer stage, in the new process at its first update point: the
//! old heap mapped at its addresses, the old globals and static locals
//! converted into this binary's, objects whose type changed rebuilt, and
//! what this version's own startup allocated settled (`startup_heap`).
//!
//! Order matters:
//! 1. adopt the old heap (same addresses, copy-on-write: the old process's
//!    memory is never written) and track its objects;
//! 2. plan every allocation site; pin-scan untyped memory;
//! 3. decide where each changed object goes: in place when its new type
//!    fits its block, else a new block (pointers to it, typed or untyped,
//!    follow it);
//! 4. convert objects, then variables (each reads a private copy of its
//!    old bytes, so nothing reads a value already converted);
//! 5. free the blocks of moved objects; settle the startup heap; rewrite
//!    kernel epoll registrations that point at moved objects;
//! 6. run the program's transfer callbacks (`callbacks`).
//!
//! Any error leaves the process to be killed by the caller: the old
//! process, never written, resumes.

mod space;
mod startup_heap;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Instant;

use lucc_abi::control::{ArenaHandover, TransferCounts, TypeCount};
use lucc_abi::sidecar::Sidecar;
use lucc_transfer::{Biases, Class, HeapFate, PlanId, PlanInfo, PointerSpace, Transfer, Transform, Worker};

use super::check::Census;
use super::phases::Phases;
use super::{callbacks, image};
use super::state::{Blob, ObjectEntry, TAG_MEMORY, TAG_SIDECAR, TAG_TRANSFORM};
use crate::alloc::transfer as heap;
use crate::header::HEADER_SIZE;
use space::Space;

/// Objects keep the allocation site of the version that allocated them;
/// the next update reads this version's sidecar, which may not know that
/// site (v2 allocates from other lines than v1). An object whose site this
/// version lacks is attributed to a site of this version that allocates
/// its new type (with the same offset inside the block when one does), so
/// that it stays typed through every later update. Decided once per site.
fn foreign_site_replacements(new_sc: &Sidecar, tr: &Transfer<'_>, sites: &mut [SiteInfo]) {
    let mut by_type: HashMap<(lucc_abi::sidecar::TypeId, i64), u32> = HashMap::new();
    let mut by_type_any: HashMap<lucc_abi::sidecar::TypeId, u32> = HashMap::new();
    // Sites sorted by id: the representative is the same in every run.
    let mut new_sites: Vec<_> = new_sc.sites.iter().filter_map(|s| s.ty.map(|t| (s.id, t, s.offset))).collect();
    new_sites.sort();
    for (id, ty, off) in new_sites {
        by_type.entry((ty, off)).or_insert(id);
        by_type_any.entry(ty).or_insert(id);
    }
    for s in sites.iter_mut() {
        if s.plan.is_none() || new_sc.site(s.site).is_some() {
            continue;
        }
        let Some(ty) = tr.site_new_type(s.site) else { continue };
        s.retag_by_offset = true;
        s.retag = by_type_any.get(&ty).copied();
        s.retag_at = by_type.iter().filter(|((t, _), _)| *t == ty).map(|((_, off), id)| (*off, *id)).collect();
    }
}

/// What the transfer knows about one allocation site of the old heap.
struct SiteInfo {
    site: u32,
    plan: Option<PlanId>,
    info: Option<PlanInfo>,
    /// The words the fixups of an unchanged type read
    /// (`Transfer::fixup_words`): an object all of whose words keep their
    /// values is not visited.
    fixup_words: Option<Vec<u64>>,
    /// For objects that are converted: where their first typed pointer
    /// lies, announced to the space ahead of their conversion.
    prefetch_at: Option<u64>,
    /// Site to attribute its objects to when this version lacks `site`:
    /// per retag offset, else `retag`.
    retag_by_offset: bool,
    retag_at: Vec<(i64, u32)>,
    retag: Option<u32>,
    counts: TypeCount,
    /// The indices of its objects while it has few (`FEW_OBJECTS`), for
    /// the invariant check's census; `None` once it has more.
    few: Option<Vec<u32>>,
}

/// Site ids are hashes already: a multiply spreads them enough.
#[derive(Default, Clone, Copy)]
struct SiteHasher(u64);

impl Hasher for SiteHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type SiteMap = HashMap<u32, u32, BuildHasherDefault<SiteHasher>>;

/// How many objects ahead of the one converted its successors' pointers
/// are announced to the space (see `Space::prefetch`).
const PREFETCH_FAR: usize = 48;
const PREFETCH_NEAR: usize = 24;

/// Below this many objects the conversion runs on one thread: starting
/// another would cost more than it saves.
const PARALLEL_MIN_OBJECTS: usize = 65_536;
/// Moved objects of one size class from which their blocks are taken as
/// one run of slabs (`alloc::transfer::reserve_run`).
const RUN_MIN_OBJECTS: usize = 1024;
/// Objects of one site the census lists one by one (see `SiteInfo::few`).
const FEW_OBJECTS: usize = 1024;
/// Threads of a parallel conversion (memory-bound beyond a few).
const MAX_THREADS: usize = 4;

/// What the conversion of objects reads, shared by its threads.
struct ObjectsView<'v, 'a> {
    objects: &'v [ObjectEntry],
    sites: &'v [SiteInfo],
    of_site: &'v [u32],
    space: &'v Space<'a>,
    /// Some objects are converted: announce their pointers ahead.
    prefetch: bool,
}

impl ObjectsView<'_, '_> {
    /// The pointers of converted objects lead anywhere in a heap far
    /// larger than the caches: the lookups of those a few objects ahead
    /// are started early (the index word first, then the object it names).
    fn prefetch(&self, k: usize, near: bool) {
        let Some(o) = self.objects.get(k) else { return };
        let Some(at) = self.sites[self.of_site[k] as usize].prefetch_at else { return };
        let t = Space::typed(o);
        if at + 8 <= t.size {
            // SAFETY: inside a live object of the adopted heap.
            let v = unsafe { ((t.base + at) as *const u64).read_unaligned() };
            self.space.prefetch(v, near);
        }
    }

    /// Converts (or fixes, or traces) objects `range`; returns how many
    /// were converted to a new type.
    fn convert(&self, w: &mut Worker<'_, '_>, range: std::ops::Range<usize>) -> Result<u64, String> {
        let space = self.space;
        let mut converted = 0;
        let mut scratch: Vec<u8> = Vec::new();
        for i in range.clone() {
            if self.prefetch {
                if i + PREFETCH_FAR < range.end {
                    self.prefetch(i + PREFETCH_FAR, false);
                }
                if i + PREFETCH_NEAR < range.end {
                    self.prefetch(i + PREFETCH_NEAR, true);
                }
            }
            let o = &self.objects[i];
            let site = &self.sites[self.of_site[i] as usize];
            let t = Space::typed(o);
            match (site.plan, site.info, space.fate(i)) {
                (Some(p), Some(info), HeapFate::Stays) => {
                    if !info.fixups {
                        continue;
                    }
                    if let Some(words) = &site.fixup_words {
                        if w.fixups_settled(slice(t.base, t.size), info.old_size, words, space) {
                            continue;
                        }
                    }
                    // A private copy of the old value: a pointer read must
                    // not see a value already rewritten in the same object.
                    scratch.clear();
                    scratch.extend_from_slice(slice(t.base, t.size));
                    w.fix_objects(p, &scratch, slice_mut(t.base, t.size), space).map_err(|e| e.to_string())?;
                }
                (Some(p), Some(info), HeapFate::ConvertedInPlace) => {
                    let n = (t.size / info.old_size.max(1)).max(1);
                    let new_len = info.new_size * n;
                    scratch.clear();
                    scratch.extend_from_slice(slice(t.base, t.size));
                    w.convert_objects(p, &scratch, slice_mut(t.base, new_len), space).map_err(|e| e.to_string())?;
                    // SAFETY: fits, checked when placed.
                    unsafe { heap::set_size(o.addr as *mut u8, (u64::from(o.offset) + new_len) as usize) };
                    converted += 1;
                }
                (Some(p), Some(info), HeapFate::Moved(to)) => {
                    let n = (t.size / info.old_size.max(1)).max(1);
                    let new_len = info.new_size * n;
                    let off = u64::from(o.offset);
                    if space.is_fresh(i) {
                        // SAFETY: a block of a run reserved for it alone.
                        unsafe { heap::track_in_run((to - off - HEADER_SIZE as u64) as *mut u8, (off + new_len) as usize, o.site, o.offset as u16) };
                    }
                    // A wrapper's size header in front of the object comes along.
                    slice_mut(to - off, off).copy_from_slice(slice(o.addr, off));
                    w.convert_objects(p, slice(t.base, t.size), slice_mut(to, new_len), space).map_err(|e| e.to_string())?;
                    converted += 1;
                }
                _ => {
                    if !w.untyped_settled(slice(t.base, t.size), space) {
                        w.trace_untyped_in_place(slice_mut(t.base, t.size), space).map_err(|e| e.to_string())?;
                    }
                }
            }
        }
        Ok(converted)
    }
}

/// At most this many rows in `TransferCounts::per_type`, then one "other".
const PER_TYPE_ROWS: usize = 32;

/// Per old type name, largest by bytes first.
fn per_type(old_sc: &Sidecar, sites: &[SiteInfo]) -> Vec<TypeCount> {
    let mut by_name: HashMap<String, TypeCount> = HashMap::new();
    for s in sites {
        let name = match old_sc.site(s.site).and_then(|x| x.ty).and_then(|t| old_sc.ty(t)) {
            Some(t) if !t.name.is_empty() => t.name.clone(),
            Some(_) => "(anonymous type)".to_string(),
            None => "untyped".to_string(),
        };
        let e = by_name.entry(name.clone()).or_insert_with(|| TypeCount { name, ..Default::default() });
        e.objects += s.counts.objects;
        e.bytes += s.counts.bytes;
        e.converted += s.counts.converted;
        e.moved += s.counts.moved;
    }
    let mut rows: Vec<TypeCount> = by_name.into_values().filter(|c| c.objects != 0).collect();
    rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.objects.cmp(&a.objects)).then(a.name.cmp(&b.name)));
    if rows.len() > PER_TYPE_ROWS {
        let rest = rows.split_off(PER_TYPE_ROWS);
        let mut other = TypeCount { name: "other".to_string(), ..Default::default() };
        for r in rest {
            other.objects += r.objects;
            other.bytes += r.bytes;
            other.converted += r.converted;
            other.moved += r.moved;
        }
        rows.push(other);
    }
    rows
}

/// The callback registered for objects of type `ty` (by its name or the
/// name of a typedef it goes through).
fn type_callback(sc: &Sidecar, mut ty: lucc_abi::sidecar::TypeId) -> Option<(callbacks::ObjectFn, usize)> {
    for _ in 0..16 {
        let t = sc.ty(ty)?;
        if let Some(cb) = callbacks::for_type(&t.name) {
            return Some(cb);
        }
        match t.kind {
            lucc_abi::sidecar::TypeKind::Typedef { target: Some(next) } => ty = next,
            _ => return None,
        }
    }
    None
}

fn slice<'m>(addr: u64, len: u64) -> &'m [u8] {
    // SAFETY: callers pass ranges of live mapped objects or segments.
    unsafe { std::slice::from_raw_parts(addr as *const u8, len as usize) }
}

fn slice_mut<'m>(addr: u64, len: u64) -> &'m mut [u8] {
    // SAFETY: callers pass ranges of live, writable objects or variables
    // that nothing else refers to while the transfer runs.
    unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, len as usize) }
}

/// Old blocks of moved objects, untracked during the transfer, to be
/// freed once the update committed.
static RETIRED: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

/// The old process's state image, unmapped after commit: tearing down the
/// mapping of a large image takes milliseconds the pause need not pay.
static SPENT_IMAGE: std::sync::Mutex<Option<Blob>> = std::sync::Mutex::new(None);

/// Keeps the state image until [`release_retired`].
pub fn unmap_after_commit(blob: Blob) {
    *SPENT_IMAGE.lock().unwrap_or_else(|p| p.into_inner()) = Some(blob);
}

/// Frees what the transfer retired and unmaps the state image: run by the
/// control thread after commit, next to the program (whose first answers
/// it does not delay).
pub fn release_retired() {
    drop(SPENT_IMAGE.lock().unwrap_or_else(|p| p.into_inner()).take());
    let blocks = std::mem::take(&mut *RETIRED.lock().unwrap_or_else(|p| p.into_inner()));
    // SAFETY: each was retired once, and nothing refers to it.
    unsafe { heap::release_retired(&blocks) };
}

/// The plan of every allocation site of the old heap, once per site, and
/// for each object the index of its site's entry.
fn plan_sites(tr: &mut Transfer<'_>, objects: &[ObjectEntry]) -> Result<(Vec<SiteInfo>, Vec<u32>), String> {
    let mut site_index = SiteMap::default();
    let mut sites: Vec<SiteInfo> = Vec::new();
    let mut of_site: Vec<u32> = Vec::with_capacity(objects.len());
    // A program's objects come from a few sites, interleaved (an entry,
    // its key string, the next entry...): a small direct-mapped cache in
    // front of the map answers almost every object.
    let mut recent: [Option<(u32, u32)>; 16] = [None; 16];
    for o in objects {
        let slot = (o.site as usize ^ (o.site >> 8) as usize) & 15;
        if let Some((site, k)) = recent[slot] {
            if site == o.site {
                of_site.push(k);
                continue;
            }
        }
        let k = match site_index.get(&o.site) {
            Some(&k) => k,
            None => {
                let plan = tr.site_plan(o.site).map_err(|e| e.to_string())?;
                let info = plan.map(|p| tr.plan_info(p));
                let k = sites.len() as u32;
                sites.push(SiteInfo {
                    site: o.site,
                    plan,
                    info,
                    fixup_words: plan.filter(|_| info.is_some_and(|i| i.identical && i.fixups)).and_then(|p| tr.fixup_words(p)),
                    prefetch_at: plan.filter(|_| info.is_some_and(|i| !i.identical)).and_then(|p| tr.first_pointer_offset(p)),
                    retag_by_offset: false,
                    retag_at: Vec::new(),
                    retag: None,
                    counts: TypeCount::default(),
                    few: Some(Vec::new()),
                });
                site_index.insert(o.site, k);
                k
            }
        };
        recent[slot] = Some((o.site, k));
        of_site.push(k);
    }
    Ok((sites, of_site))
}

/// `new_sc`: this binary's sidecar (`super::own_sidecar`), read once by
/// the caller, which checks the transferred state against it afterwards.
///
/// Returns, besides the counts, the census of the heap it leaves (`check::Census`:
/// the sites live objects carry, every object of the sites with few), for
/// the invariant check to read only what it must. Callbacks may allocate
/// anywhere: `None` when any ran.
pub fn run(blob: &Blob, old_build_id: &str, arena: Option<ArenaHandover>, new_sc: &Sidecar) -> Result<(TransferCounts, Option<Census>), String> {
    let t0 = Instant::now();
    let mut clock = Phases::start();
    let old_sc = Sidecar::from_json("the old program's type map", blob.section(TAG_SIDECAR).unwrap_or_default())
        .map_err(|e| e.to_string())?;
    if old_sc.build_id != old_build_id {
        return Err(format!(
            "the old program's type map is stale: it describes build {}, the old process runs build {old_build_id}",
            old_sc.build_id
        ));
    }
    let transform = match blob.section(TAG_TRANSFORM) {
        Some(t) if !t.is_empty() => {
            Transform::parse(std::str::from_utf8(t).map_err(|_| "transform file is not UTF-8")?).map_err(|e| e.to_string())?
        }
        _ => Transform::default(),
    };
    clock.lap("old type map");

    // 1. The old heap, at its addresses.
    let a = arena.ok_or("the old process handed over no heap")?;
    crate::arena::adopt_region(a.base as usize, a.len as usize, a.fd).map_err(|e| format!("mapping the old heap: {e}"))?;
    let objects = blob.objects();
    match blob.registry()? {
        // SAFETY: the old process's registry of the heap just mapped.
        Some(images) if images.len() == crate::registry::SHARDS => unsafe { crate::registry::GLOBAL.adopt_images(&images) },
        _ => {
            for o in objects {
                // SAFETY: each is a live object of the adopted heap.
                unsafe { heap::adopt(o.addr as *mut u8) };
            }
        }
    }
    clock.lap("adopt heap");

    let (old_bias, old_segs) = blob.memory(TAG_MEMORY)?;
    let img = image::main_image();
    let new_rodata: Vec<(u64, &[u8])> =
        img.segments.iter().filter(|s| !s.writable).map(|s| (s.addr, slice(s.addr, s.len))).collect();
    let old_rodata = old_segs.iter().filter(|s| !s.writable).collect();
    let mut tr = Transfer::new(&old_sc, &new_sc, &transform, Biases { old: old_bias, new: img.bias }).map_err(|e| e.to_string())?;
    // 2. The address index of the old heap and the plans of its sites,
    // side by side on a large heap (both only read the object list).
    let (space, planned) = if objects.len() >= PARALLEL_MIN_OBJECTS {
        std::thread::scope(|sc| {
            let index = sc.spawn(|| Space::new(objects, (a.base, a.len), old_rodata, new_rodata));
            let planned = plan_sites(&mut tr, objects);
            (index.join().map_err(|_| "indexing the old heap failed".to_string()), planned)
        })
    } else {
        (Ok(Space::new(objects, (a.base, a.len), old_rodata, new_rodata)), plan_sites(&mut tr, objects))
    };
    let mut space = space?;
    let (mut sites, of_site) = planned?;
    clock.lap("index objects, plan sites");
    let old_var = |addr: u64, len: u64| -> Result<&[u8], String> {
        old_segs
            .iter()
            .find(|s| addr >= s.addr && addr + len <= s.addr + s.bytes.len() as u64)
            .map(|s| &s.bytes[(addr - s.addr) as usize..(addr - s.addr + len) as usize])
            .ok_or_else(|| format!("old variable at {addr:#x} is outside the old program's data"))
    };
    let vars = tr.variables().to_vec();

    // 3. Where changed objects go: in place when the new value fits the
    // block (its real capacity: the arena rounds blocks up), else a new
    // block. Objects of unchanged types are not looked at.
    let mut counts = TransferCounts { objects: objects.len() as u64, ..Default::default() };
    // Objects that must move, by the size class of their new block: each
    // class's blocks are then taken as one run of slabs (a grown struct
    // moves a million objects at once; one allocation each was most of
    // the placement).
    // (A few classes at most: a list, searched from the last one used.)
    let mut moving: Vec<(usize, Vec<(usize, u64)>)> = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        let site = &mut sites[of_site[i] as usize];
        site.counts.objects += 1;
        if let Some(list) = &mut site.few {
            if list.len() < FEW_OBJECTS {
                list.push(i as u32);
            } else {
                site.few = None;
            }
        }
        site.counts.bytes += o.size;
        counts.bytes += o.size;
        let Some(info) = site.info else { continue };
        if info.identical {
            continue;
        }
        let t = Space::typed(o);
        let n = (t.size / info.old_size.max(1)).max(1);
        let new_len = info.new_size * n;
        site.counts.converted += 1;
        // Room for the typed object: the block from its user pointer (the
        // tracked one; the typed base may lie past a wrapper's header).
        // SAFETY: a live tracked object.
        let cap = (unsafe { heap::capacity(o.addr as *mut u8) } as u64).saturating_sub(u64::from(o.offset));
        if new_len <= cap {
            space.set_in_place(i);
        } else {
            let size = u64::from(o.offset) + new_len;
            let class = heap::size_class(size as usize).unwrap_or(usize::MAX);
            match moving.iter_mut().rev().find(|(c, _)| *c == class) {
                Some((_, list)) => list.push((i, size)),
                None => moving.push((class, vec![(i, size)])),
            }
            site.counts.moved += 1;
            counts.moved += 1;
        }
    }
    for (class, objs) in &moving {
        let largest = objs.iter().map(|&(_, size)| size).max().unwrap_or(0) as usize;
        // A few objects take blocks one by one, from the free lists: a run
        // starts a fresh slab, worth it only for many.
        let run = if *class == usize::MAX || objs.len() < RUN_MIN_OBJECTS { None } else { heap::reserve_run(largest, objs.len()) };
        for (k, &(i, size)) in objs.iter().enumerate() {
            let o = &objects[i];
            match run {
                // Tracked by the thread that converts it (its header is
                // the first write to a fresh page).
                Some(run) => space.set_moved_fresh(i, run.block(k) as u64 + HEADER_SIZE as u64 + u64::from(o.offset)),
                None => {
                    let user = heap::alloc_like(size as usize, o.site, o.offset as u16) as u64;
                    if user == 0 {
                        return Err(format!("out of memory rebuilding a {size}-byte object of site {:#x}", o.site));
                    }
                    space.set_moved(i, user + u64::from(o.offset));
                }
            }
        }
    }

    space.seal();
    let any_converted = counts.objects != 0 && sites.iter().any(|s| s.counts.converted != 0);
    clock.lap("place changed objects");

    // The old bytes of what a transfer callback wants, before conversion
    // overwrites them; called once everything else is settled.
    let mut calls: Vec<callbacks::Call> = Vec::new();
    if callbacks::any_registered() {
        for (i, o) in objects.iter().enumerate() {
            let Some(info) = sites[of_site[i] as usize].info else { continue };
            let Some((f, arg)) = tr.site_new_type(o.site).and_then(|ty| type_callback(&new_sc, ty)) else {
                continue;
            };
            let t = Space::typed(o);
            let base = match space.fate(i) {
                HeapFate::Moved(to) => to,
                _ => t.base,
            };
            let n = (t.size / info.old_size.max(1)).max(1);
            for k in 0..n {
                let old = slice(t.base + k * info.old_size, info.old_size.min(t.size)).to_vec();
                calls.push(callbacks::Call {
                    what: format!("the object at {:#x} (site {:#x})", base + k * info.new_size, o.site),
                    f,
                    arg,
                    old,
                    new_addr: base + k * info.new_size,
                    new_len: info.new_size,
                });
            }
        }
    }

    // 4. Objects, then variables. Objects staying where they are, whose
    // values do not change, are written nowhere: their pages stay the old
    // process's, shared copy-on-write. A large heap is split between
    // threads: each object's conversion reads only its own old bytes and
    // the (read-only) index, and writes only its own new place.
    let threads = if objects.len() >= PARALLEL_MIN_OBJECTS {
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS)
    } else {
        1
    };
    let per = objects.len().div_ceil(threads);
    let view = ObjectsView { objects, sites: &sites, of_site: &of_site, space: &space, prefetch: any_converted };
    for r in tr.in_parallel(threads, |k, w| view.convert(w, k * per..((k + 1) * per).min(objects.len()))) {
        counts.converted += r?;
    }
    clock.lap("convert objects");
    foreign_site_replacements(&new_sc, &tr, &mut sites);
    if sites.iter().any(|s| s.retag_by_offset) {
        for (i, o) in objects.iter().enumerate() {
            let s = &sites[of_site[i] as usize];
            if !s.retag_by_offset {
                continue;
            }
            let at = s.retag_at.iter().find(|(off, _)| *off == i64::from(o.offset)).map(|x| x.1);
            let Some(site) = at.or(s.retag) else { continue };
            let user = match space.fate(i) {
                HeapFate::Moved(to) => to - u64::from(o.offset),
                _ => o.addr,
            };
            // SAFETY: a live tracked object; the transfer runs alone.
            unsafe { heap::set_site(user as *mut u8, site) };
        }
    }
    let writable = image::writable_ranges();
    for (i, v) in vars.iter().enumerate() {
        let end = v.new_address + v.new_size;
        // Constants (read-only after relocation) are the new version's.
        if !writable.iter().any(|&(a, b)| v.new_address >= a && end <= b) {
            continue;
        }
        let old = old_var(v.old_address, v.old_size)?;
        tr.convert_variable(i, old, slice_mut(v.new_address, v.new_size), &space).map_err(|e| e.to_string())?;
        counts.variables += 1;
        if let Some((f, arg)) = callbacks::for_variable(&v.name) {
            calls.push(callbacks::Call {
                what: format!("variable {}", v.name),
                f,
                arg,
                old: old.to_vec(),
                new_addr: v.new_address,
                new_len: v.new_size,
            });
        }
    }

    clock.lap("variables");

    // 5. Moved objects' old blocks, the startup heap, the kernel. The old
    // blocks are untracked now but freed after commit (`release_retired`):
    // freeing writes into each block, a copy of its page of the old heap.
    if counts.moved != 0 {
        let mut retired = RETIRED.lock().unwrap_or_else(|p| p.into_inner());
        retired.reserve(counts.moved as usize);
        for (i, o) in objects.iter().enumerate() {
            if let HeapFate::Moved(_) = space.fate(i) {
                // SAFETY: converted into its new block; nothing refers to it.
                if let Some(block) = unsafe { heap::retire(o.addr as *mut u8) } {
                    retired.push(block as usize);
                }
            }
        }
    }
    let roots: Vec<(u64, u64)> = new_sc
        .globals
        .iter()
        .chain(&new_sc.static_locals)
        .map(|v| (v.address + img.bias, v.size))
        .filter(|&(a, l)| writable.iter().any(|&(s, e)| a >= s && a + l <= e))
        .collect();
    let settled = startup_heap::settle(&roots)?;
    counts.startup_kept = settled.kept;
    let settled_sites = settled.sites.clone();
    let settled_kept: Vec<u64> = settled.moved.iter().map(|&(_, _, to)| to).collect();
    counts.startup_freed = settled.freed;
    counts.epoll_rewritten = rewrite_epoll(blob, &space, &mut tr, &settled.moved);
    clock.lap("free moved, settle startup heap, epoll");

    // 6. The program's own transfer callbacks.
    if callbacks::any_registered() {
        counts.callbacks = callbacks::run(calls, &mut |v| tr.remap_pointer(v, &space).ok())?;
    }

    let r = tr.report();
    let p = &r.pointers;
    // Remapped: every pointer whose value had to change.
    counts.pointers = p.heap_forwarded + p.global + p.static_local + p.function + p.rodata + r.conservative_rewritten;
    counts.conservative_words = r.conservative_words;
    counts.per_type = per_type(&old_sc, &sites);
    let census = (!callbacks::any_registered()).then(|| {
        let mut c = Census::default();
        for s in sites.iter().filter(|s| s.counts.objects != 0) {
            // Re-attributed objects carry the new ids in their headers.
            let ids = std::iter::once(s.site).chain(s.retag).chain(s.retag_at.iter().map(|&(_, id)| id));
            match &s.few {
                None => c.many.extend(ids),
                Some(list) => {
                    c.few_sites.extend(ids);
                    c.few.extend(list.iter().map(|&i| {
                        let o = &objects[i as usize];
                        match space.fate(i as usize) {
                            HeapFate::Moved(to) => to - u64::from(o.offset),
                            _ => o.addr,
                        }
                    }));
                }
            }
        }
        c.few_sites.extend(settled_sites.iter().copied());
        c.few.extend(settled_kept.iter().copied());
        for v in [&mut c.many, &mut c.few_sites] {
            v.sort_unstable();
            v.dedup();
        }
        c
    });
    clock.lap("callbacks, report");
    counts.phases = clock.into_vec();
    counts.ms = t0.elapsed().as_millis() as u64;
    Ok((counts, census))
}

/// The old registrations are what the shared epoll instances hold: those
/// pointing at a moved object get its new address, those pointing into the
/// old binary (`data.ptr = &server`) the address of the same variable or
/// function in this one. Registrations this version's startup really made
/// point into its startup heap: they follow the objects kept from it.
fn rewrite_epoll(blob: &Blob, space: &Space<'_>, tr: &mut Transfer<'_>, startup_moved: &[(u64, u64, u64)]) -> u64 {
    let old = blob.epoll();
    let old_keys: std::collections::HashSet<(i32, i32)> = old.iter().map(|r| (r.epfd, r.fd)).collect();
    let new_only: Vec<_> = crate::epoll::registrations().into_iter().filter(|r| !old_keys.contains(&(r.epfd, r.fd))).collect();
    crate::epoll::replace(&old);
    let mut follow = |data: u64, old: bool| -> Option<u64> {
        if !old {
            return startup_moved
                .iter()
                .find(|(from, len, _)| data >= *from && data < from + len)
                .map(|(from, _, to)| to + (data - from));
        }
        match tr.classify(data, space) {
            Class::Heap { obj, offset } => space.heap_new_base(&obj).map(|to| to + offset),
            Class::OldVariable { .. } | Class::OldFunction { .. } => tr.remap_pointer(data, space).ok().filter(|&v| v != data),
            _ => None,
        }
    };
    let mut n = 0;
    let all = old.iter().map(|r| (r, true)).chain(new_only.iter().map(|r| (r, false)));
    for (r, is_old) in all {
        if let Some(to) = follow(r.data, is_old) {
            if crate::epoll::rewrite(r, to).is_ok() {
                n += 1;
            }
        }
    }
    n
}
