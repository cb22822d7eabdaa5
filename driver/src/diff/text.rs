//! The diff for people: grouped by what changed, one aligned line per
//! change, the reason or suggestion indented under it, the verdict last.

use std::fmt::Write as _;

use super::model::{Class, Diff};

pub fn render(d: &Diff) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "old: {} (build {})", d.old.path, d.old.build_id);
    let _ = writeln!(o, "new: {} (build {})", d.new.path, d.new.build_id);
    if let Some(t) = &d.transform {
        let _ = writeln!(o, "transform: {t}");
    }
    if d.changes.is_empty() {
        let _ = writeln!(o, "\nno change in program state");
    }
    let name_w = d.changes.iter().map(|c| c.name.len()).max().unwrap_or(0).min(40);
    let mut heading = None;
    for c in &d.changes {
        if heading != Some(c.item) {
            heading = Some(c.item);
            let _ = writeln!(o, "\n{}:", c.item.heading());
        }
        let how = match (&c.conversion, c.blocking) {
            (_, true) => "REFUSED".to_string(),
            (Some(v), _) => v.clone(),
            (None, _) => String::new(),
        };
        let _ = writeln!(
            o,
            "  {:<15}  {:<7}  {:<name_w$}  {}{}",
            c.class.label(),
            c.change.label(),
            c.name,
            c.detail,
            if how.is_empty() { String::new() } else { format!("  [{how}]") },
        );
        if let Some(r) = &c.reason {
            let _ = writeln!(o, "  {:<15}  {}", "", r);
        } else if let Some(s) = &c.suggestion {
            let _ = writeln!(o, "  {:<15}  likely rename: {} -> {}", "", s.old, s.new);
        }
    }
    let n = &d.counts;
    let _ = writeln!(
        o,
        "\n{} auto, {} convert, {} needs-transform ({} refused by the engine)",
        n.auto, n.convert, n.needs_transform, n.blocking
    );
    if let Some(e) = &d.engine_error {
        let _ = writeln!(o, "lucc update would stop at: {e}");
    }
    let _ = match d.verdict {
        Class::NeedsTransform => writeln!(
            o,
            "verdict: needs a transform file (start one with `lucc diff --template OLD NEW > transform.toml`)"
        ),
        _ => writeln!(o, "verdict: the update can proceed automatically"),
    };
    out
}
