//! What this version's own startup allocated (range B of the arena).
//!
//! The startup ran against replayed resources and built its own state:
//! most of it is now replaced by the old state (a global pointing at the
//! new startup's empty table was overwritten by the old one's), but some of
//! it is genuinely new — a structure v2 added and its startup filled, a
//! pointer the resumed code keeps in a local. Those objects are reachable
//! from the program's variables or from the program's part of the stack:
//! they are moved into the adopted heap (every reference rewritten), and
//! everything else of range B is freed, so the range can be given back
//! and a long series of updates does not accumulate memory.
//!
//! References are found conservatively (every aligned word of the
//! program's variables, of the kept objects and of the stack above the
//! runtime's frames). Range B is a fixed, distinctive address range that
//! no integer of the program's is likely to equal; registers are on the
//! stack thanks to `runtime-c/src/spill.c`.

use crate::alloc::transfer as heap;
use crate::registry::HeapObject;

#[derive(Default)]
pub struct Settled {
    pub kept: u64,
    pub freed: u64,
    /// (old user address, size, new user address) of each kept object.
    pub moved: Vec<(u64, u64, u64)>,
    /// The allocation sites of the startup's objects, kept or freed.
    pub sites: Vec<u32>,
}

struct Args<'a> {
    roots: &'a [(u64, u64)],
    result: Option<Result<Settled, String>>,
}

extern "C" {
    fn lucc_rt_spilled_call(f: extern "C" fn(*mut libc::c_void, *mut libc::c_void), arg: *mut libc::c_void);
}

extern "C" fn spilled(arg: *mut libc::c_void, marker: *mut libc::c_void) {
    // SAFETY: `arg` is the `Args` that `settle` passed.
    let a = unsafe { &mut *(arg as *mut Args<'_>) };
    a.result = Some(settle_from(a.roots, marker as u64));
}

/// `roots`: the program's variables, `(address, length)`, after transfer.
pub fn settle(roots: &[(u64, u64)]) -> Result<Settled, String> {
    let mut a = Args { roots, result: None };
    // SAFETY: the trampoline calls `spilled` once with our `Args`.
    unsafe { lucc_rt_spilled_call(spilled, (&mut a as *mut Args<'_>).cast()) };
    a.result.unwrap_or_else(|| Err("startup heap: not settled".into()))
}

/// The end of the stack mapping holding `addr`.
fn stack_end(addr: u64) -> Option<u64> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|l| {
        let (a, b) = l.split_whitespace().next()?.split_once('-')?;
        let (a, b) = (u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?);
        (addr >= a && addr < b).then_some(b)
    })
}

struct Mover {
    objs: Vec<HeapObject>,
    new_of: Vec<u64>,
    queue: Vec<usize>,
}

impl Mover {
    fn find(&self, v: u64) -> Option<usize> {
        let i = self.objs.partition_point(|o| o.addr as u64 <= v).checked_sub(1)?;
        let o = &self.objs[i];
        (v < o.addr as u64 + (o.size as u64).max(1)).then_some(i)
    }

    fn keep(&mut self, i: usize) -> Result<u64, String> {
        if self.new_of[i] == 0 {
            let o = self.objs[i];
            let p = heap::alloc_like(o.size, o.site, o.offset);
            if p.is_null() {
                return Err("out of memory keeping an object of the new startup".into());
            }
            // SAFETY: both blocks hold `size` bytes.
            unsafe { std::ptr::copy_nonoverlapping(o.addr as *const u8, p, o.size) };
            self.new_of[i] = p as u64;
            self.queue.push(i);
        }
        Ok(self.new_of[i])
    }

    /// Rewrites the word at `slot` if it points into a startup object.
    fn visit(&mut self, slot: u64) -> Result<(), String> {
        // SAFETY: callers pass aligned addresses inside live, writable memory.
        let v = unsafe { (slot as *const u64).read() };
        if let Some(i) = self.find(v) {
            let to = self.keep(i)?;
            unsafe { (slot as *mut u64).write(to + (v - self.objs[i].addr as u64)) };
        }
        Ok(())
    }

    fn visit_range(&mut self, addr: u64, len: u64) -> Result<(), String> {
        let start = addr.next_multiple_of(8);
        let mut a = start;
        while a + 8 <= addr + len {
            self.visit(a)?;
            a += 8;
        }
        Ok(())
    }
}

fn settle_from(roots: &[(u64, u64)], marker: u64) -> Result<Settled, String> {
    let Some((b_base, b_len)) = crate::arena::startup_range() else { return Ok(Settled::default()) };
    let (b_base, b_end) = (b_base as u64, (b_base + b_len) as u64);
    let mut objs: Vec<HeapObject> = Vec::new();
    // Headers lie just below their objects: an object of range B has its
    // header in it (an over-aligned block's header is inside the block).
    let mut in_b = |o: &HeapObject| {
        if (o.addr as u64) >= b_base && (o.addr as u64) < b_end {
            objs.push(*o);
        }
    };
    // The startup's objects were all tracked before the old registry was
    // adopted (allocations go to range A since): those alone, not a walk
    // of every adopted slot.
    if !crate::registry::GLOBAL.for_each_filed_before_adoption(&mut in_b) {
        crate::registry::GLOBAL.for_each_object_in(b_base as usize, b_end as usize, in_b);
    }
    objs.sort_unstable_by_key(|o| o.addr);
    let mut sites: Vec<u32> = objs.iter().map(|o| o.site).collect();
    sites.sort_unstable();
    sites.dedup();
    let n = objs.len();
    let mut m = Mover { objs, new_of: vec![0; n], queue: Vec::new() };
    if n > 0 {
        for &(a, l) in roots {
            m.visit_range(a, l)?;
        }
        if let Some(end) = stack_end(marker) {
            m.visit_range(marker, end - marker)?;
        }
        while let Some(i) = m.queue.pop() {
            let (to, size) = (m.new_of[i], m.objs[i].size as u64);
            m.visit_range(to, size)?;
        }
    }
    let mut s = Settled { sites, ..Settled::default() };
    for (o, &to) in m.objs.iter().zip(&m.new_of) {
        if to != 0 {
            s.kept += 1;
            s.moved.push((o.addr as u64, o.size as u64, to));
        } else {
            s.freed += 1;
        }
        // SAFETY: a live object of range B; kept ones were copied.
        unsafe { heap::free(o.addr as *mut u8) };
    }
    crate::arena::release_startup_range().map_err(|e| format!("giving back the startup heap: {e}"))?;
    Ok(s)
}
