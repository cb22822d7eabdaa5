//! Rewrites the module's allocation calls to the runtime.
//!
//! Direct calls to a libc allocator become calls to its runtime
//! replacement with a trailing site id (`free` keeps its arguments); calls
//! to possible wrappers get `__lucc_retag(p, site)` right after them; any
//! other use of an allocator as a value (a callback, a struct field) is
//! redirected to the allocator's `indirect` replacement, which has libc's
//! exact signature, so that no runtime block ever reaches libc's `free`.
//! Runtime functions are declared with canonical C signatures (size_t from
//! the data layout) and arguments are converted to them, because the
//! program's own declaration may be odd (K&R, implicit).

use std::collections::{HashMap, HashSet};

use anyhow::{bail, Result};
use llvm_sys::core::*;
use llvm_sys::debuginfo::{LLVMInstructionGetDebugLoc, LLVMInstructionSetDebugLoc};
use llvm_sys::prelude::*;
use llvm_sys::target::{LLVMGetModuleDataLayout, LLVMIntPtrTypeInContext};
use llvm_sys::{LLVMAttributeReturnIndex, LLVMTypeKind};
use lucc_abi::symbols::{self, AllocKind, Allocator};

use crate::alloc_sites::Site;
use crate::ir::{self, Type, Value};

pub struct Rewrite<'a> {
    pub sites: &'a [Site],
}

/// What the rewrite could not do.
#[derive(Debug, Default)]
pub struct Rewritten {
    /// Calls left as they were (their sites are dropped).
    pub left_alone: HashSet<Value>,
    /// Why, per function: `function: reason`.
    pub skipped: Vec<String>,
}

impl Rewrite<'_> {
    pub fn run(&self, module: LLVMModuleRef) -> Result<Rewritten> {
        let mut rt = Runtime::new(module);
        let mut out = Rewritten::default();
        let site_of: HashMap<Value, &Site> = self.sites.iter().map(|s| (s.call, s)).collect();
        for s in self.sites.iter().filter(|s| !s.record.direct) {
            if let Err(e) = rt.retag_after(s.call, s.record.id) {
                out.left_alone.insert(s.call);
                out.skipped.push(format!("{}: {e}", s.record.function));
            }
        }
        for f in ir::functions(module) {
            if ir::is_declaration(f) {
                continue;
            }
            for i in ir::instructions(f) {
                if !ir::is_call(i) {
                    continue;
                }
                let Some(callee) = ir::called_function(i) else { continue };
                if !ir::is_declaration(callee) {
                    continue;
                }
                let Some(a) = symbols::allocator(&ir::name(callee)) else { continue };
                let site = match (a.kind, site_of.get(&i)) {
                    (AllocKind::Free, _) => None,
                    (_, Some(s)) if s.record.direct => Some(s.record.id),
                    _ => continue,
                };
                if let Err(e) = rt.replace_call(i, a, site) {
                    out.left_alone.insert(i);
                    out.skipped.push(format!("{}: {e}", ir::name(f)));
                }
            }
        }
        for f in ir::functions(module) {
            if !ir::is_declaration(f) {
                continue;
            }
            if let Some(a) = symbols::allocator(&ir::name(f)) {
                rt.redirect_value_uses(f, a)?;
            }
        }
        rt.dispose();
        Ok(out)
    }
}

/// Declarations of the runtime's entry points and a builder to call them.
struct Runtime {
    module: LLVMModuleRef,
    ctx: LLVMContextRef,
    builder: LLVMBuilderRef,
    size_t: Type,
}

impl Runtime {
    fn new(module: LLVMModuleRef) -> Self {
        unsafe {
            let ctx = LLVMGetModuleContext(module);
            let size_t = LLVMIntPtrTypeInContext(ctx, LLVMGetModuleDataLayout(module));
            Runtime { module, ctx, builder: LLVMCreateBuilderInContext(ctx), size_t }
        }
    }

    fn dispose(self) {
        unsafe { LLVMDisposeBuilder(self.builder) }
    }

    fn i8_ptr(&self) -> Type {
        unsafe { LLVMPointerType(LLVMInt8TypeInContext(self.ctx), 0) }
    }

    fn i32(&self) -> Type {
        unsafe { LLVMInt32TypeInContext(self.ctx) }
    }

    /// libc's C signature of `a`: (return type, parameters).
    fn libc_signature(&self, a: &Allocator) -> (Type, Vec<Type>) {
        let (p, z) = (self.i8_ptr(), self.size_t);
        match a.kind {
            AllocKind::Malloc => (p, vec![z]),
            AllocKind::Calloc | AllocKind::Aligned => (p, vec![z, z]),
            AllocKind::Realloc => (p, vec![p, z]),
            AllocKind::ReallocArray => (p, vec![p, z, z]),
            AllocKind::StrDup if a.libc.ends_with("strndup") => (p, vec![p, z]),
            AllocKind::StrDup => (p, vec![p]),
            AllocKind::PosixMemalign => {
                (unsafe { LLVMInt32TypeInContext(self.ctx) }, vec![unsafe { LLVMPointerType(p, 0) }, z, z])
            }
            AllocKind::Free => (unsafe { LLVMVoidTypeInContext(self.ctx) }, vec![p]),
        }
    }

    fn declare(&self, name: &str, ret: Type, params: &[Type], like: Option<Value>) -> Result<(Value, Type)> {
        let mut params = params.to_vec();
        let fty = unsafe { LLVMFunctionType(ret, params.as_mut_ptr(), params.len() as u32, 0) };
        let cname = ir::cstring(name);
        unsafe {
            let existing = LLVMGetNamedFunction(self.module, cname.as_ptr());
            if !existing.is_null() {
                if ir::function_type(existing) != fty {
                    bail!("the unit declares runtime function {name} with another type");
                }
                return Ok((existing, fty));
            }
            let f = LLVMAddFunction(self.module, cname.as_ptr(), fty);
            // malloc-like results alias nothing; keep telling the optimiser.
            if let Some(libc) = like {
                let noalias = LLVMGetEnumAttributeKindForName(c"noalias".as_ptr(), 7);
                let attr = LLVMGetEnumAttributeAtIndex(libc, LLVMAttributeReturnIndex, noalias);
                if !attr.is_null() && ir::is_pointer(ret) {
                    LLVMAddAttributeAtIndex(f, LLVMAttributeReturnIndex, attr);
                }
            }
            Ok((f, fty))
        }
    }

    fn replace_call(&mut self, call: Value, a: &Allocator, site: Option<u32>) -> Result<()> {
        let (ret, mut params) = self.libc_signature(a);
        let args = ir::call_args(call);
        if args.len() != params.len() {
            bail!("call to {} with {} arguments left alone", a.libc, args.len());
        }
        if site.is_some() {
            params.push(self.i32());
        }
        let old_ty = ir::type_of(call);
        let result_used = ir::kind(old_ty) != LLVMTypeKind::LLVMVoidTypeKind && !ir::users(call).is_empty();
        // Check every conversion first, so that a call left alone leaves
        // no half-built instructions behind.
        if !args.iter().zip(&params).all(|(&v, &t)| convertible(ir::type_of(v), t))
            || (result_used && !convertible(ret, old_ty))
        {
            bail!("call to {} with unexpected argument or result types left alone", a.libc);
        }
        let libc = ir::called_function(call);
        let (f, fty) = self.declare(a.runtime, ret, &params, libc)?;
        unsafe {
            LLVMPositionBuilderBefore(self.builder, call);
            let mut new_args: Vec<Value> = args.iter().zip(&params).map(|(&v, &t)| self.convert(v, t)).collect();
            if let Some(id) = site {
                new_args.push(LLVMConstInt(self.i32(), u64::from(id), 0));
            }
            let new = LLVMBuildCall2(self.builder, fty, f, new_args.as_mut_ptr(), new_args.len() as u32, c"".as_ptr());
            LLVMInstructionSetDebugLoc(new, LLVMInstructionGetDebugLoc(call));
            if result_used {
                LLVMReplaceAllUsesWith(call, self.convert(new, old_ty));
            }
            LLVMInstructionEraseFromParent(call);
        }
        Ok(())
    }

    /// Converts `v` to `to` at the builder's position, as C's implicit
    /// conversions would; only called when [`convertible`].
    fn convert(&self, v: Value, to: Type) -> Value {
        let from = ir::type_of(v);
        if from == to {
            return v;
        }
        let (b, name) = (self.builder, c"".as_ptr());
        unsafe {
            match (ir::is_pointer(from), ir::is_pointer(to)) {
                (true, true) => LLVMBuildPointerCast(b, v, to, name),
                (false, false) => LLVMBuildIntCast2(b, v, to, 0, name),
                (true, false) => LLVMBuildPtrToInt(b, v, to, name),
                (false, true) => LLVMBuildIntToPtr(b, v, to, name),
            }
        }
    }

    fn retag_after(&mut self, call: Value, site: u32) -> Result<()> {
        let (f, fty) = self.declare(
            symbols::RETAG,
            unsafe { LLVMVoidTypeInContext(self.ctx) },
            &[self.i8_ptr(), self.i32()],
            None,
        )?;
        unsafe {
            let next = LLVMGetNextInstruction(call);
            if next.is_null() {
                bail!("call without a successor instruction");
            }
            LLVMPositionBuilderBefore(self.builder, next);
            if !convertible(ir::type_of(call), self.i8_ptr()) {
                bail!("retag of a call returning a non-pointer");
            }
            let p = self.convert(call, self.i8_ptr());
            let mut args = [p, LLVMConstInt(self.i32(), u64::from(site), 0)];
            let new = LLVMBuildCall2(self.builder, fty, f, args.as_mut_ptr(), 2, c"".as_ptr());
            LLVMInstructionSetDebugLoc(new, LLVMInstructionGetDebugLoc(call));
        }
        Ok(())
    }

    /// Points remaining uses of libc's `a` (as a value, not a callee) at
    /// its indirect replacement, then drops the libc declaration if unused.
    fn redirect_value_uses(&mut self, libc: Value, a: &Allocator) -> Result<()> {
        if has_value_use(libc, libc) {
            let (ret, params) = self.libc_signature(a);
            let (f, _) = self.declare(a.indirect, ret, &params, Some(libc))?;
            unsafe {
                let replacement = LLVMConstPointerCast(f, ir::type_of(libc));
                LLVMReplaceAllUsesWith(libc, replacement);
            }
        }
        unsafe {
            if LLVMGetFirstUse(libc).is_null() {
                LLVMDeleteFunction(libc);
            }
        }
        Ok(())
    }
}

/// Pointers and integers convert to one another; nothing else does.
fn convertible(from: Type, to: Type) -> bool {
    let simple = |t: Type| matches!(ir::kind(t), LLVMTypeKind::LLVMPointerTypeKind | LLVMTypeKind::LLVMIntegerTypeKind);
    from == to || (simple(from) && simple(to))
}

/// Whether `v` (the function `f`, or a constant built from it) is used
/// other than as the callee of a call. Dead constant expressions left by
/// rewritten calls do not count.
fn has_value_use(v: Value, f: Value) -> bool {
    ir::users(v).into_iter().any(|u| {
        if ir::is_call(u) {
            let callee = unsafe { LLVMGetCalledValue(u) };
            let args = ir::call_args(u);
            return args.contains(&v) || ir::strip_casts(callee) != f;
        }
        let is_const = unsafe { !LLVMIsAConstant(u).is_null() && LLVMIsAGlobalValue(u).is_null() };
        if is_const {
            has_value_use(u, f)
        } else {
            true
        }
    })
}
