//! The link step of the static invariants: every unit's facts (from its
//! fragment) merged, and named after the DWARF fields and variables.
//!
//! A field is known to the pass as (record name, byte offset) and to the
//! sidecar as a DWARF member; they meet on the record's tag (or the typedef
//! name of an anonymous struct, which is what clang calls it in IR) and
//! the offset. A field only has an invariant if every unit agrees: the
//! stores and escapes of all units are pooled before merging, so one
//! unit's escape or unknown store removes it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use lucc_abi::fragment::Fragment;
use lucc_abi::sidecar::{Sidecar, TypeId, TypeKind};
use lucc_invariants::{
    merge, Coverage, Facts, FieldInvariant, Location, Merged, ProgramInvariants, VariableInvariant, Verdict,
};

use super::dwarf::normalise;

/// The names the pass may give each struct type: its tag, and the name of
/// every typedef of it.
fn record_names(sc: &Sidecar) -> HashMap<TypeId, Vec<String>> {
    let mut names: HashMap<TypeId, Vec<String>> = HashMap::new();
    for t in &sc.types {
        match &t.kind {
            TypeKind::Struct { declaration: false, .. } => {
                if let Some(tag) = t.name.strip_prefix("struct ") {
                    names.entry(t.id).or_default().push(tag.to_string());
                }
            }
            TypeKind::Typedef { target: Some(target) } => {
                if matches!(sc.ty(*target).map(|d| &d.kind), Some(TypeKind::Struct { declaration: false, .. })) {
                    names.entry(*target).or_default().push(t.name.clone());
                }
            }
            _ => {}
        }
    }
    names
}

/// Scalar (integer, enum, pointer) types: the ones an invariant can hold for.
fn is_scalar(sc: &Sidecar, ty: TypeId) -> bool {
    matches!(sc.resolve(ty).map(|t| &t.kind), Some(TypeKind::Base { .. } | TypeKind::Enum { .. } | TypeKind::Pointer { .. }))
        && !matches!(sc.resolve(ty).map(|t| &t.kind), Some(TypeKind::Base { encoding: lucc_abi::sidecar::BaseEncoding::Float }))
}

pub fn merge_fragments(fragments: &[Fragment], sc: &Sidecar) -> ProgramInvariants {
    let names = record_names(sc);
    let mut facts: BTreeMap<Location, Facts> = BTreeMap::new();
    for fr in fragments {
        for (loc, f) in &fr.invariants.locations {
            let e = facts.entry(loc.clone()).or_default();
            e.stores.extend(f.stores.iter().cloned());
            e.escapes.extend(f.escapes.iter().cloned());
        }
    }
    // Whole-record stores and escapes reach every field of the record and
    // of the records nested in it.
    let by_name: HashMap<&str, Vec<TypeId>> = names.iter().fold(HashMap::new(), |mut m, (id, ns)| {
        for n in ns {
            m.entry(n.as_str()).or_default().push(*id);
        }
        m
    });
    let field_locations = |record: &str| -> Vec<Location> {
        let mut out = Vec::new();
        let mut todo: Vec<TypeId> = by_name.get(record).cloned().unwrap_or_default();
        let mut seen = Vec::new();
        while let Some(id) = todo.pop() {
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let Some(TypeKind::Struct { fields, .. }) = sc.ty(id).map(|t| &t.kind) else { continue };
            let Some(rname) = names.get(&id).and_then(|n| n.first()) else { continue };
            for f in fields {
                out.push(Location::Field { record: rname.clone(), offset: f.offset });
                if let Some(inner) = sc.resolve(f.ty) {
                    if matches!(inner.kind, TypeKind::Struct { .. }) {
                        todo.push(inner.id);
                    }
                }
            }
        }
        out
    };
    for fr in fragments {
        for (record, store) in &fr.invariants.whole_records {
            for loc in field_locations(record) {
                facts.entry(loc).or_default().stores.push(store.clone());
            }
        }
        for (record, escape) in &fr.invariants.record_escapes {
            for loc in field_locations(record) {
                facts.entry(loc).or_default().escapes.push(escape.clone());
            }
        }
    }
    for f in facts.values_mut() {
        f.stores.sort();
        f.stores.dedup();
        f.escapes.sort();
        f.escapes.dedup();
    }
    let merged = merge(&facts);
    let never = || Merged { verdict: Verdict::None { reason: "never stored by the program".into() }, established_by: vec![] };

    let mut out = ProgramInvariants::default();
    let mut cov = Coverage::default();
    let mut ids: Vec<&TypeId> = names.keys().collect();
    ids.sort();
    let mut done: Vec<(String, u64)> = Vec::new();
    for &id in ids {
        let t = sc.ty(id).expect("named above");
        let TypeKind::Struct { fields, .. } = &t.kind else { continue };
        let rname = &names[&id][0];
        let shown = if t.name.starts_with("struct ") { t.name.clone() } else { rname.clone() };
        for f in fields {
            if f.bit_size.is_some() || !is_scalar(sc, f.ty) || done.contains(&(shown.clone(), f.offset)) {
                continue;
            }
            done.push((shown.clone(), f.offset));
            // Any of the record's names may be the one the pass saw.
            let m = names[&id]
                .iter()
                .find_map(|n| merged.get(&Location::Field { record: n.clone(), offset: f.offset }))
                .cloned()
                .unwrap_or_else(never);
            cov.fields += 1;
            if matches!(m.verdict, Verdict::Holds { .. }) {
                cov.fields_with_invariant += 1;
            }
            out.fields.push(FieldInvariant {
                record: shown.clone(),
                field: f.name.clone(),
                offset: f.offset,
                size: sc.resolve(f.ty).map(|t| t.size).unwrap_or(0),
                verdict: m.verdict,
                established_by: m.established_by,
            });
        }
    }
    let same_unit = |a: &str, b: &str| {
        a.is_empty() || normalise(Path::new(a)) == normalise(Path::new(b)) || Path::new(a).file_name() == Path::new(b).file_name()
    };
    for v in sc.globals.iter().chain(&sc.static_locals) {
        if !v.ty.is_some_and(|t| is_scalar(sc, t)) {
            continue;
        }
        let ir_name = if v.function.is_empty() { v.name.clone() } else { format!("{}.{}", v.function, v.name) };
        let m = merged
            .iter()
            .find(|(l, _)| matches!(l, Location::Global { name, unit } if *name == ir_name && same_unit(unit, &v.unit)))
            .map(|(_, m)| m.clone())
            .unwrap_or_else(never);
        cov.variables += 1;
        if matches!(m.verdict, Verdict::Holds { .. }) {
            cov.variables_with_invariant += 1;
        }
        out.variables.push(VariableInvariant {
            name: v.name.clone(),
            function: v.function.clone(),
            unit: v.unit.clone(),
            verdict: m.verdict,
            established_by: m.established_by,
        });
    }
    out.coverage = cov;
    out
}
