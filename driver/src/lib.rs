//! The `lucc` binary's logic. See ARCHITECTURE.md for the map.
//!
//! `lucc` is two things at once: invoked like `cc` (the default, so that
//! `CC=lucc make` works) it compiles and links instrumented programs; invoked
//! with a subcommand (`lucc build`, `lucc inspect`, ...) it is the tool.
//! A first argument that names a subcommand selects it; anything else is a
//! compiler command line.

use std::ffi::OsString;

pub mod cc;
pub mod diff;
pub mod invariants;
pub mod log;
pub mod project;
pub mod sidecar;
pub mod update;

/// Entry point: returns the process exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let sub = args.get(1).and_then(|a| a.to_str()).unwrap_or("");
    let rest = args.get(2..).unwrap_or(&[]);
    match sub {
        "build" => project::build_main(rest),
        "inspect" => sidecar::inspect_main(rest),
        "invariants" => invariants::main(rest),
        "diff" => diff::diff_main(rest),
        "update" => update::update_main(rest),
        "status" => update::status_main(rest),
        "check" => update::check_main(rest),
        "help" | "--help" | "-h" => {
            print!("{}", USAGE);
            0
        }
        _ => cc::cc_main(args),
    }
}

const USAGE: &str = "\
lucc: build live-updatable C programs

usage:
  lucc [cc options] FILES...     compile and link like cc (CC=lucc make)
  lucc build [--profile P] [-j N] [TARGET...]
                                 build the lucc.toml project here
  lucc inspect [--json] PROG     show PROG's type-map sidecar (PROG.lumap)
  lucc invariants [--markdown | --json] PROG
                                 PROG's static invariants and their coverage
  lucc diff [--json] [--transform FILE] OLD NEW
                                 what updating OLD to NEW does to the state
  lucc diff --template OLD NEW   a transform file to edit (stdout)
  lucc update PID NEW [--timeout SECS] [--json]
                                 replace running program PID by build NEW
  lucc status [--json] PID       ask running program PID about itself
  lucc check [--json] PID        check running program PID's state against its
                                 invariants (exit 0 clean, 2 violations)

environment:
  LUCC_LOG=1          log what lucc does and why it passes a file through
  LUCC_CLANG=PATH     the clang 14 to use
  LUCC_RUNTIME=PATH   the runtime archive (liblucc_rt.a) to link
  LUCC_INCLUDE=DIR    the directory holding lucc.h
  LUCC_DISABLE=1      behave exactly like clang (no instrumentation, no runtime)
  LUCC_FALLBACK=1     compile a file the passes reject uninstrumented instead of failing
  LUCC_NO_SIDECAR=1   accept a program whose sidecar cannot be written
";
