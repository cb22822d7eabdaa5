//! Allocation sites. Site ids hash the source path, function and ordinal,
//! so a site survives when its code did; objects of a site the new version
//! lost take the new type of the same name (`Transfer::site_plan`), which
//! fails when that type is gone. Whether the failure matters depends on
//! live objects of the site at update time, which only the running
//! program knows: the diff reports it as blocking.

use lucc_abi::sidecar::{Sidecar, Site};

use super::analyze::{spell, Cx};
use super::model::{Change, Class, Item, Kind, Side};
use super::values::compare;

fn side(sc: &Sidecar, s: &Site) -> Side {
    Side {
        name: format!("{:08x}", s.id),
        ty: if s.ty.is_some() { spell(sc, s.ty) } else { String::new() },
        size: s.ty.and_then(|t| sc.resolve(t)).map_or(0, |t| t.size),
        ..Default::default()
    }
}

fn place(s: &Site) -> String {
    format!("{} ({}:{}, {})", s.function, s.file.rsplit('/').next().unwrap_or(&s.file), s.line, s.callee)
}

fn ty_or_untyped(side: &Side) -> &str {
    if side.ty.is_empty() {
        "untyped"
    } else {
        &side.ty
    }
}

pub fn diff(cx: &mut Cx, out: &mut Vec<Change>) {
    let (old, new) = (cx.old, cx.new);
    for os in &old.sites {
        let ns = new.site(os.id);
        let plan = cx.t.site_plan(os.id);
        let name = format!("{:08x}", os.id);
        let mut c = Change::new(Item::Site, &name, if ns.is_some() { Kind::Changed } else { Kind::Removed }, Class::Auto);
        c.old = Some(side(old, os));
        c.new = ns.map(|n| side(new, n));
        match (&plan, ns) {
            (Err(e), _) => c.refuse(e.to_string()),
            (Ok(None), Some(n)) if os.ty.is_none() && n.ty.is_none() => continue,
            (Ok(None), _) => {
                // Typed on one side only: the engine treats the block as
                // untyped memory, bytes as is, traced conservatively.
                c.conversion = Some("untyped: bytes as is".into());
                if ns.is_some() {
                    c.aspects.push("type_changed");
                    c.class = Class::Convert;
                }
            }
            (Ok(Some(p)), _) => {
                let info = cx.t.plan_info(*p);
                if info.identical {
                    if ns.is_some() {
                        continue;
                    }
                } else {
                    let (ot, nt) = (os.ty.expect("planned"), ns.and_then(|n| n.ty).or_else(|| cx.t.new_type_for(os.ty.unwrap())));
                    c.class = Class::Convert;
                    c.aspects.push("type_changed");
                    if let Some(nt) = nt {
                        let v = compare((old, new), cx.tf, &mut cx.t, (ot, nt), false);
                        c.aspects.extend(v.aspects);
                        c.conversion = v.conversion;
                        c.class = c.class.max(v.class);
                    }
                }
            }
        }
        let o = c.old.as_ref().unwrap();
        c.detail = match (&c.new, ns) {
            (Some(n), _) if n.ty != o.ty => format!("{} -> {}; {}", ty_or_untyped(o), ty_or_untyped(n), place(os)),
            (Some(_), _) => format!("{}; {}", ty_or_untyped(o), place(os)),
            (None, _) if c.blocking => format!("{}; {}", ty_or_untyped(o), place(os)),
            (None, _) => format!(
                "{}; {}; its live objects keep the new type of the same name",
                ty_or_untyped(o),
                place(os)
            ),
        };
        out.push(c);
    }
    for ns in new.sites.iter().filter(|s| old.site(s.id).is_none()) {
        let mut c = Change::new(Item::Site, format!("{:08x}", ns.id), Kind::Added, Class::Auto);
        c.new = Some(side(new, ns));
        c.detail = format!("{}; {}", ty_or_untyped(c.new.as_ref().unwrap()), place(ns));
        out.push(c);
    }
}
