//! What the forward update discards by design, which the round trip cannot
//! bring back and the comparison therefore leaves out (counted as dropped
//! by the update, not compared): old fields and variables the new version
//! has no counterpart for (after the transform's renames), those the
//! transform lists as dropped or replaces with a constant (`set`), and the
//! tails of arrays the new version shortened where the transform allows
//! the truncation. Everything else must come back, renamed or not.
//!
//! Decided from the old sidecar (this process's), the new version's
//! sidecar (from P2's image) and the forward transform (from P1's image),
//! by the rules the transfer's conversion plans follow.

use std::collections::HashMap;

use lucc_abi::sidecar::{Field, Sidecar, TypeId, TypeKind};
use lucc_transfer::Transform;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// The whole field or variable.
    Whole,
    /// An array's elements from this index on.
    Tail(u64),
}

#[derive(Default)]
pub struct Drops {
    /// (old type name, old field name).
    fields: HashMap<(String, String), Dropped>,
    /// Old variable, `function::name` for static locals.
    variables: HashMap<String, Dropped>,
}

impl Drops {
    pub fn field(&self, ty: &str, field: &str) -> Option<Dropped> {
        self.fields.get(&(ty.to_string(), field.to_string())).copied()
    }

    pub fn variable(&self, name: &str) -> Option<Dropped> {
        self.variables.get(name).copied()
    }
}

fn var_name(function: &str, name: &str) -> String {
    if function.is_empty() {
        name.to_string()
    } else {
        format!("{function}::{name}")
    }
}

/// The element count of `ty` if it is an array.
fn array_len(sc: &Sidecar, ty: TypeId) -> Option<u64> {
    match &sc.resolve(ty)?.kind {
        TypeKind::Array { count, .. } => *count,
        _ => None,
    }
}

/// `Tail(new)` if the old array is longer than the new one.
fn shortened(old: &Sidecar, new: &Sidecar, ot: TypeId, nt: TypeId) -> Option<Dropped> {
    let (o, n) = (array_len(old, ot)?, array_len(new, nt)?);
    (n < o).then_some(Dropped::Tail(n))
}

pub fn decide(old: &Sidecar, new: &Sidecar, tf: &Transform) -> Drops {
    let mut d = Drops::default();
    // Struct fields by type name: the names the transform and the
    // comparison use (one definition per name is enough: two structs of
    // one name in one program would have to agree for the transfer too).
    let mut new_structs: HashMap<&str, &[Field]> = HashMap::new();
    for t in &new.types {
        if let TypeKind::Struct { fields, .. } = &t.kind {
            if !fields.is_empty() {
                new_structs.entry(t.name.as_str()).or_insert(fields.as_slice());
            }
        }
    }
    for t in &old.types {
        let TypeKind::Struct { fields, .. } = &t.kind else { continue };
        let new_name = tf.new_type_name(&t.name);
        // A type the new version lacks altogether is not a dropped field:
        // its objects have nowhere to go, which the comparison reports.
        let Some(new_fields) = new_structs.get(new_name) else { continue };
        let rule = tf.ty(new_name);
        for f in fields.iter().filter(|f| !f.name.is_empty()) {
            let key = (t.name.clone(), f.name.clone());
            let counterpart = new_fields.iter().find(|g| !g.name.is_empty() && tf.old_field_name(new_name, &g.name) == f.name);
            let frule = counterpart.and_then(|g| tf.field(new_name, &g.name));
            let declared = rule.is_some_and(|r| r.dropped.contains(&f.name));
            match counterpart {
                None => {
                    d.fields.insert(key, Dropped::Whole);
                }
                Some(_) if declared || frule.is_some_and(|r| r.set.is_some()) => {
                    d.fields.insert(key, Dropped::Whole);
                }
                Some(g) if rule.is_some_and(|r| r.allow_truncate) || frule.is_some_and(|r| r.allow_truncate) => {
                    if let Some(tail) = shortened(old, new, f.ty, g.ty) {
                        d.fields.insert(key, tail);
                    }
                }
                Some(_) => {}
            }
        }
    }
    for ov in old.globals.iter().chain(&old.static_locals) {
        let old_name = var_name(&ov.function, &ov.name);
        let new_name = tf.new_global_name(&old_name);
        let (function, name) = match new_name.split_once("::") {
            Some((f, n)) if !ov.function.is_empty() => (f, n),
            _ => (ov.function.as_str(), new_name),
        };
        let nv = new.globals.iter().chain(&new.static_locals).find(|v| v.name == name && v.function == function);
        let rule = tf.global(new_name);
        let dropped = match nv {
            None => Some(Dropped::Whole),
            Some(_) if tf.dropped_globals.contains(&old_name) || rule.is_some_and(|r| r.set.is_some()) => Some(Dropped::Whole),
            Some(nv) if rule.is_some_and(|r| r.allow_truncate) => match (ov.ty, nv.ty) {
                (Some(ot), Some(nt)) => shortened(old, new, ot, nt),
                _ => None,
            },
            Some(_) => None,
        };
        if let Some(x) = dropped {
            d.variables.insert(old_name, x);
        }
    }
    d
}
