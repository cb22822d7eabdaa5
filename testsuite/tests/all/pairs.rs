//! Live update of the version pairs (`programs/pairs`, see its README):
//! each pair's v1 runs as a server, a script builds its state over TCP,
//! `lucc update` replaces it by v2, and the state v2 dumps on the
//! connection opened before the update must be what the pair expects; an
//! update that must fail must roll back with a message naming what could
//! not be converted, and leave v1 serving its unchanged state.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lucc_testsuite::build::{programs_dir, Compiler};
use lucc_testsuite::client::LineClient;
use lucc_testsuite::server::Server;

use crate::common::{built, EXIT_TIMEOUT};
use crate::live_update::update_support::{lucc_update, wait_gone, Updated};

/// Every pair is built by one make run; the first executable's name only
/// tells `build` what to check for.
const PAIRS: (&str, &str) = ("pairs", "field_added-v1");

/// `lucc update`'s exit codes (driver/src/update/mod.rs).
const EXIT_COMMITTED: i32 = 0;
const EXIT_ROLLED_BACK: i32 = 3;

enum Outcome {
    /// Exit 0; v2 then dumps `expected_v2.txt`.
    Commit,
    /// Exit 3; the reason contains every string; v1 runs on and dumps
    /// `expected_v1<scenario>.txt` again.
    RollBack(&'static [&'static str]),
}

/// `pairs/<name>/<file>`.
fn pair_file(name: &str, file: &str) -> PathBuf {
    programs_dir().join("pairs").join(name).join(file)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lucc builds of `name`'s two versions.
fn executables(name: &str) -> (PathBuf, PathBuf) {
    let first = built(PAIRS, Compiler::Lucc).exe;
    let dir = first.parent().expect("executables sit in the build directory");
    let exe = |v: &str| {
        let p = dir.join(format!("{name}-{v}"));
        assert!(p.is_file(), "the pairs build has no {}", p.display());
        p
    };
    (exe("v1"), exe("v2"))
}

/// Sends DUMP and returns its lines up to the terminating ".", each with
/// its newline (the form of the expected files).
fn dump(c: &mut LineClient) -> Result<String> {
    c.send("DUMP")?;
    let mut out = String::new();
    loop {
        let line = c.read_line().context("reading DUMP")?;
        if line == "." {
            return Ok(out);
        }
        out.push_str(&line);
        out.push('\n');
    }
}

/// The pid of the process serving `c` (the servers' built-in PID request);
/// `when` says which step asked, for the failure message.
fn serving_pid(c: &mut LineClient, when: &str) -> u32 {
    let reply = c.request("PID").unwrap_or_else(|e| panic!("PID {when}: {e:#}"));
    reply.parse().unwrap_or_else(|_| panic!("PID {when} answered {reply:?}"))
}

fn run_script(c: &mut LineClient, script: &str) -> Result<()> {
    for line in script.lines().filter(|l| !l.trim().is_empty()) {
        let reply = c.request(line)?;
        if !reply.starts_with("OK") {
            bail!("{line:?} answered {reply:?}");
        }
    }
    Ok(())
}

/// The whole scenario for one pair: v1, script, DUMP, update, DUMP.
fn update_pair(name: &str, scenario: &str, outcome: Outcome) {
    let (v1, v2) = executables(name);
    let script = read(&pair_file(name, &format!("script{scenario}.txt")));
    let expected_v1 = read(&pair_file(name, &format!("expected_v1{scenario}.txt")));
    let transform = pair_file(name, "transform.toml");
    let transform = transform.is_file().then_some(transform);

    let server = Server::start(&v1, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let mut conn = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
    let old_pid = serving_pid(&mut conn, "before the update");
    run_script(&mut conn, &script).unwrap_or_else(|e| panic!("{name} v1: {e:#}"));
    let before = dump(&mut conn).unwrap_or_else(|e| panic!("{name} v1: {e:#}"));
    assert_eq!(before, expected_v1, "{name}{scenario}: v1's DUMP before the update");

    let up = lucc_update(old_pid, &v2, transform.as_deref());
    let what = format!("{name}{scenario}: lucc update exited {}: {}\n{}", up.code, up.json, up.stderr);
    match outcome {
        Outcome::Commit => {
            assert_eq!(up.code, EXIT_COMMITTED, "{what}");
            assert_eq!(up.json["outcome"], "committed", "{what}");
            let new_pid = up.json["new_pid"].as_u64().unwrap_or_else(|| panic!("no new_pid: {what}")) as u32;
            let updated = Updated(new_pid);
            // The state first, on a new connection, then the connection
            // opened before the update: each failure names its own cause.
            let expected_v2 = read(&pair_file(name, &format!("expected_v2{scenario}.txt")));
            let mut fresh = LineClient::connect(server.port).unwrap_or_else(|e| panic!("{e:#}"));
            assert_eq!(serving_pid(&mut fresh, "on a new connection after the update"), new_pid, "{what}");
            let after = dump(&mut fresh).unwrap_or_else(|e| panic!("{name} after the update: {e:#}"));
            assert_eq!(after, expected_v2, "{name}{scenario}: v2's DUMP after the update");
            assert_eq!(fresh.request("QUIT").unwrap_or_else(|e| panic!("{e:#}")), "BYE");
            let pid = serving_pid(&mut conn, &format!("on {name}'s connection opened before the update"));
            assert_eq!(pid, new_pid, "{name}: the connection opened before the update is not served by the new process");
            assert_eq!(conn.request("SHUTDOWN").unwrap_or_else(|e| panic!("{e:#}")), "BYE");
            wait_gone(updated.0, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            // The old process ended at the commit.
            server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{name}: old process: {e:#}"));
        }
        Outcome::RollBack(reason_has) => {
            assert_eq!(up.code, EXIT_ROLLED_BACK, "{what}");
            assert_eq!(up.json["outcome"], "rolled_back", "{what}");
            let reason = up.json["reason"].as_str().unwrap_or_default();
            for s in reason_has {
                assert!(reason.contains(s), "{name}{scenario}: the reason lacks {s:?}: {what}");
            }
            let pid = serving_pid(&mut conn, &format!("on {name}'s connection after the rollback"));
            assert_eq!(pid, old_pid, "{name}: after a rollback the old process serves on");
            let after = dump(&mut conn).unwrap_or_else(|e| panic!("{name} after the rollback: {e:#}"));
            assert_eq!(after, expected_v1, "{name}{scenario}: v1's DUMP after the rollback");
            assert_eq!(conn.request("SHUTDOWN").unwrap_or_else(|e| panic!("{e:#}")), "BYE");
            let (status, stderr) = server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
            assert!(status.success(), "{name}: v1 exited with {status}: {stderr}");
        }
    }
}

macro_rules! pair_tests {
    ($($test:ident: $name:literal $scenario:literal => $outcome:expr;)*) => {
        $(
            #[test]
            fn $test() {
                update_pair($name, $scenario, $outcome);
            }
        )*
    };
}

pair_tests! {
    pair_field_added: "field_added" "" => Outcome::Commit;
    pair_field_removed: "field_removed" "" => Outcome::Commit;
    pair_fields_reordered: "fields_reordered" "" => Outcome::Commit;
    pair_int_widened: "int_widened" "" => Outcome::Commit;
    pair_int_narrowed: "int_narrowed" "" => Outcome::Commit;
    pair_int_narrowed_overflow_rolls_back: "int_narrowed" "_overflow" => Outcome::RollBack(&["sample", "does not fit"]);
    pair_signedness_enum: "signedness_enum" "" => Outcome::Commit;
    pair_array_resized: "array_resized" "" => Outcome::Commit;
    pair_nested_struct: "nested_struct" "" => Outcome::Commit;
    pair_bitfields: "bitfields" "" => Outcome::Commit;
    pair_union_member: "union_member" "" => Outcome::Commit;
    pair_interior_pointers: "interior_pointers" "" => Outcome::Commit;
    pair_pointers_to_globals_and_strings: "pointers_to_globals_and_strings" "" => Outcome::Commit;
    pair_cycles_shared: "cycles_shared" "" => Outcome::Commit;
    pair_void_containers: "void_containers" "" => Outcome::Commit;
    pair_static_locals: "static_locals" "" => Outcome::Commit;
    pair_callbacks: "callbacks" "" => Outcome::Commit;
    // Commits: the callback's loss shows only under --ttst (ttst.rs).
    pair_callback_lossy: "callback_lossy" "" => Outcome::Commit;
    pair_renamed_field: "renamed_field" "" => Outcome::Commit;
    pair_renamed_global: "renamed_global" "" => Outcome::Commit;
    pair_type_removed_unmappable_rolls_back: "type_removed_unmappable" "" => Outcome::RollBack(&["struct conn.fd", "cannot convert"]);
}

/// The table above covers every pair directory: a pair added without a
/// test would otherwise never run.
#[test]
fn pair_tests_cover_every_pair() {
    let listed = [
        "field_added",
        "field_removed",
        "fields_reordered",
        "int_widened",
        "int_narrowed",
        "signedness_enum",
        "array_resized",
        "nested_struct",
        "bitfields",
        "union_member",
        "interior_pointers",
        "pointers_to_globals_and_strings",
        "cycles_shared",
        "void_containers",
        "static_locals",
        "callbacks",
        "callback_lossy",
        "renamed_field",
        "renamed_global",
        "type_removed_unmappable",
    ];
    let dir = programs_dir().join("pairs");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("v1.c").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "pairs on disk vs. pairs with an update test");
}
