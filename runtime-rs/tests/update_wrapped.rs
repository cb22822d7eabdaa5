//! The driver links every program with `--wrap=f` for each update-point
//! call: the archive must define each `__wrap_f`, and `lucc.h` must
//! declare the explicit update point the archive defines.

mod common;

use std::path::PathBuf;
use std::process::Command;

use lucc_abi::wrapped::UPDATE_POINT_CALLS;

#[test]
fn every_update_point_call_has_its_wrapper_and_the_explicit_point_exists() {
    let archive = common::archive();
    let out = Command::new("nm").args(["-g", "--defined-only"]).arg(&archive).output().expect("nm runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let defined: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert!(!UPDATE_POINT_CALLS.is_empty());
    for f in UPDATE_POINT_CALLS.iter().map(|f| format!("__wrap_{f}")).chain(["lucc_update_point".to_string()]) {
        assert!(defined.contains(&f.as_str()), "{f} is not defined in {}", archive.display());
    }
    let header = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime-c/include/lucc.h");
    assert!(std::fs::read_to_string(header).unwrap().contains("void lucc_update_point(void);"));
}
