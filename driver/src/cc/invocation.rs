//! A compiler command line, parsed once into what it asks for.
//!
//! Everything downstream (which clang steps run, with which flags, where
//! outputs go) reads this typed form; nothing re-scans argv. The user's
//! order is kept ([`Item`]s), because it matters twice: `-x` applies to the
//! inputs after it, and the linker resolves `a.o -lfoo b.o` left to right.

use std::path::{Path, PathBuf};

use super::flags::{match_flag, Category, Matched};

/// What a C compiler command produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No `-c/-E/-S/...`: compile and link.
    Link,
    /// `-c`: one object per input.
    Compile,
    /// Something lucc does not instrument (`-E`, `-S`, `-fsyntax-only`,
    /// `-emit-llvm`, `-M`/`-MM` alone): clang runs the command as is.
    Other(&'static str),
}

/// How lucc treats an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A C translation unit: instrumented.
    C,
    /// A source lucc does not instrument (assembly, C++, stdin, `-x` other
    /// than c): compiled by clang unchanged.
    OtherSource,
    /// A linker input (`.o`, `.a`, `.so`, anything not a source).
    Object,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: String,
    /// The `-x` language in effect for it (`None` for `-x none` or no `-x`).
    pub lang: Option<String>,
    pub kind: InputKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Flag(Matched),
    Input(Input),
}

/// The parsed command line.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub items: Vec<Item>,
    pub mode: Mode,
    /// `-o`, last one wins (as in clang).
    pub output: Option<String>,
    /// The last `-O` word as written (`-O2`, `-Os`, `-O`), if any.
    pub opt: Option<String>,
    /// A question about the compiler (`--version`, `-print-*`, ...).
    pub info: bool,
    /// `-MD`/`-MMD`: write a dependency file beside the compile.
    pub dep_file: bool,
    /// The user's `-MF`, if any.
    pub dep_mf: Option<String>,
    /// The user gave `-MT` or `-MQ`.
    pub dep_target_given: bool,
    /// `-shared` or `-r`: the link makes a library, not a program.
    pub library: bool,
}

const C_EXTS: &[&str] = &["c", "i"];
const OTHER_SOURCE_EXTS: &[&str] = &[
    "s", "S", "sx", "asm", "cc", "cp", "cpp", "cxx", "c++", "CPP", "C", "ii", "m", "mi", "mm", "M",
    "h", "hh", "hpp", "hxx", "H", "f", "F", "for", "f90", "F90", "ll", "bc", "cu", "cl",
];

fn classify(path: &str, lang: Option<&str>) -> InputKind {
    if path == "-" {
        return InputKind::OtherSource;
    }
    match lang {
        Some("c") => InputKind::C,
        Some(_) => InputKind::OtherSource,
        None => {
            let ext = Path::new(path).extension().and_then(|e| e.to_str()).unwrap_or("");
            if C_EXTS.contains(&ext) {
                InputKind::C
            } else if OTHER_SOURCE_EXTS.contains(&ext) {
                InputKind::OtherSource
            } else {
                InputKind::Object
            }
        }
    }
}

impl Invocation {
    /// Parses an argv without the program name (response files already
    /// expanded).
    pub fn parse(args: &[String]) -> Invocation {
        let mut inv = Invocation {
            items: Vec::new(),
            mode: Mode::Link,
            output: None,
            opt: None,
            info: false,
            dep_file: false,
            dep_mf: None,
            dep_target_given: false,
            library: false,
        };
        let (mut compile, mut other, mut dep_only) = (false, None, false);
        let mut lang: Option<String> = None;
        let mut i = 0;
        while i < args.len() {
            let word = &args[i];
            if !word.starts_with('-') || word == "-" {
                let kind = classify(word, lang.as_deref());
                inv.items.push(Item::Input(Input { path: word.clone(), lang: lang.clone(), kind }));
                i += 1;
                continue;
            }
            let (m, used) = match_flag(args, i);
            i += used;
            match m.category {
                Category::Output => inv.output = m.value.clone(),
                Category::Optimize => inv.opt = Some(m.words[0].clone()),
                Category::Info => inv.info = true,
                Category::LinkLibrary => inv.library = true,
                Category::DepOnly => dep_only = true,
                Category::Lang => {
                    lang = m.value.clone().filter(|l| l != "none");
                }
                Category::DepFile => match m.name {
                    "-MD" | "-MMD" => inv.dep_file = true,
                    "-MF" => inv.dep_mf = m.value.clone(),
                    "-MT" | "-MQ" => inv.dep_target_given = true,
                    _ => {}
                },
                Category::Mode if m.name == "-c" => compile = true,
                Category::Mode => {
                    // clang stops at the earliest phase asked for
                    let (rank, why) = match m.name {
                        "-###" => (0, "-###: clang only shows its commands"),
                        "-E" => (1, "-E: preprocessing only"),
                        "-fsyntax-only" => (2, "-fsyntax-only"),
                        "-S" => (3, "-S: assembly output"),
                        _ => (4, "-emit-llvm: bitcode output"),
                    };
                    if other.is_none_or(|(r, _)| rank < r) {
                        other = Some((rank, why));
                    }
                }
                _ => {}
            }
            inv.items.push(Item::Flag(m));
        }
        inv.mode = match other {
            Some((_, why)) => Mode::Other(why),
            None if dep_only && !inv.dep_file => Mode::Other("-M/-MM: dependency output only"),
            None if compile => Mode::Compile,
            None => Mode::Link,
        };
        inv
    }

    pub fn inputs(&self) -> impl Iterator<Item = &Input> {
        self.items.iter().filter_map(|it| match it {
            Item::Input(i) => Some(i),
            Item::Flag(_) => None,
        })
    }

    pub fn flags(&self) -> impl Iterator<Item = &Matched> {
        self.items.iter().filter_map(|it| match it {
            Item::Flag(f) => Some(f),
            Item::Input(_) => None,
        })
    }

    /// The object `-c` writes for `input`: `-o`, else its stem plus `.o` in
    /// the current directory, as cc names it.
    pub fn object_name(&self, input: &Input) -> String {
        match &self.output {
            Some(o) => o.clone(),
            None => format!("{}.o", stem(&input.path)),
        }
    }

    /// The program a link writes.
    pub fn link_output(&self) -> String {
        self.output.clone().unwrap_or_else(|| "a.out".to_string())
    }

    /// Where clang would write `input`'s dependency file under `-MD`: `-MF`,
    /// else `-o` with its extension replaced by `.d`, else the input's stem
    /// plus `.d` in the current directory.
    pub fn dep_file_name(&self, input: &Input) -> String {
        if let Some(mf) = &self.dep_mf {
            return mf.clone();
        }
        match &self.output {
            Some(o) => PathBuf::from(o).with_extension("d").to_string_lossy().into_owned(),
            None => format!("{}.d", stem(&input.path)),
        }
    }

    /// The make target clang would name in that file: `-o` as given, else the
    /// object's name.
    pub fn dep_target(&self, input: &Input) -> String {
        match &self.output {
            Some(o) => o.clone(),
            None => format!("{}.o", stem(&input.path)),
        }
    }
}

fn stem(path: &str) -> String {
    Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Invocation {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        Invocation::parse(&args)
    }

    fn kinds(inv: &Invocation) -> Vec<(String, InputKind)> {
        inv.inputs().map(|i| (i.path.clone(), i.kind)).collect()
    }

    #[test]
    fn modes() {
        assert_eq!(parse("a.c").mode, Mode::Link);
        assert_eq!(parse("-c a.c").mode, Mode::Compile);
        assert!(matches!(parse("-E a.c").mode, Mode::Other(_)));
        assert!(matches!(parse("-c -S a.c").mode, Mode::Other(_)));
        assert!(matches!(parse("-fsyntax-only a.c").mode, Mode::Other(_)));
        assert!(matches!(parse("-c -emit-llvm a.c").mode, Mode::Other(_)));
        assert!(matches!(parse("-MM a.c").mode, Mode::Other(_)));
        assert!(matches!(parse("-### a.c -o prog").mode, Mode::Other(_)));
        assert_eq!(parse("-S -E a.c").mode, Mode::Other("-E: preprocessing only"));
        assert_eq!(parse("-E -S a.c").mode, Mode::Other("-E: preprocessing only"));
        assert_eq!(parse("-c -MD a.c").mode, Mode::Compile);
        assert_eq!(parse("-c -M -MD a.c").mode, Mode::Compile);
    }

    #[test]
    fn input_kinds_follow_extensions_and_dash_x() {
        let inv = parse("a.c b.o libz.a libq.so.1 s.S t.s u.cc v.cpp x.i");
        assert_eq!(
            kinds(&inv),
            vec![
                ("a.c".into(), InputKind::C),
                ("b.o".into(), InputKind::Object),
                ("libz.a".into(), InputKind::Object),
                ("libq.so.1".into(), InputKind::Object),
                ("s.S".into(), InputKind::OtherSource),
                ("t.s".into(), InputKind::OtherSource),
                ("u.cc".into(), InputKind::OtherSource),
                ("v.cpp".into(), InputKind::OtherSource),
                ("x.i".into(), InputKind::C),
            ]
        );
        let inv = parse("-x c conf.txt -x c++ k.c -x none m.c -xc - y.o");
        assert_eq!(
            kinds(&inv),
            vec![
                ("conf.txt".into(), InputKind::C),
                ("k.c".into(), InputKind::OtherSource),
                ("m.c".into(), InputKind::C),
                ("-".into(), InputKind::OtherSource),
                ("y.o".into(), InputKind::C),
            ]
        );
        assert_eq!(inv.inputs().next().unwrap().lang.as_deref(), Some("c"));
    }

    #[test]
    fn flag_arguments_are_not_inputs() {
        let inv = parse("-I inc -D X=1 -include cfg.h -o out -MF d.d -MT t -Xlinker z.o -L lib a.c");
        assert_eq!(kinds(&inv), vec![("a.c".into(), InputKind::C)]);
        assert_eq!(inv.output.as_deref(), Some("out"));
        assert_eq!(inv.dep_mf.as_deref(), Some("d.d"));
        assert!(inv.dep_target_given);
    }

    #[test]
    fn last_optimisation_level_and_output_win() {
        let inv = parse("-O2 -o x -Os -g -o y a.c");
        assert_eq!(inv.opt.as_deref(), Some("-Os"));
        assert_eq!(inv.output.as_deref(), Some("y"));
        assert_eq!(parse("a.c").opt, None);
        assert_eq!(parse("-O a.c").opt.as_deref(), Some("-O"));
    }

    #[test]
    fn info_and_library_flags() {
        assert!(parse("--version").info);
        assert!(parse("-print-prog-name=ld").info);
        assert!(parse("-dumpmachine").info);
        assert!(!parse("-v").info, "-v with inputs is a verbose compile");
        assert!(parse("-shared a.o").library);
        assert!(parse("-r a.o").library);
        assert!(!parse("-rdynamic a.o").library);
    }

    #[test]
    fn output_naming_is_cc_s() {
        let inv = parse("-c src/dir/x.c");
        let x = inv.inputs().next().unwrap().clone();
        assert_eq!(inv.object_name(&x), "x.o");
        let inv = parse("-c src/x.c -o obj/y.o");
        assert_eq!(inv.object_name(&x), "obj/y.o");
        assert_eq!(parse("a.c b.c").link_output(), "a.out");
        assert_eq!(parse("a.c b.c -o prog").link_output(), "prog");
    }

    #[test]
    fn dependency_file_naming_is_clang_s() {
        let x = Input { path: "src/x.c".into(), lang: None, kind: InputKind::C };
        let inv = parse("-c -MMD src/x.c");
        assert_eq!((inv.dep_file_name(&x), inv.dep_target(&x)), ("x.d".into(), "x.o".into()));
        let inv = parse("-c -MD src/x.c -o obj/x.o");
        assert_eq!((inv.dep_file_name(&x), inv.dep_target(&x)), ("obj/x.d".into(), "obj/x.o".into()));
        let inv = parse("-c -MD src/x.c -o obj/noext");
        assert_eq!(inv.dep_file_name(&x), "obj/noext.d");
        let inv = parse("-c -MD -MF deps/x.dep src/x.c -o x.o");
        assert_eq!(inv.dep_file_name(&x), "deps/x.dep");
        // a one-command build with -o names the dependency file after the program
        let inv = parse("-MD src/x.c -o prog");
        assert_eq!((inv.dep_file_name(&x), inv.dep_target(&x)), ("prog.d".into(), "prog".into()));
    }
}
