//! Golden tests of the passes: every `tests/golden/*.c` case states in its
//! header comments what must hold after instrumentation, and is checked at
//! -O0 and at -O2 (both with LLVM's passes disabled, as the driver runs
//! them). Directives:
//!
//! - `CHECK-SITE: FUNCTION CALLEE TYPE` / `CHECK-RETAG: ...`: a direct
//!   (libc allocator) / retag (possible wrapper) site with that type, where
//!   TYPE is `Record(name)`, `Union(name)`, `Int(bits)`, `Float(bits)`,
//!   `Pointer`, `FunctionPointer` or `Untyped`;
//! - `CHECK-SITES: N`, `CHECK-WRAPPERS: N`: exact counts;
//! - `CHECK-WRAPPER: NAME INNER OFFSET`;
//! - `CHECK-SKIPPED: TEXT`: some skipped entry mentions TEXT;
//! - `CHECK-IR: TEXT` / `CHECK-NOT-IR: TEXT`: in the disassembled output;
//! - `CHECK-RUN: LINE`: the program, linked with a shim runtime
//!   (`support/runtime_shim.c`) and any `LINK-WITH: FILE`, exits 0 and
//!   prints these lines;
//! - `FLAGS: ...`: extra clang flags for this case.
//!
//! `LUCC_GOLDEN_DUMP=DIR` keeps each case's instrumented IR in DIR.
//!
//! Every site's id must also appear as the `i32` site argument in the IR,
//! and with debug information every site has its source position.

use std::path::{Path, PathBuf};
use std::process::Command;

use lucc_abi::fragment::{self, Fragment, SiteType};
use lucc_passes::{instrument_bitcode_file, PassOptions};

const CLANG: &str = "clang-14";
const LLVM_DIS: &str = "/usr/lib/llvm-14/bin/llvm-dis";

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn type_text(t: &SiteType) -> String {
    match t {
        SiteType::Untyped => "Untyped".into(),
        SiteType::Record { name, union: false } => format!("Record({name})"),
        SiteType::Record { name, union: true } => format!("Union({name})"),
        SiteType::Int { bits } => format!("Int({bits})"),
        SiteType::Float { bits } => format!("Float({bits})"),
        SiteType::Pointer => "Pointer".into(),
        SiteType::FunctionPointer => "FunctionPointer".into(),
    }
}

fn run(cmd: &mut Command) -> Result<std::process::Output, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out)
}

/// Compiles and instruments one case; returns the fragment, the IR text
/// and the instrumented bitcode's path.
fn instrument(case: &Path, opt: &str, dir: &Path) -> Result<(Fragment, String, PathBuf), String> {
    let bc = dir.join("in.bc");
    let out_bc = dir.join("out.bc");
    let src = std::fs::read_to_string(case).unwrap();
    let extra: Vec<&str> = src
        .lines()
        .filter_map(|l| l.strip_prefix("// FLAGS: "))
        .flat_map(str::split_whitespace)
        .collect();
    run(Command::new(CLANG)
        .args([opt, "-g", "-Xclang", "-disable-llvm-passes", "-emit-llvm", "-c"])
        .args(&extra)
        .arg(case)
        .arg("-o")
        .arg(&bc))?;
    let opts = PassOptions { source: case.to_string_lossy().into_owned() };
    let frag = instrument_bitcode_file(&bc, &out_bc, &opts).map_err(|e| format!("{e:#}"))?;
    let ir = run(Command::new(LLVM_DIS).arg(&out_bc).arg("-o").arg("-"))?;
    Ok((frag, String::from_utf8_lossy(&ir.stdout).into_owned(), out_bc))
}

fn check_case(case: &Path, opt: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let (frag, ir, out_bc) = match instrument(case, opt, dir.path()) {
        Ok(x) => x,
        Err(e) => return vec![e],
    };
    // LUCC_GOLDEN_DUMP=DIR keeps every case's instrumented IR for reading.
    if let Some(d) = std::env::var_os("LUCC_GOLDEN_DUMP") {
        let stem = case.file_stem().unwrap().to_string_lossy();
        std::fs::write(Path::new(&d).join(format!("{stem}{opt}.ll")), &ir).unwrap();
    }
    let src = std::fs::read_to_string(case).unwrap();
    let mut errors = Vec::new();
    let mut expected_run: Vec<&str> = Vec::new();
    let mut link_with = Vec::new();
    let sites: Vec<(bool, String)> = frag
        .sites
        .iter()
        .map(|s| (s.direct, format!("{} {} {}", s.function, s.callee, type_text(&s.ty))))
        .collect();
    let mut directives = 0;
    for line in src.lines() {
        let Some(d) = line.strip_prefix("// ") else { continue };
        let Some((key, arg)) = d.split_once(": ") else { continue };
        let arg = arg.trim();
        directives += 1;
        match key {
            "CHECK-SITE" | "CHECK-RETAG" => {
                let direct = key == "CHECK-SITE";
                if !sites.contains(&(direct, arg.to_string())) {
                    errors.push(format!("no {key} `{arg}` among {sites:?}"));
                }
            }
            "CHECK-SITES" => {
                if frag.sites.len().to_string() != arg {
                    errors.push(format!("{} sites, expected {arg}: {sites:?}", frag.sites.len()));
                }
            }
            "CHECK-WRAPPERS" => {
                if frag.wrappers.len().to_string() != arg {
                    errors.push(format!("{} wrappers, expected {arg}: {:?}", frag.wrappers.len(), frag.wrappers));
                }
            }
            "CHECK-WRAPPER" => {
                let found = frag.wrappers.iter().any(|w| format!("{} {} {}", w.name, w.inner, w.offset) == arg);
                if !found {
                    errors.push(format!("no wrapper `{arg}` among {:?}", frag.wrappers));
                }
            }
            "CHECK-SKIPPED" => {
                if !frag.skipped.iter().any(|n| n.contains(arg)) {
                    errors.push(format!("nothing skipped mentions `{arg}`: {:?}", frag.skipped));
                }
            }
            "CHECK-IR" => {
                if !ir.contains(arg) {
                    errors.push(format!("IR lacks `{arg}`"));
                }
            }
            "CHECK-NOT-IR" => {
                if ir.contains(arg) {
                    errors.push(format!("IR contains `{arg}`"));
                }
            }
            "CHECK-RUN" => expected_run.push(arg),
            "LINK-WITH" => link_with.push(tests_dir().join(arg)),
            "FLAGS" => {}
            other if other.starts_with("CHECK") => errors.push(format!("unknown directive {other}")),
            _ => directives -= 1,
        }
    }
    if directives == 0 {
        errors.push("the case states nothing to check".into());
    }
    let debug_info = !src.contains("// FLAGS: -g0");
    for s in &frag.sites {
        if debug_info && (s.line == 0 || s.file != case.to_string_lossy()) {
            errors.push(format!("site of {} in {} lacks its position: {}:{}", s.callee, s.function, s.file, s.line));
        }
        if !ir.contains(&format!("i32 {})", s.id as i32)) {
            errors.push(format!("site {} ({} in {}) is not passed in the IR", s.id, s.callee, s.function));
        }
    }
    if !expected_run.is_empty() {
        let exe = dir.path().join("prog");
        let built = run(Command::new(CLANG)
            .arg(&out_bc)
            .arg(tests_dir().join("support/runtime_shim.c"))
            .args(&link_with)
            .arg("-o")
            .arg(&exe));
        match built.and_then(|_| run(&mut Command::new(&exe))) {
            Ok(out) => {
                let got = String::from_utf8_lossy(&out.stdout);
                let got: Vec<&str> = got.lines().collect();
                if got != expected_run {
                    errors.push(format!("program printed {got:?}, expected {expected_run:?}"));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    errors
}

#[test]
fn golden_cases() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(tests_dir().join("golden"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "golden cases are missing");
    // Cases are independent; checking them on several threads also runs
    // the passes concurrently, as the driver does.
    let jobs: Vec<(&PathBuf, &str)> = cases.iter().flat_map(|c| [(c, "-O0"), (c, "-O2")]).collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut failures: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut failed = Vec::new();
                    while let Some(&(case, opt)) = jobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                        let name = case.file_name().unwrap().to_string_lossy().into_owned();
                        failed.extend(check_case(case, opt).into_iter().map(|e| format!("{name} {opt}: {e}")));
                    }
                    failed
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    failures.sort();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// The fragment in the object file's section is exactly the one returned.
#[test]
fn object_section_decodes_to_the_returned_fragment() {
    let case = tests_dir().join("golden/size_header_wrapper.c");
    let dir = tempfile::tempdir().unwrap();
    let (frag, _, out_bc) = instrument(&case, "-O0", dir.path()).unwrap();
    let obj = dir.path().join("out.o");
    run(Command::new(CLANG).args(["-O2", "-c"]).arg(&out_bc).arg("-o").arg(&obj)).unwrap();
    let bytes = std::fs::read(&obj).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    use object::{Object, ObjectSection};
    let section = file.section_by_name(lucc_abi::symbols::FRAGMENT_SECTION).expect("fragment section");
    let decoded = fragment::decode_all(section.data().unwrap()).unwrap();
    assert_eq!(decoded, vec![frag]);
}

/// Several threads instrument at once, each in its own LLVM context.
#[test]
fn concurrent_calls_agree() {
    let case = tests_dir().join("golden/wrapper_of_wrapper.c");
    let results: Vec<Fragment> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let dir = tempfile::tempdir().unwrap();
                    instrument(&case, "-O0", dir.path()).unwrap().0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(results[0].wrappers.len(), 3);
}

/// Instrumented bitcode is refused, not instrumented a second time.
#[test]
fn instrumenting_twice_is_refused() {
    let case = tests_dir().join("golden/malloc_struct.c");
    let dir = tempfile::tempdir().unwrap();
    let (_, _, out_bc) = instrument(&case, "-O0", dir.path()).unwrap();
    let opts = PassOptions { source: case.to_string_lossy().into_owned() };
    let err = instrument_bitcode_file(&out_bc, &dir.path().join("again.bc"), &opts).unwrap_err();
    assert!(format!("{err:#}").contains("already instrumented"), "{err:#}");
}

/// Tracing is per site along its uses, not a rescan of the function per
/// site: 2000 sites in one function take about half a second in a debug
/// build, far inside the bound (a quadratic trace took over a minute).
#[test]
fn many_sites_in_one_function_stay_fast() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("many.c");
    let mut src = String::from("#include <stdlib.h>\nstruct n { int v; };\nint main(void) {\n long s = 0;\n");
    for i in 0..2000 {
        src += &format!(" struct n *p{i} = malloc(sizeof *p{i}); p{i}->v = {i}; s += p{i}->v; free(p{i});\n");
    }
    src += " return (int)(s & 1);\n}\n";
    std::fs::write(&case, src).unwrap();
    let started = std::time::Instant::now();
    let (frag, _, _) = instrument(&case, "-O0", dir.path()).unwrap();
    assert_eq!(frag.sites.len(), 2000);
    assert!(frag.sites.iter().all(|s| s.ty == SiteType::Record { name: "n".into(), union: false }));
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
}
