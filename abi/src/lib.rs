//! The contract between the three halves of lucc.
//!
//! The pass (compile time), the runtime (inside every lucc program) and the
//! driver (link time, `inspect`, `update`) must agree on the names of the
//! runtime entry points, on the encoding of the type-map fragments carried
//! inside object files, and on the sidecar format. All of it lives here so
//! that it cannot drift: a change to the ABI bumps [`ABI_VERSION`], which
//! renames [`ABI_CHECK_SYMBOL`], so that an object instrumented by one
//! version of the pass fails to link against a runtime of another.

pub mod control;
pub mod fragment;
pub mod sidecar;
pub mod symbols;
pub mod wrapped;

/// Version of the pass <-> runtime calling convention.
pub const ABI_VERSION: u32 = 1;

/// Defined by the runtime, referenced by every instrumented object; its name
/// carries [`ABI_VERSION`], so a mismatch is an undefined symbol at link time.
pub const ABI_CHECK_SYMBOL: &str = "__lucc_abi_version_1";

/// Identifies an allocation site across a whole program.
///
/// Computed by the pass from the translation unit's identity, the function
/// and the site's ordinal in it (see [`site_id`]); the linker-side merge
/// rejects collisions.
pub type SiteId = u32;

/// Site id of heap blocks whose allocation site is unknown (memory handed to
/// the runtime by uninstrumented code, or sites of a dropped candidate).
pub const UNKNOWN_SITE: SiteId = 0;

/// FNV-1a, 64 bit: deterministic across runs and platforms, which is all the
/// site ids and translation-unit hashes need.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The site id of the `ordinal`-th allocation call in `function` of the
/// translation unit `tu` (its source path as given to the compiler).
/// Never [`UNKNOWN_SITE`].
pub fn site_id(tu: &str, function: &str, ordinal: u32) -> SiteId {
    let mut key = Vec::with_capacity(tu.len() + function.len() + 8);
    key.extend_from_slice(tu.as_bytes());
    key.push(0);
    key.extend_from_slice(function.as_bytes());
    key.push(0);
    key.extend_from_slice(&ordinal.to_le_bytes());
    let h = fnv1a64(&key);
    let id = (h ^ (h >> 32)) as u32;
    if id == UNKNOWN_SITE {
        1
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_ids_are_stable_and_distinct() {
        let a = site_id("src/a.c", "main", 0);
        assert_eq!(a, site_id("src/a.c", "main", 0));
        assert_ne!(a, site_id("src/a.c", "main", 1));
        assert_ne!(a, site_id("src/b.c", "main", 0));
        assert_ne!(a, UNKNOWN_SITE);
    }
}
