//! The new binary must be a lucc build: an ELF file with a GNU build id
//! and a sidecar describing exactly that build. Checked before the
//! program is contacted, so a wrong file changes nothing.

use std::path::{Path, PathBuf};

use lucc_abi::sidecar::Sidecar;
use object::Object;

/// The binary's absolute path, if it passes.
pub fn check(binary: &Path) -> Result<PathBuf, String> {
    let abs = std::fs::canonicalize(binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    let data = std::fs::read(&abs).map_err(|e| format!("cannot read {}: {e}", abs.display()))?;
    let file = object::File::parse(&*data).map_err(|_| format!("{} is not an executable (not ELF)", abs.display()))?;
    let id = match file.build_id() {
        Ok(Some(id)) if !id.is_empty() => id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        _ => return Err(format!("{} has no GNU build id: it was not built by lucc", abs.display())),
    };
    Sidecar::read_for(&abs, &id).map_err(|e| format!("{e}; {} was not built by lucc (or not by this one)", abs.display()))?;
    Ok(abs)
}
