//! The program's static state and code from DWARF: globals, file-scope
//! statics, static locals and functions of the C units.
//!
//! A variable counts when its location is a fixed address (see
//! `dwarf::static_address`); `extern` declarations, thread-locals and
//! constants folded away by the optimiser do not. A definition split from
//! its declaration (`DW_AT_specification`) takes its name, type and linkage
//! from the declaration. Static locals sit anywhere under a subprogram,
//! lexical blocks included; at -O2 those of an inlined function hang under
//! its abstract instance, which still names the function.
//!
//! Except when the function has no out-of-line copy at all: clang 14 then
//! puts its static locals under a bare `DW_TAG_subprogram`, with neither a
//! name nor a reference to the abstract instance that has one. The symbol
//! table still knows: clang names a static local `FUNCTION.VARIABLE` (with
//! a `.N` suffix when a function has two of that name). Such a name counts
//! only if FUNCTION is a function of the same unit, so another compiler's
//! spelling (gcc's `VARIABLE.N`) is never misread as an owner.
//!
//! The runtime's C shim is C too and is linked into every program; its
//! variables use the reserved `__lucc` prefix and are left out, since the
//! runtime carries its own state across an update. Its functions stay:
//! the program may hold pointers to them.

use std::collections::{HashMap, HashSet};

use lucc_abi::sidecar::{Function, Variable};

use super::dwarf::{Die, HighPc, Program};
use super::types::TypeTable;

/// Names of the runtime's own variables start with this.
const RUNTIME_PREFIX: &str = "__lucc";

pub struct State {
    pub globals: Vec<Variable>,
    pub static_locals: Vec<Variable>,
    pub functions: Vec<Function>,
}

/// `symbols`: the binary's local symbol names by address (`elf::local_symbols`).
pub fn collect(program: &Program, types: &TypeTable, symbols: &HashMap<u64, Vec<String>>) -> State {
    let mut state = State {
        globals: Vec::new(),
        static_locals: Vec::new(),
        functions: Vec::new(),
    };
    let mut seen = HashSet::new();
    for unit in &program.units {
        let root = &program.dies[unit.root];
        for &c in &root.children {
            let die = &program.dies[c];
            match die.tag {
                gimli::DW_TAG_variable => {
                    if let Some(v) = variable(program, types, die, &unit.name, "") {
                        if seen.insert((v.address, v.name.clone())) {
                            state.globals.push(v);
                        }
                    }
                }
                gimli::DW_TAG_subprogram => {
                    let name = program.name_of(die).unwrap_or_default();
                    if let Some(f) = function(program, die, &name, &unit.name) {
                        state.functions.push(f);
                    }
                    let first = state.static_locals.len();
                    statics_within(
                        program,
                        types,
                        die,
                        &name,
                        &unit.name,
                        &mut seen,
                        &mut state.static_locals,
                    );
                    if name.is_empty() && state.static_locals.len() > first {
                        let functions = function_names(program, root);
                        for v in &mut state.static_locals[first..] {
                            v.function =
                                owner_by_symbol(symbols, &functions, v).unwrap_or_default();
                        }
                    }
                }
                _ => {}
            }
        }
    }
    state
}

fn variable(
    program: &Program,
    types: &TypeTable,
    die: &Die,
    unit: &str,
    function: &str,
) -> Option<Variable> {
    let address = die.address?;
    let name = program.name_of(die)?;
    if name.starts_with(RUNTIME_PREFIX) {
        return None;
    }
    let ty = types.type_of(program, program.type_of(die));
    Some(Variable {
        name,
        function: function.into(),
        unit: unit.into(),
        address,
        size: types.size(ty),
        ty,
        local_linkage: !function.is_empty() || !program.external(die),
    })
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

fn statics_within(
    program: &Program,
    types: &TypeTable,
    die: &Die,
    function: &str,
    unit: &str,
    seen: &mut HashSet<(u64, String)>,
    out: &mut Vec<Variable>,
) {
    for &c in &die.children {
        let child = &program.dies[c];
        match child.tag {
            gimli::DW_TAG_variable => {
                if let Some(v) = variable(program, types, child, unit, function) {
                    if seen.insert((v.address, v.name.clone())) {
                        out.push(v);
                    }
                }
            }
            gimli::DW_TAG_lexical_block | gimli::DW_TAG_inlined_subroutine => {
                statics_within(program, types, child, function, unit, seen, out)
            }
            _ => {}
        }
    }
}

/// Names of the functions defined or inlined in the unit under `root`.
fn function_names(program: &Program, root: &Die) -> HashSet<String> {
    root.children
        .iter()
        .map(|&c| &program.dies[c])
        .filter(|d| d.tag == gimli::DW_TAG_subprogram)
        .filter_map(|d| program.name_of(d))
        .collect()
}

/// The function a static local belongs to, from a `FUNCTION.VARIABLE[.N]`
/// symbol at its address whose FUNCTION is one of `functions`.
fn owner_by_symbol(
    symbols: &HashMap<u64, Vec<String>>,
    functions: &HashSet<String>,
    v: &Variable,
) -> Option<String> {
    symbols.get(&v.address)?.iter().find_map(|symbol| {
        let (owner, rest) = symbol.split_once('.')?;
        let suffix = rest.strip_prefix(v.name.as_str())?;
        let numbered = suffix.is_empty()
            || suffix
                .strip_prefix('.')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        // A function the unit's DWARF names; or, when the optimiser left no
        // trace of it at all (inlined everywhere and folded to the
        // variable's address: no abstract instance, no inlined call), any C
        // identifier: only clang's `FUNCTION.VARIABLE` spelling puts one
        // before the variable's name (gcc's is `VARIABLE.N`).
        let identifier = !owner.is_empty()
            && !owner.starts_with(|c: char| c.is_ascii_digit())
            && owner.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric());
        (numbered && (functions.contains(owner) || identifier)).then(|| owner.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(symbols: &[&str], functions: &[&str]) -> Option<String> {
        let v = Variable {
            name: "hits".into(),
            function: String::new(),
            unit: "c.c".into(),
            address: 0x40,
            size: 4,
            ty: None,
            local_linkage: true,
        };
        let symbols = HashMap::from([(0x40, symbols.iter().map(|s| s.to_string()).collect())]);
        let functions = functions.iter().map(|s| s.to_string()).collect();
        owner_by_symbol(&symbols, &functions, &v)
    }

    #[test]
    fn a_symbol_names_the_owner_only_in_clangs_spelling() {
        assert_eq!(owner(&["tally.hits"], &["tally"]).as_deref(), Some("tally"));
        assert_eq!(
            owner(&["tally.hits.1"], &["tally"]).as_deref(),
            Some("tally")
        );
        // gcc's spelling, another variable, not an identifier.
        assert_eq!(owner(&["hits.0"], &["hits", "tally"]), None);
        assert_eq!(owner(&["tally.hitsx"], &["tally"]), None);
        assert_eq!(owner(&["tally.hits.x"], &["tally"]), None);
        assert_eq!(owner(&["9lives.hits"], &["main"]), None);
        // A function the optimiser removed without a trace in DWARF: the
        // symbol at the variable's own address still names it.
        assert_eq!(owner(&["tally.hits"], &["main"]).as_deref(), Some("tally"));
        assert_eq!(
            owner(&["hits", "tally.hits"], &["tally"]).as_deref(),
            Some("tally")
        );
    }
}
