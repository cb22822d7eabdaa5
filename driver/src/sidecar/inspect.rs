//! `lucc inspect [--json] [--globals] [--sites] [--types] PROG`: the sidecar
//! for people (or, with `--json`, as stored).
//!
//! Before showing anything the sidecar is checked against its binary when
//! the binary is there: a sidecar left over from an earlier build would
//! describe memory that is no longer laid out that way, and being told so
//! is the point of the tool. `PROG.lumap` may be named directly, e.g. for a
//! sidecar copied away from its binary; it is then checked only if the
//! binary sits beside it.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lucc_abi::sidecar::{Sidecar, SidecarError, TypeId, TypeKind};
use lucc_abi::symbols::SIDECAR_EXTENSION;

use super::{cspell, elf};

const USAGE: &str =
    "usage: lucc inspect [--json] [--globals] [--sites] [--types] PROG|PROG.lumap\n";

#[derive(Default)]
struct Options {
    json: bool,
    globals: bool,
    sites: bool,
    types: bool,
    program: Option<PathBuf>,
}

pub fn main(args: &[OsString]) -> i32 {
    let mut opts = Options::default();
    for a in args {
        match a.to_str() {
            Some("--json") => opts.json = true,
            Some("--globals") => opts.globals = true,
            Some("--sites") => opts.sites = true,
            Some("--types") => opts.types = true,
            Some("-h" | "--help") => {
                print!("{USAGE}");
                return 0;
            }
            Some(s) if s.starts_with('-') => {
                eprint!("lucc inspect: unknown option {s}\n{USAGE}");
                return 2;
            }
            _ if opts.program.is_some() => {
                eprint!("lucc inspect: one program at a time\n{USAGE}");
                return 2;
            }
            _ => opts.program = Some(PathBuf::from(a)),
        }
    }
    let Some(program) = opts.program.take() else {
        eprint!("{USAGE}");
        return 2;
    };
    match load(&program) {
        Ok(sidecar) => {
            if opts.json {
                println!("{}", sidecar.to_json());
            } else {
                print!("{}", render(&sidecar, &opts));
            }
            0
        }
        Err(e) => {
            eprintln!("lucc inspect: {e:#}");
            1
        }
    }
}

/// Reads the sidecar `program` names and checks it against its binary.
fn load(program: &Path) -> anyhow::Result<Sidecar> {
    let (binary, sidecar_path) = if program.extension().is_some_and(|e| e == SIDECAR_EXTENSION) {
        (program.with_extension(""), program.to_path_buf())
    } else {
        (program.to_path_buf(), Sidecar::path_for(program))
    };
    if !binary.is_file() {
        if sidecar_path == program {
            return Ok(Sidecar::read(&sidecar_path)?);
        }
        anyhow::bail!("no such program: {}", program.display());
    }
    let build_id = elf::with_file(&binary, |file| elf::build_id(file, &binary))?;
    Sidecar::read_for(&binary, &build_id).map_err(|e| match e {
        SidecarError::Missing(path) => {
            anyhow::anyhow!(
                "no sidecar at {path} (was {} linked by lucc?)",
                binary.display()
            )
        }
        SidecarError::Stale { .. } => anyhow::anyhow!("{e}; relink {} with lucc", binary.display()),
        other => other.into(),
    })
}

fn render(s: &Sidecar, opts: &Options) -> String {
    let all = !(opts.globals || opts.sites || opts.types);
    let spell = |ty: Option<TypeId>| cspell::spell(&s.types, ty);
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "binary:   {}", s.binary);
    let _ = writeln!(o, "build id: {}", s.build_id);
    let _ = writeln!(o, "format:   {} (abi {})", s.format_version, s.abi_version);
    let _ = writeln!(
        o,
        "units:    {}",
        if s.units.is_empty() {
            "-".into()
        } else {
            s.units.join(", ")
        }
    );
    let _ = writeln!(
        o,
        "counts:   {} types, {} globals, {} static locals, {} functions, {} sites, {} wrappers",
        s.types.len(),
        s.globals.len(),
        s.static_locals.len(),
        s.functions.len(),
        s.sites.len(),
        s.wrappers.len()
    );
    if !s.unplaced.is_empty() {
        let _ = writeln!(
            o,
            "note:     {} variable(s) of the source have no fixed address; an update cannot carry them (see below)",
            s.unplaced.len()
        );
    }
    if all || opts.globals {
        let _ = writeln!(o, "\nglobals:");
        for g in &s.globals {
            let scope = if g.local_linkage {
                format!("static in {}", g.unit)
            } else {
                g.unit.clone()
            };
            let _ = writeln!(
                o,
                "  {:<24} {:<32} {:>6} bytes  {:#x}  ({scope})",
                g.name,
                spell(g.ty),
                g.size,
                g.address
            );
        }
        let _ = writeln!(o, "\nstatic locals:");
        for v in &s.static_locals {
            let name = format!("{}::{}", v.function, v.name);
            let _ = writeln!(
                o,
                "  {name:<24} {:<32} {:>6} bytes  {:#x}  ({})",
                spell(v.ty),
                v.size,
                v.address,
                v.unit
            );
        }
        if !s.unplaced.is_empty() {
            let _ = writeln!(
                o,
                "\nvariables without a fixed address (not in the sidecar):"
            );
            for v in &s.unplaced {
                let name = if v.function.is_empty() {
                    v.name.clone()
                } else {
                    format!("{}::{}", v.function, v.name)
                };
                let _ = writeln!(o, "  {name:<24} {} ({})", v.reason, v.unit);
            }
        }
    }
    if all || opts.sites {
        let _ = writeln!(o, "\nallocation sites:");
        for site in &s.sites {
            let mut call = site.callee.clone();
            if !site.via.is_empty() {
                call = site.via.join(" -> ");
            }
            let ty = match site.ty {
                Some(t) => spell(Some(t)),
                None if site.ty_desc == "untyped" => "untyped".into(),
                None => format!("unresolved ({})", site.ty_desc),
            };
            let offset = if site.offset != 0 {
                format!(" +{}", site.offset)
            } else {
                String::new()
            };
            let _ = writeln!(
                o,
                "  {:08x}  {:<20} {}:{:<5} {call}{offset}  {ty}",
                site.id, site.function, site.file, site.line
            );
        }
        let _ = writeln!(o, "\nwrappers:");
        for w in &s.wrappers {
            let _ = writeln!(o, "  {} -> {} (offset {})", w.name, w.inner, w.offset);
        }
    }
    if all || opts.types {
        // A large program has hundreds of records its state never reaches
        // (sqlite: 286, of which 156 are reached); they would bury the rest.
        let used = used_records(s);
        let records = s
            .types
            .iter()
            .filter(|t| matches!(t.kind, TypeKind::Struct { .. } | TypeKind::Union { .. }))
            .count();
        let _ = writeln!(
            o,
            "\ntypes: {} of {records} records, those reached from globals, static locals and sites",
            used.len()
        );
        for id in used {
            let t = &s.types[id as usize];
            let fields = match &t.kind {
                TypeKind::Struct { fields, .. } | TypeKind::Union { fields, .. } => fields,
                _ => continue,
            };
            // `typedef struct { .. } item_t` is known by the typedef.
            let alias = s
                .types
                .iter()
                .find(|a| matches!(a.kind, TypeKind::Typedef { target: Some(x) } if x == id));
            let name = match alias {
                Some(a) if t.name.ends_with("{...}") => format!("{} = {}", a.name, t.name),
                _ => t.name.clone(),
            };
            let _ = writeln!(o, "  {name} ({} bytes)", t.size);
            for f in fields {
                let bits = match (f.bit_offset, f.bit_size) {
                    (Some(b), Some(w)) => format!(" : {w} (bit {b})"),
                    _ => String::new(),
                };
                let name = if f.name.is_empty() {
                    "<anonymous>"
                } else {
                    &f.name
                };
                let _ = writeln!(
                    o,
                    "    {:>6}  {name:<20} {}{bits}",
                    f.offset,
                    spell(Some(f.ty))
                );
            }
        }
    }
    out
}

/// Struct and union types reachable from globals, static locals and sites,
/// in type order.
fn used_records(s: &Sidecar) -> BTreeSet<TypeId> {
    let mut seen = BTreeSet::new();
    let mut records = BTreeSet::new();
    let mut todo: Vec<TypeId> = s
        .globals
        .iter()
        .chain(&s.static_locals)
        .filter_map(|v| v.ty)
        .chain(s.sites.iter().filter_map(|x| x.ty))
        .collect();
    while let Some(id) = todo.pop() {
        let Some(t) = s.ty(id) else { continue };
        if !seen.insert(id) {
            continue;
        }
        match &t.kind {
            TypeKind::Struct { fields, .. } | TypeKind::Union { fields, .. } => {
                records.insert(id);
                todo.extend(fields.iter().map(|f| f.ty));
            }
            TypeKind::Pointer { pointee } => todo.extend(*pointee),
            TypeKind::Array { element, .. } => todo.push(*element),
            TypeKind::Typedef { target } => todo.extend(*target),
            TypeKind::Enum { .. }
            | TypeKind::Base { .. }
            | TypeKind::Function { .. }
            | TypeKind::Void => {}
        }
    }
    records
}
