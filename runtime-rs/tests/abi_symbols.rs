//! Every entry point lucc_abi names is declared in the ABI header and
//! defined in the archive the driver links.

mod common;

use std::path::PathBuf;
use std::process::Command;

use lucc_abi::symbols::{ALLOCATORS, RETAG};

fn names() -> Vec<&'static str> {
    let mut v: Vec<&str> = ALLOCATORS.iter().flat_map(|a| [a.runtime, a.indirect]).collect();
    v.push(RETAG);
    v.push(lucc_abi::ABI_CHECK_SYMBOL);
    v.sort();
    v.dedup();
    v
}

#[test]
fn every_entry_point_is_declared_in_the_header() {
    let header = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime-c/include/lucc_rt_abi.h");
    let text = std::fs::read_to_string(header).unwrap();
    for name in names() {
        let declared = text.contains(&format!("{name}(")) || text.contains(&format!("{name};"));
        assert!(declared, "{name} is not declared in lucc_rt_abi.h");
    }
}

#[test]
fn every_entry_point_is_defined_in_the_archive() {
    let archive = common::archive();
    let out = Command::new("nm").args(["-g", "--defined-only"]).arg(&archive).output().expect("nm runs");
    assert!(out.status.success(), "nm {}", archive.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let defined: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    for name in names() {
        assert!(defined.contains(&name), "{name} is not defined in {}", archive.display());
    }
}
