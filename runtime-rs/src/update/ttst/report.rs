//! A difference between the old state and the state after the round trip,
//! as the rollback message names it: where (the path from a variable),
//! which type and field, the value before and after.

use std::fmt;

/// At most this many differences are collected: the first ones name the
/// cause, the rest mostly follow from them.
pub const MAX_DIFFERENCES: usize = 3;

pub struct Difference {
    /// From a variable: `stock->next->qty`, `table[3].name`.
    pub path: String,
    /// `struct item.qty`, or the object's type where no field applies.
    pub what: String,
    pub before: String,
    pub after: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at {}): {} before, {} after the round trip", self.what, self.path, self.before, self.after)
    }
}

/// The rollback message for `diffs` (not empty); `dropped`: the fields,
/// variables and array elements the forward update dropped, which were
/// left out.
pub fn message(diffs: &[Difference], compared_values: u64, dropped: u64) -> String {
    let list: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
    let left_out = if dropped == 0 { String::new() } else { format!("; {dropped} dropped by the update, not compared") };
    format!(
        "the state differs after the round trip through the old version ({} value{} compared before stopping{left_out}): {}",
        compared_values,
        if compared_values == 1 { "" } else { "s" },
        list.join("; ")
    )
}

/// A scalar as C would print it.
pub fn scalar(bytes: &[u8], float: bool, signed: bool) -> String {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    let raw = u64::from_le_bytes(b);
    match (float, n) {
        (true, 4) => format!("{}", f32::from_bits(raw as u32)),
        (true, 8) => format!("{}", f64::from_bits(raw)),
        (true, _) => format!("{:02x?}", bytes),
        (false, 0) => "(empty)".into(),
        (false, _) if signed => {
            let shift = 64 - 8 * n as u32;
            format!("{}", ((raw << shift) as i64) >> shift)
        }
        (false, _) => format!("{raw}"),
    }
}
