//! `lucc build` on the `kv` fixture (a static library and a program that
//! links it), compiled by clang-14 so these tests do not depend on lucc's
//! instrumentation. Every test builds its own copy of the project.

mod project_common;

use project_common::*;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

const KV_OUTPUT: &str = "level 2\nalpha=1 beta=2 gamma=(none)\nbuckets=4 args=0\n";

fn append(path: &Path, text: &str) {
    let mut s = fs::read_to_string(path).unwrap();
    s.push_str(text);
    fs::write(path, s).unwrap();
}

fn mtime(p: &Path) -> SystemTime {
    fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn builds_library_and_program_that_runs() {
    let d = copy_fixture("kv");
    let err = ok(build(d.path(), &[]));
    assert!(err.contains("Compiling kvutil (2 files)"), "{err}");
    assert!(err.contains("Compiling kvserver (2 files)"), "{err}");
    // The library is archived before the program that needs it is linked.
    let (a, l) = (
        err.find("Archiving kvutil").unwrap(),
        err.find("Linking kvserver").unwrap(),
    );
    assert!(a < l, "{err}");
    assert!(err.contains("Finished debug in "), "{err}");
    // `src/**/*.c` reached the subdirectory.
    assert_eq!(
        compiled(&err),
        ["lib/hash.c", "lib/kv.c", "src/cli/args.c", "src/main.c"]
    );
    let dbg = d.path().join("build/debug");
    assert!(dbg.join("libkvutil.a").is_file());
    assert!(dbg.join("obj/kvserver/src/cli/args.o").is_file());
    assert!(dbg.join("obj/kvutil/lib/kv.d").is_file());
    // The define, the include path, -lm from the library: all reached the program.
    assert_eq!(run(&dbg.join("kvserver")), KV_OUTPUT);
}

#[test]
fn second_build_does_nothing() {
    let d = copy_fixture("kv");
    ok(build(d.path(), &[]));
    let prog = d.path().join("build/debug/kvserver");
    let obj = d.path().join("build/debug/obj/kvutil/lib/kv.o");
    let (p0, o0) = (mtime(&prog), mtime(&obj));
    let err = ok(build(d.path(), &[]));
    assert!(
        !err.contains("Compiling") && !err.contains("Linking") && !err.contains("Archiving"),
        "{err}"
    );
    assert!(err.contains("(up to date)"), "{err}");
    assert_eq!((mtime(&prog), mtime(&obj)), (p0, o0));
}

#[test]
fn header_change_recompiles_exactly_its_includers() {
    let d = copy_fixture("kv");
    ok(build(d.path(), &[]));
    append(&d.path().join("include/kv.h"), "/* touched */\n");
    let err = ok(build(d.path(), &[]));
    assert_eq!(compiled(&err), ["lib/kv.c", "src/main.c"], "{err}");
    assert!(
        err.contains("Compiling kvutil (1 file)") && err.contains("Linking kvserver"),
        "{err}"
    );

    append(&d.path().join("lib/hash.h"), "/* touched */\n");
    let err = ok(build(d.path(), &[]));
    assert_eq!(compiled(&err), ["lib/hash.c", "lib/kv.c"], "{err}");
    // The archive changed, so the program is relinked although none of its
    // own objects were rebuilt.
    assert!(err.contains("Linking kvserver"), "{err}");
}

#[test]
fn changed_define_recompiles_and_takes_effect() {
    let d = copy_fixture("kv");
    ok(build(d.path(), &[]));
    let toml = d.path().join("lucc.toml");
    let text = fs::read_to_string(&toml)
        .unwrap()
        .replace("GREETING_LEVEL=2", "GREETING_LEVEL=3");
    fs::write(&toml, text).unwrap();
    let err = ok(build(d.path(), &[]));
    // Only kvserver's command lines changed.
    assert_eq!(compiled(&err), ["src/cli/args.c", "src/main.c"], "{err}");
    assert!(run(&d.path().join("build/debug/kvserver")).starts_with("level 3\n"));
}

#[test]
fn deleted_object_and_older_source_edit_are_both_noticed() {
    let d = copy_fixture("kv");
    ok(build(d.path(), &[]));
    fs::remove_file(d.path().join("build/debug/obj/kvserver/src/cli/args.o")).unwrap();
    let err = ok(build(d.path(), &[]));
    assert_eq!(compiled(&err), ["src/cli/args.c"], "{err}");
    // A source whose mtime moved forward (as after a checkout) recompiles.
    let f = fs::File::options()
        .write(true)
        .open(d.path().join("lib/hash.c"))
        .unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    let err = ok(build(d.path(), &[]));
    assert_eq!(compiled(&err), ["lib/hash.c"], "{err}");
}

#[test]
fn compile_error_names_the_file_keeps_going_and_fails() {
    let d = copy_fixture("kv");
    fs::write(
        d.path().join("src/broken.c"),
        "int broken(void) { return 1 +; }\n",
    )
    .unwrap();
    let o = build(d.path(), &["-j", "1"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("error: failed to compile src/broken.c\n"),
        "{err}"
    );
    // clang's own message, verbatim, with its file:line:col.
    assert!(
        err.contains("src/broken.c:1:30: error: expected expression"),
        "{err}"
    );
    // The other files were still compiled and the independent library built.
    assert_eq!(compiled(&err).len(), 5, "{err}");
    assert!(d.path().join("build/debug/libkvutil.a").is_file());
    assert!(!d.path().join("build/debug/kvserver").exists());
    assert!(
        err.contains("could not build kvserver (1 file failed to compile)"),
        "{err}"
    );

    // Fixed, only the broken file is compiled again.
    fs::remove_file(d.path().join("src/broken.c")).unwrap();
    fs::write(
        d.path().join("src/broken.c"),
        "int broken(void) { return 1; }\n",
    )
    .unwrap();
    let err = ok(build(d.path(), &[]));
    assert_eq!(compiled(&err), ["src/broken.c"], "{err}");
}

#[test]
fn failed_library_skips_the_program_that_links_it() {
    let d = copy_fixture("kv");
    fs::write(d.path().join("lib/oops.c"), "this is not C\n").unwrap();
    let o = build(d.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("error: failed to compile lib/oops.c"), "{err}");
    assert!(
        err.contains("kvserver (not linked: `kvutil` failed)"),
        "{err}"
    );
    // Independent files of the program were compiled anyway.
    assert!(compiled(&err).contains(&"src/main.c".to_string()), "{err}");
}

#[test]
fn one_and_two_jobs_build_the_same_thing() {
    let d = copy_fixture("kv");
    let objects = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = walkdir::WalkDir::new(d.join("build/debug/obj"))
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.path().extension().is_some_and(|x| x == "o"))
            .map(|e| (e.path().display().to_string(), fs::read(e.path()).unwrap()))
            .collect();
        v.sort();
        v
    };
    ok(build(d.path(), &["-j", "1"]));
    let one = objects(d.path());
    let out1 = run(&d.path().join("build/debug/kvserver"));
    ok(build(d.path(), &["--clean"]));
    assert!(!d.path().join("build/debug").exists());
    ok(build(d.path(), &["-j2"]));
    assert_eq!(one.len(), 4);
    assert!(
        one == objects(d.path()),
        "objects differ between -j1 and -j2"
    );
    assert_eq!(out1, run(&d.path().join("build/debug/kvserver")));
    assert_eq!(out1, KV_OUTPUT);
}

#[test]
fn release_profile_has_its_own_directory_and_flags() {
    let d = copy_fixture("kv");
    ok(build(d.path(), &[]));
    let err = ok(build(d.path(), &["--release", "--verbose"]));
    assert!(err.contains("Finished release"), "{err}");
    // [profile.release] in the fixture: -O2 and its cflags, no -g.
    let main = err
        .lines()
        .find(|l| l.starts_with("clang-14 -c src/main.c"))
        .expect("command printed");
    assert!(
        main.contains(" -O2 ") && main.contains(" -DNDEBUG") && !main.contains(" -g "),
        "{main}"
    );
    assert_eq!(run(&d.path().join("build/release/kvserver")), KV_OUTPUT);
    // The debug build was left alone and is still fresh.
    assert!(ok(build(d.path(), &[])).contains("(up to date)"));
}

#[test]
fn named_target_builds_it_and_its_dependencies_only() {
    let d = copy_fixture("kv");
    let err = ok(build(d.path(), &["kvutil"]));
    assert_eq!(compiled(&err), ["lib/hash.c", "lib/kv.c"], "{err}");
    assert!(!d.path().join("build/debug/kvserver").exists());
    let o = build(d.path(), &["kvclient"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o)
        .contains("project `kv` has no target named `kvclient` (targets: kvutil, kvserver)"));
}

#[test]
fn found_from_a_subdirectory() {
    let d = copy_fixture("kv");
    ok(build(&d.path().join("src/cli"), &[]));
    assert!(d.path().join("build/debug/kvserver").is_file());
    assert!(!d.path().join("src/cli/build").exists());
}

#[test]
fn exclude_and_same_named_files_in_one_library() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    for (path, text) in [
        ("lib/a/x.c", "int fa(void) { return 40; }\n"),
        ("lib/b/x.c", "int fb(void) { return 2; }\n"),
        ("lib/wip.c", "not C yet\n"),
        (
            "main.c",
            "#include <stdio.h>\nint fa(void); int fb(void);\nint main(void) { printf(\"%d\\n\", fa() + fb()); return 0; }\n",
        ),
        (
            "lucc.toml",
            "[project]\nname = \"p\"\n\
             [[target]]\nname = \"x\"\nkind = \"staticlib\"\nsources = [\"lib/**/*.c\"]\nexclude = [\"lib/wip.c\"]\n\
             [[target]]\nname = \"main\"\nkind = \"bin\"\nsources = [\"main.c\"]\ndeps = [\"x\"]\n",
        ),
    ] {
        fs::create_dir_all(p.join(path).parent().unwrap()).unwrap();
        fs::write(p.join(path), text).unwrap();
    }
    let err = ok(build(p, &[]));
    assert_eq!(
        compiled(&err),
        ["lib/a/x.c", "lib/b/x.c", "main.c"],
        "{err}"
    );
    // Both `x.o` members made it into the archive.
    assert_eq!(run(&p.join("build/debug/main")), "42\n");
}

#[test]
fn a_new_compiler_build_recompiles_everything() {
    let d = copy_fixture("kv");
    let cc = d.path().join("cc.sh");
    fs::write(&cc, "#!/bin/sh\nexec clang-14 \"$@\"\n").unwrap();
    let mut perms = fs::metadata(&cc).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&cc, perms).unwrap();
    let cc = cc.to_str().unwrap();
    ok(build_with(d.path(), Some(cc), &[]));
    assert!(ok(build_with(d.path(), Some(cc), &[])).contains("(up to date)"));
    // Same path, same command lines, but the compiler itself was replaced.
    fs::write(cc, "#!/bin/sh\n# upgraded\nexec clang-14 \"$@\"\n").unwrap();
    let err = ok(build_with(d.path(), Some(cc), &[]));
    assert_eq!(compiled(&err).len(), 4, "{err}");
}
