//! The sidecar `PROG.lumap`: everything the update needs to find and type
//! every byte of a program's state.
//!
//! Written by the driver after linking (DWARF of the linked binary for
//! layouts and addresses, merged fragments for allocation sites), read by
//! `lucc inspect` and by the runtime at update time. The format version comes
//! first; later versions only add fields (all of which have serde defaults),
//! so an older reader refuses only a newer *major* format. The sidecar is
//! tied to its binary by the GNU build id.

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::SiteId;

/// Format version written by this lucc.
pub const SIDECAR_VERSION: u32 = 1;

/// Index into [`Sidecar::types`].
pub type TypeId = u32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Sidecar {
    /// First field on purpose: readers check it before anything else.
    pub format_version: u32,
    pub abi_version: u32,
    /// Hex GNU build id of the binary this sidecar describes.
    pub build_id: String,
    /// File name of the binary (informational).
    pub binary: String,
    /// Every type reachable from the program's state, deduplicated.
    pub types: Vec<TypeDef>,
    /// Globals, file-scope statics included.
    pub globals: Vec<Variable>,
    /// `static` variables declared inside functions.
    pub static_locals: Vec<Variable>,
    /// Functions with their addresses (function pointers are remapped by
    /// symbol).
    pub functions: Vec<Function>,
    /// Allocation sites, sorted by id.
    pub sites: Vec<Site>,
    /// Allocation wrappers found in the program.
    pub wrappers: Vec<Wrapper>,
    /// Source files that were instrumented.
    pub units: Vec<String>,
    /// Variables the source defines that are in neither `globals` nor
    /// `static_locals`, and why: the optimiser removed them or left them
    /// with no single address. An update cannot carry their values over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unplaced: Vec<UnplacedVariable>,
    /// The static invariants of fields, globals and static locals (what
    /// every store of every unit allows), checked after an update's
    /// transfer. Absent from sidecars written before they existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariants: Option<lucc_invariants::ProgramInvariants>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeDef {
    pub id: TypeId,
    /// C spelling, for people: `struct node`, `unsigned int`, `char *`.
    pub name: String,
    /// Size in bytes (0 for incomplete types and functions).
    pub size: u64,
    #[serde(flatten)]
    pub kind: TypeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TypeKind {
    /// Integer, float, bool, char.
    Base { encoding: BaseEncoding },
    Struct { fields: Vec<Field>, declaration: bool },
    Union { fields: Vec<Field>, declaration: bool },
    Enum { underlying: Option<TypeId>, enumerators: Vec<Enumerator> },
    Pointer { pointee: Option<TypeId> },
    /// `count` is `None` for flexible or unknown-length arrays.
    Array { element: TypeId, count: Option<u64> },
    Typedef { target: Option<TypeId> },
    Function { ret: Option<TypeId>, params: Vec<TypeId>, variadic: bool },
    /// `void`.
    Void,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseEncoding {
    Signed,
    Unsigned,
    SignedChar,
    UnsignedChar,
    Float,
    Bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Empty for anonymous struct/union members.
    pub name: String,
    pub ty: TypeId,
    /// Byte offset within the enclosing type.
    pub offset: u64,
    /// For bitfields: offset in bits from `offset * 8`, and width in bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enumerator {
    pub name: String,
    pub value: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    pub name: String,
    /// For static locals, the enclosing function; empty for globals.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub function: String,
    /// Translation unit that defines it (file-scope statics of the same name
    /// in two units are told apart by it).
    pub unit: String,
    pub address: u64,
    pub size: u64,
    pub ty: Option<TypeId>,
    /// True for file-scope `static` (internal linkage).
    #[serde(default)]
    pub local_linkage: bool,
}

/// A variable with a debug-info entry but no fixed address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnplacedVariable {
    pub name: String,
    /// For static locals, the enclosing function; empty for globals.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub function: String,
    pub unit: String,
    /// What became of it, in words.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub unit: String,
    pub address: u64,
    pub size: u64,
    #[serde(default)]
    pub local_linkage: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub id: SiteId,
    pub function: String,
    pub file: String,
    pub line: u32,
    /// The allocator or wrapper called.
    pub callee: String,
    /// Wrapper chain from `callee` down to libc, outermost first
    /// (`["xmalloc", "zmalloc", "malloc"]`); empty for direct calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
    /// Offset of the object within the heap block (a size header's length).
    pub offset: i64,
    /// The type of the object(s) in the block; `None` when untyped. A block
    /// larger than the type holds an array of it; the allocated size, not
    /// the type's size, is the extent.
    pub ty: Option<TypeId>,
    /// How the pass saw the type, kept when `ty` could not be resolved.
    pub ty_desc: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wrapper {
    pub name: String,
    pub inner: String,
    pub offset: i64,
}

#[derive(Debug, Error)]
pub enum SidecarError {
    #[error("no sidecar at {0} (was the program linked by lucc?)")]
    Missing(String),
    #[error("sidecar {0} is corrupt: {1}")]
    Corrupt(String, String),
    #[error("sidecar {path} has format version {found}; this lucc reads version {SIDECAR_VERSION}")]
    Version { path: String, found: u32 },
    #[error("sidecar {path} is stale: it describes build {sidecar}, the binary is build {binary}")]
    Stale { path: String, sidecar: String, binary: String },
    #[error("cannot read {0}: {1}")]
    Io(String, std::io::Error),
}

impl Sidecar {
    /// The sidecar path for a program: `PROG.lumap` beside `PROG`.
    pub fn path_for(program: &Path) -> std::path::PathBuf {
        let mut name = program.as_os_str().to_owned();
        name.push(".");
        name.push(crate::symbols::SIDECAR_EXTENSION);
        name.into()
    }

    /// Deterministic JSON encoding.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("sidecars always serialise")
    }

    /// Parses a sidecar, checking the format version first.
    pub fn from_json(path: &str, text: &[u8]) -> Result<Sidecar, SidecarError> {
        #[derive(Deserialize)]
        struct Head {
            format_version: u32,
        }
        let head: Head = serde_json::from_slice(text)
            .map_err(|e| SidecarError::Corrupt(path.into(), e.to_string()))?;
        if head.format_version != SIDECAR_VERSION {
            return Err(SidecarError::Version { path: path.into(), found: head.format_version });
        }
        serde_json::from_slice(text).map_err(|e| SidecarError::Corrupt(path.into(), e.to_string()))
    }

    /// Reads the sidecar at `path`.
    pub fn read(path: &Path) -> Result<Sidecar, SidecarError> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SidecarError::Missing(shown.clone())
            } else {
                SidecarError::Io(shown.clone(), e)
            }
        })?;
        Self::from_json(&shown, &text)
    }

    /// Reads the sidecar of `program` and checks it describes this build.
    pub fn read_for(program: &Path, binary_build_id: &str) -> Result<Sidecar, SidecarError> {
        let path = Self::path_for(program);
        let sidecar = Self::read(&path)?;
        if sidecar.build_id != binary_build_id {
            return Err(SidecarError::Stale {
                path: path.display().to_string(),
                sidecar: sidecar.build_id,
                binary: binary_build_id.into(),
            });
        }
        Ok(sidecar)
    }

    pub fn ty(&self, id: TypeId) -> Option<&TypeDef> {
        self.types.get(id as usize)
    }

    pub fn site(&self, id: SiteId) -> Option<&Site> {
        self.sites.binary_search_by_key(&id, |s| s.id).ok().map(|i| &self.sites[i])
    }

    pub fn global(&self, name: &str) -> Option<&Variable> {
        self.globals.iter().find(|g| g.name == name)
    }

    /// Follows typedefs to the type they name.
    pub fn resolve(&self, mut id: TypeId) -> Option<&TypeDef> {
        for _ in 0..64 {
            let t = self.ty(id)?;
            match t.kind {
                TypeKind::Typedef { target: Some(next) } => id = next,
                _ => return Some(t),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_format_is_refused_before_parsing_the_rest() {
        let err = Sidecar::from_json("x.lumap", br#"{"format_version": 99, "junk": true}"#).unwrap_err();
        assert!(matches!(err, SidecarError::Version { found: 99, .. }), "{err}");
    }

    #[test]
    fn garbage_is_corrupt() {
        let err = Sidecar::from_json("x.lumap", b"\x7fELF").unwrap_err();
        assert!(matches!(err, SidecarError::Corrupt(..)), "{err}");
    }

    #[test]
    fn sidecar_without_invariants_still_loads() {
        let s = Sidecar { format_version: SIDECAR_VERSION, build_id: "ab".into(), ..Default::default() };
        let json = s.to_json();
        assert!(!json.contains("invariants"));
        assert_eq!(Sidecar::from_json("x", json.as_bytes()).unwrap().invariants, None);
    }

    #[test]
    fn roundtrip() {
        let s = Sidecar { format_version: SIDECAR_VERSION, build_id: "ab".into(), ..Default::default() };
        assert_eq!(Sidecar::from_json("x", s.to_json().as_bytes()).unwrap(), s);
    }
}
