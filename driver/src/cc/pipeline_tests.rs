//! The pipeline against recording fakes: which clang commands run, in what
//! order, and what lucc does when a step fails.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::*;

/// Records commands; fails those whose words contain `fail_on`.
#[derive(Default)]
struct FakeRunner {
    cmds: Mutex<Vec<Cmd>>,
    fail_on: Option<(&'static str, i32)>,
}

impl CommandRunner for FakeRunner {
    fn run(&self, cmd: &Cmd) -> std::io::Result<i32> {
        self.cmds.lock().unwrap().push(cmd.clone());
        Ok(match self.fail_on {
            Some((w, code)) if cmd.args.iter().any(|a| a == w) => code,
            _ => 0,
        })
    }
    fn run_captured(&self, cmd: &Cmd) -> std::io::Result<(i32, Vec<u8>)> {
        Ok((self.run(cmd)?, Vec::new()))
    }
}

#[derive(Default)]
struct FakeSteps {
    instrumented: Mutex<Vec<String>>,
    sidecars: Mutex<Vec<PathBuf>>,
    pass_fails: bool,
    sidecar_fails: bool,
    /// The in-process backend writes the object (else it declines, as on a
    /// backend diagnostic, and clang's backend runs).
    emits: bool,
    /// The options each in-process emission got.
    emitted: Mutex<Vec<lucc_passes::EmitOptions>>,
    /// What stands for the runtime archive on the link line (else the
    /// archive itself), and how often it was asked for.
    prelinked: Option<PathBuf>,
    runtime_asked: Mutex<usize>,
}

impl Steps for FakeSteps {
    fn instrument(&self, _input: &Path, _output: &Path, source: &str) -> anyhow::Result<()> {
        self.instrumented.lock().unwrap().push(source.to_string());
        if self.pass_fails {
            anyhow::bail!("unsupported construct");
        }
        Ok(())
    }
    fn instrument_to_object(
        &self,
        input: &Path,
        _object: &Path,
        bitcode: &Path,
        source: &str,
        emit: &lucc_passes::EmitOptions,
    ) -> anyhow::Result<Option<String>> {
        self.emitted.lock().unwrap().push(*emit);
        self.instrument(input, bitcode, source)?;
        Ok(if self.emits { None } else { Some("warning: loop not vectorized".into()) })
    }
    fn write_sidecar(&self, binary: &Path) -> anyhow::Result<PathBuf> {
        self.sidecars.lock().unwrap().push(binary.to_path_buf());
        if self.sidecar_fails {
            anyhow::bail!("no DWARF");
        }
        Ok(binary.with_extension("lumap"))
    }
    fn runtime_for_link(&self, tc: &Toolchain) -> PathBuf {
        *self.runtime_asked.lock().unwrap() += 1;
        self.prelinked.clone().unwrap_or_else(|| tc.runtime.clone())
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    tc: Toolchain,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let runtime = dir.path().join("liblucc_rt.a");
    std::fs::write(&runtime, "!<arch>\n").unwrap();
    let tc = Toolchain { clang: "/usr/bin/clang-14".into(), runtime, include: None };
    Fixture { _dir: dir, tc }
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

fn run(f: &Fixture, line: &str, settings: Settings, runner: &FakeRunner, steps: &FakeSteps) -> i32 {
    let args = words(line);
    let driver = Driver { tc: &f.tc, settings, runner, steps };
    driver.run(&Invocation::parse(&args), &args)
}

fn cmds(r: &FakeRunner) -> Vec<Vec<String>> {
    let mut c: Vec<Vec<String>> = r.cmds.lock().unwrap().iter().map(|c| c.args.clone()).collect();
    // parallel compiles finish in any order; the tests look at sets
    c.sort();
    c
}

fn is_frontend(a: &[String]) -> bool {
    a.iter().any(|w| w == "-emit-llvm")
}

fn is_backend(a: &[String]) -> bool {
    a.iter().any(|w| w == "ir")
}

fn is_link(a: &[String]) -> bool {
    a.iter().any(|w| w == "-Wl,--build-id=sha1")
}

fn must_have(a: &[String], w: &str) {
    assert!(a.iter().any(|x| x == w), "{w} missing from {a:?}");
}

#[test]
fn compile_only_instruments_each_file_into_cc_s_object_names() {
    let (f, r, s) = (fixture(), FakeRunner::default(), FakeSteps::default());
    assert_eq!(run(&f, "-c -O2 src/a.c b.c", Settings::default(), &r, &s), 0);
    let c = cmds(&r);
    assert_eq!(c.len(), 4, "{c:?}");
    assert_eq!(c.iter().filter(|a| is_frontend(a)).count(), 2);
    let backends: Vec<&Vec<String>> = c.iter().filter(|a| is_backend(a)).collect();
    assert_eq!(backends.len(), 2);
    for b in &backends {
        must_have(b, "-O2");
    }
    let outs: Vec<&str> = backends.iter().map(|b| b.last().unwrap().as_str()).collect();
    assert!(outs.contains(&"a.o") && outs.contains(&"b.o"), "{outs:?}");
    let mut sources = s.instrumented.lock().unwrap().clone();
    sources.sort();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(sources, vec![cwd.join("b.c").display().to_string(), cwd.join("src/a.c").display().to_string()]);
    assert!(s.sidecars.lock().unwrap().is_empty());
}

#[test]
fn one_command_build_links_objects_with_runtime_and_writes_sidecar() {
    let (f, r, s) = (fixture(), FakeRunner::default(), FakeSteps::default());
    assert_eq!(run(&f, "-O1 a.c b.c -lm -o prog", Settings::default(), &r, &s), 0);
    let c = cmds(&r);
    assert_eq!(c.len(), 5, "{c:?}");
    let link = c.iter().find(|a| is_link(a)).unwrap();
    must_have(link, &f.tc.runtime.display().to_string());
    must_have(link, "-lm");
    must_have(link, "-O1");
    let objs: Vec<&String> = link.iter().filter(|w| w.ends_with(".o")).collect();
    assert_eq!(objs.len(), 2, "{link:?}");
    let backend_outs: Vec<&String> = c.iter().filter(|a| is_backend(a)).map(|a| a.last().unwrap()).collect();
    for o in objs {
        assert!(backend_outs.contains(&o), "link uses {o}, backends wrote {backend_outs:?}");
    }
    assert_eq!(*s.sidecars.lock().unwrap(), vec![PathBuf::from("prog")]);
}

#[test]
fn link_of_objects_only_still_gets_the_runtime() {
    let (f, r, s) = (fixture(), FakeRunner::default(), FakeSteps::default());
    assert_eq!(run(&f, "a.o b.o", Settings::default(), &r, &s), 0);
    let c = cmds(&r);
    assert_eq!(c.len(), 1);
    must_have(&c[0], &f.tc.runtime.display().to_string());
    assert_eq!(c[0][..2], ["a.o".to_string(), "b.o".to_string()]);
    assert_eq!(*s.sidecars.lock().unwrap(), vec![PathBuf::from("a.out")]);
}

#[test]
fn program_links_name_the_prelinked_runtime_libraries_none() {
    let f = fixture();
    let s = FakeSteps { prelinked: Some("/cache/liblucc_rt.0123.prelinked.o".into()), ..Default::default() };
    let r = FakeRunner::default();
    assert_eq!(run(&f, "a.o -o prog", Settings::default(), &r, &s), 0);
    let c = cmds(&r);
    must_have(&c[0], "/cache/liblucc_rt.0123.prelinked.o");
    assert!(!c[0].contains(&f.tc.runtime.display().to_string()), "{c:?}");
    assert_eq!(*s.runtime_asked.lock().unwrap(), 1);

    let r = FakeRunner::default();
    assert_eq!(run(&f, "-shared a.o -o libx.so", Settings::default(), &r, &s), 0);
    assert!(!cmds(&r)[0].iter().any(|w| w.contains("liblucc_rt")));
    assert_eq!(*s.runtime_asked.lock().unwrap(), 1, "a library link does not pre-link the runtime");
}

#[test]
fn frontend_failure_is_clangs_exit_code_and_stops_the_build() {
    let (f, s) = (fixture(), FakeSteps::default());
    let r = FakeRunner { fail_on: Some(("-emit-llvm", 3)), ..Default::default() };
    assert_eq!(run(&f, "a.c -o prog", Settings::default(), &r, &s), 3);
    assert!(s.instrumented.lock().unwrap().is_empty());
    assert!(!cmds(&r).iter().any(|a| is_link(a) || is_backend(a)));
}

#[test]
fn pass_failure_is_an_error_unless_fallback() {
    let f = fixture();
    let s = FakeSteps { pass_fails: true, ..Default::default() };
    let r = FakeRunner::default();
    assert_eq!(run(&f, "-c a.c", Settings::default(), &r, &s), 1);
    assert!(!cmds(&r).iter().any(|a| is_backend(a)));

    let r = FakeRunner::default();
    let fallback = Settings { fallback: true, ..Default::default() };
    assert_eq!(run(&f, "-c a.c", fallback, &r, &s), 0);
    let c = cmds(&r);
    let backend = c.iter().find(|a| is_backend(a)).unwrap();
    let frontend = c.iter().find(|a| is_frontend(a)).unwrap();
    // the plain compile uses the uninstrumented bitcode the frontend wrote
    let raw = frontend.last().unwrap();
    must_have(backend, raw);
}

#[test]
fn missing_sidecar_fails_the_link_unless_allowed() {
    let f = fixture();
    let s = FakeSteps { sidecar_fails: true, ..Default::default() };
    assert_eq!(run(&f, "a.o -o prog", Settings::default(), &FakeRunner::default(), &s), 1);
    let allowed = Settings { no_sidecar: true, ..Default::default() };
    assert_eq!(run(&f, "a.o -o prog", allowed, &FakeRunner::default(), &s), 0);
}

#[test]
fn shared_libraries_get_no_runtime_and_no_sidecar() {
    let (f, r, s) = (fixture(), FakeRunner::default(), FakeSteps::default());
    assert_eq!(run(&f, "-shared -fPIC a.c -o libx.so", Settings::default(), &r, &s), 0);
    let c = cmds(&r);
    let link = c.iter().find(|a| is_link(a)).unwrap();
    assert!(!link.contains(&f.tc.runtime.display().to_string()));
    assert_eq!(s.instrumented.lock().unwrap().len(), 1, "objects of a library are instrumented");
    assert!(s.sidecars.lock().unwrap().is_empty());
}

#[test]
fn missing_runtime_is_a_clear_error_before_linking() {
    let (mut f, r, s) = (fixture(), FakeRunner::default(), FakeSteps::default());
    f.tc.runtime = "/nonexistent/liblucc_rt.a".into();
    assert_eq!(run(&f, "a.c", Settings::default(), &r, &s), 1);
    assert!(!cmds(&r).iter().any(|a| is_link(a)));
}

#[test]
fn pass_through_commands_reach_clang_unchanged() {
    let f = fixture();
    for line in ["-E -DX a.c", "-S -O2 a.c -o a.s", "-fsyntax-only a.c", "-c -emit-llvm a.c", "-MM a.c", "--version", "-dumpmachine", "-c s.S -o s.o"] {
        let (r, s) = (FakeRunner::default(), FakeSteps::default());
        assert_eq!(run(&f, line, Settings::default(), &r, &s), 0, "{line}");
        assert_eq!(cmds(&r), vec![words(line)], "{line}");
        assert!(s.instrumented.lock().unwrap().is_empty(), "{line}");
    }
    let (r, s) = (FakeRunner::default(), FakeSteps::default());
    let disabled = Settings { disable: true, ..Default::default() };
    assert_eq!(run(&f, "a.c -o prog", disabled, &r, &s), 0);
    assert_eq!(cmds(&r), vec![words("a.c -o prog")]);
    assert!(s.sidecars.lock().unwrap().is_empty());
}

#[test]
fn mixed_compile_instruments_c_and_passes_assembly_through() {
    let (f, r, s) = (fixture(), FakeRunner::default(), FakeSteps::default());
    assert_eq!(run(&f, "-c -DX a.c s.S", Settings::default(), &r, &s), 0);
    let c = cmds(&r);
    assert_eq!(c.len(), 3, "{c:?}");
    assert!(c.contains(&words("-c -DX s.S")));
    assert_eq!(s.instrumented.lock().unwrap().len(), 1);
}

#[test]
fn compiles_sharing_a_dependency_file_are_detected() {
    let shared = |line: &str| {
        let inv = Invocation::parse(&words(line));
        let jobs: Vec<(usize, &Input)> = inv.inputs().enumerate().collect();
        shared_dep_file(&inv, &jobs)
    };
    assert!(shared("-MD a.c b.c -o prog"));
    assert!(shared("-c -MMD -MF all.d a.c b.c"));
    assert!(!shared("-c -MMD a.c b.c"));
    assert!(!shared("a.c b.c -o prog"));
}

#[test]
fn the_backend_runs_in_process_when_the_flags_allow() {
    let f = fixture();
    let r = FakeRunner::default();
    let s = FakeSteps { emits: true, ..Default::default() };
    assert_eq!(run(&f, "-c -O2 -g -fPIC -Wall -ffunction-sections a.c b.c", Settings::default(), &r, &s), 0);
    assert!(!cmds(&r).iter().any(|a| is_backend(a)), "no clang backend: {:?}", cmds(&r));
    assert_eq!(cmds(&r).iter().filter(|a| is_frontend(a)).count(), 2);
    let emitted = s.emitted.lock().unwrap();
    assert_eq!(emitted.len(), 2);
    assert!(emitted.iter().all(|e| e.opt_level == 2 && e.size_level == 0 && e.function_sections && !e.data_sections));
}

#[test]
fn flags_the_module_does_not_carry_go_to_clangs_backend() {
    for line in ["-c -O2 -fsanitize=address a.c", "-c -O2 -mllvm -x86-asm-syntax=intel a.c", "-c -Ofast a.c", "-c -v a.c"] {
        let f = fixture();
        let (r, s) = (FakeRunner::default(), FakeSteps { emits: true, ..Default::default() });
        assert_eq!(run(&f, line, Settings::default(), &r, &s), 0, "{line}");
        assert!(s.emitted.lock().unwrap().is_empty(), "{line}");
        assert_eq!(cmds(&r).iter().filter(|a| is_backend(a)).count(), 1, "{line}");
    }
    // and LUCC_CLANG_BACKEND=1 asks for clang's backend whatever the flags
    let f = fixture();
    let (r, s) = (FakeRunner::default(), FakeSteps { emits: true, ..Default::default() });
    let forced = Settings { clang_backend: true, ..Default::default() };
    assert_eq!(run(&f, "-c -O2 a.c", forced, &r, &s), 0);
    assert!(s.emitted.lock().unwrap().is_empty());
    assert_eq!(cmds(&r).iter().filter(|a| is_backend(a)).count(), 1);
}

#[test]
fn a_declining_backend_hands_the_instrumented_bitcode_to_clang() {
    let f = fixture();
    let r = FakeRunner::default();
    let s = FakeSteps::default();
    assert_eq!(run(&f, "-c -Os a.c", Settings::default(), &r, &s), 0);
    assert_eq!(s.emitted.lock().unwrap().len(), 1);
    let c = cmds(&r);
    let backend = c.iter().find(|a| is_backend(a)).expect("clang's backend runs");
    assert!(backend.iter().any(|w| w.ends_with(".lucc.bc")), "{backend:?}");
    assert!(backend.windows(2).any(|w| w[0] == "-o" && w[1] == "a.o"), "{backend:?}");
}
