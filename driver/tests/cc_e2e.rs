//! The real `lucc` binary as a C compiler, against real clang 14.
//!
//! Builds that link a program need lucc's passes and runtime archive
//! (`liblucc_rt.a`, taken from LUCC_RUNTIME or built beside `lucc` with
//! `cargo build -p lucc-rt`). Most run with LUCC_NO_SIDECAR=1, so that a
//! sidecar problem shows up in the sidecar tests, named; the CMake and
//! configure builds run as a user would, sidecars and all.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const LUCC: &str = env!("CARGO_BIN_EXE_lucc");

fn clang() -> &'static str {
    "clang-14"
}

/// The runtime archive, built once if it is not there yet.
fn runtime() -> PathBuf {
    static RT: OnceLock<PathBuf> = OnceLock::new();
    RT.get_or_init(|| {
        if let Some(rt) = std::env::var_os("LUCC_RUNTIME") {
            return PathBuf::from(rt);
        }
        let rt = Path::new(LUCC).parent().unwrap().join("liblucc_rt.a");
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "lucc-rt"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success() && rt.is_file(), "cannot build {}", rt.display());
        rt
    })
    .clone()
}

/// `lucc` in `dir`, with a clean lucc environment.
fn lucc(dir: &Path) -> Command {
    let mut c = Command::new(LUCC);
    c.current_dir(dir);
    for k in ["LUCC_FALLBACK", "LUCC_DISABLE", "LUCC_LOG", "LUCC_CLANG", "LUCC_RUNTIME"] {
        c.env_remove(k);
    }
    c.env("LUCC_NO_SIDECAR", "1");
    c
}

fn linking_lucc(dir: &Path) -> Command {
    let mut c = lucc(dir);
    c.env("LUCC_RUNTIME", runtime());
    c
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn run(c: &mut Command) -> Output {
    c.output().expect("spawn")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small program over three files that allocates, frees and uses a
/// header from an include directory.
fn write_program(dir: &Path) {
    std::fs::create_dir_all(dir.join("include")).unwrap();
    std::fs::write(
        dir.join("include/list.h"),
        "struct node { int value; struct node *next; };\n\
         struct node *push(struct node *head, int v);\n\
         int sum(const struct node *n);\n\
         void drop(struct node *n);\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("list.c"),
        "#include <stdlib.h>\n#include \"list.h\"\n\
         struct node *push(struct node *head, int v) {\n\
           struct node *n = malloc(sizeof *n);\n\
           n->value = v; n->next = head; return n;\n}\n\
         int sum(const struct node *n) { int s = 0; for (; n; n = n->next) s += n->value; return s; }\n\
         void drop(struct node *n) { while (n) { struct node *next = n->next; free(n); n = next; } }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("util.c"),
        "#include <string.h>\n#include <stdlib.h>\n\
         char *dup_upper(const char *s) { char *d = strdup(s); for (char *p = d; *p; p++) if (*p >= 'a' && *p <= 'z') *p -= 32; return d; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("main.c"),
        "#include <stdio.h>\n#include <stdlib.h>\n#include \"list.h\"\n\
         char *dup_upper(const char *s);\n\
         int main(void) {\n\
           struct node *l = 0;\n\
           for (int i = 1; i <= 10; i++) l = push(l, i);\n\
           char *w = dup_upper(\"lucc\");\n\
           printf(\"%s %d\\n\", w, sum(l));\n\
           free(w); drop(l); return 0;\n}\n",
    )
    .unwrap();
}

/// The type-map fragments the pass left in an object or program.
fn fragments(path: &Path) -> Vec<lucc_abi::fragment::Fragment> {
    use object::{Object, ObjectSection};
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let Some(section) = file.section_by_name(lucc_abi::symbols::FRAGMENT_SECTION) else {
        return Vec::new();
    };
    lucc_abi::fragment::decode_all(&section.uncompressed_data().unwrap()).unwrap()
}

fn run_program(path: &Path) -> String {
    let out = ok(Command::new(path).output().expect("program runs"));
    stdout(&out)
}

// --- needs the passes and the runtime ---

#[test]
fn separate_compile_then_link_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_program(d);
    std::fs::create_dir(d.join("obj")).unwrap();
    for (src, obj) in [("main.c", "obj/main.o"), ("list.c", "obj/list.o")] {
        ok(run(linking_lucc(d).args(["-c", "-O2", "-Wall", "-Iinclude", src, "-o", obj])));
    }
    // no -o: cc names the object after the source, in the current directory
    ok(run(linking_lucc(d).args(["-c", "-O2", "util.c"])));
    assert!(d.join("util.o").is_file());
    // the pass ran on each unit, named by its absolute source path
    let list = fragments(&d.join("obj/list.o"));
    assert_eq!(list.len(), 1);
    assert_eq!(Path::new(&list[0].source), d.join("list.c"));
    assert!(list[0].sites.iter().any(|s| s.callee == "malloc"), "{:?}", list[0].sites);
    ok(run(linking_lucc(d).args(["obj/main.o", "obj/list.o", "util.o", "-o", "prog"])));
    assert_eq!(run_program(&d.join("prog")), "LUCC 55\n");
    // the link keeps every unit's fragment
    let mut sources: Vec<String> = fragments(&d.join("prog")).into_iter().map(|f| f.source).collect();
    sources.sort();
    let expect: Vec<String> = ["list.c", "main.c", "util.c"].iter().map(|f| d.join(f).display().to_string()).collect();
    assert_eq!(sources, expect);
}

#[test]
fn one_command_build_runs_at_every_level() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_program(d);
    for level in ["-O0", "-O1", "-O2", "-O3", "-Os"] {
        ok(run(linking_lucc(d).args([level, "-Iinclude", "main.c", "list.c", "util.c"])));
        assert_eq!(run_program(&d.join("a.out")), "LUCC 55\n", "{level}");
    }
}

#[test]
fn autoconf_style_probes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("conftest.c"), "#include <stdio.h>\nint main(void) { return 0; }\n").unwrap();
    // "checking whether the C compiler works", "for suffix of executables"
    ok(run(linking_lucc(d).args(["-g", "-O2", "conftest.c", "-o", "conftest"])));
    ok(Command::new(d.join("conftest")).output().unwrap());
    // "for suffix of object files"
    ok(run(linking_lucc(d).args(["-c", "-g", "-O2", "conftest.c", "-o", "conftest.o"])));
    assert!(d.join("conftest.o").is_file());
    // "how to run the C preprocessor"
    let pre = ok(run(lucc(d).args(["-E", "conftest.c"])));
    assert!(stdout(&pre).contains("int main(void)"));
    // "checking for C compiler version"
    let v = ok(run(lucc(d).arg("-v")));
    assert!(stderr(&v).contains("clang version 14"), "{}", stderr(&v));
    // a failing header check must fail
    std::fs::write(d.join("conftest2.c"), "#include <no_such_header.h>\n").unwrap();
    assert!(!run(lucc(d).args(["-c", "conftest2.c"])).status.success());
}

#[test]
fn generated_configure_script_works() {
    if Command::new("autoconf").arg("--version").output().is_err() {
        eprintln!("autoconf is not installed; skipped the generated-configure check");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("configure.ac"),
        "AC_INIT([probe], [1.0])\nAC_PROG_CC\nAC_CHECK_HEADERS([stdlib.h sys/epoll.h])\n\
         AC_CHECK_FUNCS([malloc strdup])\nAC_CHECK_SIZEOF([long])\nAC_CONFIG_HEADERS([config.h])\nAC_OUTPUT\n",
    )
    .unwrap();
    ok(Command::new("autoconf").current_dir(d).output().unwrap());
    ok(Command::new("autoheader").current_dir(d).output().unwrap());
    let conf = run(Command::new("./configure")
        .current_dir(d)
        .env("CC", LUCC)
        .env("LUCC_RUNTIME", runtime()));
    let log = std::fs::read_to_string(d.join("config.log")).unwrap_or_default();
    assert!(conf.status.success(), "configure failed:\n{}\n{log}", stderr(&conf));
    let h = std::fs::read_to_string(d.join("config.h")).unwrap();
    for define in ["#define HAVE_STDLIB_H 1", "#define HAVE_SYS_EPOLL_H 1", "#define HAVE_STRDUP 1", "#define SIZEOF_LONG 8"] {
        assert!(h.contains(define), "{define} missing from config.h:\n{h}");
    }
}

#[test]
fn cmake_project_identifies_clang_and_builds() {
    if Command::new("cmake").arg("--version").output().is_err() {
        eprintln!("cmake is not installed; skipped the CMake check");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_program(d);
    std::fs::write(
        d.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.13)\nproject(probe C)\n\
         add_library(list STATIC list.c util.c)\ntarget_include_directories(list PUBLIC include)\n\
         add_executable(prog main.c)\ntarget_link_libraries(prog list)\n",
    )
    .unwrap();
    let build = d.join("build");
    let conf = ok(run(Command::new("cmake")
        .args(["-S", ".", "-B", "build", "-DCMAKE_BUILD_TYPE=Release"])
        .current_dir(d)
        .env("CC", LUCC)
        .env("LUCC_RUNTIME", runtime())));
    assert!(stdout(&conf).contains("The C compiler identification is Clang 14"), "{}", stdout(&conf));
    ok(run(Command::new("cmake")
        .args(["--build", "build"])
        .current_dir(d)
        .env("LUCC_RUNTIME", runtime())));
    assert_eq!(run_program(&build.join("prog")), "LUCC 55\n");
    assert!(build.join("prog.lumap").is_file());
}

#[test]
fn a_linked_program_gets_its_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_program(d);
    ok(run(linking_lucc(d).env_remove("LUCC_NO_SIDECAR").args(["-Iinclude", "main.c", "list.c", "util.c", "-o", "prog"])));
    assert!(d.join("prog.lumap").is_file(), "linked without a sidecar");
    // a library gets none: the program that loads it carries the map
    ok(run(linking_lucc(d).env_remove("LUCC_NO_SIDECAR").args(["-shared", "-fPIC", "-Iinclude", "list.c", "-o", "liblist.so"])));
    assert!(!d.join("liblist.lumap").exists() && !d.join("liblist.so.lumap").exists());
}

#[test]
fn a_program_whose_sidecar_cannot_be_written_is_not_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_program(d);
    // a directory where the sidecar file should go makes writing it fail
    std::fs::create_dir(d.join("prog.lumap")).unwrap();
    let out = run(linking_lucc(d).env_remove("LUCC_NO_SIDECAR").args(["-Iinclude", "main.c", "list.c", "util.c", "-o", "prog"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot write the sidecar for prog"), "{}", stderr(&out));
    assert!(!d.join("prog").exists(), "a program that cannot be updated was left behind");
}

// --- needs only clang ---

#[test]
fn broken_c_gives_clangs_diagnostic_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("bad.c"), "int main(void) {\n  return undeclared + ;\n}\n").unwrap();
    let ours = run(lucc(d).args(["-c", "bad.c"]));
    let theirs = run(Command::new(clang()).args(["-c", "bad.c"]).current_dir(d));
    assert!(!ours.status.success());
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(stderr(&ours), stderr(&theirs));
    assert!(stderr(&ours).contains("error: use of undeclared identifier 'undeclared'"));
    assert!(!d.join("bad.o").exists());
    // and the same when linking in one command
    let ours = run(lucc(d).args(["bad.c", "-o", "bad"]));
    assert!(!ours.status.success() && stderr(&ours).contains("undeclared identifier"));
    assert!(!d.join("bad").exists());
}

#[test]
fn diagnostics_of_several_files_arrive_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, n) in [("one.c", 1), ("two.c", 2), ("three.c", 3)] {
        let body: String = (0..n).map(|i| format!("int f{i}(void) {{ return missing{i}; }}\n")).collect();
        std::fs::write(d.join(name), format!("#warning file {name}\n{body}")).unwrap();
    }
    let args = ["-c", "one.c", "two.c", "three.c"];
    let ours = run(lucc(d).args(args));
    let theirs = run(Command::new(clang()).args(args).current_dir(d));
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(stderr(&ours), stderr(&theirs));
}

#[test]
fn preprocessing_output_equals_clangs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_program(d);
    let args = ["-E", "-Iinclude", "-DLEVEL=3", "main.c"];
    let ours = ok(run(lucc(d).args(args)));
    let theirs = ok(run(Command::new(clang()).args(args).current_dir(d)));
    assert_eq!(ours.stdout, theirs.stdout);
    assert!(stdout(&ours).contains("struct node"));
}

#[test]
fn version_questions_are_clangs() {
    let dir = tempfile::tempdir().unwrap();
    let v = ok(run(lucc(dir.path()).arg("--version")));
    let first = stdout(&v).lines().next().unwrap_or("").to_string();
    assert!(first.contains("clang version 14"), "first line must stay clang's: {first}");
    assert!(stdout(&v).contains("lucc"));
    for q in ["-dumpversion", "-dumpmachine", "-print-search-dirs"] {
        let ours = ok(run(lucc(dir.path()).arg(q)));
        let theirs = ok(run(Command::new(clang()).arg(q)));
        assert_eq!(ours.stdout, theirs.stdout, "{q}");
    }
}

#[test]
fn dependency_files_name_the_real_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_program(d);
    std::fs::create_dir(d.join("obj")).unwrap();
    // the dependency file is the frontend's; a TU the pass rejects must not hide it
    let c = |cmd: &mut Command| {
        cmd.env("LUCC_FALLBACK", "1");
        ok(run(cmd));
    };
    c(lucc(d).args(["-c", "-MMD", "-MP", "-Iinclude", "list.c", "-o", "obj/list.o"]));
    let dep = std::fs::read_to_string(d.join("obj/list.d")).unwrap();
    assert!(dep.starts_with("obj/list.o: list.c include/list.h"), "{dep}");
    assert!(dep.contains("\ninclude/list.h:"), "-MP adds phony targets: {dep}");
    assert!(!dep.contains(".bc"), "temporary names leaked: {dep}");

    c(lucc(d).args(["-c", "-MD", "-Iinclude", "main.c"]));
    let dep = std::fs::read_to_string(d.join("main.d")).unwrap();
    assert!(dep.starts_with("main.o: main.c"), "{dep}");
    assert!(dep.contains("stdio.h"), "-MD lists system headers: {dep}");

    c(lucc(d).args(["-c", "-MMD", "-MF", "deps.mk", "-MT", "custom", "-Iinclude", "util.c"]));
    let dep = std::fs::read_to_string(d.join("deps.mk")).unwrap();
    assert!(dep.starts_with("custom: util.c"), "{dep}");
}

#[test]
fn response_files_are_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_program(d);
    std::fs::write(d.join("args.rsp"), "-c -Iinclude\n'list.c' -o \"list obj.o\"\n").unwrap();
    ok(run(lucc(d).env("LUCC_FALLBACK", "1").arg("@args.rsp")));
    assert!(d.join("list obj.o").is_file());
}

#[test]
fn shared_libraries_resolve_the_runtime_from_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // a stand-in runtime, so this checks the link contract alone
    std::fs::write(d.join("rt.c"), "int __lucc_probe(void) { return 7; }\n").unwrap();
    std::fs::write(d.join("lib.c"), "int __lucc_probe(void);\nint from_lib(void) { return __lucc_probe() * 6; }\n").unwrap();
    std::fs::write(d.join("main.c"), "int from_lib(void);\nint main(void) { return from_lib() == 42 ? 0 : 1; }\n").unwrap();
    for src in ["rt.c", "lib.c", "main.c"] {
        ok(run(Command::new(clang()).args(["-c", "-fPIC", src]).current_dir(d)));
    }
    ok(run(Command::new("ar").args(["rcs", "librt.a", "rt.o"]).current_dir(d)));
    let rt = d.join("librt.a");
    // the library carries no runtime of its own ...
    ok(run(lucc(d).env("LUCC_RUNTIME", &rt).args(["-shared", "lib.o", "-o", "libx.so"])));
    let syms = ok(run(Command::new("nm").args(["-D", "--defined-only", "libx.so"]).current_dir(d)));
    assert!(!stdout(&syms).contains("__lucc_probe"), "{}", stdout(&syms));
    // ... and the program exports its runtime's entry points to it
    ok(run(lucc(d).env("LUCC_RUNTIME", &rt).args(["main.o", "-L.", "-lx", "-o", "prog"])));
    let syms = ok(run(Command::new("nm").args(["-D", "--defined-only", "prog"]).current_dir(d)));
    assert!(stdout(&syms).contains("__lucc_probe"), "{}", stdout(&syms));
    ok(run(Command::new(d.join("prog")).env("LD_LIBRARY_PATH", d)));
}

#[test]
fn disabled_lucc_is_plain_clang() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_program(d);
    // no runtime anywhere: a plain build must not need it
    ok(run(lucc(d)
        .env("LUCC_DISABLE", "1")
        .env("LUCC_RUNTIME", "/nonexistent/liblucc_rt.a")
        .env_remove("LUCC_NO_SIDECAR")
        .args(["-Iinclude", "main.c", "list.c", "util.c", "-o", "plain"])));
    assert_eq!(run_program(&d.join("plain")), "LUCC 55\n");
}

#[test]
fn assembly_and_objects_mix_with_c() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("answer.s"), ".globl answer\n.type answer,@function\nanswer:\n  movl $42, %eax\n  ret\n").unwrap();
    std::fs::write(d.join("main.c"), "#include <stdio.h>\nint answer(void);\nint main(void) { printf(\"%d\\n\", answer()); return 0; }\n").unwrap();
    ok(run(lucc(d).args(["-c", "answer.s"])));
    assert!(d.join("answer.o").is_file());
    ok(run(linking_lucc(d).args(["main.c", "answer.o", "-o", "p1"])));
    assert_eq!(run_program(&d.join("p1")), "42\n");
    ok(run(linking_lucc(d).args(["main.c", "answer.s", "-o", "p2"])));
    assert_eq!(run_program(&d.join("p2")), "42\n");
}
