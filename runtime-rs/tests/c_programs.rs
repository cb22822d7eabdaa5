//! C programs that call the runtime's ABI directly, as instrumented code
//! would, linked with clang-14 against the built archive.
//!
//! The archive is `$LUCC_RUNTIME` if set, else `target/<profile>/liblucc_rt.a`
//! freshly built (see `common`).

mod common;

use common::archive;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Link needs of the archive (the Rust standard library's).
const LIBS: &[&str] = &["-lpthread", "-ldl", "-lm", "-lrt"];

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles `tests/c/NAME.c` into `dir` and returns the executable.
fn build(name: &str, dir: &Path, extra: &[&str]) -> PathBuf {
    let exe = dir.join(name);
    let src = manifest().join("tests/c").join(format!("{name}.c"));
    let out = Command::new("clang-14")
        .args(["-O1", "-g", "-Wall", "-Werror", "-pthread"])
        .arg("-I")
        .arg(manifest().join("../runtime-c/include"))
        .args(extra)
        .arg(&src)
        .arg(archive())
        .args(LIBS)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("clang-14 runs");
    assert!(out.status.success(), "compiling {name}: {}", String::from_utf8_lossy(&out.stderr));
    exe
}

fn run(exe: &Path, env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(exe);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("program runs");
    assert!(
        out.status.success(),
        "{} failed: {:?}\n{}",
        exe.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs under valgrind when it is installed; fails on any memory error.
fn valgrind_clean(exe: &Path) {
    if which("valgrind").is_none() {
        eprintln!("valgrind not installed: skipping the memcheck run of {}", exe.display());
        return;
    }
    let out = Command::new("valgrind")
        .args(["-q", "--error-exitcode=99", "--leak-check=no"])
        .arg(format!("--suppressions={}", manifest().join("../runtime-c/valgrind.supp").display()))
        .arg(exe)
        .output()
        .unwrap();
    assert!(out.status.success(), "valgrind on {}:\n{}", exe.display(), String::from_utf8_lossy(&out.stderr));
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(tool)).find(|p| p.exists())
}

fn report_lines(path: &Path) -> Vec<serde_like::Line> {
    std::fs::read_to_string(path).unwrap().lines().map(serde_like::parse).collect()
}

/// The report's four integer fields, read without a JSON dependency.
mod serde_like {
    #[derive(Debug, PartialEq, Eq)]
    pub struct Line {
        pub site: u64,
        pub offset: u64,
        pub count: u64,
        pub bytes: u64,
    }

    pub fn parse(s: &str) -> Line {
        let field = |k: &str| -> u64 {
            let at = s.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("no {k} in {s}")) + k.len() + 3;
            s[at..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap()
        };
        assert!(s.starts_with('{') && s.ends_with('}'), "not a JSON object: {s}");
        Line { site: field("site"), offset: field("offset"), count: field("count"), bytes: field("bytes") }
    }
}

#[test]
fn wrappers_are_attributed_to_the_outer_site_with_the_header_offset() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build("wrapper_retag", dir.path(), &[]);
    let report = dir.path().join("heap.jsonl");
    let out = run(&exe, &[("LUCC_HEAP_REPORT", &report)]);
    // 10 wrapped objects of 40 bytes (one grown to 80), two plain ones of
    // 16, one reallocated to 48.
    assert_eq!(stdout(&out), "13 520\n");
    let lines = report_lines(&report);
    use serde_like::Line;
    assert_eq!(
        lines,
        vec![
            Line { site: 333, offset: 8, count: 10, bytes: 440 },
            Line { site: 444, offset: 0, count: 2, bytes: 32 },
            Line { site: 1234, offset: 0, count: 1, bytes: 48 },
        ]
    );
}

#[test]
fn foreign_pointers_go_back_to_libc() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build("foreign", dir.path(), &[]);
    assert_eq!(stdout(&run(&exe, &[])), "ok\n");
    valgrind_clean(&exe);
}

#[test]
fn aligned_blocks_are_aligned_and_freeable() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build("aligned", dir.path(), &[]);
    assert_eq!(stdout(&run(&exe, &[])), "ok\n");
    valgrind_clean(&exe);
}

#[test]
fn threads_end_with_the_right_count() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build("threads", dir.path(), &[]);
    let report = dir.path().join("heap.jsonl");
    let out = run(&exe, &[("LUCC_HEAP_REPORT", &report)]);
    // 1000 kept per thread; then half of each thread's are freed by another.
    assert_eq!(stdout(&out), "4000\n2000\n");
    let lines = report_lines(&report);
    assert_eq!(lines.iter().map(|l| l.count).sum::<u64>(), 2000);
    // Each kept block was retagged right after its allocation.
    assert!(lines.iter().all(|l| (11..15).contains(&l.site) && l.offset == 0), "{lines:?}");
}

#[test]
fn an_unwritable_report_path_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build("abi_check", dir.path(), &[]);
    let out = run(&exe, &[("LUCC_HEAP_REPORT", &dir.path().join("no/such/dir/heap.jsonl"))]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write heap report"));
}

#[test]
fn fork_while_other_threads_allocate_does_not_deadlock_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build("fork", dir.path(), &[]);
    assert_eq!(stdout(&run(&exe, &[])), "ok\n");
}

#[test]
fn abi_check_symbol_links_and_pulls_in_the_constructor() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build("abi_check", dir.path(), &[]);
    let report = dir.path().join("heap.jsonl");
    run(&exe, &[("LUCC_HEAP_REPORT", &report)]);
    // The constructor ran (it registers the report), and nothing is live.
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "");
}

#[test]
fn throughput_bench_builds_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let src = manifest().join("../runtime-c/bench/malloc_bench.c");
    let exe = dir.path().join("bench");
    let st = Command::new("clang-14")
        .args(["-O2", "-pthread", "-I"])
        .arg(manifest().join("../runtime-c/include"))
        .arg(&src)
        .arg(archive())
        .args(LIBS)
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new(&exe).args(["20000", "1"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(text.contains("libc") && text.contains("lucc"), "{text}");
}
