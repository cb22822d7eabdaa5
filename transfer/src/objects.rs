//! Running plans over objects: the part of a transfer that visits every
//! heap object, shared by [`crate::Transfer`] (one thread) and its
//! [`Worker`]s (several threads over disjoint objects, see
//! [`crate::Transfer::in_parallel`]). Each holds its own counts, pins and
//! remapper memo; the plans and the type map are shared, read only.

use crate::convert::Exec;
use crate::error::{Result, TransferError};
use crate::plan::{self, PlanId};
use crate::pointers::{PointerSpace, Remapper};
use crate::report::Report;
use crate::typemap::TypeMap;
use crate::{prefetch_ahead, PREFETCH_FAR};

/// The offset, in an old value, of the first typed pointer a run of
/// `plan` remaps (its fixups only, or all of it).
pub(crate) fn first_pointer(types: &TypeMap<'_>, plan: PlanId, fixups_only: bool) -> Option<u64> {
    let p = &types.plans[plan as usize];
    let start = if fixups_only { p.fixups_start } else { 0 };
    p.ops[start..].iter().find_map(|op| match op {
        plan::Op::Pointer { old, .. } => Some(*old),
        _ => None,
    })
}

/// What running plans needs: shared tables, and counts of one thread.
pub(crate) struct Parts<'x, 'a> {
    pub types: &'x TypeMap<'a>,
    pub remap: &'x Remapper,
    pub report: &'x mut Report,
    pub pinned: &'x mut Vec<u64>,
}

impl Parts<'_, '_> {
    /// The offset of the first typed pointer a run of `plan` rewrites,
    /// for prefetching along arrays of such values.
    fn first_pointer(&self, plan: PlanId, fixups_only: bool) -> Option<u64> {
        first_pointer(self.types, plan, fixups_only)
    }

    pub(crate) fn exec<'s>(&'s mut self, space: &'s dyn PointerSpace, scan_only: bool) -> Exec<'s> {
        Exec {
            types: self.types,
            remap: self.remap,
            space,
            report: &mut *self.report,
            pinned: &mut *self.pinned,
            scan_only,
            skip_same: false,
        }
    }

    /// Converts a heap block holding `old.len() / old_size` objects (a block
    /// larger than its type holds an array of it) into `new`.
    pub fn convert_objects(
        &mut self,
        plan: PlanId,
        old: &[u8],
        new: &mut [u8],
        space: &dyn PointerSpace,
    ) -> Result<()> {
        let p = &self.types.plans[plan as usize];
        let count = (old.len() as u64)
            .checked_div(p.old_size)
            .unwrap_or(1)
            .max(1);
        self.run(plan, count, old, new, space, "heap object", true)?;
        self.report.objects += count;
        Ok(())
    }

    pub(crate) fn run(
        &mut self,
        plan: PlanId,
        count: u64,
        old: &[u8],
        new: &mut [u8],
        space: &dyn PointerSpace,
        ctx: &str,
        zero_unmatched: bool,
    ) -> Result<()> {
        let p = &self.types.plans[plan as usize];
        let (os, ns) = (p.old_size, p.new_size);
        if (old.len() as u64) < os * count {
            return Err(TransferError::Buffer {
                ctx: ctx.into(),
                got: old.len(),
                need: os * count,
            });
        }
        if (new.len() as u64) < ns * count {
            return Err(TransferError::Buffer {
                ctx: ctx.into(),
                got: new.len(),
                need: ns * count,
            });
        }
        let identical = p.identical;
        let fixups = p.has_fixups();
        if identical {
            // One copy for the whole block; per object only the fixups.
            let len = (os * count) as usize;
            new[..len].copy_from_slice(&old[..len]);
        } else if zero_unmatched {
            // Added fields and grown arrays are zero unless set.
            new[..(ns * count) as usize].fill(0);
        }
        if !identical || fixups {
            let pointer = self.first_pointer(plan, identical).filter(|_| count >= PREFETCH_FAR);
            let mut x = self.exec(space, false);
            for i in 0..count {
                if let Some(po) = pointer {
                    prefetch_ahead(space, old, i, count, os, po);
                }
                x.run(plan, old, new, i * os, i * ns, identical)?;
            }
        }
        self.report.bytes += ns * count;
        Ok(())
    }

    /// [`Transfer::convert_objects`] for objects whose layout did not
    /// change (`plan_info(plan).identical`), converted where they lie:
    /// `new` already holds `old`'s bytes, and only the values that change
    /// (pointers to what moved) are written. Counted as
    /// `convert_objects` counts.
    pub fn fix_objects(
        &mut self,
        plan: PlanId,
        old: &[u8],
        new: &mut [u8],
        space: &dyn PointerSpace,
    ) -> Result<()> {
        let p = &self.types.plans[plan as usize];
        if !p.identical {
            return self.convert_objects(plan, old, new, space);
        }
        let os = p.old_size;
        let count = (old.len() as u64).checked_div(os).unwrap_or(1).max(1);
        if (new.len() as u64) < os * count || (old.len() as u64) < os * count {
            return Err(TransferError::Buffer {
                ctx: "heap object".into(),
                got: new.len().min(old.len()),
                need: os * count,
            });
        }
        if p.has_fixups() {
            let pointer = self.first_pointer(plan, true).filter(|_| count >= PREFETCH_FAR);
            let mut x = self.exec(space, false);
            x.skip_same = true;
            for i in 0..count {
                if let Some(po) = pointer {
                    prefetch_ahead(space, old, i, count, os, po);
                }
                x.run(plan, old, new, i * os, i * os, true)?;
            }
        }
        self.report.bytes += os * count;
        self.report.objects += count;
        Ok(())
    }

    /// Whether the untyped words of `old` all keep their values (see
    /// [`pointers::Remapper::settled`]): tracing them would change nothing.
    /// They count as traced then, as [`Transfer::trace_untyped_in_place`]
    /// would have counted them.
    pub fn untyped_settled(&mut self, old: &[u8], space: &dyn PointerSpace) -> bool {
        let settled = old.chunks_exact(8).all(|w| {
            let v = u64::from_ne_bytes(w.try_into().expect("8 bytes"));
            v < 4096 || self.remap.settled(v, space)
        });
        if settled {
            self.report.conservative_words += (old.len() / 8) as u64;
        }
        settled
    }

    /// Applies the conservative policy (see `convert`) to memory with no
    /// type: `new` must already hold a copy of `old`; aligned words are
    /// rewritten in `new` only where the policy allows.
    pub fn trace_untyped(
        &mut self,
        old: &[u8],
        new: &mut [u8],
        space: &dyn PointerSpace,
    ) -> Result<()> {
        let words = (old.len().min(new.len()) / 8) as u64;
        let mut x = self.exec(space, false);
        for k in 0..words {
            x.trace_word(old, new, k * 8, k * 8)?;
        }
        Ok(())
    }

    /// [`Transfer::trace_untyped`] where the memory lies: each word is
    /// read, then rewritten only if the policy changes it.
    pub fn trace_untyped_in_place(&mut self, mem: &mut [u8], space: &dyn PointerSpace) -> Result<()> {
        let mut x = self.exec(space, false);
        for w in mem.chunks_exact_mut(8) {
            let v = u64::from_ne_bytes((&*w).try_into().expect("8 bytes"));
            if let Some(r) = x.trace_value(v)? {
                w.copy_from_slice(&r.to_ne_bytes());
            }
        }
        Ok(())
    }
}

/// Whether every word at `words` (offsets from [`Transfer::fixup_words`])
/// of every `stride`-byte value in `old` keeps its value for certain
/// (see [`Remapper::settled`]): the plan's fixups would
/// change nothing.
pub fn fixups_settled(remap: &Remapper, old: &[u8], stride: u64, words: &[u64], space: &dyn PointerSpace) -> bool {
    let count = (old.len() as u64).checked_div(stride).unwrap_or(1).max(1);
    (0..count).all(|i| {
        words.iter().all(|&w| {
            let o = (i * stride + w) as usize;
            match old.get(o..o + 8) {
                Some(b) => remap.settled(u64::from_ne_bytes(b.try_into().expect("8 bytes")), space),
                None => false,
            }
        })
    })
}

/// One thread's share of a parallel object conversion
/// ([`crate::Transfer::in_parallel`]): the same conversions as the
/// transfer's own, counted apart and merged when the threads are done.
pub struct Worker<'t, 'a> {
    pub(crate) types: &'t TypeMap<'a>,
    pub(crate) remap: Remapper,
    pub(crate) report: Report,
    pub(crate) pinned: Vec<u64>,
}

impl<'a> Worker<'_, 'a> {
    fn parts(&mut self) -> Parts<'_, 'a> {
        Parts { types: self.types, remap: &self.remap, report: &mut self.report, pinned: &mut self.pinned }
    }

    /// As [`crate::Transfer::convert_objects`].
    pub fn convert_objects(&mut self, plan: PlanId, old: &[u8], new: &mut [u8], space: &dyn PointerSpace) -> Result<()> {
        self.parts().convert_objects(plan, old, new, space)
    }

    /// As [`crate::Transfer::fix_objects`].
    pub fn fix_objects(&mut self, plan: PlanId, old: &[u8], new: &mut [u8], space: &dyn PointerSpace) -> Result<()> {
        self.parts().fix_objects(plan, old, new, space)
    }

    /// As [`crate::Transfer::fixups_settled`].
    pub fn fixups_settled(&self, old: &[u8], stride: u64, words: &[u64], space: &dyn PointerSpace) -> bool {
        fixups_settled(&self.remap, old, stride, words, space)
    }

    /// As [`crate::Transfer::untyped_settled`].
    pub fn untyped_settled(&mut self, old: &[u8], space: &dyn PointerSpace) -> bool {
        self.parts().untyped_settled(old, space)
    }

    /// As [`crate::Transfer::trace_untyped_in_place`].
    pub fn trace_untyped_in_place(&mut self, mem: &mut [u8], space: &dyn PointerSpace) -> Result<()> {
        self.parts().trace_untyped_in_place(mem, space)
    }
}
