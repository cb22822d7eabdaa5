//! The transfer engine, set up to predict rather than perform.
//!
//! `Transfer::new` compiles the plans of every global and stops at the
//! first that fails, so the diff builds two engines: the real one over the
//! full sidecars (its error is exactly where `lucc update` would stop), and
//! one over copies without variables, which never fails to build and
//! answers `plan` / `site_plan` for each item separately. Type ids are
//! indexes into the unchanged type tables, so both engines speak the same
//! ids.

use lucc_abi::sidecar::Sidecar;
use lucc_transfer::{Biases, Transfer, TransferError, Transform};

/// A sidecar without globals and static locals.
pub fn without_variables(sc: &Sidecar) -> Sidecar {
    Sidecar { globals: Vec::new(), static_locals: Vec::new(), ..sc.clone() }
}

/// The error `Transfer::new` reports for the full sidecars, if any.
pub fn setup_error(old: &Sidecar, new: &Sidecar, tf: &Transform) -> Option<String> {
    Transfer::new(old, new, tf, Biases::default()).err().map(|e| e.to_string())
}

/// The per-item engine over variable-less sidecars.
pub fn per_item<'a>(old: &'a Sidecar, new: &'a Sidecar, tf: &'a Transform) -> Transfer<'a> {
    Transfer::new(old, new, tf, Biases::default()).expect("no variables, nothing to fail on")
}

/// An error of a plan asked for one item, worded as the update words it
/// for that item: the engine names the type pair's new type, the update
/// names the field or variable.
pub fn item_error(item: &str, e: &TransferError) -> String {
    match e {
        TransferError::Unconvertible { from, to, .. } => format!("{item}: {from} -> {to}: cannot convert"),
        TransferError::Union { union, .. } => format!(
            "{item}: union {union}: active member unknown and its layout changed (name it with `active` in the transform file)"
        ),
        e => format!("{item}: {e}"),
    }
}
