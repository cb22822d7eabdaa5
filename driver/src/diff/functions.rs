//! Functions whose addresses the state may hold. The engine remaps a
//! function pointer to the new function of the same name and fails the
//! update when there is none; the diff names the removed functions and,
//! when it has the old binary, the variables whose initial value points at
//! one. Addresses stored at run time (`hook = handler;` in code) are not
//! seen here: such a removal is reported as non-blocking.

use lucc_abi::sidecar::{Sidecar, TypeId, TypeKind};

use super::analyze::Cx;
use super::types::fields;
use super::model::{Change, Class, Item, Kind, Side};

pub fn diff(cx: &Cx, out: &mut Vec<Change>) {
    let (old, new) = (cx.old, cx.new);
    let gone = old.functions.iter().filter(|f| !new.functions.iter().any(|g| g.name == f.name));
    for f in gone {
        let mut c = Change::new(Item::Function, &f.name, Kind::Removed, Class::Auto);
        c.old = Some(Side { name: f.name.clone(), size: f.size, ..Default::default() });
        // A holder keeps the old pointer only where the transfer carries
        // the word holding it into the new version: not when the holder is
        // `set` or gone, nor when the transform drops the part holding it
        // (an array tail cut by `allow_truncate`, a dropped or `set` field).
        let holders: Vec<&String> = cx
            .function_holders
            .get(&f.name)
            .into_iter()
            .flatten()
            .filter(|(h, offsets)| offsets.iter().any(|&off| carried(cx, h, off)))
            .map(|(h, _)| h)
            .collect();
        let discarded: Vec<&str> = cx.function_holders.get(&f.name).into_iter().flatten().map(|(h, _)| h.as_str()).filter(|h| !holders.iter().any(|k| k.as_str() == *h)).collect();
        if holders.is_empty() && !discarded.is_empty() {
            c.detail = format!(
                "its address starts out only in parts of {} that the transfer discards (a dropped field, an array tail cut by allow_truncate); the update fails only if the state holds it elsewhere then",
                discarded.join(", ")
            );
        } else if holders.is_empty() {
            c.detail = if cx.have_old_binary {
                "no variable starts out pointing at it; the update fails only if the state holds its address then".into()
            } else {
                "unknown whether the state holds its address (give the old binary, not its .lumap)".into()
            };
        } else {
            let list = holders.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(", ");
            c.aspects.push("referenced_from_state");
            c.held_by = holders.iter().map(|h| h.to_string()).collect();
            c.detail = format!("its address is the initial value of {list}");
            c.refuse(format!(
                "{list} holds the address of {}, which the new version no longer has: keep the function, `set` the holder, or drop the part holding it (`allow_truncate` for an array's tail, `dropped` for a field)",
                f.name
            ));
        }
        out.push(c);
    }
    for f in new.functions.iter().filter(|f| !old.functions.iter().any(|g| g.name == f.name)) {
        let mut c = Change::new(Item::Function, &f.name, Kind::Added, Class::Auto);
        c.new = Some(Side { name: f.name.clone(), size: f.size, ..Default::default() });
        c.detail = format!("{} bytes of code", f.size);
        out.push(c);
    }
}

/// Whether the word at byte `off` of old variable `holder` reaches the new
/// version, following the transform's rules the way the transfer's
/// conversion plans do (transfer/src/typemap.rs).
fn carried(cx: &Cx, holder: &str, off: u64) -> bool {
    let tf = cx.tf;
    if tf.dropped_globals.iter().any(|d| d == holder) {
        return false;
    }
    let new_name = tf.new_global_name(holder);
    let rule = tf.global(new_name);
    if rule.is_some_and(|r| r.set.is_some()) {
        return false;
    }
    let var = |sc: &'_ Sidecar, name: &str| {
        let (func, var) = name.split_once("::").unwrap_or(("", name));
        sc.globals.iter().chain(&sc.static_locals).find(|v| v.function == func && v.name == var).map(|v| v.ty)
    };
    // A variable the new version no longer has holds nothing.
    let Some(new_ty) = var(cx.new, new_name) else { return false };
    // Without a type on either side the words are copied as they are.
    let (Some(Some(old_ty)), Some(new_ty)) = (var(cx.old, holder), new_ty) else { return true };
    carried_in(cx, old_ty, new_ty, off, rule.is_some_and(|r| r.allow_truncate))
}

fn carried_in(cx: &Cx, old_ty: TypeId, new_ty: TypeId, off: u64, truncate: bool) -> bool {
    let (Some(o), Some(n)) = (cx.old.resolve(old_ty), cx.new.resolve(new_ty)) else { return true };
    match (&o.kind, &n.kind) {
        (TypeKind::Array { element: oe, .. }, TypeKind::Array { element: ne, count: nc }) => {
            let size = cx.old.resolve(*oe).map_or(0, |t| t.size);
            if size == 0 {
                return true;
            }
            if nc.is_some_and(|nc| off / size >= nc) {
                // Past the new length: cut when the file allows truncation;
                // otherwise the transfer refuses a non-zero tail, so the
                // pointer still counts (the shrink is reported too).
                return !truncate;
            }
            carried_in(cx, *oe, *ne, off % size, truncate)
        }
        (TypeKind::Struct { fields: of, .. }, TypeKind::Struct { .. }) => {
            let size_of = |ty| cx.old.resolve(ty).map_or(0, |t| t.size);
            let Some(f) = of.iter().find(|f| f.bit_size.is_none() && f.offset <= off && off < f.offset + size_of(f.ty).max(1)) else {
                return true;
            };
            let tf = cx.tf;
            // The transfer matches fields by the new name's old spelling.
            let Some(g) = fields(n).iter().find(|g| !g.name.is_empty() && tf.old_field_name(&n.name, &g.name) == f.name) else {
                return false; // dropped: its value is discarded
            };
            let frule = tf.field(&n.name, &g.name);
            if frule.is_some_and(|r| r.set.is_some()) {
                return false;
            }
            let truncate = tf.ty(&n.name).is_some_and(|r| r.allow_truncate) || frule.is_some_and(|r| r.allow_truncate);
            carried_in(cx, f.ty, g.ty, off - f.offset, truncate)
        }
        _ => true,
    }
}
