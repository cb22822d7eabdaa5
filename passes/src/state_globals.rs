//! Keeps the program's state where the update looks for it.
//!
//! A live update finds globals and static locals by name in the binary's
//! debug info and converts them in memory. At -O2 LLVM's GlobalOpt would
//! rewrite the file-scope ones (internal linkage) that nothing takes the
//! address of: split a struct into one global per field (`stats.0`,
//! `stats.1`), shrink a flag to a bool, turn a global written only in
//! `main` into a local of `main`, or fold it away. Each of those leaves
//! state the update can neither name nor find. Listing them in
//! `@llvm.compiler.used` makes GlobalOpt treat them as used by something
//! it cannot see, so they keep their name, layout and storage; the linker
//! may still drop them. Constants are left to the optimiser: the new
//! version's values are the ones that count.

use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::LLVMLinkage;

use crate::embed::append_to_compiler_used;
use crate::ir::Value;

/// Names that are the compiler's or lucc's own, not program state.
fn is_own(name: &str) -> bool {
    name.starts_with("llvm.") || name.starts_with("__lucc") || name.starts_with(".str") || name.is_empty()
}

/// Adds every defined, writable, internal global of the module to
/// `@llvm.compiler.used`; returns how many.
pub fn keep(module: LLVMModuleRef) -> usize {
    let mut keep: Vec<Value> = Vec::new();
    unsafe {
        let mut g = LLVMGetFirstGlobal(module);
        while !g.is_null() {
            if wants_keeping(g) {
                keep.push(g);
            }
            g = LLVMGetNextGlobal(g);
        }
        append_to_compiler_used(module, &keep);
    }
    keep.len()
}

unsafe fn wants_keeping(g: LLVMValueRef) -> bool {
    if LLVMIsDeclaration(g) != 0 || LLVMIsGlobalConstant(g) != 0 || LLVMIsThreadLocal(g) != 0 {
        return false;
    }
    if !matches!(LLVMGetLinkage(g), LLVMLinkage::LLVMInternalLinkage | LLVMLinkage::LLVMPrivateLinkage) {
        // External globals: GlobalOpt cannot see all their users anyway.
        return false;
    }
    let mut len = 0;
    let name = LLVMGetValueName2(g, &mut len);
    let name = std::str::from_utf8(std::slice::from_raw_parts(name as *const u8, len)).unwrap_or("");
    !is_own(name)
}
