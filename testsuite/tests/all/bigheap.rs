//! Live update of a large heap (`programs/bigheap`: the pause benchmark's
//! server): with a few hundred thousand entries the state transfer splits
//! the objects between threads, skips the objects whose values all stay,
//! and frees the old blocks of moved objects after commit. Whatever path
//! each object took, every entry must answer as before, on the connection
//! opened before the update, from the new process.

use std::path::PathBuf;

use lucc_testsuite::build::Compiler;
use lucc_testsuite::client::LineClient;
use lucc_testsuite::server::Server;

use crate::common::built;
use crate::live_update::update_support::{ask, lucc_update, wait_gone};

const BIGHEAP: (&str, &str) = ("bigheap", "bigheap-v1");
/// Entries of the table: each is two heap objects (the entry, its name).
const ENTRIES: u64 = 150_000;
/// Keys asked before and after: spread over the table, plus both ends and
/// one that is not there.
const PROBES: u64 = 997;

fn executable(name: &str) -> PathBuf {
    let v1 = built(BIGHEAP, Compiler::Lucc).exe;
    let p = v1.parent().expect("executables sit in the build directory").join(name);
    assert!(p.is_file(), "the bigheap build has no {}", p.display());
    p
}

fn answers(c: &mut LineClient) -> Vec<String> {
    let mut keys: Vec<u64> = (0..PROBES).map(|i| i * (ENTRIES / PROBES)).collect();
    keys.extend([ENTRIES - 1, ENTRIES + 5]);
    keys.into_iter().map(|k| format!("{k}: {}", ask(c, &format!("GET {k}")))).collect()
}

/// Updates a v1 holding ENTRIES entries to `new` and checks the new
/// process's answers and the transfer's counts; returns the transfer
/// stage's counts.
fn update_keeps_every_entry(new: &str) -> serde_json::Value {
    let v1 = executable("bigheap-v1");
    let server = Server::start_with(&v1, &["--entries", &ENTRIES.to_string()], &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let mut c = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(ask(&mut c, "COUNT"), ENTRIES.to_string());
    let before = answers(&mut c);
    assert!(before.iter().filter(|a| a.ends_with("NOTFOUND")).count() == 1, "exactly the absent key is missing: {:?}", &before[..3]);
    let bytes = ask(&mut c, "BYTES");

    let r = lucc_update(server.pid(), &executable(new), None);
    let new_pid = r.committed_pid(new);
    wait_gone(server.pid(), std::time::Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e:#}"));

    assert_eq!(ask(&mut c, "PID"), new_pid.to_string(), "the connection is served by the new process");
    assert_eq!(ask(&mut c, "VERSION"), "2");
    assert_eq!(ask(&mut c, "COUNT"), ENTRIES.to_string());
    assert_eq!(answers(&mut c), before, "every probed entry answers as before the update");
    if new == "bigheap-v2small" {
        assert_eq!(ask(&mut c, "BYTES"), bytes, "the table's payload is unchanged");
    }
    // A client that connects after the update is served too.
    let mut fresh = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
    let (key, answer) = before[(PROBES / 2) as usize].split_once(": ").expect("key: answer");
    assert_eq!(ask(&mut fresh, &format!("GET {key}")), answer);
    assert_eq!(ask(&mut c, "SHUTDOWN"), "OK");

    let stages = r.json["stages"].as_array().expect("stages");
    let transfer = stages.iter().find(|s| s["stage"] == "transfer").expect("a transfer stage");
    transfer["counts"].clone()
}

#[test]
fn every_entry_rebuilt_elsewhere() {
    let counts = update_keeps_every_entry("bigheap-v2");
    assert!(counts["objects"].as_u64().unwrap() >= 2 * ENTRIES, "{counts}");
    assert_eq!(counts["converted"].as_u64(), Some(ENTRIES), "every entry is converted: {counts}");
    assert_eq!(counts["moved"].as_u64(), Some(ENTRIES), "a grown entry does not fit its block: {counts}");
}

#[test]
fn one_small_object_changed() {
    let counts = update_keeps_every_entry("bigheap-v2small");
    assert_eq!(counts["converted"].as_u64(), Some(1), "only the counters object changes: {counts}");
    let phases: Vec<&str> = counts["phases"].as_array().expect("phases").iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(phases.contains(&"convert objects"), "the transfer reports its phases: {phases:?}");
}
