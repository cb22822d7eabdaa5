//! `lucc build` refusing what it cannot build, with messages that say where.

mod project_common;

use project_common::*;
use std::fs;

/// A project in a temporary directory: `lucc.toml` plus `src/a.c`, `lib/b.c`.
fn project(toml: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("src")).unwrap();
    fs::create_dir_all(d.path().join("lib")).unwrap();
    fs::write(d.path().join("src/a.c"), "int main(void) { return 0; }\n").unwrap();
    fs::write(d.path().join("lib/b.c"), "int b(void) { return 1; }\n").unwrap();
    fs::write(d.path().join("lucc.toml"), toml).unwrap();
    d
}

#[track_caller]
fn fails(d: &tempfile::TempDir, args: &[&str]) -> String {
    let o = build(d.path(), args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        !d.path().join("build/debug").exists(),
        "nothing is built on a manifest error"
    );
    stderr(&o)
}

#[test]
fn unknown_key_is_an_error_with_its_location() {
    let d = project(
        "[project]\nname = \"p\"\n\n[[target]]\nname = \"a\"\nkind = \"bin\"\nsources = [\"src/*.c\"]\ndefine = [\"X\"]\n",
    );
    let err = fails(&d, &[]);
    assert!(err.contains("lucc.toml"), "{err}");
    assert!(err.contains("line 8, column 1"), "{err}");
    assert!(err.contains("unknown field `define`"), "{err}");
    // toml's suggestion list names the right key.
    assert!(err.contains("`defines`"), "{err}");
}

#[test]
fn unknown_profile_key_too() {
    let d = project("[project]\nname = \"p\"\n[profile.release]\noptimize = 3\n");
    let err = fails(&d, &["--release"]);
    assert!(
        err.contains("line 4") && err.contains("unknown field `optimize`"),
        "{err}"
    );
}

#[test]
fn dependency_cycle_is_named() {
    let d = project(
        "[project]\nname = \"p\"\n\
         [[target]]\nname = \"app\"\nkind = \"bin\"\nsources = [\"src/*.c\"]\ndeps = [\"x\"]\n\
         [[target]]\nname = \"x\"\nkind = \"staticlib\"\nsources = [\"lib/*.c\"]\ndeps = [\"y\"]\n\
         [[target]]\nname = \"y\"\nkind = \"staticlib\"\nsources = [\"lib/*.c\"]\ndeps = [\"x\"]\n",
    );
    let err = fails(&d, &[]);
    assert!(
        err.contains("error: dependency cycle: x -> y -> x"),
        "{err}"
    );
}

#[test]
fn unknown_dependency_points_at_its_name() {
    let d = project(
        "[project]\nname = \"p\"\n[[target]]\nname = \"app\"\nkind = \"bin\"\nsources = [\"src/*.c\"]\ndeps = [\"nope\"]\n",
    );
    let err = fails(&d, &[]);
    assert!(
        err.contains("lucc.toml:7:9: `app` depends on unknown target `nope`"),
        "{err}"
    );
}

#[test]
fn program_as_dependency_is_refused() {
    let d = project(
        "[project]\nname = \"p\"\n\
         [[target]]\nname = \"a\"\nkind = \"bin\"\nsources = [\"src/*.c\"]\n\
         [[target]]\nname = \"b\"\nkind = \"bin\"\nsources = [\"lib/*.c\"]\ndeps = [\"a\"]\n",
    );
    assert!(fails(&d, &[]).contains("only static libraries can be dependencies"));
}

#[test]
fn pattern_matching_nothing_is_an_error() {
    let d = project(
        "[project]\nname = \"p\"\n[[target]]\nname = \"a\"\nkind = \"bin\"\nsources = [\"src/*.c\", \"srcs/*.c\"]\n",
    );
    let err = fails(&d, &[]);
    assert!(
        err.contains("lucc.toml:6:11: source pattern `srcs/*.c` matches no file"),
        "{err}"
    );
}

#[test]
fn missing_manifest_says_how_to_make_one() {
    let d = tempfile::tempdir().unwrap();
    let o = build(d.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("could not find lucc.toml in"), "{err}");
    assert!(
        err.contains("[[target]]") && err.contains("kind = \"bin\""),
        "{err}"
    );
}

#[test]
fn unknown_profile_and_bad_options() {
    let d = project("[project]\nname = \"p\"\n[[target]]\nname = \"a\"\nkind = \"bin\"\nsources = [\"src/*.c\"]\n");
    assert!(fails(&d, &["--profile", "fast"])
        .contains("no profile named `fast` (known: debug, release)"));
    let o = build(d.path(), &["-j", "zero"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("usage: lucc build"));
}
