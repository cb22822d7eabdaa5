//! Expectations about a sidecar written the way a reader of the C source
//! would state them ("global `server` is a `struct server`", "the site in
//! `createObject` allocates a `struct kvobj` 8 bytes into the block"), so a
//! test's table of them reads like a specification.
//!
//! `check` returns every unmet expectation with what the sidecar holds
//! instead, rather than stopping at the first: a report of all gaps is more
//! useful than one at a time.

use lucc_abi::sidecar::{Sidecar, TypeId, TypeKind};

#[derive(Debug, Clone)]
pub enum Expect {
    /// A global or file-scope static, and its type.
    Global { name: &'static str, ty: &'static str },
    /// A `static` inside `function`, and its type.
    StaticLocal { function: &'static str, name: &'static str, ty: &'static str },
    /// An allocation site in `function` calling `callee`: the type of the
    /// object (`None`: untyped), its offset in the heap block, and the
    /// wrapper chain from `callee` down to libc (empty: a direct call).
    Site {
        function: &'static str,
        callee: &'static str,
        ty: Option<&'static str>,
        offset: i64,
        via: &'static [&'static str],
    },
    /// A field of a struct or union, with its bit width for bitfields.
    Field { ty: &'static str, field: &'static str, field_ty: &'static str, bit_size: Option<u64> },
    /// An enumerator of an enum type.
    Enumerator { ty: &'static str, name: &'static str, value: i64 },
    /// A function the program uses as an allocator.
    Wrapper { name: &'static str, inner: &'static str, offset: i64 },
}

/// A type's C spelling, and the spelling after following typedefs.
fn spellings(sc: &Sidecar, id: Option<TypeId>) -> (String, String) {
    let Some(id) = id else { return ("<untyped>".into(), "<untyped>".into()) };
    let own = sc.ty(id).map(|t| t.name.clone()).unwrap_or_else(|| format!("<bad type id {id}>"));
    let resolved = sc.resolve(id).map(|t| t.name.clone()).unwrap_or_else(|| own.clone());
    (own, resolved)
}

/// Does type `id` read as `expected` (by its own name or through typedefs)?
fn type_is(sc: &Sidecar, id: Option<TypeId>, expected: &str) -> bool {
    let (own, resolved) = spellings(sc, id);
    own == expected || resolved == expected
}

fn show(sc: &Sidecar, id: Option<TypeId>) -> String {
    let (own, resolved) = spellings(sc, id);
    if own == resolved {
        own
    } else {
        format!("{own} (= {resolved})")
    }
}

/// Every expectation `sc` does not meet, described.
pub fn check(sc: &Sidecar, expectations: &[Expect]) -> Vec<String> {
    expectations.iter().filter_map(|e| check_one(sc, e).err()).collect()
}

fn check_one(sc: &Sidecar, e: &Expect) -> Result<(), String> {
    match e {
        Expect::Global { name, ty } => {
            let g = sc.globals.iter().find(|g| g.name == *name).ok_or(format!("global `{name}`: missing"))?;
            if !type_is(sc, g.ty, ty) {
                return Err(format!("global `{name}`: expected type {ty}, found {}", show(sc, g.ty)));
            }
        }
        Expect::StaticLocal { function, name, ty } => {
            let v = sc
                .static_locals
                .iter()
                .find(|v| v.name == *name && v.function == *function)
                .ok_or_else(|| {
                    let have: Vec<_> = sc.static_locals.iter().map(|v| format!("{}::{}", v.function, v.name)).collect();
                    format!("static local `{function}::{name}`: missing (have {have:?})")
                })?;
            if !type_is(sc, v.ty, ty) {
                return Err(format!("static local `{function}::{name}`: expected {ty}, found {}", show(sc, v.ty)));
            }
        }
        Expect::Site { function, callee, ty, offset, via } => {
            let candidates: Vec<_> = sc.sites.iter().filter(|s| s.function == *function).collect();
            let ok = candidates.iter().any(|s| {
                s.callee == *callee
                    && s.offset == *offset
                    && s.via.iter().map(String::as_str).eq(via.iter().copied())
                    && match ty {
                        Some(t) => type_is(sc, s.ty, t),
                        None => s.ty.is_none(),
                    }
            });
            if !ok {
                let found: Vec<_> = candidates
                    .iter()
                    .map(|s| format!("{} via {:?} offset {} type {}", s.callee, s.via, s.offset, show(sc, s.ty)))
                    .collect();
                return Err(format!(
                    "site in `{function}` calling `{callee}`: expected type {} offset {offset} via {via:?}; sites in `{function}`: {found:?}",
                    ty.unwrap_or("<untyped>")
                ));
            }
        }
        Expect::Field { ty, field, field_ty, bit_size } => {
            let t = sc
                .types
                .iter()
                .find(|t| t.name == *ty && matches!(&t.kind, TypeKind::Struct { declaration: false, .. } | TypeKind::Union { declaration: false, .. }))
                .ok_or(format!("type `{ty}`: missing"))?;
            let fields = match &t.kind {
                TypeKind::Struct { fields, .. } | TypeKind::Union { fields, .. } => fields,
                _ => unreachable!("filtered above"),
            };
            let f = fields.iter().find(|f| f.name == *field).ok_or(format!("`{ty}.{field}`: missing"))?;
            if !type_is(sc, Some(f.ty), field_ty) || f.bit_size != *bit_size {
                return Err(format!(
                    "`{ty}.{field}`: expected {field_ty} bits {bit_size:?}, found {} bits {:?}",
                    show(sc, Some(f.ty)),
                    f.bit_size
                ));
            }
        }
        Expect::Enumerator { ty, name, value } => {
            let found = sc.types.iter().filter(|t| t.name == *ty).find_map(|t| match &t.kind {
                TypeKind::Enum { enumerators, .. } => enumerators.iter().find(|en| en.name == *name).map(|en| en.value),
                _ => None,
            });
            if found != Some(*value) {
                return Err(format!("`{ty}::{name}`: expected {value}, found {found:?}"));
            }
        }
        Expect::Wrapper { name, inner, offset } => {
            if !sc.wrappers.iter().any(|w| w.name == *name && w.inner == *inner && w.offset == *offset) {
                return Err(format!("wrapper `{name}` -> `{inner}` offset {offset}: missing (have {:?})", sc.wrappers));
            }
        }
    }
    Ok(())
}
