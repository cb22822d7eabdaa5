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

/// Kills the processes an update started when a test ends, passed or not
/// (the server handle only knows the first one).
struct Reap(Vec<u32>);

impl Drop for Reap {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(std::process::Stdio::null()).status();
        }
    }
}

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
    let mut reap = Reap(r.json["new_pid"].as_u64().map(|p| p as u32).into_iter().collect());
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
    reap.0.clear();

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

/// The inodes of the heap memfds `pid` maps (`/proc/PID/maps`).
fn heap_memfds(pid: u32) -> std::collections::BTreeSet<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    maps.lines()
        .filter(|l| l.contains("memfd:lucc-heap"))
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .collect()
}

/// A second update of the same process: its heap is a copy-on-write view
/// of the first old process's memfd, which it hands on by writing back
/// only the pages it changed (the same memfd, not a copy of the heap);
/// the entries must still all answer as before, twice over.
#[test]
fn a_second_update_hands_on_the_same_heap() {
    let server = Server::start_with(&executable("bigheap-v1"), &["--entries", &ENTRIES.to_string()], &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let mut c = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
    let before = answers(&mut c);
    let mut reap = Reap(Vec::new());
    let r = lucc_update(server.pid(), &executable("bigheap-v2small"), None);
    reap.0.extend(r.json["new_pid"].as_u64().map(|p| p as u32));
    let first = r.committed_pid("v1 -> v2small");
    wait_gone(server.pid(), std::time::Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(answers(&mut c), before, "after the first update");
    let heap_first = heap_memfds(first);
    assert!(!heap_first.is_empty(), "the first new process maps its heap from a memfd");
    // Entries the program changes between the updates (GET counts hits in
    // v2 only; v2small counts PINGs in the changed object).
    for _ in 0..100 {
        assert_eq!(ask(&mut c, "PING"), "PONG");
    }
    let r = lucc_update(first, &executable("bigheap-v2"), None);
    reap.0.extend(r.json["new_pid"].as_u64().map(|p| p as u32));
    let second = r.committed_pid("v2small -> v2");
    wait_gone(first, std::time::Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(ask(&mut c, "PID"), second.to_string());
    assert_eq!(answers(&mut c), before, "after the second update");
    assert!(
        heap_memfds(second).is_superset(&heap_first),
        "the second update handed on the first process's memfd ({heap_first:?}), not a copy ({:?})",
        heap_memfds(second)
    );
    assert_eq!(ask(&mut c, "SHUTDOWN"), "OK");
    reap.0.clear();
}
