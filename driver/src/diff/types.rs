//! Named types (struct, union, enum) and the fields of the structs and
//! unions present in both versions.

use std::collections::BTreeMap;

use lucc_abi::sidecar::{Field, Sidecar, TypeDef, TypeKind};

use super::analyze::Cx;
use super::model::{Change, Class, Item, Kind, Rename, Side};
use super::renames;
use super::values::{compare, identical};

/// Aggregates and enums worth naming: complete, with a name of their own.
pub fn named(sc: &Sidecar) -> BTreeMap<&str, &TypeDef> {
    let mut out: BTreeMap<&str, &TypeDef> = BTreeMap::new();
    for t in &sc.types {
        let declaration = match &t.kind {
            TypeKind::Struct { declaration, .. } | TypeKind::Union { declaration, .. } => *declaration,
            TypeKind::Enum { .. } => false,
            _ => continue,
        };
        let anonymous = t.name.is_empty() || t.name.contains(['<', '{']) || t.name.contains("(anon") || t.name.ends_with(' ');
        if !declaration && !anonymous {
            out.entry(t.name.as_str()).or_insert(t);
        }
    }
    out
}

pub fn fields(t: &TypeDef) -> &[Field] {
    match &t.kind {
        TypeKind::Struct { fields, .. } | TypeKind::Union { fields, .. } => fields,
        _ => &[],
    }
}

fn type_side(t: &TypeDef) -> Side {
    Side { name: t.name.clone(), ty: t.name.clone(), size: t.size, ..Default::default() }
}

pub fn field_side(sc: &Sidecar, f: &Field) -> Side {
    Side {
        name: f.name.clone(),
        ty: super::analyze::spell(sc, Some(f.ty)),
        size: sc.resolve(f.ty).map_or(0, |t| t.size),
        offset: Some(f.offset),
        bits: f.bit_size.map(|w| format!("{}:{w}", f.bit_offset.unwrap_or(0))),
    }
}

pub fn diff(cx: &mut Cx, out: &mut Vec<Change>) {
    let (old, new) = (cx.old, cx.new);
    let olds = named(old);
    let news = named(new);
    let mut matched = std::collections::BTreeSet::new();
    let mut gone: Vec<(usize, &TypeDef)> = Vec::new();
    for (&oname, &o) in &olds {
        let nname = cx.tf.new_type_name(oname).to_string();
        let Some(&n) = news.get(nname.as_str()) else {
            gone.push((out.len(), o));
            out.push(removed(cx, o));
            continue;
        };
        matched.insert(nname.clone());
        let mut c = Change::new(Item::Type, &nname, Kind::Changed, Class::Convert);
        c.old = Some(type_side(o));
        c.new = Some(type_side(n));
        if oname != nname {
            c.aspects.push("renamed");
        }
        if o.size != n.size {
            c.aspects.push("size");
        }
        match cx.t.plan(o.id, n.id) {
            Err(e) => c.refuse(e.to_string()),
            Ok(p) if cx.t.plan_info(p).identical => {
                if oname == nname {
                    continue;
                }
                c.class = Class::Auto;
            }
            Ok(_) => {
                c.conversion = Some(match n.kind {
                    TypeKind::Enum { .. } => {
                        c.aspects.push("enumerators");
                        "enum-by-name (value must keep its enumerator)".into()
                    }
                    _ => "field-by-field".into(),
                });
            }
        }
        c.detail = match (o.size, n.size) {
            (a, b) if a != b => format!("{a} -> {b} bytes"),
            (a, _) => format!("{a} bytes"),
        };
        if oname != nname {
            c.detail = format!("renamed from {oname}, {}", c.detail);
        }
        if let TypeKind::Enum { enumerators: a, .. } = &o.kind {
            if let TypeKind::Enum { enumerators: b, .. } = &n.kind {
                let gone: Vec<&str> = a.iter().filter(|e| !b.iter().any(|x| x.name == e.name)).map(|e| e.name.as_str()).collect();
                let added: Vec<&str> = b.iter().filter(|e| !a.iter().any(|x| x.name == e.name)).map(|e| e.name.as_str()).collect();
                if !gone.is_empty() {
                    c.detail += &format!("; enumerators gone: {} (such values fail the update)", gone.join(", "));
                }
                if !added.is_empty() {
                    c.detail += &format!("; enumerators added: {}", added.join(", "));
                }
            }
        }
        out.push(c);
        if !fields(o).is_empty() || !fields(n).is_empty() {
            diff_fields(cx, o, n, out);
        }
    }
    let mut fresh: Vec<(usize, &TypeDef)> = Vec::new();
    for (&nname, &n) in &news {
        if !matched.contains(nname) {
            let mut c = Change::new(Item::Type, nname, Kind::Added, Class::Auto);
            c.new = Some(type_side(n));
            c.detail = format!("{} bytes", n.size);
            fresh.push((out.len(), n));
            out.push(c);
        }
    }
    // A type renamed: same kind, and most field names kept.
    let alike = |o: &TypeDef, n: &TypeDef| {
        let (of, nf) = (fields(o), fields(n));
        std::mem::discriminant(&o.kind) == std::mem::discriminant(&n.kind)
            && !of.is_empty()
            && 2 * of.iter().filter(|f| nf.iter().any(|g| g.name == f.name)).count() >= of.len().max(nf.len())
    };
    for (i, j) in renames::pair(&gone, &fresh, |r, a| alike(r.1, a.1), |_, _| false) {
        let (r, a) = (gone[i], fresh[j]);
        let rename = Rename {
            what: "type",
            within: None,
            old: r.1.name.clone(),
            new: a.1.name.clone(),
            because: "same kind, most field names kept".into(),
        };
        let key = format!("[types.\"{}\"]", a.1.name);
        let blocking = out[r.0].blocking;
        renames::suggest(out, (r.0, a.0), rename, &key);
        out[r.0].blocking = blocking;
    }
}

/// A type the new version no longer has: a problem only when the old state
/// can hold objects of it (a site allocates it; globals holding it fail on
/// their own).
fn removed(cx: &Cx, o: &TypeDef) -> Change {
    let mut c = Change::new(Item::Type, &o.name, Kind::Removed, Class::Auto);
    c.old = Some(type_side(o));
    let sites: Vec<String> = cx
        .old
        .sites
        .iter()
        .filter(|s| s.ty.and_then(|t| cx.old.resolve(t)).is_some_and(|t| t.id == o.id))
        .map(|s| format!("{:08x} ({}:{})", s.id, s.function, s.line))
        .collect();
    if sites.is_empty() {
        c.detail = "no allocation site creates it".into();
    } else {
        c.detail = format!("allocated at {}", sites.join(", "));
        c.refuse(format!(
            "objects of {} (allocated at {}) have no type in the new version: declare which new type it became (`renamed_from`)",
            o.name,
            sites.join(", ")
        ));
    }
    c
}

fn diff_fields(cx: &mut Cx, o: &TypeDef, n: &TypeDef, out: &mut Vec<Change>) {
    let (old, new, tf) = (cx.old, cx.new, cx.tf);
    let (of, nf) = (fields(o), fields(n));
    let rule = tf.ty(&n.name);
    let mut used = vec![false; of.len()];
    let mut added: Vec<(usize, &Field)> = Vec::new();
    for g in nf.iter().filter(|g| !g.name.is_empty()) {
        let name = format!("{}.{}", n.name, g.name);
        let frule = tf.field(&n.name, &g.name);
        let old_name = tf.old_field_name(&n.name, &g.name);
        let found = of.iter().position(|f| f.name == old_name);
        let set = frule.and_then(|r| r.set);
        let Some(i) = found else {
            let mut c = Change::new(Item::Field, name, Kind::Added, Class::Convert);
            c.new = Some(field_side(new, g));
            c.conversion = Some(if set.is_some() { "set".into() } else { "zero-fill".into() });
            c.detail = match set {
                Some(v) => format!("{} at {}; set to {v:?}", c.new.as_ref().unwrap().ty, g.offset),
                None => format!(
                    "{} at {}; 0 in heap objects, the new initializer in globals",
                    c.new.as_ref().unwrap().ty,
                    g.offset
                ),
            };
            if set.is_none() {
                added.push((out.len(), g));
            }
            out.push(c);
            continue;
        };
        used[i] = true;
        let f = &of[i];
        let mut c = Change::new(Item::Field, name.clone(), Kind::Changed, Class::Auto);
        c.old = Some(field_side(old, f));
        c.new = Some(field_side(new, g));
        if old_name != g.name {
            c.aspects.push("renamed");
        }
        if f.offset != g.offset {
            c.aspects.push("offset");
        }
        let bitfield = f.bit_size.is_some() || g.bit_size.is_some();
        if bitfield && (f.bit_size != g.bit_size || f.bit_offset != g.bit_offset) {
            c.aspects.push("bitfield_changed");
        }
        let truncate = rule.is_some_and(|r| r.allow_truncate) || frule.is_some_and(|r| r.allow_truncate);
        let same_value = identical(&mut cx.t, f.ty, g.ty);
        if set.is_some() {
            c.class = Class::Convert;
            c.conversion = Some("set".into());
        } else if frule.is_some_and(|r| r.active.is_some()) {
            c.aspects.push("union_changed");
            c.class = Class::Convert;
            c.conversion = Some("union-by-tag".into());
        } else if bitfield {
            if c.aspects.contains(&"bitfield_changed") || !same_value {
                let narrower = g.bit_size.unwrap_or(u64::MAX) < f.bit_size.unwrap_or(u64::MAX);
                c.class = Class::Convert;
                c.conversion = Some(if narrower { "bitfield+range-check".into() } else { "bitfield".into() });
            }
        } else if let Err(e) = cx.t.plan(f.ty, g.ty) {
            c.aspects.push("incompatible");
            c.refuse(super::engine::item_error(&name, &e));
        } else if !same_value {
            let v = compare((old, new), tf, &mut cx.t, (f.ty, g.ty), truncate);
            c.aspects.extend(v.aspects);
            c.class = v.class;
            c.conversion = v.conversion;
        }
        if c.aspects.is_empty() && same_value {
            continue;
        }
        let (os, ns) = (c.old.as_ref().unwrap(), c.new.as_ref().unwrap());
        c.detail = if os.ty == ns.ty { os.ty.clone() } else { format!("{} -> {}", os.ty, ns.ty) };
        if f.offset != g.offset {
            c.detail += &format!(", offset {} -> {}", f.offset, g.offset);
        }
        if let (Some(a), Some(b)) = (&os.bits, &ns.bits) {
            if a != b {
                c.detail += &format!(", bits {a} -> {b}");
            }
        }
        if old_name != g.name {
            c.detail += &format!(", renamed from {old_name}");
        }
        out.push(c);
    }
    let mut removed: Vec<(usize, &Field)> = Vec::new();
    for (f, used) in of.iter().zip(used) {
        if used || f.name.is_empty() {
            continue;
        }
        let mut c = Change::new(Item::Field, format!("{}.{}", n.name, f.name), Kind::Removed, Class::Convert);
        c.old = Some(field_side(old, f));
        let declared = rule.is_some_and(|r| r.dropped.contains(&f.name));
        c.conversion = Some(if declared { "drop (declared)".into() } else { "drop".into() });
        c.detail = format!("{} at {}; its value is discarded", c.old.as_ref().unwrap().ty, f.offset);
        if !declared {
            removed.push((out.len(), f));
        }
        out.push(c);
    }
    let spelled = |sc: &Sidecar, f: &Field| super::analyze::spell(sc, Some(f.ty));
    let pairs = renames::pair(
        &removed,
        &added,
        |r, a| spelled(old, r.1) == spelled(new, a.1),
        |r, a| cx.t.plan(r.1.ty, a.1.ty).is_ok(),
    );
    for (i, j) in pairs {
        let (r, a) = (removed[i], added[j]);
        let because = if spelled(old, r.1) == spelled(new, a.1) {
            format!("both {}", spelled(old, r.1))
        } else {
            format!("{} -> {}, convertible", spelled(old, r.1), spelled(new, a.1))
        };
        let rename = Rename { what: "field", within: Some(n.name.clone()), old: r.1.name.clone(), new: a.1.name.clone(), because };
        let key = format!("[types.\"{}\".fields.{}]", n.name, a.1.name);
        renames::suggest(out, (r.0, a.0), rename, &key);
    }
}
