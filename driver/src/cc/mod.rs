//! cc-compatible mode: `CC=lucc make`.

use std::ffi::OsString;

/// Runs a compiler command line; returns the exit code.
pub fn cc_main(_args: Vec<OsString>) -> i32 {
    eprintln!("lucc: compiler mode is not built yet");
    2
}
