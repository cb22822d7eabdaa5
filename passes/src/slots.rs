//! What a load from a local slot can read, at -O0.
//!
//! Unoptimised IR keeps every C local in an alloca, so "what is returned"
//! is usually a load of a slot that was stored more than once: `p =
//! malloc(n + 8); if (p) { *p = n; p++; } return p;`. Taking every store
//! to the slot would mix `p` and `p + 1`; the stores that *reach* the load
//! (the last store on each path back to it) do not. A path that leaves a
//! branch on `p == NULL` by its null side reads null there, which is how a
//! null check is seen through. Slots whose address escapes (passed to a
//! call, stored) can change behind our back and are not answered.

use std::collections::{HashMap, HashSet};

use llvm_sys::core::*;
use llvm_sys::prelude::LLVMBasicBlockRef;
use llvm_sys::{LLVMIntPredicate, LLVMOpcode};

use crate::ir::{self, Value};

/// What one path to the load reads from the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The value of this store instruction.
    Store(Value),
    /// The path passed the null side of a null check of the slot.
    Null,
}

/// The predecessors of every block of one function, computed once: the C
/// API only gives successors.
pub struct Cfg {
    preds: HashMap<LLVMBasicBlockRef, Vec<LLVMBasicBlockRef>>,
}

impl Cfg {
    pub fn of(function: Value) -> Self {
        Cfg { preds: predecessors(function) }
    }

    /// The stores that reach `load` of the local slot `slot`, or `None`
    /// when the slot escapes or can be read uninitialised.
    pub fn reaching(&self, load: Value, slot: Value) -> Option<Vec<Reach>> {
        reaching(&self.preds, load, slot)
    }
}

fn reaching(
    preds: &HashMap<LLVMBasicBlockRef, Vec<LLVMBasicBlockRef>>,
    load: Value,
    slot: Value,
) -> Option<Vec<Reach>> {
    if escapes(slot) {
        return None;
    }
    let writes = |i: Value| {
        ir::opcode(i) == Some(LLVMOpcode::LLVMStore) && ir::strip_casts(ir::operand(i, 1)) == slot
    };
    let mut out = Vec::new();
    // The load's own block, from just before the load.
    let block = unsafe { LLVMGetInstructionParent(load) };
    if let Some(s) = last_before(unsafe { LLVMGetPreviousInstruction(load) }, &writes) {
        return Some(vec![Reach::Store(s)]);
    }
    let mut seen: HashSet<LLVMBasicBlockRef> = HashSet::new();
    let mut work: Vec<LLVMBasicBlockRef> = vec![block];
    while let Some(b) = work.pop() {
        let from = preds.get(&b).map(Vec::as_slice).unwrap_or(&[]);
        if from.is_empty() {
            // The entry block: the slot is read before any store.
            return None;
        }
        for &p in from {
            if null_edge(p, b, slot) {
                out.push(Reach::Null);
                continue;
            }
            if !seen.insert(p) {
                continue;
            }
            match last_before(unsafe { LLVMGetLastInstruction(p) }, &writes) {
                Some(s) => out.push(Reach::Store(s)),
                None => work.push(p),
            }
        }
    }
    out.dedup();
    Some(out)
}

/// The last instruction satisfying `pred` at or before `i` in its block.
fn last_before(mut i: Value, pred: &dyn Fn(Value) -> bool) -> Option<Value> {
    while !i.is_null() {
        if pred(i) {
            return Some(i);
        }
        i = unsafe { LLVMGetPreviousInstruction(i) };
    }
    None
}

fn predecessors(f: Value) -> HashMap<LLVMBasicBlockRef, Vec<LLVMBasicBlockRef>> {
    let mut preds: HashMap<LLVMBasicBlockRef, Vec<LLVMBasicBlockRef>> = HashMap::new();
    unsafe {
        let mut b = LLVMGetFirstBasicBlock(f);
        while !b.is_null() {
            let t = LLVMGetBasicBlockTerminator(b);
            if !t.is_null() {
                for k in 0..LLVMGetNumSuccessors(t) {
                    preds.entry(LLVMGetSuccessor(t, k)).or_default().push(b);
                }
            }
            b = LLVMGetNextBasicBlock(b);
        }
    }
    preds
}

/// Whether `pred` ends in a branch on `slot == NULL` (or `!= NULL`) whose
/// null side leads to `succ`.
fn null_edge(pred: LLVMBasicBlockRef, succ: LLVMBasicBlockRef, slot: Value) -> bool {
    unsafe {
        let t = LLVMGetBasicBlockTerminator(pred);
        if t.is_null() || LLVMGetInstructionOpcode(t) != LLVMOpcode::LLVMBr || LLVMIsConditional(t) == 0 {
            return false;
        }
        let cond = LLVMGetCondition(t);
        if LLVMIsAICmpInst(cond).is_null() {
            return false;
        }
        let (a, b) = (ir::operand(cond, 0), ir::operand(cond, 1));
        let tested = if ir::is_null_constant(b) {
            a
        } else if ir::is_null_constant(a) {
            b
        } else {
            return false;
        };
        let tested = ir::strip_casts(tested);
        if ir::opcode(tested) != Some(LLVMOpcode::LLVMLoad) || ir::strip_casts(ir::operand(tested, 0)) != slot {
            return false;
        }
        // Successor 0 is taken when the condition holds.
        let null_side = match LLVMGetICmpPredicate(cond) {
            LLVMIntPredicate::LLVMIntEQ => LLVMGetSuccessor(t, 0),
            LLVMIntPredicate::LLVMIntNE => LLVMGetSuccessor(t, 1),
            _ => return false,
        };
        let other = if null_side == LLVMGetSuccessor(t, 0) { LLVMGetSuccessor(t, 1) } else { LLVMGetSuccessor(t, 0) };
        null_side == succ && other != succ
    }
}

/// Whether the slot's address is used other than to load, store to, or
/// mark its lifetime.
fn escapes(slot: Value) -> bool {
    let mut work = vec![slot];
    while let Some(p) = work.pop() {
        for u in ir::users(p) {
            match ir::opcode(u) {
                Some(LLVMOpcode::LLVMLoad) => {}
                Some(LLVMOpcode::LLVMStore) if ir::operand(u, 1) == p && ir::operand(u, 0) != p => {}
                Some(LLVMOpcode::LLVMBitCast) => work.push(u),
                Some(LLVMOpcode::LLVMCall)
                    if ir::called_function(u).is_some_and(|f| ir::name(f).starts_with("llvm.lifetime.")) => {}
                _ => return true,
            }
        }
    }
    false
}
