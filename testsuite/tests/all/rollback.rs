//! Rollback: a new version that fails anywhere before commit is killed and
//! the old one serves on exactly as before. The kvstore runs as v1 with
//! state built over two connections; updates to v2 are made to fail in
//! every stage and every way (`lucc update --inject-fault POINT:KIND`), and
//! after each one the same connections must reach the same process with
//! the same keys, values, counters and heap size. A last, clean update then
//! commits: the rollbacks left the old process fit to be updated.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use lucc_testsuite::build::Compiler;
use lucc_testsuite::client::LineClient;
use lucc_testsuite::server::Server;
use serde_json::Value;

use crate::common::{built, EXIT_TIMEOUT, KVSTORE};
use crate::live_update::update_support::lucc_update_args;

const KVSTORE_V2: (&str, &str) = ("kvstore/v2", "kvstore");

/// `lucc update`'s exit codes (driver/src/update/mod.rs).
const EXIT_COMMITTED: i32 = 0;
const EXIT_ROLLED_BACK: i32 = 3;

/// Every read-only view of the state the protocol offers, asked in a fixed
/// order: `STATS` (request counters), `KEYS`, each key's value, `DBSIZE`
/// and `MEMORY` (the heap bytes the program's allocator accounts).
#[derive(Debug, PartialEq)]
struct Snapshot {
    counters: BTreeMap<String, i64>,
    /// Everything else, verbatim.
    views: Vec<String>,
}

fn snapshot(c: &mut LineClient) -> Result<Snapshot> {
    let stats = c.request("STATS")?;
    let mut counters = BTreeMap::new();
    for item in stats.split_whitespace() {
        let (k, v) = item.split_once(':').with_context(|| format!("STATS item {item:?}"))?;
        counters.insert(k.to_string(), v.parse().with_context(|| format!("STATS item {item:?}"))?);
    }
    let keys = c.request("KEYS")?;
    let mut views = vec![format!("KEYS {keys}")];
    for k in keys.split_whitespace() {
        views.push(format!("{k} = {}", c.request(&format!("GET {k}"))?));
    }
    views.push(format!("DBSIZE {}", c.request("DBSIZE")?));
    views.push(format!("MEMORY {}", c.request("MEMORY")?));
    Ok(Snapshot { counters, views })
}

/// Counters grow by what the snapshots themselves ask: the step from `b` to
/// `c` must be the step from `a` to `b`, and the rest identical.
fn assert_unchanged(a: &Snapshot, b: &Snapshot, c: &Snapshot, what: &str) {
    let differing: Vec<_> = b.views.iter().zip(&c.views).filter(|(x, y)| x != y).take(5).collect();
    assert!(differing.is_empty() && b.views.len() == c.views.len(), "{what}: the state changed: {differing:?} ({} vs {} views)", b.views.len(), c.views.len());
    let step = |x: &Snapshot, y: &Snapshot| -> BTreeMap<String, i64> {
        y.counters.iter().map(|(k, v)| (k.clone(), v - x.counters.get(k).copied().unwrap_or(0))).collect()
    };
    assert_eq!(step(b, c), step(a, b), "{what}: counters moved by more than the snapshot's own requests\nbefore: {:?}\nafter: {:?}", b.counters, c.counters);
}

fn build_state(a: &mut LineClient, b: &mut LineClient) -> Result<()> {
    let steps: &[(bool, &str, &str)] = &[
        (true, "SET greeting hello", "OK"),
        (false, "APPEND greeting _world", "11"),
        (true, "SET n 41", "OK"),
        (false, "INCR n", "42"),
        (true, "INCR visits", "1"),
        (false, "SET gone soon", "OK"),
        (true, "DEL gone", "1"),
        (false, "GET missing", "(nil)"),
    ];
    for &(first, req, want) in steps {
        let c = if first { &mut *a } else { &mut *b };
        let got = c.request(req)?;
        if got != want {
            bail!("{req:?} answered {got:?}, expected {want:?}");
        }
    }
    for i in 0..200 {
        let c = if i % 2 == 0 { &mut *a } else { &mut *b };
        c.request(&format!("SET key:{i} {}", "v".repeat(i % 37 + 1)))?;
    }
    Ok(())
}

struct Update {
    code: i32,
    json: Value,
    text: String,
}

fn lucc_update(pid: u32, new: &Path, extra: &[&str]) -> Update {
    let r = lucc_update_args(pid, new, extra);
    Update { code: r.code, text: r.describe(), json: r.json }
}

/// The connection is still served by v1 (kvstore's VERSION request; the
/// old process is the only v1 around).
fn assert_served_by_v1(c: &mut LineClient, what: &str) {
    let v = c.request("VERSION").unwrap_or_else(|e| panic!("{what}: VERSION: {e:#}"));
    assert_eq!(v, "v1", "{what}: the connection is not served by v1");
}

/// One failed update: the reason names the stage; the old process serves
/// the same state on the same connections.
fn fails_and_rolls_back(server: &Server, conns: &mut [LineClient; 2], v2: &Path, fault: &str, stage: &str) {
    let before_a = snapshot(&mut conns[0]).unwrap_or_else(|e| panic!("{e:#}"));
    let before_b = snapshot(&mut conns[0]).unwrap_or_else(|e| panic!("{e:#}"));
    let mut extra = vec!["--inject-fault", fault];
    if fault.ends_with(":hang") {
        // The deadline is what catches a hang: keep it short.
        extra.extend(["--timeout", "1.5"]);
    }
    let up = lucc_update(server.pid(), v2, &extra);
    let what = format!("fault {fault}: {}", up.text);
    assert_eq!(up.code, EXIT_ROLLED_BACK, "{what}");
    assert_eq!(up.json["outcome"], "rolled_back", "{what}");
    let reason = up.json["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with(&format!("{stage}:")), "fault {fault}: the reason {reason:?} does not name the {stage} stage");
    let failed: Vec<&str> = up.json["stages"]
        .as_array()
        .map(|s| s.iter().filter(|s| s["ok"] == false).filter_map(|s| s["stage"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(failed, [stage], "{what}");
    // The process that failed is gone, the old one is the one serving.
    assert!(up.json.get("new_pid").is_none(), "{what}");
    assert!(process_alive(server.pid()), "fault {fault}: the old process is gone");
    // The same connection as before: its buffers' sizes are part of MEMORY.
    let after = snapshot(&mut conns[0]).unwrap_or_else(|e| panic!("{e:#}"));
    assert_unchanged(&before_a, &before_b, &after, &format!("after fault {fault}"));
    for c in conns.iter_mut() {
        assert_served_by_v1(c, &format!("after fault {fault}"));
    }
}

#[test]
fn failure_in_every_stage_rolls_back_and_the_old_server_is_unchanged() {
    let v1 = built(KVSTORE, Compiler::Lucc).exe;
    let v2 = built(KVSTORE_V2, Compiler::Lucc).exe;
    let server = Server::start(&v1, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let mut conns = [
        LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}")),
        LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}")),
    ];
    let [a, b] = &mut conns;
    build_state(a, b).unwrap_or_else(|e| panic!("{e:#}"));

    let faults = [
        ("startup:crash", "startup"),
        ("startup:exit", "startup"),
        ("startup:error", "startup"),
        ("transfer:crash", "transfer"),
        ("transfer:abort", "transfer"),
        ("transfer:exit", "transfer"),
        ("transfer:error", "transfer"),
        ("transfer:hang", "transfer"),
        ("ready:crash", "commit"),
        ("ready:exit", "commit"),
        ("ready:hang", "commit"),
        ("ready:error", "commit"),
    ];
    for (fault, stage) in faults {
        fails_and_rolls_back(&server, &mut conns, &v2, fault, stage);
    }

    // Still updatable, with its state intact.
    let before = snapshot(&mut conns[0]).unwrap_or_else(|e| panic!("{e:#}"));
    let up = lucc_update(server.pid(), &v2, &[]);
    assert_eq!(up.code, EXIT_COMMITTED, "clean update after the rollbacks: {}", up.text);
    let new_pid = up.json["new_pid"].as_u64().expect("new_pid") as u32;
    let guard = KillOnDrop(new_pid);
    assert_eq!(conns[1].request("VERSION").unwrap(), "v2");
    let after = snapshot(&mut conns[0]).unwrap_or_else(|e| panic!("{e:#}"));
    let values = |s: &Snapshot| s.views.iter().filter(|v| !v.starts_with("MEMORY")).cloned().collect::<Vec<_>>();
    assert_eq!(values(&after), values(&before), "v2 after the update holds v1's keys and values");
    assert_eq!(conns[0].request("SHUTDOWN").unwrap_or_default(), "BYE");
    let t = std::time::Instant::now();
    while process_alive(new_pid) && t.elapsed() < EXIT_TIMEOUT {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!process_alive(new_pid), "v2 did not exit after SHUTDOWN");
    drop(guard);
    server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("old process: {e:#}"));
}

/// The transfer stage's counts in a report.
fn transfer_counts(json: &Value) -> Value {
    json["stages"]
        .as_array()
        .and_then(|st| st.iter().find(|s| s["stage"] == "transfer"))
        .map(|s| {
            let mut c = s["counts"].clone();
            // Time is not a prediction (nor is its split into phases).
            if let Some(o) = c.as_object_mut() {
                o.remove("ms");
                o.remove("phases");
            }
            c
        })
        .unwrap_or(Value::Null)
}

/// `--dry-run` goes through the transfer into a new process that is then
/// discarded: the server's answers and heap are untouched, a dry run of a
/// failing update fails the same way, and the real update that follows
/// does what the dry run predicted.
#[test]
fn dry_run_changes_nothing_and_predicts_the_update() {
    let v1 = built(KVSTORE, Compiler::Lucc).exe;
    let v2 = built(KVSTORE_V2, Compiler::Lucc).exe;
    let server = Server::start(&v1, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let mut conns = [
        LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}")),
        LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}")),
    ];
    let [a, b] = &mut conns;
    build_state(a, b).unwrap_or_else(|e| panic!("{e:#}"));

    let before_a = snapshot(&mut conns[0]).unwrap_or_else(|e| panic!("{e:#}"));
    let before_b = snapshot(&mut conns[0]).unwrap_or_else(|e| panic!("{e:#}"));
    let dry = lucc_update(server.pid(), &v2, &["--dry-run"]);
    assert_eq!(dry.code, EXIT_COMMITTED, "{}", dry.text);
    assert_eq!(dry.json["outcome"], "would_commit", "{}", dry.text);
    let discarded = dry.json["discarded_pid"].as_u64().expect("discarded_pid") as u32;
    assert!(!process_alive(discarded), "the dry run's new process {discarded} is still running");
    let after = snapshot(&mut conns[0]).unwrap_or_else(|e| panic!("{e:#}"));
    assert_unchanged(&before_a, &before_b, &after, "after a dry run");
    assert_served_by_v1(&mut conns[1], "after a dry run");

    let dry_fail = lucc_update(server.pid(), &v2, &["--dry-run", "--inject-fault", "transfer:crash"]);
    assert_eq!(dry_fail.code, EXIT_ROLLED_BACK, "{}", dry_fail.text);
    assert_served_by_v1(&mut conns[1], "after a failing dry run");

    // Nothing changed since the dry run: the real update must match it.
    let dry = lucc_update(server.pid(), &v2, &["--dry-run"]);
    assert_eq!(dry.code, EXIT_COMMITTED, "{}", dry.text);
    let up = lucc_update(server.pid(), &v2, &[]);
    assert_eq!(up.code, EXIT_COMMITTED, "{}", up.text);
    let new_pid = up.json["new_pid"].as_u64().expect("new_pid") as u32;
    let _guard = KillOnDrop(new_pid);
    assert_eq!(transfer_counts(&up.json), transfer_counts(&dry.json), "the dry run's prediction\n{}\n{}", dry.text, up.text);
    assert_eq!(conns[1].request("VERSION").unwrap(), "v2");
    assert_eq!(conns[0].request("SHUTDOWN").unwrap_or_default(), "BYE");
}

#[test]
fn unknown_fault_is_refused_before_anything_happens() {
    let v1 = built(KVSTORE, Compiler::Lucc).exe;
    let v2 = built(KVSTORE_V2, Compiler::Lucc).exe;
    let server = Server::start(&v1, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let up = lucc_update(server.pid(), &v2, &["--inject-fault", "commit:melt"]);
    assert_eq!(up.code, 4, "{}", up.text);
    assert!(up.text.contains("unknown fault point"), "{}", up.text);
    let mut c = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
    assert_served_by_v1(&mut c, "after a refused fault");
    assert_eq!(c.request("SHUTDOWN").unwrap_or_default(), "BYE");
    server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
}

fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        // "pid (comm) S ...": a zombie has exited.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
    }
}

/// Kills the committed new version if an assertion fails while it runs.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if process_alive(self.0) {
            let _ = Command::new("kill").arg("-KILL").arg(self.0.to_string()).status();
        }
    }
}
