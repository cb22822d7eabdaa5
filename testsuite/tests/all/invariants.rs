//! Static invariants of the kvstore: what `lucc invariants` reports, in
//! each format, and the reasons it gives where nothing holds; and the
//! check of a transferred state against them at update time (`lucc
//! update`, `--no-check`) and of a running program's (`lucc check`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lucc_invariants::{Invariant, Verdict};
use lucc_testsuite::build::{lucc_path, Compiler};

use lucc_testsuite::client::LineClient;
use lucc_testsuite::server::Server;

use crate::common::{built, sidecar_of, EXIT_TIMEOUT, KVSTORE};
use crate::live_update::update_support::{wait_gone, Updated, EXIT_ROLLED_BACK};

fn report(args: &[&str]) -> String {
    let exe = built(KVSTORE, Compiler::Lucc).exe;
    let lucc = lucc_path().unwrap_or_else(|e| panic!("{e:#}"));
    let out = Command::new(lucc).arg("invariants").args(args).arg(&exe).output().expect("run lucc invariants");
    assert!(out.status.success(), "lucc invariants {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 report")
}

fn field<'a>(inv: &'a lucc_invariants::ProgramInvariants, record: &str, name: &str) -> &'a lucc_invariants::FieldInvariant {
    inv.fields.iter().find(|f| f.record == record && f.field == name).unwrap_or_else(|| panic!("no {record}.{name} in the invariants"))
}

#[test]
fn kvstore_enum_flag_and_dispatch_table_fields_have_their_value_sets() {
    let sc = sidecar_of(KVSTORE);
    let inv = sc.invariants.as_ref().expect("the sidecar carries invariants");
    let holds = |record: &str, name: &str| match &field(inv, record, name).verdict {
        Verdict::Holds { invariant } => invariant.clone(),
        Verdict::None { reason } => panic!("{record}.{name} has no invariant: {reason}"),
    };
    assert_eq!(holds("struct kvobj", "encoding"), Invariant::OneOf { values: vec![0, 1] });
    assert_eq!(holds("struct server", "shutdown_asap"), Invariant::OneOf { values: vec![0, 1] });
    // CONN_CLOSE_AFTER_REPLY | CONN_SCRIPT, set with |= from 0.
    assert_eq!(holds("struct conn", "flags"), Invariant::Flags { mask: 3 });
    assert_eq!(holds("struct command", "arity"), Invariant::OneOf { values: vec![-1, 1, 2, 3] });
    assert_eq!(holds("struct command", "calls"), Invariant::AtLeast { min: 0 });
    let Invariant::PointsTo(proc_) = holds("struct command", "proc") else { panic!("proc is a function pointer") };
    let mut want = ["getCommand", "setCommand", "delCommand", "incrCommand", "appendCommand", "keysCommand", "dbsizeCommand",
        "statsCommand", "memoryCommand", "pingCommand", "quitCommand", "shutdownCommand"].map(String::from).to_vec();
    want.sort();
    assert_eq!(proc_.functions, want);
    assert!(!proc_.null, "cmdTable has no NULL handler");
    assert_eq!(field(inv, "struct command", "proc").established_by, ["<initialiser of cmdTable>"]);
    let Invariant::PointsTo(hash) = holds("struct dictType", "hashFunction") else { panic!("a function pointer") };
    assert_eq!(hash.functions, ["dictSdsHash"]);
    let Invariant::PointsTo(argv) = holds("struct conn", "argv") else { panic!("a pointer") };
    assert!(argv.null && argv.sites.len() == 1, "{argv:?}");
    assert!(inv.coverage.fields_with_invariant >= 20 && inv.coverage.fields_with_invariant < inv.coverage.fields, "{:?}", inv.coverage);
}

#[test]
fn kvstore_escaping_and_unknown_fields_have_none_and_say_why() {
    let sc = sidecar_of(KVSTORE);
    let inv = sc.invariants.as_ref().expect("the sidecar carries invariants");
    let why = |record: &str, name: &str| match &field(inv, record, name).verdict {
        Verdict::None { reason } => reason.clone(),
        Verdict::Holds { invariant } => panic!("{record}.{name} has an invariant: {invariant:?}"),
    };
    // dictDelete walks the chain with `dictEntry **pp = &he->next`.
    assert_eq!(why("struct dictEntry", "next"), "its address escapes: address stored in memory in dictDelete");
    assert_eq!(why("struct kvobj", "type"), "createObject stores a parameter of createObject");
    assert!(why("struct kvobj", "refcount").contains("a decrement in decrRefCount"));
}

#[test]
fn kvstore_report_is_readable_in_every_format() {
    let text = report(&[]);
    assert!(text.starts_with("invariants of kvstore"), "{text}");
    assert!(text.contains("coverage: "), "{text}");
    assert!(text.contains("  encoding         one of {0, 1}\n"), "{text}");
    assert!(text.contains("set by appendCommand, createObject, incrCommand, tryObjectEncoding"), "{text}");
    assert!(text.contains("  next             no invariant: its address escapes: address stored in memory in dictDelete"), "{text}");
    let md = report(&["--markdown"]);
    assert!(md.contains("| `struct kvobj` | `encoding` | one of {0, 1} |"), "{md}");
    let json: lucc_invariants::ProgramInvariants = serde_json::from_str(&report(&["--json"])).expect("the JSON report parses");
    assert_eq!(json, sidecar_of(KVSTORE).invariants.unwrap());
}

const KVSTORE_V2: (&str, &str) = ("kvstore/v2", "kvstore");

fn ask(c: &mut LineClient, req: &str) -> String {
    c.request(req).unwrap_or_else(|e| panic!("{req:?}: {e:#}"))
}

/// A kvstore v1 with a few values of both encodings (a string, an integer
/// INCR made) over one connection.
fn kvstore_with_values() -> (Server, LineClient) {
    let server = Server::start(&built(KVSTORE, Compiler::Lucc).exe, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let mut c = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
    for (req, want) in [("SET greeting hello", "OK"), ("INCR visits", "1"), ("APPEND log a", "1"), ("SET n 41", "OK"), ("INCR n", "42")] {
        assert_eq!(ask(&mut c, req), want, "{req}");
    }
    (server, c)
}

/// Every key with its value, and STATS (which counts the requests made).
fn kv_state(c: &mut LineClient) -> (BTreeMap<String, String>, String) {
    let keys = ask(c, "KEYS");
    let values = keys.split_whitespace().map(|k| (k.to_string(), ask(c, &format!("GET {k}")))).collect();
    (values, ask(c, "STATS"))
}

/// `lucc update PID NEW --json EXTRA...`: exit code, the report, stderr.
fn update(pid: u32, new: &Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let lucc = lucc_path().unwrap_or_else(|e| panic!("{e:#}"));
    let out = Command::new(lucc).arg("update").arg(pid.to_string()).arg(new).arg("--json").args(extra).output().expect("run lucc update");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn transfer_stage(report: &serde_json::Value) -> &serde_json::Value {
    report["stages"].as_array().and_then(|s| s.iter().find(|s| s["stage"] == "transfer")).unwrap_or_else(|| panic!("no transfer stage: {report}"))
}

#[test]
fn kvstore_v1_to_v2_commits_with_its_state_checked() {
    let (server, mut c) = kvstore_with_values();
    let (values, _) = kv_state(&mut c);
    let (code, report, stderr) = update(server.pid(), &built(KVSTORE_V2, Compiler::Lucc).exe, &[]);
    assert_eq!((code, report["outcome"].as_str()), (0, Some("committed")), "{report}\n{stderr}");
    let new_pid = report["new_pid"].as_u64().expect("new_pid") as u32;
    let _guard = Updated(new_pid);
    let transfer = transfer_stage(&report);
    let checked = transfer["counts"]["checked"].as_u64().expect("the transfer counts say how many values were checked");
    // Every kvobj's encoding, every conn's flags and pointers, the command
    // table's handlers and arities, the dictTypes' functions at least.
    assert!(checked > 40, "only {checked} values checked: {report}");
    let detail = transfer["detail"].as_str().unwrap_or_default();
    assert!(detail.ends_with(&format!("; {checked} values checked against invariants")), "{detail}");
    assert_eq!(kv_state(&mut c).0, values, "values after the update");
    assert_eq!(ask(&mut c, "SHUTDOWN"), "BYE");
    wait_gone(new_pid, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("after SHUTDOWN: {e:#}"));
}

/// A transform file (the `set` of a field rule) that gives every value an
/// encoding no version stores: kvobj.encoding is `one of {0, 1}`.
fn bad_encoding_transform(dir: &Path) -> PathBuf {
    let path = dir.join("bad_encoding.toml");
    std::fs::write(&path, "[types.\"struct kvobj\".fields.encoding]\nset = 7\n").expect("write the transform");
    path
}

#[test]
fn a_transform_breaking_an_invariant_rolls_back_naming_object_field_value_and_invariant() {
    let (server, mut c) = kvstore_with_values();
    let before = kv_state(&mut c);
    let dir = tempfile::tempdir().expect("tempdir");
    let transform = bad_encoding_transform(dir.path());
    let v2 = built(KVSTORE_V2, Compiler::Lucc).exe;
    let t = transform.to_str().unwrap();
    let (code, report, stderr) = update(server.pid(), &v2, &["--transform", t]);
    assert_eq!((code, report["outcome"].as_str()), (EXIT_ROLLED_BACK, Some("rolled_back")), "{report}\n{stderr}");
    let reason = report["reason"].as_str().unwrap_or_default();
    // Every value (greeting, visits, log, n) is a kvobj: each one a
    // violation, the first few named.
    assert!(reason.contains("invariant violation"), "{reason}");
    assert!(reason.contains("struct kvobj at 0x"), "{reason}");
    assert!(reason.contains(".encoding = 7, but the invariant is: one of {0, 1}"), "{reason}");
    let failed = report["stages"].as_array().unwrap().iter().find(|s| s["ok"] == false).expect("a failed stage");
    assert_eq!(failed["stage"], "transfer", "{report}");
    // The old server answers as before, on the same connection; STATS
    // counts the requests made since, nothing else moved.
    let after = kv_state(&mut c);
    assert_eq!(after.0, before.0, "values after the rollback");
    let requests = |s: &str| -> i64 {
        s.split_whitespace().find_map(|i| i.strip_prefix("requests:")).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("STATS {s}"))
    };
    assert_eq!(requests(&after.1), requests(&before.1) + before.0.len() as i64 + 2, "{} then {}", before.1, after.1);

    // --no-check lets the same update through: a dry run says it would commit.
    let (code, report, stderr) = update(server.pid(), &v2, &["--transform", t, "--no-check", "--dry-run"]);
    assert_eq!((code, report["outcome"].as_str()), (0, Some("would_commit")), "{report}\n{stderr}");
    let detail = transfer_stage(&report)["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.ends_with("invariants not checked (--no-check)"), "{detail}");
    assert_eq!(kv_state(&mut c).0, before.0, "values after the dry run");
    assert_eq!(ask(&mut c, "SHUTDOWN"), "BYE");
    server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("after SHUTDOWN: {e:#}"));
}

#[test]
fn lucc_check_on_a_healthy_kvstore_is_clean_and_changes_nothing() {
    let (server, mut c) = kvstore_with_values();
    let before = kv_state(&mut c).0;
    let lucc = lucc_path().unwrap_or_else(|e| panic!("{e:#}"));
    let out = Command::new(&lucc).arg("check").arg(server.pid().to_string()).output().expect("run lucc check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let n: u64 = stdout
        .trim()
        .strip_prefix(&format!("process {}: clean: ", server.pid()))
        .and_then(|r| r.strip_suffix(" values checked against invariants"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("lucc check said {stdout:?}"));
    assert!(n > 40, "{stdout}");
    let out = Command::new(&lucc).args(["check", "--json"]).arg(server.pid().to_string()).output().expect("run lucc check --json");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("lucc check --json prints JSON");
    assert_eq!((json["outcome"].as_str(), json["checked"].as_u64()), (Some("clean"), Some(n)), "{json}");
    // The same process serves the same state.
    assert_eq!(kv_state(&mut c).0, before, "values after lucc check");
    assert_eq!(ask(&mut c, "INCR visits"), "2");
    assert_eq!(ask(&mut c, "SHUTDOWN"), "BYE");
    server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("after SHUTDOWN: {e:#}"));
}
