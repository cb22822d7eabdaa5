//! Shared by the `lucc build` tests: a fresh copy of a fixture project and
//! the real `lucc` binary run in it.

#![allow(dead_code)] // each test file uses its own part of this

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const LUCC: &str = env!("CARGO_BIN_EXE_lucc");

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/project_fixtures")
}

/// A temporary copy of `tests/project_fixtures/NAME`.
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = fixtures().join(name);
    for entry in walkdir::WalkDir::new(&from) {
        let entry = entry.unwrap();
        let to = dir.path().join(entry.path().strip_prefix(&from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    dir
}

/// `lucc build ARGS` in `dir`, compiling with `cc` (None: lucc itself).
pub fn build_with(dir: &Path, cc: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(LUCC);
    c.arg("build").args(args).current_dir(dir);
    for k in [
        "LUCC_BUILD_CC",
        "AR",
        "LUCC_FALLBACK",
        "LUCC_DISABLE",
        "LUCC_LOG",
        "LUCC_CLANG",
    ] {
        c.env_remove(k);
    }
    if let Some(cc) = cc {
        c.env("LUCC_BUILD_CC", cc);
    }
    c.output().unwrap()
}

/// `lucc build ARGS` with clang-14 as the compiler.
pub fn build(dir: &Path, args: &[&str]) -> Output {
    build_with(dir, Some("clang-14"), args)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\n{}",
        o.status.code(),
        stderr(&o)
    );
    stderr(&o)
}

/// The program's stdout, asserting it ran cleanly.
pub fn run(prog: &Path) -> String {
    let o = Command::new(prog).output().unwrap();
    assert!(
        o.status.success(),
        "{} failed: {}",
        prog.display(),
        stderr(&o)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The `[n/m] FILE` progress lines of a non-terminal build: which files
/// were compiled, sorted (parallel compiles finish in any order).
pub fn compiled(err: &str) -> Vec<String> {
    let mut v: Vec<String> = err
        .lines()
        .filter(|l| l.starts_with('['))
        .filter_map(|l| l.split_once("] ").map(|(_, f)| f.to_string()))
        .collect();
    v.sort();
    v
}
