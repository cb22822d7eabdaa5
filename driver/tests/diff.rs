//! `lucc diff` on real builds: small C programs built with lucc as v1 and
//! v2 (the same source path, so allocation sites keep their ids, as they do
//! when a program is rebuilt in place), the JSON classification of each
//! deliberate change, rename suggestions, exit codes, the template round
//! trip through the transfer engine, and bad sidecars.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lucc_abi::sidecar::Sidecar;
use lucc_transfer::{Biases, Transfer, Transform};
use serde_json::Value;

const LUCC: &str = env!("CARGO_BIN_EXE_lucc");

fn runtime() -> PathBuf {
    match std::env::var_os("LUCC_RUNTIME") {
        Some(rt) => PathBuf::from(rt),
        None => Path::new(LUCC).parent().unwrap().join("liblucc_rt.a"),
    }
}

/// Builds `dir/NAME` from `source` written to `dir/prog.c`.
fn build(dir: &Path, name: &str, source: &str) -> PathBuf {
    std::fs::write(dir.join("prog.c"), source).unwrap();
    let out = Command::new(LUCC)
        .current_dir(dir)
        .env_remove("LUCC_NO_SIDECAR")
        .env_remove("LUCC_DISABLE")
        .env_remove("LUCC_FALLBACK")
        .env("LUCC_RUNTIME", runtime())
        .args(["-O1", "-g", "-o", name, "prog.c"])
        .output()
        .unwrap();
    assert!(out.status.success(), "building {name}: {}", String::from_utf8_lossy(&out.stderr));
    dir.join(name)
}

fn pair(v1: &str, v2: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let old = build(dir.path(), "v1", v1);
    let new = build(dir.path(), "v2", v2);
    (dir, old, new)
}

fn diff(args: &[&str], old: &Path, new: &Path) -> Output {
    Command::new(LUCC).arg("diff").args(args).arg(old).arg(new).output().unwrap()
}

fn json(args: &[&str], old: &Path, new: &Path) -> (i32, Value) {
    let out = diff(&[&["--json"], args].concat(), old, new);
    let text = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), v)
}

fn change<'v>(d: &'v Value, item: &str, name: &str) -> &'v Value {
    d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["item"] == item && c["name"] == name)
        .unwrap_or_else(|| panic!("no {item} {name} in {d:#}"))
}

fn has(c: &Value, aspect: &str) -> bool {
    c["aspects"].as_array().unwrap().iter().any(|a| a == aspect)
}

/// The blocks of a template that follow a `## suggested rename` line,
/// uncommented: what an operator accepting the suggestions writes.
fn accept_suggestions(template: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in template.lines() {
        if line.starts_with("## suggested rename") {
            inside = true;
        } else if line.is_empty() {
            inside = false;
        } else if inside {
            out.push_str(line.strip_prefix("# ").expect("entries are `# ` lines"));
            out.push('\n');
        }
    }
    out
}

const EVOLVE_V1: &str = r#"
#include <stdlib.h>
#include <stdio.h>
struct account { int id; short balance; long legacy; int age; long big; char name[8]; };
struct account *accounts[4];
long total_requests;
struct account *open_account(int id) {
    struct account *a = calloc(1, sizeof *a);
    a->id = id; a->balance = 5; a->legacy = 7; a->age = 30; a->big = 9;
    return a;
}
int main(int argc, char **argv) {
    accounts[0] = open_account(argc);
    total_requests++;
    printf("%d %d %ld %d %ld %ld\n", accounts[0]->id, accounts[0]->balance, accounts[0]->legacy,
           accounts[0]->age, accounts[0]->big, total_requests);
    return 0;
}
"#;

// name moves to the front (reordered), balance widens, legacy is gone,
// age is renamed years, big narrows, ratio is new; the global
// total_requests is renamed request_count and fresh is new.
const EVOLVE_V2: &str = r#"
#include <stdlib.h>
#include <stdio.h>
struct account { char name[8]; int id; int balance; int years; short big; double ratio; };
struct account *accounts[4];
long request_count;
int fresh = 3;
struct account *open_account(int id) {
    struct account *a = calloc(1, sizeof *a);
    a->id = id; a->balance = 5; a->years = 30; a->big = 9; a->ratio = 0.5;
    return a;
}
int main(int argc, char **argv) {
    accounts[0] = open_account(argc);
    request_count += fresh;
    printf("%d %d %d %d %f %ld\n", accounts[0]->id, accounts[0]->balance, accounts[0]->years,
           accounts[0]->big, accounts[0]->ratio, request_count);
    return 0;
}
"#;

#[test]
fn classifies_each_field_and_global_change_and_suggests_renames() {
    let (_dir, old, new) = pair(EVOLVE_V1, EVOLVE_V2);
    let (code, d) = json(&[], &old, &new);
    assert_eq!(code, 2, "renames need a decision: {d:#}");
    assert_eq!(d["verdict"], "needs-transform");
    assert_eq!(d["schema"], 1);

    let ty = change(&d, "type", "struct account");
    assert_eq!((ty["change"].as_str(), ty["class"].as_str()), (Some("changed"), Some("convert")));

    let name = change(&d, "field", "struct account.name");
    assert_eq!(name["class"], "auto", "a reordered field moves as is: {name:#}");
    assert!(has(name, "offset"));
    assert_eq!((name["old"]["offset"].as_u64(), name["new"]["offset"].as_u64()), (Some(32), Some(0)));

    let balance = change(&d, "field", "struct account.balance");
    assert_eq!(balance["class"], "convert");
    assert!(has(balance, "widened"), "{balance:#}");
    assert_eq!(balance["conversion"], "widen");

    let big = change(&d, "field", "struct account.big");
    assert!(has(big, "narrowed"), "{big:#}");
    assert_eq!(big["conversion"], "narrow+range-check");

    let legacy = change(&d, "field", "struct account.legacy");
    assert_eq!(legacy["change"], "removed");
    assert_eq!(legacy["class"], "convert", "a plain drop proceeds: {legacy:#}");
    assert_eq!(legacy["conversion"], "drop");
    assert!(legacy.get("suggestion").is_none(), "no double field to rename it to: {legacy:#}");

    let ratio = change(&d, "field", "struct account.ratio");
    assert_eq!((ratio["change"].as_str(), ratio["conversion"].as_str()), (Some("added"), Some("zero-fill")));

    let age = change(&d, "field", "struct account.age");
    assert_eq!(age["class"], "needs-transform");
    assert_eq!(age["blocking"], false, "the engine would drop it, not fail");
    assert_eq!(age["suggestion"]["new"], "years");
    assert_eq!(age["suggestion"]["within"], "struct account");

    let total = change(&d, "global", "total_requests");
    assert_eq!(total["class"], "needs-transform");
    assert_eq!(total["suggestion"]["new"], "request_count");
    let fresh = change(&d, "global", "fresh");
    assert_eq!((fresh["change"].as_str(), fresh["class"].as_str()), (Some("added"), Some("auto")));
    assert!(change(&d, "global", "request_count")["suggestion"]["old"] == "total_requests");

    let suggestions = d["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 2, "{suggestions:#?}");

    // The text form says the same, aligned and grouped.
    let out = diff(&[], &old, &new);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2));
    assert!(text.contains("\nfields:\n") && text.contains("\nglobals:\n"), "{text}");
    let line = text.lines().find(|l| l.contains("struct account.balance")).unwrap();
    assert!(line.trim_start().starts_with("convert") && line.contains("short -> int") && line.contains("[widen]"), "{line}");
    assert!(text.contains("likely rename: age -> years"), "{text}");
}

#[test]
fn template_with_the_renames_accepted_carries_the_values_over() {
    let (dir, old, new) = pair(EVOLVE_V1, EVOLVE_V2);
    let out = diff(&["--template"], &old, &new);
    assert_eq!(out.status.code(), Some(0));
    let template = String::from_utf8(out.stdout).unwrap();
    // As written, everything is commented out: the empty transform.
    let untouched = Transform::parse(&template).unwrap();
    assert!(untouched.types.is_empty() && untouched.globals.is_empty(), "{template}");
    let accepted = accept_suggestions(&template);
    assert!(accepted.contains("renamed_from = \"age\""), "{template}");
    let tf = Transform::parse(&accepted).unwrap_or_else(|e| panic!("{e}:\n{accepted}"));

    let (o, n) = (Sidecar::read(&Sidecar::path_for(&old)).unwrap(), Sidecar::read(&Sidecar::path_for(&new)).unwrap());
    let account = |s: &Sidecar| s.types.iter().find(|t| t.name == "struct account").unwrap().id;
    let plan_report = |tf: &Transform| {
        let mut t = Transfer::new(&o, &n, tf, Biases::default()).unwrap();
        t.plan(account(&o), account(&n)).unwrap();
        let names: Vec<String> = t.variables().iter().map(|v| v.name.clone()).collect();
        (t.report(), names)
    };
    let (before, vars_before) = plan_report(&Transform::default());
    assert!(before.fields_dropped_undeclared.contains("struct account.age"), "{before:?}");
    assert!(before.fields_added.contains("struct account.years"));
    assert!(!vars_before.contains(&"request_count".to_string()), "no old value for it: {vars_before:?}");
    let (after, vars_after) = plan_report(&tf);
    assert!(!after.fields_dropped.contains("struct account.age"), "{after:?}");
    assert!(!after.fields_added.contains("struct account.years"));
    assert!(vars_after.contains(&"request_count".to_string()), "{vars_after:?}");

    // And `lucc diff` with it agrees: nothing left to decide.
    let path = dir.path().join("transform.toml");
    std::fs::write(&path, &accepted).unwrap();
    let (code, d) = json(&["--transform", path.to_str().unwrap()], &old, &new);
    assert_eq!(code, 0, "{d:#}");
    let years = change(&d, "field", "struct account.years");
    assert!(has(years, "renamed") && years["class"] == "auto", "{years:#}");
    assert_eq!(change(&d, "global", "request_count")["class"], "auto");
}

const CONN_V1: &str = r#"
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
struct conn { int fd; char peer[16]; };
struct conn *open_conn(int fd) { struct conn *c = malloc(sizeof *c); c->fd = fd; strcpy(c->peer, "x"); return c; }
struct conn *conns[4];
int main(int argc, char **argv) { conns[0] = open_conn(argc); printf("%d\n", conns[0]->fd); return 0; }
"#;

#[test]
fn a_removed_type_with_sites_is_refused_until_its_rename_is_declared() {
    let v2 = CONN_V1.replace("struct conn ", "struct connection ").replace("peer[16]; }", "peer[16]; int flags; }");
    let (dir, old, new) = pair(CONN_V1, &v2);
    let (code, d) = json(&[], &old, &new);
    assert_eq!(code, 2);
    let gone = change(&d, "type", "struct conn");
    assert_eq!((gone["change"].as_str(), gone["class"].as_str()), (Some("removed"), Some("needs-transform")));
    assert_eq!(gone["blocking"], true, "{gone:#}");
    assert_eq!(gone["suggestion"]["new"], "struct connection");
    let site = d["changes"].as_array().unwrap().iter().find(|c| c["item"] == "site").expect("a site changed");
    assert_eq!(site["blocking"], true, "{site:#}");
    assert!(site["reason"].as_str().unwrap().contains("cannot convert"), "{site:#}");

    let template = String::from_utf8(diff(&["--template"], &old, &new).stdout).unwrap();
    let tf = Transform::parse(&accept_suggestions(&template)).unwrap();
    let (o, n) = (Sidecar::read(&Sidecar::path_for(&old)).unwrap(), Sidecar::read(&Sidecar::path_for(&new)).unwrap());
    let id = |s: &Sidecar, name: &str| s.types.iter().find(|t| t.name == name).unwrap().id;
    let (ot, nt) = (id(&o, "struct conn"), id(&n, "struct connection"));
    let none = Transform::default();
    let mut without = Transfer::new(&o, &n, &none, Biases::default()).unwrap();
    let err = without.plan(ot, nt).unwrap_err();
    assert!(err.to_string().contains("cannot convert"), "{err}");
    let mut with = Transfer::new(&o, &n, &tf, Biases::default()).unwrap();
    with.plan(ot, nt).expect("the declared rename makes the plan");
    for s in &o.sites {
        with.site_plan(s.id).expect("every site plans");
    }

    let path = dir.path().join("t.toml");
    std::fs::write(&path, accept_suggestions(&template)).unwrap();
    let (code, d) = json(&["--transform", path.to_str().unwrap()], &old, &new);
    assert_eq!(code, 0, "{d:#}");
    assert_eq!(change(&d, "field", "struct connection.flags")["conversion"], "zero-fill");
}

const SMALL_V1: &str = r#"
#include <stdlib.h>
#include <stdio.h>
struct item { int a; };
struct item *items[2];
static int handler(int x) { return x + 1; }
int (*hook)(int) = handler;
int main(int argc, char **argv) { items[0] = malloc(sizeof *items[0]); items[0]->a = argc; printf("%d\n", hook(items[0]->a)); return 0; }
"#;

#[test]
fn an_added_field_and_global_proceed_automatically() {
    let v2 = SMALL_V1.replace("struct item { int a; };", "struct item { int a; int b; };\nint added_global = 4;");
    let (dir, old, new) = pair(SMALL_V1, &v2);
    let (code, d) = json(&[], &old, &new);
    assert_eq!(code, 0, "{d:#}");
    assert_eq!(d["verdict"], "auto");
    let b = change(&d, "field", "struct item.b");
    assert_eq!((b["class"].as_str(), b["conversion"].as_str()), (Some("convert"), Some("zero-fill")));
    assert_eq!(change(&d, "global", "added_global")["class"], "auto");

    // A function whose address a global starts out with must stay.
    let v3 = SMALL_V1.replace("handler", "handler2");
    let newer = build(dir.path(), "v3", &v3);
    let (code, d) = json(&[], &old, &newer);
    assert_eq!(code, 2, "{d:#}");
    let f = change(&d, "function", "handler");
    assert_eq!(f["blocking"], true);
    assert_eq!(f["held_by"][0], "hook");
    let template = String::from_utf8(diff(&["--template"], &old, &newer).stdout).unwrap();
    assert!(template.contains("# [globals.hook]\n# set = 0"), "{template}");
}

#[test]
fn missing_stale_and_corrupt_sidecars_are_bad_input() {
    // Different builds, so that one's sidecar is stale beside the other.
    let (dir, old, new) = pair(SMALL_V1, &SMALL_V1.replace("int (*hook)", "int marker = 1;\nint (*hook)"));
    let err = |out: Output| (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned());

    // A .lumap stands in for its binary.
    let (code, d) = json(&[], &Sidecar::path_for(&old), &new);
    assert_eq!(code, 0, "{d:#}");

    let lone = dir.path().join("lone");
    std::fs::copy(&new, &lone).unwrap();
    let (code, msg) = err(diff(&[], &old, &lone));
    assert_eq!(code, Some(1));
    assert!(msg.contains("no sidecar at") && msg.contains("lone.lumap"), "{msg}");

    std::fs::copy(Sidecar::path_for(&old), Sidecar::path_for(&lone)).unwrap();
    let (code, msg) = err(diff(&[], &old, &lone));
    assert_eq!(code, Some(1));
    assert!(msg.contains("is stale"), "{msg}");

    std::fs::write(Sidecar::path_for(&lone), b"{ not json").unwrap();
    let (code, msg) = err(diff(&["--json"], &lone, &new));
    assert_eq!(code, Some(1));
    assert!(msg.contains("is corrupt"), "{msg}");

    let (code, msg) = err(diff(&[], &old, &dir.path().join("nosuch")));
    assert_eq!(code, Some(1));
    assert!(msg.contains("no such program"), "{msg}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[types.\"struct item\"]\nalow_truncate = true\n").unwrap();
    let (code, msg) = err(diff(&["--transform", bad.to_str().unwrap()], &old, &new));
    assert_eq!(code, Some(1));
    assert!(msg.contains("alow_truncate"), "{msg}");
}

const TABLE_V1: &str = r#"
#include <stdio.h>
static int cmd_get(int x) { return x + 1; }
static int cmd_set(int x) { return x + 2; }
static int cmd_info(int x) { return x + 3; }
static int on_start(int x) { return x * 2; }
static int on_stop(int x) { return x * 3; }
struct command { const char *name; int (*proc)(int); long calls; };
struct command table[3] = { { "get", cmd_get, 0 }, { "set", cmd_set, 0 }, { "info", cmd_info, 0 } };
struct hooks { int (*start)(int); int (*stop)(int); };
struct hooks hooks = { on_start, on_stop };
int main(int argc, char **argv) {
    for (int i = 0; i < 3; i++) table[i].calls += table[i].proc(argc);
    printf("%ld %d %d\n", table[2].calls, hooks.start(argc), hooks.stop(argc));
    return 0;
}
"#;

const TABLE_V2: &str = r#"
#include <stdio.h>
static int cmd_get(int x) { return x + 1; }
static int cmd_set(int x) { return x + 2; }
static int on_start(int x) { return x * 2; }
struct command { const char *name; int (*proc)(int); long calls; };
struct command table[2] = { { "get", cmd_get, 0 }, { "set", cmd_set, 0 } };
struct hooks { int (*start)(int); };
struct hooks hooks = { on_start };
int main(int argc, char **argv) {
    for (int i = 0; i < 2; i++) table[i].calls += table[i].proc(argc);
    printf("%ld %d\n", table[1].calls, hooks.start(argc));
    return 0;
}
"#;

/// A removed function whose address sits only in a part of a variable the
/// transfer discards (an array tail cut by `allow_truncate`, a dropped
/// field) is not carried into the new version: the diff must account for
/// each rule of the transform file as the transfer does, and still refuse
/// while the part is kept.
#[test]
fn function_addresses_in_truncated_or_dropped_parts_need_nothing_more() {
    let (dir, old, new) = pair(TABLE_V1, TABLE_V2);
    let (code, d) = json(&[], &old, &new);
    assert_eq!(code, 2, "{d:#}");
    let info = change(&d, "function", "cmd_info");
    assert_eq!((info["class"].as_str(), &info["blocking"]), (Some("needs-transform"), &Value::Bool(true)), "{info:#}");
    assert_eq!(info["held_by"][0], "table", "{info:#}");
    // A field gone from the new type is discarded by the transfer, declared
    // or not: the pointer in it goes with it.
    let stop = change(&d, "function", "on_stop");
    assert_eq!((stop["class"].as_str(), &stop["blocking"]), (Some("auto"), &Value::Bool(false)), "{stop:#}");
    assert!(stop["detail"].as_str().unwrap().contains("parts of hooks that the transfer discards"), "{stop:#}");

    let truncate = dir.path().join("truncate.toml");
    std::fs::write(&truncate, "[globals.table]\nallow_truncate = true\n\n[types.\"struct hooks\"]\ndropped = [\"stop\"]\n").unwrap();
    let (code, d) = json(&["--transform", truncate.to_str().unwrap()], &old, &new);
    assert_eq!(code, 0, "{d:#}");
    assert_eq!(d["verdict"], "auto", "{d:#}");
    for f in ["cmd_info", "on_stop"] {
        let c = change(&d, "function", f);
        assert_eq!((c["class"].as_str(), &c["blocking"]), (Some("auto"), &Value::Bool(false)), "{c:#}");
    }
    // The kept entries' functions still count: removing cmd_set blocks.
    let v3 = TABLE_V2.replace("cmd_set", "cmd_put");
    let newer = build(dir.path(), "v3", &v3);
    let (code, d) = json(&["--transform", truncate.to_str().unwrap()], &old, &newer);
    assert_eq!(code, 2, "{d:#}");
    let set = change(&d, "function", "cmd_set");
    assert_eq!((set["blocking"].as_bool(), set["held_by"][0].as_str()), (Some(true), Some("table")), "{set:#}");
    // Without `allow_truncate` the table's tail is kept (its non-zero
    // entries refused), whatever else the file says.
    let set_only = dir.path().join("set_only.toml");
    std::fs::write(&set_only, "[types.\"struct hooks\"]\ndropped = [\"stop\"]\n").unwrap();
    let (code, d) = json(&["--transform", set_only.to_str().unwrap()], &old, &new);
    assert_eq!(code, 2, "{d:#}");
    assert_eq!(change(&d, "function", "cmd_info")["blocking"], true, "{d:#}");
}
