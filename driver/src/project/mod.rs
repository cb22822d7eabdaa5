//! `lucc build`: cargo-style builds of a `lucc.toml` project.
//!
//! The steps, each in its own module: read the command line (`args`), find
//! and read lucc.toml (`manifest`), settle the profile (`profile`) and the
//! targets with their sources and dependency order (`targets`, `graph`),
//! decide what is stale (`fresh`, `depfile`), then run the tools
//! (`commands` builds their argv, `exec` runs them) and say so (`report`).
//! The compiler is a subprocess given cc command lines, so the same code
//! drives lucc's own cc mode (the default) or plain clang.
//!
//! Exit codes: 0 built, 1 something failed (a compile, a link, the
//! manifest), 2 the command line itself was wrong.

mod args;
mod commands;
mod depfile;
mod exec;
mod fresh;
mod graph;
mod manifest;
mod profile;
mod report;
mod targets;

use commands::Tools;
use exec::CompileJob;
use manifest::Kind;
use report::Reporter;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `lucc build [...]`.
pub fn build_main(argv: &[OsString]) -> i32 {
    let a = match args::parse(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n\n{}", args::USAGE);
            return 2;
        }
    };
    if a.help {
        print!("{}", args::USAGE);
        return 0;
    }
    let rep = Reporter::new(a.verbose);
    match build(&a, &rep) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            rep.error(&e);
            1
        }
    }
}

/// Ok(false) when a step failed and was already reported.
fn build(a: &args::BuildArgs, rep: &Reporter) -> Result<bool, String> {
    let start = Instant::now();
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let root = manifest::find_root(&cwd)?;
    let (m, src) = manifest::load(&root)?;
    if a.clean {
        return clean(&root, &a.profile, rep);
    }
    let prof = profile::resolve(&m, &src, &a.profile)?;
    let proj = targets::resolve(&m, &src, &root)?;
    let order = selected_order(&proj, &a.targets)?;
    let tools = Tools::from_env()?;
    let threads = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    // Plan every compile first, so the "Compiling" lines can give counts.
    let mut jobs = Vec::new();
    let mut objects: Vec<Vec<PathBuf>> = vec![Vec::new(); proj.targets.len()];
    for &ti in &order {
        let t = &proj.targets[ti];
        let mut stale = 0;
        for source in &t.sources {
            let object = commands::object_path(&prof.name, &t.name, source);
            let argv = commands::compile(&tools, &prof, t, source, &object);
            let hash = tools.hash(&argv);
            let dep = commands::depfile_path(&object);
            if let Some(why) = fresh::object_stale(&root, &object, &dep, &hash) {
                rep.note(&format!("{}: {why}", source.display()));
                stale += 1;
                jobs.push(CompileJob {
                    target: ti,
                    source: source.clone(),
                    object: object.clone(),
                    argv,
                    hash,
                });
            }
            objects[ti].push(object);
        }
        if stale > 0 {
            let files = if stale == 1 { "file" } else { "files" };
            rep.status("Compiling", &format!("{} ({stale} {files})", t.name));
        }
    }
    let results = exec::compile_all(&root, &jobs, threads, rep);
    let mut failed_files = vec![0usize; proj.targets.len()];
    for (job, ok) in jobs.iter().zip(&results) {
        if !ok {
            failed_files[job.target] += 1;
        }
    }

    // Link in dependency order; a target is skipped when it or anything it
    // links could not be built.
    let mut built = vec![false; proj.targets.len()];
    let mut problems = Vec::new();
    let mut produced = 0;
    for &ti in &order {
        let t = &proj.targets[ti];
        if failed_files[ti] > 0 {
            let n = failed_files[ti];
            problems.push(format!(
                "{} ({n} file{} failed to compile)",
                t.name,
                if n == 1 { "" } else { "s" }
            ));
            continue;
        }
        if let Some(&bad) = t.archives.iter().find(|&&d| !built[d]) {
            problems.push(format!(
                "{} (not linked: `{}` failed)",
                t.name, proj.targets[bad].name
            ));
            continue;
        }
        let out = commands::output_path(&prof.name, t);
        let argv = commands::produce(&tools, &prof, &proj, t, &objects[ti]);
        let hash = tools.hash(&argv);
        let archives: Vec<PathBuf> = t
            .archives
            .iter()
            .map(|&d| commands::output_path(&prof.name, &proj.targets[d]))
            .collect();
        let inputs = objects[ti].iter().chain(&archives).map(PathBuf::as_path);
        let stamp = commands::link_stamp_path(&prof.name, &t.name);
        let Some(why) = fresh::output_stale(&root, &out, &stamp, &hash, inputs) else {
            built[ti] = true;
            continue;
        };
        rep.note(&format!("{}: {why}", out.display()));
        let archive = t.kind == Kind::Staticlib;
        rep.status(if archive { "Archiving" } else { "Linking" }, &t.name);
        let step = exec::Step {
            out: &out,
            stamp: &stamp,
            argv: &argv,
            hash: &hash,
            archive,
        };
        built[ti] = exec::produce(&root, &step, rep);
        if built[ti] {
            produced += 1;
        } else {
            problems.push(t.name.clone());
        }
    }

    if !problems.is_empty() {
        rep.error(&format!("could not build {}", problems.join(", ")));
        return Ok(false);
    }
    let secs = start.elapsed().as_secs_f64();
    let nothing = if jobs.is_empty() && produced == 0 {
        " (up to date)"
    } else {
        ""
    };
    rep.status("Finished", &format!("{} in {secs:.2}s{nothing}", prof.name));
    Ok(true)
}

/// The targets to build, dependencies first: those named on the command
/// line and what they need, or every target.
fn selected_order(proj: &targets::Project, wanted: &[String]) -> Result<Vec<usize>, String> {
    let names: Vec<String> = proj.targets.iter().map(|t| t.name.clone()).collect();
    let roots: Vec<usize> = if wanted.is_empty() {
        (0..names.len()).collect()
    } else {
        wanted
            .iter()
            .map(|w| {
                names.iter().position(|n| n == w).ok_or_else(|| {
                    format!(
                        "project `{}` has no target named `{w}` (targets: {})",
                        proj.name,
                        names.join(", ")
                    )
                })
            })
            .collect::<Result<_, _>>()?
    };
    let deps: Vec<Vec<usize>> = proj.targets.iter().map(|t| t.deps.clone()).collect();
    graph::build_order(&names, &deps, &roots)
}

fn clean(root: &Path, profile: &str, rep: &Reporter) -> Result<bool, String> {
    let rel = commands::profile_dir(profile);
    let dir = root.join(&rel);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
        rep.status("Removed", &rel.display().to_string());
    } else {
        rep.status(
            "Clean",
            &format!("nothing to remove: {} does not exist", rel.display()),
        );
    }
    Ok(true)
}
