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

/// Maps and parses the binary at `path`, for `use_file`.
pub fn with_file<T>(
    path: &Path,
    use_file: impl FnOnce(&object::File<'_>) -> Result<T>,
) -> Result<T> {
    let data = Mapped::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = object::File::parse(data.bytes())
        .with_context(|| format!("{} is not an object file", path.display()))?;
    use_file(&file)
}

/// A file mapped read-only. Every link maps the program it just wrote
/// (megabytes, most of them the runtime's code and the DWARF of the Rust
/// standard library, which the sidecar never looks at): copying it into
/// the heap cost more than everything else the sidecar does, while a
/// mapping only faults in the pages that are read.
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn open(path: &Path) -> std::io::Result<Mapped> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path)?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::other("file too large to map"))?;
        if len == 0 {
            // mmap refuses empty lengths; an empty file is no ELF file,
            // which the parser reports
            return Ok(Mapped { ptr: std::ptr::null_mut(), len: 0 });
        }
        // SAFETY: a fresh private read-only mapping of an open descriptor;
        // the mapping outlives the descriptor, which may be closed after.
        let ptr = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0)
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapped { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` maps `len` readable bytes until `drop`. Linkers
        // replace their output file rather than rewrite it in place, so
        // the bytes do not change under a reader (a program truncated
        // while it is read would fault here, as it would in the loader).
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: unmaps exactly what `open` mapped, once.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
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
