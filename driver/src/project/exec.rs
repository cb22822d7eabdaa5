//! Running the compiler, the linker and `ar` as subprocesses.
//!
//! Compiles are independent of each other (every header a file needs is
//! already on disk), so all stale files of all targets go to one rayon pool
//! of `-j` threads; only linking waits for a target's dependencies. A
//! failed compile is reported with the compiler's stderr verbatim and the
//! others go on, so one run shows every broken file. Stamps are removed
//! before a step and written only after it succeeded, so a failure or an
//! interrupt always leaves the output stale.

use super::fresh;
use super::report::Reporter;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// One object to (re)compile.
pub struct CompileJob {
    pub target: usize,
    pub source: PathBuf,
    pub object: PathBuf,
    /// argv, program first.
    pub argv: Vec<String>,
    pub hash: String,
}

fn run(root: &Path, argv: &[String]) -> Result<Output, String> {
    Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", argv[0]))
}

pub fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty()
                || a.contains(|c: char| c.is_whitespace() || "'\"\\$`*?;&|<>()".contains(c))
            {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `jobs` on `threads` threads; returns, per job, whether it succeeded.
pub fn compile_all(root: &Path, jobs: &[CompileJob], threads: usize, rep: &Reporter) -> Vec<bool> {
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(e) => {
            rep.error(&format!("cannot start {threads} compile threads: {e}"));
            return vec![false; jobs.len()];
        }
    };
    let started = AtomicUsize::new(0);
    let total = jobs.len();
    let ok = pool.install(|| {
        jobs.par_iter()
            .map(|job| {
                let n = started.fetch_add(1, Ordering::SeqCst) + 1;
                rep.progress(n, total, &job.source.display().to_string());
                compile_one(root, job, rep)
            })
            .collect()
    });
    rep.clear_progress();
    ok
}

fn compile_one(root: &Path, job: &CompileJob, rep: &Reporter) -> bool {
    let obj = root.join(&job.object);
    if let Some(dir) = obj.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            rep.error(&format!("cannot create {}: {e}", dir.display()));
            return false;
        }
    }
    let stamp = fresh::stamp_of(&obj);
    fresh::forget(&stamp);
    rep.note(&shell_line(&job.argv));
    match run(root, &job.argv) {
        Ok(out) if out.status.success() => {
            // Warnings are the user's business: show them, as cc would.
            rep.verbatim(&String::from_utf8_lossy(&out.stderr));
            if let Err(e) = fresh::write_stamp(&stamp, &job.hash) {
                rep.error(&format!("cannot write {}: {e}", stamp.display()));
                return false;
            }
            true
        }
        Ok(out) => {
            rep.error(&format!("failed to compile {}", job.source.display()));
            rep.verbatim(&String::from_utf8_lossy(&out.stderr));
            rep.verbatim(&String::from_utf8_lossy(&out.stdout));
            false
        }
        Err(e) => {
            rep.error(&format!("failed to compile {}: {e}", job.source.display()));
            false
        }
    }
}

/// Links a program or makes an archive (`argv` does either); `out` and
/// `stamp` are relative to `root`. An archive is removed first because `ar r` would
/// keep members whose source files have since been deleted.
pub struct Step<'a> {
    pub out: &'a Path,
    pub stamp: &'a Path,
    pub argv: &'a [String],
    pub hash: &'a str,
    pub archive: bool,
}

pub fn produce(root: &Path, step: &Step, rep: &Reporter) -> bool {
    let Step {
        out,
        argv,
        hash,
        archive,
        ..
    } = *step;
    let full = root.join(out);
    let stamp = root.join(step.stamp);
    fresh::forget(&stamp);
    if let Some(dir) = stamp.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if archive {
        let _ = std::fs::remove_file(&full);
    }
    rep.note(&shell_line(argv));
    match run(root, argv) {
        Ok(o) if o.status.success() => {
            rep.verbatim(&String::from_utf8_lossy(&o.stderr));
            if let Err(e) = fresh::write_stamp(&stamp, hash) {
                rep.error(&format!("cannot write {}: {e}", stamp.display()));
                return false;
            }
            true
        }
        Ok(o) => {
            let what = if archive { "archive" } else { "link" };
            rep.error(&format!("failed to {what} {}", out.display()));
            rep.verbatim(&String::from_utf8_lossy(&o.stderr));
            rep.verbatim(&String::from_utf8_lossy(&o.stdout));
            false
        }
        Err(e) => {
            rep.error(&e);
            false
        }
    }
}
