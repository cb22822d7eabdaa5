//! The invariant model (filled by the invariant pass).
