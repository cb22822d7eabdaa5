//! Executing a compiled plan: old bytes -> new bytes.
//!
//! Conservative policy for untyped memory (words in pointer-sized integer
//! fields such as `uintptr_t`/`long`, in char buffers, in unions whose active
//! member is unknown, and in blocks of untyped allocation sites):
//!
//! * a word is rewritten only when it is exactly the start of an old
//!   function that the new version still has, or an address inside an old
//!   global or static local that the new version still has, and the
//!   transform file does not set `trace_untyped = false`;
//! * a word that points into a live heap object is never rewritten: the
//!   object is added to the *pinned* set instead. Heap objects stay at their
//!   addresses across an update, so the word stays right as long as its
//!   object does not move; the caller must keep pinned objects in place
//!   (converting them in place when the new type fits in the old block);
//!   only when one cannot be (its type grew beyond its block) may the
//!   caller move it, and then the words pointing into it are rewritten —
//!   or, with `trace_untyped = false`, the conversion fails with
//!   `PinnedMoved`;
//! * everything else (small integers, dangling values, foreign addresses) is
//!   kept as is.
//!
//! An integer that merely looks like a heap address is therefore never
//! changed; the worst a coincidental match can do is pin an object or, for
//! the exact address of a global or function, be moved with it.

use crate::error::{Result, TransferError};
use crate::plan::{Loc, Op, PlanId};
use crate::pointers::{HeapFate, PointerSpace, Remapper};
use crate::report::Report;
use crate::transform::Constant;
use crate::typemap::{TypeMap, WORD};

pub(crate) struct Exec<'x> {
    pub types: &'x TypeMap<'x>,
    pub remap: &'x Remapper,
    pub space: &'x dyn PointerSpace,
    pub report: &'x mut Report,
    /// Bases of pinned objects, in the order found, repeats included.
    pub pinned: &'x mut Vec<u64>,
    /// Only pin heap objects referenced from untyped words; write nothing.
    pub scan_only: bool,
    /// `new` already holds the value (the same layout, converted where it
    /// lies): copies and pointers that would store what is there already
    /// store nothing, so an unchanged page of a copy-on-write heap is
    /// never copied.
    pub skip_same: bool,
}

#[inline]
fn read_u64(b: &[u8], off: u64) -> u64 {
    let o = off as usize;
    u64::from_ne_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

#[inline]
fn write_u64(b: &mut [u8], off: u64, v: u64) {
    let o = off as usize;
    b[o..o + 8].copy_from_slice(&v.to_ne_bytes());
}

/// Bytes a (bit)field occupies starting at `loc.off`.
fn span(loc: &Loc) -> usize {
    if loc.width > 0 {
        (usize::from(loc.bit) + usize::from(loc.width)).div_ceil(8)
    } else {
        usize::from(loc.size)
    }
}

/// Loads `n <= 16` little-endian bytes; the common sizes without a call to
/// memcpy (plans run per object, and a call per field dominated).
#[inline(always)]
fn load(b: &[u8], o: usize, n: usize) -> u128 {
    match n {
        1 => u128::from(b[o]),
        2 => u128::from(u16::from_le_bytes(b[o..o + 2].try_into().expect("2 bytes"))),
        4 => u128::from(u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))),
        8 => u128::from(u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))),
        _ => {
            let mut raw = [0u8; 16];
            raw[..n].copy_from_slice(&b[o..o + n]);
            u128::from_le_bytes(raw)
        }
    }
}

#[inline(always)]
fn store(b: &mut [u8], o: usize, n: usize, v: u128) {
    match n {
        1 => b[o] = v as u8,
        2 => b[o..o + 2].copy_from_slice(&(v as u16).to_le_bytes()),
        4 => b[o..o + 4].copy_from_slice(&(v as u32).to_le_bytes()),
        8 => b[o..o + 8].copy_from_slice(&(v as u64).to_le_bytes()),
        _ => b[o..o + n].copy_from_slice(&v.to_le_bytes()[..n]),
    }
}

fn read_scalar(b: &[u8], loc: &Loc) -> i128 {
    let word = load(b, loc.off as usize, span(loc)) >> loc.bit;
    let bits = if loc.width > 0 {
        u32::from(loc.width)
    } else {
        u32::from(loc.size) * 8
    };
    let mask = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let v = word & mask;
    if loc.signed && bits < 128 && (v >> (bits - 1)) & 1 == 1 {
        (v | !mask) as i128
    } else {
        v as i128
    }
}

fn write_scalar(b: &mut [u8], loc: &Loc, v: i128) {
    let (o, n) = (loc.off as usize, span(loc));
    if loc.width == 0 {
        store(b, o, n, v as u128);
        return;
    }
    let mask = ((1u128 << loc.width) - 1) << loc.bit;
    let word = (load(b, o, n) & !mask) | (((v as u128) << loc.bit) & mask);
    store(b, o, n, word);
}

fn loc_name(loc: &Loc, ty: &str) -> String {
    if loc.width > 0 {
        format!("{ty} : {}", loc.width)
    } else {
        ty.to_string()
    }
}

impl Exec<'_> {
    /// Runs plan `id` on the value at `old[ob..]` into `new[nb..]`.
    pub fn run(
        &mut self,
        id: PlanId,
        old: &[u8],
        new: &mut [u8],
        ob: u64,
        nb: u64,
        fixups_only: bool,
    ) -> Result<()> {
        let types = self.types;
        let plan = &types.plans[id as usize];
        let start = if fixups_only { plan.fixups_start } else { 0 };
        for op in &plan.ops[start..] {
            self.op(op, old, new, ob, nb)?;
        }
        Ok(())
    }

    fn op(&mut self, op: &Op, old: &[u8], new: &mut [u8], ob: u64, nb: u64) -> Result<()> {
        let types = self.types;
        match op {
            Op::Trace {
                old: o,
                new: n,
                len,
            } => {
                for k in (0..*len).step_by(WORD as usize) {
                    self.trace_word(old, new, ob + o + k, nb + n + k)?;
                }
            }
            Op::Array {
                old: o,
                new: n,
                count,
                old_stride,
                new_stride,
                plan,
                fixups_only,
            } => {
                for i in 0..*count {
                    self.run(
                        *plan,
                        old,
                        new,
                        ob + o + i * old_stride,
                        nb + n + i * new_stride,
                        *fixups_only,
                    )?;
                }
            }
            Op::Switch {
                tag,
                old: o,
                new: n,
                cases,
                fallback,
                ctx,
                union,
            } => {
                let value = read_scalar(old, &tag.at(ob));
                let chosen = i64::try_from(value)
                    .ok()
                    .and_then(|v| cases.binary_search_by_key(&v, |c| c.0).ok())
                    .map(|i| cases[i].1)
                    .or(*fallback);
                let Some(plan) = chosen else {
                    return Err(TransferError::Union {
                        ctx: format!("{} (tag value {value})", types.ctxs[*ctx as usize]),
                        union: types.ctxs[*union as usize].clone(),
                    });
                };
                self.run(plan, old, new, ob + o, nb + n, false)?;
            }
            _ if self.scan_only => {}
            Op::Copy {
                old: o,
                new: n,
                len,
            } => {
                let (o, n, l) = ((ob + o) as usize, (nb + n) as usize, *len as usize);
                if self.skip_same && old[o..o + l] == new[n..n + l] {
                    return Ok(());
                }
                if matches!(l, 1 | 2 | 4 | 8) {
                    store(new, n, l, load(old, o, l));
                } else {
                    new[n..n + l].copy_from_slice(&old[o..o + l]);
                }
            }
            Op::Pointer {
                old: o,
                new: n,
                pointee,
            } => {
                let v = read_u64(old, ob + o);
                let r = self
                    .remap
                    .remap(v, *pointee, self.space, types, &mut self.report.pointers)?;
                if !(self.skip_same && read_u64(new, nb + n) == r) {
                    write_u64(new, nb + n, r);
                }
            }
            Op::Scalar { src, dst, map, ctx } => {
                let mut v = read_scalar(old, &src.at(ob));
                let names = || {
                    types.ctxs[*ctx as usize]
                        .split_once('\0')
                        .expect("scalar contexts carry the type")
                };
                if let Some(m) = map {
                    let table = &types.maps[*m as usize];
                    let found = i64::try_from(v)
                        .ok()
                        .and_then(|k| table.binary_search_by_key(&k, |p| p.0).ok());
                    let Some(i) = found else {
                        let (ctx, ty) = names();
                        return Err(TransferError::NoEnumerator {
                            ctx: ctx.into(),
                            value: v,
                            to: ty.into(),
                        });
                    };
                    v = i128::from(table[i].1);
                }
                if src.boolean {
                    v = i128::from(v != 0);
                }
                let (lo, hi) = dst.range();
                if v < lo || v > hi {
                    let (ctx, ty) = names();
                    return Err(TransferError::OutOfRange {
                        ctx: ctx.into(),
                        value: v,
                        to: loc_name(dst, ty),
                    });
                }
                write_scalar(new, &dst.at(nb), v);
            }
            Op::Float {
                old: o,
                new: n,
                from,
                to,
            } => {
                let o = (ob + o) as usize;
                let n = (nb + n) as usize;
                match (from, to) {
                    (4, 8) => {
                        let v = f32::from_ne_bytes(old[o..o + 4].try_into().expect("4 bytes"));
                        new[n..n + 8].copy_from_slice(&f64::from(v).to_ne_bytes());
                    }
                    _ => {
                        let v = f64::from_ne_bytes(old[o..o + 8].try_into().expect("8 bytes"));
                        new[n..n + 4].copy_from_slice(&(v as f32).to_ne_bytes());
                    }
                }
            }
            Op::Set {
                dst,
                float,
                value,
                ctx,
            } => {
                let dst = dst.at(nb);
                if *float {
                    let v = match value {
                        Constant::Float(f) => *f,
                        Constant::Int(i) => *i as f64,
                        Constant::Bool(b) => f64::from(u8::from(*b)),
                    };
                    let o = dst.off as usize;
                    if dst.size == 4 {
                        new[o..o + 4].copy_from_slice(&(v as f32).to_ne_bytes());
                    } else {
                        new[o..o + 8].copy_from_slice(&v.to_ne_bytes());
                    }
                } else {
                    let v = match value {
                        Constant::Int(i) => i128::from(*i),
                        Constant::Bool(b) => i128::from(*b),
                        Constant::Float(_) => {
                            unreachable!("compile_set rejects floats for integers")
                        }
                    };
                    let (lo, hi) = dst.range();
                    if v < lo || v > hi {
                        return Err(TransferError::OutOfRange {
                            ctx: types.ctxs[*ctx as usize].clone(),
                            value: v,
                            to: format!("{} bytes", dst.size),
                        });
                    }
                    write_scalar(new, &dst, v);
                }
            }
            Op::CheckZero {
                old: o,
                len,
                elem,
                old_count,
                new_count,
                ctx,
            } => {
                let o = (ob + o) as usize;
                if let Some(p) = old[o..o + *len as usize].iter().position(|b| *b != 0) {
                    return Err(TransferError::Truncation {
                        ctx: types.ctxs[*ctx as usize].clone(),
                        old: *old_count,
                        new: *new_count,
                        index: new_count + p as u64 / elem.max(&1),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn trace_word(&mut self, old: &[u8], new: &mut [u8], o: u64, n: u64) -> Result<()> {
        if let Some(r) = self.trace_value(read_u64(old, o))? {
            write_u64(new, n, r);
        }
        Ok(())
    }

    /// The conservative policy for one untyped word `v`: its new value
    /// when it must change.
    pub fn trace_value(&mut self, v: u64) -> Result<Option<u64>> {
        if !self.scan_only {
            // Counted once, when converting, not again by a pin scan.
            self.report.conservative_words += 1;
        }
        if v < 4096 {
            return Ok(None);
        }
        // Converting (not pin-scanning): a value that stays needs no
        // lookup. Pins are only recorded for objects that could still move.
        if !self.scan_only && self.remap.settled(v, self.space) {
            return Ok(None);
        }
        if let Some((obj, fate)) = self.space.heap_lookup(v) {
            if self.pinned.last() != Some(&obj.base) {
                self.pinned.push(obj.base);
            }
            if self.scan_only {
                return Ok(None);
            }
            if let HeapFate::Moved(to) = fate {
                if !self.types.tf.trace_untyped {
                    return Err(TransferError::PinnedMoved {
                        word: v,
                        base: obj.base,
                        site: obj.site,
                    });
                }
                // The caller had to move it (its type grew beyond its
                // block): the word follows it.
                self.report.conservative_rewritten += 1;
                return Ok(Some(to + (v - obj.base)));
            }
            return Ok(None);
        }
        if self.scan_only || !self.types.tf.trace_untyped {
            return Ok(None);
        }
        let r = self.remap.remap_untyped(v, self.types);
        if r.is_some() {
            self.report.conservative_rewritten += 1;
        }
        Ok(r)
    }
}
