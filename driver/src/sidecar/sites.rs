//! Allocation sites and wrappers from the fragments the pass left in the
//! binary, typed against the deduplicated DWARF types.
//!
//! The pass sees LLVM IR, so it names records as LLVM does: the tag for
//! `struct node`, but the typedef name for `typedef struct { .. } foo_t`
//! (clang calls that IR type `struct.foo_t`), sometimes with a `.N` suffix
//! LLVM adds to keep names unique. Resolution therefore tries the tag, then
//! a typedef of that name, then both again without the suffix. Scalars map
//! to the C type of that width, added to the table when the program's
//! DWARF never mentions it.
//!
//! A tagged type is looked up in the site's own unit first: two files may
//! each define a private `struct entry`. A wrapper's name is looked up first in the site's own unit (two files
//! may each have a `static` `xmalloc`), then in any unit.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use lucc_abi::fragment::{Fragment, SiteRecord, SiteType, WrapperRecord};
use lucc_abi::sidecar::{BaseEncoding, Site, TypeId, TypeKind, Wrapper};
use lucc_abi::SiteId;

use super::dwarf::normalise;
use super::types::TypeTable;

pub struct Sites {
    pub sites: Vec<Site>,
    pub wrappers: Vec<Wrapper>,
    pub units: Vec<String>,
}

/// `units` are the paths of the DWARF compile units (see `dwarf::Unit`).
pub fn merge(fragments: &[Fragment], units: &[PathBuf], types: &mut TypeTable) -> Result<Sites> {
    let unit_of: Vec<Option<usize>> = fragments
        .iter()
        .map(|f| {
            let source = normalise(Path::new(&f.source));
            units.iter().position(|u| *u == source)
        })
        .collect();
    let mut by_id: BTreeMap<SiteId, (&SiteRecord, usize)> = BTreeMap::new();
    for (f, fragment) in fragments.iter().enumerate() {
        for site in &fragment.sites {
            if let Some((other, _)) = by_id.get(&site.id) {
                if *other != site {
                    bail!(
                        "allocation site id {:#x} collides: {} and {} (renaming either function gives them distinct ids)",
                        site.id,
                        describe(other),
                        describe(site)
                    );
                }
                continue;
            }
            by_id.insert(site.id, (site, f));
        }
    }
    let global: HashMap<&str, &WrapperRecord> = fragments
        .iter()
        .flat_map(|f| &f.wrappers)
        .map(|w| (w.name.as_str(), w))
        .collect();
    let mut sites = Vec::with_capacity(by_id.len());
    for (site, f) in by_id.into_values() {
        let lookup = |name: &str| {
            fragments[f]
                .wrappers
                .iter()
                .find(|w| w.name == name)
                .or_else(|| global.get(name).copied())
        };
        let (via, offset) = if site.direct {
            (Vec::new(), 0)
        } else {
            chain(&site.callee, lookup)
        };
        sites.push(Site {
            id: site.id,
            function: site.function.clone(),
            file: site.file.clone(),
            line: site.line,
            callee: site.callee.clone(),
            via,
            offset,
            ty: resolve(types, unit_of[f], &site.ty),
            ty_desc: describe_type(&site.ty),
        });
    }
    let wrappers: BTreeSet<(String, String, i64)> = fragments
        .iter()
        .flat_map(|f| &f.wrappers)
        .filter(|w| !chain(&w.name, |name| global.get(name).copied()).0.is_empty())
        .map(|w| (w.name.clone(), w.inner.clone(), w.offset))
        .collect();
    let units: BTreeSet<String> = fragments.iter().map(|f| f.source.clone()).collect();
    Ok(Sites {
        sites,
        wrappers: wrappers
            .into_iter()
            .map(|(name, inner, offset)| Wrapper {
                name,
                inner,
                offset,
            })
            .collect(),
        units: units.into_iter().collect(),
    })
}

fn describe(site: &SiteRecord) -> String {
    format!(
        "{} in {} at {}:{}",
        site.callee, site.function, site.file, site.line
    )
}

/// The wrapper chain below `callee`, outermost first and ending at the
/// allocator, with the summed offsets; empty when `callee` is not a known
/// wrapper (the runtime then keeps the block's own site).
fn chain<'a>(
    callee: &str,
    lookup: impl Fn(&str) -> Option<&'a WrapperRecord>,
) -> (Vec<String>, i64) {
    let mut via = Vec::new();
    let mut offset = 0;
    let mut visited = HashSet::new();
    let mut current = callee.to_string();
    while let Some(w) = lookup(&current) {
        if !visited.insert(current.clone()) {
            break;
        }
        via.push(current.clone());
        offset += w.offset;
        current = w.inner.clone();
    }
    // A chain that does not end at a libc allocator is a function that
    // forwards a pointer it did not allocate (`lookupKey` returning what
    // `dictFetchValue` found): the call site still says how the program
    // types the pointer, but nothing was allocated through it.
    if via.is_empty() || lucc_abi::symbols::allocator(&current).is_none() {
        return (Vec::new(), 0);
    }
    via.push(current);
    (via, offset)
}

pub fn describe_type(ty: &SiteType) -> String {
    match ty {
        SiteType::Untyped => "untyped".into(),
        SiteType::Record { name, union } => {
            format!("{} {name}", if *union { "union" } else { "struct" })
        }
        SiteType::Int { bits } => format!("i{bits}"),
        SiteType::Float { bits } => format!("f{bits}"),
        SiteType::Pointer => "pointer".into(),
        SiteType::FunctionPointer => "function pointer".into(),
    }
}

/// The sidecar type of a site in the unit `unit` (when the fragment's
/// source is one of the DWARF units).
fn resolve(types: &mut TypeTable, unit: Option<usize>, ty: &SiteType) -> Option<TypeId> {
    match ty {
        SiteType::Untyped => None,
        SiteType::Record { name, union } => record(types, unit, name, *union).or_else(|| {
            let (stem, suffix) = name.rsplit_once('.')?;
            suffix.bytes().all(|b| b.is_ascii_digit()).then_some(())?;
            record(types, unit, stem, *union)
        }),
        SiteType::Int { bits } => {
            let (name, encoding) = match bits {
                8 => ("char", BaseEncoding::SignedChar),
                16 => ("short", BaseEncoding::Signed),
                32 => ("int", BaseEncoding::Signed),
                64 => ("long", BaseEncoding::Signed),
                1 => ("_Bool", BaseEncoding::Bool),
                _ => {
                    return Some(types.intern(
                        &format!("__int{bits}"),
                        u64::from(bits.div_ceil(8)),
                        TypeKind::Base {
                            encoding: BaseEncoding::Signed,
                        },
                    ))
                }
            };
            Some(base(types, name, u64::from(bits / 8).max(1), encoding))
        }
        SiteType::Float { bits } => {
            let name = match bits {
                32 => "float",
                64 => "double",
                _ => "long double",
            };
            let size = if *bits > 64 { 16 } else { u64::from(bits / 8) };
            Some(base(types, name, size, BaseEncoding::Float))
        }
        SiteType::Pointer => Some(types.intern("void *", 8, TypeKind::Pointer { pointee: None })),
        SiteType::FunctionPointer => {
            let existing = types.types.iter().find(|t| match t.kind {
                TypeKind::Pointer { pointee: Some(p) } => {
                    matches!(types.types[p as usize].kind, TypeKind::Function { .. })
                }
                _ => false,
            });
            if let Some(t) = existing {
                return Some(t.id);
            }
            let f = types.intern(
                "void (void)",
                0,
                TypeKind::Function {
                    ret: None,
                    params: vec![],
                    variadic: false,
                },
            );
            Some(types.intern("void (*)(void)", 8, TypeKind::Pointer { pointee: Some(f) }))
        }
    }
}

fn base(types: &mut TypeTable, name: &str, size: u64, encoding: BaseEncoding) -> TypeId {
    match types
        .types
        .iter()
        .find(|t| t.name == name && matches!(t.kind, TypeKind::Base { .. }))
    {
        Some(t) => t.id,
        None => types.intern(name, size, TypeKind::Base { encoding }),
    }
}

/// The complete record with this tag, else a typedef of this name that
/// leads to a record of the right kind; the site's own unit first.
fn record(types: &TypeTable, unit: Option<usize>, name: &str, union: bool) -> Option<TypeId> {
    let tagged = format!("{} {name}", if union { "union" } else { "struct" });
    let fits = |id: TypeId| leads_to_record(types, id, union);
    let in_unit = |spelled: &str| {
        unit.and_then(|u| types.in_unit(u, spelled))
            .filter(|&id| fits(id))
    };
    let anywhere = |spelled: &str, typedef: bool| {
        types
            .types
            .iter()
            .filter(|t| t.name == spelled && matches!(t.kind, TypeKind::Typedef { .. }) == typedef)
            .map(|t| t.id)
            .find(|&id| fits(id))
    };
    in_unit(&tagged)
        .or_else(|| in_unit(name))
        .or_else(|| anywhere(&tagged, false))
        .or_else(|| anywhere(name, true))
}

/// Whether `id`, through typedefs, is a complete struct (or union).
fn leads_to_record(types: &TypeTable, mut id: TypeId, union: bool) -> bool {
    for _ in 0..16 {
        match &types.types[id as usize].kind {
            TypeKind::Typedef { target: Some(next) } => id = *next,
            TypeKind::Struct { declaration, .. } => return !union && !declaration,
            TypeKind::Union { declaration, .. } => return union && !declaration,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(name: &str, inner: &str, offset: i64) -> WrapperRecord {
        WrapperRecord { name: name.into(), inner: inner.into(), offset }
    }

    #[test]
    fn chains_end_at_an_allocator_or_are_empty() {
        let records = [
            w("createObject", "zmalloc", 0),
            w("zmalloc", "malloc", 8),
            w("lookupKey", "dictFetchValue", 0),
            w("loopA", "loopB", 0),
            w("loopB", "loopA", 0),
        ];
        let lookup = |name: &str| records.iter().find(|r| r.name == name);
        assert_eq!(
            chain("createObject", lookup),
            (vec!["createObject".into(), "zmalloc".into(), "malloc".into()], 8)
        );
        assert_eq!(chain("lookupKey", lookup), (vec![], 0));
        assert_eq!(chain("loopA", lookup), (vec![], 0));
        assert_eq!(chain("malloc", lookup), (vec![], 0));
    }
}
