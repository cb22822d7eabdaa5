//! `lucc diff OLD NEW`: what an update from build OLD to build NEW will do
//! to the program's state, before it happens; `--template` writes the
//! transform file to start from.
//!
//! The prediction is the transfer engine's own (`lucc-transfer`, the code
//! the runtime runs during `lucc update`): every type, field, variable and
//! allocation site that changed is planned by it, and what it refuses is
//! what needs a transform. See docs/lucc-diff.md.
//!
//! Files: `load` (binaries and sidecars), `engine` (setting the engine up
//! to predict), `types`, `vars`, `sites`, `functions` (the comparisons),
//! `values` (naming a value conversion), `renames` (likely renames),
//! `analyze` (assembling the result), `model` (the result, which is the
//! JSON), `text` and `template` (the two other renderings).

use std::ffi::OsString;
use std::path::PathBuf;

use lucc_transfer::Transform;

mod analyze;
mod engine;
mod functions;
mod load;
pub mod model;
mod renames;
mod sites;
mod template;
mod text;
mod types;
mod values;
mod vars;

const USAGE: &str = "\
usage: lucc diff [--json] [--transform FILE] OLD NEW
       lucc diff --template [--transform FILE] OLD NEW > transform.toml
OLD and NEW are lucc binaries (their .lumap beside them) or .lumap files.
exit status: 0 the update can proceed automatically, 2 something needs a
transform, 1 bad input (--template: 0 when written, 1 on bad input)
";

#[derive(Default)]
struct Options {
    json: bool,
    template: bool,
    transform: Option<PathBuf>,
    paths: Vec<PathBuf>,
}

fn parse(args: &[OsString]) -> Result<Options, String> {
    let mut opts = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--json") => opts.json = true,
            Some("--template") => opts.template = true,
            Some("--transform") => {
                opts.transform = Some(it.next().ok_or("--transform needs a file")?.into());
            }
            Some(s) if s.starts_with("--transform=") => opts.transform = Some(s["--transform=".len()..].into()),
            Some(s) if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ => opts.paths.push(a.into()),
        }
    }
    if opts.paths.len() != 2 {
        return Err("give OLD and NEW".into());
    }
    Ok(opts)
}

/// `lucc diff ...`: returns the exit code.
pub fn diff_main(args: &[OsString]) -> i32 {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return 0;
    }
    let opts = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprint!("lucc diff: {e}\n{USAGE}");
            return 1;
        }
    };
    match run(&opts) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lucc diff: {e:#}");
            1
        }
    }
}

fn run(opts: &Options) -> anyhow::Result<i32> {
    let old = load::load(&opts.paths[0])?;
    let new = load::load(&opts.paths[1])?;
    let tf = match &opts.transform {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?;
            Transform::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        None => Transform::default(),
    };
    let d = analyze::analyze(analyze::Input {
        old: &old,
        new: &new,
        tf: &tf,
        transform_path: opts.transform.as_ref().map(|p| p.display().to_string()),
    });
    if opts.template {
        print!("{}", template::render(&d));
        return Ok(0);
    }
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&d).expect("the diff serialises"));
    } else {
        print!("{}", text::render(&d));
    }
    Ok(match d.verdict {
        model::Class::NeedsTransform => 2,
        _ => 0,
    })
}
