//! Where a pointer comes from and how the program uses it.
//!
//! Both questions are asked of unoptimised IR (`-disable-llvm-passes`), in
//! which every C local is an alloca: `void *p = malloc(n); struct node *q =
//! p;` is a store of the call into `p`'s slot, a load, a bitcast and a store
//! into `q`'s slot. So both directions follow values through casts and
//! through local slots, and nothing else: a value stored into memory that is
//! not a local slot (a field, a global) is out of sight, which is what makes
//! an answer "unknown" rather than a guess.

use std::collections::{HashMap, HashSet};

use llvm_sys::target::{LLVMABISizeOfType, LLVMOffsetOfElement, LLVMTargetDataRef};
use llvm_sys::{LLVMOpcode, LLVMTypeKind};

use lucc_abi::symbols::AllocKind;

use crate::ir::{self, Type, Value};
use crate::slots::{Cfg, Reach};
use crate::strings;

/// What the uses of a pointer say about the memory it points to.
#[derive(Debug, Default)]
pub struct UseEvidence {
    /// The first pointee type other than `i8` the program gives the
    /// pointer, in program order.
    pub typed: Option<Type>,
    /// The pointer is read, written or indexed as bytes.
    pub bytes: bool,
}

/// Where forward tracing starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// The pointer itself (an allocator call's result).
    Value(Value),
    /// The pointer is stored through this `i8**` operand.
    StoredThrough(Value),
}

/// One function's facts shared by every trace through it: built once, so
/// that tracing many sites of one large function stays linear per site.
pub struct FunctionFlow {
    cfg: Cfg,
    /// Position of each instruction in program (block layout) order.
    order: HashMap<Value, usize>,
}

impl FunctionFlow {
    pub fn new(function: Value) -> Self {
        let order = ir::instructions(function).into_iter().enumerate().map(|(k, i)| (i, k)).collect();
        FunctionFlow { cfg: Cfg::of(function), order }
    }

    /// Follows `start` forward through its users, casts and local slots.
    /// The tracked sets only grow, so the trace terminates; evidence
    /// carries its instruction's position so that "first" means first in
    /// program order whatever order the uses are visited in.
    pub fn use_evidence(&self, start: Start) -> UseEvidence {
        let mut t = Tracer::default_for(self);
        match start {
            // A call through `bitcast (@malloc to %T* (...))` yields %T*.
            Start::Value(v) => {
                if !t.note(ir::type_of(v), 0) {
                    t.track(v);
                }
            }
            Start::StoredThrough(ptr) => t.stored_into(ptr, 0),
        }
        t.run();
        UseEvidence { typed: t.typed.map(|(_, ty)| ty), bytes: t.bytes }
    }
}

struct Tracer<'a> {
    flow: &'a FunctionFlow,
    values: HashSet<Value>,
    slots: HashSet<Value>,
    work: Vec<Value>,
    slot_work: Vec<Value>,
    /// Loads of tracked slots not (yet) known to read the pointer.
    pending: Vec<(Value, Value)>,
    typed: Option<(usize, Type)>,
    bytes: bool,
}

impl<'a> Tracer<'a> {
    fn default_for(flow: &'a FunctionFlow) -> Self {
        Tracer {
            flow,
            values: HashSet::new(),
            slots: HashSet::new(),
            work: Vec::new(),
            slot_work: Vec::new(),
            pending: Vec::new(),
            typed: None,
            bytes: false,
        }
    }

    fn pos(&self, i: Value) -> usize {
        self.flow.order.get(&i).copied().unwrap_or(usize::MAX)
    }

    fn track(&mut self, v: Value) {
        if self.values.insert(v) {
            self.work.push(v);
        }
    }

    /// Records the pointee of a pointer type if it says more than "bytes".
    fn note(&mut self, t: Type, pos: usize) -> bool {
        match ir::pointee(t) {
            Some(p) if !ir::is_i8(p) => {
                if self.typed.is_none_or(|(at, _)| pos < at) {
                    self.typed = Some((pos, p));
                }
                true
            }
            _ => false,
        }
    }

    /// Where a pointer stored through `ptr` ends up: a typed slot gives
    /// the type, an `i8*` local slot is followed.
    fn stored_into(&mut self, ptr: Value, pos: usize) {
        let base = ir::strip_casts(ptr);
        // `base` has type T**; the stored pointer is used as T*.
        if let Some(slot_ty) = ir::pointee(ir::type_of(base)) {
            if self.note(slot_ty, pos) {
                return;
            }
        }
        if ir::is_alloca(base) && self.slots.insert(base) {
            self.slot_work.push(base);
        }
    }

    fn run(&mut self) {
        loop {
            while let Some(v) = self.work.pop() {
                for u in ir::users(v) {
                    self.visit(u, v);
                }
            }
            while let Some(slot) = self.slot_work.pop() {
                for load in loads_of(slot) {
                    self.pending.push((load, slot));
                }
            }
            // A load reads the pointer if a store of it reaches the load;
            // newly tracked values may make more loads qualify.
            let pending = std::mem::take(&mut self.pending);
            let mut progressed = false;
            for (load, slot) in pending {
                if self.reads_tracked(load, slot) {
                    progressed = true;
                    // Loading the slot through a cast to a typed slot type
                    // (`load %T*, %T** bitcast(i8** %p)`) types it.
                    if !self.note(ir::type_of(load), self.pos(load)) {
                        self.track(load);
                    }
                } else {
                    self.pending.push((load, slot));
                }
            }
            if !progressed && self.work.is_empty() && self.slot_work.is_empty() {
                return;
            }
        }
    }

    /// A slot whose address escapes (`posix_memalign(&p, ...)` writes it)
    /// is taken to hold the pointer at every load.
    fn reads_tracked(&self, load: Value, slot: Value) -> bool {
        match self.flow.cfg.reaching(load, slot) {
            Some(reach) => {
                reach.iter().any(|r| matches!(r, Reach::Store(s) if self.values.contains(&ir::operand(*s, 0))))
            }
            None => true,
        }
    }

    fn visit(&mut self, u: Value, v: Value) {
        if !ir::is_instruction(u) {
            return;
        }
        let Some(op) = ir::opcode(u) else { return };
        let pos = self.pos(u);
        match op {
            LLVMOpcode::LLVMBitCast | LLVMOpcode::LLVMAddrSpaceCast
                if !self.note(ir::type_of(u), pos) && ir::is_pointer(ir::type_of(u)) =>
            {
                self.track(u);
            }
            LLVMOpcode::LLVMStore => {
                let (val, ptr) = (ir::operand(u, 0), ir::operand(u, 1));
                if val == v {
                    self.stored_into(ptr, pos);
                }
                if ptr == v && ir::is_i8(ir::type_of(val)) {
                    self.bytes = true;
                }
            }
            LLVMOpcode::LLVMLoad if ir::is_i8(ir::type_of(u)) => self.bytes = true,
            LLVMOpcode::LLVMGetElementPtr
                if ir::operand(u, 0) == v && ir::gep_source_type(u).is_some_and(ir::is_i8) =>
            {
                self.bytes = true;
            }
            LLVMOpcode::LLVMCall if passes_as_string(u, v) => self.bytes = true,
            LLVMOpcode::LLVMPHI if ir::is_pointer(ir::type_of(u)) => self.track(u),
            // A select's condition is not the pointer flowing through it.
            LLVMOpcode::LLVMSelect if ir::operand(u, 0) != v && ir::is_pointer(ir::type_of(u)) => self.track(u),
            _ => {}
        }
    }
}

/// Whether `call` passes `v` to a string function as one of its fixed
/// `char *` parameters (a variadic `%s` argument could as well be `%p`).
fn passes_as_string(call: Value, v: Value) -> bool {
    let Some(f) = ir::called_function(call) else { return false };
    if !ir::is_declaration(f) || !strings::takes_strings(&ir::name(f)) {
        return false;
    }
    let params = ir::param_types(f);
    ir::call_args(call)
        .iter()
        .zip(&params)
        .any(|(&a, &t)| a == v && ir::pointee(t).is_some_and(ir::is_i8))
}

/// The loads of a local slot, directly or through casts of it.
fn loads_of(slot: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut work = vec![slot];
    while let Some(p) = work.pop() {
        for u in ir::users(p) {
            match ir::opcode(u) {
                Some(LLVMOpcode::LLVMLoad) if ir::is_instruction(u) && ir::is_pointer(ir::type_of(u)) => out.push(u),
                Some(LLVMOpcode::LLVMBitCast | LLVMOpcode::LLVMAddrSpaceCast) => work.push(u),
                _ => {}
            }
        }
    }
    out
}

/// The allocation a returned pointer comes from: the called function's
/// name and the constant byte offset of the pointer past its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub callee: String,
    /// The call instruction producing the allocation.
    pub call: Value,
    pub offset: i64,
}

/// A returned pointer in libc terms: which libc allocator's result it is
/// derived from, through this unit's wrappers, and how far past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Base {
    pub kind: AllocKind,
    pub offset: i64,
}

/// What tracing a value back found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Back {
    /// A null constant: the failure path of a null check, compatible with
    /// any allocation.
    Null,
    Alloc(Origin),
}

/// Traces `values` (say, every returned value of a function) back to one
/// allocating call they all agree on; nulls (null-check failure paths)
/// agree with anything. `is_allocating` says whether a called function
/// returns fresh memory; `base` what a called function's result is in
/// libc terms, where this unit knows.
pub fn origin(
    values: &[Value],
    cfg: &Cfg,
    td: LLVMTargetDataRef,
    is_allocating: &dyn Fn(&str) -> bool,
    base: &dyn Fn(&str) -> Option<Base>,
) -> Option<Origin> {
    let mut b = BackTrace { cfg, td, is_alloc: is_allocating, base, visiting: HashSet::new() };
    let items: Vec<Option<Back>> = values.iter().map(|&v| b.back(v)).collect();
    match b.agree(items)? {
        Back::Alloc(o) => Some(o),
        Back::Null => None,
    }
}

/// One backward trace: the function's CFG, the layout, which callees
/// allocate, and the values on the current path (to stop at cycles).
struct BackTrace<'a> {
    cfg: &'a Cfg,
    td: LLVMTargetDataRef,
    is_alloc: &'a dyn Fn(&str) -> bool,
    base: &'a dyn Fn(&str) -> Option<Base>,
    visiting: HashSet<Value>,
}

impl BackTrace<'_> {
    /// Every value must agree; nulls agree with everything.
    fn agree(&self, items: impl IntoIterator<Item = Option<Back>>) -> Option<Back> {
        let mut found = Back::Null;
        for item in items {
            match (item?, &found) {
                (Back::Null, _) => {}
                (b, Back::Null) => found = b,
                (b, f) if &b == f => {}
                (Back::Alloc(b), Back::Alloc(f)) => found = Back::Alloc(self.realloc_of_null(f, &b)?),
            }
        }
        Some(found)
    }

    /// A realloc wrapper hands a null pointer to its malloc wrapper
    /// (`if (!p) return zmalloc(n); ... return realloc(p - 8, n + 8) + 8`),
    /// as realloc(NULL, n) is malloc(n): the two paths agree when they give
    /// a block at the same offset, and the realloc is the origin. Any other
    /// choice between two allocations is not one allocation.
    fn realloc_of_null(&self, a: &Origin, b: &Origin) -> Option<Origin> {
        let libc = |o: &Origin| (self.base)(&o.callee).map(|x| Base { offset: x.offset + o.offset, ..x });
        let (x, y) = (libc(a)?, libc(b)?);
        let is_realloc = |k: AllocKind| matches!(k, AllocKind::Realloc | AllocKind::ReallocArray);
        let is_fresh = |k: AllocKind| matches!(k, AllocKind::Malloc | AllocKind::Calloc);
        if x.offset != y.offset {
            return None;
        }
        if is_realloc(x.kind) && is_fresh(y.kind) {
            Some(a.clone())
        } else if is_fresh(x.kind) && is_realloc(y.kind) {
            Some(b.clone())
        } else {
            None
        }
    }

    fn back(&mut self, v: Value) -> Option<Back> {
        if ir::is_null_constant(v) {
            return Some(Back::Null);
        }
        // A cycle (a phi feeding itself) adds no new origin.
        if !self.visiting.insert(v) {
            return Some(Back::Null);
        }
        let result = self.back_of(v);
        self.visiting.remove(&v);
        result
    }

    fn back_of(&mut self, v: Value) -> Option<Back> {
        match ir::opcode(v)? {
            LLVMOpcode::LLVMBitCast | LLVMOpcode::LLVMAddrSpaceCast => self.back(ir::operand(v, 0)),
            LLVMOpcode::LLVMGetElementPtr => {
                // `return sh->buf`: the address of a field is part of the
                // object the program declared (header and data in one
                // record, as sds does), not an object of its own.
                let (off, into_field) = gep_offset(v, self.td)?;
                if into_field {
                    return None;
                }
                match self.back(ir::operand(v, 0))? {
                    Back::Alloc(o) => Some(Back::Alloc(Origin { offset: o.offset + off, ..o })),
                    Back::Null => None,
                }
            }
            LLVMOpcode::LLVMCall if ir::is_instruction(v) => {
                let name = ir::name(ir::called_function(v)?);
                (self.is_alloc)(&name).then_some(Back::Alloc(Origin { callee: name, call: v, offset: 0 }))
            }
            LLVMOpcode::LLVMPHI => {
                let items: Vec<Option<Back>> = ir::operands(v).into_iter().map(|o| self.back(o)).collect();
                self.agree(items)
            }
            LLVMOpcode::LLVMSelect => {
                let items: Vec<Option<Back>> = ir::operands(v)[1..].iter().map(|&o| self.back(o)).collect();
                self.agree(items)
            }
            LLVMOpcode::LLVMLoad if ir::is_instruction(v) => {
                let slot = ir::strip_casts(ir::operand(v, 0));
                if !ir::is_alloca(slot) {
                    return None;
                }
                let reach = self.cfg.reaching(v, slot)?;
                let items: Vec<Option<Back>> = reach
                    .into_iter()
                    .map(|r| match r {
                        Reach::Null => Some(Back::Null),
                        Reach::Store(s) => self.back(ir::operand(s, 0)),
                    })
                    .collect();
                self.agree(items)
            }
            _ => None,
        }
    }
}

/// Byte offset of a GEP with constant indices, per the module's layout,
/// and whether it selects a field of a record.
fn gep_offset(gep: Value, td: LLVMTargetDataRef) -> Option<(i64, bool)> {
    let ops = ir::operands(gep);
    let mut ty = ir::gep_source_type(gep)?;
    let mut off = 0i64;
    let mut into_field = false;
    for (k, &idx) in ops[1..].iter().enumerate() {
        let n = ir::const_int(idx)?;
        if k == 0 {
            off += n * size_of(td, ty);
            continue;
        }
        match ir::kind(ty) {
            LLVMTypeKind::LLVMStructTypeKind => {
                into_field = true;
                off += unsafe { LLVMOffsetOfElement(td, ty, n as u32) } as i64;
                ty = unsafe { llvm_sys::core::LLVMStructGetTypeAtIndex(ty, n as u32) };
            }
            LLVMTypeKind::LLVMArrayTypeKind | LLVMTypeKind::LLVMVectorTypeKind => {
                ty = unsafe { llvm_sys::core::LLVMGetElementType(ty) };
                off += n * size_of(td, ty);
            }
            _ => return None,
        }
    }
    Some((off, into_field))
}

fn size_of(td: LLVMTargetDataRef, ty: Type) -> i64 {
    unsafe { LLVMABISizeOfType(td, ty) as i64 }
}
