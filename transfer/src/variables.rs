//! Matching the old version's globals and static locals to the new one's.
//!
//! Globals match by name, file-scope statics by (unit, name), static locals
//! by (function, name) — with the unit as a tie-breaker when two units have
//! a static function of the same name. Renames come from the transform
//! file (`[globals.NEW] renamed_from = "OLD"`, static locals written
//! `function::name`). Every old variable becomes a slot of the pointer
//! remapper, survivors or not, so that a pointer to a dropped variable is
//! recognised and reported rather than kept dangling.

use lucc_abi::sidecar::Variable;

use crate::error::{Result, TransferError};
use crate::plan::PlanId;
use crate::pointers::{var_name, Biases, VarKind, VarSlot};
use crate::report::Report;
use crate::typemap::TypeMap;

/// An old variable with its new counterpart.
#[derive(Debug, Clone)]
pub struct VarPair {
    pub kind: VarKind,
    /// New name (`function::name` for static locals).
    pub name: String,
    /// Runtime addresses (bias applied).
    pub old_address: u64,
    pub new_address: u64,
    pub old_size: u64,
    pub new_size: u64,
    pub plan: PlanId,
}

fn find<'v>(list: &'v [Variable], old: &Variable, new_name: &str) -> Option<&'v Variable> {
    let (function, name) = match new_name.split_once("::") {
        Some((f, n)) if !old.function.is_empty() => (f, n),
        _ => (old.function.as_str(), new_name),
    };
    let cands: Vec<&Variable> = list
        .iter()
        .filter(|v| v.name == name && v.function == function)
        .collect();
    cands
        .iter()
        .find(|v| v.unit == old.unit)
        .or(if cands.len() == 1 {
            cands.first()
        } else {
            None
        })
        .copied()
}

pub(crate) fn match_variables(
    types: &mut TypeMap,
    report: &mut Report,
    biases: Biases,
) -> Result<(Vec<VarPair>, Vec<VarSlot>)> {
    let (old, new, tf) = (types.old, types.new, types.tf);
    let mut pairs = Vec::new();
    let mut slots = Vec::new();
    let lists = [
        (VarKind::Global, &old.globals, &new.globals),
        (VarKind::StaticLocal, &old.static_locals, &new.static_locals),
    ];
    for (kind, olds, news) in lists {
        for ov in olds {
            let old_name = var_name(ov);
            let new_name = tf.new_global_name(&old_name).to_string();
            let nv = find(news, ov, &new_name);
            slots.push(VarSlot {
                start: ov.address,
                end: ov.address + ov.size,
                kind,
                name: old_name.clone(),
                old_ty: ov.ty,
                new: nv.map(|n| (n.address, n.ty)),
            });
            let Some(nv) = nv else {
                if !tf.dropped_globals.contains(&old_name) {
                    report.variables_dropped_undeclared.insert(old_name.clone());
                }
                report.variables_dropped.insert(old_name);
                continue;
            };
            let rule = tf.global(&new_name);
            let plan = match (rule.and_then(|r| r.set), ov.ty, nv.ty) {
                (Some(value), _, Some(nt)) => types.compile_set(nt, value, &new_name)?,
                (None, Some(ot), Some(nt)) => {
                    types.compile(ot, nt, &new_name, rule.is_some_and(|r| r.allow_truncate))?
                }
                (None, None, None) => types.compile_untyped(ov.size, nv.size, &new_name)?,
                _ => {
                    return Err(TransferError::Sidecar(format!(
                        "variable {new_name} is typed in only one of the sidecars"
                    )));
                }
            };
            pairs.push(VarPair {
                kind,
                name: new_name,
                old_address: ov.address + biases.old,
                new_address: nv.address + biases.new,
                old_size: ov.size,
                new_size: nv.size,
                plan,
            });
        }
    }
    Ok((pairs, slots))
}
