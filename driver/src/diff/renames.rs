//! Likely renames: something removed and something of the same type added
//! in the same place (the same struct, the same kind of variable). The
//! update cannot tell a rename from a drop plus an add — it would discard
//! the old value and start the new one at zero — so a likely rename is a
//! decision for the operator, pre-filled in `--template`.

use super::model::{Change, Class, Rename};

/// Pairs removed items with added ones: first those with the same type
/// spelling, in order; then, if exactly one of each is left, those two
/// when the engine can convert one into the other (a renamed and widened
/// field).
pub fn pair<R, A>(
    removed: &[R],
    added: &[A],
    same_type: impl Fn(&R, &A) -> bool,
    convertible: impl FnOnce(&R, &A) -> bool,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut taken = vec![false; added.len()];
    let mut left = Vec::new();
    for (i, r) in removed.iter().enumerate() {
        match (0..added.len()).find(|&j| !taken[j] && same_type(r, &added[j])) {
            Some(j) => {
                taken[j] = true;
                out.push((i, j));
            }
            None => left.push(i),
        }
    }
    let free: Vec<usize> = (0..added.len()).filter(|&j| !taken[j]).collect();
    if let ([i], [j]) = (left.as_slice(), free.as_slice()) {
        if convertible(&removed[*i], &added[*j]) {
            out.push((*i, *j));
        }
    }
    out
}

/// Marks the removed change (index `r` in `out`) as needing a decision
/// and both changes with the suggestion. `key` says what to declare.
pub fn suggest(out: &mut [Change], (r, a): (usize, usize), rename: Rename, key: &str) {
    let otherwise = match rename.what {
        "field" => ", or list it in `dropped` if it is really gone",
        "global" => ", or list it in `dropped_globals` if it is really gone",
        _ => "",
    };
    let reason = format!(
        "{} looks renamed to {} ({}): declare `renamed_from = \"{}\"` under {key}{otherwise}",
        rename.old, rename.new, rename.because, rename.old
    );
    let removed = &mut out[r];
    removed.class = Class::NeedsTransform;
    removed.reason = Some(match removed.reason.take() {
        Some(before) => format!("{before}; {reason}"),
        None => reason,
    });
    removed.suggestion = Some(rename.clone());
    out[a].suggestion = Some(rename);
}
