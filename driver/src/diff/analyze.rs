//! Runs every comparison and assembles the [`Diff`].

use std::collections::{BTreeMap, BTreeSet};

use lucc_abi::sidecar::{Sidecar, TypeId};
use lucc_transfer::{Transfer, Transform};

use super::model::{Build, Change, Class, Counts, Diff, Item, Kind, SCHEMA};
use super::{engine, functions, sites, types, vars};

/// What every comparison reads.
pub struct Cx<'a> {
    pub old: &'a Sidecar,
    pub new: &'a Sidecar,
    pub tf: &'a Transform,
    /// The per-item engine (see `engine`).
    pub t: Transfer<'a>,
    pub function_holders: &'a BTreeMap<String, BTreeMap<String, BTreeSet<u64>>>,
    pub have_old_binary: bool,
}

pub fn spell(sc: &Sidecar, ty: Option<TypeId>) -> String {
    crate::sidecar::cspell::spell(&sc.types, ty)
}

pub struct Input<'a> {
    pub old: &'a super::load::Build,
    pub new: &'a super::load::Build,
    pub tf: &'a Transform,
    pub transform_path: Option<String>,
}

pub fn analyze(input: Input) -> Diff {
    let (old, new) = (&input.old.sidecar, &input.new.sidecar);
    let engine_error = engine::setup_error(old, new, input.tf);
    let (old_bare, new_bare) = (engine::without_variables(old), engine::without_variables(new));
    let mut cx = Cx {
        old,
        new,
        tf: input.tf,
        t: engine::per_item(&old_bare, &new_bare, input.tf),
        function_holders: &input.old.function_holders,
        have_old_binary: input.old.have_binary,
    };
    let mut changes = Vec::new();
    types::diff(&mut cx, &mut changes);
    vars::diff(&mut cx, &mut changes);
    sites::diff(&mut cx, &mut changes);
    functions::diff(&cx, &mut changes);
    if let Some(e) = &engine_error {
        // The engine's own verdict wins: if no item explains its refusal,
        // the refusal itself is a change.
        if !changes.iter().any(|c| c.blocking && matches!(c.item, Item::Global | Item::StaticLocal)) {
            let mut c = Change::new(Item::State, "globals", Kind::Changed, Class::NeedsTransform);
            c.detail = "the engine refuses to set up the transfer".into();
            c.refuse(e.clone());
            changes.push(c);
        }
    }
    changes.sort_by(|a, b| (a.item, &a.name).cmp(&(b.item, &b.name)));
    let suggestions: Vec<_> = {
        let mut seen = Vec::new();
        for s in changes.iter().filter(|c| c.change == Kind::Removed).filter_map(|c| c.suggestion.clone()) {
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
        seen
    };
    let mut counts = Counts::default();
    for c in &changes {
        match c.class {
            Class::Auto => counts.auto += 1,
            Class::Convert => counts.convert += 1,
            Class::NeedsTransform => counts.needs_transform += 1,
        }
        counts.blocking += usize::from(c.blocking);
    }
    Diff {
        schema: SCHEMA,
        old: Build { path: input.old.shown.clone(), build_id: old.build_id.clone() },
        new: Build { path: input.new.shown.clone(), build_id: new.build_id.clone() },
        transform: input.transform_path,
        verdict: if counts.needs_transform > 0 { Class::NeedsTransform } else { Class::Auto },
        engine_error,
        counts,
        changes,
        suggestions,
    }
}
