//! Where a pointer comes from and how the program uses it.
//!
//! Both questions are asked of unoptimised IR (`-disable-llvm-passes`), in
//! which every C local is an alloca: `void *p = malloc(n); struct node *q =
//! p;` is a store of the call into `p`'s slot, a load, a bitcast and a store
//! into `q`'s slot. So both directions follow values through casts and
//! through local slots, and nothing else: a value stored into memory that is
//! not a local slot (a field, a global) is out of sight, which is what makes
//! an answer "unknown" rather than a guess.

use std::collections::HashSet;

use llvm_sys::target::{LLVMABISizeOfType, LLVMOffsetOfElement, LLVMTargetDataRef};
use llvm_sys::{LLVMOpcode, LLVMTypeKind};

use crate::ir::{self, Type, Value};
use crate::slots::{self, Reach};

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

/// Follows `start` forward through the instructions of `function`.
///
/// `start` is either the pointer value itself or, for
/// `posix_memalign(&p, ...)`, the pointer through which it is stored.
/// Scanning in program order and repeating until nothing new is tracked
/// keeps "first" meaningful and terminates: the tracked sets only grow.
pub fn use_evidence(function: Value, start: Start) -> UseEvidence {
    let mut values: HashSet<Value> = HashSet::new();
    let mut slots: HashSet<Value> = HashSet::new();
    let mut ev = UseEvidence::default();
    match start {
        Start::Value(v) => {
            values.insert(v);
            // A call through `bitcast (@malloc to %T* (...))` yields %T*.
            note_pointer_type(ir::type_of(v), &mut ev);
        }
        Start::StoredThrough(ptr) => stored_into(ptr, &mut slots, &mut ev),
    }
    if ev.typed.is_some() {
        return ev;
    }
    let insts = ir::instructions(function);
    loop {
        let before = values.len() + slots.len();
        for &i in &insts {
            step(i, &mut values, &mut slots, &mut ev);
        }
        if values.len() + slots.len() == before {
            break;
        }
    }
    ev
}

/// Records the pointee of a pointer type if it says more than "bytes".
fn note_pointer_type(t: Type, ev: &mut UseEvidence) -> bool {
    match ir::pointee(t) {
        Some(p) if !ir::is_i8(p) => {
            ev.typed.get_or_insert(p);
            true
        }
        _ => false,
    }
}

/// Where a pointer stored through `ptr` ends up: a typed slot gives the
/// type, an `i8*` local slot is followed.
fn stored_into(ptr: Value, slots: &mut HashSet<Value>, ev: &mut UseEvidence) {
    let base = ir::strip_casts(ptr);
    // `base` has type T**; the stored pointer is used as T*.
    if let Some(slot_ty) = ir::pointee(ir::type_of(base)) {
        if note_pointer_type(slot_ty, ev) {
            return;
        }
    }
    if ir::is_alloca(base) {
        slots.insert(base);
    }
}

fn step(i: Value, values: &mut HashSet<Value>, slots: &mut HashSet<Value>, ev: &mut UseEvidence) {
    let Some(op) = ir::opcode(i) else { return };
    let ops = ir::operands(i);
    match op {
        LLVMOpcode::LLVMBitCast | LLVMOpcode::LLVMAddrSpaceCast
            if values.contains(&ops[0])
                && !note_pointer_type(ir::type_of(i), ev)
                && ir::is_pointer(ir::type_of(i)) =>
        {
            values.insert(i);
        }
        LLVMOpcode::LLVMStore => {
            let (val, ptr) = (ops[0], ops[1]);
            if values.contains(&val) {
                stored_into(ptr, slots, ev);
            }
            if values.contains(&ptr) && ir::is_i8(ir::type_of(val)) {
                ev.bytes = true;
            }
        }
        LLVMOpcode::LLVMLoad => {
            let ptr = ops[0];
            let slot = ir::strip_casts(ptr);
            if slots.contains(&slot) && ir::is_pointer(ir::type_of(i)) && reads_tracked(i, slot, values) {
                // Loading the slot through a cast to a typed slot type
                // (`load %T*, %T** bitcast(i8** %p)`) types it.
                if !note_pointer_type(ir::type_of(i), ev) {
                    values.insert(i);
                }
            }
            if values.contains(&ptr) && ir::is_i8(ir::type_of(i)) {
                ev.bytes = true;
            }
        }
        LLVMOpcode::LLVMGetElementPtr
            if values.contains(&ops[0]) && ir::gep_source_type(i).is_some_and(ir::is_i8) =>
        {
            ev.bytes = true;
        }
        LLVMOpcode::LLVMPHI | LLVMOpcode::LLVMSelect => {
            let incoming = if op == LLVMOpcode::LLVMSelect { &ops[1..] } else { &ops[..] };
            if incoming.iter().any(|v| values.contains(v)) && ir::is_pointer(ir::type_of(i)) {
                values.insert(i);
            }
        }
        _ => {}
    }
}

/// Whether a load of a slot known to hold the pointer reads it: some store
/// reaching the load stores a tracked value. A slot whose address escapes
/// (`posix_memalign(&p, ...)` writes it) is answered by "always".
fn reads_tracked(load: Value, slot: Value, values: &HashSet<Value>) -> bool {
    match slots::reaching(load, slot) {
        Some(reach) => reach.iter().any(|r| matches!(r, Reach::Store(s) if values.contains(&ir::operand(*s, 0)))),
        None => true,
    }
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
/// returns fresh memory.
pub fn origin(values: &[Value], td: LLVMTargetDataRef, is_allocating: &dyn Fn(&str) -> bool) -> Option<Origin> {
    let mut visiting = HashSet::new();
    match agree(values.iter().map(|&v| back(v, td, is_allocating, &mut visiting)))? {
        Back::Alloc(o) => Some(o),
        Back::Null => None,
    }
}

/// Every value must agree; nulls agree with everything.
fn agree(items: impl IntoIterator<Item = Option<Back>>) -> Option<Back> {
    let mut found = Back::Null;
    for item in items {
        match (item?, &found) {
            (Back::Null, _) => {}
            (b, Back::Null) => found = b,
            (b, f) if &b == f => {}
            _ => return None,
        }
    }
    Some(found)
}

fn back(v: Value, td: LLVMTargetDataRef, is_alloc: &dyn Fn(&str) -> bool, visiting: &mut HashSet<Value>) -> Option<Back> {
    if ir::is_null_constant(v) {
        return Some(Back::Null);
    }
    // A cycle (a phi feeding itself) adds no new origin.
    if !visiting.insert(v) {
        return Some(Back::Null);
    }
    let op = ir::opcode(v)?;
    let result = match op {
        LLVMOpcode::LLVMBitCast | LLVMOpcode::LLVMAddrSpaceCast => back(ir::operand(v, 0), td, is_alloc, visiting),
        LLVMOpcode::LLVMGetElementPtr => {
            let off = gep_offset(v, td)?;
            match back(ir::operand(v, 0), td, is_alloc, visiting)? {
                Back::Alloc(o) => Some(Back::Alloc(Origin { offset: o.offset + off, ..o })),
                Back::Null => None,
            }
        }
        LLVMOpcode::LLVMCall if ir::is_instruction(v) => {
            let callee = ir::called_function(v)?;
            let name = ir::name(callee);
            is_alloc(&name).then_some(Back::Alloc(Origin { callee: name, call: v, offset: 0 }))
        }
        LLVMOpcode::LLVMPHI => {
            let ops = ir::operands(v);
            agree(ops.into_iter().map(|o| back(o, td, is_alloc, visiting)))
        }
        LLVMOpcode::LLVMSelect => {
            let ops = ir::operands(v);
            agree(ops[1..].iter().map(|&o| back(o, td, is_alloc, visiting)))
        }
        LLVMOpcode::LLVMLoad if ir::is_instruction(v) => {
            let slot = ir::strip_casts(ir::operand(v, 0));
            if !ir::is_alloca(slot) {
                return None;
            }
            let reach = slots::reaching(v, slot)?;
            agree(reach.into_iter().map(|r| match r {
                Reach::Null => Some(Back::Null),
                Reach::Store(s) => back(ir::operand(s, 0), td, is_alloc, visiting),
            }))
        }
        _ => None,
    };
    visiting.remove(&v);
    result
}

/// Byte offset of a GEP with constant indices, per the module's layout.
pub fn gep_offset(gep: Value, td: LLVMTargetDataRef) -> Option<i64> {
    let ops = ir::operands(gep);
    let mut ty = ir::gep_source_type(gep)?;
    let mut off = 0i64;
    for (k, &idx) in ops[1..].iter().enumerate() {
        let n = ir::const_int(idx)?;
        if k == 0 {
            off += n * size_of(td, ty);
            continue;
        }
        match ir::kind(ty) {
            LLVMTypeKind::LLVMStructTypeKind => {
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
    Some(off)
}

fn size_of(td: LLVMTargetDataRef, ty: Type) -> i64 {
    unsafe { LLVMABISizeOfType(td, ty) as i64 }
}
