//! `lucc status`: the list of this user's running lucc programs (and not
//! the leftovers of dead ones), and one program's update history followed
//! back through the processes it replaced.

use std::path::Path;
use std::process::Command;

use lucc_testsuite::build::{lucc_path, Compiler};
use lucc_testsuite::server::Server;
use serde_json::Value;

use crate::common::{built, EXIT_TIMEOUT, KVSTORE};
use crate::live_update::update_support::{wait_gone, Updated, EXIT_COMMITTED, EXIT_ROLLED_BACK};

const KVSTORE_V2: (&str, &str) = ("kvstore/v2", "kvstore");

/// `lucc ARGS` with the history kept in `state` (XDG_STATE_HOME), so the
/// test reads only its own records.
fn lucc(state: &Path, args: &[&str]) -> (i32, String) {
    let lucc = lucc_path().unwrap_or_else(|e| panic!("{e:#}"));
    let out = Command::new(&lucc).args(args).env("XDG_STATE_HOME", state).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text + &String::from_utf8_lossy(&out.stderr))
}

fn json_of(text: &str) -> Value {
    text.lines().find_map(|l| serde_json::from_str(l).ok()).unwrap_or_else(|| panic!("no JSON in {text}"))
}

fn build_id(exe: &Path) -> String {
    let sc = lucc_abi::sidecar::Sidecar::read(&lucc_abi::sidecar::Sidecar::path_for(exe)).unwrap();
    sc.build_id
}

fn listed(state: &Path) -> Vec<Value> {
    let (code, text) = lucc(state, &["status", "--json"]);
    assert_eq!(code, 0, "{text}");
    json_of(&text).as_array().cloned().unwrap_or_default()
}

#[test]
fn lists_running_programs_and_follows_the_update_history() {
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let v1 = built(KVSTORE, Compiler::Lucc).exe;
    let v2 = built(KVSTORE_V2, Compiler::Lucc).exe;
    let server = Server::start(&v1, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let old = server.pid();

    // A socket left by a process that died without removing it.
    let uid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap();
    let dir = lucc_abi::control::socket_dir(std::env::var_os("XDG_RUNTIME_DIR").as_deref(), uid);
    let dead = {
        let mut child = Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        child.id()
    };
    let stale = lucc_abi::control::socket_path(&dir, dead);
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());

    let programs = listed(st);
    let me = programs.iter().find(|p| p["pid"] == old).unwrap_or_else(|| panic!("{old} not listed: {programs:?}"));
    assert_eq!(me["executable"], v1.canonicalize().unwrap().display().to_string());
    assert_eq!(me["build_id"], build_id(&v1));
    assert!(me["heap_objects"].as_u64().is_some() && me["uptime_ms"].as_u64().is_some(), "{me}");
    assert!(!programs.iter().any(|p| p["pid"] == dead), "the dead process {dead} is listed: {programs:?}");
    assert!(!stale.exists(), "the stale socket {} was left", stale.display());
    let (_, text) = lucc(st, &["status"]);
    assert!(text.lines().any(|l| l.starts_with(&format!("{old} ")) && l.contains(&build_id(&v1)[..12])), "{text}");

    // Three attempts: a dry run, a failure, a commit; then one on the new pid.
    let v2s = v2.to_str().unwrap();
    let (code, text) = lucc(st, &["update", &old.to_string(), v2s, "--dry-run"]);
    assert_eq!(code, EXIT_COMMITTED, "{text}");
    let (code, text) = lucc(st, &["update", &old.to_string(), v2s, "--inject-fault", "startup:crash"]);
    assert_eq!(code, EXIT_ROLLED_BACK, "{text}");
    let (code, text) = lucc(st, &["update", &old.to_string(), v2s, "--json"]);
    assert_eq!(code, EXIT_COMMITTED, "{text}");
    let new = json_of(&text)["new_pid"].as_u64().unwrap() as u32;
    let _guard = Updated(new);
    wait_gone(old, EXIT_TIMEOUT).unwrap();
    let (code, text) = lucc(st, &["update", &new.to_string(), v2s, "--inject-fault", "transfer:error"]);
    assert_eq!(code, EXIT_ROLLED_BACK, "{text}");

    let programs = listed(st);
    assert!(!programs.iter().any(|p| p["pid"] == old), "the replaced process is listed: {programs:?}");
    assert!(programs.iter().any(|p| p["pid"] == new && p["build_id"] == build_id(&v2)), "{programs:?}");

    let (code, text) = lucc(st, &["status", &new.to_string(), "--json"]);
    assert_eq!(code, 0, "{text}");
    let s = json_of(&text);
    let history = s["history"].as_array().unwrap_or_else(|| panic!("{s}"));
    let seen: Vec<(u64, &str)> = history.iter().map(|r| (r["pid"].as_u64().unwrap(), r["outcome"].as_str().unwrap())).collect();
    let (o, n) = (u64::from(old), u64::from(new));
    assert_eq!(seen, [(o, "would_commit"), (o, "rolled_back"), (o, "committed"), (n, "rolled_back")], "{s:#}");
    let commit = &history[2];
    assert_eq!((commit["new_pid"].as_u64(), commit["old_build"].as_str(), commit["new_build"].as_str()), (Some(n), Some(build_id(&v1).as_str()), Some(build_id(&v2).as_str())), "{commit}");
    assert!(history[1]["reason"].as_str().unwrap().starts_with("startup:"), "{s:#}");

    let (_, text) = lucc(st, &["status", &new.to_string()]);
    assert!(text.contains(&format!("committed: pid {old} (build {}) -> pid {new} (build {})", &build_id(&v1)[..12], &build_id(&v2)[..12])), "{text}");
    assert!(text.contains("rolled back") && text.contains("dry run"), "{text}");

    // The history file is the user's alone.
    let meta = std::fs::metadata(st.join("lucc/history.jsonl")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o600);
    drop(server);
}
