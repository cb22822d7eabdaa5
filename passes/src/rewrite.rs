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

use std::collections::HashMap;

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

impl Rewrite<'_> {
    /// Rewrites the module; returns notes on what had to be left alone.
    pub fn run(&self, module: LLVMModuleRef) -> Result<Vec<String>> {
        let mut rt = Runtime::new(module);
        let mut skipped = Vec::new();
        let site_of: HashMap<Value, &Site> = self.sites.iter().map(|s| (s.call, s)).collect();
        for s in self.sites.iter().filter(|s| !s.record.direct) {
            rt.retag_after(s.call, s.record.id)?;
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
                    skipped.push(format!("{}: {e}", ir::name(f)));
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
        Ok(skipped)
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
        let libc = ir::called_function(call);
        let (f, fty) = self.declare(a.runtime, ret, &params, libc)?;
        unsafe {
            LLVMPositionBuilderBefore(self.builder, call);
            let mut new_args = Vec::with_capacity(params.len());
            for (&v, &t) in args.iter().zip(&params) {
                new_args.push(self.convert(v, t).ok_or_else(|| {
                    anyhow::anyhow!("call to {} with an argument of unexpected type left alone", a.libc)
                })?);
            }
            if let Some(id) = site {
                new_args.push(LLVMConstInt(self.i32(), u64::from(id), 0));
            }
            let new = LLVMBuildCall2(self.builder, fty, f, new_args.as_mut_ptr(), new_args.len() as u32, c"".as_ptr());
            LLVMInstructionSetDebugLoc(new, LLVMInstructionGetDebugLoc(call));
            let old_ty = ir::type_of(call);
            if ir::kind(old_ty) != LLVMTypeKind::LLVMVoidTypeKind && ir::users(call).first().is_some() {
                let Some(result) = self.convert(new, old_ty) else {
                    LLVMInstructionEraseFromParent(new);
                    bail!("call to {} whose result type is unexpected left alone", a.libc);
                };
                LLVMReplaceAllUsesWith(call, result);
            }
            LLVMInstructionEraseFromParent(call);
        }
        Ok(())
    }

    /// Converts `v` to `to` at the builder's position, as C's implicit
    /// conversions would; `None` when there is no sensible conversion.
    fn convert(&self, v: Value, to: Type) -> Option<Value> {
        let from = ir::type_of(v);
        if from == to {
            return Some(v);
        }
        let b = self.builder;
        let name = c"".as_ptr();
        unsafe {
            match (ir::kind(from), ir::kind(to)) {
                (LLVMTypeKind::LLVMPointerTypeKind, LLVMTypeKind::LLVMPointerTypeKind) => {
                    Some(LLVMBuildPointerCast(b, v, to, name))
                }
                (LLVMTypeKind::LLVMIntegerTypeKind, LLVMTypeKind::LLVMIntegerTypeKind) => {
                    Some(LLVMBuildIntCast2(b, v, to, 0, name))
                }
                (LLVMTypeKind::LLVMPointerTypeKind, LLVMTypeKind::LLVMIntegerTypeKind) => {
                    Some(LLVMBuildPtrToInt(b, v, to, name))
                }
                (LLVMTypeKind::LLVMIntegerTypeKind, LLVMTypeKind::LLVMPointerTypeKind) => {
                    Some(LLVMBuildIntToPtr(b, v, to, name))
                }
                _ => None,
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
            let p = self.convert(call, self.i8_ptr()).ok_or_else(|| anyhow::anyhow!("retag of a non-pointer"))?;
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
