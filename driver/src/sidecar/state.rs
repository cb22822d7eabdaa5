//! The program's static state and code from DWARF: globals, file-scope
//! statics, static locals and functions of the C units.
//!
//! Names are the source's, from `DW_AT_name`, and addresses those of
//! `DW_AT_location`: never a symbol name, which the optimiser may have
//! suffixed (`blob.0`). A variable counts when its location is a fixed
//! address (see `dwarf::static_address`). A defined variable of file scope
//! that has none (the optimiser removed it, folded it to a constant, split
//! it into pieces; or it is thread-local) is listed as unplaced, with the
//! reason, so that its absence is visible; `const` ones are not state and
//! are left out. The pass keeps the optimiser from doing this to writable
//! internal globals (`passes/src/state_globals.rs`), so an unplaced
//! variable means something else went wrong.
//!
//! A definition split from its declaration (`DW_AT_specification`) takes
//! its name, type and linkage from the declaration. Static locals sit
//! anywhere under a subprogram, lexical blocks and inlined calls included;
//! their function is the innermost one around them, named directly or
//! through its abstract origin or specification, or that of the abstract
//! instance's variable a concrete copy refers to. Each variable is listed
//! once, however many copies of its entry carry the address.
//!
//! When a function has no out-of-line copy at all, clang 14 puts its
//! static locals under a bare `DW_TAG_subprogram`, with neither a name nor
//! a reference to the abstract instance that has one. The symbol table
//! still knows: clang names a static local `FUNCTION.VARIABLE` (with a
//! `.N` suffix when a function has two of that name), and the pass keeps
//! the optimiser from renaming it.
//!
//! The runtime's C shim is C too and is linked into every program; its
//! variables use the reserved `__lucc` prefix and are left out, since the
//! runtime carries its own state across an update. Its functions stay:
//! the program may hold pointers to them.

use std::collections::{HashMap, HashSet};

use lucc_abi::sidecar::{Function, UnplacedVariable, Variable};

use super::dwarf::{Die, HighPc, OtherLocation, Program};
use super::types::TypeTable;

/// Names of the runtime's own variables start with this.
const RUNTIME_PREFIX: &str = "__lucc";

pub struct State {
    pub globals: Vec<Variable>,
    pub static_locals: Vec<Variable>,
    pub functions: Vec<Function>,
    /// Defined variables with no fixed address, and why.
    pub unplaced: Vec<UnplacedVariable>,
}

/// `symbols`: the binary's local symbol names by address (`elf::local_symbols`).
pub fn collect(program: &Program, types: &TypeTable, symbols: &HashMap<u64, Vec<String>>) -> State {
    let mut state = State {
        globals: Vec::new(),
        static_locals: Vec::new(),
        functions: Vec::new(),
        unplaced: Vec::new(),
    };
    // One entry per variable: an abstract instance and its concrete copies
    // may each carry the location; the first in DWARF order is kept, and a
    // later copy only supplies the function when the first could not.
    let mut placed: HashMap<(u64, String), (bool, usize)> = HashMap::new();
    for unit in &program.units {
        let root = &program.dies[unit.root];
        for &c in &root.children {
            let die = &program.dies[c];
            if die.tag == gimli::DW_TAG_subprogram {
                let name = program.name_of(die).unwrap_or_default();
                if let Some(f) = function(program, die, &name, &unit.name) {
                    state.functions.push(f);
                }
            }
        }
        let mut variables = Vec::new();
        variables_under(program, root, &mut variables);
        for die in variables {
            let Some(name) = program.name_of(die) else {
                continue;
            };
            if name.starts_with(RUNTIME_PREFIX) {
                continue;
            }
            let scope = enclosing_function(program, die);
            let mut function = scope
                .map(|_| owner(program, die).unwrap_or_default())
                .unwrap_or_default();
            let address = die.address.filter(|&a| a != 0);
            if scope.is_some() && function.is_empty() {
                if let Some(a) = address {
                    function = owner_by_symbol(symbols, a, &name).unwrap_or_default();
                }
            }
            let Some(address) = address else {
                if let Some(reason) = why_unplaced(program, die, scope) {
                    state.unplaced.push(UnplacedVariable {
                        name,
                        function,
                        unit: unit.name.clone(),
                        reason: reason.into(),
                    });
                }
                continue;
            };
            let list = if scope.is_some() {
                &mut state.static_locals
            } else {
                &mut state.globals
            };
            match placed.get(&(address, name.clone())) {
                Some(&(local, i)) => {
                    let list = if local {
                        &mut state.static_locals
                    } else {
                        &mut state.globals
                    };
                    if list[i].function.is_empty() && !function.is_empty() {
                        list[i].function = function;
                    }
                }
                None => {
                    placed.insert((address, name.clone()), (scope.is_some(), list.len()));
                    let ty = types.type_of(program, program.type_of(die));
                    list.push(Variable {
                        local_linkage: scope.is_some() || !program.external(die),
                        name,
                        function,
                        unit: unit.name.clone(),
                        address,
                        size: types.size(ty),
                        ty,
                    });
                }
            }
        }
    }
    // A variable placed through another copy of its entry is not unplaced.
    let placed_names: HashSet<(&str, &str, &str)> = state
        .globals
        .iter()
        .chain(&state.static_locals)
        .map(|v| (v.name.as_str(), v.function.as_str(), v.unit.as_str()))
        .collect();
    let mut reported = HashSet::new();
    let unplaced = std::mem::take(&mut state.unplaced);
    state.unplaced = unplaced
        .into_iter()
        .filter(|u| {
            !placed_names.contains(&(u.name.as_str(), u.function.as_str(), u.unit.as_str()))
        })
        .filter(|u| reported.insert((u.name.clone(), u.function.clone(), u.unit.clone())))
        .collect();
    state
}

/// Every defining `DW_TAG_variable` under `die`, in DWARF order.
/// Declarations are left out: the definition (`DW_AT_specification`) names
/// them.
fn variables_under<'p>(program: &'p Program, die: &'p Die, out: &mut Vec<&'p Die>) {
    for &c in &die.children {
        let child = &program.dies[c];
        match child.tag {
            gimli::DW_TAG_variable if !child.declaration => out.push(child),
            gimli::DW_TAG_subprogram
            | gimli::DW_TAG_lexical_block
            | gimli::DW_TAG_inlined_subroutine => variables_under(program, child, out),
            _ => {}
        }
    }
}

/// The innermost function (a subprogram, or an inlined call of one) that
/// `die` is declared in, through lexical blocks; `None` at file scope.
fn enclosing_function<'p>(program: &'p Program, die: &Die) -> Option<&'p Die> {
    let mut at = die.parent?;
    loop {
        let d = &program.dies[at];
        match d.tag {
            gimli::DW_TAG_subprogram | gimli::DW_TAG_inlined_subroutine => return Some(d),
            gimli::DW_TAG_compile_unit | gimli::DW_TAG_partial_unit => return None,
            _ => at = d.parent?,
        }
    }
}

/// The name of the function a static local belongs to, from DWARF alone:
/// the enclosing subprogram's own name or that of its abstract origin or
/// specification, else the function of the variable's own abstract origin
/// (a concrete copy that points back at the abstract instance's variable).
fn owner(program: &Program, die: &Die) -> Option<String> {
    let mut d = die;
    for _ in 0..8 {
        if let Some(name) = enclosing_function(program, d).and_then(|f| program.name_of(f)) {
            return Some(name);
        }
        d = program.die(d.abstract_origin.or(d.specification)?)?;
    }
    None
}

/// A subprogram entry with nothing but children: clang 14 files the static
/// locals of a function that has no out-of-line copy under one.
fn is_bare_subprogram(die: &Die) -> bool {
    die.tag == gimli::DW_TAG_subprogram
        && die.name.is_none()
        && die.abstract_origin.is_none()
        && die.specification.is_none()
        && die.low_pc.is_none()
}

/// Why a defined variable without a usable address is not in the sidecar,
/// or `None` when it is no program state to speak of: an automatic
/// variable of a function, or a constant.
fn why_unplaced(program: &Program, die: &Die, scope: Option<&Die>) -> Option<&'static str> {
    if is_const(program, program.type_of(die)) {
        return None;
    }
    let reason = match die.other_location {
        Some(OtherLocation::Pieces) => {
            "split by the optimiser into pieces at separate addresses; not transferred"
        }
        Some(OtherLocation::ThreadLocal) => "thread-local; not transferred",
        Some(OtherLocation::Derived) => {
            "stored differently by the optimiser (its value is computed from memory at another address); not transferred"
        }
        // A static local that lost its address looks like an automatic
        // variable of the function, except under clang's bare subprogram
        // entries, which hold only static locals.
        Some(OtherLocation::Computed) if scope.is_none() => {
            "location is not a fixed address; not transferred"
        }
        _ if die.address == Some(0) => "dropped by the linker (its section was discarded)",
        None if scope.is_none() || scope.is_some_and(is_bare_subprogram) => {
            if die.const_value.is_some() {
                "folded to a constant by the optimiser; not transferred"
            } else {
                "removed by the optimiser; not transferred"
            }
        }
        _ => return None,
    };
    Some(reason)
}

/// Whether a type is `const` (through typedefs and `volatile`), or an array
/// of such: its value is the program's, not state.
fn is_const(program: &Program, mut ty: Option<u64>) -> bool {
    for _ in 0..32 {
        let Some(d) = ty.and_then(|at| program.die(at)) else {
            return false;
        };
        match d.tag {
            gimli::DW_TAG_const_type => return true,
            gimli::DW_TAG_typedef | gimli::DW_TAG_volatile_type | gimli::DW_TAG_array_type => {
                ty = d.ty
            }
            _ => return false,
        }
    }
    false
}

fn function(program: &Program, die: &Die, name: &str, unit: &str) -> Option<Function> {
    let address = die.low_pc?;
    let size = match die.high_pc {
        Some(HighPc::Offset(size)) => size,
        Some(HighPc::Addr(end)) => end.saturating_sub(address),
        None => 0,
    };
    Some(Function {
        name: name.into(),
        unit: unit.into(),
        address,
        size,
        local_linkage: !program.external(die),
    })
}

/// The function a static local at `address` belongs to, from a
/// `FUNCTION.VARIABLE[.N]` symbol there. The first part must be a C
/// identifier: the only other spelling of a static local's symbol, gcc's
/// `VARIABLE.N`, puts digits after the dot, so it never matches.
fn owner_by_symbol(
    symbols: &HashMap<u64, Vec<String>>,
    address: u64,
    variable: &str,
) -> Option<String> {
    symbols.get(&address)?.iter().find_map(|symbol| {
        let (owner, rest) = symbol.split_once('.')?;
        let suffix = rest.strip_prefix(variable)?;
        let numbered = suffix.is_empty()
            || suffix
                .strip_prefix('.')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let identifier = !owner.is_empty()
            && !owner.starts_with(|c: char| c.is_ascii_digit())
            && owner
                .bytes()
                .all(|b| b == b'_' || b.is_ascii_alphanumeric());
        (numbered && identifier).then(|| owner.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner_of_hits(symbols: &[&str]) -> Option<String> {
        let symbols = HashMap::from([(0x40, symbols.iter().map(|s| s.to_string()).collect())]);
        owner_by_symbol(&symbols, 0x40, "hits")
    }

    #[test]
    fn a_symbol_names_the_owner_only_in_clangs_spelling() {
        assert_eq!(owner_of_hits(&["tally.hits"]).as_deref(), Some("tally"));
        assert_eq!(owner_of_hits(&["tally.hits.1"]).as_deref(), Some("tally"));
        assert_eq!(
            owner_of_hits(&["hits", "tally.hits"]).as_deref(),
            Some("tally")
        );
        // gcc's spelling, another variable, not an identifier.
        assert_eq!(owner_of_hits(&["hits.0"]), None);
        assert_eq!(owner_of_hits(&["tally.hitsx"]), None);
        assert_eq!(owner_of_hits(&["tally.hits.x"]), None);
        assert_eq!(owner_of_hits(&["9lives.hits"]), None);
        assert_eq!(owner_of_hits(&["hits"]), None);
    }
}
