//! What the tests of every program share: building, batch comparison.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lucc_abi::sidecar::Sidecar;
use lucc_testsuite::build::{build, programs_dir, Built, Compiler};
use lucc_testsuite::run::run;
use lucc_testsuite::sidecar_checks::{check, Expect};

pub const KVSTORE: (&str, &str) = ("kvstore/v1", "kvstore");
pub const CHAT: (&str, &str) = ("chat", "chat");
pub const SHAPES: (&str, &str) = ("shapes", "shapes");

pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn built(program: (&str, &str), compiler: Compiler) -> Built {
    build(program.0, program.1, compiler).unwrap_or_else(|e| panic!("{e:#}"))
}

/// `programs/<rel>`.
pub fn input(rel: &str) -> PathBuf {
    programs_dir().join(rel)
}

/// Runs both builds on `args`; both must succeed with the same stdout, and
/// the cc build's output must be `expected` (a file under programs/).
pub fn batch_same_output(program: (&str, &str), args: &[&str], expected: &str) {
    let expected = std::fs::read_to_string(input(expected)).expect("expected output file");
    let mut outputs = Vec::new();
    for compiler in [Compiler::Cc, Compiler::Lucc] {
        let exe = built(program, compiler).exe;
        let out = run(&exe, args, &[], RUN_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(out.status.success(), "{} build of {} failed: {}\n{}", compiler.label(), program.0, out.status, out.stderr);
        outputs.push(out.stdout);
    }
    assert_eq!(outputs[0], expected, "cc build of {} disagrees with the expected output", program.0);
    assert_eq!(outputs[1], outputs[0], "lucc build of {} disagrees with the cc build", program.0);
}

pub fn sidecar_of(program: (&str, &str)) -> Sidecar {
    let exe = built(program, Compiler::Lucc).exe;
    Sidecar::read(&Sidecar::path_for(&exe)).unwrap_or_else(|e| panic!("{e}"))
}

pub fn assert_expectations(program: (&str, &str), table: &[Expect]) {
    let failures = check(&sidecar_of(program), table);
    assert!(failures.is_empty(), "{} sidecar: {} of {} expectations unmet:\n  {}", program.0, failures.len(), table.len(), failures.join("\n  "));
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
