//! Allocation wrappers defined in this translation unit.
//!
//! A wrapper is a function whose every returned pointer traces back to one
//! allocating call (a libc allocator or another wrapper of this unit), at a
//! constant offset: `xmalloc` (offset 0) or a size-header allocator that
//! returns `p + 8`. Calls to a wrapper are retagged with the caller's site,
//! so the heap is typed by what the caller does with the memory rather
//! than by the wrapper's `void *`. Wrappers of wrappers need a fixpoint:
//! `_alloc` is only a wrapper once `zmalloc` is known to be one.

use std::collections::{HashMap, HashSet};

use llvm_sys::prelude::LLVMModuleRef;
use llvm_sys::target::LLVMGetModuleDataLayout;
use llvm_sys::LLVMOpcode;
use lucc_abi::fragment::WrapperRecord;
use lucc_abi::symbols::{self, AllocKind};

use crate::ir::{self, Value};
use crate::slots::Cfg;
use crate::value_flow;

#[derive(Debug, Default)]
pub struct Wrappers {
    pub records: Vec<WrapperRecord>,
    names: HashSet<String>,
    /// The allocating call inside each wrapper whose result it returns,
    /// with the offset the wrapper returns past it.
    inner_calls: HashMap<Value, i64>,
}

impl Wrappers {
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// The offset past `call`'s result that a wrapper returns, if `call`
    /// is a wrapper's inner allocation.
    pub fn inner_offset(&self, call: Value) -> Option<i64> {
        self.inner_calls.get(&call).copied()
    }
}

/// Finds the wrappers of a module.
pub struct WrapperPass;

impl WrapperPass {
    pub fn run(&self, module: LLVMModuleRef) -> Wrappers {
        let td = unsafe { LLVMGetModuleDataLayout(module) };
        let mut found = Wrappers::default();
        let candidates: Vec<Value> = ir::functions(module)
            .into_iter()
            .filter(|&f| !ir::is_declaration(f) && ir::is_pointer(ir::return_type(f)))
            .collect();
        loop {
            let mut grew = false;
            for &f in &candidates {
                let name = ir::name(f);
                if found.contains(&name) {
                    continue;
                }
                let returned: Vec<Value> = ir::instructions(f)
                    .into_iter()
                    .filter(|&i| ir::opcode(i) == Some(LLVMOpcode::LLVMRet))
                    .filter_map(|r| ir::operands(r).first().copied())
                    .collect();
                if returned.is_empty() {
                    continue;
                }
                let is_allocating = |callee: &str| {
                    callee != name
                        && (found.contains(callee)
                            || symbols::allocator(callee)
                                .is_some_and(|a| !matches!(a.kind, AllocKind::Free | AllocKind::PosixMemalign)))
                };
                if let Some(o) = value_flow::origin(&returned, &Cfg::of(f), td, &is_allocating) {
                    found.records.push(WrapperRecord { name: name.clone(), inner: o.callee, offset: o.offset });
                    found.names.insert(name);
                    found.inner_calls.insert(o.call, o.offset);
                    grew = true;
                }
            }
            if !grew {
                return found;
            }
        }
    }
}
