//! `lucc build` with its default compiler, lucc's own cc mode: the program
//! comes out instrumented, with its type-map sidecar beside it.

mod project_common;

use project_common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The runtime archive the cc mode links, built if it is not there yet.
fn runtime() -> PathBuf {
    if let Some(rt) = std::env::var_os("LUCC_RUNTIME") {
        return PathBuf::from(rt);
    }
    let rt = Path::new(LUCC).parent().unwrap().join("liblucc_rt.a");
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "lucc-rt"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(
        status.success() && rt.is_file(),
        "cannot build {}",
        rt.display()
    );
    rt
}

#[test]
fn default_compiler_is_lucc_and_writes_the_sidecar() {
    let rt = runtime();
    let d = copy_fixture("kv");
    std::env::set_var("LUCC_RUNTIME", &rt);
    let err = ok(build_with(d.path(), None, &[]));
    assert!(err.contains("Linking kvserver"), "{err}");
    let prog = d.path().join("build/debug/kvserver");
    assert_eq!(
        run(&prog),
        "level 2\nalpha=1 beta=2 gamma=(none)\nbuckets=4 args=0\n"
    );
    let lumap = d.path().join("build/debug/kvserver.lumap");
    assert!(lumap.is_file(), "no sidecar beside the program:\n{err}");
    // The sidecar knows the library's types: the static archive carried
    // their fragments through to the link.
    let inspect = Command::new(LUCC)
        .args(["inspect"])
        .arg(&prog)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        inspect.status.success() && text.contains("entry"),
        "{text}\n{}",
        stderr(&inspect)
    );
    // Fresh on the second run, like any other compiler.
    assert!(ok(build_with(d.path(), None, &[])).contains("(up to date)"));
}
