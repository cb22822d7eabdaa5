//! Writing the sidecar after a link, and `lucc inspect`.
//!
//! The sidecar joins two sources: the linked binary's DWARF (`dwarf`,
//! `types`, `state`: layouts, globals, static locals, functions, read with
//! gimli so that nothing depends on LLVM internals) and the fragments the
//! pass left in each object's `.lucc.fragment` section (`sites`). `write`
//! assembles and writes it; `inspect` shows it; `cspell` spells types as C
//! does for both.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub mod cspell;
mod dwarf;
mod elf;
mod inspect;
mod invariants;
mod sites;
mod state;
mod types;
mod write;

/// Builds `PROG.lumap` from the linked binary's DWARF and fragments.
pub fn write_for_binary(binary: &Path) -> anyhow::Result<PathBuf> {
    write::write(binary)
}

/// `lucc inspect [--json] PROG`.
pub fn inspect_main(args: &[OsString]) -> i32 {
    inspect::main(args)
}
