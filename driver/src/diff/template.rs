//! `lucc diff --template`: a transform file to edit rather than write.
//!
//! Every entry is commented out, one self-contained block per decision
//! (its table header included), so uncommenting a block never changes the
//! meaning of another. Top-level keys come first: in TOML a key after a
//! table header belongs to that table. The syntax is the engine's
//! (`transfer/src/transform.rs`); a test parses the uncommented template
//! with it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{Change, Class, Diff, Item, Kind};

/// A TOML key: bare when it can be, quoted otherwise.
pub fn key(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        s.to_string()
    } else {
        quote(s)
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `struct s.field` -> (`struct s`, `field`).
fn split_field(name: &str) -> (&str, &str) {
    name.rsplit_once('.').unwrap_or((name, ""))
}

fn field_header(name: &str) -> String {
    let (ty, field) = split_field(name);
    format!("[types.{}.fields.{}]", quote(ty), key(field))
}

fn block(out: &mut String, notes: &[String], lines: &[String]) {
    for n in notes {
        let _ = writeln!(out, "## {n}");
    }
    for l in lines {
        let _ = writeln!(out, "# {l}");
    }
    out.push('\n');
}

fn is_drop(c: &Change) -> bool {
    c.change == Kind::Removed && c.conversion.as_deref() == Some("drop") && c.suggestion.is_none()
}

pub fn render(d: &Diff) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "## Transform file for the update {} (build {})", d.old.path, d.old.build_id);
    let _ = writeln!(o, "## to {} (build {}), written by `lucc diff --template`.", d.new.path, d.new.build_id);
    let _ = writeln!(o, "## Lines starting `## ` explain; lines starting `# ` are entries: delete the");
    let _ = writeln!(o, "## `# ` of a whole block to apply it. Keys are the NEW version's names.");
    let _ = writeln!(o, "## Check the result with: lucc diff --transform FILE OLD NEW");
    let _ = writeln!(o, "## Reference: docs/lucc-diff.md, transfer/README.md.\n");

    // Top-level keys first.
    block(o, &["Words in untyped memory may be rewritten (the default).".into()], &["trace_untyped = true".into()]);
    let dropped_vars: Vec<String> = d
        .changes
        .iter()
        .filter(|c| matches!(c.item, Item::Global | Item::StaticLocal) && is_drop(c))
        .map(|c| quote(&c.name))
        .collect();
    if !dropped_vars.is_empty() {
        block(
            o,
            &["Old globals and static locals the new version lacks: their values are discarded.".into()],
            &[format!("dropped_globals = [{}]", dropped_vars.join(", "))],
        );
    }

    let _ = writeln!(o, "## ---- suggested renames (without them the update drops a renamed field's");
    let _ = writeln!(o, "## or global's old value and starts the new one at zero, and fails on");
    let _ = writeln!(o, "## objects of a renamed type)\n");
    if d.suggestions.is_empty() {
        let _ = writeln!(o, "## none\n");
    }
    for s in &d.suggestions {
        let header = match (s.what, &s.within) {
            ("field", Some(ty)) => format!("[types.{}.fields.{}]", quote(ty), key(&s.new)),
            ("type", _) => format!("[types.{}]", quote(&s.new)),
            _ => format!("[globals.{}]", key(&s.new)),
        };
        let place = s.within.as_ref().map(|t| format!(" in {t}")).unwrap_or_default();
        block(
            o,
            &[format!("suggested rename: {} {} -> {}{place} ({})", s.what, s.old, s.new, s.because)],
            &[header, format!("renamed_from = {}", quote(&s.old))],
        );
    }

    let _ = writeln!(o, "## ---- changes the update cannot convert by itself\n");
    let refused: Vec<&Change> = d.changes.iter().filter(|c| c.class == Class::NeedsTransform && c.suggestion.is_none()).collect();
    if refused.is_empty() {
        let _ = writeln!(o, "## none\n");
    }
    for c in refused {
        let why = c.reason.clone().unwrap_or_default();
        match c.item {
            Item::Field if c.aspects.contains(&"union_changed") => block(
                o,
                &[why, "name the active member by the old value of a sibling tag field".into()],
                &[field_header(&c.name), "active = { tag_field = \"TAG\", map = { 0 = \"MEMBER\" } }".into()],
            ),
            Item::Field => block(
                o,
                &[why, "give the new field a constant instead of the old value".into()],
                &[field_header(&c.name), "set = 0".into()],
            ),
            Item::Global | Item::StaticLocal if c.change == Kind::Changed => block(
                o,
                &[why, "give the variable a constant instead of the old value".into()],
                &[format!("[globals.{}]", key(&c.name)), "set = 0".into()],
            ),
            Item::Type if c.change == Kind::Removed => block(
                o,
                &[why, "name the new type these objects became".into()],
                &[format!("[types.{}]", quote("struct NEW_NAME")), format!("renamed_from = {}", quote(&c.name))],
            ),
            Item::Function => {
                for h in &c.held_by {
                    block(
                        o,
                        &[why.clone(), format!("or start {h} as NULL in the new version")],
                        &[format!("[globals.{}]", key(h)), "set = 0".into()],
                    );
                }
            }
            _ => block(o, &[format!("{} {}: {why}", c.item.heading(), c.name)], &[]),
        }
    }

    let _ = writeln!(o, "## ---- data the update discards: declare it to acknowledge\n");
    let mut dropped_fields: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in d.changes.iter().filter(|c| c.item == Item::Field && is_drop(c)) {
        let (ty, field) = split_field(&c.name);
        dropped_fields.entry(ty).or_default().push(quote(field));
    }
    for (ty, list) in &dropped_fields {
        block(
            o,
            &[format!("fields of {ty} the new version lacks")],
            &[format!("[types.{}]", quote(ty)), format!("dropped = [{}]", list.join(", "))],
        );
    }
    for c in d.changes.iter().filter(|c| c.conversion.as_deref().is_some_and(|v| v.contains("shrink+zero-check"))) {
        let header = match c.item {
            Item::Field => field_header(&c.name),
            _ => format!("[globals.{}]", key(&c.name)),
        };
        block(
            o,
            &[format!("{} shrinks ({}): the update fails if a dropped element is not zero, unless", c.name, c.detail)],
            &[header, "allow_truncate = true".into()],
        );
    }

    let _ = writeln!(o, "## ---- new fields (0 in heap objects unless set)\n");
    for c in d.changes.iter().filter(|c| c.item == Item::Field && c.conversion.as_deref() == Some("zero-fill") && c.suggestion.is_none()) {
        block(o, &[format!("{}: {}", c.name, c.detail)], &[field_header(&c.name), "set = 0".into()]);
    }
    out
}
