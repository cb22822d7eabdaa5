//! Errors of the state transfer.
//!
//! Every error names what a person must look at to fix the update: the type
//! and field (`struct conn.fd`), the offending value, the union, the
//! function or the transform-file key. An update that hits one is rolled
//! back by the caller, so the message is all the operator gets.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum TransferError {
    /// The old and new types have no meaningful conversion.
    #[error("{ctx}: {from} -> {to}: cannot convert")]
    Unconvertible {
        ctx: String,
        from: String,
        to: String,
    },
    /// An integer (or bitfield) value does not fit its new type.
    #[error("{ctx}: value {value} does not fit in {to}")]
    OutOfRange {
        ctx: String,
        value: i128,
        to: String,
    },
    /// An enum or integer value has no enumerator in the new enum.
    #[error("{ctx}: value {value} has no counterpart in {to}")]
    NoEnumerator {
        ctx: String,
        value: i128,
        to: String,
    },
    /// A shrunk array would lose a non-zero element.
    #[error("{ctx}: array shrinks from {old} to {new} elements but element {index} is not zero (set allow_truncate in the transform file to drop it)")]
    Truncation {
        ctx: String,
        old: u64,
        new: u64,
        index: u64,
    },
    /// A union whose active member is unknown and whose layout changed.
    #[error("{ctx}: union {union}: active member unknown and its layout changed (name it with `active` in the transform file)")]
    Union { ctx: String, union: String },
    /// A function pointer to a function the new version no longer has.
    #[error("pointer {ptr:#x} to function {name}: the new version has no function of that name")]
    FunctionGone { ptr: u64, name: String },
    /// A pointer into a part of a variable or object that no longer exists.
    #[error("pointer {ptr:#x} into {target} at offset {offset}: that part does not exist in the new version")]
    InteriorGone {
        ptr: u64,
        target: String,
        offset: u64,
    },
    /// A pointer to a variable that the new version dropped.
    #[error("pointer {ptr:#x} to {name}: the new version has no such variable")]
    VariableGone { ptr: u64, name: String },
    /// Untyped memory references a heap object whose type changed, so it
    /// would have to move, but such objects must stay in place.
    #[error("word {word:#x} in untyped memory points into the heap object at {base:#x} (site {site:#x}), whose type changed in a way that does not fit its block; untyped references pin objects in place")]
    PinnedMoved { word: u64, base: u64, site: u32 },
    /// The transform file is invalid.
    #[error("transform file: {0}")]
    Transform(String),
    /// A type id, variable or site missing from a sidecar.
    #[error("sidecar: {0}")]
    Sidecar(String),
    /// Caller passed buffers that do not cover the value.
    #[error("{ctx}: buffer of {got} bytes, {need} needed")]
    Buffer { ctx: String, got: usize, need: u64 },
}

pub type Result<T, E = TransferError> = std::result::Result<T, E>;
