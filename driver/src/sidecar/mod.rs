//! Writing the sidecar after a link, and `lucc inspect`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Builds `PROG.lumap` from the linked binary's DWARF and fragments.
pub fn write_for_binary(_binary: &Path) -> anyhow::Result<PathBuf> {
    anyhow::bail!("sidecar writing is not built yet")
}

/// `lucc inspect [--json] PROG`.
pub fn inspect_main(_args: &[OsString]) -> i32 {
    eprintln!("lucc inspect: not built yet");
    2
}
