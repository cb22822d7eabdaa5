//! Running an invocation: pass it through, or compile (instrumenting each C
//! translation unit, in parallel) and maybe link.
//!
//! The contract is "never worse than cc": every clang step inherits the
//! user's stderr, so diagnostics arrive verbatim, and the first failing
//! step's exit code is lucc's. lucc's own errors (the pass failing, no
//! runtime, no sidecar) are prefixed `lucc:` and exit 1.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use super::flags::Matched;
use super::commands;
use super::invocation::{Input, InputKind, Invocation, Mode};
use super::runner::{Cmd, CommandRunner, Steps};
use super::toolchain::Toolchain;
use crate::{log, lucc_log};

/// Switches read from the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    /// `LUCC_DISABLE=1`: behave exactly like clang.
    pub disable: bool,
    /// `LUCC_FALLBACK=1`: a TU the pass fails on is compiled plainly.
    pub fallback: bool,
    /// `LUCC_NO_SIDECAR=1`: a program without a sidecar is acceptable.
    pub no_sidecar: bool,
    /// `LUCC_CLANG_BACKEND=1`: clang compiles every instrumented unit to its
    /// object, never lucc itself.
    pub clang_backend: bool,
}

impl Settings {
    pub fn from_process() -> Settings {
        let on = |k: &str| std::env::var(k).map(|v| !v.is_empty() && v != "0").unwrap_or(false);
        Settings {
            disable: on("LUCC_DISABLE"),
            fallback: on("LUCC_FALLBACK"),
            no_sidecar: on("LUCC_NO_SIDECAR"),
            clang_backend: on("LUCC_CLANG_BACKEND"),
        }
    }
}

/// Everything a run needs.
pub struct Driver<'a> {
    pub tc: &'a Toolchain,
    pub settings: Settings,
    pub runner: &'a dyn CommandRunner,
    pub steps: &'a dyn Steps,
}

/// Why the whole command goes to clang unchanged, if it does.
pub fn passthrough_reason(inv: &Invocation, settings: Settings) -> Option<&'static str> {
    let inputs: Vec<&Input> = inv.inputs().collect();
    if settings.disable {
        return Some("LUCC_DISABLE is set");
    }
    if let Mode::Other(why) = inv.mode {
        return Some(why);
    }
    if inputs.is_empty() {
        return Some(if inv.info { "a question about the compiler" } else { "no input files" });
    }
    if inv.mode == Mode::Compile {
        if inv.output.is_some() && inputs.len() > 1 {
            return Some("-o with several outputs (clang reports it)");
        }
        if !inputs.iter().any(|i| i.kind == InputKind::C) {
            return Some("no C input");
        }
    }
    None
}

impl Driver<'_> {
    /// Runs the parsed command; `args` is the expanded argv (no program
    /// name). Returns the exit code.
    pub fn run(&self, inv: &Invocation, args: &[String]) -> i32 {
        if let Some(why) = passthrough_reason(inv, self.settings) {
            lucc_log!("passing the command through to clang: {why}");
            return self.exec(&commands::passthrough(self.tc, args));
        }
        let tmp = match tempfile::Builder::new().prefix("lucc-").tempdir() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("lucc: error: cannot create a temporary directory: {e}");
                return 1;
            }
        };
        let code = self.compile_all(inv, tmp.path());
        if code != 0 || inv.mode == Mode::Compile {
            return code;
        }
        self.link(inv, tmp.path())
    }

    fn exec(&self, cmd: &Cmd) -> i32 {
        self.exec_to(cmd.clone(), &mut Diag::Direct)
    }

    fn exec_to(&self, mut cmd: Cmd, diag: &mut Diag) -> i32 {
        let start = Instant::now();
        let result = match diag {
            Diag::Direct => {
                lucc_log!("run: {}", cmd.display());
                self.runner.run(&cmd)
            }
            Diag::Buffered { buf, color } => {
                if *color {
                    cmd.args.insert(0, "-fcolor-diagnostics".into());
                }
                lucc_log!("run: {}", cmd.display());
                self.runner.run_captured(&cmd).map(|(code, err)| {
                    buf.extend_from_slice(&err);
                    code
                })
            }
        };
        if let Ok(code) = &result {
            lucc_log!("exit {code} after {}: {}", log::elapsed(start), cmd.program.display());
        }
        result.unwrap_or_else(|e| {
            diag.say(&format!("lucc: error: cannot run {}: {e}", cmd.program.display()));
            1
        })
    }

    /// Under `-c` every input; when linking, the C inputs (the linking clang
    /// compiles the others itself). The first failure's code, else 0.
    fn compile_all(&self, inv: &Invocation, tmp: &Path) -> i32 {
        let jobs: Vec<(usize, &Input)> = inv
            .inputs()
            .filter(|i| inv.mode == Mode::Compile || i.kind == InputKind::C)
            .enumerate()
            .collect();
        // side by side, each job's diagnostics are held back and printed in
        // input order, as cc (which compiles one file after the other) would
        let color = jobs.len() > 1 && std::io::stderr().is_terminal() && !inv.flags().any(is_color_flag);
        let job = |(n, input): &(usize, &Input)| {
            let mut diag = if jobs.len() > 1 { Diag::Buffered { buf: Vec::new(), color } } else { Diag::Direct };
            let code = match input.kind {
                InputKind::C => self.compile_c(inv, input, &self.object_for(inv, input, tmp, *n), tmp, *n, &mut diag),
                _ => {
                    lucc_log!("compiling {} with clang unchanged: not C", input.path);
                    self.exec_to(commands::plain_compile(self.tc, inv, input), &mut diag)
                }
            };
            (code, diag)
        };
        let results: Vec<(i32, Diag)> = if jobs.len() < 2 || shared_dep_file(inv, &jobs) {
            // One job (make's `cc -c x.c`, the usual case) runs on this
            // thread: starting rayon's pool would cost more than it saves.
            // Two compiles writing one dependency file would garble it; one
            // after the other, the last wins, as with cc.
            jobs.iter().map(job).collect()
        } else {
            jobs.par_iter().map(job).collect()
        };
        let mut stderr = std::io::stderr().lock();
        for (_, diag) in &results {
            if let Diag::Buffered { buf, .. } = diag {
                let _ = stderr.write_all(buf);
            }
        }
        results.iter().map(|(code, _)| *code).find(|c| *c != 0).unwrap_or(0)
    }

    fn object_for(&self, inv: &Invocation, input: &Input, tmp: &Path, n: usize) -> String {
        match inv.mode {
            Mode::Compile => inv.object_name(input),
            _ => tmp.join(format!("{n}-{}.o", file_stem(&input.path))).display().to_string(),
        }
    }

    /// Steps (a), (b), (c) for one C translation unit; (b) and (c) in this
    /// process when the flags allow ([`commands::in_process_backend`]).
    fn compile_c(&self, inv: &Invocation, input: &Input, object: &str, tmp: &Path, n: usize, diag: &mut Diag) -> i32 {
        let stem = file_stem(&input.path);
        let raw = tmp.join(format!("{n}-{stem}.bc"));
        let instrumented = tmp.join(format!("{n}-{stem}.lucc.bc"));
        let code = self.exec_to(commands::frontend(self.tc, inv, input, &raw), diag);
        if code != 0 {
            return code;
        }
        let source = absolute(&input.path);
        let start = Instant::now();
        let in_process = if self.settings.clang_backend { None } else { commands::in_process_backend(inv) };
        let instrumented_ok = match in_process {
            Some(emit) => match self.steps.instrument_to_object(&raw, Path::new(object), &instrumented, &source, &emit) {
                Ok(None) => {
                    lucc_log!("instrumented and compiled {} in {}", input.path, log::elapsed(start));
                    return 0;
                }
                Ok(Some(why)) => {
                    lucc_log!("clang compiles {}: the backend reported: {why}", input.path);
                    Ok(())
                }
                Err(e) => Err(e),
            },
            None => self.steps.instrument(&raw, &instrumented, &source),
        };
        let bitcode = match instrumented_ok {
            Ok(()) => {
                lucc_log!("instrumented {} in {}", input.path, log::elapsed(start));
                &instrumented
            }
            Err(e) if self.settings.fallback => {
                lucc_log!("compiling {} uninstrumented (LUCC_FALLBACK): {e:#}", input.path);
                &raw
            }
            Err(e) => {
                diag.say(&format!("lucc: error: cannot instrument {}: {e:#}", input.path));
                diag.say("lucc: note: LUCC_FALLBACK=1 compiles such files uninstrumented");
                return 1;
            }
        };
        self.exec_to(commands::backend(self.tc, inv, bitcode, object), diag)
    }

    fn link(&self, inv: &Invocation, tmp: &Path) -> i32 {
        let objects: Vec<String> = inv
            .inputs()
            .filter(|i| i.kind == InputKind::C)
            .enumerate()
            .map(|(n, i)| self.object_for(inv, i, tmp, n))
            .collect();
        if !inv.library && !self.tc.runtime.is_file() {
            eprintln!(
                "lucc: error: the lucc runtime {} is missing (build it with `cargo build -p lucc-rt`, or set LUCC_RUNTIME)",
                self.tc.runtime.display()
            );
            return 1;
        }
        let code = if inv.library {
            self.exec(&commands::link(self.tc, inv, &objects))
        } else {
            let tc = Toolchain { runtime: self.steps.runtime_for_link(self.tc), ..self.tc.clone() };
            self.exec(&commands::link(&tc, inv, &objects))
        };
        if code != 0 || inv.library {
            return code;
        }
        let program = PathBuf::from(inv.link_output());
        let start = Instant::now();
        match self.steps.write_sidecar(&program) {
            Ok(path) => {
                lucc_log!("wrote {} in {}", path.display(), log::elapsed(start));
                0
            }
            Err(e) if self.settings.no_sidecar => {
                lucc_log!("no sidecar for {} (LUCC_NO_SIDECAR): {e:#}", program.display());
                0
            }
            Err(e) => {
                // without its sidecar the program cannot be updated; removing
                // it makes make retry the link instead of trusting it
                let _ = std::fs::remove_file(&program);
                eprintln!("lucc: error: cannot write the sidecar for {}: {e:#}", program.display());
                eprintln!("lucc: note: LUCC_NO_SIDECAR=1 builds a program that cannot be updated");
                1
            }
        }
    }
}

/// Whether two of `jobs` would write the same dependency file (`-MF` with
/// several inputs, or `-MD -o prog` on a one-command build).
fn shared_dep_file(inv: &Invocation, jobs: &[(usize, &Input)]) -> bool {
    let mut names: Vec<String> = jobs.iter().map(|(_, i)| inv.dep_file_name(i)).collect();
    names.sort();
    names.dedup();
    inv.dep_file && names.len() < jobs.len()
}

/// Where a job's diagnostics go.
enum Diag {
    /// Straight to the user's stderr.
    Direct,
    /// Held back to be printed in order; `color` asks clang for the colours
    /// it would have used on the user's terminal.
    Buffered { buf: Vec<u8>, color: bool },
}

impl Diag {
    fn say(&mut self, line: &str) {
        match self {
            Diag::Direct => eprintln!("{line}"),
            Diag::Buffered { buf, .. } => {
                buf.extend_from_slice(line.as_bytes());
                buf.push(b'\n');
            }
        }
    }
}

fn is_color_flag(f: &Matched) -> bool {
    let w = &f.words[0];
    w.contains("color-diagnostics") || w.starts_with("-fdiagnostics-color")
}

fn file_stem(path: &str) -> String {
    Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "stdin".into())
}

fn absolute(path: &str) -> String {
    std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path)).display().to_string()
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
