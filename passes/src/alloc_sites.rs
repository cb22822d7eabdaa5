//! Allocation sites and the types the program gives them.
//!
//! A site is a call to a libc allocator (rewritten to the runtime, direct)
//! or a call to a function that may be an allocation wrapper (followed by a
//! retag, not direct). Its type is read off the IR's typed pointers: the
//! first pointee the result is used as that is not `i8`. A result only ever
//! used as bytes-or-`void *` is `Untyped` unless it is plainly a `char`
//! buffer; the link step resolves names against DWARF, so a wrong guess
//! here would silently mistype the heap, while `Untyped` is honest.

use std::collections::HashSet;

use llvm_sys::prelude::LLVMModuleRef;
use llvm_sys::LLVMTypeKind;
use lucc_abi::fragment::{SiteRecord, SiteType};
use lucc_abi::symbols::{self, AllocKind, Allocator};

use crate::externals;
use crate::ir::{self, Type, Value};
use crate::strings;
use crate::value_flow::{FunctionFlow, Start, UseEvidence};
use crate::wrappers::Wrappers;

/// A site found in the module, with the call that makes it.
#[derive(Debug)]
pub struct Site {
    pub call: Value,
    pub record: SiteRecord,
}

/// Finds and types every allocation site of a module.
pub struct AllocSites<'a> {
    pub source: &'a str,
    pub wrappers: &'a Wrappers,
}

impl AllocSites<'_> {
    pub fn run(&self, module: LLVMModuleRef) -> Vec<Site> {
        let mut sites = Vec::new();
        for f in ir::functions(module) {
            if ir::is_declaration(f) {
                continue;
            }
            let fname = ir::name(f);
            let flow = FunctionFlow::new(f);
            let mut ordinal = 0u32;
            for i in ir::instructions(f) {
                if !ir::is_call(i) {
                    continue;
                }
                let Some(callee) = ir::called_function(i) else { continue };
                let cname = ir::name(callee);
                // A unit may define its own `strndup`: that is an ordinary
                // function (maybe a wrapper), not libc's.
                let libc = if ir::is_declaration(callee) { symbols::allocator(&cname) } else { None };
                let (direct, ty) = if let Some(a) = libc {
                    if a.kind == AllocKind::Free {
                        continue;
                    }
                    (true, self.direct_type(&flow, i, a))
                } else if self.may_be_wrapper(callee, &cname) {
                    let ty = self.retag_type(&flow, i, &cname);
                    if ty == SiteType::Untyped {
                        continue;
                    }
                    (false, ty)
                } else {
                    continue;
                };
                let (file, line) = ir::debug_location(i);
                sites.push(Site {
                    call: i,
                    record: SiteRecord {
                        id: lucc_abi::site_id(self.source, &fname, ordinal),
                        function: fname.clone(),
                        file,
                        line,
                        callee: cname,
                        direct,
                        ty,
                    },
                });
                ordinal += 1;
            }
        }
        sites
    }

    fn direct_type(&self, flow: &FunctionFlow, call: Value, a: &Allocator) -> SiteType {
        // Behind a header, what the wrapper writes at the start of the
        // block (`*(size_t *)p = n`) is the header, not the object: the
        // object's type comes from the retag at the wrapper's caller. A
        // wrapper returning the block itself types it like any caller.
        if self.wrappers.inner_offset(call).is_some_and(|off| off != 0) {
            return SiteType::Untyped;
        }
        let start = if a.kind == AllocKind::PosixMemalign {
            match ir::call_args(call).first() {
                Some(&slot) => Start::StoredThrough(slot),
                None => return SiteType::Untyped,
            }
        } else {
            Start::Value(call)
        };
        site_type(&flow.use_evidence(start), a.kind == AllocKind::StrDup)
    }

    /// The type a call to a possible wrapper is retagged with: its uses,
    /// or `char` for a `strdup`-like wrapper (the caller may only store the
    /// copy away). Behind a header, as for direct calls, the wrapper's own
    /// uses are the header's, not the object's.
    fn retag_type(&self, flow: &FunctionFlow, call: Value, callee: &str) -> SiteType {
        if self.wrappers.inner_offset(call).is_some_and(|off| off != 0) {
            return SiteType::Untyped;
        }
        let chars = self.wrappers.chain(callee).iter().any(|w| strings::is_strdup_like(w));
        site_type(&flow.use_evidence(Start::Value(call)), chars)
    }

    /// A wrapper of this unit, or an external function that might be one
    /// in another unit.
    fn may_be_wrapper(&self, callee: Value, name: &str) -> bool {
        self.wrappers.contains(name) || externals::may_be_wrapper_elsewhere(callee)
    }
}

/// The site type the evidence supports; `chars` when the allocator itself
/// makes a `char` buffer (`strdup`).
pub fn site_type(ev: &UseEvidence, chars: bool) -> SiteType {
    match ev.typed {
        Some(t) => pointee_type(t, &mut HashSet::new()),
        None if chars || ev.bytes => SiteType::Int { bits: 8 },
        None => SiteType::Untyped,
    }
}

fn pointee_type(t: Type, seen: &mut HashSet<Type>) -> SiteType {
    use LLVMTypeKind::*;
    match ir::kind(t) {
        LLVMIntegerTypeKind => SiteType::Int { bits: ir::int_width(t).unwrap_or(8) },
        LLVMHalfTypeKind | LLVMBFloatTypeKind => SiteType::Float { bits: 16 },
        LLVMFloatTypeKind => SiteType::Float { bits: 32 },
        LLVMDoubleTypeKind => SiteType::Float { bits: 64 },
        LLVMX86_FP80TypeKind => SiteType::Float { bits: 80 },
        LLVMFP128TypeKind | LLVMPPC_FP128TypeKind => SiteType::Float { bits: 128 },
        LLVMPointerTypeKind => match ir::pointee(t).map(ir::kind) {
            Some(LLVMFunctionTypeKind) => SiteType::FunctionPointer,
            _ => SiteType::Pointer,
        },
        // `int (*a)[4] = malloc(...)`: an array of the element type.
        LLVMArrayTypeKind if seen.insert(t) => {
            pointee_type(unsafe { llvm_sys::core::LLVMGetElementType(t) }, seen)
        }
        LLVMStructTypeKind => match ir::struct_name(t).as_deref().and_then(record_name) {
            Some((name, union)) => SiteType::Record { name, union },
            None => SiteType::Untyped,
        },
        _ => SiteType::Untyped,
    }
}

/// `struct.node` -> (`node`, false), `union.u.12` -> (`u`, true); LLVM
/// appends `.N` when a unit has two types of one name.
pub fn record_name(llvm: &str) -> Option<(String, bool)> {
    let (rest, union) = if let Some(r) = llvm.strip_prefix("struct.") {
        (r, false)
    } else if let Some(r) = llvm.strip_prefix("union.") {
        (r, true)
    } else {
        return None;
    };
    let base = match rest.rsplit_once('.') {
        Some((b, n)) if !b.is_empty() && !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => b,
        _ => rest,
    };
    Some((base.to_string(), union))
}

#[cfg(test)]
mod tests {
    use super::record_name;

    #[test]
    fn record_names_lose_prefix_and_uniquing_suffix() {
        assert_eq!(record_name("struct.node"), Some(("node".into(), false)));
        assert_eq!(record_name("union.u.12"), Some(("u".into(), true)));
        assert_eq!(record_name("struct.v2.x"), Some(("v2.x".into(), false)));
        assert_eq!(record_name("class.C"), None);
    }
}
