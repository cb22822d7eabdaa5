//! Functions whose addresses the state may hold. The engine remaps a
//! function pointer to the new function of the same name and fails the
//! update when there is none; the diff names the removed functions and,
//! when it has the old binary, the variables whose initial value points at
//! one. Addresses stored at run time (`hook = handler;` in code) are not
//! seen here: such a removal is reported as non-blocking.

use super::analyze::Cx;
use super::model::{Change, Class, Item, Kind, Side};

pub fn diff(cx: &Cx, out: &mut Vec<Change>) {
    let (old, new, tf) = (cx.old, cx.new, cx.tf);
    let gone = old.functions.iter().filter(|f| !new.functions.iter().any(|g| g.name == f.name));
    for f in gone {
        let mut c = Change::new(Item::Function, &f.name, Kind::Removed, Class::Auto);
        c.old = Some(Side { name: f.name.clone(), size: f.size, ..Default::default() });
        // A holder whose new value is `set`, or which is itself gone, no
        // longer carries the old pointer.
        let holders: Vec<&String> = cx
            .function_holders
            .get(&f.name)
            .into_iter()
            .flatten()
            .filter(|h| {
                let new_name = tf.new_global_name(h);
                let set = tf.global(new_name).is_some_and(|r| r.set.is_some());
                let exists = match new_name.split_once("::") {
                    Some((func, name)) => new.static_locals.iter().any(|v| v.function == func && v.name == name),
                    None => new.globals.iter().any(|v| v.name == new_name),
                };
                !set && exists
            })
            .collect();
        if holders.is_empty() {
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
                "{list} holds the address of {}, which the new version no longer has: keep the function, or `set` the holder",
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
