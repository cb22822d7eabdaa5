//! `lucc update --probation SECS`: the old process stays parked after the
//! commit; a new version that crashes on its first request after resuming
//! (callback_lossy v2 with LUCC_TEST_CRASH_FIRST_REQUEST in the
//! environment, which the update passes on) is rolled back from, and the
//! old process serves on with its state.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use lucc_testsuite::build::{lucc_path, Compiler};
use lucc_testsuite::client::LineClient;
use lucc_testsuite::server::Server;

use crate::common::{built, EXIT_TIMEOUT};
use crate::live_update::update_support::{ask, dump, EXIT_ROLLED_BACK};

const PAIRS: (&str, &str) = ("pairs", "field_added-v1");

#[test]
fn probation_rolls_back_from_a_new_version_that_crashes_serving() {
    let dir = built(PAIRS, Compiler::Lucc).exe.parent().expect("build directory").to_path_buf();
    let (v1, v2) = (dir.join("callback_lossy-v1"), dir.join("callback_lossy-v2"));
    let server = Server::start(&v1, &[("LUCC_TEST_CRASH_FIRST_REQUEST", "1")]).unwrap_or_else(|e| panic!("{e:#}"));
    let old_pid = server.pid();
    let mut keep = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
    for line in ["ADD bolts 300", "ADD nuts 12"] {
        assert_eq!(ask(&mut keep, line), "OK", "{line}");
    }
    let before = dump(&mut keep);
    let mut victim = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(ask(&mut victim, "PID"), old_pid.to_string());

    let lucc = lucc_path().unwrap_or_else(|e| panic!("{e:#}"));
    let mut update = Command::new(&lucc)
        .args(["update", &old_pid.to_string()])
        .arg(&v2)
        .args(["--probation", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", lucc.display()));
    // The stages print as they finish: once the commit's line is out, the
    // new version owns the program and the next request is its first.
    let mut stdout = BufReader::new(update.stdout.take().expect("piped"));
    let mut printed = String::new();
    loop {
        let mut line = String::new();
        let n = stdout.read_line(&mut line).unwrap_or_else(|e| panic!("lucc update's output: {e}"));
        printed.push_str(&line);
        assert!(n != 0, "lucc update ended before committing: {printed}");
        if line.trim_start().starts_with("commit") {
            break;
        }
    }
    assert!(printed.contains("probation"), "the commit stage does not mention the probation: {printed}");
    // This request is the new version's first: it crashes reading it, and
    // the request is lost with it (docs/lucc-update.md, "Probation").
    // (PID is answered by the pairs' common server code; DUMP reaches
    // the version's own.)
    victim.send("DUMP").unwrap_or_else(|e| panic!("{e:#}"));
    let out = update.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let rest = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let what = format!("{printed}{rest}{stderr}");
    assert_eq!(out.status.code(), Some(EXIT_ROLLED_BACK), "{what}");
    for s in ["probation", "killed by signal 11", "the old process resumed"] {
        assert!(stderr.contains(s), "the rollback reason lacks {s:?}: {what}");
    }

    // The old process serves on, with its state, on the connection it had.
    assert_eq!(ask(&mut keep, "PID"), old_pid.to_string(), "{what}");
    assert_eq!(dump(&mut keep), before, "the old process's state after the probation rollback");
    assert_eq!(ask(&mut keep, "ADD washers 1000"), "OK");
    assert_eq!(ask(&mut keep, "SHUTDOWN"), "BYE");
    let (status, stderr) = server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(status.success(), "the old process exited with {status}: {stderr}");
}
