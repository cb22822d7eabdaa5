//! The table of compiler flags lucc understands.
//!
//! Build systems hand a C compiler hundreds of flag spellings; a driver that
//! grows one `if` per spelling ends up mis-parsing the next one (the lesson of
//! sccache and ccache). So every flag is a row: its spelling, how it takes an
//! argument, and a category that says which of lucc's clang steps it belongs
//! to. Recognising a new flag means adding a row. Anything not in the table
//! is [`Category::Unknown`] and is handed to clang as given, so clang
//! diagnoses it exactly as it would for `cc`.

/// How a flag carries its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgStyle {
    /// No argument: matches the spelling exactly (`-c`).
    None,
    /// The argument is the next word (`-Xlinker X`).
    Separate,
    /// The argument is glued on (`-O2`, `-std=c99`, `-Wl,-z,now`); the
    /// spelling is a prefix and the rest may be empty (`-O`, `-g`).
    Concat,
    /// Glued or next word (`-Idir` and `-I dir`).
    Both,
}

/// Which steps of the pipeline a flag is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Preprocessing: `-I -D -U -include -isystem -iquote -Wp,`. Frontend only.
    Preprocess,
    /// Language dialect: `-std=`, `-ansi`. Frontend only.
    Language,
    /// Frontend-only knobs that would be noise elsewhere: `-Xclang`.
    Frontend,
    /// `-W...`, `-w`, `-pedantic`: frontend and code generation (backend
    /// warnings exist, and `-Werror` must keep its meaning there).
    Warning,
    /// `-O...`: the last one sets the level of every step.
    Optimize,
    /// `-g...`: debug info (always on in the frontend; DWARF is lucc's
    /// source of layouts).
    Debug,
    /// `-f... -m... -pthread -mllvm`: frontend, code generation and link.
    Codegen,
    /// Assembler options (`-Wa,`, `-Xassembler`): code generation only.
    Assembler,
    /// Target selection (`--target=`, `--sysroot=`): every step.
    Target,
    /// `-v`: every step, so the user sees what clang runs.
    Verbose,
    /// `-MD -MMD -MF -MT -MQ -MP`: dependency output next to a compile.
    DepFile,
    /// `-M -MM`: dependency output instead of a compile (implies `-E`).
    DepOnly,
    /// `-c -E -S -fsyntax-only -emit-llvm -###`: what the command produces.
    Mode,
    /// `-o`.
    Output,
    /// `-x LANG`.
    Lang,
    /// Link step only: `-L -l -Wl, -Xlinker -static -rdynamic -nostdlib ...`.
    Link,
    /// Link-only flags that make the output a library or partial link
    /// (`-shared`, `-r`): no runtime, no sidecar.
    LinkLibrary,
    /// Questions about the compiler (`--version`, `-dumpmachine`,
    /// `-print-*`): the whole command goes to clang.
    Info,
    /// Not in the table: passed to clang unchanged.
    Unknown,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct FlagSpec {
    pub name: &'static str,
    pub style: ArgStyle,
    pub category: Category,
}

const fn row(name: &'static str, style: ArgStyle, category: Category) -> FlagSpec {
    FlagSpec { name, style, category }
}

use ArgStyle::{Both, Concat, None as NoArg, Separate};
use Category::*;

/// Every flag lucc gives a meaning to. The longest matching spelling wins,
/// so `-Wl,` beats `-W` and `-fsyntax-only` beats `-f`.
pub const FLAGS: &[FlagSpec] = &[
    // what the command produces
    row("-c", NoArg, Mode),
    row("-E", NoArg, Mode),
    row("-S", NoArg, Mode),
    row("-fsyntax-only", NoArg, Mode),
    row("-emit-llvm", NoArg, Mode),
    row("-###", NoArg, Mode),
    row("-o", Both, Output),
    row("-x", Both, Lang),
    // preprocessing
    row("-I", Both, Preprocess),
    row("-D", Both, Preprocess),
    row("-U", Both, Preprocess),
    row("-include", Both, Preprocess),
    row("-imacros", Both, Preprocess),
    row("-isystem", Both, Preprocess),
    row("-iquote", Both, Preprocess),
    row("-idirafter", Both, Preprocess),
    row("-iprefix", Both, Preprocess),
    row("-iwithprefix", Both, Preprocess),
    row("-nostdinc", NoArg, Preprocess),
    row("-undef", NoArg, Preprocess),
    row("-P", NoArg, Preprocess),
    row("-C", NoArg, Preprocess),
    row("-H", NoArg, Preprocess),
    row("-Wp,", Concat, Preprocess),
    row("-Xpreprocessor", Separate, Preprocess),
    // dependency files
    row("-M", NoArg, DepOnly),
    row("-MM", NoArg, DepOnly),
    row("-MD", NoArg, DepFile),
    row("-MMD", NoArg, DepFile),
    row("-MF", Both, DepFile),
    row("-MT", Both, DepFile),
    row("-MQ", Both, DepFile),
    row("-MP", NoArg, DepFile),
    row("-MG", NoArg, DepFile),
    // language
    row("-std=", Concat, Language),
    row("--std=", Concat, Language),
    row("-ansi", NoArg, Language),
    row("-Xclang", Separate, Frontend),
    // warnings
    row("-W", Concat, Warning),
    row("-w", NoArg, Warning),
    row("-pedantic", NoArg, Warning),
    row("-pedantic-errors", NoArg, Warning),
    row("-Wa,", Concat, Assembler),
    row("-Xassembler", Separate, Assembler),
    // optimisation, debug info, code generation
    row("-O", Concat, Optimize),
    row("-g", Concat, Debug),
    row("-f", Concat, Codegen),
    row("-m", Concat, Codegen),
    row("-mllvm", Separate, Codegen),
    row("-pthread", NoArg, Codegen),
    row("-pipe", NoArg, Codegen),
    row("-pg", NoArg, Codegen),
    row("--coverage", NoArg, Codegen),
    row("--target=", Concat, Target),
    row("-target", Separate, Target),
    row("--sysroot=", Concat, Target),
    row("--sysroot", Separate, Target),
    row("-isysroot", Both, Target),
    row("--gcc-toolchain=", Concat, Target),
    row("-v", NoArg, Verbose),
    // link
    row("-L", Both, Link),
    row("-l", Both, Link),
    row("-Wl,", Concat, Link),
    row("-Xlinker", Separate, Link),
    row("-u", Both, Link),
    row("-T", Both, Link),
    row("-z", Separate, Link),
    row("-e", Separate, Link),
    row("-s", NoArg, Link),
    row("-static", NoArg, Link),
    row("-static-libgcc", NoArg, Link),
    row("-rdynamic", NoArg, Link),
    row("-nostdlib", NoArg, Link),
    row("-nostartfiles", NoArg, Link),
    row("-nodefaultlibs", NoArg, Link),
    row("-nolibc", NoArg, Link),
    row("-pie", NoArg, Link),
    row("-no-pie", NoArg, Link),
    row("-static-pie", NoArg, Link),
    row("-fuse-ld=", Concat, Link),
    row("--ld-path=", Concat, Link),
    row("--rtlib=", Concat, Link),
    row("-rtlib=", Concat, Link),
    row("-shared", NoArg, LinkLibrary),
    row("-r", NoArg, LinkLibrary),
    // questions about the compiler
    row("--version", NoArg, Info),
    row("-dumpversion", NoArg, Info),
    row("-dumpmachine", NoArg, Info),
    row("-print-", Concat, Info),
    row("--print-", Concat, Info),
    row("--help", NoArg, Info),
];

/// A flag found on a command line: its row (if any), and its words exactly
/// as the user wrote them (one word, or two for a separate argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub category: Category,
    /// The spelling of the row (`-I`), or the word itself for unknown flags.
    pub name: &'static str,
    /// The argument, if the flag takes one.
    pub value: Option<String>,
    /// The words as given; what is forwarded to clang.
    pub words: Vec<String>,
}

/// The row whose spelling matches `word`; longest spelling first.
pub fn lookup(word: &str) -> Option<&'static FlagSpec> {
    FLAGS
        .iter()
        .filter(|f| match f.style {
            NoArg | Separate => word == f.name,
            Concat | Both => word.starts_with(f.name),
        })
        .max_by_key(|f| f.name.len())
}

/// Matches the flag at `args[i]` (which starts with `-`); returns it and the
/// number of words it used. A separate argument missing at the end of the
/// line is left for clang to report.
pub fn match_flag(args: &[String], i: usize) -> (Matched, usize) {
    let word = &args[i];
    let Some(spec) = lookup(word) else {
        return (
            Matched { category: Unknown, name: "", value: None, words: vec![word.clone()] },
            1,
        );
    };
    let glued = &word[spec.name.len()..];
    let takes_next = match spec.style {
        Separate => true,
        Both => glued.is_empty(),
        _ => false,
    };
    if takes_next {
        if let Some(next) = args.get(i + 1) {
            let m = Matched {
                category: spec.category,
                name: spec.name,
                value: Some(next.clone()),
                words: vec![word.clone(), next.clone()],
            };
            return (m, 2);
        }
        let m = Matched { category: Unknown, name: "", value: None, words: vec![word.clone()] };
        return (m, 1);
    }
    let value = match spec.style {
        Concat | Both => Some(glued.to_string()),
        _ => None,
    };
    (Matched { category: spec.category, name: spec.name, value, words: vec![word.clone()] }, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(line: &[&str]) -> (Matched, usize) {
        let args: Vec<String> = line.iter().map(|s| s.to_string()).collect();
        match_flag(&args, 0)
    }

    #[test]
    fn both_style_takes_glued_or_next_word() {
        let (a, n) = m(&["-Iinc"]);
        assert_eq!((a.category, a.value.as_deref(), n), (Preprocess, Some("inc"), 1));
        let (b, n) = m(&["-I", "inc", "x.c"]);
        assert_eq!((b.category, b.value.as_deref(), n), (Preprocess, Some("inc"), 2));
        assert_eq!(b.words, vec!["-I", "inc"]);
        let (o, n) = m(&["-o", "out"]);
        assert_eq!((o.category, o.value.as_deref(), n), (Output, Some("out"), 2));
        let (o, _) = m(&["-oout"]);
        assert_eq!(o.value.as_deref(), Some("out"));
    }

    #[test]
    fn longest_spelling_wins() {
        assert_eq!(m(&["-Wl,-z,now"]).0.category, Link);
        assert_eq!(m(&["-Wall"]).0.category, Warning);
        assert_eq!(m(&["-Wa,--noexecstack"]).0.category, Assembler);
        assert_eq!(m(&["-Wp,-DX"]).0.category, Preprocess);
        assert_eq!(m(&["-fsyntax-only"]).0.category, Mode);
        assert_eq!(m(&["-fPIC"]).0.category, Codegen);
        assert_eq!(m(&["-fuse-ld=lld"]).0.category, Link);
        assert_eq!(m(&["-include", "cfg.h"]).0.category, Preprocess);
        assert_eq!(m(&["-isystem/usr/x"]).0.value.as_deref(), Some("/usr/x"));
        assert_eq!(m(&["-MMD"]).0.category, DepFile);
        assert_eq!(m(&["-MM"]).0.category, DepOnly);
        assert_eq!(m(&["-MF", "x.d"]).0.value.as_deref(), Some("x.d"));
        assert_eq!(m(&["-MTx.o"]).0.value.as_deref(), Some("x.o"));
        assert_eq!(m(&["-print-search-dirs"]).0.category, Info);
        assert_eq!(m(&["-pthread"]).0.category, Codegen);
        assert_eq!(m(&["-pie"]).0.category, Link);
        assert_eq!(m(&["-pipe"]).0.category, Codegen);
        assert_eq!(m(&["-shared"]).0.category, LinkLibrary);
        assert_eq!(m(&["-static"]).0.category, Link);
        assert_eq!(m(&["-std=gnu11"]).0.category, Language);
    }

    #[test]
    fn concat_flags_with_empty_argument() {
        let (o, _) = m(&["-O"]);
        assert_eq!((o.category, o.value.as_deref()), (Optimize, Some("")));
        let (g, _) = m(&["-g"]);
        assert_eq!((g.category, g.value.as_deref()), (Debug, Some("")));
        assert_eq!(m(&["-O3"]).0.value.as_deref(), Some("3"));
        assert_eq!(m(&["-Os"]).0.value.as_deref(), Some("s"));
        assert_eq!(m(&["-ggdb3"]).0.category, Debug);
    }

    #[test]
    fn separate_flags_take_the_next_word() {
        let (x, n) = m(&["-Xlinker", "--gc-sections"]);
        assert_eq!((x.category, n), (Link, 2));
        let (x, n) = m(&["-mllvm", "-inline-threshold=9"]);
        assert_eq!((x.category, n), (Codegen, 2));
        // `-Xlinkerfoo` is not `-Xlinker`: clang decides what it is
        assert_eq!(m(&["-Xlinkerfoo"]).0.category, Unknown);
    }

    #[test]
    fn unknown_flags_and_missing_arguments_are_left_to_clang() {
        let (u, n) = m(&["--frobnicate"]);
        assert_eq!((u.category, n, u.words.clone()), (Unknown, 1, vec!["--frobnicate".to_string()]));
        let (u, n) = m(&["-o"]);
        assert_eq!((u.category, n), (Unknown, 1));
    }
}
