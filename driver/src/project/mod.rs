//! `lucc build`: cargo-style builds of a `lucc.toml` project.

use std::ffi::OsString;

/// `lucc build [...]`.
pub fn build_main(_args: &[OsString]) -> i32 {
    eprintln!("lucc build: not built yet");
    2
}
