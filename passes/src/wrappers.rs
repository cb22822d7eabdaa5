//! Allocation wrappers defined in this translation unit.
//!
//! A wrapper is a function whose every returned pointer traces back to one
//! allocating call at a constant offset: `xmalloc` (offset 0) or a
//! size-header allocator that returns `p + 8`. The allocating call is to a
//! libc allocator, to another wrapper of this unit, or to a function only
//! declared here that may be a wrapper in another unit (`_dictAlloc` in
//! dict.c returns `zmalloc(size)` from zmalloc.c): the link step chains the
//! records of all units. Calls to a wrapper are retagged with the caller's
//! site, so the heap is typed by what the caller does with the memory
//! rather than by the wrapper's `void *`. Wrappers of wrappers need a
//! fixpoint: `_alloc` is only a wrapper once `zmalloc` is known to be one.

use std::collections::{HashMap, HashSet};

use llvm_sys::prelude::LLVMModuleRef;
use llvm_sys::target::LLVMGetModuleDataLayout;
use llvm_sys::LLVMOpcode;
use lucc_abi::fragment::WrapperRecord;
use lucc_abi::symbols::{self, AllocKind};

use crate::externals;
use crate::ir::{self, Value};
use crate::slots::Cfg;
use crate::value_flow::{self, Base};

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

    /// `name` followed by the inner functions its wrapper records in this
    /// unit lead to: `ht_alloc`, `zmalloc`, `malloc`.
    pub fn chain(&self, name: &str) -> Vec<String> {
        let mut out = vec![name.to_string()];
        while let Some(r) = self.records.iter().find(|r| Some(&r.name) == out.last()) {
            if out.contains(&r.inner) {
                break;
            }
            out.push(r.inner.clone());
        }
        out
    }

    /// What `callee`'s result is, in libc terms: the libc allocator its
    /// chain of this unit's wrappers ends at and the total offset past
    /// that allocator's result. `None` when the chain leaves the unit.
    fn base(&self, callee: &str) -> Option<Base> {
        let chain = self.chain(callee);
        let libc = symbols::allocator(chain.last()?)?;
        let offset = chain
            .iter()
            .filter_map(|w| self.records.iter().find(|r| &r.name == w))
            .map(|r| r.offset)
            .sum();
        Some(Base { kind: libc.kind, offset })
    }
}

/// Finds the wrappers of a module.
pub struct WrapperPass;

impl WrapperPass {
    pub fn run(&self, module: LLVMModuleRef) -> Wrappers {
        let td = unsafe { LLVMGetModuleDataLayout(module) };
        let mut found = Wrappers::default();
        let functions = ir::functions(module);
        let elsewhere: HashSet<String> =
            functions.iter().filter(|&&f| externals::may_be_wrapper_elsewhere(f)).map(|&f| ir::name(f)).collect();
        let candidates: Vec<Value> = functions
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
                            || elsewhere.contains(callee)
                            || symbols::allocator(callee)
                                .is_some_and(|a| !matches!(a.kind, AllocKind::Free | AllocKind::PosixMemalign)))
                };
                let base = |callee: &str| found.base(callee);
                if let Some(o) = value_flow::origin(&returned, &Cfg::of(f), td, &is_allocating, &base) {
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
