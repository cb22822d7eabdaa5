//! The clang command lines of lucc's pipeline, built from an [`Invocation`].
//!
//! Each user flag goes to the steps its [`Category`] names:
//!
//! | step | gets |
//! | --- | --- |
//! | frontend (C to bitcode, LLVM passes off) | preprocessing, language, warnings, debug, codegen, target, unknown flags; dependency flags |
//! | backend (instrumented bitcode to object) | optimisation level, codegen, debug, warnings, assembler, target |
//! | link | link, codegen, optimisation, debug, warnings, target, unknown flags, in the user's order with the inputs |
//!
//! `-g0` is dropped: lucc reads layouts from DWARF, so every object carries
//! it. (Stripping at link time, `-s`, is still passed on, and leaves the
//! sidecar without types; stripping after the link keeps them.)

use std::path::Path;

use super::flags::{Category, Matched};
use super::invocation::{Input, InputKind, Invocation, Item};
use super::runner::Cmd;
use super::toolchain::Toolchain;
pub use lucc_passes::EmitOptions;

use Category::*;

/// Libraries the runtime archive needs.
pub const RUNTIME_LIBS: &[&str] = &["-lpthread", "-ldl", "-lm", "-lrt"];

fn is_g0(f: &Matched) -> bool {
    f.category == Debug && f.words[0] == "-g0"
}

fn push_flags(args: &mut Vec<String>, inv: &Invocation, cats: &[Category]) {
    for f in inv.flags() {
        if cats.contains(&f.category) && !is_g0(f) {
            args.extend(f.words.iter().cloned());
        }
    }
}

fn opt_word(inv: &Invocation) -> String {
    inv.opt.clone().unwrap_or_else(|| "-O0".to_string())
}

/// Step (a): C source to unoptimised bitcode, at the user's `-O` level (so
/// clang's frontend emits what that level needs: TBAA, lifetimes) but with
/// LLVM's passes off. Dependency files are written here, named and
/// targeted as cc would name them for the user's real output.
pub fn frontend(tc: &Toolchain, inv: &Invocation, input: &Input, bitcode: &Path) -> Cmd {
    let mut args = Vec::new();
    push_flags(&mut args, inv, &[Preprocess, Language, Frontend, Warning, Debug, Codegen, Target, Verbose, Unknown]);
    if let Some(inc) = &tc.include {
        args.push(format!("-I{}", inc.display()));
    }
    // Lets a source that also builds with plain cc use lucc.h only here.
    args.push("-D__LUCC__=1".into());
    args.extend([opt_word(inv), "-Xclang".into(), "-disable-llvm-passes".into(), "-g".into()]);
    args.extend(["-emit-llvm".into(), "-c".into()]);
    if inv.dep_file {
        push_flags(&mut args, inv, &[DepFile]);
        if inv.dep_mf.is_none() {
            args.extend(["-MF".into(), inv.dep_file_name(input)]);
        }
        if !inv.dep_target_given {
            args.extend(["-MQ".into(), inv.dep_target(input)]);
        }
    }
    if let Some(lang) = &input.lang {
        args.extend(["-x".into(), lang.clone()]);
    }
    args.extend([input.path.clone(), "-o".into(), bitcode.display().to_string()]);
    Cmd { program: tc.clang.clone(), args }
}

/// Step (c): instrumented bitcode to an object at the user's level.
pub fn backend(tc: &Toolchain, inv: &Invocation, bitcode: &Path, object: &str) -> Cmd {
    let mut args = vec!["-c".to_string(), opt_word(inv)];
    push_flags(&mut args, inv, &[Codegen, Debug, Warning, Assembler, Target, Verbose]);
    args.extend([
        "-Wno-unused-command-line-argument".into(),
        "-x".into(),
        "ir".into(),
        bitcode.display().to_string(),
        "-o".into(),
        object.to_string(),
    ]);
    Cmd { program: tc.clang.clone(), args }
}

/// The backend step in lucc's own process (`lucc_passes::instrument_to_object`)
/// when every flag clang's backend would get has an effect the module
/// already carries (function attributes and module flags the frontend wrote:
/// `-fPIC`, `-march`, `-fstack-protector`...) or one [`EmitOptions`] holds;
/// `None` sends the unit to clang's backend ([`backend`]), which knows
/// every flag.
pub fn in_process_backend(inv: &Invocation) -> Option<EmitOptions> {
    let (opt_level, size_level) = match inv.opt.as_deref().unwrap_or("-O0") {
        "-O0" => (0, 0),
        "-O1" => (1, 0),
        "-O2" => (2, 0),
        "-O3" => (3, 0),
        "-Os" => (2, 1),
        "-Oz" => (2, 2),
        // -O, -O4, -Ofast (fast-math options live in the backend too)
        _ => return None,
    };
    let mut emit = EmitOptions { opt_level, size_level, ..EmitOptions::default() };
    let mut debug_level_given = false;
    for f in inv.flags() {
        if !BACKEND_CATEGORIES.contains(&f.category) || f.category == Warning || is_g0(f) {
            continue;
        }
        let word = f.words[0].as_str();
        match word {
            "-ffunction-sections" => emit.function_sections = true,
            "-fno-function-sections" => emit.function_sections = false,
            "-fdata-sections" => emit.data_sections = true,
            "-fno-data-sections" => emit.data_sections = false,
            // the last level wins, as in clang (-g0 never reaches the backend)
            "-g" | "-g2" | "-g3" | "-ggdb" | "-ggdb2" | "-ggdb3" => emit.full_debug_info = true,
            "-g1" | "-ggdb1" | "-gline-tables-only" => emit.full_debug_info = false,
            // a DWARF version alone asks for full debug information too
            "-gdwarf" | "-gdwarf-4" | "-gdwarf-5" if !debug_level_given => emit.full_debug_info = true,
            w if f.words.len() == 1 && module_carries(f.category, w) => {}
            _ => return None,
        }
        debug_level_given |= is_debug_level(word);
    }
    Some(emit)
}

fn is_debug_level(w: &str) -> bool {
    matches!(w, "-g" | "-g1" | "-g2" | "-g3" | "-ggdb" | "-ggdb1" | "-ggdb2" | "-ggdb3" | "-gline-tables-only")
}

/// The categories of flags [`backend`] passes to clang.
const BACKEND_CATEGORIES: &[Category] = &[Codegen, Debug, Warning, Assembler, Target, Verbose];

/// Backend flags whose whole effect is in the frontend's module, or none.
fn module_carries(category: Category, w: &str) -> bool {
    const EXACT: &[&str] = &[
        // relocation model: the module's PIC level
        "-fPIC", "-fpic", "-fPIE", "-fpie", "-fno-PIC", "-fno-pic", "-fno-PIE", "-fno-pie",
        // function attributes
        "-fomit-frame-pointer", "-fno-omit-frame-pointer", "-fstack-protector", "-fstack-protector-strong",
        "-fstack-protector-all", "-fno-stack-protector", "-fstack-clash-protection", "-fno-stack-clash-protection",
        "-funwind-tables", "-fno-unwind-tables", "-fasynchronous-unwind-tables", "-fno-asynchronous-unwind-tables",
        "-fexceptions", "-fno-exceptions", "-fno-plt", "-fplt", "-fsemantic-interposition",
        "-fno-semantic-interposition", "-fno-delete-null-pointer-checks", "-mno-red-zone", "-mred-zone",
        "-mstackrealign", "-momit-leaf-frame-pointer", "-mno-omit-leaf-frame-pointer", "-m64",
        // the frontend's IR only
        "-fstrict-aliasing", "-fno-strict-aliasing", "-fwrapv", "-fno-strict-overflow", "-fstrict-overflow",
        "-fcommon", "-fno-common", "-fsigned-char", "-funsigned-char", "-fno-signed-char", "-fno-unsigned-char",
        "-fmath-errno", "-fno-math-errno", "-fgnu89-inline", "-fno-gnu89-inline", "-fident", "-fno-ident",
        // no code at all
        "-pthread", "-pipe", "-fcolor-diagnostics", "-fno-color-diagnostics", "-fdiagnostics-color",
        "-fno-diagnostics-color", "-Wa,--noexecstack",
        // debug information: the module's debug metadata and flags
        "-g", "-g1", "-g2", "-g3", "-ggdb", "-ggdb1", "-ggdb2", "-ggdb3", "-gdwarf", "-gdwarf-4", "-gdwarf-5",
        "-gline-tables-only", "-gcolumn-info", "-gno-column-info",
    ];
    const PREFIXES: &[&str] = &[
        "-fvisibility=", "-fdiagnostics-", "-fmessage-length=", "-fdebug-prefix-map=", "-ffile-prefix-map=",
        "-fmacro-prefix-map=", "-fcf-protection", "-march=", "-mtune=", "-msse", "-mno-sse", "-mavx", "-mno-avx",
        "-mpopcnt", "-mbmi", "-mfma", "-mlzcnt", "-maes", "-mpclmul", "--sysroot=", "--gcc-toolchain=",
    ];
    match category {
        Codegen | Debug | Assembler | Target => EXACT.contains(&w) || PREFIXES.iter().any(|p| w.starts_with(p)),
        _ => false,
    }
}

/// A source lucc does not instrument, compiled by clang with the user's
/// flags under `-c` (its own `-x`, the user's `-o` if given).
pub fn plain_compile(tc: &Toolchain, inv: &Invocation, input: &Input) -> Cmd {
    let mut args = Vec::new();
    for f in inv.flags() {
        if !matches!(f.category, Output | Lang) {
            args.extend(f.words.iter().cloned());
        }
    }
    if let Some(lang) = &input.lang {
        args.extend(["-x".into(), lang.clone()]);
    }
    args.push(input.path.clone());
    if let Some(o) = &inv.output {
        args.extend(["-o".into(), o.clone()]);
    }
    Cmd { program: tc.clang.clone(), args }
}

/// The link: inputs and link flags in the user's order, C sources replaced
/// by their instrumented objects (`objects`, one per C input in order),
/// then the runtime for a program. Sources lucc passes through are left on
/// the line for clang to compile, with the flags they need.
pub fn link(tc: &Toolchain, inv: &Invocation, objects: &[String]) -> Cmd {
    let has_other_sources = inv.inputs().any(|i| i.kind == InputKind::OtherSource);
    let mut cats = vec![Link, LinkLibrary, Codegen, Optimize, Debug, Warning, Target, Verbose, Unknown];
    if has_other_sources {
        cats.extend([Preprocess, Language, Frontend, Assembler, DepFile]);
    }
    let mut args = Vec::new();
    let mut objects = objects.iter();
    // the `-x` clang is currently applying on this line
    let mut lang: Option<String> = None;
    let mut set_lang = |args: &mut Vec<String>, want: Option<&String>| {
        if lang.as_ref() != want {
            args.extend(["-x".to_string(), want.cloned().unwrap_or_else(|| "none".into())]);
            lang = want.cloned();
        }
    };
    for item in &inv.items {
        match item {
            Item::Flag(f) if cats.contains(&f.category) && !is_g0(f) => args.extend(f.words.iter().cloned()),
            Item::Flag(_) => {}
            Item::Input(i) if i.kind == InputKind::C => {
                set_lang(&mut args, None);
                args.extend(objects.next().cloned());
            }
            Item::Input(i) => {
                set_lang(&mut args, i.lang.as_ref());
                args.push(i.path.clone());
            }
        }
    }
    set_lang(&mut args, None);
    if !inv.library {
        args.push(tc.runtime.display().to_string());
        args.extend(RUNTIME_LIBS.iter().map(|s| s.to_string()));
        // lucc-built shared libraries loaded by the program resolve the
        // runtime from the executable
        args.push("-Wl,--export-dynamic-symbol=__lucc_*".into());
        args.extend(lucc_abi::wrapped::link_wrapped().map(|f| format!("-Wl,--wrap={f}")));
    }
    args.extend(["-Wl,--build-id=sha1".into(), "-o".into(), inv.link_output()]);
    Cmd { program: tc.clang.clone(), args }
}

/// The user's command, unchanged, for clang.
pub fn passthrough(tc: &Toolchain, args: &[String]) -> Cmd {
    Cmd { program: tc.clang.clone(), args: args.to_vec() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tc() -> Toolchain {
        Toolchain {
            clang: "/usr/bin/clang-14".into(),
            runtime: "/rt/liblucc_rt.a".into(),
            include: Some("/inc".into()),
        }
    }

    fn parse(line: &str) -> Invocation {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        Invocation::parse(&args)
    }

    fn first_c(inv: &Invocation) -> Input {
        inv.inputs().find(|i| i.kind == InputKind::C).unwrap().clone()
    }

    /// `a` appears in `args` in this order, as consecutive words.
    fn has_seq(args: &[String], seq: &[&str]) -> bool {
        args.windows(seq.len()).any(|w| w.iter().zip(seq).all(|(a, b)| a == b))
    }

    #[test]
    fn frontend_gets_preprocessing_and_disables_llvm_passes() {
        let inv = parse("-c -O2 -Iinc -D X=1 -std=c99 -Wall -fPIC -g0 -Wl,-z,now -lm -DEBUG x.c -o obj/x.o");
        let a = frontend(&tc(), &inv, &first_c(&inv), &PathBuf::from("/t/x.bc")).args;
        for w in ["-Iinc", "-std=c99", "-Wall", "-fPIC", "-O2", "-g", "-emit-llvm", "-c", "-I/inc", "-DEBUG"] {
            assert!(a.contains(&w.to_string()), "{w} missing from {a:?}");
        }
        assert!(has_seq(&a, &["-D", "X=1"]));
        assert!(has_seq(&a, &["-Xclang", "-disable-llvm-passes"]));
        assert!(has_seq(&a, &["x.c", "-o", "/t/x.bc"]));
        for w in ["-g0", "-Wl,-z,now", "-lm", "obj/x.o"] {
            assert!(!a.contains(&w.to_string()), "{w} must not reach the frontend: {a:?}");
        }
        assert!(!a.iter().any(|w| w.starts_with("-M")), "no dependency flags without -MD: {a:?}");
    }

    #[test]
    fn frontend_defaults_to_o0_and_keeps_dash_x() {
        let inv = parse("-c -x c conf");
        let a = frontend(&tc(), &inv, &first_c(&inv), &PathBuf::from("t.bc")).args;
        assert!(a.contains(&"-O0".to_string()));
        assert!(has_seq(&a, &["-x", "c", "conf", "-o", "t.bc"]));
    }

    #[test]
    fn dependency_flags_name_the_users_output() {
        let inv = parse("-c -MMD -MP src/x.c -o obj/x.o");
        let a = frontend(&tc(), &inv, &first_c(&inv), &PathBuf::from("/t/x.bc")).args;
        assert!(a.contains(&"-MMD".to_string()) && a.contains(&"-MP".to_string()));
        assert!(has_seq(&a, &["-MF", "obj/x.d"]));
        assert!(has_seq(&a, &["-MQ", "obj/x.o"]));
        let inv = parse("-c -MD -MF x.dep -MT mytarget x.c");
        let a = frontend(&tc(), &inv, &first_c(&inv), &PathBuf::from("/t/x.bc")).args;
        assert!(has_seq(&a, &["-MF", "x.dep"]) && has_seq(&a, &["-MT", "mytarget"]));
        assert!(!a.contains(&"-MQ".to_string()));
        assert_eq!(a.iter().filter(|w| *w == "-MF").count(), 1);
    }

    #[test]
    fn backend_gets_level_and_codegen_only() {
        let inv = parse("-c -Os -Iinc -DX -fPIC -mavx2 -g3 -Wa,--noexecstack -std=c11 x.c");
        let a = backend(&tc(), &inv, &PathBuf::from("/t/x.lucc.bc"), "x.o").args;
        assert_eq!(a[..2], ["-c".to_string(), "-Os".to_string()]);
        for w in ["-fPIC", "-mavx2", "-g3", "-Wa,--noexecstack", "-Wno-unused-command-line-argument"] {
            assert!(a.contains(&w.to_string()), "{w} missing from {a:?}");
        }
        for w in ["-Iinc", "-DX", "-std=c11", "x.c"] {
            assert!(!a.contains(&w.to_string()), "{w} must not reach the backend: {a:?}");
        }
        assert!(has_seq(&a, &["/t/x.lucc.bc", "-o", "x.o"]));
    }

    #[test]
    fn link_keeps_order_and_appends_the_runtime() {
        let inv = parse("-O2 -Iinc a.c -Llib -lfoo b.o -Wl,--as-needed c.c libz.a -o prog");
        let objs = vec!["/t/a.o".to_string(), "/t/c.o".to_string()];
        let a = link(&tc(), &inv, &objs).args;
        let pos = |w: &str| a.iter().position(|x| x == w).unwrap_or_else(|| panic!("{w} missing: {a:?}"));
        assert!(pos("/t/a.o") < pos("-lfoo") && pos("-lfoo") < pos("b.o"));
        assert!(pos("b.o") < pos("/t/c.o") && pos("/t/c.o") < pos("libz.a"));
        assert!(pos("libz.a") < pos("/rt/liblucc_rt.a"));
        assert!(has_seq(&a, &["/rt/liblucc_rt.a", "-lpthread", "-ldl", "-lm", "-lrt"]));
        assert!(a.contains(&"-Wl,--export-dynamic-symbol=__lucc_*".to_string()));
        assert!(a.contains(&"-Wl,--build-id=sha1".to_string()));
        assert!(has_seq(&a, &["-o", "prog"]));
        assert!(!a.contains(&"-Iinc".to_string()) && !a.contains(&"a.c".to_string()));
        assert!(!a.contains(&"-x".to_string()));
    }

    #[test]
    fn shared_link_has_no_runtime() {
        let inv = parse("-shared -fPIC a.o -o libx.so");
        let a = link(&tc(), &inv, &[]).args;
        assert!(a.contains(&"-shared".to_string()));
        assert!(!a.contains(&"/rt/liblucc_rt.a".to_string()));
        assert!(!a.iter().any(|w| w.contains("export-dynamic-symbol")));
        assert!(has_seq(&a, &["-o", "libx.so"]));
    }

    #[test]
    fn link_restores_dash_x_around_substituted_objects() {
        let inv = parse("-Iinc -x c gen.txt -x assembler-with-cpp s.S main.o");
        let a = link(&tc(), &inv, &["/t/gen.o".to_string()]).args;
        assert!(has_seq(&a, &["/t/gen.o", "-x", "assembler-with-cpp", "s.S", "main.o", "-x", "none"]));
        assert!(!has_seq(&a, &["-x", "c"]), "the C input is an object now: {a:?}");
        assert!(a.contains(&"-Iinc".to_string()), "clang compiles s.S on this line");
    }

    #[test]
    fn plain_compile_of_assembly_keeps_flags_and_output() {
        let inv = parse("-c -DX -MD s.S -o out/s.o");
        let i = inv.inputs().next().unwrap().clone();
        let a = plain_compile(&tc(), &inv, &i).args;
        assert_eq!(a, ["-c", "-DX", "-MD", "s.S", "-o", "out/s.o"]);
    }
}
