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
//! The runtime's C shim is C too and is linked into every program; its
//! variables use the reserved `__lucc` prefix and are left out, since the
//! runtime carries its own state across an update. Its functions stay:
//! the program may hold pointers to them.

use std::collections::HashSet;

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

pub fn collect(program: &Program, types: &TypeTable) -> State {
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
                    statics_within(
                        program,
                        types,
                        die,
                        &name,
                        &unit.name,
                        &mut seen,
                        &mut state.static_locals,
                    );
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
