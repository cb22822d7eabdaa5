//! `lucc invariants [--markdown | --json] PROG`: the static invariants of
//! PROG's state as its sidecar carries them: per struct and per global,
//! what holds and which stores established it, or why nothing does; and
//! how much of the state is covered.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;

use lucc_abi::sidecar::Sidecar;
use lucc_invariants::{Invariant, ProgramInvariants, Verdict};

enum Format {
    Text,
    Markdown,
    Json,
}

pub fn main(args: &[OsString]) -> i32 {
    let mut format = Format::Text;
    let mut prog = None;
    for a in args {
        match a.to_str() {
            Some("--json") => format = Format::Json,
            Some("--markdown") => format = Format::Markdown,
            Some(s) if s.starts_with('-') => return usage(&format!("unknown option {s}")),
            _ if prog.is_none() => prog = Some(PathBuf::from(a)),
            _ => return usage("expected one PROG"),
        }
    }
    let Some(prog) = prog else { return usage("expected PROG") };
    let sc = match Sidecar::read(&Sidecar::path_for(&prog)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lucc invariants: {e}");
            return 1;
        }
    };
    let Some(inv) = &sc.invariants else {
        eprintln!("lucc invariants: {} has no invariants (it was linked by a lucc that did not extract them; relink it)", prog.display());
        return 1;
    };
    let out = match format {
        Format::Json => serde_json::to_string_pretty(inv).expect("invariants serialise") + "\n",
        Format::Text => text(&sc, inv),
        Format::Markdown => markdown(&sc, inv),
    };
    print!("{out}");
    0
}

fn usage(msg: &str) -> i32 {
    eprintln!("lucc invariants: {msg}\nusage: lucc invariants [--markdown | --json] PROG");
    4
}

/// An allocation site as a person knows it: `zmalloc in createConn (main.c:70)`.
pub fn site_name(sc: &Sidecar, id: u32) -> String {
    match sc.site(id) {
        Some(s) => {
            let file = std::path::Path::new(&s.file).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            format!("{} in {} ({file}:{})", s.callee, s.function, s.line)
        }
        None => format!("site {id:#x}"),
    }
}

fn what(sc: &Sidecar, i: &Invariant) -> String {
    i.describe(&|id| format!("heap blocks of {}", site_name(sc, id)))
}

fn by(list: &[String]) -> String {
    list.join(", ")
}

fn coverage_line(inv: &ProgramInvariants) -> String {
    let c = inv.coverage;
    format!(
        "{} of {} scalar and pointer fields, {} of {} globals and static locals have an invariant ({:.0}% of the state's scalar locations)",
        c.fields_with_invariant,
        c.fields,
        c.variables_with_invariant,
        c.variables,
        c.percent()
    )
}

fn variable_name(v: &lucc_invariants::VariableInvariant) -> String {
    if v.function.is_empty() {
        v.name.clone()
    } else {
        format!("{}::{} (static local)", v.function, v.name)
    }
}

fn text(sc: &Sidecar, inv: &ProgramInvariants) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "invariants of {} (build {})", sc.binary, sc.build_id);
    let _ = writeln!(o, "coverage: {}\n", coverage_line(inv));
    let mut record = "";
    for f in &inv.fields {
        if f.record != record {
            record = &f.record;
            let n = inv.fields.iter().filter(|g| g.record == f.record).count();
            let holds = inv.fields.iter().filter(|g| g.record == f.record && matches!(g.verdict, Verdict::Holds { .. })).count();
            let _ = writeln!(o, "{record}  ({holds} of {n} fields)");
        }
        match &f.verdict {
            Verdict::Holds { invariant } => {
                let _ = writeln!(o, "  {:<16} {}", f.field, what(sc, invariant));
                let _ = writeln!(o, "  {:<16}   set by {}", "", by(&f.established_by));
            }
            Verdict::None { reason } => {
                let _ = writeln!(o, "  {:<16} no invariant: {reason}", f.field);
            }
        }
    }
    if !inv.variables.is_empty() {
        let _ = writeln!(o, "\nglobals and static locals");
        for v in &inv.variables {
            match &v.verdict {
                Verdict::Holds { invariant } => {
                    let _ = writeln!(o, "  {:<16} {}", variable_name(v), what(sc, invariant));
                    let _ = writeln!(o, "  {:<16}   set by {}", "", by(&v.established_by));
                }
                Verdict::None { reason } => {
                    let _ = writeln!(o, "  {:<16} no invariant: {reason}", variable_name(v));
                }
            }
        }
    }
    o
}

fn markdown(sc: &Sidecar, inv: &ProgramInvariants) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut o = String::new();
    let _ = writeln!(o, "# Invariants of `{}`\n", sc.binary);
    let _ = writeln!(o, "Coverage: {}.\n", coverage_line(inv));
    let _ = writeln!(o, "| type | field | invariant | established by / why not |\n| --- | --- | --- | --- |");
    for f in &inv.fields {
        let (i, why) = match &f.verdict {
            Verdict::Holds { invariant } => (what(sc, invariant), by(&f.established_by)),
            Verdict::None { reason } => ("—".to_string(), reason.clone()),
        };
        let _ = writeln!(o, "| `{}` | `{}` | {} | {} |", f.record, f.field, cell(&i), cell(&why));
    }
    if !inv.variables.is_empty() {
        let _ = writeln!(o, "\n| variable | invariant | established by / why not |\n| --- | --- | --- |");
        for v in &inv.variables {
            let (i, why) = match &v.verdict {
                Verdict::Holds { invariant } => (what(sc, invariant), by(&v.established_by)),
                Verdict::None { reason } => ("—".to_string(), reason.clone()),
            };
            let _ = writeln!(o, "| `{}` | {} | {} |", variable_name(v), cell(&i), cell(&why));
        }
    }
    o
}
