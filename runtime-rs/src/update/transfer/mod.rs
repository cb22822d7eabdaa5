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
use std::time::Instant;

use lucc_abi::control::{ArenaHandover, TransferCounts};
use lucc_abi::sidecar::Sidecar;
use lucc_transfer::{Biases, Class, PlanId, PointerSpace, Transfer, Transform};

use super::{callbacks, image};
use super::state::{Blob, ObjectEntry, TAG_MEMORY, TAG_SIDECAR, TAG_TRANSFORM};
use crate::alloc::transfer as heap;
use space::Space;

/// Objects keep the allocation site of the version that allocated them;
/// the next update reads this version's sidecar, which may not know that
/// site (v2 allocates from other lines than v1). An object whose site this
/// version lacks is attributed to a site of this version that allocates
/// its new type (with the same offset inside the block when one does), so
/// that it stays typed through every later update.
fn retag_foreign_sites(new_sc: &Sidecar, tr: &Transfer<'_>, objects: &[ObjectEntry], plans: &[Option<PlanId>], dests: &[Option<Dest>]) {
    let mut by_type: HashMap<(lucc_abi::sidecar::TypeId, i64), u32> = HashMap::new();
    let mut by_type_any: HashMap<lucc_abi::sidecar::TypeId, u32> = HashMap::new();
    // Sites sorted by id: the representative is the same in every run.
    let mut sites: Vec<_> = new_sc.sites.iter().filter_map(|s| s.ty.map(|t| (s.id, t, s.offset))).collect();
    sites.sort();
    for (id, ty, off) in sites {
        by_type.entry((ty, off)).or_insert(id);
        by_type_any.entry(ty).or_insert(id);
    }
    for (i, (o, p)) in objects.iter().zip(plans).enumerate() {
        if p.is_none() || new_sc.site(o.site).is_some() {
            continue;
        }
        let Some(ty) = tr.site_new_type(o.site) else { continue };
        let Some(&site) = by_type.get(&(ty, i64::from(o.offset))).or_else(|| by_type_any.get(&ty)) else { continue };
        let user = match dests[i] {
            Some(Dest::Moved { user, .. }) => user,
            _ => o.addr,
        };
        // SAFETY: a live tracked object; the transfer runs alone.
        unsafe { heap::set_site(user as *mut u8, site) };
    }
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

fn new_sidecar() -> Result<Sidecar, String> {
    let exe = std::fs::read_link("/proc/self/exe").map_err(|e| format!("/proc/self/exe: {e}"))?;
    Sidecar::read_for(&exe, super::build_id::get()).map_err(|e| e.to_string())
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

/// Where a changed object's converted form goes.
#[derive(Clone, Copy)]
enum Dest {
    InPlace { new_len: u64 },
    Moved { user: u64, new_len: u64 },
}

pub fn run(blob: &Blob, old_build_id: &str, arena: Option<ArenaHandover>) -> Result<TransferCounts, String> {
    let t0 = Instant::now();
    let old_sc = Sidecar::from_json("the old program's type map", blob.section(TAG_SIDECAR).unwrap_or_default())
        .map_err(|e| e.to_string())?;
    if old_sc.build_id != old_build_id {
        return Err(format!(
            "the old program's type map is stale: it describes build {}, the old process runs build {old_build_id}",
            old_sc.build_id
        ));
    }
    let new_sc = new_sidecar()?;
    let transform = match blob.section(TAG_TRANSFORM) {
        Some(t) if !t.is_empty() => {
            Transform::parse(std::str::from_utf8(t).map_err(|_| "transform file is not UTF-8")?).map_err(|e| e.to_string())?
        }
        _ => Transform::default(),
    };

    // 1. The old heap, at its addresses.
    let a = arena.ok_or("the old process handed over no heap")?;
    crate::arena::adopt_region(a.base as usize, a.len as usize, a.fd).map_err(|e| format!("mapping the old heap: {e}"))?;
    let objects = blob.objects();
    for o in objects {
        // SAFETY: each is a live object of the adopted heap.
        unsafe { heap::adopt(o.addr as *mut u8) };
    }

    let (old_bias, old_segs) = blob.memory(TAG_MEMORY)?;
    let img = image::main_image();
    let new_rodata: Vec<(u64, &[u8])> =
        img.segments.iter().filter(|s| !s.writable).map(|s| (s.addr, slice(s.addr, s.len))).collect();
    let old_rodata = old_segs.iter().filter(|s| !s.writable).collect();
    let mut space = Space::new(objects, old_rodata, new_rodata);
    let mut tr = Transfer::new(&old_sc, &new_sc, &transform, Biases { old: old_bias, new: img.bias }).map_err(|e| e.to_string())?;

    // 2. Plans per site, and pins.
    let mut site_plans: HashMap<u32, Option<PlanId>> = HashMap::new();
    let mut plans: Vec<Option<PlanId>> = Vec::with_capacity(objects.len());
    for o in objects {
        let p = match site_plans.get(&o.site) {
            Some(p) => *p,
            None => {
                let p = tr.site_plan(o.site).map_err(|e| e.to_string())?;
                site_plans.insert(o.site, p);
                p
            }
        };
        plans.push(p);
    }
    for (o, p) in objects.iter().zip(&plans) {
        let t = Space::typed(o);
        match p {
            Some(p) if tr.plan_info(*p).fixups => tr.pin_scan(*p, slice(t.base, t.size), &space).map_err(|e| e.to_string())?,
            Some(_) => {}
            None => tr.pin_scan_untyped(slice(t.base, t.size), &space).map_err(|e| e.to_string())?,
        }
    }
    let old_var = |addr: u64, len: u64| -> Result<&[u8], String> {
        old_segs
            .iter()
            .find(|s| addr >= s.addr && addr + len <= s.addr + s.bytes.len() as u64)
            .map(|s| &s.bytes[(addr - s.addr) as usize..(addr - s.addr + len) as usize])
            .ok_or_else(|| format!("old variable at {addr:#x} is outside the old program's data"))
    };
    let vars = tr.variables().to_vec();
    for v in &vars {
        tr.pin_scan(v.plan, old_var(v.old_address, v.old_size)?, &space).map_err(|e| e.to_string())?;
    }

    // 3. Where changed objects go.
    let mut dests: Vec<Option<Dest>> = vec![None; objects.len()];
    let mut counts = TransferCounts { objects: objects.len() as u64, ..Default::default() };
    for (i, (o, p)) in objects.iter().zip(&plans).enumerate() {
        let Some(p) = p else { continue };
        let info = tr.plan_info(*p);
        if info.identical {
            continue;
        }
        let t = Space::typed(o);
        let n = (t.size / info.old_size.max(1)).max(1);
        let new_len = info.new_size * n;
        // Room for the typed object: the block from its user pointer (the
        // tracked one; the typed base may lie past a wrapper's header).
        // SAFETY: a live tracked object.
        let cap = (unsafe { heap::capacity(o.addr as *mut u8) } as u64).saturating_sub(u64::from(o.offset));
        dests[i] = Some(if new_len <= cap {
            space.converted_in_place.insert(t.base);
            Dest::InPlace { new_len }
        } else {
            let user = heap::alloc_like((u64::from(o.offset) + new_len) as usize, o.site, o.offset as u16) as u64;
            if user == 0 {
                return Err(format!("out of memory rebuilding a {}-byte object of site {:#x}", new_len, o.site));
            }
            space.moved.insert(t.base, user + u64::from(o.offset));
            counts.moved += 1;
            Dest::Moved { user, new_len }
        });
    }

    // The old bytes of what a transfer callback wants, before conversion
    // overwrites them; called once everything else is settled.
    let mut calls: Vec<callbacks::Call> = Vec::new();
    if callbacks::any_registered() {
        for (i, (o, p)) in objects.iter().zip(&plans).enumerate() {
            let Some(p) = p else { continue };
            let Some((f, arg)) = tr.site_new_type(o.site).and_then(|ty| type_callback(&new_sc, ty)) else {
                continue;
            };
            let info = tr.plan_info(*p);
            let t = Space::typed(o);
            let base = match dests[i] {
                Some(Dest::Moved { user, .. }) => user + u64::from(o.offset),
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

    // 4. Objects, then variables.
    for (i, (o, p)) in objects.iter().zip(&plans).enumerate() {
        let t = Space::typed(o);
        counts.bytes += o.size;
        match (p, dests[i]) {
            (Some(p), None) => {
                if !tr.plan_info(*p).fixups {
                    continue;
                }
                let old = slice(t.base, t.size).to_vec();
                tr.convert_objects(*p, &old, slice_mut(t.base, t.size), &space).map_err(|e| e.to_string())?;
            }
            (Some(p), Some(Dest::InPlace { new_len })) => {
                let old = slice(t.base, t.size).to_vec();
                tr.convert_objects(*p, &old, slice_mut(t.base, new_len), &space).map_err(|e| e.to_string())?;
                // SAFETY: fits, checked above.
                unsafe { heap::set_size(o.addr as *mut u8, (u64::from(o.offset) + new_len) as usize) };
                counts.converted += 1;
            }
            (Some(p), Some(Dest::Moved { user, new_len })) => {
                let off = u64::from(o.offset);
                // A wrapper's size header in front of the object comes along.
                slice_mut(user, off).copy_from_slice(slice(o.addr, off));
                tr.convert_objects(*p, slice(t.base, t.size), slice_mut(user + off, new_len), &space)
                    .map_err(|e| e.to_string())?;
                counts.converted += 1;
            }
            (None, _) => {
                let old = slice(t.base, t.size).to_vec();
                tr.trace_untyped(&old, slice_mut(t.base, t.size), &space).map_err(|e| e.to_string())?;
            }
        }
    }
    retag_foreign_sites(&new_sc, &tr, objects, &plans, &dests);
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

    // 5. Moved objects' old blocks, the startup heap, the kernel.
    for (o, d) in objects.iter().zip(&dests) {
        if let Some(Dest::Moved { .. }) = d {
            // SAFETY: converted into its new block; nothing refers to it.
            unsafe { heap::free(o.addr as *mut u8) };
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
    counts.startup_freed = settled.freed;
    counts.epoll_rewritten = rewrite_epoll(blob, &space, &mut tr, &settled.moved);

    // 6. The program's own transfer callbacks.
    if callbacks::any_registered() {
        counts.callbacks = callbacks::run(calls, &mut |v| tr.remap_pointer(v, &space).ok())?;
    }

    let r = tr.report();
    let p = &r.pointers;
    // Remapped: every pointer whose value had to change.
    counts.pointers = p.heap_forwarded + p.global + p.static_local + p.function + p.rodata + r.conservative_rewritten;
    counts.conservative_words = r.conservative_words;
    counts.ms = t0.elapsed().as_millis() as u64;
    Ok(counts)
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
