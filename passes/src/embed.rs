//! Carries the unit's fragment and ABI check into its object file.
//!
//! The fragment is a private constant byte array in its own section: the
//! linker concatenates those sections across objects and archives, and
//! the driver decodes them after linking. The ABI check is a reference to
//! the runtime's versioned symbol, so an object instrumented for another
//! ABI version fails to link instead of misbehaving. Both are added to
//! `@llvm.used` so that no optimisation drops them.

use anyhow::{bail, Result};
use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::LLVMLinkage;
use lucc_abi::fragment::{self, Fragment};
use lucc_abi::symbols;

use crate::ir::{self, Value};

pub struct Embed<'a> {
    pub fragment: &'a Fragment,
}

/// Refuses a module that already carries a fragment: instrumenting twice
/// would pass site ids to runtime functions that take none.
pub fn check_not_instrumented(module: LLVMModuleRef) -> Result<()> {
    let name = ir::cstring(symbols::FRAGMENT_GLOBAL);
    if unsafe { !LLVMGetNamedGlobal(module, name.as_ptr()).is_null() } {
        bail!("the module is already instrumented (it has {})", symbols::FRAGMENT_GLOBAL);
    }
    Ok(())
}

impl Embed<'_> {
    pub fn run(&self, module: LLVMModuleRef) -> Result<()> {
        check_not_instrumented(module)?;
        let name = ir::cstring(symbols::FRAGMENT_GLOBAL);
        unsafe {
            let ctx = LLVMGetModuleContext(module);
            let bytes = fragment::encode(self.fragment);
            let init = LLVMConstStringInContext(ctx, bytes.as_ptr().cast(), bytes.len() as u32, 1);
            let frag = LLVMAddGlobal(module, LLVMTypeOf(init), name.as_ptr());
            LLVMSetInitializer(frag, init);
            LLVMSetGlobalConstant(frag, 1);
            LLVMSetLinkage(frag, LLVMLinkage::LLVMPrivateLinkage);
            let section = ir::cstring(symbols::FRAGMENT_SECTION);
            LLVMSetSection(frag, section.as_ptr());
            LLVMSetAlignment(frag, 1);

            let i8t = LLVMInt8TypeInContext(ctx);
            let check_name = ir::cstring(lucc_abi::ABI_CHECK_SYMBOL);
            let mut check = LLVMGetNamedGlobal(module, check_name.as_ptr());
            if check.is_null() {
                check = LLVMAddGlobal(module, i8t, check_name.as_ptr());
            }
            let ref_name = ir::cstring(symbols::ABI_CHECK_REF_GLOBAL);
            let check_ref = LLVMAddGlobal(module, LLVMPointerType(i8t, 0), ref_name.as_ptr());
            LLVMSetInitializer(check_ref, LLVMConstPointerCast(check, LLVMPointerType(i8t, 0)));
            LLVMSetGlobalConstant(check_ref, 1);
            LLVMSetLinkage(check_ref, LLVMLinkage::LLVMPrivateLinkage);

            append_to_used(module, &[frag, check_ref]);
        }
        Ok(())
    }
}

/// Rebuilds `@llvm.used` with `extra` appended (the C API has no helper).
unsafe fn append_to_used(module: LLVMModuleRef, extra: &[Value]) {
    append_to_list(module, c"llvm.used", extra)
}

/// Rebuilds `@llvm.compiler.used` with `extra` appended: the optimiser
/// must leave these globals as they are, the linker may still drop them.
pub(crate) unsafe fn append_to_compiler_used(module: LLVMModuleRef, extra: &[Value]) {
    append_to_list(module, c"llvm.compiler.used", extra)
}

unsafe fn append_to_list(module: LLVMModuleRef, used_name: &std::ffi::CStr, extra: &[Value]) {
    if extra.is_empty() {
        return;
    }
    let ctx = LLVMGetModuleContext(module);
    let i8p = LLVMPointerType(LLVMInt8TypeInContext(ctx), 0);
    let mut elems = Vec::new();
    let old = LLVMGetNamedGlobal(module, used_name.as_ptr());
    if !old.is_null() {
        let init = LLVMGetInitializer(old);
        if !init.is_null() {
            elems.extend(ir::operands(init));
        }
        LLVMDeleteGlobal(old);
    }
    elems.extend(extra.iter().map(|&g| LLVMConstPointerCast(g, i8p)));
    let init = LLVMConstArray(i8p, elems.as_mut_ptr(), elems.len() as u32);
    let used = LLVMAddGlobal(module, LLVMTypeOf(init), used_name.as_ptr());
    LLVMSetInitializer(used, init);
    LLVMSetLinkage(used, LLVMLinkage::LLVMAppendingLinkage);
    LLVMSetSection(used, c"llvm.metadata".as_ptr());
}
