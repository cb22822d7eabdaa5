//! `lucc update --ttst`: the state goes forward into the new version, back
//! into a fresh process of the old binary, and must come back equal to the
//! running program's. kvstore v1 -> v2 (with v2 -> v1's transform as the
//! way back) commits with its state intact; the `callback_lossy` pair,
//! whose v2 transfer callback keeps only the low byte of a field, commits
//! without --ttst but is caught and rolled back with it, and the old
//! server answers exactly as before. Deliberate changes are no false
//! alarms: fields and globals the new version drops are left out of the
//! comparison, renames go back by the inverse derived from the forward
//! transform, and an address kept in a `uintptr_t` is compared through the
//! object it points to; a value corrupted after the transfer is still
//! caught.

use std::path::{Path, PathBuf};

use lucc_testsuite::build::{programs_dir, Compiler};
use lucc_testsuite::client::LineClient;
use lucc_testsuite::server::Server;
use serde_json::Value;

use crate::common::{built, EXIT_TIMEOUT, KVSTORE};
use crate::live_update::update_support::{ask, dump, lucc_update_args, wait_gone, UpdateResult, Updated, EXIT_COMMITTED, EXIT_ROLLED_BACK};

const KVSTORE_V2: (&str, &str) = ("kvstore/v2", "kvstore");
const PAIRS: (&str, &str) = ("pairs", "field_added-v1");

/// The TTST stage's report.
fn ttst_stage(up: &UpdateResult) -> &Value {
    let stages = up.json["stages"].as_array().unwrap_or_else(|| panic!("no stages: {}", up.describe()));
    stages.iter().find(|s| s["stage"] == "ttst").unwrap_or_else(|| panic!("no ttst stage: {}", up.describe()))
}

fn pair_exe(name: &str) -> PathBuf {
    let first = built(PAIRS, Compiler::Lucc).exe;
    let p = first.parent().expect("executables sit in the build directory").join(name);
    assert!(p.is_file(), "the pairs build has no {}", p.display());
    p
}

#[test]
fn ttst_kvstore_v1_to_v2_commits_with_its_state() {
    let (v1, v2) = (built(KVSTORE, Compiler::Lucc).exe, built(KVSTORE_V2, Compiler::Lucc).exe);
    let server = Server::start(&v1, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let old_pid = server.pid();
    let mut c = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
    let big: String = (0..5000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    for (req, want) in [("SET greeting hello", "OK"), ("APPEND greeting _world", "11"), ("INCR visits", "1"), ("INCR visits", "2")] {
        assert_eq!(ask(&mut c, req), want, "{req}");
    }
    assert_eq!(ask(&mut c, &format!("SET big {big}")), "OK");
    assert_eq!(ask(&mut c, "SET gone soon"), "OK");
    assert_eq!(ask(&mut c, "DEL gone"), "1");
    let keys = ask(&mut c, "KEYS");

    let inverse = programs_dir().join("kvstore/v2_to_v1.toml");
    let up = lucc_update_args(old_pid, &v2, &["--ttst", "--ttst-transform", inverse.to_str().expect("utf-8 path")]);
    assert_eq!(up.code, EXIT_COMMITTED, "{}", up.describe());
    let new_pid = up.json["new_pid"].as_u64().unwrap_or_else(|| panic!("no new_pid: {}", up.describe())) as u32;
    let _guard = Updated(new_pid);
    let ttst = ttst_stage(&up);
    assert_eq!(ttst["ok"], true, "{}", up.describe());
    // The server, its dict, every entry and value went both ways.
    for (count, at_least) in [("variables", 3), ("objects", 10), ("values", 100)] {
        let n = ttst["ttst"][count].as_u64().unwrap_or(0);
        assert!(n >= at_least, "ttst compared {n} {count}, expected at least {at_least}: {}", up.describe());
    }
    wait_gone(old_pid, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("the old process after the commit: {e:#}"));

    assert_eq!(ask(&mut c, "VERSION"), "v2");
    assert_eq!(ask(&mut c, "KEYS"), keys);
    assert_eq!(ask(&mut c, "GET greeting"), "hello_world");
    assert_eq!(ask(&mut c, "GET big"), big);
    assert_eq!(ask(&mut c, "INCR visits"), "3");
    assert_eq!(ask(&mut c, "SHUTDOWN"), "BYE");
}

#[test]
fn ttst_catches_a_callback_that_loses_information() {
    let (v1, v2) = (pair_exe("callback_lossy-v1"), pair_exe("callback_lossy-v2"));
    let dir = programs_dir().join("pairs/callback_lossy");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let server = Server::start(&v1, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let old_pid = server.pid();
    let mut c = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
    for line in read("script.txt").lines() {
        assert_eq!(ask(&mut c, line), "OK", "{line}");
    }
    let before = dump(&mut c);
    assert_eq!(before, read("expected_v1.txt"));

    let up = lucc_update_args(old_pid, &v2, &["--ttst"]);
    assert_eq!(up.code, EXIT_ROLLED_BACK, "{}", up.describe());
    assert_eq!(up.json["outcome"], "rolled_back", "{}", up.describe());
    let reason = up.json["reason"].as_str().unwrap_or_default();
    // The first differing object: its type and field, where it was
    // reached, the value before and after the round trip.
    for s in ["ttst", "struct item.qty", "stock->qty", "300 before, 44 after the round trip"] {
        assert!(reason.contains(s), "the reason lacks {s:?}: {}", up.describe());
    }
    assert_eq!(ttst_stage(&up)["ok"], false, "{}", up.describe());
    assert_eq!(ask(&mut c, "PID"), old_pid.to_string(), "the old process serves on after the rollback");
    assert_eq!(dump(&mut c), before, "the old server's state after the rollback");

    // The transfer itself sees nothing wrong: without --ttst it commits,
    // and v2 serves the damaged quantities.
    let up = lucc_update_args::<&str>(old_pid, &v2, &[]);
    assert_eq!(up.code, EXIT_COMMITTED, "{}", up.describe());
    let new_pid = up.json["new_pid"].as_u64().unwrap_or_else(|| panic!("no new_pid: {}", up.describe())) as u32;
    let _guard = Updated(new_pid);
    assert_eq!(dump(&mut c), read("expected_v2.txt"), "v2 after the update without --ttst");
    assert_eq!(ask(&mut c, "SHUTDOWN"), "BYE");
    wait_gone(new_pid, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
}

/// The pair's v1 with its script run, and its DUMP checked.
fn start_pair(name: &str) -> (Server, LineClient, PathBuf) {
    let dir = programs_dir().join("pairs").join(name);
    let server = Server::start(&pair_exe(&format!("{name}-v1")), &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let mut c = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
    let script = std::fs::read_to_string(dir.join("script.txt")).unwrap_or_else(|e| panic!("{name}/script.txt: {e}"));
    for line in script.lines() {
        assert_eq!(ask(&mut c, line), "OK", "{name}: {line}");
    }
    let v1 = std::fs::read_to_string(dir.join("expected_v1.txt")).unwrap_or_else(|e| panic!("{name}/expected_v1.txt: {e}"));
    assert_eq!(dump(&mut c), v1, "{name}: v1's DUMP after the script");
    (server, c, dir)
}

/// `--ttst`, with the pair's forward transform if it has one and no
/// transform for the way back: what the round trip needs of it is derived.
fn ttst_args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--ttst".to_string()];
    let transform = dir.join("transform.toml");
    if transform.is_file() {
        args.extend(["--transform".to_string(), transform.display().to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn pair_commits_with_ttst(name: &str) {
    let (server, mut c, dir) = start_pair(name);
    let old_pid = server.pid();
    let args = ttst_args(&dir, &[]);
    let up = lucc_update_args(old_pid, &pair_exe(&format!("{name}-v2")), &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(up.code, EXIT_COMMITTED, "{name}: {}", up.describe());
    let new_pid = up.json["new_pid"].as_u64().unwrap_or_else(|| panic!("no new_pid: {}", up.describe())) as u32;
    let _guard = Updated(new_pid);
    let ttst = ttst_stage(&up);
    assert_eq!(ttst["ok"], true, "{}", up.describe());
    for count in ["variables", "objects", "values"] {
        assert!(ttst["ttst"][count].as_u64().unwrap_or(0) > 0, "{name}: ttst compared no {count}: {}", up.describe());
    }
    wait_gone(old_pid, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("the old process after the commit: {e:#}"));
    let v2 = std::fs::read_to_string(dir.join("expected_v2.txt")).unwrap_or_else(|e| panic!("{name}/expected_v2.txt: {e}"));
    assert_eq!(dump(&mut c), v2, "{name}: v2's DUMP after the update");
    assert_eq!(ask(&mut c, "SHUTDOWN"), "BYE");
    wait_gone(new_pid, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
}

/// v2 drops `struct account.legacy_flags` and the global `audit_count`:
/// the round trip cannot bring them back, and they are not compared.
#[test]
fn ttst_field_removed_commits() {
    pair_commits_with_ttst("field_removed");
}

/// The forward transform renames two fields; the way back renames them
/// back without a --ttst-transform.
#[test]
fn ttst_renamed_field_commits_with_the_derived_inverse() {
    pair_commits_with_ttst("renamed_field");
}

/// Renamed globals go back by their old names; the global v2 drops
/// (`dropped_globals`) is not compared.
#[test]
fn ttst_renamed_global_commits_with_the_derived_inverse() {
    pair_commits_with_ttst("renamed_global");
}

/// The forward transform names the union's active member by the old tag;
/// the way back uses the same rule, keyed by the old names.
#[test]
fn ttst_union_member_commits_with_the_derived_inverse() {
    pair_commits_with_ttst("union_member");
}

/// Entries reached through `void *`, a `uintptr_t` and a char buffer move
/// (they grow) both ways: the integer holding an address must lead to the
/// same entry, whatever its value; the integers that only look like
/// addresses must come back unchanged.
#[test]
fn ttst_void_containers_commits() {
    pair_commits_with_ttst("void_containers");
}

/// The derived inverse does not hide a value corrupted after the forward
/// transfer: the round trip brings the wrong value back, and the update
/// rolls back with the old server serving as before.
#[test]
fn ttst_catches_a_corruption_after_a_renaming_transfer() {
    let (server, mut c, dir) = start_pair("renamed_field");
    let old_pid = server.pid();
    let before = dump(&mut c);
    let v2 = pair_exe("renamed_field-v2");
    for seed in 0..3 {
        let fault = format!("transfer:corrupt_value:{seed}");
        let args = ttst_args(&dir, &["--inject-fault", &fault]);
        let up = lucc_update_args(old_pid, &v2, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(up.code, EXIT_ROLLED_BACK, "{fault}: {}", up.describe());
        let reason = up.json["reason"].as_str().unwrap_or_default();
        for s in ["ttst", "after the round trip"] {
            assert!(reason.contains(s), "{fault}: the reason lacks {s:?}: {}", up.describe());
        }
        assert_eq!(ttst_stage(&up)["ok"], false, "{fault}: {}", up.describe());
        assert_eq!(ask(&mut c, "PID"), old_pid.to_string(), "{fault}: the old process serves on");
        assert_eq!(dump(&mut c), before, "{fault}: the old server's state after the rollback");
    }
    assert_eq!(ask(&mut c, "SHUTDOWN"), "BYE");
}
