//! The sidecar names every global and static local the way a live update
//! finds it, at every optimisation level: by its source name, with its
//! function, at its address. Programs are built with the real `lucc` (pass,
//! runtime, sidecar) and read back through `lucc inspect --json`; addresses
//! are checked against the symbol table (`nm`), which the sidecar does not
//! read for them.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use lucc_abi::sidecar::{Sidecar, Variable};

const LUCC: &str = env!("CARGO_BIN_EXE_lucc");

/// The runtime archive, built once if it is not there yet.
fn runtime() -> PathBuf {
    static RT: OnceLock<PathBuf> = OnceLock::new();
    RT.get_or_init(|| {
        if let Some(rt) = std::env::var_os("LUCC_RUNTIME") {
            return PathBuf::from(rt);
        }
        let profile_dir = Path::new(LUCC).parent().unwrap();
        let rt = profile_dir.join("liblucc_rt.a");
        let mut build = vec!["build", "-q", "-p", "lucc-rt"];
        if profile_dir.ends_with("release") {
            build.push("--release");
        }
        let status = Command::new(env!("CARGO"))
            .args(&build)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(
            status.success() && rt.is_file(),
            "cannot build {}",
            rt.display()
        );
        rt
    })
    .clone()
}

fn ok(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `lucc ARGS` in `dir`, sidecar written, with a clean lucc environment.
fn lucc(dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(LUCC);
    c.current_dir(dir).args(args);
    for k in [
        "LUCC_FALLBACK",
        "LUCC_DISABLE",
        "LUCC_LOG",
        "LUCC_CLANG",
        "LUCC_NO_SIDECAR",
    ] {
        c.env_remove(k);
    }
    c.env("LUCC_RUNTIME", runtime());
    ok(&format!("lucc {args:?}"), c.output().expect("lucc runs"))
}

fn inspect(binary: &Path) -> Sidecar {
    let out = lucc(
        binary.parent().unwrap(),
        &["inspect", "--json", binary.to_str().unwrap()],
    );
    Sidecar::from_json("inspect output", &out.stdout).expect("inspect --json prints a sidecar")
}

/// Addresses of each symbol name in the binary's symbol table.
fn nm(binary: &Path) -> HashMap<String, Vec<u64>> {
    let out = ok(
        "nm",
        Command::new("nm").arg(binary).output().expect("nm runs"),
    );
    let mut by_name: HashMap<String, Vec<u64>> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut words = line.split_whitespace();
        let (Some(addr), Some(_kind), Some(name)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        if let Ok(addr) = u64::from_str_radix(addr, 16) {
            by_name.entry(name.to_string()).or_default().push(addr);
        }
    }
    by_name
}

/// (unit file name, function, name) of each variable.
fn names(vars: &[Variable]) -> BTreeSet<(String, String, String)> {
    vars.iter()
        .map(|v| {
            let unit = v.unit.rsplit('/').next().unwrap().to_string();
            (unit, v.function.clone(), v.name.clone())
        })
        .collect()
}

fn triple(unit: &str, function: &str, name: &str) -> (String, String, String) {
    (unit.into(), function.into(), name.into())
}

/// Globals GlobalOpt rewrites when it can see every use (split, shrunk to
/// a flag, made a local of `main`), static locals of functions inlined
/// everywhere, of a function also called through a pointer, and in a
/// nested block; b.c has a function and static local of the same names as
/// a.c's.
const A_C: &str = r#"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Only bytes 8..15 are used: GlobalOpt would keep just those, as blob.0. */
static unsigned char blob[24];
/* Fields used one by one: GlobalOpt would split it into stats.0, stats.1. */
static struct { long hits; long misses; } stats;
/* Only ever 0 or 1: GlobalOpt would shrink it to a bool. */
static int ready;
/* Used only in main: GlobalOpt would make it a local of main. */
static int runs;
/* A constant is the program's, not state. */
static const int limit = 3;
int shared_total;
/* One per thread: not state the sidecar can place. */
__thread int per_thread;

/* Inlined everywhere: no out-of-line copy holds its static local. */
static int tick(void) {
    static int n;
    return ++n;
}

static const char *remember(const char *w) {
    static char buf[32];
    static size_t used;
    if (w) {
        size_t k = strlen(w);
        if (used + k < sizeof buf) {
            memcpy(buf + used, w, k);
            used += k;
        }
    }
    return buf;
}

/* Inlined into main and also called through a pointer. */
static int counted(void) {
    static int calls;
    return ++calls;
}
int (*counted_ptr)(void) = counted;

__attribute__((noinline)) int scoped(int x) {
    if (x > 0) {
        static int deepest;
        if (x > deepest)
            deepest = x;
        return deepest;
    }
    return 0;
}

int b_tick(void);

int main(int argc, char **argv) {
    uintptr_t p = (uintptr_t)argc;
    memcpy(blob + 8, &p, sizeof p);
    stats.hits += argc;
    stats.misses += 1;
    ready = 1;
    runs = argc;
    for (int i = 0; i < argc && i < limit; i++) {
        tick();
        if (i)
            remember(argv[i]);
        shared_total += scoped(i + 1);
    }
    counted();
    per_thread = counted_ptr();
    memcpy(&p, blob + 8, sizeof p);
    printf("%d %d %s %ld %ld %d %d %lu %d %d\n", tick(), b_tick(), remember(NULL), stats.hits,
           stats.misses, ready, runs, (unsigned long)p, per_thread, shared_total);
    return 0;
}
"#;

const B_C: &str = r#"
static int tick(void) {
    static int n = 10;
    return ++n;
}

int b_tick(void) {
    tick();
    return tick();
}
"#;

fn write_sources(dir: &Path) {
    std::fs::write(dir.join("a.c"), A_C).unwrap();
    std::fs::write(dir.join("b.c"), B_C).unwrap();
}

/// What a reader of a.c and b.c counts as their state.
fn expected_globals() -> BTreeSet<(String, String, String)> {
    [
        "blob",
        "stats",
        "ready",
        "runs",
        "shared_total",
        "counted_ptr",
    ]
    .into_iter()
    .map(|n| triple("a.c", "", n))
    .collect()
}

fn expected_static_locals() -> BTreeSet<(String, String, String)> {
    [
        triple("a.c", "tick", "n"),
        triple("a.c", "remember", "buf"),
        triple("a.c", "remember", "used"),
        triple("a.c", "counted", "calls"),
        triple("a.c", "scoped", "deepest"),
        triple("b.c", "tick", "n"),
    ]
    .into_iter()
    .collect()
}

fn check_program(dir: &Path, flags: &[&str]) {
    let tag = flags.join(" ");
    let bin = dir.join(format!("prog{}", flags.concat()));
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["-o", bin.to_str().unwrap(), "a.c", "b.c"]);
    lucc(dir, &args);
    let run = ok(&tag, Command::new(&bin).arg("x").output().unwrap());
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "3 12 x 2 1 1 2 2 2 3\n",
        "{tag}: the program itself"
    );

    let s = inspect(&bin);
    let program_globals: Vec<Variable> = s
        .globals
        .iter()
        .filter(|g| !g.unit.ends_with("server.c"))
        .cloned()
        .collect();
    assert_eq!(
        names(&program_globals),
        expected_globals(),
        "{tag}: globals"
    );
    assert_eq!(
        program_globals.len(),
        expected_globals().len(),
        "{tag}: one entry each"
    );
    assert_eq!(
        names(&s.static_locals),
        expected_static_locals(),
        "{tag}: static locals"
    );
    assert_eq!(
        s.static_locals.len(),
        expected_static_locals().len(),
        "{tag}: one entry each"
    );

    // The thread-local is not state the sidecar can place, and says so.
    let unplaced: Vec<(String, &str)> = s
        .unplaced
        .iter()
        .map(|u| (u.name.clone(), u.reason.as_str()))
        .collect();
    assert_eq!(unplaced.len(), 1, "{tag}: {unplaced:?}");
    assert_eq!(unplaced[0].0, "per_thread", "{tag}");
    assert!(
        unplaced[0].1.contains("thread-local"),
        "{tag}: {unplaced:?}"
    );

    // Each global is where its unsuffixed symbol is, and the optimiser made
    // no pieces of it (`blob.0`) that the update would not know about.
    let symbols = nm(&bin);
    for g in &program_globals {
        assert_eq!(
            symbols.get(&g.name),
            Some(&vec![g.address]),
            "{tag}: {}",
            g.name
        );
        let pieces: Vec<&String> = symbols
            .keys()
            .filter(|k| {
                k.strip_prefix(&format!("{}.", g.name))
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            })
            .collect();
        assert!(
            pieces.is_empty(),
            "{tag}: {} was split into {pieces:?}",
            g.name
        );
    }
    // clang names a static local's symbol FUNCTION.VARIABLE.
    for v in &s.static_locals {
        let symbol = format!("{}.{}", v.function, v.name);
        assert!(
            symbols.get(&symbol).is_some_and(|a| a.contains(&v.address)),
            "{tag}: {symbol} at {:#x}, nm: {:?}",
            v.address,
            symbols.get(&symbol)
        );
    }
    let ticks: BTreeSet<u64> = s
        .static_locals
        .iter()
        .filter(|v| v.function == "tick")
        .map(|v| v.address)
        .collect();
    assert_eq!(ticks.len(), 2, "{tag}: the two tick::n are two variables");
}

#[test]
fn optimised_programs_keep_every_variable_under_its_source_name() {
    let dir = tempfile::tempdir().unwrap();
    write_sources(dir.path());
    for level in ["-O2", "-O3", "-Os", "-O1"] {
        check_program(dir.path(), &[level, "-g"]);
    }
}

#[test]
fn unoptimised_and_debug_info_less_builds_name_the_same_variables() {
    let dir = tempfile::tempdir().unwrap();
    write_sources(dir.path());
    for flags in [&["-O0", "-g"][..], &["-O0"], &["-O2"], &["-O2", "-g0"]] {
        check_program(dir.path(), flags);
    }
}

/// A unit compiled by plain clang at -O2 (a prebuilt object linked by
/// lucc) has its globals rewritten by GlobalOpt; they are listed with the
/// reason instead of vanishing or appearing under a symbol name.
#[test]
fn variables_another_compiler_optimised_away_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_sources(dir.path());
    ok(
        "clang",
        Command::new("clang-14")
            .current_dir(dir.path())
            .args(["-O2", "-g", "-c", "a.c", "-o", "a_plain.o"])
            .output()
            .expect("clang-14 runs"),
    );
    lucc(dir.path(), &["-O2", "-o", "mixed", "a_plain.o", "b.c"]);
    let bin = dir.path().join("mixed");
    let s = inspect(&bin);

    let reasons: HashMap<&str, &str> = s
        .unplaced
        .iter()
        .map(|u| (u.name.as_str(), u.reason.as_str()))
        .collect();
    assert!(reasons["blob"].contains("split"), "{reasons:?}");
    assert!(reasons["stats"].contains("split"), "{reasons:?}");
    assert!(reasons["ready"].contains("optimiser"), "{reasons:?}");
    assert!(
        reasons["per_thread"].contains("thread-local"),
        "{reasons:?}"
    );
    assert!(
        !reasons.contains_key("limit"),
        "a constant is no state: {reasons:?}"
    );

    let all: Vec<&Variable> = s.globals.iter().chain(&s.static_locals).collect();
    for v in &all {
        assert!(
            !v.name.contains('.'),
            "a symbol name, not a source name: {v:?}"
        );
    }
    // What plain clang left in place is still found, with its function.
    assert!(names(&s.static_locals).contains(&triple("a.c", "tick", "n")));
    assert!(names(&s.static_locals).contains(&triple("b.c", "tick", "n")));
    assert!(names(&s.globals).contains(&triple("a.c", "", "shared_total")));

    let text = lucc(dir.path(), &["inspect", bin.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("variables without a fixed address"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("blob ") && l.contains("split")),
        "{text}"
    );
}
