//! Static invariants of the kvstore: what `lucc invariants` reports, in
//! each format, and the reasons it gives where nothing holds.

use std::process::Command;

use lucc_invariants::{Invariant, Verdict};
use lucc_testsuite::build::{lucc_path, Compiler};

use crate::common::{built, sidecar_of, KVSTORE};

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
