//! Globals and static locals, matched the way the engine matches them
//! (`transfer/src/variables.rs`): by name, static locals by function and
//! name, the translation unit breaking ties, renames from the transform
//! file. Each pair's plan is asked of the engine separately, so every
//! failing variable is named, not only the first.

use lucc_abi::sidecar::{Sidecar, Variable};

use super::analyze::{spell, Cx};
use super::model::{Change, Class, Item, Kind, Rename, Side};
use super::renames;
use super::values::compare;

pub fn var_name(v: &Variable) -> String {
    if v.function.is_empty() {
        v.name.clone()
    } else {
        format!("{}::{}", v.function, v.name)
    }
}

/// The new variable an old one continues as (same rule as the engine).
fn find<'v>(list: &'v [Variable], old: &Variable, new_name: &str) -> Option<&'v Variable> {
    let (function, name) = match new_name.split_once("::") {
        Some((f, n)) if !old.function.is_empty() => (f, n),
        _ => (old.function.as_str(), new_name),
    };
    let cands: Vec<&Variable> = list.iter().filter(|v| v.name == name && v.function == function).collect();
    cands
        .iter()
        .find(|v| v.unit == old.unit)
        .or(if cands.len() == 1 { cands.first() } else { None })
        .copied()
}

pub fn side(sc: &Sidecar, v: &Variable) -> Side {
    Side { name: var_name(v), ty: spell(sc, v.ty), size: v.size, ..Default::default() }
}

pub fn diff(cx: &mut Cx, out: &mut Vec<Change>) {
    let (old, new, tf) = (cx.old, cx.new, cx.tf);
    let lists = [(Item::Global, &old.globals, &new.globals), (Item::StaticLocal, &old.static_locals, &new.static_locals)];
    for (item, olds, news) in lists {
        let mut matched = vec![false; news.len()];
        let mut removed: Vec<(usize, &Variable)> = Vec::new();
        let mut added: Vec<(usize, &Variable)> = Vec::new();
        for ov in olds {
            let old_name = var_name(ov);
            let new_name = tf.new_global_name(&old_name).to_string();
            let Some(nv) = find(news, ov, &new_name) else {
                let mut c = Change::new(item, &old_name, Kind::Removed, Class::Convert);
                c.old = Some(side(old, ov));
                let declared = tf.dropped_globals.contains(&old_name);
                c.conversion = Some(if declared { "drop (declared)".into() } else { "drop".into() });
                c.detail = format!("{}; its value is discarded", c.old.as_ref().unwrap().ty);
                if !declared {
                    removed.push((out.len(), ov));
                }
                out.push(c);
                continue;
            };
            let index = news.iter().position(|v| std::ptr::eq(v, nv)).expect("found in the list");
            matched[index] = true;
            let mut c = Change::new(item, &new_name, Kind::Changed, Class::Auto);
            c.old = Some(side(old, ov));
            c.new = Some(side(new, nv));
            if new_name != old_name {
                c.aspects.push("renamed");
            }
            let rule = tf.global(&new_name);
            match (rule.and_then(|r| r.set), ov.ty, nv.ty) {
                (Some(_), _, _) => {
                    c.class = Class::Convert;
                    c.conversion = Some("set".into());
                }
                (None, Some(ot), Some(nt)) => match cx.t.plan(ot, nt) {
                    Err(e) => {
                        c.aspects.push("incompatible");
                        c.refuse(super::engine::item_error(&new_name, &e));
                    }
                    Ok(p) if cx.t.plan_info(p).identical => {}
                    Ok(_) => {
                        let truncate = rule.is_some_and(|r| r.allow_truncate);
                        let v = compare((old, new), tf, &mut cx.t, (ot, nt), truncate);
                        if c.old.as_ref().unwrap().ty != c.new.as_ref().unwrap().ty {
                            c.aspects.push("type_changed");
                        }
                        c.aspects.extend(v.aspects);
                        c.class = v.class;
                        c.conversion = v.conversion;
                    }
                },
                (None, None, None) if ov.size != nv.size => {
                    c.aspects.push("size");
                    c.refuse(format!("{new_name}: untyped {} bytes -> untyped {} bytes: cannot convert", ov.size, nv.size));
                }
                (None, None, None) => {}
                _ => c.refuse(format!("variable {new_name} is typed in only one of the sidecars")),
            }
            if c.aspects.is_empty() && c.conversion.is_none() && !c.blocking {
                continue;
            }
            let (os, ns) = (c.old.as_ref().unwrap(), c.new.as_ref().unwrap());
            c.detail = if os.ty == ns.ty { os.ty.clone() } else { format!("{} -> {}", os.ty, ns.ty) };
            if new_name != old_name {
                c.detail += &format!(", renamed from {old_name}");
            }
            out.push(c);
        }
        for (nv, _) in news.iter().zip(matched).filter(|(_, m)| !m) {
            let mut c = Change::new(item, var_name(nv), Kind::Added, Class::Auto);
            c.new = Some(side(new, nv));
            c.detail = format!("{}; starts with the new version's initial value", c.new.as_ref().unwrap().ty);
            if tf.global(&var_name(nv)).is_none_or(|r| r.set.is_none()) {
                added.push((out.len(), nv));
            }
            out.push(c);
        }
        // Static locals rename within their function only.
        let spelled = |sc: &Sidecar, v: &Variable| spell(sc, v.ty);
        let same = |r: &(usize, &Variable), a: &(usize, &Variable)| {
            r.1.function == a.1.function && r.1.ty.is_some() && spelled(old, r.1) == spelled(new, a.1)
        };
        let convertible = |r: &(usize, &Variable), a: &(usize, &Variable)| {
            r.1.function == a.1.function
                && matches!((r.1.ty, a.1.ty), (Some(ot), Some(nt)) if cx.t.plan(ot, nt).is_ok())
        };
        for (i, j) in renames::pair(&removed, &added, same, convertible) {
            let (r, a) = (removed[i], added[j]);
            let because = if spelled(old, r.1) == spelled(new, a.1) {
                format!("both {}", spelled(old, r.1))
            } else {
                format!("{} -> {}, convertible", spelled(old, r.1), spelled(new, a.1))
            };
            let new_name = var_name(a.1);
            let rename = Rename { what: "global", within: None, old: var_name(r.1), new: new_name.clone(), because };
            renames::suggest(out, (r.0, a.0), rename, &format!("[globals.{}]", super::template::key(&new_name)));
        }
    }
}
