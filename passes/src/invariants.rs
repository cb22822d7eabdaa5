//! Static invariant extraction: every store this unit makes into a struct
//! field or a scalar global, and every way such an address escapes.
//!
//! Runs after typing and before the rewrite, on the calls as written. The
//! analysis is type-based: a field is `(record, byte offset)` and a store
//! through a constant-index GEP of the record's type is a store to it,
//! whichever object it hits. That is sound only while nothing writes the
//! field another way, so the unit also records how an address may escape:
//! a scalar field's or global's address that is passed to a call, stored,
//! converted to an integer, indexed, merged in a phi or returned (an `int
//! *` can be written by `*p = x`, which names no field); a store through a
//! cast pointer; a struct pointer viewed as another type, or handed as
//! bytes to a function that writes them (`read`, `memcpy` from anything
//! but the same struct, `memset` to a non-zero byte). The link step merges
//! every unit's facts (`lucc_invariants::merge`) and keeps an invariant
//! only where no unit saw an escape or an unknown value.
//!
//! What is not seen: code that lucc did not compile (assembly, objects
//! built by plain cc), initialisers of literal (unnamed) struct types
//! (clang uses them for initialised unions), bitfields (stored as whole
//! words: they get no invariant) and fields of unions (skipped).

use std::collections::{HashMap, HashSet};

use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::target::{LLVMGetModuleDataLayout, LLVMOffsetOfElement, LLVMTargetDataRef};
use llvm_sys::{LLVMLinkage, LLVMOpcode, LLVMTypeKind};
use lucc_abi::fragment::SiteType;
use lucc_invariants::{Location, UnitFacts, Value as Stored};

use crate::alloc_sites::{record_name, Site};
use crate::ir::{self, Type, Value};
use crate::wrappers::Wrappers;

/// Functions that write the memory behind their pointer arguments as bytes.
const BYTE_WRITERS: &[&str] = &[
    "read", "pread", "pread64", "fread", "recv", "recvfrom", "recvmsg", "readv", "fgets", "strcpy", "strncpy",
    "strcat", "strncat", "sprintf", "snprintf", "vsprintf", "vsnprintf", "sscanf", "fscanf", "scanf", "getline",
    "bcopy", "memccpy", "mempcpy", "stpcpy",
];

pub struct Extract<'a> {
    pub source: &'a str,
    pub sites: &'a [Site],
    pub wrappers: &'a Wrappers,
}

struct Cx {
    td: LLVMTargetDataRef,
    /// The module's named struct types, for initialisers that clang writes
    /// with a literal struct type (function pointers of incomplete type).
    named: Vec<Type>,
    source: String,
    sites: HashMap<Value, u32>,
    facts: UnitFacts,
}

fn is_own(name: &str) -> bool {
    name.is_empty() || name.starts_with("llvm.") || name.starts_with("__lucc") || name.starts_with(".str")
}

fn is_internal(g: Value) -> bool {
    matches!(
        unsafe { LLVMGetLinkage(g) },
        LLVMLinkage::LLVMInternalLinkage | LLVMLinkage::LLVMPrivateLinkage
    )
}

fn is_global_var(v: Value) -> bool {
    unsafe { !LLVMIsAGlobalVariable(v).is_null() }
}

fn is_scalar(t: Type) -> bool {
    matches!(ir::kind(t), LLVMTypeKind::LLVMIntegerTypeKind | LLVMTypeKind::LLVMPointerTypeKind)
}

/// A named, non-union record's name.
fn record_of(t: Type) -> Option<String> {
    match ir::struct_name(t).as_deref().and_then(record_name) {
        Some((name, false)) => Some(name),
        _ => None,
    }
}

fn value_type(g: Value) -> Type {
    unsafe { LLVMGlobalGetValueType(g) }
}

fn is_string_literal(g: Value) -> bool {
    let name = ir::name(g);
    let constant = unsafe { LLVMIsGlobalConstant(g) != 0 };
    constant
        && (name.starts_with(".str") || (ir::kind(value_type(g)) == LLVMTypeKind::LLVMArrayTypeKind && is_internal(g) && name.is_empty()))
}

impl Cx {
    fn global_location(&self, g: Value) -> Option<Location> {
        let name = ir::name(g);
        if is_own(&name) || !is_scalar(value_type(g)) {
            return None;
        }
        let unit = if is_internal(g) { self.source.clone() } else { String::new() };
        Some(Location::Global { name, unit })
    }

    /// The field or scalar global `ptr` addresses, if it is one.
    fn location_of(&self, ptr: Value) -> Option<Location> {
        if is_global_var(ptr) {
            return self.global_location(ptr);
        }
        if ir::opcode(ptr) != Some(LLVMOpcode::LLVMGetElementPtr) {
            return None;
        }
        let mut ty = ir::gep_source_type(ptr)?;
        let mut cur: Option<(String, u64)> = None;
        for idx in ir::operands(ptr).into_iter().skip(2) {
            match ir::kind(ty) {
                LLVMTypeKind::LLVMStructTypeKind => {
                    let k = ir::const_int(idx)? as u32;
                    cur = record_of(ty).map(|r| (r, unsafe { LLVMOffsetOfElement(self.td, ty, k) }));
                    ty = unsafe { LLVMStructGetTypeAtIndex(ty, k) };
                }
                LLVMTypeKind::LLVMArrayTypeKind => {
                    // An element of an array field: not a field of its own.
                    cur = None;
                    ty = unsafe { LLVMGetElementType(ty) };
                }
                _ => return None,
            }
        }
        let (record, offset) = cur?;
        is_scalar(ty).then_some(Location::Field { record, offset })
    }

    /// The values a store of `v` into `loc` may put there.
    fn classify(&self, v: Value, loc: &Location, f: &str, depth: u32) -> Vec<Stored> {
        let unknown = |s: String| vec![Stored::Unknown(s)];
        if depth > 4 {
            return unknown("a value merged from many places".into());
        }
        let v = ir::strip_casts(v);
        if let Some(c) = ir::const_int(v) {
            return vec![Stored::Const(c)];
        }
        if ir::is_null_constant(v) {
            return vec![Stored::Null];
        }
        unsafe {
            if !LLVMIsAUndefValue(v).is_null() {
                return unknown("an undefined value".into());
            }
            if !LLVMIsAArgument(v).is_null() {
                return unknown(format!("a parameter of {f}"));
            }
        }
        if ir::is_function(v) {
            return vec![Stored::Function(ir::name(v))];
        }
        if let Some(g) = pointer_base_global(v) {
            return vec![if is_string_literal(g) { Stored::StringLiteral } else { Stored::Global(ir::name(g)) }];
        }
        if let Some(&id) = self.sites.get(&v) {
            return vec![Stored::Site(id)];
        }
        let op = ir::opcode(v);
        match op {
            Some(LLVMOpcode::LLVMZExt | LLVMOpcode::LLVMSExt) if ir::int_width(ir::type_of(ir::operand(v, 0))) == Some(1) => {
                let one = if op == Some(LLVMOpcode::LLVMZExt) { 1 } else { -1 };
                return vec![Stored::Const(0), Stored::Const(one)];
            }
            Some(LLVMOpcode::LLVMSelect) => {
                let mut out = self.classify(ir::operand(v, 1), loc, f, depth + 1);
                out.extend(self.classify(ir::operand(v, 2), loc, f, depth + 1));
                return out;
            }
            Some(LLVMOpcode::LLVMPHI) if ir::is_instruction(v) => {
                let mut out = Vec::new();
                for k in 0..unsafe { LLVMCountIncoming(v) } {
                    out.extend(self.classify(unsafe { LLVMGetIncomingValue(v, k) }, loc, f, depth + 1));
                }
                return out;
            }
            Some(LLVMOpcode::LLVMTrunc | LLVMOpcode::LLVMZExt | LLVMOpcode::LLVMSExt) => {
                // Narrow types are computed in int: `c->flags |= X` on a char.
                return self.classify(ir::operand(v, 0), loc, f, depth + 1);
            }
            Some(LLVMOpcode::LLVMLoad) if ir::is_instruction(v) => {
                let from = ir::operand(v, 0);
                if ir::strip_casts(from) != from {
                    return unknown(format!("a value loaded through a cast pointer in {f}"));
                }
                if ir::is_alloca(from) {
                    // A local variable (unoptimised IR keeps every local
                    // and parameter in one): whatever is stored into it,
                    // as long as nothing else can write it.
                    let mut out = Vec::new();
                    for u in ir::users(from) {
                        match ir::opcode(u) {
                            Some(LLVMOpcode::LLVMLoad) => {}
                            Some(LLVMOpcode::LLVMStore) if ir::operand(u, 1) == from && ir::operand(u, 0) != from => {
                                out.extend(self.classify(ir::operand(u, 0), loc, f, depth + 1))
                            }
                            Some(LLVMOpcode::LLVMCall) if ir::called_function(u).is_some_and(|c| ir::name(c).starts_with("llvm.lifetime.") || ir::name(c).starts_with("llvm.dbg.")) => {}
                            _ => return unknown(format!("a local variable of {f} whose address is taken")),
                        }
                    }
                    return out;
                }
                return match self.location_of(from) {
                    Some(l) if &l == loc => Vec::new(),
                    Some(l) => vec![Stored::CopyOf(l)],
                    None => unknown(format!("a value loaded from memory in {f}")),
                };
            }
            Some(o @ (LLVMOpcode::LLVMAdd | LLVMOpcode::LLVMSub | LLVMOpcode::LLVMOr | LLVMOpcode::LLVMAnd)) => {
                let (a, b) = (ir::operand(v, 0), ir::operand(v, 1));
                let (other, k) = match (ir::const_int(a), ir::const_int(b)) {
                    (_, Some(k)) => (a, k),
                    (Some(k), _) if o != LLVMOpcode::LLVMSub => (b, k),
                    _ => return unknown(format!("a computed value in {f}")),
                };
                if !self.is_load_of(other, loc) {
                    return unknown(format!("a computed value in {f}"));
                }
                return match o {
                    LLVMOpcode::LLVMAdd if k > 0 => vec![Stored::Increment(k)],
                    LLVMOpcode::LLVMSub if k < 0 => vec![Stored::Increment(-k)],
                    LLVMOpcode::LLVMOr => vec![Stored::SetBits(k as u64)],
                    LLVMOpcode::LLVMAnd => vec![Stored::ClearBits(k as u64)],
                    _ => unknown(format!("a decrement in {f}")),
                };
            }
            _ => {}
        }
        if ir::is_call(v) {
            let callee = ir::called_function(v).map(ir::name).unwrap_or_else(|| "an indirect call".into());
            return unknown(format!("the result of {callee} in {f}"));
        }
        unknown(format!("a computed value in {f}"))
    }

    /// `v` is `load loc`, maybe widened or narrowed.
    fn is_load_of(&self, mut v: Value, loc: &Location) -> bool {
        while matches!(ir::opcode(v), Some(LLVMOpcode::LLVMZExt | LLVMOpcode::LLVMSExt | LLVMOpcode::LLVMTrunc)) {
            v = ir::operand(v, 0);
        }
        ir::opcode(v) == Some(LLVMOpcode::LLVMLoad)
            && ir::is_instruction(v)
            && self.location_of(ir::operand(v, 0)).as_ref() == Some(loc)
    }

    /// Stores of a global's initialiser `c` of type `ty` into the fields it
    /// covers (and into `loc` itself when the global is a scalar).
    fn initialiser(&mut self, c: Value, ty: Type, loc: Option<Location>, by: &str) {
        let zero = unsafe { LLVMIsNull(c) != 0 };
        match ir::kind(ty) {
            LLVMTypeKind::LLVMIntegerTypeKind | LLVMTypeKind::LLVMPointerTypeKind => {
                let Some(loc) = loc else { return };
                let vals = if zero {
                    vec![if ir::is_pointer(ty) { Stored::Null } else { Stored::Const(0) }]
                } else {
                    self.classify(c, &loc, by, 0)
                };
                for v in vals {
                    self.facts.store(&loc, by, v);
                }
            }
            LLVMTypeKind::LLVMStructTypeKind => {
                let Some((record, ty)) = record_of(ty).map(|r| (r, ty)).or_else(|| self.literal_as_named(ty)) else { return };
                let n = unsafe { LLVMCountStructElementTypes(ty) };
                for k in 0..n {
                    let ety = unsafe { LLVMStructGetTypeAtIndex(ty, k) };
                    let field = Location::Field { record: record.clone(), offset: unsafe { LLVMOffsetOfElement(self.td, ty, k) } };
                    let ec = if zero { unsafe { LLVMConstNull(ety) } } else { ir::operand(c, k) };
                    if ec.is_null() {
                        continue;
                    }
                    // The constant's own type: a literal struct stands in
                    // for a union member or a function pointer type.
                    self.initialiser(ec, ir::type_of(ec), Some(field), by);
                }
            }
            LLVMTypeKind::LLVMArrayTypeKind => {
                let ety = unsafe { LLVMGetElementType(ty) };
                if ir::kind(ety) != LLVMTypeKind::LLVMStructTypeKind && ir::kind(ety) != LLVMTypeKind::LLVMArrayTypeKind {
                    return;
                }
                let n = unsafe { LLVMGetArrayLength(ty) };
                for k in 0..n {
                    let ec = if zero { unsafe { LLVMConstNull(ety) } } else { ir::operand(c, k) };
                    if ec.is_null() {
                        continue;
                    }
                    self.initialiser(ec, ir::type_of(ec), None, by);
                }
            }
            _ => {}
        }
    }

    /// The one named record laid out like literal struct `ty` (equal
    /// element types, any pointer for a pointer).
    fn literal_as_named(&self, ty: Type) -> Option<(String, Type)> {
        if ir::struct_name(ty).is_some() {
            return None;
        }
        let elems = |t: Type| -> Vec<Type> {
            let n = unsafe { LLVMCountStructElementTypes(t) };
            (0..n).map(|k| unsafe { LLVMStructGetTypeAtIndex(t, k) }).collect()
        };
        let want = elems(ty);
        let fits = |t: Type| {
            let have = elems(t);
            have.len() == want.len()
                && have.iter().zip(&want).all(|(&a, &b)| a == b || (ir::is_pointer(a) && ir::is_pointer(b)))
                && unsafe { LLVMIsPackedStruct(t) == LLVMIsPackedStruct(ty) }
        };
        let found: Vec<Type> = self.named.iter().copied().filter(|&t| record_of(t).is_some() && fits(t)).collect();
        match found.as_slice() {
            [t] => Some((record_of(*t)?, *t)),
            _ => None,
        }
    }

    /// Follows the uses of the address of a scalar location and records
    /// every way it escapes.
    fn address_uses(&mut self, addr: Value, loc: &Location, f: &str, depth: u32) {
        for u in ir::users(addr) {
            let in_fn = if ir::is_instruction(u) { function_of(u) } else { f.to_string() };
            match ir::opcode(u) {
                Some(LLVMOpcode::LLVMLoad) => {}
                Some(LLVMOpcode::LLVMICmp) => {}
                Some(LLVMOpcode::LLVMStore) if ir::operand(u, 1) == addr && ir::operand(u, 0) != addr => {}
                Some(LLVMOpcode::LLVMStore) => self.facts.escape(loc, &in_fn, "address stored in memory".into()),
                Some(LLVMOpcode::LLVMBitCast | LLVMOpcode::LLVMAddrSpaceCast) if depth < 4 => {
                    self.address_uses(u, loc, &in_fn, depth + 1)
                }
                Some(LLVMOpcode::LLVMCall) if ir::is_instruction(u) => {
                    let callee = ir::called_function(u).map(ir::name);
                    let name = callee.clone().unwrap_or_else(|| "an indirect call".into());
                    if name.starts_with("llvm.dbg.") || name.starts_with("llvm.lifetime.") {
                        continue;
                    }
                    if name.starts_with("llvm.memset.") && ir::const_int(ir::operand(u, 1)) == Some(0) {
                        let zero = if ir::is_pointer(ir::type_of(addr)) && is_pointer_location(addr) { Stored::Null } else { Stored::Const(0) };
                        self.facts.store(loc, &in_fn, zero);
                        continue;
                    }
                    self.facts.escape(loc, &in_fn, format!("address passed to {name}"));
                }
                Some(LLVMOpcode::LLVMPtrToInt) => self.facts.escape(loc, &in_fn, "address converted to an integer".into()),
                Some(LLVMOpcode::LLVMGetElementPtr) => self.facts.escape(loc, &in_fn, "address indexed".into()),
                Some(LLVMOpcode::LLVMPHI | LLVMOpcode::LLVMSelect) => {
                    self.facts.escape(loc, &in_fn, "address merged with others (phi/select)".into())
                }
                Some(LLVMOpcode::LLVMRet) => self.facts.escape(loc, &in_fn, "address returned".into()),
                _ if unsafe { !LLVMIsAGlobalVariable(u).is_null() || !LLVMIsAConstant(u).is_null() } => {
                    self.facts.escape(loc, f, "address in a global initialiser".into())
                }
                _ => self.facts.escape(loc, &in_fn, "address used in an unexpected way".into()),
            }
        }
    }

    /// A cast of a struct pointer to another type: stores through it name
    /// no field of the struct.
    fn cast(&mut self, c: Value, f: &str) {
        let from = ir::type_of(ir::operand(c, 0));
        let to = ir::type_of(c);
        let (Some(fp), Some(tp)) = (ir::pointee(from), ir::pointee(to)) else { return };
        let Some(record) = record_of(fp) else { return };
        if ir::is_i8(tp) || ir::struct_name(tp) == ir::struct_name(fp) {
            return;
        }
        let shown = unsafe {
            let s = LLVMPrintTypeToString(to);
            let out = std::ffi::CStr::from_ptr(s).to_string_lossy().into_owned();
            LLVMDisposeMessage(s);
            out
        };
        self.record_escape(&record, f, format!("pointer cast to {shown}"));
    }

    fn record_escape(&mut self, record: &str, f: &str, how: String) {
        let e = lucc_invariants::Escape { function: f.into(), how };
        self.facts.record_escapes.push((record.into(), e));
    }

    fn record_of_pointer(v: Value) -> Option<String> {
        ir::pointee(ir::type_of(ir::strip_casts(v))).and_then(record_of)
    }

    fn call(&mut self, call: Value, f: &str) {
        let Some(callee) = ir::called_function(call) else { return };
        let name = ir::name(callee);
        let args = ir::call_args(call);
        if name.starts_with("llvm.memset.") {
            if let Some(r) = Self::record_of_pointer(args[0]) {
                if ir::const_int(args[1]) == Some(0) {
                    self.facts.whole_records.push((r, lucc_invariants::Store { function: f.into(), value: Stored::Const(0) }));
                } else {
                    self.record_escape(&r, f, "memset to a non-zero byte".into());
                }
            }
        } else if name.starts_with("llvm.memcpy.") || name.starts_with("llvm.memmove.") || name == "memcpy" || name == "memmove" {
            if let Some(r) = Self::record_of_pointer(args[0]) {
                if Self::record_of_pointer(args[1]).as_deref() != Some(&r) {
                    self.record_escape(&r, f, format!("{} from an untyped source", name.trim_start_matches("llvm.").split('.').next().unwrap_or(&name)));
                }
            }
        } else if BYTE_WRITERS.contains(&name.as_str()) {
            for a in args {
                if let Some(r) = Self::record_of_pointer(a) {
                    self.record_escape(&r, f, format!("written as bytes by {name}"));
                }
            }
        }
    }
}

fn is_pointer_location(addr: Value) -> bool {
    ir::pointee(ir::type_of(addr)).is_some_and(ir::is_pointer)
}

fn function_of(i: Value) -> String {
    unsafe { ir::name(LLVMGetBasicBlockParent(LLVMGetInstructionParent(i))) }
}

/// The global a constant pointer expression points into (`&g`, `&g.f`,
/// `&arr[3]`), or none.
fn pointer_base_global(v: Value) -> Option<Value> {
    let mut v = ir::strip_casts(v);
    while !ir::is_instruction(v) && ir::opcode(v) == Some(LLVMOpcode::LLVMGetElementPtr) {
        v = ir::strip_casts(ir::operand(v, 0));
    }
    is_global_var(v).then_some(v)
}

impl Extract<'_> {
    pub fn run(&self, module: LLVMModuleRef, left_alone: &HashSet<Value>) -> UnitFacts {
        let zeroing: HashSet<Value> = self
            .sites
            .iter()
            .filter(|s| {
                s.record.callee == "calloc"
                    || (!s.record.direct && self.wrappers.chain(&s.record.callee).last().map(String::as_str) == Some("calloc"))
            })
            .map(|s| s.call)
            .collect();
        let mut cx = Cx {
            td: unsafe { LLVMGetModuleDataLayout(module) },
            named: named_structs(module),
            source: self.source.to_string(),
            sites: self.sites.iter().filter(|s| !left_alone.contains(&s.call)).map(|s| (s.call, s.record.id)).collect(),
            facts: UnitFacts::default(),
        };
        for s in self.sites {
            if let (true, SiteType::Record { name, union: false }) = (zeroing.contains(&s.call), &s.record.ty) {
                cx.facts.whole_records.push((
                    name.clone(),
                    lucc_invariants::Store { function: format!("{} (calloc)", s.record.function), value: Stored::Const(0) },
                ));
            }
        }
        // Globals: initialisers, and the escapes of scalar ones' addresses.
        let mut globals = Vec::new();
        unsafe {
            let mut g = LLVMGetFirstGlobal(module);
            while !g.is_null() {
                globals.push(g);
                g = LLVMGetNextGlobal(g);
            }
        }
        let mut const_geps = Vec::new();
        for &g in &globals {
            let name = ir::name(g);
            if is_own(&name) || is_string_literal(g) {
                continue;
            }
            let loc = cx.global_location(g);
            let by = format!("<initialiser of {name}>");
            let init = unsafe { LLVMGetInitializer(g) };
            if !ir::is_declaration(g) && !init.is_null() {
                cx.initialiser(init, value_type(g), loc.clone(), &by);
            }
            if let Some(loc) = &loc {
                cx.address_uses(g, loc, "", 0);
            }
            collect_const_geps(g, &mut const_geps, 0);
        }
        for gep in const_geps {
            if let Some(loc) = cx.location_of(gep) {
                cx.address_uses(gep, &loc, "", 0);
            }
        }
        for f in ir::functions(module) {
            if ir::is_declaration(f) {
                continue;
            }
            let fname = ir::name(f);
            for i in ir::instructions(f) {
                match ir::opcode(i) {
                    Some(LLVMOpcode::LLVMStore) => {
                        let (val, ptr) = (ir::operand(i, 0), ir::operand(i, 1));
                        let stripped = ir::strip_casts(ptr);
                        if stripped != ptr {
                            if let Some(loc) = cx.location_of(stripped) {
                                cx.facts.escape(&loc, &fname, "written through a cast pointer".into());
                            }
                            if let Some(r) = Cx::record_of_pointer(stripped) {
                                cx.record_escape(&r, &fname, "written through a cast pointer".into());
                            }
                            continue;
                        }
                        if ir::kind(ir::type_of(val)) == LLVMTypeKind::LLVMStructTypeKind {
                            if let Some(r) = record_of(ir::type_of(val)) {
                                cx.record_escape(&r, &fname, "stored as a whole struct value".into());
                            }
                            continue;
                        }
                        let Some(loc) = cx.location_of(ptr) else { continue };
                        for v in cx.classify(val, &loc, &fname, 0) {
                            cx.facts.store(&loc, &fname, v);
                        }
                    }
                    Some(LLVMOpcode::LLVMGetElementPtr) => {
                        if let Some(loc) = cx.location_of(i) {
                            cx.address_uses(i, &loc, &fname, 0);
                        }
                    }
                    Some(LLVMOpcode::LLVMBitCast) => cx.cast(i, &fname),
                    Some(LLVMOpcode::LLVMCall) => cx.call(i, &fname),
                    _ => {}
                }
                // Constant casts of globals used here.
                for op in ir::operands(i) {
                    if !ir::is_instruction(op) && ir::opcode(op) == Some(LLVMOpcode::LLVMBitCast) {
                        cx.cast(op, &fname);
                    }
                }
            }
        }
        let mut facts = cx.facts;
        facts.normalise();
        facts
    }
}

fn named_structs(module: LLVMModuleRef) -> Vec<Type> {
    let mut out = Vec::new();
    // Every struct type the module's globals and functions mention is
    // reachable by name through the context; LLVM 14's C API lists them
    // only by name, so collect the names of the types of values in use.
    let mut seen = HashSet::new();
    let mut note = |t: Type, out: &mut Vec<Type>| {
        let mut stack = vec![t];
        while let Some(t) = stack.pop() {
            if !seen.insert(t) {
                continue;
            }
            match ir::kind(t) {
                LLVMTypeKind::LLVMStructTypeKind => {
                    if ir::struct_name(t).is_some() {
                        out.push(t);
                    }
                    let n = unsafe { LLVMCountStructElementTypes(t) };
                    stack.extend((0..n).map(|k| unsafe { LLVMStructGetTypeAtIndex(t, k) }));
                }
                LLVMTypeKind::LLVMPointerTypeKind | LLVMTypeKind::LLVMArrayTypeKind => {
                    stack.push(unsafe { LLVMGetElementType(t) })
                }
                _ => {}
            }
        }
    };
    for f in ir::functions(module) {
        for i in ir::instructions(f) {
            note(ir::type_of(i), &mut out);
            if let Some(t) = (ir::opcode(i) == Some(LLVMOpcode::LLVMGetElementPtr)).then(|| ir::gep_source_type(i)).flatten() {
                note(t, &mut out);
            }
        }
    }
    out
}

/// Constant GEPs on `v` (and on constant GEPs/casts of it).
fn collect_const_geps(v: Value, out: &mut Vec<Value>, depth: u32) {
    if depth > 4 {
        return;
    }
    for u in ir::users(v) {
        if ir::is_instruction(u) {
            continue;
        }
        match ir::opcode(u) {
            Some(LLVMOpcode::LLVMGetElementPtr) => {
                if !out.contains(&u) {
                    out.push(u);
                }
                collect_const_geps(u, out, depth + 1);
            }
            Some(LLVMOpcode::LLVMBitCast) => collect_const_geps(u, out, depth + 1),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use inkwell::context::Context;
    use inkwell::memory_buffer::MemoryBuffer;

    use super::*;
    use crate::wrappers::WrapperPass;

    fn extract(ir_text: &str) -> UnitFacts {
        let context = Context::create();
        let buffer = MemoryBuffer::create_from_memory_range_copy(ir_text.as_bytes(), "t");
        let module = context.create_module_from_ir(buffer).expect("test IR parses");
        let m = module.as_mut_ptr();
        let wrappers = WrapperPass.run(m);
        let sites = crate::alloc_sites::AllocSites { source: "/t.c", wrappers: &wrappers }.run(m);
        Extract { source: "/t.c", sites: &sites, wrappers: &wrappers }.run(m, &HashSet::new())
    }

    fn facts_of<'a>(u: &'a UnitFacts, loc: &Location) -> &'a lucc_invariants::Facts {
        &u.locations.iter().find(|(l, _)| l == loc).unwrap_or_else(|| panic!("{loc:?} in {u:#?}")).1
    }

    const IR: &str = r#"
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128"
%struct.obj = type { i32, i32, i8* }
%struct.cmd = type { i8*, void ()* }
@.str = private unnamed_addr constant [2 x i8] c"a\00"
@table = global [1 x %struct.cmd] [%struct.cmd { i8* getelementptr ([2 x i8], [2 x i8]* @.str, i32 0, i32 0), void ()* @f }]
@mode = internal global i32 0
declare i8* @malloc(i64)
declare void @take(i32*)
define void @f() {
  ret void
}
define void @set(%struct.obj* %o, i32 %x) {
  %e = getelementptr %struct.obj, %struct.obj* %o, i32 0, i32 0
  store i32 1, i32* %e
  %l = load i32, i32* %e
  %v = or i32 %l, 4
  store i32 %v, i32* %e
  %b = getelementptr %struct.obj, %struct.obj* %o, i32 0, i32 1
  store i32 %x, i32* %b
  call void @take(i32* %b)
  %m = call i8* @malloc(i64 8)
  %p = getelementptr %struct.obj, %struct.obj* %o, i32 0, i32 2
  store i8* %m, i8** %p
  store i32 2, i32* @mode
  ret void
}
"#;

    #[test]
    fn stores_initialisers_and_escapes() {
        let u = extract(IR);
        let f0 = facts_of(&u, &Location::Field { record: "obj".into(), offset: 0 });
        let vals: Vec<_> = f0.stores.iter().map(|s| s.value.clone()).collect();
        assert_eq!(vals, [Stored::Const(1), Stored::SetBits(4)]);
        assert!(f0.escapes.is_empty());
        let f4 = facts_of(&u, &Location::Field { record: "obj".into(), offset: 4 });
        assert_eq!(f4.escapes[0].how, "address passed to take");
        assert!(matches!(&f4.stores[0].value, Stored::Unknown(w) if w == "a parameter of set"));
        let f8 = facts_of(&u, &Location::Field { record: "obj".into(), offset: 8 });
        assert!(matches!(f8.stores[0].value, Stored::Site(_)));
        let proc = facts_of(&u, &Location::Field { record: "cmd".into(), offset: 8 });
        assert_eq!(proc.stores[0].value, Stored::Function("f".into()));
        let name = facts_of(&u, &Location::Field { record: "cmd".into(), offset: 0 });
        assert_eq!(name.stores[0].value, Stored::StringLiteral);
        let mode = facts_of(&u, &Location::Global { name: "mode".into(), unit: "/t.c".into() });
        let vals: Vec<_> = mode.stores.iter().map(|s| s.value.clone()).collect();
        assert_eq!(vals, [Stored::Const(0), Stored::Const(2)]);
    }
}
