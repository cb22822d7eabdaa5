//! Thin, safe-to-call helpers over the LLVM C API.
//!
//! The passes read IR far more than they write it, and inkwell's typed
//! wrappers make walking operands, use lists and constant expressions of
//! LLVM 14's typed pointers awkward. So analysis works on raw
//! `LLVMValueRef`s through these helpers; every `unsafe` block is here and
//! relies only on the refs coming from a live module of the caller.

use std::ffi::{CStr, CString};

use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::{LLVMOpcode, LLVMTypeKind};

pub type Value = LLVMValueRef;
pub type Type = LLVMTypeRef;

pub fn name(v: Value) -> String {
    let mut len = 0;
    // SAFETY: v is a live value; LLVM returns a pointer and its length.
    unsafe {
        let p = LLVMGetValueName2(v, &mut len);
        if p.is_null() {
            return String::new();
        }
        String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len)).into_owned()
    }
}

pub fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("NULs removed")
}

pub fn functions(module: LLVMModuleRef) -> Vec<Value> {
    let mut out = Vec::new();
    unsafe {
        let mut f = LLVMGetFirstFunction(module);
        while !f.is_null() {
            out.push(f);
            f = LLVMGetNextFunction(f);
        }
    }
    out
}

pub fn is_declaration(f: Value) -> bool {
    unsafe { LLVMIsDeclaration(f) != 0 }
}

/// Every instruction of `f` in program (block layout) order.
pub fn instructions(f: Value) -> Vec<Value> {
    let mut out = Vec::new();
    unsafe {
        let mut bb = LLVMGetFirstBasicBlock(f);
        while !bb.is_null() {
            let mut i = LLVMGetFirstInstruction(bb);
            while !i.is_null() {
                out.push(i);
                i = LLVMGetNextInstruction(i);
            }
            bb = LLVMGetNextBasicBlock(bb);
        }
    }
    out
}

pub fn opcode(i: Value) -> Option<LLVMOpcode> {
    unsafe {
        if !LLVMIsAInstruction(i).is_null() {
            Some(LLVMGetInstructionOpcode(i))
        } else if !LLVMIsAConstantExpr(i).is_null() {
            Some(LLVMGetConstOpcode(i))
        } else {
            None
        }
    }
}

pub fn is_instruction(v: Value) -> bool {
    unsafe { !LLVMIsAInstruction(v).is_null() }
}

pub fn is_function(v: Value) -> bool {
    unsafe { !LLVMIsAFunction(v).is_null() }
}

pub fn is_null_constant(v: Value) -> bool {
    unsafe { !LLVMIsAConstantPointerNull(v).is_null() }
}

pub fn is_alloca(v: Value) -> bool {
    unsafe { !LLVMIsAAllocaInst(v).is_null() }
}

pub fn operands(v: Value) -> Vec<Value> {
    unsafe {
        let n = LLVMGetNumOperands(v);
        (0..n.max(0) as u32).map(|k| LLVMGetOperand(v, k)).collect()
    }
}

pub fn operand(v: Value, k: u32) -> Value {
    unsafe { LLVMGetOperand(v, k) }
}

/// Values that use `v` (instructions and constant expressions).
pub fn users(v: Value) -> Vec<Value> {
    let mut out = Vec::new();
    unsafe {
        let mut u = LLVMGetFirstUse(v);
        while !u.is_null() {
            out.push(LLVMGetUser(u));
            u = LLVMGetNextUse(u);
        }
    }
    out
}

pub fn type_of(v: Value) -> Type {
    unsafe { LLVMTypeOf(v) }
}

pub fn kind(t: Type) -> LLVMTypeKind {
    unsafe { LLVMGetTypeKind(t) }
}

pub fn is_pointer(t: Type) -> bool {
    kind(t) == LLVMTypeKind::LLVMPointerTypeKind
}

/// Pointee of a (typed, LLVM 14) pointer type.
pub fn pointee(t: Type) -> Option<Type> {
    is_pointer(t).then(|| unsafe { LLVMGetElementType(t) })
}

pub fn int_width(t: Type) -> Option<u32> {
    (kind(t) == LLVMTypeKind::LLVMIntegerTypeKind).then(|| unsafe { LLVMGetIntTypeWidth(t) })
}

pub fn is_i8(t: Type) -> bool {
    int_width(t) == Some(8)
}

pub fn struct_name(t: Type) -> Option<String> {
    if kind(t) != LLVMTypeKind::LLVMStructTypeKind {
        return None;
    }
    unsafe {
        let p = LLVMGetStructName(t);
        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

pub fn is_call(i: Value) -> bool {
    opcode(i) == Some(LLVMOpcode::LLVMCall) && is_instruction(i)
}

/// The function a call instruction calls, seen through pointer casts of the
/// callee (`call bitcast (@malloc to ...)`), or `None` for indirect calls
/// and inline asm.
pub fn called_function(call: Value) -> Option<Value> {
    let callee = strip_casts(unsafe { LLVMGetCalledValue(call) });
    is_function(callee).then_some(callee)
}

pub fn call_args(call: Value) -> Vec<Value> {
    unsafe {
        let n = LLVMGetNumArgOperands(call);
        (0..n).map(|k| LLVMGetOperand(call, k)).collect()
    }
}

/// Looks through bitcasts and address-space casts, instructions or
/// constant expressions alike.
pub fn strip_casts(mut v: Value) -> Value {
    while matches!(opcode(v), Some(LLVMOpcode::LLVMBitCast | LLVMOpcode::LLVMAddrSpaceCast)) {
        v = operand(v, 0);
    }
    v
}

pub fn const_int(v: Value) -> Option<i64> {
    unsafe { (!LLVMIsAConstantInt(v).is_null()).then(|| LLVMConstIntGetSExtValue(v)) }
}

pub fn gep_source_type(gep: Value) -> Option<Type> {
    // The C API only answers for GEP instructions; for constant GEPs the
    // base pointer's pointee is the source type under typed pointers.
    if is_instruction(gep) {
        Some(unsafe { LLVMGetGEPSourceElementType(gep) })
    } else {
        pointee(type_of(operand(gep, 0)))
    }
}

pub fn return_type(f: Value) -> Type {
    unsafe { LLVMGetReturnType(LLVMGlobalGetValueType(f)) }
}

/// The declared (fixed) parameter types of function `f`.
pub fn param_types(f: Value) -> Vec<Type> {
    unsafe {
        let fty = LLVMGlobalGetValueType(f);
        let mut out = vec![std::ptr::null_mut(); LLVMCountParamTypes(fty) as usize];
        LLVMGetParamTypes(fty, out.as_mut_ptr());
        out
    }
}

pub fn function_type(f: Value) -> Type {
    unsafe { LLVMGlobalGetValueType(f) }
}

/// Source position of an instruction as (file, line); empty and 0 without
/// debug information.
pub fn debug_location(i: Value) -> (String, u32) {
    unsafe {
        let line = LLVMGetDebugLocLine(i);
        let mut len = 0;
        let f = LLVMGetDebugLocFilename(i, &mut len);
        if f.is_null() || line == 0 {
            return (String::new(), 0);
        }
        let file = String::from_utf8_lossy(std::slice::from_raw_parts(f as *const u8, len as usize)).into_owned();
        let mut dlen = 0;
        let d = LLVMGetDebugLocDirectory(i, &mut dlen);
        let dir = if d.is_null() {
            String::new()
        } else {
            String::from_utf8_lossy(std::slice::from_raw_parts(d as *const u8, dlen as usize)).into_owned()
        };
        let path = if file.starts_with('/') || dir.is_empty() { file } else { format!("{dir}/{file}") };
        (path, line)
    }
}
