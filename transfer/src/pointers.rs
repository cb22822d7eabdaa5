//! Classifying and remapping pointer values of the old process.
//!
//! The heap keeps its addresses across an update (the arena is mapped at the
//! same range in the new process), so a heap pointer changes only when its
//! object was rebuilt because its type changed. Everything that points into
//! the old binary moves with the binary: variables by name (and interior
//! offsets through the field layout), functions by name, string literals by
//! content. The heap registry and the binaries' memory belong to the runtime,
//! so the caller answers those questions through [`PointerSpace`]; the
//! variable and function tables come from the two sidecars.

use std::cell::RefCell;
use std::collections::HashMap;

use lucc_abi::sidecar::{Sidecar, TypeId, Variable};
use lucc_abi::SiteId;

use crate::error::{Result, TransferError};
use crate::report::PointerCounts;
use crate::typemap::TypeMap;

/// A live heap object of the old process, as the runtime's registry knows
/// it. `base` is where the typed object starts (after any size header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapObject {
    pub base: u64,
    pub size: u64,
    pub site: SiteId,
}

/// What becomes of a heap object in the new process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeapFate {
    /// Stays at its address, unchanged.
    Stays,
    /// Stays at its address, rebuilt there on a changed layout.
    ConvertedInPlace,
    /// Rebuilt elsewhere: its new typed base.
    Moved(u64),
}

/// What the engine needs to know about the two processes' memory.
pub trait PointerSpace {
    /// The live heap object of the old process containing `addr`.
    fn heap_object(&self, addr: u64) -> Option<HeapObject>;
    /// [`PointerSpace::heap_object`] and what becomes of it, in one
    /// question: every heap pointer of the old state asks it, so a space
    /// that can answer both from one lookup should.
    fn heap_lookup(&self, addr: u64) -> Option<(HeapObject, HeapFate)> {
        let obj = self.heap_object(addr)?;
        let fate = match self.heap_new_base(&obj) {
            Some(to) => HeapFate::Moved(to),
            None if self.heap_converted_in_place(&obj) => HeapFate::ConvertedInPlace,
            None => HeapFate::Stays,
        };
        Some((obj, fate))
    }
    /// A hint: the pointer value `addr` will be looked up soon (`near`:
    /// within a few objects). A space whose lookups miss the cache can
    /// start loading what they read; the engine gives it while walking
    /// large arrays of pointers.
    fn prefetch(&self, _addr: u64, _near: bool) {}
    /// Where `obj` starts in the new process if it was rebuilt elsewhere;
    /// `None` when it stays at its address.
    fn heap_new_base(&self, _obj: &HeapObject) -> Option<u64> {
        None
    }
    /// Whether `obj` stays at its address but was rebuilt there on a
    /// changed layout: typed pointers into it must follow their field.
    fn heap_converted_in_place(&self, _obj: &HeapObject) -> bool {
        false
    }
    /// True only when `addr` lies in the old heap's range but in no object
    /// that is converted or moved (or in no object at all): a pointer or an
    /// untyped word with that value keeps it, whatever it points at. Asked
    /// first, for every value: a space that can answer from a compact
    /// summary (a bitmap of what changed) saves the object lookup for the
    /// millions of values that stay. False when unsure.
    fn heap_settled(&self, _addr: u64) -> bool {
        false
    }
    /// True only when `addr` certainly lies outside the old heap's range.
    fn outside_heap(&self, _addr: u64) -> bool {
        false
    }
    /// Whether `addr` lies in the old binary's read-only data.
    fn in_old_rodata(&self, _addr: u64) -> bool {
        false
    }
    /// The address of the same bytes (the string literal at `addr` in the
    /// old process) in the new binary.
    fn rodata_in_new(&self, _addr: u64) -> Option<u64> {
        None
    }
}

/// Load biases of position-independent executables (0 for fixed-address
/// ones): runtime address = sidecar address + bias.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Biases {
    pub old: u64,
    pub new: u64,
}

/// Global or static local: the remapper keeps both in one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    Global,
    StaticLocal,
}

/// An old variable and, if it survives, its new counterpart.
#[derive(Debug, Clone)]
pub(crate) struct VarSlot {
    pub start: u64,
    pub end: u64,
    pub kind: VarKind,
    pub name: String,
    pub old_ty: Option<TypeId>,
    /// (link address, type) in the new binary.
    pub new: Option<(u64, Option<TypeId>)>,
}

/// What an old pointer value points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    Null,
    Heap {
        obj: HeapObject,
        offset: u64,
    },
    OldVariable {
        kind: VarKind,
        name: String,
        offset: u64,
    },
    OldFunction {
        name: String,
    },
    OldRodata,
    Unknown,
}

/// Cloned per thread of a parallel conversion (its memo is per thread).
#[derive(Clone)]
pub struct Remapper {
    biases: Biases,
    /// Sorted by `start` (link addresses).
    vars: Vec<VarSlot>,
    /// Old function link address -> (name, new link address).
    functions: HashMap<u64, (String, Option<u64>)>,
    /// Link addresses spanning every old function and variable: a value
    /// outside (most untyped words are) is neither, without a hash.
    image: (u64, u64),
    /// Answers of [`Remapper::heap_delta`]: a program's heap pointers are
    /// millions of the same few (site, pointee, offset) questions, each
    /// otherwise a walk through both sidecars' types.
    heap_memo: RefCell<Vec<Option<HeapMemo>>>,
}

/// Direct-mapped: a collision only costs a recomputation.
const HEAP_MEMO_SLOTS: usize = 1024;

#[derive(Clone, Copy)]
struct HeapMemo {
    site: SiteId,
    pointee: Option<TypeId>,
    offset: u64,
    delta: Option<u64>,
}

fn memo_slot(site: SiteId, pointee: Option<TypeId>, offset: u64) -> usize {
    let k = u64::from(site)
        ^ (u64::from(pointee.map_or(u32::MAX, |p| p)) << 32)
        ^ offset.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (k.wrapping_mul(0xff51_afd7_ed55_8ccd) >> 54) as usize % HEAP_MEMO_SLOTS
}

/// Display name of a variable: `name` or `function::name`.
pub(crate) fn var_name(v: &Variable) -> String {
    if v.function.is_empty() {
        v.name.clone()
    } else {
        format!("{}::{}", v.function, v.name)
    }
}

impl Remapper {
    pub(crate) fn new(
        old: &Sidecar,
        new: &Sidecar,
        biases: Biases,
        mut vars: Vec<VarSlot>,
    ) -> Remapper {
        vars.sort_by_key(|v| v.start);
        let mut by_name: HashMap<&str, Vec<&lucc_abi::sidecar::Function>> = HashMap::new();
        for f in &new.functions {
            by_name.entry(f.name.as_str()).or_default().push(f);
        }
        let functions = old
            .functions
            .iter()
            .map(|f| {
                let cands = by_name
                    .get(f.name.as_str())
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                // Static functions of the same name in two units are told
                // apart by unit; a unique candidate matches regardless.
                let pick = cands
                    .iter()
                    .find(|g| g.unit == f.unit)
                    .or(if cands.len() == 1 {
                        cands.first()
                    } else {
                        None
                    });
                (f.address, (f.name.clone(), pick.map(|g| g.address)))
            })
            .collect();
        let ends = vars
            .iter()
            .map(|v| (v.start, v.end.max(v.start + 1)))
            .chain(old.functions.iter().map(|f| (f.address, f.address + 1)));
        let image = ends.fold((u64::MAX, 0), |(lo, hi), (s, e)| (lo.min(s), hi.max(e)));
        Remapper {
            biases,
            vars,
            functions,
            image,
            heap_memo: RefCell::new(vec![None; HEAP_MEMO_SLOTS]),
        }
    }

    /// Whether link address `link` may be an old function or variable
    /// (or one past a variable's end).
    fn in_image(&self, link: u64) -> bool {
        link >= self.image.0 && link <= self.image.1
    }

    fn var_at(&self, link: u64) -> Option<&VarSlot> {
        let i = self.vars.partition_point(|v| v.start <= link);
        let v = self.vars.get(i.checked_sub(1)?)?;
        (link < v.end.max(v.start + 1)).then_some(v)
    }

    /// The variable `link` is one past the end of (a legal C pointer value).
    fn var_ending_at(&self, link: u64) -> Option<&VarSlot> {
        self.var_at(link.checked_sub(1)?)
            .filter(|v| v.end == link && v.end > v.start)
    }

    /// Whether the old value `v` (a typed pointer or an untyped word) keeps
    /// its value for certain, known without looking up any object: NULL, a
    /// heap address in nothing that changes, or a value in neither the heap
    /// nor the old binary (its variables, functions, read-only data). Most
    /// values of a large state are such; the rest take the full path.
    #[inline]
    pub fn settled(&self, v: u64, space: &dyn PointerSpace) -> bool {
        v == 0
            || space.heap_settled(v)
            || (space.outside_heap(v)
                && !self.in_image(v.wrapping_sub(self.biases.old))
                && !space.in_old_rodata(v))
    }

    /// What the old pointer value `v` points at.
    pub fn classify(&self, v: u64, space: &dyn PointerSpace) -> Class {
        if v == 0 {
            return Class::Null;
        }
        if let Some(obj) = space.heap_object(v) {
            return Class::Heap {
                obj,
                offset: v - obj.base,
            };
        }
        let link = v.wrapping_sub(self.biases.old);
        if !self.in_image(link) {
            return if space.in_old_rodata(v) { Class::OldRodata } else { Class::Unknown };
        }
        if let Some((name, _)) = self.functions.get(&link) {
            return Class::OldFunction { name: name.clone() };
        }
        if let Some(s) = self.var_at(link) {
            return Class::OldVariable {
                kind: s.kind,
                name: s.name.clone(),
                offset: link - s.start,
            };
        }
        if space.in_old_rodata(v) {
            return Class::OldRodata;
        }
        Class::Unknown
    }

    fn variable_target(
        &self,
        v: u64,
        s: &VarSlot,
        offset: u64,
        pointee: Option<TypeId>,
        types: &TypeMap,
    ) -> Result<u64> {
        let Some((new_link, new_ty)) = s.new else {
            return Err(TransferError::VariableGone {
                ptr: v,
                name: s.name.clone(),
            });
        };
        let mapped = match (s.old_ty, new_ty) {
            (Some(o), Some(n)) => types.map_offset_as(o, n, offset, pointee),
            _ if offset == 0 => Some(0),
            _ => None,
        };
        let offset = mapped.ok_or_else(|| TransferError::InteriorGone {
            ptr: v,
            target: s.name.clone(),
            offset,
        })?;
        Ok(new_link + self.biases.new + offset)
    }

    fn heap_target(
        &self,
        v: u64,
        obj: &HeapObject,
        new_base: u64,
        offset: u64,
        pointee: Option<TypeId>,
        types: &TypeMap,
    ) -> Result<u64> {
        if offset == 0 && pointee.is_none() {
            return Ok(new_base);
        }
        let slot = memo_slot(obj.site, pointee, offset);
        let hit = self.heap_memo.borrow()[slot]
            .filter(|m| m.site == obj.site && m.pointee == pointee && m.offset == offset);
        let delta = match hit {
            Some(m) => m.delta,
            None => {
                let delta = Self::heap_delta(obj.site, offset, pointee, types);
                self.heap_memo.borrow_mut()[slot] = Some(HeapMemo {
                    site: obj.site,
                    pointee,
                    offset,
                    delta,
                });
                delta
            }
        };
        delta
            .map(|d| new_base + d)
            .ok_or_else(|| TransferError::InteriorGone {
                ptr: v,
                target: format!("heap object of site {:#x}", obj.site),
                offset,
            })
    }

    /// Where byte `offset` of an object of `site` lies in its new value,
    /// from the new value's start; `None` when the field it is in is gone.
    fn heap_delta(
        site: SiteId,
        offset: u64,
        pointee: Option<TypeId>,
        types: &TypeMap,
    ) -> Option<u64> {
        // The same pairing as `Transfer::site_plan`.
        let o = types.old.site(site).and_then(|s| s.ty);
        let n = match types.new.site(site) {
            Some(s) => s.ty,
            None => o.and_then(|o| types.new_type_for(o)),
        };
        let (Some(o), Some(n)) = (o, n) else {
            return (offset == 0).then_some(0);
        };
        // A block larger than its type holds an array of it.
        let os = types.old.resolve(o).map_or(0, |t| t.size).max(1);
        let ns = types.new.resolve(n).map_or(0, |t| t.size);
        let mapped = types.map_offset_as(o, n, offset % os, pointee)?;
        Some((offset / os) * ns + mapped)
    }

    /// The new value of a typed pointer `v`, counted by class.
    pub fn remap(
        &self,
        v: u64,
        pointee: Option<TypeId>,
        space: &dyn PointerSpace,
        types: &TypeMap,
        counts: &mut PointerCounts,
    ) -> Result<u64> {
        // Most pointers in a heap-heavy program are NULL or point to objects
        // that stay: answer those without building a `Class`, and when the
        // space can tell, without looking the object up.
        if v != 0 && space.heap_settled(v) {
            counts.heap_unchanged += 1;
            return Ok(v);
        }
        if v != 0 {
            if let Some((obj, fate)) = space.heap_lookup(v) {
                return match fate {
                    HeapFate::ConvertedInPlace => {
                        let r = self.heap_target(v, &obj, obj.base, v - obj.base, pointee, types)?;
                        if r == v {
                            counts.heap_unchanged += 1;
                        } else {
                            counts.heap_forwarded += 1;
                        }
                        Ok(r)
                    }
                    HeapFate::Stays => {
                        counts.heap_unchanged += 1;
                        Ok(v)
                    }
                    HeapFate::Moved(nb) => {
                        let r = self.heap_target(v, &obj, nb, v - obj.base, pointee, types)?;
                        counts.heap_forwarded += 1;
                        Ok(r)
                    }
                };
            }
        }
        match self.classify(v, space) {
            Class::Null => {
                counts.null += 1;
                Ok(0)
            }
            Class::Heap { .. } => unreachable!("heap pointers are answered above"),
            Class::OldFunction { name } => {
                let link = v.wrapping_sub(self.biases.old);
                match self.functions.get(&link).and_then(|f| f.1) {
                    Some(n) => {
                        counts.function += 1;
                        Ok(n + self.biases.new)
                    }
                    None => Err(TransferError::FunctionGone { ptr: v, name }),
                }
            }
            Class::OldVariable { offset, .. } => {
                let s = self
                    .var_at(v.wrapping_sub(self.biases.old))
                    .expect("classified as a variable");
                let r = self.variable_target(v, s, offset, pointee, types)?;
                match s.kind {
                    VarKind::Global => counts.global += 1,
                    VarKind::StaticLocal => counts.static_local += 1,
                }
                Ok(r)
            }
            Class::OldRodata => match space.rodata_in_new(v) {
                Some(n) => {
                    counts.rodata += 1;
                    Ok(n)
                }
                None => {
                    counts.rodata_unresolved += 1;
                    Ok(v)
                }
            },
            Class::Unknown => {
                // One past the end of a variable is a legal pointer value
                // that belongs to that variable, not to the next one.
                if let Some(s) = self.var_ending_at(v.wrapping_sub(self.biases.old)) {
                    if let Ok(r) = self.variable_target(v, s, s.end - s.start, None, types) {
                        match s.kind {
                            VarKind::Global => counts.global += 1,
                            VarKind::StaticLocal => counts.static_local += 1,
                        }
                        return Ok(r);
                    }
                }
                counts.unknown += 1;
                Ok(v)
            }
        }
    }

    /// The conservative policy for a word of untyped memory: `Some(new)`
    /// only for the exact start of an old function that still exists or an
    /// address inside an old variable that still exists; heap addresses are
    /// never rewritten (the caller pins the object, see `convert`).
    pub(crate) fn remap_untyped(&self, v: u64, types: &TypeMap) -> Option<u64> {
        let link = v.wrapping_sub(self.biases.old);
        if !self.in_image(link) {
            return None;
        }
        if let Some((_, new)) = self.functions.get(&link) {
            return new.map(|n| n + self.biases.new);
        }
        let s = self.var_at(link)?;
        self.variable_target(v, s, link - s.start, None, types).ok()
    }
}
