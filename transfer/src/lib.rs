//! lucc's state-transfer engine.
//!
//! Converts the state of a running program from its old version's types to
//! its new version's: globals and static locals (matched by name), heap
//! objects whose type changed (by allocation site), and every pointer value
//! that moves with them or with the binary. It is a pure library over two
//! sidecars and byte buffers — it never touches a process — so the runtime
//! links it to perform an update and `lucc diff` uses it to predict one, and
//! both share one tested implementation.
//!
//! Flow: [`Transfer::new`] matches variables and indexes the old binary;
//! [`Transfer::plan`] / [`Transfer::site_plan`] compile conversion plans
//! (cached per type pair); [`Transfer::convert_variable`],
//! [`Transfer::convert_objects`] and [`Transfer::trace_untyped`] run them;
//! [`Transfer::report`] counts what happened.

mod convert;
mod objects;
pub mod error;
mod plan;
pub mod pointers;
pub mod report;
pub mod transform;
pub mod typemap;
mod variables;

use std::collections::BTreeSet;

use lucc_abi::sidecar::{Sidecar, TypeId};
use lucc_abi::SiteId;

use objects::Parts;
pub use objects::Worker;
pub use error::{Result, TransferError};
pub use plan::PlanId;
pub use pointers::{Biases, Class, HeapFate, HeapObject, PointerSpace, VarKind};
pub use report::{PointerCounts, Report};
pub use transform::Transform;
use typemap::TypeMap;
pub use variables::VarPair;

/// One update's transfer between an old and a new build.
pub struct Transfer<'a> {
    types: TypeMap<'a>,
    remap: pointers::Remapper,
    vars: Vec<VarPair>,
    report: Report,
    /// Pinned bases as found (a set only when asked for: a heap full of
    /// untyped references would otherwise pay a tree insert per word).
    pinned: Vec<u64>,
}

/// How many elements ahead of the one converted the pointer values of an
/// array are announced to the space (`far`: start loading the first thing
/// a lookup reads; `near`: what that first thing leads to). Pointers into
/// a big heap are cache misses in a row; announced ahead, they overlap.
pub(crate) const PREFETCH_FAR: u64 = 64;
const PREFETCH_NEAR: u64 = 32;

pub(crate) fn prefetch_ahead(space: &dyn PointerSpace, old: &[u8], i: u64, count: u64, size: u64, at: u64) {
    let value = |k: u64| {
        let o = (k * size + at) as usize;
        old.get(o..o + 8)
            .map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
    };
    if i + PREFETCH_FAR < count {
        if let Some(v) = value(i + PREFETCH_FAR) {
            space.prefetch(v, false);
        }
    }
    if i + PREFETCH_NEAR < count {
        if let Some(v) = value(i + PREFETCH_NEAR) {
            space.prefetch(v, true);
        }
    }
}

/// Sizes and shape of a compiled plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanInfo {
    pub old_size: u64,
    pub new_size: u64,
    /// The layout did not change: objects of this type need not move.
    pub identical: bool,
    /// Some value in it may need rewriting (pointers, untyped words).
    pub fixups: bool,
}

impl<'a> Transfer<'a> {
    pub fn new(
        old: &'a Sidecar,
        new: &'a Sidecar,
        transform: &'a Transform,
        biases: Biases,
    ) -> Result<Transfer<'a>> {
        let mut types = TypeMap::new(old, new, transform);
        let mut report = Report::default();
        let (vars, slots) = variables::match_variables(&mut types, &mut report, biases)?;
        let remap = pointers::Remapper::new(old, new, biases, slots);
        Ok(Transfer {
            types,
            remap,
            vars,
            report,
            pinned: Vec::new(),
        })
    }

    /// Old variables that survive, with their plans and runtime addresses.
    pub fn variables(&self) -> &[VarPair] {
        &self.vars
    }

    /// The plan for old type `old_ty` -> new type `new_ty`.
    pub fn plan(&mut self, old_ty: TypeId, new_ty: TypeId) -> Result<PlanId> {
        self.types.plan(old_ty, new_ty)
    }

    /// The plan for the objects of allocation site `site`: the site's type
    /// in both versions, or — when the new version no longer has the site
    /// (its code changed) — the new type of the same name. `None` when the
    /// objects are untyped (such blocks are traced with
    /// [`Transfer::trace_untyped`]); an error when the type is gone.
    pub fn site_plan(&mut self, site: SiteId) -> Result<Option<PlanId>> {
        let Some(old) = self.types.old.site(site).and_then(|s| s.ty) else {
            return Ok(None);
        };
        let new = match self.types.new.site(site) {
            Some(s) => s.ty,
            None => Some(self.types.new_type_for(old).ok_or_else(|| {
                let name = self.types.old.ty(old).map_or("?", |t| t.name.as_str());
                TransferError::Sidecar(format!(
                    "objects of site {site:#x} have type {name}, which the new version no longer has"
                ))
            })?),
        };
        match new {
            Some(n) => self.types.plan(old, n).map(Some),
            None => Ok(None),
        }
    }

    /// The new version's type for objects of `site`, paired as
    /// `site_plan` pairs them; `None` for untyped sites.
    pub fn site_new_type(&self, site: SiteId) -> Option<TypeId> {
        let old = self.types.old.site(site).and_then(|s| s.ty)?;
        match self.types.new.site(site) {
            Some(s) => s.ty,
            None => self.types.new_type_for(old),
        }
    }

    /// The new version's type named like old type `old_ty` (renames
    /// applied).
    pub fn new_type_for(&self, old_ty: TypeId) -> Option<TypeId> {
        self.types.new_type_for(old_ty)
    }

    pub fn plan_info(&self, plan: PlanId) -> PlanInfo {
        let p = &self.types.plans[plan as usize];
        PlanInfo {
            old_size: p.old_size,
            new_size: p.new_size,
            identical: p.identical,
            fixups: p.has_fixups(),
        }
    }

    /// The offset, in an old value, of the first typed pointer that
    /// converting it by `plan` remaps: a caller walking many such values
    /// can announce the pointer values of those ahead
    /// ([`PointerSpace::prefetch`]) so their lookups overlap.
    pub fn first_pointer_offset(&self, plan: PlanId) -> Option<u64> {
        objects::first_pointer(&self.types, plan, false)
    }

    fn parts(&mut self) -> Parts<'_, 'a> {
        Parts { types: &self.types, remap: &self.remap, report: &mut self.report, pinned: &mut self.pinned }
    }

    /// Runs `f(k, worker)` for k in `0..threads`, each on a thread of its
    /// own (k = 0 on the caller's) with a [`Worker`] that converts as this
    /// transfer does: the same plans, its own counts and pins, merged into
    /// this transfer's when all are done. The plans must be compiled
    /// before (site_plan / plan), and the workers must be given disjoint
    /// objects. Returns each thread's result, in order.
    pub fn in_parallel<R: Send>(&mut self, threads: usize, f: impl Fn(usize, &mut Worker<'_, 'a>) -> R + Sync) -> Vec<R> {
        let threads = threads.max(1);
        let types = &self.types;
        let mut workers: Vec<Worker<'_, 'a>> = (0..threads)
            .map(|_| Worker { types, remap: self.remap.clone(), report: Report::default(), pinned: Vec::new() })
            .collect();
        let results = std::thread::scope(|scope| {
            let f = &f;
            let mut rest = workers.iter_mut().enumerate();
            let first = rest.next();
            let handles: Vec<_> = rest.map(|(k, w)| scope.spawn(move || f(k, w))).collect();
            let mut out = Vec::with_capacity(threads);
            if let Some((k, w)) = first {
                out.push(f(k, w));
            }
            for h in handles {
                out.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            out
        });
        for w in workers {
            self.report.absorb(&w.report);
            self.pinned.extend(w.pinned);
        }
        results
    }



    /// Converts the `index`-th of [`Transfer::variables`]: `old` holds the
    /// old variable's bytes, `new` receives the new variable's bytes.
    ///
    /// `new` must hold the new version's own value of the variable (its
    /// initializer, or what its startup stored): whatever the old version
    /// has no counterpart for — an added field, the elements a grown array
    /// gained (a command appended to a table) — keeps that value rather
    /// than being zeroed, as a reader of the new source expects.
    pub fn convert_variable(
        &mut self,
        index: usize,
        old: &[u8],
        new: &mut [u8],
        space: &dyn PointerSpace,
    ) -> Result<()> {
        let pair = &self.vars[index];
        let (plan, kind, name) = (pair.plan, pair.kind, pair.name.clone());
        self.parts().run(plan, 1, old, new, space, &name, false)?;
        match kind {
            VarKind::Global => self.report.globals += 1,
            VarKind::StaticLocal => self.report.static_locals += 1,
        }
        Ok(())
    }




    /// Converts a heap block holding `old.len() / old_size` objects (a block
    /// larger than its type holds an array of it) into `new`.
    pub fn convert_objects(&mut self, plan: PlanId, old: &[u8], new: &mut [u8], space: &dyn PointerSpace) -> Result<()> {
        self.parts().convert_objects(plan, old, new, space)
    }

    /// [`Transfer::convert_objects`] for objects whose layout did not
    /// change (`plan_info(plan).identical`), converted where they lie:
    /// `new` already holds `old`'s bytes, and only the values that change
    /// (pointers to what moved) are written. Counted as
    /// `convert_objects` counts.
    pub fn fix_objects(&mut self, plan: PlanId, old: &[u8], new: &mut [u8], space: &dyn PointerSpace) -> Result<()> {
        self.parts().fix_objects(plan, old, new, space)
    }

    /// Whether every word at `words` (offsets from [`Transfer::fixup_words`])
    /// of every `stride`-byte value in `old` keeps its value for certain
    /// (see [`pointers::Remapper::settled`]): the plan's fixups would
    /// change nothing.
    pub fn fixups_settled(&self, old: &[u8], stride: u64, words: &[u64], space: &dyn PointerSpace) -> bool {
        objects::fixups_settled(&self.remap, old, stride, words, space)
    }

    /// Whether the untyped words of `old` all keep their values (see
    /// [`pointers::Remapper::settled`]): tracing them would change nothing.
    /// They count as traced then, as [`Transfer::trace_untyped_in_place`]
    /// would have counted them.
    pub fn untyped_settled(&mut self, old: &[u8], space: &dyn PointerSpace) -> bool {
        self.parts().untyped_settled(old, space)
    }

    /// Applies the conservative policy (see `convert`) to memory with no
    /// type: `new` must already hold a copy of `old`; aligned words are
    /// rewritten in `new` only where the policy allows.
    pub fn trace_untyped(&mut self, old: &[u8], new: &mut [u8], space: &dyn PointerSpace) -> Result<()> {
        self.parts().trace_untyped(old, new, space)
    }

    /// [`Transfer::trace_untyped`] where the memory lies: each word is
    /// read, then rewritten only if the policy changes it.
    pub fn trace_untyped_in_place(&mut self, mem: &mut [u8], space: &dyn PointerSpace) -> Result<()> {
        self.parts().trace_untyped_in_place(mem, space)
    }

    /// The offsets (in one old value) of every word the fixups of an
    /// identical-layout plan read: its typed pointers and untyped words,
    /// arrays of such elements unrolled. `None` when the fixups do more
    /// than read words (a union chosen by its tag) or are too many to list:
    /// such objects take the full path. With the list, a caller can skip an
    /// object all of whose words are [`Transfer::settled`] without running
    /// the plan: it would write nothing.
    pub fn fixup_words(&self, plan: PlanId) -> Option<Vec<u64>> {
        /// Objects with more words than this are rare and big: the full
        /// path's cost per word is the same, so no list is kept.
        const MAX_WORDS: usize = 4096;
        fn walk(types: &TypeMap<'_>, plan: PlanId, fixups_only: bool, base: u64, out: &mut Vec<u64>) -> Option<()> {
            let p = &types.plans[plan as usize];
            let start = if fixups_only { p.fixups_start } else { 0 };
            for op in &p.ops[start..] {
                match op {
                    plan::Op::Pointer { old, .. } => out.push(base + old),
                    plan::Op::Trace { old, len, .. } => out.extend((0..*len / typemap::WORD).map(|k| base + old + k * typemap::WORD)),
                    plan::Op::Array { old, count, old_stride, plan, fixups_only: true, .. } => {
                        for i in 0..*count {
                            walk(types, *plan, true, base + old + i * old_stride, out)?;
                            if out.len() > MAX_WORDS {
                                return None;
                            }
                        }
                    }
                    _ => return None,
                }
                if out.len() > MAX_WORDS {
                    return None;
                }
            }
            Some(())
        }
        let p = &self.types.plans[plan as usize];
        if !p.identical {
            return None;
        }
        let mut out = Vec::new();
        walk(&self.types, plan, true, 0, &mut out)?;
        Some(out)
    }



    /// Pins the heap objects referenced from the untyped parts of `old`
    /// (objects converted by `plan`) without converting anything: run over
    /// the whole old state before deciding which objects move.
    pub fn pin_scan(&mut self, plan: PlanId, old: &[u8], space: &dyn PointerSpace) -> Result<()> {
        let os = self.types.plans[plan as usize].old_size.max(1);
        let count = old.len() as u64 / os;
        let mut parts = self.parts();
        let mut x = parts.exec(space, true);
        for i in 0..count {
            x.run(plan, old, &mut [], i * os, 0, false)?;
        }
        Ok(())
    }

    /// [`Transfer::pin_scan`] for memory with no type: pins the heap
    /// objects its words point into.
    pub fn pin_scan_untyped(&mut self, old: &[u8], space: &dyn PointerSpace) -> Result<()> {
        let words = (old.len() / 8) as u64;
        let mut parts = self.parts();
        let mut x = parts.exec(space, true);
        for k in 0..words {
            x.trace_word(old, &mut [], k * 8, k * 8)?;
        }
        Ok(())
    }



    /// The new value of one typed pointer, counted in the report.
    pub fn remap_pointer(&mut self, value: u64, space: &dyn PointerSpace) -> Result<u64> {
        self.remap
            .remap(value, None, space, &self.types, &mut self.report.pointers)
    }

    /// What an old pointer value points at.
    pub fn classify(&self, value: u64, space: &dyn PointerSpace) -> Class {
        self.remap.classify(value, space)
    }

    /// Heap objects (their bases) referenced from untyped memory: they must
    /// stay at their addresses.
    pub fn pinned(&self) -> BTreeSet<u64> {
        self.pinned.iter().copied().collect()
    }

    /// Counts so far, with the field changes of every plan compiled.
    pub fn report(&self) -> Report {
        let mut r = self.report.clone();
        r.fields_added = self.types.fields_added.clone();
        r.fields_dropped = self.types.fields_dropped.clone();
        r.fields_dropped_undeclared = self.types.fields_dropped_undeclared.clone();
        r
    }

    /// Where byte `offset` of an old value of `old_ty` lives in the new
    /// value of `new_ty`.
    pub fn map_offset(&self, old_ty: TypeId, new_ty: TypeId, offset: u64) -> Option<u64> {
        self.types.map_offset(old_ty, new_ty, offset)
    }
}
