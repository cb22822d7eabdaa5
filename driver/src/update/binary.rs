//! The new binary must be a lucc build: an ELF file with a GNU build id
//! and a sidecar describing exactly that build. Checked before the
//! program is contacted, so a wrong file changes nothing.

use std::path::{Path, PathBuf};

use lucc_abi::sidecar::Sidecar;
use object::Object;

/// The GNU build id of an ELF file, in hex; `Ok(None)` when it has none.
/// Only the headers and the note are read (`ReadCache`), not the whole
/// file: binaries with debug info run to megabytes, and this is on the
/// update's path, before the running program is even contacted.
pub fn gnu_build_id(path: &Path) -> Result<Option<String>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let cache = object::ReadCache::new(f);
    let file = object::File::parse(&cache).map_err(|_| format!("{} is not an executable (not ELF)", path.display()))?;
    Ok(match file.build_id() {
        Ok(Some(id)) if !id.is_empty() => Some(id.iter().map(|b| format!("{b:02x}")).collect()),
        _ => None,
    })
}

/// The binary's absolute path, if it passes.
pub fn check(binary: &Path) -> Result<PathBuf, String> {
    let abs = std::fs::canonicalize(binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    let Some(id) = gnu_build_id(&abs)? else {
        return Err(format!("{} has no GNU build id: it was not built by lucc", abs.display()));
    };
    Sidecar::read_for(&abs, &id).map_err(|e| format!("{e}; {} was not built by lucc (or not by this one)", abs.display()))?;
    Ok(abs)
}
