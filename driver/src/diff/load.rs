//! Reading OLD and NEW: a lucc binary (its sidecar beside it, checked
//! against its build id exactly as `lucc inspect` does, since a stale
//! sidecar describes memory laid out differently) or a `.lumap` directly.
//!
//! From a binary the diff also learns which functions the state holds the
//! address of at start: a function pointer in a global's initializer is a
//! dynamic relocation (PIE) or a literal word (fixed address) inside the
//! global. Removing such a function breaks the update.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lucc_abi::sidecar::{Sidecar, SidecarError, Variable};
use lucc_abi::symbols::SIDECAR_EXTENSION;
use object::{Object, ObjectSection};

pub struct Build {
    pub shown: String,
    pub sidecar: Sidecar,
    /// Function name -> the variables whose initial value points at it,
    /// each with the byte offsets inside it that hold the address (so that
    /// a transform dropping that part of the variable is accounted for).
    /// Empty when only a `.lumap` was given.
    pub function_holders: BTreeMap<String, BTreeMap<String, BTreeSet<u64>>>,
    /// Whether the binary was read (`function_holders` is meaningful).
    pub have_binary: bool,
}

pub fn load(arg: &Path) -> Result<Build> {
    let named_sidecar = arg.extension().is_some_and(|e| e == SIDECAR_EXTENSION);
    let (binary, sidecar_path): (PathBuf, PathBuf) = if named_sidecar {
        (arg.with_extension(""), arg.to_path_buf())
    } else {
        (arg.to_path_buf(), Sidecar::path_for(arg))
    };
    let shown = arg.display().to_string();
    if !binary.is_file() {
        if named_sidecar {
            let sidecar = Sidecar::read(&sidecar_path)?;
            return Ok(Build { shown, sidecar, function_holders: BTreeMap::new(), have_binary: false });
        }
        bail!("no such program: {}", arg.display());
    }
    let data = std::fs::read(&binary).with_context(|| format!("cannot read {}", binary.display()))?;
    let file = object::File::parse(&*data).with_context(|| format!("{} is not an object file", binary.display()))?;
    let build_id = match file.build_id().with_context(|| format!("{}: bad build id note", binary.display()))? {
        Some(id) if !id.is_empty() => id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        _ => bail!("{} has no GNU build id (link it with -Wl,--build-id)", binary.display()),
    };
    let sidecar = Sidecar::read_for(&binary, &build_id).map_err(|e| match e {
        SidecarError::Missing(path) => anyhow::anyhow!("no sidecar at {path} (was {} linked by lucc?)", binary.display()),
        SidecarError::Stale { .. } => anyhow::anyhow!("{e}; relink {} with lucc", binary.display()),
        other => other.into(),
    })?;
    let function_holders = function_holders(&file, &sidecar);
    Ok(Build { shown, sidecar, function_holders, have_binary: true })
}

fn var_name(v: &Variable) -> String {
    if v.function.is_empty() {
        v.name.clone()
    } else {
        format!("{}::{}", v.function, v.name)
    }
}

fn function_holders(file: &object::File<'_>, sc: &Sidecar) -> BTreeMap<String, BTreeMap<String, BTreeSet<u64>>> {
    let functions: HashMap<u64, &str> = sc.functions.iter().map(|f| (f.address, f.name.as_str())).collect();
    let vars: Vec<&Variable> = sc.globals.iter().chain(&sc.static_locals).collect();
    let holder = |addr: u64| vars.iter().find(|v| addr >= v.address && addr < v.address + v.size.max(1));
    let mut out: BTreeMap<String, BTreeMap<String, BTreeSet<u64>>> = BTreeMap::new();
    let mut note = |at: u64, value: u64| {
        if let (Some(f), Some(v)) = (functions.get(&value), holder(at)) {
            out.entry(f.to_string()).or_default().entry(var_name(v)).or_default().insert(at - v.address);
        }
    };
    if let Some(relocs) = file.dynamic_relocations() {
        for (at, r) in relocs {
            note(at, r.addend() as u64);
        }
    }
    // Fixed-address binaries store the address itself.
    for section in file.sections() {
        let Ok(bytes) = section.data() else { continue };
        let base = section.address();
        if base == 0 {
            continue; // not loaded (debug info)
        }
        for v in &vars {
            if v.address < base || v.address + v.size > base + bytes.len() as u64 {
                continue;
            }
            let start = (v.address - base) as usize;
            for k in (0..v.size as usize / 8).map(|k| start + k * 8) {
                let word = u64::from_le_bytes(bytes[k..k + 8].try_into().expect("8 bytes"));
                note(base + k as u64, word);
            }
        }
    }
    out
}
