//! Keeps the program's state where the update looks for it.
//!
//! A live update finds globals and static locals by their source names in
//! the binary's debug info and converts them in memory. At -O1 and above
//! LLVM's GlobalOpt rewrites the file-scope ones (internal linkage) whose
//! every use it can see: splits a struct or array into one global per
//! piece used (`blob.0`, `stats.1`; the debug info then describes the
//! variable with `DW_OP_piece`s), shrinks a two-valued one to a flag, turns
//! one written only in `main` into a local of `main`, or deletes it. Each
//! leaves state that the update can neither name nor find. Listing them
//! in `@llvm.compiler.used` makes the optimiser treat them as used by
//! something it cannot see, so they keep their name, layout and storage
//! (the linker may still drop them). Loads and stores through them are
//! still optimised as usual. Constants are left alone: their values are
//! the program's, and the new version's are the ones that count.

use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::LLVMLinkage;

use crate::embed::append_to_compiler_used;
use crate::ir::{self, Value};

/// Names that are the compiler's or lucc's own, not program state.
fn is_own(name: &str) -> bool {
    name.is_empty()
        || name.starts_with("llvm.")
        || name.starts_with("__lucc")
        || name.starts_with(".str")
}

/// Adds every defined, writable, internal global of the module to
/// `@llvm.compiler.used`.
pub fn keep(module: LLVMModuleRef) {
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
}

unsafe fn wants_keeping(g: LLVMValueRef) -> bool {
    if LLVMIsDeclaration(g) != 0 || LLVMIsGlobalConstant(g) != 0 || LLVMIsThreadLocal(g) != 0 {
        return false;
    }
    // External globals are left as they are: GlobalOpt cannot see all
    // their uses.
    matches!(
        LLVMGetLinkage(g),
        LLVMLinkage::LLVMInternalLinkage | LLVMLinkage::LLVMPrivateLinkage
    ) && !is_own(&ir::name(g))
}

#[cfg(test)]
mod tests {
    use inkwell::context::Context;
    use inkwell::memory_buffer::MemoryBuffer;
    use inkwell::values::AsValueRef;

    use super::*;

    const IR: &str = r#"
@blob = internal global [24 x i8] zeroinitializer
@next_id.counter = internal global i32 100
@limit = internal constant i32 3
@shared_total = global i32 0
@per_thread = internal thread_local global i32 0
@elsewhere = external global i32
@.str = private unnamed_addr constant [3 x i8] c"ok\00"
@__lucc_own = internal global i32 0
@llvm.compiler.used = appending global [1 x i8*] [i8* bitcast (i32* @shared_total to i8*)], section "llvm.metadata"
"#;

    fn compiler_used(ir_text: &str) -> Vec<String> {
        let context = Context::create();
        let buffer = MemoryBuffer::create_from_memory_range_copy(ir_text.as_bytes(), "t");
        let module = context
            .create_module_from_ir(buffer)
            .expect("test IR parses");
        keep(module.as_mut_ptr());
        module.verify().expect("module verifies");
        let used = module
            .get_global("llvm.compiler.used")
            .expect("list exists");
        let init = unsafe { LLVMGetInitializer(used.as_value_ref()) };
        ir::operands(init)
            .into_iter()
            .map(|c| ir::name(unsafe { LLVMGetOperand(c, 0) }).to_string())
            .map(|n| if n.is_empty() { "?".into() } else { n })
            .collect()
    }

    #[test]
    fn writable_internal_globals_are_kept_and_nothing_else() {
        let used = compiler_used(IR);
        // What was listed before stays, first.
        assert_eq!(used, ["shared_total", "blob", "next_id.counter"]);
    }
}
