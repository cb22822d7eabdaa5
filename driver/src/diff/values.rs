//! How a value of one type becomes a value of another: the aspects of the
//! change and the conversion the engine applies (its rules are in
//! transfer/README.md, "What converts"). Whether the engine accepts the
//! pair at all is asked of the engine itself by the callers; this only
//! names what happens when it does.

use lucc_abi::sidecar::{BaseEncoding, Sidecar, TypeDef, TypeId, TypeKind};
use lucc_transfer::{Transfer, Transform};

use super::model::Class;

pub struct ValueChange {
    pub aspects: Vec<&'static str>,
    pub conversion: Option<String>,
    pub class: Class,
}

/// Integer-like scalar: (size, signed, enum, bool).
fn int_like(sc: &Sidecar, t: &TypeDef) -> Option<(u64, bool, bool, bool)> {
    match &t.kind {
        TypeKind::Base { encoding } => match encoding {
            BaseEncoding::Signed | BaseEncoding::SignedChar => Some((t.size, true, false, false)),
            BaseEncoding::Unsigned | BaseEncoding::UnsignedChar => Some((t.size, false, false, false)),
            BaseEncoding::Bool => Some((t.size, false, false, true)),
            BaseEncoding::Float => None,
        },
        TypeKind::Enum { underlying, enumerators } => {
            let signed = match underlying.and_then(|u| sc.resolve(u)) {
                Some(TypeDef { kind: TypeKind::Base { encoding }, .. }) => {
                    matches!(encoding, BaseEncoding::Signed | BaseEncoding::SignedChar)
                }
                _ => enumerators.iter().any(|e| e.value < 0),
            };
            Some((t.size, signed, true, false))
        }
        _ => None,
    }
}

fn is_float(t: &TypeDef) -> bool {
    matches!(t.kind, TypeKind::Base { encoding: BaseEncoding::Float })
}

/// Whether the engine copies `ot` into `nt` as is.
pub fn identical(t: &mut Transfer, ot: TypeId, nt: TypeId) -> bool {
    t.plan(ot, nt).is_ok_and(|p| t.plan_info(p).identical)
}

/// The change from old type `ot` to new type `nt` (which the engine does
/// not copy as is). `truncate`: the transform file allows shrunk arrays to
/// lose elements.
pub fn compare(
    (old, new): (&Sidecar, &Sidecar),
    tf: &Transform,
    t: &mut Transfer,
    (ot, nt): (TypeId, TypeId),
    truncate: bool,
) -> ValueChange {
    let mut v = ValueChange { aspects: Vec::new(), conversion: None, class: Class::Convert };
    let (Some(o), Some(n)) = (old.resolve(ot), new.resolve(nt)) else {
        v.aspects.push("incompatible");
        v.class = Class::NeedsTransform;
        return v;
    };
    let conv = |s: &str| Some(s.to_string());
    match (&o.kind, &n.kind) {
        (TypeKind::Struct { .. }, TypeKind::Struct { .. }) if tf.new_type_name(&o.name) == n.name || n.name.contains('{') => {
            v.aspects.push("nested_struct_changed");
            v.conversion = conv("field-by-field");
        }
        (TypeKind::Union { .. }, TypeKind::Union { .. }) => {
            v.aspects.push("union_changed");
            v.conversion = conv("union-by-tag");
        }
        (TypeKind::Array { element: oe, count: oc }, TypeKind::Array { element: ne, count: nc }) => {
            let (oc, nc) = (oc.unwrap_or(0), nc.unwrap_or(0));
            let mut how = Vec::new();
            if !identical(t, *oe, *ne) {
                let inner = compare((old, new), tf, t, (*oe, *ne), truncate);
                v.aspects.push("element_changed");
                v.aspects.extend(inner.aspects);
                v.class = v.class.max(inner.class);
                how.extend(inner.conversion.map(|c| format!("elements: {c}")));
            }
            if oc != nc {
                v.aspects.push("array_resized");
                how.push(if nc > oc {
                    "grow+zero-fill".into()
                } else if truncate {
                    "shrink+truncate".into()
                } else {
                    "shrink+zero-check".into()
                });
            }
            v.conversion = Some(how.join(", "));
        }
        (TypeKind::Pointer { pointee: a }, TypeKind::Pointer { pointee: b }) => {
            let name = |sc: &Sidecar, id: &Option<TypeId>| id.and_then(|i| sc.ty(i)).map(|t| t.name.clone());
            if name(old, a).map(|s| tf.new_type_name(&s).to_string()) != name(new, b) {
                v.aspects.push("pointer_target_changed");
            }
            v.class = Class::Auto;
            v.conversion = conv("pointer-remap");
        }
        _ if is_float(o) && is_float(n) => {
            v.aspects.push("float_size");
            v.conversion = conv("float-convert");
        }
        _ => match (int_like(old, o), int_like(new, n)) {
            (Some((os, osg, oen, _)), Some((ns, nsg, nen, _))) => {
                let mut how = match (oen, nen) {
                    (false, true) => {
                        v.aspects.push("int_to_enum");
                        "int->enum (value must be an enumerator)".to_string()
                    }
                    (true, false) => {
                        v.aspects.push("enum_to_int");
                        "enum->int".to_string()
                    }
                    (true, true) => {
                        v.aspects.push("enumerators");
                        "enum-by-name (value must keep its enumerator)".to_string()
                    }
                    (false, false) => String::new(),
                };
                let checked = if ns > os {
                    v.aspects.push("widened");
                    if osg && !nsg { "widen+range-check" } else { "widen" }
                } else if ns < os {
                    v.aspects.push("narrowed");
                    "narrow+range-check"
                } else if osg != nsg {
                    v.aspects.push("signedness");
                    "sign+range-check"
                } else {
                    ""
                };
                if !checked.is_empty() {
                    how = if how.is_empty() { checked.into() } else { format!("{how}, {checked}") };
                }
                if how.is_empty() {
                    how = "range-check".into();
                }
                v.conversion = Some(how);
            }
            _ => {
                v.aspects.push("incompatible");
                v.class = Class::NeedsTransform;
            }
        },
    }
    v
}
