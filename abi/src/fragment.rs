//! Per-translation-unit type-map fragments.
//!
//! The pass serialises one [`Fragment`] per object file into the
//! [`crate::symbols::FRAGMENT_SECTION`] ELF section. The linker concatenates
//! those sections (possibly with alignment padding between them), so each
//! fragment is framed: [`FRAGMENT_MAGIC`], a little-endian `u32` length, then
//! that many bytes of JSON. [`decode_all`] walks a concatenated section.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::SiteId;

/// Starts every framed fragment.
pub const FRAGMENT_MAGIC: &[u8; 8] = b"LUCCFRG1";

/// Format version of [`Fragment`]; fields are only ever added.
pub const FRAGMENT_VERSION: u32 = 1;

/// What the pass learned about one translation unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Fragment {
    pub version: u32,
    /// The source file as named on the compiler's command line.
    pub source: String,
    /// Allocation sites found in this unit (libc calls and calls through
    /// allocation wrappers), in program order.
    pub sites: Vec<SiteRecord>,
    /// Functions of this unit that return fresh heap memory.
    pub wrappers: Vec<WrapperRecord>,
    /// Functions defined in this unit, with the reason any was left
    /// uninstrumented.
    #[serde(default)]
    pub skipped: Vec<String>,
    /// Every store and address escape of this unit's globals and struct
    /// fields, for the static invariants (merged across units at link time).
    #[serde(default)]
    pub invariants: lucc_invariants::UnitFacts,
}

/// One allocation site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRecord {
    pub id: SiteId,
    /// Function containing the call.
    pub function: String,
    /// Source position of the call (0 when there is no debug location).
    pub file: String,
    pub line: u32,
    /// Name of the function called: a libc allocator (`malloc`, `calloc`,
    /// ...) or a wrapper (`xmalloc`).
    pub callee: String,
    /// True when the callee is a libc allocator rewritten to the runtime;
    /// false for calls to possible wrappers (retagged after the call).
    pub direct: bool,
    /// The type the program gives the result.
    pub ty: SiteType,
}

/// The type of the object(s) an allocation site creates, as the LLVM IR
/// shows it; the link step resolves it against DWARF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SiteType {
    /// Only ever used as `void *`/bytes: recorded as untyped, not guessed.
    Untyped,
    /// A named struct or union (`struct.node` in IR is `node` here).
    Record { name: String, union: bool },
    /// An integer of this many bits (`char` buffers are 8).
    Int { bits: u32 },
    /// A floating-point scalar of this many bits.
    Float { bits: u32 },
    /// A pointer (the block holds pointers, e.g. `char **`).
    Pointer,
    /// A function pointer table.
    FunctionPointer,
}

/// A function that returns heap memory obtained from an allocator (directly
/// or through another wrapper), possibly at an offset past a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapperRecord {
    pub name: String,
    /// The allocator or wrapper it calls.
    pub inner: String,
    /// Bytes between the start of the inner allocation and the pointer this
    /// wrapper returns (8 for a `size_t` size header).
    pub offset: i64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FragmentError {
    #[error("fragment section is corrupt at byte {0}: {1}")]
    Corrupt(usize, String),
    #[error("fragment at byte {0} has version {1}, this lucc reads up to {FRAGMENT_VERSION}")]
    Version(usize, u32),
}

/// Frames one fragment for the section.
pub fn encode(fragment: &Fragment) -> Vec<u8> {
    let json = serde_json::to_vec(fragment).expect("fragments always serialise");
    let mut out = Vec::with_capacity(json.len() + 12);
    out.extend_from_slice(FRAGMENT_MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out
}

/// Reads every fragment of a (linker-concatenated) section. Zero bytes
/// between frames are alignment padding and are skipped.
pub fn decode_all(section: &[u8]) -> Result<Vec<Fragment>, FragmentError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < section.len() {
        if section[at] == 0 {
            at += 1;
            continue;
        }
        let rest = &section[at..];
        if rest.len() < 12 || &rest[..8] != FRAGMENT_MAGIC {
            return Err(FragmentError::Corrupt(at, "missing fragment magic".into()));
        }
        let len = u32::from_le_bytes(rest[8..12].try_into().unwrap()) as usize;
        let body = rest
            .get(12..12 + len)
            .ok_or_else(|| FragmentError::Corrupt(at, "fragment runs past the section".into()))?;
        let fragment: Fragment = serde_json::from_slice(body)
            .map_err(|e| FragmentError::Corrupt(at, e.to_string()))?;
        if fragment.version > FRAGMENT_VERSION {
            return Err(FragmentError::Version(at, fragment.version));
        }
        out.push(fragment);
        at += 12 + len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(source: &str) -> Fragment {
        Fragment {
            version: FRAGMENT_VERSION,
            source: source.into(),
            sites: vec![SiteRecord {
                id: 7,
                function: "main".into(),
                file: source.into(),
                line: 3,
                callee: "malloc".into(),
                direct: true,
                ty: SiteType::Record { name: "node".into(), union: false },
            }],
            wrappers: vec![],
            skipped: vec![],
            invariants: Default::default(),
        }
    }

    #[test]
    fn concatenated_fragments_with_padding_decode() {
        let mut section = encode(&sample("a.c"));
        section.extend_from_slice(&[0, 0, 0]);
        section.extend_from_slice(&encode(&sample("b.c")));
        let got = decode_all(&section).unwrap();
        assert_eq!(got, vec![sample("a.c"), sample("b.c")]);
    }

    #[test]
    fn truncated_section_is_reported() {
        let section = encode(&sample("a.c"));
        let err = decode_all(&section[..section.len() - 1]).unwrap_err();
        assert!(matches!(err, FragmentError::Corrupt(0, _)), "{err}");
    }
}
