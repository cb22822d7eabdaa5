//! Faults a broken new version would make, injected on purpose
//! (`lucc update --inject-fault POINT:KIND[:SEED]`) so that tests and the
//! fault campaign (`scripts/fault-campaign`) can see that each one is
//! caught and rolled back.
//!
//! Two families:
//! - *deaths* (crash, abort, exit, hang, error) at a stage: the new
//!   process fails the way a crashing or stuck version does;
//! - *corruptions* after the transfer, before the state is checked: a wrong
//!   field value, a dangling pointer (its object freed), a misdirected
//!   pointer (to another object of the same allocation site), a lost object
//!   (the pointer to it cleared), and a wrong transfer callback (each
//!   callback handed another object's old bytes). These are the silent
//!   mistakes a faulty transfer or callback makes; nothing crashes, so only
//!   the invariant check and time-traveling state transfer can see them.
//!
//! The victim is chosen from the seed among every candidate slot of the
//! state (fields of typed heap objects, globals and static locals, in a
//! fixed order), so a campaign run is reproducible.

use std::os::fd::RawFd;
use std::sync::Mutex;

use lucc_abi::control::{Fault, FaultKind, FaultPoint};
use lucc_abi::sidecar::{BaseEncoding, Sidecar, TypeId, TypeKind};

use crate::alloc::transfer as heap;

/// The fault armed for the callbacks stage (set before the transfer runs
/// them; read by `callbacks::run`).
static ARMED: Mutex<Option<Fault>> = Mutex::new(None);

pub fn arm(fault: Option<Fault>) {
    *ARMED.lock().unwrap() = fault;
}

/// The armed fault if it is meant for `point`.
pub fn armed_at(point: FaultPoint) -> Option<Fault> {
    ARMED.lock().unwrap().filter(|f| f.at == point)
}

pub fn is_death(kind: FaultKind) -> bool {
    matches!(kind, FaultKind::Crash | FaultKind::Abort | FaultKind::Exit | FaultKind::Hang | FaultKind::Error)
}

/// Dies the way `kind` says. `error` is the caller's: it must report the
/// failure over the update channel, which only it holds.
pub fn die(kind: FaultKind, error: impl FnOnce()) -> ! {
    match kind {
        // SAFETY: deliberately fatal, as asked.
        FaultKind::Crash => unsafe {
            libc::signal(libc::SIGSEGV, libc::SIG_DFL);
            libc::raise(libc::SIGSEGV);
            libc::_exit(139)
        },
        FaultKind::Abort => std::process::abort(),
        // SAFETY: the program's exit, handlers and all, as a buggy version might.
        FaultKind::Exit => unsafe { libc::exit(1) },
        FaultKind::Error => {
            error();
            // SAFETY: `error` reports and exits; this is the backstop.
            unsafe { libc::_exit(1) }
        }
        _ => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
    }
}

pub fn log(what: &str) {
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("lucc: injected fault: {what}\n").as_bytes());
}

/// A scalar or pointer somewhere in the state.
#[derive(Debug, Clone)]
struct Slot {
    addr: u64,
    /// `struct entry.next`, `config.port`, `[3].count`...
    name: String,
    kind: SlotKind,
}

#[derive(Debug, Clone)]
enum SlotKind {
    /// An integer of `size` bytes; for enums, the largest enumerator.
    Int { size: u64, enum_max: Option<i64> },
    /// A data pointer.
    Pointer,
}

/// Stops a huge state from making the walk itself the cost.
const MAX_SLOTS: usize = 1 << 20;
const MAX_ARRAY: u64 = 64;

struct Walker<'s> {
    sc: &'s Sidecar,
    slots: Vec<Slot>,
}

impl Walker<'_> {
    fn resolve(&self, mut ty: TypeId) -> Option<(TypeId, &TypeKind, u64)> {
        for _ in 0..32 {
            let t = self.sc.ty(ty)?;
            match &t.kind {
                TypeKind::Typedef { target: Some(next) } => ty = *next,
                TypeKind::Typedef { target: None } => return None,
                k => return Some((ty, k, t.size)),
            }
        }
        None
    }

    fn walk(&mut self, ty: TypeId, addr: u64, name: String, depth: u32) {
        if self.slots.len() >= MAX_SLOTS || depth > 8 {
            return;
        }
        let Some((_, kind, size)) = self.resolve(ty) else { return };
        match kind {
            TypeKind::Base { encoding } => {
                if !matches!(encoding, BaseEncoding::Float | BaseEncoding::Bool) && matches!(size, 1 | 2 | 4 | 8) {
                    self.slots.push(Slot { addr, name, kind: SlotKind::Int { size, enum_max: None } });
                }
            }
            TypeKind::Enum { enumerators, .. } => {
                if matches!(size, 1 | 2 | 4 | 8) {
                    let max = enumerators.iter().map(|e| e.value).max();
                    self.slots.push(Slot { addr, name, kind: SlotKind::Int { size, enum_max: max } });
                }
            }
            TypeKind::Pointer { pointee } => {
                let to_function = pointee.and_then(|p| self.resolve(p)).is_some_and(|(_, k, _)| matches!(k, TypeKind::Function { .. }));
                if !to_function {
                    self.slots.push(Slot { addr, name, kind: SlotKind::Pointer });
                }
            }
            TypeKind::Struct { fields, .. } => {
                let fields = fields.clone();
                for f in fields {
                    // Bitfields and anonymous members are left alone: the
                    // campaign wants faults whose victim it can name.
                    if f.bit_size.is_some() || f.name.is_empty() {
                        continue;
                    }
                    self.walk(f.ty, addr + f.offset, format!("{name}.{}", f.name), depth + 1);
                }
            }
            TypeKind::Array { element, count } => {
                let element = *element;
                let Some((_, _, esize)) = self.resolve(element) else { return };
                if esize == 0 {
                    return;
                }
                for i in 0..count.unwrap_or(0).min(MAX_ARRAY) {
                    self.walk(element, addr + i * esize, format!("{name}[{i}]"), depth + 1);
                }
            }
            // Unions: which member is live is not known here.
            _ => {}
        }
    }
}

fn read(addr: u64, size: u64) -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: slots lie inside live objects and variables of this process.
    unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, b.as_mut_ptr(), size as usize) };
    u64::from_le_bytes(b)
}

fn write(addr: u64, size: u64, v: u64) {
    // SAFETY: as `read`; the program is parked, the transfer is done.
    unsafe { std::ptr::copy_nonoverlapping(v.to_le_bytes().as_ptr(), addr as *mut u8, size as usize) };
}

/// splitmix64: a seed spread over the candidates.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Live heap objects sorted by address, for "what does this point into".
struct Objects(Vec<crate::registry::HeapObject>);

impl Objects {
    fn containing(&self, p: u64) -> Option<&crate::registry::HeapObject> {
        let p = p as usize;
        let i = self.0.partition_point(|o| o.addr <= p);
        let o = self.0.get(i.checked_sub(1)?)?;
        (p < o.addr + o.size.max(1)).then_some(o)
    }
}

/// Every slot of the state: globals and static locals first, then the
/// typed heap objects in address order.
fn state_slots(sc: &Sidecar, objects: &Objects, bias: u64) -> Vec<Slot> {
    let mut w = Walker { sc, slots: Vec::new() };
    for v in sc.globals.iter().chain(&sc.static_locals) {
        let Some(ty) = v.ty else { continue };
        let name = if v.function.is_empty() { v.name.clone() } else { format!("{}.{}", v.function, v.name) };
        w.walk(ty, v.address + bias, name, 0);
    }
    for o in &objects.0 {
        let Some(site) = sc.site(o.site) else { continue };
        let Some(ty) = site.ty else { continue };
        let Some((_, _, tsize)) = w.resolve(ty) else { continue };
        let start = (o.addr + usize::from(o.offset)) as u64;
        let extent = (o.size as u64).saturating_sub(u64::from(o.offset));
        if tsize == 0 || extent < tsize {
            continue;
        }
        let tname = sc.ty(ty).map(|t| t.name.clone()).unwrap_or_default();
        for i in 0..(extent / tsize).min(MAX_ARRAY) {
            let name = if extent / tsize > 1 { format!("({tname})[{i}] at {start:#x}") } else { format!("({tname} at {start:#x})") };
            w.walk(ty, start + i * tsize, name, 0);
        }
        if w.slots.len() >= MAX_SLOTS {
            break;
        }
    }
    w.slots
}

/// Applies a corruption fault after the transfer. Ok: what was done, in
/// words; Err: the state offers no victim for this kind (nothing injected).
pub fn corrupt(fault: Fault, sc: &Sidecar) -> Result<String, String> {
    let bias = super::image::main_image().bias;
    let mut snapshot = crate::registry::snapshot();
    snapshot.sort_by_key(|o| o.addr);
    let objects = Objects(snapshot);
    let slots = state_slots(sc, &objects, bias);
    let pick = |cands: Vec<&Slot>| -> Result<Slot, String> {
        if cands.is_empty() {
            return Err(format!("no slot to apply {:?} to", fault.kind));
        }
        Ok(cands[(mix(fault.seed) % cands.len() as u64) as usize].clone())
    };
    // A data pointer into a live heap object, with that object.
    let heap_pointer = |s: &Slot| matches!(s.kind, SlotKind::Pointer) && objects.containing(read(s.addr, 8)).is_some();
    match fault.kind {
        FaultKind::CorruptValue => {
            let s = pick(slots.iter().filter(|s| matches!(s.kind, SlotKind::Int { .. })).collect())?;
            let SlotKind::Int { size, enum_max } = s.kind else { unreachable!() };
            let old = read(s.addr, size);
            let new = match enum_max {
                // An enumerator no version defines.
                Some(max) => (max as u64).wrapping_add(1 + fault.seed % 7),
                None => old.wrapping_add(1 + fault.seed % 1000),
            };
            let mask = if size == 8 { u64::MAX } else { (1u64 << (size * 8)) - 1 };
            let new = if new & mask == old & mask { old ^ 1 } else { new };
            write(s.addr, size, new);
            Ok(format!("{} at {:#x}: {} -> {}", s.name, s.addr, old & mask, new & mask))
        }
        FaultKind::DanglingPointer => {
            let s = pick(slots.iter().filter(|s| heap_pointer(s)).collect())?;
            let v = read(s.addr, 8);
            let o = *objects.containing(v).expect("filtered");
            // SAFETY: a live tracked object; freeing it is the fault. The
            // pointer keeps its value: it now dangles.
            unsafe { heap::free(o.addr as *mut u8) };
            Ok(format!("{} at {:#x}: its object {:#x} ({} bytes) freed, pointer left dangling", s.name, s.addr, o.addr, o.size))
        }
        FaultKind::MisdirectPointer => {
            let other = |v: u64| -> Option<u64> {
                let x = objects.containing(v)?;
                let d = v - x.addr as u64;
                let same: Vec<_> = objects.0.iter().filter(|y| y.site == x.site && y.addr != x.addr && y.size as u64 > d).collect();
                (!same.is_empty()).then(|| same[(mix(fault.seed ^ v) % same.len() as u64) as usize].addr as u64 + d)
            };
            let s = pick(slots.iter().filter(|s| heap_pointer(s) && other(read(s.addr, 8)).is_some()).collect())?;
            let v = read(s.addr, 8);
            let to = other(v).expect("filtered");
            write(s.addr, 8, to);
            Ok(format!("{} at {:#x}: {v:#x} -> {to:#x}, another object of the same allocation site", s.name, s.addr))
        }
        FaultKind::LoseObject => {
            let s = pick(slots.iter().filter(|s| heap_pointer(s)).collect())?;
            let v = read(s.addr, 8);
            write(s.addr, 8, 0);
            Ok(format!("{} at {:#x}: {v:#x} -> NULL, the object it held is lost", s.name, s.addr))
        }
        k => Err(format!("{k:?} is not a corruption")),
    }
}

/// `lucc update --inject-fault callbacks:wrong_callback`: every object
/// callback gets the old bytes meant for the next call of the same
/// callback (the last gets the first's): well-formed input, wrong object,
/// as a callback that indexes the wrong table would produce. With a single
/// call, the old bytes are zeroed instead.
pub fn misdeliver<T>(calls: &mut [T], same: impl Fn(&T, &T) -> bool, old: impl Fn(&mut T) -> &mut Vec<u8>) -> usize {
    let n = calls.len();
    let mut touched = 0;
    let mut done = vec![false; n];
    for i in 0..n {
        if done[i] {
            continue;
        }
        let group: Vec<usize> = (i..n).filter(|&j| !done[j] && same(&calls[i], &calls[j])).collect();
        for &j in &group {
            done[j] = true;
        }
        if group.len() == 1 {
            old(&mut calls[i]).iter_mut().for_each(|b| *b = 0);
            touched += 1;
            continue;
        }
        let first = std::mem::take(old(&mut calls[group[0]]));
        for w in group.windows(2) {
            let next = std::mem::take(old(&mut calls[w[1]]));
            *old(&mut calls[w[0]]) = next;
        }
        *old(&mut calls[*group.last().unwrap()]) = first;
        touched += group.len();
    }
    touched
}

/// The death or corruption meant for `here`, if any. Deaths report
/// through `fail`; corruptions are logged and return.
/// `sc`: this binary's sidecar, which corruptions need to find their
/// victims (read once by the caller; absent before the transfer).
pub fn inject(fd: RawFd, fault: Option<Fault>, here: FaultPoint, sc: Option<&Sidecar>, fail: fn(RawFd, String) -> !) {
    let Some(f) = fault.filter(|f| f.at == here) else { return };
    if is_death(f.kind) {
        log(&format!("{:?} at {:?}", f.kind, f.at).to_lowercase());
        die(f.kind, || fail(fd, format!("injected fault at {:?}", f.at).to_lowercase()));
    }
    if f.kind == FaultKind::WrongCallback {
        return;
    }
    let Some(sc) = sc else {
        log(&format!("none: {:?} needs the transferred state", f.kind));
        return;
    };
    match corrupt(f, sc) {
        Ok(what) => log(&what),
        Err(why) => log(&format!("none: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::misdeliver;

    #[test]
    fn misdelivery_rotates_within_each_callback_and_zeroes_singletons() {
        let mut calls = vec![(1, vec![1u8]), (2, vec![9u8, 9]), (1, vec![2u8]), (1, vec![3u8])];
        let n = misdeliver(&mut calls, |a, b| a.0 == b.0, |c| &mut c.1);
        assert_eq!(n, 4);
        assert_eq!(calls, vec![(1, vec![2]), (2, vec![0, 0]), (1, vec![3]), (1, vec![1])]);
    }
}
