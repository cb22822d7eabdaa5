//! `lucc inspect` as a user runs it: the real binary on sidecars written
//! for real clang 14 programs, and every way a sidecar can be wrong.

#[path = "sidecar_inputs/support.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};

use lucc::sidecar::write_for_binary;
use lucc_abi::fragment::encode;
use lucc_abi::sidecar::Sidecar;
use support::*;

fn inspect(args: &[&str], arg: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lucc"))
        .arg("inspect")
        .args(args)
        .arg(arg)
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn shows_state_sites_and_types_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let bin = standard(dir.path(), "prog", &["-O0"]);
    write_for_binary(&bin).unwrap();
    let out = inspect(&[], &bin);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let sidecar = Sidecar::read(&Sidecar::path_for(&bin)).unwrap();
    assert!(
        stdout.contains(&format!("build id: {}", sidecar.build_id)),
        "{stdout}"
    );
    assert!(stdout.contains("units:    /src/a.c, /src/b.c"), "{stdout}");
    let line = |needle: &str| {
        stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}:\n{stdout}"))
    };
    let head = line("list_head ");
    assert!(
        head.contains("struct node *")
            && head.contains(&format!(
                "{:#x}",
                sidecar.global("list_head").unwrap().address
            )),
        "{head}"
    );
    assert!(line("use_a::cache").contains("struct node *"));
    assert!(line("items ").contains("item_t [2]"));
    let wrapped = line("0000000a");
    assert!(
        wrapped.contains("xmalloc -> zmalloc -> malloc +16") && wrapped.contains("item_t"),
        "{wrapped}"
    );
    assert!(line("00000028").contains("untyped"));
    assert!(line("0000005a").contains("unresolved (struct nosuch)"));
    assert!(line("  zmalloc -> malloc (").contains("offset 16"));
    assert!(
        line("struct flags (").contains("8 bytes") || line("struct flags (").contains("4 bytes")
    );
    assert!(line(" c ").contains(": 7 (bit 0)"), "bitfield width shown");
    assert!(line("area ").contains("int (*)(struct shape *)"));
    assert!(
        line("item_t = struct {...}").contains("24 bytes"),
        "anonymous records named by their typedef"
    );

    let sites_only = text(&inspect(&["--sites"], &bin)).0;
    assert!(sites_only.contains("allocation sites:") && !sites_only.contains("globals:"));
}

/// A record only a local variable has is in the sidecar but not in the
/// text view, which shows what the state and sites reach.
#[test]
fn records_no_state_reaches_are_left_out_of_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let frag = encode(&fragment("/src/c.c", vec![], vec![]));
    let bin = build(dir.path(), "inlined", &["c.c"], &["-O2"], &[frag]);
    write_for_binary(&bin).unwrap();
    let sidecar = Sidecar::read(&Sidecar::path_for(&bin)).unwrap();
    assert!(sidecar.types.iter().any(|t| t.name == "struct scratch"));
    let (stdout, stderr) = text(&inspect(&[], &bin));
    assert!(
        stdout.contains("struct tally_state (4 bytes)"),
        "{stdout}{stderr}"
    );
    assert!(!stdout.contains("struct scratch"), "{stdout}");
    assert!(
        stdout.contains("types: 1 of 2 records, those reached from"),
        "{stdout}"
    );
    assert!(stdout.contains("tally::hits"), "{stdout}");
}

#[test]
fn json_is_the_sidecar_and_the_sidecar_can_be_named_directly() {
    let dir = tempfile::tempdir().unwrap();
    let bin = standard(dir.path(), "prog", &["-O0"]);
    let path = write_for_binary(&bin).unwrap();
    let out = inspect(&["--json"], &bin);
    assert!(out.status.success());
    let shown = Sidecar::from_json("stdout", &out.stdout).unwrap();
    assert_eq!(shown, Sidecar::read(&path).unwrap());

    // Copied away from its binary it is shown unchecked.
    let away = dir.path().join("elsewhere.lumap");
    std::fs::copy(&path, &away).unwrap();
    let out = inspect(&[], &away);
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(text(&out).0.contains("binary:   prog"));
}

#[test]
fn a_missing_sidecar_asks_whether_lucc_linked_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let bin = build(dir.path(), "plain", &["a.c", "b.c"], &[], &[]);
    let out = inspect(&[], &bin);
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("no sidecar") && stderr.contains("linked by lucc"),
        "{stderr}"
    );
}

#[test]
fn a_sidecar_of_an_earlier_build_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let bin = standard(dir.path(), "prog", &["-O0"]);
    let path = write_for_binary(&bin).unwrap();
    let old = std::fs::read(&path).unwrap();
    // Relink a changed program at the same path, keeping the old sidecar.
    let changed = dir.path().join("changed.c");
    std::fs::write(&changed, "int extra_global = 42;\n").unwrap();
    let sections: Vec<Vec<u8>> = standard_fragments().iter().map(encode).collect();
    build(
        dir.path(),
        "prog",
        &["a.c", "b.c", changed.to_str().unwrap()],
        &[],
        &sections,
    );
    std::fs::write(&path, old).unwrap();
    let out = inspect(&[], &bin);
    let stderr = text(&out).1;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("stale"), "{stderr}");

    write_for_binary(&bin).unwrap();
    assert!(inspect(&[], &bin).status.success());
}

#[test]
fn corrupt_and_newer_sidecars_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bin = standard(dir.path(), "prog", &["-O0"]);
    let path = write_for_binary(&bin).unwrap();
    let good = std::fs::read_to_string(&path).unwrap();

    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let out = inspect(&[], &bin);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("corrupt"), "{}", text(&out).1);

    std::fs::write(
        &path,
        good.replacen("\"format_version\": 1", "\"format_version\": 7", 1),
    )
    .unwrap();
    let out = inspect(&[], &bin);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("format version 7"),
        "{}",
        text(&out).1
    );
}

#[test]
fn usage_errors_are_not_sidecar_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_lucc"))
        .args(["inspect", "--bogus", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = inspect(&[], Path::new("/nonexistent/prog"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("no such program"));
}

#[test]
fn inspect_main_reports_through_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let bin = standard(dir.path(), "prog", &["-O0"]);
    assert_eq!(
        lucc::sidecar::inspect_main(&[bin.clone().into_os_string()]),
        1,
        "no sidecar yet"
    );
    write_for_binary(&bin).unwrap();
    assert_eq!(
        lucc::sidecar::inspect_main(&["--globals".into(), bin.into_os_string()]),
        0
    );
}
