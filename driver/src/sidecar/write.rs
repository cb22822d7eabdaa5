//! Assembling and writing `PROG.lumap`.
//!
//! The output must be byte-identical for the same binary (builds are
//! compared, and the runtime may cache by content), so everything is in a
//! fixed order: types, globals and functions in DWARF order, sites by id,
//! wrappers by name, units sorted. The file is written beside the binary
//! through a temporary name and renamed, so a reader never sees half a
//! sidecar.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lucc_abi::sidecar::{Sidecar, SIDECAR_VERSION};

use super::{dwarf, elf, invariants, sites, state, types};

/// The sidecar of the binary at `path`.
pub fn build(path: &Path) -> Result<Sidecar> {
    elf::with_file(path, |file| {
        let build_id = elf::build_id(file, path)?;
        let fragments = elf::fragments(file, path)?;
        let program = dwarf::load(file)
            .with_context(|| format!("{}: cannot read its DWARF", path.display()))?;
        let mut table = types::TypeTable::build(&program);
        let state = state::collect(&program, &table, &elf::local_symbols(file));
        let unit_paths: Vec<PathBuf> = program.units.iter().map(|u| u.path.clone()).collect();
        let merged = sites::merge(&fragments, &unit_paths, &mut table)
            .with_context(|| format!("{}", path.display()))?;
        let mut sidecar = Sidecar {
            format_version: SIDECAR_VERSION,
            abi_version: lucc_abi::ABI_VERSION,
            build_id,
            binary: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            types: table.types,
            globals: state.globals,
            static_locals: state.static_locals,
            functions: state.functions,
            sites: merged.sites,
            wrappers: merged.wrappers,
            units: merged.units,
            unplaced: state.unplaced,
            invariants: None,
        };
        sidecar.invariants = Some(invariants::merge_fragments(&fragments, &sidecar));
        Ok(sidecar)
    })
}

pub fn write(binary: &Path) -> Result<PathBuf> {
    let sidecar = build(binary)?;
    let out = Sidecar::path_for(binary);
    let mut tmp = out.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, sidecar.to_json())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    if let Err(e) = std::fs::rename(&tmp, &out) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", out.display()));
    }
    Ok(out)
}
