//! cc-compatible mode: `CC=lucc make`.
//!
//! argv is expanded (`@file`) and parsed once into an [`Invocation`]; the
//! pipeline then either hands the command to clang unchanged (`-E`, `-S`,
//! questions like `--version`, `LUCC_DISABLE=1`, ...) or compiles each C
//! file in three steps (clang to unoptimised bitcode, lucc's passes, the
//! object emitted at the user's level in-process, or by clang when the
//! flags ask for what that cannot reproduce) and links with the runtime.
//!
//! | file | concern |
//! | --- | --- |
//! | `flags.rs` | the flag table: spelling, argument style, category |
//! | `response.rs` | `@file` expansion |
//! | `invocation.rs` | the typed command line, cc's output names |
//! | `commands.rs` | the clang command line of each step |
//! | `pipeline.rs` | running the steps, pass-through, link, sidecar |
//! | `runner.rs` | the seam to processes, the pass, the sidecar writer and the runtime's pre-linking |
//! | `prelink.rs` | the runtime archive linked once into the object programs link |
//! | `toolchain.rs` | finding clang 14, the runtime archive, `lucc.h` |

use std::ffi::OsString;

pub mod commands;
pub mod flags;
pub mod invocation;
pub mod pipeline;
pub mod prelink;
pub mod response;
pub mod runner;
pub mod toolchain;

pub use invocation::Invocation;
pub use pipeline::{Driver, Settings};
pub use runner::{Cmd, CommandRunner, ProcessRunner, RealSteps, Steps};
pub use toolchain::{Env, Toolchain};

/// Runs a compiler command line (`args[0]` is the program name); returns
/// the exit code.
pub fn cc_main(args: Vec<OsString>) -> i32 {
    let tc = match Toolchain::locate(&Env::from_process()) {
        Ok(tc) => tc,
        Err(msg) => {
            eprintln!("{msg}");
            return 1;
        }
    };
    let settings = Settings::from_process();
    let driver = Driver { tc: &tc, settings, runner: &ProcessRunner, steps: &RealSteps };
    let Some(words) = args.get(1..).unwrap_or(&[]).iter().map(|a| a.to_str().map(String::from)).collect::<Option<Vec<_>>>() else {
        // not UTF-8: lucc cannot reason about it, clang can
        crate::lucc_log!("passing the command through to clang: an argument is not UTF-8");
        return run_raw(&tc, &args[1..]);
    };
    let words = response::expand(&words);
    let inv = Invocation::parse(&words);
    let code = driver.run(&inv, &words);
    if code == 0 && words == ["--version"] {
        println!("lucc {} (live-updatable C; the compiler above does the compiling)", env!("CARGO_PKG_VERSION"));
    }
    code
}

fn run_raw(tc: &Toolchain, args: &[OsString]) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match std::process::Command::new(&tc.clang).args(args).status() {
        Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
        Err(e) => {
            eprintln!("lucc: error: cannot run {}: {e}", tc.clang.display());
            1
        }
    }
}
