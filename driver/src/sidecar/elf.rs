//! What the sidecar reads from the linked ELF file itself: its GNU build id
//! (which ties a sidecar to exactly one build), the fragment section, and
//! the local symbols (which name a static local's function where the DWARF
//! does not, see `state`).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use lucc_abi::fragment::{self, Fragment};
use lucc_abi::symbols::FRAGMENT_SECTION;
use object::{Object, ObjectSection, ObjectSymbol};

/// Hex GNU build id of a parsed binary.
pub fn build_id(file: &object::File<'_>, path: &Path) -> Result<String> {
    match file
        .build_id()
        .with_context(|| format!("{}: bad build id note", path.display()))?
    {
        Some(id) if !id.is_empty() => Ok(id.iter().map(|b| format!("{b:02x}")).collect()),
        _ => bail!(
            "{} has no GNU build id (link it with -Wl,--build-id)",
            path.display()
        ),
    }
}

/// Reads and parses the binary at `path`, for `use_file`.
pub fn with_file<T>(
    path: &Path,
    use_file: impl FnOnce(&object::File<'_>) -> Result<T>,
) -> Result<T> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = object::File::parse(&*data)
        .with_context(|| format!("{} is not an object file", path.display()))?;
    use_file(&file)
}

/// Every fragment carried by the binary.
pub fn fragments(file: &object::File<'_>, path: &Path) -> Result<Vec<Fragment>> {
    let Some(section) = file.section_by_name(FRAGMENT_SECTION) else {
        bail!(
            "{} has no {FRAGMENT_SECTION} section: it was not built by lucc (or its objects were compiled without it)",
            path.display()
        );
    };
    let data = section
        .uncompressed_data()
        .with_context(|| format!("{}: {FRAGMENT_SECTION}", path.display()))?;
    fragment::decode_all(&data).with_context(|| format!("{}: {FRAGMENT_SECTION}", path.display()))
}

/// Names of the file-local symbols of `.symtab`, by address. Empty for a
/// stripped binary.
pub fn local_symbols(file: &object::File<'_>) -> HashMap<u64, Vec<String>> {
    let mut by_address: HashMap<u64, Vec<String>> = HashMap::new();
    for symbol in file.symbols() {
        if !symbol.is_local() || !symbol.is_definition() {
            continue;
        }
        if let Ok(name) = symbol.name() {
            if !name.is_empty() {
                by_address
                    .entry(symbol.address())
                    .or_default()
                    .push(name.into());
            }
        }
    }
    by_address
}
